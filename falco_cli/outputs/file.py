"""file_output: append alerts to a file.

As in Falco, without ``keep_alive`` the file is opened for each alert and closed after it, so
logrotate needs nothing; with ``keep_alive`` it stays open and SIGUSR1 (``reopen``) closes it so the
next alert opens the new file.
"""
from __future__ import annotations

from typing import TextIO

from falco_cli.outputs.base import Output
from falco_cli.outputs.formatting import Message


class FileOutput(Output):
    name = "file"

    def __init__(self, filename: str, keep_alive: bool = False, **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self.filename = filename
        self.keep_alive = keep_alive
        self._f: TextIO | None = None

    def check(self) -> None:
        """Fail at start-up (not at the first alert) when the file cannot be opened."""
        with open(self.filename, "a", encoding="utf-8"):
            pass

    def write(self, msg: Message) -> None:
        if self._f is None:
            self._f = open(self.filename, "a", encoding="utf-8")  # noqa: SIM115
        self._f.write(msg.text + "\n")
        if not self.keep_alive:
            self.cleanup()

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def reopen(self) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        if self._f is not None:
            f, self._f = self._f, None
            f.close()

"""stdout_output: one line per alert on standard output."""
from __future__ import annotations

import contextlib
import sys
from typing import TextIO

from falco_cli.outputs.base import Output, OutputError
from falco_cli.outputs.formatting import Message


class StdoutOutput(Output):
    name = "stdout"

    def __init__(self, stream: TextIO | None = None, **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def write(self, msg: Message) -> None:
        try:
            self.stream.write(msg.text + "\n")
            if not self.buffered:
                self.stream.flush()
        except (BrokenPipeError, ValueError) as e:   # reader gone / stream closed: final
            raise OutputError(self.name, str(e) or type(e).__name__, retry=False) from e

    def flush(self) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.stream.flush()

    def on_failure(self) -> None:
        pass

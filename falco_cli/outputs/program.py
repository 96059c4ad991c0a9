"""program_output: alerts on a program's stdin (``sh -c PROGRAM``).

Without ``keep_alive`` the program is started for each alert and its stdin closed after the line
(Falco's popen/pclose per alert); with ``keep_alive`` one process reads all alerts. A program that
died is restarted on the next attempt (the retry in the worker), a program that reads slowly only
slows its own worker.
"""
from __future__ import annotations

import subprocess

from falco_cli.outputs.base import Output, OutputError
from falco_cli.outputs.formatting import Message


class ProgramOutput(Output):
    name = "program"

    def __init__(self, program: str, keep_alive: bool = False, **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self.program = program
        self.keep_alive = keep_alive
        self._proc: subprocess.Popen[bytes] | None = None

    def _open(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(["/bin/sh", "-c", self.program], stdin=subprocess.PIPE)
        return self._proc

    def write(self, msg: Message) -> None:
        proc = self._open()
        assert proc.stdin is not None
        try:
            proc.stdin.write(msg.text.encode("utf-8", "surrogateescape") + b"\n")
            if not self.keep_alive or not self.buffered:
                proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            self.cleanup()
            raise OutputError(self.name, f"cannot write to '{self.program}': {e}") from e
        if not self.keep_alive:
            self.cleanup()

    def flush(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self.cleanup()

    def reopen(self) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait()
        except Exception:
            proc.kill()

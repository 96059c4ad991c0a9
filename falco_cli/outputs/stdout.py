"""stdout_output: one line per alert on standard output."""
from __future__ import annotations

import sys
from typing import TextIO

from falco_cli.outputs.base import Output
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
        self.stream.write(msg.text + "\n")

    def flush(self) -> None:
        self.stream.flush()

    def on_failure(self) -> None:
        pass

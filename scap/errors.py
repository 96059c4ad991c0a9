"""The scap error taxonomy.

One small tree, h11-style: everything the capture layer raises on bad input is a `ScapError`,
so callers can catch one class.  A damaged file raises `FormatError`, which names the file and
the byte offset (in the *decompressed* block stream, which is what every block offset in the
format refers to) where the damage starts.  The reader raises it only after every complete
event before that offset was yielded.
"""
from __future__ import annotations

__all__ = ["FormatError", "NativeError", "ScapError"]


class ScapError(Exception):
    """Base class of every error raised by the scap layer."""


class FormatError(ScapError):
    """A capture stream is malformed (truncated, bad block length, broken gzip, garbage).

    `path` is the file name (or the repr of the file object, or None for in-memory data),
    `offset` the byte offset in the decompressed block stream where the damage was found.
    """

    def __init__(self, path: str | None, offset: int, message: str) -> None:
        self.path = path
        self.offset = offset
        self.message = message
        super().__init__(f"{path or '<memory>'}: offset {offset}: {message}")

    def __reduce__(self) -> tuple[type[FormatError], tuple[str | None, int, str]]:
        # keep pickling (e.g. across multiprocessing) working
        return (type(self), (self.path, self.offset, self.message))


class NativeError(ScapError):
    """The C fast path reported an error it could not express as a FormatError."""

    def __init__(self, rc: int, stage: str, message: str) -> None:
        self.rc = rc
        self.stage = stage
        self.message = message
        super().__init__(f"{stage}: {message} (rc={rc})")

"""Reading a capture file: chunked I/O + gunzip around the I/O-free `StreamDecoder`.

Memory stays flat on huge files: the file is read in `CHUNK` bytes, gzip output is produced at
most `MAX_INFLATE` bytes at a time, and the decoder only keeps the incomplete tail of a chunk.
"""
from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any

from scap.decode import StreamDecoder, StreamMetadata, event_tables
from scap.errors import FormatError
from scap.metadata import GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.record import EventRecord
from scap.savefile.blocks import SectionHeader

__all__ = ["Capture", "open_capture"]

CHUNK = 1 << 20
MAX_INFLATE = 4 << 20


class _PartialInflateError(Exception):
    """A zlib error, with the output decompressed before it."""

    def __init__(self, output: bytes, cause: zlib.error) -> None:
        super().__init__(str(cause))
        self.output = output


class _Inflater:
    """Multi-member gzip stream -> bounded decompressed pieces (what zlib's gzread does)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(31)
        self.in_member = False

    def _step(self, data: bytes) -> bytes:
        """One bounded decompress call.  On a zlib error, replay the same input in small
        steps from a copy of the state, so the output just before the damage is not lost."""
        d = self._d
        saved = d.copy()
        try:
            return d.decompress(data, MAX_INFLATE)
        except zlib.error as e:
            self._d = d = saved
            got = []
            for i in range(0, len(data), 64):
                window = d.copy()
                try:
                    got.append(d.decompress(data[i:i + 64]))
                except zlib.error:
                    d = window  # the damage is in these 64 bytes: feed them one by one
                    for j in range(i, min(i + 64, len(data))):
                        try:
                            got.append(d.decompress(data[j:j + 1]))
                        except zlib.error:
                            break
                    break
            raise _PartialInflateError(b"".join(got), e) from None

    def drain(self) -> bytes:
        """At end of input: whatever output zlib still holds; `in_member` tells whether the
        member was complete."""
        try:
            out = self._d.flush()
        except zlib.error:
            return b""
        if self._d.eof:
            self.in_member = False
        return out

    def pieces(self, data: bytes) -> Iterator[bytes]:
        while data:
            self.in_member = True
            out = self._step(data)
            if out:
                yield out
            while self._d.unconsumed_tail and not self._d.eof:
                out = self._step(self._d.unconsumed_tail)
                if out:
                    yield out
            d = self._d
            if d.eof:
                self.in_member = False
                data = d.unused_data
                self._d = zlib.decompressobj(31)
            else:
                data = b""


class Capture:
    """An open capture: metadata attributes and iteration of `EventRecord`s in file order.

    Use `scap.open(...)`.  Attributes: `machine`, `processes`, `interfaces`, `users`, `groups`,
    `sections` (list of SectionHeader), `skipped_unknown` (events whose type is beyond the
    event table, dropped as libs does), `path`, `compressed`.
    """

    def __init__(self, source: str | os.PathLike[str] | IO[bytes], event_types: Any = None,
                 native: bool | None = None) -> None:
        if isinstance(source, (str, os.PathLike)):
            self.path: str | None = os.fspath(source)
            self._f: IO[bytes] = open(self.path, "rb")  # noqa: SIM115 (closed by close())
            self._owns = True
        else:
            self.path = getattr(source, "name", None) or repr(source)
            if not isinstance(self.path, str):
                self.path = repr(source)
            self._f = source
            self._owns = False
        scan = None
        if native is not False:
            from scap import _binding

            if _binding.available():
                scan = _binding.scan_records
            elif native:
                raise ImportError("the C fast path (scap._scap_native) is not built")
        self.native = scan is not None
        self._dec = StreamDecoder(event_types, event_tables(), scan)
        self._eof = False
        self._inflater: _Inflater | None = None
        self.compressed = False
        self._pending: Iterator[bytes] = iter(())
        self._broken = ""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- I/O --
    def _raw_read(self) -> bytes:
        try:
            return self._f.read(CHUNK)
        except OSError as e:
            raise FormatError(self.path, self._dec.offset, f"read error: {e}") from e

    def _more(self) -> bool:
        """Feed the decoder one more piece; False at end of input."""
        for piece in self._pending:
            self._dec.feed(piece)
            return True
        if self._eof:
            if self._broken:  # reported once the decoder has used every byte before it
                raise self._err(self._dec.offset + self._dec.buffered(), self._broken)
            return False
        data = self._raw_read()
        if not data:
            self._eof = True
            inf = self._inflater
            if inf is not None and inf.in_member:
                tail = inf.drain()
                if inf.in_member:
                    self._broken = "truncated gzip stream"
                if tail:
                    self._dec.feed(tail)
                    return True
            return self._more()
        if self._inflater is None:
            self._dec.feed(data)
            return True
        self._pending = self._inflate(data)
        return True

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            yield from self._inflater.pieces(data)  # type: ignore[union-attr]
        except _PartialInflateError as e:
            self._broken = f"broken gzip data: {e}"
            if e.output:
                yield e.output
        if self._broken:
            self._eof = True

    def _err(self, offset: int, message: str) -> FormatError:
        return FormatError(self.path, offset, message)

    def _start(self) -> None:
        head = self._raw_read()
        if head[:2] == b"\x1f\x8b":
            self.compressed = True
            self._inflater = _Inflater()
            self._pending = self._inflate(head)
        elif head:
            self._dec.feed(head)
        else:
            self._eof = True
        try:
            while not self._dec.read_metadata():
                if not self._more():
                    self._dec.finish()
                    break
        except FormatError as e:
            raise self._err(e.offset, e.message) from None

    # -- metadata --
    @property
    def machine(self) -> MachineInfo | None:
        return self._dec.meta.machine

    @property
    def processes(self) -> list[ProcInfo]:
        return self._dec.meta.processes

    @property
    def interfaces(self) -> list[InterfaceInfo]:
        return self._dec.meta.interfaces

    @property
    def users(self) -> list[UserInfo]:
        return self._dec.meta.users

    @property
    def groups(self) -> list[GroupInfo]:
        return self._dec.meta.groups

    @property
    def sections(self) -> list[SectionHeader]:
        return self._dec.meta.sections

    @property
    def skipped_unknown(self) -> int:
        return self._dec.skipped_unknown

    @property
    def events_seen(self) -> int:
        """Events read so far, counting those `event_types` dropped (not `skipped_unknown`)."""
        return self._dec.seq

    @property
    def metadata(self) -> StreamMetadata:  # the whole StreamMetadata, for tools
        return self._dec.meta

    # -- events --
    def batches(self) -> Iterator[list[EventRecord]]:
        """Iterate lists of records (cheaper than per-record iteration for bulk consumers)."""
        dec = self._dec
        try:
            while True:
                recs = dec.next_events()
                if recs:
                    yield recs
                    continue
                if not self._more():
                    dec.finish()
                    return
        except FormatError as e:
            if e.path is None:
                raise self._err(e.offset, e.message) from None
            raise

    def raw_batches(self) -> Iterator[Any]:
        """Like `batches()`, but each batch is a `scap._binding.RawBatch` (the scanner's buffer
        and columns; no record objects), valid until the next one is asked for.  Needs the C
        scanner (`native`); for consumers that process the columns in C."""
        from scap import _binding

        if not self.native:
            raise ImportError("raw batches need the C scanner (scap._scap_native)")
        dec = self._dec
        scan = dec.scan
        dec.scan = _binding.scan_raw
        try:
            yield from self.batches()
        finally:
            dec.scan = scan

    def __iter__(self) -> Iterator[EventRecord]:
        for batch in self.batches():
            yield from batch

    # -- lifetime --
    def close(self) -> None:
        if self._owns:
            self._f.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<scap.Capture {self.path!r}>"


def open_capture(source: str | os.PathLike[str] | IO[bytes] | bytes, event_types: Any = None,
                 native: bool | None = None) -> Capture:
    """Open a capture (plain or gzip) from a path, a binary file object or bytes.

    `event_types`: an iterable of PPME codes to keep (others are dropped before a Python object
    is made for them), None for all.  `native`: None = use the C fast path if built, False =
    pure Python, True = require C.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    return Capture(source, event_types, native)

"""Writing capture files that sysdig 0.29.3 and current libs both read (§12 of the format doc).

Block versions written: SHB 1.2, MI, IL v2, UL v2, PL V9 (pre-0.10 trailing layout), FDL v2
(fd types ≥ 17 as UNSUPPORTED), EV_V2 / EVF_V2 and their `_LARGE` variants for the event types
whose parameter lengths are u32.  Output is gzip (zlib default level) unless `compress=False`.
"""
from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterable
from typing import IO, Any

from scap.metadata import GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.record import EventRecord, is_large_payload
from scap.savefile import blocks as blk

__all__ = ["Writer"]

_EV_BLOCK_HEAD = struct.Struct("<IIH")     # block type, total length, cpu
_EVF_BLOCK_HEAD = struct.Struct("<IIHI")   # ... and the dump flags
_TRAILER = struct.Struct("<I")
_PAD = (b"", b"\0", b"\0\0", b"\0\0\0")
_FLUSH_AT = 1 << 20


class Writer:
    """`Writer(path_or_file, compress=True)`; `write_header(...)` once, `write_event(...)` per
    event, `close()` (or use it as a context manager).  `write_event` takes an `EventRecord`
    (e.g. read from another capture) or keyword fields for `scap.testing.EventBuilder`."""

    def __init__(self, dest: str | os.PathLike[str] | IO[bytes], compress: bool = True) -> None:
        if isinstance(dest, (str, os.PathLike)):
            self._raw: IO[bytes] = open(os.fspath(dest), "wb")  # noqa: SIM115
            self._owns = True
        else:
            self._raw = dest
            self._owns = False
        self._out: gzip.GzipFile | IO[bytes] = (gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0)
                                if compress else self._raw)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._header_written = False
        self._closed = False
        self.events_written = 0

    def _put(self, block: bytes) -> None:
        self._pending.append(block)
        self._pending_size += len(block)
        if self._pending_size >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._out.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def write_header(self, machine: MachineInfo | None = None,
                     interfaces: Iterable[InterfaceInfo] | None = None,
                     users: Iterable[UserInfo] | None = None,
                     groups: Iterable[GroupInfo] | None = None,
                     processes: Iterable[ProcInfo] | None = None) -> None:
        """SHB then the metadata blocks (each only if given), in libs' order."""
        if self._header_written:
            raise ValueError("write_header() called twice (or after write_event())")
        self._header_written = True
        self._put(blk.encode_shb())
        if machine is not None:
            self._put(blk.encode_machine_info(machine))
        if interfaces is not None:
            self._put(blk.encode_interfaces(list(interfaces)))
        if users is not None or groups is not None:
            self._put(blk.encode_users(list(users or ()), list(groups or ())))
        if processes is not None:
            procs = list(processes)
            self._put(blk.encode_proclist(procs))
            for p in procs:
                self._put(blk.encode_fdlist(p.tid, p.fds))

    def write_event(self, rec: EventRecord | None = None, /, **fields: Any) -> None:
        """Append one event: an `EventRecord`, or fields for `scap.testing.EventBuilder.build`
        (`type`, `params`, `ts`, `tid`, `cpu`, `dump_flags`)."""
        if rec is None:
            from scap.testing import EventBuilder

            rec = EventBuilder().build(**fields)
        elif fields:
            raise TypeError("write_event takes a record or fields, not both")
        if not self._header_written:
            self.write_header()
        raw = rec.raw
        large = is_large_payload(rec.type)
        flags = rec.dump_flags
        body_len = (6 if flags else 2) + len(raw)
        total = 12 + ((body_len + 3) & ~3)
        if not large and total - 8 > 65536:
            raise ValueError(f"event of {len(raw)} bytes is too big for a non-large block")
        if flags:
            head = _EVF_BLOCK_HEAD.pack(blk.EVF_V2_LARGE if large else blk.EVF_V2, total,
                                        rec.cpu, flags)
        else:
            head = _EV_BLOCK_HEAD.pack(blk.EV_V2_LARGE if large else blk.EV_V2, total, rec.cpu)
        pending = self._pending
        pending.append(head)
        pending.append(raw)
        pending.append(_PAD[total - 12 - body_len] + _TRAILER.pack(total))
        self._pending_size += total
        self.events_written += 1
        if self._pending_size >= _FLUSH_AT:
            self._flush()

    def write_events(self, records: Iterable[EventRecord]) -> None:
        for r in records:
            self.write_event(r)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._header_written:
            self.write_header()
        self._flush()
        if self._out is not self._raw:
            self._out.close()
        if self._owns:
            self._raw.close()
        else:
            self._raw.flush()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Bytes -> blocks -> records, with no I/O (the h11 model).

Two levels:

* `scan_events(buf, pos, end, ...)` walks consecutive *event* blocks in `buf[pos:end]` and
  returns one tuple per kept event plus where and why it stopped (`ScanResult`).  "Need more
  data" and "damage here" are return values, so a batch never loses the events decoded before
  the problem.  The C fast path (`scap._binding`) implements exactly the same function.
* `StreamDecoder` is the state machine over a whole stream: SHB first, metadata blocks until
  the first event block, event blocks, possibly a new section.  `feed()` bytes in any pieces,
  `next_events()` returns records (or `[]` meaning "need more"), `finish()` at end of input.

The reader (`scap.savefile.reader`) is this plus chunked reads and gunzip.
"""
from __future__ import annotations

import gc
import struct
from dataclasses import dataclass, field
from typing import Any

from scap.errors import FormatError
from scap.metadata import FdEntry, GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.record import HEADER_V1, HEADER_V2, EventRecord
from scap.savefile import blocks as blk

__all__ = [
    "STOP_ERROR",
    "STOP_FULL",
    "STOP_NEED_MORE",
    "STOP_NON_EVENT",
    "EventTables",
    "ScanResult",
    "StreamDecoder",
    "decode_records",
    "event_tables",
    "scan_events",
    "scan_records",
]

STOP_NEED_MORE = 0   # ran out of complete blocks
STOP_NON_EVENT = 1   # a non-event block starts at `pos`
STOP_ERROR = 2       # damage at `error_offset`
STOP_FULL = 3        # `max_events` reached

#: the biggest body a non-LARGE event block may have (libs' read buffer, §9.1)
MAX_EVENT_BLOCK = 65536 + 8
_NOTIFICATION_E = 280
_INFRASTRUCTURE_EVENT_E = 286
_BLOCK = blk.BLOCK_HEADER
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_EVF_HEAD = struct.Struct("<HI")
_LARGE_BLOCKS = frozenset({blk.EV_V2_LARGE, blk.EVF_V2_LARGE})


@dataclass(frozen=True, slots=True)
class EventTables:
    """What the event scanner needs from the event table, as flat byte strings (shared with C):
    `nparams[t]` the table's param count, `large[t]` 1 if lengths are u32. `size` = table size;
    events with a type >= size are skipped as libs does."""

    nparams: bytes
    large: bytes

    @property
    def size(self) -> int:
        return len(self.nparams)


_TABLES: EventTables | None = None


def event_tables() -> EventTables:
    """The tables for the current event schema (`scap.schema.EVENT_INFO`)."""
    global _TABLES
    if _TABLES is None:
        from scap.schema import EVENT_INFO

        _TABLES = EventTables(
            bytes(min(len(e.params), 255) for e in EVENT_INFO),
            bytes(1 if e.flags & (1 << 11) else 0 for e in EVENT_INFO),
        )
    return _TABLES


def type_bitmap(event_types: Any) -> bytes | None:
    """A 65536-bit bitmap of the wanted event types (None = all)."""
    if event_types is None:
        return None
    bm = bytearray(8192)
    for t in event_types:
        t = int(t)
        if 0 <= t < 65536:
            bm[t >> 3] |= 1 << (t & 7)
    return bytes(bm)


@dataclass(slots=True)
class ScanResult:
    """Outcome of one `scan_events` call.

    `events`: tuples `(block_off, rec_off, rec_len, ts, tid, type, nparams, cpu, dump_flags, v1,
    seq)` with `block_off` relative to the buffer start, `rec_off` the record start (absolute in
    buf), `seq` the event's index in the stream counting the events `wanted` dropped.
    `pos`: first byte not consumed.  `stop`: one of STOP_*.  `skipped_unknown`: events dropped
    because their type is beyond the table.  `error`: message when stop == STOP_ERROR (the
    damage is at `pos`).  `seq`: the stream index of the next event (the `seq` passed in plus
    every event of known type consumed, kept or dropped by `wanted`).
    """

    events: list[tuple[int, ...]]
    pos: int
    stop: int
    skipped_unknown: int = 0
    error: str = ""
    seq: int = 0


def _v1_nparams(buf: Any, rec: int, rec_len: int, evtype: int, tables: EventTables) -> int:
    """Infer a V1 record's param count from the table, exactly as libs does (§9.2)."""
    w = 4 if tables.large[evtype] else 2
    fmt = "<I" if w == 4 else "<H"
    for n in range(tables.nparams[evtype], -1, -1):
        start = 22 + w * n
        if start > rec_len:
            continue
        total = start + sum(struct.unpack_from(f"<{n}{fmt[1]}", buf, rec + 22)) if n else start
        if total == rec_len:
            return n
        if total < rec_len:
            return -1
    return -1


def scan_events(buf: Any, pos: int, end: int, tables: EventTables,
                wanted: bytes | None = None, max_events: int = 1 << 62,
                seq: int = 0) -> ScanResult:
    """Walk event blocks in buf[pos:end] (pure Python; see module doc).  `seq` is the stream
    index of the first event at `pos` (events dropped by `wanted` are counted too, so the
    kept ones carry the numbers they would have without the filter)."""
    events: list[tuple[int, ...]] = []
    append = events.append
    skipped = 0
    size = tables.size
    large = tables.large
    kinds = blk.EVENT_BLOCKS
    unpack_block = _BLOCK.unpack_from
    unpack_u32 = _U32.unpack_from
    while True:
        if len(events) >= max_events:
            return ScanResult(events, pos, STOP_FULL, skipped, "", seq)
        if end - pos < 8:
            return ScanResult(events, pos, STOP_NEED_MORE, skipped, "", seq)
        btype, blen = unpack_block(buf, pos)
        kind = kinds.get(btype)
        if kind is None:
            return ScanResult(events, pos, STOP_NON_EVENT, skipped, "", seq)
        if blen < 12 or (blen > MAX_EVENT_BLOCK and btype not in _LARGE_BLOCKS):
            return ScanResult(events, pos, STOP_ERROR, skipped, f"bad block length {blen}", seq=seq)
        if end - pos < blen:
            return ScanResult(events, pos, STOP_NEED_MORE, skipped, "", seq)
        if unpack_u32(buf, pos + blen - 4)[0] != blen:
            return ScanResult(events, pos, STOP_ERROR, skipped, "block trailer mismatch", seq=seq)
        v2, has_flags = kind
        hsize = 26 if v2 else 22
        # block header, cpu [+ flags], record header, trailer must all fit in the block
        if blen < 12 + (6 if has_flags else 2) + hsize:
            return ScanResult(events, pos, STOP_ERROR, skipped, "event block too short", seq=seq)
        if has_flags:
            cpu, dflags = _EVF_HEAD.unpack_from(buf, pos + 8)
            rec = pos + 14
        else:
            cpu = _U16.unpack_from(buf, pos + 8)[0]
            dflags = 0
            rec = pos + 10
        room = pos + blen - 4 - rec
        if v2:
            ts, tid, rec_len, evtype, nparams = HEADER_V2.unpack_from(buf, rec)
        else:
            ts, tid, rec_len, evtype = HEADER_V1.unpack_from(buf, rec)
            nparams = 0
        if evtype >= size:
            skipped += 1
            pos += blen
            continue
        if not v2 and evtype in (_NOTIFICATION_E, _INFRASTRUCTURE_EVENT_E) and rec_len >= 3:
            rec_len -= 3  # old captures over-count these two by 3; libs always subtracts it
        if rec_len < hsize or rec_len > room:
            return ScanResult(events, pos, STOP_ERROR, skipped,
                              f"bad event length {rec_len}", seq=seq)
        if v2:
            w = 4 if large[evtype] else 2
            lens_end = 26 + w * nparams
            if lens_end > rec_len:
                return ScanResult(events, pos, STOP_ERROR, skipped,
                                  f"{nparams} params do not fit in {rec_len} bytes", seq=seq)
            if wanted is not None and not (wanted[evtype >> 3] >> (evtype & 7)) & 1:
                seq += 1
                pos += blen
                continue
            total = lens_end + sum(struct.unpack_from(f"<{nparams}{'I' if w == 4 else 'H'}",
                                                      buf, rec + 26))
            if total > rec_len:
                return ScanResult(events, pos, STOP_ERROR, skipped,
                                  f"param lengths exceed the event length {rec_len}", seq=seq)
        else:
            nparams = _v1_nparams(buf, rec, rec_len, evtype, tables)
            if nparams < 0:
                return ScanResult(events, pos, STOP_ERROR, skipped,
                                  f"cannot infer the params of a V1 event of type {evtype}",
                                  seq=seq)
            if wanted is not None and not (wanted[evtype >> 3] >> (evtype & 7)) & 1:
                seq += 1
                pos += blen
                continue
        append((pos, rec, rec_len, ts, tid, evtype, nparams, cpu, dflags, 0 if v2 else 1, seq))
        seq += 1
        pos += blen


def make_records(buf: bytes, entries: list[tuple[int, ...]], base: int) -> list[EventRecord]:
    """Turn scan tuples into EventRecords (V1 records are rewritten to the V2 layout)."""
    out: list[EventRecord] = []
    append = out.append
    pack = HEADER_V2.pack
    for boff, rec, rlen, ts, tid, evtype, nparams, cpu, dflags, v1, seq in entries:
        if v1:
            raw = pack(ts, tid, rlen + 4, evtype, nparams) + buf[rec + 22:rec + rlen]
        else:
            raw = buf[rec:rec + rlen]
        append(EventRecord(ts, tid, cpu, evtype, dflags, nparams, raw, base + boff, seq))
    return out


def scan_records(buf: bytes, pos: int, end: int, tables: EventTables, wanted: bytes | None,
                 max_events: int, base: int, seq: int = 0
                 ) -> tuple[list[EventRecord], ScanResult]:
    """`scan_events` + `make_records`: the records of the next batch and how the scan ended.
    (`scap._binding.scan_records` is the C version, with the same results.)"""
    res = scan_events(buf, pos, end, tables, wanted, max_events, seq)
    was_enabled = gc.isenabled()
    gc.disable()  # records cannot form cycles: the cyclic GC has nothing to find here
    try:
        return make_records(buf, res.events, base), res
    finally:
        if was_enabled:
            gc.enable()


def decode_records(buf: bytes, offset: int = 0, event_types: Any = None
                   ) -> tuple[list[EventRecord], int]:
    """Decode the consecutive complete event blocks of `buf` from `offset`.

    Returns (records, consumed_to): `consumed_to < len(buf)` means the rest is an incomplete
    block ("need more"), a non-event block, or damage (FormatError raised only if no record
    precedes it, so a caller looping on this never loses events).
    """
    res = scan_events(buf, offset, len(buf), event_tables(), type_bitmap(event_types))
    recs = make_records(buf, res.events, 0)
    if res.stop == STOP_ERROR and not recs:
        raise FormatError(None, res.pos, res.error)
    return recs, res.pos


# -- the stream state machine ----------------------------------------------------------------
_START, _META, _EVENTS, _FAILED = range(4)


@dataclass(slots=True)
class StreamMetadata:
    """Everything the non-event blocks said, accumulated over the stream."""

    sections: list[blk.SectionHeader] = field(default_factory=list)
    machine: MachineInfo | None = None
    interfaces: list[InterfaceInfo] = field(default_factory=list)
    users: list[UserInfo] = field(default_factory=list)
    groups: list[GroupInfo] = field(default_factory=list)
    processes: list[ProcInfo] = field(default_factory=list)
    #: fd lists of threads that have no process-list entry
    unattached_fds: dict[int, list[FdEntry]] = field(default_factory=dict)
    skipped_blocks: int = 0
    #: how many blocks of each non-event type were read (block code -> count)
    block_counts: dict[int, int] = field(default_factory=dict)


class StreamDecoder:
    """Incremental decoder of a whole (decompressed) block stream.

    `feed(data)`; `next_events()` -> records, `[]` when more input is needed; `finish()` when
    input ended (raises FormatError on a partial block).  Damage raises FormatError only after
    every complete event before it was returned.  `scan` may be replaced with the native
    `scan_records` (same signature and results).
    """

    def __init__(self, event_types: Any = None, tables: EventTables | None = None,
                 scan: Any = None, batch: int = 4096) -> None:
        self.meta = StreamMetadata()
        self.tables = tables or event_tables()
        self.wanted = type_bitmap(event_types)
        self.scan = scan or scan_records
        self.batch = batch
        self.skipped_unknown = 0
        self.events_returned = 0
        #: events of known type consumed so far, kept or dropped by `event_types` (the next
        #: record's `seq`)
        self.seq = 0
        self._buf = b""
        self._pos = 0
        self._base = 0          # stream offset of _buf[0]
        self._state = _START
        self._procs: dict[int, ProcInfo] = {}
        self._error: FormatError | None = None

    # -- input --
    def feed(self, data: bytes) -> None:
        if data:
            if self._pos:
                self._base += self._pos
                self._buf = self._buf[self._pos:] + bytes(data)
                self._pos = 0
            else:
                self._buf += bytes(data)

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet consumed."""
        return self._base + self._pos

    @property
    def in_events(self) -> bool:
        """True once the first event block of the current section was reached."""
        return self._state == _EVENTS

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def _fail(self, off: int, msg: str) -> FormatError:
        self._state = _FAILED
        self._error = FormatError(None, off, msg)
        return self._error

    # -- metadata --
    def read_metadata(self) -> bool:
        """Consume non-event blocks; True once an event block (or a failure) is next."""
        if self._state == _FAILED:
            raise self._error  # type: ignore[misc]
        buf = self._buf
        while self._state in (_START, _META):
            pos = self._pos
            if len(buf) - pos < 8:
                return False
            btype, blen = _BLOCK.unpack_from(buf, pos)
            if self._state == _START and btype != blk.SHB:
                raise self._fail(self._base + pos, f"not a capture file (block type {btype:#x})")
            if btype in blk.EVENT_BLOCKS:
                self._state = _EVENTS
                return True
            if blen < 12:
                raise self._fail(self._base + pos, f"bad block length {blen}")
            if len(buf) - pos < blen:
                return False
            if _U32.unpack_from(buf, pos + blen - 4)[0] != blen:
                raise self._fail(self._base + pos, "wrong block total length (trailer mismatch)")
            try:
                self._metadata_block(btype, memoryview(buf)[pos + 8:pos + blen - 4],
                                     self._base + pos)
            except FormatError as e:
                raise self._fail(e.offset, e.message) from None
            self._pos = pos + blen
        return True

    def _metadata_block(self, btype: int, body: memoryview, off: int) -> None:
        m = self.meta
        base = off + 8
        m.block_counts[btype] = m.block_counts.get(btype, 0) + 1
        if btype == blk.SHB:
            m.sections.append(blk.decode_shb(body, base, off))
            self._state = _META
        elif btype in (blk.MI, blk.MI_LEGACY):
            m.machine = blk.decode_machine_info(body, base)
        elif btype in (blk.IL_V1, blk.IL_V1_LEGACY, blk.IL_V2):
            m.interfaces = blk.decode_interfaces(body, base, btype == blk.IL_V2)
        elif btype in (blk.UL_V1, blk.UL_V1_LEGACY, blk.UL_V2):
            m.users, m.groups = blk.decode_users(body, base, btype == blk.UL_V2)
        elif btype in blk.PL_VERSIONS:
            for p in blk.decode_proclist(body, base, blk.PL_VERSIONS[btype]):
                old = self._procs.get(p.tid)
                if old is None:
                    m.processes.append(p)
                else:  # described again (a later section): the newest entry wins
                    m.processes[m.processes.index(old)] = p
                self._procs[p.tid] = p
                pending = m.unattached_fds.pop(p.tid, None)
                if pending:
                    p.fds.extend(pending)
        elif btype in (blk.FDL_V1, blk.FDL_V1_LEGACY, blk.FDL_V2):
            tid, fds = blk.decode_fdlist(body, base, btype == blk.FDL_V2)
            owner = self._procs.get(tid)
            if owner is not None:
                owner.fds.extend(fds)
            else:
                m.unattached_fds.setdefault(tid, []).extend(fds)
        else:
            m.skipped_blocks += 1  # unknown block before the first event: skipped as libs does

    # -- events --
    def next_events(self) -> list[EventRecord]:
        """Decode the next batch of complete events; `[]` means feed more (or finish)."""
        while True:
            if self._state != _EVENTS and (not self.read_metadata() or self._state != _EVENTS):
                return []
            buf = self._buf
            recs, res = self.scan(buf, self._pos, len(buf), self.tables, self.wanted,
                                  self.batch, self._base, self.seq)
            self.skipped_unknown += res.skipped_unknown
            self.seq = res.seq
            self._pos = res.pos
            if res.stop == STOP_ERROR:
                err = self._fail(self._base + res.pos, res.error)
                if recs:
                    self.events_returned += len(recs)
                    return recs
                raise err
            if res.stop == STOP_NON_EVENT:
                btype = _BLOCK.unpack_from(buf, res.pos)[0]
                if btype != blk.SHB:
                    err = self._fail(self._base + res.pos, f"invalid block type {btype:#x} "
                                     "after the first event")
                    if recs:
                        self.events_returned += len(recs)
                        return recs
                    raise err
                self._state = _META
            if recs:
                self.events_returned += len(recs)
                return recs
            if res.stop == STOP_NEED_MORE:
                return []

    def finish(self) -> None:
        """Input ended: a partial block left over is a truncated file."""
        if self._state == _FAILED:
            raise self._error  # type: ignore[misc]
        left = len(self._buf) - self._pos
        if self._state == _START and left == 0 and self._base == 0:
            raise self._fail(0, "empty file")
        if left:
            raise self._fail(self._base + self._pos,
                             f"truncated file ({left} bytes of an incomplete block)")

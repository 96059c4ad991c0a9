"""`EventRecord`: one event as stored in a capture, the unit every layer above consumes.

A record keeps the event's bytes (`raw`, always in the V2 layout: 26-byte header, the length
array, the parameter values) plus the few header fields every consumer needs, already unpacked.
Everything else (schema entry, name, decoded parameters) is computed on demand, because most
events are filtered out long before anyone looks at their parameters.

Records read from V1 blocks (no `nparams` in the header) are rewritten to the V2 layout when they
are decoded, so consumers and the writer only ever see one layout.
"""
from __future__ import annotations

import struct
from typing import Any

__all__ = ["HEADER_V1", "HEADER_V2", "LARGE_PAYLOAD_TYPES", "EventRecord"]

#: `ts u64, tid i64, len u32, type u16, nparams u32` (V2 header, 26 bytes).
HEADER_V2 = struct.Struct("<QqIHI")
#: `ts u64, tid i64, len u32, type u16` (V1 header, 22 bytes, no nparams).
HEADER_V1 = struct.Struct("<QqIH")

#: Event types whose parameter lengths are u32 (`EF_LARGE_PAYLOAD`); used only until the
#: schema module is importable, after which its flags are authoritative.
LARGE_PAYLOAD_TYPES = frozenset({322, 324, 402})

_EF_LARGE_PAYLOAD = 1 << 11
_schema_mod: Any = None
_params_mod: Any = None


def _schema() -> Any:
    global _schema_mod
    if _schema_mod is None:
        from scap import schema as s

        _schema_mod = s
    return _schema_mod


def _params() -> Any:
    global _params_mod
    if _params_mod is None:
        from scap import params as p

        _params_mod = p
    return _params_mod


_large_table: bytes | None = None


def _large() -> bytes:
    """`large[t]` = 1 if event type t has u32 parameter lengths (built once from the schema)."""
    global _large_table
    if _large_table is None:
        try:
            table = _schema().EVENT_INFO
        except ImportError:  # schema not available: the documented list
            return bytes(1 if t in LARGE_PAYLOAD_TYPES else 0 for t in range(512))
        _large_table = bytes(1 if int(e.flags) & _EF_LARGE_PAYLOAD else 0 for e in table)
    return _large_table


def is_large_payload(evtype: int) -> bool:
    """True if `evtype`'s parameter lengths are u32 (depends on the type, not the block)."""
    large = _large()
    if evtype < len(large):
        return bool(large[evtype])
    return evtype in LARGE_PAYLOAD_TYPES


class EventRecord:
    """One event: `ts` (ns since epoch), `tid` (signed), `cpu`, `type` (PPME code),
    `dump_flags`, `nparams` (as stored), `raw` (V2 record bytes), `offset` (byte offset of
    its block in the decompressed stream, -1 when built in memory) and `seq` (0-based index of
    the event in its capture, counting the events an `event_types` filter dropped, so sinsp
    numbers `evt.num` as without the filter; -1 when not read from a capture)."""

    __slots__ = ("_spans", "cpu", "dump_flags", "nparams", "offset", "raw", "seq", "tid", "ts",
                 "type")
    _spans: tuple[tuple[int, int], ...]  # declared for type checkers; see _param_spans

    def __init__(
        self,
        ts: int,
        tid: int,
        cpu: int,
        type: int,
        dump_flags: int,
        nparams: int,
        raw: bytes,
        offset: int = -1,
        seq: int = -1,
    ) -> None:
        self.ts = ts
        self.tid = tid
        self.cpu = cpu
        self.type = type
        self.dump_flags = dump_flags
        self.nparams = nparams
        self.raw = raw
        self.offset = offset
        self.seq = seq
        # `_spans` (parameter byte ranges) is left unset until first needed

    @classmethod
    def from_raw(cls, raw: bytes, cpu: int = 0, dump_flags: int = 0,
                 offset: int = -1) -> EventRecord:
        """Build a record from V2 record bytes (header + lengths + params)."""
        ts, tid, _len, evtype, nparams = HEADER_V2.unpack_from(raw, 0)
        return cls(ts, tid, cpu, evtype, dump_flags, nparams, bytes(raw), offset)

    # -- schema-derived, lazy ------------------------------------------------------------
    @property
    def info(self) -> Any:
        """The `scap.schema.EventInfo` of this type, or None when the type is beyond the table."""
        table = _schema().EVENT_INFO
        return table[self.type] if self.type < len(table) else None

    @property
    def direction(self) -> str:
        """`'>'` for enter events (even types), `'<'` for exit events (odd types)."""
        return "<" if self.type & 1 else ">"

    @property
    def name(self) -> str:
        """`evt.type`: the table name, generic events resolved to their syscall's name."""
        if self.type in (0, 1) and self.nparams >= 1:
            try:
                resolved: str = _schema().event_name(self.type, (self.param(0),))
                return resolved
            except ValueError:  # a malformed syscall id: fall back to the table name
                pass
        name: str = _schema().event_name(self.type)
        return name

    # -- parameters ----------------------------------------------------------------------
    def _param_spans(self) -> tuple[tuple[int, int], ...]:
        try:
            return self._spans
        except AttributeError:
            pass
        n = self.nparams
        raw = self.raw
        if is_large_payload(self.type):
            lens = struct.unpack_from(f"<{n}I", raw, 26)
            pos = 26 + 4 * n
        else:
            lens = struct.unpack_from(f"<{n}H", raw, 26)
            pos = 26 + 2 * n
        out: list[tuple[int, int]] = []
        for ln in lens:
            out.append((pos, pos + ln))
            pos += ln
        spans: tuple[tuple[int, int], ...] = tuple(out)
        self._spans = spans
        return spans

    def rawparam(self, i: int) -> bytes:
        """The stored bytes of parameter `i` (0 ≤ i < nparams)."""
        a, b = self._param_spans()[i]
        return self.raw[a:b]

    def _nparams_known(self) -> int:
        info = self.info
        return min(self.nparams, len(info.params)) if info is not None else 0

    def param(self, i: int) -> Any:
        """Parameter `i` decoded by its table type (`scap.params.decode_param`)."""
        if i >= self._nparams_known() or i < 0:
            raise IndexError(f"event type {self.type} has no decodable param {i}")
        pinfo = self.info.params[i]
        return _params().decode_param(pinfo.type, self.rawparam(i), pinfo)

    @property
    def params(self) -> tuple[Any, ...]:
        """The first min(nparams, table count) parameters, decoded."""
        return tuple(self.param(i) for i in range(self._nparams_known()))

    def param_by_name(self, name: str) -> Any:
        """Decoded value of the parameter called `name`; None if this record does not carry it
        (older capture).  KeyError if the event type has no such parameter."""
        info = self.info
        if info is not None:
            for i, p in enumerate(info.params):
                if p.name == name:
                    return self.param(i) if i < self.nparams else None
        raise KeyError(f"event type {self.type} has no param {name!r}")

    # -- value semantics -----------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (self.ts, self.tid, self.cpu, self.type, self.dump_flags, self.nparams,
                self.raw, self.offset)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventRecord):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"EventRecord(ts={self.ts}, tid={self.tid}, cpu={self.cpu}, type={self.type}, "
                f"dump_flags={self.dump_flags}, nparams={self.nparams}, len={len(self.raw)}, "
                f"offset={self.offset})")

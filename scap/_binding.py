"""Runtime binding of the C fast path (`scap._scap_native`, built by
`scap/_cffi_src/build_scap.py`).

The one place that talks to the C library: it checks the ABI stamp at load, owns the output
arrays, and turns a C scan result into the same `ScanResult` the pure-Python scanner returns,
so `scap.decode` can use either.  If the extension is not built, `available()` is False and
the reader falls back to Python.
"""
from __future__ import annotations

import gc
import struct as _struct
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from scap.decode import EventTables, ScanResult, make_records
from scap.errors import NativeError
from scap.record import EventRecord

__all__ = ["RawBatch", "available", "import_error", "scan_events", "scan_raw", "scan_records"]

_ABI = 4
_Fmt = Literal["Q", "q", "I", "H", "B"]  # the memoryview formats of the columns below
#: the output columns of scap_scan_events: (field, cffi element type, memoryview format)
_COLS: tuple[tuple[str, str, _Fmt], ...] = (
    ("ts", "uint64_t", "Q"), ("tid", "int64_t", "q"), ("block_off", "uint64_t", "Q"),
    ("rec_start", "uint64_t", "Q"), ("rec_end", "uint64_t", "Q"),
    ("nparams", "uint32_t", "I"), ("dump_flags", "uint32_t", "I"),
    ("type", "uint16_t", "H"), ("cpu", "uint16_t", "H"), ("v1", "uint8_t", "B"),
    ("seq", "uint64_t", "Q"))


class _Lib(Protocol):  # what we call in C, for type checkers
    def scap_native_abi(self) -> int: ...
    def scap_raw_format(self, cols: Any, n: int, start: int, out: Any, cap: int) -> int: ...
    def scap_scan_events(self, buf: Any, pos: int, end: int, base: int, nparams_table: Any,
                         large_table: Any, table_size: int, wanted: Any, out: Any,
                         max_events: int, res: Any) -> int: ...


_lib: _Lib | None = None
_ffi: Any = None
_import_error: str | None = None
try:
    import scap._scap_native as _scap_native  # compiled by cffi: no source for type checkers

    _loaded: _Lib = _scap_native.lib
    if _loaded.scap_native_abi() != _ABI:
        _import_error = ("scap._scap_native is stale (ABI mismatch); rebuild it with "
                         "`.venv/bin/pip install -e .`")
    else:
        _ffi, _lib = _scap_native.ffi, _loaded
except ImportError as e:  # not built: pure-Python fallback
    _import_error = f"{e}; build it with `.venv/bin/pip install -e .`"
    _lib = None


def available() -> bool:
    return _lib is not None


def import_error() -> str | None:
    return _import_error


class _Scratch:
    """Output columns and result struct, reused between calls."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.arrays = {name: _ffi.new(f"{ctype}[]", cap) for name, ctype, _ in _COLS}
        self.sizes = {name: _ffi.sizeof(ctype) for name, ctype, _ in _COLS}
        self.cols = _ffi.new("scap_evt_cols *", self.arrays)
        self.res = _ffi.new("scap_scan_result *")
        self.fmt_cap = 48 * cap + 16
        self.fmt = _ffi.new("char[]", self.fmt_cap)
        self.tables: tuple[Any, ...] | None = None
        self.tables_key: EventTables | None = None
        self.wanted_key: bytes | None = None
        self.wanted: Any = _ffi.NULL

    def column(self, name: str, fmt: _Fmt, n: int) -> list[int]:
        return memoryview(_ffi.buffer(self.arrays[name], n * self.sizes[name])).cast(fmt).tolist()


_scratch: _Scratch | None = None


def _native_lib() -> _Lib:
    if _lib is None:
        raise ImportError(_import_error)
    return _lib


def _scan(buf: bytes, pos: int, end: int, tables: EventTables, wanted: bytes | None,
          max_events: int, base: int, seq: int) -> tuple[_Scratch, int, ScanResult]:
    global _scratch
    lib = _native_lib()
    cap = max(1, min(max_events, 1 << 16))
    s = _scratch
    if s is None or s.cap < cap:
        s = _scratch = _Scratch(max(cap, 4096))
    if s.tables_key is not tables:
        s.tables = (_ffi.from_buffer(tables.nparams), _ffi.from_buffer(tables.large))
        s.tables_key = tables
    if s.wanted_key is not wanted:
        s.wanted = _ffi.NULL if wanted is None else _ffi.from_buffer(wanted)
        s.wanted_key = wanted
    nparams_t, large_t = s.tables  # type: ignore[misc]
    res = s.res
    res.seq = seq
    n = lib.scap_scan_events(_ffi.from_buffer(buf), pos, end, base, nparams_t, large_t,
                              tables.size, s.wanted, s.cols, cap, res)
    if res.stop > 3 or n > cap or res.pos < pos or res.pos > end:
        # the C side broke its own contract: never guess, say so
        raise NativeError(res.stop, "scap_scan_events",
                          f"inconsistent result (n={n}, pos={res.pos}, range {pos}..{end})")
    err = _ffi.string(res.error).decode("utf-8", "replace") if res.stop == 2 else ""
    return s, n, ScanResult([], res.pos, res.stop, res.skipped_unknown, err, res.seq)


def scan_events(buf: bytes, pos: int, end: int, tables: EventTables,
                wanted: bytes | None = None, max_events: int = 4096, seq: int = 0) -> ScanResult:
    """Same contract and results as `scap.decode.scan_events`, done in C."""
    s, n, result = _scan(buf, pos, end, tables, wanted, max_events, 0, seq)
    if n:
        c = {name: s.column(name, fmt, n) for name, _, fmt in _COLS}
        ends = c["rec_end"]
        starts = c["rec_start"]
        lens = [e - a for a, e in zip(starts, ends, strict=True)]
        result.events = list(zip(c["block_off"], starts, lens, c["ts"], c["tid"], c["type"],
                                 c["nparams"], c["cpu"], c["dump_flags"], c["v1"], c["seq"],
                                 strict=True))
    return result


def scan_records(buf: bytes, pos: int, end: int, tables: EventTables, wanted: bytes | None,
                 max_events: int, base: int, seq: int = 0
                 ) -> tuple[list[EventRecord], ScanResult]:
    """Same contract and results as `scap.decode.scan_records`: one C call per batch, then
    one list per column and `map` (no per-event Python bytecode for V2 records)."""
    s, n, result = _scan(buf, pos, end, tables, wanted, max_events, base, seq)
    if not n:
        return [], result
    if s.res.n_v1:  # V1 records need rewriting to the V2 layout: the generic path
        result.events = scan_events(buf, pos, result.pos, tables, wanted, n, seq).events
        return make_records(buf, result.events, base), result
    col = s.column
    lib = _native_lib()
    # These objects cannot form reference cycles, so the cyclic GC has nothing to find among
    # them; pausing it while a batch is built saves a third of the per-event cost.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        raws: Sequence[bytes]
        flen = lib.scap_raw_format(s.cols, n, pos, s.fmt, s.fmt_cap)
        if flen:  # every record's bytes in one struct call
            raws = _struct.unpack_from(_ffi.buffer(s.fmt, flen)[:], buf, pos)
        else:
            raws = list(map(buf.__getitem__, map(slice, col("rec_start", "Q", n),
                                                 col("rec_end", "Q", n))))
        recs = list(map(EventRecord, col("ts", "Q", n), col("tid", "q", n),
                        col("cpu", "H", n), col("type", "H", n), col("dump_flags", "I", n),
                        col("nparams", "I", n), raws, col("block_off", "Q", n),
                        col("seq", "Q", n)))
    finally:
        if was_enabled:
            gc.enable()
    return recs, result


class RawBatch:
    """A scanned batch left where the C scanner put it (addition for consumers that work on
    the columns in C, e.g. sinsp's native printer): `buf` (the bytes scanned), `n` events,
    `columns()` (column name -> address of its `_COLS` C array, for another cffi module) and
    `record(i)` (the `EventRecord` `scan_records` would have built for event i).  Valid only
    until the next scan: the columns are the scanner's reused scratch arrays.  `legacy` holds
    the records instead when the batch has V1 records (they need rewriting; columns unset)."""

    __slots__ = ("_arrays", "base", "buf", "legacy", "n")

    def __init__(self, buf: bytes, n: int, base: int, arrays: dict[str, Any],
                 legacy: list[EventRecord] | None) -> None:
        self.buf = buf
        self.n = n
        self.base = base
        self._arrays = arrays
        self.legacy = legacy

    def __len__(self) -> int:
        return self.n

    def columns(self) -> dict[str, int]:
        return {name: int(_ffi.cast("uintptr_t", arr)) for name, arr in self._arrays.items()}

    def record(self, i: int) -> EventRecord:
        if self.legacy is not None:
            return self.legacy[i]
        a = self._arrays
        return EventRecord(a["ts"][i], a["tid"][i], a["cpu"][i], a["type"][i],
                           a["dump_flags"][i], a["nparams"][i],
                           self.buf[a["rec_start"][i]:a["rec_end"][i]], a["block_off"][i],
                           a["seq"][i])


def scan_raw(buf: bytes, pos: int, end: int, tables: EventTables, wanted: bytes | None,
             max_events: int, base: int, seq: int = 0) -> tuple[RawBatch | list[EventRecord],
                                                                 ScanResult]:
    """`scan_records`' contract, but the batch is a `RawBatch` (no record built); `[]` when
    the scan found no event."""
    s, n, result = _scan(buf, pos, end, tables, wanted, max_events, base, seq)
    if not n:
        return [], result
    legacy = None
    if s.res.n_v1:
        result.events = scan_events(buf, pos, result.pos, tables, wanted, n, seq).events
        legacy = make_records(buf, result.events, base)
        result.events = []
    return RawBatch(buf, n, base, s.arrays, legacy), result

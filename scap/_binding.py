"""Runtime binding of the C fast path (`scap._scap_native`, built by
`scap/_cffi_src/build_scap.py`).

The one place that talks to the C library: it checks the ABI stamp at load, owns the output
arrays, and turns a C scan result into the same `ScanResult` the pure-Python scanner returns,
so `scap.decode` can use either.  If the extension is not built, `available()` is False and
the reader falls back to Python.
"""
from __future__ import annotations

import struct
from typing import Any, Protocol

from scap.decode import EventTables, ScanResult

__all__ = ["available", "import_error", "scan_events"]

_ABI = 1
#: struct scap_evt_out as laid out in scap_native.h (56 bytes)
_OUT = struct.Struct("<QqQQIIIHHII")


class _Lib(Protocol):  # what we call in C, for type checkers
    def scap_native_abi(self) -> int: ...
    def scap_scan_events(self, buf: Any, pos: int, end: int, nparams_table: Any,
                         large_table: Any, table_size: int, wanted: Any, out: Any,
                         max_events: int, res: Any) -> int: ...


_lib: _Lib | None = None
_ffi: Any = None
_import_error: str | None = None
try:
    from scap._scap_native import ffi as _ffi, lib as _lib  # type: ignore[import-not-found,no-redef]

    if _lib.scap_native_abi() != _ABI or _ffi.sizeof("scap_evt_out") != _OUT.size:
        _import_error = ("scap._scap_native is stale (ABI mismatch); rebuild it with "
                         "`.venv/bin/pip install -e .`")
        _lib = None
except ImportError as e:  # not built: pure-Python fallback
    _import_error = f"{e}; build it with `.venv/bin/pip install -e .`"
    _lib = None


def available() -> bool:
    return _lib is not None


def import_error() -> str | None:
    return _import_error


class _Scratch:
    """Output array and result struct, reused between calls (one per thread of use)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.out = _ffi.new("scap_evt_out[]", cap)
        self.res = _ffi.new("scap_scan_result *")
        self.tables: tuple[Any, ...] | None = None
        self.tables_key: EventTables | None = None
        self.wanted_key: bytes | None = None
        self.wanted: Any = _ffi.NULL


_scratch: _Scratch | None = None


def scan_events(buf: bytes, pos: int, end: int, tables: EventTables,
                wanted: bytes | None = None, max_events: int = 4096) -> ScanResult:
    """Same contract as `scap.decode.scan_events`, done in C."""
    global _scratch
    if _lib is None:
        raise ImportError(_import_error)
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
    n = _lib.scap_scan_events(_ffi.from_buffer(buf), pos, end, nparams_t, large_t,
                              tables.size, s.wanted, s.out, cap, s.res)
    res = s.res
    events = [(b, r, ln, ts, tid, t, npar, cpu, fl, v1)
              for ts, tid, b, r, ln, npar, fl, t, cpu, v1, _pad
              in _OUT.iter_unpack(_ffi.buffer(s.out, n * _OUT.size))] if n else []
    err = _ffi.string(res.error).decode("utf-8", "replace") if res.stop == 2 else ""
    return ScanResult(events, res.pos, res.stop, res.skipped_unknown, err)

"""``sinsp.event``'s in-place param readers agree with the record's own decoding: the
per-type layout (params current libs append included), ``all_params`` (one generated pass
per type and param count) and ``param_span``, on every record of the shared captures and on
live-layout (exit-only, appended params) openat/close records, damaged ones included."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

import scap
from scap.params import decode_param
from scap.record import EventRecord
from scap.schema import event_info
from scap.testing import EventBuilder
from sinsp.event import _MISSING, _param_by_name, all_params, param_span

TRACES = Path("/work/shared/traces/syscalls")


def _expected(rec: EventRecord) -> list[Any] | None:
    """Each param decoded from ``rawparam`` by the reader's table, then current libs'."""
    cur = event_info(rec.type, current=True)
    info = rec.info
    table = list(info.params) if info is not None else []
    if cur is not None and info is not None and cur.name == info.name:
        table += list(cur.params[len(table):])
    if rec.nparams > len(table):
        return None
    out = []
    try:
        for i in range(rec.nparams):
            raw = rec.rawparam(i)
            if len(raw) != rec._param_spans()[i][1] - rec._param_spans()[i][0]:
                return None
            out.append(decode_param(table[i].type, raw, table[i]) if raw else None)
    except ValueError:
        return None
    return out


def _live_records() -> list[EventRecord]:
    b = EventBuilder()
    recs = [
        b.build("SYSCALL_OPENAT_2_X", [3, -100, "/etc/passwd", 1, 0, 2049,
                                       struct.pack("<Q", 77)]),
        b.build("SYSCALL_OPENAT_2_X", [-2, -100, "missing", 1, 0, 0, struct.pack("<Q", 0)]),
        b.build("SYSCALL_OPENAT_2_X", [3, -100, "/tmp/x", 1, 0]),  # older, shorter layout
        b.build("SYSCALL_CLOSE_X", [0, struct.pack("<q", 3)]),
        b.build("SYSCALL_CLOSE_X", [0]),
    ]
    bad = recs[0]
    # the length array claims more bytes than the record holds
    recs.append(EventRecord(bad.ts, bad.tid, 0, bad.type, 0, bad.nparams, bad.raw[:-3]))
    return recs


def _records() -> list[EventRecord]:
    recs = _live_records()
    if TRACES.is_dir():
        for path in sorted(TRACES.glob("*.scap")):
            with scap.open(path) as cap:
                recs.extend(cap)
    return recs


def test_all_params_matches_per_param_decoding() -> None:
    recs = _records()
    n_full = 0
    for rec in recs:
        want = _expected(rec)
        got = all_params(rec)
        if want is None:
            assert got is None, rec
        else:
            assert got == want, rec
            n_full += 1
    assert n_full > len(recs) // 2


def test_appended_params_by_name() -> None:
    ino, _fail, short, close_fd, close_old, _bad = _live_records()[:6]
    assert _param_by_name(ino, "ino") == 77
    assert _param_by_name(short, "ino") is _MISSING
    assert _param_by_name(close_fd, "fd") == 3
    assert _param_by_name(close_old, "fd") is _MISSING
    with pytest.raises(IndexError):
        ino.param(6)  # the record's own accessor stops at the 0.29.3 table


def test_text_types_are_the_schema_ones() -> None:
    from scap.schema import PT
    from sinsp.event import _TEXT_TYPES, _cstring

    assert {int(PT.CHARBUF), int(PT.FSPATH), int(PT.FSRELPATH)} == _TEXT_TYPES
    for t in _TEXT_TYPES:
        for data in (b"/a/b", b"x\0junk", b"\xff\xfe/p", b"\0"):
            assert _cstring(data) == decode_param(t, data)


def test_param_span_is_rawparam() -> None:
    for rec in _records()[:3000]:
        for i in range(rec.nparams):
            a, b = param_span(rec, i)
            assert rec.raw[a:b] == rec.rawparam(i)


def test_named_param_is_param_by_name() -> None:
    from sinsp.event import named_param

    for rec in _records()[:3000]:
        info = rec.info
        names = [p.name for p in info.params] + ["fd", "ino", "nosuch"] if info else ["fd"]
        for name in names:
            try:
                want = _param_by_name(rec, name)
            except Exception as e:  # the same error from both
                with pytest.raises(type(e)):
                    named_param(rec, name)
                continue
            assert named_param(rec, name) == (None if want is _MISSING else want)

"""The public names of `scap` are pinned: removing or renaming one is a contract change
(docs/ARCHITECTURE.md) and must show up here."""
from __future__ import annotations

import struct

import pytest

import scap
import scap.schema


def test_public_api_is_pinned() -> None:
    assert sorted(scap.__all__) == [
        "Capture", "EventRecord", "FdEntry", "FdType", "FormatError", "GroupInfo",
        "InterfaceInfo", "MachineInfo", "NativeError", "ProcInfo", "ScapError", "SockAddr",
        "SockTuple", "UserInfo", "Writer", "open",
    ]
    for name in scap.__all__:
        assert getattr(scap, name) is not None, name
    assert scap.SockAddr.__module__ == "scap.params"


def test_event_record_is_slotted() -> None:
    r = scap.EventRecord(1, 2, 3, 4, 0, 0, b"", 0)
    assert not hasattr(r, "__dict__")
    assert (r.ts, r.tid, r.cpu, r.type, r.dump_flags, r.nparams, r.raw, r.offset) == \
        (1, 2, 3, 4, 0, 0, b"", 0)


def test_record_lazy_accessors() -> None:
    from scap.testing import EventBuilder

    b = EventBuilder(tid=-1)
    r = b.build("SYSCALL_OPEN_X", [3, "/etc/passwd", 1, 0o644])  # 4 of the table's params
    assert (r.name, r.direction, r.tid) == ("open", "<", -1)
    assert r.param_by_name("name") == "/etc/passwd"
    assert r.param_by_name("dev") is None  # in the table, not in this record
    with pytest.raises(KeyError):
        r.param_by_name("nope")
    with pytest.raises(IndexError):
        r.param(4)
    assert r.rawparam(0) == (3).to_bytes(8, "little", signed=True)
    generic = b.build(1, [4])
    assert generic.name == scap.schema.syscall_name(4)
    broken = scap.EventRecord.from_raw(struct.pack("<QqIHIH", 1, 2, 29, 1, 1, 1) + b"x")
    assert broken.name == scap.schema.EVENT_INFO[1].name  # bad syscall id: the table name

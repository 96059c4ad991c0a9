"""The public names of `scap` are pinned: removing or renaming one is a contract change
(docs/ARCHITECTURE.md) and must show up here."""
from __future__ import annotations

import scap


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

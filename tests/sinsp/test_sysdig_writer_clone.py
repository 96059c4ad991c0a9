"""``Sysdig0293Writer`` (live recordings for sysdig 0.29.3): enter events are rebuilt from
exits, except for a clone-family child's exit (res 0), which real drivers never precede with
an enter -- a rebuilt one made sysdig show the child as ``<NA>`` when it ran first."""
from __future__ import annotations

from scap.testing import EventBuilder
from sinsp.sysdig_cli import Sysdig0293Writer


class _Sink:
    def __init__(self) -> None:
        self.types: list[int] = []

    def write_event(self, rec) -> None:  # type: ignore[no-untyped-def]
        self.types.append(rec.type)

    def close(self) -> None:
        pass


def _clone_exit(b: EventBuilder, etype: int, res: int, tid: int):  # type: ignore[no-untyped-def]
    return b.build(etype, {"res": res, "exe": "sh", "args": b"", "tid": tid, "pid": tid,
                           "ptid": 1, "cwd": "/", "fdlimit": 1024, "pgft_maj": 0, "pgft_min": 0,
                           "vm_size": 0, "vm_rss": 0, "vm_swap": 0, "comm": "sh",
                           "cgroups": b"", "flags": 0, "uid": 0, "gid": 0, "vtid": tid,
                           "vpid": tid}, tid=tid)


def test_child_side_of_clone_family_gets_no_rebuilt_enter() -> None:
    b = EventBuilder()
    for etype in (223, 225, 227, 335):  # clone, fork, vfork, clone3 exits (current layout)
        sink = _Sink()
        w = Sysdig0293Writer(sink)
        w.write_event(_clone_exit(b, etype, 0, 200))      # the child's return
        w.write_event(_clone_exit(b, etype, 200, 100))    # the parent's return
        assert sink.types == [etype, etype - 1, etype], etype
        assert w.enters_added == 1 and w.written == 2


def test_other_exits_still_get_their_enter() -> None:
    b = EventBuilder()
    sink = _Sink()
    w = Sysdig0293Writer(sink)
    w.write_event(b.build(5, {"res": 0}))  # close exit: enter rebuilt only if its params are there
    assert sink.types[-1] == 5 and w.written == 1

"""Feed EventBuilder records through an Inspector without a capture file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from scap.metadata import ProcInfo
from scap.testing import EventBuilder
from sinsp import Event, Inspector


class MemorySource(list):  # type: ignore[type-arg]
    """A list of records that also carries capture metadata, like scap.open()."""

    def __init__(self, records: Iterable[Any], processes: Iterable[ProcInfo] = (),
                 users: Iterable[Any] = (), groups: Iterable[Any] = ()) -> None:
        super().__init__(records)
        self.processes = list(processes)
        self.users = list(users)
        self.groups = list(groups)
        self.machine = None
        self.interfaces: list[Any] = []


def proc(tid: int, pid: int | None = None, ptid: int = 1, comm: str = "sh", **kw: Any) -> ProcInfo:
    base: dict[str, Any] = dict(exe=f"/bin/{comm}", cwd="/root", fdlimit=1024, uid=0, gid=0,
                                sid=tid, vtid=tid, vpid=tid if pid is None else pid)
    base.update(kw)
    return ProcInfo(tid=tid, pid=tid if pid is None else pid, ptid=ptid, comm=comm, **base)


def builder(tid: int = 100) -> EventBuilder:
    return EventBuilder(ts=1_700_000_000_000_000_000, tid=tid)


def replay(records: Iterable[Any], processes: Iterable[ProcInfo] = (),
           probe: Callable[[Event], Any] | None = None, **kw: Any) -> tuple[Inspector, list[Any]]:
    """Run every record through an Inspector; ``probe(evt)`` is called on each
    visible event while it is current, and its results are returned."""
    insp = Inspector(MemorySource(records, processes, **kw))
    seen: list[Any] = []
    for evt in insp:
        seen.append(probe(evt) if probe else evt.num)
    return insp, seen

"""Helpers for the hot path tests: a live source over prepared records (the real
``RingSource`` raw-batch API, no driver), live-layout exits and state snapshots."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

from scap.engines._ring import RawBatch, RingSource
from scap.metadata import ProcInfo
from scap.record import EventRecord
from scap.testing import EventBuilder
from sinsp import Inspector

CLONE_FILES = 1


class FakeRing(RingSource):
    """A RingSource whose drained batches are prepared records (as the drain lays them out:
    back to back, offsets and cpus on the side)."""

    def __init__(self, batches: list[list[EventRecord]], processes: list[ProcInfo]) -> None:
        super().__init__(None, True, False, 1 << 17, 4096, 0)
        self._prepared = batches
        self._snapshot = SimpleNamespace(processes=processes, users=[], groups=[],
                                         machine=None, interfaces=[])

    def raw_batches(self) -> Any:
        for recs in self._prepared:
            data = bytearray()
            offs: list[int] = []
            for r in recs:
                offs.append(len(data))
                data += r.raw
            yield RawBatch(bytes(data), struct.pack(f"<{len(offs)}I", *offs),
                           struct.pack(f"<{len(recs)}H", *(r.cpu for r in recs)), len(recs))


def open_exit(b: EventBuilder, etype: int, tid: int, fd: int, path: str, flags: int = 1,
              mode: int = 0, ino: int = 7, dirfd: int = -100) -> EventRecord:
    """An open-family exit in the live (current libs) layout, as the probe delivers it."""
    ino_b = struct.pack("<Q", ino)
    if etype == 307:
        return b.build("SYSCALL_OPENAT_2_X", [fd, dirfd, path, flags, mode, 2049, ino_b],
                       tid=tid)
    if etype == 327:
        return b.build("SYSCALL_OPENAT2_X", [fd, dirfd, path, flags, mode, 0,
                                             struct.pack("<I", 2049), ino_b], tid=tid)
    if etype == 3:
        return b.build("SYSCALL_OPEN_X", [fd, path, flags, mode, 2049, ino_b], tid=tid)
    if etype == 59:
        return b.build("SYSCALL_CREAT_X", [fd, path, mode, 2049, ino_b,
                                           struct.pack("<H", 0)], tid=tid)
    raise ValueError(etype)


def close_exit(b: EventBuilder, tid: int, fd: int, res: int = 0) -> EventRecord:
    return b.build("SYSCALL_CLOSE_X", [res, struct.pack("<q", fd)], tid=tid)


def read_exit(b: EventBuilder, tid: int, fd: int, res: int = 4) -> EventRecord:
    return b.build("SYSCALL_READ_X", [res, b"data", struct.pack("<q", fd),
                                      struct.pack("<I", 4)], tid=tid)


def processes() -> list[ProcInfo]:
    """A process (100) with a CLONE_FILES thread (101), a lone process (200) and a
    CLONE_FILES thread whose process is not known (301: no fd table)."""
    return [
        ProcInfo(tid=100, pid=100, ptid=1, comm="storm", exe="/bin/storm", cwd="/home/u"),
        ProcInfo(tid=101, pid=100, ptid=1, comm="storm", exe="/bin/storm", cwd="/home/u",
                 flags=CLONE_FILES),
        ProcInfo(tid=200, pid=200, ptid=1, comm="other", exe="/bin/other", cwd="/"),
        ProcInfo(tid=301, pid=300, ptid=1, comm="orphan", exe="/bin/orphan", cwd="/",
                 flags=CLONE_FILES),
    ]


FIELDS = ("evt.num", "evt.type", "fd.name", "fd.num", "fd.type", "fd.typechar",
          "fd.directory", "fd.filename", "fd.ino", "evt.rawres", "proc.name", "thread.tid",
          "proc.pid", "evt.is_open_read", "evt.is_open_write")


def run(insp: Inspector) -> list[tuple[Any, ...]]:
    """Every yielded event's field values, read when it is yielded."""
    from sinsp.fields import REGISTRY

    out = []
    for evt in insp:
        out.append((*tuple(REGISTRY.extract(evt, f) for f in FIELDS), evt.record.raw))
    return out


def state(insp: Inspector) -> dict[str, Any]:
    """The state a test compares: threads, their fd tables (by identity of the shared ones),
    counters."""
    threads = {}
    owner: dict[int, int] = {}  # fd table -> the lowest tid using it (shared tables)
    for ti in sorted(insp.threads, key=lambda t: t.tid):
        table = ti.fd_table()
        if table is not None:
            owner.setdefault(id(table), ti.tid)
    for ti in insp.threads:
        table = ti.fd_table()
        fds = None if table is None else sorted(
            (i.fd, int(i.type), i.name, i.openflags, i.dev, i.ino) for i in table)
        threads[ti.tid] = (ti.pid, ti.comm, ti.last_enter is None, fds,
                           None if table is None else owner[id(table)])
    st = insp.stats
    return {"threads": threads, "num": insp._num, "events": st.events,
            "created": st.threads_created_on_demand, "parse_errors": st.parse_errors,
            "fd_stats": (insp.fd_stats.added, insp.fd_stats.removed, insp.fd_stats.evicted)}

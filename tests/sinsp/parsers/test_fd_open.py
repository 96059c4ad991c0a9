"""open/openat/openat2/creat/close/dup/fcntl parsers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

from sinsp import FdType


def _names(insp, tid=100):  # type: ignore[no-untyped-def]
    return {i.fd: i.name for i in insp.threads.get(tid).fd_table()}


def test_open_resolves_relative_paths_against_cwd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPEN_E", {"name": "a/../b//c.txt", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": 3, "name": "a/../b//c.txt", "flags": 1, "mode": 0,
                                   "dev": 7}),
    ]
    insp, seen = replay(recs, [proc(100, cwd="/srv/app")],
                        probe=lambda e: e.fd.name if e.fd else None)
    assert seen == [None, "/srv/app/b/c.txt"]
    info = insp.threads.get(100).fd_table().get(3)
    assert (info.type, info.openflags, info.dev) == (FdType.FILE, 1, 7)


def test_openat_uses_dirfd_from_enter_event() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPENAT_E", {"dirfd": -100, "name": "/etc", "flags": 1 << 10,
                                     "mode": 0}),
        b.build("SYSCALL_OPENAT_X", {"fd": 4}),
        b.build("SYSCALL_OPENAT_E", {"dirfd": 4, "name": "passwd", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPENAT_X", {"fd": 5}),
        b.build("SYSCALL_OPENAT2_E", {"dirfd": 4, "name": "../tmp/x", "flags": 1, "mode": 0,
                                      "resolve": 0}),
        b.build("SYSCALL_OPENAT2_X", {"fd": 6, "dirfd": 4, "name": "../tmp/x", "flags": 1,
                                      "mode": 0, "resolve": 0}),
    ]
    insp, _ = replay(recs, [proc(100)])
    assert _names(insp) == {4: "/etc", 5: "/etc/passwd", 6: "/tmp/x"}
    assert insp.threads.get(100).fd_table().get(4).type == FdType.DIRECTORY


def test_failed_open_adds_nothing_and_creat_adds_a_file() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPEN_E", {"name": "/x", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": -13, "name": "/x", "flags": 1, "mode": 0, "dev": 0}),
        b.build("SYSCALL_CREAT_E", {"name": "new", "mode": 0o600}),
        b.build("SYSCALL_CREAT_X", {"fd": 3, "name": "new", "mode": 0o600, "dev": 0}),
    ]
    insp, _ = replay(recs, [proc(100, cwd="/tmp")])
    assert _names(insp) == {3: "/tmp/new"}


def test_close_is_deferred_and_failed_close_keeps_the_fd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPEN_E", {"name": "/a", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": 3, "name": "/a", "flags": 1, "mode": 0, "dev": 0}),
        b.build("SYSCALL_CLOSE_E", {"fd": 3}),
        b.build("SYSCALL_CLOSE_X", {"res": 0}),
        b.build("SYSCALL_CLOSE_E", {"fd": 0}),
        b.build("SYSCALL_CLOSE_X", {"res": -9}),
    ]
    insp, seen = replay(recs, [proc(100)], probe=lambda e: (e.fdnum, e.fd.name if e.fd else None))
    assert seen[2:4] == [(3, "/a"), (3, "/a")]  # the close exit still names it
    assert seen[4] == (0, None)
    assert 3 not in insp.threads.get(100).fd_table()


def test_dup_and_fcntl_dupfd_copy_the_fd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPEN_E", {"name": "/a", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": 3, "name": "/a", "flags": 1, "mode": 0, "dev": 0}),
        b.build("SYSCALL_DUP_E", {"fd": 3}), b.build("SYSCALL_DUP_X", {"res": 10}),
        b.build("SYSCALL_FCNTL_E", {"fd": 3, "cmd": 1}), b.build("SYSCALL_FCNTL_X", {"res": 11}),
        b.build("SYSCALL_FCNTL_E", {"fd": 3, "cmd": 3}), b.build("SYSCALL_FCNTL_X", {"res": 0}),
    ]
    insp, _ = replay(recs, [proc(100)])
    assert _names(insp) == {3: "/a", 10: "/a", 11: "/a"}
    table = insp.threads.get(100).fd_table()
    assert table.get(10) is not table.get(3)


def test_fd_table_is_bounded_and_counts_evictions() -> None:
    b = builder()
    recs = []
    for fd in range(3, 13):
        recs += [b.build("SYSCALL_OPEN_E", {"name": f"/f{fd}", "flags": 1, "mode": 0}),
                 b.build("SYSCALL_OPEN_X", {"fd": fd, "name": f"/f{fd}", "flags": 1, "mode": 0,
                                            "dev": 0})]
    from _feed import MemorySource

    from sinsp import Inspector

    insp = Inspector(MemorySource(recs, [proc(100)]), max_fds=4)
    for _ in insp:
        pass
    assert sorted(_names(insp)) == [9, 10, 11, 12]
    assert insp.fd_stats.evicted == 6

"""ThreadInfo/ThreadTable: links, shared tables, bounds; paths; verdicts."""

from __future__ import annotations

import pytest

from sinsp import FdInfo, FdTable, FdType, ThreadInfo, ThreadTable, Verdict
from sinsp.state.threads import CL_CLONE_FILES, CL_CLONE_FS, join_path


def _table(*threads: ThreadInfo) -> ThreadTable:
    t = ThreadTable()
    for th in threads:
        t.add(th)
    return t


@pytest.mark.parametrize(
    ("base", "rel", "out"),
    [
        ("/home/a/", "x", "/home/a/x"),
        ("/home/a", "../b/./c/", "/home/b/c"),
        ("/home/a/", "/etc//passwd", "/etc/passwd"),
        ("/", "../../..", "/"),
        ("/x/", "", "/x/"),
    ],
)
def test_join_path(base: str, rel: str, out: str) -> None:
    assert join_path(base, rel) == out


def test_threads_share_fds_and_cwd_only_with_clone_flags() -> None:
    main = ThreadInfo(10, 10, 1)
    shared = ThreadInfo(11, 10, 1)
    shared.flags = CL_CLONE_FILES | CL_CLONE_FS
    private = ThreadInfo(12, 10, 1)
    _table(main, shared, private)
    main.fdtable.add(FdInfo(3, FdType.FILE, "/a"))
    assert shared.fd_table() is main.fdtable
    assert private.fd_table() is private.fdtable and 3 not in private.fd_table()
    shared.set_cwd("/srv")
    assert main.get_cwd() == "/srv/" and private.get_cwd() == "/"


def test_ancestors_stop_at_gaps_and_loops() -> None:
    a, b, c = ThreadInfo(1, 1, 3), ThreadInfo(2, 2, 1), ThreadInfo(3, 3, 2)  # a loop
    _table(a, b, c)
    assert [t.tid for t in c.ancestors] == [2, 1]
    orphan = ThreadInfo(9, 9, 99)
    _table(orphan)
    assert list(orphan.ancestors) == [] and orphan.parent() is None


def test_table_bound_evicts_oldest_and_counts() -> None:
    table = ThreadTable(max_threads=2)
    for tid in (1, 2, 3):
        table.add(ThreadInfo(tid))
    assert [t.tid for t in table] == [2, 3] and table.stats.evicted == 1
    table.add(ThreadInfo(3))  # replacing does not evict
    assert table.stats.evicted == 1


def test_verdict_applies_removals_in_order_and_clears() -> None:
    threads = _table(ThreadInfo(5, 5, 1), ThreadInfo(1, 1, 0))
    fds = FdTable()
    fds.add(FdInfo(4, FdType.FILE, "/x"))
    v = Verdict()
    assert not v
    v.remove_fd(fds, 4)
    v.remove_thread(5)
    assert v
    v.apply(threads)
    assert 4 not in fds and 5 not in threads and not v


def test_fd_copy_is_independent() -> None:
    fds = FdTable()
    fds.add(FdInfo(3, FdType.IPV4_SOCK, "1.1.1.1:1->2.2.2.2:2"))
    dup = fds.copy()
    dup.get(3).name = "changed"
    assert fds.get(3).name == "1.1.1.1:1->2.2.2.2:2"
    assert fds.get(3).typechar == "4" and fds.get(3).is_socket()

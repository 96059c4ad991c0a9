"""pidfd_open / pidfd_getfd parsers (libs' parse_pidfd_open_exit / parse_pidfd_getfd_exit;
sysdig 0.29.3 predates both events, so libs is the reference).

pidfd_getfd(pidfd, targetfd) returns, in the caller, a duplicate of fd ``targetfd`` of the
process the pidfd refers to: the new entry is a copy of that process's fd, not a pidfd.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

from scap.metadata import FdEntry
from sinsp import FdType
from sinsp.state.threads import CL_CLONE_FILES

_SHADOW = FdEntry(fd=5, ino=0, type=FdType.FILE_V2, name="/etc/shadow", open_flags=1, dev=3)
_SOCK = FdEntry(fd=6, ino=0, type=FdType.IPV4_SOCK, name="", sip="10.0.0.2", sport=40000,
                dip="10.0.0.9", dport=443, l4proto=2)


def _getfd(b, res, pidfd, target, tid=100):  # type: ignore[no-untyped-def]
    return [b.build("SYSCALL_PIDFD_GETFD_E", [], tid=tid),
            b.build("SYSCALL_PIDFD_GETFD_X", {"fd": res, "pid_fd": pidfd, "target_fd": target,
                                              "flags": 0}, tid=tid)]


def _open(b, res, pid, flags=0):  # type: ignore[no-untyped-def]
    return [b.build("SYSCALL_PIDFD_OPEN_E", []),
            b.build("SYSCALL_PIDFD_OPEN_X", {"fd": res, "pid": pid, "flags": flags})]


def test_pidfd_open_names_the_process_and_keeps_flags() -> None:
    b = builder()
    insp, seen = replay(_open(b, 3, 200, flags=1), [proc(100), proc(200)],
                        probe=lambda e: (e.fdnum, e.fd.name if e.fd else None))
    info = insp.threads.get(100).fd_table().get(3)
    assert (info.type, info.name, info.openflags, info.typechar) == (
        FdType.PIDFD, "/proc/200", 1, "P")
    assert seen[-1] == (3, "/proc/200")


def test_pidfd_getfd_copies_the_target_processes_fd() -> None:
    b = builder()
    recs = _open(b, 3, 200) + _getfd(b, 4, 3, 5) + _getfd(b, 7, 3, 6)
    insp, seen = replay(recs, [proc(100), proc(200, fds=[_SHADOW, _SOCK])],
                        probe=lambda e: (e.fdnum, e.fd.name if e.fd else None))
    table = insp.threads.get(100).fd_table()
    got = table.get(4)
    assert (got.fd, got.type, got.name, got.openflags, got.dev) == (
        4, FdType.FILE_V2, "/etc/shadow", 1, 3)
    sock = table.get(7)
    assert (sock.type, sock.sip, sock.sport, sock.dip, sock.dport) == (
        FdType.IPV4_SOCK, "10.0.0.2", 40000, "10.0.0.9", 443)
    # a copy: the owner's entry is untouched, and the fd number is the caller's
    owner = insp.threads.get(200).fd_table().get(5)
    assert owner is not got and owner.fd == 5
    assert seen[3] == (4, "/etc/shadow")  # the exit event's fd is the new one


def test_pidfd_getfd_without_a_known_pidfd_process_or_target_adds_nothing() -> None:
    b = builder()
    recs = (_open(b, 3, 200) + _open(b, 8, 999)
            + _getfd(b, 4, 9, 5)      # fd 9 is no fd of ours
            + _getfd(b, 5, 8, 5)      # pid 999 unknown
            + _getfd(b, 6, 3, 42)     # target fd 42 not open in 200
            + _getfd(b, -9, 3, 5))    # the syscall failed (EBADF)
    procs = [proc(100, fds=[FdEntry(fd=9, ino=0, type=FdType.FILE_V2, name="/tmp/x")]),
             proc(200, fds=[_SHADOW])]
    insp, _ = replay(recs, procs)
    table = insp.threads.get(100).fd_table()
    assert {i.fd for i in table} == {3, 8, 9}


def test_pidfd_getfd_through_a_non_pidfd_fd_adds_nothing() -> None:
    """libs checks is_pidfd(): a file that happens to be named /proc/200 is no pidfd."""
    b = builder()
    procs = [proc(100, fds=[FdEntry(fd=3, ino=0, type=FdType.DIRECTORY, name="/proc/200")]),
             proc(200, fds=[_SHADOW])]
    insp, _ = replay(_getfd(b, 4, 3, 5), procs)
    assert insp.threads.get(100).fd_table().get(4) is None


def test_pidfd_getfd_from_another_thread_uses_the_process_table() -> None:
    """A thread sharing its process's fds (CLONE_FILES) resolves the pidfd its main thread
    opened, and the duplicate lands in the shared table."""
    b = builder()
    recs = _open(b, 3, 200) + _getfd(b, 4, 3, 5, tid=101)
    threads = [proc(100), proc(101, pid=100, flags=CL_CLONE_FILES), proc(200, fds=[_SHADOW])]
    insp, _ = replay(recs, threads)
    assert insp.threads.get(100).fd_table().get(4).name == "/etc/shadow"

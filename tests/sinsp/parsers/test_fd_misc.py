"""pipe/eventfd/signalfd/timerfd/inotify parsers and memory counters."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

from sinsp import FdType


def test_anonymous_fds_get_their_types() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_PIPE_E", []),
        b.build("SYSCALL_PIPE_X", {"res": 0, "fd1": 3, "fd2": 4, "ino": 99}),
        b.build("SYSCALL_EVENTFD_E", {"initval": 0, "flags": 0}),
        b.build("SYSCALL_EVENTFD_X", {"res": 5}),
        b.build("SYSCALL_SIGNALFD_E", {"fd": -1, "mask": 0, "flags": 0}),
        b.build("SYSCALL_SIGNALFD_X", {"res": 6}),
        b.build("SYSCALL_TIMERFD_CREATE_E", {"clockid": 0, "flags": 0}),
        b.build("SYSCALL_TIMERFD_CREATE_X", {"res": 7}),
        b.build("SYSCALL_INOTIFY_INIT_E", {"flags": 0}),
        b.build("SYSCALL_INOTIFY_INIT_X", {"res": 8}),
        b.build("SYSCALL_EVENTFD_E", {"initval": 0, "flags": 0}),
        b.build("SYSCALL_EVENTFD_X", {"res": -24}),
    ]
    insp, _ = replay(recs, [proc(100)])
    table = insp.threads.get(100).fd_table()
    assert {i.fd: (FdType(i.type).name, i.name) for i in table} == {
        3: ("FIFO", ""), 4: ("FIFO", ""), 5: ("EVENT", ""), 6: ("SIGNALFD", ""),
        7: ("TIMERFD", ""), 8: ("INOTIFY", ""),
    }
    assert table.get(4).ino == 99 and table.get(4).typechar == "p"


def test_brk_and_switch_update_memory_counters() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_BRK_4_E", {"addr": 0}),
        b.build("SYSCALL_BRK_4_X", {"res": 0, "vm_size": 900, "vm_rss": 300, "vm_swap": 2}),
        b.build("SCHEDSWITCH_6_E", {"next": 1, "pgft_maj": 4, "pgft_min": 5, "vm_size": 901,
                                    "vm_rss": 301, "vm_swap": 3}),
    ]
    insp, seen = replay(recs, [proc(100)], probe=lambda e: e.thread.vmsize_kb)
    assert seen == [0, 900, 901]
    t = insp.threads.get(100)
    assert (t.pfmajor, t.pfminor, t.vmrss_kb, t.vmswap_kb) == (4, 5, 301, 3)


def test_newer_fd_kinds_memfd_bpf_io_uring_pidfd_pipe2_dup2_not_userfaultfd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_MEMFD_CREATE_E", []),
        b.build("SYSCALL_MEMFD_CREATE_X", {"fd": 3, "name": "jit", "flags": 0}),
        b.build("SYSCALL_BPF_2_E", {"cmd": 0}),
        b.build("SYSCALL_BPF_2_X", {"fd": 4, "cmd": 0}),
        b.build("SYSCALL_BPF_2_E", {"cmd": 5}),
        b.build("SYSCALL_BPF_2_X", {"fd": 0, "cmd": 5}),
        b.build("SYSCALL_USERFAULTFD_E", []),
        b.build("SYSCALL_USERFAULTFD_X", {"res": 5, "flags": 0}),
        b.build("SYSCALL_IO_URING_SETUP_E", []),
        b.build("SYSCALL_IO_URING_SETUP_X", {"res": 6, "entries": 1, "sq_entries": 1,
                                             "cq_entries": 1, "flags": 0, "sq_thread_cpu": 0,
                                             "sq_thread_idle": 0, "features": 0}),
        b.build("SYSCALL_PIDFD_OPEN_E", []),
        b.build("SYSCALL_PIDFD_OPEN_X", {"fd": 7, "pid": 1, "flags": 0}),
        b.build("SYSCALL_PIPE2_E", []),
        b.build("SYSCALL_PIPE2_X", {"res": 0, "fd1": 8, "fd2": 9, "ino": 1, "flags": 0}),
        b.build("SYSCALL_DUP2_E", {"fd": 3}),
        b.build("SYSCALL_DUP2_X", {"res": 10, "oldfd": 3, "newfd": 10}),
        b.build("SYSCALL_EPOLL_CREATE1_E", {"flags": 0}),
        b.build("SYSCALL_EPOLL_CREATE1_X", {"res": 11}),
    ]
    insp, _ = replay(recs, [proc(100)])
    table = insp.threads.get(100).fd_table()
    assert {i.fd: (FdType(i.type).name, i.name) for i in table} == {
        3: ("MEMFD", "memfd:jit"), 4: ("BPF", ""), 6: ("IOURING", ""),
        7: ("PIDFD", "/proc/1"), 8: ("FIFO", ""), 9: ("FIFO", ""), 10: ("MEMFD", "memfd:jit"),
        11: ("EVENTPOLL", ""),
    }


def test_prctl_set_name_renames_the_thread() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_PRCTL_E", []),
        b.build("SYSCALL_PRCTL_X", {"res": 0, "option": 15, "arg2_str": "renamed",
                                    "arg2_int": 0}),
    ]
    insp, _ = replay(recs, [proc(100)])
    assert insp.threads.get(100).comm == "renamed"


def test_rlimit_nofile_updates_the_process_fd_limit() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_SETRLIMIT_E", {"resource": 7}, tid=101),
        b.build("SYSCALL_SETRLIMIT_X", {"res": 0, "cur": 4096, "max": 8192}, tid=101),
        b.build("SYSCALL_GETRLIMIT_E", {"resource": 3}),
        b.build("SYSCALL_GETRLIMIT_X", {"res": 0, "cur": 1, "max": 1}),
        b.build("SYSCALL_PRLIMIT_E", {"pid": 200, "resource": 7}),
        b.build("SYSCALL_PRLIMIT_X", {"res": 0, "newcur": 77, "newmax": 77, "oldcur": 1,
                                      "oldmax": 1}),
    ]
    insp, _ = replay(recs, [proc(100, fdlimit=10), proc(101, pid=100, fdlimit=10),
                            proc(200, fdlimit=10)])
    assert insp.threads.get(100).fdlimit == 4096  # set on the main thread
    assert insp.threads.get(200).fdlimit == 77

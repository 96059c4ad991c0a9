"""pipe/eventfd/signalfd/timerfd/inotify parsers and memory counters."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay  # noqa: E402

from sinsp import FdType  # noqa: E402


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

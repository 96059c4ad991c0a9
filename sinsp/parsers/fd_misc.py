"""Parsers for fds that are not files or sockets: pipes, eventfd, signalfd,
timerfd, inotify, epoll, memfd, userfaultfd, io_uring, bpf, pidfd.

Each creates one typed ``FdInfo`` on success. Names follow sinsp: empty for
anonymous objects, ``memfd:<name>`` for memfd_create.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinsp.parsers._util import as_int, as_str, fd_table, retval
from sinsp.state.fds import FdInfo, FdType

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict


def _simple(ftype: FdType):  # type: ignore[no-untyped-def]
    def parse(evt: Event, insp: Inspector, verdict: Verdict) -> None:
        fd = retval(evt)
        table = fd_table(evt)
        if fd is None or fd < 0 or table is None:
            return
        info = table.add(FdInfo(fd, ftype, ""))
        evt.fdnum = fd
        evt.fd = info

    return parse


def parse_pipe_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    table = fd_table(evt)
    if res is None or res < 0 or table is None:
        return
    ino = as_int(evt.param("ino"))
    for pname in ("fd1", "fd2"):
        fd = evt.param(pname)
        if isinstance(fd, int) and fd >= 0:
            info = FdInfo(fd, FdType.FIFO, "")
            info.ino = ino
            table.add(info)


def parse_memfd_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    info = FdInfo(fd, FdType.MEMFD, "memfd:" + as_str(evt.param("name")))
    info.openflags = as_int(evt.param("flags"))
    table.add(info)
    evt.fdnum = fd
    evt.fd = info


def parse_bpf_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """bpf(): old drivers send a DYN param (index 0 = a new fd, 1 = an errno),
    newer ones the returned fd; only a positive result is a new fd (commands
    that do not create objects return 0)."""
    rec = evt.record
    first = rec.param(0) if int(rec.nparams) >= 1 else None
    if isinstance(first, tuple):
        index, value = first
        fd = value if index == 0 else None
    else:
        fd = first
    table = fd_table(evt)
    if not isinstance(fd, int) or fd <= 0 or table is None:
        return
    info = table.add(FdInfo(fd, FdType.BPF, ""))
    evt.fdnum = fd
    evt.fd = info


HANDLERS = {
    ("pipe", "X"): parse_pipe_exit,
    ("pipe2", "X"): parse_pipe_exit,
    ("eventfd", "X"): _simple(FdType.EVENT),
    ("eventfd2", "X"): _simple(FdType.EVENT),
    ("signalfd", "X"): _simple(FdType.SIGNALFD),
    ("signalfd4", "X"): _simple(FdType.SIGNALFD),
    ("timerfd_create", "X"): _simple(FdType.TIMERFD),
    ("inotify_init", "X"): _simple(FdType.INOTIFY),
    ("inotify_init1", "X"): _simple(FdType.INOTIFY),
    ("epoll_create", "X"): _simple(FdType.EVENTPOLL),
    ("epoll_create1", "X"): _simple(FdType.EVENTPOLL),
    ("userfaultfd", "X"): _simple(FdType.USERFAULTFD),
    ("io_uring_setup", "X"): _simple(FdType.IOURING),
    ("pidfd_open", "X"): _simple(FdType.PIDFD),
    ("pidfd_getfd", "X"): _simple(FdType.PIDFD),
    ("memfd_create", "X"): parse_memfd_exit,
    ("bpf", "X"): parse_bpf_exit,
}

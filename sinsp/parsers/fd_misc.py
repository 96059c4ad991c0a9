"""Parsers for fds that are not files or sockets: pipes, eventfd, signalfd,
timerfd, inotify, epoll, memfd, userfaultfd, io_uring, bpf, pidfd.

Each creates one typed ``FdInfo`` on success. Names follow sinsp: empty for
anonymous objects, ``memfd:<name>`` for memfd_create. Like sysdig 0.29.3 we do
not track userfaultfd fds nor those of the old bpf event layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sinsp.parsers._util import as_int, as_str, fd_table, install_fd, retval
from sinsp.state.fds import FdInfo, FdType

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict


def _simple(ftype: FdType) -> Callable[[Event, Inspector, Verdict], None]:
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
            install_fd(evt, table, info)  # the event refers to the last one, as in sinsp


def parse_memfd_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    info = FdInfo(fd, FdType.MEMFD, "memfd:" + as_str(evt.param("name")))
    info.openflags = as_int(evt.param("flags"))
    install_fd(evt, table, info)


def parse_bpf_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """bpf(): a positive returned fd is a new BPF fd (commands that create no
    object return 0). Only the newer event layout (plain ``fd``) is tracked:
    for the older DYN ``res_or_fd`` layout, the one sysdig 0.29.3 knows, it
    tracks nothing, and neither do we."""
    if not evt.has_param("fd"):
        return
    fd = retval(evt)
    table = fd_table(evt)
    if not isinstance(fd, int) or fd <= 0 or table is None:
        return
    info = table.add(FdInfo(fd, FdType.BPF, ""))
    evt.fdnum = fd
    evt.fd = info


_PIDFD_PREFIX = "/proc/"


def parse_pidfd_open_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """pidfd_open(pid): a pidfd named ``/proc/<pid>``, the name libs gives it (the
    equivalent path pidfd_getfd(2) describes). sysdig 0.29.3 predates the event."""
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    info = FdInfo(fd, FdType.PIDFD, _PIDFD_PREFIX + str(as_int(evt.param("pid"))))
    info.openflags = as_int(evt.param("flags"))
    install_fd(evt, table, info)


def _pidfd_target(info: FdInfo) -> int | None:
    """The pid a pidfd refers to: libs keeps it in the fdinfo (m_pid); we read it back
    from the ``/proc/<pid>`` name pidfd_open gave it. A pidfd found by the /proc scan
    (``anon_inode:[pidfd]``) names no process, so getfd through it stays untracked."""
    name = info.name
    if info.type != FdType.PIDFD or not name.startswith(_PIDFD_PREFIX):
        return None
    digits = name[len(_PIDFD_PREFIX):]
    return int(digits) if digits.isdigit() else None


def parse_pidfd_getfd_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """pidfd_getfd(pidfd, targetfd): the new fd duplicates fd ``targetfd`` of the
    process ``pidfd`` refers to, so it is a copy of that process's entry (libs'
    parse_pidfd_getfd_exit), not a pidfd. Unknown pidfd, process or target fd:
    nothing is added, as in libs."""
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    pidfd = evt.param("pid_fd")
    targetfd = evt.param("target_fd")
    if not isinstance(pidfd, int) or not isinstance(targetfd, int):
        return
    pinfo = table.get(pidfd)
    pid = _pidfd_target(pinfo) if pinfo is not None else None
    if pid is None:
        return
    owner = insp.threads.get(pid)
    otable = owner.fd_table() if owner is not None else None
    target = otable.get(targetfd) if otable is not None else None
    if target is None:
        return
    install_fd(evt, table, target.copy(fd))


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
    # ("userfaultfd", "X") is deliberately absent: sysdig 0.29.3 does not
    # track userfaultfd fds, and its only event version is the one it knows
    ("io_uring_setup", "X"): _simple(FdType.IOURING),
    ("pidfd_open", "X"): parse_pidfd_open_exit,
    ("pidfd_getfd", "X"): parse_pidfd_getfd_exit,
    ("memfd_create", "X"): parse_memfd_exit,
    ("bpf", "X"): parse_bpf_exit,
}

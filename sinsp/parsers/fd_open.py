"""Parsers that open and close file fds: open/openat/openat2/creat, close,
dup/dup2/dup3, fcntl(F_DUPFD*).

``fd.name`` of a file is the absolute, normalized path: relative names resolve
against the dirfd's path (``*at`` calls) or the thread's cwd. Failed calls
(negative return) leave the table unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinsp.event import params_of
from sinsp.parsers._util import as_int, as_str, fd_table, resolve_path, retval
from sinsp.state.fds import FdInfo, FdType

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

PPM_O_DIRECTORY = 1 << 10
PPM_FCNTL_F_DUPFD = 1
PPM_FCNTL_F_DUPFD_CLOEXEC = 26


_OPEN_PARAMS = ("name", "flags", "dirfd", "dev", "ino")


def parse_open_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    name, flags, dirfd, dev, ino = params_of(evt, _OPEN_PARAMS)
    flags = as_int(flags)
    path = resolve_path(evt, as_str(name), dirfd if isinstance(dirfd, int) else None)
    ftype = FdType.DIRECTORY if flags & PPM_O_DIRECTORY else FdType.FILE
    info = FdInfo(fd, ftype, path)
    info.openflags = flags
    info.dev = as_int(dev)
    info.ino = as_int(ino)
    table.add(info)
    evt.fdnum = fd
    evt.fd = info


def parse_creat_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    path = resolve_path(evt, as_str(evt.param("name")))
    info = FdInfo(fd, FdType.FILE, path)
    # creat() is open(O_CREAT|O_WRONLY|O_TRUNC): PPM_O_CREAT|PPM_O_WRONLY|PPM_O_TRUNC
    info.openflags = (1 << 2) | (1 << 1) | (1 << 8)
    info.dev = as_int(evt.param("dev"))
    info.ino = as_int(evt.param("ino"))
    table.add(info)
    evt.fdnum = fd
    evt.fd = info


def parse_close_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    table = fd_table(evt)
    if res is None or res < 0 or table is None or evt.fdnum is None:
        return
    verdict.remove_fd(table, evt.fdnum)


def _dup_to(evt: Event, oldfd: object, newfd: int) -> None:
    table = fd_table(evt)
    if table is None or not isinstance(oldfd, int):
        return
    src = table.get(oldfd)
    if src is None:
        return
    if oldfd == newfd:
        return
    table.remove(newfd)
    evt.fdnum, evt.fd = newfd, table.add(src.copy(newfd))  # the event now names the new fd


def parse_dup_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if res is None or res < 0:
        return
    oldfd = evt.param("oldfd")
    if oldfd is None:
        oldfd = evt.param("fd")
    if oldfd is None:
        oldfd = evt.fdnum
    _dup_to(evt, oldfd, res)


def parse_fcntl_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if res is None or res < 0:
        return
    cmd = evt.param("cmd")
    if cmd in (PPM_FCNTL_F_DUPFD, PPM_FCNTL_F_DUPFD_CLOEXEC):
        _dup_to(evt, evt.fdnum if evt.fdnum is not None else evt.param("fd"), res)


HANDLERS = {
    ("open", "X"): parse_open_exit,
    ("openat", "X"): parse_open_exit,
    ("openat2", "X"): parse_open_exit,
    ("open_by_handle_at", "X"): parse_open_exit,
    ("creat", "X"): parse_creat_exit,
    ("close", "X"): parse_close_exit,
    ("dup", "X"): parse_dup_exit,
    ("dup2", "X"): parse_dup_exit,
    ("dup3", "X"): parse_dup_exit,
    ("fcntl", "X"): parse_fcntl_exit,
}

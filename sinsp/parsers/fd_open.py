"""Parsers that open and close file fds: open/openat/openat2/creat, close,
dup/dup2/dup3, fcntl(F_DUPFD*).

``fd.name`` of a file is the absolute, normalized path: relative names resolve
against the dirfd's path (``*at`` calls) or the thread's cwd. Failed calls
(negative return) leave the table unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sinsp.event import _LAYOUT, _layout, all_params, param_at, params_of
from sinsp.parsers._util import as_int, as_str, fd_table, install_fd, resolve_path, retval
from sinsp.state.fds import FdInfo, FdType
from sinsp.state.threads import CL_CLONE_FILES

if TYPE_CHECKING:
    from scap import EventRecord
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

PPM_O_DIRECTORY = 1 << 10
PPM_FCNTL_F_DUPFD = 1
PPM_FCNTL_F_DUPFD_CLOEXEC = 26


PPM_O_F_CREATED = 1 << 14  # probe flag: the open created the file
_FILE, _DIRECTORY = FdType.FILE, FdType.DIRECTORY


_EXIT_PARAMS = ("flags", "dev", "ino")
_NAME_PARAMS = ("name", "dirfd")
#: enter type -> indexes of its (name, flags, dirfd) params (-1: absent)
_ENTER_IDX: dict[int, tuple[int, int, int]] = {}


def _enter_index(enter: EventRecord) -> tuple[int, int, int]:
    idx = _ENTER_IDX.get(enter.type)
    if idx is None:
        names = [p.name for p in enter.info.params] if enter.info is not None else []
        idx = _ENTER_IDX[enter.type] = tuple(  # type: ignore[assignment]
            names.index(n) if n in names else -1 for n in ("name", "flags", "dirfd"))
    return idx  # type: ignore[return-value]


def _open_args(evt: Event) -> tuple[str, int, int | None, object, object]:
    """(name, flags, dirfd, dev, ino) of an open-family exit, taken as sinsp
    0.29.3's parse_open_openat_creat_exit takes them: the old openat exit (fd
    only) from its enter event; open/openat_2/openat2 from the exit, but from
    the enter (dirfd included) whenever the paired enter carries a name that is
    neither empty nor ``<NA>`` (the exit keeps only its PPM_O_F_CREATED bit)."""
    flags, dev, ino = params_of(evt, _EXIT_PARAMS)
    flags = as_int(flags)
    enter = evt.enter
    if enter is not None:
        i_name, i_flags, i_dirfd = _enter_index(enter)
        n = enter.nparams
        name = param_at(enter, i_name) if 0 <= i_name < n else None
        if name and name != "<NA>":
            eflags = param_at(enter, i_flags) if 0 <= i_flags < n else 0
            dirfd = param_at(enter, i_dirfd) if 0 <= i_dirfd < n else None
            return (as_str(name), as_int(eflags) | (flags & PPM_O_F_CREATED),
                    dirfd if isinstance(dirfd, int) else None, dev, ino)
    name, dirfd = params_of(evt, _NAME_PARAMS)
    return as_str(name), flags, dirfd if isinstance(dirfd, int) else None, dev, ino


_UNPRINTABLE = bytes(c if 0x20 <= c < 0x7F else 0x2E for c in range(256))


def printable_path(path: str) -> str:
    """0.29.3's concatenate_paths keeps an open's path byte by byte, every byte
    that is not printable ASCII (UTF-8 sequences included) turned into ``.``:
    ``fd.name`` of ``/tmp/wörld`` is ``/tmp/w..rld`` (the ``name`` param keeps
    the UTF-8)."""
    if path.isascii() and path.isprintable():
        return path
    return path.encode("utf-8", "surrogateescape").translate(_UNPRINTABLE).decode("ascii")


def _file_fd(fd: int, path: str, flags: int, dev: Any, ino: Any) -> FdInfo:
    """The fd an open-family call made: a directory when opened with O_DIRECTORY (as 0.29.3
    types it), else a file, with its open flags and device/inode."""
    # (as_int inline, module-level enum members: the live hot path calls this per open)
    info = FdInfo(fd, _DIRECTORY if flags & PPM_O_DIRECTORY else _FILE, path)
    info.openflags = flags
    info.dev = dev if isinstance(dev, int) else 0
    info.ino = ino if isinstance(ino, int) else 0
    return info


#: the fd an open-family exit makes, for the live hot path (sinsp.hotpath), which applies
#: open exits no rule can match without an Event
new_file_fd = _file_fd


#: exit type -> indexes of its (flags, dev, ino, name, dirfd) params (-1: absent)
_EXIT_IDX: dict[int, tuple[int, int, int, int, int]] = {}


def _exit_index(rec: EventRecord) -> tuple[int, int, int, int, int]:
    idx = _EXIT_IDX.get(rec.type)
    if idx is None:
        lay = _LAYOUT.get(rec.type) or _layout(rec)
        index = lay.index if lay is not None else {}
        idx = _EXIT_IDX[rec.type] = tuple(  # type: ignore[assignment]
            index.get(n, -1) for n in ("flags", "dev", "ino", "name", "dirfd"))
    return idx  # type: ignore[return-value]


def parse_open_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if evt.enter is None:
        # an exit alone (the live probe's records): every param from one in-place read
        ps = all_params(evt.record)
        if ps:
            evt.decoded = ps
            fd = ps[0]
            ti = evt.thread
            table = ti.fd_table() if ti is not None else None
            if not isinstance(fd, int) or fd < 0 or table is None:
                return
            n = len(ps)
            i_flags, i_dev, i_ino, i_name, i_dirfd = (_EXIT_IDX.get(evt.record.type)
                                                      or _exit_index(evt.record))
            flags = ps[i_flags] if 0 <= i_flags < n else None
            dirfd = ps[i_dirfd] if 0 <= i_dirfd < n else None
            name = ps[i_name] if 0 <= i_name < n else None
            if name.__class__ is not str:
                name = as_str(name)
            path = resolve_path(evt, name, dirfd if isinstance(dirfd, int) else None)
            if not (path.isascii() and path.isprintable()):
                path = printable_path(path)
            # _file_fd and install_fd, inline (this is the live hot path)
            flags = flags if isinstance(flags, int) else 0
            info = FdInfo(fd, _DIRECTORY if flags & PPM_O_DIRECTORY else _FILE, path)
            info.openflags = flags
            dev = ps[i_dev] if 0 <= i_dev < n else None
            ino = ps[i_ino] if 0 <= i_ino < n else None
            info.dev = dev if isinstance(dev, int) else 0
            info.ino = ino if isinstance(ino, int) else 0
            table.add(info)
            evt.fdnum = fd
            evt.fd = info
            return
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    name, flags, dirfd, dev, ino = _open_args(evt)
    path = printable_path(resolve_path(evt, name, dirfd))
    install_fd(evt, table, _file_fd(fd, path, flags, dev, ino))


def parse_open_by_handle_at_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """open_by_handle_at: the kernel's absolute ``path`` and the exit's flags."""
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    flags = as_int(evt.param("flags"))
    path = printable_path(resolve_path(evt, as_str(evt.param("path")) or "/"))
    install_fd(evt, table, _file_fd(fd, path, flags, evt.param("dev"), evt.param("ino")))


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
    install_fd(evt, table, info)


def parse_close_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    # retval() and fd_table() inline: close is half of every open/close storm
    rec = evt.record
    res = param_at(rec, 0) if rec.nparams >= 1 else None
    ti = evt.thread
    table = ti.fd_table() if ti is not None else None
    if not isinstance(res, int) or res < 0 or table is None or evt.fdnum is None:
        return
    verdict.remove_fds.append((table, evt.fdnum))  # verdict.remove_fd


#: close_range(2) flags as the driver passes them (the kernel's values: the
#: current-libs table gives the param no PPM flag names)
CLOSE_RANGE_UNSHARE = 1 << 1
CLOSE_RANGE_CLOEXEC = 1 << 2


def parse_close_range_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """close_range(first, last, flags) (current libs only, exit event alone):
    a successful call closes every tracked fd in ``[first, last]`` (``last``
    is often ~0U, "all"), through the verdict like close(). With
    CLOSE_RANGE_CLOEXEC the fds only get close-on-exec and stay open, as in
    current libs. CLOSE_RANGE_UNSHARE first gives the thread its own table,
    so threads that shared the old one keep their fds."""
    res = retval(evt)
    ti = evt.thread
    if res is None or res < 0 or ti is None:
        return
    flags = as_int(evt.param("flags"))
    if flags & CLOSE_RANGE_CLOEXEC:
        return
    first = as_int(evt.param("first"))
    last = as_int(evt.param("last"), 0xFFFFFFFF)
    if flags & CLOSE_RANGE_UNSHARE:
        table = ti.fd_table()
        if table is not None and table is not ti.fdtable:
            ti.fdtable = table.copy()
            ti.flags &= ~CL_CLONE_FILES
    table = ti.fd_table()
    if table is None:
        return
    for info in list(table):
        if first <= info.fd <= last:
            verdict.remove_fd(table, info.fd)


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
    ("open_by_handle_at", "X"): parse_open_by_handle_at_exit,
    ("creat", "X"): parse_creat_exit,
    ("close", "X"): parse_close_exit,
    ("close_range", "X"): parse_close_range_exit,
    # keyctl (current libs) changes no thread or fd state: no parser
    ("dup", "X"): parse_dup_exit,
    ("dup2", "X"): parse_dup_exit,
    ("dup3", "X"): parse_dup_exit,
    ("fcntl", "X"): parse_fcntl_exit,
}

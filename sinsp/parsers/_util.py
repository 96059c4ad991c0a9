"""Small helpers the parser families share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sinsp.event import param_at
from sinsp.state.threads import join_path

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.state.fds import FdInfo, FdTable

AT_FDCWD = -100


def retval(evt: Event) -> int | None:
    """The exit event's return value (its first parameter, named res/fd)."""
    rec = evt.record
    if rec.nparams < 1:
        return None
    v = param_at(rec, 0)
    return v if isinstance(v, int) else None


def as_int(v: Any, default: int = 0) -> int:
    return v if isinstance(v, int) else default


def as_str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape").rstrip("\0")
    return str(v)


def fd_table(evt: Event) -> FdTable | None:
    return evt.thread.fd_table() if evt.thread is not None else None


def install_fd(evt: Event, table: FdTable, info: FdInfo) -> None:
    """Add ``info`` to the thread's fd table and make it this event's fd, so the event's
    ``fd.*`` fields resolve to what it created."""
    table.add(info)
    evt.fdnum = info.fd
    evt.fd = info


def resolve_path(evt: Event, path: str, dirfd: int | None = None) -> str:
    """An absolute, normalized path for ``path`` as the thread saw it.

    Relative paths resolve against ``dirfd``'s name (``*at`` calls) or, for
    ``AT_FDCWD``/no dirfd, the thread's cwd, like sinsp's parse_dirfd +
    concatenate_paths.
    """
    if path.startswith("/"):
        if "//" not in path and "/." not in path and not path.endswith("/"):
            return path  # already absolute and normal (join_path would rebuild it as is)
        return join_path("/", path)
    ti = evt.thread
    base = ti.get_cwd() if ti is not None else "/"
    if dirfd is not None and dirfd != AT_FDCWD and ti is not None:
        table = ti.fd_table()
        dinfo = table.get(dirfd) if table is not None else None
        if dinfo is None:
            return path
        base = dinfo.name
    return join_path(base, path)

"""Per-process file descriptor table.

An ``FdInfo`` is what sinsp remembers about one open fd: its scap fd type,
the name sysdig prints as ``fd.name`` (an absolute path, ``ip:port->ip:port``,
a unix path ...), and the address parts of sockets. The type codes are libscap's
``scap_fd_type`` values, the same numbers the capture's fd-list block uses, so
an ``FdInfo`` can be seeded from a ``scap.FdEntry`` without a mapping table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# the one scap_fd_type table, shared with the fd-list block (re-exported: parsers use it)
from scap.metadata import FdType as FdType

#: The one-letter type sysdig shows in ``fd.typechar`` and in ``<f>`` prefixes.
TYPE_CHARS: dict[int, str] = {
    FdType.FILE: "f",
    FdType.FILE_V2: "f",
    FdType.DIRECTORY: "d",
    FdType.IPV4_SOCK: "4",
    FdType.IPV4_SERVSOCK: "4",
    FdType.IPV6_SOCK: "6",
    FdType.IPV6_SERVSOCK: "6",
    FdType.FIFO: "p",
    FdType.UNIX_SOCK: "u",
    FdType.EVENT: "e",
    FdType.SIGNALFD: "s",
    FdType.EVENTPOLL: "l",
    FdType.INOTIFY: "i",
    FdType.TIMERFD: "t",
    FdType.NETLINK: "n",
    FdType.BPF: "b",
    FdType.USERFAULTFD: "u",
    FdType.IOURING: "r",
    FdType.MEMFD: "m",
    FdType.PIDFD: "P",
    FdType.UNSUPPORTED: "o",
}

#: ``fd.type`` strings (sinsp_filter_check_fd TYPE_FDTYPE).
TYPE_NAMES: dict[int, str] = {
    FdType.FILE: "file",
    FdType.FILE_V2: "file",
    FdType.DIRECTORY: "directory",
    FdType.IPV4_SOCK: "ipv4",
    FdType.IPV6_SOCK: "ipv6",
    FdType.IPV4_SERVSOCK: "ipv4",
    FdType.IPV6_SERVSOCK: "ipv6",
    FdType.UNIX_SOCK: "unix",
    FdType.FIFO: "pipe",
    FdType.EVENT: "event",
    FdType.SIGNALFD: "signalfd",
    FdType.EVENTPOLL: "eventpoll",
    FdType.INOTIFY: "inotify",
    FdType.TIMERFD: "timerfd",
    FdType.NETLINK: "netlink",
    FdType.BPF: "bpf",
    FdType.USERFAULTFD: "userfaultfd",
    FdType.IOURING: "io_uring",
    FdType.MEMFD: "memfd",
    FdType.PIDFD: "pidfd",
    FdType.UNSUPPORTED: "unknown",
    FdType.UNKNOWN: "unknown",
}

# scap l4 protocol codes (fd-list block and socket tuples).
L4_UNKNOWN = 0
L4_NA = 1
L4_TCP = 2
L4_UDP = 3
L4_ICMP = 4
L4_RAW = 5

#: Single letters used in ``<4t>``-style fd descriptions.
L4_CHARS = {L4_TCP: "t", L4_UDP: "u", L4_ICMP: "i", L4_RAW: "r"}

DEFAULT_MAX_FDS = 65536

# FdInfo.flags bits (ours): the socket's role as sinsp sees it
FLAG_ROLE_CLIENT = 1 << 0
FLAG_ROLE_SERVER = 1 << 1
#: sinsp's set_socket_connected(): a connect that succeeded or is in progress, or an
#: accept. ``fd.connected`` in 0.29.3 is this flag, not "has a destination": connect's
#: enter already records the destination of a socket that may never connect.
FLAG_CONNECTED = 1 << 2


class FdInfo:
    """One open file descriptor."""

    __slots__ = (
        "dev",
        "dip",
        "dport",
        "fd",
        "flags",
        "ino",
        "l4proto",
        "name",
        "openflags",
        "sip",
        "sport",
        "type",
        "unix_dst",
        "unix_src",
    )

    def __init__(self, fd: int, type: int, name: str = "") -> None:
        self.fd = fd
        self.type = type
        self.name = name
        self.openflags = 0
        self.ino = 0
        self.dev = 0
        #: Socket endpoints: client/server sockets fill sip/sport/dip/dport; a
        #: listening socket fills sip/sport only (scap's "server" info).
        self.sip: str | None = None
        self.dip: str | None = None
        self.sport = 0
        self.dport = 0
        self.l4proto = L4_UNKNOWN
        self.unix_src = 0
        self.unix_dst = 0
        self.flags = 0

    def __repr__(self) -> str:
        return f"FdInfo(fd={self.fd}, type={FdType(self.type).name}, name={self.name!r})"

    @property
    def typechar(self) -> str:
        return TYPE_CHARS.get(self.type, "?")

    @property
    def typename(self) -> str:
        return TYPE_NAMES.get(self.type, "unknown")

    def is_socket(self) -> bool:
        return self.type in (
            FdType.IPV4_SOCK,
            FdType.IPV6_SOCK,
            FdType.IPV4_SERVSOCK,
            FdType.IPV6_SERVSOCK,
            FdType.UNIX_SOCK,
        )

    def is_server(self) -> bool:
        return self.type in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK)

    def copy(self, fd: int) -> FdInfo:
        """A duplicate under a new number (dup/dup2/fcntl(F_DUPFD))."""
        new = FdInfo(fd, self.type, self.name)
        for attr in FdInfo.__slots__:
            if attr != "fd":
                setattr(new, attr, getattr(self, attr))
        return new


@dataclass(slots=True)
class FdTableStats:
    added: int = 0
    removed: int = 0
    evicted: int = 0


class FdTable:
    """fd number → FdInfo for one process, bounded by ``max_fds``."""

    __slots__ = ("_fds", "max_fds", "stats")

    def __init__(self, max_fds: int = DEFAULT_MAX_FDS, stats: FdTableStats | None = None) -> None:
        self._fds: dict[int, FdInfo] = {}
        self.max_fds = max_fds
        #: may be shared between tables (the inspector aggregates its counters)
        self.stats = stats if stats is not None else FdTableStats()

    def __len__(self) -> int:
        return len(self._fds)

    def __iter__(self) -> Iterator[FdInfo]:
        return iter(list(self._fds.values()))

    def __contains__(self, fd: int) -> bool:
        return fd in self._fds

    def get(self, fd: int) -> FdInfo | None:
        return self._fds.get(fd)

    def add(self, info: FdInfo) -> FdInfo:
        if info.fd not in self._fds and len(self._fds) >= self.max_fds:
            for fd in self._fds:
                del self._fds[fd]
                self.stats.evicted += 1
                break
        self._fds[info.fd] = info
        self.stats.added += 1
        return info

    def remove(self, fd: int) -> FdInfo | None:
        info = self._fds.pop(fd, None)
        if info is not None:
            self.stats.removed += 1
        return info

    def clear(self) -> None:
        self._fds.clear()

    def copy(self) -> FdTable:
        """A fork's private copy (the child gets the parent's fds)."""
        new = FdTable(self.max_fds, self.stats)
        for fd, info in self._fds.items():
            new._fds[fd] = info.copy(fd)
        return new


def tuple_name(ipv6: bool, sip: str, sport: int, dip: str, dport: int) -> str:
    """``fd.name`` of a connected socket: ``sip:sport->dip:dport``."""
    del ipv6  # same shape for both families in 0.29.3
    return f"{sip}:{sport}->{dip}:{dport}"


def server_name(ipv6: bool, ip: str, port: int) -> str:
    """``fd.name`` of a listening socket from the fd list: ``ip:port``."""
    del ipv6
    return f"{ip}:{port}"

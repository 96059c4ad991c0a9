"""What a capture says about the machine before its first event: the metadata blocks.

These are low-rate values (one per thread, fd, user, interface), so they are frozen slotted
dataclasses.  `scap.platform.procfs.snapshot()` returns the same types for the live system, so
sinsp loads its initial state the same way from a file or from /proc.

Field names follow libscap's structs (`scap_threadinfo`, `scap_fdinfo`, `scap_ifinfo_*`,
`scap_userinfo`, `scap_groupinfo`, `scap_machine_info`); defaults are libs' defaults for a field
an older block version does not carry (-1 for sid/vpgid/vtid/vpid/pgid, 0xFFFFFFFF for loginuid).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "FdEntry",
    "FdType",
    "GroupInfo",
    "InterfaceInfo",
    "MachineInfo",
    "ProcInfo",
    "UserInfo",
]


class FdType(enum.IntEnum):
    """libscap's `scap_fd_type`: the type byte of an FDL entry, and the type sinsp keeps for an
    fd (`sinsp.state.fds.FdInfo.type`), so the two layers share one table.  UNINITIALIZED
    (SCAP_FD_UNINITIALIZED) never appears in a file; sinsp may hold it for an untyped fd."""

    UNINITIALIZED = -1
    UNKNOWN = 0
    FILE = 1
    DIRECTORY = 2
    IPV4_SOCK = 3
    IPV6_SOCK = 4
    IPV4_SERVSOCK = 5
    IPV6_SERVSOCK = 6
    FIFO = 7
    UNIX_SOCK = 8
    EVENT = 9
    UNSUPPORTED = 10
    SIGNALFD = 11
    EVENTPOLL = 12
    INOTIFY = 13
    TIMERFD = 14
    NETLINK = 15
    FILE_V2 = 16
    BPF = 17
    USERFAULTFD = 18
    IOURING = 19
    MEMFD = 20
    PIDFD = 21


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """The MI block.  `boot_ts_epoch` was `reserved1` in libs 0.29.3."""

    num_cpus: int
    memory_size_bytes: int
    max_pid: int
    hostname: str
    boot_ts_epoch: int = 0
    flags: int = 0
    reserved3: int = 0
    reserved4: int = 0


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    """One IL entry.  `type`: 1 IPv4, 2 IPv6, 3/4 the same without link speed.

    Addresses are text (`"127.0.0.1"`, `"::1"`); `linkspeed` is None for types 3/4.
    """

    type: int
    name: str
    addr: str
    netmask: str
    bcast: str
    linkspeed: int | None = 0

    @property
    def is_ipv6(self) -> bool:
        return self.type in (2, 4)


@dataclass(frozen=True, slots=True)
class UserInfo:
    uid: int
    gid: int
    name: str
    homedir: str = ""
    shell: str = ""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    gid: int
    name: str


@dataclass(frozen=True, slots=True)
class FdEntry:
    """One FDL entry (an open fd of a thread when the capture started).

    Which fields mean something depends on `type` (see `FdType`):
    files and most others use `name` (FILE_V2 also `open_flags` and `dev`, None when the
    entry had no room for it); IPv4/IPv6 sockets use `sip, sport, dip, dport, l4proto`
    (addresses as text); server sockets use `sip, sport, l4proto` for their ip and port;
    unix sockets use `source`, `dest` (kernel pointers) and `name` (the path).
    """

    fd: int
    ino: int
    type: int
    name: str = ""
    open_flags: int = 0
    dev: int | None = None
    sip: str = ""
    sport: int = 0
    dip: str = ""
    dport: int = 0
    l4proto: int = 0
    source: int = 0
    dest: int = 0


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One PL entry: a thread alive when the capture started, with its fds (from FDL blocks).

    `args` are the arguments after argv[0]; `env` and `cgroups` ("subsys=path") are lists.
    Strings are utf-8 decoded with `surrogateescape`, so encoding them back gives the bytes.
    """

    tid: int
    pid: int
    ptid: int
    comm: str
    exe: str
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0
    gid: int = 0
    sid: int = -1
    vpgid: int = -1
    exepath: str = ""
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0
    env: list[str] = field(default_factory=list)
    vtid: int = -1
    vpid: int = -1
    cgroups: list[str] = field(default_factory=list)
    root: str = ""
    loginuid: int = 0xFFFFFFFF
    exe_writable: bool = False
    tty: int = 0
    pidns_init_start_ts: int = 0
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    exe_upper_layer: bool = False
    exe_lower_layer: bool = False
    exe_from_memfd: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    pgid: int = -1
    fds: list[FdEntry] = field(default_factory=list)

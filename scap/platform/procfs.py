"""The live system's initial state from /proc: what a capture file's metadata blocks hold.

`snapshot()` returns a `Snapshot` whose fields have the types `scap.open()` gives for a file
(`machine`, `processes` with their `fds`, `interfaces`, `users`, `groups`), so sinsp loads its
initial state the same way live and from a file, and `scap.Writer.write_header(**vars)` can
record it.  Threads and processes that vanish while we read are skipped, never an error.

Socket fds get their tuples from /proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix} (the network
namespace of this process), interfaces come from pyroute2 (rtnetlink).
"""
from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scap.metadata import (
    FdEntry,
    FdType,
    GroupInfo,
    InterfaceInfo,
    MachineInfo,
    ProcInfo,
    UserInfo,
)

__all__ = ["Snapshot", "interfaces", "machine_info", "processes", "snapshot", "users_groups"]

_PROC = "/proc"


@dataclass(frozen=True, slots=True)
class Snapshot:
    machine: MachineInfo
    processes: list[ProcInfo] = field(default_factory=list)
    interfaces: list[InterfaceInfo] = field(default_factory=list)
    users: list[UserInfo] = field(default_factory=list)
    groups: list[GroupInfo] = field(default_factory=list)


def snapshot(proc: str = _PROC, with_fds: bool = True) -> Snapshot:
    """Machine, threads (with fds on each process's main thread), interfaces, users, groups."""
    users, groups = users_groups()
    return Snapshot(machine=machine_info(proc), processes=list(processes(proc, with_fds)),
                    interfaces=interfaces(), users=users, groups=groups)


# -- machine ------------------------------------------------------------------------------------
def machine_info(proc: str = _PROC) -> MachineInfo:
    mem = 0
    try:
        with open(f"{proc}/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        max_pid = int(_read(f"{proc}/sys/kernel/pid_max") or 0)
    except ValueError:
        max_pid = 0
    boot = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return MachineInfo(num_cpus=os.cpu_count() or 1, memory_size_bytes=mem, max_pid=max_pid,
                       hostname=socket.gethostname(), boot_ts_epoch=boot)


# -- users and groups ---------------------------------------------------------------------------
def users_groups() -> tuple[list[UserInfo], list[GroupInfo]]:
    users = [UserInfo(p.pw_uid, p.pw_gid, p.pw_name, p.pw_dir, p.pw_shell) for p in pwd.getpwall()]
    groups = [GroupInfo(g.gr_gid, g.gr_name) for g in grp.getgrall()]
    return users, groups


# -- interfaces ---------------------------------------------------------------------------------
def interfaces() -> list[InterfaceInfo]:
    """IPv4 (type 1) and IPv6 (type 2) addresses of every link, via rtnetlink."""
    from pyroute2 import IPRoute

    out: list[InterfaceInfo] = []
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for a in ipr.get_addr():
            name = a.get_attr("IFA_LABEL") or names.get(a["index"], "")
            addr = a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")
            if not addr:
                continue
            fam = a["family"]
            plen = a["prefixlen"]
            if fam == socket.AF_INET:
                net = ipaddress.IPv4Network(f"{addr}/{plen}", strict=False)
                bcast = a.get_attr("IFA_BROADCAST") or "0.0.0.0"  # libscap: 0 when none
                out.append(InterfaceInfo(1, name, addr, str(net.netmask), bcast, 0))
            elif fam == socket.AF_INET6:
                net6 = ipaddress.IPv6Network(f"{addr}/{plen}", strict=False)
                out.append(InterfaceInfo(2, name, addr, str(net6.netmask), "::", 0))
    return out


# -- processes ----------------------------------------------------------------------------------
def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return None


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _status(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def _kb(v: str | None) -> int:
    return int(v.split()[0]) if v else 0


def _last(v: str | None, default: int) -> int:
    return int(v.split()[-1]) if v else default


def _cgroups(text: str | None) -> list[str]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _hier, ctls, path = parts
        if not ctls:
            continue  # the cgroup v2 line: its controllers are not named here
        for ctl in ctls.split(","):
            out.append(f"{ctl.removeprefix('name=')}={path}")
    return out


def _fdlimit(pid: str, proc: str) -> int:
    for line in (_read(f"{proc}/{pid}/limits") or "").splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return -1 if soft == "unlimited" else int(soft)
    return 0


#: libscap reads at most this much of /proc/PID/cmdline and environ (SCAP_MAX_ARGS_SIZE,
#: SCAP_MAX_ENV_SIZE); sysdig 0.29.3 refuses a PL entry with more ("invalid argslen").
MAX_ARGS_SIZE = 4096
MAX_ENV_SIZE = 4096


def _capped(items: list[str], limit: int) -> list[str]:
    """The leading items whose NUL-terminated bytes fit in `limit`."""
    out, used = [], 0
    for it in items:
        n = len(it.encode("utf-8", "surrogateescape")) + 1
        if used + n > limit:
            break
        out.append(it)
        used += n
    return out


def processes(proc: str = _PROC, with_fds: bool = True) -> Iterator[ProcInfo]:
    socks = _sockets(proc) if with_fds else {}
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir(f"{proc}/{pid}/task")
        except OSError:
            continue
        cmdline = _read(f"{proc}/{pid}/cmdline")
        if cmdline is None:
            continue
        argv = cmdline.split("\0")
        if argv and argv[-1] == "":
            argv.pop()
        env = _capped([e for e in (_read(f"{proc}/{pid}/environ") or "").split("\0") if e],
                      MAX_ENV_SIZE)
        exepath = _readlink(f"{proc}/{pid}/exe")
        common = {
            "exe": argv[0] if argv else "",
            "args": _capped(argv[1:], MAX_ARGS_SIZE - len((argv[0] if argv else "").encode()) - 1),
            "env": env,
            "exepath": exepath,
            "cwd": _readlink(f"{proc}/{pid}/cwd"),
            "root": _readlink(f"{proc}/{pid}/root"),
            "fdlimit": _fdlimit(pid, proc),
            "cgroups": _cgroups(_read(f"{proc}/{pid}/cgroup")),
        }
        try:
            st = os.stat(f"{proc}/{pid}/exe")
            common.update(exe_ino=st.st_ino, exe_ino_ctime=st.st_ctime_ns,
                          exe_ino_mtime=st.st_mtime_ns)
        except OSError:
            pass
        fds = list(_fds(pid, proc, socks)) if with_fds else []
        for tid in sorted(tids, key=int):
            info = _thread(pid, tid, proc, common, fds if tid == pid else [])
            if info is not None:
                yield info


def _thread(pid: str, tid: str, proc: str, common: dict[str, Any],
            fds: list[FdEntry]) -> ProcInfo | None:
    base = f"{proc}/{pid}/task/{tid}"
    stat = _read(f"{base}/stat")
    status = _read(f"{base}/status")
    if stat is None or status is None:
        return None
    rpar = stat.rfind(")")
    comm = stat[stat.find("(") + 1:rpar]
    f = stat[rpar + 2:].split()
    # f[0] state, f[1] ppid, f[2] pgrp, f[3] session, f[4] tty_nr, f[7] minflt, f[9] majflt
    s = _status(status)
    uids = s.get("Uid", "0 0").split()
    gids = s.get("Gid", "0 0").split()
    loginuid = _read(f"{proc}/{pid}/loginuid")
    return ProcInfo(
        tid=int(tid), pid=int(pid), ptid=int(f[1]), comm=comm,
        uid=int(uids[1]), gid=int(gids[1]), sid=int(f[3]), pgid=int(f[2]),
        vpgid=_last(s.get("NSpgid"), int(f[2])), vtid=_last(s.get("NSpid"), int(tid)),
        vpid=_last(s.get("NStgid"), int(pid)), tty=int(f[4]),
        pfminor=int(f[7]), pfmajor=int(f[9]),
        vmsize_kb=_kb(s.get("VmSize")), vmrss_kb=_kb(s.get("VmRSS")),
        vmswap_kb=_kb(s.get("VmSwap")),
        loginuid=int(loginuid) if loginuid and loginuid.strip().isdigit() else 0xFFFFFFFF,
        cap_inheritable=int(s.get("CapInh", "0"), 16), cap_permitted=int(s.get("CapPrm", "0"), 16),
        cap_effective=int(s.get("CapEff", "0"), 16), fds=fds, **common,
    )


# -- fds ----------------------------------------------------------------------------------------
def _open_flags(f: int) -> int:
    """open(2) flags to PPM_O_* (the same conversion the probe does)."""
    acc = f & 3
    r = {0: 1, 1: 2, 2: 3}.get(acc, 0)
    for bit, ppm in ((0o100, 2), (0o2000, 3), (0o10000, 4), (0o200, 5), (0o4000, 6),
                     (0o4000000, 7), (0o1000, 8), (0o40000, 9), (0o200000, 10),
                     (0o100000, 11), (0o2000000, 12)):
        if f & bit:
            r |= 1 << ppm
    return r


_ANON = {
    "[eventfd]": FdType.EVENT, "[eventpoll]": FdType.EVENTPOLL, "inotify": FdType.INOTIFY,
    "[signalfd]": FdType.SIGNALFD, "[timerfd]": FdType.TIMERFD, "[pidfd]": FdType.PIDFD,
    "[userfaultfd]": FdType.USERFAULTFD, "[io_uring]": FdType.IOURING,
    "bpf-map": FdType.BPF, "bpf-prog": FdType.BPF, "bpf_link": FdType.BPF,
}


def _fds(pid: str, proc: str, socks: dict[int, FdEntry]) -> Iterator[FdEntry]:
    d = f"{proc}/{pid}/fd"
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        fd = int(n)
        target = _readlink(f"{d}/{n}")
        if not target:
            continue
        flags = 0
        for line in (_read(f"{proc}/{pid}/fdinfo/{n}") or "").splitlines():
            if line.startswith("flags:"):
                flags = int(line.split()[1], 8)
                break
        if target.startswith("socket:["):
            ino = int(target[8:-1])
            e = socks.get(ino)
            if e is not None:
                yield FdEntry(fd=fd, ino=ino, type=e.type, name=e.name, sip=e.sip, sport=e.sport,
                              dip=e.dip, dport=e.dport, l4proto=e.l4proto, source=e.source,
                              dest=e.dest)
            else:
                yield FdEntry(fd=fd, ino=ino, type=FdType.UNSUPPORTED, name=target)
            continue
        if target.startswith("pipe:["):
            yield FdEntry(fd=fd, ino=int(target[6:-1]), type=FdType.FIFO, name=target)
            continue
        if target.startswith("anon_inode:"):
            kind = target[11:]
            yield FdEntry(fd=fd, ino=0, type=_ANON.get(kind, FdType.UNKNOWN), name=target)
            continue
        if target.startswith("/memfd:"):
            yield FdEntry(fd=fd, ino=0, type=FdType.MEMFD, name=target)
            continue
        try:
            st = os.stat(f"{d}/{n}")
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o040000:
            yield FdEntry(fd=fd, ino=st.st_ino, type=FdType.DIRECTORY, name=target)
        else:
            yield FdEntry(fd=fd, ino=st.st_ino, type=FdType.FILE_V2, name=target,
                          open_flags=_open_flags(flags), dev=st.st_dev & 0xFFFFFFFF)


def _hex_ip(h: str) -> str:
    raw = bytes.fromhex(h)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def _sockets(proc: str) -> dict[int, FdEntry]:
    """inode -> FdEntry template (fd 0) from /proc/net tables."""
    out: dict[int, FdEntry] = {}
    for name, proto in (("tcp", 6), ("tcp6", 6), ("udp", 17), ("udp6", 17), ("raw", 255),
                        ("raw6", 255)):
        text = _read(f"{proc}/net/{name}")
        v6 = name.endswith("6")
        for line in (text or "").splitlines()[1:]:
            p = line.split()
            if len(p) < 10:
                continue
            lip, lport = p[1].split(":")
            rip, rport = p[2].split(":")
            ino = int(p[9])
            if ino == 0:
                continue
            listening = proto == 6 and p[3] == "0A"
            unconnected = proto != 6 and int(rport, 16) == 0
            if listening or unconnected:
                t = FdType.IPV6_SERVSOCK if v6 else FdType.IPV4_SERVSOCK
                out[ino] = FdEntry(fd=0, ino=ino, type=t, sip=_hex_ip(lip), sport=int(lport, 16),
                                   l4proto=proto)
            else:
                t = FdType.IPV6_SOCK if v6 else FdType.IPV4_SOCK
                out[ino] = FdEntry(fd=0, ino=ino, type=t, sip=_hex_ip(lip), sport=int(lport, 16),
                                   dip=_hex_ip(rip), dport=int(rport, 16), l4proto=proto)
    text = _read(f"{proc}/net/unix")
    for line in (text or "").splitlines()[1:]:
        p = line.split()
        if len(p) < 7:
            continue
        ino = int(p[6])
        path = p[7] if len(p) > 7 else ""
        out[ino] = FdEntry(fd=0, ino=ino, type=FdType.UNIX_SOCK, name=path.lstrip("@"),
                           source=int(p[0].rstrip(":"), 16))
    return out

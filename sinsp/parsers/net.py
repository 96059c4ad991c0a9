"""Socket parsers: socket, socketpair, bind, listen, connect, accept/accept4,
and the tuples carried by sendto/recvfrom/sendmsg/recvmsg.

Connected inet sockets are named ``sip:sport->dip:dport``; a bound inet
socket becomes a server socket (``fd.is_server``) named by its address; unix
sockets are named by their path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sinsp.parsers._util import as_int, fd_table, install_fd, retval
from sinsp.state.fds import (
    FLAG_CONNECTED,
    FLAG_ROLE_CLIENT,
    FLAG_ROLE_SERVER,
    L4_ICMP,
    L4_RAW,
    L4_TCP,
    L4_UDP,
    L4_UNKNOWN,
    FdInfo,
    FdType,
    tuple_name,
)

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
AF_NETLINK = 16

SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3

IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_RAW = 255

EINPROGRESS = 115


def l4proto_for(stype: int, proto: int) -> int:
    """The scap l4 protocol of socket(domain, type, protocol) (sinsp rules)."""
    stype &= 0xF
    raw = stype == SOCK_RAW
    if proto == IPPROTO_TCP:
        return L4_RAW if raw else L4_TCP
    if proto == IPPROTO_UDP:
        return L4_RAW if raw else L4_UDP
    if proto == IPPROTO_IP:
        return {SOCK_STREAM: L4_TCP, SOCK_DGRAM: L4_UDP, SOCK_RAW: L4_RAW}.get(stype, L4_UNKNOWN)
    if proto == IPPROTO_ICMP:
        return L4_RAW if raw else L4_ICMP
    if proto == IPPROTO_RAW:
        return L4_RAW
    return L4_UNKNOWN


def parse_socket_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    domain = as_int(evt.param("domain"))
    stype = as_int(evt.param("type"))
    proto = as_int(evt.param("proto"))
    if domain == AF_UNIX:
        info = FdInfo(fd, FdType.UNIX_SOCK, "")
    elif domain in (AF_INET, AF_INET6):
        info = FdInfo(fd, FdType.IPV4_SOCK if domain == AF_INET else FdType.IPV6_SOCK, "")
        info.l4proto = l4proto_for(stype, proto)
    elif domain == AF_NETLINK:
        info = FdInfo(fd, FdType.NETLINK, "")
    else:
        info = FdInfo(fd, FdType.UNKNOWN, "")
    install_fd(evt, table, info)


def parse_socketpair_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    table = fd_table(evt)
    if res is None or res < 0 or table is None:
        return
    src = as_int(evt.param("source"))
    dst = as_int(evt.param("peer"))
    for pname in ("fd1", "fd2"):
        fd = evt.param(pname)
        if isinstance(fd, int) and fd >= 0:
            info = FdInfo(fd, FdType.UNIX_SOCK, "")
            info.unix_src, info.unix_dst = src, dst
            install_fd(evt, table, info)  # the event refers to the last one, as in sinsp


def _family(t: Any) -> int:
    return as_int(getattr(t, "family", None), -1)


def _as_ptr(v: Any) -> int:
    if isinstance(v, int):
        return v
    try:
        return int(str(v), 0)
    except ValueError:
        return 0


def apply_tuple(info: FdInfo, tup: Any) -> bool:
    """Fill ``info`` from a decoded socket tuple; False if it has no address."""
    fam = _family(tup)
    if fam in (AF_INET, AF_INET6):
        info.sip, info.sport = str(tup.sip), int(tup.sport)
        info.dip, info.dport = str(tup.dip), int(tup.dport)
        if info.type in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK, FdType.UNKNOWN):
            info.type = FdType.IPV4_SOCK if fam == AF_INET else FdType.IPV6_SOCK
        elif fam == AF_INET and info.type == FdType.IPV6_SOCK:
            info.type = FdType.IPV4_SOCK
        info.name = tuple_name(fam == AF_INET6, info.sip, info.sport, info.dip, info.dport)
        return True
    if fam == AF_UNIX:
        # scap.SockTuple carries the two kernel socket pointers in sip/dip
        info.type = FdType.UNIX_SOCK
        info.unix_src = _as_ptr(getattr(tup, "sip", 0))
        info.unix_dst = _as_ptr(getattr(tup, "dip", 0))
        path = str(getattr(tup, "path", "") or "")
        info.name = f"{info.unix_src:x}->{info.unix_dst:x} {path}"
        return True
    return False


def parse_connect_enter(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """A unix socket is named after the path it connects to already at enter;
    an IPv6 socket connecting to a v4-mapped address becomes an IPv4 one. The
    inet destination sinsp also records here is applied at the exit instead,
    and only when the exit carries no tuple (see ``_apply_connect_addr``)."""
    info = evt.fd
    addr = evt.param("addr")
    if info is None:
        return
    fam = _family(addr)
    if info.type == FdType.UNIX_SOCK and fam == AF_UNIX:
        info.name = str(addr.addr)
    elif fam == AF_INET6 and str(addr.addr).startswith("::ffff:") and "." in str(addr.addr):
        info.type = FdType.IPV4_SOCK


def _apply_connect_addr(info: FdInfo, addr: Any) -> None:
    """sinsp parse_connect_enter's inet part: the destination of the enter
    event's address, no role, no new name. sinsp writes it at enter, we when
    the exit has no tuple to override it (old captures, TCP fastopen's NULL
    tuple): the state after the exit is the same, and between enter and exit
    an fd with a destination but no role would read as connected to the fd
    fields, which 0.29.3 tracks with a separate flag."""
    fam = _family(addr)
    if fam == AF_INET:
        info.type = FdType.IPV4_SOCK
        info.dip, info.dport = str(addr.addr), int(addr.port)
    elif fam == AF_INET6:
        ip = str(addr.addr)
        if ip.startswith("::ffff:") and "." in ip:
            info.type, info.dip = FdType.IPV4_SOCK, ip[len("::ffff:"):]
        else:
            info.type, info.dip = FdType.IPV6_SOCK, ip
        info.dport = int(addr.port)


def _raw_family(evt: Event, name: str) -> int | None:
    """The family byte of a socket param as written (scap.params already turns
    v4-mapped IPv6 tuples into IPv4 ones; sinsp 0.29.3 does not always)."""
    rec = evt.record
    info = rec.info
    if info is None:
        return None
    for i, p in enumerate(info.params[: int(rec.nparams)]):
        if p.name == name:
            raw = rec.rawparam(i)
            return raw[0] if raw else None
    return None


def parse_connect_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    info = evt.fd
    if res is None or info is None:
        return
    if res < 0 and res != -EINPROGRESS:
        return
    info.flags |= FLAG_CONNECTED
    tup = evt.param("tuple")
    if tup is None:
        # no tuple (TCP fastopen's NULL one, old captures): sinsp leaves the fd as
        # connect enter left it, with the enter's destination and no role
        addr = evt.param("addr")  # the enter's, or current libs' exit-only copy
        if addr is not None:
            _apply_connect_addr(info, addr)
        return
    apply_tuple(info, tup)
    if _family(tup) == AF_INET and _raw_family(evt, "tuple") == AF_INET6:
        # measured: 0.29.3 names a v4-mapped IPv6 connection "<unknown>"
        info.name = "<unknown>"
    if not info.flags & (FLAG_ROLE_CLIENT | FLAG_ROLE_SERVER):
        info.flags |= FLAG_ROLE_CLIENT  # sinsp keeps a role once given


def parse_accept_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """sinsp parse_accept_exit: an accepted inet socket is TCP (accept only
    exists for connection sockets), a server, and named by its tuple; an
    accept without a tuple, or of a family sinsp does not know, adds no fd."""
    fd = retval(evt)
    table = fd_table(evt)
    if fd is None or fd < 0 or table is None:
        return
    tup = evt.param("tuple")
    if tup is None:
        return
    info = FdInfo(fd, FdType.UNKNOWN, "")
    if not apply_tuple(info, tup):
        return
    if info.type in (FdType.IPV4_SOCK, FdType.IPV6_SOCK):
        info.l4proto = L4_TCP
    info.flags = FLAG_ROLE_SERVER | FLAG_CONNECTED
    install_fd(evt, table, info)


def parse_bind_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """sinsp parse_bind_exit: binding an inet socket to a port > 0 makes it a
    listening (server) socket with the server role; any bound socket is named
    by its address (port 0 included)."""
    res = retval(evt)
    info = evt.fd
    if res is None or res < 0 or info is None:
        return
    addr = evt.param("addr")
    fam = _family(addr)
    if fam in (AF_INET, AF_INET6):
        ip, port = str(addr.addr), int(addr.port)
        if port > 0:
            if fam == AF_INET or (ip.startswith("::ffff:") and "." in ip):
                info.type = FdType.IPV4_SERVSOCK
                ip = ip.removeprefix("::ffff:")
            else:
                info.type = FdType.IPV6_SERVSOCK
            info.sip, info.sport = ip, port
            info.flags |= FLAG_ROLE_SERVER
        info.name = f"{addr.addr}:{addr.port}"
    elif fam == AF_UNIX:
        info.name = str(addr.addr)


def _same_endpoints(info: FdInfo, ts: tuple[str, int], td: tuple[str, int]) -> bool:
    mine_s, mine_d = (info.sip, info.sport), (info.dip, info.dport)
    return (ts, td) == (mine_s, mine_d) or (td, ts) == (mine_s, mine_d)


def _takes_tuples(info: FdInfo | None) -> bool:
    """Whether a datagram call's tuple can change this fd (checked before the tuple is
    decoded: most traffic is on named TCP sockets, which keep their name)."""
    return info is not None and not (
        info.name and info.l4proto == L4_TCP and info.type == FdType.IPV4_SOCK)


def _update_from_datagram(evt: Event, tup: Any, incoming: bool) -> None:
    """sendto/recvfrom/sendmsg/recvmsg tuples, as sysdig 0.29.3 applies them.

    An unnamed socket takes the whole tuple and a role (server if its first
    traffic is incoming, client otherwise). A named non-TCP socket only takes
    the tuple's source as its new local end (measured on 0.29.3; a tuple equal
    to the current endpoints, in either order, changes nothing). Then the ends
    are swapped for a client receiving or a server sending, so that the name
    always reads client->server. Named TCP sockets are left alone.
    """
    info = evt.fd
    if info is None or tup is None:
        return
    if info.name and info.l4proto == L4_TCP and info.type == FdType.IPV4_SOCK:
        return
    fam = _family(tup)
    if fam == AF_UNIX:
        apply_tuple(info, tup)
        return
    if fam not in (AF_INET, AF_INET6):
        return
    ts, td = (str(tup.sip), int(tup.sport)), (str(tup.dip), int(tup.dport))
    ftype = FdType.IPV4_SOCK if fam == AF_INET else FdType.IPV6_SOCK
    had_tuple = info.type == ftype and info.sip is not None
    info.type = ftype
    if had_tuple and _same_endpoints(info, ts, td):
        return
    if had_tuple:
        info.sip, info.sport = ts
    else:
        (info.sip, info.sport), (info.dip, info.dport) = ts, td
    if not info.flags & (FLAG_ROLE_CLIENT | FLAG_ROLE_SERVER):
        info.flags |= FLAG_ROLE_SERVER if incoming else FLAG_ROLE_CLIENT
    client = bool(info.flags & FLAG_ROLE_CLIENT)
    if client == incoming:  # a client receiving, or a server sending
        info.sip, info.dip = info.dip, info.sip
        info.sport, info.dport = info.dport, info.sport
    info.name = tuple_name(fam == AF_INET6, info.sip or "", info.sport, info.dip or "",
                           info.dport)


_INET_SOCKS = (FdType.IPV4_SOCK, FdType.IPV6_SOCK)


def parse_rw_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """sinsp parse_rw_exit's first step: any successful read/write-class exit on an IPv4
    or IPv6 socket marks it connected (a UDP socket included). Only the fd type and the
    return value are looked at, so the common case (a file) costs one test."""
    info = evt.fd
    if info is not None and info.type in _INET_SOCKS:
        res = retval(evt)
        if res is not None and res >= 0:
            info.flags |= FLAG_CONNECTED


def parse_recv_tuple(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if res is None or res < 0:
        return
    info = evt.fd
    if info is not None and info.type in _INET_SOCKS:
        info.flags |= FLAG_CONNECTED  # before the tuple, on the type it had (sinsp order)
    if info is not None and _takes_tuples(info):
        before = info.name
        _update_from_datagram(evt, evt.record_param("tuple"), incoming=True)
        if info.name != before:  # 0.29.3: fd.name_changed on the event that renamed it
            evt.name_changed = True


def parse_send_tuple(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if res is None or res < 0:
        return
    info = evt.fd
    if info is not None and info.type in _INET_SOCKS:
        info.flags |= FLAG_CONNECTED
    if info is not None and _takes_tuples(info):
        before = info.name
        _update_from_datagram(evt, evt.enter_param("tuple"), incoming=False)
        if info.name != before:  # 0.29.3: fd.name_changed on the event that renamed it
            evt.name_changed = True


HANDLERS = {
    ("socket", "X"): parse_socket_exit,
    ("socketpair", "X"): parse_socketpair_exit,
    ("bind", "X"): parse_bind_exit,
    ("connect", "E"): parse_connect_enter,
    ("connect", "X"): parse_connect_exit,
    ("accept", "X"): parse_accept_exit,
    ("accept4", "X"): parse_accept_exit,
    ("sendto", "X"): parse_send_tuple,
    ("recvfrom", "X"): parse_recv_tuple,
    ("sendmsg", "X"): parse_send_tuple,
    ("recvmsg", "X"): parse_recv_tuple,
    **{(name, "X"): parse_rw_exit for name in (
        "read", "write", "recv", "send", "readv", "writev", "pread", "pwrite", "preadv",
        "pwritev")},
}

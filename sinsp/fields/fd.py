"""``fd.*`` and ``fdlist.*`` fields: the file descriptor an event uses, and poll's fd lists.

Semantics of libsinsp 0.29.3's ``sinsp_filter_check_fd`` / ``sinsp_filter_check_fdlist``:

* fd fields exist only for events whose table flags say they create, use or destroy an fd;
  other events give N/A for all of them.
* When the fd is unknown (a failed open, an enter event), ``fd.name`` and friends fall back
  to the path the creating syscall names (``extract_from_null_fd``), and ``fd.typechar``
  guesses from the syscall (``f`` for opens, ``4`` for sockets ...).
* "client" and "server" ends of a socket are its ``sip``/``dip``; "local" and "remote" are
  decided by whether ``sip`` belongs to one of the capture's network interfaces.

``fd.dev*`` print the device of file fds (``FILE_V2`` entries/opens); sysdig 0.29.3 prints
uninitialised memory there, so the differential tests leave them out.
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Callable
from typing import Any

from scap.schema import EF
from sinsp import format as fmt
from sinsp.fields.registry import REGISTRIES, FieldClassBuilder, FieldFlag, FieldType
from sinsp.state.fds import FLAG_CONNECTED

__all__ = ["FDLIST_CLASS", "FD_CLASS", "event_fd"]

fdc = FieldClassBuilder(
    "fd",
    "Every syscall that has a file descriptor in its arguments has these fields set with "
    "information related to the file.",
)

_FD_EVENT = EF.CREATES_FD | EF.USES_FD | EF.DESTROYS_FD
IPV4_SOCK, IPV6_SOCK, IPV4_SERVSOCK, IPV6_SERVSOCK, UNIX_SOCK = 3, 4, 5, 6, 8
FILE, DIRECTORY, FILE_V2 = 1, 2, 16
_CONN = (IPV4_SOCK, IPV6_SOCK)
_L4_NAMES = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}


class _NoFd:
    """Marker: the event is not an fd event (every fd.* field is N/A)."""


NO_FD = _NoFd()


def _fd_event_types() -> frozenset[int]:
    """The event types whose (0.29.3, else current) table flags create, use or destroy an fd:
    decided once here, so the per-event test is a set lookup, not IntFlag arithmetic."""
    fd_flags = int(_FD_EVENT)
    types = set()
    etype = 0
    while (info := fmt.display_info(etype)) is not None:
        if int(info.flags) & fd_flags:
            types.add(etype)
        etype += 1
    return frozenset(types)


_FD_EVENT_TYPES = _fd_event_types()


def event_fd(evt: Any) -> Any:
    """``(thread, fdinfo-or-None, fdnum)`` for fd events, else ``NO_FD``."""
    if evt.record.type not in _FD_EVENT_TYPES:
        return NO_FD
    thread = evt.thread
    if thread is None:
        return NO_FD
    fdi = evt.fd
    num = evt.fdnum
    if fdi is None and num is not None and num != -1:
        fdi = fmt.thread_fd(thread, num)
    if num is None:
        num = fdi.fd if fdi is not None else -1
    return thread, fdi, num


def _creator_name(evt: Any) -> str | None:
    """The name a (maybe failed) fd-creating exit event carries (extract_fdname_from_creator)."""
    rec = evt.record
    etype = rec.type
    if not etype & 1:
        return None
    name = fmt.display_info(etype).name
    if etype in (3, 27, 247, 57, 249, 59, 23) and rec.nparams > 1:
        # open, accept(_5), accept4(_5), creat, connect: param 1 (resolved if possible)
        value, resolved = fmt.param_str(evt, 1)
        return resolved or value
    if name == "openat" and etype in (103, 307):
        if etype == 103:
            enter = getattr(evt, "enter", None)
            if enter is None or enter.nparams < 2:
                return None
            path = fmt._cstr(enter.rawparam(1))
            dirfd = int.from_bytes(enter.rawparam(0)[:8], "little", signed=True)
        else:
            if rec.nparams < 3:
                return None
            path = fmt._cstr(rec.rawparam(2))
            dirfd = int.from_bytes(rec.rawparam(1)[:8], "little", signed=True)
        return fmt.sanitize(_openat_path(evt, path, dirfd))
    return ""


def _openat_path(evt: Any, path: str, dirfd: int) -> str:
    thread = evt.thread
    if path.startswith("/"):
        sdir = ""
    elif dirfd == fmt.PPM_AT_FDCWD:
        sdir = fmt.cwd_of(thread)
    else:
        fdi = fmt.thread_fd(thread, dirfd)
        if fdi is None:
            sdir = "<UNKNOWN>/"
        else:
            sdir = fdi.name if fdi.name.endswith("/") else fdi.name + "/"
    joined, _ = fmt.concatenate_paths(sdir, path)
    return joined


_TYPECHAR_GUESS = {
    "open": "f", "openat": "f", "creat": "f", "socket": "4", "accept": "4", "pipe": "p",
    "eventfd": "e", "signalfd": "s", "timerfd_create": "t", "inotify_init": "i",
}  # fmt: skip


def _cid(thread: Any) -> str:
    """The thread's raw container id as sinsp keeps it: empty on the host."""
    cid = thread.container_id or ""
    return "" if cid == "host" else cid


def _null_fd_field(evt: Any, thread: Any, what: str) -> Any:
    """extract_from_null_fd: fields that still say something without an fd."""
    rec = evt.record
    if what == "typechar":
        name = fmt.display_info(rec.type & ~1).name
        return _TYPECHAR_GUESS.get(name, "o")
    if what == "filename" and rec.type not in (2, 102, 306, 58):
        return None
    name = _creator_name(evt)
    if name is None:
        return None
    if what == "name":
        return name
    if what == "containername":
        return f"{_cid(thread)}:{name}"
    if what in ("directory", "containerdirectory"):
        pos = name.rfind("/")
        d = "/" if pos <= 0 else (name[:pos] if pos < len(name) - 1 else name)
        return d if what == "directory" else f"{_cid(thread)}:{d}"
    if what == "filename":
        pos = name.rfind("/")
        return name[pos + 1 :] if 0 <= pos < len(name) - 1 else name
    return None


#: an fd field's function: (event, thread, fd info or None, fd number) -> value
_FdFn = Callable[[Any, Any, Any, int], Any]


def _fd_field(name: str, ftype: FieldType, desc: str, flags: FieldFlag = FieldFlag.NONE,
              renderer: Any = None) -> Callable[[_FdFn], _FdFn]:  # fmt: skip
    def deco(fn: _FdFn) -> _FdFn:
        def ex(evt: Any, arg: Any) -> Any:
            got = event_fd(evt)
            if got is NO_FD:
                return None
            return fn(evt, *got)

        # the two stages, for callers that extract several fd fields of one event (the fused
        # rule evaluator calls event_fd once): ex(e, arg) == (None if (g := event_fd(e)) is
        # NO_FD else fn(e, *g))
        ex.staged = (event_fd, NO_FD, None, fn)  # type: ignore[attr-defined]
        fdc.field(name, ftype, desc, flags=flags, renderer=renderer)(ex)
        return fn

    return deco


@_fd_field("fd.num", FieldType.INT64, "the unique number identifying the file descriptor.")
def _num(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return num


@_fd_field("fd.type", FieldType.CHARBUF,
           "type of FD. Can be 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', "
           "'signalfd', 'eventpoll', 'inotify' or 'signalfd'.")  # fmt: skip
def _type(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return None if fdi is None else fdi.typename


@_fd_field("fd.typechar", FieldType.CHARBUF,
           "type of FD as a single character. Can be 'f' for file, "
           "4 for IPv4 socket, 6 for IPv6 socket, 'u' for unix socket, p for pipe, 'e' for "
           "eventfd, "
           "'s' for signalfd, 'l' for eventpoll, 'i' for inotify, 'o' for unknown.")  # fmt: skip
def _typechar(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return _null_fd_field(evt, thread, "typechar")
    return _TYPECHAR_OF(fdi.type, "o")  # fmt.typechar, without the call


_TYPECHAR_OF = fmt._TYPECHARS.get


def _connect_failed(evt: Any) -> bool:
    rec = evt.record
    if rec.type != 23 or rec.nparams < 1:  # connect exit
        return False
    return int.from_bytes(rec.rawparam(0)[:8], "little", signed=True) < 0


@_fd_field("fd.name", FieldType.CHARBUF,
           "FD full name. If the fd is a file, this field contains the full path. If the FD is "
           "a socket, this field contain the connection tuple.")  # fmt: skip
def _name(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or (evt.record.type == 23 and _connect_failed(evt)):
        return _null_fd_field(evt, thread, "name")
    name = fdi.name
    return name if name.isascii() and "\x7f" not in name else fmt.sanitize(name)


@_fd_field("fd.directory", FieldType.CHARBUF,
           "If the fd is a file, the directory that contains it.")
def _directory(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _dir_of(evt, thread, fdi, "directory")


def _dir_of(evt: Any, thread: Any, fdi: Any, what: str) -> Any:
    if fdi is None:
        return _null_fd_field(evt, thread, what)
    if fdi.type not in (FILE, FILE_V2, DIRECTORY):
        return None
    name = fdi.name
    if not (name.isascii() and "\x7f" not in name):
        name = fmt.sanitize(name)
    if fdi.type != DIRECTORY:
        pos = name.rfind("/")
        if pos > 0:
            if pos < len(name) - 1:
                name = name[:pos]
        else:
            name = "/"
    return name if what == "directory" else f"{_cid(thread)}:{name}"


@_fd_field("fd.filename", FieldType.CHARBUF, "If the fd is a file, the filename without the path.")
def _filename(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return _null_fd_field(evt, thread, "filename")
    if fdi.type not in (FILE, FILE_V2):
        return None
    name = fmt.sanitize(fdi.name)
    pos = name.rfind("/")
    if pos >= 0:
        return name[pos + 1 :] if pos < len(name) - 1 else name
    return "/"


# -- sockets --------------------------------------------------------------------------------


def _role_known(fdi: Any) -> bool:
    """libsinsp ``!is_role_none()``: the socket has been seen as a client (connect, first
    datagram out) or a server (accept, first datagram in); a listening socket counts as a
    server. Same test as ``sinsp.format.role_known``."""
    return fmt.role_known(fdi)


def _local_addrs(evt: Any) -> tuple[frozenset[str], frozenset[bytes]]:
    """The capture's interface addresses: exact IPv4 addresses and IPv6 /64 prefixes
    (sinsp_network_interfaces: an IPv6 address is local when it is in the subnet, i.e. the
    first 8 bytes, of an interface address)."""
    insp = getattr(evt, "inspector", None)
    cached = _LOCAL_CACHE.get(insp) if insp is not None else None
    if cached is not None:
        return cached
    v4, v6 = set(), set()
    for iface in getattr(insp, "interfaces", None) or ():
        addr = getattr(iface, "addr", None)
        if not addr:
            continue
        try:
            ip = ipaddress.ip_address(str(addr))
        except ValueError:
            continue
        if ip.version == 4:
            v4.add(str(ip))
        else:
            v6.add(ip.packed[:8])
    result = (frozenset(v4), frozenset(v6))
    if insp is not None:
        _LOCAL_CACHE[insp] = result
    return result


#: per inspector (weakly held: the entry goes with the inspector)
_LOCAL_CACHE: weakref.WeakKeyDictionary[Any, tuple[frozenset[str], frozenset[bytes]]] = (
    weakref.WeakKeyDictionary()
)


def _is_local(evt: Any, thread: Any, ip: str | None, v6: bool) -> bool:
    """Whether an address belongs to this machine, as 0.29.3's
    ``is_ipv4addr_in_local_machine`` / ``is_ipv6addr_in_local_machine`` decide it.

    An unset address is the zero address (a fresh socket's destination), which is local
    when an interface says so: for IPv6, ``::`` shares its /64 with ``::1``. For a thread in
    a container with an entry in the container table (docker ones always have one, CRI ones
    only with a container event), an IPv4 address is local when it is the container's IP;
    a container whose IP is unknown (0) matches any container's IP, its own 0 included, so
    there a fresh socket's destination reads as local. Otherwise the interfaces decide. IPv6
    is never local inside a container."""
    cid = _cid(thread)
    if cid and v6:
        return False
    try:
        addr = ipaddress.ip_address(ip or ("::" if v6 else "0.0.0.0"))
    except ValueError:
        return False
    if cid:
        table = getattr(getattr(evt, "inspector", None), "containers", None)
        info = table.get(cid) if table is not None else None
        if info is not None:
            own = _container_ip(info)
            if own != _ZERO4:
                if addr == own:
                    return True
            elif any(_container_ip(c) == addr for c in _all_containers(table)):
                return True
    v4set, v6set = _local_addrs(evt)
    if addr.version == 4:
        return str(addr) in v4set
    return addr.packed[:8] in v6set


_ZERO4 = ipaddress.IPv4Address(0)


def _container_ip(info: Any) -> ipaddress.IPv4Address:
    """A container's IPv4 address as sinsp keeps it (0 when unknown or unparsable)."""
    try:
        return ipaddress.IPv4Address(info.ip) if info.ip else _ZERO4
    except ValueError:
        return _ZERO4


def _all_containers(table: Any) -> Any:
    """Every ContainerInfo of the table (ContainerTable has no public iterator)."""
    return getattr(table, "_containers", {}).values()


def _sock_field(name: str, ftype: FieldType, desc: str,
                flags: FieldFlag = FieldFlag.NONE) -> Callable[[_FdFn], _FdFn]:
    return _fd_field(name, ftype, desc, flags)


@_sock_field("fd.cip", FieldType.IPADDR, "client IP address.")
def _cip(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or fdi.type not in _CONN or not _role_known(fdi):
        return None
    return fdi.sip


@_sock_field("fd.sip", FieldType.IPADDR, "server IP address.")
def _sip(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or not _role_known(fdi):
        return None
    if fdi.type in _CONN:
        return fdi.dip
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return fdi.sip
    return None


def _local_remote(evt: Any, thread: Any, fdi: Any, want_local: bool) -> tuple[str, int] | None:
    if fdi is None or fdi.type not in _CONN or not _role_known(fdi):
        return None
    local = _is_local(evt, thread, fdi.sip, fdi.type == IPV6_SOCK)
    if local == want_local:
        return fdi.sip, fdi.sport
    return fdi.dip, fdi.dport


@_sock_field("fd.lip", FieldType.IPADDR, "local IP address.")
def _lip(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, True)
    return None if got is None else got[0]


@_sock_field("fd.rip", FieldType.IPADDR, "remote IP address.")
def _rip(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, False)
    return None if got is None else got[0]


@_sock_field("fd.cport", FieldType.PORT, "for TCP/UDP FDs, the client port.")
def _cport(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or not _role_known(fdi):
        return None
    if fdi.type in _CONN:
        return fdi.sport
    return 0  # 0.29.3 falls through to the client-protocol case: an empty value, shown as 0


@_sock_field("fd.sport", FieldType.PORT, "for TCP/UDP FDs, server port.")
def _sport(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    if fdi.type in _CONN:
        return fdi.dport if _role_known(fdi) else None
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return fdi.sport
    return None


@_sock_field("fd.lport", FieldType.PORT, "for TCP/UDP FDs, the local port.")
def _lport(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, True)
    return None if got is None else got[1]


@_sock_field("fd.rport", FieldType.PORT, "for TCP/UDP FDs, the remote port.")
def _rport(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, False)
    return None if got is None else got[1]


def _port_proto(port: int) -> str:
    """port_to_string with name resolution off: the number."""
    return str(port)


@_sock_field("fd.cproto", FieldType.CHARBUF, "for TCP/UDP FDs, the client protocol.")
def _cproto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or not _role_known(fdi):
        return None
    return _port_proto(fdi.sport) if fdi.type in _CONN else ""


@_sock_field("fd.sproto", FieldType.CHARBUF, "for TCP/UDP FDs, server protocol.")
def _sproto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    if fdi.type in _CONN:
        return _port_proto(fdi.dport) if _role_known(fdi) else None
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return ""
    return None


@_sock_field("fd.lproto", FieldType.CHARBUF, "for TCP/UDP FDs, the local protocol.")
def _lproto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, True)
    return None if got is None else _port_proto(got[1])


@_sock_field("fd.rproto", FieldType.CHARBUF, "for TCP/UDP FDs, the remote protocol.")
def _rproto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    got = _local_remote(evt, thread, fdi, False)
    return None if got is None else _port_proto(got[1])


@_sock_field("fd.l4proto", FieldType.CHARBUF, "the IP protocol of a socket. Can be 'tcp', 'udp', "
             "'icmp' or 'raw'.")  # fmt: skip
def _l4proto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    return _L4_NAMES.get(fmt.l4proto_of(fdi), "<NA>")


@_sock_field("fd.sockfamily", FieldType.CHARBUF, "the socket family for socket events. Can be 'ip' "
             "or 'unix'.")  # fmt: skip
def _sockfamily(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    if fdi.type in (IPV4_SOCK, IPV6_SOCK, IPV4_SERVSOCK, IPV6_SERVSOCK):
        return "ip"
    if fdi.type == UNIX_SOCK:
        return "unix"
    return None


@_sock_field("fd.is_server", FieldType.BOOL, "'true' if the process owning this FD is the server "
             "endpoint in the connection.")  # fmt: skip
def _is_server(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return True
    if fdi.type in _CONN:
        return _is_local(evt, thread, _server_ip(evt, fdi), fdi.type == IPV6_SOCK)
    return False


def _server_ip(evt: Any, fdi: Any) -> str | None:
    """The socket's destination. 0.29.3's connect enter already stores the address it
    connects to (and a failed exit leaves it there); the state applies it at the exit only,
    so for a connect event on a socket without a destination it is taken from the event."""
    if fdi.dip is None and evt.record.type in _CONNECT_EVENTS:
        addr = evt.param("addr")
        if addr is not None and getattr(addr, "family", None) in (2, 10):
            ip = str(addr.addr)
            if fdi.type == IPV4_SOCK and ip.startswith("::ffff:"):
                ip = ip[len("::ffff:") :]
            return ip
    out: str | None = fdi.dip
    return out


_CONNECT_EVENTS = frozenset({22, 23})  # 0.29.3's connect enter and exit


@_fd_field("fd.uid", FieldType.CHARBUF,
           "a unique identifier for the FD, created by chaining the FD "
           "number and the thread ID.")  # fmt: skip
def _uid(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if evt.record.type == 228:  # container event
        return None
    return f"{thread.tid}{num}"


@_fd_field("fd.containername", FieldType.CHARBUF, "chaining of the container ID and the FD name. "
           "Useful when trying to identify which container an FD belongs to.")  # fmt: skip
def _containername(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None or _connect_failed(evt):
        return _null_fd_field(evt, thread, "containername")
    return f"{_cid(thread)}:{fmt.sanitize(fdi.name)}"


@_fd_field("fd.containerdirectory", FieldType.CHARBUF, "chaining of the container ID and the "
           "directory name. Useful when trying to identify which container a directory belongs "
           "to.")  # fmt: skip
def _containerdirectory(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _dir_of(evt, thread, fdi, "containerdirectory")


@_sock_field("fd.connected", FieldType.BOOL, "for TCP/UDP FDs, 'true' if the socket is connected.")
def _connected(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    # the state's FLAG_CONNECTED: connect/accept, a TCP socket of the fd list, and (as
    # 0.29.3's parse_rw_exit) any successful read/write-class exit on an IPv4/IPv6 socket
    if fdi is None:
        return None
    return bool(fdi.flags & FLAG_CONNECTED)


_OPEN_X = frozenset({3, 59, 103, 307, 327})
_ACCEPT_X = frozenset({27, 57, 247, 249, 389})  # accept, accept4 and their versions


@_fd_field("fd.name_changed", FieldType.BOOL,
           "True when an event changes the name of an fd used by "
           "this event. This can occur in some cases such as udp connections where the connection "
           "tuple changes.")  # fmt: skip
def _name_changed(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    if getattr(evt, "name_changed", False):  # set by the state (datagram tuples)
        return True
    rec = evt.record
    if rec.type in _OPEN_X:
        return True
    if rec.type in _ACCEPT_X:
        return True
    if rec.type == 21 and rec.nparams >= 1:  # bind exit: the socket is named by its address
        return int.from_bytes(rec.rawparam(0)[:8], "little", signed=True) >= 0
    if rec.type == 22 and fdi.type == UNIX_SOCK and rec.nparams >= 2:  # unix connect enter
        return rec.rawparam(1)[:1] == b"\x01"
    if rec.type == 23 and rec.nparams >= 2 and rec.rawparam(1):  # connect exit with a tuple
        res = int.from_bytes(rec.rawparam(0)[:8], "little", signed=True)
        return res >= 0 or res == -115
    return False


def _ip_matches(fdi: Any) -> list[str]:
    if fdi is None:
        return []
    if fdi.type in _CONN:
        return [a for a in (fdi.sip, fdi.dip) if a]
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return [fdi.sip] if fdi.sip else []
    return []


@_sock_field("fd.ip", FieldType.IPADDR,
             "(FILTER ONLY) matches the ip address (client or server) of "
             "the fd.", FieldFlag.FILTER_ONLY | FieldFlag.IS_LIST)  # fmt: skip
def _ip(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _ip_matches(fdi) or None


@_sock_field("fd.net", FieldType.IPNET,
             "(FILTER ONLY) matches the IP network (client or server) of "
             "the fd.", FieldFlag.FILTER_ONLY | FieldFlag.IS_LIST)  # fmt: skip
def _net(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _ip_matches(fdi) or None


@_sock_field("fd.cnet", FieldType.IPNET, "(FILTER ONLY) matches the client IP network of the fd.",
             FieldFlag.FILTER_ONLY)  # fmt: skip
def _cnet(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _cip(evt, thread, fdi, num)


@_sock_field("fd.snet", FieldType.IPNET, "(FILTER ONLY) matches the server IP network of the fd.",
             FieldFlag.FILTER_ONLY)  # fmt: skip
def _snet(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _sip(evt, thread, fdi, num)


@_sock_field("fd.lnet", FieldType.IPNET, "(FILTER ONLY) matches the local IP network of the fd.",
             FieldFlag.FILTER_ONLY)  # fmt: skip
def _lnet(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _lip(evt, thread, fdi, num)


@_sock_field("fd.rnet", FieldType.IPNET, "(FILTER ONLY) matches the remote IP network of the fd.",
             FieldFlag.FILTER_ONLY)  # fmt: skip
def _rnet(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _rip(evt, thread, fdi, num)


def _ports(fdi: Any) -> list[int]:
    if fdi is None:
        return []
    if fdi.type in _CONN:
        return [fdi.sport, fdi.dport]
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return [fdi.sport]
    return []


@_sock_field("fd.port", FieldType.PORT,
             "(FILTER ONLY) matches the port (either client or server) of "
             "the fd.", FieldFlag.FILTER_ONLY | FieldFlag.IS_LIST)  # fmt: skip
def _port(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _ports(fdi) or None


@_sock_field("fd.proto", FieldType.PORT, "(FILTER ONLY) matches the protocol (either client or "
             "server) of the fd.", FieldFlag.FILTER_ONLY | FieldFlag.IS_LIST)  # fmt: skip
def _proto(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return _ports(fdi) or None


def _dns_field(name: str, desc: str) -> None:
    """Domain names of the socket's addresses: sysdig resolves them through its DNS manager,
    which is never populated when reading a capture, so they are N/A here too."""

    @_fd_field(name, FieldType.CHARBUF, desc)
    def _none(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
        return None


_dns_field("fd.cip.name", "Domain name associated with the client IP address.")
_dns_field("fd.sip.name", "Domain name associated with the server IP address.")
_dns_field("fd.lip.name", "Domain name associated with the local IP address.")
_dns_field("fd.rip.name", "Domain name associated with the remote IP address.")


def _hex(v: int) -> str:
    return format(v & 0xFFFFFFFF, "X")


@_fd_field("fd.dev", FieldType.INT32, "device number (major/minor) containing the referenced file",
           renderer=_hex)  # fmt: skip
def _dev(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return None if fdi is None else int(fdi.dev)


@_fd_field("fd.dev.major", FieldType.INT32, "major device number containing the referenced file")
def _dev_major(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return None if fdi is None else (int(fdi.dev) & 0xFFF00) >> 8


@_fd_field("fd.dev.minor", FieldType.INT32, "minor device number containing the referenced file")
def _dev_minor(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    if fdi is None:
        return None
    dev = int(fdi.dev)
    return (dev & 0xFF) | ((dev >> 12) & 0xFFF00)


@_fd_field("fd.ino", FieldType.INT64, "inode number of the referenced file")
def _ino(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return None if fdi is None else int(fdi.ino)


@_fd_field("fd.nameraw", FieldType.CHARBUF, "FD name as stored, without sanitising.")
def _nameraw(evt: Any, thread: Any, fdi: Any, num: int) -> Any:
    return None if fdi is None else fdi.name


FD_CLASS = REGISTRIES["syscall"].register(fdc.build())


# -- fdlist ------------------------------------------------------------------------------------

fdl = FieldClassBuilder("fdlist", "Poll event related fields.")


def _poll_fds(evt: Any) -> list[tuple[int, Any]] | None:
    rec = evt.record
    info = fmt.display_info(rec.type)
    if info is None or info.name not in ("poll", "ppoll"):
        return None
    idx = fmt.param_index(info, rec.nparams, "fds")
    if idx is None:
        return None
    data = rec.rawparam(idx)
    if len(data) < 2:
        return None
    n = int.from_bytes(data[:2], "little")
    thread = evt.thread
    out = []
    pos = 2
    for _ in range(n):
        if pos + 10 > len(data):
            break
        fd = int.from_bytes(data[pos : pos + 8], "little", signed=True)
        out.append((fd, fmt.thread_fd(thread, fd) if thread is not None else None))
        pos += 10
    return out


def _fdlist_field(name: str, desc: str, item: Any) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        fds = _poll_fds(evt)
        if fds is None:
            return None
        parts = []
        for fd, fdi in fds:
            s = item(fd, fdi)
            if s is None:
                continue
            parts.append(s)
        text = ",".join(parts)
        return text or None

    fdl.field(name, FieldType.CHARBUF, desc)(ex)


def _fdl_name(fd: int, fdi: Any) -> str:
    return fdi.name if fdi is not None and fdi.name else "<NA>"


def _fdl_cip(fd: int, fdi: Any) -> str | None:
    return fdi.sip if fdi is not None and fdi.type in _CONN and fdi.sip else None


def _fdl_sip(fd: int, fdi: Any) -> str | None:
    if fdi is None:
        return None
    if fdi.type in _CONN:
        return fdi.dip or None
    if fdi.type in (IPV4_SERVSOCK, IPV6_SERVSOCK):
        return fdi.sip or None
    return None


def _fdl_cport(fd: int, fdi: Any) -> str | None:
    return str(fdi.sport) if fdi is not None and fdi.type in _CONN else None


def _fdl_sport(fd: int, fdi: Any) -> str | None:
    return str(fdi.dport) if fdi is not None and fdi.type in _CONN else None


_fdlist_field("fdlist.nums", "for poll events, this is a comma-separated list of the FD numbers in "
              "the 'fds' argument, returned as a string.", lambda fd, fdi: str(fd))  # fmt: skip
_fdlist_field("fdlist.names", "for poll events, this is a comma-separated list of the FD names in "
              "the 'fds' argument, returned as a string.", _fdl_name)  # fmt: skip
_fdlist_field("fdlist.cips", "for poll events, this is a comma-separated list of the client IP "
              "addresses in the 'fds' argument, returned as a string.", _fdl_cip)  # fmt: skip
_fdlist_field("fdlist.sips", "for poll events, this is a comma-separated list of the server IP "
              "addresses in the 'fds' argument, returned as a string.", _fdl_sip)  # fmt: skip
_fdlist_field("fdlist.cports",
              "for TCP/UDP FDs, for poll events, this is a comma-separated list of "
              "the client TCP/UDP ports in the 'fds' argument, returned as a string.",
              _fdl_cport)  # fmt: skip
_fdlist_field("fdlist.sports", "for poll events, this is a comma-separated list of the server "
              "TCP/UDP ports in the 'fds' argument, returned as a string.", _fdl_sport)  # fmt: skip

FDLIST_CLASS = REGISTRIES["syscall"].register(fdl.build())

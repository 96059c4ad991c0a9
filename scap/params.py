"""Decoding of single event parameters, one function per ``PT_*`` type.

``decode_param(ptype, data)`` turns the bytes of one parameter into a Python value
(contract in docs/ARCHITECTURE.md; encodings in docs/scap-format.md 9.4/9.5). It never
raises anything but ``ParamDecodeError``: a malformed param is a property of one event,
and the caller decides whether to report it, render ``<NA>`` or skip the event.

Design: a dispatch dict keyed by ``PT`` and precompiled ``struct.Struct`` objects, so a
decode is one dict lookup, one length check and one ``unpack_from`` (no slicing copies
for numbers).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .schema import PT

if TYPE_CHECKING:
    from .schema import ParamInfo

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_UNIX",
    "ParamDecodeError",
    "SockAddr",
    "SockTuple",
    "decode_param",
    "param_width",
]

# PPM_AF_* socket families (the Linux values).
AF_UNSPEC = 0
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10


class ParamDecodeError(ValueError):
    """A parameter's bytes do not fit its type. ``ptype`` and ``length`` locate the
    problem inside the event; the record layer adds the event and file position."""

    def __init__(self, ptype: int, length: int, reason: str) -> None:
        self.ptype = ptype
        self.length = length
        self.reason = reason
        try:
            tname = PT(ptype).name
        except ValueError:
            tname = str(ptype)
        super().__init__(f"PT_{tname} param of {length} bytes: {reason}")


class SockAddr(NamedTuple):
    """A ``PT_SOCKADDR``: ``addr`` is the dotted/colon address, or the path for unix
    sockets (abstract names arrive without their leading NUL); ``port`` is 0 for unix."""

    family: int
    addr: str
    port: int


class SockTuple(NamedTuple):
    """A ``PT_SOCKTUPLE``. For inet families ``sip``/``dip`` are address strings and
    ``path`` is ``""``; an IPv6 tuple whose both ends are IPv4-mapped is returned as an
    ``AF_INET`` tuple, as sinsp shows it. For ``AF_UNIX``, ``sip``/``dip`` are the kernel
    ``unix_sock`` pointers (ints: sinsp pairs unix endpoints by them), ports are 0 and
    ``path`` is the socket path."""

    family: int
    sip: str | int
    sport: int
    dip: str | int
    dport: int
    path: str


_FIXED: dict[int, struct.Struct] = {
    PT.INT8: struct.Struct("<b"),
    PT.INT16: struct.Struct("<h"),
    PT.INT32: struct.Struct("<i"),
    PT.INT64: struct.Struct("<q"),
    PT.UINT8: struct.Struct("<B"),
    PT.UINT16: struct.Struct("<H"),
    PT.UINT32: struct.Struct("<I"),
    PT.UINT64: struct.Struct("<Q"),
    PT.ERRNO: struct.Struct("<q"),
    PT.FD: struct.Struct("<q"),
    PT.PID: struct.Struct("<q"),
    PT.SYSCALLID: struct.Struct("<H"),
    PT.SIGTYPE: struct.Struct("<B"),
    PT.RELTIME: struct.Struct("<Q"),
    PT.ABSTIME: struct.Struct("<Q"),
    PT.PORT: struct.Struct("<H"),
    PT.L4PROTO: struct.Struct("<B"),
    PT.SOCKFAMILY: struct.Struct("<B"),
    PT.BOOL: struct.Struct("<I"),
    PT.FLAGS8: struct.Struct("<B"),
    PT.FLAGS16: struct.Struct("<H"),
    PT.FLAGS32: struct.Struct("<I"),
    PT.UID: struct.Struct("<I"),
    PT.GID: struct.Struct("<I"),
    PT.DOUBLE: struct.Struct("<d"),
    PT.SIGSET: struct.Struct("<I"),
    PT.MODE: struct.Struct("<I"),
    PT.ENUMFLAGS8: struct.Struct("<B"),
    PT.ENUMFLAGS16: struct.Struct("<H"),
    PT.ENUMFLAGS32: struct.Struct("<I"),
    PT.FD32: struct.Struct("<i"),
    PT.PID32: struct.Struct("<i"),
}

_U16 = struct.Struct("<H")
_U64X2 = struct.Struct("<QQ")
_FDITEM = struct.Struct("<qh")
_V4_TUPLE = struct.Struct("<4sH4sH")
_V6_TUPLE = struct.Struct("<16sH16sH")
_V4_MAPPED = b"\0" * 10 + b"\xff\xff"

Data = bytes | bytearray | memoryview
Decoder = Callable[[int, Data, "ParamInfo | None"], Any]


def param_width(ptype: int) -> int | None:
    """Encoded size of a fixed-width type, ``None`` for variable-size ones."""
    st = _FIXED.get(ptype)
    return st.size if st is not None else None


def _text(data: Data) -> str:
    raw = bytes(data)
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "surrogateescape")


def _ipv4(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def _ipv6(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, raw)


def _dec_fixed(ptype: int, data: Data, _p: ParamInfo | None) -> Any:
    st = _FIXED[ptype]
    if len(data) != st.size:
        raise ParamDecodeError(ptype, len(data), f"expected {st.size} bytes")
    return st.unpack_from(data)[0]


def _dec_text(ptype: int, data: Data, _p: ParamInfo | None) -> str:
    return _text(data)


def _dec_bytes(ptype: int, data: Data, _p: ParamInfo | None) -> bytes:
    return bytes(data)


def _dec_sockaddr(ptype: int, data: Data, _p: ParamInfo | None) -> SockAddr:
    family = data[0]
    n = len(data)
    if family == AF_INET:
        if n != 7:
            raise ParamDecodeError(ptype, n, "AF_INET sockaddr must be 7 bytes")
        raw = bytes(data[1:5])
        return SockAddr(family, _ipv4(raw), _U16.unpack_from(data, 5)[0])
    if family == AF_INET6:
        if n != 19:
            raise ParamDecodeError(ptype, n, "AF_INET6 sockaddr must be 19 bytes")
        return SockAddr(family, _ipv6(bytes(data[1:17])), _U16.unpack_from(data, 17)[0])
    if family == AF_UNIX:
        return SockAddr(family, _text(data[1:]), 0)
    return SockAddr(family, "", 0)


def _dec_socktuple(ptype: int, data: Data, _p: ParamInfo | None) -> SockTuple:
    family = data[0]
    n = len(data)
    if family == AF_INET:
        if n != 13:
            raise ParamDecodeError(ptype, n, "AF_INET socktuple must be 13 bytes")
        sip, sport, dip, dport = _V4_TUPLE.unpack_from(data, 1)
        return SockTuple(family, _ipv4(sip), sport, _ipv4(dip), dport, "")
    if family == AF_INET6:
        if n != 37:
            raise ParamDecodeError(ptype, n, "AF_INET6 socktuple must be 37 bytes")
        sip, sport, dip, dport = _V6_TUPLE.unpack_from(data, 1)
        if sip[:12] == _V4_MAPPED and dip[:12] == _V4_MAPPED:
            return SockTuple(AF_INET, _ipv4(sip[12:]), sport, _ipv4(dip[12:]), dport, "")
        return SockTuple(family, _ipv6(sip), sport, _ipv6(dip), dport, "")
    if family == AF_UNIX:
        if n < 17:
            raise ParamDecodeError(ptype, n, "AF_UNIX socktuple needs 17 bytes")
        src, dst = _U64X2.unpack_from(data, 1)
        return SockTuple(family, src, 0, dst, 0, _text(data[17:]))
    return SockTuple(family, "", 0, "", 0, "")


def _dec_fdlist(ptype: int, data: Data, _p: ParamInfo | None) -> list[tuple[int, int]]:
    n = len(data)
    if n < 2:
        raise ParamDecodeError(ptype, n, "fdlist needs a u16 count")
    count = _U16.unpack_from(data)[0]
    if n != 2 + count * _FDITEM.size:
        raise ParamDecodeError(ptype, n, f"fdlist of {count} entries must be "
                               f"{2 + count * _FDITEM.size} bytes")
    return [_FDITEM.unpack_from(data, 2 + i * _FDITEM.size) for i in range(count)]


def _dec_ipv4addr(ptype: int, data: Data, _p: ParamInfo | None) -> str:
    if len(data) != 4:
        raise ParamDecodeError(ptype, len(data), "expected 4 bytes")
    return _ipv4(bytes(data))


def _dec_ipv6addr(ptype: int, data: Data, _p: ParamInfo | None) -> str:
    if len(data) != 16:
        raise ParamDecodeError(ptype, len(data), "expected 16 bytes")
    return _ipv6(bytes(data))


def _dec_ipaddr(ptype: int, data: Data, _p: ParamInfo | None) -> str:
    if len(data) == 4:
        return _ipv4(bytes(data))
    if len(data) == 16:
        return _ipv6(bytes(data))
    raise ParamDecodeError(ptype, len(data), "expected 4 or 16 bytes")


def _prefix_len(mask: bytes) -> int:
    return int.from_bytes(mask, "big").bit_count()


def _dec_ipnet(ptype: int, data: Data, _p: ParamInfo | None) -> str:
    """Networks are address + netmask of the same width (libs ``ipv4net``/``ipv6net``)."""
    raw = bytes(data)
    if len(raw) == 8 and ptype != PT.IPV6NET:
        return f"{_ipv4(raw[:4])}/{_prefix_len(raw[4:])}"
    if len(raw) == 32 and ptype != PT.IPV4NET:
        return f"{_ipv6(raw[:16])}/{_prefix_len(raw[16:])}"
    raise ParamDecodeError(ptype, len(raw), "expected address + netmask")


def _dec_strlist(ptype: int, data: Data, _p: ParamInfo | None) -> list[str]:
    raw = bytes(data)
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [s.decode("utf-8", "surrogateescape") for s in raw.split(b"\0")] if raw else []


def _dec_strpairs(ptype: int, data: Data, p: ParamInfo | None) -> list[tuple[str, str]]:
    items = _dec_strlist(ptype, data, p)
    if len(items) % 2:
        raise ParamDecodeError(ptype, len(data), "odd number of strings in a pair array")
    return list(zip(items[::2], items[1::2], strict=True))


def _dec_dyn(ptype: int, data: Data, param: ParamInfo | None) -> tuple[int, Any]:
    """``(index, value)``: the leading u8 selects the sub-param whose type decodes the
    rest. Without the param's sub-table the value stays raw bytes."""
    index = data[0]
    rest = data[1:]
    subs = param.dyn_params if param is not None else ()
    if not subs:
        return (index, bytes(rest))
    if index >= len(subs):
        raise ParamDecodeError(ptype, len(data), f"dynamic index {index} >= {len(subs)}")
    sub = subs[index]
    if sub.type == PT.DYN:
        raise ParamDecodeError(ptype, len(data), "nested dynamic param")
    return (index, decode_param(sub.type, rest, sub) if len(rest) else None)


def _dec_none(ptype: int, data: Data, _p: ParamInfo | None) -> bytes:
    return bytes(data)


#: Fixed-width types go through this table straight from decode_param (the hot path).
_FAST: dict[int, tuple[int, Callable[..., tuple[Any, ...]]]] = {
    int(t): (st.size, st.unpack_from) for t, st in _FIXED.items()
}
_DISPATCH: dict[int, Decoder] = {t: _dec_fixed for t in _FIXED}
_DISPATCH.update({
    PT.NONE: _dec_none,
    PT.CHARBUF: _dec_text,
    PT.FSPATH: _dec_text,
    PT.FSRELPATH: _dec_text,
    PT.BYTEBUF: _dec_bytes,
    PT.SOCKADDR: _dec_sockaddr,
    PT.SOCKTUPLE: _dec_socktuple,
    PT.FDLIST: _dec_fdlist,
    PT.IPV4ADDR: _dec_ipv4addr,
    PT.IPV6ADDR: _dec_ipv6addr,
    PT.IPADDR: _dec_ipaddr,
    PT.IPV4NET: _dec_ipnet,
    PT.IPV6NET: _dec_ipnet,
    PT.IPNET: _dec_ipnet,
    PT.CHARBUFARRAY: _dec_strlist,
    PT.CHARBUF_PAIR_ARRAY: _dec_strpairs,
    PT.DYN: _dec_dyn,
})


def decode_param(ptype: int, data: Data, param: ParamInfo | None = None) -> Any:
    """Decode one parameter of type ``ptype``.

    An empty ``data`` (length 0: "not available") gives ``None`` for every type.
    ``param`` is the table entry; only DYN params need it (for their sub-table).
    CHARBUF keeps what the driver sent, including very old drivers' ``"(NULL)"``.
    Raises ``ParamDecodeError`` (a ``ValueError``) for bytes that do not fit the type,
    and for an unknown ``ptype``.
    """
    n = len(data)
    if not n:
        return None
    fixed = _FAST.get(ptype)
    if fixed is not None:
        if n != fixed[0]:
            raise ParamDecodeError(ptype, n, f"expected {fixed[0]} bytes")
        return fixed[1](data)[0]
    fn = _DISPATCH.get(ptype)
    if fn is None:
        raise ParamDecodeError(ptype, len(data), "unknown parameter type")
    return fn(ptype, data, param)

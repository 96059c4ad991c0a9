"""Helpers for tests (ours and other layers'): build events from Python values, write captures.

    from scap.testing import EventBuilder, write_capture
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    evts = [b.build("SYSCALL_OPEN_E", ["/etc/passwd", 1, 0]),
            b.build("SYSCALL_OPEN_X", [3, "/etc/passwd", 1, 0, 0])]
    write_capture(path, evts, processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat",
                  exe="cat", cgroups=["cpuset=/docker/0123456789ab..."])])

`encode_param` is the inverse of `scap.params.decode_param` for every type a capture can hold.
Values: ints for numeric types (UID/GID -1 means none), `str` for strings (a NUL is appended),
`bytes` for BYTEBUF, `scap.SockAddr`/`SockTuple` (or plain tuples) for sockets, a list of
`(fd, flags)` for FDLIST, `(index, value)` for DYN.  `bytes` are accepted for any type and
written verbatim (to make odd or damaged params); `None` writes an empty (length 0) param.
"""
from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from scap.metadata import GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.record import HEADER_V2, EventRecord, is_large_payload

__all__ = ["EventBuilder", "encode_param", "write_capture"]

_AF_UNIX, _AF_INET, _AF_INET6 = 1, 2, 10

# PT code -> struct format of the fixed-width types (values as in scap.schema.PT)
_FIXED = {
    1: "b", 2: "h", 3: "i", 4: "q", 5: "B", 6: "H", 7: "I", 8: "Q", 11: "q", 14: "q", 15: "q",
    18: "H", 19: "B", 20: "Q", 21: "Q", 22: "H", 23: "B", 24: "B", 25: "I", 28: "B", 29: "H",
    30: "I", 31: "I", 32: "I", 33: "d", 34: "I", 42: "I", 44: "B", 45: "H", 46: "I", 47: "i",
    48: "i",
}
_STRINGS = {9, 17, 43}
_BYTEBUF, _SOCKADDR, _SOCKTUPLE, _FDLIST, _DYN = 10, 12, 13, 16, 27
_IPV4ADDR, _IPV6ADDR, _IPADDR, _CHARBUFARRAY = 26, 38, 40, 35


def _ip(family: int, addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if family == _AF_INET6 else socket.AF_INET, addr)


def _cstr(v: str | bytes) -> bytes:
    return (v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v) + b"\0"


def encode_param(ptype: int, value: Any, param: Any = None) -> bytes:
    """Bytes of one parameter of type `ptype` (a PT code) holding `value`."""
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    ptype = int(ptype)
    fmt = _FIXED.get(ptype)
    if fmt is not None:
        if fmt in "BHIQ" and isinstance(value, int) and value < 0:
            value &= (1 << (8 * struct.calcsize(fmt))) - 1  # e.g. uid -1 -> 0xFFFFFFFF
        return struct.pack("<" + fmt, value)
    if ptype in _STRINGS:
        return _cstr(value)
    if ptype == _BYTEBUF:
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        return b"".join(_cstr(v) for v in value)  # a list of strings: NUL-terminated each
    if ptype == _CHARBUFARRAY:
        return b"".join(_cstr(v) for v in value)
    if ptype == _SOCKADDR:
        family, addr, port = value
        if family == _AF_UNIX:
            return bytes([family]) + _cstr(addr)
        return bytes([family]) + _ip(family, addr) + struct.pack("<H", port)
    if ptype == _SOCKTUPLE:
        family, sip, sport, dip, dport, *rest = value
        if family == _AF_UNIX:
            return bytes([family]) + struct.pack("<QQ", sip, dip) + _cstr(rest[0] if rest else "")
        return (bytes([family]) + _ip(family, sip) + struct.pack("<H", sport)
                + _ip(family, dip) + struct.pack("<H", dport))
    if ptype == _FDLIST:
        items = list(value)
        return struct.pack("<H", len(items)) + b"".join(struct.pack("<qh", fd, fl)
                                                        for fd, fl in items)
    if ptype == _IPV4ADDR:
        return _ip(_AF_INET, value)
    if ptype == _IPV6ADDR:
        return _ip(_AF_INET6, value)
    if ptype == _IPADDR:
        return _ip(_AF_INET6 if ":" in value else _AF_INET, value)
    if ptype == _DYN:
        index, inner = value
        subs = getattr(param, "dyn_params", ()) or ()
        if isinstance(inner, (bytes, bytearray)) or not subs:
            return bytes([index]) + bytes(inner)
        sub = subs[index]
        return bytes([index]) + encode_param(sub.type, inner, sub)
    raise TypeError(f"cannot encode a value for param type {ptype}")


def _resolve_type(evtype: int | str) -> int:
    if isinstance(evtype, int):
        return evtype
    from scap.schema import PPME

    name = evtype.upper()
    if name.startswith("PPME_"):
        name = name[5:]
    return int(PPME[name])


class EventBuilder:
    """Builds `EventRecord`s from an event type and Python parameter values.

    Missing `ts` continue from the previous event plus `step` ns; missing `tid`/`cpu` use the
    builder's defaults.  `params` is a sequence (in table order; it may be shorter or longer
    than the table, the extra ones must be bytes) or a mapping by param name (absent names
    are written empty, which sysdig 0.29.3 does not expect for numeric params).
    """

    def __init__(self, ts: int = 1_600_000_000_000_000_000, tid: int = 1, cpu: int = 0,
                 step: int = 1000) -> None:
        self.ts = ts
        self.tid = tid
        self.cpu = cpu
        self.step = step

    def build(self, type: int | str, params: Sequence[Any] | Mapping[str, Any] = (),
              ts: int | None = None, tid: int | None = None, cpu: int | None = None,
              dump_flags: int = 0) -> EventRecord:
        from scap.schema import EVENT_INFO

        evtype = _resolve_type(type)
        table = EVENT_INFO[evtype].params if evtype < len(EVENT_INFO) else ()
        if isinstance(params, Mapping):
            unknown = set(params) - {p.name for p in table}
            if unknown:
                raise KeyError(f"event type {evtype} has no params {sorted(unknown)}")
            values: list[Any] = [params.get(p.name) for p in table]
        else:
            values = list(params)
        encoded = []
        for i, v in enumerate(values):
            p = table[i] if i < len(table) else None
            if p is None and not isinstance(v, (bytes, bytearray)) and v is not None:
                raise TypeError(f"param {i} is beyond the table of type {evtype}: pass bytes")
            encoded.append(encode_param(p.type if p else 10, v, p))
        large = is_large_payload(evtype)
        lfmt = "I" if large else "H"
        limit = 0xFFFFFFFF if large else 0xFFFF
        for e in encoded:
            if len(e) > limit:
                raise ValueError(f"param of {len(e)} bytes does not fit its length field")
        lens = struct.pack(f"<{len(encoded)}{lfmt}", *map(len, encoded))
        body = lens + b"".join(encoded)
        if ts is None:
            ts = self.ts
        self.ts = ts + self.step
        tid = self.tid if tid is None else tid
        cpu = self.cpu if cpu is None else cpu
        raw = HEADER_V2.pack(ts, tid, 26 + len(body), evtype, len(encoded)) + body
        return EventRecord(ts, tid, cpu, evtype, dump_flags, len(encoded), raw)


def write_capture(dest: str | os.PathLike[str] | IO[bytes], events: Iterable[EventRecord],
                  *, machine: MachineInfo | None = None,
                  interfaces: Iterable[InterfaceInfo] | None = None,
                  users: Iterable[UserInfo] | None = None,
                  groups: Iterable[GroupInfo] | None = None,
                  processes: Iterable[ProcInfo] | None = None, compress: bool = True) -> None:
    """Write a whole capture in one call (header blocks only for what is given)."""
    from scap.savefile.writer import Writer

    with Writer(dest, compress=compress) as w:
        w.write_header(machine=machine, interfaces=interfaces, users=users, groups=groups,
                       processes=processes)
        w.write_events(events)

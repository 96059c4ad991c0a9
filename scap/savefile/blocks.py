"""Block codes and the metadata block bodies (SHB, MI, IL, UL, PL, FDL): decode and encode.

Pure functions over bytes, no I/O (h11 style).  Decoders take the block *body* (the bytes
between the 8-byte block header and the 4-byte trailer, padding included) and the body's
absolute stream offset, which they only use to put a location on a `FormatError`.
Layouts are those of /work/shared/docs/scap-format.md §4-§8 (libscap `scap_savefile.c`).
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

from scap.errors import FormatError
from scap.metadata import (
    FdEntry,
    FdType,
    GroupInfo,
    InterfaceInfo,
    MachineInfo,
    ProcInfo,
    UserInfo,
)

# -- block type codes ------------------------------------------------------------------------
SHB = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
MI = 0x201
MI_LEGACY = 0x8002ABCD
IL_V1 = 0x205
IL_V1_LEGACY = 0x8011ABCD
IL_V2 = 0x219
UL_V1 = 0x206
UL_V1_LEGACY = 0x8012ABCD
UL_V2 = 0x220
FDL_V1 = 0x203
FDL_V1_LEGACY = 0x8001ABCD
FDL_V2 = 0x218
EV = 0x204
EV_LEGACY = 0x8010ABCD
EVF = 0x208
EV_V2 = 0x216
EVF_V2 = 0x217
EV_V2_LARGE = 0x221
EVF_V2_LARGE = 0x222
PL_V9 = 0x215

#: process-list block code -> version
PL_VERSIONS = {
    0x202: 1, 0x8000ABCD: 1,
    0x207: 2, 0x8013ABCD: 2,
    0x209: 3, 0x8014ABCD: 3,
    0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, PL_V9: 9,
}
#: event block code -> (has nparams in the record header (V2), has a dump-flags field)
EVENT_BLOCKS = {
    EV: (False, False), EV_LEGACY: (False, False), EVF: (False, True),
    EV_V2: (True, False), EVF_V2: (True, True),
    EV_V2_LARGE: (True, False), EVF_V2_LARGE: (True, True),
}

BLOCK_HEADER = struct.Struct("<II")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_U8 = struct.Struct("<B")


@dataclass(frozen=True, slots=True)
class SectionHeader:
    """An SHB: format version and the offset of its block in the stream."""

    major: int
    minor: int
    section_length: int
    offset: int
    options: bytes = b""


class _Cursor:
    """Bounded little-endian reader over one body; any overrun is a FormatError."""

    __slots__ = ("base", "buf", "end", "pos", "what")

    def __init__(self, buf: bytes | memoryview, base: int, what: str, pos: int = 0,
                 end: int | None = None) -> None:
        self.buf = buf
        self.base = base
        self.what = what
        self.pos = pos
        self.end = len(buf) if end is None else end

    def fail(self, message: str) -> FormatError:
        return FormatError(None, self.base + self.pos, f"{self.what}: {message}")

    def need(self, n: int) -> None:
        if self.pos + n > self.end:
            raise self.fail(f"truncated (need {n} bytes, {self.end - self.pos} left)")

    def left(self) -> int:
        return self.end - self.pos

    def unpack(self, st: struct.Struct) -> int:
        self.need(st.size)
        v: int
        (v,) = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return v

    def u8(self) -> int:
        return self.unpack(_U8)

    def u16(self) -> int:
        return self.unpack(_U16)

    def u32(self) -> int:
        return self.unpack(_U32)

    def u64(self) -> int:
        return self.unpack(_U64)

    def i64(self) -> int:
        return self.unpack(_I64)

    def raw(self, n: int) -> bytes:
        self.need(n)
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def str16(self, limit: int, field: str) -> bytes:
        n = self.u16()
        if n > limit:
            raise self.fail(f"{field} length {n} exceeds {limit}")
        return self.raw(n)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _strlist(b: bytes) -> list[str]:
    """NUL-separated (and NUL-terminated) strings -> list."""
    if not b:
        return []
    parts = b.split(b"\0")
    if parts[-1] == b"":
        parts.pop()
    return [_text(p) for p in parts]


def _ip4(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, b)


def _ip6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


# -- decoders --------------------------------------------------------------------------------
def decode_shb(body: bytes | memoryview, base: int, block_offset: int) -> SectionHeader:
    c = _Cursor(body, base, "section header")
    magic = c.u32()
    if magic != SHB_MAGIC:
        raise FormatError(None, base, f"invalid magic number {magic:#x}")
    major = c.u16()
    minor = c.u16()
    length = c.u64()
    if major > 1:
        raise FormatError(None, base + 4, f"unsupported capture version {major}.{minor}")
    return SectionHeader(major, minor, length, block_offset, bytes(body[16:]))


_MI = struct.Struct("<IQQ128sQQQQ")


def decode_machine_info(body: bytes | memoryview, base: int) -> MachineInfo:
    if len(body) < _MI.size:
        raise FormatError(None, base, f"machine info: body of {len(body)} bytes, need 180")
    n, mem, maxpid, host, boot, flags, r3, r4 = _MI.unpack_from(body, 0)
    return MachineInfo(n, mem, maxpid, _text(host.split(b"\0", 1)[0]), boot, flags, r3, r4)


_IL_FIXED = {1: (4, True), 2: (16, True), 3: (4, False), 4: (16, False)}


def decode_interfaces(body: bytes | memoryview, base: int, v2: bool) -> list[InterfaceInfo]:
    out: list[InterfaceInfo] = []
    c = _Cursor(body, base, "interface list")
    while c.left() >= 4:
        if v2:
            entrylen = c.u32()
            c.need(entrylen)
            end = c.pos + entrylen
        ent = _Cursor(body, base, "interface list", c.pos, end if v2 else None)
        itype = ent.u16()
        namelen = ent.u16()
        if itype not in _IL_FIXED:
            raise ent.fail(f"unknown interface type {itype}")
        if namelen >= 1024:
            raise ent.fail(f"interface name length {namelen}")
        width, has_speed = _IL_FIXED[itype]
        conv = _ip4 if width == 4 else _ip6
        addr, mask, bcast = (conv(ent.raw(width)) for _ in range(3))
        speed = ent.u64() if has_speed else None
        name = _text(ent.raw(namelen))
        out.append(InterfaceInfo(itype, name, addr, mask, bcast, speed))
        c.pos = end if v2 else ent.pos
    return out


def decode_users(body: bytes | memoryview, base: int,
                 v2: bool) -> tuple[list[UserInfo], list[GroupInfo]]:
    users: list[UserInfo] = []
    groups: list[GroupInfo] = []
    c = _Cursor(body, base, "user list")
    while c.left() >= 4:
        start = c.pos
        if v2:
            entrylen = c.u32()
            if entrylen < 5:
                raise c.fail(f"bad entry length {entrylen}")
            c.need(entrylen - 4)
            end = start + entrylen
        ent = _Cursor(body, base, "user list", c.pos, end if v2 else None)
        if ent.u8() == 0:
            uid, gid = ent.u32(), ent.u32()
            name, home, shell = (_text(ent.str16(255, f)) for f in ("name", "homedir", "shell"))
            users.append(UserInfo(uid, gid, name, home, shell))
        else:
            gid = ent.u32()
            groups.append(GroupInfo(gid, _text(ent.str16(255, "name"))))
        c.pos = end if v2 else ent.pos
    return users, groups


def decode_proclist(body: bytes | memoryview, base: int, version: int) -> list[ProcInfo]:
    out: list[ProcInfo] = []
    c = _Cursor(body, base, f"process list V{version}")
    while c.left() >= 4:
        start = c.pos
        end = None
        if version >= 9:
            entrylen = c.u32()
            if entrylen < 4:
                raise c.fail(f"bad entry length {entrylen}")
            c.need(entrylen - 4)
            end = start + entrylen
        e = _Cursor(body, base, c.what, c.pos, end)
        f: dict[str, Any] = {"tid": e.i64(), "pid": e.i64(), "ptid": e.i64()}
        if version >= 6:
            f["sid"] = e.i64()
        if version >= 8:
            f["vpgid"] = e.i64()
        f["comm"] = _text(e.str16(1024, "comm"))
        f["exe"] = _text(e.str16(1024, "exe"))
        if version >= 7:
            f["exepath"] = _text(e.str16(1024, "exepath"))
        f["args"] = _strlist(e.str16(4096, "args"))
        f["cwd"] = _text(e.str16(1024, "cwd"))
        f["fdlimit"] = e.i64()
        f["flags"] = e.u32()
        f["uid"] = e.u32()
        f["gid"] = e.u32()
        if version >= 2:
            f["vmsize_kb"], f["vmrss_kb"], f["vmswap_kb"] = e.u32(), e.u32(), e.u32()
            f["pfmajor"], f["pfminor"] = e.u64(), e.u64()
        if version >= 3:
            f["env"] = _strlist(e.str16(4096, "env"))
        if version >= 4:
            f["vtid"], f["vpid"] = e.i64(), e.i64()
            f["cgroups"] = _strlist(e.str16(4096, "cgroups"))
        if version >= 5:
            f["root"] = _text(e.str16(1024, "root"))
        if version >= 9:
            _v9_trailer(e, f)
            c.pos = end  # type: ignore[assignment]
        else:
            c.pos = e.pos
        out.append(ProcInfo(**f))
    return out


def _v9_trailer(e: _Cursor, f: dict[str, Any]) -> None:
    """Read the optional fields after `root` in either V9 layout (chosen by size, §8.1)."""
    left = e.left()
    if left == 0:
        return
    if left <= 29:  # pre-0.10 layout
        fields = [("loginuid", _U32), ("exe_writable", _U8), ("cap_inheritable", _U64),
                  ("cap_permitted", _U64), ("cap_effective", _U64)]
    else:
        fields = [("pidns_init_start_ts", _U64), ("tty", _U32), ("loginuid", _U32),
                  ("exe_writable", _U8), ("cap_inheritable", _U64), ("cap_permitted", _U64),
                  ("cap_effective", _U64), ("exe_upper_layer", _U8), ("exe_ino", _U64),
                  ("exe_ino_ctime", _U64), ("exe_ino_mtime", _U64), ("exe_from_memfd", _U8),
                  ("exe_lower_layer", _U8), ("pgid", _I64)]
    for name, st in fields:
        if e.left() < st.size:
            break
        v = e.unpack(st)
        f[name] = bool(v) if st is _U8 else v


_STR_FD_TYPES = frozenset({1, 2, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21})


def decode_fdlist(body: bytes | memoryview, base: int, v2: bool) -> tuple[int, list[FdEntry]]:
    c = _Cursor(body, base, "fd list")
    tid = c.i64()
    out: list[FdEntry] = []
    while c.left() >= 4:
        start = c.pos
        end = None
        if v2:
            entrylen = c.u32()
            if entrylen < 4:
                raise c.fail(f"bad entry length {entrylen}")
            c.need(entrylen - 4)
            end = start + entrylen
        e = _Cursor(body, base, "fd list", c.pos, end)
        fd, ino, ftype = e.i64(), e.u64(), e.u8()
        if ftype in _STR_FD_TYPES:
            ent = FdEntry(fd, ino, ftype, name=_text(e.str16(1023, "fd name")))
        elif ftype == FdType.FILE_V2:
            flags = e.u32()
            name = _text(e.str16(1023, "fd name"))
            dev = e.u32() if (v2 and e.left() >= 4) else None
            ent = FdEntry(fd, ino, ftype, name=name, open_flags=flags, dev=dev)
        elif ftype == FdType.IPV4_SOCK:
            sip, dip = _ip4(e.raw(4)), _ip4(e.raw(4))
            sport, dport, proto = e.u16(), e.u16(), e.u8()
            ent = FdEntry(fd, ino, ftype, sip=sip, sport=sport, dip=dip, dport=dport,
                          l4proto=proto)
        elif ftype == FdType.IPV6_SOCK:
            sip, dip = _ip6(e.raw(16)), _ip6(e.raw(16))
            sport, dport, proto = e.u16(), e.u16(), e.u8()
            ent = FdEntry(fd, ino, ftype, sip=sip, sport=sport, dip=dip, dport=dport,
                          l4proto=proto)
        elif ftype in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK):
            ip = _ip4(e.raw(4)) if ftype == FdType.IPV4_SERVSOCK else _ip6(e.raw(16))
            ent = FdEntry(fd, ino, ftype, sip=ip, sport=e.u16(), l4proto=e.u8())
        elif ftype == FdType.UNIX_SOCK:
            src, dst = e.u64(), e.u64()
            ent = FdEntry(fd, ino, ftype, name=_text(e.str16(1023, "fd name")), source=src,
                          dest=dst)
        elif ftype == FdType.UNKNOWN:
            ent = FdEntry(fd, ino, ftype)
        else:
            raise e.fail(f"wrong fd type {ftype}")
        out.append(ent)
        c.pos = end if v2 else e.pos  # type: ignore[assignment]
    return tid, out


# -- encoders (the writer's block bodies; the current versions only) -------------------------
def _str16(s: str | bytes) -> bytes:
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise ValueError("string too long for a str16 field")
    return _U16.pack(len(b)) + b


def _strlist16(items: list[str]) -> bytes:
    return _str16(b"".join(s.encode("utf-8", "surrogateescape") + b"\0" for s in items))


def pad4(n: int) -> int:
    return (n + 3) & ~3


def frame(btype: int, body: bytes) -> bytes:
    """Wrap a body into a block: header, body, zero padding to 4, trailer."""
    total = 12 + pad4(len(body))
    return b"".join((BLOCK_HEADER.pack(btype, total), body, b"\0" * (total - 12 - len(body)),
                     _U32.pack(total)))


def encode_shb(major: int = 1, minor: int = 2) -> bytes:
    return frame(SHB, struct.pack("<IHHQ", SHB_MAGIC, major, minor, 0xFFFFFFFFFFFFFFFF))


def encode_machine_info(m: MachineInfo) -> bytes:
    host = m.hostname.encode("utf-8", "surrogateescape")[:127]
    return frame(MI, _MI.pack(m.num_cpus, m.memory_size_bytes, m.max_pid, host,
                              m.boot_ts_epoch, m.flags, m.reserved3, m.reserved4))


def encode_interfaces(ifs: list[InterfaceInfo]) -> bytes:
    """IL v2, IPv4 entries first, every entry with a link speed (types 1/2) as libs writes."""
    parts = []
    for i in sorted(ifs, key=lambda x: x.is_ipv6):
        fam = socket.AF_INET6 if i.is_ipv6 else socket.AF_INET
        name = i.name.encode("utf-8", "surrogateescape")
        ent = b"".join((struct.pack("<HH", 2 if i.is_ipv6 else 1, len(name)),
                        socket.inet_pton(fam, i.addr), socket.inet_pton(fam, i.netmask),
                        socket.inet_pton(fam, i.bcast), _U64.pack(i.linkspeed or 0), name))
        parts.append(_U32.pack(len(ent)) + ent)
    return frame(IL_V2, b"".join(parts))


def encode_users(users: list[UserInfo], groups: list[GroupInfo]) -> bytes:
    parts = []
    for u in users:
        ent = b"\0" + struct.pack("<II", u.uid, u.gid) + _str16(u.name) + _str16(u.homedir) \
            + _str16(u.shell)
        parts.append(_U32.pack(len(ent) + 4) + ent)
    for g in groups:
        ent = b"\1" + _U32.pack(g.gid) + _str16(g.name)
        parts.append(_U32.pack(len(ent) + 4) + ent)
    return frame(UL_V2, b"".join(parts))


def encode_proclist(procs: list[ProcInfo]) -> bytes:
    """PL V9 with the pre-0.10 trailing layout (loginuid, exe_writable, 3 capability sets),
    the layout both sysdig 0.29.3 and current libs read the same way (§8.1)."""
    parts = []
    for p in procs:
        ent = b"".join((
            struct.pack("<qqqqq", p.tid, p.pid, p.ptid, p.sid, p.vpgid),
            _str16(p.comm), _str16(p.exe), _str16(p.exepath), _strlist16(p.args),
            _str16(p.cwd),
            struct.pack("<qIII", p.fdlimit, p.flags & 0xFFFFFFFF, p.uid & 0xFFFFFFFF,
                        p.gid & 0xFFFFFFFF),
            # the block's vm sizes are u32 KiB, cut as libs' C assignment cuts them (a process
            # that reserves > 4 TiB of address space, e.g. under ASan, must not stop a -w)
            struct.pack("<IIIQQ", p.vmsize_kb & 0xFFFFFFFF, p.vmrss_kb & 0xFFFFFFFF,
                        p.vmswap_kb & 0xFFFFFFFF, p.pfmajor, p.pfminor),
            _strlist16(p.env), struct.pack("<qq", p.vtid, p.vpid), _strlist16(p.cgroups),
            _str16(p.root),
            struct.pack("<IBQQQ", p.loginuid & 0xFFFFFFFF, int(p.exe_writable),
                        p.cap_inheritable, p.cap_permitted, p.cap_effective),
        ))
        parts.append(_U32.pack(len(ent) + 4) + ent)
    return frame(PL_V9, b"".join(parts))


def encode_fdlist(tid: int, fds: list[FdEntry]) -> bytes:
    """FDL v2; fd types 17-21 are written as UNSUPPORTED (10), which sysdig 0.29.3 reads."""
    parts = [_I64.pack(tid)]
    for f in fds:
        ftype = FdType.UNSUPPORTED if f.type > FdType.FILE_V2 else f.type
        head = struct.pack("<qQB", f.fd, f.ino, ftype)
        if ftype == FdType.FILE_V2:
            payload = _U32.pack(f.open_flags) + _str16(f.name) + \
                (_U32.pack(f.dev) if f.dev is not None else b"")
        elif ftype == FdType.IPV4_SOCK:
            payload = socket.inet_pton(socket.AF_INET, f.sip or "0.0.0.0") + \
                socket.inet_pton(socket.AF_INET, f.dip or "0.0.0.0") + \
                struct.pack("<HHB", f.sport, f.dport, f.l4proto)
        elif ftype == FdType.IPV6_SOCK:
            payload = socket.inet_pton(socket.AF_INET6, f.sip or "::") + \
                socket.inet_pton(socket.AF_INET6, f.dip or "::") + \
                struct.pack("<HHB", f.sport, f.dport, f.l4proto)
        elif ftype == FdType.IPV4_SERVSOCK:
            payload = socket.inet_pton(socket.AF_INET, f.sip or "0.0.0.0") + \
                struct.pack("<HB", f.sport, f.l4proto)
        elif ftype == FdType.IPV6_SERVSOCK:
            payload = socket.inet_pton(socket.AF_INET6, f.sip or "::") + \
                struct.pack("<HB", f.sport, f.l4proto)
        elif ftype == FdType.UNIX_SOCK:
            payload = struct.pack("<QQ", f.source, f.dest) + _str16(f.name)
        elif ftype == FdType.UNKNOWN:
            payload = b""
        else:
            payload = _str16(f.name)
        ent = head + payload
        parts.append(_U32.pack(len(ent) + 4) + ent)
    return frame(FDL_V2, b"".join(parts))

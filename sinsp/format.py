"""sysdig's text: event parameters (``evt.args``), ``-p`` formats and the default line.

Everything here reproduces what Debian's sysdig 0.29.3 prints, byte for byte, because the
differential tests compare our output with it line by line. The rules come from libsinsp's
``sinsp_evt::get_param_as_str`` and ``sinsp_evt_formatter`` (0.29.3) and were checked against
the binary; §12.3 of ``shared/docs/scap-format.md`` lists them.

Two halves:

* :func:`param_str` / :func:`event_args` turn one event's parameters into
  ``name=value(resolved) `` text. Parameters are rendered from their stored bytes, with
  0.29.3's event table (its names and print formats), so that numbers come out with the
  same signedness quirks as sysdig (``PF_DEC`` prints a UINT64 as signed ...).
* :class:`Formatter` compiles a ``-p`` format once into a list of closures, one per
  literal or ``%field`` token, so printing an event is one call per token.

State (threads, fds, users) is read through the ``sinsp.Event`` the inspector hands out;
nothing here mutates it.
"""

from __future__ import annotations

import base64
import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scap import schema
from scap.schema import EF, PF, PT

__all__ = [
    "DEFAULT_FORMAT",
    "BufferFormat",
    "FormatError",
    "Formatter",
    "RenderOptions",
    "event_args",
    "param_str",
    "render_value",
    "sanitize",
]

#: sysdig 0.29.3's default output line (``DEFAULT_OUTPUT_STR`` with ``*``: print even when a
#: field is N/A).
DEFAULT_FORMAT = ("*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir "
                  "%evt.type %evt.info")

PPM_AT_FDCWD = -100
_NA = "<NA>"


class FormatError(ValueError):
    """A ``-p`` format that cannot be compiled; ``pos`` is the offset of the bad token."""

    def __init__(self, message: str, fmt: str, pos: int) -> None:
        super().__init__(f"{message} (at offset {pos} of {fmt!r})")
        self.message = message
        self.fmt = fmt
        self.pos = pos


class BufferFormat:
    """How BYTEBUF parameters are printed (sysdig ``-b``/``-x``/``-X``/``-A``, default dots)."""

    DOTS = "dots"
    BASE64 = "base64"
    HEX = "hex"
    HEXASCII = "hexascii"
    ASCII = "ascii"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Output knobs: buffer format, the BYTEBUF cut (0 = whole; sysdig cuts at 80 unless
    ``-v``), whether values go to JSON (``-j``) and the ``-t`` time flag."""

    buffer_format: str = BufferFormat.DOTS
    max_buf_len: int = 80
    json: bool = False
    time_flag: str = "h"  # sysdig -t: %evt.outputtime as h(uman), a(bsolute), r(elative), d, D


DEFAULT_OPTIONS = RenderOptions()

# --------------------------------------------------------------------------------------
# small text helpers
# --------------------------------------------------------------------------------------

_INVALID = bytes(range(127, 255))  # libsinsp g_invalidchar: signed char < -1 or > 126


def sanitize(text: str) -> str:
    """libsinsp ``sanitize_string``: drop bytes 127..254 (DEL and non-ASCII but 0xFF)."""
    if text.isascii() and "\x7f" not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    return raw.translate(None, _INVALID).decode("utf-8", "surrogateescape")


def _cstr(data: bytes) -> str:
    """A C string out of a parameter: up to the first NUL, bytes kept via surrogateescape."""
    end = data.find(b"\0")
    if end >= 0:
        data = data[:end]
    return data.decode("utf-8", "surrogateescape")


_ERRNO_NAMES = {
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
    8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
    14: "EFAULT", 15: "ENOTBLK", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV",
    20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY",
    26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK",
    32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG", 37: "ENOLCK",
    38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 512: "ERESTARTSYS", 101: "ENETUNREACH",
    115: "EINPROGRESS", 110: "ETIMEDOUT", 104: "ECONNRESET", 111: "ECONNREFUSED",
    514: "ERESTARTNOHAND", 99: "EADDRNOTAVAIL", 107: "ENOTCONN", 100: "ENETDOWN",
    95: "EOPNOTSUPP", 88: "ENOTSOCK", 516: "ERESTART_RESTARTBLOCK", 98: "EADDRINUSE",
    91: "EPROTOTYPE", 114: "EALREADY",
}  # fmt: skip
"""sinsp_utils::errno_to_str: only these codes have names in sysdig 0.29.3."""

_SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG",
    24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH",
    29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}  # fmt: skip


def errno_name(code: int) -> str:
    """Name of ``-code`` as sysdig shows it, or ``""``."""
    return _ERRNO_NAMES.get(-code, "")


def signal_name(sig: int) -> str:
    return _SIGNAL_NAMES.get(sig, "")


def _c_g(value: float) -> str:
    """C's ``%g``."""
    return "%g" % value  # noqa: UP031 - printf semantics wanted


def ipv4_str(raw: bytes) -> str:
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def ipv6_str(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def _is_v4_mapped(raw: bytes) -> bool:
    return raw[:10] == b"\0" * 10 and raw[10:12] == b"\xff\xff"


# --------------------------------------------------------------------------------------
# paths (sinsp_utils::concatenate_paths / copy_and_sanitize_path)
# --------------------------------------------------------------------------------------


def concatenate_paths(base: str, path: str) -> tuple[str, bool]:
    """Join ``path`` to ``base`` as libsinsp does, normalising ``.``/``..``/``//``.

    Returns ``(result, True)`` for a relative ``path`` and ``(normalised path, False)`` for
    an absolute one (sinsp then shows no resolved text).
    """
    if path and path[0] != "/":
        out = list(base)
        _copy_and_sanitize(out, 0, path)
        return "".join(out), True
    out = []
    _copy_and_sanitize(out, 0, path)
    return "".join(out), False


def _rewind(out: list[str], base: int) -> None:
    if len(out) <= base + 1:
        return
    out.pop()
    while len(out) >= base + 1 and out[-1] != "/":
        out.pop()


def _copy_and_sanitize(out: list[str], base: int, path: str) -> None:
    raw = path.encode("utf-8", "surrogateescape")
    n = len(raw)
    i = 0
    while True:
        if i >= n or raw[i] == 0:
            if len(out) > base + 1 and out[-1] == "/":
                out.pop()
            return
        c = raw[i]
        if 127 <= c <= 254:
            out.append(".")
            i += 1
        elif c == 0x2E and raw[i + 1 : i + 3] == b"./":
            _rewind(out, base)
            i += 3
        elif c == 0x2E and raw[i + 1 : i + 2] == b".":
            if i + 2 >= n or raw[i + 2] == 0:
                _rewind(out, base)
                i += 2
            else:
                out.extend("..")
                i += 2
        elif c == 0x2E and raw[i + 1 : i + 2] == b"/":
            i += 2
        elif c == 0x2E:
            if i + 1 >= n or raw[i + 1] == 0:
                i += 1
            else:
                out.append(".")
                i += 1
        elif c == 0x2F:
            if len(out) > base and out[-1] == "/":
                i += 1
            else:
                out.append("/")
                i += 1
        else:
            out.append(bytes([c]).decode("utf-8", "surrogateescape") if c >= 0x80 else chr(c))
            i += 1


# --------------------------------------------------------------------------------------
# state access: the few things parameter rendering asks of the inspector's state
# --------------------------------------------------------------------------------------


def thread_fd(thread: Any, fd: int) -> Any:
    """The FdInfo of ``fd`` in ``thread``'s (possibly shared) fd table, or None."""
    if thread is None:
        return None
    table = thread.fd_table()
    return table.get(fd) if table is not None else None


def _inspector_thread(evt: Any, tid: int) -> Any:
    insp = getattr(evt, "inspector", None)
    threads = getattr(insp, "threads", None) if insp is not None else None
    return threads.get(tid) if threads is not None else None


def _user_name(evt: Any, uid: int) -> str | None:
    insp = getattr(evt, "inspector", None)
    users = getattr(insp, "users", None) if insp is not None else None
    if users is None:
        return None
    u = users.user(uid)
    return None if u is None else u.name


def _group_name(evt: Any, gid: int) -> str | None:
    insp = getattr(evt, "inspector", None)
    users = getattr(insp, "users", None) if insp is not None else None
    if users is None:
        return None
    g = users.group(gid)
    return None if g is None else g.name


_L4_CHARS = {2: "t", 3: "u", 4: "i", 5: "r"}
_SOCK_TYPES = frozenset({3, 4, 5, 6})


_TYPECHARS = {1: "f", 2: "d", 3: "4", 4: "6", 5: "4", 6: "6", 7: "p", 8: "u", 9: "e", 11: "s",
              12: "l", 13: "i", 14: "t", 15: "n", 16: "f", 17: "b", 18: "u", 19: "r", 20: "m",
              21: "P"}  # fmt: skip


def typechar(fdinfo: Any) -> str:
    """sinsp_fdinfo::get_typechar: one letter per fd type, ``o`` for unknown/unsupported."""
    return _TYPECHARS.get(fdinfo.type, "o")


L4_NA = 1
L4_RAW = 5
_ROLE_FLAGS = 0b11  # sinsp.state.fds FLAG_ROLE_CLIENT | FLAG_ROLE_SERVER


def role_known(fdinfo: Any) -> bool:
    """libsinsp ``!is_role_none()``: seen as a client or a server (the parsers set the role
    flags). A listening socket made by bind() is a server; one from the capture's fd list
    has no role (sinsp gives none to loaded sockets). The parsers set no flag on bind, so
    the two are told apart by the inode only fd-list entries carry."""
    if fdinfo.flags & _ROLE_FLAGS:
        return True
    return fdinfo.type in (5, 6) and not fdinfo.ino


def l4proto_of(fdinfo: Any) -> int:
    """sinsp_fdinfo::get_l4proto: a client/server socket has no protocol yet (``NA``) while
    neither end is known (before connect/accept), except raw sockets; other fds have none."""
    t = fdinfo.type
    if t in (3, 4):
        if fdinfo.l4proto == L4_RAW:
            return L4_RAW
        if not role_known(fdinfo):
            return L4_NA
        return int(fdinfo.l4proto)
    if t in (5, 6):
        return int(fdinfo.l4proto)
    return L4_NA


def fd_desc(fdinfo: Any, simple: bool = False) -> str:
    """``<f>/etc/passwd``-style description of an fd (sinsp_evt::render_fd)."""
    tch = "" if simple else typechar(fdinfo)
    proto = _L4_CHARS.get(l4proto_of(fdinfo), "") if fdinfo.type in _SOCK_TYPES else ""
    return f"<{tch}{proto}>{sanitize(fdinfo.name)}"


def cwd_of(thread: Any) -> str:
    cwd = thread.get_cwd()
    out: str = cwd if cwd.endswith("/") else cwd + "/"
    return out


# --------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------

_S8 = struct.Struct("<b")
_S16 = struct.Struct("<h")
_S32 = struct.Struct("<i")
_S64 = struct.Struct("<q")
_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

# (struct, width in bits, signed): how 0.29.3 reads each integer type before printf
_INT_LAYOUT = {
    PT.INT8: (_S8, 8), PT.INT16: (_S16, 16), PT.INT32: (_S32, 32), PT.INT64: (_S64, 64),
    PT.UINT8: (_U8, 8), PT.UINT16: (_U16, 16), PT.UINT32: (_U32, 32), PT.UINT64: (_S64, 64),
}  # fmt: skip


def printf_int(value: int, bits: int, fmt: int) -> str:
    """An integer through libsinsp's SET_NUMERIC_FORMAT: ``%#o``/``%d``/``%09d``/``%X``.

    ``value`` is what the C code passed to printf (already sign-interpreted); types up to
    32 bits are promoted to a C int.
    """
    if bits <= 32:
        if value >= 1 << 31:
            value -= 1 << 32  # %d of a uint32 is signed
        unsigned = value & 0xFFFFFFFF
    else:
        unsigned = value & 0xFFFFFFFFFFFFFFFF
    if fmt == PF.OCT:
        return "0" if unsigned == 0 else "0" + format(unsigned, "o")
    if fmt == PF.HEX:
        return format(unsigned, "X")
    if fmt == PF.PADDED_DEC_10:
        return "%09d" % value  # noqa: UP031
    return str(value)


def _render_bytebuf(data: bytes, opts: RenderOptions) -> str:
    mode = opts.buffer_format
    if mode == BufferFormat.BASE64:
        return base64.b64encode(data).decode("ascii")
    if mode in (BufferFormat.HEX, BufferFormat.HEXASCII):
        return _hex_dump(data, mode == BufferFormat.HEXASCII)
    if mode == BufferFormat.ASCII:
        return _ascii_only(data)
    text = data.translate(_DOTS).decode("ascii")
    cut = opts.max_buf_len
    if cut and len(text) > cut and not opts.json:
        text = text[: cut - 3] + "..."
    return text


_DOTS = bytes(c if 32 <= c < 127 else 0x2E for c in range(256))


def _ascii_only(data: bytes) -> str:
    out = ["\n"]
    prev = -1
    for c in data:
        if 32 <= c < 127:
            out.append(chr(c))
        elif c == 13 or (c == 10 and prev not in (-1, 13)):
            out.append("\n")
        prev = c
    return "".join(out)


def _hex_dump(data: bytes, with_ascii: bool) -> str:
    rows = []
    for j in range(0, len(data), 16):
        chunk = data[j : j + 16]
        row = [f"\n\t0x{j:04x}:"]
        for k in range(0, len(chunk), 2):
            pair = chunk[k : k + 2]
            row.append(f" {pair[0]:02x}{pair[1]:02x}" if len(pair) == 2 else f" {pair[0]:02x}")
        if with_ascii:
            row.append("     " * (8 - (len(chunk) + 1) // 2) + "  ")
            row.append(chunk.translate(_DOTS).decode("ascii"))
        rows.append("".join(row))
    return "".join(rows) + "\n"


def _sockaddr_str(data: bytes) -> str:
    fam = data[0]
    if fam == 1:
        return sanitize(_cstr(data[1:]))
    if fam == 2:
        if len(data) != 7:
            return "INVALID IPv4"
        return f"{ipv4_str(data[1:5])}:{_U16.unpack_from(data, 5)[0]}"
    if fam == 10:
        if len(data) != 19:
            return "INVALID IPv6"
        return f"{ipv6_str(data[1:17])}:{_U16.unpack_from(data, 17)[0]}"
    return f"family {_S8.unpack_from(data, 0)[0]}"


def _socktuple_str(data: bytes) -> str:
    fam = data[0]
    if fam == 2:
        if len(data) != 13:
            return "INVALID IPv4"
        sport = _U16.unpack_from(data, 5)[0]
        dport = _U16.unpack_from(data, 11)[0]
        return f"{ipv4_str(data[1:5])}:{sport}->{ipv4_str(data[7:11])}:{dport}"
    if fam == 10:
        if len(data) != 37:
            return "INVALID IPv6"
        sip, dip = data[1:17], data[19:35]
        sport = _U16.unpack_from(data, 17)[0]
        dport = _U16.unpack_from(data, 35)[0]
        if _is_v4_mapped(sip) and _is_v4_mapped(dip):
            return f"{ipv4_str(sip[12:])}:{sport}->{ipv4_str(dip[12:])}:{dport}"
        return f"{ipv6_str(sip)}:{sport}->{ipv6_str(dip)}:{dport}"
    if fam == 1:
        src, dst = struct.unpack_from("<QQ", data, 1)
        return f"{src:x}->{dst:x} {sanitize(_cstr(data[17:]))}"
    return f"family {_S8.unpack_from(data, 0)[0]}"


def _base_dir(evt: Any, rec: Any, einfo: Any, pinfo: Any, thread: Any) -> str:
    """Directory a relative path param resolves against (sinsp_evt::get_base_dir)."""
    cwd = cwd_of(thread)
    if pinfo.type != PT.FSRELPATH:
        return cwd
    idx = pinfo.info
    if not isinstance(idx, int) or idx >= len(einfo.params) or idx >= rec.nparams:
        return cwd
    if einfo.params[idx].type != PT.FD:
        return cwd
    dirfd = _S64.unpack(rec.rawparam(idx))[0]
    if dirfd == PPM_AT_FDCWD:
        return cwd
    fdi = thread_fd(thread, dirfd)
    if fdi is None or not fdi.name:
        return ""
    return sanitize(fdi.name) + "/"


def param_str(
    evt: Any,
    idx: int,
    opts: RenderOptions = DEFAULT_OPTIONS,
    einfo: Any = None,
    data: bytes | None = None,
) -> tuple[str, str]:
    """Parameter ``idx`` of ``evt`` as sysdig prints it: ``(value, resolved)``.

    ``resolved`` is ``""`` when sysdig adds nothing in parentheses.
    """
    rec = evt.record
    if einfo is None:
        einfo = display_info(rec.type)
    pinfo = einfo.params[idx]
    if data is None:
        data = rec.rawparam(idx)
    ptype = pinfo.type
    if not data:
        # 0.29.3 has no notion of empty params: strings and buffers print empty, the rest
        # (never written for it) as current libs shows them.
        return ("", "") if ptype in _TEXT_TYPES else ("NULL", "")
    fmt = pinfo.fmt
    if ptype == PT.DYN:
        subs = pinfo.info
        if subs and data[0] < len(subs):
            pinfo = subs[data[0]]
            ptype = pinfo.type
            data = data[1:]
        else:
            return "INVALID DYNAMIC PARAMETER", ""
    layout = _INT_LAYOUT.get(ptype)
    if layout is not None:
        st, bits = layout
        if len(data) < st.size:
            return "(n.a.)", ""
        return printf_int(st.unpack_from(data)[0], bits, fmt), ""
    thread = evt.thread
    if ptype == PT.FD:
        fd = _S64.unpack_from(data)[0]
        if thread is None:
            return str(fd), ""
        if fd >= 0:
            fdi = thread_fd(thread, fd)
            return str(fd), ("" if fdi is None else fd_desc(fdi))
        if fd == PPM_AT_FDCWD:
            return str(fd), "AT_FDCWD"
        return str(fd), errno_name(fd)
    if ptype == PT.ERRNO:
        val = _S64.unpack_from(data)[0]
        return str(val), (errno_name(val) if val < 0 else "")
    if ptype == PT.CHARBUF:
        return _cstr(data), ""
    if ptype in (PT.FSPATH, PT.FSRELPATH):
        value = sanitize(_cstr(data))
        if thread is None:
            return value, value
        raw = _cstr(data)
        if raw == "<NA>":
            return value, ""
        joined, relative = concatenate_paths(_base_dir(evt, rec, einfo, pinfo, thread), raw)
        return value, (joined if relative else "")
    if ptype == PT.BYTEBUF:
        return _render_bytebuf(data, opts), ""
    if ptype == PT.PID:
        pid = _S64.unpack_from(data)[0]
        t = _inspector_thread(evt, pid)
        return str(pid), ("" if t is None else t.comm)
    if ptype in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32):
        val = int.from_bytes(data[: {PT.FLAGS8: 1, PT.FLAGS16: 2}.get(ptype, 4)], "little")
        orig = einfo.params[idx]
        names = schema.flags_to_names(orig if orig.type != PT.DYN else pinfo, val)
        return str(val), "|".join(names)
    if ptype == PT.MODE:
        val = _U32.unpack_from(data)[0]
        names = schema.flags_to_names(pinfo, val)
        return printf_int(val, 32, fmt), "|".join(names)
    if ptype in (PT.UID, PT.GID):
        val = _U32.unpack_from(data)[0]
        if val == 0xFFFFFFFF:
            return "-1", "<NONE>"
        name = None
        if thread is not None:
            name = _user_name(evt, val) if ptype == PT.UID else _group_name(evt, val)
        return printf_int(val, 32, PF.DEC), (_NA if name is None else sanitize(name))
    if ptype == PT.SOCKADDR:
        return _sockaddr_str(data), ""
    if ptype == PT.SOCKTUPLE:
        return _socktuple_str(data), ""
    if ptype == PT.FDLIST:
        if thread is None:
            return "", ""
        n = _U16.unpack_from(data)[0]
        items = []
        pos = 2
        for _ in range(n):
            if pos + 10 > len(data):
                break
            fd, flags = struct.unpack_from("<qh", data, pos)
            fdi = thread_fd(thread, fd)
            tch = "?" if fdi is None else typechar(fdi)
            items.append(f"{fd & 0xFFFFFFFFFFFFFFFF}:{tch}{flags & 0xFFFFFFFF:x}")
            pos += 10
        return " ".join(items), ""
    if ptype == PT.SYSCALLID:
        code = _U16.unpack_from(data)[0]
        sc_names = schema.SYSCALL_NAMES_0_29_3
        if code >= len(sc_names):
            return "<unknown syscall>", ""
        return str(code), sc_names[code]
    if ptype == PT.SIGTYPE:
        sig = data[0]
        return str(sig), signal_name(sig)
    if ptype == PT.RELTIME:
        val = _U64.unpack_from(data)[0]
        if val == 0xFFFFFFFFFFFFFFFF:
            return "none", ""
        return str(val), _c_g(val / 1e9) + "s"
    if ptype == PT.SIGSET:
        val = _U32.unpack_from(data)[0]
        return " ".join(s for b in range(32) if val >> b & 1 and (s := signal_name(b + 1))), ""
    if ptype == PT.ABSTIME:
        return "INVALID DYNAMIC PARAMETER", ""  # 0.29.3 falls through to the PT_DYN case
    return "(n.a.)", ""


_TEXT_TYPES = frozenset({PT.CHARBUF, PT.BYTEBUF, PT.FSPATH, PT.FSRELPATH})


def display_info(etype: int) -> Any:
    """The event-table entry sysdig 0.29.3 would use for ``etype`` (current libs' past it)."""
    table = _DISPLAY_TABLE
    if not table:
        table.extend(schema.EVENT_INFO_0_29_3)
        table.extend(schema.EVENT_INFO[len(table) :])
    return table[etype] if 0 <= etype < len(table) else None


_DISPLAY_TABLE: list[Any] = []


_LARGE = frozenset({322, 324, 402})
_LENS = [struct.Struct(f"<{n}H") for n in range(64)]


def _param_bytes(rec: Any) -> list[bytes] | None:
    """Every stored parameter of a record, sliced once (None for u32-length records)."""
    n = rec.nparams
    if rec.type in _LARGE or n >= len(_LENS):
        return None
    raw = rec.raw
    lens = _LENS[n].unpack_from(raw, 26)
    pos = 26 + 2 * n
    out = []
    for ln in lens:
        out.append(raw[pos : pos + ln])
        pos += ln
    return out


_K_GENERIC, _K_INT, _K_ERRNO, _K_CHARBUF, _K_FD, _K_PID, _K_FLAGS, _K_PATH, _K_INTFMT = range(9)
_FLAG_WIDTH = {PT.FLAGS8: 1, PT.FLAGS16: 2, PT.FLAGS32: 4}
# %d of the value as the C code passes it: 8/16-bit values promote unchanged, 32/64-bit
# unsigned ones are printed signed
_FAST_INT = {PT.INT8: _S8, PT.INT16: _S16, PT.INT32: _S32, PT.INT64: _S64, PT.UINT8: _U8,
             PT.UINT16: _U16, PT.UINT32: _S32, PT.UINT64: _S64}  # fmt: skip
_PLANS: dict[int, tuple[tuple[str, int, Any], ...]] = {}


def _plan(etype: int, einfo: Any) -> tuple[tuple[str, int, Any], ...]:
    """Per event type: (``name=``, kind, struct) per param; plain decimal ints, errnos and
    char buffers take a fast path, everything else goes through :func:`param_str`."""
    plan: list[tuple[str, int, Any]] = []
    for p in einfo.params:
        fast = _FAST_INT.get(p.type)
        if fast is not None and p.fmt not in (PF.OCT, PF.HEX, PF.PADDED_DEC_10):
            plan.append((p.name + "=", _K_INT, fast))
        elif fast is not None:
            # octal modes, hex addresses: printf_int with a value -> text memo
            st, bits = _INT_LAYOUT[p.type]
            plan.append((p.name + "=", _K_INTFMT, (st, bits, p.fmt, {})))
        elif p.type == PT.ERRNO:
            plan.append((p.name + "=", _K_ERRNO, _S64))
        elif p.type == PT.CHARBUF:
            plan.append((p.name + "=", _K_CHARBUF, None))
        elif p.type == PT.FD:
            plan.append((p.name + "=", _K_FD, _S64))
        elif p.type == PT.PID:
            plan.append((p.name + "=", _K_PID, _S64))
        elif p.type in _FLAG_WIDTH:
            # value -> text memo: flag words repeat, their names are costly to work out
            plan.append((p.name + "=", _K_FLAGS, (_FLAG_WIDTH[p.type], p, {})))
        elif p.type == PT.FSPATH:
            plan.append((p.name + "=", _K_PATH, None))
        else:
            plan.append((p.name + "=", _K_GENERIC, None))
    result = tuple(plan)
    _PLANS[etype] = result
    return result


def event_args(evt: Any, opts: RenderOptions = DEFAULT_OPTIONS) -> str:
    """``%evt.args``: ``name=value`` or ``name=value(resolved)``, each followed by a space;
    empty for the generic syscall events."""
    rec = evt.record
    render = _COMPILED.get(rec.type << 8 | rec.nparams)
    if render is None:
        render = _compiled_for(rec.type, rec.nparams)
    out: str = render(evt, opts)
    return out


def _no_args(evt: Any, opts: RenderOptions = DEFAULT_OPTIONS) -> str:
    return ""


def _compiled_for(etype: int, nrec: int) -> Any:
    """The renderer of ``etype`` records carrying ``nrec`` params: generated (see
    ``_compile_args``) or the plan loop (u32-length records, odd shapes)."""
    render: Any = _event_args_loop
    einfo = display_info(etype)
    if etype <= 1 or einfo is None:
        render = _no_args
    elif etype not in _LARGE and nrec < len(_LENS) and nrec < 256:
        plan = _PLANS.get(etype) or _plan(etype, einfo)
        render = _compile_args(etype, einfo, plan[:nrec], nrec) if plan[:nrec] else _no_args
    if nrec < 256:
        _COMPILED[etype << 8 | nrec] = render
    return render


def _event_args_loop(evt: Any, opts: RenderOptions = DEFAULT_OPTIONS) -> str:
    """``event_args`` by walking the per-type plan (any record shape)."""
    rec = evt.record
    etype = rec.type
    if etype <= 1:
        return ""
    plan = _PLANS.get(etype)
    if plan is None:
        einfo = display_info(etype)
        if einfo is None:
            return ""
        plan = _plan(etype, einfo)
    else:
        einfo = _DISPLAY_TABLE[etype]
    n = min(rec.nparams, len(plan))
    if n == 0:
        return ""
    datas = _param_bytes(rec)
    parts = []
    thread = evt.thread
    fdtable: Any = None
    threads: Any = None
    for i in range(n):
        prefix, kind, st = plan[i]
        data = datas[i] if datas is not None else rec.rawparam(i)
        if kind == _K_INT and len(data) == st.size:
            parts.append(f"{prefix}{st.unpack(data)[0]} ")
            continue
        if kind == _K_ERRNO and len(data) == 8:
            val = st.unpack(data)[0]
            name = _ERRNO_NAMES.get(-val) if val < 0 else None
            parts.append(f"{prefix}{val}({name}) " if name else f"{prefix}{val} ")
            continue
        if kind == _K_CHARBUF:
            parts.append(f"{prefix}{_cstr(data)} ")
            continue
        if kind == _K_FLAGS:
            width, pinfo, memo = st
            if len(data) == width:
                text = memo.get(data)
                if text is None:
                    if len(memo) > 4096:
                        memo.clear()
                    val = int.from_bytes(data, "little")
                    names = "|".join(schema.flags_to_names(pinfo, val))
                    text = memo[data] = f"{val}({names}) " if names else f"{val} "
                parts.append(prefix + text)
                continue
        if kind == _K_INTFMT and len(data) >= st[0].size:
            memo = st[3]
            text = memo.get(data)
            if text is None:
                if len(memo) > 4096:
                    memo.clear()
                text = memo[data] = f"{printf_int(st[0].unpack_from(data)[0], st[1], st[2])} "
            parts.append(prefix + text)
            continue
        if kind == _K_PATH and data[:1] == b"/" and thread is not None:
            # an absolute path: shown sanitised, with no resolved form
            parts.append(f"{prefix}{sanitize(_cstr(data))} ")
            continue
        if kind == _K_FD and len(data) == 8:
            fd = st.unpack(data)[0]
            if thread is None:
                parts.append(f"{prefix}{fd} ")
                continue
            if fd >= 0:
                if fdtable is None:
                    fdtable = thread.fd_table() or {}
                fdi = fdtable.get(fd)
                resolved = "" if fdi is None else fd_desc(fdi)
            elif fd == PPM_AT_FDCWD:
                resolved = "AT_FDCWD"
            else:
                resolved = _ERRNO_NAMES.get(-fd, "")
            parts.append(f"{prefix}{fd}({resolved}) " if resolved else f"{prefix}{fd} ")
            continue
        if kind == _K_PID and len(data) == 8:
            pid = st.unpack(data)[0]
            if threads is None:
                insp = getattr(evt, "inspector", None)
                threads = getattr(insp, "threads", None) if insp is not None else None
                if threads is None:
                    threads = {}
            t = threads.get(pid)
            parts.append(f"{prefix}{pid}({t.comm}) " if t is not None and t.comm
                         else f"{prefix}{pid} ")  # fmt: skip
            continue
        value, resolved = param_str(evt, i, opts, einfo, data)
        if resolved:
            parts.append(f"{prefix}{value}({resolved}) ")
        else:
            parts.append(f"{prefix}{value} ")
    return "".join(parts)


# -- per-type compiled args renderers ---------------------------------------------------------
#
# ``_event_args_loop`` walks a per-type plan with one branch per param kind.  For records
# with u16 lengths, each (event type, param count) gets a function generated once from that
# plan: offsets computed from one lengths unpack,
# fixed-size ints read in place, one f-string per event.  Any param whose bytes do not have
# the expected size takes the same general path as the loop (``param_str``), so the output
# is the loop's by construction; tests compare both on every real capture.

_COMPILED: dict[int, Any] = {}


def _generic_text(evt: Any, i: int, data: bytes, opts: RenderOptions, einfo: Any) -> str:
    value, resolved = param_str(evt, i, opts, einfo, data)
    return f"{value}({resolved})" if resolved else value


def _fd_text(evt: Any, fd: int) -> str:
    thread = evt.thread
    if thread is None:
        return str(fd)
    if fd >= 0:
        fdi = (thread.fd_table() or {}).get(fd)
        resolved = "" if fdi is None else fd_desc(fdi)
    elif fd == PPM_AT_FDCWD:
        resolved = "AT_FDCWD"
    else:
        resolved = _ERRNO_NAMES.get(-fd, "")
    return f"{fd}({resolved})" if resolved else str(fd)


def _pid_text(evt: Any, pid: int) -> str:
    insp = getattr(evt, "inspector", None)
    threads = getattr(insp, "threads", None) if insp is not None else None
    t = threads.get(pid) if threads is not None else None
    return f"{pid}({t.comm})" if t is not None and t.comm else str(pid)


def _errno_text(val: int) -> str:
    name = _ERRNO_NAMES.get(-val) if val < 0 else None
    return f"{val}({name})" if name else str(val)


def _memo_text(memo: dict[bytes, str], data: bytes, make: Callable[[bytes], str]) -> str:
    if len(memo) > 4096:
        memo.clear()
    text = memo[data] = make(data)
    return text


def _compile_args(etype: int, einfo: Any, plan: tuple[tuple[str, int, Any], ...],
                  nrec: int) -> Any:
    """One renderer per (event type, params in the record) (see the comment above), compiled
    with exec; ``plan`` holds the params shown (the first ``min(nrec, table)``)."""
    n = nrec
    env: dict[str, Any] = {
        "_LENS": _LENS[n].unpack_from, "_loop": _event_args_loop, "_g": _generic_text,
        "_fd": _fd_text, "_pid": _pid_text, "_errno": _errno_text, "_cstr": _cstr,
        "_san": sanitize, "_einfo": einfo, "_memo": _memo_text, "_S64": _S64.unpack_from,
    }
    lines = ["def render(evt, opts):", "    raw = evt.record.raw",
             "    " + "".join(f"l{i}, " for i in range(n)) + "= _LENS(raw, 26)",
             f"    p0 = {26 + 2 * n}"]
    for i in range(1, n + 1):
        lines.append(f"    p{i} = p{i - 1} + l{i - 1}")
    lines += [f"    if len(raw) < p{n}:", "        return _loop(evt, opts)"]
    pieces = []
    for i, (prefix, kind, st) in enumerate(plan):
        d = f"raw[p{i}:p{i + 1}]"
        gen = f"_g(evt, {i}, {d}, opts, _einfo)"
        if kind == _K_INT:
            env[f"_u{i}"] = st.unpack_from
            expr = f"_u{i}(raw, p{i})[0] if l{i} == {st.size} else {gen}"
        elif kind == _K_ERRNO:
            expr = f"_errno(_S64(raw, p{i})[0]) if l{i} == 8 else {gen}"
        elif kind == _K_CHARBUF:
            expr = f"_cstr({d})"
        elif kind in (_K_FLAGS, _K_INTFMT):
            if kind == _K_FLAGS:
                width, pinfo, _memo = st

                def make_flags(data: bytes, _p: Any = pinfo) -> str:
                    val = int.from_bytes(data, "little")
                    names = "|".join(schema.flags_to_names(_p, val))
                    return f"{val}({names})" if names else str(val)

                make: Callable[[bytes], str] = make_flags
                size_ok = f"l{i} == {width}"
            else:
                ist, bits, pfmt, _memo = st

                def make_int(data: bytes, _st: Any = ist, _b: int = bits, _f: Any = pfmt) -> str:
                    return printf_int(_st.unpack_from(data)[0], _b, _f)

                make = make_int

                size_ok = f"l{i} >= {ist.size}"
            env[f"_m{i}"], env[f"_k{i}"] = {}, make
            lines += [f"    d{i} = {d}",
                      f"    a{i} = (_m{i}.get(d{i}) or _memo(_m{i}, d{i}, _k{i})) "
                      f"if {size_ok} else _g(evt, {i}, d{i}, opts, _einfo)"]
            pieces.append(f"{prefix}{{a{i}}} ")
            continue
        elif kind == _K_PATH:
            lines += [f"    d{i} = {d}",
                      f"    a{i} = _san(_cstr(d{i})) if d{i}[:1] == b'/' and evt.thread is not None"
                      f" else _g(evt, {i}, d{i}, opts, _einfo)"]
            pieces.append(f"{prefix}{{a{i}}} ")
            continue
        elif kind == _K_FD:
            expr = f"_fd(evt, _S64(raw, p{i})[0]) if l{i} == 8 else {gen}"
        elif kind == _K_PID:
            expr = f"_pid(evt, _S64(raw, p{i})[0]) if l{i} == 8 else {gen}"
        else:
            expr = gen
        lines.append(f"    a{i} = {expr}")
        pieces.append(f"{prefix}{{a{i}}} ")
    lines.append("    return f" + repr("".join(pieces)))
    exec(compile("\n".join(lines), f"<args of event type {etype}>", "exec"), env)
    return env["render"]


def param_index(einfo: Any, nparams: int, name: str) -> int | None:
    """Index of the first parameter called ``name`` among the displayed ones."""
    for i in range(min(nparams, len(einfo.params))):
        if einfo.params[i].name == name:
            return i
    return None


# --------------------------------------------------------------------------------------
# field values
# --------------------------------------------------------------------------------------


def render_value(value: Any, info: Any) -> str:
    """sysdig's text for an extracted value of field ``info`` (never ``None`` here)."""
    if info.renderer is not None:
        out: str = info.renderer(value)
        return out
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return "%.1f" % value  # noqa: UP031 - sinsp prints PT_DOUBLE with %.1lf
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(render_value(v, info) for v in value) + ")"
    return str(value)


def json_value(value: Any, info: Any) -> Any:
    """The JSON value sysdig ``-j`` gives a field: numbers for decimal integer fields and
    booleans for BOOL fields, text otherwise, ``null`` for N/A."""
    if value is None:
        return None
    json_fn = getattr(info.renderer, "json", None)
    if json_fn is not None:
        return json_fn(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and info.renderer is None:
        return value
    return render_value(value, info)


def json_dumps(obj: dict[str, Any]) -> str:
    """One JSON object the way sysdig's jsoncpp FastWriter prints it (sorted keys, no
    spaces, bytes >= 0x80 passed through, control characters as ``\\u00XX``)."""
    parts = []
    for key in sorted(obj):
        parts.append(_json_str(key) + ":" + _json_scalar(obj[key]))
    return "{" + ",".join(parts) + "}"


def _json_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return _json_str(str(v))


_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t"}  # fmt: skip
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f]')


def _json_str(s: str) -> str:
    def esc(m: re.Match[str]) -> str:
        c = m.group(0)
        return _JSON_ESC.get(c) or f"\\u{ord(c):04X}"

    return '"' + _JSON_SPECIAL.sub(esc, s) + '"'


# --------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------

_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-]+")
_Piece = Callable[[Any], "str | None"]


class Formatter:
    """A compiled ``-p`` format.

    ``render(evt)`` returns the line, or ``None`` when the format does not start with ``*``
    and one of its fields is N/A for this event (sysdig then prints nothing).
    ``render_json(evt)`` returns the ``-j`` object text (same rule).
    Fields are resolved once, at construction, through the syscall field registry.
    """

    def __init__(
        self,
        fmt: str,
        registry: Any = None,
        opts: RenderOptions = DEFAULT_OPTIONS,
    ) -> None:
        if registry is None:
            registry = default_registry()
        self.fmt = fmt
        self.opts = opts
        self.require_all = not fmt.startswith("*")
        body = fmt if self.require_all else fmt[1:]
        self.tokens: list[tuple[str, Any, Any, int]] = []  # (text or field, info, arg, width)
        self._compile(body, registry, len(fmt) - len(body))
        self._bound = [self._bind(t) for t in self.tokens]
        self._pieces = [self._piece(t, b) for t, b in zip(self.tokens, self._bound, strict=True)]
        self._fields = [(t[0], t[1], t[2], b)
                        for t, b in zip(self.tokens, self._bound, strict=True)
                        if t[1] is not None]  # fmt: skip
        if fmt == DEFAULT_FORMAT and opts.time_flag == "h":
            # an instance attribute shadowing the method: the same call, less work
            self.render = self._default_line(  # type: ignore[method-assign,assignment]
                by_name_of(registry))

    # -- compilation -------------------------------------------------------------------

    def _compile(self, body: str, registry: Any, base: int) -> None:
        names, by_name = _field_table(registry)
        i = 0
        lit_start = 0
        n = len(body)
        while i < n:
            if body[i] != "%":
                i += 1
                continue
            if i > lit_start:
                self.tokens.append((body[lit_start:i], None, None, 0))
            if i == n - 1:
                raise FormatError("formatting cannot end with a %", self.fmt, base + i)
            j = i + 1
            width = 0
            while j < n and body[j].isdigit():
                j += 1
            if j > i + 1:
                width = int(body[i + 1 : j])
                if j >= n:
                    raise FormatError("formatting cannot end with a number", self.fmt, base + i)
            name = _longest_prefix(body, j, names)
            if name is None:
                raise FormatError(f"invalid formatting token {body[j:]}", self.fmt, base + j)
            k = j + len(name)
            info = by_name[name]
            if name == "evt.type.is":
                # sysdig 0.29.3 prints this field as <NA> (a PF_NA integer), and unless the
                # event name runs to the end of the format its parser consumes nothing of it:
                # the field is empty-named and its text stays literal
                at_end = body[k : k + 1] == "." and _is_event_type(body[k + 1 :])
                self.tokens.append((body[j:] if at_end else "", _NA_FIELD, None, width))
                i = n if at_end else j
                lit_start = i
                continue
            arg_text: str | None = None
            if info.arg.value != "none":
                if k < n and body[k] == "[":
                    end = body.find("]", k)
                    if end < 0:
                        raise FormatError("unterminated field argument", self.fmt, base + k)
                    arg_text = body[k + 1 : end]
                    k = end + 1
                elif k + 1 < n and body[k] == "." and _KEY_CHARS.match(body, k + 1):
                    m = _KEY_CHARS.match(body, k + 1)
                    assert m is not None
                    arg_text = m.group(0)
                    k = m.end()
            if info.filter_only:
                raise FormatError(
                    f"field {name} is a filter-only field and cannot be printed", self.fmt, base + j
                )
            try:
                arg = info.parse_arg(arg_text, body[j:k])
            except Exception as exc:
                raise FormatError(str(exc), self.fmt, base + j) from exc
            self.tokens.append((body[j:k], info, arg, width))
            i = k
            lit_start = k
        if lit_start < n:
            self.tokens.append((body[lit_start:], None, None, 0))

    def _bind(self, token: tuple[str, Any, Any, int]) -> Any:
        """The extractor a token calls: a fresh state object for stateful fields
        (``evt.deltatime``), the render options passed in for fields that need them."""
        info = token[1]
        if info is None:
            return None
        extractor = info.extractor
        stateful = getattr(extractor, "make_state", None)
        if stateful is not None:
            return stateful()
        if getattr(extractor, "wants_options", False):
            opts = self.opts

            def with_opts(evt: Any, a: Any, _b: Any = extractor) -> Any:
                return _b(evt, a, opts)

            return with_opts
        return extractor

    def _piece(self, token: tuple[str, Any, Any, int], extractor: Any) -> _Piece:
        text, info, arg, width = token
        if info is None:

            def literal(evt: Any, _t: str = text) -> str:
                return _t

            return literal
        renderer = info.renderer
        if renderer is None:

            def render(value: Any, _info: Any = info) -> str:
                return render_value(value, _info)

        else:
            render = renderer
        if width:
            na = None if self.require_all else _NA[:width].ljust(width)

            def piece(evt: Any) -> str | None:
                v = extractor(evt, arg)
                if v is None:
                    return na
                s = render(v)
                return s[:width].ljust(width)

            return piece

        if info.renderer is None:

            def piece_plain(evt: Any) -> str | None:
                v = extractor(evt, arg)
                if v is None or v.__class__ is str:
                    return v
                return render(v)

            return piece_plain

        def piece0(evt: Any) -> str | None:
            v = extractor(evt, arg)
            return None if v is None else render(v)

        return piece0

    def _default_line(self, by_name: dict[str, Any]) -> Callable[[Any], str | None]:
        """sysdig's default line fused into one function (the hot path of ``pysysdig -r``):
        same output as the generic pieces, without a call per token.  Per event type, the
        ``"< openat "`` part is a table entry and the args renderer is ``event_args`` unless
        the type writes to an fd (then ``evt.info``, which decodes syslog writes); the
        ``HH:MM:SS.`` prefix is recomputed once per second."""
        from sinsp.fields import evt as evt_fields

        type_name = evt_fields.type_name
        info = by_name["evt.info"].extractor  # event_args, or the syslog decoding
        opts = self.opts
        offset = gmt2local()
        ntypes = len(schema.EVENT_INFO)
        heads: list[str] = []
        plain: list[bool] = []
        for t in range(ntypes):
            e = display_info(t)
            name = e.name if e is not None else "unknown"
            heads.append(f"{'<' if t & 1 else '>'} {name} ")
            plain.append(e is None or not int(e.flags) & int(EF.WRITES_TO_FD))
        compiled = _COMPILED
        last_sec = -1
        prefix = ""

        def line(evt: Any) -> str:
            nonlocal last_sec, prefix
            rec = evt.record
            t = rec.type
            sec, ns = divmod(rec.ts, 1_000_000_000)
            if sec != last_sec:
                last_sec = sec
                x = (sec + offset) % 86400
                prefix = f"{x // 3600:02d}:{x % 3600 // 60:02d}:{x % 60:02d}."
            th = evt.thread
            if t > 1 and t < ntypes:
                head = heads[t]
                if plain[t]:  # event_args, its dispatch inlined
                    n = rec.nparams
                    render = compiled.get(t << 8 | n) or _compiled_for(t, n)
                    tail = render(evt, opts)
                else:
                    tail = info(evt, None, opts)
            else:
                head = f"{'<' if t & 1 else '>'} {type_name(evt)} "
                tail = info(evt, None, opts)
            return (
                f"{evt.num} {prefix}{ns:09d} {rec.cpu} {_NA if th is None else th.comm} "
                f"({rec.tid}) {head}{tail}"
            )

        return line

    # -- rendering ---------------------------------------------------------------------

    def render(self, evt: Any) -> str | None:
        out = []
        for piece in self._pieces:
            s = piece(evt)
            if s is None:
                if self.require_all:
                    return None
                s = _NA
            out.append(s)
        return "".join(out)

    def render_json(self, evt: Any) -> str | None:
        obj: dict[str, Any] = {}
        for text, info, arg, extractor in self._fields:
            js = getattr(extractor, "json", None)
            v = js(evt, arg) if js is not None else extractor(evt, arg)
            if v is None and self.require_all:
                return None
            obj[text] = json_value(v, info)
        return json_dumps(obj)


class _NaFieldInfo:
    """A field that is always N/A (see evt.type.is in Formatter._compile)."""

    name = ""
    renderer = None
    filter_only = False

    @staticmethod
    def extractor(evt: Any, arg: Any) -> Any:
        return None


_NA_FIELD = _NaFieldInfo()


def _is_event_type(text: str) -> bool:
    if text.isdigit():
        return True
    return any(info.name == text for info in schema.EVENT_INFO_0_29_3)


class _Clock:
    """``HH:MM:SS.nnnnnnnnn`` like :func:`ts_time`, with the UTC offset taken once and the
    ``HH:MM:SS.`` part cached per second."""

    __slots__ = ("offset", "prefix", "sec")

    def __init__(self) -> None:
        self.offset = gmt2local()
        self.sec = -1
        self.prefix = ""

    def __call__(self, ts: int) -> str:
        sec, ns = divmod(ts, 1_000_000_000)
        if sec != self.sec:
            self.sec = sec
            s = (sec + self.offset) % 86400
            self.prefix = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}."
        return f"{self.prefix}{ns:09d}"


def by_name_of(registry: Any) -> dict[str, Any]:
    return _field_table(registry)[1]


def _longest_prefix(body: str, start: int, names: Sequence[str]) -> str | None:
    for name in names:  # longest first
        if body.startswith(name, start):
            return name
    return None


_TABLE_CACHE: dict[int, tuple[int, list[str], dict[str, Any]]] = {}


def _field_table(registry: Any) -> tuple[list[str], dict[str, Any]]:
    """Field names longest first (sinsp takes the longest matching name) and name -> info."""
    key = id(registry)
    count = len(list(registry.names()))
    cached = _TABLE_CACHE.get(key)
    if cached is not None and cached[0] == count:
        return cached[1], cached[2]
    by_name = {f.name: f for _, f in registry.list_fields(include_hidden=True)}
    ordered = sorted(by_name, key=len, reverse=True)
    _TABLE_CACHE[key] = (count, ordered, by_name)
    return ordered, by_name


_FIELD_MODULES = ("proc", "user", "group", "container", "evt", "fd", "fspath", "k8s", "syslog")


def default_registry() -> Any:
    """The syscall registry with every field class module of ``sinsp.fields`` loaded."""
    import importlib

    from sinsp.fields.registry import REGISTRIES

    for mod in _FIELD_MODULES:
        try:
            importlib.import_module(f"sinsp.fields.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sinsp.fields.{mod}":
                raise
    return REGISTRIES["syscall"]


# --------------------------------------------------------------------------------------
# time strings (sinsp_utils::ts_to_string / ts_to_iso_8601)
# --------------------------------------------------------------------------------------


def gmt2local() -> int:
    """The local UTC offset in seconds *now* (libsinsp ``gmt2local(0)``): sysdig shifts every
    timestamp by today's offset, not by the offset in force at the event's time."""
    now = int(time.time())
    loc, gmt = time.localtime(now), time.gmtime(now)
    dt = (loc.tm_hour - gmt.tm_hour) * 3600 + (loc.tm_min - gmt.tm_min) * 60
    day = loc.tm_year - gmt.tm_year or loc.tm_yday - gmt.tm_yday
    return dt + day * 86400


def ts_time(ts: int, nanos: bool = True) -> str:
    """``HH:MM:SS.nnnnnnnnn`` (sinsp_utils::ts_to_string)."""
    sec, ns = divmod(ts, 1_000_000_000)
    s = (sec + gmt2local()) % 86400
    base = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{base}.{ns:09d}" if nanos else base


def ts_datetime(ts: int, nanos: bool = True) -> str:
    """``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``, shifted like :func:`ts_time`."""
    sec, ns = divmod(ts, 1_000_000_000)
    shifted = sec + gmt2local()
    s = shifted % 86400
    day = time.strftime("%Y-%m-%d", time.gmtime(shifted - s))
    base = f"{day} {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{base}.{ns:09d}" if nanos else base


def ts_iso8601(ts: int) -> str:
    s, ns = divmod(ts, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns:09d}+0000"


def compile_format(fmt: str, opts: RenderOptions = DEFAULT_OPTIONS) -> Formatter:
    return Formatter(fmt, None, opts)

#!/usr/bin/env python3
"""Regenerate ``scap/_event_table.py`` and ``scap/_flags_table.py``.

Two sources feed the generated modules, and both are read, never copied:

* the libs 0.29.3 table that Debian's sysdig 0.29.3 uses, read with ctypes from the
  installed ``libscap.so`` (``g_event_info``, ``g_syscall_info_table`` and the exported
  flag lists, see docs/scap-format.md section 11.3);
* the current falcosecurity/libs table: ``current_libs_facts.txt`` (a 2025 snapshot of the
  driver sources transcribed in a compact line format, kept outside the repository, default
  ``/work/upstream``), then ``MASTER_FACTS`` below, which brings it to master: corrections
  from docs/scap-format.md section 11.2 (generated from the compiled master table, checked
  row by row by tests/scap/test_schema_current.py) and ids 430-453 from master's driver
  sources (best effort; see the provenance notes there).

The output is compact literal tuples, so importing the schema costs one module load and
no parsing.  Run ``python tools/gen_event_table.py [--upstream DIR]``.

Param ``info`` encoding in the generated data (same for both tables):
``None``; ``"flag_list_name"`` (a key of ``FLAGS`` in ``_flags_table``) for
FLAGS/ENUMFLAGS/MODE params; an ``int`` dirfd param index for FSRELPATH; a tuple of
``(name, type, fmt, info)`` sub-params for DYN params.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pprint
import re
import struct
import sys
from pathlib import Path

LIBSCAP_0_29_3 = "/usr/lib/x86_64-linux-gnu/libscap.so.0.1.1dev+git20220316.e5c53d64"
EVENT_MAX_0_29_3 = 336
SYSCALL_MAX_0_29_3 = 329

# Packed layouts of this build (docs/scap-format.md 11.3).
_PARAM_SIZE = 49  # name[32], type i32, fmt i32, info ptr, ninfo u8
_EVENT_SIZE = 1612  # name[32], category i32, flags i32, nparams u32, params[32]
_NAME_VALUE_SIZE = 16  # {const char *name; u32 value} (not packed: padded to 16)
_SYSCALL_DESC_SIZE = 16  # {i32 category, i32 flags, char *name}

PT_DYN = 27
PT_FSRELPATH = 43
# Param types whose info is a name/value list (FLAGS8/16/32, MODE, ENUMFLAGS8/16/32).
_FLAG_TYPES = {28, 29, 30, 42, 44, 45, 46}

# Exported flag lists and DYN sub-tables of libscap 0.29.3, used to name info pointers.
_SO_FLAG_SYMBOLS = (
    "access_flags chmod_mode clone_flags execve_flags execveat_flags fcntl_commands "
    "file_flags flock_flags futex_operations linkat_flags lseek_whence mmap_flags "
    "mount_flags openat2_flags pf_flags poll_flags prot_flags ptrace_requests "
    "quotactl_cmds quotactl_dqi_flags quotactl_quota_fmts quotactl_types renameat2_flags "
    "rlimit_resources semctl_commands semget_flags semop_flags shutdown_how socket_families "
    "sockopt_levels sockopt_options splice_flags umount_flags unlinkat_flags"
).split()
_SO_DYN_SYMBOLS = ("bpf_dynamic_param", "ptrace_dynamic_param", "sockopt_dynamic_param")


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii")


class SoReader:
    """Reads the libs 0.29.3 tables out of the installed ``libscap.so`` with ctypes."""

    def __init__(self, path: str = LIBSCAP_0_29_3) -> None:
        self.lib = ctypes.CDLL(path)
        self.flag_addr = {self._addr(s): s for s in _SO_FLAG_SYMBOLS}
        self.dyn_addr = {self._addr(s): s for s in _SO_DYN_SYMBOLS}
        self.flags: dict[str, tuple[tuple[str, int], ...]] = {}

    def _addr(self, symbol: str) -> int:
        return ctypes.addressof(ctypes.c_char.in_dll(self.lib, symbol))

    def _name_values(self, addr: int) -> tuple[tuple[str, int], ...]:
        out = []
        while True:
            name_ptr, value = struct.unpack("<QI", ctypes.string_at(addr, 12))
            if not name_ptr:
                return tuple(out)
            out.append((ctypes.string_at(name_ptr).decode("ascii"), value))
            addr += _NAME_VALUE_SIZE

    def _param(self, raw: bytes) -> tuple:
        name = _cstr(raw[:32])
        ptype, fmt, info, ninfo = struct.unpack_from("<iiQB", raw, 32)
        if ptype == PT_FSRELPATH:
            return (name, ptype, fmt, info)
        if ptype == PT_DYN:
            subs = tuple(
                self._param(ctypes.string_at(info + i * _PARAM_SIZE, _PARAM_SIZE))
                for i in range(ninfo)
            )
            return (name, ptype, fmt, subs)
        if info and ptype in _FLAG_TYPES:
            sym = self.flag_addr.get(info)
            if sym is None:
                raise ValueError(f"param {name}: flag list at {info:#x} is not exported")
            self.flags.setdefault(sym, self._name_values(info))
            return (name, ptype, fmt, sym)
        return (name, ptype, fmt, None)

    def dyn_table(self, symbol: str) -> tuple:
        """A DYN sub-table by symbol; its length is where the entries stop being named
        params (the tables are laid out back to back, each entry a packed param)."""
        counts = {"sockopt_dynamic_param": 5, "ptrace_dynamic_param": 2,
                  "bpf_dynamic_param": 2}
        base = self._addr(symbol)
        return tuple(
            self._param(ctypes.string_at(base + i * _PARAM_SIZE, _PARAM_SIZE))
            for i in range(counts[symbol])
        )

    def events(self) -> tuple:
        base = self._addr("g_event_info")
        out = []
        for t in range(EVENT_MAX_0_29_3):
            raw = ctypes.string_at(base + t * _EVENT_SIZE, _EVENT_SIZE)
            category, flags, nparams = struct.unpack_from("<iiI", raw, 32)
            params = tuple(
                self._param(raw[44 + i * _PARAM_SIZE : 44 + (i + 1) * _PARAM_SIZE])
                for i in range(nparams)
            )
            out.append((_cstr(raw[:32]), category, flags, params))
        return tuple(out)

    def syscalls(self) -> tuple[str, ...]:
        base = self._addr("g_syscall_info_table")
        out = []
        for i in range(SYSCALL_MAX_0_29_3):
            _cat, _flags, name_ptr = struct.unpack(
                "<iiQ", ctypes.string_at(base + i * _SYSCALL_DESC_SIZE, _SYSCALL_DESC_SIZE)
            )
            out.append(ctypes.string_at(name_ptr).decode("ascii") if name_ptr else "")
        return tuple(out)


# --------------------------------------------------------------------------- output

_HEADER = '''"""GENERATED by tools/gen_event_table.py -- do not edit.

{what}
"""

# ruff: noqa: E501
'''


def _lit(value: object) -> str:
    return pprint.pformat(value, width=100, compact=True, sort_dicts=True)


def parse_c_enum(text: str, enum_name: str) -> dict[str, int]:
    """Parse ``enum NAME { A = 1, B, ... };`` from C text (values may be implicit)."""
    m = re.search(r"enum\s+" + enum_name + r"\s*\{(.*?)\}", text, re.S)
    if m is None:
        raise ValueError(f"enum {enum_name} not found")
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
    out: dict[str, int] = {}
    nxt = 0
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, val = item.partition("=")
        name = name.strip()
        if val.strip():
            v = val.strip()
            nxt = out[v] if v in out else int(v, 0)
        out[name] = nxt
        nxt += 1
    return out


def ppme_names(enum: dict[str, int], count: int) -> tuple[str, ...]:
    """Names (without ``PPME_``) indexed by event type; the first name wins."""
    names = [""] * count
    for name, value in enum.items():
        if name.startswith("PPME_") and 0 <= value < count and not names[value]:
            names[value] = name[5:]
    return tuple(names)


#: PPM_SC codes current libs spells differently from 0.29.3's enum (which had the typo
#: NEWFSSTAT and called rt_sigreturn SIGRETURN; current libs has a separate SIGRETURN at 410)
SC_RENAMED_SINCE_0_29_3 = {298: "rt_sigreturn", 300: "newfstatat"}


def sc_enum_names(text: str) -> tuple[str, ...]:
    """``PPM_SC_*`` codes to names spelled as current libs does: the lower-cased
    identifier without the prefix (``PPM_SC__NEWSELECT`` -> ``_newselect``)."""
    enum = parse_c_enum(text, "ppm_syscall_code")
    count = enum.get("PPM_SC_MAX", max(enum.values()) + 1)
    names = [""] * count
    for name, value in enum.items():
        if name != "PPM_SC_MAX" and 0 <= value < count and not names[value]:
            names[value] = name[len("PPM_SC_"):].lower()
    return tuple(names)


def write_modules(out_dir: Path, so: SoReader, current: dict | None,
                  header_0293: str | None = None) -> None:
    events_0293 = so.events()
    syscalls_0293 = so.syscalls()
    flags = {"0.29.3": dict(sorted(so.flags.items()))}
    ev = [
        _HEADER.format(
            what="Event tables as data: (name, category, flags, params); each param is\n"
            "(name, PT, PF, info). See tools/gen_event_table.py for the info encoding."
        ),
        f"EVENTS_0_29_3 = {_lit(events_0293)}\n",
        f"SYSCALL_NAMES_0_29_3 = {_lit(syscalls_0293)}\n",
    ]
    if header_0293 is not None:
        names = ppme_names(parse_c_enum(header_0293, "ppm_event_type"), EVENT_MAX_0_29_3)
        ev.append(f"PPME_NAMES_0_29_3 = {_lit(names)}\n")
        ev.append(f"SC_ENUM_NAMES_0_29_3 = {_lit(sc_enum_names(header_0293))}\n")
    if current is not None:
        ev.append(f"EVENTS_CURRENT = {_lit(current['events'])}\n")
        ev.append(f"PPME_NAMES = {_lit(current['ppme_names'])}\n")
        base = list(sc_enum_names(header_0293)) if header_0293 else []
        top = max(current["sc_extra"], default=-1)
        names = base + [""] * max(0, top + 1 - len(base))
        for code, name in current["sc_extra"].items():
            names[code] = name
        for code, name in SC_RENAMED_SINCE_0_29_3.items():
            names[code] = name
        ev.append(f"SYSCALL_NAMES_CURRENT = {_lit(tuple(names))}\n")
        flags["current"] = dict(sorted(current["flags"].items()))
    (out_dir / "_event_table.py").write_text("\n".join(ev))
    fl = [
        _HEADER.format(
            what="Flag/enum name-value lists of the event table, per libs version:\n"
            "FLAGS[version][list_name] = ((name, value), ...) in table order."
        ),
        f"FLAGS = {_lit(flags)}\n",
    ]
    (out_dir / "_flags_table.py").write_text("\n".join(fl))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", default=os.environ.get("PYFALCO_UPSTREAM", "/work/upstream"),
                    help="directory holding the current libs driver sources")
    ap.add_argument("--libscap", default=LIBSCAP_0_29_3)
    ap.add_argument("--header-0-29-3", default=None,
                    help="ppm_events_public.h of libs 0.29.3 (falcosecurity-scap-dkms) for "
                    "the PPME_* names; default: first match under --upstream/dkms")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "scap"))
    args = ap.parse_args(argv)
    so = SoReader(args.libscap)
    up = Path(args.upstream)
    current = parse_upstream(up, so) if (up / "current_libs_facts.txt").exists() else None
    if current is None:
        print(f"warning: no current libs sources in {up}; writing 0.29.3 only", file=sys.stderr)
    header = args.header_0_29_3
    if header is None:
        found = sorted(up.glob("dkms/usr/src/scap-*/ppm_events_public.h"))
        header = str(found[0]) if found else None
    text_0293 = Path(header).read_text() if header else None
    write_modules(Path(args.out), so, current, text_0293)
    return 0


_EC = {
    "UNKNOWN": 0, "OTHER": 1, "FILE": 2, "NET": 3, "IPC": 4, "MEMORY": 5, "PROCESS": 6,
    "SLEEP": 7, "SYSTEM": 8, "SIGNAL": 9, "USER": 10, "TIME": 11, "PROCESSING": 12,
    "IO_READ": 32, "IO_WRITE": 33, "IO_OTHER": 34, "WAIT": 64, "SCHEDULER": 128,
    "INTERNAL": 256, "SYSCALL": 512, "TRACEPOINT": 1024, "PLUGIN": 2048, "METAEVENT": 4096,
    "ITER": 8192,
}
_EF = {
    "CREATES_FD": 1, "DESTROYS_FD": 2, "USES_FD": 4, "READS_FROM_FD": 8, "WRITES_TO_FD": 16,
    "MODIFIES_STATE": 32, "UNUSED": 64, "WAITS": 128, "SKIPPARSERESET": 256,
    "OLD_VERSION": 512, "DROP_SIMPLE_CONS": 1024, "LARGE_PAYLOAD": 2048,
    "CONVERTER_MANAGED": 4096,
}
_PT = {name: i for i, name in enumerate(
    "NONE INT8 INT16 INT32 INT64 UINT8 UINT16 UINT32 UINT64 CHARBUF BYTEBUF ERRNO SOCKADDR "
    "SOCKTUPLE FD PID FDLIST FSPATH SYSCALLID SIGTYPE RELTIME ABSTIME PORT L4PROTO SOCKFAMILY "
    "BOOL IPV4ADDR DYN FLAGS8 FLAGS16 FLAGS32 UID GID DOUBLE SIGSET CHARBUFARRAY "
    "CHARBUF_PAIR_ARRAY IPV4NET IPV6ADDR IPV6NET IPADDR IPNET MODE FSRELPATH ENUMFLAGS8 "
    "ENUMFLAGS16 ENUMFLAGS32 FD32 PID32".split())}
_PF = {"NA": 0, "DEC": 1, "HEX": 2, "10_PADDED_DEC": 3, "ID": 4, "DIR": 5, "OCT": 6}
_MACRO = re.compile(r"\$([A-Z0-9]+)")


# Facts of the current falcosecurity/libs master table that the 2025 snapshot in
# ``current_libs_facts.txt`` lacks or states differently, in the same line format, applied
# after it. Two new line kinds: ``A ID param;...`` appends params to event ID, ``N ID``
# asserts the id the next ``E`` line gets. Provenance per block:
#  [doc]  /work/shared/docs/scap-format.md section 11.2, generated from the compiled master
#         table: authoritative (tests/scap/test_schema_current.py checks every row).
#  [src]  falcosecurity/libs master sources read with the search tools: the modern_bpf
#         fillers (close_range.bpf.c, keyctl.bpf.c, the task/task_file iterator programs)
#         give param order, names and PT types from their "Parameter N: name (type: PT_x)"
#         comments; the enum order of 430-449, categories, event flags, print formats,
#         flag-list values and the keyctl DYN sub-table layout were not readable there and
#         are best guesses (marked "guess"), so treat those ids as provisional.
MASTER_FACTS = """\
# [doc] socket exit gained the SOCK_* flags of the type argument (flag list unknown: none)
A 19 flags,FLAGS32,HEX
# [doc] fcntl exit gained the third argument
A 151 arg,UINT64,DEC
# [src] task iterator events, the even slot only (10.1); order of the pairs and the
# evt.type names: guess
$IFD=fd,FD32,DEC
$INO=ino_num,UINT64,DEC
$ISK=$IFD;sk_type,UINT16,DEC;sk_proto,UINT16,DEC
N 430
E ITER_TASK_E|iter_task|PROCESS ITER||ppid,PID32,DEC;pgid,PID32,DEC;vpgid,PID32,DEC;\
sid,PID32,DEC;comm,CHARBUF,NA;argv,CHARBUFARRAY,NA;exepath,FSPATH,NA;\
flags,FLAGS32,HEX,execve_flags;env,CHARBUFARRAY,NA;cwd,CHARBUF,NA;fdlimit,UINT64,DEC;\
euid,UID,DEC;egid,GID,DEC;cap_permitted,UINT64,HEX;cap_effective,UINT64,HEX;\
cap_inheritable,UINT64,HEX;exe_ino_num,UINT64,DEC;exe_ino_ctime,ABSTIME,DEC;\
exe_ino_mtime,ABSTIME,DEC;$VM;pgft_maj,UINT64,DEC;pgft_min,UINT64,DEC;vtgid,PID32,DEC;\
vpid,PID32,DEC;pidns_init_start_ts,UINT64,DEC;cgroups,CHARBUFARRAY,NA;root,FSPATH,NA;\
start_time,ABSTIME,DEC;tty,UINT32,DEC;loginuid,UID,DEC
E ITER_TASK_X|$NA
E ITER_TASK_FILE_SOCKET_INET_E|iter_task_file_socket_inet|NET ITER||$ISK;local_ip,IPV4ADDR,NA;\
local_port,PORT,DEC;remote_ip,IPV4ADDR,NA;remote_port,PORT,DEC;$INO
E ITER_TASK_FILE_SOCKET_INET_X|$NA
E ITER_TASK_FILE_SOCKET_INET6_E|iter_task_file_socket_inet6|NET ITER||$ISK;local_ip,IPV6ADDR,NA;\
local_port,PORT,DEC;remote_ip,IPV6ADDR,NA;remote_port,PORT,DEC;$INO
E ITER_TASK_FILE_SOCKET_INET6_X|$NA
E ITER_TASK_FILE_SOCKET_UNIX_E|iter_task_file_socket_unix|NET ITER||$ISK;sk_pointer,UINT64,HEX;\
sun_path,FSPATH,NA;$INO
E ITER_TASK_FILE_SOCKET_UNIX_X|$NA
E ITER_TASK_FILE_SOCKET_NETLINK_E|iter_task_file_socket_netlink|NET ITER||$ISK;$INO
E ITER_TASK_FILE_SOCKET_NETLINK_X|$NA
E ITER_TASK_FILE_PIPE_E|iter_task_file_pipe|IPC ITER||$IFD;path,FSPATH,NA;$INO
E ITER_TASK_FILE_PIPE_X|$NA
E ITER_TASK_FILE_DIRECTORY_E|iter_task_file_directory|FILE ITER||$IFD;path,FSPATH,NA;$INO
E ITER_TASK_FILE_DIRECTORY_X|$NA
E ITER_TASK_FILE_REGULAR_E|iter_task_file_regular|FILE ITER||$IFD;path,FSPATH,NA;\
flags,FLAGS32,HEX,file_flags;mnt_id,UINT32,DEC;$INO
E ITER_TASK_FILE_REGULAR_X|$NA
E ITER_TASK_FILE_ANON_INODE_E|iter_task_file_anon_inode|FILE ITER||$IFD;fd_type,FLAGS8,DEC;\
path,FSPATH,NA;$INO
E ITER_TASK_FILE_ANON_INODE_X|$NA
E ITER_TASK_FILE_MEMFD_E|iter_task_file_memfd|MEMORY ITER||$IFD;path,FSPATH,NA;$INO
E ITER_TASK_FILE_MEMFD_X|$NA
# [doc] ids 450-453: the exit event only, the enter slot unused (10.1); params [src]
N 450
E SYSCALL_CLOSE_RANGE_E|$NA
E SYSCALL_CLOSE_RANGE_X|close_range|IO_OTHER SYSCALL|DESTROYS_FD $MS|$R;first,UINT32,DEC;\
last,UINT32,DEC;flags,FLAGS32,HEX
E SYSCALL_KEYCTL_E|$NA
E SYSCALL_KEYCTL_X|keyctl|OTHER SYSCALL||$R;operation,ENUMFLAGS32,DEC;\
arg2,DYN,NA,dyn:keyctl_dynamic_param;arg3,DYN,NA,dyn:keyctl_dynamic_param;\
arg4,DYN,NA,dyn:keyctl_dynamic_param;arg5,DYN,NA,dyn:keyctl_dynamic_param
N 454
"""

# keyctl's DYN sub-table [src: keyctl.bpf.c stores PPM_KEYCTL_IDX_INT64 / _IDX_CHARBUF
# values]; the index values 0 and 1 are a guess.
_KEYCTL_DYN = (("int64", _PT["INT64"], _PF["DEC"], None),
               ("charbuf", _PT["CHARBUF"], _PF["NA"], None))


class FactsError(ValueError):
    """A facts line does not parse; carries its location (``file:line``)."""

    def __init__(self, lineno: str, message: str) -> None:
        super().__init__(f"facts {lineno}: {message}")
        self.lineno = lineno


def parse_upstream(up: Path, so: SoReader) -> dict:
    """Read ``current_libs_facts.txt`` (the current libs table, transcribed in a compact
    line format described at the top of that file) and resolve it to generator tuples.
    Flag values not written there are taken from the same-named 0.29.3 list, DYN
    sub-tables from the 0.29.3 library (their layout did not change)."""
    path = up / "current_libs_facts.txt"
    macros: dict[str, str] = {}
    events: list[tuple] = []
    names: list[str] = []
    flags: dict[str, tuple[tuple[str, int], ...]] = {}
    sc_extra: dict[int, str] = {}
    dyn_tables = {"keyctl_dynamic_param": _KEYCTL_DYN}
    so.events()  # fills so.flags with every 0.29.3 list referenced by the table
    base_flags = {k: dict(v) for k, v in so.flags.items()}

    def expand(text: str) -> str:
        for _ in range(10):
            new = _MACRO.sub(lambda m: macros[m.group(1)], text)
            if new == text:
                return new
            text = new
        return text

    def param(lineno: str, spec: str) -> tuple:
        parts = spec.split(",")
        if len(parts) not in (3, 4):
            raise FactsError(lineno, f"bad param {spec!r}")
        name, ptype, fmt = parts[0], _PT[parts[1]], _PF[parts[2]]
        info: object = None
        if len(parts) == 4:
            extra = parts[3]
            if extra.startswith("@"):
                info = int(extra[1:])
            elif extra.startswith("dyn:"):
                info = dyn_tables[extra[4:]] if extra[4:] in dyn_tables else so.dyn_table(extra[4:])
            else:
                info = extra
        return (name, ptype, fmt, info)

    snapshot = [(f"{path.name}:{n}", ln) for n, ln in enumerate(path.read_text().splitlines(), 1)]
    master = [(f"MASTER_FACTS:{n}", ln) for n, ln in enumerate(MASTER_FACTS.splitlines(), 1)]
    for lineno, line in snapshot + master:
        if not line or line.startswith("#"):
            continue
        if line.startswith("$"):
            key, _, val = line[1:].partition("=")
            macros[key] = val
            continue
        kind, _, rest = line.partition(" ")
        if kind == "E":
            enum, ename, cats, eflags, params = expand(rest).split("|")
            category = sum(_EC[c] for c in cats.split())
            fl = sum(_EF[f] for f in eflags.split())
            plist = tuple(param(lineno, p) for p in params.split(";") if p)
            events.append((ename, category, fl, plist))
            names.append(enum)
        elif kind == "F":
            lname, *items = rest.split()
            base = base_flags.get(lname, {})
            out = []
            for item in items:
                fname, eq, val = item.partition("=")
                if eq:
                    out.append((fname, int(val, 0)))
                elif fname in base:
                    out.append((fname, base[fname]))
                else:
                    raise FactsError(lineno, f"{lname}: {fname} has no value and no 0.29.3 twin")
            flags[lname] = tuple(out)
        elif kind == "A":
            etype, spec = expand(rest).split(" ", 1)
            idx = int(etype)
            if idx >= len(events):
                raise FactsError(lineno, f"A {idx}: no such event yet")
            name, cat, fl, plist = events[idx]
            events[idx] = (name, cat, fl, plist + tuple(param(lineno, p) for p in spec.split(";")))
        elif kind == "N":
            if int(rest) != len(events):
                raise FactsError(lineno, f"next event id is {len(events)}, facts say {rest}")
        elif kind == "S":
            code, name = rest.split()
            sc_extra[int(code)] = name
        else:
            raise FactsError(lineno, f"unknown line kind {kind!r}")
    used = {p[3] for e in events for p in e[3] if isinstance(p[3], str)}
    missing = used - flags.keys()
    if missing:
        raise ValueError(f"flag lists used but not defined: {sorted(missing)}")
    return {"events": tuple(events), "ppme_names": tuple(names), "flags": flags,
            "sc_extra": sc_extra}


if __name__ == "__main__":
    sys.exit(main())

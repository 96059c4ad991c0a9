"""Event-table facts against their sources.

* The 0.29.3 table is compared field by field with the ``g_event_info`` array of the
  installed ``libscap.so`` (read here with ctypes Structures, independently of the
  generator's reader).
* Flag-name decoding is compared with what sysdig 0.29.3 prints for every FLAGS/MODE
  parameter of the real captures.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scap import schema
from scap.schema import (
    EF,
    EVENT_INFO,
    EVENT_INFO_0_29_3,
    EVENT_INFO_CURRENT,
    PF,
    PPME,
    PT,
    SYSCALL_NAMES,
    SYSCALL_NAMES_0_29_3,
    event_name,
    event_types_by_name,
    flags_to_names,
    is_enter,
    large_payload,
)

LIBSCAP = "/usr/lib/x86_64-linux-gnu/libscap.so.0.1.1dev+git20220316.e5c53d64"
TRACES = Path(os.environ.get("PYFALCO_TRACES", "/work/shared/traces/syscalls"))


class _NameValue(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_uint32)]


class _ParamInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("name", ctypes.c_char * 32),
        ("type", ctypes.c_int32),
        ("fmt", ctypes.c_int32),
        ("info", ctypes.c_void_p),
        ("ninfo", ctypes.c_uint8),
    ]


class _EventInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("name", ctypes.c_char * 32),
        ("category", ctypes.c_int32),
        ("flags", ctypes.c_int32),
        ("nparams", ctypes.c_uint32),
        ("params", _ParamInfo * 32),
    ]


class _SyscallDesc(ctypes.Structure):
    _fields_ = [("category", ctypes.c_int32), ("flags", ctypes.c_int32),
                ("name", ctypes.c_char_p)]


@pytest.fixture(scope="module")
def libscap() -> ctypes.CDLL:
    if not os.path.exists(LIBSCAP):
        pytest.skip(f"{LIBSCAP} not installed (package libfalcosecurity0, a sysdig dependency)")
    assert ctypes.sizeof(_ParamInfo) == 49 and ctypes.sizeof(_EventInfo) == 1612
    return ctypes.CDLL(LIBSCAP)


def _name_values(addr: int) -> list[tuple[str, int]]:
    out = []
    arr = ctypes.cast(addr, ctypes.POINTER(_NameValue))
    i = 0
    while arr[i].name is not None:
        out.append((arr[i].name.decode(), arr[i].value))
        i += 1
    return out


def _check_param(ours: schema.ParamInfo, theirs: _ParamInfo, where: str) -> None:
    assert ours.name == theirs.name.decode(), where
    assert ours.type == theirs.type, where
    assert ours.fmt == theirs.fmt, where
    if theirs.type == PT.FSRELPATH:
        assert ours.dirfd_index == (theirs.info or 0), where
    elif theirs.type == PT.DYN:
        subs = ctypes.cast(theirs.info, ctypes.POINTER(_ParamInfo))
        assert len(ours.dyn_params) == theirs.ninfo, where
        for k, sub in enumerate(ours.dyn_params):
            _check_param(sub, subs[k], f"{where} dyn[{k}]")
    elif theirs.info and theirs.type in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.MODE):
        assert list(ours.info) == _name_values(theirs.info), where
    else:
        assert ours.info is None, where


def test_0_29_3_table_equals_installed_libscap(libscap: ctypes.CDLL) -> None:
    table = (_EventInfo * 336).in_dll(libscap, "g_event_info")
    assert len(EVENT_INFO_0_29_3) == 336
    for etype, (ours, theirs) in enumerate(zip(EVENT_INFO_0_29_3, table, strict=True)):
        where = f"type {etype}"
        assert ours.name == theirs.name.decode(), where
        assert ours.category == theirs.category, where
        assert int(ours.flags) == theirs.flags, where
        assert ours.nparams == theirs.nparams, where
        for i, p in enumerate(ours.params):
            _check_param(p, theirs.params[i], f"{where} param {i}")


def test_0_29_3_syscall_names_equal_installed_libscap(libscap: ctypes.CDLL) -> None:
    table = (_SyscallDesc * 329).in_dll(libscap, "g_syscall_info_table")
    assert list(SYSCALL_NAMES_0_29_3) == [d.name.decode() for d in table]


def test_syscall_name_spellings_of_both_versions() -> None:
    # docs/scap-format.md 10.3: current libs lower-cases the PPM_SC identifier, 0.29.3
    # prints its g_syscall_info_table names.
    assert SYSCALL_NAMES[139] == SYSCALL_NAMES_0_29_3[139] == "madvise"
    assert (SYSCALL_NAMES[305], SYSCALL_NAMES_0_29_3[305]) == ("setuid32", "setuid")
    assert (SYSCALL_NAMES[283], SYSCALL_NAMES_0_29_3[283]) == ("_newselect", "newselect")
    assert SYSCALL_NAMES_0_29_3[0] == "<unknown>"
    assert event_name(1, [139]) == "madvise"
    assert event_name(1, [305], sysdig_0_29_3=True) == "setuid"
    assert event_name(1, [392]) == "close_range"  # a code only current libs has
    assert event_name(3) == "open"


def test_ids_below_336_keep_their_layout_in_the_current_table() -> None:
    """Parameters are only ever appended, and keep their encoded width (scap-format 13.2.8)."""
    from scap.params import param_width

    assert len(EVENT_INFO_CURRENT) >= 336
    for etype, old in enumerate(EVENT_INFO_0_29_3):
        new = EVENT_INFO_CURRENT[etype]
        assert new.nparams >= old.nparams, etype
        for a, b in zip(old.params, new.params[:old.nparams], strict=True):
            assert param_width(a.type) == param_width(b.type), (etype, a, b)


def test_reader_table_is_0_29_3_below_336_and_current_above() -> None:
    assert EVENT_INFO[:336] == EVENT_INFO_0_29_3
    assert EVENT_INFO[336:] == EVENT_INFO_CURRENT[336:]
    # ids above 336 as docs/scap-format.md 11.2 lists them (from the compiled current table)
    expected = {
        337: ("open_by_handle_at", ["fd", "mountfd", "flags", "path", "dev", "ino"]),
        354: ("useradded", ["uid", "gid", "name", "home", "shell", "container_id"]),
        356: ("userdeleted", ["uid", "gid", "name", "home", "shell", "container_id"]),
        358: ("groupadded", ["gid", "name", "container_id"]),
        360: ("groupdeleted", ["gid", "name", "container_id"]),
        363: ("dup2", ["res", "oldfd", "newfd"]),
        365: ("dup3", ["res", "oldfd", "newfd", "flags"]),
        367: ("dup", ["res", "oldfd"]),
        387: ("umount", ["res", "name"]),
        388: ("accept4", ["flags"]),
        389: ("accept4", ["fd", "tuple", "queuepct", "queuelen", "queuemax", "flags"]),
        391: ("umount2", ["res", "name", "flags"]),
        393: ("pipe2", ["res", "fd1", "fd2", "ino", "flags"]),
        402: ("asyncevent", ["plugin_id", "name", "data"]),
        427: ("setreuid", ["res", "ruid", "euid"]),
        429: ("setregid", ["res", "rgid", "egid"]),
    }
    for etype, (name, params) in expected.items():
        assert (EVENT_INFO[etype].name, [p.name for p in EVENT_INFO[etype].params]) == (
            name, params), etype
    assert large_payload(PPME.ASYNCEVENT_E)
    assert EVENT_INFO[389].params[1].type == PT.SOCKTUPLE


def test_renames_between_versions_are_kept_apart() -> None:
    # docs/scap-format.md 13.2.8: 196 sysdigevent -> scapevent; execve #17 pgid -> vpgid;
    # pluginevent #0 "plugin ID" -> plugin_id
    assert EVENT_INFO_0_29_3[196].name == "sysdigevent"
    assert EVENT_INFO_CURRENT[196].name == "scapevent"
    assert PPME.SYSDIGEVENT_E == PPME.SCAPEVENT_E == 196
    for etype in (PPME.SYSCALL_EXECVE_19_X, PPME.SYSCALL_EXECVEAT_X):
        assert EVENT_INFO_0_29_3[etype].params[17].name == "pgid"
        assert EVENT_INFO_CURRENT[etype].params[17].name == "vpgid"
    assert EVENT_INFO_0_29_3[322].params[0].name == "plugin ID"
    assert EVENT_INFO_CURRENT[322].params[0].name == "plugin_id"
    # current libs appended params (13.2.8: "keeps its parameter count or grows it")
    assert EVENT_INFO_0_29_3[293].nparams == 20 and EVENT_INFO_CURRENT[293].nparams == 31
    assert EVENT_INFO_0_29_3[3].nparams == 5 and EVENT_INFO_CURRENT[3].nparams == 6
    # FLAGS in 0.29.3 became ENUMFLAGS (same width)
    assert EVENT_INFO_0_29_3[18].params[0].type == PT.FLAGS32
    assert EVENT_INFO_CURRENT[18].params[0].type == PT.ENUMFLAGS32
    assert flags_to_names(EVENT_INFO_CURRENT[18].params[0], 2) == ["AF_INET"]


def test_ppme_enum_names_upstream_spelling() -> None:
    assert PPME.SYSCALL_OPEN_X == 3
    assert PPME.SYSCALL_OPENAT_2_X == 307
    assert PPME.SYSCALL_EXECVE_19_X == 293
    assert PPME(322).name == "PLUGINEVENT_E"
    assert EVENT_INFO[PPME.SYSCALL_OPENAT_2_X].params[2].dirfd_index == 1


def test_helpers() -> None:
    assert is_enter(PPME.SYSCALL_OPEN_E) and not is_enter(PPME.SYSCALL_OPEN_X)
    execve = event_types_by_name("execve")
    assert {12, 13, 154, 155, 172, 173, 214, 215, 230, 231, 282, 283, 288, 289, 292, 293} <= execve
    assert all(EVENT_INFO[t].name == "execve" or EVENT_INFO_0_29_3[t].name == "execve"
               for t in execve)
    assert event_types_by_name("open") >= {2, 3}
    assert 0 not in event_types_by_name("open")  # open has a dedicated event
    assert event_types_by_name("madvise") == {0, 1}  # only ever sent as a generic event
    assert event_types_by_name("no_such_syscall") == frozenset()
    assert large_payload(PPME.PLUGINEVENT_E) and large_payload(PPME.CONTAINER_JSON_2_E)
    assert not large_payload(PPME.SYSCALL_READ_X)
    assert EVENT_INFO[PPME.PLUGINEVENT_E].flags & EF.LARGE_PAYLOAD
    assert EVENT_INFO[3].params[2].fmt == PF.HEX


def test_flags_to_names_rules() -> None:
    openx = EVENT_INFO_0_29_3[PPME.SYSCALL_OPEN_X].params[2]
    table = dict(openx.info)
    rdwr_creat = table["O_RDWR"] | table["O_CREAT"]
    # bits are consumed in table order: O_RDWR is not also O_RDONLY|O_WRONLY
    assert flags_to_names(openx, rdwr_creat) == ["O_CREAT", "O_RDWR"]
    assert flags_to_names(openx, 0) == ["O_NONE"]  # zero-valued entry matches only 0
    enum_param = EVENT_INFO_CURRENT[PPME.SOCKET_SOCKET_E].params[0]
    assert enum_param.type == PT.ENUMFLAGS32
    assert flags_to_names(enum_param, 2) == ["AF_INET"]  # exact match, not bits
    assert flags_to_names(enum_param, 3) == ["AF_AX25"]
    assert flags_to_names(enum_param, 1000) == []


_ARG = re.compile(r"(?:^| )(\w+)=(\d+)(?:\(([^)]*)\))?(?= |$)")


def _flag_params_by_event(name: str, direction: str) -> dict[str, set]:
    by_param: dict[str, set] = {}
    for etype, info in enumerate(EVENT_INFO_0_29_3):
        if info.name != name or ("<" if etype & 1 else ">") != direction:
            continue
        for p in info.params:
            if p.type in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.MODE) and p.info:
                by_param.setdefault(p.name, set()).add(p)
    return by_param


@pytest.mark.sysdig
def test_flag_names_match_sysdig_on_real_captures(tmp_path: Path) -> None:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig 0.29.3 not installed")
    captures = sorted(TRACES.glob("*.scap"))
    if not captures:
        pytest.skip(f"no captures in {TRACES}")
    checked = 0
    for cap in captures:
        out = subprocess.run(["sysdig", "-r", str(cap), "-p", "%evt.type %evt.dir %evt.args"],
                             capture_output=True, text=True, errors="replace", timeout=120)
        for line in out.stdout.splitlines():
            name, _, rest = line.partition(" ")
            direction, _, args = rest.partition(" ")
            params = _flag_params_by_event(name, direction)
            for m in _ARG.finditer(args):
                cands = params.get(m.group(1))
                if not cands:
                    continue
                value = int(m.group(2))
                shown = m.group(3).split("|") if m.group(3) else []
                for p in cands:
                    assert flags_to_names(p, value) == shown, (cap.name, line)
                checked += 1
    assert checked >= 20  # the six captures hold 50+ such params


def test_ppm_sc_names_follow_current_libs_where_0_29_3_differed():
    """Current libs' PPM_SC enum: RT_SIGRETURN at 298, NEWFSTATAT at 300 (0.29.3's enum had
    SIGRETURN and the typo NEWFSSTAT there) and a separate SIGRETURN at 410.  Live generic
    events carry these codes, so ``evt.type`` and the kernel's interesting table use them."""
    from scap import schema as _schema

    assert _schema.syscall_name(298) == "rt_sigreturn"
    assert _schema.syscall_name(300) == "newfstatat"
    assert _schema.syscall_name(410) == "sigreturn"
    # replay keeps what sysdig 0.29.3 prints for the same code
    assert _schema.syscall_name(300, sysdig_0_29_3=True) == _schema.SYSCALL_NAMES_0_29_3[300]

"""Our capture reader against Debian's sysdig 0.29.3, event by event, on every real capture.

For each capture: the event sequence (evt.num, evt.rawtime, thread.tid, evt.cpu, evt.dir,
evt.type) and every parameter value sysdig can show through `%evt.arg.NAME` (`-b`: buffers in
base64, so bytes compare exactly).  Then the round trip: our re-encoding of the capture through
`scap.Writer` must print byte-identically in sysdig (default view and a many-field format).
"""
from __future__ import annotations

import base64
import glob
import os
import re
import shutil
import subprocess

import pytest

import scap
from scap.schema import EVENT_INFO_0_29_3_COUNT, PF, PT, event_name

pytestmark = [
    pytest.mark.sysdig,
    pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig (0.29.3) not installed"),
]

CAPTURES = sorted(glob.glob("/work/shared/traces/syscalls/*.scap"))
RS, FS = "\x1e", "\x1f"
_CONTAINER_TYPES = {228, 272, 324}
_NUMERIC = {PT.INT8, PT.INT16, PT.INT32, PT.INT64, PT.UINT8, PT.UINT16, PT.UINT32, PT.UINT64,
            PT.ERRNO, PT.FD, PT.PID, PT.SIGTYPE, PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.UID,
            PT.GID, PT.MODE, PT.SIGSET, PT.SYSCALLID}


def sysdig(*args: str) -> str:
    proc = subprocess.run(["sysdig", *args], capture_output=True, timeout=300, check=True)
    return proc.stdout.decode("utf-8", "surrogateescape")


def _records(path: str) -> list[scap.EventRecord]:
    with scap.open(path) as cap:
        return [r for r in cap if r.type < EVENT_INFO_0_29_3_COUNT]


def _hidden_nums(recs: list[scap.EventRecord]) -> set[int]:
    """evt.num values sysdig assigns but never prints (format doc §12.3)."""
    hidden = set()
    leading = True
    for num, r in enumerate(recs, 1):
        if leading and r.type in _CONTAINER_TYPES:
            hidden.add(num)
            continue
        leading = False
        if r.dump_flags & 1:
            hidden.add(num)
    return hidden


def _render_tuple(v: scap.SockTuple) -> str:
    if v.family == 1:
        return f"{v.sip:x}->{v.dip:x} {v.path}"
    return f"{v.sip}:{v.sport}->{v.dip}:{v.dport}"


def _render_addr(v: scap.SockAddr) -> str:
    return v.addr if v.family == 1 else f"{v.addr}:{v.port}"


def _same_number(text: str, value: int, fmt: PF) -> bool:
    token = re.match(r"-?[0-9A-Fa-fx]+", text)
    if token is None:
        return False
    t = token.group(0)
    got = int(t, 16) if fmt == PF.HEX else int(t, 8) if fmt == PF.OCT else int(t)
    return (got - value) % (1 << 64) == 0


def _check_param(ptype: PT, fmt: PF, value: object, text: str) -> bool | None:
    """True/False = compared and (not) equal, None = a type this test does not render."""
    if value is None:
        return text in ("<NA>", "NULL", "")
    if ptype in _NUMERIC and isinstance(value, int):
        if ptype in (PT.FLAGS8, PT.FLAGS16, PT.FLAGS32):
            fmt = PF.DEC  # flags print their decimal value, then the names
        return _same_number(text, value, fmt)
    if ptype == PT.CHARBUF:
        return text == value
    if ptype in (PT.FSPATH, PT.FSRELPATH):
        printable = "".join(c for c in str(value) if c.isprintable())
        return text.startswith(printable)
    if ptype == PT.BYTEBUF:
        return text == base64.b64encode(value).decode()  # type: ignore[arg-type]
    if ptype == PT.SOCKTUPLE:
        return text == _render_tuple(value)  # type: ignore[arg-type]
    if ptype == PT.SOCKADDR:
        return text == _render_addr(value)  # type: ignore[arg-type]
    return None


def _split_args(text: str, names: list[str]) -> dict[str, str]:
    """`%evt.args` -> {name: text}: each param prints as `name=value` plus one space, in table
    order; values may contain spaces, so each ends where the next name starts."""
    out: dict[str, str] = {}
    pos = 0
    for i, name in enumerate(names):
        assert text.startswith(name + "=", pos), (text, name, pos)
        pos += len(name) + 1
        if i + 1 < len(names):
            nxt = text.index(" " + names[i + 1] + "=", pos)
        else:
            nxt = len(text) - 1
            assert text.endswith(" "), text
        out[name] = text[pos:nxt]
        pos = nxt + 1
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_events_and_params_match_sysdig(path: str) -> None:
    recs = _records(path)
    fmt = "*" + RS + FS.join(["%evt.num", "%evt.rawtime", "%thread.tid", "%evt.cpu", "%evt.dir",
                              "%evt.type", "%evt.args"])
    lines = sysdig("-D", "-b", "-r", path, "-p", fmt).split(RS)[1:]
    hidden = _hidden_nums(recs)
    assert len(lines) == len(recs) - len(hidden)
    compared = 0
    for line in lines:
        num, rawtime, tid, cpu, direction, etype, argtext = line.rstrip("\n").split(FS)
        r = recs[int(num) - 1]
        assert int(num) not in hidden
        params = r.params
        assert (int(rawtime), int(tid), int(cpu), direction) == (r.ts, r.tid, r.cpu, r.direction)
        assert etype == event_name(r.type, params, sysdig_0_29_3=True)
        if r.type in (0, 1):  # generic events print no args
            assert argtext == ""
            continue
        pinfos = r.info.params[:len(params)]
        args = _split_args(argtext, [p.name for p in pinfos])
        for p, value in zip(pinfos, params, strict=True):
            ok = _check_param(p.type, p.fmt, value, args[p.name])
            if ok is not None:
                assert ok, (num, etype, p.name, p.type.name, value, args[p.name])
                compared += 1
    assert compared > 0


def _rewrite(path: str, dest: str) -> None:
    with scap.open(path) as cap, scap.Writer(dest) as w:
        w.write_header(machine=cap.machine, interfaces=cap.interfaces, users=cap.users,
                       groups=cap.groups, processes=cap.processes)
        w.write_events(cap)


#: a many-field format covering process, thread, user, group, fd and event fields
WIDE = ("*%evt.num %evt.rawtime %evt.cpu %evt.dir %evt.type %evt.args %proc.name %proc.pid "
        "%proc.ppid %proc.exe %proc.args %proc.cwd %proc.cmdline %proc.pname %proc.exepath "
        "%proc.vmsize %proc.vmrss %proc.vmswap %proc.loginshellid %proc.sid %thread.tid "
        "%thread.vtid %thread.pfmajor %thread.pfminor %proc.env %proc.tty %user.uid %user.name "
        "%user.homedir %user.shell %user.loginuid %group.gid %group.name %fd.num %fd.type "
        "%fd.typechar %fd.name %fd.directory %fd.filename %fd.rip %fd.lip %fd.cip %fd.sip "
        "%fd.cport %fd.sport %fd.l4proto %fd.sockfamily %fd.is_server %fd.uid %proc.vpid "
        "%proc.is_exe_writable %container.id %container.name %evt.res %evt.failed %evt.is_io "
        "%proc.nthreads %proc.fdopencount")


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_round_trip_prints_identically(path: str, tmp_path) -> None:
    out = str(tmp_path / "rewritten.scap")
    _rewrite(path, out)
    for args in (["-D"], ["-D", "-p", WIDE], ["-c", "lsof"], ["-c", "ps"]):
        assert sysdig(*args, "-r", out) == sysdig(*args, "-r", path), args

"""fd.is_server, fd.lip/rip/lport/rport and fd.connected where 0.29.3's notion of "this
machine" depends on the thread's container, against sysdig 0.29.3.

The capture runs the same socket script in four threads: one on the host, one in a docker
container whose IP is unknown (0.29.3 keeps a bare entry for docker cgroups), one in a
docker container whose container event gives it an IP, and one in a CRI-O container (no
entry without a runtime to ask). The script: an unconnected UDP v4 and v6 socket, a TCP
connect to an interface address, a UDP sendto/recvfrom, an IPv6 connect to ::1, and a
refused then in-progress connect. The expected values in ``test_without_sysdig`` are
sysdig 0.29.3's output for this capture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scap.metadata import InterfaceInfo, ProcInfo
from scap.params import SockAddr, SockTuple
from scap.testing import EventBuilder, write_capture
from sinsp import Inspector
from sinsp.format import Formatter, default_registry

UNKNOWN_IP = "a1b2c3d4e5f6" + "0" * 52
WITH_IP = "b1b2c3d4e5f6" + "1" * 52
CRIO = "c1b2c3d4e5f6" + "2" * 52
FIELDS = ("evt.num thread.tid evt.type fd.num fd.name fd.is_server fd.lip fd.rip fd.lport "
          "fd.rport fd.connected fd.name_changed fd.sip fd.cip").split()  # fmt: skip


def _script(b: EventBuilder, tid: int) -> list[Any]:
    def ev(name: str, params: list[Any]) -> Any:
        return b.build(name, params, tid=tid)

    v4 = SockTuple(2, "172.17.0.3", 40000, "172.17.0.2", 80, "")
    refused = SockTuple(2, "172.17.0.3", 40002, "10.9.9.9", 80, "")
    return [
        ev("SOCKET_SOCKET_E", [2, 2, 17]), ev("SOCKET_SOCKET_X", [3]),
        ev("SYSCALL_READ_E", [3, 10]), ev("SYSCALL_READ_X", [-11, b""]),
        ev("SOCKET_SOCKET_E", [10, 2, 17]), ev("SOCKET_SOCKET_X", [4]),
        ev("SYSCALL_READ_E", [4, 10]), ev("SYSCALL_READ_X", [-11, b""]),
        ev("SOCKET_SOCKET_E", [2, 1, 6]), ev("SOCKET_SOCKET_X", [5]),
        ev("SOCKET_CONNECT_E", [5, SockAddr(2, "172.17.0.2", 80)]), ev("SOCKET_CONNECT_X", [0, v4]),
        ev("SOCKET_CONNECT_E", [5, SockAddr(2, "172.17.0.2", 80)]),
        ev("SOCKET_SENDTO_E", [3, 4, SockTuple(2, "172.17.0.3", 5353, "8.8.8.8", 53, "")]),
        ev("SOCKET_SENDTO_X", [4, b"qqqq"]),
        ev("SOCKET_RECVFROM_E", [3, 512]),
        ev("SOCKET_RECVFROM_X",
           [4, b"abcd", SockTuple(2, "9.9.9.9", 53, "172.17.0.3", 5353, "")]),
        ev("SOCKET_SOCKET_E", [10, 1, 6]), ev("SOCKET_SOCKET_X", [6]),
        ev("SOCKET_CONNECT_E", [6, SockAddr(10, "::1", 443)]),
        ev("SOCKET_CONNECT_X", [0, SockTuple(10, "::1", 40001, "::1", 443, "")]),
        ev("SOCKET_SOCKET_E", [2, 1, 6]), ev("SOCKET_SOCKET_X", [7]),
        ev("SOCKET_CONNECT_E", [7, SockAddr(2, "10.9.9.9", 80)]),
        ev("SOCKET_CONNECT_X", [-111, refused]),
        ev("SOCKET_CONNECT_E", [7, SockAddr(2, "10.9.9.9", 80)]),
        ev("SOCKET_CONNECT_X", [-115, refused]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    desc = {"container": {"id": WITH_IP[:12], "type": 0, "name": "withip", "image": "x",
                          "ip": "172.17.0.3"}}  # fmt: skip
    events = [b.build("CONTAINER_JSON_E", {"json": json.dumps(desc)}, tid=-1)]
    for tid in (100, 200, 300, 400):
        events += _script(b, tid)
    procs = [
        ProcInfo(tid=100, pid=100, ptid=1, comm="host", exe="host", cwd="/"),
        ProcInfo(tid=200, pid=200, ptid=1, comm="dock", exe="dock", cwd="/",
                 cgroups=[f"cpu=/docker/{UNKNOWN_IP}"]),
        ProcInfo(tid=300, pid=300, ptid=1, comm="dockip", exe="dockip", cwd="/",
                 cgroups=[f"cpu=/docker/{WITH_IP}"]),
        ProcInfo(tid=400, pid=400, ptid=1, comm="crio", exe="crio", cwd="/",
                 cgroups=[f"cpu=/kubepods/besteffort/pod1/crio-{CRIO}.scope"]),
    ]  # fmt: skip
    ifs = [
        InterfaceInfo(type=1, name="lo", addr="127.0.0.1", netmask="255.0.0.0",
                      bcast="127.0.0.1"),
        InterfaceInfo(type=1, name="eth0", addr="172.17.0.2", netmask="255.255.0.0",
                      bcast="172.17.255.255"),
        InterfaceInfo(type=2, name="lo", addr="::1",
                      netmask="ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", bcast="::1"),
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("locality") / "locality.scap"
    write_capture(path, events, processes=procs, interfaces=ifs)
    return path


def _ours(path: Path) -> dict[tuple[int, int], list[str]]:
    """(tid, position of the event in its thread's script) -> the FIELDS values."""
    f = Formatter("*" + "|".join("%" + n for n in FIELDS), default_registry())
    out: dict[tuple[int, int], list[str]] = {}
    seen: dict[int, int] = {}
    with Inspector.from_capture(str(path)) as insp:
        for e in insp:
            line = f.render(e)
            assert line is not None
            cols = line.split("|")
            tid = int(cols[1])
            out[(tid, seen.get(tid, 0))] = cols
            seen[tid] = seen.get(tid, 0) + 1
    return out


def _col(row: list[str], name: str) -> str:
    return row[FIELDS.index(name)]


def test_without_sysdig(capture: Path) -> None:
    """Values sysdig 0.29.3 printed for this capture (see the module docstring)."""
    got = _ours(capture)
    # unconnected UDP sockets (socket exit, position 1): the zero destination is local for
    # an IPv6 socket on the host (::1's /64) and for IPv4 in a container of unknown IP
    assert [_col(got[(t, 1)], "fd.is_server") for t in (100, 200, 300, 400)] == [
        "false", "true", "false", "false"]
    assert [_col(got[(t, 5)], "fd.is_server") for t in (100, 200, 300, 400)] == [
        "true", "false", "false", "false"]
    # connect enter (position 10): the address connected to is already the destination
    assert [_col(got[(t, 10)], "fd.is_server") for t in (100, 200, 300, 400)] == [
        "true", "true", "true", "true"]
    # after the TCP connect: 172.17.0.3 is local where it is a container's IP, i.e. in both
    # docker containers (the one of unknown IP matches any container's IP)
    lip_rip = [(_col(got[(t, 11)], "fd.lip"), _col(got[(t, 11)], "fd.rip"))
               for t in (100, 200, 300, 400)]  # fmt: skip
    assert lip_rip == [("172.17.0.2", "172.17.0.3"), ("172.17.0.3", "172.17.0.2"),
                       ("172.17.0.3", "172.17.0.2"), ("172.17.0.2", "172.17.0.3")]  # fmt: skip
    # IPv6 is never local inside a container
    assert [_col(got[(t, 20)], "fd.is_server") for t in (100, 200, 300, 400)] == [
        "true", "false", "false", "false"]
    # connected: a successful sendto marks a UDP socket; a refused connect does not, an
    # in-progress one does
    host = [(_col(got[(100, i)], "fd.connected")) for i in (13, 14, 24, 26)]
    assert host == ["false", "true", "false", "true"]


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig not installed")
def test_matches_sysdig(capture: Path) -> None:
    fmt = "*" + "|".join("%" + n for n in FIELDS)
    theirs = subprocess.run(["sysdig", "-r", str(capture), "-p", fmt], capture_output=True,
                            check=True).stdout.decode().splitlines()  # fmt: skip
    ours = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(capture), "-p",
                           fmt], capture_output=True, check=True).stdout.decode().splitlines()
    assert len(ours) == len(theirs) == 108
    for a, b in zip(ours, theirs, strict=True):
        cols = {FIELDS[i] for i, (x, y) in enumerate(zip(a.split("|"), b.split("|"),
                                                           strict=True)) if x != y}
        # state: a datagram that renames its socket marks the name changed in 0.29.3 (the
        # name before parsing is not kept); every other column matches
        allowed = {"fd.name_changed"} if b.split("|")[2] in ("sendto", "recvfrom") else set()
        assert cols <= allowed, f"\nsysdig   {b}\npysysdig {a}"

"""Sockets of the capture's fd list (PL + FDL blocks) as sysdig 0.29.3 sees them.

sinsp gives a TCP entry the connected flag (IPv4 and IPv6) and, once every process is
loaded, an IPv4 entry a role: server (ends swapped to read client->server) when its own
port is a port any process listens on -- an IPv4 or an IPv6 listening socket, in any
process -- else client. The role is what fd.lip/rip/lport/rport need. A successful read
then marks a UDP socket connected too (parse_rw_exit). The capture: process 100 listens on
8080 (IPv4) and 9090 (IPv6); process 200 listens on 7070. Every fd is read twice, first
failing (state from the fd list only), then succeeding.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scap.metadata import FdEntry, InterfaceInfo, ProcInfo
from scap.testing import EventBuilder, write_capture

FIELDS = ("evt.num thread.tid evt.res fd.num fd.name fd.connected fd.is_server fd.lip fd.rip "
          "fd.lport fd.rport fd.sip fd.cip fd.name_changed").split()  # fmt: skip
FMT = "*" + "|".join("%" + f for f in FIELDS)
TCP, UDP = 2, 3

A_FDS = [
    FdEntry(fd=3, ino=11, type=5, sip="0.0.0.0", sport=8080, l4proto=TCP),
    FdEntry(fd=4, ino=12, type=3, sip="10.0.0.5", sport=8080, dip="10.0.0.9", dport=51000,
            l4proto=TCP),
    FdEntry(fd=5, ino=13, type=3, sip="10.0.0.5", sport=40000, dip="93.184.216.34", dport=443,
            l4proto=TCP),
    FdEntry(fd=6, ino=14, type=3, sip="10.0.0.5", sport=5353, dip="8.8.8.8", dport=53,
            l4proto=UDP),
    FdEntry(fd=7, ino=15, type=4, sip="2001:db8::1", sport=40001, dip="2001:db8::2", dport=443,
            l4proto=TCP),
    FdEntry(fd=8, ino=16, type=6, sip="::", sport=9090, l4proto=TCP),
    FdEntry(fd=9, ino=17, type=8, source=0xFFFF8800AAAA0000, dest=0, name="/run/srv.sock"),
    FdEntry(fd=10, ino=18, type=8, source=0xFFFF8800BBBB0000, dest=0xFFFF8800CCCC0000),
    FdEntry(fd=11, ino=19, type=4, sip="2001:db8::1", sport=9090, dip="2001:db8::3",
            dport=50000, l4proto=TCP),
    FdEntry(fd=12, ino=20, type=3, sip="127.0.0.1", sport=7070, dip="127.0.0.1", dport=45000,
            l4proto=TCP),
]  # fmt: skip
B_FDS = [
    FdEntry(fd=3, ino=21, type=3, sip="10.0.0.5", sport=9090, dip="10.0.0.7", dport=52000,
            l4proto=TCP),
    FdEntry(fd=4, ino=22, type=3, sip="10.0.0.5", sport=45000, dip="127.0.0.1", dport=7070,
            l4proto=TCP),
    FdEntry(fd=5, ino=23, type=5, sip="127.0.0.1", sport=7070, l4proto=TCP),
    FdEntry(fd=6, ino=24, type=3, sip="10.0.0.5", sport=8080, dip="10.0.0.8", dport=51001,
            l4proto=UDP),
]  # fmt: skip
PER_TID = {100: [e.fd for e in A_FDS], 200: [e.fd for e in B_FDS]}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ev: list[Any] = []
    for res, data in ((-11, b""), (2, b"ab")):
        for tid, fds in PER_TID.items():
            for fd in fds:
                ev += [b.build("SYSCALL_READ_E", [fd, 10], tid=tid),
                       b.build("SYSCALL_READ_X", [res, data], tid=tid)]
    procs = [ProcInfo(tid=100, pid=100, ptid=1, comm="a", exe="a", cwd="/", fds=A_FDS),
             ProcInfo(tid=200, pid=200, ptid=1, comm="b", exe="b", cwd="/", fds=B_FDS)]
    ifs = [InterfaceInfo(type=1, name="lo", addr="127.0.0.1", netmask="255.0.0.0",
                         bcast="127.0.0.1"),
           InterfaceInfo(type=1, name="eth0", addr="10.0.0.5", netmask="255.255.255.0",
                         bcast="10.0.0.255")]  # fmt: skip
    path = tmp_path_factory.mktemp("fdl") / "fdl_sockets.scap"
    write_capture(path, ev, processes=procs, interfaces=ifs)
    return path


def _run(cmd: list[str]) -> list[str]:
    return subprocess.run(cmd, capture_output=True, check=True,
                          timeout=120).stdout.decode().splitlines()  # fmt: skip


def _ours(path: Path) -> list[str]:
    return _run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(path), "-p", FMT])


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig (0.29.3) is not installed")
def test_fdlist_sockets_match_sysdig(capture: Path) -> None:
    theirs = _run(["sysdig", "-r", str(capture), "-p", FMT])
    ours = _ours(capture)
    assert len(theirs) == len(ours) == 56
    bad = [(a, b) for a, b in zip(ours, theirs, strict=True) if a != b]
    assert not bad, "\n".join(f"sysdig   {b}\npysysdig {a}" for a, b in bad)


def _row(lines: list[str], num: int) -> dict[str, str]:
    cols = lines[num - 1].split("|")
    assert cols[0] == str(num)
    return dict(zip(FIELDS, cols, strict=True))


def test_fdlist_sockets_without_sysdig(capture: Path) -> None:
    """sysdig 0.29.3's values for this capture, pinned (events 1-28 fail, 29-56 succeed)."""
    got = _ours(capture)

    def pick(num: int, *names: str) -> tuple[str, ...]:
        row = _row(got, num)
        return tuple(row[n] for n in names)

    ends = ("fd.name", "fd.connected", "fd.lip", "fd.rip", "fd.lport", "fd.rport")
    # an accepted connection on a port the process listens on: server, ends swapped
    assert pick(4, *ends) == ("10.0.0.9:51000->10.0.0.5:8080", "true", "10.0.0.5",
                              "10.0.0.9", "8080", "51000")
    # an outgoing connection: client, as listed
    assert pick(6, *ends) == ("10.0.0.5:40000->93.184.216.34:443", "true", "10.0.0.5",
                              "93.184.216.34", "40000", "443")
    # UDP: a role but not connected until a read succeeds
    assert pick(8, *ends) == ("10.0.0.5:5353->8.8.8.8:53", "false", "10.0.0.5", "8.8.8.8",
                              "5353", "53")
    assert pick(35, "fd.connected") == ("false",)
    assert pick(36, "fd.connected") == ("true",)
    # IPv6 TCP: connected, no local/remote fields in 0.29.3
    assert pick(10, "fd.connected", "fd.lip") == ("true", "<NA>")
    # ports listened on by another process, or by an IPv6 socket, count too
    assert pick(20, "fd.name", "fd.is_server") == ("127.0.0.1:45000->127.0.0.1:7070", "true")
    assert pick(22, *ends) == ("10.0.0.7:52000->10.0.0.5:9090", "true", "10.0.0.5",
                               "10.0.0.7", "9090", "52000")
    assert pick(28, "fd.name", "fd.connected", "fd.lport") == (
        "10.0.0.8:51001->10.0.0.5:8080", "false", "8080")
    # listening and unix sockets are never connected
    assert {pick(n, "fd.connected")[0] for n in (2, 12, 14, 16, 26, 30, 40, 42, 44, 54)} == {
        "false"}
    assert {_row(got, n)["fd.name_changed"] for n in range(1, 57)} == {"false"}


def test_v4_mapped_fdlist_socket_is_ipv4(tmp_path: Path) -> None:
    """A fd-list IPv6 entry whose two ends are v4-mapped is kept as IPv4 (and takes the
    IPv4 role); one mapped end only stays IPv6. Pinned values measured on sysdig 0.29.3,
    compared live when it is installed."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ev = [b.build("SYSCALL_READ_E", [4, 10]), b.build("SYSCALL_READ_X", [-11, b""]),
          b.build("SYSCALL_READ_E", [5, 10]), b.build("SYSCALL_READ_X", [-11, b""])]
    fds = [
        FdEntry(fd=3, ino=1, type=5, sip="0.0.0.0", sport=8080, l4proto=TCP),
        FdEntry(fd=4, ino=2, type=4, sip="::ffff:10.0.0.5", sport=8080, dip="::ffff:10.0.0.9",
                dport=5000, l4proto=TCP),
        FdEntry(fd=5, ino=3, type=4, sip="::ffff:10.0.0.5", sport=4000, dip="2001:db8::9",
                dport=5000, l4proto=TCP),
    ]  # fmt: skip
    path = tmp_path / "mapped.scap"
    write_capture(path, ev, processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="a", exe="a",
                                                cwd="/", fds=fds)])  # fmt: skip
    fmt = "*%evt.num %fd.type %fd.name %fd.connected %fd.lip %fd.rip %fd.lport"
    ours = _run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(path), "-p", fmt])
    assert ours[1] == "2 ipv4 10.0.0.9:5000->10.0.0.5:8080 true 10.0.0.5 10.0.0.9 8080"
    assert ours[3] == "4 ipv6 ::ffff:10.0.0.5:4000->2001:db8::9:5000 true <NA> <NA> <NA>"
    if shutil.which("sysdig") is not None:
        assert ours == _run(["sysdig", "-r", str(path), "-p", fmt])

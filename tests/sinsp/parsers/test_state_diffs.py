"""State differences from sysdig 0.29.3 found on synthetic captures, and the
current-libs events (types >= 336) the live probe emits.

The first part writes one capture with each case and compares our fd/thread
fields with ``sysdig -r``; the second checks the state left by current-libs
events sysdig 0.29.3 cannot read, against the semantics of current libs'
parsers.cpp (close_range, setreuid/setregid, accept4_6, dup/dup2/dup3, pipe2).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import _scenario  # noqa: E402
from _feed import builder, proc, replay  # noqa: E402
from _sysdig_diff import diff, have_sysdig  # noqa: E402

from scap import SockAddr, SockTuple  # noqa: E402
from scap.metadata import MachineInfo  # noqa: E402
from scap.testing import EventBuilder, write_capture  # noqa: E402
from sinsp import FdType  # noqa: E402
from sinsp.state.fds import FLAG_CONNECTED, FLAG_ROLE_CLIENT, FLAG_ROLE_SERVER, L4_TCP  # noqa: E402

ROOT = HERE.parents[2]
O_RDONLY, O_DIRECTORY = 1, 1 << 10
CL_CHILD_IN_PIDNS = 1 << 29
FIELDS = ["evt.type", "proc.name", "proc.pid", "proc.ppid", "thread.tid", "fd.num", "fd.name",
          "fd.type", "fd.typechar", "fd.l4proto", "fd.sip", "fd.cip", "fd.sport", "fd.cport"]


def _capture(path: Path) -> Path:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    cg = _scenario._cg(f"/docker/{_scenario.DOCKER_ID}")
    ev: list[Any] = []

    def add(t: Any, params: Any, tid: int = 100) -> None:
        ev.append(b.build(t, params, tid=tid))

    def read(fd: int, tid: int = 100) -> None:
        add("SYSCALL_READ_E", [fd, 10], tid)
        add("SYSCALL_READ_X", [3, b"abc"], tid)

    # a listening socket, and a connection accepted on it (old accept: no fd at enter)
    add("SOCKET_SOCKET_E", [2, 1, 0]), add("SOCKET_SOCKET_X", [7])
    add("SOCKET_BIND_E", [7]), add("SOCKET_BIND_X", [0, SockAddr(2, "0.0.0.0", 8080)])
    add("SOCKET_LISTEN_E", [7, 5]), add("SOCKET_LISTEN_X", [0])
    add(248, [0]), add(249, [8, SockTuple(2, "10.0.0.9", 5555, "10.0.0.1", 8080, ""), 0, 0, 0])
    read(8)
    # bind to port 0 names the socket but does not make it a server
    add("SOCKET_SOCKET_E", [2, 2, 0]), add("SOCKET_SOCKET_X", [11])
    add("SOCKET_BIND_E", [11]), add("SOCKET_BIND_X", [0, SockAddr(2, "10.0.0.1", 0)])
    read(11)
    # connects: one with a tuple, one in progress whose exit has none
    add("SOCKET_SOCKET_E", [2, 1, 0]), add("SOCKET_SOCKET_X", [9])
    add("SOCKET_CONNECT_E", [9, SockAddr(2, "1.2.3.4", 443)])
    add("SOCKET_CONNECT_X", [0, SockTuple(2, "10.0.0.1", 40000, "1.2.3.4", 443, "")])
    read(9)
    add("SOCKET_SOCKET_E", [2, 1, 0]), add("SOCKET_SOCKET_X", [10])
    add("SOCKET_CONNECT_E", [10, SockAddr(2, "1.2.3.5", 443)])
    add("SOCKET_CONNECT_X", [-115, None])
    read(10)
    # the old openat exit (fd only) names the fd from its enter, relative to a dirfd
    # that is a file; bytes that are not printable ASCII become '.'
    add("SYSCALL_OPEN_E", ["/etc/hosts", O_RDONLY, 0])
    add("SYSCALL_OPEN_X", [3, "/etc/hosts", O_RDONLY, 0, 0])
    add(102, [-100, "foo/w\u00f6rld.txt", O_RDONLY, 0]), add(103, [12])
    read(12)
    add(102, [3, "x\x01y", O_RDONLY, 0]), add(103, [13])
    read(13)
    # an openat_2 exit whose enter disagrees: 0.29.3 takes name, flags and dirfd from the enter
    add(306, [3, "sub", O_RDONLY, 0]), add(307, [14, -100, "sub", O_RDONLY | O_DIRECTORY, 0, 0])
    read(14)
    add(306, [-100, "/srv", O_RDONLY | O_DIRECTORY, 0])
    add(307, [15, -100, "/srv", O_RDONLY | O_DIRECTORY, 0, 0])
    read(15)
    # clone3 creates the child like clone; a caller in a pid namespace leaves it to the child
    for etype, child, over in ((334, 500, {}), (334, 501, {"vtid": 501}),
                               (222, 502, {"flags": CL_CHILD_IN_PIDNS}), (222, 503, {})):
        params = _scenario._clone_x(child, 100, 100, 90, "bash", "/bin/bash", 0, cg)
        params.update(over)
        add(etype, []), add(etype + 1, params)
        read(0, child)
    write_capture(path, ev, processes=_scenario.processes(),
                  machine=MachineInfo(num_cpus=2, memory_size_bytes=1 << 30, max_pid=32768,
                                      hostname="h"))
    return path


@pytest.mark.sysdig
@pytest.mark.skipif(not have_sysdig(), reason="sysdig (0.29.3) is not installed")
def test_socket_open_clone_state_matches_sysdig(tmp_path: Path) -> None:
    path = _capture(tmp_path / "diffs.scap")
    assert diff(path, FIELDS, limit=40) == []


def _state(path: Path):  # type: ignore[no-untyped-def]
    from sinsp import Inspector

    with Inspector.from_capture(path) as insp:
        for _evt in insp:
            pass
        return insp


def test_capture_state(tmp_path: Path) -> None:
    """The same capture, checked on our state directly (runs without sysdig)."""
    insp = _state(_capture(tmp_path / "diffs.scap"))
    table = insp.threads.get(100).fd_table()
    listener, conn, port0 = table.get(7), table.get(8), table.get(11)
    assert listener.type == FdType.IPV4_SERVSOCK and listener.flags & FLAG_ROLE_SERVER
    assert conn.l4proto == L4_TCP and conn.flags == FLAG_ROLE_SERVER | FLAG_CONNECTED
    assert port0.type == FdType.IPV4_SOCK and not port0.flags & FLAG_ROLE_SERVER
    assert port0.name == "10.0.0.1:0"
    assert table.get(9).flags == FLAG_ROLE_CLIENT | FLAG_CONNECTED
    pending = table.get(10)  # in progress: connected, destination from the enter, no role
    assert (pending.dip, pending.dport, pending.flags) == ("1.2.3.5", 443, FLAG_CONNECTED)
    assert not listener.flags & FLAG_CONNECTED
    assert table.get(12).name == "/home/alice/foo/w..rld.txt"
    assert table.get(13).name == "/etc/hosts/x.y"
    assert (table.get(14).name, table.get(14).type) == ("/etc/hosts/sub", FdType.FILE)
    assert table.get(15).type == FdType.DIRECTORY
    assert insp.threads.get(500).comm == "bash" and insp.threads.get(503).comm == "bash"
    assert insp.threads.get(501).comm == "<NA>" and insp.threads.get(502).comm == "<NA>"


# ---- current-libs events (types >= 336): semantics of current libs' parsers.cpp ----


def _fds(insp: Any, tid: int = 100) -> dict[int, str]:
    return {i.fd: i.name for i in insp.threads.get(tid).fd_table()}


def _open(b: EventBuilder, fd: int, name: str) -> list[Any]:
    return [b.build(306, [-100, name, O_RDONLY, 0]), b.build(307, [fd, -100, name, O_RDONLY, 0, 0])]


def test_close_range_closes_the_range_after_the_event() -> None:
    b = builder()
    recs = [r for fd in (3, 4, 5, 9) for r in _open(b, fd, f"/f{fd}")]
    recs += [b.build(451, [0, 4, 5, 0])]
    recs += [b.build(451, [-9, 3, 3, 0])]  # failed: nothing closed
    recs += [b.build(451, [0, 9, 0xFFFFFFFF, 1 << 2])]  # CLOSE_RANGE_CLOEXEC: fds stay open
    seen: list[Any] = []
    insp, _ = replay(recs, [proc(100)], probe=lambda e: seen.append(
        (e.record.type, sorted(_fds(e.inspector)))))
    # the closing event itself still sees the fds; the next one does not
    assert seen[8] == (451, [3, 4, 5, 9])
    assert seen[9] == (451, [3, 9])
    assert _fds(insp) == {3: "/f3", 9: "/f9"}


def test_close_range_to_uint_max_closes_all_from_first() -> None:
    b = builder()
    recs = [r for fd in (0, 3, 600) for r in _open(b, fd, f"/g{fd}")]
    recs.append(b.build(451, [0, 3, 0xFFFFFFFF, 0]))
    recs += [b.build("SYSCALL_READ_E", [0, 1]), b.build("SYSCALL_READ_X", [0, b""])]
    insp, _ = replay(recs, [proc(100)])
    assert _fds(insp) == {0: "/g0"}


def test_close_range_unshare_keeps_the_other_threads_fds() -> None:
    b = builder(tid=101)
    recs = [*_open(b, 3, "/x"), b.build(451, [0, 0, 0xFFFFFFFF, 1 << 1]),
            b.build("SYSCALL_READ_E", [3, 1]), b.build("SYSCALL_READ_X", [0, b""])]
    procs = [proc(100), proc(101, pid=100, ptid=1, flags=(1 << 13) | 1)]
    insp, _ = replay(recs, procs)
    assert _fds(insp, 100) == {3: "/x"}
    assert _fds(insp, 101) == {}


def test_keyctl_and_umount2_leave_state_alone() -> None:
    b = builder()
    recs = [
        *_open(b, 3, "/k"),
        b.build(453, [0, 1, (0, 5), (0, 0), (0, 0), (0, 0)]),
        b.build(391, [0, "/mnt", 0]),
    ]
    insp, seen = replay(recs, [proc(100)], probe=lambda e: e.record.type)
    assert seen[-2:] == [453, 391]
    assert _fds(insp) == {3: "/k"}


def test_setreuid_setregid_set_effective_ids() -> None:
    b = builder()
    recs = [b.build(427, [0, 0xFFFFFFFF, 1000]), b.build(429, [0, 0xFFFFFFFF, 33]),
            b.build(427, [0, 5, 0xFFFFFFFF]),  # -1 keeps the effective uid
            b.build(429, [-1, 7, 7])]  # failed
    insp, _ = replay(recs, [proc(100)])
    ti = insp.threads.get(100)
    assert (ti.uid, ti.gid) == (1000, 33)


def test_current_accept4_dup_pipe2_ids() -> None:
    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", [10, 1, 0]), b.build("SOCKET_SOCKET_X", [3]),
        b.build(389, [4, SockTuple(10, "::1", 50000, "::1", 80, ""), 0, 0, 0, 0]),
        b.build(367, [5, 4]),  # dup_1: res, oldfd
        b.build(363, [8, 5, 8]),  # dup2
        b.build(365, [9, 8, 9, 0]),  # dup3
        b.build(393, [0, 6, 7, 1234, 0]),  # pipe2
    ]
    insp, _ = replay(recs, [proc(100)])
    table = insp.threads.get(100).fd_table()
    acc = table.get(4)
    assert (acc.type, acc.l4proto, acc.flags) == (
        FdType.IPV6_SOCK, L4_TCP, FLAG_ROLE_SERVER | FLAG_CONNECTED)
    assert all(table.get(fd).name == acc.name for fd in (5, 8, 9))
    assert (table.get(6).type, table.get(7).type, table.get(7).ino) == (
        FdType.FIFO, FdType.FIFO, 1234)


def test_every_probe_exit_event_with_state_has_a_parser() -> None:
    """Every event type the live probe writes reaches the parser of its syscall
    when any version of that syscall has one (dispatch is by name)."""
    from scap import schema
    from sinsp import parsers

    parsers.ensure_built()
    text = (ROOT / "driver/bpf/events.h").read_text()
    ids = {int(n) for n in re.findall(r"PPME_\w+ = (\d+)", text)}
    assert len(ids) > 50
    with_parser = {schema.EVENT_INFO[t].name for t in parsers.PARSERS if t & 1}
    missing = [(t, schema.EVENT_INFO[t].name) for t in sorted(ids)
               if t & 1 and schema.EVENT_INFO[t].name in with_parser and t not in parsers.PARSERS]
    assert missing == []
    for name in ("dup", "dup2", "dup3", "pipe2", "accept4", "memfd_create", "bpf", "clone3",
                 "openat2", "setreuid", "setregid"):
        assert any(schema.EVENT_INFO[t].name == name for t in ids & set(parsers.PARSERS)), name


def test_exit_only_connect_without_tuple_takes_its_own_addr() -> None:
    """A current-libs connect exit (no enter; fd and addr appended to the 0.29.3
    layout) in progress with a NULL tuple: the destination comes from its addr."""
    import socket
    import struct

    b = builder()
    addr = b"\x02" + socket.inet_aton("1.2.3.6") + struct.pack("<H", 8443)
    recs = [b.build("SOCKET_SOCKET_E", [2, 1, 0]), b.build("SOCKET_SOCKET_X", [6]),
            b.build("SOCKET_CONNECT_X", [-115, None, struct.pack("<q", 6), addr])]
    insp, seen = replay(recs, [proc(100)], probe=lambda e: e.fdnum)
    info = insp.threads.get(100).fd_table().get(6)
    assert seen[-1] == 6
    assert (info.dip, info.dport, info.flags) == ("1.2.3.6", 8443, FLAG_CONNECTED)

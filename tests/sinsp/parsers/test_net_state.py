"""Socket state 0.29.3 keeps beyond connect/accept: read/write exits mark inet sockets
connected, and a datagram that renames its socket flags the event (fd.name_changed).
The same sequence written as a capture gives these values in sysdig 0.29.3 (measured)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

from scap.params import SockTuple
from sinsp.state.fds import FLAG_CONNECTED


def _probe(evt: Any) -> tuple[str, int | None, bool, bool]:
    fd = evt.fd
    connected = fd is not None and bool(fd.flags & FLAG_CONNECTED)
    return evt.name + evt.direction, evt.fdnum, connected, evt.name_changed


def test_successful_io_on_inet_sockets_connects_them() -> None:
    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", [2, 2, 17]), b.build("SOCKET_SOCKET_X", [3]),
        b.build("SYSCALL_WRITE_E", [3, 4]), b.build("SYSCALL_WRITE_X", [-111, b""]),
        b.build("SYSCALL_WRITE_E", [3, 4]), b.build("SYSCALL_WRITE_X", [4, b"abcd"]),
        b.build("SOCKET_SOCKET_E", [1, 1, 0]), b.build("SOCKET_SOCKET_X", [4]),
        b.build("SYSCALL_READ_E", [4, 4]), b.build("SYSCALL_READ_X", [4, b"abcd"]),
        b.build("SYSCALL_OPEN_E", ["/etc/hosts", 1, 0]),
        b.build("SYSCALL_OPEN_X", [5, "/etc/hosts", 1, 0, 0]),
        b.build("SYSCALL_READ_E", [5, 4]), b.build("SYSCALL_READ_X", [4, b"abcd"]),
    ]  # fmt: skip
    insp, seen = replay(recs, [proc(100)], probe=_probe)
    assert [s[2] for s in seen if s[0] in ("write<", "read<")] == [False, True, False, False]
    table = insp.threads.get(100).fd_table()
    # a failed write leaves the UDP socket unconnected; unix sockets and files never are
    assert [bool(table.get(fd).flags & FLAG_CONNECTED) for fd in (3, 4, 5)] == [True, False,
                                                                                False]


def test_datagram_rename_is_recorded_on_the_event() -> None:
    b = builder()
    out = SockTuple(2, "10.0.0.1", 5353, "8.8.8.8", 53, "")
    back = SockTuple(2, "8.8.8.8", 53, "10.0.0.1", 5353, "")
    other = SockTuple(2, "9.9.9.9", 53, "10.0.0.1", 5353, "")
    recs = [
        b.build("SOCKET_SOCKET_E", [2, 2, 17]), b.build("SOCKET_SOCKET_X", [3]),
        b.build("SOCKET_SENDTO_E", [3, 4, out]), b.build("SOCKET_SENDTO_X", [4, b"qqqq"]),
        b.build("SOCKET_RECVFROM_E", [3, 512]), b.build("SOCKET_RECVFROM_X", [4, b"aaaa", back]),
        b.build("SOCKET_RECVFROM_E", [3, 512]),
        b.build("SOCKET_RECVFROM_X", [4, b"aaaa", other]),
        b.build("SOCKET_SENDTO_E", [3, 4, out]), b.build("SOCKET_SENDTO_X", [-11, b""]),
    ]  # fmt: skip
    _, seen = replay(recs, [proc(100)], probe=_probe)
    exits = [(s[0], s[3]) for s in seen if s[0].endswith("<") and s[0] != "socket<"]
    # named by the first datagram; the same endpoints again change nothing; a new peer
    # renames; a failed call is not parsed
    assert exits == [("sendto<", True), ("recvfrom<", False), ("recvfrom<", True),
                     ("sendto<", False)]


def test_prefilter_keeps_io_for_fd_connected(tmp_path: Path) -> None:
    """A consumer of poll events reading fd.connected still sees the write that connected
    the UDP socket; one that does not read it lets the writes be dropped."""
    from scap import schema
    from scap.testing import write_capture
    from sinsp import Inspector
    from sinsp.parsers.prefilter import state_event_types

    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", [2, 2, 17]), b.build("SOCKET_SOCKET_X", [3]),
        b.build("SYSCALL_WRITE_E", [3, 4]), b.build("SYSCALL_WRITE_X", [4, b"abcd"]),
        b.build("SYSCALL_FCNTL_E", [3, 1]), b.build("SYSCALL_FCNTL_X", [0]),
    ]  # fmt: skip
    path = tmp_path / "udp.scap"
    write_capture(path, recs, processes=[proc(100)])
    fcntl_x = schema.PPME.SYSCALL_FCNTL_X
    write_x = schema.PPME.SYSCALL_WRITE_X
    assert write_x in state_event_types(["fd.connected"])
    assert write_x not in state_event_types(["fd.name"])
    for fields, want in ((["fd.connected"], True), (["fd.name"], False)):
        with Inspector.from_capture(path, event_types={fcntl_x}, fields=fields) as insp:
            got = [bool(e.fd.flags & FLAG_CONNECTED) for e in insp if e.fd is not None]
        assert got == [want]

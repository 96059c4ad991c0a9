"""socket/connect/bind/accept/socketpair parsers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

from sinsp import FdType
from sinsp.state.fds import L4_TCP, L4_UDP


def _fd(insp, fd):  # type: ignore[no-untyped-def]
    return insp.threads.get(100).fd_table().get(fd)


def test_tcp_connect_names_the_socket_by_its_tuple() -> None:
    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 3}),
        b.build("SOCKET_CONNECT_E", {"fd": 3, "addr": (2, "1.2.3.4", 80)}),
        b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": (2, "10.0.0.1", 4000, "1.2.3.4", 80)}),
    ]
    insp, _ = replay(recs, [proc(100)])
    s = _fd(insp, 3)
    assert (s.type, s.l4proto, s.name) == (FdType.IPV4_SOCK, L4_TCP, "10.0.0.1:4000->1.2.3.4:80")
    assert (s.sip, s.sport, s.dip, s.dport) == ("10.0.0.1", 4000, "1.2.3.4", 80)


def test_failed_connect_keeps_the_socket_unnamed() -> None:
    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", {"domain": 10, "type": 2, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 3}),
        b.build("SOCKET_CONNECT_E", {"fd": 3, "addr": (10, "::1", 53)}),
        b.build("SOCKET_CONNECT_X", {"res": -111, "tuple": (10, "::1", 5, "::1", 53)}),
    ]
    insp, _ = replay(recs, [proc(100)])
    s = _fd(insp, 3)
    assert (s.type, s.l4proto, s.name) == (FdType.IPV6_SOCK, L4_UDP, "")


def test_unix_connect_bind_accept_socketpair() -> None:
    b = builder()
    recs = [
        b.build("SOCKET_SOCKET_E", {"domain": 1, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 3}),
        b.build("SOCKET_CONNECT_E", {"fd": 3, "addr": (1, "/run/a.sock", 0)}),
        b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": (1, 0xAB, 0, 0xCD, 0, "/run/a.sock")}),
        b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 1, "proto": 6}),
        b.build("SOCKET_SOCKET_X", {"fd": 4}),
        b.build("SOCKET_BIND_E", {"fd": 4}),
        b.build("SOCKET_BIND_X", {"res": 0, "addr": (2, "0.0.0.0", 8080)}),
        b.build("SOCKET_ACCEPT_5_E", []),
        b.build("SOCKET_ACCEPT_5_X", {"fd": 5, "tuple": (2, "9.9.9.9", 1234, "10.0.0.1", 8080),
                                      "queuepct": 0, "queuelen": 0, "queuemax": 0}),
        b.build("SOCKET_SOCKETPAIR_E", {"domain": 1, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKETPAIR_X", {"res": 0, "fd1": 6, "fd2": 7, "source": 1, "peer": 2}),
    ]
    insp, seen = replay(recs, [proc(100)], probe=lambda e: e.fd.name if e.fd else None)
    assert seen[2] == "/run/a.sock"  # named at connect enter already
    assert _fd(insp, 3).name == "ab->cd /run/a.sock"
    srv = _fd(insp, 4)
    assert (srv.type, srv.name, srv.is_server()) == (FdType.IPV4_SERVSOCK, "0.0.0.0:8080", True)
    assert _fd(insp, 5).name == "9.9.9.9:1234->10.0.0.1:8080"
    assert (_fd(insp, 6).type, _fd(insp, 7).unix_dst) == (FdType.UNIX_SOCK, 2)

"""Socket syscalls through the live probe: tuples and sockaddrs for IPv4, IPv6 and unix."""
from __future__ import annotations

import socket
import struct

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raising, raw, u8, u32

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]


def _v4_tuple(b: bytes) -> tuple[int, str, int, str, int]:
    fam, sip, sport, dip, dport = struct.unpack("<B4sH4sH", b)
    ntop = socket.inet_ntop
    return fam, ntop(socket.AF_INET, sip), sport, ntop(socket.AF_INET, dip), dport


def _v6_tuple(b: bytes) -> tuple[int, str, int, str, int]:
    fam, sip, sport, dip, dport = struct.unpack("<B16sH16sH", b)
    return (fam, socket.inet_ntop(socket.AF_INET6, sip), sport,
            socket.inet_ntop(socket.AF_INET6, dip), dport)


def test_tcp4_bind_listen_connect_accept(cap):
    srv = socket.socket()
    cli = socket.socket()
    try:
        rec = cap.one(lambda: srv.bind(("127.0.0.1", 0)), lambda r: r.type == 21 and r.tid == me())
        port = srv.getsockname()[1]
        assert i64(rec, 0) == 0                                  # res
        # addr: the sockaddr the caller passed (port 0 here), as the upstream drivers record it
        assert raw(rec, 1) == struct.pack("<B4sH", 2, socket.inet_aton("127.0.0.1"), 0)
        assert port != 0
        assert i64(rec, 2) == srv.fileno()                       # fd
        rec = cap.one(lambda: srv.listen(7), lambda r: r.type == 25 and r.tid == me())
        assert (i64(rec, 0), i64(rec, 1), u32(rec, 2)) == (0, srv.fileno(), 7)  # res, fd, backlog

        rec = cap.one(lambda: cli.connect(("127.0.0.1", port)),
                      lambda r: r.type == 23 and r.tid == me())
        cport = cli.getsockname()[1]
        assert i64(rec, 0) == 0                                  # res
        # tuple: source is the local end for connect
        assert _v4_tuple(raw(rec, 1)) == (2, "127.0.0.1", cport, "127.0.0.1", port)
        assert i64(rec, 2) == cli.fileno()                       # fd
        assert raw(rec, 3) == struct.pack("<B4sH", 2, socket.inet_aton("127.0.0.1"), port)

        conns = []
        rec = cap.one(lambda: conns.append(srv.accept()[0]),
                      lambda r: r.type in (247, 389) and r.tid == me())
        assert i64(rec, 0) == conns[0].fileno()                  # fd
        # tuple: source is the peer for accept
        assert _v4_tuple(raw(rec, 1)) == (2, "127.0.0.1", cport, "127.0.0.1", port)
        assert u8(rec, 2) <= 100                                 # queuepct
        assert u32(rec, 4) == 7                                  # queuemax (the backlog)
        conns[0].close()
    finally:
        cli.close()
        srv.close()


def test_tcp4_connect_refused_has_no_tuple(cap):
    s = socket.socket()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                               # a port nobody listens on
    try:
        rec = cap.one(raising(ConnectionRefusedError, s.connect, ("127.0.0.1", port)),
                      lambda r: r.type == 23 and r.tid == me())
        assert i64(rec, 0) == -111                               # res: -ECONNREFUSED
        assert raw(rec, 1) == b""                                # tuple: empty
        assert raw(rec, 3)[0] == 2                               # addr still recorded
    finally:
        s.close()


def test_tcp6_connect_tuple(cap):
    srv = socket.socket(socket.AF_INET6)
    srv.bind(("::1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cli = socket.socket(socket.AF_INET6)
    try:
        rec = cap.one(lambda: cli.connect(("::1", port)), lambda r: r.type == 23 and r.tid == me())
        assert i64(rec, 0) == 0
        assert _v6_tuple(raw(rec, 1)) == (10, "::1", cli.getsockname()[1], "::1", port)
        fam, addr, p = struct.unpack("<B16sH", raw(rec, 3))     # addr: SOCKADDR v6
        assert (fam, socket.inet_ntop(socket.AF_INET6, addr), p) == (10, "::1", port)
    finally:
        cli.close()
        srv.close()


def test_unix_connect_tuple_and_addr(cap, tmp_path):
    path = str(tmp_path / "sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen()
    cli = socket.socket(socket.AF_UNIX)
    try:
        rec = cap.one(lambda: cli.connect(path), lambda r: r.type == 23 and r.tid == me())
        assert i64(rec, 0) == 0
        tup = raw(rec, 1)
        fam, src, dst = struct.unpack_from("<BQQ", tup)
        assert fam == 1 and src != 0 and dst != 0 and src != dst  # kernel unix_sock pointers
        assert tup[17:].rstrip(b"\0").decode() == path          # peer's path (we are unbound)
        assert raw(rec, 3) == b"\x01" + path.encode() + b"\0"   # addr: SOCKADDR unix
    finally:
        cli.close()
        srv.close()


def test_udp_sendto_recvfrom(cap):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    b.connect(a.getsockname())
    try:
        payload = b"hello-probe" * 20                            # longer than the snaplen
        rec = cap.one(lambda: b.send(payload), lambda r: r.type == 31 and r.tid == me())
        assert i64(rec, 0) == len(payload)                       # res
        data = raw(rec, 1)                                       # data: BYTEBUF, snaplen-cut
        assert len(data) == 80 and payload.startswith(data)    # the default snaplen
        assert i64(rec, 2) == b.fileno() and u32(rec, 3) == len(payload)  # fd, size
        assert _v4_tuple(raw(rec, 4))[1:] == ("127.0.0.1", b.getsockname()[1], "127.0.0.1",
                                              a.getsockname()[1])
        rec = cap.one(lambda: a.recvfrom(4096), lambda r: r.type == 35 and r.tid == me())
        assert i64(rec, 0) == len(payload) and payload.startswith(raw(rec, 1))
        assert i64(rec, 3) == a.fileno() and u32(rec, 4) == 4096  # fd, size
    finally:
        a.close()
        b.close()


def test_snaplen_is_configurable():
    from scap.engines.bpf import BpfSource
    from tests.drivers.helpers import Capture

    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.connect(a.getsockname())
    try:
        with BpfSource({"sendto"}, with_state=False, snaplen=200) as src:
            payload = bytes(range(256)) * 2
            rec = Capture(src).one(lambda: b.send(payload),
                                   lambda r: r.type == 31 and r.tid == me())
            assert raw(rec, 1) == payload[:200]                  # data: the first 200 bytes
    finally:
        a.close()
        b.close()

"""Golden decodes of every parameter type, built from the encodings of
docs/scap-format.md 9.4/9.5, and the decoder's error contract under random bytes."""

from __future__ import annotations

import contextlib
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scap.params import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    ParamDecodeError,
    SockAddr,
    SockTuple,
    decode_param,
    param_width,
)
from scap.schema import EVENT_INFO_0_29_3, PPME, PT

INT_CASES = [
    (PT.INT8, "<b", -5), (PT.INT16, "<h", -300), (PT.INT32, "<i", -70000),
    (PT.INT64, "<q", -(2**40)), (PT.UINT8, "<B", 200), (PT.UINT16, "<H", 65000),
    (PT.UINT32, "<I", 2**32 - 1), (PT.UINT64, "<Q", 2**64 - 1), (PT.ERRNO, "<q", -2),
    (PT.FD, "<q", -100), (PT.PID, "<q", 4242), (PT.SYSCALLID, "<H", 139),
    (PT.SIGTYPE, "<B", 9), (PT.RELTIME, "<Q", 1_500_000_000), (PT.ABSTIME, "<Q", 2**63),
    (PT.PORT, "<H", 443), (PT.L4PROTO, "<B", 2), (PT.SOCKFAMILY, "<B", 10),
    (PT.BOOL, "<I", 1), (PT.FLAGS8, "<B", 0x81), (PT.FLAGS16, "<H", 0x8001),
    (PT.FLAGS32, "<I", 0x1001), (PT.UID, "<I", 0xFFFFFFFF), (PT.GID, "<I", 1000),
    (PT.SIGSET, "<I", 0x4002), (PT.MODE, "<I", 0o755), (PT.ENUMFLAGS8, "<B", 3),
    (PT.ENUMFLAGS16, "<H", 12), (PT.ENUMFLAGS32, "<I", 10), (PT.FD32, "<i", -1),
    (PT.PID32, "<i", 77),
]


@pytest.mark.parametrize(("ptype", "fmt", "value"), INT_CASES, ids=lambda c: str(c))
def test_fixed_width_numbers(ptype: PT, fmt: str, value: int) -> None:
    data = struct.pack(fmt, value)
    assert decode_param(ptype, data) == value
    assert decode_param(ptype, memoryview(data)) == value
    assert param_width(ptype) == len(data)
    with pytest.raises(ParamDecodeError):
        decode_param(ptype, data + b"\0")


def test_double() -> None:
    assert decode_param(PT.DOUBLE, struct.pack("<d", 2.5)) == 2.5


def test_empty_param_is_none_for_every_type() -> None:
    for ptype in PT:
        assert decode_param(ptype, b"") is None


def test_strings() -> None:
    assert decode_param(PT.CHARBUF, b"/usr/bin/cat\0") == "/usr/bin/cat"
    assert decode_param(PT.FSPATH, b"rel/path\0") == "rel/path"
    assert decode_param(PT.FSRELPATH, b"child\0") == "child"
    assert decode_param(PT.CHARBUF, b"(NULL)\0") == "(NULL)"  # very old drivers' null
    assert decode_param(PT.CHARBUF, b"no-nul") == "no-nul"
    assert decode_param(PT.CHARBUF, b"a\0b\0") == "a"  # up to the first NUL, as sysdig
    bad = decode_param(PT.CHARBUF, b"\xff\xfe\0")
    assert bad.encode("utf-8", "surrogateescape") == b"\xff\xfe"
    assert decode_param(PT.BYTEBUF, b"\0\x01data") == b"\0\x01data"


def test_sockaddr_families() -> None:
    v4 = bytes([AF_INET]) + socket.inet_aton("10.1.2.3") + struct.pack("<H", 8080)
    assert decode_param(PT.SOCKADDR, v4) == SockAddr(AF_INET, "10.1.2.3", 8080)
    v6 = bytes([AF_INET6]) + socket.inet_pton(socket.AF_INET6, "2001:db8::1") + struct.pack(
        "<H", 53)
    assert decode_param(PT.SOCKADDR, v6) == SockAddr(AF_INET6, "2001:db8::1", 53)
    assert decode_param(PT.SOCKADDR, bytes([AF_UNIX]) + b"/run/x.sock\0") == SockAddr(
        AF_UNIX, "/run/x.sock", 0)
    # abstract socket: the driver drops the leading NUL of the name
    assert decode_param(PT.SOCKADDR, bytes([AF_UNIX]) + b"abstract\0").addr == "abstract"
    assert decode_param(PT.SOCKADDR, bytes([16])) == SockAddr(16, "", 0)  # netlink
    with pytest.raises(ParamDecodeError):
        decode_param(PT.SOCKADDR, v4[:-1])


def _v4tuple(sip: str, sport: int, dip: str, dport: int) -> bytes:
    return (bytes([AF_INET]) + socket.inet_aton(sip) + struct.pack("<H", sport)
            + socket.inet_aton(dip) + struct.pack("<H", dport))


def test_socktuple_families() -> None:
    assert decode_param(PT.SOCKTUPLE, _v4tuple("127.0.0.1", 40000, "127.0.0.1", 80)) == (
        SockTuple(AF_INET, "127.0.0.1", 40000, "127.0.0.1", 80, ""))
    a = socket.inet_pton(socket.AF_INET6, "fe80::1")
    b = socket.inet_pton(socket.AF_INET6, "::1")
    v6 = bytes([AF_INET6]) + a + struct.pack("<H", 1) + b + struct.pack("<H", 2)
    assert decode_param(PT.SOCKTUPLE, v6) == SockTuple(AF_INET6, "fe80::1", 1, "::1", 2, "")
    m1 = socket.inet_pton(socket.AF_INET6, "::ffff:192.168.0.1")
    m2 = socket.inet_pton(socket.AF_INET6, "::ffff:8.8.8.8")
    mapped = bytes([AF_INET6]) + m1 + struct.pack("<H", 5) + m2 + struct.pack("<H", 53)
    assert decode_param(PT.SOCKTUPLE, mapped) == SockTuple(
        AF_INET, "192.168.0.1", 5, "8.8.8.8", 53, "")
    half = bytes([AF_INET6]) + m1 + struct.pack("<H", 5) + b + struct.pack("<H", 53)
    assert decode_param(PT.SOCKTUPLE, half).family == AF_INET6  # only both-mapped converts
    unix = bytes([AF_UNIX]) + struct.pack("<QQ", 0xFFFF8880DEAD0000, 0x1234) + b"/tmp/s\0"
    assert decode_param(PT.SOCKTUPLE, unix) == SockTuple(
        AF_UNIX, 0xFFFF8880DEAD0000, 0, 0x1234, 0, "/tmp/s")
    with pytest.raises(ParamDecodeError):
        decode_param(PT.SOCKTUPLE, bytes([AF_UNIX]) + b"short")


def test_fdlist() -> None:
    data = struct.pack("<H", 2) + struct.pack("<qh", 3, 1) + struct.pack("<qh", 7, 4)
    assert decode_param(PT.FDLIST, data) == [(3, 1), (7, 4)]
    assert decode_param(PT.FDLIST, struct.pack("<H", 0)) == []
    with pytest.raises(ParamDecodeError):
        decode_param(PT.FDLIST, data[:-1])


def test_addresses_and_networks() -> None:
    assert decode_param(PT.IPV4ADDR, socket.inet_aton("1.2.3.4")) == "1.2.3.4"
    ip6 = socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    assert decode_param(PT.IPV6ADDR, ip6) == "2001:db8::2"
    assert decode_param(PT.IPADDR, socket.inet_aton("9.9.9.9")) == "9.9.9.9"
    assert decode_param(PT.IPADDR, ip6) == "2001:db8::2"
    net4 = socket.inet_aton("10.0.0.0") + socket.inet_aton("255.255.0.0")
    assert decode_param(PT.IPV4NET, net4) == "10.0.0.0/16"
    assert decode_param(PT.IPNET, net4) == "10.0.0.0/16"
    with pytest.raises(ParamDecodeError):
        decode_param(PT.IPADDR, b"\1\2\3")


def test_string_arrays() -> None:
    assert decode_param(PT.CHARBUFARRAY, b"ls\0-l\0/tmp\0") == ["ls", "-l", "/tmp"]
    assert decode_param(PT.CHARBUF_PAIR_ARRAY, b"k\0v\0a\0b\0") == [("k", "v"), ("a", "b")]


def test_dyn_uses_the_param_sub_table() -> None:
    ptrace_x = EVENT_INFO_0_29_3[PPME.SYSCALL_PTRACE_X]
    addr = ptrace_x.params[1]
    assert addr.type == PT.DYN
    subs = addr.dyn_params
    assert [s.type for s in subs] == [PT.UINT64, PT.SIGTYPE]
    assert decode_param(PT.DYN, b"\0" + struct.pack("<Q", 0xDEAD), addr) == (0, 0xDEAD)
    assert decode_param(PT.DYN, b"\1\x09", addr) == (1, 9)
    assert decode_param(PT.DYN, b"\1\x09") == (1, b"\x09")  # no table: raw value
    with pytest.raises(ParamDecodeError):
        decode_param(PT.DYN, b"\5\0", addr)
    setsockopt = EVENT_INFO_0_29_3[PPME.SOCKET_SETSOCKOPT_X].params[4]
    assert [s.type for s in setsockopt.dyn_params][:4] == [
        PT.BYTEBUF, PT.ERRNO, PT.UINT32, PT.UINT64]


def test_unknown_type() -> None:
    with pytest.raises(ParamDecodeError) as err:
        decode_param(99, b"\0")
    assert isinstance(err.value, ValueError)
    assert err.value.ptype == 99 and err.value.length == 1


_DYN_PARAMS = [p for e in EVENT_INFO_0_29_3 for p in e.params if p.type == PT.DYN]


@settings(max_examples=3000, deadline=None)
@given(ptype=st.sampled_from([*list(PT), 200]), data=st.binary(max_size=64))
def test_random_bytes_only_raise_param_decode_error(ptype: int, data: bytes) -> None:
    with contextlib.suppress(ParamDecodeError):
        decode_param(ptype, data)


@settings(max_examples=500, deadline=None)
@given(param=st.sampled_from(_DYN_PARAMS), data=st.binary(max_size=24))
def test_random_dyn_bytes_only_raise_param_decode_error(param, data: bytes) -> None:
    with contextlib.suppress(ParamDecodeError):
        decode_param(PT.DYN, data, param)


_INT_FORMATS = {ptype: fmt for ptype, fmt, _ in INT_CASES}


@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_fixed_width_roundtrip(data) -> None:
    ptype = data.draw(st.sampled_from(sorted(_INT_FORMATS)))
    fmt = _INT_FORMATS[ptype]
    size = struct.calcsize(fmt)
    signed = fmt[-1].islower()
    bits = 8 * size
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    value = data.draw(st.integers(lo, hi))
    assert decode_param(ptype, struct.pack(fmt, value)) == value

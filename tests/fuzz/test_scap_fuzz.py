"""Damaged input never breaks the reader: h11's invariant for captures.

Any bytes, whole or in pieces, give records and then at most a `scap.FormatError`, never another
exception or a hang; every complete event before the damage is yielded first; the C and the
Python scanners agree on all of it.
"""
from __future__ import annotations

import gzip
import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scap
from scap import _binding
from scap.decode import StreamDecoder
from scap.metadata import FdEntry, GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.testing import EventBuilder

MODES = [False] + ([True] if _binding.available() else [])
pytestmark = pytest.mark.timeout(300)  # "never a hang": a stuck decoder fails, not blocks CI


def _small_capture() -> bytes:
    b = EventBuilder(tid=7)
    events = [
        b.build("SYSCALL_OPEN_E", ["/etc/hosts", 1, 0]),
        b.build("SYSCALL_OPEN_X", [3, "/etc/hosts", 1, 0, 0]),
        b.build("SYSCALL_READ_E", [3, 4096]),
        b.build("SYSCALL_READ_X", [12, b"127.0.0.1 lo"]),
        b.build("SOCKET_CONNECT_X", [0, (2, "10.0.0.1", 5555, "10.0.0.2", 80)], dump_flags=1),
        b.build("PLUGINEVENT_E", [1, b"x" * 300]),
        b.build("SYSCALL_CLOSE_E", [3]),
        b.build("SYSCALL_CLOSE_X", [0]),
    ] * 3
    proc = ProcInfo(7, 7, 1, "cat", "/bin/cat", args=["/etc/hosts"], cgroups=["cpu=/"],
                    fds=[FdEntry(0, 1, 1, name="/dev/pts/0"),
                         FdEntry(3, 2, 3, sip="1.2.3.4", sport=1, dip="5.6.7.8", dport=2,
                                 l4proto=2)])
    buf = io.BytesIO()
    with scap.Writer(buf, compress=False) as w:
        w.write_header(machine=MachineInfo(1, 1 << 20, 100, "h"),
                       interfaces=[InterfaceInfo(1, "lo", "127.0.0.1", "255.0.0.0",
                                                 "127.255.255.255", 0)],
                       users=[UserInfo(0, 0, "root")], groups=[GroupInfo(0, "root")],
                       processes=[proc])
        w.write_events(events)
    return buf.getvalue()


SMALL = _small_capture()


def read(data: bytes, native: bool) -> tuple[list[scap.EventRecord], scap.FormatError | None]:
    """Everything the reader yields, then the error it raised (if any)."""
    out: list[scap.EventRecord] = []
    try:
        with scap.open(data, native=native) as cap:
            for r in cap:
                out.append(r)
    except scap.FormatError as e:
        return out, e
    return out, None


FULL, _ = read(SMALL, False)
ENDS = [r.offset + struct.unpack_from("<I", SMALL, r.offset + 4)[0] for r in FULL]


def _boundaries(data: bytes) -> set[int]:
    out, pos = set(), 0
    while pos < len(data):
        pos += struct.unpack_from("<I", data, pos + 4)[0]
        out.add(pos)
    return out


BOUNDARIES = _boundaries(SMALL)


def test_small_capture_is_sane() -> None:
    assert len(FULL) == 24 and ENDS[-1] == len(SMALL)
    assert [r.dump_flags for r in FULL[:5]] == [0, 0, 0, 0, 1]


@pytest.mark.parametrize("native", MODES)
def test_truncation_at_every_offset_plain(native: bool) -> None:
    for n in range(len(SMALL)):
        recs, err = read(SMALL[:n], native)
        complete = sum(1 for e in ENDS if e <= n)
        assert recs == FULL[:complete], n
        if n in BOUNDARIES:
            assert err is None, n  # a clean end of file between two blocks
        else:
            assert err is not None, n
            assert err.offset <= n


@pytest.mark.parametrize("native", MODES)
def test_truncation_at_every_offset_gzip(native: bool) -> None:
    gz = gzip.compress(SMALL)
    best = 0
    for n in range(len(gz)):
        recs, err = read(gz[:n], native)
        assert err is not None, n
        assert recs == FULL[:len(recs)], n
        best = max(best, len(recs))
    assert best > 0  # a truncated gzip still gives the events that were inflated
    assert read(gz, native) == (FULL, None)


def test_truncated_real_capture_gives_every_complete_event_first() -> None:
    with open("/work/shared/traces/syscalls/syscall.scap", "rb") as f:
        gz = f.read()
    full, err = read(gz, False)
    assert err is None
    for n in range(len(gz) // 3, len(gz) - 1, 997):
        for native in MODES:
            recs, err = read(gz[:n], native)
            assert err is not None and "gzip" in err.message
            assert recs == full[:len(recs)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(0, len(SMALL) - 1), xor=st.integers(1, 255))
def test_flipped_byte(pos: int, xor: int) -> None:
    bad = bytearray(SMALL)
    bad[pos] ^= xor
    results = [read(bytes(bad), native) for native in MODES]
    recs, err = results[0]
    for other in results[1:]:
        assert other[0] == recs
        assert (other[1] is None) == (err is None)
        if err is not None:
            assert other[1].offset == err.offset and other[1].message == err.message
    before = [r for r, e in zip(FULL, ENDS, strict=True) if e <= pos]
    assert recs[:len(before)] == before


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    for native in MODES:
        recs, err = read(data, native)
        assert err is not None and recs == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.booleans())
def test_random_gzip_members(data: bytes, valid_start: bool) -> None:
    """A gzip header followed by garbage, or a valid member followed by garbage."""
    blob = (gzip.compress(SMALL[:200]) if valid_start else b"\x1f\x8b") + data
    for native in MODES:
        recs, err = read(blob, native)
        assert err is not None and recs == []


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=600))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    """Past the SHB the metadata and event decoders see the garbage."""
    first = FULL[0].offset
    results = [read(SMALL[:first] + data, native) for native in MODES]
    def key(err: scap.FormatError | None) -> tuple | None:
        return None if err is None else (err.offset, err.message)

    for recs, err in results[1:]:
        assert recs == results[0][0]
        assert key(err) == key(results[0][1])


@pytest.mark.skipif(not _binding.available(), reason="C fast path not built")
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2000), st.booleans())
def test_c_and_python_scanners_agree_on_anything(junk: bytes, cut: int, filtered: bool) -> None:
    from scap.decode import event_tables, scan_events, type_bitmap

    first = FULL[0].offset
    buf = SMALL[first:first + cut] + junk
    wanted = type_bitmap({3, 322}) if filtered else None
    a = scan_events(buf, 0, len(buf), event_tables(), wanted, 4096)
    b = _binding.scan_events(buf, 0, len(buf), event_tables(), wanted, 4096)
    assert (a.events, a.pos, a.stop, a.skipped_unknown, a.error) == \
        (b.events, b.pos, b.stop, b.skipped_unknown, b.error)


def _feed_all(data: bytes, sizes: list[int]) -> list[scap.EventRecord]:
    dec = StreamDecoder()
    out: list[scap.EventRecord] = []
    pos = i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)] if sizes else 1
        dec.feed(data[pos:pos + n])
        pos += n
        i += 1
        while recs := dec.next_events():
            out.extend(recs)
    dec.finish()
    return out


def test_one_byte_at_a_time_gives_the_same_records() -> None:
    assert _feed_all(SMALL, [1]) == FULL


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=20))
def test_any_chunking_of_a_real_capture(sizes: list[int]) -> None:
    with open("/work/shared/traces/syscalls/cat_write.scap", "rb") as f:
        data = gzip.decompress(f.read())
    assert _feed_all(data, sizes) == _REAL


with open("/work/shared/traces/syscalls/cat_write.scap", "rb") as _f:
    _REAL = read(_f.read(), False)[0]


@pytest.mark.parametrize("btype", [0x204, 0x208, 0x216, 0x217, 0x221, 0x222])
@pytest.mark.parametrize("blen", [12, 16, 20, 28, 32, 36])
def test_event_blocks_too_short_for_their_headers(btype: int, blen: int) -> None:
    """A tiny event block at the very end of the data: nothing may be read past it."""
    first = FULL[0].offset
    block = struct.pack("<II", btype, blen) + bytes(blen - 12) + struct.pack("<I", blen)
    for native in MODES:
        recs, err = read(SMALL[:first] + block, native)
        assert recs == [] and err is not None and err.offset == first, (native, err)

"""scap.Writer and scap.testing.EventBuilder: values in, the same values out, and files that
sysdig 0.29.3 reads the way the format doc says."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess

import pytest

import scap
from scap.savefile import blocks as sb
from scap.testing import EventBuilder, encode_param, write_capture

TRACES = "/work/shared/traces/syscalls"


def read(data: bytes) -> tuple[scap.Capture, list[scap.EventRecord]]:
    with scap.open(data) as cap:
        return cap, list(cap)


def written(records, **header) -> bytes:
    buf = io.BytesIO()
    with scap.Writer(buf, compress=header.pop("compress", True)) as w:
        if header:
            w.write_header(**header)
        w.write_events(records)
    return buf.getvalue()


def test_builder_values_round_trip_through_a_file() -> None:
    b = EventBuilder(ts=10**18, tid=99, cpu=3)
    cases = [
        ("SYSCALL_OPEN_X", [5, "/etc/shadow", 0x4001, 0o644, 0x803]),
        ("SOCKET_CONNECT_X", [-111, scap.SockTuple(2, "10.1.2.3", 40000, "8.8.8.8", 53, "")]),
        ("SOCKET_CONNECT_E", [4, scap.SockAddr(10, "2001:db8::7", 443)]),
        ("SOCKET_CONNECT_E", [4, scap.SockAddr(1, "/run/docker.sock", 0)]),
        ("SYSCALL_READ_X", [4, b"\x00\x01binary\xff"]),
        ("SYSCALL_POLL_E", [[(3, 1), (4, 4)], 1000]),
        ("SYSCALL_KILL_E", [1234, 9]),
        ("SYSCALL_SETUID_E", [0xFFFFFFFF]),
    ]
    recs = [b.build(t, p) for t, p in cases]
    _, got = read(written(recs))
    assert [r.raw for r in got] == [r.raw for r in recs]
    for (t, values), r in zip(cases, got, strict=True):
        assert (r.tid, r.cpu) == (99, 3)
        assert list(r.params) == [tuple(v) if isinstance(v, tuple) else v for v in values], t
    assert [r.ts for r in got] == [10**18 + 1000 * i for i in range(len(cases))]


def test_builder_by_name_and_empty_params() -> None:
    r = EventBuilder().build("SYSCALL_OPEN_E", {"name": "/x", "flags": 1})
    assert r.params == ("/x", 1, None)  # mode was not given: written empty
    assert r.rawparam(2) == b""
    with pytest.raises(KeyError):
        EventBuilder().build("SYSCALL_OPEN_E", {"nope": 1})


def test_encode_param_inverse_of_decode_param() -> None:
    from scap.params import decode_param
    from scap.schema import PT

    samples = {PT.INT8: -5, PT.INT64: -(2**40), PT.UINT16: 65535, PT.ERRNO: -2, PT.FD: 7,
               PT.PID: 123, PT.CHARBUF: "héllo", PT.FSPATH: "/a b", PT.BYTEBUF: b"\0x",
               PT.IPV4ADDR: "192.168.0.1", PT.IPV6ADDR: "fe80::1", PT.DOUBLE: 1.5,
               PT.RELTIME: 10**9, PT.SIGTYPE: 15, PT.UID: 1000, PT.FLAGS16: 0x8001}
    for pt, v in samples.items():
        assert decode_param(pt, encode_param(pt, v)) == v, pt


def test_large_payload_types_use_large_blocks_and_u32_lengths() -> None:
    big = "{" + "x" * 70000 + "}"
    r = EventBuilder().build("CONTAINER_JSON_2_E", [big])
    assert struct.unpack_from("<I", r.raw, 26)[0] == len(big) + 1  # u32 length (json + NUL)
    data = written([r], compress=False)
    btypes = [struct.unpack_from("<I", data, off)[0] for off in _block_offsets(data)]
    assert btypes == [sb.SHB, sb.EV_V2_LARGE]
    _, got = read(data)
    assert got[0].raw == r.raw and got[0].param(0) == big
    with pytest.raises(ValueError, match="too big"):
        written([EventBuilder().build("SYSCALL_READ_X", [1, b"y" * 65535])], compress=False)


def _block_offsets(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        out.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return out


def test_dump_flags_select_evf_blocks() -> None:
    b = EventBuilder()
    recs = [b.build("SYSCALL_CLOSE_E", [3], dump_flags=1), b.build("SYSCALL_CLOSE_X", [0])]
    data = written(recs, compress=False)
    assert [struct.unpack_from("<I", data, o)[0] for o in _block_offsets(data)] == \
        [sb.SHB, sb.EVF_V2, sb.EV_V2]
    assert [r.dump_flags for r in read(data)[1]] == [1, 0]


@pytest.mark.parametrize("name", ["syscall.scap", "empty.scap"])
def test_re_emit_a_real_capture(name: str) -> None:
    with scap.open(f"{TRACES}/{name}") as cap:
        recs = list(cap)
        header = dict(machine=cap.machine, interfaces=cap.interfaces, users=cap.users,
                      groups=cap.groups, processes=cap.processes)
    cap2, recs2 = read(written(recs, **header))
    assert [(r.ts, r.tid, r.cpu, r.type, r.nparams, r.raw) for r in recs2] == \
        [(r.ts, r.tid, r.cpu, r.type, r.nparams, r.raw) for r in recs]
    assert (cap2.machine, cap2.users, cap2.groups) == \
        (header["machine"], header["users"], header["groups"])
    assert cap2.processes == header["processes"]
    # IL v2 always carries the link speed: v1 "no speed" types come back as 1/2 with speed 0
    assert [(i.name, i.addr, i.netmask, i.bcast) for i in cap2.interfaces] == \
        [(i.name, i.addr, i.netmask, i.bcast) for i in header["interfaces"]]


def sysdig(*args: str) -> str:
    return subprocess.run(["sysdig", *args], capture_output=True, check=True,
                          timeout=120).stdout.decode()


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig (0.29.3) not installed")
def test_sysdig_reads_a_capture_built_from_scratch(tmp_path) -> None:
    """§12.3: STATE_ONLY events get a number but are not shown, types >= 336 get none, large
    payloads with u32 lengths read, metadata blocks resolve process/user/fd names."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=4242)
    evts = [
        b.build("SYSCALL_OPEN_E", ["/etc/passwd", 1, 0]),
        b.build("SYSCALL_OPEN_X", [3, "/etc/passwd", 1, 0, 0]),
        b.build("SYSCALL_CLOSE_E", [3], dump_flags=1),          # STATE_ONLY: hidden
        b.build("SYSCALL_CLOSE_X", [0], dump_flags=1),          # hidden
        b.build("SYSCALL_READ_E", [0, 100], dump_flags=2),      # other flag: shown
        scap.EventRecord.from_raw(struct.pack("<QqIHI", b.ts, 4242, 26, 400, 0)),  # >= 336
        b.build("CONTAINER_JSON_2_E", ['{"container":{"id":"abc"}}' + " " * 70000]),
        b.build("SYSCALL_READ_X", [5, b"hello"]),
    ]
    proc = scap.ProcInfo(4242, 4242, 1, "myproc", "/usr/bin/myproc", args=["-v"], uid=1000,
                         gid=1000, cwd="/home/u/", loginuid=1000,
                         fds=[scap.FdEntry(0, 1, scap.FdType.FILE, name="/dev/null"),
                              scap.FdEntry(7, 2, scap.FdType.MEMFD, name="memfd:x")])
    path = tmp_path / "scratch.scap"
    write_capture(path, evts, machine=scap.MachineInfo(4, 1 << 30, 32768, "scratch"),
                  users=[scap.UserInfo(1000, 1000, "alice", "/home/alice", "/bin/zsh")],
                  groups=[scap.GroupInfo(1000, "alice")], processes=[proc])
    out = sysdig("-D", "-r", str(path), "-p",
                 "*%evt.num %evt.type %evt.dir %proc.name %user.name %group.name %fd.name "
                 "%user.loginuid %evt.rawarg.res").splitlines()
    # the 70 kB container JSON (u32 lengths) was parsed: its id shows as the proc name
    assert out == [
        "1 open > myproc alice alice <NA> 1000 <NA>",
        "2 open < myproc alice alice /etc/passwd 1000 <NA>",
        "5 read > myproc alice alice /dev/null 1000 <NA>",
        "6 container > container:abc <NA> <NA> <NA> 0 <NA>",
        "7 read < myproc alice alice /dev/null 1000 5",
    ]
    lsof = sysdig("-r", str(path), "-c", "lsof")
    assert "memfd:x" in lsof and "/dev/null" in lsof
    ours = read(path.read_bytes())[1]
    from scap.schema import EVENT_INFO

    # we skip only types beyond our own table (the current libs table knows 400)
    assert [r.type for r in ours] == [t for t in (2, 3, 4, 5, 6, 400, 324, 7)
                                      if t < len(EVENT_INFO)]


def test_proclist_vm_sizes_are_cut_to_the_blocks_u32(tmp_path) -> None:
    """A process that reserves more than 4 TiB of address space (ASan does) has a VmSize in
    KiB beyond the PL block's u32: written cut to 32 bits, as libs' C assignment does, and the
    capture still reads back (it used to raise struct.error and stop `pysysdig -w`)."""
    big = (5 << 30) + 123            # KiB: 5 TiB + 123 KiB
    proc = scap.ProcInfo(77, 77, 1, "asan", "/usr/bin/asan", vmsize_kb=big, vmrss_kb=2048)
    path = tmp_path / "big.scap"
    write_capture(path, [], processes=[proc])
    with scap.open(path) as cap:
        (back,) = [p for p in cap.processes if p.tid == 77]
    assert back.vmsize_kb == big & 0xFFFFFFFF == 123 + (1 << 30)
    assert back.vmrss_kb == 2048

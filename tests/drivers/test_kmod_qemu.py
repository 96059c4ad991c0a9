"""The kernel module end to end, inside qemu: tools/kmod-qemu/run.py builds driver/kmod for
Debian's kernel, boots it with a static guest program that drains the rings through
scap/_native/kmod_ring.c (the reader KmodSource uses) while it makes known syscalls, and we
decode what it drained here with scap, as records from a file.

Skips, with the reason, when qemu, kernel headers, a kernel image or busybox are missing
(tools/install-system-deps.sh installs them)."""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import scap
from scap import schema
from scap.params import SockAddr
from scap.record import EventRecord
from tests.drivers.helpers import i64, raw, text, u8, u16, u32, u64

pytestmark = [pytest.mark.kmod, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "tools" / "kmod-qemu" / "run.py"
MISSING = 3


def _decode(data: bytes) -> dict[int, list[EventRecord]]:
    """The guest's stream: "PYFKMOD1", per phase (u32 phase, n, used; n x (u32 offset,
    u16 cpu); records), "PYFKEND!"."""
    assert data[:8] == b"PYFKMOD1", data[:16]
    assert data[-8:] == b"PYFKEND!", "guest output truncated"
    pos, phases = 8, {}
    while pos < len(data) - 8:
        phase, n, used = struct.unpack_from("<III", data, pos)
        pos += 12
        index = [struct.unpack_from("<IH", data, pos + 6 * i) for i in range(n)]
        pos += 6 * n
        body = data[pos:pos + used]
        pos += used
        recs = []
        for off, cpu in index:
            ln = struct.unpack_from("<I", body, off + 16)[0]
            recs.append(EventRecord.from_raw(body[off:off + ln], cpu=cpu))
        phases[phase] = recs
        phases[-phase] = (body, [o for o, _c in index], [c for _o, c in index])
    return phases


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
    out = tmp_path_factory.mktemp("kmod-qemu")
    res = subprocess.run([sys.executable, str(RUN), "--out", str(out), "--timeout", "150"],
                         capture_output=True, text=True, timeout=240, check=False)
    if res.returncode == MISSING:
        pytest.skip(f"kmod qemu test prerequisites: {res.stderr.strip()}")
    assert res.returncode == 0, res.stdout + res.stderr
    info = json.loads(res.stdout.strip().splitlines()[-1])
    console = (out / "console.log").read_text(errors="replace")
    facts: dict[str, int] = {}
    for line in console.splitlines():
        if line.startswith("KMOD "):
            for k, v in re.findall(r"(\w+)=(-?\w+)", line):
                facts[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    assert facts.get("insmod") == "ok", console
    assert facts.get("guest_rc") == 0 and facts.get("done") == 1, console
    phases = _decode((out / "records.bin").read_bytes())
    return {"info": info, "facts": facts, "phases": phases, "console": console, "out": out}


def _only(recs, name, **where):
    found = [r for r in recs
             if r.name == name and all(getattr(r, k) == v for k, v in where.items())]
    assert len(found) == 1, [(r.name, r.tid, r.params[:3]) for r in recs if r.name == name]
    return found[0]


def test_guest_ran_in_time(guest):
    assert guest["info"]["qemu_s"] < 120
    assert guest["facts"]["ndevs"] == 2  # -smp 2: one device per CPU


def test_module_unloads_and_the_kernel_stayed_clean(guest):
    assert guest["facts"].get("rmmod") == "ok", guest["console"]
    assert "KMOD_DMESG" not in guest["console"], guest["console"]


def test_records_are_merged_in_time_order(guest):
    recs = guest["phases"][1]
    ts = [r.ts for r in recs]
    assert ts == sorted(ts)
    assert {r.cpu for r in recs} <= {0, 1}
    assert all(r.direction == "<" or r.name == "procexit" for r in recs)
    # every record the module counted was drained (nothing lost in phase 1)
    assert guest["facts"]["p1_evts"] == len(recs)
    assert guest["facts"]["p1_drops_buffer"] == 0


def test_openat_created_and_failed(guest):
    f, recs = guest["facts"], guest["phases"][1]
    pid = f["pid"]
    ok = next(r for r in recs if r.name == "openat" and r.tid == pid
              and r.param(2) == "/tmp/kmod-probe.txt")
    assert ok.param(0) == f["fd"] and ok.param(1) == -100  # AT_FDCWD
    names = {n for n, v in schema.EVENT_INFO_CURRENT[ok.type].params[3].info
             if v and (ok.param(3) & v) == v and v not in (1, 3)}
    assert {"O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC", "O_F_CREATED"} <= names
    assert ok.param(4) == 0o640
    assert u64(ok, 6) > 0  # inode of the new file
    bad = next(r for r in recs if r.name == "openat" and r.param(2) == "/nonexistent/kmod")
    assert bad.param(0) == -f["errno_bad"] and bad.tid == pid
    closes = [r for r in recs if r.name == "close" and r.tid == pid]
    assert [i64(r, 1) for r in closes][:4] == [f["fd"], f["as"], f["cfd"], f["lfd"]]
    assert all(r.param(0) == 0 for r in closes)


def test_clone_execve_procexit(guest):
    f, recs = guest["facts"], guest["phases"][1]
    pid, child = f["pid"], f["child"]
    parent = _only(recs, "clone", tid=pid)
    assert parent.param(0) == child
    assert (i64(parent, 3), i64(parent, 4), i64(parent, 5)) == (pid, pid, f["ppid"])
    kid = _only(recs, "clone", tid=child)
    assert kid.param(0) == 0 and (i64(kid, 3), i64(kid, 4), i64(kid, 5)) == (child, child, pid)
    assert text(parent, 1) == "/kmod-guest" and text(kid, 13) == "kmod-guest"
    # no order between the parent's and the child's clone exit: whichever returns first
    ex = _only(recs, "execve", tid=child)
    assert ex.nparams == 31 and ex.param(0) == 0
    assert text(ex, 1) == "busybox"
    assert raw(ex, 2) == b"sh\0-c\0exit 3\0"
    assert raw(ex, 15) == b"PYFALCO_KMOD=1\0"
    assert text(ex, 13) == "busybox"  # comm after exec
    assert text(ex, 6) == "/dev"  # cwd: the child's chdir before the exec, as the probe
    assert u64(ex, 23) > 0  # exe inode
    assert text(ex, 27) == "/bin/busybox"  # trusted_exepath (d_path of the exe file)
    assert text(ex, 30) == "/bin/busybox"  # filename, saved at sched_process_exec
    assert recs.index(kid) < recs.index(ex)
    ex_info = schema.EVENT_INFO_CURRENT[ex.type]
    assert [p.name for p in ex_info.params][27] == "trusted_exepath"
    pe = _only(recs, "procexit", tid=child)
    assert pe.param(0) == f["status"] == 3 << 8
    assert pe.param(1) == 3 and u8(pe, 2) == 0


def test_connect_and_accept_tuples(guest):
    f, recs = guest["facts"], guest["phases"][1]
    conn = _only(recs, "connect", tid=f["pid"])
    assert conn.param(0) == 0
    t = conn.param(1)
    assert (t.family, t.sip, t.sport, t.dip, t.dport) == (2, "127.0.0.1", f["cport"],
                                                          "127.0.0.1", f["port"])
    assert i64(conn, 2) == f["cfd"]
    assert scap.params.decode_param(schema.PT.SOCKADDR, raw(conn, 3)) == \
        SockAddr(2, "127.0.0.1", f["port"])
    acc = _only(recs, "accept", tid=f["pid"])
    assert acc.param(0) == f["as"]
    t = acc.param(1)
    assert (t.sip, t.sport, t.dip, t.dport) == ("127.0.0.1", f["cport"], "127.0.0.1", f["port"])
    assert u32(acc, 4) == 4  # backlog given to listen()
    sock = [r for r in recs if r.name == "socket" and r.tid == f["pid"]]
    assert [r.param(0) for r in sock] == [f["lfd"], f["cfd"], f["fsock"]]
    assert [(u32(r, 1), u32(r, 2)) for r in sock[:2]] == [(2, 1), (2, 1)]  # AF_INET, STREAM


def test_flags_in_libs_encoding_as_the_probe_writes_them(guest):
    """socket(AF_INET, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC): type as passed, flags as
    PPM_O_NONBLOCK|PPM_O_CLOEXEC; umount2(DETACH|NOFOLLOW|0x100): PPM_MNT bits only;
    openat2 resolve BENEATH|NO_SYMLINKS: PPM_RESOLVE_BENEATH (1) | NO_SYMLINKS (8)."""
    recs, f = guest["phases"][1], guest["facts"]
    sock = [r for r in recs if r.name == "socket" and r.tid == f["pid"]][-1]
    assert i64(sock, 0) == f["fsock"]
    assert (u32(sock, 1), u32(sock, 2), u32(sock, 4)) == (2, 2 | 0o4000 | 0o2000000,
                                                          (1 << 6) | (1 << 12))
    um = [r for r in recs if r.name == "umount2" and r.tid == f["pid"]]
    assert um and text(um[-1], 1) == "/nonexistent-kmod" and u32(um[-1], 2) == 0x2 | 0x8
    o2 = [r for r in recs if r.name == "openat2" and r.tid == f["pid"]]
    assert o2 and u32(o2[-1], 5) == 1 | 8


def test_engine_turns_the_drain_into_the_same_records(guest):
    """KmodSource's batch conversion (what next_batch does after the C drain) on the guest's
    drain output gives the records scap decodes from the same bytes."""
    from scap.engines.kmod import KmodSource

    body, offsets, cpus = guest["phases"][-1]
    src = KmodSource()
    mine = src._records(body, offsets, cpus)
    want = guest["phases"][1]
    assert [(r.ts, r.tid, r.cpu, r.type, r.nparams, bytes(r.raw)) for r in mine] == \
        [(r.ts, r.tid, r.cpu, r.type, r.nparams, bytes(r.raw)) for r in want]
    assert src._delivered == len(want) and src._decode_errors == 0
    # a damaged record (length past the buffer) is skipped and counted
    bad = src._records(body[:offsets[-1] + 30], offsets, cpus)
    assert len(bad) == len(want) - 1 and src._decode_errors == 1


def test_every_record_has_current_libs_params(guest):
    """Each record carries exactly the current libs parameter list of its type, and every
    parameter decodes as its declared type (the same tables a capture file is read with)."""
    recs = guest["phases"][1]
    seen = set()
    for r in recs:
        info = schema.EVENT_INFO_CURRENT[r.type]
        assert r.nparams == len(info.params), (r.name, r.nparams, len(info.params))
        for i, p in enumerate(info.params):
            scap.params.decode_param(p.type, raw(r, i), p)
        seen.add(r.name)
    assert {"openat", "close", "clone", "execve", "procexit", "socket", "bind", "listen",
            "connect", "accept", "sendto", "recvfrom", "pipe2", "dup", "dup2", "dup3",
            "mkdir", "rename", "symlink", "unlink", "rmdir", "chmod", "chdir", "unlinkat",
            "setuid", "kill", "ptrace", "init_module"} <= seen


def test_io_fd_and_path_syscalls(guest):
    f, recs = guest["facts"], guest["phases"][1]
    mine = [r for r in recs if r.tid == f["pid"]]
    snd = _only(mine, "sendto")
    assert snd.param(0) == f["sent"] == 10 and raw(snd, 1) == b"hello-kmod"
    assert i64(snd, 2) == f["cfd"] and u32(snd, 3) == 10
    t = snd.param(4) if len(snd.params) > 4 else scap.params.decode_param(
        schema.PT.SOCKTUPLE, raw(snd, 4))
    assert (t.sport, t.dport) == (f["cport"], f["port"])
    rcv = _only(mine, "recvfrom")
    assert rcv.param(0) == f["got"] and raw(rcv, 1) == b"hello-kmod"
    assert (rcv.param(2).sport, rcv.param(2).dport) == (f["cport"], f["port"])
    assert i64(rcv, 3) == f["as"] and u32(rcv, 4) == 64
    bnd = _only(mine, "bind")
    assert bnd.param(0) == 0 and bnd.param(1) == SockAddr(2, "127.0.0.1", 0)
    assert i64(bnd, 2) == f["lfd"]
    lst = _only(mine, "listen")
    assert (i64(lst, 1), u32(lst, 2)) == (f["lfd"], 4)
    pipe = _only(mine, "pipe2")
    assert (pipe.param(0), pipe.param(1), pipe.param(2)) == (0, f["pipe0"], f["pipe1"])
    assert u64(pipe, 3) > 0  # pipe inode
    pflags = {n for n, v in schema.EVENT_INFO_CURRENT[pipe.type].params[4].info
              if v and (u32(pipe, 4) & v) == v}
    assert {"O_CLOEXEC", "O_NONBLOCK"} <= pflags
    assert _only(mine, "dup").params[:2] == (f["dup"], f["pipe0"])
    assert _only(mine, "dup2").params[:3] == (f["dup2"], f["pipe0"], 40)
    d3 = _only(mine, "dup3")
    assert (d3.param(0), i64(d3, 1), i64(d3, 2), u32(d3, 3)) == (f["dup3"], f["pipe1"], 41,
                                                                 1 << 12)  # PPM_O_CLOEXEC
    assert _only(mine, "mkdir").param(1) == "/tmp/kd" and u32(_only(mine, "mkdir"), 2) == 0o750
    assert _only(mine, "rename").params[1:3] == ("/tmp/kd", "/tmp/kd2")
    assert _only(mine, "symlink").params[1:3] == ("/tmp/kd2", "/tmp/kl")
    assert _only(mine, "unlink").param(1) == "/tmp/kl"
    assert _only(mine, "rmdir").param(1) == "/tmp/kd2"
    assert _only(mine, "chmod").params[1:3] == ("/tmp/kmod-probe.txt", 0o600)
    assert _only(mine, "chdir").param(1) == "/tmp"
    assert _only(mine, "unlinkat").params[1:4] == (-100, "kmod-probe.txt", 0)
    assert (_only(mine, "setuid").param(0), u32(_only(mine, "setuid"), 1)) == (f["setuid"], 0)
    kl = _only(mine, "kill")
    assert (kl.param(0), i64(kl, 1), u8(kl, 2)) == (f["kill"], f["pid"], 0)
    pt = _only(mine, "ptrace")  # PTRACE_PEEKDATA on a process we do not trace
    ptp = schema.EVENT_INFO_CURRENT[pt.type].params
    assert pt.param(0) == f["ptrace"] == -3  # ESRCH
    assert scap.params.decode_param(ptp[1].type, raw(pt, 1), ptp[1]) == (0, 0x1000)
    assert {n for n, v in ptp[3].info if v == u16(pt, 3)} == {"PTRACE_PEEKDATA"}
    assert i64(pt, 4) == 1
    im = _only(mine, "init_module")
    assert im.param(0) == f["init_module"] == -8  # ENOEXEC
    assert raw(im, 1) == b"\177ELF-not-a-module\0" and u64(im, 2) == 18
    assert text(im, 3) == "kmod=1"
    for name in ("mkdir", "rename", "symlink", "unlink", "rmdir", "chmod", "chdir", "unlinkat"):
        assert _only(mine, name).param(0) == f[name] == 0


def test_in_kernel_table_and_dropped_tgid(guest):
    """Phase 3: table {openat} (scap.engines.kmod.syscall_table) and the guest's own tgid
    dropped: only the child's openat is recorded (no clone, close, getppid, procexit)."""
    f, recs = guest["facts"], guest["phases"][3]
    assert [(r.name, r.tid, r.param(2)) for r in recs] == \
        [("openat", f["p3_child"], "/tmp/kmod-child")]


def test_generic_events_name_their_syscall(guest):
    f, recs = guest["facts"], guest["phases"][1]
    last = recs[-1]
    assert last.name == "getppid" and last.tid == f["pid"] and last.type == 1
    assert schema.SYSCALL_NAMES[last.param(0)] == "getppid"
    assert struct.unpack("<H", raw(last, 1))[0] == 110  # x86_64 native number of getppid


def test_drop_counters_add_up(guest):
    f, recs = guest["facts"], guest["phases"][2]
    written = f["p2_evts"] - f["p1_evts"]
    dropped = f["p2_drops_buffer"] - f["p1_drops_buffer"]
    assert dropped > 0
    assert len(recs) == written  # everything the module kept was drained
    # every getppid is either in a ring or counted as dropped (+1: the START ioctl's exit)
    assert written + dropped == f["issued"] + 1
    assert {r.name for r in recs} == {"getppid", "ioctl"}
    ring = f["ring_size"]
    assert sum(len(r.raw) for r in recs) <= 2 * ring


def test_records_round_trip_through_a_capture_file(guest, tmp_path):
    recs = guest["phases"][1]
    path = tmp_path / "kmod.scap"
    w = scap.Writer(str(path))
    w.write_header()
    for r in recs:
        w.write_event(r)
    w.close()
    with scap.open(str(path)) as cap:
        back = list(cap)
    assert [(r.ts, r.tid, r.cpu, r.type, bytes(r.raw)) for r in back] == \
        [(r.ts, r.tid, r.cpu, r.type, bytes(r.raw)) for r in recs]


def test_sinsp_builds_state_from_module_records(guest):
    """The records feed sinsp as a capture's would: threads from clone/execve, fds from
    openat/connect/accept, no parse errors."""
    from sinsp import Inspector

    f = guest["facts"]
    insp = Inspector(guest["phases"][1])
    seen = {}
    for evt in insp:
        r = evt.record
        wanted = r.name in ("openat", "execve", "connect", "accept", "procexit")
        if wanted and (r.name != "openat" or r.param(0) >= 0):
            seen[r.name] = (evt.thread.comm if evt.thread else None,
                            evt.fd.name if evt.fd else None, evt.thread and evt.thread.pid)
    assert insp.stats.parse_errors == 0
    assert seen["openat"][1] == "/tmp/kmod-probe.txt"
    assert seen["execve"][0] == "busybox" and seen["execve"][2] == f["child"]
    assert seen["procexit"][0] == "busybox"
    tcp = f"127.0.0.1:{f['cport']}->127.0.0.1:{f['port']}"
    assert seen["connect"][1] == tcp and seen["accept"][1] == tcp


# -- phase 4: the fd-creating and state syscalls (the probe's fillers, issue #6) ---------------
PPM_O_NONBLOCK, PPM_O_CLOEXEC = 1 << 6, 1 << 12


def _state(guest):
    f = guest["facts"]
    return f, [r for r in guest["phases"][4] if r.tid == f["s_pid"]]


def test_state_syscalls_have_their_own_events_not_the_generic_one(guest):
    f, mine = _state(guest)
    names = {r.name for r in mine if r.type != 1}
    assert {"prctl", "socketpair", "fcntl", "eventfd", "eventfd2", "signalfd", "signalfd4",
            "timerfd_create", "inotify_init", "inotify_init1", "epoll_create", "epoll_create1",
            "userfaultfd", "pidfd_open", "pidfd_getfd", "io_uring_setup", "capset", "setpgid",
            "close_range"} <= names
    kid = [r for r in guest["phases"][4] if r.tid == f["s_kid"]]
    assert [i64(r, 0) for r in kid if r.name == "setsid"] == [f["s_kid"]]  # the new sid
    for r in guest["phases"][4]:  # every param decodes as current libs declares it
        info = schema.EVENT_INFO_CURRENT[r.type]
        assert r.nparams == len(info.params), (r.name, r.nparams)
        for i, p in enumerate(info.params):
            scap.params.decode_param(p.type, raw(r, i), p)


def test_state_syscall_params_as_the_probe_writes_them(guest):
    f, mine = _state(guest)
    pr = [r for r in mine if r.name == "prctl"]
    # SET_NAME / GET_NAME carry the name, SET/GET_CHILD_SUBREAPER the value (GET: read at exit)
    assert [(i64(r, 0), u32(r, 1)) for r in pr] == [(0, 15), (0, 16), (0, 36), (0, 37)]
    assert text(pr[0], 2) == text(pr[1], 2) == f["s_name"] == "kmodstate"
    assert i64(pr[2], 3) == 1 and i64(pr[3], 3) == f["s_sub"] == 1
    sp = _only(mine, "socketpair")
    assert (i64(sp, 0), i64(sp, 1), i64(sp, 2)) == (f["s_spr"], f["s_sp0"], f["s_sp1"])
    assert u64(sp, 3) and u64(sp, 4) and u64(sp, 3) != u64(sp, 4)  # the two unix socks
    assert (u32(sp, 5), u32(sp, 6), u32(sp, 7)) == (1, 1, 0)  # AF_UNIX, SOCK_STREAM
    fc = _only(mine, "fcntl")
    assert (i64(fc, 0), i64(fc, 1), u8(fc, 2), u64(fc, 3)) == (f["s_fdup"], f["s_file"], 26, 60)
    ev = _only(mine, "eventfd")
    assert (i64(ev, 0), u64(ev, 1), u32(ev, 2)) == (f["s_efd"], 7, 0)
    ev2 = _only(mine, "eventfd2")
    assert (i64(ev2, 0), u16(ev2, 1), u64(ev2, 2)) == (f["s_efd2"], PPM_O_NONBLOCK | PPM_O_CLOEXEC,
                                                       3)
    sf = _only(mine, "signalfd")
    assert (i64(sf, 0), i64(sf, 1), u32(sf, 2), u8(sf, 3)) == (f["s_sfd"], -1, 1 << 9, 0)
    sf4 = _only(mine, "signalfd4")
    assert (i64(sf4, 0), u16(sf4, 1), i64(sf4, 2), u32(sf4, 3)) == (f["s_sfd4"], PPM_O_CLOEXEC,
                                                                    -1, 1 << 9)
    tf = _only(mine, "timerfd_create")
    assert (i64(tf, 0), u8(tf, 1), u8(tf, 2)) == (f["s_tfd"], 1, 0)  # CLOCK_MONOTONIC
    assert (i64(_only(mine, "inotify_init"), 0), u8(_only(mine, "inotify_init"), 1)) == \
        (f["s_ifd"], 0)
    in1 = _only(mine, "inotify_init1")
    assert (i64(in1, 0), u16(in1, 1)) == (f["s_ifd1"], PPM_O_NONBLOCK)
    assert (i64(_only(mine, "epoll_create"), 0), u32(_only(mine, "epoll_create"), 1)) == \
        (f["s_ep"], 5)
    e1 = _only(mine, "epoll_create1")
    assert (i64(e1, 0), u32(e1, 1)) == (f["s_ep1"], 1)  # PPM_EPOLL_CLOEXEC
    uf = _only(mine, "userfaultfd")
    assert (i64(uf, 0), u32(uf, 1)) == (f["s_ufd"], PPM_O_NONBLOCK | PPM_O_CLOEXEC)
    po = _only(mine, "pidfd_open")
    assert (i64(po, 0), i64(po, 1), u32(po, 2)) == (f["s_pfd"], f["s_pid"], 0)
    pg = _only(mine, "pidfd_getfd")
    assert (i64(pg, 0), i64(pg, 1), i64(pg, 2), u32(pg, 3)) == (f["s_pgfd"], f["s_pfd"],
                                                                f["s_efd"], 0)
    ur = _only(mine, "io_uring_setup")
    # entries and features as the kernel wrote them back; IORING_SETUP_CQSIZE (8) is libs' 16
    assert (i64(ur, 0), u32(ur, 1), u32(ur, 2), u32(ur, 3), u32(ur, 4), u32(ur, 7)) == \
        (f["s_ur"], 4, f["s_sq"], f["s_cq"], 16, f["s_feat"] & 0x7FF)
    cs = _only(mine, "capset")
    assert i64(cs, 0) == f["s_cs"] == 0 and u64(cs, 3) == f["s_eff"]
    assert not u64(cs, 3) & (1 << 13) and u64(cs, 2) & (1 << 13)  # NET_RAW: permitted only
    spg = _only(mine, "setpgid")
    assert (i64(spg, 0), i64(spg, 1), i64(spg, 2)) == (f["s_spg"], 0, 0)
    assert f["s_pgid"] == f["s_pid"]  # setpgid(0, 0): the guest leads its own group
    cr = _only(mine, "close_range")
    assert (i64(cr, 0), u32(cr, 1), u32(cr, 2), u32(cr, 3)) == (f["s_cr"], f["s_file"], 200, 0)


def test_sinsp_types_the_fds_the_state_syscalls_made(guest):
    """Fed through sinsp.Inspector, the module's records build fds of the right type (as the
    probe's do: tests/drivers/test_bpf_state_fillers.py), take capset's sets, and close_range
    empties the range."""
    from sinsp import Inspector

    f, _mine = _state(guest)
    ft = scap.FdType
    want = {f["s_sp0"]: ft.UNIX_SOCK, f["s_sp1"]: ft.UNIX_SOCK, f["s_file"]: ft.FILE,
            f["s_fdup"]: ft.FILE, f["s_efd"]: ft.EVENT, f["s_efd2"]: ft.EVENT,
            f["s_sfd"]: ft.SIGNALFD, f["s_sfd4"]: ft.SIGNALFD, f["s_tfd"]: ft.TIMERFD,
            f["s_ifd"]: ft.INOTIFY, f["s_ifd1"]: ft.INOTIFY, f["s_ep"]: ft.EVENTPOLL,
            f["s_ep1"]: ft.EVENTPOLL, f["s_pfd"]: ft.PIDFD,
            f["s_pgfd"]: ft.EVENT, f["s_ur"]: ft.IOURING}  # pidfd_getfd copies the eventfd
    # (userfaultfd fds are not tracked: sinsp follows sysdig 0.29.3 there, sinsp/parsers/fd_misc)
    insp = Inspector(guest["phases"][4])
    before = after = None
    for evt in insp:
        r = evt.record
        if r.tid != f["s_pid"]:
            continue
        table = evt.thread.fd_table() if evt.thread else None
        if r.name == "setpgid":
            before = {fd: (table.get(fd).type if table and table.get(fd) else None)
                      for fd in want}
            fdup_name = table.get(f["s_fdup"]).name
            cap_eff = evt.thread.cap_effective
        elif r.name == "close" and after is None:  # the next event: close_range applied
            after = {fd for fd in want if table and table.get(fd) is not None}
    assert insp.stats.parse_errors == 0
    assert before == want
    assert fdup_name == "/tmp/kmod-state"  # F_DUPFD_CLOEXEC copies the file's entry
    assert cap_eff == f["s_eff"]
    assert after == {f["s_sp0"], f["s_sp1"]}  # below the range: closed later by close()


# -- phase 5: the I/O calls (data cut to the snaplen, as the probe) ----------------------------
def _io(guest):
    f = guest["facts"]
    return f, [r for r in guest["phases"][5] if r.tid == f["io_pid"]]


def _tuple4(r, i):
    return struct.unpack("<B4sH4sH", raw(r, i)[:13])


def test_io_calls_carry_fd_size_and_data_cut_to_the_snaplen(guest):
    f, mine = _io(guest)
    big = b"kmod-io:" + b"k" * 192
    w, w2 = [r for r in mine if r.name == "write"]
    # default snaplen 80; 150 after scap_kmod_set_snaplen (PYFALCO_IOCTL_SET_SNAPLEN)
    assert (i64(w, 0), raw(w, 1), i64(w, 2), u32(w, 3)) == (f["io_w"], big[:80], f["io_sp0"], 100)
    assert (i64(w2, 0), raw(w2, 1), u32(w2, 3)) == (f["io_w2"], big[:150], 200)
    rd = _only(mine, "read")
    assert (i64(rd, 0), raw(rd, 1), i64(rd, 2), u32(rd, 3)) == (f["io_r"], big[:80],
                                                                f["io_sp1"], 256)
    pw = _only(mine, "pwrite")
    assert (i64(pw, 0), raw(pw, 1), i64(pw, 2), u32(pw, 3), u64(pw, 4)) == \
        (f["io_pw"], b"pwrite-data", f["io_file"], 11, 5)
    pr = _only(mine, "pread")
    assert (i64(pr, 0), raw(pr, 1), i64(pr, 2), u32(pr, 3), u64(pr, 4)) == \
        (f["io_pr"], b"pwrite-data", f["io_file"], 11, 5)
    wv = _only(mine, "writev")  # data: the first iovec
    assert (i64(wv, 0), raw(wv, 1), i64(wv, 2), u32(wv, 3)) == (f["io_wv"], b"v1-data",
                                                                 f["io_file"], 9)
    rv = _only(mine, "readv")  # size: the iovecs' total; data: what landed in the first
    assert (i64(rv, 0), u32(rv, 1), raw(rv, 2), i64(rv, 3)) == (f["io_rv"], 68, b"v1-d",
                                                                f["io_file"])


def test_sendmsg_recvmsg_tuples_and_msgcontrol(guest):
    f, mine = _io(guest)
    sm, usm = [r for r in mine if r.name == "sendmsg"]
    assert (i64(sm, 0), raw(sm, 1), i64(sm, 2), u32(sm, 3)) == (f["io_sm"], b"first-iov",
                                                                f["io_sp0"], 15)
    assert raw(sm, 4)[0] == 1  # a unix tuple
    rm, urm = [r for r in mine if r.name == "recvmsg"]
    assert (i64(rm, 0), u32(rm, 1), raw(rm, 2), i64(rm, 5)) == (f["io_rm"], 64,
                                                                b"first-iovsecond", f["io_sp1"])
    # msgcontrol: the SCM_RIGHTS message as received (x86_64 cmsghdr: len, level, type, fd)
    ctl = raw(rm, 4)
    assert len(ctl) == f["io_ctl"] == 24
    assert struct.unpack("<QiIi", ctl[:20]) == (20, 1, 1, f["io_passed"])  # SOL_SOCKET, RIGHTS
    lo = bytes([127, 0, 0, 1])
    want = (2, lo, f["io_txport"], lo, f["io_rxport"])  # the sender first, both ways
    assert (i64(usm, 0), raw(usm, 1)) == (f["io_usm"], b"udp-one") and _tuple4(usm, 4) == want
    assert (i64(urm, 0), raw(urm, 2)) == (f["io_urm"], b"udp-one") and _tuple4(urm, 3) == want
    assert raw(urm, 4) == b""  # no control buffer given
    st, rf = _only(mine, "sendto"), _only(mine, "recvfrom")
    assert (i64(st, 0), raw(st, 1)) == (f["io_ust"], b"udp-two") and _tuple4(st, 4) == want
    assert (i64(rf, 0), raw(rf, 1)) == (f["io_urf"], b"udp-two") and _tuple4(rf, 2) == want


def test_sendmmsg_and_recvmmsg_give_one_record_per_message(guest):
    f, mine = _io(guest)
    pay = [b"mmsg-one", b"mmsg-second", b"mmsg-3"]
    sends = [r for r in mine if r.name == "sendmmsg"]
    recvs = [r for r in mine if r.name == "recvmmsg"]
    assert f["io_smm"] == f["io_rmm"] == 3
    assert [(i64(r, 0), i64(r, 1), u32(r, 2), raw(r, 3)) for r in sends] == \
        [(len(p), f["io_tx"], len(p), p) for p in pay]
    assert [(i64(r, 0), i64(r, 1), u32(r, 2), raw(r, 3), raw(r, 5)) for r in recvs] == \
        [(len(p), f["io_rx"], 32, p, b"") for p in pay]
    lo = bytes([127, 0, 0, 1])
    want = (2, lo, f["io_txport"], lo, f["io_rxport"])
    assert all(_tuple4(r, 4) == want for r in sends + recvs)


def test_sinsp_reads_the_io_records(guest):
    """The I/O records go through sinsp without parse errors, on fds of the right type (the
    phase records their creation too)."""
    from sinsp import Inspector

    f, _mine = _io(guest)
    insp = Inspector(guest["phases"][5])
    fds = {}
    for evt in insp:
        r = evt.record
        if r.tid == f["io_pid"] and r.type != 1 and evt.fd is not None:
            fds.setdefault(r.name, (evt.fdnum, evt.fd.type, evt.fd.name))
    assert insp.stats.parse_errors == 0
    ft = scap.FdType
    assert fds["write"][:2] == (f["io_sp0"], ft.UNIX_SOCK)
    assert fds["recvmsg"][:2] == (f["io_sp1"], ft.UNIX_SOCK)
    assert fds["pwrite"] == fds["readv"] == (f["io_file"], ft.FILE, "/tmp/kmod-io")
    assert fds["sendto"][:2] == (f["io_tx"], ft.IPV4_SOCK)
    assert fds["recvfrom"][:2] == (f["io_rx"], ft.IPV4_SOCK)


# -- phase 6: drops by category (the probe's categories, Falco's names) -----------------------
def _cats(f, tag):
    from scap.engines.bpf import DROP_CATEGORIES

    return {name: f[f"{tag}_cat{k}"] for k, name in enumerate(DROP_CATEGORIES)}


def test_ring_full_drops_are_counted_by_category(guest):
    """Pinned to one cpu whose ring getppid (generic: no category) filled: every failed close
    and open that did not fit counts in close_exit / open_exit, nothing elsewhere."""
    f = guest["facts"]
    before, after = _cats(f, "p6a"), _cats(f, "p6")
    delta = {k: after[k] - before[k] for k in after}
    mine = [r for r in guest["phases"][6] if r.tid == f["d_pid"]]
    kept_close = sum(r.name == "close" for r in mine)
    kept_open = sum(r.name == "openat" for r in mine)
    assert delta["close_exit"] == f["d_closes"] - kept_close > 0
    assert delta["open_exit"] == f["d_opens"] - kept_open > 0
    assert {k: v for k, v in delta.items() if k not in ("close_exit", "open_exit")} == \
        dict.fromkeys(("clone_fork_exit", "execve_exit", "connect_exit", "dir_file_exit",
                       "other_interest_exit", "proc_exit"), 0)
    # the categories are part of the total
    total = f["p6_drops_buffer"] - f["p6a_drops_buffer"]
    assert total >= delta["close_exit"] + delta["open_exit"]


def test_kmod_source_reports_the_categories_under_falcos_names(guest):
    """KmodStats.drops_by_category and driver_stats().detail, from the guest's counters: the
    names BpfSource reports (Falco's n_drops_buffer_*), enter ones 0."""
    from scap.engines.bpf import BpfSource, BpfStats
    from scap.engines.kmod import KmodSource, KmodStats

    f = guest["facts"]
    cats = _cats(f, "p6")
    st = KmodStats(events=f["p6_evts"], drops_buffer=f["p6_drops_buffer"],
                   drops_size=f["p6_drops_size"], drops_pf=f["p6_drops_pf"], delivered=0,
                   decode_errors=0, ncpus=2, ring_size=f["ring_size"], drops_by_category=cats)
    detail = KmodSource()._drop_detail(st)
    assert detail["n_drops_buffer_close_exit"] == cats["close_exit"] > 0
    assert detail["n_drops_buffer_open_exit"] == cats["open_exit"] > 0
    assert detail["n_drops_buffer_open_enter"] == 0
    assert detail["n_drops_buffer_total"] == f["p6_drops_buffer"]
    bst = BpfStats(events=0, drops_buffer=f["p6_drops_buffer"], drops_size=0, delivered=0,
                   decode_errors=0, ncpus=2, drops_by_category=cats)
    bpf_detail = BpfSource()._drop_detail(bst)
    # the same names as the probe's; the module adds its page-fault count
    assert set(detail) - set(bpf_detail) == {"n_drops_page_faults"}
    assert {k: detail[k] for k in bpf_detail} == bpf_detail


# -- phase 7: the live hot path takes the module's open/close exits ---------------------------
def test_hot_path_absorbs_the_modules_open_close_exits(guest):
    """The guest's open/close loop, as the drain delivered it, through sinsp's live hot path
    (Inspector.set_hotpath) on a KmodSource's raw-batch API: hotpath.c classifies the module's
    openat/close exits as candidates (its layout is the one hotpath.c expects), absorbs them
    all, and leaves the state the plain path builds from the same records."""
    from types import SimpleNamespace

    from scap.engines._ring import RawBatch
    from scap.engines.kmod import KmodSource
    from scap.metadata import ProcInfo
    from sinsp import Inspector, hotpath
    from sinsp.localpred import Const

    if not hotpath.available():
        pytest.skip(f"hot path not built: {hotpath.import_error()}")
    f = guest["facts"]
    body, offsets, cpus = guest["phases"][-7]
    recs = guest["phases"][7]
    loop = [r for r in recs if r.tid == f["h_pid"] and r.name in ("openat", "close")]
    assert len(loop) == 2 * f["h_loops"]
    procs = [ProcInfo(tid=f["h_pid"], pid=f["h_pid"], ptid=1, comm="kmod-guest",
                      exe="/kmod-guest", cwd="/tmp")]

    snap = SimpleNamespace(processes=procs, users=[], groups=[], machine=None, interfaces=[])

    class Replay(KmodSource):
        """KmodSource whose one drained batch is the guest's drain output."""

        def raw_batches(self):  # type: ignore[no-untyped-def]
            yield RawBatch(body, struct.pack(f"<{len(offsets)}I", *offsets),
                           struct.pack(f"<{len(cpus)}H", *cpus), len(offsets))

    class Plain:
        """The same records as a plain (non-live) source."""

        processes, users, groups, machine, interfaces = procs, [], [], None, []

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(recs)

    live = Replay()
    live._snapshot = snap
    hot = Inspector(live)
    assert hot.set_hotpath({307: Const(False), 5: Const(False)})  # openat, close: no rule
    forwarded = [e.record for e in hot]
    st = hot.hot_stats
    assert (st.opens, st.closes) == (f["h_loops"], f["h_loops"])
    assert st.absorbed == 2 * f["h_loops"]
    assert not any(r.tid == f["h_pid"] and r.name in ("openat", "close") for r in forwarded)
    plain = Inspector(Plain())
    assert len(list(plain)) == len(recs) and plain.stats.parse_errors == 0

    def table(insp):  # type: ignore[no-untyped-def]
        t = insp.threads.get(f["h_pid"]).fd_table()
        return sorted((i.fd, int(i.type), i.name, i.openflags, i.ino) for i in t)

    assert table(hot) == table(plain)
    assert (hot._num, hot.fd_stats.added, hot.fd_stats.removed) == \
        (plain._num, plain.fd_stats.added, plain.fd_stats.removed)
    assert plain.fd_stats.added >= f["h_loops"]

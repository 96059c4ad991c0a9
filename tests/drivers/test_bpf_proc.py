"""Process lifecycle through the live probe: clone/fork, execve (success and failure),
procexit, credentials."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raising, raw, text, u8, u32, u64

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

PPM_CL_CLONE_THREAD = 1 << 13


def _own_cgroup_lines() -> set[str]:
    out = set()
    with open("/proc/self/cgroup") as f:
        for line in f:
            _h, ctls, path = line.rstrip("\n").split(":", 2)
            for c in ctls.split(","):
                if c and not c.startswith("name="):
                    out.add(f"{c}={path}")
    return out


def test_fork_parent_and_child_records_then_procexit(cap):
    pids = []

    def do_fork():
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        pids.append(pid)
        os.waitpid(pid, 0)

    recs = cap.run(do_fork, lambda r: r.type in (223, 225, 186) and
                   (r.tid == me() or (pids and r.tid == pids[0])), count=3)
    child = pids[0]
    parent_rec = next(r for r in recs if r.type in (223, 225) and r.tid == me())
    child_rec = next(r for r in recs if r.type in (223, 225) and r.tid == child)
    exit_rec = next(r for r in recs if r.type == 186)
    assert parent_rec.nparams == child_rec.nparams == 21
    assert i64(parent_rec, 0) == child                   # res: PID (child's tid, in the parent)
    assert i64(child_rec, 0) == 0                        # res: 0 in the child
    assert i64(child_rec, 3) == child and i64(child_rec, 4) == child   # tid, pid
    assert i64(child_rec, 5) == os.getpid()              # ptid
    assert text(child_rec, 1) == sys.executable or text(child_rec, 1).endswith("python")  # exe
    assert text(child_rec, 13) == text(parent_rec, 13)   # comm inherited
    assert not u32(child_rec, 15) & PPM_CL_CLONE_THREAD  # flags: a process, not a thread
    assert _own_cgroup_lines() <= set(raw(child_rec, 14).rstrip(b"\0").decode().split("\0"))
    assert u32(child_rec, 16) == os.geteuid() and u32(child_rec, 17) == os.getegid()
    # procexit: status (wait status), ret, sig, core
    status = (i64(exit_rec, 0), i64(exit_rec, 1), u8(exit_rec, 2), u8(exit_rec, 3))
    assert status == (7 << 8, 7, 0, 0)


def test_thread_clone_has_clone_thread_flag(cap):
    import threading

    t = threading.Thread(target=lambda: None)
    rec = cap.one(lambda: (t.start(), t.join()),
                  lambda r: r.type in (223, 335) and r.tid == me() and i64(r, 0) > 0)
    assert u32(rec, 15) & PPM_CL_CLONE_THREAD             # flags: FLAGS32 (PPM_CL_*)
    assert i64(rec, 4) == os.getpid()                    # pid: the thread group


def test_execve_success_params(cap, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYFALCO_MARK": "probe-test"}
    procs = []
    rec = cap.one(
        lambda: procs.append(subprocess.run(["/bin/echo", "hello", "world"], env=env,
                                            stdout=subprocess.DEVNULL, cwd=tmp_path)),
        lambda r: r.type == 293 and i64(r, 0) == 0 and b"hello" in raw(r, 2))
    assert rec.nparams == 31
    assert text(rec, 1) == "/bin/echo"                                  # exe: argv[0]
    assert raw(rec, 2) == b"hello\0world\0"                             # args: BYTEBUF
    assert i64(rec, 3) == rec.tid and i64(rec, 4) == rec.tid            # tid, pid
    assert i64(rec, 5) == os.getpid()                                   # ptid: us
    assert text(rec, 13) == "echo"                                      # comm
    assert "PYFALCO_MARK=probe-test" in raw(rec, 15).decode().split("\0")  # env
    assert i64(rec, 7) > 0                                              # fdlimit
    assert u32(rec, 10) > 0                                             # vm_size (KiB)
    assert u32(rec, 18) == 0xFFFFFFFF or u32(rec, 18) >= 0              # loginuid: UID
    assert u32(rec, 26) == os.geteuid() and u32(rec, 29) == os.getegid()  # uid, gid
    assert text(rec, 27) == os.path.realpath("/bin/echo")               # trusted_exepath
    assert text(rec, 30) == "/bin/echo"                                 # filename
    st = os.stat(os.path.realpath("/bin/echo"))
    assert int.from_bytes(raw(rec, 23), "little") == st.st_ino          # exe_ino
    assert int.from_bytes(raw(rec, 25), "little") == st.st_mtime_ns     # exe_ino_mtime


def test_execve_failure_params(cap, tmp_path):
    missing = str(tmp_path / "nope")
    rec = cap.one(raising(FileNotFoundError, subprocess.run, [missing, "x"]),
                  lambda r: r.type == 293 and i64(r, 0) == -2 and missing.encode() in r.raw)
    assert text(rec, 1) == missing          # exe: argv[0] of the attempt
    assert text(rec, 30) == missing         # filename: the user pointer is still valid


def test_setuid_family_in_child(cap):
    pids = []

    def child_setuid():
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            finally:
                os._exit(0)
        pids.append(pid)
        os.waitpid(pid, 0)

    recs = cap.run(child_setuid, lambda r: r.type in (193, 195) and pids and r.tid == pids[0],
                   count=2)
    by_type = {r.type: r for r in recs}
    # res, ruid/euid/suid: UID
    assert [i64(by_type[193], 0)] + [u32(by_type[193], i) for i in (1, 2, 3)] == [0, 0, 0, 0]
    assert [i64(by_type[195], 0)] + [u32(by_type[195], i) for i in (1, 2, 3)] == [0, 0, 0, 0]


def test_ptrace_attach_params(cap):
    """PTRACE_ATTACH (Linux 16) to a sleeping child: request PPM_PTRACE_ATTACH (11), pid."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    child = subprocess.Popen(["sleep", "5"])
    try:
        rec = cap.one(lambda: libc.ptrace(16, child.pid, None, None),
                      lambda r: r.type == 169 and r.tid == me())
        assert i64(rec, 0) == 0                                   # res
        assert raw(rec, 1) == b"\0" + bytes(8)                     # addr: DYN (UINT64 0)
        assert int.from_bytes(raw(rec, 3), "little") == 11         # request: PPM_PTRACE_ATTACH
        assert i64(rec, 4) == child.pid                           # pid
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_execve_flags_writable_and_memfd(cap, tmp_path):
    """flags (#19, PPM_EXE_*): a root caller can write any exe (WRITABLE 1); an image run
    from a memfd has FROM_MEMFD (4)."""
    with open(os.path.realpath("/bin/true"), "rb") as f:
        image = f.read()
    fd = os.memfd_create("pyfalco-memfd-exe", 0)
    os.write(fd, image)
    marker = f"memfd-run-{os.getpid()}"
    rec = cap.one(lambda: subprocess.run([f"/proc/self/fd/{fd}", marker], pass_fds=(fd,)),
                  lambda r: r.type == 293 and i64(r, 0) == 0 and marker.encode() in raw(r, 2))
    os.close(fd)
    assert u32(rec, 19) & 4                                   # PPM_EXE_FROM_MEMFD
    assert u32(rec, 19) & 1 == (os.geteuid() == 0)            # PPM_EXE_WRITABLE (root)
    rec = cap.one(lambda: subprocess.run(["/bin/true", "plain-" + marker]),
                  lambda r: r.type == 293 and i64(r, 0) == 0 and b"plain-" in raw(r, 2))
    assert not u32(rec, 19) & 4


def test_procexit_reaper_is_the_child_subreaper(cap):
    """A (subreaper) forks B, B forks C and exits: procexit of B names A as reaper_tid (#4);
    a process without children has reaper_tid 0."""
    import ctypes

    r, w = os.pipe()

    def scenario():
        a = os.fork()
        if a == 0:                                   # A
            ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
            b = os.fork()
            if b == 0:                               # B
                c = os.fork()
                if c == 0:                           # C: outlive B a little
                    import time
                    time.sleep(0.3)
                    os._exit(0)
                os.write(w, f"{os.getpid()} {c}\n".encode())
                os._exit(0)
            os.waitpid(b, 0)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(-1, 0)                    # adopted C
            os._exit(0)
        os.waitpid(a, 0)
        pids.append(a)

    pids: list[int] = []
    recs = cap.run(scenario, lambda r: r.type == 186, count=400, timeout=2.0)
    b_pid, c_pid = (int(x) for x in os.read(r, 100).split())
    os.close(r)
    os.close(w)
    by_tid = {rec.tid: rec for rec in recs}
    assert i64(by_tid[b_pid], 4) == pids[0]           # reaper_tid: A, the subreaper
    assert i64(by_tid[c_pid], 4) == 0                  # C had no children


def test_clone_in_new_pid_namespace(cap):
    """unshare --pid --fork: the child's clone record has PPM_CL_CHILD_IN_PIDNS (1<<29),
    vtid/vpid 1 (#18, #19) and the namespace init's boot-based start (#20)."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    marker = f"pidns-{os.getpid()}"
    before = time_boot_ns()
    recs = cap.run(lambda: subprocess.run(["unshare", "--pid", "--fork", "/bin/echo", marker],
                                          stdout=subprocess.DEVNULL, check=True),
                   lambda r: r.type in (223, 225, 335) and i64(r, 0) == 0 and i64(r, 18) == 1,
                   count=1)
    after = time_boot_ns()
    assert recs, "no clone child record inside the new pid namespace"
    rec = recs[0]
    assert u32(rec, 15) & (1 << 29)                       # flags: PPM_CL_CHILD_IN_PIDNS
    assert i64(rec, 19) == 1                              # vpid: the namespace's init
    assert before <= u64(rec, 20) <= after                # pidns_init_start_ts


def time_boot_ns() -> int:
    import time

    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

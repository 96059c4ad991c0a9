"""Issue #6, point 7: the probe is exit-only and has no sched_process_fork hook, so a new
task's clone record must come from its own return through sys_exit.  Checked live for a
thread (CLONE_THREAD, glibc's clone3), a vfork child (subprocess's vfork), a posix_spawn
child (CLONE_VM | CLONE_VFORK through clone3) and a bare clone3: the child's first record is
its clone exit (res 0) with its own tid, the right parent and flags, and sinsp then knows it
as the kernel does."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raw, u32

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

CLONE_TYPES = {223: "clone", 225: "fork", 227: "vfork", 335: "clone3"}
PPM_CL_CLONE_VM, PPM_CL_CLONE_THREAD, PPM_CL_CLONE_VFORK = 1 << 15, 1 << 13, 1 << 27
PPME_EXECVE_X = 293

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _child_records(cap, action, child_tid, count):
    """Everything the probe recorded for the child, in time order."""
    recs = cap.run(action, lambda r: r.tid == child_tid(), count=count)
    return sorted(recs, key=lambda r: r.ts)


def _assert_first_is_clone_exit(recs, tid):
    assert recs, f"nothing recorded for the child {tid}"
    first = recs[0]
    assert first.type in CLONE_TYPES, f"first record of {tid} is {first.name}, not its clone"
    assert i64(first, 0) == 0                    # res: 0 in the child
    assert i64(first, 3) == tid                  # tid
    return first


def test_thread_first_record_is_its_clone_exit(cap):
    box = {}

    def body():
        box["tid"] = threading.get_native_id()
        os.getppid()                             # one more record of the thread's own

    t = threading.Thread(target=body)
    recs = _child_records(cap, lambda: (t.start(), t.join()), lambda: box.get("tid", -1), 2)
    first = _assert_first_is_clone_exit(recs, box["tid"])
    assert i64(first, 4) == os.getpid()          # pid: our thread group
    assert u32(first, 15) & PPM_CL_CLONE_THREAD and u32(first, 15) & PPM_CL_CLONE_VM


def _spawned_child(cap, spawn, mark):
    """Run spawn(); return (pid, the child's records up to and including its execve)."""
    pids = []
    recs = cap.run(lambda: pids.append(spawn()),
                   lambda r: (r.type in CLONE_TYPES and i64(r, 0) == 0)
                   or (r.type == PPME_EXECVE_X and raw(r, 2) == mark.encode() + b"\0"),
                   count=2)
    pid = pids[0]
    return pid, sorted((r for r in recs if r.tid == pid), key=lambda r: r.ts)


def test_vfork_child_first_record_is_its_clone_exit(cap):
    """subprocess (no preexec_fn) spawns through vfork(): the parent is suspended until the
    child execs, and the child's vfork exit comes first, before its execve."""
    mark = "vfork-child-mark"

    def spawn():
        p = subprocess.Popen(["/bin/true", mark])
        p.wait()
        return p.pid

    pid, recs = _spawned_child(cap, spawn, mark)
    first = _assert_first_is_clone_exit(recs, pid)
    assert i64(first, 5) == os.getpid()          # ptid: us
    assert u32(first, 15) & PPM_CL_CLONE_VFORK and u32(first, 15) & PPM_CL_CLONE_VM
    assert recs[-1].type == PPME_EXECVE_X        # then its exec


def test_posix_spawn_child_first_record_is_its_clone_exit(cap):
    mark = "posix-spawn-mark"

    def spawn():
        pid = os.posix_spawn("/bin/true", ["/bin/true", mark], {})
        os.waitpid(pid, 0)
        return pid

    pid, recs = _spawned_child(cap, spawn, mark)
    first = _assert_first_is_clone_exit(recs, pid)
    assert i64(first, 5) == os.getpid()
    assert u32(first, 15) & PPM_CL_CLONE_VM      # glibc spawns with CLONE_VM | CLONE_VFORK
    assert recs[-1].type == PPME_EXECVE_X


class _CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls")]


def test_bare_clone3_child_first_record_is_its_clone3_exit(cap):
    """clone3 with no flags, straight from ctypes: a fork-like child that exits at once."""
    pids = []

    def spawn():
        args = _CloneArgs(exit_signal=signal.SIGCHLD)
        pid = libc.syscall(435, ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args)))
        if pid == 0:
            os._exit(3)
        pids.append(pid)
        os.waitpid(pid, 0)

    recs = cap.run(spawn, lambda r: r.type == 335
                   and (r.tid == me() or (pids and r.tid == pids[0])), count=2)
    if not pids or pids[0] < 0:
        pytest.skip("clone3 not available")
    parent = [r for r in recs if r.tid == me()]
    child = sorted((r for r in recs if r.tid == pids[0]), key=lambda r: r.ts)
    assert parent and i64(parent[0], 0) == pids[0]
    first = _assert_first_is_clone_exit(child, pids[0])
    assert first.type == 335
    assert i64(first, 4) == pids[0] and i64(first, 5) == os.getpid()   # its own process


def test_sinsp_knows_the_children_as_the_kernel_does(bpf_source, cap):
    """Fed through sinsp, a thread and a vfork child get their pid/ptid from the clone
    exits: a thread belongs to our process, the vfork child is our child process."""
    from sinsp import Inspector

    box = {}

    def body():
        box["tid"] = threading.get_native_id()

    def action():
        t = threading.Thread(target=body)
        t.start()
        t.join()
        p = subprocess.Popen(["/bin/true", "sinsp-children-mark"])
        p.wait()
        box["pid"] = p.pid

    recs = cap.run(action, lambda r: r.type in CLONE_TYPES or r.type == PPME_EXECVE_X,
                   count=6, timeout=2.0)
    insp = Inspector(bpf_source)
    seen = {}
    for r in sorted(recs, key=lambda r: r.ts):
        evt = insp.process(r)
        if evt is not None and evt.thread is not None and r.tid in (box["tid"], box["pid"]):
            seen[r.tid] = (evt.thread.pid, evt.thread.ptid)
    assert seen[box["tid"]][0] == os.getpid()                  # a thread of ours
    assert seen[box["pid"]] == (box["pid"], os.getpid())      # a process, child of ours

"""pidfd_getfd live: the fd it returns duplicates fd ``targetfd`` of the process the pidfd refers
to, and sinsp's state copies that process's entry (libs' parse_pidfd_getfd_exit), built from
the probe's records of this process and of a child."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from scap import FdType
from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import me

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR_PIDFD_OPEN, NR_PIDFD_GETFD = 434, 438
PIDFD_GETFD_X = 407


def _getfd_events(src, recs, owner, target):
    """Run the records through a fresh Inspector on the live source: for each pidfd_getfd
    exit, its fd as sinsp resolved it and the owner's entry for ``target`` (type, name),
    both read while the event is current."""
    from sinsp import Inspector

    insp = Inspector(src)
    out = []
    for r in recs:
        evt = insp.process(r)
        if evt is not None and r.type == PIDFD_GETFD_X:
            fd = evt.fd
            ti = insp.threads.get(owner)
            table = ti.fd_table() if ti is not None else None
            src_fd = table.get(target) if table is not None else None
            out.append((evt.fdnum, None if fd is None else (fd.type, fd.name),
                        None if src_fd is None else (src_fd.type, src_fd.name)))
    return out


def test_getfd_of_our_own_file_copies_its_entry(cap, bpf_source, tmp_path):
    path = tmp_path / "target-file"
    made = {}

    def action():
        made["file"] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        made["pidfd"] = libc.syscall(NR_PIDFD_OPEN, os.getpid(), 0)
        made["copy"] = libc.syscall(NR_PIDFD_GETFD, made["pidfd"], made["file"], 0)
        for fd in made.values():
            if fd >= 0:
                os.close(fd)

    tid = me()
    recs = cap.run(action, lambda r: r.tid == tid, count=10**6, timeout=1.0)
    assert made["copy"] >= 0, made
    (fdnum, copy, original), = _getfd_events(bpf_source, recs, os.getpid(), made["file"])
    assert fdnum == made["copy"] and copy == original == (FdType.FILE, str(path))


def test_getfd_from_a_child_process(cap, bpf_source, tmp_path):
    """The target fd is the child's: a file it opened after it started, which this process
    never had; the copy is named after it."""
    path = tmp_path / "child-file"
    code = ("import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o600); "
            "os.write(1, b'%d\\n' % fd); sys.stdin.read()")
    made = {}

    def action():
        child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        made["child"] = child.pid
        try:
            made["target"] = int(child.stdout.readline())
            made["pidfd"] = libc.syscall(NR_PIDFD_OPEN, child.pid, 0)
            made["copy"] = libc.syscall(NR_PIDFD_GETFD, made["pidfd"], made["target"], 0)
            made["errno"] = ctypes.get_errno()
        finally:
            child.communicate(b"")
        for key in ("pidfd", "copy"):
            if made[key] >= 0:
                os.close(made[key])

    tid = me()
    recs = cap.run(action, lambda r: r.tid in (tid, made.get("child")), count=10**6,
                   timeout=2.0)
    assert made["copy"] >= 0, made
    (fdnum, copy, original), = _getfd_events(bpf_source, recs, made["child"], made["target"])
    assert fdnum == made["copy"] and copy == original == (FdType.FILE, str(path))

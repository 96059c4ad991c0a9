"""File syscalls through the live probe: trigger from Python, assert each param by index."""
from __future__ import annotations

import ctypes
import os
import socket
import subprocess

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raising, raw, text, u16, u32, u64

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_CREAT, PPM_O_TRUNC = 1, 2, 4, 1 << 8
PPM_O_CLOEXEC, PPM_O_F_CREATED = 1 << 12, 1 << 14
AT_FDCWD = -100


def test_openat_create_params(cap, tmp_path):
    path = str(tmp_path / "new.txt")
    fds = []
    rec = cap.one(lambda: fds.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)),
                  lambda r: r.type == 307 and r.tid == me() and path.encode() in r.raw)
    st = os.fstat(fds[0])
    os.close(fds[0])
    assert rec.nparams == 7
    assert i64(rec, 0) == fds[0]                      # fd: FD
    assert i64(rec, 1) == AT_FDCWD                    # dirfd: FD
    assert text(rec, 2) == path                       # name: FSRELPATH
    flags = u32(rec, 3)                               # flags: FLAGS32 (PPM_O_*)
    assert flags & PPM_O_WRONLY and flags & PPM_O_CREAT and flags & PPM_O_TRUNC
    assert flags & PPM_O_F_CREATED and flags & PPM_O_CLOEXEC  # Python adds O_CLOEXEC
    assert not flags & PPM_O_RDONLY
    assert u32(rec, 4) == 0o640                       # mode: UINT32
    assert u32(rec, 5) == st.st_dev                   # dev: UINT32 (new_encode_dev)
    assert u64(rec, 6) == st.st_ino                   # ino: UINT64


def test_openat_failure_and_existing(cap, tmp_path):
    missing = str(tmp_path / "missing")
    rec = cap.one(raising(FileNotFoundError, os.open, missing, os.O_RDONLY),
                  lambda r: r.type == 307 and r.tid == me() and missing.encode() in r.raw)
    assert i64(rec, 0) == -2                          # fd: -ENOENT
    assert u32(rec, 3) & PPM_O_RDONLY
    assert u32(rec, 5) == 0 and u64(rec, 6) == 0      # no file: dev/ino 0


def test_close_params(cap, tmp_path):
    fd = os.open(str(tmp_path), os.O_RDONLY)
    rec = cap.one(lambda: os.close(fd), lambda r: r.type == 5 and r.tid == me() and i64(r, 1) == fd)
    assert i64(rec, 0) == 0                           # res: ERRNO
    assert i64(rec, 1) == fd                          # fd: FD


def test_unlink_rename_mkdir_rmdir(cap, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    open(a, "w").close()
    rec = cap.one(lambda: os.rename(a, b), lambda r: r.type == 175 and r.tid == me())
    assert (i64(rec, 0), text(rec, 1), text(rec, 2)) == (0, a, b)  # res, oldpath, newpath
    rec = cap.one(lambda: os.unlink(b), lambda r: r.type == 301 and r.tid == me())
    assert (i64(rec, 0), text(rec, 1)) == (0, b)      # res, path: FSPATH
    d = str(tmp_path / "dir")
    rec = cap.one(lambda: os.mkdir(d, 0o700), lambda r: r.type == 277 and r.tid == me())
    assert (i64(rec, 0), text(rec, 1), u32(rec, 2)) == (0, d, 0o700)  # res, path, mode
    rec = cap.one(lambda: os.rmdir(d), lambda r: r.type == 279 and r.tid == me())
    assert (i64(rec, 0), text(rec, 1)) == (0, d)
    rec = cap.one(raising(FileNotFoundError, os.unlink, d),
                  lambda r: r.type == 301 and r.tid == me())
    assert i64(rec, 0) == -2


def test_unlinkat_mkdirat_with_dirfd(cap, tmp_path):
    dfd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        rec = cap.one(lambda: os.mkdir("sub", 0o755, dir_fd=dfd),
                      lambda r: r.type == 305 and r.tid == me())
        # res, dirfd: FD, path: FSRELPATH, mode
        assert (i64(rec, 0), i64(rec, 1), text(rec, 2), u32(rec, 3)) == (0, dfd, "sub", 0o755)
        rec = cap.one(lambda: os.rmdir("sub", dir_fd=dfd),
                      lambda r: r.type == 303 and r.tid == me())
        # res, dirfd, name, flags (PPM_AT_REMOVEDIR = 1)
        assert (i64(rec, 0), i64(rec, 1), text(rec, 2), u32(rec, 3)) == (0, dfd, "sub", 1)
    finally:
        os.close(dfd)


def test_symlink_link_chmod(cap, tmp_path):
    target, lnk, hard = str(tmp_path / "t"), str(tmp_path / "l"), str(tmp_path / "h")
    open(target, "w").close()
    rec = cap.one(lambda: os.symlink(target, lnk),
                  lambda r: r.type in (179, 181) and r.tid == me())
    assert i64(rec, 0) == 0 and text(rec, 1) == target     # res, target: CHARBUF
    assert text(rec, rec.nparams - 1) == lnk                # linkpath
    rec = cap.one(lambda: os.link(target, hard), lambda r: r.type in (309, 311) and r.tid == me())
    assert i64(rec, 0) == 0 and target.encode() in raw(rec, 1 if rec.type == 309 else 2)
    rec = cap.one(lambda: os.chmod(target, 0o4755),
                  lambda r: r.type in (315, 313) and r.tid == me())
    assert i64(rec, 0) == 0 and u32(rec, rec.nparams - 1) == 0o4755   # mode: MODE


def test_dup_family_and_pipe(cap):
    r_fd, w_fd = [], []

    def mkpipe():
        a, b = os.pipe2(os.O_CLOEXEC)
        r_fd.append(a)
        w_fd.append(b)

    rec = cap.one(mkpipe, lambda r: r.type == 393 and r.tid == me())
    ino = os.fstat(r_fd[0]).st_ino
    # res, fd1, fd2, ino, flags
    assert (i64(rec, 0), i64(rec, 1), i64(rec, 2), u64(rec, 3)) == (0, r_fd[0], w_fd[0], ino)
    assert u32(rec, 4) & PPM_O_CLOEXEC
    newfd = []
    libc = ctypes.CDLL(None, use_errno=True)   # os.dup() is fcntl(F_DUPFD_CLOEXEC)
    rec = cap.one(lambda: newfd.append(libc.dup(r_fd[0])),
                  lambda r: r.type == 367 and r.tid == me())
    assert (i64(rec, 0), i64(rec, 1)) == (newfd[0], r_fd[0])  # res: FD, oldfd: FD
    rec = cap.one(lambda: os.dup2(w_fd[0], newfd[0], inheritable=False),
                  lambda r: r.type in (363, 365) and r.tid == me())
    assert (i64(rec, 0), i64(rec, 1), i64(rec, 2)) == (newfd[0], w_fd[0], newfd[0])
    for fd in (r_fd[0], w_fd[0], newfd[0]):
        os.close(fd)


def test_memfd_create(cap):
    fds = []
    rec = cap.one(lambda: fds.append(os.memfd_create("pyfalco-probe-test", 0)),
                  lambda r: r.type == 405 and r.tid == me())
    os.close(fds[0])
    # fd: FD, name: CHARBUF, flags
    assert (i64(rec, 0), text(rec, 1), u32(rec, 2)) == (fds[0], "pyfalco-probe-test", 0)


def test_generic_event_carries_ppm_sc_and_native_id(cap):
    from scap import schema

    rec = cap.one(os.getppid, lambda r: r.type == 1 and r.tid == me() and u16(r, 1) == 110)
    assert u16(rec, 0) == schema.SYSCALL_NAMES.index("getppid")   # ID: SYSCALLID
    assert rec.name == "getppid"


def test_socket_syscall(cap):
    socks = []
    rec = cap.one(lambda: socks.append(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)),
                  lambda r: r.type == 19 and r.tid == me())
    # fd, domain (PPM_AF_INET6 = 10), type (raw, as libs sends it: Python adds SOCK_CLOEXEC),
    # proto, flags (SOCK_CLOEXEC as PPM_O_CLOEXEC)
    assert (i64(rec, 0), u32(rec, 1), u32(rec, 2), u32(rec, 3), u32(rec, 4)) == \
        (socks[0].fileno(), 10, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0, 1 << 12)
    socks[0].close()


def test_module_loading_syscalls_are_recorded(cap):
    """init_module/finit_module with bad arguments fail, but are recorded with their args."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    img = ctypes.create_string_buffer(b"\x7fELF-not-a-module", 17)
    rec = cap.one(lambda: libc.syscall(175, img, ctypes.c_ulong(17), b"opt=1"),
                  lambda r: r.type == 411 and r.tid == me())
    assert i64(rec, 0) < 0                              # res: ERRNO
    assert raw(rec, 1) == b"\x7fELF-not-a-module"       # img: BYTEBUF
    assert u64(rec, 2) == 17 and text(rec, 3) == "opt=1"  # length, uargs
    rec = cap.one(lambda: libc.syscall(313, -1, b"x=2", 0),
                  lambda r: r.type == 413 and r.tid == me())
    # res (-EBADF, or -ENOSYS on a kernel without modules), fd, uargs, flags
    assert i64(rec, 0) in (-9, -38)
    assert (i64(rec, 1), text(rec, 2), u32(rec, 3)) == (-1, "x=2", 0)


def test_bpf_syscall_is_recorded(cap):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    attr = ctypes.create_string_buffer(128)
    rec = cap.one(lambda: libc.syscall(321, 0xFFFF, attr, 128),   # unknown cmd: -EINVAL
                  lambda r: r.type == 369 and r.tid == me())
    assert i64(rec, 0) == -22 and u32(rec, 1) == 0xFFFF   # fd: -EINVAL, cmd: INT32


def test_mount_umount2_params(cap, tmp_path):
    """A tmpfs mount in a private mount namespace child: mount (#1 dev, #2 dir, #3 type,
    #4 flags) and umount2 (#1 name, #2 flags)."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    d = str(tmp_path / "mnt")
    os.mkdir(d)
    script = f"mount -t tmpfs -o ro pyfalco-tmpfs {d} && umount {d}"
    recs = cap.run(lambda: subprocess.run(["unshare", "--mount", "sh", "-c", script], check=True),
                   lambda r: r.type in (257, 391) and d.encode() in r.raw, count=2)
    by = {r.type: r for r in recs}
    m = by[257]
    assert i64(m, 0) == 0 and text(m, 1) == "pyfalco-tmpfs" and text(m, 2) == d
    assert text(m, 3) == "tmpfs" and u32(m, 4) & 1            # MS_RDONLY
    u = by[391]
    assert i64(u, 0) == 0 and text(u, 1) == d

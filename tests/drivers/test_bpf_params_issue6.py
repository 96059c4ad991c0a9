"""Issue #6: the probe's parameters the state layer and the rules need, checked live against
what the kernel and /proc say: execve/execveat cwd, the prctl event, socket/umount2 flags in
libs' encoding, the overlayfs layer flags of an executable."""
from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raw, text, u32

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]

PPME_EXECVE_X, PPME_EXECVEAT_X, PPME_PRCTL_X, PPME_SOCKET_X, PPME_UMOUNT2_X = \
    293, 331, 401, 19, 391
PPM_EXE_UPPER_LAYER, PPM_EXE_LOWER_LAYER = 2, 8


def _in_thread(fn):
    """Run fn in a new thread (prctl name changes stay off the main thread); its tid."""
    out = {}

    def body():
        out["tid"] = threading.get_native_id()
        out["ret"] = fn()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out


# -- execve / execveat cwd --------------------------------------------------------------
def test_execve_cwd_is_the_process_working_directory(cap, tmp_path):
    work = tmp_path / "some dir" / "deeper"
    work.mkdir(parents=True)
    rec = cap.one(lambda: subprocess.run(["/bin/true", "cwd-mark"], cwd=work),
                  lambda r: r.type == PPME_EXECVE_X and i64(r, 0) == 0 and b"cwd-mark" in r.raw)
    assert text(rec, 6) == os.path.realpath(work)            # what getcwd() says in there


def test_execveat_cwd_and_the_root_directory(cap, tmp_path):
    """execveat(fd, "", AT_EMPTY_PATH) (glibc's fexecve goes through /proc/self/fd and
    execve, so the syscall is made directly); run from "/" the cwd is just "/".  On x86_64
    a successful execveat leaves the kernel as execve (orig_ax), so, as with libs' drivers
    there, its record is an execve one."""
    code = ("import ctypes, os; libc = ctypes.CDLL(None); fd = os.open('/bin/true', os.O_RDONLY); "
            "argv = (ctypes.c_char_p * 3)(b'true', b'execveat-mark', None); "
            "envp = (ctypes.c_char_p * 1)(None); "
            "libc.syscall(322, fd, b'', argv, envp, 0x1000)")
    rec = cap.one(lambda: subprocess.run([sys.executable, "-c", code], cwd="/"),
                  lambda r: r.type in (PPME_EXECVE_X, PPME_EXECVEAT_X) and i64(r, 0) == 0
                  and raw(r, 2) == b"execveat-mark\0")
    assert rec.type == PPME_EXECVE_X
    assert text(rec, 6) == "/"


def test_cwd_through_a_bind_mount_is_the_mount_path(cap, tmp_path):
    """The walk crosses mount points: a cwd inside a bind mount reads as the mount path,
    as /proc/PID/cwd shows it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "in").mkdir(parents=True)
    dst.mkdir()
    script = (f"mount --bind {src} {dst} && cd {dst}/in && "
              "readlink /proc/self/cwd && exec /bin/true bind-mark")
    procs = []
    rec = cap.one(lambda: procs.append(subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, check=True)),
        lambda r: r.type == PPME_EXECVE_X and i64(r, 0) == 0 and raw(r, 2) == b"bind-mark\0")
    assert text(rec, 6) == procs[0].stdout.strip() == f"{dst}/in"


# -- prctl ------------------------------------------------------------------------------
def test_prctl_set_name_event(cap):
    """PR_SET_NAME: option 15 and the new name, which is what the kernel then shows."""
    def set_name():
        libc.prctl(15, ctypes.cast(ctypes.c_char_p(b"pyf-renamed"), ctypes.c_void_p).value,
                   0, 0, 0)
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            return f.read().strip()

    out = {}
    rec = cap.one(lambda: out.update(_in_thread(set_name)),
                  lambda r: r.type == PPME_PRCTL_X and r.tid == out.get("tid", -1))
    assert rec.nparams == 4 and rec.name == "prctl"
    assert i64(rec, 0) == 0 and u32(rec, 1) == 15
    assert text(rec, 2) == out["ret"] == "pyf-renamed"
    assert rec.param_by_name("option") == 15 and rec.param_by_name("arg2_str") == "pyf-renamed"


def test_prctl_get_name_reads_the_answer(cap):
    buf = ctypes.create_string_buffer(16)
    rec = cap.one(lambda: libc.prctl(16, ctypes.addressof(buf), 0, 0, 0),
                  lambda r: r.type == PPME_PRCTL_X and r.tid == me() and u32(r, 1) == 16)
    assert text(rec, 2) == buf.value.decode()
    with open(f"/proc/self/task/{me()}/comm") as f:
        assert text(rec, 2) == f.read().strip()


def test_prctl_int_options_and_unknown_option(cap):
    val = ctypes.c_int(-1)
    rec = cap.one(lambda: libc.prctl(37, ctypes.addressof(val), 0, 0, 0),  # GET_CHILD_SUBREAPER
                  lambda r: r.type == PPME_PRCTL_X and r.tid == me() and u32(r, 1) == 37)
    assert raw(rec, 2) == b"" and i64(rec, 3) == val.value                # the value read back
    rec = cap.one(lambda: libc.prctl(4, 1, 0, 0, 0),                      # SET_DUMPABLE, 1
                  lambda r: r.type == PPME_PRCTL_X and r.tid == me() and u32(r, 1) == 4)
    assert i64(rec, 0) == 0 and raw(rec, 2) == b"" and i64(rec, 3) == 1
    # PR_SET_TIMERSLACK (29) is not in libs' prctl_options: option 0, arg2 kept
    rec = cap.one(lambda: libc.prctl(29, 50000, 0, 0, 0),
                  lambda r: r.type == PPME_PRCTL_X and r.tid == me() and i64(r, 3) == 50000)
    assert u32(rec, 1) == 0


# -- socket / umount2 in libs' encoding -------------------------------------------------
def test_socket_nonblock_flags_and_unknown_family(cap):
    fds = []
    rec = cap.one(lambda: fds.append(libc.syscall(41, socket.AF_UNIX,
                                                  socket.SOCK_STREAM | socket.SOCK_NONBLOCK, 0)),
                  lambda r: r.type == PPME_SOCKET_X and r.tid == me())
    assert i64(rec, 0) == fds[0] >= 0
    assert u32(rec, 1) == 1                                           # PPM_AF_UNIX
    assert u32(rec, 2) == socket.SOCK_STREAM | socket.SOCK_NONBLOCK   # type as passed
    assert u32(rec, 4) == 1 << 6                                      # PPM_O_NONBLOCK
    os.close(fds[0])
    # AF_VSOCK (40) is past libs' family table (AF_NFC = 39): PPM_AF_UNSPEC
    rec = cap.one(lambda: fds.append(libc.syscall(41, 40, socket.SOCK_STREAM, 0)),
                  lambda r: r.type == PPME_SOCKET_X and r.tid == me())
    if fds[-1] >= 0:
        os.close(fds[-1])
    assert u32(rec, 1) == 0 and u32(rec, 4) == 0


def test_umount2_flags_are_ppm_mnt_flags(cap, tmp_path):
    """MNT_DETACH | UMOUNT_NOFOLLOW (+ an undefined bit the kernel rejects): PPM_MNT_DETACH |
    PPM_MNT_NOFOLLOW, the undefined bit dropped."""
    d = str(tmp_path).encode()
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    rec = cap.one(lambda: libc.umount2(d, 2 | 8 | 0x100),
                  lambda r: r.type == PPME_UMOUNT2_X and r.tid == me() and d in r.raw)
    assert i64(rec, 0) < 0 and text(rec, 1) == d.decode()
    assert u32(rec, 2) == 2 | 8
    assert rec.param_by_name("flags") == 10


# -- execve flags: overlayfs layers -----------------------------------------------------
@pytest.fixture
def overlay(tmp_path):
    """An overlay mount: lower/lowtrue and upper/uptrue (copies of /bin/true)."""
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for d in (lower, upper, work, merged):
        d.mkdir()
    shutil.copy2(os.path.realpath("/bin/true"), lower / "lowtrue")
    shutil.copy2(os.path.realpath("/bin/true"), upper / "uptrue")
    res = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                          f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount overlayfs here: {res.stderr.strip()}")
    yield merged, upper
    subprocess.run(["umount", "-l", str(merged)], check=False)


def _exec_flags(cap, path, mark):
    rec = cap.one(lambda: subprocess.run([str(path), mark]),
                  lambda r: r.type == PPME_EXECVE_X and i64(r, 0) == 0 and mark.encode() in r.raw)
    return u32(rec, 19)


def test_execve_flags_overlay_lower_and_upper_layer(cap, overlay):
    merged, upper = overlay
    # the kernel's view: a file only in lowerdir, one in upperdir
    assert not (upper / "lowtrue").exists() and (upper / "uptrue").exists()
    low = _exec_flags(cap, merged / "lowtrue", "ovl-lower-mark")
    assert low & PPM_EXE_LOWER_LAYER and not low & PPM_EXE_UPPER_LAYER
    up = _exec_flags(cap, merged / "uptrue", "ovl-upper-mark")
    assert up & PPM_EXE_UPPER_LAYER and not up & PPM_EXE_LOWER_LAYER
    # a metadata change copies the lower file up: from then on it is an upper-layer file
    os.chmod(merged / "lowtrue", 0o755)
    assert (upper / "lowtrue").exists()
    copied = _exec_flags(cap, merged / "lowtrue", "ovl-copied-mark")
    assert copied & PPM_EXE_UPPER_LAYER and not copied & PPM_EXE_LOWER_LAYER


def test_execve_flags_no_layer_off_overlayfs(cap):
    flags = _exec_flags(cap, "/bin/true", "no-overlay-mark")
    assert not flags & (PPM_EXE_UPPER_LAYER | PPM_EXE_LOWER_LAYER)


def test_overlay_flags_reach_the_thread_state(cap, overlay):
    """Through sinsp: the exec's flags set proc.is_exe_upper_layer / _lower_layer."""
    from sinsp import Inspector
    from sinsp.fields import REGISTRY

    merged, _upper = overlay
    recs = cap.run(lambda: subprocess.run([str(merged / "uptrue"), "ovl-state-mark"]),
                   lambda r: r.type == PPME_EXECVE_X and b"ovl-state-mark" in r.raw)
    assert recs
    insp = Inspector(cap.src)
    evt = insp.process(recs[0])
    assert evt is not None and evt.thread is not None
    assert evt.thread.exe_upper_layer and not evt.thread.exe_lower_layer
    assert REGISTRY.extract(evt, "proc.is_exe_upper_layer") is True


# -- other flag params in libs' encoding ------------------------------------------------------
class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def test_openat2_resolve_is_ppm_resolve(cap, tmp_path):
    """Linux numbers RESOLVE_* NO_XDEV 1, NO_MAGICLINKS 2, NO_SYMLINKS 4, BENEATH 8, IN_ROOT 16;
    libs' PPM_RESOLVE_* are BENEATH 1, IN_ROOT 2, NO_MAGICLINKS 4, NO_SYMLINKS 8, NO_XDEV 16."""
    (tmp_path / "f").write_text("x")
    dirfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for linux, ppm in ((0x08, 1), (0x10, 2), (0x02, 4), (0x04, 8), (0x01, 16),
                           (0x08 | 0x01, 1 | 16)):
            how = _OpenHow(flags=os.O_RDONLY | os.O_CLOEXEC, resolve=linux)
            fds: list[int] = []
            rec = cap.one(lambda h=how, out=fds: out.append(libc.syscall(
                437, dirfd, b"f", ctypes.byref(h), ctypes.c_size_t(ctypes.sizeof(h)))),
                lambda r: r.type == 327 and r.tid == me())
            assert i64(rec, 0) == fds[0] >= 0
            assert u32(rec, 5) == ppm, (hex(linux), u32(rec, 5))
            os.close(fds[0])
    finally:
        os.close(dirfd)


def test_linkat_and_memfd_flags_keep_only_libs_bits(cap, tmp_path):
    (tmp_path / "a").write_text("x")
    libc.linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_int]
    rec = cap.one(lambda: libc.linkat(-100, str(tmp_path / "a").encode(), -100,
                                      str(tmp_path / "b").encode(), 0x400),   # AT_SYMLINK_FOLLOW
                  lambda r: r.type == 311 and r.tid == me())
    assert i64(rec, 0) == 0 and u32(rec, 5) == 0x400
    fds = []
    rec = cap.one(lambda: fds.append(libc.syscall(319, b"pyf-memfd", 1 | 2)),  # CLOEXEC|SEALING
                  lambda r: r.type == 405 and r.tid == me())
    assert i64(rec, 0) == fds[0] >= 0 and u32(rec, 2) == 3
    os.close(fds[0])

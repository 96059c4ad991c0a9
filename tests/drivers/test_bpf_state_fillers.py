"""Issue #6 follow-ups: the syscalls STATE_SYSCALLS enables have dedicated fillers (schema 3),
so sinsp builds the right fds and process state from them, checked live against what the
kernel returned to us; the I/O calls carry fd, size and data; an open whose path the probe
cannot read at exit still gets a name (the opened file's own path)."""
from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading

import pytest

import scap
from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raw, u8, u16, u32, u64

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

# current libs' exit event numbers
SOCKETPAIR_X, FCNTL_X, EVENTFD2_X, EPOLL_CREATE1_X, INOTIFY_INIT1_X = 43, 151, 397, 377, 395
TIMERFD_CREATE_X, SIGNALFD4_X, PIDFD_OPEN_X, USERFAULTFD_X, CLOSE_RANGE_X = 137, 399, 409, 321, 451
SETSID_X, SETPGID_X, CAPSET_X, WRITE_X, READ_X, SENDMSG_X, RECVMSG_X = 275, 295, 353, 9, 7, 49, 53
PWRITE_X, WRITEV_X, OPENAT_X, CLOSE_X, EXECVE_X = 115, 119, 307, 5, 293
PPM_O_NONBLOCK, PPM_O_CLOEXEC = 1 << 6, 1 << 12


def _inspect(src, recs):
    """Feed records to a fresh Inspector on the live source; the events it yields."""
    from sinsp import Inspector

    insp = Inspector(src)
    out = []
    for r in recs:
        evt = insp.process(r)
        if evt is not None:
            out.append(evt)
    return out


def _mine(types):
    tid = me()
    return lambda r: r.tid == tid and r.type in types


def _close_types(src, recs, fds):
    """fd number -> sinsp's fd type at its close (the state the creating event built)."""
    got = {}
    for evt in _inspect(src, recs):
        if evt.record.type == CLOSE_X and evt.record.tid == me() and evt.fdnum in fds:
            got[evt.fdnum] = evt.fd.type if evt.fd is not None else None
    return got


def test_fd_creating_syscalls_carry_their_fd_and_build_the_fd_type(cap, bpf_source):
    made = {}

    def action():
        made["eventfd2"] = os.eventfd(3, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        made["epoll_create1"] = libc.epoll_create1(0o2000000)
        made["inotify_init1"] = libc.inotify_init1(0o4000)
        made["timerfd_create"] = libc.timerfd_create(1, 0)
        mask = ctypes.c_uint64(1 << (10 - 1))                    # SIGUSR1
        made["signalfd4"] = libc.signalfd(-1, ctypes.byref(mask), 0o2000000)
        made["pidfd_open"] = libc.syscall(434, os.getpid(), 0)
        for fd in made.values():
            os.close(fd)

    types = {EVENTFD2_X, EPOLL_CREATE1_X, INOTIFY_INIT1_X, TIMERFD_CREATE_X, SIGNALFD4_X,
             PIDFD_OPEN_X, CLOSE_X}
    recs = cap.run(action, _mine(types), count=12)
    assert all(fd >= 0 for fd in made.values()), made
    by_type = {r.type: r for r in recs if r.type != CLOSE_X}
    assert i64(by_type[EVENTFD2_X], 0) == made["eventfd2"]
    assert u16(by_type[EVENTFD2_X], 1) == PPM_O_NONBLOCK | PPM_O_CLOEXEC
    assert u64(by_type[EVENTFD2_X], 2) == 3                                 # initval
    assert i64(by_type[EPOLL_CREATE1_X], 0) == made["epoll_create1"]
    assert u32(by_type[EPOLL_CREATE1_X], 1) == 1                            # EPOLL_CLOEXEC
    assert i64(by_type[INOTIFY_INIT1_X], 0) == made["inotify_init1"]
    assert u16(by_type[INOTIFY_INIT1_X], 1) == PPM_O_NONBLOCK
    assert i64(by_type[TIMERFD_CREATE_X], 0) == made["timerfd_create"]
    assert u8(by_type[TIMERFD_CREATE_X], 1) == 1                            # CLOCK_MONOTONIC
    assert i64(by_type[SIGNALFD4_X], 0) == made["signalfd4"]
    assert u16(by_type[SIGNALFD4_X], 1) == PPM_O_CLOEXEC
    assert i64(by_type[SIGNALFD4_X], 2) == -1
    assert u32(by_type[SIGNALFD4_X], 3) == 1 << 9
    assert i64(by_type[PIDFD_OPEN_X], 0) == made["pidfd_open"]
    assert i64(by_type[PIDFD_OPEN_X], 1) == os.getpid()
    ft = scap.FdType
    assert _close_types(bpf_source, recs, set(made.values())) == {
        made["eventfd2"]: ft.EVENT, made["epoll_create1"]: ft.EVENTPOLL,
        made["inotify_init1"]: ft.INOTIFY, made["timerfd_create"]: ft.TIMERFD,
        made["signalfd4"]: ft.SIGNALFD, made["pidfd_open"]: ft.PIDFD}


def test_socketpair_and_fcntl_dupfd(cap, bpf_source, tmp_path):
    out = {}
    path = tmp_path / "dup-target"

    def action():
        a, b = socket.socketpair()
        out["pair"] = (a.fileno(), b.fileno())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        out["file"] = fd
        out["dup"] = libc.fcntl(fd, 1030, 200)                  # F_DUPFD_CLOEXEC, >= 200
        os.write(out["dup"], b"via the dup")
        os.close(out["dup"])
        os.close(fd)
        a.close()
        b.close()

    recs = cap.run(action, _mine({SOCKETPAIR_X, FCNTL_X, WRITE_X, CLOSE_X, OPENAT_X}), count=8)
    pair = next(r for r in recs if r.type == SOCKETPAIR_X)
    assert i64(pair, 0) == 0
    assert (i64(pair, 1), i64(pair, 2)) == out["pair"]
    assert u64(pair, 3) != 0 and u64(pair, 4) != 0 and u64(pair, 3) != u64(pair, 4)
    assert u32(pair, 5) == socket.AF_UNIX
    fc = next(r for r in recs if r.type == FCNTL_X)
    assert (i64(fc, 0), i64(fc, 1), u8(fc, 2), u64(fc, 3)) == (out["dup"], out["file"], 26, 200)
    evts = _inspect(bpf_source, recs)
    write = next(e for e in evts if e.record.type == WRITE_X and e.fdnum == out["dup"])
    assert write.fd is not None and write.fd.name == str(path)        # the dup names the file
    closes = {e.fdnum: e.fd for e in evts if e.record.type == CLOSE_X}
    assert all(closes[fd] is not None and closes[fd].type == scap.FdType.UNIX_SOCK
               for fd in out["pair"])


def test_setsid_gives_the_new_session(cap, bpf_source):
    """`setsid sh -c 'cat /proc/self/stat'`: sinsp's proc.sid of cat is the sid the kernel
    reports in cat's own /proc/self/stat (field 6)."""
    out = {}

    def action():
        out["stat"] = subprocess.run(["setsid", "sh", "-c", "exec cat /proc/self/stat"],
                                     capture_output=True, text=True, check=True).stdout

    def match(r):
        return r.type in (SETSID_X, EXECVE_X) or r.type in (223, 225, 227, 335)

    recs = cap.run(action, match, count=10**6, timeout=1.5)
    fields = out["stat"].rsplit(")", 1)[1].split()
    pid, sid = int(out["stat"].split()[0]), int(fields[3])
    assert sid == pid                                # setsid made cat's shell the leader
    assert any(r.type == SETSID_X and i64(r, 0) == sid for r in recs)
    cat = [e for e in _inspect(bpf_source, recs)
           if e.record.type == EXECVE_X and e.record.tid == pid and e.thread is not None
           and e.thread.comm == "cat"]
    assert cat and cat[-1].thread.sid == sid


def test_setpgid_and_capset_and_close_range(cap, bpf_source):
    class Hdr(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    out = {}

    def body():
        out["tid"] = me()
        hdr, data = Hdr(0x20080522, 0), (Data * 2)()
        assert libc.syscall(125, ctypes.byref(hdr), data) == 0         # capget
        data[0].effective &= ~(1 << 13)                               # drop CAP_NET_RAW
        out["capset"] = libc.syscall(126, ctypes.byref(hdr), data)   # (this thread only)
        out["eff"] = data[0].effective | data[1].effective << 32
        fd = os.open("/dev/null", os.O_RDONLY)
        out["fd"] = fd
        out["close_range"] = libc.syscall(436, fd, fd, 0)
        out["setpgid"] = libc.syscall(109, 0, os.getpgid(0))            # no change, succeeds

    def action():
        t = threading.Thread(target=body)
        t.start()
        t.join()

    recs = cap.run(action, lambda r: r.type in (CAPSET_X, CLOSE_RANGE_X, SETPGID_X, OPENAT_X),
                   count=10**6, timeout=1.0)
    recs = [r for r in recs if r.tid == out["tid"]]
    cs = next(r for r in recs if r.type == CAPSET_X)
    assert i64(cs, 0) == out["capset"] == 0
    assert u64(cs, 3) == out["eff"]
    cr = next(r for r in recs if r.type == CLOSE_RANGE_X)
    assert (i64(cr, 0), u32(cr, 1), u32(cr, 2), u32(cr, 3)) == (0, out["fd"], out["fd"], 0)
    sp = next(r for r in recs if r.type == SETPGID_X)
    assert (i64(sp, 0), i64(sp, 1), i64(sp, 2)) == (0, 0, os.getpgid(0))
    evts = _inspect(bpf_source, recs)
    capset = next(e for e in evts if e.record.type == CAPSET_X)
    assert capset.thread.cap_effective == out["eff"]                     # sinsp took the sets
    assert not capset.thread.cap_effective & (1 << 13)
    # close_range removed the fd its openat made
    table = next(e for e in evts if e.record.type == CLOSE_RANGE_X).thread.fd_table()
    assert table is None or table.get(out["fd"]) is None


def test_io_calls_carry_fd_size_and_data(cap, tmp_path):
    out = {}
    path = tmp_path / "io"

    def action():
        a, b = socket.socketpair()
        out["a"], out["b"] = a.fileno(), b.fileno()
        a.sendmsg([b"first-iov", b"second"])
        b.recvmsg(64)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        out["f"] = fd
        os.pwrite(fd, b"pwrite-data", 5)
        os.writev(fd, [b"v1-data", b"v2"])
        os.close(fd)
        a.close()
        b.close()

    recs = cap.run(action, _mine({SENDMSG_X, RECVMSG_X, PWRITE_X, WRITEV_X}), count=4)
    by = {r.type: r for r in recs}
    s = by[SENDMSG_X]
    assert (i64(s, 0), raw(s, 1), i64(s, 2), u32(s, 3)) == (15, b"first-iov", out["a"], 15)
    assert raw(s, 4)[0] == socket.AF_UNIX                                  # the tuple
    rv = by[RECVMSG_X]
    assert (i64(rv, 0), u32(rv, 1), raw(rv, 2), i64(rv, 5)) == (15, 64, b"first-iovsecond",
                                                                 out["b"])
    pw = by[PWRITE_X]
    assert (i64(pw, 0), raw(pw, 1), i64(pw, 2), u32(pw, 3), u64(pw, 4)) == \
        (11, b"pwrite-data", out["f"], 11, 5)
    wv = by[WRITEV_X]
    assert (i64(wv, 0), raw(wv, 1), i64(wv, 2), u32(wv, 3)) == (9, b"v1-data", out["f"], 9)


def test_userfaultfd_record(cap):
    out = {}

    def action():
        out["fd"] = libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK)
        out["errno"] = ctypes.get_errno()
        if out["fd"] >= 0:
            os.close(out["fd"])

    rec = cap.one(action, _mine({USERFAULTFD_X}))
    want = out["fd"] if out["fd"] >= 0 else -out["errno"]
    assert i64(rec, 0) == want
    assert u32(rec, 1) == PPM_O_NONBLOCK | PPM_O_CLOEXEC


def test_open_whose_path_is_unmapped_at_exit_is_named_from_the_fd(cap, bpf_source, tmp_path):
    """The path's page is gone when openat returns (another thread unmapped it while the
    open blocked on a FIFO): the user read fails, the name comes from the opened file."""
    fifo = tmp_path / "blocking-fifo"
    os.mkfifo(fifo)
    out = {}

    def action():
        page = libc.mmap(None, 4096, 3, 0x22, -1, 0)                # RW, PRIVATE|ANONYMOUS
        ctypes.memmove(page, str(fifo).encode() + b"\0", len(str(fifo)) + 1)

        def opener():
            out["tid"] = me()
            out["fd"] = libc.syscall(257, -100, ctypes.c_void_p(page), os.O_RDONLY, 0)

        t = threading.Thread(target=opener)
        t.start()
        import time
        time.sleep(0.3)                                              # blocked in open(FIFO)
        assert libc.munmap(page, 4096) == 0
        w = os.open(fifo, os.O_WRONLY)
        t.join()
        os.close(w)
        os.close(out["fd"])

    recs = cap.run(action, lambda r: r.type == OPENAT_X and r.tid == out.get("tid"))
    assert recs, "no openat record of the opener thread"
    rec = recs[0]
    assert i64(rec, 0) == out["fd"] >= 0
    assert raw(rec, 2).rstrip(b"\0") == str(fifo).encode()
    evt = _inspect(bpf_source, recs)[0]
    assert evt.fd is not None and evt.fd.name == str(fifo)


def test_unconnected_udp_datagrams_carry_the_address_they_went_to_and_came_from(cap):
    """sendmsg/sendto on an unconnected UDP socket: the tuple's remote end is the datagram's
    address (msg_name / dest_addr), recvmsg/recvfrom's the sender's (as libs; the `outbound`
    macro reads it)."""
    import struct

    out = {}

    def action():
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind(("127.0.0.1", 0))
        out["rx"], out["tx"] = rx.getsockname()[1], tx.getsockname()[1]
        out["fds"] = (tx.fileno(), rx.fileno())
        tx.sendmsg([b"one"], [], 0, ("127.0.0.1", out["rx"]))
        rx.recvmsg(16)
        tx.sendto(b"two", ("127.0.0.1", out["rx"]))
        rx.recvfrom(16)
        tx.close()
        rx.close()

    recs = cap.run(action, _mine({SENDMSG_X, RECVMSG_X, 31, 35}), count=4)
    by = {r.type: r for r in recs}
    lo = bytes([127, 0, 0, 1])

    def tup(b):
        fam, sip, sport, dip, dport = struct.unpack("<B4sH4sH", b[:13])
        return fam, sip, sport, dip, dport

    want_out = (socket.AF_INET, lo, out["tx"], lo, out["rx"])
    want_in = (socket.AF_INET, lo, out["tx"], lo, out["rx"])         # source: the sender
    assert tup(raw(by[SENDMSG_X], 4)) == want_out
    assert tup(raw(by[31], 4)) == want_out                               # sendto
    assert tup(raw(by[RECVMSG_X], 3)) == want_in
    assert tup(raw(by[35], 2)) == want_in                                # recvfrom


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_Iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint32)]


def test_sendmmsg_and_recvmmsg_give_one_record_per_message(cap):
    """As libs: one exit record per message moved, res = that message's length, its data
    and tuple; the receiver's tuple names the sender."""
    import struct

    out = {}
    payloads = [b"mmsg-one", b"mmsg-second", b"mmsg-3"]

    def action():
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.connect(rx.getsockname())
        out["tx"], out["rx"] = tx.getsockname()[1], rx.getsockname()[1]
        out["fds"] = (tx.fileno(), rx.fileno())
        bufs = [ctypes.create_string_buffer(p, len(p)) for p in payloads]
        iovs = [_Iovec(ctypes.cast(b, ctypes.c_void_p), len(p))
                for b, p in zip(bufs, payloads, strict=True)]
        vec = (_Mmsghdr * 3)()
        for i, iov in enumerate(iovs):
            vec[i].hdr.iov = ctypes.pointer(iov)
            vec[i].hdr.iovlen = 1
        out["sent"] = libc.syscall(307, tx.fileno(), vec, 3, 0)
        rbufs = [ctypes.create_string_buffer(32) for _ in range(3)]
        riovs = [_Iovec(ctypes.cast(b, ctypes.c_void_p), 32) for b in rbufs]
        names = [ctypes.create_string_buffer(16) for _ in range(3)]
        rvec = (_Mmsghdr * 3)()
        for i, iov in enumerate(riovs):
            rvec[i].hdr.iov = ctypes.pointer(iov)
            rvec[i].hdr.iovlen = 1
            rvec[i].hdr.name = ctypes.cast(names[i], ctypes.c_void_p)
            rvec[i].hdr.namelen = 16
        out["got"] = libc.syscall(299, rx.fileno(), rvec, 3, 0, None)
        tx.close()
        rx.close()

    recs = cap.run(action, _mine({51, 55}), count=6)
    assert out["sent"] == 3 and out["got"] == 3
    sends = [r for r in recs if r.type == 51]
    recvs = [r for r in recs if r.type == 55]
    lo = bytes([127, 0, 0, 1])
    assert [(i64(r, 0), i64(r, 1), u32(r, 2), raw(r, 3)) for r in sends] == \
        [(len(p), out["fds"][0], len(p), p) for p in payloads]
    assert all(struct.unpack("<B4sH4sH", raw(r, 4)[:13]) ==
               (socket.AF_INET, lo, out["tx"], lo, out["rx"]) for r in sends)
    assert [(i64(r, 0), i64(r, 1), u32(r, 2), raw(r, 3)) for r in recvs] == \
        [(len(p), out["fds"][1], 32, p) for p in payloads]
    assert all(struct.unpack("<B4sH4sH", raw(r, 4)[:13]) ==
               (socket.AF_INET, lo, out["tx"], lo, out["rx"]) for r in recvs)


class _IoUringParams(ctypes.Structure):
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                ("offsets", ctypes.c_uint8 * 80)]


def test_older_fd_syscalls_pidfd_getfd_and_io_uring_setup(cap, bpf_source):
    """The flagless first versions (eventfd, signalfd, inotify_init, epoll_create),
    pidfd_getfd and io_uring_setup (params as the kernel filled them, IORING_SETUP_CQSIZE as
    libs' bit 16); the new fds typed by sinsp at their close."""
    made, out = {}, {}

    def action():
        mask = ctypes.c_uint64(1 << (12 - 1))                          # SIGUSR2
        made["eventfd"] = libc.syscall(284, 7)
        made["signalfd"] = libc.syscall(282, -1, ctypes.byref(mask), 8)
        made["inotify_init"] = libc.syscall(253)
        made["epoll_create"] = libc.syscall(213, 5)
        pidfd = libc.syscall(434, os.getpid(), 0)
        made["pidfd_getfd"] = libc.syscall(438, pidfd, made["eventfd"], 0)
        p = _IoUringParams(flags=0x8, cq_entries=16)                    # IORING_SETUP_CQSIZE
        fd = libc.syscall(425, 4, ctypes.byref(p))
        out["uring"], out["uring_errno"], out["params"] = fd, ctypes.get_errno(), p
        for fd in (*made.values(), pidfd):
            os.close(fd)
        if out["uring"] >= 0:
            os.close(out["uring"])

    types = {63, 127, 139, 375, PIDFD_OPEN_X, 407, 339, CLOSE_X}
    recs = cap.run(action, _mine(types), count=15)
    assert all(fd >= 0 for fd in made.values()), made
    by = {r.type: r for r in recs if r.type not in (CLOSE_X, PIDFD_OPEN_X)}
    assert (i64(by[63], 0), u64(by[63], 1), u32(by[63], 2)) == (made["eventfd"], 7, 0)
    assert (i64(by[127], 0), i64(by[127], 1), u32(by[127], 2)) == (made["signalfd"], -1,
                                                                   1 << 11)
    assert i64(by[139], 0) == made["inotify_init"]
    assert (i64(by[375], 0), u32(by[375], 1)) == (made["epoll_create"], 5)
    assert i64(by[407], 0) == made["pidfd_getfd"] and i64(by[407], 2) == made["eventfd"]
    ur = by[339]
    if out["uring"] < 0:                                   # io_uring disabled here: the error
        assert i64(ur, 0) == -out["uring_errno"]
    else:
        p = out["params"]
        assert (i64(ur, 0), u32(ur, 1), u32(ur, 2), u32(ur, 3), u32(ur, 4), u32(ur, 7)) == \
            (out["uring"], 4, p.sq_entries, p.cq_entries, 16, p.features & 0x7FF)
    ft = scap.FdType
    # pidfd_getfd's fd copies the target's entry (libs): an eventfd
    want = {made["eventfd"]: ft.EVENT, made["signalfd"]: ft.SIGNALFD,
            made["inotify_init"]: ft.INOTIFY, made["epoll_create"]: ft.EVENTPOLL,
            made["pidfd_getfd"]: ft.EVENT}
    if out["uring"] >= 0:
        want[out["uring"]] = ft.IOURING
    got = _close_types(bpf_source, recs, set(want))
    assert got == want

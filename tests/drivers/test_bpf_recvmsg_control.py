"""recvmsg's exit carries the ancillary data the call received (``msgcontrol``), as libs' modern
probe sends it: the bytes of the control buffer up to the msg_controllen the kernel set, empty
when nothing arrived or no control buffer was given. Checked live against what the kernel
handed to this process (the cmsghdr bytes Python's recvmsg returns)."""
from __future__ import annotations

import os
import socket
import struct

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, me, raw

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

RECVMSG_X = 53
MSGCONTROL = 4  # res, size, data, tuple, msgcontrol, fd
SCM_MAX_FD = 253  # the kernel's limit of fds in one SCM_RIGHTS message


def _cmsgs(body: bytes) -> list[tuple[int, int, bytes]]:
    """The control messages in a control buffer (x86_64 cmsghdr: u64 length, i32 level,
    i32 type, then the data; the next header at the length rounded up to 8, as libs'
    PPM_CMSG_NXTHDR walks it). Padding bytes are not compared: the kernel does not write
    them, so they hold whatever the receiver's buffer held."""
    out, off = [], 0
    while off + 16 <= len(body):
        length, level, kind = struct.unpack_from("<QiI", body, off)
        assert 16 <= length <= len(body) - off, (off, length, len(body))
        out.append((level, kind, body[off + 16:off + length]))
        off += (length + 7) & ~7
    assert off >= len(body)
    return out


def _recv(cap, sender, receiver, fds, *, control: int, creds: bool = False):
    """Send one byte carrying `fds` from `sender`, receive it on `receiver` with a control
    buffer of `control` bytes; (what recvmsg returned, the probe's record)."""
    out = {}

    def action():
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] \
            if fds else []
        sender.sendmsg([b"x"], anc)
        out["got"] = receiver.recvmsg(16, control) if control else receiver.recvmsg(16)

    tid = me()
    recs = cap.run(action, lambda r: r.tid == tid and r.type == RECVMSG_X
                   and i64(r, 5) == receiver.fileno())
    assert recs, "no recvmsg record captured"
    return out["got"], recs[0]


@pytest.fixture
def pair():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    yield a, b
    a.close()
    b.close()


def _close_received(anc) -> list[int]:
    got = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(data) // 4
            got += list(struct.unpack(f"{n}i", data[:4 * n]))
    for fd in got:
        os.close(fd)
    return got


def test_scm_rights_fds_arrive_in_msgcontrol(cap, pair, tmp_path):
    a, b = pair
    f = os.open(tmp_path / "passed", os.O_RDWR | os.O_CREAT, 0o600)
    r, w = os.pipe()
    try:
        (data, anc, _flags, _addr), rec = _recv(cap, a, b, [f, r, w],
                                                control=socket.CMSG_SPACE(3 * 4))
    finally:
        for fd in (f, r, w):
            os.close(fd)
    received = _close_received(anc)
    assert data == b"x" and i64(rec, 0) == 1 and len(received) == 3
    body = raw(rec, MSGCONTROL)
    # msg_controllen as the kernel set it: the message and its padding
    assert len(body) == socket.CMSG_SPACE(3 * 4)
    assert _cmsgs(body) == anc
    length, level, kind = struct.unpack_from("<QiI", body)
    assert (length, level, kind) == (16 + 12, socket.SOL_SOCKET, socket.SCM_RIGHTS)
    # the new fd numbers in this process, as the kernel wrote them
    assert list(struct.unpack_from("3i", body, 16)) == received


def test_a_full_scm_rights_message_is_not_cut(cap, pair):
    """SCM_MAX_FD fds: a 1028-byte control message (1032 with its padding), below the
    probe's cap."""
    a, b = pair
    base = os.open("/dev/null", os.O_RDONLY)
    fds = [os.dup(base) for _ in range(SCM_MAX_FD)]
    try:
        (_data, anc, _flags, _addr), rec = _recv(cap, a, b, fds,
                                                 control=socket.CMSG_SPACE(SCM_MAX_FD * 4))
    finally:
        for fd in (base, *fds):
            os.close(fd)
    received = _close_received(anc)
    assert len(received) == SCM_MAX_FD
    body = raw(rec, MSGCONTROL)
    assert len(body) == socket.CMSG_SPACE(4 * SCM_MAX_FD) and _cmsgs(body) == anc


def test_credentials_next_to_rights(cap, pair):
    """Two control messages (SO_PASSCRED adds SCM_CREDENTIALS): both, with the padding
    between them, as the kernel laid them out."""
    a, b = pair
    b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    f = os.open("/dev/null", os.O_RDONLY)
    try:
        (_data, anc, _flags, _addr), rec = _recv(
            cap, a, b, [f], control=socket.CMSG_SPACE(4) + socket.CMSG_SPACE(12))
    finally:
        os.close(f)
    _close_received(anc)
    assert {kind for _, kind, _ in anc} == {socket.SCM_RIGHTS, socket.SCM_CREDENTIALS}
    body = raw(rec, MSGCONTROL)
    assert len(body) == socket.CMSG_SPACE(4) + socket.CMSG_SPACE(12)
    msgs = _cmsgs(body)
    assert msgs == anc
    creds = next(d for _, kind, d in msgs if kind == socket.SCM_CREDENTIALS)
    assert struct.unpack("<iII", creds) == (os.getpid(), os.getuid(), os.getgid())


@pytest.mark.parametrize("control", [0, 64])
def test_no_ancillary_data_gives_an_empty_param(cap, pair, control):
    """No control buffer (msg_control NULL), or one the kernel left unused
    (msg_controllen set to 0): the param is empty."""
    a, b = pair
    (data, anc, _flags, _addr), rec = _recv(cap, a, b, [], control=control)
    assert data == b"x" and anc == []
    assert i64(rec, 0) == 1 and raw(rec, MSGCONTROL) == b""

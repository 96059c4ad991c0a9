"""Metadata block bodies: every version the format doc lists, assembled here field by field
from the doc's tables (§5-§8), decoded by scap.savefile.blocks, and the writer's encoders read
back."""
from __future__ import annotations

import dataclasses
import struct

import pytest

import scap
from scap.metadata import FdEntry, FdType, GroupInfo, InterfaceInfo, MachineInfo, ProcInfo, UserInfo
from scap.savefile import blocks as sb


def s16(b: bytes | str) -> bytes:
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<H", len(b)) + b


PROC = ProcInfo(tid=42, pid=40, ptid=1, sid=7, vpgid=8, comm="nginx", exe="/usr/sbin/nginx",
                exepath="/usr/sbin/nginx", args=["-g", "daemon off;"], cwd="/srv", fdlimit=1024,
                flags=0x10, uid=33, gid=34, vmsize_kb=1000, vmrss_kb=200, vmswap_kb=3,
                pfmajor=11, pfminor=12, env=["PATH=/bin", "HOME=/"], vtid=2, vpid=1,
                cgroups=["cpuset=/docker/0123456789abcdef", "memory=/docker/0123"], root="/",
                loginuid=1000, exe_writable=True, cap_inheritable=1, cap_permitted=2,
                cap_effective=3)


def pl_entry(v: int, p: ProcInfo, trailer: bytes = b"") -> bytes:
    """One process-list entry of version v, in the order of the doc's §8.1 table."""
    e = struct.pack("<qqq", p.tid, p.pid, p.ptid)
    if v >= 6:
        e += struct.pack("<q", p.sid)
    if v >= 8:
        e += struct.pack("<q", p.vpgid)
    e += s16(p.comm) + s16(p.exe)
    if v >= 7:
        e += s16(p.exepath)
    e += s16(b"".join(a.encode() + b"\0" for a in p.args)) + s16(p.cwd)
    e += struct.pack("<qIII", p.fdlimit, p.flags, p.uid, p.gid)
    if v >= 2:
        e += struct.pack("<IIIQQ", p.vmsize_kb, p.vmrss_kb, p.vmswap_kb, p.pfmajor, p.pfminor)
    if v >= 3:
        e += s16(b"".join(x.encode() + b"\0" for x in p.env))
    if v >= 4:
        e += struct.pack("<qq", p.vtid, p.vpid) + s16(b"".join(x.encode() + b"\0"
                                                           for x in p.cgroups))
    if v >= 5:
        e += s16(p.root)
    if v >= 9:
        e += trailer
        e = struct.pack("<I", len(e) + 4) + e
    return e


@pytest.mark.parametrize("version", range(1, 10))
def test_proclist_every_version(version: int) -> None:
    body = pl_entry(version, PROC) * 2 + b"\0\0"  # two entries, then padding
    got = sb.decode_proclist(body, 0, version)
    assert len(got) == 2 and got[0] == got[1]
    p = got[0]
    assert (p.tid, p.pid, p.ptid, p.comm, p.exe, p.args, p.cwd, p.fdlimit, p.flags, p.uid,
            p.gid) == (42, 40, 1, "nginx", "/usr/sbin/nginx", ["-g", "daemon off;"], "/srv",
                       1024, 0x10, 33, 34)
    assert p.sid == (7 if version >= 6 else -1)
    assert p.vpgid == (8 if version >= 8 else -1)
    assert p.exepath == ("/usr/sbin/nginx" if version >= 7 else "")
    assert (p.vmsize_kb, p.pfminor) == ((1000, 12) if version >= 2 else (0, 0))
    assert p.env == (PROC.env if version >= 3 else [])
    assert (p.vtid, p.vpid, p.cgroups) == ((2, 1, PROC.cgroups) if version >= 4 else (-1, -1, []))
    assert p.root == ("/" if version >= 5 else "")
    assert p.loginuid == 0xFFFFFFFF  # no trailer written


def test_proclist_v9_trailing_layouts() -> None:
    pre = struct.pack("<IBQQQ", 1000, 1, 1, 2, 3)
    p = sb.decode_proclist(pl_entry(9, PROC, pre), 0, 9)[0]
    assert (p.loginuid, p.exe_writable, p.cap_inheritable, p.cap_permitted,
            p.cap_effective) == (1000, True, 1, 2, 3)
    p = sb.decode_proclist(pl_entry(9, PROC, struct.pack("<I", 77)), 0, 9)[0]  # real files: 4
    assert (p.loginuid, p.exe_writable) == (77, False)
    cur = struct.pack("<QIIBQQQBQQQBBq", 123456789, 34816, 1000, 1, 4, 5, 6, 1, 99, 7, 8, 0, 1,
                      555)
    assert len(cur) == 76
    p = sb.decode_proclist(pl_entry(9, PROC, cur), 0, 9)[0]
    assert (p.pidns_init_start_ts, p.tty, p.loginuid, p.exe_writable, p.cap_inheritable,
            p.cap_permitted, p.cap_effective, p.exe_upper_layer, p.exe_ino, p.exe_ino_ctime,
            p.exe_ino_mtime, p.exe_from_memfd, p.exe_lower_layer, p.pgid) == \
        (123456789, 34816, 1000, True, 4, 5, 6, True, 99, 7, 8, False, True, 555)
    # a longer-than-known entry: the extra bytes are skipped via entrylen
    p2 = sb.decode_proclist(pl_entry(9, PROC, cur + b"future!!"), 0, 9)[0]
    assert p2 == p


def test_proclist_writer_round_trip_and_limits() -> None:
    body = sb.encode_proclist([PROC, PROC])[8:-4]
    assert sb.decode_proclist(body, 0, 9) == [PROC, PROC]
    bad = pl_entry(5, ProcInfo(1, 1, 0, comm="x" * 1025, exe=""))
    with pytest.raises(scap.FormatError, match="comm length"):
        sb.decode_proclist(bad, 100, 5)


FDS = [
    FdEntry(0, 11, FdType.FILE, name="/dev/null"),
    FdEntry(1, 12, FdType.DIRECTORY, name="/tmp"),
    FdEntry(3, 13, FdType.IPV4_SOCK, sip="10.0.0.1", sport=4000, dip="1.2.3.4", dport=80,
            l4proto=2),
    FdEntry(4, 14, FdType.IPV6_SOCK, sip="::1", sport=4001, dip="2001:db8::1", dport=443,
            l4proto=2),
    FdEntry(5, 15, FdType.IPV4_SERVSOCK, sip="0.0.0.0", sport=8080, l4proto=2),
    FdEntry(6, 16, FdType.IPV6_SERVSOCK, sip="::", sport=8443, l4proto=3),
    FdEntry(7, 17, FdType.FIFO, name="pipe:[1]"),
    FdEntry(8, 18, FdType.UNIX_SOCK, name="/run/x.sock", source=0xFFFF8880DEAD, dest=0xBEEF),
    *(FdEntry(9 + i, 19 + i, t, name=f"anon_inode:{t.name}")
      for i, t in enumerate([FdType.EVENT, FdType.UNSUPPORTED, FdType.SIGNALFD,
                             FdType.EVENTPOLL, FdType.INOTIFY, FdType.TIMERFD,
                             FdType.NETLINK])),
    FdEntry(20, 30, FdType.FILE_V2, name="/var/log/x", open_flags=0x42, dev=0x803),
    FdEntry(21, 31, FdType.FILE_V2, name="/var/log/y", open_flags=1, dev=None),
]


def test_fdlist_v2_all_types_round_trip() -> None:
    body = sb.encode_fdlist(42, FDS)[8:-4]
    tid, got = sb.decode_fdlist(body, 0, True)
    assert tid == 42 and got == FDS


def test_fdlist_newer_types_written_as_unsupported() -> None:
    newer = [FdEntry(3, 1, t, name=f"x{t}") for t in (17, 18, 19, 20, 21)]
    _, got = sb.decode_fdlist(sb.encode_fdlist(1, newer)[8:-4], 0, True)
    assert [f.type for f in got] == [FdType.UNSUPPORTED] * 5
    assert [f.name for f in got] == [f.name for f in newer]
    # but a file that has them (current libs) reads them as what they are
    raw = struct.pack("<q", 1) + b"".join(
        struct.pack("<IqQB", 4 + 17 + 2 + len(f.name), f.fd, f.ino, f.type) + s16(f.name)
        for f in newer)
    assert sb.decode_fdlist(raw, 0, True)[1] == newer


def test_fdlist_v1_and_bad_type() -> None:
    raw = struct.pack("<q", 9) + struct.pack("<qQB", 3, 5, 3) + \
        bytes([127, 0, 0, 1, 10, 0, 0, 2]) + struct.pack("<HHB", 1, 2, 3) + \
        struct.pack("<qQB", 4, 6, 16) + struct.pack("<I", 2) + s16("/f") + b"\0\0"
    tid, got = sb.decode_fdlist(raw, 0, False)
    assert tid == 9
    assert got == [FdEntry(3, 5, 3, sip="127.0.0.1", dip="10.0.0.2", sport=1, dport=2,
                           l4proto=3),
                   FdEntry(4, 6, 16, name="/f", open_flags=2, dev=None)]
    with pytest.raises(scap.FormatError, match="wrong fd type 99"):
        sb.decode_fdlist(struct.pack("<qqQB", 1, 1, 1, 99) + b"\0" * 8, 0, False)


def test_interfaces_v1_all_types_and_v2() -> None:
    v4 = bytes([10, 0, 0, 5]) + bytes([255, 0, 0, 0]) + bytes([10, 255, 255, 255])
    v6 = bytes(15) + b"\1" + b"\xff" * 16 + bytes(16)
    body = (struct.pack("<HH", 1, 4) + v4 + struct.pack("<Q", 1000) + b"eth0"
            + struct.pack("<HH", 2, 2) + v6 + struct.pack("<Q", 10) + b"lo"
            + struct.pack("<HH", 3, 3) + v4 + b"br0"
            + struct.pack("<HH", 4, 3) + v6 + b"br1" + b"\0\0")
    got = sb.decode_interfaces(body, 0, False)
    assert got == [InterfaceInfo(1, "eth0", "10.0.0.5", "255.0.0.0", "10.255.255.255", 1000),
                   InterfaceInfo(2, "lo", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                 "::", 10),
                   InterfaceInfo(3, "br0", "10.0.0.5", "255.0.0.0", "10.255.255.255", None),
                   InterfaceInfo(4, "br1", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                 "::", None)]
    # v2: entrylen excludes itself; unknown trailing fields are skipped
    ent = struct.pack("<HH", 1, 4) + v4 + struct.pack("<Q", 1000) + b"eth0" + b"new!"
    v2 = struct.pack("<I", len(ent)) + ent
    assert sb.decode_interfaces(v2, 0, True) == got[:1]
    wrote = sb.encode_interfaces(got[:2])[8:-4]
    assert sb.decode_interfaces(wrote, 0, True) == got[:2]
    with pytest.raises(scap.FormatError, match="unknown interface type 9"):
        sb.decode_interfaces(struct.pack("<HH", 9, 0) + bytes(24), 0, False)


def test_users_v1_v2() -> None:
    users = [UserInfo(0, 0, "root", "/root", "/bin/bash"), UserInfo(33, 33, "www", "/var", "")]
    groups = [GroupInfo(0, "root"), GroupInfo(999, "docker")]
    v1 = b"".join(b"\0" + struct.pack("<II", u.uid, u.gid) + s16(u.name) + s16(u.homedir)
                  + s16(u.shell) for u in users)
    v1 += b"".join(b"\1" + struct.pack("<I", g.gid) + s16(g.name) for g in groups)
    assert sb.decode_users(v1 + b"\0", 0, False) == (users, groups)
    assert sb.decode_users(sb.encode_users(users, groups)[8:-4], 0, True) == (users, groups)


def test_machine_info_and_shb() -> None:
    m = MachineInfo(8, 1 << 34, 4194304, "box", boot_ts_epoch=1_700_000_000_000_000_000)
    blk = sb.encode_machine_info(m)
    assert len(blk) == 192
    assert sb.decode_machine_info(blk[8:-4], 0) == m
    shb = sb.encode_shb()
    assert len(shb) == 28
    h = sb.decode_shb(shb[8:-4], 8, 0)
    assert (h.major, h.minor, h.section_length) == (1, 2, 2**64 - 1)
    with pytest.raises(scap.FormatError, match="magic"):
        sb.decode_shb(struct.pack(">IHHQ", 0x1A2B3C4D, 1, 2, 0), 8, 0)
    with pytest.raises(scap.FormatError, match="version 2"):
        sb.decode_shb(struct.pack("<IHHQ", 0x1A2B3C4D, 2, 0, 0), 8, 0)


def test_header_round_trip_through_a_file(tmp_path) -> None:
    from scap.testing import EventBuilder, write_capture

    proc = dataclasses.replace(PROC, fds=list(FDS))
    m = MachineInfo(2, 1 << 30, 32768, "h")
    ifs = [InterfaceInfo(1, "lo", "127.0.0.1", "255.0.0.0", "127.255.255.255", 0)]
    users, groups = [UserInfo(0, 0, "root", "/root", "/bin/sh")], [GroupInfo(0, "root")]
    ev = EventBuilder(tid=42).build("SYSCALL_CLOSE_E", [3])
    for compress in (True, False):
        p = tmp_path / f"h{compress}.scap"
        write_capture(p, [ev], machine=m, interfaces=ifs, users=users, groups=groups,
                      processes=[proc], compress=compress)
        with scap.open(p) as cap:
            assert cap.compressed == compress
            assert (cap.machine, cap.interfaces, cap.users, cap.groups) == (m, ifs, users, groups)
            assert cap.processes == [proc]
            assert [r.raw for r in cap] == [ev.raw]

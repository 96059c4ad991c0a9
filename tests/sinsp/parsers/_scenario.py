"""A synthetic capture exercising every parser family, written with
``scap.testing`` so that sysdig 0.29.3 and our Inspector read the same bytes.

The story: bash (100, in a docker container) forks 200 (parent's clone exit
first); 200 spawns thread 201 (CLONE_THREAD|FILES|FS, child's exit first);
200 execs ``./tool`` relative to its cwd, changes directory, opens files
relative to the cwd and to a dirfd, duplicates fds, makes pipes and sockets,
changes its ids and session, and exits. A second process runs in a
kubepods cgroup, a third in a cri-containerd scope.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scap.metadata import FdEntry, GroupInfo, MachineInfo, ProcInfo, UserInfo
from scap.testing import EventBuilder, write_capture

DOCKER_ID = "3c1d2b7e9a8f" + "0" * 52
KUBE_ID = "9f8e7d6c5b4a" + "1" * 52
CRI_ID = "a1b2c3d4e5f6" + "2" * 52
CRIO_ID = "0a0b0c0d0e0f" + "3" * 52
PODMAN_ID = "f0e0d0c0b0a0" + "4" * 52

CL_FILES, CL_FS, CL_SIGHAND, CL_THREAD, CL_VM = 1, 2, 1 << 11, 1 << 13, 1 << 15
AT_FDCWD = -100
O_RDONLY, O_WRONLY, O_CREAT, O_DIRECTORY = 1, 2, 4, 1 << 10


def _cg(path: str) -> list[str]:
    return [f"{s}={path}" for s in ("cpuset", "cpu", "memory")]


def _proc(tid: int, pid: int, ptid: int, comm: str, exe: str, **kw: Any) -> ProcInfo:
    base: dict[str, Any] = dict(
        args=[], cwd="/", fdlimit=1024, flags=0, uid=0, gid=0, sid=tid, vpgid=tid,
        exepath=exe, vtid=tid, vpid=pid, cgroups=_cg("/"), env=["PATH=/bin"], loginuid=1000,
        tty=34816,
    )
    base.update(kw)
    return ProcInfo(tid=tid, pid=pid, ptid=ptid, comm=comm, exe=exe, **base)


def processes() -> list[ProcInfo]:
    return [
        _proc(1, 1, 0, "systemd", "/sbin/init"),
        _proc(90, 90, 1, "sshd", "/usr/sbin/sshd", sid=90, args=["-D"]),
        _proc(
            100, 100, 90, "bash", "/bin/bash", sid=100, cwd="/home/alice", uid=1000, gid=1000,
            args=["-i"], cgroups=_cg(f"/docker/{DOCKER_ID}"),
            fds=[
                FdEntry(fd=0, ino=1, type=1, name="/dev/pts/0"),
                FdEntry(fd=3, ino=2, type=2, name="/etc"),
                FdEntry(fd=4, ino=3, type=3, sip="10.0.0.1", sport=40000, dip="10.0.0.2",
                        dport=80, l4proto=2),
                FdEntry(fd=5, ino=4, type=5, sip="0.0.0.0", sport=8080, l4proto=2),
                FdEntry(fd=6, ino=5, type=8, source=0xFFFF1, dest=0xFFFF2, name="/run/x.sock"),
            ],
        ),
        _proc(300, 300, 1, "kubelet-pod", "/pause",
              cgroups=_cg(f"/kubepods/besteffort/podabc-123/{KUBE_ID}")),
        _proc(310, 310, 1, "ctr-app", "/app",
              cgroups=_cg(f"/system.slice/cri-containerd-{CRI_ID}.scope")),
        _proc(320, 320, 1, "crio-app", "/app", cgroups=_cg(f"/crio-{CRIO_ID}.scope")),
        _proc(330, 330, 1, "podman-app", "/app",
              cgroups=_cg(f"/machine.slice/libpod-{PODMAN_ID}.scope")),
        _proc(340, 340, 1, "docker-scope", "/app",
              cgroups=_cg(f"/system.slice/docker-{DOCKER_ID[:-1]}9.scope")),
    ]


def users() -> tuple[list[UserInfo], list[GroupInfo]]:
    return (
        [UserInfo(0, 0, "root", "/root", "/bin/bash"),
         UserInfo(1000, 1000, "alice", "/home/alice", "/bin/zsh"),
         UserInfo(33, 33, "www-data", "/var/www", "/usr/sbin/nologin")],
        [GroupInfo(0, "root"), GroupInfo(1000, "alice"), GroupInfo(33, "www-data")],
    )


def _clone_x(res: int, tid: int, pid: int, ptid: int, comm: str, exe: str, flags: int,
             cgroups: list[str], cwd: str = "/home/alice", uid: int = 1000) -> dict[str, Any]:
    return dict(res=res, exe=exe, args=["-i"], tid=tid, pid=pid, ptid=ptid, cwd=cwd,
                fdlimit=1024, pgft_maj=0, pgft_min=10, vm_size=1000, vm_rss=500, vm_swap=0,
                comm=comm, cgroups=cgroups, flags=flags, uid=uid, gid=1000, vtid=tid,
                vpid=pid)


def events() -> list[Any]:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    dcg = _cg(f"/docker/{DOCKER_ID}")
    ev: list[Any] = []
    add = ev.append
    # a leading container description (sysdig consumes it while opening the file)
    add(b.build("CONTAINER_JSON_E", {"json": json.dumps({"container": {
        "id": DOCKER_ID[:12], "type": 0, "name": "web", "image": "nginx:1.25",
        "imageid": "deadbeef1234", "imagerepo": "nginx", "imagetag": "1.25",
        "privileged": True, "Mounts": [
            {"Source": "/var/lib/x", "Destination": "/data", "Mode": "z", "RW": True,
             "Propagation": "rprivate"}]}})}, tid=-1))
    # bash forks 200: parent's exit first, then the child's
    add(b.build("SYSCALL_CLONE_20_E", [], tid=100))
    add(b.build("SYSCALL_CLONE_20_X", _clone_x(200, 100, 100, 90, "bash", "/bin/bash", 0, dcg),
                tid=100))
    add(b.build("SYSCALL_CLONE_20_X", _clone_x(0, 200, 200, 100, "bash", "/bin/bash", 0, dcg),
                tid=200))
    # 200 creates thread 201 sharing files and fs: the child's exit comes first
    tflags = CL_THREAD | CL_FILES | CL_FS | CL_VM | CL_SIGHAND
    add(b.build("SYSCALL_CLONE_20_E", [], tid=200))
    add(b.build("SYSCALL_CLONE_20_X", _clone_x(0, 201, 200, 100, "bash", "/bin/bash", tflags,
                                               dcg), tid=201))
    add(b.build("SYSCALL_CLONE_20_X", _clone_x(201, 200, 200, 100, "bash", "/bin/bash", tflags,
                                               dcg), tid=200))
    # 200 execs ./tool (relative to its cwd /home/alice)
    add(b.build("SYSCALL_EXECVE_19_E", {"filename": "./bin/../tool"}, tid=200))
    add(b.build("SYSCALL_EXECVE_19_X", dict(
        res=0, exe="./tool", args=["--fast", "x y"], tid=200, pid=200, ptid=100,
        cwd="/home/alice", fdlimit=4096, pgft_maj=1, pgft_min=2, vm_size=2000, vm_rss=700,
        vm_swap=3, comm="tool", cgroups=dcg, env=["A=1", "B=2"], tty=34817, pgid=200,
        loginuid=1000, flags=0), tid=200))
    # opens: relative to cwd, then chdir, then relative to a dirfd and an absolute one
    add(b.build("SYSCALL_OPEN_E", {"name": "notes/../a.txt", "flags": O_RDONLY, "mode": 0},
                tid=200))
    add(b.build("SYSCALL_OPEN_X", {"fd": 7, "name": "notes/../a.txt", "flags": O_RDONLY,
                                   "mode": 0, "dev": 0}, tid=200))
    add(b.build("SYSCALL_CHDIR_E", [], tid=201))
    add(b.build("SYSCALL_CHDIR_X", {"res": 0, "path": "../bob/./work"}, tid=201))
    add(b.build("SYSCALL_OPEN_E", {"name": "b.txt", "flags": O_WRONLY | O_CREAT, "mode": 0o644},
                tid=200))
    add(b.build("SYSCALL_OPEN_X", {"fd": 8, "name": "b.txt", "flags": O_WRONLY | O_CREAT,
                                   "mode": 0o644, "dev": 0}, tid=200))
    add(b.build("SYSCALL_OPENAT_2_E", {"dirfd": 3, "name": "passwd", "flags": O_RDONLY,
                                       "mode": 0}, tid=201))
    add(b.build("SYSCALL_OPENAT_2_X", {"fd": 9, "dirfd": 3, "name": "passwd",
                                       "flags": O_RDONLY, "mode": 0, "dev": 0}, tid=201))
    add(b.build("SYSCALL_OPENAT_E", {"dirfd": AT_FDCWD, "name": "sub", "flags": O_DIRECTORY,
                                     "mode": 0}, tid=200))
    add(b.build("SYSCALL_OPENAT_X", {"fd": 10}, tid=200))
    add(b.build("SYSCALL_OPENAT_2_E", {"dirfd": 10, "name": "deep/c.log", "flags": O_RDONLY,
                                       "mode": 0}, tid=200))
    add(b.build("SYSCALL_OPENAT_2_X", {"fd": 11, "dirfd": 10, "name": "deep/c.log",
                                       "flags": O_RDONLY, "mode": 0, "dev": 0}, tid=200))
    add(b.build("SYSCALL_CREAT_E", {"name": "/tmp/new", "mode": 0o600}, tid=200))
    add(b.build("SYSCALL_CREAT_X", {"fd": 12, "name": "/tmp/new", "mode": 0o600, "dev": 0},
                tid=200))
    # fchdir into the dir fd
    add(b.build("SYSCALL_FCHDIR_E", {"fd": 10}, tid=200))
    add(b.build("SYSCALL_FCHDIR_X", {"res": 0}, tid=200))
    # dup & fcntl(F_DUPFD)
    add(b.build("SYSCALL_DUP_E", {"fd": 7}, tid=200))
    add(b.build("SYSCALL_DUP_X", {"res": 13}, tid=200))
    add(b.build("SYSCALL_FCNTL_E", {"fd": 8, "cmd": 1}, tid=201))
    add(b.build("SYSCALL_FCNTL_X", {"res": 14}, tid=201))
    # reads on the fds so fd.name shows
    for fd in (7, 8, 9, 10, 11, 12, 13, 14, 4, 5, 6):
        add(b.build("SYSCALL_READ_E", {"fd": fd, "size": 10}, tid=200))
        add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=200))
    # close 7: the close exit still names it, the next read does not find it
    add(b.build("SYSCALL_CLOSE_E", {"fd": 7}, tid=200))
    add(b.build("SYSCALL_CLOSE_X", {"res": 0}, tid=200))
    add(b.build("SYSCALL_READ_E", {"fd": 7, "size": 10}, tid=200))
    add(b.build("SYSCALL_READ_X", {"res": -9, "data": b""}, tid=200))
    # a failed open leaves no fd
    add(b.build("SYSCALL_OPEN_E", {"name": "/nope", "flags": O_RDONLY, "mode": 0}, tid=200))
    add(b.build("SYSCALL_OPEN_X", {"fd": -2, "name": "/nope", "flags": O_RDONLY, "mode": 0,
                                   "dev": 0}, tid=200))
    # pipe, eventfd, timerfd, inotify, signalfd
    add(b.build("SYSCALL_PIPE_E", [], tid=200))
    add(b.build("SYSCALL_PIPE_X", {"res": 0, "fd1": 15, "fd2": 16, "ino": 777}, tid=200))
    add(b.build("SYSCALL_EVENTFD_E", {"initval": 0, "flags": 0}, tid=200))
    add(b.build("SYSCALL_EVENTFD_X", {"res": 17}, tid=200))
    add(b.build("SYSCALL_TIMERFD_CREATE_E", {"clockid": 0, "flags": 0}, tid=200))
    add(b.build("SYSCALL_TIMERFD_CREATE_X", {"res": 18}, tid=200))
    add(b.build("SYSCALL_INOTIFY_INIT_E", {"flags": 0}, tid=200))
    add(b.build("SYSCALL_INOTIFY_INIT_X", {"res": 19}, tid=200))
    add(b.build("SYSCALL_SIGNALFD_E", {"fd": -1, "mask": 0, "flags": 0}, tid=200))
    add(b.build("SYSCALL_SIGNALFD_X", {"res": 20}, tid=200))
    # sockets: tcp connect, unix connect, udp bind, socketpair, accept
    add(b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 1, "proto": 0}, tid=200))
    add(b.build("SOCKET_SOCKET_X", {"fd": 21}, tid=200))
    add(b.build("SOCKET_CONNECT_E", {"fd": 21, "addr": (2, "93.184.216.34", 443)}, tid=200))
    add(b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": (2, "172.17.0.2", 51000,
                                                         "93.184.216.34", 443)}, tid=200))
    add(b.build("SOCKET_SOCKET_E", {"domain": 1, "type": 1, "proto": 0}, tid=200))
    add(b.build("SOCKET_SOCKET_X", {"fd": 22}, tid=200))
    add(b.build("SOCKET_CONNECT_E", {"fd": 22, "addr": (1, "/var/run/docker.sock", 0)},
                tid=200))
    add(b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": (1, 0xAAAA, 0, 0xBBBB, 0,
                                                         "/var/run/docker.sock")}, tid=200))
    add(b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 0}, tid=200))
    add(b.build("SOCKET_SOCKET_X", {"fd": 23}, tid=200))
    add(b.build("SOCKET_BIND_E", {"fd": 23}, tid=200))
    add(b.build("SOCKET_BIND_X", {"res": 0, "addr": (2, "0.0.0.0", 5353)}, tid=200))
    add(b.build("SOCKET_SOCKETPAIR_E", {"domain": 1, "type": 1, "proto": 0}, tid=200))
    add(b.build("SOCKET_SOCKETPAIR_X", {"res": 0, "fd1": 24, "fd2": 25, "source": 0x1234,
                                        "peer": 0x5678}, tid=200))
    add(b.build("SOCKET_ACCEPT_5_E", [], tid=100))
    add(b.build("SOCKET_ACCEPT_5_X", {"fd": 26, "tuple": (2, "10.1.1.1", 5555, "0.0.0.0",
                                                          8080), "queuepct": 0, "queuelen": 0,
                                      "queuemax": 0}, tid=100))
    for fd in (15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25):
        add(b.build("SYSCALL_READ_E", {"fd": fd, "size": 10}, tid=201))
        add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=201))
    add(b.build("SYSCALL_READ_E", {"fd": 26, "size": 10}, tid=100))
    add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=100))
    # the forked child kept a copy of bash's fds: 4 is the tcp socket
    add(b.build("SYSCALL_READ_E", {"fd": 3, "size": 10}, tid=100))
    add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=100))
    # ids and session
    add(b.build("SYSCALL_SETUID_E", {"uid": 33}, tid=200))
    add(b.build("SYSCALL_SETUID_X", {"res": 0}, tid=200))
    add(b.build("SYSCALL_SETGID_E", {"gid": 33}, tid=200))
    add(b.build("SYSCALL_SETGID_X", {"res": 0}, tid=200))
    add(b.build("SYSCALL_SETRESUID_E", {"ruid": -1, "euid": 0, "suid": -1}, tid=201))
    add(b.build("SYSCALL_SETRESUID_X", {"res": 0}, tid=201))
    add(b.build("SYSCALL_SETRESGID_E", {"rgid": -1, "egid": 1000, "sgid": -1}, tid=201))
    add(b.build("SYSCALL_SETRESGID_X", {"res": 0}, tid=201))
    add(b.build("SYSCALL_SETUID_E", {"uid": 5}, tid=201))
    add(b.build("SYSCALL_SETUID_X", {"res": -1}, tid=201))
    add(b.build("SYSCALL_SETSID_E", [], tid=200))
    add(b.build("SYSCALL_SETSID_X", {"res": 200}, tid=200))
    add(b.build("SYSCALL_BRK_4_E", {"addr": 0}, tid=200))
    add(b.build("SYSCALL_BRK_4_X", {"res": 0, "vm_size": 2100, "vm_rss": 800, "vm_swap": 4},
                tid=200))
    # a container described mid-capture (shown as an event)
    add(b.build("CONTAINER_JSON_E", {"json": json.dumps({"container": {
        "id": KUBE_ID[:12], "type": 0, "name": "k8s_app_pod", "image": "busybox",
        "privileged": False}})}, tid=-1))
    # events from the container processes and an unknown thread
    for tid in (300, 310, 320, 330, 340, 4242):
        add(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=tid))
        add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=tid))
    # limits, getcwd resync, a context switch on the thread (vm goes to the process)
    add(b.build("SYSCALL_SETRLIMIT_E", {"resource": 7}, tid=201))
    add(b.build("SYSCALL_SETRLIMIT_X", {"res": 0, "cur": 2048, "max": 4096}, tid=201))
    add(b.build("SYSCALL_PRLIMIT_E", {"pid": 100, "resource": 7}, tid=200))
    add(b.build("SYSCALL_PRLIMIT_X", {"res": 0, "newcur": 99, "newmax": 99, "oldcur": 1,
                                      "oldmax": 1}, tid=200))
    add(b.build("SYSCALL_GETCWD_E", [], tid=200))
    add(b.build("SYSCALL_GETCWD_X", {"res": 0, "path": "/var/tmp"}, tid=200))
    add(b.build("SCHEDSWITCH_6_E", {"next": 100, "pgft_maj": 7, "pgft_min": 8, "vm_size": 3333,
                                    "vm_rss": 444, "vm_swap": 5}, tid=201))
    add(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=100))
    # thread exits, then the process; reads after each show what is left
    add(b.build("PROCEXIT_1_E", {"status": 0, "ret": 0, "sig": 0, "core": 0}, tid=201))
    add(b.build("SYSCALL_READ_E", {"fd": 8, "size": 1}, tid=200))
    add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=200))
    add(b.build("PROCEXIT_1_E", {"status": 0, "ret": 0, "sig": 0, "core": 0}, tid=200))
    add(b.build("SYSCALL_READ_E", {"fd": 4, "size": 1}, tid=100))
    add(b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=100))
    return ev


def write(path: Path) -> Path:
    u, g = users()
    # a machine block: sysdig sizes its per-CPU switch bookkeeping by num_cpus
    machine = MachineInfo(num_cpus=2, memory_size_bytes=1 << 30, max_pid=32768, hostname="h")
    write_capture(path, events(), processes=processes(), users=u, groups=g, machine=machine)
    return path


def clone_order_capture(path: Path) -> Path:
    """Threads and processes created in both exit orders, by a process and by
    one of its threads, so parent links (proc.pname, aname, ppid) can be
    checked against sysdig: 401 (thread, caller first, comm q), 402 (process,
    child first), 403 (thread of 401, caller first), 404 (thread of 401, child
    first)."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=400)
    tf = CL_THREAD | CL_FILES | CL_FS | CL_VM | CL_SIGHAND
    cg = _cg("/")

    def cx(res: int, tid: int, pid: int, ptid: int, comm: str, flags: int) -> dict[str, Any]:
        return _clone_x(res, tid, pid, ptid, comm, "/x", flags, cg)

    e = "SYSCALL_CLONE_20_E"
    x = "SYSCALL_CLONE_20_X"
    ev = [
        b.build(e, [], tid=400), b.build(x, cx(401, 400, 400, 90, "q", tf), tid=400),
        b.build(x, cx(0, 401, 400, 90, "q", tf), tid=401),
        b.build(e, [], tid=400), b.build(x, cx(0, 402, 402, 400, "c", 0), tid=402),
        b.build(x, cx(402, 400, 400, 90, "p", 0), tid=400),
        b.build(e, [], tid=401), b.build(x, cx(403, 401, 400, 90, "p", tf), tid=401),
        b.build(x, cx(0, 403, 400, 90, "p", tf), tid=403),
        b.build(e, [], tid=401), b.build(x, cx(0, 404, 400, 90, "p", tf), tid=404),
        b.build(x, cx(404, 401, 400, 90, "p", tf), tid=401),
    ]
    ev += [b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=t) for t in (400, 401, 402, 403,
                                                                             404)]
    procs = [_proc(1, 1, 0, "systemd", "/sbin/init"), _proc(90, 90, 1, "sshd", "/sshd"),
             _proc(400, 400, 90, "p", "/x")]
    write_capture(path, ev, processes=procs)
    return path


def versions_capture(path: Path) -> Path:
    """Older event versions (clone_11/16/17, fork/vfork, execve_8/13/14/15/16/17)
    feed the same parsers: each creates or re-images a process that a read
    then shows."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=500)
    common = dict(exe="/bin/old", args=["a", "b"], cwd="/w", fdlimit=64, pgft_maj=1,
                  pgft_min=2, vm_size=30, vm_rss=20, vm_swap=1, flags=0, uid=0, gid=0)
    ev: list[Any] = []
    tid = 600
    for ctype in ("SYSCALL_CLONE_11", "SYSCALL_CLONE_16", "SYSCALL_CLONE_17",
                  "SYSCALL_FORK", "SYSCALL_VFORK", "SYSCALL_FORK_17", "SYSCALL_VFORK_20"):
        from scap.schema import EVENT_INFO, PPME

        names = {p.name for p in EVENT_INFO[int(PPME[ctype + "_X"])].params}
        parent = dict(common, res=tid, tid=500, pid=500, ptid=1, comm="starter",
                      cgroups=_cg("/"), vtid=500, vpid=500)
        child = dict(parent, res=0, tid=tid, pid=tid, ptid=500, vtid=tid, vpid=tid)
        ev.append(b.build(ctype + "_E", [], tid=500))
        ev.append(b.build(ctype + "_X", {k: v for k, v in parent.items() if k in names},
                          tid=500))
        ev.append(b.build(ctype + "_X", {k: v for k, v in child.items() if k in names},
                          tid=tid))
        ev.append(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=tid))
        tid += 1
    for etype in ("SYSCALL_EXECVE_8", "SYSCALL_EXECVE_13", "SYSCALL_EXECVE_14",
                  "SYSCALL_EXECVE_15", "SYSCALL_EXECVE_16", "SYSCALL_EXECVE_17",
                  "SYSCALL_EXECVE_18"):
        from scap.schema import EVENT_INFO, PPME

        names = {p.name for p in EVENT_INFO[int(PPME[etype + "_X"])].params}
        vals = dict(common, res=0, exe=f"/usr/bin/{etype[-2:]}", args=["--v", etype],
                    tid=tid - 1, pid=tid - 1, ptid=500, comm=f"v{etype[-2:]}",
                    cgroups=_cg(f"/docker/{DOCKER_ID}"), env=["E=1"], tty=7)
        enames = {p.name for p in EVENT_INFO[int(PPME[etype + "_E"])].params}
        ev.append(b.build(etype + "_E", {"filename": f"rel/{etype}"} if enames else [],
                          tid=tid - 1))
        ev.append(b.build(etype + "_X", {k: v for k, v in vals.items() if k in names},
                          tid=tid - 1))
        ev.append(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=tid - 1))
    procs = [_proc(1, 1, 0, "systemd", "/sbin/init"),
             _proc(500, 500, 1, "starter", "/bin/starter", cwd="/srv")]
    write_capture(path, ev, processes=procs)
    return path


def net_capture(path: Path) -> Path:
    """IPv6 and UDP sockets: connect in progress, sendto/recvfrom on an
    unconnected socket, accept on a unix listener, a close followed by reuse of
    the same fd number, and a process exit followed by reuse of its tid."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=700)
    r = "SYSCALL_READ"
    ev: list[Any] = []

    def read(fd: int, tid: int = 700) -> None:
        ev.append(b.build(r + "_E", {"fd": fd, "size": 1}, tid=tid))
        ev.append(b.build(r + "_X", {"res": 0, "data": b""}, tid=tid))

    ev += [
        b.build("SOCKET_SOCKET_E", {"domain": 10, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 3}),
        b.build("SOCKET_CONNECT_E", {"fd": 3, "addr": (10, "2001:db8::1", 443)}),
        b.build("SOCKET_CONNECT_X", {"res": -115, "tuple": (10, "2001:db8::2", 40000,
                                                            "2001:db8::1", 443)}),
        b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 17}),
        b.build("SOCKET_SOCKET_X", {"fd": 4}),
        b.build("SOCKET_SENDTO_E", {"fd": 4, "size": 10, "tuple": (2, "0.0.0.0", 0,
                                                                  "8.8.8.8", 53)}),
        b.build("SOCKET_SENDTO_X", {"res": 10, "data": b"q"}),
        b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 17}),
        b.build("SOCKET_SOCKET_X", {"fd": 7}),
        b.build("SOCKET_RECVFROM_E", {"fd": 7, "size": 100}),
        b.build("SOCKET_RECVFROM_X", {"res": 10, "data": b"a", "tuple": (2, "8.8.8.8", 53,
                                                                         "10.0.0.5", 5353)}),
        b.build("SOCKET_SOCKET_E", {"domain": 1, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 5}),
        b.build("SOCKET_BIND_E", {"fd": 5}),
        b.build("SOCKET_BIND_X", {"res": 0, "addr": (1, "/run/srv.sock", 0)}),
        b.build("SOCKET_LISTEN_E", {"fd": 5, "backlog": 5}),
        b.build("SOCKET_LISTEN_X", {"res": 0}),
        b.build("SOCKET_ACCEPT4_5_E", {"flags": 0}),
        b.build("SOCKET_ACCEPT4_5_X", {"fd": 6, "tuple": (1, 0x10, 0, 0x20, 0, "/run/srv.sock"),
                                       "queuepct": 0, "queuelen": 0, "queuemax": 0}),
    ]
    # datagram sockets talking to several peers: 0.29.3 re-addresses them from
    # each tuple according to the role it guessed (see net.py)
    def sendto(fd: int, t: tuple[Any, ...]) -> None:
        ev.append(b.build("SOCKET_SENDTO_E", {"fd": fd, "size": 1, "tuple": t}))
        ev.append(b.build("SOCKET_SENDTO_X", {"res": 1, "data": b"q"}))

    def recvfrom(fd: int, t: tuple[Any, ...]) -> None:
        ev.append(b.build("SOCKET_RECVFROM_E", {"fd": fd, "size": 1}))
        ev.append(b.build("SOCKET_RECVFROM_X", {"res": 1, "data": b"a", "tuple": t}))

    local, dns = (2, "10.0.0.5", 5353, "8.8.8.8", 53), (2, "8.8.8.8", 53, "10.0.0.5", 5353)
    for fd in (8, 9, 10):
        ev.append(b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 17}))
        ev.append(b.build("SOCKET_SOCKET_X", {"fd": fd}))
    recvfrom(4, (2, "8.8.8.8", 53, "10.0.0.5", 5353))
    sendto(8, local)
    sendto(8, (2, "10.0.0.5", 5353, "1.1.1.1", 53))
    sendto(8, (2, "10.0.0.5", 6000, "8.8.8.8", 53))
    sendto(8, (2, "10.0.0.6", 5353, "8.8.8.8", 54))
    sendto(9, local)
    recvfrom(9, dns)
    recvfrom(9, (2, "8.8.4.4", 53, "10.0.0.5", 5353))
    recvfrom(9, (2, "8.8.4.4", 53, "10.0.0.5", 5353))
    recvfrom(10, (2, "1.1.1.1", 53, "10.0.0.5", 5353))
    recvfrom(10, (2, "2.2.2.2", 53, "10.0.0.5", 5353))
    sendto(10, (2, "10.0.0.5", 5353, "3.3.3.3", 53))
    recvfrom(10, (2, "7.7.7.7", 7, "10.0.0.5", 5353))
    # IPv6 sockets with v4-mapped peers (0.29.3 turns them into IPv4 ones, and
    # names a mapped connect "<unknown>") and a plain IPv6 datagram peer
    ev += [
        b.build("SOCKET_SOCKET_E", {"domain": 10, "type": 1, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 11}),
        b.build("SOCKET_CONNECT_E", {"fd": 11, "addr": (10, "::ffff:1.2.3.4", 80)}),
        b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": (10, "::ffff:10.0.0.1", 4000,
                                                         "::ffff:1.2.3.4", 80)}),
        b.build("SOCKET_SOCKET_E", {"domain": 10, "type": 2, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 12}),
        b.build("SOCKET_SOCKET_E", {"domain": 10, "type": 2, "proto": 0}),
        b.build("SOCKET_SOCKET_X", {"fd": 13}),
    ]
    sendto(12, (10, "::ffff:10.0.0.1", 5000, "::ffff:8.8.8.8", 53))
    sendto(13, (10, "fe80::1", 5000, "2001:db8::53", 53))
    for fd in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
        read(fd)
    ev += [
        b.build("SYSCALL_CLOSE_E", {"fd": 6}), b.build("SYSCALL_CLOSE_X", {"res": 0}),
        b.build("SYSCALL_OPEN_E", {"name": "/reuse", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": 6, "name": "/reuse", "flags": 1, "mode": 0, "dev": 0}),
    ]
    read(6)
    ev += [b.build("PROCEXIT_1_E", {"status": 0, "ret": 0, "sig": 0, "core": 0}, tid=710)]
    read(0, tid=710)
    # tids reused by new children: 710 after its exit, 720 without a seen exit
    for child, comm in ((710, "again"), (720, "reused")):
        ev.append(b.build("SYSCALL_CLONE_20_X", _clone_x(child, 700, 700, 1, comm, "/bin/x", 0,
                                                         _cg("/")), tid=700))
        read(0, tid=child)
    procs = [_proc(1, 1, 0, "systemd", "/sbin/init"), _proc(700, 700, 1, "net", "/bin/net"),
             _proc(710, 710, 700, "short", "/bin/short"),
             _proc(720, 720, 1, "stale", "/bin/stale")]
    write_capture(path, ev, processes=procs)
    return path


def probes_capture(path: Path) -> Path:
    """Health-probe classification: a container described with a Healthcheck
    and a LivenessProbe; the container's init (vpid 1) and a child of it that
    runs the probe command (stays a container process), and a probe started
    from the host (runc) that execs the probe command and forks a child."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=800)
    cg = _cg(f"/docker/{DOCKER_ID}")
    probe_args = ["-c", "curl -f localhost"]
    desc = {"container": {"id": DOCKER_ID[:12], "type": 0, "name": "web", "image": "nginx",
                          "Healthcheck": {"exe": "/bin/sh", "args": probe_args},
                          "LivenessProbe": {"exe": "/bin/true", "args": []}}}
    ev: list[Any] = [b.build("CONTAINER_JSON_E", {"json": json.dumps(desc)}, tid=-1)]

    def clone(parent: int, child: int, exe: str, args: list[str], comm: str) -> None:
        for res, tid, pid, ptid in ((child, parent, parent, 1), (0, child, child, parent)):
            ev.append(b.build("SYSCALL_CLONE_20_X", dict(
                res=res, exe=exe, args=args, tid=tid, pid=pid, ptid=ptid, cwd="/",
                fdlimit=1024, pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0,
                comm=comm, cgroups=cg, flags=0, uid=0, gid=0, vtid=tid, vpid=pid), tid=tid))

    def execve(tid: int, exe: str, args: list[str], comm: str) -> None:
        ev.append(b.build("SYSCALL_EXECVE_19_E", {"filename": exe}, tid=tid))
        ev.append(b.build("SYSCALL_EXECVE_19_X", dict(
            res=0, exe=exe, args=args, tid=tid, pid=tid, ptid=800, cwd="/", fdlimit=1024,
            pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0, comm=comm, cgroups=cg,
            env=[], tty=0, pgid=tid, loginuid=-1, flags=0), tid=tid))

    clone(800, 801, "/usr/bin/runc", ["exec"], "runc")
    execve(801, "/bin/sh", probe_args, "sh")
    clone(801, 802, "/bin/sh", probe_args, "sh")
    execve(802, "/usr/bin/curl", ["-f", "localhost"], "curl")
    clone(800, 803, "/usr/bin/runc", ["exec"], "runc")
    execve(803, "/bin/true", [], "true")
    clone(811, 812, "/bin/sh", probe_args, "sh")
    for tid in (801, 802, 803, 810, 811, 812):
        ev.append(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=tid))
    procs = [_proc(1, 1, 0, "systemd", "/sbin/init"),
             _proc(800, 800, 1, "containerd-shim", "/usr/bin/containerd-shim"),
             _proc(810, 810, 800, "nginx", "/usr/sbin/nginx", vtid=1, vpid=1, cgroups=cg),
             _proc(811, 811, 810, "sh", "/bin/sh", args=probe_args, vtid=5, vpid=5,
                   cgroups=cg)]
    write_capture(path, ev, processes=procs)
    return path


def newer_syscalls_capture(path: Path) -> Path:
    """The newest event types 0.29.3 knows: clone3, openat2, bpf (DYN
    result), userfaultfd. (execveat is left out: sysdig 0.29.3 crashes on its
    exit event.)"""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=950)
    cg = _cg("/")
    ev: list[Any] = [
        b.build("SYSCALL_CLONE3_E", []),
        b.build("SYSCALL_CLONE3_X", _clone_x(951, 950, 950, 1, "c3", "/bin/c3", 0, cg)),
        b.build("SYSCALL_OPENAT_E", {"dirfd": -100, "name": "/opt", "flags": O_DIRECTORY,
                                     "mode": 0}, tid=951),
        b.build("SYSCALL_OPENAT_X", {"fd": 3}, tid=951),
        b.build("SYSCALL_OPENAT2_E", {"dirfd": 3, "name": "etc/conf", "flags": O_RDONLY,
                                      "mode": 0, "resolve": 0}, tid=951),
        b.build("SYSCALL_OPENAT2_X", {"fd": 4, "dirfd": 3, "name": "etc/conf",
                                      "flags": O_RDONLY, "mode": 0, "resolve": 0}, tid=951),
        b.build("SYSCALL_BPF_E", {"cmd": 0}, tid=951),
        b.build("SYSCALL_BPF_X", {"res_or_fd": (0, 5)}, tid=951),
        b.build("SYSCALL_USERFAULTFD_E", [], tid=951),
        b.build("SYSCALL_USERFAULTFD_X", {"res": 6, "flags": 0}, tid=951),
    ]
    for fd in (3, 4, 5, 6):
        ev.append(b.build("SYSCALL_READ_E", {"fd": fd, "size": 1}, tid=951))
    procs = [_proc(1, 1, 0, "systemd", "/sbin/init"), _proc(950, 950, 1, "p", "/bin/p")]
    write_capture(path, ev, processes=procs)
    return path

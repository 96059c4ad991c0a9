"""Process-lifecycle parsers with EventBuilder events (no capture file)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _feed import builder, proc, replay

CL_FILES, CL_FS, CL_THREAD = 1, 2, 1 << 13


def clone_x(res: int, tid: int, pid: int, ptid: int, flags: int = 0, comm: str = "sh",
            cwd: str = "/root") -> dict[str, object]:
    return dict(res=res, exe="/bin/sh", args=["-c", "x"], tid=tid, pid=pid, ptid=ptid, cwd=cwd,
                fdlimit=100, pgft_maj=0, pgft_min=0, vm_size=10, vm_rss=5, vm_swap=0,
                comm=comm, cgroups=["cpu=/"], flags=flags, uid=0, gid=0, vtid=tid, vpid=pid)


def test_fork_caller_first_creates_child_with_parent_link_and_fd_copy() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPEN_E", {"name": "/etc/hosts", "flags": 1, "mode": 0}),
        b.build("SYSCALL_OPEN_X", {"fd": 3, "name": "/etc/hosts", "flags": 1, "mode": 0,
                                   "dev": 0}),
        b.build("SYSCALL_CLONE_20_E", []),
        b.build("SYSCALL_CLONE_20_X", clone_x(200, 100, 100, 1)),
        b.build("SYSCALL_CLONE_20_X", clone_x(0, 200, 200, 100), tid=200),
    ]
    insp, _ = replay(recs, [proc(1, comm="init"), proc(100)])
    child = insp.threads.get(200)
    assert child is not None
    assert (child.pid, child.ptid, child.comm, child.args) == (200, 100, "sh", ["-c", "x"])
    assert child.parent() is insp.threads.get(100)
    # fork copies the fd table; it is not shared
    assert child.fd_table() is not insp.threads.get(100).fd_table()
    assert child.fd_table().get(3).name == "/etc/hosts"
    assert insp.threads.get(100).nchilds == 1


def test_thread_clone_child_first_shares_fd_table_and_cwd() -> None:
    b = builder()
    flags = CL_THREAD | CL_FILES | CL_FS
    recs = [
        b.build("SYSCALL_CLONE_20_X", clone_x(0, 101, 100, 1, flags), tid=101),
        b.build("SYSCALL_CLONE_20_X", clone_x(101, 100, 100, 1, flags)),
        b.build("SYSCALL_CHDIR_E", [], tid=101),
        b.build("SYSCALL_CHDIR_X", {"res": 0, "path": "../tmp"}, tid=101),
        b.build("SOCKET_SOCKET_E",
                {"domain": 2, "type": 1, "proto": 0}, tid=101),
        b.build("SOCKET_SOCKET_X", {"fd": 5}, tid=101),
    ]
    insp, _ = replay(recs, [proc(1, comm="init"), proc(100)])
    main, thr = insp.threads.get(100), insp.threads.get(101)
    assert thr.pid == 100 and not thr.is_main_thread() and thr.main_thread() is main
    assert thr.fd_table() is main.fd_table() and 5 in main.fd_table()
    assert main.get_cwd() == thr.get_cwd() == "/tmp/"


def test_failed_clone_creates_nothing() -> None:
    b = builder()
    recs = [b.build("SYSCALL_CLONE_20_X", clone_x(-11, 100, 100, 1))]
    insp, _ = replay(recs, [proc(100)])
    assert len(insp.threads) == 1


def test_execve_replaces_image_and_resolves_exepath_from_enter() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_EXECVE_19_E", {"filename": "bin/./tool"}),
        b.build("SYSCALL_EXECVE_19_X", dict(
            res=0, exe="bin/tool", args=["a"], tid=100, pid=100, ptid=1, cwd="/root",
            fdlimit=7, pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0, comm="tool",
            cgroups=["cpu=/docker/" + "ab" * 32], env=["K=V"], tty=5, pgid=100, loginuid=42,
            flags=0)),
    ]
    insp, names = replay(recs, [proc(100)], probe=lambda e: e.thread.comm)
    t = insp.threads.get(100)
    assert names == ["sh", "tool"]
    assert (t.exe, t.args, t.exepath, t.env, t.tty, t.loginuid, t.fdlimit) == (
        "bin/tool", ["a"], "/root/bin/tool", ["K=V"], 5, 42, 7)
    assert t.container_id == "ab" * 6


def test_failed_execve_keeps_the_old_image() -> None:
    b = builder()
    recs = [b.build("SYSCALL_EXECVE_19_E", {"filename": "/nope"}),
            b.build("SYSCALL_EXECVE_19_X", {"res": -2})]
    insp, _ = replay(recs, [proc(100, comm="bash")])
    assert insp.threads.get(100).comm == "bash"


def test_procexit_removal_is_deferred_to_the_next_event() -> None:
    b = builder()
    recs = [b.build("PROCEXIT_1_E", {"status": 0, "ret": 0, "sig": 0, "core": 0}),
            b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=1)]
    _insp, seen = replay(recs, [proc(1, comm="init"), proc(100, comm="dying")],
                         probe=lambda e: (e.thread.comm, 100 in e.inspector.threads))
    assert seen == [("dying", True), ("init", False)]


def test_setuid_setresgid_setsid_and_failures() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_SETUID_E", {"uid": 33}), b.build("SYSCALL_SETUID_X", {"res": 0}),
        b.build("SYSCALL_SETRESGID_E", {"rgid": -1, "egid": 44, "sgid": -1}),
        b.build("SYSCALL_SETRESGID_X", {"res": 0}),
        b.build("SYSCALL_SETGID_E", {"gid": 55}), b.build("SYSCALL_SETGID_X", {"res": -1}),
        b.build("SYSCALL_SETSID_E", []), b.build("SYSCALL_SETSID_X", {"res": 100}),
    ]
    insp, _ = replay(recs, [proc(100, sid=1)])
    t = insp.threads.get(100)
    assert (t.uid, t.gid, t.sid) == (33, 44, 100)


def test_fchdir_uses_the_directory_fd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPENAT_E", {"dirfd": -100, "name": "../var", "flags": 1 << 10,
                                     "mode": 0}),
        b.build("SYSCALL_OPENAT_X", {"fd": 4}),
        b.build("SYSCALL_FCHDIR_E", {"fd": 4}), b.build("SYSCALL_FCHDIR_X", {"res": 0}),
    ]
    insp, _ = replay(recs, [proc(100, cwd="/root")])
    assert insp.threads.get(100).get_cwd() == "/var/"


def test_unknown_thread_gets_an_invented_entry() -> None:
    b = builder()
    insp, seen = replay([b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=777)],
                        probe=lambda e: (e.thread.tid, e.thread.pid, e.thread.comm))
    assert seen == [(777, 777, "<NA>")]
    assert insp.stats.threads_created_on_demand == 1


def test_procinfo_never_invents_a_thread() -> None:
    b = builder()
    insp, seen = replay([b.build("PROCINFO_E", {"cpu_usr": 1, "cpu_sys": 2}, tid=55)],
                        probe=lambda e: e.thread)
    assert seen == [None] and len(insp.threads) == 0


def test_thread_table_is_bounded_and_counts_evictions() -> None:
    b = builder()
    recs = [b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=t) for t in range(1000, 1010)]
    from _feed import MemorySource

    from sinsp import Inspector

    insp = Inspector(MemorySource(recs), max_threads=4)
    for _ in insp:
        pass
    assert len(insp.threads) == 4
    assert insp.threads.stats.evicted == 6


def test_a_malformed_event_is_counted_and_skipped_or_raised_when_strict() -> None:
    import pytest
    from _feed import MemorySource

    from sinsp import EventParseError, Inspector

    b = builder()
    # an execve exit whose args param is a single byte where a string list is due,
    # and an exe of invalid type: the parser must not take the stream down
    bad = b.build("SYSCALL_CLONE_20_X", {**clone_x(300, 100, 100, 1), "flags": b"\x01"})
    good = b.build("SYSCALL_READ_E", {"fd": 0, "size": 1})
    insp = Inspector(MemorySource([bad, good], [proc(100)]))
    nums = [e.num for e in insp]
    assert nums == [1, 2] and insp.stats.parse_errors == 1
    err = insp.parse_errors[0]
    assert (err.num, err.type) == (1, bad.type)
    with pytest.raises(EventParseError):
        list(Inspector(MemorySource([bad], [proc(100)]), strict=True))


def test_execveat_resolves_exepath_against_its_dirfd() -> None:
    b = builder()
    recs = [
        b.build("SYSCALL_OPENAT_E", {"dirfd": -100, "name": "/opt", "flags": 1 << 10,
                                     "mode": 0}),
        b.build("SYSCALL_OPENAT_X", {"fd": 3}),
        b.build("SYSCALL_EXECVEAT_E", {"dirfd": 3, "pathname": "bin/../bin/tool", "flags": 0}),
        b.build("SYSCALL_EXECVEAT_X", dict(
            res=0, exe="tool", args=[], tid=100, pid=100, ptid=1, cwd="/", fdlimit=1,
            pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0, comm="tool",
            cgroups=["cpu=/"], env=[], tty=0, pgid=100, loginuid=0, flags=0)),
    ]
    insp, _ = replay(recs, [proc(100)])
    t = insp.threads.get(100)
    assert (t.comm, t.exepath) == ("tool", "/opt/bin/tool")

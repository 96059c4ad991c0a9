"""Process-lifecycle parsers: clone/fork/vfork/clone3, execve/execveat,
procexit, set*id/setsid, chdir/fchdir, prctl.

Semantics follow libsinsp 0.29.3's parsers.cpp: a clone creates the child from
whichever of the two exit events (parent's, res = child tid; child's, res = 0)
arrives first; execve replaces the image of the calling thread; procexit
removes the thread through the verdict, after the event is consumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sinsp.parsers._util import as_int, as_str, fd_table, resolve_path, retval
from sinsp.state.threads import (
    CL_CHILD_IN_PIDNS,
    CL_CLONE_FILES,
    CL_CLONE_INVERTED,
    CL_CLONE_THREAD,
    CL_NAME_CHANGED,
    ThreadInfo,
    apply_exec_params,
    inherit_exe_state,
    set_clone_pidns_start,
)

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

PR_SET_NAME = 15  # PPM_PR_SET_NAME


def _split_args(raw: object) -> list[str]:
    """argv after argv[0], as the driver packs it: NUL-separated, NUL-ended."""
    if raw is None:
        return []
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)
    if not text:
        return []
    parts = text.split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _cgroups(raw: object) -> list[tuple[str, str]] | None:
    if raw is None:
        return None
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)
    out: list[tuple[str, str]] = []
    for item in text.split("\0"):
        if not item:
            continue
        subsys, _sep, path = item.partition("=")
        out.append((subsys, path))
    return out


def parse_clone_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """Create the new thread from whichever clone exit event comes first.

    Measured on sysdig 0.29.3: from the caller's event the child's ptid is the
    calling thread (even for CLONE_THREAD); from the child's own event it is
    the ``ptid`` parameter, or the process (``pid``) for a CLONE_THREAD child.
    """
    res = retval(evt)
    if res is None or res < 0:
        return
    flags = as_int(evt.param("flags"))
    threads = insp.threads
    if res == 0:
        # the child's own exit event: it describes itself
        child_tid = evt.tid
        existing = threads.get(child_tid)
        if existing is not None and existing.clone_ts and not existing.flags & CL_CLONE_INVERTED:
            return  # the caller's event already created it
        pid = as_int(evt.param("pid"), child_tid)
        ptid = pid if flags & CL_CLONE_THREAD else as_int(evt.param("ptid"), -1)
        parent = threads.get(ptid)
        child = _build_child(evt, insp, child_tid, pid, ptid, parent, flags | CL_CLONE_INVERTED)
        evt.thread = child
        return
    # the caller's exit event: res is the new thread id. A caller in a pid
    # namespace (CHILD_IN_PIDNS, or a vtid other than its tid) leaves the child to
    # the child's own event, measured on 0.29.3 for clone and clone3 alike
    vtid = evt.param("vtid")
    if flags & CL_CHILD_IN_PIDNS or (isinstance(vtid, int) and vtid != evt.tid):
        return
    child_tid = res
    existing = threads.get(child_tid)
    if existing is not None and existing.clone_ts and existing.flags & CL_CLONE_INVERTED:
        return  # the child's own event came first (CLONE_INVERTED)
    # anything else under that tid is stale (a reused tid whose exit was not
    # seen, or a thread invented for an unknown tid): the clone replaces it
    parent = evt.thread
    caller_pid = as_int(evt.param("pid"), evt.tid)
    pid = caller_pid if flags & CL_CLONE_THREAD else child_tid
    _build_child(evt, insp, child_tid, pid, evt.tid, parent, flags)


def _build_child(
    evt: Event,
    insp: Inspector,
    tid: int,
    pid: int,
    ptid: int,
    parent: ThreadInfo | None,
    flags: int,
) -> ThreadInfo:
    child = ThreadInfo(tid, pid, ptid)
    child.flags = flags
    child.exe = as_str(evt.param("exe"))
    child.args = _split_args(evt.param("args"))
    # events older than clone_17 carry no comm: sinsp names the child by exe
    comm = evt.param("comm")
    child.comm = as_str(comm) if comm is not None else child.exe
    child.fdlimit = as_int(evt.param("fdlimit"))
    child.pfmajor = as_int(evt.param("pgft_maj"))
    child.pfminor = as_int(evt.param("pgft_min"))
    child.vmsize_kb = as_int(evt.param("vm_size"))
    child.vmrss_kb = as_int(evt.param("vm_rss"))
    child.vmswap_kb = as_int(evt.param("vm_swap"))
    child.uid = as_int(evt.param("uid"), parent.uid if parent else 0xFFFFFFFF)
    child.gid = as_int(evt.param("gid"), parent.gid if parent else 0xFFFFFFFF)
    if evt.tid == tid:
        # the child's own event: the namespace ids are its own
        child.vtid = as_int(evt.param("vtid"), tid)
        child.vpid = as_int(evt.param("vpid"), pid)
    else:
        # the caller's event carries the caller's; 0.29.3 then shows the host ids
        child.vtid, child.vpid = tid, pid
    cg = _cgroups(evt.param("cgroups"))
    child.clone_ts = evt.ts
    cwd_param = evt.param("cwd")
    if parent is not None:
        child.exepath = parent.exepath
        child.env = list(parent.env)
        child.sid = parent.sid
        child.vpgid = parent.vpgid
        child.tty = parent.tty
        child.loginuid = parent.loginuid
        child.root = parent.root
        child.exe_writable = parent.exe_writable
        child.cap_inheritable = parent.cap_inheritable
        child.cap_permitted = parent.cap_permitted
        child.cap_effective = parent.cap_effective
        inherit_exe_state(child, parent)
        # no cgroups param (before clone_20): none recorded, container kept
        child.cgroups = cg if cg is not None else []
        child.cwd = parent.get_cwd()
        child.lastexec_ts = parent.lastexec_ts
        if not flags & CL_CLONE_FILES:
            ptable = parent.fd_table()
            child.fdtable = ptable.copy() if ptable is not None else insp.new_fd_table()
        else:
            child.fdtable = insp.new_fd_table()
    else:
        child.cgroups = cg or []
        child.cwd = as_str(cwd_param) or "/"
        child.fdtable = insp.new_fd_table()
    if not child.cwd.endswith("/"):
        child.cwd += "/"
    boot_ts = getattr(insp.machine, "boot_ts_epoch", 0) or 0
    set_clone_pidns_start(child, evt.tid == tid, evt.param("pidns_init_start_ts"), boot_ts)
    insp.threads.add(child)
    if cg is None and parent is not None:
        child.container_id = parent.container_id
    else:
        insp.assign_container(child)
    if not flags & CL_CLONE_THREAD:
        pt = insp.threads.get(ptid)
        if pt is not None:
            pt.nchilds += 1
    insp.containers.identify_category(child)
    return child


def parse_execve_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    ti = evt.thread
    res = retval(evt)
    if ti is None or res is None or res < 0:
        return
    ti.exe = as_str(evt.param("exe"))
    ti.args = _split_args(evt.param("args"))
    comm = evt.param("comm")
    ti.comm = as_str(comm) if comm is not None else ti.exe  # execve < 15: no comm
    # sysdig 0.29.3 keeps a known thread's pid/ptid; a thread it had to invent
    # (no parent link yet) takes them from the event
    if ti.ptid == -1:
        pid, ptid = evt.param("pid"), evt.param("ptid")
        if isinstance(pid, int) and pid > 0:
            ti.pid = pid
        if isinstance(ptid, int):
            ti.ptid = ptid
    # sinsp 0.29.3 ignores execve's cwd parameter: the cwd stays as tracked
    for attr, pname in (
        ("fdlimit", "fdlimit"),
        ("pfmajor", "pgft_maj"),
        ("pfminor", "pgft_min"),
        ("vmsize_kb", "vm_size"),
        ("vmrss_kb", "vm_rss"),
        ("vmswap_kb", "vm_swap"),
        ("tty", "tty"),
        ("loginuid", "loginuid"),
        ("cap_inheritable", "cap_inheritable"),
        ("cap_permitted", "cap_permitted"),
        ("cap_effective", "cap_effective"),
        ("uid", "uid"),
        ("gid", "gid"),
    ):
        v = evt.param(pname)
        if isinstance(v, int):
            setattr(ti, attr, v)
    # param 17 is "pgid" in the 0.29.3 table and "vpgid" in current ones
    # (which add the host "pgid" later): both mean proc.vpgid here
    vpgid = evt.param("vpgid")
    if not isinstance(vpgid, int):
        vpgid = evt.param("pgid")
    if isinstance(vpgid, int):
        ti.vpgid = vpgid
    if evt.has_param("env"):  # an empty env param empties the environment
        ti.env = _split_args(evt.param("env"))
    cg = _cgroups(evt.param("cgroups"))
    if cg is not None:
        ti.cgroups = cg
        insp.assign_container(ti)
    # exepath: the enter event's filename resolved against the cwd (0.29.3);
    # newer drivers send the kernel's own path in trusted_exepath.
    trusted = evt.param("trusted_exepath")
    filename = evt.enter_param("filename")
    pathname = evt.enter_param("pathname")  # execveat: relative to its dirfd
    if trusted:
        ti.exepath = as_str(trusted)
    elif filename:
        ti.exepath = resolve_path(evt, as_str(filename))
    elif pathname:
        dirfd = evt.enter_param("dirfd")
        ti.exepath = resolve_path(evt, as_str(pathname), dirfd if isinstance(dirfd, int) else None)
    # else: without the enter event 0.29.3 leaves exepath as it was
    flags = evt.record_param("flags")  # not execveat enter's AT_* flags
    if isinstance(flags, int):
        ti.exe_writable = bool(flags & 1)  # PPM_EXE_WRITABLE
    apply_exec_params(ti, evt.record_param)  # exit-only: not execveat enter's flags
    ti.lastexec_ts = evt.ts
    ti.flags |= CL_NAME_CHANGED
    if not ti.category:
        insp.containers.identify_category(ti)


def parse_procexit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if evt.thread is None:
        return
    verdict.remove_thread(evt.tid)


def _setid(attr: str, pname: str) -> Callable[[Event, Inspector, Verdict], None]:
    def parse(evt: Event, insp: Inspector, verdict: Verdict) -> None:
        # setuid/setgid take the enter event's id as is (sinsp parse_setuid_exit)
        res = retval(evt)
        if evt.thread is None or res is None or res < 0:
            return
        v = evt.param(pname)
        if isinstance(v, int):
            setattr(evt.thread, attr, v & 0xFFFFFFFF)

    return parse


def _setresid(attr: str, pname: str) -> Callable[[Event, Inspector, Verdict], None]:
    def parse(evt: Event, insp: Inspector, verdict: Verdict) -> None:
        res = retval(evt)
        if evt.thread is None or res is None or res < 0:
            return
        v = evt.param(pname)
        if isinstance(v, int) and v not in (-1, 0xFFFFFFFF):
            setattr(evt.thread, attr, v)

    return parse


def parse_setsid_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if evt.thread is None or res is None or res < 0:
        return
    evt.thread.sid = res


def parse_capset_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """capset (current libs only): a successful call's exit carries the thread's three
    capability sets after it, which become the thread's (as libs' parse_capset_exit)."""
    res = retval(evt)
    ti = evt.thread
    if ti is None or res is None or res < 0:
        return
    ti.cap_inheritable = as_int(evt.param("cap_inheritable"), ti.cap_inheritable)
    ti.cap_permitted = as_int(evt.param("cap_permitted"), ti.cap_permitted)
    ti.cap_effective = as_int(evt.param("cap_effective"), ti.cap_effective)


def parse_chdir_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if evt.thread is None or res is None or res < 0:
        return
    path = evt.param("path")
    if path is not None:
        evt.thread.set_cwd(as_str(path))


def parse_getcwd_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """getcwd's answer resynchronises the cwd (it only differs after drops)."""
    res = retval(evt)
    if evt.thread is None or res is None or res < 0:
        return
    path = evt.param("path")
    if path:
        evt.thread.set_cwd(as_str(path))


def parse_fchdir_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if evt.thread is None or res is None or res < 0:
        return
    fd = evt.fdnum if evt.fdnum is not None else evt.param("fd")
    table = fd_table(evt)
    info = table.get(fd) if table is not None and isinstance(fd, int) else None
    if info is not None:
        evt.thread.set_cwd(info.name)


def parse_prctl_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    res = retval(evt)
    if evt.thread is None or res is None or res < 0:
        return
    if evt.param("option") == PR_SET_NAME:
        name = evt.param("arg2_str")
        if name:
            evt.thread.comm = as_str(name)
            evt.thread.flags |= CL_NAME_CHANGED


HANDLERS = {
    ("clone", "X"): parse_clone_exit,
    ("fork", "X"): parse_clone_exit,
    ("vfork", "X"): parse_clone_exit,
    ("clone3", "X"): parse_clone_exit,
    ("execve", "X"): parse_execve_exit,
    ("execveat", "X"): parse_execve_exit,
    ("procexit", "E"): parse_procexit,
    ("setuid", "X"): _setid("uid", "uid"),
    ("setgid", "X"): _setid("gid", "gid"),
    ("setresuid", "X"): _setresid("uid", "euid"),
    ("setresgid", "X"): _setresid("gid", "egid"),
    # current libs only (0.29.3 has no setreuid/setregid events): the exit
    # carries ruid/euid (rgid/egid); the effective id becomes the user, -1 keeps it
    ("setreuid", "X"): _setresid("uid", "euid"),
    ("setregid", "X"): _setresid("gid", "egid"),
    ("setsid", "X"): parse_setsid_exit,
    ("capset", "X"): parse_capset_exit,
    ("chdir", "X"): parse_chdir_exit,
    ("fchdir", "X"): parse_fchdir_exit,
    ("getcwd", "X"): parse_getcwd_exit,
    ("prctl", "X"): parse_prctl_exit,
}

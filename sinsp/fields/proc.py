"""``proc.*`` and ``thread.*`` fields (libsinsp's "process" filtercheck class).

Every extractor reads the event's ``ThreadInfo`` (N/A when the event has no
thread, except ``thread.tid``, which comes from the record header). Process-wide
values are read from the main thread; ancestors are walked through ``ptid``
links of main threads, as libsinsp's ``get_parent_thread()`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sinsp.fields.registry import (
    REGISTRIES,
    ArgKind,
    Extractor,
    FieldClassBuilder,
    FieldFlag,
    FieldType,
)
from sinsp.state.containers import CAT_HEALTHCHECK, CAT_LIVENESS_PROBE, CAT_READINESS_PROBE
from sinsp.state.threads import ThreadInfo

T = FieldType
proc = FieldClassBuilder(
    "process", "Additional information about the process and thread executing the syscall event."
)

_XID_MAX = 0xFFFFFFFF


def _xid(v: int) -> int | None:
    """libsinsp shows pids only in [-1, UINT32_MAX] (gVisor sentinel ids are hidden)."""
    return v if -1 <= v <= _XID_MAX else None


def _main(t: ThreadInfo) -> ThreadInfo | None:
    return t if t.is_main_thread() else t.main_thread()


def _parent_of(t: ThreadInfo) -> ThreadInfo | None:
    """libsinsp get_parent_thread(): the thread whose tid is our ptid."""
    table = t._table
    return table.get(t.ptid) if table is not None else None


def _ptid_thread(t: ThreadInfo) -> ThreadInfo | None:
    table = t._table
    return table.get(t.ptid) if table is not None else None


def _ancestor(t: ThreadInfo, n: int) -> ThreadInfo | None:
    mt = _main(t)
    for _ in range(n):
        if mt is None:
            return None
        mt = _parent_of(mt)
    return mt


def _ancestors(t: ThreadInfo) -> list[ThreadInfo]:
    """All ancestors (parent first), stopping at a gap or a loop."""
    out: list[ThreadInfo] = []
    mt = _main(t)
    seen: set[int] = set()
    while mt is not None:
        mt = _parent_of(mt)
        if mt is None or mt.tid in seen:
            break
        seen.add(mt.tid)
        out.append(mt)
    return out


def cmdline_of(t: ThreadInfo) -> str:
    """libsinsp populate_cmdline: comm, then each arg after one space."""
    return t.comm + "".join(" " + a for a in t.args)


def _state(evt: Any) -> dict[object, Any]:  # keys: names, or (name, variant) tuples
    insp = evt.inspector
    if insp is None:
        return {}
    st: dict[object, Any] | None = getattr(insp, "field_state", None)
    if st is None:
        st = {}
        insp.field_state = st
    return st


def _fd_table_size(t: ThreadInfo) -> int:
    table = t.fd_table()
    return len(table) if table is not None else 0


def _fdlimit(t: ThreadInfo) -> int:
    mt = _main(t)
    return (mt or t).fdlimit


def _walk_same(t: ThreadInfo, attr: str) -> ThreadInfo | None:
    """The eldest ancestor sharing ``attr`` (sid/vpgid) with ``t``'s main thread."""
    leader = _main(t)
    if leader is None:
        return None
    want = getattr(leader, attr)
    for a in _ancestors(leader):
        if getattr(a, attr) != want:
            break
        leader = a
    return leader


def _leader(evt: Any, attr: str) -> ThreadInfo | None:
    """Session/group leader as sysdig 0.29.3 finds it: the thread whose tid is
    the id, else the eldest ancestor of the main thread with the same id."""
    t = evt.thread
    if t is None:
        return None
    table = t._table
    found = table.get(getattr(t, attr)) if table is not None else None
    if found is not None:
        out: ThreadInfo | None = found
        return out
    return _walk_same(t, attr)


def render_double(v: Any) -> str:
    """sysdig 0.29.3 prints DOUBLE field values with one decimal ("%.1lf")."""
    return "<NA>" if v is None else f"{v:.1f}"


def _with_thread(fn: Callable[[ThreadInfo], Any]) -> Extractor:
    def extract(evt: Any, arg: Any) -> Any:
        t = evt.thread
        return None if t is None else fn(t)

    return extract


def _f(name: str, ftype: FieldType, desc: str, fn: Any, **kw: Any) -> None:
    if ftype is T.DOUBLE:
        kw.setdefault("renderer", render_double)
    proc.field(name, ftype, desc, **kw)(_with_thread(fn))


_f("proc.pid", T.INT64, "the id of the process generating the event.", lambda t: _xid(t.pid))
_f(
    "proc.exe",
    T.CHARBUF,
    "the first command line argument (usually the executable name or a custom one).",
    lambda t: t.exe,
)
_f(
    "proc.name",
    T.CHARBUF,
    "the name (excluding the path) of the executable generating the event.",
    lambda t: t.comm,
)
_f(
    "proc.args",
    T.CHARBUF,
    "the arguments passed on the command line when starting the process generating the event.",
    lambda t: " ".join(t.args),
)
def _env_of(t: ThreadInfo) -> list[str]:
    """The process environment (the main thread's), without the empty entries
    a NUL-padded environment block leaves at its end (as sysdig shows it)."""
    env = list((_main(t) or t).env)
    while env and not env[-1]:
        env.pop()
    return env


_f(
    "proc.env",
    T.CHARBUF,
    "the environment variables of the process generating the event.",
    lambda t: " ".join(_env_of(t)),
)
_f(
    "proc.cmdline",
    T.CHARBUF,
    "full process command line, i.e. proc.name + proc.args.",
    cmdline_of,
)
_f(
    "proc.exeline",
    T.CHARBUF,
    "full process command line, with exe as first argument, i.e. proc.exe + proc.args.",
    lambda t: t.exe + " " + " ".join(t.args),
)
_f("proc.cwd", T.CHARBUF, "the current working directory of the event.", lambda t: t.get_cwd())


def _nthreads(t: ThreadInfo) -> int:
    table = t._table
    if table is None:
        return 1
    return len(table.threads_of(t.pid))


def _nchilds(t: ThreadInfo) -> int:
    # libsinsp counts a process's other threads on its main thread only
    table = t._table
    if table is None or not t.is_main_thread():
        return 0
    return sum(1 for x in table.threads_of(t.pid) if not x.is_main_thread())


_f(
    "proc.nthreads",
    T.UINT32,
    "the number of threads that the process generating the event currently has, including "
    "the main process thread.",
    _nthreads,
)
_f(
    "proc.nchilds",
    T.UINT32,
    "the number of child threads that the process generating the event currently has. This "
    "excludes the main process thread.",
    _nchilds,
)


def _ppid(t: ThreadInfo) -> int | None:
    mt = _main(t)
    return None if mt is None else _xid(mt.ptid)


_f("proc.ppid", T.INT64, "the pid of the parent of the process generating the event.", _ppid)


def _of_parent(fn: Callable[[ThreadInfo], Any]) -> Callable[[ThreadInfo], Any]:
    """`fn` of the thread's parent (by ptid, as sinsp's proc.p* fields); None without one."""

    def get(t: ThreadInfo) -> Any:
        p = _ptid_thread(t)
        return None if p is None else fn(p)

    return get


_pname = _of_parent(lambda p: p.comm)
_pcmdline = _of_parent(cmdline_of)
_pexe = _of_parent(lambda p: p.exe)
_pexepath = _of_parent(lambda p: p.exepath)


_f(
    "proc.pname",
    T.CHARBUF,
    "the name (excluding the path) of the parent of the process generating the event.",
    _pname,
)
_f(
    "proc.pcmdline",
    T.CHARBUF,
    "the full command line (proc.name + proc.args) of the parent of the process generating "
    "the event.",
    _pcmdline,
)
_f("proc.pexe", T.CHARBUF, "the proc.exe (first command line argument) of the parent process.",
   _pexe)  # fmt: skip
_f("proc.pexepath", T.CHARBUF, "the proc.exepath (full executable path) of the parent process.",
   _pexepath)  # fmt: skip


def _ancestor_field(attr_fn: Callable[[ThreadInfo], Any], *, apid: bool = False) -> Extractor:
    """proc.a*[N]: the N-th ancestor's value; without N, every ancestor's (filters)."""

    def extract(evt: Any, arg: Any) -> Any:
        t = evt.thread
        if t is None:
            return None
        if arg is None:
            values = [attr_fn(a) for a in _ancestors(t)]
            return [v for v in values if v is not None]
        if arg < 0:
            return None
        a = _ancestor(t, int(arg))
        return None if a is None else attr_fn(a)

    return extract


def _anc(name: str, ftype: FieldType, desc: str, fn: Any) -> None:
    """Register the ancestor field `name[N]` (see `_ancestor_field`) reading `fn(ancestor)`."""
    proc.field(name, ftype, desc, display=f"{name}[N]", arg=ArgKind.INDEX,
               flags=FieldFlag.IS_LIST_WITHOUT_ARG)(_ancestor_field(fn))


_anc(
    "proc.apid",
    T.INT64,
    "the pid of one of the process ancestors. E.g. proc.apid[1] returns the parent pid, "
    "proc.apid[2] returns the grandparent pid, and so on. proc.apid[0] is the pid of the "
    "current process. proc.apid without arguments can be used in filters only and matches any "
    "of the process ancestors, e.g. proc.apid=1234.",
    lambda a: _xid(a.pid),
)
_anc(
    "proc.aname",
    T.CHARBUF,
    "the name (excluding the path) of one of the process ancestors. E.g. proc.aname[1] returns "
    "the parent name, proc.aname[2] returns the grandparent name, and so on. proc.aname[0] is "
    "the name of the current process. proc.aname without arguments can be used in filters only "
    "and matches any of the process ancestors, e.g. proc.aname=bash.",
    lambda a: a.comm,
)
_anc(
    "proc.aexe",
    T.CHARBUF,
    "the proc.exe of one of the process ancestors (proc.aexe[1] is the parent's).",
    lambda a: a.exe,
)
_anc(
    "proc.aexepath",
    T.CHARBUF,
    "the proc.exepath of one of the process ancestors (proc.aexepath[1] is the parent's).",
    lambda a: a.exepath,
)
_anc(
    "proc.acmdline",
    T.CHARBUF,
    "the proc.cmdline of one of the process ancestors (proc.acmdline[1] is the parent's).",
    cmdline_of,
)


def _loginshellid(t: ThreadInfo) -> int | None:
    mt = _main(t)
    if mt is None:
        return None
    res: int | None = None
    for cand in (mt, *_ancestors(mt)):
        if cand.comm.endswith("sh") and len(cand.comm) >= 2:
            res = cand.pid
    return res


_f(
    "proc.loginshellid",
    T.INT64,
    "the pid of the oldest shell among the ancestors of the current process, if there is one. "
    "This field can be used to separate different user sessions, and is useful in conjunction "
    "with chisels like spy_user.",
    _loginshellid,
)


def _duration(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    if t is None or not t.clone_ts:
        return None
    out: int | None = evt.ts - t.clone_ts
    return out


proc.field("proc.duration", T.RELTIME, "number of nanoseconds since the process started.")(
    _duration
)
_f("proc.fdopencount", T.UINT64, "number of open FDs for the process", _fd_table_size)
_f("proc.fdlimit", T.INT64, "maximum number of FDs the process can open.", _fdlimit)


def _fdusage(t: ThreadInfo) -> float:
    limit = _fdlimit(t)
    if limit <= 0:
        return 0.0
    return _fd_table_size(t) / limit * 100


_f(
    "proc.fdusage",
    T.DOUBLE,
    "the ratio between open FDs and maximum available FDs for the process.",
    _fdusage,
)
_f("proc.vmsize", T.UINT64, "total virtual memory for the process (as kb).", lambda t: t.vmsize_kb)
_f(
    "proc.vmrss",
    T.UINT64,
    "resident non-swapped memory for the process (as kb).",
    lambda t: t.vmrss_kb,
)
_f("proc.vmswap", T.UINT64, "swapped memory for the process (as kb).", lambda t: t.vmswap_kb)
_f(
    "thread.pfmajor",
    T.UINT64,
    "number of major page faults since thread start.",
    lambda t: t.pfmajor,
)
_f(
    "thread.pfminor",
    T.UINT64,
    "number of minor page faults since thread start.",
    lambda t: t.pfminor,
)


@proc.field("thread.tid", T.INT64, "the id of the thread generating the event.")
def _thread_tid(evt: Any, arg: Any) -> int | None:
    return _xid(evt.tid)


_f(
    "thread.ismain",
    T.BOOL,
    "'true' if the thread generating the event is the main one in the process.",
    lambda t: t.is_main_thread(),
)


def _switch_delta(evt: Any) -> int:
    """ns since the previous switch on this CPU (libsinsp extract_exectime)."""
    st = _state(evt)
    cache = st.setdefault("exectime_cache", {})
    if evt.num in cache:
        return int(cache[evt.num])
    last: dict[int, int] = st.setdefault("last_switch", {})
    prev = last.get(evt.cpu, 0)
    res = evt.ts - prev if prev else 0
    last[evt.cpu] = evt.ts
    cache.clear()
    cache[evt.num] = res
    return res


@proc.field(
    "thread.exectime",
    T.RELTIME,
    "CPU time spent by the last scheduled thread, in nanoseconds. Exported by switch events "
    "only.",
)
def _exectime(evt: Any, arg: Any) -> int | None:
    return _switch_delta(evt) if evt.name == "switch" else 0


@proc.field(
    "thread.totexectime",
    T.RELTIME,
    "Total CPU time, in nanoseconds since the beginning of the capture, for the current thread. "
    "Exported by switch events only.",
)
def _totexectime(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    if t is None:
        return None
    st = _state(evt)
    cache = st.setdefault("totexec_cache", {})
    key = (evt.num, t.tid)
    if key in cache:
        return int(cache[key])
    delta = _switch_delta(evt) if evt.name == "switch" else 0
    tot: dict[int, int] = st.setdefault("totexec", {})
    total = tot.get(t.tid, 0) + delta
    tot[t.tid] = total
    cache.clear()
    cache[key] = total
    return total


def _cgroups_str(t: ThreadInfo) -> str | None:
    if not t.cgroups:
        return None
    return " ".join(f"{s}={p}" for s, p in t.cgroups)


_f(
    "thread.cgroups",
    T.CHARBUF,
    "all the cgroups the thread belongs to, aggregated into a single string.",
    _cgroups_str,
)


@proc.field(
    "thread.cgroup",
    T.CHARBUF,
    "the cgroup the thread belongs to, for a specific subsystem. E.g. thread.cgroup.cpuacct.",
    arg=ArgKind.KEY,
    flags=FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG,
)
def _cgroup(evt: Any, arg: Any) -> str | None:
    t = evt.thread
    if t is None or arg is None:
        return None
    out: str | None = t.cgroup(str(arg))
    return out


_f(
    "thread.vtid",
    T.INT64,
    "the id of the thread generating the event as seen from its current PID namespace.",
    lambda t: None if t.vtid == -1 else t.vtid,
)
_f(
    "proc.vpid",
    T.INT64,
    "the id of the process generating the event as seen from its current PID namespace.",
    lambda t: None if t.vpid == -1 else t.vpid,
)


def _thread_cpu(user: bool, system: bool) -> Extractor:
    def extract(evt: Any, arg: Any) -> float | None:
        t = evt.thread
        if t is None or evt.name != "procinfo":
            return None
        tcpu = 0
        if user:
            tcpu += int(evt.param("cpu_usr", 0) or 0)
        if system:
            tcpu += int(evt.param("cpu_sys", 0) or 0)
        st = _state(evt)
        key = (user, system)
        cache = st.setdefault(("cpu_cache", key), {})
        if (evt.num, t.tid) in cache:
            return float(cache[(evt.num, t.tid)])
        last: dict[int, int] = st.setdefault(("cpu_last", key), {})
        prev = last.get(t.tid, 0)
        val = 0.0 if prev == 0 else min(float(tcpu - prev), 100.0)
        last[t.tid] = tcpu
        cache.clear()
        cache[(evt.num, t.tid)] = val
        return val

    return extract


for _name, _which, _user, _system in (("thread.cpu", "CPU", True, True),
                                      ("thread.cpu.user", "user CPU", True, False),
                                      ("thread.cpu.system", "system CPU", False, True)):
    proc.field(_name, T.DOUBLE, f"the {_which} consumed by the thread in the last second.",
               renderer=render_double)(_thread_cpu(_user, _system))
del _name, _which, _user, _system
_f(
    "thread.vmsize",
    T.UINT64,
    "For the process main thread, this is the total virtual memory for the process (as kb). "
    "For the other threads, this field is zero.",
    lambda t: t.vmsize_kb if t.is_main_thread() else 0,
)
_f(
    "thread.vmrss",
    T.UINT64,
    "For the process main thread, this is the resident non-swapped memory for the process (as "
    "kb). For the other threads, this field is zero.",
    lambda t: t.vmrss_kb if t.is_main_thread() else 0,
)
_f("proc.sid", T.INT64, "the session id of the process generating the event.", lambda t: t.sid)


@proc.field(
    "proc.sname",
    T.CHARBUF,
    "the name of the current process's session leader. This is either the process with "
    "pid=proc.sid or the eldest ancestor that has the same sid as the current process.",
)
def _sname(evt: Any, arg: Any) -> str | None:
    leader = _leader(evt, "sid")
    return None if leader is None else leader.comm


@proc.field("proc.sid.exe", T.CHARBUF, "the proc.exe of the current process's session leader.")
def _sid_exe(evt: Any, arg: Any) -> str | None:
    leader = _leader(evt, "sid")
    return None if leader is None else leader.exe


_f(
    "proc.tty",
    T.INT32,
    "The controlling terminal of the process. 0 for processes without a terminal.",
    lambda t: t.tty,
)
_f("proc.exepath", T.CHARBUF, "The full executable path of the process.", lambda t: t.exepath)
_f(
    "proc.vpgid",
    T.INT64,
    "the process group id of the process generating the event, as seen from its current PID "
    "namespace.",
    lambda t: t.vpgid,
)


@proc.field("proc.vpgid.name", T.CHARBUF, "the name of the current process's process group leader.")
def _vpgid_name(evt: Any, arg: Any) -> str | None:
    leader = _leader(evt, "vpgid")
    return None if leader is None else leader.comm


def _probe(category: int) -> Extractor:
    def extract(evt: Any, arg: Any) -> bool | None:
        t = evt.thread
        return None if t is None else t.category == category

    return extract


proc.field(
    "proc.is_container_healthcheck",
    T.BOOL,
    "true if this process is running as a part of the container's health check.",
)(_probe(CAT_HEALTHCHECK))
proc.field(
    "proc.is_container_liveness_probe",
    T.BOOL,
    "true if this process is running as a part of the container's liveness probe.",
)(_probe(CAT_LIVENESS_PROBE))
proc.field(
    "proc.is_container_readiness_probe",
    T.BOOL,
    "true if this process is running as a part of the container's readiness probe.",
)(_probe(CAT_READINESS_PROBE))
_f(
    "proc.is_exe_writable",
    T.BOOL,
    "true if this process' executable file is writable by the same user that spawned the "
    "process.",
    lambda t: t.exe_writable,
)
_f(
    "proc.is_exe_upper_layer",
    T.BOOL,
    "'true' if this process' executable file is in upper layer in overlayfs. This field value "
    "can only be trusted if the underlying kernel version is greater or equal than 3.18.0, "
    "since overlayfs was introduced at that time.",
    lambda t: t.exe_upper_layer,
)
_f(
    "proc.pvpid",
    T.INT64,
    "the id of the parent process generating the event as seen from its current PID namespace.",
    lambda t: (lambda p: None if p is None or p.vpid == -1 else p.vpid)(_ptid_thread(t)),
)
_f(
    "thread.nametid",
    T.CHARBUF,
    "this field chains the process name and tid of a thread.",
    lambda t: f"{t.comm}{t.tid}",
    flags=FieldFlag.HIDDEN,
)

# -- current-libs process fields (execve exit params 19-25, clone param 20, PL v9) ------
_f(
    "proc.is_exe_from_memfd",
    T.BOOL,
    "'true' if the executable file of the current process is an anonymous file created using "
    "memfd_create() and is being executed by referencing its file descriptor (fd). This type "
    "of file exists only in memory and not on disk. Relevant to detect malicious in-memory code "
    "injection. Requires kernel version greater or equal to 3.17.0.",
    lambda t: t.exe_from_memfd,
)
_f(
    "proc.is_sid_leader",
    T.BOOL,
    "'true' if this process is the leader of the process session, proc.sid == proc.vpid. For "
    "host processes vpid reflects pid.",
    lambda t: t.sid == t.vpid,
)
_f(
    "proc.is_vpgid_leader",
    T.BOOL,
    "'true' if this process is the leader of the virtual process group, proc.vpgid == "
    "proc.vpid. For host processes vpgid and vpid reflect pgid and pid. Can help to "
    "distinguish if the process was 'directly' executed for instance in a tty (similar to bash "
    "history logging, `is_vpgid_leader` would be 'true') or executed as descendent process in "
    "the same process group which for example is the case when subprocesses are spawned from a "
    "script (`is_vpgid_leader` would be 'false').",
    lambda t: t.vpgid == t.vpid,
)


def _nonzero(attr: str) -> Callable[[ThreadInfo], int | None]:
    """libsinsp uses 0 as "not known" for the inode facts and the pidns start."""

    def get(t: ThreadInfo) -> int | None:
        v: int = getattr(t, attr)
        return v or None

    return get


_f(
    "proc.exe_ino",
    T.INT64,
    "The inode number of the executable file on disk. Can be correlated with fd.ino.",
    _nonzero("exe_ino"),
)
_f(
    "proc.exe_ino.ctime",
    T.ABSTIME,
    "Last status change time of executable file (inode->ctime) as epoch timestamp in "
    "nanoseconds. Time is changed by writing or by setting inode information e.g. owner, "
    "group, link count, mode etc.",
    _nonzero("exe_ino_ctime"),
)
_f(
    "proc.exe_ino.mtime",
    T.ABSTIME,
    "Last modification time of executable file (inode->mtime) as epoch timestamp in "
    "nanoseconds. Time is changed by file modifications, e.g. by mknod, truncate, utime, write "
    "of more than zero bytes etc. For tracking changes in owner, group, link count or mode, "
    "use proc.exe_ino.ctime instead.",
    _nonzero("exe_ino_mtime"),
)
_f(
    "proc.exe_ino.ctime_duration_proc_start",
    T.ABSTIME,
    "Number of nanoseconds between modifying status of executable image and spawning a new "
    "process using the changed executable image.",
    _nonzero("exe_ino_ctime_duration_clone_ts"),
)
_f(
    "proc.exe_ino.ctime_duration_pidns_start",
    T.ABSTIME,
    "Number of nanoseconds between PID namespace start ts and ctime exe file if PID namespace "
    "start predates ctime.",
    _nonzero("exe_ino_ctime_duration_pidns_start"),
)
_f(
    "proc.pidns_init_start_ts",
    T.UINT64,
    "Start of PID namespace (container or non container pid namespace) as epoch timestamp in "
    "nanoseconds.",
    _nonzero("pidns_init_start_ts"),
)

#: Capability names by bit number (libsinsp sinsp_utils::caps_to_string's table).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip


def caps_to_string(caps: int) -> str:
    """Names of the set bits, space separated, lowest bit first; bits past the table
    are dropped (libsinsp does the same). An empty set is the empty string, not N/A."""
    return " ".join(name for i, name in enumerate(CAPABILITIES) if caps >> i & 1)


for _which in ("permitted", "inheritable", "effective"):
    _f(
        f"thread.cap_{_which}",
        T.CHARBUF,
        f"The {_which} capabilities set",
        (lambda attr: lambda t: caps_to_string(getattr(t, attr)))(f"cap_{_which}"),
    )

_f(
    "proc.cmdnargs",
    T.UINT64,
    "The number of command line args (proc.args).",
    lambda t: len(t.args),
)
_f(
    "proc.cmdlenargs",
    T.UINT64,
    "The total count of characters / length of the command line args (proc.args) combined "
    "excluding whitespaces between args.",
    lambda t: sum(len(a) for a in t.args),
)


def _leader_attr(kind: str, attr: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> str | None:
        leader = _leader(evt, kind)
        return None if leader is None else getattr(leader, attr)

    return extract


proc.field(
    "proc.sid.exepath",
    T.CHARBUF,
    "The full executable path of the current process's session leader. This is either the "
    "process with pid=proc.sid or the eldest ancestor that has the same sid as the current "
    "process.",
)(_leader_attr("sid", "exepath"))
proc.field(
    "proc.vpgid.exe",
    T.CHARBUF,
    "The first command line argument argv[0] (usually the executable name or a custom one) of "
    "the current process's process group leader.",
)(_leader_attr("vpgid", "exe"))
proc.field(
    "proc.vpgid.exepath",
    T.CHARBUF,
    "The full executable path of the current process's process group leader.",
)(_leader_attr("vpgid", "exepath"))
_f(
    "proc.pid.ts",
    T.RELTIME,
    "Start of process as epoch timestamp in nanoseconds.",
    lambda t: t.clone_ts or None,
)


_f(
    "proc.ppid.ts",
    T.RELTIME,
    "Start of parent process as epoch timestamp in nanoseconds.",
    _of_parent(lambda p: p.clone_ts),
)


@proc.field(
    "proc.ppid.duration", T.RELTIME, "Number of nanoseconds since the parent process started."
)
def _ppid_duration(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    p = None if t is None else _ptid_thread(t)
    if p is None or not p.clone_ts:
        return None
    return int(evt.ts) - p.clone_ts


PROCESS_CLASS = proc.build()
REGISTRIES["syscall"].register(PROCESS_CLASS)

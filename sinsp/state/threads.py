"""Thread table: what sinsp knows about every thread and process.

sinsp keeps one ``ThreadInfo`` per thread id. Threads of one process share the
main thread's fd table when they were cloned with ``CLONE_FILES`` and its cwd
with ``CLONE_FS`` (libsinsp ``get_fd_table()`` / ``get_cwd_root()``), so those
lookups go through the table rather than copying state into each thread.

The table is bounded: past ``max_threads`` the oldest-inserted non-main entries
are evicted and counted, so a fork bomb cannot grow our memory without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sinsp.state.fds import FdTable

if TYPE_CHECKING:
    from scap import EventRecord

# PPM_CL_* clone flags (driver/ppm_events_public.h), as carried by clone/execve
# exit events and by the capture's process list.
CL_CLONE_FILES = 1 << 0
CL_CLONE_FS = 1 << 1
CL_CLONE_NEWPID = 1 << 6
CL_CLONE_PARENT = 1 << 8
CL_CLONE_THREAD = 1 << 13
CL_CLONE_VM = 1 << 15
CL_CLONE_INVERTED = 1 << 16
CL_NAME_CHANGED = 1 << 17
CL_CLOSED = 1 << 18
CL_CLONE_NEWUSER = 1 << 20
CL_CLONE_VFORK = 1 << 27
CL_CHILD_IN_PIDNS = 1 << 29
CL_IS_MAIN_THREAD = 1 << 30

#: Default bound on the thread table (libsinsp's default max is 131072).
DEFAULT_MAX_THREADS = 131072


class ThreadInfo:
    """One thread. Process-wide properties are read through ``main_thread()``.

    Attribute names follow the scap process-list fields so that a
    ``scap.ProcInfo`` can seed a ``ThreadInfo`` field by field.
    """

    __slots__ = (
        "_table",
        "args",
        "cap_effective",
        "cap_inheritable",
        "cap_permitted",
        "category",
        "cgroups",
        "clone_ts",
        "comm",
        "container_id",
        "cwd",
        "env",
        "exe",
        "exe_from_memfd",
        "exe_ino",
        "exe_ino_ctime",
        "exe_ino_ctime_duration_clone_ts",
        "exe_ino_ctime_duration_pidns_start",
        "exe_ino_mtime",
        "exe_lower_layer",
        "exe_upper_layer",
        "exe_writable",
        "exepath",
        "fdlimit",
        "fdtable",
        "flags",
        "gid",
        "last_enter",
        "lastexec_ts",
        "loginuid",
        "nchilds",
        "pfmajor",
        "pfminor",
        "pgid",
        "pid",
        "pidns_init_start_ts",
        "ptid",
        "root",
        "sid",
        "tid",
        "tty",
        "uid",
        "vmrss_kb",
        "vmsize_kb",
        "vmswap_kb",
        "vpgid",
        "vpid",
        "vtid",
    )

    def __init__(self, tid: int, pid: int | None = None, ptid: int = -1) -> None:
        self._table: ThreadTable | None = None
        self.tid = tid
        self.pid = tid if pid is None else pid
        self.ptid = ptid
        self.sid = -1
        self.vpgid = -1
        self.comm = ""
        self.exe = ""
        self.exepath = ""
        self.args: list[str] = []
        self.env: list[str] = []
        self.cwd = "/"
        self.root = "/"
        self.fdlimit = 0
        self.flags = 0
        self.uid = 0xFFFFFFFF
        self.gid = 0xFFFFFFFF
        self.loginuid = 0xFFFFFFFF
        self.vmsize_kb = 0
        self.vmrss_kb = 0
        self.vmswap_kb = 0
        self.pfmajor = 0
        self.pfminor = 0
        self.vtid = -1
        self.vpid = -1
        self.tty = 0
        self.exe_writable = False
        self.cap_inheritable = 0
        self.cap_permitted = 0
        self.cap_effective = 0
        # current-libs executable facts (execve exit params 19-25, PL v9); 0/False
        # when the capture does not carry them, which the fields show as N/A
        self.exe_upper_layer = False
        self.exe_lower_layer = False
        self.exe_from_memfd = False
        self.exe_ino = 0
        self.exe_ino_ctime = 0
        self.exe_ino_mtime = 0
        self.exe_ino_ctime_duration_clone_ts = 0
        self.exe_ino_ctime_duration_pidns_start = 0
        #: start of the thread's pid namespace, ns since epoch (0 = unknown)
        self.pidns_init_start_ts = 0
        self.pgid = -1
        self.cgroups: list[tuple[str, str]] = []
        self.container_id = ""
        #: sinsp command category (containers.CAT_*): container init, probe...
        self.category = 0
        self.clone_ts = 0
        self.lastexec_ts = 0
        self.nchilds = 0
        self.fdtable = FdTable()
        #: The last enter record of this thread, so that an exit event can
        #: read parameters only its enter carried (old enter+exit captures).
        self.last_enter: EventRecord | None = None

    def __repr__(self) -> str:
        return f"ThreadInfo(tid={self.tid}, pid={self.pid}, ptid={self.ptid}, comm={self.comm!r})"

    # -- process-level views -------------------------------------------------

    def is_main_thread(self) -> bool:
        return self.tid == self.pid or bool(self.flags & CL_IS_MAIN_THREAD)

    def main_thread(self) -> ThreadInfo | None:
        """The thread that stands for the process (tid == pid), if known."""
        if self.is_main_thread():
            return self
        if self._table is None:
            return None
        return self._table.get(self.pid)

    def parent(self) -> ThreadInfo | None:
        """The parent process's thread (``ptid`` of the main thread)."""
        if self._table is None:
            return None
        mt = self.main_thread()
        if mt is None:
            return None
        return self._table.get(mt.ptid)

    def parent_thread(self) -> ThreadInfo | None:
        """The thread whose tid is our ptid (libsinsp get_parent_thread())."""
        return self._table.get(self.ptid) if self._table is not None else None

    def fd_table(self) -> FdTable | None:
        """The fd table this thread uses: its process's when CLONE_FILES."""
        if not self.flags & CL_CLONE_FILES:
            return self.fdtable
        mt = self.main_thread()
        return mt.fdtable if mt is not None else None

    def cwd_root(self) -> ThreadInfo | None:
        if not self.flags & CL_CLONE_FS:
            return self
        return self.main_thread()

    def get_cwd(self) -> str:
        root = self.cwd_root()
        return root.cwd if root is not None else "./"

    def set_cwd(self, path: str) -> None:
        """Apply chdir(path): relative paths join the current cwd."""
        root = self.cwd_root()
        if root is None:
            return
        root.cwd = _normalize_dir(join_path(root.cwd, path))

    @property
    def ancestors(self) -> Iterator[ThreadInfo]:
        """Parent, grandparent, ... (main threads), stopping on a loop or a gap."""
        seen = {self.tid}
        cur = self.main_thread()
        while cur is not None and self._table is not None:
            nxt = self._table.get(cur.ptid)
            if nxt is None or nxt.tid in seen:
                return
            seen.add(nxt.tid)
            yield nxt
            cur = nxt

    def cmdline(self) -> str:
        return " ".join([self.comm, *self.args]) if self.args else self.comm

    def cgroup(self, subsys: str) -> str | None:
        for name, path in self.cgroups:
            if name == subsys:
                return path
        return None


def _normalize_dir(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def join_path(base: str, rel: str) -> str:
    """Resolve ``rel`` against directory ``base`` like sinsp's concatenate_paths.

    Absolute ``rel`` wins; ``.`` and ``..`` components are folded; the result
    never climbs above ``/``. Trailing slashes are dropped except on ``/``.
    """
    if not rel:
        return base
    path = rel if rel.startswith("/") else base.rstrip("/") + "/" + rel
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


@dataclass(slots=True)
class ThreadTableStats:
    added: int = 0
    removed: int = 0
    evicted: int = 0


class ThreadTable:
    """tid → ThreadInfo, bounded, with counted evictions."""

    __slots__ = ("_threads", "listener", "max_threads", "stats")

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS) -> None:
        self._threads: dict[int, ThreadInfo] = {}
        self.max_threads = max_threads
        self.stats = ThreadTableStats()
        #: called with the tid of every thread added, replaced, removed or evicted (a cache
        #: of the table, such as sinsp's native printer, drops what it holds for it)
        self.listener: Callable[[int], None] | None = None

    def __len__(self) -> int:
        return len(self._threads)

    def __iter__(self) -> Iterator[ThreadInfo]:
        return iter(list(self._threads.values()))

    def __contains__(self, tid: int) -> bool:
        return tid in self._threads

    def get(self, tid: int) -> ThreadInfo | None:
        return self._threads.get(tid)

    def add(self, ti: ThreadInfo) -> ThreadInfo:
        """Insert (or replace) ``ti``; evict the oldest entry past the bound."""
        old = self._threads.pop(ti.tid, None)
        if old is None and len(self._threads) >= self.max_threads:
            self._evict_one()
        ti._table = self
        self._threads[ti.tid] = ti
        self.stats.added += 1
        if self.listener is not None:
            self.listener(ti.tid)
        return ti

    def remove(self, tid: int) -> ThreadInfo | None:
        ti = self._threads.pop(tid, None)
        if ti is not None:
            self.stats.removed += 1
            parent = self._threads.get(ti.ptid)
            if parent is not None and parent.nchilds > 0:
                parent.nchilds -= 1
            if self.listener is not None:
                self.listener(tid)
        return ti

    def _evict_one(self) -> None:
        # dicts keep insertion order: the first key is the oldest insert.
        for tid in self._threads:
            del self._threads[tid]
            self.stats.evicted += 1
            if self.listener is not None:
                self.listener(tid)
            return

    def threads_of(self, pid: int) -> list[ThreadInfo]:
        return [t for t in self._threads.values() if t.pid == pid]


# -- executable facts of current drivers -----------------------------------------------
# PPM_EXE_* bits of the execve/execveat exit "flags" param (driver ppm_events_public.h);
# 0.29.3-era drivers only ever set EXE_WRITABLE.
EXE_WRITABLE = 1 << 0
EXE_UPPER_LAYER = 1 << 1
EXE_FROM_MEMFD = 1 << 2
EXE_LOWER_LAYER = 1 << 3

#: What a new thread takes over from the thread it was cloned from (libsinsp
#: parse_clone_exit copies these from the caller, or from the parent/leader).
INHERITED_EXE_ATTRS = (
    "exe_upper_layer",
    "exe_lower_layer",
    "exe_from_memfd",
    "exe_ino",
    "exe_ino_ctime",
    "exe_ino_mtime",
    "exe_ino_ctime_duration_clone_ts",
    "pgid",
)


def inherit_exe_state(child: ThreadInfo, source: ThreadInfo) -> None:
    """Copy the executable facts a clone child shares with its caller/parent."""
    for attr in INHERITED_EXE_ATTRS:
        setattr(child, attr, getattr(source, attr))


def set_clone_pidns_start(
    child: ThreadInfo, own_event: bool, pidns_param: object, boot_ts_epoch: int
) -> None:
    """``pidns_init_start_ts`` of a clone child, as current libsinsp computes it.

    The driver sends the pid namespace's start as ns since boot (clone exit param 20);
    sinsp adds the machine's boot time. A child created from the caller's event, or not
    in a child pid namespace, gets the boot time itself (the host namespace's start).
    Without a boot time (0.29.3-era machine blocks) the value stays unknown (0).
    """
    if not boot_ts_epoch:
        return
    in_pidns = bool(child.flags & (CL_CHILD_IN_PIDNS | CL_CLONE_NEWPID)) or (
        child.vtid not in (-1, child.tid)
    )
    if own_event and in_pidns:
        if isinstance(pidns_param, int):
            child.pidns_init_start_ts = pidns_param + boot_ts_epoch
    else:
        child.pidns_init_start_ts = boot_ts_epoch


def apply_exec_params(ti: ThreadInfo, param: Callable[[str], object]) -> None:
    """Apply what a current-libs execve/execveat exit says about the new image.

    ``param(name)`` returns the event's parameter or None when this version lacks it.
    Follows libsinsp parse_execve_exit: the layer/memfd bits of ``flags``, the exe inode
    and its ctime/mtime (params 23-25, all or none) and the two ctime durations.
    """
    flags = param("flags")
    if isinstance(flags, int):
        ti.exe_upper_layer = bool(flags & EXE_UPPER_LAYER)
        ti.exe_lower_layer = bool(flags & EXE_LOWER_LAYER)
        ti.exe_from_memfd = bool(flags & EXE_FROM_MEMFD)
    mtime = param("exe_ino_mtime")
    if isinstance(mtime, int):
        ti.exe_ino = _as_int(param("exe_ino"))
        ti.exe_ino_ctime = _as_int(param("exe_ino_ctime"))
        ti.exe_ino_mtime = mtime
        update_exe_durations(ti)
    # (pgid is not taken here: the 0.29.3 table names param 17, the vpgid, "pgid")


def update_exe_durations(ti: ThreadInfo) -> None:
    """libsinsp's two derived ctime values (kept as it computes them: the clone one is
    ``clone_ts - ctime`` whenever the clone time is known, unsigned 64-bit)."""
    if ti.clone_ts:
        ti.exe_ino_ctime_duration_clone_ts = (ti.clone_ts - ti.exe_ino_ctime) & 0xFFFFFFFFFFFFFFFF
    start = ti.pidns_init_start_ts
    if start and ti.exe_ino_ctime > start:
        ti.exe_ino_ctime_duration_pidns_start = ti.exe_ino_ctime - start


def seed_exe_state(ti: ThreadInfo, proc: object) -> None:
    """Fill the current-libs attributes from a ``scap.ProcInfo`` (PL v9 carries them)."""
    g = getattr
    ti.pidns_init_start_ts = _as_int(g(proc, "pidns_init_start_ts", 0))
    ti.exe_upper_layer = bool(g(proc, "exe_upper_layer", False))
    ti.exe_lower_layer = bool(g(proc, "exe_lower_layer", False))
    ti.exe_from_memfd = bool(g(proc, "exe_from_memfd", False))
    ti.exe_ino = _as_int(g(proc, "exe_ino", 0))
    ti.exe_ino_ctime = _as_int(g(proc, "exe_ino_ctime", 0))
    ti.exe_ino_mtime = _as_int(g(proc, "exe_ino_mtime", 0))
    ti.pgid = _as_int(g(proc, "pgid", -1), -1)
    if ti.exe_ino_ctime:
        update_exe_durations(ti)


def _as_int(v: object, default: int = 0) -> int:
    return v if isinstance(v, int) else default

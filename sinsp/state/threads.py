"""Thread table: what sinsp knows about every thread and process.

sinsp keeps one ``ThreadInfo`` per thread id. Threads of one process share the
main thread's fd table when they were cloned with ``CLONE_FILES`` and its cwd
with ``CLONE_FS`` (libsinsp ``get_fd_table()`` / ``get_cwd_root()``), so those
lookups go through the table rather than copying state into each thread.

The table is bounded: past ``max_threads`` the oldest-inserted non-main entries
are evicted and counted, so a fork bomb cannot grow our memory without limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sinsp.state.fds import FdTable

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
        "pid",
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
        self.last_enter: object | None = None

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

    __slots__ = ("_threads", "max_threads", "stats")

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS) -> None:
        self._threads: dict[int, ThreadInfo] = {}
        self.max_threads = max_threads
        self.stats = ThreadTableStats()

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
        return ti

    def remove(self, tid: int) -> ThreadInfo | None:
        ti = self._threads.pop(tid, None)
        if ti is not None:
            self.stats.removed += 1
            parent = self._threads.get(ti.ptid)
            if parent is not None and parent.nchilds > 0:
                parent.nchilds -= 1
        return ti

    def _evict_one(self) -> None:
        # dicts keep insertion order: the first key is the oldest insert.
        for tid in self._threads:
            del self._threads[tid]
            self.stats.evicted += 1
            return

    def threads_of(self, pid: int) -> list[ThreadInfo]:
        return [t for t in self._threads.values() if t.pid == pid]

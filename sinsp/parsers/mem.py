"""Memory counters and limits: brk/mmap/mmap2/munmap exits and context switches carry the
thread's current vm_size/vm_rss/vm_swap (and switches its page-fault counts);
sinsp copies them into the thread so ``proc.vmsize`` & co. stay current;
get/set/prlimit(RLIMIT_NOFILE) update ``proc.fdlimit``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

_VM = (("vmsize_kb", "vm_size"), ("vmrss_kb", "vm_rss"), ("vmswap_kb", "vm_swap"))
_PF = (("pfmajor", "pgft_maj"), ("pfminor", "pgft_min"))


def _copy(evt: Event, pairs: tuple[tuple[str, str], ...]) -> None:
    ti = evt.thread
    if ti is None:
        return
    for attr, pname in pairs:
        v = evt.param(pname)
        if isinstance(v, int):
            setattr(ti, attr, v)


def parse_vm_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    _copy(evt, _VM)


def parse_switch(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """Page faults are the thread's; the vm counters belong to its main thread."""
    _copy(evt, _PF)
    ti = evt.thread
    mt = ti.main_thread() if ti is not None else None
    if mt is None:
        return
    for attr, pname in _VM:
        v = evt.param(pname)
        if isinstance(v, int):
            setattr(mt, attr, v)


RLIMIT_NOFILE = 7  # PPM_RLIMIT_NOFILE


def parse_rlimit_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """getrlimit/setrlimit(RLIMIT_NOFILE): the process's fd limit (proc.fdlimit)."""
    ti = evt.thread
    res = evt.record.param(0) if int(evt.record.nparams) else None
    if ti is None or not isinstance(res, int) or res < 0 or evt.enter is None:
        return
    if evt.enter_param("resource") != RLIMIT_NOFILE:
        return
    cur = evt.param("cur")
    mt = ti.main_thread()
    if isinstance(cur, int) and cur not in (-1, 0xFFFFFFFFFFFFFFFF) and mt is not None:
        mt.fdlimit = cur


def parse_prlimit_exit(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """prlimit(pid, RLIMIT_NOFILE, ...): the target's fd limit; sinsp looks the
    pid up as given (so pid 0, "self", finds nothing)."""
    res = evt.record.param(0) if int(evt.record.nparams) else None
    if not isinstance(res, int) or res < 0 or evt.enter is None:
        return
    if evt.enter_param("resource") != RLIMIT_NOFILE:
        return
    newcur = evt.param("newcur")
    target = insp.threads.get(evt.enter_param("pid", -1))
    mt = target.main_thread() if target is not None else None
    if isinstance(newcur, int) and newcur not in (-1, 0xFFFFFFFFFFFFFFFF) and mt is not None:
        mt.fdlimit = newcur


HANDLERS = {
    ("brk", "X"): parse_vm_exit,
    ("mmap", "X"): parse_vm_exit,
    ("mmap2", "X"): parse_vm_exit,
    ("munmap", "X"): parse_vm_exit,
    ("switch", "E"): parse_switch,
    ("getrlimit", "X"): parse_rlimit_exit,
    ("setrlimit", "X"): parse_rlimit_exit,
    ("prlimit", "X"): parse_prlimit_exit,
}

"""Memory counters: brk/mmap/mmap2/munmap exits and context switches carry the
thread's current vm_size/vm_rss/vm_swap (and switches its page-fault counts);
sinsp copies them into the thread so ``proc.vmsize`` & co. stay current."""

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
    _copy(evt, _PF + _VM)


HANDLERS = {
    ("brk", "X"): parse_vm_exit,
    ("mmap", "X"): parse_vm_exit,
    ("mmap2", "X"): parse_vm_exit,
    ("munmap", "X"): parse_vm_exit,
    ("switch", "E"): parse_switch,
}

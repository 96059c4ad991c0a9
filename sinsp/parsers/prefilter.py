"""Which event types the state layer needs, so the rest can be dropped below Python.

A consumer (a filter, the rule engine) looks at a few event types; the inspector must still
see every event that changes the state those types are judged against. This module computes
that set; ``Inspector.from_capture(path, event_types=...)`` hands the union to
``scap.open(path, event_types=...)``, whose C scanner skips every other event before a Python
object exists for it (the events still count for ``evt.num``: see ``EventRecord.seq``).

What the state needs, and why (event names; every version and both directions of each):

* **Always** (``CORE``): every type libs flags ``EF_MODIFIES_STATE`` -- the set Falco keeps
  in its kernel filter (``sinsp_state_sc_set``): process life and identity (clone, fork,
  vfork, clone3, execve, execveat, procexit, set*id, setsid, setpgid, prctl, capset, chdir,
  fchdir, chroot), every call that creates, names, retargets or destroys an fd (open,
  openat, openat2, open_by_handle_at, creat, close, dup*, fcntl, pipe*, socket, socketpair,
  bind, connect, accept*, shutdown, eventfd*, signalfd*, timerfd_create, inotify_init*,
  epoll_create*, io_uring_setup, memfd_create, pidfd_*, userfaultfd, getsockopt), the
  datagram calls that re-address sockets (sendto, sendmsg, recvfrom, recvmsg), mount/umount,
  and the metaevents (container, user/group added/deleted, cpu_hotplug, k8s, mesos). Added
  to libs' list: ``bpf`` (its exit creates an fd here) and ``getcwd`` (sinsp refreshes the
  cwd from it); both are rare.
* **Only for some fields** (``AUX``): brk/mmap/mmap2/munmap and ``switch`` carry the vm and
  page-fault counters (``proc.vm*``, ``thread.vm*``, ``thread.pf*``); get/set/prlimit set the
  fd limit (``proc.fdlimit``, ``proc.fdusage``); the read/write calls mark inet sockets
  connected (``fd.connected``). libs leaves these out of the state set too;
  they are added back only when a field that reads them is used (or when the fields are
  unknown: ``fields=None``).
* The **enter event of every kept exit**: exits of old captures carry only the return
  value, and the parsers and fields read the rest from the paired enter (``evt.enter``).

What a prefilter cannot preserve (and Falco's kernel filter does not either): a thread that
appears only in dropped events is not created on demand, so thread-table counters and
eviction order can differ from an unfiltered run; the fields of kept events do not (tested on
every real capture in ``tests/sinsp/test_prefilter.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "AUX",
    "CORE_EXTRA",
    "fields_of",
    "filter_interest",
    "filter_prefilter",
    "output_fields",
    "prefilter_types",
    "rules_interest",
    "rules_prefilter",
    "state_event_types",
]

#: state events beyond libs' EF_MODIFIES_STATE ones, always kept
CORE_EXTRA = frozenset({"bpf", "getcwd"})

#: event names -> field-name prefixes that read the state they update
AUX: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"brk", "mmap", "mmap2", "munmap", "switch"}):
        ("proc.vm", "thread.vm", "thread.pf"),
    frozenset({"getrlimit", "setrlimit", "prlimit"}): ("proc.fdlimit", "proc.fdusage"),
    # a successful read/write on an inet socket marks it connected (sinsp parse_rw_exit)
    frozenset({"read", "write", "recv", "send", "readv", "writev", "pread", "pwrite",
               "preadv", "pwritev"}): ("fd.connected",),
}

_EF_MODIFIES_STATE = 1 << 5

_core: frozenset[int] | None = None
_by_name: dict[str, frozenset[int]] = {}


def _types_named(names: Iterable[str]) -> frozenset[int]:
    from scap import schema

    if not _by_name:
        acc: dict[str, set[int]] = {}
        for t, info in enumerate(schema.EVENT_INFO):
            acc.setdefault(info.name, set()).add(t)
        _by_name.update({k: frozenset(v) for k, v in acc.items()})
    out: set[int] = set()
    for n in names:
        out |= _by_name.get(n, frozenset())
    return frozenset(out)


def _core_types() -> frozenset[int]:
    global _core
    if _core is None:
        from scap import schema

        names = {info.name for info in schema.EVENT_INFO if info.flags & _EF_MODIFIES_STATE}
        _core = _types_named(names | CORE_EXTRA)
    return _core


def state_event_types(fields: Iterable[str] | None = None) -> frozenset[int]:
    """The event types the state layer needs when the consumer reads ``fields`` (field names
    such as ``"proc.vmsize"``; ``None`` = any field, so every state event is kept)."""
    out = set(_core_types())
    names = None if fields is None else list(fields)
    for events, prefixes in AUX.items():
        if names is None or any(n.startswith(prefixes) for n in names):
            out |= _types_named(events)
    return frozenset(out)


def prefilter_types(event_types: Iterable[int] | None,
                    fields: Iterable[str] | None = None) -> frozenset[int] | None:
    """The set to pass to ``scap.open(event_types=...)`` for a consumer that evaluates events
    of ``event_types`` (``None`` = all: no prefilter) reading ``fields``: those types, the
    state events, and the enter event of every kept exit."""
    if event_types is None:
        return None
    wanted = set(event_types) | state_event_types(fields)
    wanted |= {t - 1 for t in wanted if t & 1}
    return frozenset(wanted)


def fields_of(node: Any) -> set[str]:
    """Names of the fields a filter AST reads (``sinsp.filter.ast`` nodes, walked by shape)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            stack.extend(n)
            continue
        name = getattr(n, "name", None)
        if isinstance(name, str) and hasattr(n, "transformers"):  # a FieldRef
            out.add(name)
            continue
        for attr in ("children", "child", "field", "value", "items"):
            sub = getattr(n, attr, None)
            if sub is not None and not isinstance(sub, str):
                stack.append(sub)
    return out


_OUTPUT_FIELD = re.compile(r"%\(?([A-Za-z_][\w.]*)")


def output_fields(fmt: str) -> set[str]:
    """Field names in a Falco output / sysdig ``-p`` format (``%proc.name``, ``%(fd.name)``)."""
    return set(_OUTPUT_FIELD.findall(fmt or ""))


def filter_interest(flt: Any, output: str | None = None
                    ) -> tuple[frozenset[int] | None, frozenset[str]]:
    """What a compiled ``sinsp.filter.Filter`` (and an optional output format, whose fields
    are read on matching events) looks at: ``(event_types, fields)``, the two arguments of
    ``Inspector.from_capture``."""
    return flt.event_types, frozenset(fields_of(flt.ast) | output_fields(output or ""))


def rules_interest(rules: Iterable[Any]) -> tuple[frozenset[int] | None, frozenset[str]]:
    """What a set of rules looks at (objects with ``event_types``, ``ast`` and ``output``,
    e.g. ``RuleEngine.enabled_rules("syscall")``): ``(event_types, fields)`` -- the union of
    their event types (``None`` if any rule can match every type) and the fields of their
    conditions and outputs. Pass both to ``Inspector.from_capture``."""
    types: set[int] | None = set()
    fields: set[str] = set()
    for r in rules:
        if r.event_types is None:
            types = None
        elif types is not None:
            types |= r.event_types
        fields |= fields_of(r.ast) | output_fields(getattr(r, "output", "") or "")
    return (None if types is None else frozenset(types)), frozenset(fields)


def filter_prefilter(flt: Any, output: str | None = None) -> frozenset[int] | None:
    """The final ``scap.open(event_types=...)`` set for a filter (``prefilter_types`` of
    ``filter_interest``)."""
    return prefilter_types(*filter_interest(flt, output))


def rules_prefilter(rules: Iterable[Any]) -> frozenset[int] | None:
    """The final ``scap.open(event_types=...)`` set for rules (``prefilter_types`` of
    ``rules_interest``); also what a live source's syscall filter should cover."""
    return prefilter_types(*rules_interest(rules))

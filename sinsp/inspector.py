"""The Inspector: drives a scap source through the parsers into state.

``Inspector`` is the one place where records become ``Event``s. For each
record it finds the thread, pairs an exit with its enter, resolves the fd the
event uses, runs the parser for its type, and yields the event. Whatever the
parser asked to forget (a ``Verdict``) is applied only when the consumer asks
for the next event, so ``procexit`` and ``close`` still resolve their names.

Numbering follows sinsp on files: every record the source returns gets an
``evt.num``; state-only records (dump flag bit 0) and container events that
precede the first other event are parsed but not yielded.

Prefilter: ``Inspector.from_capture(path, event_types=..., fields=...)`` opens the
capture so that only the consumer's event types plus those the state needs
(``sinsp.parsers.prefilter``) are ever decoded into Python; records carry their
index in the unfiltered capture (``EventRecord.seq``), so ``evt.num`` is the
same with and without the prefilter.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sinsp.event import Event, named_param, param_at
from sinsp.hotpath import HotStats, Program, compile_program
from sinsp.localpred import Node
from sinsp.parsers import PARSERS as _PARSERS
from sinsp.parsers import PLAN as _PLAN
from sinsp.parsers import (
    PLAN_CONTAINER,
    PLAN_EXIT,
    PLAN_NO_CREATE,
    PLAN_SKIPRESET,
    PLAN_USES_FD,
    ensure_built,
)
from sinsp.parsers.prefilter import prefilter_types
from sinsp.state.containers import ContainerTable, container_id_from_cgroups
from sinsp.state.fds import (
    DEFAULT_MAX_FDS,
    FLAG_CONNECTED,
    FLAG_ROLE_CLIENT,
    FLAG_ROLE_SERVER,
    L4_TCP,
    FdInfo,
    FdTable,
    FdTableStats,
    FdType,
    server_name,
    tuple_name,
)
from sinsp.state.threads import DEFAULT_MAX_THREADS, ThreadInfo, ThreadTable, seed_exe_state
from sinsp.state.users import UserTable
from sinsp.verdict import Verdict

SCAP_DF_STATE_ONLY = 1



class EventParseError(Exception):
    """A parser failed on one event (typically a malformed parameter).

    Carries where: the event number, its type and the byte offset of its
    block in the capture. By default the inspector counts it, keeps the last
    few in ``Inspector.parse_errors`` and goes on (state for that event is
    left as the parser had it); ``Inspector(strict=True)`` raises it instead.
    """

    def __init__(self, num: int, etype: int, offset: int | None, cause: BaseException) -> None:
        super().__init__(f"event {num} (type {etype}, offset {offset}): {cause!r}")
        self.num = num
        self.type = etype
        self.offset = offset
        self.cause = cause


@dataclass(slots=True)
class InspectorStats:
    """Counters a consumer can report (``--stats`` style)."""

    events: int = 0
    hidden_state_only: int = 0
    hidden_container: int = 0
    threads_created_on_demand: int = 0
    parse_errors: int = 0


class Inspector:
    """Iterate a capture (or live source) as state-linked ``Event``s.

    ``source`` is anything shaped like an open ``scap`` capture: iterable of
    ``EventRecord`` and carrying ``processes``, ``users``, ``groups``,
    ``machine`` and ``interfaces`` (missing attributes mean "none").
    """

    def __init__(
        self,
        source: Any,
        *,
        max_threads: int = DEFAULT_MAX_THREADS,
        max_fds: int = DEFAULT_MAX_FDS,
        strict: bool = False,
        event_types: Iterable[int] | None = None,
    ) -> None:
        ensure_built()
        self.strict = strict
        #: the most recent parser failures (bounded), oldest first
        self.parse_errors: deque[EventParseError] = deque(maxlen=32)
        self.source = source
        self.max_fds = max_fds
        self.threads = ThreadTable(max_threads)
        #: fd counters shared by every fd table this inspector creates
        self.fd_stats = FdTableStats()
        self.users = UserTable()
        self.containers = ContainerTable()
        self.machine = getattr(source, "machine", None)
        self.interfaces = list(getattr(source, "interfaces", None) or [])
        self.stats = InspectorStats()
        self._verdict = Verdict()
        #: the types iteration yields (``None``: all); others only update state
        self.event_types: frozenset[int] | None = (
            None if event_types is None else frozenset(event_types))
        #: the set the source was opened with by ``from_capture`` (``None``: every event)
        self.prefilter: frozenset[int] | None = None
        self._num = 0
        self._seen_non_container = False
        self._iter: Iterator[Any] | None = None
        self._closer: Any = None
        #: the live hot path's compiled trees (``set_hotpath``); ``None``: off
        self.hotpath_program: Program | None = None
        #: what the hot path absorbed (``opens``, ``closes``, ``absorbed``, ``as_dict()``)
        self.hot_stats = HotStats()
        #: called once per drained live batch with (its last record's ts or 0, records the
        #: hot path absorbed in it), after its events were yielded (empty batches too)
        self.on_batch: Callable[[int, int], None] | None = None
        self._live: Iterator[Event] | None = None
        self.users.load(getattr(source, "users", None) or [], getattr(source, "groups", None) or [])
        self.load_processes(getattr(source, "processes", None) or [])

    # -- construction -----------------------------------------------------------

    @classmethod
    def from_capture(
        cls,
        path: str | os.PathLike[str],
        *,
        event_types: Iterable[int] | None = None,
        fields: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> Inspector:
        """Open a ``.scap`` file (gzip or plain) with ``scap.open``.

        ``event_types``: the PPME codes the consumer evaluates (``None`` = every event: no
        prefilter); only events of those types are yielded. ``fields``: the field names it
        reads (``None`` = any). The inspector adds the types its state needs for those
        fields (parsed, not yielded) and the scanner drops every other event in C; that
        final set is ``insp.prefilter``. ``sinsp.parsers.prefilter`` computes
        both for a filter (``filter_interest``) or for rules (``rules_interest``)::

            types, fields = rules_interest(engine.enabled_rules("syscall"))
            insp = Inspector.from_capture(path, event_types=types, fields=fields)
        """
        import scap  # the layer below; imported late so sinsp state is usable alone

        wanted = prefilter_types(event_types, fields)
        cap = scap.open(path, event_types=wanted)
        cap_ctx = cap.__enter__() if hasattr(cap, "__enter__") else cap
        try:
            insp = cls(cap_ctx, event_types=event_types, **kwargs)
        except BaseException:
            cap.close()
            raise
        insp._closer = cap
        insp.prefilter = wanted
        return insp

    @property
    def prefiltered(self) -> int:
        """Events the prefilter kept from Python so far (numbered, never parsed); at the end
        of the source, all of them."""
        return self._num - self.stats.events

    def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None and hasattr(closer, "__exit__"):
            closer.__exit__(None, None, None)

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- initial state ----------------------------------------------------------

    def load_processes(self, processes: Iterable[Any]) -> None:
        """Seed the thread and fd tables from a process list (PL + FDL blocks)."""
        for p in processes:
            ti = thread_from_procinfo(p, self.max_fds, self.fd_stats)
            self.threads.add(ti)
            self._assign_container(ti)
        self._fix_sockets_from_proc()
        # children counts once every thread is known
        for ti in self.threads:
            if ti.is_main_thread():
                parent = self.threads.get(ti.ptid)
                if parent is not None:
                    parent.nchilds += 1

    def _fix_sockets_from_proc(self) -> None:
        """Give snapshot IPv4 sockets a role, as sinsp does after loading a process list:
        a connection whose local port is a port some process (any process, IPv4 or IPv6)
        listens on was accepted there, so it is a server socket and its peer the client
        (the ends are swapped to read client->server); any other one is a client. Measured
        on 0.29.3: the role is what fd.lip/rip/lport/rport need."""
        server_ports = {
            info.sport
            for t in self.threads
            for info in t.fdtable
            if info.type in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK)
        }
        done: set[int] = set()  # a table shared by threads is fixed once
        for t in self.threads:
            for info in t.fdtable:
                if info.type != FdType.IPV4_SOCK or id(info) in done:
                    continue
                done.add(id(info))
                if info.sport in server_ports:
                    info.sip, info.dip = info.dip, info.sip
                    info.sport, info.dport = info.dport, info.sport
                    info.name = tuple_name(False, info.sip or "", info.sport, info.dip or "",
                                           info.dport)
                    info.flags |= FLAG_ROLE_SERVER
                else:
                    info.flags |= FLAG_ROLE_CLIENT

    def _assign_container(self, ti: ThreadInfo) -> None:
        cid, ctype = container_id_from_cgroups(ti.cgroups)
        ti.container_id = cid
        if ctype is not None:
            self.containers.ensure(cid, ctype)

    # -- the live hot path ---------------------------------------------------------

    def set_hotpath(self, filters: Mapping[int, Node] | None) -> bool:
        """Absorb the open/close exits of a live source that no rule can match: ``filters``
        maps event types to ``sinsp.localpred`` trees (the engine's ``localfilter``); a
        record of a type without a tree is never absorbed; ``None`` turns the hot path off.
        Callable again (rules reload), also between events of a running iteration. Returns
        whether it is on (off without the C extension)."""
        self.hotpath_program = None if filters is None else compile_program(filters)
        return self.hotpath_program is not None

    def _live_events(self) -> Iterator[Event] | None:
        """The event generator over a live source's raw batches (a ``RingSource``, which has
        ``records_from_raw``; ``None`` for other sources), made once."""
        if self._live is None and hasattr(self.source, "records_from_raw"):
            from sinsp.hotpath import live_events

            self._live = live_events(self, self.source)
        return self._live

    # -- iteration ---------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        live = self._live_events()
        if live is not None:
            yield from live
            self._at_end()
            return
        records = self._records()
        process = self.process
        visible = self.event_types
        if visible is None:
            for rec in records:
                evt = process(rec)
                if evt is not None:
                    yield evt
        else:
            update = self._update
            for rec in records:
                if rec.type in visible:
                    evt = process(rec)
                    if evt is not None:
                        yield evt
                else:
                    update(rec)
        self._at_end()

    def next(self) -> Event | None:
        """The next visible event, or ``None`` at the end of the source."""
        live = self._live_events()
        if live is not None:
            evt = next(live, None)
            if evt is None:
                self._at_end()
            return evt
        visible = self.event_types
        for rec in self._records():
            if visible is not None and rec.type not in visible:
                self._update(rec)
                continue
            evt = self.process(rec)
            if evt is not None:
                return evt
        self._at_end()
        return None

    def _records(self) -> Iterator[Any]:
        """The source's records; a capture file's batches are chained in C, so no Python
        generator frame runs per record (live sources keep their own iteration)."""
        if self._iter is None:
            from scap import Capture

            src = self.source
            self._iter = chain.from_iterable(src.batches()) if isinstance(src, Capture) \
                else iter(src)
        return self._iter

    def _at_end(self) -> None:
        verdict = self._verdict
        if verdict:
            verdict.apply(self.threads)
        # the events a prefilter dropped after the last kept one are numbered too
        self._num = max(self._num, getattr(self.source, "events_seen", 0))

    def apply_pending(self) -> list[tuple[FdTable, int]]:
        """Apply now the removals the last event's parser deferred (``process`` applies them
        before the next event), for a consumer that reads the state between events without
        feeding one (sinsp's native printer, whose cache must not outlive them). Returns
        the removed (fd table, fd) pairs; removed threads reach ``threads.listener``."""
        verdict = self._verdict
        if not (verdict.remove_fds or verdict.remove_tids):
            return []
        fds = list(verdict.remove_fds)
        verdict.apply(self.threads)
        return fds

    def process(self, rec: Any) -> Event | None:
        """Parse one record into state; return it as an Event unless hidden.

        Any pending verdict is applied first, so callers that feed records
        one by one (tests, live loops) get the same deferral as ``next()``.

        This is the per-event hot path: one plan lookup per type
        (``sinsp.parsers.PLAN``), the thread/enter/fd links made inline
        (sinsp's reset()), params read in place (``sinsp.event.param_at``).
        """
        verdict = self._verdict
        if verdict.remove_fds or verdict.remove_tids:
            verdict.apply(self.threads)
        seq = getattr(rec, "seq", -1)
        num = self._num
        if seq >= 0:
            skipped = seq > num  # a prefilter dropped events before this one
            num = seq + 1
        else:
            skipped = False
            num += 1
        self._num = num
        self.stats.events += 1
        etype = rec.type
        plan = _PLAN[etype] if etype < len(_PLAN) else etype & 1 and PLAN_EXIT
        evt = Event(rec, num, self)
        if not self._seen_non_container and (skipped or not plan & PLAN_CONTAINER):
            # (dropped events are never container events: those are state events)
            self._note_non_container()
        try:
            self._link(evt, rec, plan)
            parser = _PARSERS.get(etype)
            if parser is not None:
                parser(evt, self, verdict)
        except Exception as exc:  # one bad event must not end the stream
            err = EventParseError(num, etype, getattr(rec, "offset", None), exc)
            if self.strict:
                raise err from exc
            self.stats.parse_errors += 1
            self.parse_errors.append(err)
        if getattr(rec, "dump_flags", 0) & SCAP_DF_STATE_ONLY:
            self.stats.hidden_state_only += 1
            return None
        if plan & PLAN_CONTAINER and not self._seen_non_container:
            self.stats.hidden_container += 1
            return None
        return evt

    def _note_non_container(self) -> None:
        """The first event that is not a container event: sysdig reads the leading container
        events while opening the file, then classifies the process-list threads
        (identify_category)."""
        self._seen_non_container = True
        for ti in sorted(self.threads, key=lambda t: t.tid):
            self.containers.identify_category(ti)

    def _update(self, rec: Any) -> None:
        """State only, for a record of a type the consumer does not look at (numbered and
        parsed, never yielded). Enter and parser-less events only pair and create threads,
        which is all the state takes from them: no Event is built for those."""
        etype = rec.type
        if _PARSERS.get(etype) is not None or getattr(rec, "dump_flags", 0) & SCAP_DF_STATE_ONLY:
            self.process(rec)
            return
        verdict = self._verdict
        if verdict.remove_fds or verdict.remove_tids:
            verdict.apply(self.threads)
        seq = getattr(rec, "seq", -1)
        num = self._num
        skipped = seq > num
        self._num = seq + 1 if seq >= 0 else num + 1
        self.stats.events += 1
        plan = _PLAN[etype] if etype < len(_PLAN) else etype & 1 and PLAN_EXIT
        if not self._seen_non_container and (skipped or not plan & PLAN_CONTAINER):
            self._note_non_container()
        if plan & PLAN_SKIPRESET:
            return
        tid = rec.tid
        ti = self.threads.get(tid)
        if ti is None:
            if plan & PLAN_NO_CREATE:
                return
            ti = self.create_thread(tid)
        ti.last_enter = None if plan & PLAN_EXIT else rec

    def _reset(self, evt: Event) -> None:
        """Link the event to its thread, enter record and fd (sinsp reset())."""
        rec = evt.record
        etype = rec.type
        self._link(evt, rec, _PLAN[etype] if etype < len(_PLAN) else etype & 1 and PLAN_EXIT)

    def _link(self, evt: Event, rec: Any, plan: int) -> None:
        tid = rec.tid
        ti = self.threads.get(tid)
        if plan & PLAN_SKIPRESET:
            # procinfo & co.: look the thread up, never create it, no pairing
            evt.thread = ti
            return
        if ti is None:
            if plan & PLAN_NO_CREATE:
                return
            ti = self.create_thread(tid)
        evt.thread = ti
        if not plan & PLAN_EXIT:
            ti.last_enter = rec
            if not plan & PLAN_USES_FD:
                return
            fdnum = _first_param(rec)
            if fdnum.__class__ is not int:
                return
            evt.fdnum = fdnum
        else:
            last = ti.last_enter
            enter = None
            if last is not None and last.type == rec.type - 1:
                evt.enter = enter = last
            ti.last_enter = None
            if not plan & PLAN_USES_FD:
                return
            fdnum = _first_param(enter) if enter is not None else None
            if fdnum.__class__ is not int:
                fdnum = evt.param("fd") if enter is not None else named_param(rec, "fd")
            if fdnum.__class__ is not int:
                return
            evt.fdnum = fdnum
        table = ti.fd_table()
        if table is not None:
            evt.fd = table.get(fdnum)

    # -- helpers for parsers -----------------------------------------------------

    def create_thread(self, tid: int) -> ThreadInfo:
        """A bare thread for a tid the state never saw (sinsp: comm "<NA>")."""
        ti = ThreadInfo(tid, tid, -1)
        ti.comm = ti.exe = "<NA>"
        ti.cwd = ""
        ti.fdlimit = -1
        # (0.29.3 leaves exe_writable uninitialised here; we say False)
        ti.fdtable = self.new_fd_table()
        ti.container_id = ""
        self.stats.threads_created_on_demand += 1
        return self.threads.add(ti)

    def new_fd_table(self) -> FdTable:
        return FdTable(self.max_fds, self.fd_stats)

    def assign_container(self, ti: ThreadInfo) -> None:
        self._assign_container(ti)


def _first_param(rec: Any) -> Any:
    if rec.nparams < 1:
        return None
    try:
        return param_at(rec, 0)
    except Exception:  # a malformed param (or none in the table) is "no fd", not a crash
        return None


def _split_cgroups(raw: Any) -> list[tuple[str, str]]:
    items: Iterable[str]
    if raw is None:
        return []
    if isinstance(raw, str):
        items = [s for s in raw.split("\0") if s]
    elif isinstance(raw, bytes):
        items = [s for s in raw.decode("utf-8", "surrogateescape").split("\0") if s]
    else:
        items = list(raw)
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, tuple):
            out.append((str(item[0]), str(item[1])))
            continue
        subsys, sep, path = item.partition("=")
        out.append((subsys, path) if sep else (item, ""))
    return out


def _strlist(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [s for s in raw.split("\0")] if raw else []
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "surrogateescape").split("\0") if raw else []
    return [str(s) for s in raw]


def thread_from_procinfo(
    p: Any, max_fds: int = DEFAULT_MAX_FDS, fd_stats: FdTableStats | None = None
) -> ThreadInfo:
    """A ``ThreadInfo`` from a ``scap.ProcInfo`` (process-list entry)."""
    g = getattr
    ti = ThreadInfo(int(p.tid), int(g(p, "pid", p.tid)), int(g(p, "ptid", -1)))
    ti.sid = int(g(p, "sid", -1))
    ti.vpgid = int(g(p, "vpgid", -1))
    ti.comm = str(g(p, "comm", "") or "")
    ti.exe = str(g(p, "exe", "") or "")
    ti.exepath = str(g(p, "exepath", "") or "")
    ti.args = _strlist(g(p, "args", None))
    ti.env = _strlist(g(p, "env", None))
    cwd = str(g(p, "cwd", "") or "")
    # sinsp keeps directories with a trailing slash (its set_cwd appends one)
    ti.cwd = cwd if cwd.endswith("/") else cwd + "/"
    ti.root = str(g(p, "root", "") or "")
    ti.fdlimit = int(g(p, "fdlimit", 0) or 0)
    ti.flags = int(g(p, "flags", 0) or 0)
    ti.uid = int(g(p, "uid", 0xFFFFFFFF))
    ti.gid = int(g(p, "gid", 0xFFFFFFFF))
    ti.loginuid = int(g(p, "loginuid", 0xFFFFFFFF))
    ti.vmsize_kb = int(g(p, "vmsize_kb", 0) or 0)
    ti.vmrss_kb = int(g(p, "vmrss_kb", 0) or 0)
    ti.vmswap_kb = int(g(p, "vmswap_kb", 0) or 0)
    ti.pfmajor = int(g(p, "pfmajor", 0) or 0)
    ti.pfminor = int(g(p, "pfminor", 0) or 0)
    ti.vtid = int(g(p, "vtid", -1))
    ti.vpid = int(g(p, "vpid", -1))
    ti.tty = int(g(p, "tty", 0) or 0)
    ti.exe_writable = bool(g(p, "exe_writable", False))
    ti.cap_inheritable = int(g(p, "cap_inheritable", 0) or 0)
    ti.cap_permitted = int(g(p, "cap_permitted", 0) or 0)
    ti.cap_effective = int(g(p, "cap_effective", 0) or 0)
    ti.cgroups = _split_cgroups(g(p, "cgroups", None))
    seed_exe_state(ti, p)  # PL v9: pidns start, exe inode/layers/memfd, pgid
    ti.fdtable = FdTable(max_fds, fd_stats)
    for entry in g(p, "fds", None) or []:
        ti.fdtable.add(fd_from_entry(entry))
    return ti


def fd_from_entry(e: Any) -> FdInfo:
    """An ``FdInfo`` from a ``scap.FdEntry`` (fd-list block entry)."""
    g = getattr
    ftype = int(g(e, "type", FdType.UNKNOWN))
    info = FdInfo(int(e.fd), ftype, "")
    info.ino = int(g(e, "ino", 0) or 0)
    info.openflags = int(g(e, "open_flags", g(e, "flags", 0)) or 0)
    info.dev = int(g(e, "dev", 0) or 0)
    l4 = int(g(e, "l4proto", 0) or 0)
    info.l4proto = l4
    if ftype in (FdType.IPV4_SOCK, FdType.IPV6_SOCK):
        info.sip = str(g(e, "sip", "") or "")
        info.dip = str(g(e, "dip", "") or "")
        info.sport = int(g(e, "sport", 0) or 0)
        info.dport = int(g(e, "dport", 0) or 0)
        if ftype == FdType.IPV6_SOCK and _v4_mapped(info.sip) and _v4_mapped(info.dip):
            # sinsp keeps a v4-mapped IPv6 connection as the IPv4 one it is
            info.type = ftype = FdType.IPV4_SOCK
            info.sip, info.dip = info.sip[7:], info.dip[7:]
        if l4 == L4_TCP:
            info.flags |= FLAG_CONNECTED  # sinsp: a TCP socket in the snapshot is connected
        v6 = ftype == FdType.IPV6_SOCK
        info.name = tuple_name(v6, info.sip, info.sport, info.dip, info.dport)
    elif ftype in (FdType.IPV4_SERVSOCK, FdType.IPV6_SERVSOCK):
        info.sip = str(g(e, "sip", "") or "")
        info.sport = int(g(e, "sport", 0) or 0)
        info.name = server_name(ftype == FdType.IPV6_SERVSOCK, info.sip, info.sport)
    elif ftype == FdType.UNIX_SOCK:
        info.unix_src = int(g(e, "source", 0) or 0)
        info.unix_dst = int(g(e, "dest", g(e, "destination", 0)) or 0)
        info.name = str(g(e, "name", "") or "")
    else:
        info.name = str(g(e, "name", "") or "")
    return info


def _v4_mapped(ip: str) -> bool:
    return ip.startswith("::ffff:") and "." in ip

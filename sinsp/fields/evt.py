"""``evt.*`` fields: what the event itself says (time, type, direction, arguments, result).

Semantics follow libsinsp 0.29.3's ``sinsp_filter_check_event`` (sysdig's reference), with
its quirks kept where they show in output: ``evt.res`` falls back to the ``fd`` param of
fd-creating exits, ``syscall.type`` is unset for events flagged ``EF_SKIPPARSERESET``,
``evt.deltatime`` is measured between the events a formatter actually prints, and
``evt.io_dir`` says ``read``/``write``. Event flags, categories and parameter names come
from sysdig 0.29.3's event table (``scap.schema.EVENT_INFO_0_29_3``) where it has the type.
"""

from __future__ import annotations

import weakref
from typing import Any

from scap import schema
from scap.schema import EC, EF, PT
from sinsp import format as fmt
from sinsp.event import param_span
from sinsp.fields.registry import REGISTRIES, ArgKind, FieldClassBuilder, FieldFlag, FieldType

__all__ = ["EVT_CLASS", "category_name", "evt_flags", "latency_of"]

_ONE_S = 1_000_000_000
EC_IO_BASE = 32
EC_INTERNAL = 256
PPME_SCHEDSWITCH_6_E = 152

evt = FieldClassBuilder("evt", "These fields can be used for all event types")


# -- helpers ---------------------------------------------------------------------------


def _info(evt: Any) -> Any:
    table = fmt._DISPLAY_TABLE
    t = evt.record.type
    if table and t < len(table):
        return table[t]
    return fmt.display_info(t)


def evt_flags(evt: Any) -> int:
    info = _info(evt)
    return int(info.flags) if info is not None else 0


def _category(evt: Any) -> int:
    info = _info(evt)
    return int(info.category) & 0x1FF if info is not None else 0


def latency_of(evt: Any) -> int:
    """ns between this exit event and its enter event (0 when unpaired or an enter).

    Events that skip sinsp's per-thread reset (``switch``, ``procinfo``) show the thread's
    previous latency, which only a :class:`LatencyTracker` fed every event knows.
    """
    rec = evt.record
    if _keeps_latency(evt):
        insp = getattr(evt, "inspector", None)
        tracker = _TRACKERS.get(insp) if insp is not None else None
        return 0 if tracker is None else tracker.last.get(rec.tid, 0)
    if not rec.type & 1:
        return 0
    enter = getattr(evt, "enter", None)
    if enter is None or enter.type != rec.type - 1:
        return 0
    return int(rec.ts - enter.ts)


class LatencyTracker:
    """Remembers each thread's latest latency, as sinsp's thread state does, so that events
    which do not reset it report the stale value sysdig prints. Feed it every event."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: dict[int, int] = {}

    def observe(self, evt: Any) -> None:
        thread = evt.thread
        if thread is None:
            return
        if _info(evt) is None or _keeps_latency(evt):
            return
        self.last[thread.tid] = latency_of(evt)


_SCHED_SWITCH = frozenset({146, 152})  # PPME_SCHEDSWITCH_1_E / _6_E


def _keeps_latency(evt: Any) -> bool:
    """Events after which sinsp leaves the thread's latency as it was: those flagged
    EF_SKIPPARSERESET and the context switches."""
    return evt.record.type in _SCHED_SWITCH or bool(evt_flags(evt) & EF.SKIPPARSERESET)


_TRACKERS: weakref.WeakKeyDictionary[Any, LatencyTracker] = weakref.WeakKeyDictionary()


def latency_tracker(inspector: Any) -> LatencyTracker:
    """The tracker consulted for ``inspector``'s events (created on first use)."""
    tracker = _TRACKERS.get(inspector)
    if tracker is None:
        tracker = _TRACKERS[inspector] = LatencyTracker()
    return tracker


#: Fields whose value depends on the latency tracker.
LATENCY_FIELDS = frozenset({"evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human",
                            "evt.wait_latency"})  # fmt: skip


def _padded(v: int) -> str:
    return "%09d" % v  # noqa: UP031


def _json_int(v: Any) -> Any:
    return v


_padded.json = _json_int  # type: ignore[attr-defined]


def _first_ts(evt: Any) -> int | None:
    insp = getattr(evt, "inspector", None)
    for attr in ("first_ts", "first_event_ts", "firstevent_ts"):
        v = getattr(insp, attr, None)
        if isinstance(v, int):
            return v
    return _FIRST_TS.get(insp) if insp is not None else None


#: per inspector, weakly held
_FIRST_TS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def note_first_ts(inspector: Any, ts: int) -> None:
    """Record the capture's first event time for ``evt.reltime`` (sinsp m_firstevent_ts),
    for inspectors that do not expose one."""
    if inspector not in _FIRST_TS:
        _FIRST_TS[inspector] = ts


def _find_param(evt: Any, name: str) -> int | None:
    info = _info(evt)
    if info is None:
        return None
    return fmt.param_index(info, evt.record.nparams, name)


def _raw_int(evt: Any, idx: int) -> int:
    return int.from_bytes(evt.record.rawparam(idx)[:8], "little", signed=True)


def _res_index(evt: Any) -> int | None:
    """The ``res`` param, else the ``fd`` param of an fd-creating exit event."""
    i = _find_param(evt, "res")
    if i is not None:
        return i
    if evt.record.type & 1 and evt_flags(evt) & EF.CREATES_FD:
        return _find_param(evt, "fd")
    return None


def category_name(evt: Any) -> str:
    """``evt.category`` (sinsp_evt::get_category + the filtercheck's names)."""
    rec = evt.record
    if rec.type <= 1:
        cat = 0
        if rec.nparams >= 1:
            code = int.from_bytes(rec.rawparam(0)[:2], "little")
            cat = _syscall_category(code)
    else:
        cat = _category(evt)
    if cat in (EC.IO_READ, EC.IO_WRITE, EC.IO_OTHER):
        if rec.type <= 1:
            return "unknown"
        fdi = evt.fd
        if fdi is None:
            return "unknown"
        t = fdi.type
        if t in (1, 16, 2):
            return "file"
        if t in (3, 4, 5, 6):
            return "net"
        if t in (7, 8, 9, 11, 13, 18):
            return "ipc"
        return "unknown"
    return _CATEGORY_NAMES.get(cat, "unknown")


_CATEGORY_NAMES = {
    0: "unknown", 1: "other", 2: "file", 3: "net", 4: "IPC", 5: "memory", 6: "process",
    7: "sleep", 8: "system", 9: "signal", 10: "user", 11: "time", 12: "processing",
    64: "wait", 128: "scheduler",
}  # fmt: skip


def _syscall_category(code: int) -> int:
    table = _SYSCALL_CATEGORIES_0_29_3
    return table[code] if 0 <= code < len(table) else 0

#: Category of each PPM_SC syscall code in sysdig 0.29.3 (its ``g_syscall_info_table``, read
#: with ctypes from Debian's libscap.so 0.1.1dev+git20220316.e5c53d64, 329 entries); used for
#: ``evt.category`` of the generic syscall events.
_SYSCALL_CATEGORIES_0_29_3 = (
    1, 8, 6, 32, 33, 2, 2, 2, 2, 2, 2, 11, 2, 2, 2, 2, 6, 2, 1, 11, 2, 64, 11, 2, 34, 4, 2, 2,
    2, 34, 4, 11, 5, 6, 34, 64, 6, 6, 4, 2, 34, 6, 6, 6, 8, 6, 6, 11, 11, 2, 2, 2, 6, 6, 8, 2,
    2, 2, 2, 2, 6, 6, 2, 2, 8, 11, 11, 8, 1, 64, 8, 8, 34, 8, 8, 5, 8, 8, 8, 6, 2, 8, 6, 2, 64,
    2, 34, 32, 33, 6, 34, 5, 5, 5, 5, 6, 6, 6, 6, 7, 6, 6, 6, 7, 2, 64, 6, 9, 9, 9, 9, 9, 9, 2,
    6, 6, 2, 6, 2, 10, 10, 10, 10, 10, 10, 10, 10, 2, 10, 10, 10, 10, 2, 10, 10, 10, 10, 6, 5,
    5, 6, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 9, 4, 6, 6, 6, 6, 34, 34, 34, 34, 34, 34, 64, 64,
    64, 2, 6, 11, 11, 11, 11, 11, 11, 11, 11, 7, 9, 2, 4, 4, 4, 4, 4, 4, 8, 64, 8, 8, 8, 6, 6,
    4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 64, 64, 6, 6, 6, 4, 4, 4, 6, 64, 2, 9, 11, 4,
    11, 11, 9, 4, 64, 34, 4, 4, 32, 33, 1, 1, 4, 6, 1, 2, 6, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 6, 1, 9, 4, 3, 2, 2, 2, 2, 2,
    64, 9, 9, 9, 8, 2, 9, 6, 11, 2, 64, 2, 2, 6, 4, 9, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    34, 34, 34, 34, 34, 8, 1, 1, 34, 34, 34, 2, 2, 2, 2, 8, 8, 2, 6, 6,
)  # fmt: skip



# -- time -------------------------------------------------------------------------------


def _ts_json(evt: Any, arg: Any) -> Any:
    return evt.record.ts


@evt.field("evt.num", FieldType.UINT64, "event number.")
def _num(evt: Any, arg: Any) -> Any:
    return evt.num


def _time_field(name: str, desc: str, fn: Any) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        return fn(evt.record.ts)

    ex.json = _ts_json  # type: ignore[attr-defined]
    evt.field(name, FieldType.CHARBUF, desc)(ex)


_time_field("evt.time", "event timestamp as a time string that includes the nanosecond part.",
            fmt.ts_time)  # fmt: skip
_time_field("evt.time.s", "event timestamp as a time string with no nanoseconds.",
            lambda ts: fmt.ts_time(ts, False))  # fmt: skip
_time_field("evt.time.iso8601", "event timestamp in ISO 8601 format, including nanoseconds and "
            "time zone offset (in UTC).", fmt.ts_iso8601)  # fmt: skip
_time_field("evt.datetime", "event timestamp as a time string that includes the date.",
            fmt.ts_datetime)  # fmt: skip
_time_field("evt.datetime.s", "event timestamp as a datetime string with no nanoseconds.",
            lambda ts: fmt.ts_datetime(ts, False))  # fmt: skip


@evt.field("evt.rawtime", FieldType.ABSTIME,
           "absolute event timestamp, i.e. nanoseconds from epoch.")
def _rawtime(evt: Any, arg: Any) -> Any:
    return evt.record.ts


@evt.field("evt.rawtime.s", FieldType.ABSTIME,
           "integer part of the event timestamp (e.g. seconds since epoch).")
def _rawtime_s(evt: Any, arg: Any) -> Any:
    return evt.record.ts // _ONE_S


@evt.field("evt.rawtime.ns", FieldType.ABSTIME, "fractional part of the absolute event timestamp.",
           renderer=_padded)  # fmt: skip
def _rawtime_ns(evt: Any, arg: Any) -> Any:
    return evt.record.ts % _ONE_S


def _rel(evt: Any) -> int:
    first = _first_ts(evt)
    out: int = evt.record.ts - (first if first is not None else evt.record.ts)
    return out


@evt.field("evt.reltime", FieldType.RELTIME,
           "number of nanoseconds from the beginning of the capture.",
           renderer=_padded)  # fmt: skip
def _reltime(evt: Any, arg: Any) -> Any:
    return _rel(evt)


@evt.field("evt.reltime.s", FieldType.RELTIME,
           "number of seconds from the beginning of the capture.")
def _reltime_s(evt: Any, arg: Any) -> Any:
    return _rel(evt) // _ONE_S


@evt.field("evt.reltime.ns", FieldType.RELTIME,
           "fractional part (in ns) of the time from the beginning "
           "of the capture.", renderer=_padded)  # fmt: skip
def _reltime_ns(evt: Any, arg: Any) -> Any:
    return _rel(evt) % _ONE_S


# -- latency / delta ----------------------------------------------------------------------


def _event_thread(evt: Any) -> Any:
    """The event's thread; for events that skip the parser reset (``switch``), the thread
    of the header tid as the inspector knows it."""
    thread = evt.thread
    if thread is None and _keeps_latency(evt):
        threads = getattr(getattr(evt, "inspector", None), "threads", None)
        if threads is not None:
            thread = threads.get(evt.record.tid)
    return thread


def _latency_or_none(evt: Any) -> int | None:
    if _event_thread(evt) is None:
        return 0
    if _category(evt) & EC_INTERNAL:
        return None
    return latency_of(evt)


@evt.field("evt.latency", FieldType.RELTIME,
           "delta between an exit event and the correspondent enter "
           "event, in nanoseconds.")  # fmt: skip
def _latency(evt: Any, arg: Any) -> Any:
    return _latency_or_none(evt)


@evt.field("evt.latency.s", FieldType.RELTIME, "integer part of the event latency delta.")
def _latency_s(evt: Any, arg: Any) -> Any:
    v = _latency_or_none(evt)
    return None if v is None else v // _ONE_S


@evt.field("evt.latency.ns", FieldType.RELTIME, "fractional part of the event latency delta.",
           renderer=_padded)  # fmt: skip
def _latency_ns(evt: Any, arg: Any) -> Any:
    v = _latency_or_none(evt)
    return None if v is None else v % _ONE_S


def human_time(val: int) -> str:
    """A duration the way sysdig's ``tostring_nice`` prints it (``5.40us``, ``124us``):
    two decimals, truncated rather than rounded."""
    if val >= _ONE_S:
        return _trunc2(val, _ONE_S, "s")
    if val >= _ONE_S // 100:
        return f"{val // 1_000_000}ms"
    if val >= _ONE_S // 1000:
        return _trunc2(val, 1_000_000, "ms")
    if val >= _ONE_S // 100000:
        return f"{val // 1000}us"
    if val >= _ONE_S // 1000000:
        return _trunc2(val, 1000, "us")
    return f"{val}ns"


def _trunc2(val: int, unit: int, suffix: str) -> str:
    return f"{val // unit}.{(val % unit) * 100 // unit:02d}{suffix}"


class _LatencyHuman:
    """``evt.latency.human`` keeps its last text: sinsp returns the previous string for an
    event without a thread (its storage is not reset), N/A for internal events."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, evt: Any, arg: Any) -> Any:
        if _event_thread(evt) is None:
            return self.last
        if _category(evt) & EC_INTERNAL:
            return None
        self.last = human_time(latency_of(evt))
        return self.last


def _latency_human(evt: Any, arg: Any) -> Any:
    return _LatencyHuman()(evt, arg)


_latency_human.make_state = _LatencyHuman  # type: ignore[attr-defined]
evt.field("evt.latency.human", FieldType.CHARBUF, "delta between an exit event and the "
          "correspondent enter event, as a human readable string (e.g. 10.3ms).")(_latency_human)


class _Delta:
    """Per-formatter state: sinsp keeps the previous timestamp in the filtercheck, so the
    delta is between consecutive events *this* format (or filter) saw."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.prev = 0

    def __call__(self, evt: Any, arg: Any) -> Any:
        ts = evt.record.ts
        if self.prev == 0:
            self.prev = ts
            return 0
        d = ts - self.prev
        self.prev = ts
        if self.mode == "s":
            return d // _ONE_S
        if self.mode == "ns":
            return d % _ONE_S
        return d

    def json(self, evt: Any, arg: Any) -> Any:
        self(evt, arg)
        return 0  # sysdig -j extracts twice: the JSON value is always the second, 0


def _delta_field(name: str, mode: str, desc: str, renderer: Any = None) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        return _Delta(mode)(evt, arg)

    ex.make_state = lambda: _Delta(mode)  # type: ignore[attr-defined]
    evt.field(name, FieldType.RELTIME, desc, renderer=renderer)(ex)


_delta_field("evt.deltatime", "",
             "delta between this event and the previous event, in nanoseconds.")
_delta_field("evt.deltatime.s", "s",
             "integer part of the delta between this event and the previous event.")
_delta_field("evt.deltatime.ns", "ns", "fractional part of the delta between this event and the "
             "previous event.", _padded)  # fmt: skip


def _outputtime(evt: Any, arg: Any, opts: Any = fmt.DEFAULT_OPTIONS) -> Any:
    ts = evt.record.ts
    flag = getattr(opts, "time_flag", "h")
    if opts.json:
        return ts
    if flag == "a":
        return f"{ts // _ONE_S}.{ts % _ONE_S}"
    if flag == "r":
        rel = _rel(evt)
        return f"{rel // _ONE_S}.{rel % _ONE_S:09d}"
    if flag == "d":
        lat = latency_of(evt) if evt.thread is not None else 0
        return f"{lat // _ONE_S}.{lat % _ONE_S:09d}"
    if flag == "D":  # sysdig -tD: since the previous event printed (0 for the first)
        insp = evt.inspector
        prev = _PREV_PRINTED_TS.get(insp, ts) if insp is not None else ts
        if insp is not None:
            _PREV_PRINTED_TS[insp] = ts
        delta = max(0, ts - prev)
        return f"{delta // _ONE_S}.{delta % _ONE_S:09d}"
    return fmt.ts_time(ts)


#: per inspector, the time of the last event whose evt.outputtime was printed (``-tD``)
_PREV_PRINTED_TS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


_outputtime.wants_options = True  # type: ignore[attr-defined]
evt.field("evt.outputtime", FieldType.CHARBUF,
          "this depends on -t param, default is %evt.time ('h').",
          flags=FieldFlag.PRINT_ONLY | FieldFlag.HIDDEN)(_outputtime)  # fmt: skip


# -- type and direction -----------------------------------------------------------------------


@evt.field("evt.dir", FieldType.CHARBUF,
           "event direction can be either '>' for enter events or '<' "
           "for exit events.")  # fmt: skip
def _dir(evt: Any, arg: Any) -> Any:
    return "<" if evt.record.type & 1 else ">"


_TYPE_NAMES: list[str] = []


def type_name(evt: Any) -> str:
    """``evt.type`` as sysdig 0.29.3 names it (generic events: the 0.29.3 syscall name)."""
    rec = evt.record
    t = rec.type
    if t > 1 and _TYPE_NAMES:
        return _TYPE_NAMES[t] if t < len(_TYPE_NAMES) else "unknown"
    if t <= 1 and rec.nparams >= 1:
        code = int.from_bytes(rec.rawparam(0)[:2], "little")
        names = schema.SYSCALL_NAMES_0_29_3
        if code < len(names) and names[code]:
            return names[code]
    table = _TYPE_NAMES
    if not table:
        n = len(schema.EVENT_INFO)
        table.extend(i.name if (i := fmt.display_info(e)) is not None else "unknown"
                     for e in range(n))  # fmt: skip
    return table[t] if t < len(table) else "unknown"


@evt.field("evt.type", FieldType.CHARBUF, "The name of the event (e.g. 'open').")
def _type(evt: Any, arg: Any) -> Any:
    return type_name(evt)


@evt.field("evt.type.is", FieldType.UINT32,
           "allows one to specify an event type, and returns 1 for "
           "events that are of that type. For example, evt.type.is.open returns 1 for open events, "
           "0 for any other event.", arg=ArgKind.KEY,
           flags=FieldFlag.REQUIRES_ARG | FieldFlag.DOT_ARG)  # fmt: skip
def _type_is(evt: Any, arg: Any) -> Any:
    etype = evt.record.type
    if arg is None:
        return None
    text = str(arg)
    if text.isdigit():
        return 1 if etype == int(text) else 0
    for j, info in enumerate(schema.EVENT_INFO_0_29_3):
        if info.name == text:
            return 1 if etype in (j, j + 1) else 0
    return 0


def _json_null(evt: Any, arg: Any) -> Any:
    return None


_type_is.json = _json_null  # type: ignore[attr-defined]  # PF_NA integer: sysdig -j gives null


@evt.field("syscall.type", FieldType.CHARBUF, "For system call events, the name of the system call "
           "(e.g. 'open'). Unset for other events (e.g. switch or internal events).")  # fmt: skip
def _syscall_type(evt: Any, arg: Any) -> Any:
    etype = evt.record.type
    flags = evt_flags(evt)
    if etype == PPME_SCHEDSWITCH_6_E or flags & EF.SKIPPARSERESET:
        return None
    return type_name(evt)


@evt.field("evt.category", FieldType.CHARBUF,
           "The event category. Example values are 'file' (for file "
           "operations like open and close), 'net' (for network operations like socket and bind), "
           "memory (for things like brk or mmap), and so on.")  # fmt: skip
def _category_field(evt: Any, arg: Any) -> Any:
    return category_name(evt)


@evt.field("evt.cpu", FieldType.INT16, "number of the CPU where this event happened.")
def _cpu(evt: Any, arg: Any) -> Any:
    return evt.record.cpu


# -- arguments -----------------------------------------------------------------------------


def _args(evt: Any, arg: Any, opts: Any = fmt.DEFAULT_OPTIONS) -> Any:
    return fmt.event_args(evt, opts)


_args.wants_options = True  # type: ignore[attr-defined]
evt.field("evt.args", FieldType.CHARBUF,
          "all the event arguments, aggregated into a single string.")(_args)


# -- syslog (sinsp_decoder_syslog: writes to /dev/log) ---------------------------------------

SYSLOG_SEVERITIES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
SYSLOG_FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
                     "clock", "authpriv", "ftp", "ntp", "logaudit", "logalert", "cron",
                     "local0", "local1", "local2", "local3", "local4", "local5", "local6",
                     "local7")  # fmt: skip


#: per event type: its 0.29.3 flags have EF_WRITES_TO_FD (filled on first use)
_WRITES_TO_FD: list[bool] = []


def syslog_message(evt: Any) -> tuple[int, str] | None:
    """``(priority, message)`` of a write exit to ``/dev/log`` carrying ``<PRI>message``,
    as sinsp's syslog decoder reads it; None for any other event."""
    rec = evt.record
    t = rec.type
    writes = _WRITES_TO_FD
    if not writes:
        writes.extend(bool(i is not None and int(i.flags) & int(EF.WRITES_TO_FD))
                      for i in map(fmt.display_info, range(len(schema.EVENT_INFO))))
    if not t & 1 or t >= len(writes) or not writes[t]:
        return None
    fdi = evt.fd
    if fdi is None or "/dev/log" not in fdi.name:
        return None
    i = _find_param(evt, "data")
    if i is None:
        return None
    data = bytes(evt.record.rawparam(i))
    end = data.find(b">", 1)
    pri = data[1:end] if end > 0 else data[1:16]
    if not data.startswith(b"<") or end < 0 or not pri or len(data) < len(pri) + 2:
        return None
    try:
        priority = int(pri)
    except ValueError:
        return None
    return priority, fmt._cstr(data[len(pri) + 2 :])


def _evt_info(evt: Any, arg: Any, opts: Any = fmt.DEFAULT_OPTIONS) -> Any:
    msg = syslog_message(evt)
    if msg is not None:
        return f"syslog sev={SYSLOG_SEVERITIES[msg[0] & 7]} msg={msg[1]}"
    return fmt.event_args(evt, opts)


_evt_info.wants_options = True  # type: ignore[attr-defined]
evt.field("evt.info", FieldType.CHARBUF, "for most events, this field returns the same value as "
          "evt.args. However, for some events (like writes to /dev/log) it provides higher level "
          "information coming from decoding the arguments.")(_evt_info)  # fmt: skip


def _arg_index(evt: Any, arg: Any) -> int | None:
    info = _info(evt)
    if info is None or arg is None:
        return None
    n = min(evt.record.nparams, len(info.params))
    text = str(arg)
    if isinstance(arg, int) or text.lstrip("-").isdigit():
        i = int(text)
        return i if 0 <= i < n else None
    return fmt.param_index(info, evt.record.nparams, text)


def _arg(evt: Any, arg: Any, opts: Any = fmt.DEFAULT_OPTIONS) -> Any:
    i = _arg_index(evt, arg)
    if i is None:
        return None
    value, resolved = fmt.param_str(evt, i, opts)
    return resolved or value


_arg.wants_options = True  # type: ignore[attr-defined]
evt.field("evt.arg", FieldType.CHARBUF,
          "one of the event arguments specified by name or by number. "
          "Some events (e.g. return codes or FDs) will be converted into a text representation "
          "when "
          "possible. E.g. 'evt.arg.fd' or 'evt.arg[0]'.", arg=ArgKind.KEY,
          flags=FieldFlag.REQUIRES_ARG | FieldFlag.DOT_ARG, display="evt.arg")(_arg)  # fmt: skip


def _rawarg_render(v: Any) -> str:
    if isinstance(v, bytes):  # printed as a C string: raw bytes up to the first NUL
        return fmt._cstr(v)
    return fmt.render_value(v, _PLAIN)


class _Plain:
    renderer = None


_PLAIN = _Plain()


@evt.field("evt.rawarg", FieldType.INT64, "one of the event arguments specified by name. E.g. "
           "'evt.rawarg.fd'.", arg=ArgKind.KEY, flags=FieldFlag.REQUIRES_ARG | FieldFlag.DOT_ARG,
           renderer=_rawarg_render)  # fmt: skip
def _rawarg(evt: Any, arg: Any) -> Any:
    i = _arg_index(evt, arg)
    if i is None:
        return None
    pinfo = _info(evt).params[i]
    data = evt.record.rawparam(i)
    t = pinfo.type
    if not data:
        return b"" if t in (PT.BYTEBUF, PT.CHARBUF, PT.FSPATH, PT.FSRELPATH) else None
    if t in (PT.CHARBUF, PT.FSPATH, PT.FSRELPATH):
        return fmt._cstr(data)
    if t == PT.BYTEBUF:
        return bytes(data)
    if t in _SIGNED:
        return int.from_bytes(data, "little", signed=True)
    if t in _UNSIGNED:
        return int.from_bytes(data, "little", signed=False)
    from scap import params as _p

    return _p.decode_param(t, bytes(data))


_SIGNED = frozenset({PT.INT8, PT.INT16, PT.INT32, PT.INT64, PT.ERRNO, PT.FD, PT.PID})
_UNSIGNED = frozenset({PT.UINT8, PT.UINT16, PT.UINT32, PT.UINT64, PT.RELTIME, PT.ABSTIME,
                       PT.PORT, PT.L4PROTO, PT.SOCKFAMILY, PT.BOOL, PT.FLAGS8, PT.FLAGS16,
                       PT.FLAGS32, PT.UID, PT.GID, PT.MODE, PT.SIGTYPE, PT.SYSCALLID})  # fmt: skip


def _buffer(evt: Any, arg: Any, opts: Any = fmt.DEFAULT_OPTIONS) -> Any:
    i = _find_param(evt, "data")
    if i is None:
        return None
    value, _ = fmt.param_str(evt, i, opts)
    return value


_buffer.wants_options = True  # type: ignore[attr-defined]
evt.field("evt.buffer", FieldType.BYTEBUF, "the binary data buffer for events that have one, like "
          "read(), recvfrom(), etc. Use this field in filters with 'contains' to search into I/O "
          "data buffers.")(_buffer)  # fmt: skip


def _buflen_value(evt: Any) -> int | None:
    if not evt.record.type & 1 or evt.record.nparams < 1:
        return None
    info = _info(evt)
    if info is None or not info.params:
        return None
    res = _raw_int(evt, 0)
    return res if res >= 0 else None


@evt.field("evt.buflen", FieldType.UINT64,
           "the length of the binary data buffer for events that have "
           "one, like read(), recvfrom(), etc.")  # fmt: skip
def _buflen(evt: Any, arg: Any) -> Any:
    if evt.fd is None or not _category(evt) & EC_IO_BASE:
        return None
    return _buflen_value(evt)


# -- result ------------------------------------------------------------------------------------


@evt.field("evt.res", FieldType.CHARBUF,
           "event return value, as a string. If the event failed, the "
           "result is an error code string (e.g. 'ENOENT'), otherwise the result is the string "
           "'SUCCESS'.")  # fmt: skip
def _res(evt: Any, arg: Any) -> Any:
    i = _res_index(evt)
    if i is None:
        return None
    if not evt.record.rawparam(i):
        return None
    v = _raw_int(evt, i)
    if v >= 0:
        return "SUCCESS"
    value, resolved = fmt.param_str(evt, i)
    return resolved or value


@evt.field("evt.rawres", FieldType.INT64,
           "event return value, as a number (e.g. -2). Useful for range "
           "comparisons.")  # fmt: skip
def _rawres(evt: Any, arg: Any) -> Any:
    i = _res_index(evt)
    if i is None or not evt.record.rawparam(i):
        return None
    return _raw_int(evt, i)


@evt.field("evt.failed", FieldType.BOOL, "'true' for events that returned an error status.")
def _failed(evt: Any, arg: Any) -> Any:
    i = _res_index(evt)
    if i is None or not evt.record.rawparam(i):
        return False
    return _raw_int(evt, i) < 0


def _flag_bool(name: str, mask: int, desc: str) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        return bool(evt_flags(evt) & mask)

    evt.field(name, FieldType.BOOL, desc)(ex)


_flag_bool("evt.is_io", EF.READS_FROM_FD | EF.WRITES_TO_FD,
           "'true' for events that read or write to FDs, like read(), send, recvfrom(), etc.")
_flag_bool("evt.is_io_read", EF.READS_FROM_FD,
           "'true' for events that read from FDs, like read(), recv(), recvfrom(), etc.")
_flag_bool("evt.is_io_write", EF.WRITES_TO_FD,
           "'true' for events that write to FDs, like write(), send(), etc.")
_flag_bool("evt.is_wait", EF.WAITS,
           "'true' for events that make the thread wait, e.g. sleep(), select(), poll().")


@evt.field("evt.io_dir", FieldType.CHARBUF,
           "'r' for events that read from FDs, like read(); 'w' for "
           "events that write to FDs, like write().")  # fmt: skip
def _io_dir(evt: Any, arg: Any) -> Any:
    f = evt_flags(evt)
    if f & EF.WRITES_TO_FD:
        return "write"
    if f & EF.READS_FROM_FD:
        return "read"
    return None


@evt.field("evt.wait_latency", FieldType.RELTIME,
           "for events that make the thread wait (e.g. sleep(), "
           "select(), poll()), this is the time spent waiting for the event to return, in "
           "nanoseconds.")  # fmt: skip
def _wait_latency(evt: Any, arg: Any) -> Any:
    if evt_flags(evt) & EF.WAITS and evt.record.type & 1:
        return latency_of(evt) if evt.thread is not None else 0
    return None


@evt.field("evt.is_syslog", FieldType.BOOL, "'true' for events that are writes to /dev/log.")
def _is_syslog(evt: Any, arg: Any) -> Any:
    if evt_flags(evt) & EF.WRITES_TO_FD and evt.fd is not None:
        return "/dev/log" in evt.fd.name
    return False


# -- counters ----------------------------------------------------------------------------------


@evt.field("evt.count", FieldType.UINT32,
           "This filter field always returns 1 and can be used to count "
           "events from inside chisels.")  # fmt: skip
def _count(evt: Any, arg: Any) -> Any:
    return 1


def _error_count(evt: Any) -> int | None:
    i = _find_param(evt, "res")
    if i is not None:
        return 1 if evt.record.rawparam(i) and _raw_int(evt, i) < 0 else None
    if evt.record.type & 1 and evt_flags(evt) & EF.CREATES_FD:
        i = _find_param(evt, "fd")
        if i is not None and evt.record.rawparam(i) and _raw_int(evt, i) < 0:
            return 1
    return None


_OPEN_X = frozenset({3, 59, 103, 307})  # open, creat, openat, openat_2 exits
_NET_X = frozenset({27, 57, 247, 249, 23})  # accept(4)(_5) exits, connect exit
_FILE_FD = frozenset({1, 16, 2})
_NET_FD = frozenset({3, 4, 5, 6, 8})


@evt.field("evt.count.error", FieldType.UINT32,
           "This filter field returns 1 for events that returned with an error, and can be "
           "used to count event failures from inside chisels.")  # fmt: skip
def _count_error(evt: Any, arg: Any) -> Any:
    return _error_count(evt)


@evt.field("evt.count.error.file", FieldType.UINT32, "This filter field returns 1 for events that "
           "returned with an error and are related to file I/O, and can be used to count event "
           "failures from inside chisels.")  # fmt: skip
def _count_error_file(evt: Any, arg: Any) -> Any:
    fdi = evt.fd
    if fdi is not None:
        return _error_count(evt) if fdi.type in _FILE_FD else None
    return _error_count(evt) if evt.record.type in _OPEN_X else None


@evt.field("evt.count.error.net", FieldType.UINT32, "This filter field returns 1 for events that "
           "returned with an error and are related to network I/O, and can be used to count event "
           "failures from inside chisels.")  # fmt: skip
def _count_error_net(evt: Any, arg: Any) -> Any:
    fdi = evt.fd
    if fdi is not None:
        return _error_count(evt) if fdi.type in _NET_FD else None
    return _error_count(evt) if evt.record.type in _NET_X else None


@evt.field("evt.count.error.memory", FieldType.UINT32,
           "This filter field returns 1 for events that "
           "returned with an error and are related to memory allocation, and can be used to count "
           "event failures from inside chisels.")  # fmt: skip
def _count_error_memory(evt: Any, arg: Any) -> Any:
    return _error_count(evt) if _category(evt) == EC.MEMORY else None


@evt.field("evt.count.error.other", FieldType.UINT32, "This filter field returns 1 for events that "
           "returned with an error and are related to none of the previous categories, and can be "
           "used to count event failures from inside chisels.")  # fmt: skip
def _count_error_other(evt: Any, arg: Any) -> Any:
    fdi = evt.fd
    if fdi is not None:
        return None if fdi.type in _FILE_FD | _NET_FD else _error_count(evt)
    if evt.record.type in _OPEN_X | _NET_X or _category(evt) == EC.MEMORY:
        return None
    return _error_count(evt)


@evt.field("evt.count.exit", FieldType.UINT32,
           "This filter field returns 1 for exit events, and can be "
           "used to count single events from inside chisels.")  # fmt: skip
def _count_exit(evt: Any, arg: Any) -> Any:
    return 1 if evt.record.type & 1 else None


@evt.field("evt.around", FieldType.UINT64, "Accepts the event if it's around the specified time "
           "interval. The syntax is evt.around[T]=D, where T is the value returned by %evt.rawtime "
           "for the event and D is a delta in milliseconds.", arg=ArgKind.INDEX,
           flags=FieldFlag.FILTER_ONLY | FieldFlag.REQUIRES_ARG)  # fmt: skip
def _around(evt: Any, arg: Any) -> Any:
    """``evt.around[T]=D`` holds when the event is within D ms of T (sinsp only accepts
    ``=``): the distance is returned as a :class:`_Within`, which equals any D it does not
    exceed, so the filter's plain equality gives the window test."""
    if arg is None:
        return None
    return _Within(abs(evt.record.ts - int(arg)))


class _Within(int):
    """A distance in ns that equals every bound D (in ms) with distance <= D ms."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, float)):
            return int(self) <= other * 1_000_000
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = int.__hash__


# -- paths and opens ------------------------------------------------------------------------

_ABSPATH_ARGS = {
    # etype: {argid: (dirfd param, path param)}
    "renameat": {0: ("olddirfd", "oldpath"), 1: ("olddirfd", "oldpath"),
                 2: ("newdirfd", "newpath")},
    "symlinkat": {0: ("linkdirfd", "linkpath"), 1: ("linkdirfd", "linkpath"),
                  2: ("linkdirfd", "linkpath")},
    "linkat": {0: ("olddir", "oldpath"), 1: ("olddir", "oldpath"), 2: ("newdir", "newpath")},
    "unlinkat": {0: ("dirfd", "name"), 1: ("dirfd", "name"), 2: ("dirfd", "name")},
    "openat": {0: ("dirfd", "name"), 1: ("dirfd", "name"), 2: ("dirfd", "name")},
    "mkdirat": {0: ("dirfd", "path"), 1: ("dirfd", "path"), 2: ("dirfd", "path")},
    "fchmodat": {0: ("dirfd", "filename"), 1: ("dirfd", "filename"), 2: ("dirfd", "filename")},
}  # fmt: skip


def abspath(evt: Any, which: int) -> str | None:
    """``evt.abspath``: the dirfd-relative path param made absolute."""
    thread = evt.thread
    if thread is None:
        return None
    name = type_name(evt)
    spec = _ABSPATH_ARGS.get("renameat" if name == "renameat2" else name)
    if spec is None:
        return None
    rec = evt.record
    etype = rec.type
    # 0.29.3 accepts openat/linkat/unlinkat enter (old layout) or their _2 exit events
    if name in ("openat", "linkat", "unlinkat"):
        if etype not in (102, 307, 200, 313, 198, 311):
            return None
    elif not etype & 1:
        return None
    dirname, pathname = spec[which]
    di = _find_param(evt, dirname)
    pi = _find_param(evt, pathname)
    if di is None or pi is None:
        return None
    dirfd = _raw_int(evt, di)
    path = fmt._cstr(rec.rawparam(pi))
    if path.startswith("/"):
        sdir = "."
    elif dirfd == fmt.PPM_AT_FDCWD:
        sdir = fmt.cwd_of(thread)
    else:
        fdi = fmt.thread_fd(thread, dirfd)
        sdir = "<UNKNOWN>/" if fdi is None else fdi.name + "/"
    joined, _ = fmt.concatenate_paths(sdir, path)
    return joined


def _abspath_field(name: str, which: int, desc: str) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        return abspath(evt, which)

    evt.field(name, FieldType.CHARBUF, desc)(ex)


_abspath_field("evt.abspath", 0,
               "Absolute path calculated from dirfd and name during syscalls like "
               "renameat and symlinkat. Use 'evt.abspath.src' or 'evt.abspath.dst' for syscalls "
               "that "
               "support multiple paths.")  # fmt: skip
_abspath_field("evt.abspath.src", 1, "Source of evt.abspath for syscalls with two paths.")
_abspath_field("evt.abspath.dst", 2, "Destination of evt.abspath for syscalls with two paths.")

PPM_O_RDONLY = 1
PPM_O_WRONLY = 2
PPM_O_CREAT = 4
PPM_O_TMPFILE = 8192
PPM_O_F_CREATED = 1 << 14  # probe flag: the open created the file
_EXEC_MASK = 0o111  # PPM_S_IXUSR | PPM_S_IXGRP | PPM_S_IXOTH

#: the events evt.is_open_* read open flags of -> (index of ``flags``, of ``mode`` or -1):
#: open exit, openat enter (the old layout), openat_2 exit, openat2 exit (0.29.3 measured:
#: the openat_2 enter and the openat exit are not among them), and open_by_handle_at exit,
#: which 0.29.3 has no type for (current libs: its flags, no mode, so never "exec")
OPEN_FLAG_PARAMS: dict[int, tuple[int, int]] = {
    3: (2, 3), 102: (2, 3), 307: (3, 4), 327: (3, 4), 337: (2, -1)}
_CREAT_X = 59  # creat exit: no flags, only the exec check on its mode (param 2)


def _open_check(evt: Any, what: str) -> bool:
    rec = evt.record
    etype = rec.type
    idx = OPEN_FLAG_PARAMS.get(etype)
    if idx is not None:
        fi, mi = idx
        if fi >= rec.nparams:
            return False
        raw = rec.raw
        a, b = param_span(rec, fi)
        flags = int.from_bytes(raw[a:min(b, a + 4)], "little")
        if what == "r":
            return bool(flags & PPM_O_RDONLY)
        if what == "w":
            return bool(flags & PPM_O_WRONLY)
        if what == "x":
            if flags & (PPM_O_TMPFILE | PPM_O_CREAT) and 0 <= mi < rec.nparams:
                a, b = param_span(rec, mi)
                return bool(int.from_bytes(raw[a:min(b, a + 4)], "little") & _EXEC_MASK)
            return False
        # "c", created: the probe says so, or an O_TMPFILE open that returned an fd
        if flags & PPM_O_F_CREATED:
            return True
        if flags & PPM_O_TMPFILE:
            raw0 = rec.rawparam(0)
            return len(raw0) == 8 and int.from_bytes(raw0, "little", signed=True) >= 0
        return False
    if what == "x" and etype == _CREAT_X and rec.nparams > 2:  # creat exit: mode
        return bool(int.from_bytes(rec.rawparam(2)[:4], "little") & _EXEC_MASK)
    return False


_NOT_OPEN: Any = object()


def _open_flags(evt: Any) -> Any:
    """``(flags,)`` of an event of ``OPEN_FLAG_PARAMS`` as ``_open_check`` reads them (the
    low 4 bytes of the flags param), ``_NOT_OPEN`` for other events and records without it."""
    rec = evt.record
    etype = rec.type
    idx = OPEN_FLAG_PARAMS.get(etype)
    if idx is None:
        return _NOT_OPEN
    fi = idx[0]
    if fi >= rec.nparams:
        return _NOT_OPEN
    ps = getattr(evt, "decoded", None) if etype in (307, 327) else None
    if ps is not None:  # the open parser decoded the record: flags (4 bytes, or empty)
        v = ps[fi]
        return (0 if v is None else v & 0xFFFFFFFF,)
    a, b = param_span(rec, fi)
    return (int.from_bytes(rec.raw[a:min(b, a + 4)], "little"),)


def _is_read(evt: Any, flags: int) -> bool:
    return bool(flags & PPM_O_RDONLY)


def _is_write(evt: Any, flags: int) -> bool:
    return bool(flags & PPM_O_WRONLY)


def _open_field(name: str, what: str, desc: str) -> None:
    fn = {"r": _is_read, "w": _is_write}.get(what)
    if fn is None:
        def ex(evt: Any, arg: Any) -> Any:
            return _open_check(evt, what)
    else:
        def ex(evt: Any, arg: Any) -> Any:
            got = _open_flags(evt)
            return False if got is _NOT_OPEN else fn(evt, *got)

        # staged like the fd fields: the fused rule evaluator reads the flags once for both
        ex.staged = (_open_flags, _NOT_OPEN, False, fn)  # type: ignore[attr-defined]

    evt.field(name, FieldType.BOOL, desc)(ex)


_open_field("evt.is_open_read", "r",
            "'true' for open/openat/openat2 events where the path was opened "
            "for reading")  # fmt: skip
_open_field("evt.is_open_write", "w",
            "'true' for open/openat/openat2 events where the path was opened "
            "for writing")  # fmt: skip
_open_field("evt.is_open_exec", "x",
            "'true' for open/openat/openat2 or creat events where a file is "
            "created with execute permissions")  # fmt: skip
_open_field("evt.is_open_create", "c",
            "'true' for open/openat/openat2/open_by_handle_at events where a file is "
            "created.")  # fmt: skip


@evt.field("evt.pluginname", FieldType.CHARBUF, "if the event comes from a plugin, the name of the "
           "plugin that generated it. The plugin must be currently loaded.")  # fmt: skip
def _pluginname(evt: Any, arg: Any) -> Any:
    return None


@evt.field("evt.plugininfo", FieldType.CHARBUF,
           "if the event comes from a plugin, a summary of the "
           "event as formatted by the plugin. The plugin must be currently loaded.")  # fmt: skip
def _plugininfo(evt: Any, arg: Any) -> Any:
    return None


EVT_CLASS = REGISTRIES["syscall"].register(evt.build())

syslog = FieldClassBuilder("syslog", "Content of Syslog messages.")


def _syslog_field(name: str, ftype: FieldType, desc: str, fn: Any) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        msg = syslog_message(evt)
        return None if msg is None else fn(msg)

    syslog.field(name, ftype, desc)(ex)


_syslog_field("syslog.facility.str", FieldType.CHARBUF, "facility as a string.",
              lambda m: SYSLOG_FACILITIES[(m[0] >> 3) & 0x1F]
              if (m[0] >> 3) & 0x1F < len(SYSLOG_FACILITIES) else None)  # fmt: skip
_syslog_field("syslog.facility", FieldType.UINT32, "facility as a number (0-23).",
              lambda m: (m[0] >> 3) & 0x1F)  # fmt: skip
_syslog_field("syslog.severity.str", FieldType.CHARBUF, "severity as a string. Can have one of "
              "these values: emerg, alert, crit, err, warn, notice, info, debug",
              lambda m: SYSLOG_SEVERITIES[m[0] & 7])  # fmt: skip
_syslog_field("syslog.severity", FieldType.UINT32, "severity as a number (0-7).",
              lambda m: m[0] & 7)  # fmt: skip
_syslog_field("syslog.message", FieldType.CHARBUF, "message sent to syslog.", lambda m: m[1])

SYSLOG_CLASS = REGISTRIES["syscall"].register(syslog.build())

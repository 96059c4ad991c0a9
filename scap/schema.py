"""The driver event schema: every event type, its parameters and their flag tables.

The facts live in two generated data modules (``_event_table``, ``_flags_table``, made by
``tools/gen_event_table.py``); this module turns them into frozen ``EventInfo`` /
``ParamInfo`` objects once, at import, so the hot path only indexes a list.

Two tables are kept because two readers matter (docs/scap-format.md section 11):

* ``EVENT_INFO_0_29_3``: the table of Debian's sysdig 0.29.3 (336 entries), whose param
  counts, names and flag names are what sysdig prints, so replay output must use it;
* ``EVENT_INFO_CURRENT``: the current falcosecurity/libs table (what new Falco writes),
  as far as the generator's source goes (see ``tools/gen_event_table.py``);
* ``EVENT_INFO``, what readers index: the 0.29.3 entries for ids below 336 and the
  current entries above (sysdig 0.29.3 skips those, current Falco writes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, cast

from . import _event_table as _ev
from ._flags_table import FLAGS as _FLAGS

__all__ = [
    "EC",
    "EF",
    "EVENT_INFO",
    "EVENT_INFO_0_29_3",
    "EVENT_INFO_0_29_3_COUNT",
    "EVENT_INFO_CURRENT",
    "EVENT_INFO_IS_CURRENT",
    "PF",
    "PPME",
    "PT",
    "SYSCALL_NAMES",
    "SYSCALL_NAMES_0_29_3",
    "EventInfo",
    "ParamInfo",
    "event_info",
    "event_name",
    "event_types_by_name",
    "flags_to_names",
    "is_enter",
    "large_payload",
    "syscall_name",
]


class PT(IntEnum):
    """Parameter types (``enum ppm_param_type``; 44-48 exist only in current libs)."""

    NONE = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    CHARBUF = 9
    BYTEBUF = 10
    ERRNO = 11
    SOCKADDR = 12
    SOCKTUPLE = 13
    FD = 14
    PID = 15
    FDLIST = 16
    FSPATH = 17
    SYSCALLID = 18
    SIGTYPE = 19
    RELTIME = 20
    ABSTIME = 21
    PORT = 22
    L4PROTO = 23
    SOCKFAMILY = 24
    BOOL = 25
    IPV4ADDR = 26
    DYN = 27
    FLAGS8 = 28
    FLAGS16 = 29
    FLAGS32 = 30
    UID = 31
    GID = 32
    DOUBLE = 33
    SIGSET = 34
    CHARBUFARRAY = 35
    CHARBUF_PAIR_ARRAY = 36
    IPV4NET = 37
    IPV6ADDR = 38
    IPV6NET = 39
    IPADDR = 40
    IPNET = 41
    MODE = 42
    FSRELPATH = 43
    ENUMFLAGS8 = 44
    ENUMFLAGS16 = 45
    ENUMFLAGS32 = 46
    FD32 = 47
    PID32 = 48


class PF(IntEnum):
    """Print formats (``enum ppm_print_format``). ``PF_10_PADDED_DEC`` is spelled
    ``PADDED_DEC_10`` because a Python name cannot start with a digit."""

    NA = 0
    DEC = 1
    HEX = 2
    PADDED_DEC_10 = 3
    ID = 4
    DIR = 5
    OCT = 6


class EF(IntFlag):
    """Event flags (``enum ppm_event_flags``)."""

    NONE = 0
    CREATES_FD = 1 << 0
    DESTROYS_FD = 1 << 1
    USES_FD = 1 << 2
    READS_FROM_FD = 1 << 3
    WRITES_TO_FD = 1 << 4
    MODIFIES_STATE = 1 << 5
    UNUSED = 1 << 6
    WAITS = 1 << 7
    SKIPPARSERESET = 1 << 8
    OLD_VERSION = 1 << 9
    DROP_SIMPLE_CONS = 1 << 10  # 0.29.3 only
    LARGE_PAYLOAD = 1 << 11
    CONVERTER_MANAGED = 1 << 12  # current libs only


class EC(IntEnum):
    """Event categories (``enum ppm_event_category``). The low bits are the category
    proper; current libs ORs in one source bit (``SYSCALL`` ... ``ITERATOR``)."""

    UNKNOWN = 0
    OTHER = 1
    FILE = 2
    NET = 3
    IPC = 4
    MEMORY = 5
    PROCESS = 6
    SLEEP = 7
    SYSTEM = 8
    SIGNAL = 9
    USER = 10
    TIME = 11
    PROCESSING = 12
    IO_READ = 32
    IO_WRITE = 33
    IO_OTHER = 34
    WAIT = 64
    SCHEDULER = 128
    INTERNAL = 256
    SYSCALL = 512
    TRACEPOINT = 1024
    PLUGIN = 2048
    METAEVENT = 4096
    ITERATOR = 8192


EC_SOURCE_MASK = 512 | 1024 | 2048 | 4096 | 8192

FlagList = tuple[tuple[str, int], ...]
ParamExtra = FlagList | int | tuple["ParamInfo", ...] | None

_FLAG_TYPES = frozenset(
    {PT.FLAGS8, PT.FLAGS16, PT.FLAGS32, PT.MODE, PT.ENUMFLAGS8, PT.ENUMFLAGS16, PT.ENUMFLAGS32}
)


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One parameter of an event type.

    ``info`` depends on ``type``: the ``(name, value)`` list for FLAGS/ENUMFLAGS/MODE
    params (``None`` if the table gives none), the index of the dirfd param for FSRELPATH,
    the tuple of possible sub-params for DYN (indexed by the value's leading u8), else None.
    ``flags_name`` names the flag list (``"file_flags"``) when there is one.
    """

    name: str
    type: PT
    fmt: PF
    info: ParamExtra = None
    flags_name: str | None = None

    @property
    def dirfd_index(self) -> int | None:
        return self.info if self.type == PT.FSRELPATH else None  # type: ignore[return-value]

    @property
    def dyn_params(self) -> tuple[ParamInfo, ...]:
        return self.info if self.type == PT.DYN else ()  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One event type: ``name`` is what ``evt.type`` shows (``NA`` for unused slots)."""

    name: str
    category: int
    flags: EF
    params: tuple[ParamInfo, ...]

    @property
    def nparams(self) -> int:
        return len(self.params)

    @property
    def category_base(self) -> int:
        """The category without the current-libs source bit (``EC_SYSCALL`` ...)."""
        return self.category & ~EC_SOURCE_MASK


def _build_param(raw: Sequence[Any], flag_lists: dict[str, FlagList]) -> ParamInfo:
    name, ptype, fmt, info = raw
    ptype = PT(ptype)
    if ptype == PT.DYN:
        subs = tuple(_build_param(s, flag_lists) for s in (info or ()))
        return ParamInfo(name, ptype, PF(fmt), subs)
    if ptype == PT.FSRELPATH:
        return ParamInfo(name, ptype, PF(fmt), int(info or 0))
    if isinstance(info, str):
        return ParamInfo(name, ptype, PF(fmt), flag_lists[info], info)
    return ParamInfo(name, ptype, PF(fmt), None)


def _build(events: Iterable[Sequence[Any]], flag_lists: dict[str, FlagList]) -> list[EventInfo]:
    return [
        EventInfo(name, category, EF(flags), tuple(_build_param(p, flag_lists) for p in params))
        for name, category, flags, params in events
    ]


EVENT_INFO_0_29_3: list[EventInfo] = _build(_ev.EVENTS_0_29_3, _FLAGS["0.29.3"])
EVENT_INFO_0_29_3_COUNT = len(EVENT_INFO_0_29_3)

EVENT_INFO_IS_CURRENT = hasattr(_ev, "EVENTS_CURRENT")
if EVENT_INFO_IS_CURRENT:
    EVENT_INFO_CURRENT: list[EventInfo] = _build(_ev.EVENTS_CURRENT, _FLAGS["current"])
    _PPME_NAMES: Sequence[str] = _ev.PPME_NAMES
    _SC_NAMES: Sequence[str] = _ev.SYSCALL_NAMES_CURRENT
else:  # pragma: no cover - only before the current table is generated
    EVENT_INFO_CURRENT = list(EVENT_INFO_0_29_3)
    _PPME_NAMES = _ev.PPME_NAMES_0_29_3
    _SC_NAMES = _ev.SC_ENUM_NAMES_0_29_3

#: The table readers use: sysdig 0.29.3's entries for the ids it knows (its param counts,
#: names and flag names are what replay output must show) and current libs' entries above.
EVENT_INFO: list[EventInfo] = (
    EVENT_INFO_0_29_3 + EVENT_INFO_CURRENT[EVENT_INFO_0_29_3_COUNT:]
)

PPME = IntEnum(  # type: ignore[misc]
    "PPME",
    [(n, i) for i, n in enumerate(_PPME_NAMES) if n]
    # 0.29.3 spellings that were renamed later stay as aliases (PPME.SYSDIGEVENT_E == 196)
    + [(n, i) for i, n in enumerate(_ev.PPME_NAMES_0_29_3)
       if n and n not in set(_PPME_NAMES)],
)
PPME.__doc__ = "Event types, named as upstream without the prefix: PPME.SYSCALL_OPEN_X = 3."

#: PPM_SC code -> syscall name, spelled as current libs does (lower-cased ``PPM_SC_*``
#: identifier: ``setuid32``, ``_newselect``); code 0 is ``unknown``.
SYSCALL_NAMES: tuple[str, ...] = tuple(_SC_NAMES)
#: PPM_SC code -> name as sysdig 0.29.3 prints it (its ``g_syscall_info_table``:
#: ``<unknown>``, ``setuid`` for 305, ``newselect`` for 283).
SYSCALL_NAMES_0_29_3: tuple[str, ...] = tuple(_ev.SYSCALL_NAMES_0_29_3)


def _table(sysdig_0_29_3: bool, current: bool) -> list[EventInfo]:
    if sysdig_0_29_3:
        return EVENT_INFO_0_29_3
    return EVENT_INFO_CURRENT if current else EVENT_INFO


def event_info(etype: int, *, sysdig_0_29_3: bool = False,
               current: bool = False) -> EventInfo | None:
    """The table entry for ``etype``: from ``EVENT_INFO`` by default, strictly from
    sysdig 0.29.3's table with ``sysdig_0_29_3=True`` (``None`` from 336 on), or from
    ``EVENT_INFO_CURRENT`` with ``current=True``. ``None`` past the end of the table
    (libs skips such events)."""
    table = _table(sysdig_0_29_3, current)
    return table[etype] if 0 <= etype < len(table) else None


def syscall_name(code: int, *, sysdig_0_29_3: bool = False) -> str | None:
    """Name of a ``PPM_SC_*`` code, spelled as current libs does, or as sysdig 0.29.3
    prints it with ``sysdig_0_29_3=True`` (``None`` for codes it does not know)."""
    names = SYSCALL_NAMES_0_29_3 if sysdig_0_29_3 else SYSCALL_NAMES
    return names[code] if 0 <= code < len(names) else None


def event_name(etype: int, params: Sequence[object] | None = None, *,
               sysdig_0_29_3: bool = False, current: bool = False) -> str:
    """``evt.type`` of an event: the table name, or for the generic events (0/1) the
    syscall named by their first param (a ``PPM_SC_*`` code) when ``params`` is given."""
    if etype in (0, 1) and params:
        code = params[0]
        if isinstance(code, int):
            name = syscall_name(code, sysdig_0_29_3=sysdig_0_29_3)
            if name:
                return name
    info = event_info(etype, sysdig_0_29_3=sysdig_0_29_3, current=current)
    return info.name if info is not None else "unknown"


def is_enter(etype: int) -> bool:
    """Even types are enter events (direction ``>``), odd ones exit (``<``)."""
    return not etype & 1


def large_payload(etype: int) -> bool:
    """Whether the param lengths of this type are u32 rather than u16."""
    info = event_info(etype)
    return info is not None and bool(info.flags & EF.LARGE_PAYLOAD)


def _index_by_name(tables: Iterable[list[EventInfo]]) -> dict[str, frozenset[int]]:
    acc: dict[str, set[int]] = {}
    for table in tables:
        for etype, info in enumerate(table):
            if not info.flags & EF.UNUSED and info.name != "NA":
                acc.setdefault(info.name, set()).add(etype)
    return {name: frozenset(types) for name, types in acc.items()}


_BY_NAME = _index_by_name([EVENT_INFO_CURRENT, EVENT_INFO_0_29_3])
_GENERIC_TYPES = frozenset({0, 1})
_SYSCALL_NAME_SET = frozenset(SYSCALL_NAMES) | frozenset(SYSCALL_NAMES_0_29_3)


def event_types_by_name(name: str) -> frozenset[int]:
    """Every event type whose ``evt.type`` can be ``name``, across versions (``execve``
    -> all eight enter/exit pairs). A syscall without a dedicated event also matches the
    generic events 0/1 (as libs' ``names_to_event_set`` does); the rule engine uses this
    to index rules by ``evt.type``. Unknown names give an empty set."""
    types = _BY_NAME.get(name)
    if types is not None:
        return types
    if name in _SYSCALL_NAME_SET:
        return _GENERIC_TYPES
    return frozenset()


def flags_to_names(param: ParamInfo, value: int) -> list[str]:
    """Names of a FLAGS/ENUMFLAGS/MODE value, in table order, as sysdig 0.29.3 shows them.

    FLAGS and MODE: a list entry matches when all its bits are set in the value not yet
    explained by earlier entries (those bits are then consumed, so ``O_RDWR`` is not also
    shown as ``O_RDONLY|O_WRONLY``); a zero-valued entry (``O_RDONLY``, ``O_NONE``)
    matches only a zero value. An entry equal to the whole value ends the walk.
    ENUMFLAGS: the first entry equal to the value.
    """
    # a flag type's info is always its FlagList (see ParamInfo)
    table = cast(FlagList, param.info) if param.type in _FLAG_TYPES else None
    if not table:
        return []
    if param.type in (PT.ENUMFLAGS8, PT.ENUMFLAGS16, PT.ENUMFLAGS32):
        for fname, fval in table:
            if fval == value:
                return [fname]
        return []
    names: list[str] = []
    remaining = value
    for fname, fval in table:
        if fval == value:
            names.append(fname)
            break
        if fval == 0:
            continue
        if remaining & fval == fval and remaining:
            names.append(fname)
            remaining &= ~fval
    return names

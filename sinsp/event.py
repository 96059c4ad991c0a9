"""``sinsp.Event``: one capture record seen through the inspector's state.

The record (``scap.EventRecord``) stays as decoded by scap; the event adds its
number, the thread and fd it refers to, and the matching enter record of the
same thread. Old captures store both enter and exit events, and some
parameters exist only in the enter event (``openat``'s dirfd, ``execve``'s
filename ...); ``Event.param`` looks there when the exit event lacks a name.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sinsp.inspector import Inspector
    from sinsp.state.fds import FdInfo
    from sinsp.state.threads import ThreadInfo


class Event:
    """One event, linked to state. Valid until the inspector yields the next."""

    __slots__ = ("decoded", "enter", "fd", "fdnum", "inspector", "name_changed", "num", "record",
                 "thread")

    def __init__(self, record: Any, num: int, inspector: Inspector | None = None) -> None:
        self.record = record
        self.num = num
        self.inspector = inspector
        self.thread: ThreadInfo | None = None
        self.fd: FdInfo | None = None
        self.fdnum: int | None = None
        #: The enter record paired with this exit record (same thread, type-1).
        self.enter: Any = None
        #: Set by a parser that renamed ``fd`` while parsing this event where sinsp's
        #: field cannot be derived from the record alone (a datagram's tuple):
        #: ``fd.name_changed`` reads it.
        self.name_changed = False
        #: ``all_params(record)`` when a parser already decoded the whole record (fields may
        #: read it instead of decoding again), else None.
        self.decoded: list[Any] | None = None

    def __repr__(self) -> str:
        return f"Event(num={self.num}, type={self.name}{self.direction}, tid={self.tid})"

    # -- record passthroughs --------------------------------------------------

    @property
    def ts(self) -> int:
        return int(self.record.ts)

    @property
    def tid(self) -> int:
        return int(self.record.tid)

    @property
    def type(self) -> int:
        return int(self.record.type)

    @property
    def cpu(self) -> int:
        return int(self.record.cpu)

    @property
    def name(self) -> str:
        return str(self.record.name)

    @property
    def direction(self) -> str:
        return str(self.record.direction)

    @property
    def is_enter(self) -> bool:
        enter: bool = self.record.type % 2 == 0
        return enter

    # -- parameters -----------------------------------------------------------

    def param(self, name: str, default: Any = None) -> Any:
        """Decoded parameter ``name`` of this record, else of its enter record.

        An empty parameter (decoded ``None``) counts as absent: newer exit
        events repeat enter parameters that older drivers leave empty.
        """
        value = _param_by_name(self.record, name)
        if (value is _MISSING or value is None) and self.enter is not None:
            value = _param_by_name(self.enter, name)
        return default if value is _MISSING or value is None else value

    def record_param(self, name: str, default: Any = None) -> Any:
        """Parameter ``name`` of this record only (no fallback to the enter)."""
        value = _param_by_name(self.record, name)
        return default if value is _MISSING or value is None else value

    def has_param(self, name: str) -> bool:
        return _param_by_name(self.record, name) is not _MISSING

    def enter_param(self, name: str, default: Any = None) -> Any:
        if self.enter is None:
            return default
        value = _param_by_name(self.enter, name)
        return default if value is _MISSING else value


_MISSING: Any = object()


class _Layout:
    """How to read the params of one event type without going through the record's
    generic accessors: name -> index, and per param its type, table entry and, for
    fixed-width types, the ``struct`` that decodes it in place (no slice, no dispatch).
    Built once per type from the schema, which never changes at run time.

    ``known`` params are the reader's (0.29.3) table; the entries past it are the params a
    current-libs driver appends to the same event (openat's ``ino``, close's ``fd``), so the
    live exit-only records are read in place too (``param_at`` itself stops at ``known``,
    as ``record.param`` does)."""

    __slots__ = ("fixed", "index", "known", "lens", "pinfos", "ptypes", "w")

    def __init__(self, info: Any, large: bool, current: Any = None) -> None:
        params = list(info.params)
        self.known = len(params)
        if current is not None and current.name == info.name:
            params += list(current.params[len(params):])
        self.index: dict[str, int] = {}
        for i, p in enumerate(params):
            self.index.setdefault(p.name, i)
        self.ptypes = [int(p.type) for p in params]
        self.pinfos = params
        self.fixed = [_fixed_struct(t) for t in self.ptypes]
        self.w = 4 if large else 2
        #: stored param count -> Struct of the length array
        self.lens: dict[int, struct.Struct] = {}


def _fixed_struct(ptype: int) -> struct.Struct | None:
    """The in-place decoder of a fixed-width param type, derived from scap's own decoder
    (its width, and whether all-ones bytes decode negative or as a float), so the two
    cannot disagree."""
    from scap.params import decode_param, param_width

    width = param_width(ptype)
    if width not in (1, 2, 4, 8):
        return None
    probe = decode_param(ptype, b"\xff" * width)
    if isinstance(probe, float):
        return struct.Struct("<d") if width == 8 else None
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[width]
    return struct.Struct("<" + (code if probe < 0 else code.upper()))


_LAYOUT: dict[int, _Layout | None] = {}
_DECODE: list[Any] = []


def _layout(record: Any) -> _Layout | None:
    etype = record.type
    try:
        return _LAYOUT[etype]
    except KeyError:
        pass
    from scap import schema
    from scap.params import decode_param

    if not _DECODE:
        _DECODE.append(decode_param)
    info = record.info
    lay = None if info is None else _Layout(info, bool(int(info.flags) & schema.EF.LARGE_PAYLOAD),
                                            schema.event_info(etype, current=True))
    _LAYOUT[etype] = lay
    return lay


def param_at(record: Any, i: int, lay: _Layout | None = None) -> Any:
    """``record.param(i)`` (same value, same errors), read straight from the raw bytes."""
    if lay is None:
        lay = _LAYOUT.get(record.type) or _layout(record)
        if lay is None or i >= lay.known:
            return record.param(i)
    n = record.nparams
    if i >= n:
        return record.param(i)  # raises IndexError as the record does
    st = lay.lens.get(n)
    if st is None:
        st = lay.lens[n] = struct.Struct(f"<{n}{'I' if lay.w == 4 else 'H'}")
    raw = record.raw
    lens = st.unpack_from(raw, 26)
    ln = lens[i]
    if not ln:
        return None
    start = 26 + lay.w * n + (sum(lens[:i]) if i else 0)
    end = start + ln
    if end > len(raw):  # damaged record: the record's own error
        if i < lay.known:
            return record.param(i)
        return _DECODE[0](lay.ptypes[i], record.rawparam(i), lay.pinfos[i])
    fx = lay.fixed[i]
    if fx is not None and ln == fx.size:
        return fx.unpack_from(raw, start)[0]
    return _DECODE[0](lay.ptypes[i], raw[start:end], lay.pinfos[i])


#: (record type, enter type or -1, names) -> per name: (index in the record, index in the
#: enter) -- what ``params_of`` precomputes so a parser reads several params in one call
_PLANS: dict[tuple[int, int, tuple[str, ...]], tuple[Any, ...]] = {}


def _plan(rec: Any, enter: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    rlay = _LAYOUT.get(rec.type) or _layout(rec)
    elay = None if enter is None else (_LAYOUT.get(enter.type) or _layout(enter))
    steps = []
    for name in names:
        ri = rlay.index.get(name) if rlay is not None else None
        ei = elay.index.get(name) if elay is not None else None
        steps.append((name, ri, ei))
    return rlay, elay, len(rlay.ptypes) if rlay is not None else 0, tuple(steps)


def params_of(evt: Event, names: tuple[str, ...]) -> list[Any]:
    """``[evt.param(n) for n in names]`` (``None`` where absent) with the name lookups
    done once per (record type, enter type): the parsers' hot path."""
    rec = evt.record
    enter = evt.enter
    key = (rec.type, -1 if enter is None else enter.type, names)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(rec, enter, names)
    rlay, elay, known, steps = plan
    rn = rec.nparams
    if rlay is None or rn > known:  # params past both tables: the general path
        return [evt.param(n) for n, _r, _e in steps]
    out = []
    for _name, ri, ei in steps:
        v = param_at(rec, ri, rlay) if ri is not None and ri < rn else None
        if v is None and ei is not None and ei < enter.nparams:
            v = param_at(enter, ei, elay)
        out.append(v)
    return out


def _param_by_name(record: Any, name: str) -> Any:
    """``record.param(i)`` for the param called ``name`` (params a current-libs driver
    appended past the reader's table included: execve's caps and exe inode, clone's pidns
    start, openat's inode, close's fd); _MISSING if the type has no such param or this record
    carries fewer params."""
    lay = _LAYOUT.get(record.type) or _layout(record)
    if lay is None:
        return _MISSING
    i = lay.index.get(name)
    if i is None or i >= record.nparams:
        return _MISSING
    return param_at(record, i, lay)


def all_params(record: Any) -> list[Any] | None:
    """Every param of ``record`` decoded in place (those current libs append included) with
    one read of the length array, for parsers that need most of them; ``None`` when the
    record does not fit its tables (more params than known, damaged lengths, a param that
    does not decode), where callers take the per-name path and its errors."""
    n = record.nparams
    dec = _DECODERS.get((record.type, n))
    if dec is None:
        dec = _DECODERS[(record.type, n)] = _decoder(record, n)
    return dec(record.raw)


#: (type, nparams) -> generated decoder of the whole record (see ``_decoder``)
_DECODERS: dict[tuple[int, int], Callable[[bytes], list[Any] | None]] = {}


#: CHARBUF, FSPATH, FSRELPATH: text up to the first NUL (scap.params decodes them so)
_TEXT_TYPES = frozenset({9, 17, 43})


def _cstring(data: bytes) -> str:
    nul = data.find(b"\0")
    return (data[:nul] if nul >= 0 else data).decode("utf-8", "surrogateescape")


def _no_decoder(raw: bytes) -> None:
    return None


def _no_params(raw: bytes) -> list[Any]:
    return []


def _decoder(record: Any, n: int) -> Callable[[bytes], list[Any] | None]:
    """A function ``raw -> list | None`` for records of this type with ``n`` params: the
    length array in one unpack, then per param the fixed-width struct when the length fits
    (as ``param_at``), else the schema's decoder; generated once, so the loop, the table
    lookups and the offset sums of the generic path are gone."""
    lay = _LAYOUT.get(record.type) or _layout(record)
    if lay is None or n > len(lay.ptypes):
        return _no_decoder
    if n == 0:
        return _no_params
    binds: dict[str, Any] = {"_lens": struct.Struct(f"<{n}{'I' if lay.w == 4 else 'H'}"),
                             "_D": _DECODE[0], "_err": (ValueError, struct.error),
                             "_txt": _cstring}
    names = [f"l{i}" for i in range(n)]
    body = ["    try:"]
    body.append(f"        {', '.join(names)}{',' if n == 1 else ''} = _lens.unpack_from(raw, 26)")
    body.append(f"        if {26 + lay.w * n} + {' + '.join(names)} > len(raw):")
    body.append("            return None")
    pos = str(26 + lay.w * n)
    out = []
    for i in range(n):
        fx = lay.fixed[i]
        binds[f"_t{i}"] = lay.ptypes[i]
        binds[f"_i{i}"] = lay.pinfos[i]
        slow = f"_D(_t{i}, raw[p:p + l{i}], _i{i})"
        body.append(f"        p = {pos}")
        if lay.ptypes[i] in _TEXT_TYPES:  # what decode_param does for them, without dispatch
            body.append(f"        v{i} = _txt(raw[p:p + l{i}]) if l{i} else None")
        elif fx is not None:
            binds[f"_f{i}"] = fx
            body.append(f"        v{i} = None if not l{i} else _f{i}.unpack_from(raw, p)[0] "
                        f"if l{i} == {fx.size} else {slow}")
        else:
            body.append(f"        v{i} = {slow} if l{i} else None")
        pos = f"p + l{i}"
        out.append(f"v{i}")
    body.append("    except _err:  # ParamDecodeError is a ValueError")
    body.append("        return None")
    body.append(f"    return [{', '.join(out)}]")
    params = "".join(f", {k}={k}" for k in binds)
    code = f"def decode(raw{params}):\n" + "\n".join(body) + "\n"
    env = dict(binds)
    exec(compile(code, f"<params {record.type}/{n}>", "exec"), env)
    fn: Callable[[bytes], list[Any] | None] = env["decode"]
    return fn


def param_span(record: Any, i: int) -> tuple[int, int]:
    """``(start, end)`` of param ``i`` (< ``nparams``) in ``record.raw``: the bytes
    ``record.rawparam(i)`` returns are ``raw[start:end]`` (same errors on a short length
    array), without building every span."""
    lay = _LAYOUT.get(record.type) or _layout(record)
    if lay is None:
        return record._param_spans()[i]  # type: ignore[no-any-return]
    n = record.nparams
    if not 0 <= i < n:
        return record._param_spans()[i]  # type: ignore[no-any-return]  # its IndexError
    st = lay.lens.get(n)
    if st is None:
        st = lay.lens[n] = struct.Struct(f"<{n}{'I' if lay.w == 4 else 'H'}")
    lens = st.unpack_from(record.raw, 26)
    start = 26 + lay.w * n + (sum(lens[:i]) if i else 0)
    return start, start + lens[i]


def named_param(record: Any, name: str) -> Any:
    """The record's own param ``name`` (appended ones included), ``None`` when it has none
    or this record stops before it: ``evt.param(name)`` of an event without an enter."""
    lay = _LAYOUT.get(record.type) or _layout(record)  # _param_by_name, one frame less
    if lay is None:
        return None
    i = lay.index.get(name)
    if i is None or i >= record.nparams:
        return None
    return param_at(record, i, lay)

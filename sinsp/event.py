"""``sinsp.Event``: one capture record seen through the inspector's state.

The record (``scap.EventRecord``) stays as decoded by scap; the event adds its
number, the thread and fd it refers to, and the matching enter record of the
same thread. Old captures store both enter and exit events, and some
parameters exist only in the enter event (``openat``'s dirfd, ``execve``'s
filename ...); ``Event.param`` looks there when the exit event lacks a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sinsp.inspector import Inspector
    from sinsp.state.fds import FdInfo
    from sinsp.state.threads import ThreadInfo


class Event:
    """One event, linked to state. Valid until the inspector yields the next."""

    __slots__ = ("enter", "fd", "fdnum", "inspector", "num", "record", "thread")

    def __init__(self, record: Any, num: int, inspector: Inspector | None = None) -> None:
        self.record = record
        self.num = num
        self.inspector = inspector
        self.thread: ThreadInfo | None = None
        self.fd: FdInfo | None = None
        self.fdnum: int | None = None
        #: The enter record paired with this exit record (same thread, type-1).
        self.enter: Any = None

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
        return self.record.type % 2 == 0

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


#: per event type: parameter name -> index (the schema never changes at run time)
_INDEX: dict[int, dict[str, int]] = {}


def _param_by_name(record: Any, name: str) -> Any:
    """``record.param(i)`` for the param called ``name``; _MISSING if the
    type has no such param or this record carries fewer params."""
    etype = record.type
    index = _INDEX.get(etype)
    if index is None:
        info = record.info
        if info is None:
            return _MISSING
        index = {}
        for i, p in enumerate(info.params):
            index.setdefault(p.name, i)
        _INDEX[etype] = index
    i = index.get(name)
    if i is None:
        return _appended_param(record, name) if record.nparams > len(index) else _MISSING
    if i >= record.nparams:
        return _MISSING
    return record.param(i)


#: per event type: name -> (index, ParamInfo) of the params current libs appended past the
#: reader's (0.29.3) table
_APPENDED: dict[int, dict[str, tuple[int, Any]]] = {}


def _appended_param(record: Any, name: str) -> Any:
    """A param a current-libs driver appended to an event the reader knows in its 0.29.3
    layout (execve's caps and exe inode, clone's pidns start), decoded by the current
    table; _MISSING when neither table has it or this record stops before it."""
    etype = record.type
    extra = _APPENDED.get(etype)
    if extra is None:
        from scap import params, schema

        extra = {}
        cur = schema.event_info(etype, current=True)
        info = record.info
        if cur is not None and info is not None and cur.name == info.name:
            for i in range(len(info.params), len(cur.params)):
                extra.setdefault(cur.params[i].name, (i, cur.params[i]))
        _APPENDED[etype] = extra
        _APPENDED_DECODE[0] = params.decode_param
    hit = extra.get(name)
    if hit is None or hit[0] >= record.nparams:
        return _MISSING
    return _APPENDED_DECODE[0](hit[1].type, record.rawparam(hit[0]), hit[1])


_APPENDED_DECODE: list[Any] = [None]

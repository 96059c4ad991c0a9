"""Event parsers: one module per syscall family, one dispatch table.

``PARSERS`` maps an event type number (``PPME_*``) to a function
``parse(evt, inspector, verdict) -> None`` that updates state. The table is
built from the scap event schema by *name and direction*, so every version of
an event (``clone`` has five, ``execve`` nineteen) reaches the same parser,
which reads its parameters by name and copes with the ones a version lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sinsp.parsers import fd_misc, fd_open, mem, net, proc, sysevents

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict

Parser = Callable[["Event", "Inspector", "Verdict"], None]

#: (event name, direction) → parser; direction "E" enter, "X" exit.
BY_NAME: dict[tuple[str, str], Parser] = {}
for _mod in (proc, fd_open, fd_misc, net, mem, sysevents):
    BY_NAME.update(_mod.HANDLERS)


#: type number → parser; filled from the scap schema by ``ensure_built()``.
PARSERS: dict[int, Parser] = {}
_FLAGS: list[int] = []
#: Event types (by schema name) the inspector treats specially.
NO_CREATE_TYPES: set[int] = set()  # thread looked up, never invented
CONTAINER_TYPES: set[int] = set()  # container descriptions
_NO_CREATE_NAMES = frozenset({"procinfo", "container", "notification", "infra"})
#: Not EF_SKIPPARSERESET, yet sinsp's reset() treats them alike: a context switch looks its
#: thread up without inventing it (query_os false) and returns before the lastevent
#: bookkeeping, so a switch in the middle of a syscall does not break its enter/exit pair,
#: and a tid only seen switching stays unknown (``next=N``, not ``next=N(<NA>)``)
_LOOKUP_ONLY_NAMES = frozenset({"switch"})

# Bits of a type's plan (what the inspector does with the event before its parser runs).
PLAN_SKIPRESET = 1  # EF_SKIPPARSERESET: look the thread up, never create it, no pairing
PLAN_NO_CREATE = 2  # an unknown tid is not invented
PLAN_USES_FD = 4  # EF_USES_FD: the event names an fd (enter: param 0; exit: its enter's)
PLAN_CONTAINER = 8  # a container description
PLAN_EXIT = 16  # odd types

#: type number -> PLAN_* bits: one list index per event instead of several set lookups
#: and flag tests (filled by ``ensure_built()``; the parser itself stays in ``PARSERS``)
PLAN: list[int] = []


def ensure_built() -> dict[int, Parser]:
    """Fill ``PARSERS`` from ``scap.schema`` once (lazily, so that importing
    sinsp does not require the schema to be loaded)."""
    if _FLAGS:
        return PARSERS
    from scap import schema

    plan: list[int] = []
    for etype, info in enumerate(schema.EVENT_INFO):
        flags = int(info.flags)
        _FLAGS.append(flags)
        direction = "E" if etype % 2 == 0 else "X"
        handler = BY_NAME.get((info.name, direction))
        if handler is not None:
            PARSERS[etype] = handler
        bits = PLAN_EXIT if etype & 1 else 0
        if flags & schema.EF.SKIPPARSERESET or info.name in _LOOKUP_ONLY_NAMES:
            bits |= PLAN_SKIPRESET
        if flags & schema.EF.USES_FD:
            bits |= PLAN_USES_FD
        if info.name in _NO_CREATE_NAMES:
            NO_CREATE_TYPES.add(etype)
            bits |= PLAN_NO_CREATE
        if info.name == "container":
            CONTAINER_TYPES.add(etype)
            bits |= PLAN_CONTAINER
        plan.append(bits)
    PLAN[:] = plan
    return PARSERS


def event_flags(etype: int) -> int:
    """``EventInfo.flags`` of a type (0 for types the schema does not know)."""
    return _FLAGS[etype] if 0 <= etype < len(_FLAGS) else 0


__all__ = [
    "BY_NAME",
    "CONTAINER_TYPES",
    "NO_CREATE_TYPES",
    "PARSERS",
    "PLAN",
    "Parser",
    "ensure_built",
    "event_flags",
]

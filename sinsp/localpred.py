"""Event-local predicates: what a rule condition says about one open/close exit record alone.

The live hot path (``sinsp.hotpath``) decides in C, for each open-family or close exit of a
live batch, whether *any* enabled rule could match it. When none can, the record only updates
the state (its fd is added or removed) and never becomes a Python ``Event``. To decide that, the
engine (``engine.localfilter``) turns each rule condition, for one event type, into a tree of
these nodes: the parts of the condition that read only the record itself (the path it opened,
its flags, its return value) become ``Pred``s; everything that needs the process, the user,
the container or any other state becomes ``UNKNOWN``.

The tree is evaluated in three-valued (Kleene) logic: a rule *may* match unless its tree is
``FALSE``. Soundness is the one property that matters: a ``FALSE`` verdict must never be given
to an event the rule matches when evaluated by ``sinsp.filter`` in full. Precision (how often
``FALSE`` is reached) is only speed.

The view a ``Pred`` reads is a *candidate* record: an open-family exit (open, openat, openat2,
creat) that returned an fd (``res >= 0``) whose ``name`` param is an absolute, already-normal
path (no ``//``, ``/./``, ``/../``, trailing ``/`` or ``/.``/``/..``) of printable ASCII
(0x20-0x7e), or a close exit. For such a record the state layer's ``fd.name`` is the ``name``
param itself, so the fields below are functions of the record. Any other record is never
absorbed, whatever the tree says.

Fields (``Pred.field``) and what they are on a candidate open exit:

* ``fd.name``, ``fd.nameraw``: the path.
* ``fd.directory``, ``fd.filename``: as ``sinsp.fields.fd`` derives them from the path and the
  fd type (a directory when the open flags carry ``PPM_O_DIRECTORY``, else a file).
* ``fd.typechar``: ``f`` or ``d``; ``fd.type``: ``file`` or ``directory``.
* ``fd.num``, ``evt.rawres``: the returned fd.
* ``evt.is_open_read``, ``evt.is_open_write``, ``evt.is_open_exec``: as ``sinsp.fields.evt``
  computes them from the flags (the values compared are ``True``/``False``).

On a close exit only ``evt.rawres`` and ``fd.num`` (the closed fd) are known; every other
field reads the fd table and must be ``UNKNOWN``.

Operators (``Pred.op``): ``=``, ``!=``, ``in``, ``startswith``, ``endswith``, ``contains``,
``glob``, ``pmatch``, ``<``, ``<=``, ``>``, ``>=``, with ``sinsp.filter``'s semantics for the
field's type. ``values`` holds one operand, or the expanded list for ``in``/``pmatch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "FIELDS",
    "OPS",
    "UNKNOWN",
    "And",
    "Const",
    "Node",
    "Not",
    "Or",
    "Pred",
    "Tri",
    "Unknown",
    "kleene",
]

#: the fields a Pred may read (see the module docstring for their meaning)
FIELDS = frozenset({
    "fd.name", "fd.nameraw", "fd.directory", "fd.filename", "fd.typechar", "fd.type", "fd.num",
    "evt.rawres", "evt.is_open_read", "evt.is_open_write", "evt.is_open_exec",
})

#: the operators a Pred may use
OPS = frozenset({"=", "!=", "in", "startswith", "endswith", "contains", "glob", "pmatch",
                 "<", "<=", ">", ">="})


class Tri(IntEnum):
    """Kleene truth values: a rule may match unless its tree evaluates to FALSE."""

    FALSE = 0
    TRUE = 1
    UNKNOWN = 2


@dataclass(frozen=True, slots=True)
class Pred:
    """``field op values``: one comparison on a field of the record itself."""

    field: str
    op: str
    values: tuple[str | int | bool, ...]

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValueError(f"not an event-local field: {self.field}")
        if self.op not in OPS:
            raise ValueError(f"not an event-local operator: {self.op}")


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Const:
    """A part already decided for this event type (e.g. ``evt.type = openat``)."""

    value: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    """A part that reads more than the record (process, user, container, other fds...)."""


UNKNOWN = Unknown()

Node = Pred | And | Or | Not | Const | Unknown


def kleene(node: Node, pred: Callable[[Pred], Tri]) -> Tri:
    """The Kleene verdict of ``node``, each ``Pred`` judged by ``pred``: the tree semantics
    every evaluator shares (``sinsp.hotpath.evaluate`` on a record's view; tests on the full
    filter check), so only how a comparison is judged differs between them."""
    if isinstance(node, Pred):
        return pred(node)
    if isinstance(node, Const):
        return Tri.TRUE if node.value else Tri.FALSE
    if isinstance(node, Unknown):
        return Tri.UNKNOWN
    if isinstance(node, Not):
        r = kleene(node.item, pred)
        return r if r is Tri.UNKNOWN else (Tri.FALSE if r is Tri.TRUE else Tri.TRUE)
    if isinstance(node, And | Or):
        stop = Tri.FALSE if isinstance(node, And) else Tri.TRUE
        acc = Tri.TRUE if isinstance(node, And) else Tri.FALSE
        for item in node.items:
            r = kleene(item, pred)
            if r is stop:
                return stop
            if r is Tri.UNKNOWN:
                acc = Tri.UNKNOWN
        return acc
    raise TypeError(f"not a localpred node: {node!r}")

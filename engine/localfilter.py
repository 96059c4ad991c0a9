"""Rule conditions reduced to event-local predicate trees (``sinsp.localpred``) per event type.

The live hot path absorbs open-family and close exits that no enabled rule can match. It
decides that in C from one tree per event type, built here from the rules the engine runs on
that type (``Ruleset.for_type``: enabled, above the minimum priority, indexed by event type)
and from the very ASTs it evaluates: each rule's expanded condition with its type-determined
checks folded (``sinsp.filter.specialize``), exactly as the fused evaluator compiles it.

What a check becomes, for one event type:

* ``evt.type``/``evt.dir``/``syscall.type`` comparisons: ``Const`` (their values are
  functions of the type, computed with the registry's own extractors);
* ``evt.num = 0`` (Falco's ``never_true``): ``Const(False)``, as the inspector numbers events
  from 1; ``in``/``pmatch`` an empty list (an empty ``user_known_*`` list) on a single-valued
  field: ``Const(False)``, as the compiled check is false for every value and for N/A;
* a comparison of an event-local field (``localpred.FIELDS``; on close exits only
  ``evt.rawres`` and ``fd.num``) with a literal, by an operator of ``localpred.OPS``: a
  ``Pred`` whose values are what the filter compiler makes of the literals (lists expanded,
  ``true``/``false`` as bools, integers for numeric fields);
* anything else (state fields, transformers, field arguments, field-vs-field comparisons,
  ``exists``, case-insensitive or byte operators, a literal we would parse differently):
  ``UNKNOWN``.

Soundness rests on two facts. Each ``Pred`` is the check it came from, so on a candidate record
(whose fields ``localpred`` defines) it has the check's value; replacing any subtree by
``UNKNOWN`` can only move a verdict from FALSE/TRUE to UNKNOWN, never flip it, because
Kleene's and/or/not are monotone. The simplifications keep the one thing the hot path reads,
whether the root is FALSE: in a *positive* position (under an even number of ``not``) TRUE and
UNKNOWN lead to the same root verdict, so an ``or`` with an unknown operand is ``UNKNOWN``; in
a *negative* position FALSE and UNKNOWN do, so an ``and`` with an unknown operand is
``UNKNOWN``. Everything else is plain Kleene folding (an ``and`` with a FALSE operand is
FALSE...). The tests (``tests/engine/test_localfilter*.py``) check the property itself: on
every hot exit of the shared captures and on generated live records, a rule that matches in
full never has a FALSE tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from scap import schema
from sinsp import localpred as lp
from sinsp.filter import ast
from sinsp.filter.specialize import fold_types, type_values

if TYPE_CHECKING:
    from engine.compiler import CompiledRule
    from engine.ruleset import Ruleset

__all__ = ["CLOSE_EXIT_TYPES", "OPEN_EXIT_TYPES", "local_filters", "reduce_condition",
           "rule_local_filter", "to_text"]



def _exits(*names: str) -> frozenset[int]:
    """The dedicated exit types of these syscalls, every table generation (not generic)."""
    return frozenset(t for n in names for t in schema.event_types_by_name(n)
                     if t > 1 and not schema.is_enter(t))


#: open-family exits (open, openat in both layouts, openat2, creat): every localpred field
OPEN_EXIT_TYPES = _exits("open", "openat", "openat2", "creat")
#: close exits: only the return value and the closed fd are known without the fd table
CLOSE_EXIT_TYPES = _exits("close")
_CLOSE_FIELDS = frozenset({"evt.rawres", "fd.num"})

_INT_FIELDS = frozenset({"fd.num", "evt.rawres"})
_BOOL_FIELDS = frozenset({"evt.is_open_read", "evt.is_open_write", "evt.is_open_exec"})
_SCALAR_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_OPS_OF = {
    "str": lp.OPS,
    "int": _SCALAR_OPS | {"in"},
    "bool": frozenset({"=", "!=", "in"}),
}
_INT_RE = re.compile(r"[+-]?[0-9]+")
_TRUE, _FALSE = lp.Const(True), lp.Const(False)


def _local_fields(evt_type: int) -> frozenset[str]:
    if evt_type in OPEN_EXIT_TYPES:
        return lp.FIELDS
    if evt_type in CLOSE_EXIT_TYPES:
        return _CLOSE_FIELDS
    return frozenset()


# -- the type-determined values --------------------------------------------------------------


class _Rec:
    __slots__ = ("nparams", "type")

    def __init__(self, t: int) -> None:
        self.type = t
        self.nparams = 0


class _TypeOnly:
    """An event that is only its type: extractors needing more raise and are not folded."""

    __slots__ = ("record",)

    def __init__(self, t: int) -> None:
        self.record = _Rec(t)


def _type_values(registry: Any, evt_type: int) -> dict[str, str]:
    """``evt.type``/``evt.dir`` as the engine folds them, plus ``syscall.type`` (the
    syscall's name for every non-generic syscall event type, from its own extractor)."""
    values = type_values(registry, evt_type)
    if evt_type > 1:
        try:
            info, arg = registry.resolve("syscall.type", None)
            v = info.extractor(_TypeOnly(evt_type), arg)
        except Exception:  # an extractor that needs a real event: leave it unknown
            v = None
        if isinstance(v, str):
            values["syscall.type"] = v
    return values


# -- AST -> predicate tree ---------------------------------------------------------------------


def _int(s: str) -> int | None:
    """An integer literal as the filter compiler reads it (decimal or ``0x`` hex); ``None``
    for anything it would read otherwise (a float)."""
    t = s.strip()
    if _INT_RE.fullmatch(t):
        return int(t)
    if t[:2].lower() == "0x":
        try:
            return int(t, 16)
        except ValueError:
            return None
    return None


def _literal(kind: str, s: str) -> str | int | bool | None:
    if kind == "str":
        return s
    if kind == "int":
        return _int(s)
    return {"true": True, "false": False}.get(s)


def _scalar(registry: Any, f: ast.FieldRef) -> bool:
    """Whether the field yields one value (not a list) as the compiler sees it."""
    if f.transformers or registry is None:
        return False
    try:
        info, arg = registry.resolve(f.name, f.arg)
        return not info.returns_list(arg)
    except Exception:  # not resolvable here: say nothing about it
        return False


def _compare(node: ast.Compare, fields: frozenset[str], registry: Any) -> lp.Node:
    f = node.field
    op = "=" if node.op == "==" else node.op
    rhs = node.value
    if (op in ("in", "intersects", "pmatch") and isinstance(rhs, ast.ListValue)
            and not rhs.items and _scalar(registry, f)):
        # an empty list (Falco's user_known_* lists): no single value is in it, N/A neither
        return _FALSE
    if f.name == "evt.num" and f.arg is None and not f.transformers:
        # never_true: evt.num starts at 1 (sinsp.Inspector numbers every record it sees)
        v = node.value
        if op in ("=", "!=") and isinstance(v, ast.Value) and _int(v.value) == 0:
            return _FALSE if op == "=" else _TRUE
        return lp.UNKNOWN
    if f.name not in fields or f.arg is not None or f.transformers:
        return lp.UNKNOWN
    kind = "int" if f.name in _INT_FIELDS else "bool" if f.name in _BOOL_FIELDS else "str"
    if op == "intersects":  # on a single-valued field it is membership, like 'in'
        op = "in"
    if op not in _OPS_OF[kind]:
        return lp.UNKNOWN
    if op in ("in", "pmatch"):
        if isinstance(rhs, ast.Value):
            items: tuple[ast.Value, ...] = (rhs,)
        elif isinstance(rhs, ast.ListValue):
            items = rhs.items
        else:
            return lp.UNKNOWN
    elif isinstance(rhs, ast.Value):
        items = (rhs,)
    else:  # a list after a scalar operator, another field, an unexpanded name
        return lp.UNKNOWN
    values: list[str | int | bool] = []
    for it in items:
        lit = it.value if op == "pmatch" else _literal(kind, it.value)
        if lit is None:
            return lp.UNKNOWN
        values.append(lit)
    return lp.Pred(f.name, op, tuple(values))


def _reduce(node: ast.Node, fields: frozenset[str], registry: Any, positive: bool) -> lp.Node:
    if isinstance(node, (ast.And, ast.Or)):
        kids = [_reduce(c, fields, registry, positive) for c in node.children]
        return _and(kids, positive) if isinstance(node, ast.And) else _or(kids, positive)
    if isinstance(node, ast.Not):
        return _not(_reduce(node.child, fields, registry, not positive))
    if isinstance(node, ast.Compare):
        return _compare(node, fields, registry)
    return lp.UNKNOWN  # exists, a leftover identifier, anything new


def _not(item: lp.Node) -> lp.Node:
    if isinstance(item, lp.Const):
        return lp.Const(not item.value)
    if isinstance(item, lp.Unknown):
        return lp.UNKNOWN
    if isinstance(item, lp.Not):
        return item.item
    return lp.Not(item)


def _collect(items: Iterable[lp.Node], kind: type[lp.And] | type[lp.Or]) -> list[lp.Node]:
    """Operands with nested same-kind nodes flattened and duplicates dropped (in order)."""
    out: list[lp.Node] = []
    seen: set[lp.Node] = set()
    for it in items:
        subs = it.items if isinstance(it, (lp.And, lp.Or)) and isinstance(it, kind) else (it,)
        for sub in subs:
            if sub not in seen:
                seen.add(sub)
                out.append(sub)
    return out


def _and(items: Iterable[lp.Node], positive: bool) -> lp.Node:
    kids: list[lp.Node] = []
    unknown = False
    for it in _collect(items, lp.And):
        if isinstance(it, lp.Const):
            if not it.value:
                return _FALSE
        elif isinstance(it, lp.Unknown):
            unknown = True
        else:
            kids.append(it)
    if unknown:
        if not positive or not kids:  # FALSE ~ UNKNOWN here: only a TRUE verdict counts
            return lp.UNKNOWN
        kids.append(lp.UNKNOWN)
    if not kids:
        return _TRUE
    return kids[0] if len(kids) == 1 else lp.And(tuple(kids))


def _or(items: Iterable[lp.Node], positive: bool) -> lp.Node:
    kids: list[lp.Node] = []
    unknown = False
    for it in _collect(items, lp.Or):
        if isinstance(it, lp.Const):
            if it.value:
                return _TRUE
        elif isinstance(it, lp.Unknown):
            unknown = True
        else:
            kids.append(it)
    if unknown:
        if positive or not kids:  # TRUE ~ UNKNOWN here: only a FALSE verdict counts
            return lp.UNKNOWN
        kids.append(lp.UNKNOWN)
    if not kids:
        return _FALSE
    return kids[0] if len(kids) == 1 else lp.Or(tuple(kids))


def reduce_condition(node: ast.Node | bool, evt_type: int, registry: Any = None) -> lp.Node:
    """An (already type-folded) condition as an event-local tree for ``evt_type``
    (``registry``: the fields' registry, to know which fields are single-valued)."""
    if isinstance(node, bool):
        return lp.Const(node)
    return _reduce(node, _local_fields(evt_type), registry, True)


# -- rules -> trees --------------------------------------------------------------------------


def rule_local_filter(rule: CompiledRule, evt_type: int) -> lp.Node:
    """``rule``'s condition reduced for events of ``evt_type`` (which it is indexed under)."""
    flt = rule.filter
    registry = getattr(flt, "registry", None)
    tree = getattr(flt, "ast", None)
    if registry is None or tree is None:  # a filter of another kind: nothing to read
        return lp.UNKNOWN
    folded = fold_types(tree, _type_values(registry, evt_type))
    return reduce_condition(folded, evt_type, registry)


def local_filters(ruleset: Ruleset, event_types: Iterable[int],
                  source: str = "syscall") -> dict[int, lp.Node]:
    """For each type: the ``or`` over the active rules the engine runs on it of their local
    trees; ``Const(False)`` when none can match (no rule, or every one folds to false)."""
    out: dict[int, lp.Node] = {}
    for t in event_types:
        t = int(t)
        trees = [rule_local_filter(r, t) for r in ruleset.for_type(source, t)]
        out[t] = _or(trees, True)
    return out


# -- reading a tree ----------------------------------------------------------------------------


def _value_text(v: str | int | bool) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if isinstance(v, int) else ast.quote(v)


def to_text(node: lp.Node) -> str:
    """A tree in filter syntax, ``?`` for UNKNOWN (for debugging and test messages)."""
    if isinstance(node, lp.Const):
        return "true" if node.value else "false"
    if isinstance(node, lp.Unknown):
        return "?"
    if isinstance(node, lp.Pred):
        if node.op in ("in", "pmatch"):
            rhs = "(" + ", ".join(_value_text(v) for v in node.values) + ")"
        else:
            rhs = _value_text(node.values[0])
        return f"{node.field} {node.op} {rhs}"
    if isinstance(node, lp.Not):
        inner = to_text(node.item)
        return f"not ({inner})" if isinstance(node.item, (lp.And, lp.Or)) else f"not {inner}"
    word = " and " if isinstance(node, lp.And) else " or "
    return word.join(f"({to_text(i)})" if isinstance(i, (lp.And, lp.Or)) else to_text(i)
                     for i in node.items)


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.localfilter RULES_FILE...``: each hot type's tree with the rules'
    default enabled set (FALSE: the hot path may absorb every candidate of that type)."""
    import sys

    from engine.engine import RuleEngine

    files = sys.argv[1:] if argv is None else argv
    eng = RuleEngine()
    res = eng.load_files(files)
    if not res.successful:
        print(res.as_string(True), file=sys.stderr)
        return 1
    for t, tree in eng.local_filters(sorted(OPEN_EXIT_TYPES | CLOSE_EXIT_TYPES)).items():
        print(f"{t}: {to_text(tree)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

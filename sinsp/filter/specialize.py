"""A filter specialised to one event type: its type-determined checks decided up front.

The rule engine only runs a rule on events of the types its condition can match (the
per-type index), so inside the rule the ``evt.type in (open, openat, ...)`` check that put it
in that index is already known to hold — yet it is usually the first operand of the
condition, evaluated on every event.  ``specialize(flt, t)`` folds every plain ``evt.type``
and ``evt.dir`` comparison (``= == != in``) for type ``t`` to a constant, simplifies the
and/or/not tree around it and compiles what is left; a condition that folds to false is
reported as such so the engine can leave the rule out of that type's list altogether.

Soundness: the values ``evt.type``/``evt.dir`` have for an event of type ``t`` are computed
by calling the registry's own extractors on a record of that type; ``evt.type`` only for
non-generic types (``t > 1``), whose name depends on nothing but the type (generic events
take the syscall name from a parameter and are never folded).  Compiled results are shared
between types whose folded trees are equal, which they mostly are (``open``/``openat`` exits
of one rule fold to the same tree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast

if TYPE_CHECKING:
    from .compiler import Filter, Pred

__all__ = ["fold_for_type", "fold_types", "specialize", "type_values"]

_GENERIC_MAX = 1  # PPME_GENERIC_E / PPME_GENERIC_X


class _Rec:
    __slots__ = ("nparams", "type")

    def __init__(self, t: int) -> None:
        self.type = t
        self.nparams = 0


class _Evt:
    __slots__ = ("record",)

    def __init__(self, t: int) -> None:
        self.record = _Rec(t)


# Fields whose value is a function of the event type alone (for the types given): evt.type
# except on generic events, evt.dir always.
_TYPE_FIELDS: dict[str, Any] = {
    "evt.type": lambda t: t > _GENERIC_MAX,
    "evt.dir": lambda t: True,
}


def type_values(registry: Any, t: int) -> dict[str, str]:
    """The type-determined fields' values for events of type ``t``, read with the registry's
    own extractors (a field whose extractor needs more than the type is left out)."""
    out: dict[str, str] = {}
    for name, applies in _TYPE_FIELDS.items():
        if not applies(t):
            continue
        try:
            info, arg = registry.resolve(name, None)
            v = info.extractor(_Evt(t), arg)
        except Exception:  # an extractor that needs a real event: do not fold
            continue
        if isinstance(v, str):
            out[name] = v
    return out


def fold_types(node: ast.Node, values: dict[str, str]) -> ast.Node | bool:
    """``node`` with its checks of type-determined fields decided by ``values`` (field ->
    string value); ``True``/``False`` when the whole condition is decided."""
    if isinstance(node, ast.And):
        kids: list[ast.Node] = []
        for c in node.children:
            f = fold_types(c, values)
            if f is False:
                return False
            if f is not True:
                kids.append(f)
        if not kids:
            return True
        return kids[0] if len(kids) == 1 else ast.And(tuple(kids), node.pos)  # type: ignore[arg-type]
    if isinstance(node, ast.Or):
        kids = []
        for c in node.children:
            f = fold_types(c, values)
            if f is True:
                return True
            if f is not False:
                kids.append(f)
        if not kids:
            return False
        return kids[0] if len(kids) == 1 else ast.Or(tuple(kids), node.pos)  # type: ignore[arg-type]
    if isinstance(node, ast.Not):
        f = fold_types(node.child, values)
        if isinstance(f, bool):
            return not f
        return node if f is node.child else ast.Not(f, node.pos)  # type: ignore[arg-type]
    if isinstance(node, ast.Compare):
        fr = node.field
        val = values.get(fr.name) if fr.arg is None and not fr.transformers else None
        if val is not None:
            name = val
            v = node.value
            if node.op in ("=", "==", "!=") and isinstance(v, ast.Value):
                return (name == v.value) if node.op != "!=" else (name != v.value)
            if node.op == "in":
                if isinstance(v, ast.Value):
                    return name == v.value
                if isinstance(v, ast.ListValue):
                    return any(name == i.value for i in v.items)
    return node


def specialize(flt: Filter, t: int, cache: dict[Any, Any]) -> Pred | bool:
    """``flt.matches`` for events of type ``t`` only: a predicate, or ``True``/``False`` when
    the condition is decided by the type alone.  ``cache`` (per filter) shares results."""
    from .compiler import compile_filter

    got: Pred | bool | None = cache.get(t)
    if got is not None:
        return got
    values = type_values(flt.registry, t) if flt.registry is not None else None
    if not values:
        res: Pred | bool = flt.matches
    else:
        folded = fold_types(flt.ast, values)
        if isinstance(folded, bool):
            res = folded
        elif folded == flt.ast:
            res = flt.matches
        else:
            key = ("ast", folded)
            res = cache.get(key)  # type: ignore[assignment]
            if res is None:
                res = cache[key] = compile_filter(folded, flt.registry).matches
    cache[t] = res
    return res


def fold_for_type(flt: Filter, t: int) -> ast.Node | bool:
    """``flt``'s condition for events of type ``t``, its type-determined checks decided: the
    tree :func:`specialize` compiles (``flt.ast`` itself when nothing folds)."""
    values = type_values(flt.registry, t) if flt.registry is not None else None
    if not values:
        return flt.ast
    return fold_types(flt.ast, values)

"""Many conditions over one event as one generated function, each field extracted once.

The rule engine runs every rule that may match an event type on each event of that type, in
load order.  Compiled one by one, the upstream rules on an ``openat`` exit extract ``fd.name``
about ten times, ``evt.is_open_read``/``fd.typechar``/``fd.num`` (the ``open_read`` macro)
three times each, and call one closure per check.  :func:`fuse` writes the whole list as one
Python function instead: each rule is one ``try: if <condition>: ...`` block whose checks
are inline expressions over *field locals*, filled on first use (``f3 if f3 is not _U else
(f3 := extract(e, arg))``), so a field is extracted at most once per event whichever rules
read it, and the common comparisons (``== != in startswith contains endswith < <= > >=``)
cost no call at all.

The results are those of the per-rule path by construction: the same literals, set and value
predicates (``compiler.set_value_pred``, ``compiler.lift_value``, ``_Compiler.value_pred``)
on the same extracted values, the same and/or/not short-circuit order, a value of an
unexpected type sent to the same guarded predicate, and an exception in one rule (a failed
extraction included) counted through ``on_error`` and skipping only that rule, as
``Ruleset.matches`` does.  Only extraction is shared, which needs extractors to be functions
of the event and its state (which no rule evaluation changes).  Checks the generator has no
inline form for (transformers, ``val()`` right-hand sides, buffers) call the closure the
per-rule compiler makes; conditions nested deeper than CPython's parser allows run as their
own compiled filter.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from sinsp.fields.registry import FieldRegistry, FieldType

from . import ast
from .compiler import _FAST_ORDER, _Compiler, _flatten, lift_value, set_value_pred

__all__ = ["fuse"]

Pred = Callable[[Any], bool]

_U: Any = object()  # a field local not extracted yet
#: values whose ``in`` test against a frozenset cannot raise (others take the guarded path)
_HASHABLE = frozenset({str, int, bool, float, bytes, type(None)})
_MAX_DEPTH = 40  # and/or/not nesting per rule; CPython's parser stops near 200 parentheses
_STR_INLINE = {"contains": "{lit} in {f}", "startswith": "{f}.startswith({lit})",
               "endswith": "{f}.endswith({lit})"}  # fmt: skip
_NAMES = itertools.count()


def _exists_value(v: Any) -> bool:
    return v is not None and not (isinstance(v, (list, tuple)) and not v)


class _Gen:
    """Python source for conditions over ``e``, with bindings and shared field locals."""

    def __init__(self, registry: FieldRegistry | None) -> None:
        # (no registry: every condition must be a predicate)
        self.comp = _Compiler(registry if registry is not None else FieldRegistry("none"), "")
        self.registry = self.comp.registry
        self.binds: dict[str, Any] = {}
        self.fields: dict[tuple[str, str | None], tuple[str, str]] = {}
        self.contexts: dict[Callable[[Any], Any], tuple[str, str]] = {}

    def bind(self, value: Any, prefix: str = "b") -> str:
        name = f"_{prefix}{len(self.binds)}"
        self.binds[name] = value
        return name

    def access(self, ref: ast.FieldRef) -> tuple[str, str] | None:
        """(local, expression that extracts it once) for a plain field, else None."""
        if ref.transformers:
            return None
        info, arg = self.registry.resolve(ref.name, ref.arg)
        if info.type is FieldType.BYTEBUF:
            return None  # the per-rule path converts buffer values first
        key = (ref.name, ref.arg)
        got = self.fields.get(key)
        if got is None:
            local = f"f{len(self.fields)}"
            staged = getattr(info.extractor, "staged", None)
            if staged is not None:
                # a two-stage extractor (fd.*, evt.is_open_*): the first stage is shared too
                ctx, marker, absent, fn = staged
                c, cget = self.context(ctx)
                value = (f"({self.bind(absent, 'na')} if {cget} is {self.bind(marker, 'nm')} "
                         f"else {self.bind(fn, 's')}(e, *{c}))")
            else:
                value = f"{self.bind(info.extractor, 'x')}(e, {self.bind(arg, 'a')})"
            got = self.fields[key] = (
                local, f"({local} if {local} is not _U else ({local} := {value}))")
        return got

    def context(self, ctx: Callable[[Any], Any]) -> tuple[str, str]:
        """(local, expression computing it once per event) for a staged extractor's first
        stage."""
        got = self.contexts.get(ctx)
        if got is None:
            local = f"c{len(self.contexts)}"
            got = self.contexts[ctx] = (
                local,
                f"({local} if {local} is not _U else ({local} := {self.bind(ctx, 'cx')}(e)))")
        return got

    def opaque(self, pred: Pred) -> str:
        return f"{self.bind(pred, 'p')}(e)"

    def expr(self, node: ast.Node) -> str:
        if isinstance(node, ast.And):
            return "(" + " and ".join(self.expr(c) for c in _flatten(node, ast.And)) + ")"
        if isinstance(node, ast.Or):
            return "(" + " or ".join(self.expr(c) for c in _flatten(node, ast.Or)) + ")"
        if isinstance(node, ast.Not):
            return f"(not {self.expr(node.child)})"
        if isinstance(node, ast.Unary):
            pred = self.comp.unary(node)  # validates as the per-rule compiler does
            acc = self.access(node.field)
            if acc is None:
                return self.opaque(pred)
            return f"{self.bind(_exists_value, 'ex')}({acc[1]})"
        if isinstance(node, ast.Compare):
            return self.compare(node)
        return self.opaque(self.comp.expr(node))  # raises the compiler's error

    def compare(self, node: ast.Compare) -> str:
        pred = self.comp.compare(node)  # validates; the fallback for shapes not inlined here
        rhs = node.value
        acc = self.access(node.field)
        if acc is None or isinstance(rhs, (ast.FieldRef, ast.Identifier)):
            return self.opaque(pred)
        f, get = acc
        info, arg = self.registry.resolve(node.field.name, node.field.arg)
        ftype, is_list = info.type, info.returns_list(arg)
        strict_list = is_list and info.is_list
        op = node.op
        if op in ("in", "intersects", "pmatch"):
            if isinstance(rhs, ast.Value):
                rhs = ast.ListValue((rhs,), rhs.pos)
            assert isinstance(rhs, ast.ListValue)
            values = [self.comp.literal(v, ftype, op, node) for v in rhs.items]
            if op != "pmatch" and not ftype.is_ip and not is_list:
                members = frozenset(values)

                def member(v: Any) -> bool:
                    try:
                        return v in members
                    except TypeError:  # an unhashable value from a sloppy extractor
                        return False

                m, mv = self.bind(members, "m"), self.bind(member, "mv")
                return f"({f} in {m} if _type({get}) in _H else {mv}({f}))"
            vpred, all_of = set_value_pred(op, values, ftype, strict_list)
            return f"{self.bind(lift_value(vpred, is_list, all_of), 'lv')}({get})"
        if isinstance(rhs, ast.ListValue):
            return self.opaque(pred)
        lit = self.comp.literal(rhs, ftype, op, node)
        simple = not is_list and not ftype.is_ip
        if simple and op in ("=", "=="):
            return f"({get} == {self.bind(lit, 'l')})"
        if simple and op == "!=":
            return f"({get} is not None and {f} != {self.bind(lit, 'l')})"
        lv = self.bind(lift_value(self.comp.value_pred(op, lit, ftype, node), is_list), "lv")
        if simple and ftype.is_string and op in _STR_INLINE and isinstance(lit, str):
            test = _STR_INLINE[op].format(lit=self.bind(lit, "l"), f=f)
            return f"({test} if _type({get}) is _str else {lv}({f}))"
        if simple and ftype.is_numeric and op in _FAST_ORDER:
            return f"({f} {op} {self.bind(lit, 'l')} if _type({get}) is _int else {lv}({f}))"
        return f"{lv}({get})"


def _depth(node: ast.Node) -> int:
    if isinstance(node, (ast.And, ast.Or)):
        return 1 + max(_depth(c) for c in node.children)
    if isinstance(node, ast.Not):
        return 1 + _depth(node.child)
    return 0


def fuse(items: Sequence[tuple[ast.Expr | Pred, Any]], registry: FieldRegistry | None, *,
         first: bool, on_error: Callable[[Any, Exception], None]
         ) -> Callable[[Any], list[Any]]:
    """One function ``run(e) -> [result, ...]`` for ``(condition, result)`` pairs in order:
    the results of the conditions that hold (only the first one with ``first``).

    A condition is an AST (compiled against ``registry``, its field values shared with the
    other conditions) or a predicate ``p(e)`` called as is.  An exception while evaluating
    a condition calls ``on_error(result, exc)`` and that condition counts as false.
    """
    gen = _Gen(registry)
    lines: list[str] = []
    for cond, result in items:
        if isinstance(cond, ast.Node):
            src = (gen.expr(cond) if _depth(cond) <= _MAX_DEPTH
                   else gen.opaque(gen.comp.expr(cond)))
        else:
            src = gen.opaque(cond)
        r = gen.bind(result, "r")
        hit = f"return [{r}]" if first else f"out.append({r})"
        lines += ["    try:", f"        if {src}:", f"            {hit}",
                  "    except Exception as x:", f"        _err({r}, x)"]
    fixed = {"_U": _U, "_H": _HASHABLE, "_str": str, "_int": int, "_type": type,
             "_err": on_error}
    binds = {**fixed, **gen.binds}
    params = "".join(f", {k}={k}" for k in binds)
    head = [f"def fused(e{params}):"]
    local_names = [local for local, _ in gen.fields.values()]
    local_names += [local for local, _ in gen.contexts.values()]
    if local_names:
        head.append("    " + " = ".join(local_names) + " = _U")
    if not first:
        head.append("    out = []")
    tail = ["    return []" if first else "    return out"]
    code = "\n".join(head + lines + tail) + "\n"
    env = dict(binds)
    exec(compile(code, f"<fused {next(_NAMES)}>", "exec"), env)
    fn: Callable[[Any], list[Any]] = env["fused"]
    fn.__source__ = code  # type: ignore[attr-defined]  # for debugging and tests
    return fn

"""The compiler: collected items -> expanded ASTs -> compiled filters, plus load diagnostics.

Mirrors Falco's ``rule_loader::compiler``, with one deliberate difference: Falco substitutes
lists *textually* before parsing, we expand them on the AST (a bare item of a ``(...)`` list,
or a bare word after ``in``, that names a list is replaced by that list's items).  The result
is the same for every well-formed ruleset and cannot corrupt quoted strings.

Exceptions are folded into the condition the way Falco does it (as text appended with
``and not (...)``, quoting values with spaces), so the rule's effective condition is identical
to Falco's and errors in exception values point into that text as Falco's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import ItemError
from engine.formats import OutputFormat, OutputFormatError
from engine.load_result import Context, ErrorCode, WarningCode
from sinsp.filter import ast as fast
from sinsp.filter.errors import FilterError

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.collector import Collector, ExceptionInfo, RuleInfo
    from engine.priority import Priority

__all__ = ["CompiledRule", "compile_all"]

_UNKNOWN_MARKERS = ("nonexistent field", "invalid formatting token", "unknown event type",
                    "unknown filter:")
_UNSAFE_PREFIXES = ("ka.", "jevt.")
_EQUALITY_OPS = frozenset({"==", "=", "!=", "in", "intersects", "pmatch"})
CONTAINER_INFO = "%container.info"
CONTAINER_INFO_EXPANSION = "container_id=%container.id container_name=%container.name"
EVTTYPE_WARN_THRESHOLD = 100


@dataclass(slots=True)
class CompiledRule:
    """A rule ready to run.  ``ast`` is the fully expanded condition (macros, lists and
    exceptions folded in); ``macro_of`` maps ``id(subtree)`` to the macro it came from."""

    name: str
    order: int
    source: str
    priority: Priority
    desc: str
    output: str
    tags: tuple[str, ...]
    condition: str
    ast: fast.Expr
    filter: Any
    formatter: OutputFormat
    event_types: frozenset[int] | None
    enabled: bool
    exception_fields: tuple[str, ...] = ()
    macro_of: dict[int, str] = field(default_factory=dict)


def _quote_item(s: str) -> str:
    if " " in s and s[:1] not in ("'", '"'):
        return '"' + s + '"'
    return s


def _paren_item(s: str) -> str:
    return s if s.startswith("(") else "(" + s + ")"


def build_exception_condition(cond: str, exceptions: list[ExceptionInfo]) -> tuple[str, set[str]]:
    """Falco's ``build_rule_exception_infos``: ``(cond) and not (...) and not (...)``."""
    fields: set[str] = set()
    out = "(" + cond + ")"
    for ex in exceptions:
        icond = ""
        if not ex.fields.is_list:
            for val in ex.values:
                if val.is_list:
                    raise ItemError(ErrorCode.LOAD_ERR_VALIDATE,
                                    "Expected values array to contain a list of strings", ex.ctx)
                icond += f"({ex.fields.item} {ex.comps.item} (" if not icond else ", "
                fields.add(ex.fields.item)
                icond += _quote_item(val.item)
            icond += "))" if icond else ""
        else:
            icond = "("
            for values in ex.values:
                if len(ex.fields.items) != len(values.items):
                    raise ItemError(ErrorCode.LOAD_ERR_VALIDATE,
                                    "Fields and values lists must have equal length", ex.ctx)
                icond += "" if icond == "(" else " or "
                icond += "("
                for k, fld in enumerate(ex.fields.items):
                    icond += "" if k == 0 else " and "
                    v = values.items[k]
                    op = ex.comps.items[k].item
                    if v.is_list:
                        istr = "(" + ", ".join(_quote_item(x.item) for x in v.items) + ")"
                    elif op in ("in", "intersects", "pmatch"):
                        istr = _paren_item(v.item)
                    else:
                        istr = _quote_item(v.item)
                    icond += f" {fld.item} {op} {istr}"
                    fields.add(fld.item)
                icond += ")"
            icond += ")"
            if icond == "()":
                icond = ""
        if icond:
            out += " and not " + icond
    return out, fields


def _item_value(item: str) -> fast.Value:
    """A list item as written in YAML -> a filter literal (``'"a b"'`` is the quoted ``a b``)."""
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "\"'":
        return fast.Value(item[1:-1], True)
    return fast.Value(item, " " in item)


class _Expander:
    """Expands list references and macros on an AST, recording what was used."""

    def __init__(self, lists: dict[str, tuple[fast.Value, ...]],
                 macros: dict[str, fast.Expr]) -> None:
        self.lists = lists
        self.macros = macros
        self.used_lists: set[str] = set()
        self.used_macros: set[str] = set()
        self.macro_of: dict[int, str] = {}
        self.error: tuple[str, int] | None = None
        self._path: list[str] = []

    def expand_lists_only(self, node: fast.Node) -> fast.Node:
        out: fast.Node = self._walk(node, macros=False)
        return out

    def expand(self, node: fast.Expr) -> fast.Expr:
        out: fast.Expr = self._walk(node, macros=True)  # an expression expands to one
        return out

    def _list_items(self, items: tuple[fast.Value, ...]) -> tuple[fast.Value, ...]:
        out: list[fast.Value] = []
        changed = False
        for it in items:
            if not it.quoted and it.value in self.lists:
                self.used_lists.add(it.value)
                out.extend(self.lists[it.value])
                changed = True
            else:
                out.append(it)
        return tuple(out) if changed else items

    def _walk(self, node: Any, macros: bool) -> Any:
        if isinstance(node, (fast.And, fast.Or)):
            kids = tuple(self._walk(c, macros) for c in node.children)
            if all(a is b for a, b in zip(kids, node.children, strict=True)):
                return node
            return type(node)(kids, node.pos)
        if isinstance(node, fast.Not):
            kid = self._walk(node.child, macros)
            return node if kid is node.child else fast.Not(kid, node.pos)
        if isinstance(node, fast.Compare):
            val = node.value
            if isinstance(val, fast.ListValue):
                items = self._list_items(val.items)
                if items is not val.items:
                    return fast.Compare(node.field, node.op, fast.ListValue(items, val.pos),
                                        node.pos)
            elif isinstance(val, fast.Identifier) and val.name in self.lists:
                self.used_lists.add(val.name)
                return fast.Compare(node.field, node.op,
                                    fast.ListValue(self.lists[val.name], val.pos), node.pos)
            elif (isinstance(val, fast.Value) and not val.quoted and val.value in self.lists
                  and node.op in _EQUALITY_OPS):
                self.used_lists.add(val.value)
                return fast.Compare(node.field, node.op,
                                    fast.ListValue(self.lists[val.value], val.pos), node.pos)
            return node
        if isinstance(node, fast.Identifier) and macros:
            name = node.name
            body = self.macros.get(name)
            if body is None:
                if self.error is None:
                    self.error = (f"Undefined macro '{name}' used in filter.", node.pos)
                return node
            if name in self._path:
                if self.error is None:
                    self.error = (f"reference loop in macro '{name}'", node.pos)
                return node
            self.used_macros.add(name)
            self._path.append(name)
            try:
                sub = self._walk(body, macros)
            finally:
                self._path.pop()
            self.macro_of.setdefault(id(sub), name)
            return sub
        return node


def _unsafe_na(node: fast.Node) -> bool:
    for n in fast.walk(node):
        if (isinstance(n, fast.Compare) and n.field.name.startswith(_UNSAFE_PREFIXES)
                and n.op in _EQUALITY_OPS):
            v = n.value
            if isinstance(v, fast.Value) and v.value == "<NA>":
                return True
            if isinstance(v, fast.ListValue) and any(i.value == "<NA>" for i in v.items):
                return True
    return False


class _Compiler:
    def __init__(self, col: Collector, registries: dict[str, Any],
                 parse: Callable[[str], fast.Expr], compile_filter: Callable[[Any, Any], Any],
                 warn: Callable[[WarningCode, str, Context], None]) -> None:
        self.col = col
        self.registries = registries
        self.parse = parse
        self.compile_filter = compile_filter
        self.warn = warn
        self.lists: dict[str, tuple[fast.Value, ...]] = {}
        self.used_lists: set[str] = set()
        self.used_macros: set[str] = set()
        self.macro_asts: dict[str, fast.Expr] = {}

    def _parse(self, text: str, ctx: Context) -> fast.Expr:
        try:
            return self.parse(text)
        except FilterError as e:
            line, col = (e.line, e.col) if e.line else fast.line_col(text, max(e.pos, 0))
            raise ItemError(ErrorCode.LOAD_ERR_COMPILE_CONDITION, e.msg,
                            ctx.condition(text, max(e.pos, 0), line, col)) from None

    def compile_lists(self) -> None:
        for info in self.col.lists.values():
            items: list[fast.Value] = []
            for it in info.items:
                ref = self.col.lists.get(it)
                if ref is not None and ref.index < info.visibility:
                    # an earlier list: its flattened items, or (when it is compiled later
                    # because this list was redefined after it) its raw items, as Falco does
                    self.used_lists.add(it)
                    items.extend(self.lists[it] if it in self.lists
                                 else tuple(_item_value(x) for x in ref.items))
                else:
                    items.append(_item_value(it))
            self.lists[info.name] = tuple(items)

    def compile_macros(self) -> None:
        parsed: dict[str, fast.Expr] = {}
        for m in self.col.macros.values():
            parsed[m.name] = self._parse(m.cond, m.cond_ctx)
        for m in self.col.macros.values():
            visible = {n: self.macro_asts.get(n, parsed[n]) for n, o in self.col.macros.items()
                       if o.index < m.visibility}
            self.macro_asts[m.name] = self._resolve(parsed[m.name], visible, m.cond, m.ctx)

    def _resolve(self, tree: fast.Expr, macros: dict[str, fast.Expr], text: str,
                 ctx: Context, macro_of: dict[int, str] | None = None) -> fast.Expr:
        exp = _Expander(self.lists, macros)
        out = exp.expand(tree)
        self.used_lists |= exp.used_lists
        self.used_macros |= exp.used_macros
        if exp.error is not None:
            msg, pos = exp.error
            line, col = fast.line_col(text, max(pos, 0))
            raise ItemError(ErrorCode.LOAD_ERR_VALIDATE, msg,
                            ctx.condition(text, max(pos, 0), line, col))
        if macro_of is not None:
            macro_of.update(exp.macro_of)
        return out

    def compile_rule(self, r: RuleInfo, order: int) -> CompiledRule | None:
        registry = self.registries[r.source]
        cond = r.cond
        ex_fields: set[str] = set()
        if r.exceptions:
            cond, ex_fields = build_exception_condition(cond, r.exceptions)
        output = r.output.replace(CONTAINER_INFO, CONTAINER_INFO_EXPANSION) \
            if CONTAINER_INFO in r.output and _has_container_fields(registry) \
            else r.output.replace(CONTAINER_INFO, "")
        try:
            formatter = OutputFormat(output, registry)
        except OutputFormatError as e:
            if r.skip_if_unknown_filter and any(k in str(e) for k in _UNKNOWN_MARKERS):
                self.warn(WarningCode.LOAD_UNKNOWN_FILTER, str(e), r.output_ctx)
                return None
            raise ItemError(ErrorCode.LOAD_ERR_COMPILE_OUTPUT, str(e), r.output_ctx) from None
        tree = self._parse(cond, r.cond_ctx)
        macro_of: dict[int, str] = {}
        tree = self._resolve(tree, self.macro_asts, cond, r.ctx, macro_of)
        if _unsafe_na(tree):
            self.warn(WarningCode.LOAD_UNSAFE_NA_CHECK, "", r.cond_ctx)
        try:
            flt = self.compile_filter(tree, registry)
        except FilterError as e:
            pos = max(e.pos, 0)
            line, col = fast.line_col(cond, pos)
            ctx = r.cond_ctx.condition(cond, pos, line, col)
            if r.skip_if_unknown_filter and any(k in e.msg for k in _UNKNOWN_MARKERS):
                self.warn(WarningCode.LOAD_UNKNOWN_FILTER, e.msg, ctx)
                return None
            raise ItemError(ErrorCode.LOAD_ERR_COMPILE_CONDITION, e.msg, ctx) from None
        evttypes = getattr(flt, "event_types", None)
        if r.source == "syscall" and r.warn_evttypes and (
                evttypes is None or not evttypes or len(evttypes) > EVTTYPE_WARN_THRESHOLD):
            self.warn(WarningCode.LOAD_NO_EVTTYPE, "Rule matches too many evt.type values. This "
                      "has a significant performance penalty.", r.ctx)
        assert r.priority is not None
        return CompiledRule(
            name=r.name, order=order, source=r.source, priority=r.priority, desc=r.desc,
            output=output, tags=tuple(r.tags), condition=cond, ast=tree, filter=flt,
            formatter=formatter,
            event_types=None if evttypes is None else frozenset(evttypes),
            enabled=r.enabled, exception_fields=tuple(sorted(ex_fields)), macro_of=macro_of)


def _has_container_fields(registry: Any) -> bool:
    return "container.id" in registry and "container.name" in registry


def compile_all(col: Collector, registries: dict[str, Any],
                parse: Callable[[str], fast.Expr], compile_filter: Callable[[Any, Any], Any],
                warn: Callable[[WarningCode, str, Context], None],
                error: Callable[[ErrorCode, str, Context], None]) -> list[CompiledRule]:
    """Compile every collected item.  Stops at the first error (reported through ``error``),
    like Falco; warnings for unused macros/lists are only given when compilation succeeded."""
    c = _Compiler(col, registries, parse, compile_filter, warn)
    rules: list[CompiledRule] = []
    try:
        c.compile_lists()
        c.compile_macros()
        for order, r in enumerate(col.rules.values()):
            if r.unknown_source:
                continue
            cr = c.compile_rule(r, order)
            if cr is not None:
                rules.append(cr)
    except ItemError as e:
        error(e.code, e.message, e.context)
        return []
    for m in col.macros.values():
        if m.name not in c.used_macros:
            warn(WarningCode.LOAD_UNUSED_MACRO, "Macro not referred to by any other rule/macro",
                 m.ctx)
    for li in col.lists.values():
        if li.name not in c.used_lists:
            warn(WarningCode.LOAD_UNUSED_LIST, "List not referred to by any other rule/macro",
                 li.ctx)
    return rules


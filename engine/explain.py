"""Explain a rule on an event: which parts of its condition held, with the values seen.

The expanded AST of a rule is walked; every leaf check is compiled on its own (cached per rule)
and evaluated, every field it reads is extracted and rendered.  ``and``/``or``/``not`` combine
the leaf results exactly as the rule filter does, so the root result equals the rule's verdict.
Sub-trees that came from a macro are labelled with the macro's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sinsp.filter import ast as fast

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.compiler import CompiledRule

__all__ = ["ExplainNode", "Explanation", "explain_rule"]


@dataclass(frozen=True, slots=True)
class ExplainNode:
    """One node of the condition: its text, its result and, for checks, the field values."""

    kind: str                      # "and", "or", "not", "check", "exists"
    text: str
    result: bool
    macro: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    children: tuple[ExplainNode, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "text": self.text, "result": self.result}
        if self.macro:
            d["macro"] = self.macro
        if self.values:
            d["values"] = dict(self.values)
        if self.children:
            d["children"] = [c.as_dict() for c in self.children]
        return d

    def lines(self, depth: int = 0) -> list[str]:
        mark = "+" if self.result else "-"
        label = f"macro {self.macro}: " if self.macro else ""
        body = label + (self.kind if self.kind in ("and", "or", "not") else self.text)
        if self.values:
            body += "    [" + ", ".join(f"{k}={v}" for k, v in self.values.items()) + "]"
        out = [f"{'  ' * depth}[{mark}] {body}"]
        for c in self.children:
            out.extend(c.lines(depth + 1))
        return out


@dataclass(frozen=True, slots=True)
class Explanation:
    rule: str
    matched: bool
    event_type_ok: bool
    root: ExplainNode

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "matched": self.matched,
                "event_type_ok": self.event_type_ok, "condition": self.root.as_dict()}

    def as_text(self) -> str:
        head = f"rule '{self.rule}': {'MATCH' if self.matched else 'no match'}"
        if not self.event_type_ok:
            head += " (event type not in the rule's event types)"
        return "\n".join([head, *self.root.lines(1)]) + "\n"

    def __str__(self) -> str:
        return self.as_text()


class _Explainer:
    def __init__(self, rule: CompiledRule, registry: Any,
                 compile_filter: Callable[[Any, Any], Any], cache: dict[int, Any]) -> None:
        self.rule = rule
        self.registry = registry
        self.compile_filter = compile_filter
        self.cache = cache

    def _values(self, evt: Any, node: fast.Compare | fast.Unary) -> dict[str, str]:
        refs = [node.field]
        if isinstance(node, fast.Compare) and isinstance(node.value, fast.FieldRef):
            refs.append(node.value)
        out: dict[str, str] = {}
        for ref in refs:
            try:
                info, arg = self.registry.resolve(ref.name, ref.arg)
                v = info.extractor(evt, arg)
                out[ref.full_name] = "<NA>" if v is None else self.registry.render(v, info)
            except Exception as e:  # explain must never fail on a bad event
                out[ref.full_name] = f"<error: {e}>"
        return out

    def _leaf(self, evt: Any, node: fast.Expr) -> bool:
        flt = self.cache.get(id(node))
        if flt is None:
            flt = self.cache[id(node)] = self.compile_filter(node, self.registry)
        try:
            return bool(flt.matches(evt))
        except Exception:
            return False

    def visit(self, evt: Any, node: fast.Expr) -> ExplainNode:
        macro = self.rule.macro_of.get(id(node))
        text = fast.to_text(node)
        if isinstance(node, (fast.And, fast.Or)):
            kids = tuple(self.visit(evt, c) for c in node.children)
            res = all(k.result for k in kids) if isinstance(node, fast.And) \
                else any(k.result for k in kids)
            kind = "and" if isinstance(node, fast.And) else "or"
            return ExplainNode(kind, text, res, macro, {}, kids)
        if isinstance(node, fast.Not):
            kid = self.visit(evt, node.child)
            return ExplainNode("not", text, not kid.result, macro, {}, (kid,))
        if isinstance(node, (fast.Compare, fast.Unary)):
            kind = "exists" if isinstance(node, fast.Unary) else "check"
            return ExplainNode(kind, text, self._leaf(evt, node), macro, self._values(evt, node))
        return ExplainNode("check", text, self._leaf(evt, node), macro)


def explain_rule(rule: CompiledRule, evt: Any, evt_type: int | None, registry: Any,
                 compile_filter: Callable[[Any, Any], Any],
                 cache: dict[int, Any]) -> Explanation:
    root = _Explainer(rule, registry, compile_filter, cache).visit(evt, rule.ast)
    type_ok = rule.event_types is None or evt_type is None or evt_type in rule.event_types
    return Explanation(rule.name, root.result and type_ok, type_ok, root)

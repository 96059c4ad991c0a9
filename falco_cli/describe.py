"""``-L`` / ``-l RULE``: describe the loaded rules.

Text: Falco's two-column table (``%-50s %s``) with descriptions word-wrapped as
``falco::utils::wrap_text(desc, 51, 110)`` (each word followed by a space, continuation lines
indented by 51 columns).

JSON (``json_output``): the shape of current Falco's ``falco_engine::describe_rule``. ``-L``
gives ``required_engine_version``, ``required_plugin_versions``, ``rules``, ``macros`` and
``lists``; ``-l RULE`` gives ``{"rules": [...]}`` for that rule. Every item is ``{"info": ...,
"details": ...}``: ``info`` is the item as written (a rule's condition without its exceptions),
``details`` what the engine made of it (macros and lists it names, the operators and fields of
the expanded condition, event types, the expanded condition text). The raw items come from the
engine's rule collector (the loader's view, with appends applied); rules alone are described
when an engine has none.
"""
from __future__ import annotations

import json
from typing import Any

from sinsp.filter import ast as fast


def wrap_text(text: str, indent: int, line_len: int) -> str:
    out = []
    length = 0
    for word in text.split():
        if length + len(word) + 1 <= line_len - indent:
            length += len(word) + 1
        else:
            out.append("\n" + " ".ljust(indent))
            length = len(word) + 1
        out.append(word + " ")
    return "".join(out)


def two_columns(left: str, right: str) -> str:
    return f"{left:<50} {right}\n"


# -- condition analysis ---------------------------------------------------------------------


def _parse(text: str) -> Any:
    from sinsp.filter import parse
    try:
        return parse(text)
    except Exception:  # items loaded fine; a parse failure here only loses details
        return None


def _references(node: Any, macros: dict[str, Any], lists: dict[str, Any]
                ) -> tuple[list[str], list[str]]:
    """Macros and lists a raw (unexpanded) condition names, in order of appearance."""
    ms: dict[str, None] = {}
    ls: dict[str, None] = {}
    if node is None:
        return [], []
    for n in fast.walk(node):
        if isinstance(n, fast.Identifier):
            if n.name in macros:
                ms[n.name] = None
            elif n.name in lists:
                ls[n.name] = None
        elif isinstance(n, fast.Value) and not n.quoted and n.value in lists:
            ls[n.value] = None
    return list(ms), list(ls)


def _operators_fields(node: Any) -> tuple[list[str], list[str]]:
    ops: dict[str, None] = {}
    fields: dict[str, None] = {}
    if node is None:
        return [], []
    for n in fast.walk(node):
        if isinstance(n, (fast.Compare, fast.Unary)):
            ops[n.op] = None
        elif isinstance(n, fast.FieldRef):
            fields[n.full_name] = None
    return list(ops), list(fields)


def _event_names(codes: Any, source: str) -> list[str]:
    """Falco lists event names for syscall rules (every name when the rule matches every type)
    and the plugin event types for other sources."""
    if source != "syscall":
        return ["asyncevent", "pluginevent"]
    from scap.schema import EF, EVENT_INFO
    if codes is None:
        codes = range(len(EVENT_INFO))
    names = {EVENT_INFO[c].name for c in codes if 0 <= c < len(EVENT_INFO)
             and not EVENT_INFO[c].flags & EF.UNUSED and EVENT_INFO[c].name != "NA"}
    names.add("asyncevent")
    return sorted(names)


def _plugins(source: str, fields: list[str]) -> list[str]:
    """The built-in plugins a rule uses (Falco: the source's plugin, plugins of its fields)."""
    if source != "k8s_audit":
        return []
    out = ["k8saudit"]
    if any(f.startswith(("json.", "jevt.")) for f in fields):
        out.append("json")
    return out


# -- items ----------------------------------------------------------------------------------


def _collector(engine: Any) -> Any:
    # RuleEngine keeps the loader's items (lists, macros, raw rules) in its collector; it has
    # no public accessor, and describing is the one consumer that needs the raw view.
    return getattr(engine, "_collector", None)


def raw_rule(engine: Any, name: str) -> Any:
    """The rule as the loader collected it (``cond``, ``output``, ``exceptions``), or None."""
    col = _collector(engine)
    return col.rules.get(name) if col is not None else None


def _priority(rule: Any) -> str:
    return rule.priority.text() if hasattr(rule.priority, "text") else str(rule.priority)


def rule_json(engine: Any, rule: Any) -> dict[str, Any]:
    col = _collector(engine)
    raw = col.rules.get(rule.name) if col is not None else None
    macros = col.macros if col is not None else {}
    lists = col.lists if col is not None else {}
    cond = raw.cond if raw is not None else rule.condition
    enabled = bool(engine.is_enabled(rule.name)) if hasattr(engine, "is_enabled") \
        else bool(rule.enabled)
    info = {"name": rule.name, "condition": cond, "priority": _priority(rule),
            "output": raw.output if raw is not None else rule.output,
            "description": rule.desc, "enabled": enabled, "source": rule.source,
            "tags": list(rule.tags)}
    used_m, used_l = _references(_parse(cond), macros, lists)
    ops, fields = _operators_fields(rule.ast)
    out_fields = [f[0] for f in getattr(rule.formatter, "fields", ())]
    exc = list(raw.exceptions) if raw is not None else []
    exc_ops: dict[str, None] = {}
    for e in exc:
        comps = e.comps
        if comps.is_list:
            for c in comps.items:
                for it in (c.items if c.is_list else [c]):
                    exc_ops[it.item] = None
        else:
            exc_ops[comps.item] = None
    details = {"macros": used_m, "lists": used_l, "condition_operators": ops,
               "condition_fields": fields, "output_fields": out_fields,
               "exception_fields": sorted(rule.exception_fields),
               "exception_names": [e.name for e in exc], "exception_operators": list(exc_ops),
               "events": _event_names(rule.event_types, rule.source),
               "condition_compiled": fast.to_text(rule.ast), "output_compiled": rule.output,
               "plugins": _plugins(rule.source, fields + out_fields)}
    return {"info": info, "details": details}


def _used_macros(engine: Any) -> set[str]:
    used: set[str] = set()
    for r in engine.rules:
        used.update(getattr(r, "macro_of", {}).values())
    return used


def macro_json(engine: Any, m: Any, used: set[str]) -> dict[str, Any]:
    col = _collector(engine)
    node = _parse(m.cond)
    used_m, used_l = _references(node, col.macros, col.lists)
    ops, fields = _operators_fields(node)
    types = None
    if node is not None:
        try:
            from sinsp.filter import compile_filter
            types = compile_filter(node, engine.registries["syscall"]).event_types
        except Exception:  # a macro of another source, or one naming lists/macros
            types = None
    return {"info": {"name": m.name, "condition": m.cond},
            "details": {"used": m.name in used, "macros": used_m, "lists": used_l,
                        "condition_operators": ops, "condition_fields": fields,
                        "events": _event_names(types, "syscall"),
                        "condition_compiled": m.cond if node is None else fast.to_text(node),
                        "plugins": []}}


def _used_lists(col: Any, used_macros: set[str], engine: Any) -> set[str]:
    """Lists named by a rule, a used macro or a used list (transitively)."""
    todo: list[str] = []
    for r in engine.rules:
        raw = col.rules.get(r.name)
        if raw is not None:
            todo.extend(_references(_parse(raw.cond), col.macros, col.lists)[1])
            for e in raw.exceptions:
                for v in e.values:
                    todo.extend(_list_refs(v, col.lists))
    for name in used_macros:
        m = col.macros.get(name)
        if m is not None:
            todo.extend(_references(_parse(m.cond), col.macros, col.lists)[1])
    seen: set[str] = set()
    while todo:
        n = todo.pop()
        if n in seen or n not in col.lists:
            continue
        seen.add(n)
        todo.extend(i for i in col.lists[n].items if i in col.lists)
    return seen


def _list_refs(entry: Any, lists: dict[str, Any]) -> list[str]:
    if getattr(entry, "is_list", False):
        return [n for it in entry.items for n in _list_refs(it, lists)]
    item = getattr(entry, "item", "")
    return [item] if item in lists else []


def list_json(col: Any, lst: Any, used: set[str]) -> dict[str, Any]:
    refs = [i for i in lst.items if i in col.lists and col.lists[i].index < lst.index]
    items = [i for i in lst.items if i not in refs]
    compiled: list[str] = []
    _expand(col, lst.name, compiled, set())
    return {"info": {"name": lst.name, "items": items},
            "details": {"used": lst.name in used, "lists": refs, "items_compiled": compiled,
                        "plugins": []}}


def _expand(col: Any, name: str, out: list[str], stack: set[str]) -> None:
    lst = col.lists[name]
    stack = stack | {name}
    for i in lst.items:
        ref = col.lists.get(i)
        if ref is not None and i not in stack and ref.index < lst.index:
            _expand(col, i, out, stack)
        else:
            out.append(i)


def describe_json(engine: Any, rule_name: str | None) -> dict[str, Any]:
    rules = list(engine.rules)
    if rule_name:
        rules = [r for r in rules if r.name == rule_name]
        if not rules:
            raise KeyError(f"Rule named '{rule_name}' not found")
        return {"rules": [rule_json(engine, r) for r in rules]}
    col = _collector(engine)
    out: dict[str, Any] = {}
    if col is not None:
        v = col.required_engine_version
        out["required_engine_version"] = ".".join(str(x) for x in v) if isinstance(v, tuple) \
            else str(v)
        out["required_plugin_versions"] = [
            {"name": alts[0][0], "version": alts[0][1],
             "alternatives": [{"name": n, "version": ver} for n, ver in alts[1:]]}
            for alts in col.required_plugin_versions if alts]
    out["rules"] = [rule_json(engine, r) for r in rules]
    if col is not None:
        used_m = _used_macros(engine)
        out["macros"] = [macro_json(engine, m, used_m) for m in col.macros.values()]
        used_l = _used_lists(col, used_m, engine)
        out["lists"] = [list_json(col, lst, used_l) for lst in col.lists.values()]
    return out


def describe(engine: Any, rule_name: str | None, *, json_output: bool) -> str:
    if json_output:
        return json.dumps(describe_json(engine, rule_name), separators=(",", ":")) + "\n"
    rules = list(engine.rules)
    if rule_name:
        rules = [r for r in rules if r.name == rule_name]
        if not rules:
            raise KeyError(f"Rule named '{rule_name}' not found")
    out = [two_columns("Rule", "Description"), two_columns("----", "-----------")]
    for r in rules:
        out.append(two_columns(r.name, wrap_text(r.desc, 51, 110) + "\n"))
    return "".join(out)

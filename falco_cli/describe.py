"""``-L`` / ``-l RULE``: describe the loaded rules.

Text: Falco's two-column table (``%-50s %s``) with descriptions word-wrapped as
``falco::utils::wrap_text(desc, 51, 110)`` (each word followed by a space, continuation lines
indented by 51 columns). JSON (``json_output``): ``{"rules": [{"info": {...}}, ...]}``, the shape of
Falco's ``describe_rule`` output restricted to what the engine knows about each rule.
"""
from __future__ import annotations

import json
from typing import Any


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


def _info(rule: Any) -> dict[str, Any]:
    prio = rule.priority.text() if hasattr(rule.priority, "text") else str(rule.priority)
    return {"name": rule.name, "description": rule.desc, "condition": rule.condition,
            "output": rule.output, "priority": prio, "source": rule.source,
            "tags": list(rule.tags), "enabled": bool(rule.enabled)}


def describe(engine: Any, rule_name: str | None, *, json_output: bool) -> str:
    rules = list(engine.rules)
    if rule_name:
        rules = [r for r in rules if r.name == rule_name]
        if not rules:
            raise KeyError(f"Rule named '{rule_name}' not found")
    if json_output:
        return json.dumps({"rules": [{"info": _info(r)} for r in rules]},
                          separators=(",", ":")) + "\n"
    out = [two_columns("Rule", "Description"), two_columns("----", "-----------")]
    for r in rules:
        out.append(two_columns(r.name, wrap_text(r.desc, 51, 110) + "\n"))
    return "".join(out)

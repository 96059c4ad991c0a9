"""``--explain RULE -e FILE`` (a pyfalco extension, Falco has no such option).

Replays a capture (or a k8s audit file) through one rule and prints, for every event it
matches, the engine's explanation (``RuleEngine.explain``): the expanded condition as a tree,
each node marked ``[+]`` (held) or ``[-]`` (failed), macros named, and the value of every field
each check read. ``--explain-event N`` explains the rule on event N alone (``evt.num``), which
is how to see *why a rule did not fire*. The rule is evaluated on its own: whether it is
enabled, ``priority`` and ``rule_matching: first`` do not hide it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["ExplainError", "run"]


class ExplainError(Exception):
    """A user error of ``--explain``, with the message to print."""


def _events(path: str, rule: Any, event_num: int | None) -> Iterator[Any]:
    from falco_cli.k8s_source import is_audit_file
    if not os.path.exists(path):
        raise ExplainError(f"Could not open trace file {path}: No such file or directory")
    if is_audit_file(path):
        if rule.source != "k8s_audit":
            raise ExplainError(f"Rule '{rule.name}' is a {rule.source} rule; {path} holds "
                               f"k8s audit events")
        from sinsp.k8saudit import AuditFileReader
        yield from AuditFileReader(path)
        return
    if rule.source != "syscall":
        raise ExplainError(f"Rule '{rule.name}' is a {rule.source} rule; {path} is a "
                           f"syscall capture")
    from sinsp import Inspector
    # the prefilter: only the rule's event types are needed (every type for --explain-event)
    types = None if event_num is not None else rule.event_types
    try:
        insp = Inspector.from_capture(path, event_types=types)
    except Exception as e:
        raise ExplainError(f"Could not open trace file {path}: {e}") from None
    try:
        yield from insp
    finally:
        close = getattr(insp, "close", None)
        if close is not None:
            close()


def _header(evt: Any) -> dict[str, Any]:
    rec = getattr(evt, "record", None)
    if rec is not None:
        return {"evt.num": evt.num, "evt.time": rec.ts, "evt.type": rec.name,
                "thread.tid": rec.tid}
    return {"evt.num": evt.num, "evt.time": evt.ts}


def _print(out: TextIO, evt: Any, expl: Any, json_output: bool) -> None:
    head = _header(evt)
    if json_output:
        out.write(json.dumps({"event": head, **expl.as_dict()}, separators=(",", ":")) + "\n")
        return
    out.write("event " + " ".join(f"{k}={v}" for k, v in head.items()) + "\n")
    out.write(expl.as_text())


def run(engine: Any, rule_name: str, path: str, out: TextIO, *, event_num: int | None = None,
        json_output: bool = False) -> int:
    """Explain ``rule_name`` on the matching events of ``path`` (or on event ``event_num``);
    returns how many events were explained."""
    try:
        rule = engine.rule(rule_name)
    except KeyError:
        raise ExplainError(f"Rule named '{rule_name}' not found") from None
    n = 0
    for evt in _events(path, rule, event_num):
        if event_num is not None:
            if evt.num != event_num:
                continue
        else:
            rec = getattr(evt, "record", None)
            if rec is not None and rule.event_types is not None and \
                    rec.type not in rule.event_types:
                continue
            try:
                if not rule.filter.matches(evt):
                    continue
            except Exception:  # a malformed event is skipped, as the engine does
                continue
        _print(out, evt, engine.explain(rule_name, evt), json_output)
        n += 1
        if event_num is not None:
            break
    if event_num is not None and n == 0:
        raise ExplainError(f"Event {event_num} not found in {path}")
    out.flush()
    return n

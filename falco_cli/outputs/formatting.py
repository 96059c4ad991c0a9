"""Alert -> the bytes Falco writes: text lines and JSON objects.

Falco formats an alert once and hands the same string to every output (``ctrl_msg.msg``). The JSON
object comes from nlohmann::json, whose objects are ``std::map``s: keys come out sorted and compact
(``{"hostname":"h","output":"...","output_fields":{...},"priority":"Warning",...}``), and
Falcosidekick's ``POST /`` reads exactly that object. ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` gives the same bytes.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

# Falco's priority names (falco_common::format_priority), index = syslog level.
PRIORITY_NAMES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational",
                  "Debug")
_BY_LOWER = {n.lower(): i for i, n in enumerate(PRIORITY_NAMES)}
_BY_LOWER["info"] = 6


def priority_num(p: Any) -> int:
    """Accept an int, an IntEnum, or a name (any case, ``INFO``/``Informational``)."""
    if isinstance(p, int):
        return int(p)
    name = getattr(p, "name", None) or str(p)
    try:
        return _BY_LOWER[name.lower()]
    except KeyError:
        raise ValueError(f"unknown priority {p!r}") from None


def priority_name(p: Any, short: bool = False) -> str:
    n = priority_num(p)
    if short and n == 6:
        return "Info"
    return PRIORITY_NAMES[n]


def iso8601(ts_ns: int) -> str:
    """``2026-11-28T19:44:06.123456789Z`` as Falco's JSON ``time``."""
    sec, ns = divmod(int(ts_ns), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns:09d}Z"


def clock_time(ts_ns: int) -> str:
    """``HH:MM:SS.nnnnnnnnn`` local time: sinsp ``ts_to_string(ts, date=false, ns=true)``."""
    sec, ns = divmod(int(ts_ns), 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(sec)) + f".{ns:09d}"


def dump_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Message:
    """One formatted notification, shared by every output."""
    text: str          # the line written by stdout/file/program/syslog and POSTed by http
    priority: int      # syslog level (0..7)
    rule: str
    source: str
    ts_ns: int
    is_json: bool


def alert_time_ns(alert: Any) -> int:
    t = alert.time
    if isinstance(t, int):
        return t
    if hasattr(t, "timestamp"):
        ns: float = t.timestamp() * 1e9
        return round(ns)
    return int(t)


def format_alert(alert: Any, *, json_output: bool, include_output: bool = True,
                 include_tags: bool = True, include_message: bool = False,
                 include_output_fields: bool = True) -> Message:
    """Render an engine ``Alert`` (time, priority, rule, source, output, output_fields, tags,
    hostname) as Falco does. ``alert.output`` is the complete Falco output line (time prefix,
    priority, rule output), the same string Falco puts in the JSON ``output`` property."""
    pnum = priority_num(alert.priority)
    ts = alert_time_ns(alert)
    if not json_output:
        return Message(alert.output, pnum, alert.rule, alert.source, ts, False)
    obj: dict[str, Any] = {
        "hostname": alert.hostname,
        "priority": PRIORITY_NAMES[pnum],
        "rule": alert.rule,
        "source": alert.source,
        "time": iso8601(ts),
    }
    if include_output_fields:
        obj["output_fields"] = dict(alert.output_fields)
    if include_message:
        obj["message"] = getattr(alert, "message", alert.output)
    if include_output:
        obj["output"] = alert.output
    if include_tags:
        obj["tags"] = sorted(alert.tags)
    return Message(dump_json(obj), pnum, alert.rule, alert.source, ts, True)


def format_internal(ts_ns: int, priority: int, msg: str, rule: str, fields: dict[str, Any], *,
                    json_output: bool, hostname: str) -> Message:
    """Falco's ``falco_outputs::handle_msg``: internal notifications (source ``internal``)."""
    if json_output:
        obj = {"output": msg, "priority": PRIORITY_NAMES[priority], "rule": rule,
               "time": iso8601(ts_ns), "output_fields": fields, "hostname": hostname,
               "source": "internal"}
        text = dump_json(obj)
    else:
        parts = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                         for k, v in sorted(fields.items()))
        text = f"{clock_time(ts_ns)}: {PRIORITY_NAMES[priority]} {msg} ({parts})"
    return Message(text, priority, rule, "internal", ts_ns, json_output)

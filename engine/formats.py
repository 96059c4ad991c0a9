"""Output formatting: ``%field`` templates -> text and typed fields, and the alert shape.

Falco builds an alert from two formats: the prefix ``%evt.time: <Priority>`` (or
``%evt.time.iso8601`` with ``time_format_iso_8601``) and the rule's output, always rendered with
``<NA>`` for missing values (Falco forces the ``*`` "print all" mode).  The JSON alert carries
``hostname``, ``output``, ``output_fields``, ``priority``, ``rule``, ``source``, ``tags`` and
``time`` (ISO 8601 in UTC with nanoseconds).
"""

from __future__ import annotations

import json
import re
import time as _time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.priority import Priority

__all__ = ["Alert", "OutputFormat", "OutputFormatError", "event_ts", "format_time"]

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*(?:\[[^\]]*\])?")
NA = "<NA>"


class OutputFormatError(ValueError):
    """An output template names a field the source does not have."""


def event_ts(evt: Any) -> int:
    """Event timestamp in ns since the epoch (sinsp events wrap a record with ``ts``)."""
    ts = getattr(evt, "ts", None)
    if ts is None:
        rec = getattr(evt, "record", None)
        ts = getattr(rec, "ts", 0) if rec is not None else 0
    return int(ts or 0)


def format_time(ts: int, iso8601: bool = False) -> str:
    """``%evt.time`` (local ``HH:MM:SS.nnnnnnnnn``) or ``%evt.time.iso8601``
    (``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000``), as sysdig renders them."""
    secs, ns = divmod(ts, 1_000_000_000)
    tm = _time.localtime(secs)
    if iso8601:
        return _time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{ns:09d}" + _time.strftime("%z", tm)
    return _time.strftime("%H:%M:%S", tm) + f".{ns:09d}"


def iso_utc(ts: int) -> str:
    secs, ns = divmod(ts, 1_000_000_000)
    return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(secs)) + f".{ns:09d}Z"


class OutputFormat:
    """A compiled ``%field`` template for one source's registry."""

    __slots__ = ("fields", "registry", "text", "tokens")

    def __init__(self, text: str, registry: Any) -> None:
        self.text = text
        self.registry = registry
        body = text[1:] if text.startswith("*") else text
        tokens: list[Any] = []
        fields: list[tuple[str, Any, Any]] = []
        lit: list[str] = []
        i = 0
        while i < len(body):
            j = body.find("%", i)
            if j < 0:
                lit.append(body[i:])
                break
            lit.append(body[i:j])
            m = _TOKEN.match(body, j + 1)
            if m is None:  # a '%' not followed by a field name is plain text
                lit.append("%")
                i = j + 1
                continue
            name, info, arg = self._resolve(m.group(0))
            if info is None:
                raise OutputFormatError(f"invalid formatting token %{m.group(0)}")
            if lit:
                tokens.append("".join(lit))
                lit = []
            ref = (name, info, arg)
            tokens.append(ref)
            fields.append(ref)
            i = j + 1 + len(name)
        if lit and "".join(lit):
            tokens.append("".join(lit))
        self.tokens = tuple(tokens)
        self.fields = tuple(fields)

    def _resolve(self, token: str) -> tuple[str, Any, Any]:
        """Longest resolvable prefix of the token (``%fd.name.`` is ``fd.name`` then ``.``)."""
        cand = token
        while cand:
            try:
                info, arg = self.registry.resolve(cand)
                return cand, info, arg
            except (KeyError, ValueError):
                pass
            if cand.endswith("]"):
                cand = cand[:cand.rfind("[")]
            elif cand[-1] in ".-":
                cand = cand.rstrip(".-")
            elif "." in cand:
                cand = cand[:cand.rfind(".")]
            else:
                break
        return token, None, None

    def _value(self, evt: Any, info: Any, arg: Any) -> Any:
        try:
            return info.extractor(evt, arg)
        except Exception:  # a bad event never stops the stream; the field is N/A
            return None

    def render(self, evt: Any) -> str:
        out = []
        reg = self.registry
        for t in self.tokens:
            if isinstance(t, str):
                out.append(t)
                continue
            v = self._value(evt, t[1], t[2])
            out.append(NA if v is None else reg.render(v, t[1]))
        return "".join(out)

    def values(self, evt: Any) -> dict[str, Any]:
        """Field name -> JSON value: numbers stay numbers, rendered text otherwise, None=N/A."""
        res: dict[str, Any] = {}
        for name, info, arg in self.fields:
            v = self._value(evt, info, arg)
            if v is None:
                res[name] = None
            elif (isinstance(v, (int, float)) and not isinstance(v, bool)
                  and (info.renderer is None or info.type.name == "ABSTIME")):
                res[name] = v
            else:
                res[name] = self.registry.render(v, info)
        return res


@dataclass(frozen=True, slots=True)
class Alert:
    """One rule match, formatted.  ``output`` is Falco's full line (time prefix, priority,
    message), ``message`` the rule output alone; ``time`` is the event time in ns since the
    epoch (``time_iso`` gives the JSON form)."""

    time: int
    priority: Priority
    rule: str
    source: str
    output: str
    message: str
    output_fields: dict[str, Any]
    tags: tuple[str, ...]
    hostname: str

    def as_dict(self, include_output: bool = True, include_tags: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"hostname": self.hostname}
        if include_output:
            d["output"] = self.output
        d["output_fields"] = self.output_fields
        d["priority"] = self.priority.text()
        d["rule"] = self.rule
        d["source"] = self.source
        if include_tags:
            d["tags"] = list(self.tags)
        d["time"] = self.time_iso
        return d

    @property
    def time_iso(self) -> str:
        return iso_utc(self.time)

    def as_json(self, include_output: bool = True, include_tags: bool = True) -> str:
        return json.dumps(self.as_dict(include_output, include_tags), ensure_ascii=False)

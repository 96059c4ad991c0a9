"""One Kubernetes audit event, and the payload parser shared by file replay and the webhook.

The API server sends ``audit.k8s.io`` ``Event`` objects (``v1`` or ``v1beta1``), alone or in an
``EventList`` (the webhook backend batches them). Falco's k8saudit plugin accepts a JSON array, an
``EventList`` with ``items`` or a single ``Event``; anything else is rejected as a whole with
"data not recognized as a k8s audit event". A single event without a readable
``stageTimestamp`` is rejected on its own (the event time comes from it), so one bad event in a
batch does not cost the others. We keep those rules, so what replays from a file is exactly what
the webhook would have accepted.

No I/O here: bytes or decoded JSON in, :class:`AuditEvent` objects and typed errors out.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "NOT_RECOGNIZED",
    "SOURCE",
    "AuditEvent",
    "AuditEventError",
    "AuditFormatError",
    "ParseResult",
    "parse_payload",
    "parse_rfc3339",
    "parse_value",
]

SOURCE = "k8s_audit"
NOT_RECOGNIZED = "data not recognized as a k8s audit event"
# the k8saudit plugin's defaults: maxEventSize 256 KiB per event
DEFAULT_MAX_EVENT_SIZE = 262144


class AuditFormatError(ValueError):
    """Input that is not (a container of) k8s audit events.

    ``where`` names the input (a file path, ``"webhook"``), ``line`` the 1-based line the bad
    document starts on when known (0 otherwise).
    """

    def __init__(self, message: str, where: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.line = line

    def __str__(self) -> str:
        if self.where and self.line:
            return f"{self.where}:{self.line}: {self.message}"
        if self.where:
            return f"{self.where}: {self.message}"
        return self.message


class AuditEventError(AuditFormatError):
    """One event of an otherwise good payload was rejected (no stageTimestamp, too large)."""


class AuditEvent:
    """An ``audit.k8s.io`` Event: the decoded JSON object and its time.

    ``data`` is the event as decoded JSON (a ``dict``); ``ts`` the ``stageTimestamp`` in ns since
    the epoch (what ``evt.time``/``jevt.rawtime`` show, as the plugin sets the event timestamp
    from it); ``num`` the event number given by the source that delivers it (1-based, 0 until
    then); ``size`` the length of its compact JSON encoding.
    """

    __slots__ = ("_raw", "data", "num", "ts")

    source = SOURCE

    def __init__(self, data: dict[str, Any], ts: int, num: int = 0,
                 raw: bytes | None = None) -> None:
        self.data = data
        self.ts = ts
        self.num = num
        self._raw = raw

    @property
    def raw(self) -> bytes:
        """Compact JSON of the event (as the plugin stores it in the event payload)."""
        if self._raw is None:
            self._raw = dumps_compact(self.data).encode()
        return self._raw

    @property
    def size(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        d = self.data
        ref = d.get("objectRef") or {}
        return (f"AuditEvent(num={self.num}, ts={self.ts}, stage={d.get('stage')!r}, "
                f"verb={d.get('verb')!r}, resource={ref.get('resource')!r}, "
                f"name={ref.get('name')!r})")


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What one payload held: the accepted events and the per-event rejections."""

    events: list[AuditEvent]
    errors: list[AuditEventError]


def dumps_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


def parse_rfc3339(text: str) -> int:
    """RFC 3339 time (Go's ``time.RFC3339Nano`` layout) -> ns since the epoch.

    Raises ``ValueError`` naming the text; the fraction keeps all nine digits, which a float
    would not.
    """
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f'parsing time "{text}": not an RFC 3339 time')
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        raise ValueError(f'parsing time "{text}": field out of range')
    frac = m.group(7) or ""
    ns = int(frac.ljust(9, "0")) if frac else 0
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    if m.group(9):
        off = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        secs -= off if m.group(9) == "+" else -off
    return secs * 1_000_000_000 + ns


def _single(value: Any, max_event_size: int, size_hint: int) -> AuditEvent | AuditEventError:
    if not isinstance(value, dict):
        return AuditEventError(NOT_RECOGNIZED)
    stamp = value.get("stageTimestamp")
    if not isinstance(stamp, str):
        return AuditEventError("can't read stageTimestamp")
    try:
        ts = parse_rfc3339(stamp)
    except ValueError as e:
        return AuditEventError(str(e))
    if size_hint <= max_event_size:
        # the text it came from bounds its compact encoding: no need to encode it here
        return AuditEvent(value, ts)
    raw = dumps_compact(value).encode()
    if len(raw) > max_event_size:
        return AuditEventError(f"event larger than maxEventSize: size={len(raw)}")
    return AuditEvent(value, ts, raw=raw)


def _add(out: ParseResult, got: AuditEvent | AuditEventError) -> None:
    if isinstance(got, AuditEventError):
        out.errors.append(got)
    else:
        out.events.append(got)


def _collect(value: Any, out: ParseResult, max_event_size: int, size_hint: int) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, out, max_event_size, size_hint)
        return
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind == "EventList" and isinstance(value.get("items"), list):
            for item in value["items"]:
                _add(out, _single(item, max_event_size, size_hint))
            return
        if kind == "Event":
            _add(out, _single(value, max_event_size, size_hint))
            return
    raise AuditFormatError(NOT_RECOGNIZED)


def parse_value(value: Any, max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
                size_hint: int | None = None) -> ParseResult:
    """Decoded JSON -> events. Raises :class:`AuditFormatError` when the value is not an
    Event, an EventList or an array of those; per-event problems land in ``errors``.

    ``size_hint``: the byte length of the JSON text the value was decoded from, an upper bound
    of each event's compact size (unknown: every event is measured)."""
    out = ParseResult([], [])
    hint = max_event_size + 1 if size_hint is None else size_hint
    _collect(value, out, max_event_size, hint)
    return out


def parse_payload(payload: bytes | str,
                  max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> ParseResult:
    """A JSON document (bytes or text) -> events, as the webhook receives it."""
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise AuditFormatError(f"malformed JSON: {e}") from None
    except RecursionError:
        raise AuditFormatError("malformed JSON: nested too deeply") from None
    return parse_value(value, max_event_size, len(payload))

"""Metrics: Prometheus text for ``/metrics`` (Falco's metric names where one exists, plus
pyfalco's per-output delivery counters: sent, dropped on a full queue, failed after retries), and
the periodic snapshots of ``metrics.output_rule`` (an internal "Falco internal: metrics snapshot"
alert) and ``metrics.output_file`` (JSON lines)."""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from typing import Any

from falco_cli import __version__, log
from falco_cli.outputs.formatting import PRIORITY_NAMES


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(s: Any) -> str:
    lines: list[str] = []

    def metric(name: str, typ: str, help_: str,
               samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {typ}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    metric("falcosecurity_falco_version_info", "gauge", "pyfalco version",
           [({"version": __version__}, 1)])
    metric("falcosecurity_falco_start_timestamp_nanoseconds", "gauge", "start time",
           [({}, s.start_ns)])
    metric("falcosecurity_falco_duration_seconds_total", "counter", "seconds since start",
           [({}, round((time.time_ns() - s.start_ns) / 1e9, 3))])
    metric("falcosecurity_scap_n_evts_total", "counter", "events processed", [({}, s.n_evts)])
    metric("falcosecurity_scap_n_drops_total", "counter", "events dropped by the driver",
           [({}, s.n_drops)])
    # dict() copies in one step under the GIL: the event loop keeps counting meanwhile
    by_rule, by_prio = dict(s.by_rule), dict(s.by_priority)
    metric("falcosecurity_falco_rules_matches_total", "counter", "alerts by rule",
           [({"rule_name": r}, n) for r, n in by_rule.items()])
    metric("falcosecurity_falco_rules_matches_by_priority_total", "counter", "alerts by priority",
           [({"priority": PRIORITY_NAMES[p]}, n) for p, n in sorted(by_prio.items())])
    hub = s.hub
    stats = hub.stats() if hub is not None else {}
    drops = sum(v["dropped"] for v in stats.values())
    metric("falcosecurity_falco_outputs_queue_num_drops_total", "counter",
           "notifications dropped because an output queue was full", [({}, drops)])
    for key, help_ in (("sent", "notifications delivered"),
                       ("failed", "notifications given up after retries"),
                       ("retries", "delivery retries"),
                       ("dropped", "notifications dropped on a full queue")):
        metric(f"pyfalco_output_{key}_total", "counter", help_,
               [({"output": name}, v[key]) for name, v in stats.items()])
    metric("pyfalco_reloads_total", "counter", "successful SIGHUP reloads", [({}, s.reloads)])
    metric("pyfalco_reload_failures_total", "counter", "failed SIGHUP reloads",
           [({}, s.reload_failures)])
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# metrics.output_rule / metrics.output_file: periodic snapshots (Falco's metrics collector)
# ---------------------------------------------------------------------------------------------
_UNITS_MS = (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000),
             ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_INTERVAL = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?"
                       r"(?:(\d+)ms)?$")

RULE = "Falco internal: metrics snapshot"
MESSAGE = "Falco metrics snapshot"
PRIORITY_INFO = 6


def parse_interval(text: str) -> int:
    """A Prometheus duration (``1h``, ``15m``, ``1m30s``, ``500ms``) in ms; 0 if malformed, as
    Falco's ``parse_prometheus_interval``."""
    m = _INTERVAL.fullmatch("".join(str(text).split()))
    if not m:
        return 0
    return sum(int(g) * unit for g, (_, unit) in zip(m.groups(), _UNITS_MS, strict=True) if g)


def snapshot_fields(s: Any) -> dict[str, Any]:
    """Falco's metrics snapshot ``output_fields`` (the subset pyfalco has)."""
    now = time.time_ns()
    hub = s.hub
    stats = hub.stats() if hub is not None else {}
    fields: dict[str, Any] = {
        "evt.source": "syscall",
        "falco.version": __version__,
        "falco.start_ts": s.start_ns,
        "falco.duration_sec": (now - s.start_ns) // 1_000_000_000,
        "falco.hostname": os.environ.get("FALCO_HOSTNAME") or socket.gethostname(),
        "falco.outputs_queue_num_drops": sum(v["dropped"] for v in stats.values()),
        "falco.num_evts": s.n_evts,
        "scap.n_evts": s.n_evts,
        "scap.n_drops": s.n_drops,
        "falco.rules.matches_total": sum(dict(s.by_rule).values()),
    }
    for rule, n in sorted(dict(s.by_rule).items()):
        fields[f"falco.rules.{rule}"] = n
    return fields


class MetricsTicker:
    """Every ``interval`` ms: an internal alert (``output_rule``) and/or a JSON line appended to
    ``output_file``. Runs in its own thread; ``stop`` ends it."""

    def __init__(self, s: Any, interval_ms: int, output_rule: bool, output_file: str):
        self.s = s
        self.interval_s = max(interval_ms, 100) / 1000.0   # Falco's minimum: 100 ms
        self.output_rule = output_rule
        self.output_file = output_file
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def tick(self) -> None:
        fields = snapshot_fields(self.s)
        now = time.time_ns()
        if self.output_rule and self.s.hub is not None:
            self.s.hub.emit_internal(now, PRIORITY_INFO, MESSAGE, RULE, fields)
        if self.output_file:
            line = json.dumps({"output_fields": fields, "sample": int(now // 1_000_000_000)},
                              separators=(",", ":"), sort_keys=True)
            try:
                with open(self.output_file, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError as e:
                log.error(f"metrics: cannot write {self.output_file}: {e.strerror}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

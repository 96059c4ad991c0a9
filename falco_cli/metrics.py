"""Prometheus text for ``/metrics``: Falco's metric names where one exists, plus pyfalco's
per-output delivery counters (sent, dropped on a full queue, failed after retries)."""
from __future__ import annotations

import time
from typing import Any

from falco_cli import __version__
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

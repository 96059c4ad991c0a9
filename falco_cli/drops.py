"""syscall_event_drops: notice lost events and act (ignore, log, alert, exit), rate-limited.

Mirrors Falco's ``syscall_evt_drop_mgr``: once per second of *event* time the cumulative counters
(events seen, events dropped) are compared with the previous ones; when the drop ratio over that
second exceeds ``threshold`` an occurrence is counted and, if the token bucket (``rate`` tokens/s,
``max_burst``) allows, the actions run. The ``alert`` action emits the internal
"Falco internal: syscall event drop" notification (priority Debug, source ``internal``) with Falco's
``output_fields``, all string-valued. ``exit`` makes the run stop with an error.

Where the counters come from is the app's business: a live source's driver stats, or, in a capture,
the driver's drop markers (``drop_e`` records, the driver entering dropping mode).

Live sources call :meth:`DropManager.process` on every event, as Falco does. A replay calls
:meth:`DropManager.process_marker` at the drop markers only (Falco itself has no drop monitor for
captures), so the outcome does not depend on which other events reach Python (the prefilter drops
most of them in C): the windows are the whole seconds of event time (``ts // 1 s``), a window is
checked at the first marker of a later second, and its counters are the capture's cumulative ones
just before that marker (``events`` = the marker's ``seq``, every event of the capture counted).
The last second with markers is never checked, as a live run would check it only at a later event.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from falco_cli import log
from falco_cli.token_bucket import TokenBucket

ONE_SECOND_NS = 1_000_000_000
RULE = "Falco internal: syscall event drop"
PRIORITY_DEBUG = 7

# Per-category counters Falco's drop alert reports, in its order; live sources fill them (the
# probe counts its ring-full drops per category, exit side only), captures cannot.  The
# categories need not sum to n_drops_buffer_total: types outside them count only there.
DETAIL_FIELDS = (
    "n_drops_buffer_total",
    "n_drops_buffer_clone_fork_enter", "n_drops_buffer_clone_fork_exit",
    "n_drops_buffer_execve_enter", "n_drops_buffer_execve_exit",
    "n_drops_buffer_connect_enter", "n_drops_buffer_connect_exit",
    "n_drops_buffer_open_enter", "n_drops_buffer_open_exit",
    "n_drops_buffer_dir_file_enter", "n_drops_buffer_dir_file_exit",
    "n_drops_buffer_other_interest_enter", "n_drops_buffer_other_interest_exit",
    "n_drops_buffer_close_exit", "n_drops_buffer_proc_exit",
    "n_drops_scratch_map", "n_drops_page_faults", "n_drops_bug",
)


@dataclass(slots=True)
class DropCounters:
    """Cumulative counters, as scap_stats: ``n_evts`` includes ``n_drops``."""
    n_evts: int = 0
    n_drops: int = 0
    detail: dict[str, int] = field(default_factory=dict)


class DropManager:
    def __init__(self, emit: Any, actions: list[str], threshold: float, rate: float,
                 max_burst: int, simulate_drops: bool = False, ebpf: bool = False):
        """``emit(ts_ns, priority, msg, rule, fields)`` sends an internal notification."""
        self.emit = emit
        self.actions = list(actions)
        self.threshold = 0.0 if simulate_drops else float(threshold)
        self.rate = rate
        self.max_burst = max_burst
        self.simulate = simulate_drops
        self.ebpf = ebpf
        self.bucket: TokenBucket | None = None
        self.next_check_ts = 0
        self.last = DropCounters()
        self.num_drop_occurrences = 0
        self.num_actions = 0
        self.total_drops = 0

    def process(self, ts_ns: int, counters: DropCounters) -> bool:
        """Call for each event with the current cumulative counters. False means: exit now."""
        if self.next_check_ts == 0:
            self.next_check_ts = ts_ns + ONE_SECOND_NS
            self.bucket = TokenBucket(self.rate, self.max_burst, now_ns=ts_ns)
            self.last = DropCounters(counters.n_evts, counters.n_drops, dict(counters.detail))
            return True
        if ts_ns <= self.next_check_ts:
            return True
        self.next_check_ts = ts_ns + ONE_SECOND_NS
        return self._check(ts_ns, counters)

    def process_marker(self, ts_ns: int, before: DropCounters) -> bool:
        """Replay: call at each drop marker with the cumulative counters just before it (events
        of the capture up to it, markers before it). Checks once per whole second of event time,
        at the first marker of a later second. False means: exit now."""
        end_of_second = (ts_ns // ONE_SECOND_NS + 1) * ONE_SECOND_NS - 1
        if self.next_check_ts == 0:
            self.next_check_ts = end_of_second
            self.bucket = TokenBucket(self.rate, self.max_burst, now_ns=ts_ns)
            self.last = DropCounters(before.n_evts, before.n_drops, dict(before.detail))
            return True
        if ts_ns <= self.next_check_ts:
            return True
        self.next_check_ts = end_of_second
        return self._check(ts_ns, before)

    def _check(self, ts_ns: int, counters: DropCounters) -> bool:
        """Compare ``counters`` with the last check's and act when the drop ratio is high."""
        d_evts = counters.n_evts - self.last.n_evts
        d_drops = counters.n_drops - self.last.n_drops
        detail = {k: counters.detail.get(k, 0) - self.last.detail.get(k, 0) for k in DETAIL_FIELDS}
        self.last = DropCounters(counters.n_evts, counters.n_drops, dict(counters.detail))
        if self.simulate:
            log.info("Simulating syscall event drop")
            d_drops += 1
            d_evts = max(d_evts, d_drops)
        if d_drops <= 0:
            return True
        self.total_drops += d_drops
        ratio = d_drops / d_evts if d_evts > 0 else 1.0
        if ratio <= self.threshold:
            return True
        self.num_drop_occurrences += 1
        assert self.bucket is not None
        if not self.bucket.claim(1, now_ns=ts_ns):
            log.debug("Syscall event drop but token bucket depleted, skipping actions")
            return True
        self.num_actions += 1
        return self._perform(ts_ns, d_evts, d_drops, detail)

    def _perform(self, ts_ns: int, d_evts: int, d_drops: int, detail: dict[str, int]) -> bool:
        msg = f"{RULE}. {d_drops} system calls dropped in last second."
        ok = True
        for act in self.actions:
            if act == "ignore":
                continue
            if act == "log":
                log.debug(msg)
            elif act == "alert":
                fields: dict[str, str] = {"n_evts": str(d_evts), "n_drops": str(d_drops)}
                for k in DETAIL_FIELDS:
                    fields[k] = str(detail.get(k, 0))
                fields["ebpf_enabled"] = "1" if self.ebpf else "0"
                self.emit(ts_ns, PRIORITY_DEBUG, msg, RULE, fields)
            elif act == "exit":
                log.critical(msg)
                log.critical("Exiting.")
                ok = False
        return ok

    def print_stats(self, stream: TextIO | None = None) -> None:
        out = stream or sys.stderr
        out.write("Syscall event drop monitoring:\n")
        out.write(f"   - event drop detected: {self.num_drop_occurrences} occurrences\n")
        out.write(f"   - num times actions taken: {self.num_actions}\n")
        out.flush()

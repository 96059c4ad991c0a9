"""syscall_event_drops: per-second ratio check, threshold, token-bucket rate limit, actions."""
from __future__ import annotations

import io

from falco_cli.drops import RULE, DropCounters, DropManager
from falco_cli.token_bucket import TokenBucket

S = 1_000_000_000


def run(mgr, seq):
    """seq: (ts_s, n_evts, n_drops) cumulative."""
    return [mgr.process(int(ts * S), DropCounters(e, d)) for ts, e, d in seq]


def test_token_bucket_refills_at_rate():
    b = TokenBucket(rate=1, max_tokens=2, now_ns=0)
    assert b.claim(now_ns=0) and b.claim(now_ns=0) and not b.claim(now_ns=0)
    assert not b.claim(now_ns=S // 2)
    assert b.claim(now_ns=S)           # 1 token after 1 s
    assert not b.claim(now_ns=S)


def test_alert_fields_and_counts():
    emitted = []
    m = DropManager(lambda *a: emitted.append(a), ["alert"], threshold=0.1, rate=1, max_burst=10)
    run(m, [(0, 0, 0), (0.5, 50, 0), (1.1, 100, 20)])
    assert m.num_drop_occurrences == 1 and m.num_actions == 1
    (_ts, prio, msg, rule, fields), = emitted
    assert rule == RULE and prio == 7
    assert msg == "Falco internal: syscall event drop. 20 system calls dropped in last second."
    assert fields["n_evts"] == "100" and fields["n_drops"] == "20"
    assert fields["ebpf_enabled"] == "0"
    assert "n_drops_buffer_total" in fields and "n_drops_bug" in fields
    assert all(isinstance(v, str) for v in fields.values())


def test_below_threshold_is_not_an_occurrence():
    m = DropManager(lambda *a: None, ["alert"], threshold=0.5, rate=1, max_burst=1)
    run(m, [(0, 0, 0), (1.5, 100, 10)])
    assert m.num_drop_occurrences == 0


def test_rate_limit_by_event_time():
    emitted = []
    m = DropManager(lambda *a: emitted.append(a), ["alert"], threshold=0, rate=0.5, max_burst=1)
    seq = [(0, 0, 0)] + [(1.01 * i, 100 * i, 10 * i) for i in range(1, 6)]
    run(m, seq)
    assert m.num_drop_occurrences == 5
    assert 1 < m.num_actions < 5       # one token every 2 s of event time
    assert len(emitted) == m.num_actions


def test_exit_action_stops():
    m = DropManager(lambda *a: None, ["log", "exit"], threshold=0, rate=1, max_burst=1)
    assert run(m, [(0, 0, 0), (1.5, 10, 5)]) == [True, False]


def test_ignore_does_nothing_but_counts():
    emitted = []
    m = DropManager(lambda *a: emitted.append(a), ["ignore"], threshold=0, rate=1, max_burst=1)
    assert all(run(m, [(0, 0, 0), (1.5, 10, 5)]))
    assert emitted == [] and m.num_drop_occurrences == 1


def test_simulate_drops():
    emitted = []
    m = DropManager(lambda *a: emitted.append(a), ["alert"], threshold=0.9, rate=1, max_burst=1,
                    simulate_drops=True)
    run(m, [(0, 0, 0), (1.5, 10, 0)])
    assert len(emitted) == 1


def test_summary_text():
    m = DropManager(lambda *a: None, ["alert"], threshold=0, rate=1, max_burst=1)
    run(m, [(0, 0, 0), (1.5, 10, 5)])
    buf = io.StringIO()
    m.print_stats(buf)
    assert buf.getvalue() == ("Syscall event drop monitoring:\n"
                              "   - event drop detected: 1 occurrences\n"
                              "   - num times actions taken: 1\n")

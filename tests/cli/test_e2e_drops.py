"""End to end: drop markers in a capture feed syscall_event_drops. The capture is written with
scap.testing (the driver's ``drop_e`` records mark dropped events): 6 seconds, each with 8
syscall events and 2 drop markers (ratio 0.2 per second, above the default threshold 0.1).

Checked against the documented behaviour: one occurrence per second after the first, actions
limited by the token bucket (rate/max_burst, in event time), the internal alert's rule, text and
string-valued output fields, the end-of-run counts, and the ``exit`` action."""
from __future__ import annotations

import json

import pytest

from tests.cli._run import alert_lines, pyfalco, rules_file

S = 1_000_000_000
T0 = 1_700_000_000 * S
SECONDS = 6


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    from scap.metadata import ProcInfo
    from scap.testing import EventBuilder, write_capture

    b = EventBuilder(ts=T0, tid=100, step=1000)
    evts = []
    for sec in range(SECONDS):
        b.ts = T0 + sec * S + 1000
        for _ in range(4):
            evts.append(b.build("SYSCALL_OPEN_E", ["/etc/hosts", 1, 0]))
            evts.append(b.build("SYSCALL_OPEN_X", [3, "/etc/hosts", 1, 0, 0]))
        evts.append(b.build("DROP_E", [1]))
        evts.append(b.build("DROP_E", [1]))
    path = tmp_path_factory.mktemp("cap") / "drops.scap"
    write_capture(path, evts, processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat",
                                                  exe="cat")])
    return path


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return rules_file(tmp_path_factory.mktemp("r") / "rules.yaml", [
        {"rule": "Never", "desc": "d", "condition": "evt.type = execve", "output": "x",
         "priority": "INFO"}])


def _clock(ts: int) -> str:
    import time
    return time.strftime("%H:%M:%S", time.localtime(ts // S)) + f".{ts % S:09d}"


def drop_alerts(stdout: str) -> list[str]:
    return [x for x in alert_lines(stdout) if "Falco internal: syscall event drop" in x]


def test_default_config_rate_limits_to_one_action(capture, rules):
    res = pyfalco("-r", str(rules), "-e", str(capture))
    assert res.returncode == 0, res.stderr
    (line,) = drop_alerts(res.stdout)        # rate .03333/s, max_burst 1: one action in 6 s
    assert ": Debug Falco internal: syscall event drop. 2 system calls dropped in last second. (" \
        in line
    # a replay checks at drop markers, once per whole second of event time (drops.py): second
    # 0 is checked at the first marker of second 1, over the events from second 0's first
    # marker up to it: 2 markers + 8 syscalls = 10. (It was 11 when any event could trigger
    # the check: which one did depended on the events reaching Python, so on the prefilter.)
    assert 'n_drops="2"' in line and 'n_evts="10"' in line and 'ebpf_enabled="0"' in line
    assert line.startswith(f"{_clock(T0 + S + 9000)}: Debug ")
    assert ("Syscall event drop monitoring:\n   - event drop detected: 5 occurrences\n"
            "   - num times actions taken: 1\n") in res.stderr
    assert "Events detected: 0\n" in res.stdout


def test_alert_json_and_higher_rate(capture, rules):
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "json_output=true",
                  "-o", "syscall_event_drops.rate=100", "-o", "syscall_event_drops.max_burst=10")
    assert res.returncode == 0, res.stderr
    alerts = [json.loads(x) for x in drop_alerts(res.stdout)]
    assert len(alerts) == 5
    a = alerts[0]
    assert a["rule"] == "Falco internal: syscall event drop"
    assert a["priority"] == "Debug" and a["source"] == "internal"
    assert a["output"] == ("Falco internal: syscall event drop. 2 system calls dropped in last "
                           "second.")
    assert a["output_fields"]["n_drops"] == "2"
    assert all(isinstance(v, str) for v in a["output_fields"].values())
    assert {"n_evts", "n_drops", "n_drops_buffer_total", "n_drops_scratch_map",
            "n_drops_page_faults", "n_drops_bug", "ebpf_enabled"} <= set(a["output_fields"])
    assert "num times actions taken: 5" in res.stderr


def test_threshold_above_ratio_ignores(capture, rules):
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "syscall_event_drops.threshold=0.5")
    assert res.returncode == 0
    assert drop_alerts(res.stdout) == []
    assert "event drop detected: 0 occurrences" in res.stderr


def test_exit_action(capture, rules):
    res = pyfalco("-r", str(rules), "-e", str(capture),
                  "-o", "syscall_event_drops.actions=[log, exit]")
    assert res.returncode == 1
    assert ("Falco internal: syscall event drop. 2 system calls dropped in last second."
            in res.stderr)
    assert "Exiting." in res.stderr
    assert res.stderr.rstrip().endswith("Error: Drop manager internal error")


def test_priority_above_debug_silences_the_drop_alert(capture, rules):
    """Falco: the drop alert is a Debug notification, emitted only with ``priority: debug``."""
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "priority=info")
    assert res.returncode == 0
    assert drop_alerts(res.stdout) == []
    assert "num times actions taken: 1" in res.stderr

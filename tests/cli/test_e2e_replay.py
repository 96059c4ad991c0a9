"""End to end: the installed ``pyfalco`` replays every capture in ../shared/traces/syscalls with a
small rules file; alerts and the summary must equal what sysdig 0.29.3 gives for the same
conditions and output formats (Falco's text alert is ``%evt.time: <Priority> <output>``)."""
from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest

from tests.cli._run import (
    CAPTURES,
    TRACES,
    alert_lines,
    expected_summary,
    needs_sysdig,
    needs_traces,
    pyfalco,
    rules_file,
    summary,
    sysdig,
)

pytestmark = [needs_traces, needs_sysdig, pytest.mark.sysdig]

RULES = [
    {"rule": "Open file", "desc": "a file was opened",
     "condition": "evt.type in (open, openat) and evt.dir=<",
     "output": "open (proc=%proc.name file=%fd.name fd=%fd.num)", "priority": "WARNING",
     "tags": ["filesystem"]},
    {"rule": "Talk", "desc": "network or write activity",
     "condition": "evt.type in (connect, sendto, sendmsg, write, close) and evt.dir=<",
     "output": "%evt.type (proc=%proc.name fd=%fd.num tid=%thread.tid)", "priority": "NOTICE",
     "tags": ["network"]},
]
PRIO_TEXT = {"WARNING": "Warning", "NOTICE": "Notice"}


def sysdig_expectation(capture):
    merged = []
    counts = []
    for r in RULES:
        fmt = f"%evt.num|%evt.time: {PRIO_TEXT[r['priority']]} {r['output']}"
        lines = sysdig(capture, fmt, r["condition"])
        counts.append((r["rule"], r["priority"], len(lines)))
        merged += [(int(x.split("|", 1)[0]), x.split("|", 1)[1]) for x in lines]
    merged.sort()
    return [x for _, x in merged], expected_summary(counts)


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return rules_file(tmp_path_factory.mktemp("rules") / "rules.yaml", RULES)


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_replay_text_alerts_and_summary(capture, rules):
    res = pyfalco("-r", str(rules), "-e", str(capture))
    assert res.returncode == 0, res.stderr
    want_lines, want_summary = sysdig_expectation(capture)
    assert alert_lines(res.stdout) == want_lines
    assert summary(res.stdout) == want_summary
    assert "Syscall event drop monitoring:\n   - event drop detected: 0 occurrences\n" in res.stderr


@pytest.mark.parametrize("name", ["cat_write", "syscall", "open-multiple-files"])
def test_replay_json_golden_bytes(rules, name):
    """Exact JSON bytes for every alert of a capture, rebuilt from sysdig's values."""
    capture = TRACES / f"{name}.scap"
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "json_output=true", "-D", "Talk")
    assert res.returncode == 0, res.stderr
    r = RULES[0]
    rows = sysdig(capture, "%evt.rawtime|%proc.name|%fd.name|%fd.num|%evt.time: Warning "
                  + r["output"], r["condition"])
    assert rows
    want = []
    for row in rows:
        raw, pname, fname, fnum, text = row.split("|", 4)
        ts = int(raw)
        when = datetime.fromtimestamp(ts // 10**9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        obj = {"hostname": socket.gethostname(), "output": text,
               "output_fields": {"evt.time": ts, "fd.name": fname, "fd.num": int(fnum),
                                 "proc.name": pname},
               "priority": "Warning", "rule": "Open file", "source": "syscall",
               "tags": ["filesystem"], "time": f"{when}.{ts % 10**9:09d}Z"}
        want.append(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    assert alert_lines(res.stdout) == want


def test_iso8601_time_format_override(rules):
    capture = TRACES / "syscall.scap"
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "time_format_iso_8601=true",
                  "-D", "Talk")
    assert res.returncode == 0, res.stderr
    r = RULES[0]
    want = sysdig(capture, "%evt.datetime.s|%evt.rawtime|" + r["output"], r["condition"])
    got = alert_lines(res.stdout)
    assert len(got) == len(want) and want
    for g, w in zip(got, want, strict=True):
        _, raw, out = w.split("|", 2)
        ts = int(raw)
        iso = datetime.fromtimestamp(ts // 10**9, tz=UTC).astimezone()
        assert g.startswith(iso.strftime("%Y-%m-%dT%H:%M:%S"))
        assert f".{ts % 10**9:09d}" in g.split(": ", 1)[0]
        assert g.endswith(f": Warning {out}")


def test_priority_override_filters_rules(rules):
    capture = TRACES / "cat_write.scap"
    res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "priority=warning")
    assert res.returncode == 0, res.stderr
    want_lines, _ = sysdig_expectation(capture)
    assert alert_lines(res.stdout) == [x for x in want_lines if ": Warning " in x]
    assert "NOTICE" not in summary(res.stdout)


def test_tags_and_disable(rules):
    capture = TRACES / "cat_write.scap"
    only_net = pyfalco("-r", str(rules), "-e", str(capture), "-t", "network")
    no_fs = pyfalco("-r", str(rules), "-e", str(capture), "-T", "filesystem")
    no_open = pyfalco("-r", str(rules), "-e", str(capture), "-D", "Open")
    for res in (only_net, no_fs, no_open):
        assert res.returncode == 0, res.stderr
        assert "Open file" not in summary(res.stdout)
        assert "   Talk: " in summary(res.stdout)
    assert alert_lines(only_net.stdout) == alert_lines(no_fs.stdout) == alert_lines(no_open.stdout)


def test_rules_selection_from_config(rules, tmp_path):
    cfg = tmp_path / "falco.yaml"
    cfg.write_text(f"rules_files: [{rules}]\nrules:\n  - disable: {{rule: '*'}}\n"
                   "  - enable: {rule: Talk}\nstdout_output: {enabled: true}\n")
    res = pyfalco("-c", str(cfg), "-e", str(TRACES / "cat_write.scap"))
    assert res.returncode == 0, res.stderr
    assert "Open file" not in summary(res.stdout) and "   Talk: " in summary(res.stdout)


def test_duration_stops_replay_early(rules):
    """-M counts event time from the first event: ping_sendto spans ~10 s."""
    capture = TRACES / "ping_sendto.scap"
    full = pyfalco("-r", str(rules), "-e", str(capture))
    short = pyfalco("-r", str(rules), "-e", str(capture), "-M", "0.001", "-o",
                    "engine.kind=replay")
    assert full.returncode == short.returncode == 0
    assert len(alert_lines(short.stdout)) < len(alert_lines(full.stdout))


def test_engine_kind_replay_from_config(rules):
    capture = TRACES / "syscall.scap"
    a = pyfalco("-r", str(rules), "-e", str(capture))
    b = pyfalco("-r", str(rules), "-o", "engine.kind=replay",
                "-o", f"engine.replay.capture_file={capture}")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_missing_capture_is_an_error(rules):
    res = pyfalco("-r", str(rules), "-e", "/nonexistent.scap")
    assert res.returncode == 1
    assert res.stderr.rstrip().endswith("Error: Could not open trace file /nonexistent.scap: "
                                        "No such file or directory")


def test_rule_matching_first_and_all(tmp_path):
    cond = "evt.type in (open, openat) and evt.dir=<"
    rules = rules_file(tmp_path / "two.yaml", [
        {"rule": "One", "desc": "d", "condition": cond, "output": "one %fd.name",
         "priority": "WARNING"},
        {"rule": "Two", "desc": "d", "condition": cond, "output": "two %fd.name",
         "priority": "ERROR"}])
    capture = TRACES / "open-multiple-files.scap"
    n = len(sysdig(capture, "%evt.num", cond))
    assert n > 0
    first = pyfalco("-r", str(rules), "-e", str(capture))
    every = pyfalco("-r", str(rules), "-e", str(capture), "-o", "rule_matching=all")
    assert first.returncode == every.returncode == 0
    assert summary(first.stdout) == expected_summary([("One", "WARNING", n), ("Two", "ERROR", 0)])
    assert summary(every.stdout) == expected_summary([("One", "WARNING", n), ("Two", "ERROR", n)])
    lines = alert_lines(every.stdout)
    assert [x.split(": ", 1)[1].split(" ")[0:2] for x in lines[:2]] == [["Warning", "one"],
                                                                         ["Error", "two"]]

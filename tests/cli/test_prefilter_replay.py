"""pyfalco replay with the prefilter gives the same output as without it (``-A`` turns it off).

The prefilter keeps the rules' event types, the state events their fields need and the drop
markers; every other event is dropped in C.  Checked on the real captures with the bundled
rules plus rules that match often and print state-heavy fields (fd, process, parent, user),
and on a drop-marker capture whose other events the prefilter removes or keeps depending on
the rules: the drop monitor's alerts must not change.
"""
from __future__ import annotations

import re

import pytest

from tests.cli._run import CAPTURES, ROOT, alert_lines, needs_traces, pyfalco, rules_file

S = 1_000_000_000
T0 = 1_700_000_000 * S

STATEFUL = [
    {"rule": "Opened", "desc": "d", "priority": "INFO",
     "condition": "evt.type in (open, openat, openat2) and evt.dir = < and fd.num >= 0",
     "output": "open %fd.name %fd.typechar by %proc.name[%proc.pid] parent %proc.pname "
               "cmd %proc.cmdline user %user.name cwd %proc.cwd"},
    {"rule": "Net", "desc": "d", "priority": "NOTICE",
     "condition": "evt.type in (connect, sendto, sendmsg) and evt.dir = < and "
                  "fd.type in (ipv4, ipv6)",
     "output": "net %fd.name %fd.cip %fd.sip %fd.sport by %proc.exepath %proc.aname[2]"},
    {"rule": "Wrote", "desc": "d", "priority": "DEBUG",
     "condition": "evt.type = write and evt.dir = > and fd.name != ''",
     "output": "write %fd.name %evt.arg.size %thread.tid %proc.ppid"},
]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return rules_file(tmp_path_factory.mktemp("r") / "rules.yaml", STATEFUL)


def _events_count(stderr: str) -> int:
    m = re.search(r"Captured Events: (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


@needs_traces
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_prefilter_same_output_as_all_events(capture, rules):
    args = ["-r", str(ROOT / "rules" / "falco_rules.yaml"), "-r", str(rules), "-e",
            str(capture), "-o", "priority=debug", "-o", "json_output=true", "-v"]
    fast = pyfalco(*args)
    full = pyfalco(*args, "-A")
    assert fast.returncode == full.returncode == 0, fast.stderr + full.stderr
    assert fast.stdout == full.stdout
    # every event of the capture is counted, kept by the prefilter or not
    assert _events_count(fast.stderr) == _events_count(full.stderr) > 0


@needs_traces
def test_the_captures_do_raise_alerts(rules):
    """Guard for the test above: the compared outputs are not all empty."""
    n = 0
    for capture in CAPTURES:
        res = pyfalco("-r", str(rules), "-e", str(capture), "-o", "priority=debug")
        n += len(alert_lines(res.stdout))
    assert n >= 10


@pytest.fixture(scope="module")
def drops_capture(tmp_path_factory):
    """Uneven seconds of opens and drop markers (ratios 0.2..0.5, one quiet second)."""
    from scap.metadata import ProcInfo
    from scap.testing import EventBuilder, write_capture

    b = EventBuilder(ts=T0, tid=100, step=7919)
    evts = []
    for sec, (opens, drops) in enumerate([(5, 3), (8, 2), (3, 0), (6, 6), (4, 1), (9, 4)]):
        b.ts = T0 + sec * S + 333_000 * (sec + 1)
        for i in range(max(opens, drops)):
            if i < opens:
                evts.append(b.build("SYSCALL_OPEN_E", ["/etc/hosts", 1, 0]))
                evts.append(b.build("SYSCALL_OPEN_X", [3, "/etc/hosts", 1, 0, 0]))
            if i < drops:
                evts.append(b.build("DROP_E", [1]))
    path = tmp_path_factory.mktemp("cap") / "drops.scap"
    write_capture(path, evts, processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat",
                                                  exe="cat")])
    return path


@pytest.mark.parametrize("condition", ["evt.type = execve", "evt.type = open"])
def test_drop_alerts_do_not_depend_on_the_prefilter(drops_capture, tmp_path, condition):
    rules = rules_file(tmp_path / "r.yaml", [
        {"rule": "R", "desc": "d", "condition": condition, "output": "x %fd.name",
         "priority": "INFO"}])
    args = ["-r", str(rules), "-e", str(drops_capture), "-o", "json_output=true",
            "-o", "syscall_event_drops.rate=100", "-o", "syscall_event_drops.max_burst=10"]
    fast = pyfalco(*args)
    full = pyfalco(*args, "-A")
    assert fast.returncode == full.returncode == 0
    drop_lines = [x for x in alert_lines(fast.stdout) if "syscall event drop" in x]
    assert drop_lines == [x for x in alert_lines(full.stdout) if "syscall event drop" in x]
    # Checks run at the first marker of seconds 1, 3, 4 and 5 (each marker is the 3rd event
    # of its second), over the events since the previous check's marker:
    #   sec 0: 3 drops / (13 - 2 + 2) = 13 events          -> 0.23, alert
    #   sec 1+2: 2 drops / (18 - 2 + 6 + 2) = 24 events    -> 0.08, under the 0.1 threshold
    #   sec 3: 6 / (18 - 2 + 2) = 18 -> alert; sec 4: 1 / (9 - 2 + 2) = 9 -> 0.11, alert
    #   sec 5: never checked (no later marker), as a live run checks only at a later event
    assert len(drop_lines) == 3, fast.stdout
    assert re.findall(r'"n_drops":"(\d+)"', "".join(drop_lines)) == ["3", "6", "1"]
    assert re.findall(r'"n_evts":"(\d+)"', "".join(drop_lines)) == ["13", "18", "9"]


def _loaded_state(tmp_path, rules_yaml: str):
    from falco_cli import app

    r = tmp_path / "r.yaml"
    r.write_text(rules_yaml)
    s = app.State(app.Options(rules_filenames=[str(r)], overrides=[
        "webserver.enabled=false", "log_syslog=false", "syslog_output.enabled=false",
        "stdout_output.enabled=false"]))
    assert app.load_config(s).success
    assert app.load_rules_files(s).success
    return s, r


def test_replay_interest_and_reload_warning(tmp_path, monkeypatch):
    """The replay prefilter holds the rules' types and the drop markers; a reload whose rules
    need types the open reader drops says so (the reader cannot widen its prefilter)."""
    from falco_cli import app, log
    from scap.schema import event_types_by_name
    from sinsp.parsers.prefilter import prefilter_types

    rule = ("- rule: R\n  desc: d\n  condition: evt.type = {t}\n  output: o %proc.name\n"
            "  priority: INFO\n")
    s, r = _loaded_state(tmp_path, rule.format(t="execve"))
    types, fields = app._replay_interest(s)
    assert types == event_types_by_name("execve") | app.DROP_TYPES
    s.prefilter = prefilter_types(types, fields)
    warned: list[str] = []
    monkeypatch.setattr(log, "warning", warned.append)
    assert app.reload(s) and not warned                 # same rules: nothing to say
    r.write_text(rule.format(t="read"))              # not a state event: dropped in C
    assert app.reload(s)
    assert any("prefilter" in w for w in warned)
    # -A and simulate_drops read every event
    s.options.all_events = True
    assert app._replay_interest(s) == (None, None)

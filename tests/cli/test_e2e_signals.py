"""End to end: signals on a running pyfalco. A replay of ping_sendto.scap (one ping per second
for ~9 s) with ``engine.replay.realtime=true`` keeps the process alive long enough.

SIGHUP with a broken rules file keeps the old rules running (error logged), with a good one
switches to the new rules; no event is lost across reloads (alerts before + after == alerts of an
uninterrupted run). SIGUSR1 reopens file outputs; SIGTERM/SIGINT stop with the summary. The pid
comes from --pidfile, as Falco users script it (``kill -1 $(cat /var/run/falco.pid)``)."""
from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.cli._run import TRACES, Running, alert_lines, needs_traces, pyfalco, rules_file

pytestmark = [needs_traces, pytest.mark.slow]

CAPTURE = TRACES / "ping_sendto.scap"


def rule(name: str, tag: str) -> list[dict[str, object]]:
    return [{"rule": name, "desc": "ping", "condition": "evt.type = sendmsg and evt.dir=<",
             "output": f"{tag} %evt.num", "priority": "NOTICE"}]


def realtime(*args: str) -> Running:
    return Running("-e", str(CAPTURE), "-o", "engine.replay.realtime=true", *args)


def kill_from_pidfile(sig: str, pidfile) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["sh", "-c", f"kill -{sig} $(cat {pidfile})"], check=True)


def test_sighup_reload_good_and_broken(tmp_path):
    rules = rules_file(tmp_path / "rules.yaml", rule("Ping A", "A"))
    full = pyfalco("-r", str(rules), "-e", str(CAPTURE))
    assert full.returncode == 0
    n = len(alert_lines(full.stdout))
    assert n >= 5

    pidfile = tmp_path / "falco.pid"
    p = realtime("-r", str(rules), "--pidfile", str(pidfile))
    try:
        p.wait_line("out", lambda x: x.endswith(": Notice A " + x.rsplit(" ", 1)[-1]))
        assert int(pidfile.read_text()) == p.proc.pid

        # broken rules: reload fails, old rules keep running
        rules.write_text("- rule: Broken\n  condition: evt.type = (\n")
        kill_from_pidfile("1", pidfile)
        p.wait_line("err", lambda x: "Reload failed, keeping the running configuration" in x)
        before = sum(1 for x in p.out if " A " in x)
        p.wait_line("out", lambda x: " A " in x and sum(" A " in y for y in p.out) > before)

        # good rules: the new rule takes over
        rules_file(rules, rule("Ping B", "B"))
        kill_from_pidfile("HUP", pidfile)
        p.wait_line("err", lambda x: "Reload complete" in x)
        p.wait_line("out", lambda x: ": Notice B " in x)
        assert p.finish() == 0
    finally:
        p.kill()
    alerts = alert_lines("\n".join(p.out))
    a = [x for x in alerts if ": Notice A " in x]
    b = [x for x in alerts if ": Notice B " in x]
    assert a and b and len(a) + len(b) == n           # no event lost across the reloads
    assert alerts == a + b                            # A strictly before B
    assert f"   Ping A: {len(a)}" in p.out and f"   Ping B: {len(b)}" in p.out
    assert "SIGHUP received, reloading config and rules..." in "\n".join(p.err)
    assert not pidfile.exists()


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_terminate_prints_summary(tmp_path, sig, name):
    rules = rules_file(tmp_path / "rules.yaml", rule("Ping A", "A"))
    p = realtime("-r", str(rules))
    try:
        p.wait_line("out", lambda x: ": Notice A " in x)
        t0 = time.monotonic()
        p.proc.send_signal(sig)
        assert p.finish(10) == 0
        assert time.monotonic() - t0 < 5
    finally:
        p.kill()
    assert f"{name} received, exiting..." in "\n".join(p.err)
    assert "Events detected: " in "\n".join(p.out)
    assert "   Ping A: " in "\n".join(p.out)


def test_sigusr1_reopens_file_output(tmp_path):
    rules = rules_file(tmp_path / "rules.yaml", rule("Ping A", "A"))
    out = tmp_path / "events.txt"
    pidfile = tmp_path / "falco.pid"
    p = realtime("-r", str(rules), "-o", "file_output.enabled=true",
                 "-o", "file_output.keep_alive=true", "-o", f"file_output.filename={out}",
                 "--pidfile", str(pidfile))
    try:
        p.wait_line("out", lambda x: ": Notice A " in x)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not out.read_text():
            time.sleep(0.05)
        out.rename(tmp_path / "events.txt.1")          # logrotate
        kill_from_pidfile("USR1", pidfile)
        p.wait_line("err", lambda x: "SIGUSR1 received, reopening outputs..." in x)
        assert p.finish() == 0
    finally:
        p.kill()
    old = (tmp_path / "events.txt.1").read_text().splitlines()
    new = out.read_text().splitlines()
    assert old and new
    assert old + new == alert_lines("\n".join(p.out))

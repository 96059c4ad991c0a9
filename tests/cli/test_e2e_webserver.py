"""End to end: the webserver of a running pyfalco (/healthz, /versions, Prometheus /metrics),
and -p additions to the alert text."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.cli._run import TRACES, Running, alert_lines, needs_traces, pyfalco, rules_file

pytestmark = needs_traces

RULES = [{"rule": "Ping", "desc": "ping", "condition": "evt.type = sendmsg and evt.dir=<",
          "output": "ping %evt.num", "priority": "NOTICE"}]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.bpf
def test_webserver_endpoints_while_running(tmp_path):
    """The health/metrics webserver of a live run (Falco starts it only when not reading a
    capture): /healthz, /versions, Prometheus /metrics with the rule's match count, and the
    metrics snapshot alert and file."""
    from tests.cli.test_e2e_live import _probe_ok

    why = _probe_ok()
    if why:
        pytest.skip(why)
    marker = f"/tmp/pyfalco-ws-{uuid.uuid4().hex}"
    rules = rules_file(tmp_path / "r.yaml", [
        {"rule": "Marker", "desc": "d",
         "condition": f"evt.type in (open, openat, openat2) and evt.dir=< and fd.name={marker}",
         "output": "marker %fd.name", "priority": "NOTICE"}])
    # Running() adds webserver.enabled=false first; later -o wins
    p = Running("-r", str(rules), "-M", "40", "-o", "webserver.enabled=true",
                "-o", "webserver.listen_address=127.0.0.1", "-o", "webserver.listen_port=0",
                "-o", "metrics.enabled=true", "-o", "webserver.prometheus_metrics_enabled=true",
                "-o", "metrics.interval=1s", "-o", f"metrics.output_file={tmp_path}/m.jsonl")
    try:
        line = p.wait_line("err", lambda x: "Starting health webserver" in x)
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        p.wait_line("err", lambda x: "Opening 'syscall' source with modern BPF probe" in x)
        deadline = time.monotonic() + 15
        hit = None
        while hit is None and time.monotonic() < deadline:
            subprocess.run(["sh", "-c", f": > {marker}"], check=True)
            time.sleep(0.3)
            hit = next((x for x in p.out if f": Notice marker {marker}" in x), None)
        assert hit is not None, p.err
        base = f"http://127.0.0.1:{port}"
        assert json.loads(get(base + "/healthz")) == {"status": "ok"}
        assert "falco_version" in json.loads(get(base + "/versions"))
        metrics = get(base + "/metrics")
        assert re.search(r'^falcosecurity_falco_rules_matches_total\{rule_name="Marker"\} [1-9]',
                         metrics, re.M)
        assert re.search(r"^falcosecurity_scap_n_evts_total [1-9]", metrics, re.M)
        assert re.search(r'^pyfalco_output_sent_total\{output="stdout"\} ', metrics, re.M)
        # metrics.output_rule: an internal snapshot alert every interval
        snap = p.wait_line("out", lambda x: "Falco metrics snapshot" in x)
        assert ": Informational Falco metrics snapshot (" in snap and "scap.n_evts=" in snap
        p.proc.terminate()
        assert p.finish() == 0
    finally:
        p.kill()
        if os.path.exists(marker):
            os.unlink(marker)
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines and lines[-1]["output_fields"]["falco.rules.Marker"] >= 1


def test_metrics_interval_parsing():
    from falco_cli.metrics import parse_interval
    assert parse_interval("1h") == 3_600_000
    assert parse_interval("1m30s") == 90_000
    assert parse_interval("500ms") == 500
    assert parse_interval("2d") == 172_800_000
    assert parse_interval("soon") == 0
    res = pyfalco("--dry-run", "-o", "metrics.enabled=true", "-o", "metrics.interval=soon")
    assert res.returncode == 1 and "metrics.interval" in res.stderr


def test_print_additional(tmp_path):
    rules = rules_file(tmp_path / "r.yaml", RULES)
    cap = str(TRACES / "ping_sendto.scap")
    plain = alert_lines(pyfalco("-r", str(rules), "-e", cap).stdout)
    extra = pyfalco("-r", str(rules), "-e", cap, "-p", "tid=%thread.tid")
    pc = pyfalco("-r", str(rules), "-e", cap, "-pc")
    pk = pyfalco("-r", str(rules), "-e", cap, "-pk")
    assert extra.returncode == pc.returncode == pk.returncode == 0, extra.stderr + pc.stderr
    assert plain
    for a, b, c, k in zip(plain, alert_lines(extra.stdout), alert_lines(pc.stdout),
                          alert_lines(pk.stdout), strict=True):
        assert re.fullmatch(re.escape(a) + r" tid=\d+", b)
        assert c.startswith(a + " container=")
        assert k.startswith(a + " k8s.ns=")
    bad = pyfalco("-r", str(rules), "-e", cap, "-p", "%no.such.field")
    assert bad.returncode == 1 and "Invalid -p output format" in bad.stderr


def test_no_live_source_is_fatal_not_a_silent_replay(monkeypatch, capsys):
    """Without root (or probe) the default run stops with the reason and the way out, as
    Falco does: alerts from a bundled replay must never pass for live ones."""
    from falco_cli import app, log
    log.configure("info", True, False)
    s = app.State(app.Options())
    assert app.load_config(s).success
    monkeypatch.setattr(app, "_live_unavailable_reason", lambda: "not running as root")
    opened = app._open_source(s)
    assert isinstance(opened, app.RunResult) and not opened.success
    msg = opened.errstr
    assert "not running as root" in msg and "-e FILE" in msg
    assert str(app.bundled_capture_path()) in msg
    assert s.capture_file is None


def test_webserver_not_started_when_reading_a_capture(tmp_path):
    """Falco skips its health/metrics webserver in capture mode, so a replay never fights a
    running instance for the port: occupy the port and replay anyway."""
    import socket

    port_holder = socket.socket()
    port_holder.bind(("127.0.0.1", 0))
    port_holder.listen(1)
    port = port_holder.getsockname()[1]
    cap = sorted(TRACES.glob("*.scap"))[0]
    rules = rules_file(tmp_path / "r.yaml", RULES)
    try:
        res = pyfalco("-r", str(rules), "-e", str(cap), "-o", "webserver.enabled=true",
                      "-o", "webserver.listen_address=127.0.0.1",
                      "-o", f"webserver.listen_port={port}")
    finally:
        port_holder.close()
    assert res.returncode == 0, res.stderr
    assert "Could not start webserver" not in res.stderr


@pytest.mark.sysdig
def test_bundled_demo_capture_matches_its_generator(tmp_path):
    """falco_cli/data/demo.scap is what make_demo.py writes (compared as sysdig reads both)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("sysdig") is None:
        pytest.skip("sysdig 0.29.3 (the reference) is not installed")
    from falco_cli import app
    demo = app.bundled_capture_path()
    gen = tmp_path / "demo.scap"
    subprocess.run([sys.executable, str(Path(demo).with_name("make_demo.py")), str(gen)],
                   check=True)
    fmt = "%evt.num %evt.rawtime %proc.name %proc.pname %proc.cmdline %evt.type %evt.dir %evt.args"

    def read(p):
        return subprocess.run(["sysdig", "-r", str(p), "-p", fmt], capture_output=True,
                              text=True, check=True).stdout

    assert read(demo) == read(gen)
    assert "cat bash cat /etc/shadow openat <" in read(demo)

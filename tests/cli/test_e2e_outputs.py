"""End to end: every output kind of a replay. file, program and http (to a loopback server that
records the requests, one that is down and one that is slow) must carry exactly the stdout alerts,
and a dead or slow sink must never stall the run."""
from __future__ import annotations

import json
import time

import pytest

from tests.cli._run import TRACES, alert_lines, needs_traces, pyfalco, rules_file, summary

pytestmark = needs_traces

CAPTURE = TRACES / "open-multiple-files.scap"
RULES = [{"rule": "Open file", "desc": "open",
          "condition": "evt.type in (open, openat) and evt.dir=<",
          "output": "open (proc=%proc.name file=%fd.name)", "priority": "WARNING",
          "tags": ["fs"]}]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return rules_file(tmp_path_factory.mktemp("r") / "rules.yaml", RULES)


@pytest.fixture(scope="module")
def reference(rules):
    """The stdout alerts of a plain run (text and JSON)."""
    text = pyfalco("-r", str(rules), "-e", str(CAPTURE))
    js = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "json_output=true")
    assert text.returncode == js.returncode == 0
    t, j = alert_lines(text.stdout), alert_lines(js.stdout)
    assert len(t) == len(j) > 3
    return t, j


def test_file_output(rules, reference, tmp_path):
    out = tmp_path / "events.txt"
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "file_output.enabled=true",
                  "-o", f"file_output.filename={out}", "-o", "stdout_output.enabled=false")
    assert res.returncode == 0, res.stderr
    assert alert_lines(res.stdout) == []
    assert out.read_text().splitlines() == reference[0]


def test_file_output_keep_alive_json(rules, reference, tmp_path):
    out = tmp_path / "events.json"
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "file_output.enabled=true",
                  "-o", "file_output.keep_alive=true", "-o", f"file_output.filename={out}",
                  "-o", "json_output=true", "-U")
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines() == reference[1] == alert_lines(res.stdout)


@pytest.mark.parametrize("keep_alive", ["true", "false"])
def test_program_output(rules, reference, tmp_path, keep_alive):
    out = tmp_path / "prog.txt"
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "program_output.enabled=true",
                  "-o", f"program_output.keep_alive={keep_alive}",
                  "-o", f"program_output.program=cat >> {out}", "-o", "json_output=true")
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines() == reference[1]


def test_http_output(rules, reference, http_recorder):
    rec = http_recorder()
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "http_output.enabled=true",
                  "-o", f"http_output.url={rec.url}", "-o", "json_output=true",
                  "-o", "http_output.user_agent=pyfalco-test")
    assert res.returncode == 0, res.stderr
    reqs = rec.wait_for(len(reference[1]))
    assert [r["body"] for r in reqs] == reference[1]
    for r in reqs:
        assert r["headers"]["Content-Type"] == "application/json"
        assert r["headers"]["User-Agent"] == "pyfalco-test"
        body = json.loads(r["body"])
        # what Falcosidekick's POST / handler reads
        assert body["priority"] == "Warning" and body["rule"] == "Open file"
        assert body["time"].endswith("Z") and isinstance(body["output_fields"], dict)


def test_http_endpoint_down(rules, reference, down_url):
    t0 = time.monotonic()
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "http_output.enabled=true",
                  "-o", f"http_output.url={down_url}", "-o", "output_timeout=500")
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    # stdout still got every alert and the summary; the run did not hang on the dead endpoint
    assert alert_lines(res.stdout) == reference[0]
    assert "Events detected: " in summary(res.stdout)
    assert "http: " in res.stderr and "not delivered" in res.stderr
    assert elapsed < 20


def test_http_endpoint_slow(rules, reference, http_recorder, tmp_path):
    """A 0.3 s/request endpoint: the file output and stdout get everything at once; the run ends
    after output_timeout at most and reports what the slow sink did not take."""
    rec = http_recorder(delay_s=0.3)
    out = tmp_path / "events.txt"
    t0 = time.monotonic()
    res = pyfalco("-r", str(rules), "-e", str(CAPTURE), "-o", "http_output.enabled=true",
                  "-o", f"http_output.url={rec.url}", "-o", "output_timeout=1000",
                  "-o", "file_output.enabled=true", "-o", f"file_output.filename={out}")
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines() == reference[0] == alert_lines(res.stdout)
    n = len(reference[0])
    assert 0 < len(rec.requests) < n        # the slow endpoint could not keep up...
    assert "discarding all remaining notifications" in res.stderr   # ...and that is reported
    assert elapsed < 0.3 * n + 10

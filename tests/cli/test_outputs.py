"""Outputs: formatting bytes, and each sink behind its queue: stdout, file (+reopen), program,
http (recorded by a loopback server; down and slow endpoints never block submit)."""
from __future__ import annotations

import io
import json
import os
import sys
import time
from dataclasses import dataclass, field

import pytest

from falco_cli import config
from falco_cli.outputs import (
    FileOutput,
    HttpOutput,
    OutputHub,
    ProgramOutput,
    StdoutOutput,
    format_alert,
    format_internal,
)
from falco_cli.outputs.formatting import iso8601


@dataclass(frozen=True)
class FakeAlert:
    """Shaped like engine.Alert (the contract in docs/ARCHITECTURE.md)."""
    time: int = 1_700_000_000_123_456_789
    priority: int = 4
    rule: str = "Test rule"
    source: str = "syscall"
    output: str = "22:13:20.123456789: Warning something happened (proc.name=cat)"
    output_fields: dict = field(default_factory=lambda: {"proc.name": "cat", "fd.num": 3,
                                                         "evt.time": 1_700_000_000_123_456_789})
    tags: tuple = ("b", "a")
    hostname: str = "host1"


def test_iso8601():
    assert iso8601(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert iso8601(5) == "1970-01-01T00:00:00.000000005Z"


def test_text_is_the_alert_output():
    m = format_alert(FakeAlert(), json_output=False)
    assert m.text == FakeAlert().output
    assert m.priority == 4


def test_json_bytes_match_falco_layout():
    m = format_alert(FakeAlert(), json_output=True)
    # nlohmann::json objects are sorted maps, dumped compact
    assert m.text == (
        '{"hostname":"host1","output":"22:13:20.123456789: Warning something happened '
        '(proc.name=cat)","output_fields":{"evt.time":1700000000123456789,"fd.num":3,'
        '"proc.name":"cat"},"priority":"Warning","rule":"Test rule","source":"syscall",'
        '"tags":["a","b"],"time":"2023-11-14T22:13:20.123456789Z"}')


def test_json_without_output_and_tags():
    obj = json.loads(format_alert(FakeAlert(), json_output=True, include_output=False,
                                  include_tags=False).text)
    assert "output" not in obj and "tags" not in obj
    assert obj["priority"] == "Warning"


def test_priority_names_accepted():
    for p, name in ((6, "Informational"), ("INFO", "Informational"), ("critical", "Critical")):
        obj = json.loads(format_alert(FakeAlert(priority=p), json_output=True).text)
        assert obj["priority"] == name


def test_internal_message_text_and_json():
    t = format_internal(1_700_000_000_000_000_001, 7, "Falco internal: x. 3 dropped", "R",
                        {"n_drops": "3", "a": "1"}, json_output=False, hostname="h")
    assert t.text.endswith(': Debug Falco internal: x. 3 dropped (a="1" n_drops="3")')
    j = json.loads(format_internal(1, 7, "m", "R", {"n": "1"}, json_output=True, hostname="h").text)
    assert j == {"hostname": "h", "output": "m", "output_fields": {"n": "1"}, "priority": "Debug",
                 "rule": "R", "source": "internal", "time": "1970-01-01T00:00:00.000000001Z"}


def _msg(i: int = 0):
    return format_alert(FakeAlert(rule=f"r{i}"), json_output=True)


def test_stdout_output_writes_lines():
    buf = io.StringIO()
    o = StdoutOutput(stream=buf)
    o.start()
    for i in range(3):
        o.submit(_msg(i))
    assert o.stop(2.0)
    lines = buf.getvalue().splitlines()
    assert [json.loads(x)["rule"] for x in lines] == ["r0", "r1", "r2"]
    assert o.sent == 3


@pytest.mark.parametrize("keep_alive", [False, True])
def test_file_output_and_reopen(tmp_path, keep_alive):
    path = tmp_path / "events.txt"
    o = FileOutput(str(path), keep_alive=keep_alive)
    o.start()
    o.submit(_msg(0))
    deadline = time.monotonic() + 5
    while o.sent < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.rename(path, tmp_path / "events.txt.1")   # logrotate
    o.request_reopen()
    o.submit(_msg(1))
    assert o.stop(2.0)
    rotated = (tmp_path / "events.txt.1").read_text().splitlines()
    assert [json.loads(x)["rule"] for x in rotated] == ["r0"]
    assert [json.loads(x)["rule"] for x in path.read_text().splitlines()] == ["r1"]


@pytest.mark.parametrize("keep_alive", [False, True])
def test_program_output_gets_alerts_on_stdin(tmp_path, keep_alive):
    out = tmp_path / "prog.out"
    o = ProgramOutput(f"cat >> {out}", keep_alive=keep_alive)
    o.start()
    for i in range(3):
        o.submit(_msg(i))
    assert o.stop(5.0)
    assert [json.loads(x)["rule"] for x in out.read_text().splitlines()] == ["r0", "r1", "r2"]


def test_program_output_survives_program_exit(tmp_path):
    """A program that exits after one line is restarted for the next alert."""
    out = tmp_path / "prog.out"
    o = ProgramOutput(f"head -n 1 >> {out}", keep_alive=True, backoff_s=0.01)
    o.start()
    for i in range(3):
        o.submit(_msg(i))
        time.sleep(0.2)
    assert o.stop(5.0)
    got = [json.loads(x)["rule"] for x in out.read_text().splitlines()]
    assert got[0] == "r0" and len(got) >= 2


def test_http_output_posts_falcosidekick_json(http_recorder):
    rec = http_recorder()
    o = HttpOutput(rec.url, json_output=True, user_agent="falcosecurity/falco")
    o.start()
    o.submit(_msg(0))
    assert o.stop(5.0)
    (req,) = rec.wait_for(1)
    assert req["path"] == "/"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["User-Agent"] == "falcosecurity/falco"
    body = json.loads(req["body"])
    # the fields Falcosidekick's input reads
    for k in ("priority", "rule", "time", "output_fields", "output", "source", "tags", "hostname"):
        assert k in body
    assert body["rule"] == "r0"


def test_http_output_compressed_and_text(http_recorder):
    rec = http_recorder()
    o = HttpOutput(rec.url, json_output=False, compress_uploads=True, keep_alive=True)
    o.start()
    o.submit(format_alert(FakeAlert(), json_output=False))
    o.submit(format_alert(FakeAlert(), json_output=False))
    assert o.stop(5.0)
    reqs = rec.wait_for(2)
    assert len(reqs) == 2
    assert reqs[0]["headers"]["Content-Type"] == "text/plain"
    assert reqs[0]["headers"]["Content-Encoding"] == "gzip"
    assert reqs[0]["body"] == FakeAlert().output


def test_http_down_never_blocks_and_counts_failures(down_url):
    o = HttpOutput(down_url, max_retries=2, backoff_s=0.01, queue_capacity=5)
    o.start()
    t0 = time.monotonic()
    for i in range(50):
        o.submit(_msg(i))
    submit_time = time.monotonic() - t0
    assert submit_time < 0.5          # submit never waits on the sink
    o.stop(3.0)
    assert o.sent == 0
    assert o.failed + o.dropped == 50
    assert o.dropped > 0 and o.retries > 0


def test_http_5xx_is_retried_then_given_up(http_recorder):
    rec = http_recorder(status=503)
    o = HttpOutput(rec.url, max_retries=2, backoff_s=0.01)
    o.start()
    o.submit(_msg(0))
    o.stop(3.0)
    assert len(rec.wait_for(3)) == 3       # 1 try + 2 retries
    assert o.failed == 1 and o.retries == 2


def test_http_4xx_not_retried(http_recorder):
    rec = http_recorder(status=400)
    o = HttpOutput(rec.url, max_retries=3, backoff_s=0.01)
    o.start()
    o.submit(_msg(0))
    o.stop(3.0)
    assert len(rec.wait_for(1, timeout=0.5)) == 1 and o.failed == 1 and o.retries == 0


def test_slow_http_does_not_hold_back_other_outputs(http_recorder, tmp_path):
    """The endpoint holds every request until released: meanwhile emit returns at once and the
    file output gets every alert (no head-of-line blocking across outputs)."""
    rec = http_recorder()
    rec.gate.clear()
    cfg = config.load(None, ["stdout_output.enabled=false", "syslog_output.enabled=false",
                             "file_output.enabled=true", f"file_output.filename={tmp_path}/e.txt",
                             "http_output.enabled=true", f"http_output.url={rec.url}",
                             "json_output=true", "output_timeout=5000"])
    hub = OutputHub.from_config(cfg)
    hub.start()
    for i in range(10):
        hub.emit(FakeAlert(rule=f"r{i}"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len((tmp_path / "e.txt").read_text().splitlines()) == 10:
            break
        time.sleep(0.02)
    assert len((tmp_path / "e.txt").read_text().splitlines()) == 10
    assert rec.requests == []                 # the endpoint has not answered anything yet
    rec.gate.set()
    hub.stop()
    st = hub.stats()
    assert st["file"]["sent"] == 10
    assert st["http"]["sent"] == 10 == len(rec.requests)


def test_hub_rate_limit():
    cfg = config.load(None, ["stdout_output.enabled=false", "syslog_output.enabled=false",
                             "outputs.rate=0.0001", "outputs.max_burst=3"])
    hub = OutputHub.from_config(cfg)
    hub.start()
    sent = [hub.emit(FakeAlert()) for _ in range(10)]
    hub.stop()
    assert sent.count(True) == 3 and hub.rate_limited == 7


def test_unwritable_file_output_is_reported(capsys, tmp_path):
    from falco_cli import log
    log.configure("info", True, False, stream=sys.stderr)
    cfg = config.load(None, ["stdout_output.enabled=false", "syslog_output.enabled=false",
                             "file_output.enabled=true",
                             f"file_output.filename={tmp_path}/nodir/x.txt"])
    hub = OutputHub.from_config(cfg)
    assert hub.outputs == []
    assert "Failed to init output: could not open file" in capsys.readouterr().err


def test_json_message_and_no_output_fields():
    @dataclass(frozen=True)
    class WithMessage(FakeAlert):
        message: str = "something happened (proc.name=cat)"

    obj = json.loads(format_alert(WithMessage(), json_output=True, include_message=True,
                                  include_output_fields=False).text)
    assert obj["message"] == "something happened (proc.name=cat)"
    assert "output_fields" not in obj


def test_syslog_output_uses_rule_priority(monkeypatch):
    import syslog as pysyslog

    from falco_cli.outputs import SyslogOutput
    got = []
    monkeypatch.setattr(pysyslog, "openlog", lambda *a: got.append(("open", a)))
    monkeypatch.setattr(pysyslog, "syslog", lambda *a: got.append(("log", a)))
    o = SyslogOutput()
    o.start()
    o.submit(format_alert(FakeAlert(priority=2), json_output=False))
    assert o.stop(2.0)
    assert got == [("open", ("falco", pysyslog.LOG_PID, pysyslog.LOG_USER)),
                   ("log", (pysyslog.LOG_USER | 2, FakeAlert().output))]

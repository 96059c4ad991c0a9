"""The k8s_audit source in the pyfalco command: open_params, -e replay, the webhook from config."""
from __future__ import annotations

import collections
import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from k8s_helpers import TRACES, trace, trace_files
from test_k8s_rules import OUR_RULES, OURS

from falco_cli.k8s_source import K8sOpen, from_open_params, is_audit_file

PYFALCO = pathlib.Path(sys.executable).parent / "pyfalco"
QUIET = ["-o", "webserver.enabled=false", "-o", "syslog_output.enabled=false",
         "-o", "log_syslog=false"]
needs_cli = pytest.mark.skipif(not PYFALCO.exists(), reason="pyfalco is not installed here")


def test_open_params() -> None:
    assert from_open_params("http://:9765/k8s-audit") == K8sOpen(
        "webhook", address="0.0.0.0", port=9765, endpoint="/k8s-audit")
    spec = from_open_params("https://127.0.0.1:8443/audit",
                            '{"sslCertificate": "/x.pem", "maxEventSize": 1000, '
                            '"webhookMaxBatchSize": 5000}')
    assert (spec.kind, spec.address, spec.port, spec.endpoint, spec.ssl_certificate,
            spec.max_event_size, spec.max_batch) == ("webhook", "127.0.0.1", 8443, "/audit",
                                                     "/x.pem", 1000, 5000)
    assert from_open_params("https://:1/a").ssl_certificate == "/etc/falco/falco.pem"
    assert from_open_params(" /var/log/audit.log ") == K8sOpen("file", path="/var/log/audit.log")
    for bad, msg in (("ftp://x/y", "not supported"), ("http://:notaport/x", "invalid port"),
                     ("http://host/x", "needs a port"), ("", "empty")):
        with pytest.raises(ValueError, match=msg):
            from_open_params(bad)
    with pytest.raises(ValueError, match="not JSON"):
        from_open_params("/x", "{nope")


def test_is_audit_file(tmp_path: pathlib.Path) -> None:
    assert is_audit_file(str(trace("exec_pod.json")))
    assert is_audit_file(str(trace("fal_01_003.json")))
    scap = tmp_path / "x.scap"
    scap.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)  # gzip magic
    assert not is_audit_file(str(scap))
    assert not is_audit_file(str(tmp_path / "missing.json"))
    assert not is_audit_file(str(tmp_path))  # a directory of captures
    logs = tmp_path / "logs"
    logs.mkdir()
    assert not is_audit_file(str(logs))  # empty
    (logs / "a.log").write_text('\n{"kind": "Event"}\n')
    assert is_audit_file(str(logs))  # a directory of audit logs


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PYFALCO), *QUIET, *args], capture_output=True, text=True,
                          timeout=timeout)


def _alerts(stdout: str) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]


@needs_cli
def test_replay_directory_through_the_cli() -> None:
    if not trace_files():
        pytest.skip("no traces")
    proc = _run("-r", str(OUR_RULES), "-e", str(TRACES), "-o", "json_output=true",
                "-o", "rule_matching=all")
    assert proc.returncode == 0, proc.stderr
    got = collections.Counter(a["rule"] for a in _alerts(proc.stdout))
    want = collections.Counter(r for sets in OURS.values() for s in sets for r in s)
    assert got == want
    assert all(a["source"] == "k8s_audit" for a in _alerts(proc.stdout))
    assert f"Events detected: {sum(want.values())}" in proc.stdout
    assert "data not recognized as a k8s audit event" in proc.stderr  # fal_01_003, skipped


@needs_cli
def test_replay_bad_file_is_a_clear_error() -> None:
    p = trace("fal_01_003.json")
    proc = _run("-r", str(OUR_RULES), "-e", str(p))
    assert proc.returncode == 1
    assert f"{p}:1: data not recognized as a k8s audit event" in proc.stderr
    assert "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_cli
def test_webhook_from_plugin_config(tmp_path: pathlib.Path) -> None:
    port = _free_port()
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
engine:
  kind: nodriver
load_plugins: [k8saudit, json]
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config: ""
    open_params: "http://127.0.0.1:{port}/k8s-audit"
  - name: json
    library_path: libjson.so
rules_files: [{OUR_RULES}]
json_output: true
""")
    proc = subprocess.Popen([str(PYFALCO), *QUIET, "-c", str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/k8s-audit"
        deadline = time.monotonic() + 30
        names = ["exec_pod.json", "create_nginx_pod_privileged.json", "fal_01_003.json"]
        codes = []
        for name in names:
            body = trace(name).read_bytes()
            while True:
                req = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        codes.append(r.status)
                    break
                except urllib.error.HTTPError as e:
                    codes.append(e.code)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.2)  # not listening yet
        assert codes == [200, 200, 400]
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    rules = [a["rule"] for a in _alerts(out)]
    assert sorted(rules) == sorted(r for n in names for s in OURS[n] for r in s)
    assert "webhook listening on http://127.0.0.1:" in err + out


@needs_cli
def test_plugin_file_open_params(tmp_path: pathlib.Path) -> None:
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
plugins:
  - name: k8saudit
    open_params: "{trace('exec_pod.json')}"
rules_files: [{OUR_RULES}]
""")
    proc = _run("-c", str(conf), "--enable-source", "k8s_audit")
    assert proc.returncode == 0, proc.stderr
    assert "Attach/Exec Pod: 1" in proc.stdout


@needs_cli
@pytest.mark.slow
def test_webhook_alongside_the_syscall_source(tmp_path: pathlib.Path) -> None:
    """Plugins configured and the syscall source left on: both run (the syscall source live
    on the probe, so root), k8s alerts come out and -M ends both."""
    if os.geteuid() != 0:
        pytest.skip("the syscall source runs live on the eBPF probe: needs root")
    port = _free_port()
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
plugins:
  - name: k8saudit
    open_params: "http://127.0.0.1:{port}/k8s-audit"
rules_files: [{OUR_RULES}]
json_output: true
""")
    proc = subprocess.Popen([str(PYFALCO), *QUIET, "-c", str(conf), "-M", "6"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = trace("exec_pod.json").read_bytes()
        deadline = time.monotonic() + 5
        while True:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/k8s-audit", data=body,
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    # (a live probe may add "Falco internal: syscall event drop" lines: other source)
    assert [a["rule"] for a in _alerts(out) if a.get("source") == "k8s_audit"] == \
        ["Attach/Exec Pod"]
    assert "Attach/Exec Pod: 1" in out


@needs_cli
def test_https_webhook_from_plugin_config(tmp_path: pathlib.Path,
                                          self_signed: tuple[pathlib.Path, pathlib.Path]
                                          ) -> None:
    pem, cert = self_signed
    port = _free_port()
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
engine: {{kind: nodriver}}
plugins:
  - name: k8saudit
    init_config: {{sslCertificate: "{pem}", maxEventSize: 1000000}}
    open_params: "https://127.0.0.1:{port}/audit"
rules_files: [{OUR_RULES}]
json_output: true
""")
    proc = subprocess.Popen([str(PYFALCO), *QUIET, "-c", str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        body = trace("attach_cluster_admin_role.json").read_bytes()
        deadline = time.monotonic() + 30
        while True:
            req = urllib.request.Request(f"https://127.0.0.1:{port}/audit", data=body,
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                    assert r.status == 200
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert [a["rule"] for a in _alerts(out)] == ["Attach to cluster-admin Role"]

"""Run the installed `pyfalco` live (JSON output) around some actions and collect its alerts."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYFALCO = Path(sys.executable).parent / "pyfalco"
MEMCG = Path("/sys/fs/cgroup/memory")


def loopback_listener() -> tuple[socket.socket, int]:
    """A TCP listener on 127.0.0.1 whose connections are accepted and closed in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def in_cgroup(path: Path, argv: list[str], **kw) -> subprocess.CompletedProcess:
    """Run argv inside a fresh cgroup (v1 memory hierarchy) at `path`, then remove it."""
    path.mkdir(parents=True)
    try:
        return subprocess.run(["sh", "-c", f'echo $$ > {path}/cgroup.procs && exec "$@"', "sh",
                               *argv], check=False, stdout=subprocess.DEVNULL, **kw)
    finally:
        for _ in range(50):
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def start_pyfalco(rules: Path, *opts: str) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    """Start pyfalco live on `rules` (JSON output, no webserver, then `opts`) and wait until
    it captures; its output lines are collected into the returned list as they come."""
    if not PYFALCO.exists():
        pytest.skip("pyfalco entry point not installed")
    proc = subprocess.Popen([str(PYFALCO), "-r", str(rules), "-o", "json_output=true",
                             "-o", "webserver.enabled=false", *opts],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines: list[str] = []
    ready = threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line)
            if "Opening 'syscall' source" in line:
                ready.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if not ready.wait(90):
        stop_pyfalco(proc, t)
        pytest.fail("pyfalco did not start live capture:\n" + "".join(lines))
    return proc, lines, t


def stop_pyfalco(proc: subprocess.Popen, reader: threading.Thread | None = None) -> None:
    """SIGINT (pyfalco prints its summary), then kill if it does not end within 30 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if reader is not None:
        reader.join(5)
        proc.stdout.close()


def run_pyfalco(rules: Path, actions: Callable[[], None], wait_for: Iterable[str],
                timeout: float = 60.0) -> tuple[list[dict], str]:
    """Start pyfalco on `rules`, wait until it captures live, run `actions`, wait until an
    alert of every rule in `wait_for` arrived (or `timeout`), stop it with SIGINT."""
    proc, lines, t = start_pyfalco(rules, "-o", "json_include_output_property=true",
                                   "-M", "120")
    try:
        if any("falling back" in ln or "unavailable" in ln for ln in lines):
            pytest.fail("pyfalco did not run live:\n" + "".join(lines))
        time.sleep(1.0)
        actions()
        want = [f'"rule":"{r}"' for r in wait_for]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(any(w in ln for ln in lines) for w in want):
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        stop_pyfalco(proc, t)
    alerts = [json.loads(ln) for ln in lines if ln.startswith("{")]
    return alerts, "".join(lines)


def by_rule(alerts: list[dict], log: str, rule: str) -> list[dict]:
    found = [a for a in alerts if a["rule"] == rule]
    assert found, f"no alert for {rule!r}; pyfalco said:\n{log[-3000:]}"
    return found

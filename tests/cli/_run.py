"""Helpers for the end-to-end tests: run the installed ``pyfalco`` as a user would, and ask the
reference ``sysdig`` 0.29.3 what the same condition and output format give on the same capture
(Falco's text alert is ``%evt.time: <Priority> <rule output>``, which ``sysdig -p`` renders with
the same field code)."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACES = Path("/work/shared/traces/syscalls")
CAPTURES = sorted(TRACES.glob("*.scap")) if TRACES.is_dir() else []

# The installed command (``make install`` puts it in .venv/bin); PYFALCO_TEST_CMD runs another
# build of it (e.g. "python -m falco_cli.main").
PYFALCO = shlex.split(os.environ.get("PYFALCO_TEST_CMD", "")) or [
    str(Path(sys.executable).parent / "pyfalco")]

# Every run: no webserver (tests run in parallel with others), no syslog side effects.
QUIET = ["-o", "webserver.enabled=false", "-o", "syslog_output.enabled=false",
         "-o", "log_syslog=false"]

needs_sysdig = pytest.mark.skipif(shutil.which("sysdig") is None,
                                  reason="sysdig 0.29.3 (the reference) is not installed")
needs_traces = pytest.mark.skipif(not CAPTURES, reason=f"no captures in {TRACES}")


def pyfalco(*args: str, timeout: float = 60, quiet: bool = True,
            **kw: object) -> subprocess.CompletedProcess[str]:
    cmd = [*PYFALCO, *(QUIET if quiet else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]


def sysdig(capture: Path | str, fmt: str, filt: str) -> list[str]:
    out = subprocess.run(["sysdig", "-r", str(capture), "-p", fmt, filt], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return out.splitlines()


def alert_lines(stdout: str) -> list[str]:
    """The alert lines of a run: everything before the summary."""
    lines = stdout.splitlines()
    if "Events detected:" in stdout:
        i = next(i for i, x in enumerate(lines) if x.startswith("Events detected: "))
        return lines[:i]
    return lines


def summary(stdout: str) -> str:
    i = stdout.index("Events detected: ")
    return stdout[i:]


def expected_summary(counts: list[tuple[str, str, int]]) -> str:
    """counts: (rule, PRIORITY, n) in rule load order."""
    total = sum(n for _, _, n in counts)
    out = [f"Events detected: {total}", "Rule counts by severity:"]
    by_prio: dict[str, int] = {}
    for _, p, n in counts:
        if n:
            by_prio[p] = by_prio.get(p, 0) + n
    order = ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]
    out += [f"   {p}: {by_prio[p]}" for p in order if p in by_prio]
    out.append("Triggered rules by rule name:")
    out += [f"   {r}: {n}" for r, _, n in counts if n]
    return "\n".join(out) + "\n"


def rules_file(path: Path, rules: list[dict[str, object]]) -> Path:
    import yaml
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


class Running:
    """A pyfalco process whose stdout/stderr lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen([*PYFALCO, *QUIET, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_line(self, which: str, pred, timeout: float = 20.0) -> str:  # type: ignore[no-untyped-def]
        sink = self.out if which == "out" else self.err
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(sink):
                line = sink[seen]
                seen += 1
                if pred(line):
                    return line
            if self.proc.poll() is not None and seen >= len(sink):
                time.sleep(0.1)
                if seen >= len(sink):
                    break
            time.sleep(0.02)
        raise AssertionError(f"no matching {which} line; stdout={self.out} stderr={self.err}")

    def finish(self, timeout: float = 30.0) -> int:
        rc = self.proc.wait(timeout)
        for t in self._threads:
            t.join(5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

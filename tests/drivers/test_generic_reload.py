"""A SIGHUP reload builds a new engine: it must still run rules that name a syscall the probe
records as the generic event (getcwd) on those generic records, as the engine of the start
did (``RuleEngine.treat_as_generic``, applied again by ``falco_cli.app.reload``)."""
from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.live import start_pyfalco, stop_pyfalco
from tests.drivers.test_generic_syscalls import RULE, _pwd_copy

NEVER = """
- rule: Never
  desc: placeholder before the reload
  condition: evt.type = getcwd and proc.name = pyfalco-never-runs
  output: never
  priority: NOTICE
"""


def _wait(lines: list[str], text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in ln for ln in list(lines)):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.bpf
@pytest.mark.root
@pytest.mark.slow
@requires_bpf
def test_generic_syscall_rule_fires_after_a_reload(tmp_path: Path) -> None:
    name, exe = _pwd_copy(tmp_path, "hup")
    rules = tmp_path / "r.yaml"
    rules.write_text(textwrap.dedent(NEVER))
    proc, lines, reader = start_pyfalco(rules)
    try:
        rules.write_text(textwrap.dedent(RULE.format(name=name)))
        proc.send_signal(signal.SIGHUP)
        assert _wait(lines, "Reload complete", 30), "".join(lines)
        deadline = time.monotonic() + 20
        got = False
        while not got and time.monotonic() < deadline:
            subprocess.run([str(exe)], check=True, stdout=subprocess.DEVNULL)
            got = _wait(lines, '"rule":"Getcwd by marker"', 1.0)
    finally:
        stop_pyfalco(proc, reader)
    assert got, "no alert after the reload:\n" + "".join(lines[-30:])

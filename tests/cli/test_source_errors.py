"""An event source that cannot open ends pyfalco with the error alone, as Falco does: no
end-of-run summary pretending that a run happened ("Events detected: 0 ...")."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PYFALCO = Path(sys.executable).parent / "pyfalco"
QUIET = ["-o", "webserver.enabled=false", "-o", "syslog_output.enabled=false"]


def test_missing_trace_file_gives_the_error_and_no_summary(tmp_path: Path) -> None:
    res = subprocess.run([str(PYFALCO), *QUIET, "-e", str(tmp_path / "nope.scap")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "Could not open trace file" in res.stderr
    assert "Events detected" not in res.stdout


def test_live_without_root_gives_the_error_and_no_summary() -> None:
    cmd = [str(PYFALCO), *QUIET]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root and no setpriv to drop privileges")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "Unable to open the live syscall source" in res.stderr
    assert "not running as root" in res.stderr and "-e FILE" in res.stderr
    assert "Events detected" not in res.stdout


def test_rule_evaluation_errors_are_reported_with_each_rules_first_error(capsys) -> None:  # type: ignore[no-untyped-def]
    """A rule whose condition raises is skipped for that event (the stream goes on); at the
    end pyfalco says how many errors there were and which rules, with their first error."""
    from engine import RuleEngine
    from falco_cli import app, log

    log.configure("info", True, False)
    s = app.State(app.Options())
    s.engine = RuleEngine()
    s.engine.ruleset.errors = 3
    s.engine.ruleset.error_samples = {"Boom": "RuntimeError: extractor failure"}
    app._report_rule_errors(s)
    err = capsys.readouterr().err
    assert "3 rule evaluation error(s)" in err
    assert "Boom: RuntimeError: extractor failure" in err

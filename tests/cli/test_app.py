"""app steps in-process: the summary text, reload decisions, option conflicts."""
from __future__ import annotations

import pytest

from falco_cli import app, config
from falco_cli.main import check_conflicts


def test_summary_text_orders_priorities_and_rules():
    s = app.State(app.Options())
    s.by_priority.update({6: 2, 2: 1})
    s.by_rule.update({"B": 2, "A": 1})
    s.rule_order.update({"B": (0, 5), "A": (0, 1)})
    assert app.summary_text(s) == ("Events detected: 3\nRule counts by severity:\n"
                                   "   CRITICAL: 1\n   INFO: 2\n"
                                   "Triggered rules by rule name:\n   A: 1\n   B: 2\n")


def test_summary_text_empty():
    assert app.summary_text(app.State(app.Options())) == (
        "Events detected: 0\nRule counts by severity:\nTriggered rules by rule name:\n")


@pytest.mark.parametrize("ov,changed", [([], False), (["json_output=true"], True),
                                        (["file_output.enabled=true"], True),
                                        (["http_output.url=http://x/"], True),
                                        (["priority=error"], False),
                                        (["log_level=debug"], False)])
def test_outputs_changed(ov, changed):
    a = config.load(None)
    assert app._outputs_changed(a, config.load(None, ov)) is changed


def _kw(**over):
    kw = {"disabled_rule_substrings": (), "disabled_tags": (), "enabled_tags": (), "daemon": False,
          "pidfile": None, "trace_filename": None, "userspace": False, "modern_bpf": False,
          "nodriver": False, "enable_sources": (), "disable_sources": ()}
    kw.update(over)
    return kw


def test_no_conflict():
    assert check_conflicts(_kw(trace_filename="x", disabled_tags=("a",))) is None


def test_falco_bpf_probe_env_counts_as_a_mode(monkeypatch):
    monkeypatch.setenv("FALCO_BPF_PROBE", "")
    assert check_conflicts(_kw(trace_filename="x")).startswith("You can not specify more than one")

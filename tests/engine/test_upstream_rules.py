"""The upstream Falco rules files load with zero errors.

Set PYFALCO_UPSTREAM_RULES to a directory holding any of falcosecurity/rules'
falco_rules.yaml, falco-incubating_rules.yaml, falco-sandbox_rules.yaml and falcosecurity/plugins'
k8s_audit_rules.yaml (they are not shipped with pyfalco).  Rules of a source without a
registry give Falco's LOAD_UNKNOWN_SOURCE warning, not an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import RuleEngine

UPSTREAM = os.environ.get("PYFALCO_UPSTREAM_RULES")
FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml",
         "k8s_audit_rules.yaml"]

pytestmark = pytest.mark.skipif(not UPSTREAM, reason="PYFALCO_UPSTREAM_RULES is not set")


def _present() -> list[Path]:
    return [Path(UPSTREAM, f) for f in FILES if UPSTREAM and Path(UPSTREAM, f).is_file()]


@pytest.mark.parametrize("name", FILES)
def test_upstream_file_loads_without_errors(name: str) -> None:
    path = Path(UPSTREAM or "", name)
    if not path.is_file():
        pytest.skip(f"{name} not in {UPSTREAM}")
    e = RuleEngine()
    res = e.load_files([path])
    assert res.successful, res.as_string()
    sources = {r.source for r in e.rules}
    unknown = [w for w in res.warnings if w.code.name == "LOAD_UNKNOWN_SOURCE"]
    assert e.rules or unknown
    assert sources <= set(e.registries)


def test_upstream_files_load_together() -> None:
    """Stable + k8s audit in one engine (Falco's usual -r pair); the others each redefine
    stable's macros and lists, which is allowed, so they are loaded after it as well."""
    files = _present()
    if not files:
        pytest.skip(f"no upstream rules file in {UPSTREAM}")
    e = RuleEngine()
    res = e.load_files(files)
    assert res.successful, res.as_string()

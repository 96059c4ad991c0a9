"""Helpers shared by the engine tests (load inline YAML, list result codes)."""

from __future__ import annotations

import textwrap

from engine import LoadResult, RuleEngine


def load(e: RuleEngine, text: str, name: str = "rules.yaml") -> LoadResult:
    return e.load_string(textwrap.dedent(text).lstrip("\n"), name)


def codes(res: LoadResult) -> tuple[list[str], list[str]]:
    return [e.code.name for e in res.errors], [w.code.name for w in res.warnings]

"""Review of the live hot path end to end, on random rules: generated rule files (lists,
macros, exceptions, negations, type checks, event-local and state fields, priorities below
the minimum, disabled rules) loaded by the engine, its ``local_filters`` compiled for C, and
generated live batches (open-family exits over the rules' own paths and odd ones, closes,
reads) run through ``Inspector`` with and without the hot path: the alerts are the same,
event for event.  The other review tests check one layer each; this one lets nothing
between the rule file and the alert go unchecked."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import RuleEngine
from scap.testing import EventBuilder
from sinsp import Inspector, hotpath

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sinsp"))
from hotpath_helpers import FakeRing, close_exit, open_exit, processes, read_exit

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

PATHS = ["/etc/shadow", "/etc/passwd", "/etc/pam.d/sshd", "/tmp/a", "/tmp/x.so", "/dev/null",
         "/root/.ssh/id_rsa", "/usr/bin/ls", "/etc", "/srv/data/f", "/tmp/dir"]
ODD = ["/tmp//a", "/etc/./shadow", "rel/x", "/tmp/\u00e9", "/etc/shadow/", "", "/"]

CHECKS = [
    "fd.name = /etc/shadow", "fd.name != /dev/null", "fd.name startswith /etc",
    "fd.name endswith .so", "fd.name contains ssh", "fd.name glob '/tmp/*'",
    "fd.name glob '/etc/[!p]*'", "fd.name pmatch (/etc, /srv/data)", "fd.name in (sens)",
    "fd.name in (empty)", "fd.nameraw = /tmp/a", "fd.directory = /etc",
    "fd.directory in (/tmp, /root/.ssh)", "fd.filename = shadow", "fd.filename startswith .",
    "fd.typechar = d", "fd.type = file", "fd.num = 5", "fd.num > 6", "fd.num in (3, 0x7)",
    "evt.rawres >= 0", "evt.rawres < 0", "evt.is_open_read = true",
    "evt.is_open_write = true", "evt.is_open_write != false", "evt.is_open_exec = true",
    "evt.type = openat", "evt.type in (open, openat2)", "evt.type != creat",
    "evt.type = close", "evt.dir = <", "syscall.type = open", "evt.num = 0", "never",
    "proc.name = storm", "proc.name in (empty)", "user.uid = 0", "fd.name icontains ETC",
    "toupper(fd.name) = /ETC/SHADOW", "evt.arg.name = /tmp/a", "fd.ino = 7", "fd.name exists",
    "evt.res = SUCCESS", "thread.tid = 200",
]  # fmt: skip


def _cond() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(CHECKS)
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda c: f"not ({c})", inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: " and ".join(f"({c})" for c in cs)),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: " or ".join(f"({c})" for c in cs)),
    ), max_leaves=6)


_rule = st.tuples(_cond(), st.sampled_from(["WARNING", "CRITICAL", "WARNING", "DEBUG"]),
                  st.sampled_from([True, True, True, False]),
                  st.sampled_from([None, "fd.name", "fd.num"]))


def _rules_yaml(rules: list[tuple[str, str, bool, str | None]]) -> str:
    out = ["- list: sens\n  items: [/etc/shadow, /root/.ssh/id_rsa]",
           "- list: empty\n  items: []",
           "- macro: never\n  condition: (evt.num = 0)"]
    for k, (cond, prio, enabled, exc) in enumerate(rules):
        text = (f"- rule: r{k}\n  desc: d\n  condition: {cond}\n  output: o\n"
                f"  priority: {prio}\n  enabled: {str(enabled).lower()}")
        if exc == "fd.name":
            text += ("\n  exceptions:\n    - name: e\n      fields: [fd.name]\n"
                     "      values: [[/etc/passwd]]")
        elif exc == "fd.num":
            text += ("\n  exceptions:\n    - name: e\n      fields: [fd.num, proc.name]\n"
                     "      comps: [=, =]\n      values: [[5, storm]]")
        out.append(text)
    return "\n".join(out) + "\n"


def _batches(seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs = []
    for _ in range(500):
        tid = rng.choice([100, 101, 200, 1007])
        r = rng.random()
        if r < 0.5:
            path = rng.choice(PATHS) if rng.random() < 0.85 else rng.choice(ODD)
            recs.append(open_exit(b, rng.choice([307, 307, 3, 327, 59]), tid,
                                  rng.choice([3, 5, 6, 7, 9, -2]), path,
                                  rng.choice([1, 2, 3, 1 | 1024, 2 | 4, 2 | 8192, 0]),
                                  rng.choice([0, 0o644, 0o755])))
        elif r < 0.9:
            recs.append(close_exit(b, tid, rng.choice([3, 5, 6, 7, 9]), rng.choice([0, 0, -9])))
        else:
            recs.append(read_exit(b, tid, rng.choice([3, 5])))
    out, i = [], 0
    while i < len(recs):
        k = rng.choice([1, 13, 100, 400])
        out.append(recs[i:i + k])
        i += k
    return out


def _alerts(insp: Inspector, eng: RuleEngine) -> list[tuple[int, tuple[str, ...]]]:
    out = []
    for evt in insp:
        matches = eng.process(evt)
        if matches:
            out.append((evt.num, tuple(m.rule for m in matches)))
    return out


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(_rule, min_size=1, max_size=3), seed=st.integers(0, 2**16),
       matching=st.sampled_from(["all", "first"]), reenable=st.booleans())
def test_same_alerts_on_random_rules(rules: list[Any], seed: int, matching: str,
                                     reenable: bool) -> None:
    eng = RuleEngine(hostname="h")
    eng.set_min_priority("WARNING")
    res = eng.load_string(_rules_yaml(rules))
    assert res.successful, res.as_string(True)
    eng.rule_matching = matching
    if reenable:  # as -t/-o rules selection would: the disabled-by-default rules run too
        eng.enable(pattern="r*", enabled=True)
    batches = _batches(seed)
    expect = _alerts(Inspector(FakeRing(batches, processes())), eng)
    hot = Inspector(FakeRing(batches, processes()))
    assert hot.set_hotpath(eng.local_filters(hotpath.HOT_TYPES))
    assert _alerts(hot, eng) == expect

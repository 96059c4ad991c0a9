"""Soundness of ``engine.localfilter``: whenever the engine's full evaluation matches a rule on
an open-family or close exit, neither that rule's event-local tree nor the per-type ``or`` of
all of them is FALSE.

Checked with every rule enabled, for our rules (``rules/`` and the golden test rules) and,
with ``PYFALCO_UPSTREAM_RULES``, upstream's stable, incubating and sandbox rules; on every hot
exit of the shared real captures and on generated live-layout records (open, openat, openat2,
creat exits and the close of their fd), whose paths are drawn from the rules' own strings
plus traversals, doubled slashes and relative names (not candidates, checked all the same),
and whose flags include O_WRONLY|O_TRUNC and O_DIRECTORY.  Trees are judged by
``localfilter_helpers.evaluate``, which runs each ``Pred`` as the filter check it stands for.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from localfilter_helpers import (
    FLAG_SETS,
    HOT_TYPES,
    OPEN_TYPES,
    ROOT,
    TRACES,
    UPSTREAM,
    close_exit,
    evaluate,
    hotpath_verdict,
    is_candidate,
    needs_traces,
    open_exit,
    syscall_world,
)

from engine import RuleEngine
from engine.localfilter import rule_local_filter
from scap.testing import EventBuilder
from sinsp import Inspector
from sinsp import localpred as lp
from sinsp.localpred import Tri

pytestmark = needs_traces


def _rule_sets() -> list[Any]:
    sets = [pytest.param("ours", id="ours"), pytest.param("golden", id="golden")]
    for name in ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"):
        if UPSTREAM and Path(UPSTREAM, name).is_file():
            sets.append(pytest.param(name, id=name.removesuffix(".yaml")))
    return sets


class Judge:
    """An engine with every rule of one set enabled, and its trees per (rule, type)."""

    def __init__(self, which: str) -> None:
        if which == "ours":
            files = [ROOT / "rules" / "falco_rules.yaml", ROOT / "rules" / "falco_rules.local.yaml"]
        elif which == "golden":
            files = [Path(__file__).parent / "data" / "golden_rules.yaml"]
        else:
            files = [Path(str(UPSTREAM), which)]
        self.eng = RuleEngine(hostname="h")
        res = self.eng.load_files(files)
        assert res.successful, res.as_string(True)
        self.eng.enable()
        self.eng.rule_matching = "all"
        self.roots = self.eng.local_filters(HOT_TYPES)
        self.trees: dict[tuple[str, int], lp.Node] = {}
        self.matched: Counter[str] = Counter()

    def check(self, evt: Any) -> None:
        if evt is None or evt.record.type not in self.roots:
            return
        t = evt.record.type
        root = self.roots[t]
        mine = evaluate(root, evt)
        # the live hot path's own evaluator, on the record alone, may only be less decided
        theirs = hotpath_verdict(root, evt)
        if theirs is Tri.FALSE:
            assert mine is Tri.FALSE, (t, root, theirs, mine)
        matches = self.eng.process(evt)
        if not matches:
            return
        assert mine is not Tri.FALSE, (t, [m.rule for m in matches], root)
        for m in matches:
            self.matched[m.rule] += 1
            tree = self.trees.get((m.rule, t))
            if tree is None:
                tree = self.trees[(m.rule, t)] = rule_local_filter(m.compiled, t)
            assert evaluate(tree, evt) is not Tri.FALSE, (m.rule, t, tree)
            assert hotpath_verdict(tree, evt) is not Tri.FALSE, (m.rule, t, tree)

    def strings(self) -> list[str]:
        """The string operands the rules' open trees compare paths with."""
        out: set[str] = set()

        def walk(n: lp.Node) -> None:
            if isinstance(n, (lp.And, lp.Or)):
                for it in n.items:
                    walk(it)
            elif isinstance(n, lp.Not):
                walk(n.item)
            elif isinstance(n, lp.Pred):
                out.update(v for v in n.values if isinstance(v, str) and len(v) > 1)

        for t in OPEN_TYPES:
            walk(self.roots[t])
        return sorted(out)


@functools.cache
def _judge(which: str) -> Judge:
    return Judge(which)


@pytest.mark.parametrize("which", _rule_sets())
def test_sound_on_real_captures(which: str) -> None:
    judge = Judge(which)
    hot = candidates = 0
    for path in sorted(TRACES.glob("*.scap")):
        for evt in Inspector.from_capture(path):
            if evt.record.type in HOT_TYPES:
                hot += 1
                candidates += is_candidate(evt)
                judge.check(evt)
    assert hot > 20 and candidates > 10
    if which == "golden":  # written against these captures: the checks above did run
        assert judge.matched


# -- generated live records ---------------------------------------------------------------

_FIXED_PATHS = [
    "/dev/null", "/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/sudoers.d/x",
    "/etc/pam.d/sshd", "/etc/ld.so.preload", "/root/.ssh/id_rsa", "/root/.bashrc",
    "/home/u/.ssh/authorized_keys", "/var/log/syslog", "/var/log/auth.log", "/var/log/x/y",
    "/sys/fs/cgroup/x/release_agent", "/usr/lib/x.so", "/bin/evil", "/usr/bin/ls", "/",
    "/etc/../etc/shadow", "/tmp/../../etc/shadow", "../../../etc/passwd", "etc/shadow",
    "/etc//shadow", "/etc/./shadow", "/etc/", "/proc/1/environ", "/dev/shm/x",
]  # fmt: skip

def _paths(strings: list[str]) -> st.SearchStrategy[str]:
    base = st.sampled_from(strings + _FIXED_PATHS)
    tail = st.sampled_from(["", "/x", "/a/b.conf", "x", "/", "/..", "/../etc/shadow", ".d/y"])

    def fill(s: str) -> str:  # glob patterns as a path they could match
        return s.replace("*", "q").replace("?", "z").replace("[", "").replace("]", "")

    return st.builds(lambda b, t: fill(b) + t, base, tail) | base


def _records(strings: list[str], tids: tuple[int, ...]) -> st.SearchStrategy[Any]:
    return st.tuples(
        st.sampled_from(OPEN_TYPES), st.sampled_from(tids), _paths(strings),
        st.sampled_from(FLAG_SETS) | st.integers(0, 0x3FFF),
        st.sampled_from([-2, -13, 0, 3, 9, 255]), st.sampled_from([0, 0o644, 0o755]),
    )


@pytest.mark.parametrize("which", _rule_sets())
def test_sound_on_generated_live_opens(which: str) -> None:
    judge = _judge(which)
    insp, tids = syscall_world()
    b = EventBuilder(ts=1_700_000_000_000_000_000)

    @settings(max_examples=250, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_records(judge.strings(), tids))
    def run(rec: tuple[int, int, str, int, int, int]) -> None:
        etype, tid, path, flags, fd, mode = rec
        judge.check(insp.process(open_exit(b, etype, tid, fd, path, flags, mode)))
        if fd >= 0:
            judge.check(insp.process(close_exit(b, tid, fd)))

    run()


@pytest.mark.parametrize("which", _rule_sets())
def test_sound_on_a_sweep_that_matches(which: str) -> None:
    """Every type x fixed path x flag set, from several processes: the rules do match here,
    so the soundness checks above are not vacuous."""
    judge = Judge(which)
    insp, tids = syscall_world()
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    for i, tid in enumerate(tids[::7]):
        for t in OPEN_TYPES:
            for path in _FIXED_PATHS:
                for flags in FLAG_SETS:
                    fd = 3 + i
                    judge.check(insp.process(open_exit(b, t, tid, fd, path, flags, 0o755)))
                    judge.check(insp.process(close_exit(b, tid, fd)))
    if which in ("ours", "falco_rules.yaml"):
        assert judge.matched, "no rule matched: nothing was checked"

"""The engine's fast paths give the same answers as the plain evaluation they replace.

* and/or chains are one generated closure (``sinsp.filter.compiler._chain``): same result and
  the same short-circuit order as evaluating the tree operand by operand.
* A rule runs specialised to the event type (``Filter.for_type``: evt.type/evt.dir checks
  folded): on every event of the real captures and the bench-like synthetic mix, the
  specialised check equals ``Filter.matches``, and ``RuleEngine.process`` with
  ``rule_matching: all`` equals running every rule's own filter.
* Generic events (types 0/1) are never folded: their ``evt.type`` comes from a parameter.
"""
from __future__ import annotations

import glob
import pathlib

import pytest

from engine import RuleEngine
from sinsp import Inspector
from sinsp.filter import compile_filter, parse
from sinsp.filter.specialize import fold_types, type_values
from sinsp.format import default_registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRACES = sorted(glob.glob("/work/shared/traces/syscalls/*.scap"))
RULES = ROOT / "rules" / "falco_rules.yaml"

# Conditions touching every shape the specialiser handles: evt.type in/=/!=, evt.dir,
# negations, nested and/or (macro-like nesting), and checks it must leave alone.
CONDITIONS = [
    "evt.type in (open, openat, openat2) and evt.dir = < and fd.name startswith /etc",
    "evt.type = close or (evt.type = read and (evt.dir = > or evt.dir = <))",
    "not evt.type in (read, write) and evt.dir != >",
    "(evt.type = connect and evt.dir = <) or (evt.type = sendto and proc.name = ping)",
    "evt.type != write and not (evt.type = close or evt.dir = >) and proc.name exists",
    "evt.dir = < and (evt.type = execve or evt.type = clone or evt.type = openat)",
    "evt.type = socket and (fd.typechar = 4 or fd.typechar = 6 or evt.dir = >)",
    "evt.type exists and evt.type contains open",
]


def _events(limit: int = 4000):
    for path in TRACES:
        with Inspector.from_capture(path) as insp:
            for i, evt in enumerate(insp):
                if i >= limit:
                    break
                yield evt


@pytest.fixture(scope="module")
def registry():
    return default_registry()


@pytest.mark.skipif(not TRACES, reason="no real captures in /work/shared/traces/syscalls")
def test_specialised_conditions_agree_on_real_events(registry):
    flts = [compile_filter(c, registry) for c in CONDITIONS]
    n = folded = 0
    seen_true = [0] * len(flts)
    for evt in _events():
        t = evt.record.type
        for i, f in enumerate(flts):
            want = bool(f.matches(evt))
            spec = f.for_type(t)
            got = spec if isinstance(spec, bool) else bool(spec(evt))
            assert got == want, (CONDITIONS[i], evt.num, t)
            folded += spec is not f.matches
            seen_true[i] += want
        n += 1
    assert n > 1000 and folded > n  # the specialiser did fold, on many events
    assert sum(1 for x in seen_true if x) >= 5  # and the conditions are not all-false


@pytest.mark.skipif(not TRACES, reason="no real captures in /work/shared/traces/syscalls")
def test_engine_all_matches_equal_plain_filters():
    eng = RuleEngine()
    res = eng.load_files([RULES])
    assert res.successful, res.as_string(True)
    eng.rule_matching = "all"
    rules = eng.enabled_rules("syscall")
    total = 0
    for evt in _events():
        got = [m.rule for m in eng.process(evt)]
        t = evt.record.type
        want = [r.name for r in rules
                if (r.event_types is None or t in r.event_types) and r.filter.matches(evt)]
        assert got == want, (evt.num, t)
        total += len(got)
    # also with one rule that surely matches often, so the comparison sees matches
    eng2 = RuleEngine()
    eng2.load_string("- rule: opens\n  desc: d\n  condition: evt.type in (open, openat) and "
                     "evt.dir = <\n  output: o %fd.name\n  priority: INFO\n")
    hits = sum(1 for evt in _events() if eng2.process(evt))
    opens = sum(1 for evt in _events() if evt.record.name in ("open", "openat")
                and evt.record.direction == "<")
    assert hits == opens > 0


def test_fold_decides_type_checks_only(registry):
    openat_x = next(t for t in range(2, 400) if type_values(registry, t).get("evt.type") ==
                    "openat" and type_values(registry, t)["evt.dir"] == "<")
    vals = type_values(registry, openat_x)
    assert fold_types(parse("evt.type in (open, openat) and evt.dir = <"), vals) is True
    assert fold_types(parse("evt.type = read or evt.dir = >"), vals) is False
    rest = fold_types(parse("evt.type = openat and proc.name = cat"), vals)
    assert rest == parse("proc.name = cat")
    # generic events: evt.type depends on a parameter, so only evt.dir is known
    assert "evt.type" not in type_values(registry, 0) and "evt.type" not in type_values(registry, 1)
    assert type_values(registry, 0)["evt.dir"] == ">" and type_values(registry, 1)["evt.dir"] == "<"


def test_chain_short_circuits_in_order(registry):
    from sinsp.filter.compiler import _chain

    calls: list[int] = []

    def p(i: int, v: bool):
        def f(e):
            calls.append(i)
            return v
        return f

    ch = _chain("and", [p(0, True), p(1, True), p(2, False), p(3, True)])
    assert ch(None) is False and calls == [0, 1, 2]
    calls.clear()
    ch = _chain("or", [p(0, False), p(1, True), p(2, True)])
    assert ch(None) is True and calls == [0, 1]
    # nested and/or (as macro expansion produces) flatten to the same answers
    f = compile_filter("(evt.dir = < and (evt.dir = < and (evt.dir exists and evt.num > 0)))"
                       " or (evt.num = 1 or (evt.num = 2 or evt.num = 3))", registry)
    for evt in _events(300):
        d, num = evt.record.direction, evt.num
        assert bool(f.matches(evt)) == ((d == "<" and num > 0) or num in (1, 2, 3))


def test_types_without_rules_run_nothing():
    eng = RuleEngine()
    eng.load_string("- rule: r\n  desc: d\n  condition: evt.type = execve and evt.dir = <\n"
                    "  output: o\n  priority: INFO\n")
    wanted = eng.ruleset.wanted_types("syscall")
    from scap.schema import event_types_by_name
    assert wanted == event_types_by_name("execve")


def test_generated_code_deep_nesting_and_na(registry):
    """Inlined operands keep the N/A rule (``!=`` on N/A is false) and deep nesting (past
    what is spliced into one function) still compiles and evaluates."""
    from sinsp.filter import ast

    def ne(n: int) -> ast.Compare:
        return ast.Compare(ast.FieldRef("evt.num"), "!=", ast.Value(str(n)))

    depth = 150  # built as a tree: the parser stops at 100 levels
    node: ast.Expr = ne(2)
    for i in range(depth):
        node = ast.Not(node) if i % 2 else ast.And((node, ne(1000 + i)))
    f = compile_filter(node, registry)
    nots = depth // 2
    for evt in _events(200):
        base = evt.num != 2 and all(evt.num != 1000 + i for i in range(0, depth, 2))
        assert bool(f.matches(evt)) == (base if nots % 2 == 0 else not base)
    g = compile_filter("evt.dir = < and (proc.name != zzz or evt.num = 1)", registry)
    for evt in _events(500):
        name = evt.thread.comm if evt.thread is not None else None
        want = evt.record.direction == "<" and (
            (name is not None and name != "zzz") or evt.num == 1)
        assert bool(g.matches(evt)) == want

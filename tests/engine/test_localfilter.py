"""``engine.localfilter``: what each kind of check becomes in a rule's event-local tree, the
simplifications, the enabled set followed at runtime, and precision on the rules we ship and
(with ``PYFALCO_UPSTREAM_RULES``) upstream's stable rules: an O_RDONLY open of ``/dev/null``
or of a library is FALSE for every hot open type, ``/etc/shadow`` is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from localfilter_helpers import (
    OPEN_TYPES,
    PPM_O_CREAT,
    PPM_O_RDONLY,
    PPM_O_RDWR,
    PPM_O_TRUNC,
    PPM_O_WRONLY,
    ROOT,
    TRACES,
    UPSTREAM,
    close_exit,
    evaluate,
    is_candidate,
    open_exit,
    syscall_world,
)

from engine import RuleEngine
from engine.localfilter import rule_local_filter
from scap.testing import EventBuilder
from sinsp import Inspector
from sinsp import localpred as lp
from sinsp.localpred import UNKNOWN, And, Const, Not, Or, Pred, Tri

FALSE, TRUE = Const(False), Const(True)


def _engine(conditions: dict[str, str], lists: str = "") -> RuleEngine:
    text = lists
    for name, cond in conditions.items():
        text += (f"\n- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n"
                 f"  priority: WARNING\n")
    eng = RuleEngine(hostname="h")
    res = eng.load_string(text)
    assert res.successful, res.as_string(True)
    return eng


def _one(cond: str, t: int = 307, lists: str = "") -> lp.Node:
    return _engine({"r": cond}, lists).local_filters([t])[t]


# -- what a check becomes --------------------------------------------------------------------


def test_type_checks_fold_to_constants() -> None:
    assert _one("evt.type = openat and evt.dir = <") == TRUE
    assert _one("evt.type = openat and evt.dir = >") == FALSE
    assert _one("evt.type in (open, openat) and syscall.type = openat") == TRUE
    assert _one("evt.type in (open, openat) and syscall.type != openat", t=307) == FALSE
    assert _one("evt.type in (open, openat) and syscall.type = open", t=3) == TRUE
    # a rule not indexed under the type is not there at all
    assert _one("evt.type = execve and evt.dir = <") == FALSE
    assert _engine({"a": "evt.type = execve", "b": "evt.type = connect"}).local_filters(
        [307, 5]) == {307: FALSE, 5: FALSE}


def test_local_fields_become_preds_with_compiled_values() -> None:
    lists = "- list: secrets\n  items: [/etc/shadow, \"/etc/my file\"]\n"
    assert _one("evt.type = openat and fd.name in (secrets, /x)", lists=lists) == Pred(
        "fd.name", "in", ("/etc/shadow", "/etc/my file", "/x"))
    assert _one("evt.type = openat and fd.name = '/etc/a b'") == Pred("fd.name", "=",
                                                                       ("/etc/a b",))
    assert _one("evt.type = openat and fd.name == /etc/a") == Pred("fd.name", "=", ("/etc/a",))
    assert _one("evt.type = openat and evt.is_open_write = true") == Pred(
        "evt.is_open_write", "=", (True,))
    assert _one("evt.type = openat and evt.is_open_exec != false") == Pred(
        "evt.is_open_exec", "!=", (False,))
    assert _one("evt.type = openat and fd.num in (1, 0x10)") == Pred("fd.num", "in", (1, 16))
    assert _one("evt.type = openat and evt.rawres >= 0") == Pred("evt.rawres", ">=", (0,))
    assert _one("evt.type = openat and fd.directory pmatch (/etc, /root)") == Pred(
        "fd.directory", "pmatch", ("/etc", "/root"))
    assert _one("evt.type = openat and fd.filename intersects (a, b)") == Pred(
        "fd.filename", "in", ("a", "b"))
    for op in ("startswith", "endswith", "contains", "glob", "!="):
        assert _one(f"evt.type = openat and fd.nameraw {op} /x") == Pred("fd.nameraw", op,
                                                                         ("/x",))
    for op in ("<", "<=", ">", ">="):  # strings compare as text, whatever they look like
        assert _one(f"evt.type = openat and fd.typechar {op} 5") == Pred("fd.typechar", op,
                                                                         ("5",))


@pytest.mark.parametrize("check", [
    "proc.name = bash",                       # state
    "tolower(fd.name) = /etc/x",              # transformer
    "fd.name icontains /ETC",                 # operator outside localpred.OPS
    "fd.name regex '/etc/.*'",
    "fd.name exists",
    "fd.name = val(fd.nameraw)",              # field against field
    "proc.aname[2] = bash",                   # field argument
    "evt.arg.flags contains O_TRUNC",         # event field, but not one localpred knows
    "fd.num = 1.5",                           # a literal the compiler reads as a float
    "evt.num = 3",
])  # fmt: skip
def test_anything_else_is_unknown(check: str) -> None:
    assert _one(f"evt.type = openat and {check}") == UNKNOWN


def test_never_true_is_false() -> None:
    # Falco's never_true macro: the inspector numbers events from 1
    assert _one("evt.type = openat and evt.num = 0") == FALSE
    assert _one("evt.type = openat and evt.num != 0") == TRUE
    if TRACES.is_dir():
        nums = [e.num for e in Inspector.from_capture(TRACES / "cat_write.scap")]
        assert nums and min(nums) == 1


def test_empty_lists_on_single_valued_fields_are_false() -> None:
    lists = "- list: empty\n  items: []\n"
    assert _one("evt.type = openat and proc.name in (empty)", lists=lists) == FALSE
    assert _one("evt.type = openat and fd.directory pmatch (empty)", lists=lists) == FALSE
    assert _one("evt.type = openat and not proc.name in (empty) and fd.num = 1",
                lists=lists) == Pred("fd.num", "=", (1,))
    # a list-valued field (every ancestor) or a transformer: left to the full evaluation
    assert _one("evt.type = openat and proc.aname in (empty)", lists=lists) == UNKNOWN
    assert _one("evt.type = openat and tolower(proc.name) in (empty)", lists=lists) == UNKNOWN


def test_close_exits_know_only_the_result_and_fd() -> None:
    assert _one("evt.type = close and evt.rawres < 0", t=5) == Pred("evt.rawres", "<", (0,))
    assert _one("evt.type = close and fd.num = 3", t=5) == Pred("fd.num", "=", (3,))
    assert _one("evt.type = close and fd.name = /etc/x", t=5) == UNKNOWN
    assert _one("evt.type = close and fd.typechar = f", t=5) == UNKNOWN
    # and an open field on a type that is neither: nothing is local there
    assert _one("evt.type = read and fd.name = /etc/x", t=7) == UNKNOWN


def test_rules_without_a_type_restriction_are_included() -> None:
    eng = _engine({"r": "fd.name startswith /etc and proc.name = cat"})
    got = eng.local_filters([307, 5, 3])
    assert got[307] == got[3] == And((Pred("fd.name", "startswith", ("/etc",)), UNKNOWN))
    assert got[5] == UNKNOWN


def test_simplification_keeps_the_false_verdict() -> None:
    # an exception on state: the 'not' of something unknown is unknown, the rest stays
    assert _one("evt.type = openat and fd.name startswith /etc and not "
                "(proc.name = x and fd.name = /etc/y)") == And(
        (Pred("fd.name", "startswith", ("/etc",)), UNKNOWN))
    # an exception on the record alone stays a test
    assert _one("evt.type = openat and fd.name startswith /etc and not fd.name = /etc/y") == \
        And((Pred("fd.name", "startswith", ("/etc",)), Not(Pred("fd.name", "=", ("/etc/y",)))))
    # a positive 'or' with an unknown operand can never be FALSE
    assert _one("evt.type = openat and (fd.name = /a or proc.name = x)") == UNKNOWN
    # under 'not', an 'or' with an unknown operand still decides when the other holds
    assert _one("evt.type = openat and not (fd.name = /a or proc.name = x)") == Not(
        Or((Pred("fd.name", "=", ("/a",)), UNKNOWN)))
    # an 'and' with a FALSE operand is FALSE, whatever else it holds
    assert _one("evt.type = openat and evt.dir = > and proc.name = x") == FALSE
    assert _one("evt.type = openat and not not fd.num = 1") == Pred("fd.num", "=", (1,))
    # duplicate operands (shared macros) appear once, nested and/or are flattened
    eng = _engine({"a": "evt.type = openat and fd.num >= 0 and fd.name = /a",
                   "b": "evt.type = openat and fd.num >= 0 and (fd.name = /a)"})
    assert eng.local_filters([307])[307] == And((Pred("fd.num", ">=", (0,)),
                                                Pred("fd.name", "=", ("/a",))))


def test_follows_enable_disable_and_priority_at_runtime() -> None:
    eng = _engine({"a": "evt.type = openat and fd.name = /a",
                   "b": "evt.type in (openat, close) and fd.num = 1"})
    both = Or((Pred("fd.name", "=", ("/a",)), Pred("fd.num", "=", (1,))))
    assert eng.local_filters([307])[307] == both
    eng.enable("b", enabled=False)
    assert eng.local_filters([307, 5]) == {307: Pred("fd.name", "=", ("/a",)), 5: FALSE}
    eng.enable("a", enabled=False)
    assert eng.local_filters([307]) == {307: FALSE}
    eng.enable()
    assert eng.local_filters([307])[307] == both
    eng.set_min_priority("ERROR")  # both rules are WARNING
    assert eng.local_filters([307, 5]) == {307: FALSE, 5: FALSE}


def test_rule_local_filter_is_per_rule() -> None:
    eng = _engine({"a": "evt.type = openat and fd.name = /a", "b": "evt.type = close"})
    assert rule_local_filter(eng.rule("a"), 307) == Pred("fd.name", "=", ("/a",))
    assert rule_local_filter(eng.rule("b"), 5) == TRUE


# -- precision on real rules -------------------------------------------------------------


def _rule_sets() -> list[Any]:
    sets = [pytest.param([ROOT / "rules" / "falco_rules.yaml"], id="ours")]
    if UPSTREAM and Path(UPSTREAM, "falco_rules.yaml").is_file():
        sets.append(pytest.param([Path(UPSTREAM, "falco_rules.yaml")], id="upstream-stable"))
    return sets


@pytest.fixture(scope="module")
def world() -> tuple[Inspector, tuple[int, ...]]:
    """An inspector holding syscall.scap's processes; the tids of its main threads."""
    if not TRACES.is_dir():
        pytest.skip("shared traces not available")
    return syscall_world()


@pytest.mark.parametrize("files", _rule_sets())
def test_precision_of_the_hot_opens(files: list[Path],
                                    world: tuple[Inspector, tuple[int, ...]]) -> None:
    eng = RuleEngine(hostname="h")
    assert eng.load_files(files).successful
    eng.rule_matching = "all"
    trees = eng.local_filters((*OPEN_TYPES, 5))
    assert trees[5] == FALSE  # neither ruleset has a close rule
    insp, tids = world
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    seen: dict[tuple[int, str, int], set[Tri]] = {}
    for t in OPEN_TYPES:
        for path, flags in [("/dev/null", PPM_O_RDONLY), ("/usr/lib/x.so", PPM_O_RDONLY),
                            ("/usr/lib/x86_64-linux-gnu/libc.so.6", PPM_O_RDONLY),
                            ("/etc/ld.so.cache", PPM_O_RDONLY), ("/dev/null", PPM_O_RDWR),
                            ("/etc/shadow", PPM_O_RDONLY), ("/etc/shadow", PPM_O_WRONLY),
                            ("/var/log/syslog", PPM_O_WRONLY | PPM_O_TRUNC)]:
            for tid in tids:
                evt = insp.process(open_exit(b, t, tid, 9, path, flags, 0o644
                                             if flags & PPM_O_CREAT else 0))
                assert evt is not None and is_candidate(evt)
                v = evaluate(trees[t], evt)
                seen.setdefault((t, path, flags), set()).add(v)
                if eng.process(evt):
                    assert v is not Tri.FALSE
                insp.process(close_exit(b, tid, 9))
    may_match = {k: Tri.FALSE if v == {Tri.FALSE} else Tri.UNKNOWN for k, v in seen.items()}
    for t in OPEN_TYPES:
        # the bench storm and everyday library loads: nothing to evaluate
        assert may_match[(t, "/dev/null", PPM_O_RDONLY)] is Tri.FALSE
        assert may_match[(t, "/usr/lib/x.so", PPM_O_RDONLY)] is Tri.FALSE
        assert may_match[(t, "/usr/lib/x86_64-linux-gnu/libc.so.6", PPM_O_RDONLY)] is Tri.FALSE
        assert may_match[(t, "/etc/ld.so.cache", PPM_O_RDONLY)] is Tri.FALSE
        assert may_match[(t, "/dev/null", PPM_O_RDWR)] is Tri.FALSE
    # the opens the sensitive-file and log rules are about stay for the full evaluation on
    # the types sinsp reads open flags of (creat has none: evt.is_open_read/write false);
    # openat2 among them, as in sysdig 0.29.3 (an /etc/shadow read through it must alert)
    for t in (3, 307, 327):
        assert may_match[(t, "/etc/shadow", PPM_O_RDONLY)] is not Tri.FALSE
        assert may_match[(t, "/var/log/syslog", PPM_O_WRONLY | PPM_O_TRUNC)] is not Tri.FALSE


def test_to_text_and_the_debug_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.localfilter import main, to_text

    tree = _one("evt.type = openat and (fd.name in (/a, 'b c') or fd.num > 2) and "
                "not evt.is_open_write = true and proc.name = x")
    assert to_text(tree) == ('(fd.name in (/a, "b c") or fd.num > 2) and '
                             'not evt.is_open_write = true and ?')
    assert main([str(ROOT / "rules" / "falco_rules.yaml")]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["5"] == "false" and "fd.name" in lines["307"]


def test_the_hot_paths_types_are_all_known_here() -> None:
    """Every type the live hot path may absorb has its local fields here (a type missing
    would only get UNKNOWN trees: sound, but never absorbed)."""
    from engine.localfilter import CLOSE_EXIT_TYPES, OPEN_EXIT_TYPES
    from sinsp import hotpath

    assert hotpath.HOT_TYPES <= OPEN_EXIT_TYPES | CLOSE_EXIT_TYPES
    assert frozenset({5}) == CLOSE_EXIT_TYPES
    assert {3, 59, 307, 327} <= OPEN_EXIT_TYPES

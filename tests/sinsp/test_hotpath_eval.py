"""The hot path's evaluators: C (``sinsp._hotpath_native``) equals the Python reference
(``sinsp.hotpath.evaluate``) on generated trees and candidates; the reference's Pred verdicts
equal ``sinsp.filter``'s full evaluation of the same check on the Event the record becomes;
C absorbs exactly the candidates ``sinsp.localpred`` defines."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hotpath_helpers import FakeRing, close_exit, open_exit, processes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scap.testing import EventBuilder
from sinsp import Inspector, hotpath
from sinsp.filter import ast, compile_filter
from sinsp.hotpath import View, evaluate, is_candidate_path
from sinsp.localpred import FIELDS, And, Const, Not, Or, Pred, Tri, Unknown

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

OPEN_TYPES = (3, 307, 327, 59)
STRING_FIELDS = ("fd.name", "fd.nameraw", "fd.directory", "fd.filename", "fd.typechar",
                 "fd.type")
NUMBER_FIELDS = ("fd.num", "evt.rawres")
BOOL_FIELDS = ("evt.is_open_read", "evt.is_open_write", "evt.is_open_exec")
ALL_OPS = ("=", "!=", "in", "startswith", "endswith", "contains", "glob", "pmatch", "<",
           "<=", ">", ">=")


def test_extension_is_built() -> None:
    """CI builds sinsp._hotpath_native (setup.py's glob of sinsp/_cffi_src/build_*.py)."""
    assert hotpath.available(), hotpath.import_error()


def test_fields_cover_localpred() -> None:
    assert set(STRING_FIELDS + NUMBER_FIELDS + BOOL_FIELDS) == set(FIELDS)


# -- strategies ------------------------------------------------------------------------------

_component = st.text(alphabet="ab.x-_", min_size=1, max_size=4)
candidate_paths = st.lists(_component, min_size=1, max_size=4).map(
    lambda cs: "/" + "/".join(cs)).filter(is_candidate_path)
_words = st.one_of(candidate_paths, _component, st.sampled_from(
    ["", "/", "a", "/a", "/ab/", "ab/", "f", "d", "file", "directory", "x.", "//a"]))
_globs = st.text(alphabet="ab/*?[]!^-\\.x", max_size=8)
_numbers = st.one_of(st.integers(-3, 12), st.sampled_from(
    ["3", "-1", "0x4", "3.0", "3.5", "junk", "1e1", " 5 "]))
_bools = st.sampled_from([True, False, "true", "false", "yes", 1])


@st.composite
def preds(draw: Any) -> Pred:
    field = draw(st.sampled_from(sorted(FIELDS)))
    op = draw(st.sampled_from(ALL_OPS))
    if field in STRING_FIELDS:
        value = _globs if op == "glob" else _words
    elif field in NUMBER_FIELDS:
        value = _numbers
    else:
        value = _bools
    n = draw(st.integers(1, 3)) if op in ("in", "pmatch") else 1
    return Pred(field, op, tuple(draw(value) for _ in range(n)))


leaves = st.one_of(preds(), preds(), st.builds(Const, st.booleans()), st.just(Unknown()))
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.lists(kids, max_size=4).map(lambda xs: And(tuple(xs))),
    st.lists(kids, max_size=4).map(lambda xs: Or(tuple(xs))),
    kids.map(Not)), max_leaves=12)

_flags = st.integers(0, 0xFFFF) | st.sampled_from([1, 2, 3, 1 | 1024, 4 | 2, 8192 | 2])
_modes = st.sampled_from([0, 0o644, 0o755, 0o100, 0o001])


@st.composite
def views(draw: Any) -> View:
    if draw(st.integers(0, 4)) == 0:
        return View(5, fd=draw(st.integers(-2, 12)), res=draw(st.integers(-9, 3)),
                    is_close=True)
    return View(draw(st.sampled_from(OPEN_TYPES)), path=draw(candidate_paths),
                flags=draw(_flags), mode=draw(_modes), fd=draw(st.integers(0, 12)))


# -- C == reference ----------------------------------------------------------------------------

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees, st.lists(views(), min_size=1, max_size=6))
def test_c_equals_reference(tree: Any, vs: list[View]) -> None:
    prog = hotpath.compile_program({t: tree for t in hotpath.HOT_TYPES})
    assert prog is not None
    for v in vs:
        assert prog.eval_view(v) == evaluate(tree, v), (tree, v)


@pytest.mark.parametrize(("pattern", "text"), [
    ("*", "/a"), ("/a*", "/ab"), ("/a?c", "/abc"), ("[!a]*", "/x"), ("[]a]", "]"),
    ("[a-c]x", "bx"), ("\\*", "*"), ("[", "["), ("a\\", "a\\"), ("*b*b", "/abab"),
    ("[^/]*", "/"), ("[z-a]", "a"), ("*.so", "/usr/lib/x.so"), ("/etc/*", "/etc/a/b"),
])
def test_glob_corner_cases(pattern: str, text: str) -> None:
    tree = Pred("fd.name", "glob", (pattern,))
    prog = hotpath.compile_program({307: tree})
    assert prog is not None
    v = View(307, path=text if text.startswith("/") else "/" + text, flags=1, fd=3)
    assert prog.eval_view(v) == evaluate(tree, v)


def test_deep_tree_is_never_absorbed() -> None:
    tree: Any = Const(False)
    for _ in range(300):
        tree = Not(Not(tree))
    prog = hotpath.compile_program({307: tree, 5: Const(False)})
    assert prog is not None
    assert prog.types == frozenset({5})
    assert prog.eval_view(View(307, path="/a", fd=3)) is Tri.UNKNOWN


# -- reference == sinsp.filter on real Events -----------------------------------------------

def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _filter(p: Pred) -> Any:
    from sinsp.fields import REGISTRY

    if p.op in ("in", "pmatch"):
        rhs: Any = ast.ListValue(tuple(ast.Value(_text(v), True) for v in p.values))
    else:
        rhs = ast.Value(_text(p.values[0]), True)
    return compile_filter(ast.Compare(ast.FieldRef(p.field), p.op, rhs), REGISTRY)


def _event(v: View) -> Any:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    insp = Inspector(FakeRing([], processes()))
    if v.is_close:
        rec = close_exit(b, 100, v.fd, v.res)
    else:
        rec = open_exit(b, v.type, 100, v.fd, v.path, v.flags, v.mode)
    evt = insp.process(rec)
    assert evt is not None
    return evt


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preds(), views())
def test_reference_agrees_with_sinsp_filter(p: Pred, v: View) -> None:
    verdict = evaluate(p, v)
    if verdict is Tri.UNKNOWN:
        return
    try:
        flt = _filter(p)
    except Exception:  # sinsp.filter refuses the check: no rule can hold it
        return
    assert flt.matches(_event(v)) is (verdict is Tri.TRUE), (p, v)


# -- which records C absorbs -----------------------------------------------------------------

PATHS = ["/tmp/a", "/etc/passwd", "/a", "/tmp/.hidden", "/tmp/..x", "rel", "/tmp//a",
         "/tmp/./a", "/tmp/../a", "/tmp/a/", "/tmp/.", "/tmp/..", "/", "", "/tmp/\u00e9",
         "/tmp/a\tb", "/tmp/\x7f"]


def _classify(recs: list[Any], filters: Any) -> list[int]:
    """Indexes of the records C absorbs, through the real batch loop."""
    src = FakeRing([recs], processes())
    insp = Inspector(src)
    insp.set_hotpath(filters)
    seen = {evt.record.raw for evt in insp}
    return [i for i, r in enumerate(recs) if r.raw not in seen]


@pytest.mark.parametrize("etype", OPEN_TYPES)
def test_absorbs_exactly_the_candidates(etype: int) -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs, expect = [], []
    for k, path in enumerate(PATHS):
        for fd in (4, -2):
            recs.append(open_exit(b, etype, 100, fd, path, 1))
            if fd >= 0 and is_candidate_path(path):
                expect.append(len(recs) - 1)
        recs.append(close_exit(b, 100, 4, -k))
        expect.append(len(recs) - 1)
    assert _classify(recs, {etype: Const(False), 5: Const(False)}) == expect


def test_short_or_odd_layouts_are_forwarded() -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    ino = struct.pack("<Q", 1)
    recs = [
        b.build("SYSCALL_OPENAT_2_X", [3, -100, "/tmp/a", 1, 0, 2049], tid=100),  # no ino
        b.build("SYSCALL_CLOSE_X", [0], tid=100),  # 0.29.3 layout: no fd
        b.build("SYSCALL_OPENAT_2_X", [3, -100, "/tmp/a", 1, 0, 2049, ino, b"x"], tid=100),
        b.build("SYSCALL_OPENAT_X", [5], tid=100),  # the old openat exit
        open_exit(b, 307, 100, 6, "/tmp/b", 1),
    ]
    assert _classify(recs, {t: Const(False) for t in (*hotpath.HOT_TYPES, 103)}) == [4]

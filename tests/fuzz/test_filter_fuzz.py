"""Fuzz invariant for the filter parser (h11 style): any string gives an AST or a
FilterSyntaxError, never another exception; and printing an AST back parses to the same AST."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinsp.filter import FilterSyntaxError, parse, to_text
from sinsp.filter.ast import Expr

# text biased toward the language's own tokens, so the fuzzer reaches deep productions
TOKENS = [
    "proc.name", "fd.name", "evt.arg[0]", "proc.aname[", "]", "(", ")", "not ", "not(",
    " and ", " or ", "and(", "=", "==", "!=", "<", ">=", " contains ", " glob ", " in ",
    " pmatch ", " intersects ", " exists", "tolower(", "val(", "b64(", "len(", ",", " ",
    "\t", "\n", '"', "'", "\\", "bash", "/etc/passwd", "0x1f", "-3", "1.5e+3", "my_macro",
]  # fmt: skip
token_text = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)
any_text = st.one_of(st.text(max_size=80), token_text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        node = parse(text)
    except FilterSyntaxError as e:
        assert 0 <= e.pos <= len(text)
        assert e.line >= 1 and e.col >= 1
        return
    assert isinstance(node, Expr)
    # printing back gives text that parses to the same tree
    assert parse(to_text(node)) == node


# -- compile and evaluate: FilterCompileError or a Filter whose matches() never raises ---------

from sinsp.fields.registry import (  # noqa: E402
    ArgKind,
    FieldClassBuilder,
    FieldFlag,
    FieldRegistry,
    FieldType,
)
from sinsp.filter import FilterCompileError, compile_filter  # noqa: E402


def _registry() -> FieldRegistry:
    reg = FieldRegistry("fuzz")
    b = FieldClassBuilder("f", "fuzz fields")
    b.field("proc.name", FieldType.CHARBUF, "")(lambda e, a: e.get("s"))
    b.field("fd.name", FieldType.FSPATH, "")(lambda e, a: e.get("s"))
    b.field("evt.rawres", FieldType.INT64, "")(lambda e, a: e.get("n"))
    b.field("evt.buffer", FieldType.BYTEBUF, "")(lambda e, a: e.get("b"))
    b.field("fd.sip", FieldType.IPADDR, "")(lambda e, a: e.get("ip"))
    b.field("evt.arg", FieldType.CHARBUF, "", arg=ArgKind.KEY, flags=FieldFlag.DOT_ARG)(
        lambda e, a: e.get("s")
    )
    b.field("proc.aname", FieldType.CHARBUF, "", arg=ArgKind.INDEX,
            flags=FieldFlag.IS_LIST_WITHOUT_ARG)(
        lambda e, a: e.get("l") if a is None else None
    )  # fmt: skip
    reg.register(b.build())
    return reg


REG = _registry()
EVENTS = [
    {},
    {"s": "/etc/passwd", "n": -2, "b": b"\x00ELF", "ip": "10.0.0.1", "l": ["bash", "sshd"]},
    {"s": "", "n": 0, "b": "text", "ip": "::1", "l": []},
    {"s": 5, "n": "x", "b": None, "ip": "not-an-ip", "l": [None, 3]},  # sloppy extractors
]


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_text)
def test_compile_and_match_never_raise(text: str) -> None:
    try:
        flt = compile_filter(text, REG)
    except (FilterSyntaxError, FilterCompileError):
        return
    for evt in EVENTS:
        assert flt.matches(evt) in (True, False)


FIELDS = ["proc.name", "fd.name", "evt.rawres", "evt.buffer", "fd.sip", "evt.arg.x",
          "proc.aname", "proc.aname[1]", "tolower(proc.name)", "len(fd.name)"]  # fmt: skip
OPS = ["=", "!=", "<", ">=", "contains", "icontains", "bcontains", "startswith", "bstartswith",
       "endswith", "glob", "iglob", "regex", "in", "intersects", "pmatch", "exists"]  # fmt: skip
VALUES = ["bash", "-1", "0x10", "10.0.0.0/8", "'/etc'", "6a", "(a, b)", "(1, 2)", "()",
          "'[a-'", "val(proc.name)", "val(evt.rawres)", "'.*'"]  # fmt: skip
check = st.builds(
    lambda f, o, v: f"{f} {o}" if o == "exists" else f"{f} {o} {v}",
    st.sampled_from(FIELDS), st.sampled_from(OPS), st.sampled_from(VALUES),
)
condition = st.recursive(
    check,
    lambda kids: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", kids, kids),
        st.builds(lambda a, b: f"({a} or {b})", kids, kids),
        st.builds(lambda a: f"not {a}", kids),
    ),
    max_leaves=6,
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition)
def test_structured_conditions_compile_or_fail_cleanly(text: str) -> None:
    try:
        flt = compile_filter(text, REG)
    except (FilterSyntaxError, FilterCompileError):
        return
    for evt in EVENTS:
        assert flt.matches(evt) in (True, False)

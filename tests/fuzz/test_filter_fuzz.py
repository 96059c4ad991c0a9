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

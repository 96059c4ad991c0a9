"""The filter grammar alone (no evaluator): operators, precedence, quoting, errors.

Expected trees follow libsinsp's parser.cpp rules (see sinsp/filter/GRAMMAR.md); positions are
excluded from node equality, so trees are compared structurally, and positions separately.
"""

from __future__ import annotations

import pytest

from sinsp.filter import FilterSyntaxError, parse, to_text
from sinsp.filter.ast import (
    BINARY_OPS,
    And,
    Compare,
    FieldRef,
    Identifier,
    ListValue,
    Not,
    Or,
    Unary,
    Value,
    line_col,
    walk,
)


def cmp(field: str, op: str, value: object, arg: str | None = None) -> Compare:
    v = value if not isinstance(value, str) else Value(value)
    return Compare(FieldRef(field, arg), op, v)  # type: ignore[arg-type]


# -- every operator ---------------------------------------------------------------------------

STRING_LIKE = ["==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains",
               "startswith", "bstartswith", "endswith", "regex"]  # fmt: skip


@pytest.mark.parametrize("op", STRING_LIKE)
def test_string_operators(op: str) -> None:
    assert parse(f"proc.name {op} abc") == cmp("proc.name", op, "abc")


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_numeric_operators(op: str) -> None:
    assert parse(f"evt.rawres {op} -5") == cmp("evt.rawres", op, "-5")
    assert parse(f"evt.rawres{op}0x1F") == cmp("evt.rawres", op, "0x1F")
    assert parse(f"evt.rawres {op} 1.5e+3") == cmp("evt.rawres", op, "1.5e+3")


@pytest.mark.parametrize("op", ["in", "intersects", "pmatch"])
def test_list_operators(op: str) -> None:
    want = cmp("fd.name", op, ListValue((Value("/a"), Value("b c", True), Value("x"))))
    assert parse(f'fd.name {op} (/a, "b c", x)') == want
    assert parse(f"fd.name {op}(/a,'b c',x)") == want
    assert parse(f"fd.name {op} ()") == cmp("fd.name", op, ListValue(()))
    assert parse(f"fd.name {op} my_list") == cmp("fd.name", op, Identifier("my_list"))


def test_all_binary_operators_covered() -> None:
    assert set(BINARY_OPS) == set(STRING_LIKE) | {"<", "<=", ">", ">=", "in", "intersects",
                                                  "pmatch"}  # fmt: skip


def test_exists() -> None:
    assert parse("fd.name exists") == Unary(FieldRef("fd.name"))
    assert parse("proc.aname[2] exists") == Unary(FieldRef("proc.aname", "2"))


def test_symbolic_ops_need_no_blanks() -> None:
    assert parse("proc.name=bash") == cmp("proc.name", "=", "bash")
    assert parse("proc.name!=bash") == cmp("proc.name", "!=", "bash")
    assert parse("evt.rawres>=0") == cmp("evt.rawres", ">=", "0")


def test_word_ops_need_a_space() -> None:
    with pytest.raises(FilterSyntaxError, match="valid check operator"):
        parse("proc.name contains(x)")
    with pytest.raises(FilterSyntaxError, match="valid check operator"):
        parse("proc.name startswith\t/x")


# -- precedence and boolean structure ------------------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    assert parse("a or b and c") == Or((Identifier("a"), And((Identifier("b"), Identifier("c")))))
    assert parse("a and b or c") == Or((And((Identifier("a"), Identifier("b"))), Identifier("c")))


def test_not_binds_tighter_than_and() -> None:
    assert parse("not a and b") == And((Not(Identifier("a")), Identifier("b")))
    assert parse("not (a and b)") == Not(And((Identifier("a"), Identifier("b"))))


def test_chains_are_flat() -> None:
    assert parse("a and b and c") == And((Identifier("a"), Identifier("b"), Identifier("c")))
    assert parse("a or b or c") == Or((Identifier("a"), Identifier("b"), Identifier("c")))


def test_double_not_cancels_like_libsinsp() -> None:
    assert parse("not not a") == Identifier("a")
    assert parse("not not not a") == Not(Identifier("a"))
    assert parse("not(a)") == Not(Identifier("a"))
    assert parse("not not(a)") == Identifier("a")


def test_parentheses_and_glued_keywords() -> None:
    want = And((Identifier("a"), Or((Identifier("b"), Identifier("c")))))
    assert parse("a and(b or c)") == want
    assert parse("(a) and ((b) or (c))") == want
    assert parse("a\nand\tb") == And((Identifier("a"), Identifier("b")))


def test_not_as_identifier_when_not_followed_by_blank() -> None:
    # libsinsp: 'not' needs a blank or '(' after it, else it is an identifier
    assert parse("not") == Identifier("not")
    assert parse("nota") == Identifier("nota")
    assert parse("not.x = 1") == cmp("not.x", "=", "1")


# -- fields, args, transformers ---------------------------------------------------------------


def test_field_arguments() -> None:
    assert parse("proc.aname[2] = bash") == cmp("proc.aname", "=", "bash", "2")
    assert parse("evt.arg[0] = 3") == cmp("evt.arg", "=", "3", "0")
    assert parse('evt.arg["name"] = 3') == cmp("evt.arg", "=", "3", "name")
    assert parse("jevt.value[/user/name] = x") == cmp("jevt.value", "=", "x", "/user/name")
    assert parse("evt.arg.fd = 3") == cmp("evt.arg.fd", "=", "3")


def test_transformers() -> None:
    n = parse("tolower(basename(fd.name)) = passwd")
    assert n == Compare(FieldRef("fd.name", None, ("basename", "tolower")), "=", Value("passwd"))
    n = parse("len(proc.args) > 3")
    assert n == Compare(FieldRef("proc.args", None, ("len",)), ">", Value("3"))
    for t in ("toupper", "b64"):
        assert parse(f"{t}( proc.name ) exists") == Unary(FieldRef("proc.name", None, (t,)))


def test_rhs_fields() -> None:
    assert parse("proc.name = val(proc.pname)") == Compare(
        FieldRef("proc.name"), "=", FieldRef("proc.pname")
    )
    assert parse("proc.name != toupper(proc.aname[1])") == Compare(
        FieldRef("proc.name"), "!=", FieldRef("proc.aname", "1", ("toupper",))
    )
    assert parse("evt.rawres < val(evt.arg[0])") == Compare(
        FieldRef("evt.rawres"), "<", FieldRef("evt.arg", "0")
    )


# -- values and quoting -----------------------------------------------------------------------


def test_bare_words_as_values() -> None:
    assert parse("fd.name=/etc/passwd") == cmp("fd.name", "=", "/etc/passwd")
    assert parse("fd.name = C:\\x.y") == cmp("fd.name", "=", "C:\\x.y")
    # a bare word stops at blanks, parentheses, commas, '=' and quotes
    assert parse("(fd.name=/a)") == cmp("fd.name", "=", "/a")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"a b"', "a b"),
        ("'a b'", "a b"),
        ('"a\\"b"', 'a"b'),
        ("'it\\'s'", "it's"),
        ('"tab\\there"', "tab\there"),
        ('"x\\ny"', "x\ny"),
        ('"a\\\\b"', "a\\b"),
        ('"a\\/b"', "a/b"),
        ('""', ""),
        ("'say \"hi\"'", 'say "hi"'),
    ],
)
def test_quoted_strings(text: str, value: str) -> None:
    assert parse(f"proc.name = {text}") == cmp("proc.name", "=", Value(value, True))


@pytest.mark.parametrize("text", ['"bad \\q"', "'\\\"'", '"\\\'"'])
def test_bad_escapes(text: str) -> None:
    with pytest.raises(FilterSyntaxError, match="escape"):
        parse(f"proc.name = {text}")


def test_unterminated_string() -> None:
    with pytest.raises(FilterSyntaxError) as ei:
        parse('proc.name = "abc')
    assert ei.value.pos == 12
    # libsinsp ends a string at a quote not preceded by a backslash, so a string ending in an
    # escaped backslash never closes
    with pytest.raises(FilterSyntaxError):
        parse('proc.name = "\\\\"')


# -- errors with positions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pos", "fragment"),
    [
        ("", 0, "filter input string is empty"),
        ("   ", 3, "a '(' token, a field check, or an identifier"),
        ("proc.name", 9, "a valid check operator: one of 'exists', '<='"),
        ("proc.name = bash and", 20, "blank or '(' after 'and'"),
        ("a andb", 5, "blank or '(' after 'and'"),
        ("a orb", 4, "blank or '(' after 'or'"),
        ("a b", 2, "unexpected token 'b', expecting 'or', 'and'"),
        ("(a", 2, "a ')' token"),
        ("proc.name[", 10, "a valid field argument"),
        ("proc.name[x", 11, "a ']' token"),
        ("proc.name =", 11, "a string value or a field with a valid transformer"),
        ("evt.rawres < abc", 13, "a number value or a field with a valid transformer"),
        ("proc.name in (a,)", 16, "a string value"),
        ("proc.name in (a b)", 16, "a ')' token"),
        ("tolower(x) = 1", 8, "a field or a nested valid transformer"),
        ("proc.name = val(x)", 16, "a field within 'val' transformer"),
        ("tolower(proc.name = 1", 18, "a ')' token closing the transformer"),
        ("a and\n  proc.name", 17, "a valid check operator"),
    ],
)
def test_syntax_errors(text: str, pos: int, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as ei:
        parse(text)
    e = ei.value
    assert fragment in e.msg
    assert e.pos == pos
    assert (e.line, e.col) == line_col(text, pos)


def test_error_line_and_column() -> None:
    with pytest.raises(FilterSyntaxError) as ei:
        parse("proc.name = a and\n  fd.name ?? x")
    assert (ei.value.line, ei.value.col) == (2, 11)
    assert "line 2, column 11" in str(ei.value)


def test_depth_limit() -> None:
    parse("(" * 19 + "a" + ")" * 19)
    with pytest.raises(FilterSyntaxError, match="max depth"):
        parse("(" * 40 + "a" + ")" * 40)
    assert parse("not " * 301 + "a") == Not(Identifier("a"))


# -- positions and printing back --------------------------------------------------------------


def test_positions() -> None:
    n = parse("a and  proc.name = 'x'")
    assert isinstance(n, And)
    assert [c.pos for c in n.children] == [0, 7]
    c = n.children[1]
    assert isinstance(c, Compare)
    assert c.field.pos == 7
    assert c.value.pos == 19


ROUND_TRIP = [
    "proc.name = bash",
    "a or b and c",
    "(a or b) and not c",
    "not (a and b)",
    "not not a",
    "proc.name in (bash, 'sh', \"z s h\") and fd.name pmatch (/etc)",
    'fd.name = "with space" or fd.name = "q\\"uote"',
    "tolower(basename(fd.name)) = x and proc.name = val(proc.pname)",
    "proc.aname[2] exists or evt.arg[\"a b\"] contains x",
    "proc.name = \"\" and fd.name = '('",
    "len(proc.args) > 0x10 and evt.rawres <= -1",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_to_text_round_trip(text: str) -> None:
    n = parse(text)
    again = to_text(n)
    assert parse(again) == n
    assert to_text(parse(again)) == again


def test_walk_visits_everything() -> None:
    n = parse("a and (proc.name in (x, y) or not fd.name exists)")
    kinds = [type(x).__name__ for x in walk(n)]
    assert kinds == ["And", "Identifier", "Or", "Compare", "FieldRef", "ListValue", "Value",
                     "Value", "Not", "Unary", "FieldRef"]  # fmt: skip


def test_real_falco_conditions_parse() -> None:
    # shapes taken from falco_rules.yaml: macros, lists, multi-line, nested parens
    texts = [
        "evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' "
        "and fd.num>=0",
        "(evt.type in (rename, renameat, renameat2) and evt.dir=<) or (evt.type = mkdir)",
        "spawned_process and container and shell_procs and proc.pname exists and\n"
        "  not proc.pname in (shell_binaries, gitlab_binaries, docker_binaries)",
        "fd.sip.name in (allowed_hosts) and fd.snet in (rfc_1918_addresses)",
        "proc.cmdline contains \"jndi:ldap\" or evt.buffer bcontains 6a6e6469",
        "fd.directory in (/bin, /sbin) or fd.name startswith /usr/bin/",
    ]
    for t in texts:
        assert parse(t) is not None

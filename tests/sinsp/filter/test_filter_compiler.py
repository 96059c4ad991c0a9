"""The compiler against a tiny fake registry and dict events: operator semantics per type,
N/A handling, multi-valued fields, transformers, right-hand fields, compile errors."""

from __future__ import annotations

from typing import Any

import pytest

from sinsp.fields.registry import (
    ArgKind,
    FieldClassBuilder,
    FieldFlag,
    FieldRegistry,
    FieldType,
)
from sinsp.filter import FilterCompileError, FilterSyntaxError, compile_filter, parse
from sinsp.filter.compiler import glob_to_regex


def _make_registry() -> FieldRegistry:
    reg = FieldRegistry("test")
    b = FieldClassBuilder("t", "fields over dict events")

    def simple(name: str, ftype: FieldType, key: str, **kw: Any) -> None:
        b.field(name, ftype, key, **kw)(lambda e, a, key=key: e.get(key))

    simple("proc.name", FieldType.CHARBUF, "name")
    simple("proc.pname", FieldType.CHARBUF, "pname")
    simple("fd.name", FieldType.FSPATH, "fd")
    simple("evt.type", FieldType.CHARBUF, "type")
    simple("evt.rawres", FieldType.INT64, "res")
    simple("evt.count", FieldType.UINT64, "count")
    simple("evt.latency", FieldType.RELTIME, "lat")
    simple("evt.is_open_write", FieldType.BOOL, "w")
    simple("evt.buffer", FieldType.BYTEBUF, "buf")
    simple("evt.textbuf", FieldType.BYTEBUF, "textbuf")  # a buffer handed back as text
    simple("fd.sip", FieldType.IPADDR, "sip")
    simple("fd.snet", FieldType.IPNET, "sip")
    simple("ka.groups", FieldType.CHARBUF, "groups", flags=FieldFlag.IS_LIST)

    @b.field("proc.aname", FieldType.CHARBUF, "ancestors", arg=ArgKind.INDEX,
             flags=FieldFlag.IS_LIST_WITHOUT_ARG)  # fmt: skip
    def _aname(e: dict[str, Any], arg: int | None) -> Any:
        chain = e.get("chain")
        if chain is None:
            return None
        if arg is None:
            return chain[1:]
        return chain[arg] if arg < len(chain) else None

    @b.field("evt.arg", FieldType.CHARBUF, "args", arg=ArgKind.KEY,
             flags=FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG)  # fmt: skip
    def _arg(e: dict[str, Any], arg: str) -> Any:
        return e.get("args", {}).get(arg)

    reg.register(b.build())
    return reg


REG = _make_registry()

BASH = {
    "name": "bash", "pname": "sshd", "fd": "/etc/passwd", "type": "open", "res": -2,
    "count": 10, "lat": 1500, "w": True, "buf": b"GET /jndi:ldap", "sip": "10.1.2.3",
    "groups": ["system:masters", "system:authenticated"], "chain": ["bash", "sshd", "systemd"],
    "args": {"fd": "3", "name": "/tmp/x"}, "textbuf": ".ELF..",
}  # fmt: skip
EMPTY: dict[str, Any] = {}


def m(text: str, evt: dict[str, Any] = BASH) -> bool:
    return compile_filter(text, REG).matches(evt)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("proc.name = bash", True),
        ("proc.name == bash", True),
        ("proc.name != bash", False),
        ("proc.name = BASH", False),
        ("proc.name contains as", True),
        ("proc.name icontains AS", True),
        ("proc.name startswith ba", True),
        ("proc.name endswith sh", True),
        ("proc.name endswith ba", False),
        ("proc.pname > val(proc.name)", True),  # strcmp order
        ("proc.name in (zsh, bash)", True),
        ("proc.name in (zsh)", False),
        ("proc.name intersects (bash)", True),
        ("proc.name glob 'b*h'", True),
        ("proc.name glob 'B*'", False),
        ("proc.name iglob 'B*'", True),
        ("fd.name glob '/etc/*'", True),
        ("fd.name glob '*passwd'", True),  # '*' crosses '/' (fnmatch without FNM_PATHNAME)
        ("fd.name glob '/etc/pass[vw]d'", True),
        ("fd.name glob '/etc/pass[!w]d'", False),
        ("fd.name glob '/etc/pass?d'", True),
        ("proc.name regex 'ba.h'", True),
        ("proc.name regex 'as'", False),  # whole-value match, as RE2 ANCHOR_BOTH
        ("proc.name regex '.*as.*'", True),
        ("fd.name pmatch (/etc)", True),
        ("fd.name pmatch (/etc/)", True),
        ("fd.name pmatch (/et)", False),
        ("fd.name pmatch (/usr, /etc/passwd)", True),
        ("fd.name pmatch (/)", True),
        ("proc.name bcontains 6173", True),  # hex of "as"
        ("proc.name bstartswith 6261", True),  # "ba"
        ("proc.name bstartswith 6173", False),
        ("proc.name exists", True),
        ("proc.name = val(proc.name)", True),
        ("proc.name = val(proc.pname)", False),
        ("proc.name != val(proc.pname)", True),
        ("proc.pname < val(proc.name)", False),
        ("proc.name contains val(proc.aname[0])", True),
    ],
)
def test_string_semantics(text: str, want: bool) -> None:
    assert m(text) is want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("evt.rawres = -2", True),
        ("evt.rawres != -2", False),
        ("evt.rawres < 0", True),
        ("evt.rawres <= -2", True),
        ("evt.rawres > -3", True),
        ("evt.rawres >= -1", False),
        ("evt.rawres in (1, -2, 3)", True),
        ("evt.rawres in (1, 2)", False),
        ("evt.count = 0xa", True),
        ("evt.count > 0x9", True),
        ("evt.count = 10.0", True),
        ("evt.count < 1e+3", True),
        ("evt.latency >= 1500", True),
        ("evt.count > val(evt.rawres)", True),
        ("evt.rawres = 2 or evt.count = 10", True),
    ],
)
def test_numeric_semantics(text: str, want: bool) -> None:
    assert m(text) is want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("evt.is_open_write = true", True),
        ("evt.is_open_write = false", False),
        ("evt.is_open_write != false", True),
        ("fd.sip = 10.1.2.3", True),
        ("fd.sip = 10.1.2.4", False),
        ("fd.sip != 10.1.2.4", True),
        ("fd.snet = 10.0.0.0/8", True),
        ("fd.snet = 192.168.0.0/16", False),
        ("fd.snet in (192.168.0.0/16, 10.1.0.0/16)", True),
        ("fd.sip in (10.1.2.3, ::1)", True),
        ("evt.buffer contains jndi", True),
        ("evt.buffer bcontains 6a6e6469", True),
        ("evt.buffer startswith GET", True),
        ("evt.buffer = 'GET /jndi:ldap'", True),
        ("evt.textbuf contains ELF", True),
        ("evt.textbuf bcontains 454c46", True),
        ("evt.textbuf startswith ELF", False),
    ],
)
def test_bool_ip_bytes_semantics(text: str, want: bool) -> None:
    assert m(text) is want


@pytest.mark.parametrize(
    "text",
    [
        "proc.name = bash",
        "proc.name != bash",  # N/A makes even != false (libsinsp compare_nocache)
        "evt.rawres < 0",
        "evt.rawres != 5",
        "proc.name in (bash)",
        "proc.name glob '*'",
        "proc.name exists",
        "proc.aname = bash",
        "ka.groups intersects (x)",
        "tolower(proc.name) != x",
        "proc.name = val(proc.pname)",
    ],
)
def test_missing_value_is_false(text: str) -> None:
    assert m(text, EMPTY) is False


def test_not_of_missing_value_is_true() -> None:
    assert m("not proc.name = bash", EMPTY) is True
    assert m("not proc.name exists", EMPTY) is True
    # rhs N/A
    assert m("proc.name != val(proc.pname)", {"name": "x"}) is False


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # IS_LIST: 'in' = every value in the set, 'intersects' = any value
        ("ka.groups in (system:masters, system:authenticated, other)", True),
        ("ka.groups in (system:masters)", False),
        ("ka.groups intersects (system:masters)", True),
        ("ka.groups intersects (nope)", False),
        ("ka.groups = system:masters", True),  # any element
        ("ka.groups exists", True),
        ("len(ka.groups) = 2", True),
        ("toupper(ka.groups) intersects (SYSTEM:MASTERS)", True),
        # IS_LIST_WITHOUT_ARG (proc.aname): any ancestor, for every operator
        ("proc.aname = systemd", True),
        ("proc.aname = bash", False),  # aname without index starts at the parent
        ("proc.aname in (sshd)", True),
        ("proc.aname startswith sys", True),
        ("proc.aname[0] = bash", True),
        ("proc.aname[1] = sshd", True),
        ("proc.aname[2] in (init, systemd)", True),
        ("proc.aname[7] exists", False),
    ],
)
def test_multi_valued_fields(text: str, want: bool) -> None:
    assert m(text) is want


def test_empty_list_is_na() -> None:
    evt = dict(BASH, groups=[])
    assert m("ka.groups exists", evt) is False
    assert m("ka.groups in (a)", evt) is False


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("tolower(proc.name) = bash", True),
        ("toupper(proc.name) = BASH", True),
        ("basename(fd.name) = passwd", True),
        ("toupper(basename(fd.name)) = PASSWD", True),
        ("len(proc.name) = 4", True),
        ("len(fd.name) > 10", True),
        ("b64(evt.arg.b) = hello", True),
        ("b64(evt.arg.bad) exists", False),  # undecodable base64 -> N/A
        ("proc.name = tolower(evt.arg.up)", True),
    ],
)
def test_transformers(text: str, want: bool) -> None:
    evt = dict(BASH, args={"b": "aGVsbG8=", "bad": "@@@", "up": "BASH"})
    assert m(text, evt) is want


@pytest.mark.parametrize(
    ("path", "want"),
    [("/etc", True), ("/etc/", True), ("//etc//passwd", True), ("/etcd/x", False),
     ("/usr/lib64/x", False), ("/usr/lib/x", True), ("usr/lib", True), ("/", False)],
)  # fmt: skip
def test_pmatch_components(path: str, want: bool) -> None:
    assert m("fd.name pmatch (/etc, /usr/lib/)", dict(BASH, fd=path)) is want


def test_dotted_and_bracket_args() -> None:
    assert m("evt.arg.fd = 3")
    assert m("evt.arg[fd] = 3")
    assert m("evt.arg.name startswith /tmp")
    assert not m("evt.arg.nope exists")


def test_boolean_structure() -> None:
    assert m("proc.name = bash and (fd.name = x or evt.rawres < 0)")
    assert not m("proc.name = bash and not evt.rawres < 0")
    assert m("not not proc.name = bash")
    assert m("proc.name = x or proc.name = y or proc.name = bash")
    assert not m("proc.name = bash and evt.rawres < 0 and fd.name = x")


def test_ast_input_and_callable() -> None:
    flt = compile_filter(parse("proc.name = bash"), REG)
    assert flt(BASH) and flt.matches(BASH)
    assert flt.text == "proc.name = bash"


@pytest.mark.parametrize(
    ("text", "fragment", "pos"),
    [
        ("nope.field = 1", "nonexistent field nope.field", 0),
        ("proc.name[1] = x", "does not take an argument", 0),
        ("a and proc.name = x", "undefined macro or identifier 'a'", 0),
        ("proc.name in my_list", "undefined list 'my_list'", 13),
        ("evt.rawres = abc", "abc is not a valid number", 13),
        ("evt.rawres in (1, x)", "x is not a valid number", 18),
        ("evt.is_open_write = yes", "yes is not a valid boolean", 20),
        ("fd.sip = 1.2.3.400", "not a valid IP", 9),
        ("proc.name bcontains zz", "not a valid hex string", 20),
        ("evt.rawres contains 1", "operator 'contains' is not supported", 0),
        ("evt.is_open_write < 1", "operator '<' is not supported", 0),
        ("proc.name regex '('", "invalid regular expression", 0),
        ("basename(evt.rawres) = 1", "is not supported by 'basename'", 0),
        ("evt.arg exists", "requires an argument", 0),
        ("proc.aname[x] = 1", "numeric index", 0),
        ("proc.name = val(evt.rawres)", "incompatible type", 0),
    ],
)
def test_compile_errors(text: str, fragment: str, pos: int) -> None:
    with pytest.raises(FilterCompileError) as ei:
        compile_filter(text, REG)
    assert fragment in str(ei.value)
    assert ei.value.pos == pos


def test_syntax_error_passes_through() -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter("proc.name = ", REG)


@pytest.mark.parametrize(
    ("pattern", "s", "want"),
    [
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("[]x]", "]", True),
        ("[^a]", "b", True),
        ("[a-c]x", "bx", True),
        ("[", "[", True),
        ("*.py", "dir/x.py", True),
        (".*", ".hidden", True),
    ],
)
def test_glob_translation(pattern: str, s: str, want: bool) -> None:
    assert (glob_to_regex(pattern).fullmatch(s) is not None) is want


def test_string_order_needs_a_field_rhs() -> None:
    # '<' & co. take a number or a field in the grammar (libsinsp NumOperator)
    with pytest.raises(FilterSyntaxError):
        compile_filter("proc.name < c", REG)


def test_no_tree_walk_per_event() -> None:
    # the compiled predicate is a closure over closures: evaluating it never touches the AST
    flt = compile_filter("proc.name = bash and evt.rawres < 0", REG)
    flt.ast = None  # type: ignore[assignment]
    assert flt.matches(BASH)

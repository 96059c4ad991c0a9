"""The sysdig/Falco filter language as a pyparsing grammar (see GRAMMAR.md for the EBNF).

It mirrors libsinsp's hand-written recursive-descent parser (``filter/parser.cpp``) token for
token, including its quirks, because Falco rules are written against that parser:

* ``and``/``or`` must be followed by a blank or ``(``; ``not`` by a blank or ``(``, and an
  even number of ``not`` cancels out (``not not a`` is ``a``, as libsinsp toggles a flag);
* word operators (``contains``, ``glob``, ``startswith``...) need a space after them, the
  symbolic ones and the list operators (``in``, ``intersects``, ``pmatch``) do not;
* once a field name, an operator, ``[``, or ``and``/``or`` has been read there is no
  backtracking: a failure there is reported at that point (pyparsing's ``-`` operator);
* a quoted string ends at the first matching quote not preceded by a backslash, then escapes
  are decoded (``\\b \\f \\n \\r \\t \\\\ \\/ \\<space>`` and the delimiter itself);
* blanks are space, tab, ``\\b``, ``\\r`` and ``\\n``.

``parse(text)`` returns an AST (:mod:`sinsp.filter.ast`) or raises
:class:`~sinsp.filter.errors.FilterSyntaxError` carrying offset, line and column. No other
exception escapes it (tests/fuzz checks this).
"""

from __future__ import annotations

import functools
from typing import Any

import pyparsing as pp

from . import ast
from .errors import FilterSyntaxError

__all__ = ["MAX_DEPTH", "parse", "unescape"]

pp.ParserElement.enable_packrat()

BLANKS = " \t\b\r\n"
# libsinsp stops at a recursion depth of 100 counted over its parse_or/and/not/check frames;
# each parenthesis level costs 5 frames, so about 19 levels of nesting parse. pyparsing needs
# many more Python frames per level, so nesting is bounded up front with the same message.
MAX_DEPTH = 100
_MAX_PARENS = 19

_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   " ": "\\", "\\": "\\", "/": "/"}  # fmt: skip


def unescape(token: str) -> str:
    """Decode a quoted token (with its quotes) the way libsinsp's ``unescape_str`` does.

    Raises ``ValueError`` for an escape libsinsp rejects (the grammar reports it as a
    syntax error at the string's position).
    """
    delim = token[0]
    out: list[str] = []
    chars = iter(token[1:-1])
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        e = next(chars, "")
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
        elif e in "\"'" and e:
            if e != delim:
                other = "'" if delim == '"' else '"'
                raise ValueError(f"invalid \\{e} escape in {other}-quoted string")
            out.append(e)
        else:
            raise ValueError(f"unsupported string escape sequence: \\{e}")
    return "".join(out)


def _quoted_action(s: str, loc: int, toks: pp.ParseResults) -> ast.Value:
    try:
        return ast.Value(unescape(toks[0]), True, loc)
    except ValueError as e:
        raise pp.ParseFatalException(s, loc, str(e)) from None


def _build() -> pp.ParserElement:
    """Build the grammar with libsinsp's blank set as the whitespace to skip."""
    saved = pp.ParserElement.DEFAULT_WHITE_CHARS
    pp.ParserElement.set_default_whitespace_chars(BLANKS)
    try:
        return _grammar()
    finally:
        pp.ParserElement.set_default_whitespace_chars(saved)


def _grammar() -> pp.ParserElement:
    Regex, Literal, Suppress = pp.Regex, pp.Literal, pp.Suppress  # noqa: N806

    def glued(e: pp.ParserElement) -> pp.ParserElement:
        """A token that must follow the previous one with no blank in between."""
        return e.copy().leave_whitespace()

    # -- tokens (regexes from libsinsp parser.cpp) -------------------------------------------
    field_name = Regex(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+").set_name(
        "field name"
    )
    identifier = Regex(r"[a-zA-Z]+[a-zA-Z0-9_]*").set_name("identifier")
    quoted = Regex(r"\"[\s\S]*?(?<!\\)\"|'[\s\S]*?(?<!\\)'").set_name("quoted string")
    quoted.add_parse_action(_quoted_action)
    bare_str = Regex(r"[^()\"' \t\n\r\v\f\b=,]+").set_name("bare string")
    bare_str.add_parse_action(lambda s, loc, t: ast.Value(t[0], False, loc))
    arg_bare = Regex(r"[^\[\]\"' \t\n\r\v\f\b]+").set_name("bare string")
    hex_num = Regex(r"0[xX][0-9a-fA-F]+").set_name("hex number")
    number = Regex(r"[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?").set_name("number")
    num_value = (hex_num | number).set_name("number value")
    num_value.add_parse_action(lambda s, loc, t: ast.Value(t[0], False, loc))

    rpar = Suppress(")")
    rpar_expr = rpar.copy().set_name("a ')' token")
    rpar_xform = rpar.copy().set_name("a ')' token closing the transformer")

    # -- fields and transformers -------------------------------------------------------------
    field_arg = (glued(Suppress("["))
                 - (glued(quoted) | glued(arg_bare)).set_name(
                     "a valid field argument: a quoted string or a bare string")
                 - glued(Suppress("]")).set_name("a ']' token"))  # fmt: skip
    field = (field_name + pp.Optional(field_arg, default=None)).set_name("field")

    def field_action(s: str, loc: int, t: pp.ParseResults) -> ast.FieldRef:
        arg = t[1]
        if isinstance(arg, ast.Value):
            arg = arg.value
        return ast.FieldRef(t[0], arg, (), loc)

    field.add_parse_action(field_action)

    names = "|".join(ast.TRANSFORMERS)
    xform_open = Regex(rf"({names})\(").set_name("transformer")
    xform = pp.Forward()
    xform.set_name("field transformer")
    xform_names = ", ".join(f"'{n}'" for n in ("val", *ast.TRANSFORMERS))
    xform <<= (xform_open
               - (xform | field).set_name(f"a field or a nested valid transformer: {xform_names}")
               - rpar_xform)  # fmt: skip

    def xform_action(s: str, loc: int, t: pp.ParseResults) -> ast.FieldRef:
        name, inner = t[0][:-1], t[1]
        return ast.FieldRef(inner.name, inner.arg, (*inner.transformers, name), loc)

    xform.add_parse_action(xform_action)

    val_field = pp.MatchFirst([field]).set_name("a field within 'val' transformer")
    val = Suppress(Literal("val(")) - val_field - rpar_xform
    val.add_parse_action(lambda s, loc, t: t[0])
    xform_or_val = (val | xform).set_name("field with a valid transformer")

    # -- operators and right-hand sides -------------------------------------------------------
    unary_op = Regex(r"exists").set_name("'exists'")
    num_op = Regex(r"<=|<|>=|>").set_name("numeric operator")
    word_ops = ("glob", "iglob", "contains", "icontains", "bcontains", "startswith",
                "bstartswith", "endswith", "regex")  # fmt: skip
    str_op = Regex("==|=|!=|" + "|".join(rf"{w}(?= )" for w in word_ops)).set_name(
        "string operator"
    )
    list_op = Regex(r"intersects|in|pmatch").set_name("list operator")

    num_rhs = (xform_or_val | num_value).set_name(
        f"a number value or a field with a valid transformer: {xform_names}"
    )
    str_rhs = (xform_or_val | quoted | bare_str).set_name(
        f"a string value or a field with a valid transformer: {xform_names}"
    )
    item = (quoted | bare_str).set_name("a string value")
    items = pp.Optional(item + pp.ZeroOrMore(Suppress(",") - item))
    list_lit = Suppress("(") - pp.Group(items) - rpar_expr

    def list_action(s: str, loc: int, t: pp.ParseResults) -> ast.ListValue:
        return ast.ListValue(tuple(t[0]), loc)

    list_lit.add_parse_action(list_action)
    list_name = identifier.copy().add_parse_action(lambda s, loc, t: ast.Identifier(t[0], loc))
    list_rhs = (list_lit | xform_or_val | list_name).set_name(
        f"a list, an identifier, or a field with a valid transformer: {xform_names}"
    )

    op_names = ", ".join(f"'{o}'" for o in (*ast.UNARY_OPS, *ast.BINARY_OPS))
    condition = (
        unary_op
        | num_op - num_rhs
        | str_op - str_rhs
        | list_op - list_rhs
    ).set_name(f"a valid check operator: one of {op_names}")  # fmt: skip

    def check_action(s: str, loc: int, t: pp.ParseResults) -> ast.Expr:
        if len(t) == 2:
            return ast.Unary(t[0], t[1], loc)
        return ast.Compare(t[0], t[1], t[2], loc)

    # -- boolean structure --------------------------------------------------------------------
    expr = pp.Forward()
    expr.set_name("expression")
    paren = Suppress("(") - expr - rpar_expr
    field_check = ((field | xform) - condition).add_parse_action(check_action)
    macro_ref = identifier.copy().add_parse_action(lambda s, loc, t: ast.Identifier(t[0], loc))
    check = (paren | field_check | macro_ref).set_name(
        "a '(' token, a field check, or an identifier"
    )

    not_kw = Regex(r"not(?=[ \t\b\r\n(])").set_name("'not'")
    not_expr = pp.ZeroOrMore(not_kw) + check

    def not_action(s: str, loc: int, t: pp.ParseResults) -> ast.Expr:
        child = t[-1]
        return ast.Not(child, loc) if (len(t) - 1) % 2 else child

    not_expr.add_parse_action(not_action)

    def joiner(word: str) -> pp.ParserElement:
        what = f"blank or '(' after '{word}'"
        follow = pp.FollowedBy(glued(Regex(r"[ \t\b\r\n(]").set_name(what)))
        return Suppress(Literal(word)) - follow.set_name(what)

    and_expr = not_expr + pp.ZeroOrMore(joiner("and") - not_expr)
    and_expr.add_parse_action(lambda s, loc, t: ast.And(tuple(t), loc) if len(t) > 1 else t[0])
    or_expr = and_expr + pp.ZeroOrMore(joiner("or") - and_expr)
    or_expr.add_parse_action(lambda s, loc, t: ast.Or(tuple(t), loc) if len(t) > 1 else t[0])
    expr <<= or_expr
    return expr + pp.StringEnd().set_name("'or', 'and'")


_GRAMMAR = _build()
_GRAMMAR.parse_with_tabs()  # positions are offsets in the original text: no tab expansion


def _paren_depth(text: str) -> int:
    """Deepest nesting of parentheses outside quoted strings (a cheap pre-check)."""
    depth = best = 0
    quote = ""
    prev = ""
    for c in text:
        if quote:
            if c == quote and prev != "\\":
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
            best = max(best, depth)
        elif c == ")":
            depth -= 1
        prev = c
    return best


def _error(text: str, msg: str, pos: int) -> FilterSyntaxError:
    pos = max(0, min(pos, len(text)))
    line, col = ast.line_col(text, pos)
    return FilterSyntaxError(msg, pos, line, col, text)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> ast.Expr:
    """Parse a filter condition into an AST.

    Raises :class:`FilterSyntaxError` (with ``pos``/``line``/``col``) on any invalid input.
    Results are cached: the AST is immutable, and rule files repeat macro bodies.
    """
    if not isinstance(text, str):
        raise TypeError(f"filter text must be str, not {type(text).__name__}")
    if not text:
        raise _error(text, "filter input string is empty", 0)
    if _paren_depth(text) > _MAX_PARENS:
        raise _error(text, f"exceeded max depth limit of {MAX_DEPTH}", 0)
    try:
        result: Any = _GRAMMAR.parse_string(text, parse_all=False)
    except pp.ParseBaseException as e:
        raise _error(text, _message(text, e), e.loc) from None
    except RecursionError:
        raise _error(text, f"exceeded max depth limit of {MAX_DEPTH}", 0) from None
    out: ast.Expr = result[0]
    return out


def _message(text: str, e: pp.ParseBaseException) -> str:
    msg = e.msg
    if msg.startswith("Expected "):
        expected = msg[len("Expected ") :]
        if expected == "'or', 'and'":
            token = text[e.loc :].split(None, 1)[0] if text[e.loc :].strip() else ""
            return f"unexpected token '{token}', expecting 'or', 'and'"
        return f"expected {expected}"
    return msg


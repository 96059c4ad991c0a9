"""The filter AST: what a condition *says*, apart from how it is parsed or evaluated.

The shapes follow libsinsp's ``filter/ast.h`` (and/or/not, unary and binary checks, field and
field-transformer expressions, values, lists, identifiers) as frozen dataclasses, so that the
rule engine can rewrite trees (macro and list expansion) and compare them structurally.

Every node has ``pos``: the 0-based character offset in the condition text where it starts,
``-1`` for nodes built by code (e.g. by macro expansion). Positions are excluded from equality,
so ``parse("a and b") == And((Identifier("a"), Identifier("b")))``. ``line_col`` turns an offset
into the 1-based (line, column) pair used in error messages.

Transformers (``tolower(basename(fd.name))``) are kept on the :class:`FieldRef` in *application
order*, innermost first: ``FieldRef("fd.name", None, ("basename", "tolower"))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "BINARY_OPS",
    "LIST_OPS",
    "NUM_OPS",
    "STR_OPS",
    "TRANSFORMERS",
    "UNARY_OPS",
    "And",
    "Compare",
    "Expr",
    "FieldRef",
    "Identifier",
    "ListValue",
    "Node",
    "Not",
    "Or",
    "Unary",
    "Value",
    "line_col",
    "to_text",
    "walk",
]

UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_OPS = (
    "==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains",
    "startswith", "bstartswith", "endswith", "regex",
)  # fmt: skip
LIST_OPS = ("intersects", "in", "pmatch")
BINARY_OPS = NUM_OPS + STR_OPS + LIST_OPS
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")


def _pos() -> int:
    return field(default=-1, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all AST nodes."""


@dataclass(frozen=True, slots=True)
class Expr(Node):
    """A boolean expression (what a condition, a macro or an operand of and/or/not is)."""


@dataclass(frozen=True, slots=True)
class And(Expr):
    children: tuple[Expr, ...]
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class Or(Expr):
    children: tuple[Expr, ...]
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class Not(Expr):
    child: Expr
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class Identifier(Expr):
    """A bare word: a macro reference as a boolean operand, or a list name after ``in``."""

    name: str
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    """A field with its optional ``[arg]`` and transformers (innermost first)."""

    name: str
    arg: str | None = None
    transformers: tuple[str, ...] = ()
    pos: int = _pos()

    @property
    def full_name(self) -> str:
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass(frozen=True, slots=True)
class Value(Node):
    """A literal. ``quoted`` records whether it was written in quotes (list expansion only
    replaces bare words, as Falco's loader works on unquoted list references)."""

    value: str
    quoted: bool = False
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class ListValue(Node):
    """``(a, "b", c)``: items in order; bare items may name lists for the engine to expand."""

    items: tuple[Value, ...]
    pos: int = _pos()


# Right-hand side of a binary check: a literal, a list, a list name, or another field
# (``val(f)`` or a transformer over a field).
Operand = Value | ListValue | Identifier | FieldRef


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    field: FieldRef
    op: str
    value: Operand
    pos: int = _pos()


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    field: FieldRef
    op: str = "exists"
    pos: int = _pos()


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based (line, column) of offset ``pos`` in ``text``; ``\\r`` and ``\\n`` both end a line
    as in libsinsp's ``update_pos``."""
    line, col = 1, 1
    for ch in text[:pos]:
        if ch in "\r\n":
            line, col = line + 1, 1
        else:
            col += 1
    return line, col


def walk(node: Node) -> Iterator[Node]:
    """Yield ``node`` and every node below it, depth first, parents before children."""
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (And, Or)):
            stack.extend(reversed(n.children))
        elif isinstance(n, Not):
            stack.append(n.child)
        elif isinstance(n, Compare):
            stack.append(n.value)
            stack.append(n.field)
        elif isinstance(n, Unary):
            stack.append(n.field)
        elif isinstance(n, ListValue):
            stack.extend(reversed(n.items))


# characters a bare string may not contain (libsinsp RGX_BARESTR)
_SPECIAL = frozenset(" \t\b\r\n\f\v\"'(),=")
_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\\": "\\\\", '"': '\\"'}  # fmt: skip


def quote(s: str, force: bool = False) -> str:
    """A literal as the parser reads it back: bare when safe, else double-quoted and escaped."""
    if s and not force and not (_SPECIAL & set(s)):
        return s
    body = "".join(_ESCAPES.get(c, c) for c in s)
    if body.endswith("\\"):
        # libsinsp ends a string at the first quote not preceded by a backslash, so a trailing
        # backslash is written as the escape "\<space>", which it also reads as a backslash
        body = body[:-2] + "\\ "
    return '"' + body + '"'


def _field_text(f: FieldRef, rhs: bool) -> str:
    text = f.name
    if f.arg is not None:
        safe = f.arg and not (set(f.arg) & set(" \t\b\r\n\f\v[]\"'"))
        text += "[" + (f.arg if safe else quote(f.arg)) + "]"
    if rhs and not f.transformers:
        return f"val({text})"
    for t in f.transformers:
        text = f"{t}({text})"
    return text


def to_text(node: Node) -> str:
    """Print a node back as condition text that parses to an equal AST.

    And/Or are parenthesised when nested inside another operator, like Falco's
    ``ast::as_string``; ``not`` always parenthesises a compound operand.
    """
    if isinstance(node, Or):
        return " or ".join(_operand(c, Or) for c in node.children)
    if isinstance(node, And):
        return " and ".join(_operand(c, And) for c in node.children)
    if isinstance(node, Not):
        return "not " + _operand(node.child, Not)
    if isinstance(node, Identifier):
        return node.name
    if isinstance(node, Unary):
        return f"{_field_text(node.field, False)} {node.op}"
    if isinstance(node, Compare):
        lhs = _field_text(node.field, False)
        return f"{lhs} {node.op} {to_text(node.value)}"
    if isinstance(node, FieldRef):
        return _field_text(node, True)
    if isinstance(node, Value):
        return quote(node.value, node.quoted)
    if isinstance(node, ListValue):
        return "(" + ", ".join(quote(i.value, i.quoted) for i in node.items) + ")"
    raise TypeError(f"not a filter AST node: {node!r}")


def _operand(child: Node, parent: type) -> str:
    text = to_text(child)
    if isinstance(child, (And, Or)) and not (isinstance(child, And) and parent is Or):
        return f"({text})"
    if isinstance(child, Not) and parent is Not:
        return f"({text})"
    return text

"""The glob (POSIX ``fnmatch(pattern, s, 0)``) syntax, read once for both of its consumers:
``compiler.glob_to_regex`` (Python regexes) and ``sinsp.hotpath`` (the C hot path's glob
tokens) build their own output from these parts, so the two cannot read a pattern
differently.

``*`` and ``?`` are wildcards, ``\\`` makes the next character literal (a trailing ``\\`` is
itself literal), ``[...]`` is a bracket expression (``!`` or ``^`` negates it; a ``]`` right
after the opening, or after the negation, is a member), and a ``[`` with no closing ``]`` is a
literal.  ``/`` and leading dots are ordinary characters.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Star:
    """``*``: any run of characters."""


@dataclass(frozen=True)
class AnyChar:
    """``?``: any one character."""


@dataclass(frozen=True)
class Literal:
    """One character matched as itself."""

    char: str


@dataclass(frozen=True)
class CharClass:
    """A bracket expression: ``body`` is its text between the brackets, negation removed."""

    negated: bool
    body: str

    def regex(self) -> str:
        """The class as a Python regex bracket expression (ranges and members as the regex
        engine reads them; ``\\`` and ``[`` inside are plain members)."""
        body = self.body.replace("\\", "\\\\").replace("[", "\\[")
        return ("[^" if self.negated else "[") + body + "]"


GlobPart = Star | AnyChar | Literal | CharClass


def glob_parts(pattern: str) -> Iterator[GlobPart]:
    """``pattern`` as its parts, in order (see the module docstring for the syntax)."""
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            yield Star()
        elif c == "?":
            yield AnyChar()
        elif c == "\\" and i < n:
            yield Literal(pattern[i])
            i += 1
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal '['
                yield Literal(c)
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            yield CharClass(neg, body[1:] if neg else body)
        else:
            yield Literal(c)

"""Typed filter errors, each carrying where in the condition text the problem is.

The rule engine turns these into Falco's location chain (file -> rule -> condition -> column),
so every error keeps the 0-based offset ``pos`` and the 1-based ``line``/``col``.
"""

from __future__ import annotations

__all__ = ["FilterCompileError", "FilterError", "FilterSyntaxError"]


class FilterError(Exception):
    """Base of all filter errors."""

    def __init__(
        self, msg: str, pos: int = -1, line: int = 0, col: int = 0, text: str = ""
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos
        self.line = line
        self.col = col
        self.text = text

    def __str__(self) -> str:
        if self.pos < 0:
            return self.msg
        return f"{self.msg} at line {self.line}, column {self.col} (offset {self.pos})"


class FilterSyntaxError(FilterError):
    """The condition text does not parse (libsinsp's parser exception, with position)."""


class FilterCompileError(FilterError):
    """The condition parses but cannot be compiled: unknown field, bad argument, a literal that
    does not fit the field type, an unresolved macro or list identifier, a bad regex..."""

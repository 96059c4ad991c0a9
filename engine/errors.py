"""Engine exceptions.

Loading problems are *data* (:class:`engine.load_result.LoadResult`); exceptions are only used
inside the loader to unwind from a bad item to the file loop (:class:`ItemError`, Falco's
``rule_load_exception``) and at the public boundary when a caller asks for strictness
(:class:`RulesError`, carrying the whole result).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.load_result import Context, ErrorCode, LoadResult

__all__ = ["EngineError", "ItemError", "RulesError", "UnknownRuleError"]


class EngineError(Exception):
    """Base class of engine errors."""


class ItemError(EngineError):
    """A rules item is invalid; carries Falco's error code and the location chain."""

    def __init__(self, code: ErrorCode, message: str, context: Context) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context

    def __str__(self) -> str:
        loc = self.context.last
        return f"{loc.name}:{loc.line}:{loc.column}: {self.code.name}: {self.message}"


class RulesError(EngineError):
    """Rules could not be loaded; ``result`` says why and where."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__(result.as_string(verbose=True))
        self.result = result


class UnknownRuleError(EngineError, KeyError):
    """A rule name given to the API (e.g. ``explain``) is not loaded."""

    def __str__(self) -> str:
        return f"unknown rule: {self.args[0]!r}"

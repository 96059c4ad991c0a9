"""The collector: the rules, macros and lists seen so far, with append/override applied.

Mirrors Falco's ``rule_loader::collector``.  Each definition gets an *index* (its first
definition order) and a *visibility* (the order of its latest definition/append/override):
a macro or list can only refer to macros/lists whose index is below its own visibility, which
is how Falco makes "defined later" references errors while still allowing a redefinition to
use items defined in between.  Rules see every macro.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import ItemError
from engine.load_result import Context, ErrorCode, WarningCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.priority import Priority

__all__ = [
    "Collector",
    "ExceptionEntry",
    "ExceptionInfo",
    "ListInfo",
    "MacroInfo",
    "RuleInfo",
    "RuleUpdate",
]

_T = TypeVar("_T")

# Operators the filter grammar accepts (libsinsp parser::supported_operators()).
LIST_OPERATORS = frozenset({"in", "intersects", "pmatch"})
OPERATORS = frozenset({
    "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith",
    "bstartswith", "endswith", "glob", "iglob", "regex", "exists",
}) | LIST_OPERATORS

ERROR_NO_PREVIOUS_MACRO = ("Macro uses 'append' or 'override.condition: append' but no macro by "
                           "that name already exists")
ERROR_NO_PREVIOUS_LIST = ("List uses 'append' or 'override.items: append' but no list by that "
                          "name already exists")
ERROR_NO_PREVIOUS_RULE_APPEND = ("Rule uses 'append' or 'override.<key>: append' but no rule by "
                                 "that name already exists")
ERROR_NO_PREVIOUS_RULE_REPLACE = ("An 'override.<key>: replace' to a rule was requested but no "
                                  "rule by that name already exists")


#: Rule texts an append extends (after a space) when it gives them.
_APPENDED_TEXT = ("cond", "output", "desc")


def _fail(message: str, ctx: Context) -> ItemError:
    return ItemError(ErrorCode.LOAD_ERR_VALIDATE, message, ctx)


def _existing(table: dict[str, _T], name: str, message: str, ctx: Context) -> _T:
    """The item an append/override/enable refers to, or the validation error `message`."""
    prev = table.get(name)
    if prev is None:
        raise _fail(message, ctx)
    return prev


def _replace(prev: RuleInfo, upd: RuleUpdate, keys: tuple[str, ...]) -> None:
    """Copy the `keys` an override gives (not None) from `upd` onto `prev`, in order."""
    for key in keys:
        value = getattr(upd, key)
        if value is not None:
            setattr(prev, key, value)


@dataclass(slots=True)
class ExceptionEntry:
    """A ``fields``/``comps``/``values`` entry: a scalar (``item``) or a list (``items``)."""

    is_list: bool = False
    item: str = ""
    items: list[ExceptionEntry] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.items) if self.is_list else bool(self.item)


@dataclass(slots=True)
class ExceptionInfo:
    ctx: Context
    name: str
    fields: ExceptionEntry = field(default_factory=ExceptionEntry)
    comps: ExceptionEntry = field(default_factory=ExceptionEntry)
    values: list[ExceptionEntry] = field(default_factory=list)


@dataclass(slots=True)
class ListInfo:
    ctx: Context
    name: str
    items: list[str]
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class MacroInfo:
    ctx: Context
    cond_ctx: Context
    name: str
    cond: str
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class RuleInfo:
    ctx: Context
    cond_ctx: Context
    output_ctx: Context
    name: str
    cond: str = ""
    output: str = ""
    desc: str = ""
    priority: Priority | None = None
    source: str = "syscall"
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    tags: list[str] = field(default_factory=list)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class RuleUpdate:
    """An append or a selective replace; ``None`` means "key not given"."""

    ctx: Context
    name: str
    cond: str | None = None
    cond_ctx: Context | None = None
    output: str | None = None
    desc: str | None = None
    tags: list[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: Priority | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None

    def has_any_value(self) -> bool:
        return any(v is not None for v in (
            self.cond, self.output, self.desc, self.tags, self.exceptions, self.priority,
            self.enabled, self.warn_evttypes, self.skip_if_unknown_filter))


class Collector:
    """Accumulates items from all rules files, in load order."""

    def __init__(self, field_defined: Callable[[str, str], bool | None],
                 warn: Callable[[WarningCode, str, Context], None]) -> None:
        # field_defined(source, field) -> True/False, or None when the source is unknown
        self._field_defined = field_defined
        self._warn = warn
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.required_engine_version: tuple[int, int, int] = (0, 0, 0)
        self.required_plugin_versions: list[list[tuple[str, str]]] = []
        self._cur = 0

    def _next(self) -> int:
        self._cur += 1
        return self._cur - 1

    # -- lists and macros ---------------------------------------------------------------

    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info)

    def append_list(self, info: ListInfo) -> None:
        prev = _existing(self.lists, info.name, ERROR_NO_PREVIOUS_LIST, info.ctx)
        prev.items.extend(info.items)
        prev.visibility = self._next()

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info)

    def append_macro(self, info: MacroInfo) -> None:
        prev = _existing(self.macros, info.name, ERROR_NO_PREVIOUS_MACRO, info.ctx)
        prev.cond += " " + info.cond
        prev.visibility = self._next()

    def _define(self, table: dict[str, Any], info: ListInfo | MacroInfo | RuleInfo) -> None:
        cur = self._next()
        prev = table.get(info.name)
        if prev is not None:
            info.index = prev.index
            info.visibility = cur
        else:
            info.index = info.visibility = cur
        table[info.name] = info

    # -- rules --------------------------------------------------------------------------

    def define_rule(self, info: RuleInfo) -> None:
        prev = self.rules.get(info.name)
        if prev is not None and prev.source != info.source:
            raise _fail("Rule has been re-defined with a different source", info.ctx)
        known = self._field_defined(info.source, "") is not None
        if not known:
            info.unknown_source = True
            self._warn(WarningCode.LOAD_UNKNOWN_SOURCE, f"Unknown source {info.source}, skipping",
                       info.ctx)
        for ex in info.exceptions:
            if not ex.fields.valid:
                raise _fail("Rule exception item must have fields property with a list of fields",
                            ex.ctx)
            self._validate_exception(info.source if known else None, ex)
        self._define(self.rules, info)

    def append_rule(self, upd: RuleUpdate) -> None:
        prev = _existing(self.rules, upd.name, ERROR_NO_PREVIOUS_RULE_APPEND, upd.ctx)
        if not upd.has_any_value():
            raise _fail("Appended rule must have exceptions or condition property", upd.ctx)
        source = None if prev.unknown_source else prev.source
        for key in _APPENDED_TEXT:
            text = getattr(upd, key)
            if text:
                setattr(prev, key, getattr(prev, key) + " " + text)
        if upd.tags is not None:
            for t in upd.tags:
                if t not in prev.tags:
                    prev.tags.append(t)
        for ex in upd.exceptions or ():
            old = next((e for e in prev.exceptions if e.name == ex.name), None)
            if old is None:
                if not ex.fields.valid:
                    raise _fail("Rule exception must have fields property with a list of fields",
                                ex.ctx)
                if not ex.values:
                    raise _fail("Rule exception must have values property with a list of values",
                                ex.ctx)
                self._validate_exception(source, ex)
                prev.exceptions.append(ex)
            else:
                if ex.fields.valid:
                    raise _fail("Can not append exception fields to existing exception, only "
                                "values", ex.ctx)
                if ex.comps.valid:
                    raise _fail("Can not append exception comps to existing exception, only "
                                "values", ex.ctx)
                old.values.extend(ex.values)
        prev.visibility = self._next()

    def replace_rule(self, upd: RuleUpdate) -> None:
        prev = _existing(self.rules, upd.name, ERROR_NO_PREVIOUS_RULE_REPLACE, upd.ctx)
        if not upd.has_any_value():
            raise _fail("The rule must have at least one field that can be replaced", upd.ctx)
        if upd.cond is not None:
            prev.cond = upd.cond
            if upd.cond_ctx is not None:
                prev.cond_ctx = upd.cond_ctx
        _replace(prev, upd, ("output", "desc"))
        if upd.tags is not None:
            prev.tags = list(upd.tags)
        if upd.exceptions is not None:
            source = None if prev.unknown_source else prev.source
            for ex in upd.exceptions:
                self._validate_exception(source, ex)
            prev.exceptions = list(upd.exceptions)
        _replace(prev, upd, ("priority", "enabled", "warn_evttypes", "skip_if_unknown_filter"))
        prev.visibility = self._next()

    def enable_rule(self, name: str, enabled: bool, ctx: Context) -> None:
        prev = _existing(self.rules, name,
                         "Rule has 'enabled' key but no rule by that name already exists", ctx)
        prev.enabled = enabled

    def _validate_exception(self, source: str | None, ex: ExceptionInfo) -> None:
        if ex.fields.is_list:
            if not ex.comps.valid:
                ex.comps = ExceptionEntry(True, "", [ExceptionEntry(False, "=")
                                                     for _ in ex.fields.items])
            if len(ex.fields.items) != len(ex.comps.items):
                raise _fail("Fields and comps lists must have equal length", ex.ctx)
            for c in ex.comps.items:
                if c.item not in OPERATORS:
                    raise _fail(f"'{c.item}' is not a supported comparison operator", ex.ctx)
            if source is not None:
                for f in ex.fields.items:
                    if not self._field_defined(source, f.item):
                        raise _fail(f"'{f.item}' is not a supported filter field", ex.ctx)
        else:
            if not ex.comps.valid:
                ex.comps = ExceptionEntry(False, "in")
            if ex.comps.is_list:
                raise _fail("Fields and comps must both be strings", ex.ctx)
            if ex.comps.item not in LIST_OPERATORS:
                raise _fail("When fields is a single value, comps must be one of (in, pmatch, "
                            "intersects)", ex.ctx)
            if source is not None and not self._field_defined(source, ex.fields.item):
                raise _fail(f"'{ex.fields.item}' is not a supported filter field", ex.ctx)

"""``RuleEngine``: the public face of the rule engine (load, select, match, format, explain).

Loading follows Falco: files are read in order into one collector (so a later file can append
to or override items of an earlier one), then everything is compiled; each call returns a
:class:`LoadResult` with one entry per file, errors and warnings attributed to the file they
point into.  Reading stops at the first file with an error, as Falco exits there.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from engine.collector import Collector
from engine.compiler import CompiledRule, compile_all
from engine.errors import RulesError, UnknownRuleError
from engine.explain import Explanation, explain_rule
from engine.formats import Alert, event_ts, format_time
from engine.load_result import (
    Context,
    ErrorCode,
    LoadError,
    LoadResult,
    LoadWarning,
    RulesFileResult,
    WarningCode,
)
from engine.priority import Priority
from engine.reader import read_rules
from engine.ruleset import RuleMatch, Ruleset, _event_type

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["RuleEngine"]


def _default_registries() -> dict[str, Any]:
    """sinsp's registries, after importing every field module (importing registers them)."""
    import importlib
    import pkgutil

    import sinsp.fields as fields_pkg
    from sinsp.fields.registry import REGISTRIES

    for mod in pkgutil.iter_modules(fields_pkg.__path__):
        importlib.import_module(f"sinsp.fields.{mod.name}")
    return REGISTRIES


class RuleEngine:
    """Load Falco rules files and run them on events of one or more sources.

    ``registries`` maps a source name (``"syscall"``, ``"k8s_audit"``) to its field registry;
    rules whose ``source`` has no registry get Falco's LOAD_UNKNOWN_SOURCE warning and are
    skipped.  By default the registries of :mod:`sinsp.fields` are used.
    """

    def __init__(self, registries: dict[str, Any] | None = None, *,
                 hostname: str | None = None) -> None:
        self._registries = registries
        self.hostname = hostname or socket.gethostname()
        self.time_format_iso_8601 = False
        self._rule_matching = "first"
        self._min_priority = Priority.DEBUG
        self._contents: dict[str, str] = {}
        self._collector: Collector | None = None
        self.ruleset = Ruleset(())
        self._explain_cache: dict[str, dict[int, Any]] = {}

    # -- configuration ------------------------------------------------------------------

    @property
    def registries(self) -> dict[str, Any]:
        if self._registries is None:
            self._registries = _default_registries()
        return self._registries

    @property
    def rule_matching(self) -> str:
        return self._rule_matching

    @rule_matching.setter
    def rule_matching(self, value: str) -> None:
        v = str(value).lower()
        if v not in ("first", "all"):
            raise ValueError(f"Unknown rule_matching value: {value} (expected first or all)")
        self._rule_matching = v
        self.ruleset.match_all = v == "all"

    def set_min_priority(self, priority: Priority | str | int) -> None:
        """Rules less severe than this are not evaluated (Falco's ``priority`` setting)."""
        if isinstance(priority, str):
            p = Priority.parse(priority)
            if p is None:
                raise ValueError(f"Unknown priority value: {priority}")
            priority = p
        self._min_priority = Priority(int(priority))
        self.ruleset.min_priority = self._min_priority
        self.ruleset.invalidate()

    def treat_as_generic(self, syscalls: Iterable[str]) -> None:
        """Tell the engine its source records these syscalls as the generic event (see
        :attr:`Ruleset.generic_syscalls`); kept across rule reloads."""
        self.ruleset.generic_syscalls = syscalls

    def set_time_format_iso_8601(self, enabled: bool) -> None:
        self.time_format_iso_8601 = bool(enabled)

    # -- loading ------------------------------------------------------------------------

    def _field_defined(self, source: str, name: str) -> bool | None:
        reg = self.registries.get(source)
        if reg is None:
            return None
        return True if not name else name in reg

    def load_files(self, paths: Iterable[str | os.PathLike[str]]) -> LoadResult:
        """Load rules files (directories: their ``*.yaml``/``*.yml`` files in name order)."""
        items: list[tuple[str, str | None]] = []
        for p in paths:
            p = os.fspath(p)
            if os.path.isdir(p):
                for n in sorted(os.listdir(p)):
                    full = os.path.join(p, n)
                    if os.path.isfile(full) and n.endswith((".yaml", ".yml")):
                        items.append((full, None))
            else:
                items.append((p, None))
        return self._load(items)

    def load_string(self, content: str, name: str = "rules.yaml") -> LoadResult:
        """Load rules from a string (``name`` is used in locations)."""
        return self._load([(name, content)])

    def load_strict(self, paths: Iterable[str | os.PathLike[str]]) -> LoadResult:
        """Like :meth:`load_files` but raises :class:`RulesError` if loading failed."""
        res = self.load_files(paths)
        if not res.successful:
            raise RulesError(res)
        return res

    def _load(self, items: list[tuple[str, str | None]]) -> LoadResult:
        result = LoadResult(contents=self._contents)
        if self._collector is None:
            self._collector = Collector(self._field_defined, lambda *a: None)
        col = self._collector
        current: list[RulesFileResult] = []

        def warn(code: WarningCode, msg: str, ctx: Context) -> None:
            target = next((f for f in current if f.name == ctx.name), current[-1])
            target.warnings.append(LoadWarning(code, msg, ctx))

        def error(code: ErrorCode, msg: str, ctx: Context) -> None:
            target = next((f for f in current if f.name == ctx.name), current[-1])
            target.errors.append(LoadError(code, msg, ctx))

        col._warn = warn
        ok = True
        for name, content in items:
            fr = RulesFileResult(name)
            current.append(fr)
            result.files.append(fr)
            if content is None:
                try:
                    with open(name, encoding="utf-8", errors="surrogateescape") as fh:
                        content = fh.read()
                except OSError as e:
                    fr.errors.append(LoadError(ErrorCode.LOAD_ERR_FILE_READ,
                                               f"Could not open file {name} for reading: "
                                               f"{e.strerror}", Context.root(name)))
                    ok = False
                    break
            self._contents[name] = content
            if not read_rules(content, name, col, warn, error):
                ok = False
                break
        if ok and current:
            from sinsp.filter import compile_filter, parse

            rules = compile_all(col, self.registries, parse, compile_filter, warn, error)
            if all(f.successful for f in current):
                self._install(rules)
        return result

    def _install(self, rules: list[CompiledRule]) -> None:
        old_enabled = self.ruleset.enabled
        rs = Ruleset(rules)
        rs.min_priority = self._min_priority
        rs.match_all = self._rule_matching == "all"
        rs.generic_syscalls = self.ruleset.generic_syscalls
        for name, en in old_enabled.items():
            if name in rs.enabled and not en:
                rs.enabled[name] = en
        self.ruleset = rs
        self._explain_cache.clear()

    # -- selection ----------------------------------------------------------------------

    def enable(self, pattern: str | None = None, tags: Iterable[str] | None = None,
               enabled: bool = True, match: str = "wildcard", source: str | None = None) -> int:
        """Enable or disable rules by name pattern and/or tags (see :meth:`Ruleset.enable`)."""
        return self.ruleset.enable(pattern, tags, enabled, match, source)

    def is_enabled(self, name: str) -> bool:
        return self.ruleset.enabled.get(name, False)

    @property
    def rules(self) -> list[CompiledRule]:
        return list(self.ruleset.rules)

    def rule(self, name: str) -> CompiledRule:
        try:
            return self.ruleset.by_name[name]
        except KeyError:
            raise UnknownRuleError(name) from None

    def enabled_rules(self, source: str | None = None) -> list[CompiledRule]:
        return [r for r in self.ruleset.rules if self.ruleset._active(r)
                and (source is None or r.source == source)]

    def wanted_types(self, source: str = "syscall") -> frozenset[int]:
        """Event types an enabled rule of ``source`` may match: ``process`` returns ``[]`` for
        every other type, so event loops may skip calling it."""
        return self.ruleset.wanted_types(source)

    def local_filters(self, event_types: Iterable[int],
                      source: str = "syscall") -> dict[int, Any]:
        """Per event type, what the enabled rules say about a record of that type alone: a
        ``sinsp.localpred`` tree that is FALSE only for records no rule can match (see
        :mod:`engine.localfilter`); computed from the current enabled set on each call."""
        from engine.localfilter import local_filters

        return local_filters(self.ruleset, event_types, source)

    # -- matching and output ------------------------------------------------------------

    def process(self, evt: Any, source: str = "syscall") -> list[RuleMatch]:
        """The rules that match ``evt`` (at most one with ``rule_matching: first``)."""
        return self.ruleset.matches(evt, source)

    def format_alert(self, match: RuleMatch, evt: Any) -> Alert:
        rule = match.compiled
        ts = event_ts(evt)
        prefix = format_time(ts, self.time_format_iso_8601) + ": " + rule.priority.text()
        message = rule.formatter.render(evt)
        fields = rule.formatter.values(evt)
        key = "evt.time.iso8601" if self.time_format_iso_8601 else "evt.time"
        fields[key] = ts
        return Alert(time=ts, priority=rule.priority, rule=rule.name, source=rule.source,
                     output=prefix + " " + message, message=message, output_fields=fields,
                     tags=rule.tags, hostname=self.hostname)

    def explain(self, rule_name: str, evt: Any) -> Explanation:
        """Which parts of ``rule_name``'s condition held for ``evt``, with field values."""
        from sinsp.filter import compile_filter

        rule = self.rule(rule_name)
        cache = self._explain_cache.setdefault(rule_name, {})
        evt_type = _event_type(evt) if rule.source == "syscall" else None
        return explain_rule(rule, evt, evt_type, self.registries[rule.source], compile_filter,
                            cache)

"""The ruleset: compiled rules indexed by event type, with enable/disable and matching.

Falco's ``evttype_index_ruleset``: every syscall rule knows the event types its condition can
match (from the compiled filter), so an event only runs the rules of its type; rules without a
restriction run on every event.  The per-type lists keep rule (load) order, which decides the
winner with ``rule_matching: first``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.priority import Priority

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.compiler import CompiledRule

__all__ = ["RuleMatch", "Ruleset"]


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule whose condition held for an event."""

    rule: str
    priority: Priority
    source: str
    tags: tuple[str, ...]
    compiled: CompiledRule = field(repr=False, compare=False)


def _match_name(name: str, pattern: str, how: str) -> bool:
    if how == "exact":
        return name == pattern
    if how == "substring":
        return pattern in name
    return fnmatch.fnmatchcase(name, pattern)


class Ruleset:
    """Rules of all sources; ``matches(evt, source)`` is the hot path.

    With ``fused`` (the default) the rules of one event type run as one generated function
    (``sinsp.filter.fused``: each field extracted once per event, checks inline); with
    ``fused = False`` each rule's own condition closure runs in turn.  Both give the same
    matches in the same order (``tests/engine/test_fused.py``)."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules: list[CompiledRule] = list(rules)
        self.by_name: dict[str, CompiledRule] = {r.name: r for r in self.rules}
        self.enabled: dict[str, bool] = {r.name: r.enabled for r in self.rules}
        self.min_priority = Priority.DEBUG
        self._match_all = False
        self._fused = True
        self.errors = 0  # per-event evaluation failures (counted, never raised)
        #: rule name -> its first evaluation failure (``Type: message``), for reporting
        self.error_samples: dict[str, str] = {}
        self._by_type: dict[tuple[str, int], tuple[CompiledRule, ...]] = {}
        self._untyped: dict[str, tuple[CompiledRule, ...]] = {}
        # source -> list indexed by event type of the function that runs that type's rules
        # (None = not built yet): the hot path is one list index and one call.  Each rule's
        # condition is specialised to the type first (its evt.type tests folded away; rules
        # it rules out are left out).
        self._tables: dict[str, list[Callable[[Any], list[RuleMatch]] | None]] = {}
        self._checks_untyped: dict[tuple[str, int], tuple[tuple[Any, CompiledRule], ...]] = {}
        self._generic_names: frozenset[str] = frozenset()

    @property
    def match_all(self) -> bool:
        return self._match_all

    @match_all.setter
    def match_all(self, value: bool) -> None:
        self._match_all = bool(value)
        self._tables.clear()  # the fused functions stop at the first match or not

    @property
    def fused(self) -> bool:
        return self._fused

    @fused.setter
    def fused(self, value: bool) -> None:
        self._fused = bool(value)
        self._tables.clear()

    @property
    def generic_syscalls(self) -> frozenset[str]:
        return self._generic_names

    @generic_syscalls.setter
    def generic_syscalls(self, names: Iterable[str]) -> None:
        """Syscalls the event source records as the generic event (types 0/1, the syscall
        named by its ID param) although they have a dedicated event type: the rules naming
        them run on the generic types too, where ``evt.type`` still compares by name.  A live
        probe without a filler for a syscall is such a source."""
        self._generic_names = frozenset(names)
        self.invalidate()

    def _names_generic(self, r: CompiledRule) -> bool:
        """Whether ``r`` waits for a type of one of ``generic_syscalls``."""
        if not self._generic_names or r.event_types is None:
            return False
        from scap import schema

        return any(schema.event_name(t) in self._generic_names for t in r.event_types)

    def _active(self, r: CompiledRule) -> bool:
        return self.enabled[r.name] and r.priority <= self.min_priority

    def invalidate(self) -> None:
        self._by_type.clear()
        self._untyped.clear()
        self._tables.clear()
        self._checks_untyped.clear()

    def _table(self, source: str) -> list[Callable[[Any], list[RuleMatch]] | None]:
        table = self._tables.get(source)
        if table is None:
            from sinsp.filter.compiler import event_type_universe

            table = self._tables[source] = [None] * event_type_universe()
        return table

    def _checks(self, source: str, evt_type: int) -> tuple[tuple[Any, CompiledRule], ...]:
        """(check, rule) pairs for ``evt_type``: ``check`` is the condition specialised to
        the type, or the rule's own ``filter.matches``; rules the type rules out are left
        out."""
        out: list[tuple[Any, CompiledRule]] = []
        for r in self.for_type(source, evt_type):
            flt = r.filter
            spec = getattr(flt, "for_type", None)
            check = spec(evt_type) if spec is not None else flt.matches
            if check is False:
                continue
            if check is True:
                check = _always
            out.append((check, r))
        return tuple(out)

    def _runner(self, source: str, evt_type: int) -> Callable[[Any], list[RuleMatch]]:
        """The function running ``evt_type``'s rules, built once per type."""
        run: Callable[[Any], list[RuleMatch]]
        if self._fused:
            run = self._fused_runner(source, evt_type)
        else:
            checks = self._checks(source, evt_type)
            run = (lambda evt: self._run_checks(checks, evt)) if checks else _no_match
        table = self._table(source)
        if 0 <= evt_type < len(table):
            table[evt_type] = run
        return run

    def _fused_runner(self, source: str, evt_type: int) -> Callable[[Any], list[RuleMatch]]:
        from sinsp.filter.fused import fuse
        from sinsp.filter.specialize import fold_for_type

        items: list[tuple[Any, Any]] = []
        registry = None
        for r in self.for_type(source, evt_type):
            flt = r.filter
            reg = getattr(flt, "registry", None)
            if reg is not None and registry is None:
                registry = reg
            if reg is not None and reg is registry and getattr(flt, "ast", None) is not None:
                cond: Any = fold_for_type(flt, evt_type)
            else:  # a filter of another kind: its own (specialised) predicate
                spec = getattr(flt, "for_type", None)
                cond = spec(evt_type) if spec is not None else flt.matches
            if cond is False:
                continue
            if cond is True:
                cond = _always
            items.append((cond, RuleMatch(r.name, r.priority, r.source, r.tags, r)))
        if not items:
            return _no_match
        return fuse(items, registry, first=not self._match_all, on_error=self._count_error)

    def _count_error(self, result: Any, exc: Exception) -> None:
        self.errors += 1
        name = result.rule if isinstance(result, RuleMatch) else getattr(result, "name", "?")
        if name not in self.error_samples and len(self.error_samples) < 64:
            # the first failure of each rule is kept, so a user learns which rule a bug or
            # a malformed event silences (Falco logs such evaluation errors)
            self.error_samples[name] = f"{type(exc).__name__}: {exc}"

    def _untyped_checks(self, source: str) -> tuple[tuple[Any, CompiledRule], ...]:
        """(check, rule) pairs for events without a type (other sources), built once."""
        key = (source, -1)
        got = self._checks_untyped.get(key)
        if got is None:
            got = self._checks_untyped[key] = tuple(
                (r.filter.matches, r) for r in self.for_type(source, None))
        return got

    def wanted_types(self, source: str = "syscall") -> frozenset[int]:
        """Event types at least one active rule of ``source`` may match (from the rules'
        ``event_types``; a superset of the types whose checks survive specialisation)."""
        from sinsp.filter.compiler import event_type_universe

        return frozenset(t for t in range(event_type_universe()) if self.for_type(source, t))

    def enable(self, pattern: str | None = None, tags: Iterable[str] | None = None,
               enabled: bool = True, match: str = "wildcard", source: str | None = None) -> int:
        """Enable/disable rules by name pattern and/or tags; returns how many were touched.

        ``match`` is ``"wildcard"`` (``*``/``?``, Falco's ``rules:`` config), ``"substring"``
        (the old ``-D``) or ``"exact"``.  With tags, a rule qualifies if it has any of them.
        With neither pattern nor tags, every rule qualifies.
        """
        tagset = set(tags) if tags is not None else None
        n = 0
        for r in self.rules:
            if source is not None and r.source != source:
                continue
            if pattern is not None and not _match_name(r.name, pattern, match):
                continue
            if tagset is not None and not tagset.intersection(r.tags):
                continue
            self.enabled[r.name] = enabled
            n += 1
        self.invalidate()
        return n

    def for_type(self, source: str, evt_type: int | None) -> tuple[CompiledRule, ...]:
        if evt_type is None:
            got = self._untyped.get(source)
            if got is None:
                got = self._untyped[source] = tuple(
                    r for r in self.rules if r.source == source and self._active(r))
            return got
        key = (source, evt_type)
        got = self._by_type.get(key)
        if got is None:
            got = self._by_type[key] = tuple(
                r for r in self.rules if r.source == source and self._active(r)
                and (r.event_types is None or evt_type in r.event_types
                     or (evt_type in (0, 1) and self._names_generic(r))))
        return got

    def matches(self, evt: Any, source: str = "syscall") -> list[RuleMatch]:
        """Matching rules in load order (one with ``rule_matching: first``)."""
        if source == "syscall":
            try:
                evt_type = evt.record.type
            except AttributeError:
                evt_type = _event_type(evt)
            if evt_type is not None:
                table = self._tables.get(source)
                if table is None:
                    table = self._table(source)
                run = table[evt_type] if 0 <= evt_type < len(table) else None
                if run is None:
                    run = self._runner(source, evt_type)
                return run(evt)
        return self._run_checks(self._untyped_checks(source), evt)

    def _run_checks(self, checks: tuple[tuple[Any, CompiledRule], ...],
                    evt: Any) -> list[RuleMatch]:
        """The per-rule path: each rule's check in turn."""
        out: list[RuleMatch] | None = None
        for check, r in checks:
            try:
                ok = check(evt)
            except Exception as exc:  # a malformed event never stops the stream
                self._count_error(r, exc)
                continue
            if ok:
                m = RuleMatch(r.name, r.priority, r.source, r.tags, r)
                if not self._match_all:
                    return [m]
                if out is None:
                    out = [m]
                else:
                    out.append(m)
        return out if out is not None else []


def _no_match(evt: Any) -> list[RuleMatch]:
    return []


def _always(evt: Any) -> bool:
    return True


def _event_type(evt: Any) -> int | None:
    rec = getattr(evt, "record", None)
    if rec is not None:
        return int(rec.type)
    t = getattr(evt, "type", None)
    return t if isinstance(t, int) else None

"""A rules reload made on an event the batch loop forwards *after all* (``_forward_one``: an
absorbable open by a thread without an fd table) must stop the batch's stale verdicts, as a
reload on any other forwarded event does (``hotpath.live_events``: the rest of a batch
classified with the old trees is forwarded).  Found by review of the live hot path (#6); the
second half drives pyfalco's own loop over a prepared ring (SIGHUP handled on that event)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hotpath_helpers import FakeRing, open_exit, processes, read_exit

from scap.testing import EventBuilder
from sinsp import Inspector, hotpath
from sinsp.localpred import UNKNOWN, Const

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

NOTHING = {t: Const(False) for t in hotpath.HOT_TYPES}   # old rules: absorb every candidate
EVERYTHING = {t: UNKNOWN for t in hotpath.HOT_TYPES}     # new rules: may match any of them
ORPHAN = 301  # hotpath_helpers.processes: a CLONE_FILES thread of an unknown process


def _consume(first: Any) -> list[bytes]:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    batch = [first(b),                                   # the event the consumer reloads on
             open_exit(b, 307, 200, 6, "/etc/shadow")]   # must be seen by the new rules
    insp = Inspector(FakeRing([batch], processes()))
    assert insp.set_hotpath(NOTHING)
    seen = []
    for evt in insp:
        seen.append(evt.record.raw)
        assert insp.set_hotpath(EVERYTHING)   # SIGHUP handled on this event
    return seen


def test_reload_on_an_ordinary_forwarded_event_reaches_the_rest_of_the_batch() -> None:
    assert len(_consume(lambda b: read_exit(b, 200, 3))) == 2


def test_reload_on_an_event_forwarded_after_all_reaches_the_rest_of_the_batch() -> None:
    # the orphan's open is absorbable (FALSE) but has no fd table: forwarded by _forward_one
    seen = _consume(lambda b: open_exit(b, 307, ORPHAN, 5, "/tmp/a"))
    assert len(seen) == 2, "the /etc/shadow open was absorbed under the pre-reload rules"


def _app_case(tmp_path: Path, first: Any) -> Any:
    from tests.drivers.test_hotpath_review_app import RULE, _run, _storm

    b = EventBuilder(ts=1_700_000_000_000_000_000)
    batches = [_storm(b, 50),
               [first(b), *_storm(b, 20), open_exit(b, 307, 100, 6, "/etc/shadow", 1)]]

    def hooks(s: Any, rules: Path, ring: Any) -> dict[int, Any]:
        def hup() -> None:
            rules.write_text(RULE.format(path="/etc/shadow"))
            s.signals._on_reload(1, None)
        return {1: hup}   # arrives while batch 1 is drained: handled on its first event

    s, _ring, _ = _run(tmp_path, batches, hooks)
    assert s.reloads == 1
    return s.by_rule["shadow opened"]


def test_pyfalco_reload_on_an_ordinary_forwarded_event(tmp_path: Path) -> None:
    assert _app_case(tmp_path, lambda b: read_exit(b, 200, 3)) == 1


def test_pyfalco_reload_on_an_event_forwarded_after_all(tmp_path: Path) -> None:
    got = _app_case(tmp_path, lambda b: open_exit(b, 307, ORPHAN, 5, "/tmp/a", 1))
    assert got == 1, "the /etc/shadow open after the SIGHUP was absorbed with the old verdicts"

"""Review of pyfalco's live loop with the hot path, without a driver: ``_open_source`` returns
an ``Inspector`` over a prepared live source (``hotpath_helpers.FakeRing``, the real
``RingSource`` raw-batch API), everything else is the app's own.  While a storm is absorbed
(no event reaches the loop): a SIGHUP that makes a rule match /etc/shadow takes effect from the
next batch (the shadow read there alerts), SIGINT ends the run at the batch it arrives in, and
``Captured Events`` counts every record, absorbed ones included."""

from __future__ import annotations

import io
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from scap.testing import EventBuilder
from sinsp import Inspector, hotpath

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sinsp"))
from hotpath_helpers import FakeRing, close_exit, open_exit, processes

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

RULE = """- rule: shadow opened
  desc: d
  condition: evt.type in (open, openat, openat2) and fd.name = {path}
  output: "shadow opened (file=%fd.name)"
  priority: WARNING
"""


def _storm(b: EventBuilder, n: int, tid: int = 100) -> list[Any]:
    out = []
    for _ in range(n):
        out += [open_exit(b, 307, tid, 5, "/dev/null", 1), close_exit(b, tid, 5)]
    return out


class SignallingRing(FakeRing):
    """Runs ``hooks[k]()`` just before batch ``k`` is drained (a signal arriving then)."""

    def __init__(self, batches: list[list[Any]], hooks: dict[int, Any]) -> None:
        super().__init__(batches, processes())
        self.hooks = hooks
        self.drained = 0

    def raw_batches(self) -> Any:
        for k, raw in enumerate(super().raw_batches()):
            if k in self.hooks:
                self.hooks[k]()
            if self._stopped:
                return
            self.drained += 1
            yield raw

    def stop(self) -> None:
        self._stopped = True

    def driver_stats(self) -> Any:
        return SimpleNamespace(n_evts=self._delivered, n_drops=0, detail={})


def _run(tmp_path: Path, batches: list[list[Any]], hooks_of: Any) -> tuple[Any, Any, str]:
    from falco_cli import app

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(path="/nonexistent"))
    out = io.StringIO()
    s = app.State(app.Options(rules_filenames=[str(rules)],
                              overrides=["webserver.enabled=false", "stdout_output.enabled=true"]),
                  stdout=out)
    ring = SignallingRing(batches, {})
    ring.hooks = hooks_of(s, rules, ring)

    def fake_open(st: Any) -> Any:
        insp = Inspector(ring)
        st.source_kind = "live"
        st.live_source = ring
        app._set_hotpath(st, insp)
        return insp, "syscall"

    orig = app._open_source
    handlers = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                                  signal.SIGUSR1)}
    app._open_source = fake_open
    try:
        res = app.run(s)
    finally:
        app._open_source = orig
        for n, h in handlers.items():  # pyfalco installed its own
            signal.signal(n, h)
    return s, ring, out.getvalue() + str(res)


def test_sighup_during_absorbed_storm_applies_to_the_next_batch(tmp_path: Path,
                                                                capfd: Any) -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    batches = [_storm(b, 300), _storm(b, 300),
               [*_storm(b, 100), open_exit(b, 307, 100, 6, "/etc/shadow", 1), *_storm(b, 100)]]

    def hooks(s: Any, rules: Path, ring: Any) -> dict[int, Any]:
        def hup() -> None:
            rules.write_text(RULE.format(path="/etc/shadow"))
            s.signals._on_reload(1, None)
        return {1: hup}

    s, _ring, _ = _run(tmp_path, batches, hooks)
    text = capfd.readouterr().out
    assert s.reloads == 1
    assert s.by_rule["shadow opened"] == 1, text
    assert s.n_evts == sum(len(x) for x in batches)


def test_sigint_during_absorbed_storm_ends_the_run(tmp_path: Path) -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    batches = [_storm(b, 200) for _ in range(10)]

    def hooks(s: Any, rules: Path, ring: Any) -> dict[int, Any]:
        return {3: lambda: s.signals._on_terminate(2, None)}

    s, ring, _ = _run(tmp_path, batches, hooks)
    # the terminate callback stops the source (as live); the loop ends there, not at batch 10,
    # though no event of the storm ever reached it
    assert ring.drained <= 4
    assert s.n_evts == sum(len(x) for x in batches[:ring.drained])

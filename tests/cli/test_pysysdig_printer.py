"""The fast default printer: internal events dropped in C (the hidden-type prefilter) must not
change what is printed, the numbering, or where ``-n`` stops (hidden events still count)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from sinsp.sysdig_cli import SysdigOptions, _hidden_prefilter, _internal_types, run

TRACES = Path("/work/shared/traces/syscalls")
# captures where procinfo (hidden without -D) outnumbers the shown events
DENSE = [TRACES / n for n in ("cat_write.scap", "ping_sendto.scap", "open-multiple-files.scap")]
pytestmark = pytest.mark.skipif(not all(p.exists() for p in DENSE),
                                reason="real captures not available")


def _ours(path: Path, **kw: object) -> list[str]:
    out = io.StringIO()
    run(SysdigOptions(read=str(path), **kw), out)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def test_prefilter_only_when_nothing_can_show_the_dropped_events() -> None:
    internal = _internal_types()
    base = SysdigOptions(read="x.scap")
    types = _hidden_prefilter(base, None, internal)
    assert types is not None and 234 not in types and 3 in types  # procinfo out, open_x in
    for kw in ({"debug": True}, {"write": "o.scap"}, {"time_flag": "r"},
               {"format": "%evt.num %evt.reltime"}, {"format": "%evt.latency"}):
        assert _hidden_prefilter(SysdigOptions(read="x.scap", **kw), None, internal) is None, kw
    assert _hidden_prefilter(base, object(), internal) is None  # a filter may match them


@pytest.mark.parametrize("path", DENSE, ids=[p.stem for p in DENSE])
@pytest.mark.parametrize("extra", [{}, {"max_events": 300}, {"json": True}], ids=["all", "n", "json"])
def test_prefiltered_output_equals_the_unfiltered_run(path: Path, extra: dict,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _ours(path, **extra)
    import sinsp.sysdig_cli as cli

    monkeypatch.setattr(cli, "_hidden_prefilter", lambda *a: None)
    slow = _ours(path, **extra)
    assert fast == slow
    assert fast or "max_events" in extra


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig not installed")
@pytest.mark.parametrize("path", DENSE, ids=[p.stem for p in DENSE])
def test_n_counts_hidden_events_like_sysdig(path: Path) -> None:
    for n in (1, 7, 40, 150, 400):
        theirs = subprocess.run(["sysdig", "-r", str(path), "-n", str(n)], capture_output=True,
                                check=True, timeout=60).stdout.decode(errors="surrogateescape")
        assert _ours(path, max_events=n) == theirs.splitlines(), n

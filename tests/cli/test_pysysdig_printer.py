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
@pytest.mark.parametrize("extra", [{}, {"max_events": 300}, {"json": True}],
                         ids=["all", "n", "json"])
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


ALL = sorted(TRACES.glob("*.scap"))


@pytest.mark.parametrize("bufmode", ["dots", "hex", "base64"])
def test_compiled_args_renderers_equal_the_plan_loop(bufmode: str) -> None:
    """Every event of every real capture: the generated per-type renderer prints what the
    general plan walk prints (for each buffer mode, untruncated too)."""
    from sinsp import Inspector
    from sinsp import format as fmt

    mode = {"dots": fmt.BufferFormat.DOTS, "hex": fmt.BufferFormat.HEX,
            "base64": fmt.BufferFormat.BASE64}[bufmode]
    opts = fmt.RenderOptions(buffer_format=mode, max_buf_len=0 if bufmode == "hex" else 80)
    n = compiled = 0
    for path in ALL:
        with Inspector.from_capture(str(path)) as insp:
            for evt in insp:
                n += 1
                fast = fmt.event_args(evt, opts)
                r = evt.record
                render = fmt._COMPILED.get(r.type << 8 | r.nparams)
                compiled += render not in (fmt._event_args_loop, fmt._no_args)
                assert fast == fmt._event_args_loop(evt, opts), (path.name, evt.num)
    assert n > 3000 and compiled > n // 2

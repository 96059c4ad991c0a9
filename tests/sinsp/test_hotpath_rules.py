"""End to end: the rules' alerts through the hot path (C deciding with the engine's
event-local trees) are the alerts of the plain path, event for event, while most of the
storm is absorbed.  Our rules always; upstream's stable rules too with
``PYFALCO_UPSTREAM_RULES``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hotpath_helpers import FakeRing, close_exit, open_exit, processes, read_exit

from engine import RuleEngine
from scap.testing import EventBuilder
from sinsp import Inspector, hotpath

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = os.environ.get("PYFALCO_UPSTREAM_RULES")

PATHS = ["/dev/null", "/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/pam.d/sshd",
         "/etc/ld.so.preload", "/root/.ssh/id_rsa", "/home/u/.ssh/authorized_keys",
         "/var/log/syslog", "/usr/lib/x.so", "/bin/evil", "/usr/bin/ls", "/proc/1/environ",
         "/dev/shm/x", "/tmp/a", "/etc/shadow/..", "etc/shadow"]
FLAGS = [1, 2, 3, 2 | 256, 2 | 4 | 256, 1 | 1024, 3 | 8]


def _rule_files() -> list[Any]:
    sets = [pytest.param([ROOT / "rules" / "falco_rules.yaml",
                          ROOT / "rules" / "falco_rules.local.yaml"], id="ours")]
    if UPSTREAM and Path(UPSTREAM, "falco_rules.yaml").is_file():
        sets.append(pytest.param([Path(UPSTREAM, "falco_rules.yaml")], id="upstream-stable"))
    return sets


def _stream() -> list[list[Any]]:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs = []
    for tid in (100, 200, 1005):
        for etype in (307, 3, 327, 59):
            for path in PATHS:
                for flags in FLAGS:
                    recs.append(open_exit(b, etype, tid, 5, path, flags, 0o755))
                    recs.append(read_exit(b, tid, 5))
                    recs.append(close_exit(b, tid, 5))
                    for _ in range(3):  # the storm around it
                        recs.append(open_exit(b, 307, tid, 6, "/dev/null", 1))
                        recs.append(close_exit(b, tid, 6))
    return [recs[i:i + 500] for i in range(0, len(recs), 500)]


def _alerts(insp: Inspector, eng: RuleEngine) -> list[tuple[int, tuple[str, ...]]]:
    wanted = eng.wanted_types("syscall")
    out = []
    for evt in insp:
        if evt.record.type in wanted:
            matches = eng.process(evt)
            if matches:
                out.append((evt.num, tuple(sorted(m.rule for m in matches))))
    return out


@pytest.mark.parametrize("files", _rule_files())
def test_same_alerts_with_the_hot_path(files: list[Path]) -> None:
    eng = RuleEngine(hostname="h")
    res = eng.load_files(files)
    assert res.successful, res.as_string(True)
    eng.enable()  # every rule, the disabled-by-default ones too
    eng.rule_matching = "all"
    batches = _stream()
    plain = Inspector(FakeRing(batches, processes()))
    expect = _alerts(plain, eng)
    hot = Inspector(FakeRing(batches, processes()))
    assert hot.set_hotpath(eng.local_filters(hotpath.HOT_TYPES))
    got = _alerts(hot, eng)
    assert expect, "no rule matched: nothing was compared"
    assert got == expect
    total = sum(len(b) for b in batches)
    assert hot.hot_stats.absorbed > total // 2


@pytest.mark.parametrize("files", _rule_files())
def test_openat2_read_of_shadow_alerts_through_the_hot_path(files: list[Path]) -> None:
    """sysdig 0.29.3 gives openat2 exits evt.is_open_read from their flags: an /etc/shadow
    read through openat2 by an untrusted program is the sensitive-file rule's, so C must
    forward it (its tree is not FALSE) and the engine must alert, as for openat."""
    eng = RuleEngine(hostname="h")
    assert eng.load_files(files).successful
    eng.rule_matching = "all"
    trees = eng.local_filters(hotpath.HOT_TYPES)
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    got = {}
    for etype in (307, 327):
        batch = [open_exit(b, 307, 100, 6, "/dev/null", 1), close_exit(b, 100, 6),
                 open_exit(b, etype, 100, 5, "/etc/shadow", 1), read_exit(b, 100, 5),
                 close_exit(b, 100, 5)]
        hot = Inspector(FakeRing([batch], processes()))
        assert hot.set_hotpath(trees)
        got[etype] = [(evt.record.type, evt.fd.name if evt.fd else None, m.rule)
                      for evt in hot for m in eng.process(evt) or ()]
        assert hot.hot_stats.opens == 1  # the /dev/null open, absorbed; not the shadow read
    assert got[307], "the rules do not alert on an openat /etc/shadow read"
    assert [(t, n) for t, n, _ in got[327]] == [(327, "/etc/shadow")] * len(got[327])
    assert sorted(r for _, _, r in got[327]) == sorted(r for _, _, r in got[307])

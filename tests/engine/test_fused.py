"""The fused per-type rule evaluator (``Ruleset.fused``, ``sinsp.filter.fused``) matches
exactly what the per-rule closures match: same rules, same order, same alert text, same
error count, on the shared real captures and on a synthetic openat/close storm in the
current-libs exit-only layout (what the live probe delivers), with our rules and, when
``PYFALCO_UPSTREAM_RULES`` is set, the upstream stable rules."""

from __future__ import annotations

import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import scap
from engine import RuleEngine
from scap.testing import EventBuilder
from sinsp import Inspector

ROOT = Path(__file__).resolve().parents[2]
TRACES = Path("/work/shared/traces/syscalls")
UPSTREAM = os.environ.get("PYFALCO_UPSTREAM_RULES")

PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_CREAT, PPM_O_TRUNC = 1, 2, 4, 1 << 9


GOLDEN = Path(__file__).parent / "data" / "golden_rules.yaml"


def _rules_files() -> list[Path]:
    files = [ROOT / "rules" / "falco_rules.yaml"]
    if UPSTREAM and Path(UPSTREAM, "falco_rules.yaml").is_file():
        files.append(Path(UPSTREAM, "falco_rules.yaml"))
    return files


def _id(p: Path) -> str:
    return "golden" if p == GOLDEN else "upstream" if UPSTREAM and str(p).startswith(UPSTREAM) \
        else "ours"


def _pair(rules: Path, matching: str) -> tuple[RuleEngine, RuleEngine]:
    engines = []
    for fused in (True, False):
        e = RuleEngine(hostname="testhost")
        res = e.load_files([rules])
        assert res.successful, res.as_string()
        e.rule_matching = matching
        e.ruleset.fused = fused
        engines.append(e)
    return engines[0], engines[1]


def _compare(insp: Inspector, fused: RuleEngine, plain: RuleEngine,
             records: Any = None) -> Counter[str]:
    """Run both engines on every event; return the rules matched (by the per-rule path)."""
    seen: Counter[str] = Counter()
    events = iter(insp) if records is None else (insp.process(r) for r in records)
    n = 0
    for evt in events:
        if evt is None:
            continue
        n += 1
        a, b = fused.process(evt), plain.process(evt)
        assert [m.rule for m in a] == [m.rule for m in b], (evt.num, evt.record.name)
        assert a == b
        for ma, mb in zip(a, b, strict=True):
            assert fused.format_alert(ma, evt) == plain.format_alert(mb, evt)
        seen.update(m.rule for m in b)
    assert n > 0
    assert fused.ruleset.errors == plain.ruleset.errors
    return seen


@pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not available")
@pytest.mark.parametrize("rules", [GOLDEN, *_rules_files()], ids=_id)
@pytest.mark.parametrize("matching", ["all", "first"])
def test_fused_matches_per_rule_on_real_captures(rules: Path, matching: str) -> None:
    fused, plain = _pair(rules, matching)
    total: Counter[str] = Counter()
    for path in sorted(TRACES.glob("*.scap")):
        total += _compare(Inspector.from_capture(path), fused, plain)
    if rules == GOLDEN:
        assert total, "no rule matched any capture: the comparison would prove nothing"


_PATHS = [
    # (path, flags, result): what the rules look at on an open
    ("/dev/null", PPM_O_RDONLY, 3),
    ("/etc/shadow", PPM_O_RDONLY, 3),
    ("/etc/../etc/shadow", PPM_O_RDONLY, 3),
    ("../../../etc/passwd", PPM_O_RDONLY, -2),
    ("/root/.ssh/id_rsa", PPM_O_RDONLY, 3),
    ("/home/u/.ssh/authorized_keys", PPM_O_RDONLY, 4),
    ("/var/log/syslog", PPM_O_WRONLY | PPM_O_TRUNC, 3),
    ("/sys/fs/cgroup/x/release_agent", PPM_O_WRONLY, 5),
    ("/etc/sudoers.d/extra", PPM_O_RDONLY | PPM_O_WRONLY, 3),
    ("relative/file.txt", PPM_O_RDONLY | PPM_O_CREAT, 6),
    ("/bin/evil", PPM_O_WRONLY | PPM_O_CREAT, 7),
    ("/proc/1/environ", PPM_O_RDONLY, -13),
]


def _storm(processes: list[Any], n: int) -> list[Any]:
    """openat exits (7 params: the current layout, ``ino`` past 0.29.3's table) each followed
    by the close exit of its fd (``res``, ``fd``), no enter events: the live probe's records."""
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    tids = [p.tid for p in processes]
    recs = []
    for i in range(n):
        tid = tids[(i * 7) % len(tids)]
        path, flags, fd = _PATHS[i % len(_PATHS)]
        mode = 0o755 if flags & PPM_O_CREAT else 0
        recs.append(b.build("SYSCALL_OPENAT_2_X",
                            [fd, -100, path, flags, mode, 2049, struct.pack("<Q", 1000 + i)],
                            tid=tid))
        if fd >= 0:
            recs.append(b.build("SYSCALL_CLOSE_X", [0, struct.pack("<q", fd)], tid=tid))
    return recs


@pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not available")
@pytest.mark.parametrize("rules", _rules_files(), ids=_id)
@pytest.mark.parametrize("matching", ["all", "first"])
def test_fused_matches_per_rule_on_openclose_storm(rules: Path, matching: str) -> None:
    src = TRACES / "syscall.scap"
    with scap.open(src) as cap:
        processes = [p for p in cap.processes if p.tid == p.pid]
    insp = Inspector(scap.open(src))  # the capture's threads, then the storm
    for _ in insp:
        pass
    fused, plain = _pair(rules, matching)
    seen = _compare(insp, fused, plain, _storm(processes, 3000))
    assert len(seen) >= 2, f"too few rules matched the storm to compare anything: {seen}"


def test_fused_counts_errors_like_per_rule() -> None:
    """A check that raises skips only its rule, in both paths, and is counted."""
    from sinsp.fields.registry import REGISTRIES

    reg = REGISTRIES["syscall"]
    info, _ = reg.resolve("proc.name", None)
    calls: list[int] = []
    text = """
- rule: boom
  desc: d
  condition: evt.type = close and proc.name = x
  output: o
  priority: INFO
- rule: after
  desc: d
  condition: evt.type = close and evt.num > 0
  output: o
  priority: INFO
"""

    class Evt:
        def __init__(self, rec: Any) -> None:
            self.record = rec
            self.num = 1
            self.thread = None

    def boom(evt: Any, arg: Any) -> Any:
        calls.append(1)
        raise RuntimeError("extractor failure")

    rec = EventBuilder().build("SYSCALL_CLOSE_X", [0])
    results = []
    orig = info.extractor
    for fused in (True, False):
        object.__setattr__(info, "extractor", boom)
        try:
            e = RuleEngine(registries={"syscall": reg}, hostname="h")
            assert e.load_string(text).successful
            e.ruleset.fused = fused
            results.append(([m.rule for m in e.process(Evt(rec))], e.ruleset.errors,
                            dict(e.ruleset.error_samples)))
        finally:
            object.__setattr__(info, "extractor", orig)
    # the failing rule and its first error are kept for the user, in both paths
    assert results[0] == results[1] == (["after"], 1,
                                        {"boom": "RuntimeError: extractor failure"})
    assert len(calls) == 2


def test_rule_matching_and_enable_rebuild_the_fused_tables() -> None:
    """Switching ``rule_matching`` or enabling rules after events were seen changes what the
    per-type function returns (its tables are rebuilt)."""
    text = """
- rule: one
  desc: d
  condition: evt.type = close and evt.num > 0
  output: o
  priority: INFO
- rule: two
  desc: d
  condition: evt.type = close
  output: o
  priority: INFO
"""

    class Evt:
        def __init__(self, rec: Any) -> None:
            self.record = rec
            self.num = 1
            self.thread = None

    evt = Evt(EventBuilder().build("SYSCALL_CLOSE_X", [0]))
    e = RuleEngine(hostname="h")
    assert e.load_string(text).successful
    assert [m.rule for m in e.process(evt)] == ["one"]
    e.rule_matching = "all"
    assert [m.rule for m in e.process(evt)] == ["one", "two"]
    e.enable("one", enabled=False)
    assert [m.rule for m in e.process(evt)] == ["two"]
    e.rule_matching = "first"
    e.ruleset.fused = False
    assert [m.rule for m in e.process(evt)] == ["two"]


_ZOO = [
    # every operator and field shape the generator inlines or hands to the per-rule closure
    "proc.name = cat", "proc.name != bash", "fd.num < 3", "fd.num <= 3", "fd.num > 2",
    "fd.num >= 2", "thread.tid > 0 and evt.num < 5000", "fd.name contains etc",
    "fd.name icontains ETC", "fd.name startswith /usr", "fd.name endswith .so.6",
    "fd.name glob '/etc/*'", "fd.name iglob '/ETC/ld*'", "fd.name regex '.*lib.*'",
    "fd.name pmatch (/etc, /usr/lib)", "proc.name in (cat, python, ping)",
    "proc.aname intersects (bash, sshd)", "proc.aname in (bash, sshd)", "proc.aname = bash",
    "proc.aname[1] = bash", "fd.sip exists", "fd.net = 127.0.0.0/8", "fd.sip = 127.0.0.1",
    "fd.ip in (127.0.0.1, 10.0.0.1)", "evt.buffer bcontains 6869", "evt.buffer contains hi",
    "evt.buffer bstartswith 68", "tolower(proc.name) = cat", "toupper(proc.name) in (CAT)",
    "len(fd.name) > 10", "basename(fd.name) = passwd", "proc.name = val(proc.pname)",
    "proc.pname != val(proc.name)", "evt.arg.fd > 2", "evt.rawarg.res < 0",
    "evt.res startswith E", "evt.is_open_read = true and evt.is_open_write = false",
    "evt.failed = false", "fd.typechar = f and fd.directory = /etc", "user.name = root",
    "proc.cmdline contains python", "evt.type = openat and not fd.name exists",
    "not (proc.name = cat or not (fd.num > 0 and fd.name contains l))",
]


def _zoo_rules(deep: int = 24) -> str:
    out = []
    for i, cond in enumerate(_ZOO):
        out.append(f"- rule: zoo{i}\n  desc: d\n  condition: {cond}\n  output: o %proc.name\n"
                   f"  priority: INFO\n  warn_evttypes: false\n")
    # deeper than the generator inlines (sinsp.filter.fused._MAX_DEPTH): its own closure;
    # macros nest deeper than the parser lets one condition
    out.append("- macro: m0\n  condition: proc.name = cat\n")
    for i in range(1, deep + 1):
        out.append(f"- macro: m{i}\n  condition: not (proc.pid = 1 or m{i - 1})\n")
    out.append(f"- rule: deep\n  desc: d\n  condition: evt.type = read and m{deep}\n"
               f"  output: o\n  priority: INFO\n")
    return "\n".join(out)


@pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not available")
def test_fused_operator_zoo_on_real_captures() -> None:
    engines = []
    for fused in (True, False):
        e = RuleEngine(hostname="testhost")
        res = e.load_string(_zoo_rules())
        assert res.successful, res.as_string()
        e.rule_matching = "all"
        e.ruleset.fused = fused
        engines.append(e)
    total: Counter[str] = Counter()
    for path in sorted(TRACES.glob("*.scap")):
        total += _compare(Inspector.from_capture(path), engines[0], engines[1])
    # the comparison means something only if many rules matched and many did not
    assert len(total) >= len(_ZOO) // 2, total
    assert len(total) < len(_ZOO) + 1, total

"""Decode + state (+ a condition, + the rules) against sysdig 0.29.3 (issues #2/#3/#4).

On B's large capture (bench/.data, built by bench_scap.py's recipe if missing), CPU seconds
(user + sys; sysdig's from RUSAGE_CHILDREN) for:

1. state alone: every event through ``Inspector`` (the first ``BENCH_STATE_EVENTS``, default
   400 000, so this stays short: the rate is what is compared) vs ``sysdig -r F -q``;
2. state + the typical condition ``COND`` with no prefilter (first N events), and with the
   prefilter (``Inspector.from_capture(F, event_types=flt.event_types, fields=...)``, the
   whole file) vs ``sysdig -r F -q COND``;
3. state + the upstream stable rules (``$PYFALCO_UPSTREAM_RULES/falco_rules.yaml``, else
   ``/work/upstream/rules/falco_rules.yaml`` if present, else pyfalco's ``rules/``) through
   ``RuleEngine.process`` with the rules' prefilter, the whole file, with the RSS at a
   quarter and at the end of the run (flat memory) vs ``sysdig -r F -q`` (parse + state,
   the issue's reference). Events of a type no rule wants are not handed to the engine
   (Falco's ruleset is indexed by type the same way).

4. an openat/close storm in the live probe's record layout (see ``storm``): state, and state
   + the same rules, in us per record (the offline profile of bench_bpf.py's rules pipeline).

Rates are events of the capture per CPU second: a prefiltered run is credited with every
event of the file, since it numbered (and skipped) them all, as sysdig reads them all.
"""
from __future__ import annotations

import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

COND = "evt.type in (open, openat, openat2) and fd.name startswith /etc"
N = int(os.environ.get("BENCH_STATE_EVENTS", "400000"))


def capture() -> pathlib.Path:
    import bench_scap  # B's helper builds and caches the capture

    if not bench_scap.BIG.exists():
        bench_scap.DATA.mkdir(parents=True, exist_ok=True)
        print(f"building {bench_scap.BIG} ...", flush=True)
        bench_scap.build(bench_scap.BIG)
    return bench_scap.BIG


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def sysdig_cpu(args: list[str]) -> float:
    """Best of two: CPU seconds of `sysdig -r F -q [filter]`."""
    best = None
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["sysdig", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = t if best is None else min(best, t)
    return best or 1e-9


def line(what: str, events: int, secs: float, ref: float | None, extra: str = "") -> float:
    rate = events / secs
    ratio = f"{rate / ref:7.3f}" if ref else "      -"
    print(f"{what:<58} {events:>9} {secs:7.2f} {rate:>11,.0f} {ratio} {extra}", flush=True)
    return rate


def main() -> int:
    from engine import RuleEngine
    from sinsp import Inspector
    from sinsp.filter import compile_filter
    from sinsp.format import default_registry
    from sinsp.parsers.prefilter import fields_of, rules_interest

    big = str(capture())
    import scap

    with scap.open(big) as cap:
        total = sum(len(b) for b in cap.batches())
    print(f"capture: {big} ({total:,} events)")
    sd = shutil.which("sysdig")
    sd_state = sd_cond = None
    if sd:
        sd_state = total / sysdig_cpu(["-r", big, "-q"])
        sd_cond = total / sysdig_cpu(["-r", big, "-q", COND])
    else:
        print("sysdig not installed: no ratios")
    print(f"{'what':<58} {'events':>9} {'cpu s':>7} {'events/s':>11} {'x sysdig':>7}")
    if sd_state:
        print(f"{'sysdig -r F -q':<58} {total:>9} {total / sd_state:7.2f} {sd_state:>11,.0f}")
        print(f"{'sysdig -r F -q COND':<58} {total:>9} {total / sd_cond:7.2f} {sd_cond:>11,.0f}")

    # 1. state alone, every event
    t0 = cpu()
    n = 0
    with Inspector.from_capture(big) as insp:
        for _evt in insp:
            n += 1
            if n >= N:
                break
    line("state alone (every event to Python)", n, cpu() - t0, sd_state)

    # 2. state + condition
    flt = compile_filter(COND, default_registry())
    matches, types = flt.matches, flt.event_types
    t0 = cpu()
    n = hits = 0
    with Inspector.from_capture(big) as insp:
        for evt in insp:
            n += 1
            if evt.record.type in types and matches(evt):
                hits += 1
            if n >= N:
                break
    line("state + COND, no prefilter", n, cpu() - t0, sd_cond, f"{hits} matches")
    t0 = cpu()
    hits = 0
    with Inspector.from_capture(big, event_types=types, fields=fields_of(flt.ast)) as insp:
        for evt in insp:
            if evt.record.type in types and matches(evt):
                hits += 1
        kept = insp.stats.events
    line("state + COND, prefilter", total, cpu() - t0, sd_cond,
         f"{hits} matches, {kept:,} events reached Python")

    # 3. state + rules
    import bench_scap

    rules = bench_scap.upstream_or_own_rules()
    eng = RuleEngine()
    res = eng.load_files([rules])
    if not res.successful:
        print(res.as_string(True))
        return 1
    process, fmt = eng.process, eng.format_alert
    rtypes, rfields = rules_interest(eng.enabled_rules("syscall"))
    judged = rtypes if rtypes is not None else frozenset(range(1 << 16))
    t0 = cpu()
    n = alerts = 0
    with Inspector.from_capture(big) as insp:
        for evt in insp:
            n += 1
            if evt.record.type in judged:
                for m in process(evt):
                    fmt(m, evt)
                    alerts += 1
            if n >= N:
                break
    line(f"state + {len(eng.enabled_rules('syscall'))} rules, no prefilter", n, cpu() - t0,
         sd_state, f"{alerts} alerts")
    quarter = total // 4
    rss_q = 0.0
    t0 = cpu()
    alerts = 0
    with Inspector.from_capture(big, event_types=rtypes, fields=rfields) as insp:
        for evt in insp:
            if evt.record.type in judged:
                for m in process(evt):
                    fmt(m, evt)
                    alerts += 1
            if not rss_q and evt.num >= quarter:
                rss_q = rss_mb()
        kept = insp.stats.events
    secs = cpu() - t0
    line(f"state + {len(eng.enabled_rules('syscall'))} rules ({rules.parent.name}/{rules.name})",
         total, secs, sd_state, f"{alerts} alerts, {kept:,} events reached Python, "
         f"RSS {rss_q:.0f} MB at 1/4 -> {rss_mb():.0f} MB at end")
    storm(big, eng)
    return 0


STORM_PAIRS = int(os.environ.get("BENCH_STORM_PAIRS", "100000"))


def storm(big: str, eng: object) -> None:
    """4. The live rules pipeline offline: an openat+close storm in the live probe's layout
    (exit records only, current libs' params: openat's ``ino``, close's ``fd``) by the
    capture's processes, or the capture in ``BENCH_STORM`` (e.g. one recorded with
    ``pysysdig -w`` during ``bench/.output/storm openclose``); records read first, then
    ``Inspector.process`` per record (+ ``RuleEngine.process`` for the types a rule wants,
    as pyfalco's loop), best of three.  The per-record cost is what bench_bpf.py's
    ``--pipeline rules --kind openclose`` run pays on top of the drain."""
    import struct
    import tempfile

    import scap
    from scap.testing import EventBuilder, write_capture
    from sinsp import Inspector

    path = os.environ.get("BENCH_STORM")
    tmp = None
    if not path:
        with scap.open(big) as cap:
            procs, users, groups = cap.processes, cap.users, cap.groups
            machine = cap.machine
        tids = [p.tid for p in procs if p.tid == p.pid][:50] or [1]
        b = EventBuilder(ts=1_700_000_000_000_000_000)
        recs = []
        for i in range(STORM_PAIRS):
            tid = tids[i % len(tids)]
            recs.append(b.build("SYSCALL_OPENAT_2_X", [3, -100, "/dev/null", 1, 0, 5,
                                                       struct.pack("<Q", 6)], tid=tid))
            recs.append(b.build("SYSCALL_CLOSE_X", [0, struct.pack("<q", 3)], tid=tid))
        fd, tmp = tempfile.mkstemp(suffix=".scap")
        os.close(fd)
        write_capture(tmp, recs, machine=machine, processes=procs, users=users, groups=groups)
        path = tmp
    try:
        with scap.open(path) as cap:
            records = list(cap)
        wanted = eng.wanted_types("syscall")  # type: ignore[attr-defined]
        mask = bytes(1 if t in wanted else 0 for t in range(max(wanted, default=-1) + 1))
        match = eng.process  # type: ignore[attr-defined]
        for what in ("state", "state + rules"):
            best = None
            for _ in range(3):
                insp = Inspector.from_capture(path)
                process = insp.process
                t0 = cpu()
                if what == "state":
                    for rec in records:
                        process(rec)
                else:
                    n_mask = len(mask)
                    for rec in records:
                        evt = process(rec)
                        if evt is not None and rec.type < n_mask and mask[rec.type]:
                            match(evt)
                t = cpu() - t0
                best = t if best is None else min(best, t)
            assert best is not None
            line(f"openat/close storm, live layout: {what}", len(records), best, None,
                 f"{best / len(records) * 1e6:.2f} us/record")
        hot = storm_hot(records, procs_of(path), eng)
        if hot is not None:
            best, absorbed = hot
            line("openat/close storm, live layout: state + rules, hot path", len(records), best,
                 None, f"{best / len(records) * 1e6:.2f} us/record, {absorbed:,} absorbed")
    finally:
        if tmp:
            os.unlink(tmp)


def procs_of(path: str) -> list:
    import scap

    with scap.open(path) as cap:
        return list(cap.processes)


def storm_hot(records: list, procs: list, eng: object) -> tuple[float, int] | None:
    """The storm as live raw batches (4096 records, as drained) through the hot path with the
    engine's event-local trees (``RuleEngine.local_filters``): the records no rule can match
    only update the state, the rest are processed and matched as above; best of three.
    ``None`` when the C hot path is not built."""
    import struct
    from types import SimpleNamespace

    from scap.engines._ring import RawBatch, RingSource
    from sinsp import Inspector, hotpath

    if not hotpath.available():
        return None
    filters = eng.local_filters(hotpath.HOT_TYPES)  # type: ignore[attr-defined]
    raws = []
    for i in range(0, len(records), 4096):
        chunk = records[i:i + 4096]
        data = bytearray()
        offs = []
        for r in chunk:
            offs.append(len(data))
            data += r.raw
        raws.append(RawBatch(bytes(data), struct.pack(f"<{len(offs)}I", *offs),
                             struct.pack(f"<{len(chunk)}H", *(r.cpu for r in chunk)),
                             len(chunk)))

    class Replay(RingSource):
        def __init__(self) -> None:
            super().__init__(None, True, False, 1 << 17, 4096, 0)
            self._snapshot = SimpleNamespace(processes=procs, users=[], groups=[],
                                             machine=None, interfaces=[])

        def raw_batches(self):  # type: ignore[no-untyped-def]
            yield from raws

    wanted = eng.wanted_types("syscall")  # type: ignore[attr-defined]
    match = eng.process  # type: ignore[attr-defined]
    best = None
    absorbed = 0
    for _ in range(3):
        insp = Inspector(Replay())
        insp.set_hotpath(filters)
        t0 = cpu()
        for evt in insp:
            if evt.record.type in wanted:
                match(evt)
        t = cpu() - t0
        best = t if best is None else min(best, t)
        absorbed = insp.hot_stats.absorbed
    assert best is not None
    return best, absorbed


if __name__ == "__main__":
    t = time.perf_counter()
    rc = main()
    print(f"({time.perf_counter() - t:.1f}s)")
    sys.exit(rc)

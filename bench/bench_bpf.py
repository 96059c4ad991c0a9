"""Live-capture bench: what the probe costs per syscall, and how many events reach the rules.

    .venv/bin/python bench/bench_bpf.py [--rates 50000,100000,200000,300000] [--seconds 2]
                                        [--pipeline drain|inspector|rules|pyfalco] [--rules FILE]

For each rate it runs bench/storm.c (a paced syscall storm, getppid by default) in the same run:
  bare            no probe: the syscall's own cost
  minimal-filter  bench ceiling probe (driver/bpf/minimal.bpf.c), syscall returned in the kernel
  minimal-record  the same, writing a fixed 64-byte record, drained by a C thread
  pyfalco-filter  our probe, the storm's syscall not in the interesting table
  pyfalco-record  our probe recording it, drained by BpfSource and fed to the pipeline:
                  `drain` (records only), `inspector` (+ sinsp state), `rules` (+ the engine
                  with the given rules, default the upstream falco_rules.yaml), or `pyfalco`:
                  the real `pyfalco` command, live, with those rules, its own event loop and
                  outputs (delivered = its "Captured Events" over the storm; drops = its
                  "Driver Drops"), started and ready before the storm begins
(`--kind openclose`: an openat+close storm, syscalls the rules and the state use) and prints
the added ns per syscall (vs bare), the ratio to the minimal probe's added cost,
the events per second delivered to the consumer, and drops.  Needs root and the probe.
With two or more CPUs the storm is pinned to CPU 0 and the consumers run on the others, so
"added ns" is the probe's cost, not the consumer competing for the storm's CPU (the minimal
probe's C consumer thread inherits the storm's CPU 0 pin: the ceiling is conservative).
Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / ".output"
STORM = OUT / "storm"
MINIMAL = ROOT / "driver" / "bpf" / ".output" / "minimal.bpf.o"
NR_GETPPID = 110


def _default_rules() -> str:
    """The upstream stable rules when a local copy exists (the issue's target is stated with
    them), else pyfalco's own default rules, so the bench runs on a fresh machine too."""
    if os.environ.get("PYFALCO_RULES"):
        return os.environ["PYFALCO_RULES"]
    import bench_scap

    return str(bench_scap.upstream_or_own_rules())


def build() -> None:
    subprocess.run(["make", "-s", "-C", str(ROOT / "driver" / "bpf")], check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    src = ROOT / "bench" / "storm.c"
    if not STORM.exists() or STORM.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["cc", "-O2", "-Wall", "-o", str(STORM), str(src), "-lbpf", "-lelf", "-lz",
                        "-lpthread"], check=True)


PIN = os.cpu_count() is not None and os.cpu_count() >= 2


def _storm_cpu() -> None:
    if PIN:
        os.sched_setaffinity(0, {0})


KIND = "getppid"
KIND_SYSCALLS = {"getppid": {"getppid"}, "openclose": {"openat", "close"}}


def storm(rate: int, secs: float, minimal_mode: str | None = None) -> dict:
    cmd = [str(STORM), KIND, str(rate), str(secs)]
    if minimal_mode:
        cmd += [str(MINIMAL), minimal_mode]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, preexec_fn=_storm_cpu)
    return json.loads(res.stdout)


def _pipeline(kind: str, rules: str | None):
    """Returns (feed, description): feed(records) -> n delivered; for the state pipelines a
    (feed, make_inspector) pair."""
    if kind == "drain":
        return (lambda recs: len(recs)), "records only"
    from sinsp import Inspector

    holder: dict = {}

    def make_insp(src):
        holder["insp"] = Inspector(src)

    if kind == "inspector":
        def feed(recs):
            insp = holder["insp"]
            n = 0
            for r in recs:
                if insp.process(r) is not None:
                    n += 1
            return n
        return (feed, make_insp), "sinsp state"
    from engine import RuleEngine

    eng = RuleEngine()
    signal.alarm(120)
    try:
        result = eng.load_files([rules])
    finally:
        signal.alarm(0)
    if not result.successful:
        raise SystemExit(f"rules did not load: {result.as_string(False)}")

    # as pyfalco's event loop (falco_cli.app): `process` only for the types a rule may match
    wanted = eng.wanted_types("syscall")
    mask = bytes(1 if t in wanted else 0 for t in range(max(wanted, default=-1) + 1))

    def feed_rules(recs):
        process = holder["insp"].process
        match = eng.process
        n_mask = len(mask)
        n = 0
        for r in recs:
            evt = process(r)
            if evt is not None:
                n += 1
                t = r.type
                if t < n_mask and mask[t]:
                    match(evt)
        return n

    holder["engine"] = eng
    return (feed_rules, make_insp), f"sinsp + rules ({Path(rules).name}), record by record, " \
        "no hot path"


def rule_syscalls(eng) -> set[str] | None:
    from scap.engines.bpf import syscalls_for_event_types

    types: set[int] = set()
    for r in eng.enabled_rules("syscall"):
        if r.event_types is None:
            return None
        types |= set(r.event_types)
    return syscalls_for_event_types(types)


def pyfalco(rate: int, secs: float, record: bool, pipeline, interesting: set[str] | None) -> dict:
    from scap.engines.bpf import BpfSource

    feed, make_insp = pipeline if isinstance(pipeline, tuple) else (pipeline, None)
    wanted = set(interesting or set())
    if record:
        wanted |= KIND_SYSCALLS[KIND]
    else:
        wanted -= KIND_SYSCALLS[KIND]
    with BpfSource(wanted, with_state=make_insp is not None, ring_bytes=8 << 20,
                   drop_self=True) as src:
        if make_insp is not None:
            make_insp(src)
        proc = subprocess.Popen([str(STORM), KIND, str(rate), str(secs)],
                                stdout=subprocess.PIPE, text=True, preexec_fn=_storm_cpu)
        delivered = 0
        t0 = time.monotonic()
        while proc.poll() is None:
            delivered += feed(src.next_batch())
        tail_deadline = time.monotonic() + 2.0
        while time.monotonic() < tail_deadline:
            batch = src.next_batch(20)
            if not batch:
                break
            delivered += feed(batch)
        elapsed = time.monotonic() - t0
        out = json.loads(proc.stdout.read())
        st = src.stats()
    out.update(delivered=delivered, delivered_per_s=delivered / elapsed, drops=st.drops_buffer,
               probe_events=st.events)
    return out


PYFALCO = ROOT / ".venv" / "bin" / "pyfalco"


def pyfalco_cli(rate: int, secs: float, rules: str) -> dict:
    """The `pyfalco` command itself, live on the probe with `rules`, on the CPUs the storm
    does not use: started, waited for until it captures, then the storm, then SIGINT; its
    `-v` end-of-run counters give the events it took and the drops."""
    import re
    import threading

    cpus = set(range(1, os.cpu_count() or 2)) if PIN else None
    proc = subprocess.Popen(
        [str(PYFALCO), "-r", rules, "-v", "-o", "webserver.enabled=false",
         "-o", "stdout_output.enabled=false", "-o", "syscall_event_drops.actions=[log]"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    lines: list[str] = []
    ready = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Opening 'syscall' source" in line:
                ready.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if not ready.wait(120):
        proc.kill()
        raise SystemExit("pyfalco did not start live capture:\n" + "".join(lines))
    time.sleep(1.0)
    out = storm(rate, secs)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    t.join(5)
    text = "".join(lines)
    drops = re.search(r"Driver Drops:(\d+)", text)
    capt = re.search(r"Captured Events: (\d+)", text)
    if drops is None or capt is None:
        raise SystemExit("pyfalco printed no -v counters:\n" + text[-3000:])
    captured = int(capt.group(1))
    out.update(delivered=captured, delivered_per_s=captured / secs, drops=int(drops.group(1)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="50000,100000,200000,300000")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--pipeline", choices=("drain", "inspector", "rules", "pyfalco"),
                    default="inspector")
    ap.add_argument("--kind", choices=tuple(KIND_SYSCALLS), default="getppid",
                    help="getppid (not used by the rules) or openclose (openat+close: state and "
                         "rules syscalls, so only the record runs apply to pyfalco)")
    ap.add_argument("--rules", default=_default_rules(),
                    help="$PYFALCO_RULES, else $PYFALCO_UPSTREAM_RULES/falco_rules.yaml (or "
                         "/work/upstream/rules/) if present, else pyfalco's rules/")
    args = ap.parse_args()
    global KIND
    KIND = args.kind
    if os.geteuid() != 0:
        raise SystemExit("bench_bpf needs root (it loads BPF programs)")
    build()
    if PIN:  # storm on CPU 0, every consumer (this process, storm's C thread) elsewhere
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
    if args.pipeline == "pyfalco":
        pipe, desc = None, f"the pyfalco command ({Path(args.rules).name})"
    else:
        pipe, desc = _pipeline(args.pipeline, args.rules)
    interesting = None
    if args.pipeline == "rules":
        interesting = rule_syscalls(_pipeline_engine(pipe))
    interesting = set(interesting or set())
    print(f"pipeline: {desc}; storm: {KIND}; {args.seconds:g}s per run; ncpu={os.cpu_count()}"
          + (f"; rules: {args.rules}" if args.pipeline in ("rules", "pyfalco") else ""))
    hdr = (f"{'rate/s':>8} {'run':<15} {'ns/sc':>7} {'added':>7} {'x min':>6} "
           f"{'delivered/s':>12} {'drops':>8}")
    print(hdr)
    print("-" * len(hdr))
    for rate in (int(r) for r in args.rates.split(",")):
        bare = storm(rate, args.seconds)
        rows = [("bare", bare)]
        mf = storm(rate, args.seconds, "filter")
        mr = storm(rate, args.seconds, "record")
        rows += [("minimal-filter", mf), ("minimal-record", mr)]
        if pipe is None:
            rows.append(("pyfalco-record", pyfalco_cli(rate, args.seconds, args.rules)))
        else:
            if KIND == "getppid" or make_state_free(pipe):
                rows.append(("pyfalco-filter",
                             pyfalco(rate, args.seconds, False, pipe, interesting)))
            rows.append(("pyfalco-record", pyfalco(rate, args.seconds, True, pipe, interesting)))
        base = bare["ns_per_syscall"]
        min_add = {"filter": mf["ns_per_syscall"] - base, "record": mr["ns_per_syscall"] - base}
        for name, r in rows:
            added = r["ns_per_syscall"] - base
            ratio = ""
            if name.startswith("pyfalco"):
                ref = min_add[name.split("-")[1]]
                ratio = f"{added / ref:.2f}" if ref > 0 else "-"
            if name.startswith("pyfalco-record"):
                dl = f"{r['delivered_per_s']:.0f}"
            elif name == "minimal-record":
                dl = f"{r['consumed'] / args.seconds:.0f}"
            else:
                dl = ""
            drops = r.get("drops", 0) if name != "bare" else ""
            print(f"{r['achieved_rate']:>8.0f} {name:<15} {r['ns_per_syscall']:>7.1f} "
                  f"{added:>7.1f} {ratio:>6} {dl:>12} {drops!s:>8}")
        sys.stdout.flush()


def make_state_free(pipe) -> bool:
    """openat/close can only be filtered out when no state is kept (the drain pipeline)."""
    return not isinstance(pipe, tuple)


def _pipeline_engine(pipe):
    feed = pipe[0] if isinstance(pipe, tuple) else pipe
    for cell in feed.__closure__ or ():
        v = cell.cell_contents
        if isinstance(v, dict) and "engine" in v:
            return v["engine"]
    raise RuntimeError("no engine in the rules pipeline")


if __name__ == "__main__":
    main()

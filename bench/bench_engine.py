"""Rule engine throughput against sysdig 0.29.3 (issue #4).

Decode + state + rules on B's large capture (bench/.data, built by bench_scap.py's recipe if
missing): pyfalco's Inspector feeding RuleEngine.process (and format_alert on every match),
against `sysdig -r FILE -p %evt.num '<OR of the rules' expanded conditions>'`.  The ruleset is
the upstream stable one when PYFALCO_UPSTREAM_RULES is set (a directory holding
falco_rules.yaml), else pyfalco's own rules/falco_rules.yaml.  Rules whose condition sysdig
0.29.3 cannot compile (fields it does not have) are left out of sysdig's filter and counted.

Prints events/s for both, the ratio, matches, and the peak RSS of each side.
BENCH_ENGINE_EVENTS limits how many events pyfalco processes (default 400000); the rate is
what is compared.
"""
from __future__ import annotations

import os
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine import RuleEngine  # noqa: E402
from sinsp import Inspector  # noqa: E402
from sinsp.filter.ast import to_text  # noqa: E402

LIMIT = int(os.environ.get("BENCH_ENGINE_EVENTS", "400000"))
PROBE = "/work/shared/traces/syscalls/cat_write.scap"


def capture() -> pathlib.Path:
    import bench_scap

    if not bench_scap.BIG.exists():
        bench_scap.DATA.mkdir(parents=True, exist_ok=True)
        print(f"building {bench_scap.BIG} ...", flush=True)
        bench_scap.build(bench_scap.BIG)
    return bench_scap.BIG


def rules_files() -> list[pathlib.Path]:
    up = os.environ.get("PYFALCO_UPSTREAM_RULES")
    if up:
        return [pathlib.Path(up) / "falco_rules.yaml"]
    return [ROOT / "rules" / "falco_rules.yaml"]


def sysdig_accepts(cond: str) -> bool:
    r = subprocess.run(["sysdig", "-r", PROBE, "-q", cond], capture_output=True, text=True)
    return r.returncode == 0


def main() -> int:
    big = capture()
    files = rules_files()
    eng = RuleEngine()
    t0 = time.perf_counter()
    res = eng.load_files(files)
    load_s = time.perf_counter() - t0
    if not res.successful:
        print(res.as_string())
        return 1
    rules = eng.enabled_rules("syscall")
    print(f"rules: {', '.join(str(f) for f in files)}: {len(rules)} enabled syscall rules, "
          f"loaded in {load_s:.2f}s")

    n = matches = 0
    t0 = time.perf_counter()
    for evt in Inspector.from_capture(big):
        n += 1
        for m in eng.process(evt):
            eng.format_alert(m, evt)
            matches += 1
        if n >= LIMIT:
            break
    ours_s = time.perf_counter() - t0
    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours_eps = n / ours_s
    print(f"pyfalco: {n} events in {ours_s:.2f}s = {ours_eps:,.0f} ev/s, {matches} alerts, "
          f"peak RSS {ours_rss:.0f} MB")

    conds = [to_text(r.ast) for r in rules]
    kept = [c for c in conds if sysdig_accepts(c)]
    if len(kept) < len(conds):
        print(f"sysdig 0.29.3 cannot compile {len(conds) - len(kept)} of {len(conds)} "
              "conditions (missing fields); they are left out of its filter")
    flt = " or ".join(f"({c})" for c in kept) or "evt.num = 0"
    t0 = time.perf_counter()
    rc, stdout, stderr, sd_rss = run_measured(["sysdig", "-r", str(big), "-p", "%evt.num", flt])
    sd_s = time.perf_counter() - t0
    if rc != 0:
        print("sysdig failed:", stderr[:500])
        return 1
    sd_matches = len(stdout.splitlines())
    sd_events = _count_events(big)
    sd_eps = sd_events / sd_s
    print(f"sysdig:  {sd_events} events in {sd_s:.2f}s = {sd_eps:,.0f} ev/s, {sd_matches} "
          f"matching events, peak RSS {sd_rss:.0f} MB")
    print(f"ratio pyfalco/sysdig: {ours_eps / sd_eps:.3f}")
    return 0


def run_measured(cmd: list[str]) -> tuple[int, str, str, float]:
    """Run a command, sampling its VmHWM (peak RSS, MB) from /proc while it runs.

    RUSAGE_CHILDREN is no good here: a child forked from this (large) Python process reports
    the parent's high-water mark."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        peak_kb = 0
        status = pathlib.Path(f"/proc/{p.pid}/status")
        while p.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), peak_kb / 1024


def _count_events(big: pathlib.Path) -> int:
    """Events in the capture (bench_scap writes a known number; count if it is not in the
    name)."""
    stem = big.stem.rsplit("_", 1)[-1]
    if stem.isdigit():
        return int(stem)
    import scap

    with scap.open(big) as cap:
        return sum(1 for _ in cap)


if __name__ == "__main__":
    sys.exit(main())

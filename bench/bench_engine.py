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
    out = subprocess.run(["sysdig", "-r", str(big), "-p", "%evt.num", flt],
                         capture_output=True, text=True)
    sd_s = time.perf_counter() - t0
    if out.returncode != 0:
        print("sysdig failed:", out.stderr[:500])
        return 1
    sd_matches = len(out.stdout.splitlines())
    sd_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sd_events = _count_events(big)
    sd_eps = sd_events / sd_s
    print(f"sysdig:  {sd_events} events in {sd_s:.2f}s = {sd_eps:,.0f} ev/s, {sd_matches} "
          f"matching events, peak RSS {sd_rss:.0f} MB")
    print(f"ratio pyfalco/sysdig: {ours_eps / sd_eps:.3f}")
    return 0


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

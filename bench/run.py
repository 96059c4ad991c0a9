"""`make bench`: run every bench/bench_*.py (each a standalone script) and print its results.

Each script prints its own numbers; this driver only finds them, runs them one after the other
with the same interpreter, and reports which failed.  `python bench/run.py NAME...` runs only
the scripts whose name contains one of the NAMEs.  Some scripts run more than once with the
arguments in ``EXTRA_RUNS`` (bench_bpf: the probe's cost on a getppid storm, then an
openat/close storm through state + the upstream rules record by record (no hot path: the
"before"), then the same storm under the `pyfalco` command itself, the issue's drop target).
"""
from __future__ import annotations

import pathlib
import subprocess
import sys
import time

#: script stem -> extra argument lists, each run after the plain run
EXTRA_RUNS: dict[str, list[list[str]]] = {
    "bench_bpf": [["--pipeline", "rules", "--kind", "openclose",
                   "--rates", "100000,300000", "--seconds", "4"],
                  ["--pipeline", "pyfalco", "--kind", "openclose",
                   "--rates", "50000,100000,150000,200000,300000,400000", "--seconds", "4"]],
}


def main(argv: list[str]) -> int:
    here = pathlib.Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = []
    for script in scripts:
        for args in [[], *EXTRA_RUNS.get(script.stem, [])]:
            label = " ".join([script.stem, *args])
            print(f"=== {label} ===", flush=True)
            t0 = time.perf_counter()
            rc = subprocess.call([sys.executable, str(script), *args], cwd=here.parent)
            print(f"--- {label}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} "
                  f"in {time.perf_counter() - t0:.1f}s\n", flush=True)
            if rc:
                failed.append(label)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

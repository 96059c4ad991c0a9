"""`make bench`: run every bench/bench_*.py (each a standalone script) and print its results.

Each script prints its own numbers; this driver only finds them, runs them one after the other
with the same interpreter, and reports which failed.  `python bench/run.py NAME...` runs only
the scripts whose name contains one of the NAMEs.
"""
from __future__ import annotations

import pathlib
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    here = pathlib.Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = []
    for script in scripts:
        print(f"=== {script.stem} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)], cwd=here.parent)
        print(f"--- {script.stem}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} "
              f"in {time.perf_counter() - t0:.1f}s\n", flush=True)
        if rc:
            failed.append(script.stem)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

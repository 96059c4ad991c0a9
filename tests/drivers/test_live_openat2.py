"""`pyfalco` live: an /etc/shadow read through openat2 raises "Read sensitive file untrusted".

sysdig 0.29.3 gives openat2 exits ``evt.is_open_read`` from their flags, so the rules'
``open_read`` macro holds for them; pyfalco used to give ``false`` there, which made the live
hot path absorb the exit as matching no rule.  A copy of the Python interpreter named
``o2reader`` (a name no rule trusts) calls openat2 (syscall 437, ``struct open_how`` of u64s)
on /etc/shadow with O_RDONLY and reads it; pyfalco runs our default rules (rules/), and the
upstream stable rules too when they are around ($PYFALCO_UPSTREAM_RULES or /work/upstream).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.live import ROOT, by_rule, run_pyfalco

pytestmark = [pytest.mark.bpf, pytest.mark.root, pytest.mark.slow, requires_bpf]

RULE = "Read sensitive file untrusted"
READER = """
import ctypes, os, sys
class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
how = OpenHow(flags=os.O_RDONLY | os.O_CLOEXEC)
fd = libc.syscall(437, -100, b"/etc/shadow", ctypes.byref(how), ctypes.c_size_t(24))
if fd < 0:
    sys.exit(f"openat2: errno {ctypes.get_errno()}")
os.read(fd, 64)
os.close(fd)
print(fd)
"""


def _rule_files() -> list[object]:
    sets = [pytest.param(ROOT / "rules" / "falco_rules.yaml", id="ours")]
    for cand in (os.environ.get("PYFALCO_UPSTREAM_RULES"), "/work/upstream/rules"):
        if cand:
            p = Path(cand)
            p = p / "falco_rules.yaml" if p.is_dir() else p
            if p.is_file():
                sets.append(pytest.param(p, id="upstream-stable"))
                break
    return sets


@pytest.mark.parametrize("rules", _rule_files())
def test_openat2_shadow_read_alerts(rules: Path, tmp_path: Path) -> None:
    exe = tmp_path / "o2reader"
    shutil.copy(os.path.realpath(sys.executable), exe)
    script = tmp_path / "read_shadow.py"
    script.write_text(READER)
    done: list[subprocess.CompletedProcess[str]] = []

    def actions() -> None:
        done.append(subprocess.run([str(exe), "-S", str(script)], capture_output=True,
                                   text=True, timeout=30))

    alerts, log = run_pyfalco(rules, actions, [RULE])
    assert done and done[0].returncode == 0, done[0].stderr if done else "not run"
    mine = [a["output_fields"] for a in by_rule(alerts, log, RULE)
            if a["output_fields"].get("proc.name") == "o2reader"]
    assert mine, f"no {RULE!r} alert for o2reader; pyfalco said:\n{log[-3000:]}"
    f = mine[0]
    assert f["fd.name"] == "/etc/shadow"
    if "evt.type" in f:
        assert f["evt.type"] == "openat2"

"""End to end, live: pyfalco on the eBPF probe sees a file opened during its run (root + BPF)."""
from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from tests.cli._run import Running, rules_file

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.slow]


def _probe_ok() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    try:
        from scap.engines.bpf import find_probe
        find_probe(build=False)
    except Exception as e:
        return f"eBPF probe unavailable: {e}"
    return None


def test_live_alert(tmp_path):
    why = _probe_ok()
    if why:
        pytest.skip(why)
    marker = f"/tmp/pyfalco-live-{uuid.uuid4().hex}"
    rules = rules_file(tmp_path / "r.yaml", [
        {"rule": "Marker opened", "desc": "d",
         "condition": f"evt.type in (open, openat, openat2) and evt.dir=< and fd.name={marker}",
         "output": "opened %fd.name by %proc.name", "priority": "CRITICAL"}])
    p = Running("-r", str(rules), "-M", "20")
    try:
        p.wait_line("err", lambda x: "Opening 'syscall' source with modern BPF probe" in x)
        time.sleep(0.5)
        deadline = time.monotonic() + 15
        line = None
        while line is None and time.monotonic() < deadline:
            subprocess.run(["cat", marker], capture_output=True)
            subprocess.run(["sh", "-c", f": > {marker}"], check=True)
            subprocess.run(["cat", marker], check=True)
            time.sleep(0.3)
            line = next((x for x in p.out if f"opened {marker} by cat" in x), None)
        assert line is not None, p.err
        assert ": Critical opened " in line
        p.proc.terminate()
        assert p.finish() == 0
    finally:
        p.kill()
        if os.path.exists(marker):
            os.unlink(marker)
    assert "   Marker opened: " in "\n".join(p.out)

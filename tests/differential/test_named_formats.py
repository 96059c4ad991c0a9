"""sysdig's named formats ``-pc``/``-pcontainer`` and ``-pk``/``-pkubernetes``: pysysdig
prints what sysdig 0.29.3 prints, line for line, on every real capture (before, ``-pc`` was
read as the one-character format ``c``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRACES = Path("/work/shared/traces/syscalls")
CAPTURES = sorted(TRACES.glob("*.scap")) if TRACES.is_dir() else []
SYSDIG = shutil.which("sysdig")
PYSYSDIG = Path(sys.executable).parent / "pysysdig"

pytestmark = [
    pytest.mark.sysdig,
    pytest.mark.skipif(SYSDIG is None, reason="sysdig 0.29.3 is not installed"),
    pytest.mark.skipif(not CAPTURES, reason="no captures under /work/shared/traces/syscalls"),
]


@pytest.mark.parametrize("flag", ["-pc", "-pcontainer", "-pk", "-pkubernetes"])
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_named_format_matches_sysdig(capture: Path, flag: str) -> None:
    want = subprocess.run([SYSDIG, "-r", str(capture), flag], capture_output=True,
                          check=True).stdout
    got = subprocess.run([str(PYSYSDIG), "-r", str(capture), flag], capture_output=True,
                         check=True).stdout
    assert got.splitlines() == want.splitlines()
    if want.strip():
        assert b"(host) " in got  # the container columns are really there


@pytest.mark.parametrize("flt", [[], ["evt.type=brk"], ["proc.name=cat"]])
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.stem)
def test_time_since_previous_printed_event_matches_sysdig(capture: Path, flt: list[str]) -> None:
    """``-tD``: the time column is the delta from the previous *printed* event (0 for the
    first), so a filter changes it (it was printed as an absolute time before)."""
    want = subprocess.run([SYSDIG, "-r", str(capture), "-tD", *flt], capture_output=True,
                          check=True).stdout
    got = subprocess.run([str(PYSYSDIG), "-r", str(capture), "-tD", *flt], capture_output=True,
                         check=True).stdout
    assert got.splitlines() == want.splitlines()

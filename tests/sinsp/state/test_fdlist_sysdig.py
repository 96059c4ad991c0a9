"""The fd tables loaded from each real capture's fd-list blocks equal what
sysdig 0.29.3's lsof chisel lists (it stops at the first event)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _sysdig_diff import captures, have_sysdig

from sinsp import Inspector

pytestmark = [
    pytest.mark.sysdig,
    pytest.mark.skipif(not have_sysdig(), reason="sysdig (0.29.3) is not installed"),
]

_ROW = re.compile(r"^(.*?)\s+(-?\d+)\s+(-?\d+)\s+(\S+)\s+(-?\d+)\s+(\S+)\s*(.*)$")


def _lsof(path: Path) -> set[tuple[int, int, int, str, str]]:
    out = subprocess.run(["sysdig", "-r", str(path), "-c", "lsof"], check=True,
                         capture_output=True, timeout=120).stdout.decode("utf-8", "replace")
    rows = set()
    for line in out.splitlines()[1:]:
        m = _ROW.match(line)
        if m:
            _comm, pid, tid, _user, fd, ftype, name = m.groups()
            rows.add((int(pid), int(tid), int(fd), ftype, name.rstrip()))
    return rows


def _ours(path: Path) -> set[tuple[int, int, int, str, str]]:
    rows = set()
    with Inspector.from_capture(path) as insp:
        insp.next()  # the chisel stops on the first event
        for t in insp.threads:
            table = t.fd_table()  # a CLONE_FILES thread lists its process's fds
            for info in table if table is not None else ():
                # lsof prints one line per fd: compare the name as printed
                rows.add((t.pid, t.tid, info.fd, info.typename, info.name.rstrip()))
    return rows


@pytest.mark.parametrize("path", captures(), ids=lambda p: p.name)
def test_fd_tables_match_lsof(path: Path) -> None:
    theirs, ours = _lsof(path), _ours(path)
    assert theirs, "lsof printed nothing"
    assert sorted(theirs - ours)[:10] == [] and sorted(ours - theirs)[:10] == []

"""Context switches (the sched_switch extra) and thread state, against sysdig 0.29.3.

sinsp's reset() looks a switch's thread up without inventing it and returns before the
enter/exit bookkeeping. So a tid seen only switching (or only as ``next``) stays unknown:
sysdig prints ``next=N``, not ``next=N(<NA>)``; only a syscall invents the ``<NA>`` thread.
And a switch in the middle of a syscall does not break that syscall's enter/exit pair.
"""

from __future__ import annotations

import io
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import pytest

from scap.testing import EventBuilder, write_capture
from sinsp import Inspector
from sinsp.sysdig_cli import SysdigOptions, run

sys.path.insert(0, str(pathlib.Path(__file__).parent / "parsers"))
from _feed import proc

needs_sysdig = pytest.mark.skipif(shutil.which("sysdig") is None,
                                  reason="sysdig 0.29.3 not installed")
FIELDS = "%evt.num %evt.type %proc.name %thread.tid %fd.name %thread.vmsize %evt.args"


def _events() -> list[Any]:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)

    def sw(tid: int, nxt: int, vm: int = 3) -> Any:
        return b.build("SCHEDSWITCH_6_E", {"next": nxt, "pgft_maj": 1, "pgft_min": 2,
                                           "vm_size": vm, "vm_rss": 4, "vm_swap": 5}, tid=tid)

    return [
        sw(100, 200),            # next never seen
        sw(300, 100),            # an unknown tid switching out
        sw(100, 300),            # ... is still unknown as next
        b.build("SYSCALL_CLOSE_E", {"fd": 3}, tid=400),
        b.build("SYSCALL_CLOSE_X", {"res": -9}, tid=400),
        sw(100, 400),            # a syscall invented 400: next=400(<NA>)
        sw(200, 100),
        sw(100, 200),
        sw(100, 0),
        sw(100, 100),
        # a switch between the enter and the exit of an openat: the pair holds
        b.build("SYSCALL_OPENAT_E", {"dirfd": -100, "name": "/etc/x", "flags": 1, "mode": 0}),
        sw(100, 500),
        b.build("SYSCALL_OPENAT_X", {"fd": 3}),
        b.build("SYSCALL_READ_E", {"fd": 3, "size": 10}),
        b.build("SYSCALL_READ_X", {"res": 0, "data": b""}),
        sw(500, 100),
        b.build("SYSCALL_READ_E", {"fd": 3, "size": 10}, tid=500),
        b.build("SYSCALL_READ_X", {"res": 0, "data": b""}, tid=500),
        sw(100, 500, vm=77),     # a known thread's counters still update
    ]


@pytest.fixture
def capture(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "switch.scap"
    write_capture(path, _events(), processes=[proc(100, comm="sh")])
    return path


def _ours(path: pathlib.Path, native: bool, **kw: Any) -> str:
    out = io.StringIO()
    run(SysdigOptions(read=str(path), native=native, **kw), out)
    return out.getvalue()


def test_switches_invent_no_thread_and_keep_pairs(capture: pathlib.Path) -> None:
    with Inspector.from_capture(str(capture)) as insp:
        fd_names = {evt.num: evt.fd.name for evt in insp if evt.fd is not None}
    assert sorted(t.tid for t in insp.threads) == [100, 400, 500]  # 500: its read
    assert fd_names[13] == "/etc/x"  # the openat exit paired with its enter
    assert insp.threads.get(100).vmsize_kb == 77


def test_c_printer_and_python_loop_agree(capture: pathlib.Path) -> None:
    assert _ours(capture, native=True) == _ours(capture, native=False)


def _sysdig(path: pathlib.Path, *args: str) -> str:
    return subprocess.run(["sysdig", "-r", str(path), *args], check=True, capture_output=True,
                          timeout=60).stdout.decode()


@pytest.mark.sysdig
@needs_sysdig
@pytest.mark.parametrize("native", [True, False])
def test_default_line_matches_sysdig(capture: pathlib.Path, native: bool) -> None:
    want = _sysdig(capture)
    assert "next=300 " in want and "next=400(<NA>) " in want  # what this test is about
    assert _ours(capture, native=native) == want


@pytest.mark.sysdig
@needs_sysdig
@pytest.mark.parametrize("filt", ["", "evt.type!=close", "evt.type=switch"])
def test_fields_match_sysdig(capture: pathlib.Path, filt: str) -> None:
    args = ["-p", FIELDS] + ([filt] if filt else [])
    want = _sysdig(capture, *args)
    got = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(capture), *args],
                         check=True, capture_output=True, timeout=60).stdout.decode()
    assert got == want

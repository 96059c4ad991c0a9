"""Issue #6 follow-ups, live: ring-full drops are counted per Falco category in the kernel and
reach the drop alert; SIGHUP with new rules rewrites the kernel's interesting table; the typed
load errors for a kernel without BTF and without BPF (simulated through $PYFALCO_BTF and a
seccomp filter that answers bpf() with ENOSYS, i.e. what such a kernel does)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.live import ROOT, start_pyfalco, stop_pyfalco

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

CATEGORIES = ("clone_fork_exit", "execve_exit", "connect_exit", "open_exit", "dir_file_exit",
              "other_interest_exit", "close_exit", "proc_exit")
NR_MKDIR, NR_MKDIRAT = 83, 258


def _open_close_storm(seconds: float) -> subprocess.Popen:
    code = (f"import os, time\nend = time.monotonic() + {seconds!r}\n"
            "while time.monotonic() < end:\n"
            "    for _ in range(2000):\n"
            "        os.close(os.open('/dev/null', os.O_RDONLY))\n")
    return subprocess.Popen([sys.executable, "-c", code])


def test_drop_categories_sum_to_the_total_when_every_recorded_type_has_one():
    """A 4 KiB ring and only openat/close recorded (no state set, no procexit): every lost
    record is an open or a close, so the kernel's per-category counts add up to the total."""
    from scap.engines.bpf import BpfSource

    with BpfSource({"openat", "close"}, with_state=False, ring_bytes=4096) as src:
        for _ in range(3000):
            os.close(os.open("/dev/null", os.O_RDONLY))
        st = src.stats()
        counters = src.driver_stats()
    assert st.drops_buffer > 0
    cats = st.drops_by_category
    assert set(cats) == set(CATEGORIES)
    assert sum(cats.values()) == st.drops_buffer
    assert cats["open_exit"] > 0 and cats["close_exit"] > 0
    assert all(cats[c] == 0 for c in CATEGORIES if c not in ("open_exit", "close_exit"))
    d = counters.detail
    assert d["n_drops_buffer_total"] == counters.n_drops >= st.drops_buffer
    assert d["n_drops_buffer_open_exit"] >= cats["open_exit"]
    assert d["n_drops_buffer_open_enter"] == 0                       # exit-only probe


def test_uncategorised_types_count_only_in_the_total():
    from scap.engines.bpf import BpfSource

    with BpfSource({"getppid"}, with_state=False, ring_bytes=4096) as src:
        for _ in range(3000):
            os.getppid()
        st = src.stats()
    assert st.drops_buffer > 0
    assert sum(st.drops_by_category.values()) == 0


def _wait(lines: list[str], pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(pred(ln) for ln in list(lines)):
            return True
        time.sleep(0.2)
    return False


def test_pyfalco_drop_alert_reports_the_categories(tmp_path):
    """pyfalco on a 1 MiB ring under an open/close storm: its drop alert carries Falco's
    per-category fields, filled (open/close drops seen), never more than the total.
    The rule reads proc.name, so the hot path cannot absorb the storm's opens (a rule on
    fd.name alone lets it keep up, and then nothing drops)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("- rule: Never\n  desc: d\n  condition: evt.type=openat and "
                     "proc.name=pyfalco-never\n  output: never\n  priority: INFO\n")
    proc, lines, reader = start_pyfalco(
        rules, "-o", "priority=debug", "-o", "engine.kind=modern_ebpf",
        "-o", "engine.modern_ebpf.buf_size_preset=1",
        "-o", "syscall_event_drops.actions=[alert]", "-o", "syscall_event_drops.rate=100",
        "-o", "syscall_event_drops.max_burst=100", "-o", "syscall_event_drops.threshold=0")
    storm = _open_close_storm(4.0)
    try:
        got = _wait(lines, lambda ln: "syscall event drop" in ln and ln.startswith("{"), 20)
    finally:
        storm.kill()
        storm.wait()
        stop_pyfalco(proc, reader)
    assert got, "no drop alert:\n" + "".join(lines[-40:])
    alerts = [json.loads(ln) for ln in lines
              if ln.startswith("{") and "syscall event drop" in ln]
    total = cats = 0
    for a in alerts:
        f = a["output_fields"]
        assert {f"n_drops_buffer_{c}" for c in CATEGORIES} <= set(f)
        assert f["n_drops_buffer_open_enter"] == "0"
        in_cats = sum(int(f[f"n_drops_buffer_{c}"]) for c in CATEGORIES)
        assert in_cats <= int(f["n_drops_buffer_total"])
        total += int(f["n_drops_buffer_total"])
        cats += int(f["n_drops_buffer_open_exit"]) + int(f["n_drops_buffer_close_exit"])
    assert total > 0 and cats > 0


# -- SIGHUP: the kernel table follows the rules ---------------------------------------------
def _kernel_interesting(pid: int, nr: int) -> int:
    """The `interesting` byte of syscall `nr` in the syscall_table map process `pid` holds
    (found through its fds' fdinfo map ids and bpftool)."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.path.exists(bpftool):
        pytest.skip("bpftool not installed")
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        for ln in text.splitlines():
            if ln.startswith("map_id:"):
                ids.add(int(ln.split()[1]))
    maps = json.loads(subprocess.run([bpftool, "-j", "map", "show"], capture_output=True,
                                     text=True, check=True).stdout)
    (mid,) = [m["id"] for m in maps if m.get("name") == "syscall_table" and m["id"] in ids]
    key = [str(b) for b in nr.to_bytes(4, "little")]
    out = json.loads(subprocess.run([bpftool, "-j", "map", "lookup", "id", str(mid), "key",
                                     *key], capture_output=True, text=True, check=True).stdout)
    return int(out["value"][0], 0)


def _rule(name: str, cond: str) -> str:
    return (f"- rule: {name}\n  desc: d\n  condition: {cond}\n  output: {name} %evt.type "
            f"%evt.args\n  priority: WARNING\n")


def test_sighup_with_new_rules_records_a_syscall_absent_before(tmp_path):
    marker = tmp_path / "hup-marker"
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rule("Before", "evt.type=openat and fd.name=/nonexistent/pyfalco-hup"))
    proc, lines, reader = start_pyfalco(rules)
    try:
        assert _kernel_interesting(proc.pid, NR_MKDIR) == 0        # not recorded yet
        assert _kernel_interesting(proc.pid, NR_MKDIRAT) == 0
        os.mkdir(f"{marker}-1")
        rules.write_text(_rule("After", f"evt.type in (mkdir, mkdirat) and "
                                        f"evt.args contains {marker.name}"))
        proc.send_signal(signal.SIGHUP)
        assert _wait(lines, lambda ln: "Reload complete" in ln or "Reload failed" in ln, 30)
        assert _kernel_interesting(proc.pid, NR_MKDIR) == 1
        assert _kernel_interesting(proc.pid, NR_MKDIRAT) == 1
        os.mkdir(f"{marker}-2")
        got = _wait(lines, lambda ln: '"rule":"After"' in ln, 20)
    finally:
        stop_pyfalco(proc, reader)
    assert got, "".join(lines[-40:])
    after = [json.loads(ln) for ln in lines if ln.startswith("{") and '"rule":"After"' in ln]
    assert all(f"{marker.name}-2" in a["output"] for a in after)     # the one after the HUP


# -- typed load errors -------------------------------------------------------------------------
def test_no_btf_is_a_typed_error(tmp_path):
    """$PYFALCO_BTF names the kernel BTF; pointing it at a missing file is what a kernel
    without /sys/kernel/btf/vmlinux looks like to the loader."""
    code = ("from scap.engines.bpf import BpfSource, DriverError\n"
            "try:\n    BpfSource({'getppid'}).open()\n"
            "except DriverError as e:\n    print(e.errno, e.stage, str(e).splitlines()[0])\n")
    env = dict(os.environ, PYFALCO_BTF=str(tmp_path / "no-such-vmlinux"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    assert out.startswith("2 load ")                                   # ENOENT
    assert "kernel has no BTF" in out and "no-such-vmlinux" in out


SECCOMP_NO_BPF = r'''
import ctypes, errno, struct
libc = ctypes.CDLL(None, use_errno=True)
# classic BPF: x86_64 bpf() (321) -> ENOSYS, everything else allowed
ins = [(0x20, 0, 0, 4), (0x15, 0, 3, 0xC000003E), (0x20, 0, 0, 0), (0x15, 0, 1, 321),
       (0x06, 0, 0, 0x00050000 | errno.ENOSYS), (0x06, 0, 0, 0x7FFF0000)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("<HBBI", *i) for i in ins))
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
prog = Prog(len(ins), ctypes.addressof(buf))
assert libc.prctl(38, 1, 0, 0, 0) == 0                       # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0       # PR_SET_SECCOMP, FILTER
from scap.engines.bpf import BpfSource, DriverError
try:
    BpfSource({"getppid"}).open()
except DriverError as e:
    print(e.errno, e.stage, str(e).splitlines()[0])
'''


def test_bpf_disabled_is_a_typed_error():
    """A kernel without the bpf() syscall answers ENOSYS; a seccomp filter gives this process
    exactly that answer."""
    out = subprocess.run([sys.executable, "-c", SECCOMP_NO_BPF], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    assert out.startswith("38 load ")                                  # ENOSYS
    assert "BPF is disabled in this kernel" in out

"""Issue #6: the probe object shipped inside the extension (no source tree needed), the
loader's order and its typed errors on the in-memory path, and the optional sched_switch
extra (off by default, on when asked for)."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.helpers import i64, u32, u64

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

NR_GETPPID = 110
PPME_SCHEDSWITCH_6_E = 152


def _embedded() -> bytes:
    from scap.engines.bpf import embedded_probe

    image, _sha = embedded_probe()
    if not image:
        pytest.skip("this build embeds no probe object (no clang/bpftool/BTF at build time)")
    return image


def _getppid_records(src) -> list:
    os.getppid()
    out, deadline = [], time.monotonic() + 2
    while time.monotonic() < deadline and not out:
        out = [r for r in src.next_batch(20) if r.type == 1 and r.tid == threading.get_native_id()]
    return out


def test_embedded_probe_loads_without_a_source_tree(monkeypatch, tmp_path):
    """With the build directory hidden (as in an installed package) and no env override,
    the embedded copy is chosen and captures."""
    import scap.engines.bpf as bpf

    image = _embedded()
    assert image[:4] == b"\x7fELF"
    monkeypatch.delenv("PYFALCO_BPF_PROBE", raising=False)
    monkeypatch.setattr(bpf, "_PROBE_DIR", tmp_path / "no-source-tree")
    choice = bpf.find_probe()
    assert choice.origin == "embedded" and choice.path is None and choice.image == image
    with bpf.BpfSource({"getppid"}, with_state=False) as src:
        assert src.probe is not None and src.probe.origin == "embedded"
        assert src.probe_path is None
        assert _getppid_records(src)


def test_loader_order(monkeypatch, tmp_path):
    """explicit path > $PYFALCO_BPF_PROBE > embedded > build directory."""
    import scap.engines.bpf as bpf

    _embedded()
    obj = tmp_path / "probe.bpf.o"
    obj.write_bytes(b"x")
    monkeypatch.setenv("PYFALCO_BPF_PROBE", str(obj))
    assert bpf.find_probe(obj).origin == "path"
    assert bpf.find_probe().origin == "env" and bpf.find_probe().path == obj
    monkeypatch.setenv("PYFALCO_BPF_PROBE", "embedded")
    assert bpf.find_probe().origin == "embedded"
    monkeypatch.delenv("PYFALCO_BPF_PROBE")
    # a source checkout whose built object is the one embedded: the embedded copy
    monkeypatch.setattr(bpf, "_PROBE_DIR", tmp_path / "tree")
    (tmp_path / "tree" / ".output").mkdir(parents=True)
    assert bpf.find_probe(build=False).origin == "embedded"
    # ... and one rebuilt since (another object in .output, a Makefile present): the build wins
    (tmp_path / "tree" / "Makefile").write_text("all:\n")
    (tmp_path / "tree" / ".output" / "probe.bpf.o").write_bytes(b"rebuilt")
    got = bpf.find_probe(build=False)
    assert got.origin == "build" and got.path == tmp_path / "tree" / ".output" / "probe.bpf.o"


def test_in_memory_garbage_and_stale_objects_are_typed_errors(tmp_path):
    """The in-memory path refuses what the file path refuses: not an ELF, an object
    without our stamps, an object of another schema version."""
    from scap.engines.bpf import BpfSource, DriverError, ProbeObject

    with pytest.raises(DriverError) as ei:
        BpfSource(probe=ProbeObject("embedded", image=b"not an ELF image")).open()
    assert ei.value.stage == "load" and "cannot open probe object" in str(ei.value)

    if shutil.which("clang") is None:
        pytest.skip("clang not installed")
    src = tmp_path / "stale.bpf.c"
    src.write_text('char LICENSE[] __attribute__((section("license"), used)) = "GPL";\n'
                   "const volatile unsigned int scap_api_version = 2;\n"
                   "const volatile unsigned int scap_schema_version = 1;\n")
    out = tmp_path / "stale.bpf.o"
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-c", str(src), "-o", str(out)],
                   check=True)
    with pytest.raises(DriverError) as ei:
        BpfSource(probe=ProbeObject("embedded", image=out.read_bytes())).open()
    assert ei.value.errno == -71 or abs(ei.value.errno) == 71       # EPROTO
    assert "schema 1" in str(ei.value) and "rebuild" in str(ei.value)


# -- sched_switch extra ---------------------------------------------------------------------
def _sleepy_thread_switches(src, seconds: float = 0.3) -> tuple[int, list]:
    """A thread that sleeps in small steps (each sleep switches it out); its switch
    records."""
    box = {}

    def body():
        box["tid"] = threading.get_native_id()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.005)
        with open(f"/proc/self/task/{box['tid']}/stat") as f:
            box["minflt"] = int(f.read().rsplit(")", 1)[1].split()[7])

    t = threading.Thread(target=body)
    t.start()
    recs = []
    while t.is_alive():
        recs.extend(src.next_batch(20))
    t.join()
    recs.extend(src.next_batch(50))
    return box, [r for r in recs if r.type == PPME_SCHEDSWITCH_6_E]


def test_sched_switch_is_off_by_default(bpf_source):
    """The session's probe records every syscall but was not asked for sched_switch."""
    _box, switches = _sleepy_thread_switches(bpf_source)
    assert switches == []


def test_sched_switch_on_request(monkeypatch):
    from scap.engines.bpf import BpfSource, extras_for

    assert extras_for({152}) == ("sched_switch",) == extras_for({3}, ["switch"])
    assert extras_for(None) == () == extras_for({3, 293})

    with pytest.raises(ValueError):
        BpfSource(extras=("page_faults",))
    with BpfSource({"getppid"}, with_state=False, extras=("sched_switch",)) as src:
        box, switches = _sleepy_thread_switches(src)
    mine = [r for r in switches if r.tid == box["tid"]]
    assert len(mine) >= 10                               # ~60 sleeps, each one switch out
    r = mine[len(mine) // 2]          # mid-life: the last switch-out may be after exit_mm()
    assert r.nparams == 6 and r.name == "switch"
    assert all(i64(x, 0) != box["tid"] for x in mine)   # next: another task
    assert 0 < u64(r, 2) <= box["minflt"]                # pgft_min: the thread's minor faults
    with open("/proc/self/status") as f:
        vmsize = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    assert abs(u32(r, 3) - vmsize) <= vmsize // 5       # vm_size (KiB) of our process
    assert 0 < u32(r, 4) <= u32(r, 3)                    # vm_rss


def test_pysysdig_asks_for_sched_switch_for_a_switch_filter():
    """`pysysdig evt.type=switch` attaches the extra: switch lines with libs' params (off
    otherwise: `extras_for` and test_sched_switch_is_off_by_default)."""
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]

    def run(flt: str) -> list[str]:
        res = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-M", "1", "-n", "200",
                              "-p", "%evt.type %evt.args", flt], cwd=repo,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return res.stdout.splitlines()

    lines = run("evt.type=switch")
    assert lines and all(line.startswith("switch next=") for line in lines)
    assert any("vm_size=" in line for line in lines)


@pytest.mark.sysdig
def test_switch_recording_reads_back_in_sysdig_0_29_3(tmp_path):
    """Switch records keep 0.29.3's layout (type 152, six params): a live `-w` recording of
    them prints the same in sysdig 0.29.3 and in pysysdig."""
    import sys
    from pathlib import Path

    if shutil.which("sysdig") is None:
        pytest.skip("sysdig 0.29.3 not installed")
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "switch.scap"
    rec = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-M", "1", "-w", str(out),
                          "evt.type=switch"], cwd=repo, capture_output=True, text=True,
                         timeout=120)
    assert rec.returncode == 0, rec.stderr
    fmt = "%evt.num %evt.type %thread.tid %evt.args"
    sd = subprocess.run(["sysdig", "-r", str(out), "-p", fmt, "evt.type=switch"],
                        capture_output=True, text=True, timeout=120, check=True).stdout
    ours = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(out), "-p", fmt,
                           "evt.type=switch"], cwd=repo, capture_output=True, text=True,
                          timeout=120, check=True).stdout
    import re

    # how a `next` tid is named (0.29.3 prints some it never saw bare, pysysdig with
    # "(<NA>)") is sinsp's rendering, not the record: compare without the names
    def bare(text: str) -> list[str]:
        return [re.sub(r"next=(-?\d+)\([^)]*\)", r"next=\1", ln) for ln in text.splitlines()]

    lines = bare(sd)
    assert len(lines) > 10 and all(" switch " in ln and "vm_size=" in ln for ln in lines)
    assert bare(ours) == lines

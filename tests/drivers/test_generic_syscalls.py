"""Syscalls the probe has no filler for arrive as the generic event (types 0/1, the syscall
named by its PPM_SC ID).  Current libs gives most of them a dedicated event type, so a rule
on ``evt.type=getcwd`` is indexed under getcwd's type and never saw the generic record: live,
the engine (and pysysdig's filter) also run such rules on the generic types, where
``evt.type`` still compares by name.  Checked offline on a built record, and live."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from scap import schema
from scap.engines.bpf import FILLED_SYSCALLS, GENERIC_SYSCALLS, widen_for_generic
from scap.testing import EventBuilder
from tests.drivers.conftest import requires_bpf
from tests.drivers.live import by_rule, run_pyfalco

PROBE = Path(__file__).resolve().parents[2] / "driver" / "bpf" / "probe.bpf.c"

RULE = """
- rule: Getcwd by marker
  desc: a syscall the probe records as the generic event
  condition: evt.type = getcwd and proc.name = {name}
  output: getcwd by %proc.name (%evt.type)
  priority: NOTICE
"""


def test_filled_list_is_the_probe_filler_table() -> None:
    if not PROBE.exists():
        pytest.skip(f"{PROBE} is not in this tree")
    table = set(re.findall(r"\[SCAP_NR_(\w+)\]\s*=\s*\(void \*\)&fill_", PROBE.read_text()))
    assert table == set(FILLED_SYSCALLS)
    assert "getcwd" in GENERIC_SYSCALLS and "openat" not in GENERIC_SYSCALLS


def test_kmod_filled_list_is_the_modules_fillers() -> None:
    from scap.engines.kmod import KMOD_FILLED_SYSCALLS, KMOD_GENERIC_SYSCALLS

    src = PROBE.parents[1] / "kmod" / "main.c"
    if not src.exists():
        pytest.skip(f"{src} is not in this tree")
    assert set(re.findall(r"SCAP_NR_(\w+)", src.read_text())) == set(KMOD_FILLED_SYSCALLS)
    assert "getcwd" in KMOD_GENERIC_SYSCALLS and "openat" not in KMOD_GENERIC_SYSCALLS
    assert KMOD_FILLED_SYSCALLS == FILLED_SYSCALLS  # the module caught up with the probe


def test_widen_adds_the_generic_types_only_for_generic_syscalls() -> None:
    getcwd = {t for t, i in enumerate(schema.EVENT_INFO_CURRENT) if i.name == "getcwd"}
    openat = {t for t, i in enumerate(schema.EVENT_INFO_CURRENT) if i.name == "openat"}
    assert widen_for_generic(getcwd) == frozenset(getcwd | {0, 1})
    assert widen_for_generic(openat) == frozenset(openat)
    assert widen_for_generic(None) is None


def _generic_getcwd_event():  # type: ignore[no-untyped-def]
    from sinsp import Inspector

    code = schema.SYSCALL_NAMES.index("getcwd")
    b = EventBuilder()
    rec = b.build(1, {"ID": code}, tid=7)  # thread 7 is made on demand

    class _Src:
        machine = None
        processes = interfaces = users = groups = ()

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(())

    insp = Inspector(_Src())
    evt = insp.process(rec)
    assert evt is not None and evt.thread is not None
    evt.thread.comm = "probecwd"
    return evt


def test_engine_runs_rules_of_generic_syscalls_on_generic_events() -> None:
    from engine import RuleEngine

    eng = RuleEngine()
    assert eng.load_string(RULE.format(name="probecwd")).successful
    evt = _generic_getcwd_event()
    assert eng.process(evt) == []  # indexed under getcwd's own type only
    eng.treat_as_generic(GENERIC_SYSCALLS)
    assert [m.rule for m in eng.process(evt)] == ["Getcwd by marker"]
    assert 1 in eng.wanted_types("syscall")
    # kept across a reload (SIGHUP)
    assert eng.load_string(RULE.format(name="probecwd")).successful
    assert [m.rule for m in eng.process(evt)] == ["Getcwd by marker"]


def _pwd_copy(tmp_path: Path, prefix: str) -> tuple[str, Path]:
    """A copy of coreutils' pwd (it calls getcwd, a syscall without a filler) under a name
    of our own, so rules and filters can pick its events by proc.name."""
    pwd = shutil.which("pwd")
    if pwd is None or os.path.realpath(pwd).endswith("busybox"):
        pytest.skip("needs coreutils pwd (it calls getcwd)")
    name = f"{prefix}{os.getpid() % 100000}"
    exe = tmp_path / name
    shutil.copy(os.path.realpath(pwd), exe)
    return name, exe


@pytest.mark.bpf
@pytest.mark.root
@pytest.mark.slow
@requires_bpf
def test_live_rule_on_a_syscall_without_filler(tmp_path: Path) -> None:
    name, exe = _pwd_copy(tmp_path, "cwd")
    rules = tmp_path / "r.yaml"
    rules.write_text(textwrap.dedent(RULE.format(name=name)))

    def actions() -> None:
        for _ in range(3):
            subprocess.run([str(exe)], check=True, stdout=subprocess.DEVNULL)

    alerts, log = run_pyfalco(rules, actions, ["Getcwd by marker"])
    hits = by_rule(alerts, log, "Getcwd by marker")
    assert hits[0]["output_fields"]["proc.name"] == name
    assert hits[0]["output_fields"]["evt.type"] == "getcwd"


@pytest.mark.bpf
@pytest.mark.root
@pytest.mark.slow
@requires_bpf
def test_live_pysysdig_filter_on_a_syscall_without_filler(tmp_path: Path) -> None:
    import sys
    import time

    name, exe = _pwd_copy(tmp_path, "sd")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "sinsp.sysdig_cli", "-n", "2", "-M", "60",
                             "-p", "%evt.type %proc.name", f"evt.type=getcwd and proc.name={name}"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # until -n 2 stops it
        subprocess.run([str(exe)], check=True, stdout=subprocess.DEVNULL)
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == [f"getcwd {name}"] * 2, (out, err)

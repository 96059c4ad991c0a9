"""The fields the upstream rules needed beyond sysdig 0.29.3 work end to end: rules using
``proc.is_exe_from_memfd``, ``proc.is_exe_upper_layer``, ``proc.exe_ino.*``,
``container.start_ts``, ``thread.cap_*`` and ``k8s.*`` fire on current-layout events and
format their outputs.

Our own small rules file runs always; with ``PYFALCO_UPSTREAM_RULES`` set (see
test_upstream_rules.py) the upstream ``falco_rules.yaml`` runs on the same events, and every
rule's output of every upstream file is formatted once, so no output field is unresolvable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sinsp" / "parsers"))
from _feed import MemorySource, builder, proc

from engine import RuleEngine
from engine.ruleset import RuleMatch
from scap.metadata import MachineInfo
from scap.schema import EVENT_INFO, EVENT_INFO_CURRENT
from scap.testing import EventBuilder, encode_param
from sinsp import Inspector
from sinsp.state.threads import EXE_FROM_MEMFD, EXE_UPPER_LAYER

UPSTREAM = os.environ.get("PYFALCO_UPSTREAM_RULES")
BOOT = 1_699_000_000_000_000_000
T0 = 1_700_000_000_000_000_000
CID = "feedbeef" * 8
PIDNS_START = BOOT + 7_000_000_000
CAP_SYS_ADMIN = 1 << 21
K8S = {"io.kubernetes.pod.name": "coredns-1", "io.kubernetes.pod.namespace": "kube-system",
       "io.kubernetes.pod.uid": "u-1"}

RULES = """
- macro: spawned
  condition: evt.type in (execve, execveat) and evt.dir=<
- rule: memfd exec
  desc: a binary executed from a memfd
  condition: spawned and proc.is_exe_from_memfd=true
  output: memfd (proc=%proc.name ino=%proc.exe_ino start=%container.start_ts)
  priority: CRITICAL
- rule: upper layer exec
  desc: a binary from the container's writable layer
  condition: spawned and container.id != host and proc.is_exe_upper_layer=true
  output: >
    upper (proc=%proc.name ctime=%proc.exe_ino.ctime
    since_ctime=%proc.exe_ino.ctime_duration_proc_start start=%container.start_ts
    ns=%k8s.ns.name pod=%k8s.pod.name)
  priority: CRITICAL
- rule: admin caps
  desc: a new image running with CAP_SYS_ADMIN in kube-system
  condition: spawned and thread.cap_effective contains CAP_SYS_ADMIN and k8s.ns.name=kube-system
  output: caps (caps=%thread.cap_effective pidns=%proc.pidns_init_start_ts)
  priority: WARNING
"""


def _execve(b: EventBuilder, tid: int, comm: str, flags: int, caps: int, ino: int,
            ctime: int, ts: int) -> Any:
    """execve exit in current libs' layout (30 params; 20+ appended past 0.29.3's table)."""
    values = {"res": 0, "exe": f"/tmp/{comm}", "args": b"", "tid": tid, "pid": tid, "ptid": 1,
              "cwd": "/", "fdlimit": 1024, "pgft_maj": 0, "pgft_min": 0, "vm_size": 0,
              "vm_rss": 0, "vm_swap": 0, "comm": comm, "cgroups": b"", "env": b"", "tty": 0,
              "vpgid": tid, "loginuid": 0, "flags": flags, "cap_inheritable": 0,
              "cap_permitted": caps, "cap_effective": caps, "exe_ino": ino,
              "exe_ino_ctime": ctime, "exe_ino_mtime": ctime, "uid": 0,
              "trusted_exepath": f"/tmp/{comm}", "pgid": tid, "gid": 0}
    n_old = len(EVENT_INFO[293].params)
    raw = [values[p.name] if i < n_old else encode_param(p.type, values[p.name], p)
           for i, p in enumerate(EVENT_INFO_CURRENT[293].params) if p.name in values]
    return b.build(293, raw, tid=tid, ts=ts)


def _events() -> list[Any]:
    """Host 300 execs from a memfd; container 200 (kube-system pod) execs a dropped binary
    from the upper layer with CAP_SYS_ADMIN."""
    b = builder()
    desc = {"container": {"id": CID[:12], "type": 7, "name": "coredns", "image": "coredns:1",
                          "imagerepo": "coredns", "labels": K8S, "Mounts": []}}
    recs = [
        b.build("CONTAINER_JSON_E", {"json": json.dumps(desc)}, tid=-1, ts=T0),
        _execve(b, 300, "memfd:x", EXE_FROM_MEMFD, 0, 41, T0 - 10, T0 + 1_000),
        _execve(b, 200, "dropper", EXE_UPPER_LAYER, CAP_SYS_ADMIN, 42, T0 - 2_000, T0 + 2_000),
    ]
    procs = [proc(1, ptid=0, comm="systemd"),
             proc(200, comm="sh", ptid=1, vtid=1, vpid=1, pidns_init_start_ts=PIDNS_START,
                  cgroups=[f"cpu=/kubepods/besteffort/pod1/{CID}"]),
             proc(300, comm="python3", ptid=1)]
    src = MemorySource(recs, procs)
    src.machine = MachineInfo(num_cpus=1, memory_size_bytes=1 << 30, max_pid=1 << 22,
                              hostname="h", boot_ts_epoch=BOOT)
    return [src]


def _alerts(eng: RuleEngine) -> list[tuple[int, str, str]]:
    out = []
    for evt in Inspector(_events()[0]):
        for m in eng.process(evt, source="syscall"):
            out.append((evt.tid, m.rule, eng.format_alert(m, evt).message))
    return out


def test_own_rules_fire_with_current_libs_fields() -> None:
    eng = RuleEngine()
    eng.rule_matching = "all"
    res = eng.load_string(RULES, "current_fields.yaml")
    assert res.successful, res.as_string()
    alerts = _alerts(eng)
    assert [(tid, rule) for tid, rule, _ in alerts] == [
        (300, "memfd exec"), (200, "upper layer exec"), (200, "admin caps")]
    assert alerts[0][2] == "memfd (proc=memfd:x ino=41 start=<NA>)"
    assert " ".join(alerts[1][2].split()) == (
        f"upper (proc=dropper ctime={T0 - 2_000} since_ctime=<NA> start={PIDNS_START} "
        "ns=kube-system pod=coredns-1)")
    assert alerts[2][2] == f"caps (caps=CAP_SYS_ADMIN pidns={PIDNS_START})"


def _upstream(name: str) -> Path:
    path = Path(UPSTREAM or "", name)
    if not UPSTREAM or not path.is_file():
        pytest.skip(f"PYFALCO_UPSTREAM_RULES does not hold {name}")
    return path


def test_upstream_memfd_and_drop_and_execute_rules_fire() -> None:
    eng = RuleEngine()
    res = eng.load_files([_upstream("falco_rules.yaml")])
    assert res.successful, res.as_string()
    alerts = _alerts(eng)
    by_rule = {rule: (tid, msg) for tid, rule, msg in alerts}
    tid, msg = by_rule["Fileless execution via memfd_create"]
    assert tid == 300 and "container_start_ts=<NA>" in msg and "process=memfd:x" in msg
    tid, msg = by_rule["Drop and execute new binary in container"]
    assert tid == 200
    assert f"proc_exe_ino_ctime={T0 - 2_000}" in msg and f"container_start_ts={PIDNS_START}" in msg


@pytest.mark.parametrize("name", ["falco_rules.yaml", "falco-incubating_rules.yaml",
                                  "falco-sandbox_rules.yaml"])
def test_every_upstream_output_formats(name: str) -> None:
    """Each syscall rule's output is formatted on a real event: no field is unknown and
    no extractor fails on the fields the rules print."""
    eng = RuleEngine()
    res = eng.load_files([_upstream(name)])
    assert res.successful, res.as_string()
    evts = []
    for evt in Inspector(_events()[0]):
        if evt.tid == 200 and evt.record.type == 293:
            evts.append(evt)
            for rule in eng.rules:
                if rule.source != "syscall":
                    continue
                m = RuleMatch(rule.name, rule.priority, rule.source, rule.tags, rule)
                alert = eng.format_alert(m, evt)
                assert "%" not in alert.message.replace("%%", ""), (rule.name, alert.message)
    assert evts

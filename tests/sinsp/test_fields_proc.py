"""proc./thread./container. extractors on hand-built state (no sysdig):
list-valued ancestor fields, cgroup keys, shells, probes, N/A rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "parsers"))
from _feed import builder, proc, replay

import sinsp.fields.container
import sinsp.fields.proc
import sinsp.fields.user  # noqa: F401
from sinsp.fields.registry import REGISTRIES

REG = REGISTRIES["syscall"]
CID = "feedfacecafe" + "0" * 52


def _chain():  # type: ignore[no-untyped-def]
    return [
        proc(1, ptid=0, comm="systemd"),
        proc(10, ptid=1, comm="sshd"),
        proc(20, ptid=10, comm="bash", sid=20),
        proc(30, ptid=20, comm="zsh", sid=20),
        proc(40, ptid=30, comm="python3", sid=20, args=["app.py", "-v"],
             cgroups=[f"cpu=/docker/{CID}", "memory=/m"]),
        proc(41, pid=40, ptid=30, comm="worker", sid=20),
    ]


def _extract(fields: list[str], tid: int = 41, recs=None, **kw):  # type: ignore[no-untyped-def]
    b = builder()
    recs = recs if recs is not None else []
    recs = [*recs, b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=tid)]
    _, rows = replay(recs, _chain(), probe=lambda e: [REG.extract(e, f) for f in fields], **kw)
    return rows[-1]


def test_ancestor_fields_with_and_without_index() -> None:
    assert _extract(["proc.aname[0]", "proc.aname[1]", "proc.aname[3]", "proc.aname[9]",
                     "proc.apid[2]", "proc.aname", "proc.apid"]) == [
        "python3", "zsh", "sshd", None, 20, ["zsh", "bash", "sshd", "systemd"], [30, 20, 10, 1]]


def test_thread_level_and_process_level_values() -> None:
    assert _extract(["thread.tid", "proc.pid", "thread.ismain", "proc.ppid", "proc.pname",
                     "proc.nthreads", "proc.nchilds", "proc.cmdline", "proc.exeline"]) == [
        41, 40, False, 30, "zsh", 2, 0, "worker", "/bin/worker "]
    assert _extract(["proc.nchilds", "proc.cmdline"], tid=40) == [1, "python3 app.py -v"]


def test_shell_session_and_cgroup_fields() -> None:
    assert _extract(["proc.loginshellid", "proc.sname", "thread.cgroup.memory",
                     "thread.cgroup.blkio", "thread.cgroups"], tid=40) == [
        20, "bash", "/m", None, f"cpu=/docker/{CID} memory=/m"]


def test_container_fields_and_probe_detection() -> None:
    b = builder()
    desc = {"container": {"id": CID[:12], "type": 0, "name": "app", "image": "py:3",
                          "healthcheck": {"exe": "/bin/python3", "args": ["app.py", "-v"]}}}
    recs = [b.build("CONTAINER_JSON_E", {"json": json.dumps(desc)}, tid=-1)]
    fields = ["container.id", "container.name", "container.image", "container.type",
              "container.healthcheck", "proc.is_container_healthcheck",
              "proc.is_container_liveness_probe", "container.liveness_probe"]
    assert _extract(fields, tid=40, recs=recs) == [
        CID[:12], "app", "py:3", "docker", "/bin/python3 app.py -v", True, False, "NONE"]
    assert _extract(["container.id", "container.name", "container.image"], tid=20) == [
        "host", "host", None]


def test_fields_without_a_thread_are_na_except_tid() -> None:
    b = builder()
    recs = [b.build("PROCINFO_E", {"cpu_usr": 1, "cpu_sys": 1}, tid=999)]
    _, rows = replay(recs, [], probe=lambda e: [REG.extract(e, f) for f in (
        "thread.tid", "proc.name", "user.uid", "container.id", "thread.exectime")])
    assert rows == [[999, None, None, None, 0]]

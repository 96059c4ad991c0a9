"""End to end: `pyfalco` running live on our probe, real actions, alerts with field values.

One pyfalco process (JSON output) watches while we: read /etc/shadow with `cat`; write below
/etc; open a bash reverse shell to a loopback listener; run bash on a pty (`script`); run a
process inside a cgroup laid out like docker's (`/docker/<64 hex>`) and one like a kubepods
pod, so `container.id` comes from the cgroups our probe reports.  The rules are inline (the
conditions of the upstream rules, narrowed to our markers) so the test is about the live path,
not the upstream ruleset.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.live import MEMCG, by_rule, in_cgroup, loopback_listener, run_pyfalco

pytestmark = [pytest.mark.bpf, pytest.mark.root, pytest.mark.slow, requires_bpf]

MARK = f"pfe2e{os.getpid()}"

RULES = f"""
- rule: e2e shadow read
  desc: an untrusted program reads /etc/shadow
  condition: >
    evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.name=/etc/shadow
    and proc.name=cat
  output: >
    shadow read (proc.name=%proc.name proc.pname=%proc.pname fd.name=%fd.name
    user.name=%user.name container.id=%container.id)
  priority: WARNING
- rule: e2e write below etc
  desc: a file opened for writing below /etc
  condition: >
    evt.type in (open, openat, openat2) and evt.is_open_write=true and fd.directory=/etc
    and fd.name contains {MARK}
  output: "write below etc (proc.name=%proc.name fd.name=%fd.name user.name=%user.name)"
  priority: ERROR
- rule: e2e reverse shell
  desc: bash connecting to a listener
  condition: evt.type=connect and evt.dir=< and proc.name=bash and fd.sip=127.0.0.1
  output: >
    reverse shell (proc.name=%proc.name proc.pname=%proc.pname fd.sip=%fd.sip
    fd.sport=%fd.sport fd.name=%fd.name)
  priority: WARNING
- rule: e2e shell with tty
  desc: a shell started on a terminal
  condition: >
    evt.type in (execve, execveat) and evt.dir=< and proc.name=bash and proc.tty!=0
    and proc.cmdline contains {MARK}tty
  output: "tty shell (proc.name=%proc.name proc.tty=%proc.tty proc.cmdline=%proc.cmdline)"
  priority: NOTICE
- rule: e2e container process
  desc: a process in a container cgroup
  condition: >
    evt.type in (execve, execveat) and evt.dir=< and container.id!=host
    and proc.cmdline contains {MARK}ctr
  output: >
    container process (proc.name=%proc.name container.id=%container.id
    proc.cmdline=%proc.cmdline)
  priority: NOTICE
"""


def _actions(port: int, docker_id: str, kube_id: str) -> None:
    subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
    target = Path(f"/etc/{MARK}.conf")
    subprocess.run(["sh", "-c", f"echo x > {target}"], check=True)
    target.unlink()
    shell = f"bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1 <&- & sleep 0.5; kill %1"
    subprocess.run(["bash", "-c", shell], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, timeout=10)
    subprocess.run(["script", "-qec", f"bash -c 'true {MARK}tty'", "/dev/null"],
                   stdout=subprocess.DEVNULL, check=False, timeout=10)
    in_cgroup(MEMCG / "docker" / docker_id, ["/bin/echo", f"{MARK}ctr-docker"])
    pod_uid = f"{secrets.token_hex(4)}-1111-2222-3333-444455556666"
    pod = MEMCG / "kubepods" / "besteffort" / f"pod{pod_uid}"
    try:
        in_cgroup(pod / kube_id, ["/bin/echo", f"{MARK}ctr-kube"])
    finally:
        for d in (pod, pod.parent, pod.parent.parent):
            try:
                d.rmdir()
            except OSError:
                break


@pytest.fixture(scope="module")
def alerts(tmp_path_factory):
    if not MEMCG.exists() or not os.access(MEMCG, os.W_OK):
        pytest.skip("cgroup v1 memory hierarchy not writable")
    if shutil.which("script") is None:
        pytest.skip("`script` (util-linux) not installed")
    rules = tmp_path_factory.mktemp("e2e") / "rules.yaml"
    rules.write_text(RULES)
    listener, port = loopback_listener()
    docker_id, kube_id = secrets.token_hex(32), secrets.token_hex(32)
    try:
        found, log = run_pyfalco(rules, lambda: _actions(port, docker_id, kube_id),
                                 [f"e2e {r}" for r in ("shadow read", "write below etc",
                                                       "reverse shell", "shell with tty",
                                                       "container process")])
    finally:
        listener.close()
    return {"alerts": found, "log": log, "docker": docker_id, "kube": kube_id, "port": port}


def _by_rule(alerts, rule):
    return by_rule(alerts["alerts"], alerts["log"], rule)


def test_shadow_read_by_untrusted_program(alerts):
    f = _by_rule(alerts, "e2e shadow read")[0]["output_fields"]
    assert f["proc.name"] == "cat" and f["fd.name"] == "/etc/shadow"
    assert f["user.name"] == "root" and f["container.id"] == "host"
    assert f["proc.pname"]  # the python test process (or its wrapper)


def test_write_below_etc(alerts):
    f = _by_rule(alerts, "e2e write below etc")[0]["output_fields"]
    assert f["proc.name"] == "sh" and f["fd.name"] == f"/etc/{MARK}.conf"


def test_bash_reverse_shell_to_loopback(alerts):
    f = _by_rule(alerts, "e2e reverse shell")[0]["output_fields"]
    assert f["proc.name"] == "bash" and f["proc.pname"] == "bash"
    assert f["fd.sip"] == "127.0.0.1" and int(f["fd.sport"]) == alerts["port"]
    assert f["fd.name"].endswith(f"->127.0.0.1:{alerts['port']}")


def test_shell_with_tty(alerts):
    f = _by_rule(alerts, "e2e shell with tty")[0]["output_fields"]
    assert f["proc.name"] == "bash" and int(f["proc.tty"]) != 0


def test_container_ids_from_docker_and_kubepods_cgroups(alerts):
    got = {a["output_fields"]["proc.cmdline"].split()[-1]: a["output_fields"]["container.id"]
           for a in _by_rule(alerts, "e2e container process")}
    assert got[f"{MARK}ctr-docker"] == alerts["docker"][:12]
    assert got[f"{MARK}ctr-kube"] == alerts["kube"][:12]

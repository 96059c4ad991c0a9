"""End to end: flags that do not need a capture. Conflicting options (Falco's messages), -V on
valid and broken rules (exit status, text and JSON), -L/-l, --version, --support, --list,
--dry-run, -o errors, --pidfile."""
from __future__ import annotations

import json
import os

import pytest

from tests.cli._run import pyfalco, rules_file

GOOD = [{"rule": "Shell", "desc": "a shell was spawned by a program",
         "condition": "evt.type = execve and evt.dir=< and proc.name = bash",
         "output": "shell (proc=%proc.name)", "priority": "WARNING", "tags": ["shell"]},
        {"macro": "is_open", "condition": "evt.type in (open, openat)"},
        {"rule": "Open", "desc": "open", "condition": "is_open and evt.dir=<",
         "output": "open %fd.name", "priority": "INFO"}]


@pytest.fixture
def good(tmp_path):
    return rules_file(tmp_path / "good.yaml", GOOD)


@pytest.fixture
def broken(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("- rule: Broken\n  desc: d\n  condition: evt.type = open and (\n"
                 "  output: o\n  priority: WARNING\n")
    return p


@pytest.mark.parametrize("args,msg", [
    (["-D", "x", "-t", "y"], "You can not specify both disabled (-D/-T) and enabled (-t) rules"),
    (["-T", "x", "-t", "y"], "You can not specify both disabled (-D/-T) and enabled (-t) rules"),
    (["-e", "f.scap", "--nodriver"], "You can not specify more than one of -e, -u (--userspace), "
     "-g (--gvisor-config), --modern-bpf, --nodriver, and the FALCO_BPF_PROBE env var"),
    (["-e", "f.scap", "--modern-bpf"], "You can not specify more than one of -e, -u (--userspace), "
     "-g (--gvisor-config), --modern-bpf, --nodriver, and the FALCO_BPF_PROBE env var"),
    (["--enable-source", "syscall", "--disable-source", "k8s_audit"],
     "You can not mix --enable-source and --disable-source"),
    (["-d"], "If -d is provided, a pid file must also be provided"),
    (["--enable-source", "nope"], "Attempted enabling an unknown event source: nope"),
])
def test_conflicting_options(args, msg):
    res = pyfalco(*args)
    assert res.returncode == 1
    assert res.stderr == f"Error: {msg}\n"
    assert res.stdout == ""


def test_validate_ok_text(good):
    res = pyfalco("-V", str(good))
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{good}: Ok\n"


def test_validate_ok_json(good):
    res = pyfalco("-V", str(good), "-o", "json_output=true")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc == {"falco_load_results": [{"name": str(good), "successful": True,
                                           "errors": [], "warnings": []}]}


def test_validate_broken(broken, good):
    res = pyfalco("-V", str(good), "-V", str(broken))
    assert res.returncode == 1
    assert f"{broken}: Invalid" in res.stdout
    assert "LOAD_ERR_" in res.stdout
    assert f"Error: {good}: Ok\n{broken}: Invalid" in res.stderr


def test_validate_broken_json(broken):
    res = pyfalco("-V", str(broken), "-o", "json_output=true")
    assert res.returncode == 1
    doc = json.loads(res.stdout.splitlines()[0])
    (r,) = doc["falco_load_results"]
    assert r["name"] == str(broken) and r["successful"] is False
    assert r["errors"] and r["errors"][0]["code"].startswith("LOAD_ERR_")
    assert r["errors"][0]["context"]["locations"]


def test_validate_missing_file():
    res = pyfalco("-V", "/nonexistent/rules.yaml")
    assert res.returncode == 1
    assert "Error: Could not open file /nonexistent/rules.yaml for reading" in res.stderr


def test_broken_rules_file_at_startup(broken):
    res = pyfalco("-r", str(broken), "--dry-run")
    assert res.returncode == 1
    assert "Invalid" in res.stderr and "Error: " in res.stderr


def test_describe_all_rules(good):
    res = pyfalco("-r", str(good), "-L")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"{'Rule':<50} Description"
    assert lines[1] == f"{'----':<50} -----------"
    assert lines[2] == f"{'Shell':<50} a shell was spawned by a program "
    assert lines[4] == f"{'Open':<50} open "


def test_describe_one_rule_json(good):
    res = pyfalco("-r", str(good), "-l", "Shell", "-o", "json_output=true")
    assert res.returncode == 0, res.stderr
    (r,) = json.loads(res.stdout)["rules"]
    assert r["info"]["name"] == "Shell" and r["info"]["priority"] == "Warning"
    assert r["info"]["tags"] == ["shell"]


def test_describe_unknown_rule(good):
    res = pyfalco("-r", str(good), "-l", "Nope")
    assert res.returncode == 1 and "Nope" in res.stderr


def test_version_text_and_json():
    res = pyfalco("--version")
    assert res.returncode == 0
    assert res.stdout.splitlines()[0].startswith("Falco version: ")
    assert "  Schema version: " in res.stdout
    doc = json.loads(pyfalco("--version", "-o", "json_output=true").stdout)
    assert {"falco_version", "engine_version", "driver_api_version"} <= set(doc)


def test_support(good, tmp_path):
    cfg = tmp_path / "falco.yaml"
    cfg.write_text("json_output: false\n")
    res = pyfalco("-c", str(cfg), "-r", str(good), "--support")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["config"] == "json_output: false\n"
    assert doc["rules_files"] == [{"name": str(good), "variants": [{"content": good.read_text()}]}]
    assert set(doc["system_info"]) == {"sysname", "nodename", "release", "version", "machine"}
    assert "--support" in doc["cmdline"]


def test_list_fields():
    res = pyfalco("--list")
    assert res.returncode == 0, res.stderr
    assert "Field Class:                  " in res.stdout
    assert "\nproc.name                     " in res.stdout
    names = pyfalco("--list", "syscall", "-N").stdout.splitlines()
    assert "proc.name" in names and "fd.name" in names


def test_list_unknown_source():
    res = pyfalco("--list", "nosuchsource")
    assert res.returncode == 1
    assert "nosuchsource" in res.stderr


def test_dry_run(good):
    res = pyfalco("-r", str(good), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("opt,needle", [
    ("webserver.listen_port=http", "-o: webserver.listen_port: expected an integer"),
    ("json_output=perhaps", "-o: json_output: expected a boolean"),
    ("noequals", "must be in the form key=value"),
])
def test_bad_overrides(good, opt, needle):
    res = pyfalco("-r", str(good), "--dry-run", "-o", opt)
    assert res.returncode == 1
    assert needle in res.stderr


def test_unknown_config_key_warns(good):
    res = pyfalco("-r", str(good), "--dry-run", "-o", "json_ouptut=true")
    assert res.returncode == 0
    assert "Unknown configuration key 'json_ouptut' ignored" in res.stderr


def test_missing_config_file():
    res = pyfalco("-c", "/nonexistent/falco.yaml", "--version")
    assert res.returncode == 1
    assert res.stderr == "Error: Could not find configuration file at /nonexistent/falco.yaml\n"


def test_pidfile_written_and_removed(good, tmp_path):
    pid = tmp_path / "falco.pid"
    res = pyfalco("-r", str(good), "--dry-run", "--pidfile", str(pid))
    assert res.returncode == 0, res.stderr
    assert not pid.exists()       # removed on exit; written while running (see test_e2e_signals)
    assert os.path.isdir(tmp_path)


def test_list_k8s_audit():
    res = pyfalco("--list", "k8s_audit", "-N")
    assert res.returncode == 0, res.stderr
    names = res.stdout.splitlines()
    assert "ka.verb" in names and "ka.user.name" in names
    assert "proc.name" not in names


def test_falco_hostname_env(tmp_path):
    import os
    rules = rules_file(tmp_path / "r.yaml", [
        {"rule": "Any open", "desc": "d", "condition": "evt.type in (open, openat) and evt.dir=<",
         "output": "o", "priority": "INFO"}])
    env = dict(os.environ, FALCO_HOSTNAME="pyfalco-test-host")
    res = pyfalco("-r", str(rules), "-e", "/work/shared/traces/syscalls/syscall.scap",
                  "-o", "json_output=true", env=env)
    assert res.returncode == 0, res.stderr
    alerts = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert alerts and {a["hostname"] for a in alerts} == {"pyfalco-test-host"}

"""CLI follow-ups: built-in plugins, the k8s_audit source alone, engine.kind=kmod, -pk with the
k8s.* fields, counters with two sources at once, describe JSON, --explain. Each runs the
installed ``pyfalco`` (or the unit) on real data: the captures and audit logs under
/work/shared/traces, rules/*.yaml, or captures built here and read back by sysdig 0.29.3."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from _run import ROOT, TRACES, alert_lines, pyfalco, summary

K8S_TRACES = Path("/work/shared/traces/k8s_audit")
K8S_RULES = ROOT / "rules" / "k8s_audit_rules.yaml"
FALCO_RULES = ROOT / "rules" / "falco_rules.yaml"
CAT = TRACES / "cat_write.scap"
needs_k8s = pytest.mark.skipif(not (K8S_TRACES / "attach_pod.json").exists(),
                               reason=f"no k8s audit traces in {K8S_TRACES}")
needs_cat = pytest.mark.skipif(not CAT.exists(), reason=f"no {CAT}")


def _sysdig_or_skip() -> None:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig 0.29.3 (the reference) is not installed")


def k8s_conf(tmp_path: Path, open_params: str, extra: str = "") -> Path:
    conf = tmp_path / "falco.yaml"
    conf.write_text(f"""
plugins:
  - name: k8saudit
    open_params: "{open_params}"
  - name: json
load_plugins: [k8saudit, json]
rules_files: [{K8S_RULES}]
{extra}
""")
    return conf


# -- 1. k8saudit/json are built in: no "not supported" warning -----------------------------


def test_builtin_plugins_do_not_warn() -> None:
    from falco_cli import config
    c = config.load(None, ["load_plugins[]=k8saudit", "load_plugins[]=json"])
    assert not [w for w in c.warnings if "lugin" in w]
    c = config.load(None, ["load_plugins[]=k8saudit", "load_plugins[]=cloudtrail"])
    assert [w for w in c.warnings if "lugin" in w] == [
        "Plugin 'cloudtrail' is not supported by pyfalco and is ignored (only k8saudit, json "
        "are built in)"]
    # empty load_plugins: the configured plugins are judged (k8saudit variants included)
    c = config.load(None, ["plugins[0].name=k8saudit-eks", "plugins[1].name=okta"])
    assert [w for w in c.warnings if "lugin" in w] == [
        "Plugin 'okta' is not supported by pyfalco and is ignored (only k8saudit, json are "
        "built in)"]


# -- 2. --disable-source syscall with a k8saudit plugin -------------------------------------


@needs_k8s
def test_disable_syscall_runs_k8s_audit_alone(tmp_path: Path) -> None:
    conf = k8s_conf(tmp_path, str(K8S_TRACES / "attach_pod.json"))
    res = pyfalco("-c", str(conf), "--disable-source", "syscall")
    assert res.returncode == 0, res.stderr
    assert "not supported" not in res.stderr
    assert summary(res.stdout).endswith("Attach/Exec Pod: 1\n")
    # no k8saudit plugin configured: nothing left to run
    res = pyfalco("--disable-source", "syscall")
    assert res.returncode == 1
    assert "Must enable at least one event source" in res.stderr


# -- 3. engine.kind=kmod -------------------------------------------------------------------


def test_kmod_missing_device_is_a_clear_error() -> None:
    if os.path.exists("/dev/pyfalco0"):
        pytest.skip("the pyfalco kernel module is loaded here")
    res = pyfalco("-o", "engine.kind=kmod", "-M", "1")
    assert res.returncode == 1
    err = res.stderr
    assert "Error: Unable to open the kernel module (engine.kind=kmod)" in err
    assert "/dev/pyfalco0" in err and "insmod driver/kmod/pyfalco.ko" in err
    assert "falling back" not in err  # no silent fallback to another driver


# -- 4. -pk: Falco's k8s suffix from the k8s.* fields ---------------------------------------

FULL = "ab12" * 16
K8S_LABELS = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
              "io.kubernetes.pod.uid": "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"}
READ_RULE = """
- rule: Read
  desc: every read
  condition: evt.type = read and evt.dir = >
  output: "read by tid %thread.tid"
  priority: NOTICE
"""


def _k8s_capture(path: Path, n_reads: int = 1) -> None:
    from scap import ProcInfo
    from scap.testing import EventBuilder, write_capture
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=40)
    cont = {"id": FULL[:12], "full_id": FULL, "type": 7, "name": "nginx",
            "image": "nginx:1.25", "Mounts": [], "labels": K8S_LABELS}
    recs = [b.build("CONTAINER_JSON_E", {"json": json.dumps({"container": cont})}, tid=-1)]
    for i in range(n_reads):
        recs.append(b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=(40, 70)[i % 2]))
    procs = [ProcInfo(tid=t, pid=t, ptid=1, comm=c, exe=f"/bin/{c}", cwd="/", fdlimit=1024,
                      sid=t, vtid=t, vpid=t, cgroups=cg)
             for t, c, cg in ((1, "systemd", []),
                              (40, "nginx", [f"cpu=/kubepods/besteffort/pod3e41/{FULL}"]),
                              (70, "bash", []))]
    write_capture(path, recs, processes=procs)


@pytest.mark.sysdig
def test_print_kubernetes_suffix(tmp_path: Path) -> None:
    _sysdig_or_skip()
    cap = tmp_path / "k8s.scap"
    _k8s_capture(cap, n_reads=2)
    rules = tmp_path / "r.yaml"
    rules.write_text(READ_RULE)
    from falco_cli.app import PRINT_K8S
    # Falco's -pk suffix (app options: "k8s.ns=%k8s.ns.name k8s.pod=%k8s.pod.name
    # container=%container.id"), rendered by the reference on the same events
    want = subprocess.run(["sysdig", "-r", str(cap), "-p", "*" + PRINT_K8S,
                           "evt.type=read and evt.dir=>"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert want == ["k8s.ns=shop k8s.pod=web-0 container=" + FULL[:12],
                    "k8s.ns=<NA> k8s.pod=<NA> container=host"]
    plain = alert_lines(pyfalco("-r", str(rules), "-e", str(cap)).stdout)
    for flag in ("-pk", "-pkubernetes"):
        res = pyfalco("-r", str(rules), "-e", str(cap), flag)
        assert res.returncode == 0, res.stderr
        assert alert_lines(res.stdout) == [f"{a} {w}" for a, w in zip(plain, want, strict=True)]
    res = pyfalco("-r", str(rules), "-e", str(cap), "-pk", "-o", "json_output=true")
    fields = json.loads(alert_lines(res.stdout)[0])["output_fields"]
    assert (fields["k8s.ns.name"], fields["k8s.pod.name"]) == ("shop", "web-0")

    # a rule output with %container.info: -pk replaces it there instead of appending
    # (Falco's apply_output_substitutions); other -p formats are appended after the default
    rules.write_text(READ_RULE.replace('"read by tid %thread.tid"',
                                       '"read by tid %thread.tid %container.info end"'))
    tids = subprocess.run(["sysdig", "-r", str(cap), "-p", "%thread.tid",
                           "evt.type=read and evt.dir=>"], capture_output=True, text=True,
                          check=True).stdout.split()
    res = pyfalco("-r", str(rules), "-e", str(cap), "-pk")
    assert res.returncode == 0, res.stderr
    got = [line.split(": Notice ", 1)[1] for line in alert_lines(res.stdout)]
    assert got == [f"read by tid {t} {w} end" for t, w in zip(tids, want, strict=True)]
    res = pyfalco("-r", str(rules), "-e", str(cap), "-p", "x=%thread.tid")
    got = [line.split(": Notice ", 1)[1] for line in alert_lines(res.stdout)]
    assert got[0] == (f"read by tid {tids[0]} container_id={FULL[:12]} container_name=nginx end "
                      f"x={tids[0]}")


# -- 5. counters with the syscall and the k8s_audit source at once ---------------------------


@needs_k8s
def test_counters_with_both_sources_at_once(tmp_path: Path, monkeypatch: Any) -> None:
    """Both loops count into one State; every alert the outputs got is in the summary, and
    the syscall side, which runs to its end, is counted exactly."""
    from engine import RuleEngine
    from falco_cli import app, k8s_source
    from falco_cli.outputs import OutputHub

    n_reads = 6000
    cap = tmp_path / "reads.scap"
    _k8s_capture(cap, n_reads=n_reads)
    audit = tmp_path / "audit.json"
    line = (K8S_TRACES / "attach_pod.json").read_text().strip()
    assert "\n" not in line  # one event per line
    audit.write_text((line + "\n") * 3000)
    rules = tmp_path / "r.yaml"
    rules.write_text(READ_RULE)

    calls = {"syscall": 0, "k8s_audit": 0}
    emitted: list[str] = []
    lock = threading.Lock()
    real_process = RuleEngine.process

    def process(self: Any, evt: Any, source: str = "syscall") -> Any:
        with lock:
            calls[source] += 1
        return real_process(self, evt, source)

    state: list[Any] = []
    unlocked: list[str] = []

    def emit(self: Any, alert: Any) -> None:
        # both loops must count and emit under the state lock (CPython's GIL hides most lost
        # updates, so check the discipline itself, not only the totals)
        if not state[0].lock.locked():
            unlocked.append(alert.source)
        with lock:
            emitted.append(alert.rule)

    monkeypatch.setattr(RuleEngine, "process", process)
    monkeypatch.setattr(OutputHub, "emit", emit)
    monkeypatch.setattr(k8s_source, "select", lambda s: k8s_source.K8sOpen(
        "file", path=str(audit), alongside=True))
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads often: lost updates show up if unlocked
    try:
        s = app.State(app.Options(trace_filename=str(cap),
                                  rules_filenames=[str(rules), str(K8S_RULES)],
                                  overrides=["webserver.enabled=false", "log_syslog=false",
                                             "syslog_output.enabled=false",
                                             "stdout_output.enabled=false"]))
        import io
        s.stdout = io.StringIO()
        state.append(s)
        res = app.run(s)
    finally:
        sys.setswitchinterval(old)
    assert res.success, res.errstr
    assert calls["syscall"] == n_reads            # (the container event is internal)
    assert calls["k8s_audit"] > 0
    assert unlocked == []
    assert s.n_evts == calls["syscall"] + calls["k8s_audit"]
    assert s.by_rule["Read"] == n_reads
    assert s.by_rule["Attach/Exec Pod"] == emitted.count("Attach/Exec Pod") > 0
    assert sum(s.by_rule.values()) == sum(s.by_priority.values()) == len(emitted)
    text = s.stdout.getvalue()
    assert f"Events detected: {len(emitted)}\n" in text
    assert f"   Read: {n_reads}\n" in text


# -- 6. -L / -l with json_output -------------------------------------------------------------


def _yaml_items(path: Path) -> tuple[dict[str, str], dict[str, list[str]], dict[str, Any]]:
    doc = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # scalars as written (true)
    macros = {d["macro"]: d["condition"] for d in doc if "macro" in d}
    lists = {d["list"]: d["items"] for d in doc if "list" in d}
    rules = {d["rule"]: d for d in doc if "rule" in d}
    return macros, lists, rules


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_.\-]*", text))


def _refs(cond: str) -> set[str]:
    """Bare words outside value lists (``in (dup, ...)`` names event types, not the macro
    ``dup``): the names a condition uses as macros; list names inside ``(...)`` are lists."""
    return _words(re.sub(r"\b(in|intersects|pmatch)\s*\([^()]*\)", " ", cond))


def test_describe_all_json_has_rules_macros_lists() -> None:
    res = pyfalco("-r", str(FALCO_RULES), "-L", "-o", "json_output=true")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    macros, lists, rules = _yaml_items(FALCO_RULES)
    assert set(out) == {"required_engine_version", "required_plugin_versions", "rules",
                        "macros", "lists"}
    assert [m["info"]["name"] for m in out["macros"]] == list(macros)
    assert [lst["info"]["name"] for lst in out["lists"]] == list(lists)
    assert [r["info"]["name"] for r in out["rules"]] == list(rules)
    for m in out["macros"]:
        assert m["info"]["condition"] == macros[m["info"]["name"]]
        assert set(m["details"]["macros"]) == _refs(m["info"]["condition"]) & set(macros)
    names_in_rules: set[str] = set()
    for r in out["rules"]:
        raw = rules[r["info"]["name"]]
        info, det = r["info"], r["details"]
        assert info["condition"] == raw["condition"]
        assert info["output"] == raw["output"].strip()  # Falco trims outputs
        assert info["priority"].upper()[:4] == raw["priority"].upper()[:4]  # INFO(RMATIONAL)
        words = _words(raw["condition"])
        assert set(det["macros"]) == _refs(raw["condition"]) & set(macros)
        assert set(det["lists"]) == words & set(lists)
        # the compiled condition has every macro expanded
        assert not _refs(det["condition_compiled"]) & set(macros)
        out_refs = set(re.findall(r"%([A-Za-z_][\w.\-]*(?:\[[^\]]*\])?)", raw["output"]))
        if "container.info" in out_refs:   # Falco's default for it: id and name
            out_refs = (out_refs - {"container.info"}) | {"container.id", "container.name"}
        assert set(det["output_fields"]) == out_refs
        assert "evt.type" in det["condition_fields"] or det["events"]
        names_in_rules |= set(det["macros"])
    for m in out["macros"]:   # a macro named by a rule is used
        if m["info"]["name"] in names_in_rules:
            assert m["details"]["used"] is True
    for lst in out["lists"]:  # items_compiled: the list with the lists it names expanded
        name = lst["info"]["name"]
        expanded: list[str] = []
        for item in lists[name]:
            if item in lst["details"]["lists"]:
                expanded.extend(_expand(item, lists))
            else:
                expanded.append(item)
        assert lst["details"]["items_compiled"] == expanded
        assert set(lst["info"]["items"]) | set(lst["details"]["lists"]) == set(lists[name])


def _expand(name: str, lists: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    for item in lists[name]:
        out.extend(_expand(item, lists) if item in lists else [item])
    return out


def test_describe_one_rule_json_details() -> None:
    res = pyfalco("-r", str(K8S_RULES), "-l", "Attach/Exec Pod", "-o", "json_output=true")
    assert res.returncode == 0, res.stderr
    (r,) = json.loads(res.stdout)["rules"]
    assert r["info"]["source"] == "k8s_audit" and r["details"]["plugins"][0] == "k8saudit"
    assert "ka.target.subresource" in r["details"]["condition_fields"]
    assert "ka.uri.param[command]" in r["details"]["output_fields"]
    assert set(r["details"]["macros"]) == {"ka_started", "ka_pod_sub", "ka_create"}
    assert "in" in r["details"]["condition_operators"]


# -- 7. --explain ----------------------------------------------------------------------------

OPEN_RULE = """
- macro: opened
  condition: evt.type in (open, openat) and evt.dir = <
- rule: Open etc
  desc: open of a file under /etc
  condition: opened and fd.name startswith /etc
  output: "open %fd.name by %proc.name"
  priority: WARNING
"""
OPEN_FILTER = "evt.type in (open, openat) and evt.dir = < and fd.name startswith /etc"


@pytest.mark.sysdig
@needs_cat
def test_explain_every_match(tmp_path: Path) -> None:
    _sysdig_or_skip()
    rules = tmp_path / "r.yaml"
    rules.write_text(OPEN_RULE)
    want = subprocess.run(["sysdig", "-r", str(CAT), "-p", "%evt.num %fd.name", OPEN_FILTER],
                          capture_output=True, text=True, check=True).stdout.split()
    assert len(want) == 2
    res = pyfalco("-r", str(rules), "-e", str(CAT), "--explain", "Open etc")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"event evt.num={want[0]} ")
    assert lines[1:] == [
        "rule 'Open etc': MATCH",
        "  [+] and",
        "    [+] macro opened: and",
        "      [+] evt.type in (open, openat)    [evt.type=open]",
        "      [+] evt.dir = <    [evt.dir=<]",
        f"    [+] fd.name startswith /etc    [fd.name={want[1]}]"]
    assert "Events detected" not in res.stdout  # explains and exits
    js = pyfalco("-r", str(rules), "-e", str(CAT), "--explain", "Open etc",
                 "-o", "json_output=true")
    (doc,) = [json.loads(x) for x in js.stdout.splitlines()]
    assert doc["event"]["evt.num"] == int(want[0]) and doc["matched"] is True


@pytest.mark.sysdig
@needs_cat
def test_explain_one_event_that_does_not_match(tmp_path: Path) -> None:
    _sysdig_or_skip()
    rules = tmp_path / "r.yaml"
    rules.write_text(OPEN_RULE)
    # an open of a file outside /etc, as sysdig numbers it
    num, name = subprocess.run(
        ["sysdig", "-r", str(CAT), "-p", "%evt.num %fd.name",
         "evt.type in (open, openat) and evt.dir = < and not fd.name startswith /etc"],
        capture_output=True, text=True, check=True).stdout.splitlines()[0].split()
    res = pyfalco("-r", str(rules), "-e", str(CAT), "--explain", "Open etc",
                  "--explain-event", num)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith(f"event evt.num={num} ")
    assert lines[1] == "rule 'Open etc': no match"
    assert lines[-1] == f"    [-] fd.name startswith /etc    [fd.name={name}]"
    assert "    [+] macro opened: and" in lines


@needs_k8s
def test_explain_k8s_audit_and_errors(tmp_path: Path) -> None:
    audit = str(K8S_TRACES / "attach_pod.json")
    res = pyfalco("-r", str(K8S_RULES), "-e", audit, "--explain", "Attach/Exec Pod")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1] == "rule 'Attach/Exec Pod': MATCH"
    assert "[ka.target.subresource=exec]" in res.stdout or \
        "[ka.target.subresource=attach]" in res.stdout
    bad = pyfalco("-r", str(K8S_RULES), "-e", audit, "--explain", "No such rule")
    assert bad.returncode == 1 and "Rule named 'No such rule' not found" in bad.stderr
    bad = pyfalco("-r", str(K8S_RULES), "--explain", "Attach/Exec Pod")
    assert bad.returncode == 1 and "--explain needs a trace file" in bad.stderr
    bad = pyfalco("-r", str(K8S_RULES), "-e", audit, "--explain-event", "1")
    assert bad.returncode == 1 and "--explain-event needs --explain" in bad.stderr
    bad = pyfalco("-r", str(K8S_RULES), "-e", audit, "--explain", "Attach/Exec Pod",
                  "--explain-event", "99")
    assert bad.returncode == 1 and "Event 99 not found" in bad.stderr

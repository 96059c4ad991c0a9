"""ka.*, json.*/jevt.* and evt.* of the k8s_audit registry.

Expected values are computed from the event JSON itself (or written into the hand-made event),
never copied from our own output.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from k8s_helpers import make_event, trace, trace_files

from sinsp.fields.registry import REGISTRIES, FieldArgumentError, UnknownFieldError
from sinsp.filter import compile_filter
from sinsp.k8saudit import REGISTRY, AuditEvent, parse_value, read_audit_events

# the field names of falcosecurity/plugins k8saudit fields.go and json plugin (facts, not code)
UPSTREAM_KA = """ka.auditid ka.stage ka.auth.decision ka.auth.reason ka.user.name ka.user.groups
ka.impuser.name ka.verb ka.uri ka.uri.param ka.target.name ka.target.namespace ka.target.resource
ka.target.subresource ka.req.binding.subjects ka.req.binding.role ka.req.binding.subject.has_name
ka.req.configmap.name ka.req.configmap.obj ka.req.pod.containers.image ka.req.container.image
ka.req.pod.containers.image.repository ka.req.container.image.repository ka.req.pod.host_ipc
ka.req.pod.host_network ka.req.container.host_network ka.req.pod.host_pid
ka.req.pod.containers.host_port ka.req.pod.containers.privileged ka.req.container.privileged
ka.req.pod.containers.allow_privilege_escalation ka.req.pod.containers.read_only_fs
ka.req.pod.run_as_user ka.req.pod.containers.run_as_user ka.req.pod.containers.eff_run_as_user
ka.req.pod.run_as_group ka.req.pod.containers.run_as_group ka.req.pod.containers.eff_run_as_group
ka.req.pod.containers.proc_mount ka.req.role.rules ka.req.role.rules.apiGroups
ka.req.role.rules.nonResourceURLs ka.req.role.rules.verbs ka.req.role.rules.resources
ka.req.pod.fs_group ka.req.pod.supplemental_groups ka.req.pod.containers.add_capabilities
ka.req.service.type ka.req.service.ports ka.req.pod.volumes.hostpath ka.req.volume.hostpath
ka.req.pod.volumes.flexvolume_driver ka.req.pod.volumes.volume_type ka.resp.name
ka.response.code ka.response.reason ka.useragent ka.sourceips""".split()
UPSTREAM_JSON = "json.value json.obj json.rawtime jevt.value jevt.obj jevt.rawtime".split()


def ev(data: dict[str, Any]) -> AuditEvent:
    (evt,) = parse_value(data).events
    return evt


def x(evt: AuditEvent, name: str) -> Any:
    return REGISTRY.extract(evt, name)


def js(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


# -- registry -------------------------------------------------------------------------------


def test_registry_has_every_upstream_field() -> None:
    assert REGISTRIES["k8s_audit"] is REGISTRY
    names = set(REGISTRY.names())
    assert set(UPSTREAM_KA) <= names
    assert set(UPSTREAM_JSON) <= names
    assert {"jevt.time", "jevt.time.iso8601", "evt.time", "evt.num"} <= names


def test_argument_rules() -> None:
    for name in ("ka.uri.param", "jevt.value", "ka.req.volume.hostpath",
                 "ka.req.binding.subject.has_name"):
        with pytest.raises(FieldArgumentError):
            REGISTRY.resolve(name)
    with pytest.raises(FieldArgumentError):
        REGISTRY.resolve("ka.req.pod.containers.image[first]")
    with pytest.raises(FieldArgumentError):
        REGISTRY.resolve("ka.verb[0]")
    assert REGISTRY.resolve("ka.req.pod.containers.image[1]")[1] == 1
    with pytest.raises(UnknownFieldError):
        REGISTRY.resolve("ka.nope")


def test_list_cli_shows_k8s_fields() -> None:
    exe = pathlib.Path(sys.executable).parent / "pyfalco"
    if not exe.exists():
        pytest.skip("the pyfalco script is not installed next to this interpreter")
    proc = subprocess.run([str(exe), "--list", "k8s_audit", "-N"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = set(proc.stdout.split())
    assert "ka.uri.param[key]" in listed and "jevt.value[/pointer]" in listed
    assert "ka.req.pod.containers.image[N]" in listed and "ka.verb" in listed
    assert "proc.name" not in listed


# -- values from the real traces -------------------------------------------------------------


def _containers(d: dict[str, Any]) -> list[dict[str, Any]]:
    return d.get("requestObject", {}).get("spec", {}).get("containers", [])


def test_plain_fields_on_every_trace() -> None:
    files = trace_files()
    if not files:
        pytest.skip("no traces")
    seen = 0
    for f in files:
        for evt in read_audit_events(f, on_error=lambda e: None):
            d = evt.data
            seen += 1
            assert x(evt, "ka.auditid") == d["auditID"]
            assert x(evt, "ka.stage") == d["stage"]
            assert x(evt, "ka.verb") == d["verb"]
            assert x(evt, "ka.uri") == d["requestURI"]
            assert x(evt, "ka.user.name") == d["user"]["username"]
            assert x(evt, "ka.user.groups") == (d["user"].get("groups") or None)
            assert x(evt, "ka.target.resource") == d["objectRef"]["resource"]
            assert x(evt, "ka.target.name") == d["objectRef"].get("name")
            assert x(evt, "ka.target.namespace") == d["objectRef"].get("namespace")
            assert x(evt, "ka.target.subresource") == d["objectRef"].get("subresource")
            assert x(evt, "ka.response.code") == str(d["responseStatus"]["code"])
            assert x(evt, "ka.auth.decision") == d["annotations"]["authorization.k8s.io/decision"]
            assert x(evt, "ka.sourceips") == d.get("sourceIPs")
            assert x(evt, "jevt.value[/stage]") == d["stage"]
            assert x(evt, "jevt.value[/objectRef/resource]") == d["objectRef"]["resource"]
            assert json.loads(x(evt, "jevt.obj")) == d
            assert x(evt, "jevt.rawtime") == str(evt.ts) == x(evt, "json.rawtime")
            cs = _containers(d)
            if cs:
                imgs = [c["image"] for c in cs]
                assert x(evt, "ka.req.pod.containers.image") == imgs
                assert x(evt, "ka.req.container.image") == imgs[0]
                assert x(evt, "ka.req.pod.containers.image.repository") == [
                    i.split(":")[0] for i in imgs]
                for i, img in enumerate(imgs):
                    assert x(evt, f"ka.req.pod.containers.image[{i}]") == [img]
                assert x(evt, f"ka.req.pod.containers.image[{len(imgs)}]") is None
                priv = [str(c["securityContext"]["privileged"]).lower() for c in cs
                        if "privileged" in c.get("securityContext", {})]
                assert x(evt, "ka.req.pod.containers.privileged") == (priv or None)
                assert x(evt, "ka.req.container.privileged") == (
                    "true" if "true" in priv else "false")
                paths = [v["hostPath"]["path"]
                         for v in d["requestObject"]["spec"].get("volumes", [])
                         if "hostPath" in v]
                assert x(evt, "ka.req.pod.volumes.hostpath") == (paths or None)
                net = d["requestObject"]["spec"].get("hostNetwork")
                assert x(evt, "ka.req.pod.host_network") == (None if net is None else js(net))
            else:
                assert x(evt, "ka.req.pod.containers.image") is None
                assert x(evt, "ka.req.container.privileged") is None
    assert seen >= 46


def test_role_binding_and_configmap_fields() -> None:
    evt = next(read_audit_events(trace("attach_cluster_admin_role.json")))
    ro = evt.data["requestObject"]
    assert x(evt, "ka.req.binding.role") == ro["roleRef"]["name"]
    assert x(evt, "ka.req.binding.subjects") == [js(s) for s in ro["subjects"]]
    assert x(evt, "ka.req.binding.subject.has_name[minikube]") == "true"

    evt = next(read_audit_events(trace("modify_cluster_role_node_problem_detector.json")))
    rules = evt.data["requestObject"]["rules"]
    assert x(evt, "ka.req.role.rules") == [js(r) for r in rules]
    for key in ("verbs", "resources", "apiGroups"):
        flat = [v for r in rules for v in r.get(key, [])]
        assert x(evt, f"ka.req.role.rules.{key}") == (flat or None)
        assert x(evt, f"ka.req.role.rules.{key}[0]") == (rules[0].get(key) or None)

    for evt in read_audit_events(trace("create_configmap_sensitive_values.json")):
        data = evt.data["requestObject"]["data"]
        assert json.loads(x(evt, "ka.req.configmap.obj")) == data
        assert x(evt, "ka.req.configmap.name") == evt.data["objectRef"]["name"]


def test_uri_params_of_exec() -> None:
    evt = next(read_audit_events(trace("exec_pod.json")))
    uri = evt.data["requestURI"]
    query = dict(p.split("=", 1) for p in uri.split("?", 1)[1].split("&"))
    assert x(evt, "ka.uri.param[command]") == query["command"]
    assert x(evt, "ka.uri.param[container]") == query["container"]
    assert x(evt, "ka.uri.param[nothere]") is None


def test_service_ports() -> None:
    evt = next(read_audit_events(trace("create_nginx_service_nodeport.json")))
    ports = evt.data["requestObject"]["spec"]["ports"]
    assert x(evt, "ka.req.service.type") == evt.data["requestObject"]["spec"]["type"]
    assert x(evt, "ka.req.service.ports") == [js(p) for p in ports]


# -- hand-made pods for the corner cases ----------------------------------------------------


POD = make_event(requestObject={"kind": "Pod", "spec": {
    "hostPID": True,
    "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [3, 4]},
    "containers": [
        {"name": "a", "image": "registry.example/team/app:1.2@sha256:abc",
         "ports": [{"containerPort": 80}, {"containerPort": 8443, "hostPort": 443}],
         "securityContext": {"privileged": False, "runAsUser": 0, "readOnlyRootFilesystem": True,
                             "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}},
        {"name": "b", "image": "busybox",
         "securityContext": {"allowPrivilegeEscalation": True, "procMount": "Unmasked",
                             "runAsGroup": 7}},
    ],
    "volumes": [{"name": "v1", "hostPath": {"path": "/var/lib/kubelet/pki"}},
                {"name": "v2", "emptyDir": {}},
                {"name": "v3", "flexVolume": {"driver": "example/lvm"}}],
}}, responseObject={"metadata": {"name": "pod-1"}}, userAgent="kubectl/v1.29",
    impersonatedUser={"username": "bob"})


def test_pod_fields() -> None:
    evt = ev(POD)
    assert x(evt, "ka.req.pod.containers.image.repository") == ["registry.example/team/app",
                                                               "busybox"]
    assert x(evt, "ka.req.container.image.repository") == "registry.example/team/app"
    assert x(evt, "ka.req.pod.containers.host_port") == ["80", "443"]
    assert x(evt, "ka.req.pod.containers.host_port[1]") is None  # b has no ports
    assert x(evt, "ka.req.pod.containers.privileged") == ["false"]
    assert x(evt, "ka.req.container.privileged") == "false"
    assert x(evt, "ka.req.pod.containers.allow_privilege_escalation") == ["true"]
    assert x(evt, "ka.req.pod.containers.read_only_fs") == ["true"]
    assert x(evt, "ka.req.pod.containers.proc_mount") == ["Unmasked"]
    assert x(evt, "ka.req.pod.containers.add_capabilities") == ["NET_ADMIN", "SYS_TIME"]
    assert x(evt, "ka.req.pod.run_as_user") == "1000"
    assert x(evt, "ka.req.pod.containers.run_as_user") == ["0"]
    # container value wins, the pod's fills in, 0 when neither says
    assert x(evt, "ka.req.pod.containers.eff_run_as_user") == ["0", "1000"]
    assert x(evt, "ka.req.pod.containers.eff_run_as_user[1]") == ["1000"]
    assert x(evt, "ka.req.pod.containers.eff_run_as_group") == ["0", "7"]
    assert x(evt, "ka.req.pod.run_as_group") is None
    assert x(evt, "ka.req.pod.fs_group") == "2000"
    assert x(evt, "ka.req.pod.supplemental_groups") == ["3", "4"]
    assert x(evt, "ka.req.pod.host_pid") == "true"
    assert x(evt, "ka.req.pod.host_ipc") is None
    assert x(evt, "ka.req.pod.volumes.hostpath") == ["/var/lib/kubelet/pki"]
    assert x(evt, "ka.req.pod.volumes.flexvolume_driver") == ["example/lvm"]
    assert x(evt, "ka.req.pod.volumes.volume_type") == ["hostPath", "emptyDir", "flexVolume"]
    assert x(evt, "ka.req.pod.volumes.volume_type[2]") == ["flexVolume"]
    assert x(evt, "ka.req.volume.hostpath[/var/lib/kubelet/pki]") == "true"
    assert x(evt, "ka.req.volume.hostpath[/var/lib/*]") == "true"
    assert x(evt, "ka.req.volume.hostpath[/var/lib]") == "false"
    assert x(evt, "ka.resp.name") == "pod-1"
    assert x(evt, "ka.useragent") == "kubectl/v1.29"
    assert x(evt, "ka.impuser.name") == "bob"
    assert x(evt, "ka.response.reason") is None


def test_json_pointer() -> None:
    evt = ev(make_event(annotations={"a/b": "slash", "m~n": "tilde"},
                        requestObject={"items": [{"name": "zero"}, {"name": "one"}]}))
    assert x(evt, "jevt.value[/annotations/a~1b]") == "slash"
    assert x(evt, "jevt.value[/annotations/m~0n]") == "tilde"
    assert x(evt, "jevt.value[/requestObject/items/1/name]") == "one"
    assert x(evt, "jevt.value[/requestObject/items/2/name]") is None
    assert x(evt, "json.value[user/username]") == "alice"  # leading '/' optional
    assert x(evt, "jevt.value[/responseStatus]") == '{"code":201}'
    assert x(evt, "jevt.value[/responseStatus/code]") == "201"


def test_not_an_audit_event() -> None:
    # JSON without auditID: no ka.* values, the json fields still work
    evt = AuditEvent({"kind": "Event", "verb": "get", "user": {"username": "u"}}, ts=5)
    assert x(evt, "ka.verb") is None
    assert x(evt, "ka.user.name") is None
    assert x(evt, "jevt.value[/verb]") == "get"
    assert x(evt, "evt.rawtime") == 5


def test_time_fields() -> None:
    evt = ev(make_event())
    assert x(evt, "evt.time").endswith(".123456789")
    assert x(evt, "jevt.time") == x(evt, "evt.time")
    assert x(evt, "jevt.time.iso8601")[19:29] == ".123456789"


# -- filters over the registry -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("ka.req.pod.containers.image[1] = busybox", True),
        ("ka.req.pod.containers.image[0] = busybox", False),
        ("ka.req.pod.containers.image.repository in (registry.example/team/app, busybox)", True),
        ("ka.req.pod.containers.image.repository in (busybox)", False),
        ("ka.req.pod.containers.image.repository intersects (busybox)", True),
        ("ka.req.pod.containers.privileged intersects (true)", False),
        ("ka.req.pod.host_pid = true", True),
        ("ka.req.pod.host_network = true", False),
        ("ka.req.pod.host_network exists", False),
        ("ka.req.volume.hostpath[/var/lib/*] = true", True),
        ("jevt.value[/user/username] = alice and ka.verb = create", True),
        ("ka.user.groups intersects (system:authenticated)", True),
        ("ka.target.subresource exists", False),
        ("ka.response.code startswith 2", True),
    ],
)
def test_filters(cond: str, expected: bool) -> None:
    assert compile_filter(cond, REGISTRY).matches(ev(POD)) is expected

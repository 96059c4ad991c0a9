"""Our rules/k8s_audit_rules.yaml (and the upstream k8saudit rules) on every real audit trace.

The tables were worked out by reading each event against each rule's condition (stage, verb,
resource, user, request object), e.g. ``create_nginx_pod_hostnetwork.json`` creates a pod in
``default`` with ``spec.hostNetwork: true`` and an ``nginx`` image: only the host network rule
applies. One entry per event of the file (the configmap file has six events).
"""
from __future__ import annotations

import os
import pathlib
from typing import Any

import pytest
from k8s_helpers import TRACES, trace, trace_files

from engine import RuleEngine
from sinsp.k8saudit import AuditFormatError, read_audit_events

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUR_RULES = ROOT / "rules" / "k8s_audit_rules.yaml"

PRIV = "Create Privileged Pod"
MOUNT = "Create Sensitive Mount Pod"
EXEC = "Attach/Exec Pod"
NS = "Create Disallowed Namespace"
KUBE_POD = "Pod Created in Kube Namespace"
KUBE_SA = "Service Account Created in Kube Namespace"
SYS_ROLE = "System ClusterRole Modified/Deleted"
CM = "Create/Modify Configmap With Private Credentials"

# file -> one set of rule names per event
OURS: dict[str, list[set[str]]] = {
    "anonymous_creates_namespace_foo.json": [{"Anonymous Request Allowed", NS}],
    "attach_cluster_admin_role.json": [{"Attach to cluster-admin Role"}],
    "attach_pod.json": [{EXEC}],
    "create_cluster_role_pod_exec.json": [{"ClusterRole With Pod Exec Created"}],
    "create_cluster_role_wildcard_resources.json": [{"ClusterRole With Wildcard Created"}],
    "create_cluster_role_wildcard_verbs.json": [{"ClusterRole With Wildcard Created"}],
    "create_cluster_role_write_privileges.json": [{"ClusterRole With Write Privileges Created"}],
    "create_clusterrole.json": [set()],
    "create_clusterrolebinding.json": [set()],  # binds system:basic-user
    "create_configmap.json": [set()],
    "create_configmap_no_sensitive_values.json": [set()],
    "create_configmap_sensitive_values.json": [{CM}] * 6,
    "create_deployment.json": [set()],
    "create_kube_system_secret.json": [{"Secret Created in Kube Namespace"}],
    "create_nginx_pod_hostnetwork.json": [{"Create HostNetwork Pod"}],
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": [{PRIV}],
    "create_nginx_pod_nohostnetwork.json": [set()],
    "create_nginx_pod_privileged.json": [{PRIV}],
    "create_nginx_pod_privileged_2nd_container.json": [{PRIV}],
    "create_nginx_pod_sensitive_mount.json": [{MOUNT}],
    "create_nginx_pod_sensitive_mount_2nd_container.json": [{MOUNT}],
    "create_nginx_pod_unprivileged.json": [set()],
    "create_nginx_pod_unsensitive_mount.json": [set()],  # a get, not a create
    "create_nginx_service_nodeport.json": [{"Create NodePort Service"}],
    "create_nginx_service_nonodeport.json": [set()],
    "create_pod_kube_public_namespace.json": [{KUBE_POD}],
    "create_pod_kube_system_namespace.json": [{KUBE_POD}],
    "create_secret.json": [set()],
    "create_service.json": [set()],
    "create_service_account_token_secret.json": [set()],  # system user, namespace test2
    "create_serviceaccount.json": [set()],
    "create_serviceaccount_kube_public_namespace.json": [{KUBE_SA}],
    "create_serviceaccount_kube_system_namespace.json": [{KUBE_SA}],
    "delete_cluster_role_kube_aggregator.json": [{SYS_ROLE}],
    "delete_clusterrole.json": [set()],
    "delete_clusterrolebinding.json": [set()],
    "delete_configmap.json": [set()],
    "delete_deployment.json": [set()],
    "delete_namespace_foo.json": [{"K8s Namespace Deleted"}],
    "delete_secret.json": [set()],
    "delete_service.json": [set()],
    "delete_serviceaccount.json": [set()],
    "exec_pod.json": [{EXEC}],
    "fal_01_003.json": [],  # {"kind": 0}: not an audit event, an error
    "minikube_creates_namespace_foo.json": [{NS}],
    "modify_cluster_role_node_problem_detector.json": [{SYS_ROLE}],  # patch, not create
    "some-user_creates_namespace_foo.json": [{"Disallowed K8s User", NS}],
}

# the upstream plugins/k8saudit rules: activity rules (K8s ... Created/Deleted) fire too
UP_NS = "K8s Namespace Created"
UPSTREAM: dict[str, list[set[str]]] = {
    "anonymous_creates_namespace_foo.json": [{"Anonymous Request Allowed", NS, UP_NS}],
    "attach_cluster_admin_role.json": [{"Attach to cluster-admin Role",
                                        "K8s Role/Clusterrolebinding Created"}],
    "attach_pod.json": [{EXEC}],
    "create_cluster_role_pod_exec.json": [{"ClusterRole With Pod Exec Created",
                                           "K8s Role/Clusterrole Created"}],
    "create_cluster_role_wildcard_resources.json": [{"ClusterRole With Wildcard Created",
                                                     "K8s Role/Clusterrole Created"}],
    "create_cluster_role_wildcard_verbs.json": [{"ClusterRole With Wildcard Created",
                                                 "K8s Role/Clusterrole Created"}],
    "create_cluster_role_write_privileges.json": [{"ClusterRole With Write Privileges Created",
                                                   "K8s Role/Clusterrole Created"}],
    "create_clusterrole.json": [{"K8s Role/Clusterrole Created"}],
    "create_clusterrolebinding.json": [{"K8s Role/Clusterrolebinding Created"}],
    "create_configmap.json": [{"K8s ConfigMap Created"}],
    "create_configmap_no_sensitive_values.json": [{"K8s ConfigMap Created"}],
    "create_configmap_sensitive_values.json": [{CM, "K8s ConfigMap Created"}] * 6,
    "create_deployment.json": [{"K8s Deployment Created"}],
    "create_kube_system_secret.json": [set()],  # K8s Secret Created skips kube-system
    "create_nginx_pod_hostnetwork.json": [{"Create HostNetwork Pod"}],
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": [{PRIV}],
    "create_nginx_pod_nohostnetwork.json": [set()],
    "create_nginx_pod_privileged.json": [{PRIV}],
    "create_nginx_pod_privileged_2nd_container.json": [{PRIV}],
    "create_nginx_pod_sensitive_mount.json": [{MOUNT}],
    "create_nginx_pod_sensitive_mount_2nd_container.json": [{MOUNT}],
    "create_nginx_pod_unprivileged.json": [set()],
    "create_nginx_pod_unsensitive_mount.json": [set()],
    "create_nginx_service_nodeport.json": [{"Create NodePort Service", "K8s Service Created"}],
    "create_nginx_service_nonodeport.json": [{"K8s Service Created"}],
    "create_pod_kube_public_namespace.json": [{KUBE_POD}],
    "create_pod_kube_system_namespace.json": [{KUBE_POD}],
    "create_secret.json": [{"K8s Secret Created"}],
    "create_service.json": [{"K8s Service Created"}],
    "create_service_account_token_secret.json": [set()],
    "create_serviceaccount.json": [{"K8s Serviceaccount Created"}],
    "create_serviceaccount_kube_public_namespace.json": [{KUBE_SA, "K8s Serviceaccount Created"}],
    "create_serviceaccount_kube_system_namespace.json": [{KUBE_SA, "K8s Serviceaccount Created"}],
    "delete_cluster_role_kube_aggregator.json": [{SYS_ROLE, "K8s Role/Clusterrole Deleted"}],
    "delete_clusterrole.json": [{"K8s Role/Clusterrole Deleted"}],
    "delete_clusterrolebinding.json": [{"K8s Role/Clusterrolebinding Deleted"}],
    "delete_configmap.json": [{"K8s ConfigMap Deleted"}],
    "delete_deployment.json": [{"K8s Deployment Deleted"}],
    "delete_namespace_foo.json": [{"K8s Namespace Deleted"}],
    "delete_secret.json": [{"K8s Secret Deleted"}],
    "delete_service.json": [{"K8s Service Deleted"}],
    "delete_serviceaccount.json": [{"K8s Serviceaccount Deleted"}],
    "exec_pod.json": [{EXEC}],
    "fal_01_003.json": [],
    "minikube_creates_namespace_foo.json": [{NS, UP_NS}],
    "modify_cluster_role_node_problem_detector.json": [{SYS_ROLE}],
    "some-user_creates_namespace_foo.json": [{"Disallowed K8s User", NS, UP_NS}],
}

# later upstream versions split the role activity rules by kind; both spellings count
_SPLIT_NAMES = {
    "K8s Role Created": "K8s Role/Clusterrole Created",
    "K8s ClusterRole Created": "K8s Role/Clusterrole Created",
    "K8s Role Deleted": "K8s Role/Clusterrole Deleted",
    "K8s ClusterRole Deleted": "K8s Role/Clusterrole Deleted",
    "K8s RoleBinding Created": "K8s Role/Clusterrolebinding Created",
    "K8s ClusterRoleBinding Created": "K8s Role/Clusterrolebinding Created",
    "K8s RoleBinding Deleted": "K8s Role/Clusterrolebinding Deleted",
    "K8s ClusterRoleBinding Deleted": "K8s Role/Clusterrolebinding Deleted",
}

ERRORS = {"fal_01_003.json": "data not recognized as a k8s audit event"}


def make_engine(path: pathlib.Path) -> RuleEngine:
    eng = RuleEngine()
    res = eng.load_files([path])
    assert res.successful, res.as_string()
    assert not res.warnings, [(w.code, w.message) for w in res.warnings]
    eng.rule_matching = "all"
    return eng


def rule_sets(eng: RuleEngine, events: list[Any]) -> list[set[str]]:
    out = []
    for evt in events:
        matches = eng.process(evt, source="k8s_audit")
        for m in matches:  # every alert formats without a field error
            alert = eng.format_alert(m, evt)
            assert alert.source == "k8s_audit" and alert.time == evt.ts
        out.append({m.rule for m in matches})
    return out


def read_file(path: pathlib.Path) -> tuple[list[Any], list[str]]:
    errors: list[AuditFormatError] = []
    evts = list(read_audit_events(path, on_error=errors.append))
    return evts, [e.message for e in errors]


def test_table_covers_every_trace() -> None:
    names = {p.name for p in trace_files()}
    if not names:
        pytest.skip(f"no traces in {TRACES}")
    assert names == set(OURS) == set(UPSTREAM)


@pytest.fixture(scope="module")
def ours() -> RuleEngine:
    return make_engine(OUR_RULES)


@pytest.mark.parametrize("name", sorted(OURS))
def test_our_rules_on_trace(ours: RuleEngine, name: str) -> None:
    evts, errors = read_file(trace(name))
    assert errors == ([ERRORS[name]] if name in ERRORS else [])
    assert rule_sets(ours, evts) == OURS[name]


def test_our_rules_alert_text(ours: RuleEngine) -> None:
    evt = next(read_audit_events(trace("exec_pod.json")))
    (m,) = ours.process(evt, source="k8s_audit")
    alert = ours.format_alert(m, evt)
    assert alert.priority.name == "NOTICE"
    assert alert.output_fields["ka.uri.param[command]"] == "bash"
    assert alert.output_fields["ka.target.subresource"] == "exec"
    assert "action=exec command=bash container=nginx1" in alert.output


def test_our_rules_cover_the_well_known_names(ours: RuleEngine) -> None:
    names = {r.name for r in ours.rules}
    for want in (PRIV, MOUNT, "Create HostNetwork Pod", "Create HostPid Pod",
                 "Create HostIPC Pod", EXEC, "Attach to cluster-admin Role",
                 "ClusterRole With Wildcard Created", CM, "Anonymous Request Allowed",
                 KUBE_SA, KUBE_POD, "Create NodePort Service", "Disallowed K8s User", NS):
        assert want in names
    assert all(r.source == "k8s_audit" for r in ours.rules)


UPSTREAM_DIR = os.environ.get("PYFALCO_UPSTREAM_RULES")


def _upstream_file() -> pathlib.Path:
    if not UPSTREAM_DIR:
        pytest.skip("PYFALCO_UPSTREAM_RULES is not set")
    p = pathlib.Path(UPSTREAM_DIR, "k8s_audit_rules.yaml")
    if not p.is_file():
        pytest.skip(f"k8s_audit_rules.yaml not in {UPSTREAM_DIR}")
    return p


def test_upstream_rules_load_with_zero_errors() -> None:
    path = _upstream_file()
    eng = make_engine(path)  # zero errors and zero warnings
    declared = sum(1 for line in path.read_text().splitlines() if line.startswith("- rule:"))
    assert len(eng.rules) == declared
    assert {r.source for r in eng.rules} == {"k8s_audit"}


def test_upstream_rules_on_every_trace() -> None:
    eng = make_engine(_upstream_file())
    for name, want in sorted(UPSTREAM.items()):
        evts, errors = read_file(trace(name))
        assert errors == ([ERRORS[name]] if name in ERRORS else []), name
        got = [{_SPLIT_NAMES.get(r, r) for r in rules} for rules in rule_sets(eng, evts)]
        assert got == want, name

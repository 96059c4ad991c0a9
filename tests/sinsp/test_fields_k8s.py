"""``k8s.*`` fields from container JSON events: pod name/namespace/uid from the runtime's
``io.kubernetes.*`` labels (diffed against sysdig 0.29.3, which reads the same labels),
pod labels/IP/CNI result from the pod sandbox as current libs does (0.29.3 wanted an API
server for those), deprecated API-server names resolving to N/A, and filter syntax."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "parsers"))
from _feed import builder, proc, replay

from scap.testing import write_capture
from sinsp import Inspector
from sinsp.fields import load_all
from sinsp.filter import compile_filter

REG = load_all()["syscall"]
FULL = "ab12" * 16  # the workload container
SANDBOX = "5a" * 32  # its pod sandbox
OTHER = "cd34" * 16  # a container no event describes
POD_UID = "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"
K8S_LABELS = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
              "io.kubernetes.pod.uid": POD_UID, "io.kubernetes.sandbox.id": SANDBOX,
              "io.kubernetes.container.name": "nginx", "app": "web"}


def container_event(b: Any, cid: str, **extra: Any) -> Any:
    c = {"id": cid[:12], "full_id": cid, "type": 7, "name": extra.pop("name", "nginx"),
         "image": "nginx:1.25", "Mounts": [], **extra}
    return b.build("CONTAINER_JSON_E", {"json": json.dumps({"container": c})}, tid=-1)


def processes() -> list[Any]:
    return [proc(1, ptid=0, comm="systemd"),
            proc(40, comm="nginx", cgroups=[f"cpu=/kubepods/besteffort/pod3e41/{FULL}"]),
            proc(50, comm="pause", cgroups=[f"cpu=/kubepods/besteffort/pod3e41/{SANDBOX}"]),
            proc(60, comm="other", cgroups=[f"cpu=/kubepods/besteffort/pod9/{OTHER}"]),
            proc(70, comm="bash")]


def reads(b: Any) -> list[Any]:
    return [b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=t) for t in (40, 50, 60, 70)]


def extract(records: list[Any], fields: list[str]) -> dict[int, list[Any]]:
    _, rows = replay(records, processes(),
                     probe=lambda e: (e.tid, [REG.extract(e, f) for f in fields]))
    return {tid: vals for tid, vals in rows if tid in (40, 50, 60, 70)}


# -- diffed against sysdig 0.29.3 ----------------------------------------------------------

DIFFED = ["k8s.pod.name", "k8s.ns.name", "k8s.pod.id", "k8s.rc.name", "k8s.svc.id",
          "k8s.ns.labels", "k8s.ns.id", "k8s.rs.label.app", "k8s.deployment.name"]


@pytest.mark.sysdig
@pytest.mark.parametrize("variant", ["labels", "labels+sandbox", "no-k8s-labels"])
def test_label_fields_match_sysdig(tmp_path: Path, variant: str) -> None:
    if shutil.which("sysdig") is None:
        pytest.skip("sysdig is not installed")
    b = builder()
    labels = {"app": "web"} if variant == "no-k8s-labels" else K8S_LABELS
    extra: dict[str, Any] = {"labels": labels}
    if variant == "labels+sandbox":
        extra |= {"pod_sandbox_id": SANDBOX, "pod_sandbox_labels": {"app": "web"}}
    recs = [container_event(b, FULL, **extra), *reads(b)]
    path = tmp_path / "k8s.scap"
    write_capture(path, recs, processes=processes())
    fmt = "*%thread.tid|" + "|".join(f"%{f}" for f in DIFFED)
    out = subprocess.run(["sysdig", "-r", str(path), "-p", fmt], capture_output=True,
                         text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        tid, *vals = line.split("|")
        theirs[int(tid)] = [None if v == "<NA>" else v for v in vals]
    ours = {}
    for evt in Inspector.from_capture(str(path)):
        if evt.tid in (40, 50, 60, 70):
            ours[evt.tid] = [REG.extract(evt, f) for f in DIFFED]
    assert ours == theirs
    if variant != "no-k8s-labels":
        assert ours[40][:3] == ["web-0", "shop", POD_UID]


# -- current libs: pod sandbox data ----------------------------------------------------------

POD = ["k8s.pod.label.app", "k8s.pod.label[tier]", "k8s.pod.labels", "k8s.pod.ip",
       "k8s.pod.cni.json", "k8s.pod.sandbox_id", "k8s.pod.full_sandbox_id", "k8s.pod.uid"]
CNI = '{"interfaces":{"eth0":{"ips":[{"address":"10.1.2.3/24"}]}}}'


def test_pod_labels_ip_and_cni_come_from_the_sandbox_record() -> None:
    """A workload container without its own pod status reads the pod's labels, IP and CNI
    result from its sandbox's record (libs: sandbox id truncated to 12 as container id)."""
    b = builder()
    recs = [
        container_event(b, SANDBOX, name="POD", is_pod_sandbox=True, pod_sandbox_id=SANDBOX,
                        ip="10.1.2.3", cni_json=CNI,
                        pod_sandbox_labels={"app": "web", "tier": "front",
                                            "io.kubernetes.pod.name": "web-0",
                                            "annotation.x": "hidden", "flag": ""}),
        container_event(b, FULL, labels=K8S_LABELS, pod_sandbox_id=SANDBOX),
        *reads(b),
    ]
    rows = extract(recs, POD)
    pod = ["web", "front", "app:web, flag, tier:front", "10.1.2.3", CNI, SANDBOX[:12],
           SANDBOX, POD_UID]
    assert rows[40] == pod
    assert rows[50] == [*pod[:-1], None]  # the sandbox has no io.kubernetes.pod.uid label
    assert rows[60] == [None] * len(POD)  # container without a description
    assert rows[70] == [None] * len(POD)  # host process


def test_pod_status_on_the_container_itself_wins() -> None:
    b = builder()
    recs = [
        container_event(b, SANDBOX, pod_sandbox_labels={"app": "old"}, ip="10.9.9.9"),
        container_event(b, FULL, labels=K8S_LABELS, pod_sandbox_id=SANDBOX, ip="10.1.2.3",
                        cni_json=CNI, pod_sandbox_labels={"app": "web"}),
        *reads(b),
    ]
    rows = extract(recs, ["k8s.pod.label.app", "k8s.pod.ip", "k8s.pod.cni.json",
                          "container.ip", "container.cni.json", "container.labels",
                          "container.label[app]", "container.full_id"])
    assert rows[40] == ["web", "10.1.2.3", CNI, "10.1.2.3", CNI, "app:web", "web", FULL]


def test_container_start_ts_falls_back_to_the_runtime_creation_time() -> None:
    b = builder()
    recs = [container_event(b, FULL, labels=K8S_LABELS, created_time=1_700_000_000),
            *reads(b)]
    rows = extract(recs, ["container.start_ts", "container.duration"])
    start = 1_700_000_000 * 1_000_000_000
    assert rows[40][0] == start and rows[40][1] > 0
    assert rows[60] == [None, None] and rows[70] == [None, None]


# -- names and syntax ----------------------------------------------------------------------

def test_every_sysdig_k8s_name_resolves() -> None:
    """``sysdig -l``'s k8s class, as 0.29.3 lists it, plus current libs' additions."""
    names = ["k8s.pod.name", "k8s.pod.id", "k8s.pod.label", "k8s.pod.labels", "k8s.rc.name",
             "k8s.rc.id", "k8s.rc.label", "k8s.rc.labels", "k8s.svc.name", "k8s.svc.id",
             "k8s.svc.label", "k8s.svc.labels", "k8s.ns.name", "k8s.ns.id", "k8s.ns.label",
             "k8s.ns.labels", "k8s.rs.name", "k8s.rs.id", "k8s.rs.label", "k8s.rs.labels",
             "k8s.deployment.name", "k8s.deployment.id", "k8s.deployment.label",
             "k8s.deployment.labels", "k8s.pod.uid", "k8s.pod.sandbox_id",
             "k8s.pod.full_sandbox_id", "k8s.pod.ip", "k8s.pod.cni.json"]
    listed = {f.name for cls, f in REG.list_fields() if cls.name == "k8s"}
    assert set(names) == listed
    if shutil.which("sysdig"):
        out = subprocess.run(["sysdig", "-l"], capture_output=True, text=True).stdout
        theirs = {ln.split()[0] for ln in out.splitlines() if ln.startswith("k8s.")}
        assert theirs and theirs <= listed


@pytest.mark.parametrize("cond", [
    "k8s.ns.name = kube-system",
    "k8s.pod.label.app = nginx",
    "k8s.pod.label[app.kubernetes.io/name] = nginx",
    "k8s.pod.label[custom-label_one] exists",
    "k8s.pod.name startswith calico",
    "k8s.ns.name in (shop, kube-system)",
])
def test_k8s_conditions_compile(cond: str) -> None:
    compile_filter(cond, REG)


def test_a_slash_in_a_dotted_field_name_is_a_syntax_error_in_conditions() -> None:
    """libs' filter grammar allows [a-zA-Z0-9_] after each dot of a field name: the
    ``k8s.pod.label.app.kubernetes.io/name`` form only works where the field name is read
    by the field class itself (outputs); conditions use brackets."""
    from sinsp.filter import FilterSyntaxError

    with pytest.raises(FilterSyntaxError):
        compile_filter("k8s.pod.label.app.kubernetes.io/name = nginx", REG)


def test_label_argument_forms_reach_the_same_label() -> None:
    b = builder()
    labels = {"app.kubernetes.io/name": "nginx", "custom-label_one": "x"}
    recs = [container_event(b, FULL, labels=K8S_LABELS, pod_sandbox_id=SANDBOX,
                            cni_json=CNI, pod_sandbox_labels=labels), *reads(b)]
    rows = extract(recs, ["k8s.pod.label.app.kubernetes.io/name",
                          "k8s.pod.label[app.kubernetes.io/name]",
                          "k8s.pod.label[custom-label_one]", "k8s.pod.label[missing]"])
    assert rows[40] == ["nginx", "nginx", "x", None]


def test_filter_selects_the_pod_by_namespace() -> None:
    b = builder()
    recs = [container_event(b, FULL, labels=K8S_LABELS), *reads(b)]
    flt = compile_filter("k8s.ns.name = shop and k8s.pod.name = web-0", REG)
    _, rows = replay(recs, processes(), probe=lambda e: (e.tid, flt.matches(e)))
    assert [tid for tid, ok in rows if ok] == [40]

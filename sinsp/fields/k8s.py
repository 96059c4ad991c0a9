"""``k8s.*`` fields of the syscall source: Kubernetes context of the event's container.

Current Falco takes these from the container runtime, never from an API server: the CRI
runtime labels every container with ``io.kubernetes.pod.name``, ``io.kubernetes.pod.namespace``
and ``io.kubernetes.pod.uid``, and the pod's own labels, IP and CNI result come with the pod
sandbox. Offline, all of that arrives in the capture's container JSON events (see
``ContainerInfo``). The rest of the names ``sysdig -l`` lists (``k8s.rc.*``, ``k8s.svc.*``,
``k8s.rs.*``, ``k8s.deployment.*``, ``k8s.ns.id``/``label``/``labels``) needed the removed
API-server client: they still resolve, so rules using them load, and are always N/A.

Host threads, threads of a container no event described, and a described container without
the label in question give N/A.
"""

from __future__ import annotations

from typing import Any

from sinsp.fields.container import container_info, labels_text
from sinsp.fields.registry import (
    REGISTRIES,
    ArgKind,
    Extractor,
    FieldClassBuilder,
    FieldFlag,
    FieldType,
)
from sinsp.state.containers import ContainerInfo

T = FieldType
k8s = FieldClassBuilder(
    "k8s",
    "Kubernetes context about pods and namespace name. These fields are populated with data "
    "gathered from the container runtime.",
)

_LOOKUP = (
    " This field is extracted from the container runtime socket simultaneously as we look up "
    "the 'container.*' fields. In cases of lookup delays, it may not be available yet."
)
SHORT_ID_LEN = 12


def _label_field(label: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> str | None:
        info = container_info(evt)
        return None if info is None else info.labels.get(label)

    return extract


def _sandbox(evt: Any, info: ContainerInfo) -> ContainerInfo | None:
    """The pod's sandbox container when this container's own record has no pod status
    (no CNI result): pod labels, IP and CNI result then live on the sandbox's record."""
    if info.cni_json or not info.pod_sandbox_id:
        return None
    insp = evt.inspector
    return None if insp is None else insp.containers.get(info.pod_sandbox_id[:SHORT_ID_LEN])


def _pod_labels(evt: Any) -> dict[str, str] | None:
    """The pod's labels; None (N/A) outside a pod: no described container, or one with
    neither a sandbox id nor pod labels of its own (libs needs the sandbox id)."""
    info = container_info(evt)
    if info is None or not (info.pod_sandbox_id or info.pod_sandbox_labels):
        return None
    sandbox = _sandbox(evt, info)
    return (sandbox or info).pod_sandbox_labels


k8s.field(
    "k8s.ns.name",
    T.CHARBUF,
    "The Kubernetes namespace name." + _LOOKUP,
)(_label_field("io.kubernetes.pod.namespace"))
k8s.field("k8s.pod.name", T.CHARBUF, "The Kubernetes pod name." + _LOOKUP)(
    _label_field("io.kubernetes.pod.name")
)
k8s.field(
    "k8s.pod.id",
    T.CHARBUF,
    "[LEGACY] The Kubernetes pod UID, e.g. 3e41dc6b-08a8-44db-bc2a-3724b18ab19a. This legacy "
    "field points to `k8s.pod.uid`; however, the pod ID typically refers to the pod sandbox "
    "ID. We recommend using the semantically more accurate `k8s.pod.uid` field." + _LOOKUP,
)(_label_field("io.kubernetes.pod.uid"))
k8s.field(
    "k8s.pod.uid",
    T.CHARBUF,
    "The Kubernetes pod UID, e.g. 3e41dc6b-08a8-44db-bc2a-3724b18ab19a. Note that the pod UID "
    "is a unique identifier assigned upon pod creation within Kubernetes, allowing the "
    "Kubernetes control plane to manage and track pods reliably. As such, it is fundamentally "
    "a different concept compared to the pod sandbox ID." + _LOOKUP,
)(_label_field("io.kubernetes.pod.uid"))


def _sandbox_id(full: bool) -> Extractor:
    def extract(evt: Any, arg: Any) -> str | None:
        info = container_info(evt)
        if info is None or not info.pod_sandbox_id:
            return None
        return info.pod_sandbox_id if full else info.pod_sandbox_id[:SHORT_ID_LEN]

    return extract


k8s.field(
    "k8s.pod.sandbox_id",
    T.CHARBUF,
    "The truncated Kubernetes pod sandbox ID (first 12 characters), e.g 63060edc2d3a. The "
    "sandbox ID is specific to the container runtime environment. It is the equivalent of the "
    "container ID for the pod / sandbox and extracted from the Linux cgroups. As such, it "
    "differs from the pod UID." + _LOOKUP,
)(_sandbox_id(False))
k8s.field(
    "k8s.pod.full_sandbox_id",
    T.CHARBUF,
    "The full Kubernetes pod / sandbox ID, e.g "
    "63060edc2d3aa803ab559f2393776b151f99fc5b05035b21db66b3b62246ad6a." + _LOOKUP,
)(_sandbox_id(True))


@k8s.field(
    "k8s.pod.label",
    T.CHARBUF,
    "The Kubernetes pod label. The label can be accessed either with the familiar brackets "
    "notation, e.g. 'k8s.pod.label[foo]' or by appending a dot followed by the name, e.g. "
    "'k8s.pod.label.foo'. The label name itself can include the original special characters "
    "such as '.', '-', '_' or '/' characters. For instance, "
    "'k8s.pod.label[app.kubernetes.io/name]', 'k8s.pod.label.app.kubernetes.io/name' or "
    "'k8s.pod.label[custom-label_one]' are all valid." + _LOOKUP,
    arg=ArgKind.KEY,
    flags=FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG,
    display="k8s.pod.label[KEY]",
)
def _pod_label(evt: Any, arg: Any) -> str | None:
    labels = _pod_labels(evt)
    return None if labels is None or arg is None else labels.get(str(arg))


@k8s.field(
    "k8s.pod.labels",
    T.CHARBUF,
    "The Kubernetes pod comma-separated key/value labels. E.g. 'foo1:bar1,foo2:bar2'."
    + _LOOKUP,
)
def _pod_labels_text(evt: Any, arg: Any) -> str | None:
    labels = _pod_labels(evt)
    return None if labels is None else labels_text(labels)


def _pod_status(attr: str) -> Extractor:
    """k8s.pod.ip / k8s.pod.cni.json: the container's own pod status, else the sandbox's."""

    def extract(evt: Any, arg: Any) -> str | None:
        info = container_info(evt)
        if info is None:
            return None
        if not info.cni_json:
            sandbox = _sandbox(evt, info)
            if sandbox is None:
                return None
            info = sandbox
        value: str = getattr(info, attr)
        return value or None

    return extract


k8s.field(
    "k8s.pod.ip",
    T.CHARBUF,
    "The Kubernetes pod ip, same as container.ip field as each container in a pod shares the "
    "network stack of the sandbox / pod. Only ipv4 addresses are tracked. Consider "
    "k8s.pod.cni.json for logging ip addresses for each network interface." + _LOOKUP,
)(_pod_status("ip"))
k8s.field(
    "k8s.pod.cni.json",
    T.CHARBUF,
    "The Kubernetes pod CNI result field from the respective pod status info, same as "
    "container.cni.json field. It contains ip addresses for each network interface exposed as "
    "unparsed escaped JSON string." + _LOOKUP,
)(_pod_status("cni_json"))


def _never(evt: Any, arg: Any) -> None:
    """Deprecated API-server fields: nothing fills them any more."""
    return None


for _kind, _what in (
    ("rc", "replication controller"),
    ("svc", "service"),
    ("ns", "namespace"),
    ("rs", "replica set"),
    ("deployment", "deployment"),
):
    for _suffix in ("name", "id", "label", "labels"):
        _name = f"k8s.{_kind}.{_suffix}"
        if _name == "k8s.ns.name":
            continue  # from the container labels, above
        _kw: dict[str, Any] = {"flags": FieldFlag.DEPRECATED}
        if _suffix == "label":
            _kw = {
                "arg": ArgKind.KEY,
                "flags": FieldFlag.DEPRECATED | FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG,
                "display": f"{_name}[KEY]",
            }
        k8s.field(
            _name,
            T.CHARBUF,
            f"Kubernetes {_what} {_suffix} (deprecated: needs the API server client, which "
            "current Falco removed; always N/A).",
            **_kw,
        )(_never)

K8S_CLASS = k8s.build()
REGISTRIES["syscall"].register(K8S_CLASS)

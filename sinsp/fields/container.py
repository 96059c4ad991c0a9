"""``container.*`` fields: the thread's container id (from its cgroups) and
the metadata container events gave for it. Host processes read ``host`` for
id, name and type, N/A for the rest."""

from __future__ import annotations

import fnmatch
from typing import Any

from sinsp.fields.registry import (
    REGISTRIES,
    ArgKind,
    Extractor,
    FieldClassBuilder,
    FieldFlag,
    FieldType,
)
from sinsp.state.containers import HOST_ID, ContainerInfo

T = FieldType
container = FieldClassBuilder(
    "container",
    "Container information. If the event is not happening inside a container, both id and name "
    "will be set to 'host'.",
)


def _cid(evt: Any) -> str | None:
    t = evt.thread
    if t is None:
        return None
    return t.container_id or HOST_ID


def container_info(evt: Any) -> ContainerInfo | None:
    cid = _cid(evt)
    insp = evt.inspector
    if cid is None or cid == HOST_ID or insp is None:
        return None
    out: ContainerInfo | None = insp.containers.get(cid)
    return out


def _str_or_na(v: str | None) -> str | None:
    return v if v else None


@container.field("container.id", T.CHARBUF, "the container id.")
def _id(evt: Any, arg: Any) -> str | None:
    return _cid(evt)


@container.field("container.name", T.CHARBUF, "the container name.")
def _name(evt: Any, arg: Any) -> str | None:
    cid = _cid(evt)
    if cid == HOST_ID:
        return HOST_ID
    info = container_info(evt)
    return None if info is None else _str_or_na(info.name)


def _meta(attr: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> Any:
        info = container_info(evt)
        return None if info is None else _str_or_na(getattr(info, attr))

    return extract


container.field(
    "container.image",
    T.CHARBUF,
    "the container image name (e.g. falcosecurity/falco:latest for docker).",
)(_meta("image"))
container.field(
    "container.image.id", T.CHARBUF, "the container image id (e.g. 6f7e2741b66b)."
)(_meta("image_id"))


@container.field("container.type", T.CHARBUF, "the container type, eg: docker or rkt")
def _type(evt: Any, arg: Any) -> str | None:
    cid = _cid(evt)
    if cid is None:
        return None
    if cid == HOST_ID:
        return HOST_ID
    info = container_info(evt)
    return None if info is None else info.type_name


@container.field(
    "container.privileged",
    T.BOOL,
    "true for containers running as privileged, false otherwise",
)
def _privileged(evt: Any, arg: Any) -> bool | None:
    info = container_info(evt)
    if info is None or info.privileged is None:
        return None
    return info.privileged


def _mount_str(m: dict[str, Any]) -> str:
    return ":".join(
        str(x)
        for x in (
            m.get("Source", ""),
            m.get("Destination", ""),
            m.get("Mode", ""),
            "true" if m.get("RW", False) else "false",
            m.get("Propagation", ""),
        )
    )


@container.field(
    "container.mounts",
    T.CHARBUF,
    "A space-separated list of mount information. Each item in the list has the format "
    "<source>:<dest>:<mode>:<rdrw>:<propagation>",
)
def _mounts(evt: Any, arg: Any) -> str | None:
    info = container_info(evt)
    if info is None:
        return None
    return ",".join(_mount_str(m) for m in info.mounts)


def _find_mount(info: ContainerInfo, arg: Any, by: str) -> dict[str, Any] | None:
    if arg is None:
        return None
    text = str(arg)
    if text.isdigit():
        idx = int(text)
        return info.mounts[idx] if idx < len(info.mounts) else None
    for m in info.mounts:
        if fnmatch.fnmatch(str(m.get(by, "")), text):
            return m
    return None


def _mount_field(key: str | None, by: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> str | None:
        info = container_info(evt)
        if info is None:
            return None
        m = _find_mount(info, arg, by)
        if m is None:
            return None  # measured: 0.29.3 gives N/A, not the documented "none"
        if key is None:
            return _mount_str(m)
        v = m.get(key)
        if key == "RW":
            return "true" if v else "false"
        return None if v is None else str(v)

    return extract


_KEYARG = dict(arg=ArgKind.REQUIRED)
container.field(
    "container.mount",
    T.CHARBUF,
    "Information about a single mount, specified by number (e.g. container.mount[0]) or mount "
    "source (container.mount[/usr/local]). The pathname can be a glob "
    "(container.mount[/usr/local/*]), in which case the first matching mount will be returned. "
    "The information has the format <source>:<dest>:<mode>:<rdrw>:<propagation>. If there is no "
    "mount with the specified index or matching the provided source, returns the string "
    '"none" instead of a NULL value.',
    **_KEYARG,  # type: ignore[arg-type]
)(_mount_field(None, "Source"))
for _name_, _key, _by, _desc in (
    ("container.mount.source", "Source", "Destination", "the mount source"),
    ("container.mount.dest", "Destination", "Source", "the mount destination"),
    ("container.mount.mode", "Mode", "Source", "the mount mode"),
    ("container.mount.rdwr", "RW", "Source", "the mount rdwr value"),
    ("container.mount.propagation", "Propagation", "Source", "the mount propagation value"),
):
    container.field(
        _name_,
        T.CHARBUF,
        f"{_desc}, specified by number (e.g. {_name_}[0]) or mount path. The pathname can be "
        "a glob.",
        **_KEYARG,  # type: ignore[arg-type]
    )(_mount_field(_key, _by))

container.field(
    "container.image.repository",
    T.CHARBUF,
    "the container image repository (e.g. falcosecurity/falco).",
)(_meta("image_repo"))
container.field(
    "container.image.tag", T.CHARBUF, "the container image tag (e.g. stable, latest)."
)(_meta("image_tag"))
container.field(
    "container.image.digest",
    T.CHARBUF,
    "the container image registry digest (e.g. "
    "sha256:d977378f890d445c15e51795296e4e5062f109ce6da83e0a355fc4ad8699d27).",
)(_meta("image_digest"))


def _probe_field(attr: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> str | None:
        info = container_info(evt)
        if info is None:
            return None
        v = getattr(info, attr)
        return v if v else "NONE"  # a described container without that probe

    return extract


container.field(
    "container.healthcheck",
    T.CHARBUF,
    "The container's health check. Will be the null value (\"N/A\") if no healthcheck "
    "configured, \"NONE\" if configured but explicitly not created, and the healthcheck "
    "command line otherwise",
)(_probe_field("healthcheck"))
container.field(
    "container.liveness_probe",
    T.CHARBUF,
    "The container's liveness probe. Will be the null value (\"N/A\") if no liveness probe "
    "configured, the liveness probe command line otherwise",
)(_probe_field("liveness_probe"))
container.field(
    "container.readiness_probe",
    T.CHARBUF,
    "The container's readiness probe. Will be the null value (\"N/A\") if no readiness probe "
    "configured, the readiness probe command line otherwise",
)(_probe_field("readiness_probe"))

# -- current-libs additions (container plugin / sinsp_filtercheck_container) ------------


@container.field(
    "container.full_id",
    T.CHARBUF,
    "The full container id (64 characters), as the container JSON event gives it.",
)
def _full_id(evt: Any, arg: Any) -> str | None:
    if _cid(evt) == HOST_ID:
        return HOST_ID
    info = container_info(evt)
    return None if info is None else _str_or_na(info.full_id)


def _start_ts(evt: Any) -> int | None:
    """The start of the thread's pid namespace (current Falco), else the runtime's
    creation time of a described container (0.29.3-era captures carry no pidns start)."""
    t = evt.thread
    cid = _cid(evt)
    if t is None or cid is None or cid == HOST_ID:
        return None
    if t.pidns_init_start_ts:
        return int(t.pidns_init_start_ts)
    info = container_info(evt)
    if info is not None and info.created_time > 0:
        return info.created_time * 1_000_000_000
    return None


@container.field(
    "container.start_ts",
    T.ABSTIME,
    "Container start as epoch timestamp in nanoseconds based on proc.pidns_init_start_ts "
    "(falling back to the creation time the container event gave, when the capture has no "
    "pid namespace start).",
)
def _start(evt: Any, arg: Any) -> int | None:
    return _start_ts(evt)


@container.field(
    "container.duration", T.RELTIME, "Number of nanoseconds since container.start_ts."
)
def _duration(evt: Any, arg: Any) -> int | None:
    start = _start_ts(evt)
    return None if start is None else int(evt.ts) - start


container.field(
    "container.ip",
    T.CHARBUF,
    "The container's / pod's primary ip address as retrieved from the container engine. Only "
    "ipv4 addresses are tracked. Consider container.cni.json (CRI use case) for logging ip "
    "addresses for each network interface.",
)(_meta("ip"))
container.field(
    "container.cni.json",
    T.CHARBUF,
    "The container's / pod's CNI result field from the respective pod status info. It "
    "contains ip addresses for each network interface exposed as unparsed escaped JSON "
    "string. Supported for CRI container engine (containerd, cri-o runtimes).",
)(_meta("cni_json"))


def _host_flag(attr: str) -> Extractor:
    def extract(evt: Any, arg: Any) -> bool | None:
        info = container_info(evt)
        return None if info is None or not info.has_metadata else bool(getattr(info, attr))

    return extract


for _attr, _what in (("host_pid", "PID"), ("host_network", "network"), ("host_ipc", "IPC")):
    container.field(
        f"container.{_attr}",
        T.BOOL,
        f"'true' if the container is running in the host {_what} namespace, 'false' otherwise.",
    )(_host_flag(_attr))


@container.field(
    "container.label",
    T.CHARBUF,
    "Container label. E.g. 'container.label[foo]'.",
    arg=ArgKind.KEY,
    flags=FieldFlag.REQUIRES_ARG,
)
def _label(evt: Any, arg: Any) -> str | None:
    info = container_info(evt)
    if info is None or arg is None:
        return None
    return info.labels.get(str(arg))


def labels_text(labels: dict[str, str]) -> str:
    """``key:value`` pairs joined by ", " in key order, leaving out Kubernetes' own
    ``io.kubernetes.*`` labels and ``annotation.*`` entries, a bare key for an empty value
    (libs concatenate_container_labels)."""
    out = []
    for key in sorted(labels):
        if key.startswith(("annotation.", "io.kubernetes.")):
            continue
        value = labels[key]
        out.append(f"{key}:{value}" if value else key)
    return ", ".join(out)


@container.field(
    "container.labels",
    T.CHARBUF,
    "Container comma-separated key/value labels. E.g. 'foo1:bar1, foo2:bar2'.",
)
def _labels(evt: Any, arg: Any) -> str | None:
    info = container_info(evt)
    return None if info is None or not info.has_metadata else labels_text(info.labels)


CONTAINER_CLASS = container.build()
REGISTRIES["syscall"].register(CONTAINER_CLASS)

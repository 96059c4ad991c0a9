"""Containers: ids from cgroup paths, metadata from container events.

sinsp's container engines each recognise their runtime's cgroup layout and
take the first 12 hex digits of the 64-digit id as ``container.id``. Offline
there is no runtime to ask, so metadata (name, image, privileged ...) comes
only from the capture's ``container``/``container_json`` events; a process
whose cgroups match no layout is on the host (``container.id`` = ``host``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


class ThreadInfoLike(Protocol):
    """What identify_category needs of a thread (kept structural: no import of
    the thread module, which already imports nothing from here)."""

    container_id: str
    vpid: int
    exe: str
    args: list[str]
    category: int

    def parent_thread(self) -> Any: ...

HOST_ID = "host"

# sinsp_threadinfo::command_category: what a process is to its container.
CAT_NONE = 0
CAT_CONTAINER = 1  # the container's initial process (vpid 1) and its descendants
CAT_HEALTHCHECK = 2
CAT_LIVENESS_PROBE = 3
CAT_READINESS_PROBE = 4

#: sinsp ``sinsp_container_type`` values as they appear in container events.
CONTAINER_TYPES = {
    0: "docker",
    1: "lxc",
    2: "libvirt-lxc",
    3: "mesos",
    4: "rkt",
    5: "custom",
    6: "cri",
    7: "containerd",
    8: "cri-o",
    9: "bpm",
    10: "static",
    11: "podman",
}

_HEX64 = r"([0-9a-f]{64})"
# (runtime type, pattern on one cgroup path). Order matters: the scope-style
# names are tried before the bare "/docker/<id>" and kubepods layouts.
_CGROUP_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (6, re.compile(r"cri-containerd-" + _HEX64 + r"\.scope")),
    (8, re.compile(r"crio-(?:conmon-)?" + _HEX64 + r"(?:\.scope)?")),
    # 0.29.3 recognises podman's libpod scopes with its docker engine
    (0, re.compile(r"libpod-(?:conmon-)?" + _HEX64 + r"(?:\.scope)?")),
    (0, re.compile(r"docker-" + _HEX64 + r"\.scope")),
    (0, re.compile(r"/docker/" + _HEX64 + r"(?:/|$)")),
    (0, re.compile(r"/kubepods(?:\.slice)?/.*?/" + _HEX64 + r"(?:/|$)")),
    (0, re.compile(r"/ecs/[^/]+/" + _HEX64 + r"(?:/|$)")),
)


#: cgroups (as a tuple) -> container_id_from_cgroups' answer: a capture's processes share a
#: few cgroup lists, and an exec of each runs the patterns over every path again
_CGROUP_MEMO: dict[tuple[Any, ...], tuple[str, int | None]] = {}
_CGROUP_MEMO_MAX = 1024


def container_id_from_cgroups(cgroups: Iterable[tuple[str, str]]) -> tuple[str, int | None]:
    """(12-char id, runtime type) from a thread's cgroups, or ("host", None).

    ``cgroups`` are ``(subsystem, path)`` pairs as the process list carries them.
    """
    key = tuple(cgroups)
    try:
        hit = _CGROUP_MEMO.get(key)
    except TypeError:  # unhashable pairs (lists): no memo
        return _container_id(key)
    if hit is None:
        hit = _container_id(key)
        if len(_CGROUP_MEMO) >= _CGROUP_MEMO_MAX:
            _CGROUP_MEMO.clear()
        _CGROUP_MEMO[key] = hit
    return hit


def _container_id(cgroups: tuple[Any, ...]) -> tuple[str, int | None]:
    for _subsys, path in cgroups:
        for ctype, pat in _CGROUP_PATTERNS:
            m = pat.search(path)
            if m:
                return m.group(1)[:12], ctype
    return HOST_ID, None


@dataclass(slots=True)
class ContainerInfo:
    """What the capture says about one container (replaced, never changed in place, when an
    event describes it again: ContainerTable shares one entry between identical events)."""

    id: str
    type: int = 0
    name: str = ""
    image: str = ""
    image_id: str = ""
    image_repo: str = ""
    image_tag: str = ""
    image_digest: str = ""
    privileged: bool | None = None
    ip: str = ""
    mounts: list[dict[str, object]] = field(default_factory=list)
    healthcheck: str | None = None
    liveness_probe: str | None = None
    readiness_probe: str | None = None
    #: probe category -> (exe, args) for matching processes (CAT_* below)
    probes: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    #: True once a container event described it (rather than only a cgroup).
    has_metadata: bool = False
    #: runtime labels (CRI containers carry io.kubernetes.pod.name/namespace/uid here)
    labels: dict[str, str] = field(default_factory=dict)
    #: creation time from the runtime, seconds since epoch (0 = not given)
    created_time: int = 0
    full_id: str = ""
    user: str = ""
    #: CRI: the pod sandbox this container runs in (64 hex), its pod labels and CNI result
    pod_sandbox_id: str = ""
    pod_sandbox_labels: dict[str, str] = field(default_factory=dict)
    cni_json: str = ""
    is_pod_sandbox: bool = False
    host_pid: bool = False
    host_network: bool = False
    host_ipc: bool = False

    @property
    def type_name(self) -> str:
        return CONTAINER_TYPES.get(self.type, "unknown")


#: how many distinct container JSON texts a ContainerTable keeps parsed
_JSON_CACHE_MAX = 256


class ContainerTable:
    """container id → ContainerInfo.

    Entries are never changed in place once built (an event describing a container again
    replaces its entry), so the entry parsed from one ``container_json`` text stands for
    every later event carrying the same text: captures repeat their few container events
    many times, and the JSON parse (mounts, labels and probes built from it) would otherwise
    be paid on each.
    """

    __slots__ = ("_containers", "_parsed")

    def __init__(self) -> None:
        self._containers: dict[str, ContainerInfo] = {}
        #: container JSON text -> the entry built from it (None: the text describes none)
        self._parsed: dict[str, ContainerInfo | None] = {}

    def __len__(self) -> int:
        return len(self._containers)

    def get(self, cid: str) -> ContainerInfo | None:
        return self._containers.get(cid)

    def add(self, info: ContainerInfo) -> ContainerInfo:
        self._containers[info.id] = info
        return info

    def ensure(self, cid: str, ctype: int | None) -> ContainerInfo | None:
        """The entry for ``cid``, created bare (no metadata) when first seen.

        Offline, sysdig 0.29.3's docker engine still records a container it
        finds in a cgroup (type docker, not privileged, no probes); its CRI
        engines record nothing without a runtime to ask, so those ids get no
        entry and every field but ``container.id`` is N/A.
        """
        info = self._containers.get(cid)
        if info is None:
            if ctype != 0:
                return None
            info = ContainerInfo(id=cid, type=0, privileged=False)
            self._containers[cid] = info
        return info

    def add_from_json(self, text: str) -> ContainerInfo | None:
        """Apply a ``container_json`` event body (sinsp's container JSON)."""
        parsed = self._parsed
        if text in parsed:
            info = parsed[text]
        else:
            info = _from_json(text)
            if len(parsed) >= _JSON_CACHE_MAX:
                parsed.clear()
            parsed[text] = info
        return None if info is None else self.add(info)

    def identify_category(self, ti: ThreadInfoLike) -> None:
        """Set ``ti.category`` as sinsp's identify_category does: a container's
        vpid-1 process is CAT_CONTAINER; otherwise a parent's category is
        inherited; otherwise the process is a probe if its exe and args equal
        one of its container's probes."""
        cid = ti.container_id
        if not cid or cid == HOST_ID:
            return
        if ti.vpid == 1:
            ti.category = CAT_CONTAINER
            return
        parent = ti.parent_thread()
        if parent is not None and parent.category != CAT_NONE:
            ti.category = parent.category
            return
        info = self._containers.get(cid)
        if info is None:
            return
        for cat, (exe, args) in info.probes.items():
            if ti.exe == exe and tuple(ti.args) == args:
                ti.category = cat
                return

    def add_from_event(self, cid: str, ctype: int, name: str, image: str) -> ContainerInfo:
        """Apply an old-style ``container`` event (id, type, name, image)."""
        info = ContainerInfo(id=cid, type=ctype, name=name, image=image, has_metadata=True)
        return self.add(info)


def _from_json(text: str) -> ContainerInfo | None:
    """The entry a ``container_json`` body describes (None if it describes none)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    c = doc.get("container") if isinstance(doc, dict) else None
    if not isinstance(c, dict) or not c.get("id"):
        return None
    info = ContainerInfo(
        id=str(c["id"]),
        type=int(c.get("type", 0) or 0),
        name=str(c.get("name", "") or ""),
        image=str(c.get("image", "") or ""),
        image_id=str(c.get("imageid", "") or ""),
        image_repo=str(c.get("imagerepo", "") or ""),
        image_tag=str(c.get("imagetag", "") or ""),
        image_digest=str(c.get("imagedigest", "") or ""),
        privileged=bool(c.get("privileged", False)),
        ip=str(c.get("ip", "") or ""),
        mounts=list(c.get("Mounts", []) or []),
        has_metadata=True,
        labels=_str_map(c.get("labels")),
        created_time=_int(c.get("created_time")),
        full_id=str(c.get("full_id", "") or ""),
        user=str(c.get("User", "") or ""),
        pod_sandbox_id=str(c.get("pod_sandbox_id", "") or ""),
        pod_sandbox_labels=_str_map(c.get("pod_sandbox_labels")),
        cni_json=str(c.get("cni_json", "") or ""),
        is_pod_sandbox=bool(c.get("is_pod_sandbox", False)),
        host_pid=bool(c.get("host_pid", False)),
        host_network=bool(c.get("host_network", False)),
        host_ipc=bool(c.get("host_ipc", False)),
    )
    for keys, attr, cat in (
        (("Healthcheck", "healthcheck"), "healthcheck", CAT_HEALTHCHECK),
        (("LivenessProbe", "liveness_probe"), "liveness_probe", CAT_LIVENESS_PROBE),
        (("ReadinessProbe", "readiness_probe"), "readiness_probe", CAT_READINESS_PROBE),
    ):
        probe = next((c[k] for k in keys if isinstance(c.get(k), dict)), None)
        if probe is not None:
            exe = str(probe.get("exe", ""))
            args = tuple(str(a) for a in (probe.get("args", []) or []))
            setattr(info, attr, " ".join([exe, *args]))
            info.probes[cat] = (exe, args)
    return info


def _str_map(v: object) -> dict[str, str]:
    """A JSON object of strings (labels); ``null`` or anything else is empty, as libs'
    ``object_from_json`` treats the ``null`` old writers left."""
    if not isinstance(v, dict):
        return {}
    return {str(k): "" if x is None else str(x) for k, x in v.items()}


def _int(v: object) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return 0
    return 0

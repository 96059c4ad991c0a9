"""Container ids from cgroup layouts, and container JSON events."""

from __future__ import annotations

import json

import pytest

from sinsp.state.containers import ContainerTable, container_id_from_cgroups

H = "0123456789abcdef" * 4  # 64 hex digits


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/docker/{H}", (H[:12], 0)),
        (f"/system.slice/docker-{H}.scope", (H[:12], 0)),
        (f"/kubepods/besteffort/pod1234-5678/{H}", (H[:12], 0)),
        (f"/kubepods.slice/kubepods-burstable.slice/x/{H}", (H[:12], 0)),
        (f"/system.slice/cri-containerd-{H}.scope", (H[:12], 6)),
        (f"/machine.slice/crio-{H}.scope", (H[:12], 8)),
        (f"/machine.slice/libpod-{H}.scope", (H[:12], 0)),
        ("/user.slice/user-1000.slice/session-1.scope", ("host", None)),
        ("/", ("host", None)),
        (f"/docker/{H[:-1]}", ("host", None)),  # 63 digits: not an id
    ],
)
def test_container_id_from_cgroup_layouts(path: str, expected: tuple[str, int | None]) -> None:
    assert container_id_from_cgroups([("cpuset", "/"), ("memory", path)]) == expected


def test_docker_ids_get_a_bare_entry_cri_ids_none() -> None:
    table = ContainerTable()
    docker = table.ensure("aaaaaaaaaaaa", 0)
    assert docker is not None and docker.privileged is False and not docker.has_metadata
    assert table.ensure("bbbbbbbbbbbb", 6) is None
    assert len(table) == 1


def test_container_json_sets_metadata_and_probes() -> None:
    table = ContainerTable()
    info = table.add_from_json(json.dumps({"container": {
        "id": "abcdefabcdef", "type": 7, "name": "n", "image": "i:t", "privileged": True,
        "healthcheck": {"exe": "/bin/check", "args": ["-q"]},
        "Mounts": [{"Source": "/a", "Destination": "/b", "Mode": "", "RW": False,
                    "Propagation": ""}]}}))
    assert info is not None and table.get("abcdefabcdef") is info
    assert (info.type_name, info.name, info.image, info.privileged) == ("containerd", "n",
                                                                         "i:t", True)
    assert info.healthcheck == "/bin/check -q" and info.mounts[0]["Source"] == "/a"
    assert table.add_from_json("{not json") is None
    assert table.add_from_json(json.dumps({"container": {}})) is None

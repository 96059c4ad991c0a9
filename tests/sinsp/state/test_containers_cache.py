"""ContainerTable shares the entry parsed from one container JSON text between the events
that repeat it: the table must read exactly as if every event were parsed anew."""

from __future__ import annotations

import json
from dataclasses import asdict

from sinsp.state import containers
from sinsp.state.containers import ContainerTable


def _text(name: str, **extra: object) -> str:
    return json.dumps({"container": {"id": "5ea733068030", "type": 0, "name": name,
                                     "image": "sysdig/falco:latest", **extra}})


def test_repeated_text_reads_as_a_fresh_parse() -> None:
    first, other = _text("falco", labels={"a": "1"}), _text("renamed", ip="172.17.0.3")
    cached, fresh = ContainerTable(), ContainerTable()
    for text in (first, other, first):
        got = cached.add_from_json(text)
        fresh._parsed.clear()  # the reference parses every event
        want = fresh.add_from_json(text)
        assert got is not None and want is not None
        assert asdict(got) == asdict(want)
        assert asdict(cached.get("5ea733068030")) == asdict(want)  # type: ignore[arg-type]
    # the last event is the first text again: its entry is back, not the renamed one
    assert cached.get("5ea733068030").name == "falco"  # type: ignore[union-attr]


def test_texts_describing_nothing_stay_nothing() -> None:
    table = ContainerTable()
    for _ in range(2):
        assert table.add_from_json("{not json") is None
        assert table.add_from_json('{"container": {"name": "no id"}}') is None
    assert len(table) == 0


def test_cache_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(containers, "_JSON_CACHE_MAX", 4)
    table = ContainerTable()
    for k in range(10):
        assert table.add_from_json(_text(f"c{k}")) is not None
        assert len(table._parsed) <= 4
    assert table.get("5ea733068030").name == "c9"  # type: ignore[union-attr]


def test_cgroup_answers_are_memoised_faithfully() -> None:
    docker = "/docker/" + "ab" * 32
    cases = [
        [("cpu", "/user.slice"), ("pids", docker)],
        [("cpu", "/user.slice")],
        [["cpu", docker]],  # unhashable pairs: computed, not memoised
    ]
    for cg in cases * 2:  # the second round reads the memo
        want = containers._container_id(tuple(cg))
        assert containers.container_id_from_cgroups(cg) == want
        assert containers.container_id_from_cgroups(iter(cg)) == want
    assert containers.container_id_from_cgroups(cases[0]) == ("ab" * 6, 0)
    assert containers.container_id_from_cgroups(cases[1]) == ("host", None)

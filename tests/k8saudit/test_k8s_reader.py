"""AuditEvent, the payload parser and the file reader, on hand-made payloads and the real traces."""
from __future__ import annotations

import io
import json
import os
import pathlib
from datetime import UTC, datetime

import pytest
from k8s_helpers import make_event, trace, trace_files

from sinsp.k8saudit import (
    NOT_RECOGNIZED,
    AuditEvent,
    AuditEventError,
    AuditFileReader,
    AuditFormatError,
    parse_payload,
    parse_rfc3339,
    parse_value,
    read_audit_events,
)


def _ns(dt: datetime, frac_ns: int = 0) -> int:
    return int(dt.replace(microsecond=0).timestamp()) * 1_000_000_000 + frac_ns


# -- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-10-25T13:58:49.736141Z", _ns(datetime(2018, 10, 25, 13, 58, 49, tzinfo=UTC),
                                            736141000)),
        ("2024-01-02T03:04:05.123456789Z", _ns(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
                                               123456789)),
        ("2024-01-02T03:04:05Z", _ns(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))),
        # an offset moves the instant: 05:04:05+02:00 is 03:04:05Z
        ("2024-01-02T05:04:05.5+02:00", _ns(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
                                            500_000_000)),
        ("2024-01-02T00:04:05-03:00", _ns(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))),
    ],
)
def test_rfc3339(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["", "2024-01-02", "2024-13-02T00:00:00Z",
                                  "2024-01-02T00:00:00", "yesterday", "2024-01-02T00:00:00.Z"])
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="parsing time"):
        parse_rfc3339(text)


# -- payloads -----------------------------------------------------------------------------------


def test_single_event_v1_and_v1beta1() -> None:
    for api in ("audit.k8s.io/v1", "audit.k8s.io/v1beta1"):
        res = parse_payload(json.dumps(make_event(apiVersion=api)).encode())
        assert [e.data["apiVersion"] for e in res.events] == [api]
        assert res.errors == []
        evt = res.events[0]
        assert evt.ts == parse_rfc3339("2024-01-02T03:04:05.123456789Z")
        assert evt.source == "k8s_audit"
        assert json.loads(evt.raw) == evt.data


def test_event_list_and_array() -> None:
    items = [make_event(auditID=str(i)) for i in range(5)]
    res = parse_payload(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                                    "items": items}))
    assert [e.data["auditID"] for e in res.events] == ["0", "1", "2", "3", "4"]
    res = parse_value([items[0], {"kind": "EventList", "items": items[1:3]}])
    assert [e.data["auditID"] for e in res.events] == ["0", "1", "2"]


@pytest.mark.parametrize("value", [{"kind": 0}, {"kind": "Pod"}, {}, "Event", 3, None,
                                   {"kind": "EventList"}, {"kind": "EventList", "items": {}},
                                   [make_event(), {"kind": "Nope"}]])
def test_not_recognized(value: object) -> None:
    with pytest.raises(AuditFormatError) as ei:
        parse_value(value)
    assert ei.value.message == NOT_RECOGNIZED


def test_malformed_json() -> None:
    for payload in (b"{", b"", b"\xff\xfe", b"[" * 100000):
        with pytest.raises(AuditFormatError, match="malformed JSON"):
            parse_payload(payload)


def test_one_bad_event_does_not_cost_the_others() -> None:
    good = make_event(auditID="good")
    no_time = make_event(auditID="no-time")
    del no_time["stageTimestamp"]
    bad_time = make_event(auditID="bad-time", stageTimestamp="soon")
    big = make_event(auditID="big", requestObject={"data": "x" * 1000})
    res = parse_value({"kind": "EventList", "items": [no_time, good, bad_time, big]},
                      max_event_size=900)
    assert [e.data["auditID"] for e in res.events] == ["good"]
    msgs = [e.message for e in res.errors]
    assert msgs[0] == "can't read stageTimestamp"
    assert "parsing time" in msgs[1]
    assert msgs[2].startswith("event larger than maxEventSize")
    assert all(isinstance(e, AuditEventError) for e in res.errors)


# -- files -----------------------------------------------------------------------------------


def _write(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_json_lines_file_numbers_events(tmp_path: pathlib.Path) -> None:
    lines = [json.dumps(make_event(auditID=f"id{i}")) for i in range(3)]
    p = _write(tmp_path, "a.log", "\n".join(lines[:2]) + "\n\n" + lines[2] + "\n")
    evts = list(read_audit_events(p))
    assert [(e.num, e.data["auditID"]) for e in evts] == [(1, "id0"), (2, "id1"), (3, "id2")]


def test_pretty_printed_document_and_event_list(tmp_path: pathlib.Path) -> None:
    lst = {"kind": "EventList", "items": [make_event(auditID="a"), make_event(auditID="b")]}
    p = _write(tmp_path, "list.json", json.dumps(lst, indent=2))
    assert [e.data["auditID"] for e in read_audit_events(p)] == ["a", "b"]
    p = _write(tmp_path, "one.json", json.dumps(make_event(auditID="c"), indent=4))
    assert [e.data["auditID"] for e in read_audit_events(p)] == ["c"]


def test_bad_line_reported_with_location_and_reading_goes_on(tmp_path: pathlib.Path) -> None:
    text = "\n".join([json.dumps(make_event(auditID="1")), "{not json", '{"kind": 0}',
                      json.dumps(make_event(auditID="2"))])
    p = _write(tmp_path, "mixed.log", text)
    errors: list[AuditFormatError] = []
    evts = list(read_audit_events(p, on_error=errors.append))
    assert [e.data["auditID"] for e in evts] == ["1", "2"]
    assert [(e.line, e.where) for e in errors] == [(2, str(p)), (3, str(p))]
    assert "malformed JSON" in errors[0].message
    assert errors[1].message == NOT_RECOGNIZED
    assert str(errors[1]) == f"{p}:3: {NOT_RECOGNIZED}"
    # without a handler: the events before the damage, then the error
    got: list[AuditEvent] = []
    with pytest.raises(AuditFormatError) as ei:
        for e in read_audit_events(p):
            got.append(e)
    assert [e.data["auditID"] for e in got] == ["1"]
    assert ei.value.line == 2


def test_first_line_broken_rest_is_json_lines(tmp_path: pathlib.Path) -> None:
    text = "{broken\n" + json.dumps(make_event(auditID="x")) + "\n"
    errors: list[AuditFormatError] = []
    evts = list(read_audit_events(_write(tmp_path, "b.log", text), on_error=errors.append))
    assert [e.data["auditID"] for e in evts] == ["x"]
    assert [e.line for e in errors] == [1]


def test_directory_in_mtime_order(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "logs"
    d.mkdir()
    for i, name in enumerate(["z.log", "a.log", "m.log"]):
        p = _write(d, name, json.dumps(make_event(auditID=name)) + "\n")
        os.utime(p, ns=(1_000_000_000 * (i + 1), 1_000_000_000 * (i + 1)))
    assert [e.data["auditID"] for e in read_audit_events(d)] == ["z.log", "a.log", "m.log"]


def test_stream_source() -> None:
    stream = io.StringIO(json.dumps(make_event(auditID="s")) + "\n")
    assert [e.data["auditID"] for e in read_audit_events(stream)] == ["s"]


def test_missing_file_is_a_format_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(AuditFormatError, match="cannot open"):
        list(read_audit_events(tmp_path / "nope.json"))


def test_document_size_bound(tmp_path: pathlib.Path) -> None:
    p = _write(tmp_path, "big.json", json.dumps(make_event(), indent=2))
    errors: list[AuditFormatError] = []
    rd = AuditFileReader(p, on_error=errors.append, max_document_size=100)
    assert list(rd) == []
    assert errors and errors[0].line == 1 and rd.errors >= 1


# -- the real traces ------------------------------------------------------------------------


def test_every_trace_reads_or_fails_cleanly() -> None:
    files = trace_files()
    if not files:
        pytest.skip("no traces")
    total = 0
    for f in files:
        errors: list[AuditFormatError] = []
        evts = list(read_audit_events(f, on_error=errors.append))
        # every line of these files is one JSON document
        docs = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        good = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Event"]
        assert [e.data for e in evts] == good, f.name
        assert len(errors) == len(docs) - len(good), f.name
        for e in evts:
            assert e.ts == parse_rfc3339(e.data["stageTimestamp"])
        total += len(evts)
    assert total == len(files) - 1 + 5  # fal_01_003 has none, the configmap file six


def test_fal_01_003_is_a_clear_error() -> None:
    p = trace("fal_01_003.json")
    with pytest.raises(AuditFormatError) as ei:
        list(read_audit_events(p))
    assert str(ei.value) == f"{p}:1: data not recognized as a k8s audit event"


def test_max_event_size_is_on_the_compact_encoding(tmp_path: pathlib.Path) -> None:
    evt = make_event(requestObject={"data": "y" * 300})
    compact = len(json.dumps(evt, separators=(",", ":")))
    # one line over the limit: rejected with its size
    p = _write(tmp_path, "big.log", json.dumps(evt, separators=(",", ":")) + "\n")
    errors: list[AuditFormatError] = []
    assert list(AuditFileReader(p, on_error=errors.append, max_event_size=compact - 1)) == []
    assert errors[0].message == f"event larger than maxEventSize: size={compact}"
    # pretty-printed text longer than the limit, compact form within it: accepted
    p = _write(tmp_path, "pretty.json", json.dumps(evt, indent=8))
    assert p.stat().st_size > compact
    assert len(list(AuditFileReader(p, max_event_size=compact))) == 1

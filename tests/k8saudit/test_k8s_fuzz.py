"""Invariants under arbitrary input (h11's fuzz idea): any bytes give events or an
AuditFormatError; any JSON in an audit event gives field values or N/A, never an exception."""
from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_helpers import make_event

from sinsp.k8saudit import REGISTRY, AuditEvent, AuditFormatError, parse_payload

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["containers", "securityContext", "privileged", "image", "ports",
                         "hostPort", "containerPort", "volumes", "hostPath", "path", "rules",
                         "verbs", "resources", "capabilities", "add", "runAsUser", "name",
                         "spec", "data", "type", "subjects", "roleRef", "flexVolume", "driver",
                         "0", "1", "x"]),
        inner, max_size=5),
    max_leaves=25)

ARGS = {"index": ["0", "1", "7"], "required": ["command", "/etc*", "/a/b", "x"],
        "key": ["/spec/containers/0/image", "/requestObject/spec", "a~1b", "/0"]}


def _field_texts() -> list[str]:
    out = []
    for _cls, f in REGISTRY.list_fields(include_hidden=True):
        kind = f.arg.value
        if kind != "required":
            out.append(f.name)
        if kind == "index":
            out += [f"{f.name}[{a}]" for a in ARGS["index"]]
        elif kind in ("required", "key"):
            out += [f"{f.name}[{a}]" for a in ARGS["required"] + ARGS["key"]]
    return out


FIELDS = _field_texts()


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_bytes(payload: bytes) -> None:
    try:
        res = parse_payload(payload)
    except AuditFormatError:
        return
    for e in res.events:
        assert isinstance(e, AuditEvent)


@given(JSON)
@settings(max_examples=200, deadline=None)
def test_any_json_document(value: Any) -> None:
    with contextlib.suppress(AuditFormatError):
        parse_payload(json.dumps(value))


@given(JSON, JSON, JSON, st.sampled_from(["requestObject", "responseObject", "user",
                                          "objectRef", "requestURI", "sourceIPs"]))
@settings(max_examples=100, deadline=None)
def test_fields_never_raise(spec: Any, obj: Any, other: Any, key: str) -> None:
    data = make_event(requestObject={"spec": spec, "rules": obj, "data": obj,
                                     "subjects": other})
    data[key] = other if key != "requestObject" else {"spec": other}
    evt = AuditEvent(data, ts=1)
    for name in FIELDS:
        v = REGISTRY.extract(evt, name)
        assert v is None or isinstance(v, (str, int, list)), (name, v)
        if isinstance(v, list):
            assert v and all(isinstance(x, str) for x in v), (name, v)

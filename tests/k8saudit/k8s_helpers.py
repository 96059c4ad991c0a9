"""Helpers for the k8s audit tests: the real audit traces and a small event builder."""
from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

TRACES = pathlib.Path("/work/shared/traces/k8s_audit")


def trace_files() -> list[pathlib.Path]:
    return sorted(TRACES.glob("*.json")) if TRACES.is_dir() else []


def trace(name: str) -> pathlib.Path:
    p = TRACES / name
    if not p.exists():
        pytest.skip(f"trace {p} not available")
    return p


def trace_json(name: str) -> dict[str, Any]:
    return json.loads(trace(name).read_text())


def make_event(**over: Any) -> dict[str, Any]:
    """A minimal well-formed audit.k8s.io/v1 Event dict; keyword arguments replace keys."""
    evt: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": "00000000-0000-0000-0000-000000000001",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/pods",
        "verb": "create",
        "user": {"username": "alice", "groups": ["system:authenticated"]},
        "sourceIPs": ["127.0.0.1"],
        "objectRef": {"resource": "pods", "namespace": "default", "apiVersion": "v1"},
        "responseStatus": {"code": 201},
        "requestReceivedTimestamp": "2024-01-02T03:04:05.000001Z",
        "stageTimestamp": "2024-01-02T03:04:05.123456789Z",
    }
    evt.update(over)
    return evt

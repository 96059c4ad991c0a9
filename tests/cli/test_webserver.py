"""The webserver answers /healthz and /versions, and /metrics only when enabled."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from falco_cli.webserver import WebServer


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def test_endpoints():
    ws = WebServer("127.0.0.1", 0, versions=lambda: {"falco_version": "x"},
                   metrics=lambda: "a_total 1\n")
    ws.start()
    try:
        base = f"http://127.0.0.1:{ws.port}"
        assert get(base + "/healthz")[::2] == (200, '{"status": "ok"}')
        assert json.loads(get(base + "/versions")[2]) == {"falco_version": "x"}
        st, ctype, body = get(base + "/metrics")
        assert st == 200 and ctype.startswith("text/plain") and body == "a_total 1\n"
        with pytest.raises(urllib.error.HTTPError) as ei:
            get(base + "/nothing")
        assert ei.value.code == 404
    finally:
        ws.stop()


def test_metrics_absent_when_disabled():
    ws = WebServer("127.0.0.1", 0, healthz="/health", versions=dict, metrics=None)
    ws.start()
    try:
        base = f"http://127.0.0.1:{ws.port}"
        assert get(base + "/health")[0] == 200
        with pytest.raises(urllib.error.HTTPError):
            get(base + "/metrics")
    finally:
        ws.stop()

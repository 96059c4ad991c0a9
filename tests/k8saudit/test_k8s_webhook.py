"""The audit webhook under good, bad and heavy input, over HTTP and TLS, on loopback only."""
from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from k8s_helpers import make_event, trace, trace_files
from test_k8s_rules import OUR_RULES, OURS, make_engine, rule_sets

from falco_cli.k8s_webhook import EventQueue, K8sAuditWebhook, SinkFull
from sinsp.k8saudit import AuditEvent

LOOPBACK = "127.0.0.1"


class Collector:
    """A sink that keeps every batch (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[AuditEvent] = []

    def __call__(self, events: list[AuditEvent]) -> None:
        with self.lock:
            self.events.extend(events)


@pytest.fixture
def hook() -> Iterator[tuple[K8sAuditWebhook, Collector]]:
    sink = Collector()
    wh = K8sAuditWebhook(sink, LOOPBACK, 0, "/k8s-audit", read_timeout=1.0, max_body=1 << 20)
    with wh:
        yield wh, sink


def post(port: int, body: bytes | None, *, path: str = "/k8s-audit", method: str = "POST",
         ctype: str | None = "application/json", conn: http.client.HTTPConnection | None = None
         ) -> tuple[int, bytes]:
    c = conn or http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    headers = {"Content-Type": ctype} if ctype else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        # the server may answer (and stop reading) before the body is sent
        with contextlib.suppress(OSError):
            s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out


# -- contract -------------------------------------------------------------------------------


def test_statuses(hook: tuple[K8sAuditWebhook, Collector]) -> None:
    wh, sink = hook
    good = json.dumps(make_event()).encode()
    assert post(wh.port, good) == (200, b"")
    assert post(wh.port, b'{"kind": 0}')[0] == 400
    assert post(wh.port, b'{"kind": 0}')[1].strip() == b"data not recognized as a k8s audit event"
    status, body = post(wh.port, b'{"kind": "Event", ')
    assert status == 400 and body.startswith(b"malformed JSON")
    assert post(wh.port, good, ctype="text/plain") == (400, b"wrong Content Type\n")
    assert post(wh.port, good, ctype=None)[0] == 400
    assert post(wh.port, None, method="GET") == (405, b"GET method not allowed\n")
    assert post(wh.port, good, method="PUT") == (405, b"PUT method not allowed\n")
    assert post(wh.port, good, path="/other")[0] == 404
    assert post(wh.port, None, method="GET", path="/healthz")[0] == 200
    assert [e.data["auditID"] for e in sink.events] == [make_event()["auditID"]]
    assert wh.stats.by_status[200] == 2 and wh.stats.events == 1


def test_event_list_v1beta1_and_partial_rejection(hook: tuple[K8sAuditWebhook, Collector]
                                                 ) -> None:
    wh, sink = hook
    no_time = make_event(auditID="bad")
    del no_time["stageTimestamp"]
    items = [make_event(auditID=f"e{i}", apiVersion="audit.k8s.io/v1beta1") for i in range(3)]
    body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1beta1",
                       "items": [*items, no_time]}).encode()
    assert post(wh.port, body)[0] == 200
    assert [e.data["auditID"] for e in sink.events] == ["e0", "e1", "e2"]
    assert wh.stats.rejected_events == 1
    # a payload of only bad events is refused with the reason
    status, reason = post(wh.port, json.dumps([no_time]).encode())
    assert (status, reason.strip()) == (400, b"can't read stageTimestamp")


def test_body_too_large_is_413_without_reading_it(hook: tuple[K8sAuditWebhook, Collector]
                                                  ) -> None:
    wh, _ = hook
    # announce 100 MB and send none of it: the answer comes from the header alone
    head = (b"POST /k8s-audit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    t0 = time.monotonic()
    resp = raw_exchange(wh.port, head)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:80]
    assert time.monotonic() - t0 < 3.0  # (loose: CI machines are busy)
    # a real body just over the limit, and a chunked one
    big = b"a" * ((1 << 20) + 1)
    resp = raw_exchange(wh.port, b"POST /k8s-audit HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        b"application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:80]
    chunk = b"a" * 300000
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    resp = raw_exchange(wh.port, b"POST /k8s-audit HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    assert resp.startswith(b"HTTP/1.1 413")
    assert wh.stats.by_status[413] == 3


def test_chunked_body_and_missing_length(hook: tuple[K8sAuditWebhook, Collector]) -> None:
    wh, sink = hook
    body = json.dumps(make_event(auditID="chunky")).encode()
    parts = [body[:10], body[10:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    resp = raw_exchange(wh.port, b"POST /k8s-audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + chunked)
    assert resp.startswith(b"HTTP/1.1 200")
    assert [e.data["auditID"] for e in sink.events] == ["chunky"]
    resp = raw_exchange(wh.port, b"POST /k8s-audit HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 411")


def test_sink_full_is_503() -> None:
    def full(events: list[AuditEvent]) -> None:
        raise SinkFull("event queue full")

    with K8sAuditWebhook(full, LOOPBACK) as wh:
        status, body = post(wh.port, json.dumps(make_event()).encode())
    assert (status, body.strip()) == (503, b"event queue full")


def test_event_queue_bounds() -> None:
    q = EventQueue(max_events=3, put_timeout=0.05)
    a, b, c = (AuditEvent(make_event(auditID=i), 1) for i in "abc")
    q.put([a, b])
    with pytest.raises(SinkFull):
        q.put([a, b])  # 4 > 3 events
    q.put([c])
    assert len(q) == 3
    assert q.get(0.1) is a
    big = EventQueue(max_events=1, put_timeout=0.05)
    big.put([a, b, c])  # an empty queue takes any batch
    assert big.drain() == [a, b, c]
    assert q.get(0.1) is b and q.get(0.1) is c and q.get(0.01) is None
    # a waiting put goes through as soon as the consumer makes room
    q2 = EventQueue(max_events=1, put_timeout=5)
    q2.put([a])
    threading.Timer(0.2, lambda: q2.get(0)).start()
    t0 = time.monotonic()
    q2.put([b])
    assert 0.1 < time.monotonic() - t0 < 2 and q2.get(1) is b


# -- every trace through the webhook, then the rules ------------------------------------------


def test_every_trace_through_the_webhook(hook: tuple[K8sAuditWebhook, Collector]) -> None:
    wh, sink = hook
    files = trace_files()
    if not files:
        pytest.skip("no traces")
    eng = make_engine(OUR_RULES)
    conn = http.client.HTTPConnection(LOOPBACK, wh.port, timeout=10)  # one keep-alive client
    try:
        for f in files:
            start = len(sink.events)
            statuses = []
            for line in f.read_bytes().splitlines():
                if line.strip():
                    status, reason = post(wh.port, line, conn=conn)
                    statuses.append((status, reason.strip()))
            if f.name == "fal_01_003.json":
                assert statuses == [(400, b"data not recognized as a k8s audit event")]
            else:
                assert {s for s, _ in statuses} == {200}, f.name
            got = sink.events[start:]
            assert rule_sets(eng, got) == OURS[f.name], f.name
    finally:
        conn.close()


# -- load -----------------------------------------------------------------------------------


def test_100_clients_10000_events_none_lost() -> None:
    sink = Collector()
    clients, posts, per_post = 100, 10, 10
    with K8sAuditWebhook(sink, LOOPBACK, workers=16, read_timeout=5.0) as wh:
        errors: list[Any] = []

        def client(c: int) -> None:
            conn = http.client.HTTPConnection(LOOPBACK, wh.port, timeout=30)
            try:
                for p in range(posts):
                    items = [make_event(auditID=f"{c}-{p}-{i}") for i in range(per_post)]
                    body = json.dumps({"kind": "EventList", "items": items}).encode()
                    status, reason = post(wh.port, body, conn=conn)
                    if status != 200:
                        errors.append((c, p, status, reason))
            except Exception as e:  # reported below
                errors.append((c, repr(e)))
            finally:
                conn.close()

        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        elapsed = time.monotonic() - t0
        assert wh.thread_count == 16 + 2  # workers, accept, watchdog
    assert errors == []
    ids = [e.data["auditID"] for e in sink.events]
    assert len(ids) == clients * posts * per_post == len(set(ids))
    assert wh.stats.events == 10000 and wh.stats.by_status == {200: clients * posts}
    print(f"\n10000 events from 100 clients in {elapsed:.2f}s "
          f"({10000 / elapsed:.0f} events/s)")


def test_idle_clients_do_not_block_others_and_threads_stay_bounded() -> None:
    sink = Collector()
    with K8sAuditWebhook(sink, LOOPBACK, workers=4, max_pending=64, read_timeout=0.5) as wh:
        before = threading.active_count()
        idle = [socket.create_connection((LOOPBACK, wh.port)) for _ in range(30)]
        try:
            # 30 silent clients on 4 workers: each holds a worker 0.5 s at most
            t0 = time.monotonic()
            status, _ = post(wh.port, json.dumps(make_event()).encode())
            waited = time.monotonic() - t0
            assert status == 200
            assert waited < 0.5 * 30 / 4 + 2.0
            assert threading.active_count() == before  # no thread per connection
            # the silent clients were dropped by the server, not left hanging
            for s in idle:
                s.settimeout(5)
                assert s.recv(1) == b""
        finally:
            for s in idle:
                s.close()
        # one idle client with free workers: no wait at all
        with socket.create_connection((LOOPBACK, wh.port)):
            t0 = time.monotonic()
            assert post(wh.port, json.dumps(make_event()).encode())[0] == 200
            assert time.monotonic() - t0 < 2.0
        assert wh.thread_count == 4 + 2


def _server_closed(s: socket.socket) -> bool:
    try:
        s.settimeout(0.05)
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True  # reset


def test_trickling_client_is_cut_at_the_request_timeout() -> None:
    with K8sAuditWebhook(Collector(), LOOPBACK, workers=1, read_timeout=1.0,
                         request_timeout=1.0) as wh:
        s = socket.create_connection((LOOPBACK, wh.port), timeout=5)
        t0 = time.monotonic()
        cut_after = None
        s.sendall(b"POST /k8s-audit HTTP/1.1\r\nX-Slow: ")
        while time.monotonic() - t0 < 6:  # one byte every 0.1 s: no single read times out
            try:
                s.sendall(b"x")
            except OSError:
                cut_after = time.monotonic() - t0
                break
            if _server_closed(s):
                cut_after = time.monotonic() - t0
                break
            time.sleep(0.05)
        s.close()
        assert cut_after is not None and 0.9 < cut_after < 4.0, cut_after
        # the single worker is free again
        assert post(wh.port, json.dumps(make_event()).encode())[0] == 200


def test_pending_queue_full_refuses_quickly() -> None:
    with K8sAuditWebhook(Collector(), LOOPBACK, workers=1, max_pending=1,
                         read_timeout=3.0) as wh:
        hold = socket.create_connection((LOOPBACK, wh.port))  # occupies the worker
        time.sleep(0.2)
        queued = socket.create_connection((LOOPBACK, wh.port))  # waits in the queue
        time.sleep(0.2)
        t0 = time.monotonic()
        resp = raw_exchange(wh.port, b"", timeout=2)
        assert resp.startswith(b"HTTP/1.1 503") and time.monotonic() - t0 < 3.0
        assert wh.stats.refused_connections == 1
        hold.close()
        queued.close()


# -- TLS ------------------------------------------------------------------------------------


def test_tls(self_signed: tuple[pathlib.Path, pathlib.Path]) -> None:
    pem, cert = self_signed
    sink = Collector()
    with K8sAuditWebhook(sink, LOOPBACK, ssl_certificate=str(pem), workers=2,
                         read_timeout=1.0) as wh:
        assert wh.url.startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cafile=str(cert))  # verifies chain and IP SAN
        conn = http.client.HTTPSConnection(LOOPBACK, wh.port, context=ctx, timeout=10)
        for i in range(3):  # keep-alive over TLS
            status, _ = post(wh.port, json.dumps(make_event(auditID=f"t{i}")).encode(),
                             conn=conn)
            assert status == 200
        conn.close()
        # a plain-HTTP client and a silent client get nowhere, and do not hurt the next one
        assert raw_exchange(wh.port, b"POST /k8s-audit HTTP/1.1\r\n\r\n", timeout=3)[:4] \
            != b"HTTP"
        with socket.create_connection((LOOPBACK, wh.port)):
            conn = http.client.HTTPSConnection(LOOPBACK, wh.port, context=ctx, timeout=10)
            assert post(wh.port, json.dumps(make_event(auditID="t9")).encode(),
                        conn=conn)[0] == 200
            conn.close()
        # an untrusted client certificate store fails the handshake
        with pytest.raises(ssl.SSLError):
            bad = http.client.HTTPSConnection(LOOPBACK, wh.port, timeout=5,
                                              context=ssl.create_default_context())
            post(wh.port, b"{}", conn=bad)
    assert [e.data["auditID"] for e in sink.events] == ["t0", "t1", "t2", "t9"]


def test_stop_releases_everything() -> None:
    wh = K8sAuditWebhook(Collector(), LOOPBACK, workers=3, read_timeout=30.0)
    wh.start()
    idle = socket.create_connection((LOOPBACK, wh.port))
    time.sleep(0.1)
    t0 = time.monotonic()
    wh.stop()
    assert time.monotonic() - t0 < 6.0  # the idle keep-alive client (30 s timeout) did not pin it
    assert wh.thread_count == 0
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, wh.port), timeout=1).close()


def test_loopback_trace_bodies_exist() -> None:
    # the replay test above relies on this file being one JSON line per event
    p = trace("create_configmap_sensitive_values.json")
    assert len([ln for ln in p.read_text().splitlines() if ln.strip()]) == 6

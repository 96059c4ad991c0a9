"""The Kubernetes audit webhook: an HTTP(S) endpoint the API server's webhook backend posts to.

What it accepts is the k8saudit plugin's contract: one ``POST`` to the endpoint path with
``Content-Type: application/json`` carrying an ``audit.k8s.io`` ``Event`` or ``EventList``
(``v1`` or ``v1beta1``) or an array of them. Answers:

* 200: the events were handed to the sink (so a 200 means none can be lost any more);
* 400: not JSON, wrong content type, or "data not recognized as a k8s audit event" (the reason
  is the response body); a payload whose every event was rejected (no ``stageTimestamp``,
  larger than ``max_event_size``) also gets 400 with the first reason;
* 405: any other method on the endpoint; 404 elsewhere; 411 without a body length;
* 413: a body over ``max_body`` bytes, refused from its ``Content-Length`` (or while reading a
  chunked body) without reading it;
* 503: the sink is full (the API server retries the batch).

Resources are bounded, unlike ``ThreadingHTTPServer`` (a thread per connection): one accept
thread hands connections to a fixed pool of ``workers`` through a queue of ``max_pending``;
beyond that a connection is refused at once. Each socket read waits at most ``read_timeout``
and each request must arrive within ``request_timeout`` (a watchdog thread shuts overdue
sockets), so a client that connects and sends nothing, or trickles bytes, holds a worker for a
bounded time and the others keep serving. Threads: ``workers`` + accept + watchdog, always.
With ``ssl_certificate`` (a PEM file holding the certificate and its key, as Falco's
``webserver.ssl_certificate``) every connection is TLS; the handshake runs in the worker, under
the same timeout, never in the accept loop.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from sinsp.k8saudit import (
    DEFAULT_MAX_EVENT_SIZE,
    AuditEvent,
    AuditFormatError,
    parse_payload,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "EventQueue",
    "K8sAuditWebhook",
    "SinkFull",
    "SinkFullError",
    "WebhookStats",
]

# the k8saudit plugin's webhookMaxBatchSize default (12 MiB)
DEFAULT_MAX_BODY = 12 * 1024 * 1024

Sink = Callable[[list[AuditEvent]], None]


class SinkFullError(Exception):
    """Raised by a sink that cannot take a batch now; the client gets 503 and retries."""


SinkFull = SinkFullError  # the name callers used first


@dataclass(slots=True)
class WebhookStats:
    """Counters, updated under the webhook's lock."""

    requests: int = 0
    events: int = 0  # events handed to the sink
    rejected_events: int = 0  # single events refused (no stageTimestamp, too large)
    refused_connections: int = 0  # pending queue full
    by_status: dict[int, int] = field(default_factory=dict)


class EventQueue:
    """A bounded queue of events between the webhook's workers and the consumer loop.

    Bounded in events, not batches: ``put`` (the webhook's sink) waits up to ``put_timeout``
    until the batch fits under ``max_events`` (an empty queue takes any batch) and raises
    :class:`SinkFull` otherwise, so memory stays bounded however the API server batches.
    ``get`` returns one event at a time, ``None`` on timeout.
    """

    def __init__(self, max_events: int = 100_000, put_timeout: float = 5.0) -> None:
        self._batches: collections.deque[list[AuditEvent]] = collections.deque()
        self._count = 0
        self._cond = threading.Condition()
        self._pending: list[AuditEvent] = []
        self.max_events = max_events
        self.put_timeout = put_timeout

    def __len__(self) -> int:
        return self._count + len(self._pending)

    def put(self, events: list[AuditEvent]) -> None:
        n = len(events)
        with self._cond:
            fits = self._cond.wait_for(
                lambda: self._count == 0 or self._count + n <= self.max_events,
                timeout=self.put_timeout)
            if not fits:
                raise SinkFullError("event queue full")
            self._batches.append(events)
            self._count += n
            self._cond.notify_all()

    __call__ = put

    def _take(self, timeout: float | None) -> list[AuditEvent] | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._count > 0, timeout=timeout):
                return None
            batch = self._batches.popleft()
            self._count -= len(batch)
            self._cond.notify_all()
            return batch

    def get(self, timeout: float | None = None) -> AuditEvent | None:
        while not self._pending:
            batch = self._take(timeout)
            if batch is None:
                return None
            self._pending = list(reversed(batch))
        return self._pending.pop()

    def drain(self) -> list[AuditEvent]:
        """Everything queued now, without waiting."""
        out = list(reversed(self._pending))
        self._pending = []
        while (batch := self._take(0)) is not None:
            out.extend(batch)
        return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # each socket read waits at most read_timeout: what StreamRequestHandler does with its
        # class-level `timeout`, here per server
        self.connection.settimeout(self.server.hook.read_timeout)

    def handle_one_request(self) -> None:
        # the whole request (request line, headers, body) must arrive within request_timeout;
        # the watchdog shuts the socket otherwise. Waiting for the next request on a
        # keep-alive connection is bounded by the read timeout alone.
        hook = self.server.hook
        hook._arm(self.connection, hook.request_timeout)
        try:
            super().handle_one_request()
        finally:
            hook._arm(self.connection, None)

    # -- responses ----------------------------------------------------------------------

    def _reply(self, code: int, body: str, *, close: bool = False,
               ctype: str = "text/plain; charset=utf-8") -> None:
        data = (body + "\n").encode() if body else b""
        self.server.hook._count(code)  # before the client can see the answer
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    # -- methods ------------------------------------------------------------------------

    def do_POST(self) -> None:
        hook = self.server.hook
        if self._path() != hook.path:
            self._discard_or_close()
            self._reply(404, "not found", close=self.close_connection)
            return
        ctype = self.headers.get("Content-Type", "")
        if "application/json" not in ctype:
            self._discard_or_close()
            self._reply(400, "wrong Content Type", close=self.close_connection)
            return
        body = self._read_body(hook.max_body)
        if body is None:
            return  # already answered
        hook._arm(self.connection, None)  # the request is in; the sink may take its time
        hook._handle(self, body)

    def do_GET(self) -> None:
        hook = self.server.hook
        path = self._path()
        if hook.healthz and path == hook.healthz:
            self._reply(200, '{"status": "ok"}', ctype="application/json")
        elif path == hook.path:
            self._reply(405, "GET method not allowed")
        else:
            self._reply(404, "not found")

    def _other(self) -> None:
        self._discard_or_close()
        if self._path() == self.server.hook.path:
            self._reply(405, f"{self.command} method not allowed", close=self.close_connection)
        else:
            self._reply(404, "not found", close=self.close_connection)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other  # noqa: N815

    # -- bodies -------------------------------------------------------------------------

    def _discard_or_close(self) -> None:
        """Skip a small unwanted body so the connection stays usable; otherwise close it."""
        length = self.headers.get("Content-Length")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
        elif length is None or length.strip() == "0":
            return
        elif length.strip().isdigit() and int(length) <= 65536:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _read_body(self, limit: int) -> bytes | None:
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            self._reply(411, "length required", close=True)
            return None
        if not length.strip().isdigit():
            self._reply(400, "bad request: invalid Content-Length", close=True)
            return None
        n = int(length)
        if n > limit:
            self._reply(413, f"request body too large (limit {limit} bytes)", close=True)
            self.server.hook._lingering.add(self.connection)
            return None
        data = self.rfile.read(n)
        if len(data) < n:
            self.close_connection = True
            return None  # client went away mid-body
        return data

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._reply(400, "bad request: malformed chunked body", close=True)
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                self._reply(413, f"request body too large (limit {limit} bytes)", close=True)
                self.server.hook._lingering.add(self.connection)
                return None
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                self.close_connection = True
                return None
            parts.append(chunk)
            self.rfile.readline(1024)  # CRLF after the chunk


class _Server(socketserver.TCPServer):
    """Accepts in one thread, serves in a fixed pool (see the module docstring)."""

    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: bursts of clients connecting at once

    def __init__(self, hook: K8sAuditWebhook) -> None:
        self.hook = hook
        super().__init__((hook.address, hook.requested_port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self.hook._pending.put_nowait((request, client_address))
        except queue.Full:
            self.hook._refuse(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a broken client connection is not an error of the server


class K8sAuditWebhook:
    """Serve the audit webhook on ``address:port`` (port 0 picks a free one; see ``port``).

    ``sink(events)`` receives each accepted payload's events, from a worker thread; it may
    raise :class:`SinkFull`. Use as a context manager or call ``start()``/``stop()``.
    """

    def __init__(self, sink: Sink, address: str = "127.0.0.1", port: int = 0,
                 path: str = "/k8s-audit", *, ssl_certificate: str | None = None,
                 max_body: int = DEFAULT_MAX_BODY,
                 max_event_size: int = DEFAULT_MAX_EVENT_SIZE, workers: int = 16,
                 max_pending: int = 256, read_timeout: float = 5.0,
                 request_timeout: float = 30.0, healthz: str | None = "/healthz") -> None:
        if workers < 1 or max_pending < 1:
            raise ValueError("workers and max_pending must be at least 1")
        self.sink = sink
        self.address = address
        self.requested_port = port
        self.path = path if path.startswith("/") else "/" + path
        self.max_body = max_body
        self.max_event_size = max_event_size
        self.workers = workers
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self.healthz = healthz
        self.stats = WebhookStats()
        self._lock = threading.Lock()
        self._pending: queue.Queue[tuple[Any, Any] | None] = queue.Queue(max_pending)
        # open connections -> monotonic deadline of the request being read (inf: none)
        self._conns: dict[socket.socket, float] = {}
        # connections answered before their body was read: drain a little before closing,
        # so the client sees the answer rather than a reset (a "lingering close")
        self._lingering: set[socket.socket] = set()
        self._ssl: ssl.SSLContext | None = None
        if ssl_certificate:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ssl_certificate)  # PEM with certificate and key
            self._ssl = ctx
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self._threads: list[threading.Thread] = []
        self._running = False

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        host = self.address if ":" not in self.address else f"[{self.address}]"
        return f"{scheme}://{host}:{self.port}{self.path}"

    def start(self) -> K8sAuditWebhook:
        if self._running:
            return self
        self._running = True
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"k8s-webhook-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                             name="k8s-webhook-accept", daemon=True)
        t.start()
        self._threads.append(t)
        t = threading.Thread(target=self._watchdog, name="k8s-webhook-watchdog", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if not self._running:
            self._server.server_close()
            return
        self._running = False
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            active = list(self._conns)
        for sock in active:  # idle keep-alive connections: wake their workers
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        while True:  # connections accepted but never served
            try:
                item = self._pending.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._close(item[0])
        for _ in range(self.workers):
            self._pending.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def __enter__(self) -> K8sAuditWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def thread_count(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    # -- workers ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            sock, addr = item
            self._serve(sock, addr)

    def _serve(self, sock: socket.socket, addr: Any) -> None:
        conn: socket.socket = sock
        self._arm(sock, self.request_timeout)  # the TLS handshake counts as request time
        try:
            sock.settimeout(self.read_timeout)
            if self._ssl is not None:
                conn = self._ssl.wrap_socket(sock, server_side=True)
                self._forget(sock)  # wrapping moved the descriptor to conn
                self._arm(conn, None)
            _Handler(conn, addr, self._server)
        except (OSError, ssl.SSLError, TimeoutError, ValueError):
            pass  # handshake failure, timeout, reset: drop this client only
        finally:
            self._forget(sock)
            self._forget(conn)
            if conn in self._lingering:
                self._lingering.discard(conn)
                self._linger(conn)
            self._close(conn)

    def _linger(self, conn: socket.socket, max_bytes: int = 4 << 20,
                max_seconds: float = 1.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(0.2)
            end = time.monotonic() + max_seconds
            got = 0
            while got < max_bytes and time.monotonic() < end:
                data = conn.recv(65536)
                if not data:
                    break
                got += len(data)

    def _arm(self, sock: socket.socket, seconds: float | None) -> None:
        with self._lock:
            self._conns[sock] = (float("inf") if seconds is None
                                 else time.monotonic() + seconds)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.pop(sock, None)

    def _watchdog(self) -> None:
        """Shut the sockets whose request is overdue (slow senders), ~5 times a second."""
        while self._running:
            time.sleep(0.2)
            now = time.monotonic()
            with self._lock:
                late = [s for s, dl in self._conns.items() if dl < now]
                for s in late:
                    self._conns[s] = float("inf")
            for s in late:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def _refuse(self, sock: socket.socket) -> None:
        with self._lock:
            self.stats.refused_connections += 1
        if self._ssl is None:
            with contextlib.suppress(OSError):
                sock.setblocking(False)
                sock.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
        self._close(sock)

    def _count(self, code: int) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.by_status[code] = self.stats.by_status.get(code, 0) + 1

    def _handle(self, req: _Handler, body: bytes) -> None:
        try:
            res = parse_payload(body, self.max_event_size)
        except AuditFormatError as e:
            req._reply(400, e.message)
            return
        if res.errors:
            with self._lock:
                self.stats.rejected_events += len(res.errors)
        if not res.events:
            req._reply(400, res.errors[0].message if res.errors else
                       "no k8s audit event in the payload")
            return
        try:
            self.sink(res.events)
        except SinkFullError as e:
            req._reply(503, str(e) or "busy")
            return
        with self._lock:
            self.stats.events += len(res.events)
        req._reply(200, "")

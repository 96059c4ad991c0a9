"""Fixtures for the CLI tests: a loopback HTTP server that records requests (optionally slow or
failing), and a free port that nothing listens on (a "down" endpoint)."""
from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Recorder:
    def __init__(self, delay_s: float = 0.0, status: int = 200):
        self.delay_s = delay_s
        self.gate = threading.Event()     # cleared: requests wait until it is set
        self.gate.set()
        self.status = status
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                rec.gate.wait(30)
                if rec.delay_s:
                    time.sleep(rec.delay_s)
                with rec.lock:
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body.decode()})
                self.send_response(rec.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_recorder():
    servers: list[Recorder] = []

    def make(delay_s: float = 0.0, status: int = 200) -> Recorder:
        r = Recorder(delay_s, status)
        servers.append(r)
        return r

    yield make
    for s in servers:
        s.close()


@pytest.fixture
def down_url():
    """A loopback URL with nothing listening (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"

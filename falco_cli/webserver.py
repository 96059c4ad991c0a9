"""The embedded webserver: ``/healthz``, ``/versions`` and Prometheus ``/metrics``.

Falco serves these from a cpp-httplib server on ``webserver.listen_address:listen_port``
(``ssl_enabled`` with ``ssl_certificate``, a PEM holding key and certificate). Here a
``ThreadingHTTPServer`` in a daemon thread; the handlers only read counters the app keeps, so they
never touch the event loop. ``/metrics`` exists only when ``metrics.enabled`` and
``webserver.prometheus_metrics_enabled`` are both true, as in Falco.
"""
from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from falco_cli import log


class WebServer:
    def __init__(self, address: str, port: int, *, healthz: str = "/healthz",
                 versions: Callable[[], dict[str, Any]], metrics: Callable[[], str] | None = None,
                 ssl_certificate: str | None = None):
        self.healthz = healthz
        self.versions = versions
        self.metrics = metrics
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == server.healthz:
                    self._send(200, "application/json", json.dumps({"status": "ok"}))
                elif path == "/versions":
                    self._send(200, "application/json", json.dumps(server.versions()))
                elif path == "/metrics" and server.metrics is not None:
                    self._send(200, "text/plain; version=0.0.4", server.metrics())
                else:
                    self._send(404, "text/plain", "Not Found")

            def _send(self, code: int, ctype: str, body: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webserver: " + format % args)

        self.httpd = ThreadingHTTPServer((address, port), Handler)
        self.httpd.daemon_threads = True
        if ssl_certificate:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(ssl_certificate)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="webserver",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

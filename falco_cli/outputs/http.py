"""http_output: POST each alert to a URL (Falcosidekick's ``POST /`` reads Falco's JSON as is).

Content type is ``application/json`` with ``json_output`` and ``text/plain`` otherwise, as in Falco.
TLS follows the falco.yaml keys: ``insecure`` (no verification),
``ca_cert``/``ca_bundle``/``ca_path``, ``mtls`` with ``client_cert``/``client_key``;
``compress_uploads`` gzips the body (``Content-Encoding: gzip``); ``keep_alive`` reuses one
connection. Connection errors and 5xx are
retried by the worker; other 4xx are not (the request itself is wrong).
"""
from __future__ import annotations

import gzip
import http.client
import os
import ssl
import sys
import urllib.parse

from falco_cli.outputs.base import Output, OutputError
from falco_cli.outputs.formatting import Message


class HttpOutput(Output):
    name = "http"

    def __init__(self, url: str, *, user_agent: str = "falcosecurity/falco", insecure: bool = False,
                 ca_cert: str = "", ca_bundle: str = "", ca_path: str = "", mtls: bool = False,
                 client_cert: str = "", client_key: str = "", echo: bool = False,
                 compress_uploads: bool = False, keep_alive: bool = False, json_output: bool = True,
                 timeout_s: float = 2.0, **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self.url = url
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise OutputError(self.name, f"invalid url '{url}'", retry=False)
        self._u = u
        self.user_agent = user_agent
        self.echo = echo
        self.compress = compress_uploads
        self.keep_alive = keep_alive
        self.content_type = "application/json" if json_output else "text/plain"
        self.timeout_s = timeout_s
        self._ctx: ssl.SSLContext | None = None
        if u.scheme == "https":
            ctx = ssl.create_default_context()
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                cafile = ca_cert or ca_bundle or None
                capath = ca_path if ca_path and os.path.isdir(ca_path) else None
                if cafile or capath:
                    ctx.load_verify_locations(cafile=cafile, capath=capath)
            if mtls:
                ctx.load_cert_chain(client_cert, client_key or None)
            self._ctx = ctx
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            port = self._u.port
            if self._ctx is not None:
                self._conn = http.client.HTTPSConnection(self._u.hostname or "", port,
                                                         timeout=self.timeout_s, context=self._ctx)
            else:
                self._conn = http.client.HTTPConnection(self._u.hostname or "", port,
                                                        timeout=self.timeout_s)
        return self._conn

    def write(self, msg: Message) -> None:
        body = msg.text.encode("utf-8", "surrogateescape")
        headers = {"Content-Type": self.content_type, "User-Agent": self.user_agent,
                   "Connection": "keep-alive" if self.keep_alive else "close"}
        if self.compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        path = self._u.path or "/"
        if self._u.query:
            path += "?" + self._u.query
        conn = self._connection()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.cleanup()
            raise OutputError(self.name, f"POST {self.url} failed: {e}") from e
        if not self.keep_alive:
            self.cleanup()
        if self.echo and data:
            sys.stdout.write(data.decode("utf-8", "replace") + "\n")
        if resp.status >= 400:
            raise OutputError(self.name, f"POST {self.url} returned HTTP {resp.status}",
                              retry=resp.status >= 500 or resp.status == 429)

    def cleanup(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

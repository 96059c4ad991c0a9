"""TLS: http_output to an HTTPS loopback server (verification on by default, ``ca_cert`` to trust
a private CA's certificate, ``insecure`` to skip verification, ``mtls`` client certificates), and
the webserver with ``ssl_enabled``. Certificates are made with the openssl command line."""
from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from falco_cli.outputs import HttpOutput, format_alert
from falco_cli.webserver import WebServer
from tests.cli.test_outputs import FakeAlert

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _cert(d, name: str, cn: str = "127.0.0.1"):
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=IP:{cn}",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return key, crt


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return {"server": _cert(d, "server"), "client": _cert(d, "client", "127.0.0.2"), "dir": d}


class TlsRecorder:
    def __init__(self, key, crt, client_ca=None):
        self.bodies: list[str] = []
        self.peer_certs: list[object] = []
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                rec.bodies.append(self.rfile.read(n).decode())
                rec.peer_certs.append(self.connection.getpeercert())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(str(client_ca))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(out: HttpOutput) -> HttpOutput:
    out.start()
    out.submit(format_alert(FakeAlert(), json_output=True))
    out.stop(5.0)
    return out


def test_https_verification(certs):
    key, crt = certs["server"]
    srv = TlsRecorder(key, crt)
    try:
        unverified = _send(HttpOutput(srv.url, max_retries=0))
        assert unverified.failed == 1 and srv.bodies == []      # self-signed: refused
        trusted = _send(HttpOutput(srv.url, ca_cert=str(crt)))
        insecure = _send(HttpOutput(srv.url, insecure=True))
        assert trusted.sent == insecure.sent == 1
        assert [json.loads(b)["rule"] for b in srv.bodies] == ["Test rule", "Test rule"]
    finally:
        srv.close()


def test_mtls(certs):
    key, crt = certs["server"]
    ckey, ccrt = certs["client"]
    srv = TlsRecorder(key, crt, client_ca=ccrt)
    try:
        without = _send(HttpOutput(srv.url, ca_cert=str(crt), max_retries=0))
        assert without.failed == 1
        with_cert = _send(HttpOutput(srv.url, ca_cert=str(crt), mtls=True,
                                     client_cert=str(ccrt), client_key=str(ckey)))
        assert with_cert.sent == 1
        assert len(srv.bodies) == 1 and srv.peer_certs[0]
    finally:
        srv.close()


def test_webserver_ssl(certs):
    key, crt = certs["server"]
    pem = certs["dir"] / "falco.pem"                  # Falco's ssl_certificate: key + cert
    pem.write_text(key.read_text() + crt.read_text())
    ws = WebServer("127.0.0.1", 0, versions=dict, ssl_certificate=str(pem))
    ws.start()
    try:
        ctx = ssl.create_default_context(cafile=str(crt))
        with urllib.request.urlopen(f"https://127.0.0.1:{ws.port}/healthz", context=ctx,
                                    timeout=5) as r:
            assert json.loads(r.read()) == {"status": "ok"}
    finally:
        ws.stop()

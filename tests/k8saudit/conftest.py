"""Fixtures for the k8s audit tests."""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
from k8s_helpers import TRACES


@pytest.fixture
def traces_dir() -> pathlib.Path:
    if not TRACES.is_dir():
        pytest.skip(f"{TRACES} not available")
    return TRACES


@pytest.fixture
def self_signed(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A throwaway self-signed certificate for 127.0.0.1: (cert+key PEM, cert PEM)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    both = tmp_path / "falco.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return both, cert

"""Fixtures for the live-probe tests: a shared BpfSource and helpers that trigger a syscall
and wait for its record.  Everything skips, with the reason, when the probe cannot run here
(not root, no BTF, probe build failure)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.drivers.helpers import Capture


def _bpf_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "live BPF capture needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "kernel has no BTF (/sys/kernel/btf/vmlinux)"
    try:
        from scap.engines.bpf import find_probe

        find_probe()
    except Exception as exc:  # any failure here means "cannot test"
        return f"probe unavailable: {exc}"
    return None


BPF_SKIP = _bpf_unavailable()
requires_bpf = pytest.mark.skipif(BPF_SKIP is not None, reason=BPF_SKIP or "")


@pytest.fixture(scope="session")
def bpf_source():
    """One probe for the whole session, recording every syscall."""
    if BPF_SKIP:
        pytest.skip(BPF_SKIP)
    from scap.engines.bpf import BpfSource

    src = BpfSource(None, poll_timeout_ms=20)
    src.open()
    yield src
    src.close()


@pytest.fixture
def cap(bpf_source) -> Capture:
    return Capture(bpf_source)

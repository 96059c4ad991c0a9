"""Every parser family against sysdig 0.29.3: synthetic captures written with
scap.testing (see _scenario.py), read by both, compared field by field."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _scenario
from _sysdig_diff import diff, have_sysdig
from test_fields_proc_sysdig import _NORMALIZE, _fields, skip_uninitialised

pytestmark = [
    pytest.mark.sysdig,
    pytest.mark.skipif(not have_sysdig(), reason="sysdig (0.29.3) is not installed"),
]


def _with_fd_name() -> list[str]:
    from sinsp.fields.registry import REGISTRIES

    try:
        import sinsp.fields.fd  # noqa: F401
    except ImportError:
        return []
    return ["fd.name"] if "fd.name" in REGISTRIES["syscall"].names() else []


def test_parser_families_match_sysdig(tmp_path: Path) -> None:
    path = _scenario.write(tmp_path / "families.scap")
    # sysdig 0.29.3 aborts ("invalid thread state ID0") extracting
    # thread.totexectime on the shown container event (tid -1)
    fields = [f for f in _fields() if f != "thread.totexectime"] + _with_fd_name()
    if _with_fd_name():
        fields += ["fd.type", "fd.num"]
    assert diff(path, fields, limit=40, normalize=_NORMALIZE, skip=skip_uninitialised) == []


def test_clone_orders_match_sysdig(tmp_path: Path) -> None:
    path = _scenario.clone_order_capture(tmp_path / "clones.scap")
    assert diff(path, _fields(), limit=40, normalize=_NORMALIZE, skip=skip_uninitialised) == []


def test_old_event_versions_match_sysdig(tmp_path: Path) -> None:
    path = _scenario.versions_capture(tmp_path / "versions.scap")
    assert diff(path, _fields(), limit=40, normalize=_NORMALIZE, skip=skip_uninitialised) == []


def test_socket_names_match_sysdig(tmp_path: Path) -> None:
    path = _scenario.net_capture(tmp_path / "net.scap")
    if not _with_fd_name():
        pytest.skip("the fd field class is not available")
    assert diff(path, [*_fields(), "fd.name", "fd.type", "fd.num"], limit=40, normalize=_NORMALIZE,
                skip=skip_uninitialised) == []


def test_health_probe_classification_matches_sysdig(tmp_path: Path) -> None:
    path = _scenario.probes_capture(tmp_path / "probes.scap")
    assert diff(path, _fields(), limit=40, normalize=_NORMALIZE, skip=skip_uninitialised) == []


def test_newer_syscalls_match_sysdig(tmp_path: Path) -> None:
    path = _scenario.newer_syscalls_capture(tmp_path / "newer.scap")
    extra = ["fd.name", "fd.type"] if _with_fd_name() else []
    assert diff(path, _fields() + extra, limit=40, normalize=_NORMALIZE,
                skip=skip_uninitialised) == []

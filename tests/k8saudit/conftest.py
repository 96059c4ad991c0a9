"""Fixtures for the k8s audit tests."""
from __future__ import annotations

import pathlib

import pytest
from k8s_helpers import TRACES


@pytest.fixture
def traces_dir() -> pathlib.Path:
    if not TRACES.is_dir():
        pytest.skip(f"{TRACES} not available")
    return TRACES

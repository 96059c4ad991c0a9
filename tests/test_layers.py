"""No layer imports a layer above it (scap < sinsp < engine < falco_cli).

Each layer is imported in a fresh interpreter, so modules imported by other tests cannot hide
an upward import.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

LAYERS = ["scap", "sinsp", "engine", "falco_cli"]

# every module of each layer that is plain to import (no root, no probe needed)
_PROBE = """
import importlib, json, pkgutil, sys
layer = sys.argv[1]
pkg = importlib.import_module(layer)
failed = {}
for m in pkgutil.walk_packages(pkg.__path__, layer + "."):
    if "._cffi_src" in m.name:
        continue  # build-time only
    try:
        importlib.import_module(m.name)
    except Exception as e:  # a module that cannot import here is not this test's business
        failed[m.name] = repr(e)
print(json.dumps({"modules": sorted(sys.modules), "failed": failed}))
"""


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_does_not_import_upper_layers(layer: str) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, layer], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr and \
            f"No module named '{layer}'" in proc.stderr:
        pytest.skip(f"layer {layer} does not exist yet")
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])["modules"]
    upper = LAYERS[LAYERS.index(layer) + 1:]
    bad = sorted(m for m in loaded if m.split(".")[0] in upper)
    assert not bad, f"{layer} pulls in upper-layer modules: {bad}"


def test_import_scap_alone_is_light() -> None:
    """`import scap` must be usable alone and must not drag in sinsp & co."""
    code = "import scap, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('sinsp', 'engine', 'falco_cli')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == "[]"

"""Every cffi build script (scap/_cffi_src and sinsp/_cffi_src, all one `api_builder` call)
declares exactly what its built extension exposes, and names the module setup.py builds."""
from __future__ import annotations

import importlib
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(ROOT.glob("scap/_cffi_src/build_*.py")) + sorted(
    ROOT.glob("sinsp/_cffi_src/build_*.py"))


def test_every_extension_has_a_build_script():
    assert {p.stem for p in SCRIPTS} == {"build_bpf", "build_kmod", "build_scap",
                                         "build_hotpath", "build_printer"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_build_script_matches_the_built_extension(script, monkeypatch):
    monkeypatch.chdir(ROOT)  # setup.py runs the build scripts from the project root
    builder = runpy.run_path(str(script), run_name="__cffi__")["ffibuilder"]
    module = builder._assigned_source[0]
    assert module.split(".")[0] == script.parent.parent.name  # scap.* / sinsp.*
    native = pytest.importorskip(module)
    assert importlib.import_module(module) is native
    declared = {key.split(" ", 1)[1] for key in builder._parser._declarations
                if key.split(" ", 1)[0] in ("function", "macro", "constant")}
    assert declared == set(dir(native.lib))

"""The live engines' cffi declarations are read from scap/_native/*_ring.h at build time:
what the build scripts declare must be exactly what the built extensions expose."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("engine", ["bpf", "kmod"])
def test_build_script_declares_what_the_extension_exposes(engine, monkeypatch):
    native = pytest.importorskip(f"scap._{engine}_native")
    monkeypatch.chdir(ROOT)  # setup.py runs the build scripts from the project root
    builder = runpy.run_path(f"scap/_cffi_src/build_{engine}.py", run_name="__cffi__")["ffibuilder"]
    declared = {key.split(" ", 1)[1] for key in builder._parser._declarations
                if key.split(" ", 1)[0] in ("function", "macro", "constant")}
    assert declared == set(dir(native.lib))
    for name in dir(native.lib):
        obj = getattr(native.lib, name)
        if not isinstance(obj, int):  # a function: same C signature
            key = f"function {name}"
            assert builder._parser._declarations[key][0].get_c_name().replace(" const", "") == \
                native.ffi.typeof(obj).cname
    stats = f"struct scap_{engine}_stats"
    assert [(f, t.type.cname) for f, t in builder.typeof(stats).fields] == \
        [(f, t.type.cname) for f, t in native.ffi.typeof(stats).fields]


def test_kmod_table_size_is_the_drivers():
    """`kmod.syscall_table` (usable without the extension) sizes its table as the driver does;
    the sources send `lib.SCAP_MAX_SYSCALLS` slots."""
    native = pytest.importorskip("scap._kmod_native")
    from scap.engines import kmod

    assert kmod.MAX_SYSCALLS == native.lib.SCAP_MAX_SYSCALLS
    assert kmod.PROCEXIT_SLOT == native.lib.SCAP_PROCEXIT_SLOT

"""cffi build script (API mode) for `scap._scap_native`, the savefile fast path.

Never imported at runtime; setup.py registers every `scap/_cffi_src/build_*.py` through
`cffi_modules`.  The cdefs are read from our header, so C and Python cannot drift apart.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cffi import FFI

# cffi runs build scripts with exec(), outside any package: find the helper next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cdef import NATIVE, cdef_from_header

ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header(NATIVE / "scap_native.h"))
ffibuilder.set_source(
    "scap._scap_native",
    '#include "scap_native.h"',
    # setuptools wants these relative to the project root (where setup.py runs)
    sources=["scap/_native/scap_native.c"],
    include_dirs=["scap/_native"],
    extra_compile_args=["-O2", "-std=c99", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

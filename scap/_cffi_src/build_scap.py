"""cffi build script (API mode) for `scap._scap_native`, the savefile fast path.

Never imported at runtime; setup.py registers every `scap/_cffi_src/build_*.py` through
`cffi_modules`.  The cdefs are read from our header, so C and Python cannot drift apart.
"""
from __future__ import annotations

import sys
from pathlib import Path

# cffi runs build scripts with exec(), outside any package: find the helper next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cdef import NATIVE, api_builder

ffibuilder = api_builder("scap._scap_native", NATIVE / "scap_native.h",
                         [NATIVE / "scap_native.c"], [NATIVE])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

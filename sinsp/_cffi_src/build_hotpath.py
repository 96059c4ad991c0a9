"""cffi build script (API mode) for `sinsp._hotpath_native`, the live hot path's classifier
(`sinsp/hotpath.py` is its runtime side).

Never imported at runtime; setup.py registers every `sinsp/_cffi_src/build_*.py` through
`cffi_modules`.  The cdefs are read from hotpath.h, so C and Python cannot drift apart.
"""
from __future__ import annotations

import sys
from pathlib import Path

# cffi runs build scripts with exec(), outside any package: the header-to-cdef helper is
# scap's (scap/_cffi_src/_cdef.py), found by path.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scap" / "_cffi_src"))
from _cdef import api_builder

_HERE = Path(__file__).resolve().parent

ffibuilder = api_builder("sinsp._hotpath_native", _HERE / "hotpath.h", [_HERE / "hotpath.c"],
                         [_HERE])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

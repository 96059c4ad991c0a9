"""cffi build script (API mode) for `scap._scap_native`, the savefile fast path.

Never imported at runtime; setup.py registers every `scap/_cffi_src/build_*.py` through
`cffi_modules`.  The cdefs are read from our header, so C and Python cannot drift apart.
"""
from __future__ import annotations

import pathlib
import re

from cffi import FFI

_NATIVE = pathlib.Path(__file__).resolve().parent.parent / "_native"
_HEADER = (_NATIVE / "scap_native.h").read_text()


def _cdef(header: str) -> str:
    """The header without preprocessor lines (cffi's cdef takes declarations only), with the
    #define integer constants kept as cffi constants."""
    out = []
    for line in header.splitlines():
        m = re.match(r"#define\s+(SCAP_\w+)\s+(\d+)\s*$", line)
        if m:
            out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not line.startswith("#"):
            out.append(line)
    return "\n".join(out)


ffibuilder = FFI()
ffibuilder.cdef(_cdef(_HEADER))
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

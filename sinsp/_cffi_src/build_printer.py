"""cffi build script (API mode) for `sinsp._printer_native`, the C renderer of pysysdig's
default line (`sinsp/_printer.py` is its runtime side).

Never imported at runtime; setup.py registers every `sinsp/_cffi_src/build_*.py` through
`cffi_modules`.  The cdefs are read from printer.h, so C and Python cannot drift apart.
"""
from __future__ import annotations

import pathlib
import re

from cffi import FFI

_HERE = pathlib.Path(__file__).resolve().parent
_HEADER = (_HERE / "printer.h").read_text()


def _cdef(header: str) -> str:
    """The header without preprocessor lines, with its integer #defines kept as constants."""
    out = []
    for line in header.splitlines():
        m = re.match(r"#define\s+(PR_\w+)\s+(\d+)\s*$", line)
        if m:
            out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not line.startswith("#"):
            out.append(line)
    return "\n".join(out)


ffibuilder = FFI()
ffibuilder.cdef(_cdef(_HEADER))
ffibuilder.set_source(
    "sinsp._printer_native",
    '#include "printer.h"',
    # relative to the project root, where setup.py runs
    sources=["sinsp/_cffi_src/printer.c"],
    include_dirs=["sinsp/_cffi_src"],
    extra_compile_args=["-O2", "-std=c99", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

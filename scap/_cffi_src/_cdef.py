"""Turn one of our C headers into a cffi cdef, so a build script declares nothing by hand
and the C and Python sides cannot drift apart (the way cryptography's `_cffi_src` keeps its
declarations in one place).

Not a build script itself (setup.py registers only `build_*.py`); the build scripts load it by
path because cffi runs them with `exec`, outside any package.  The header must be
cffi-parsable once preprocessor lines are dropped: declarations, comments and
`#define NAME <integer>` constants only.
"""
from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

#: The project root (setup.py's folder) and our C sources.
ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "scap" / "_native"

_DEFINE = re.compile(r"#define\s+(\w+)\s+(\d+)\s*(?:/\*.*\*/)?\s*$")


def cdef_from_header(header: Path, extra: str = "") -> str:
    """The header's declarations and integer #defines, then `extra` (e.g. `#define X ...`
    lines for constants that live in headers cffi cannot parse)."""
    out = []
    for line in header.read_text().splitlines():
        m = _DEFINE.match(line)
        if m:
            out.append(f"#define {m.group(1)} {m.group(2)}")
        elif not line.lstrip().startswith("#"):
            out.append(line)
    out.append(extra)
    return "\n".join(out)


def ring_ffibuilder(module: str, header: str, constants: list[str], *, driver_headers: list[str],
                    include_dirs: list[Path], libraries: tuple[str, ...] = (),
                    extra_sources: tuple[Path, ...] = ()) -> FFI:
    """The FFI of a live engine's drain (`scap/_native/<header>.h` and `.c`): its cdef is the
    header; `constants` are `#define`s of the `driver_headers` (which cffi cannot parse),
    filled in from the compiled C.  `extra_sources`: more C files (absolute paths under the
    project root) linked into the module, e.g. generated ones."""
    ffi = FFI()
    ffi.cdef(cdef_from_header(NATIVE / f"{header}.h",
                              "\n".join(f"#define {c} ..." for c in constants)))
    includes = "".join(f'#include "{h}"\n' for h in (f"{header}.h", *driver_headers))
    ffi.set_source(
        module,
        includes,
        # setuptools wants these relative to the project root (where setup.py runs)
        sources=[str(p.relative_to(ROOT)) for p in (NATIVE / f"{header}.c", *extra_sources)],
        include_dirs=[str(NATIVE), *(str(d) for d in include_dirs)],
        libraries=list(libraries),
        extra_compile_args=["-O2", "-Wall"],
    )
    return ffi

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


def api_builder(module: str, header: Path, sources: list[Path], include_dirs: list[Path], *,
                cdef_extra: str = "", includes: tuple[str, ...] = (),
                libraries: tuple[str, ...] = (),
                extra_compile_args: tuple[str, ...] = ("-O2", "-std=c99", "-Wall")) -> FFI:
    """The out-of-line API-mode FFI of `module`: its cdef is `header` (plus `cdef_extra`), its
    source includes `header` then `includes`, and `sources` (absolute paths under the project
    root) are compiled into it.  Every build script is one call of this."""
    ffi = FFI()
    ffi.cdef(cdef_from_header(header, cdef_extra))
    ffi.set_source(
        module,
        "".join(f'#include "{h}"\n' for h in (header.name, *includes)),
        # setuptools wants these relative to the project root (where setup.py runs)
        sources=[str(p.relative_to(ROOT)) for p in sources],
        include_dirs=[str(d) for d in include_dirs],
        libraries=list(libraries),
        extra_compile_args=list(extra_compile_args),
    )
    return ffi


def ring_ffibuilder(module: str, header: str, constants: list[str], *, driver_headers: list[str],
                    include_dirs: list[Path], libraries: tuple[str, ...] = (),
                    extra_sources: tuple[Path, ...] = ()) -> FFI:
    """The FFI of a live engine's drain (`scap/_native/<header>.h` and `.c`): its cdef is the
    header; `constants` are `#define`s of the `driver_headers` (which cffi cannot parse),
    filled in from the compiled C.  `extra_sources`: more C files (absolute paths under the
    project root) linked into the module, e.g. generated ones."""
    return api_builder(
        module, NATIVE / f"{header}.h", [NATIVE / f"{header}.c", *extra_sources],
        [NATIVE, *include_dirs],
        cdef_extra="\n".join(f"#define {c} ..." for c in constants),
        includes=tuple(driver_headers), libraries=libraries,
        extra_compile_args=("-O2", "-Wall"))

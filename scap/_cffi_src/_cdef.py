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

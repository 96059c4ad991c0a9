"""cffi build module for the kernel-module engine (`scap._kmod_native`).

Out-of-line API mode: scap/_native/kmod_ring.c (no library dependency) is compiled against
the module ABI header driver/kmod/pyfalco_kmod.h and the shared record header
driver/bpf/events.h.  Never imported at run time; setup.py picks it up.
"""
import sys
from pathlib import Path

from cffi import FFI

# cffi runs build scripts with exec(), outside any package: find the helper next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cdef import NATIVE, ROOT, cdef_from_header

# The declarations are the header's own; these constants live in driver headers cffi cannot
# parse, so they are filled in from the compiled C (`...`).
ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header(NATIVE / "kmod_ring.h", """
    #define PYFALCO_KMOD_API_VERSION ...
    #define SCAP_MAX_EVENT ...
    #define SCAP_MAX_SYSCALLS ...
    #define SCAP_PROCEXIT_SLOT ...
"""))
ffibuilder.set_source(
    "scap._kmod_native",
    '#include "kmod_ring.h"\n#include "pyfalco_kmod.h"\n',
    sources=[str((NATIVE / "kmod_ring.c").relative_to(ROOT))],
    include_dirs=[str(NATIVE), str(ROOT / "driver" / "kmod"), str(ROOT / "driver" / "bpf")],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

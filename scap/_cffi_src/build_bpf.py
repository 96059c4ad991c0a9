"""cffi build module for the live BPF engine (`scap._bpf_native`).

Out-of-line API mode: the C in scap/_native/bpf_ring.c is compiled against
libbpf and the wire header driver/bpf/events.h.  Never imported at run time;
setup.py picks it up through `cffi_modules`.
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
ffibuilder.cdef(cdef_from_header(NATIVE / "bpf_ring.h", """
    #define SCAP_BPF_API_VERSION ...
    #define SCAP_BPF_SCHEMA_VERSION ...
    #define SCAP_MAX_EVENT ...
    #define SCAP_MAX_SYSCALLS ...
    #define SCAP_PROCEXIT_SLOT ...
"""))
ffibuilder.set_source(
    "scap._bpf_native",
    '#include "bpf_ring.h"\n#include "events.h"\n',
    sources=[str((NATIVE / "bpf_ring.c").relative_to(ROOT))],
    include_dirs=[str(NATIVE), str(ROOT / "driver" / "bpf")],
    libraries=["bpf", "elf", "z"],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

"""cffi build module for the live BPF engine (`scap._bpf_native`).

Out-of-line API mode: the C in scap/_native/bpf_ring.c is compiled against
libbpf and the wire header driver/bpf/events.h.  Never imported at run time;
setup.py picks it up through `cffi_modules`.
"""
import sys
from pathlib import Path

# cffi runs build scripts with exec(), outside any package: find the helper next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cdef import ROOT, ring_ffibuilder

ffibuilder = ring_ffibuilder(
    "scap._bpf_native", "bpf_ring",
    ["SCAP_BPF_API_VERSION", "SCAP_BPF_SCHEMA_VERSION", "SCAP_MAX_EVENT", "SCAP_MAX_SYSCALLS",
     "SCAP_PROCEXIT_SLOT"],
    driver_headers=["events.h"],
    include_dirs=[ROOT / "driver" / "bpf"],
    libraries=("bpf", "elf", "z"),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

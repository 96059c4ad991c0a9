"""cffi build module for the kernel-module engine (`scap._kmod_native`).

Out-of-line API mode: scap/_native/kmod_ring.c (no library dependency) is compiled against
the module ABI header driver/kmod/pyfalco_kmod.h and the shared record header
driver/bpf/events.h.  Never imported at run time; setup.py picks it up.
"""
import sys
from pathlib import Path

# cffi runs build scripts with exec(), outside any package: find the helper next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cdef import ROOT, ring_ffibuilder

ffibuilder = ring_ffibuilder(
    "scap._kmod_native", "kmod_ring",
    ["PYFALCO_KMOD_API_VERSION", "SCAP_MAX_EVENT", "SCAP_MAX_SYSCALLS", "SCAP_PROCEXIT_SLOT"],
    driver_headers=["pyfalco_kmod.h"],
    include_dirs=[ROOT / "driver" / "kmod", ROOT / "driver" / "bpf"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

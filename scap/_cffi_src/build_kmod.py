"""cffi build module for the kernel-module engine (`scap._kmod_native`).

Out-of-line API mode: scap/_native/kmod_ring.c (no library dependency) is compiled against
the module ABI header driver/kmod/pyfalco_kmod.h and the shared record header
driver/bpf/events.h.  Never imported at run time; setup.py picks it up.
"""
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "scap" / "_native"

ffibuilder = FFI()
ffibuilder.cdef(
    """
    #define SCAP_KMOD_ERR_LEN 256
    struct scap_kmod;
    struct scap_kmod_stats {
        uint64_t n_evts;
        uint64_t n_drops_buffer;
        uint64_t n_drops_size;
        uint64_t n_drops_pf;
        uint32_t ndevs;
        uint32_t api_version;
        uint32_t ring_size;
    };
    int scap_kmod_open(const char *prefix, struct scap_kmod **out, char *err);
    int scap_kmod_set_syscalls(struct scap_kmod *h, const uint8_t *interesting,
                               const uint16_t *ppm_sc, uint32_t n, char *err);
    int scap_kmod_set_drop_tgid(struct scap_kmod *h, uint32_t tgid, char *err);
    int scap_kmod_start(struct scap_kmod *h, char *err);
    int scap_kmod_stop(struct scap_kmod *h, char *err);
    int scap_kmod_drain(struct scap_kmod *h, uint8_t *out, size_t cap, uint32_t *offsets,
                        uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used,
                        char *err);
    int scap_kmod_get_stats(struct scap_kmod *h, struct scap_kmod_stats *st, char *err);
    void scap_kmod_close(struct scap_kmod *h);

    #define PYFALCO_KMOD_API_VERSION ...
    #define SCAP_MAX_EVENT ...
    #define SCAP_MAX_SYSCALLS ...
    #define SCAP_PROCEXIT_SLOT ...
    """
)
ffibuilder.set_source(
    "scap._kmod_native",
    '#include "kmod_ring.h"\n#include "pyfalco_kmod.h"\n',
    sources=[str((NATIVE / "kmod_ring.c").relative_to(ROOT))],
    include_dirs=[str(NATIVE), str(ROOT / "driver" / "kmod"), str(ROOT / "driver" / "bpf")],
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)

"""cffi build module for the live BPF engine (`scap._bpf_native`).

Out-of-line API mode: the C in scap/_native/bpf_ring.c is compiled against
libbpf and the wire header driver/bpf/events.h.  Never imported at run time;
setup.py picks it up through `cffi_modules`.
"""
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "scap" / "_native"

ffibuilder = FFI()
ffibuilder.cdef(
    """
    #define SCAP_BPF_ERR_LEN 256
    struct scap_bpf;
    struct scap_bpf_stats {
        uint64_t n_evts;
        uint64_t n_drops_buffer;
        uint64_t n_drops_size;
        uint32_t ncpus;
        uint32_t api_version;
        uint32_t schema_version;
    };
    int scap_bpf_open(const char *obj_path, uint32_t ring_bytes, struct scap_bpf **out,
                      char *err, char *log, size_t log_size);
    int scap_bpf_set_syscalls(struct scap_bpf *h, const uint8_t *interesting,
                              const uint16_t *ppm_sc, uint32_t n, char *err);
    int scap_bpf_set_config(struct scap_bpf *h, uint64_t boot_time_ns, uint32_t drop_tgid,
                            uint32_t capture_on, uint32_t snaplen, char *err);
    int scap_bpf_attach(struct scap_bpf *h, char *err);
    int scap_bpf_drain(struct scap_bpf *h, uint8_t *out, size_t cap, uint32_t *offsets,
                       uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used,
                       char *err);
    int scap_bpf_get_stats(struct scap_bpf *h, struct scap_bpf_stats *st, char *err);
    void scap_bpf_close(struct scap_bpf *h);

    #define SCAP_BPF_API_VERSION ...
    #define SCAP_BPF_SCHEMA_VERSION ...
    #define SCAP_MAX_EVENT ...
    #define SCAP_MAX_SYSCALLS ...
    #define SCAP_PROCEXIT_SLOT ...
    """
)
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

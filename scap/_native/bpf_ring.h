/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scap_bpf: the narrow C API in front of libbpf for the pyfalco probe.
 * Shaped for a batch consumer: one drain call moves many records into a
 * caller-owned buffer, so Python crosses into C once per batch, never per event.
 * Every function returns 0 (or a count) on success and -errno on failure, with
 * a message in the caller's 256-byte `err` buffer.
 */
#ifndef SCAP_BPF_RING_H
#define SCAP_BPF_RING_H

#include <stddef.h>
#include <stdint.h>

#define SCAP_BPF_ERR_LEN 256

struct scap_bpf;

struct scap_bpf_stats {
	uint64_t n_evts;
	uint64_t n_drops_buffer;
	uint64_t n_drops_size;
	/* ring-full drops by category (events.h enum scap_drop_category order: clone_fork,
	 * execve, connect, open, dir_file, other_interest, close, proc_exit) */
	uint64_t n_drops_buffer_cat[8];
	uint32_t ncpus;
	uint32_t api_version;
	uint32_t schema_version;
};

/* Open and load the probe object; `log`/`log_size` receive libbpf's and the
 * verifier's messages when loading fails. */
int scap_bpf_open(const char *obj_path, uint32_t ring_bytes, struct scap_bpf **out,
		  char *err, char *log, size_t log_size);
/* The same from an ELF image in memory (e.g. the copy embedded in the extension);
 * `name` only labels messages. */
int scap_bpf_open_mem(const void *buf, size_t len, const char *name, uint32_t ring_bytes,
		      struct scap_bpf **out, char *err, char *log, size_t log_size);
/* The probe object embedded at build time (scap/_cffi_src/build_bpf.py): NULL and
 * *len = 0 when the build had none.  *sha256 gets the sha256 (hex) of the
 * driver/bpf/.output/probe.bpf.o it was made from ("" when none), so a source checkout
 * can tell a probe rebuilt since the extension was. */
const uint8_t *scap_bpf_embedded_probe(size_t *len, const char **sha256);
int scap_bpf_set_syscalls(struct scap_bpf *h, const uint8_t *interesting,
			  const uint16_t *ppm_sc, uint32_t n, char *err);
int scap_bpf_set_config(struct scap_bpf *h, uint64_t boot_time_ns, uint32_t drop_tgid,
			uint32_t capture_on, uint32_t snaplen, char *err);
/* Optional programs, off unless asked for in scap_bpf_attach's `extras` mask. */
#define SCAP_BPF_EXTRA_SCHED_SWITCH 1

/* Attach the probe's programs: the syscall exit, exec and process-exit hooks always,
 * the optional extras named in `extras`. */
int scap_bpf_attach(struct scap_bpf *h, uint32_t extras, char *err);
/* Move up to max_events records into out[0..cap): record i starts at
 * offsets[i], came from cpus[i]; *used is the bytes written.  Waits at most
 * timeout_ms with an adaptive sleep when the ring is empty (no wakeups). */
int scap_bpf_drain(struct scap_bpf *h, uint8_t *out, size_t cap, uint32_t *offsets,
		   uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used, char *err);
int scap_bpf_get_stats(struct scap_bpf *h, struct scap_bpf_stats *st, char *err);
void scap_bpf_close(struct scap_bpf *h);

#endif

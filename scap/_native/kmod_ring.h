/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User side of the pyfalco kernel module (driver/kmod): opens the per-CPU
 * devices, maps their rings and drains records in batches.  Plain C with no
 * Python dependency, so the static guest reader used by the qemu test links
 * the very same code as the cffi extension (scap._kmod_native).
 *
 * Errors: negative errno, with a message in `err` (SCAP_KMOD_ERR_LEN bytes).
 */
#ifndef SCAP_KMOD_RING_H
#define SCAP_KMOD_RING_H

#include <stddef.h>
#include <stdint.h>

#define SCAP_KMOD_ERR_LEN 256

struct scap_kmod;

struct scap_kmod_stats {
	uint64_t n_evts;
	uint64_t n_drops_buffer;
	uint64_t n_drops_size;
	uint64_t n_drops_pf;
	/* ring-full drops by category (events.h enum scap_drop_category order: clone_fork,
	 * execve, connect, open, dir_file, other_interest, close, proc_exit), as the probe's */
	uint64_t n_drops_buffer_cat[8];
	uint32_t ndevs;
	uint32_t api_version;
	uint32_t ring_size;
};

/* prefix: device path without the cpu number ("/dev/pyfalco"). */
int scap_kmod_open(const char *prefix, struct scap_kmod **out, char *err);
int scap_kmod_set_syscalls(struct scap_kmod *h, const uint8_t *interesting, const uint16_t *ppm_sc,
			   uint32_t n, char *err);
int scap_kmod_set_drop_tgid(struct scap_kmod *h, uint32_t tgid, char *err);
/* Bytes of I/O data kept per record (the module clamps it to 256). */
int scap_kmod_set_snaplen(struct scap_kmod *h, uint32_t snaplen, char *err);
int scap_kmod_start(struct scap_kmod *h, char *err);
int scap_kmod_stop(struct scap_kmod *h, char *err);
/* Copies up to max_events whole records into out (back to back, merged across
 * CPUs in timestamp order), their offsets and cpus into the side arrays.
 * Waits up to timeout_ms when every ring is empty.  Returns the count. */
int scap_kmod_drain(struct scap_kmod *h, uint8_t *out, size_t cap, uint32_t *offsets,
		    uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used, char *err);
int scap_kmod_get_stats(struct scap_kmod *h, struct scap_kmod_stats *st, char *err);
void scap_kmod_close(struct scap_kmod *h);

#endif

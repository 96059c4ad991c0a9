/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader of the pyfalco module's rings (ABI: driver/kmod/pyfalco_kmod.h).
 *
 * Each ring is single-producer (the module, on that CPU) single-consumer
 * (us): we acquire-load head, copy records out (a record may wrap around the
 * end of the data area), then release-store tail so the module may reuse the
 * space.  A drain merges the rings by timestamp, as libscap does, so a
 * consumer sees a clone before the child's first syscall on another CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kmod_ring.h"
#include "pyfalco_kmod.h"

_Static_assert(SCAP_DROP_CATEGORIES == 8, "scap_kmod_stats.n_drops_buffer_cat has 8 slots");

struct kring {
	int fd;
	uint16_t cpu;
	void *map;
	size_t map_len;
	struct pyfalco_ring_info *info;
	const uint8_t *data;
	uint32_t size;
	uint32_t head; /* snapshot for this drain */
	uint32_t tail; /* local cursor, published at the end of a drain */
	int peeked;    /* next_ts/next_len describe the record at tail */
	uint64_t next_ts;
	uint32_t next_len;
};

struct scap_kmod {
	struct kring *rings;
	uint32_t n;
	uint32_t ndevs;
};

static int fail(char *err, int rc, const char *fmt, const char *arg)
{
	if (err)
		snprintf(err, SCAP_KMOD_ERR_LEN, fmt, arg, strerror(-rc));
	return rc;
}

void scap_kmod_close(struct scap_kmod *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; i < h->n; i++) {
		if (h->rings[i].map && h->rings[i].map != MAP_FAILED)
			munmap(h->rings[i].map, h->rings[i].map_len);
		if (h->rings[i].fd >= 0)
			close(h->rings[i].fd);
	}
	free(h->rings);
	free(h);
}

int scap_kmod_open(const char *prefix, struct scap_kmod **out, char *err)
{
	char path[192];
	struct scap_kmod *h;
	int fd, v, ndevs;

	*out = NULL;
	snprintf(path, sizeof(path), "%s0", prefix);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, -errno, "open %s: %s (is the pyfalco module loaded?)", path);
	v = ioctl(fd, PYFALCO_IOCTL_GET_API_VERSION);
	if (v != PYFALCO_KMOD_API_VERSION) {
		close(fd);
		if (err)
			snprintf(err, SCAP_KMOD_ERR_LEN, "%s: module API version %d, reader expects %d",
				 path, v, PYFALCO_KMOD_API_VERSION);
		return -EPROTO;
	}
	ndevs = ioctl(fd, PYFALCO_IOCTL_GET_NDEVS);
	if (ndevs <= 0 || ndevs > 65535) {
		close(fd);
		return fail(err, -EPROTO, "%s: bad device count (%s)", path);
	}
	h = calloc(1, sizeof(*h));
	if (!h || !(h->rings = calloc(ndevs, sizeof(*h->rings)))) {
		free(h);
		close(fd);
		return fail(err, -ENOMEM, "%s: %s", "alloc");
	}
	h->ndevs = ndevs;
	for (int i = 0; i < ndevs; i++) {
		struct kring *r = &h->rings[h->n];
		long page = sysconf(_SC_PAGESIZE);
		struct pyfalco_ring_info *info;
		void *m;

		if (i > 0) {
			snprintf(path, sizeof(path), "%s%d", prefix, i);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0 && (errno == ENOENT || errno == ENODEV))
				continue; /* not a possible cpu */
			if (fd < 0) {
				int rc = -errno;
				scap_kmod_close(h);
				return fail(err, rc, "open %s: %s", path);
			}
		}
		r->fd = fd;
		r->cpu = i;
		h->n++;
		m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			int rc = -errno;
			scap_kmod_close(h);
			return fail(err, rc, "mmap %s: %s", path);
		}
		info = m;
		r->size = info->ring_size;
		munmap(m, page);
		if (!r->size || (r->size & (r->size - 1))) {
			scap_kmod_close(h);
			return fail(err, -EPROTO, "%s: bad ring size (%s)", path);
		}
		r->map_len = page + r->size;
		/* the info page is written (tail); the data only read */
		r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (r->map == MAP_FAILED) {
			int rc = -errno;
			r->map = NULL;
			scap_kmod_close(h);
			return fail(err, rc, "mmap %s: %s", path);
		}
		r->info = r->map;
		r->data = (const uint8_t *)r->map + page;
	}
	*out = h;
	return 0;
}

static int ctl(struct scap_kmod *h, unsigned long cmd, unsigned long arg, const char *what, char *err)
{
	if (ioctl(h->rings[0].fd, cmd, arg) < 0)
		return fail(err, -errno, "ioctl %s: %s", what);
	return 0;
}

int scap_kmod_set_syscalls(struct scap_kmod *h, const uint8_t *interesting, const uint16_t *ppm_sc,
			   uint32_t n, char *err)
{
	struct pyfalco_syscall_table t;

	if (n != SCAP_MAX_SYSCALLS)
		return fail(err, -EINVAL, "syscall table: %s (%s)", "wrong size");
	memcpy(t.interesting, interesting, sizeof(t.interesting));
	memcpy(t.ppm_sc, ppm_sc, sizeof(t.ppm_sc));
	return ctl(h, PYFALCO_IOCTL_SET_SYSCALLS, (unsigned long)&t, "SET_SYSCALLS", err);
}

int scap_kmod_set_drop_tgid(struct scap_kmod *h, uint32_t tgid, char *err)
{
	return ctl(h, PYFALCO_IOCTL_SET_DROP_TGID, tgid, "SET_DROP_TGID", err);
}

int scap_kmod_set_snaplen(struct scap_kmod *h, uint32_t snaplen, char *err)
{
	return ctl(h, PYFALCO_IOCTL_SET_SNAPLEN, snaplen, "SET_SNAPLEN", err);
}

int scap_kmod_start(struct scap_kmod *h, char *err)
{
	return ctl(h, PYFALCO_IOCTL_START, 0, "START", err);
}

int scap_kmod_stop(struct scap_kmod *h, char *err)
{
	return ctl(h, PYFALCO_IOCTL_STOP, 0, "STOP", err);
}

/* Copy n bytes at ring position pos (mod size) into dst. */
static void ring_copy(const struct kring *r, uint32_t pos, void *dst, uint32_t n)
{
	uint32_t off = pos & (r->size - 1);
	uint32_t first = r->size - off < n ? r->size - off : n;

	memcpy(dst, r->data + off, first);
	memcpy((uint8_t *)dst + first, r->data, n - first);
}

/* The next record's header of ring r, if any: ts and len (read once per record, not once
 * per record per ring, so the merge costs a compare per ring). */
static int peek(struct kring *r, uint64_t *ts, uint32_t *len)
{
	struct scap_evt_hdr hd;

	if (!r->peeked) {
		if (r->head - r->tail < SCAP_HDR_LEN)
			return 0;
		ring_copy(r, r->tail, &hd, SCAP_HDR_LEN);
		r->next_ts = hd.ts;
		r->next_len = hd.len;
		r->peeked = 1;
	}
	*ts = r->next_ts;
	*len = r->next_len;
	return 1;
}

static uint32_t snapshot(struct scap_kmod *h)
{
	uint32_t any = 0;

	for (uint32_t i = 0; i < h->n; i++) {
		struct kring *r = &h->rings[i];
		r->head = __atomic_load_n(&r->info->head, __ATOMIC_ACQUIRE);
		r->tail = r->info->tail;
		r->peeked = 0;
		any |= r->head != r->tail;
	}
	return any;
}

int scap_kmod_drain(struct scap_kmod *h, uint8_t *out, size_t cap, uint32_t *offsets,
		    uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used, char *err)
{
	size_t pos = 0;
	uint32_t n = 0;
	int waited = 0;

	*used = 0;
	/* No poll(): the module never wakes us per event; sleep in short steps. */
	while (!snapshot(h)) {
		struct timespec step = {0, 2 * 1000 * 1000};
		if (waited >= timeout_ms)
			return 0;
		nanosleep(&step, NULL);
		waited += 2;
	}
	while (n < max_events) {
		struct kring *best = NULL;
		uint64_t best_ts = 0, ts;
		uint32_t best_len = 0, len;

		for (uint32_t i = 0; i < h->n; i++) {
			struct kring *r = &h->rings[i];
			if (!peek(r, &ts, &len))
				continue;
			if (!best || ts < best_ts) {
				best = r;
				best_ts = ts;
				best_len = len;
			}
		}
		if (!best)
			break;
		if (best_len < SCAP_HDR_LEN || best_len > SCAP_MAX_EVENT ||
		    best_len > best->head - best->tail) {
			/* cannot happen with a sane module: give up on this ring's content */
			if (err)
				snprintf(err, SCAP_KMOD_ERR_LEN, "ring %u: bad record length %u",
					 best->cpu, best_len);
			__atomic_store_n(&best->info->tail, best->head, __ATOMIC_RELEASE);
			best->tail = best->head;
			best->peeked = 0;
			continue;
		}
		if (pos + best_len > cap)
			break;
		ring_copy(best, best->tail, out + pos, best_len);
		offsets[n] = (uint32_t)pos;
		cpus[n] = best->cpu;
		pos += best_len;
		best->tail += best_len;
		best->peeked = 0;
		n++;
	}
	for (uint32_t i = 0; i < h->n; i++)
		__atomic_store_n(&h->rings[i].info->tail, h->rings[i].tail, __ATOMIC_RELEASE);
	*used = pos;
	return (int)n;
}

int scap_kmod_get_stats(struct scap_kmod *h, struct scap_kmod_stats *st, char *err)
{
	(void)err;
	memset(st, 0, sizeof(*st));
	st->ndevs = h->ndevs;
	st->api_version = PYFALCO_KMOD_API_VERSION;
	for (uint32_t i = 0; i < h->n; i++) {
		const struct pyfalco_ring_info *in = h->rings[i].info;
		st->n_evts += __atomic_load_n(&in->n_evts, __ATOMIC_RELAXED);
		st->n_drops_buffer += __atomic_load_n(&in->n_drops_buffer, __ATOMIC_RELAXED);
		st->n_drops_size += __atomic_load_n(&in->n_drops_size, __ATOMIC_RELAXED);
		st->n_drops_pf += __atomic_load_n(&in->n_drops_pf, __ATOMIC_RELAXED);
		for (int k = 0; k < SCAP_DROP_CATEGORIES; k++)
			st->n_drops_buffer_cat[k] += __atomic_load_n(&in->n_drops_buffer_cat[k],
								     __ATOMIC_RELAXED);
		st->ring_size = h->rings[i].size;
	}
	return 0;
}

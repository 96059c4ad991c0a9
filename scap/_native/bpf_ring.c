/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loader and batch drain for driver/bpf/probe.bpf.o (see bpf_ring.h).
 *
 * The drain trap (libbpf 1.1, ringbuf_process_ring): the consumer position
 * is advanced past a sample *before* its callback returns, and a negative
 * return commits that.  So the callback never refuses a sample: it copies
 * it, and only then reports "stop" once the room left cannot hold another
 * record of the maximum size.  The stop is recognised by the handle's
 * `stop` flag, never by the return code alone.
 */
#include "bpf_ring.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>

#include "events.h"

_Static_assert(SCAP_DROP_CATEGORIES == 8, "scap_bpf_stats.n_drops_buffer_cat has 8 slots");

#define STOP_SENTINEL (-4242)
#define MIN_SLEEP_NS 100000L      /* 0.1 ms */
#define MAX_SLEEP_NS 10000000L    /* 10 ms */

struct scap_bpf {
	struct bpf_object *obj;
	struct ring_buffer *rb;
	struct bpf_link *links[4];
	int nlinks;
	int syscall_table_fd, config_fd, counters_fd;
	int ncpus;
	long sleep_ns;
	/* drain state, valid during one scap_bpf_drain call */
	uint8_t *out;
	size_t cap, used;
	uint32_t *offsets;
	uint16_t *cpus;
	uint32_t max_events, n;
	int stop;
	uint64_t bad_samples;
};

/* libbpf messages (warnings, verifier logs) collected for the error path. */
static char *g_log;
static size_t g_log_size, g_log_len;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !g_log || g_log_len + 1 >= g_log_size)
		return 0;
	int n = vsnprintf(g_log + g_log_len, g_log_size - g_log_len, fmt, ap);
	if (n > 0)
		g_log_len += (size_t)n < g_log_size - g_log_len ? (size_t)n : g_log_size - g_log_len - 1;
	return 0;
}

static int fail(char *err, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, SCAP_BPF_ERR_LEN, fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : -rc;
}

/* Read a `const volatile __u32` stamp from the object's .rodata via its BTF. */
static int read_rodata_u32(struct bpf_object *obj, const char *name, uint32_t *val)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *m;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	size_t size;
	const char *data;
	int id;

	if (!btf)
		return -ENOENT;
	m = NULL;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0)
			break;
	}
	if (!m)
		return -ENOENT;
	data = bpf_map__initial_value(m, &size);
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (!data || id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, v->name_off), name) == 0 &&
		    vs->size == 4 && vs->offset + 4 <= size) {
			memcpy(val, data + vs->offset, 4);
			return 0;
		}
	}
	return -ENOENT;
}

static int on_sample(void *ctx, void *data, size_t len)
{
	struct scap_bpf *h = ctx;
	const struct scap_evt_hdr *hdr = (const void *)((uint8_t *)data + SCAP_SAMPLE_PREFIX);
	size_t rec_len;

	if (len < SCAP_SAMPLE_PREFIX + SCAP_HDR_LEN || hdr->len != len - SCAP_SAMPLE_PREFIX) {
		h->bad_samples++;
		return 0;
	}
	rec_len = len - SCAP_SAMPLE_PREFIX;
	/* The caller guarantees room for one maximal record before draining,
	 * and we stop below before that guarantee could break. */
	memcpy(h->out + h->used, hdr, rec_len);
	h->offsets[h->n] = (uint32_t)h->used;
	h->cpus[h->n] = *(const uint16_t *)data;
	h->used += rec_len;
	h->n++;
	if (h->n >= h->max_events || h->cap - h->used < SCAP_MAX_EVENT) {
		h->stop = 1;
		return STOP_SENTINEL;
	}
	return 0;
}

/* The kernel's BTF: $PYFALCO_BTF when set (a kernel whose BTF ships as a file elsewhere;
 * libbpf then relocates against it), else /sys/kernel/btf/vmlinux. */
static const char *btf_path(void)
{
	const char *p = getenv("PYFALCO_BTF");
	return p && *p ? p : "/sys/kernel/btf/vmlinux";
}

static const char *btf_custom_path(void)
{
	const char *p = getenv("PYFALCO_BTF");
	return p && *p ? p : NULL;
}

/* The checks before opening, shared by both ways of opening. */
static int preflight(char *err, char *log, size_t log_size)
{
	struct stat st;

	err[0] = 0;
	if (log && log_size)
		log[0] = 0;
	if (geteuid() != 0)
		return fail(err, -EPERM, "live capture needs root (CAP_BPF and CAP_PERFMON): running as uid %d", geteuid());
	if (stat(btf_path(), &st) != 0)
		return fail(err, -ENOENT, "kernel has no BTF (%s missing): CO-RE probe cannot load", btf_path());
	return 0;
}

static int open_common(const char *obj_path, const void *buf, size_t len, uint32_t ring_bytes,
		       struct scap_bpf **out, char *err, char *log, size_t log_size);

int scap_bpf_open(const char *obj_path, uint32_t ring_bytes, struct scap_bpf **out,
		  char *err, char *log, size_t log_size)
{
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = preflight(err, log, log_size)))
		return rc;
	if (stat(obj_path, &st) != 0)
		return fail(err, -ENOENT, "probe object %s not found (build it with `make probe`)", obj_path);
	return open_common(obj_path, NULL, 0, ring_bytes, out, err, log, log_size);
}

int scap_bpf_open_mem(const void *buf, size_t len, const char *name, uint32_t ring_bytes,
		      struct scap_bpf **out, char *err, char *log, size_t log_size)
{
	int rc;

	*out = NULL;
	if ((rc = preflight(err, log, log_size)))
		return rc;
	if (!buf || len == 0)
		return fail(err, -ENOENT, "no embedded probe object in this build (build it with `make probe`, then reinstall)");
	return open_common(name, buf, len, ring_bytes, out, err, log, log_size);
}

static int open_common(const char *obj_path, const void *buf, size_t len, uint32_t ring_bytes,
		       struct scap_bpf **out, char *err, char *log, size_t log_size)
{
	struct scap_bpf *h;
	struct bpf_map *m;
	int rc;

	h = calloc(1, sizeof(*h));
	if (!h)
		return fail(err, -ENOMEM, "out of memory");
	g_log = log;
	g_log_size = log ? log_size : 0;
	g_log_len = 0;
	libbpf_set_print(print_fn);

	if (buf) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "probe",
			    .btf_custom_path = btf_custom_path());
		/* libbpf reads the image in place until the object is loaded, which happens
		 * below, before this call returns */
		h->obj = bpf_object__open_mem(buf, len, &opts);
	} else {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_custom_path());
		h->obj = bpf_object__open_file(obj_path, &opts);
	}
	if (!h->obj) {
		rc = -errno;
		free(h);
		return fail(err, rc, "cannot open probe object %s: %s", obj_path, strerror(-rc));
	}
	{
		uint32_t api = 0, schema = 0;
		if (read_rodata_u32(h->obj, "scap_api_version", &api) ||
		    read_rodata_u32(h->obj, "scap_schema_version", &schema)) {
			rc = -EINVAL;
			snprintf(err, SCAP_BPF_ERR_LEN, "%s is not a pyfalco probe (no API/schema stamps)", obj_path);
			goto cleanup;
		}
		if (api != SCAP_BPF_API_VERSION || schema != SCAP_BPF_SCHEMA_VERSION) {
			rc = -EPROTO;
			snprintf(err, SCAP_BPF_ERR_LEN,
				 "probe %s has API %u / schema %u, this build expects %u / %u: rebuild with `make probe`",
				 obj_path, api, schema, SCAP_BPF_API_VERSION, SCAP_BPF_SCHEMA_VERSION);
			goto cleanup;
		}
	}
	h->ncpus = libbpf_num_possible_cpus();
	if (h->ncpus <= 0) {
		rc = h->ncpus ? h->ncpus : -EINVAL;
		goto cleanup_err_cpus;
	}
	m = bpf_object__find_map_by_name(h->obj, "scratch");
	if (!m || bpf_map__set_max_entries(m, h->ncpus)) {
		rc = -EINVAL;
		snprintf(err, SCAP_BPF_ERR_LEN, "probe object has no resizable `scratch` map");
		goto cleanup;
	}
	if (ring_bytes) {
		m = bpf_object__find_map_by_name(h->obj, "events");
		if (!m || bpf_map__set_max_entries(m, ring_bytes)) {
			rc = -EINVAL;
			snprintf(err, SCAP_BPF_ERR_LEN, "cannot size the ring buffer to %u bytes", ring_bytes);
			goto cleanup;
		}
	}
	rc = bpf_object__load(h->obj);
	if (rc) {
		if (rc == -ENOSYS)
			snprintf(err, SCAP_BPF_ERR_LEN, "BPF is disabled in this kernel (bpf() returned ENOSYS)");
		else if (rc == -EPERM)
			snprintf(err, SCAP_BPF_ERR_LEN, "not allowed to load BPF programs (EPERM): need root/CAP_BPF");
		else
			snprintf(err, SCAP_BPF_ERR_LEN, "probe rejected while loading (%s); see the verifier log", strerror(-rc));
		goto cleanup;
	}
	h->syscall_table_fd = bpf_object__find_map_fd_by_name(h->obj, "syscall_table");
	h->config_fd = bpf_object__find_map_fd_by_name(h->obj, "probe_config");
	h->counters_fd = bpf_object__find_map_fd_by_name(h->obj, "counters");
	if (h->syscall_table_fd < 0 || h->config_fd < 0 || h->counters_fd < 0) {
		rc = -EINVAL;
		snprintf(err, SCAP_BPF_ERR_LEN, "probe object lacks syscall_table/probe_config/counters maps");
		goto cleanup;
	}
	h->rb = ring_buffer__new(bpf_object__find_map_fd_by_name(h->obj, "events"), on_sample, h, NULL);
	if (!h->rb) {
		rc = -errno;
		snprintf(err, SCAP_BPF_ERR_LEN, "cannot map the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	h->sleep_ns = MIN_SLEEP_NS;
	g_log = NULL;
	*out = h;
	return 0;

cleanup_err_cpus:
	snprintf(err, SCAP_BPF_ERR_LEN, "cannot count possible CPUs: %s", strerror(-rc));
cleanup:
	g_log = NULL;
	bpf_object__close(h->obj);
	free(h);
	return rc < 0 ? rc : -rc;
}

int scap_bpf_set_syscalls(struct scap_bpf *h, const uint8_t *interesting,
			  const uint16_t *ppm_sc, uint32_t n, char *err)
{
	for (uint32_t i = 0; i < n && i < SCAP_MAX_SYSCALLS; i++) {
		struct scap_syscall_entry e = {.interesting = interesting[i], .ppm_sc = ppm_sc[i]};
		if (bpf_map_update_elem(h->syscall_table_fd, &i, &e, BPF_ANY))
			return fail(err, -errno, "cannot update syscall_table[%u]: %s", i, strerror(errno));
	}
	return 0;
}

int scap_bpf_set_config(struct scap_bpf *h, uint64_t boot_time_ns, uint32_t drop_tgid,
			uint32_t capture_on, uint32_t snaplen, char *err)
{
	uint32_t zero = 0;
	struct scap_config c = {
		.boot_time_ns = boot_time_ns,
		.drop_tgid = drop_tgid,
		.snaplen = snaplen,
		.capture_on = capture_on,
		.api_version = SCAP_BPF_API_VERSION,
	};
	if (bpf_map_update_elem(h->config_fd, &zero, &c, BPF_ANY))
		return fail(err, -errno, "cannot write probe_config: %s", strerror(errno));
	return 0;
}

int scap_bpf_attach(struct scap_bpf *h, uint32_t extras, char *err)
{
	static const char *const progs[] = {"sys_exit", "sched_exec", "sched_exit", "sched_switch"};
	static const uint32_t needs[] = {0, 0, 0, SCAP_BPF_EXTRA_SCHED_SWITCH};
	for (int i = 0; i < 4; i++) {
		if (needs[i] && !(extras & needs[i]))
			continue; /* an optional extra not asked for: not attached, costs nothing */
		struct bpf_program *p = bpf_object__find_program_by_name(h->obj, progs[i]);
		if (!p)
			return fail(err, -ENOENT, "probe object has no program %s", progs[i]);
		struct bpf_link *l = bpf_program__attach(p);
		if (!l)
			return fail(err, -errno, "cannot attach %s (tp_btf): %s", progs[i], strerror(errno));
		h->links[h->nlinks++] = l;
	}
	return 0;
}

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int scap_bpf_drain(struct scap_bpf *h, uint8_t *out, size_t cap, uint32_t *offsets,
		   uint16_t *cpus, uint32_t max_events, int timeout_ms, size_t *used, char *err)
{
	long deadline = now_ns() + (long)timeout_ms * 1000000L;
	int rc;

	*used = 0;
	if (cap < 2 * SCAP_MAX_EVENT || max_events == 0)
		return fail(err, -EINVAL, "drain buffer too small: need >= %d bytes", 2 * SCAP_MAX_EVENT);
	h->out = out;
	h->cap = cap;
	h->used = 0;
	h->offsets = offsets;
	h->cpus = cpus;
	h->max_events = max_events;
	h->n = 0;
	h->stop = 0;
	for (;;) {
		rc = ring_buffer__consume(h->rb);
		if (rc < 0 && !(h->stop && rc == STOP_SENTINEL))
			return fail(err, rc, "ring buffer consume failed: %s", strerror(-rc));
		if (h->n > 0 || h->stop) {
			/* data: poll again soon */
			h->sleep_ns = MIN_SLEEP_NS;
			break;
		}
		long left = deadline - now_ns();
		if (left <= 0)
			break;
		/* empty: back off, up to MAX_SLEEP_NS, never past the deadline */
		long s = h->sleep_ns < left ? h->sleep_ns : left;
		struct timespec ts = {.tv_sec = s / 1000000000L, .tv_nsec = s % 1000000000L};
		nanosleep(&ts, NULL);
		if (h->sleep_ns < MAX_SLEEP_NS)
			h->sleep_ns *= 2;
	}
	*used = h->used;
	return (int)h->n;
}

int scap_bpf_get_stats(struct scap_bpf *h, struct scap_bpf_stats *st, char *err)
{
	uint32_t zero = 0;
	struct scap_counters *per = calloc(h->ncpus, sizeof(*per));
	memset(st, 0, sizeof(*st));
	if (!per)
		return fail(err, -ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(h->counters_fd, &zero, per)) {
		int rc = -errno;
		free(per);
		return fail(err, rc, "cannot read counters: %s", strerror(-rc));
	}
	for (int i = 0; i < h->ncpus; i++) {
		st->n_evts += per[i].n_evts;
		st->n_drops_buffer += per[i].n_drops_buffer;
		st->n_drops_size += per[i].n_drops_size;
		for (int k = 0; k < SCAP_DROP_CATEGORIES; k++)
			st->n_drops_buffer_cat[k] += per[i].n_drops_buffer_cat[k];
	}
	free(per);
	st->ncpus = h->ncpus;
	st->api_version = SCAP_BPF_API_VERSION;
	st->schema_version = SCAP_BPF_SCHEMA_VERSION;
	return 0;
}

void scap_bpf_close(struct scap_bpf *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nlinks; i++)
		bpf_link__destroy(h->links[i]);
	ring_buffer__free(h->rb);
	bpf_object__close(h->obj);
	free(h);
}

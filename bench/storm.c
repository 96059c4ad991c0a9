/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storm: a bounded, paced syscall storm, for measuring what a probe adds.
 *
 *   storm KIND RATE SECONDS [MINIMAL_OBJ MODE]
 *
 * KIND: getppid | openclose (openat + close of /dev/null, two syscalls per op)
 * RATE: target syscalls per second; SECONDS: duration.
 * Pacing: we keep up with RATE x elapsed time in chunks of at most RATE/1000 syscalls
 * run back to back and timed with CLOCK_MONOTONIC, sleeping 0.2 ms when ahead.  Only time inside the
 * chunks counts, so "ns per syscall" is the syscall cost, not the pacing.
 *
 * With MINIMAL_OBJ (driver/bpf/.output/minimal.bpf.o) storm also loads the bench
 * ceiling probe and drains it from a C thread (ring_buffer__consume with the same
 * adaptive sleep as pyfalco's drain).  MODE: filter (table empty: every syscall is
 * returned in the kernel) or record (the storm's syscalls write a 64-byte record).
 *
 * Output: one JSON line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- the C consumer of the minimal probe ---- */
static volatile int g_stop;
static uint64_t g_consumed;

static int count_sample(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	g_consumed++;
	return 0;
}

static void *consumer(void *arg)
{
	struct ring_buffer *rb = arg;
	long sleep_ns = 100000;
	for (;;) {
		int n = ring_buffer__consume(rb);
		if (n > 0) {
			sleep_ns = 100000;
			continue;
		}
		if (g_stop)
			break;
		struct timespec ts = {0, sleep_ns};
		nanosleep(&ts, NULL);
		if (sleep_ns < 10000000)
			sleep_ns *= 2;
	}
	ring_buffer__consume(rb);
	return NULL;
}

static int silent(enum libbpf_print_level l, const char *f, va_list ap)
{
	if (l == LIBBPF_WARN)
		return vfprintf(stderr, f, ap);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: %s getppid|openclose RATE SECONDS [MINIMAL_OBJ filter|record]\n", argv[0]);
		return 2;
	}
	int openclose = strcmp(argv[1], "openclose") == 0;
	double rate = atof(argv[2]), secs = atof(argv[3]);
	struct bpf_object *obj = NULL;
	struct bpf_link *link = NULL;
	struct ring_buffer *rb = NULL;
	pthread_t th;
	int drops_fd = -1;

	if (argc == 6) {
		libbpf_set_print(silent);
		obj = bpf_object__open_file(argv[4], NULL);
		if (!obj || bpf_object__load(obj)) {
			fprintf(stderr, "cannot load %s\n", argv[4]);
			return 1;
		}
		int tbl = bpf_object__find_map_fd_by_name(obj, "min_interesting");
		drops_fd = bpf_object__find_map_fd_by_name(obj, "min_drops");
		if (strcmp(argv[5], "record") == 0) {
			uint8_t on = 1;
			uint32_t nrs[] = {SYS_getppid, SYS_openat, SYS_close};
			for (unsigned i = 0; i < 3; i++)
				bpf_map_update_elem(tbl, &nrs[i], &on, BPF_ANY);
		}
		rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "min_ring"), count_sample, NULL, NULL);
		link = bpf_program__attach(bpf_object__find_program_by_name(obj, "min_sys_exit"));
		if (!rb || !link) {
			fprintf(stderr, "cannot attach the minimal probe\n");
			return 1;
		}
		pthread_create(&th, NULL, consumer, rb);
	}

	/* run: catch up to rate x elapsed in chunks of at most one millisecond's worth */
	uint64_t chunk = (uint64_t)(rate / 1000.0);
	if (chunk == 0)
		chunk = 1;
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
	uint64_t busy = 0, calls = 0;
	for (;;) {
		uint64_t t = now_ns();
		if (t >= end)
			break;
		double due = rate * (t - start) / 1e9 - (double)calls;
		if (due < 1.0) {
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
			continue;
		}
		uint64_t n = due > chunk ? chunk : (uint64_t)due;
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < n;) {
			if (openclose) {
				int fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
				syscall(SYS_close, fd);
				i += 2;
			} else {
				syscall(SYS_getppid);
				i++;
			}
			calls += openclose ? 2 : 1;
		}
		busy += now_ns() - t0;
	}
	double elapsed = (now_ns() - start) / 1e9;

	uint64_t drops = 0;
	if (obj) {
		usleep(50000);
		g_stop = 1;
		pthread_join(th, NULL);
		int ncpu = libbpf_num_possible_cpus();
		uint64_t per[ncpu > 0 ? ncpu : 1];
		uint32_t zero = 0;
		if (bpf_map_lookup_elem(drops_fd, &zero, per) == 0)
			for (int i = 0; i < ncpu; i++)
				drops += per[i];
		bpf_link__destroy(link);
		ring_buffer__free(rb);
		bpf_object__close(obj);
	}
	printf("{\"kind\": \"%s\", \"target_rate\": %.0f, \"syscalls\": %llu, \"achieved_rate\": %.0f, "
	       "\"ns_per_syscall\": %.1f, \"consumed\": %llu, \"drops\": %llu}\n",
	       argv[1], rate, (unsigned long long)calls, calls / elapsed, calls ? (double)busy / calls : 0.0,
	       (unsigned long long)g_consumed, (unsigned long long)drops);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps of the pyfalco probe, named for their role.  User space finds them by
 * these names (scap/_native/bpf_ring.c), so renaming one is an API change.
 */
#ifndef PYFALCO_MAPS_H
#define PYFALCO_MAPS_H

#include "events.h"

/* Scratch space where a record is built before one bpf_ringbuf_output().
 * An ARRAY indexed by CPU (not PERCPU: per-CPU values are capped at 32 KiB).
 * `data` is twice SCAP_MAX_EVENT so that a store at any masked offset below
 * SCAP_MAX_EVENT stays inside the value; `tmp` holds a path built backwards. */
#define SCAP_TMP_SIZE 8192
struct scap_aux {
	__u8 data[2 * SCAP_MAX_EVENT];
	__u8 tmp[SCAP_TMP_SIZE + 512];
	__u64 pos;      /* next payload byte */
	__u32 nparams;  /* params announced in the header */
	__u32 idx;      /* next param index */
	__u32 truncated;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized to the number of possible CPUs by the loader */
	__type(key, __u32);
	__type(value, struct scap_aux);
} scratch SEC(".maps");

/* The one ring buffer; its size is set by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Per-syscall filter, written by user space before and during the run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SCAP_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct scap_syscall_entry);
} syscall_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scap_config);
} probe_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scap_counters);
} counters SEC(".maps");

/* execve filename and pre-exec tid, saved by sched_process_exec for the
 * execve/execveat exit record (the user pointer is gone after a successful exec). */
struct scap_exec_info {
	__u32 old_tid;
	__u32 len;
	char filename[SCAP_MAX_PATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct scap_exec_info);
} exec_info SEC(".maps");

#endif /* PYFALCO_MAPS_H */

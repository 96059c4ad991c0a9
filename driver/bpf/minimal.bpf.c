// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bench ceiling: the least a recording probe can do.  For each syscall
 * exit it checks a per-syscall table and either returns (filtered) or writes
 * one fixed 64-byte record into the ring with BPF_RB_NO_WAKEUP.  bench/storm.c
 * loads it and drains it from C; pyfalco's probe is compared against it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u8);
} min_interesting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} min_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} min_ring SEC(".maps");

struct min_record {
	__u64 ts, tid, nr, ret, a0, a1, a2, a3;
};

SEC("tp_btf/sys_exit")
int BPF_PROG(min_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	__u8 *on;

	if (nr >= 512)
		return 0;
	on = bpf_map_lookup_elem(&min_interesting, &nr);
	if (!on || !*on)
		return 0;
	struct min_record *r = bpf_ringbuf_reserve(&min_ring, sizeof(*r), 0);
	if (!r) {
		__u32 zero = 0;
		__u64 *d = bpf_map_lookup_elem(&min_drops, &zero);
		if (d)
			(*d)++;
		return 0;
	}
	r->ts = bpf_ktime_get_boot_ns();
	r->tid = bpf_get_current_pid_tgid();
	r->nr = nr;
	r->ret = ret;
	r->a0 = BPF_CORE_READ(regs, di);
	r->a1 = BPF_CORE_READ(regs, si);
	r->a2 = BPF_CORE_READ(regs, dx);
	r->a3 = BPF_CORE_READ(regs, r10);
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

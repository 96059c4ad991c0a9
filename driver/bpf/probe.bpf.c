// SPDX-License-Identifier: GPL-2.0-only
/*
 * pyfalco CO-RE probe.
 *
 * Exit-only: one record per syscall, written at sys_exit, where the return
 * value is known and the arguments are still in pt_regs (x86_64: di, si, dx,
 * r10, r8, r9).  User memory is read at exit, after the kernel has copied it,
 * so what we record is what the syscall used.  Only execve needs more: after
 * a successful exec the filename pointer belongs to the old mm, so
 * sched_process_exec saves bprm->filename for the exit record.
 *
 * Not attached, on purpose: tp_btf/sys_enter (exit-only records need nothing from the
 * enter side, and a second hook would add its cost to every syscall, filtered ones too)
 * and sched_process_fork (on x86_64 a new task returns to user space through the same
 * sys_exit path, so the child's clone record comes from there: checked live for threads,
 * vfork, posix_spawn and bare clone3 children in tests/drivers/test_bpf_clone_children.py;
 * kernel threads, which do not return there, are not tracked by sinsp either).
 *
 * Cost model: for a syscall the interesting table rejects we do one inlined
 * array lookup and return (plus one per-CPU counter increment).  A recorded
 * syscall tail-calls its filler, builds the record in a per-CPU scratch
 * buffer and copies it into the ring with BPF_RB_NO_WAKEUP: the consumer
 * polls on its own adaptive schedule, we never wake it per event.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "events.h"
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

/* Probe object stamps, checked by the loader. */
const volatile __u32 scap_api_version = SCAP_BPF_API_VERSION;
const volatile __u32 scap_schema_version = SCAP_BPF_SCHEMA_VERSION;

#define MAX_MASK (SCAP_MAX_EVENT - 1)
#define TMP_MASK (SCAP_TMP_SIZE - 1)
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define FMODE_CREATED 0x100000
#define PPM_O_F_CREATED (1 << 14)
#define TS_COMPAT 0x0002 /* x86 thread_info.status: in an ia32 syscall */

/* ------------------------------------------------------------------ */
/* Record building                                                     */
/* ------------------------------------------------------------------ */

static __always_inline struct scap_aux *aux_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline struct scap_config *cfg_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&probe_config, &zero);
}

static __always_inline struct scap_counters *counters_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters, &zero);
}

static __always_inline void aux_begin(struct scap_aux *a, __u16 type, __u32 nparams)
{
	struct scap_config *cfg = cfg_get();
	__u64 boot = cfg ? cfg->boot_time_ns : 0;
	__u16 cpu = (__u16)bpf_get_smp_processor_id();

	*(__u16 *)&a->data[0] = cpu;
	struct scap_evt_hdr *h = (struct scap_evt_hdr *)&a->data[SCAP_SAMPLE_PREFIX];
	h->ts = boot + bpf_ktime_get_boot_ns();
	h->tid = (__u32)bpf_get_current_pid_tgid();
	h->type = type;
	h->nparams = nparams;
	a->nparams = nparams & 63;
	a->idx = 0;
	a->truncated = 0;
	a->pos = SCAP_SAMPLE_PREFIX + SCAP_HDR_LEN + 2 * (nparams & 63);
}

static __always_inline void set_len(struct scap_aux *a, __u16 len)
{
	__u32 off = SCAP_SAMPLE_PREFIX + SCAP_HDR_LEN + 2 * (a->idx & 63);
	*(__u16 *)&a->data[off & 255] = len;
	a->idx++;
}

/* Room for `n` more payload bytes?  If not, the param is sent empty. */
static __always_inline int room(struct scap_aux *a, __u32 n)
{
	if (a->pos + n > SCAP_MAX_EVENT) {
		a->truncated = 1;
		set_len(a, 0);
		return 0;
	}
	return 1;
}

#define DEFINE_PUT(name, type)                                                  \
	static __always_inline void name(struct scap_aux *a, type v)           \
	{                                                                       \
		if (!room(a, sizeof(type)))                                     \
			return;                                                 \
		*(type *)&a->data[a->pos & MAX_MASK] = v;                       \
		a->pos += sizeof(type);                                         \
		set_len(a, sizeof(type));                                       \
	}
DEFINE_PUT(put_u8, __u8)
DEFINE_PUT(put_u16, __u16)
DEFINE_PUT(put_u32, __u32)
DEFINE_PUT(put_u64, __u64)

static __always_inline void put_s64(struct scap_aux *a, __s64 v) { put_u64(a, (__u64)v); }
static __always_inline void put_empty(struct scap_aux *a) { set_len(a, 0); }

/* NUL-terminated user string; a NULL or unreadable pointer gives an empty param. */
static __always_inline void put_user_str(struct scap_aux *a, const void *p, __u32 max)
{
	long n = 0;
	if (!room(a, SCAP_MAX_PATH))
		return;
	if (p)
		n = bpf_probe_read_user_str(&a->data[a->pos & MAX_MASK], SCAP_MAX_PATH, p);
	if (n < 0)
		n = 0;
	a->pos += n;
	set_len(a, n);
}

static __always_inline void put_kernel_str(struct scap_aux *a, const void *p, __u32 max)
{
	long n = 0;
	if (!room(a, 256))
		return;
	if (p)
		n = bpf_probe_read_kernel_str(&a->data[a->pos & MAX_MASK], 256, p);
	if (n < 0)
		n = 0;
	a->pos += n;
	set_len(a, n);
}

/* Raw user bytes (args, env, I/O data), at most `max` (a power of two). */
static __always_inline void put_user_bytes(struct scap_aux *a, const void *p, __u64 len, __u32 max)
{
	if (!room(a, max))
		return;
	if (len > max)
		len = max;
	if (!p || len == 0) {
		set_len(a, 0);
		return;
	}
	if (bpf_probe_read_user(&a->data[a->pos & MAX_MASK], len & (max - 1 | max), p) < 0) {
		set_len(a, 0);
		return;
	}
	a->pos += len;
	set_len(a, len);
}

/* The drop category of a record type (SCAP_DROP_CATEGORIES: none), as libs groups them. */
static __always_inline __u32 drop_category(__u16 type)
{
	switch (type) {
	case PPME_SYSCALL_CLONE_20_X: case PPME_SYSCALL_CLONE3_X:
	case PPME_SYSCALL_FORK_20_X: case PPME_SYSCALL_VFORK_20_X:
		return SCAP_DROP_CLONE_FORK;
	case PPME_SYSCALL_EXECVE_19_X: case PPME_SYSCALL_EXECVEAT_X:
		return SCAP_DROP_EXECVE;
	case PPME_SOCKET_CONNECT_X:
		return SCAP_DROP_CONNECT;
	case PPME_SYSCALL_OPEN_X: case PPME_SYSCALL_CREAT_X: case PPME_SYSCALL_OPENAT_2_X:
	case PPME_SYSCALL_OPENAT2_X:
		return SCAP_DROP_OPEN;
	case PPME_SYSCALL_CHMOD_X: case PPME_SYSCALL_FCHMOD_X: case PPME_SYSCALL_FCHMODAT_X:
	case PPME_SYSCALL_LINK_2_X: case PPME_SYSCALL_LINKAT_2_X: case PPME_SYSCALL_MKDIR_2_X:
	case PPME_SYSCALL_MKDIRAT_X: case PPME_SYSCALL_MOUNT_X: case PPME_SYSCALL_UMOUNT2_X:
	case PPME_SYSCALL_RENAME_X: case PPME_SYSCALL_RENAMEAT_X: case PPME_SYSCALL_RENAMEAT2_X:
	case PPME_SYSCALL_RMDIR_2_X: case PPME_SYSCALL_SYMLINK_X: case PPME_SYSCALL_SYMLINKAT_X:
	case PPME_SYSCALL_UNLINK_2_X: case PPME_SYSCALL_UNLINKAT_2_X:
		return SCAP_DROP_DIR_FILE;
	case PPME_SYSCALL_BPF_2_X: case PPME_SYSCALL_SETPGID_X: case PPME_SYSCALL_PTRACE_X:
	case PPME_SYSCALL_SETNS_X: case PPME_SYSCALL_SETRESGID_X: case PPME_SYSCALL_SETRESUID_X:
	case PPME_SYSCALL_SETSID_X: case PPME_SYSCALL_UNSHARE_X: case PPME_SYSCALL_CAPSET_X:
		return SCAP_DROP_OTHER_INTEREST;
	case PPME_SYSCALL_CLOSE_X:
		return SCAP_DROP_CLOSE;
	case PPME_PROCEXIT_1_E:
		return SCAP_DROP_PROC_EXIT;
	}
	return SCAP_DROP_CATEGORIES;
}

/* Submit: copy the finished record (cpu prefix + record) into the ring. */
static __always_inline void aux_submit(struct scap_aux *a)
{
	struct scap_counters *c = counters_get();
	__u64 total = a->pos;
	struct scap_evt_hdr *h = (struct scap_evt_hdr *)&a->data[SCAP_SAMPLE_PREFIX];

	if (total > SCAP_MAX_EVENT)
		total = SCAP_MAX_EVENT;
	h->len = total - SCAP_SAMPLE_PREFIX;
	if (c && a->truncated)
		c->n_drops_size++;
	if (bpf_ringbuf_output(&events, a->data, total & (2 * SCAP_MAX_EVENT - 1), BPF_RB_NO_WAKEUP)) {
		if (c) {
			c->n_drops_buffer++;
			__u32 cat = drop_category(h->type);
			if (cat < SCAP_DROP_CATEGORIES)
				c->n_drops_buffer_cat[cat]++;
		}
		return;
	}
	if (c)
		c->n_evts++;
}

/* ------------------------------------------------------------------ */
/* Kernel state helpers                                                */
/* ------------------------------------------------------------------ */

static __always_inline unsigned long arg(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	default: return BPF_CORE_READ(regs, r9);
	}
}

static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	if (fd < 0)
		return NULL;
	max = BPF_CORE_READ(t, files, fdt, max_fds);
	if (fd >= max)
		return NULL;
	fds = BPF_CORE_READ(t, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline __u32 encode_dev(dev_t dev)
{
	__u32 major = dev >> 20, minor = dev & ((1U << 20) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline void put_dev_ino(struct scap_aux *a, struct task_struct *t, long fd)
{
	struct file *f = fd_file(t, fd);
	__u32 dev = 0;
	__u64 ino = 0;

	if (f) {
		dev = encode_dev(BPF_CORE_READ(f, f_inode, i_sb, s_dev));
		ino = BPF_CORE_READ(f, f_inode, i_ino);
	}
	put_u32(a, dev);
	put_u64(a, ino);
}

/* open(2) flags to PPM_O_* */
static __always_inline __u32 open_flags(__u32 f)
{
	__u32 r = 0;
	switch (f & 3) {
	case 0: r |= 1 << 0; break;             /* RDONLY */
	case 1: r |= 1 << 1; break;             /* WRONLY */
	case 2: r |= (1 << 0) | (1 << 1); break; /* RDWR */
	}
	if (f & 0100) r |= 1 << 2;       /* O_CREAT */
	if (f & 02000) r |= 1 << 3;      /* O_APPEND */
	if (f & 010000) r |= 1 << 4;     /* O_DSYNC */
	if (f & 0200) r |= 1 << 5;       /* O_EXCL */
	if (f & 04000) r |= 1 << 6;      /* O_NONBLOCK */
	if (f & 04000000) r |= 1 << 7;   /* __O_SYNC */
	if (f & 01000) r |= 1 << 8;      /* O_TRUNC */
	if (f & 040000) r |= 1 << 9;     /* O_DIRECT */
	if (f & 0200000) r |= 1 << 10;   /* O_DIRECTORY */
	if (f & 0100000) r |= 1 << 11;   /* O_LARGEFILE */
	if (f & 02000000) r |= 1 << 12;  /* O_CLOEXEC */
	if ((f & 020200000) == 020200000) r |= 1 << 13; /* O_TMPFILE */
	return r;
}

static __always_inline __u32 open_mode(__u32 flags, __u32 mode)
{
	/* PPM_S_* bits equal the Linux permission bits; only meaningful on create. */
	if ((flags & 0100) || (flags & 020200000) == 020200000)
		return mode & 07777;
	return 0;
}

static __always_inline __u32 created_flag(struct task_struct *t, long fd)
{
	struct file *f = fd_file(t, fd);
	if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		return PPM_O_F_CREATED;
	return 0;
}

/* Linux CLONE_* to PPM_CL_* */
static __always_inline __u32 clone_flags(__u64 f)
{
	__u32 r = 0;
	if (f & 0x400) r |= 1 << 0;        /* FILES */
	if (f & 0x200) r |= 1 << 1;        /* FS */
	if (f & 0x80000000ULL) r |= 1 << 2; /* IO */
	if (f & 0x8000000) r |= 1 << 3;    /* NEWIPC */
	if (f & 0x40000000) r |= 1 << 4;   /* NEWNET */
	if (f & 0x20000) r |= 1 << 5;      /* NEWNS */
	if (f & 0x20000000) r |= 1 << 6;   /* NEWPID */
	if (f & 0x4000000) r |= 1 << 7;    /* NEWUTS */
	if (f & 0x8000) r |= 1 << 8;       /* PARENT */
	if (f & 0x100000) r |= 1 << 9;     /* PARENT_SETTID */
	if (f & 0x2000) r |= 1 << 10;      /* PTRACE */
	if (f & 0x800) r |= 1 << 11;       /* SIGHAND */
	if (f & 0x40000) r |= 1 << 12;     /* SYSVSEM */
	if (f & 0x10000) r |= 1 << 13;     /* THREAD */
	if (f & 0x800000) r |= 1 << 14;    /* UNTRACED */
	if (f & 0x100) r |= 1 << 15;       /* VM */
	if (f & 0x10000000) r |= 1 << 20;  /* NEWUSER */
	if (f & 0x200000) r |= 1 << 23;    /* CHILD_CLEARTID */
	if (f & 0x1000000) r |= 1 << 24;   /* CHILD_SETTID */
	if (f & 0x80000) r |= 1 << 25;     /* SETTLS */
	if (f & 0x4000) r |= 1 << 27;      /* VFORK */
	if (f & 0x2000000) r |= 1 << 28;   /* NEWCGROUP */
	return r;
}

/* pid number of `pid` as seen from its own (innermost) namespace */
static __always_inline __s64 pid_vnr(struct pid *pid)
{
	unsigned int level;
	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	return BPF_CORE_READ(pid, numbers[level].nr);
}

static __always_inline __s64 pid_global(struct pid *pid)
{
	if (!pid)
		return 0;
	return BPF_CORE_READ(pid, numbers[0].nr);
}

static __always_inline __u32 tty_of(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (!tty)
		return 0;
	int index = BPF_CORE_READ(tty, index);
	int major = BPF_CORE_READ(tty, driver, major);
	int minor_start = BPF_CORE_READ(tty, driver, minor_start);
	__u32 minor = minor_start + index;
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

/* Build the absolute path of a dentry in a->tmp, backwards from the end,
 * one component per bpf_loop() step (verified once, not unrolled).
 * Returns the start offset in tmp (the path runs to SCAP_TMP_SIZE). */
#define PATH_DEPTH 48
struct path_ctx {
	struct dentry *d;
	struct mount *m;
	__u32 end;
};

static long path_step(__u32 i, void *vctx)
{
	struct path_ctx *c = vctx;
	struct scap_aux *a = aux_get();
	struct dentry *d = c->d;
	struct mount *m = c->m;

	if (!a)
		return 1;
	struct dentry *root = BPF_CORE_READ(m, mnt.mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == root || d == parent) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (m == mp || d != root)
			return 1;
		c->d = BPF_CORE_READ(m, mnt_mountpoint);
		c->m = mp;
		return 0;
	}
	__u32 len = BPF_CORE_READ(d, d_name.len) & 255;
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	__u32 end = c->end;
	if (len + 1 > end || end > SCAP_TMP_SIZE)
		return 1;
	end -= len;
	bpf_probe_read_kernel(&a->tmp[end & TMP_MASK], len, name);
	end -= 1;
	a->tmp[end & TMP_MASK] = '/';
	c->end = end;
	c->d = parent;
	return 0;
}

static __always_inline __u32 build_path(struct scap_aux *a, struct dentry *d, struct vfsmount *vm)
{
	struct path_ctx c = {.d = d, .m = container_of(vm, struct mount, mnt), .end = SCAP_TMP_SIZE};
	bpf_loop(PATH_DEPTH, path_step, &c, 0);
	return c.end;
}

static __always_inline void put_kpath(struct scap_aux *a, struct dentry *d, struct vfsmount *vm)
{
	__u32 start, len;

	if (!room(a, SCAP_TMP_SIZE + 2))
		return;
	if (!d || !vm) {
		set_len(a, 0);
		return;
	}
	start = build_path(a, d, vm);
	len = SCAP_TMP_SIZE - start;
	if (len == 0) {
		a->data[a->pos & MAX_MASK] = '/';
		len = 1;
	} else {
		bpf_probe_read_kernel(&a->data[a->pos & MAX_MASK], len & TMP_MASK, &a->tmp[start & TMP_MASK]);
	}
	a->data[(a->pos + len) & MAX_MASK] = 0;
	a->pos += len + 1;
	set_len(a, len + 1);
}

/* The task's working directory (fs->pwd), walked like any kernel path: the same
 * bounded dentry/mount walk libs' modern probe uses where bpf_d_path is not allowed. */
static __always_inline void put_cwd(struct scap_aux *a, struct task_struct *t)
{
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	if (!fs) {
		put_empty(a);
		return;
	}
	put_kpath(a, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt));
}

/* cgroups param: "subsys=path\0" for each mounted controller.  The kernfs
 * path is built backwards in tmp, one level per bpf_loop() step. */
#define MAX_SUBSYS 16
#define CGROUP_DEPTH 16
struct kn_ctx {
	struct kernfs_node *kn;
	__u32 end;
};

static long kn_step(__u32 i, void *vctx)
{
	struct kn_ctx *c = vctx;
	struct scap_aux *a = aux_get();
	struct kernfs_node *kn = c->kn;
	char buf[256];

	if (!a || !kn)
		return 1;
	struct kernfs_node *parent = BPF_CORE_READ(kn, __parent);
	if (!parent)
		return 1;
	long ln = bpf_probe_read_kernel_str(buf, sizeof(buf), BPF_CORE_READ(kn, name));
	if (ln <= 1)
		return 1;
	ln -= 1;
	__u32 end = c->end;
	if (ln + 1 > end || end > SCAP_MAX_CGROUP_PATH)
		return 1;
	end -= ln;
	bpf_probe_read_kernel(&a->tmp[end & TMP_MASK], ln & 255, buf);
	end -= 1;
	a->tmp[end & TMP_MASK] = '/';
	c->end = end;
	c->kn = parent;
	return 0;
}

static __always_inline void put_cgroups(struct scap_aux *a, struct task_struct *t)
{
	__u64 start = a->pos;
	struct css_set *cs = BPF_CORE_READ(t, cgroups);

	if (!room(a, MAX_SUBSYS * (SCAP_MAX_CGROUP_PATH + 32)))
		return;
	/* the running kernel's controller count, not the one we were built with */
	int count = bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT);
	for (int i = 0; i < MAX_SUBSYS; i++) {
		if (i >= count)
			break;
		struct cgroup_subsys_state *css = BPF_CORE_READ(cs, subsys[i]);
		if (!css)
			continue;
		const char *ssname = BPF_CORE_READ(css, ss, legacy_name); /* as /proc/PID/cgroup names v1 controllers */
		long n = bpf_probe_read_kernel_str(&a->data[a->pos & MAX_MASK], 32, ssname);
		if (n <= 1)
			continue;
		a->pos += n - 1;
		a->data[a->pos & MAX_MASK] = '=';
		a->pos++;
		struct kn_ctx c = {.kn = BPF_CORE_READ(css, cgroup, kn), .end = SCAP_MAX_CGROUP_PATH};
		bpf_loop(CGROUP_DEPTH, kn_step, &c, 0);
		__u32 end = c.end & (SCAP_MAX_CGROUP_PATH * 2 - 1);
		__u32 len = SCAP_MAX_CGROUP_PATH - end;
		if (end >= SCAP_MAX_CGROUP_PATH) {
			a->data[a->pos & MAX_MASK] = '/';
			len = 1;
		} else {
			bpf_probe_read_kernel(&a->data[a->pos & MAX_MASK], len & 511, &a->tmp[end & TMP_MASK]);
		}
		a->pos += len;
		a->data[a->pos & MAX_MASK] = 0;
		a->pos++;
	}
	set_len(a, a->pos - start);
}

/* Common process parameters of clone/fork/vfork/clone3 and execve:
 * exe, args, tid, pid, ptid, cwd, fdlimit, pgft_maj, pgft_min, vm_size,
 * vm_rss, vm_swap, comm, cgroups (14 params). */
static __always_inline void put_proc_common(struct scap_aux *a, struct task_struct *t, int have_exe_args,
					    int with_cwd)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long arg_start = 0, arg_end = 0;

	if (have_exe_args && mm) {
		arg_start = BPF_CORE_READ(mm, arg_start);
		arg_end = BPF_CORE_READ(mm, arg_end);
	}
	/* exe = argv[0]; args = the rest, NUL separated */
	long exe_len = 0;
	if (room(a, SCAP_MAX_PATH)) {
		if (arg_start)
			exe_len = bpf_probe_read_user_str(&a->data[a->pos & MAX_MASK], SCAP_MAX_PATH, (void *)arg_start);
		if (exe_len < 0)
			exe_len = 0;
		a->pos += exe_len;
		set_len(a, exe_len);
	}
	if (arg_end > arg_start + exe_len)
		put_user_bytes(a, (void *)(arg_start + exe_len), arg_end - arg_start - exe_len, SCAP_MAX_ARGS);
	else
		put_empty(a);

	put_s64(a, BPF_CORE_READ(t, pid));
	put_s64(a, BPF_CORE_READ(t, tgid));
	put_s64(a, BPF_CORE_READ(t, real_parent, pid));
	if (with_cwd)
		put_cwd(a, t);
	else
		put_empty(a); /* clone: empty like libs' drivers; sinsp inherits the parent's */
	put_s64(a, BPF_CORE_READ(t, signal, rlim[7].rlim_cur)); /* RLIMIT_NOFILE */
	put_u64(a, BPF_CORE_READ(t, maj_flt));
	put_u64(a, BPF_CORE_READ(t, min_flt));
	__u32 vm_size = 0, vm_rss = 0, vm_swap = 0;
	if (mm) {
		vm_size = BPF_CORE_READ(mm, total_vm) << 2; /* pages to KiB */
		__s64 file = BPF_CORE_READ(mm, rss_stat[0].count);
		__s64 anon = BPF_CORE_READ(mm, rss_stat[1].count);
		__s64 swap = BPF_CORE_READ(mm, rss_stat[2].count);
		__s64 shm = BPF_CORE_READ(mm, rss_stat[3].count);
		__s64 rss = file + anon + shm;
		vm_rss = rss > 0 ? rss << 2 : 0;
		vm_swap = swap > 0 ? swap << 2 : 0;
	}
	put_u32(a, vm_size);
	put_u32(a, vm_rss);
	put_u32(a, vm_swap);
	char comm[16];
	BPF_CORE_READ_STR_INTO(&comm, t, comm);
	put_kernel_str(a, comm, 16);
	put_cgroups(a, t);
}

/* ------------------------------------------------------------------ */
/* Socket helpers                                                      */
/* ------------------------------------------------------------------ */

static __always_inline struct sock *fd_sock(struct task_struct *t, long fd)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *s = BPF_CORE_READ(f, private_data);
	return s ? BPF_CORE_READ(s, sk) : NULL;
}

static __always_inline __u16 ntohs16(__u16 v) { return __builtin_bswap16(v); }

/* Copy a unix socket's bound path (abstract: leading NUL dropped) at pos. */
static __always_inline long unix_path(struct scap_aux *a, struct sock *sk)
{
	struct unix_sock *us = (struct unix_sock *)sk;
	struct unix_address *ua = BPF_CORE_READ(us, addr);
	long n;
	if (!ua) {
		a->data[a->pos & MAX_MASK] = 0;
		return 1;
	}
	char *p = (char *)ua + bpf_core_field_offset(struct unix_address, name) + 2; /* sun_path */
	char first = 0;
	bpf_probe_read_kernel(&first, 1, p);
	if (first == 0)
		p++;
	n = bpf_probe_read_kernel_str(&a->data[a->pos & MAX_MASK], 108, p);
	if (n <= 0) {
		a->data[a->pos & MAX_MASK] = 0;
		n = 1;
	}
	return n;
}

/* SOCKTUPLE of fd's socket.  inbound: source is the peer (accept).  `uaddr`: the datagram's
 * user sockaddr (sendto/sendmsg destination, recvfrom/recvmsg source, filled by the kernel by
 * exit), the remote end of an IPv4/IPv6 socket that has none (unconnected UDP), as libs does. */
static __always_inline void put_tuple_addr(struct scap_aux *a, struct task_struct *t, long fd,
					   int inbound, const void *uaddr);

static __always_inline void put_tuple(struct scap_aux *a, struct task_struct *t, long fd, int inbound)
{
	put_tuple_addr(a, t, fd, inbound, NULL);
}

static __always_inline void put_tuple_addr(struct scap_aux *a, struct task_struct *t, long fd,
					   int inbound, const void *uaddr)
{
	struct sock *sk = fd_sock(t, fd);
	__u16 fam;
	__u64 start = a->pos;

	if (!sk || !room(a, 200)) {
		if (sk == NULL)
			put_empty(a);
		return;
	}
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = ntohs16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u8 *o = &a->data[a->pos & MAX_MASK];
	if (fam == AF_INET) {
		__u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		if (raddr == 0 && rport == 0 && uaddr) {
			struct sockaddr_in sin = {};
			bpf_probe_read_user(&sin, sizeof(sin), uaddr);
			if (sin.sin_family == AF_INET) {
				raddr = sin.sin_addr.s_addr;
				rport = ntohs16(sin.sin_port);
			}
		}
		o[0] = AF_INET;
		if (inbound) {
			*(__u32 *)&o[1] = raddr; *(__u16 *)&o[5] = rport;
			*(__u32 *)&o[7] = laddr; *(__u16 *)&o[11] = lport;
		} else {
			*(__u32 *)&o[1] = laddr; *(__u16 *)&o[5] = lport;
			*(__u32 *)&o[7] = raddr; *(__u16 *)&o[11] = rport;
		}
		a->pos += 13;
	} else if (fam == AF_INET6) {
		struct in6_addr l = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		struct in6_addr r = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		if (rport == 0 && uaddr && !(r.in6_u.u6_addr32[0] | r.in6_u.u6_addr32[1] |
					      r.in6_u.u6_addr32[2] | r.in6_u.u6_addr32[3])) {
			struct sockaddr_in6 sin6 = {};
			bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
			if (sin6.sin6_family == AF_INET6) {
				r = sin6.sin6_addr;
				rport = ntohs16(sin6.sin6_port);
			}
		}
		o[0] = AF_INET6;
		if (inbound) {
			__builtin_memcpy(&o[1], &r, 16); *(__u16 *)&o[17] = rport;
			__builtin_memcpy(&o[19], &l, 16); *(__u16 *)&o[35] = lport;
		} else {
			__builtin_memcpy(&o[1], &l, 16); *(__u16 *)&o[17] = lport;
			__builtin_memcpy(&o[19], &r, 16); *(__u16 *)&o[35] = rport;
		}
		a->pos += 37;
	} else if (fam == AF_UNIX) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		o[0] = AF_UNIX;
		*(__u64 *)&o[1] = (__u64)sk;
		*(__u64 *)&o[9] = (__u64)peer;
		a->pos += 17;
		/* the path: ours if bound, else the peer's */
		struct sock *named = BPF_CORE_READ((struct unix_sock *)sk, addr) ? sk : peer;
		if (named)
			a->pos += unix_path(a, named);
		else {
			a->data[a->pos & MAX_MASK] = 0;
			a->pos += 1;
		}
	} else {
		set_len(a, 0);
		return;
	}
	set_len(a, a->pos - start);
}

/* SOCKADDR from a user sockaddr pointer */
static __always_inline void put_user_sockaddr(struct scap_aux *a, const void *uaddr, __u32 ulen)
{
	__u64 start = a->pos;
	__u16 fam = 0;

	if (!uaddr || ulen < 2 || !room(a, 128)) {
		if (!uaddr || ulen < 2)
			put_empty(a);
		return;
	}
	bpf_probe_read_user(&fam, 2, uaddr);
	__u8 *o = &a->data[a->pos & MAX_MASK];
	if (fam == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		o[0] = AF_INET;
		*(__u32 *)&o[1] = sin.sin_addr.s_addr;
		*(__u16 *)&o[5] = ntohs16(sin.sin_port);
		a->pos += 7;
	} else if (fam == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		o[0] = AF_INET6;
		__builtin_memcpy(&o[1], &sin6.sin6_addr, 16);
		*(__u16 *)&o[17] = ntohs16(sin6.sin6_port);
		a->pos += 19;
	} else if (fam == AF_UNIX) {
		const char *p = (const char *)uaddr + 2;
		char first = 0;
		o[0] = AF_UNIX;
		a->pos += 1;
		bpf_probe_read_user(&first, 1, p);
		if (first == 0)
			p++;
		long n = bpf_probe_read_user_str(&a->data[a->pos & MAX_MASK], 108, p);
		if (n <= 0) {
			a->data[a->pos & MAX_MASK] = 0;
			n = 1;
		}
		a->pos += n;
	} else {
		set_len(a, 0);
		return;
	}
	set_len(a, a->pos - start);
}

/* ------------------------------------------------------------------ */
/* Fillers: one tail-called program per syscall with a dedicated event */
/* ------------------------------------------------------------------ */

#define FILLER(name) \
	SEC("tp_btf/sys_exit") int BPF_PROG(fill_##name, struct pt_regs *regs, long ret)

#define BEGIN(type, n)                                 \
	struct scap_aux *a = aux_get();                \
	if (!a)                                        \
		return 0;                              \
	aux_begin(a, type, n);                         \
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf(); \
	(void)t;

#define END()          \
	aux_submit(a); \
	return 0;

/* The name param of an open-class exit.  The user string is read at exit; when that read
 * fails or gives "" for a call that returned an fd (the path's memory was unmapped or
 * reused by another thread of the caller while the call ran: seen live from a
 * multi-threaded spawner, whose empty names sinsp made into fd.name "/"), the name is the
 * opened file's own absolute path, walked from the fd like the cwd. */
static __always_inline void put_open_name(struct scap_aux *a, struct task_struct *t, const void *p,
					  long ret)
{
	long n = 0;
	if (!room(a, SCAP_MAX_PATH))
		return;
	if (p)
		n = bpf_probe_read_user_str(&a->data[a->pos & MAX_MASK], SCAP_MAX_PATH, p);
	if (n > 1 || ret < 0) {
		if (n < 0)
			n = 0;
		a->pos += n;
		set_len(a, n);
		return;
	}
	struct file *f = fd_file(t, ret);
	if (!f) {
		set_len(a, 0);
		return;
	}
	put_kpath(a, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

FILLER(open)
{
	BEGIN(PPME_SYSCALL_OPEN_X, 6);
	__u32 flags = arg(regs, 1);
	put_s64(a, ret);
	put_open_name(a, t, (void *)arg(regs, 0), ret);
	put_u32(a, open_flags(flags) | (ret >= 0 ? created_flag(t, ret) : 0));
	put_u32(a, open_mode(flags, arg(regs, 2)));
	put_dev_ino(a, t, ret);
	END();
}

FILLER(creat)
{
	BEGIN(PPME_SYSCALL_CREAT_X, 6);
	put_s64(a, ret);
	put_open_name(a, t, (void *)arg(regs, 0), ret);
	put_u32(a, arg(regs, 1) & 07777);
	put_dev_ino(a, t, ret);
	put_u16(a, ret >= 0 && created_flag(t, ret) ? 1 : 0);
	END();
}

FILLER(openat)
{
	BEGIN(PPME_SYSCALL_OPENAT_2_X, 7);
	__u32 flags = arg(regs, 2);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_open_name(a, t, (void *)arg(regs, 1), ret);
	put_u32(a, open_flags(flags) | (ret >= 0 ? created_flag(t, ret) : 0));
	put_u32(a, open_mode(flags, arg(regs, 3)));
	put_dev_ino(a, t, ret);
	END();
}

/* openat2's RESOLVE_* to PPM_RESOLVE_*: libs numbers them in another order
 * (BENEATH 1, IN_ROOT 2, NO_MAGICLINKS 4, NO_SYMLINKS 8, NO_XDEV 16, CACHED 32). */
static __always_inline __u32 openat2_resolve(__u64 r)
{
	__u32 f = 0;
	if (r & 0x08) f |= 1;   /* RESOLVE_BENEATH */
	if (r & 0x10) f |= 2;   /* RESOLVE_IN_ROOT */
	if (r & 0x02) f |= 4;   /* RESOLVE_NO_MAGICLINKS */
	if (r & 0x04) f |= 8;   /* RESOLVE_NO_SYMLINKS */
	if (r & 0x01) f |= 16;  /* RESOLVE_NO_XDEV */
	if (r & 0x20) f |= 32;  /* RESOLVE_CACHED */
	return f;
}

FILLER(openat2)
{
	BEGIN(PPME_SYSCALL_OPENAT2_X, 8);
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)arg(regs, 2));
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_open_name(a, t, (void *)arg(regs, 1), ret);
	put_u32(a, open_flags(how.flags) | (ret >= 0 ? created_flag(t, ret) : 0));
	put_u32(a, open_mode(how.flags, how.mode));
	put_u32(a, openat2_resolve(how.resolve));
	put_dev_ino(a, t, ret);
	END();
}

FILLER(close)
{
	BEGIN(PPME_SYSCALL_CLOSE_X, 2);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	END();
}

static __always_inline int fill_clone_common(struct scap_aux *a, struct task_struct *t, long ret, __u64 flags)
{
	struct pid *tp = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	__u32 ppm_flags = clone_flags(flags);
	if (ret == 0 && level > 0)
		ppm_flags |= 1 << 29; /* PPM_CL_CHILD_IN_PIDNS: the child lives in a child pid ns */
	put_s64(a, ret);
	put_proc_common(a, t, 1, 0);
	put_u32(a, ppm_flags);
	put_u32(a, BPF_CORE_READ(t, cred, euid.val));
	put_u32(a, BPF_CORE_READ(t, cred, egid.val));
	put_s64(a, pid_vnr(BPF_CORE_READ(t, thread_pid)));
	put_s64(a, pid_vnr(BPF_CORE_READ(t, signal, pids[PIDTYPE_TGID])));
	/* pidns_init_start_ts: boot-based start of the pid namespace's init (its child_reaper) */
	struct task_struct *init = BPF_CORE_READ(tp, numbers[level].ns, child_reaper);
	put_u64(a, init ? BPF_CORE_READ(init, start_boottime) : 0);
	aux_submit(a);
	return 0;
}

FILLER(clone)
{
	BEGIN(PPME_SYSCALL_CLONE_20_X, 21);
	return fill_clone_common(a, t, ret, arg(regs, 0));
}

FILLER(fork)
{
	BEGIN(PPME_SYSCALL_FORK_20_X, 21);
	return fill_clone_common(a, t, ret, 0);
}

FILLER(vfork)
{
	BEGIN(PPME_SYSCALL_VFORK_20_X, 21);
	return fill_clone_common(a, t, ret, 0x100 | 0x4000);
}

/* clone3's flags as the child sees them.  They live in user memory (struct clone_args);
 * with CLONE_VM that memory is the parent's, which has usually moved on by the time the
 * child returns (a new thread reads whatever the parent's stack holds now).  So in the
 * child the sharing bits are taken from what the kernel set up, and with shared memory
 * the user copy is not trusted at all; without CLONE_VM the child's memory is a snapshot
 * taken at the clone, the args in it are exact. */
#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_VFORK 0x4000
#define CLONE_THREAD 0x10000
static __always_inline __u64 child_clone_flags(struct task_struct *t, __u64 user)
{
	int thread = BPF_CORE_READ(t, pid) != BPF_CORE_READ(t, tgid);
	struct task_struct *p = thread ? BPF_CORE_READ(t, group_leader) : BPF_CORE_READ(t, real_parent);
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	__u64 f = 0;

	if (thread)
		f |= CLONE_THREAD;
	if (mm && mm == BPF_CORE_READ(p, mm))
		f |= CLONE_VM;
	if (BPF_CORE_READ(t, fs) == BPF_CORE_READ(p, fs))
		f |= CLONE_FS;
	if (BPF_CORE_READ(t, files) == BPF_CORE_READ(p, files))
		f |= CLONE_FILES;
	if (BPF_CORE_READ(t, sighand) == BPF_CORE_READ(p, sighand))
		f |= CLONE_SIGHAND;
	if (BPF_CORE_READ(t, vfork_done))
		f |= CLONE_VFORK; /* set until the vfork child execs or exits */
	if (f & CLONE_VM)
		user = 0;
	return (user & ~(__u64)(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_VFORK |
				CLONE_THREAD)) | f;
}

FILLER(clone3)
{
	BEGIN(PPME_SYSCALL_CLONE3_X, 21);
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)arg(regs, 0));
	if (ret == 0)
		flags = child_clone_flags(t, flags);
	return fill_clone_common(a, t, ret, flags);
}

/* PPM_EXE_* flags of the new image: WRITABLE (1) when the caller could write the
 * executable (owner/group/other bits against fsuid/fsgid, or CAP_DAC_OVERRIDE),
 * FROM_MEMFD (4) when it runs from a memfd ("memfd:" dentry), and for an executable on
 * overlayfs (superblock magic OVERLAYFS_SUPER_MAGIC) UPPER_LAYER (2) when the file lives
 * in the upper (container-writable) directory, i.e. its ovl_inode has an upper dentry,
 * else LOWER_LAYER (8): the image layers.  mm->exe_file keeps the overlay path, so the
 * overlay inode is f_path.dentry->d_inode (f_inode is the real, underlying inode). */
#define PPM_EXE_WRITABLE 1
#define PPM_EXE_UPPER_LAYER 2
#define PPM_EXE_FROM_MEMFD 4
#define PPM_EXE_LOWER_LAYER 8
#define CAP_DAC_OVERRIDE 1
#define OVERLAYFS_SUPER_MAGIC 0x794c7630

static __always_inline __u32 overlay_layer(struct file *exe)
{
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
	if (BPF_CORE_READ(d, d_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return 0;
	struct inode *vi = BPF_CORE_READ(d, d_inode);
	if (!vi)
		return 0;
	/* the overlay inode embeds the VFS inode: step back to the ovl_inode around it */
	struct ovl_inode *oi = (struct ovl_inode *)((char *)vi - bpf_core_field_offset(struct ovl_inode, vfs_inode));
	struct dentry *upper = BPF_CORE_READ(oi, __upperdentry);
	if (upper && BPF_CORE_READ(upper, d_inode))
		return PPM_EXE_UPPER_LAYER;
	return PPM_EXE_LOWER_LAYER;
}

static __always_inline __u32 exe_flags(struct task_struct *t, struct mm_struct *mm)
{
	struct file *exe = mm ? BPF_CORE_READ(mm, exe_file) : NULL;
	__u32 flags = 0;

	if (!exe)
		return 0;
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	__u32 mode = BPF_CORE_READ(ino, i_mode);
	__u32 iuid = BPF_CORE_READ(ino, i_uid.val), igid = BPF_CORE_READ(ino, i_gid.val);
	__u32 fsuid = BPF_CORE_READ(t, cred, fsuid.val), fsgid = BPF_CORE_READ(t, cred, fsgid.val);
	__u64 caps = BPF_CORE_READ(t, cred, cap_effective.val);
	if ((caps & (1ULL << CAP_DAC_OVERRIDE)) ||
	    (fsuid == iuid ? (mode & 0200) : fsgid == igid ? (mode & 020) : (mode & 02)))
		flags |= PPM_EXE_WRITABLE;
	char name[8] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' &&
	    name[5] == ':')
		flags |= PPM_EXE_FROM_MEMFD;
	flags |= overlay_layer(exe);
	return flags;
}

/* execve/execveat exit: res, then the common 14, then env, tty, vpgid,
 * loginuid, flags, caps x3, exe_ino, ctime, mtime, uid, trusted_exepath,
 * pgid, gid [, filename for execve]. */
static __always_inline int fill_exec_common(struct scap_aux *a, struct task_struct *t, long ret,
					    struct pt_regs *regs, int is_execveat)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct scap_exec_info *ei = bpf_map_lookup_elem(&exec_info, &tid);

	put_s64(a, ret);
	if (ret == 0) {
		put_proc_common(a, t, 1, 1);
		unsigned long env_start = BPF_CORE_READ(mm, env_start);
		unsigned long env_end = BPF_CORE_READ(mm, env_end);
		put_user_bytes(a, (void *)env_start, env_end - env_start, SCAP_MAX_ENV);
	} else {
		/* Failed exec: the old image is still there; the args did not
		 * become the process's.  Send argv[0] of the attempt as exe. */
		const char *const *argv = (const char *const *)arg(regs, is_execveat ? 2 : 1);
		const char *argv0 = NULL;
		bpf_probe_read_user(&argv0, sizeof(argv0), argv);
		put_user_str(a, argv0, SCAP_MAX_PATH);
		put_empty(a);
		put_s64(a, BPF_CORE_READ(t, pid));
		put_s64(a, BPF_CORE_READ(t, tgid));
		put_s64(a, BPF_CORE_READ(t, real_parent, pid));
		put_empty(a);
		put_s64(a, BPF_CORE_READ(t, signal, rlim[7].rlim_cur));
		put_u64(a, BPF_CORE_READ(t, maj_flt));
		put_u64(a, BPF_CORE_READ(t, min_flt));
		put_u32(a, 0);
		put_u32(a, 0);
		put_u32(a, 0);
		char comm[16];
		BPF_CORE_READ_STR_INTO(&comm, t, comm);
		put_kernel_str(a, comm, 16);
		put_cgroups(a, t);
		put_empty(a); /* env */
	}
	put_u32(a, tty_of(t));
	put_s64(a, pid_vnr(BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID])));
	put_u32(a, BPF_CORE_READ(t, loginuid.val));
	put_u32(a, exe_flags(t, mm));
	put_u64(a, BPF_CORE_READ(t, cred, cap_inheritable.val));
	put_u64(a, BPF_CORE_READ(t, cred, cap_permitted.val));
	put_u64(a, BPF_CORE_READ(t, cred, cap_effective.val));
	struct file *exe = mm ? BPF_CORE_READ(mm, exe_file) : NULL;
	struct inode *ino = exe ? BPF_CORE_READ(exe, f_inode) : NULL;
	if (ino) {
		put_u64(a, BPF_CORE_READ(ino, i_ino));
		put_u64(a, BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_ctime_nsec));
		put_u64(a, BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_mtime_nsec));
	} else {
		put_u64(a, 0);
		put_u64(a, 0);
		put_u64(a, 0);
	}
	put_u32(a, BPF_CORE_READ(t, cred, euid.val));
	if (exe && ret == 0)
		put_kpath(a, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt));
	else
		put_empty(a);
	put_s64(a, pid_global(BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID])));
	put_u32(a, BPF_CORE_READ(t, cred, egid.val));
	if (!is_execveat) {
		if (ret == 0 && ei) {
			if (room(a, SCAP_MAX_PATH)) {
				__u32 n = ei->len & (SCAP_MAX_PATH - 1);
				bpf_probe_read_kernel(&a->data[a->pos & MAX_MASK], n, ei->filename);
				a->pos += n;
				set_len(a, n);
			}
		} else {
			put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
		}
	}
	if (ei)
		bpf_map_delete_elem(&exec_info, &tid);
	aux_submit(a);
	return 0;
}

FILLER(execve)
{
	BEGIN(PPME_SYSCALL_EXECVE_19_X, 31);
	return fill_exec_common(a, t, ret, regs, 0);
}

FILLER(execveat)
{
	BEGIN(PPME_SYSCALL_EXECVEAT_X, 30);
	return fill_exec_common(a, t, ret, regs, 1);
}

/* socket(2) domain to PPM_AF_*: libs' table numbers the families like Linux up to
 * AF_NFC (39); anything newer is PPM_AF_UNSPEC, as socket_family_to_scap() does. */
static __always_inline __u32 socket_family(__u32 domain)
{
	return domain <= 39 ? domain : 0;
}

/* SOCK_NONBLOCK / SOCK_CLOEXEC of socket(2)'s type to PPM_O_NONBLOCK / PPM_O_CLOEXEC */
static __always_inline __u32 socket_flags(__u32 type)
{
	__u32 r = 0;
	if (type & 04000)
		r |= 1 << 6;
	if (type & 02000000)
		r |= 1 << 12;
	return r;
}

FILLER(socket)
{
	BEGIN(PPME_SOCKET_SOCKET_X, 5);
	__u32 type = arg(regs, 1);
	put_s64(a, ret);
	put_u32(a, socket_family(arg(regs, 0)));
	put_u32(a, type);          /* as libs: the raw type, SOCK_* flags included */
	put_u32(a, arg(regs, 2));
	put_u32(a, socket_flags(type));
	END();
}

FILLER(bind)
{
	BEGIN(PPME_SOCKET_BIND_X, 3);
	put_s64(a, ret);
	put_user_sockaddr(a, (void *)arg(regs, 1), arg(regs, 2));
	put_s64(a, (int)arg(regs, 0));
	END();
}

FILLER(connect)
{
	BEGIN(PPME_SOCKET_CONNECT_X, 4);
	long fd = (int)arg(regs, 0);
	put_s64(a, ret);
	/* A tuple only once connected (or in progress); else empty like libs. */
	if (ret == 0 || ret == -115 /* EINPROGRESS */)
		put_tuple(a, t, fd, 0);
	else
		put_empty(a);
	put_s64(a, fd);
	put_user_sockaddr(a, (void *)arg(regs, 1), arg(regs, 2));
	END();
}

FILLER(listen)
{
	BEGIN(PPME_SOCKET_LISTEN_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 1));
	END();
}

static __always_inline void put_accept_common(struct scap_aux *a, struct task_struct *t, long ret, long lfd)
{
	put_s64(a, ret);
	if (ret >= 0)
		put_tuple(a, t, ret, 1);
	else
		put_empty(a);
	__u32 qlen = 0, qmax = 0;
	struct sock *lsk = fd_sock(t, lfd);
	if (lsk) {
		qlen = BPF_CORE_READ(lsk, sk_ack_backlog);
		qmax = BPF_CORE_READ(lsk, sk_max_ack_backlog);
	}
	put_u8(a, qmax ? (qlen * 100) / qmax : 0);
	put_u32(a, qlen);
	put_u32(a, qmax);
}

FILLER(accept)
{
	BEGIN(PPME_SOCKET_ACCEPT_5_X, 5);
	put_accept_common(a, t, ret, (int)arg(regs, 0));
	END();
}

FILLER(accept4)
{
	BEGIN(PPME_SOCKET_ACCEPT4_6_X, 6);
	put_accept_common(a, t, ret, (int)arg(regs, 0));
	put_u32(a, arg(regs, 3));
	END();
}

/* I/O data kept: the syscall's result, cut to the configured snaplen (sysdig's default 80) */
#define MAX_SNAPLEN 256
static __always_inline __u64 io_len(long ret)
{
	struct scap_config *cfg = cfg_get();
	__u64 snap = cfg ? cfg->snaplen : SCAP_SNAPLEN;
	if (ret <= 0)
		return 0;
	if (snap > MAX_SNAPLEN)
		snap = MAX_SNAPLEN;
	return (__u64)ret < snap ? (__u64)ret : snap;
}

FILLER(sendto)
{
	BEGIN(PPME_SOCKET_SENDTO_X, 5);
	long fd = (int)arg(regs, 0);
	__u64 size = arg(regs, 2);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_s64(a, fd);
	put_u32(a, size);
	put_tuple_addr(a, t, fd, 0, (void *)arg(regs, 4));
	END();
}

FILLER(recvfrom)
{
	BEGIN(PPME_SOCKET_RECVFROM_X, 5);
	long fd = (int)arg(regs, 0);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_tuple_addr(a, t, fd, 1, ret >= 0 ? (void *)arg(regs, 4) : NULL);
	put_s64(a, fd);
	put_u32(a, arg(regs, 2));
	END();
}

FILLER(dup)
{
	BEGIN(PPME_SYSCALL_DUP_1_X, 2);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	END();
}

FILLER(dup2)
{
	BEGIN(PPME_SYSCALL_DUP2_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_s64(a, (int)arg(regs, 1));
	END();
}

FILLER(dup3)
{
	BEGIN(PPME_SYSCALL_DUP3_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_s64(a, (int)arg(regs, 1));
	put_u32(a, arg(regs, 2) & 02000000 ? (1 << 12) : 0); /* O_CLOEXEC -> PPM_O_CLOEXEC */
	END();
}

static __always_inline void put_pipe_common(struct scap_aux *a, struct task_struct *t, long ret, void *ufds)
{
	int fds[2] = {-1, -1};
	bpf_probe_read_user(fds, sizeof(fds), ufds);
	put_s64(a, ret);
	put_s64(a, fds[0]);
	put_s64(a, fds[1]);
	struct file *f = ret == 0 ? fd_file(t, fds[0]) : NULL;
	put_u64(a, f ? BPF_CORE_READ(f, f_inode, i_ino) : 0);
}

FILLER(pipe)
{
	BEGIN(PPME_SYSCALL_PIPE_X, 4);
	put_pipe_common(a, t, ret, (void *)arg(regs, 0));
	END();
}

FILLER(pipe2)
{
	BEGIN(PPME_SYSCALL_PIPE2_X, 5);
	put_pipe_common(a, t, ret, (void *)arg(regs, 0));
	put_u32(a, open_flags(arg(regs, 1)) & ~3U);
	END();
}

FILLER(rename)
{
	BEGIN(PPME_SYSCALL_RENAME_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	END();
}

FILLER(renameat)
{
	BEGIN(PPME_SYSCALL_RENAMEAT_X, 5);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_s64(a, (int)arg(regs, 2));
	put_user_str(a, (void *)arg(regs, 3), SCAP_MAX_PATH);
	END();
}

FILLER(renameat2)
{
	BEGIN(PPME_SYSCALL_RENAMEAT2_X, 6);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_s64(a, (int)arg(regs, 2));
	put_user_str(a, (void *)arg(regs, 3), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 4) & 7); /* RENAME_* = PPM_RENAME_* (1, 2, 4) */
	END();
}

FILLER(unlink)
{
	BEGIN(PPME_SYSCALL_UNLINK_2_X, 2);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	END();
}

FILLER(unlinkat)
{
	BEGIN(PPME_SYSCALL_UNLINKAT_2_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 2) & 0x200 ? 1 : 0); /* AT_REMOVEDIR -> PPM_AT_REMOVEDIR */
	END();
}

FILLER(mkdir)
{
	BEGIN(PPME_SYSCALL_MKDIR_2_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 1));
	END();
}

FILLER(mkdirat)
{
	BEGIN(PPME_SYSCALL_MKDIRAT_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 2));
	END();
}

FILLER(rmdir)
{
	BEGIN(PPME_SYSCALL_RMDIR_2_X, 2);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	END();
}

FILLER(link)
{
	BEGIN(PPME_SYSCALL_LINK_2_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	END();
}

FILLER(linkat)
{
	BEGIN(PPME_SYSCALL_LINKAT_2_X, 6);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_s64(a, (int)arg(regs, 2));
	put_user_str(a, (void *)arg(regs, 3), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 4) & 0x1400); /* AT_SYMLINK_FOLLOW, AT_EMPTY_PATH: PPM_LINKAT_* */
	END();
}

FILLER(symlink)
{
	BEGIN(PPME_SYSCALL_SYMLINK_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	END();
}

FILLER(symlinkat)
{
	BEGIN(PPME_SYSCALL_SYMLINKAT_X, 4);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_s64(a, (int)arg(regs, 1));
	put_user_str(a, (void *)arg(regs, 2), SCAP_MAX_PATH);
	END();
}

FILLER(chmod)
{
	BEGIN(PPME_SYSCALL_CHMOD_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 1) & 07777);
	END();
}

FILLER(fchmod)
{
	BEGIN(PPME_SYSCALL_FCHMOD_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 1) & 07777);
	END();
}

FILLER(fchmodat)
{
	BEGIN(PPME_SYSCALL_FCHMODAT_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 2) & 07777);
	END();
}

#define FILL_ID1(name, type)                   \
	FILLER(name)                           \
	{                                      \
		BEGIN(type, 2);                \
		put_s64(a, ret);               \
		put_u32(a, arg(regs, 0));      \
		END();                         \
	}
FILL_ID1(setuid, PPME_SYSCALL_SETUID_X)
FILL_ID1(setgid, PPME_SYSCALL_SETGID_X)

#define FILL_ID2(name, type)                   \
	FILLER(name)                           \
	{                                      \
		BEGIN(type, 3);                \
		put_s64(a, ret);               \
		put_u32(a, arg(regs, 0));      \
		put_u32(a, arg(regs, 1));      \
		END();                         \
	}
FILL_ID2(setreuid, PPME_SYSCALL_SETREUID_X)
FILL_ID2(setregid, PPME_SYSCALL_SETREGID_X)

#define FILL_ID3(name, type)                   \
	FILLER(name)                           \
	{                                      \
		BEGIN(type, 4);                \
		put_s64(a, ret);               \
		put_u32(a, arg(regs, 0));      \
		put_u32(a, arg(regs, 1));      \
		put_u32(a, arg(regs, 2));      \
		END();                         \
	}
FILL_ID3(setresuid, PPME_SYSCALL_SETRESUID_X)
FILL_ID3(setresgid, PPME_SYSCALL_SETRESGID_X)

FILLER(memfd_create)
{
	BEGIN(PPME_SYSCALL_MEMFD_CREATE_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 1) & 7); /* MFD_CLOEXEC/ALLOW_SEALING/HUGETLB = PPM_MFD_* */
	END();
}

FILLER(chdir)
{
	BEGIN(PPME_SYSCALL_CHDIR_X, 2);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	END();
}

FILLER(fchdir)
{
	BEGIN(PPME_SYSCALL_FCHDIR_X, 2);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	END();
}

FILLER(chroot)
{
	BEGIN(PPME_SYSCALL_CHROOT_X, 2);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	END();
}

FILLER(mount)
{
	BEGIN(PPME_SYSCALL_MOUNT_X, 5);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_user_str(a, (void *)arg(regs, 2), SCAP_MAX_PATH);
	__u32 mflags = arg(regs, 3);
	if ((mflags & 0xffff0000) == 0xc0ed0000) /* MS_MGC_VAL: the old magic, not flags */
		mflags &= 0xffff;
	put_u32(a, mflags);
	END();
}

/* umount2 flags to PPM_MNT_*: FORCE 1, DETACH 2, EXPIRE 4, UMOUNT_NOFOLLOW 8 (the Linux
 * bits have the same values; anything else is not a PPM flag and is dropped) */
static __always_inline __u32 umount_flags(__u32 f)
{
	__u32 r = 0;
	if (f & 1) r |= 1;   /* MNT_FORCE */
	if (f & 2) r |= 2;   /* MNT_DETACH */
	if (f & 4) r |= 4;   /* MNT_EXPIRE */
	if (f & 8) r |= 8;   /* UMOUNT_NOFOLLOW */
	return r;
}

FILLER(umount2)
{
	BEGIN(PPME_SYSCALL_UMOUNT2_X, 3);
	put_s64(a, ret);
	put_user_str(a, (void *)arg(regs, 0), SCAP_MAX_PATH);
	put_u32(a, umount_flags(arg(regs, 1)));
	END();
}

FILLER(kill)
{
	BEGIN(PPME_SYSCALL_KILL_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u8(a, arg(regs, 1));
	END();
}

FILLER(unshare)
{
	BEGIN(PPME_SYSCALL_UNSHARE_X, 2);
	put_s64(a, ret);
	put_u32(a, clone_flags(arg(regs, 0)));
	END();
}

FILLER(setns)
{
	BEGIN(PPME_SYSCALL_SETNS_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, clone_flags(arg(regs, 1)));
	END();
}

/* Linux PTRACE_* request to PPM_PTRACE_* (ENUMFLAGS16) */
static __always_inline __u16 ptrace_request(long r)
{
	if (r >= 0 && r <= 9)
		return r + 1;               /* TRACEME..SINGLESTEP */
	switch (r) {
	case 12: return 26;             /* GETREGS */
	case 13: return 27;             /* SETREGS */
	case 14: return 28;             /* GETFPREGS */
	case 15: return 29;             /* SETFPREGS */
	case 16: return 11;             /* ATTACH */
	case 17: return 12;             /* DETACH */
	case 18: return 30;             /* GETFPXREGS */
	case 19: return 31;             /* SETFPXREGS */
	case 21: return 32;             /* OLDSETOPTIONS */
	case 24: return 13;             /* SYSCALL */
	case 25: return 33;             /* GET_THREAD_AREA */
	case 26: return 34;             /* SET_THREAD_AREA */
	case 30: return 35;             /* ARCH_PRCTL */
	case 31: return 36;             /* SYSEMU */
	case 32: return 37;             /* SYSEMU_SINGLESTEP */
	case 33: return 38;             /* SINGLEBLOCK */
	}
	if (r >= 0x4200 && r <= 0x420b)
		return 14 + (r - 0x4200);   /* SETOPTIONS..SETSIGMASK */
	return 0;
}

/* DYN param: u8 index into ptrace_dynamic_param (0: UINT64, 1: SIGTYPE), then the value */
static __always_inline void put_dyn_u64(struct scap_aux *a, __u64 v)
{
	if (!room(a, 9))
		return;
	a->data[a->pos & MAX_MASK] = 0;
	*(__u64 *)&a->data[(a->pos + 1) & MAX_MASK] = v;
	a->pos += 9;
	set_len(a, 9);
}

static __always_inline void put_dyn_sig(struct scap_aux *a, __u8 sig)
{
	if (!room(a, 2))
		return;
	a->data[a->pos & MAX_MASK] = 1;
	a->data[(a->pos + 1) & MAX_MASK] = sig;
	a->pos += 2;
	set_len(a, 2);
}

FILLER(ptrace)
{
	BEGIN(PPME_SYSCALL_PTRACE_X, 5);
	long req = arg(regs, 0);
	__u16 ppm = ptrace_request(req);
	put_s64(a, ret);
	put_dyn_u64(a, arg(regs, 2));                        /* addr */
	if (ppm == 8 || ppm == 10 || ppm == 12 || ppm == 13) /* CONT, SINGLESTEP, DETACH, SYSCALL */
		put_dyn_sig(a, arg(regs, 3));                /* data: the signal to deliver */
	else
		put_dyn_u64(a, arg(regs, 3));                /* data */
	put_u16(a, ppm);
	put_s64(a, (int)arg(regs, 1));                       /* pid */
	END();
}

FILLER(bpf)
{
	BEGIN(PPME_SYSCALL_BPF_2_X, 2);
	put_s64(a, ret);                  /* fd (or -errno) */
	put_u32(a, (__s32)arg(regs, 0));  /* cmd: INT32 */
	END();
}

FILLER(init_module)
{
	BEGIN(PPME_SYSCALL_INIT_MODULE_X, 4);
	__u64 len = arg(regs, 1);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 0), len, 128); /* img: the head, like I/O data */
	put_u64(a, len);
	put_user_str(a, (void *)arg(regs, 2), SCAP_MAX_PATH);
	END();
}

FILLER(finit_module)
{
	BEGIN(PPME_SYSCALL_FINIT_MODULE_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_user_str(a, (void *)arg(regs, 1), SCAP_MAX_PATH);
	put_u32(a, arg(regs, 2) & 7); /* MODULE_INIT_* bits = PPM_MODULE_INIT_* */
	END();
}

/* prctl(2) option to PPM_PR_*: libs' prctl_options names the options it knows with
 * the Linux numbers; any other option is 0 (unknown). */
static __always_inline __u32 prctl_option(long o)
{
	switch (o) {
	case 3: case 4: case 7: case 8: case 15: case 16: case 21: case 22: case 23: case 24:
	case 27: case 28: case 33: case 35: case 36: case 37: case 38: case 39: case 40: case 41:
	case 42: case 47:
		return o;
	}
	return 0;
}
#define PPM_PR_SET_NAME 15
#define PPM_PR_GET_NAME 16
#define PPM_PR_GET_CHILD_SUBREAPER 37

FILLER(prctl)
{
	BEGIN(PPME_SYSCALL_PRCTL_X, 4);
	__u32 option = prctl_option(arg(regs, 0));
	unsigned long arg2 = arg(regs, 1);
	put_s64(a, ret);
	put_u32(a, option);
	if (option == PPM_PR_SET_NAME || option == PPM_PR_GET_NAME) {
		/* at exit: SET_NAME's name as the kernel took it, GET_NAME's answer */
		put_user_str(a, (void *)arg2, 16);
		put_s64(a, 0);
	} else if (option == PPM_PR_GET_CHILD_SUBREAPER) {
		int v = 0;
		put_empty(a);
		bpf_probe_read_user(&v, sizeof(v), (void *)arg2);
		put_s64(a, v);
	} else {
		put_empty(a);
		put_s64(a, arg2);
	}
	END();
}

/* ---- schema 3: fd-creating and state syscalls, I/O (libs' exit layouts) ---- */

/* Only NONBLOCK/CLOEXEC of eventfd2/signalfd4/inotify_init1/userfaultfd flags (their
 * kernel values are O_NONBLOCK/O_CLOEXEC), as PPM_O_* like libs; other bits dropped. */
static __always_inline __u32 nb_cloexec(__u32 f)
{
	return open_flags(f & (04000 | 02000000)) & ((1 << 6) | (1 << 12));
}

#define FILL_FD_FLAGS16(name, type)                    \
	FILLER(name)                                   \
	{                                              \
		BEGIN(type, 2);                        \
		put_s64(a, ret);                       \
		put_u16(a, nb_cloexec(arg(regs, 0)));  \
		END();                                 \
	}
FILL_FD_FLAGS16(inotify_init1, PPME_SYSCALL_INOTIFY_INIT1_X)

FILLER(inotify_init)
{
	BEGIN(PPME_SYSCALL_INOTIFY_INIT_X, 2);
	put_s64(a, ret);
	put_u8(a, 0);
	END();
}

FILLER(userfaultfd)
{
	BEGIN(PPME_SYSCALL_USERFAULTFD_X, 2);
	put_s64(a, ret);
	put_u32(a, nb_cloexec(arg(regs, 0)));
	END();
}

FILLER(eventfd)
{
	BEGIN(PPME_SYSCALL_EVENTFD_X, 3);
	put_s64(a, ret);
	put_u64(a, (__u32)arg(regs, 0));
	put_u32(a, 0); /* eventfd(2) has no flags */
	END();
}

FILLER(eventfd2)
{
	BEGIN(PPME_SYSCALL_EVENTFD2_X, 3);
	put_s64(a, ret);
	put_u16(a, nb_cloexec(arg(regs, 1)));
	put_u64(a, (__u32)arg(regs, 0));
	END();
}

/* signalfd's mask param: the first word of the user's sigset */
static __always_inline __u32 user_sigmask(const void *p)
{
	__u32 m = 0;
	if (p)
		bpf_probe_read_user(&m, sizeof(m), p);
	return m;
}

FILLER(signalfd)
{
	BEGIN(PPME_SYSCALL_SIGNALFD_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, user_sigmask((void *)arg(regs, 1)));
	put_u8(a, 0);
	END();
}

FILLER(signalfd4)
{
	BEGIN(PPME_SYSCALL_SIGNALFD4_X, 4);
	put_s64(a, ret);
	put_u16(a, nb_cloexec(arg(regs, 3)));
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, user_sigmask((void *)arg(regs, 1)));
	END();
}

FILLER(timerfd_create)
{
	BEGIN(PPME_SYSCALL_TIMERFD_CREATE_X, 3);
	put_s64(a, ret);
	put_u8(a, arg(regs, 0));
	put_u8(a, 0); /* libs sends no flags here */
	END();
}

FILLER(epoll_create)
{
	BEGIN(PPME_SYSCALL_EPOLL_CREATE_X, 2);
	put_s64(a, ret);
	put_u32(a, (__s32)arg(regs, 0));
	END();
}

FILLER(epoll_create1)
{
	BEGIN(PPME_SYSCALL_EPOLL_CREATE1_X, 2);
	put_s64(a, ret);
	put_u32(a, arg(regs, 0) & 02000000 ? 1 : 0); /* EPOLL_CLOEXEC -> PPM_EPOLL_CLOEXEC */
	END();
}

FILLER(pidfd_open)
{
	BEGIN(PPME_SYSCALL_PIDFD_OPEN_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 1) & 04000 ? 1 : 0); /* PIDFD_NONBLOCK (= O_NONBLOCK) -> PPM 1 */
	END();
}

FILLER(pidfd_getfd)
{
	BEGIN(PPME_SYSCALL_PIDFD_GETFD_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_s64(a, (int)arg(regs, 1));
	put_u32(a, arg(regs, 2));
	END();
}

/* io_uring_setup's IORING_SETUP_* to libs' PPM bits (libs has an extra SQ_NEED_WAKEUP at 4,
 * so the kernel's bits from SQ_AFF up move one place left); IORING_FEAT_* are the same. */
static __always_inline __u32 io_uring_flags(__u32 f)
{
	return (f & 3) | ((f & 0x7c) << 1);
}

FILLER(io_uring_setup)
{
	BEGIN(PPME_SYSCALL_IO_URING_SETUP_X, 8);
	struct io_uring_params p = {};
	bpf_probe_read_user(&p, sizeof(p), (void *)arg(regs, 1));
	put_s64(a, ret);
	put_u32(a, arg(regs, 0));
	put_u32(a, p.sq_entries);
	put_u32(a, p.cq_entries);
	put_u32(a, io_uring_flags(p.flags));
	put_u32(a, p.sq_thread_cpu);
	put_u32(a, p.sq_thread_idle);
	put_u32(a, p.features & 0x7ff);
	END();
}

FILLER(close_range)
{
	BEGIN(PPME_SYSCALL_CLOSE_RANGE_X, 4);
	put_s64(a, ret);
	put_u32(a, arg(regs, 0));
	put_u32(a, arg(regs, 1));
	put_u32(a, arg(regs, 2)); /* CLOSE_RANGE_* as the kernel has them (the parser's view) */
	END();
}

FILLER(setsid)
{
	BEGIN(PPME_SYSCALL_SETSID_X, 1);
	put_s64(a, ret);
	END();
}

FILLER(setpgid)
{
	BEGIN(PPME_SYSCALL_SETPGID_X, 3);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_s64(a, (int)arg(regs, 1));
	END();
}

FILLER(capset)
{
	BEGIN(PPME_SYSCALL_CAPSET_X, 4);
	put_s64(a, ret);
	/* the caller's sets after the call, as execve reports them */
	put_u64(a, BPF_CORE_READ(t, cred, cap_inheritable.val));
	put_u64(a, BPF_CORE_READ(t, cred, cap_permitted.val));
	put_u64(a, BPF_CORE_READ(t, cred, cap_effective.val));
	END();
}

FILLER(socketpair)
{
	BEGIN(PPME_SOCKET_SOCKETPAIR_X, 8);
	int fds[2] = {-1, -1};
	__u64 src = 0, peer = 0;
	if (ret == 0) {
		bpf_probe_read_user(fds, sizeof(fds), (void *)arg(regs, 3));
		struct sock *sk = fd_sock(t, fds[0]);
		if (sk) {
			src = (__u64)sk;
			if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX)
				peer = (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer);
		}
	}
	put_s64(a, ret);
	put_s64(a, fds[0]);
	put_s64(a, fds[1]);
	put_u64(a, src);
	put_u64(a, peer);
	put_u32(a, socket_family(arg(regs, 0)));
	put_u32(a, arg(regs, 1));
	put_u32(a, arg(regs, 2));
	END();
}

/* fcntl(2) cmd to PPM_FCNTL_* (x86_64: F_GETLK64.. are F_GETLK..; 0 = unknown) */
static __always_inline __u8 fcntl_cmd(__u32 c)
{
	switch (c) {
	case 0: return 1;      /* F_DUPFD */
	case 1: return 2;      /* F_GETFD */
	case 2: return 3;      /* F_SETFD */
	case 3: return 4;      /* F_GETFL */
	case 4: return 5;      /* F_SETFL */
	case 5: return 6;      /* F_GETLK */
	case 6: return 8;      /* F_SETLK */
	case 7: return 9;      /* F_SETLKW */
	case 8: return 10;     /* F_SETOWN */
	case 9: return 12;     /* F_GETOWN */
	case 10: return 13;    /* F_SETSIG */
	case 11: return 15;    /* F_GETSIG */
	case 15: return 21;    /* F_SETOWN_EX */
	case 16: return 22;    /* F_GETOWN_EX */
	case 36: return 30;    /* F_OFD_GETLK */
	case 37: return 31;    /* F_OFD_SETLK */
	case 38: return 32;    /* F_OFD_SETLKW */
	case 1024: return 23;  /* F_SETLEASE */
	case 1025: return 24;  /* F_GETLEASE */
	case 1026: return 27;  /* F_NOTIFY */
	case 1029: return 25;  /* F_CANCELLK */
	case 1030: return 26;  /* F_DUPFD_CLOEXEC */
	case 1031: return 28;  /* F_SETPIPE_SZ */
	case 1032: return 29;  /* F_GETPIPE_SZ */
	}
	return 0;
}

FILLER(fcntl)
{
	BEGIN(PPME_SYSCALL_FCNTL_X, 4);
	put_s64(a, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u8(a, fcntl_cmd(arg(regs, 1)));
	put_u64(a, arg(regs, 2));
	END();
}

/* -- I/O: data is the syscall's bytes cut to the snaplen (write side: what was written,
 * read side: what was read), from the first iovec for the vector calls -- */

FILLER(read)
{
	BEGIN(PPME_SYSCALL_READ_X, 4);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 2));
	END();
}

FILLER(write)
{
	BEGIN(PPME_SYSCALL_WRITE_X, 4);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 2));
	END();
}

FILLER(pread64)
{
	BEGIN(PPME_SYSCALL_PREAD_X, 5);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 2));
	put_u64(a, arg(regs, 3));
	END();
}

FILLER(pwrite64)
{
	BEGIN(PPME_SYSCALL_PWRITE_X, 5);
	put_s64(a, ret);
	put_user_bytes(a, (void *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, arg(regs, 2));
	put_u64(a, arg(regs, 3));
	END();
}

/* An iovec array: total length (first MAX_IOV entries) and the first entry. */
#define MAX_IOV 16
struct iov_sum {
	__u64 total;
	const void *base0;
	__u64 len0;
};

static __always_inline struct iov_sum iov_read(const struct iovec *iov, __u64 cnt)
{
	struct iov_sum s = {};
	for (int i = 0; i < MAX_IOV; i++) {
		struct iovec v = {};
		if (i >= cnt)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		if (i == 0) {
			s.base0 = v.iov_base;
			s.len0 = v.iov_len;
		}
		s.total += v.iov_len;
	}
	return s;
}

static __always_inline void put_iov_data(struct scap_aux *a, struct iov_sum *s, long ret)
{
	__u64 n = io_len(ret);
	if (n > s->len0)
		n = s->len0;
	put_user_bytes(a, s->base0, n, MAX_SNAPLEN);
}

FILLER(readv)
{
	BEGIN(PPME_SYSCALL_READV_X, 4);
	struct iov_sum s = iov_read((void *)arg(regs, 1), arg(regs, 2));
	put_s64(a, ret);
	put_u32(a, s.total);
	put_iov_data(a, &s, ret);
	put_s64(a, (int)arg(regs, 0));
	END();
}

FILLER(writev)
{
	BEGIN(PPME_SYSCALL_WRITEV_X, 4);
	struct iov_sum s = iov_read((void *)arg(regs, 1), arg(regs, 2));
	put_s64(a, ret);
	put_iov_data(a, &s, ret);
	put_s64(a, (int)arg(regs, 0));
	put_u32(a, s.total);
	END();
}

FILLER(sendmsg)
{
	BEGIN(PPME_SOCKET_SENDMSG_X, 5);
	long fd = (int)arg(regs, 0);
	struct user_msghdr m = {};
	bpf_probe_read_user(&m, sizeof(m), (void *)arg(regs, 1));
	struct iov_sum s = iov_read(m.msg_iov, m.msg_iovlen);
	put_s64(a, ret);
	put_iov_data(a, &s, ret);
	put_s64(a, fd);
	put_u32(a, s.total);
	put_tuple_addr(a, t, fd, 0, m.msg_name);
	END();
}

/* A whole SCM_RIGHTS message of SCM_MAX_FD (253) fds is 16 + 253 * 4 = 1028 bytes: the cap
 * keeps that and a credentials message next to it (a power of two, for put_user_bytes). */
#define MAX_MSG_CONTROL 2048

FILLER(recvmsg)
{
	BEGIN(PPME_SOCKET_RECVMSG_X, 6);
	long fd = (int)arg(regs, 0);
	struct user_msghdr m = {};
	bpf_probe_read_user(&m, sizeof(m), (void *)arg(regs, 1));
	struct iov_sum s = iov_read(m.msg_iov, m.msg_iovlen);
	put_s64(a, ret);
	put_u32(a, s.total);
	put_iov_data(a, &s, ret);
	put_tuple_addr(a, t, fd, 1, ret >= 0 ? m.msg_name : NULL);
	/* msgcontrol: the ancillary data the call received (SCM_RIGHTS fds, credentials), as
	 * libs' modern probe sends it: read at exit, where the kernel has set msg_controllen
	 * to the bytes it wrote; empty unless data arrived (ret > 0) into a control buffer */
	if (ret > 0 && m.msg_control)
		put_user_bytes(a, m.msg_control, m.msg_controllen, MAX_MSG_CONTROL);
	else
		put_empty(a);
	put_s64(a, fd);
	END();
}

/* sendmmsg/recvmmsg: one record per message the call moved (at most MAX_MMSG), as libs:
 * res = that message's msg_len, its size (iovec total), data (first iovec, snaplen) and
 * tuple (the message's msg_name for an unconnected socket); a failed call gives one record
 * with the error and empty size/data/tuple. */
#define MAX_MMSG 16
struct mmsg_ctx {
	struct mmsghdr *vec;
	long fd;
	long n;
	__u32 send;
};

static __always_inline void mmsg_record(struct mmsg_ctx *c, long res, struct mmsghdr *mh)
{
	struct scap_aux *a = aux_get();
	if (!a)
		return;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	aux_begin(a, c->send ? PPME_SOCKET_SENDMMSG_X : PPME_SOCKET_RECVMMSG_X, c->send ? 5 : 6);
	put_s64(a, res);
	put_s64(a, c->fd);
	if (mh) {
		struct iov_sum s = iov_read(mh->msg_hdr.msg_iov, mh->msg_hdr.msg_iovlen);
		put_u32(a, s.total);
		put_iov_data(a, &s, res);
		put_tuple_addr(a, t, c->fd, !c->send, mh->msg_hdr.msg_name);
	} else {
		put_empty(a);
		put_empty(a);
		put_empty(a);
	}
	if (!c->send)
		put_empty(a); /* msgcontrol */
	aux_submit(a);
}

static long mmsg_step(__u32 i, void *vctx)
{
	struct mmsg_ctx *c = vctx;
	struct mmsghdr mh = {};

	if (i >= c->n || i >= MAX_MMSG)
		return 1;
	if (bpf_probe_read_user(&mh, sizeof(mh), &c->vec[i & (MAX_MMSG - 1)]))
		return 1;
	mmsg_record(c, mh.msg_len, &mh);
	return 0;
}

static __always_inline int fill_mmsg(struct pt_regs *regs, long ret, __u32 send)
{
	struct mmsg_ctx c = {.vec = (struct mmsghdr *)arg(regs, 1), .fd = (int)arg(regs, 0),
			     .n = ret, .send = send};
	if (ret < 0) {
		mmsg_record(&c, ret, NULL);
		return 0;
	}
	bpf_loop(MAX_MMSG, mmsg_step, &c, 0);
	return 0;
}

FILLER(sendmmsg)
{
	return fill_mmsg(regs, ret, 1);
}

FILLER(recvmmsg)
{
	return fill_mmsg(regs, ret, 0);
}

/* Tail-call table: native syscall number -> filler. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SCAP_MAX_SYSCALLS);
	__type(key, __u32);
	__array(values, int(void *));
} fillers SEC(".maps") = {
	.values = {
		[SCAP_NR_open] = (void *)&fill_open,
		[SCAP_NR_creat] = (void *)&fill_creat,
		[SCAP_NR_openat] = (void *)&fill_openat,
		[SCAP_NR_openat2] = (void *)&fill_openat2,
		[SCAP_NR_close] = (void *)&fill_close,
		[SCAP_NR_clone] = (void *)&fill_clone,
		[SCAP_NR_fork] = (void *)&fill_fork,
		[SCAP_NR_vfork] = (void *)&fill_vfork,
		[SCAP_NR_clone3] = (void *)&fill_clone3,
		[SCAP_NR_execve] = (void *)&fill_execve,
		[SCAP_NR_execveat] = (void *)&fill_execveat,
		[SCAP_NR_socket] = (void *)&fill_socket,
		[SCAP_NR_bind] = (void *)&fill_bind,
		[SCAP_NR_connect] = (void *)&fill_connect,
		[SCAP_NR_listen] = (void *)&fill_listen,
		[SCAP_NR_accept] = (void *)&fill_accept,
		[SCAP_NR_accept4] = (void *)&fill_accept4,
		[SCAP_NR_sendto] = (void *)&fill_sendto,
		[SCAP_NR_recvfrom] = (void *)&fill_recvfrom,
		[SCAP_NR_dup] = (void *)&fill_dup,
		[SCAP_NR_dup2] = (void *)&fill_dup2,
		[SCAP_NR_dup3] = (void *)&fill_dup3,
		[SCAP_NR_pipe] = (void *)&fill_pipe,
		[SCAP_NR_pipe2] = (void *)&fill_pipe2,
		[SCAP_NR_rename] = (void *)&fill_rename,
		[SCAP_NR_renameat] = (void *)&fill_renameat,
		[SCAP_NR_renameat2] = (void *)&fill_renameat2,
		[SCAP_NR_unlink] = (void *)&fill_unlink,
		[SCAP_NR_unlinkat] = (void *)&fill_unlinkat,
		[SCAP_NR_mkdir] = (void *)&fill_mkdir,
		[SCAP_NR_mkdirat] = (void *)&fill_mkdirat,
		[SCAP_NR_rmdir] = (void *)&fill_rmdir,
		[SCAP_NR_link] = (void *)&fill_link,
		[SCAP_NR_linkat] = (void *)&fill_linkat,
		[SCAP_NR_symlink] = (void *)&fill_symlink,
		[SCAP_NR_symlinkat] = (void *)&fill_symlinkat,
		[SCAP_NR_chmod] = (void *)&fill_chmod,
		[SCAP_NR_fchmod] = (void *)&fill_fchmod,
		[SCAP_NR_fchmodat] = (void *)&fill_fchmodat,
		[SCAP_NR_setuid] = (void *)&fill_setuid,
		[SCAP_NR_setgid] = (void *)&fill_setgid,
		[SCAP_NR_setreuid] = (void *)&fill_setreuid,
		[SCAP_NR_setregid] = (void *)&fill_setregid,
		[SCAP_NR_setresuid] = (void *)&fill_setresuid,
		[SCAP_NR_setresgid] = (void *)&fill_setresgid,
		[SCAP_NR_memfd_create] = (void *)&fill_memfd_create,
		[SCAP_NR_chdir] = (void *)&fill_chdir,
		[SCAP_NR_fchdir] = (void *)&fill_fchdir,
		[SCAP_NR_chroot] = (void *)&fill_chroot,
		[SCAP_NR_mount] = (void *)&fill_mount,
		[SCAP_NR_umount2] = (void *)&fill_umount2,
		[SCAP_NR_kill] = (void *)&fill_kill,
		[SCAP_NR_unshare] = (void *)&fill_unshare,
		[SCAP_NR_setns] = (void *)&fill_setns,
		[SCAP_NR_bpf] = (void *)&fill_bpf,
		[SCAP_NR_ptrace] = (void *)&fill_ptrace,
		[SCAP_NR_init_module] = (void *)&fill_init_module,
		[SCAP_NR_finit_module] = (void *)&fill_finit_module,
		[SCAP_NR_prctl] = (void *)&fill_prctl,
		[SCAP_NR_sendmmsg] = (void *)&fill_sendmmsg,
		[SCAP_NR_recvmmsg] = (void *)&fill_recvmmsg,
		[SCAP_NR_read] = (void *)&fill_read,
		[SCAP_NR_write] = (void *)&fill_write,
		[SCAP_NR_pread64] = (void *)&fill_pread64,
		[SCAP_NR_pwrite64] = (void *)&fill_pwrite64,
		[SCAP_NR_readv] = (void *)&fill_readv,
		[SCAP_NR_writev] = (void *)&fill_writev,
		[SCAP_NR_sendmsg] = (void *)&fill_sendmsg,
		[SCAP_NR_recvmsg] = (void *)&fill_recvmsg,
		[SCAP_NR_socketpair] = (void *)&fill_socketpair,
		[SCAP_NR_fcntl] = (void *)&fill_fcntl,
		[SCAP_NR_setpgid] = (void *)&fill_setpgid,
		[SCAP_NR_setsid] = (void *)&fill_setsid,
		[SCAP_NR_capset] = (void *)&fill_capset,
		[SCAP_NR_epoll_create] = (void *)&fill_epoll_create,
		[SCAP_NR_inotify_init] = (void *)&fill_inotify_init,
		[SCAP_NR_signalfd] = (void *)&fill_signalfd,
		[SCAP_NR_timerfd_create] = (void *)&fill_timerfd_create,
		[SCAP_NR_eventfd] = (void *)&fill_eventfd,
		[SCAP_NR_signalfd4] = (void *)&fill_signalfd4,
		[SCAP_NR_eventfd2] = (void *)&fill_eventfd2,
		[SCAP_NR_epoll_create1] = (void *)&fill_epoll_create1,
		[SCAP_NR_inotify_init1] = (void *)&fill_inotify_init1,
		[SCAP_NR_userfaultfd] = (void *)&fill_userfaultfd,
		[SCAP_NR_io_uring_setup] = (void *)&fill_io_uring_setup,
		[SCAP_NR_pidfd_open] = (void *)&fill_pidfd_open,
		[SCAP_NR_close_range] = (void *)&fill_close_range,
		[SCAP_NR_pidfd_getfd] = (void *)&fill_pidfd_getfd,
	},
};

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	__u32 nr = (__u32)BPF_CORE_READ(regs, orig_ax);
	struct scap_syscall_entry *e;
	struct scap_config *cfg;

	if (nr >= SCAP_MAX_SYSCALLS)
		return 0;
	e = bpf_map_lookup_elem(&syscall_table, &nr);
	if (!e || !e->interesting) {
		return 0;
	}
	cfg = cfg_get();
	if (!cfg || !cfg->capture_on)
		return 0;
	if (cfg->drop_tgid && (bpf_get_current_pid_tgid() >> 32) == cfg->drop_tgid)
		return 0;
	/* A 32-bit (ia32) syscall: orig_ax is an ia32 number our tables do not describe. */
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task_btf();
	if (BPF_CORE_READ(cur, thread_info.status) & TS_COMPAT)
		return 0;

	bpf_tail_call(ctx, &fillers, nr);

	/* No filler: the generic event (ID: PPM_SC code, nativeID). */
	struct scap_aux *a = aux_get();
	if (!a)
		return 0;
	aux_begin(a, PPME_GENERIC_X, 2);
	put_u16(a, e->ppm_sc);
	put_u16(a, nr);
	aux_submit(a);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scap_aux *a = aux_get();
	__u32 tid = p->pid;
	long n;

	if (!a)
		return 0;
	struct scap_exec_info *ei = (struct scap_exec_info *)a->tmp;
	ei->old_tid = old_pid;
	n = bpf_probe_read_kernel_str(ei->filename, sizeof(ei->filename), BPF_CORE_READ(bprm, filename));
	ei->len = n > 0 ? n : 0;
	bpf_map_update_elem(&exec_info, &tid, ei, BPF_ANY);
	return 0;
}

/* Who adopts the children of an exiting process, as the kernel's find_new_reaper()
 * decides: another live thread of the group, else the nearest ancestor in the same pid
 * namespace that is a child subreaper (PR_SET_CHILD_SUBREAPER), else the namespace's init.
 * 0 when the process has no children (nothing to adopt). */
#define REAPER_DEPTH 16
static __always_inline __s64 reaper_tid(struct task_struct *p, bool group_dead)
{
	struct list_head *head = &p->children;
	if (BPF_CORE_READ(p, children.next) == head)
		return 0;
	if (!group_dead) {
		struct task_struct *leader = BPF_CORE_READ(p, group_leader);
		return leader != p ? BPF_CORE_READ(leader, pid) : 0;
	}
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct pid *pid = BPF_CORE_READ(p, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	if (BPF_CORE_READ_BITFIELD_PROBED(sig, has_child_subreaper)) {
		struct task_struct *r = BPF_CORE_READ(p, real_parent);
		for (int i = 0; i < REAPER_DEPTH && r; i++) {
			if (BPF_CORE_READ(r, thread_pid, level) != level || BPF_CORE_READ(r, pid) == 0)
				break;
			struct signal_struct *rs = BPF_CORE_READ(r, signal);
			if (BPF_CORE_READ_BITFIELD_PROBED(rs, is_child_subreaper))
				return BPF_CORE_READ(r, tgid);
			r = BPF_CORE_READ(r, real_parent);
		}
	}
	struct task_struct *init = BPF_CORE_READ(pid, numbers[level].ns, child_reaper);
	return init ? BPF_CORE_READ(init, pid) : 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p, bool group_dead)
{
	struct scap_config *cfg = cfg_get();
	struct scap_syscall_entry *e;
	__u32 key = SCAP_PROCEXIT_SLOT;

	if (!cfg || !cfg->capture_on)
		return 0;
	e = bpf_map_lookup_elem(&syscall_table, &key);
	if (!e || !e->interesting)
		return 0;
	if (cfg->drop_tgid && p->tgid == cfg->drop_tgid)
		return 0;

	struct scap_aux *a = aux_get();
	if (!a)
		return 0;
	aux_begin(a, PPME_PROCEXIT_1_E, 5);
	int code = BPF_CORE_READ(p, exit_code);
	put_s64(a, code);
	put_s64(a, (code >> 8) & 0xff);
	put_u8(a, code & 0x7f);
	put_u8(a, (code & 0x80) ? 1 : 0);
	put_s64(a, reaper_tid(p, group_dead));
	aux_submit(a);
	return 0;
}

/* Optional extra, attached only on request (BpfSource(extras=("sched_switch",))): a
 * context switch as current libs records it, PPME_SCHEDSWITCH_6_E from the task that is
 * switched out (header tid), with next = the incoming task's tid and the outgoing task's
 * page-fault counters and memory sizes.  Not attached = no cost at all on the scheduler. */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct scap_config *cfg = cfg_get();
	if (!cfg || !cfg->capture_on)
		return 0;
	if (cfg->drop_tgid && BPF_CORE_READ(prev, tgid) == cfg->drop_tgid)
		return 0;
	struct scap_aux *a = aux_get();
	if (!a)
		return 0;
	aux_begin(a, PPME_SCHEDSWITCH_6_E, 6);
	((struct scap_evt_hdr *)&a->data[SCAP_SAMPLE_PREFIX])->tid = BPF_CORE_READ(prev, pid);
	put_s64(a, BPF_CORE_READ(next, pid));
	put_u64(a, BPF_CORE_READ(prev, maj_flt));
	put_u64(a, BPF_CORE_READ(prev, min_flt));
	struct mm_struct *mm = BPF_CORE_READ(prev, mm);
	__u32 vm_size = 0, vm_rss = 0, vm_swap = 0;
	if (mm) {
		vm_size = BPF_CORE_READ(mm, total_vm) << 2;
		__s64 rss = BPF_CORE_READ(mm, rss_stat[0].count) + BPF_CORE_READ(mm, rss_stat[1].count) +
			    BPF_CORE_READ(mm, rss_stat[3].count);
		__s64 swap = BPF_CORE_READ(mm, rss_stat[2].count);
		vm_rss = rss > 0 ? rss << 2 : 0;
		vm_swap = swap > 0 ? swap << 2 : 0;
	}
	put_u32(a, vm_size);
	put_u32(a, vm_rss);
	put_u32(a, vm_swap);
	aux_submit(a);
	return 0;
}

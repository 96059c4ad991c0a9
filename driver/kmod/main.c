// SPDX-License-Identifier: GPL-2.0-only
/*
 * pyfalco kernel-module driver: the same records as the CO-RE probe
 * (driver/bpf), from ordinary tracepoint probes, into per-CPU rings that user
 * space maps through /dev/pyfalco<N> (ABI: pyfalco_kmod.h).
 *
 * Exit-only, like the probe: one record per syscall, written at sys_exit
 * where the return value is known and the arguments are still in pt_regs.
 * execve's filename pointer belongs to the old image after a successful
 * exec, so sched_process_exec saves bprm->filename for the exit record;
 * sched_process_exit gives procexit.  The record is built in a per-CPU
 * scratch buffer with preemption off (so one writer per ring) and copied
 * into the ring; user memory is read with the *_nofault helpers because we
 * may not sleep here: a page that is not resident gives an empty param and
 * counts in n_drops_pf.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/tracepoint.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/net.h>
#include <linux/un.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/binfmts.h>
#include <linux/openat2.h>
#include <linux/io_uring.h>
#include <linux/cgroup.h>
#include <linux/audit.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/compat.h>
#include <linux/dcache.h>
#include <linux/fs_struct.h>
#include <linux/version.h>
#include <net/sock.h>
#include <net/af_unix.h>
#include <net/ipv6.h>
#include <asm/syscall.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#include "pyfalco_kmod.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pyfalco syscall capture (scap records in per-CPU rings)");

static unsigned int ring_bytes = 8 << 20;
module_param(ring_bytes, uint, 0444);
MODULE_PARM_DESC(ring_bytes, "bytes of each per-CPU ring (power of two, >= 64 KiB)");

#define AF_UNIX_ 1
#define AF_INET_ 2
#define AF_INET6_ 10
#define PPM_O_F_CREATED (1 << 14)
#define PPM_EXE_WRITABLE 1
#define PPM_EXE_FROM_MEMFD 4

struct ring {
	struct pyfalco_ring_info *info; /* page 0 of mem */
	u8 *data;                       /* mem + PAGE_SIZE */
	void *mem;                      /* vmalloc_user, mapped by the reader */
	u8 *scratch;                    /* record under construction */
	atomic_t open;                  /* 1 while a reader has the device */
	int readable;                   /* producer writes only while set */
	struct cdev cdev;
};

static struct ring *rings;
static unsigned int nrings;
static dev_t devt;
static struct class *cls;
static int capture_on;
static u32 drop_tgid;
static u32 snaplen = SCAP_SNAPLEN;
static struct pyfalco_syscall_table table;

/* bprm->filename saved at sched_process_exec for the execve exit record */
#define EXEC_SLOTS 32
struct exec_slot {
	pid_t pid;
	u32 len;
	char name[SCAP_MAX_PATH];
};
static struct exec_slot exec_slots[EXEC_SLOTS];
static DEFINE_SPINLOCK(exec_lock);

/* ------------------------------------------------------------------ */
/* Record building                                                     */
/* ------------------------------------------------------------------ */

struct rec {
	struct ring *r;
	u8 *buf;
	u32 pos;
	u32 nparams;
	u32 idx;
	int truncated;
	int faulted;
};

static void rec_begin(struct rec *e, struct ring *r, u16 type, u32 nparams)
{
	struct scap_evt_hdr *h = (struct scap_evt_hdr *)r->scratch;

	e->r = r;
	e->buf = r->scratch;
	e->nparams = nparams;
	e->idx = 0;
	e->truncated = 0;
	e->faulted = 0;
	e->pos = SCAP_HDR_LEN + 2 * nparams;
	put_unaligned(ktime_get_real_ns(), &h->ts);
	put_unaligned((u64)current->pid, &h->tid);
	put_unaligned(type, &h->type);
	put_unaligned(nparams, &h->nparams);
}

static void set_len(struct rec *e, u16 len)
{
	if (e->idx >= e->nparams)
		return;
	put_unaligned(len, (u16 *)(e->buf + SCAP_HDR_LEN + 2 * e->idx));
	e->idx++;
}

/* Room for n more payload bytes?  If not, the param is sent empty. */
static u8 *reserve(struct rec *e, u32 n)
{
	if (e->pos + n > SCAP_MAX_EVENT) {
		e->truncated = 1;
		set_len(e, 0);
		return NULL;
	}
	return e->buf + e->pos;
}

static void commit(struct rec *e, u32 n)
{
	e->pos += n;
	set_len(e, n);
}

#define DEFINE_PUT(name, type)                          \
	static void name(struct rec *e, type v)         \
	{                                               \
		u8 *p = reserve(e, sizeof(type));       \
		if (!p)                                 \
			return;                         \
		put_unaligned(v, (type *)p);            \
		commit(e, sizeof(type));                \
	}
DEFINE_PUT(put_u8, u8)
DEFINE_PUT(put_u16, u16)
DEFINE_PUT(put_u32, u32)
DEFINE_PUT(put_u64, u64)

static void put_s64(struct rec *e, s64 v) { put_u64(e, (u64)v); }
static void put_empty(struct rec *e) { set_len(e, 0); }

static void put_kbytes(struct rec *e, const void *src, u32 n)
{
	u8 *p = reserve(e, n);
	if (!p)
		return;
	memcpy(p, src, n);
	commit(e, n);
}

/* NUL-terminated kernel string, NUL included. */
static void put_kstr(struct rec *e, const char *s, u32 max)
{
	put_kbytes(e, s, s ? strnlen(s, max - 1) + 1 : 0);
}

/* strncpy_from_user_nofault is not exported to modules: copy in chunks with
 * copy_from_user_nofault, stopping at the NUL.  Returns the length with the
 * NUL (the string is cut and terminated at max), or -EFAULT when the first
 * byte cannot be read. */
static long ustr_nofault(char *dst, const void __user *src, long max)
{
	long done = 0;

	while (done < max) {
		long chunk = min_t(long, 64, max - done);
		char *nul;

		/* a chunk may cross into an unmapped page: retry byte by byte */
		if (copy_from_user_nofault(dst + done, src + done, chunk)) {
			if (chunk == 1)
				return done ? (dst[done - 1] = 0, done) : -EFAULT;
			chunk = 1;
			if (copy_from_user_nofault(dst + done, src + done, 1))
				return done ? (dst[done - 1] = 0, done) : -EFAULT;
		}
		nul = memchr(dst + done, 0, chunk);
		if (nul)
			return nul - dst + 1;
		done += chunk;
	}
	dst[max - 1] = 0;
	return max;
}

/* NUL-terminated user string (NUL included); NULL or unreadable: empty. */
static void put_ustr(struct rec *e, const void __user *uptr)
{
	long n;
	u8 *p = reserve(e, SCAP_MAX_PATH);

	if (!p)
		return;
	if (!uptr) {
		set_len(e, 0);
		return;
	}
	n = ustr_nofault((char *)p, uptr, SCAP_MAX_PATH);
	if (n < 0) {
		e->faulted = 1;
		n = 0;
	}
	commit(e, n);
}

/* Raw user bytes, at most max. */
static void put_ubytes(struct rec *e, const void __user *uptr, unsigned long len, u32 max)
{
	u8 *p;

	if (len > max)
		len = max;
	if (!uptr || len == 0) {
		set_len(e, 0);
		return;
	}
	p = reserve(e, len);
	if (!p)
		return;
	if (copy_from_user_nofault(p, uptr, len)) {
		e->faulted = 1;
		len = 0;
	}
	commit(e, len);
}

/* The drop category of a record type (SCAP_DROP_CATEGORIES: none), libs' grouping, the
 * same as the probe's drop_category(). */
static u32 drop_category(u16 type)
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

/* Copy the finished record into the ring (preemption is off: one writer). */
static void rec_submit(struct rec *e)
{
	struct ring *r = e->r;
	struct pyfalco_ring_info *info = r->info;
	struct scap_evt_hdr *h = (struct scap_evt_hdr *)e->buf;
	u32 size = info->ring_size;
	u32 head = info->head;
	u32 tail = smp_load_acquire(&info->tail);
	u32 len = e->pos, off, first;

	while (e->idx < e->nparams) /* a filler that sent fewer params */
		set_len(e, 0);
	put_unaligned(len, &h->len);
	if (e->truncated)
		info->n_drops_size++;
	if (e->faulted)
		info->n_drops_pf++;
	if (size - (head - tail) < len) {
		u32 cat = drop_category(get_unaligned(&h->type));

		info->n_drops_buffer++;
		if (cat < SCAP_DROP_CATEGORIES)
			info->n_drops_buffer_cat[cat]++;
		return;
	}
	off = head & (size - 1);
	first = min(len, size - off);
	memcpy(r->data + off, e->buf, first);
	memcpy(r->data, e->buf + first, len - first);
	info->n_evts++;
	smp_store_release(&info->head, head + len);
}

/* ------------------------------------------------------------------ */
/* Kernel state helpers                                                */
/* ------------------------------------------------------------------ */

static unsigned long arg(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
}

static u32 encode_dev(dev_t dev)
{
	u32 major = MAJOR(dev), minor = MINOR(dev);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

/* open(2) flags to PPM_O_* */
static u32 open_flags(u32 f)
{
	u32 r = 0;
	switch (f & 3) {
	case 0: r |= 1 << 0; break;
	case 1: r |= 1 << 1; break;
	case 2: r |= (1 << 0) | (1 << 1); break;
	}
	if (f & O_CREAT) r |= 1 << 2;
	if (f & O_APPEND) r |= 1 << 3;
	if (f & O_DSYNC) r |= 1 << 4;
	if (f & O_EXCL) r |= 1 << 5;
	if (f & O_NONBLOCK) r |= 1 << 6;
	if (f & __O_SYNC) r |= 1 << 7;
	if (f & O_TRUNC) r |= 1 << 8;
	if (f & O_DIRECT) r |= 1 << 9;
	if (f & O_DIRECTORY) r |= 1 << 10;
	if (f & O_LARGEFILE) r |= 1 << 11;
	if (f & O_CLOEXEC) r |= 1 << 12;
	if ((f & O_TMPFILE) == O_TMPFILE) r |= 1 << 13;
	return r;
}

static u32 open_mode(u32 flags, u32 mode)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return mode & 07777;
	return 0;
}

/* Linux CLONE_* to PPM_CL_* */
static u32 clone_flags(u64 f)
{
	u32 r = 0;
	if (f & CLONE_FILES) r |= 1 << 0;
	if (f & CLONE_FS) r |= 1 << 1;
	if (f & CLONE_IO) r |= 1 << 2;
	if (f & CLONE_NEWIPC) r |= 1 << 3;
	if (f & CLONE_NEWNET) r |= 1 << 4;
	if (f & CLONE_NEWNS) r |= 1 << 5;
	if (f & CLONE_NEWPID) r |= 1 << 6;
	if (f & CLONE_NEWUTS) r |= 1 << 7;
	if (f & CLONE_PARENT) r |= 1 << 8;
	if (f & CLONE_PARENT_SETTID) r |= 1 << 9;
	if (f & CLONE_PTRACE) r |= 1 << 10;
	if (f & CLONE_SIGHAND) r |= 1 << 11;
	if (f & CLONE_SYSVSEM) r |= 1 << 12;
	if (f & CLONE_THREAD) r |= 1 << 13;
	if (f & CLONE_UNTRACED) r |= 1 << 14;
	if (f & CLONE_VM) r |= 1 << 15;
	if (f & CLONE_NEWUSER) r |= 1 << 20;
	if (f & CLONE_CHILD_CLEARTID) r |= 1 << 23;
	if (f & CLONE_CHILD_SETTID) r |= 1 << 24;
	if (f & CLONE_SETTLS) r |= 1 << 25;
	return r;
}

/* dev and ino of fd's file, plus whether this open created it. */
static void put_dev_ino(struct rec *e, long fd, u32 *created)
{
	struct file *f = fd >= 0 ? fget_raw(fd) : NULL;
	u32 dev = 0;
	u64 ino = 0;

	if (f) {
		struct inode *inode = file_inode(f);
		dev = encode_dev(inode->i_sb->s_dev);
		ino = inode->i_ino;
		if (created && (f->f_mode & FMODE_CREATED))
			*created = PPM_O_F_CREATED;
		fput(f);
	}
	put_u32(e, dev);
	put_u64(e, ino);
}

static u32 created_flag(long fd)
{
	struct file *f = fd >= 0 ? fget_raw(fd) : NULL;
	u32 r = 0;

	if (f) {
		if (f->f_mode & FMODE_CREATED)
			r = PPM_O_F_CREATED;
		fput(f);
	}
	return r;
}

static u32 tty_of(struct task_struct *t)
{
	struct tty_struct *tty = t->signal->tty;
	u32 minor;

	if (!tty || !tty->driver)
		return 0;
	minor = tty->driver->minor_start + tty->index;
	return (minor & 0xff) | (tty->driver->major << 8) | ((minor & ~0xffU) << 12);
}

static u64 cap_u64(kernel_cap_t c)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	return c.val;
#else
	return ((u64)c.cap[1] << 32) | c.cap[0];
#endif
}

/* "subsys=path\0" for each controller, as /proc/PID/cgroup names v1 ones. */
static void put_cgroups(struct rec *e, struct task_struct *t)
{
	u8 *p = reserve(e, 0);
	u32 start = e->pos, used = 0;
	int i;

	if (!p)
		return;
	rcu_read_lock();
	for (i = 0; i < CGROUP_SUBSYS_COUNT; i++) {
		struct cgroup_subsys_state *css = task_css(t, i);
		const char *name;
		u32 room = SCAP_MAX_EVENT - start - used;
		int n, ln;

		if (!css || !css->ss || !css->cgroup)
			continue;
		name = css->ss->legacy_name;
		ln = strlen(name);
		if (room < ln + 3 || room > SCAP_MAX_EVENT)
			break;
		memcpy(p + used, name, ln);
		p[used + ln] = '=';
		n = cgroup_path(css->cgroup, (char *)p + used + ln + 1, min_t(u32, room - ln - 1, SCAP_MAX_CGROUP_PATH));
		if (n < 0)
			break;
		used += ln + 1 + strlen((char *)p + used + ln + 1) + 1;
	}
	rcu_read_unlock();
	commit(e, used);
}

/* The caller's working directory (execve's cwd param, as the probe): d_path of fs->pwd
 * under fs->lock, which keeps the path's references while we walk it (no ref taken: a
 * path_put could sleep here).  Unavailable: empty, sinsp keeps the inherited cwd. */
static void put_cwd(struct rec *e)
{
	struct fs_struct *fs = current->fs;
	u8 *p;
	char *d;

	if (!fs) {
		put_empty(e);
		return;
	}
	p = reserve(e, SCAP_MAX_PATH);
	if (!p)
		return;
	spin_lock(&fs->lock);
	d = d_path(&fs->pwd, (char *)p, SCAP_MAX_PATH);
	spin_unlock(&fs->lock);
	if (IS_ERR(d)) {
		commit(e, 0);
	} else {
		u32 n = strlen(d) + 1;
		memmove(p, d, n);
		commit(e, n);
	}
}

/* The 14 process params of clone and execve after res: exe, args, tid, pid,
 * ptid, cwd, fdlimit, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap, comm,
 * cgroups.  exe is argv[0], args the rest (NUL separated), read from the
 * image's own arg area. */
static void put_proc_common(struct rec *e, struct task_struct *t, int with_args, int with_cwd)
{
	struct mm_struct *mm = t->mm;
	unsigned long as = 0, ae = 0;
	long exe_len = 0;
	u8 *p;
	u32 vm_size = 0, vm_rss = 0, vm_swap = 0;
	char comm[TASK_COMM_LEN];

	if (with_args && mm) {
		as = mm->arg_start;
		ae = mm->arg_end;
	}
	p = reserve(e, SCAP_MAX_PATH);
	if (p) {
		if (as) {
			exe_len = ustr_nofault((char *)p, (void __user *)as,
							    min_t(unsigned long, ae - as, SCAP_MAX_PATH));
			if (exe_len < 0) {
				e->faulted = 1;
				exe_len = 0;
			}
		}
		commit(e, exe_len);
	}
	if (ae > as + exe_len)
		put_ubytes(e, (void __user *)(as + exe_len), ae - as - exe_len, SCAP_MAX_ARGS);
	else
		put_empty(e);
	put_s64(e, t->pid);
	put_s64(e, t->tgid);
	rcu_read_lock();
	put_s64(e, rcu_dereference(t->real_parent)->pid);
	rcu_read_unlock();
	if (with_cwd)
		put_cwd(e);
	else
		put_empty(e); /* clone: empty like libs' drivers; sinsp inherits the parent's */
	put_s64(e, task_rlimit(t, RLIMIT_NOFILE));
	put_u64(e, t->maj_flt);
	put_u64(e, t->min_flt);
	if (mm) {
		long rss = get_mm_counter(mm, MM_FILEPAGES) + get_mm_counter(mm, MM_ANONPAGES) +
			   get_mm_counter(mm, MM_SHMEMPAGES);
		long swap = get_mm_counter(mm, MM_SWAPENTS);
		vm_size = mm->total_vm << (PAGE_SHIFT - 10);
		vm_rss = rss > 0 ? rss << (PAGE_SHIFT - 10) : 0;
		vm_swap = swap > 0 ? swap << (PAGE_SHIFT - 10) : 0;
	}
	put_u32(e, vm_size);
	put_u32(e, vm_rss);
	put_u32(e, vm_swap);
	get_task_comm(comm, t);
	put_kstr(e, comm, sizeof(comm));
	put_cgroups(e, t);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* The unix path of a bound socket (abstract: leading NUL dropped), NUL included. */
static u32 unix_path(u8 *o, struct sock *sk)
{
	struct unix_address *ua = sk ? unix_sk(sk)->addr : NULL;
	const char *p;
	int len;

	if (!ua || ua->len <= (int)sizeof(short)) {
		o[0] = 0;
		return 1;
	}
	p = ua->name->sun_path;
	len = ua->len - sizeof(short);
	if (p[0] == 0) {
		p++;
		len--;
	}
	len = strnlen(p, min(len, UNIX_PATH_MAX));
	memcpy(o, p, len);
	o[len] = 0;
	return len + 1;
}

/* SOCKTUPLE of fd's socket.  inbound: the source is the peer (accept).  uaddr: the
 * datagram's user sockaddr (sendto/sendmsg destination, recvfrom/recvmsg source, filled by
 * the kernel by exit), the remote end of an IPv4/IPv6 socket that has none (unconnected
 * UDP), as libs and the probe do. */
static void put_tuple_addr(struct rec *e, long fd, int inbound, const void __user *uaddr)
{
	struct file *f = fd >= 0 ? fget_raw(fd) : NULL;
	struct socket *sock = f ? sock_from_file(f) : NULL;
	struct sock *sk = sock ? sock->sk : NULL;
	u8 *o;
	u32 n = 0;

	if (!sk) {
		put_empty(e);
		goto out;
	}
	o = reserve(e, 160);
	if (!o)
		goto out;
	if (sk->sk_family == AF_INET) {
		__be32 l = sk->sk_rcv_saddr, r = sk->sk_daddr;
		u16 lp = sk->sk_num, rp = ntohs(sk->sk_dport);
		struct sockaddr_in sin;

		if (!r && !rp && uaddr && !copy_from_user_nofault(&sin, uaddr, sizeof(sin)) &&
		    sin.sin_family == AF_INET) {
			r = sin.sin_addr.s_addr;
			rp = ntohs(sin.sin_port);
		}
		o[0] = AF_INET_;
		put_unaligned(inbound ? r : l, (u32 *)&o[1]);
		put_unaligned(inbound ? rp : lp, (u16 *)&o[5]);
		put_unaligned(inbound ? l : r, (u32 *)&o[7]);
		put_unaligned(inbound ? lp : rp, (u16 *)&o[11]);
		n = 13;
#if IS_ENABLED(CONFIG_IPV6)
	} else if (sk->sk_family == AF_INET6) {
		struct in6_addr l = sk->sk_v6_rcv_saddr, r = sk->sk_v6_daddr;
		u16 lp = sk->sk_num, rp = ntohs(sk->sk_dport);
		struct sockaddr_in6 sin6;

		if (!rp && ipv6_addr_any(&r) && uaddr &&
		    !copy_from_user_nofault(&sin6, uaddr, sizeof(sin6)) && sin6.sin6_family == AF_INET6) {
			r = sin6.sin6_addr;
			rp = ntohs(sin6.sin6_port);
		}
		o[0] = AF_INET6_;
		memcpy(&o[1], inbound ? &r : &l, 16);
		put_unaligned(inbound ? rp : lp, (u16 *)&o[17]);
		memcpy(&o[19], inbound ? &l : &r, 16);
		put_unaligned(inbound ? lp : rp, (u16 *)&o[35]);
		n = 37;
#endif
	} else if (sk->sk_family == AF_UNIX) {
		struct sock *peer = unix_peer(sk);
		o[0] = AF_UNIX_;
		put_unaligned((u64)(unsigned long)sk, (u64 *)&o[1]);
		put_unaligned((u64)(unsigned long)peer, (u64 *)&o[9]);
		n = 17 + unix_path(&o[17], unix_sk(sk)->addr ? sk : peer);
	}
	commit(e, n);
out:
	if (f)
		fput(f);
}

static void put_tuple(struct rec *e, long fd, int inbound)
{
	put_tuple_addr(e, fd, inbound, NULL);
}

/* SOCKADDR from a user sockaddr. */
static void put_usockaddr(struct rec *e, const void __user *uaddr, u32 ulen)
{
	struct sockaddr_storage ss;
	u8 *o;
	u32 n = 0;

	if (!uaddr || ulen < 2) {
		put_empty(e);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (copy_from_user_nofault(&ss, uaddr, min_t(u32, ulen, sizeof(ss)))) {
		e->faulted = 1;
		put_empty(e);
		return;
	}
	o = reserve(e, 128);
	if (!o)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		o[0] = AF_INET_;
		put_unaligned(sin->sin_addr.s_addr, (u32 *)&o[1]);
		put_unaligned(ntohs(sin->sin_port), (u16 *)&o[5]);
		n = 7;
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		o[0] = AF_INET6_;
		memcpy(&o[1], &sin6->sin6_addr, 16);
		put_unaligned(ntohs(sin6->sin6_port), (u16 *)&o[17]);
		n = 19;
	} else if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		const char *p = sun->sun_path;
		int len = min_t(int, ulen - 2, UNIX_PATH_MAX);
		if (len > 0 && p[0] == 0) {
			p++;
			len--;
		}
		len = len > 0 ? strnlen(p, len) : 0;
		o[0] = AF_UNIX_;
		memcpy(&o[1], p, len);
		o[1 + len] = 0;
		n = len + 2;
	}
	commit(e, n);
}

static void put_accept_common(struct rec *e, long ret, long lfd)
{
	struct file *f = lfd >= 0 ? fget_raw(lfd) : NULL;
	struct socket *sock = f ? sock_from_file(f) : NULL;
	u32 qlen = 0, qmax = 0;

	put_s64(e, ret);
	if (ret >= 0)
		put_tuple(e, ret, 1);
	else
		put_empty(e);
	if (sock && sock->sk) {
		qlen = READ_ONCE(sock->sk->sk_ack_backlog);
		qmax = READ_ONCE(sock->sk->sk_max_ack_backlog);
	}
	if (f)
		fput(f);
	put_u8(e, qmax ? (qlen * 100) / qmax : 0);
	put_u32(e, qlen);
	put_u32(e, qmax);
}

/* ------------------------------------------------------------------ */
/* Fillers                                                             */
/* ------------------------------------------------------------------ */

static void fill_clone(struct rec *e, long ret, u64 flags)
{
	const struct cred *cred = current_cred();

	put_s64(e, ret);
	put_proc_common(e, current, 1, 0);
	put_u32(e, clone_flags(flags));
	put_u32(e, __kuid_val(cred->euid));
	put_u32(e, __kgid_val(cred->egid));
	put_s64(e, task_pid_vnr(current));
	put_s64(e, task_tgid_vnr(current));
	put_u64(e, 0); /* pidns_init_start_ts */
}

static u32 exe_flags(struct file *exe)
{
	const struct cred *cred = current_cred();
	struct inode *ino;
	u32 flags = 0;
	umode_t mode;

	if (!exe)
		return 0;
	ino = file_inode(exe);
	mode = ino->i_mode;
	if (cap_raised(cred->cap_effective, CAP_DAC_OVERRIDE) ||
	    (uid_eq(cred->fsuid, ino->i_uid) ? (mode & 0200) :
	     gid_eq(cred->fsgid, ino->i_gid) ? (mode & 020) : (mode & 02)))
		flags |= PPM_EXE_WRITABLE;
	if (!strncmp(exe->f_path.dentry->d_name.name, "memfd:", 6))
		flags |= PPM_EXE_FROM_MEMFD;
	return flags;
}

static void ts_put(struct rec *e, struct timespec64 ts)
{
	put_u64(e, ts.tv_sec * 1000000000ULL + ts.tv_nsec);
}

/* execve/execveat exit: res, the common 14, env, tty, vpgid, loginuid,
 * flags, caps x3, exe_ino, ctime, mtime, uid, trusted_exepath, pgid, gid
 * [, filename for execve] -- the probe's layout. */
static void fill_exec(struct rec *e, struct pt_regs *regs, long ret, int is_execveat)
{
	struct task_struct *t = current;
	struct mm_struct *mm = t->mm;
	const struct cred *cred = current_cred();
	struct file *exe = NULL;
	unsigned long flags;

	put_s64(e, ret);
	if (ret == 0) {
		put_proc_common(e, t, 1, 1);
		if (mm)
			put_ubytes(e, (void __user *)mm->env_start, mm->env_end - mm->env_start, SCAP_MAX_ENV);
		else
			put_empty(e);
	} else {
		/* Failed exec: the old image stays; exe is argv[0] of the attempt. */
		const char __user *const __user *argv = (void __user *)arg(regs, is_execveat ? 2 : 1);
		const char __user *argv0 = NULL;
		char comm[TASK_COMM_LEN];

		if (argv && copy_from_user_nofault(&argv0, argv, sizeof(argv0)))
			argv0 = NULL;
		put_ustr(e, argv0);
		put_empty(e);
		put_s64(e, t->pid);
		put_s64(e, t->tgid);
		rcu_read_lock();
		put_s64(e, rcu_dereference(t->real_parent)->pid);
		rcu_read_unlock();
		put_empty(e);
		put_s64(e, task_rlimit(t, RLIMIT_NOFILE));
		put_u64(e, t->maj_flt);
		put_u64(e, t->min_flt);
		put_u32(e, 0);
		put_u32(e, 0);
		put_u32(e, 0);
		get_task_comm(comm, t);
		put_kstr(e, comm, sizeof(comm));
		put_cgroups(e, t);
		put_empty(e);
	}
	put_u32(e, tty_of(t));
	put_s64(e, task_pgrp_vnr(t));
	put_u32(e, __kuid_val(audit_get_loginuid(t)));
	rcu_read_lock();
	if (mm)
		exe = rcu_dereference(mm->exe_file);
	put_u32(e, exe_flags(exe));
	put_u64(e, cap_u64(cred->cap_inheritable));
	put_u64(e, cap_u64(cred->cap_permitted));
	put_u64(e, cap_u64(cred->cap_effective));
	if (exe) {
		struct inode *ino = file_inode(exe);
		put_u64(e, ino->i_ino);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
		ts_put(e, inode_get_ctime(ino));
		ts_put(e, inode_get_mtime(ino));
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
		ts_put(e, inode_get_ctime(ino));
		ts_put(e, ino->i_mtime);
#else
		ts_put(e, ino->i_ctime);
		ts_put(e, ino->i_mtime);
#endif
	} else {
		put_u64(e, 0);
		put_u64(e, 0);
		put_u64(e, 0);
	}
	put_u32(e, __kuid_val(cred->euid));
	if (exe && ret == 0) {
		u8 *p = reserve(e, SCAP_MAX_PATH);
		if (p) {
			char *s = d_path(&exe->f_path, (char *)p, SCAP_MAX_PATH);
			if (IS_ERR(s)) {
				commit(e, 0);
			} else {
				u32 n = strlen(s) + 1;
				memmove(p, s, n);
				commit(e, n);
			}
		}
	} else {
		put_empty(e);
	}
	rcu_read_unlock();
	rcu_read_lock();
	put_s64(e, pid_nr(task_pgrp(t)));
	rcu_read_unlock();
	put_u32(e, __kgid_val(cred->egid));
	if (!is_execveat) {
		struct exec_slot *s = &exec_slots[t->pid % EXEC_SLOTS];
		int found = 0;

		if (ret == 0) {
			spin_lock_irqsave(&exec_lock, flags);
			if (s->pid == t->pid && s->len) {
				put_kbytes(e, s->name, s->len);
				s->pid = 0;
				found = 1;
			}
			spin_unlock_irqrestore(&exec_lock, flags);
		}
		if (!found)
			put_ustr(e, (void __user *)arg(regs, 0));
	}
}

/* Fillers that are "res, then arguments as they are": a spec per syscall,
 * one letter + argument index per param after res (the probe's layouts):
 *   f: fd (int -> s64)   s: user string   u: u32   m: mode & 07777
 *   b: u8                c: CLONE_* -> PPM_CL_*
 * and u32 flags kept to the bits libs defines (the same values as Linux), as the probe:
 *   x: & 7 (RENAME_*, MFD_*, MODULE_INIT_*)   k: & 0xf (umount2's PPM_MNT_*)
 *   l: & 0x1400 (linkat's AT_SYMLINK_FOLLOW, AT_EMPTY_PATH) */
struct simple_filler {
	u16 nr;
	u16 type;
	const char *spec;
};

static const struct simple_filler simple_fillers[] = {
	{ SCAP_NR_listen, PPME_SOCKET_LISTEN_X, "f0u1" },
	{ SCAP_NR_dup, PPME_SYSCALL_DUP_1_X, "f0" },
	{ SCAP_NR_dup2, PPME_SYSCALL_DUP2_X, "f0f1" },
	{ SCAP_NR_rename, PPME_SYSCALL_RENAME_X, "s0s1" },
	{ SCAP_NR_renameat, PPME_SYSCALL_RENAMEAT_X, "f0s1f2s3" },
	{ SCAP_NR_renameat2, PPME_SYSCALL_RENAMEAT2_X, "f0s1f2s3x4" },
	{ SCAP_NR_unlink, PPME_SYSCALL_UNLINK_2_X, "s0" },
	{ SCAP_NR_mkdir, PPME_SYSCALL_MKDIR_2_X, "s0u1" },
	{ SCAP_NR_mkdirat, PPME_SYSCALL_MKDIRAT_X, "f0s1u2" },
	{ SCAP_NR_rmdir, PPME_SYSCALL_RMDIR_2_X, "s0" },
	{ SCAP_NR_link, PPME_SYSCALL_LINK_2_X, "s0s1" },
	{ SCAP_NR_linkat, PPME_SYSCALL_LINKAT_2_X, "f0s1f2s3l4" },
	{ SCAP_NR_symlink, PPME_SYSCALL_SYMLINK_X, "s0s1" },
	{ SCAP_NR_symlinkat, PPME_SYSCALL_SYMLINKAT_X, "s0f1s2" },
	{ SCAP_NR_chmod, PPME_SYSCALL_CHMOD_X, "s0m1" },
	{ SCAP_NR_fchmod, PPME_SYSCALL_FCHMOD_X, "f0m1" },
	{ SCAP_NR_fchmodat, PPME_SYSCALL_FCHMODAT_X, "f0s1m2" },
	{ SCAP_NR_setuid, PPME_SYSCALL_SETUID_X, "u0" },
	{ SCAP_NR_setgid, PPME_SYSCALL_SETGID_X, "u0" },
	{ SCAP_NR_setreuid, PPME_SYSCALL_SETREUID_X, "u0u1" },
	{ SCAP_NR_setregid, PPME_SYSCALL_SETREGID_X, "u0u1" },
	{ SCAP_NR_setresuid, PPME_SYSCALL_SETRESUID_X, "u0u1u2" },
	{ SCAP_NR_setresgid, PPME_SYSCALL_SETRESGID_X, "u0u1u2" },
	{ SCAP_NR_memfd_create, PPME_SYSCALL_MEMFD_CREATE_X, "s0x1" },
	{ SCAP_NR_chdir, PPME_SYSCALL_CHDIR_X, "s0" },
	{ SCAP_NR_fchdir, PPME_SYSCALL_FCHDIR_X, "f0" },
	{ SCAP_NR_chroot, PPME_SYSCALL_CHROOT_X, "s0" },
	{ SCAP_NR_mount, PPME_SYSCALL_MOUNT_X, "s0s1s2u3" },
	{ SCAP_NR_umount2, PPME_SYSCALL_UMOUNT2_X, "s0k1" },
	{ SCAP_NR_kill, PPME_SYSCALL_KILL_X, "f0b1" },
	{ SCAP_NR_unshare, PPME_SYSCALL_UNSHARE_X, "c0" },
	{ SCAP_NR_setns, PPME_SYSCALL_SETNS_X, "f0c1" },
	{ SCAP_NR_bpf, PPME_SYSCALL_BPF_2_X, "u0" },
	{ SCAP_NR_finit_module, PPME_SYSCALL_FINIT_MODULE_X, "f0s1x2" },
};

/* simple_fillers indexed by syscall number (0: none), built at load */
static u8 simple_index[SCAP_MAX_SYSCALLS];

static void fill_simple(struct rec *e, struct ring *r, struct pt_regs *regs, long ret,
			const struct simple_filler *sf)
{
	const char *p;

	rec_begin(e, r, sf->type, 1 + strlen(sf->spec) / 2);
	put_s64(e, ret);
	for (p = sf->spec; p[0] && p[1]; p += 2) {
		unsigned long v = arg(regs, p[1] - '0');
		switch (p[0]) {
		case 'f': put_s64(e, (int)v); break;
		case 's': put_ustr(e, (void __user *)v); break;
		case 'u': put_u32(e, v); break;
		case 'm': put_u32(e, v & 07777); break;
		case 'b': put_u8(e, v); break;
		case 'c': put_u32(e, clone_flags(v)); break;
		case 'x': put_u32(e, v & 7); break;
		case 'k': put_u32(e, v & 0xf); break;
		case 'l': put_u32(e, v & 0x1400); break;
		}
	}
}

static void put_pipe(struct rec *e, long ret, void __user *ufds)
{
	int fds[2] = {-1, -1};
	struct file *f;

	if (copy_from_user_nofault(fds, ufds, sizeof(fds)))
		fds[0] = fds[1] = -1;
	put_s64(e, ret);
	put_s64(e, fds[0]);
	put_s64(e, fds[1]);
	f = ret == 0 && fds[0] >= 0 ? fget_raw(fds[0]) : NULL;
	put_u64(e, f ? file_inode(f)->i_ino : 0);
	if (f)
		fput(f);
}

/* init_module's image: its head only, like the probe */
#define IO_SNAPLEN (SCAP_SNAPLEN < 128 ? 128 : SCAP_SNAPLEN)
/* I/O data kept: the syscall's result cut to the snaplen the reader set (sysdig's -s,
 * default SCAP_SNAPLEN, at most MAX_SNAPLEN), as the probe */
#define MAX_SNAPLEN 256
static u64 io_len(long ret)
{
	u32 snap = READ_ONCE(snaplen);

	if (ret <= 0)
		return 0;
	return (u64)ret < snap ? (u64)ret : snap;
}

/* Linux PTRACE_* request to PPM_PTRACE_* (the probe's table) */
static u16 ppm_ptrace_request(long r)
{
	if (r >= 0 && r <= 9)
		return r + 1; /* TRACEME..SINGLESTEP */
	switch (r) {
	case 12: return 26; /* GETREGS */
	case 13: return 27; /* SETREGS */
	case 14: return 28; /* GETFPREGS */
	case 15: return 29; /* SETFPREGS */
	case 16: return 11; /* ATTACH */
	case 17: return 12; /* DETACH */
	case 18: return 30; /* GETFPXREGS */
	case 19: return 31; /* SETFPXREGS */
	case 21: return 32; /* OLDSETOPTIONS */
	case 24: return 13; /* SYSCALL */
	case 25: return 33; /* GET_THREAD_AREA */
	case 26: return 34; /* SET_THREAD_AREA */
	case 30: return 35; /* ARCH_PRCTL */
	case 31: return 36; /* SYSEMU */
	case 32: return 37; /* SYSEMU_SINGLESTEP */
	case 33: return 38; /* SINGLEBLOCK */
	}
	if (r >= 0x4200 && r <= 0x420b)
		return 14 + (r - 0x4200); /* SETOPTIONS..SETSIGMASK */
	return 0;
}

/* DYN param: u8 index (0: UINT64, 1: SIGTYPE), then the value */
static void put_dyn(struct rec *e, u8 idx, u64 v)
{
	u32 n = idx ? 2 : 9;
	u8 *p = reserve(e, n);

	if (!p)
		return;
	p[0] = idx;
	if (idx)
		p[1] = (u8)v;
	else
		put_unaligned(v, (u64 *)(p + 1));
	commit(e, n);
}

/* openat2's RESOLVE_* to PPM_RESOLVE_* (libs numbers them in another order: BENEATH 1,
 * IN_ROOT 2, NO_MAGICLINKS 4, NO_SYMLINKS 8, NO_XDEV 16, CACHED 32), as the probe */
static u32 openat2_resolve(u64 r)
{
	u32 f = 0;

	if (r & 0x08) f |= 1;   /* RESOLVE_BENEATH */
	if (r & 0x10) f |= 2;   /* RESOLVE_IN_ROOT */
	if (r & 0x02) f |= 4;   /* RESOLVE_NO_MAGICLINKS */
	if (r & 0x04) f |= 8;   /* RESOLVE_NO_SYMLINKS */
	if (r & 0x01) f |= 16;  /* RESOLVE_NO_XDEV */
	if (r & 0x20) f |= 32;  /* RESOLVE_CACHED */
	return f;
}

/* SOCK_NONBLOCK / SOCK_CLOEXEC of socket(2)'s type as PPM_O_NONBLOCK / PPM_O_CLOEXEC */
static u32 socket_flags(u32 type)
{
	return (type & 04000 ? 1 << 6 : 0) | (type & 02000000 ? 1 << 12 : 0);
}

/* ---- fd-creating and state syscalls: the probe's layouts (libs' exit events) ---- */

/* A user string cut at max bytes (NUL included), like the probe's bounded reads. */
static void put_ustr_max(struct rec *e, const void __user *uptr, long max)
{
	long n;
	u8 *p = reserve(e, max);

	if (!p)
		return;
	if (!uptr) {
		set_len(e, 0);
		return;
	}
	n = ustr_nofault((char *)p, uptr, max);
	if (n < 0) {
		e->faulted = 1;
		n = 0;
	}
	commit(e, n);
}

/* prctl(2) option to PPM_PR_*: libs names the options it knows with the Linux numbers;
 * any other option is 0 (unknown), as the probe. */
static u32 prctl_option(long o)
{
	switch (o) {
	case 3: case 4: case 7: case 8: case 15: case 16: case 21: case 22: case 23: case 24:
	case 27: case 28: case 33: case 35: case 36: case 37: case 38: case 39: case 40: case 41:
	case 42: case 47:
		return o;
	}
	return 0;
}

static void fill_prctl(struct rec *e, struct pt_regs *regs, long ret)
{
	u32 option = prctl_option(arg(regs, 0));
	unsigned long arg2 = arg(regs, 1);

	put_s64(e, ret);
	put_u32(e, option);
	if (option == 15 || option == 16) { /* PR_SET_NAME / PR_GET_NAME: the name at exit */
		put_ustr_max(e, (void __user *)arg2, 16);
		put_s64(e, 0);
	} else if (option == 37) { /* PR_GET_CHILD_SUBREAPER: the answer written to *arg2 */
		int v = 0;
		put_empty(e);
		if (arg2 && copy_from_user_nofault(&v, (void __user *)arg2, sizeof(v)))
			v = 0;
		put_s64(e, v);
	} else {
		put_empty(e);
		put_s64(e, arg2);
	}
}

/* Only NONBLOCK/CLOEXEC of eventfd2/signalfd4/inotify_init1/userfaultfd flags (their kernel
 * values are O_NONBLOCK/O_CLOEXEC), as PPM_O_NONBLOCK/PPM_O_CLOEXEC; other bits dropped. */
static u32 nb_cloexec(u32 f)
{
	return (f & O_NONBLOCK ? 1 << 6 : 0) | (f & O_CLOEXEC ? 1 << 12 : 0);
}

/* signalfd's mask param: the first word of the user's sigset */
static u32 user_sigmask(unsigned long p)
{
	u32 m = 0;

	if (p && copy_from_user_nofault(&m, (void __user *)p, sizeof(m)))
		m = 0;
	return m;
}

/* fcntl(2) cmd to PPM_FCNTL_* (x86_64: F_GETLK64.. are F_GETLK..; 0 = unknown) */
static u8 fcntl_cmd(u32 c)
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

/* io_uring_setup's IORING_SETUP_* to libs' PPM bits (libs has an extra SQ_NEED_WAKEUP at 4,
 * so the kernel's bits from SQ_AFF up move one place left); IORING_FEAT_* are the same. */
static u32 io_uring_flags(u32 f)
{
	return (f & 3) | ((f & 0x7c) << 1);
}

static void fill_io_uring_setup(struct rec *e, struct pt_regs *regs, long ret)
{
	struct io_uring_params p;

	/* read at exit: the kernel has written the entries and features back */
	if (copy_from_user_nofault(&p, (void __user *)arg(regs, 1), sizeof(p)))
		memset(&p, 0, sizeof(p));
	put_s64(e, ret);
	put_u32(e, arg(regs, 0));
	put_u32(e, p.sq_entries);
	put_u32(e, p.cq_entries);
	put_u32(e, io_uring_flags(p.flags));
	put_u32(e, p.sq_thread_cpu);
	put_u32(e, p.sq_thread_idle);
	put_u32(e, p.features & 0x7ff);
}

/* socketpair: both fds, the first socket and (unix) its peer, as the probe */
static void fill_socketpair(struct rec *e, struct pt_regs *regs, long ret)
{
	int fds[2] = {-1, -1};
	u64 src = 0, peer = 0;

	if (ret == 0) {
		struct file *f;

		if (copy_from_user_nofault(fds, (void __user *)arg(regs, 3), sizeof(fds)))
			fds[0] = fds[1] = -1;
		f = fds[0] >= 0 ? fget_raw(fds[0]) : NULL;
		if (f) {
			struct socket *sock = sock_from_file(f);
			struct sock *sk = sock ? sock->sk : NULL;

			if (sk) {
				src = (u64)(unsigned long)sk;
				if (sk->sk_family == AF_UNIX)
					peer = (u64)(unsigned long)unix_peer(sk);
			}
			fput(f);
		}
	}
	put_s64(e, ret);
	put_s64(e, fds[0]);
	put_s64(e, fds[1]);
	put_u64(e, src);
	put_u64(e, peer);
	put_u32(e, arg(regs, 0) <= 39 ? arg(regs, 0) : 0); /* PPM_AF, as socket() */
	put_u32(e, arg(regs, 1));
	put_u32(e, arg(regs, 2));
}

/* ---- I/O: data is the syscall's bytes cut to the snaplen (write side: what was written,
 * read side: what was read), from the first iovec for the vector calls, as the probe ---- */

/* An iovec array: total length (first MAX_IOV entries) and the first entry. */
#define MAX_IOV 16
struct iov_sum {
	u64 total;
	const void __user *base0;
	u64 len0;
};

static struct iov_sum iov_read(const struct iovec __user *iov, u64 cnt)
{
	struct iov_sum sum = {};
	struct iovec v;
	int i;

	for (i = 0; i < MAX_IOV && i < cnt; i++) {
		if (copy_from_user_nofault(&v, &iov[i], sizeof(v)))
			break;
		if (i == 0) {
			sum.base0 = v.iov_base;
			sum.len0 = v.iov_len;
		}
		sum.total += v.iov_len;
	}
	return sum;
}

static void put_iov_data(struct rec *e, struct iov_sum *sum, long ret)
{
	u64 n = io_len(ret);

	put_ubytes(e, sum->base0, n > sum->len0 ? sum->len0 : n, MAX_SNAPLEN);
}

/* A whole SCM_RIGHTS message of SCM_MAX_FD fds and a credentials message, as the probe */
#define MAX_MSG_CONTROL 2048

static void fill_msg(struct rec *e, struct pt_regs *regs, long ret, int send)
{
	long fd = (int)arg(regs, 0);
	struct user_msghdr m;
	struct iov_sum sum;

	/* read at exit: recvmsg's msg_namelen/msg_controllen are what the kernel wrote */
	if (copy_from_user_nofault(&m, (void __user *)arg(regs, 1), sizeof(m)))
		memset(&m, 0, sizeof(m));
	sum = iov_read(m.msg_iov, m.msg_iovlen);
	put_s64(e, ret);
	if (send) {
		put_iov_data(e, &sum, ret);
		put_s64(e, fd);
		put_u32(e, sum.total);
		put_tuple_addr(e, fd, 0, m.msg_name);
		return;
	}
	put_u32(e, sum.total);
	put_iov_data(e, &sum, ret);
	put_tuple_addr(e, fd, 1, ret >= 0 ? m.msg_name : NULL);
	/* msgcontrol: the ancillary data received (SCM_RIGHTS fds, credentials) */
	if (ret > 0 && m.msg_control)
		put_ubytes(e, m.msg_control, m.msg_controllen, MAX_MSG_CONTROL);
	else
		put_empty(e);
	put_s64(e, fd);
}

/* sendmmsg/recvmmsg: one record per message the call moved (at most MAX_MMSG), as libs and
 * the probe: res = that message's msg_len, its size, data and tuple; a failed call gives one
 * record with the error.  Submits its records itself. */
#define MAX_MMSG 16
static void fill_mmsg(struct rec *e, struct ring *r, struct pt_regs *regs, long ret, int send)
{
	struct mmsghdr __user *vec = (void __user *)arg(regs, 1);
	long fd = (int)arg(regs, 0), i;
	u16 type = send ? PPME_SOCKET_SENDMMSG_X : PPME_SOCKET_RECVMMSG_X;
	u32 np = send ? 5 : 6;

	if (ret < 0) {
		rec_begin(e, r, type, np);
		put_s64(e, ret);
		put_s64(e, fd);
		rec_submit(e); /* size, data, tuple (and msgcontrol) empty */
		return;
	}
	for (i = 0; i < ret && i < MAX_MMSG; i++) {
		struct mmsghdr mh;
		struct iov_sum sum;

		if (copy_from_user_nofault(&mh, &vec[i], sizeof(mh)))
			break;
		sum = iov_read(mh.msg_hdr.msg_iov, mh.msg_hdr.msg_iovlen);
		rec_begin(e, r, type, np);
		put_s64(e, mh.msg_len);
		put_s64(e, fd);
		put_u32(e, sum.total);
		put_iov_data(e, &sum, mh.msg_len);
		put_tuple_addr(e, fd, !send, mh.msg_hdr.msg_name);
		rec_submit(e); /* recvmmsg: msgcontrol empty */
	}
}

static int fill_io(struct rec *e, struct ring *r, struct pt_regs *regs, long nr, long ret)
{
	struct iov_sum sum;

	switch (nr) {
	case SCAP_NR_read:
	case SCAP_NR_write:
		rec_begin(e, r, nr == SCAP_NR_read ? PPME_SYSCALL_READ_X : PPME_SYSCALL_WRITE_X, 4);
		put_s64(e, ret);
		put_ubytes(e, (void __user *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, arg(regs, 2));
		return 1;
	case SCAP_NR_pread64:
	case SCAP_NR_pwrite64:
		rec_begin(e, r, nr == SCAP_NR_pread64 ? PPME_SYSCALL_PREAD_X : PPME_SYSCALL_PWRITE_X, 5);
		put_s64(e, ret);
		put_ubytes(e, (void __user *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, arg(regs, 2));
		put_u64(e, arg(regs, 3));
		return 1;
	case SCAP_NR_readv:
		rec_begin(e, r, PPME_SYSCALL_READV_X, 4);
		sum = iov_read((void __user *)arg(regs, 1), arg(regs, 2));
		put_s64(e, ret);
		put_u32(e, sum.total);
		put_iov_data(e, &sum, ret);
		put_s64(e, (int)arg(regs, 0));
		return 1;
	case SCAP_NR_writev:
		rec_begin(e, r, PPME_SYSCALL_WRITEV_X, 4);
		sum = iov_read((void __user *)arg(regs, 1), arg(regs, 2));
		put_s64(e, ret);
		put_iov_data(e, &sum, ret);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, sum.total);
		return 1;
	case SCAP_NR_sendmsg:
		rec_begin(e, r, PPME_SOCKET_SENDMSG_X, 5);
		fill_msg(e, regs, ret, 1);
		return 1;
	case SCAP_NR_recvmsg:
		rec_begin(e, r, PPME_SOCKET_RECVMSG_X, 6);
		fill_msg(e, regs, ret, 0);
		return 1;
	case SCAP_NR_sendmmsg:
	case SCAP_NR_recvmmsg:
		fill_mmsg(e, r, regs, ret, nr == SCAP_NR_sendmmsg);
		return 2;
	}
	return 0;
}

static int fill_state(struct rec *e, struct ring *r, struct pt_regs *regs, long nr, long ret)
{
	const struct cred *cred;

	switch (nr) {
	case SCAP_NR_prctl:
		rec_begin(e, r, PPME_SYSCALL_PRCTL_X, 4);
		fill_prctl(e, regs, ret);
		return 1;
	case SCAP_NR_socketpair:
		rec_begin(e, r, PPME_SOCKET_SOCKETPAIR_X, 8);
		fill_socketpair(e, regs, ret);
		return 1;
	case SCAP_NR_fcntl:
		rec_begin(e, r, PPME_SYSCALL_FCNTL_X, 4);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_u8(e, fcntl_cmd(arg(regs, 1)));
		put_u64(e, arg(regs, 2));
		return 1;
	case SCAP_NR_eventfd:
		rec_begin(e, r, PPME_SYSCALL_EVENTFD_X, 3);
		put_s64(e, ret);
		put_u64(e, (u32)arg(regs, 0));
		put_u32(e, 0); /* eventfd(2) has no flags */
		return 1;
	case SCAP_NR_eventfd2:
		rec_begin(e, r, PPME_SYSCALL_EVENTFD2_X, 3);
		put_s64(e, ret);
		put_u16(e, nb_cloexec(arg(regs, 1)));
		put_u64(e, (u32)arg(regs, 0));
		return 1;
	case SCAP_NR_signalfd:
		rec_begin(e, r, PPME_SYSCALL_SIGNALFD_X, 4);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, user_sigmask(arg(regs, 1)));
		put_u8(e, 0);
		return 1;
	case SCAP_NR_signalfd4:
		rec_begin(e, r, PPME_SYSCALL_SIGNALFD4_X, 4);
		put_s64(e, ret);
		put_u16(e, nb_cloexec(arg(regs, 3)));
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, user_sigmask(arg(regs, 1)));
		return 1;
	case SCAP_NR_timerfd_create:
		rec_begin(e, r, PPME_SYSCALL_TIMERFD_CREATE_X, 3);
		put_s64(e, ret);
		put_u8(e, arg(regs, 0));
		put_u8(e, 0); /* libs sends no flags here */
		return 1;
	case SCAP_NR_inotify_init:
		rec_begin(e, r, PPME_SYSCALL_INOTIFY_INIT_X, 2);
		put_s64(e, ret);
		put_u8(e, 0);
		return 1;
	case SCAP_NR_inotify_init1:
		rec_begin(e, r, PPME_SYSCALL_INOTIFY_INIT1_X, 2);
		put_s64(e, ret);
		put_u16(e, nb_cloexec(arg(regs, 0)));
		return 1;
	case SCAP_NR_epoll_create:
		rec_begin(e, r, PPME_SYSCALL_EPOLL_CREATE_X, 2);
		put_s64(e, ret);
		put_u32(e, (s32)arg(regs, 0));
		return 1;
	case SCAP_NR_epoll_create1:
		rec_begin(e, r, PPME_SYSCALL_EPOLL_CREATE1_X, 2);
		put_s64(e, ret);
		put_u32(e, arg(regs, 0) & O_CLOEXEC ? 1 : 0); /* EPOLL_CLOEXEC -> PPM_EPOLL_CLOEXEC */
		return 1;
	case SCAP_NR_userfaultfd:
		rec_begin(e, r, PPME_SYSCALL_USERFAULTFD_X, 2);
		put_s64(e, ret);
		put_u32(e, nb_cloexec(arg(regs, 0)));
		return 1;
	case SCAP_NR_pidfd_open:
		rec_begin(e, r, PPME_SYSCALL_PIDFD_OPEN_X, 3);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, arg(regs, 1) & O_NONBLOCK ? 1 : 0); /* PIDFD_NONBLOCK -> PPM 1 */
		return 1;
	case SCAP_NR_pidfd_getfd:
		rec_begin(e, r, PPME_SYSCALL_PIDFD_GETFD_X, 4);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_s64(e, (int)arg(regs, 1));
		put_u32(e, arg(regs, 2));
		return 1;
	case SCAP_NR_io_uring_setup:
		rec_begin(e, r, PPME_SYSCALL_IO_URING_SETUP_X, 8);
		fill_io_uring_setup(e, regs, ret);
		return 1;
	case SCAP_NR_close_range:
		rec_begin(e, r, PPME_SYSCALL_CLOSE_RANGE_X, 4);
		put_s64(e, ret);
		put_u32(e, arg(regs, 0));
		put_u32(e, arg(regs, 1));
		put_u32(e, arg(regs, 2)); /* CLOSE_RANGE_* as the kernel has them */
		return 1;
	case SCAP_NR_setsid:
		rec_begin(e, r, PPME_SYSCALL_SETSID_X, 1);
		put_s64(e, ret);
		return 1;
	case SCAP_NR_setpgid:
		rec_begin(e, r, PPME_SYSCALL_SETPGID_X, 3);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_s64(e, (int)arg(regs, 1));
		return 1;
	case SCAP_NR_capset:
		/* the caller's sets after the call, as execve reports them */
		rec_begin(e, r, PPME_SYSCALL_CAPSET_X, 4);
		cred = current_cred();
		put_s64(e, ret);
		put_u64(e, cap_u64(cred->cap_inheritable));
		put_u64(e, cap_u64(cred->cap_permitted));
		put_u64(e, cap_u64(cred->cap_effective));
		return 1;
	}
	return 0;
}

static int fill_more(struct rec *e, struct ring *r, struct pt_regs *regs, long nr, long ret)
{
	u32 fl;

	switch (nr) {
	case SCAP_NR_creat:
		rec_begin(e, r, PPME_SYSCALL_CREAT_X, 6);
		put_s64(e, ret);
		put_ustr(e, (void __user *)arg(regs, 0));
		put_u32(e, arg(regs, 1) & 07777);
		put_dev_ino(e, ret, NULL);
		put_u16(e, created_flag(ret) ? 1 : 0);
		return 1;
	case SCAP_NR_openat2: {
		struct open_how how = {};
		rec_begin(e, r, PPME_SYSCALL_OPENAT2_X, 8);
		if (copy_from_user_nofault(&how, (void __user *)arg(regs, 2),
					   min_t(unsigned long, arg(regs, 3), sizeof(how))))
			memset(&how, 0, sizeof(how));
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_ustr(e, (void __user *)arg(regs, 1));
		put_u32(e, open_flags(how.flags) | created_flag(ret));
		put_u32(e, open_mode(how.flags, how.mode));
		put_u32(e, openat2_resolve(how.resolve));
		put_dev_ino(e, ret, NULL);
		return 1;
	}
	case SCAP_NR_bind:
		rec_begin(e, r, PPME_SOCKET_BIND_X, 3);
		put_s64(e, ret);
		put_usockaddr(e, (void __user *)arg(regs, 1), arg(regs, 2));
		put_s64(e, (int)arg(regs, 0));
		return 1;
	case SCAP_NR_sendto:
		rec_begin(e, r, PPME_SOCKET_SENDTO_X, 5);
		put_s64(e, ret);
		put_ubytes(e, (void __user *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, arg(regs, 2));
		put_tuple_addr(e, (int)arg(regs, 0), 0, (void __user *)arg(regs, 4));
		return 1;
	case SCAP_NR_recvfrom:
		rec_begin(e, r, PPME_SOCKET_RECVFROM_X, 5);
		put_s64(e, ret);
		put_ubytes(e, (void __user *)arg(regs, 1), io_len(ret), MAX_SNAPLEN);
		put_tuple_addr(e, (int)arg(regs, 0), 1, ret >= 0 ? (void __user *)arg(regs, 4) : NULL);
		put_s64(e, (int)arg(regs, 0));
		put_u32(e, arg(regs, 2));
		return 1;
	case SCAP_NR_dup3:
		rec_begin(e, r, PPME_SYSCALL_DUP3_X, 4);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_s64(e, (int)arg(regs, 1));
		put_u32(e, arg(regs, 2) & O_CLOEXEC ? (1 << 12) : 0); /* PPM_O_CLOEXEC */
		return 1;
	case SCAP_NR_pipe:
		rec_begin(e, r, PPME_SYSCALL_PIPE_X, 4);
		put_pipe(e, ret, (void __user *)arg(regs, 0));
		return 1;
	case SCAP_NR_pipe2:
		rec_begin(e, r, PPME_SYSCALL_PIPE2_X, 5);
		put_pipe(e, ret, (void __user *)arg(regs, 0));
		put_u32(e, open_flags(arg(regs, 1)) & ~3U);
		return 1;
	case SCAP_NR_ptrace: {
		u16 req = ppm_ptrace_request(arg(regs, 0));
		rec_begin(e, r, PPME_SYSCALL_PTRACE_X, 5);
		put_s64(e, ret);
		put_dyn(e, 0, arg(regs, 2)); /* addr */
		/* data: the signal to deliver for CONT, SINGLESTEP, DETACH, SYSCALL */
		put_dyn(e, (req == 8 || req == 10 || req == 12 || req == 13) ? 1 : 0, arg(regs, 3));
		put_u16(e, req);
		put_s64(e, (int)arg(regs, 1));
		return 1;
	}
	case SCAP_NR_init_module:
		rec_begin(e, r, PPME_SYSCALL_INIT_MODULE_X, 4);
		put_s64(e, ret);
		put_ubytes(e, (void __user *)arg(regs, 0), arg(regs, 1), IO_SNAPLEN); /* the head */
		put_u64(e, arg(regs, 1));
		put_ustr(e, (void __user *)arg(regs, 2));
		return 1;
	case SCAP_NR_unlinkat:
		rec_begin(e, r, PPME_SYSCALL_UNLINKAT_2_X, 4);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_ustr(e, (void __user *)arg(regs, 1));
		put_u32(e, arg(regs, 2) & AT_REMOVEDIR ? 1 : 0); /* PPM_AT_REMOVEDIR */
		return 1;
	}
	if (fill_state(e, r, regs, nr, ret))
		return 1;
	fl = fill_io(e, r, regs, nr, ret);
	if (fl)
		return fl;
	fl = simple_index[nr];
	if (fl) {
		fill_simple(e, r, regs, ret, &simple_fillers[fl - 1]);
		return 1;
	}
	return 0;
}

/* Returns 0 when the syscall has no dedicated filler (generic event), 2 when the filler
 * submitted its records itself (sendmmsg/recvmmsg), 1 when the record is ready. */
static int fill(struct rec *e, struct ring *r, struct pt_regs *regs, long nr, long ret)
{
	u32 fl;

	switch (nr) {
	case SCAP_NR_open:
		rec_begin(e, r, PPME_SYSCALL_OPEN_X, 6);
		fl = arg(regs, 1);
		put_s64(e, ret);
		put_ustr(e, (void __user *)arg(regs, 0));
		put_u32(e, open_flags(fl) | created_flag(ret));
		put_u32(e, open_mode(fl, arg(regs, 2)));
		put_dev_ino(e, ret, NULL);
		return 1;
	case SCAP_NR_openat:
		rec_begin(e, r, PPME_SYSCALL_OPENAT_2_X, 7);
		fl = arg(regs, 2);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		put_ustr(e, (void __user *)arg(regs, 1));
		put_u32(e, open_flags(fl) | created_flag(ret));
		put_u32(e, open_mode(fl, arg(regs, 3)));
		put_dev_ino(e, ret, NULL);
		return 1;
	case SCAP_NR_close:
		rec_begin(e, r, PPME_SYSCALL_CLOSE_X, 2);
		put_s64(e, ret);
		put_s64(e, (int)arg(regs, 0));
		return 1;
	case SCAP_NR_clone:
		rec_begin(e, r, PPME_SYSCALL_CLONE_20_X, 21);
		fill_clone(e, ret, arg(regs, 0));
		return 1;
	case SCAP_NR_fork:
		rec_begin(e, r, PPME_SYSCALL_FORK_20_X, 21);
		fill_clone(e, ret, 0);
		return 1;
	case SCAP_NR_vfork:
		rec_begin(e, r, PPME_SYSCALL_VFORK_20_X, 21);
		fill_clone(e, ret, CLONE_VM | CLONE_VFORK);
		return 1;
	case SCAP_NR_clone3: {
		u64 flags = 0;
		rec_begin(e, r, PPME_SYSCALL_CLONE3_X, 21);
		if (copy_from_user_nofault(&flags, (void __user *)arg(regs, 0), sizeof(flags)))
			flags = 0;
		fill_clone(e, ret, flags);
		return 1;
	}
	case SCAP_NR_execve:
		rec_begin(e, r, PPME_SYSCALL_EXECVE_19_X, 31);
		fill_exec(e, regs, ret, 0);
		return 1;
	case SCAP_NR_execveat:
		rec_begin(e, r, PPME_SYSCALL_EXECVEAT_X, 30);
		fill_exec(e, regs, ret, 1);
		return 1;
	case SCAP_NR_socket:
		/* current libs, as driver/bpf writes it: fd, domain as PPM_AF (Linux numbers up
		 * to AF_NFC, 39; newer ones PPM_AF_UNSPEC), type as passed (SOCK_* flags
		 * included), proto, flags (SOCK_NONBLOCK/CLOEXEC as PPM_O_*) */
		rec_begin(e, r, PPME_SOCKET_SOCKET_X, 5);
		put_s64(e, ret);
		put_u32(e, arg(regs, 0) <= 39 ? arg(regs, 0) : 0);
		put_u32(e, arg(regs, 1));
		put_u32(e, arg(regs, 2));
		put_u32(e, socket_flags(arg(regs, 1)));
		return 1;
	case SCAP_NR_connect: {
		long fd = (int)arg(regs, 0);
		rec_begin(e, r, PPME_SOCKET_CONNECT_X, 4);
		put_s64(e, ret);
		if (ret == 0 || ret == -EINPROGRESS)
			put_tuple(e, fd, 0);
		else
			put_empty(e);
		put_s64(e, fd);
		put_usockaddr(e, (void __user *)arg(regs, 1), arg(regs, 2));
		return 1;
	}
	case SCAP_NR_accept:
		rec_begin(e, r, PPME_SOCKET_ACCEPT_5_X, 5);
		put_accept_common(e, ret, (int)arg(regs, 0));
		return 1;
	case SCAP_NR_accept4:
		rec_begin(e, r, PPME_SOCKET_ACCEPT4_6_X, 6);
		put_accept_common(e, ret, (int)arg(regs, 0));
		put_u32(e, arg(regs, 3));
		return 1;
	}
	return fill_more(e, r, regs, nr, ret);
}

/* ------------------------------------------------------------------ */
/* Tracepoint probes                                                   */
/* ------------------------------------------------------------------ */

static int wanted(u32 slot)
{
	if (!READ_ONCE(capture_on) || slot >= SCAP_MAX_SYSCALLS || !READ_ONCE(table.interesting[slot]))
		return 0;
	if (drop_tgid && current->tgid == READ_ONCE(drop_tgid))
		return 0;
	return 1;
}

/* The current CPU's ring if a reader has it, with preemption off. */
static struct ring *ring_get(void)
{
	int cpu = get_cpu();
	struct ring *r = cpu < nrings ? &rings[cpu] : NULL;

	if (!r || !smp_load_acquire(&r->readable)) {
		put_cpu();
		return NULL;
	}
	return r;
}

static void probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long nr = syscall_get_nr(current, regs);
	struct ring *r;
	struct rec e;

	if (nr < 0 || nr >= SCAP_PROCEXIT_SLOT || in_compat_syscall() || !wanted(nr))
		return;
	r = ring_get();
	if (!r)
		return;
	switch (fill(&e, r, regs, nr, ret)) {
	case 0:
		rec_begin(&e, r, PPME_GENERIC_X, 2);
		put_u16(&e, READ_ONCE(table.ppm_sc[nr]));
		put_u16(&e, nr);
		fallthrough;
	case 1:
		rec_submit(&e);
	}
	put_cpu();
}

static void probe_sched_exec(void *data, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_slot *s = &exec_slots[p->pid % EXEC_SLOTS];
	unsigned long flags;

	if (!READ_ONCE(capture_on))
		return;
	spin_lock_irqsave(&exec_lock, flags);
	s->pid = p->pid;
	s->len = strscpy(s->name, bprm->filename, sizeof(s->name));
	s->len = (int)s->len < 0 ? 0 : s->len + 1;
	spin_unlock_irqrestore(&exec_lock, flags);
}

static void probe_sched_exit(void *data, struct task_struct *p)
{
	struct ring *r;
	struct rec e;
	int code = p->exit_code;

	if (!wanted(SCAP_PROCEXIT_SLOT))
		return;
	r = ring_get();
	if (!r)
		return;
	rec_begin(&e, r, PPME_PROCEXIT_1_E, 5);
	put_s64(&e, code);
	put_s64(&e, (code >> 8) & 0xff);
	put_u8(&e, code & 0x7f);
	put_u8(&e, (code & 0x80) ? 1 : 0);
	put_s64(&e, 0); /* reaper_tid: resolved by sinsp */
	rec_submit(&e);
	put_cpu();
}

struct tp_def {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	int registered;
};

static struct tp_def tps[] = {
	{ "sys_exit", probe_sys_exit },
	{ "sched_process_exec", probe_sched_exec },
	{ "sched_process_exit", probe_sched_exit },
};

static void visit_tp(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(tps); i++)
		if (!strcmp(tp->name, tps[i].name))
			tps[i].tp = tp;
}

static void tps_unregister(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(tps); i++) {
		if (tps[i].registered)
			tracepoint_probe_unregister(tps[i].tp, tps[i].probe, NULL);
		tps[i].registered = 0;
	}
	tracepoint_synchronize_unregister();
}

static int tps_register(void)
{
	int i, rc;

	for_each_kernel_tracepoint(visit_tp, NULL);
	for (i = 0; i < ARRAY_SIZE(tps); i++) {
		if (!tps[i].tp) {
			pr_err("pyfalco: tracepoint %s not found\n", tps[i].name);
			tps_unregister();
			return -ENOENT;
		}
		rc = tracepoint_probe_register(tps[i].tp, tps[i].probe, NULL);
		if (rc) {
			pr_err("pyfalco: cannot register %s: %d\n", tps[i].name, rc);
			tps_unregister();
			return rc;
		}
		tps[i].registered = 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Character devices                                                   */
/* ------------------------------------------------------------------ */

static int pf_open(struct inode *inode, struct file *filp)
{
	unsigned int cpu = iminor(inode);
	struct ring *r;

	if (cpu >= nrings || !rings[cpu].mem)
		return -ENODEV;
	r = &rings[cpu];
	if (atomic_cmpxchg(&r->open, 0, 1))
		return -EBUSY;
	/* No writer can be inside: readable was 0 and release waited them out. */
	r->info->head = 0;
	r->info->tail = 0;
	r->info->n_evts = 0;
	r->info->n_drops_buffer = 0;
	r->info->n_drops_size = 0;
	r->info->n_drops_pf = 0;
	memset(r->info->n_drops_buffer_cat, 0, sizeof(r->info->n_drops_buffer_cat));
	filp->private_data = r;
	smp_store_release(&r->readable, 1);
	return 0;
}

static int pf_release(struct inode *inode, struct file *filp)
{
	struct ring *r = filp->private_data;
	unsigned int i, any = 0;

	WRITE_ONCE(r->readable, 0);
	synchronize_rcu(); /* probes run with preemption off: wait for writers */
	atomic_set(&r->open, 0);
	for (i = 0; i < nrings; i++)
		any |= atomic_read(&rings[i].open);
	if (!any) {
		WRITE_ONCE(capture_on, 0);
		WRITE_ONCE(drop_tgid, 0);
		WRITE_ONCE(snaplen, SCAP_SNAPLEN);
	}
	return 0;
}

static int pf_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct ring *r = filp->private_data;

	if (vma->vm_end - vma->vm_start > PAGE_SIZE + r->info->ring_size)
		return -EINVAL;
	return remap_vmalloc_range(vma, r->mem, vma->vm_pgoff);
}

static long pf_ioctl(struct file *filp, unsigned int cmd, unsigned long argp)
{
	struct pyfalco_syscall_table *t;

	switch (cmd) {
	case PYFALCO_IOCTL_START:
		WRITE_ONCE(capture_on, 1);
		return 0;
	case PYFALCO_IOCTL_STOP:
		WRITE_ONCE(capture_on, 0);
		return 0;
	case PYFALCO_IOCTL_SET_SYSCALLS:
		t = kmalloc(sizeof(*t), GFP_KERNEL);
		if (!t)
			return -ENOMEM;
		if (copy_from_user(t, (void __user *)argp, sizeof(*t))) {
			kfree(t);
			return -EFAULT;
		}
		/* byte-wise stores: a probe sees each entry old or new */
		memcpy(table.ppm_sc, t->ppm_sc, sizeof(table.ppm_sc));
		memcpy(table.interesting, t->interesting, sizeof(table.interesting));
		kfree(t);
		return 0;
	case PYFALCO_IOCTL_SET_DROP_TGID:
		WRITE_ONCE(drop_tgid, (u32)argp);
		return 0;
	case PYFALCO_IOCTL_SET_SNAPLEN:
		WRITE_ONCE(snaplen, min_t(unsigned long, argp, MAX_SNAPLEN));
		return 0;
	case PYFALCO_IOCTL_GET_API_VERSION:
		return PYFALCO_KMOD_API_VERSION;
	case PYFALCO_IOCTL_GET_NDEVS:
		return nrings;
	}
	return -ENOTTY;
}

static const struct file_operations fops = {
	.owner = THIS_MODULE,
	.open = pf_open,
	.release = pf_release,
	.mmap = pf_mmap,
	.unlocked_ioctl = pf_ioctl,
};

static void free_rings(void)
{
	unsigned int i;

	for (i = 0; i < nrings; i++) {
		vfree(rings[i].mem);
		vfree(rings[i].scratch);
	}
	kfree(rings);
	rings = NULL;
}

static void destroy_devices(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (rings[i].mem) {
			device_destroy(cls, MKDEV(MAJOR(devt), i));
			cdev_del(&rings[i].cdev);
		}
	}
}

static int __init pyfalco_init(void)
{
	unsigned int i;
	int rc;

	if (ring_bytes < (64 << 10) || ring_bytes > (1U << 30) || (ring_bytes & (ring_bytes - 1))) {
		pr_err("pyfalco: ring_bytes must be a power of two in [64 KiB, 1 GiB]\n");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(simple_fillers); i++)
		simple_index[simple_fillers[i].nr] = i + 1;
	nrings = nr_cpu_ids;
	rings = kcalloc(nrings, sizeof(*rings), GFP_KERNEL);
	if (!rings)
		return -ENOMEM;
	for (i = 0; i < nrings; i++) {
		struct ring *r = &rings[i];
		if (!cpu_possible(i))
			continue;
		r->mem = vmalloc_user(PAGE_SIZE + ring_bytes);
		r->scratch = vmalloc(SCAP_MAX_EVENT);
		if (!r->mem || !r->scratch) {
			free_rings();
			return -ENOMEM;
		}
		r->info = r->mem;
		r->data = (u8 *)r->mem + PAGE_SIZE;
		r->info->api_version = PYFALCO_KMOD_API_VERSION;
		r->info->ring_size = ring_bytes;
	}
	rc = alloc_chrdev_region(&devt, 0, nrings, "pyfalco");
	if (rc)
		goto err_rings;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	cls = class_create("pyfalco");
#else
	cls = class_create(THIS_MODULE, "pyfalco");
#endif
	if (IS_ERR(cls)) {
		rc = PTR_ERR(cls);
		goto err_region;
	}
	for (i = 0; i < nrings; i++) {
		struct ring *r = &rings[i];
		struct device *d;
		if (!r->mem)
			continue;
		cdev_init(&r->cdev, &fops);
		r->cdev.owner = THIS_MODULE;
		rc = cdev_add(&r->cdev, MKDEV(MAJOR(devt), i), 1);
		if (rc)
			goto err_devices;
		d = device_create(cls, NULL, MKDEV(MAJOR(devt), i), NULL, "pyfalco%u", i);
		if (IS_ERR(d)) {
			cdev_del(&r->cdev);
			rc = PTR_ERR(d);
			goto err_devices;
		}
	}
	rc = tps_register();
	if (rc)
		goto err_devices;
	pr_info("pyfalco: %u rings of %u bytes, api %d\n", nrings, ring_bytes, PYFALCO_KMOD_API_VERSION);
	return 0;
err_devices:
	destroy_devices(i);
	class_destroy(cls);
err_region:
	unregister_chrdev_region(devt, nrings);
err_rings:
	free_rings();
	return rc;
}

static void __exit pyfalco_exit(void)
{
	WRITE_ONCE(capture_on, 0);
	tps_unregister();
	destroy_devices(nrings);
	class_destroy(cls);
	unregister_chrdev_region(devt, nrings);
	free_rings();
}

module_init(pyfalco_init);
module_exit(pyfalco_exit);

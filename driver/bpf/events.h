/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire contract between the pyfalco probe (probe.bpf.c) and user space
 * (scap/_native/bpf_ring.c).  This header is the *only* definition of it.
 *
 * Every ring-buffer sample is `u16 cpu` followed by one event record in the
 * scap layout (header, u16 parameter lengths, parameter bytes), i.e. the body
 * of an EV block without its padding.  The drain strips the cpu into a side
 * array so the records land back to back in the caller's buffer and the one
 * scap decoder reads them exactly like records from a file.
 *
 * Event numbers and parameter layouts are those of current falcosecurity/libs
 * (exit-only style: the exit event carries the enter-time arguments too).
 *
 * Included by BPF C (with vmlinux.h types) and by ordinary C (stdint), so it
 * uses only the fixed-width names below.
 */
#ifndef PYFALCO_EVENTS_H
#define PYFALCO_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bumped when the sample layout or the maps change (checked at open). */
#define SCAP_BPF_API_VERSION 3
/* Bumped when an event's parameter layout changes. */
#define SCAP_BPF_SCHEMA_VERSION 3

/* Size limits.  SCAP_MAX_EVENT must be a power of two: the probe masks write
 * offsets with it so the verifier can bound every store. */
#define SCAP_MAX_EVENT (32 * 1024)
#define SCAP_MAX_PATH 4096
#define SCAP_MAX_ARGS 4096
#define SCAP_MAX_ENV 4096
#define SCAP_MAX_CGROUP_PATH 256
#define SCAP_SNAPLEN 80 /* default I/O bytes kept (sysdig -s); at most 256 */
#define SCAP_MAX_SYSCALLS 512 /* x86_64 syscall numbers are below this */
#define SCAP_SAMPLE_PREFIX 2  /* the u16 cpu before each record */
/* syscall_table slot (no x86_64 syscall has it) that enables procexit records */
#define SCAP_PROCEXIT_SLOT (SCAP_MAX_SYSCALLS - 1)

struct scap_evt_hdr {
	__u64 ts;      /* ns since the epoch */
	__u64 tid;
	__u32 len;     /* header + lengths + params */
	__u16 type;    /* PPME_* */
	__u32 nparams;
} __attribute__((packed));

#define SCAP_HDR_LEN 26

/* Per-syscall entry of the in-kernel filter table (index: native number). */
struct scap_syscall_entry {
	__u8 interesting; /* 0: return at once; 1: record */
	__u8 pad;
	__u16 ppm_sc;     /* PPM_SC_* code used in the generic event */
};

/* Run-time configuration (array map `probe_config`, key 0). */
struct scap_config {
	__u64 boot_time_ns;  /* epoch ns at boot: ts = boot_time + bpf_ktime_get_boot_ns() */
	__u32 drop_tgid;     /* process whose syscalls are ignored (0: none) */
	__u32 snaplen;       /* bytes of I/O data kept (default SCAP_SNAPLEN, at most 256) */
	__u32 capture_on;    /* 0: everything returns at once */
	__u32 api_version;   /* written by the loader, read back as a sanity check */
};

/* Drop categories (index into scap_counters.n_drops_buffer_cat), libs' grouping of exit
 * events: the probe is exit-only, so every *_enter category stays 0. */
enum scap_drop_category {
	SCAP_DROP_CLONE_FORK = 0, /* clone, clone3, fork, vfork */
	SCAP_DROP_EXECVE,         /* execve, execveat */
	SCAP_DROP_CONNECT,        /* connect */
	SCAP_DROP_OPEN,           /* open, creat, openat, openat2 */
	SCAP_DROP_DIR_FILE,       /* chmod.., link.., mkdir.., mount, umount2, rename.., rmdir, symlink.., unlink.. */
	SCAP_DROP_OTHER_INTEREST, /* bpf, setpgid, ptrace, setns, setresgid/uid, setsid, unshare, capset */
	SCAP_DROP_CLOSE,          /* close */
	SCAP_DROP_PROC_EXIT,      /* procexit */
	SCAP_DROP_CATEGORIES
};

/* Per-CPU counters (per-CPU array map `counters`, key 0). */
struct scap_counters {
	__u64 n_evts;          /* records submitted */
	__u64 n_drops_buffer;  /* ring buffer full: record lost */
	__u64 n_drops_size;    /* record larger than SCAP_MAX_EVENT: params truncated */
	/* n_drops_buffer of the records of these categories (libs' and Falco's
	 * n_drops_buffer_*_exit; other types count only in the total) */
	__u64 n_drops_buffer_cat[SCAP_DROP_CATEGORIES];
};

/* Event types emitted by the probe (current libs numbering). */
enum scap_ppme {
	PPME_GENERIC_X = 1,
	PPME_SYSCALL_OPEN_X = 3,
	PPME_SYSCALL_CLOSE_X = 5,
	PPME_SOCKET_SOCKET_X = 19,
	PPME_SOCKET_BIND_X = 21,
	PPME_SOCKET_CONNECT_X = 23,
	PPME_SOCKET_LISTEN_X = 25,
	PPME_SOCKET_SENDTO_X = 31,
	PPME_SOCKET_RECVFROM_X = 35,
	PPME_SYSCALL_CREAT_X = 59,
	PPME_SYSCALL_PIPE_X = 61,
	PPME_SYSCALL_CHDIR_X = 95,
	PPME_SYSCALL_FCHDIR_X = 97,
	PPME_SYSCALL_KILL_X = 129,
	PPME_SYSCALL_PTRACE_X = 169,
	PPME_SYSCALL_RENAME_X = 175,
	PPME_SYSCALL_RENAMEAT_X = 177,
	PPME_SYSCALL_SYMLINK_X = 179,
	PPME_SYSCALL_SYMLINKAT_X = 181,
	PPME_SCHEDSWITCH_6_E = 152,
	PPME_PROCEXIT_1_E = 186,
	PPME_SYSCALL_SETRESUID_X = 193,
	PPME_SYSCALL_SETRESGID_X = 195,
	PPME_SYSCALL_SETUID_X = 199,
	PPME_SYSCALL_SETGID_X = 201,
	PPME_SYSCALL_CLONE_20_X = 223,
	PPME_SYSCALL_FORK_20_X = 225,
	PPME_SYSCALL_VFORK_20_X = 227,
	PPME_SYSCALL_SETNS_X = 241,
	PPME_SOCKET_ACCEPT_5_X = 247,
	PPME_SYSCALL_MOUNT_X = 257,
	PPME_SYSCALL_CHROOT_X = 267,
	PPME_SYSCALL_MKDIR_2_X = 277,
	PPME_SYSCALL_RMDIR_2_X = 279,
	PPME_SYSCALL_UNSHARE_X = 285,
	PPME_SYSCALL_EXECVE_19_X = 293,
	PPME_SYSCALL_UNLINK_2_X = 301,
	PPME_SYSCALL_UNLINKAT_2_X = 303,
	PPME_SYSCALL_MKDIRAT_X = 305,
	PPME_SYSCALL_OPENAT_2_X = 307,
	PPME_SYSCALL_LINK_2_X = 309,
	PPME_SYSCALL_LINKAT_2_X = 311,
	PPME_SYSCALL_FCHMODAT_X = 313,
	PPME_SYSCALL_CHMOD_X = 315,
	PPME_SYSCALL_FCHMOD_X = 317,
	PPME_SYSCALL_RENAMEAT2_X = 319,
	PPME_SYSCALL_OPENAT2_X = 327,
	PPME_SYSCALL_EXECVEAT_X = 331,
	PPME_SYSCALL_CLONE3_X = 335,
	PPME_SYSCALL_DUP2_X = 363,
	PPME_SYSCALL_DUP3_X = 365,
	PPME_SYSCALL_DUP_1_X = 367,
	PPME_SYSCALL_BPF_2_X = 369,
	PPME_SOCKET_ACCEPT4_6_X = 389,
	PPME_SYSCALL_UMOUNT2_X = 391,
	PPME_SYSCALL_PRCTL_X = 401,
	PPME_SYSCALL_PIPE2_X = 393,
	PPME_SYSCALL_MEMFD_CREATE_X = 405,
	PPME_SYSCALL_INIT_MODULE_X = 411,
	PPME_SYSCALL_FINIT_MODULE_X = 413,
	PPME_SYSCALL_SETREUID_X = 427,
	PPME_SYSCALL_SETREGID_X = 429,
	/* schema 3: fd-creating and state syscalls, I/O */
	PPME_SYSCALL_READ_X = 7,
	PPME_SYSCALL_WRITE_X = 9,
	PPME_SOCKET_SOCKETPAIR_X = 43,
	PPME_SOCKET_SENDMSG_X = 49,
	PPME_SOCKET_RECVMSG_X = 53,
	PPME_SOCKET_SENDMMSG_X = 51,
	PPME_SOCKET_RECVMMSG_X = 55,
	PPME_SYSCALL_EVENTFD_X = 63,
	PPME_SYSCALL_PREAD_X = 113,
	PPME_SYSCALL_PWRITE_X = 115,
	PPME_SYSCALL_READV_X = 117,
	PPME_SYSCALL_WRITEV_X = 119,
	PPME_SYSCALL_SIGNALFD_X = 127,
	PPME_SYSCALL_TIMERFD_CREATE_X = 137,
	PPME_SYSCALL_INOTIFY_INIT_X = 139,
	PPME_SYSCALL_FCNTL_X = 151,
	PPME_SYSCALL_SETSID_X = 275,
	PPME_SYSCALL_SETPGID_X = 295,
	PPME_SYSCALL_USERFAULTFD_X = 321,
	PPME_SYSCALL_IO_URING_SETUP_X = 339,
	PPME_SYSCALL_CAPSET_X = 353,
	PPME_SYSCALL_EPOLL_CREATE_X = 375,
	PPME_SYSCALL_EPOLL_CREATE1_X = 377,
	PPME_SYSCALL_INOTIFY_INIT1_X = 395,
	PPME_SYSCALL_EVENTFD2_X = 397,
	PPME_SYSCALL_SIGNALFD4_X = 399,
	PPME_SYSCALL_PIDFD_GETFD_X = 407,
	PPME_SYSCALL_PIDFD_OPEN_X = 409,
	PPME_SYSCALL_CLOSE_RANGE_X = 451,
};

/* x86_64 syscall numbers the probe has a filler for (stable kernel ABI). */
enum scap_nr {
	SCAP_NR_close = 3, SCAP_NR_open = 2, SCAP_NR_pipe = 22, SCAP_NR_dup = 32,
	SCAP_NR_dup2 = 33, SCAP_NR_socket = 41, SCAP_NR_connect = 42, SCAP_NR_accept = 43,
	SCAP_NR_sendto = 44, SCAP_NR_recvfrom = 45, SCAP_NR_bind = 49, SCAP_NR_listen = 50,
	SCAP_NR_clone = 56, SCAP_NR_fork = 57, SCAP_NR_vfork = 58, SCAP_NR_execve = 59,
	SCAP_NR_kill = 62, SCAP_NR_chdir = 80, SCAP_NR_fchdir = 81, SCAP_NR_rename = 82,
	SCAP_NR_mkdir = 83, SCAP_NR_rmdir = 84, SCAP_NR_creat = 85, SCAP_NR_link = 86,
	SCAP_NR_unlink = 87, SCAP_NR_symlink = 88, SCAP_NR_chmod = 90, SCAP_NR_fchmod = 91, SCAP_NR_setuid = 105,
	SCAP_NR_setgid = 106, SCAP_NR_setreuid = 113, SCAP_NR_setregid = 114,
	SCAP_NR_setresuid = 117, SCAP_NR_setresgid = 119, SCAP_NR_chroot = 161,
	SCAP_NR_mount = 165, SCAP_NR_umount2 = 166, SCAP_NR_openat = 257, SCAP_NR_mkdirat = 258,
	SCAP_NR_unlinkat = 263, SCAP_NR_renameat = 264, SCAP_NR_linkat = 265,
	SCAP_NR_symlinkat = 266, SCAP_NR_fchmodat = 268, SCAP_NR_unshare = 272,
	SCAP_NR_accept4 = 288, SCAP_NR_dup3 = 292, SCAP_NR_pipe2 = 293, SCAP_NR_setns = 308,
	SCAP_NR_renameat2 = 316, SCAP_NR_memfd_create = 319, SCAP_NR_execveat = 322,
	SCAP_NR_clone3 = 435, SCAP_NR_openat2 = 437, SCAP_NR_bpf = 321, SCAP_NR_init_module = 175,
	SCAP_NR_finit_module = 313, SCAP_NR_ptrace = 101, SCAP_NR_prctl = 157,
	SCAP_NR_read = 0, SCAP_NR_write = 1, SCAP_NR_pread64 = 17, SCAP_NR_pwrite64 = 18,
	SCAP_NR_readv = 19, SCAP_NR_writev = 20, SCAP_NR_sendmsg = 46, SCAP_NR_recvmsg = 47,
	SCAP_NR_socketpair = 53, SCAP_NR_fcntl = 72, SCAP_NR_setpgid = 109, SCAP_NR_setsid = 112,
	SCAP_NR_capset = 126, SCAP_NR_epoll_create = 213, SCAP_NR_inotify_init = 253,
	SCAP_NR_signalfd = 282, SCAP_NR_timerfd_create = 283, SCAP_NR_eventfd = 284,
	SCAP_NR_signalfd4 = 289, SCAP_NR_eventfd2 = 290, SCAP_NR_epoll_create1 = 291,
	SCAP_NR_inotify_init1 = 294, SCAP_NR_userfaultfd = 323, SCAP_NR_io_uring_setup = 425,
	SCAP_NR_pidfd_open = 434, SCAP_NR_close_range = 436, SCAP_NR_pidfd_getfd = 438,
	SCAP_NR_sendmmsg = 307, SCAP_NR_recvmmsg = 299,
};

#endif /* PYFALCO_EVENTS_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI between the pyfalco kernel module (driver/kmod/main.c) and its
 * user-space reader (scap/_native/kmod_ring.c).  Included by both.
 *
 * One character device per possible CPU, /dev/pyfalco<N>.  Each owns a ring
 * of records the module writes at that CPU.  mmap(offset 0) of a device maps
 *   page 0:                struct pyfalco_ring_info (head/tail + counters)
 *   pages 1..:             ring_size bytes of data
 * The records are the scap event records of driver/bpf/events.h (26-byte
 * header, u16 lengths, params; current libs numbering, exit-only layouts),
 * back to back with no padding and no cpu prefix (the device is the cpu).
 * A record may wrap around the end of the data area; the reader copies it
 * out in two pieces.
 *
 * head and tail are free-running byte counters (mod 2^32): the module only
 * advances head (release store after the bytes), the reader only advances
 * tail (release store after it copied them out).  used = head - tail.
 */
#ifndef PYFALCO_KMOD_H
#define PYFALCO_KMOD_H

#include "events.h"

#ifdef __KERNEL__
#include <linux/ioctl.h>
#else
#include <sys/ioctl.h>
#endif

/* Bumped when the ring layout, the info page or an ioctl changes. */
#define PYFALCO_KMOD_API_VERSION 3
#define PYFALCO_KMOD_DEVICE_PREFIX "/dev/pyfalco"

struct pyfalco_ring_info {
	__u32 head;            /* written by the module */
	__u32 tail;            /* written by the reader */
	__u32 api_version;     /* PYFALCO_KMOD_API_VERSION */
	__u32 ring_size;       /* bytes of data after the info page (power of two) */
	__u64 n_evts;          /* records written */
	__u64 n_drops_buffer;  /* records lost: ring full */
	__u64 n_drops_size;    /* records written with params emptied: over SCAP_MAX_EVENT */
	__u64 n_drops_pf;      /* user memory not resident: a param left empty */
	/* n_drops_buffer of the records of these categories (events.h enum
	 * scap_drop_category, libs' and Falco's n_drops_buffer_*_exit names, as the
	 * probe counts them; other types count only in the total) */
	__u64 n_drops_buffer_cat[SCAP_DROP_CATEGORIES];
};

/* Per-syscall table, index: x86_64 syscall number (same meaning as the BPF
 * probe's syscall_table); slot SCAP_PROCEXIT_SLOT enables procexit. */
struct pyfalco_syscall_table {
	__u8 interesting[SCAP_MAX_SYSCALLS];
	__u16 ppm_sc[SCAP_MAX_SYSCALLS];
};

#define PYFALCO_IOCTL_MAGIC 'p'
/* Recording on/off for every CPU. */
#define PYFALCO_IOCTL_START _IO(PYFALCO_IOCTL_MAGIC, 1)
#define PYFALCO_IOCTL_STOP _IO(PYFALCO_IOCTL_MAGIC, 2)
#define PYFALCO_IOCTL_SET_SYSCALLS _IOW(PYFALCO_IOCTL_MAGIC, 3, struct pyfalco_syscall_table)
/* arg: a tgid whose syscalls are not recorded (0: none) */
#define PYFALCO_IOCTL_SET_DROP_TGID _IO(PYFALCO_IOCTL_MAGIC, 4)
/* return value: PYFALCO_KMOD_API_VERSION */
#define PYFALCO_IOCTL_GET_API_VERSION _IO(PYFALCO_IOCTL_MAGIC, 5)
/* return value: number of devices (highest possible cpu + 1) */
#define PYFALCO_IOCTL_GET_NDEVS _IO(PYFALCO_IOCTL_MAGIC, 6)
/* arg: bytes of I/O data kept per record (default SCAP_SNAPLEN, at most 256); back to the
 * default when the last reader closes */
#define PYFALCO_IOCTL_SET_SNAPLEN _IO(PYFALCO_IOCTL_MAGIC, 7)

#endif /* PYFALCO_KMOD_H */

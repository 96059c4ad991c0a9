/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Static test program run inside the qemu guest (see run.py): drives the
 * pyfalco module through scap/_native/kmod_ring.c -- the same reader the
 * Python engine uses -- triggers known syscalls, and writes what it drained
 * to a raw serial port for the host test to decode with scap.
 *
 *   kmod-guest TABLE OUT [TABLE2]
 * TABLE: the syscall table from scap.engines.kmod.syscall_table (512 bytes
 * interesting + 512 little-endian u16 PPM_SC codes).  OUT: /dev/ttyS1.
 * TABLE2 (optional): phase 3 runs with it and with our own tgid dropped.
 *
 * OUT stream: "PYFKMOD1", then per phase: u32 phase, u32 n, u32 used,
 * n x (u32 offset, u16 cpu), used bytes of records; then "PYFKEND!".
 * Facts the host checks against (pids, port, ...) go to stdout (the
 * console) as "KMOD key=value" lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kmod_ring.h"

#define MAXN 200000
#define CAP (64u << 20)

static char err[SCAP_KMOD_ERR_LEN];
static uint8_t *buf;
static uint32_t offsets[MAXN];
static uint16_t cpus[MAXN];

static void die(const char *what, int rc)
{
	printf("KMOD error=%s rc=%d msg=%s\n", what, rc, err);
	fflush(stdout);
	exit(1);
}

static void wr(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			perror("write");
			exit(2);
		}
		b += k;
		n -= (size_t)k;
	}
}

/* Drain everything recorded so far into buf; returns the record count. */
static uint32_t drain_all(struct scap_kmod *h, size_t *used_total)
{
	uint32_t n = 0;
	size_t used_total_ = 0;

	for (;;) {
		size_t used = 0;
		int k = scap_kmod_drain(h, buf + used_total_, CAP - used_total_, offsets + n,
					cpus + n, MAXN - n, 0, &used, err);
		if (k < 0)
			die("drain", k);
		if (k == 0)
			break;
		for (int i = 0; i < k; i++)
			offsets[n + i] += (uint32_t)used_total_;
		n += (uint32_t)k;
		used_total_ += used;
		if (n == MAXN || used_total_ + 65536 > CAP)
			break;
	}
	*used_total = used_total_;
	return n;
}

static void emit(int out, uint32_t phase, uint32_t n, size_t used)
{
	uint32_t hdr[3] = {phase, n, (uint32_t)used};
	wr(out, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < n; i++) {
		wr(out, &offsets[i], 4);
		wr(out, &cpus[i], 2);
	}
	wr(out, buf, used);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void stats(struct scap_kmod *h, const char *tag)
{
	struct scap_kmod_stats st;
	scap_kmod_get_stats(h, &st, err);
	printf("KMOD %s_evts=%llu %s_drops_buffer=%llu %s_drops_size=%llu %s_drops_pf=%llu "
	       "ndevs=%u ring_size=%u\n", tag, (unsigned long long)st.n_evts, tag,
	       (unsigned long long)st.n_drops_buffer, tag, (unsigned long long)st.n_drops_size,
	       tag, (unsigned long long)st.n_drops_pf, st.ndevs, st.ring_size);
	for (int k = 0; k < 8; k++) /* drops by category (events.h scap_drop_category order) */
		printf("KMOD %s_cat%d=%llu\n", tag, k, (unsigned long long)st.n_drops_buffer_cat[k]);
}

/* ---- phase 4: fd-creating and state syscalls (the fillers that type fds in sinsp) ---- */
static void phase_state(struct scap_kmod *h, int out)
{
	char name[16] = {0};
	int sub = 0, sp[2] = {-1, -1}, rc;
	uint64_t mask = 1ull << (10 - 1); /* SIGUSR1 */
	struct io_uring_params up = {.flags = 0x8 /* IORING_SETUP_CQSIZE */, .cq_entries = 16};
	struct __user_cap_header_struct chdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct cdata[2];
	size_t used;
	uint32_t n;

	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	long pr_set = prctl(PR_SET_NAME, "kmodstate", 0, 0, 0);
	prctl(PR_GET_NAME, name, 0, 0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0);
	long spr = syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sp);
	int file = openat(AT_FDCWD, "/tmp/kmod-state", O_CREAT | O_WRONLY, 0600);
	long fdup = syscall(SYS_fcntl, file, 1030 /* F_DUPFD_CLOEXEC */, 60);
	long efd = syscall(SYS_eventfd, 7);
	long efd2 = syscall(SYS_eventfd2, 3, O_CLOEXEC | O_NONBLOCK);
	long sfd = syscall(SYS_signalfd, -1, &mask, 8);
	long sfd4 = syscall(SYS_signalfd4, -1, &mask, 8, O_CLOEXEC);
	long tfd = syscall(SYS_timerfd_create, 1 /* CLOCK_MONOTONIC */, 0);
	long ifd = syscall(SYS_inotify_init);
	long ifd1 = syscall(SYS_inotify_init1, O_NONBLOCK);
	long ep = syscall(SYS_epoll_create, 5);
	long ep1 = syscall(SYS_epoll_create1, O_CLOEXEC);
	errno = 0;
	long ufd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	long ufd_err = errno;
	long pfd = syscall(434 /* pidfd_open */, getpid(), 0);
	long pgfd = syscall(438 /* pidfd_getfd */, pfd, efd, 0);
	errno = 0;
	long ur = syscall(425 /* io_uring_setup */, 4, &up);
	long ur_err = errno;
	syscall(SYS_capget, &chdr, cdata);
	cdata[0].effective &= ~(1u << 13); /* drop CAP_NET_RAW */
	long cs = syscall(SYS_capset, &chdr, cdata);
	long spg = syscall(SYS_setpgid, 0, 0); /* our own group (init's child: pgid 0 before) */
	pid_t kid = fork();
	if (kid == 0)
		_exit(syscall(SYS_setsid) == getpid() ? 0 : 1);
	int status = 0;
	waitpid(kid, &status, 0);
	long cr = syscall(436 /* close_range */, file, 200, 0);
	syscall(SYS_close, sp[0]);
	syscall(SYS_close, sp[1]);
	scap_kmod_stop(h, err);
	printf("KMOD s_pid=%d s_prctl=%ld s_name=%s s_sub=%d s_spr=%ld s_sp0=%d s_sp1=%d "
	       "s_file=%d s_fdup=%ld s_efd=%ld s_efd2=%ld s_sfd=%ld s_sfd4=%ld s_tfd=%ld s_ifd=%ld "
	       "s_ifd1=%ld s_ep=%ld s_ep1=%ld s_ufd=%ld s_pfd=%ld s_pgfd=%ld s_ur=%ld "
	       "s_sq=%u s_cq=%u s_feat=%u s_cs=%ld s_eff=%llu s_pgid=%d s_spg=%ld s_kid=%d "
	       "s_kid_status=%d s_cr=%ld\n",
	       getpid(), pr_set, name, sub, spr, sp[0], sp[1], file, fdup, efd, efd2, sfd, sfd4,
	       tfd, ifd, ifd1, ep, ep1, ufd < 0 ? -ufd_err : ufd, pfd, pgfd,
	       ur < 0 ? -ur_err : ur, up.sq_entries, up.cq_entries, up.features, cs,
	       (unsigned long long)cdata[0].effective | (unsigned long long)cdata[1].effective << 32,
	       getpgid(0), spg, kid, status, cr);
	n = drain_all(h, &used);
	emit(out, 4, n, used);
}

/* ---- phase 5: I/O calls (data cut to the snaplen, unconnected UDP tuples, msgcontrol) ---- */
static int udp_bound(struct sockaddr_in *sa)
{
	socklen_t sl = sizeof(*sa);
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)sa, sizeof(*sa));
	getsockname(s, (struct sockaddr *)sa, &sl);
	return s;
}

static void phase_io(struct scap_kmod *h, int out)
{
	char big[200], rbuf[256], c1[4], c2[64];
	int sp[2], rc;
	size_t used;
	uint32_t n;

	memset(big, 'k', sizeof(big));
	memcpy(big, "kmod-io:", 8);
	if ((rc = scap_kmod_start(h, err))) /* the fds' creation recorded too, for sinsp */
		die("start", rc);
	syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sp);
	int file = openat(AT_FDCWD, "/tmp/kmod-io", O_CREAT | O_RDWR | O_TRUNC, 0600);
	struct sockaddr_in rxa, txa, from, mfrom[3];
	int rx = udp_bound(&rxa), tx = udp_bound(&txa);
	long w = syscall(SYS_write, sp[0], big, 100);
	long r = syscall(SYS_read, sp[1], rbuf, sizeof(rbuf));
	long pw = syscall(SYS_pwrite64, file, "pwrite-data", 11, 5);
	long pr = syscall(SYS_pread64, file, rbuf, 11, 5);
	struct iovec wv[2] = {{"v1-data", 7}, {"v2", 2}};
	long wvr = syscall(SYS_writev, file, wv, 2);
	lseek(file, 0, SEEK_SET);
	struct iovec rv[2] = {{c1, sizeof(c1)}, {c2, sizeof(c2)}};
	long rvr = syscall(SYS_readv, file, rv, 2);
	/* sendmsg with two iovecs and an SCM_RIGHTS fd; recvmsg with a control buffer */
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ctl, rctl;
	memset(&ctl, 0, sizeof(ctl));
	memset(&rctl, 0, sizeof(rctl));
	struct iovec sv[2] = {{"first-iov", 9}, {"second", 6}};
	struct msghdr sm = {.msg_iov = sv, .msg_iovlen = 2, .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&sm);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &file, sizeof(int));
	long sm_r = syscall(SYS_sendmsg, sp[0], &sm, 0);
	struct iovec riov = {rbuf, 64};
	struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rctl.b,
			    .msg_controllen = sizeof(rctl.b)};
	long rm_r = syscall(SYS_recvmsg, sp[1], &rm, 0);
	int passed = -1;
	if (rm_r > 0 && CMSG_FIRSTHDR(&rm))
		memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&rm)), sizeof(int));
	/* unconnected UDP: the tuple's remote end is the datagram's address */
	struct iovec uv = {"udp-one", 7};
	struct msghdr um = {.msg_name = &rxa, .msg_namelen = sizeof(rxa), .msg_iov = &uv,
			    .msg_iovlen = 1};
	long usm = syscall(SYS_sendmsg, tx, &um, 0);
	struct iovec urv = {rbuf, 64};
	struct msghdr urm = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &urv,
			     .msg_iovlen = 1};
	long urm_r = syscall(SYS_recvmsg, rx, &urm, 0);
	long ust = syscall(SYS_sendto, tx, "udp-two", 7, 0, &rxa, sizeof(rxa));
	socklen_t fl = sizeof(from);
	long urf = syscall(SYS_recvfrom, rx, rbuf, 64, 0, &from, &fl);
	/* sendmmsg/recvmmsg: one record per message */
	connect(tx, (struct sockaddr *)&rxa, sizeof(rxa));
	static const char *pay[3] = {"mmsg-one", "mmsg-second", "mmsg-3"};
	struct iovec mv[3], mrv[3];
	struct mmsghdr mm[3], mrm[3];
	char mbuf[3][32];
	memset(mm, 0, sizeof(mm));
	memset(mrm, 0, sizeof(mrm));
	for (int i = 0; i < 3; i++) {
		mv[i].iov_base = (void *)pay[i];
		mv[i].iov_len = strlen(pay[i]);
		mm[i].msg_hdr.msg_iov = &mv[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mrv[i].iov_base = mbuf[i];
		mrv[i].iov_len = 32;
		mrm[i].msg_hdr.msg_iov = &mrv[i];
		mrm[i].msg_hdr.msg_iovlen = 1;
		mrm[i].msg_hdr.msg_name = &mfrom[i];
		mrm[i].msg_hdr.msg_namelen = sizeof(mfrom[i]);
	}
	long smm = syscall(SYS_sendmmsg, tx, mm, 3, 0);
	long rmm = syscall(SYS_recvmmsg, rx, mrm, 3, 0, NULL);
	/* a larger snaplen: 150 of the 200 bytes kept */
	if ((rc = scap_kmod_set_snaplen(h, 150, err)))
		die("set_snaplen", rc);
	long w2 = syscall(SYS_write, sp[0], big, 200);
	scap_kmod_set_snaplen(h, 80, err);
	scap_kmod_stop(h, err);
	printf("KMOD io_pid=%d io_sp0=%d io_sp1=%d io_file=%d io_w=%ld io_r=%ld io_pw=%ld io_pr=%ld "
	       "io_wv=%ld io_rv=%ld io_sm=%ld io_rm=%ld io_passed=%d io_ctl=%zu io_rx=%d io_tx=%d "
	       "io_rxport=%d io_txport=%d io_usm=%ld io_urm=%ld io_ust=%ld io_urf=%ld io_smm=%ld "
	       "io_rmm=%ld io_w2=%ld\n",
	       getpid(), sp[0], sp[1], file, w, r, pw, pr, wvr, rvr, sm_r, rm_r, passed,
	       (size_t)rm.msg_controllen, rx, tx, ntohs(rxa.sin_port), ntohs(txa.sin_port), usm,
	       urm_r, ust, urf, smm, rmm, w2);
	n = drain_all(h, &used);
	emit(out, 5, n, used);
	close(sp[0]);
	close(sp[1]);
	close(file);
	close(passed);
	close(rx);
	close(tx);
}

/* ---- phase 6: drops by category.  Pinned to cpu 0, its ring filled with getppid (a generic
 * event: no category), then failed closes and opens that find the ring full. ---- */
static void phase_drops(struct scap_kmod *h, int out)
{
	cpu_set_t one, all;
	int rc, closes = 300, opens = 200;
	size_t used;
	uint32_t n;

	sched_getaffinity(0, sizeof(all), &all);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	stats(h, "p6a");
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	for (int i = 0; i < 20000; i++)
		syscall(SYS_getppid);
	for (int i = 0; i < closes; i++)
		syscall(SYS_close, -1);
	for (int i = 0; i < opens; i++)
		syscall(SYS_openat, AT_FDCWD, "/nonexistent-kmod-drop", O_RDONLY);
	scap_kmod_stop(h, err);
	sched_setaffinity(0, sizeof(all), &all);
	printf("KMOD d_pid=%d d_closes=%d d_opens=%d\n", getpid(), closes, opens);
	stats(h, "p6");
	n = drain_all(h, &used);
	emit(out, 6, n, used);
}

/* ---- phase 7: an open/close loop, for the live hot path (sinsp.hotpath) offline ---- */
static void phase_hot(struct scap_kmod *h, int out)
{
	int rc, loops = 200, last = -1;
	size_t used;
	uint32_t n;

	int keep = openat(AT_FDCWD, "/tmp/kmod-hot", O_CREAT | O_WRONLY, 0600);
	close(keep);
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	for (int i = 0; i < loops; i++) {
		last = openat(AT_FDCWD, "/tmp/kmod-hot", O_RDONLY);
		close(last);
	}
	scap_kmod_stop(h, err);
	printf("KMOD h_pid=%d h_loops=%d h_fd=%d\n", getpid(), loops, last);
	n = drain_all(h, &used);
	emit(out, 7, n, used);
}

int main(int argc, char **argv)
{
	uint8_t table[512 + 1024];
	struct scap_kmod *h;
	struct termios tio;
	int rc, out, tfd;
	size_t used;
	uint32_t n;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s TABLE OUT [TABLE2]\n", argv[0]);
		return 2;
	}
	buf = malloc(CAP);
	tfd = open(argv[1], O_RDONLY);
	if (tfd < 0 || read(tfd, table, sizeof(table)) != (ssize_t)sizeof(table))
		return 3;
	close(tfd);
	out = open(argv[2], O_WRONLY | O_NOCTTY);
	if (out < 0) {
		perror(argv[2]);
		return 4;
	}
	if (tcgetattr(out, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(out, TCSANOW, &tio);
	}

	rc = scap_kmod_open("/dev/pyfalco", &h, err);
	if (rc)
		die("open", rc);
	uint16_t ppm_sc[512];
	memcpy(ppm_sc, table + 512, sizeof(ppm_sc));
	if ((rc = scap_kmod_set_syscalls(h, table, ppm_sc, 512, err)))
		die("set_syscalls", rc);
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);

	/* ---- phase 1: known syscalls ---- */
	int fd = openat(AT_FDCWD, "/tmp/kmod-probe.txt", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0640);
	close(fd);
	int bad = openat(AT_FDCWD, "/nonexistent/kmod", O_RDONLY);
	pid_t child = fork();
	if (child == 0) {
		char *cargv[] = {"busybox", "sh", "-c", "exit 3", NULL};
		char *cenv[] = {"PYFALCO_KMOD=1", NULL};
		if (chdir("/dev")) /* execve's cwd param */
			_exit(126);
		execve("/bin/busybox", cargv, cenv);
		_exit(127);
	}
	int status = 0;
	waitpid(child, &status, 0);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	bind(ls, (struct sockaddr *)&sa, sizeof(sa));
	listen(ls, 4);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	int cs = socket(AF_INET, SOCK_STREAM, 0);
	int crc = connect(cs, (struct sockaddr *)&sa, sizeof(sa));
	int as = accept(ls, NULL, NULL);
	struct sockaddr_in cl;
	sl = sizeof(cl);
	getsockname(cs, (struct sockaddr *)&cl, &sl);
	char rbuf[64] = {0};
	long sent = sendto(cs, "hello-kmod", 10, 0, NULL, 0);
	long got = recvfrom(as, rbuf, sizeof(rbuf), 0, NULL, NULL);
	close(as);
	close(cs);
	close(ls);
	/* fd, path and credential syscalls, made directly so the syscall numbers are known */
	int pfd[2] = {-1, -1};
	long prc = syscall(SYS_pipe2, pfd, O_CLOEXEC | O_NONBLOCK);
	long d1 = syscall(SYS_dup, pfd[0]);
	long d2 = syscall(SYS_dup2, pfd[0], 40);
	long d3 = syscall(SYS_dup3, pfd[1], 41, O_CLOEXEC);
	syscall(SYS_close, d1);
	syscall(SYS_close, d2);
	syscall(SYS_close, d3);
	syscall(SYS_close, pfd[0]);
	syscall(SYS_close, pfd[1]);
	long mk = syscall(SYS_mkdir, "/tmp/kd", 0750);
	long rn = syscall(SYS_rename, "/tmp/kd", "/tmp/kd2");
	long sy = syscall(SYS_symlink, "/tmp/kd2", "/tmp/kl");
	long ul = syscall(SYS_unlink, "/tmp/kl");
	long rd = syscall(SYS_rmdir, "/tmp/kd2");
	long cm = syscall(SYS_chmod, "/tmp/kmod-probe.txt", 0600);
	long cd = syscall(SYS_chdir, "/tmp");
	long ua = syscall(SYS_unlinkat, AT_FDCWD, "kmod-probe.txt", 0);
	long su = syscall(SYS_setuid, 0);
	long kl = syscall(SYS_kill, getpid(), 0);
	errno = 0;
	long pt = syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, 1, 0x1000, 0);
	long pt_errno = errno;
	long im = syscall(SYS_init_module, "\177ELF-not-a-module", 18, "kmod=1");
	long im_errno = errno;
	/* flags in libs' encoding: socket's SOCK_* bits, umount2's PPM_MNT, openat2's resolve
	 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; "/" is not beneath the cwd: EXDEV) */
	int fsock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	close(fsock);
	syscall(SYS_umount2, "/nonexistent-kmod", 0x2 | 0x8 | 0x100);
	struct { uint64_t flags, mode, resolve; } how = {O_RDONLY, 0, 0x08 | 0x04};
	long o2 = syscall(437 /* openat2 */, AT_FDCWD, "/", &how, sizeof(how));
	if (o2 >= 0)
		close(o2);
	long ppid = syscall(SYS_getppid);
	scap_kmod_stop(h, err);
	printf("KMOD pid=%d child=%d status=%d fd=%d bad=%d errno_bad=%d port=%d cport=%d "
	       "crc=%d as=%d lfd=%d cfd=%d ppid=%ld fsock=%d\n", getpid(), child, status, fd, bad,
	       ENOENT, ntohs(sa.sin_port), ntohs(cl.sin_port), crc, as, ls, cs, ppid, fsock);
	printf("KMOD sent=%ld got=%ld pipe_rc=%ld pipe0=%d pipe1=%d dup=%ld dup2=%ld dup3=%ld "
	       "mkdir=%ld rename=%ld symlink=%ld unlink=%ld rmdir=%ld chmod=%ld chdir=%ld "
	       "unlinkat=%ld setuid=%ld kill=%ld ptrace=%ld init_module=%ld\n", sent, got, prc, pfd[0], pfd[1], d1, d2, d3,
	       mk, rn, sy, ul, rd, cm, cd, ua, su, kl,
	       pt < 0 ? -pt_errno : pt, im < 0 ? -im_errno : im);
	stats(h, "p1");
	wr(out, "PYFKMOD1", 8);
	n = drain_all(h, &used);
	emit(out, 1, n, used);

	/* ---- phase 2: overflow the rings without draining ---- */
	const int issued = 100000;
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	for (int i = 0; i < issued; i++)
		syscall(SYS_getppid);
	scap_kmod_stop(h, err);
	printf("KMOD issued=%d\n", issued);
	stats(h, "p2");
	double t0 = now();
	n = drain_all(h, &used);
	double t_drain = now() - t0;
	emit(out, 2, n, used);
	uint32_t n2 = n;

	/* ---- timing (not accounted): getppid with recording off, then on ---- */
	t0 = now();
	for (int i = 0; i < issued; i++)
		syscall(SYS_getppid);
	double t_off = now() - t0;
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	t0 = now();
	for (int i = 0; i < issued; i++)
		syscall(SYS_getppid);
	double t_on = now() - t0;
	scap_kmod_stop(h, err);
	/* TCG guest: absolute numbers are slow, the ratios are what mean something */
	printf("KMOD ns_per_syscall_off=%d ns_per_syscall_on=%d drain_ns_per_record=%d\n",
	       (int)(t_off * 1e9 / issued), (int)(t_on * 1e9 / issued),
	       n2 ? (int)(t_drain * 1e9 / n2) : 0);
	drain_all(h, &used); /* discard what the timed loop recorded */
	/* the I/O filler's cost: 64-byte writes to /dev/null, recording off then on (the rings
	 * are drained every 2000 writes so none is dropped) */
	int null = open("/dev/null", O_WRONLY);
	const int writes = 20000;
	char wbuf[64];
	memset(wbuf, 'w', sizeof(wbuf));
	t0 = now();
	for (int i = 0; i < writes; i++)
		syscall(SYS_write, null, wbuf, sizeof(wbuf));
	t_off = now() - t0;
	double t_drains = 0;
	if ((rc = scap_kmod_start(h, err)))
		die("start", rc);
	t0 = now();
	for (int i = 0; i < writes; i++) {
		syscall(SYS_write, null, wbuf, sizeof(wbuf));
		if (i % 2000 == 1999) {
			double d0 = now();
			drain_all(h, &used);
			t_drains += now() - d0;
		}
	}
	t_on = now() - t0 - t_drains;
	scap_kmod_stop(h, err);
	drain_all(h, &used);
	close(null);
	printf("KMOD ns_per_write_off=%d ns_per_write_on=%d\n", (int)(t_off * 1e9 / writes),
	       (int)(t_on * 1e9 / writes));

	/* ---- phase 3: another in-kernel table, our own process dropped ---- */
	if (argc == 4) {
		uint8_t table2[512 + 1024];
		uint16_t ppm_sc2[512];
		tfd = open(argv[3], O_RDONLY);
		if (tfd < 0 || read(tfd, table2, sizeof(table2)) != (ssize_t)sizeof(table2))
			return 3;
		close(tfd);
		memcpy(ppm_sc2, table2 + 512, sizeof(ppm_sc2));
		if ((rc = scap_kmod_set_syscalls(h, table2, ppm_sc2, 512, err)))
			die("set_syscalls", rc);
		if ((rc = scap_kmod_set_drop_tgid(h, getpid(), err)))
			die("set_drop_tgid", rc);
		if ((rc = scap_kmod_start(h, err)))
			die("start", rc);
		pid_t kid = fork();
		if (kid == 0) {
			int k = openat(AT_FDCWD, "/tmp/kmod-child", O_CREAT | O_WRONLY, 0600);
			close(k);
			syscall(SYS_getppid);
			_exit(0);
		}
		int p3 = openat(AT_FDCWD, "/tmp/kmod-parent", O_CREAT | O_WRONLY, 0600);
		close(p3);
		syscall(SYS_getppid);
		waitpid(kid, &status, 0);
		scap_kmod_stop(h, err);
		printf("KMOD p3_child=%d p3_fd=%d\n", kid, p3);
		n = drain_all(h, &used);
		emit(out, 3, n, used);
	}
	/* ---- phases 4..: the whole table again, nothing dropped ---- */
	memcpy(ppm_sc, table + 512, sizeof(ppm_sc));
	if ((rc = scap_kmod_set_syscalls(h, table, ppm_sc, 512, err)))
		die("set_syscalls", rc);
	if ((rc = scap_kmod_set_drop_tgid(h, 0, err)))
		die("set_drop_tgid", rc);
	phase_state(h, out);
	phase_io(h, out);
	phase_drops(h, out);
	phase_hot(h, out);
	wr(out, "PYFKEND!", 8);
	tcdrain(out);
	close(out);
	scap_kmod_close(h);
	printf("KMOD done=1\n");
	fflush(stdout);
	return 0;
}

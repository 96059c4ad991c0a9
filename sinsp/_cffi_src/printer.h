/*
 * printer: sysdig 0.29.3's default line (`sysdig -r F`) rendered in C, in batches.
 *
 * The Python state layer (sinsp) stays the only source of truth.  This side keeps a small
 * cache of what the line needs from it (tid -> comm and fd table; (table, fd) -> the fd's
 * rendered text; flag words -> their names), renders the events that change no state
 * straight from the scanner's record buffer and columns, and stops, returning a PR_* code,
 * whenever Python must act: an event the state layer parses (PR_PYTHON), a cache miss
 * (PR_MISS_*), a full output buffer (PR_FULL) or the -n limit (PR_LIMIT).  The cache is kept
 * coherent by Python (sinsp/_printer.py): it drops entries after every event it processes.
 *
 * Only this header declares the API; sinsp/_cffi_src/build_printer.py reads it as the cdef.
 */
#ifndef PR_PRINTER_H
#define PR_PRINTER_H

#include <stddef.h>
#include <stdint.h>

#define PR_ABI 7

/* why pr_run returned */
#define PR_DONE 0
#define PR_PYTHON 1
#define PR_MISS_TID 2
#define PR_MISS_FD 3
#define PR_MISS_FLAGS 4
#define PR_FULL 5
#define PR_LIMIT 6

/* per event type: how the printer treats it */
#define PR_CLS_C 0      /* rendered here when every parameter can be */
#define PR_CLS_PYTHON 1 /* the state layer parses it (or it is shown differently) */
#define PR_CLS_SKIP 2   /* past sysdig 0.29.3's table: neither numbered nor counted */
#define PR_CLS_GENERIC 3 /* `syscall` events: named by their syscall id, no args */
/* close exits (sinsp's parse_close_exit): rendered here when the thread's enter is the close
 * enter this printer rendered last in the batch, its fd an int64 and the result an int64;
 * a result >= 0 marks the fd closed in the cache and queues (table, fd) for Python to remove
 * from the state (pr_closes) before it handles anything else */
#define PR_CLS_CLOSE 4
/* exits whose parser changes nothing when the enter's fd is not in the thread's table
 * (sinsp's send/recv tuple parsers): rendered here when the enter is this batch's enter of
 * the type C rendered last and its fd (>= 0) is cached as absent; an uncached fd is a
 * PR_MISS_FD, anything else goes to Python */
#define PR_CLS_FDNOP 5

/* parameter kinds (see sinsp/_printer.py for the mapping from the event table) */
#define PR_K_PYTHON 0
#define PR_K_INT 1
#define PR_K_INTFMT 2
#define PR_K_ERRNO 3
#define PR_K_CHARBUF 4
#define PR_K_FD 5
#define PR_K_PID 6
#define PR_K_FLAGS 7
#define PR_K_PATH 8
#define PR_K_BYTEBUF 9
#define PR_K_SOCKADDR 10
#define PR_K_SOCKTUPLE 11
#define PR_K_SYSCALLID 12
#define PR_K_SIGTYPE 13
#define PR_K_RELTIME 14

/* integer layouts (PR_K_INT / PR_K_INTFMT aux, low byte) */
#define PR_I_S8 1
#define PR_I_S16 2
#define PR_I_S32 3
#define PR_I_S64 4
#define PR_I_U8 5
#define PR_I_U16 6
#define PR_I_U32 7
/* PR_K_INTFMT aux, second byte */
#define PR_F_OCT 1
#define PR_F_HEX 2
#define PR_F_PAD 3

/* one batch of records: the scanner's buffer and its output columns (scap_evt_cols) */
typedef struct {
	const uint8_t *buf;
	const uint64_t *ts;
	const int64_t *tid;
	const uint64_t *rec_start;
	const uint64_t *rec_end;
	const uint32_t *nparams;
	const uint32_t *dump_flags;
	const uint16_t *type;
	const uint16_t *cpu;
	const uint64_t *seq;
	const uint64_t *block_off;
	uint32_t n;
	uint32_t i; /* next event to look at; pr_run leaves it on the event it stopped at */
} pr_batch;

typedef struct {
	/* the output text, flushed by Python */
	char *out;
	uint64_t out_len;
	uint64_t out_cap;
	/* -n accounting, shared with the Python loop (sinsp.sysdig_cli._print_prefiltered) */
	int64_t count;
	int64_t last_seq;
	int64_t limit;
	int64_t tz_offset; /* seconds added to the timestamps (gmt2local) */
	/* what a PR_MISS_* asks for */
	int64_t miss_tid;
	uint64_t miss_table;
	int64_t miss_fd;
	uint32_t miss_type;
	uint32_t miss_param;
	uint64_t miss_value;
	/* counters */
	uint64_t n_c;      /* lines rendered here */
	uint64_t n_misses; /* cache misses */
	uint64_t first_ts; /* ts of the first event rendered here (0: none yet) */
	uint32_t n_touched;   /* entries pr_touched would return */
	uint32_t check_limit; /* set with PR_PYTHON: the next pr_run first checks the -n limit */
	uint32_t n_closes;    /* entries pr_closes would return (Python drains them after every
	                         pr_run, before anything else) */
	void *priv;
} pr_state;

int pr_abi(void);
pr_state *pr_new(uint64_t out_cap);
void pr_free(pr_state *p);

/* configuration: per type (head = "> name "), per parameter, names */
int pr_set_type(pr_state *p, uint32_t type, uint32_t cls, uint32_t touches, uint32_t renderable,
                const char *head, uint32_t head_len, uint32_t nshown);
int pr_set_param(pr_state *p, uint32_t type, uint32_t idx, uint32_t kind, uint32_t aux,
                 const char *prefix, uint32_t prefix_len);
int pr_set_name(pr_state *p, uint32_t table, uint32_t code, const char *name, uint32_t len);

/* run over b from b->i; returns a PR_* code.  PR_PYTHON leaves the event counted (-n): the
 * caller takes one back if the state layer hides it */
int pr_run(pr_state *p, pr_batch *b);

/* the line of event i (of any type whose parameters C renders), once Python processed it:
 * PR_DONE when written, a PR_MISS_*, PR_FULL, or PR_PYTHON (Python renders it) */
int pr_render(pr_state *p, const pr_batch *b, uint32_t i);

/* the cache, filled and dropped by Python */
int pr_put_thread(pr_state *p, int64_t tid, uint32_t present, int64_t pid, uint64_t table,
                  const char *comm, uint32_t comm_len);
int pr_put_fd(pr_state *p, uint64_t table, int64_t fd, uint32_t present, const char *text,
              uint32_t len);
int pr_put_flags(pr_state *p, uint32_t type, uint32_t param, uint64_t value, const char *text,
                 uint32_t len);
void pr_drop_thread(pr_state *p, int64_t tid);
uint32_t pr_drop_pid(pr_state *p, int64_t pid); /* how many entries it dropped */
void pr_drop_table(pr_state *p, uint64_t table);
void pr_reset(pr_state *p);

/* the thread cache's size, for tests: its tid table (slots, entries, tombstones), its pid
 * index (slots, pids) and how many tid entries pr_drop_pid has looked at in all (one per
 * entry it dropped: the index is exact) */
typedef struct {
	uint64_t tid_slots;
	uint64_t tid_live;
	uint64_t tid_deleted;
	uint64_t pid_slots;
	uint64_t pids;
	uint64_t drop_visits;
} pr_cache_counts;
void pr_cache_stats(pr_state *p, pr_cache_counts *s);

/* threads whose last enter event changed since the last call: (tid, batch index of the
 * enter, or -1 for "none"); returns how many were written to the arrays (at most cap; call
 * again while it returns cap) */
uint32_t pr_touched(pr_state *p, int64_t *tids, int64_t *idx, uint32_t cap);

/* the fds PR_CLS_CLOSE events closed since the last call, in order: (table, fd); returns how
 * many were written (at most cap; call again while it returns cap) */
uint32_t pr_closes(pr_state *p, uint64_t *tables, int64_t *fds, uint32_t cap);

/* append Python's text (a line) to the output; 0 when it does not fit */
int pr_append(pr_state *p, const char *text, uint64_t len);

#endif

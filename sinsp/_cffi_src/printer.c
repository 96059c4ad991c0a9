/*
 * printer: sysdig 0.29.3's default line rendered in C (see printer.h for the contract).
 *
 * Each rule below mirrors a Python function of sinsp/format.py (the reference: the
 * differential tests compare both on every capture):
 *   the line          Formatter._default_line
 *   PR_K_INT/INTFMT   _FAST_INT / printf_int
 *   PR_K_ERRNO        _errno_text
 *   PR_K_CHARBUF      _cstr
 *   PR_K_FD           _fd_text (the fd text itself is fd_desc, computed by Python)
 *   PR_K_PID          _pid_text
 *   PR_K_FLAGS        the flags memo of _compile_args (texts computed by Python)
 *   PR_K_PATH         the absolute-FSPATH case of _compile_args (sanitize(_cstr))
 *   PR_K_BYTEBUF      _render_bytebuf, dots mode, cut at 80
 *   PR_K_SOCKADDR     _sockaddr_str (unix and IPv4)
 *   PR_K_SOCKTUPLE    _socktuple_str (unix and IPv4)
 *   PR_K_SYSCALLID, PR_K_SIGTYPE, PR_K_RELTIME    param_str
 * Anything else (IPv6, relative paths, odd parameter sizes ...) returns PR_PYTHON and the
 * event is rendered by that Python code.
 */
#include "printer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTYPES 1024
#define MAXP 64
#define NNAMES 3
#define TID_MIN_CAP 1024

typedef struct {
	uint32_t kind, aux;
	char prefix[40];
	uint32_t prefix_len;
} pparam;

typedef struct {
	uint8_t cls, touches, renderable, set;
	char head[64];
	uint32_t head_len;
	uint32_t nshown;
	pparam *params;
} ptype;

typedef struct {
	int64_t tid, pid;
	uint64_t table;
	char *comm;
	uint32_t comm_len;
	uint32_t tpos; /* 1 + position in the touched list, 0 if not in it */
	uint32_t pprev, pnext; /* the pid's chain: 1 + slot of the neighbours, 0 at the ends */
	uint8_t state; /* 0 empty, 1 present, 2 absent, 3 deleted */
} tid_ent;

/* pid -> the chain of its tid entries (present or absent), so that dropping a pid costs its
 * own threads; linear probing with backward-shift deletion: no tombstones here */
typedef struct {
	int64_t pid;
	uint32_t head; /* 1 + slot of the first tid entry */
	uint32_t n;    /* entries in the chain (0: the slot is empty) */
} pid_ent;

typedef struct {
	uint64_t table;
	int64_t fd;
	uint32_t gen;
	uint8_t state; /* 0 empty, 1 present, 2 absent */
	char *text;
	uint32_t len;
} fd_ent;

typedef struct {
	uint64_t key, value;
	uint8_t state;
	char *text;
	uint32_t len;
} fl_ent;

typedef struct {
	char **s;
	uint32_t *len;
	uint32_t n;
} names_t;

typedef struct {
	ptype types[NTYPES];
	tid_ent *tids;
	uint32_t tid_cap, tid_live, tid_dead; /* slots, entries present or absent, tombstones */
	pid_ent *pids;
	uint32_t pid_cap, pid_used;
	uint64_t drop_visits; /* tid entries pr_drop_pid looked at (pr_cache_stats) */
	fd_ent *fds;
	uint32_t fd_cap, fd_used;
	uint32_t *gens;
	uint64_t ngens;
	fl_ent *fls;
	uint32_t fl_cap, fl_used;
	int64_t *t_tids, *t_idx;
	uint32_t t_n, t_cap;
	uint64_t *c_tables; /* the close queue (pr_closes) */
	int64_t *c_fds;
	uint32_t c_n, c_cap;
	names_t names[NNAMES];
} priv_t;

#define PRIV(p) ((priv_t *)(p)->priv)

int pr_abi(void) { return PR_ABI; }

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static char *dupn(const char *s, uint32_t n)
{
	char *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, s, n);
	return d;
}

/* -- pid index (linear probing, backward-shift deletion) --------------------------------- */

static pid_ent *pid_slot(priv_t *v, int64_t pid)
{
	uint32_t mask = v->pid_cap - 1;
	uint32_t h = (uint32_t)mix((uint64_t)pid ^ 0x5bd1e995ULL) & mask;
	for (;;) {
		pid_ent *e = &v->pids[h];
		if (!e->n || e->pid == pid)
			return e;
		h = (h + 1) & mask;
	}
}

static pid_ent *pid_find(priv_t *v, int64_t pid)
{
	pid_ent *e = pid_slot(v, pid);
	return e->n ? e : NULL;
}

static int pid_resize(priv_t *v, uint32_t cap)
{
	pid_ent *old = v->pids;
	uint32_t ocap = v->pid_cap;
	pid_ent *n = calloc(cap, sizeof(pid_ent));
	if (!n)
		return -1;
	v->pids = n;
	v->pid_cap = cap;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i].n)
			*pid_slot(v, old[i].pid) = old[i];
	free(old);
	return 0;
}

/* the entry to chain a tid onto (a new one has n == 0); NULL when out of memory */
static pid_ent *pid_get(priv_t *v, int64_t pid)
{
	pid_ent *e = pid_slot(v, pid);
	if (e->n)
		return e;
	if ((v->pid_used + 1) * 4 > v->pid_cap * 3) {
		if (pid_resize(v, v->pid_cap * 2))
			return NULL;
		e = pid_slot(v, pid);
	}
	e->pid = pid;
	e->head = 0;
	v->pid_used++;
	return e;
}

static void pid_remove(priv_t *v, pid_ent *e)
{
	uint32_t mask = v->pid_cap - 1;
	uint32_t i = (uint32_t)(e - v->pids), j = i;
	for (;;) {
		j = (j + 1) & mask;
		pid_ent *f = &v->pids[j];
		if (!f->n)
			break;
		uint32_t k = (uint32_t)mix((uint64_t)f->pid ^ 0x5bd1e995ULL) & mask;
		/* f stays unless its home k lies cyclically outside (i, j] */
		int stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
		if (!stays) {
			v->pids[i] = *f;
			i = j;
		}
	}
	memset(&v->pids[i], 0, sizeof(pid_ent));
	v->pid_used--;
}

static int pid_link(priv_t *v, uint32_t slot)
{
	tid_ent *e = &v->tids[slot];
	pid_ent *pe = pid_get(v, e->pid);
	if (!pe)
		return -1;
	e->pprev = 0;
	e->pnext = pe->head;
	if (pe->head)
		v->tids[pe->head - 1].pprev = slot + 1;
	pe->head = slot + 1;
	pe->n++;
	return 0;
}

static void pid_unlink(priv_t *v, uint32_t slot)
{
	tid_ent *e = &v->tids[slot];
	pid_ent *pe = pid_find(v, e->pid);
	if (!pe) /* cannot happen: every live entry is chained */
		return;
	if (e->pprev)
		v->tids[e->pprev - 1].pnext = e->pnext;
	else
		pe->head = e->pnext;
	if (e->pnext)
		v->tids[e->pnext - 1].pprev = e->pprev;
	e->pprev = e->pnext = 0;
	if (!--pe->n)
		pid_remove(v, pe);
}

/* -- tid map (open addressing, deletions marked, tombstones reused and rehashed away) ---- */

static tid_ent *tid_find(priv_t *v, int64_t tid)
{
	uint32_t mask = v->tid_cap - 1;
	uint32_t h = (uint32_t)mix((uint64_t)tid) & mask;
	for (;;) {
		tid_ent *e = &v->tids[h];
		if (e->state == 0)
			return NULL;
		if (e->state != 3 && e->tid == tid)
			return e;
		h = (h + 1) & mask;
	}
}

/* rebuild the table at cap slots (any size holding the live entries): tombstones go, and
 * the pid index is rebuilt since the slots moved */
static int tid_rehash(priv_t *v, uint32_t cap)
{
	tid_ent *n = calloc(cap, sizeof(tid_ent));
	uint32_t pcap = 64;
	while (pcap < cap / 2)
		pcap *= 2;
	pid_ent *pn = calloc(pcap, sizeof(pid_ent));
	if (!n || !pn) {
		free(n);
		free(pn);
		return -1;
	}
	tid_ent *old = v->tids;
	uint32_t ocap = v->tid_cap;
	free(v->pids);
	v->pids = pn;
	v->pid_cap = pcap;
	v->pid_used = 0;
	v->tids = n;
	v->tid_cap = cap;
	v->tid_dead = 0;
	for (uint32_t i = 0; i < ocap; i++) {
		tid_ent *e = &old[i];
		if (e->state == 1 || e->state == 2) {
			uint32_t h = (uint32_t)mix((uint64_t)e->tid) & (cap - 1);
			while (n[h].state)
				h = (h + 1) & (cap - 1);
			n[h] = *e;
			if (pid_link(v, h)) { /* cannot chain it: forget it (Python asks again) */
				free(n[h].comm);
				memset(&n[h], 0, sizeof(tid_ent));
				n[h].state = 3;
				v->tid_live--;
				v->tid_dead++;
			}
		} else {
			free(e->comm);
		}
	}
	free(old);
	return 0;
}

static void tid_del(priv_t *v, tid_ent *e)
{
	pid_unlink(v, (uint32_t)(e - v->tids));
	free(e->comm);
	e->comm = NULL;
	e->comm_len = 0;
	e->state = 3;
	e->tpos = 0;
	v->tid_live--;
	v->tid_dead++;
}

/* -- fd map (no deletions: an entry is stale when its table's generation moved on) ------- */

static uint32_t table_gen(priv_t *v, uint64_t table)
{
	return table < v->ngens ? v->gens[table] : 0;
}

static fd_ent *fd_slot(priv_t *v, uint64_t table, int64_t fd)
{
	uint32_t mask = v->fd_cap - 1;
	uint32_t h = (uint32_t)mix(table * 0x9E3779B97F4A7C15ULL ^ (uint64_t)fd) & mask;
	for (;;) {
		fd_ent *e = &v->fds[h];
		if (e->state == 0 || (e->table == table && e->fd == fd))
			return e;
		h = (h + 1) & mask;
	}
}

static void fd_clear(priv_t *v)
{
	for (uint32_t i = 0; i < v->fd_cap; i++)
		free(v->fds[i].text);
	memset(v->fds, 0, v->fd_cap * sizeof(fd_ent));
	v->fd_used = 0;
}

static int fd_grow(priv_t *v, uint32_t cap)
{
	fd_ent *old = v->fds;
	uint32_t ocap = v->fd_cap;
	fd_ent *n = calloc(cap, sizeof(fd_ent));
	if (!n)
		return -1;
	v->fds = n;
	v->fd_cap = cap;
	v->fd_used = 0;
	for (uint32_t i = 0; i < ocap; i++) {
		if (old[i].state) {
			fd_ent *e = fd_slot(v, old[i].table, old[i].fd);
			*e = old[i];
			v->fd_used++;
		}
	}
	free(old);
	return 0;
}

/* -- flags memo --------------------------------------------------------------------------- */

static fl_ent *fl_slot(priv_t *v, uint64_t key, uint64_t value)
{
	uint32_t mask = v->fl_cap - 1;
	uint32_t h = (uint32_t)mix(key * 0x9E3779B97F4A7C15ULL ^ value) & mask;
	for (;;) {
		fl_ent *e = &v->fls[h];
		if (e->state == 0 || (e->key == key && e->value == value))
			return e;
		h = (h + 1) & mask;
	}
}

static void fl_clear(priv_t *v)
{
	for (uint32_t i = 0; i < v->fl_cap; i++)
		free(v->fls[i].text);
	memset(v->fls, 0, v->fl_cap * sizeof(fl_ent));
	v->fl_used = 0;
}

/* -- life --------------------------------------------------------------------------------- */

pr_state *pr_new(uint64_t out_cap)
{
	pr_state *p = calloc(1, sizeof(pr_state));
	priv_t *v = calloc(1, sizeof(priv_t));
	if (!p || !v)
		goto fail;
	p->priv = v;
	p->out = malloc(out_cap);
	p->out_cap = out_cap;
	p->last_seq = -1;
	v->tid_cap = TID_MIN_CAP;
	v->tids = calloc(v->tid_cap, sizeof(tid_ent));
	v->pid_cap = TID_MIN_CAP / 2;
	v->pids = calloc(v->pid_cap, sizeof(pid_ent));
	v->fd_cap = 4096;
	v->fds = calloc(v->fd_cap, sizeof(fd_ent));
	v->fl_cap = 1024;
	v->fls = calloc(v->fl_cap, sizeof(fl_ent));
	v->t_cap = 256;
	v->t_tids = malloc(v->t_cap * sizeof(int64_t));
	v->t_idx = malloc(v->t_cap * sizeof(int64_t));
	if (!p->out || !v->tids || !v->pids || !v->fds || !v->fls || !v->t_tids || !v->t_idx)
		goto fail;
	return p;
fail:
	pr_free(p);
	return NULL;
}

void pr_free(pr_state *p)
{
	if (!p)
		return;
	priv_t *v = PRIV(p);
	if (v) {
		for (uint32_t t = 0; t < NTYPES; t++)
			free(v->types[t].params);
		if (v->tids)
			for (uint32_t i = 0; i < v->tid_cap; i++)
				free(v->tids[i].comm);
		free(v->tids);
		free(v->pids);
		if (v->fds)
			fd_clear(v);
		free(v->fds);
		if (v->fls)
			fl_clear(v);
		free(v->fls);
		free(v->gens);
		free(v->t_tids);
		free(v->t_idx);
		free(v->c_tables);
		free(v->c_fds);
		for (int k = 0; k < NNAMES; k++) {
			for (uint32_t i = 0; i < v->names[k].n; i++)
				free(v->names[k].s[i]);
			free(v->names[k].s);
			free(v->names[k].len);
		}
		free(v);
	}
	free(p->out);
	free(p);
}

/* -- configuration ------------------------------------------------------------------------ */

int pr_set_type(pr_state *p, uint32_t type, uint32_t cls, uint32_t touches, uint32_t renderable,
                const char *head, uint32_t head_len, uint32_t nshown)
{
	priv_t *v = PRIV(p);
	if (type >= NTYPES || head_len > sizeof(v->types[0].head) || nshown > MAXP)
		return -1;
	ptype *t = &v->types[type];
	t->cls = (uint8_t)cls;
	t->touches = (uint8_t)touches;
	t->renderable = (uint8_t)renderable;
	memcpy(t->head, head, head_len);
	t->head_len = head_len;
	t->nshown = nshown;
	free(t->params);
	t->params = calloc(nshown ? nshown : 1, sizeof(pparam));
	if (!t->params)
		return -1;
	t->set = 1;
	return 0;
}

int pr_set_param(pr_state *p, uint32_t type, uint32_t idx, uint32_t kind, uint32_t aux,
                 const char *prefix, uint32_t prefix_len)
{
	priv_t *v = PRIV(p);
	if (type >= NTYPES || !v->types[type].set || idx >= v->types[type].nshown ||
	    prefix_len > sizeof(v->types[0].params[0].prefix))
		return -1;
	pparam *q = &v->types[type].params[idx];
	q->kind = kind;
	q->aux = aux;
	memcpy(q->prefix, prefix, prefix_len);
	q->prefix_len = prefix_len;
	return 0;
}

int pr_set_name(pr_state *p, uint32_t table, uint32_t code, const char *name, uint32_t len)
{
	priv_t *v = PRIV(p);
	if (table >= NNAMES || code > 65535)
		return -1;
	names_t *nt = &v->names[table];
	if (code >= nt->n) {
		uint32_t n = code + 1;
		char **s = realloc(nt->s, n * sizeof(char *));
		if (!s)
			return -1;
		nt->s = s;
		uint32_t *l = realloc(nt->len, n * sizeof(uint32_t));
		if (!l)
			return -1;
		nt->len = l;
		for (uint32_t i = nt->n; i < n; i++) {
			nt->s[i] = NULL;
			nt->len[i] = 0;
		}
		nt->n = n;
	}
	free(nt->s[code]);
	nt->s[code] = dupn(name, len);
	nt->len[code] = len;
	return 0;
}

/* -- cache, from Python ------------------------------------------------------------------- */

int pr_put_thread(pr_state *p, int64_t tid, uint32_t present, int64_t pid, uint64_t table,
                  const char *comm, uint32_t comm_len)
{
	priv_t *v = PRIV(p);
	tid_ent *e = tid_find(v, tid);
	if (!e) {
		if ((v->tid_live + v->tid_dead + 1) * 4 > v->tid_cap * 3) {
			/* full of entries and tombstones: rebuild at the size the live entries need
			 * (at most half full), so the table follows the live threads, not every
			 * thread ever seen */
			uint32_t cap = TID_MIN_CAP;
			while ((uint64_t)(v->tid_live + 1) * 2 > cap)
				cap *= 2;
			if (tid_rehash(v, cap))
				return -1;
		}
		uint32_t mask = v->tid_cap - 1;
		uint32_t h = (uint32_t)mix((uint64_t)tid) & mask;
		while (v->tids[h].state == 1 || v->tids[h].state == 2)
			h = (h + 1) & mask; /* tid is absent: the first empty or deleted slot is its */
		e = &v->tids[h];
		if (e->state == 3)
			v->tid_dead--;
		v->tid_live++;
		e->tpos = 0;
		e->comm = NULL;
	} else {
		pid_unlink(v, (uint32_t)(e - v->tids));
	}
	free(e->comm);
	e->tid = tid;
	e->pid = pid;
	e->table = present ? table : 0;
	e->comm = present ? dupn(comm, comm_len) : NULL;
	e->comm_len = present ? comm_len : 0;
	e->state = present ? 1 : 2;
	if (pid_link(v, (uint32_t)(e - v->tids))) {
		free(e->comm);
		e->comm = NULL;
		e->comm_len = 0;
		e->state = 3;
		e->tpos = 0;
		v->tid_live--;
		v->tid_dead++;
		return -1;
	}
	return 0;
}

int pr_put_fd(pr_state *p, uint64_t table, int64_t fd, uint32_t present, const char *text,
              uint32_t len)
{
	priv_t *v = PRIV(p);
	if ((v->fd_used + 1) * 4 > v->fd_cap * 3) {
		if (v->fd_cap >= (1u << 18)) /* bounded: stale entries go too */
			fd_clear(v);
		else if (fd_grow(v, v->fd_cap * 2))
			return -1;
	}
	fd_ent *e = fd_slot(v, table, fd);
	if (e->state == 0)
		v->fd_used++;
	free(e->text);
	e->table = table;
	e->fd = fd;
	e->gen = table_gen(v, table);
	e->state = present ? 1 : 2;
	e->text = present ? dupn(text, len) : NULL;
	e->len = present ? len : 0;
	return 0;
}

int pr_put_flags(pr_state *p, uint32_t type, uint32_t param, uint64_t value, const char *text,
                 uint32_t len)
{
	priv_t *v = PRIV(p);
	if ((v->fl_used + 1) * 4 > v->fl_cap * 3) {
		if (v->fl_cap >= (1u << 16)) {
			fl_clear(v);
		} else {
			fl_ent *old = v->fls;
			uint32_t ocap = v->fl_cap;
			fl_ent *n = calloc(ocap * 2, sizeof(fl_ent));
			if (!n)
				return -1;
			v->fls = n;
			v->fl_cap = ocap * 2;
			v->fl_used = 0;
			for (uint32_t i = 0; i < ocap; i++) {
				if (old[i].state) {
					*fl_slot(v, old[i].key, old[i].value) = old[i];
					v->fl_used++;
				}
			}
			free(old);
		}
	}
	uint64_t key = (uint64_t)type << 8 | param;
	fl_ent *e = fl_slot(v, key, value);
	if (e->state == 0)
		v->fl_used++;
	free(e->text);
	e->key = key;
	e->value = value;
	e->state = 1;
	e->text = dupn(text, len);
	e->len = len;
	return 0;
}

void pr_drop_thread(pr_state *p, int64_t tid)
{
	priv_t *v = PRIV(p);
	tid_ent *e = tid_find(v, tid);
	if (e)
		tid_del(v, e);
}

uint32_t pr_drop_pid(pr_state *p, int64_t pid)
{
	priv_t *v = PRIV(p);
	uint32_t n = 0;
	pid_ent *pe;
	while ((pe = pid_find(v, pid)) != NULL) { /* the chain's head, until the pid is gone */
		tid_del(v, &v->tids[pe->head - 1]);
		v->drop_visits++;
		n++;
	}
	return n;
}

void pr_drop_table(pr_state *p, uint64_t table)
{
	priv_t *v = PRIV(p);
	if (table >= v->ngens) {
		uint64_t n = table + 1 > v->ngens * 2 ? table + 1 : v->ngens * 2;
		uint32_t *g = realloc(v->gens, n * sizeof(uint32_t));
		if (!g) { /* cannot record it: forget every fd instead */
			fd_clear(v);
			return;
		}
		memset(g + v->ngens, 0, (n - v->ngens) * sizeof(uint32_t));
		v->gens = g;
		v->ngens = n;
	}
	v->gens[table]++;
}

void pr_reset(pr_state *p)
{
	priv_t *v = PRIV(p);
	for (uint32_t i = 0; i < v->tid_cap; i++)
		free(v->tids[i].comm);
	memset(v->tids, 0, v->tid_cap * sizeof(tid_ent));
	memset(v->pids, 0, v->pid_cap * sizeof(pid_ent));
	v->tid_live = v->tid_dead = 0;
	v->pid_used = 0;
	fd_clear(v);
	if (v->gens)
		memset(v->gens, 0, v->ngens * sizeof(uint32_t));
	/* the touched list stays: Python still owes those threads their last enter */
}

void pr_cache_stats(pr_state *p, pr_cache_counts *s)
{
	priv_t *v = PRIV(p);
	s->tid_slots = v->tid_cap;
	s->tid_live = v->tid_live;
	s->tid_deleted = v->tid_dead;
	s->pid_slots = v->pid_cap;
	s->pids = v->pid_used;
	s->drop_visits = v->drop_visits;
}

uint32_t pr_touched(pr_state *p, int64_t *tids, int64_t *idx, uint32_t cap)
{
	priv_t *v = PRIV(p);
	uint32_t n = v->t_n < cap ? v->t_n : cap;
	memcpy(tids, v->t_tids, n * sizeof(int64_t));
	memcpy(idx, v->t_idx, n * sizeof(int64_t));
	for (uint32_t i = 0; i < n; i++) {
		tid_ent *e = tid_find(v, v->t_tids[i]);
		if (e)
			e->tpos = 0;
	}
	memmove(v->t_tids, v->t_tids + n, (v->t_n - n) * sizeof(int64_t));
	memmove(v->t_idx, v->t_idx + n, (v->t_n - n) * sizeof(int64_t));
	v->t_n -= n;
	p->n_touched = v->t_n;
	if (v->t_n) { /* the ones left keep their (shifted) positions */
		for (uint32_t i = 0; i < v->t_n; i++) {
			tid_ent *e = tid_find(v, v->t_tids[i]);
			if (e)
				e->tpos = i + 1;
		}
	}
	return n;
}

uint32_t pr_closes(pr_state *p, uint64_t *tables, int64_t *fds, uint32_t cap)
{
	priv_t *v = PRIV(p);
	uint32_t n = v->c_n < cap ? v->c_n : cap;
	memcpy(tables, v->c_tables, n * sizeof(uint64_t));
	memcpy(fds, v->c_fds, n * sizeof(int64_t));
	memmove(v->c_tables, v->c_tables + n, (v->c_n - n) * sizeof(uint64_t));
	memmove(v->c_fds, v->c_fds + n, (v->c_n - n) * sizeof(int64_t));
	v->c_n -= n;
	p->n_closes = v->c_n;
	return n;
}

static int queue_close(priv_t *v, uint64_t table, int64_t fd)
{
	if (v->c_n == v->c_cap) {
		uint32_t cap = v->c_cap ? v->c_cap * 2 : 64;
		uint64_t *a = realloc(v->c_tables, cap * sizeof(uint64_t));
		if (!a)
			return -1;
		v->c_tables = a;
		int64_t *f = realloc(v->c_fds, cap * sizeof(int64_t));
		if (!f)
			return -1;
		v->c_fds = f;
		v->c_cap = cap;
	}
	v->c_tables[v->c_n] = table;
	v->c_fds[v->c_n] = fd;
	v->c_n++;
	return 0;
}

int pr_append(pr_state *p, const char *text, uint64_t len)
{
	if (p->out_cap - p->out_len < len)
		return 0;
	memcpy(p->out + p->out_len, text, len);
	p->out_len += len;
	return 1;
}

static int touch(priv_t *v, tid_ent *e, int64_t idx)
{
	if (e->tpos) {
		v->t_idx[e->tpos - 1] = idx;
		return 0;
	}
	if (v->t_n == v->t_cap) {
		uint32_t cap = v->t_cap * 2;
		int64_t *a = realloc(v->t_tids, cap * sizeof(int64_t));
		if (!a)
			return -1;
		v->t_tids = a;
		int64_t *b = realloc(v->t_idx, cap * sizeof(int64_t));
		if (!b)
			return -1;
		v->t_idx = b;
		v->t_cap = cap;
	}
	v->t_tids[v->t_n] = e->tid;
	v->t_idx[v->t_n] = idx;
	e->tpos = ++v->t_n;
	return 0;
}

/* -- rendering ---------------------------------------------------------------------------- */

/* output cursor; every write checks room, a failed one sets `full` */
typedef struct {
	char *o, *end;
	int full;
} cur_t;

static inline void put(cur_t *c, const void *s, size_t n)
{
	if ((size_t)(c->end - c->o) < n) {
		c->full = 1;
		return;
	}
	memcpy(c->o, s, n);
	c->o += n;
}

static inline void putc1(cur_t *c, char ch)
{
	if (c->o >= c->end) {
		c->full = 1;
		return;
	}
	*c->o++ = ch;
}

static void put_u64(cur_t *c, uint64_t x)
{
	char tmp[24];
	int i = 24;
	do {
		tmp[--i] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	put(c, tmp + i, 24 - i);
}

static void put_i64(cur_t *c, int64_t x)
{
	if (x < 0) {
		putc1(c, '-');
		put_u64(c, (uint64_t)0 - (uint64_t)x);
	} else {
		put_u64(c, (uint64_t)x);
	}
}

static void put_2d(cur_t *c, unsigned x)
{
	char t[2] = {(char)('0' + x / 10), (char)('0' + x % 10)};
	put(c, t, 2);
}

static inline uint16_t rd16(const uint8_t *d)
{
	uint16_t x;
	memcpy(&x, d, 2);
	return x;
}

static inline uint32_t rd32(const uint8_t *d)
{
	uint32_t x;
	memcpy(&x, d, 4);
	return x;
}

static inline uint64_t rd64(const uint8_t *d)
{
	uint64_t x;
	memcpy(&x, d, 8);
	return x;
}

static size_t cstrlen(const uint8_t *d, size_t n)
{
	const uint8_t *z = memchr(d, 0, n);
	return z ? (size_t)(z - d) : n;
}

/* sanitize(_cstr(data)): up to the first NUL, bytes 127..254 dropped */
static void put_sanitized(cur_t *c, const uint8_t *d, size_t n)
{
	n = cstrlen(d, n);
	size_t run = 0;
	for (size_t k = 0; k < n; k++) {
		if (d[k] >= 127 && d[k] <= 254) {
			put(c, d + k - run, run);
			run = 0;
		} else {
			run++;
		}
	}
	put(c, d + n - run, run);
}

static void put_ipv4(cur_t *c, const uint8_t *a)
{
	for (int k = 0; k < 4; k++) {
		if (k)
			putc1(c, '.');
		put_u64(c, a[k]);
	}
}

static int int_size(uint32_t layout)
{
	switch (layout) {
	case PR_I_S8: case PR_I_U8: return 1;
	case PR_I_S16: case PR_I_U16: return 2;
	case PR_I_S32: case PR_I_U32: return 4;
	case PR_I_S64: return 8;
	}
	return 0;
}

static int64_t int_read(uint32_t layout, const uint8_t *d)
{
	switch (layout) {
	case PR_I_S8: return (int8_t)d[0];
	case PR_I_U8: return d[0];
	case PR_I_S16: return (int16_t)rd16(d);
	case PR_I_U16: return rd16(d);
	case PR_I_S32: return (int32_t)rd32(d);
	case PR_I_U32: return rd32(d);
	case PR_I_S64: return (int64_t)rd64(d);
	}
	return 0;
}

/* printf_int with a non-decimal format */
static void put_intfmt(cur_t *c, uint32_t layout, uint32_t fmt, const uint8_t *d)
{
	int64_t value = int_read(layout, d);
	uint64_t u;
	char tmp[32];
	int n;
	if (layout != PR_I_S64) {
		if (value >= ((int64_t)1 << 31))
			value -= ((int64_t)1 << 32);
		u = (uint64_t)value & 0xFFFFFFFFULL;
	} else {
		u = (uint64_t)value;
	}
	if (fmt == PR_F_OCT)
		n = u ? snprintf(tmp, sizeof tmp, "0%llo", (unsigned long long)u) : snprintf(tmp, sizeof tmp, "0");
	else if (fmt == PR_F_HEX)
		n = snprintf(tmp, sizeof tmp, "%llX", (unsigned long long)u);
	else
		n = snprintf(tmp, sizeof tmp, "%09lld", (long long)value);
	put(c, tmp, (size_t)n);
}

/* one parameter's text (without prefix and trailing space); returns 0 or a PR_* stop */
static int render_param(pr_state *p, priv_t *v, cur_t *c, const pparam *q, uint32_t type,
                        uint32_t idx, const uint8_t *d, uint32_t len, const tid_ent *self)
{
	static const char NUL4[] = "NULL";
	uint32_t kind = q->kind;
	switch (kind) {
	case PR_K_CHARBUF:
		put(c, d, cstrlen(d, len));
		return 0;
	case PR_K_PATH:
		if (!len)
			return 0;
		if (d[0] != '/')
			return PR_PYTHON;
		put_sanitized(c, d, len);
		return 0;
	case PR_K_BYTEBUF: {
		if (!len)
			return 0;
		uint32_t shown = len > 80 ? 77 : len;
		if ((size_t)(c->end - c->o) < (size_t)shown + 3) {
			c->full = 1;
			return 0;
		}
		for (uint32_t k = 0; k < shown; k++)
			c->o[k] = (d[k] >= 32 && d[k] < 127) ? (char)d[k] : '.';
		c->o += shown;
		if (len > 80)
			put(c, "...", 3);
		return 0;
	}
	default:
		break;
	}
	if (!len) {
		put(c, NUL4, 4);
		return 0;
	}
	switch (kind) {
	case PR_K_INT:
		if ((int)len != int_size(q->aux))
			return PR_PYTHON;
		put_i64(c, int_read(q->aux, d));
		return 0;
	case PR_K_INTFMT:
		if ((int)len < int_size(q->aux & 0xff))
			return PR_PYTHON;
		put_intfmt(c, q->aux & 0xff, q->aux >> 8, d);
		return 0;
	case PR_K_ERRNO: {
		if (len != 8)
			return PR_PYTHON;
		int64_t val = (int64_t)rd64(d);
		put_i64(c, val);
		if (val < 0 && val > -65536) {
			const names_t *nt = &v->names[0];
			uint64_t code = (uint64_t)(-val);
			if (code < nt->n && nt->len[code]) {
				putc1(c, '(');
				put(c, nt->s[code], nt->len[code]);
				putc1(c, ')');
			}
		}
		return 0;
	}
	case PR_K_FD: {
		if (len != 8)
			return PR_PYTHON;
		int64_t fd = (int64_t)rd64(d);
		if (fd >= 0) {
			if (self->table) {
				fd_ent *e = fd_slot(v, self->table, fd);
				if (e->state == 0 || e->gen != table_gen(v, self->table)) {
					p->miss_table = self->table;
					p->miss_fd = fd;
					return PR_MISS_FD;
				}
				put_i64(c, fd);
				if (e->state == 1 && e->len) {
					putc1(c, '(');
					put(c, e->text, e->len);
					putc1(c, ')');
				}
				return 0;
			}
			put_i64(c, fd);
			return 0;
		}
		put_i64(c, fd);
		if (fd == -100) {
			put(c, "(AT_FDCWD)", 10);
		} else if (fd > -65536) {
			const names_t *nt = &v->names[0];
			uint64_t code = (uint64_t)(-fd);
			if (code < nt->n && nt->len[code]) {
				putc1(c, '(');
				put(c, nt->s[code], nt->len[code]);
				putc1(c, ')');
			}
		}
		return 0;
	}
	case PR_K_PID: {
		if (len != 8)
			return PR_PYTHON;
		int64_t pid = (int64_t)rd64(d);
		tid_ent *e = tid_find(v, pid);
		if (!e) {
			p->miss_tid = pid;
			return PR_MISS_TID;
		}
		put_i64(c, pid);
		if (e->state == 1 && e->comm_len) {
			putc1(c, '(');
			put(c, e->comm, e->comm_len);
			putc1(c, ')');
		}
		return 0;
	}
	case PR_K_FLAGS: {
		if (len != q->aux)
			return PR_PYTHON;
		uint64_t val = len == 1 ? d[0] : len == 2 ? rd16(d) : rd32(d);
		fl_ent *e = fl_slot(v, (uint64_t)type << 8 | idx, val);
		if (!e->state) {
			p->miss_type = type;
			p->miss_param = idx;
			p->miss_value = val;
			return PR_MISS_FLAGS;
		}
		put(c, e->text, e->len);
		return 0;
	}
	case PR_K_SOCKADDR:
		if (d[0] == 1) {
			put_sanitized(c, d + 1, len - 1);
		} else if (d[0] == 2) {
			if (len != 7) {
				put(c, "INVALID IPv4", 12);
			} else {
				put_ipv4(c, d + 1);
				putc1(c, ':');
				put_u64(c, rd16(d + 5));
			}
		} else if (d[0] == 10) {
			return PR_PYTHON;
		} else {
			put(c, "family ", 7);
			put_i64(c, (int8_t)d[0]);
		}
		return 0;
	case PR_K_SOCKTUPLE:
		if (d[0] == 2) {
			if (len != 13) {
				put(c, "INVALID IPv4", 12);
			} else {
				put_ipv4(c, d + 1);
				putc1(c, ':');
				put_u64(c, rd16(d + 5));
				put(c, "->", 2);
				put_ipv4(c, d + 7);
				putc1(c, ':');
				put_u64(c, rd16(d + 11));
			}
		} else if (d[0] == 1) {
			char tmp[48];
			if (len < 17)
				return PR_PYTHON;
			int n = snprintf(tmp, sizeof tmp, "%llx->%llx ", (unsigned long long)rd64(d + 1),
			                 (unsigned long long)rd64(d + 9));
			put(c, tmp, (size_t)n);
			put_sanitized(c, d + 17, len - 17);
		} else if (d[0] == 10) {
			return PR_PYTHON;
		} else {
			put(c, "family ", 7);
			put_i64(c, (int8_t)d[0]);
		}
		return 0;
	case PR_K_SYSCALLID: {
		if (len < 2)
			return PR_PYTHON;
		uint16_t code = rd16(d);
		const names_t *nt = &v->names[1];
		if (code >= nt->n) {
			put(c, "<unknown syscall>", 17);
			return 0;
		}
		put_u64(c, code);
		if (nt->len[code]) {
			putc1(c, '(');
			put(c, nt->s[code], nt->len[code]);
			putc1(c, ')');
		}
		return 0;
	}
	case PR_K_SIGTYPE: {
		put_u64(c, d[0]);
		const names_t *nt = &v->names[2];
		if (d[0] < nt->n && nt->len[d[0]]) {
			putc1(c, '(');
			put(c, nt->s[d[0]], nt->len[d[0]]);
			putc1(c, ')');
		}
		return 0;
	}
	case PR_K_RELTIME: {
		if (len < 8)
			return PR_PYTHON;
		uint64_t val = rd64(d);
		if (val == UINT64_MAX) {
			put(c, "none", 4);
			return 0;
		}
		char tmp[64];
		int n = snprintf(tmp, sizeof tmp, "%llu(%gs)", (unsigned long long)val,
		                 (double)val / 1e9);
		put(c, tmp, (size_t)n);
		return 0;
	}
	}
	return PR_PYTHON;
}

/* the whole line of event i; returns 0 or a PR_* stop (the cursor is then to be discarded) */
static int render_line(pr_state *p, priv_t *v, cur_t *c, const pr_batch *b, uint32_t i,
                       const ptype *t, const tid_ent *self)
{
	const uint8_t *rec = b->buf + b->rec_start[i];
	uint64_t reclen = b->rec_end[i] - b->rec_start[i];
	uint32_t nrec = b->nparams[i];
	uint32_t type = b->type[i];
	uint32_t offs[MAXP + 1];
	if (nrec >= MAXP || !t->renderable || 26 + 2 * (uint64_t)nrec > reclen)
		return PR_PYTHON;
	uint64_t pos = 26 + 2 * (uint64_t)nrec;
	for (uint32_t k = 0; k < nrec; k++) {
		offs[k] = (uint32_t)pos;
		pos += rd16(rec + 26 + 2 * k);
	}
	offs[nrec] = (uint32_t)pos;
	if (pos > reclen)
		return PR_PYTHON;

	uint64_t ts = b->ts[i];
	uint64_t sec = ts / 1000000000ULL;
	uint64_t ns = ts % 1000000000ULL;
	int64_t x = ((int64_t)sec + p->tz_offset) % 86400;
	if (x < 0)
		x += 86400;
	put_u64(c, b->seq[i] + 1);
	putc1(c, ' ');
	put_2d(c, (unsigned)(x / 3600));
	putc1(c, ':');
	put_2d(c, (unsigned)(x % 3600 / 60));
	putc1(c, ':');
	put_2d(c, (unsigned)(x % 60));
	putc1(c, '.');
	{
		char tmp[9];
		uint64_t y = ns;
		for (int k = 8; k >= 0; k--) {
			tmp[k] = (char)('0' + y % 10);
			y /= 10;
		}
		put(c, tmp, 9);
	}
	putc1(c, ' ');
	put_u64(c, b->cpu[i]);
	putc1(c, ' ');
	put(c, self->comm, self->comm_len);
	put(c, " (", 2);
	put_i64(c, b->tid[i]);
	put(c, ") ", 2);
	if (t->cls == PR_CLS_GENERIC) {
		/* evt.type of a generic event: its 0.29.3 syscall name (fields.evt.type_name) */
		const names_t *nt = &v->names[1];
		if (nrec >= 1) {
			uint32_t l0 = offs[1] - offs[0];
			uint64_t code = l0 >= 2 ? rd16(rec + offs[0]) : l0 == 1 ? rec[offs[0]] : 0;
			if (code < nt->n && nt->len[code]) {
				putc1(c, type & 1 ? '<' : '>');
				putc1(c, ' ');
				put(c, nt->s[code], nt->len[code]);
				put(c, " \n", 2);
				return 0;
			}
		}
		put(c, t->head, t->head_len);
		putc1(c, '\n');
		return 0;
	}
	put(c, t->head, t->head_len);
	uint32_t shown = nrec < t->nshown ? nrec : t->nshown;
	for (uint32_t k = 0; k < shown; k++) {
		const pparam *q = &t->params[k];
		put(c, q->prefix, q->prefix_len);
		int rc = render_param(p, v, c, q, type, k, rec + offs[k], offs[k + 1] - offs[k], self);
		if (rc)
			return rc;
		putc1(c, ' ');
	}
	putc1(c, '\n');
	return 0;
}

/* an int64 parameter 0 of record i (1 and its value, or 0: absent or of another size) */
static int param0_i64(const pr_batch *b, uint32_t i, int64_t *out)
{
	const uint8_t *rec = b->buf + b->rec_start[i];
	uint64_t reclen = b->rec_end[i] - b->rec_start[i];
	uint32_t nrec = b->nparams[i];
	if (nrec < 1 || 26 + 2 * (uint64_t)nrec + 8 > reclen || rd16(rec + 26) != 8)
		return 0;
	*out = (int64_t)rd64(rec + 26 + 2 * (uint64_t)nrec);
	return 1;
}

/* a PR_CLS_CLOSE event of thread `self` (present, with a table): the fd its enter closes, or
 * 0 when Python must parse it (the enter is not this batch's close enter C rendered last, or
 * a parameter is not an int64); *res is the exit's result */
static int close_fd(const priv_t *v, const pr_batch *b, uint32_t i, const tid_ent *self,
                    int64_t *fd, int64_t *res)
{
	if (!self->tpos || !self->table)
		return 0;
	int64_t enter = v->t_idx[self->tpos - 1];
	if (enter < 0 || (uint64_t)enter >= i || b->type[enter] != b->type[i] - 1)
		return 0;
	return param0_i64(b, (uint32_t)enter, fd) && param0_i64(b, i, res);
}

/* a PR_CLS_FDNOP event of thread `self`: 0 when its enter's fd is cached as absent (the
 * parser would do nothing), PR_MISS_FD when that fd is not cached, -1 for Python */
static int fd_absent(pr_state *p, priv_t *v, const pr_batch *b, uint32_t i,
                     const tid_ent *self)
{
	if (!self->tpos || !self->table)
		return -1;
	int64_t enter = v->t_idx[self->tpos - 1], fd;
	if (enter < 0 || (uint64_t)enter >= i || b->type[enter] != b->type[i] - 1 ||
	    !param0_i64(b, (uint32_t)enter, &fd) || fd < 0)
		return -1;
	fd_ent *e = fd_slot(v, self->table, fd);
	if (e->state == 0 || e->gen != table_gen(v, self->table)) {
		p->miss_table = self->table;
		p->miss_fd = fd;
		return PR_MISS_FD;
	}
	return e->state == 2 ? 0 : -1;
}

int pr_run(pr_state *p, pr_batch *b)
{
	priv_t *v = PRIV(p);
	if (p->check_limit) {
		p->check_limit = 0;
		if (p->limit && p->count >= p->limit)
			return PR_LIMIT;
	}
	for (uint32_t i = b->i; i < b->n; i++) {
		b->i = i;
		uint32_t type = b->type[i];
		const ptype *t = type < NTYPES ? &v->types[type] : NULL;
		int64_t seq = (int64_t)b->seq[i];
		if (t && t->set && t->cls == PR_CLS_SKIP) {
			p->count += seq - p->last_seq - 1;
			p->last_seq = seq;
			continue;
		}
		/* sysdig_cli._print_prefiltered: this event and the hidden ones before it */
		int64_t count = p->count + (seq - p->last_seq);
		if (p->limit && count > p->limit) {
			p->count = count;
			p->last_seq = seq;
			return PR_LIMIT;
		}
		int rc = PR_PYTHON;
		tid_ent *self = NULL;
		cur_t c = {p->out + p->out_len, p->out + p->out_cap, 0};
		if (!t || !t->set || t->cls == PR_CLS_PYTHON || (b->dump_flags[i] & 1))
			goto python;
		self = tid_find(v, b->tid[i]);
		if (!self) {
			p->miss_tid = b->tid[i];
			p->n_misses++;
			return PR_MISS_TID;
		}
		if (self->state != 1)
			goto python; /* sinsp invents the thread: Python does */
		int64_t cfd = 0, cres = -1;
		if (t->cls == PR_CLS_CLOSE && !close_fd(v, b, i, self, &cfd, &cres))
			goto python;
		if (t->cls == PR_CLS_FDNOP) {
			rc = fd_absent(p, v, b, i, self);
			if (rc < 0)
				goto python;
			if (rc) {
				p->n_misses++;
				return rc;
			}
		}
		rc = render_line(p, v, &c, b, i, t, self);
		if (rc == PR_PYTHON)
			goto python;
		if (rc) {
			p->n_misses++;
			return rc;
		}
		if (c.full) {
			if (p->out_len)
				return PR_FULL;
			goto python;
		}
		if (t->cls == PR_CLS_CLOSE && cres >= 0) {
			/* parse_close_exit: the fd leaves the table once the line is out */
			if (queue_close(v, self->table, cfd) ||
			    pr_put_fd(p, self->table, cfd, 0, NULL, 0))
				return -1;
			p->n_closes = v->c_n;
		}
		if (t->touches && touch(v, self, (type & 1) ? -1 : (int64_t)i))
			goto python;
		p->n_touched = v->t_n;
		p->out_len = (uint64_t)(c.o - p->out);
		p->count = count;
		p->last_seq = seq;
		if (!p->first_ts)
			p->first_ts = b->ts[i];
		p->n_c++;
		if (p->limit && count >= p->limit) {
			b->i = i + 1;
			return PR_LIMIT;
		}
		continue;
	python:
		p->count = count;
		p->last_seq = seq;
		p->check_limit = 1;
		return PR_PYTHON;
	}
	b->i = b->n;
	return PR_DONE;
}

int pr_render(pr_state *p, const pr_batch *b, uint32_t i)
{
	priv_t *v = PRIV(p);
	uint32_t type = b->type[i];
	if (type >= NTYPES || !v->types[type].set || !v->types[type].renderable)
		return PR_PYTHON;
	tid_ent *self = tid_find(v, b->tid[i]);
	if (!self) {
		p->miss_tid = b->tid[i];
		p->n_misses++;
		return PR_MISS_TID;
	}
	if (self->state != 1)
		return PR_PYTHON;
	cur_t c = {p->out + p->out_len, p->out + p->out_cap, 0};
	int rc = render_line(p, v, &c, b, i, &v->types[type], self);
	if (rc) {
		if (rc != PR_PYTHON)
			p->n_misses++;
		return rc;
	}
	if (c.full)
		return p->out_len ? PR_FULL : PR_PYTHON;
	p->out_len = (uint64_t)(c.o - p->out);
	return PR_DONE;
}

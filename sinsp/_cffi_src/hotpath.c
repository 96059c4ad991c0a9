/*
 * hotpath: classify a live batch's open/close exits (see hotpath.h for the contract and
 * sinsp/hotpath.py for the Python side, whose reference evaluator this must agree with).
 */
#include "hotpath.h"

#include <stdlib.h>
#include <string.h>

#define PPM_O_RDONLY 1u
#define PPM_O_WRONLY 2u
#define PPM_O_CREAT 4u
#define PPM_O_DIRECTORY (1u << 10)
#define PPM_O_TMPFILE 8192u
#define EXEC_MASK 0111u
/* creat() is open(O_CREAT|O_WRONLY|O_TRUNC): the flags sinsp's parse_creat_exit gives the fd */
#define CREAT_FLAGS ((1u << 2) | (1u << 1) | (1u << 8))

/* glob tokens (sinsp/hotpath.py encodes patterns so) */
#define G_STAR 1
#define G_ANY 2
#define G_CLASS 3 /* + 16 bytes: bitmap of the ASCII characters it matches */
#define G_LIT 4   /* + the character */

struct hp_prog {
	hp_node *nodes;
	uint32_t n_nodes;
	hp_pred *preds;
	uint32_t n_preds;
	char *strs;
	uint64_t strs_len;
	uint32_t *str_off;
	uint32_t *str_len;
	uint32_t n_strs;
	int64_t *ints;
	uint32_t n_ints;
	int32_t roots[HP_MAX_TYPE];
};

/* one candidate, as the fields see it */
typedef struct {
	uint32_t type;
	uint32_t is_close;
	const char *path;
	uint32_t path_len;
	uint32_t isdir;
	uint32_t flags; /* the flags param (open/openat/openat2), 0 for creat */
	uint32_t mode;
	int64_t fd;
	int64_t res;
} view;

int hp_abi(void) { return HP_ABI; }

static void clear(hp_prog *p)
{
	free(p->nodes);
	free(p->preds);
	free(p->strs);
	free(p->str_off);
	free(p->str_len);
	free(p->ints);
	p->nodes = NULL;
	p->preds = NULL;
	p->strs = NULL;
	p->str_off = p->str_len = NULL;
	p->ints = NULL;
	p->n_nodes = p->n_preds = p->n_strs = p->n_ints = 0;
	p->strs_len = 0;
	for (int t = 0; t < HP_MAX_TYPE; t++)
		p->roots[t] = -1;
}

hp_prog *hp_new(void)
{
	hp_prog *p = calloc(1, sizeof(*p));
	if (p)
		clear(p);
	return p;
}

void hp_free(hp_prog *p)
{
	if (!p)
		return;
	clear(p);
	free(p);
}

static void *dup_mem(const void *src, size_t n)
{
	void *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, src, n);
	return d;
}

/* whether the operator has a meaning for the field's kind (sinsp/hotpath.py's operands():
 * strings take every operator, numbers the comparisons and 'in', booleans =, != and 'in');
 * check() refuses any other pair and eval_pred() answers UNKNOWN for one, never FALSE */
static int op_fits(uint32_t field, uint32_t op)
{
	if (field <= HP_F_TYPE)
		return op <= HP_OP_PMATCH;
	if (field <= HP_F_RAWRES)
		return op <= HP_OP_IN;
	if (field <= HP_F_OPEN_EXEC)
		return op == HP_OP_EQ || op == HP_OP_NE || op == HP_OP_IN;
	return 0;
}

/* whether s[0, n) is whole glob tokens (tok_match and tok_len read a token's bytes unchecked) */
static int glob_ok(const unsigned char *s, uint32_t n)
{
	uint32_t i = 0;
	while (i < n) {
		uint32_t len;
		switch (s[i]) {
		case G_STAR:
		case G_ANY:
			len = 1;
			break;
		case G_LIT:
			len = 2;
			break;
		case G_CLASS:
			len = 17;
			break;
		default:
			return 0;
		}
		if (len > n - i)
			return 0;
		i += len;
	}
	return 1;
}

/* every index in range, every subtree well nested, every pred's operator meaningful for its
 * field and every glob operand whole tokens, so evaluation terminates inside the tables */
static int check(const hp_prog *p)
{
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		const hp_node *nd = &p->nodes[i];
		if (nd->end <= i || nd->end > p->n_nodes)
			return -1;
		switch (nd->kind) {
		case HP_N_CONST:
			if (nd->arg < 0 || nd->arg > 2 || nd->end != i + 1)
				return -1;
			break;
		case HP_N_PRED:
			if (nd->arg < 0 || (uint64_t)nd->arg >= p->n_preds || nd->end != i + 1)
				return -1;
			break;
		case HP_N_NOT:
			if (nd->end == i + 1 || p->nodes[i + 1].end != nd->end)
				return -1;
			break;
		case HP_N_AND:
		case HP_N_OR: {
			/* node j > i is checked later: its end must move past it here, or this loops */
			uint32_t j = i + 1;
			while (j < nd->end) {
				if (p->nodes[j].end <= j)
					return -1;
				j = p->nodes[j].end;
			}
			if (j != nd->end)
				return -1;
			break;
		}
		default:
			return -1;
		}
	}
	for (uint32_t i = 0; i < p->n_preds; i++) {
		const hp_pred *pr = &p->preds[i];
		int is_str = pr->field <= HP_F_TYPE;
		uint64_t lim = is_str ? p->n_strs : p->n_ints;
		if (!op_fits(pr->field, pr->op) || pr->count == 0 ||
		    (uint64_t)pr->first + pr->count > lim)
			return -1;
	}
	for (uint32_t i = 0; i < p->n_strs; i++)
		if ((uint64_t)p->str_off[i] + p->str_len[i] > p->strs_len)
			return -1;
	for (uint32_t i = 0; i < p->n_preds; i++) { /* (string operands all in range: above) */
		const hp_pred *pr = &p->preds[i];
		if (pr->field > HP_F_TYPE || pr->op != HP_OP_GLOB)
			continue;
		for (uint32_t k = pr->first; k < pr->first + pr->count; k++)
			if (!glob_ok((const unsigned char *)p->strs + p->str_off[k], p->str_len[k]))
				return -1;
	}
	for (int t = 0; t < HP_MAX_TYPE; t++)
		if (p->roots[t] >= 0 && (uint32_t)p->roots[t] >= p->n_nodes)
			return -1;
	return 0;
}

int hp_load(hp_prog *p, const hp_node *nodes, uint32_t n_nodes, const hp_pred *preds,
            uint32_t n_preds, const char *strs, uint64_t strs_len, const uint32_t *str_off,
            const uint32_t *str_len, uint32_t n_strs, const int64_t *ints, uint32_t n_ints,
            const int32_t *roots, uint32_t n_roots)
{
	clear(p);
	p->nodes = dup_mem(nodes, (size_t)n_nodes * sizeof(*nodes));
	p->preds = dup_mem(preds, (size_t)n_preds * sizeof(*preds));
	p->strs = dup_mem(strs, strs_len);
	p->str_off = dup_mem(str_off, (size_t)n_strs * sizeof(*str_off));
	p->str_len = dup_mem(str_len, (size_t)n_strs * sizeof(*str_len));
	p->ints = dup_mem(ints, (size_t)n_ints * sizeof(*ints));
	if (!p->nodes || !p->preds || !p->strs || !p->str_off || !p->str_len || !p->ints) {
		clear(p);
		return -1;
	}
	p->n_nodes = n_nodes;
	p->n_preds = n_preds;
	p->strs_len = strs_len;
	p->n_strs = n_strs;
	p->n_ints = n_ints;
	for (uint32_t t = 0; t < n_roots && t < HP_MAX_TYPE; t++)
		p->roots[t] = roots[t];
	if (check(p) < 0) {
		clear(p);
		return -1;
	}
	return 0;
}

/* -- field values ----------------------------------------------------------------------- */

typedef struct {
	const char *s;
	uint32_t n;
} str;

/* the string value of a string field; 0 when N/A */
static int str_field(const view *v, uint32_t field, str *out)
{
	switch (field) {
	case HP_F_NAME:
		out->s = v->path;
		out->n = v->path_len;
		return 1;
	case HP_F_DIRECTORY: {
		if (v->isdir) {
			out->s = v->path;
			out->n = v->path_len;
			return 1;
		}
		/* rfind('/'): > 0 -> the text before it (a normal path never ends in '/'); else "/" */
		uint32_t pos = v->path_len;
		while (pos > 0 && v->path[pos - 1] != '/')
			pos--;
		/* pos - 1 is the last '/' (pos == 0: none) */
		if (pos >= 2) {
			out->s = v->path;
			out->n = pos - 1;
		} else {
			out->s = "/";
			out->n = 1;
		}
		return 1;
	}
	case HP_F_FILENAME: {
		if (v->isdir)
			return 0;
		uint32_t pos = v->path_len;
		while (pos > 0 && v->path[pos - 1] != '/')
			pos--;
		if (pos == 0) { /* no '/': "/" (never on a candidate) */
			out->s = "/";
			out->n = 1;
		} else if (pos < v->path_len) {
			out->s = v->path + pos;
			out->n = v->path_len - pos;
		} else { /* trailing '/': the whole name (never on a candidate) */
			out->s = v->path;
			out->n = v->path_len;
		}
		return 1;
	}
	case HP_F_TYPECHAR:
		out->s = v->isdir ? "d" : "f";
		out->n = 1;
		return 1;
	case HP_F_TYPE:
		out->s = v->isdir ? "directory" : "file";
		out->n = v->isdir ? 9 : 4;
		return 1;
	}
	return 0;
}

static int64_t int_field(const view *v, uint32_t field)
{
	/* evt.is_open_* read the flags of open, openat_2 and openat2 exits (sinsp.fields.evt's
	 * OPEN_FLAG_PARAMS); creat only has the exec check, on its mode */
	int opener = v->type == HP_T_OPEN_X || v->type == HP_T_OPENAT_2_X ||
	             v->type == HP_T_OPENAT2_X;
	switch (field) {
	case HP_F_FDNUM:
		return v->fd;
	case HP_F_RAWRES:
		return v->res;
	case HP_F_OPEN_READ:
		return opener && (v->flags & PPM_O_RDONLY);
	case HP_F_OPEN_WRITE:
		return opener && (v->flags & PPM_O_WRONLY);
	case HP_F_OPEN_EXEC:
		if (v->type == HP_T_CREAT_X)
			return (v->mode & EXEC_MASK) != 0;
		return opener && (v->flags & (PPM_O_TMPFILE | PPM_O_CREAT)) && (v->mode & EXEC_MASK);
	}
	return 0;
}

/* -- string operators ------------------------------------------------------------------- */

static int cmp_str(str a, const char *b, uint32_t bn)
{
	uint32_t n = a.n < bn ? a.n : bn;
	int c = memcmp(a.s, b, n);
	if (c)
		return c;
	return a.n < bn ? -1 : a.n > bn ? 1 : 0;
}

static int contains(str a, const char *b, uint32_t bn)
{
	if (bn == 0)
		return 1;
	if (bn > a.n)
		return 0;
	for (uint32_t i = 0; i + bn <= a.n; i++)
		if (a.s[i] == b[0] && memcmp(a.s + i, b, bn) == 0)
			return 1;
	return 0;
}

static int tok_match(const unsigned char *t, unsigned char c)
{
	if (t[0] == G_ANY)
		return 1;
	if (t[0] == G_LIT)
		return t[1] == c;
	/* G_CLASS */
	return c < 128 && (t[1 + (c >> 3)] >> (c & 7)) & 1;
}

static uint32_t tok_len(const unsigned char *t)
{
	return t[0] == G_CLASS ? 17 : t[0] == G_LIT ? 2 : 1;
}

/* the whole string against the tokens; '*' backtracks to the last star only (enough when
 * every other token matches exactly one character) */
static int glob(str s, const unsigned char *pat, uint32_t plen)
{
	uint32_t pi = 0, si = 0;
	uint32_t star_p = UINT32_MAX, star_s = 0;
	while (si < s.n) {
		if (pi < plen && pat[pi] == G_STAR) {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < plen && tok_match(pat + pi, (unsigned char)s.s[si])) {
			pi += tok_len(pat + pi);
			si++;
			continue;
		}
		if (star_p == UINT32_MAX)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && pat[pi] == G_STAR)
		pi++;
	return pi == plen;
}

static int pmatch(str s, const char *pfx, uint32_t pn)
{
	/* v.strip('/') */
	while (s.n && s.s[0] == '/') {
		s.s++;
		s.n--;
	}
	while (s.n && s.s[s.n - 1] == '/')
		s.n--;
	if (pn == 0)
		return 1;
	return pn <= s.n && memcmp(s.s, pfx, pn) == 0 && (pn == s.n || s.s[pn] == '/');
}

/* 1 / 0, or HP_UNKNOWN for an operator strings do not take (check() refuses those) */
static int str_op(const hp_prog *p, const hp_pred *pr, str v)
{
	const char *b = p->strs + p->str_off[pr->first];
	uint32_t bn = p->str_len[pr->first];
	switch (pr->op) {
	case HP_OP_EQ:
		return v.n == bn && memcmp(v.s, b, bn) == 0;
	case HP_OP_NE:
		return !(v.n == bn && memcmp(v.s, b, bn) == 0);
	case HP_OP_LT:
		return cmp_str(v, b, bn) < 0;
	case HP_OP_LE:
		return cmp_str(v, b, bn) <= 0;
	case HP_OP_GT:
		return cmp_str(v, b, bn) > 0;
	case HP_OP_GE:
		return cmp_str(v, b, bn) >= 0;
	case HP_OP_STARTSWITH:
		return bn <= v.n && memcmp(v.s, b, bn) == 0;
	case HP_OP_ENDSWITH:
		return bn <= v.n && memcmp(v.s + v.n - bn, b, bn) == 0;
	case HP_OP_CONTAINS:
		return contains(v, b, bn);
	case HP_OP_GLOB:
		return glob(v, (const unsigned char *)b, bn);
	case HP_OP_IN:
	case HP_OP_PMATCH:
		for (uint32_t k = pr->first; k < pr->first + pr->count; k++) {
			const char *e = p->strs + p->str_off[k];
			uint32_t en = p->str_len[k];
			if (pr->op == HP_OP_IN ? (v.n == en && memcmp(v.s, e, en) == 0)
			                       : pmatch(v, e, en))
				return 1;
		}
		return 0;
	}
	return HP_UNKNOWN;
}

/* 1 / 0, or HP_UNKNOWN for an operator numbers do not take (check() refuses those) */
static int int_op(const hp_prog *p, const hp_pred *pr, int64_t v)
{
	int64_t b = p->ints[pr->first];
	switch (pr->op) {
	case HP_OP_EQ:
		return v == b;
	case HP_OP_NE:
		return v != b;
	case HP_OP_LT:
		return v < b;
	case HP_OP_LE:
		return v <= b;
	case HP_OP_GT:
		return v > b;
	case HP_OP_GE:
		return v >= b;
	case HP_OP_IN:
		for (uint32_t k = pr->first; k < pr->first + pr->count; k++)
			if (p->ints[k] == v)
				return 1;
		return 0;
	}
	return HP_UNKNOWN;
}

/* HP_TRUE / HP_FALSE / HP_UNKNOWN (1, 0, 2: str_op's and int_op's answers as they are) */
static int eval_pred(const hp_prog *p, const hp_pred *pr, const view *v)
{
	if (!op_fits(pr->field, pr->op)) /* FALSE would absorb: never guess it */
		return HP_UNKNOWN;
	if (pr->field <= HP_F_TYPE) {
		if (v->is_close)
			return HP_UNKNOWN;
		str s;
		if (!str_field(v, pr->field, &s))
			return HP_FALSE; /* N/A: false for every operator */
		return str_op(p, pr, s);
	}
	if (v->is_close && pr->field != HP_F_FDNUM && pr->field != HP_F_RAWRES)
		return HP_UNKNOWN;
	return int_op(p, pr, int_field(v, pr->field));
}

static int eval(const hp_prog *p, uint32_t i, const view *v, int depth)
{
	const hp_node *nd = &p->nodes[i];
	if (depth > HP_MAX_DEPTH)
		return HP_UNKNOWN;
	switch (nd->kind) {
	case HP_N_CONST:
		return (int)nd->arg;
	case HP_N_PRED:
		return eval_pred(p, &p->preds[nd->arg], v);
	case HP_N_NOT: {
		int r = eval(p, i + 1, v, depth + 1);
		return r == HP_UNKNOWN ? HP_UNKNOWN : !r;
	}
	case HP_N_AND:
	case HP_N_OR: {
		int stop = nd->kind == HP_N_AND ? HP_FALSE : HP_TRUE;
		int acc = nd->kind == HP_N_AND ? HP_TRUE : HP_FALSE;
		for (uint32_t j = i + 1; j < nd->end; j = p->nodes[j].end) {
			int r = eval(p, j, v, depth + 1);
			if (r == stop)
				return stop;
			if (r == HP_UNKNOWN)
				acc = HP_UNKNOWN;
		}
		return acc;
	}
	}
	return HP_UNKNOWN;
}

static int verdict(const hp_prog *p, const view *v)
{
	int32_t root = v->type < HP_MAX_TYPE ? p->roots[v->type] : -1;
	if (root < 0)
		return HP_UNKNOWN;
	return eval(p, (uint32_t)root, v, 0);
}

int hp_eval_view(const hp_prog *p, uint32_t t, uint32_t is_close, const char *path,
                 uint32_t path_len, uint32_t isdir, uint32_t flags, uint32_t mode, int64_t fd,
                 int64_t res)
{
	view v = {t, is_close, path, path_len, isdir, flags, mode, fd, res};
	return verdict(p, &v);
}

/* -- the batch -------------------------------------------------------------------------- */

static uint16_t rd16(const unsigned char *b) { uint16_t x; memcpy(&x, b, 2); return x; }
static uint32_t rd32(const unsigned char *b) { uint32_t x; memcpy(&x, b, 4); return x; }
static uint64_t rd64(const unsigned char *b) { uint64_t x; memcpy(&x, b, 8); return x; }

/* an absolute path with no "//", "/./", "/../", no trailing '/', "/." or "/..", every byte
 * printable ASCII: the state layer keeps it as is (sinsp/localpred.py) */
static int normal_path(const unsigned char *s, uint32_t n)
{
	if (n < 2 || s[0] != '/' || s[n - 1] == '/')
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c < 0x20 || c > 0x7e)
			return 0;
		if (c == '/' && i + 1 < n) {
			unsigned char d = s[i + 1];
			if (d == '/')
				return 0;
			if (d == '.') {
				/* "/." or "/.." as a whole component */
				if (i + 2 == n || s[i + 2] == '/')
					return 0;
				if (s[i + 2] == '.' && (i + 3 == n || s[i + 3] == '/'))
					return 0;
			}
		}
	}
	return 1;
}

/* the params of an exit: (number, index of fd/res, name, flags (-1: none), mode, dev, ino) */
typedef struct {
	uint32_t nparams_min, nparams_max;
	int name, flags, mode, dev, ino;
} layout;

static const layout L_OPEN = {6, 6, 1, 2, 3, 4, 5};
static const layout L_OPENAT_2 = {7, 7, 2, 3, 4, 5, 6};
static const layout L_OPENAT2 = {8, 8, 2, 3, 4, 6, 7};
static const layout L_CREAT = {5, 6, 1, -1, 2, 3, 4};

int hp_classify(const hp_prog *p, const char *buf_, uint64_t len, const char *offsets_,
                uint32_t n, hp_out *out)
{
	const unsigned char *buf = (const unsigned char *)buf_;
	const unsigned char *offs = (const unsigned char *)offsets_;
	uint32_t m = 0;
	out->n_open = out->n_close = out->n_bad = 0;
	out->last_ts = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = rd32(offs + 4 * (uint64_t)i);
		if (off + 26 > len)
			goto bad;
		const unsigned char *r = buf + off;
		uint32_t rlen = rd32(r + 16);
		uint16_t type = rd16(r + 20);
		uint32_t npar = rd32(r + 22);
		if (rlen < 26 || off + rlen > len || 26 + 2 * (uint64_t)npar > rlen)
			goto bad;
		out->last_ts = rd64(r);
		if (m >= out->cap)
			continue; /* no room: forwarded */
		const layout *lay;
		switch (type) {
		case HP_T_OPEN_X: lay = &L_OPEN; break;
		case HP_T_OPENAT_2_X: lay = &L_OPENAT_2; break;
		case HP_T_OPENAT2_X: lay = &L_OPENAT2; break;
		case HP_T_CREAT_X: lay = &L_CREAT; break;
		case HP_T_CLOSE_X: lay = NULL; break;
		default: continue;
		}
		if (p->roots[type] < 0)
			continue;
		/* param spans, all inside the record */
		uint32_t pos[9], plen[9];
		uint32_t want = lay ? lay->nparams_max : 2;
		if (npar < (lay ? lay->nparams_min : 2) || npar > want)
			continue;
		uint64_t at = 26 + 2 * (uint64_t)npar;
		for (uint32_t k = 0; k < npar; k++) {
			plen[k] = rd16(r + 26 + 2 * k);
			pos[k] = (uint32_t)at;
			at += plen[k];
		}
		if (at > rlen)
			continue;
		view v;
		memset(&v, 0, sizeof(v));
		v.type = type;
		if (plen[0] != 8)
			continue;
		int64_t first = (int64_t)rd64(r + pos[0]);
		if (!lay) {
			if (plen[1] != 8)
				continue;
			v.is_close = 1;
			v.res = first;
			v.fd = (int64_t)rd64(r + pos[1]);
		} else {
			if (first < 0)
				continue;
			v.fd = v.res = first;
			if ((lay->flags >= 0 && plen[lay->flags] != 4) || plen[lay->mode] != 4 ||
			    plen[lay->dev] != 4 || plen[lay->ino] != 8)
				continue;
			const unsigned char *name = r + pos[lay->name];
			uint32_t nl = plen[lay->name];
			const unsigned char *nul = memchr(name, 0, nl);
			if (nul)
				nl = (uint32_t)(nul - name);
			if (!normal_path(name, nl))
				continue;
			v.path = (const char *)name;
			v.path_len = nl;
			v.flags = lay->flags >= 0 ? rd32(r + pos[lay->flags]) : 0;
			v.mode = rd32(r + pos[lay->mode]);
			v.isdir = lay->flags >= 0 && (v.flags & PPM_O_DIRECTORY);
		}
		if (verdict(p, &v) != HP_FALSE)
			continue;
		out->idx[m] = i;
		out->tid[m] = (int64_t)rd64(r + 8);
		out->fd[m] = v.fd;
		out->res[m] = v.res;
		if (v.is_close) {
			out->kind[m] = v.res >= 0 ? HP_CLOSE : HP_CLOSE_FAILED;
			if (v.res >= 0 && m > 0 && out->kind[m - 1] == HP_OPEN && out->idx[m - 1] + 1 == i &&
			    out->tid[m - 1] == out->tid[m] && out->fd[m - 1] == v.fd)
				out->kind[m - 1] = HP_OPEN_PAIRED;
			out->n_close++;
		} else {
			out->kind[m] = HP_OPEN;
			out->name_off[m] = (uint32_t)(v.path - (const char *)buf);
			out->name_len[m] = v.path_len;
			out->flags[m] = lay->flags >= 0 ? v.flags : CREAT_FLAGS;
			out->dev[m] = rd32(r + pos[lay->dev]);
			out->ino[m] = rd64(r + pos[lay->ino]);
			out->isdir[m] = (uint8_t)v.isdir;
			out->n_open++;
		}
		m++;
		continue;
	bad:
		if (m < out->cap) {
			out->idx[m] = i;
			out->kind[m] = HP_BAD;
			m++;
			out->n_bad++;
		}
	}
	out->m = m;
	return 0;
}

/*
 * hotpath: the live hot path's classifier (sinsp/hotpath.py is its Python side).
 *
 * One call per drained ring batch walks the records (the drain's buffer and offsets) and sorts
 * each into FORWARD (it becomes an EventRecord and an Event, as without the hot path), ABSORB
 * (an open-family or close exit no enabled rule can match: Python only applies its state
 * change) or BAD (its header does not fit the buffer: skipped and counted, as the drain does).
 *
 * A record is absorbed only when it is a *candidate* (sinsp/localpred.py: an open, openat,
 * openat2 or creat exit in the live exit-only layout with res >= 0 and an absolute, already
 * normal, printable-ASCII name; or a close exit) and the predicate tree of its type evaluates
 * to FALSE in Kleene logic.  A type without a tree is never absorbed.
 *
 * The trees are flat: nodes in preorder, each with the index just past its subtree, so And/Or
 * walk their children and stop at the first FALSE/TRUE.  Pred operands live in a string table
 * (string fields) or an integer table (numbers, booleans as 0/1).
 *
 * Only this header declares the API; sinsp/_cffi_src/build_hotpath.py reads it as the cdef.
 */
#ifndef HP_HOTPATH_H
#define HP_HOTPATH_H

#include <stdint.h>

#define HP_ABI 5 /* 5: hp_load refuses a field/operator mismatch and a cut glob */

/* record kinds (hp_out.kind) */
#define HP_FORWARD 0
#define HP_OPEN 1
#define HP_CLOSE 2
#define HP_BAD 3
#define HP_CLOSE_FAILED 4 /* a close exit with res < 0: nothing to remove */
/* an absorbed open whose very next record is an absorbed close (res >= 0) of the same fd by
 * the same thread (that close's entry follows): together they leave the fd closed */
#define HP_OPEN_PAIRED 5

/* Kleene values */
#define HP_FALSE 0
#define HP_TRUE 1
#define HP_UNKNOWN 2

/* node kinds */
#define HP_N_CONST 0 /* arg: HP_FALSE / HP_TRUE / HP_UNKNOWN */
#define HP_N_PRED 1  /* arg: index in the pred table */
#define HP_N_AND 2
#define HP_N_OR 3
#define HP_N_NOT 4

/* fields */
#define HP_F_NAME 0      /* fd.name, fd.nameraw */
#define HP_F_DIRECTORY 1 /* fd.directory */
#define HP_F_FILENAME 2  /* fd.filename (N/A on a directory) */
#define HP_F_TYPECHAR 3  /* fd.typechar */
#define HP_F_TYPE 4      /* fd.type */
#define HP_F_FDNUM 5     /* fd.num */
#define HP_F_RAWRES 6    /* evt.rawres */
#define HP_F_OPEN_READ 7 /* evt.is_open_read */
#define HP_F_OPEN_WRITE 8
#define HP_F_OPEN_EXEC 9

/* operators */
#define HP_OP_EQ 0
#define HP_OP_NE 1
#define HP_OP_LT 2
#define HP_OP_LE 3
#define HP_OP_GT 4
#define HP_OP_GE 5
#define HP_OP_IN 6
#define HP_OP_STARTSWITH 7
#define HP_OP_ENDSWITH 8
#define HP_OP_CONTAINS 9
#define HP_OP_GLOB 10
#define HP_OP_PMATCH 11 /* strings: the prefixes' components joined by '/', no outer '/' */

/* the event types the hot path knows (PPME codes) */
#define HP_T_CLOSE_X 5
#define HP_T_OPEN_X 3
#define HP_T_CREAT_X 59
#define HP_T_OPENAT_2_X 307
#define HP_T_OPENAT2_X 327
#define HP_MAX_TYPE 512

/* the deepest tree C evaluates (the compiler refuses deeper ones) */
#define HP_MAX_DEPTH 200

typedef struct {
	uint32_t kind;
	uint32_t end; /* index just past this node's subtree */
	int64_t arg;
} hp_node;

typedef struct {
	uint32_t field;
	uint32_t op;
	uint32_t first; /* operands: [first, first + count) of the string or integer table */
	uint32_t count;
} hp_pred;

/* output columns, one entry per absorbed record (m of them), plus per-batch counts */
typedef struct {
	uint32_t *idx;      /* record index in the batch */
	uint8_t *kind;      /* HP_OPEN / HP_OPEN_PAIRED / HP_CLOSE / HP_CLOSE_FAILED / HP_BAD */
	int64_t *tid;
	int64_t *fd;        /* the fd opened or closed */
	int64_t *res;       /* close: its result */
	uint32_t *name_off; /* open: the path in the buffer */
	uint32_t *name_len;
	uint32_t *flags;    /* open: FdInfo.openflags */
	uint32_t *dev;
	uint64_t *ino;
	uint8_t *isdir;     /* open: FdInfo.type is DIRECTORY (else FILE) */
	uint32_t cap;       /* room in the columns */
	uint32_t m;         /* entries written */
	uint32_t n_open;
	uint32_t n_close;
	uint32_t n_bad;
	uint64_t last_ts;   /* ts of the batch's last well-formed record (0: none) */
} hp_out;

typedef struct hp_prog hp_prog;

int hp_abi(void);
hp_prog *hp_new(void);
void hp_free(hp_prog *p);

/* replace the program: the node, pred, string (bytes + offsets/lengths) and integer tables,
 * and per event type the root node (-1: never absorbed); returns 0, or -1 when a table is
 * malformed (then the program absorbs nothing): an index out of range, a subtree not well
 * nested, an operator the field's kind has no use for (strings: all; numbers: the comparisons
 * and 'in'; booleans: =, != and 'in'), a glob operand that is not whole tokens */
int hp_load(hp_prog *p, const hp_node *nodes, uint32_t n_nodes, const hp_pred *preds,
            uint32_t n_preds, const char *strs, uint64_t strs_len, const uint32_t *str_off,
            const uint32_t *str_len, uint32_t n_strs, const int64_t *ints, uint32_t n_ints,
            const int32_t *roots, uint32_t n_roots);

/* classify a drained batch (records back to back in buf, their offsets, n of them) */
int hp_classify(const hp_prog *p, const char *buf, uint64_t len, const char *offsets,
                uint32_t n, hp_out *out);

/* the Kleene verdict of type t's tree on one candidate view, for tests (HP_UNKNOWN when the
 * type has no tree); is_close: the view is a close exit (path and flags unused) */
int hp_eval_view(const hp_prog *p, uint32_t t, uint32_t is_close, const char *path,
                 uint32_t path_len, uint32_t isdir, uint32_t flags, uint32_t mode, int64_t fd,
                 int64_t res);

#endif

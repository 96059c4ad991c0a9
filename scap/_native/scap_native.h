/*
 * scap_native: the C fast path of the savefile reader.
 *
 * One call scans a buffer of consecutive event blocks and fills one scap_evt_out per kept
 * event, applying the event-type bitmap in C so filtered-out records never reach Python.
 * It has exactly the semantics of scap.decode.scan_events (the pure-Python reference).
 * Everything here is pure computation over caller-owned memory: no allocation, no I/O,
 * no global state.
 */
#ifndef SCAP_NATIVE_H
#define SCAP_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define SCAP_NATIVE_ABI 4

/* why scap_scan_events stopped */
#define SCAP_STOP_NEED_MORE 0
#define SCAP_STOP_NON_EVENT 1
#define SCAP_STOP_ERROR 2
#define SCAP_STOP_FULL 3

/*
 * Output columns (struct of arrays, each with room for max_events entries), so Python turns
 * each column into a list in one call.  Block offsets are absolute: `base` + offset in buf.
 */
typedef struct {
	uint64_t *ts;
	int64_t *tid;
	uint64_t *block_off; /* stream offset of the block (base + offset in buf) */
	uint64_t *rec_start; /* offset of the event record in buf */
	uint64_t *rec_end;   /* rec_start + record length (after the V1 notification fix-up) */
	uint32_t *nparams;   /* stored (V2) or inferred (V1) */
	uint32_t *dump_flags;
	uint16_t *type;
	uint16_t *cpu;
	uint8_t *v1;         /* 1 if the record has the 22-byte V1 header */
	uint64_t *seq;       /* index of the event in the stream, counting the ones `wanted` drops */
} scap_evt_cols;

typedef struct {
	uint64_t pos;             /* first byte not consumed */
	uint32_t stop;            /* SCAP_STOP_* */
	uint32_t skipped_unknown; /* events with type >= table size */
	uint32_t n_v1;            /* how many of the returned events are V1 records */
	uint64_t seq;             /* in: events (of known type) before buf[pos]; out: after res.pos */
	char error[256];          /* message when stop == SCAP_STOP_ERROR */
} scap_scan_result;

int scap_native_abi(void);

/*
 * Scan buf[pos, end) (`base` = stream offset of buf[0]).  `wanted` is a 65536-bit type
 * bitmap or NULL for all types; `nparams_table`/`large_table` have `table_size` entries
 * (param count, u32-lengths flag).  `res->seq` is read as the stream index of the first
 * event at `pos` and left past the last event consumed: events the bitmap drops still count,
 * so a consumer numbers the kept ones as if it had seen every event (sinsp's evt.num).
 * Returns the number of events written to `out` (at most max_events).
 */
uint32_t scap_scan_events(const uint8_t *buf, uint64_t pos, uint64_t end, uint64_t base,
                          const uint8_t *nparams_table, const uint8_t *large_table,
                          uint32_t table_size, const uint8_t *wanted,
                          const scap_evt_cols *out, uint32_t max_events,
                          scap_scan_result *res);

/*
 * Write a struct-module format ("<" then "{gap}x{len}s" per event) that, unpacked from buf at
 * offset `from`, yields the n records' bytes in one call.  Returns its length, or 0 if `cap`
 * is too small.  (One C-level pass instead of a slice object per record in Python.)
 */
uint32_t scap_raw_format(const scap_evt_cols *cols, uint32_t n, uint64_t from, char *out,
                         uint32_t cap);

#endif

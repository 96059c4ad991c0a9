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

#define SCAP_NATIVE_ABI 1

/* why scap_scan_events stopped */
#define SCAP_STOP_NEED_MORE 0
#define SCAP_STOP_NON_EVENT 1
#define SCAP_STOP_ERROR 2
#define SCAP_STOP_FULL 3

typedef struct {
	uint64_t ts;
	int64_t tid;
	uint64_t block_off; /* offset of the block in buf */
	uint64_t rec_off;   /* offset of the event record in buf */
	uint32_t rec_len;   /* record length (after the V1 notification fix-up) */
	uint32_t nparams;   /* stored (V2) or inferred (V1) */
	uint32_t dump_flags;
	uint16_t type;
	uint16_t cpu;
	uint32_t v1; /* 1 if the record has the 22-byte V1 header */
	uint32_t pad;
} scap_evt_out; /* 56 bytes, no implicit padding */

typedef struct {
	uint64_t pos;             /* first byte not consumed */
	uint32_t stop;            /* SCAP_STOP_* */
	uint32_t skipped_unknown; /* events with type >= table size */
	char error[256];          /* message when stop == SCAP_STOP_ERROR */
} scap_scan_result;

int scap_native_abi(void);

/*
 * Scan buf[pos, end).  `wanted` is a 65536-bit type bitmap or NULL for all types;
 * `nparams_table`/`large_table` have `table_size` entries (param count, u32-lengths flag).
 * Returns the number of events written to `out` (at most max_events).
 */
uint32_t scap_scan_events(const uint8_t *buf, uint64_t pos, uint64_t end,
                          const uint8_t *nparams_table, const uint8_t *large_table,
                          uint32_t table_size, const uint8_t *wanted,
                          scap_evt_out *out, uint32_t max_events,
                          scap_scan_result *res);

#endif

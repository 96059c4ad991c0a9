/* The savefile fast path; see scap_native.h.  Mirrors scap/decode.py:scan_events. */
#include "scap_native.h"

#include <stdio.h>
#include <string.h>

#define BT_SHB 0x0A0D0D0Au
#define BT_EV 0x204u
#define BT_EV_LEGACY 0x8010ABCDu
#define BT_EVF 0x208u
#define BT_EV_V2 0x216u
#define BT_EVF_V2 0x217u
#define BT_EV_V2_LARGE 0x221u
#define BT_EVF_V2_LARGE 0x222u
#define MAX_EVENT_BLOCK (65536u + 8u)
#define NOTIFICATION_E 280
#define INFRASTRUCTURE_EVENT_E 286

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int scap_native_abi(void) { return SCAP_NATIVE_ABI; }

uint32_t scap_raw_format(const scap_evt_cols *cols, uint32_t n, uint64_t from, char *out,
                         uint32_t cap)
{
	uint32_t used = 0;
	if (cap < 2)
		return 0;
	out[used++] = '<';
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gap = cols->rec_start[i] - from;
		uint64_t len = cols->rec_end[i] - cols->rec_start[i];
		int w = snprintf(out + used, cap - used, "%llux%llus", (unsigned long long)gap,
		                 (unsigned long long)len);
		if (w < 0 || (uint32_t)w >= cap - used)
			return 0;
		used += (uint32_t)w;
		from = cols->rec_end[i];
	}
	out[used] = 0;
	return used;
}

static uint32_t stop(scap_scan_result *res, uint64_t pos, uint32_t why, uint32_t n)
{
	res->pos = pos;
	res->stop = why;
	return n;
}

static uint32_t fail(scap_scan_result *res, uint64_t pos, uint32_t n, const char *msg)
{
	snprintf(res->error, sizeof(res->error), "%s", msg);
	return stop(res, pos, SCAP_STOP_ERROR, n);
}

/* libs' V1 param-count inference (format doc 9.2); -1 if none fits */
static int64_t v1_nparams(const uint8_t *rec, uint32_t rec_len, uint32_t table_n, int large)
{
	uint32_t w = large ? 4 : 2;
	for (int64_t n = table_n; n >= 0; n--) {
		uint64_t start = 22 + w * (uint64_t)n;
		if (start > rec_len)
			continue;
		uint64_t total = start;
		for (int64_t i = 0; i < n; i++)
			total += large ? rd32(rec + 22 + 4 * i) : rd16(rec + 22 + 2 * i);
		if (total == rec_len)
			return n;
		if (total < rec_len)
			return -1;
	}
	return -1;
}

uint32_t scap_scan_events(const uint8_t *buf, uint64_t pos, uint64_t end, uint64_t base,
                          const uint8_t *nparams_table, const uint8_t *large_table,
                          uint32_t table_size, const uint8_t *wanted,
                          const scap_evt_cols *out, uint32_t max_events,
                          scap_scan_result *res)
{
	uint32_t n = 0;
	char msg[128];

	res->skipped_unknown = 0;
	res->n_v1 = 0;
	res->error[0] = 0;
	for (;;) {
		if (n >= max_events)
			return stop(res, pos, SCAP_STOP_FULL, n);
		if (end - pos < 8 || pos > end)
			return stop(res, pos, SCAP_STOP_NEED_MORE, n);
		const uint8_t *b = buf + pos;
		uint32_t btype = rd32(b), blen = rd32(b + 4);
		int v2, has_flags, is_large_block;
		switch (btype) {
		case BT_EV: case BT_EV_LEGACY: v2 = 0; has_flags = 0; is_large_block = 0; break;
		case BT_EVF: v2 = 0; has_flags = 1; is_large_block = 0; break;
		case BT_EV_V2: v2 = 1; has_flags = 0; is_large_block = 0; break;
		case BT_EVF_V2: v2 = 1; has_flags = 1; is_large_block = 0; break;
		case BT_EV_V2_LARGE: v2 = 1; has_flags = 0; is_large_block = 1; break;
		case BT_EVF_V2_LARGE: v2 = 1; has_flags = 1; is_large_block = 1; break;
		default:
			return stop(res, pos, SCAP_STOP_NON_EVENT, n);
		}
		if (blen < 12 || (blen > MAX_EVENT_BLOCK && !is_large_block)) {
			snprintf(msg, sizeof(msg), "bad block length %u", blen);
			return fail(res, pos, n, msg);
		}
		if (end - pos < blen)
			return stop(res, pos, SCAP_STOP_NEED_MORE, n);
		if (rd32(b + blen - 4) != blen)
			return fail(res, pos, n, "block trailer mismatch");
		uint32_t hsize = v2 ? 26 : 22;
		/* block header, cpu [+ flags], record header, trailer must all fit in the block */
		if (blen < 12u + (has_flags ? 6u : 2u) + hsize)
			return fail(res, pos, n, "event block too short");
		uint16_t cpu = rd16(b + 8);
		uint32_t dflags = 0;
		uint64_t rec = pos + 10;
		if (has_flags) {
			dflags = rd32(b + 10);
			rec = pos + 14;
		}
		uint64_t room = pos + blen - 4 - rec;
		const uint8_t *r = buf + rec;
		uint64_t ts = rd64(r);
		int64_t tid = (int64_t)rd64(r + 8);
		uint32_t rec_len = rd32(r + 16);
		uint16_t type = rd16(r + 20);
		uint32_t nparams = v2 ? rd32(r + 22) : 0;
		if (type >= table_size) {
			res->skipped_unknown++;
			pos += blen;
			continue;
		}
		/* old captures over-count these two by 3; libs always subtracts it */
		if (!v2 && (type == NOTIFICATION_E || type == INFRASTRUCTURE_EVENT_E) && rec_len >= 3)
			rec_len -= 3;
		if (rec_len < hsize || rec_len > room) {
			snprintf(msg, sizeof(msg), "bad event length %u", rec_len);
			return fail(res, pos, n, msg);
		}
		int keep = wanted == NULL || ((wanted[type >> 3] >> (type & 7)) & 1);
		if (v2) {
			uint32_t w = large_table[type] ? 4 : 2;
			uint64_t lens_end = 26 + (uint64_t)w * nparams;
			if (lens_end > rec_len) {
				snprintf(msg, sizeof(msg), "%u params do not fit in %u bytes", nparams,
				         rec_len);
				return fail(res, pos, n, msg);
			}
			if (!keep) {
				res->seq++;
				pos += blen;
				continue;
			}
			uint64_t total = lens_end;
			for (uint32_t i = 0; i < nparams; i++)
				total += w == 4 ? rd32(r + 26 + 4 * i) : rd16(r + 26 + 2 * i);
			if (total > rec_len) {
				snprintf(msg, sizeof(msg), "param lengths exceed the event length %u",
				         rec_len);
				return fail(res, pos, n, msg);
			}
		} else {
			int64_t np = v1_nparams(r, rec_len, nparams_table[type], large_table[type]);
			if (np < 0) {
				snprintf(msg, sizeof(msg),
				         "cannot infer the params of a V1 event of type %u", type);
				return fail(res, pos, n, msg);
			}
			nparams = (uint32_t)np;
			if (!keep) {
				res->seq++;
				pos += blen;
				continue;
			}
		}
		out->ts[n] = ts;
		out->tid[n] = tid;
		out->block_off[n] = base + pos;
		out->rec_start[n] = rec;
		out->rec_end[n] = rec + rec_len;
		out->nparams[n] = nparams;
		out->dump_flags[n] = dflags;
		out->type[n] = type;
		out->cpu[n] = cpu;
		out->v1[n] = v2 ? 0 : 1;
		out->seq[n] = res->seq++;
		res->n_v1 += v2 ? 0 : 1;
		n++;
		pos += blen;
	}
}

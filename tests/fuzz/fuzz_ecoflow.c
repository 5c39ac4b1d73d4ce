/* libFuzzer target for the EcoFlow reassembler (include/ecoflow.h).
 *
 * The input is a program of frames.  Each step starts with an op byte:
 *   op & 7 == 0..4  one raw frame on channel A, B, C, D or E: a byte of
 *                   position (A: index and count; B/C: part), a byte whose
 *                   low 4 bits pick one of 16 streams and whose high nibble is
 *                   the DLC (clamped to 8), then the data (A-C: with op &
 *                   0x08 the record's first byte is AA, whatever the data);
 *   op & 7 == 5     a frame with 4 bytes of any id, extended or not;
 *   op & 7 == 6     a whole valid record, built here with right CRCs from a
 *                   version byte, a length byte and that many payload bytes,
 *                   cut into frames of channel A, B or C (op >> 3 picks),
 *                   which may be dropped or doubled (bits of op);
 *   op & 7 == 7     ecoflow_flush().
 * Invariants:
 *   - ecoflow_feed() returns 0, or -EINVAL exactly for DLC > 8;
 *   - a delivered record is consistent: a good one has crc_ok, len ==
 *     hdr_len and raw_len == header + len + 2; every record's payload is
 *     its raw bytes after the header, XOR undone, and fits ECOFLOW_RECORD_MAX;
 *   - the counters add up: records == good + each failure, and the
 *     callback saw exactly `records`;
 *   - a valid record built by op 6, fed alone and whole to a fresh
 *     reassembler, comes out good with the same payload;
 *   - the tap (ecoflow.h) keeps its word: one FRAME or NONE event per
 *     frame counted; handles new in order; a record alone in its slot from
 *     its first frame until it is delivered or DROPPED, once; a D/E frame
 *     delivered right after its FRAME; nothing open after the last flush. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "ecoflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

struct fuzz_seen {
	uint64_t calls;
	const uint8_t *want; /* for the fresh-reassembler check: NULL if none */
	uint16_t want_len;
	uint64_t want_good;
	/* The tap's view: the record open in each slot, the last handle, a D/E
	 * record told and not yet delivered, the events for the frame fed. */
	uint64_t occ[ECOFLOW_SLOTS], maxrec, single;
	unsigned frame_events;
};

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_ecoflow: %s\n", what);
	abort();
}

static int fuzz_byte(struct fuzz_in *in, uint8_t *b)
{
	if (!in->n)
		return 0;
	*b = *in->p++;
	in->n--;
	return 1;
}

static void fuzz_tap(void *ctx, const struct ecoflow_tap_event *ev)
{
	struct fuzz_seen *s = ctx;
	bool in = ev->slot >= 0 && ev->slot < ECOFLOW_SLOTS;

	if (s->single)
		fuzz_fail("a tap event between a D/E frame and its delivery");
	switch (ev->kind) {
	case ECOFLOW_TAP_NONE:
		s->frame_events++;
		if (ev->rec || ev->slot != -1 || ev->why < ECOFLOW_WHY_ORPHAN ||
		    ev->why > ECOFLOW_WHY_UNKNOWN_CHANNEL)
			fuzz_fail("a NONE event with a record or without a reason");
		break;
	case ECOFLOW_TAP_FRAME:
		s->frame_events++;
		if (ev->slot == -1) {
			if (ev->rec != s->maxrec + 1 || !ev->last)
				fuzz_fail("a D/E frame with an old handle");
			s->single = s->maxrec = ev->rec;
			break;
		}
		if (!in)
			fuzz_fail("a FRAME event with a slot out of range");
		if (!s->occ[ev->slot]) {
			if (ev->rec != s->maxrec + 1)
				fuzz_fail("a new record with an old handle");
			s->occ[ev->slot] = s->maxrec = ev->rec;
		}
		if (s->occ[ev->slot] != ev->rec)
			fuzz_fail("two records in one slot");
		break;
	case ECOFLOW_TAP_DROPPED:
		if (!in || !ev->rec || s->occ[ev->slot] != ev->rec ||
		    ev->why < ECOFLOW_WHY_RESTARTED || ev->why > ECOFLOW_WHY_TOO_LONG)
			fuzz_fail("a record dropped that was not open");
		s->occ[ev->slot] = 0;
		break;
	default:
		fuzz_fail("an unknown tap event");
	}
}

static void fuzz_check(void *ctx, const struct ecoflow_record *r)
{
	struct fuzz_seen *s = ctx;
	size_t hdr = r->version == 2 ? ECOFLOW_V2_HDR : ECOFLOW_V3_HDR;

	s->calls++;
	if (r->slot == -1) {
		if (!s->single || r->rec != s->single)
			fuzz_fail("a D/E record delivered that was not told");
		s->single = 0;
	} else if (r->slot < 0 || r->slot >= ECOFLOW_SLOTS || !r->rec ||
		   s->occ[r->slot] != r->rec) {
		fuzz_fail("a record delivered that was not open");
	} else {
		s->occ[r->slot] = 0;
	}
	if (r->len > ECOFLOW_RECORD_MAX || r->raw_len > ECOFLOW_RECORD_MAX)
		fuzz_fail("a record beyond ECOFLOW_RECORD_MAX");
	if (r->len && (!r->payload || !r->raw))
		fuzz_fail("a payload without bytes");
	if (r->chan == 'D' || r->chan == 'E') {
		if (r->err || r->len > 8 || r->len != r->raw_len ||
		    (r->len && memcmp(r->payload, r->raw, r->len)))
			fuzz_fail("a single frame delivered inconsistently");
		return;
	}
	if (r->err == ECOFLOW_OK) {
		if (!r->crc_ok || r->len != r->hdr_len || r->raw_len != hdr + r->len + 2)
			fuzz_fail("a good record with inconsistent lengths");
		if (crc_8_smbus(0, r->raw, 4) != r->raw[4] || r->raw[0] != 0xAA)
			fuzz_fail("a good record with a bad header");
	} else if (r->crc_ok) {
		fuzz_fail("a failed record with crc_ok");
	}
	if (r->len) {
		if (hdr + r->len > r->raw_len)
			fuzz_fail("a payload beyond the raw record");
		for (size_t i = 0; i < r->len; i++)
			if (r->payload[i] !=
			    (r->xored ? r->raw[hdr + i] ^ r->raw[6] : r->raw[hdr + i]))
				fuzz_fail("a payload that is not the raw bytes, XOR undone");
	}
	if (s->want && r->err == ECOFLOW_OK && r->len == s->want_len &&
	    memcmp(r->payload, s->want, r->len) == 0)
		s->want_good++;
}

static void fuzz_stats(const struct ecoflow *e, const struct fuzz_seen *s)
{
	const struct ecoflow_stats *st = &e->st;

	if (st->records !=
	    st->good + st->bad_header_crc + st->bad_version + st->bad_length + st->bad_crc)
		fuzz_fail("the counters do not add up");
	if (st->records != s->calls)
		fuzz_fail("the callback did not see every record");
}

static void fuzz_feed(struct ecoflow *e, struct fuzz_seen *s, uint32_t id, bool ext, uint8_t len,
		      const uint8_t *d)
{
	int r;

	s->frame_events = 0;
	r = ecoflow_feed(e, id, ext, len, d, (int64_t)e->st.frames, fuzz_check, s);
	if (r != (len > 8 ? -EINVAL : 0))
		fuzz_fail("ecoflow_feed returned something unexpected");
	if (s->frame_events != 1)
		fuzz_fail("a frame not told to the tap exactly once");
}

/* After a flush nothing is open. */
static void fuzz_flush(struct ecoflow *e, struct fuzz_seen *s)
{
	ecoflow_flush(e, fuzz_check, s);
	for (size_t i = 0; i < ECOFLOW_SLOTS; i++)
		if (s->occ[i])
			fuzz_fail("a record neither delivered nor dropped");
	if (s->maxrec != e->recs)
		fuzz_fail("a handle never told");
}

/* Build a valid record and cut it into frames of channel c (0 A, 1 B, 2 C). */
static void fuzz_record(struct ecoflow *e, struct fuzz_seen *s, struct fuzz_in *in, uint8_t op)
{
	static uint8_t rec[ECOFLOW_RECORD_MAX], pay[256];
	uint8_t ver, plen, c = (uint8_t)((op >> 3) % 3), key = (uint8_t)(op * 37);
	size_t hdr, n = 0, i, nframes, step = c == 0 ? 7 : 8;
	uint16_t crc;

	if (!fuzz_byte(in, &ver) || !fuzz_byte(in, &plen))
		return;
	ver = ver & 1 ? 2 : 3;
	hdr = ver == 2 ? ECOFLOW_V2_HDR : ECOFLOW_V3_HDR;
	for (i = 0; i < plen; i++)
		if (!fuzz_byte(in, &pay[i]))
			pay[i] = (uint8_t)i;
	rec[n++] = 0xAA;
	rec[n++] = ver;
	rec[n++] = plen;
	rec[n++] = 0;
	rec[n] = crc_8_smbus(0, rec, 4);
	n++;
	rec[n++] = 0x2C | (op & 0x20 ? 0 : 0x20); /* XORed or not */
	rec[n++] = key;
	memset(rec + n, 0, hdr - n);
	n = hdr;
	for (i = 0; i < plen; i++)
		rec[n++] = rec[5] & 0x20 ? pay[i] ^ key : pay[i];
	crc = crc_16_arc(0, rec, n);
	rec[n++] = (uint8_t)crc;
	rec[n++] = (uint8_t)(crc >> 8);

	nframes = (n + step - 1) / step;
	for (int pass = 0; pass < 2; pass++) {
		struct ecoflow *fe = e;
		struct fuzz_seen fs = {.want = pay, .want_len = plen};
		static struct ecoflow fresh;

		if (pass == 1) {
			/* The same frames, clean, alone: must come out good. */
			ecoflow_init(&fresh);
			ecoflow_set_tap(&fresh, fuzz_tap, &fs);
			fe = &fresh;
		}
		for (i = 0; i < nframes; i++) {
			size_t off = i * step, v = n - off < step ? n - off : step;
			uint8_t f[8] = {0};
			uint32_t id;
			int times = 1;

			if (pass == 0 && (op & 0x40) && i == (size_t)(key % nframes))
				times = op & 0x80 ? 0 : 2; /* one frame dropped or doubled */
			if (c == 0) {
				id = (uint32_t)(i + 1) << 22 | (uint32_t)nframes << 16 | 0x0308;
				f[0] = (uint8_t)v;
				memcpy(f + 1, rec + off, v);
				v = 8;
			} else {
				uint32_t part = i == 0 ? 0 : i + 1 == nframes ? 2 : 1;

				id = (c == 1 ? 0x100u : 0x120u) + part;
				id = id << 20 | 0x03001;
				memcpy(f, rec + off, v);
			}
			while (times--)
				fuzz_feed(fe, pass ? &fs : s, id, true, (uint8_t)v, f);
		}
		/* A record of A frames needs at most 63 of them. */
		if (pass == 1)
			fuzz_flush(&fresh, &fs);
		if (pass == 1 && (c != 0 || nframes <= 63)) {
			if (fs.want_good != 1 || fresh.st.records != 1)
				fuzz_fail("a valid record fed alone did not come out good");
			fuzz_stats(&fresh, &fs);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ecoflow e;
	struct fuzz_seen s = {0};
	struct fuzz_in in = {data, size};
	uint8_t op;

	ecoflow_init(&e);
	ecoflow_set_tap(&e, fuzz_tap, &s);
	while (fuzz_byte(&in, &op)) {
		uint8_t pos = 0, sel = 0, len, d[16] = {0};
		uint32_t id = 0;
		bool ext = true;

		switch (op & 7) {
		case 6:
			fuzz_record(&e, &s, &in, op);
			continue;
		case 7:
			fuzz_flush(&e, &s);
			continue;
		case 5:
			for (int i = 0; i < 4; i++) {
				uint8_t b = 0;

				fuzz_byte(&in, &b);
				id = id << 8 | b;
			}
			ext = !(op & 0x80);
			id &= ext ? 0x1FFFFFFF : 0x7FF;
			break;
		default:
			fuzz_byte(&in, &pos);
			break;
		}
		fuzz_byte(&in, &sel);
		len = (uint8_t)(sel >> 4);
		for (uint8_t i = 0; i < len && i < sizeof(d); i++)
			fuzz_byte(&in, &d[i]);
		if (len > 8 && !(op & 0x40))
			len = 8; /* mostly valid DLCs; sometimes not */
		/* A record's first byte, which would otherwise be guessed: many
		 * open records, for eviction, are then within reach. */
		if ((op & 7) <= 2 && (op & 0x08))
			d[(op & 7) == 0] = 0xAA;
		switch (op & 7) {
		case 0:
			id = (uint32_t)(pos >> 4 & 0xF) << 22 | (uint32_t)(pos & 0xF) << 16 |
			     0x0300 | (sel & 0xF);
			break;
		case 1:
		case 2:
			id = ((op & 7) == 1 ? 0x100u : 0x120u) + pos % 3;
			id = id << 20 | 0x03001 | (uint32_t)(sel & 0xF) << 16;
			break;
		case 3:
			id = 0x10603001;
			break;
		case 4:
			id = 0x10A03130;
			break;
		}
		fuzz_feed(&e, &s, id, ext, len, d);
		fuzz_stats(&e, &s);
	}
	fuzz_flush(&e, &s);
	fuzz_stats(&e, &s);
	return 0;
}

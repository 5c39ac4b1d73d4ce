/* EcoFlow CAN record reassembly and validation, and the tap that tells
 * where each frame went (include/ecoflow.h). */
#include <errno.h>
#include <string.h>

#include "crc.h"
#include "ecoflow.h"

#define EF_SOF 0xAA

enum ef_pos { EF_FIRST = 1, EF_LAST = 2 }; /* bits: a one-frame A record is both */

void ecoflow_init(struct ecoflow *e)
{
	memset(e, 0, sizeof(*e));
}

void ecoflow_set_tap(struct ecoflow *e, ecoflow_tap_cb tap, void *ctx)
{
	e->tap = tap;
	e->tap_ctx = ctx;
}

/* A frame in no record: counted here, so a counter and its event never
 * disagree. */
static void ef_none(struct ecoflow *e, uint64_t *counter, enum ecoflow_why why)
{
	(*counter)++;
	if (e->tap) {
		struct ecoflow_tap_event ev = {.kind = ECOFLOW_TAP_NONE, .why = why, .slot = -1};

		e->tap(e->tap_ctx, &ev);
	}
}

static void ef_tap(struct ecoflow *e, enum ecoflow_tap_kind kind, enum ecoflow_why why,
		   const struct ecoflow_slot *s, bool last)
{
	struct ecoflow_tap_event ev = {
		.kind = kind,
		.why = why,
		.rec = s->rec,
		.slot = (int)(s - e->slot),
		.chan = s->chan,
		.stream = s->stream,
		.last = last,
	};

	if (e->tap)
		e->tap(e->tap_ctx, &ev);
}

/* An open record given up: it will not be delivered. */
static void ef_drop(struct ecoflow *e, struct ecoflow_slot *s, uint64_t *counter,
		    enum ecoflow_why why)
{
	(*counter)++;
	s->open = false;
	ef_tap(e, ECOFLOW_TAP_DROPPED, why, s, false);
}

const char *ecoflow_err_name(enum ecoflow_err err)
{
	switch (err) {
	case ECOFLOW_OK:
		return "ok";
	case ECOFLOW_BAD_HEADER_CRC:
		return "bad_header_crc";
	case ECOFLOW_BAD_VERSION:
		return "bad_version";
	case ECOFLOW_BAD_LENGTH:
		return "bad_length";
	case ECOFLOW_BAD_CRC:
		return "bad_crc";
	}
	return "unknown";
}

static uint16_t ef_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int ecoflow_decode(const uint8_t *raw, size_t n, struct ecoflow_record *r, uint8_t *payload)
{
	size_t hdr, end;

	r->err = ECOFLOW_OK;
	r->version = r->flags = r->src = r->dst = r->dsrc = r->ddst = r->cmd_set = r->cmd_id = 0;
	r->seq = 0;
	r->hdr_len = r->len = 0;
	r->xored = r->crc_ok = false;
	r->payload = payload;
	r->raw = raw;
	r->raw_len = (uint16_t)(n > ECOFLOW_RECORD_MAX ? ECOFLOW_RECORD_MAX : n);
	n = r->raw_len;

	if (n < 5) {
		r->err = ECOFLOW_BAD_LENGTH;
		return -EBADMSG;
	}
	r->version = raw[1];
	r->hdr_len = ef_le16(raw + 2);
	/* The length is only worth anything once its CRC agrees: the header
	 * CRC is what stops a corrupt length from framing the next record. */
	if (crc_8_smbus(0, raw, 4) != raw[4])
		r->err = ECOFLOW_BAD_HEADER_CRC;
	if (r->version == 0x02)
		hdr = ECOFLOW_V2_HDR;
	else if (r->version == 0x03 || r->version == 0x13)
		hdr = ECOFLOW_V3_HDR;
	else {
		if (!r->err)
			r->err = ECOFLOW_BAD_VERSION;
		hdr = ECOFLOW_V3_HDR; /* to show something; the fields mean nothing */
	}
	if (!r->err && n != hdr + r->hdr_len + 2)
		r->err = ECOFLOW_BAD_LENGTH;
	if (n > 5)
		r->flags = raw[5];
	if (n >= 10)
		r->seq = (uint32_t)raw[6] | (uint32_t)raw[7] << 8 | (uint32_t)raw[8] << 16 |
			 (uint32_t)raw[9] << 24;
	if (n >= 14) {
		r->src = raw[12];
		r->dst = raw[13];
	}
	if (n >= hdr) {
		if (hdr == ECOFLOW_V3_HDR) {
			r->dsrc = raw[14];
			r->ddst = raw[15];
		}
		r->cmd_set = raw[hdr - 2];
		r->cmd_id = raw[hdr - 1];
	}
	/* A good record's payload ends before its CRC; a bad one shows every
	 * byte after the header but a CRC's worth, which is the same thing
	 * when only the CRC is wrong. */
	end = n >= hdr + 2 ? n - 2 : hdr;
	if (n >= hdr && end > hdr) {
		r->len = (uint16_t)(end - hdr);
		r->xored = (r->flags & 0x20) != 0;
		for (size_t i = 0; i < r->len; i++)
			payload[i] = r->xored ? raw[hdr + i] ^ raw[6] : raw[hdr + i];
	}
	if (!r->err) {
		r->crc_ok = crc_16_arc(0, raw, n - 2) == ef_le16(raw + n - 2);
		if (!r->crc_ok)
			r->err = ECOFLOW_BAD_CRC;
	}
	return r->err ? -EBADMSG : 0;
}

static struct ecoflow_slot *ef_find(struct ecoflow *e, char chan, uint32_t stream)
{
	for (size_t i = 0; i < ECOFLOW_SLOTS; i++)
		if (e->slot[i].open && e->slot[i].chan == chan && e->slot[i].stream == stream)
			return &e->slot[i];
	return NULL;
}

/* A free slot, or the least recently fed one, its record given up. */
static struct ecoflow_slot *ef_take(struct ecoflow *e)
{
	struct ecoflow_slot *old = &e->slot[0];

	for (size_t i = 0; i < ECOFLOW_SLOTS; i++) {
		if (!e->slot[i].open)
			return &e->slot[i];
		if (e->slot[i].used < old->used)
			old = &e->slot[i];
	}
	ef_drop(e, old, &e->st.evicted, ECOFLOW_WHY_EVICTED);
	return old;
}

static void ef_deliver(struct ecoflow *e, struct ecoflow_record *r, ecoflow_cb cb, void *ctx)
{
	uint64_t *reason[] = {
		[ECOFLOW_OK] = &e->st.good,
		[ECOFLOW_BAD_HEADER_CRC] = &e->st.bad_header_crc,
		[ECOFLOW_BAD_VERSION] = &e->st.bad_version,
		[ECOFLOW_BAD_LENGTH] = &e->st.bad_length,
		[ECOFLOW_BAD_CRC] = &e->st.bad_crc,
	};

	e->st.records++;
	(*reason[r->err])++;
	if (cb)
		cb(ctx, r);
}

/* D/E: one frame is the whole message; there is nothing to check. */
static void ef_single(struct ecoflow *e, char chan, uint32_t id, uint8_t len, const uint8_t *data,
		      int64_t ts_ns, ecoflow_cb cb, void *ctx)
{
	struct ecoflow_record r = {.chan = chan,
				   .stream = id,
				   .rec = ++e->recs,
				   .slot = -1,
				   .ts_ns = ts_ns,
				   .crc_ok = true};

	if (e->tap) {
		struct ecoflow_tap_event ev = {.kind = ECOFLOW_TAP_FRAME,
					       .rec = r.rec,
					       .slot = -1,
					       .chan = chan,
					       .stream = id,
					       .last = true};

		e->tap(e->tap_ctx, &ev);
	}
	if (len)
		memcpy(e->payload, data, len);
	r.payload = e->payload;
	r.raw = e->payload;
	r.len = r.hdr_len = r.raw_len = len;
	ef_deliver(e, &r, cb, ctx);
}

int ecoflow_feed(struct ecoflow *e, uint32_t id, bool ext, uint8_t len, const uint8_t *data,
		 int64_t ts_ns, ecoflow_cb cb, void *ctx)
{
	uint32_t top = id >> 20;
	struct ecoflow_slot *s;
	uint32_t stream;
	unsigned pos = 0;
	char chan;

	if (!e || (!data && len))
		return -EINVAL;
	e->st.frames++;
	if (len > 8) {
		ef_none(e, &e->st.bad_frame, ECOFLOW_WHY_BAD_FRAME);
		return -EINVAL;
	}
	if (!ext || id > 0x1FFFFFFF) {
		/* Every EcoFlow id seen is 29-bit; a standard frame is someone else's. */
		ef_none(e, &e->st.bad_frame, ECOFLOW_WHY_BAD_FRAME);
		return 0;
	}
	if (!(id & 0x10000000)) {
		unsigned index = (id >> 22) & 0x3F, count = (id >> 16) & 0x3F;

		if (!index || !count || index > count || !len || data[0] > len - 1) {
			ef_none(e, &e->st.bad_frame, ECOFLOW_WHY_BAD_FRAME);
			return 0;
		}
		chan = 'A';
		stream = id & 0xFFFF;
		pos = (index == 1 ? EF_FIRST : 0) | (index == count ? EF_LAST : 0);
		/* Only the valid bytes after the length byte are the record's. */
		len = data[0];
		data++;
	} else if (top >= 0x100 && top <= 0x102) {
		chan = 'B';
	} else if (top >= 0x120 && top <= 0x122) {
		chan = 'C';
	} else if (top == 0x106 || top == 0x10A) {
		ef_single(e, top == 0x106 ? 'D' : 'E', id, len, data, ts_ns, cb, ctx);
		return 0;
	} else {
		ef_none(e, &e->st.unknown_channel, ECOFLOW_WHY_UNKNOWN_CHANNEL);
		return 0;
	}
	if (chan != 'A') {
		stream = id & ~(UINT32_C(0xF) << 20);
		pos = (top & 0xF) == 0 ? EF_FIRST : (top & 0xF) == 2 ? EF_LAST : 0;
	}

	s = ef_find(e, chan, stream);
	if (pos & EF_FIRST) {
		if (s)
			ef_drop(e, s, &e->st.restarted, ECOFLOW_WHY_RESTARTED);
		if (!len || data[0] != EF_SOF) {
			ef_none(e, &e->st.orphan, ECOFLOW_WHY_ORPHAN);
			return 0;
		}
		s = ef_take(e);
		*s = (struct ecoflow_slot){
			.open = true, .chan = chan, .stream = stream, .rec = ++e->recs};
	} else if (!s) {
		ef_none(e, &e->st.orphan, ECOFLOW_WHY_ORPHAN);
		return 0;
	}
	s->used = ++e->tick;
	s->ts_ns = ts_ns;
	/* Told before the record ends, so a caller has the frame with the
	 * rest of it when it is delivered or dropped. */
	ef_tap(e, ECOFLOW_TAP_FRAME, ECOFLOW_WHY_NONE, s,
	       (pos & EF_LAST) && len <= ECOFLOW_RECORD_MAX - s->len);
	if (len > ECOFLOW_RECORD_MAX - s->len) {
		/* Its later frames are orphans: nothing bounds how many there are. */
		ef_drop(e, s, &e->st.too_long, ECOFLOW_WHY_TOO_LONG);
		return 0;
	}
	if (len)
		memcpy(s->buf + s->len, data, len);
	s->len = (uint16_t)(s->len + len);
	if (pos & EF_LAST) {
		struct ecoflow_record r = {.chan = chan,
					   .stream = stream,
					   .rec = s->rec,
					   .slot = (int)(s - e->slot),
					   .ts_ns = ts_ns};

		s->open = false;
		ecoflow_decode(s->buf, s->len, &r, e->payload);
		ef_deliver(e, &r, cb, ctx);
	}
	return 0;
}

void ecoflow_expire(struct ecoflow *e, int64_t before_ns, ecoflow_cb cb, void *ctx)
{
	for (size_t i = 0; i < ECOFLOW_SLOTS; i++) {
		struct ecoflow_slot *s = &e->slot[i];
		struct ecoflow_record r = {.chan = s->chan,
					   .stream = s->stream,
					   .rec = s->rec,
					   .slot = (int)i,
					   .ts_ns = s->ts_ns};

		if (!s->open || s->ts_ns >= before_ns)
			continue;
		s->open = false;
		ecoflow_decode(s->buf, s->len, &r, e->payload);
		/* Short whatever its bytes say: its last frame never came. */
		r.err = ECOFLOW_BAD_LENGTH;
		r.crc_ok = false;
		ef_deliver(e, &r, cb, ctx);
	}
}

void ecoflow_flush(struct ecoflow *e, ecoflow_cb cb, void *ctx)
{
	ecoflow_expire(e, INT64_MAX, cb, ctx);
}

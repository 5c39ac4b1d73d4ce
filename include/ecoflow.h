/* EcoFlow CAN records (research/PROTOCOLS.md 2.2, 2.3): frames in, one at a
 * time, records out.  No I/O and no allocation, so the daemon, the tools and
 * the fuzz target run the same code on the same fixed-size state.
 *
 * Channels, by the 29-bit id:
 *   A  bit 28 clear: frame_index << 22 | frame_count << 16 | src << 8 | dst,
 *      index 1..count; every frame's first byte is its count of valid bytes.
 *   B  0x100/0x101/0x102 << 20 | node20: part 0 first, 1 middle, 2 last.
 *   C  0x120/0x121/0x122 << 20 | node20: as B (not in any capture we have).
 *   D  0x106 << 20, E  0x10A << 20: single frames, not records; delivered
 *      as they are, chan 'D' / 'E', with no header fields.
 * A record is reassembled per (channel, stream) and validated only when its
 * last frame arrives: AA, header CRC-8, version, length, CRC-16.  Records
 * that fail are delivered too, with `err` saying why, so a tool can show
 * them; a frame that belongs to no record (an orphan) is only counted.
 * A caller that keeps the frames themselves (canlog --regen writes those of
 * the records it shows) is told where each one went by a tap (below), so it
 * needs none of these rules. */
#ifndef POWERD_ECOFLOW_H
#define POWERD_ECOFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest record kept: the longest seen is 0x1BD + 20 = 465 bytes.
 * A longer one is dropped and counted as too_long. */
#define ECOFLOW_RECORD_MAX 1024
/* Streams reassembled at once; a new one beyond this evicts the least
 * recently fed (counted).  A bus carries a handful of nodes. */
#define ECOFLOW_SLOTS 16

#define ECOFLOW_V2_HDR 16 /* payload offset of a version 2 record */
#define ECOFLOW_V3_HDR 18 /* of version 3 (0x03 and 0x13) */

/* Why a delivered record failed; 0 for a good one. */
enum ecoflow_err {
	ECOFLOW_OK = 0,
	ECOFLOW_BAD_HEADER_CRC, /* byte 4 is not the CRC-8 of bytes 0-3 */
	ECOFLOW_BAD_VERSION,	/* byte 1 is not 0x02, 0x03 or 0x13 */
	ECOFLOW_BAD_LENGTH,	/* the frames do not add up to the header's length */
	ECOFLOW_BAD_CRC,	/* the CRC-16 of the record does not match */
};

struct ecoflow_record {
	char chan;	 /* 'A', 'B', 'C', 'D', 'E' */
	uint32_t stream; /* the id without its frame/part bits */
	uint64_t rec;	 /* its handle, as the tap was told (below) */
	int slot;	 /* the slot it was reassembled in, -1 for D/E */
	int64_t ts_ns;	 /* of the last frame */
	enum ecoflow_err err;
	uint8_t version, flags, src, dst, dsrc, ddst, cmd_set, cmd_id; /* dsrc/ddst: v3 only */
	uint32_t seq;
	uint16_t hdr_len;	/* the payload length the header claims */
	uint16_t len;		/* payload bytes at `payload`; == hdr_len when err is 0 */
	bool xored;		/* flags bit 0x20: the payload was XORed with seq's low byte */
	bool crc_ok;		/* the CRC-16 matched (header CRC, length and CRC all good) */
	const uint8_t *payload; /* XOR undone; valid during the callback only */
	const uint8_t *raw;	/* the record as received (D/E: the frame's data) */
	uint16_t raw_len;
};

/* Counters by reason.  A record is counted once, under its first failure. */
struct ecoflow_stats {
	uint64_t frames;
	uint64_t records; /* delivered, good or not, D/E included */
	uint64_t good;
	uint64_t orphan;    /* middle/last with no record open, or a first not AA */
	uint64_t restarted; /* a first frame while a record was open */
	uint64_t bad_header_crc;
	uint64_t bad_version;
	uint64_t bad_length;
	uint64_t bad_crc;
	uint64_t too_long;	  /* beyond ECOFLOW_RECORD_MAX: dropped, not delivered */
	uint64_t bad_frame;	  /* A: bad valid-length byte or index; not extended; DLC > 8 */
	uint64_t unknown_channel; /* an extended id of no channel above */
	uint64_t evicted;	  /* an open record dropped to make room for a stream */
};

struct ecoflow_slot {
	bool open;
	char chan;
	uint32_t stream;
	uint64_t rec;  /* the open record's handle */
	uint64_t used; /* ecoflow.tick when last fed, for eviction */
	int64_t ts_ns; /* of the last frame fed */
	uint16_t len;
	uint8_t buf[ECOFLOW_RECORD_MAX];
};

/* The tap: where each frame fed went, and which records were given up.
 *
 * Every record, open or delivered, has a handle `rec`: 1, 2, 3, ... in the
 * order records are opened, never reused until ecoflow_init().  A record
 * of channel A, B or C lives in one of the ECOFLOW_SLOTS slots from its
 * first frame to its end, never more than one record in a slot, so a caller
 * can keep frames in ECOFLOW_SLOTS lists indexed by `slot` (and one more for
 * a D/E frame, slot -1, which is its own record).
 *
 * During ecoflow_feed() the tap is called, in this order:
 *   DROPPED  when the frame makes the reassembler give up an open record
 *            on the frame's stream (restarted) or on another (evicted, to
 *            free a slot for the frame's record): at most one of the two;
 *   FRAME    the frame went into record `rec` (first, middle or last frame;
 *            `last`: it completed it), or NONE: it is in no record (`why`);
 *            exactly one of the two for each frame counted in st.frames;
 *   DROPPED  (too_long) when that frame made its record too long;
 * then the record callback, for the record the frame completed, with the
 * same rec and slot.  ecoflow_flush() and ecoflow_expire() end the records still open through
 * the record callback alone.  So every handle that a FRAME event names ends
 * exactly once: delivered (r->rec) or DROPPED, and the frames that named it
 * are that record's, in the order fed. */
enum ecoflow_tap_kind {
	ECOFLOW_TAP_FRAME,   /* the frame went into record rec */
	ECOFLOW_TAP_NONE,    /* the frame is in no record: why */
	ECOFLOW_TAP_DROPPED, /* record rec was given up (why); it will not be delivered */
};

/* Each counted under the ecoflow_stats member of the same name. */
enum ecoflow_why {
	ECOFLOW_WHY_NONE = 0,	     /* FRAME */
	ECOFLOW_WHY_ORPHAN,	     /* NONE: no record open for it, or a first not AA */
	ECOFLOW_WHY_BAD_FRAME,	     /* NONE: standard id, bad A length/index, DLC > 8 */
	ECOFLOW_WHY_UNKNOWN_CHANNEL, /* NONE: an extended id of no channel */
	ECOFLOW_WHY_RESTARTED,	     /* DROPPED: a first frame came on its stream */
	ECOFLOW_WHY_EVICTED,	     /* DROPPED: its slot went to a new stream's record */
	ECOFLOW_WHY_TOO_LONG,	     /* DROPPED: past ECOFLOW_RECORD_MAX with this frame */
};

struct ecoflow_tap_event {
	enum ecoflow_tap_kind kind;
	enum ecoflow_why why;
	uint64_t rec;	 /* FRAME, DROPPED: the record's handle; NONE: 0 */
	int slot;	 /* FRAME, DROPPED: its slot, -1 for D/E; NONE: -1 */
	char chan;	 /* FRAME, DROPPED: 'A'..'E'; NONE: 0 */
	uint32_t stream; /* FRAME, DROPPED: as in ecoflow_record; NONE: 0 */
	bool last;	 /* FRAME: the frame completed the record (D/E: always) */
};

typedef void (*ecoflow_tap_cb)(void *ctx, const struct ecoflow_tap_event *ev);

struct ecoflow {
	struct ecoflow_stats st;
	uint64_t tick;
	uint64_t recs; /* the last handle given */
	ecoflow_tap_cb tap;
	void *tap_ctx;
	struct ecoflow_slot slot[ECOFLOW_SLOTS];
	uint8_t payload[ECOFLOW_RECORD_MAX]; /* the delivered record's payload, XOR undone */
};

typedef void (*ecoflow_cb)(void *ctx, const struct ecoflow_record *r);

/* Clears everything, the tap too. */
void ecoflow_init(struct ecoflow *e);

/* Call tap(ctx, ...) for each frame from now on (above); NULL: no tap. */
void ecoflow_set_tap(struct ecoflow *e, ecoflow_tap_cb tap, void *ctx);

/* One CAN frame: 29-bit id, extended flag, DLC 0..8, data, receive time.
 * Calls cb for each record it completes (at most one), and the tap if one
 * is set.  Returns 0, or -EINVAL for a NULL argument or len > 8 (also
 * counted as bad_frame). */
int ecoflow_feed(struct ecoflow *e, uint32_t id, bool ext, uint8_t len, const uint8_t *data,
		 int64_t ts_ns, ecoflow_cb cb, void *ctx);

/* The end of the input: every record still open is delivered, short, as
 * bad_length (a capture cut in the middle of one). */
void ecoflow_flush(struct ecoflow *e, ecoflow_cb cb, void *ctx);

/* The same for the records whose last frame came before before_ns only:
 * on a live bus a record whose last frame was lost must not wait for ever
 * (and take in frames of the next one). */
void ecoflow_expire(struct ecoflow *e, int64_t before_ns, ecoflow_cb cb, void *ctx);

/* Validate and decode one whole record raw[n] into *r (chan, stream, rec,
 * slot and ts_ns untouched), the XOR-undone payload into
 * payload[ECOFLOW_RECORD_MAX].
 * Returns 0 for a good record, -EBADMSG with the reason in r->err (and
 * every field the bytes present still give) for a bad one. */
int ecoflow_decode(const uint8_t *raw, size_t n, struct ecoflow_record *r, uint8_t *payload);

/* A short name for an error, for tools ("ok", "bad_crc", ...). */
const char *ecoflow_err_name(enum ecoflow_err err);

#endif

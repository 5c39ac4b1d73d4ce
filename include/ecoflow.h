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
 * them; a frame that belongs to no record (an orphan) is only counted. */
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
	uint64_t used; /* ecoflow.tick when last fed, for eviction */
	int64_t ts_ns; /* of the last frame fed */
	uint16_t len;
	uint8_t buf[ECOFLOW_RECORD_MAX];
};

struct ecoflow {
	struct ecoflow_stats st;
	uint64_t tick;
	struct ecoflow_slot slot[ECOFLOW_SLOTS];
	uint8_t payload[ECOFLOW_RECORD_MAX]; /* the delivered record's payload, XOR undone */
};

typedef void (*ecoflow_cb)(void *ctx, const struct ecoflow_record *r);

void ecoflow_init(struct ecoflow *e);

/* One CAN frame: 29-bit id, extended flag, DLC 0..8, data, receive time.
 * Calls cb for each record it completes (at most one).  Returns 0, or
 * -EINVAL for a NULL argument or len > 8 (also counted as bad_frame). */
int ecoflow_feed(struct ecoflow *e, uint32_t id, bool ext, uint8_t len, const uint8_t *data,
		 int64_t ts_ns, ecoflow_cb cb, void *ctx);

/* The end of the input: every record still open is delivered, short, as
 * bad_length (a capture cut in the middle of one). */
void ecoflow_flush(struct ecoflow *e, ecoflow_cb cb, void *ctx);

/* The same for the records whose last frame came before before_ns only:
 * on a live bus a record whose last frame was lost must not wait for ever
 * (and take in frames of the next one). */
void ecoflow_expire(struct ecoflow *e, int64_t before_ns, ecoflow_cb cb, void *ctx);

/* Validate and decode one whole record raw[n] into *r (chan, stream and
 * ts_ns untouched), the XOR-undone payload into payload[ECOFLOW_RECORD_MAX].
 * Returns 0 for a good record, -EBADMSG with the reason in r->err (and
 * every field the bytes present still give) for a bad one. */
int ecoflow_decode(const uint8_t *raw, size_t n, struct ecoflow_record *r, uint8_t *payload);

/* A short name for an error, for tools ("ok", "bad_crc", ...). */
const char *ecoflow_err_name(enum ecoflow_err err);

#endif

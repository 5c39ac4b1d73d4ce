/* A sink's disk spool: every batch the sink has not yet acknowledged.
 *
 * Layout: DIR/NNNNNNNNNNNNNNNN.seg segment files (16 hex digits, increasing)
 * and DIR/ack, the position up to which the sink has acknowledged (written
 * tmp + fsync + rename).  A segment starts with a 32-byte header
 *
 *   u32 magic "PWSG" | u32 version 1 | u32 id | u32 flags |
 *   u64 prev_bytes | u32 prev_items | u32 crc32c(the 28 bytes before)
 *
 * which records the size and item count of the segment before it when it was
 * created (flags bit 0: known), so a segment that later goes missing, is
 * emptied or is cut short is noticed and its loss counted exactly.  Records
 * follow, each
 *
 *   u32 magic "PWD2" | u32 length | u32 items | u32 crc32c(payload) |
 *   u32 crc32c(the 16 bytes before) | payload
 *
 * `items` is the caller's count of what the payload holds (samples, for the
 * uploader), so a record whose header survives but whose payload is damaged
 * is skipped exactly and its items counted; a damaged header makes the
 * reader scan forward for the next magic and count one damaged region.
 * Neither is ever fatal.
 *
 * Positions are (segment, offset) packed into a uint64_t: segment << 32 |
 * offset; they only grow.  Appends go to the last segment; a segment is
 * closed at `segment_bytes`.  Reading starts at the acknowledged position.
 * An ack file that does not match the segments on disk is damage: the spool
 * re-sends from the oldest segment (duplicates, never loss).  When the size
 * exceeds `max_bytes`, whole oldest segments are deleted (their unsent items
 * counted as dropped, and logged) until it fits: the newest data is kept.
 * Fully acknowledged segments are deleted as soon as the ack passes them.
 *
 * Format 1 (powerd 0.1.0: no segment header, records "RDWP" | length |
 * crc32c | payload, no item count) is still read; new records always go to
 * a new format-2 segment.
 *
 * Errors while running (a full disk) are returned, not logged: the caller
 * logs once per change of state.  What recovery finds is logged here, once.
 *
 * Single-threaded: the uploader thread owns every spool.  Blocking file I/O
 * is fine there (never on the I/O thread). */
#ifndef POWERD_SPOOL_H
#define POWERD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_RECORD_MAX    (64u << 20) /* larger lengths are corruption */
#define SPOOL_ITEMS_UNKNOWN UINT32_MAX	/* a format-1 record: count them yourself */
#define SPOOL_REC_HDR	    20u		/* bytes before each record's payload */
#define SPOOL_SEG_HDR	    32u		/* bytes before a segment's first record */

enum spool_fsync {
	SPOOL_FSYNC_BATCH,    /* fsync after every append (default) */
	SPOOL_FSYNC_INTERVAL, /* at most every fsync_interval_ns (spool_tick does it) */
	SPOOL_FSYNC_NEVER,    /* leave it to the kernel */
};

/* A record as read: valid until the next call on the spool. */
struct spool_rec {
	const void *data;
	size_t len;
	uint32_t items;	  /* SPOOL_ITEMS_UNKNOWN for format 1 */
	unsigned payload; /* the segment's payload version (format 1: 1) */
};

struct spool_opts {
	const char *dir;	/* created if missing (mode 0750) */
	uint64_t max_bytes;	/* cap on the sum of segment sizes; 0 = none */
	uint64_t segment_bytes; /* default 4 MiB when 0 */
	enum spool_fsync fsync;
	int64_t fsync_interval_ns; /* default 1 s when 0 */
	/* The owner's version of what its records hold (0..255): written
	 * into each new segment's header, reported with every record read,
	 * so the owner may change its encoding and still read old spools. */
	unsigned payload;
	/* Called for each unsent record the cap deletes (before it goes), with
	 * its position, so the owner can count what it held; optional. */
	void (*on_drop)(void *arg, uint64_t pos, const struct spool_rec *rec);
	void *drop_arg;
};

struct spool_stats {
	uint64_t bytes;		   /* on disk, all segments */
	uint64_t unacked_bytes;	   /* record bytes from the ack position to the end */
	uint64_t records_appended; /* since open */
	uint64_t records_acked;	   /* since open */
	/* Damage, each counted once, since open: */
	uint64_t corrupt_items;	  /* items lost in records whose header survived, and in
				   * segments found missing or cut short */
	uint64_t corrupt_regions; /* damaged stretches with no surviving header: their
				   * item count is unknown */
	uint64_t torn_tails;	  /* a torn last append cut off at open */
	uint64_t ack_damaged;	  /* ack file not matching the segments: re-sent from the oldest */
	uint64_t files_skipped;	  /* entries named like segments that are not usable ones */
	/* The cap, since open: */
	uint64_t dropped_records; /* unsent records deleted */
	uint64_t dropped_items;
	uint64_t dropped_bytes;
	uint64_t fsyncs;
};

struct spool;

/* Open (and recover) a spool.  Returns 0 or a negative errno (the directory
 * cannot be created, opened or locked, or memory is short); damaged content
 * is never an error. */
int spool_open(const struct spool_opts *o, struct spool **out);
void spool_close(struct spool *s); /* syncs first */

/* Append one record holding `items` items.  Enforces the cap (may delete
 * oldest segments).  On failure nothing was appended (a partial write is cut
 * back), so the caller may simply try again later. */
int spool_append(struct spool *s, const void *data, size_t len, uint32_t items);

/* Read the next record at or after *pos (start with spool_ack_pos()).
 * Returns 1 with *rec filled and *pos advanced past it, 0 at the end, or a
 * negative errno.  Damaged records are skipped (and counted) transparently. */
int spool_read(struct spool *s, uint64_t *pos, struct spool_rec *rec);

/* Everything before pos is acknowledged: segments now wholly acknowledged
 * are deleted at once (the ack file is written first, so that a crash never
 * makes a delivered segment look lost); otherwise the ack file is written
 * at once if the last write is fsync_interval_ns old, else by
 * spool_tick/sync/close.  So a crash while a backlog drains re-sends at most
 * ~1 s of batches. */
int spool_ack(struct spool *s, uint64_t pos);
uint64_t spool_ack_pos(const struct spool *s);

/* Periodic work: the interval fsync.  Call at least once a second. */
int spool_tick(struct spool *s, int64_t now_mono_ns);
int spool_sync(struct spool *s);

void spool_stats(const struct spool *s, struct spool_stats *st);

/* CRC32C (Castagnoli), exposed for tests and tools. */
uint32_t spool_crc32c(uint32_t crc, const void *data, size_t len);

#endif

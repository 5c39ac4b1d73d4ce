/* A sink's disk spool: every batch the sink has not yet acknowledged.
 *
 * Layout: DIR/NNNNNNNNNNNNNNNN.seg segment files (16 hex digits, increasing)
 * of records, and DIR/ack holding the position up to which the sink has
 * acknowledged (written tmp + fsync + rename).  A record is
 *
 *   u32 magic 0x50574452 ("PWDR", little-endian) | u32 length | u32 crc32c(payload) | payload
 *
 * Positions are (segment, offset) packed into a uint64_t: segment << 32 |
 * offset; they only grow.  Appends go to the last segment; a segment is
 * closed at `segment_bytes`.  Reading starts at the acknowledged position.
 * A torn or corrupt record (bad magic, impossible length, CRC mismatch) is
 * skipped by scanning forward for the next magic, and counted; it is never
 * fatal.  When the spool's size exceeds `max_bytes`, whole oldest segments
 * are deleted (their unsent records counted as dropped, and logged) until it
 * fits again: the newest data is kept.  Fully acknowledged segments are
 * deleted as soon as the ack passes them.
 *
 * Single-threaded: the uploader thread owns every spool.  Blocking file I/O
 * is fine there (never on the I/O thread). */
#ifndef POWERD_SPOOL_H
#define POWERD_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_RECORD_MAX (64u << 20) /* larger lengths are corruption */

enum spool_fsync {
	SPOOL_FSYNC_BATCH,    /* fsync after every append (default) */
	SPOOL_FSYNC_INTERVAL, /* at most every fsync_interval_ns (spool_tick does it) */
	SPOOL_FSYNC_NEVER,    /* leave it to the kernel */
};

struct spool_opts {
	const char *dir;	/* created if missing (mode 0750) */
	uint64_t max_bytes;	/* cap on the sum of segment sizes; 0 = none */
	uint64_t segment_bytes; /* default 4 MiB when 0 */
	enum spool_fsync fsync;
	int64_t fsync_interval_ns; /* default 1 s when 0 */
	/* Called for each unsent record the cap deletes (before it goes), with
	 * its position, so the owner can count what it held; optional. */
	void (*on_drop)(void *arg, uint64_t pos, const void *data, size_t len);
	void *drop_arg;
};

struct spool_stats {
	uint64_t bytes;		   /* on disk, all segments */
	uint64_t unacked_bytes;	   /* from the ack position to the end */
	uint64_t records_appended; /* since open */
	uint64_t records_acked;	   /* since open */
	uint64_t corrupt_skipped;  /* corrupt/torn records skipped, since open */
	uint64_t dropped_records;  /* unsent records deleted by the cap, since open */
	uint64_t dropped_bytes;
	uint64_t fsyncs;
};

struct spool;

/* Open (and recover) a spool.  Returns 0 or a negative errno. */
int spool_open(const struct spool_opts *o, struct spool **out);
void spool_close(struct spool *s); /* syncs first */

/* Append one record.  Enforces the cap (may delete oldest segments). */
int spool_append(struct spool *s, const void *data, size_t len);

/* Read the next record at or after *pos (start with spool_ack_pos()).
 * Returns 1 with *data (valid until the next spool call) / *len filled and
 * *pos advanced past it, 0 at the end, or a negative errno.  Corrupt records
 * are skipped (and counted) transparently. */
int spool_read(struct spool *s, uint64_t *pos, const void **data, size_t *len);

/* Everything before pos is acknowledged: segments now wholly acknowledged
 * are deleted at once; the ack file is written (tmp + fsync + rename) at once
 * if the last write is fsync_interval_ns old, else by spool_tick/sync/close.
 * So a crash while a backlog drains re-sends at most ~1 s of batches. */
int spool_ack(struct spool *s, uint64_t pos);
uint64_t spool_ack_pos(const struct spool *s);

/* Periodic work: the interval fsync.  Call at least once a second. */
int spool_tick(struct spool *s, int64_t now_mono_ns);
int spool_sync(struct spool *s);

void spool_stats(const struct spool *s, struct spool_stats *st);

/* CRC32C (Castagnoli), exposed for tests and tools. */
uint32_t spool_crc32c(uint32_t crc, const void *data, size_t len);

#endif

/* The uploader thread: samples from the meter thread to every sink.
 *
 *   meter thread --(sample ring, SPSC)--> uploader thread --> sink spools --> servers
 *
 * Per sink: change detection (opt-in), a batch filled up to batch_size or
 * flush_interval, appended to the sink's disk spool as one record; then the
 * spool is drained in order, one request at a time, with full-jitter
 * exponential backoff on failures and bisection of batches a server refuses.
 * A sink that is down only grows its own spool (bounded by spool_max): it
 * never delays another sink, the meter thread or the I/O thread. */
#ifndef POWERD_UPLOADER_H
#define POWERD_UPLOADER_H

#include "config.h"
#include "ring.h"
#include "sample.h"
#include "status.h"

struct uploader;

/* Opens every sink and its spool (replayed before new data), starts the
 * thread.  Returns 0 or a negative errno after logging why. */
int uploader_start(struct uploader **out, const struct config *cfg);

/* Flushes pending batches to the spools, stops the thread, closes sinks. */
void uploader_stop(struct uploader *u);

/* Producer side (one thread: the meter thread): queue a sample for every
 * sink.  Never blocks and never drops: returns 0, or -EAGAIN when the ring
 * is full, and then the caller keeps the sample and tries again later (or
 * gives it up and counts it with ring_note_drop via uploader_note_drop). */
int uploader_publish(struct uploader *u, const struct sample *s);
void uploader_note_drop(struct uploader *u);

/* Fill st->sinks (allocated; freed by status_release) and the sample ring. */
int uploader_status(struct uploader *u, struct status *st);

/* Backoff (exposed for tests): the delay before retry `attempt` (1, 2, ...),
 * full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], from r in [0,1). */
int64_t uploader_backoff_ns(int64_t base_ns, int64_t cap_ns, unsigned attempt, double r);

#endif

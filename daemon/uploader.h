/* The uploader thread: samples from every producing thread to every sink.
 *
 *   meter thread --(its ring)--+
 *   I/O thread   --(its ring)--+--> uploader thread --> sink spools --> servers
 *   any thread   --(its ring)--+
 *
 * Each producing thread has a ring of its own (recring.h: single producer,
 * single consumer, packed samples of any size), so no two producers ever
 * share an index.  Per sink: change detection (opt-in), a batch filled up
 * to batch_size or flush_interval, appended to the sink's disk spool as one
 * record; then the spool is drained in order, one request at a time, with
 * full-jitter exponential backoff on failures and bisection of batches a
 * server refuses.  A sink that is down only grows its own spool (bounded by
 * spool_max): it never delays another sink or a producer. */
#ifndef POWERD_UPLOADER_H
#define POWERD_UPLOADER_H

#include <stdbool.h>

#include "config.h"
#include "sample.h"
#include "status.h"

struct uploader;
struct uploader_producer;

#define UPLOADER_PRODUCERS_MAX 16
#define UPLOADER_RING_MIN      32768 /* bytes: the largest sample fits */

/* Opens every sink and its spool (replayed before new data), starts the
 * thread.  Returns 0 or a negative errno after logging why. */
int uploader_start(struct uploader **out, const struct config *cfg);

/* Takes what the rings hold, flushes pending batches to the spools, stops
 * the thread, closes sinks, frees every producer (none may publish any
 * more by then). */
void uploader_stop(struct uploader *u);

/* A ring of its own for one producing thread (only that thread publishes
 * through it), of `capacity` bytes (rounded up to a power of two, at least
 * UPLOADER_RING_MIN), exported as powerd_ring_*{ring="NAME"}.  Any thread
 * may ask for one at any time; it lives until uploader_stop().  Without an
 * uploader (no sinks) *out is NULL, and publishing through NULL does
 * nothing.  Returns 0, -EINVAL (a name that is empty or longer than 31
 * bytes), -ENOSPC (UPLOADER_PRODUCERS_MAX already) or -ENOMEM. */
int uploader_producer(struct uploader *u, const char *name, size_t capacity,
		      struct uploader_producer **out);

/* Producer side: queue a sample for every sink.  Never blocks: returns 0,
 * or -EAGAIN when the ring has no room, and then nothing is queued and
 * nothing counted: the caller keeps the sample and tries again later, or
 * gives it up and counts it with uploader_note_drop(); -EINVAL for a
 * builder that holds no sample.  The uploader is woken (wakeup.h). */
int uploader_publish(struct uploader_producer *p, const struct sample *s);
/* The same for a packed sample a builder made (sample_data, sample_len),
 * kept by the caller meanwhile (the meter thread's outbox). */
int uploader_publish_packed(struct uploader_producer *p, const void *rec, size_t len);
/* For a live source, which never waits: queued (0), or dropped and counted
 * (-ENOBUFS) when the ring is full. */
int uploader_offer(struct uploader_producer *p, const struct sample *s);
void uploader_note_drop(struct uploader_producer *p);
/* Back-pressure for a source that reads stored data: would a sample of
 * len bytes fit now?  It reads on only then, and so loses nothing. */
bool uploader_room(struct uploader_producer *p, size_t len);

/* Durability, per producer, for a source that may delete or checkpoint its
 * input only once its samples are safe.  Samples are numbered 1, 2, ... in
 * the order they were published through p.
 *
 * uploader_published: how many were published through p so far.
 * uploader_durable: how many of p's first samples every sink has taken
 * care of: appended to its spool (written per its spool_fsync), delivered
 * from memory and acknowledged, or deliberately discarded and counted
 * (change detection, unencodable, too old, dropped by a bound).  A sample
 * that is only in memory (its batch still open, or waiting because a spool
 * fails) is not durable, nor is any sample of p after it.  The uploader's
 * last turn in uploader_stop() makes what it writes to the spools durable.
 *
 * Both are 0 for NULL, monotonic, and callable from the producer's thread
 * at any time (atomics); durable <= published. */
uint64_t uploader_published(struct uploader_producer *p);
uint64_t uploader_durable(struct uploader_producer *p);

/* Every sample taken from now on is offered to t too (tap.h: powerctl
 * tail), on the uploader thread; NULL stops it.  NULL u: no-op. */
struct tap;
void uploader_set_tap(struct uploader *u, struct tap *t);

/* Fill st->sinks (allocated; freed by status_release) and, after the rings
 * already there, one ring per producer. */
int uploader_status(struct uploader *u, struct status *st);

/* Backoff (exposed for tests): the delay before retry `attempt` (1, 2, ...),
 * full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], from r in [0,1). */
int64_t uploader_backoff_ns(int64_t base_ns, int64_t cap_ns, unsigned attempt, double r);

/* The r for it: uniform in [0,1) from a xorshift64* state (seeded
 * non-zero by its owner; jitter needs spread, not secrecy). */
double uploader_jitter(uint64_t *rng);

#endif

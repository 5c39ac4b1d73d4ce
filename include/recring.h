/* Single-producer/single-consumer lock-free ring of variable-length records
 * (packed samples, from one producing thread to the uploader).
 *
 * The storage is one array of bytes; a record is a u32 length, its bytes,
 * and padding to RECRING_ALIGN.  A record never wraps: when it does not fit
 * before the end of the array, the producer writes a wrap marker there and
 * puts the record at the start, so the consumer always reads a record where
 * it lies, without copying it out.  The memory a queued record costs is its
 * own length plus at most 11 bytes, not a slot sized for the largest.
 *
 * The synchronisation is that of include/ring.h: the producer publishes a
 * record (and any wrap marker before it) with one release store of `head`,
 * the consumer sees it with an acquire load and hands the bytes back with a
 * release store of `tail`; each side caches the other's index so that the
 * shared line is read only when its view says full (producer) or empty
 * (consumer).  Positions count bytes and run freely (2^64 never wraps).
 * The array is allocated once; pushes and pops never allocate, never block.
 *
 * A push that does not fit fails: recring_push() counts it as a drop (a
 * live source), recring_push_nodrop() does not (a producer that keeps the
 * record and retries, and may give it up later with recring_note_drop()).
 * recring_room() answers "would it fit now?" for producers that apply
 * back-pressure instead. */
#ifndef POWERD_RECRING_H
#define POWERD_RECRING_H

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RECRING_CACHELINE 64
#define RECRING_ALIGN	  8u
#define RECRING_HDR	  4u
#define RECRING_WRAP	  UINT32_MAX /* in a length: the record is at the start */
#define RECRING_MIN	  64u

struct recring {
	/* Read-mostly: set once by recring_init(). */
	alignas(RECRING_CACHELINE) unsigned char *buf;
	uint64_t mask; /* capacity - 1, in bytes */

	/* Producer's line. */
	alignas(RECRING_CACHELINE) _Atomic uint64_t head;
	uint64_t tail_cache;
	_Atomic uint64_t dropped;

	/* Consumer's line. */
	alignas(RECRING_CACHELINE) _Atomic uint64_t tail;
	uint64_t head_cache;
	uint64_t next; /* where the record recring_peek() returned ends */
};

/* capacity: bytes, a power of two of at least RECRING_MIN. */
static inline int recring_init(struct recring *r, size_t capacity)
{
	if (capacity < RECRING_MIN || (capacity & (capacity - 1)) != 0 || capacity > UINT32_MAX)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	/* Zeroed so that Valgrind never sees an uninitialised pad byte. */
	r->buf = calloc(1, capacity);
	if (!r->buf)
		return -ENOMEM;
	r->mask = capacity - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->dropped, 0);
	return 0;
}

static inline void recring_free(struct recring *r)
{
	free(r->buf);
	r->buf = NULL;
}

static inline size_t recring_capacity(const struct recring *r)
{
	return (size_t)r->mask + 1;
}

/* The longest record that always fits an empty ring: half of it, so that a
 * wrap marker in front of it never leaves it without room. */
static inline size_t recring_max(const struct recring *r)
{
	return recring_capacity(r) / 2 - 2 * RECRING_ALIGN;
}

/* What a record of len bytes occupies. */
static inline uint64_t recring_size(size_t len)
{
	return ((uint64_t)RECRING_HDR + len + RECRING_ALIGN - 1) & ~(uint64_t)(RECRING_ALIGN - 1);
}

/* Producer side: bytes skipped before the record (a wrap), or -1 when the
 * record does not fit now. */
static inline int64_t recring_fit(struct recring *r, uint64_t head, uint64_t need)
{
	uint64_t cap = r->mask + 1, to_end = cap - (head & r->mask);
	uint64_t skip = need > to_end ? to_end : 0;

	if (head + skip + need - r->tail_cache > cap) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head + skip + need - r->tail_cache > cap)
			return -1;
	}
	return (int64_t)skip;
}

/* Producer side: would a record of len bytes fit now? */
static inline bool recring_room(struct recring *r, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	return len <= recring_max(r) && recring_fit(r, head, recring_size(len)) >= 0;
}

/* Producer side, for producers that keep what does not fit: returns 0,
 * -ENOBUFS (full now, not counted) or -EMSGSIZE (longer than recring_max:
 * it never fits). */
static inline int recring_push_nodrop(struct recring *r, const void *data, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed), need;
	uint32_t hdr = (uint32_t)len, wrap = RECRING_WRAP;
	int64_t skip;

	if (len > recring_max(r))
		return -EMSGSIZE;
	need = recring_size(len);
	skip = recring_fit(r, head, need);
	if (skip < 0)
		return -ENOBUFS;
	if (skip) {
		memcpy(r->buf + (head & r->mask), &wrap, sizeof(wrap));
		head += (uint64_t)skip;
	}
	memcpy(r->buf + (head & r->mask), &hdr, sizeof(hdr));
	memcpy(r->buf + (head & r->mask) + RECRING_HDR, data, len);
	atomic_store_explicit(&r->head, head + need, memory_order_release);
	return 0;
}

/* Producer side, for live sources: like recring_push_nodrop, but a record
 * that does not fit is counted as dropped. */
static inline int recring_push(struct recring *r, const void *data, size_t len)
{
	int e = recring_push_nodrop(r, data, len);

	if (e)
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
	return e;
}

/* Producer side: a record the producer gave up on after all. */
static inline void recring_note_drop(struct recring *r)
{
	atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
}

/* Consumer side: the oldest record, in place (valid until recring_pop()).
 * Returns 0, or -EAGAIN when the ring is empty. */
static inline int recring_peek(struct recring *r, const void **data, size_t *len)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t hdr;

	if (tail == r->head_cache) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail == r->head_cache)
			return -EAGAIN;
	}
	memcpy(&hdr, r->buf + (tail & r->mask), sizeof(hdr));
	if (hdr == RECRING_WRAP) {
		/* The record after a wrap marker came with the same store of
		 * head, so it is there. */
		tail += r->mask + 1 - (tail & r->mask);
		memcpy(&hdr, r->buf, sizeof(hdr));
	}
	*data = r->buf + (tail & r->mask) + RECRING_HDR;
	*len = hdr;
	r->next = tail + recring_size(hdr);
	return 0;
}

/* Consumer side: done with the record recring_peek() returned. */
static inline void recring_pop(struct recring *r)
{
	atomic_store_explicit(&r->tail, r->next, memory_order_release);
}

/* Either side: bytes in use now (possibly stale). */
static inline size_t recring_used(struct recring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	return (size_t)(head - tail);
}

static inline uint64_t recring_dropped(struct recring *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

#endif

/* Single-producer/single-consumer lock-free ring of fixed-size items.
 *
 * One thread pushes, one thread pops; nothing else touches the indices.
 * The producer publishes an item with a release store of `head`, the consumer
 * observes it with an acquire load, and the same pairing runs back through
 * `tail` so the producer never overwrites a slot still being read.  Each side
 * caches the other side's index so the shared cache line is touched only when
 * the cached view says the ring is full (producer) or empty (consumer).
 *
 * Capacity is a power of two so the slot is `index & mask`; indices run
 * freely and wrap at 2^64, which never happens in practice.  The storage is
 * allocated once by ring_init(); push/pop never allocate and never block.
 * A push into a full ring fails and increments `dropped`, which the owner
 * exports: a full ring is counted, never silent.
 */
#ifndef POWERD_RING_H
#define POWERD_RING_H

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING_CACHELINE 64

struct ring {
	/* Read-mostly: set once by ring_init(). */
	alignas(RING_CACHELINE) unsigned char *slots;
	size_t item_size;
	uint64_t mask;

	/* Producer's line: its own index, its cached view of the consumer. */
	alignas(RING_CACHELINE) _Atomic uint64_t head;
	uint64_t tail_cache;
	_Atomic uint64_t dropped;

	/* Consumer's line. */
	alignas(RING_CACHELINE) _Atomic uint64_t tail;
	uint64_t head_cache;
};

/* capacity must be a power of two >= 2; item_size > 0. */
static inline int ring_init(struct ring *r, size_t item_size, size_t capacity)
{
	if (capacity < 2 || (capacity & (capacity - 1)) != 0 || item_size == 0)
		return -EINVAL;
	if (capacity > SIZE_MAX / item_size)
		return -EOVERFLOW;
	memset(r, 0, sizeof(*r));
	/* Zeroed so that Valgrind never sees an uninitialised slot copied out. */
	r->slots = calloc(capacity, item_size);
	if (!r->slots)
		return -ENOMEM;
	r->item_size = item_size;
	r->mask = capacity - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->dropped, 0);
	return 0;
}

static inline void ring_free(struct ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

static inline size_t ring_capacity(const struct ring *r)
{
	return (size_t)r->mask + 1;
}

/* Producer side, for producers that keep what does not fit (and so lose
 * nothing): like ring_push, but a full ring is not counted as a drop.
 * Returns 0 or -ENOBUFS. */
static inline int ring_push_nodrop(struct ring *r, const void *item)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (head - r->tail_cache > r->mask) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head - r->tail_cache > r->mask)
			return -ENOBUFS;
	}
	memcpy(r->slots + (head & r->mask) * r->item_size, item, r->item_size);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return 0;
}

/* Producer side.  Returns 0, or -ENOBUFS (and counts a drop) when full. */
static inline int ring_push(struct ring *r, const void *item)
{
	if (ring_push_nodrop(r, item) == 0)
		return 0;
	atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
	return -ENOBUFS;
}

/* Producer side: an item the producer gave up on after all, counted with
 * the ring's drops. */
static inline void ring_note_drop(struct ring *r)
{
	atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
}

/* Producer side: would a push succeed now?  (Used by sources that must not
 * drop, such as a replay, to apply back-pressure instead.) */
static inline int ring_full(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (head - r->tail_cache <= r->mask)
		return 0;
	r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
	return head - r->tail_cache > r->mask;
}

/* Consumer side.  Returns 0 with *item filled, or -EAGAIN when empty. */
static inline int ring_pop(struct ring *r, void *item)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail == r->head_cache) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail == r->head_cache)
			return -EAGAIN;
	}
	memcpy(item, r->slots + (tail & r->mask) * r->item_size, r->item_size);
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return 0;
}

/* Consumer side: a copy of the oldest item without taking it.  Returns 0
 * or -EAGAIN when empty. */
static inline int ring_peek(struct ring *r, void *item)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail == r->head_cache) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail == r->head_cache)
			return -EAGAIN;
	}
	memcpy(item, r->slots + (tail & r->mask) * r->item_size, r->item_size);
	return 0;
}

/* Either side: an instantaneous, possibly stale, fill level. */
static inline size_t ring_count(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	return (size_t)(head - tail);
}

static inline uint64_t ring_dropped(struct ring *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

#endif

/* Waking a consumer that sleeps when its queue is empty, without ever
 * missing a wake-up.
 *
 * The race to avoid: the consumer finds the queue empty and goes to sleep
 * just as a producer pushes, and the producer decides that no wake-up is
 * needed: the item then waits until the consumer wakes for another reason
 * (a 1 s tick).  The protocol, on one atomic word:
 *
 *   consumer:  wakeup_announce(); if (queue empty) sleep; wakeup_done();
 *   producer:  push; if (wakeup_needed()) wake the consumer;
 *
 * The two exchanges on `sleeping` are totally ordered.  If the producer's
 * comes first, its push happens before the consumer's second look, which
 * sees the item; if the consumer's comes first, the producer reads the
 * announcement and wakes it.  A wake-up that turns out unnecessary is
 * harmless (the next sleep returns at once).  tests/unit/test_wakeup.c
 * checks every interleaving of the four steps. */
#ifndef POWERD_WAKEUP_H
#define POWERD_WAKEUP_H

#include <stdatomic.h>
#include <stdbool.h>

struct wakeup {
	_Atomic int sleeping;
};

/* Consumer: about to sleep; look at the queue once more after this. */
static inline void wakeup_announce(struct wakeup *w)
{
	atomic_exchange(&w->sleeping, 1);
}

/* Consumer: awake again. */
static inline void wakeup_done(struct wakeup *w)
{
	atomic_store(&w->sleeping, 0);
}

/* Producer, after its push: must it wake the consumer? */
static inline bool wakeup_needed(struct wakeup *w)
{
	return atomic_exchange(&w->sleeping, 0) != 0;
}

#endif

/* The wake-up protocol of include/wakeup.h, proven on every interleaving.
 *
 * Consumer: C1 announce, C2 look at the ring (sleep if empty).  Producer:
 * P1 push, P2 decide whether to wake.  Each side keeps its own order; the
 * six interleavings are run step by step on a real ring, and in none may
 * the consumer sleep on an item nobody wakes it for.  The protocol the
 * uploader used before (the producer wakes only if the ring was empty
 * before its push; the consumer just sleeps when it found nothing) is run
 * the same way and must fail some interleaving: the check has teeth.
 * Then two threads hammer the real protocol (under TSan in make test). */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ring.h"
#include "wakeup.h"

/* One run of an interleaving: the order of steps, 'C' or 'P' each time. */
static const char *const orders[] = {"CCPP", "CPCP", "CPPC", "PCCP", "PCPC", "PPCC"};

/* Returns 1 if the consumer went to sleep on an item and was not woken. */
static int run_new(const char *order)
{
	struct ring r;
	struct wakeup w = {0};
	int c = 0, p = 0, item = 7, sleeps = 0, woken = 0;
	size_t i;

	ring_init(&r, sizeof(int), 4);
	for (i = 0; i < 4; i++) {
		if (order[i] == 'C') {
			if (c++ == 0)
				wakeup_announce(&w);
			else
				sleeps = ring_count(&r) == 0;
		} else {
			if (p++ == 0)
				ring_push(&r, &item);
			else
				woken = wakeup_needed(&w);
		}
	}
	ring_free(&r);
	/* Asleep with the item in the ring and nobody to wake it. */
	return sleeps && !woken;
}

static int run_old(const char *order)
{
	struct ring r;
	int c = 0, p = 0, item = 7, sleeps = 0, woken = 0, was_empty = 0, got;
	size_t i;

	ring_init(&r, sizeof(int), 4);
	ring_push(&r, &item); /* the uploader has one item to take first */
	for (i = 0; i < 4; i++) {
		if (order[i] == 'C') {
			if (c++ == 0)
				while (ring_pop(&r, &got) == 0)
					;
			else
				sleeps = 1; /* it found the ring empty above */
		} else {
			if (p++ == 0)
				was_empty = ring_count(&r) == 0;
			else {
				ring_push(&r, &item);
				woken = was_empty;
			}
		}
	}
	ring_free(&r);
	return sleeps && !woken && ring_count(&r) > 0;
}

static void test_interleavings(void)
{
	size_t i;
	int old_misses = 0;

	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		CHECK_EQ_INT(run_new(orders[i]), 0);
		old_misses += run_old(orders[i]);
	}
	/* The old protocol misses the wake-up in the order C P P C (the pop
	 * between the producer's look and its push): the test can fail. */
	CHECK(old_misses > 0);
}

/* Two threads: the consumer sleeps on a semaphore with a 1 s timeout, as
 * the uploader sleeps in curl_multi_poll; a missed wake-up shows as a
 * timeout with an item in the ring. */
struct shared {
	struct ring r;
	struct wakeup w;
	sem_t sem;
	_Atomic int stop;
	_Atomic long taken;
	long missed;
};

static void *consumer(void *arg)
{
	struct shared *s = arg;
	struct timespec ts;
	int item;

	while (!atomic_load(&s->stop) || ring_count(&s->r)) {
		while (ring_pop(&s->r, &item) == 0)
			atomic_fetch_add(&s->taken, 1);
		wakeup_announce(&s->w);
		if (ring_count(&s->r) == 0 && !atomic_load(&s->stop)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (sem_timedwait(&s->sem, &ts) != 0 && ring_count(&s->r))
				s->missed++;
		}
		wakeup_done(&s->w);
	}
	return NULL;
}

static void test_threads(void)
{
	struct shared s;
	pthread_t t;
	long i;
	int item = 1;

	memset(&s, 0, sizeof(s));
	ring_init(&s.r, sizeof(int), 1024);
	sem_init(&s.sem, 0, 0);
	pthread_create(&t, NULL, consumer, &s);
	for (i = 0; i < 20000; i++) {
		while (ring_push(&s.r, &item))
			;
		if (wakeup_needed(&s.w))
			sem_post(&s.sem);
		/* Wait for it to be taken: the next push meets a consumer
		 * that is on its way to sleep, again and again. */
		while (atomic_load(&s.taken) < i + 1)
			;
	}
	atomic_store(&s.stop, 1);
	sem_post(&s.sem);
	pthread_join(t, NULL);
	CHECK_EQ_INT(s.missed, 0);
	CHECK_EQ_INT(atomic_load(&s.taken), 20000);
	sem_destroy(&s.sem);
	ring_free(&s.r);
}

int main(void)
{
	test_interleavings();
	test_threads();
	return check_result();
}

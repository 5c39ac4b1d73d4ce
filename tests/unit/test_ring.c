/* The SPSC ring: single-thread semantics, overflow accounting, and a
 * two-thread stress test (run under TSan by `make test`) that checks every
 * item arrives exactly once and in order. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "ring.h"

struct item {
	uint64_t seq;
	uint64_t check;
};

#define CHECK_OF(s) ((s)*0x9E3779B97F4A7C15ULL ^ 0xA5A5A5A5ULL)

static void test_basic(void)
{
	struct ring r;
	struct item it, out;
	uint64_t i;

	CHECK_EQ_INT(ring_init(&r, sizeof(it), 3), -EINVAL);
	CHECK_EQ_INT(ring_init(&r, sizeof(it), 0), -EINVAL);
	CHECK_EQ_INT(ring_init(&r, 0, 8), -EINVAL);
	CHECK_EQ_INT(ring_init(&r, sizeof(it), 8), 0);
	CHECK_EQ_INT(ring_capacity(&r), 8);
	CHECK_EQ_INT(ring_pop(&r, &out), -EAGAIN);
	for (i = 0; i < 8; i++) {
		it.seq = i;
		CHECK_EQ_INT(ring_push(&r, &it), 0);
	}
	CHECK(ring_full(&r));
	it.seq = 99;
	CHECK_EQ_INT(ring_push(&r, &it), -ENOBUFS);
	CHECK_EQ_INT(ring_push(&r, &it), -ENOBUFS);
	CHECK_EQ_INT(ring_dropped(&r), 2);
	CHECK_EQ_INT(ring_count(&r), 8);
	for (i = 0; i < 8; i++) {
		CHECK_EQ_INT(ring_pop(&r, &out), 0);
		CHECK_EQ_INT(out.seq, i);
	}
	CHECK_EQ_INT(ring_pop(&r, &out), -EAGAIN);
	CHECK(!ring_full(&r));
	/* Wrap around many times with five items always in flight. */
	for (i = 0; i < 5; i++) {
		it.seq = i;
		CHECK_EQ_INT(ring_push(&r, &it), 0);
	}
	for (i = 5; i < 1000; i++) {
		it.seq = i;
		CHECK_EQ_INT(ring_push(&r, &it), 0);
		CHECK_EQ_INT(ring_pop(&r, &out), 0);
		CHECK_EQ_INT(out.seq, i - 5);
	}
	CHECK_EQ_INT(ring_count(&r), 5);
	CHECK_EQ_INT(ring_dropped(&r), 2);
	ring_free(&r);
}

struct stress {
	struct ring r;
	uint64_t n;
	uint64_t bad_order;
	uint64_t bad_check;
	uint64_t received;
};

static void *producer(void *arg)
{
	struct stress *s = arg;
	struct item it;
	uint64_t i;

	for (i = 0; i < s->n; i++) {
		it.seq = i;
		it.check = CHECK_OF(i);
		/* Back-pressure instead of drops: every item must arrive. */
		while (ring_full(&s->r))
			sched_yield();
		ring_push(&s->r, &it);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	struct item it;
	uint64_t expect = 0;

	while (expect < s->n) {
		if (ring_pop(&s->r, &it)) {
			sched_yield();
			continue;
		}
		if (it.seq != expect)
			s->bad_order++;
		if (it.check != CHECK_OF(it.seq))
			s->bad_check++;
		expect = it.seq + 1;
		s->received++;
	}
	return NULL;
}

static void test_stress(uint64_t n, size_t cap)
{
	struct stress s = {.n = n};
	pthread_t p, c;

	CHECK_EQ_INT(ring_init(&s.r, sizeof(struct item), cap), 0);
	CHECK_EQ_INT(pthread_create(&c, NULL, consumer, &s), 0);
	CHECK_EQ_INT(pthread_create(&p, NULL, producer, &s), 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	CHECK_EQ_INT(s.received, n);
	CHECK_EQ_INT(s.bad_order, 0);
	CHECK_EQ_INT(s.bad_check, 0);
	CHECK_EQ_INT(ring_dropped(&s.r), 0);
	CHECK_EQ_INT(ring_count(&s.r), 0);
	ring_free(&s.r);
}

int main(int argc, char **argv)
{
	/* Tens of millions by default; a number on the command line overrides. */
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000ULL;

	test_basic();
	test_stress(n, 1024);
	test_stress(n / 10, 2); /* the smallest ring: maximal contention */
	return check_result();
}

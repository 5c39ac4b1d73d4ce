/* The ring of variable-length records: sizes, wrap markers, full rings,
 * drop accounting, the room question, and a two-thread stress test (run
 * under TSan by `make test`) in which every record of a random length
 * arrives once, in order, with its bytes intact. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "recring.h"

static void fill(unsigned char *p, size_t n, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seq * 31 + i * 7);
}

static int intact(const unsigned char *p, size_t n, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seq * 31 + i * 7))
			return 0;
	return 1;
}

static void test_basic(void)
{
	struct recring r;
	unsigned char rec[128];
	const void *p;
	size_t len, i;

	CHECK_EQ_INT(recring_init(&r, 100), -EINVAL);
	CHECK_EQ_INT(recring_init(&r, 32), -EINVAL);
	CHECK_EQ_INT(recring_init(&r, 256), 0);
	CHECK_EQ_INT(recring_capacity(&r), 256);
	CHECK_EQ_INT(recring_max(&r), 112);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), -EAGAIN);
	CHECK_EQ_INT(recring_used(&r), 0);

	/* An empty record, and records padded to 8 bytes. */
	CHECK_EQ_INT(recring_push(&r, rec, 0), 0);
	CHECK_EQ_INT(recring_used(&r), 8);
	fill(rec, 5, 1);
	CHECK_EQ_INT(recring_push(&r, rec, 5), 0);
	CHECK_EQ_INT(recring_used(&r), 24);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), 0);
	CHECK_EQ_INT(len, 0);
	recring_pop(&r);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), 0);
	CHECK(len == 5 && intact(p, 5, 1));
	recring_pop(&r);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), -EAGAIN);

	/* Too long for this ring, ever: refused, and counted by push. */
	CHECK_EQ_INT(recring_push_nodrop(&r, rec, 113), -EMSGSIZE);
	CHECK_EQ_INT(recring_dropped(&r), 0);
	CHECK_EQ_INT(recring_push(&r, rec, 113), -EMSGSIZE);
	CHECK_EQ_INT(recring_dropped(&r), 1);
	CHECK(!recring_room(&r, 113));

	/* At position 24: two of 112 bytes (120 each) fill it to 264 > 256,
	 * so the second is refused until the first is taken. */
	fill(rec, 112, 2);
	CHECK(recring_room(&r, 112));
	CHECK_EQ_INT(recring_push(&r, rec, 112), 0);
	CHECK(!recring_room(&r, 112));
	CHECK(recring_room(&r, 100));
	CHECK_EQ_INT(recring_push_nodrop(&r, rec, 112), -ENOBUFS);
	CHECK_EQ_INT(recring_dropped(&r), 1);
	CHECK_EQ_INT(recring_push(&r, rec, 112), -ENOBUFS);
	CHECK_EQ_INT(recring_dropped(&r), 2);
	recring_note_drop(&r);
	CHECK_EQ_INT(recring_dropped(&r), 3);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), 0);
	CHECK(len == 112 && intact(p, 112, 2));
	recring_pop(&r);

	/* At 144 now: 109 bytes (120 with header and padding) do not fit
	 * before the end (112 left), so a wrap marker goes there and the
	 * record to the start. */
	fill(rec, 109, 3);
	CHECK_EQ_INT(recring_push(&r, rec, 109), 0);
	CHECK_EQ_INT(recring_used(&r), 112 + 120);
	CHECK_EQ_INT(recring_peek(&r, &p, &len), 0);
	CHECK(len == 109 && intact(p, 109, 3));
	CHECK(p == (const void *)(r.buf + RECRING_HDR));
	recring_pop(&r);
	CHECK_EQ_INT(recring_used(&r), 0);

	/* Many laps with records of every length up to the maximum, so that
	 * wrap markers land at every position. */
	for (i = 0; i < 5000; i++) {
		size_t n = (i * 37) % (recring_max(&r) + 1);

		fill(rec, n, i);
		CHECK_EQ_INT(recring_push(&r, rec, n), 0);
		CHECK_EQ_INT(recring_peek(&r, &p, &len), 0);
		CHECK(len == n && intact(p, len, i));
		recring_pop(&r);
	}
	CHECK_EQ_INT(recring_used(&r), 0);
	CHECK_EQ_INT(recring_dropped(&r), 3);
	recring_free(&r);
}

struct stress {
	struct recring r;
	uint64_t n;
	uint64_t bad, received, full;
};

static size_t stress_len(uint64_t seq)
{
	return (size_t)((seq * 2654435761u) % 3000);
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	unsigned char rec[3000];
	uint64_t i;

	for (i = 0; i < s->n; i++) {
		size_t n = stress_len(i);

		fill(rec, n, i);
		/* Back-pressure instead of drops: every record must arrive. */
		while (!recring_room(&s->r, n)) {
			s->full++;
			sched_yield();
		}
		if (recring_push(&s->r, rec, n))
			s->bad++;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	const void *p;
	size_t len;

	while (s->received < s->n) {
		if (recring_peek(&s->r, &p, &len)) {
			sched_yield();
			continue;
		}
		if (len != stress_len(s->received) || !intact(p, len, s->received))
			s->bad++;
		recring_pop(&s->r);
		s->received++;
	}
	return NULL;
}

static void test_stress(void)
{
	struct stress s = {.n = 300000};
	pthread_t a, b;

	CHECK_EQ_INT(recring_init(&s.r, 16384), 0);
	CHECK_EQ_INT(pthread_create(&b, NULL, consumer, &s), 0);
	CHECK_EQ_INT(pthread_create(&a, NULL, producer, &s), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("test_recring: %llu records, the producer found the ring full %llu times\n",
	       (unsigned long long)s.received, (unsigned long long)s.full);
	CHECK_EQ_INT(s.received, s.n);
	CHECK_EQ_INT(s.bad, 0);
	CHECK_EQ_INT(recring_dropped(&s.r), 0);
	CHECK_EQ_INT(recring_used(&s.r), 0);
	recring_free(&s.r);
}

int main(void)
{
	test_basic();
	test_stress();
	return check_result();
}

/* The ring of variable-length records: sizes, wrap markers, full rings,
 * drop accounting, the room question, and two stress tests (run under TSan
 * by `make test`): two threads, in which every record of a random length
 * arrives once, in order, with its bytes intact; and three producer
 * threads with a ring each and one consumer taking from all, as the
 * uploader does, with the widest packed samples (16 tags, 128 fields). */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "recring.h"
#include "sample.h"

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

#define THREE	      3
#define THREE_SAMPLES 3000

struct three {
	struct recring r[THREE];
	uint64_t bad[THREE], full[THREE];
	uint64_t received, wrong;
};

struct three_arg {
	struct three *t;
	int id;
};

/* The widest sample; 0 or how many builder calls failed. */
static int three_build(struct sample *s, int id, int seq)
{
	char key[48], val[64];
	int i, bad = 0;

	bad += sample_reset(s, "wide", (int64_t)seq) != 0;
	snprintf(val, sizeof(val), "p%d", id);
	bad += sample_tag(s, "producer", val) != 0;
	for (i = 1; i < SAMPLE_MAX_TAGS; i++) {
		snprintf(key, sizeof(key), "tag_%02d", i);
		snprintf(val, sizeof(val), "a value of some length, number %d", i);
		bad += sample_tag(s, key, val) != 0;
	}
	bad += sample_int(s, "seq", seq) != 0;
	for (i = 1; i < SAMPLE_MAX_FIELDS; i++) {
		snprintf(key, sizeof(key), "field_%03d", i);
		bad += (i % 2 ? sample_float(s, key, seq + i * 0.25)
			      : sample_string(s, key, "a string field")) != 0;
	}
	return bad;
}

static void *three_producer(void *arg)
{
	struct three_arg *a = arg;
	struct recring *r = &a->t->r[a->id];
	struct sample s;
	int i;

	sample_init(&s, "wide", 0);
	for (i = 0; i < THREE_SAMPLES; i++) {
		a->t->bad[a->id] += three_build(&s, a->id, i);
		while (!recring_room(r, sample_len(&s))) {
			a->t->full[a->id]++;
			sched_yield();
		}
		a->t->bad[a->id] += recring_push(r, sample_data(&s), sample_len(&s)) != 0;
	}
	sample_free(&s);
	return NULL;
}

/* Round-robin over the rings, a few records each, like uploader_take(). */
static void *three_consumer(void *arg)
{
	struct three *t = arg;
	uint64_t next[THREE] = {0};
	struct sample_view v;
	struct sample_field f;
	const void *p;
	size_t len;
	int k, j;

	while (t->received < (uint64_t)THREE * THREE_SAMPLES) {
		bool any = false;

		for (k = 0; k < THREE; k++)
			for (j = 0; j < 4 && recring_peek(&t->r[k], &p, &len) == 0; j++) {
				char want[16];

				snprintf(want, sizeof(want), "p%d", k);
				if (sample_view(&v, p, len) != (int)len ||
				    v.ntags != SAMPLE_MAX_TAGS || v.nfields != SAMPLE_MAX_FIELDS ||
				    strcmp(v.tags[0].value, want) ||
				    !sample_field_get(&v, "seq", &f) || f.v.i != (int64_t)next[k])
					t->wrong++;
				next[k]++;
				recring_pop(&t->r[k]);
				t->received++;
				any = true;
			}
		if (!any)
			sched_yield();
	}
	return NULL;
}

static void test_three(void)
{
	struct three t;
	struct three_arg a[THREE];
	pthread_t th[THREE], c;
	int k;

	memset(&t, 0, sizeof(t));
	for (k = 0; k < THREE; k++) {
		CHECK_EQ_INT(recring_init(&t.r[k], 32768), 0);
		a[k] = (struct three_arg){&t, k};
	}
	CHECK_EQ_INT(pthread_create(&c, NULL, three_consumer, &t), 0);
	for (k = 0; k < THREE; k++)
		CHECK_EQ_INT(pthread_create(&th[k], NULL, three_producer, &a[k]), 0);
	for (k = 0; k < THREE; k++)
		pthread_join(th[k], NULL);
	pthread_join(c, NULL);
	printf("test_recring: %llu wide samples from %d threads, rings full %llu/%llu/%llu times\n",
	       (unsigned long long)t.received, THREE, (unsigned long long)t.full[0],
	       (unsigned long long)t.full[1], (unsigned long long)t.full[2]);
	CHECK_EQ_INT(t.received, (uint64_t)THREE * THREE_SAMPLES);
	CHECK_EQ_INT(t.wrong, 0);
	for (k = 0; k < THREE; k++) {
		CHECK_EQ_INT(t.bad[k], 0);
		CHECK_EQ_INT(recring_dropped(&t.r[k]), 0);
		CHECK_EQ_INT(recring_used(&t.r[k]), 0);
		recring_free(&t.r[k]);
	}
}

int main(void)
{
	test_basic();
	test_stress();
	test_three();
	return check_result();
}

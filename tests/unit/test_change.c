/* Change detection and heartbeat rules (PowMr bridge semantics), and the
 * retry backoff schedule. */
#include <stdint.h>
#include <stdio.h>

#include "change.h"
#include "check.h"
#include "sample.h"
#include "uploader.h"

#define SEC 1000000000LL
#define T0  (1700000000LL * SEC)

/* The filter reads a view: of this builder, rebuilt for every sample. */
static struct sample b;
static struct sample_view s;

static struct sample_view mk(const char *meter, double w, int64_t ts)
{
	sample_reset(&b, "pulse", ts);
	sample_tag(&b, "meter", meter);
	sample_float(&b, "power_w", w);
	sample_view_of(&s, &b);
	return s;
}

static void test_change(void)
{
	struct sink_change *c;

	sample_init(&b, "pulse", 0);
	CHECK_EQ_INT(change_new(&c, 60 * SEC, 120 * SEC), 0);
	/* A new series is sent; an unchanged value is not. */
	s = mk("a", 100, T0);
	CHECK(change_filter(c, &s, T0));
	s = mk("a", 100, T0 + 10 * SEC);
	CHECK(!change_filter(c, &s, T0 + 10 * SEC));
	/* Series are independent. */
	s = mk("b", 100, T0 + 10 * SEC);
	CHECK(change_filter(c, &s, T0 + 10 * SEC));
	/* A change is sent at once. */
	s = mk("a", 101, T0 + 20 * SEC);
	CHECK(change_filter(c, &s, T0 + 20 * SEC));
	/* Heartbeat: unchanged but a full interval since the last send. */
	s = mk("a", 101, T0 + 79 * SEC);
	CHECK(!change_filter(c, &s, T0 + 79 * SEC));
	s = mk("a", 101, T0 + 80 * SEC);
	CHECK(change_filter(c, &s, T0 + 80 * SEC));
	s = mk("a", 101, T0 + 81 * SEC);
	CHECK(!change_filter(c, &s, T0 + 81 * SEC));
	/* Never heartbeat a value older than freshness (a backlog replay). */
	s = mk("a", 101, T0 + 200 * SEC);
	CHECK(!change_filter(c, &s, T0 + 200 * SEC + 121 * SEC));
	s = mk("a", 101, T0 + 200 * SEC);
	CHECK(change_filter(c, &s, T0 + 200 * SEC + 119 * SEC));
	/* A zero is sent once, not at every heartbeat. */
	s = mk("a", 0, T0 + 300 * SEC);
	CHECK(change_filter(c, &s, T0 + 300 * SEC));
	s = mk("a", 0, T0 + 400 * SEC);
	CHECK(!change_filter(c, &s, T0 + 400 * SEC));
	s = mk("a", 0, T0 + 1000 * SEC);
	CHECK(!change_filter(c, &s, T0 + 1000 * SEC));
	/* ...and leaving zero is a change. */
	s = mk("a", 5, T0 + 1001 * SEC);
	CHECK(change_filter(c, &s, T0 + 1001 * SEC));
	/* A different set of fields is a change. */
	sample_reset(&b, "pulse", T0 + 1002 * SEC);
	sample_tag(&b, "meter", "a");
	sample_float(&b, "power_w", 5);
	sample_float(&b, "energy_wh", 1);
	sample_view_of(&s, &b);
	CHECK(change_filter(c, &s, T0 + 1002 * SEC));
	/* The same fields in another order are another set: a change. */
	sample_reset(&b, "pulse", T0 + 1003 * SEC);
	sample_tag(&b, "meter", "a");
	sample_float(&b, "energy_wh", 1);
	sample_float(&b, "power_w", 5);
	sample_view_of(&s, &b);
	CHECK(change_filter(c, &s, T0 + 1003 * SEC));
	/* Wide samples: one of 128 fields changing is a change, none is not. */
	for (int k = 0; k < 3; k++) {
		sample_reset(&b, "wide", T0 + (1010 + k) * SEC);
		sample_tag(&b, "site", "home");
		for (int f = 0; f < SAMPLE_MAX_FIELDS; f++) {
			char key[16];

			snprintf(key, sizeof(key), "f%d", f);
			sample_float(&b, key, f == 77 && k == 2 ? 1.5 : f + 1);
		}
		sample_view_of(&s, &b);
		CHECK(change_filter(c, &s, T0 + (1010 + k) * SEC) == (k != 1));
	}
	/* Many series: the table grows and remembers all of them. */
	for (int i = 0; i < 1000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "m%d", i);
		s = mk(name, i, T0);
		CHECK(change_filter(c, &s, T0));
	}
	for (int i = 0; i < 1000; i += 7) {
		char name[16];

		snprintf(name, sizeof(name), "m%d", i);
		s = mk(name, i, T0 + SEC);
		CHECK(!change_filter(c, &s, T0 + SEC));
	}
	change_free(c);
	sample_free(&b);
}

static void test_backoff(void)
{
	const int64_t base = SEC, cap = 300 * SEC;

	/* Full jitter: uniform in [0, min(cap, base*2^(n-1))]. */
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 1, 0.0), 0);
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 1, 0.5), SEC / 2);
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 2, 0.5), SEC);
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 4, 0.999999999), 8 * SEC - 8);
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 9, 0.5), 128 * SEC);
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 10, 0.5), 150 * SEC); /* capped */
	CHECK_EQ_INT(uploader_backoff_ns(base, cap, 200, 1.0), cap);
	for (unsigned a = 1; a < 80; a++) {
		int64_t d = uploader_backoff_ns(base, cap, a, 0.75);

		CHECK(d >= 0 && d <= cap);
	}
}

int main(void)
{
	test_change();
	test_backoff();
	return check_result();
}

/* The history ring (history.h): bucketing, out-of-order samples, the
 * wrap-around, the hour window, the plotted field's choice, a meter's day
 * counter across midnight and restarts, the JSON. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "history.h"
#include "sample.h"

#define S 1000000000LL
/* 2026-03-14 12:00:00 UTC, on a bucket boundary (HISTORY_STEP_S = 15). */
#define NOON (1773489600LL * S)

static size_t points(struct history *h, size_t i, int64_t now, const struct history_bucket **pts)
{
	static struct history_snap snap;
	size_t n;

	history_snap_free(&snap);
	CHECK_EQ_INT(history_snapshot(h, now, &snap), 0);
	n = history_points(&snap, &snap.s[i], pts);
	return n;
}

static void test_buckets(void)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	struct history *h;
	size_t n;

	CHECK_EQ_INT(history_create(&h, 1, NULL), 0);
	history_source(h, 0, "x", "test");
	history_add(h, 0, NOON, 10);
	history_add(h, 0, NOON + 14 * S, 30);
	history_add(h, 0, NOON + 7 * S, 20);
	history_add(h, 0, NOON + 15 * S, 5); /* the next bucket */
	n = points(h, 0, NOON + 20 * S, pts);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(pts[0]->idx * HISTORY_STEP_S * S, NOON);
	CHECK_EQ_INT(pts[0]->n, 3);
	CHECK_NEAR(pts[0]->min, 10, 0);
	CHECK_NEAR(pts[0]->max, 30, 0);
	CHECK_NEAR(pts[0]->sum / pts[0]->n, 20, 1e-12);
	CHECK_NEAR(pts[0]->last, 20, 0); /* the last to arrive */
	CHECK_NEAR(pts[1]->min, 5, 0);
	/* A bucket in the future of "now" is not shown yet. */
	CHECK_EQ_INT(points(h, 0, NOON + 14 * S, pts), 1);
	/* NaN and times before 1970 are ignored. */
	history_add(h, 0, NOON, NAN);
	history_add(h, 0, -5 * S, 1);
	CHECK_EQ_INT(points(h, 0, NOON + 20 * S, pts), 2);
	history_free(h);
}

static void test_wrap_and_window(void)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	int64_t step = HISTORY_STEP_S * S, last = NOON + 299 * step;
	struct history *h;
	int i;

	CHECK_EQ_INT(history_create(&h, 2, NULL), 0);
	/* 300 buckets: the ring holds the newest 240. */
	for (i = 0; i < 300; i++)
		history_add(h, 0, NOON + i * step + S, i);
	CHECK_EQ_INT(points(h, 0, last, pts), HISTORY_BUCKETS);
	CHECK_NEAR(pts[0]->last, 60, 0);
	CHECK_NEAR(pts[HISTORY_BUCKETS - 1]->last, 299, 0);
	for (i = 1; i < HISTORY_BUCKETS; i++)
		CHECK_EQ_INT(pts[i]->idx, pts[i - 1]->idx + 1);
	/* A sample older than what the ring holds is dropped, not written over
	 * a newer bucket. */
	history_add(h, 0, NOON + 10 * step, -1);
	CHECK_EQ_INT(points(h, 0, last, pts), HISTORY_BUCKETS);
	CHECK_NEAR(pts[0]->min, 60, 0);
	/* The hour window: half an hour later half of it is left, two hours
	 * later nothing. */
	CHECK_EQ_INT(points(h, 0, last + 1800 * S, pts), HISTORY_BUCKETS / 2);
	CHECK_EQ_INT(points(h, 0, last + 7200 * S, pts), 0);
	/* Series are separate. */
	CHECK_EQ_INT(points(h, 1, last, pts), 0);
	history_free(h);
}

static void note(struct history *h, size_t i, const char *meas, int64_t ts, const char *k1,
		 double v1, const char *k2, double v2)
{
	struct sample s;

	sample_init(&s, meas, ts);
	if (k1)
		sample_float(&s, k1, v1);
	if (k2)
		sample_float(&s, k2, v2);
	sample_string(&s, "note", "text is never plotted");
	history_note(h, i, sample_data(&s), sample_len(&s));
	sample_free(&s);
}

static void test_pick(void)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	struct history_snap snap;
	struct history *h;

	CHECK_EQ_INT(history_create(&h, 3, NULL), 0);
	/* The first numeric field, until a power-like one shows up. */
	note(h, 0, "bms", NOON, "voltage_v", 52.1, NULL, 0);
	CHECK_EQ_INT(points(h, 0, NOON + S, pts), 1);
	CHECK_NEAR(pts[0]->last, 52.1, 0);
	note(h, 0, "inv", NOON + 20 * S, "grid_v", 230, "pv_power", 1234);
	note(h, 0, "bms", NOON + 40 * S, "voltage_v", 52.2, NULL, 0); /* no longer plotted */
	CHECK_EQ_INT(points(h, 0, NOON + 60 * S, pts), 1);
	CHECK_NEAR(pts[0]->last, 1234, 0);
	/* plot = MEAS.FIELD wins over anything. */
	history_plot(h, 1, "env.temp_c");
	note(h, 1, "inv", NOON, "pv_power", 1, NULL, 0);
	note(h, 1, "env", NOON + 20 * S, "humidity_pct", 40, "temp_c", 21.5);
	note(h, 1, "other", NOON + 40 * S, "temp_c", 99, NULL, 0);
	CHECK_EQ_INT(points(h, 1, NOON + 60 * S, pts), 1);
	CHECK_NEAR(pts[0]->last, 21.5, 0);
	/* plot = FIELD: any measurement. */
	history_plot(h, 2, "temp_c");
	note(h, 2, "a", NOON, "temp_c", 1, NULL, 0);
	note(h, 2, "b", NOON + 20 * S, "temp_c", 2, NULL, 0);
	CHECK_EQ_INT(points(h, 2, NOON + 60 * S, pts), 2);
	/* The JSON names what is plotted, with its unit. */
	{
		char *j;
		bool missing;

		CHECK_EQ_INT(history_snapshot(h, NOON + 60 * S, &snap), 0);
		history_source(h, 1, "env", "json");
		history_add(h, 1, NOON + 50 * S, 1.0 / 3); /* printed to 6 digits */
		history_snap_free(&snap);
		CHECK_EQ_INT(history_snapshot(h, NOON + 60 * S, &snap), 0);
		j = history_json(&snap, "env", &missing);
		CHECK(j && !missing);
		CHECK(j &&
		      strstr(j, "\"measurement\":\"env\",\"field\":\"temp_c\",\"unit\":\"°C\""));
		CHECK(j && strstr(j, "\"points\":[[1773489615,21.5,21.5,21.5,21.5],"
				     "[1773489645,0.333333,0.333333,0.333333,0.333333]]"));
		free(j);
		j = history_json(&snap, "nope", &missing);
		CHECK(!j && missing);
		history_snap_free(&snap);
	}
	history_free(h);
}

static void meter_note(struct history *h, int64_t ts, double w, double wh)
{
	note(h, 0, "pulse", ts, "power_w", w, "energy_wh", wh);
}

static void test_today(void)
{
	char dir[] = "/tmp/test_history.XXXXXX", path[64];
	const struct history_bucket *pts[HISTORY_BUCKETS];
	int64_t day2 = NOON + 12 * 3600 * S, since;
	struct history *h;
	double today;

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(history_create(&h, 1, dir), 0);
	history_source(h, 0, "house", "pulse");
	history_meter(h, 0, 100, NOON);
	meter_note(h, NOON + 3600 * S, 500, 110);
	CHECK_EQ_INT(points(h, 0, NOON + 3600 * S, pts), 1);
	CHECK_NEAR(pts[0]->last, 500, 0);
	CHECK(history_today(h, 0, NOON + 3600 * S, 111, &today, &since));
	CHECK_NEAR(today, 11, 1e-9); /* since powerd started: it was not up at midnight */
	CHECK_EQ_INT(since, NOON);
	/* After midnight with no flash yet: 0 since midnight. */
	CHECK(history_today(h, 0, day2 + 5 * S, 110, &today, &since));
	CHECK_NEAR(today, 0, 0);
	CHECK_EQ_INT(since, day2);
	/* The first sample of the day: the day starts at the last value. */
	meter_note(h, day2 + 10 * S, 400, 112);
	CHECK(history_today(h, 0, day2 + 20 * S, 113, &today, &since));
	CHECK_NEAR(today, 3, 1e-9);
	CHECK_EQ_INT(since, day2);
	history_free(h);
	/* A restart the same day continues from the saved start of the day. */
	CHECK_EQ_INT(history_create(&h, 1, dir), 0);
	history_source(h, 0, "house", "pulse");
	history_meter(h, 0, 113, day2 + 3600 * S);
	CHECK(history_today(h, 0, day2 + 3600 * S, 115, &today, &since));
	CHECK_NEAR(today, 5, 1e-9);
	CHECK_EQ_INT(since, day2);
	history_free(h);
	/* Or, the next day, from its start. */
	CHECK_EQ_INT(history_create(&h, 1, dir), 0);
	history_source(h, 0, "house", "pulse");
	history_meter(h, 0, 120, day2 + 25 * 3600 * S);
	CHECK(history_today(h, 0, day2 + 25 * 3600 * S, 121, &today, &since));
	CHECK_NEAR(today, 1, 1e-9);
	CHECK_EQ_INT(since, day2 + 25 * 3600 * S);
	history_free(h);
	snprintf(path, sizeof(path), "%s/pulse.house.today", dir);
	unlink(path);
	rmdir(dir);
}

/* A reload: what the new configuration still plots goes on. */
static void test_adopt(void)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	struct history *old, *h;
	int64_t since;
	double today;
	size_t i;

	CHECK_EQ_INT(history_create(&old, 4, NULL), 0);
	history_source(old, 0, "m", "pulse");
	history_meter(old, 0, 100, NOON);
	history_source(old, 1, "a", "json");
	history_source(old, 2, "b", "json");
	history_plot(old, 2, "env.temp_c");
	history_source(old, 3, "c", "can");
	meter_note(old, NOON + S, 500, 110);
	for (i = 1; i < 4; i++)
		note(old, i, "env", NOON + S, "temp_c", 20, "pv_power", 700);

	CHECK_EQ_INT(history_create(&h, 4, NULL), 0);
	history_source(h, 0, "m", "pulse");
	history_meter(h, 0, 110, NOON + 60 * S);
	history_source(h, 1, "a", "json"); /* auto, as before: kept */
	history_source(h, 2, "b", "json"); /* a new plot =: a new plot */
	history_plot(h, 2, "env.humidity_pct");
	history_source(h, 3, "c", "mqtt"); /* another kind: a new source */
	history_adopt(h, old);
	history_free(old);
	CHECK_EQ_INT(points(h, 0, NOON + 60 * S, pts), 1);
	CHECK_NEAR(pts[0]->last, 500, 0);
	CHECK(history_today(h, 0, NOON + 60 * S, 111, &today, &since));
	CHECK_NEAR(today, 11, 1e-9); /* the day from before the reload */
	CHECK_EQ_INT(since, NOON);
	CHECK_EQ_INT(points(h, 1, NOON + 60 * S, pts), 1);
	CHECK_NEAR(pts[0]->last, 700, 0);
	CHECK_EQ_INT(points(h, 2, NOON + 60 * S, pts), 0);
	CHECK_EQ_INT(points(h, 3, NOON + 60 * S, pts), 0);
	history_adopt(h, NULL);
	history_free(h);
}

/* One thread publishing, one reading (run under TSan by tests/run.sh). */
static void *writer(void *arg)
{
	struct history *h = arg;
	int i;

	for (i = 0; i < 20000; i++) {
		note(h, 0, "inv", NOON + (int64_t)i * S, "pv_power", i, NULL, 0);
		history_add(h, 1, NOON + (int64_t)i * S, i);
	}
	return NULL;
}

static void test_threads(void)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	struct history_snap snap;
	struct history *h;
	pthread_t t;
	size_t total = 0;
	int i;

	CHECK_EQ_INT(history_create(&h, 2, NULL), 0);
	history_source(h, 0, "a", "test");
	CHECK_EQ_INT(pthread_create(&t, NULL, writer, h), 0);
	for (i = 0; i < 200; i++) {
		double today;
		int64_t since;

		CHECK_EQ_INT(history_snapshot(h, NOON + 20000 * S, &snap), 0);
		total += history_points(&snap, &snap.s[0], pts);
		history_plot(h, 1, i & 1 ? "x" : "");
		CHECK(!history_today(h, 0, NOON, 1, &today, &since));
		history_snap_free(&snap);
	}
	pthread_join(t, NULL);
	CHECK_EQ_INT(history_snapshot(h, NOON + 20000 * S, &snap), 0);
	CHECK_EQ_INT(history_points(&snap, &snap.s[0], pts), HISTORY_BUCKETS);
	CHECK(total <= 200 * HISTORY_BUCKETS);
	history_snap_free(&snap);
	history_free(h);
}

int main(void)
{
	test_buckets();
	test_wrap_and_window();
	test_pick();
	test_today();
	test_adopt();
	test_threads();
	/* No history (a source without powerd): nothing happens. */
	history_note(NULL, 0, NULL, 0);
	history_add(NULL, 0, NOON, 1);
	return check_result();
}

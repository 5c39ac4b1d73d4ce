/* The glitch filter and the converter, edge by edge. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "pulse.h"

#define MS  1000000LL
#define SEC 1000000000LL

static struct pulse_params params(void)
{
	struct pulse_params p = {
		.impulses_per_kwh = 1000, .min_pulse_ns = 5 * MS, .timeout_ns = 300 * SEC};
	return p;
}

/* Feed edges; return the number of flashes accepted along the way. */
static int feed(struct pulse_meter *m, const int64_t *t, const int *lv, int n)
{
	struct pulse_flash f;
	int i, flashes = 0;

	for (i = 0; i < n; i++) {
		flashes += pulse_advance(m, t[i], &f) > 0;
		flashes += pulse_edge(m, t[i], lv[i], &f) > 0;
	}
	return flashes;
}

static void test_clean(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	int64_t t[] = {0,	1 * SEC,	  1 * SEC + 30 * MS, 2 * SEC, 2 * SEC + 30 * MS,
		       4 * SEC, 4 * SEC + 30 * MS};
	int lv[] = {0, 1, 0, 1, 0, 1, 0};
	double w;

	pulse_init(&m, &p, 0);
	CHECK(!pulse_power(&m, 0, &w));
	/* Flash 1 (t=1s) completes when the gap after it is confirmed at the
	 * next edge; flash 3 needs time to pass. */
	CHECK_EQ_INT(feed(&m, t, lv, 7), 2);
	CHECK_EQ_INT(m.flashes, 2);
	CHECK_EQ_INT(pulse_next_deadline(&m), 4 * SEC + 35 * MS);
	CHECK_EQ_INT(pulse_advance(&m, 4 * SEC + 34 * MS, &f), 0);
	CHECK_EQ_INT(pulse_advance(&m, 4 * SEC + 35 * MS, &f), 1);
	CHECK_EQ_INT(f.ts_ns, 4 * SEC);
	CHECK_EQ_INT(f.interval_ns, 2 * SEC);
	CHECK_NEAR(f.power_w, 1800.0, 1e-9);
	CHECK_EQ_INT(f.count, 3);
	CHECK_EQ_INT(pulse_next_deadline(&m), INT64_MAX);
	CHECK_EQ_INT(m.glitches, 0);
	CHECK_EQ_INT(m.edges, 7);
	CHECK_NEAR(pulse_energy_wh(&p, m.flashes), 3.0, 0);
	CHECK_NEAR(pulse_energy_j(&p, m.flashes), 10800.0, 0);
}

static void test_power_decay(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	int64_t t[] = {0, 10 * SEC, 10 * SEC + 30 * MS, 11 * SEC, 11 * SEC + 30 * MS};
	int lv[] = {0, 1, 0, 1, 0};
	double w;

	pulse_init(&m, &p, 0);
	feed(&m, t, lv, 5);
	pulse_advance(&m, 12 * SEC, &(struct pulse_flash){0});
	CHECK_EQ_INT(m.flashes, 2);
	/* Within the last interval: that interval's power (1 s -> 3600 W). */
	CHECK(pulse_power(&m, 11 * SEC + 500 * MS, &w));
	CHECK_NEAR(w, 3600.0, 1e-9);
	/* Overdue: the upper bound for a flash right now. */
	CHECK(pulse_power(&m, 13 * SEC, &w));
	CHECK_NEAR(w, 1800.0, 1e-9);
	CHECK(pulse_power(&m, 11 * SEC + 299 * SEC, &w));
	CHECK_NEAR(w, 3600.0 / 299.0, 1e-9);
	/* Timeout: 0 W. */
	CHECK(pulse_power(&m, 11 * SEC + 300 * SEC, &w));
	CHECK_NEAR(w, 0.0, 0);
}

static void test_one_flash_power_unknown(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	int64_t t[] = {0, 1 * SEC, 1 * SEC + 30 * MS};
	int lv[] = {0, 1, 0};
	double w;

	pulse_init(&m, &p, 0);
	feed(&m, t, lv, 3);
	pulse_advance(&m, 2 * SEC, &(struct pulse_flash){0});
	CHECK_EQ_INT(m.flashes, 1);
	CHECK(!pulse_power(&m, 2 * SEC, &w));
	CHECK(pulse_power(&m, 1 * SEC + 300 * SEC, &w));
	CHECK_NEAR(w, 0.0, 0);
}

static void test_bounces(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	/* Flash at 1 s with a bouncy start and a bouncy end; then a flash at 3 s. */
	int64_t t[] = {0,
		       1 * SEC,
		       1 * SEC + 100000,
		       1 * SEC + 200000, /* 1 0 1 */
		       1 * SEC + 30 * MS,
		       1 * SEC + 30 * MS + 50000, /* 0 1 */
		       1 * SEC + 30 * MS + 90000, /* 0 */
		       3 * SEC,
		       3 * SEC + 30 * MS};
	int lv[] = {0, 1, 0, 1, 0, 1, 0, 1, 0};

	pulse_init(&m, &p, 0);
	CHECK_EQ_INT(feed(&m, t, lv, 9), 1);
	CHECK_EQ_INT(pulse_advance(&m, 4 * SEC, &f), 1);
	CHECK_EQ_INT(m.flashes, 2);
	/* Four periods shorter than 5 ms: 1@1s, 0@1s+0.1ms, 0@+30ms, 1@+30.05ms. */
	CHECK_EQ_INT(m.glitches, 4);
	/* The first flash's start is its first active period that held. */
	CHECK_EQ_INT(f.interval_ns, 3 * SEC - (1 * SEC + 200000));
}

static void test_glitches_rejected(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	/* A lamp switching on: short flickers between two flashes, and a short
	 * drop-out inside the second flash. */
	int64_t t[] = {0,
		       1 * SEC,
		       1 * SEC + 30 * MS,
		       1500 * MS,
		       1500 * MS + 1 * MS, /* 1 ms flicker */
		       1700 * MS,
		       1700 * MS + 4999999, /* just under 5 ms */
		       2 * SEC,
		       2 * SEC + 10 * MS,
		       2 * SEC + 11 * MS,
		       2 * SEC + 30 * MS};
	int lv[] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};

	pulse_init(&m, &p, 0);
	feed(&m, t, lv, 11);
	pulse_advance(&m, 3 * SEC, &f);
	CHECK_EQ_INT(m.flashes, 2);
	CHECK_EQ_INT(m.glitches, 3);
	CHECK_EQ_INT(f.ts_ns, 2 * SEC);
	CHECK_EQ_INT(f.interval_ns, 1 * SEC);
}

static void test_exact_min_pulse_counts(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	int64_t t[] = {0, 1 * SEC, 1 * SEC + 5 * MS};
	int lv[] = {0, 1, 0};

	pulse_init(&m, &p, 0);
	feed(&m, t, lv, 3);
	CHECK_EQ_INT(pulse_advance(&m, 1 * SEC + 10 * MS - 1, &f), 0);
	CHECK_EQ_INT(pulse_advance(&m, 1 * SEC + 10 * MS, &f), 1);
	CHECK_EQ_INT(m.glitches, 0);
}

static void test_half_pulse_at_start(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	/* The LED is already on when we start: the first edge is its end. */
	int64_t t[] = {10 * MS, 1 * SEC, 1 * SEC + 30 * MS};
	int lv[] = {0, 1, 0};

	pulse_init(&m, &p, 0);
	feed(&m, t, lv, 3);
	pulse_advance(&m, 2 * SEC, &f);
	CHECK_EQ_INT(m.flashes, 1);
	CHECK_EQ_INT(f.ts_ns, 1 * SEC);
	CHECK_EQ_INT(f.interval_ns, 0);

	/* A half pulse that starts with a glitch is not counted either. */
	int64_t t2[] = {1 * MS, 2 * MS, 50 * MS};
	int lv2[] = {1, 0, 1};
	pulse_init(&m, &p, 0);
	feed(&m, t2, lv2, 3);
	pulse_advance(&m, 40 * MS, &f);
	CHECK_EQ_INT(m.flashes, 0);
	CHECK_EQ_INT(m.glitches, 1);
}

static void test_long_and_short_intervals(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	int64_t t0 = 0;
	int i;

	p.timeout_ns = 24 * 3600 * SEC;
	pulse_init(&m, &p, 0);
	/* An hour between two flashes: 1 W. */
	int64_t t[] = {0, 1 * SEC, 1 * SEC + 30 * MS, 3601 * SEC, 3601 * SEC + 30 * MS};
	int lv[] = {0, 1, 0, 1, 0};
	feed(&m, t, lv, 5);
	CHECK_EQ_INT(pulse_advance(&m, 3602 * SEC, &f), 1);
	CHECK_NEAR(f.power_w, 1.0, 1e-12);

	/* 10 ms on, 10 ms off: 50 flashes per second, 180 kW at 1000/kWh. */
	pulse_init(&m, &p, 0);
	pulse_edge(&m, t0, 0, &f);
	for (i = 0; i < 1000; i++) {
		int64_t s = SEC + (int64_t)i * 20 * MS;

		pulse_advance(&m, s, &f);
		pulse_edge(&m, s, 1, &f);
		pulse_edge(&m, s + 10 * MS, 0, &f);
	}
	pulse_advance(&m, 100 * SEC, &f);
	CHECK_EQ_INT(m.flashes, 1000);
	CHECK_NEAR(f.power_w, 180000.0, 1e-6);
	CHECK_EQ_INT(m.glitches, 0);
}

static void test_order_and_repeats(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;

	pulse_init(&m, &p, 41);
	CHECK_EQ_INT(pulse_edge(&m, 5 * SEC, 0, &f), 0);
	CHECK_EQ_INT(pulse_edge(&m, 4 * SEC, 1, &f), -ERANGE);
	CHECK_EQ_INT(pulse_edge(&m, 6 * SEC, 0, &f), 0); /* repeated level */
	CHECK_EQ_INT(pulse_edge(&m, 7 * SEC, 1, &f), 0);
	CHECK_EQ_INT(pulse_edge(&m, 7 * SEC + 50 * MS, 0, &f), 0);
	CHECK_EQ_INT(pulse_advance(&m, 8 * SEC, &f), 1);
	/* The persisted base carries on. */
	CHECK_EQ_INT(f.count, 42);
	CHECK_EQ_INT(m.flashes, 42);
}

static void test_no_filter(void)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;

	p.min_pulse_ns = 0;
	pulse_init(&m, &p, 0);
	pulse_edge(&m, 0, 0, &f);
	pulse_edge(&m, 1000, 1, &f);
	pulse_edge(&m, 1001, 0, &f);
	CHECK_EQ_INT(pulse_advance(&m, 1001, &f), 1);
	CHECK_EQ_INT(m.glitches, 0);
}

/* The live reading at a high flash rate, as the daemon takes it: edges reach
 * the meter a delivery margin late, time confirms levels at now - margin,
 * and readers ask for the power at every millisecond.  At a steady 36 kW
 * (1000 imp/kWh: a flash every 100 ms, LED on for 30 ms) every reading
 * must be the true power: a flash that is under way (LED on, or off but not
 * yet confirmed) is not overdue.  Before that rule, readings fell to
 * 18.6 kW between flashes. */
static void check_live_power(int64_t interval, int64_t on, int64_t margin, double want_w)
{
	struct pulse_params p = params();
	struct pulse_meter m;
	struct pulse_flash f;
	int64_t t, next_edge = 1 * SEC, seen;
	double w, lo = 1e30, hi = 0;
	int level = 0, readings = 0;

	pulse_init(&m, &p, 0);
	for (t = 0; t < 20 * SEC; t += 1 * MS) {
		seen = t - margin;
		/* Edges up to `seen` have arrived. */
		while (next_edge <= seen) {
			level = !level;
			pulse_advance(&m, next_edge, &f);
			pulse_edge(&m, next_edge, level, &f);
			next_edge += level ? on : interval - on;
		}
		pulse_advance(&m, seen, &f);
		if (t < 2 * SEC + margin + interval)
			continue; /* until two intervals are known */
		CHECK(pulse_power(&m, seen, &w));
		if (w < lo)
			lo = w;
		if (w > hi)
			hi = w;
		readings++;
	}
	CHECK(readings > 10000);
	CHECK(lo > want_w * 0.999);
	CHECK(hi < want_w * 1.001);
	if (lo < want_w * 0.999 || hi > want_w * 1.001)
		fprintf(stderr, "live power at %.0f W: readings from %.1f to %.1f W\n", want_w, lo,
			hi);
}

static void test_live_power(void)
{
	check_live_power(100 * MS, 30 * MS, 100 * MS, 36000);
	check_live_power(180 * MS, 90 * MS, 100 * MS, 20000);
	check_live_power(1200 * MS, 50 * MS, 100 * MS, 3000);
	check_live_power(100 * MS, 30 * MS, 0, 36000);

	/* The bound still applies when the next flash really is overdue. */
	{
		struct pulse_params p = params();
		struct pulse_meter m;
		struct pulse_flash f;
		int64_t t[] = {0, 1 * SEC, 1 * SEC + 30 * MS, 2 * SEC, 2 * SEC + 30 * MS};
		int lv[] = {0, 1, 0, 1, 0};
		double w;

		pulse_init(&m, &p, 0);
		feed(&m, t, lv, 5);
		CHECK_EQ_INT(pulse_advance(&m, 2 * SEC + 40 * MS, &f), 1);
		CHECK(pulse_power(&m, 3 * SEC + 500 * MS, &w));
		CHECK_NEAR(w, 3600.0 / 1.5, 1e-6);
		/* An LED that has come on is a flash under way: no bound. */
		CHECK_EQ_INT(pulse_edge(&m, 3 * SEC + 600 * MS, 1, &f), 0);
		CHECK(pulse_power(&m, 3 * SEC + 700 * MS, &w));
		CHECK_NEAR(w, 3600.0, 1e-6);
	}
}

int main(void)
{
	test_clean();
	test_power_decay();
	test_one_flash_power_unknown();
	test_bounces();
	test_glitches_rejected();
	test_exact_min_pulse_counts();
	test_half_pulse_at_start();
	test_long_and_short_intervals();
	test_order_and_repeats();
	test_no_filter();
	test_live_power();
	return check_result();
}

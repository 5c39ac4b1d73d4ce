/* The converter against a known load: traces synthesised from a power
 * profile, with 50 us of timestamp jitter on every edge and lamp-switching
 * noise between flashes.  Energy must be exact to the flash; steady-load
 * power within 0.1 %. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pulse.h"

#define MS  1000000LL
#define SEC 1000000000LL

struct segment {
	double watts;
	double seconds;
};

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t jitter(int64_t max_ns)
{
	return (int64_t)(rng() % (uint64_t)(2 * max_ns + 1)) - max_ns;
}

#define MAX_FLASHES 100000

struct run {
	struct pulse_meter m;
	uint64_t expected_flashes;
	uint64_t steady_checked;
	double worst_rel_err;
	const struct segment *segs;
	short seg_of[MAX_FLASHES + 2]; /* by flash number: which load made it */
};

/* An interval between two flashes the same load produced measured that
 * load; one that spans a change of load is not a steady-load check. */
static void account(struct run *r, const struct pulse_flash *f)
{
	int s;
	double err;

	if (f->interval_ns <= 0 || f->count > MAX_FLASHES)
		return;
	s = r->seg_of[f->count];
	if (r->seg_of[f->count - 1] != s)
		return;
	err = (f->power_w - r->segs[s].watts) / r->segs[s].watts;
	if (err < 0)
		err = -err;
	if (err > r->worst_rel_err)
		r->worst_rel_err = err;
	r->steady_checked++;
}

static void edge(struct run *r, int64_t t, int level)
{
	struct pulse_flash f;

	/* Time passes up to the edge (which may confirm a flash), then the edge. */
	if (pulse_advance(&r->m, t, &f) > 0)
		account(r, &f);
	if (pulse_edge(&r->m, t, level, &f) > 0)
		account(r, &f);
}

static void run_profile(const char *name, const struct segment *segs, int nseg, uint32_t ipk,
			bool noise)
{
	struct pulse_params p = {
		.impulses_per_kwh = ipk, .min_pulse_ns = 5 * MS, .timeout_ns = 3600 * SEC};
	static struct run r;
	int64_t t = 1 * SEC, seg_end = t;
	int s;

	memset(&r, 0, sizeof(r));
	r.segs = segs;
	pulse_init(&r.m, &p, 0);
	edge(&r, 0, 0);
	for (s = 0; s < nseg; s++) {
		/* The meter flashes every 3.6e6/(ipk*W) s at a constant load. */
		int64_t period = (int64_t)(3.6e15 / ((double)ipk * segs[s].watts) + 0.5);

		int64_t seg_start = seg_end;

		seg_end += (int64_t)(segs[s].seconds * 1e9);
		if (t < seg_start)
			t = seg_start;
		while (t < seg_end) {
			int64_t on = t + jitter(50000);

			edge(&r, on, 1);
			r.expected_flashes++;
			if (r.expected_flashes <= MAX_FLASHES)
				r.seg_of[r.expected_flashes] = (short)s;
			edge(&r, on + 30 * MS + jitter(50000), 0);
			if (noise && period > 200 * MS) {
				/* A lamp switching on nearby: sub-ms flicker. */
				int64_t n = t + period / 2;

				edge(&r, n, 1);
				edge(&r, n + 300000, 0);
				edge(&r, n + 700000, 1);
				edge(&r, n + 1200000, 0);
			}
			t += period;
		}
	}
	pulse_advance(&r.m, t + 10 * SEC, &(struct pulse_flash){0});
	printf("%s: %llu flashes, %llu steady intervals, worst error %.5f %%, %llu glitches\n",
	       name, (unsigned long long)r.m.flashes, (unsigned long long)r.steady_checked,
	       r.worst_rel_err * 100, (unsigned long long)r.m.glitches);
	CHECK_EQ_INT(r.m.flashes, r.expected_flashes);
	CHECK_NEAR(pulse_energy_wh(&p, r.m.flashes), (double)r.expected_flashes * 1000.0 / ipk, 0);
	CHECK(r.steady_checked > 100);
	CHECK(r.expected_flashes <= MAX_FLASHES);
	CHECK(r.worst_rel_err < 0.001);
	CHECK_EQ_INT(r.m.glitches, noise ? r.m.glitches : 0);
	if (noise)
		CHECK(r.m.glitches > 0);
}

int main(void)
{
	static const struct segment house[] = {
		{350, 1800}, {2200, 300}, {150, 3600}, {9000, 120}, {600, 900}, {45, 3600},
	};
	static const struct segment steady[] = {{1000, 7200}};

	run_profile("household, 1000/kWh", house, 6, 1000, false);
	run_profile("household with lamp noise, 1000/kWh", house, 6, 1000, true);
	run_profile("household, 800/kWh", house, 6, 800, true);
	run_profile("steady 1 kW, 10000/kWh", steady, 1, 10000, false);
	return check_result();
}

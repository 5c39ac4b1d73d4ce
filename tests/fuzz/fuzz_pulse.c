/* libFuzzer target for the PULSE filter and converter (include/pulse.h).
 *
 * Input: a 16-byte header (impulses_per_kwh, min_pulse_ns, timeout, the
 * persisted flash count), then 5-byte records: an op byte and a 32-bit time
 * step.  Op bit 0 is the level; bits 1-2 the kind (edge, edge, advance, or an
 * edge older than the current level, which must be refused); bits 3-7 shift
 * the step left, so times span nanoseconds to years.  Time never goes back
 * otherwise, as the header's contract requires.
 *
 * Two meters run the same edges: A also gets every pulse_advance(), B only
 * the edges.  Advancing time early must not change what is counted, so once
 * both are advanced to the end of time they must agree exactly.  Invariants
 * checked on A after every step:
 *   flashes - base <= rising transitions fed, glitches <= edges fed and
 *   equal to the level changes held less than min_pulse_ns,
 *   edges == edges accepted, energy never decreases, every flash is in order
 *   and in the past with a finite, non-negative power,
 *   pulse_power() gives a finite w >= 0 when it returns true and 0 otherwise,
 *   pulse_next_deadline() is INT64_MAX or >= raw_since, and > now right
 *   after pulse_advance(now). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_T_MAX   (INT64_C(1) << 62)
#define FUZZ_HDR     16
#define FUZZ_REC     5
#define FUZZ_ADVANCE 2
#define FUZZ_OLD     3

struct fuzz_state {
	struct pulse_meter a, b;
	int64_t now;
	uint64_t base, rises, edges, flashes;
	int64_t last_flash_ts;
	int64_t last_interval; /* of the last flash with one, 0 before */
	double last_energy;
	int raw; /* the level fed last, -1 before the first edge */
	int64_t raw_since;
	uint64_t glitches; /* level changes held shorter than min_pulse */
};

#define fuzz_assert(st, cond)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_pulse: %s:%d: %s (now=%lld)\n", __FILE__, __LINE__,  \
				#cond, (long long)(st)->now);                                      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static uint32_t fuzz_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fuzz_flash(struct fuzz_state *st, const struct pulse_flash *f)
{
	st->flashes++;
	fuzz_assert(st, f->count == st->a.flashes);
	fuzz_assert(st, f->count == st->base + st->flashes);
	fuzz_assert(st, f->ts_ns <= st->now);
	fuzz_assert(st, f->ts_ns >= st->last_flash_ts);
	fuzz_assert(st, f->interval_ns >= 0);
	fuzz_assert(st, st->flashes == 1 ? f->interval_ns == 0
					 : f->interval_ns == f->ts_ns - st->last_flash_ts);
	fuzz_assert(st, isfinite(f->power_w) && f->power_w >= 0);
	fuzz_assert(st, (f->interval_ns > 0) == (f->power_w > 0));
	if (f->interval_ns > 0) {
		fuzz_assert(st, f->power_w == pulse_power_for(&st->a.p, f->interval_ns));
		st->last_interval = f->interval_ns;
	}
	st->last_flash_ts = f->ts_ns;
}

/* The power estimate as the header specifies it: unknown before two
 * flashes, then the last interval's power, decaying to the bound that a
 * flash right now would give once overdue (not while a flash is under way:
 * its LED on, or on and off but not yet confirmed), and 0 W after the
 * timeout. */
static void fuzz_power(struct fuzz_state *st, bool known, double w)
{
	const struct pulse_meter *m = &st->a;
	int64_t since, li = st->last_interval;
	bool under_way = (m->raw == 1 && m->raw_since > st->last_flash_ts) ||
			 (m->stable == 1 && m->stable_since > st->last_flash_ts);

	if (st->flashes == 0) {
		fuzz_assert(st, !known);
		return;
	}
	since = st->now - st->last_flash_ts;
	if (since >= st->a.p.timeout_ns) {
		fuzz_assert(st, known && w == 0);
	} else if (li == 0) {
		fuzz_assert(st, !known);
	} else {
		fuzz_assert(st, known);
		fuzz_assert(st,
			    w == pulse_power_for(&st->a.p, !under_way && since > li ? since : li));
	}
}

static void fuzz_check(struct fuzz_state *st)
{
	const struct pulse_meter *m = &st->a;
	int64_t d = pulse_next_deadline(m);
	double w = -1, e;
	bool known;

	fuzz_assert(st, m->edges == st->edges);
	fuzz_assert(st, m->glitches <= m->edges);
	fuzz_assert(st, m->glitches == st->glitches);
	fuzz_assert(st, m->flashes - st->base <= st->rises);
	fuzz_assert(st, m->flashes == st->base + st->flashes);
	fuzz_assert(st, d == INT64_MAX || d >= m->raw_since);
	if (m->p.min_pulse_ns == 0)
		fuzz_assert(st, m->glitches == 0);
	known = pulse_power(m, st->now, &w);
	fuzz_assert(st, known ? isfinite(w) && w >= 0 : w == 0);
	fuzz_power(st, known, w);
	e = pulse_energy_wh(&m->p, m->flashes);
	fuzz_assert(st, isfinite(e) && e >= st->last_energy);
	st->last_energy = e;
}

static void fuzz_edge(struct fuzz_state *st, int level)
{
	struct pulse_flash f;
	int ra, rb;

	ra = pulse_edge(&st->a, st->now, level, &f);
	fuzz_assert(st, ra == 0 || ra == 1);
	if (ra == 1)
		fuzz_flash(st, &f);
	rb = pulse_edge(&st->b, st->now, level, &f);
	fuzz_assert(st, rb == 0 || rb == 1);
	st->edges++;
	if (level && st->raw != 1)
		st->rises++;
	if (st->raw >= 0 && level != st->raw && st->now - st->raw_since < st->a.p.min_pulse_ns)
		st->glitches++;
	if (level != st->raw)
		st->raw_since = st->now;
	st->raw = level;
}

/* An edge older than the level in progress: refused, and nothing changes. */
static void fuzz_old_edge(struct fuzz_state *st, int level, uint32_t step)
{
	struct pulse_meter before;
	struct pulse_flash f;
	int64_t ts;

	memcpy(&before, &st->a, sizeof(before)); /* padding too, for memcmp */
	if (st->a.raw < 0 || st->a.raw_since <= 0)
		return;
	ts = st->a.raw_since - 1 - (int64_t)(step % (uint64_t)st->a.raw_since);
	fuzz_assert(st, pulse_edge(&st->a, ts, level, &f) == -ERANGE);
	fuzz_assert(st, memcmp(&before, &st->a, sizeof(before)) == 0);
}

static void fuzz_advance(struct fuzz_state *st)
{
	struct pulse_flash f;
	int64_t d;
	int r;

	r = pulse_advance(&st->a, st->now, &f);
	fuzz_assert(st, r == 0 || r == 1);
	if (r == 1)
		fuzz_flash(st, &f);
	d = pulse_next_deadline(&st->a);
	fuzz_assert(st, d == INT64_MAX || d > st->now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pulse_params p;
	struct fuzz_state st;
	struct pulse_flash f;
	size_t i;

	if (size < FUZZ_HDR)
		return 0;
	memset(&st, 0, sizeof(st));
	p.impulses_per_kwh = fuzz_u32(data) % 1000000 + 1;
	p.min_pulse_ns = fuzz_u32(data + 4);
	p.timeout_ns = (int64_t)fuzz_u32(data + 8) * 1000 + 1;
	st.base = fuzz_u32(data + 12);
	st.raw = -1;
	st.last_flash_ts = INT64_MIN;
	pulse_init(&st.a, &p, st.base);
	pulse_init(&st.b, &p, st.base);

	for (i = FUZZ_HDR; i + FUZZ_REC <= size; i += FUZZ_REC) {
		unsigned op = data[i], kind = (op >> 1) & 3;
		uint32_t step = fuzz_u32(data + i + 1);
		uint64_t u = (uint64_t)step << (op >> 3);
		int64_t dt = u > (uint64_t)FUZZ_T_MAX ? FUZZ_T_MAX : (int64_t)u;

		if (kind == FUZZ_OLD) {
			fuzz_old_edge(&st, op & 1, step);
			fuzz_check(&st);
			continue;
		}
		st.now = dt > FUZZ_T_MAX - st.now ? FUZZ_T_MAX : st.now + dt;
		if (kind == FUZZ_ADVANCE)
			fuzz_advance(&st);
		else
			fuzz_edge(&st, op & 1);
		fuzz_check(&st);
	}

	/* The end of the input: the line stays at its last level for good. */
	st.now = INT64_MAX;
	if (pulse_advance(&st.a, INT64_MAX, &f) == 1)
		fuzz_flash(&st, &f);
	pulse_advance(&st.b, INT64_MAX, &f);
	fuzz_assert(&st, st.a.flashes == st.b.flashes);
	fuzz_assert(&st, st.a.glitches == st.b.glitches);
	fuzz_assert(&st, st.a.edges == st.b.edges);
	fuzz_assert(&st, st.a.have_flash == st.b.have_flash);
	fuzz_assert(&st, st.a.last_flash_ns == st.b.last_flash_ns);
	fuzz_assert(&st, st.a.last_interval_ns == st.b.last_interval_ns);
	fuzz_assert(&st, st.a.stable == st.b.stable && st.a.raw == st.b.raw);
	fuzz_assert(&st, st.a.flashes - st.base <= st.rises);
	return 0;
}

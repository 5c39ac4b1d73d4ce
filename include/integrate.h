/* Energy from power: the `integrate` key's list, the trapezoid, and the
 * checkpoint's text, without I/O (the daemon's source_energy.c persists it,
 * the fuzz target parses it).
 *
 *   integrate = dc.pv_power -> pv_energy_wh, ac.output_watts -> load_energy_wh
 *
 * Each MEAS.FIELD (watts) gives NAME (watt-hours) on MEAS's samples: the
 * area under the power over the sample times, trapezoid by trapezoid, never
 * across a gap longer than max_gap (the gap is counted, not guessed over).
 *
 * The checkpoint, exactly (one line per integral, in any order):
 *   "powerd-integrate 1\n"
 *   "MEAS NAME JOULES LAST_NS LAST_W\n"      LAST_NS 0 and LAST_W 0: none
 * JOULES and LAST_W as %.17g (they read back to the same double). */
#ifndef POWERD_INTEGRATE_H
#define POWERD_INTEGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define INTEG_MAX      16 /* integrals of one source */
#define INTEG_FILE_MAX (32 + INTEG_MAX * (2 * SAMPLE_KEY_MAX + 3 * 32))

struct integ_spec {
	char meas[SAMPLE_KEY_MAX], field[SAMPLE_KEY_MAX]; /* the power */
	char name[SAMPLE_KEY_MAX];			  /* the energy field */
};

struct integ_state {
	double joules;
	int64_t last_ns; /* the last sample's time; 0: none yet */
	double last_w;
};

/* How a sample changed an integral. */
enum integ_step {
	INTEG_FIRST, /* the first sample: the start of the area */
	INTEG_ADDED, /* a trapezoid added */
	INTEG_GAP,   /* too far from the last: not integrated, starts again */
	INTEG_STALE, /* not after the last sample (a repeat, out of order): ignored */
	INTEG_BAD,   /* not a finite number: ignored */
};

/* "MEAS.FIELD -> NAME, ...": 0 and *n, or -EINVAL with why. */
int integ_parse(const char *text, struct integ_spec *out, size_t max, size_t *n, char *why,
		size_t len);

enum integ_step integ_add(struct integ_state *st, int64_t t_ns, double watts, int64_t max_gap_ns);

/* The checkpoint of n integrals (their specs and states): 0 and *len, or
 * -ENOSPC. */
int integ_format(const struct integ_spec *sp, const struct integ_state *st, size_t n, char *out,
		 size_t size, size_t *len);

/* Read a checkpoint into the states of the integrals in sp (by MEAS and
 * NAME; those it lacks stay as they are, lines for others are skipped and
 * counted in *unknown).  Returns 0 or -EBADMSG (not the format: nothing is
 * changed), with why. */
int integ_load(const char *text, size_t len, const struct integ_spec *sp, struct integ_state *st,
	       size_t n, size_t *unknown, const char **why);

#endif

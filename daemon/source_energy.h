/* A source's integrals (energy from power, integrate.h), persisted in
 * state_dir/integrate.NAME.state:
 *
 *   the producing thread    senergy_begin(), senergy_add() per sample,
 *                           senergy_commit() once its document is taken
 *                           (a refused document leaves no trace)
 *   the meter thread        senergy_save() every persist_interval and
 *                           once more at shutdown, after every source has
 *                           stopped producing: saving blocks in fsync,
 *                           which no source's thread should
 *   any reader              senergy_joules(), under its own lock
 *
 * A clean stop or reload continues exactly where it stopped; a kill -9 or a
 * power cut loses what was integrated since the last save (at most
 * persist_interval).  A damaged file is set aside (.corrupt) and logged,
 * and the integrals start again from 0. */
#ifndef POWERD_SOURCE_ENERGY_H
#define POWERD_SOURCE_ENERGY_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "integrate.h"
#include "persist.h"

struct source;

struct senergy {
	struct source *s;
	const char *state_dir;
	char file[NAME_MAX + 1];
	struct integ_spec spec[INTEG_MAX];
	size_t n;
	int64_t max_gap_ns;
	unsigned r_gap, r_stale;
	struct integ_state work[INTEG_MAX]; /* the producing thread's */
	pthread_mutex_t mu;		    /* live, dirty */
	struct integ_state live[INTEG_MAX];
	bool dirty;
	pthread_mutex_t save_mu; /* one save at a time */
	struct persist_health health;
};

/* NULL in *out when spec is empty.  Loads the checkpoint; a file that
 * cannot be read at all (not missing, not damaged) fails the start. */
int senergy_open(struct senergy **out, struct source *s, const char *state_dir, const char *spec,
		 int64_t max_gap_ns);
void senergy_free(struct senergy *e);

void senergy_begin(struct senergy *e);
/* Integral i (its spec: e->spec[i]) takes a sample of watts at t_ns; *wh
 * is its energy so far (0 at the very first sample).  Gaps and samples out
 * of order are counted on the source. */
void senergy_add(struct senergy *e, size_t i, int64_t t_ns, double watts, double *wh);
void senergy_commit(struct senergy *e);

/* Write the checkpoint if anything changed since the last (or force).
 * Returns 1 when it wrote it, 0 when there was nothing to write, or a
 * negative errno (logged once per change: persist_report()). */
int senergy_save(struct senergy *e, bool force);

/* The joules of integral i. */
double senergy_joules(struct senergy *e, size_t i);

#endif

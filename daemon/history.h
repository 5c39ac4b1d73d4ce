/* The last hour of one headline value per source, in memory, for the page
 * and GET /api/history.
 *
 * Each source has one series: a fixed ring of HISTORY_BUCKETS buckets of
 * HISTORY_STEP_S seconds each (min, max, mean and last of the values whose
 * sample time falls in it), indexed by the bucket's absolute number, so
 * out-of-order samples land where they belong and a bucket older than the
 * ring is simply overwritten.  What is plotted:
 *
 *   a meter ([pulse.NAME])          power_w of its samples, in W;
 *   a source with `plot = [MEAS.]FIELD`   that field;
 *   any other source                the first numeric field whose name has
 *                                   "power" or "watt" in it, else the first
 *                                   numeric field of its first sample.
 *
 * A meter's series also keeps its energy counter at local midnight, for
 * "today's energy", in state_dir/pulse.NAME.today so that a restart during
 * the day continues it (history_json and the status take it from here).
 *
 * Filled by source_sample() on whatever thread publishes, read by the HTTP
 * threads through a snapshot: one mutex, held for a bucket update or a
 * copy. */
#ifndef POWERD_HISTORY_H
#define POWERD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "sample.h"

#define HISTORY_STEP_S	15
#define HISTORY_BUCKETS 240 /* one hour */

struct history;

struct history_bucket {
	int64_t idx; /* unix seconds / HISTORY_STEP_S; 0: empty */
	uint32_t n;
	double min, max, last;
	double sum;
};

/* A meter's "today": counter at the day's start (local time). */
struct history_day {
	bool known;
	int32_t day;	     /* yyyymmdd of the last energy sample */
	double base_wh;	     /* the counter when the day (or powerd) started */
	int64_t since_ns;    /* local midnight, or the start when powerd was down then */
	double last_wh;	     /* the counter at the last sample */
	bool persist_needed; /* base changed: write it (the meter thread) */
};

struct history_series {
	char source[CFG_NAME_MAX];
	char kind[16];
	bool meter;
	char want_meas[SAMPLE_KEY_MAX], want_field[SAMPLE_KEY_MAX]; /* plot = ; "" none */
	char meas[SAMPLE_KEY_MAX], field[SAMPLE_KEY_MAX];	    /* plotted; "" none yet */
	int rank; /* how it was chosen: 0 none, 1 first numeric, 2 power-like, 3 asked */
	struct history_day today;
	struct history_bucket b[HISTORY_BUCKETS];
};

/* A copy for one reader. */
struct history_snap {
	int64_t now_ns;
	size_t n;
	struct history_series *s;
};

/* nseries series, all empty; state_dir: where meters' day counters live
 * (NULL: not kept).  Returns 0 or -ENOMEM. */
int history_create(struct history **out, size_t nseries, const char *state_dir);
void history_free(struct history *h);

/* Before the threads start. */
void history_source(struct history *h, size_t i, const char *name, const char *kind);
/* A meter: plots power_w; start_wh is its counter as loaded (the day's base
 * unless pulse.NAME.today has today's). */
void history_meter(struct history *h, size_t i, double start_wh, int64_t now_ns);
/* After a reload, once the sources are open (their plot = known) and
 * before the threads start: the series of old (NULL: none) whose source
 * has the same name and kind in h, and the same plot = (or none in both),
 * go on in h; so does a meter's day. */
void history_adopt(struct history *h, const struct history *old);
/* plot = [MEAS.]FIELD (may be called from any thread, NULL/"" ignored). */
void history_plot(struct history *h, size_t i, const char *spec);

/* A sample from source i (a packed record; NULL does nothing). */
void history_note(struct history *h, size_t i, const void *rec, size_t len);
/* One value at ts_ns into series i (the core of history_note). */
void history_add(struct history *h, size_t i, int64_t ts_ns, double v);

/* A copy of every series (NULL h: an empty one).  0 or -ENOMEM. */
int history_snapshot(struct history *h, int64_t now_ns, struct history_snap *out);
void history_snap_free(struct history_snap *s);

/* The points of series s within the hour before now (oldest first): fills
 * at most HISTORY_BUCKETS pointers into s->b, returns how many. */
size_t history_points(const struct history_snap *snap, const struct history_series *s,
		      const struct history_bucket **out);

/* Today's energy of meter i given its counter now; false when unknown.
 * *since_ns: from when it counts (local midnight, or later). */
bool history_today(struct history *h, size_t i, int64_t now_ns, double energy_wh, double *today_wh,
		   int64_t *since_ns);

/* HH:MM, local time ("?" without h), under h's lock (history.c). */
void history_clock(struct history *h, double unix_s, char *out, size_t n);

/* GET /api/history: every series, or only source (NULL: all).  Returns a
 * malloc'd text, or NULL (no memory; *missing: no such source). */
char *history_json(const struct history_snap *snap, const char *source, bool *missing);

#endif

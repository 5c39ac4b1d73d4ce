/* The in-memory history of one value per source (history.h): bucketing,
 * the plotted field's choice, a meter's day counter, the JSON. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "fsutil.h"
#include "history.h"
#include "log.h"
#include "units.h"

#define HISTORY_NS	     1000000000LL
#define HISTORY_STEP_NS	     (HISTORY_STEP_S * HISTORY_NS)
#define HISTORY_DAY_FILE_MAX 128

struct history {
	pthread_mutex_t lock;
	char *state_dir; /* NULL: day counters are not kept */
	size_t n;
	struct history_series *s;
};

int history_create(struct history **out, size_t nseries, const char *state_dir)
{
	struct history *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->s = calloc(nseries ? nseries : 1, sizeof(*h->s));
	h->state_dir = state_dir ? strdup(state_dir) : NULL;
	if (!h->s || (state_dir && !h->state_dir)) {
		free(h->s);
		free(h->state_dir);
		free(h);
		return -ENOMEM;
	}
	h->n = nseries;
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h->s);
	free(h->state_dir);
	free(h);
}

void history_source(struct history *h, size_t i, const char *name, const char *kind)
{
	if (!h || i >= h->n)
		return;
	snprintf(h->s[i].source, sizeof(h->s[i].source), "%s", name);
	snprintf(h->s[i].kind, sizeof(h->s[i].kind), "%s", kind);
}

/* Local calendar day as yyyymmdd, and its midnight.  Under h->lock once
 * the threads run: glibc's time zone state is shared, and TSan does not
 * see the lock glibc takes for it. */
static int32_t history_local_day(int64_t ts_ns, int64_t *midnight_ns)
{
	time_t t = (time_t)(ts_ns / HISTORY_NS);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	if (midnight_ns) {
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		*midnight_ns = (int64_t)mktime(&tm) * HISTORY_NS;
	}
	return (int32_t)((tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

/* pulse.NAME.today: "DAY BASE_WH SINCE_UNIX_S\n". */
static int history_day_load(const struct history *h, const char *name, int32_t *day, double *base,
			    int64_t *since_ns)
{
	char path[PATH_MAX], text[HISTORY_DAY_FILE_MAX];
	long long since;
	FILE *f;
	int ok;

	if (!h->state_dir)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/pulse.%s.today", h->state_dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fgets(text, sizeof(text), f) &&
	     sscanf(text, "%" SCNd32 " %lf %lld", day, base, &since) == 3 && isfinite(*base) &&
	     *base >= 0;
	fclose(f);
	if (!ok)
		return -EBADMSG;
	*since_ns = since * HISTORY_NS;
	return 0;
}

void history_meter(struct history *h, size_t i, double start_wh, int64_t now_ns)
{
	struct history_series *s;
	int64_t midnight, since;
	int32_t today, day;
	double base;

	if (!h || i >= h->n)
		return;
	s = &h->s[i];
	s->meter = true;
	snprintf(s->want_meas, sizeof(s->want_meas), "pulse");
	snprintf(s->want_field, sizeof(s->want_field), "power_w");
	snprintf(s->meas, sizeof(s->meas), "pulse");
	snprintf(s->field, sizeof(s->field), "power_w");
	s->rank = 3;
	today = history_local_day(now_ns, &midnight);
	s->today.known = true;
	s->today.day = today;
	s->today.last_wh = start_wh;
	/* The counter survives restarts; so does its value at midnight, if
	 * it was written today and the counter has not gone back since. */
	if (!history_day_load(h, s->source, &day, &base, &since) && day == today &&
	    base <= start_wh) {
		s->today.base_wh = base;
		s->today.since_ns = since;
		return;
	}
	/* Down at midnight (or never run before): today counts from now. */
	s->today.base_wh = start_wh;
	s->today.since_ns = now_ns;
	s->today.persist_needed = true;
}

void history_adopt(struct history *h, const struct history *old)
{
	size_t i, j;

	if (!h || !old)
		return;
	for (i = 0; i < h->n; i++) {
		struct history_series *s = &h->s[i];

		for (j = 0; j < old->n; j++) {
			const struct history_series *o = &old->s[j];

			if (strcmp(o->source, s->source) || strcmp(o->kind, s->kind))
				continue;
			if (s->meter && o->today.known)
				s->today = o->today;
			/* The same plot = (a meter's is power_w), or none
			 * before and now: the plot goes on; otherwise it starts
			 * again with the new field. */
			if (s->want_field[0]
				    ? strcmp(s->want_meas, o->meas) ||
					      strcmp(s->want_field, o->field) || o->rank != 3
				    : o->rank == 3)
				break;
			snprintf(s->meas, sizeof(s->meas), "%s", o->meas);
			snprintf(s->field, sizeof(s->field), "%s", o->field);
			s->rank = o->rank;
			memcpy(s->b, o->b, sizeof(s->b));
			break;
		}
	}
}

void history_plot(struct history *h, size_t i, const char *spec)
{
	struct history_series *s;
	const char *dot;

	if (!h || i >= h->n || !spec || !spec[0])
		return;
	s = &h->s[i];
	dot = strchr(spec, '.');
	pthread_mutex_lock(&h->lock);
	if (dot) {
		snprintf(s->want_meas, sizeof(s->want_meas), "%.*s", (int)(dot - spec), spec);
		snprintf(s->want_field, sizeof(s->want_field), "%s", dot + 1);
	} else {
		s->want_meas[0] = '\0';
		snprintf(s->want_field, sizeof(s->want_field), "%s", spec);
	}
	pthread_mutex_unlock(&h->lock);
}

static void history_add_locked(struct history_series *s, int64_t ts_ns, double v)
{
	int64_t idx = ts_ns / HISTORY_STEP_NS;
	struct history_bucket *b;

	if (ts_ns <= 0 || !isfinite(v))
		return;
	b = &s->b[idx % HISTORY_BUCKETS];
	if (b->idx > idx)
		return; /* older than what the ring holds */
	if (b->idx != idx) {
		b->idx = idx;
		b->n = 0;
		b->sum = 0;
		b->min = b->max = v;
	}
	if (v < b->min)
		b->min = v;
	if (v > b->max)
		b->max = v;
	b->sum += v;
	b->last = v;
	b->n++;
}

void history_add(struct history *h, size_t i, int64_t ts_ns, double v)
{
	if (!h || i >= h->n)
		return;
	pthread_mutex_lock(&h->lock);
	history_add_locked(&h->s[i], ts_ns, v);
	pthread_mutex_unlock(&h->lock);
}

static bool history_numeric(const struct sample_field *f, double *v)
{
	if (f->type == SAMPLE_FLOAT)
		*v = f->v.f;
	else if (f->type == SAMPLE_INT)
		*v = (double)f->v.i;
	else
		return false;
	return true;
}

static bool history_power_like(const char *key)
{
	return strstr(key, "power") || strstr(key, "watt");
}

/* The field of this sample that series s plots, switching to a better
 * candidate (resetting the buckets) when one shows up. */
static bool history_pick(struct history_series *s, const struct sample_view *v, double *val)
{
	struct sample_cursor c;
	struct sample_field f;
	const char *best = NULL;
	double best_v = 0;
	int best_rank = 0;

	if (s->want_field[0] && s->rank < 3) {
		/* plot = came after the automatic choice: take it. */
		snprintf(s->meas, sizeof(s->meas), "%s", s->want_meas);
		snprintf(s->field, sizeof(s->field), "%s", s->want_field);
		s->rank = 3;
		memset(s->b, 0, sizeof(s->b));
	}
	if (s->rank == 3) {
		if (s->meas[0] && strcmp(s->meas, v->measurement))
			return false;
		return sample_field_get(v, s->field, &f) && history_numeric(&f, val);
	}
	sample_fields(v, &c);
	while (sample_next_field(&c, &f)) {
		double x;
		int rank;

		if (!history_numeric(&f, &x))
			continue;
		if (s->rank && !strcmp(s->meas, v->measurement) && !strcmp(s->field, f.key)) {
			*val = x;
			return true;
		}
		rank = history_power_like(f.key) ? 2 : 1;
		if (rank > best_rank) {
			best = f.key;
			best_v = x;
			best_rank = rank;
		}
	}
	if (!best || best_rank <= s->rank)
		return false;
	snprintf(s->meas, sizeof(s->meas), "%s", v->measurement);
	snprintf(s->field, sizeof(s->field), "%s", best);
	s->rank = best_rank;
	memset(s->b, 0, sizeof(s->b));
	*val = best_v;
	return true;
}

/* A meter's energy counter: a new local day starts from the last value of
 * the day before. */
static void history_day(struct history_day *d, int64_t ts_ns, double wh)
{
	int64_t midnight;
	int32_t day = history_local_day(ts_ns, &midnight);

	if (!d->known || day < d->day)
		return;
	if (day > d->day) {
		d->base_wh = d->last_wh;
		d->since_ns = midnight;
		d->day = day;
		d->persist_needed = true;
	}
	d->last_wh = wh;
}

/* Written on the meter thread (the only one with day counters), which
 * already does its checkpoints' fsyncs; at most once a day and at start. */
static void history_day_save(struct history *h, const char *name, const struct history_day *d)
{
	char file[CFG_NAME_MAX + 16], text[HISTORY_DAY_FILE_MAX];
	int n, r;

	if (!h->state_dir)
		return;
	snprintf(file, sizeof(file), "pulse.%s.today", name);
	n = snprintf(text, sizeof(text), "%" PRId32 " %.17g %lld\n", d->day, d->base_wh,
		     (long long)(d->since_ns / HISTORY_NS));
	r = fs_replace(h->state_dir, file, text, (size_t)n, 0640);
	if (r)
		log_warn("meter %s: cannot save today's start in %s/%s: %s", name, h->state_dir,
			 file, strerror(-r));
}

void history_note(struct history *h, size_t i, const void *rec, size_t len)
{
	struct history_series *s;
	struct sample_view v;
	struct history_day save = {.known = false};
	struct sample_field f;
	double x = 0;

	if (!h || i >= h->n || !rec || sample_view(&v, rec, len) < 0)
		return;
	s = &h->s[i];
	pthread_mutex_lock(&h->lock);
	if (history_pick(s, &v, &x))
		history_add_locked(s, v.ts_ns, x);
	if (s->meter && sample_field_get(&v, "energy_wh", &f) && history_numeric(&f, &x)) {
		history_day(&s->today, v.ts_ns, x);
		if (s->today.persist_needed) {
			save = s->today;
			s->today.persist_needed = false;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (save.known)
		history_day_save(h, s->source, &save);
}

bool history_today(struct history *h, size_t i, int64_t now_ns, double energy_wh, double *today_wh,
		   int64_t *since_ns)
{
	struct history_day d;
	int64_t midnight;
	int32_t day;

	if (!h || i >= h->n)
		return false;
	pthread_mutex_lock(&h->lock);
	d = h->s[i].today;
	day = d.known ? history_local_day(now_ns, &midnight) : 0;
	pthread_mutex_unlock(&h->lock);
	if (!d.known)
		return false;
	if (day > d.day) {
		/* Nothing counted since midnight yet. */
		d.base_wh = d.last_wh;
		d.since_ns = midnight;
	}
	*today_wh = energy_wh - d.base_wh;
	if (*today_wh < 0)
		*today_wh = 0;
	*since_ns = d.since_ns;
	return true;
}

void history_clock(struct history *h, double unix_s, char *out, size_t n)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	bool ok;

	if (!h || !isfinite(unix_s)) {
		snprintf(out, n, "?");
		return;
	}
	pthread_mutex_lock(&h->lock);
	ok = localtime_r(&t, &tm) != NULL;
	pthread_mutex_unlock(&h->lock);
	if (!ok || !strftime(out, n, "%H:%M", &tm))
		snprintf(out, n, "?");
}

int history_snapshot(struct history *h, int64_t now_ns, struct history_snap *out)
{
	memset(out, 0, sizeof(*out));
	out->now_ns = now_ns;
	if (!h || !h->n)
		return 0;
	out->s = malloc(h->n * sizeof(*out->s));
	if (!out->s)
		return -ENOMEM;
	pthread_mutex_lock(&h->lock);
	memcpy(out->s, h->s, h->n * sizeof(*out->s));
	pthread_mutex_unlock(&h->lock);
	out->n = h->n;
	return 0;
}

void history_snap_free(struct history_snap *s)
{
	free(s->s);
	s->s = NULL;
	s->n = 0;
}

size_t history_points(const struct history_snap *snap, const struct history_series *s,
		      const struct history_bucket **out)
{
	int64_t now = snap->now_ns / HISTORY_STEP_NS, idx;
	size_t n = 0;

	for (idx = now - HISTORY_BUCKETS + 1; idx <= now; idx++) {
		const struct history_bucket *b =
			&s->b[((idx % HISTORY_BUCKETS) + HISTORY_BUCKETS) % HISTORY_BUCKETS];

		if (idx > 0 && b->idx == idx && b->n)
			out[n++] = b;
	}
	return n;
}

/* Six significant digits are more than a plot resolves, and keep the
 * answer small (a bucket's mean would print with 17). */
static double history_round(double v)
{
	char s[32];

	snprintf(s, sizeof(s), "%.6g", v);
	return strtod(s, NULL);
}

static bool history_json_series(cJSON *arr, const struct history_snap *snap,
				const struct history_series *s)
{
	const struct history_bucket *pts[HISTORY_BUCKETS];
	size_t n = history_points(snap, s, pts), i;
	cJSON *o = cJSON_CreateObject(), *p;
	bool ok;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	ok = cJSON_AddStringToObject(o, "source", s->source) &&
	     cJSON_AddStringToObject(o, "kind", s->kind) &&
	     (s->meas[0] ? cJSON_AddStringToObject(o, "measurement", s->meas) != NULL
			 : cJSON_AddNullToObject(o, "measurement") != NULL) &&
	     (s->field[0] ? cJSON_AddStringToObject(o, "field", s->field) != NULL
			  : cJSON_AddNullToObject(o, "field") != NULL) &&
	     cJSON_AddStringToObject(o, "unit", unit_of_field(s->field));
	p = ok ? cJSON_AddArrayToObject(o, "points") : NULL;
	ok = p != NULL;
	for (i = 0; ok && i < n; i++) {
		double v[5] = {(double)(pts[i]->idx * HISTORY_STEP_S), history_round(pts[i]->min),
			       history_round(pts[i]->max), history_round(pts[i]->sum / pts[i]->n),
			       history_round(pts[i]->last)};
		cJSON *a = cJSON_CreateDoubleArray(v, 5);

		ok = a && cJSON_AddItemToArray(p, a);
		if (!ok)
			cJSON_Delete(a);
	}
	return ok;
}

char *history_json(const struct history_snap *snap, const char *source, bool *missing)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text = NULL;
	size_t i, found = 0;
	bool ok;

	*missing = false;
	if (!root)
		return NULL;
	ok = cJSON_AddNumberToObject(root, "time", (double)snap->now_ns / 1e9) &&
	     cJSON_AddNumberToObject(root, "step_s", HISTORY_STEP_S) &&
	     cJSON_AddNumberToObject(root, "window_s", HISTORY_STEP_S * HISTORY_BUCKETS);
	arr = ok ? cJSON_AddArrayToObject(root, "series") : NULL;
	ok = arr != NULL;
	for (i = 0; ok && i < snap->n; i++) {
		if (source && strcmp(source, snap->s[i].source))
			continue;
		found++;
		ok = history_json_series(arr, snap, &snap->s[i]);
	}
	if (ok && source && !found)
		*missing = true;
	else if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

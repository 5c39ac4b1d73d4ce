/* Series are kept in an open-addressing table keyed by "measurement,tags";
 * it grows by doubling, so memory follows the number of series, not time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"

struct change_entry {
	char *series;	    /* NULL: empty slot */
	struct sample last; /* the fields last sent */
	int64_t sent_ts;    /* timestamp of the last sample sent */
};

struct sink_change {
	struct change_entry *tab;
	size_t cap, n;
	int64_t heartbeat_ns, freshness_ns;
};

int change_new(struct sink_change **out, int64_t heartbeat_ns, int64_t freshness_ns)
{
	struct sink_change *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cap = 64;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	c->heartbeat_ns = heartbeat_ns;
	c->freshness_ns = freshness_ns;
	*out = c;
	return 0;
}

void change_free(struct sink_change *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->cap; i++)
		free(c->tab[i].series);
	free(c->tab);
	free(c);
}

static uint64_t change_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct change_entry *change_slot(struct change_entry *tab, size_t cap, const char *series)
{
	size_t i = change_hash(series) & (cap - 1);

	while (tab[i].series && strcmp(tab[i].series, series))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int change_grow(struct sink_change *c)
{
	size_t i, cap = c->cap * 2;
	struct change_entry *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (i = 0; i < c->cap; i++)
		if (c->tab[i].series)
			*change_slot(tab, cap, c->tab[i].series) = c->tab[i];
	free(c->tab);
	c->tab = tab;
	c->cap = cap;
	return 0;
}

static bool change_field_equal(const struct sample_field *a, const struct sample_field *b)
{
	if (strcmp(a->key, b->key) || a->type != b->type)
		return false;
	switch (a->type) {
	case SAMPLE_FLOAT:
		return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0;
	case SAMPLE_INT:
		return a->v.i == b->v.i;
	case SAMPLE_BOOL:
		return a->v.b == b->v.b;
	case SAMPLE_STRING:
		return strcmp(a->s, b->s) == 0;
	}
	return false;
}

static bool change_same_fields(const struct sample *a, const struct sample *b)
{
	int i;

	if (a->nfields != b->nfields)
		return false;
	for (i = 0; i < a->nfields; i++)
		if (!change_field_equal(&a->fields[i], &b->fields[i]))
			return false;
	return true;
}

static bool change_all_zero(const struct sample *s)
{
	int i;

	for (i = 0; i < s->nfields; i++) {
		const struct sample_field *f = &s->fields[i];

		if ((f->type == SAMPLE_FLOAT && f->v.f != 0) || (f->type == SAMPLE_INT && f->v.i) ||
		    f->type == SAMPLE_BOOL || f->type == SAMPLE_STRING)
			return false;
	}
	return true;
}

bool change_filter(struct sink_change *c, const struct sample *s, int64_t now_unix_ns)
{
	char series[512];
	struct change_entry *e;

	sample_series(s, series, sizeof(series));
	e = change_slot(c->tab, c->cap, series);
	if (!e->series) {
		/* Keep the table at most half full; on allocation failure the
		 * sample is simply sent (change detection is an optimisation). */
		if ((c->n + 1) * 2 > c->cap && change_grow(c) == 0)
			e = change_slot(c->tab, c->cap, series);
		e->series = strdup(series);
		if (!e->series)
			return true;
		c->n++;
	} else if (change_same_fields(&e->last, s)) {
		if (change_all_zero(s))
			return false; /* a zero is sent once */
		if (s->ts_ns - e->sent_ts < c->heartbeat_ns)
			return false;
		if (now_unix_ns - s->ts_ns > c->freshness_ns)
			return false; /* too old to vouch for */
	}
	e->last = *s;
	e->sent_ts = s->ts_ns;
	return true;
}

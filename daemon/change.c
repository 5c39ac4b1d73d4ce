/* Series are kept in an open-addressing table keyed by "measurement,tags";
 * it grows by doubling, so memory follows the number of series, not time.
 * What a series last sent is kept as the packed bytes of its fields: the
 * packing is canonical (sample.c), so equal fields are equal bytes, and a
 * series costs what its fields take. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "hash.h"

struct change_entry {
	char *series;	     /* NULL: empty slot */
	unsigned char *last; /* the fields last sent, packed */
	size_t last_len;
	unsigned last_n;
	int64_t sent_ts; /* timestamp of the last sample sent */
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
	for (i = 0; i < c->cap; i++) {
		free(c->tab[i].series);
		free(c->tab[i].last);
	}
	free(c->tab);
	free(c);
}

static struct change_entry *change_slot(struct change_entry *tab, size_t cap, const char *series)
{
	size_t i = hash_str(series) & (cap - 1);

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

static size_t change_fields_len(const struct sample_view *v)
{
	return (size_t)(v->data + v->len - v->fields);
}

static bool change_same_fields(const struct change_entry *e, const struct sample_view *v)
{
	return e->last && e->last_n == v->nfields && e->last_len == change_fields_len(v) &&
	       !memcmp(e->last, v->fields, e->last_len);
}

static bool change_all_zero(const struct sample_view *v)
{
	struct sample_cursor c;
	struct sample_field f;

	sample_fields(v, &c);
	while (sample_next_field(&c, &f))
		if ((f.type == SAMPLE_FLOAT && f.v.f != 0) || (f.type == SAMPLE_INT && f.v.i) ||
		    f.type == SAMPLE_BOOL || f.type == SAMPLE_STRING)
			return false;
	return true;
}

/* Remembers what was sent; when memory is short the series simply counts
 * as changed next time. */
static void change_remember(struct change_entry *e, const struct sample_view *v)
{
	size_t n = change_fields_len(v);
	unsigned char *p = n <= e->last_len && e->last ? e->last : realloc(e->last, n ? n : 1);

	if (!p) {
		free(e->last);
		e->last = NULL;
		e->last_len = 0;
		return;
	}
	memcpy(p, v->fields, n);
	e->last = p;
	e->last_len = n;
	e->last_n = v->nfields;
}

bool change_filter(struct sink_change *c, const struct sample_view *s, int64_t now_unix_ns)
{
	char series[2 * SAMPLE_KEY_MAX +
		    SAMPLE_MAX_TAGS * (2 * SAMPLE_KEY_MAX + 2 * SAMPLE_STR_MAX)];
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
	} else if (change_same_fields(e, s)) {
		if (change_all_zero(s))
			return false; /* a zero is sent once */
		if (s->ts_ns - e->sent_ts < c->heartbeat_ns)
			return false;
		if (now_unix_ns - s->ts_ns > c->freshness_ns)
			return false; /* too old to vouch for */
	}
	change_remember(e, s);
	e->sent_ts = s->ts_ns;
	return true;
}

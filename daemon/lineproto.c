/* InfluxDB line protocol encoder.
 *
 * Decisions where the reference leaves a gap (and why):
 *
 * - Newlines.  A line feed ends the line in every parser, and no element
 *   (not even a string field for line-oriented consumers of the file sink)
 *   can carry one: '\n' and '\r' are written as a space.  The point still
 *   lands, one sample per line, with a readable value.
 * - Backslashes in the measurement, tag keys, tag values and field keys.
 *   The reference says two contiguous backslashes read as one.  A backslash
 *   is doubled only where it would otherwise escape what follows (a comma,
 *   equals sign, space or backslash) or end the element; elsewhere it is
 *   written as is.  InfluxDB 2.x and VictoriaMetrics read every value back
 *   exactly.  InfluxDB 1.x never unescapes "\\": it reads such values with
 *   the backslash doubled, and refuses (HTTP 400, "invalid tag format") a
 *   tag value that ends with a backslash: nothing written can express one.
 *   Values with a backslash followed by anything else are exact on 1.x too.
 * - Tags with an empty key or value are left out (line protocol cannot
 *   write them; InfluxDB treats an empty tag as absent), as are fields with
 *   an empty key, NaN or infinite floats, and a repeated tag or field key
 *   (the first one wins).
 * - Tags are sorted by key (bytewise), as InfluxDB recommends, so the same
 *   sample always gives the same line.
 * - Floats use the shortest of %.15g, %.16g, %.17g that reads back as the
 *   same double (the daemon never calls setlocale, so the radix is '.').
 *
 * Each line is built in a stack buffer sized for the largest sample and
 * appended once, so a failure never leaves half a line behind. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"

#define LP_NUM_MAX  32 /* "-1.2345678901234567e-308", "-9223372036854775808i" */
#define LP_NAME_MAX (2 * (SAMPLE_KEY_MAX - 1))
#define LP_STR_MAX  (2 * (SAMPLE_STR_MAX - 1))
#define LP_LINE_MAX                                                                                \
	(LP_NAME_MAX + SAMPLE_MAX_TAGS * (2 + LP_NAME_MAX + LP_STR_MAX) + 1 +                      \
	 SAMPLE_MAX_FIELDS * (2 + LP_NAME_MAX + 2 + LP_STR_MAX + LP_NUM_MAX) + 1 + LP_NUM_MAX + 2)

/* What must be backslash-escaped in the measurement, and in tag keys, tag
 * values and field keys. */
static const char lp_measurement_specials[] = ", ";
static const char lp_key_specials[] = ",= ";

static char lp_nonl(char c)
{
	return c == '\n' || c == '\r' ? ' ' : c;
}

/* Does a backslash followed by c (0 = the element ends) need doubling? */
static int lp_backslash_needs_escape(char c)
{
	return c == '\0' || c == ',' || c == '=' || c == ' ' || c == '\\';
}

static char *lp_put_name(char *p, const char *src, size_t max, const char *specials)
{
	size_t i, n = strnlen(src, max);

	for (i = 0; i < n; i++) {
		char c = lp_nonl(src[i]);

		if (c == '\\') {
			if (lp_backslash_needs_escape(i + 1 < n ? lp_nonl(src[i + 1]) : '\0'))
				*p++ = '\\';
		} else if (strchr(specials, c)) {
			*p++ = '\\';
		}
		*p++ = c;
	}
	return p;
}

static char *lp_put_string(char *p, const char *src, size_t max)
{
	size_t i, n = strnlen(src, max);

	*p++ = '"';
	for (i = 0; i < n; i++) {
		char c = lp_nonl(src[i]);

		if (c == '"' || c == '\\')
			*p++ = '\\';
		*p++ = c;
	}
	*p++ = '"';
	return p;
}

static char *lp_put_float(char *p, double v)
{
	int prec, n = 0;

	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(p, LP_NUM_MAX, "%.*g", prec, v);
		if (strtod(p, NULL) == v)
			break;
	}
	return p + n;
}

/* Compares keys as they are written (newlines as spaces), so the order and
 * the repeated keys are those the server sees. */
static int lp_keycmp(const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < SAMPLE_KEY_MAX; i++) {
		unsigned char x = (unsigned char)lp_nonl(a[i]), y = (unsigned char)lp_nonl(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
		if (!x)
			break;
	}
	return 0;
}

/* Sorts tag indices by key; insertion sort keeps the given order of equal
 * keys, so the first of a repeated key is the one written. */
static unsigned lp_sorted_tags(const struct sample *s, unsigned idx[SAMPLE_MAX_TAGS])
{
	unsigned i, j, n = 0;

	for (i = 0; i < s->ntags; i++) {
		const struct sample_tag *t = &s->tags[i];

		if (!t->key[0] || !t->value[0])
			continue;
		for (j = n; j > 0 && lp_keycmp(s->tags[idx[j - 1]].key, t->key) > 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
		n++;
	}
	return n;
}

static int lp_field_seen(const struct sample *s, unsigned i)
{
	unsigned j;

	for (j = 0; j < i; j++)
		if (!lp_keycmp(s->fields[j].key, s->fields[i].key))
			return 1;
	return 0;
}

int lp_encode(const struct sample *s, struct buf *out)
{
	char line[LP_LINE_MAX], *p = line;
	unsigned idx[SAMPLE_MAX_TAGS], ntags, nwritten = 0, i;
	int r;

	if (out->err)
		return out->err;
	if (!s->measurement[0] || s->measurement[0] == '#' || s->ntags > SAMPLE_MAX_TAGS ||
	    s->nfields > SAMPLE_MAX_FIELDS)
		return -EINVAL;
	p = lp_put_name(p, s->measurement, sizeof(s->measurement), lp_measurement_specials);
	ntags = lp_sorted_tags(s, idx);
	for (i = 0; i < ntags; i++) {
		const struct sample_tag *t = &s->tags[idx[i]];

		if (i > 0 && !lp_keycmp(s->tags[idx[i - 1]].key, t->key))
			continue;
		*p++ = ',';
		p = lp_put_name(p, t->key, SAMPLE_KEY_MAX, lp_key_specials);
		*p++ = '=';
		p = lp_put_name(p, t->value, SAMPLE_STR_MAX, lp_key_specials);
	}
	for (i = 0; i < s->nfields; i++) {
		const struct sample_field *f = &s->fields[i];

		if (!f->key[0] || lp_field_seen(s, i))
			continue;
		if (f->type == SAMPLE_FLOAT && !isfinite(f->v.f))
			continue;
		if (f->type != SAMPLE_FLOAT && f->type != SAMPLE_INT && f->type != SAMPLE_BOOL &&
		    f->type != SAMPLE_STRING)
			continue;
		*p++ = nwritten++ ? ',' : ' ';
		p = lp_put_name(p, f->key, SAMPLE_KEY_MAX, lp_key_specials);
		*p++ = '=';
		switch (f->type) {
		case SAMPLE_FLOAT:
			p = lp_put_float(p, f->v.f);
			break;
		case SAMPLE_INT:
			p += snprintf(p, LP_NUM_MAX, "%" PRId64 "i", f->v.i);
			break;
		case SAMPLE_BOOL:
			p = stpcpy(p, f->v.b ? "true" : "false");
			break;
		case SAMPLE_STRING:
			p = lp_put_string(p, f->s, SAMPLE_STR_MAX);
			break;
		}
	}
	if (!nwritten)
		return -EINVAL;
	p += snprintf(p, LP_NUM_MAX, " %" PRId64 "\n", s->ts_ns);
	r = buf_append(out, line, (size_t)(p - line));
	return r ? -ENOMEM : 0;
}

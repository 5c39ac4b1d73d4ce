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
 * - Floats use fmt_double(): the shortest of %.15g, %.16g, %.17g that reads
 *   back as the same double (the daemon never calls setlocale, so the radix
 *   is '.').
 *
 * Each line is written in place into room reserved for the longest this
 * sample can give, and counted only once whole, so a failure never leaves
 * half a line behind. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "lineproto.h"

#define LP_NUM_MAX 32 /* "-1.2345678901234567e-308", "-9223372036854775808i" */

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

static char *lp_put_name(char *p, const char *src, const char *specials)
{
	size_t i, n = strlen(src);

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

static char *lp_put_string(char *p, const char *src)
{
	*p++ = '"';
	for (; *src; src++) {
		char c = lp_nonl(*src);

		if (c == '"' || c == '\\')
			*p++ = '\\';
		*p++ = c;
	}
	*p++ = '"';
	return p;
}

static char *lp_put_float(char *p, double v)
{
	return p + fmt_double(p, LP_NUM_MAX, v);
}

/* Compares keys as they are written (newlines as spaces), so the order and
 * the repeated keys are those the server sees. */
static int lp_keycmp(const char *a, const char *b)
{
	size_t i;

	for (i = 0;; i++) {
		unsigned char x = (unsigned char)lp_nonl(a[i]), y = (unsigned char)lp_nonl(b[i]);

		if (x != y)
			return x < y ? -1 : 1;
		if (!x)
			return 0;
	}
}

/* Sorts tag indices by key; insertion sort keeps the given order of equal
 * keys, so the first of a repeated key is the one written. */
static unsigned lp_sorted_tags(const struct sample_view *v, unsigned idx[SAMPLE_MAX_TAGS])
{
	unsigned i, j, n = 0;

	for (i = 0; i < v->ntags; i++) {
		const struct sample_tag *t = &v->tags[i];

		if (!t->value[0])
			continue;
		for (j = n; j > 0 && lp_keycmp(v->tags[idx[j - 1]].key, t->key) > 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
		n++;
	}
	return n;
}

/* Keys are unique in a sample, but two may read the same once newlines are
 * spaces: is `key` written like that of a field before the k-th? */
static bool lp_field_seen(const struct sample_view *v, unsigned k, const char *key)
{
	struct sample_cursor c;
	struct sample_field f;
	unsigned j;

	sample_fields(v, &c);
	for (j = 0; j < k && sample_next_field(&c, &f); j++)
		if (!lp_keycmp(f.key, key))
			return true;
	return false;
}

int lp_encode(const struct sample_view *v, struct buf *out)
{
	unsigned idx[SAMPLE_MAX_TAGS], ntags, nwritten = 0, i;
	struct sample_cursor c;
	struct sample_field f;
	bool newlines = false;
	char *line, *p;
	int r;

	if (out->err)
		return out->err;
	/* Every byte of the record at most doubled by escaping, a number's
	 * text instead of its 8 bytes, the separators and the timestamp. */
	r = buf_reserve(out, 2 * v->len + (size_t)v->nfields * (LP_NUM_MAX + 2) + 2 * LP_NUM_MAX);
	if (r)
		return -ENOMEM;
	line = p = out->data + out->len;
	p = lp_put_name(p, v->measurement, lp_measurement_specials);
	ntags = lp_sorted_tags(v, idx);
	for (i = 0; i < ntags; i++) {
		const struct sample_tag *t = &v->tags[idx[i]];

		if (i > 0 && !lp_keycmp(v->tags[idx[i - 1]].key, t->key))
			continue;
		*p++ = ',';
		p = lp_put_name(p, t->key, lp_key_specials);
		*p++ = '=';
		p = lp_put_name(p, t->value, lp_key_specials);
	}
	sample_fields(v, &c);
	while (sample_next_field(&c, &f))
		newlines |= strpbrk(f.key, "\r\n") != NULL;
	sample_fields(v, &c);
	for (i = 0; sample_next_field(&c, &f); i++) {
		if (newlines && lp_field_seen(v, i, f.key))
			continue;
		if (f.type == SAMPLE_FLOAT && !isfinite(f.v.f))
			continue;
		*p++ = nwritten++ ? ',' : ' ';
		p = lp_put_name(p, f.key, lp_key_specials);
		*p++ = '=';
		switch (f.type) {
		case SAMPLE_FLOAT:
			p = lp_put_float(p, f.v.f);
			break;
		case SAMPLE_INT:
			p += snprintf(p, LP_NUM_MAX, "%" PRId64 "i", f.v.i);
			break;
		case SAMPLE_BOOL:
			p = stpcpy(p, f.v.b ? "true" : "false");
			break;
		case SAMPLE_STRING:
			p = lp_put_string(p, f.v.s);
			break;
		}
	}
	if (!nwritten) {
		out->data[out->len] = '\0';
		return -EINVAL;
	}
	p += snprintf(p, LP_NUM_MAX, " %" PRId64 "\n", v->ts_ns);
	out->len += (size_t)(p - line);
	return 0;
}

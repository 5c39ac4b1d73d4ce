/* Energy from power (integrate.h): the list's syntax, the trapezoid and the
 * checkpoint's text.  The checkpoint is parsed strictly: what does not read
 * back as written is damage, and the daemon sets it aside. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integrate.h"

#define INTEG_MAGIC "powerd-integrate 1\n"

static bool integ_name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* A name of [A-Za-z_][A-Za-z0-9_]* ending at a delimiter. */
static const char *integ_name(const char *s, char *out, const char **why)
{
	size_t n = 0;

	if (!integ_name_char(*s, true)) {
		*why = "expected a name ([A-Za-z_][A-Za-z0-9_]*)";
		return NULL;
	}
	while (integ_name_char(s[n], false))
		n++;
	if (n >= SAMPLE_KEY_MAX) {
		*why = "a name is longer than 31 characters";
		return NULL;
	}
	memcpy(out, s, n);
	out[n] = 0;
	return s + n;
}

static const char *integ_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int integ_parse(const char *text, struct integ_spec *out, size_t max, size_t *n, char *why,
		size_t len)
{
	const char *s = text, *q, *err = NULL;
	size_t k = 0, i;

	*n = 0;
	for (;;) {
		struct integ_spec sp;

		s = integ_blank(s);
		if (k == max) {
			snprintf(why, len, "at most %zu integrals", max);
			return -EINVAL;
		}
		if (!(q = integ_name(s, sp.meas, &err)))
			break;
		s = q;
		if (*s != '.') {
			err = "expected MEASUREMENT.FIELD -> NAME";
			break;
		}
		if (!(q = integ_name(s + 1, sp.field, &err))) {
			s++;
			break;
		}
		s = integ_blank(q);
		if (strncmp(s, "->", 2)) {
			err = "expected '->' and the energy's field name";
			break;
		}
		s = integ_blank(s + 2);
		if (!(q = integ_name(s, sp.name, &err)))
			break;
		s = q;
		s = integ_blank(s);
		if (*s && *s != ',') {
			err = "expected ',' or the end";
			break;
		}
		for (i = 0; i < k; i++)
			if (!strcmp(out[i].meas, sp.meas) && !strcmp(out[i].name, sp.name)) {
				snprintf(why, len, "%s.%s is integrated twice", sp.meas, sp.name);
				return -EINVAL;
			}
		out[k++] = sp;
		if (!*s)
			break;
		s++;
	}
	if (err) {
		snprintf(why, len, "integral %zu, at character %d: %s", k + 1, (int)(s - text) + 1,
			 err);
		return -EINVAL;
	}
	*n = k;
	return 0;
}

enum integ_step integ_add(struct integ_state *st, int64_t t_ns, double watts, int64_t max_gap_ns)
{
	int64_t dt;

	if (!isfinite(watts))
		return INTEG_BAD;
	if (!st->last_ns) {
		st->last_ns = t_ns;
		st->last_w = watts;
		return INTEG_FIRST;
	}
	dt = t_ns - st->last_ns;
	if (dt <= 0)
		return INTEG_STALE;
	if (dt > max_gap_ns) {
		st->last_ns = t_ns;
		st->last_w = watts;
		return INTEG_GAP;
	}
	st->joules += (watts + st->last_w) / 2 * ((double)dt / 1e9);
	st->last_ns = t_ns;
	st->last_w = watts;
	return INTEG_ADDED;
}

int integ_format(const struct integ_spec *sp, const struct integ_state *st, size_t n, char *out,
		 size_t size, size_t *len)
{
	size_t at = 0, i;
	int w;

	w = snprintf(out, size, INTEG_MAGIC);
	if (w < 0 || (size_t)w >= size)
		return -ENOSPC;
	at = (size_t)w;
	for (i = 0; i < n; i++) {
		w = snprintf(out + at, size - at, "%s %s %.17g %" PRId64 " %.17g\n", sp[i].meas,
			     sp[i].name, st[i].joules, st[i].last_ns, st[i].last_w);
		if (w < 0 || (size_t)w >= size - at)
			return -ENOSPC;
		at += (size_t)w;
	}
	*len = at;
	return 0;
}

/* A number as integ_format() writes it, up to the next ' ' or '\n'. */
static const char *integ_num(const char *s, const char *end, double *v)
{
	char buf[40], *e;
	size_t n = 0;

	while (s + n < end && s[n] != ' ' && s[n] != '\n')
		n++;
	if (!n || n >= sizeof(buf))
		return NULL;
	memcpy(buf, s, n);
	buf[n] = 0;
	*v = strtod(buf, &e);
	if (*e || !isfinite(*v))
		return NULL;
	return s + n;
}

static const char *integ_int(const char *s, const char *end, int64_t *v)
{
	char buf[24], *e;
	size_t n = 0;
	long long x;

	while (s + n < end && s[n] != ' ' && s[n] != '\n')
		n++;
	if (!n || n >= sizeof(buf) || (n > 1 && s[0] == '0') || s[0] == '-' || s[0] == '+')
		return NULL;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	x = strtoll(buf, &e, 10);
	if (*e || errno)
		return NULL;
	*v = x;
	return s + n;
}

int integ_load(const char *text, size_t len, const struct integ_spec *sp, struct integ_state *st,
	       size_t n, size_t *unknown, const char **why)
{
	struct integ_state got[INTEG_MAX];
	bool seen[INTEG_MAX] = {false};
	const char *s = text, *end = text + len;
	size_t m = strlen(INTEG_MAGIC), i;

	*unknown = 0;
	if (n > INTEG_MAX)
		n = INTEG_MAX;
	if (len < m || memcmp(text, INTEG_MAGIC, m)) {
		*why = "not a powerd-integrate 1 file";
		return -EBADMSG;
	}
	for (s += m; s < end;) {
		char meas[SAMPLE_KEY_MAX], name[SAMPLE_KEY_MAX];
		const char *line_end = memchr(s, '\n', (size_t)(end - s)), *e = NULL;
		struct integ_state x;

		if (!line_end) {
			*why = "the last line is cut short";
			return -EBADMSG;
		}
		/* The names, as integ_parse() reads them, each followed by a ' '. */
		if (!(s = integ_name(s, meas, &e)) || *s != ' ' ||
		    !(s = integ_name(s + 1, name, &e)) || *s != ' ' ||
		    !(s = integ_num(s + 1, line_end, &x.joules)) || *s != ' ' ||
		    !(s = integ_int(s + 1, line_end, &x.last_ns)) || *s != ' ' ||
		    !(s = integ_num(s + 1, line_end, &x.last_w)) || s != line_end) {
			*why = "a line is not MEAS NAME JOULES LAST_NS LAST_W";
			return -EBADMSG;
		}
		s = line_end + 1;
		for (i = 0; i < n; i++)
			if (!strcmp(sp[i].meas, meas) && !strcmp(sp[i].name, name))
				break;
		if (i == n) {
			(*unknown)++;
			continue;
		}
		if (seen[i]) {
			*why = "an integral appears twice";
			return -EBADMSG;
		}
		seen[i] = true;
		got[i] = x;
	}
	for (i = 0; i < n; i++)
		if (seen[i])
			st[i] = got[i];
	return 0;
}

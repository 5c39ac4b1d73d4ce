#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define TRACE_NS_PER_S 1000000000LL

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Seconds as "DIGITS[.DIGITS]" into exact nanoseconds; digits beyond the
 * ninth decimal are truncated (the kernel's resolution is 1 ns). */
static int parse_seconds(const char **pp, const char *end, int64_t *ns)
{
	const char *p = *pp;
	int64_t sec = 0, frac = 0;
	int ndig = 0, nfrac = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (sec > (INT64_MAX / TRACE_NS_PER_S - 9) / 10)
			return -ERANGE;
		sec = sec * 10 + (*p++ - '0');
		ndig++;
	}
	if (p < end && *p == '.') {
		p++;
		while (p < end && *p >= '0' && *p <= '9') {
			if (nfrac < 9) {
				frac = frac * 10 + (*p - '0');
				nfrac++;
			}
			p++;
			ndig++;
		}
	}
	if (ndig == 0)
		return -EINVAL;
	while (nfrac++ < 9)
		frac *= 10;
	*ns = sec * TRACE_NS_PER_S + frac;
	*pp = p;
	return 0;
}

int trace_parse_line(const char *s, size_t n, struct trace_edge *e, const char **why)
{
	const char *p = s, *end = s + n;
	int r;

	while (p < end && is_space(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	r = parse_seconds(&p, end, &e->ts_ns);
	if (r) {
		*why = r == -ERANGE ? "time out of range" : "expected '<seconds> <level>'";
		return -EINVAL;
	}
	if (p == end || (*p != ' ' && *p != '\t')) {
		*why = "expected whitespace and a level after the time";
		return -EINVAL;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || (*p != '0' && *p != '1')) {
		*why = "level must be 0 or 1";
		return -EINVAL;
	}
	e->level = *p++ - '0';
	while (p < end && is_space(*p))
		p++;
	if (p != end) {
		*why = "trailing characters after the level";
		return -EINVAL;
	}
	return 1;
}

int trace_check_order(int64_t *last_ts, int *have_last, int64_t ts_ns)
{
	if (*have_last && ts_ns < *last_ts)
		return -ERANGE;
	*last_ts = ts_ns;
	*have_last = 1;
	return 0;
}

void trace_reader_init(struct trace_reader *r, FILE *f, const char *name, FILE *errs)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->name = name;
	r->errs = errs;
}

int trace_reader_next(struct trace_reader *r, struct trace_edge *e)
{
	const char *why;
	ssize_t n;
	int k;

	for (;;) {
		n = getline(&r->buf, &r->cap, r->f);
		if (n < 0)
			return ferror(r->f) ? -EIO : 0;
		r->lineno++;
		k = trace_parse_line(r->buf, (size_t)n, e, &why);
		if (k == 0)
			continue;
		if (k < 0) {
			r->bad++;
			if (r->errs)
				fprintf(r->errs, "%s:%lu: %s\n", r->name, r->lineno, why);
			continue;
		}
		if (trace_check_order(&r->last_ts, &r->have_last, e->ts_ns)) {
			r->bad++;
			if (r->errs)
				fprintf(r->errs, "%s:%lu: time goes backwards; edge skipped\n",
					r->name, r->lineno);
			continue;
		}
		return 1;
	}
}

void trace_reader_free(struct trace_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* The trace format (include/trace.h): one parser and one line splitter for
 * every reader, so the daemon and pulselog cannot disagree about a file. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

#define TRACE_NS_PER_S 1000000000LL
/* TRACE_TIME_MAX_NS in seconds, for messages; test_trace pins the two together. */
#define TRACE_TIME_MAX_TEXT "4611686018.427387903"
#define TRACE_STR_(x)	    #x
#define TRACE_STR(x)	    TRACE_STR_(x)

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Seconds as "DIGITS[.DIGITS]" into exact nanoseconds; digits beyond the
 * ninth decimal are truncated (the kernel's resolution is 1 ns).  Anything
 * above TRACE_TIME_MAX_NS is out of range, checked before it could overflow. */
static int parse_seconds(const char **pp, const char *end, int64_t *ns)
{
	const int64_t max_s = TRACE_TIME_MAX_NS / TRACE_NS_PER_S;
	const char *p = *pp;
	int64_t sec = 0, frac = 0;
	int ndig = 0, nfrac = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (sec > max_s)
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
	if (sec > max_s || sec * TRACE_NS_PER_S > TRACE_TIME_MAX_NS - frac)
		return -ERANGE;
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
		*why = r == -ERANGE ? "time out of range (at most " TRACE_TIME_MAX_TEXT " s)"
				    : "expected '<seconds> <level>'";
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

/* Times must not go back; an older edge is a bad line, not a reordering. */
static int trace_check_order(struct trace_split *s, int64_t ts_ns)
{
	if (s->have_last && ts_ns < s->last_ts)
		return -ERANGE;
	s->last_ts = ts_ns;
	s->have_last = true;
	return 0;
}

void trace_split_init(struct trace_split *s)
{
	s->lineno = 0;
	s->bad = 0;
	s->last_ts = 0;
	s->have_last = false;
	s->skipping = false;
	s->len = 0;
}

/* One whole line (its LF, if any, removed): its result. */
static int trace_split_line(struct trace_split *s, const char *line, size_t len, bool too_long,
			    struct trace_edge *e, const char **why)
{
	int k;

	s->lineno++;
	/* A CR before the LF is part of the line ending, not of the limit. */
	if (len && line[len - 1] == '\r')
		len--;
	if (too_long || len > TRACE_LINE_MAX) {
		s->bad++;
		*why = "longer than " TRACE_STR(TRACE_LINE_MAX) " bytes";
		return -EINVAL;
	}
	k = trace_parse_line(line, len, e, why);
	if (k < 0) {
		s->bad++;
		return -EINVAL;
	}
	if (k == 1 && trace_check_order(s, e->ts_ns)) {
		s->bad++;
		*why = "time goes backwards; edge skipped";
		return -EINVAL;
	}
	return k;
}

int trace_split_next(struct trace_split *s, const char **p, size_t *n, bool eof,
		     struct trace_edge *e, const char **why)
{
	const char *nl;
	size_t take;
	bool too_long;
	int k;

	while (*n) {
		nl = memchr(*p, '\n', *n);
		take = nl ? (size_t)(nl - *p) : *n;
		if (nl && s->len == 0 && !s->skipping) {
			/* The usual case: the whole line is in the chunk. */
			k = trace_split_line(s, *p, take, false, e, why);
			*p += take + 1;
			*n -= take + 1;
			if (k)
				return k;
			continue;
		}
		if (!s->skipping && take > sizeof(s->buf) - s->len) {
			s->skipping = true;
			s->len = 0;
		}
		if (!s->skipping) {
			memcpy(s->buf + s->len, *p, take);
			s->len += take;
		}
		*p += take;
		*n -= take;
		if (!nl)
			break;
		(*p)++;
		(*n)--;
		too_long = s->skipping;
		take = s->len;
		s->skipping = false;
		s->len = 0;
		k = trace_split_line(s, s->buf, take, too_long, e, why);
		if (k)
			return k;
	}
	if (eof && (s->len || s->skipping)) {
		too_long = s->skipping;
		take = s->len;
		s->skipping = false;
		s->len = 0;
		return trace_split_line(s, s->buf, take, too_long, e, why);
	}
	return 0;
}

void trace_reader_init(struct trace_reader *r, int fd, const char *name, FILE *errs)
{
	r->fd = fd;
	r->name = name;
	r->errs = errs;
	r->p = r->chunk;
	r->n = 0;
	r->eof = false;
	trace_split_init(&r->split);
}

/* The next chunk into r->chunk; a non-blocking descriptor (an inherited
 * stdin may be one) is waited for rather than taken for an error. */
static int trace_reader_fill(struct trace_reader *r)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
	ssize_t got;

	for (;;) {
		got = read(r->fd, r->chunk, sizeof(r->chunk));
		if (got >= 0)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -errno;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
	r->p = r->chunk;
	r->n = (size_t)got;
	r->eof = got == 0;
	return 0;
}

int trace_reader_next(struct trace_reader *r, struct trace_edge *e)
{
	const char *why;
	int k;

	for (;;) {
		k = trace_split_next(&r->split, &r->p, &r->n, r->eof, e, &why);
		if (k > 0)
			return 1;
		if (k < 0) {
			if (r->errs)
				fprintf(r->errs, "%s:%lu: %s\n", r->name, r->split.lineno, why);
			continue;
		}
		if (r->eof)
			return 0;
		k = trace_reader_fill(r);
		if (k)
			return k;
	}
}

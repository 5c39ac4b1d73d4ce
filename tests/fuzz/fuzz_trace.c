/* libFuzzer target for the pulse trace format (include/trace.h).
 *
 * The input is taken as a trace file.  Every line goes through
 * trace_parse_line(), and the whole input through a trace_reader over
 * fmemopen(); the two must agree, since the reader is only the parser plus
 * the order check.  Invariants:
 *   - a line is an edge (1), blank/comment (0) or -EINVAL with a message;
 *   - an edge has level 0 or 1 and a time >= 0;
 *   - a trailing "\n" or "\r\n" does not change the result;
 *   - an edge printed back as "S.NNNNNNNNN L" parses to the same edge;
 *   - the reader returns exactly the lines the parser accepts that do not go
 *     back in time, in non-decreasing time order, and counts every other
 *     non-blank line as bad. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 4096

static void fuzz_fail(const char *what, const char *line, size_t n)
{
	fprintf(stderr, "fuzz_trace: %s: line \"%.*s\"\n", what, (int)(n > 200 ? 200 : n), line);
	abort();
}

static int fuzz_parse(const char *s, size_t n, struct trace_edge *e)
{
	const char *why = NULL;
	int r;

	e->ts_ns = -1;
	e->level = -1;
	r = trace_parse_line(s, n, e, &why);
	if (r == 1) {
		if (e->level != 0 && e->level != 1)
			fuzz_fail("parsed level is not 0/1", s, n);
		if (e->ts_ns < 0)
			fuzz_fail("parsed time is negative", s, n);
	} else if (r == -EINVAL) {
		if (!why || !why[0])
			fuzz_fail("rejected without a message", s, n);
	} else if (r != 0) {
		fuzz_fail("unexpected return value", s, n);
	}
	return r;
}

/* An accepted line's time read again, digit by digit: whole seconds, then
 * at most nine decimals, the rest truncated.  Exactness is the format's
 * promise, so it is checked against this independent reading. */
static void fuzz_exact_time(const char *s, size_t n, const struct trace_edge *e)
{
	const char *p = s, *end = s + n;
	int64_t sec = 0, frac = 0;
	int nfrac = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		if (sec <= INT64_MAX / 1000000000 / 10)
			sec = sec * 10 + (*p - '0');
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9'; p++)
			if (nfrac++ < 9)
				frac = frac * 10 + (*p - '0');
	for (; nfrac < 9; nfrac++)
		frac *= 10;
	if (e->ts_ns / 1000000000 != sec || e->ts_ns % 1000000000 != frac)
		fuzz_fail("the time was not parsed exactly", s, n);
}

/* The same line with a line ending, and the edge printed back canonically. */
static void fuzz_line(const char *s, size_t n, int r, const struct trace_edge *e)
{
	char buf[FUZZ_LINE_MAX + 2];
	struct trace_edge e2;
	int r2, len;

	if (n <= FUZZ_LINE_MAX && (n == 0 || s[n - 1] != '\r')) {
		memcpy(buf, s, n);
		memcpy(buf + n, "\r\n", 2);
		r2 = fuzz_parse(buf, n + 2, &e2);
		if (r2 != r || (r == 1 && (e2.ts_ns != e->ts_ns || e2.level != e->level)))
			fuzz_fail("a trailing CRLF changed the result", s, n);
	}
	if (r != 1)
		return;
	fuzz_exact_time(s, n, e);
	len = snprintf(buf, sizeof(buf), "%" PRId64 ".%09" PRId64 " %d",
		       e->ts_ns / INT64_C(1000000000), e->ts_ns % INT64_C(1000000000), e->level);
	r2 = fuzz_parse(buf, (size_t)len, &e2);
	if (r2 != 1 || e2.ts_ns != e->ts_ns || e2.level != e->level)
		fuzz_fail("the edge printed back does not parse to itself", s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct trace_edge *want, e;
	struct trace_reader tr;
	size_t nwant = 0, nbad = 0, nlines = 0, i;
	int64_t last = 0;
	int have_last = 0, r;
	FILE *f;

	want = calloc(size / 2 + 1, sizeof(*want));
	if (!want)
		return 0;
	/* What the reader must produce, line by line. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);

		nlines++;
		r = fuzz_parse(p, n, &e);
		fuzz_line(p, nl ? n - 1 : n, r, &e);
		if (r < 0) {
			nbad++;
		} else if (r == 1) {
			/* Not trace_check_order(): the reader's use of it is
			 * under test too. */
			if (have_last && e.ts_ns < last) {
				nbad++;
			} else {
				want[nwant++] = e;
				last = e.ts_ns;
				have_last = 1;
			}
		}
		p += n;
	}

	/* glibc's fmemopen() refuses an empty buffer; nothing to read then. */
	f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (f) {
		trace_reader_init(&tr, f, "fuzz", NULL);
		i = 0;
		while ((r = trace_reader_next(&tr, &e)) == 1) {
			if (i >= nwant || e.ts_ns != want[i].ts_ns || e.level != want[i].level)
				fuzz_fail("the reader disagrees with the parser", "", 0);
			i++;
		}
		if (r != 0 || i != nwant || tr.bad != nbad || tr.lineno != nlines)
			fuzz_fail("the reader's counts disagree with the parser", "", 0);
		trace_reader_free(&tr);
		fclose(f);
	}
	free(want);
	return 0;
}

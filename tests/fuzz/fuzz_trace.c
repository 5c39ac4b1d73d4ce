/* libFuzzer target for the pulse trace format (include/trace.h).
 *
 * The input is taken as a trace file, after one expansion: the byte 0xFE
 * followed by a byte C stands for 1024 copies of C, so that lines past
 * TRACE_LINE_MAX are within a small input's reach.  Every line goes through
 * trace_parse_line(), and the whole text through the splitter, fed in chunks
 * of sizes drawn from the input's own hash, once whole, and through a
 * trace_reader over a memfd; all must agree with a line-by-line model of
 * the format.  Invariants:
 *   - a line is an edge (1), blank/comment (0) or -EINVAL with a message;
 *   - an edge has level 0 or 1 and a time in [0, TRACE_TIME_MAX_NS];
 *   - a trailing "\n" or "\r\n" does not change the result;
 *   - an edge printed back as "S.NNNNNNNNN L" parses to the same edge;
 *   - the splitter, however the text is chunked, returns exactly the lines
 *     of at most TRACE_LINE_MAX bytes the parser accepts that do not go back
 *     in time, and reports every other non-blank line as bad, with its line
 *     number; a too-long line is one bad line whatever its content. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 4096
#define FUZZ_EXPAND   0xFE
#define FUZZ_EXPAND_N 1024
#define FUZZ_TEXT_MAX (64 << 10)
#define FUZZ_TOO_LONG (-1000) /* the model's result for a too-long line */

/* One result the splitter must give: an edge, or a bad line's number. */
struct fuzz_want {
	unsigned long lineno;
	int r; /* 1, -EINVAL, or FUZZ_TOO_LONG */
	struct trace_edge e;
};

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
		if (e->ts_ns < 0 || e->ts_ns > TRACE_TIME_MAX_NS)
			fuzz_fail("parsed time is out of range", s, n);
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

/* The input with its 0xFE runs expanded; NULL if it would be too large. */
static char *fuzz_expand(const uint8_t *data, size_t size, size_t *len)
{
	size_t i, n = 0;
	char *text;

	for (i = 0; i < size; i++)
		n += data[i] == FUZZ_EXPAND && i + 1 < size ? (i++, FUZZ_EXPAND_N) : 1;
	if (n > FUZZ_TEXT_MAX)
		return NULL;
	text = malloc(n + 1);
	if (!text)
		return NULL;
	for (i = 0, n = 0; i < size; i++) {
		if (data[i] == FUZZ_EXPAND && i + 1 < size) {
			memset(text + n, data[++i], FUZZ_EXPAND_N);
			n += FUZZ_EXPAND_N;
		} else {
			text[n++] = (char)data[i];
		}
	}
	*len = n;
	return text;
}

/* The model: what every reader must return, line by line. */
static size_t fuzz_model(const char *text, size_t len, struct fuzz_want *want,
			 unsigned long *nlines)
{
	const char *p = text, *end = text + len;
	size_t nwant = 0;
	int64_t last = 0;
	int have_last = 0, r;
	struct trace_edge e;

	*nlines = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
		size_t body = nl ? n - 1 : n;

		++*nlines;
		r = fuzz_parse(p, n, &e);
		fuzz_line(p, body, r, &e);
		if (body && p[body - 1] == '\r')
			body--;
		if (body > TRACE_LINE_MAX)
			r = FUZZ_TOO_LONG;
		/* Not the splitter's order check: it is under test too. */
		if (r == 1 && have_last && e.ts_ns < last)
			r = -EINVAL;
		if (r == 1) {
			last = e.ts_ns;
			have_last = 1;
		}
		if (r != 0)
			want[nwant++] = (struct fuzz_want){.lineno = *nlines, .r = r, .e = e};
		p += n;
	}
	return nwant;
}

static void fuzz_got(const struct fuzz_want *want, size_t nwant, size_t *i, unsigned long lineno,
		     int k, const struct trace_edge *e, const char *why)
{
	const struct fuzz_want *w = &want[*i];

	if (*i >= nwant)
		fuzz_fail("the splitter returned more than the model", "", 0);
	if (lineno != w->lineno)
		fuzz_fail("the splitter's line number disagrees with the model", "", 0);
	if (k == 1) {
		if (w->r != 1 || e->ts_ns != w->e.ts_ns || e->level != w->e.level)
			fuzz_fail("the splitter's edge disagrees with the model", "", 0);
	} else {
		if (k != -EINVAL || w->r == 1 || !why || !why[0])
			fuzz_fail("the splitter's bad line disagrees with the model", "", 0);
		if ((w->r == FUZZ_TOO_LONG) != (strstr(why, "longer than") != NULL))
			fuzz_fail("a line's length was judged differently", "", 0);
	}
	++*i;
}

/* xorshift64*: chunk sizes from the input's hash, so a crash reproduces. */
static uint64_t fuzz_rand(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return *st * UINT64_C(2685821657736338717);
}

/* The splitter fed in random chunks (seed 0: the whole text at once). */
static void fuzz_split(const char *text, size_t len, uint64_t seed, const struct fuzz_want *want,
		       size_t nwant, size_t nbad, unsigned long nlines)
{
	static struct trace_split s;
	uint64_t st = seed;
	size_t off = 0, i = 0;
	bool eof_apart = seed && (fuzz_rand(&st) & 1);
	struct trace_edge e;
	const char *why;
	int k;

	trace_split_init(&s);
	for (;;) {
		size_t n = len - off, c;
		const char *p = text + off;
		bool eof;

		if (seed) {
			/* Mostly short chunks, sometimes empty, sometimes long. */
			c = fuzz_rand(&st) % 16 == 0 ? fuzz_rand(&st) % (2 * TRACE_LINE_MAX + 8)
						     : fuzz_rand(&st) % 9;
			n = c < n ? c : n;
		}
		eof = off + n == len && !eof_apart;
		while ((k = trace_split_next(&s, &p, &n, eof, &e, &why)) != 0)
			fuzz_got(want, nwant, &i, s.lineno, k, &e, why);
		if (n)
			fuzz_fail("the splitter left bytes of a chunk", "", 0);
		off = (size_t)(p - text);
		if (eof)
			break;
		if (off == len && eof_apart) {
			while ((k = trace_split_next(&s, &p, &n, true, &e, &why)) != 0)
				fuzz_got(want, nwant, &i, s.lineno, k, &e, why);
			break;
		}
	}
	if (i != nwant || s.lineno != nlines || s.bad != nbad)
		fuzz_fail("the splitter's counts disagree with the model", "", 0);
}

/* The reader over a memfd holding the text: the same results. */
static void fuzz_reader(const char *text, size_t len, const struct fuzz_want *want, size_t nwant,
			size_t nbad, unsigned long nlines)
{
	static struct trace_reader tr;
	struct trace_edge e;
	size_t i = 0;
	int fd, r;

	fd = memfd_create("fuzz_trace", MFD_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return;
	}
	trace_reader_init(&tr, fd, "fuzz", NULL);
	while ((r = trace_reader_next(&tr, &e)) == 1) {
		while (i < nwant && want[i].r != 1)
			i++;
		if (i >= nwant || e.ts_ns != want[i].e.ts_ns || e.level != want[i].e.level ||
		    tr.split.lineno != want[i].lineno)
			fuzz_fail("the reader disagrees with the model", "", 0);
		i++;
	}
	while (i < nwant && want[i].r != 1)
		i++;
	if (r != 0 || i != nwant || tr.split.lineno != nlines || tr.split.bad != nbad)
		fuzz_fail("the reader's counts disagree with the model", "", 0);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_want *want;
	unsigned long nlines;
	uint64_t seed = UINT64_C(1469598103934665603);
	size_t len, nwant, nbad = 0, i, maxlines = 1;
	char *text;

	text = fuzz_expand(data, size, &len);
	if (!text)
		return 0;
	for (i = 0; i < len; i++)
		maxlines += text[i] == '\n';
	want = calloc(maxlines, sizeof(*want));
	if (!want) {
		free(text);
		return 0;
	}
	nwant = fuzz_model(text, len, want, &nlines);
	for (i = 0; i < nwant; i++)
		nbad += want[i].r != 1;
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * UINT64_C(1099511628211);
	fuzz_split(text, len, 0, want, nwant, nbad, nlines);
	fuzz_split(text, len, seed | 1, want, nwant, nbad, nlines);
	fuzz_split(text, len, (seed >> 1) | 1, want, nwant, nbad, nlines);
	fuzz_reader(text, len, want, nwant, nbad, nlines);
	free(want);
	free(text);
	return 0;
}

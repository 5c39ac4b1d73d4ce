/* The trace format: exact nanosecond parsing, comments, errors, ordering,
 * the time bound, and the splitter's independence from chunk boundaries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "trace.h"

struct tcase {
	const char *line;
	int ret;
	long long ts_ns;
	int level;
};

static void test_lines(void)
{
	static const struct tcase cases[] = {
		{"1.5 1", 1, 1500000000LL, 1},
		{"0 0", 1, 0, 0},
		{"  12.000000001\t0\r\n", 1, 12000000001LL, 0},
		{"1.123456789987 1", 1, 1123456789LL, 1}, /* beyond ns: truncated */
		{".5 1", 1, 500000000LL, 1},
		{"7. 0", 1, 7000000000LL, 0},
		{"1700000000.123456789 1", 1, 1700000000123456789LL, 1},
		{"# a comment", 0, 0, 0},
		{"", 0, 0, 0},
		{"   \t", 0, 0, 0},
		{"1.0 2", -EINVAL, 0, 0},
		{"1.0", -EINVAL, 0, 0},
		{"1.0 1 x", -EINVAL, 0, 0},
		{"1.0 10", -EINVAL, 0, 0},
		{"-1 0", -EINVAL, 0, 0},
		{"abc 1", -EINVAL, 0, 0},
		{". 1", -EINVAL, 0, 0},
		{"1e3 1", -EINVAL, 0, 0},
		{"99999999999 1", -EINVAL, 0, 0}, /* beyond int64 ns */
		/* The bound: 2^62 - 1 ns is the last time accepted. */
		{"4611686018.427387903 1", 1, 4611686018427387903LL, 1},
		{"4611686018.4273879039 1", 1, 4611686018427387903LL, 1},
		{"4611686018.427387904 1", -EINVAL, 0, 0},
		{"4611686019 0", -EINVAL, 0, 0},
		{"9200000000 1", -EINVAL, 0, 0},
		{"9223372036.854775807 1", -EINVAL, 0, 0},
		{"9223372036.854775808 1", -EINVAL, 0, 0},
		{"18446744073709551616 1", -EINVAL, 0, 0},
		{"0000000000000000000000004611686018 1", 1, 4611686018000000000LL, 1},
		{"1,5 1", -EINVAL, 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace_edge e = {-1, -1};
		const char *why = NULL;
		int r = trace_parse_line(cases[i].line, strlen(cases[i].line), &e, &why);

		if (r != cases[i].ret)
			fprintf(stderr, "case '%s'\n", cases[i].line);
		CHECK_EQ_INT(r, cases[i].ret);
		if (r == 1) {
			CHECK_EQ_INT(e.ts_ns, cases[i].ts_ns);
			CHECK_EQ_INT(e.level, cases[i].level);
		}
		if (r < 0)
			CHECK(why && *why);
	}
	/* Not NUL-terminated: the length bounds the parse. */
	{
		struct trace_edge e;
		const char *why;

		CHECK_EQ_INT(trace_parse_line("2.5 1garbage", 5, &e, &why), 1);
		CHECK_EQ_INT(e.ts_ns, 2500000000LL);
	}
	/* An out-of-range time says what the range is. */
	{
		struct trace_edge e;
		const char *why = NULL;

		CHECK_EQ_INT(trace_parse_line("9200000000 1", 12, &e, &why), -EINVAL);
		CHECK(why && strstr(why, "out of range") && strstr(why, "4611686018.427387903"));
	}
}

/* Every result of one chunk, as text. */
static void split_drain(struct trace_split *s, const char **p, size_t *n, bool eof, FILE *f)
{
	struct trace_edge e;
	const char *why;
	int k;

	while ((k = trace_split_next(s, p, n, eof, &e, &why)) != 0) {
		if (k > 0)
			fprintf(f, "%lu: edge %lld %d\n", s->lineno, (long long)e.ts_ns, e.level);
		else
			fprintf(f, "%lu: bad: %s\n", s->lineno, why);
	}
	CHECK_EQ_INT(*n, 0);
}

/* What a splitter makes of a text: one line per result, then the totals.
 * `chunk` 0 feeds it whole; otherwise in chunks of that size, the first one
 * `first` bytes long.  `eof_apart`: end of input comes as an empty chunk
 * rather than with the last one. */
static char *split_text(const char *text, size_t len, size_t first, size_t chunk, bool eof_apart)
{
	static struct trace_split s; /* 4 KiB: off the stack */
	char *out = NULL;
	size_t outlen = 0, off = 0, nchunks = 0, n;
	FILE *f = open_memstream(&out, &outlen);
	const char *p;

	trace_split_init(&s);
	for (;;) {
		size_t want = chunk == 0 ? len : nchunks++ == 0 ? first : chunk;
		bool last;

		n = want < len - off ? want : len - off;
		last = off + n == len;
		p = text + off;
		split_drain(&s, &p, &n, last && !eof_apart, f);
		off = (size_t)(p - text);
		if (last)
			break;
	}
	if (eof_apart)
		split_drain(&s, &p, &n, true, f);
	/* Finished: more calls at end of input give nothing. */
	split_drain(&s, &p, &n, true, f);
	fprintf(f, "lines %lu bad %llu\n", s.lineno, (unsigned long long)s.bad);
	fclose(f);
	return out;
}

/* Every chunking of `text` gives what feeding it whole gives, and that is
 * `want`. */
static void check_split(const char *text, size_t len, const char *want)
{
	char *whole = split_text(text, len, 0, 0, false), *other;
	size_t i;

	if (strcmp(whole, want))
		fprintf(stderr, "split:\n%s\nwanted:\n%s\n", whole, want);
	CHECK(strcmp(whole, want) == 0);
	for (i = 0; i <= len; i++) {
		/* Two chunks cut at i, end of input with or without the last. */
		other = split_text(text, len, i, len, i % 2);
		if (strcmp(whole, other))
			fprintf(stderr, "cut at %zu:\n%s\n", i, other);
		CHECK(strcmp(whole, other) == 0);
		free(other);
	}
	for (i = 1; i <= 7; i++) {
		other = split_text(text, len, i, i, i % 2);
		if (strcmp(whole, other))
			fprintf(stderr, "chunks of %zu:\n%s\n", i, other);
		CHECK(strcmp(whole, other) == 0);
		free(other);
	}
	free(whole);
}

#define CHECK_SPLIT(text, want) check_split(text, sizeof(text) - 1, want)

static void test_split(void)
{
	CHECK_SPLIT("", "lines 0 bad 0\n");
	CHECK_SPLIT("\n\n", "lines 2 bad 0\n");
	CHECK_SPLIT("# trace\n1.0 1\n1.1 0\noops\n0.5 1\n2.0 1\n",
		    "2: edge 1000000000 1\n"
		    "3: edge 1100000000 0\n"
		    "4: bad: expected '<seconds> <level>'\n"
		    "5: bad: time goes backwards; edge skipped\n"
		    "6: edge 2000000000 1\n"
		    "lines 6 bad 2\n");
	/* No final newline; CRLF; a lone CR at the very end. */
	CHECK_SPLIT("1 1\n2 0", "1: edge 1000000000 1\n2: edge 2000000000 0\nlines 2 bad 0\n");
	CHECK_SPLIT("1 1\r\n2 0\r\n#\r\n3 1\r",
		    "1: edge 1000000000 1\n2: edge 2000000000 0\n4: edge 3000000000 1\n"
		    "lines 4 bad 0\n");
	/* Out-of-range times are bad lines with their numbers; they do not
	 * count as "the previous edge" for the order check. */
	CHECK_SPLIT("1 1\n9200000000 0\n4611686018.427387904 1\n1.5 0\n"
		    "4611686018.427387903 1\n",
		    "1: edge 1000000000 1\n"
		    "2: bad: time out of range (at most 4611686018.427387903 s)\n"
		    "3: bad: time out of range (at most 4611686018.427387903 s)\n"
		    "4: edge 1500000000 0\n"
		    "5: edge 4611686018427387903 1\n"
		    "lines 5 bad 2\n");
	/* A NUL is just a bad byte, not the end of the line. */
	CHECK_SPLIT("1 1\n2\0 0\n3 0\n", "1: edge 1000000000 1\n"
					 "2: bad: expected whitespace and a level after the time\n"
					 "3: edge 3000000000 0\nlines 3 bad 1\n");
}

/* Lines of TRACE_LINE_MAX bytes pass; one byte more is one bad line, however
 * long, skipped through its newline. */
static void test_split_long(void)
{
	const size_t big = 100 * 1024;
	char *text = malloc(big + 64), *want;
	size_t n;

	CHECK_EQ_INT(TRACE_LINE_MAX, 4096);
	/* Exactly the limit, as a comment: no error; with CRLF too. */
	n = (size_t)sprintf(text, "1 1\n#");
	memset(text + n, 'x', TRACE_LINE_MAX - 1);
	n += TRACE_LINE_MAX - 1;
	n += (size_t)sprintf(text + n, "\r\n2 0\n");
	check_split(text, n, "1: edge 1000000000 1\n3: edge 2000000000 0\nlines 3 bad 0\n");
	/* One more byte: too long; a CRLF does not change that. */
	n = (size_t)sprintf(text, "1 1\n#");
	memset(text + n, 'x', TRACE_LINE_MAX);
	n += TRACE_LINE_MAX;
	n += (size_t)sprintf(text + n, "\r\n2 0\n");
	check_split(text, n,
		    "1: edge 1000000000 1\n2: bad: longer than 4096 bytes\n"
		    "3: edge 2000000000 0\nlines 3 bad 1\n");
	/* An edge padded past the limit is still too long, not an edge. */
	n = (size_t)sprintf(text, "1 1");
	memset(text + n, ' ', TRACE_LINE_MAX);
	n += TRACE_LINE_MAX;
	n += (size_t)sprintf(text + n, "\n2 0");
	check_split(text, n,
		    "1: bad: longer than 4096 bytes\n2: edge 2000000000 0\nlines 2 bad 1\n");
	free(text);

	/* 100 KiB of edge-looking lines without newlines between good lines:
	 * one error (the old replay made several lines of it). */
	text = malloc(big + 64);
	want = "1: edge 1000000000 1\n2: bad: longer than 4096 bytes\n"
	       "3: edge 3000000000 0\nlines 3 bad 1\n";
	n = (size_t)sprintf(text, "1 1\n");
	for (size_t i = 0; i < big / 8; i++)
		n += (size_t)sprintf(text + n, "%s", i % 2 ? "2 0 2 1 " : "2 1 2 0 ");
	n += (size_t)sprintf(text + n, "\n3 0\n");
	{
		char *whole = split_text(text, n, 0, 0, false);
		size_t cuts[] = {1, 4, 5, 4096, 4100, 65536, n - 6, n - 5, n - 1};

		CHECK(strcmp(whole, want) == 0);
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			char *other = split_text(text, n, cuts[i], 65536, i % 2);

			CHECK(strcmp(other, want) == 0);
			free(other);
		}
		free(whole);
	}
	/* At the end of input without a newline: still exactly one error. */
	n = (size_t)sprintf(text, "1 1\n");
	memset(text + n, '#', big);
	n += big;
	{
		char *whole = split_text(text, n, 0, 0, false);
		char *bytes = split_text(text, n, 3, 1000, true);

		CHECK(strcmp(whole, "1: edge 1000000000 1\n2: bad: longer than 4096 bytes\n"
				    "lines 2 bad 1\n") == 0);
		CHECK(strcmp(whole, bytes) == 0);
		free(whole);
		free(bytes);
	}
	free(text);
}

/* A file descriptor holding text (a temporary file, read from the start). */
static int text_fd(const char *text, size_t len)
{
	FILE *f = tmpfile();
	int fd;

	if (!f)
		return -1;
	fd = dup(fileno(f));
	fclose(f);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_reader(void)
{
	static const char text[] = "# trace\n"
				   "1.0 1\n"
				   "1.1 0\n"
				   "oops\n"
				   "0.5 1\n" /* goes back in time: skipped */
				   "2.0 1\n"
				   "9223372036 1\n" /* beyond the clock's range */
				   "2.1 0";	    /* no final newline */
	static struct trace_reader r;
	char *err = NULL;
	size_t errlen = 0;
	int fd = text_fd(text, sizeof(text) - 1);
	FILE *errs = open_memstream(&err, &errlen);
	struct trace_edge e;
	int n = 0, k;

	CHECK(fd >= 0);
	trace_reader_init(&r, fd, "t.trace", errs);
	while ((k = trace_reader_next(&r, &e)) > 0)
		n++;
	CHECK_EQ_INT(k, 0);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(e.ts_ns, 2100000000LL);
	CHECK_EQ_INT(r.split.bad, 3);
	CHECK_EQ_INT(r.split.lineno, 8);
	/* At the end it stays at the end. */
	CHECK_EQ_INT(trace_reader_next(&r, &e), 0);
	close(fd);
	fclose(errs);
	CHECK(strstr(err, "t.trace:4: ") != NULL);
	CHECK(strstr(err, "t.trace:5: time goes backwards") != NULL);
	CHECK(strstr(err, "t.trace:7: time out of range") != NULL);
	free(err);

	/* A read error is reported as such. */
	trace_reader_init(&r, -1, "none", NULL);
	CHECK_EQ_INT(trace_reader_next(&r, &e), -EBADF);
}

/* A pipe is read as data arrives: an edge is returned before the writer
 * has closed its end. */
static void test_reader_pipe(void)
{
	static struct trace_reader r;
	struct trace_edge e;
	int pfd[2];

	CHECK(pipe(pfd) == 0);
	CHECK(write(pfd[1], "1 1\n2 ", 6) == 6);
	trace_reader_init(&r, pfd[0], "pipe", NULL);
	CHECK_EQ_INT(trace_reader_next(&r, &e), 1);
	CHECK_EQ_INT(e.ts_ns, 1000000000LL);
	CHECK(write(pfd[1], "0\n", 2) == 2);
	close(pfd[1]);
	CHECK_EQ_INT(trace_reader_next(&r, &e), 1);
	CHECK_EQ_INT(e.ts_ns, 2000000000LL);
	CHECK_EQ_INT(trace_reader_next(&r, &e), 0);
	close(pfd[0]);
}

int main(void)
{
	test_lines();
	test_split();
	test_split_long();
	test_reader();
	test_reader_pipe();
	return check_result();
}

/* Pulse trace format (PRODUCT.md 4.3): one edge per line, "<seconds> <level>",
 * seconds a decimal number (nanosecond resolution), level 0 or 1; '#' starts
 * a comment line; blank lines are ignored.  Times are parsed exactly into
 * integer nanoseconds (no floating-point rounding).
 *
 * Every reader of traces (the daemon's replay, its speed-0 pre-scan, and
 * pulselog) splits and parses them with the one trace_split below, so they
 * see the same lines, the same errors and the same line numbers, whatever
 * chunks the bytes arrive in.  Two limits are part of the format:
 *
 *   - A line holds at most TRACE_LINE_MAX bytes, not counting its "\n" or
 *     "\r\n".  A longer one is a single bad line, skipped through its
 *     newline, so memory stays bounded whatever the input.
 *   - A time is at most TRACE_TIME_MAX_NS (2^62 - 1 ns, about 4.6e9 s or 146
 *     years).  The daemon maps trace times onto CLOCK_MONOTONIC (itself far
 *     below 2^62 ns) by adding an offset, and the filter adds durations and
 *     takes differences; with both operands below 2^62 none of that can
 *     leave int64.  A larger time is a bad line. */
#ifndef POWERD_TRACE_H
#define POWERD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRACE_LINE_MAX	  4096 /* a plain number: it is also spelled into a message */
#define TRACE_TIME_MAX_NS ((INT64_C(1) << 62) - 1)

struct trace_edge {
	int64_t ts_ns;
	int level;
};

/* Parse one line (without or with its trailing newline).  Returns 1 with *e
 * filled, 0 for a comment or blank line, or -EINVAL (with a static message in
 * *why) for a malformed one. */
int trace_parse_line(const char *s, size_t n, struct trace_edge *e, const char **why);

/* Incremental splitter and parser, fed arbitrary chunks of a trace.  Bad
 * lines (malformed, too long, or going back in time) are counted in `bad`
 * and reported to the caller, which says where with `lineno`. */
struct trace_split {
	unsigned long lineno; /* lines finished so far: the one just reported */
	uint64_t bad;
	int64_t last_ts;
	bool have_last;
	bool skipping;		      /* the unfinished line is already too long */
	size_t len;		      /* bytes of the unfinished line held in buf */
	char buf[TRACE_LINE_MAX + 1]; /* + a CR that may turn out to precede the LF */
};

void trace_split_init(struct trace_split *s);

/* Take bytes from the chunk at *p (*n of them), advancing both, up to the
 * end of the next line that has a result.  `eof`: nothing follows this
 * chunk, so a last line without a newline is finished too.  Returns 1 with
 * *e for an edge (never older than the previous one), -EINVAL with a static
 * *why for a bad line (number s->lineno), or 0 once the chunk is used up. */
int trace_split_next(struct trace_split *s, const char **p, size_t *n, bool eof,
		     struct trace_edge *e, const char **why);

/* Sequential reader over a file descriptor (a file, a pipe, stdin), for the
 * tools.  read(2) rather than stdio, so a pipe is parsed as data arrives.
 * Bad lines are reported to `errs` (if not NULL) as "NAME:LINE: message",
 * counted in split.bad, and skipped. */
#define TRACE_READ_CHUNK 65536

struct trace_reader {
	int fd;
	const char *name;
	FILE *errs;
	const char *p; /* the unparsed rest of chunk */
	size_t n;
	bool eof;
	struct trace_split split;
	char chunk[TRACE_READ_CHUNK];
};

void trace_reader_init(struct trace_reader *r, int fd, const char *name, FILE *errs);
/* Returns 1 with *e filled, 0 at end of file, negative errno on read error. */
int trace_reader_next(struct trace_reader *r, struct trace_edge *e);

#endif

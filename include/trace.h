/* Pulse trace format (PRODUCT.md 4.3): one edge per line, "<seconds> <level>",
 * seconds a decimal number (nanosecond resolution), level 0 or 1; '#' starts
 * a comment line; blank lines are ignored.  Times are parsed exactly into
 * integer nanoseconds (no floating-point rounding). */
#ifndef POWERD_TRACE_H
#define POWERD_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct trace_edge {
	int64_t ts_ns;
	int level;
};

/* Parse one line (without or with its trailing newline).  Returns 1 with *e
 * filled, 0 for a comment or blank line, or -EINVAL (with a static message in
 * *why) for a malformed one. */
int trace_parse_line(const char *s, size_t n, struct trace_edge *e, const char **why);

/* Sequential reader over a stdio stream, used by the tools and by replay
 * set-up.  Malformed and out-of-order lines are reported to `errs` (if not
 * NULL) as "NAME:LINE: message", counted in `bad`, and skipped. */
struct trace_reader {
	FILE *f;
	const char *name;
	FILE *errs;
	char *buf;
	size_t cap;
	unsigned long lineno;
	int64_t last_ts;
	int have_last;
	uint64_t bad;
};

void trace_reader_init(struct trace_reader *r, FILE *f, const char *name, FILE *errs);
/* Returns 1 with *e filled, 0 at end of file, negative errno on read error. */
int trace_reader_next(struct trace_reader *r, struct trace_edge *e);
void trace_reader_free(struct trace_reader *r);

/* Order check shared by every consumer of traces: times must not go back.
 * Returns 0 if ts_ns may follow the previous edge, -ERANGE otherwise. */
int trace_check_order(int64_t *last_ts, int *have_last, int64_t ts_ns);

#endif

/* libFuzzer target for the CAN log formats (include/canframe.h).
 *
 * Every line of the input goes through both parsers, canframe_parse_candump
 * and canframe_parse_savvycsv.  Invariants:
 *   - a line parses (0) or is -EINVAL with a message;
 *   - a trailing "\n" or "\r\n" does not change the result;
 *   - a parsed frame formats (given an interface when it has a time and no
 *     interface, as a CSV row has), into fewer than CANFRAME_FORMAT_MAX
 *     bytes, and that line parses back to the very same frame;
 *   - a buffer one byte short is -ENOSPC, never a truncated line;
 *   - as a filter list, a line parses into at most the room given, or is
 *     refused with a message; a parsed list judges any frame. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 4096

static void fuzz_fail(const char *what, const char *line, size_t n)
{
	fprintf(stderr, "fuzz_canframe: %s: line \"%.*s\"\n", what, (int)(n > 200 ? 200 : n), line);
	abort();
}

typedef int (*fuzz_parser)(const char *, size_t, struct canframe *, const char **);

static int fuzz_parse(fuzz_parser parse, const char *s, size_t n, struct canframe *f)
{
	const char *why = NULL;
	int r = parse(s, n, f, &why);

	if (r == -EINVAL) {
		if (!why || !why[0])
			fuzz_fail("rejected without a message", s, n);
	} else if (r != 0) {
		fuzz_fail("unexpected return value", s, n);
	}
	return r;
}

static void fuzz_roundtrip(const char *s, size_t n, struct canframe *f)
{
	char out[CANFRAME_FORMAT_MAX], small[CANFRAME_FORMAT_MAX];
	struct canframe g;
	size_t len;

	if (f->has_ts && !f->iface[0])
		strcpy(f->iface, "can0");
	if (canframe_format_candump(f, out, sizeof(out)) != 0)
		fuzz_fail("a parsed frame does not format", s, n);
	len = strlen(out);
	if (canframe_format_candump(f, small, len) != -ENOSPC)
		fuzz_fail("a short buffer is not -ENOSPC", s, n);
	if (canframe_format_candump(f, small, len + 1) != 0 || strcmp(small, out))
		fuzz_fail("an exact buffer does not hold the line", s, n);
	if (fuzz_parse(canframe_parse_candump, out, len, &g) != 0)
		fuzz_fail("the formatted line does not parse", out, len);
	if (memcmp(f, &g, sizeof(g)))
		fuzz_fail("the formatted line parses to another frame", out, len);
}

static void fuzz_line(fuzz_parser parse, const char *s, size_t n)
{
	char buf[FUZZ_LINE_MAX + 2];
	struct canframe f, f2;
	int r = fuzz_parse(parse, s, n, &f), r2;

	if (n <= FUZZ_LINE_MAX && (n == 0 || s[n - 1] != '\r')) {
		memcpy(buf, s, n);
		memcpy(buf + n, "\r\n", 2);
		r2 = fuzz_parse(parse, buf, n + 2, &f2);
		if (r2 != r || (r == 0 && memcmp(&f, &f2, sizeof(f))))
			fuzz_fail("a trailing CRLF changed the result", s, n);
	}
	if (r == 0)
		fuzz_roundtrip(s, n, &f);
}

static void fuzz_filters(const char *s, size_t n)
{
	char text[FUZZ_LINE_MAX + 1], why[128] = "";
	struct canframe_filter f[4];
	int r;

	if (n > FUZZ_LINE_MAX)
		return;
	memcpy(text, s, n);
	text[n] = '\0';
	r = canframe_parse_filters(text, f, 4, why, sizeof(why));
	if (r < 0 && (r != -EINVAL && r != -E2BIG))
		fuzz_fail("filters: unexpected return value", s, n);
	if (r < 0 && !why[0])
		fuzz_fail("filters: refused without a message", s, n);
	if (r > 4)
		fuzz_fail("filters: more than the room given", s, n);
	if (r > 0)
		(void)canframe_filter_pass(f, (size_t)r, n ? (uint32_t)s[0] << 20 : 0, n & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fuzz_line(canframe_parse_candump, p, n);
		fuzz_line(canframe_parse_savvycsv, p, n);
		(void)canframe_savvycsv_is_header(p, n);
		fuzz_filters(p, n);
		p += nl ? n + 1 : n;
	}
	return 0;
}

/* CAN frame log formats (include/canframe.h): candump lines in both
 * directions and SavvyCAN CSV rows.  Integer arithmetic only, so times are
 * exact to the microsecond. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "canframe.h"

#define CANFRAME_CLASSIC_MAX 8
#define CANFRAME_SEC_MAX     UINT64_C(18446744072) /* sec * 1e9 + 999999000 fits uint64 */

static int canframe_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool canframe_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The line without its "\n" or "\r\n": the callers get lines from a
 * splitter that may or may not strip them. */
static size_t canframe_body(const char *s, size_t n)
{
	if (n && s[n - 1] == '\n')
		n--;
	if (n && s[n - 1] == '\r')
		n--;
	return n;
}

static int canframe_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

/* A valid CAN FD payload length: the DLC codes 9-15 stand for 12..64 only. */
static bool canframe_fd_len_ok(unsigned len)
{
	return len <= 8 || len == 12 || len == 16 || len == 20 || len == 24 || len == 32 ||
	       len == 48 || len == 64;
}

/* Hex bytes up to end, '.' allowed only between two bytes. */
static int canframe_bytes(const char *p, const char *end, unsigned max, struct canframe *f,
			  const char **why)
{
	unsigned k = 0;

	while (p < end && *p != '_') {
		int hi, lo;

		if (*p == '.') {
			if (k == 0 || p + 1 >= end || p[1] == '.' || p[1] == '_')
				return canframe_fail(why, "misplaced '.'");
			p++;
		}
		hi = canframe_nibble(*p);
		if (hi < 0)
			return canframe_fail(why, "bad hex digit in the data");
		if (p + 1 >= end || p[1] == '.' || p[1] == '_')
			return canframe_fail(why, "odd number of hex digits");
		lo = canframe_nibble(p[1]);
		if (lo < 0)
			return canframe_fail(why, "bad hex digit in the data");
		if (k >= max)
			return canframe_fail(why, max == CANFRAME_CLASSIC_MAX
							  ? "more than 8 bytes in a classical frame"
							  : "more than 64 bytes in a CAN FD frame");
		f->data[k++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	f->len = (uint8_t)k;
	if (p < end) { /* "_D" */
		int d;

		if (f->fd || k != CANFRAME_CLASSIC_MAX)
			return canframe_fail(why, "raw DLC '_' only after 8 classical bytes");
		d = p + 2 == end ? canframe_nibble(p[1]) : -1;
		if (d < 9)
			return canframe_fail(why, "raw DLC is not one digit 9-F");
		f->dlc_raw = (uint8_t)d;
	}
	return 0;
}

/* "#R", "#R5", "#R8_9": the part after the 'R'. */
static int canframe_remote(const char *p, const char *end, struct canframe *f, const char **why)
{
	int d;

	f->rtr = true;
	if (p == end)
		return 0;
	d = canframe_nibble(*p);
	if (d < 0 || d > CANFRAME_CLASSIC_MAX)
		return canframe_fail(why, "remote frame length is not 0-8");
	f->len = (uint8_t)d;
	if (++p == end)
		return 0;
	if (*p != '_' || d != CANFRAME_CLASSIC_MAX)
		return canframe_fail(why, "junk after the remote frame length");
	d = p + 2 == end ? canframe_nibble(p[1]) : -1;
	if (d < 9)
		return canframe_fail(why, "raw DLC is not one digit 9-F");
	f->dlc_raw = (uint8_t)d;
	return 0;
}

/* FRAME alone, p..end without blanks. */
static int canframe_frame(const char *p, const char *end, struct canframe *f, const char **why)
{
	const char *hash = memchr(p, '#', (size_t)(end - p));
	uint32_t id = 0;
	size_t nd = hash ? (size_t)(hash - p) : 0;
	size_t i;

	if (!hash)
		return canframe_fail(why, "no '#'");
	if (nd != 3 && nd != 8)
		return canframe_fail(why, "bad id (not 3 or 8 hex digits)");
	for (i = 0; i < nd; i++) {
		int v = canframe_nibble(p[i]);

		if (v < 0)
			return canframe_fail(why, "bad id (not hex)");
		id = id << 4 | (uint32_t)v;
	}
	if (nd == 3) {
		if (id > CANFRAME_SFF_MASK)
			return canframe_fail(why, "bad id (11-bit id above 7FF)");
	} else if (id & CANFRAME_ERR_FLAG) {
		if (id > (CANFRAME_ERR_FLAG | CANFRAME_EFF_MASK))
			return canframe_fail(why, "bad id (flags beyond the error flag)");
		f->err = true;
		id &= CANFRAME_EFF_MASK;
	} else {
		if (id > CANFRAME_EFF_MASK)
			return canframe_fail(why, "bad id (29-bit id above 1FFFFFFF)");
		f->ext = true;
	}
	f->id = id;
	p = hash + 1;
	if (p < end && *p == '#') {
		int fl = p + 1 < end ? canframe_nibble(p[1]) : -1;

		if (fl < 0)
			return canframe_fail(why, "no CAN FD flags digit after '##'");
		if (f->err)
			return canframe_fail(why, "an error frame cannot be CAN FD");
		f->fd = true;
		f->flags = (uint8_t)fl;
		if (canframe_bytes(p + 2, end, CANFRAME_FD_MAX, f, why) < 0)
			return -EINVAL;
		if (!canframe_fd_len_ok(f->len))
			return canframe_fail(why, "not a CAN FD length (0-8, 12, 16, 20, 24, 32, "
						  "48, 64)");
		return 0;
	}
	if (p < end && (*p == 'R' || *p == 'r')) {
		if (f->err)
			return canframe_fail(why, "an error frame cannot be a remote frame");
		return canframe_remote(p + 1, end, f, why);
	}
	return canframe_bytes(p, end, CANFRAME_CLASSIC_MAX, f, why);
}

/* "(SEC.USEC)" at p; returns the end of it, or NULL. */
static const char *canframe_time(const char *p, const char *end, struct canframe *f,
				 const char **why)
{
	uint64_t sec = 0, usec = 0;
	int nsec = 0, i;

	for (p++; p < end && *p >= '0' && *p <= '9'; p++, nsec++) {
		sec = sec * 10 + (uint64_t)(*p - '0');
		if (sec > CANFRAME_SEC_MAX) {
			canframe_fail(why, "time too large");
			return NULL;
		}
	}
	if (!nsec || p >= end || *p != '.') {
		canframe_fail(why, "bad time (not \"(SECONDS.MICROSECONDS)\")");
		return NULL;
	}
	for (i = 0, p++; i < 6; i++, p++) {
		if (p >= end || *p < '0' || *p > '9') {
			canframe_fail(why, "bad time (not 6 decimals)");
			return NULL;
		}
		usec = usec * 10 + (uint64_t)(*p - '0');
	}
	if (p >= end || *p != ')') {
		canframe_fail(why, "bad time (not 6 decimals and ')')");
		return NULL;
	}
	f->ts_ns = sec * 1000000000u + usec * 1000u;
	f->has_ts = true;
	return p + 1;
}

int canframe_parse_candump(const char *line, size_t n, struct canframe *out, const char **why)
{
	const char *p = line, *end = line + canframe_body(line, n), *w;

	memset(out, 0, sizeof(*out));
	if (p == end)
		return canframe_fail(why, "empty line");
	if (*p == '(') {
		p = canframe_time(p, end, out, why);
		if (!p)
			return -EINVAL;
		if (p == end || !canframe_blank(*p))
			return canframe_fail(why, "no blank after the time");
		while (p < end && canframe_blank(*p))
			p++;
		for (w = p; p < end && !canframe_blank(*p); p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return canframe_fail(why, "bad interface name");
		if (p == w)
			return canframe_fail(why, "no interface");
		if ((size_t)(p - w) >= CANFRAME_IFACE_MAX)
			return canframe_fail(why, "interface name longer than 15");
		memcpy(out->iface, w, (size_t)(p - w));
		if (p == end)
			return canframe_fail(why, "no frame after the interface");
		while (p < end && canframe_blank(*p))
			p++;
	}
	for (w = p; w < end; w++)
		if (canframe_blank(*w))
			return canframe_fail(why, "junk after the frame (or an interface without "
						  "a time)");
	return canframe_frame(p, end, out, why);
}

static bool canframe_ok(const struct canframe *f)
{
	if (!memchr(f->iface, '\0', sizeof(f->iface)) || f->has_ts != (f->iface[0] != '\0'))
		return false;
	for (const char *c = f->iface; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return false;
	if (f->err && (f->ext || f->rtr || f->fd || f->id > CANFRAME_EFF_MASK))
		return false;
	if (!f->err && f->id > (f->ext ? CANFRAME_EFF_MASK : CANFRAME_SFF_MASK))
		return false;
	if (f->fd)
		return !f->rtr && f->flags <= 0xF && !f->dlc_raw && canframe_fd_len_ok(f->len);
	if (f->flags || f->len > CANFRAME_CLASSIC_MAX)
		return false;
	if (f->dlc_raw)
		return f->len == CANFRAME_CLASSIC_MAX && f->dlc_raw >= 9 && f->dlc_raw <= 15;
	return true;
}

int canframe_format_candump(const struct canframe *f, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[CANFRAME_FORMAT_MAX];
	size_t k = 0;
	unsigned i;
	int r = 0;

	if (!canframe_ok(f))
		return -EINVAL;
	if (f->has_ts)
		r = snprintf(buf, sizeof(buf), "(%010llu.%06llu) %s ",
			     (unsigned long long)(f->ts_ns / 1000000000u),
			     (unsigned long long)(f->ts_ns % 1000000000u / 1000u), f->iface);
	k = (size_t)r;
	if (f->err)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%08X#", f->id | CANFRAME_ERR_FLAG);
	else if (f->ext)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%08X#", f->id);
	else
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%03X#", f->id);
	if (f->rtr) {
		/* candump writes no length for 0, and "_D" only after 8 */
		buf[k++] = 'R';
		if (f->len)
			buf[k++] = hex[f->len];
	} else {
		if (f->fd) {
			buf[k++] = '#';
			buf[k++] = hex[f->flags];
		}
		for (i = 0; i < f->len; i++) {
			buf[k++] = hex[f->data[i] >> 4];
			buf[k++] = hex[f->data[i] & 0xF];
		}
	}
	if (f->dlc_raw) {
		buf[k++] = '_';
		buf[k++] = hex[f->dlc_raw];
	}
	buf[k] = '\0';
	if (k >= size)
		return -ENOSPC;
	memcpy(out, buf, k + 1);
	return 0;
}

/* The next CSV field: [*p, returned end) up to a ',' or the end of the row;
 * *p moves past the comma.  *last: there was no comma. */
static const char *canframe_field(const char **p, const char *end, bool *last)
{
	const char *s = *p, *c = memchr(s, ',', (size_t)(end - s));

	*last = !c;
	*p = c ? c + 1 : end;
	return c ? c : end;
}

static int canframe_csv_uint(const char *s, const char *e, int base, uint64_t max, uint64_t *v)
{
	*v = 0;
	if (s == e)
		return -EINVAL;
	for (; s < e; s++) {
		int d = canframe_nibble(*s);

		if (d < 0 || d >= base || (uint64_t)d > max ||
		    *v > (max - (uint64_t)d) / (uint64_t)base)
			return -EINVAL;
		*v = *v * (uint64_t)base + (uint64_t)d;
	}
	return 0;
}

static bool canframe_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

int canframe_parse_savvycsv(const char *line, size_t n, struct canframe *out, const char **why)
{
	const char *p = line, *end = line + canframe_body(line, n), *s, *e;
	uint64_t v;
	bool last = false;
	int i;

	memset(out, 0, sizeof(*out));
	if (p == end)
		return canframe_fail(why, "empty line");
	s = p;
	e = canframe_field(&p, end, &last);
	if (canframe_csv_uint(s, e, 10, UINT64_MAX / 1000u, &v) < 0)
		return canframe_fail(why, "bad time stamp (not decimal microseconds)");
	out->ts_ns = v * 1000u;
	out->has_ts = v != 0;
	if (last)
		return canframe_fail(why, "too few fields");
	s = p;
	e = canframe_field(&p, end, &last);
	if ((size_t)(e - s) > 8 || canframe_csv_uint(s, e, 16, CANFRAME_EFF_MASK, &v) < 0)
		return canframe_fail(why, "bad id");
	out->id = (uint32_t)v;
	if (last)
		return canframe_fail(why, "too few fields");
	s = p;
	e = canframe_field(&p, end, &last);
	if (canframe_is(s, e, "true"))
		out->ext = true;
	else if (!canframe_is(s, e, "false"))
		return canframe_fail(why, "Extended is not true or false");
	if (!out->ext && out->id > CANFRAME_SFF_MASK)
		return canframe_fail(why, "bad id (11-bit id above 7FF)");
	if (last)
		return canframe_fail(why, "too few fields");
	s = p;
	e = canframe_field(&p, end, &last);
	if (!canframe_is(s, e, "Rx") && !canframe_is(s, e, "Tx"))
		return canframe_fail(why, "Dir is not Rx or Tx");
	if (last)
		return canframe_fail(why, "too few fields");
	s = p;
	e = canframe_field(&p, end, &last);
	if (canframe_csv_uint(s, e, 10, 255, &v) < 0)
		return canframe_fail(why, "bad bus number");
	if (last)
		return canframe_fail(why, "too few fields");
	s = p;
	e = canframe_field(&p, end, &last);
	if (canframe_csv_uint(s, e, 10, CANFRAME_CLASSIC_MAX, &v) < 0)
		return canframe_fail(why, "LEN is not 0-8");
	out->len = (uint8_t)v;
	for (i = 0; i < CANFRAME_CLASSIC_MAX; i++) {
		if (last)
			return canframe_fail(why, "too few fields");
		s = p;
		e = canframe_field(&p, end, &last);
		if (e - s != 2 || canframe_csv_uint(s, e, 16, 0xFF, &v) < 0)
			return canframe_fail(why, "a data byte is not two hex digits");
		/* SavvyCAN always writes 8 bytes: the ones past LEN are padding */
		if (i < out->len)
			out->data[i] = (uint8_t)v;
	}
	if (!last && p != end)
		return canframe_fail(why, "more than 8 data bytes");
	return 0;
}

bool canframe_savvycsv_is_header(const char *line, size_t n)
{
	static const char head[] = "Time Stamp,ID,Extended,Dir,Bus,LEN,";

	return n >= sizeof(head) - 1 && memcmp(line, head, sizeof(head) - 1) == 0;
}

/* One hex number of 1..8 digits at *p; *digits says how many. */
static int canframe_filter_hex(const char **p, uint32_t *v, int *digits)
{
	uint32_t x = 0;
	int n = 0, d;

	while ((d = canframe_nibble(**p)) >= 0) {
		if (++n > 8)
			return -EINVAL;
		x = x << 4 | (uint32_t)d;
		(*p)++;
	}
	if (!n)
		return -EINVAL;
	*v = x;
	*digits = n;
	return 0;
}

int canframe_parse_filters(const char *text, struct canframe_filter *out, size_t max, char *why,
			   size_t whylen)
{
	const char *p = text;
	size_t n = 0;

	for (;;) {
		const char *item;
		struct canframe_filter f = {0};
		int digits, mdigits;
		char op;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p && n == 0)
			return 0;
		item = p;
		if (canframe_filter_hex(&p, &f.id, &digits) || (*p != ':' && *p != '~')) {
			snprintf(why, whylen, "'%.40s' is not ID:MASK or ID~MASK (hex)", item);
			return -EINVAL;
		}
		op = *p++;
		if (canframe_filter_hex(&p, &f.mask, &mdigits)) {
			snprintf(why, whylen, "'%.40s': the mask after '%c' is not hex", item, op);
			return -EINVAL;
		}
		f.inverted = op == '~';
		f.ext = digits == 8 || f.id > CANFRAME_SFF_MASK;
		if (f.id > CANFRAME_EFF_MASK ||
		    f.mask > (f.ext ? CANFRAME_EFF_MASK : CANFRAME_SFF_MASK)) {
			snprintf(why, whylen, "'%.40s': more than %d bits", item, f.ext ? 29 : 11);
			return -EINVAL;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',') {
			snprintf(why, whylen, "'%.40s': filters are separated by commas", item);
			return -EINVAL;
		}
		if (n == max) {
			snprintf(why, whylen, "more than %zu filters", max);
			return -E2BIG;
		}
		out[n++] = f;
		if (!*p)
			return (int)n;
		p++;
	}
}

bool canframe_filter_pass(const struct canframe_filter *f, size_t n, uint32_t id, bool ext)
{
	size_t i;

	if (!n)
		return true;
	for (i = 0; i < n; i++) {
		bool same = f[i].ext == ext && (id & f[i].mask) == (f[i].id & f[i].mask);

		/* The kernel's inverted filter still requires the frame format. */
		if (f[i].inverted ? f[i].ext == ext && !same : same)
			return true;
	}
	return false;
}

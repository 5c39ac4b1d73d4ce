/* Configuration parser: the generic part, for every section kind.
 *
 * libinih splits "key = value" and calls us back, but on its own it reports
 * only the first syntax error, gives the handler no line numbers, truncates
 * section names to 50 bytes and treats an indented line as the continuation
 * of the previous value.  So every line goes through our reader first: it
 * counts lines, checks the syntax, handles section headers itself and hands
 * inih either a blank line or a normalised "key=value" line.  inih therefore
 * never sees anything it could misread, and the handler knows the line.
 *
 * What keys a section takes is in the kinds' tables (config_table.h).  A
 * section's lines are collected and applied when it ends, so that a typed
 * kind knows its type (and so its keys) whatever line `type` is on.  Errors
 * are collected too and printed in line order at the end. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "config_table.h"
#include "netaddr.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* inih (built with INI_MAX_LINE 200) needs room for "\r\n\0" after a line. */
#define CFG_LINE_MAX 198

/* The enums of config.h are stored through an int pointer. */
_Static_assert(sizeof(enum cfg_edge) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_bias) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_fsync) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_mqtt_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_json_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_json_after) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_json_time) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_mqtt_in_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_modbus_parity) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_modbus_rs485) == sizeof(int), "enum size");

/* The kinds of section, in the order --defaults prints them. */
const struct cfg_kind *const cfg_kinds[] = {
	&powerd_conf,	     &pulse_conf,
	&source_json_conf,   &source_http_conf,
	&source_mqtt_conf,   &source_can_conf,
	&source_modbus_conf, &source_eg4_conf,
	&sink_conf,	     NULL,
};

/* ---------------------------------------------------------------- values */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits only: no sign, no blanks, no base prefix. */
static int parse_u64(const char *s, uint64_t *v, const char **why)
{
	unsigned long long x;
	char *end;

	if (*s == '-') {
		*why = "must not be negative";
		return -EINVAL;
	}
	if (!is_digit(*s)) {
		*why = "expected a decimal integer";
		return -EINVAL;
	}
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end) {
		*why = "expected a decimal integer";
		return -EINVAL;
	}
	if (errno == ERANGE) {
		*why = "out of range";
		return -EINVAL;
	}
	*v = x;
	return 0;
}

/* Shortest exact spelling of a duration, for messages. */
static void fmt_duration(char *buf, size_t len, int64_t ns)
{
	if (ns != 0 && ns % CFG_NS_H == 0)
		snprintf(buf, len, "%lldh", (long long)(ns / CFG_NS_H));
	else if (ns != 0 && ns % CFG_NS_MIN == 0)
		snprintf(buf, len, "%lldmin", (long long)(ns / CFG_NS_MIN));
	else if (ns % CFG_NS_S == 0)
		snprintf(buf, len, "%llds", (long long)(ns / CFG_NS_S));
	else if (ns % CFG_NS_MS == 0)
		snprintf(buf, len, "%lldms", (long long)(ns / CFG_NS_MS));
	else
		snprintf(buf, len, "%lldns", (long long)ns);
}

/* DIGITS[.DIGITS][blanks]UNIT.  Integers are exact; fractions are exact down
 * to the nanosecond and rounded below it.  No exponents: "1e3s" is an
 * unknown unit, so a typo cannot silently scale a value. */
static int duration_parse(const char *s, int64_t *ns, const char **why)
{
	static const struct {
		const char *name;
		int64_t ns;
	} units[] = {{"ms", CFG_NS_MS}, {"s", CFG_NS_S}, {"min", CFG_NS_MIN}, {"h", CFG_NS_H}};
	int64_t ipart = 0, frac = 0, pow10 = 1, scale = 0, q, r, v;
	const char *u;
	size_t i;

	if (*s == '-') {
		*why = "must not be negative";
		return -EINVAL;
	}
	if (!is_digit(*s)) {
		*why = "expected a number and a unit (ms, s, min or h)";
		return -EINVAL;
	}
	for (; is_digit(*s); s++)
		if (__builtin_mul_overflow(ipart, 10, &ipart) ||
		    __builtin_add_overflow(ipart, *s - '0', &ipart))
			goto range;
	if (*s == '.') {
		s++;
		if (!is_digit(*s)) {
			*why = "expected digits after '.'";
			return -EINVAL;
		}
		for (; is_digit(*s); s++) {
			if (pow10 == CFG_NS_S) {
				*why = "at most 9 decimal places";
				return -EINVAL;
			}
			frac = frac * 10 + (*s - '0');
			pow10 *= 10;
		}
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*why = "missing unit (ms, s, min or h)";
		return -EINVAL;
	}
	u = s;
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(u, units[i].name))
			scale = units[i].ns;
	if (!scale) {
		*why = "unknown unit (use ms, s, min or h)";
		return -EINVAL;
	}
	/* frac / pow10 of a unit, without overflow: frac < pow10 <= 1e9, so
	 * frac * q < scale and frac * r < 1e18. */
	q = scale / pow10;
	r = scale % pow10;
	if (__builtin_mul_overflow(ipart, scale, &v) ||
	    __builtin_add_overflow(v, frac * q + (frac * r + pow10 / 2) / pow10, &v))
		goto range;
	*ns = v;
	return 0;
range:
	*why = "too large";
	return -EINVAL;
}

int cfg_parse_duration(const char *s, int64_t *ns)
{
	const char *why;

	return duration_parse(s, ns, &why);
}

int cfg_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*b = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*b = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int fail(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -EINVAL;
}

static int string_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	size_t max = k->size - 1;

	if (k->max && (size_t)k->max < max)
		max = (size_t)k->max;
	if (!*s)
		return fail(why, len, "must not be empty");
	if (strlen(s) > max) {
		snprintf(why, len, "too long (at most %zu characters)", max);
		return -EINVAL;
	}
	memcpy(field, s, strlen(s) + 1);
	return 0;
}

/* HOST:PORT, [IPV6]:PORT, or "off"/"" (stored as ""): the HTTP server's own
 * parser, so what passes here is what the daemon binds. */
static int listen_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct sockaddr_storage ss;
	const char *w = NULL;
	socklen_t sl;
	int r;

	if (strlen(s) >= k->size)
		return fail(why, len, "too long");
	r = netaddr_parse_listen(s, &ss, &sl, &w);
	if (r < 0)
		return fail(why, len, w);
	/* A port the kernel picks is of no use to a scraper. */
	if (r == 0 && (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port) == 0)
		return fail(why, len, "port must be 1..65535");
	if (r == 1)
		*(char *)field = '\0';
	else
		memcpy(field, s, strlen(s) + 1);
	return 0;
}

/* Integers are checked as unsigned first so that huge values cannot wrap. */
static int uint_check(const struct cfg_key *k, const char *s, uint64_t *v, char *why, size_t len)
{
	const char *w;

	if (parse_u64(s, v, &w))
		return fail(why, len, w);
	if (*v < (uint64_t)k->min || *v > (uint64_t)k->max) {
		snprintf(why, len, "must be %lld..%lld", (long long)k->min, (long long)k->max);
		return -EINVAL;
	}
	return 0;
}

static int u32_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	uint64_t v;

	if (uint_check(k, s, &v, why, len))
		return -EINVAL;
	if ((k->flags & CFG_POW2) && (v & (v - 1)))
		return fail(why, len, "must be a power of two");
	*(uint32_t *)field = (uint32_t)v;
	return 0;
}

/* An integer number of milliseconds, stored as nanoseconds. */
static int ms_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	uint64_t v;

	if (uint_check(k, s, &v, why, len))
		return -EINVAL;
	*(int64_t *)field = (int64_t)v * CFG_NS_MS;
	return 0;
}

static int duration_key_parse(const struct cfg_key *k, const char *s, void *field, char *why,
			      size_t len)
{
	char lo[32], hi[32];
	const char *w;
	int64_t v;

	if (duration_parse(s, &v, &w))
		return fail(why, len, w);
	if (v < k->min || v > k->max) {
		fmt_duration(lo, sizeof(lo), k->min);
		fmt_duration(hi, sizeof(hi), k->max);
		if (k->min == 1)
			snprintf(why, len, "must be greater than 0");
		else if (k->max == INT64_MAX)
			snprintf(why, len, "must be at least %s", lo);
		else
			snprintf(why, len, "must be %s..%s", lo, hi);
		return -EINVAL;
	}
	*(int64_t *)field = v;
	return 0;
}

/* A plain non-negative decimal: no hex, inf or nan from strtod. */
static int double_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	char *end;
	double v;

	if (*s == '-')
		return fail(why, len, "must not be negative");
	if ((!is_digit(*s) && *s != '.') || s[strspn(s, "0123456789.eE+-")])
		return fail(why, len, "expected a decimal number");
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(v))
		return fail(why, len, "expected a decimal number");
	if (v < (double)k->min || v > (double)k->max) {
		snprintf(why, len, "must be %lld..%lld", (long long)k->min, (long long)k->max);
		return -EINVAL;
	}
	*(double *)field = v;
	return 0;
}

static int bool_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	(void)k;
	if (cfg_parse_bool(s, field))
		return fail(why, len, "expected yes/no, true/false, on/off or 1/0");
	return 0;
}

static int enum_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	const struct cfg_choice *e;
	int n;

	for (e = k->choices; e->name; e++) {
		if (!strcasecmp(s, e->name)) {
			*(int *)field = e->value;
			return 0;
		}
	}
	n = snprintf(why, len, "expected one of");
	for (e = k->choices; e->name && n > 0 && (size_t)n < len; e++)
		n += snprintf(why + n, len - (size_t)n, "%s %s", e == k->choices ? ":" : ",",
			      e->name);
	return -EINVAL;
}

int cfg_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"", 1},	  {"B", 1},	 {"KB", 1e3},	     {"MB", 1e6},
		     {"GB", 1e9}, {"KiB", 1024}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
	size_t i, n = strspn(s, "0123456789");
	char *end;
	double v;

	/* DIGITS[.DIGITS]: strtod alone would also take "1e3" and "0x10", and a
	 * typo must not silently scale a value (as with durations). */
	if (!n)
		return -EINVAL;
	if (s[n] == '.') {
		if (!is_digit(s[n + 1]))
			return -EINVAL;
		n += 1 + strspn(s + n + 1, "0123456789");
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != s + n || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].mult;
		if (v >= 18446744073709551615.0)
			return -EINVAL;
		*bytes = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

static int size_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	uint64_t v;

	if (cfg_parse_size(s, &v))
		return fail(why, len, "expected a size such as 4096, 64KiB, 256MB or 1GB");
	if (v < (uint64_t)k->min || v > (uint64_t)k->max) {
		snprintf(why, len, "must be %lld..%lld bytes", (long long)k->min,
			 (long long)k->max);
		return -EINVAL;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* ------------------------------------------------ descriptions, for --defaults */

/* Shortest exact spelling of a size. */
static void fmt_size(char *buf, size_t len, uint64_t v)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10},
		     {"GB", 1000000000},  {"MB", 1000000},     {"KB", 1000}};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (v && v % units[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].mult),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%llu bytes", (unsigned long long)v);
}

static void string_describe(const struct cfg_key *k, char *buf, size_t len)
{
	if (k->max)
		snprintf(buf, len, "at most %lld characters", (long long)k->max);
	else
		*buf = '\0';
}

static void listen_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "IPV4:PORT, [IPV6]:PORT, localhost:PORT or off");
}

static void u32_describe(const struct cfg_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%lld..%lld%s", (long long)k->min, (long long)k->max,
		 k->flags & CFG_POW2 ? ", a power of two" : "");
}

static void ms_describe(const struct cfg_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "milliseconds, %lld..%lld", (long long)k->min, (long long)k->max);
}

static void duration_describe(const struct cfg_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	fmt_duration(lo, sizeof(lo), k->min);
	fmt_duration(hi, sizeof(hi), k->max);
	if (k->min == 1 && k->max == INT64_MAX)
		snprintf(buf, len, "a duration > 0");
	else if (k->max == INT64_MAX)
		snprintf(buf, len, "a duration, at least %s", lo);
	else
		snprintf(buf, len, "a duration, %s..%s", lo, hi);
}

static void double_describe(const struct cfg_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "a number, %lld..%lld", (long long)k->min, (long long)k->max);
}

static void bool_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "yes or no");
}

static void enum_describe(const struct cfg_key *k, char *buf, size_t len)
{
	const struct cfg_choice *e;
	int n = 0;

	*buf = '\0';
	for (e = k->choices; e && e->name && n >= 0 && (size_t)n < len; e++)
		n += snprintf(buf + n, len - (size_t)n, "%s%s", e == k->choices ? "" : " | ",
			      e->name);
}

static void size_describe(const struct cfg_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	fmt_size(lo, sizeof(lo), (uint64_t)k->min);
	fmt_size(hi, sizeof(hi), (uint64_t)k->max);
	if (k->max == INT64_MAX)
		snprintf(buf, len, "a size, at least %s", lo);
	else
		snprintf(buf, len, "a size, %s..%s", lo, hi);
}

const struct cfg_vtype cfg_string = {"value", 0, string_parse, string_describe};
const struct cfg_vtype cfg_listen = {"address", 0, listen_parse, listen_describe};
const struct cfg_vtype cfg_u32 = {"number", sizeof(uint32_t), u32_parse, u32_describe};
const struct cfg_vtype cfg_ms = {"number", sizeof(int64_t), ms_parse, ms_describe};
const struct cfg_vtype cfg_duration = {"duration", sizeof(int64_t), duration_key_parse,
				       duration_describe};
const struct cfg_vtype cfg_double = {"number", sizeof(double), double_parse, double_describe};
const struct cfg_vtype cfg_bool = {"boolean", sizeof(bool), bool_parse, bool_describe};
const struct cfg_vtype cfg_enum = {"value", sizeof(int), enum_parse, enum_describe};
const struct cfg_vtype cfg_size = {"size", sizeof(uint64_t), size_parse, size_describe};

/* ---------------------------------------------------------------- parser */

/* One "key = value" line of the section being read. */
struct entry {
	unsigned line;
	char *key, *value;
	/* Once applied: the key it set (NULL: refused), and the type whose
	 * table it is from (NULL: the kind's own). */
	const struct cfg_key *def;
	const struct cfg_type *from;
	bool set; /* its line is the key's line (also when the value was bad) */
};

/* The section being read.  Its object is in the configuration, or a scratch
 * copy for a duplicate or badly named section, whose keys are still checked
 * so that one run reports everything. */
struct cfg_sect {
	struct parser *p;
	const struct cfg_kind *kind; /* NULL: before any section, or unknown kind */
	const struct cfg_type *type; /* of a typed kind; NULL: missing or bad */
	bool skip;		     /* unknown kind: its keys are not reported */
	bool scratch;
	unsigned line;
	char name[CFG_NAME_MAX];
	char title[CFG_LINE_MAX + 3]; /* "[pulse.house]" */
	struct entry *e;
	size_t n, cap;
};

struct msg {
	unsigned line; /* 0: about the file, printed last */
	size_t seq;
	char *text;
};

struct parser {
	struct config *cfg;
	FILE *errs;
	const char *name;
	FILE *fp; /* input: a stream, or mem..mem_end */
	char *buf;
	size_t bufsize;
	const char *mem, *mem_end;
	unsigned lineno;
	unsigned nerr;
	int fatal; /* -errno: cannot read, out of memory */
	struct cfg_sect cur;
	struct msg *msgs;
	size_t nmsgs, capmsgs;
};

static void vreport(struct parser *p, unsigned line, const char *fmt, va_list ap)
{
	struct msg *m;
	char *text;

	p->nerr++;
	if (!p->errs)
		return;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	if (text && p->nmsgs == p->capmsgs) {
		size_t cap = p->capmsgs ? 2 * p->capmsgs : 16;

		m = realloc(p->msgs, cap * sizeof(*m));
		if (m) {
			p->msgs = m;
			p->capmsgs = cap;
		}
	}
	if (!text || p->nmsgs == p->capmsgs) {
		/* Out of memory: at least the count is right. */
		free(text);
		p->fatal = -ENOMEM;
		return;
	}
	m = &p->msgs[p->nmsgs];
	m->line = line;
	m->seq = p->nmsgs++;
	m->text = text;
}

__attribute__((format(printf, 3, 4))) static void report(struct parser *p, unsigned line,
							 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, line, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	unsigned lx = x->line ? x->line : UINT_MAX, ly = y->line ? y->line : UINT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* In line order: a section's key errors are found when it ends, after any
 * syntax error further down in it. */
static void flush_reports(struct parser *p)
{
	size_t i;

	if (p->nmsgs)
		qsort(p->msgs, p->nmsgs, sizeof(*p->msgs), msg_cmp);
	for (i = 0; i < p->nmsgs; i++) {
		if (p->msgs[i].line)
			fprintf(p->errs, "%s:%u: %s\n", p->name, p->msgs[i].line, p->msgs[i].text);
		else
			fprintf(p->errs, "%s: %s\n", p->name, p->msgs[i].text);
		free(p->msgs[i].text);
	}
	free(p->msgs);
	p->msgs = NULL;
	p->nmsgs = p->capmsgs = 0;
}

void cfg_error(struct cfg_sect *s, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(s->p, line, fmt, ap);
	va_end(ap);
}

unsigned cfg_key_line(const struct cfg_sect *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->e[i].set && !strcmp(s->e[i].key, key))
			return s->e[i].line;
	return 0;
}

unsigned cfg_sect_line(const struct cfg_sect *s)
{
	return s->line;
}

const char *cfg_sect_title(const struct cfg_sect *s)
{
	return s->title;
}

/* ------------------------------------------------ walking the tables */

static const struct cfg_key *key_in(const struct cfg_key *keys, const char *name)
{
	for (; keys && keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

const struct cfg_key *cfg_key_find(const struct cfg_kind *k, const struct cfg_type *t,
				   const char *name)
{
	const struct cfg_key *def = key_in(k->keys, name);

	return def || !t ? def : key_in(t->keys, name);
}

size_t cfg_count(const struct config *cfg, const struct cfg_kind *k)
{
	return k->single ? 1 : *(const size_t *)((const char *)cfg + k->count_at);
}

const void *cfg_section(const struct config *cfg, const struct cfg_kind *k, size_t i)
{
	if (k->single)
		return (const char *)cfg + k->at;
	return *(char *const *)((const char *)cfg + k->at) + i * k->size;
}

static const struct cfg_type *type_named(const struct cfg_kind *k, const char *name)
{
	const struct cfg_type *const *t;

	for (t = k->types; t && *t; t++)
		if (!strcasecmp((*t)->name, name))
			return *t;
	return NULL;
}

const struct cfg_type *cfg_type_of(const struct cfg_kind *k, const void *obj)
{
	const struct cfg_type *const *t;
	int v;

	if (!k->types)
		return NULL;
	v = *(const int *)((const char *)obj + k->type_at);
	for (t = k->types; *t; t++)
		if ((*t)->value == v)
			return *t;
	return NULL;
}

/* ------------------------------------------------ sections */

/* The defaults of kind k (and of type t): every field empty, then each
 * key's default parsed as if it had been written. */
static void obj_defaults(const struct cfg_kind *k, const struct cfg_type *t, void *obj)
{
	const struct cfg_key *keys[2] = {k->keys, t ? t->keys : NULL}, *def;
	char why[160];
	size_t i;

	memset(obj, 0, k->size);
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		for (def = keys[i]; def && def->name; def++)
			if (def->def)
				(void)def->type->parse(def, def->def, (char *)obj + def->offset,
						       why, sizeof(why));
	if (t)
		*(int *)((char *)obj + k->type_at) = t->value;
}

/* A new object at the end of a named kind's array; NULL when out of memory. */
static void *sect_add(struct config *cfg, const struct cfg_kind *k)
{
	char **array = (char **)((char *)cfg + k->at);
	size_t *n = (size_t *)((char *)cfg + k->count_at);
	char *v;

	v = realloc(*array, (*n + 1) * k->size);
	if (!v)
		return NULL;
	*array = v;
	return v + (*n)++ * k->size;
}

/* Header line of the section of kind k called `name`, or 0. */
static unsigned sect_find(const struct config *cfg, const struct cfg_kind *k, const char *name)
{
	const struct cfg_head *h;
	size_t i, n = cfg_count(cfg, k);

	for (i = 0; i < n; i++) {
		h = cfg_section(cfg, k, i);
		if (k->single || !strcmp(h->name, name))
			return h->line_no;
	}
	return 0;
}

/* The types that take `key`, for a message; returns how many. */
static int key_types(const struct cfg_kind *k, const char *key, char *buf, size_t len)
{
	const struct cfg_type *const *t;
	int n = 0, count = 0;

	*buf = '\0';
	for (t = k->types; *t && n >= 0 && (size_t)n < len; t++)
		if (key_in((*t)->keys, key))
			n += snprintf(buf + n, len - (size_t)n, "%s%s", count++ ? ", " : "",
				      (*t)->name);
	return count;
}

static void type_key_apply(struct cfg_sect *s, struct entry *e)
{
	const struct cfg_kind *k = s->kind;
	const struct cfg_type *const *t;
	char why[160];
	size_t i;
	int n;

	for (i = 0; &s->e[i] != e; i++) {
		if (s->e[i].set && !strcmp(s->e[i].key, k->type_key)) {
			report(s->p, e->line, "duplicate key '%s' in %s (first at line %u)", e->key,
			       s->title, s->e[i].line);
			return;
		}
	}
	e->set = true;
	if (type_named(k, e->value))
		return;
	n = snprintf(why, sizeof(why), "expected one of");
	for (t = k->types; *t && n > 0 && (size_t)n < sizeof(why); t++)
		n += snprintf(why + n, sizeof(why) - (size_t)n, "%s %s", t == k->types ? ":" : ",",
			      (*t)->name);
	report(s->p, e->line, "bad value '%s' for '%s' in %s: %s", e->value, e->key, s->title, why);
}

/* Which key an entry sets: the kind's own, or its type's.  Without a
 * (valid) type, a key some type takes is still checked against that type's
 * table, so that its value's errors are not lost. */
static const struct cfg_key *entry_key(const struct cfg_sect *s, const char *name,
				       const struct cfg_type **from)
{
	const struct cfg_type *const *t;
	const struct cfg_key *def = key_in(s->kind->keys, name);

	*from = NULL;
	if (def || !s->kind->types)
		return def;
	if (s->type) {
		*from = s->type;
		return key_in(s->type->keys, name);
	}
	for (t = s->kind->types; *t; t++) {
		def = key_in((*t)->keys, name);
		if (def) {
			*from = *t;
			return def;
		}
	}
	return NULL;
}

/* A list key given again: its value continues the list (CFG_APPEND), and
 * the whole list is checked again (a name twice across lines). */
static void entry_append(struct cfg_sect *s, void *obj, struct entry *e, const struct cfg_key *def)
{
	char *cur = (char *)obj + def->offset, *all, why[160];
	size_t n = strnlen(cur, def->size), add = strlen(e->value);

	e->set = true;
	if (n + 2 + add >= def->size) {
		report(s->p, e->line,
		       "'%s' in %s is too long with this line (at most %zu characters)", e->key,
		       s->title, def->size - 1);
		return;
	}
	all = malloc(n + 3 + add);
	if (!all) {
		report(s->p, e->line, "out of memory");
		return;
	}
	/* An empty list so far (its first line was refused): this line starts
	 * it, and its own mistakes are reported, not the first line's. */
	memcpy(all, cur, n);
	memcpy(all + n, ", ", n ? 2 : 0);
	memcpy(all + n + (n ? 2 : 0), e->value, add + 1);
	if (def->type->parse(def, all, cur, why, sizeof(why)))
		report(s->p, e->line, "bad %s '%s' for '%s' in %s: %s", def->type->noun, e->value,
		       e->key, s->title, why);
	free(all);
}

static void entry_apply(struct cfg_sect *s, void *obj, struct entry *e)
{
	const struct cfg_kind *k = s->kind;
	const struct cfg_key *def;
	const struct cfg_type *from;
	char why[160];
	size_t i;

	if (k->types && !strcmp(e->key, k->type_key)) {
		type_key_apply(s, e);
		return;
	}
	def = entry_key(s, e->key, &from);
	if (!def) {
		int n = s->type ? key_types(k, e->key, why, sizeof(why)) : 0;

		if (n)
			report(s->p, e->line,
			       "'%s' does not apply to %s = %s in %s: it is a key of %s%s %s",
			       e->key, k->type_key, s->type->name, s->title, k->type_key,
			       n > 1 ? "s" : " =", why);
		else
			report(s->p, e->line, "unknown key '%s' in %s", e->key, s->title);
		return;
	}
	for (i = 0; &s->e[i] != e; i++) {
		const struct entry *o = &s->e[i];

		if (!o->def ||
		    (o->def != def && (o->from != from || o->def->offset != def->offset)))
			continue;
		if (o->def == def && (def->flags & CFG_APPEND))
			entry_append(s, obj, e, def);
		else if (o->def == def)
			report(s->p, e->line, "duplicate key '%s' in %s (first at line %u)", e->key,
			       s->title, o->line);
		else
			report(s->p, e->line, "'%s' and '%s' both set in %s (line %u): use one",
			       e->key, o->key, s->title, o->line);
		return;
	}
	/* Set even when the value is bad, so it is not also "missing". */
	e->set = true;
	e->def = def;
	e->from = from;
	if (def->type->parse(def, e->value, (char *)obj + def->offset, why, sizeof(why)))
		report(s->p, e->line, "bad %s '%s' for '%s' in %s: %s", def->type->noun, e->value,
		       e->key, s->title, why);
}

static void required(struct cfg_sect *s, const struct cfg_key *def)
{
	for (; def && def->name; def++)
		if ((def->flags & CFG_REQUIRED) && !cfg_key_line(s, def->name))
			report(s->p, s->line, "%s: missing required key '%s'", s->title, def->name);
}

/* The section is complete: make its object, apply its lines in order, then
 * what needs all of them (required keys, checks across keys). */
static void section_apply(struct cfg_sect *s)
{
	struct parser *p = s->p;
	const struct cfg_kind *k = s->kind;
	struct cfg_head *h;
	void *obj;
	size_t i;

	if (k->types) {
		for (i = 0; i < s->n && !s->type; i++)
			if (!strcmp(s->e[i].key, k->type_key))
				s->type = type_named(k, s->e[i].value);
	}
	if (s->scratch)
		obj = malloc(k->size);
	else if (k->single)
		obj = (char *)p->cfg + k->at;
	else
		obj = sect_add(p->cfg, k);
	if (!obj) {
		p->fatal = -ENOMEM;
		return;
	}
	obj_defaults(k, s->type, obj);
	h = obj;
	snprintf(h->name, sizeof(h->name), "%s", s->name);
	h->line_no = s->line;
	for (i = 0; i < s->n; i++)
		entry_apply(s, obj, &s->e[i]);
	if (!s->scratch) {
		required(s, k->keys);
		if (k->types && !cfg_key_line(s, k->type_key))
			report(p, s->line, "%s: missing required key '%s'", s->title, k->type_key);
		if (s->type)
			required(s, s->type->keys);
		if (k->check)
			k->check(s, obj);
		if (s->type && s->type->check)
			s->type->check(s, obj);
	} else {
		free(obj);
	}
}

static void section_end(struct parser *p)
{
	struct cfg_sect *s = &p->cur;
	size_t i;

	if (s->kind && !p->fatal)
		section_apply(s);
	for (i = 0; i < s->n; i++)
		free(s->e[i].key);
	free(s->e);
	memset(s, 0, sizeof(*s));
	s->p = p;
}

static int name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n < CFG_NAME_MAX &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
		       n;
}

/* `title` is the text between the brackets. */
static void section_start(struct parser *p, const char *title)
{
	struct cfg_sect *s = &p->cur;
	const struct cfg_kind *const *kp, *k = NULL;
	const char *name = NULL;
	unsigned first;
	size_t n;

	section_end(p);
	s->line = p->lineno;
	snprintf(s->title, sizeof(s->title), "[%s]", title);
	for (kp = cfg_kinds; *kp && !k; kp++) {
		n = strlen((*kp)->name);
		if (!strncmp(title, (*kp)->name, n) && (!title[n] || title[n] == '.')) {
			k = *kp;
			name = title[n] ? title + n + 1 : NULL;
		}
	}
	if (!k) {
		report(p, s->line, "unknown section %s", s->title);
		s->skip = true;
		return;
	}
	s->kind = k;
	if (!k->single && !name) {
		report(p, s->line, "bad section name %s: expected [%s.NAME]", s->title, k->name);
		s->scratch = true;
	} else if (!k->single && !name_ok(name)) {
		report(p, s->line, "bad section name %s: NAME must be 1 to %d of A-Z a-z 0-9 _ -",
		       s->title, CFG_NAME_MAX - 1);
		s->scratch = true;
	} else if (k->single && name) {
		report(p, s->line, "bad section name %s: expected [%s]", s->title, k->name);
		s->scratch = true;
	} else {
		first = sect_find(p->cfg, k, name);
		if (first) {
			report(p, s->line, "duplicate section %s (first at line %u)", s->title,
			       first);
			s->scratch = true;
		}
		for (kp = cfg_kinds; *kp && !first && k->names; kp++) {
			if (*kp == k || (*kp)->single || !(*kp)->names ||
			    strcmp((*kp)->names, k->names))
				continue;
			first = sect_find(p->cfg, *kp, name);
			if (first) {
				report(p, s->line,
				       "%s: the name '%s' is taken by [%s.%s] (line %u): %s names "
				       "are unique across kinds",
				       s->title, name, (*kp)->name, name, first, k->names);
				s->scratch = true;
			}
		}
	}
	if (!s->scratch && name)
		snprintf(s->name, sizeof(s->name), "%s", name);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	struct cfg_sect *s = &p->cur;
	struct entry *e;
	size_t kn;

	(void)section; /* ours is in p->cur: inih truncates long ones */
	if (p->fatal)
		return 1;
	if (!s->kind) {
		if (!s->skip)
			report(p, p->lineno, "key '%s' outside of any section", name);
		return 1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;

		e = realloc(s->e, cap * sizeof(*e));
		if (!e) {
			p->fatal = -ENOMEM;
			return 1;
		}
		s->e = e;
		s->cap = cap;
	}
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	kn = strlen(name);
	e->key = malloc(kn + strlen(value) + 2);
	if (!e->key) {
		p->fatal = -ENOMEM;
		return 1;
	}
	memcpy(e->key, name, kn + 1);
	e->value = e->key + kn + 1;
	strcpy(e->value, value);
	e->line = p->lineno;
	s->n++;
	return 1;
}

/* The next raw line, without its "\n": 1, 0 at the end, or -errno. */
static int next_line(struct parser *p, const char **line, size_t *len)
{
	if (p->fp) {
		ssize_t n;

		errno = 0;
		n = getline(&p->buf, &p->bufsize, p->fp);
		if (n < 0)
			return feof(p->fp) ? 0 : (errno ? -errno : -EIO);
		*line = p->buf;
		*len = (size_t)n;
	} else {
		const char *nl;

		if (p->mem >= p->mem_end)
			return 0;
		nl = memchr(p->mem, '\n', (size_t)(p->mem_end - p->mem));
		*line = p->mem;
		*len = nl ? (size_t)(nl - p->mem + 1) : (size_t)(p->mem_end - p->mem);
		p->mem += *len;
	}
	if (*len && (*line)[*len - 1] == '\n')
		(*len)--;
	return 1;
}

static char *lskip(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

static char *rstrip(char *s)
{
	char *e = s + strlen(s);

	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int key_char(char c)
{
	return is_digit(c) || isalpha((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* One line: checked here, then handed to inih as "\n" or "key=value\n". */
static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	char work[CFG_LINE_MAX + 1], *s, *eq, *v, *c;
	const char *raw = NULL;
	size_t n = 0, kn, vn;
	int rc;

	if (p->fatal || num < 2)
		return NULL;
	rc = next_line(p, &raw, &n);
	if (rc <= 0) {
		p->fatal = rc;
		return NULL;
	}
	p->lineno++;
	strcpy(str, "\n");
	if (n && raw[n - 1] == '\r')
		n--;
	if (p->lineno == 1 && n >= 3 && !memcmp(raw, "\xEF\xBB\xBF", 3)) {
		raw += 3;
		n -= 3;
	}
	if (n > CFG_LINE_MAX) {
		report(p, p->lineno, "line too long (%zu characters, at most %d)", n, CFG_LINE_MAX);
		return str;
	}
	if (memchr(raw, '\0', n)) {
		report(p, p->lineno, "syntax error: NUL byte in line");
		return str;
	}
	memcpy(work, raw, n);
	work[n] = '\0';
	s = rstrip(lskip(work));
	if (!*s || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		c = strchr(s, ']');
		if (!c) {
			report(p, p->lineno, "syntax error: missing ']'");
			return str;
		}
		*c++ = '\0';
		c = lskip(c);
		if (*c && *c != ';' && *c != '#') {
			report(p, p->lineno, "syntax error: text after ']'");
			return str;
		}
		section_start(p, s + 1);
		return str;
	}
	eq = strchr(s, '=');
	if (!eq) {
		report(p, p->lineno,
		       "syntax error: expected 'key = value', '[section]' or a comment");
		return str;
	}
	*eq = '\0';
	rstrip(s);
	if (!*s) {
		report(p, p->lineno, "syntax error: missing key before '='");
		return str;
	}
	for (c = s; *c; c++) {
		if (!key_char(*c)) {
			report(p, p->lineno, "syntax error: bad key name '%s'", s);
			return str;
		}
	}
	/* An inline comment is a ';' after a blank, as inih has it (isspace). */
	for (v = eq + 1; *v; v++) {
		if (*v == ';' && isspace((unsigned char)v[-1])) {
			*v = '\0';
			break;
		}
	}
	v = rstrip(lskip(eq + 1));
	kn = strlen(s);
	vn = strlen(v);
	if (kn + vn + 3 > (size_t)num) {
		report(p, p->lineno, "line too long");
		return str;
	}
	memcpy(str, s, kn);
	str[kn] = '=';
	memcpy(str + kn + 1, v, vn);
	memcpy(str + kn + 1 + vn, "\n", 2);
	return str;
}

void cfg_free(struct config *cfg)
{
	const struct cfg_kind *const *k;

	for (k = cfg_kinds; *k; k++)
		if (!(*k)->single)
			free(*(void **)((char *)cfg + (*k)->at));
	memset(cfg, 0, sizeof(*cfg));
}

static int parse(struct parser *p, const char *name, struct config *cfg, FILE *errs)
{
	const struct cfg_kind *const *k;
	int rc;

	p->cfg = cfg;
	p->errs = errs;
	p->name = name;
	p->cur.p = p;
	memset(cfg, 0, sizeof(*cfg));
	/* A kind that appears at most once has its defaults without a section. */
	for (k = cfg_kinds; *k; k++)
		if ((*k)->single)
			obj_defaults(*k, NULL, (char *)cfg + (*k)->at);
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);

	rc = ini_parse_stream(reader, p, on_key, p);
	section_end(p);
	free(p->buf);
	p->buf = NULL;
	if (rc < 0 && !p->fatal)
		p->fatal = -ENOMEM;
	/* Our reader hides every error from inih; this catches a mismatch. */
	if (rc > 0 && !p->nerr)
		report(p, (unsigned)rc, "syntax error");
	if (p->fatal) {
		report(p, 0, "cannot read: %s", strerror(-p->fatal));
		rc = p->fatal;
	} else {
		rc = p->nerr ? -EINVAL : 0;
	}
	if (p->errs)
		flush_reports(p);
	if (rc)
		cfg_free(cfg);
	return rc;
}

int cfg_load(const char *path, struct config *cfg, FILE *errs)
{
	struct parser p = {0};
	int rc;

	p.fp = fopen(path, "re");
	if (!p.fp) {
		rc = -errno;
		memset(cfg, 0, sizeof(*cfg));
		if (errs)
			fprintf(errs, "%s: cannot open: %s\n", path, strerror(-rc));
		return rc;
	}
	rc = parse(&p, path, cfg, errs);
	fclose(p.fp);
	return rc;
}

int cfg_load_mem(const char *name, const char *buf, size_t len, struct config *cfg, FILE *errs)
{
	struct parser p = {0};

	if (!buf)
		buf = "", len = 0;
	p.mem = buf;
	p.mem_end = buf + len;
	return parse(&p, name, cfg, errs);
}

/* Configuration parser.
 *
 * libinih splits "key = value" and calls us back, but on its own it reports
 * only the first syntax error, gives the handler no line numbers, truncates
 * section names to 50 bytes and treats an indented line as the continuation
 * of the previous value.  So every line goes through our reader first: it
 * counts lines, checks the syntax, handles section headers itself and hands
 * inih either a blank line or a normalised "key=value" line.  inih therefore
 * never sees anything it could misread, and the handler knows the line.
 *
 * Adding a section kind means a struct in config.h, a key table and one entry
 * in `kinds` below. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <syslog.h>

#include <ini.h>

#include "config.h"
#include "netaddr.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* inih (built with INI_MAX_LINE 200) needs room for "\r\n\0" after a line. */
#define CFG_LINE_MAX 198
#define MAX_KEYS     64 /* per section kind; key_line[] below */

#define NS_PER_MS  1000000LL
#define NS_PER_S   1000000000LL
#define NS_PER_MIN (60 * NS_PER_S)
#define NS_PER_H   (3600 * NS_PER_S)

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

/* The enums of config.h are stored through an int pointer. */
_Static_assert(sizeof(enum cfg_edge) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_bias) == sizeof(int), "enum size");

struct key_def;

/* Parse `s` into `field`; on failure leave `field` alone and explain in `why`. */
typedef int (*parse_fn)(const struct key_def *k, const char *s, void *field, char *why,
			size_t whylen);

struct val_type {
	const char *noun; /* "bad NOUN 'x' for 'key'" */
	parse_fn parse;
};

struct enum_val {
	const char *name;
	int value;
};

#define KEY_REQUIRED 1u
#define KEY_POW2     2u

struct key_def {
	const char *name;
	const struct val_type *type;
	size_t offset;
	size_t size;	  /* strings: capacity of the field */
	int64_t min, max; /* numbers in their own unit, durations in ns, strings: max length */
	const struct enum_val *enums;
	unsigned flags;
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
	if (ns != 0 && ns % NS_PER_H == 0)
		snprintf(buf, len, "%lldh", (long long)(ns / NS_PER_H));
	else if (ns != 0 && ns % NS_PER_MIN == 0)
		snprintf(buf, len, "%lldmin", (long long)(ns / NS_PER_MIN));
	else if (ns % NS_PER_S == 0)
		snprintf(buf, len, "%llds", (long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		snprintf(buf, len, "%lldms", (long long)(ns / NS_PER_MS));
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
	} units[] = {{"ms", NS_PER_MS}, {"s", NS_PER_S}, {"min", NS_PER_MIN}, {"h", NS_PER_H}};
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
			if (pow10 == NS_PER_S) {
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

static int string_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
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
static int listen_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
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
static int uint_check(const struct key_def *k, const char *s, uint64_t *v, char *why, size_t len)
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

static int u32_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
{
	uint64_t v;

	if (uint_check(k, s, &v, why, len))
		return -EINVAL;
	if ((k->flags & KEY_POW2) && (v & (v - 1)))
		return fail(why, len, "must be a power of two");
	*(uint32_t *)field = (uint32_t)v;
	return 0;
}

/* An integer number of milliseconds, stored as nanoseconds. */
static int ms_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
{
	uint64_t v;

	if (uint_check(k, s, &v, why, len))
		return -EINVAL;
	*(int64_t *)field = (int64_t)v * NS_PER_MS;
	return 0;
}

static int duration_key_parse(const struct key_def *k, const char *s, void *field, char *why,
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
static int double_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
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

static int bool_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
{
	(void)k;
	if (cfg_parse_bool(s, field))
		return fail(why, len, "expected yes/no, true/false, on/off or 1/0");
	return 0;
}

static int enum_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
{
	const struct enum_val *e;
	int n;

	for (e = k->enums; e->name; e++) {
		if (!strcasecmp(s, e->name)) {
			*(int *)field = e->value;
			return 0;
		}
	}
	n = snprintf(why, len, "expected one of");
	for (e = k->enums; e->name && n > 0 && (size_t)n < len; e++)
		n += snprintf(why + n, len - (size_t)n, "%s %s", e == k->enums ? ":" : ",",
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
	char *end;
	double v;
	size_t i;

	if (!is_digit(*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
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

static int size_parse(const struct key_def *k, const char *s, void *field, char *why, size_t len)
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

static const struct val_type t_string = {"value", string_parse};
static const struct val_type t_listen = {"address", listen_parse};
static const struct val_type t_u32 = {"number", u32_parse};
static const struct val_type t_ms = {"number", ms_parse};
static const struct val_type t_duration = {"duration", duration_key_parse};
static const struct val_type t_double = {"number", double_parse};
static const struct val_type t_bool = {"boolean", bool_parse};
static const struct val_type t_enum = {"value", enum_parse};
static const struct val_type t_size = {"size", size_parse};

#define FIELD(st, f) .offset = offsetof(st, f), .size = sizeof(((st *)0)->f)

/* ---------------------------------------------------------------- [daemon] */

static const struct enum_val log_levels[] = {{"error", LOG_ERR},
					     {"warning", LOG_WARNING},
					     {"info", LOG_INFO},
					     {"debug", LOG_DEBUG},
					     {0}};

#define D(f) FIELD(struct cfg_daemon, f)
static const struct key_def daemon_keys[] = {
	{"state_dir", &t_string, D(state_dir)},
	{"listen", &t_listen, D(listen)},
	{"socket", &t_string, D(socket), .max = SUN_PATH_MAX - 1},
	{"persist_interval", &t_duration, D(persist_interval_ns), .min = NS_PER_S,
	 .max = INT64_MAX},
	{"edge_ring", &t_u32, D(edge_ring), .min = 16, .max = 1048576, .flags = KEY_POW2},
	{"log_level", &t_enum, D(log_level), .enums = log_levels},
};
#undef D
_Static_assert(ARRAY_SIZE(daemon_keys) <= MAX_KEYS, "too many keys");

static void daemon_defaults(void *obj)
{
	struct cfg_daemon *d = obj;

	memset(d, 0, sizeof(*d));
	/* line_no stays 0 until a [daemon] section appears. */
	strcpy(d->state_dir, "/var/lib/powerd");
	strcpy(d->listen, "127.0.0.1:9480");
	strcpy(d->socket, "/run/powerd/powerd.sock");
	d->persist_interval_ns = 60 * NS_PER_S;
	d->edge_ring = 4096;
	d->log_level = LOG_INFO;
}

static void *daemon_add(struct config *cfg, const char *name, unsigned line)
{
	(void)name;
	/* Defaults are in place from the start: [daemon] is optional. */
	cfg->daemon.line_no = line;
	return &cfg->daemon;
}

/* ---------------------------------------------------------------- [pulse.NAME] */

static const struct enum_val edges[] = {
	{"rising", CFG_EDGE_RISING}, {"falling", CFG_EDGE_FALLING}, {0}};
static const struct enum_val biases[] = {{"pull-up", CFG_BIAS_PULL_UP},
					 {"pull-down", CFG_BIAS_PULL_DOWN},
					 {"disabled", CFG_BIAS_DISABLED},
					 {"as-is", CFG_BIAS_AS_IS},
					 {0}};

#define P(f) FIELD(struct cfg_pulse, f)
/* min_pulse_ms and min_pulse share a field, which makes setting both a
 * duplicate (see on_key). */
static const struct key_def pulse_keys[] = {
	{"chip", &t_string, P(chip)},
	{"line", &t_string, P(line)},
	{"edge", &t_enum, P(edge), .enums = edges},
	{"bias", &t_enum, P(bias), .enums = biases},
	{"impulses_per_kwh", &t_u32, P(impulses_per_kwh), .min = 1, .max = 1000000,
	 .flags = KEY_REQUIRED},
	{"min_pulse_ms", &t_ms, P(min_pulse_ns), .min = 0, .max = 10000},
	{"min_pulse", &t_duration, P(min_pulse_ns), .min = 0, .max = 10 * NS_PER_S},
	{"timeout", &t_duration, P(timeout_ns), .min = 1, .max = INT64_MAX},
	{"sample_interval", &t_duration, P(sample_interval_ns), .min = 100 * NS_PER_MS,
	 .max = INT64_MAX},
	{"replay", &t_string, P(replay)},
	{"speed", &t_double, P(speed), .min = 0, .max = 1000000000},
	{"loop", &t_bool, P(loop)},
};
#undef P
_Static_assert(ARRAY_SIZE(pulse_keys) <= MAX_KEYS, "too many keys");

static void pulse_defaults(void *obj)
{
	struct cfg_pulse *m = obj;

	memset(m, 0, sizeof(*m));
	m->edge = CFG_EDGE_FALLING;
	m->bias = CFG_BIAS_AS_IS;
	m->speed = 1.0;
	m->loop = false;
	m->min_pulse_ns = 5 * NS_PER_MS;
	m->timeout_ns = 5 * NS_PER_MIN;
	m->sample_interval_ns = 10 * NS_PER_S;
}

static void *pulse_add(struct config *cfg, const char *name, unsigned line)
{
	struct cfg_pulse *v, *m;

	v = realloc(cfg->pulses, (cfg->npulses + 1) * sizeof(*v));
	if (!v)
		return NULL;
	cfg->pulses = v;
	m = &v[cfg->npulses++];
	pulse_defaults(m);
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->line_no = line;
	return m;
}

static unsigned pulse_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->npulses; i++)
		if (!strcmp(cfg->pulses[i].name, name))
			return cfg->pulses[i].line_no;
	return 0;
}

/* ---------------------------------------------------------------- parser */

struct parser;

/* The section being read.  `obj` is the object in the configuration, or a
 * scratch copy for a duplicate or badly named section, whose keys are still
 * checked so that one run reports everything. */
struct section {
	const struct sect_kind *kind; /* NULL: before any section, or unknown kind */
	bool skip;		      /* unknown kind: its keys are not reported */
	bool scratch;
	void *obj;
	unsigned line;
	char title[CFG_LINE_MAX + 3]; /* "[pulse.house]" */
	unsigned key_line[MAX_KEYS];  /* per key of the kind, 0 = not set */
};

struct sect_kind {
	const char *kind;
	bool named; /* [kind.NAME], several; else [kind], at most once */
	size_t size;
	const struct key_def *keys;
	size_t nkeys;
	void (*defaults)(void *obj);
	/* The object for a new section; NULL when out of memory. */
	void *(*add)(struct config *cfg, const char *name, unsigned line);
	/* Named kinds: header line of the section called `name`, or 0. */
	unsigned (*find)(const struct config *cfg, const char *name);
	/* Checks across keys, once the section is complete. */
	void (*check)(struct parser *p, const struct section *s);
};

static void pulse_check(struct parser *p, const struct section *s);
static unsigned key_line(const struct section *s, const char *name);
__attribute__((format(printf, 3, 4))) static void report(struct parser *p, unsigned line,
							 const char *fmt, ...);

static const struct enum_val sink_types[] = {{"influxdb", CFG_SINK_INFLUXDB},
					     {"file", CFG_SINK_FILE},
					     {"mqtt", CFG_SINK_MQTT},
					     {"cloudwatch", CFG_SINK_CLOUDWATCH},
					     {0}};
static const struct enum_val fsyncs[] = {{"batch", CFG_FSYNC_BATCH},
					 {"interval", CFG_FSYNC_INTERVAL},
					 {"never", CFG_FSYNC_NEVER},
					 {0}};
static const struct enum_val mqtt_formats[] = {
	{"json", CFG_MQTT_JSON}, {"pico", CFG_MQTT_PICO}, {0}};

#define S(f) FIELD(struct cfg_sink, f)
static const struct key_def sink_keys[] = {
	{"type", &t_enum, S(type), .enums = sink_types, .flags = KEY_REQUIRED},
	{"batch_size", &t_u32, S(batch_size), .min = 1, .max = 1000000},
	{"flush_interval", &t_duration, S(flush_interval_ns), .min = 10 * NS_PER_MS,
	 .max = 3600 * NS_PER_S},
	{"spool_max", &t_size, S(spool_max), .min = 65536, .max = INT64_MAX},
	{"spool_fsync", &t_enum, S(spool_fsync), .enums = fsyncs},
	{"memory_max", &t_size, S(memory_max), .min = 65536, .max = 1ULL << 32},
	{"timeout", &t_duration, S(timeout_ns), .min = 100 * NS_PER_MS, .max = 3600 * NS_PER_S},
	{"retry_base", &t_duration, S(retry_base_ns), .min = 10 * NS_PER_MS,
	 .max = 3600 * NS_PER_S},
	{"retry_max", &t_duration, S(retry_max_ns), .min = 10 * NS_PER_MS,
	 .max = 24 * 3600 * NS_PER_S},
	{"change_detection", &t_bool, S(change_detection)},
	{"heartbeat", &t_duration, S(heartbeat_ns), .min = 1 * NS_PER_S, .max = INT64_MAX},
	{"freshness", &t_duration, S(freshness_ns), .min = 1 * NS_PER_S, .max = INT64_MAX},
	{"url", &t_string, S(url)},
	{"database", &t_string, S(database)},
	{"retention_policy", &t_string, S(retention_policy)},
	{"username", &t_string, S(username)},
	{"password", &t_string, S(password)},
	{"org", &t_string, S(org)},
	{"bucket", &t_string, S(bucket)},
	{"token", &t_string, S(token)},
	{"gzip", &t_bool, S(gzip)},
	{"path", &t_string, S(path)},
	{"host", &t_string, S(host)},
	{"port", &t_u32, S(port), .min = 1, .max = 65535},
	{"client_id", &t_string, S(client_id)},
	{"topic_prefix", &t_string, S(topic_prefix)},
	{"format", &t_enum, S(format), .enums = mqtt_formats},
	{"pico_host", &t_string, S(pico_host)},
	{"tls", &t_bool, S(tls)},
	{"ca_file", &t_string, S(ca_file)},
	{"ha_discovery", &t_bool, S(ha_discovery)},
	{"ha_prefix", &t_string, S(ha_prefix)},
	{"region", &t_string, S(region)},
	{"namespace", &t_string, S(namespace_)},
	{"endpoint", &t_string, S(endpoint)},
	{"credentials_file", &t_string, S(credentials_file)},
	{"profile", &t_string, S(profile)},
	{"max_age", &t_duration, S(max_age_ns), .min = 1 * NS_PER_S, .max = INT64_MAX},
};

_Static_assert(ARRAY_SIZE(sink_keys) <= MAX_KEYS, "too many keys");

static void sink_defaults(void *obj)
{
	struct cfg_sink *k = obj;

	memset(k, 0, sizeof(*k));
	k->batch_size = 5000;
	k->flush_interval_ns = 1 * NS_PER_S;
	k->spool_max = 256000000ULL;
	k->spool_fsync = CFG_FSYNC_BATCH;
	k->memory_max = 8ULL << 20;
	k->timeout_ns = 10 * NS_PER_S;
	k->retry_base_ns = 1 * NS_PER_S;
	k->retry_max_ns = 5 * NS_PER_MIN;
	k->heartbeat_ns = 5 * NS_PER_MIN;
	k->freshness_ns = 2 * NS_PER_MIN;
	k->gzip = true;
	snprintf(k->host, sizeof(k->host), "127.0.0.1");
	snprintf(k->topic_prefix, sizeof(k->topic_prefix), "powerd");
	snprintf(k->ha_prefix, sizeof(k->ha_prefix), "homeassistant");
	k->max_age_ns = 14LL * 24 * 3600 * NS_PER_S;
}

static void *sink_add(struct config *cfg, const char *name, unsigned line)
{
	struct cfg_sink *v, *k;

	v = realloc(cfg->sinks, (cfg->nsinks + 1) * sizeof(*v));
	if (!v)
		return NULL;
	cfg->sinks = v;
	k = &v[cfg->nsinks++];
	sink_defaults(k);
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->line_no = line;
	return k;
}

static unsigned sink_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nsinks; i++)
		if (!strcmp(cfg->sinks[i].name, name))
			return cfg->sinks[i].line_no;
	return 0;
}

/* Which keys belong to which type: a key of another type is an error, so a
 * typo such as "bucket" on an influxdb v1 sink is never silently ignored. */
static const char *const sink_only[][12] = {
	[CFG_SINK_INFLUXDB] = {"url", "database", "retention_policy", "username", "password", "org",
			       "bucket", "token", "gzip", "ca_file"},
	[CFG_SINK_FILE] = {"path"},
	[CFG_SINK_MQTT] = {"host", "port", "client_id", "topic_prefix", "format", "pico_host",
			   "tls", "ca_file", "ha_discovery", "ha_prefix", "username", "password"},
	[CFG_SINK_CLOUDWATCH] = {"region", "namespace", "endpoint", "credentials_file", "profile",
				 "max_age"},
};

static bool sink_key_allowed(enum cfg_sink_type t, const char *key)
{
	size_t i, j;
	bool typed = false;

	for (i = 0; i < ARRAY_SIZE(sink_only); i++)
		for (j = 0; j < ARRAY_SIZE(sink_only[i]) && sink_only[i][j]; j++)
			if (!strcmp(sink_only[i][j], key)) {
				typed = true;
				if (i == t)
					return true;
			}
	return !typed;
}

static void sink_check(struct parser *p, const struct section *s)
{
	const struct cfg_sink *k = s->obj;
	size_t i;

	if (!key_line(s, "type"))
		return;
	for (i = 0; i < s->kind->nkeys; i++)
		if (s->key_line[i] && !sink_key_allowed(k->type, s->kind->keys[i].name))
			report(p, s->key_line[i], "'%s' does not apply to type = %s in %s",
			       s->kind->keys[i].name, sink_types[k->type].name, s->title);
	switch (k->type) {
	case CFG_SINK_INFLUXDB:
		if (!key_line(s, "url"))
			report(p, s->line, "%s: missing required key 'url'", s->title);
		else if (strncmp(k->url, "http://", 7) && strncmp(k->url, "https://", 8))
			report(p, key_line(s, "url"),
			       "'url' must start with http:// or https:// in %s", s->title);
		if (key_line(s, "database") && key_line(s, "bucket"))
			report(p, key_line(s, "bucket"),
			       "%s: set 'database' (InfluxDB 1.x) or 'org', 'bucket', 'token' "
			       "(2.x), not both",
			       s->title);
		else if (!key_line(s, "database") && !key_line(s, "bucket"))
			report(p, s->line,
			       "%s: missing 'database' (InfluxDB 1.x) or 'bucket' (2.x)", s->title);
		else if (key_line(s, "bucket") && !key_line(s, "org"))
			report(p, s->line, "%s: missing required key 'org' (InfluxDB 2.x)",
			       s->title);
		break;
	case CFG_SINK_FILE:
		if (!key_line(s, "path"))
			report(p, s->line, "%s: missing required key 'path'", s->title);
		break;
	case CFG_SINK_MQTT:
		if (key_line(s, "pico_host") && k->format != CFG_MQTT_PICO)
			report(p, key_line(s, "pico_host"),
			       "'pico_host' needs 'format = pico' in %s", s->title);
		break;
	case CFG_SINK_CLOUDWATCH:
		if (!key_line(s, "namespace"))
			report(p, s->line, "%s: missing required key 'namespace'", s->title);
		break;
	}
	if (k->retry_base_ns > k->retry_max_ns)
		report(p, key_line(s, "retry_base") ? key_line(s, "retry_base") : s->line,
		       "'retry_base' is larger than 'retry_max' in %s", s->title);
}

static const struct sect_kind kinds[] = {
	{"daemon", false, sizeof(struct cfg_daemon), daemon_keys, ARRAY_SIZE(daemon_keys),
	 daemon_defaults, daemon_add, NULL, NULL},
	{"pulse", true, sizeof(struct cfg_pulse), pulse_keys, ARRAY_SIZE(pulse_keys),
	 pulse_defaults, pulse_add, pulse_find, pulse_check},
	{"sink", true, sizeof(struct cfg_sink), sink_keys, ARRAY_SIZE(sink_keys), sink_defaults,
	 sink_add, sink_find, sink_check},
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
	int fatal;			  /* -errno: cannot read, out of memory */
	unsigned once[ARRAY_SIZE(kinds)]; /* unnamed kinds: line of the first */
	struct section cur;
};

__attribute__((format(printf, 3, 4))) static void report(struct parser *p, unsigned line,
							 const char *fmt, ...)
{
	va_list ap;

	p->nerr++;
	if (!p->errs)
		return;
	if (line)
		fprintf(p->errs, "%s:%u: ", p->name, line);
	else
		fprintf(p->errs, "%s: ", p->name);
	va_start(ap, fmt);
	vfprintf(p->errs, fmt, ap);
	va_end(ap);
	fputc('\n', p->errs);
}

static unsigned key_line(const struct section *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->kind->nkeys; i++)
		if (!strcmp(s->kind->keys[i].name, name))
			return s->key_line[i];
	return 0;
}

static void pulse_check(struct parser *p, const struct section *s)
{
	unsigned replay = key_line(s, "replay"), chip = key_line(s, "chip"),
		 line = key_line(s, "line"), speed = key_line(s, "speed"),
		 loop = key_line(s, "loop");

	if (replay) {
		const struct cfg_pulse *c = s->obj;

		if (chip || line)
			report(p, replay, "'replay' cannot be combined with %s in %s",
			       chip && line ? "'chip' and 'line'"
			       : chip	    ? "'chip'"
					    : "'line'",
			       s->title);
		/* Replay maps trace time onto the clock either 1:1 or not at all. */
		if (speed && c->speed != 0 && c->speed != 1)
			report(p, speed,
			       "'speed' must be 0 (as fast as possible) or 1 (real time) in %s",
			       s->title);
		if (loop && c->loop && c->speed == 0)
			report(p, loop,
			       "'loop = yes' needs 'speed = 1' in %s (at speed 0 it would never "
			       "end)",
			       s->title);
		return;
	}
	if (!chip)
		report(p, s->line, "%s: missing required key 'chip' (or set 'replay')", s->title);
	if (!line)
		report(p, s->line, "%s: missing required key 'line' (or set 'replay')", s->title);
	if (speed)
		report(p, speed, "'speed' needs 'replay' in %s", s->title);
	if (loop)
		report(p, loop, "'loop' needs 'replay' in %s", s->title);
}

static void section_end(struct parser *p)
{
	struct section *s = &p->cur;
	size_t i;

	if (s->kind && !s->scratch && !p->fatal) {
		for (i = 0; i < s->kind->nkeys; i++)
			if ((s->kind->keys[i].flags & KEY_REQUIRED) && !s->key_line[i])
				report(p, s->line, "%s: missing required key '%s'", s->title,
				       s->kind->keys[i].name);
		if (s->kind->check)
			s->kind->check(p, s);
	}
	if (s->scratch)
		free(s->obj);
	memset(s, 0, sizeof(*s));
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
	struct section *s = &p->cur;
	const struct sect_kind *k = NULL;
	const char *name = NULL;
	unsigned first = 0;
	size_t i, n;

	section_end(p);
	s->line = p->lineno;
	snprintf(s->title, sizeof(s->title), "[%s]", title);
	for (i = 0; i < ARRAY_SIZE(kinds) && !k; i++) {
		n = strlen(kinds[i].kind);
		if (!strncmp(title, kinds[i].kind, n) && (!title[n] || title[n] == '.')) {
			k = &kinds[i];
			name = title[n] ? title + n + 1 : NULL;
		}
	}
	if (!k) {
		report(p, s->line, "unknown section %s", s->title);
		s->skip = true;
		return;
	}
	s->kind = k;
	if (k->named && !name) {
		report(p, s->line, "bad section name %s: expected [%s.NAME]", s->title, k->kind);
		s->scratch = true;
	} else if (k->named && !name_ok(name)) {
		report(p, s->line, "bad section name %s: NAME must be 1 to %d of A-Z a-z 0-9 _ -",
		       s->title, CFG_NAME_MAX - 1);
		s->scratch = true;
	} else if (!k->named && name) {
		report(p, s->line, "bad section name %s: expected [%s]", s->title, k->kind);
		s->scratch = true;
	} else {
		first = k->named ? k->find(p->cfg, name) : p->once[k - kinds];
		if (first) {
			report(p, s->line, "duplicate section %s (first at line %u)", s->title,
			       first);
			s->scratch = true;
		}
	}
	if (s->scratch) {
		s->obj = malloc(k->size);
		if (s->obj)
			k->defaults(s->obj);
	} else {
		s->obj = k->add(p->cfg, name ? name : "", s->line);
		if (!k->named)
			p->once[k - kinds] = s->line;
	}
	if (!s->obj) {
		p->fatal = -ENOMEM;
		s->kind = NULL;
		s->scratch = false;
	}
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	struct section *s = &p->cur;
	const struct key_def *k = NULL;
	char why[160];
	size_t i;

	(void)section; /* ours is in p->cur: inih truncates long ones */
	if (p->fatal)
		return 1;
	if (!s->kind) {
		if (!s->skip)
			report(p, p->lineno, "key '%s' outside of any section", name);
		return 1;
	}
	for (i = 0; i < s->kind->nkeys && !k; i++)
		if (!strcmp(s->kind->keys[i].name, name))
			k = &s->kind->keys[i];
	if (!k) {
		report(p, p->lineno, "unknown key '%s' in %s", name, s->title);
		return 1;
	}
	for (i = 0; i < s->kind->nkeys; i++) {
		const struct key_def *o = &s->kind->keys[i];

		if (!s->key_line[i] || o->offset != k->offset)
			continue;
		if (o == k)
			report(p, p->lineno, "duplicate key '%s' in %s (first at line %u)", name,
			       s->title, s->key_line[i]);
		else
			report(p, p->lineno, "'%s' and '%s' both set in %s (line %u): use one",
			       name, o->name, s->title, s->key_line[i]);
		return 1;
	}
	/* Set even when the value is bad, so it is not also "missing". */
	s->key_line[k - s->kind->keys] = p->lineno;
	if (k->type->parse(k, value, (char *)s->obj + k->offset, why, sizeof(why)))
		report(p, p->lineno, "bad %s '%s' for '%s' in %s: %s", k->type->noun, value, name,
		       s->title, why);
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
	free(cfg->pulses);
	free(cfg->sinks);
	memset(cfg, 0, sizeof(*cfg));
}

static int parse(struct parser *p, const char *name, struct config *cfg, FILE *errs)
{
	int rc;

	p->cfg = cfg;
	p->errs = errs;
	p->name = name;
	memset(cfg, 0, sizeof(*cfg));
	daemon_defaults(&cfg->daemon);
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

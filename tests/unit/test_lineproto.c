/* Line protocol: a table of tricky cases with the exact expected line, the
 * longest line there is, a round trip of random names through
 * an independent parser that follows the reference's escaping rules, and
 * the encode rate (printed, not asserted). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "lineproto.h"
#include "sample.h"

struct lp_field_spec {
	const char *k;
	enum sample_type t;
	double f;
	int64_t i;
	bool b;
	const char *s;
};

/* A string of n copies of c (n < 128). */
static const char *rep_str(char c, size_t n)
{
	static char b[2][128];
	static int k;
	char *p = b[k++ & 1];

	memset(p, c, n);
	p[n] = '\0';
	return p;
}

#define LP_CASE_TAGS   6
#define LP_CASE_FIELDS 6

struct lp_case {
	const char *name;
	const char *m;
	struct {
		const char *k, *v;
	} tags[LP_CASE_TAGS];
	struct lp_field_spec fields[LP_CASE_FIELDS];
	int64_t ts;
	const char *want; /* NULL: -EINVAL, nothing appended */
};

#define F(key, val)                                                                                \
	{                                                                                          \
		key, SAMPLE_FLOAT, val, 0, false, NULL                                             \
	}
#define I(key, val)                                                                                \
	{                                                                                          \
		key, SAMPLE_INT, 0, val, false, NULL                                               \
	}
#define B(key, val)                                                                                \
	{                                                                                          \
		key, SAMPLE_BOOL, 0, 0, val, NULL                                                  \
	}
#define S(key, val)                                                                                \
	{                                                                                          \
		key, SAMPLE_STRING, 0, 0, false, val                                               \
	}

static const struct lp_case cases[] = {
	{"basic",
	 "pulse",
	 {{"meter", "house"}},
	 {F("power_w", 1234.5), F("energy_wh", 10), F("interval_s", 2.25)},
	 1700000000123456789LL,
	 "pulse,meter=house power_w=1234.5,energy_wh=10,interval_s=2.25 1700000000123456789\n"},
	{"measurement: comma and space escaped, equals sign not",
	 "my meas,x=y",
	 {},
	 {I("v", 1)},
	 1,
	 "my\\ meas\\,x=y v=1i 1\n"},
	{"tag key and value: comma, equals sign, space",
	 "m",
	 {{"k ,=", "v ,="}},
	 {F("f", 1)},
	 1,
	 "m,k\\ \\,\\==v\\ \\,\\= f=1 1\n"},
	{"field key: comma, equals sign, space",
	 "m",
	 {},
	 {F("f ,=x", 1)},
	 1,
	 "m f\\ \\,\\=x=1 1\n"},
	{"string field: quotes and backslashes",
	 "m",
	 {},
	 {S("s", "say \"hi\" \\o/")},
	 1,
	 "m s=\"say \\\"hi\\\" \\\\o/\" 1\n"},
	{"string field: comma, equals sign, space as is",
	 "m",
	 {},
	 {S("s", "a, b=c")},
	 1,
	 "m s=\"a, b=c\" 1\n"},
	{"unicode",
	 "m",
	 {{"ort", "Zürich €😀"}},
	 {S("s", "ü€😀")},
	 1,
	 "m,ort=Zürich\\ €😀 s=\"ü€😀\" 1\n"},
	{"backslash inside a tag value", "m", {{"t", "a\\b"}}, {F("f", 1)}, 1, "m,t=a\\b f=1 1\n"},
	{"backslash at the end of a tag value",
	 "m",
	 {{"t", "end\\"}},
	 {F("f", 1)},
	 1,
	 "m,t=end\\\\ f=1 1\n"},
	{"two backslashes", "m", {{"t", "x\\\\y"}}, {F("f", 1)}, 1, "m,t=x\\\\\\y f=1 1\n"},
	{"backslash before a comma",
	 "m",
	 {{"t", "a\\,b"}},
	 {F("f", 1)},
	 1,
	 "m,t=a\\\\\\,b f=1 1\n"},
	{"backslash before an equals sign in a tag key",
	 "m",
	 {{"k\\=", "v"}},
	 {F("f", 1)},
	 1,
	 "m,k\\\\\\==v f=1 1\n"},
	{"backslash at the end of the measurement and a field key",
	 "m\\",
	 {},
	 {F("f\\", 1)},
	 1,
	 "m\\\\ f\\\\=1 1\n"},
	{"backslash before a quote in a tag",
	 "m",
	 {{"t", "a\\\""}},
	 {F("f", 1)},
	 1,
	 "m,t=a\\\" f=1 1\n"},
	{"backslash at the end of a string field",
	 "m",
	 {},
	 {S("s", "c:\\")},
	 1,
	 "m s=\"c:\\\\\" 1\n"},
	{"empty string field", "m", {}, {S("s", "")}, 1, "m s=\"\" 1\n"},
	{"integers",
	 "m",
	 {},
	 {I("a", -42), I("b", INT64_MIN), I("c", INT64_MAX), I("d", 0)},
	 1,
	 "m a=-42i,b=-9223372036854775808i,c=9223372036854775807i,d=0i 1\n"},
	{"bools", "m", {}, {B("t", true), B("f", false)}, 1, "m t=true,f=false 1\n"},
	{"floats",
	 "m",
	 {},
	 {F("a", -0.0), F("b", 1e-300), F("c", 1e300), F("d", 0.1), F("e", 1.0 / 3),
	  F("f", 0.1 + 0.2)},
	 1,
	 "m a=-0,b=1e-300,c=1e+300,d=0.1,e=0.3333333333333333,f=0.30000000000000004 1\n"},
	{"extreme floats",
	 "m",
	 {},
	 {F("a", DBL_MAX), F("b", 4.9406564584124654e-324), F("c", 123456789012345680.0),
	  F("d", -1.5e-7), F("e", 100)},
	 1,
	 "m a=1.7976931348623157e+308,b=4.94065645841247e-324,c=1.2345678901234568e+17,"
	 "d=-1.5e-07,e=100 1\n"},
	{"NaN and infinities left out",
	 "m",
	 {},
	 {F("a", NAN), F("b", 1), F("c", INFINITY), F("d", -INFINITY)},
	 1,
	 "m b=1 1\n"},
	{"NaN only: rejected", "m", {{"t", "x"}}, {F("a", NAN)}, 1, NULL},
	{"infinities only: rejected", "m", {}, {F("a", INFINITY), F("b", -INFINITY)}, 1, NULL},
	{"no field: rejected", "m", {{"t", "x"}}, {}, 1, NULL},
	{"tags sorted by key, bytewise",
	 "m",
	 {{"z", "1"}, {"a", "2"}, {"m", "3"}, {"B", "4"}},
	 {F("f", 1)},
	 1,
	 "m,B=4,a=2,m=3,z=1 f=1 1\n"},
	{"empty tag value left out", "m", {{"a", ""}, {"b", "x"}}, {F("f", 1)}, 1, "m,b=x f=1 1\n"},
	{"newlines become spaces",
	 "m\nx",
	 {{"t", "a\nb"}},
	 {F("f\r", 1), S("s", "l1\nl2\r")},
	 1,
	 "m\\ x,t=a\\ b f\\ =1,s=\"l1 l2 \" 1\n"},
	{"keys equal once newlines are spaces: the first is kept",
	 "m",
	 {{"t\n", "a"}, {"t ", "b"}},
	 {F("f\n", 1), F("f ", 2)},
	 1,
	 "m,t\\ =a f\\ =1 1\n"},
	{"backslash before a newline",
	 "m",
	 {{"t", "a\\\n"}},
	 {F("f", 1)},
	 1,
	 "m,t=a\\\\\\  f=1 1\n"},
	{"tab is an ordinary character", "m", {{"t", "a\tb"}}, {F("f", 1)}, 1, "m,t=a\tb f=1 1\n"},
	{"'#' after the first character", "a#b", {}, {F("f", 1)}, 1, "a#b f=1 1\n"},
	{"negative timestamp", "m", {}, {F("f", 1)}, -1, "m f=1 -1\n"},
	{"zero timestamp", "m", {}, {F("f", 1)}, 0, "m f=1 0\n"},
};

static void build(const struct lp_case *c, struct sample *s)
{
	int i;

	CHECK_EQ_INT(sample_init(s, c->m, c->ts), 0);
	for (i = 0; i < LP_CASE_TAGS && c->tags[i].k; i++)
		CHECK_EQ_INT(sample_tag(s, c->tags[i].k, c->tags[i].v), 0);
	for (i = 0; i < LP_CASE_FIELDS && c->fields[i].k; i++) {
		const struct lp_field_spec *f = &c->fields[i];

		switch (f->t) {
		case SAMPLE_FLOAT:
			CHECK_EQ_INT(sample_float(s, f->k, f->f), 0);
			break;
		case SAMPLE_INT:
			CHECK_EQ_INT(sample_int(s, f->k, f->i), 0);
			break;
		case SAMPLE_BOOL:
			CHECK_EQ_INT(sample_bool(s, f->k, f->b), 0);
			break;
		case SAMPLE_STRING:
			CHECK_EQ_INT(sample_string(s, f->k, f->s), 0);
			break;
		}
	}
}

static void test_table(void)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	/* Lines append to what the buffer holds. */
	buf_append(&b, "#prefix\n", 8);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct lp_case *c = &cases[i];
		struct sample s;
		struct sample_view v;
		size_t before = b.len;
		int r;

		build(c, &s);
		CHECK(sample_view_of(&v, &s) > 0);
		r = lp_encode(&v, &b);
		sample_free(&s);
		if (c->want) {
			if (r != 0 || strcmp(b.data + before, c->want)) {
				fprintf(stderr,
					"%s:%d: case '%s':\n  got  (%d) [%s]\n  want      [%s]\n",
					__FILE__, __LINE__, c->name, r, b.data + before, c->want);
				CHECK(0);
			} else {
				CHECK(1);
			}
		} else {
			if (r != -EINVAL || b.len != before) {
				fprintf(stderr,
					"%s:%d: case '%s': want -EINVAL and nothing written\n",
					__FILE__, __LINE__, c->name);
			}
			CHECK_EQ_INT(r, -EINVAL);
			CHECK_EQ_INT(b.len, before);
		}
	}
	CHECK(!strncmp(b.data, "#prefix\npulse,", 14));
	buf_free(&b);
}

/* The longest line there is (every character escaped, every tag and field
 * at its longest), and a buffer that failed to grow. */
static void test_longest(void)
{
	char key[SAMPLE_KEY_MAX];
	struct sample_view v;
	struct sample s;
	struct buf b;
	int i;

	sample_init(&s, rep_str(',', SAMPLE_KEY_MAX - 1), INT64_MIN);
	for (i = 0; i < SAMPLE_MAX_TAGS; i++) {
		memset(key, '=', SAMPLE_KEY_MAX - 1);
		key[0] = (char)('a' + i);
		key[SAMPLE_KEY_MAX - 1] = '\0';
		CHECK_EQ_INT(sample_tag(&s, key, rep_str('\\', SAMPLE_STR_MAX - 1)), 0);
	}
	for (i = 0; i < SAMPLE_MAX_FIELDS; i++) {
		memset(key, ' ', SAMPLE_KEY_MAX - 1);
		key[0] = (char)('a' + i); /* 'a' to 0xe0: none of them special */
		key[SAMPLE_KEY_MAX - 1] = '\0';
		CHECK_EQ_INT(sample_string(&s, key, rep_str('"', SAMPLE_STR_MAX - 1)), 0);
	}
	CHECK_EQ_INT(sample_len(&s), SAMPLE_PACK_MAX);
	CHECK(sample_view_of(&v, &s) > 0);
	buf_init(&b);
	CHECK_EQ_INT(lp_encode(&v, &b), 0);
	/* 62 + 16 tags of (1 + 61 + 1 + 126) + 128 fields of (1 + 61 + 1 + 128)
	 * + " -9223372036854775808\n" */
	CHECK_EQ_INT(b.len, 62 + SAMPLE_MAX_TAGS * 189 + SAMPLE_MAX_FIELDS * 191 + 22);
	CHECK_EQ_INT(strlen(b.data), b.len);

	/* A buffer that failed to grow stays failed, and nothing is added. */
	b.err = -ENOMEM;
	b.len = 0;
	CHECK_EQ_INT(lp_encode(&v, &b), -ENOMEM);
	CHECK_EQ_INT(b.len, 0);
	buf_free(&b);
	sample_free(&s);
}

/* ---------------------------------------------- reference parser (v2 rules) */

/* Is p[0] escaped, i.e. preceded by an odd run of backslashes since start? */
static int ref_escaped(const char *start, const char *p)
{
	int n = 0;

	while (p > start && p[-1] == '\\') {
		n++;
		p--;
	}
	return n & 1;
}

static const char *ref_scan(const char *start, const char *stops)
{
	const char *p = start;

	while (*p && !(strchr(stops, *p) && !ref_escaped(start, p)))
		p++;
	return p;
}

/* Unescape a measurement, tag key/value or field key: backslash followed
 * by comma, equals sign, space or backslash is that character; any other
 * backslash is literal. */
static void ref_unescape(const char *a, const char *e, char *out)
{
	while (a < e) {
		if (*a == '\\' && a + 1 < e && strchr(",= \\", a[1]))
			a++;
		*out++ = *a++;
	}
	*out = '\0';
}

struct ref_point {
	char m[128];
	int ntags, nfields;
	char tk[SAMPLE_MAX_TAGS][128], tv[SAMPLE_MAX_TAGS][256];
	char fk[SAMPLE_MAX_FIELDS][128], fv[SAMPLE_MAX_FIELDS][256];
	int fstr[SAMPLE_MAX_FIELDS];
	long long ts;
};

static int ref_parse(const char *line, struct ref_point *pt)
{
	const char *p = line, *e;

	memset(pt, 0, sizeof(*pt));
	e = ref_scan(p, ", ");
	ref_unescape(p, e, pt->m);
	p = e;
	while (*p == ',') {
		if (pt->ntags == SAMPLE_MAX_TAGS)
			return -1;
		e = ref_scan(++p, "=");
		if (*e != '=')
			return -1;
		ref_unescape(p, e, pt->tk[pt->ntags]);
		p = e + 1;
		e = ref_scan(p, ", ");
		ref_unescape(p, e, pt->tv[pt->ntags++]);
		p = e;
	}
	if (*p++ != ' ')
		return -1;
	do {
		if (pt->nfields == SAMPLE_MAX_FIELDS)
			return -1;
		e = ref_scan(p, "=");
		if (*e != '=')
			return -1;
		ref_unescape(p, e, pt->fk[pt->nfields]);
		p = e + 1;
		if (*p == '"') {
			char *o = pt->fv[pt->nfields];

			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*o++ = *p;
			}
			if (*p++ != '"')
				return -1;
			pt->fstr[pt->nfields] = 1;
		} else {
			e = p + strcspn(p, ", ");
			memcpy(pt->fv[pt->nfields], p, (size_t)(e - p));
			p = e;
		}
		pt->nfields++;
	} while (*p == ',' && p++);
	if (*p++ != ' ')
		return -1;
	pt->ts = strtoll(p, (char **)&e, 10);
	return strcmp(e, "\n") ? -1 : 0;
}

static void ref_nonl(const char *in, char *out)
{
	for (; *in; in++)
		*out++ = (*in == '\n' || *in == '\r') ? ' ' : *in;
	*out = '\0';
}

static void random_name(char *out, size_t max, int allow_empty)
{
	static const char alphabet[] = "ab,= \\\"\n\t#";
	size_t n = (size_t)rand() % max, i;

	if (!n && !allow_empty)
		n = 1;
	for (i = 0; i < n; i++)
		out[i] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
	out[n] = '\0';
}

/* Is key, with newlines as spaces, already a tag (or field) key of s?  The
 * encoder keeps only the first of such keys; the round trip avoids them. */
static int key_used(const struct sample *s, const char *key, int fields)
{
	char a[SAMPLE_KEY_MAX], b[SAMPLE_KEY_MAX];
	struct sample_view v;
	struct sample_cursor c;
	struct sample_field f;
	unsigned i;

	ref_nonl(key, a);
	sample_view_of(&v, s);
	if (!fields) {
		for (i = 0; i < v.ntags; i++) {
			ref_nonl(v.tags[i].key, b);
			if (!strcmp(a, b))
				return 1;
		}
		return 0;
	}
	sample_fields(&v, &c);
	while (sample_next_field(&c, &f)) {
		ref_nonl(f.key, b);
		if (!strcmp(a, b))
			return 1;
	}
	return 0;
}

/* Random names from an alphabet of every special character go through
 * lp_encode and back through the reference parser unchanged (newlines
 * aside, which become spaces by design). */
static void test_roundtrip(void)
{
	struct buf b;
	unsigned iter, bad = 0;

	buf_init(&b);
	srand(3);
	for (iter = 0; iter < 20000 && bad < 5; iter++) {
		char name[SAMPLE_STR_MAX], want[SAMPLE_STR_MAX];
		static struct ref_point pt;
		struct sample s;
		struct sample_view sv;
		struct sample_cursor fc;
		struct sample_field f;
		int i, j, nt = rand() % (SAMPLE_MAX_TAGS + 1), nf = 1 + rand() % 24;
		int ok = 1;

		do
			random_name(name, SAMPLE_KEY_MAX, 0);
		while (sample_init(&s, name, (int64_t)rand() * rand() - RAND_MAX) != 0);
		for (i = 0; i < nt; i++) {
			char k[SAMPLE_KEY_MAX];

			random_name(k, SAMPLE_KEY_MAX, 0);
			random_name(name, SAMPLE_STR_MAX, 1);
			if (!key_used(&s, k, 0))
				CHECK_EQ_INT(sample_tag(&s, k, name), 0);
		}
		for (i = 0; i < nf; i++) {
			random_name(name, SAMPLE_KEY_MAX, 0);
			if (key_used(&s, name, 1))
				continue;
			if (rand() & 1) {
				char v[SAMPLE_STR_MAX];

				random_name(v, SAMPLE_STR_MAX, 1);
				sample_string(&s, name, v);
			} else {
				sample_int(&s, name, (int64_t)rand() - RAND_MAX / 2);
			}
		}
		b.len = 0;
		if (sample_view_of(&sv, &s) < 0 || lp_encode(&sv, &b) || ref_parse(b.data, &pt)) {
			fprintf(stderr, "unparsable line: [%s]\n", b.data);
			bad++;
			sample_free(&s);
			continue;
		}
		ref_nonl(sv.measurement, want);
		ok &= !strcmp(pt.m, want);
		ok &= pt.ts == sv.ts_ns;
		/* Tags: the sample's non-empty ones, in key order. */
		j = 0;
		for (i = 0; i < (int)sv.ntags; i++)
			j += sv.tags[i].value[0] != '\0';
		ok &= pt.ntags == j;
		for (i = 0; i < pt.ntags; i++) {
			int found = 0;

			for (j = 0; j < (int)sv.ntags; j++) {
				char k[SAMPLE_KEY_MAX], v[SAMPLE_STR_MAX];

				ref_nonl(sv.tags[j].key, k);
				ref_nonl(sv.tags[j].value, v);
				if (!strcmp(pt.tk[i], k) && !strcmp(pt.tv[i], v))
					found = 1;
			}
			ok &= found;
			if (i > 0)
				ok &= strcmp(pt.tk[i - 1], pt.tk[i]) <= 0;
		}
		ok &= pt.nfields == (int)sv.nfields;
		sample_fields(&sv, &fc);
		for (i = 0; i < pt.nfields && sample_next_field(&fc, &f); i++) {
			ref_nonl(f.key, want);
			ok &= !strcmp(pt.fk[i], want);
			if (f.type == SAMPLE_STRING) {
				ref_nonl(f.v.s, want);
				ok &= pt.fstr[i] && !strcmp(pt.fv[i], want);
			} else {
				char num[32];

				snprintf(num, sizeof(num), "%lldi", (long long)f.v.i);
				ok &= !pt.fstr[i] && !strcmp(pt.fv[i], num);
			}
		}
		if (!ok) {
			fprintf(stderr, "round trip differs: [%s]\n", b.data);
			bad++;
		}
		sample_free(&s);
	}
	CHECK_EQ_INT(bad, 0);
	buf_free(&b);
}

/* Floats read back as the same double, whatever the digits needed. */
static void test_float_roundtrip(void)
{
	struct buf b;
	unsigned i, bad = 0;

	buf_init(&b);
	srand(5);
	for (i = 0; i < 100000; i++) {
		uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
		struct sample s;
		struct sample_view sv;
		double v, back;
		const char *eq;

		memcpy(&v, &bits, sizeof(v));
		if (i % 3 == 0)
			v = (double)rand() / 7.0 * (i % 2 ? 1 : -1);
		if (!isfinite(v))
			continue;
		sample_init(&s, "m", 0);
		sample_float(&s, "f", v);
		sample_view_of(&sv, &s);
		b.len = 0;
		CHECK_EQ_INT(lp_encode(&sv, &b), 0);
		eq = strchr(b.data, '=');
		back = strtod(eq + 1, NULL);
		if (memcmp(&back, &v, sizeof(v)) && bad++ < 5)
			fprintf(stderr, "float %.17g written as [%s]\n", v, b.data);
	}
	CHECK_EQ_INT(bad, 0);
	buf_free(&b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The encode rate of what a pulse meter publishes.  Printed only: a timing
 * assertion would fail on a loaded machine, not on a regression. */
static void bench_encode(void)
{
	struct sample s[64];
	struct sample_view v[64];
	struct buf b;
	double t0, dt;
	size_t bytes = 0;
	unsigned i, n = 0;

	for (i = 0; i < 64; i++) {
		sample_init(&s[i], "pulse", 1700000000000000000LL + (int64_t)i * 1234567891);
		sample_tag(&s[i], "meter", "house");
		sample_float(&s[i], "power_w", 3600000.0 / (1000 + i * 37));
		sample_float(&s[i], "energy_wh", 12345.0 + i);
		sample_float(&s[i], "interval_s", (1000 + i * 37) / 1000.0);
		sample_view_of(&v[i], &s[i]);
	}
	buf_init(&b);
	t0 = now_s();
	do {
		for (i = 0; i < 1000; i++, n++) {
			if (b.len > (1 << 20)) {
				bytes += b.len;
				b.len = 0;
			}
			lp_encode(&v[n & 63], &b);
		}
		dt = now_s() - t0;
	} while (dt < 0.5);
	bytes += b.len;
	printf("lp_encode: %.0f samples/s, %.1f MB/s (%u pulse samples, %.0f bytes each)\n", n / dt,
	       bytes / dt / 1e6, n, (double)bytes / n);
	buf_free(&b);
}

int main(void)
{
	test_table();
	test_longest();
	test_roundtrip();
	test_float_roundtrip();
	bench_encode();
	return check_result();
}

/* Samples: builder limits (128 fields, 16 tags, names and values), the
 * series identity, the packed form (exact layout, round trips through the
 * view, rejection of every malformed record), spans, and the reader of
 * powerd 0.1.0's packing (version 1). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sample.h"

/* A string of n copies of c (n < 128). */
static const char *rep(char c, size_t n)
{
	static char b[4][128];
	static int k;
	char *p = b[k++ & 3];

	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* A key made of i, filled to n bytes with c. */
static const char *key_of(unsigned i, char c, size_t n)
{
	static char b[4][SAMPLE_KEY_MAX];
	static int k;
	char *p = b[k++ & 3];
	int m = snprintf(p, SAMPLE_KEY_MAX, "%u", i);

	if ((size_t)m < n)
		memset(p + m, c, n - (size_t)m);
	p[n > (size_t)m ? n : (size_t)m] = '\0';
	return p;
}

/* Builds v's content again, tags first: a sound record gives the very same
 * bytes (one packing per content). */
static int rebuild(const struct sample_view *v, struct sample *s)
{
	struct sample_cursor c;
	struct sample_field f;
	unsigned i;
	int r = sample_init(s, v->measurement, v->ts_ns);

	for (i = 0; !r && i < v->ntags; i++)
		r = sample_tag(s, v->tags[i].key, v->tags[i].value);
	sample_fields(v, &c);
	while (!r && sample_next_field(&c, &f)) {
		switch (f.type) {
		case SAMPLE_FLOAT:
			r = sample_float(s, f.key, f.v.f);
			break;
		case SAMPLE_INT:
			r = sample_int(s, f.key, f.v.i);
			break;
		case SAMPLE_BOOL:
			r = sample_bool(s, f.key, f.v.b);
			break;
		case SAMPLE_STRING:
			r = sample_string(s, f.key, f.v.s);
			break;
		}
	}
	return r;
}

static bool same_bytes(const struct sample *a, const void *p, size_t n)
{
	return sample_len(a) == n && !memcmp(sample_data(a), p, n);
}

static void test_builders(void)
{
	struct sample s;
	struct sample_view v;
	struct sample_field f;
	size_t len;
	unsigned i;

	CHECK_EQ_INT(sample_init(&s, "pulse", 123), 0);
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)sample_len(&s));
	CHECK(!strcmp(v.measurement, "pulse") && v.ts_ns == 123 && !v.ntags && !v.nfields);
	CHECK_EQ_INT(sample_init(&s, "", 1), -EINVAL);
	CHECK_EQ_INT(sample_len(&s), 0);
	CHECK_EQ_INT(sample_tag(&s, "k", "v"), -EINVAL); /* no sample begun */
	CHECK_EQ_INT(sample_float(&s, "f", 1), -EINVAL);
	CHECK_EQ_INT(sample_view_of(&v, &s), -EBADMSG);
	CHECK_EQ_INT(sample_init(&s, NULL, 1), -EINVAL);
	CHECK_EQ_INT(sample_init(NULL, "m", 1), -EINVAL);
	CHECK_EQ_INT(sample_init(&s, "#comment", 1), -EINVAL);
	CHECK_EQ_INT(sample_init(&s, "a#b", 1), 0);
	CHECK_EQ_INT(sample_init(&s, rep('m', SAMPLE_KEY_MAX), 1), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_init(&s, rep('m', SAMPLE_KEY_MAX - 1), 1), 0);

	/* Tags: limits on count, key and value; empty values are allowed; a
	 * call that fails changes nothing. */
	CHECK_EQ_INT(sample_init(&s, "m", 0), 0);
	len = sample_len(&s);
	CHECK_EQ_INT(sample_tag(&s, "", "v"), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, NULL, "v"), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, "k", NULL), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, rep('k', SAMPLE_KEY_MAX), "v"), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_tag(&s, "k", rep('v', SAMPLE_STR_MAX)), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_len(&s), len);
	CHECK_EQ_INT(sample_tag(&s, rep('k', SAMPLE_KEY_MAX - 1), rep('v', SAMPLE_STR_MAX - 1)), 0);
	CHECK_EQ_INT(sample_tag(&s, "empty", ""), 0);
	len = sample_len(&s);
	CHECK_EQ_INT(sample_tag(&s, "empty", "again"), -EEXIST);
	CHECK_EQ_INT(sample_len(&s), len);
	for (i = 2; i < SAMPLE_MAX_TAGS; i++)
		CHECK_EQ_INT(sample_tag(&s, key_of(i, 't', 1 + i % 30), "v"), 0);
	CHECK_EQ_INT(sample_tag(&s, "one_more", "v"), -E2BIG);
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)sample_len(&s));
	CHECK_EQ_INT(v.ntags, SAMPLE_MAX_TAGS);
	CHECK_EQ_INT(SAMPLE_MAX_TAGS, 16);
	CHECK(!strcmp(v.tags[1].key, "empty") && !v.tags[1].value[0]);
	CHECK(!strcmp(v.tags[15].key, key_of(15, 't', 16)));
	sample_free(&s);

	/* Fields: every type, the same limits, 128 of them. */
	CHECK_EQ_INT(sample_init(&s, "m", 0), 0);
	CHECK_EQ_INT(sample_float(&s, "", 1), -EINVAL);
	CHECK_EQ_INT(sample_float(&s, NULL, 1), -EINVAL);
	CHECK_EQ_INT(sample_float(&s, rep('f', SAMPLE_KEY_MAX), 1), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_string(&s, "s", rep('x', SAMPLE_STR_MAX)), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_string(&s, "s", NULL), -EINVAL);
	CHECK_EQ_INT(sample_float(&s, "f", -1.5), 0);
	CHECK_EQ_INT(sample_int(&s, "i", INT64_MIN), 0);
	CHECK_EQ_INT(sample_bool(&s, "b", true), 0);
	CHECK_EQ_INT(sample_string(&s, "s", rep('x', SAMPLE_STR_MAX - 1)), 0);
	CHECK_EQ_INT(sample_int(&s, "f", 1), -EEXIST);
	CHECK_EQ_INT(sample_string(&s, "e", ""), 0);
	CHECK_EQ_INT(sample_float(&s, "nan", NAN), 0); /* stored; the encoders skip it */
	CHECK_EQ_INT(sample_bool(&s, "m", false), 0);  /* named like the measurement */
	for (i = 7; i < SAMPLE_MAX_FIELDS; i++)
		CHECK_EQ_INT(sample_float(&s, key_of(i, '_', 1 + i % 31), i), 0);
	len = sample_len(&s);
	CHECK_EQ_INT(sample_bool(&s, "x", false), -E2BIG);
	CHECK_EQ_INT(sample_float(&s, "f", 1), -E2BIG);
	CHECK_EQ_INT(sample_len(&s), len);
	/* Tags may still come after the fields. */
	CHECK_EQ_INT(sample_tag(&s, "f", "a tag named like a field"), 0);
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)sample_len(&s));
	CHECK_EQ_INT(v.nfields, SAMPLE_MAX_FIELDS);
	CHECK_EQ_INT(SAMPLE_MAX_FIELDS, 128);
	CHECK_EQ_INT(v.ntags, 1);
	CHECK(sample_field_get(&v, "f", &f) && f.type == SAMPLE_FLOAT && f.v.f == -1.5);
	CHECK(sample_field_get(&v, "i", &f) && f.type == SAMPLE_INT && f.v.i == INT64_MIN);
	CHECK(sample_field_get(&v, "b", &f) && f.type == SAMPLE_BOOL && f.v.b);
	CHECK(sample_field_get(&v, "s", &f) && f.type == SAMPLE_STRING &&
	      strlen(f.v.s) == SAMPLE_STR_MAX - 1);
	CHECK(sample_field_get(&v, "e", &f) && f.type == SAMPLE_STRING && !f.v.s[0]);
	CHECK(sample_field_get(&v, "nan", &f) && isnan(f.v.f));
	CHECK(sample_field_get(&v, key_of(127, '_', 1 + 127 % 31), &f) && f.v.f == 127);
	CHECK(!sample_field_get(&v, "x", &f));
	sample_free(&s);
	sample_free(&s); /* twice is harmless */

	/* Small samples stay in place; sample_reset keeps what grew. */
	CHECK_EQ_INT(sample_init(&s, "pulse", 1), 0);
	CHECK_EQ_INT(sample_tag(&s, "meter", "house"), 0);
	CHECK_EQ_INT(sample_float(&s, "power_w", 1), 0);
	CHECK_EQ_INT(sample_float(&s, "energy_wh", 1), 0);
	CHECK_EQ_INT(sample_float(&s, "interval_s", 1), 0);
	CHECK(s.heap == NULL && sample_data(&s) == (const void *)s.small);
	for (i = 0; i < 40; i++)
		CHECK_EQ_INT(sample_float(&s, key_of(i, 'w', 6), i), 0);
	CHECK(s.heap != NULL);
	CHECK_EQ_INT(sample_reset(&s, "again", 2), 0);
	CHECK(s.heap != NULL);
	CHECK_EQ_INT(sample_float(&s, "power_w", 1), 0); /* the old keys are gone */
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)sample_len(&s));
	CHECK(v.nfields == 1 && !strcmp(v.measurement, "again") && v.ts_ns == 2);
	sample_free(&s);
}

static void test_order(void)
{
	struct sample a, b;

	/* Tags after fields give the bytes of tags before fields. */
	sample_init(&a, "m", 7);
	sample_tag(&a, "t1", "x");
	sample_tag(&a, "t2", "y");
	sample_float(&a, "f", 1);
	sample_init(&b, "m", 7);
	sample_float(&b, "f", 1);
	sample_tag(&b, "t1", "x");
	sample_tag(&b, "t2", "y");
	CHECK(same_bytes(&a, sample_data(&b), sample_len(&b)));
	sample_free(&a);
	sample_free(&b);
}

static void test_series(void)
{
	struct sample s;
	struct sample_view v;
	char out[64];

	sample_init(&s, "pulse", 0);
	sample_view_of(&v, &s);
	CHECK_EQ_INT(sample_series(&v, out, sizeof(out)), 5);
	CHECK(!strcmp(out, "pulse"));
	sample_tag(&s, "meter", "house");
	sample_tag(&s, "b", "x,y=z\\");
	sample_float(&s, "power_w", 1);
	sample_view_of(&v, &s);
	/* Tags in the order given; separators inside names are escaped, so
	 * tags {b: "1,c=2"} and {b: 1, c: 2} have different identities. */
	CHECK_EQ_INT(sample_series(&v, out, sizeof(out)), 29);
	CHECK(!strcmp(out, "pulse,meter=house,b=x\\,y\\=z\\\\"));
	/* Truncated to n - 1, always terminated. */
	memset(out, 'Z', sizeof(out));
	CHECK_EQ_INT(sample_series(&v, out, 8), 7);
	CHECK(!strcmp(out, "pulse,m"));
	CHECK_EQ_INT(sample_series(&v, out, 1), 0);
	CHECK(out[0] == '\0');
	out[0] = 'Z';
	CHECK_EQ_INT(sample_series(&v, out, 0), 0);
	CHECK(out[0] == 'Z');
	sample_free(&s);
}

/* The largest sample there is: every name and value at its longest. */
static void make_full(struct sample *s)
{
	unsigned i;

	sample_init(s, rep('M', SAMPLE_KEY_MAX - 1), -1234567890123456789LL);
	for (i = 0; i < SAMPLE_MAX_TAGS; i++)
		CHECK_EQ_INT(sample_tag(s, key_of(i, 'k', SAMPLE_KEY_MAX - 1),
					rep('v', SAMPLE_STR_MAX - 1)),
			     0);
	for (i = 0; i < SAMPLE_MAX_FIELDS; i++)
		CHECK_EQ_INT(sample_string(s, key_of(i, 'n', SAMPLE_KEY_MAX - 1),
					   rep('"', SAMPLE_STR_MAX - 1)),
			     0);
}

static void test_pack_layout(void)
{
	static const unsigned char exact[] = {
		2,    3,    4,	  0,				/* version; 3 tags, 4 fields */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* ts, little-endian */
		1,    'm',  0,					/* m */
		1,    'k',  0,	  2,	'v',  'w',  0,		/* k=vw */
		1,    't',  0,	  1,	'x',  0,		/* t=x */
		1,    'u',  0,	  0,	0,			/* u="" */
		1,    'f',  0,	  0,	0,    0,    0,	  0,	0,    0,    0xf0, 0x3f, /* f: 1.0 */
		1,    'i',  0,	  1,	0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i: -2 */
		1,    'b',  0,	  2,	1,		     /* b: true */
		1,    's',  0,	  3,	2,    'h',  'i',  0, /* s: "hi" */
	};
	struct sample s, back;
	struct sample_view v;

	sample_init(&s, "m", 0x0102030405060708LL);
	sample_tag(&s, "k", "vw");
	sample_tag(&s, "t", "x");
	sample_tag(&s, "u", "");
	sample_float(&s, "f", 1.0);
	sample_int(&s, "i", -2);
	sample_bool(&s, "b", true);
	sample_string(&s, "s", "hi");
	CHECK_EQ_INT(sample_len(&s), sizeof(exact));
	CHECK(same_bytes(&s, exact, sizeof(exact)));
	CHECK_EQ_INT(sample_view(&v, exact, sizeof(exact)), (int)sizeof(exact));
	CHECK_EQ_INT(sample_packed_ts(exact), 0x0102030405060708LL);
	CHECK_EQ_INT(rebuild(&v, &back), 0);
	CHECK(same_bytes(&back, exact, sizeof(exact)));
	sample_free(&s);
	sample_free(&back);
}

static void test_pack_roundtrip(void)
{
	unsigned char two[2 * SAMPLE_PACK_MAX];
	struct sample s, t, back;
	struct sample_view v;
	struct sample_field f;
	struct sample_cursor c;
	size_t n, m;
	uint64_t bits = 0x7ff8dead0000beefULL, bits2;
	double nan_payload;

	/* The largest sample takes SAMPLE_PACK_MAX exactly, and comes back. */
	make_full(&s);
	n = sample_len(&s);
	CHECK_EQ_INT(n, SAMPLE_PACK_MAX);
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)n);
	CHECK_EQ_INT(v.ntags, SAMPLE_MAX_TAGS);
	CHECK_EQ_INT(v.nfields, SAMPLE_MAX_FIELDS);
	CHECK_EQ_INT(rebuild(&v, &back), 0);
	CHECK(same_bytes(&back, sample_data(&s), n));
	sample_free(&back);

	/* Floats travel bit for bit (NaN payloads, -0.0), and two records
	 * back to back open one at a time. */
	memcpy(&nan_payload, &bits, sizeof(bits));
	sample_init(&t, "m", 0);
	sample_float(&t, "nan", nan_payload);
	sample_float(&t, "z", -0.0);
	sample_int(&t, "max", INT64_MAX);
	m = sample_len(&t);
	memcpy(two, sample_data(&t), m);
	memcpy(two + m, sample_data(&s), n);
	CHECK_EQ_INT(sample_view(&v, two, m + n), (int)m);
	sample_fields(&v, &c);
	CHECK(sample_next_field(&c, &f));
	memcpy(&bits2, &f.v.f, sizeof(bits2));
	CHECK(bits2 == bits);
	CHECK(sample_next_field(&c, &f) && signbit(f.v.f) && f.v.f == 0);
	CHECK(sample_next_field(&c, &f) && f.v.i == INT64_MAX);
	CHECK(!sample_next_field(&c, &f));
	CHECK_EQ_INT(sample_view(&v, two + m, n), (int)n);

	/* Every truncation is malformed (of the first 2000 bytes, and every
	 * 97th after them). */
	for (m = 0; m < n; m += m < 2000 ? 1 : 97) {
		if (sample_view(&v, sample_data(&s), m) != -EBADMSG) {
			fprintf(stderr, "truncated at %zu accepted\n", m);
			CHECK(0);
			break;
		}
	}
	sample_free(&s);
	sample_free(&t);
}

/* A small valid record to corrupt: version, counts, ts, "m", tag k=v,
 * field b=true. */
static size_t small_record(unsigned char *out)
{
	struct sample s;
	size_t n;

	sample_init(&s, "m", 5);
	sample_tag(&s, "k", "v");
	sample_bool(&s, "b", true);
	n = sample_len(&s);
	memcpy(out, sample_data(&s), n);
	sample_free(&s);
	return n;
}

static void test_view_rejects(void)
{
	unsigned char rec[64], bad[64];
	struct sample_view v;
	size_t n = small_record(rec);

	/* offsets: 0 version, 1 ntags, 2..3 nfields, 4..11 ts, 12 mlen, 13 'm',
	 * 14 NUL, 15 klen, 16 'k', 17 NUL, 18 vlen, 19 'v', 20 NUL, 21 fklen,
	 * 22 'b', 23 NUL, 24 type, 25 value */
	CHECK_EQ_INT(n, 26);
	CHECK_EQ_INT(sample_view(&v, rec, n), 26);
	CHECK(!strcmp(v.tags[0].key, "k") && !strcmp(v.tags[0].value, "v"));
#define MUTATE(off, val)                                                                           \
	do {                                                                                       \
		memcpy(bad, rec, n);                                                               \
		bad[off] = (val);                                                                  \
		CHECK_EQ_INT(sample_view(&v, bad, n), -EBADMSG);                                   \
	} while (0)
	MUTATE(0, 0);		    /* version 0 */
	MUTATE(0, 1);		    /* version 1 is not read by the view */
	MUTATE(0, 3);		    /* a future version */
	MUTATE(1, 17);		    /* 17 tags */
	MUTATE(3, 1);		    /* 257 fields */
	MUTATE(2, 129);		    /* 129 fields */
	MUTATE(2, 2);		    /* more fields than bytes */
	MUTATE(12, 0);		    /* empty measurement */
	MUTATE(12, 200);	    /* measurement longer than the record */
	MUTATE(12, SAMPLE_KEY_MAX); /* measurement too long */
	MUTATE(13, '#');	    /* a comment to line protocol */
	MUTATE(13, 0);		    /* NUL inside a name */
	MUTATE(14, 'x');	    /* no NUL after it */
	MUTATE(15, 0);		    /* empty tag key */
	MUTATE(19, 0);		    /* NUL in a tag value */
	MUTATE(20, 'x');	    /* tag value without its NUL */
	MUTATE(18, SAMPLE_STR_MAX); /* tag value too long */
	memcpy(bad, rec, n);
	bad[22] = 'k'; /* a field named like a tag is fine */
	CHECK_EQ_INT(sample_view(&v, bad, n), 26);
	MUTATE(24, 4);	  /* unknown type */
	MUTATE(25, 2);	  /* a bool that is neither 0 nor 1 */
	MUTATE(21, 0x20); /* field key length past the end */
#undef MUTATE
	/* Duplicate keys are malformed: the builders never write them.  Two
	 * tags "a","b" and two fields "x","y", then the second renamed. */
	{
		struct sample d;
		unsigned char out[128];
		size_t len, off;

		sample_init(&d, "m", 0);
		sample_tag(&d, "a", "1");
		sample_tag(&d, "b", "2");
		sample_int(&d, "x", 1);
		sample_int(&d, "y", 2);
		len = sample_len(&d);
		memcpy(out, sample_data(&d), len);
		CHECK_EQ_INT(sample_view(&v, out, len), (int)len);
		off = (size_t)((const unsigned char *)v.tags[1].key - out);
		out[off] = 'a';
		CHECK_EQ_INT(sample_view(&v, out, len), -EBADMSG);
		out[off] = 'b';
		CHECK_EQ_INT(sample_view(&v, out, len), (int)len);
		off = (size_t)(v.fields - out) + 1 + 2 + 1 + 8 + 1; /* the second key */
		CHECK(out[off] == 'y');
		out[off] = 'x';
		CHECK_EQ_INT(sample_view(&v, out, len), -EBADMSG);
		sample_free(&d);
	}
	CHECK_EQ_INT(sample_view(&v, rec, 0), -EBADMSG);
}

/* Random corruption of valid records: never a crash (ASan watches), and
 * whatever opens builds back to the very bytes it came from. */
static void test_view_random(void)
{
	static unsigned char rec[SAMPLE_PACK_MAX], bad[SAMPLE_PACK_MAX];
	struct sample full, back;
	struct sample_view v;
	unsigned accepted = 0, i, j;
	size_t n;

	make_full(&full);
	srand(7);
	for (i = 0; i < 100000; i++) {
		size_t len;
		int r;

		if (i & 1) {
			n = sample_len(&full);
			memcpy(rec, sample_data(&full), n);
		} else {
			n = small_record(rec);
		}
		memcpy(bad, rec, n);
		for (j = 0; j < 1 + (unsigned)rand() % 3; j++)
			bad[(size_t)rand() % n] = (unsigned char)rand();
		len = n - ((rand() & 7) == 0 ? (size_t)rand() % n : 0);
		r = sample_view(&v, bad, len);
		if (r < 0) {
			CHECK_EQ_INT(r, -EBADMSG);
			continue;
		}
		accepted++;
		if ((size_t)r > len || rebuild(&v, &back) || !same_bytes(&back, bad, (size_t)r)) {
			fprintf(stderr, "round trip differs at iteration %u\n", i);
			CHECK(0);
			sample_free(&back);
			break;
		}
		sample_free(&back);
	}
	/* Mutated values (timestamps, floats) are valid records: some pass. */
	CHECK(accepted > 1000);
	sample_free(&full);
}

static void test_span(void)
{
	struct sample_list l;
	struct sample_span sp;
	struct sample_view v;
	struct sample s;
	unsigned i;

	sample_list_init(&l);
	sp = sample_list_span(&l, 0, 0);
	CHECK_EQ_INT(sp.n, 0);
	CHECK_EQ_INT(sample_span_view(&sp, 0, &v), -EINVAL);
	sample_init(&s, "m", 0);
	for (i = 0; i < 1000; i++) {
		sample_reset(&s, "m", i);
		sample_int(&s, "i", i);
		if (i % 10 == 0)
			sample_string(&s, "s", rep('s', i % 60));
		CHECK_EQ_INT(sample_list_add_sample(&l, &s), 0);
	}
	CHECK_EQ_INT(l.n, 1000);
	sp = sample_list_span(&l, 990, 1000);
	CHECK_EQ_INT(sp.n, 10);
	CHECK(sample_span_view(&sp, 0, &v) > 0 && v.ts_ns == 990 && v.nfields == 2);
	CHECK(sample_span_view(&sp, 9, &v) > 0 && v.ts_ns == 999 && v.nfields == 1);
	CHECK_EQ_INT(sample_span_view(&sp, 10, &v), -EINVAL);
	sample_list_clear(&l);
	CHECK_EQ_INT(l.n, 0);
	CHECK_EQ_INT(sample_list_add(&l, sample_data(&s), sample_len(&s)), 0);
	sp = sample_list_span(&l, 0, 1);
	CHECK(sample_span_view(&sp, 0, &v) > 0 && v.ts_ns == 999);
	sample_reset(&s, "", 0);
	CHECK_EQ_INT(sample_list_add_sample(&l, &s), -EINVAL);
	sample_free(&s);
	sample_list_free(&l);
}

/* ------------------------------------------------------------ version 1 */

/* The exact bytes powerd 0.1.0 wrote for this sample (its own test vector):
 * m,k=vw,t=x,u="" f=1.0,i=-2i,b=true,s="hi" at 0x0102030405060708. */
static const unsigned char v1_exact[] = {
	1,    0x34,					/* version; 3 tags, 4 fields */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* ts, little-endian */
	1,    'm',  1,	  'k',	2,    'v',  'w',	/* m; k=vw */
	1,    't',  1,	  'x',	1,    'u',  0,		/* t=x; u="" */
	1,    'f',  0,	  0,	0,    0,    0,	  0,	0,    0xf0, 0x3f, /* f: float 1.0 */
	1,    'i',  1,	  0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i: int -2 */
	1,    'b',  2,	  1,						  /* b: bool true */
	1,    's',  3,	  2,	'h',  'i',				  /* s: string "hi" */
};

/* Version 1 of the largest sample it could hold: 6 tags, 6 string fields. */
static size_t v1_full(unsigned char *out)
{
	unsigned char *p = out;
	unsigned i;

	*p++ = 1;
	*p++ = 6 << 4 | 6;
	memset(p, 0x11, 8);
	p += 8;
	*p++ = SAMPLE_KEY_MAX - 1;
	memset(p, 'M', SAMPLE_KEY_MAX - 1);
	p += SAMPLE_KEY_MAX - 1;
	for (i = 0; i < 12; i++) {
		*p++ = SAMPLE_KEY_MAX - 1;
		memset(p, 'a' + (int)i, SAMPLE_KEY_MAX - 1);
		p += SAMPLE_KEY_MAX - 1;
		if (i >= 6)
			*p++ = SAMPLE_STRING;
		*p++ = SAMPLE_STR_MAX - 1;
		memset(p, '"', SAMPLE_STR_MAX - 1);
		p += SAMPLE_STR_MAX - 1;
	}
	return (size_t)(p - out);
}

static void test_v1(void)
{
	unsigned char full[1200], bad[1200], two[1300];
	struct sample s, want;
	struct sample_view v;
	size_t n = sizeof(v1_exact), i;

	/* The same content as the version-2 layout test. */
	sample_init(&s, NULL, 0);
	CHECK_EQ_INT(sample_v1_read(&s, v1_exact, n), (int)n);
	sample_init(&want, "m", 0x0102030405060708LL);
	sample_tag(&want, "k", "vw");
	sample_tag(&want, "t", "x");
	sample_tag(&want, "u", "");
	sample_float(&want, "f", 1.0);
	sample_int(&want, "i", -2);
	sample_bool(&want, "b", true);
	sample_string(&want, "s", "hi");
	CHECK(same_bytes(&s, sample_data(&want), sample_len(&want)));

	/* The largest: 1200 bytes (version 1's SAMPLE_PACK_MAX), and two in a
	 * row are read one at a time. */
	n = v1_full(full);
	CHECK_EQ_INT(n, 1200);
	CHECK_EQ_INT(sample_v1_read(&s, full, n), 1200);
	CHECK_EQ_INT(sample_view_of(&v, &s), (int)sample_len(&s));
	CHECK(v.ntags == 6 && v.nfields == 6 && strlen(v.tags[5].value) == SAMPLE_STR_MAX - 1);
	memcpy(two, v1_exact, sizeof(v1_exact));
	memcpy(two + sizeof(v1_exact), v1_exact, sizeof(v1_exact));
	CHECK_EQ_INT(sample_v1_read(&s, two, 2 * sizeof(v1_exact)), (int)sizeof(v1_exact));

	/* Every truncation and every malformation of version 1 is refused. */
	for (i = 0; i < n; i++)
		if (sample_v1_read(&s, full, i) != -EBADMSG) {
			fprintf(stderr, "version 1 truncated at %zu accepted\n", i);
			CHECK(0);
			break;
		}
	CHECK_EQ_INT(sample_len(&s), 0);
	n = sizeof(v1_exact);
#define MUTATE(off, val)                                                                           \
	do {                                                                                       \
		memcpy(bad, v1_exact, n);                                                          \
		bad[off] = (val);                                                                  \
		CHECK_EQ_INT(sample_v1_read(&s, bad, n), -EBADMSG);                                \
	} while (0)
	MUTATE(0, 0);		    /* version 0 */
	MUTATE(0, 2);		    /* not version 1 */
	MUTATE(1, 0x74);	    /* 7 tags */
	MUTATE(1, 0x37);	    /* 7 fields */
	MUTATE(1, 0x35);	    /* more fields than bytes */
	MUTATE(10, 0);		    /* empty measurement */
	MUTATE(10, SAMPLE_KEY_MAX); /* measurement too long */
	MUTATE(11, '#');	    /* a comment to line protocol */
	MUTATE(11, 0);		    /* NUL inside a name */
	MUTATE(12, 0);		    /* empty tag key */
	MUTATE(15, 0);		    /* NUL in a tag value */
	MUTATE(18, 'k');	    /* a repeated tag key */
	MUTATE(36, 'f');	    /* a repeated field key */
	MUTATE(26, 4);		    /* unknown type */
	MUTATE(49, 2);		    /* a bool that is neither 0 nor 1 */
#undef MUTATE
	memcpy(bad, v1_exact, n);
	bad[25] = 'k'; /* a field named like a tag is fine */
	CHECK_EQ_INT(sample_v1_read(&s, bad, n), (int)n);
	sample_free(&s);
	sample_free(&want);
}

int main(void)
{
	test_builders();
	test_order();
	test_series();
	test_pack_layout();
	test_pack_roundtrip();
	test_view_rejects();
	test_view_random();
	test_span();
	test_v1();
	return check_result();
}

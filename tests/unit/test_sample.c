/* Samples: builder limits, the series identity, and the spool encoding
 * (exact layout, round trips, and rejection of every malformed record). */
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

static void test_builders(void)
{
	struct sample s;
	char key[16];
	unsigned i;

	CHECK_EQ_INT(sample_init(&s, "pulse", 123), 0);
	CHECK(!strcmp(s.measurement, "pulse"));
	CHECK_EQ_INT(s.ts_ns, 123);
	CHECK_EQ_INT(sample_init(&s, "", 1), -EINVAL);
	CHECK_EQ_INT(sample_init(&s, NULL, 1), -EINVAL);
	CHECK_EQ_INT(sample_init(NULL, "m", 1), -EINVAL);
	CHECK_EQ_INT(sample_init(&s, "#comment", 1), -EINVAL);
	CHECK_EQ_INT(sample_init(&s, "a#b", 1), 0);
	CHECK_EQ_INT(sample_init(&s, rep('m', SAMPLE_KEY_MAX), 1), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_init(&s, rep('m', SAMPLE_KEY_MAX - 1), 1), 0);

	/* Tags: limits on count, key and value; empty values are allowed. */
	CHECK_EQ_INT(sample_init(&s, "m", 0), 0);
	CHECK_EQ_INT(sample_tag(&s, "", "v"), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, NULL, "v"), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, "k", NULL), -EINVAL);
	CHECK_EQ_INT(sample_tag(&s, rep('k', SAMPLE_KEY_MAX), "v"), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_tag(&s, "k", rep('v', SAMPLE_STR_MAX)), -ENAMETOOLONG);
	CHECK_EQ_INT(s.ntags, 0);
	CHECK_EQ_INT(sample_tag(&s, rep('k', SAMPLE_KEY_MAX - 1), rep('v', SAMPLE_STR_MAX - 1)), 0);
	CHECK_EQ_INT(sample_tag(&s, "empty", ""), 0);
	CHECK_EQ_INT(sample_tag(&s, "empty", "again"), -EEXIST);
	for (i = 2; i < SAMPLE_MAX_TAGS; i++) {
		snprintf(key, sizeof(key), "t%u", i);
		CHECK_EQ_INT(sample_tag(&s, key, "v"), 0);
	}
	CHECK_EQ_INT(sample_tag(&s, "one_more", "v"), -E2BIG);
	CHECK_EQ_INT(s.ntags, SAMPLE_MAX_TAGS);
	CHECK(!strcmp(s.tags[1].key, "empty") && !s.tags[1].value[0]);

	/* Fields: every type, the same limits. */
	CHECK_EQ_INT(sample_init(&s, "m", 0), 0);
	CHECK_EQ_INT(sample_float(&s, "", 1), -EINVAL);
	CHECK_EQ_INT(sample_float(&s, rep('f', SAMPLE_KEY_MAX), 1), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_string(&s, "s", rep('x', SAMPLE_STR_MAX)), -ENAMETOOLONG);
	CHECK_EQ_INT(sample_string(&s, "s", NULL), -EINVAL);
	CHECK_EQ_INT(s.nfields, 0);
	CHECK_EQ_INT(sample_float(&s, "f", -1.5), 0);
	CHECK_EQ_INT(sample_int(&s, "i", INT64_MIN), 0);
	CHECK_EQ_INT(sample_bool(&s, "b", true), 0);
	CHECK_EQ_INT(sample_string(&s, "s", rep('x', SAMPLE_STR_MAX - 1)), 0);
	CHECK_EQ_INT(sample_int(&s, "f", 1), -EEXIST);
	CHECK_EQ_INT(sample_string(&s, "e", ""), 0);
	CHECK_EQ_INT(sample_float(&s, "nan", NAN), 0); /* stored; the encoder skips it */
	CHECK_EQ_INT(sample_bool(&s, "x", false), -E2BIG);
	CHECK_EQ_INT(s.nfields, SAMPLE_MAX_FIELDS);
	CHECK(s.fields[0].type == SAMPLE_FLOAT && s.fields[0].v.f == -1.5);
	CHECK(s.fields[1].type == SAMPLE_INT && s.fields[1].v.i == INT64_MIN);
	CHECK(s.fields[2].type == SAMPLE_BOOL && s.fields[2].v.b);
	CHECK(s.fields[3].type == SAMPLE_STRING && strlen(s.fields[3].s) == SAMPLE_STR_MAX - 1);
	CHECK(s.fields[4].type == SAMPLE_STRING && !s.fields[4].s[0]);
}

static void test_series(void)
{
	struct sample s;
	char out[64];

	sample_init(&s, "pulse", 0);
	CHECK_EQ_INT(sample_series(&s, out, sizeof(out)), 5);
	CHECK(!strcmp(out, "pulse"));
	sample_tag(&s, "meter", "house");
	sample_tag(&s, "b", "x,y=z\\");
	sample_float(&s, "power_w", 1);
	/* Tags in the order given; separators inside names are escaped, so
	 * tags {b: "1,c=2"} and {b: 1, c: 2} have different identities. */
	CHECK_EQ_INT(sample_series(&s, out, sizeof(out)), 29);
	CHECK(!strcmp(out, "pulse,meter=house,b=x\\,y\\=z\\\\"));
	/* Truncated to n - 1, always terminated. */
	memset(out, 'Z', sizeof(out));
	CHECK_EQ_INT(sample_series(&s, out, 8), 7);
	CHECK(!strcmp(out, "pulse,m"));
	CHECK_EQ_INT(sample_series(&s, out, 1), 0);
	CHECK(out[0] == '\0');
	out[0] = 'Z';
	CHECK_EQ_INT(sample_series(&s, out, 0), 0);
	CHECK(out[0] == 'Z');
}

static void make_full(struct sample *s)
{
	char k[SAMPLE_KEY_MAX];
	unsigned i;

	sample_init(s, rep('M', SAMPLE_KEY_MAX - 1), -1234567890123456789LL);
	for (i = 0; i < SAMPLE_MAX_TAGS; i++) {
		memset(k, 'a' + i, sizeof(k) - 1);
		k[sizeof(k) - 1] = '\0';
		CHECK_EQ_INT(sample_tag(s, k, rep('v', SAMPLE_STR_MAX - 1)), 0);
	}
	for (i = 0; i < SAMPLE_MAX_FIELDS; i++) {
		memset(k, 'n' + i, sizeof(k) - 1);
		k[sizeof(k) - 1] = '\0';
		CHECK_EQ_INT(sample_string(s, k, rep('"', SAMPLE_STR_MAX - 1)), 0);
	}
}

static void test_pack_layout(void)
{
	static const unsigned char exact[] = {
		1,    0x34,					/* version; 3 tags, 4 fields */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* ts, little-endian */
		1,    'm',  1,	  'k',	2,    'v',  'w',	/* m; k=vw */
		1,    't',  1,	  'x',	1,    'u',  0,		/* t=x; u="" */
		1,    'f',  0,	  0,	0,    0,    0,	  0,	0,    0xf0, 0x3f, /* f: float 1.0 */
		1,    'i',  1,	  0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* i: int -2 */
		1,    'b',  2,	  1,						  /* b: bool true */
		1,    's',  3,	  2,	'h',  'i', /* s: string "hi" */
	};
	unsigned char out[SAMPLE_PACK_MAX];
	struct sample s, back;
	size_t n;

	sample_init(&s, "m", 0x0102030405060708LL);
	sample_tag(&s, "k", "vw");
	sample_tag(&s, "t", "x");
	sample_tag(&s, "u", "");
	sample_float(&s, "f", 1.0);
	sample_int(&s, "i", -2);
	sample_bool(&s, "b", true);
	sample_string(&s, "s", "hi");
	n = sample_pack(&s, out);
	CHECK_EQ_INT(n, sizeof(exact));
	CHECK(n == sizeof(exact) && !memcmp(out, exact, n));
	CHECK_EQ_INT(sample_unpack(out, n, &back), (int)n);
	CHECK(!memcmp(&s, &back, sizeof(s)));
}

static void test_pack_roundtrip(void)
{
	unsigned char out[SAMPLE_PACK_MAX + 16], two[2 * SAMPLE_PACK_MAX];
	struct sample s, back, t;
	size_t n, m;
	uint64_t bits = 0x7ff8dead0000beefULL, bits2;
	double nan_payload;

	/* The largest sample fits SAMPLE_PACK_MAX exactly. */
	make_full(&s);
	memset(out, 0xAA, sizeof(out));
	n = sample_pack(&s, out);
	CHECK_EQ_INT(n, SAMPLE_PACK_MAX);
	CHECK(out[SAMPLE_PACK_MAX] == 0xAA);
	CHECK_EQ_INT(sample_unpack(out, n, &back), (int)n);
	CHECK(!memcmp(&s, &back, sizeof(s)));

	/* Floats travel bit for bit (NaN payloads, -0.0), and two records
	 * back to back unpack one at a time. */
	memcpy(&nan_payload, &bits, sizeof(bits));
	sample_init(&t, "m", 0);
	sample_float(&t, "nan", nan_payload);
	sample_float(&t, "z", -0.0);
	sample_int(&t, "max", INT64_MAX);
	m = sample_pack(&t, two);
	n = sample_pack(&s, two + m);
	CHECK_EQ_INT(sample_unpack(two, m + n, &back), (int)m);
	memcpy(&bits2, &back.fields[0].v.f, sizeof(bits2));
	CHECK(bits2 == bits);
	CHECK(signbit(back.fields[1].v.f) && back.fields[1].v.f == 0);
	CHECK(back.fields[2].v.i == INT64_MAX);
	CHECK_EQ_INT(sample_unpack(two + m, n, &back), (int)n);
	CHECK(!memcmp(&s, &back, sizeof(s)));

	/* Every truncation is malformed, and leaves an empty sample. */
	for (m = 0; m < n; m++) {
		memset(&back, 0x55, sizeof(back));
		if (sample_unpack(out, m, &back) != -EBADMSG) {
			fprintf(stderr, "truncated at %zu accepted\n", m);
			CHECK(0);
		}
		CHECK(back.ntags == 0 && back.nfields == 0 && !back.measurement[0]);
	}
}

/* A small valid record to corrupt: version, counts, ts, "m", tag k=v,
 * field b=true. */
static size_t small_record(unsigned char *out)
{
	struct sample s;

	sample_init(&s, "m", 5);
	sample_tag(&s, "k", "v");
	sample_bool(&s, "b", true);
	return sample_pack(&s, out);
}

static void test_unpack_rejects(void)
{
	unsigned char rec[64], bad[64];
	struct sample s;
	size_t n = small_record(rec);

	/* offsets: 0 version, 1 counts, 2..9 ts, 10 mlen, 11 'm', 12 klen,
	 * 13 'k', 14 vlen, 15 'v', 16 fklen, 17 'b', 18 type, 19 value */
	CHECK_EQ_INT(n, 20);
	CHECK_EQ_INT(sample_unpack(rec, n, &s), 20);
	CHECK(!strcmp(s.tags[0].key, "k") && s.fields[0].v.b);
#define MUTATE(off, val)                                                                           \
	do {                                                                                       \
		memcpy(bad, rec, n);                                                               \
		bad[off] = (val);                                                                  \
		CHECK_EQ_INT(sample_unpack(bad, n, &s), -EBADMSG);                                 \
	} while (0)
	MUTATE(0, 0);		    /* version 0 */
	MUTATE(0, 2);		    /* a future version */
	MUTATE(1, 0x71);	    /* 7 tags */
	MUTATE(1, 0x17);	    /* 7 fields */
	MUTATE(1, 0x12);	    /* more fields than bytes */
	MUTATE(10, 0);		    /* empty measurement */
	MUTATE(10, 200);	    /* measurement longer than the record */
	MUTATE(10, SAMPLE_KEY_MAX); /* measurement longer than its array */
	MUTATE(11, '#');	    /* a comment to line protocol */
	MUTATE(11, 0);		    /* NUL inside a name */
	MUTATE(12, 0);		    /* empty tag key */
	MUTATE(15, 0);		    /* NUL in a tag value */
	MUTATE(14, SAMPLE_STR_MAX); /* tag value too long for its array */
	memcpy(bad, rec, n);
	bad[17] = 'k'; /* a field named like a tag is fine */
	CHECK_EQ_INT(sample_unpack(bad, n, &s), 20);
	MUTATE(18, 4);	  /* unknown type */
	MUTATE(19, 2);	  /* a bool that is neither 0 nor 1 */
	MUTATE(16, 0x20); /* field key length past the end */
#undef MUTATE
	/* Duplicate keys are malformed: the builders never write them. */
	{
		struct sample d;
		unsigned char out[SAMPLE_PACK_MAX];
		size_t len;

		sample_init(&d, "m", 0);
		sample_tag(&d, "a", "1");
		sample_tag(&d, "b", "2");
		sample_int(&d, "x", 1);
		sample_int(&d, "y", 2);
		len = sample_pack(&d, out);
		CHECK_EQ_INT(sample_unpack(out, len, &s), (int)len);
		d.tags[1].key[0] = 'a';
		len = sample_pack(&d, out);
		CHECK_EQ_INT(sample_unpack(out, len, &s), -EBADMSG);
		d.tags[1].key[0] = 'b';
		d.fields[1].key[0] = 'x';
		len = sample_pack(&d, out);
		CHECK_EQ_INT(sample_unpack(out, len, &s), -EBADMSG);
	}
	CHECK_EQ_INT(sample_unpack(rec, 0, &s), -EBADMSG);
}

/* Random corruption of valid records: never a crash (ASan watches), and
 * whatever unpacks packs back to the very bytes it came from. */
static void test_unpack_random(void)
{
	unsigned char rec[SAMPLE_PACK_MAX], bad[SAMPLE_PACK_MAX], again[SAMPLE_PACK_MAX];
	struct sample s, full;
	unsigned accepted = 0, i, j;
	size_t n;

	make_full(&full);
	srand(7);
	for (i = 0; i < 200000; i++) {
		n = (i & 1) ? sample_pack(&full, rec) : small_record(rec);
		memcpy(bad, rec, n);
		for (j = 0; j < 1 + (unsigned)rand() % 3; j++)
			bad[(size_t)rand() % n] = (unsigned char)rand();
		{
			size_t len = n - ((rand() & 7) == 0 ? (size_t)rand() % n : 0);
			int r = sample_unpack(bad, len, &s);

			if (r >= 0) {
				accepted++;
				if ((size_t)r > len || sample_pack(&s, again) != (size_t)r ||
				    memcmp(again, bad, (size_t)r)) {
					fprintf(stderr, "round trip differs at iteration %u\n", i);
					CHECK(0);
					return;
				}
			} else {
				CHECK_EQ_INT(r, -EBADMSG);
			}
		}
	}
	/* Mutated values (timestamps, floats) are valid records: some pass. */
	CHECK(accepted > 1000);
}

int main(void)
{
	test_builders();
	test_series();
	test_pack_layout();
	test_pack_roundtrip();
	test_unpack_rejects();
	test_unpack_random();
	return check_result();
}

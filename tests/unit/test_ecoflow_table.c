/* The EcoFlow decode table (ecoflow_table.h): the shipped table loads, a
 * record is found by identity and length, fields decode little endian with
 * their scale, and a bad table is refused with FILE:LINE:COL and why. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ecoflow_table.h"

static void test_shipped(void)
{
	const struct eftab_layout *l;
	struct eftab_value v;
	struct eftab t;
	uint8_t p[132] = {0};
	char err[256];
	size_t len, i;
	bool known;
	char *text = check_slurp("share/ecoflow.json", &len);

	CHECK(text != NULL);
	if (!text)
		return;
	CHECK_EQ_INT(eftab_load("share/ecoflow.json", text, len, &t, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	CHECK(t.n >= 3);
	/* the 132-byte record the battery sends the PowerStream (PROTOCOLS 2.4) */
	l = eftab_find(&t, 0x03, 0x14, 0x03, 0x2F, 132, &known);
	CHECK(l != NULL && known);
	CHECK(eftab_find(&t, 0x03, 0x14, 0x03, 0x2F, 126, &known) == NULL && known);
	CHECK(eftab_find(&t, 0x04, 0x14, 0x03, 0x2F, 132, &known) == NULL && !known);
	CHECK(eftab_find(&t, 0x03, 0x14, 0x7F, 0x01, 132, &known) == NULL && !known);
	if (l) {
		memcpy(p + 3, "M102Z3B4ZE5H0601", 16);
		p[41] = 0x9A; /* 51866 mV, little endian */
		p[42] = 0xCA;
		p[56] = 87;
		for (i = 0; i < l->nfields; i++) {
			const struct eftab_field *f = &l->fields[i];

			CHECK_EQ_INT(eftab_value(f, p, sizeof(p), &v), 0);
			if (!strcmp(f->name, "serial"))
				CHECK(v.type == SAMPLE_STRING && !strcmp(v.s, "M102Z3B4ZE5H0601"));
			if (!strcmp(f->name, "voltage_v"))
				CHECK(v.type == SAMPLE_FLOAT && v.f == 51.866);
			if (!strcmp(f->name, "soc_pct"))
				CHECK(v.type == SAMPLE_INT && v.i == 87);
		}
		CHECK_EQ_INT(eftab_value(&l->fields[0], p, 10, &v), -ERANGE);
	}
	/* any src: the status record; its version written last byte first (version_rev) */
	l = eftab_find(&t, 0x42, 0x99, 0x03, 0x1A, 128, NULL);
	CHECK(l != NULL);
	for (i = 0; l && i < l->nfields; i++)
		if (!strcmp(l->fields[i].name, "module_version")) {
			uint8_t q[128] = {0};

			memcpy(q + 20, "\x4D\x03\x01\x01", 4);
			CHECK_EQ_INT(eftab_value(&l->fields[i], q, sizeof(q), &v), 0);
			CHECK(v.type == SAMPLE_STRING && !strcmp(v.s, "1.1.3.77"));
		}
	eftab_free(&t);
	free(text);
}

static void test_types(void)
{
	static const char table[] =
		"{\"powerd_ecoflow_decode\": 1, \"records\": [{\"cmd\": \"01:02\", \"len\": 16, "
		"\"fields\": [{\"name\": \"a\", \"offset\": 0, \"type\": \"i8\"},"
		"{\"name\": \"b\", \"offset\": 1, \"type\": \"i16\"},"
		"{\"name\": \"c\", \"offset\": 3, \"type\": \"i32\"},"
		"{\"name\": \"d\", \"offset\": 7, \"type\": \"f32\", \"scale\": 2},"
		"{\"name\": \"e\", \"offset\": 11, \"type\": \"u32\"},"
		"{\"name\": \"s\", \"offset\": 11, \"type\": \"ascii\", \"size\": 5}]}]}";
	const uint8_t p[16] = {0xFF, 0xFE, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0x00,
			       0x00, 0xC0, 0x3F, 'a',  'b',  ' ',  ' ',	 0};
	struct eftab_value v;
	struct eftab t;
	char err[256];

	CHECK_EQ_INT(eftab_load("t.json", table, strlen(table), &t, err, sizeof(err)), 0);
	if (t.n != 1)
		return;
	CHECK(!eftab_value(&t.v[0].fields[0], p, 16, &v) && v.i == -1);
	CHECK(!eftab_value(&t.v[0].fields[1], p, 16, &v) && v.i == -2);
	CHECK(!eftab_value(&t.v[0].fields[2], p, 16, &v) && v.i == -2);
	CHECK(!eftab_value(&t.v[0].fields[3], p, 16, &v) && v.type == SAMPLE_FLOAT && v.f == 3.0);
	CHECK(!eftab_value(&t.v[0].fields[4], p, 16, &v) && v.i == 0x20206261);
	CHECK(!eftab_value(&t.v[0].fields[5], p, 16, &v) && !strcmp(v.s, "ab"));
	CHECK(t.v[0].src == -1 && t.v[0].dst == -1 && t.v[0].cmd_set == 1 && t.v[0].cmd_id == 2);
	eftab_free(&t);
}

static void bad(const char *table, const char *where, const char *why)
{
	struct eftab t;
	char err[256] = "";
	int r = eftab_load("t.json", table, strlen(table), &t, err, sizeof(err));

	CHECK_EQ_INT(r, -EINVAL);
	if (strncmp(err, where, strlen(where)) || !strstr(err, why))
		fprintf(stderr, "want '%s...%s', got '%s'\n", where, why, err);
	CHECK(!strncmp(err, where, strlen(where)) && strstr(err, why));
	CHECK(t.n == 0 && t.v == NULL);
}

#define HEAD "{\"powerd_ecoflow_decode\": 1, \"records\": [\n"
#define REC  "{\"cmd\": \"03:2F\", \"len\": 8, \"fields\": [\n"

static void test_bad(void)
{
	bad("{\"records\": []}", "t.json:1:1: ", "\"powerd_ecoflow_decode\": 1 is missing");
	bad("[1]", "t.json:1:1: ", "must be an object");
	bad("{\"powerd_ecoflow_decode\": 1, \"records\": [}", "t.json:1:", "");
	bad(HEAD "{\"cmd\": \"03:2F\", \"len\": 8}]}", "t.json:2:1: ", "needs cmd, len and fields");
	bad(HEAD "{\"cmd\": \"032F\", \"len\": 8, \"fields\": []}]}", "t.json:2:9: ", "SS:II");
	bad(HEAD "{\"cmd\": \"03:2F\", \"len\": 0, \"fields\": []}]}", "t.json:2:", "len must be");
	bad(HEAD "{\"cmd\": \"03:2F\", \"len\": 8, \"src\": 256, \"fields\": []}]}",
	    "t.json:2:", "src must be");
	bad(HEAD "{\"cmd\": \"03:2F\", \"len\": 8, \"lenn\": 8, \"fields\": []}]}",
	    "t.json:2:", "unknown member \"lenn\"");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 7, \"type\": \"u16\"}]}]}",
	    "t.json:3:", "lies beyond the record's 8 bytes");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 0, \"type\": \"u7\"}]}]}",
	    "t.json:3:", "unknown type 'u7'");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 0, \"type\": \"ascii\"}]}]}",
	    "t.json:3:", "needs a size");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 0, \"type\": \"u8\", \"size\": 1}]}]}",
	    "t.json:3:", "only for ascii");
	bad(HEAD REC "{\"name\": \"a b\", \"offset\": 0, \"type\": \"u8\"}]}]}",
	    "t.json:3:", "only A-Z");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 0, \"type\": \"u8\"},\n"
		     "{\"name\": \"a\", \"offset\": 1, \"type\": \"u8\"}]}]}",
	    "t.json:4:", "appears twice");
	bad(HEAD REC "{\"name\": \"a\", \"offset\": 0, \"type\": \"u8\", \"scale\": 0}]}]}",
	    "t.json:3:", "scale must be");
	bad(HEAD REC "]},\n" REC "]}]}", "t.json:4:", "a second layout");
}

int main(void)
{
	test_shipped();
	test_types();
	test_bad();
	return check_result();
}

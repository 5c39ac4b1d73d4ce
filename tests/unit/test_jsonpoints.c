/* JSON documents as points: the Power Pod's file (every record, type and
 * tag exactly), the PowMr flat shape (with and without a time key), the
 * time formats, and a table of bad documents, each refused whole with its
 * reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsonpoints.h"

struct got {
	int n;
	char line[64][512];
};

/* Each point as one line: measurement,tags fields time, with types. */
static int collect(void *arg, const struct jp_point *p)
{
	struct got *g = arg;
	char *o;
	size_t i;
	int k;

	if (g->n == 64)
		return -E2BIG;
	o = g->line[g->n++];
	k = snprintf(o, 512, "%s", p->measurement);
	for (i = 0; i < p->ntags; i++)
		k += snprintf(o + k, 512 - (size_t)k, ",%s=%s", p->tags[i].key, p->tags[i].value);
	for (i = 0; i < p->nfields; i++) {
		const struct jp_field *f = &p->fields[i];

		k += snprintf(o + k, 512 - (size_t)k, "%s%s=", i ? "," : " ", f->key);
		switch (f->type) {
		case JP_FLOAT:
			k += snprintf(o + k, 512 - (size_t)k, "%.17gf", f->f);
			break;
		case JP_INT:
			k += snprintf(o + k, 512 - (size_t)k, "%lldi", (long long)f->i);
			break;
		case JP_BOOL:
			k += snprintf(o + k, 512 - (size_t)k, "%s", f->b ? "T" : "F");
			break;
		case JP_STRING:
			k += snprintf(o + k, 512 - (size_t)k, "\"%s\"", f->s);
			break;
		}
	}
	snprintf(o + k, 512 - (size_t)k, " %lld", (long long)p->ts_ns);
	return 0;
}

static int convert(const char *text, const struct jp_opts *o, struct got *g, struct jp_error *e)
{
	struct json_doc d;
	struct json_error je;
	int r = json_parse(text, strlen(text), 0, &d, &je);

	memset(g, 0, sizeof(*g));
	if (r) {
		e->reason = JP_NOT_JSON;
		return r;
	}
	r = jp_convert(d.root, o, collect, g, e);
	json_free(&d);
	return r;
}

static void test_pp1(void)
{
	struct jp_opts o = {.format = JP_POINTS};
	struct jp_error e;
	struct got g;
	char *t = check_slurp("tests/fixtures/json/message_2026-03-14T10-02-14.json", NULL);
	int i;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ_INT(convert(t, &o, &g, &e), 11);
	for (i = 0; i < g.n; i++)
		printf("  %s\n", g.line[i]);
	CHECK(!strcmp(g.line[0], "der_power_supply,der_id=EXAMPLE-000001 voltage=0f "
				 "1773507731000000000"));
	CHECK(!strcmp(g.line[5],
		      "grid_ratio,der_id=EXAMPLE-000001,inverter_id=EXAMPLEINV0000000001 "
		      "power_import=509i,power_export=0i 1773507732000000000"));
	CHECK(strstr(g.line[7], "solar,") == g.line[7] &&
	      strstr(g.line[7], " enabled=T,power=0f "));
	/* A tag that is a number becomes its text. */
	CHECK(strstr(g.line[8], ",string_index=1 ") != NULL);
	free(t);
}

static void test_flat(void)
{
	static const char powmr[] =
		"{\"ac\":{\"input_freq\":60.7,\"output_load_percent\":9},"
		"\"dc\":{\"pv_current\":4.575311,\"x\":{\"y\":1}},"
		"\"inverter\":{\"valid_info\":1,\"soc\":100,\"mode\":\"line\"}}";
	struct jp_opts o = {.format = JP_FLAT, .default_ns = 42};
	struct jp_error e;
	struct got g;

	CHECK_EQ_INT(convert(powmr, &o, &g, &e), 3);
	CHECK(!strcmp(g.line[0], "ac input_freq=60.700000000000003f,output_load_percent=9i 42"));
	CHECK(!strcmp(g.line[1], "dc pv_current=4.5753110000000001f,x_y=1i 42"));
	CHECK(!strcmp(g.line[2], "inverter valid_info=1i,soc=100i,mode=\"line\" 42"));

	/* A time key inside each object, or in the document. */
	o.time_key = "ts";
	CHECK_EQ_INT(convert("{\"a\":{\"v\":1,\"ts\":\"2026-03-14T17:02:11Z\"},\"b\":{\"w\":2}, "
			     "\"ts\": 1773507700}",
			     &o, &g, &e),
		     2);
	CHECK(!strcmp(g.line[0], "a v=1i 1773507731000000000"));
	CHECK(!strcmp(g.line[1], "b w=2i 1773507700000000000"));
	/* Scalars at the top: one point named after the source (the Pico). */
	o.time_key = "timestamp";
	o.name = "pico";
	CHECK_EQ_INT(convert("{\"power\": 512.5, \"timestamp\": 1773507731, \"host\": \"p1\"}", &o,
			     &g, &e),
		     1);
	CHECK(!strcmp(g.line[0], "pico power=512.5f,host=\"p1\" 1773507731000000000"));
}

static void test_times(void)
{
	static const struct {
		enum jp_time f;
		const char *t;
		long long ns;
	} cases[] = {
		{JP_TIME_AUTO, "1773507731", 1773507731000000000LL},
		{JP_TIME_AUTO, "1773507731.25", 1773507731250000000LL},
		{JP_TIME_UNIX_MS, "1773507731123", 1773507731123000000LL},
		{JP_TIME_UNIX_US, "1773507731123456", 1773507731123456000LL},
		{JP_TIME_UNIX_NS, "1773507731123456789", 1773507731123456789LL},
		{JP_TIME_RFC3339, "\"2026-03-14T17:02:11.5Z\"", 1773507731500000000LL},
	};
	struct jp_opts o = {.format = JP_POINTS};
	struct jp_error e;
	char text[256];
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.time_format = cases[i].f;
		snprintf(text, sizeof(text),
			 "{\"measurement\":\"m\",\"time\":%s,\"fields\":{\"v\":1}}", cases[i].t);
		CHECK_EQ_INT(convert(text, &o, &g, &e), 1);
		CHECK(g.n == 1 && atoll(strrchr(g.line[0], ' ') + 1) == cases[i].ns);
	}
}

static void test_bad(void)
{
	static const struct {
		const char *text;
		enum jp_format format;
		enum jp_reason reason;
		size_t record;
	} bad[] = {
		{"{\"telemetry\": [", JP_POINTS, JP_NOT_JSON, 0},
		{"{\"telemetry\": 3}", JP_POINTS, JP_NO_RECORDS, 0},
		{"{\"telemetry\": []}", JP_POINTS, JP_NO_RECORDS, 0},
		{"[{\"measurement\":\"m\",\"fields\":{\"v\":1}}]", JP_POINTS, JP_NO_TIME, 0},
		{"[{\"measurement\":\"m\",\"time\":\"2026-03-14T17:02:11Z\",\"fields\":{\"v\":1}},"
		 "{\"measurement\":\"m\",\"time\":\"yesterday\",\"fields\":{\"v\":1}}]",
		 JP_POINTS, JP_BAD_TIME, 1},
		{"[{\"measurement\":\"m\",\"time\":-5,\"fields\":{\"v\":1}}]", JP_POINTS,
		 JP_BAD_TIME, 0},
		{"[{\"measurement\":\"m\",\"time\":1,\"fields\":{}}]", JP_POINTS, JP_NO_FIELDS, 0},
		{"[{\"measurement\":\"m\",\"time\":1,\"fields\":{\"v\":null}}]", JP_POINTS,
		 JP_NO_FIELDS, 0},
		{"[{\"measurement\":\"m\",\"time\":1}]", JP_POINTS, JP_NO_FIELDS, 0},
		{"[{\"measurement\":\"m\",\"time\":1,\"fields\":{\"v\":[1]}}]", JP_POINTS,
		 JP_BAD_FIELD, 0},
		{"[{\"measurement\":\"m\",\"time\":1,\"tags\":{\"t\":{}},\"fields\":{\"v\":1}}]",
		 JP_POINTS, JP_BAD_FIELD, 0},
		{"[{\"measurement\":\"\",\"time\":1,\"fields\":{\"v\":1}}]", JP_POINTS, JP_BAD_NAME,
		 0},
		{"[{\"time\":1,\"fields\":{\"v\":1}}]", JP_POINTS, JP_BAD_NAME, 0},
		{"[1]", JP_POINTS, JP_NO_RECORDS, 0},
		{"[1, 2]", JP_FLAT, JP_NO_RECORDS, 0},
		{"{}", JP_FLAT, JP_NO_RECORDS, 0},
		{"{\"\": {\"v\": 1}}", JP_FLAT, JP_BAD_NAME, 0}, /* a member named "" */
		{"{\"a\":{\"v\":[1]}}", JP_FLAT, JP_BAD_FIELD, 0},
		{"{\"a\":{\"v\":null}}", JP_FLAT, JP_NO_FIELDS, 0},
		{"{\"v\": 1}", JP_FLAT, JP_BAD_NAME, 0}, /* top-level scalars, no name */
	};
	struct jp_error e;
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct jp_opts o = {.format = bad[i].format};
		int r = convert(bad[i].text, &o, &g, &e);

		if (r >= 0 || e.reason != bad[i].reason)
			fprintf(stderr, "case %zu: r=%d reason %s, want %s (%s)\n", i, r,
				jp_reason_name(e.reason), jp_reason_name(bad[i].reason), e.msg);
		CHECK(r < 0);
		CHECK_EQ_INT(e.reason, bad[i].reason);
		if (bad[i].reason != JP_NOT_JSON) {
			CHECK_EQ_INT(e.record, bad[i].record);
			CHECK(e.msg[0] != '\0');
		}
	}
	CHECK(!strcmp(jp_reason_name(JP_NO_TIME), "no_time"));
}

/* The callback may refuse: the whole document is refused. */
static int refuse_second(void *arg, const struct jp_point *p)
{
	(void)p;
	return ++*(int *)arg == 2 ? -ENAMETOOLONG : 0;
}

static void test_refused(void)
{
	static const char t[] = "[{\"measurement\":\"a\",\"time\":1,\"fields\":{\"v\":1}},"
				"{\"measurement\":\"b\",\"time\":1,\"fields\":{\"v\":1}}]";
	struct jp_opts o = {.format = JP_POINTS};
	struct json_doc d;
	struct json_error je;
	struct jp_error e;
	int n = 0;

	CHECK_EQ_INT(json_parse(t, strlen(t), 0, &d, &je), 0);
	CHECK_EQ_INT(jp_convert(d.root, &o, refuse_second, &n, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_BAD_NAME);
	CHECK_EQ_INT(e.record, 1);
	json_free(&d);
}

/* Telegraf's json parser, as mqtt_consumer runs it for the Pico meters. */
static void test_telegraf(void)
{
	struct jp_opts o = {.format = JP_TELEGRAF,
			    .name_key = "measurement",
			    .time_key = "timestamp",
			    .time_format = JP_TIME_UNIX,
			    .tag_keys = "host",
			    .name = "mqtt",
			    .default_ns = 7};
	struct jp_tag topic = {"topic", "home/pico/1"};
	struct jp_error e;
	struct got g;

	/* power as a string (the Pico's) and as a number: the same float. */
	CHECK_EQ_INT(convert("{\"power\": \"512.5\", \"timestamp\": \"1773507731\", "
			     "\"measurement\": \"house\", \"host\": \"pico1\"}",
			     &o, &g, &e),
		     1);
	CHECK(!strcmp(g.line[0], "house,host=pico1 power=512.5f 1773507731000000000"));
	CHECK_EQ_INT(convert("{\"power\": 123, \"timestamp\": 1773507731, "
			     "\"measurement\": \"house\", \"host\": \"pico1\"}",
			     &o, &g, &e),
		     1);
	CHECK(!strcmp(g.line[0], "house,host=pico1 power=123f 1773507731000000000"));
	/* Fractional seconds, a host that is a number, other strings dropped,
	 * booleans dropped unless string_fields names them. */
	o.string_fields = "note, ok";
	CHECK_EQ_INT(convert("{\"power\": \"-1e3\", \"timestamp\": 1773507731.25, "
			     "\"host\": 42, \"mode\": \"line\", \"note\": \"hi\", "
			     "\"ok\": true, \"up\": false, \"bad\": \"1 2\", \"hex\": \"0x10\", "
			     "\"inf\": \"inf\", \"n\": null}",
			     &o, &g, &e),
		     1);
	CHECK(!strcmp(g.line[0], "mqtt,host=42 power=-1000f,note=\"hi\",ok=T 1773507731250000000"));
	o.string_fields = NULL;
	/* Nested objects and arrays flattened; no time member: the default. */
	CHECK_EQ_INT(convert("{\"a\": {\"b\": 1, \"c\": {\"d\": 2}}, \"l\": [3, {\"x\": 4}]}", &o,
			     &g, &e),
		     1);
	CHECK(!strcmp(g.line[0], "mqtt a_b=1f,a_c_d=2f,l_0=3f,l_1_x=4f 7"));
	/* An array of objects: one point each; the extra tag on every one,
	 * replacing the document's. */
	o.tags = &topic;
	o.ntags = 1;
	CHECK_EQ_INT(convert("[{\"measurement\": \"a\", \"v\": 1, \"topic\": \"x\"}, "
			     "{\"measurement\": \"b\", \"v\": \"2\"}]",
			     &o, &g, &e),
		     2);
	CHECK(!strcmp(g.line[0], "a,topic=home/pico/1 v=1f 7"));
	CHECK(!strcmp(g.line[1], "b,topic=home/pico/1 v=2f 7"));
	o.tags = NULL;
	o.ntags = 0;
	/* Milliseconds, as text too. */
	o.time_format = JP_TIME_UNIX_MS;
	CHECK_EQ_INT(convert("{\"v\": 1, \"timestamp\": \"1773507731123\"}", &o, &g, &e), 1);
	CHECK(!strcmp(g.line[0], "mqtt v=1f 1773507731123000000"));
	o.time_format = JP_TIME_UNIX;

	/* No field left: refused, with its reason. */
	CHECK_EQ_INT(
		convert("{\"measurement\": \"m\", \"host\": \"h\", \"s\": \"text\"}", &o, &g, &e),
		-EBADMSG);
	CHECK_EQ_INT(e.reason, JP_NO_FIELDS);
	CHECK(strstr(e.msg, "m has no field") != NULL);
	/* A bad time. */
	CHECK_EQ_INT(convert("{\"v\": 1, \"timestamp\": \"yesterday\"}", &o, &g, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_BAD_TIME);
	CHECK_EQ_INT(convert("{\"v\": 1, \"timestamp\": -3}", &o, &g, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_BAD_TIME);
	/* Not an object, or an array of something else. */
	CHECK_EQ_INT(convert("42", &o, &g, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_NO_RECORDS);
	CHECK_EQ_INT(convert("[{\"v\": 1}, 2]", &o, &g, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_NO_RECORDS);
	CHECK_EQ_INT(e.record, 1);
	/* No name key member and no name: refused. */
	o.name = NULL;
	CHECK_EQ_INT(convert("{\"v\": 1}", &o, &g, &e), -EBADMSG);
	CHECK_EQ_INT(e.reason, JP_BAD_NAME);

	CHECK(jp_list_has(" host , meter", "meter"));
	CHECK(jp_list_has("host", "host"));
	CHECK(!jp_list_has("hostname", "host"));
	CHECK(!jp_list_has(NULL, "host"));
}

int main(void)
{
	test_telegraf();
	test_pp1();
	test_flat();
	test_times();
	test_bad();
	test_refused();
	return check_result();
}

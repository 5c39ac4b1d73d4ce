/* The CloudWatch sink against tests/cloudwatch_fake.py, which recomputes
 * every SigV4 signature with botocore and validates PutMetricData like AWS.
 *
 *   CW_ENDPOINT=http://127.0.0.1:PORT/ CW_RECORD=FILE test_sink_cloudwatch
 *   test_sink_cloudwatch --fake-creds    the fake's --cred arguments
 *
 * Without CW_ENDPOINT only the offline checks run (credentials, region,
 * open() errors), then it exits 77: tests/t_sink_cloudwatch.sh starts the
 * fake and runs the rest.  This program plays the uploader: it calls send(),
 * runs the multi handle and hands finished transfers to done(). */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws_cred.h"
#include "check.h"
#include "sink.h"
#include "spans.h"

#define NS_PER_S 1000000000LL
#define DAY_NS	 (86400 * NS_PER_S)
/* The bulk samples of the limits scenario: 6 fields, 6 tags at most. */
#define BULK_FIELDS 6

/* Fake keys, known to the fake through --fake-creds. */
static const char AKID[] = "AKIDPOWERDTEST000001";
static const char SECRET[] = "fakeSecret/K7MDENG+bPxRfiCYTESTKEY000001";
static const char AKID_T[] = "ASIAPOWERDTEST000002"; /* with a session token */
static const char SECRET_T[] = "fakeSecret/K7MDENG+bPxRfiCYTESTKEY000002";
static const char AKID_F[] = "AKIDPOWERDTEST000003"; /* from a credentials file */
static const char SECRET_F[] = "fakeSecret/K7MDENG+bPxRfiCYTESTKEY000003";
static const char WRONG[] = "wrongSecret/K7MDENG+bPxRfiCYTESTKEY999999";

static char token_t[1500], token_f[1200];
static char tmpdir[64];

/* A long token of base64 characters ('+', '/', '='), made up but stable. */
static void make_token(char *t, size_t n, const char *seed)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned x = 2166136261u;

	for (const char *p = seed; *p; p++)
		x = (x ^ (unsigned char)*p) * 16777619u;
	for (size_t i = 0; i + 3 < n; i++) {
		x = x * 1103515245u + 12345u;
		t[i] = alphabet[(x >> 16) % 64];
	}
	t[n - 3] = '=';
	t[n - 2] = '=';
	t[n - 1] = '\0';
}

struct ctx {
	CURLM *multi;
	const char *endpoint;
	const char *record;
	char control[600];
	struct cfg_sink cfg;
	struct sink s;
};

/* ------------------------------------------------------------ samples */

/* The builders, checked: the test data keeps within every limit. */
static void smp_init(struct sample *s, const char *m, int64_t ts)
{
	CHECK_EQ_INT(sample_init(s, m, ts), 0);
}

static void smp_tag(struct sample *s, const char *k, const char *v)
{
	CHECK_EQ_INT(sample_tag(s, k, v), 0);
}

static void smp_f(struct sample *s, const char *k, double v)
{
	CHECK_EQ_INT(sample_float(s, k, v), 0);
}

static void smp_i(struct sample *s, const char *k, int64_t v)
{
	CHECK_EQ_INT(sample_int(s, k, v), 0);
}

static void smp_b(struct sample *s, const char *k, bool v)
{
	CHECK_EQ_INT(sample_bool(s, k, v), 0);
}

static void smp_s(struct sample *s, const char *k, const char *v)
{
	CHECK_EQ_INT(sample_string(s, k, v), 0);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* What CloudWatch should receive, worked out here without the sink's code:
 * the test data keeps well away from every limit it checks. */
static const char *expect_unit(const char *field)
{
	static const char *const map[][2] = {
		{"interval_s", "Seconds"},	{"pulses_total", "Count"},
		{"latency_ms", "Milliseconds"}, {"load_pct", "Percent"},
		{"mem_bytes", "Bytes"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(field, map[i][0]))
			return map[i][1];
	return "None";
}

struct want {
	const struct sample *smp;
	const char *key; /* in smp's record */
	double value;
};

static size_t expect(const struct sample *v, size_t n, struct want *out, size_t max)
{
	int64_t now = now_ns();
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct sample_view sv;
		struct sample_cursor fc;
		struct sample_field f;

		CHECK(sample_view_of(&sv, &v[i]) > 0);
		if (sv.ts_ns < now - 13 * DAY_NS || sv.ts_ns > now + DAY_NS / 24)
			continue;
		sample_fields(&sv, &fc);
		while (sample_next_field(&fc, &f)) {
			double x;

			if (f.type == SAMPLE_STRING)
				continue;
			x = f.type == SAMPLE_FLOAT ? f.v.f
			    : f.type == SAMPLE_INT ? (double)f.v.i
						   : (f.v.b ? 1 : 0);
			if (!isfinite(x) || fabs(x) > 1e100 || (x != 0 && fabs(x) < 1e-100))
				continue;
			if (k < max)
				out[k] = (struct want){&v[i], f.key, x};
			k++;
		}
	}
	return k;
}

/* -------------------------------------------------------- fake access */

static size_t collect(char *p, size_t size, size_t n, void *user)
{
	struct buf *b = user;

	buf_append(b, p, size * n);
	return size * n;
}

static cJSON *http_get_json(const char *url)
{
	CURL *e = curl_easy_init();
	struct buf b;
	cJSON *j = NULL;

	buf_init(&b);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(e) == CURLE_OK && b.data)
		j = cJSON_Parse(b.data);
	curl_easy_cleanup(e);
	buf_free(&b);
	return j;
}

static void fake_control(struct ctx *c, const char *query)
{
	char url[800];
	cJSON *j;

	snprintf(url, sizeof(url), "%s_control?%s", c->control, query);
	j = http_get_json(url); /* "ok\n" is not JSON: only the transfer matters */
	cJSON_Delete(j);
}

static long fake_stat(struct ctx *c, const char *name)
{
	char url[800];
	cJSON *j, *v;
	long r = -1;

	snprintf(url, sizeof(url), "%s_stats", c->control);
	j = http_get_json(url);
	v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (cJSON_IsNumber(v))
		r = (long)v->valuedouble;
	cJSON_Delete(j);
	return r;
}

/* The datums the fake accepted since the last call (then forgotten). */
static cJSON *take_records(struct ctx *c)
{
	cJSON *arr = cJSON_CreateArray();
	FILE *f = fopen(c->record, "r");
	char *line = NULL;
	size_t cap = 0;

	if (f) {
		while (getline(&line, &cap, f) > 0) {
			cJSON *j = cJSON_Parse(line);

			if (!j) {
				fprintf(stderr, "bad record line: %s", line);
				CHECK(!"record line is JSON");
				continue;
			}
			cJSON_AddItemToArray(arr, j);
		}
		fclose(f);
		free(line);
		CHECK(truncate(c->record, 0) == 0);
	}
	return arr;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* Every accepted datum, in order, against the expectation. */
static void check_records(struct ctx *c, const struct want *w, size_t n, const char *akid,
			  const char *line)
{
	cJSON *recs = take_records(c);
	size_t got = (size_t)cJSON_GetArraySize(recs), bad = 0;

	if (got != n)
		fprintf(stderr, "%s: %zu datums recorded, expected %zu\n", line, got, n);
	CHECK_EQ_INT(got, n);
	for (size_t i = 0; i < n && i < got && bad < 5; i++) {
		const cJSON *r = cJSON_GetArrayItem(recs, (int)i);
		const cJSON *dims = cJSON_GetObjectItemCaseSensitive(r, "dims");
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(r, "value");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(r, "ts_ms");
		struct sample_view sv;
		char name[80];
		size_t nd = 0, ok = 1;

		CHECK(sample_view_of(&sv, w[i].smp) > 0);
		snprintf(name, sizeof(name), "%s_%s", sv.measurement, w[i].key);
		ok &= !strcmp(jstr(r, "name"), name);
		ok &= !strcmp(jstr(r, "namespace"), c->cfg.namespace_);
		ok &= !strcmp(jstr(r, "unit"), expect_unit(w[i].key));
		ok &= !strcmp(jstr(r, "akid"), akid);
		ok &= cJSON_IsNumber(val) && val->valuedouble == w[i].value;
		ok &= cJSON_IsNumber(ts) && (int64_t)ts->valuedouble == sv.ts_ns / 1000000;
		for (size_t t = 0; t < sv.ntags; t++) {
			const struct sample_tag *tag = &sv.tags[t];
			const cJSON *d;

			if (!tag->value[0])
				continue;
			d = cJSON_GetArrayItem(dims, (int)nd++);
			ok &= cJSON_GetArraySize(d) == 2 &&
			      !strcmp(cJSON_GetArrayItem(d, 0)->valuestring, tag->key) &&
			      !strcmp(cJSON_GetArrayItem(d, 1)->valuestring, tag->value);
		}
		ok &= cJSON_GetArraySize(dims) == (int)nd;
		if (!ok) {
			char *txt = cJSON_PrintUnformatted(r);

			fprintf(stderr, "%s: datum %zu is %s; expected %s = %.17g at %lld ms\n",
				line, i, txt, name, w[i].value, (long long)(sv.ts_ns / 1000000));
			free(txt);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	cJSON_Delete(recs);
}

/* -------------------------------------------------- playing uploader */

static void setup(struct ctx *c, const char *ns)
{
	memset(&c->cfg, 0, sizeof(c->cfg));
	snprintf(c->cfg.name, sizeof(c->cfg.name), "cw");
	c->cfg.type = CFG_SINK_CLOUDWATCH;
	snprintf(c->cfg.namespace_, sizeof(c->cfg.namespace_), "%s", ns);
	snprintf(c->cfg.region, sizeof(c->cfg.region), "us-east-1");
	if (c->endpoint)
		snprintf(c->cfg.endpoint, sizeof(c->cfg.endpoint), "%s", c->endpoint);
	c->cfg.max_age_ns = 14 * DAY_NS;
	c->cfg.timeout_ns = 10 * NS_PER_S;
	c->cfg.batch_size = 5000;
}

static int open_sink(struct ctx *c)
{
	memset(&c->s, 0, sizeof(c->s));
	c->s.cfg = &c->cfg;
	c->s.ops = &sink_cloudwatch_ops;
	c->s.multi = c->multi;
	return c->s.ops->open(&c->s);
}

static void close_sink(struct ctx *c)
{
	c->s.ops->close(&c->s);
	CHECK(c->s.priv == NULL);
}

static void env_creds(const char *id, const char *secret, const char *token)
{
	if (id)
		setenv("AWS_ACCESS_KEY_ID", id, 1);
	else
		unsetenv("AWS_ACCESS_KEY_ID");
	if (secret)
		setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
	else
		unsetenv("AWS_SECRET_ACCESS_KEY");
	if (token)
		setenv("AWS_SESSION_TOKEN", token, 1);
	else
		unsetenv("AWS_SESSION_TOKEN");
}

/* send() and drive the transfers until the sink reports; -1 if send()
 * failed, -2 on a time-out. */
static int run_batch(struct ctx *c, const struct sample *v, size_t n)
{
	int64_t deadline = now_ns() + 60 * NS_PER_S;
	struct sample_list l;
	struct sample_span sp;
	int rc;

	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	c->s.verdict_ready = false;
	c->s.verdict_msg[0] = '\0';
	c->s.st.requests++; /* as the uploader does */
	rc = c->s.ops->send(&c->s, &sp);
	sample_list_free(&l); /* encoded: the samples may go */
	if (rc) {
		fprintf(stderr, "send: %s\n", strerror(-rc));
		return -1;
	}
	while (!c->s.verdict_ready) {
		CURLMsg *m;
		int running, left;

		if (now_ns() > deadline)
			return -2;
		curl_multi_perform(c->multi, &running);
		while ((m = curl_multi_info_read(c->multi, &left))) {
			struct sink *owner = NULL;
			long status = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&owner);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			CHECK(owner == &c->s);
			owner->ops->done(owner, m->easy_handle, m->data.result, status);
		}
		if (!c->s.verdict_ready)
			curl_multi_poll(c->multi, NULL, 0, 100, NULL);
	}
	return (int)c->s.verdict;
}

#define EXPECT_VERDICT(c, v, n, want)                                                              \
	do {                                                                                       \
		int got_ = run_batch((c), (v), (n));                                               \
		if (got_ != (int)(want))                                                           \
			fprintf(stderr, "%s:%d: verdict %d, message '%s'\n", __FILE__, __LINE__,   \
				got_, (c)->s.verdict_msg);                                         \
		CHECK_EQ_INT(got_, want);                                                          \
	} while (0)

/* ------------------------------------------------------ offline checks */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static void write_cred_file(const char *path, const char *pp1_secret)
{
	char *text = malloc(8192);

	snprintf(text, 8192,
		 "# the AWS CLI's format\n"
		 "[default]\n"
		 "aws_access_key_id = AKIDUNKNOWN000000000\n"
		 "aws_secret_access_key = %s\n"
		 "\n"
		 "; a second profile, written less tidily\n"
		 "[ pp1 ]\n"
		 "AWS_Access_Key_Id=%s\n"
		 "aws_secret_access_key : %s\n"
		 "aws_session_token = %s\n"
		 "region = eu-west-1\n",
		 WRONG, AKID_F, pp1_secret, token_f);
	write_file(path, text);
	free(text);
}

static void offline_cred(void)
{
	struct aws_cred cr;
	char err[1024], path[128], missing[128];
	int rc;

	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	snprintf(missing, sizeof(missing), "%s/nonexistent", tmpdir);
	write_cred_file(path, SECRET_F);

	/* the environment first */
	env_creds(AKID, SECRET, NULL);
	CHECK_EQ_INT(aws_cred_load(&cr, path, "pp1", err, sizeof(err)), 0);
	CHECK(!strcmp(cr.access_key_id, AKID) && !strcmp(cr.secret_access_key, SECRET));
	CHECK(cr.session_token[0] == '\0' && cr.from_env);
	env_creds(AKID_T, SECRET_T, token_t);
	CHECK_EQ_INT(aws_cred_load(&cr, NULL, NULL, err, sizeof(err)), 0);
	CHECK(!strcmp(cr.session_token, token_t));

	/* then the file: a profile, long token, ':' and odd case */
	env_creds(NULL, NULL, NULL);
	CHECK_EQ_INT(aws_cred_load(&cr, path, "pp1", err, sizeof(err)), 0);
	CHECK(!strcmp(cr.access_key_id, AKID_F) && !strcmp(cr.secret_access_key, SECRET_F));
	CHECK(!strcmp(cr.session_token, token_f) && !cr.from_env);
	CHECK_EQ_INT(aws_cred_load(&cr, path, NULL, err, sizeof(err)), 0);
	CHECK(!strcmp(cr.access_key_id, "AKIDUNKNOWN000000000") && !strcmp(cr.profile, "default"));
	setenv("AWS_PROFILE", "pp1", 1);
	CHECK_EQ_INT(aws_cred_load(&cr, path, NULL, err, sizeof(err)), 0);
	CHECK(!strcmp(cr.access_key_id, AKID_F));
	unsetenv("AWS_PROFILE");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	CHECK_EQ_INT(aws_cred_load(&cr, NULL, "pp1", err, sizeof(err)), 0);
	CHECK(!strcmp(cr.access_key_id, AKID_F));
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");

	/* failures say what is missing, never a secret */
	rc = aws_cred_load(&cr, path, "nosuch", err, sizeof(err));
	CHECK_EQ_INT(rc, -EINVAL);
	CHECK(strstr(err, "nosuch") && strstr(err, path) && strstr(err, "AWS_ACCESS_KEY_ID"));
	CHECK(!strstr(err, SECRET_F) && !strstr(err, WRONG) && cr.secret_access_key[0] == '\0');
	rc = aws_cred_load(&cr, missing, NULL, err, sizeof(err));
	CHECK_EQ_INT(rc, -ENOENT);
	CHECK(strstr(err, missing) && strstr(err, "No such file"));
	env_creds(AKID, NULL, NULL);
	rc = aws_cred_load(&cr, missing, NULL, err, sizeof(err));
	CHECK(rc < 0 && strstr(err, "AWS_SECRET_ACCESS_KEY is not"));
	write_file(missing, "[default]\naws_access_key_id = X\n");
	env_creds(NULL, NULL, NULL);
	CHECK_EQ_INT(aws_cred_load(&cr, missing, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "aws_secret_access_key") != NULL);
	unlink(missing);

	/* region: configured, AWS_REGION, AWS_DEFAULT_REGION */
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	CHECK(aws_cred_region("") == NULL);
	setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
	CHECK(!strcmp(aws_cred_region(""), "eu-central-1"));
	setenv("AWS_REGION", "us-west-2", 1);
	CHECK(!strcmp(aws_cred_region(NULL), "us-west-2"));
	CHECK(!strcmp(aws_cred_region("ap-south-1"), "ap-south-1"));
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	aws_cred_wipe(&cr);
}

/* What fit() makes of n samples of `nums` numeric and `strs` string fields. */
static size_t fit_of(struct ctx *c, int nums, int strs, size_t n)
{
	struct sample *v = calloc(n, sizeof(*v));
	struct sample_list l;
	struct sample_span sp;
	size_t k;

	for (size_t i = 0; i < n; i++) {
		char key[16];

		smp_init(&v[i], "fit", (int64_t)i);
		for (int f = 0; f < nums + strs; f++) {
			snprintf(key, sizeof(key), "f%d", f);
			if (f < nums)
				smp_f(&v[i], key, f);
			else
				smp_s(&v[i], key, "x");
		}
	}
	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	k = sink_cloudwatch_ops.fit(&c->s, &sp);
	sample_list_free(&l);
	spans_free(v, n);
	free(v);
	return k;
}

static void offline_open(struct ctx *c)
{
	/* what the uploader may hand over in one send() fits one request */
	CHECK_EQ_INT(fit_of(c, 6, 0, 400), 166);
	CHECK_EQ_INT(fit_of(c, 1, 0, 2000), 1000);
	CHECK_EQ_INT(fit_of(c, 3, 1, 1000), 333); /* strings are not datums */
	CHECK_EQ_INT(fit_of(c, SAMPLE_MAX_FIELDS, 0, 50), 7);
	CHECK_EQ_INT(fit_of(c, 0, 2, 3000), 3000);
	CHECK_EQ_INT(fit_of(c, 6, 0, 10), 10);
	CHECK(sink_cloudwatch_ops.done != NULL && sink_cloudwatch_ops.send != NULL);

	env_creds(AKID, SECRET, NULL);
	setup(c, "pp1_telemetry");
	c->cfg.region[0] = '\0';
	CHECK_EQ_INT(open_sink(c), -EINVAL);
	CHECK(strstr(c->s.st.last_error, "region") && strstr(c->s.st.last_error, "AWS_REGION"));
	CHECK(c->s.priv == NULL);
	setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
	CHECK_EQ_INT(open_sink(c), 0);
	close_sink(c);
	unsetenv("AWS_DEFAULT_REGION");

	setup(c, "pp1_telemetry");
	snprintf(c->cfg.region, sizeof(c->cfg.region), "us-east-1:evil");
	CHECK_EQ_INT(open_sink(c), -EINVAL);

	setup(c, "AWS/EC2");
	CHECK_EQ_INT(open_sink(c), -EINVAL);
	CHECK(strstr(c->s.st.last_error, "namespace") != NULL);
	setup(c, "");
	CHECK_EQ_INT(open_sink(c), -EINVAL);

	/* no credentials anywhere: the message names both places */
	env_creds(NULL, NULL, NULL);
	setup(c, "pp1_telemetry");
	snprintf(c->cfg.credentials_file, sizeof(c->cfg.credentials_file), "%s/none", tmpdir);
	CHECK_EQ_INT(open_sink(c), -EINVAL);
	CHECK(strstr(c->s.st.last_error, "AWS_ACCESS_KEY_ID") &&
	      strstr(c->s.st.last_error, c->cfg.credentials_file));
	CHECK(c->s.priv == NULL);
}

/* ------------------------------------------------------ with the fake */

static void scenario_mapping(struct ctx *c)
{
	int64_t now = now_ns();
	struct sample v[9];
	struct want w[64];
	size_t nw, i = 0;

	env_creds(AKID, SECRET, NULL);
	setup(c, "pp1_telemetry");
	CHECK_EQ_INT(open_sink(c), 0);

	smp_init(&v[i], "pulse", now - 30 * NS_PER_S + 123456789);
	smp_tag(&v[i], "meter", "house");
	smp_f(&v[i], "power_w", 1234.5);
	smp_f(&v[i], "energy_wh", 98765.4321);
	smp_f(&v[i++], "interval_s", 2.916);
	smp_init(&v[i], "pulse", now - 20 * NS_PER_S);
	smp_tag(&v[i], "meter", "house");
	smp_tag(&v[i], "empty", ""); /* CloudWatch wants 1..1024 characters: left out */
	smp_f(&v[i], "power_w", 0);
	smp_f(&v[i], "energy_wh", 98765.5);
	smp_f(&v[i++], "interval_s", 300);
	smp_init(&v[i], "pulse", now - 10 * NS_PER_S + 999999999);
	smp_tag(&v[i], "meter", "heat pump/2");
	smp_f(&v[i], "power_w", -0.1);
	smp_f(&v[i++], "energy_wh", 0.1 + 0.2);
	smp_init(&v[i], "grid", now - 5 * NS_PER_S);
	smp_tag(&v[i], "phase", "L1");
	smp_tag(&v[i], "site", "a b/c+d&e=f%g \xc3\xbc~*'");
	smp_f(&v[i], "voltage_v", 230.1);
	smp_i(&v[i], "pulses_total", 123456789012LL);
	smp_b(&v[i], "online", true);
	smp_s(&v[i], "state", "ok"); /* not a metric */
	smp_f(&v[i], "latency_ms", 12.5);
	smp_f(&v[i++], "load_pct", 55);
	/* older than two weeks: dropped_too_old */
	smp_init(&v[i], "pulse", now - 15 * DAY_NS);
	smp_tag(&v[i], "meter", "house");
	smp_f(&v[i++], "power_w", 100);
	/* values CloudWatch refuses: dropped_encode */
	smp_init(&v[i], "pulse", now - 1 * NS_PER_S);
	smp_tag(&v[i], "meter", "house");
	smp_f(&v[i], "power_w", NAN);
	smp_f(&v[i++], "energy_wh", 5);
	smp_init(&v[i], "weird", now - 2 * NS_PER_S);
	smp_tag(&v[i], "k", "v");
	smp_f(&v[i], "a_w", INFINITY);
	smp_f(&v[i], "b_w", 1e200);
	smp_f(&v[i], "c_w", 1e-200);
	smp_f(&v[i], "d_w", -2.5e-5);
	smp_i(&v[i++], "mem_bytes", 4096);
	/* more than two hours ahead */
	smp_init(&v[i], "pulse", now + 3 * 3600 * NS_PER_S);
	smp_tag(&v[i], "meter", "house");
	smp_f(&v[i++], "power_w", 1);
	smp_init(&v[i], "pulse", now);
	smp_tag(&v[i], "meter", "house");
	smp_f(&v[i++], "power_w", 1e-3);

	nw = expect(v, i, w, 64);
	CHECK_EQ_INT(nw, 17);
	fake_control(c, "reset=1");
	EXPECT_VERDICT(c, v, i, SINK_OK);
	check_records(c, w, nw, AKID, "mapping");
	CHECK_EQ_INT(c->s.st.dropped_too_old, 1);
	CHECK_EQ_INT(c->s.st.dropped_encode, 5); /* NaN, inf, 1e200, 1e-200, the future one */
	CHECK_EQ_INT(fake_stat(c, "requests"), 1);

	/* nothing left to send: done at once, no request */
	EXPECT_VERDICT(c, &v[4], 1, SINK_OK);
	CHECK_EQ_INT(fake_stat(c, "requests"), 1);
	CHECK_EQ_INT(c->s.st.dropped_too_old, 2);
	close_sink(c);
}

/* `metrics` selects and renames datums, `dimensions` chooses the tags: the
 * Power Pod owner's names with no dimensions, then a list of tags. */
static void scenario_select(struct ctx *c)
{
	static const char *const dims[] = {"none", "phase, site"};
	int64_t now = now_ns();
	struct sample v[3];

	env_creds(AKID, SECRET, NULL);
	smp_init(&v[0], "grid", now - 3 * NS_PER_S);
	smp_tag(&v[0], "site", "home");
	smp_tag(&v[0], "phase", "L1");
	smp_tag(&v[0], "other", "x");
	smp_f(&v[0], "voltage", 241.5);
	smp_f(&v[0], "frequency", 60);
	smp_i(&v[0], "power", 512);
	smp_init(&v[1], "inverter", now - 2 * NS_PER_S);
	smp_tag(&v[1], "site", "home");
	smp_f(&v[1], "load_power", 498.25);
	smp_f(&v[1], "voltage", 240);
	smp_init(&v[2], "battery", now - 1 * NS_PER_S);
	smp_f(&v[2], "temperature_c", 20); /* not selected: no datum, not a drop */
	for (size_t k = 0; k < 2; k++) {
		cJSON *recs;
		const cJSON *r;
		int n;

		setup(c, "pp1_telemetry");
		snprintf(c->cfg.metrics, sizeof(c->cfg.metrics), "%s",
			 "grid.voltage -> grid_voltage, grid.power, inverter.load_power -> "
			 "load_power");
		snprintf(c->cfg.dimensions, sizeof(c->cfg.dimensions), "%s", dims[k]);
		CHECK_EQ_INT(open_sink(c), 0);
		fake_control(c, "reset=1");
		EXPECT_VERDICT(c, v, 3, SINK_OK);
		recs = take_records(c);
		n = cJSON_GetArraySize(recs);
		CHECK_EQ_INT(n, 3);
		for (int i = 0; i < n && n == 3; i++) {
			static const char *const name[] = {"grid_voltage", "grid_power",
							   "load_power"};
			static const double val[] = {241.5, 512, 498.25};
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(
				r = cJSON_GetArrayItem(recs, i), "dims");

			CHECK(!strcmp(jstr(r, "name"), name[i]));
			CHECK(cJSON_GetObjectItemCaseSensitive(r, "value")->valuedouble == val[i]);
			if (k == 0) {
				CHECK_EQ_INT(cJSON_GetArraySize(d), 0);
			} else if (i < 2) {
				/* The sample's order, only the tags listed. */
				CHECK_EQ_INT(cJSON_GetArraySize(d), 2);
				CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetArrayItem(d, 0), 0)
						      ->valuestring,
					      "site"));
				CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetArrayItem(d, 1), 0)
						      ->valuestring,
					      "phase"));
			} else {
				CHECK_EQ_INT(cJSON_GetArraySize(d), 1);
			}
		}
		CHECK_EQ_INT(c->s.st.dropped_encode, 0);
		cJSON_Delete(recs);
		close_sink(c);
	}
	for (size_t i = 0; i < 3; i++)
		sample_free(&v[i]);
}

/* Sample i of a bulk batch: BULK_FIELDS fields, one of them NaN if asked. */
static void bulk_one(struct sample *s, size_t i, int ntags, const char *tagval, int64_t ts,
		     int nan_field)
{
	char series[16], key[32];

	smp_init(s, "bulk", ts);
	snprintf(series, sizeof(series), "s%zu", i % 7);
	smp_tag(s, "series", series);
	for (int t = 1; t < ntags; t++) {
		snprintf(key, sizeof(key), "tag_%d_with_a_long_key_name_x", t % 10);
		smp_tag(s, key, tagval);
	}
	for (int f = 0; f < BULK_FIELDS; f++) {
		snprintf(key, sizeof(key), "f%d_w", f);
		smp_f(s, key, f == nan_field ? NAN : (double)i * 10 + f + 0.25);
	}
}

static int64_t bulk_t0;

static struct sample *bulk(size_t n, int ntags, const char *tagval)
{
	struct sample *v = calloc(n, sizeof(*v));

	bulk_t0 = now_ns() - 600 * NS_PER_S;
	for (size_t i = 0; i < n; i++)
		bulk_one(&v[i], i, ntags, tagval, bulk_t0 + (int64_t)i * 1000003, -1);
	return v;
}

/* How many of v[0, n) the sink says one request carries. */
static size_t fit_n(struct ctx *c, const struct sample *v, size_t n)
{
	struct sample_list l;
	struct sample_span sp;
	size_t k;

	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	k = c->s.ops->fit(&c->s, &sp);
	sample_list_free(&l);
	return k;
}

static void scenario_limits(struct ctx *c)
{
	size_t max, big = 400;
	struct sample *v = bulk(big, 1, "");
	struct want *w = calloc(big * BULK_FIELDS, sizeof(*w));
	char longval[SAMPLE_STR_MAX];
	size_t nw;

	env_creds(AKID, SECRET, NULL);
	setup(c, "powerd test/limits");
	CHECK_EQ_INT(open_sink(c), 0);
	max = fit_n(c, v, big);
	CHECK_EQ_INT(max, 166);

	/* what fit() allows, of the most fields: one request, <= 1000 datums */
	fake_control(c, "reset=1");
	nw = expect(v, max, w, big * BULK_FIELDS);
	EXPECT_VERDICT(c, v, max, SINK_OK);
	CHECK_EQ_INT(fake_stat(c, "accepted"), 1);
	CHECK_EQ_INT(fake_stat(c, "max_datums"), (long)(max * BULK_FIELDS));
	check_records(c, w, nw, AKID, "max_batch");

	/* more than one request holds: split by datums, in order */
	fake_control(c, "reset=1");
	nw = expect(v, big, w, big * BULK_FIELDS);
	EXPECT_VERDICT(c, v, big, SINK_OK);
	CHECK_EQ_INT(fake_stat(c, "accepted"), 3);
	CHECK(fake_stat(c, "max_datums") <= 1000);
	check_records(c, w, nw, AKID, "datum split");

	/* a later request fails: the retry sends only what was not accepted,
	 * and what was dropped is counted once, when the batch is through */
	sample_free(&v[5]);
	bulk_one(&v[5], 5, 1, "", bulk_t0 + 5 * 1000003 - 15 * DAY_NS, -1);
	sample_free(&v[10]);
	bulk_one(&v[10], 10, 1, "", bulk_t0 + 10 * 1000003, 2);
	nw = expect(v, big, w, big * BULK_FIELDS);
	CHECK_EQ_INT(nw, big * BULK_FIELDS - BULK_FIELDS - 1);
	fake_control(c, "reset=1");
	fake_control(c, "fail=500&count=1&after=1");
	EXPECT_VERDICT(c, v, big, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "HTTP 500 InternalFailure") != NULL);
	CHECK(strstr(c->s.verdict_msg, "request 2 of 3") != NULL);
	CHECK_EQ_INT(c->s.st.dropped_too_old, 0);
	CHECK_EQ_INT(c->s.st.dropped_encode, 0);
	fake_control(c, "fail=500&count=1&after=1"); /* and again, one further on */
	EXPECT_VERDICT(c, v, big, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "request 2 of 2") != NULL);
	EXPECT_VERDICT(c, v, big, SINK_OK);
	CHECK_EQ_INT(fake_stat(c, "datums"), (long)nw);
	CHECK_EQ_INT(c->s.st.dropped_too_old, 1);
	CHECK_EQ_INT(c->s.st.dropped_encode, 1);
	check_records(c, w, nw, AKID, "resume");
	spans_free(v, big);
	free(v);

	/* long tags that need escaping: split by the 1 MB body limit */
	memset(longval, '/', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	v = bulk(max, 6, longval);
	fake_control(c, "reset=1");
	nw = expect(v, max, w, big * BULK_FIELDS);
	EXPECT_VERDICT(c, v, max, SINK_OK);
	CHECK(fake_stat(c, "accepted") >= 2);
	CHECK(fake_stat(c, "max_body") <= 1000000);
	CHECK(fake_stat(c, "max_body") > 900000); /* requests are filled, not merely cut */
	check_records(c, w, nw, AKID, "byte split");
	spans_free(v, max);
	free(v);
	free(w);
	close_sink(c);
}

/* n wide samples: nums numeric fields and a string, ntags tags each. */
static struct sample *wide(size_t n, int ntags, int nums, int64_t t0)
{
	struct sample *v = calloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		char key[32], val[32];

		smp_init(&v[i], "eg4", t0 + (int64_t)i * NS_PER_S);
		for (int t = 0; t < ntags; t++) {
			snprintf(key, sizeof(key), "tag%02d", t);
			snprintf(val, sizeof(val), "v%zu_%d", i % 3, t);
			smp_tag(&v[i], key, val);
		}
		for (int f = 0; f < nums; f++) {
			snprintf(key, sizeof(key), "reg%03d_v", f);
			smp_f(&v[i], key, (double)i * 1000 + f + 0.5);
		}
		smp_s(&v[i], "state", "ok");
	}
	return v;
}

/* Sends v[0, n) as the uploader does, in the pieces fit() says, each of
 * `per` samples; returns how many send()s it took. */
static size_t send_fitted(struct ctx *c, const struct sample *v, size_t n, size_t per)
{
	size_t lo, k, sends = 0;

	for (lo = 0; lo < n; lo += k, sends++) {
		k = fit_n(c, v + lo, n - lo);
		CHECK_EQ_INT(k, per < n - lo ? per : n - lo);
		EXPECT_VERDICT(c, v + lo, k, SINK_OK);
	}
	return sends;
}

/* Wide samples (issue 7): batched by datums, not by a field maximum, and
 * every field arrives as its own datum. */
static void scenario_wide(struct ctx *c)
{
	const size_t n = 30, nmax = 14;
	struct sample *v = wide(n, 4, 100, now_ns() - 60 * NS_PER_S);
	struct want *w = calloc(n * 100 + nmax * SAMPLE_MAX_FIELDS, sizeof(*w));
	size_t nw;

	env_creds(AKID, SECRET, NULL);
	setup(c, "pp1_telemetry");
	CHECK_EQ_INT(open_sink(c), 0);

	/* 100 numeric fields and a string: 10 samples are one request of
	 * exactly 1000 datums (the string is no datum) */
	fake_control(c, "reset=1");
	nw = expect(v, n, w, n * 100);
	CHECK_EQ_INT(nw, n * 100);
	CHECK_EQ_INT(send_fitted(c, v, n, 10), 3);
	CHECK_EQ_INT(fake_stat(c, "accepted"), 3);
	CHECK_EQ_INT(fake_stat(c, "max_datums"), 1000);
	check_records(c, w, nw, AKID, "wide");
	spans_free(v, n);
	free(v);

	/* the most fields and tags a sample holds: 7 samples make 896 datums,
	 * and with 16 dimensions each that passes 1 MB, so each send() goes
	 * out as several requests within the body limit */
	v = wide(nmax, SAMPLE_MAX_TAGS, SAMPLE_MAX_FIELDS - 1, now_ns() - 60 * NS_PER_S);
	fake_control(c, "reset=1");
	nw = expect(v, nmax, w, nmax * SAMPLE_MAX_FIELDS);
	CHECK_EQ_INT(nw, nmax * (SAMPLE_MAX_FIELDS - 1));
	CHECK_EQ_INT(send_fitted(c, v, nmax, 1000 / (SAMPLE_MAX_FIELDS - 1)), 2);
	CHECK(fake_stat(c, "accepted") >= 4);
	CHECK(fake_stat(c, "max_body") <= 1000000);
	CHECK(fake_stat(c, "max_datums") <= 1000);
	check_records(c, w, nw, AKID, "widest");
	close_sink(c);
	spans_free(v, nmax);
	free(v);
	free(w);
}

static void scenario_failures(struct ctx *c)
{
	struct sample v[2];
	struct want w[4];
	size_t nw;

	smp_init(&v[0], "pulse", now_ns() - NS_PER_S);
	smp_tag(&v[0], "meter", "house");
	smp_f(&v[0], "power_w", 321.5);
	smp_init(&v[1], "pulse", now_ns());
	smp_tag(&v[1], "meter", "house");
	smp_f(&v[1], "power_w", 322.5);
	nw = expect(v, 2, w, 4);

	env_creds(AKID, SECRET, NULL);
	setup(c, "pp1_telemetry");
	CHECK_EQ_INT(open_sink(c), 0);
	fake_control(c, "reset=1");
	fake_control(c, "fail=500&count=1");
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "InternalFailure") != NULL);
	fake_control(c, "fail=503&count=1");
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	fake_control(c, "fail=throttle&count=1");
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "HTTP 400 Throttling: Rate exceeded") != NULL);
	fake_control(c, "fail=400&count=1");
	EXPECT_VERDICT(c, v, 2, SINK_REJECT);
	CHECK(strstr(c->s.verdict_msg, "InvalidParameterValue") != NULL);
	check_records(c, w, 0, AKID, "failures");
	EXPECT_VERDICT(c, v, 2, SINK_OK);
	check_records(c, w, nw, AKID, "after failures");
	close_sink(c);

	/* nobody listening: a connection error, retried */
	setup(c, "pp1_telemetry");
	snprintf(c->cfg.endpoint, sizeof(c->cfg.endpoint), "http://127.0.0.1:1/");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	close_sink(c);

	/* a wrong secret: AWS's verdict, and the secret nowhere */
	env_creds(AKID, WRONG, NULL);
	setup(c, "pp1_telemetry");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "HTTP 403 SignatureDoesNotMatch") != NULL);
	CHECK(!strstr(c->s.verdict_msg, WRONG) && !strstr(c->s.st.last_error, WRONG));
	close_sink(c);
	/* an unknown key */
	env_creds("AKIDNOBODYKNOWS00000", SECRET, NULL);
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "InvalidClientTokenId") != NULL);
	close_sink(c);
	/* signed for another region */
	env_creds(AKID, SECRET, NULL);
	snprintf(c->cfg.region, sizeof(c->cfg.region), "eu-west-1");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 2, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "SignatureDoesNotMatch") != NULL);
	close_sink(c);
	check_records(c, w, 0, AKID, "refused");
}

static void scenario_credentials(struct ctx *c)
{
	char path[128];
	struct sample v[1];
	struct want w[2];
	size_t nw;

	smp_init(&v[0], "pulse", now_ns());
	smp_tag(&v[0], "meter", "garage");
	smp_f(&v[0], "power_w", 42);
	nw = expect(v, 1, w, 2);

	/* a session token from the environment */
	env_creds(AKID_T, SECRET_T, token_t);
	setup(c, "pp1_telemetry");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_OK);
	check_records(c, w, nw, AKID_T, "session token");
	/* a server that repeats the token back: it stays out of messages */
	fake_control(c, "fail=echo&count=1");
	EXPECT_VERDICT(c, v, 1, SINK_REJECT);
	CHECK(strstr(c->s.verdict_msg, "token ***") != NULL);
	token_t[100] = '\0';
	CHECK(!strstr(c->s.verdict_msg, token_t) && !strstr(c->s.st.last_error, token_t));
	make_token(token_t, sizeof(token_t), "t");
	close_sink(c);
	env_creds(AKID_T, SECRET_T, NULL); /* the token is required */
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_RETRY);
	CHECK(strstr(c->s.verdict_msg, "InvalidClientTokenId") != NULL);
	CHECK(!strstr(c->s.verdict_msg, token_t));
	close_sink(c);

	/* the shared credentials file, profile from the config */
	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	write_cred_file(path, SECRET_F);
	env_creds(NULL, NULL, NULL);
	setup(c, "pp1_telemetry");
	snprintf(c->cfg.credentials_file, sizeof(c->cfg.credentials_file), "%s", path);
	snprintf(c->cfg.profile, sizeof(c->cfg.profile), "pp1");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_OK);
	check_records(c, w, nw, AKID_F, "credentials file");
	close_sink(c);
	/* ... from AWS_PROFILE and AWS_SHARED_CREDENTIALS_FILE */
	setup(c, "pp1_telemetry");
	setenv("AWS_PROFILE", "pp1", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_OK);
	check_records(c, w, nw, AKID_F, "AWS_PROFILE");
	close_sink(c);
	unsetenv("AWS_PROFILE");
	/* the default profile holds keys the service does not know */
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_RETRY);
	close_sink(c);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");

	/* a file whose secret is wrong, then fixed: picked up without a restart */
	write_cred_file(path, WRONG);
	setup(c, "pp1_telemetry");
	snprintf(c->cfg.credentials_file, sizeof(c->cfg.credentials_file), "%s", path);
	snprintf(c->cfg.profile, sizeof(c->cfg.profile), "pp1");
	CHECK_EQ_INT(open_sink(c), 0);
	EXPECT_VERDICT(c, v, 1, SINK_RETRY);
	write_cred_file(path, SECRET_F);
	EXPECT_VERDICT(c, v, 1, SINK_OK);
	check_records(c, w, nw, AKID_F, "rotated file");
	close_sink(c);
}

int main(int argc, char **argv)
{
	struct ctx c;
	const char *endpoint = getenv("CW_ENDPOINT");

	make_token(token_t, sizeof(token_t), "t");
	make_token(token_f, sizeof(token_f), "f");
	if (argc > 1 && !strcmp(argv[1], "--fake-creds")) {
		printf("--cred\n%s:%s\n--cred\n%s:%s:%s\n--cred\n%s:%s:%s\n", AKID, SECRET, AKID_T,
		       SECRET_T, token_t, AKID_F, SECRET_F, token_f);
		return 0;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/powerd-cw-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&c, 0, sizeof(c));
	c.multi = curl_multi_init();
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");

	offline_cred();
	offline_open(&c);

	if (endpoint && *endpoint) {
		c.endpoint = endpoint;
		c.record = getenv("CW_RECORD");
		snprintf(c.control, sizeof(c.control), "%s", endpoint);
		if (!c.record) {
			fprintf(stderr, "CW_RECORD (the fake's --record file) is not set\n");
			return 1;
		}
		CHECK(truncate(c.record, 0) == 0 || errno == ENOENT);
		scenario_mapping(&c);
		scenario_select(&c);
		scenario_limits(&c);
		scenario_wide(&c);
		scenario_failures(&c);
		scenario_credentials(&c);
	}

	curl_multi_cleanup(c.multi);
	curl_global_cleanup();
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/credentials", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	if (!endpoint || !*endpoint) {
		int rc = check_result();

		if (rc)
			return rc;
		printf("offline checks passed; needs a server for the rest: run via "
		       "tests/t_sink_cloudwatch.sh\n");
		return 77;
	}
	return check_result();
}

/* The influxdb sink.
 *
 * Always: against a stub HTTP server in this process (libmicrohttpd), the
 * exact requests (path, escaped query parameters, Basic auth, Token header,
 * gzip body decompressing to the exact lines), connection reuse, the verdict
 * and the message for 2xx / 400 / 404 / 429 / 500, long answers, timeouts,
 * refused connections, and that no message ever holds a secret.
 *
 * With INFLUX_URL and/or VM_URL set (tests/t_sink_influx.sh starts the
 * servers): a known set of samples, full of characters that need escaping,
 * to InfluxDB 1.x (v1 API) and VictoriaMetrics (v1 and v2 APIs); a field
 * type conflict refused by InfluxDB (HTTP 400 with its message); and, when
 * EXPECT_OUT names a file, the points each server must now hold, one JSON
 * object per line, for the shell test to compare with what it queries. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "check.h"
#include "config.h"
#include "sink.h"
#include "spans.h"

#define PASSWORD "s3cr3t-pass"
#define TOKEN	 "tok-SECRET-42"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- stub server */

struct stub_req {
	char method[16], path[256], db[128], rp[128], org[128], bucket[128], precision[16];
	char auth[256], encoding[64], ctype[128], agent[64];
	struct buf body;
};

struct stub {
	struct MHD_Daemon *d;
	unsigned port;
	pthread_mutex_t lock;
	/* the answer */
	unsigned status;
	char answer[8192];
	unsigned delay_ms;
	/* what came */
	unsigned requests, connections;
	struct stub_req last;
};

static void copy_value(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key,
		       char *out, size_t n)
{
	const char *v = MHD_lookup_connection_value(c, kind, key);

	snprintf(out, n, "%s", v ? v : "");
}

static enum MHD_Result stub_handler(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	struct stub *st = cls;
	struct buf *body = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status, delay;

	(void)version;
	if (!body) {
		body = calloc(1, sizeof(*body));
		if (!body)
			return MHD_NO;
		*con_cls = body;
		return MHD_YES;
	}
	if (*upload_data_size) {
		buf_append(body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&st->lock);
	st->requests++;
	buf_free(&st->last.body);
	memset(&st->last, 0, sizeof(st->last));
	snprintf(st->last.method, sizeof(st->last.method), "%s", method);
	snprintf(st->last.path, sizeof(st->last.path), "%s", url);
	copy_value(c, MHD_GET_ARGUMENT_KIND, "db", st->last.db, sizeof(st->last.db));
	copy_value(c, MHD_GET_ARGUMENT_KIND, "rp", st->last.rp, sizeof(st->last.rp));
	copy_value(c, MHD_GET_ARGUMENT_KIND, "org", st->last.org, sizeof(st->last.org));
	copy_value(c, MHD_GET_ARGUMENT_KIND, "bucket", st->last.bucket, sizeof(st->last.bucket));
	copy_value(c, MHD_GET_ARGUMENT_KIND, "precision", st->last.precision,
		   sizeof(st->last.precision));
	copy_value(c, MHD_HEADER_KIND, "Authorization", st->last.auth, sizeof(st->last.auth));
	copy_value(c, MHD_HEADER_KIND, "Content-Encoding", st->last.encoding,
		   sizeof(st->last.encoding));
	copy_value(c, MHD_HEADER_KIND, "Content-Type", st->last.ctype, sizeof(st->last.ctype));
	copy_value(c, MHD_HEADER_KIND, "User-Agent", st->last.agent, sizeof(st->last.agent));
	st->last.body = *body;
	buf_init(body);
	status = st->status;
	delay = st->delay_ms;
	resp = MHD_create_response_from_buffer(strlen(st->answer), st->answer,
					       MHD_RESPMEM_MUST_COPY);
	pthread_mutex_unlock(&st->lock);
	if (delay)
		usleep(delay * 1000);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void stub_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct buf *body = *con_cls;

	(void)cls, (void)c, (void)toe;
	if (body) {
		buf_free(body);
		free(body);
		*con_cls = NULL;
	}
}

static void stub_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct stub *st = cls;

	(void)c, (void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&st->lock);
		st->connections++;
		pthread_mutex_unlock(&st->lock);
	}
}

static int stub_start(struct stub *st)
{
	const union MHD_DaemonInfo *info;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->status = 204;
	st->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
				 NULL, NULL, stub_handler, st, MHD_OPTION_NOTIFY_COMPLETED,
				 stub_completed, st, MHD_OPTION_NOTIFY_CONNECTION, stub_connection,
				 st, MHD_OPTION_END);
	if (!st->d)
		return -1;
	info = MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_BIND_PORT);
	st->port = info ? info->port : 0;
	return st->port ? 0 : -1;
}

static void stub_stop(struct stub *st)
{
	MHD_stop_daemon(st->d);
	buf_free(&st->last.body);
	pthread_mutex_destroy(&st->lock);
}

static void stub_answer(struct stub *st, unsigned status, const char *answer, unsigned delay)
{
	pthread_mutex_lock(&st->lock);
	st->status = status;
	snprintf(st->answer, sizeof(st->answer), "%s", answer);
	st->delay_ms = delay;
	pthread_mutex_unlock(&st->lock);
}

/* gunzip, or -1 */
static int gunzip(const struct buf *in, struct buf *out)
{
	z_stream zs = {0};
	unsigned char chunk[4096];
	int r;

	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return -1;
	zs.next_in = (Bytef *)in->data;
	zs.avail_in = (uInt)in->len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		r = inflate(&zs, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END) {
			inflateEnd(&zs);
			return -1;
		}
		buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
	} while (r != Z_STREAM_END);
	inflateEnd(&zs);
	return zs.avail_in == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ driving */

/* Send and run the multi handle the way the uploader does, until the sink
 * reports.  Returns the verdict, or -1 (send failed / never finished). */
static int run_batch(struct sink *s, const struct sample *v, size_t n)
{
	double deadline = now_s() + 20;
	struct sample_list l;
	struct sample_span sp;
	int r;

	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	s->verdict_ready = false;
	r = s->ops->send(s, &sp);
	sample_list_free(&l); /* the body is encoded: the samples may go */
	if (r) {
		fprintf(stderr, "send: %s\n", strerror(-r));
		return -1;
	}
	while (!s->verdict_ready && now_s() < deadline) {
		CURLMsg *msg;
		int running, left;

		curl_multi_perform(s->multi, &running);
		while ((msg = curl_multi_info_read(s->multi, &left))) {
			struct sink *owner = NULL;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&owner);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			CHECK(owner == s);
			if (owner)
				owner->ops->done(owner, msg->easy_handle, msg->data.result, code);
		}
		if (!s->verdict_ready)
			curl_multi_poll(s->multi, NULL, 0, 100, NULL);
	}
	if (!s->verdict_ready)
		return -1;
	/* Whatever happened, no secret is in what the sink reports. */
	CHECK(!strstr(s->verdict_msg, PASSWORD) && !strstr(s->verdict_msg, TOKEN));
	CHECK(!strstr(s->st.last_error, PASSWORD) && !strstr(s->st.last_error, TOKEN));
	return (int)s->verdict;
}

static void sink_setup(struct sink *s, struct cfg_sink *c, CURLM *multi)
{
	memset(s, 0, sizeof(*s));
	s->cfg = c;
	s->ops = &sink_influxdb_ops;
	s->multi = multi;
}

static void cfg_defaults(struct cfg_sink *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "test");
	c->type = CFG_SINK_INFLUXDB;
	c->batch_size = 5000;
	c->timeout_ns = 10000000000LL;
	c->gzip = true;
	snprintf(c->url, sizeof(c->url), "%s", url);
}

/* A free loopback port nothing listens on. */
static unsigned closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ------------------------------------------------------- stub scenarios */

static void mk(struct sample *s, const char *m, int64_t ts, double power)
{
	sample_init(s, m, ts);
	sample_tag(s, "meter", "house");
	sample_float(s, "power_w", power);
}

static void test_stub_v1(CURLM *multi, struct stub *st)
{
	char url[128];
	struct cfg_sink c;
	struct sink s;
	struct sample v[3];
	struct buf plain;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/prefix/", st->port);
	cfg_defaults(&c, url);
	snprintf(c.database, sizeof(c.database), "my db&x=1");
	snprintf(c.retention_policy, sizeof(c.retention_policy), "rp/1?");
	snprintf(c.username, sizeof(c.username), "user");
	snprintf(c.password, sizeof(c.password), PASSWORD);
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);

	mk(&v[0], "pulse", 1700000000000000001LL, 1500);
	sample_init(&v[1], "pulse", 2);
	sample_float(&v[1], "power_w", NAN); /* no field to write */
	mk(&v[2], "pulse", 1700000000000000003LL, 0.25);
	stub_answer(st, 204, "", 0);
	CHECK_EQ_INT(run_batch(&s, v, 3), SINK_OK);
	CHECK(!strcmp(s.verdict_msg, "HTTP 204"));
	CHECK_EQ_INT(s.st.dropped_encode, 1);
	pthread_mutex_lock(&st->lock);
	CHECK(!strcmp(st->last.method, "POST"));
	CHECK(!strcmp(st->last.path, "/prefix/write"));
	/* Escaped in the URL: "&x=1" did not become a parameter of its own. */
	CHECK(!strcmp(st->last.db, "my db&x=1"));
	CHECK(!strcmp(st->last.rp, "rp/1?"));
	CHECK(!strcmp(st->last.precision, "ns"));
	CHECK(!strcmp(st->last.auth, "Basic dXNlcjpzM2NyM3QtcGFzcw=="));
	CHECK(!strcmp(st->last.encoding, "gzip"));
	CHECK(!strcmp(st->last.ctype, "text/plain; charset=utf-8"));
	CHECK(!strncmp(st->last.agent, "powerd/", 7));
	buf_init(&plain);
	CHECK_EQ_INT(gunzip(&st->last.body, &plain), 0);
	CHECK(plain.data &&
	      !strcmp(plain.data, "pulse,meter=house power_w=1500 1700000000000000001\n"
				  "pulse,meter=house power_w=0.25 1700000000000000003\n"));
	buf_free(&plain);
	CHECK_EQ_INT(st->connections, 1);
	pthread_mutex_unlock(&st->lock);

	/* The next batch goes over the same connection. */
	CHECK_EQ_INT(run_batch(&s, v, 1), SINK_OK);
	pthread_mutex_lock(&st->lock);
	CHECK_EQ_INT(st->requests, 2);
	CHECK_EQ_INT(st->connections, 1);
	pthread_mutex_unlock(&st->lock);

	/* A batch with nothing to write finishes at once, without a request. */
	CHECK_EQ_INT(run_batch(&s, &v[1], 1), SINK_OK);
	CHECK_EQ_INT(s.st.dropped_encode, 2);
	pthread_mutex_lock(&st->lock);
	CHECK_EQ_INT(st->requests, 2);
	pthread_mutex_unlock(&st->lock);

	/* One request at a time; closing with one in flight is clean. */
	{
		struct sample_list l;
		struct sample_span sp;

		sample_list_init(&l);
		sp = spans_of(&l, v, 1);
		CHECK_EQ_INT(s.ops->send(&s, &sp), 0);
		CHECK_EQ_INT(s.ops->send(&s, &sp), -EBUSY);
		sample_list_free(&l);
	}
	s.ops->close(&s);
	CHECK(s.priv == NULL);
}

static void test_stub_v2(CURLM *multi, struct stub *st)
{
	char url[128];
	struct cfg_sink c;
	struct sink s;
	struct sample v;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", st->port);
	cfg_defaults(&c, url);
	snprintf(c.org, sizeof(c.org), "o&rg");
	snprintf(c.bucket, sizeof(c.bucket), "b k");
	snprintf(c.token, sizeof(c.token), TOKEN);
	c.gzip = false;
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	sample_init(&v, "m", -5);
	sample_string(&v, "s", "a \"q\" \\");
	sample_int(&v, "i", -7);
	stub_answer(st, 204, "", 0);
	CHECK_EQ_INT(run_batch(&s, &v, 1), SINK_OK);
	pthread_mutex_lock(&st->lock);
	CHECK(!strcmp(st->last.path, "/api/v2/write"));
	CHECK(!strcmp(st->last.org, "o&rg"));
	CHECK(!strcmp(st->last.bucket, "b k"));
	CHECK(!strcmp(st->last.precision, "ns"));
	CHECK(!st->last.db[0]);
	CHECK(!strcmp(st->last.auth, "Token " TOKEN));
	CHECK(!st->last.encoding[0]);
	CHECK(st->last.body.data &&
	      !strcmp(st->last.body.data, "m s=\"a \\\"q\\\" \\\\\",i=-7i -5\n"));
	pthread_mutex_unlock(&st->lock);
	s.ops->close(&s);
}

static void test_stub_answers(CURLM *multi, struct stub *st)
{
	static const struct {
		unsigned status;
		const char *answer;
		int verdict;
		const char *msg; /* exact, or NULL */
	} cases[] = {
		{200, "", SINK_OK, "HTTP 200"},
		{400,
		 "{\"error\":\"partial write: field type conflict: input field \\\"x\\\" on "
		 "measurement \\\"m\\\" is type string, already exists as type integer "
		 "dropped=1\"}\n",
		 SINK_REJECT,
		 "HTTP 400: partial write: field type conflict: input field \"x\" on measurement "
		 "\"m\" is type string, already exists as type integer dropped=1"},
		{400, "cannot parse line\n  \"m f=\"\r\nat offset 3\n", SINK_REJECT,
		 "HTTP 400: cannot parse line   \"m f=\"  at offset 3"},
		{404, "{\"error\":\"database not found: \\\"x\\\"\"}", SINK_RETRY,
		 "HTTP 404: database not found: \"x\""},
		{413, "", SINK_REJECT, "HTTP 413"},
		{429, "slow down", SINK_RETRY, "HTTP 429: slow down"},
		{500, "{\"error\":\"timeout\"}", SINK_RETRY, "HTTP 500: timeout"},
		{503, "{\"error\": 42}", SINK_RETRY, "HTTP 503: {\"error\": 42}"},
	};
	char url[128];
	struct cfg_sink c;
	struct sink s;
	struct sample v;
	size_t i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", st->port);
	cfg_defaults(&c, url);
	snprintf(c.database, sizeof(c.database), "db");
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	mk(&v, "m", 1, 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		stub_answer(st, cases[i].status, cases[i].answer, 0);
		r = run_batch(&s, &v, 1);
		if (r != cases[i].verdict || strcmp(s.verdict_msg, cases[i].msg))
			fprintf(stderr, "%s:%d: HTTP %u: verdict %d, message [%s]\n", __FILE__,
				__LINE__, cases[i].status, r, s.verdict_msg);
		CHECK_EQ_INT(r, cases[i].verdict);
		CHECK(!strcmp(s.verdict_msg, cases[i].msg));
	}
	/* A long answer: the message keeps its start and its end. */
	{
		char big[6000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big, "START", 5);
		memcpy(big + 600, "END", 3); /* inside the first KB kept */
		stub_answer(st, 400, big, 0);
		CHECK_EQ_INT(run_batch(&s, &v, 1), SINK_REJECT);
		CHECK_EQ_INT(strlen(s.verdict_msg), sizeof(s.verdict_msg) - 1);
		CHECK(!strncmp(s.verdict_msg, "HTTP 400: START", 15));
		CHECK(strstr(s.verdict_msg, " ... "));
		CHECK(!strcmp(s.st.last_error, s.verdict_msg));
	}
	s.ops->close(&s);

	/* A server slower than the timeout: retried. */
	c.timeout_ns = 300000000;
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	stub_answer(st, 204, "", 1500);
	{
		double t0 = now_s();

		CHECK_EQ_INT(run_batch(&s, &v, 1), SINK_RETRY);
		CHECK(now_s() - t0 < 1.2);
		CHECK(strstr(s.verdict_msg, "imed out") != NULL);
	}
	s.ops->close(&s);
	stub_answer(st, 204, "", 0);
}

static void test_refused_and_config(CURLM *multi)
{
	char url[128];
	struct cfg_sink c;
	struct sink s;
	struct sample v;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", closed_port());
	cfg_defaults(&c, url);
	snprintf(c.database, sizeof(c.database), "db");
	snprintf(c.username, sizeof(c.username), "user");
	snprintf(c.password, sizeof(c.password), PASSWORD);
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	mk(&v, "m", 1, 1);
	CHECK_EQ_INT(run_batch(&s, &v, 1), SINK_RETRY);
	CHECK(strstr(s.verdict_msg, "onnect") != NULL);
	s.ops->close(&s);

	/* Neither database nor bucket: not a sink. */
	c.database[0] = '\0';
	sink_setup(&s, &c, multi);
	CHECK_EQ_INT(s.ops->open(&s), -EINVAL);
	CHECK(s.priv == NULL);
}

/* ---------------------------------------------------- real servers */

/* The known set: every escaping rule, every field type, extremes. */
struct known {
	const char *m;
	const char *tags[5][2];
	struct {
		const char *k;
		char t; /* f i b s, or n: NaN (never written) */
		double f;
		int64_t i;
		const char *s;
	} fields[6];
	bool vm_only; /* InfluxDB 1.x cannot store it as given (see lineproto.c) */
};

static const struct known known[] = {
	{"powerd_e2e",
	 {{"meter", "house"}},
	 {{"power_w", 'f', 1234.5, 0, NULL},
	  {"energy_wh", 'f', 10.25, 0, NULL},
	  {"count", 'i', 0, 42, NULL},
	  {"ok", 'b', 0, 1, NULL},
	  {"note", 's', 0, 0, "plain"}},
	 false},
	{"powerd e2e,x=y",
	 {{"sp ace", "v al"},
	  {"com,ma", "a,b"},
	  {"eq=ual", "x=y"},
	  {"quote", "say \"hi\""},
	  {"uni", "Zürich €😀"}},
	 {{"f ie,ld=", 'f', -0.5, 0, NULL},
	  {"neg", 'i', 0, -42, NULL},
	  {"big", 'i', 0, INT64_MAX, NULL},
	  {"off", 'b', 0, 0, NULL},
	  {"str", 's', 0, 0, "q\"uote \\ back, comma=eq 😀"},
	  {"nan", 'n', NAN, 0, NULL}},
	 false},
	{"powerd_e2e_floats",
	 {{"back", "a\\b"}, {"tab", "x\ty"}},
	 {{"tiny", 'f', 1e-300, 0, NULL},
	  {"huge", 'f', 1.7976931348623157e308, 0, NULL},
	  {"negzero", 'f', -0.0, 0, NULL},
	  {"third", 'f', 1.0 / 3, 0, NULL},
	  {"min", 'i', 0, INT64_MIN, NULL},
	  {"empty", 's', 0, 0, ""}},
	 false},
	{"powerd_e2e_bs",
	 {{"end", "end\\"}, {"two", "x\\\\y"}, {"before", "a\\,b"}},
	 {{"v", 'f', 1, 0, NULL}},
	 true},
	{"powerd_e2e_nan",
	 {{"meter", "house"}},
	 {{"x", 'n', NAN, 0, NULL}},
	 false}, /* dropped_encode */
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static void known_sample(const struct known *k, int64_t ts, const char *target, struct sample *s)
{
	int i;

	CHECK_EQ_INT(sample_init(s, k->m, ts), 0);
	CHECK_EQ_INT(sample_tag(s, "target", target), 0);
	for (i = 0; i < 5 && k->tags[i][0]; i++)
		CHECK_EQ_INT(sample_tag(s, k->tags[i][0], k->tags[i][1]), 0);
	for (i = 0; i < 6 && k->fields[i].k; i++) {
		switch (k->fields[i].t) {
		case 'f':
		case 'n':
			CHECK_EQ_INT(sample_float(s, k->fields[i].k, k->fields[i].f), 0);
			break;
		case 'i':
			CHECK_EQ_INT(sample_int(s, k->fields[i].k, k->fields[i].i), 0);
			break;
		case 'b':
			CHECK_EQ_INT(sample_bool(s, k->fields[i].k, k->fields[i].i != 0), 0);
			break;
		case 's':
			CHECK_EQ_INT(sample_string(s, k->fields[i].k, k->fields[i].s), 0);
			break;
		}
	}
}

/* One JSON line per point the server must hold; numbers as strings so that
 * nothing is lost to JSON's doubles. */
static void expect_point(FILE *out, const char *server, const struct cfg_sink *c,
			 const struct sample *smp)
{
	cJSON *o = cJSON_CreateObject(), *tags = cJSON_CreateObject(),
	      *fields = cJSON_CreateObject();
	char num[64], *text;
	struct sample_view sv, *s = &sv;
	struct sample_cursor fc;
	struct sample_field fv, *f = &fv;
	unsigned i;

	CHECK(sample_view_of(s, smp) > 0);

	cJSON_AddStringToObject(o, "server", server);
	cJSON_AddStringToObject(o, "database", c->database[0] ? c->database : "");
	cJSON_AddStringToObject(o, "measurement", s->measurement);
	for (i = 0; i < s->ntags; i++)
		if (s->tags[i].value[0])
			cJSON_AddStringToObject(tags, s->tags[i].key, s->tags[i].value);
	cJSON_AddItemToObject(o, "tags", tags);
	sample_fields(s, &fc);
	while (sample_next_field(&fc, f)) {
		cJSON *fo;

		if (f->type == SAMPLE_FLOAT && !isfinite(f->v.f))
			continue;
		fo = cJSON_CreateObject();
		switch (f->type) {
		case SAMPLE_FLOAT:
			cJSON_AddStringToObject(fo, "type", "float");
			snprintf(num, sizeof(num), "%.17g", f->v.f);
			break;
		case SAMPLE_INT:
			cJSON_AddStringToObject(fo, "type", "int");
			snprintf(num, sizeof(num), "%" PRId64, f->v.i);
			break;
		case SAMPLE_BOOL:
			cJSON_AddStringToObject(fo, "type", "bool");
			snprintf(num, sizeof(num), "%s", f->v.b ? "true" : "false");
			break;
		case SAMPLE_STRING:
			cJSON_AddStringToObject(fo, "type", "string");
			snprintf(num, sizeof(num), "%s", "");
			break;
		}
		cJSON_AddStringToObject(fo, "value", f->type == SAMPLE_STRING ? f->v.s : num);
		cJSON_AddItemToObject(fields, f->key, fo);
	}
	cJSON_AddItemToObject(o, "fields", fields);
	snprintf(num, sizeof(num), "%" PRId64, s->ts_ns);
	cJSON_AddStringToObject(o, "ts_ns", num);
	text = cJSON_PrintUnformatted(o);
	fprintf(out, "%s\n", text);
	free(text);
	cJSON_Delete(o);
}

static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data, (void)arg;
	return size * nmemb;
}

/* POST an InfluxQL statement (CREATE DATABASE ...). */
static int influx_exec(const char *base, const char *q)
{
	CURL *e = curl_easy_init();
	char url[600], *esc = curl_easy_escape(e, q, 0);
	char body[512];
	long code = 0;
	CURLcode cc;

	snprintf(url, sizeof(url), "%s/query", base);
	snprintf(body, sizeof(body), "q=%s", esc);
	curl_free(esc);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	return cc == CURLE_OK && code == 200 ? 0 : -1;
}

static void run_target(CURLM *multi, const char *server, const char *target, struct cfg_sink *c,
		       int64_t ts0, FILE *expect)
{
	struct sample v[NKNOWN];
	struct sink s;
	size_t i, n = 0, nan_only = 0;

	for (i = 0; i < NKNOWN; i++) {
		if (known[i].vm_only && strcmp(server, "vm"))
			continue;
		known_sample(&known[i], ts0 + (int64_t)i * 1000001, target, &v[n]);
		n++;
	}
	sink_setup(&s, c, multi);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	if (run_batch(&s, v, n) != SINK_OK)
		fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, target, s.verdict_msg);
	CHECK_EQ_INT(s.verdict, SINK_OK);
	for (i = 0; i < n; i++) {
		struct sample_view sv;
		struct sample_cursor fc;
		struct sample_field f;
		bool any = false;

		CHECK(sample_view_of(&sv, &v[i]) > 0);
		sample_fields(&sv, &fc);
		while (sample_next_field(&fc, &f))
			any |= f.type != SAMPLE_FLOAT || isfinite(f.v.f);
		if (!any)
			nan_only++;
		else if (expect)
			expect_point(expect, server, c, &v[i]);
	}
	CHECK_EQ_INT(s.st.dropped_encode, nan_only);
	s.ops->close(&s);
	spans_free(v, n);
	printf("%s: %zu samples written (%zu without a field, skipped)\n", target, n - nan_only,
	       nan_only);
}

static int test_servers(CURLM *multi, const char *influx, const char *vm)
{
	const char *db = getenv("INFLUX_DB") ? getenv("INFLUX_DB") : "powerd_test";
	const char *path = getenv("EXPECT_OUT");
	FILE *expect = path ? fopen(path, "w") : NULL;
	struct timespec now;
	struct cfg_sink c;
	int64_t ts0;

	if (path && !expect) {
		perror(path);
		return -1;
	}
	/* Ten minutes ago, with every nanosecond digit in use. */
	clock_gettime(CLOCK_REALTIME, &now);
	ts0 = ((int64_t)now.tv_sec - 600) * 1000000000LL + 123456789;
	if (influx) {
		struct sink s;
		struct sample a, b;

		CHECK_EQ_INT(influx_exec(influx, "CREATE DATABASE powerd_test"), 0);
		if (strcmp(db, "powerd_test")) {
			char q[256];

			snprintf(q, sizeof(q), "CREATE DATABASE \"%s\"", db);
			CHECK_EQ_INT(influx_exec(influx, q), 0);
		}
		cfg_defaults(&c, influx);
		snprintf(c.database, sizeof(c.database), "%s", db);
		/* Auth is off in the test server: credentials are sent, ignored. */
		snprintf(c.username, sizeof(c.username), "powerd");
		snprintf(c.password, sizeof(c.password), PASSWORD);
		run_target(multi, "influx", "influx", &c, ts0, expect);

		/* A field type conflict: refused with InfluxDB's own reason. */
		sink_setup(&s, &c, multi);
		CHECK_EQ_INT(s.ops->open(&s), 0);
		sample_init(&a, "powerd_conflict", ts0);
		sample_int(&a, "x", 1);
		sample_init(&b, "powerd_conflict", ts0 + 1);
		sample_string(&b, "x", "s");
		CHECK_EQ_INT(run_batch(&s, &a, 1), SINK_OK);
		CHECK_EQ_INT(run_batch(&s, &b, 1), SINK_REJECT);
		CHECK(!strncmp(s.verdict_msg, "HTTP 400: ", 10));
		CHECK(strstr(s.verdict_msg, "field type conflict") != NULL);
		printf("influx conflict: %s\n", s.verdict_msg);
		s.ops->close(&s);
	}
	if (vm) {
		cfg_defaults(&c, vm);
		snprintf(c.database, sizeof(c.database), "powerd_vm");
		run_target(multi, "vm", "vm1", &c, ts0, expect);
		cfg_defaults(&c, vm);
		snprintf(c.org, sizeof(c.org), "powerd");
		snprintf(c.bucket, sizeof(c.bucket), "powerd_bucket");
		snprintf(c.token, sizeof(c.token), TOKEN);
		c.gzip = false;
		run_target(multi, "vm", "vm2", &c, ts0, expect);
	}
	if (expect)
		fclose(expect);
	return 0;
}

int main(void)
{
	const char *influx = getenv("INFLUX_URL"), *vm = getenv("VM_URL");
	struct stub st;
	CURLM *multi;

	if (influx && !*influx)
		influx = NULL;
	if (vm && !*vm)
		vm = NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	if (stub_start(&st)) {
		fprintf(stderr, "cannot start the stub server\n");
		return 1;
	}
	test_stub_v1(multi, &st);
	test_stub_v2(multi, &st);
	test_stub_answers(multi, &st);
	test_refused_and_config(multi);
	stub_stop(&st);
	if (influx || vm)
		test_servers(multi, influx, vm);
	else
		printf("real servers skipped: run via tests/t_sink_influx.sh\n");
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	return check_result();
}

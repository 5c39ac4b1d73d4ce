/* The influxdb sink: line protocol over HTTP to InfluxDB 1.x (/write, when
 * `database` is set) or 2.x (/api/v2/write, when `bucket` is set), and to
 * anything that speaks either (VictoriaMetrics accepts both).
 *
 * One easy handle per sink, reused for every request: its options are set
 * once in open(), only the body changes.  The body buffers (line protocol
 * and its gzip form) grow to the largest batch seen and stay, so a request
 * allocates nothing beyond what curl does itself.  libcurl does not compress
 * uploads: the body is gzipped here with zlib (level 1: line protocol
 * shrinks about tenfold even at the fastest level, and a Pi has CPU to spare
 * for nothing else).
 *
 * Secrets: the password goes to curl (CURLOPT_PASSWORD), the token only into
 * the Authorization header; neither is ever put in a message, and the header
 * is wiped before it is freed.  Messages hold curl's error text or the
 * server's answer, never the request. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "lineproto.h"
#include "sink.h"

#define INFLUX_RESP_MAX	   1024 /* of the server's answer, for the error message */
#define INFLUX_CONNECT_MAX 5000 /* ms */

struct influx {
	CURL *easy;
	struct curl_slist *headers;
	bool gzip;
	z_stream zs;
	bool zs_ready;
	struct buf body; /* line protocol of the batch in flight */
	unsigned char *gz;
	size_t gz_cap;
	bool busy;
	uint64_t unencodable; /* in the batch in flight: counted once it is done */
	char resp[INFLUX_RESP_MAX];
	size_t resp_len;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t influx_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct influx *p = arg;
	size_t n = size * nmemb, room = sizeof(p->resp) - 1 - p->resp_len;

	memcpy(p->resp + p->resp_len, data, n < room ? n : room);
	p->resp_len += n < room ? n : room;
	p->resp[p->resp_len] = '\0';
	return n; /* the rest is read and ignored, not an error */
}

/* The write URL with every parameter escaped.  Returns 0, -EINVAL (neither
 * database nor bucket), or -ENOMEM. */
static int influx_url(CURL *e, const struct cfg_sink *c, struct buf *url)
{
	size_t baselen = strlen(c->url);
	const char *params[3][2] = {{0}};
	const char *path;
	int i, np = 0;

	while (baselen && c->url[baselen - 1] == '/')
		baselen--;
	if (c->database[0]) {
		path = "/write?";
		params[np][0] = "db";
		params[np++][1] = c->database;
		if (c->retention_policy[0]) {
			params[np][0] = "rp";
			params[np++][1] = c->retention_policy;
		}
	} else if (c->bucket[0]) {
		path = "/api/v2/write?";
		if (c->org[0]) {
			params[np][0] = "org";
			params[np++][1] = c->org;
		}
		params[np][0] = "bucket";
		params[np++][1] = c->bucket;
	} else {
		return -EINVAL;
	}
	buf_append(url, c->url, baselen);
	buf_printf(url, "%s", path);
	for (i = 0; i < np; i++) {
		char *v = curl_easy_escape(e, params[i][1], 0);

		if (!v)
			return -ENOMEM;
		buf_printf(url, "%s=%s&", params[i][0], v);
		curl_free(v);
	}
	buf_printf(url, "precision=ns");
	return url->err ? -ENOMEM : 0;
}

static int influx_headers(struct influx *p, const struct cfg_sink *c)
{
	static const char *fixed[] = {
		"Content-Type: text/plain; charset=utf-8",
		"Expect:", /* no 100-continue round trip before each body */
	};
	struct curl_slist *h;
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		h = curl_slist_append(p->headers, fixed[i]);
		if (!h)
			return -ENOMEM;
		p->headers = h;
	}
	if (p->gzip) {
		h = curl_slist_append(p->headers, "Content-Encoding: gzip");
		if (!h)
			return -ENOMEM;
		p->headers = h;
	}
	if (c->bucket[0] && !c->database[0] && c->token[0]) {
		char auth[sizeof(c->token) + 32];

		snprintf(auth, sizeof(auth), "Authorization: Token %s", c->token);
		h = curl_slist_append(p->headers, auth);
		explicit_bzero(auth, sizeof(auth));
		if (!h)
			return -ENOMEM;
		p->headers = h;
	}
	return 0;
}

static void influx_free(struct influx *p)
{
	struct curl_slist *h;

	if (p->easy)
		curl_easy_cleanup(p->easy);
	for (h = p->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(p->headers);
	if (p->zs_ready)
		deflateEnd(&p->zs);
	buf_free(&p->body);
	free(p->gz);
	free(p);
}

static int influx_open(struct sink *s)
{
	const struct cfg_sink *c = s->cfg;
	struct influx *p = calloc(1, sizeof(*p));
	struct buf url;
	long timeout_ms, connect_ms;
	CURL *e;
	int r;

	if (!p)
		return -ENOMEM;
	buf_init(&url);
	buf_init(&p->body);
	p->gzip = c->gzip;
	e = p->easy = curl_easy_init();
	r = e ? influx_url(e, c, &url) : -ENOMEM;
	if (!r)
		r = influx_headers(p, c);
	if (!r && p->gzip) {
		/* windowBits 15 + 16: a gzip wrapper, as Content-Encoding says. */
		if (deflateInit2(&p->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			r = -ENOMEM;
		else
			p->zs_ready = true;
	}
	if (r) {
		buf_free(&url);
		influx_free(p);
		return r;
	}

	timeout_ms = c->timeout_ns > 0 ? (long)(c->timeout_ns / 1000000) : 10000;
	if (timeout_ms < 1)
		timeout_ms = 1;
	connect_ms = timeout_ms < INFLUX_CONNECT_MAX ? timeout_ms : INFLUX_CONNECT_MAX;
	/* curl copies every string option: url and header text can go. */
	if (curl_easy_setopt(e, CURLOPT_URL, url.data) != CURLE_OK)
		r = -EINVAL;
	buf_free(&url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "powerd/" POWERD_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, influx_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	if (c->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->database[0] && c->username[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
	}
	if (r) {
		influx_free(p);
		return r;
	}
	s->priv = p;
	return 0;
}

static void influx_close(struct sink *s)
{
	struct influx *p = s->priv;

	if (!p)
		return;
	if (p->busy && s->multi)
		curl_multi_remove_handle(s->multi, p->easy);
	influx_free(p);
	s->priv = NULL;
}

/* Gzip body into p->gz.  Returns the compressed length, or 0 on failure. */
static size_t influx_deflate(struct influx *p)
{
	uLong bound;

	/* zlib counts in 32 bits (a 32-bit size_t cannot exceed them) */
#if SIZE_MAX > UINT32_MAX
	if (p->body.len > UINT32_MAX)
		return 0;
#endif
	bound = deflateBound(&p->zs, (uLong)p->body.len);
	if (bound > p->gz_cap) {
		unsigned char *g = realloc(p->gz, bound);

		if (!g)
			return 0;
		p->gz = g;
		p->gz_cap = bound;
	}
	if (deflateReset(&p->zs) != Z_OK)
		return 0;
	p->zs.next_in = (Bytef *)p->body.data;
	p->zs.avail_in = (uInt)p->body.len;
	p->zs.next_out = p->gz;
	p->zs.avail_out = (uInt)((uint64_t)p->gz_cap < UINT32_MAX ? p->gz_cap : UINT32_MAX);
	if (deflate(&p->zs, Z_FINISH) != Z_STREAM_END)
		return 0;
	return (size_t)p->zs.total_out;
}

static int influx_send(struct sink *s, const struct sample_span *v)
{
	struct influx *p = s->priv;
	struct sample_view sv;
	const void *data;
	size_t i, len, lines = 0;
	uint64_t unencodable = 0;
	CURLMcode mc;

	if (!p || p->busy)
		return -EBUSY;
	if (p->body.err)
		buf_free(&p->body); /* a failed growth last time: start afresh */
	p->body.len = 0;
	for (i = 0; i < v->n; i++) {
		int r = sample_span_view(v, i, &sv) < 0 ? -EINVAL : lp_encode(&sv, &p->body);

		if (r == -EINVAL)
			unencodable++;
		else if (r)
			return r;
		else
			lines++;
	}
	if (!lines) {
		s->st.dropped_encode += unencodable;
		sink_complete(s, SINK_OK,
			      "no sample in the batch has a field line protocol can write");
		return 0;
	}
	data = p->body.data;
	len = p->body.len;
	if (p->gzip) {
		len = influx_deflate(p);
		if (!len)
			return -ENOMEM;
		data = p->gz;
	}
	curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, data);
	p->resp_len = 0;
	p->resp[0] = '\0';
	p->errbuf[0] = '\0';
	mc = curl_multi_add_handle(s->multi, p->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	p->unencodable = unencodable;
	p->busy = true;
	return 0;
}

/* The server's reason, on one line: InfluxDB answers {"error":"..."};
 * VictoriaMetrics and proxies answer plain text. */
static void influx_server_message(const struct influx *p, char *out, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(p->resp, p->resp_len);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const char *src = cJSON_IsString(err) ? err->valuestring : p->resp;
	size_t len = 0;

	while (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')
		src++;
	for (; *src && len + 1 < n; src++)
		out[len++] = (*src == '\r' || *src == '\n' || *src == '\t') ? ' ' : *src;
	while (len && out[len - 1] == ' ')
		len--;
	out[len] = '\0';
	cJSON_Delete(j);
}

/* Fit msg into n bytes keeping its start and its end: InfluxDB puts the
 * reason after the offending line ("unable to parse '...': invalid tag
 * format"), and both matter. */
static void influx_fit(const char *msg, char *out, size_t n)
{
	size_t len = strlen(msg), half;

	if (len < n) {
		memcpy(out, msg, len + 1);
		return;
	}
	half = (n - 6) / 2;
	snprintf(out, n, "%.*s ... %s", (int)half, msg, msg + len - (n - 6 - half));
}

static void influx_done(struct sink *s, CURL *easy, CURLcode cc, long http_status)
{
	struct influx *p = s->priv;
	enum sink_verdict v = sink_http_verdict(cc, http_status);
	char server[INFLUX_RESP_MAX], msg[INFLUX_RESP_MAX + 64], fitted[sizeof(s->verdict_msg)];

	curl_multi_remove_handle(s->multi, easy);
	p->busy = false;
	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc));
	} else if (v == SINK_OK) {
		snprintf(msg, sizeof(msg), "HTTP %ld", http_status);
	} else {
		influx_server_message(p, server, sizeof(server));
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", http_status, server[0] ? ": " : "",
			 server);
	}
	if (v == SINK_OK)
		s->st.dropped_encode += p->unencodable;
	p->unencodable = 0;
	influx_fit(msg, fitted, sizeof(fitted));
	sink_complete(s, v, fitted);
}

const struct sink_ops sink_influxdb_ops = {
	.type = "influxdb",
	.open = influx_open,
	.close = influx_close,
	.send = influx_send,
	.done = influx_done,
	.max_batch = 0,
};

/* The CloudWatch sink: PutMetricData through the Query API (Version
 * 2010-08-01), a form-encoded POST signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4: powerd does not implement the signer).
 *
 * Mapping: every numeric field of a sample is one datum (or those the
 * `metrics` key selects, cw_select.h).
 *   MetricName  "{measurement}_{field}", e.g. pulse_power_w, or the name
 *               `metrics` gives it
 *   Dimensions  the sample's tags, in order (SAMPLE_MAX_TAGS <= 30), or
 *               those `dimensions` names, or none
 *   Timestamp   the sample's time, ISO 8601 UTC with milliseconds
 *   Value       float, int, or bool as 0/1; string fields are not metrics
 *   Unit        from the field name's suffix: _s Seconds, _ms Milliseconds,
 *               _us Microseconds, _bytes Bytes, _pct/_percent Percent,
 *               _count/_total Count; everything else (power _w, energy _wh,
 *               volts, amps...) None: CloudWatch has no electrical units,
 *               and the name already carries the unit.
 * Values CloudWatch refuses (NaN, infinities, magnitudes outside
 * 8.515920e-109..1.174271e+108) are left out and counted in dropped_encode,
 * as are samples stamped more than 2 h ahead; samples older than max_age
 * (at most two weeks, CloudWatch's limit) are left out and counted in
 * dropped_too_old.  Both are counted, and logged once, when the batch is
 * acknowledged, so that retries do not count them twice.
 *
 * Limits: at most 1000 datums and 1 MB per request.  fit() tells the
 * uploader how many samples make at most 1000 datums, so that each send()
 * is one request as a rule (and a refused one is bisected, a failed one
 * retried, on its own); a batch whose encoding passes 1 MB (long tags)
 * goes out as several requests, one after the other.  If a later one
 * fails, the accepted prefix is remembered (by a hash of its samples) so
 * the retry of the same batch starts after it: CloudWatch aggregates
 * duplicates instead of replacing them.
 *
 * Errors: AWS answers with XML <Code> and <Message>, which go into the
 * sink's message.  Throttling arrives as HTTP 400 with Code Throttling and
 * is retried, as are the other throttling and transient codes, expired
 * tokens, and signatures refused because of the clock (a Pi without an RTC
 * before NTP has synced); other 4xx reject the batch. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_cred.h"
#include "cw_select.h"
#include "fmt.h"
#include "hash.h"
#include "log.h"
#include "sink.h"
#include "units.h"

#define CW_MAX_DATUMS	  1000
#define CW_MAX_BODY	  1000000 /* "1 MB": the stricter reading */
#define CW_MAX_DIMENSIONS 30
#define CW_RESP_MAX	  16384
#define CW_NS_PER_S	  1000000000LL
/* CloudWatch takes data up to two weeks old; keep a margin so a datum
 * close to the edge is not refused on arrival (which would reject the
 * whole request). */
#define CW_MAX_AGE_NS	 (14LL * 24 * 3600 * CW_NS_PER_S - 600 * CW_NS_PER_S)
#define CW_MAX_FUTURE_NS (2LL * 3600 * CW_NS_PER_S)
#define CW_VALUE_MAX	 1.174271e+108
#define CW_VALUE_MIN	 8.515920e-109

_Static_assert(SAMPLE_MAX_TAGS <= CW_MAX_DIMENSIONS, "tags must fit CloudWatch's 30 dimensions");
_Static_assert(SAMPLE_MAX_FIELDS <= CW_MAX_DATUMS, "a sample must fit one request");

struct cw_chunk {
	struct buf body;
	size_t end;    /* index of the sample after this request's last */
	uint64_t hash; /* of samples [0, end) */
};

struct cw {
	struct aws_cred cred;
	char region[64];
	char url[512];
	char sigv4[128];
	char ns_enc[3 * 256 + 1];
	struct curl_slist *headers;
	int64_t max_age_ns;
	long timeout_ms;
	struct cw_select sel; /* metrics and dimensions */
	bool reload_cred;

	/* the batch in flight */
	struct cw_chunk *chunks;
	size_t nchunks, cur;
	CURL *easy;
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t too_old, unencodable;
	int64_t oldest_ns;

	/* requests of a batch already accepted when a later one failed */
	size_t done_n;
	uint64_t done_hash;
};

/* ------------------------------------------------------------ encoding */

static int cw_enc(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* RFC 3986 unreserved characters stay; AWS wants the rest escaped
		 * (no isalnum(): it follows the locale) */
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			buf_append(b, &s[i], 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			buf_append(b, e, 3);
		}
	}
	return b->err;
}

static int cw_enc_str(struct buf *b, const char *s)
{
	return cw_enc(b, s, strlen(s));
}

/* CloudWatch's name for the unit a field's name ends in (units.h). */
static const char *cw_unit(const char *field)
{
	static const struct {
		const char *unit, *cw;
	} map[] = {
		{"ms", "Milliseconds"}, {"us", "Microseconds"}, {"s", "Seconds"},
		{"bytes", "Bytes"},	{"%", "Percent"},	{"count", "Count"},
	};
	const char *u = unit_of_field(field);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(u, map[i].unit))
			return map[i].cw;
	return "None";
}

/* The value of a numeric field, false for strings and values CloudWatch
 * refuses (*refused set for the latter). */
static bool cw_value(const struct sample_field *f, double *v, bool *refused)
{
	*refused = false;
	switch (f->type) {
	case SAMPLE_FLOAT:
		*v = f->v.f;
		break;
	case SAMPLE_INT:
		*v = (double)f->v.i;
		break;
	case SAMPLE_BOOL:
		*v = f->v.b ? 1 : 0;
		break;
	default:
		return false;
	}
	if (!isfinite(*v) || fabs(*v) > CW_VALUE_MAX || (*v != 0 && fabs(*v) < CW_VALUE_MIN)) {
		*refused = true;
		return false;
	}
	return true;
}

static void cw_fmt_time(char *out, size_t n, int64_t ts_ns)
{
	int64_t sec = ts_ns / CW_NS_PER_S, rem = ts_ns % CW_NS_PER_S;
	time_t t;
	struct tm tm;

	if (rem < 0) {
		rem += CW_NS_PER_S;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
}

/* The datum's name for a field, or NULL: a string, or not selected. */
static const char *cw_name(const struct cw *cw, const struct sample_view *smp,
			   const struct sample_field *f, char *buf, size_t n)
{
	static const struct cw_select every; /* before open: every field */

	if (f->type == SAMPLE_STRING)
		return NULL;
	return cw_select_name(cw ? &cw->sel : &every, smp->measurement, f->key, buf, n);
}

static int cw_datum(const struct cw *cw, struct buf *b, size_t m, const struct sample_view *smp,
		    const struct sample_field *f, const char *name, double v)
{
	char ts[80], num[40];

	buf_printf(b, "&MetricData.member.%zu.MetricName=", m);
	cw_enc_str(b, name);
	for (size_t d = 0, k = 0; d < smp->ntags; d++) {
		if (!smp->tags[d].value[0])
			continue; /* CloudWatch wants 1..1024 characters */
		if (!cw_select_dim(&cw->sel, smp->tags[d].key))
			continue;
		k++;
		buf_printf(b, "&MetricData.member.%zu.Dimensions.member.%zu.Name=", m, k);
		cw_enc_str(b, smp->tags[d].key);
		buf_printf(b, "&MetricData.member.%zu.Dimensions.member.%zu.Value=", m, k);
		cw_enc_str(b, smp->tags[d].value);
	}
	cw_fmt_time(ts, sizeof(ts), smp->ts_ns);
	buf_printf(b, "&MetricData.member.%zu.Timestamp=", m);
	cw_enc_str(b, ts);
	fmt_double(num, sizeof(num), v);
	buf_printf(b, "&MetricData.member.%zu.Value=", m);
	cw_enc_str(b, num);
	buf_printf(b, "&MetricData.member.%zu.Unit=", m);
	return cw_enc_str(b, cw_unit(f->key));
}

/* What identifies a sample: its packed bytes (one packing per content). */
static uint64_t cw_hash_sample(uint64_t h, const struct sample_view *s)
{
	return hash_fnv1a(h, s->data, s->len);
}

/* Datums a sample may give: its numeric fields that are selected (fewer if
 * some are refused, too old, or in the future). */
static size_t cw_datums(const struct cw *cw, const struct sample_view *s)
{
	struct sample_cursor c;
	struct sample_field f;
	char buf[CW_NAME_MAX];
	size_t n = 0;

	sample_fields(s, &c);
	while (sample_next_field(&c, &f))
		n += cw_name(cw, s, &f, buf, sizeof(buf)) != NULL;
	return n;
}

static void cw_free_chunks(struct cw *cw)
{
	for (size_t i = 0; i < cw->nchunks; i++)
		buf_free(&cw->chunks[i].body);
	free(cw->chunks);
	cw->chunks = NULL;
	cw->nchunks = cw->cur = 0;
}

static struct cw_chunk *cw_new_chunk(struct cw *cw)
{
	struct cw_chunk *c = realloc(cw->chunks, (cw->nchunks + 1) * sizeof(*c));

	if (!c)
		return NULL;
	cw->chunks = c;
	c = &cw->chunks[cw->nchunks++];
	buf_init(&c->body);
	c->end = 0;
	c->hash = 0;
	buf_printf(&c->body, "Action=PutMetricData&Version=2010-08-01&Namespace=%s", cw->ns_enc);
	return c->body.err ? NULL : c;
}

static int64_t cw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CW_NS_PER_S + ts.tv_nsec;
}

/* Encode v[first, n) into requests; v[0, first) were accepted before. */
static int cw_encode(struct cw *cw, const struct sample_span *v, size_t first, uint64_t h)
{
	int64_t now = cw_now_ns();
	struct cw_chunk *c = NULL;
	size_t datums = 0;

	for (size_t i = 0; i < v->n; i++) {
		struct sample_view smp;
		struct sample_cursor fc;
		struct sample_field f;
		char name[CW_NAME_MAX];
		size_t mark, nd = 0;
		bool retried = false;

		if (sample_span_view(v, i, &smp) < 0)
			return -EBADMSG; /* the uploader opened it before: cannot happen */
		if (i >= first)
			h = cw_hash_sample(h, &smp);
		if (smp.ts_ns < now - cw->max_age_ns) {
			cw->too_old++;
			if (!cw->oldest_ns || smp.ts_ns < cw->oldest_ns)
				cw->oldest_ns = smp.ts_ns;
			continue;
		}
		if (smp.ts_ns > now + CW_MAX_FUTURE_NS) {
			cw->unencodable += cw_datums(cw, &smp);
			continue;
		}
		if (i < first) {
			sample_fields(&smp, &fc);
			while (sample_next_field(&fc, &f)) {
				bool refused;
				double val;

				if (!cw_name(cw, &smp, &f, name, sizeof(name)))
					continue;
				cw_value(&f, &val, &refused);
				cw->unencodable += refused;
			}
			continue;
		}
	again:
		if (!c && !(c = cw_new_chunk(cw)))
			return -ENOMEM;
		mark = c->body.len;
		nd = 0;
		sample_fields(&smp, &fc);
		while (sample_next_field(&fc, &f)) {
			const char *nm = cw_name(cw, &smp, &f, name, sizeof(name));
			bool refused;
			double val;

			if (!nm)
				continue;
			if (!cw_value(&f, &val, &refused)) {
				cw->unencodable += refused && !retried;
				continue;
			}
			cw_datum(cw, &c->body, datums + nd + 1, &smp, &f, nm, val);
			nd++;
		}
		if (c->body.err)
			return -ENOMEM;
		if (datums + nd > CW_MAX_DATUMS || c->body.len > CW_MAX_BODY) {
			/* does not fit: this request ends before the sample */
			c->body.len = mark;
			c->body.data[mark] = '\0';
			/* Cannot happen: 128 datums with 16 of the longest
			 * tags each take about 0.85 MB. */
			if (!datums)
				return -E2BIG;
			c = NULL;
			datums = 0;
			retried = true;
			goto again;
		}
		datums += nd;
		c->end = i + 1;
		c->hash = h;
	}
	/* A last request that ended up with no datum is not sent; the samples
	 * it covered are all dropped ones. */
	if (c && !datums) {
		buf_free(&c->body);
		cw->nchunks--;
	}
	return 0;
}

/* As many samples as make at most CW_MAX_DATUMS datums, at least one. */
static size_t cw_fit(const struct sink *s, const struct sample_span *v)
{
	const struct cw *cw = s->priv;
	struct sample_view smp;
	size_t i, datums = 0;

	for (i = 0; i < v->n; i++) {
		if (sample_span_view(v, i, &smp) < 0)
			break;
		datums += cw_datums(cw, &smp);
		if (datums > CW_MAX_DATUMS)
			break;
	}
	return i ? i : 1;
}

/* --------------------------------------------------------------- HTTP */

static size_t cw_write(char *p, size_t size, size_t nmemb, void *user)
{
	struct cw *cw = user;
	size_t n = size * nmemb;

	if (cw->resp.len < CW_RESP_MAX)
		buf_append(&cw->resp, p,
			   n < CW_RESP_MAX - cw->resp.len ? n : CW_RESP_MAX - cw->resp.len);
	return n;
}

static int cw_start(struct sink *s)
{
	struct cw *cw = s->priv;
	struct cw_chunk *c = &cw->chunks[cw->cur];
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	buf_free(&cw->resp);
	buf_init(&cw->resp);
	cw->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, cw->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body.data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, cw->headers);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, cw->sigv4);
	curl_easy_setopt(e, CURLOPT_USERNAME, cw->cred.access_key_id);
	curl_easy_setopt(e, CURLOPT_PASSWORD, cw->cred.secret_access_key);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "powerd/" POWERD_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cw->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cw_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, cw);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cw->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return -EIO;
	}
	cw->easy = e;
	/* The uploader counts one request per send(); a split batch's
	 * further requests are counted here. */
	if (cw->cur)
		s->st.requests++;
	return 0;
}

/* The text between <tag> and </tag>, entities decoded, on one line. */
static void cw_xml(const char *body, const char *tag, char *out, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
		{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char open[32], close[32];
	const char *p, *e;
	size_t k = 0;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = strstr(body, open);
	if (!p || !(e = strstr(p, close)))
		return;
	for (p += strlen(open); p < e && k + 1 < n; p++) {
		char c = *p;

		if (c == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t l = strlen(ents[i].ent);

				if ((size_t)(e - p) >= l && !strncmp(p, ents[i].ent, l)) {
					c = ents[i].c;
					p += l - 1;
					break;
				}
			}
		}
		out[k++] = c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
	}
	out[k] = '\0';
}

static bool cw_code_in(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(code, *list))
			return true;
	return false;
}

/* 4xx answers that are not about the data: retry them. */
static bool cw_code_retryable(const char *code, const char *msg)
{
	static const char *const codes[] = {
		"Throttling",
		"ThrottlingException",
		"ThrottledException",
		"RequestThrottled",
		"RequestThrottledException",
		"TooManyRequestsException",
		"RequestLimitExceeded",
		"RequestTimeout",
		"RequestTimeoutException",
		"PriorRequestNotComplete",
		"ExpiredToken",
		"ExpiredTokenException",
		"RequestExpired",
		"RequestTimeTooSkewed",
		NULL,
	};

	if (cw_code_in(code, codes))
		return true;
	/* a wrong clock, not a wrong key */
	return !strcmp(code, "SignatureDoesNotMatch") &&
	       (!strncmp(msg, "Signature expired", 17) ||
		!strncmp(msg, "Signature not yet current", 25));
}

/* Whatever the server said must not carry a secret back into logs. */
static void cw_redact(char *msg, const char *secret)
{
	size_t n = strlen(secret);
	char *p;

	if (n < 4)
		return;
	while ((p = strstr(msg, secret))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

static void cw_count_drops(struct sink *s)
{
	struct cw *cw = s->priv;
	char when[80];

	if (cw->too_old) {
		cw_fmt_time(when, sizeof(when), cw->oldest_ns);
		log_warn("sink %s: dropped %" PRIu64 " samples older than CloudWatch accepts "
			 "(max_age %lld s; oldest %s)",
			 s->cfg->name, cw->too_old, (long long)(cw->max_age_ns / CW_NS_PER_S),
			 when);
	}
	if (cw->unencodable)
		log_warn("sink %s: dropped %" PRIu64 " values CloudWatch cannot store "
			 "(NaN, infinite, out of range, or more than 2 h in the future)",
			 s->cfg->name, cw->unencodable);
	s->st.dropped_too_old += cw->too_old;
	s->st.dropped_encode += cw->unencodable;
}

static void cw_done(struct sink *s, CURL *easy, CURLcode cc, long status)
{
	struct cw *cw = s->priv;
	enum sink_verdict v = sink_http_verdict(cc, status);
	char code[128], text[200], where[64] = "", msg[640];

	curl_multi_remove_handle(s->multi, easy);
	curl_easy_cleanup(easy);
	cw->easy = NULL;

	if (v == SINK_OK) {
		cw->done_n = cw->chunks[cw->cur].end;
		cw->done_hash = cw->chunks[cw->cur].hash;
		if (++cw->cur < cw->nchunks) {
			int rc = cw_start(s);

			if (!rc)
				return;
			snprintf(msg, sizeof(msg), "cannot start request %zu of %zu: %s",
				 cw->cur + 1, cw->nchunks, strerror(-rc));
			cw_free_chunks(cw);
			sink_complete(s, SINK_RETRY, msg);
			return;
		}
		cw_count_drops(s);
		cw->done_n = 0;
		cw_free_chunks(cw);
		sink_complete(s, SINK_OK, NULL);
		return;
	}

	if (cw->nchunks > 1)
		snprintf(where, sizeof(where), " (request %zu of %zu)", cw->cur + 1, cw->nchunks);
	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s%s",
			 cw->errbuf[0] ? cw->errbuf : curl_easy_strerror(cc), where);
	} else {
		const char *body = cw->resp.data ? cw->resp.data : "";

		/* before anything is cut: a cut secret would no longer match */
		if (cw->resp.data) {
			cw_redact(cw->resp.data, cw->cred.secret_access_key);
			cw_redact(cw->resp.data, cw->cred.session_token);
		}
		cw_xml(body, "Code", code, sizeof(code));
		cw_xml(body, "Message", text, sizeof(text));
		if (!code[0]) /* not AWS's XML (a proxy?): its first line */
			snprintf(text, sizeof(text), "%.*s", (int)strcspn(body, "\r\n"), body);
		if (v == SINK_REJECT && cw_code_retryable(code, text))
			v = SINK_RETRY;
		if (status == 403 || cw_code_retryable(code, text))
			cw->reload_cred = true; /* a rotated credentials file is picked up */
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s%s: %s", status, code[0] ? " " : "", code,
			 where, text[0] ? text : "(no message)");
	}
	cw_redact(msg, cw->cred.secret_access_key);
	cw_redact(msg, cw->cred.session_token);
	cw_free_chunks(cw);
	sink_complete(s, v, msg);
}

/* ---------------------------------------------------------- lifecycle */

static int cw_headers(struct cw *cw)
{
	struct curl_slist *h;
	char *tok;

	h = curl_slist_append(NULL,
			      "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	if (h && cw->cred.session_token[0]) {
		size_t n = strlen(cw->cred.session_token) + 32;
		struct curl_slist *t;

		tok = malloc(n);
		if (!tok) {
			curl_slist_free_all(h);
			return -ENOMEM;
		}
		snprintf(tok, n, "X-Amz-Security-Token: %s", cw->cred.session_token);
		t = curl_slist_append(h, tok);
		explicit_bzero(tok, n);
		free(tok);
		if (!t) {
			curl_slist_free_all(h);
			h = NULL;
		}
	}
	if (!h)
		return -ENOMEM;
	cw->headers = h;
	return 0;
}

static void cw_free_headers(struct cw *cw)
{
	for (struct curl_slist *h = cw->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(cw->headers);
	cw->headers = NULL;
}

static int cw_load_cred(struct sink *s)
{
	struct cw *cw = s->priv;
	const struct cfg_sink *c = s->cfg;
	char err[2 * PATH_MAX + 512];
	int rc;

	cw_free_headers(cw);
	rc = aws_cred_load(&cw->cred, c->credentials_file, c->profile, err, sizeof(err));
	if (!rc)
		rc = cw_headers(cw);
	if (rc) {
		log_err("sink %s: %s", c->name, err);
		sink_set_error(s, "%s", err);
	}
	return rc;
}

static int cw_check_namespace(const char *ns)
{
	size_t n = strlen(ns);

	if (!n || n > 255 || !strncmp(ns, "AWS/", 4) || ns[0] == ':')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ns[i] < 32 || (unsigned char)ns[i] > 126)
			return -EINVAL;
	return 0;
}

static int cw_fail(struct sink *s, const char *fmt, const char *arg)
{
	char msg[640];

	snprintf(msg, sizeof(msg), fmt, arg);
	log_err("sink %s: %s", s->cfg->name, msg);
	sink_set_error(s, "%s", msg);
	return -EINVAL;
}

static void cw_close(struct sink *s)
{
	struct cw *cw = s->priv;

	if (!cw)
		return;
	if (cw->easy) {
		curl_multi_remove_handle(s->multi, cw->easy);
		curl_easy_cleanup(cw->easy);
	}
	cw_free_chunks(cw);
	buf_free(&cw->resp);
	cw_free_headers(cw);
	aws_cred_wipe(&cw->cred);
	cw_select_free(&cw->sel);
	free(cw);
	s->priv = NULL;
}

static int cw_open(struct sink *s)
{
	const struct cfg_sink *c = s->cfg;
	const char *region = aws_cred_region(c->region);
	struct cw *cw;
	int rc;

	if (cw_check_namespace(c->namespace_))
		return cw_fail(
			s,
			"namespace '%s' is not valid for CloudWatch "
			"(1-255 printable ASCII characters, not starting with 'AWS/' or ':')",
			c->namespace_);
	if (!region)
		return cw_fail(s, "%s",
			       "no AWS region: set region = in the sink's section, "
			       "or AWS_REGION / AWS_DEFAULT_REGION");
	if (strlen(region) >= sizeof(cw->region) ||
	    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		return cw_fail(s, "region '%s' is not an AWS region name", region);

	cw = calloc(1, sizeof(*cw));
	if (!cw)
		return -ENOMEM;
	s->priv = cw;
	buf_init(&cw->resp);
	snprintf(cw->region, sizeof(cw->region), "%s", region);
	{
		char why[160];

		/* The configuration's check parsed them already. */
		rc = cw_select_parse(&cw->sel, c->metrics, c->dimensions, why, sizeof(why));
		if (rc) {
			cw_close(s);
			return rc == -ENOMEM ? rc : cw_fail(s, "%s", why);
		}
	}
	rc = cw_load_cred(s);
	if (rc) {
		cw_close(s);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	if (c->endpoint[0])
		snprintf(cw->url, sizeof(cw->url), "%s", c->endpoint);
	else
		snprintf(cw->url, sizeof(cw->url), "https://monitoring.%s.amazonaws.com/",
			 cw->region);
	snprintf(cw->sigv4, sizeof(cw->sigv4), "aws:amz:%s:monitoring", cw->region);
	{
		struct buf b;

		buf_init(&b);
		cw_enc_str(&b, c->namespace_);
		snprintf(cw->ns_enc, sizeof(cw->ns_enc), "%s", b.data ? b.data : "");
		buf_free(&b);
	}
	cw->max_age_ns =
		c->max_age_ns > 0 && c->max_age_ns < CW_MAX_AGE_NS ? c->max_age_ns : CW_MAX_AGE_NS;
	cw->timeout_ms = c->timeout_ns > 0 ? (long)(c->timeout_ns / 1000000) : 10000;
	if (cw->timeout_ms < 1)
		cw->timeout_ms = 1;
	log_info("sink %s: CloudWatch namespace %s, region %s, %s, credentials from %s%s%s%s",
		 c->name, c->namespace_, cw->region, cw->url,
		 cw->cred.from_env ? "the environment" : cw->cred.file,
		 cw->cred.from_env ? "" : " [", cw->cred.from_env ? "" : cw->cred.profile,
		 cw->cred.from_env ? "" : "]");
	return 0;
}

static int cw_send(struct sink *s, const struct sample_span *v)
{
	size_t n = v->n;
	struct cw *cw = s->priv;
	uint64_t h = HASH_FNV1A_INIT;
	size_t first = 0;
	int rc;

	if (cw->easy)
		return -EBUSY;
	if (cw->reload_cred && !cw->cred.from_env) {
		cw->reload_cred = false;
		rc = cw_load_cred(s);
		if (rc)
			return rc;
	}
	cw_free_chunks(cw);
	cw->too_old = cw->unencodable = 0;
	cw->oldest_ns = 0;

	/* The same batch again after some of its requests were accepted:
	 * carry on after them. */
	if (cw->done_n && cw->done_n <= n) {
		uint64_t p = h;

		for (size_t i = 0; i < cw->done_n; i++) {
			struct sample_view smp;

			if (sample_span_view(v, i, &smp) < 0)
				break;
			p = cw_hash_sample(p, &smp);
		}
		if (p == cw->done_hash) {
			first = cw->done_n;
			h = p;
		}
	}
	cw->done_n = 0;
	if (first) {
		cw->done_n = first;
		cw->done_hash = h;
	}

	rc = cw_encode(cw, v, first, h);
	if (rc) {
		cw_free_chunks(cw);
		return rc;
	}
	if (!cw->nchunks) {
		/* nothing CloudWatch would take: done */
		cw_count_drops(s);
		cw->done_n = 0;
		sink_complete(s, SINK_OK, NULL);
		return 0;
	}
	rc = cw_start(s);
	if (rc)
		cw_free_chunks(cw);
	return rc;
}

const struct sink_ops sink_cloudwatch_ops = {
	.type = "cloudwatch",
	.open = cw_open,
	.close = cw_close,
	.send = cw_send,
	.done = cw_done,
	.fit = cw_fit,
	.max_batch = 0,
};

/* The HTTP source ([http.NAME]): a JSON document polled over HTTP(S), on a
 * fixed grid, read as points like a [json] file (source_doc.h).
 *
 * Every HTTP source runs on the I/O thread and never blocks it: the
 * transfers are libcurl's, driven by the loop (curl_loop.h), and all of
 * them share one multi handle and one producer ring ("http": the uploader
 * has room for few producers).  Each source keeps one easy handle across
 * polls, so its connection is kept alive.
 *
 * Poll k starts at start + k * interval (monotonic), however long polls
 * take; a tick that finds the previous poll still running is skipped and
 * counted (overrun), so a slow device never has two requests in flight.
 * A poll that fails is counted by reason and gives nothing; the sample
 * time is when the response arrived, unless time_key says otherwise.  The
 * ring is live data: a full one drops and counts, never waits. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "curl_loop.h"
#include "fmt.h"
#include "log.h"
#include "loop.h"
#include "powerd.h"
#include "sample.h"
#include "source.h"
#include "source_doc.h"
#include "status.h"
#include "uploader.h"

#define HSRC_RING    (1u << 20) /* bytes: the ring all HTTP sources share */
#define HSRC_LOG_NS  (60 * 1000000000LL)
#define HSRC_BODY_IN 4096 /* the body buffer's first size */

/* Shared by every HTTP source of the daemon (pd->http_group). */
struct hsrc_group {
	struct curl_loop *cl;
	struct uploader_producer *prod;
	bool prod_tried;
	unsigned users;
};

struct hsrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_http *c;
	struct hsrc_group *g;
	struct curl_loop_xfer x;
	char url_safe[1024]; /* the URL without its user:password, for logs */
	char errbuf[CURL_ERROR_SIZE];
	struct sdoc doc;
	bool said_invalid; /* the detail says the last read was not valid */
	struct loop_op tick;
	int64_t t0_ns; /* the grid's origin (monotonic) */
	uint64_t k;    /* the tick armed next is t0 + k * interval */
	int64_t poll_start_ns;
	char *body;
	size_t len, cap;
	bool too_large;
	struct log_rate fail_log, drop_log;
	/* Read by the status hook (any thread). */
	_Atomic int64_t last_ok_ns; /* monotonic; 0: none yet */
	_Atomic int64_t last_ms;    /* the last good poll's duration */
	_Atomic unsigned last_n;    /* its samples */
	unsigned r_connect, r_timeout, r_status, r_redirect, r_tls, r_transfer, r_overrun,
		r_dropped;
};

/* http://user:pw@host/x -> http://host/x: a password is never logged. */
static void hsrc_redact(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *auth, *at = NULL, *q;

	if (!p) {
		snprintf(out, len, "%s", url);
		return;
	}
	auth = p + 3;
	for (q = auth; *q && *q != '/' && *q != '?' && *q != '#'; q++)
		if (*q == '@')
			at = q;
	if (!at)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "%.*s%s", (int)(auth - url), url, at + 1);
}

static size_t hsrc_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct hsrc *h = arg;
	size_t add = size * n;

	if (h->len + add > h->c->max_size) {
		h->too_large = true;
		return 0; /* curl aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (h->len + add + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : HSRC_BODY_IN;
		char *b;

		while (cap < h->len + add + 1)
			cap *= 2;
		b = realloc(h->body, cap);
		if (!b)
			return 0;
		h->body = b;
		h->cap = cap;
	}
	memcpy(h->body + h->len, ptr, add);
	h->len += add;
	return add;
}

/* A failed poll: counted, shown, logged at most once a minute. */
static void hsrc_fail(struct hsrc *h, unsigned reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void hsrc_fail(struct hsrc *h, unsigned reason, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	uint64_t n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	source_error(h->s, reason);
	source_set_state(h->s, SOURCE_ERROR, "%s: %s: %s", h->url_safe, h->s->reason[reason], why);
	if (log_rate_event(&h->fail_log, loop_now(), HSRC_LOG_NS, &n))
		log_warn("http %s: polling %s failed (%s: %s)%s", h->s->name, h->url_safe,
			 h->s->reason[reason], why, n > 1 ? " (and more failures)" : "");
}

static unsigned hsrc_curl_reason(const struct hsrc *h, CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return h->r_timeout;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return h->r_connect;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return h->r_tls;
	case CURLE_FILESIZE_EXCEEDED:
		return h->doc.r_doc[JP_TOO_LARGE];
	default:
		return h->r_transfer;
	}
}

static void hsrc_publish(struct hsrc *h)
{
	struct sample_span sp = sample_list_span(&h->doc.list, 0, h->doc.list.n);
	size_t i;
	uint64_t n;
	int r;

	for (i = 0; i < sp.n; i++) {
		const void *rec = sp.data + sp.off[i];
		size_t len = sp.off[i + 1] - sp.off[i];

		r = uploader_publish_packed(h->g->prod, rec, len);
		if (r == 0) {
			source_sample(h->s, sample_packed_ts(rec), rec, len);
			continue;
		}
		/* Live data: the loop never waits for room. */
		uploader_note_drop(h->g->prod);
		source_error(h->s, h->r_dropped);
		if (log_rate_event(&h->drop_log, loop_now(), HSRC_LOG_NS, &n))
			log_warn(
				"http %s: the ring into the uploader is full: %llu samples dropped",
				h->s->name, (unsigned long long)n);
	}
}

static void hsrc_done(CURL *e, CURLcode rc, void *arg)
{
	struct hsrc *h = arg;
	int64_t now = loop_now(), unix_ns = clock_unix_ns();
	struct jp_opts o = {0};
	unsigned reason = 0;
	char why[200];
	long code = 0;
	int r;

	if (rc != CURLE_OK) {
		if (h->too_large)
			hsrc_fail(h, h->doc.r_doc[JP_TOO_LARGE], "the body is over max_size (%llu)",
				  (unsigned long long)h->c->max_size);
		else
			hsrc_fail(h, hsrc_curl_reason(h, rc), "%s",
				  h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 && code < 400) {
		hsrc_fail(h, h->r_redirect, "HTTP %ld (follow_redirects is off)", code);
		return;
	}
	if (code < 200 || code >= 300) {
		hsrc_fail(h, h->r_status, "HTTP %ld", code);
		return;
	}
	o.format = h->c->format == CFG_JSON_FLAT ? JP_FLAT : JP_POINTS;
	o.time_key = h->c->time_key[0] ? h->c->time_key : NULL;
	o.time_format = sdoc_time(h->c->time_format);
	o.default_ns = unix_ns;
	o.name = h->c->measurement[0] ? h->c->measurement : h->s->name;
	r = sdoc_parse(&h->doc, h->body ? h->body : "", h->len, &o, &reason, why, sizeof(why));
	if (r == -ENOMEM) {
		hsrc_fail(h, h->r_transfer, "out of memory");
		return;
	}
	if (r == -ENODATA) {
		/* The device answered and says its reading is not valid (the
		 * PowMr dongle while it reads the inverter): counted, not an
		 * error of the source, not logged. */
		source_error(h->s, reason);
		source_set_state(h->s, SOURCE_OK, "polling %s; the last read was not valid (%s)",
				 h->url_safe, why);
		h->said_invalid = true;
		return;
	}
	if (r < 0) {
		hsrc_fail(h, reason, "%s", why);
		return;
	}
	hsrc_publish(h);
	atomic_store(&h->last_ms, (now - h->poll_start_ns) / 1000000);
	atomic_store(&h->last_n, (unsigned)r);
	atomic_store(&h->last_ok_ns, now);
	if (h->s->state != SOURCE_OK || h->said_invalid)
		source_set_state(h->s, SOURCE_OK, "polling %s", h->url_safe);
	h->said_invalid = false;
}

static void hsrc_poll(struct hsrc *h)
{
	int r;

	h->len = 0;
	h->too_large = false;
	h->errbuf[0] = '\0';
	h->poll_start_ns = loop_now();
	r = curl_loop_add(h->g->cl, &h->x);
	if (r)
		hsrc_fail(h, h->r_transfer, "cannot start the request: %s", strerror(-r));
}

static void hsrc_tick_cb(struct loop *l, int res, void *arg);

static void hsrc_arm(struct hsrc *h)
{
	int64_t at = h->t0_ns + (int64_t)h->k * h->c->interval_ns;
	int r = loop_timer_at(h->pd->loop, &h->tick, at, hsrc_tick_cb, h);

	if (r) {
		log_err("http %s: cannot queue its timer: %s; it polls no more until a restart",
			h->s->name, strerror(-r));
		source_set_state(h->s, SOURCE_ERROR, "no timer (%s)", strerror(-r));
	}
}

static void hsrc_tick_cb(struct loop *l, int res, void *arg)
{
	struct hsrc *h = arg;
	int64_t now = loop_now();

	(void)l;
	if (res == -ECANCELED || atomic_load(&h->pd->stopping))
		return;
	if (h->x.running)
		source_error(h->s, h->r_overrun); /* never two requests at once */
	else
		hsrc_poll(h);
	/* The next tick of the grid that is still ahead: a loop held up past
	 * whole intervals skips them rather than catching up in a burst. */
	h->k++;
	if (h->t0_ns + (int64_t)h->k * h->c->interval_ns <= now)
		h->k = (uint64_t)((now - h->t0_ns) / h->c->interval_ns) + 1;
	hsrc_arm(h);
}

/* ------------------------------------------------------------ the source */

static int hsrc_setup_easy(struct hsrc *h)
{
	const struct cfg_http *c = h->c;
	int64_t ct = c->connect_timeout_ns < c->timeout_ns ? c->connect_timeout_ns : c->timeout_ns;
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	h->x.easy = e;
	h->x.done = hsrc_done;
	h->x.arg = h;
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "powerd");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->timeout_ns / 1000000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct / 1000000));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hsrc_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_size);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, c->follow_redirects ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->username[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
	}
	return 0;
}

static int hsrc_group_join(struct hsrc *h)
{
	struct powerd *pd = h->pd;
	struct hsrc_group *g = pd->http_group;
	int r;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		r = curl_loop_new(pd->loop, &g->cl);
		if (r) {
			free(g);
			return r;
		}
		pd->http_group = g;
		if (!curl_loop_async_dns())
			log_warn("http: this libcurl resolves host names synchronously: a slow DNS "
				 "server stalls the I/O thread (use IP addresses in [http] urls)");
	}
	g->users++;
	h->g = g;
	return 0;
}

static int hsrc_open(struct source *s)
{
	const struct cfg_http *c = s->conf;
	struct hsrc *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->s = s;
	h->pd = s->pd;
	h->c = c;
	s->priv = h;
	hsrc_redact(c->url, h->url_safe, sizeof(h->url_safe));
	r = sdoc_init(&h->doc, s, &c->fields);
	if (r)
		return r;
	h->r_connect = source_reason(s, "connect");
	h->r_timeout = source_reason(s, "timeout");
	h->r_status = source_reason(s, "http_status");
	h->r_redirect = source_reason(s, "redirect");
	h->r_tls = source_reason(s, "tls");
	h->r_transfer = source_reason(s, "transfer");
	h->r_overrun = source_reason(s, "overrun");
	h->r_dropped = source_reason(s, "dropped");
	r = hsrc_group_join(h);
	if (r)
		return r;
	r = hsrc_setup_easy(h);
	if (r) {
		log_err("http %s: cannot set up libcurl", s->name);
		return r;
	}
	source_set_state(s, SOURCE_CONNECTING, "first poll of %s", h->url_safe);
	return 0;
}

static void hsrc_start(struct source *s)
{
	struct hsrc *h = s->priv;
	struct hsrc_group *g = h->g;
	int r;

	/* The uploader starts after the sources open: the ring is taken here,
	 * on the I/O thread that publishes through it. */
	if (!g->prod_tried) {
		g->prod_tried = true;
		r = uploader_producer(h->pd->uploader, "http", HSRC_RING, &g->prod);
		if (r)
			log_err("http: no ring into the uploader: %s; HTTP polls are counted, "
				"their samples dropped",
				strerror(-r));
	}
	h->t0_ns = loop_now();
	h->k = 0;
	hsrc_arm(h);
}

/* After loop_drain(): nothing of it is in flight. */
static void hsrc_stop(struct source *s)
{
	struct hsrc *h = s->priv;
	struct hsrc_group *g;

	if (!h)
		return;
	g = h->g;
	/* The loop is freed by now (io_teardown): curl must not reach it. */
	if (g)
		curl_loop_detach(g->cl);
	if (g && h->x.easy)
		curl_loop_remove(g->cl, &h->x);
	if (h->x.easy)
		curl_easy_cleanup(h->x.easy);
	if (g && --g->users == 0) {
		curl_loop_free(g->cl);
		free(g);
		h->pd->http_group = NULL;
	}
	sdoc_free(&h->doc);
	free(h->body);
	s->priv = NULL;
	free(h);
}

/* The detail of a source that polls well says how lately (read now). */
static void hsrc_status(struct source *s, struct status_source *out)
{
	struct hsrc *h = s->priv;
	int64_t last;
	char ago[32];

	if (!h || s->state != SOURCE_OK)
		return;
	last = atomic_load(&h->last_ok_ns);
	if (!last)
		return;
	fmt_seconds(ago, sizeof(ago), (double)(loop_now() - last) / 1e9, false);
	snprintf(out->detail, sizeof(out->detail), "%.160s: last poll %s ago (%lld ms), %u samples",
		 h->url_safe, ago, (long long)atomic_load(&h->last_ms), atomic_load(&h->last_n));
}

const struct source_ops source_http_ops = {
	.kind = "http",
	.open = hsrc_open,
	.start = hsrc_start,
	.stop = hsrc_stop,
	.status = hsrc_status,
};

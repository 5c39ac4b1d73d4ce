/* The HTTP server: two MHD daemons (TCP and the Unix socket), each with its
 * own thread, and a watchdog thread of ours.
 *
 * MHD's idle timeout restarts at every byte, so a client sending a header
 * byte every few seconds would hold a connection slot forever, and enough
 * of them hold all of them (Slowloris).  MHD 0.9.75 has no bound on the
 * time to receive a request, so we keep one: each connection gets a slot
 * in its listener's table (MHD's connection notifications), with a
 * deadline for the next request's line and headers; the access handler
 * clears it, the request-completed notification sets the next one.  The
 * watchdog shuts down the socket of a connection past its deadline, and MHD
 * then closes it.  MHD sends the CLOSED notification before it closes the
 * descriptor, and that notification takes the same lock as the watchdog,
 * so the watchdog never shuts down a descriptor that has been reused. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "clock.h"
#include "history.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "page.h"
#include "status_json.h"
#include "tap.h"

/* A status server for a scraper, a browser and powerctl: a handful of
 * clients.  The limits keep a misbehaving client from holding threads or
 * memory: 8 connections per address on TCP (a browser opens up to 6), 64
 * in all (about 32 KB of MHD's buffers each at most); the Unix socket is
 * a daemon of its own, so powerctl is answered whatever TCP clients do. */
#define HTTP_TCP_CONNECTIONS  64
#define HTTP_TCP_PER_ADDRESS  8
#define HTTP_UNIX_CONNECTIONS 32
#define HTTP_BACKLOG	      64
/* MHD's idle timeout: a connection silent this long is closed. */
#define HTTP_TIMEOUT_S 10
/* A whole request (line and headers) must arrive within this time of the
 * connection's start: a real client sends it in one packet.  On a kept-alive
 * connection the next request must arrive within the idle timeout plus this
 * of the previous response, so an idle one is left to MHD's timeout and only
 * one that trickles bytes to dodge it is cut. */
#define HTTP_REQUEST_S	    5
#define HTTP_NEXT_REQUEST_S (HTTP_TIMEOUT_S + HTTP_REQUEST_S)
/* A flood must not flood the journal: cut connections are summed up in one
 * line a minute, and MHD's own messages (one per refused or broken
 * connection) are limited to a few a minute, the rest counted. */
#define HTTP_LOG_INTERVAL_S 60
#define HTTP_LOG_BURST	    5
#define HTTP_NS		    1000000000LL
/* The first line about cut connections waits this long, to tell about a
 * whole wave of them rather than its first one. */
#define HTTP_LOG_GATHER_NS (HTTP_NS / 2)

/* One connection, from MHD's STARTED notification to its CLOSED one. */
struct http_conn {
	bool used;
	int fd;
	bool waiting;	     /* for a request's line and headers, until deadline_ns */
	bool cut;	     /* shut down by the watchdog, not yet closed by MHD */
	int64_t deadline_ns; /* CLOCK_MONOTONIC */
};

struct http_listener {
	struct http *h;
	struct MHD_Daemon *d;
	const char *name; /* "tcp", "unix": the metrics' label */
	struct http_conn *conns;
	size_t nconns;
	/* under http.lock */
	uint64_t open;
	uint64_t cut;	       /* since start */
	uint64_t cut_unlogged; /* not yet in a log line */
};

struct http {
	struct http_listener tcp;
	struct http_listener unx;
	status_fill_fn fill;
	http_action_fn action;	   /* NULL: POST is refused */
	_Atomic(struct tap *) tap; /* GET /api/tail on the Unix socket; NULL: 404 */
	void *arg;
	locale_t c_locale;
	int port;
	bool own_socket; /* sock_path is ours to unlink */
	dev_t sock_dev;
	ino_t sock_ino;
	char sock_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];

	/* The connection tables, the counters and the log limits; shared
	 * by the MHD threads (callbacks) and the watchdog. */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	pthread_t watchdog;
	bool watchdog_started;
	bool stopping;
	int64_t cut_logged_ns;	 /* last line about cut connections */
	int64_t cut_first_ns;	 /* first cut not yet logged */
	int64_t mhd_window_ns;	 /* start of the current window for MHD's messages */
	unsigned mhd_lines;	 /* logged in that window */
	uint64_t mhd_suppressed; /* not logged in that window */
};

enum http_doc {
	HTTP_DOC_METRICS,
	HTTP_DOC_STATUS,
	HTTP_DOC_HISTORY,
	HTTP_DOC_PAGE,
	HTTP_DOC_SCRIPT
};

static const struct {
	const char *path;
	enum http_doc doc;
	const char *type;
} http_routes[] = {
	{"/metrics", HTTP_DOC_METRICS, "text/plain; version=0.0.4; charset=utf-8"},
	{"/api/status", HTTP_DOC_STATUS, "application/json"},
	{"/api/history", HTTP_DOC_HISTORY, "application/json"},
	{"/", HTTP_DOC_PAGE, "text/html; charset=utf-8"},
	{"/page.js", HTTP_DOC_SCRIPT, "text/javascript; charset=utf-8"},
};

/* Room for the lines the watchdog or http_stop owe the log. */
struct http_lines {
	char text[3][256];
	int n;
};

/* The line about cut connections, if one is due (now, or whenever there
 * is something to tell if final); otherwise lowers *next to when it will
 * be.  Under h->lock, printed after it is released. */
static void http_cut_lines(struct http *h, int64_t now, bool final, int64_t *next,
			   struct http_lines *out)
{
	struct http_listener *ls[] = {&h->tcp, &h->unx};
	int64_t due = h->cut_logged_ns + HTTP_LOG_INTERVAL_S * HTTP_NS;
	size_t i;

	if (!h->tcp.cut_unlogged && !h->unx.cut_unlogged)
		return;
	if (due < h->cut_first_ns + HTTP_LOG_GATHER_NS)
		due = h->cut_first_ns + HTTP_LOG_GATHER_NS;
	if (!final && now < due) {
		if (due < *next)
			*next = due;
		return;
	}
	for (i = 0; i < 2; i++) {
		if (!ls[i]->cut_unlogged)
			continue;
		snprintf(out->text[out->n++], sizeof(out->text[0]),
			 "http: %s: closed %llu connection(s) that did not send a whole request "
			 "in time (%d s after connecting, %d s after a response); at most one "
			 "such line a minute",
			 ls[i]->name, (unsigned long long)ls[i]->cut_unlogged, HTTP_REQUEST_S,
			 HTTP_NEXT_REQUEST_S);
		ls[i]->cut_unlogged = 0;
	}
	h->cut_logged_ns = now;
}

/* The count of MHD's messages left out, the same way. */
static void http_mhd_lines(struct http *h, int64_t now, bool final, int64_t *next,
			   struct http_lines *out)
{
	int64_t due = h->mhd_window_ns + HTTP_LOG_INTERVAL_S * HTTP_NS;

	if (!h->mhd_suppressed)
		return;
	if (!final && now < due) {
		if (due < *next)
			*next = due;
		return;
	}
	snprintf(out->text[out->n++], sizeof(out->text[0]),
		 "http: %llu more message(s) from libmicrohttpd not logged (at most %d a "
		 "minute are)",
		 (unsigned long long)h->mhd_suppressed, HTTP_LOG_BURST);
	h->mhd_suppressed = 0;
}

static void http_log_due(struct http *h, int64_t now, bool final, int64_t *next,
			 struct http_lines *out)
{
	out->n = 0;
	http_cut_lines(h, now, final, next, out);
	http_mhd_lines(h, now, final, next, out);
}

static void http_log_lines(const struct http_lines *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		log_warn("%s", l->text[i]);
}

/* MHD's messages end in a newline and may quote what a client sent: keep
 * each one on one clean log line.  MHD logs every refused or broken
 * connection, so past HTTP_LOG_BURST a minute they are only counted. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	int64_t now = clock_mono_ns();
	struct http_lines missed = {.n = 0};
	int64_t unused;
	char msg[512];
	size_t n, i;
	bool show;

	pthread_mutex_lock(&h->lock);
	if (now - h->mhd_window_ns >= HTTP_LOG_INTERVAL_S * HTTP_NS) {
		http_mhd_lines(h, now, true, &unused, &missed);
		h->mhd_window_ns = now;
		h->mhd_lines = 0;
	}
	show = h->mhd_lines < HTTP_LOG_BURST;
	if (show)
		h->mhd_lines++;
	else
		h->mhd_suppressed++;
	pthread_mutex_unlock(&h->lock);
	http_log_lines(&missed);
	if (!show)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	log_warn("http: %s", msg);
}

/* Shuts down the connections past their deadline; returns the earliest
 * deadline still ahead, or next.  Under h->lock. */
static int64_t http_cut_overdue(struct http *h, struct http_listener *l, int64_t now, int64_t next)
{
	size_t i;

	for (i = 0; i < l->nconns; i++) {
		struct http_conn *k = &l->conns[i];

		if (!k->used || !k->waiting || k->cut)
			continue;
		if (k->deadline_ns > now) {
			if (k->deadline_ns < next)
				next = k->deadline_ns;
			continue;
		}
		/* MHD sees the stream end and closes the connection itself;
		 * the slot stays taken until it has. */
		shutdown(k->fd, SHUT_RDWR);
		if (!h->tcp.cut_unlogged && !h->unx.cut_unlogged)
			h->cut_first_ns = now;
		k->cut = true;
		l->cut++;
		l->cut_unlogged++;
	}
	return next;
}

static void *http_watchdog_main(void *arg)
{
	struct http *h = arg;
	struct http_lines lines;

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		int64_t now = clock_mono_ns();
		/* A connection that starts while we sleep is due later than
		 * this. */
		int64_t next = now + HTTP_REQUEST_S * HTTP_NS;
		struct timespec until;

		next = http_cut_overdue(h, &h->tcp, now, next);
		next = http_cut_overdue(h, &h->unx, now, next);
		http_log_due(h, now, false, &next, &lines);
		if (lines.n) {
			pthread_mutex_unlock(&h->lock);
			http_log_lines(&lines);
			pthread_mutex_lock(&h->lock);
			continue;
		}
		until.tv_sec = (time_t)(next / HTTP_NS);
		until.tv_nsec = (long)(next % HTTP_NS);
		pthread_cond_timedwait(&h->wake, &h->lock, &until);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection takes a slot in its
 * listener's table, with the deadline for its first request. */
static void http_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
				   enum MHD_ConnectionNotificationCode toe)
{
	struct http_listener *l = cls;
	const union MHD_ConnectionInfo *info = NULL;
	struct http_conn *k = *socket_context;
	size_t i;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	pthread_mutex_lock(&l->h->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		/* The table is as large as MHD's connection limit, and MHD's
		 * one thread sends both notifications, the CLOSED one before it
		 * counts its connection gone: there is always a free slot. */
		for (i = 0; info && i < l->nconns && l->conns[i].used; i++)
			;
		if (info && i < l->nconns) {
			k = &l->conns[i];
			k->used = true;
			k->fd = info->connect_fd;
			k->waiting = true;
			k->cut = false;
			k->deadline_ns = clock_mono_ns() + HTTP_REQUEST_S * HTTP_NS;
			*socket_context = k;
			l->open++;
		}
	} else if (k) {
		/* Before MHD closes the descriptor: from here on the
		 * watchdog cannot touch it. */
		k->used = false;
		*socket_context = NULL;
		l->open--;
	}
	pthread_mutex_unlock(&l->h->lock);
}

static struct http_conn *http_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* A POST's body while it arrives (*con_cls); any other request's *con_cls
 * is &http_seen once it has been seen. */
struct http_post {
	struct buf body;
	bool too_large;
};
static char http_seen;

static void http_post_free(void **con_cls)
{
	struct http_post *p = *con_cls;

	if (p && *con_cls != (void *)&http_seen) {
		buf_free(&p->body);
		free(p);
	}
	*con_cls = NULL;
}

/* MHD_OPTION_NOTIFY_COMPLETED: a response went out; on a kept-alive
 * connection the next request is due. */
static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_listener *l = cls;
	struct http_conn *k = http_conn_of(c);

	(void)toe;
	http_post_free(con_cls);
	if (!k)
		return;
	pthread_mutex_lock(&l->h->lock);
	k->waiting = true;
	k->deadline_ns = clock_mono_ns() + HTTP_NEXT_REQUEST_S * HTTP_NS;
	pthread_mutex_unlock(&l->h->lock);
}

/* The access handler's first call: the request's line and headers are
 * in. */
static void http_request_in(struct http *h, struct MHD_Connection *c)
{
	struct http_conn *k = http_conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&h->lock);
	k->waiting = false;
	pthread_mutex_unlock(&h->lock);
}

/* The listeners' own figures, added to what the fill callback gave. */
static void http_status(struct http *h, struct status *st)
{
	struct http_listener *ls[] = {&h->tcp, &h->unx};
	size_t i;

	st->nhttp = 0;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < 2; i++) {
		struct status_http *sh = &st->http[st->nhttp];

		if (!ls[i]->nconns)
			continue; /* not serving */
		snprintf(sh->listener, sizeof(sh->listener), "%s", ls[i]->name);
		sh->connections = ls[i]->open;
		sh->cut_slow_request = ls[i]->cut;
		st->nhttp++;
	}
	pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result http_queue(struct MHD_Connection *c, unsigned code, const char *type,
				  struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    /* The page's script is /page.js (no inline script), and it
	     * fetches only from here. */
	    MHD_add_response_header(r, "Content-Security-Policy",
				    "default-src 'none'; style-src 'unsafe-inline'; "
				    "script-src 'self'; connect-src 'self'") != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* Fixed bodies only: nothing from the request is ever echoed. */
static enum MHD_Result http_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r && code == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	return http_queue(c, code, "text/plain; charset=utf-8", r);
}

/* GET /api/history[?source=NAME]: *missing for an unknown source. */
static char *http_history(const struct status *st, const char *source, bool *missing)
{
	struct history_snap snap;
	char *text;

	if (history_snapshot(st->history, clock_unix_ns(), &snap))
		return NULL;
	text = history_json(&snap, source, missing);
	history_snap_free(&snap);
	return text;
}

static char *http_render(enum http_doc doc, const struct status *st, const char *source,
			 bool *missing)
{
	struct buf b;
	int r;

	if (doc == HTTP_DOC_STATUS)
		return status_json(st);
	if (doc == HTTP_DOC_HISTORY)
		return http_history(st, source, missing);
	buf_init(&b);
	r = doc == HTTP_DOC_METRICS ? metrics_render(st, &b) : page_render(st, &b);
	if (r) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static enum MHD_Result http_document(struct http *h, struct MHD_Connection *c, size_t route)
{
	const char *source = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "source");
	bool missing = false;
	struct status st;
	locale_t old;
	char *body;
	int r;

	if (http_routes[route].doc == HTTP_DOC_SCRIPT)
		return http_queue(c, MHD_HTTP_OK, http_routes[route].type,
				  MHD_create_response_from_buffer(strlen(page_script),
								  (void *)page_script,
								  MHD_RESPMEM_PERSISTENT));
	memset(&st, 0, sizeof(st));
	r = h->fill(h->arg, &st);
	if (r < 0) {
		status_release(&st);
		log_warn("http: cannot take the status: %s", strerror(-r));
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable\n");
	}
	http_status(h, &st);
	/* Numbers must read the same for every client, whatever locale a
	 * library may have set: render with the C locale on this thread. */
	old = uselocale(h->c_locale);
	body = http_render(http_routes[route].doc, &st, source, &missing);
	uselocale(old);
	status_release(&st);
	if (missing)
		return http_text(c, MHD_HTTP_NOT_FOUND, "no such source\n");
	if (!body)
		return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return http_queue(
		c, MHD_HTTP_OK, http_routes[route].type,
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE));
}

/* A request announcing a body: no endpoint takes one. */
static bool http_has_body(struct MHD_Connection *c)
{
	const char *len =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len && strcmp(len, "0")) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static unsigned http_post_code(int r)
{
	switch (r) {
	case 0:
		return MHD_HTTP_OK;
	case -ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case -EPERM:
		return MHD_HTTP_FORBIDDEN;
	case -EINVAL:
		return MHD_HTTP_BAD_REQUEST;
	case -E2BIG:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case -EBUSY:
		return MHD_HTTP_CONFLICT;
	case -EAGAIN:
		return MHD_HTTP_TOO_MANY_REQUESTS;
	case -ETIMEDOUT:
		return MHD_HTTP_GATEWAY_TIMEOUT;
	default:
		return MHD_HTTP_BAD_GATEWAY;
	}
}

/* POST /api/WHAT on the Unix socket: the body is gathered over the
 * handler's calls, then the action runs with the caller's uid.  Whoever
 * can reach the socket (its mode and group) may ask; what is allowed is
 * the action's business (allow_transmit). */
static enum MHD_Result http_post(struct http *h, struct MHD_Connection *c, const char *url,
				 const char *data, size_t *size, void **con_cls)
{
	const union MHD_ConnectionInfo *di, *fi;
	struct http_post *p = *con_cls;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct buf reply;
	char *text;
	int r;

	if (!p) {
		di = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
		if (!h->action || !di || di->daemon != h->unx.d)
			return http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
		if (strncmp(url, "/api/", 5) || !url[5])
			return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		buf_init(&p->body);
		*con_cls = p;
		return MHD_YES;
	}
	if (*size) {
		if (p->body.len + *size > HTTP_POST_MAX)
			p->too_large = true;
		else if (buf_append(&p->body, data, *size))
			p->too_large = true;
		*size = 0;
		return MHD_YES;
	}
	if (p->too_large)
		return http_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "the request is too large\n");
	fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!fi || getsockopt(fi->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
		return http_text(c, MHD_HTTP_FORBIDDEN, "cannot tell who is asking\n");
	buf_init(&reply);
	r = h->action(h->arg, url + 5, p->body.data ? p->body.data : "", p->body.len,
		      (unsigned)cred.uid, &reply);
	if (!reply.len)
		buf_printf(&reply, "%s\n", r ? strerror(-r) : "ok");
	text = buf_steal(&reply);
	if (!text)
		return MHD_NO;
	return http_queue(
		c, http_post_code(r), "text/plain; charset=utf-8",
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE));
}

/* GET /api/tail?source=NAME&format=json on the Unix socket: a stream of
 * samples (tap.h) until the reader goes away. */
static enum MHD_Result http_tail(struct http *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *di = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
	struct tap *t = atomic_load(&h->tap);
	const char *src = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "source");
	const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	struct MHD_Response *r;
	int e;

	if (!di || di->daemon != h->unx.d)
		return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (!t)
		return http_text(c, MHD_HTTP_CONFLICT,
				 "no samples to tail: powerd makes samples only for its sinks, and "
				 "none is configured ([sink.NAME])\n");
	e = tap_subscribe(t, c, src ? src : "", fmt && !strcmp(fmt, "json"), &r);
	if (e == -ENOENT)
		return http_text(c, MHD_HTTP_NOT_FOUND, "no such source in the configuration\n");
	if (e == -EBUSY)
		return http_text(c, MHD_HTTP_CONFLICT,
				 "too many tails at once (4): stop one and try again\n");
	if (e)
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot start a tail now\n");
	return http_queue(c, MHD_HTTP_OK,
			  fmt && !strcmp(fmt, "json") ? "application/x-ndjson"
						      : "text/plain; charset=utf-8",
			  r);
}

void http_set_tap(struct http *h, struct tap *t)
{
	if (h)
		atomic_store(&h->tap, t);
}

/* GET and HEAD without a body are answered on the second call, once MHD
 * has the whole request: a response queued on the first call, before the
 * body is read, makes MHD close the connection, and scrapers reuse theirs.
 * Anything else is answered at once and the connection closed, so no body
 * is ever read. */
static enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	size_t i;

	(void)version;
	if (!*con_cls)
		http_request_in(cls, c);
	if (!strcmp(method, MHD_HTTP_METHOD_POST))
		return http_post(cls, c, url, upload_data, upload_data_size, con_cls);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!*con_cls && !http_has_body(c)) {
		*con_cls = &http_seen;
		return MHD_YES;
	}
	if (!strcmp(url, "/api/tail"))
		return http_tail(cls, c);
	for (i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++)
		if (!strcmp(url, http_routes[i].path))
			return http_document(cls, c, i);
	return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Hands the listening socket fd to a new MHD daemon, which owns it from
 * then on.  per_address: MHD's limit per client address, 0 for none (it
 * must be 0 on a Unix socket, whose clients have no address). */
static int http_serve(struct http_listener *l, int fd, const char *what, unsigned limit,
		      unsigned per_address)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct stat before, after;
	struct http_conn *conns;
	int err;

	/* powerctl tail's streams sleep while they have nothing to send. */
	if (l == &l->h->unx)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	conns = calloc(limit, sizeof(*conns));
	if (!conns || fstat(fd, &before) < 0) {
		err = conns ? -errno : -ENOMEM;
		free(conns);
		close(fd);
		return err;
	}
	/* The watchdog is already running. */
	pthread_mutex_lock(&l->h->lock);
	l->conns = conns;
	l->nconns = limit;
	pthread_mutex_unlock(&l->h->lock);
	errno = 0;
	/* The logger first, so that MHD's messages about the other options go
	 * through it too. */
	l->d = MHD_start_daemon(
		flags, 0, NULL, NULL, http_handle, l->h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
		l->h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)HTTP_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, l,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, l, MHD_OPTION_END);
	if (l->d)
		return 0;
	err = errno ? -errno : -EIO;
	log_err("http: cannot start the HTTP server on %s: %s", what, strerror(-err));
	/* Whether MHD closes a socket it was given when it fails to start is
	 * not specified: close it only if the descriptor still is that
	 * socket. */
	if (!fstat(fd, &after) && after.st_dev == before.st_dev && after.st_ino == before.st_ino)
		close(fd);
	return err;
}

/* desc: where it listens, for the log ("127.0.0.1:9480"). */
static int http_tcp_socket(const char *listen_addr, int *fdp, int *port, char *desc,
			   size_t desc_size)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why = "";
	int fd, r, one = 1;

	r = netaddr_parse_listen(listen_addr, &ss, &len, &why);
	if (r < 0)
		log_err("http: listen = %s: %s", listen_addr, why);
	if (r)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* SO_REUSEADDR: a restart must not wait for old connections in
	 * TIME_WAIT.  V6ONLY: "[::]:P" means IPv6, the same on every host. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, HTTP_BACKLOG) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		*port = ntohs(a->sin6_port);
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(desc, desc_size, "[%s]:%d", host, *port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		*port = ntohs(a->sin_port);
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(desc, desc_size, "%s:%d", host, *port);
	}
	*fdp = fd;
	return 0;
fail:
	r = -errno;
	log_err("http: cannot listen on %s: %s", listen_addr, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Creates the missing directories above path, 0755 so that powerctl run
 * by another user can reach the socket (the socket's own mode decides who
 * may use it). */
static int http_mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	char *p, *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (p = dir + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (!mkdir(dir, 0755)) {
			if (chmod(dir, 0755) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (end)
			return 0;
		*p = '/';
	}
}

/* The socket file exists: it is stale (left by a powerd that died) only if
 * nothing accepts on it. */
static int http_unix_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat stb;
	int fd, r;

	if (lstat(path, &stb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(stb.st_mode)) {
		log_err("http: %s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 || r == -EAGAIN) {
		log_err("http: %s: another powerd is already serving this socket", path);
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED) {
		log_err("http: cannot check the existing socket %s: %s", path, strerror(-r));
		return r;
	}
	log_info("http: removing stale socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int http_unix_socket(struct http *h, const char *path, int *fdp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	struct stat stb;
	int fd = -1, r;

	if (n >= sizeof(sa.sun_path)) {
		log_err("http: socket path is longer than %zu bytes: %s", sizeof(sa.sun_path) - 1,
			path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, n + 1);
	r = http_mkdir_parents(path);
	if (r) {
		log_err("http: cannot create the directory for %s: %s", path, strerror(-r));
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			goto fail;
		r = http_unix_stale(path, &sa);
		if (r) {
			close(fd);
			return r;
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	/* Bound but not yet listening, so nobody connects before the mode is
	 * right. */
	if (stat(path, &stb) < 0)
		goto fail;
	memcpy(h->sock_path, path, n + 1);
	h->sock_dev = stb.st_dev;
	h->sock_ino = stb.st_ino;
	h->own_socket = true;
	if (chmod(path, 0660) < 0 || listen(fd, HTTP_BACKLOG) < 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	r = -errno;
	log_err("http: cannot listen on %s: %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

int http_start(struct http **out, const char *listen_addr, const char *socket_path,
	       status_fill_fn fill, http_action_fn action, void *arg)
{
	char desc[INET6_ADDRSTRLEN + 16];
	pthread_condattr_t ca;
	struct http *h;
	int fd = -1, r;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fill = fill;
	h->action = action;
	h->arg = arg;
	h->tcp.h = h->unx.h = h;
	h->tcp.name = "tcp";
	h->unx.name = "unix";
	/* So that the first lines are logged at once. */
	h->cut_logged_ns = h->mhd_window_ns = clock_mono_ns() - HTTP_LOG_INTERVAL_S * HTTP_NS;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	h->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (h->c_locale == (locale_t)0) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_create(&h->watchdog, NULL, http_watchdog_main, h);
	if (r)
		goto fail;
	h->watchdog_started = true;
	if (socket_path && *socket_path) {
		r = http_unix_socket(h, socket_path, &fd);
		if (!r)
			r = http_serve(&h->unx, fd, socket_path, HTTP_UNIX_CONNECTIONS, 0);
		if (r)
			goto fail;
		log_info("http: serving on unix:%s", socket_path);
	}
	r = http_tcp_socket(listen_addr, &fd, &h->port, desc, sizeof(desc));
	if (r < 0)
		goto fail;
	if (r == 0) {
		r = http_serve(&h->tcp, fd, listen_addr, HTTP_TCP_CONNECTIONS,
			       HTTP_TCP_PER_ADDRESS);
		if (r)
			goto fail;
		log_info("http: serving on http://%s/", desc);
	}
	*out = h;
	return 0;
fail:
	http_stop(h);
	return r;
}

void http_stop(struct http *h)
{
	struct http_lines lines;
	struct stat stb;
	int64_t next;

	if (!h)
		return;
	if (h->watchdog_started) {
		pthread_mutex_lock(&h->lock);
		h->stopping = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->watchdog, NULL);
	}
	if (h->tcp.d)
		MHD_stop_daemon(h->tcp.d);
	/* MHD will not stop with a stream suspended: the tap wakes them all
	 * and they end. */
	tap_close(atomic_load(&h->tap));
	if (h->unx.d)
		MHD_stop_daemon(h->unx.d);
	/* What the log is still owed: cuts and MHD messages not yet told. */
	next = clock_mono_ns();
	http_log_due(h, next, true, &next, &lines);
	http_log_lines(&lines);
	/* Only our own socket: after a failed start, or if someone replaced
	 * the file, it belongs to someone else. */
	if (h->own_socket && !lstat(h->sock_path, &stb) && stb.st_dev == h->sock_dev &&
	    stb.st_ino == h->sock_ino)
		unlink(h->sock_path);
	if (h->c_locale != (locale_t)0)
		freelocale(h->c_locale);
	free(h->tcp.conns);
	free(h->unx.conns);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int http_port(const struct http *h)
{
	return h ? h->port : 0;
}

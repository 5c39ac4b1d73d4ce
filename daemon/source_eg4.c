/* The EG4 source ([eg4.NAME]): one TCP connection to an EG4 / LuxPower
 * WiFi dongle (tcpconn.h) on the I/O thread's loop, its stream cut into
 * frames (eg4_framer, resynchronising on garbage), each frame parsed
 * (eg4_parse) and every input or holding register reply decoded through a
 * register map (regmap.h) into samples.
 *
 * What is decoded: every valid read reply the dongle sends, whoever asked
 * (ours, another client's, the cloud's, the protocol-5 all-inputs push),
 * as it arrives, into one sample per measurement of the map whose values
 * lie wholly within that frame's registers: a 40-register group gives the
 * fields of its 40 registers, the 127-register push all of them.  No
 * register image is merged across frames, so a field never pairs with
 * another from an older read, and a derived field (p_pv, ...) is there only
 * when every value it needs came in the same frame (lxp-bridge decodes each
 * group on its own too).  Tags: source, and the datalog and inverter serials
 * the frame itself carries.
 *
 * What is sent: with poll > 0, the map's input reads (regmap_plan: 40-register
 * groups, never across one) one at a time, each with a timeout; a reply is
 * ours only when eg4_reply_matches() says so (datalog, function, start), so
 * another client's traffic never completes our request (pylxpweb#329).  A
 * request without its reply is counted (timeout) and the poll goes on; the
 * next poll asks again.  Requests need the dongle's serial: the configured
 * datalog, or the first frame's (polling waits for it); the inverter's
 * serial is the configured one, the first reply's, or zeroes until a reply
 * came (lxp-bridge says requests may work with it zeroed; uncertain), so a
 * dongle that sends nothing but heartbeats is still asked.  With
 * heartbeats = yes each heartbeat is echoed (eg4_build_heartbeat).  Nothing
 * else is ever sent: with poll = 0 and heartbeats = no, nothing at all.
 *
 * Failures: a read error, EOF, or no frame for `watchdog` closes the
 * connection and tcpconn reconnects after its backoff (a good exchange
 * resets it).  Every frame the parser refuses is counted by its reason;
 * unknown TCP functions (197.., and 195/196, the dongle's own settings the
 * cloud reads and writes) are counted and ignored (lxp-bridge#87).  All
 * EG4 sources share one ring into the uploader ("eg4"); a full ring drops
 * and counts (a live source never waits). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "eg4.h"
#include "log.h"
#include "loop.h"
#include "powerd.h"
#include "regmap.h"
#include "sample.h"
#include "source.h"
#include "status.h"
#include "tcpconn.h"
#include "uploader.h"

#define ESRC_RING   (256u << 10) /* bytes: the ring all EG4 sources share */
#define ESRC_QUEUE  8		 /* frames waiting to be sent */
#define ESRC_TX_MAX 64		 /* the longest frame sent: a read request (38) */
#define ESRC_RBUF   4096
#define ESRC_LOG_NS (60 * 1000000000LL)
/* A wrong serial is a configuration matter: said once an hour. */
#define ESRC_MISMATCH_LOG_NS (3600 * 1000000000LL)

struct esrc_group {
	struct uploader_producer *prod;
	bool prod_tried;
	unsigned users;
};

struct esrc_tx {
	uint8_t b[ESRC_TX_MAX];
	size_t n;
	bool heartbeat;
};

struct esrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_eg4 *c;
	struct esrc_group *g;
	struct regmap map;
	uint8_t unit_id; /* the map's (EG4 has no units: all values share one) */
	struct regmap_request *plan;
	size_t nplan;
	char port[8];

	struct tcpconn *conn;
	int fd; /* -1: not connected */
	bool dropping, good;
	int drop_err;
	struct eg4_framer fr;
	struct eg4_framer_stats fr_seen; /* what has been counted as errors */
	struct loop_op rd, wr, timer;
	int64_t timer_at;
	bool timer_cancelled; /* its callback re-arms it */
	uint8_t rbuf[ESRC_RBUF];
	struct esrc_tx q[ESRC_QUEUE];
	unsigned qhead, qlen;
	size_t qoff; /* bytes of q[qhead] sent */

	/* The serials requests carry: configured, or learnt ("" not yet).
	 * Written under powerd.lock (the status reads them). */
	char datalog[EG4_DATALOG_LEN + 1];
	char inverter[EG4_SERIAL_LEN + 1];

	/* polling */
	int64_t poll_at; /* monotonic: the next poll is due; 0: never */
	bool polling, pending;
	size_t next; /* the plan's next request */
	int64_t reply_by;
	struct eg4_msg req; /* the request in flight, parsed back */
	int64_t last_frame_ns;

	struct eg4_msg msg; /* the frame being handled */
	struct sample smp;

	unsigned r_parse[EG4_ERR_N], r_garbage, r_too_short, r_unknown_fn, r_exception, r_timeout;
	unsigned r_watchdog, r_connect, r_disconnected, r_dropped, r_datalog, r_inverter;
	unsigned r_queue, r_bad_sample;
	struct log_rate drop_log, fail_log, bad_log, timeout_log, exc_log, dl_log, inv_log;

	/* Counters for the status (any thread). */
	_Atomic uint64_t frames, bytes, heartbeats, echoed, requests, replies, foreign, pushes;
	_Atomic uint64_t polls, connects;
	_Atomic bool connected;
};

static void esrc_drop(struct esrc *h, int err);
static void esrc_send_next(struct esrc *h);
static void esrc_timer_arm(struct esrc *h);

/* ------------------------------------------------------------ samples */

/* What a rate-limited line stands for: "" for one event. */
static const char *esrc_times(char *buf, size_t len, uint64_t n)
{
	if (n <= 1)
		return "";
	snprintf(buf, len, " (%" PRIu64 " times)", n);
	return buf;
}

/* A serial from a frame as a tag value: printable, whatever came. */
static void esrc_printable(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i] > ' ' && src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
}

static void esrc_publish(struct esrc *h, int64_t ts)
{
	uint64_t n;

	if (!h->g->prod || uploader_offer(h->g->prod, &h->smp) == 0) {
		source_sample(h->s, ts, sample_data(&h->smp),
			      sample_len(&h->smp)); /* no sinks: counted all the same */
		return;
	}
	source_error(h->s, h->r_dropped);
	if (log_rate_event(&h->drop_log, loop_now(), ESRC_LOG_NS, &n))
		log_warn("eg4 %s: the ring into the uploader is full: %" PRIu64 " samples dropped",
			 h->s->name, n);
}

/* A read reply: the map's values within its registers, a sample for each
 * measurement that has some. */
static void esrc_decode(struct esrc *h, const struct eg4_msg *m)
{
	const struct regmap_block b = {
		.unit_id = h->unit_id,
		.table = m->dev_fn == EG4_FN_READ_INPUT ? REGMAP_INPUT : REGMAP_HOLDING,
		.start = m->start,
		.count = m->nvals,
		.regs = m->vals,
	};
	char dl[EG4_DATALOG_LEN + 1], inv[EG4_SERIAL_LEN + 1];
	const struct sample_tag tags[] = {
		{"source", h->s->name}, {"datalog", dl}, {"inverter", inv}};
	int64_t ts = clock_unix_ns();
	size_t mi;
	int r;

	esrc_printable(dl, m->datalog, EG4_DATALOG_LEN);
	esrc_printable(inv, m->serial, EG4_SERIAL_LEN);
	for (mi = 0; mi < h->map.nmeas; mi++) {
		r = regmap_sample(&h->map, mi, tags, sizeof(tags) / sizeof(tags[0]), &b, 1, ts,
				  &h->smp);
		if (!r)
			esrc_publish(h, ts);
		else if (r != -ENODATA)
			source_error(h->s, h->r_bad_sample);
		sample_free(&h->smp);
	}
}

/* ------------------------------------------------------------ sending */

static void esrc_sent_cb(struct loop *l, int res, void *arg);

static void esrc_pump(struct esrc *h)
{
	const struct esrc_tx *t = &h->q[h->qhead];
	int r;

	if (h->fd < 0 || h->dropping || !h->qlen || loop_op_busy(&h->wr))
		return;
	r = loop_send(h->pd->loop, &h->wr, h->fd, t->b + h->qoff, t->n - h->qoff, 0, esrc_sent_cb,
		      h);
	if (r)
		esrc_drop(h, r);
}

static void esrc_drop_finish(struct esrc *h);

static void esrc_sent_cb(struct loop *l, int res, void *arg)
{
	struct esrc *h = arg;
	struct esrc_tx *t = &h->q[h->qhead];

	(void)l;
	if (h->dropping) {
		esrc_drop_finish(h);
		return;
	}
	if (res < 0) {
		source_error(h->s, h->r_disconnected);
		log_warn("eg4 %s: sending to %s:%s: %s", h->s->name, h->c->host, h->port,
			 strerror(-res));
		esrc_drop(h, res);
		return;
	}
	h->qoff += (size_t)res;
	if (h->qoff >= t->n) {
		if (t->heartbeat)
			atomic_fetch_add_explicit(&h->echoed, 1, memory_order_relaxed);
		h->qoff = 0;
		h->qhead = (h->qhead + 1) % ESRC_QUEUE;
		h->qlen--;
	}
	esrc_pump(h);
}

/* Queue one frame; -ENOBUFS (counted) when the queue is full, which only a
 * dongle that stopped reading makes happen. */
static int esrc_queue(struct esrc *h, const uint8_t *f, size_t n, bool heartbeat)
{
	struct esrc_tx *t;

	if (h->fd < 0 || h->dropping)
		return -ENOTCONN;
	if (h->qlen == ESRC_QUEUE || n > ESRC_TX_MAX) {
		source_error(h->s, h->r_queue);
		return -ENOBUFS;
	}
	t = &h->q[(h->qhead + h->qlen) % ESRC_QUEUE];
	memcpy(t->b, f, n);
	t->n = n;
	t->heartbeat = heartbeat;
	h->qlen++;
	esrc_pump(h);
	return 0;
}

/* ------------------------------------------------------------ polling */

static bool esrc_can_poll(const struct esrc *h)
{
	return h->c->poll_ns && h->nplan && h->datalog[0] && h->fd >= 0 && !h->dropping;
}

static void esrc_poll_start(struct esrc *h)
{
	int64_t now = loop_now();

	atomic_fetch_add_explicit(&h->polls, 1, memory_order_relaxed);
	h->polling = true;
	h->next = 0;
	/* On the poll's own schedule; one that fell behind (a slow dongle)
	 * starts from now, never in a burst. */
	h->poll_at += h->c->poll_ns;
	if (h->poll_at <= now)
		h->poll_at = now + h->c->poll_ns;
	esrc_send_next(h);
}

static void esrc_send_next(struct esrc *h)
{
	const struct regmap_request *q;
	uint8_t f[ESRC_TX_MAX];
	enum eg4_err err;
	size_t n;

	if (!h->polling || h->pending || !esrc_can_poll(h))
		return;
	while (h->next < h->nplan) {
		q = &h->plan[h->next++];
		/* Every request of the plan builds (checked at open); one that
		 * finds the queue full is skipped (counted). */
		if (eg4_build_read(h->datalog, h->inverter[0] ? h->inverter : NULL,
				   EG4_FN_READ_INPUT, q->start, q->count, f, sizeof(f), &n) ||
		    eg4_parse(f, n, &h->req, &err) || esrc_queue(h, f, n, false))
			continue;
		atomic_fetch_add_explicit(&h->requests, 1, memory_order_relaxed);
		h->pending = true;
		h->reply_by = loop_now() + h->c->timeout_ns;
		esrc_timer_arm(h);
		return;
	}
	h->polling = false;
	esrc_timer_arm(h);
}

static void esrc_timeout(struct esrc *h)
{
	char t[40];
	uint64_t n;

	h->pending = false;
	source_error(h->s, h->r_timeout);
	if (log_rate_event(&h->timeout_log, loop_now(), ESRC_LOG_NS, &n))
		log_warn("eg4 %s: no reply to reading inputs %u-%u within %.3g s%s; asked again "
			 "at the next poll",
			 h->s->name, h->req.start, h->req.start + h->req.count - 1,
			 (double)h->c->timeout_ns / 1e9, esrc_times(t, sizeof(t), n));
	esrc_send_next(h);
}

/* ------------------------------------------------------------ timer */

/* The earliest of the watchdog, the reply's deadline and the next poll. */
static int64_t esrc_deadline(const struct esrc *h)
{
	int64_t t = INT64_MAX;

	if (h->fd < 0 || h->dropping)
		return t;
	if (h->c->watchdog_ns)
		t = h->last_frame_ns + h->c->watchdog_ns;
	if (h->pending && h->reply_by < t)
		t = h->reply_by;
	if (esrc_can_poll(h) && !h->polling && h->poll_at < t)
		t = h->poll_at;
	return t;
}

static void esrc_timer_cb(struct loop *l, int res, void *arg);

/* One timer for every deadline: armed at the earliest, and cancelled (its
 * callback re-arms) when an earlier one appears. */
static void esrc_timer_arm(struct esrc *h)
{
	int64_t t = esrc_deadline(h);

	if (loop_op_busy(&h->timer)) {
		if (t < h->timer_at && !h->timer_cancelled)
			h->timer_cancelled = !loop_cancel(h->pd->loop, &h->timer);
		return;
	}
	if (t == INT64_MAX || atomic_load(&h->pd->stopping))
		return;
	h->timer_at = t;
	if (loop_timer_at(h->pd->loop, &h->timer, t, esrc_timer_cb, h))
		h->timer_at = INT64_MAX;
}

static void esrc_timer_cb(struct loop *l, int res, void *arg)
{
	struct esrc *h = arg;
	int64_t now = loop_now();

	(void)l;
	(void)res; /* fired or cancelled: the deadlines say what is due */
	h->timer_cancelled = false;
	if (atomic_load(&h->pd->stopping))
		return;
	if (h->fd >= 0 && !h->dropping) {
		if (h->c->watchdog_ns && now >= h->last_frame_ns + h->c->watchdog_ns) {
			source_error(h->s, h->r_watchdog);
			log_warn("eg4 %s: no frame from %s:%s for %.3g s: connecting again",
				 h->s->name, h->c->host, h->port, (double)h->c->watchdog_ns / 1e9);
			esrc_drop(h, -ETIMEDOUT);
		} else {
			if (h->pending && now >= h->reply_by)
				esrc_timeout(h);
			if (esrc_can_poll(h) && !h->polling && now >= h->poll_at)
				esrc_poll_start(h);
		}
	}
	esrc_timer_arm(h);
}

/* ------------------------------------------------------------ frames */

static bool esrc_serial_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* The serials the frame carries against those configured or learnt. */
static void esrc_identity(struct esrc *h, const struct eg4_msg *m)
{
	char seen[EG4_DATALOG_LEN + 1], t[40];
	uint64_t n;

	if (!h->datalog[0] && esrc_serial_ok(m->datalog, EG4_DATALOG_LEN)) {
		pthread_mutex_lock(&h->pd->lock);
		memcpy(h->datalog, m->datalog, EG4_DATALOG_LEN + 1);
		pthread_mutex_unlock(&h->pd->lock);
		log_info("eg4 %s: the dongle's serial (datalog) is %s", h->s->name, h->datalog);
	} else if (h->datalog[0] && memcmp(m->datalog, h->datalog, EG4_DATALOG_LEN)) {
		source_error(h->s, h->r_datalog);
		esrc_printable(seen, m->datalog, EG4_DATALOG_LEN);
		if (log_rate_event(&h->dl_log, loop_now(), ESRC_MISMATCH_LOG_NS, &n))
			log_warn("eg4 %s: a frame from datalog %s, not %s%s: kept, tagged with its "
				 "own",
				 h->s->name, seen, h->datalog, esrc_times(t, sizeof(t), n));
	}
	/* A reply carries the inverter's serial; a request may carry zeroes. */
	if (m->tcp_fn != EG4_TCP_TRANSLATED || m->dev_addr != 1)
		return;
	if (!h->inverter[0] && esrc_serial_ok(m->serial, EG4_SERIAL_LEN)) {
		pthread_mutex_lock(&h->pd->lock);
		memcpy(h->inverter, m->serial, EG4_SERIAL_LEN + 1);
		pthread_mutex_unlock(&h->pd->lock);
		log_info("eg4 %s: the inverter's serial is %s", h->s->name, h->inverter);
	} else if (h->inverter[0] && memcmp(m->serial, h->inverter, EG4_SERIAL_LEN)) {
		source_error(h->s, h->r_inverter);
		esrc_printable(seen, m->serial, EG4_SERIAL_LEN);
		if (log_rate_event(&h->inv_log, loop_now(), ESRC_MISMATCH_LOG_NS, &n))
			log_warn("eg4 %s: a reply from inverter %s, not %s%s: kept, tagged with "
				 "its own",
				 h->s->name, seen, h->inverter, esrc_times(t, sizeof(t), n));
	}
}

static void esrc_translated(struct esrc *h, const struct eg4_msg *m)
{
	bool ours = h->pending && eg4_reply_matches(&h->req, m);
	char t[40];
	uint64_t n;

	if (m->dev_addr != 1)
		return; /* a request: another client's, seen through the dongle */
	atomic_fetch_add_explicit(ours ? &h->replies : &h->foreign, 1, memory_order_relaxed);
	if (ours)
		h->pending = false;
	if (m->exception) {
		if (ours) {
			source_error(h->s, h->r_exception);
			if (log_rate_event(&h->exc_log, loop_now(), ESRC_LOG_NS, &n))
				log_warn("eg4 %s: reading inputs %u-%u: the inverter refused with "
					 "code %u%s",
					 h->s->name, h->req.start, h->req.start + h->req.count - 1,
					 m->exception_code, esrc_times(t, sizeof(t), n));
		}
	} else if ((m->dev_fn == EG4_FN_READ_INPUT || m->dev_fn == EG4_FN_READ_HOLD) && m->nvals) {
		/* No request asks for more than a group: the dongle's own push. */
		if (m->dev_fn == EG4_FN_READ_INPUT && m->nvals > EG4_QUERY_MAX)
			atomic_fetch_add_explicit(&h->pushes, 1, memory_order_relaxed);
		esrc_decode(h, m);
	}
	if (ours)
		esrc_send_next(h);
}

static void esrc_frame_cb(void *ctx, const uint8_t *f, size_t n)
{
	struct esrc *h = ctx;
	struct eg4_msg *m = &h->msg;
	uint8_t echo[EG4_HEARTBEAT_LEN];
	enum eg4_err err;
	char t[40];
	uint64_t k;
	size_t len;

	if (h->fd < 0 || h->dropping)
		return; /* a send failed while this chunk was being cut up */
	atomic_fetch_add_explicit(&h->frames, 1, memory_order_relaxed);
	h->last_frame_ns = loop_now();
	if (eg4_parse(f, n, m, &err)) {
		if (err == EG4_ERR_TCP_FN) {
			source_error(h->s, h->r_unknown_fn);
			return;
		}
		source_error(h->s, h->r_parse[err]);
		if (log_rate_event(&h->bad_log, loop_now(), ESRC_LOG_NS, &k))
			log_warn("eg4 %s: a frame of %zu bytes refused: %s%s", h->s->name, n,
				 eg4_err_name(err), esrc_times(t, sizeof(t), k));
		return;
	}
	if (!h->good) {
		h->good = true;
		tcpconn_ok(h->conn);
	}
	esrc_identity(h, m);
	switch (m->tcp_fn) {
	case EG4_TCP_HEARTBEAT:
		atomic_fetch_add_explicit(&h->heartbeats, 1, memory_order_relaxed);
		if (h->c->heartbeats && !eg4_build_heartbeat(m->datalog, echo, sizeof(echo), &len))
			esrc_queue(h, echo, len, true);
		break;
	case EG4_TCP_TRANSLATED:
		esrc_translated(h, m);
		break;
	default: /* ReadParam, WriteParam: the dongle's own settings */
		source_error(h->s, h->r_unknown_fn);
		break;
	}
}

/* The framer's counters that are source errors. */
static void esrc_count_framer(struct esrc *h)
{
	struct eg4_framer_stats *st = &h->fr.st, *seen = &h->fr_seen;

	if (st->garbage > seen->garbage)
		atomic_fetch_add_explicit(&h->s->errors[h->r_garbage], st->garbage - seen->garbage,
					  memory_order_relaxed);
	if (st->too_long > seen->too_long)
		atomic_fetch_add_explicit(&h->s->errors[h->r_parse[EG4_ERR_TOO_LONG]],
					  st->too_long - seen->too_long, memory_order_relaxed);
	if (st->too_short > seen->too_short)
		atomic_fetch_add_explicit(&h->s->errors[h->r_too_short],
					  st->too_short - seen->too_short, memory_order_relaxed);
	*seen = *st;
}

/* ------------------------------------------------------------ connection */

static void esrc_read_cb(struct loop *l, int res, void *arg);

static void esrc_arm_read(struct esrc *h)
{
	int r = loop_read(h->pd->loop, &h->rd, h->fd, h->rbuf, sizeof(h->rbuf), -1, esrc_read_cb,
			  h);

	if (r)
		esrc_drop(h, r);
}

/* Once neither the read nor a send is in flight on the socket. */
static void esrc_drop_finish(struct esrc *h)
{
	if (!h->dropping || loop_op_busy(&h->rd) || loop_op_busy(&h->wr))
		return;
	h->dropping = false;
	h->fd = -1;
	h->qhead = h->qlen = 0;
	h->qoff = 0;
	h->pending = h->polling = false;
	atomic_store(&h->connected, false);
	tcpconn_drop(h->conn, h->drop_err);
}

/* Close the connection (tcpconn connects again after its backoff). */
static void esrc_drop(struct esrc *h, int err)
{
	if (h->fd < 0 || h->dropping)
		return;
	h->dropping = true;
	h->drop_err = err;
	source_set_state(h->s, SOURCE_CONNECTING, "%s:%s: %s (connecting again)", h->c->host,
			 h->port, err == -ETIMEDOUT ? "no data" : strerror(-err));
	if (loop_op_busy(&h->rd))
		loop_cancel(h->pd->loop, &h->rd);
	if (loop_op_busy(&h->wr))
		loop_cancel(h->pd->loop, &h->wr);
	esrc_drop_finish(h);
}

static void esrc_read_cb(struct loop *l, int res, void *arg)
{
	struct esrc *h = arg;

	(void)l;
	if (h->dropping) {
		esrc_drop_finish(h);
		return;
	}
	if (res <= 0) {
		source_error(h->s, h->r_disconnected);
		log_warn("eg4 %s: %s:%s %s", h->s->name, h->c->host, h->port,
			 res ? strerror(-res) : "closed the connection");
		esrc_drop(h, res ? res : -ECONNRESET);
		return;
	}
	atomic_fetch_add_explicit(&h->bytes, (uint64_t)res, memory_order_relaxed);
	eg4_framer_feed(&h->fr, h->rbuf, (size_t)res, esrc_frame_cb, h);
	esrc_count_framer(h);
	if (h->fd < 0 || h->dropping)
		return;
	esrc_arm_read(h);
	esrc_timer_arm(h);
}

static void esrc_up(void *arg, int fd)
{
	struct esrc *h = arg;

	h->fd = fd;
	h->good = false;
	eg4_framer_init(&h->fr);
	memset(&h->fr_seen, 0, sizeof(h->fr_seen));
	h->last_frame_ns = loop_now();
	h->poll_at = h->c->poll_ns ? h->last_frame_ns : 0; /* the first poll right away */
	atomic_fetch_add_explicit(&h->connects, 1, memory_order_relaxed);
	atomic_store(&h->connected, true);
	log_info("eg4 %s: connected to %s:%s", h->s->name, h->c->host, h->port);
	source_set_state(h->s, SOURCE_OK, "connected to %s:%s", h->c->host, h->port);
	esrc_arm_read(h);
	esrc_timer_arm(h);
}

static void esrc_fail(void *arg, int err, const char *why)
{
	struct esrc *h = arg;
	char t[40];
	uint64_t n;

	source_error(h->s, h->r_connect);
	if (log_rate_event(&h->fail_log, loop_now(), ESRC_LOG_NS, &n))
		log_warn("eg4 %s: %s%s; retrying", h->s->name, why && *why ? why : strerror(-err),
			 esrc_times(t, sizeof(t), n));
	source_set_state(h->s, SOURCE_CONNECTING, "%s (retrying)",
			 why && *why ? why : strerror(-err));
}

/* ------------------------------------------------------------ source ops */

static int esrc_load_map(struct esrc *h)
{
	const struct cfg_eg4 *c = h->c;
	char path[PATH_MAX], err[256];
	uint8_t f[ESRC_TX_MAX];
	size_t i, n;
	int r;

	r = regmap_path(POWERD_DATADIR, c->map, path, sizeof(path));
	if (!r)
		r = regmap_load_file(path, &h->map, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "map = %.200s: not a NAME or a path", c->map);
	if (r) {
		log_err("eg4 %s: %s", h->s->name, err);
		return r;
	}
	for (i = 0; i < h->map.n; i++) {
		if (h->map.v[i].unit_id != h->map.v[0].unit_id) {
			log_err("eg4 %s: %s:%u: unit_id: the dongle has no units, a map for it "
				"one unit_id only",
				h->s->name, path, h->map.v[i].line);
			return -EINVAL;
		}
	}
	h->unit_id = h->map.n ? h->map.v[0].unit_id : REGMAP_DEFAULT_UNIT_ID;
	h->plan = calloc(regmap_plan_max(&h->map), sizeof(*h->plan));
	if (!h->plan)
		return -ENOMEM;
	r = regmap_plan(&h->map, REGMAP_INPUT, -1, h->plan, regmap_plan_max(&h->map), &h->nplan);
	if (r) {
		log_err("eg4 %s: planning the reads of %s: %s", h->s->name, path, strerror(-r));
		return r;
	}
	for (i = 0; i < h->nplan; i++)
		if (eg4_build_read("0000000000", NULL, EG4_FN_READ_INPUT, h->plan[i].start,
				   h->plan[i].count, f, sizeof(f), &n)) {
			log_err("eg4 %s: %s: the read of inputs %u-%u is not one the dongle "
				"answers (max_registers = 40 and boundary = 40 keep reads within "
				"its groups)",
				h->s->name, path, h->plan[i].start,
				h->plan[i].start + h->plan[i].count - 1);
			return -EINVAL;
		}
	if (c->poll_ns && !h->nplan)
		log_warn("eg4 %s: %s has no input registers: nothing to poll", h->s->name, path);
	return 0;
}

static int esrc_open(struct source *s)
{
	const struct cfg_eg4 *c = s->conf;
	struct esrc *h = calloc(1, sizeof(*h));
	struct tcpconn_params p = {
		.host = c->host,
		.connect_timeout_ns = c->connect_timeout_ns,
		.backoff_min_ns = c->backoff_min_ns,
		.backoff_max_ns = c->backoff_max_ns,
		.keepalive_idle_ns = c->keepalive_ns,
	};
	int i, r;

	if (!h)
		return -ENOMEM;
	h->s = s;
	h->pd = s->pd;
	h->c = c;
	h->fd = -1;
	h->timer_at = INT64_MAX;
	s->priv = h;
	snprintf(h->port, sizeof(h->port), "%u", c->port);
	p.port = h->port;
	snprintf(h->datalog, sizeof(h->datalog), "%s", c->datalog);
	snprintf(h->inverter, sizeof(h->inverter), "%s", c->inverter);
	h->r_garbage = source_reason(s, "garbage");
	h->r_too_short = source_reason(s, "too_short");
	for (i = 1; i < EG4_ERR_N; i++)
		h->r_parse[i] =
			source_reason(s, i == EG4_ERR_TCP_FN ? "unknown_function"
							     : eg4_err_name((enum eg4_err)i));
	h->r_unknown_fn = h->r_parse[EG4_ERR_TCP_FN];
	h->r_exception = source_reason(s, "exception");
	h->r_timeout = source_reason(s, "timeout");
	h->r_watchdog = source_reason(s, "watchdog");
	h->r_connect = source_reason(s, "connect");
	h->r_disconnected = source_reason(s, "disconnected");
	h->r_datalog = source_reason(s, "datalog_mismatch");
	h->r_inverter = source_reason(s, "inverter_mismatch");
	h->r_queue = source_reason(s, "send_queue_full");
	h->r_bad_sample = source_reason(s, "bad_sample");
	h->r_dropped = source_reason(s, "dropped");
	r = esrc_load_map(h);
	if (r)
		return r;
	r = tcpconn_new(h->pd, &p, esrc_up, esrc_fail, h, &h->conn);
	if (r) {
		log_err("eg4 %s: %s", s->name, strerror(-r));
		return r;
	}
	source_set_state(s, SOURCE_CONNECTING, "connecting to %s:%s", c->host, h->port);
	return 0;
}

static int esrc_group_join(struct esrc *h)
{
	struct esrc_group *g = h->pd->eg4_group;
	int r;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		h->pd->eg4_group = g;
	}
	g->users++;
	h->g = g;
	if (!g->prod_tried) {
		g->prod_tried = true;
		r = uploader_producer(h->pd->uploader, "eg4", ESRC_RING, &g->prod);
		if (r)
			log_err("eg4: no ring into the uploader: %s; EG4 frames are counted, "
				"their samples dropped",
				strerror(-r));
	}
	return 0;
}

static void esrc_start(struct source *s)
{
	struct esrc *h = s->priv;

	if (esrc_group_join(h)) {
		source_set_state(s, SOURCE_ERROR, "out of memory");
		return;
	}
	tcpconn_connect(h->conn);
}

/* After loop_drain(): nothing of it is in flight. */
static void esrc_stop(struct source *s)
{
	struct esrc *h = s->priv;

	if (!h)
		return;
	if (h->conn)
		tcpconn_free(h->conn);
	if (h->g && --h->g->users == 0) {
		free(h->g);
		h->pd->eg4_group = NULL;
	}
	regmap_free(&h->map);
	free(h->plan);
	s->priv = NULL;
	free(h);
}

static void esrc_status(struct source *s, struct status_source *out)
{
	struct esrc *h = s->priv;
	struct status_eg4 *o = &out->eg4;

	if (!h)
		return;
	o->present = true;
	snprintf(o->host, sizeof(o->host), "%s", h->c->host);
	o->port = h->c->port;
	snprintf(o->datalog, sizeof(o->datalog), "%s", h->datalog);
	snprintf(o->inverter, sizeof(o->inverter), "%s", h->inverter);
	o->connected = atomic_load(&h->connected);
	o->connects = atomic_load(&h->connects);
	o->bytes = atomic_load(&h->bytes);
	o->frames = atomic_load(&h->frames);
	o->heartbeats = atomic_load(&h->heartbeats);
	o->heartbeats_echoed = atomic_load(&h->echoed);
	o->polls = atomic_load(&h->polls);
	o->requests = atomic_load(&h->requests);
	o->replies = atomic_load(&h->replies);
	o->foreign = atomic_load(&h->foreign);
	o->pushes = atomic_load(&h->pushes);
}

const struct source_ops source_eg4_ops = {
	.kind = "eg4",
	.open = esrc_open,
	.start = esrc_start,
	.stop = esrc_stop,
	.status = esrc_status,
};

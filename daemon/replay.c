/* A meter fed from a trace file instead of a GPIO line, through exactly the
 * same ring, filter and converter.
 *
 * The file is read in chunks by the I/O thread's io_uring (no blocking read
 * on the loop).  Trace times are mapped onto CLOCK_MONOTONIC:
 *   speed = 1: the first edge happens now, the rest at their trace spacing,
 *              paced with loop timers; with loop = yes the trace repeats,
 *              each pass shifted by its length plus its first interval.
 *   speed = 0: as fast as the ring drains, mapped so that the trace ends at
 *              the moment the replay started (no future timestamps).
 * A replay never drops an edge: a full ring makes it wait a millisecond. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "powerd.h"
#include "trace.h"

#define REPLAY_BACKOFF_NS 1000000LL
#define REPLAY_LOG_MAX	  10

struct replay {
	struct meter *m;
	int fd;
	char *buf;
	size_t len, pos;
	int64_t file_off;
	bool eof;
	unsigned long lineno;
	unsigned pass;

	bool have_pending;
	struct trace_edge pending;
	int64_t last_ts;
	int have_last;

	bool mapped;
	int64_t offset;	   /* monotonic = trace time + offset */
	int64_t trace_end; /* speed 0: the last edge time (pre-scanned) */
	int64_t first_ts, second_ts;
	unsigned nseen;

	struct loop_op op;
	char desc[PATH_MAX + 64];
};

static void replay_pump(struct replay *rp);

static void replay_state(struct replay *rp, const char *state)
{
	struct powerd *pd = rp->m->pd;

	pthread_mutex_lock(&pd->lock);
	snprintf(rp->m->pub.state, sizeof(rp->m->pub.state), "%s", state);
	pthread_mutex_unlock(&pd->lock);
}

static void replay_bad(struct replay *rp, const char *why)
{
	uint64_t n = atomic_fetch_add(&rp->m->input_errors, 1) + 1;

	if (n <= REPLAY_LOG_MAX)
		log_warn("meter %s: %s:%lu: %s%s", rp->m->cfg->name, rp->m->cfg->replay, rp->lineno,
			 why, n == REPLAY_LOG_MAX ? " (further bad lines are only counted)" : "");
}

int replay_open(struct meter *m, struct replay **out)
{
	const struct cfg_pulse *c = m->cfg;
	struct trace_reader tr;
	struct trace_edge e;
	struct replay *rp;
	FILE *f;
	int r;

	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->m = m;
	rp->fd = open(c->replay, O_RDONLY | O_CLOEXEC);
	rp->buf = calloc(1, REPLAY_BUF_SIZE);
	if (rp->fd < 0 || !rp->buf) {
		r = rp->fd < 0 ? -errno : -ENOMEM;
		log_err("meter %s: cannot open replay file %s: %s", c->name, c->replay,
			strerror(-r));
		replay_close(rp);
		return r;
	}
	if (c->speed == 0) {
		/* Before the loop starts (this runs on the supervisor): find
		 * the end of the trace, to which "now" is mapped. */
		f = fdopen(dup(rp->fd), "re");
		if (!f) {
			r = -errno;
			replay_close(rp);
			return r;
		}
		trace_reader_init(&tr, f, c->replay, NULL);
		while ((r = trace_reader_next(&tr, &e)) > 0)
			rp->trace_end = e.ts_ns;
		trace_reader_free(&tr);
		fclose(f);
		if (r < 0) {
			log_err("meter %s: reading %s: %s", c->name, c->replay, strerror(-r));
			replay_close(rp);
			return r;
		}
	}
	snprintf(rp->desc, sizeof(rp->desc), "replay %s (speed %g%s)", c->replay, c->speed,
		 c->loop ? ", looping" : "");
	*out = rp;
	return 0;
}

void replay_close(struct replay *rp)
{
	if (!rp)
		return;
	if (rp->fd >= 0)
		close(rp->fd);
	free(rp->buf);
	free(rp);
}

static void replay_read_cb(struct loop *l, int res, void *arg)
{
	struct replay *rp = arg;

	(void)l;
	if (res == -ECANCELED || atomic_load(&rp->m->pd->stopping))
		return;
	if (res < 0) {
		char state[128];

		log_err("meter %s: reading %s: %s", rp->m->cfg->name, rp->m->cfg->replay,
			strerror(-res));
		snprintf(state, sizeof(state), "error: read failed (%s)", strerror(-res));
		atomic_fetch_add(&rp->m->input_errors, 1);
		replay_state(rp, state);
		return;
	}
	if (res == 0)
		rp->eof = true;
	rp->len += (size_t)res;
	rp->file_off += res;
	replay_pump(rp);
}

static void replay_timer_cb(struct loop *l, int res, void *arg)
{
	struct replay *rp = arg;

	(void)l;
	if (res == -ECANCELED || atomic_load(&rp->m->pd->stopping))
		return;
	replay_pump(rp);
}

/* Next edge from the buffer into rp->pending.  Returns 1 when one is ready,
 * 0 when the buffer needs more data (a read was queued), -1 at end of pass. */
static int replay_next(struct replay *rp)
{
	struct trace_edge e;
	const char *why;
	char *nl;
	size_t n;
	int k;

	for (;;) {
		nl = memchr(rp->buf + rp->pos, '\n', rp->len - rp->pos);
		if (!nl && !rp->eof) {
			if (rp->pos == 0 && rp->len == REPLAY_BUF_SIZE) {
				/* A line longer than the buffer: skip it whole. */
				replay_bad(rp, "line too long");
				rp->len = 0;
				continue;
			}
			memmove(rp->buf, rp->buf + rp->pos, rp->len - rp->pos);
			rp->len -= rp->pos;
			rp->pos = 0;
			if (loop_read(rp->m->pd->loop, &rp->op, rp->fd, rp->buf + rp->len,
				      REPLAY_BUF_SIZE - rp->len, rp->file_off, replay_read_cb, rp))
				replay_state(rp, "error: cannot queue a read");
			return 0;
		}
		if (rp->pos == rp->len)
			return -1;
		n = nl ? (size_t)(nl - (rp->buf + rp->pos)) : rp->len - rp->pos;
		rp->lineno++;
		k = trace_parse_line(rp->buf + rp->pos, n, &e, &why);
		rp->pos += nl ? n + 1 : n;
		if (k == 0)
			continue;
		if (k < 0) {
			replay_bad(rp, why);
			continue;
		}
		if (trace_check_order(&rp->last_ts, &rp->have_last, e.ts_ns)) {
			replay_bad(rp, "time goes backwards; edge skipped");
			continue;
		}
		if (rp->nseen < 2)
			rp->nseen == 0 ? (rp->first_ts = e.ts_ns) : (rp->second_ts = e.ts_ns);
		rp->nseen++;
		rp->pending = e;
		rp->have_pending = true;
		return 1;
	}
}

/* End of one pass: start over (loop = yes) or finish. */
static bool replay_rewind(struct replay *rp)
{
	int64_t period;

	if (!rp->m->cfg->loop || rp->nseen == 0) {
		replay_state(rp, rp->nseen ? "replay finished" : "replay finished (no edges)");
		log_info("meter %s: replay of %s finished (%lu lines)", rp->m->cfg->name,
			 rp->m->cfg->replay, rp->lineno);
		return false;
	}
	period = rp->last_ts - rp->first_ts +
		 (rp->nseen > 1 ? rp->second_ts - rp->first_ts : 1000000000LL);
	rp->offset += period;
	rp->pass++;
	rp->len = rp->pos = 0;
	rp->file_off = 0;
	rp->eof = false;
	rp->have_last = 0;
	rp->nseen = 0;
	rp->lineno = 0;
	return true;
}

/* Everything before the next unread edge has been pushed; at the end of the
 * replay, everything has. */
static void replay_watermark(struct replay *rp, bool finished)
{
	int64_t w;

	if (finished)
		w = INT64_MAX;
	else if (rp->have_pending && rp->mapped)
		w = rp->pending.ts_ns + rp->offset - 1;
	else if (rp->have_last && rp->mapped)
		w = rp->last_ts + rp->offset;
	else
		return;
	atomic_store_explicit(&rp->m->watermark, w, memory_order_release);
}

static void replay_pump(struct replay *rp)
{
	struct powerd *pd = rp->m->pd;
	bool finished = false;
	const double speed = rp->m->cfg->speed;
	unsigned pushed = 0;
	int64_t now = loop_now();
	int k;

	for (;;) {
		if (!rp->have_pending) {
			k = replay_next(rp);
			if (k == 0)
				break; /* a read is queued */
			if (k < 0) {
				if (replay_rewind(rp))
					continue;
				finished = true;
				break;
			}
		}
		if (!rp->mapped) {
			rp->offset = speed == 0 ? now - rp->trace_end : now - rp->pending.ts_ns;
			rp->mapped = true;
		}
		if (speed > 0 && rp->pending.ts_ns + rp->offset > now) {
			loop_timer_at(pd->loop, &rp->op, rp->pending.ts_ns + rp->offset,
				      replay_timer_cb, rp);
			break;
		}
		if (ring_full(&pd->edges)) {
			loop_timer_at(pd->loop, &rp->op, now + REPLAY_BACKOFF_NS, replay_timer_cb,
				      rp);
			break;
		}
		struct edge_item e = {.ts_ns = rp->pending.ts_ns + rp->offset,
				      .meter = rp->m->index,
				      .level = (uint32_t)rp->pending.level};
		ring_push(&pd->edges, &e);
		rp->have_pending = false;
		pushed++;
	}
	replay_watermark(rp, finished);
	if (pushed || finished)
		io_notify_meter(pd);
}

void replay_start(struct meter *m)
{
	struct replay *rp = m->src.replay;

	pthread_mutex_lock(&m->pd->lock);
	snprintf(m->pub.input, sizeof(m->pub.input), "%s", rp->desc);
	snprintf(m->pub.state, sizeof(m->pub.state), "replaying");
	pthread_mutex_unlock(&m->pd->lock);
	replay_pump(rp);
}

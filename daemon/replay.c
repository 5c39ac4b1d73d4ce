/* The replay source: a meter fed from a trace file instead of a GPIO line,
 * through exactly the same ring, filter and converter.
 *
 * The file is read in chunks by the I/O thread's io_uring (no blocking read
 * on the loop) and split into lines by trace.c's trace_split, the parser
 * pulselog uses too.  Trace times are mapped onto CLOCK_MONOTONIC:
 *   speed = 1: the first edge happens now, the rest at their trace spacing,
 *              paced with loop timers; with loop = yes the trace repeats,
 *              each pass shifted by its length plus its first interval.
 *   speed = 0: as fast as the ring drains, mapped so that the trace ends at
 *              the moment the replay started (no future timestamps).
 * Trace times are below 2^62 ns (trace.h), and so is the clock, so the
 * mapping fits in int64; it is computed with overflow checks all the same,
 * because loop passes keep adding to the offset.
 * A replay never drops an edge: a full ring makes it wait a millisecond.
 * Only regular files are replayed: a FIFO cannot be pre-scanned for its end
 * or read again for the next pass. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "powerd.h"
#include "source.h"
#include "trace.h"

#define REPLAY_BACKOFF_NS 1000000LL
#define REPLAY_LOG_MAX	  10

struct replay {
	struct source *s;
	struct meter *m;
	unsigned r_bad, r_read;
	int fd;
	char *buf;     /* the chunk being read or parsed */
	const char *p; /* its unparsed rest */
	size_t n;
	int64_t file_off;
	bool eof;
	unsigned pass;
	struct trace_split split;

	bool have_pending;
	struct trace_edge pending;
	int64_t pending_mono; /* its mapped time, once mapped */

	bool mapped;
	int64_t offset;	   /* monotonic = trace time + offset */
	int64_t trace_end; /* speed 0: the last edge time (pre-scanned) */
	int64_t first_ts, second_ts;
	unsigned nseen;

	struct loop_op op;
	char desc[PATH_MAX + 64];
};

static void replay_pump(struct replay *rp);

static void replay_close(struct replay *rp);

static void replay_bad(struct replay *rp, const char *why)
{
	uint64_t n = atomic_fetch_add(&rp->m->input_errors, 1) + 1;

	source_error(rp->s, rp->r_bad);
	if (n <= REPLAY_LOG_MAX)
		log_warn("meter %s: %s:%lu: %s%s", rp->m->cfg->name, rp->m->cfg->replay,
			 rp->split.lineno, why,
			 n == REPLAY_LOG_MAX ? " (further bad lines are only counted)" : "");
}

/* speed = 0 maps "now" onto the last edge, so that must be known before the
 * first one is pushed.  This runs on the supervisor before the loop starts,
 * so plain blocking reads of the (regular) file are fine; the splitter is the
 * replay's own, so it finds the very edge the replay will end on. */
static int replay_prescan(struct replay *rp)
{
	struct trace_edge e;
	const char *p, *why;
	int64_t off = 0;
	ssize_t got;
	size_t n;
	int k;

	trace_split_init(&rp->split);
	for (;;) {
		got = pread(rp->fd, rp->buf, REPLAY_BUF_SIZE, off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += got;
		p = rp->buf;
		n = (size_t)got;
		while ((k = trace_split_next(&rp->split, &p, &n, got == 0, &e, &why)) != 0)
			if (k > 0)
				rp->trace_end = e.ts_ns;
		if (got == 0)
			break;
	}
	trace_split_init(&rp->split);
	return 0;
}

/* On the supervisor: a replay file that cannot be used fails the start with a
 * clear error, as a configuration mistake does. */
static int replay_open(struct source *s)
{
	struct meter *m = &s->pd->meters[s->index];
	const struct cfg_pulse *c = m->cfg;
	struct replay *rp;
	struct stat st;
	int r;

	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->s = s;
	rp->m = m;
	rp->r_bad = source_reason(s, "bad_line");
	rp->r_read = source_reason(s, "read");
	trace_split_init(&rp->split);
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer, before
	 * the signalfd is read, so neither start-up nor SIGTERM could go on.
	 * On the regular files replayed it changes nothing. */
	rp->fd = open(c->replay, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	r = rp->fd < 0 || fstat(rp->fd, &st) < 0 ? -errno : 0;
	if (!r) {
		/* Zeroed: Valgrind does not see io_uring fill it. */
		rp->buf = calloc(1, REPLAY_BUF_SIZE);
		r = rp->buf ? 0 : -ENOMEM;
	}
	if (r) {
		log_err("meter %s: cannot open replay file %s: %s", c->name, c->replay,
			strerror(-r));
		replay_close(rp);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("meter %s: replay file %s is %s: powerd replays regular files only",
			c->name, c->replay, check_kind(st.st_mode));
		replay_close(rp);
		return -EINVAL;
	}
	if (c->speed == 0) {
		r = replay_prescan(rp);
		if (r < 0) {
			log_err("meter %s: reading %s: %s", c->name, c->replay, strerror(-r));
			replay_close(rp);
			return r;
		}
	}
	rp->p = rp->buf;
	snprintf(rp->desc, sizeof(rp->desc), "replay %s (speed %g%s)", c->replay, c->speed,
		 c->loop ? ", looping" : "");
	s->priv = rp;
	return 0;
}

static void replay_close(struct replay *rp)
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
		log_err("meter %s: reading %s: %s", rp->m->cfg->name, rp->m->cfg->replay,
			strerror(-res));
		atomic_fetch_add(&rp->m->input_errors, 1);
		source_error(rp->s, rp->r_read);
		source_set_state(rp->s, SOURCE_ERROR, "read failed (%s)", strerror(-res));
		return;
	}
	rp->p = rp->buf;
	rp->n = (size_t)res;
	rp->eof = res == 0;
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

/* Wait until `at` (the next edge's time, or a moment for a full ring). */
static void replay_wait(struct replay *rp, int64_t at)
{
	int r = loop_timer_at(rp->m->pd->loop, &rp->op, at, replay_timer_cb, rp);

	if (r) {
		/* Without a timer the replay cannot go on: say so. */
		log_err("meter %s: replay of %s stopped: cannot queue a timer: %s",
			rp->m->cfg->name, rp->m->cfg->replay, strerror(-r));
		source_set_state(rp->s, SOURCE_ERROR, "stopped: cannot queue a timer (%s)",
				 strerror(-r));
	}
}

/* Next edge from the buffer into rp->pending.  Returns 1 when one is ready,
 * 0 when the buffer needs more data (a read was queued), -1 at end of pass. */
static int replay_next(struct replay *rp)
{
	struct trace_edge e;
	const char *why;
	int k;

	for (;;) {
		k = trace_split_next(&rp->split, &rp->p, &rp->n, rp->eof, &e, &why);
		if (k > 0)
			break;
		if (k < 0) {
			replay_bad(rp, why);
			continue;
		}
		if (rp->eof)
			return -1;
		/* The chunk is used up (a partial line is kept by the
		 * splitter): the buffer is free for the next one. */
		k = loop_read(rp->m->pd->loop, &rp->op, rp->fd, rp->buf, REPLAY_BUF_SIZE,
			      rp->file_off, replay_read_cb, rp);
		if (k) {
			source_error(rp->s, rp->r_read);
			source_set_state(rp->s, SOURCE_ERROR, "cannot queue a read (%s)",
					 strerror(-k));
		}
		return 0;
	}
	if (rp->nseen < 2)
		rp->nseen == 0 ? (rp->first_ts = e.ts_ns) : (rp->second_ts = e.ts_ns);
	rp->nseen++;
	rp->pending = e;
	rp->have_pending = true;
	return 1;
}

/* End of one pass: start over (loop = yes) or finish.  A pass is shifted by
 * the trace's length plus its first interval; once the next pass's last edge
 * would not fit in the clock's int64, looping stops there. */
static bool replay_rewind(struct replay *rp)
{
	const struct cfg_pulse *c = rp->m->cfg;
	int64_t period, offset, end;

	if (!c->loop || rp->nseen == 0) {
		source_set_state(rp->s, SOURCE_IDLE, "%s",
				 rp->nseen ? "replay finished" : "replay finished (no edges)");
		log_info("meter %s: replay of %s finished (%lu lines)", c->name, c->replay,
			 rp->split.lineno);
		return false;
	}
	if (__builtin_add_overflow(rp->split.last_ts - rp->first_ts,
				   rp->nseen > 1 ? rp->second_ts - rp->first_ts : 1000000000LL,
				   &period) ||
	    __builtin_add_overflow(rp->offset, period, &offset) ||
	    __builtin_add_overflow(rp->split.last_ts, offset, &end)) {
		source_set_state(rp->s, SOURCE_IDLE,
				 "replay finished (the next pass is beyond the clock's range)");
		log_warn("meter %s: replay of %s: not looping after pass %u: the next pass would "
			 "end beyond the clock's range",
			 c->name, c->replay, rp->pass + 1);
		return false;
	}
	rp->offset = offset;
	rp->pass++;
	rp->p = rp->buf;
	rp->n = 0;
	rp->file_off = 0;
	rp->eof = false;
	rp->nseen = 0;
	trace_split_init(&rp->split);
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
		w = rp->pending_mono - 1;
	else if (rp->split.have_last && rp->mapped)
		w = rp->split.last_ts + rp->offset;
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
			/* Both terms are in [0, 2^62): no overflow. */
			rp->offset = now - (speed == 0 ? rp->trace_end : rp->pending.ts_ns);
			rp->mapped = true;
		}
		if (__builtin_add_overflow(rp->pending.ts_ns, rp->offset, &rp->pending_mono)) {
			/* Only a file rewritten between loop passes can get here. */
			replay_bad(rp,
				   "time beyond the clock's range at this pass; replay stopped");
			source_set_state(rp->s, SOURCE_ERROR,
					 "replay stopped (a time beyond the clock's range)");
			rp->have_pending = false;
			finished = true;
			break;
		}
		if (speed > 0 && rp->pending_mono > now) {
			replay_wait(rp, rp->pending_mono);
			break;
		}
		if (ring_full(&pd->edges)) {
			replay_wait(rp, now + REPLAY_BACKOFF_NS);
			break;
		}
		struct edge_item e = {.ts_ns = rp->pending_mono,
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

static void replay_start(struct source *s)
{
	struct replay *rp = s->priv;

	meter_set_input(rp->m, rp->desc);
	/* At speed 0 it works through stored data as fast as it can. */
	source_set_state(s, rp->m->cfg->speed == 0 ? SOURCE_BACKLOG : SOURCE_OK, "replaying");
	replay_pump(rp);
}

static void replay_stop(struct source *s)
{
	replay_close(s->priv);
	s->priv = NULL;
}

const struct source_ops source_replay_ops = {
	.kind = "pulse",
	.open = replay_open,
	.start = replay_start,
	.stop = replay_stop,
};

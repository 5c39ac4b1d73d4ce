/* The uploader thread.  One turn of its loop:
 *
 *   1. take every sample from the ring; per sink, filter (change detection)
 *      and pack it into the sink's open batch;
 *   2. a batch that is full or older than flush_interval becomes one spool
 *      record (so from here on it survives kill -9 and power cuts);
 *   3. a sink with nothing in flight and no backoff pending loads the next
 *      records from its spool (at most batch_size samples) and sends them, in
 *      chunks of what one request may carry;
 *   4. curl's multi handle moves every HTTP request forward at once;
 *   5. finished requests acknowledge the spool, or back off, or bisect;
 *   6. sleep in curl_multi_poll() until the next deadline or a wake-up.
 *
 * Memory is bounded by batch_size per sink, never by the backlog: batches
 * are kept packed, and only one request's worth is unpacked at a time. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "change.h"
#include "clock.h"
#include "log.h"
#include "sink.h"
#include "spool.h"
#include "uploader.h"

#define UPLOADER_RING		 1024
#define UPLOADER_TICK_MS	 1000
#define UPLOADER_PUBLISH_WAIT_NS (1000 * 1000000LL)

struct range {
	uint32_t lo, hi;
};

/* The uploader's side of a sink. */
struct usink {
	struct sink s;
	struct spool *spool;
	struct sink_change *change;
	/* the open batch, packed */
	struct buf pend;
	size_t npending;
	int64_t pend_since_mono;
	int64_t pend_first_ts;
	/* the records loaded from the spool, until all are acknowledged */
	struct sample *inflight;
	size_t ninflight;
	uint64_t inflight_end;	 /* spool position after them */
	size_t loaded;		 /* samples in the loaded records (ninflight when loaded) */
	uint64_t held_dropped;	 /* of those, deleted from the spool by its cap */
	int64_t loaded_first_ts; /* timestamp of the oldest loaded sample */
	struct range *ranges;	 /* still to send, top = next; bisection pushes */
	size_t nranges, cap_ranges;
	bool sending; /* a request is in flight */
	unsigned attempts;
	int64_t retry_at_mono;
	uint64_t spool_corrupt_seen;
};

/* What readers see, copied under the lock once per turn. */
struct usink_pub {
	struct sink_stats st;
	struct spool_stats sp;
	unsigned attempts;
	int64_t retry_in_ns;
	size_t npending;
};

struct uploader {
	const struct config *cfg;
	struct ring samples;
	CURLM *multi;
	struct usink *sinks;
	size_t nsinks;
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	uint64_t rng;
	pthread_mutex_t lock;
	struct usink_pub *pub;
};

int64_t uploader_backoff_ns(int64_t base_ns, int64_t cap_ns, unsigned attempt, double r)
{
	double ceiling = (double)base_ns * ldexp(1.0, attempt > 0 ? (int)attempt - 1 : 0);

	if (attempt > 62 || ceiling > (double)cap_ns)
		ceiling = (double)cap_ns;
	return (int64_t)(ceiling * r);
}

/* xorshift64*: jitter needs spread, not secrecy. */
static double up_random(struct uploader *u)
{
	u->rng ^= u->rng >> 12;
	u->rng ^= u->rng << 25;
	u->rng ^= u->rng >> 27;
	return (double)((u->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static const struct sink_ops *up_ops(enum cfg_sink_type t)
{
	switch (t) {
	case CFG_SINK_INFLUXDB:
		return &sink_influxdb_ops;
	case CFG_SINK_FILE:
		return &sink_file_ops;
	case CFG_SINK_MQTT:
		return &sink_mqtt_ops;
	case CFG_SINK_CLOUDWATCH:
		return &sink_cloudwatch_ops;
	}
	return NULL;
}

/* ------------------------------------------------------------ batching */

static void usink_flush(struct usink *us)
{
	int r;

	if (!us->npending)
		return;
	r = spool_append(us->spool, us->pend.data, us->pend.len);
	if (r) {
		/* Keep the batch in memory and try again next turn; past ten
		 * batches the disk is not coming back soon: drop and say so. */
		sink_set_error(&us->s, "spool append failed: %s", strerror(-r));
		if (us->npending < 10 * (size_t)us->s.cfg->batch_size)
			return;
		log_err("sink %s: spool unwritable (%s); dropping %zu samples", us->s.cfg->name,
			strerror(-r), us->npending);
		us->s.st.dropped_spool += us->npending;
	}
	us->pend.len = 0;
	us->npending = 0;
}

static void usink_accept(struct usink *us, const struct sample *smp, int64_t now_mono,
			 int64_t now_unix)
{
	unsigned char packed[SAMPLE_PACK_MAX];
	size_t n;

	if (us->change && !change_filter(us->change, smp, now_unix)) {
		us->s.st.unchanged_skipped++;
		return;
	}
	n = sample_pack(smp, packed);
	if (buf_append(&us->pend, packed, n)) {
		us->s.st.dropped_encode++;
		us->pend.err = 0;
		return;
	}
	if (us->npending++ == 0) {
		us->pend_since_mono = now_mono;
		us->pend_first_ts = smp->ts_ns;
	}
	us->s.st.accepted++;
	if (us->npending >= us->s.cfg->batch_size)
		usink_flush(us);
}

/* ------------------------------------------------------------ sending */

static int usink_push_range(struct usink *us, uint32_t lo, uint32_t hi)
{
	if (us->nranges == us->cap_ranges) {
		size_t cap = us->cap_ranges ? us->cap_ranges * 2 : 16;
		struct range *r = realloc(us->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		us->ranges = r;
		us->cap_ranges = cap;
	}
	us->ranges[us->nranges].lo = lo;
	us->ranges[us->nranges].hi = hi;
	us->nranges++;
	return 0;
}

/* Read whole records from the acknowledged position into us->inflight: up
 * to `limit` samples' worth (a first load), or up to the spool position
 * `until` (a reload of what a failed attempt released). */
static int usink_read(struct usink *us, size_t limit, uint64_t until)
{
	uint64_t pos = spool_ack_pos(us->spool);
	size_t cap = 0;
	const void *data;
	size_t len;
	int r = 0;

	while ((limit ? us->ninflight < limit : pos < until) &&
	       (r = spool_read(us->spool, &pos, &data, &len)) > 0) {
		const unsigned char *p = data, *end = p + len;

		while (p < end) {
			if (us->ninflight == cap) {
				struct sample *v;

				cap = cap ? cap * 2 : 64;
				v = realloc(us->inflight, cap * sizeof(*v));
				if (!v)
					return -ENOMEM;
				us->inflight = v;
			}
			r = sample_unpack(p, (size_t)(end - p), &us->inflight[us->ninflight]);
			if (r <= 0) {
				/* The CRC held but the content does not parse:
				 * the rest of this record is lost, counted once. */
				if (limit)
					us->s.st.dropped_corrupt++;
				break;
			}
			p += r;
			us->ninflight++;
		}
		if (limit)
			us->inflight_end = pos;
	}
	if (r < 0)
		return r;
	return limit || pos == until ? 0 : -ESTALE;
}

/* Load the next records and cut them into chunks of what one request may
 * carry, first chunk on top of the range stack. */
static int usink_load(struct usink *us)
{
	size_t per, i, nchunks;
	int r = usink_read(us, us->s.cfg->batch_size, 0);

	if (r)
		return r;
	if (!us->ninflight) {
		/* Only unusable records: acknowledge them away. */
		if (us->inflight_end > spool_ack_pos(us->spool))
			spool_ack(us->spool, us->inflight_end);
		return 0;
	}
	us->loaded = us->ninflight;
	us->loaded_first_ts = us->inflight[0].ts_ns;
	per = us->s.cfg->batch_size;
	if (us->s.ops->max_batch && us->s.ops->max_batch < per)
		per = us->s.ops->max_batch;
	nchunks = (us->ninflight + per - 1) / per;
	for (i = nchunks; i-- > 0;) {
		size_t lo = i * per, hi = lo + per < us->ninflight ? lo + per : us->ninflight;

		if (usink_push_range(us, (uint32_t)lo, (uint32_t)hi))
			return -ENOMEM;
	}
	return 0;
}

/* After a failed attempt the unpacked samples are released (the spool has
 * them), so a sink that is down for hours holds no batch in memory; before
 * the next attempt they are read back.  If the spool's cap deleted some of
 * them meanwhile (and counted them), the chunks no longer match: start over
 * from what is left. */
static int usink_reload(struct usink *us)
{
	int r = usink_read(us, 0, us->inflight_end);

	if (r == 0 && us->ninflight == us->loaded)
		return 0;
	free(us->inflight);
	us->inflight = NULL;
	us->ninflight = 0;
	us->nranges = 0;
	return r == -ESTALE || r == 0 ? usink_load(us) : r;
}

/* The memory of the loaded samples goes back to the system (a retry reads
 * them from the spool again); the chunks still to send are kept. */
static void usink_park_inflight(struct usink *us)
{
	/* What the cap deleted while it was loaded is gone with the memory. */
	us->s.st.dropped_spool += us->held_dropped;
	us->held_dropped = 0;
	free(us->inflight);
	us->inflight = NULL;
	us->ninflight = 0;
}

static void usink_release_inflight(struct usink *us)
{
	us->held_dropped = 0; /* delivered after all */
	/* Freed, not kept: after draining a backlog the memory goes back. */
	free(us->inflight);
	us->inflight = NULL;
	us->ninflight = 0;
	us->nranges = 0;
}

static void usink_send_next(struct usink *us)
{
	struct range *top;
	int r;

	if (us->nranges == 0) {
		usink_release_inflight(us);
		r = usink_load(us);
	} else if (!us->inflight) {
		r = usink_reload(us);
	} else {
		r = 0;
	}
	if (r) {
		sink_set_error(&us->s, "reading the spool: %s", strerror(-r));
		return;
	}
	if (us->nranges == 0)
		return;
	top = &us->ranges[us->nranges - 1];
	us->s.verdict_ready = false;
	us->sending = true;
	us->s.st.requests++;
	r = us->s.ops->send(&us->s, us->inflight + top->lo, top->hi - top->lo);
	if (r && !us->s.verdict_ready)
		sink_complete(&us->s, SINK_RETRY, strerror(-r));
}

static void usink_verdict(struct uploader *u, struct usink *us, int64_t now)
{
	struct range top = us->ranges[us->nranges - 1];
	uint32_t n = top.hi - top.lo, mid;
	int64_t delay;

	us->sending = false;
	us->s.verdict_ready = false;
	switch (us->s.verdict) {
	case SINK_OK:
		us->nranges--;
		us->s.st.sent += n;
		if (us->attempts)
			log_info("sink %s: delivering again after %u failed attempts",
				 us->s.cfg->name, us->attempts);
		us->attempts = 0;
		if (us->nranges == 0) {
			spool_ack(us->spool, us->inflight_end);
			usink_release_inflight(us);
		}
		break;
	case SINK_RETRY:
		us->attempts++;
		us->s.st.retried += n;
		delay = uploader_backoff_ns(us->s.cfg->retry_base_ns, us->s.cfg->retry_max_ns,
					    us->attempts, up_random(u));
		us->retry_at_mono = now + delay;
		usink_park_inflight(us);
		/* The first failure and then every tenth: a dead server for a
		 * day must not fill the journal. */
		if (us->attempts == 1 || us->attempts % 10 == 0)
			log_warn("sink %s: %s; retry %u in %.1f s", us->s.cfg->name,
				 us->s.verdict_msg, us->attempts, (double)delay / 1e9);
		break;
	case SINK_REJECT:
		us->nranges--;
		us->attempts = 0;
		if (n == 1) {
			us->s.st.dropped_rejected++;
			log_warn("sink %s: the server refused a sample (dropped): %s",
				 us->s.cfg->name, us->s.verdict_msg);
		} else {
			/* Bisect: the good points still land, the poison one is
			 * isolated in log2(n) rounds. */
			mid = top.lo + n / 2;
			if (usink_push_range(us, mid, top.hi) ||
			    usink_push_range(us, top.lo, mid)) {
				us->s.st.dropped_rejected += n;
				log_err("sink %s: out of memory bisecting a refused batch; %u "
					"dropped",
					us->s.cfg->name, n);
			}
		}
		if (us->nranges == 0) {
			spool_ack(us->spool, us->inflight_end);
			usink_release_inflight(us);
		}
		break;
	}
}

/* ------------------------------------------------------------ the thread */

static void uploader_take(struct uploader *u, int64_t now_mono)
{
	int64_t now_unix = clock_unix_ns();
	struct sample smp;
	size_t i;

	while (ring_pop(&u->samples, &smp) == 0)
		for (i = 0; i < u->nsinks; i++)
			usink_accept(&u->sinks[i], &smp, now_mono, now_unix);
}

static void uploader_curl(struct uploader *u)
{
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(u->multi, &running);
	while ((msg = curl_multi_info_read(u->multi, &left))) {
		struct sink *s = NULL;
		long code = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (s && s->ops->done)
			s->ops->done(s, msg->easy_handle, msg->data.result, code);
	}
}

static void uploader_publish_stats(struct uploader *u, int64_t now)
{
	size_t i;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];
		struct usink_pub *p = &u->pub[i];

		p->st = us->s.st;
		spool_stats(us->spool, &p->sp);
		p->attempts = us->attempts;
		p->retry_in_ns =
			us->attempts && us->retry_at_mono > now ? us->retry_at_mono - now : 0;
		p->npending = us->npending;
		if (us->nranges)
			p->st.oldest_unsent_unix_ns = us->loaded_first_ts;
		else if (us->npending)
			p->st.oldest_unsent_unix_ns = us->pend_first_ts;
		else
			p->st.oldest_unsent_unix_ns = 0;
	}
	pthread_mutex_unlock(&u->lock);
}

static void uploader_turn(struct uploader *u, bool final)
{
	int64_t now = clock_mono_ns();
	size_t i;

	uploader_take(u, now);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];
		struct spool_stats sp;

		if (us->npending &&
		    (final || now - us->pend_since_mono >= us->s.cfg->flush_interval_ns))
			usink_flush(us);
		spool_stats(us->spool, &sp);
		/* Corrupt records cannot say how many samples they held:
		 * they are counted as records (the cap's drops are counted in
		 * samples by usink_dropped). */
		us->s.st.dropped_corrupt += sp.corrupt_skipped - us->spool_corrupt_seen;
		us->spool_corrupt_seen = sp.corrupt_skipped;
		if (final)
			continue;
		if (!us->sending && now >= us->retry_at_mono)
			usink_send_next(us);
		if (us->sending && us->s.ops->poll)
			us->s.ops->poll(&us->s);
		spool_tick(us->spool, now);
	}
	if (final)
		return;
	uploader_curl(u);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];

		/* Drain a backlog without waiting for the next wake-up. */
		while (us->sending && us->s.verdict_ready) {
			usink_verdict(u, us, now);
			if (us->sending || now < us->retry_at_mono)
				break;
			usink_send_next(us);
			if (us->sending && !us->s.verdict_ready)
				break;
		}
	}
	uploader_publish_stats(u, now);
}

static int uploader_wait_ms(struct uploader *u)
{
	int64_t now = clock_mono_ns(), wait = (int64_t)UPLOADER_TICK_MS * 1000000LL;
	size_t i;

	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];
		int64_t d;

		if (us->npending) {
			d = us->pend_since_mono + us->s.cfg->flush_interval_ns - now;
			if (d < wait)
				wait = d;
		}
		if (!us->sending && (us->nranges || us->attempts)) {
			d = us->retry_at_mono - now;
			if (d < wait)
				wait = d;
		}
		if (us->sending && us->s.ops->poll && wait > 20000000LL)
			wait = 20000000LL; /* non-curl sinks are polled */
	}
	if (wait < 0)
		wait = 0;
	return (int)((wait + 999999) / 1000000);
}

static void *uploader_main(void *arg)
{
	struct uploader *u = arg;

	while (!atomic_load(&u->stop)) {
		uploader_turn(u, false);
		curl_multi_poll(u->multi, NULL, 0, uploader_wait_ms(u), NULL);
	}
	/* Everything accepted so far goes to disk: nothing is lost by a
	 * clean stop; what was in flight is re-sent at the next start. */
	uploader_turn(u, true);
	return NULL;
}

/* ------------------------------------------------------------ life cycle */

void uploader_publish(struct uploader *u, const struct sample *s)
{
	int64_t give_up = 0;
	bool was_empty;

	if (!u)
		return;
	/* The meter thread may wait for room (it is not the I/O thread, and
	 * the edge ring holds tens of seconds of edges meanwhile), so a burst
	 * such as a replay at full speed loses nothing; if the uploader is
	 * stuck for a second, the sample is dropped and counted. */
	while (ring_full(&u->samples)) {
		if (!give_up)
			give_up = clock_mono_ns() + UPLOADER_PUBLISH_WAIT_NS;
		else if (clock_mono_ns() > give_up)
			break;
		curl_multi_wakeup(u->multi);
		usleep(200);
	}
	/* Wake the uploader only for the first sample after it emptied the
	 * ring: a sample pushed just as it goes to sleep waits at most for
	 * its next tick (<= 1 s), and a flood costs no syscall per sample. */
	was_empty = ring_count(&u->samples) == 0;
	ring_push(&u->samples, s);
	if (was_empty)
		curl_multi_wakeup(u->multi);
}

/* The spool cap deletes a record: count the samples it held, unless the
 * record is already loaded for sending (then it is still delivered). */
static void usink_dropped(void *arg, uint64_t pos, const void *data, size_t len)
{
	struct usink *us = arg;
	const unsigned char *p = data, *end = p + len;
	struct sample smp;
	int r;
	/* Loaded, so still delivered if the attempt succeeds; remembered in
	 * case it fails and the memory is released (usink_park_inflight). */
	uint64_t *tally = us->ninflight && pos < us->inflight_end ? &us->held_dropped
								  : &us->s.st.dropped_spool;

	while (p < end && (r = sample_unpack(p, (size_t)(end - p), &smp)) > 0) {
		p += r;
		(*tally)++;
	}
}

static int usink_open(struct uploader *u, struct usink *us, const struct cfg_sink *c)
{
	struct spool_opts so = {0};
	char dir[PATH_MAX];
	int r;

	us->s.cfg = c;
	us->s.ops = up_ops(c->type);
	us->s.multi = u->multi;
	buf_init(&us->pend);
	if (snprintf(dir, sizeof(dir), "%s/spool/%s", u->cfg->daemon.state_dir, c->name) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	so.dir = dir;
	so.max_bytes = c->spool_max;
	/* The cap works by whole segments: keep them an eighth of it, so a
	 * full spool drops about that much of its oldest data at a time. */
	so.segment_bytes = c->spool_max / 8 < (4u << 20) ? c->spool_max / 8 : (4u << 20);
	if (so.segment_bytes < 4096)
		so.segment_bytes = 4096;
	so.fsync = c->spool_fsync == CFG_FSYNC_BATCH	  ? SPOOL_FSYNC_BATCH
		   : c->spool_fsync == CFG_FSYNC_INTERVAL ? SPOOL_FSYNC_INTERVAL
							  : SPOOL_FSYNC_NEVER;
	so.fsync_interval_ns = 1000000000LL;
	so.on_drop = usink_dropped;
	so.drop_arg = us;
	r = spool_open(&so, &us->spool);
	if (r) {
		log_err("sink %s: cannot open its spool %s: %s", c->name, dir, strerror(-r));
		return r;
	}
	if (c->change_detection) {
		r = change_new(&us->change, c->heartbeat_ns, c->freshness_ns);
		if (r)
			return r;
	}
	r = us->s.ops->open(&us->s);
	if (r) {
		log_err("sink %s: cannot start: %s", c->name,
			us->s.st.last_error[0] ? us->s.st.last_error : strerror(-r));
		return r;
	}
	{
		struct spool_stats sp;

		spool_stats(us->spool, &sp);
		if (sp.unacked_bytes)
			log_info("sink %s: %" PRIu64 " bytes from the spool to send first", c->name,
				 sp.unacked_bytes);
	}
	return 0;
}

static void usink_close(struct usink *us)
{
	if (us->s.ops && us->s.ops->close)
		us->s.ops->close(&us->s);
	if (us->spool)
		spool_close(us->spool);
	change_free(us->change);
	buf_free(&us->pend);
	free(us->inflight);
	free(us->ranges);
	memset(us, 0, sizeof(*us));
}

int uploader_start(struct uploader **out, const struct config *cfg)
{
	struct uploader *u;
	size_t i;
	int r;

	*out = NULL;
	if (!cfg->nsinks)
		return 0;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->rng = (uint64_t)clock_unix_ns() | 1;
	pthread_mutex_init(&u->lock, NULL);
	r = ring_init(&u->samples, sizeof(struct sample), UPLOADER_RING);
	u->multi = curl_multi_init();
	u->sinks = calloc(cfg->nsinks, sizeof(*u->sinks));
	u->pub = calloc(cfg->nsinks, sizeof(*u->pub));
	if (r || !u->multi || !u->sinks || !u->pub) {
		r = r ? r : -ENOMEM;
		goto fail;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		r = usink_open(u, &u->sinks[i], &cfg->sinks[i]);
		u->nsinks = i + 1;
		if (r)
			goto fail;
	}
	r = -pthread_create(&u->thread, NULL, uploader_main, u);
	if (r)
		goto fail;
	u->started = true;
	*out = u;
	return 0;
fail:
	uploader_stop(u);
	return r;
}

void uploader_stop(struct uploader *u)
{
	size_t i;

	if (!u)
		return;
	if (u->started) {
		atomic_store(&u->stop, true);
		curl_multi_wakeup(u->multi);
		pthread_join(u->thread, NULL);
	}
	for (i = 0; i < u->nsinks; i++)
		usink_close(&u->sinks[i]);
	if (u->multi)
		curl_multi_cleanup(u->multi);
	ring_free(&u->samples);
	pthread_mutex_destroy(&u->lock);
	free(u->sinks);
	free(u->pub);
	free(u);
}

static void uploader_sink_state(const struct usink_pub *p, struct status_sink *ss)
{
	if (p->attempts)
		snprintf(ss->state, sizeof(ss->state), "failing: %u attempts, next in %.0f s",
			 p->attempts, (double)p->retry_in_ns / 1e9);
	else if (p->sp.unacked_bytes)
		snprintf(ss->state, sizeof(ss->state), "sending backlog");
	else
		snprintf(ss->state, sizeof(ss->state), "ok");
}

int uploader_status(struct uploader *u, struct status *st)
{
	int64_t now = clock_unix_ns();
	size_t i;

	st->nsinks = 0;
	if (!u)
		return 0;
	st->sinks = calloc(u->nsinks, sizeof(*st->sinks));
	if (!st->sinks)
		return -ENOMEM;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->nsinks; i++) {
		const struct usink_pub *p = &u->pub[i];
		struct status_sink *ss = &st->sinks[i];
		const struct cfg_sink *c = u->sinks[i].s.cfg;

		snprintf(ss->name, sizeof(ss->name), "%s", c->name);
		snprintf(ss->type, sizeof(ss->type), "%s", u->sinks[i].s.ops->type);
		ss->accepted = p->st.accepted;
		ss->sent = p->st.sent;
		ss->retried = p->st.retried;
		ss->dropped_rejected = p->st.dropped_rejected;
		ss->dropped_spool = p->st.dropped_spool;
		ss->dropped_corrupt = p->st.dropped_corrupt;
		ss->dropped_too_old = p->st.dropped_too_old;
		ss->dropped_encode = p->st.dropped_encode;
		ss->unchanged_skipped = p->st.unchanged_skipped;
		ss->requests = p->st.requests;
		ss->spool_bytes = p->sp.bytes;
		ss->spool_unsent_bytes = p->sp.unacked_bytes;
		ss->pending = p->npending;
		ss->oldest_unsent_age_s =
			p->st.oldest_unsent_unix_ns
				? (double)(now - p->st.oldest_unsent_unix_ns) / 1e9
				: 0;
		snprintf(ss->last_error, sizeof(ss->last_error), "%s", p->st.last_error);
		ss->last_error_unix_s = (double)p->st.last_error_unix_ns / 1e9;
		ss->last_ok_unix_s = (double)p->st.last_ok_unix_ns / 1e9;
		uploader_sink_state(p, ss);
	}
	pthread_mutex_unlock(&u->lock);
	st->nsinks = u->nsinks;
	snprintf(st->rings[st->nrings].name, sizeof(st->rings[0].name), "samples");
	st->rings[st->nrings].capacity = ring_capacity(&u->samples);
	st->rings[st->nrings].used = ring_count(&u->samples);
	st->rings[st->nrings].dropped = ring_dropped(&u->samples);
	st->nrings++;
	return 0;
}

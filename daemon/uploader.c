/* The uploader thread.  One turn of its loop:
 *
 *   1. take the samples from every producer's ring; per sink, filter them
 *      (change detection) and append them, packed as they came, to the
 *      sink's open batch;
 *   2. a batch that is full or older than flush_interval becomes one spool
 *      record (so from here on it survives kill -9 and power cuts);
 *   3. a sink with nothing in flight and no backoff pending loads the next
 *      records from its spool (at most batch_size samples) and sends them, in
 *      chunks of what one request may carry;
 *   4. curl's multi handle moves every HTTP request forward at once;
 *   5. finished requests acknowledge the spool, or back off, or bisect;
 *   6. sleep in curl_multi_poll() until the next deadline or a wake-up.
 *
 * Memory is bounded by batch_size per sink, never by the backlog: samples
 * stay packed from the producer to the sink's encoder, and only one load
 * (at most batch_size samples) is read back from the spool at a time.
 *
 * When the spool cannot be written (a full disk, a spool directory that
 * cannot be opened), batches wait in memory, packed, up to memory_max, and
 * the sink sends them from there once the spool holds nothing older; the
 * spool is retried with the same backoff as a failing server, and logged
 * once per change of state.  Beyond memory_max the oldest batches are
 * dropped and counted (reason spool_error); so is whatever is still in
 * memory at shutdown when the spool still cannot take it.  Every sample
 * given up is counted by reason and logged. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "change.h"
#include "clock.h"
#include "log.h"
#include "recring.h"
#include "sink.h"
#include "spool.h"
#include "tap.h"
#include "uploader.h"
#include "wakeup.h"

#define UPLOADER_TAKE_MAX 4096 /* samples from one producer per turn */
/* What one turn spends taking samples, and each sink sending: a sink whose
 * requests complete at once (file) must not keep the uploader from the
 * rings, nor the rings from the sinks, for longer. */
#define UPLOADER_SLICE_NS     (20 * 1000000LL)
#define UPLOADER_TICK_MS      1000
#define UPLOADER_LOG_PERIOD   (60 * 1000000000LL)
#define UPLOADER_SEGMENT_MAX  (4u << 20)
#define UPLOADER_SEGMENT_MIN  4096u
#define UPLOADER_MQTT_POLL_NS (20 * 1000000LL)
/* What a spool record holds: packed samples, version 2 (sample.c).  Version
 * 1 (powerd 0.1.0's packing, also in its format-1 spools) is still read. */
#define UPLOADER_PAYLOAD    2
#define UPLOADER_PAYLOAD_V1 1

struct range {
	uint32_t lo, hi;
};

/* Per producer, the sequence number of a batch's first sample from it (0:
 * none).  Samples of one producer reach a sink in order, so while a batch
 * is in memory, none of that producer's samples from there on is durable. */
typedef uint64_t usink_firsts[UPLOADER_PRODUCERS_MAX];

/* A packed batch that could not be written to the spool. */
struct held {
	struct buf b;
	uint32_t n;	  /* samples in it */
	int64_t first_ts; /* of its oldest sample */
	usink_firsts first;
};

/* The uploader's side of a sink. */
struct usink {
	struct sink s;
	struct spool *spool; /* NULL while it cannot be opened */
	struct sink_change *change;
	/* the open batch, packed */
	struct buf pend;
	size_t npending;
	int64_t pend_since_mono;
	int64_t pend_first_ts;
	usink_firsts pend_first;
	/* batches waiting in memory for the spool, oldest first */
	struct held *held;
	size_t nheld, cap_held, held_bytes;
	uint64_t held_samples;
	/* the spool's trouble: 0 or the negative errno of the last failure */
	int spool_err;
	unsigned spool_attempts;
	int64_t spool_retry_at;
	uint64_t spool_dropped_run; /* dropped for it since the trouble began */
	/* the records loaded for sending, until all are acknowledged */
	struct sample_list inflight;
	struct sample v1;	 /* reads version-1 samples */
	bool from_memory;	 /* they are held[0], not spool records */
	uint64_t inflight_end;	 /* spool position after them */
	size_t loaded;		 /* samples in the loaded records (inflight.n when loaded) */
	uint64_t held_dropped;	 /* of those, deleted from the spool by its cap */
	int64_t loaded_first_ts; /* timestamp of the oldest loaded sample */
	struct range *ranges;	 /* still to send, top = next; bisection pushes */
	size_t nranges, cap_ranges;
	bool sending; /* a request is in flight */
	unsigned attempts;
	int64_t retry_at_mono;
	struct spool_stats sp_seen; /* spool damage already counted */
	struct log_rate reject_log, retry_log, encode_log;
	uint64_t encode_seen; /* dropped_encode already reported */
	char reject_msg[256];
};

/* What readers see, copied under the lock once per turn. */
struct usink_pub {
	struct sink_stats st;
	struct spool_stats sp;
	unsigned attempts;
	int64_t retry_in_ns;
	size_t npending;
	uint64_t held;
	int spool_err;
	int64_t spool_retry_in_ns;
};

/* A producing thread's ring: it pushes, the uploader thread pops.  The
 * counters sit on lines of their own: `published` is written by the
 * producer at every push, `durable` and `taken` by the uploader. */
struct uploader_producer {
	struct recring ring;
	struct uploader *u;
	char name[32];
	alignas(RECRING_CACHELINE) _Atomic uint64_t published;
	alignas(RECRING_CACHELINE) _Atomic uint64_t durable;
	uint64_t taken; /* uploader thread: samples popped, the last one's sequence number */
};

struct uploader {
	const struct config *cfg;
	/* Registered at any time by any thread, one at a time under
	 * prod_lock; the slot is filled before the count is raised, so the
	 * uploader thread reads the count and then the slots without a lock. */
	struct uploader_producer *prod[UPLOADER_PRODUCERS_MAX];
	_Atomic size_t nprod;
	pthread_mutex_t prod_lock;
	bool need_view;		   /* some sink reads fields on the way in (change detection) */
	_Atomic(struct tap *) tap; /* powerctl tail's (tap.h), or NULL */
	CURLM *multi;
	struct usink *sinks;
	size_t nsinks;
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	size_t take_from;   /* the producer taken from first, in turn */
	bool more;	    /* a turn left work for the next: no sleep */
	struct wakeup wake; /* the producer wakes the uploader (wakeup.h) */
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

double uploader_jitter(uint64_t *rng)
{
	*rng ^= *rng >> 12;
	*rng ^= *rng << 25;
	*rng ^= *rng >> 27;
	return (double)((*rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double up_random(struct uploader *u)
{
	return uploader_jitter(&u->rng);
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

/* ------------------------------------------------------------ the spool */

static void usink_dropped(void *arg, uint64_t pos, const struct spool_rec *rec);

static int usink_spool_open(struct uploader *u, struct usink *us)
{
	const struct cfg_sink *c = us->s.cfg;
	struct spool_opts so = {0};
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s/spool/%s", u->cfg->daemon.state_dir, c->name) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	so.dir = dir;
	so.max_bytes = c->spool_max;
	/* The cap works by whole segments: keep them an eighth of it, so a
	 * full spool drops about that much of its oldest data at a time. */
	so.segment_bytes =
		c->spool_max / 8 < UPLOADER_SEGMENT_MAX ? c->spool_max / 8 : UPLOADER_SEGMENT_MAX;
	if (so.segment_bytes < UPLOADER_SEGMENT_MIN)
		so.segment_bytes = UPLOADER_SEGMENT_MIN;
	so.fsync = c->spool_fsync == CFG_FSYNC_BATCH	  ? SPOOL_FSYNC_BATCH
		   : c->spool_fsync == CFG_FSYNC_INTERVAL ? SPOOL_FSYNC_INTERVAL
							  : SPOOL_FSYNC_NEVER;
	so.fsync_interval_ns = 1000000000LL;
	so.on_drop = usink_dropped;
	so.drop_arg = us;
	so.payload = UPLOADER_PAYLOAD;
	return spool_open(&so, &us->spool);
}

static void usink_spool_failed(struct uploader *u, struct usink *us, int err, int64_t now)
{
	int64_t delay;

	us->spool_attempts++;
	delay = uploader_backoff_ns(us->s.cfg->retry_base_ns, us->s.cfg->retry_max_ns,
				    us->spool_attempts, up_random(u));
	us->spool_retry_at = now + delay;
	/* Once per change of state, not per attempt. */
	if (err != us->spool_err)
		log_err("sink %s: %s its spool: %s; batches wait in memory (up to %" PRIu64
			" bytes) and are sent from there; retrying with backoff",
			us->s.cfg->name, us->spool ? "cannot write to" : "cannot open",
			strerror(-err), us->s.cfg->memory_max);
	us->spool_err = err;
}

static void usink_spool_ok(struct usink *us, uint64_t written)
{
	if (!us->spool_err)
		return;
	log_info("sink %s: its spool works again after %u failed attempts; %" PRIu64
		 " samples from memory written to it, %" PRIu64 " dropped meanwhile",
		 us->s.cfg->name, us->spool_attempts, written, us->spool_dropped_run);
	us->spool_err = 0;
	us->spool_attempts = 0;
	us->spool_dropped_run = 0;
}

static void held_free(struct held *h)
{
	buf_free(&h->b);
}

static void held_remove_at(struct usink *us, size_t i)
{
	us->held_bytes -= us->held[i].b.len;
	us->held_samples -= us->held[i].n;
	held_free(&us->held[i]);
	memmove(&us->held[i], &us->held[i + 1], (us->nheld - i - 1) * sizeof(*us->held));
	us->nheld--;
}

/* The first held batch that is not being sent. */
static size_t held_first_idle(const struct usink *us)
{
	return us->from_memory ? 1 : 0;
}

/* Beyond memory_max the oldest idle batches go, counted. */
static void usink_held_bound(struct usink *us)
{
	uint64_t dropped = 0;
	size_t i = held_first_idle(us);

	while (us->held_bytes > us->s.cfg->memory_max && us->nheld > i + 1) {
		dropped += us->held[i].n;
		held_remove_at(us, i);
	}
	if (!dropped)
		return;
	if (!us->spool_dropped_run)
		log_err("sink %s: %" PRIu64 " bytes of samples are waiting in memory for the "
			"spool (memory_max): dropping the oldest; counted as "
			"reason=\"spool_error\"",
			us->s.cfg->name, us->s.cfg->memory_max);
	us->s.st.dropped_spool_error += dropped;
	us->spool_dropped_run += dropped;
}

/* The open batch is empty again (written, held or dropped). */
static void usink_pend_clear(struct usink *us)
{
	us->pend.len = 0;
	us->npending = 0;
	memset(us->pend_first, 0, sizeof(us->pend_first));
}

/* The open batch goes to memory: appended to the newest held batch if that
 * is idle and has room, else as a new one (no copy: the buffer moves). */
static void usink_hold_pending(struct usink *us)
{
	struct held *h;
	size_t k;

	if (!us->npending)
		return;
	h = us->nheld > held_first_idle(us) ? &us->held[us->nheld - 1] : NULL;
	if (h && h->n + us->npending <= us->s.cfg->batch_size) {
		if (buf_append(&h->b, us->pend.data, us->pend.len) == 0) {
			h->n += (uint32_t)us->npending;
			us->held_bytes += us->pend.len;
			us->held_samples += us->npending;
			for (k = 0; k < UPLOADER_PRODUCERS_MAX; k++)
				if (!h->first[k])
					h->first[k] = us->pend_first[k];
			usink_pend_clear(us);
			usink_held_bound(us);
			return;
		}
		h->b.err = 0;
	}
	if (us->nheld == us->cap_held) {
		size_t cap = us->cap_held ? us->cap_held * 2 : 8;
		struct held *v = realloc(us->held, cap * sizeof(*v));

		if (!v) {
			log_err("sink %s: out of memory holding %zu samples for the spool; dropped",
				us->s.cfg->name, us->npending);
			us->s.st.dropped_spool_error += us->npending;
			usink_pend_clear(us);
			return;
		}
		us->held = v;
		us->cap_held = cap;
	}
	h = &us->held[us->nheld++];
	h->b = us->pend;
	h->n = (uint32_t)us->npending;
	h->first_ts = us->pend_first_ts;
	memcpy(h->first, us->pend_first, sizeof(h->first));
	us->held_bytes += us->pend.len;
	us->held_samples += us->npending;
	buf_init(&us->pend);
	usink_pend_clear(us);
	usink_held_bound(us);
}

static void usink_release_inflight(struct usink *us);

/* Batches to the spool, oldest first: what waits in memory (but the batch
 * being sent from there), then the open batch.  Whatever cannot be written
 * waits in memory; `force` tries the spool even during its backoff. */
static void usink_store(struct uploader *u, struct usink *us, int64_t now, bool force)
{
	uint64_t written = 0;
	size_t i;
	int r;

	if (us->from_memory && !us->sending && us->nranges == 1 && us->ranges[0].lo == 0 &&
	    us->ranges[0].hi == us->loaded) {
		/* The batch from memory failed and waits for its retry, none
		 * of it delivered: it may go to the spool with the rest (a
		 * batch partly delivered stays, or it would be counted twice). */
		us->from_memory = false;
		usink_release_inflight(us);
	}
	if (!us->npending && us->nheld <= held_first_idle(us))
		return;
	if (us->spool_err && !force && now < us->spool_retry_at) {
		usink_hold_pending(us);
		return;
	}
	if (!us->spool) {
		r = usink_spool_open(u, us);
		if (r) {
			usink_spool_failed(u, us, r, now);
			usink_hold_pending(us);
			return;
		}
		log_info("sink %s: its spool is open now", us->s.cfg->name);
	}
	i = held_first_idle(us);
	while (us->nheld > i) {
		struct held *h = &us->held[i];

		r = spool_append(us->spool, h->b.data, h->b.len, h->n);
		if (r) {
			usink_spool_failed(u, us, r, now);
			usink_hold_pending(us);
			return;
		}
		written += h->n;
		held_remove_at(us, i);
	}
	if (us->npending) {
		r = spool_append(us->spool, us->pend.data, us->pend.len, (uint32_t)us->npending);
		if (r) {
			usink_spool_failed(u, us, r, now);
			usink_hold_pending(us);
			return;
		}
		usink_pend_clear(us);
	}
	usink_spool_ok(us, written);
}

/* A packed sample from a ring into the open batch as it is: no unpacking;
 * change detection reads its fields through the view.  It is sample `seq`
 * of producer k. */
static void usink_accept(struct uploader *u, struct usink *us, const void *rec, size_t len,
			 const struct sample_view *v, unsigned k, uint64_t seq, int64_t now_mono,
			 int64_t now_unix)
{
	if (us->change && !change_filter(us->change, v, now_unix)) {
		us->s.st.unchanged_skipped++;
		return;
	}
	if (buf_append(&us->pend, rec, len)) {
		us->s.st.dropped_encode++;
		us->pend.err = 0;
		return;
	}
	if (us->npending++ == 0) {
		us->pend_since_mono = now_mono;
		us->pend_first_ts = sample_packed_ts(rec);
	}
	if (!us->pend_first[k])
		us->pend_first[k] = seq;
	us->s.st.accepted++;
	if (us->npending >= us->s.cfg->batch_size)
		usink_store(u, us, now_mono, false);
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

/* The samples of one batch (a spool record or one held in memory) onto
 * us->inflight, each checked; version 1 is converted.  A sample that does
 * not open (the record's CRC held, so this is a bug or a format change)
 * loses the rest of the batch: returned as the count lost. */
static int usink_unpack(struct usink *us, unsigned payload, const unsigned char *p, size_t len,
			uint32_t items, uint64_t *lost)
{
	const unsigned char *end = p + len;
	size_t before = us->inflight.n;
	struct sample_view v;
	int r;

	*lost = 0;
	while (p < end) {
		if (payload == UPLOADER_PAYLOAD_V1) {
			r = sample_v1_read(&us->v1, p, (size_t)(end - p));
			if (r == -ENOMEM ||
			    (r > 0 && sample_list_add_sample(&us->inflight, &us->v1)))
				return -ENOMEM;
		} else {
			r = sample_view(&v, p, (size_t)(end - p));
			if (r > 0 && sample_list_add(&us->inflight, p, (size_t)r))
				return -ENOMEM;
		}
		if (r <= 0) {
			size_t got = us->inflight.n - before;

			/* Format 1 does not say how many it held: one, at least. */
			*lost = items != SPOOL_ITEMS_UNKNOWN && items > got ? items - got : 1;
			break;
		}
		p += r;
	}
	return 0;
}

/* Read whole records from the acknowledged position into us->inflight: up
 * to `limit` samples' worth (a first load), or up to the spool position
 * `until` (a reload of what a failed attempt released). */
static int usink_read(struct usink *us, size_t limit, uint64_t until)
{
	uint64_t pos = spool_ack_pos(us->spool), lost;
	struct spool_rec rec;
	int r = 0;

	while ((limit ? us->inflight.n < limit : pos < until) &&
	       (r = spool_read(us->spool, &pos, &rec)) > 0) {
		if (rec.payload != UPLOADER_PAYLOAD && rec.payload != UPLOADER_PAYLOAD_V1) {
			/* Written by a newer powerd: not ours to guess at. */
			if (limit) {
				log_err("sink %s: a spool record holds payload version %u, which "
					"this powerd cannot read; its samples are counted as "
					"reason=\"corrupt\"",
					us->s.cfg->name, rec.payload);
				us->s.st.dropped_corrupt +=
					rec.items == SPOOL_ITEMS_UNKNOWN ? 1 : rec.items;
				us->inflight_end = pos;
			}
			continue;
		}
		r = usink_unpack(us, rec.payload, rec.data, rec.len, rec.items, &lost);
		if (r)
			return r;
		if (lost && limit) {
			us->s.st.dropped_corrupt += lost;
			log_err("sink %s: a spool record passed its CRC but does not unpack; "
				"%" PRIu64 " samples lost",
				us->s.cfg->name, lost);
		}
		if (limit)
			us->inflight_end = pos;
	}
	if (r < 0)
		return r;
	return limit || pos == until ? 0 : -ESTALE;
}

/* held[0] onto us->inflight (first load and reload alike). */
static int usink_read_memory(struct usink *us)
{
	uint64_t lost;
	int r = usink_unpack(us, UPLOADER_PAYLOAD, (const unsigned char *)us->held[0].b.data,
			     us->held[0].b.len, us->held[0].n, &lost);

	if (!r && lost) {
		us->s.st.dropped_encode += lost;
		log_err("sink %s: a batch in memory does not unpack; %" PRIu64 " samples lost",
			us->s.cfg->name, lost);
	}
	return r;
}

/* Cut what is loaded into chunks of what one request may carry (batch_size,
 * the sink type's max_batch, and what its fit() says), first chunk on top
 * of the range stack. */
static int usink_chunk(struct usink *us)
{
	size_t per, lo, n = us->inflight.n, nb = 0, *ends, i;
	int r = 0;

	us->loaded = n;
	us->loaded_first_ts = sample_packed_ts(us->inflight.b.data);
	per = us->s.cfg->batch_size;
	if (us->s.ops->max_batch && us->s.ops->max_batch < per)
		per = us->s.ops->max_batch;
	ends = malloc(n * sizeof(*ends)); /* a chunk holds one sample at least */
	if (!ends)
		return -ENOMEM;
	for (lo = 0; lo < n; lo = ends[nb++]) {
		size_t k = n - lo < per ? n - lo : per;

		if (us->s.ops->fit) {
			struct sample_span sp = sample_list_span(&us->inflight, lo, lo + k);
			size_t fit = us->s.ops->fit(&us->s, &sp);

			if (fit >= 1 && fit < k)
				k = fit;
		}
		ends[nb] = lo + k;
	}
	for (i = nb; i-- > 0 && !r;)
		r = usink_push_range(us, (uint32_t)(i ? ends[i - 1] : 0), (uint32_t)ends[i]);
	free(ends);
	return r ? -ENOMEM : 0;
}

/* Load the next records: from the spool while it holds any, else the
 * oldest batch waiting in memory. */
static int usink_load(struct usink *us)
{
	int r = 0;

	us->from_memory = false;
	if (us->spool) {
		r = usink_read(us, us->s.cfg->batch_size, 0);
		if (r)
			return r;
		if (!us->inflight.n && us->inflight_end > spool_ack_pos(us->spool))
			spool_ack(us->spool, us->inflight_end); /* only unusable records */
	}
	if (!us->inflight.n && us->nheld) {
		us->from_memory = true;
		r = usink_read_memory(us);
		if (r)
			return r;
		if (!us->inflight.n) {
			held_remove_at(us, 0);
			us->from_memory = false;
		}
	}
	return us->inflight.n ? usink_chunk(us) : 0;
}

/* After a failed attempt the unpacked samples are released (the spool or
 * memory still has them), so a sink that is down for hours holds no extra
 * copy; before the next attempt they are read back.  If the spool's cap
 * deleted some of them meanwhile (and counted them), the chunks no longer
 * match: start over from what is left. */
static int usink_reload(struct usink *us)
{
	int r;

	if (us->from_memory) {
		r = usink_read_memory(us);
		return r ? r : us->inflight.n == us->loaded ? 0 : -EIO;
	}
	r = usink_read(us, 0, us->inflight_end);
	if (r == 0 && us->inflight.n == us->loaded)
		return 0;
	sample_list_free(&us->inflight);
	us->nranges = 0;
	return r == -ESTALE || r == 0 ? usink_load(us) : r;
}

/* The memory of the loaded samples goes back to the system (a retry reads
 * them again); the chunks still to send are kept. */
static void usink_park_inflight(struct usink *us)
{
	/* What the cap deleted while it was loaded is gone with the memory. */
	us->s.st.dropped_spool += us->held_dropped;
	us->held_dropped = 0;
	sample_list_free(&us->inflight);
}

static void usink_release_inflight(struct usink *us)
{
	us->held_dropped = 0; /* delivered after all */
	/* Freed, not kept: after draining a backlog the memory goes back. */
	sample_list_free(&us->inflight);
	us->nranges = 0;
}

/* Every chunk of what was loaded is done (sent or refused). */
static void usink_loaded_done(struct usink *us)
{
	if (us->from_memory) {
		held_remove_at(us, 0);
		us->from_memory = false;
	} else {
		spool_ack(us->spool, us->inflight_end);
	}
	usink_release_inflight(us);
}

static void usink_send_next(struct uploader *u, struct usink *us, int64_t now)
{
	struct sample_span span;
	struct range *top;
	int r;

	if (us->nranges == 0) {
		usink_release_inflight(us);
		r = usink_load(us);
	} else if (!us->inflight.n) {
		r = usink_reload(us);
	} else {
		r = 0;
	}
	if (r) {
		/* Backed off like a failed request, so that a spool that
		 * cannot be read does not make the loop spin. */
		sink_set_error(&us->s, "reading %s: %s", us->from_memory ? "memory" : "the spool",
			       strerror(-r));
		us->attempts++;
		us->retry_at_mono =
			now + uploader_backoff_ns(us->s.cfg->retry_base_ns, us->s.cfg->retry_max_ns,
						  us->attempts, up_random(u));
		return;
	}
	if (us->nranges == 0)
		return;
	top = &us->ranges[us->nranges - 1];
	us->s.verdict_ready = false;
	us->sending = true;
	us->s.st.requests++;
	span = sample_list_span(&us->inflight, top->lo, top->hi);
	r = us->s.ops->send(&us->s, &span);
	if (r && !us->s.verdict_ready)
		sink_complete(&us->s, SINK_RETRY, strerror(-r));
}

/* One line a minute at most, with the count: a server that refuses
 * everything must not log once per sample. */
static void usink_log_rejects(struct usink *us, int64_t now, bool event)
{
	uint64_t n;

	if (event ? !log_rate_event(&us->reject_log, now, UPLOADER_LOG_PERIOD, &n)
		  : !log_rate_due(&us->reject_log, now, UPLOADER_LOG_PERIOD, &n))
		return;
	log_warn("sink %s: the server refused %" PRIu64 " sample%s (dropped, counted as "
		 "reason=\"rejected\"); its last message: %s",
		 us->s.cfg->name, n, n == 1 ? "" : "s", us->reject_msg);
}

static void usink_verdict(struct uploader *u, struct usink *us, int64_t now)
{
	struct range top = us->ranges[us->nranges - 1];
	uint32_t n = top.hi - top.lo, mid;
	int64_t delay;
	uint64_t k;

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
		us->retry_log.pending = 0;
		if (us->nranges == 0)
			usink_loaded_done(us);
		break;
	case SINK_RETRY:
		us->attempts++;
		us->s.st.retried += n;
		delay = uploader_backoff_ns(us->s.cfg->retry_base_ns, us->s.cfg->retry_max_ns,
					    us->attempts, up_random(u));
		us->retry_at_mono = now + delay;
		usink_park_inflight(us);
		/* The first failure, then a line a minute at most: a dead
		 * server for a day must not fill the journal. */
		if (us->attempts == 1) {
			us->retry_log.last_ns = now;
			log_warn("sink %s: %s; retrying with backoff (%.1f s first)",
				 us->s.cfg->name, us->s.verdict_msg, (double)delay / 1e9);
		} else if (log_rate_event(&us->retry_log, now, UPLOADER_LOG_PERIOD, &k)) {
			log_warn("sink %s: still failing after %u attempts (%" PRIu64
				 " since the last report): %s; next in %.1f s",
				 us->s.cfg->name, us->attempts, k, us->s.verdict_msg,
				 (double)delay / 1e9);
		}
		break;
	case SINK_REJECT:
		us->nranges--;
		us->attempts = 0;
		if (n == 1) {
			us->s.st.dropped_rejected++;
			snprintf(us->reject_msg, sizeof(us->reject_msg), "%s", us->s.verdict_msg);
			usink_log_rejects(us, now, true);
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
		if (us->nranges == 0)
			usink_loaded_done(us);
		break;
	}
}

/* ------------------------------------------------------------ the thread */

/* Every producer's ring, a bounded number each and for a bounded time, the
 * first one in turn, so that one busy producer cannot keep the uploader
 * from the others nor from sending (what is left waits for the next turn,
 * which comes at once).  The last turn takes everything. */
static void uploader_take(struct uploader *u, int64_t now_mono, bool final)
{
	int64_t now_unix = clock_unix_ns();
	size_t j, k, n = atomic_load_explicit(&u->nprod, memory_order_acquire), i, taken;
	const void *rec;
	size_t len;

	for (j = 0; j < n; j++) {
		struct uploader_producer *p;
		struct recring *r;

		k = (u->take_from + j) % n;
		p = u->prod[k];
		r = &p->ring;
		for (taken = 0;
		     (final || taken < UPLOADER_TAKE_MAX) && recring_peek(r, &rec, &len) == 0;
		     taken++) {
			struct sample_view v;
			bool ok = !u->need_view || sample_view(&v, rec, len) == (int)len;
			uint64_t seq = ++p->taken;

			tap_offer(atomic_load_explicit(&u->tap, memory_order_acquire), p->name, rec,
				  len);
			for (i = 0; i < u->nsinks; i++) {
				if (ok)
					usink_accept(u, &u->sinks[i], rec, len, &v, (unsigned)k,
						     seq, now_mono, now_unix);
				else
					u->sinks[i].s.st.dropped_encode++; /* not a builder's */
			}
			recring_pop(r);
			if (!final && (taken & 63) == 63 &&
			    clock_mono_ns() - now_mono > UPLOADER_SLICE_NS) {
				u->more = true;
				break;
			}
		}
		if (taken == UPLOADER_TAKE_MAX)
			u->more = true;
		if (u->more && !final) {
			u->take_from = (k + 1) % n;
			return;
		}
	}
}

/* Per producer: every sample taken so far is durable but from the first
 * one a sink still holds in memory (its open batch, or a batch waiting for
 * the spool or being sent from memory); what change detection skipped or a
 * bound dropped was counted and needs nothing more.  Batches are kept
 * oldest first, so the first one holding a producer's samples is where its
 * durable prefix ends in that sink. */
static void uploader_durable_update(struct uploader *u)
{
	size_t k, n = atomic_load_explicit(&u->nprod, memory_order_acquire), i, j;

	for (k = 0; k < n; k++) {
		struct uploader_producer *p = u->prod[k];
		uint64_t d = p->taken;

		for (i = 0; i < u->nsinks; i++) {
			const struct usink *us = &u->sinks[i];

			for (j = 0; j < us->nheld && !us->held[j].first[k]; j++)
				;
			if (j < us->nheld && us->held[j].first[k] - 1 < d)
				d = us->held[j].first[k] - 1;
			if (us->pend_first[k] && us->pend_first[k] - 1 < d)
				d = us->pend_first[k] - 1;
		}
		/* Never back: a sample once durable stays so. */
		if (d > atomic_load_explicit(&p->durable, memory_order_relaxed))
			atomic_store_explicit(&p->durable, d, memory_order_release);
	}
}

/* Is every ring empty?  The uploader looks once more before it sleeps. */
static bool uploader_idle(struct uploader *u)
{
	size_t k, n = atomic_load_explicit(&u->nprod, memory_order_acquire);

	for (k = 0; k < n; k++)
		if (recring_used(&u->prod[k]->ring))
			return false;
	return true;
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

static int64_t usink_oldest_unsent(const struct usink *us)
{
	if (us->nranges)
		return us->loaded_first_ts;
	if (us->nheld)
		return us->held[0].first_ts;
	if (us->npending)
		return us->pend_first_ts;
	return 0;
}

static void uploader_publish_stats(struct uploader *u, int64_t now)
{
	size_t i;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];
		struct usink_pub *p = &u->pub[i];

		p->st = us->s.st;
		if (us->spool)
			spool_stats(us->spool, &p->sp);
		else
			memset(&p->sp, 0, sizeof(p->sp));
		p->attempts = us->attempts;
		p->retry_in_ns =
			us->attempts && us->retry_at_mono > now ? us->retry_at_mono - now : 0;
		p->npending = us->npending;
		p->held = us->held_samples;
		p->spool_err = us->spool_err;
		p->spool_retry_in_ns =
			us->spool_err && us->spool_retry_at > now ? us->spool_retry_at - now : 0;
		p->st.oldest_unsent_unix_ns = usink_oldest_unsent(us);
	}
	pthread_mutex_unlock(&u->lock);
}

/* Samples no request can carry (only NaN fields, a topic that is not UTF-8):
 * counted by the sink types, reported here, a line a minute at most. */
static void usink_log_unencodable(struct usink *us, int64_t now)
{
	uint64_t d = us->s.st.dropped_encode - us->encode_seen, n = 0;

	us->encode_seen = us->s.st.dropped_encode;
	us->encode_log.pending += d;
	if (!log_rate_due(&us->encode_log, now, UPLOADER_LOG_PERIOD, &n))
		return;
	log_warn("sink %s: %" PRIu64 " sample%s cannot be encoded for this sink (no field it can "
		 "carry) and %s dropped; counted as reason=\"unencodable\"",
		 us->s.cfg->name, n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
}

/* What the spool found damaged, counted once into the sink's counters. */
static void usink_spool_damage(struct usink *us)
{
	struct spool_stats sp;

	if (!us->spool)
		return;
	spool_stats(us->spool, &sp);
	us->s.st.dropped_corrupt += sp.corrupt_items - us->sp_seen.corrupt_items;
	us->sp_seen = sp;
}

static void uploader_turn(struct uploader *u, bool final)
{
	int64_t now = clock_mono_ns(), t0;
	size_t i;

	u->more = false;
	uploader_take(u, now, final);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];

		if (final && us->from_memory) {
			/* Nothing more is sent: the batch being sent from
			 * memory goes to the spool with the rest (what of it
			 * was delivered is sent again: a duplicate). */
			us->from_memory = false;
			us->nranges = 0;
		}
		if (final ||
		    (us->npending && now - us->pend_since_mono >= us->s.cfg->flush_interval_ns))
			usink_store(u, us, now, final);
		else if (us->nheld && now >= us->spool_retry_at)
			usink_store(u, us, now, false);
		usink_spool_damage(us);
		if (final)
			continue;
		if (!us->sending && now >= us->retry_at_mono)
			usink_send_next(u, us, now);
		if (us->sending && us->s.ops->poll)
			us->s.ops->poll(&us->s);
		if (us->spool)
			spool_tick(us->spool, now);
		usink_log_rejects(us, now, false);
		usink_log_unencodable(us, now);
	}
	uploader_durable_update(u);
	if (final)
		return;
	uploader_curl(u);
	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];

		/* Drain a backlog without waiting for the next wake-up, for a
		 * slice of time: then the rings again. */
		t0 = clock_mono_ns();
		while (us->sending && us->s.verdict_ready) {
			usink_verdict(u, us, now);
			if (us->sending || now < us->retry_at_mono)
				break;
			if (clock_mono_ns() - t0 > UPLOADER_SLICE_NS) {
				u->more = true;
				break;
			}
			usink_send_next(u, us, now);
			if (us->sending && !us->s.verdict_ready)
				break;
		}
	}
	uploader_durable_update(u); /* after the acknowledgements */
	uploader_publish_stats(u, now);
}

static int uploader_wait_ms(struct uploader *u)
{
	int64_t now = clock_mono_ns(), wait = (int64_t)UPLOADER_TICK_MS * 1000000LL, d;
	size_t i;

	if (u->more)
		return 0;

	for (i = 0; i < u->nsinks; i++) {
		struct usink *us = &u->sinks[i];

		/* While the spool fails, batches go to memory at the flush
		 * deadline anyway (no disk access), so the two deadlines are
		 * the flush and the spool's retry: neither is in the past
		 * after a turn, so this never spins. */
		if (us->npending) {
			d = us->pend_since_mono + us->s.cfg->flush_interval_ns - now;
			if (d < wait)
				wait = d;
		}
		if (us->spool_err && us->nheld > held_first_idle(us)) {
			d = us->spool_retry_at - now;
			if (d < wait)
				wait = d;
		}
		if (!us->sending && (us->nranges || us->attempts || us->nheld)) {
			d = us->retry_at_mono - now;
			if (d < wait)
				wait = d;
		}
		if (us->sending && us->s.ops->poll && wait > UPLOADER_MQTT_POLL_NS)
			wait = UPLOADER_MQTT_POLL_NS; /* non-curl sinks are polled */
	}
	if (wait < 0)
		wait = 0;
	return (int)((wait + 999999) / 1000000);
}

/* Sleep until a deadline or a wake-up, which cannot be missed (wakeup.h). */
static void uploader_sleep(struct uploader *u)
{
	int ms = uploader_wait_ms(u);

	if (ms == 0)
		return;
	wakeup_announce(&u->wake);
	if (uploader_idle(u) && !atomic_load(&u->stop))
		curl_multi_poll(u->multi, NULL, 0, ms, NULL);
	wakeup_done(&u->wake);
}

static void *uploader_main(void *arg)
{
	struct uploader *u = arg;

	while (!atomic_load(&u->stop)) {
		uploader_turn(u, false);
		uploader_sleep(u);
	}
	/* Everything accepted so far goes to disk: nothing is lost by a
	 * clean stop; what was in flight is re-sent at the next start. */
	uploader_turn(u, true);
	return NULL;
}

/* ------------------------------------------------------------ life cycle */

int uploader_producer(struct uploader *u, const char *name, size_t capacity,
		      struct uploader_producer **out)
{
	struct uploader_producer *p;
	size_t cap = UPLOADER_RING_MIN, n;
	int r;

	*out = NULL;
	if (!u)
		return 0; /* no sinks: nothing to carry */
	if (!name || !name[0] || strlen(name) >= sizeof(p->name))
		return -EINVAL;
	while (cap < capacity && cap <= SIZE_MAX / 4)
		cap *= 2;
	/* Its indices sit on cache lines of their own: so must it. */
	p = aligned_alloc(RECRING_CACHELINE,
			  (sizeof(*p) + RECRING_CACHELINE - 1) & ~(size_t)(RECRING_CACHELINE - 1));
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	r = recring_init(&p->ring, cap);
	if (r) {
		free(p);
		return r;
	}
	p->u = u;
	snprintf(p->name, sizeof(p->name), "%s", name);
	atomic_init(&p->published, 0);
	atomic_init(&p->durable, 0);
	pthread_mutex_lock(&u->prod_lock);
	n = atomic_load_explicit(&u->nprod, memory_order_relaxed);
	if (n < UPLOADER_PRODUCERS_MAX) {
		u->prod[n] = p;
		atomic_store_explicit(&u->nprod, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&u->prod_lock);
	if (n >= UPLOADER_PRODUCERS_MAX) {
		recring_free(&p->ring);
		free(p);
		return -ENOSPC;
	}
	*out = p;
	return 0;
}

void uploader_set_tap(struct uploader *u, struct tap *t)
{
	if (u)
		atomic_store_explicit(&u->tap, t, memory_order_release);
}

int uploader_publish_packed(struct uploader_producer *p, const void *rec, size_t len)
{
	int r;

	if (!p)
		return 0;
	r = recring_push_nodrop(&p->ring, rec, len);
	if (r)
		return r == -ENOBUFS ? -EAGAIN : r;
	/* This thread is the only writer. */
	atomic_store_explicit(&p->published,
			      atomic_load_explicit(&p->published, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* After the push (wakeup.h): every producer does the same, and the
	 * uploader looks at every ring after announcing its sleep. */
	if (wakeup_needed(&p->u->wake))
		curl_multi_wakeup(p->u->multi);
	return 0;
}

int uploader_publish(struct uploader_producer *p, const struct sample *s)
{
	if (!sample_len(s))
		return -EINVAL;
	return uploader_publish_packed(p, sample_data(s), sample_len(s));
}

int uploader_offer(struct uploader_producer *p, const struct sample *s)
{
	int r = uploader_publish(p, s);

	if (r == -EAGAIN || r == -EMSGSIZE) {
		uploader_note_drop(p);
		return -ENOBUFS;
	}
	return r;
}

void uploader_note_drop(struct uploader_producer *p)
{
	if (p)
		recring_note_drop(&p->ring);
}

bool uploader_room(struct uploader_producer *p, size_t len)
{
	return !p || recring_room(&p->ring, len);
}

uint64_t uploader_published(struct uploader_producer *p)
{
	return p ? atomic_load_explicit(&p->published, memory_order_relaxed) : 0;
}

uint64_t uploader_durable(struct uploader_producer *p)
{
	return p ? atomic_load_explicit(&p->durable, memory_order_acquire) : 0;
}

/* The spool cap deletes a record: count the samples it held, unless the
 * record is already loaded for sending (then it is still delivered). */
static void usink_dropped(void *arg, uint64_t pos, const struct spool_rec *rec)
{
	struct usink *us = arg;
	uint64_t items = rec->items;

	if (items == SPOOL_ITEMS_UNKNOWN) {
		/* Format 1: count what it held. */
		const unsigned char *p = rec->data, *end = p + rec->len;
		int r;

		for (items = 0; p < end && (r = sample_v1_read(&us->v1, p, (size_t)(end - p))) > 0;
		     p += r)
			items++;
	}
	/* Loaded, so still delivered if the attempt succeeds; remembered in
	 * case it fails and the memory is released (usink_park_inflight). */
	if (us->nranges && !us->from_memory && us->inflight.n && pos < us->inflight_end)
		us->held_dropped += items;
	else
		us->s.st.dropped_spool += items;
}

static int usink_open(struct uploader *u, struct usink *us, const struct cfg_sink *c)
{
	struct spool_stats sp;
	int r;

	us->s.cfg = c;
	us->s.ops = up_ops(c->type);
	us->s.multi = u->multi;
	us->s.st.last_request_ok = true;
	buf_init(&us->pend);
	sample_list_init(&us->inflight);
	sample_init(&us->v1, NULL, 0);
	r = usink_spool_open(u, us);
	if (r) {
		/* This sink holds its samples in memory and retries; the
		 * others, the sources and HTTP run regardless. */
		usink_spool_failed(u, us, r, clock_mono_ns());
	} else {
		spool_stats(us->spool, &sp);
		if (sp.unacked_bytes)
			log_info("sink %s: %" PRIu64 " bytes from the spool to send first", c->name,
				 sp.unacked_bytes);
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
	return 0;
}

/* At shutdown: what is still in memory could not reach the spool even now.
 * It is lost; say how much, and count it. */
static void usink_give_up(struct usink *us)
{
	uint64_t n = us->held_samples + us->npending;
	size_t i;

	if (!n)
		return;
	log_err("sink %s: %" PRIu64 " samples could not be written to the spool (%s) and are "
		"lost at shutdown; counted as reason=\"spool_error\"",
		us->s.cfg->name, n, us->spool_err ? strerror(-us->spool_err) : "not open");
	us->s.st.dropped_spool_error += n;
	for (i = 0; i < us->nheld; i++)
		held_free(&us->held[i]);
	us->nheld = 0;
	us->held_bytes = 0;
	us->held_samples = 0;
	usink_pend_clear(us);
}

static void usink_close(struct usink *us)
{
	if (us->s.ops && us->s.ops->close)
		us->s.ops->close(&us->s);
	if (us->spool)
		spool_close(us->spool);
	change_free(us->change);
	buf_free(&us->pend);
	free(us->held);
	sample_list_free(&us->inflight);
	sample_free(&us->v1);
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
	pthread_mutex_init(&u->prod_lock, NULL);
	atomic_init(&u->nprod, 0);
	u->multi = curl_multi_init();
	u->sinks = calloc(cfg->nsinks, sizeof(*u->sinks));
	u->pub = calloc(cfg->nsinks, sizeof(*u->pub));
	if (!u->multi || !u->sinks || !u->pub) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		u->sinks[i].s.config = cfg;
		r = usink_open(u, &u->sinks[i], &cfg->sinks[i]);
		u->nsinks = i + 1;
		if (r)
			goto fail;
		u->need_view |= u->sinks[i].change != NULL;
	}
	uploader_publish_stats(u, clock_mono_ns());
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
	for (i = 0; i < u->nsinks; i++) {
		usink_give_up(&u->sinks[i]);
		usink_close(&u->sinks[i]);
	}
	if (u->multi)
		curl_multi_cleanup(u->multi);
	for (i = 0; i < atomic_load(&u->nprod); i++) {
		recring_free(&u->prod[i]->ring);
		free(u->prod[i]);
	}
	pthread_mutex_destroy(&u->prod_lock);
	pthread_mutex_destroy(&u->lock);
	free(u->sinks);
	free(u->pub);
	free(u);
}

static void uploader_sink_state(const struct usink_pub *p, struct status_sink *ss)
{
	if (p->spool_err)
		snprintf(ss->state, sizeof(ss->state),
			 "spool error: %s; %" PRIu64 " samples in memory, retry in %.0f s",
			 strerror(-p->spool_err), p->held + p->npending,
			 (double)p->spool_retry_in_ns / 1e9);
	else if (p->attempts)
		snprintf(ss->state, sizeof(ss->state), "failing: %u attempts, next in %.0f s",
			 p->attempts, (double)p->retry_in_ns / 1e9);
	else if (p->sp.unacked_bytes || p->held)
		snprintf(ss->state, sizeof(ss->state), "sending backlog");
	else
		snprintf(ss->state, sizeof(ss->state), "ok");
}

int uploader_status(struct uploader *u, struct status *st)
{
	int64_t now = clock_unix_ns();
	size_t i, k, n;

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
		ss->dropped_spool_error = p->st.dropped_spool_error;
		ss->dropped_too_old = p->st.dropped_too_old;
		ss->dropped_encode = p->st.dropped_encode;
		ss->unchanged_skipped = p->st.unchanged_skipped;
		ss->requests = p->st.requests;
		ss->spool_bytes = p->sp.bytes;
		ss->spool_unsent_bytes = p->sp.unacked_bytes;
		ss->spool_damaged_regions = p->sp.corrupt_regions;
		ss->spool_torn_tails = p->sp.torn_tails;
		ss->spool_ack_damaged = p->sp.ack_damaged;
		ss->spool_files_set_aside = p->sp.files_skipped;
		ss->pending = p->npending;
		ss->held = p->held;
		ss->up = p->st.last_request_ok;
		if (p->spool_err)
			snprintf(ss->spool_error, sizeof(ss->spool_error), "%s",
				 strerror(-p->spool_err));
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
	/* Bytes, not slots: what a sample takes depends on what it holds. */
	n = atomic_load_explicit(&u->nprod, memory_order_acquire);
	for (k = 0; k < n && st->nrings < STATUS_RINGS_MAX; k++) {
		struct status_ring *sr = &st->rings[st->nrings++];
		struct uploader_producer *p = u->prod[k];

		snprintf(sr->name, sizeof(sr->name), "%s", p->name);
		sr->capacity = recring_capacity(&p->ring);
		sr->used = recring_used(&p->ring);
		sr->dropped = recring_dropped(&p->ring);
	}
	return 0;
}

/* The meter thread: edges from the ring through the filter and converter.
 *
 * It sleeps in poll() on the wake eventfd until the I/O thread has pushed
 * edges, or until the earliest deadline: a level that will be confirmed
 * (so a flash is accepted min_pulse after it ends, not at the next flash),
 * a periodic sample, or the next energy checkpoint.  Fsync'ing checkpoints
 * here, not on the I/O thread, keeps the loop free of blocking calls; edges
 * queue in the ring meanwhile with their kernel timestamps, so no accuracy
 * is lost.
 *
 * Nothing the other threads do may keep it from its checkpoints and its
 * published snapshot: a turn takes at most METER_BATCH edges, and a sample
 * the uploader has no room for waits in the outbox instead of blocking the
 * thread.  While the outbox is full, a replay's edges stay in the ring (the
 * replay then waits: back-pressure, nothing lost), but a GPIO line's edges
 * are still counted, because the energy matters more than one sample: the
 * samples they make are dropped and counted (ring "samples"). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "persist.h"
#include "powerd.h"
#include "source_energy.h"
#include "sample.h"
#include "uploader.h"

#define METER_BATCH	      4096 /* edges per turn */
#define METER_OUTBOX_MAX      1024 /* samples waiting for the uploader */
#define METER_BACKPRESSURE_MS 10   /* re-try the outbox this often while it is full */
#define METER_LOG_PERIOD_NS   (60 * 1000000000LL)
#define METER_STOP_WAIT_NS    (5 * 1000000000LL) /* at shutdown, for the uploader */

static void meter_persist(struct powerd *pd, bool force)
{
	char who[CFG_NAME_MAX + 8];
	size_t i;
	int r;

	for (i = 0; i < pd->nmeters; i++) {
		struct meter *m = &pd->meters[i];

		if (!force && m->pm.flashes == m->persisted)
			continue;
		r = persist_save(pd->cfg->daemon.state_dir, m->cfg->name, m->cfg->impulses_per_kwh,
				 m->pm.flashes);
		/* Logged once per change of state: a full disk fails every
		 * persist_interval for as long as it lasts. */
		snprintf(who, sizeof(who), "meter %s", m->cfg->name);
		persist_report(&m->persist_health, who, pd->cfg->daemon.state_dir, r);
		if (r) {
			atomic_fetch_add(&pd->stats->persist_failed, 1);
			continue;
		}
		m->persisted = m->pm.flashes;
		atomic_fetch_add(&pd->stats->persist_ok, 1);
		atomic_store(&pd->stats->last_persist_unix_ns, clock_unix_ns());
	}
	/* The other sources' integrals (source_energy.h): saved here, off
	 * their producing threads, and last after they have all stopped. */
	for (i = 0; i < pd->nsources; i++) {
		if (!pd->sources[i].energy)
			continue;
		r = senergy_save(pd->sources[i].energy, force);
		if (r < 0) {
			atomic_fetch_add(&pd->stats->persist_failed, 1);
		} else if (r > 0) {
			atomic_fetch_add(&pd->stats->persist_ok, 1);
			atomic_store(&pd->stats->last_persist_unix_ns, clock_unix_ns());
		}
	}
}

/* CLOCK_MONOTONIC to Unix time, read now (the offset moves with NTP). */
static int64_t meter_mono_to_unix(int64_t mono_ns)
{
	return mono_ns + clock_unix_ns() - clock_mono_ns();
}

/* Closed (at shutdown, once the uploader has had its chance), it holds
 * nothing back any more. */
static bool outbox_full(const struct meter_outbox *o)
{
	return !o->closed && o->len >= METER_OUTBOX_MAX;
}

/* Hand waiting samples to the uploader, oldest first, while it has room. */
static void outbox_flush(struct powerd *pd)
{
	struct meter_outbox *o = &pd->outbox;
	uint32_t n;

	while (o->len) {
		memcpy(&n, o->q.data + o->head, sizeof(n));
		if (uploader_publish_packed(pd->samples, o->q.data + o->head + sizeof(n), n))
			break;
		o->head += sizeof(n) + n;
		o->len--;
	}
	if (!o->len) {
		/* Back-pressure is rare: give the memory back. */
		buf_free(&o->q);
		o->head = 0;
	} else if (o->head > o->q.len / 2) {
		/* Under lasting back-pressure the front is handed over while
		 * the back grows: keep the buffer to what still waits. */
		memmove(o->q.data, o->q.data + o->head, o->q.len - o->head);
		o->q.len -= o->head;
		o->head = 0;
	}
}

static void outbox_put(struct powerd *pd, const struct sample *smp)
{
	struct meter_outbox *o = &pd->outbox;
	uint32_t len = (uint32_t)sample_len(smp);
	size_t mark = o->q.len;
	uint64_t n;

	if (!o->len && uploader_publish(pd->samples, smp) == 0)
		return;
	if (o->closed || outbox_full(o) || buf_append(&o->q, &len, sizeof(len)) ||
	    buf_append(&o->q, sample_data(smp), len)) {
		o->q.len = mark;
		o->q.err = 0;
		uploader_note_drop(pd->samples);
		if (log_rate_event(&o->drop_log, clock_mono_ns(), METER_LOG_PERIOD_NS, &n))
			log_warn("the uploader is not keeping up: %" PRIu64 " sample%s dropped "
				 "(counted in powerd_ring_dropped_total{ring=\"samples\"}); the "
				 "energy counters are not affected",
				 n, n == 1 ? "" : "s");
		return;
	}
	o->len++;
}

/* measurement pulse, tag meter, fields power_w (when known), energy_wh,
 * interval_s (flashes only). */
static void meter_emit(struct meter *m, int64_t ts_mono, bool have_power, double power_w,
		       double interval_s)
{
	int64_t ts = meter_mono_to_unix(ts_mono);
	struct sample smp;

	sample_init(&smp, "pulse", ts);
	sample_tag(&smp, "meter", m->cfg->name);
	if (have_power)
		sample_float(&smp, "power_w", power_w);
	sample_float(&smp, "energy_wh", pulse_energy_wh(&m->pm.p, m->pm.flashes));
	if (interval_s > 0)
		sample_float(&smp, "interval_s", interval_s);
	/* Made, whether or not a sink takes it. */
	source_sample(m->source, ts, sample_data(&smp), sample_len(&smp));
	if (m->pd->samples)
		outbox_put(m->pd, &smp);
	sample_free(&smp);
}

static void meter_flash(struct meter *m, const struct pulse_flash *f, int64_t now)
{
	log_debug("meter %s: flash %" PRIu64 " at %" PRId64 " ns, interval %.6f s, %.1f W",
		  m->cfg->name, f->count, f->ts_ns, (double)f->interval_ns / 1e9, f->power_w);
	meter_emit(m, f->ts_ns, f->interval_ns > 0, f->power_w, (double)f->interval_ns / 1e9);
	m->next_sample_mono = now + m->cfg->sample_interval_ns;
	m->zero_sent = false;
}

/* Every edge up to this time is known to the meter thread. */
static int64_t meter_seen(const struct meter *m, int64_t now)
{
	int64_t t = now - METER_DELIVERY_MARGIN_NS;

	return t > m->watermark_seen ? m->watermark_seen : t;
}

/* Between flashes: the decaying estimate every sample_interval, and a
 * single 0 W sample once the timeout has passed. */
static void meter_tick(struct meter *m, int64_t now)
{
	double w;

	if (!m->pm.have_flash || now < m->next_sample_mono)
		return;
	m->next_sample_mono = now + m->cfg->sample_interval_ns;
	if (!pulse_power(&m->pm, meter_seen(m, now), &w))
		return;
	if (w == 0) {
		if (m->zero_sent)
			return;
		m->zero_sent = true;
	}
	meter_emit(m, now, true, w, 0);
}

/* One bounded turn: queued edges, then the time-based confirmations.
 * Returns true when edges were left in the ring. */
static bool meter_process(struct powerd *pd, int64_t now)
{
	struct pulse_flash f;
	struct edge_item e;
	size_t i, n = 0;
	bool left;

	outbox_flush(pd);
	/* Watermarks first: a source raises one only after pushing the edges
	 * below it, so every such edge is in the ring when it is drained next. */
	for (i = 0; i < pd->nmeters; i++)
		pd->meters[i].watermark_seen =
			atomic_load_explicit(&pd->meters[i].watermark, memory_order_acquire);
	while (n < METER_BATCH && ring_peek(&pd->edges, &e) == 0) {
		struct meter *m = e.meter < pd->nmeters ? &pd->meters[e.meter] : NULL;
		int r;

		if (m && m->cfg->replay[0] && outbox_full(&pd->outbox))
			break; /* the replay waits; nothing is lost */
		ring_pop(&pd->edges, &e);
		n++;
		if (!m)
			continue;
		capture_edge(&pd->capture, &e, now);
		r = pulse_edge(&m->pm, e.ts_ns, (int)e.level, &f);
		if (r > 0)
			meter_flash(m, &f, now);
		else if (r < 0)
			atomic_fetch_add(&m->input_errors, 1);
	}
	left = ring_count(&pd->edges) > 0;
	/* Time may confirm a level only when every edge before that time has
	 * been taken: with edges left in the ring, it waits for the next turn. */
	for (i = 0; i < pd->nmeters && !left; i++) {
		struct meter *m = &pd->meters[i];

		if (pulse_advance(&m->pm, meter_seen(m, now), &f) > 0)
			meter_flash(m, &f, now);
		meter_tick(m, now);
	}
	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nmeters; i++)
		pd->meters[i].pub.pm = pd->meters[i].pm;
	pthread_mutex_unlock(&pd->lock);
	return left;
}

/* How long to sleep: until the next confirmation, sample or checkpoint;
 * not at all with edges left; briefly while samples wait for the uploader. */
static int meter_wait_ms(struct powerd *pd, int64_t now, int64_t next_persist, bool left)
{
	int64_t deadline = next_persist, wait_ms;
	size_t i;

	if (left && !outbox_full(&pd->outbox))
		return 0;
	for (i = 0; i < pd->nmeters; i++) {
		int64_t d = pulse_next_deadline(&pd->meters[i].pm);

		/* Past the watermark only new edges can help: the source wakes
		 * this thread when it pushes them. */
		if (d != INT64_MAX && d <= pd->meters[i].watermark_seen &&
		    d + METER_DELIVERY_MARGIN_NS < deadline)
			deadline = d + METER_DELIVERY_MARGIN_NS;
		if (pd->meters[i].pm.have_flash && pd->meters[i].next_sample_mono < deadline)
			deadline = pd->meters[i].next_sample_mono;
	}
	wait_ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
	if (pd->outbox.len && wait_ms > METER_BACKPRESSURE_MS)
		wait_ms = METER_BACKPRESSURE_MS;
	return wait_ms > 60000 ? 60000 : (int)wait_ms;
}

void *meter_thread_main(void *arg)
{
	struct powerd *pd = arg;
	const int64_t interval = pd->cfg->daemon.persist_interval_ns;
	int64_t now = loop_now(), next_persist = now + interval;
	struct pollfd pfd = {.fd = pd->wake_fd, .events = POLLIN};
	uint64_t junk;
	bool left;
	int ms;

	while (!atomic_load(&pd->stopping)) {
		left = meter_process(pd, now);
		mset_apply(pd);
		/* On time whatever the rings do: a turn is bounded. */
		if (now >= next_persist) {
			meter_persist(pd, false);
			next_persist = now + interval;
		}
		ms = meter_wait_ms(pd, now, next_persist, left);
		if (ms > 0 && poll(&pfd, 1, ms) > 0 && read(pd->wake_fd, &junk, sizeof(junk)) < 0 &&
		    errno != EAGAIN)
			log_err("meter thread: reading its eventfd: %s", strerror(errno));
		now = loop_now();
	}
	/* The I/O thread has stopped pushing: take what is left, then save.
	 * The uploader still runs, so the outbox drains into it; if it does
	 * not within METER_STOP_WAIT_NS, what waits is dropped and counted. */
	now = loop_now();
	for (;;) {
		left = meter_process(pd, loop_now());
		if (!left && !pd->outbox.len)
			break;
		if (!pd->outbox.closed && loop_now() - now > METER_STOP_WAIT_NS) {
			log_err("stopping: the uploader took no samples for %.0f s; dropping the "
				"%zu that wait for it (counted in "
				"powerd_ring_dropped_total{ring=\"samples\"})",
				METER_STOP_WAIT_NS / 1e9, pd->outbox.len);
			for (; pd->outbox.len; pd->outbox.len--)
				uploader_note_drop(pd->samples);
			pd->outbox.closed = true;
		} else if (!pd->outbox.closed) {
			usleep(1000);
		}
	}
	meter_persist(pd, true);
	buf_free(&pd->outbox.q);
	memset(&pd->outbox, 0, sizeof(pd->outbox));
	return NULL;
}

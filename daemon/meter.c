/* The meter thread: edges from the ring through the filter and converter.
 *
 * It sleeps in poll() on the wake eventfd until the I/O thread has pushed
 * edges, or until the earliest deadline: a level that will be confirmed
 * (so a flash is accepted min_pulse after it ends, not at the next flash),
 * or the next energy checkpoint.  Fsync'ing checkpoints here, not on the I/O
 * thread, keeps the loop free of blocking calls; edges queue in the ring
 * meanwhile with their kernel timestamps, so no accuracy is lost. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "powerd.h"
#include "sample.h"
#include "uploader.h"

/* Confirming a level by the passing of time is only safe once no older edge
 * can still be on its way (kernel FIFO, io_uring, ring).  Time-based
 * confirmation therefore lags the clock by this much; it delays when a flash
 * is reported, never its timestamp. */
#define METER_DELIVERY_MARGIN_NS (100 * 1000000LL)

static void meter_persist(struct powerd *pd, bool force)
{
	size_t i;
	int r;

	for (i = 0; i < pd->nmeters; i++) {
		struct meter *m = &pd->meters[i];

		if (!force && m->pm.flashes == m->persisted)
			continue;
		r = persist_save(pd->cfg->daemon.state_dir, m->cfg->name, m->cfg->impulses_per_kwh,
				 m->pm.flashes);
		if (r) {
			atomic_fetch_add(&pd->stats->persist_failed, 1);
			log_err("meter %s: saving the energy counter in %s: %s", m->cfg->name,
				pd->cfg->daemon.state_dir, strerror(-r));
			continue;
		}
		m->persisted = m->pm.flashes;
		atomic_fetch_add(&pd->stats->persist_ok, 1);
		atomic_store(&pd->stats->last_persist_unix_ns, clock_unix_ns());
	}
}

/* CLOCK_MONOTONIC to Unix time, read now (the offset moves with NTP). */
static int64_t meter_mono_to_unix(int64_t mono_ns)
{
	return mono_ns + clock_unix_ns() - clock_mono_ns();
}

/* measurement pulse, tag meter, fields power_w (when known), energy_wh,
 * interval_s (flashes only). */
static void meter_emit(struct meter *m, int64_t ts_mono, bool have_power, double power_w,
		       double interval_s)
{
	struct sample smp;

	if (!m->pd->uploader)
		return;
	sample_init(&smp, "pulse", meter_mono_to_unix(ts_mono));
	sample_tag(&smp, "meter", m->cfg->name);
	if (have_power)
		sample_float(&smp, "power_w", power_w);
	sample_float(&smp, "energy_wh", pulse_energy_wh(&m->pm.p, m->pm.flashes));
	if (interval_s > 0)
		sample_float(&smp, "interval_s", interval_s);
	uploader_publish(m->pd->uploader, &smp);
}

static void meter_flash(struct meter *m, const struct pulse_flash *f, int64_t now)
{
	log_debug("meter %s: flash %" PRIu64 " at %" PRId64 " ns, interval %.6f s, %.1f W",
		  m->cfg->name, f->count, f->ts_ns, (double)f->interval_ns / 1e9, f->power_w);
	meter_emit(m, f->ts_ns, f->interval_ns > 0, f->power_w, (double)f->interval_ns / 1e9);
	m->next_sample_mono = now + m->cfg->sample_interval_ns;
	m->zero_sent = false;
}

/* Between flashes: the decaying estimate every sample_interval, and a
 * single 0 W sample once the timeout has passed. */
static void meter_tick(struct meter *m, int64_t now)
{
	double w;

	if (!m->pm.have_flash || now < m->next_sample_mono)
		return;
	m->next_sample_mono = now + m->cfg->sample_interval_ns;
	if (!pulse_power(&m->pm, now, &w))
		return;
	if (w == 0) {
		if (m->zero_sent)
			return;
		m->zero_sent = true;
	}
	meter_emit(m, now, true, w, 0);
}

/* Everything queued in the ring, then the time-based confirmations. */
static void meter_process(struct powerd *pd, int64_t now)
{
	struct pulse_flash f;
	struct edge_item e;
	size_t i;

	/* Watermarks first: a source raises one only after pushing the edges
	 * below it, so every such edge is in the ring when it is drained next. */
	for (i = 0; i < pd->nmeters; i++)
		pd->meters[i].watermark_seen =
			atomic_load_explicit(&pd->meters[i].watermark, memory_order_acquire);
	while (ring_pop(&pd->edges, &e) == 0) {
		struct meter *m;
		int r;

		if (e.meter >= pd->nmeters)
			continue;
		m = &pd->meters[e.meter];
		r = pulse_edge(&m->pm, e.ts_ns, (int)e.level, &f);
		if (r > 0)
			meter_flash(m, &f, now);
		else if (r < 0)
			atomic_fetch_add(&m->input_errors, 1);
	}
	for (i = 0; i < pd->nmeters; i++) {
		struct meter *m = &pd->meters[i];

		int64_t t = now - METER_DELIVERY_MARGIN_NS;

		if (t > m->watermark_seen)
			t = m->watermark_seen;
		if (pulse_advance(&m->pm, t, &f) > 0)
			meter_flash(m, &f, now);
		meter_tick(m, now);
	}
	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nmeters; i++)
		pd->meters[i].pub.pm = pd->meters[i].pm;
	pthread_mutex_unlock(&pd->lock);
}

void *meter_thread_main(void *arg)
{
	struct powerd *pd = arg;
	const int64_t interval = pd->cfg->daemon.persist_interval_ns;
	int64_t now = loop_now(), next_persist = now + interval;
	struct pollfd pfd = {.fd = pd->wake_fd, .events = POLLIN};
	uint64_t junk;
	size_t i;

	while (!atomic_load(&pd->stopping)) {
		int64_t deadline = next_persist, wait_ms;

		meter_process(pd, now);
		if (now >= next_persist) {
			meter_persist(pd, false);
			next_persist = now + interval;
			deadline = next_persist;
		}
		for (i = 0; i < pd->nmeters; i++) {
			int64_t d = pulse_next_deadline(&pd->meters[i].pm);

			/* Past the watermark only new edges can help: the
			 * source wakes this thread when it pushes them. */
			if (d != INT64_MAX && d <= pd->meters[i].watermark_seen &&
			    d + METER_DELIVERY_MARGIN_NS < deadline)
				deadline = d + METER_DELIVERY_MARGIN_NS;
			if (pd->meters[i].pm.have_flash &&
			    pd->meters[i].next_sample_mono < deadline)
				deadline = pd->meters[i].next_sample_mono;
		}
		wait_ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
		if (wait_ms > 60000)
			wait_ms = 60000;
		if (poll(&pfd, 1, (int)wait_ms) > 0 && read(pd->wake_fd, &junk, sizeof(junk)) < 0 &&
		    errno != EAGAIN)
			log_err("meter thread: reading its eventfd: %s", strerror(errno));
		now = loop_now();
	}
	/* The I/O thread has stopped pushing: take what is left, then save. */
	meter_process(pd, loop_now());
	meter_persist(pd, true);
	return NULL;
}

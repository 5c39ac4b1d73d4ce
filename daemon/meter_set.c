/* powerctl set-energy (meter_set.h): the hand-over between an HTTP thread
 * and the meter thread, and the change itself. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "meter_set.h"
#include "persist.h"
#include "powerd.h"

/* The meter thread answers within a turn: a few milliseconds and an
 * fsync.  More than this means a disk that hangs. */
#define MSET_WAIT_NS (10 * 1000000000LL)
/* A household meter's register has 6 to 8 digits of kWh. */
#define MSET_KWH_MAX 1e9

void mset_init(struct mset *ms)
{
	pthread_condattr_t ca;

	memset(ms, 0, sizeof(*ms));
	pthread_mutex_init(&ms->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ms->done, &ca);
	pthread_condattr_destroy(&ca);
}

void mset_destroy(struct mset *ms)
{
	pthread_cond_destroy(&ms->done);
	pthread_mutex_destroy(&ms->lock);
}

/* "12345.6" (an optional newline after it): kWh, finite, >= 0. */
static int mset_parse(const char *body, size_t len, double *kwh)
{
	char text[64], *end;

	while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
		len--;
	if (!len || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, body, len);
	text[len] = '\0';
	errno = 0;
	*kwh = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(*kwh))
		return -EINVAL;
	return 0;
}

int mset_request(struct powerd *pd, const char *name, size_t nlen, const char *body, size_t len,
		 unsigned uid, struct buf *reply)
{
	struct mset *ms = &pd->mset;
	const struct meter *m = NULL;
	struct timespec until;
	int64_t deadline;
	double kwh, per;
	uint64_t old, flashes;
	size_t i;
	int r;

	for (i = 0; i < pd->nmeters; i++)
		if (strlen(pd->meters[i].cfg->name) == nlen &&
		    !strncmp(pd->meters[i].cfg->name, name, nlen))
			m = &pd->meters[i];
	if (!m) {
		buf_printf(reply, "no [pulse.%.*s] in the configuration\n",
			   (int)(nlen > 64 ? 64 : nlen), name);
		return -ENOENT;
	}
	if (mset_parse(body, len, &kwh)) {
		buf_printf(reply, "not a number of kWh (e.g. 12345.6)\n");
		return -EINVAL;
	}
	if (kwh < 0 || kwh > MSET_KWH_MAX) {
		buf_printf(reply, "the energy must be between 0 and %.0f kWh\n", MSET_KWH_MAX);
		return -EINVAL;
	}
	per = (double)m->cfg->impulses_per_kwh;
	flashes = (uint64_t)llround(kwh * per);
	pthread_mutex_lock(&ms->lock);
	if (ms->busy) {
		pthread_mutex_unlock(&ms->lock);
		buf_printf(reply, "another set-energy is under way\n");
		return -EBUSY;
	}
	ms->busy = true;
	ms->answered = false;
	ms->meter = m->index;
	ms->flashes = flashes;
	atomic_store(&ms->pending, true);
	pthread_mutex_unlock(&ms->lock);
	io_notify_meter(pd);
	deadline = clock_mono_ns() + MSET_WAIT_NS;
	until.tv_sec = (time_t)(deadline / 1000000000LL);
	until.tv_nsec = (long)(deadline % 1000000000LL);
	pthread_mutex_lock(&ms->lock);
	while (!ms->answered && pthread_cond_timedwait(&ms->done, &ms->lock, &until) != ETIMEDOUT)
		;
	r = ms->answered ? ms->result : -ETIMEDOUT;
	old = ms->old;
	/* Unanswered, the request still applies when the meter thread gets to
	 * it (a later one replaces it). */
	ms->busy = false;
	pthread_mutex_unlock(&ms->lock);
	if (r == -ETIMEDOUT) {
		buf_printf(reply, "the meter thread did not answer within %.0f s\n",
			   MSET_WAIT_NS / 1e9);
		return r;
	}
	if (r) {
		log_err("meter %s: set-energy by uid %u: the counter was set to %.3f kWh but its "
			"checkpoint could not be written: %s",
			m->cfg->name, uid, (double)flashes / per, strerror(-r));
		buf_printf(reply,
			   "set to %.3f kWh, but the checkpoint in %s could not be written: %s\n",
			   (double)flashes / per, pd->cfg->daemon.state_dir, strerror(-r));
		return r;
	}
	log_warn("meter %s: energy counter set from %.3f kWh to %.3f kWh (%" PRIu64
		 " flashes) by uid %u (powerctl set-energy)",
		 m->cfg->name, (double)old / per, (double)flashes / per, flashes, uid);
	buf_printf(reply, "meter %s: energy %.3f kWh (was %.3f kWh), saved\n", m->cfg->name,
		   (double)flashes / per, (double)old / per);
	return 0;
}

void mset_apply(struct powerd *pd)
{
	struct mset *ms = &pd->mset;
	struct meter *m;
	int r;

	if (!atomic_load(&ms->pending))
		return;
	pthread_mutex_lock(&ms->lock);
	atomic_store(&ms->pending, false);
	m = ms->meter < pd->nmeters ? &pd->meters[ms->meter] : NULL;
	ms->old = m ? m->pm.flashes : 0;
	r = -ENOENT;
	if (m) {
		m->pm.flashes = ms->flashes;
		/* Before the answer: the reply says it is on disk. */
		r = persist_save(pd->cfg->daemon.state_dir, m->cfg->name, m->cfg->impulses_per_kwh,
				 m->pm.flashes);
		if (!r) {
			m->persisted = m->pm.flashes;
			atomic_fetch_add(&pd->stats->persist_ok, 1);
			atomic_store(&pd->stats->last_persist_unix_ns, clock_unix_ns());
		} else {
			atomic_fetch_add(&pd->stats->persist_failed, 1);
		}
	}
	ms->result = r;
	ms->answered = true;
	pthread_cond_signal(&ms->done);
	pthread_mutex_unlock(&ms->lock);
	if (m) {
		pthread_mutex_lock(&pd->lock);
		m->pub.pm = m->pm;
		pthread_mutex_unlock(&pd->lock);
	}
}

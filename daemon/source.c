/* What every source shares: counters, state, and its status (source.h). */
#include <stdio.h>
#include <string.h>

#include "history.h"
#include "powerd.h"
#include "source.h"
#include "source_energy.h"
#include "status.h"

unsigned source_reason(struct source *s, const char *reason)
{
	unsigned i;

	for (i = 0; i < s->nreasons; i++)
		if (!strcmp(s->reason[i], reason))
			return i;
	if (s->nreasons == SOURCE_REASONS_MAX)
		return SOURCE_REASONS_MAX - 1; /* shared by the overflow: still counted */
	s->reason[s->nreasons] = reason;
	return s->nreasons++;
}

void source_error(struct source *s, unsigned reason)
{
	if (reason < SOURCE_REASONS_MAX)
		atomic_fetch_add_explicit(&s->errors[reason], 1, memory_order_relaxed);
}

void source_sample(struct source *s, int64_t ts_unix_ns, const void *rec, size_t len)
{
	atomic_fetch_add_explicit(&s->samples, 1, memory_order_relaxed);
	atomic_store_explicit(&s->last_sample_unix_ns, ts_unix_ns, memory_order_relaxed);
	history_note(s->pd ? s->pd->history : NULL, s->index, rec, len);
}

void source_set_state(struct source *s, enum source_state st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->pd->lock);
	s->state = st;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->pd->lock);
}

const char *source_state_name(enum source_state st)
{
	switch (st) {
	case SOURCE_STARTING:
		return "starting";
	case SOURCE_OK:
		return "ok";
	case SOURCE_CONNECTING:
		return "connecting";
	case SOURCE_ERROR:
		return "error";
	case SOURCE_IDLE:
		return "idle";
	case SOURCE_BACKLOG:
		return "backlog";
	}
	return "?";
}

void source_status(struct source *s, struct status_source *out)
{
	unsigned i;

	snprintf(out->name, sizeof(out->name), "%s", s->name);
	snprintf(out->kind, sizeof(out->kind), "%s", s->ops->kind);
	snprintf(out->state, sizeof(out->state), "%s", source_state_name(s->state));
	snprintf(out->detail, sizeof(out->detail), "%s", s->detail);
	/* Up: doing its job.  Starting, connecting and failing are not. */
	out->up = s->state == SOURCE_OK || s->state == SOURCE_IDLE || s->state == SOURCE_BACKLOG;
	out->samples = atomic_load_explicit(&s->samples, memory_order_relaxed);
	out->last_sample_unix_s =
		(double)atomic_load_explicit(&s->last_sample_unix_ns, memory_order_relaxed) / 1e9;
	out->nerrors = s->nreasons;
	for (i = 0; i < s->nreasons; i++) {
		snprintf(out->errors[i].reason, sizeof(out->errors[i].reason), "%s", s->reason[i]);
		out->errors[i].n = atomic_load_explicit(&s->errors[i], memory_order_relaxed);
	}
	out->progress_total = atomic_load(&s->progress_total);
	out->progress_done = atomic_load(&s->progress_done);
	out->progress_eta_s = (double)atomic_load(&s->progress_eta_ns) / 1e9;
	if (out->progress_eta_s < 0)
		out->progress_eta_s = -1;
	out->meter = -1;
	out->nenergy = 0;
	out->can.present = false;
	for (i = 0; s->energy && i < s->energy->n && i < 16; i++) {
		snprintf(out->energy[i].measurement, sizeof(out->energy[i].measurement), "%s",
			 s->energy->spec[i].meas);
		snprintf(out->energy[i].field, sizeof(out->energy[i].field), "%s",
			 s->energy->spec[i].name);
		out->energy[i].joules = senergy_joules(s->energy, i);
		out->nenergy++;
	}
	if (s->ops->status)
		s->ops->status(s, out);
}

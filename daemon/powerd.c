/* Starting, stopping and observing the daemon.  Start order: state directory
 * and energy counters, ring, I/O set-up (sources opened), threads, HTTP.
 * Stop order is the reverse, with the I/O thread stopped before the meter
 * thread so that every edge the loop pushed is counted and saved. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "history.h"
#include "http.h"
#include "log.h"
#include "powerd.h"
#include "source_can.h"
#include "source_modbus.h"
#include "statedir.h"
#include "tap.h"
#include "uploader.h"

/* The sections of one kind as sources, from *at on: each section struct
 * starts with its CFG_HEAD, so the name is found the same way for all. */
static void powerd_add_sources(struct powerd *pd, size_t *at, const struct source_ops *ops,
			       const void *sections, size_t n, size_t size, size_t plot_at)
{
	size_t i;

	for (i = 0; i < n; i++, (*at)++) {
		const struct cfg_head *h =
			(const struct cfg_head *)((const char *)sections + i * size);
		struct source *s = &pd->sources[*at];

		s->ops = ops;
		s->conf = h;
		s->plot = (const char *)h + plot_at;
		s->pd = pd;
		s->index = (uint32_t)*at;
		snprintf(s->name, sizeof(s->name), "%s", h->name);
		s->state = SOURCE_STARTING;
		atomic_init(&s->progress_eta_ns, -1);
	}
}

static int powerd_meters_init(struct powerd *pd)
{
	const struct config *cfg = pd->cfg;
	size_t i, at;
	int r;

	pd->nsources = cfg->npulses + cfg->njson + cfg->nhttp + cfg->nmqtt + cfg->ncan +
		       cfg->nmodbus + cfg->neg4;
	pd->meters = calloc(cfg->npulses ? cfg->npulses : 1, sizeof(*pd->meters));
	pd->sources = calloc(pd->nsources + 1, sizeof(*pd->sources));
	if (!pd->meters || !pd->sources)
		return -ENOMEM;
	pd->nmeters = cfg->npulses;
	/* After the pulse sources, whose index is their meter's. */
	at = cfg->npulses;
	powerd_add_sources(pd, &at, &source_json_ops, cfg->json, cfg->njson, sizeof(*cfg->json),
			   offsetof(struct cfg_json, fields.plot));
	powerd_add_sources(pd, &at, &source_http_ops, cfg->http, cfg->nhttp, sizeof(*cfg->http),
			   offsetof(struct cfg_http, fields.plot));
	powerd_add_sources(pd, &at, &source_mqtt_ops, cfg->mqtt, cfg->nmqtt, sizeof(*cfg->mqtt),
			   offsetof(struct cfg_mqtt, fields.plot));
	powerd_add_sources(pd, &at, &source_can_ops, cfg->can, cfg->ncan, sizeof(*cfg->can),
			   offsetof(struct cfg_can, plot));
	powerd_add_sources(pd, &at, &source_modbus_ops, cfg->modbus, cfg->nmodbus,
			   sizeof(*cfg->modbus), offsetof(struct cfg_modbus, plot));
	powerd_add_sources(pd, &at, &source_eg4_ops, cfg->eg4, cfg->neg4, sizeof(*cfg->eg4),
			   offsetof(struct cfg_eg4, plot));
	for (i = 0; i < cfg->npulses; i++) {
		const struct cfg_pulse *c = &cfg->pulses[i];
		struct meter *m = &pd->meters[i];
		struct pulse_params p = {
			.impulses_per_kwh = c->impulses_per_kwh,
			.min_pulse_ns = c->min_pulse_ns,
			.timeout_ns = c->timeout_ns,
		};
		enum persist_from from;
		uint64_t base = 0;

		m->pd = pd;
		m->index = (uint32_t)i;
		m->cfg = c;
		/* A meter's input is a source: its GPIO line, or a trace. */
		m->source = &pd->sources[i];
		m->source->ops = c->replay[0] ? &source_replay_ops : &source_gpio_ops;
		m->source->pd = pd;
		m->source->index = (uint32_t)i;
		snprintf(m->source->name, sizeof(m->source->name), "%s", c->name);
		m->source->state = SOURCE_STARTING;
		r = persist_load(cfg->daemon.state_dir, c->name, c->impulses_per_kwh, &base, &from);
		if (r) {
			log_err("meter %s: reading its energy counter from %s: %s", c->name,
				cfg->daemon.state_dir, strerror(-r));
			return r;
		}
		if (from == PERSIST_FROM_PREV)
			atomic_fetch_add(&pd->stats->state_recovered_prev, 1);
		else if (from == PERSIST_FROM_ZERO)
			atomic_fetch_add(&pd->stats->state_recovered_zero, 1);
		if (base)
			log_info("meter %s: energy counter continues at %llu flashes (%.3f kWh)",
				 c->name, (unsigned long long)base,
				 pulse_energy_wh(&p, base) / 1000.0);
		pulse_init(&m->pm, &p, base);
		atomic_init(&m->watermark, c->replay[0] ? INT64_MIN : INT64_MAX);
		m->persisted = base;
		m->pub.pm = m->pm;
		snprintf(m->pub.input, sizeof(m->pub.input), "%s",
			 c->replay[0] ? c->replay : c->line);
	}
	return 0;
}

void meter_set_input(struct meter *m, const char *input)
{
	pthread_mutex_lock(&m->pd->lock);
	snprintf(m->pub.input, sizeof(m->pub.input), "%s", input);
	pthread_mutex_unlock(&m->pd->lock);
}

/* powerctl reload: the supervisor parses the file and says whether it is
 * good (then it restarts the daemon with it, this HTTP server included, so
 * powerctl learns the end from the status) or what is wrong with it. */
static int powerd_reload(struct powerd *pd, unsigned uid, struct buf *reply)
{
	struct powerd_reload *rl = &pd->stats->reload;
	char ev = POWERD_EV_RELOAD;
	int64_t deadline = clock_mono_ns() + 30 * 1000000000LL;
	struct timespec until = {.tv_sec = (time_t)(deadline / 1000000000LL),
				 .tv_nsec = (long)(deadline % 1000000000LL)};
	int r;

	pthread_mutex_lock(&rl->lock);
	if (rl->waiting) {
		pthread_mutex_unlock(&rl->lock);
		buf_printf(reply, "a reload is already under way\n");
		return -EBUSY;
	}
	rl->waiting = true;
	rl->answered = false;
	pthread_mutex_unlock(&rl->lock);
	log_info("reload asked by uid %u (powerctl reload)", uid);
	if (write(pd->ctl_fd, &ev, 1) != 1) {
		r = -errno;
		pthread_mutex_lock(&rl->lock);
		rl->waiting = false;
		pthread_mutex_unlock(&rl->lock);
		buf_printf(reply, "cannot ask the supervisor: %s\n", strerror(-r));
		return r;
	}
	pthread_mutex_lock(&rl->lock);
	while (!rl->answered && pthread_cond_timedwait(&rl->done, &rl->lock, &until) != ETIMEDOUT)
		;
	r = rl->answered ? rl->result : -ETIMEDOUT;
	if (rl->answered && r)
		buf_printf(reply, "%s has errors; keeping the running configuration:\n%s",
			   pd->cfg->path, rl->msg);
	else if (rl->answered)
		buf_printf(reply, "reloading %s\n", pd->cfg->path);
	else
		buf_printf(reply, "the supervisor did not answer in 30 s\n");
	rl->waiting = false;
	pthread_mutex_unlock(&rl->lock);
	return r ? (r == -ETIMEDOUT ? r : -EINVAL) : 0;
}

/* meter/NAME/VERB: set-energy, capture, capture-fetch. */
static int powerd_meter_action(struct powerd *pd, const char *name, size_t n, const char *verb,
			       const char *body, size_t len, unsigned uid, struct buf *reply)
{
	uint32_t i;

	if (!strcmp(verb, "set-energy"))
		return mset_request(pd, name, n, body, len, uid, reply);
	if (strcmp(verb, "capture") && strcmp(verb, "capture-fetch")) {
		buf_printf(reply, "no such action\n");
		return -ENOENT;
	}
	for (i = 0; i < pd->nmeters; i++)
		if (strlen(pd->meters[i].cfg->name) == n &&
		    !strncmp(pd->meters[i].cfg->name, name, n))
			break;
	if (i == pd->nmeters) {
		buf_printf(reply, "no [pulse.%.*s] in the configuration\n", (int)(n > 64 ? 64 : n),
			   name);
		return -ENOENT;
	}
	if (!strcmp(verb, "capture"))
		return capture_start(pd, i, body, len, uid, reply);
	return capture_fetch(pd, i, reply);
}

/* POSTs on the control socket (http_action_fn): "can/NAME/send",
 * "modbus/NAME/write", "meter/NAME/set-energy" (or capture, capture-fetch),
 * "reload". */
static int powerd_action(void *arg, const char *what, const char *body, size_t len, unsigned uid,
			 struct buf *reply)
{
	static const struct {
		const char *kind, *verb;
		const struct source_ops *ops;
	} acts[] = {
		{"can", "/send", &source_can_ops},
		{"modbus", "/write", &source_modbus_ops},
	};
	struct powerd *pd = arg;
	const char *name = NULL, *slash = NULL;
	size_t a, i, n;

	if (!strcmp(what, "reload"))
		return powerd_reload(pd, uid, reply);
	if (!strncmp(what, "meter/", 6) && (slash = strchr(what + 6, '/')))
		return powerd_meter_action(pd, what + 6, (size_t)(slash - what - 6), slash + 1,
					   body, len, uid, reply);
	for (a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
		size_t k = strlen(acts[a].kind);

		if (!strncmp(what, acts[a].kind, k) && what[k] == '/') {
			name = what + k + 1;
			slash = strchr(name, '/');
			break;
		}
	}
	if (!name || !slash || strcmp(slash, acts[a].verb)) {
		buf_printf(reply, "no such action\n");
		return -ENOENT;
	}
	n = (size_t)(slash - name);
	for (i = 0; i < pd->nsources; i++) {
		struct source *s = &pd->sources[i];

		if (s->ops != acts[a].ops || strlen(s->name) != n || strncmp(s->name, name, n))
			continue;
		if (acts[a].ops == &source_can_ops)
			return source_can_transmit(s, body, len, uid, reply);
		return source_modbus_write(s, body, len, uid, reply);
	}
	buf_printf(reply, "no [%s.%.*s] in the configuration\n", acts[a].kind,
		   (int)(n > 64 ? 64 : n), name);
	return -ENOENT;
}

static int powerd_history_init(struct powerd *pd)
{
	int64_t now = clock_unix_ns();
	size_t i;
	int r = history_create(&pd->history, pd->nsources, pd->cfg->daemon.state_dir);

	for (i = 0; !r && i < pd->nsources; i++) {
		history_source(pd->history, i, pd->sources[i].name, pd->sources[i].ops->kind);
		history_plot(pd->history, i, pd->sources[i].plot);
	}
	for (i = 0; !r && i < pd->nmeters; i++)
		history_meter(pd->history, i,
			      pulse_energy_wh(&pd->meters[i].pm.p, pd->meters[i].pm.flashes), now);
	return r;
}

int powerd_start(struct powerd *pd, const struct config *cfg, struct powerd_stats *stats,
		 int ctl_fd)
{
	int r;

	memset(pd, 0, sizeof(*pd));
	pd->cfg = cfg;
	pd->stats = stats;
	pd->ctl_fd = ctl_fd;
	pd->wake_fd = pd->io_stop_fd = pd->sig_fd = pd->state_lock = -1;
	pthread_mutex_init(&pd->lock, NULL);
	mset_init(&pd->mset);
	capture_init(&pd->capture);
	log_set_level(cfg->daemon.log_level);

	r = statedir_open(cfg->daemon.state_dir, &pd->state_lock);
	if (r)
		goto fail;
	r = powerd_meters_init(pd);
	if (!r)
		r = powerd_history_init(pd);
	if (r)
		goto fail;
	r = ring_init(&pd->edges, sizeof(struct edge_item), cfg->daemon.edge_ring);
	if (r)
		goto fail;
	pd->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pd->io_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pd->wake_fd < 0 || pd->io_stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = io_setup(pd);
	if (r)
		goto fail;
	/* A reload keeps the plots of the sources it keeps; after io_setup,
	 * which opened them (and so told the history their plot =). */
	history_adopt(pd->history, stats->history_kept);
	history_free(stats->history_kept);
	stats->history_kept = NULL;
	r = uploader_start(&pd->uploader, cfg);
	if (r)
		goto fail;
	r = uploader_producer(pd->uploader, "samples", METER_RING_BYTES, &pd->samples);
	if (r)
		goto fail;
	/* Samples are made only for sinks: without one, nothing to tail. */
	if (pd->uploader) {
		r = tap_new(&pd->tap, pd->sources, pd->nsources);
		if (r)
			goto fail;
		uploader_set_tap(pd->uploader, pd->tap);
	}
	r = -pthread_create(&pd->meter_thread, NULL, meter_thread_main, pd);
	if (r)
		goto fail;
	r = -pthread_create(&pd->io_thread, NULL, io_thread_main, pd);
	if (r) {
		atomic_store(&pd->stopping, true);
		io_notify_meter(pd);
		pthread_join(pd->meter_thread, NULL);
		goto fail;
	}
	pd->threads_started = true;
	r = http_start(&pd->http, cfg->daemon.listen, cfg->daemon.socket, powerd_status,
		       powerd_action, pd);
	if (r) {
		log_err("cannot serve HTTP on %s / %s: %s", cfg->daemon.listen, cfg->daemon.socket,
			strerror(-r));
		goto fail;
	}
	http_set_tap(pd->http, pd->tap);
	return 0;
fail:
	powerd_stop(pd);
	return r;
}

void powerd_stop(struct powerd *pd)
{
	bool ran = pd->threads_started;
	uint64_t one = 1;

	if (pd->http) {
		http_stop(pd->http);
		pd->http = NULL;
	}
	if (pd->threads_started) {
		atomic_store(&pd->stopping, true);
		if (write(pd->io_stop_fd, &one, sizeof(one)) < 0)
			log_err("stopping the I/O thread: %s", strerror(errno));
		pthread_join(pd->io_thread, NULL);
		io_notify_meter(pd);
		pthread_join(pd->meter_thread, NULL);
		pd->threads_started = false;
	}
	/* After the meter thread: its last samples are flushed to the spools. */
	uploader_stop(pd->uploader);
	pd->uploader = NULL;
	pd->samples = NULL;
	tap_free(pd->tap);
	pd->tap = NULL;
	io_teardown(pd);
	if (pd->wake_fd >= 0)
		close(pd->wake_fd);
	if (pd->io_stop_fd >= 0)
		close(pd->io_stop_fd);
	pd->wake_fd = pd->io_stop_fd = -1;
	ring_free(&pd->edges);
	statedir_close(pd->state_lock);
	pd->state_lock = -1;
	free(pd->meters);
	pd->meters = NULL;
	pd->nmeters = 0;
	free(pd->sources);
	pd->sources = NULL;
	pd->nsources = 0;
	mset_destroy(&pd->mset);
	capture_destroy(&pd->capture);
	/* Kept for a reload after a run, freed after a failed start. */
	if (pd->history && pd->stats && ran) {
		history_free(pd->stats->history_kept);
		pd->stats->history_kept = pd->history;
	} else {
		history_free(pd->history);
	}
	pd->history = NULL;
	pthread_mutex_destroy(&pd->lock);
}

static long powerd_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static void powerd_status_meter(struct meter *m, int64_t now, int64_t mono_to_unix,
				struct status_meter *sm)
{
	const struct pulse_meter *pm = &m->pub.pm;

	const struct source *src = m->source;
	bool running = src->state == SOURCE_OK || src->state == SOURCE_BACKLOG;

	snprintf(sm->name, sizeof(sm->name), "%s", m->cfg->name);
	snprintf(sm->input, sizeof(sm->input), "%s", m->pub.input);
	/* The source's state, and its reason when it is not plainly at work. */
	if (running)
		snprintf(sm->state, sizeof(sm->state), "%s", source_state_name(src->state));
	else
		snprintf(sm->state, sizeof(sm->state), "%s: %.100s", source_state_name(src->state),
			 src->detail);
	sm->replay = m->cfg->replay[0] != '\0';
	sm->impulses_per_kwh = m->cfg->impulses_per_kwh;
	{
		/* Edges are known up to now less the delivery margin, or the
		 * replay's watermark (the meter thread's own rule). */
		int64_t seen = now - METER_DELIVERY_MARGIN_NS,
			w = atomic_load_explicit(&m->watermark, memory_order_acquire);

		sm->power_known = pulse_power(pm, seen < w ? seen : w, &sm->power_w);
	}
	sm->flashes = pm->flashes;
	sm->energy_wh = pulse_energy_wh(&pm->p, pm->flashes);
	sm->energy_j = pulse_energy_j(&pm->p, pm->flashes);
	sm->edges = pm->edges;
	sm->glitches = pm->glitches;
	sm->events_lost = atomic_load(&m->events_lost);
	sm->input_errors = atomic_load(&m->input_errors);
	sm->have_flash = pm->have_flash;
	if (pm->have_flash) {
		sm->last_flash_age_s = (double)(now - pm->last_flash_ns) / 1e9;
		sm->last_flash_unix_s = (double)(pm->last_flash_ns + mono_to_unix) / 1e9;
	}
	if (running && !pm->have_flash)
		snprintf(sm->state, sizeof(sm->state), "%s, waiting for the first flash",
			 source_state_name(src->state));
	else if (running && !sm->power_known)
		snprintf(sm->state, sizeof(sm->state), "%s, waiting for the second flash",
			 source_state_name(src->state));
}

int powerd_status(void *arg, struct status *st)
{
	struct powerd *pd = arg;
	struct powerd_stats *s = pd->stats;
	int64_t now = loop_now(), unix_now = clock_unix_ns();
	struct rusage ru;
	size_t i;

	memset(st, 0, sizeof(*st));
	st->meters = calloc(pd->nmeters ? pd->nmeters : 1, sizeof(*st->meters));
	st->sources = calloc(pd->nsources ? pd->nsources : 1, sizeof(*st->sources));
	if (!st->meters || !st->sources)
		return -ENOMEM;
	snprintf(st->version, sizeof(st->version), "%s", POWERD_VERSION);
	snprintf(st->config_path, sizeof(st->config_path), "%s", pd->cfg->path);
	st->start_unix_s = (double)s->start_unix_ns / 1e9;
	st->uptime_s = (double)(unix_now - s->start_unix_ns) / 1e9;
	st->reloads_ok = atomic_load(&s->reloads_ok);
	st->reloads_failed = atomic_load(&s->reloads_failed);
	st->persist_ok = atomic_load(&s->persist_ok);
	st->persist_failed = atomic_load(&s->persist_failed);
	st->last_persist_unix_s = (double)atomic_load(&s->last_persist_unix_ns) / 1e9;
	st->state_recovered_prev = atomic_load(&s->state_recovered_prev);
	st->state_recovered_zero = atomic_load(&s->state_recovered_zero);
	st->rss_bytes = powerd_rss_bytes();
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		st->cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nmeters; i++)
		powerd_status_meter(&pd->meters[i], now, unix_now - now, &st->meters[i]);
	for (i = 0; i < pd->nsources; i++) {
		source_status(&pd->sources[i], &st->sources[i]);
		/* Pulse sources come first, one per meter. */
		if (i < pd->nmeters)
			st->sources[i].meter = (int)i;
	}
	pthread_mutex_unlock(&pd->lock);
	for (i = 0; i < pd->nmeters; i++) {
		struct status_meter *sm = &st->meters[i];
		int64_t since = 0;

		sm->today_known = history_today(pd->history, i, unix_now, sm->energy_wh,
						&sm->energy_today_wh, &since);
		sm->today_since_unix_s = (double)since / 1e9;
	}
	st->history = pd->history;
	st->nmeters = pd->nmeters;
	st->nsources = pd->nsources;
	snprintf(st->rings[0].name, sizeof(st->rings[0].name), "edges");
	st->rings[0].capacity = ring_capacity(&pd->edges);
	st->rings[0].used = ring_count(&pd->edges);
	st->rings[0].dropped = ring_dropped(&pd->edges);
	st->nrings = 1;
	return uploader_status(pd->uploader, st);
}

/* A meter on a GPIO line: the I/O thread keeps one read in flight on the
 * line-event fd; each completion carries up to GPIO_READ_EVENTS kernel
 * records, which go into the edge ring in one batch. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "powerd.h"

#define GPIO_RETRY_NS (10 * 1000000000LL)

static void gpio_src_arm(struct meter *m);
static void gpio_src_open(struct meter *m);

static void gpio_src_set_state(struct meter *m, const char *input, const char *state)
{
	struct powerd *pd = m->pd;

	pthread_mutex_lock(&pd->lock);
	if (input)
		snprintf(m->pub.input, sizeof(m->pub.input), "%s", input);
	snprintf(m->pub.state, sizeof(m->pub.state), "%s", state);
	pthread_mutex_unlock(&pd->lock);
}

static void gpio_src_retry_cb(struct loop *l, int res, void *arg)
{
	struct meter *m = arg;

	(void)l;
	if (res == -ECANCELED || atomic_load(&m->pd->stopping))
		return;
	gpio_src_open(m);
}

static void gpio_src_fail(struct meter *m, const char *what, int err)
{
	char state[128];

	snprintf(state, sizeof(state), "error: %s (%s); retrying", what, strerror(-err));
	log_err("meter %s: %s (chip %s, line %s): %s; retrying every 10 s", m->cfg->name, what,
		m->cfg->chip, m->cfg->line, strerror(-err));
	gpio_src_set_state(m, NULL, state);
	atomic_fetch_add(&m->input_errors, 1);
	gpio_src_close(m);
	loop_timer_at(m->pd->loop, &m->src.retry_op, loop_now() + GPIO_RETRY_NS, gpio_src_retry_cb,
		      m);
}

static void gpio_src_read_cb(struct loop *l, int res, void *arg)
{
	struct gpio_event ev[GPIO_READ_EVENTS];
	struct meter *m = arg;
	struct powerd *pd = m->pd;
	uint64_t lost = 0, full = 0;
	size_t i, n;

	(void)l;
	if (res == -ECANCELED || atomic_load(&pd->stopping))
		return;
	if (res < 0) {
		gpio_src_fail(m, "reading line events from", res);
		return;
	}
	n = gpio_decode(m->src.gpio, m->src.rbuf, (size_t)res, ev, &lost);
	for (i = 0; i < n; i++) {
		struct edge_item e = {
			.ts_ns = ev[i].ts_ns, .meter = m->index, .level = (uint32_t)ev[i].level};

		/* A full ring drops (and counts) the edge rather than
		 * stall the loop: the kernel's own FIFO is behind us. */
		if (ring_push(&pd->edges, &e))
			full++; /* counted by the ring */
	}
	if (lost)
		atomic_fetch_add(&m->events_lost, lost);
	if (lost + full) {
		uint64_t k;

		m->src.drop_log.pending += lost + full - 1;
		if (log_rate_event(&m->src.drop_log, loop_now(), 60 * 1000000000LL, &k))
			log_warn("meter %s: %" PRIu64 " edges lost (the kernel's event buffer "
				 "overflowed, or the edge ring was full); flashes may be missed; "
				 "counted in powerd_pulse_events_lost_total and "
				 "powerd_ring_dropped_total",
				 m->cfg->name, k);
	}
	if (n)
		io_notify_meter(pd);
	gpio_src_arm(m);
}

static void gpio_src_arm(struct meter *m)
{
	int r = loop_read(m->pd->loop, &m->src.op, gpio_fd(m->src.gpio), m->src.rbuf,
			  m->src.rbuf_size, -1, gpio_src_read_cb, m);

	if (r)
		gpio_src_fail(m, "queueing a read on", r);
}

static void gpio_src_open(struct meter *m)
{
	const char *why = "";
	char consumer[CFG_NAME_MAX + 8];
	int r;

	snprintf(consumer, sizeof(consumer), "powerd-%s", m->cfg->name);
	r = gpio_open(m->cfg, consumer, &m->src.gpio, &why);
	if (r) {
		gpio_src_fail(m, why, r);
		return;
	}
	log_info("meter %s: listening on %s, flash starts on the %s edge", m->cfg->name,
		 gpio_describe(m->src.gpio),
		 m->cfg->edge == CFG_EDGE_FALLING ? "falling" : "rising");
	gpio_src_set_state(m, gpio_describe(m->src.gpio), "ok");
	gpio_src_arm(m);
}

void gpio_src_start(struct meter *m)
{
	m->src.rbuf_size = GPIO_READ_EVENTS * gpio_event_size();
	/* Zeroed: the kernel fills it through io_uring, which Valgrind cannot see. */
	m->src.rbuf = calloc(1, m->src.rbuf_size);
	if (!m->src.rbuf) {
		gpio_src_set_state(m, NULL, "error: out of memory");
		return;
	}
	gpio_src_open(m);
}

void gpio_src_close(struct meter *m)
{
	gpio_close(m->src.gpio);
	m->src.gpio = NULL;
}

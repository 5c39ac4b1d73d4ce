/* The GPIO source: a meter's impulse LED on a GPIO line.  The I/O thread
 * keeps one read in flight on the line-event fd; each completion carries up
 * to GPIO_READ_EVENTS kernel records, which go into the edge ring in one
 * batch, for the meter thread.  A line that cannot be opened or read is
 * retried every 10 s and shown as an error meanwhile. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "powerd.h"
#include "source.h"

#define GPIO_RETRY_NS	   (10 * 1000000000LL)
#define GPIO_LOG_PERIOD_NS (60 * 1000000000LL)

struct gpio_src {
	struct source *s;
	struct meter *m;
	struct gpio_line *gpio;
	struct loop_op op;	 /* the read in flight */
	struct loop_op retry_op; /* reopen timer after an error */
	unsigned char *rbuf;	 /* GPIO records */
	size_t rbuf_size;
	struct log_rate drop_log; /* edges lost: a line a minute at most */
	unsigned r_open, r_read, r_lost;
};

static void gpio_src_arm(struct gpio_src *g);
static void gpio_src_reopen(struct gpio_src *g);

static void gpio_src_retry_cb(struct loop *l, int res, void *arg)
{
	struct gpio_src *g = arg;

	(void)l;
	if (res == -ECANCELED || atomic_load(&g->m->pd->stopping))
		return;
	gpio_src_reopen(g);
}

static void gpio_src_fail(struct gpio_src *g, const char *what, int err, unsigned reason)
{
	const struct cfg_pulse *c = g->m->cfg;
	int r;

	log_err("meter %s: %s (chip %s, line %s): %s; retrying every 10 s", c->name, what, c->chip,
		c->line, strerror(-err));
	source_error(g->s, reason);
	atomic_fetch_add(&g->m->input_errors, 1);
	gpio_close(g->gpio);
	g->gpio = NULL;
	r = loop_timer_at(g->m->pd->loop, &g->retry_op, loop_now() + GPIO_RETRY_NS,
			  gpio_src_retry_cb, g);
	if (r) {
		/* Without a timer there is no retry: say so, and stay down. */
		log_err("meter %s: cannot schedule the retry: %s; the meter stays down until a "
			"reload",
			c->name, strerror(-r));
		source_set_state(g->s, SOURCE_ERROR, "%s (%s); no retry possible (%s)", what,
				 strerror(-err), strerror(-r));
		return;
	}
	source_set_state(g->s, SOURCE_ERROR, "%s (%s); retrying every 10 s", what, strerror(-err));
}

static void gpio_src_read_cb(struct loop *l, int res, void *arg)
{
	struct gpio_event ev[GPIO_READ_EVENTS];
	struct gpio_src *g = arg;
	struct meter *m = g->m;
	struct powerd *pd = m->pd;
	uint64_t lost = 0, full = 0, k;
	size_t i, n;

	(void)l;
	if (res == -ECANCELED || atomic_load(&pd->stopping))
		return;
	if (res < 0) {
		gpio_src_fail(g, "reading line events from", res, g->r_read);
		return;
	}
	n = gpio_decode(g->gpio, g->rbuf, (size_t)res, ev, &lost);
	for (i = 0; i < n; i++) {
		struct edge_item e = {
			.ts_ns = ev[i].ts_ns, .meter = m->index, .level = (uint32_t)ev[i].level};

		/* A full ring drops (and counts) the edge rather than
		 * stall the loop: the kernel's own FIFO is behind us. */
		if (ring_push(&pd->edges, &e))
			full++; /* counted by the ring */
	}
	if (lost) {
		atomic_fetch_add(&m->events_lost, lost);
		for (k = 0; k < lost; k++)
			source_error(g->s, g->r_lost);
	}
	if (lost + full) {
		g->drop_log.pending += lost + full - 1;
		if (log_rate_event(&g->drop_log, loop_now(), GPIO_LOG_PERIOD_NS, &k))
			log_warn("meter %s: %" PRIu64 " edges lost (the kernel's event buffer "
				 "overflowed, or the edge ring was full); flashes may be missed; "
				 "counted in powerd_pulse_events_lost_total and "
				 "powerd_ring_dropped_total",
				 m->cfg->name, k);
	}
	if (n)
		io_notify_meter(pd);
	gpio_src_arm(g);
}

static void gpio_src_arm(struct gpio_src *g)
{
	int r = loop_read(g->m->pd->loop, &g->op, gpio_fd(g->gpio), g->rbuf, g->rbuf_size, -1,
			  gpio_src_read_cb, g);

	if (r)
		gpio_src_fail(g, "queueing a read on", r, g->r_read);
}

static void gpio_src_reopen(struct gpio_src *g)
{
	const struct cfg_pulse *c = g->m->cfg;
	const char *why = "";
	char consumer[CFG_NAME_MAX + 8];
	int r;

	snprintf(consumer, sizeof(consumer), "powerd-%s", c->name);
	r = gpio_open(c, consumer, &g->gpio, &why);
	if (r) {
		gpio_src_fail(g, why, r, g->r_open);
		return;
	}
	log_info("meter %s: listening on %s, flash starts on the %s edge", c->name,
		 gpio_describe(g->gpio), c->edge == CFG_EDGE_FALLING ? "falling" : "rising");
	meter_set_input(g->m, gpio_describe(g->gpio));
	source_set_state(g->s, SOURCE_OK, "%s", gpio_describe(g->gpio));
	gpio_src_arm(g);
}

static int gpio_src_open(struct source *s)
{
	struct gpio_src *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->s = s;
	g->m = &s->pd->meters[s->index];
	g->rbuf_size = GPIO_READ_EVENTS * gpio_event_size();
	/* Zeroed: the kernel fills it through io_uring, which Valgrind cannot see. */
	g->rbuf = calloc(1, g->rbuf_size);
	if (!g->rbuf) {
		free(g);
		return -ENOMEM;
	}
	g->r_open = source_reason(s, "open");
	g->r_read = source_reason(s, "read");
	g->r_lost = source_reason(s, "events_lost");
	s->priv = g;
	return 0;
}

/* The line is opened on the I/O thread: a line that is missing at start
 * is retried like one that goes away later, and never fails the start. */
static void gpio_src_start(struct source *s)
{
	gpio_src_reopen(s->priv);
}

static void gpio_src_stop(struct source *s)
{
	struct gpio_src *g = s->priv;

	if (!g)
		return;
	gpio_close(g->gpio);
	free(g->rbuf);
	free(g);
	s->priv = NULL;
}

const struct source_ops source_gpio_ops = {
	.kind = "pulse",
	.open = gpio_src_open,
	.start = gpio_src_start,
	.stop = gpio_src_stop,
};

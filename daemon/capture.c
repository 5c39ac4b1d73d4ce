/* powerctl capture (capture.h): the start, the meter thread's recording and
 * the trace. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "capture.h"
#include "log.h"
#include "loop.h"
#include "powerd.h"

void capture_init(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void capture_destroy(struct capture *c)
{
	free(c->edges);
	c->edges = NULL;
	pthread_mutex_destroy(&c->lock);
}

int capture_start(struct powerd *pd, uint32_t meter, const char *body, size_t len, unsigned uid,
		  struct buf *reply)
{
	struct capture *c = &pd->capture;
	int64_t now = loop_now();
	char text[32], *end;
	double s;

	if (!len || len >= sizeof(text)) {
		buf_printf(reply, "a capture takes a number of seconds (1 to %d)\n",
			   CAPTURE_SECONDS_MAX);
		return -EINVAL;
	}
	memcpy(text, body, len);
	text[len] = '\0';
	s = strtod(text, &end);
	if (end == text || (*end && *end != '\n') || !isfinite(s) || s < 1 ||
	    s > CAPTURE_SECONDS_MAX) {
		buf_printf(reply, "a capture takes 1 to %d seconds\n", CAPTURE_SECONDS_MAX);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	if (c->held && now < c->end_ns + CAPTURE_KEEP_NS) {
		pthread_mutex_unlock(&c->lock);
		buf_printf(reply,
			   "another capture is running or waits to be fetched (one at a time)\n");
		return -EBUSY;
	}
	if (!c->edges)
		c->edges = malloc(CAPTURE_EDGES * sizeof(*c->edges));
	if (!c->edges) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	c->held = true;
	c->meter = meter;
	c->n = 0;
	c->missed = 0;
	c->start_ns = now;
	c->end_ns = now + (int64_t)(s * 1e9);
	c->events_lost0 = atomic_load(&pd->meters[meter].events_lost);
	atomic_store(&c->recording, true);
	pthread_mutex_unlock(&c->lock);
	log_info("meter %s: capturing its edges for %.0f s for uid %u (powerctl capture)",
		 pd->meters[meter].cfg->name, s, uid);
	buf_printf(reply, "capturing %.0f s\n", s);
	return 0;
}

void capture_edge(struct capture *c, const struct edge_item *e, int64_t now)
{
	if (!atomic_load_explicit(&c->recording, memory_order_relaxed))
		return;
	pthread_mutex_lock(&c->lock);
	if (now >= c->end_ns)
		atomic_store(&c->recording, false);
	else if (e->meter == c->meter && c->n < CAPTURE_EDGES)
		c->edges[c->n++] = *e;
	else if (e->meter == c->meter)
		c->missed++;
	pthread_mutex_unlock(&c->lock);
}

int capture_fetch(struct powerd *pd, uint32_t meter, struct buf *reply)
{
	struct capture *c = &pd->capture;
	/* Edges up to the end may still be on their way to the meter thread. */
	int64_t now = loop_now(), due, base;
	uint64_t lost;
	size_t i;

	pthread_mutex_lock(&c->lock);
	due = c->end_ns + METER_DELIVERY_MARGIN_NS;
	if (!c->held || c->meter != meter) {
		pthread_mutex_unlock(&c->lock);
		buf_printf(reply, "no capture of this meter to fetch\n");
		return -ENOENT;
	}
	if (now < due) {
		pthread_mutex_unlock(&c->lock);
		buf_printf(reply, "still capturing: %.1f s left\n", (double)(due - now) / 1e9);
		return -EAGAIN;
	}
	atomic_store(&c->recording, false);
	lost = atomic_load(&pd->meters[meter].events_lost) - c->events_lost0;
	/* An edge taken just after the start may be from just before it. */
	base = c->n && c->edges[0].ts_ns < c->start_ns ? c->edges[0].ts_ns : c->start_ns;
	buf_printf(reply,
		   "# powerd capture: meter %s, %.0f s, %zu edges, %" PRIu64
		   " lost (kernel), %" PRIu64 " not kept (over %d)\n",
		   pd->meters[meter].cfg->name, (double)(c->end_ns - c->start_ns) / 1e9, c->n, lost,
		   c->missed, CAPTURE_EDGES);
	/* Seconds from the capture's start: pulselog needs only the spacing. */
	for (i = 0; i < c->n; i++) {
		int64_t t = c->edges[i].ts_ns - base;

		buf_printf(reply, "%" PRId64 ".%09" PRId64 " %u\n", t / (int64_t)1000000000,
			   t % (int64_t)1000000000, c->edges[i].level ? 1u : 0u);
	}
	c->held = false;
	free(c->edges);
	c->edges = NULL;
	pthread_mutex_unlock(&c->lock);
	return reply->err;
}

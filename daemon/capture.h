/* powerctl capture: a meter's raw edges for a while, as a trace pulselog
 * reads (trace.h), to tune min_pulse_ms.
 *
 * The edges are the meter thread's own: it records each edge it takes from
 * the edge ring (the GPIO line's events, or a replay's) while a capture
 * runs, so the line is not requested a second time.  One capture at a time
 * for the daemon, in a buffer of at most CAPTURE_EDGES edges taken at its
 * start; the HTTP thread never waits for it: powerctl starts it, sleeps,
 * and fetches the trace (the buffer is freed then, or by the next start
 * once the result has waited CAPTURE_KEEP_NS unfetched). */
#ifndef POWERD_CAPTURE_H
#define POWERD_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPTURE_SECONDS_MAX 600
#define CAPTURE_EDGES	    65536 /* 1 MiB; 10 flashes a second for 600 s take 12,000 */
#define CAPTURE_KEEP_NS	    (60 * 1000000000LL)

struct buf;
struct edge_item;
struct powerd;

struct capture {
	pthread_mutex_t lock;
	_Atomic bool recording; /* read by the meter thread for every edge */
	bool held;		/* a capture is running or waits to be fetched */
	uint32_t meter;
	int64_t start_ns, end_ns; /* CLOCK_MONOTONIC, the meter thread's "now" */
	uint64_t events_lost0;	  /* the meter's kernel losses at the start */
	struct edge_item *edges;
	size_t n;
	uint64_t missed; /* edges past CAPTURE_EDGES */
};

void capture_init(struct capture *c);
void capture_destroy(struct capture *c);

/* HTTP thread: "meter/NAME/capture" with body "SECONDS" starts one;
 * "meter/NAME/capture-fetch" returns the trace once it is over (-EAGAIN
 * before).  -ENOENT (no such meter, or nothing captured), -EINVAL,
 * -EBUSY (another capture), -ENOMEM. */
int capture_start(struct powerd *pd, uint32_t meter, const char *body, size_t len, unsigned uid,
		  struct buf *reply);
int capture_fetch(struct powerd *pd, uint32_t meter, struct buf *reply);

/* Meter thread: an edge taken from the ring at its time now. */
void capture_edge(struct capture *c, const struct edge_item *e, int64_t now);

#endif

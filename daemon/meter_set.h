/* powerctl set-energy: a pulse meter's energy counter set to the meter's
 * own register reading.  The counter belongs to the meter thread, so an
 * HTTP thread hands the request over (one at a time for the daemon) and
 * waits until the meter thread has set it and written the checkpoint. */
#ifndef POWERD_METER_SET_H
#define POWERD_METER_SET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct buf;
struct powerd;

struct mset {
	pthread_mutex_t lock;
	pthread_cond_t done;  /* CLOCK_MONOTONIC */
	bool busy;	      /* an HTTP thread waits for its request */
	_Atomic bool pending; /* for the meter thread */
	bool answered;
	uint32_t meter;
	uint64_t flashes, old;
	int result;
};

void mset_init(struct mset *ms);
void mset_destroy(struct mset *ms);

/* HTTP thread: body "KWH" for [pulse.NAME]; one line in reply.  Returns 0,
 * -ENOENT (no such meter), -EINVAL (not a number, negative), -EBUSY (another
 * request waits), -ETIMEDOUT, or the checkpoint's error. */
int mset_request(struct powerd *pd, const char *name, size_t nlen, const char *body, size_t len,
		 unsigned uid, struct buf *reply);

/* Meter thread, once per turn: applies a pending request. */
void mset_apply(struct powerd *pd);

#endif

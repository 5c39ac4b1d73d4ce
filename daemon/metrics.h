/* /metrics: the status as Prometheus text exposition format 0.0.4.
 *
 * Base units (watts, joules, seconds, bytes), counters end in _total, every
 * family carries # HELP and # TYPE, and families without a sample are left
 * out.  Numbers are printed in the calling thread's LC_NUMERIC, which must
 * be "C" (http.c pins it per request). */
#ifndef POWERD_METRICS_H
#define POWERD_METRICS_H

#include "buf.h"
#include "status.h"

/* Appends to out.  Returns 0 or -ENOMEM. */
int metrics_render(const struct status *st, struct buf *out);

#endif

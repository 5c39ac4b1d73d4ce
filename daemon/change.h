/* Change detection with heartbeat (the PowMr bridge's semantics), per sink:
 * a series is written only when one of its fields changes; an unchanged
 * value is re-sent once every `heartbeat` so dashboards have no gaps, but
 * never when it is older than `freshness` (a stale reading is not news) and
 * never for an all-zero value (a zero is sent once, when it appears). */
#ifndef POWERD_CHANGE_H
#define POWERD_CHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

struct sink_change;

int change_new(struct sink_change **out, int64_t heartbeat_ns, int64_t freshness_ns);
void change_free(struct sink_change *c);

/* Should this sample be sent?  now_unix_ns is the wall clock. */
bool change_filter(struct sink_change *c, const struct sample_view *s, int64_t now_unix_ns);

#endif

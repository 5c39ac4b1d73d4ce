/* The CAN source's interface to the rest of the daemon (source_can.c):
 * the bus states it reports, for /metrics, and transmitting. */
#ifndef POWERD_SOURCE_CAN_H
#define POWERD_SOURCE_CAN_H

#include <stddef.h>

struct buf;
struct source;

/* Every value of status_can.bus_state, NULL-terminated. */
extern const char *const source_can_bus_states[];

/* `powerctl can send NAME EVENTFILE`, on the HTTP thread: text is a
 * recorded user event, candump log lines.  Checked here (allow_transmit,
 * the interface, transmit_max), then sent by the I/O thread on the
 * source's own socket with the recorded gaps; returns when it is done,
 * 0 or a negative errno (http_action_fn's), with a line for the caller in
 * reply.  Logged with the caller's uid, counted. */
int source_can_transmit(struct source *s, const char *text, size_t len, unsigned uid,
			struct buf *reply);

#endif

/* The CAN source's interface to the rest of the daemon (source_can.c):
 * the bus states it reports, for /metrics. */
#ifndef POWERD_SOURCE_CAN_H
#define POWERD_SOURCE_CAN_H

/* Every value of status_can.bus_state, NULL-terminated. */
extern const char *const source_can_bus_states[];

#endif

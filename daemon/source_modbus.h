/* The Modbus source's interface to the rest of the daemon
 * (source_modbus.c): writing a register map's value. */
#ifndef POWERD_SOURCE_MODBUS_H
#define POWERD_SOURCE_MODBUS_H

#include <stddef.h>

struct buf;
struct source;

/* `powerctl modbus write NAME FIELD VALUE`, on the HTTP thread: text is
 * "FIELD VALUE" (FIELD as regmap_find() takes it, VALUE in physical units).
 * Checked here (allow_write, the map's writable flag, the range and the
 * steps of its scale), then sent by the I/O thread on the device's bus
 * between two polls; returns when the device has answered, 0 or a negative
 * errno (http_action_fn's), with a line for the caller in reply.  Logged
 * with the caller's uid, counted (written, or the reason write_refused). */
int source_modbus_write(struct source *s, const char *text, size_t len, unsigned uid,
			struct buf *reply);

#endif

/* The GPIO backend: the only code that knows which libgpiod API is in use.
 *
 * gpio_open() requests one line for edge events on both edges (the filter
 * needs the length of the flash and of the gap), with the configured bias,
 * and active-low when the flash starts on a falling edge, so that level 1
 * always means "LED on".  The returned fd is read by the event loop; the raw
 * bytes are decoded by gpio_decode(), which knows the uAPI record format of
 * the backend (v1 for libgpiod 1.6, v2 for libgpiod 2.x).  Timestamps are
 * the kernel's (CLOCK_MONOTONIC), never a user-space clock. */
#ifndef POWERD_GPIO_H
#define POWERD_GPIO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct gpio_line;

struct gpio_event {
	int64_t ts_ns;
	int level; /* 1 active (LED on), 0 inactive */
};

/* Returns 0 or a negative errno; *why gets a static explanation on error. */
int gpio_open(const struct cfg_pulse *c, const char *consumer, struct gpio_line **out,
	      const char **why);
void gpio_close(struct gpio_line *g);
int gpio_fd(const struct gpio_line *g);

/* Size of one kernel event record; read buffers hold a multiple of it. */
size_t gpio_event_size(void);

/* Decode n bytes (a whole number of records) into ev[], returning the count.
 * *lost is increased by the number of events the kernel dropped (sequence
 * gaps with the v2 uAPI; with v1, two consecutive edges of the same kind). */
size_t gpio_decode(struct gpio_line *g, const void *buf, size_t n, struct gpio_event *ev,
		   uint64_t *lost);

/* Human-readable description, e.g. "gpiochip0 line 17 (PULSE0)". */
const char *gpio_describe(const struct gpio_line *g);

#endif

/* GPIO backend for libgpiod 1.6 (Debian 12, Raspberry Pi OS bookworm).
 *
 * libgpiod 1.6 speaks the kernel's v1 character-device uAPI, so the
 * line-event fd yields struct gpioevent_data records.  We let the event loop
 * read that fd (many records per read) and decode the records here, rather
 * than calling gpiod_line_event_read(), which would block the I/O thread. */
#include <errno.h>
#include <gpiod.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"

struct gpio_line {
	struct gpiod_chip *chip;
	struct gpiod_line *line;
	int last_level; /* -1 before the first event */
	char desc[160];
};

/* A line given as a decimal offset, or else by name. */
static struct gpiod_line *gpio_find(struct gpiod_chip *chip, const char *spec)
{
	char *end;
	unsigned long off;

	errno = 0;
	off = strtoul(spec, &end, 10);
	if (*spec && !*end && !errno)
		return off < gpiod_chip_num_lines(chip) ? gpiod_chip_get_line(chip, (unsigned)off)
							: NULL;
	return gpiod_chip_find_line(chip, spec);
}

int gpio_open(const struct cfg_pulse *c, const char *consumer, struct gpio_line **out,
	      const char **why)
{
	struct gpiod_line_request_config req = {
		.consumer = consumer,
		.request_type = GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES,
	};
	struct gpio_line *g = calloc(1, sizeof(*g));
	const char *name;
	int r;

	if (!g)
		return -ENOMEM;
	g->last_level = -1;
	g->chip = gpiod_chip_open_lookup(c->chip);
	if (!g->chip) {
		r = -errno;
		*why = "cannot open the GPIO chip";
		goto fail;
	}
	g->line = gpio_find(g->chip, c->line);
	if (!g->line) {
		r = -ENOENT;
		*why = "no such line on this chip";
		goto fail;
	}
	if (c->edge == CFG_EDGE_FALLING)
		req.flags |= GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
	switch (c->bias) {
	case CFG_BIAS_PULL_UP:
		req.flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
		break;
	case CFG_BIAS_PULL_DOWN:
		req.flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
		break;
	case CFG_BIAS_DISABLED:
		req.flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE;
		break;
	case CFG_BIAS_AS_IS:
		break;
	}
	if (gpiod_line_request(g->line, &req, 0) < 0) {
		r = -errno;
		*why = r == -EBUSY ? "line is in use by another program"
				   : "cannot request the line for edge events";
		goto fail;
	}
	name = gpiod_line_name(g->line);
	snprintf(g->desc, sizeof(g->desc), "%s line %u%s%s%s", gpiod_chip_name(g->chip),
		 gpiod_line_offset(g->line), name ? " (" : "", name ? name : "", name ? ")" : "");
	*out = g;
	return 0;
fail:
	gpio_close(g);
	return r ? r : -EIO;
}

void gpio_close(struct gpio_line *g)
{
	if (!g)
		return;
	if (g->line)
		gpiod_line_release(g->line);
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
}

int gpio_fd(const struct gpio_line *g)
{
	return gpiod_line_event_get_fd(g->line);
}

size_t gpio_event_size(void)
{
	return sizeof(struct gpioevent_data);
}

size_t gpio_decode(struct gpio_line *g, const void *buf, size_t n, struct gpio_event *ev,
		   uint64_t *lost)
{
	const unsigned char *p = buf;
	size_t i, count = n / sizeof(struct gpioevent_data);

	for (i = 0; i < count; i++) {
		struct gpioevent_data d;

		memcpy(&d, p + i * sizeof(d), sizeof(d));
		ev[i].ts_ns = (int64_t)d.timestamp;
		ev[i].level = d.id == GPIOEVENT_EVENT_RISING_EDGE;
		/* The v1 uAPI has no sequence numbers; the kernel's event
		 * FIFO drops when full, which shows as two edges in a row of
		 * the same kind. */
		if (ev[i].level == g->last_level)
			(*lost)++;
		g->last_level = ev[i].level;
	}
	return count;
}

const char *gpio_describe(const struct gpio_line *g)
{
	return g->desc;
}

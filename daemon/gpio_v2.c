/* GPIO backend for libgpiod 2.x (Debian 13, Raspberry Pi OS trixie).
 *
 * libgpiod 2 speaks the kernel's v2 uAPI: the request fd yields struct
 * gpio_v2_line_event records whose per-line sequence numbers make every
 * lost event countable.  With both edges requested, the kernel (6.1) still
 * decides the edge kind by reading the line in its IRQ thread, as v1 does
 * (the VM test's kprobes show it), so a glitch shorter than that thread's
 * latency can arrive as two edges of one kind here too; the timestamp is
 * taken in the hard IRQ.  As with v1, the loop reads the fd and this file
 * only decodes. */
#include <dirent.h>
#include <errno.h>
#include <gpiod.h>
#include <linux/gpio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"

struct gpio_line {
	struct gpiod_chip *chip;
	struct gpiod_line_request *req;
	unsigned offset;
	uint32_t last_seqno; /* 0 before the first event (seqnos start at 1) */
	char desc[160];
};

/* "/dev/gpiochip0", "gpiochip0", "0", or a chip label such as
 * "pinctrl-bcm2711": the forms libgpiod 1.6's lookup accepted. */
static struct gpiod_chip *gpio_chip_lookup(const char *spec)
{
	char path[300];
	struct dirent *de;
	DIR *d;

	if (spec[0] == '/')
		return gpiod_chip_open(spec);
	if (spec[0] >= '0' && spec[0] <= '9')
		snprintf(path, sizeof(path), "/dev/gpiochip%s", spec);
	else
		snprintf(path, sizeof(path), "/dev/%s", spec);
	if (gpiod_is_gpiochip_device(path))
		return gpiod_chip_open(path);
	d = opendir("/dev");
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		struct gpiod_chip *chip;
		struct gpiod_chip_info *info;
		bool match;

		if (strncmp(de->d_name, "gpiochip", 8))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		chip = gpiod_is_gpiochip_device(path) ? gpiod_chip_open(path) : NULL;
		info = chip ? gpiod_chip_get_info(chip) : NULL;
		match = info && !strcmp(gpiod_chip_info_get_label(info), spec);
		if (info)
			gpiod_chip_info_free(info);
		if (match) {
			closedir(d);
			return chip;
		}
		if (chip)
			gpiod_chip_close(chip);
	}
	closedir(d);
	errno = ENOENT;
	return NULL;
}

static int gpio_find_offset(struct gpiod_chip *chip, const char *spec, unsigned *offset)
{
	struct gpiod_chip_info *info = gpiod_chip_get_info(chip);
	size_t nlines = info ? gpiod_chip_info_get_num_lines(info) : 0;
	unsigned long off;
	char *end;
	int r;

	if (info)
		gpiod_chip_info_free(info);
	errno = 0;
	off = strtoul(spec, &end, 10);
	if (*spec && !*end && !errno) {
		if (off >= nlines)
			return -ENOENT;
		*offset = (unsigned)off;
		return 0;
	}
	r = gpiod_chip_get_line_offset_from_name(chip, spec);
	if (r < 0)
		return -ENOENT;
	*offset = (unsigned)r;
	return 0;
}

static int gpio_request(struct gpio_line *g, const struct cfg_pulse *c, const char *consumer)
{
	struct gpiod_line_settings *ls = gpiod_line_settings_new();
	struct gpiod_line_config *lc = gpiod_line_config_new();
	struct gpiod_request_config *rc = gpiod_request_config_new();
	static const enum gpiod_line_bias bias[] = {
		[CFG_BIAS_AS_IS] = GPIOD_LINE_BIAS_AS_IS,
		[CFG_BIAS_DISABLED] = GPIOD_LINE_BIAS_DISABLED,
		[CFG_BIAS_PULL_UP] = GPIOD_LINE_BIAS_PULL_UP,
		[CFG_BIAS_PULL_DOWN] = GPIOD_LINE_BIAS_PULL_DOWN,
	};
	int r = -ENOMEM;

	if (!ls || !lc || !rc)
		goto out;
	if (gpiod_line_settings_set_direction(ls, GPIOD_LINE_DIRECTION_INPUT) ||
	    gpiod_line_settings_set_edge_detection(ls, GPIOD_LINE_EDGE_BOTH) ||
	    gpiod_line_settings_set_bias(ls, bias[c->bias]) ||
	    gpiod_line_settings_set_event_clock(ls, GPIOD_LINE_CLOCK_MONOTONIC)) {
		r = -EINVAL;
		goto out;
	}
	gpiod_line_settings_set_active_low(ls, c->edge == CFG_EDGE_FALLING);
	if (gpiod_line_config_add_line_settings(lc, &g->offset, 1, ls)) {
		r = -errno;
		goto out;
	}
	gpiod_request_config_set_consumer(rc, consumer);
	/* A small kernel buffer is plenty: the loop always has a read queued. */
	gpiod_request_config_set_event_buffer_size(rc, 1024);
	g->req = gpiod_chip_request_lines(g->chip, rc, lc);
	r = g->req ? 0 : -errno;
out:
	gpiod_line_settings_free(ls);
	gpiod_line_config_free(lc);
	gpiod_request_config_free(rc);
	return r;
}

int gpio_open(const struct cfg_pulse *c, const char *consumer, struct gpio_line **out,
	      const char **why)
{
	struct gpio_line *g = calloc(1, sizeof(*g));
	struct gpiod_chip_info *ci;
	struct gpiod_line_info *li;
	const char *name;
	int r;

	if (!g)
		return -ENOMEM;
	g->chip = gpio_chip_lookup(c->chip);
	if (!g->chip) {
		r = errno ? -errno : -ENOENT;
		*why = "cannot open the GPIO chip";
		goto fail;
	}
	r = gpio_find_offset(g->chip, c->line, &g->offset);
	if (r) {
		*why = "no such line on this chip";
		goto fail;
	}
	r = gpio_request(g, c, consumer);
	if (r) {
		*why = r == -EBUSY ? "line is in use by another program"
				   : "cannot request the line for edge events";
		goto fail;
	}
	ci = gpiod_chip_get_info(g->chip);
	li = gpiod_chip_get_line_info(g->chip, g->offset);
	name = li ? gpiod_line_info_get_name(li) : NULL;
	snprintf(g->desc, sizeof(g->desc), "%s line %u%s%s%s",
		 ci ? gpiod_chip_info_get_name(ci) : c->chip, g->offset, name ? " (" : "",
		 name ? name : "", name ? ")" : "");
	if (li)
		gpiod_line_info_free(li);
	if (ci)
		gpiod_chip_info_free(ci);
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
	if (g->req)
		gpiod_line_request_release(g->req);
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
}

int gpio_fd(const struct gpio_line *g)
{
	return gpiod_line_request_get_fd(g->req);
}

size_t gpio_event_size(void)
{
	return sizeof(struct gpio_v2_line_event);
}

size_t gpio_decode(struct gpio_line *g, const void *buf, size_t n, struct gpio_event *ev,
		   uint64_t *lost)
{
	const unsigned char *p = buf;
	size_t i, count = n / sizeof(struct gpio_v2_line_event);

	for (i = 0; i < count; i++) {
		struct gpio_v2_line_event e;

		memcpy(&e, p + i * sizeof(e), sizeof(e));
		ev[i].ts_ns = (int64_t)e.timestamp_ns;
		ev[i].level = e.id == GPIO_V2_LINE_EVENT_RISING_EDGE;
		/* The kernel numbers every event of the line; a gap is events
		 * its FIFO had to drop. */
		if (g->last_seqno && e.line_seqno > g->last_seqno + 1)
			*lost += e.line_seqno - g->last_seqno - 1;
		g->last_seqno = e.line_seqno;
	}
	return count;
}

const char *gpio_describe(const struct gpio_line *g)
{
	return g->desc;
}

/* pulselog TRACE --impulses-per-kwh N [--min-pulse-ms M]
 *
 * Offline analysis of a pulse trace (PRODUCT.md 4.3) with the daemon's own
 * filter and converter: one CSV line per accepted flash, then a summary.
 * At the end of the trace the line is taken to stay at its last level, as
 * it does when the daemon finishes a replay, so both count the same flashes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulse.h"
#include "trace.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pulselog TRACE|- --impulses-per-kwh N [--min-pulse-ms M] [--quiet]\n"
		   "       pulselog --version\n"
		   "  prints time_s,interval_s,power_w,energy_wh for each accepted flash\n"
		   "  (interval and power are empty for the first flash), then a summary line\n"
		   "  starting with '#'; --quiet prints only the summary.\n"
		   "  -h, --help  this text; --version  print the version\n");
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi || *s == '-')
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void print_flash(const struct pulse_params *p, const struct pulse_flash *f)
{
	int64_t s = f->ts_ns / PULSE_NS_PER_S, ns = f->ts_ns % PULSE_NS_PER_S;

	if (f->interval_ns > 0)
		printf("%" PRId64 ".%09" PRId64 ",%.9f,%.3f,%.6f\n", s, ns,
		       (double)f->interval_ns / 1e9, f->power_w, pulse_energy_wh(p, f->count));
	else
		printf("%" PRId64 ".%09" PRId64 ",,,%.6f\n", s, ns, pulse_energy_wh(p, f->count));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"impulses-per-kwh", required_argument, NULL, 'i'},
		{"min-pulse-ms", required_argument, NULL, 'm'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct pulse_params p = {.min_pulse_ns = 5 * 1000000LL, .timeout_ns = INT64_MAX};
	uint32_t ms = 5;
	static struct trace_reader tr; /* its 64 KiB chunk is kept off the stack */
	struct pulse_meter m;
	struct pulse_flash f;
	struct trace_edge e;
	bool quiet = false;
	const char *name;
	int c, r, fd;

	while ((c = getopt_long(argc, argv, "i:m:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_u32(optarg, 1, 1000000, &p.impulses_per_kwh)) {
				fprintf(stderr,
					"pulselog: --impulses-per-kwh: expected 1..1000000\n");
				return 2;
			}
			break;
		case 'm':
			if (parse_u32(optarg, 0, 10000, &ms)) {
				fprintf(stderr, "pulselog: --min-pulse-ms: expected 0..10000\n");
				return 2;
			}
			p.min_pulse_ns = (int64_t)ms * 1000000LL;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pulselog %s\n", POWERD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || !p.impulses_per_kwh) {
		usage(stderr);
		return 2;
	}
	name = argv[optind];
	fd = strcmp(name, "-") ? open(name, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0) {
		fprintf(stderr, "pulselog: %s: %s\n", name, strerror(errno));
		return 1;
	}
	pulse_init(&m, &p, 0);
	trace_reader_init(&tr, fd, name, stderr);
	if (!quiet)
		printf("time_s,interval_s,power_w,energy_wh\n");
	while ((r = trace_reader_next(&tr, &e)) > 0) {
		/* Time passes between edges: confirmations happen in order. */
		if (pulse_advance(&m, e.ts_ns, &f) > 0 && !quiet)
			print_flash(&p, &f);
		if (pulse_edge(&m, e.ts_ns, e.level, &f) > 0 && !quiet)
			print_flash(&p, &f);
	}
	if (r == 0 && pulse_advance(&m, INT64_MAX, &f) > 0 && !quiet)
		print_flash(&p, &f);
	printf("# flashes=%" PRIu64 " glitches_rejected=%" PRIu64 " edges=%" PRIu64
	       " bad_lines=%" PRIu64 " energy_wh=%.6f\n",
	       m.flashes, m.glitches, m.edges, tr.split.bad, pulse_energy_wh(&p, m.flashes));
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0) {
		fprintf(stderr, "pulselog: %s: read error: %s\n", name, strerror(-r));
		return 1;
	}
	return 0;
}

/* Wide samples (issue 7): how fast they go through ring -> uploader -> file
 * sink, and how much memory a queued one takes.
 *
 *   bench_samples pipeline --state DIR [--samples N (200000)] [--fields F (40)]
 *   bench_samples memory   [--samples N (4096)] [--fields F (40)]
 *
 * A sample is "wide,meter=mNN,site=home f00_w=..,f01_w=..,... ts": F float
 * fields (40 by default: an EG4 input block), published as one sample.
 * (powerd 0.1.0 held at most 6 fields in a fixed 1.3 KB struct sample, so
 * there one wide sample went as ceil(F / 6) samples of the same series and
 * time, which InfluxDB merges into one point; this program's first version,
 * commit 7d9baf9, measured that path.)
 *
 * pipeline: the bench thread builds and publishes N wide samples as fast
 * as its ring (BS_RING bytes) takes them, and waits until the file sink has
 * written all of them (batch_size 5000, spool_fsync never: the sample path,
 * not the disk).
 * memory: N wide samples pushed into a ring of the kind the uploader reads
 * (recring.h), and the resident memory that costs, per sample.
 * Output: "bench NAME key=value ..." lines; exit 1 on a wrong result. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "recring.h"
#include "sample.h"
#include "status.h"
#include "uploader.h"

#define BS_T0	      1700000000000000000LL
#define BS_TIMEOUT_NS (300 * 1000000000LL)
#define BS_RING	      (256 * 1024)

struct bs_opts {
	uint64_t samples;
	unsigned fields;
	const char *state;
};

static long bs_status_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n))
			v = strtol(line + n, NULL, 10);
	fclose(f);
	return v;
}

static void bs_sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int bs_build(struct sample *s, const struct bs_opts *o, uint64_t i)
{
	char meter[16], key[16];
	unsigned f;

	snprintf(meter, sizeof(meter), "m%02u", (unsigned)(i % 100));
	if (sample_reset(s, "wide", BS_T0 + (int64_t)i * 1000000) ||
	    sample_tag(s, "meter", meter) || sample_tag(s, "site", "home"))
		return -EINVAL;
	for (f = 0; f < o->fields; f++) {
		snprintf(key, sizeof(key), "f%02u_w", f);
		if (sample_float(s, key, (double)((i * 7919 + f * 104729) % 1000000) / 100.0))
			return -EINVAL;
	}
	return 0;
}

static int bs_status(struct uploader *u, struct status_sink *ss, uint64_t *dropped)
{
	struct status st;
	size_t i;
	int r;

	memset(&st, 0, sizeof(st));
	r = uploader_status(u, &st);
	if (r)
		return r;
	if (st.nsinks != 1) {
		status_release(&st);
		return -EINVAL;
	}
	*ss = st.sinks[0];
	*dropped = 0;
	for (i = 0; i < st.nrings; i++)
		*dropped += st.rings[i].dropped;
	status_release(&st);
	return 0;
}

static int bs_pipeline(const struct bs_opts *o)
{
	char text[2048], path[PATH_MAX];
	const uint64_t want = o->samples;
	struct config cfg;
	struct uploader *u = NULL;
	struct uploader_producer *p;
	struct status_sink ss;
	struct sample s;
	uint64_t i, dropped = 0, waits = 0;
	int64_t t0, t_pub, t_end, give_up;
	long rss0;
	FILE *f;
	int n, c, rc = 1;

	sample_init(&s, "wide", 0);
	snprintf(path, sizeof(path), "%s/out.lp", o->state);
	n = snprintf(text, sizeof(text),
		     "[daemon]\nstate_dir = %s/state\nlisten = off\n"
		     "[sink.f]\ntype = file\npath = %s\nspool_fsync = never\n",
		     o->state, path);
	memset(&cfg, 0, sizeof(cfg));
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    cfg_load_mem("bench_samples.conf", text, (size_t)n, &cfg, stderr) ||
	    uploader_start(&u, &cfg) || !u || uploader_producer(u, "bench", BS_RING, &p))
		goto end;
	bs_sleep_us(200000);
	rss0 = bs_status_kb("VmRSS:");
	t0 = clock_mono_ns();
	for (i = 0; i < o->samples; i++) {
		if (bs_build(&s, o, i))
			goto end;
		/* The ring is full: the bench waits, as a replay would. */
		while (uploader_publish(p, &s) == -EAGAIN) {
			waits++;
			bs_sleep_us(20);
		}
	}
	t_pub = clock_mono_ns();
	give_up = t_pub + BS_TIMEOUT_NS;
	for (;;) {
		if (bs_status(u, &ss, &dropped))
			goto end;
		if (ss.sent >= want || dropped || ss.dropped_encode || clock_mono_ns() > give_up)
			break;
		bs_sleep_us(200);
	}
	t_end = clock_mono_ns();
	if (ss.sent != want || dropped || ss.dropped_encode) {
		fprintf(stderr,
			"FAIL pipeline: %" PRIu64 " of %" PRIu64 " sent, %" PRIu64
			" dropped by rings, %" PRIu64 " unencodable (%s)\n",
			ss.sent, want, dropped, ss.dropped_encode, ss.last_error);
		goto end;
	}
	printf("bench samples_pipeline fields=%u samples=%" PRIu64 " parts_per_sample=1"
	       " wall_s=%.3f samples_per_s=%.0f fields_per_s=%.0f publish_s=%.3f"
	       " ring_waits=%" PRIu64 " ring_bytes=%d packed_bytes=%zu rss_idle_kb=%ld"
	       " hwm_kb=%ld\n",
	       o->fields, o->samples, (double)(t_end - t0) / 1e9,
	       (double)o->samples / ((double)(t_end - t0) / 1e9),
	       (double)o->samples * o->fields / ((double)(t_end - t0) / 1e9),
	       (double)(t_pub - t0) / 1e9, waits, BS_RING, sample_len(&s), rss0,
	       bs_status_kb("VmHWM:"));
	uploader_stop(u);
	u = NULL;
	/* Every line is in the file: one per published sample. */
	f = fopen(path, "r");
	i = 0;
	while (f && (c = getc(f)) != EOF)
		i += c == '\n';
	if (f)
		fclose(f);
	if (i != want) {
		fprintf(stderr, "FAIL pipeline: %" PRIu64 " lines in %s, %" PRIu64 " expected\n", i,
			path, want);
		goto end;
	}
	rc = 0;
end:
	uploader_stop(u);
	cfg_free(&cfg);
	sample_free(&s);
	return rc;
}

static int bs_memory(const struct bs_opts *o)
{
	struct recring r;
	struct sample s;
	size_t cap = RECRING_MIN, one;
	uint64_t i;
	long rss0, rss1;
	int rc = 1;

	sample_init(&s, "wide", 0);
	if (bs_build(&s, o, 0))
		goto end;
	one = (size_t)recring_size(sample_len(&s));
	while (cap < 2 * o->samples * one)
		cap *= 2;
	if (recring_init(&r, cap))
		goto end;
	rss0 = bs_status_kb("VmRSS:");
	for (i = 0; i < o->samples; i++)
		if (bs_build(&s, o, i) || recring_push(&r, sample_data(&s), sample_len(&s))) {
			recring_free(&r);
			goto end;
		}
	rss1 = bs_status_kb("VmRSS:");
	printf("bench samples_memory fields=%u samples=%" PRIu64 " parts_per_sample=1"
	       " ring_bytes_per_sample=%zu packed_bytes=%zu rss_delta_kb=%ld"
	       " rss_bytes_per_sample=%.0f\n",
	       o->fields, o->samples, recring_used(&r) / (size_t)o->samples, sample_len(&s),
	       rss1 - rss0, (double)(rss1 - rss0) * 1024 / (double)o->samples);
	recring_free(&r);
	rc = 0;
end:
	sample_free(&s);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"samples", required_argument, NULL, 'n'},
		{"fields", required_argument, NULL, 'f'},
		{"state", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	struct bs_opts o = {.samples = 0, .fields = 40};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.samples = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			o.fields = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.state = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || !o.fields || o.fields > SAMPLE_MAX_FIELDS)
		goto usage;
	if (!strcmp(argv[optind], "pipeline") && o.state) {
		o.samples = o.samples ? o.samples : 200000;
		return bs_pipeline(&o);
	}
	if (!strcmp(argv[optind], "memory")) {
		o.samples = o.samples ? o.samples : 4096;
		return bs_memory(&o);
	}
usage:
	fprintf(stderr, "usage: bench_samples pipeline --state DIR [--samples N] [--fields F]\n"
			"       bench_samples memory [--samples N] [--fields F]\n");
	return 2;
}

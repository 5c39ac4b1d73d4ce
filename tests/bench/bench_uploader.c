/* The uploader's figures (issue 3): line protocol encoding, end to end into
 * a server, spool appends, backlog drain, memory while a sink is down.
 *
 *   bench_uploader encode  [--samples N] [--out FILE]
 *   bench_uploader lpfiles --samples N --meter NAME --t0-ns T --step-ns S --dir DIR
 *   bench_uploader e2e     --url URL --state DIR [--samples N] [--meter NAME]
 *                          [--t0-ns T] [--step-ns S] [--gzip yes|no]
 *   bench_uploader backlog --url URL --state DIR [--series 100] [--seconds 3600]
 *                          [--meter PREFIX]
 *   bench_uploader spool   --dir DIR [--seconds 3]
 *
 * Every sample is "pulse,meter=NAME power_w=..,energy_wh=..,interval_s=.. ts"
 * and sample i of a run has the values bu_values() gives: lineproto_ref.py
 * computes the very same doubles, so its output can be compared line by line.
 *
 * backlog is driven by tests/bench/run.sh: with the server down it publishes
 * the backlog, waits until all of it is in the spool, prints "READY" and
 * reads one line from stdin (sent once the server is up again), then times
 * the drain.  Each mode checks what it can see (nothing dropped, every sample
 * acknowledged; run.sh counts the points in the server) and exits 1 when a
 * result is wrong.  Output: "bench NAME key=value ..." lines. */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "lineproto.h"
#include "sample.h"
#include "spool.h"
#include "status.h"
#include "uploader.h"

#define BU_CHUNK      5000	   /* samples per request: the default batch_size */
#define BU_RING	      (128 * 1024) /* the bench's ring: some 1300 pulse samples */
#define BU_ENCODE_T0  1700000000123456789LL
#define BU_ENCODE_DT  1000003007LL
#define BU_POLL_NS    (1 * 1000000LL)
#define BU_TIMEOUT_NS (300 * 1000000000LL)

struct bu_opts {
	uint64_t samples;
	uint64_t series;
	uint64_t seconds;
	const char *url;
	const char *state;
	const char *dir;
	const char *out;
	const char *meter;
	int64_t t0_ns;
	int64_t step_ns;
	bool gzip;
};

static int64_t bu_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t bu_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void bu_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Pulse-like values of sample i.  Only divisions of exactly representable
 * integers: no multiply-add a compiler could fuse, so Python's floats are
 * bit for bit the same on every architecture. */
static void bu_values(uint64_t i, double *power_w, double *energy_wh, double *interval_s)
{
	*interval_s = (double)(500000 + (i * 7919) % 1000000) / 1e6;
	*power_w = 3600.0 / *interval_s;
	*energy_wh = (double)(12345000 + i) / 1000.0;
}

static int bu_sample(struct sample *s, uint64_t i, const char *meter, int64_t ts)
{
	double p, e, dt;

	bu_values(i, &p, &e, &dt);
	if (sample_init(s, "pulse", ts) || sample_tag(s, "meter", meter) ||
	    sample_float(s, "power_w", p) || sample_float(s, "energy_wh", e) ||
	    sample_float(s, "interval_s", dt))
		return -EINVAL;
	return 0;
}

static void bu_rss(long *rss_kb, long *hwm_kb)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss_kb = *hwm_kb = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss_kb = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			*hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

/* ------------------------------------------------------------ encode */

/* The uploader hands a sink an array of up to batch_size samples to encode:
 * so does this, one chunk at a time, only lp_encode() under the clock. */
static int bu_encode(const struct bu_opts *o)
{
	struct sample *v = calloc(BU_CHUNK, sizeof(*v));
	struct sample_view *sv = calloc(BU_CHUNK, sizeof(*sv));
	FILE *out = NULL;
	struct buf b;
	uint64_t i, done = 0, bytes = 0;
	int64_t t, ns = 0;
	int rc = 1;

	buf_init(&b);
	if (!v || !sv)
		goto end;
	if (o->out && !(out = fopen(o->out, "w"))) {
		fprintf(stderr, "bench_uploader: %s: %s\n", o->out, strerror(errno));
		goto end;
	}
	while (done < o->samples) {
		uint64_t n = o->samples - done < BU_CHUNK ? o->samples - done : BU_CHUNK;

		for (i = 0; i < n; i++)
			if (bu_sample(&v[i], done + i, "house",
				      BU_ENCODE_T0 + (int64_t)(done + i) * BU_ENCODE_DT) ||
			    sample_view_of(&sv[i], &v[i]) < 0)
				goto end;
		b.len = 0;
		t = bu_mono();
		for (i = 0; i < n; i++)
			if (lp_encode(&sv[i], &b)) {
				fprintf(stderr, "bench_uploader: lp_encode failed at %" PRIu64 "\n",
					done + i);
				goto end;
			}
		ns += bu_mono() - t;
		bytes += b.len;
		if (out && fwrite(b.data, 1, b.len, out) != b.len)
			goto end;
		done += n;
	}
	if (out && fclose(out)) {
		out = NULL;
		goto end;
	}
	out = NULL;
	printf("bench lp_encode samples=%" PRIu64 " bytes=%" PRIu64
	       " wall_s=%.4f samples_per_s=%.0f mb_per_s=%.1f ns_per_sample=%.1f\n",
	       o->samples, bytes, (double)ns / 1e9, (double)o->samples / ((double)ns / 1e9),
	       (double)bytes / ((double)ns / 1e9) / 1e6, (double)ns / (double)o->samples);
	rc = 0;
end:
	if (out)
		fclose(out);
	buf_free(&b);
	free(v);
	free(sv);
	return rc;
}

/* ------------------------------------------------------------ lpfiles */

/* The reference's input: the same line protocol, BU_CHUNK lines a file. */
static int bu_lpfiles(const struct bu_opts *o)
{
	struct sample s;
	struct buf b;
	char path[PATH_MAX];
	uint64_t i, n = 0;
	FILE *f;
	int rc = 1;

	buf_init(&b);
	for (i = 0; i < o->samples; i++) {
		struct sample_view v;

		if (bu_sample(&s, i, o->meter, o->t0_ns + (int64_t)i * o->step_ns) ||
		    sample_view_of(&v, &s) < 0 || lp_encode(&v, &b))
			goto end;
		if (b.len && ((i + 1) % BU_CHUNK == 0 || i + 1 == o->samples)) {
			snprintf(path, sizeof(path), "%s/chunk-%06" PRIu64 ".lp", o->dir, n++);
			f = fopen(path, "w");
			if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
				fprintf(stderr, "bench_uploader: %s: %s\n", path, strerror(errno));
				goto end;
			}
			b.len = 0;
		}
	}
	rc = 0;
end:
	buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------ uploader runs */

static int bu_config(const struct bu_opts *o, bool retry_fast, struct config *cfg)
{
	char text[4096];
	int n;

	n = snprintf(text, sizeof(text),
		     "[daemon]\n"
		     "state_dir = %s\n"
		     "listen = off\n"
		     "[sink.vm]\n"
		     "type = influxdb\n"
		     "url = %s\n"
		     "database = powerd_bench\n"
		     "spool_fsync = batch\n"
		     "gzip = %s\n"
		     "%s",
		     o->state, o->url, o->gzip ? "yes" : "no",
		     retry_fast ? "retry_base = 100ms\nretry_max = 1s\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENAMETOOLONG;
	return cfg_load_mem("bench_uploader.conf", text, (size_t)n, cfg, stderr);
}

static int bu_status(struct uploader *u, struct status_sink *ss, uint64_t *ring_dropped)
{
	struct status st;
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
	*ring_dropped = st.nrings ? st.rings[0].dropped : 0;
	status_release(&st);
	return 0;
}

static bool bu_lost(const char *what, const struct status_sink *ss, uint64_t ring_dropped)
{
	if (!ring_dropped && !ss->dropped_rejected && !ss->dropped_spool && !ss->dropped_corrupt &&
	    !ss->dropped_encode)
		return false;
	fprintf(stderr,
		"FAIL %s: samples lost: ring=%" PRIu64 " rejected=%" PRIu64 " spool=%" PRIu64
		" corrupt=%" PRIu64 " encode=%" PRIu64 " (last error: %s)\n",
		what, ring_dropped, ss->dropped_rejected, ss->dropped_spool, ss->dropped_corrupt,
		ss->dropped_encode, ss->last_error);
	return true;
}

/* uploader_publish() never blocks: a full ring returns -EAGAIN and the
 * producer keeps the sample.  The flood also looks at the ring every 128
 * samples and lets it drain below half full: the rate measured is the
 * uploader's, and nothing is lost. */
static int bu_publish(struct uploader *u, struct uploader_producer *p, const struct sample *s,
		      uint64_t *count)
{
	struct status st;
	bool room;
	int r;

	if ((*count)++ % 128 == 0)
		for (;;) {
			memset(&st, 0, sizeof(st));
			r = uploader_status(u, &st);
			if (r)
				return r;
			room = st.nrings && st.rings[0].used <= st.rings[0].capacity / 2;
			status_release(&st);
			if (room)
				break;
			bu_sleep_ns(50000);
		}
	while (uploader_publish(p, s) == -EAGAIN)
		bu_sleep_ns(50000);
	return 0;
}

/* Waits until the sink has acknowledged n samples.  *first_ns: when the first
 * acknowledgement was seen (if not NULL).  Returns 0 or -ETIMEDOUT/-EIO. */
static int bu_wait_sent(const char *what, struct uploader *u, uint64_t n, int64_t *first_ns,
			struct status_sink *ss)
{
	int64_t give_up = bu_mono() + BU_TIMEOUT_NS;
	uint64_t ring_dropped;

	for (;;) {
		if (bu_status(u, ss, &ring_dropped))
			return -EIO;
		if (first_ns && !*first_ns && ss->sent)
			*first_ns = bu_mono();
		if (bu_lost(what, ss, ring_dropped))
			return -EIO;
		if (ss->sent >= n)
			return ss->sent == n ? 0 : -EIO;
		if (bu_mono() > give_up) {
			fprintf(stderr,
				"FAIL %s: %" PRIu64 " of %" PRIu64
				" sent after %.0f s (last error: %s)\n",
				what, ss->sent, n, (double)BU_TIMEOUT_NS / 1e9, ss->last_error);
			return -ETIMEDOUT;
		}
		bu_sleep_ns(BU_POLL_NS);
	}
}

static int bu_e2e(const struct bu_opts *o)
{
	struct config cfg;
	struct uploader *u = NULL;
	struct uploader_producer *p;
	struct status_sink ss;
	struct sample s;
	int64_t t0, t_pub, t_end;
	uint64_t i, npub = 0;
	int rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	if (bu_config(o, false, &cfg) || uploader_start(&u, &cfg) || !u ||
	    uploader_producer(u, "bench", BU_RING, &p))
		goto end;
	t0 = bu_mono();
	for (i = 0; i < o->samples; i++) {
		if (bu_sample(&s, i, o->meter, o->t0_ns + (int64_t)i * o->step_ns) ||
		    bu_publish(u, p, &s, &npub))
			goto end;
	}
	t_pub = bu_mono();
	if (bu_wait_sent("e2e", u, o->samples, NULL, &ss))
		goto end;
	t_end = bu_mono();
	printf("bench e2e_powerd samples=%" PRIu64 " gzip=%s wall_s=%.3f samples_per_s=%.0f"
	       " publish_s=%.3f requests=%" PRIu64 " retried=%" PRIu64 "\n",
	       o->samples, o->gzip ? "yes" : "no", (double)(t_end - t0) / 1e9,
	       (double)o->samples / ((double)(t_end - t0) / 1e9), (double)(t_pub - t0) / 1e9,
	       ss.requests, ss.retried);
	rc = 0;
end:
	uploader_stop(u);
	cfg_free(&cfg);
	return rc;
}

/* Everything published is on disk and nothing is being sent: accepted == n,
 * no open batch, and the spool's unsent bytes no longer change. */
static int bu_wait_spooled(struct uploader *u, uint64_t n, struct status_sink *ss)
{
	int64_t give_up = bu_mono() + BU_TIMEOUT_NS;
	uint64_t ring_dropped, last = 0;
	int stable = 0;

	for (;;) {
		if (bu_status(u, ss, &ring_dropped) || bu_lost("backlog", ss, ring_dropped))
			return -EIO;
		if (ss->sent) {
			fprintf(stderr,
				"FAIL backlog: %" PRIu64 " samples sent: the server is up\n",
				ss->sent);
			return -EIO;
		}
		if (ss->accepted == n && ss->pending == 0 && ss->spool_unsent_bytes &&
		    ss->spool_unsent_bytes == last) {
			if (++stable >= 3)
				return 0;
		} else {
			stable = 0;
		}
		last = ss->spool_unsent_bytes;
		if (bu_mono() > give_up) {
			fprintf(stderr,
				"FAIL backlog: not spooled: accepted %" PRIu64 " of %" PRIu64
				", pending %" PRIu64 "\n",
				ss->accepted, n, ss->pending);
			return -ETIMEDOUT;
		}
		bu_sleep_ns(100 * 1000000LL);
	}
}

static int bu_backlog(const struct bu_opts *o)
{
	const uint64_t n = o->series * o->seconds;
	struct config cfg;
	struct uploader *u = NULL;
	struct uploader_producer *p;
	struct status_sink ss;
	struct sample s;
	char meter[SAMPLE_STR_MAX], line[64];
	long rss_idle, hwm_idle, rss_spooled, hwm_spooled, rss_end, hwm_end;
	int64_t tsec0, t0, t_spooled, t_go, t_first = 0, t_end;
	uint64_t k, j, npub = 0;
	int rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	if (bu_config(o, true, &cfg) || uploader_start(&u, &cfg) || !u ||
	    uploader_producer(u, "bench", BU_RING, &p))
		goto end;
	/* Let the thread reach its first wait: "idle after start". */
	bu_sleep_ns(300 * 1000000LL);
	bu_rss(&rss_idle, &hwm_idle);
	/* The last `seconds` seconds, whole seconds, oldest first, every
	 * series at each second: what the meters would have produced. */
	tsec0 = (bu_unix() / 1000000000LL - (int64_t)o->seconds) * 1000000000LL;
	t0 = bu_mono();
	for (k = 0; k < o->seconds; k++)
		for (j = 0; j < o->series; j++) {
			snprintf(meter, sizeof(meter), "%s-m%03" PRIu64, o->meter, j);
			if (bu_sample(&s, k * o->series + j, meter,
				      tsec0 + (int64_t)k * 1000000000LL) ||
			    bu_publish(u, p, &s, &npub))
				goto end;
		}
	if (bu_wait_spooled(u, n, &ss))
		goto end;
	t_spooled = bu_mono();
	bu_rss(&rss_spooled, &hwm_spooled);
	printf("bench backlog_spooled meter=%s samples=%" PRIu64 " series=%" PRIu64
	       " seconds=%" PRIu64 " spool_s=%.3f spool_bytes=%" PRIu64 " unsent_bytes=%" PRIu64
	       " bytes_per_sample=%.1f rss_idle_kb=%ld hwm_idle_kb=%ld rss_spooled_kb=%ld"
	       " hwm_spooled_kb=%ld rss_delta_kb=%ld failed_requests=%" PRIu64
	       " packed_sample_bytes=%zu\n",
	       o->meter, n, o->series, o->seconds, (double)(t_spooled - t0) / 1e9, ss.spool_bytes,
	       ss.spool_unsent_bytes, (double)ss.spool_bytes / (double)n, rss_idle, hwm_idle,
	       rss_spooled, hwm_spooled, rss_spooled - rss_idle, ss.requests, sample_len(&s));
	printf("READY\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "FAIL backlog: no go signal on stdin\n");
		goto end;
	}
	t_go = bu_mono();
	if (bu_wait_sent("backlog drain", u, n, &t_first, &ss))
		goto end;
	t_end = bu_mono();
	bu_rss(&rss_end, &hwm_end);
	printf("bench backlog_drain meter=%s samples=%" PRIu64 " recovery_s=%.3f drain_s=%.3f"
	       " samples_per_s=%.0f requests=%" PRIu64 " spool_bytes_after=%" PRIu64
	       " rss_after_kb=%ld hwm_kb=%ld\n",
	       o->meter, n, (double)(t_end - t_go) / 1e9, (double)(t_end - t_first) / 1e9,
	       (double)n / ((double)(t_end - t_go) / 1e9), ss.requests, ss.spool_bytes, rss_end,
	       hwm_end);
	rc = 0;
end:
	uploader_stop(u);
	cfg_free(&cfg);
	return rc;
}

/* ------------------------------------------------------------ spool */

static int bu_spool_case(const char *dir, const char *name, enum spool_fsync pol, size_t len,
			 int64_t dur_ns, uint64_t max_bytes)
{
	struct spool_opts so = {.dir = dir, .fsync = pol};
	struct spool_stats st;
	struct spool *sp;
	unsigned char *rec = malloc(len);
	uint64_t n = 0, x = 0x9e3779b97f4a7c15ULL;
	int64_t t0, t;
	size_t i;
	int r;

	if (!rec)
		return -ENOMEM;
	/* Incompressible-looking payload; the CRC reads every byte anyway. */
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		rec[i] = (unsigned char)x;
	}
	r = spool_open(&so, &sp);
	if (r) {
		fprintf(stderr, "bench_uploader: spool_open %s: %s\n", dir, strerror(-r));
		free(rec);
		return r;
	}
	t0 = t = bu_mono();
	do {
		rec[0] = (unsigned char)n;
		r = spool_append(sp, rec, len, 1);
		if (r)
			break;
		n++;
		t = bu_mono();
	} while (t - t0 < dur_ns && n * len < max_bytes);
	spool_stats(sp, &st);
	spool_close(sp);
	free(rec);
	if (r) {
		fprintf(stderr, "bench_uploader: spool_append: %s\n", strerror(-r));
		return r;
	}
	if (st.records_appended != n) {
		fprintf(stderr, "FAIL spool: %" PRIu64 " appends counted, %" PRIu64 " made\n",
			st.records_appended, n);
		return -EIO;
	}
	printf("bench %s record_bytes=%zu appends=%" PRIu64 " wall_s=%.3f mb_per_s=%.1f"
	       " appends_per_s=%.0f fsyncs=%" PRIu64 " fsyncs_per_s=%.0f\n",
	       name, len, n, (double)(t - t0) / 1e9,
	       (double)(n * len) / ((double)(t - t0) / 1e9) / 1e6,
	       (double)n / ((double)(t - t0) / 1e9), st.fsyncs,
	       (double)st.fsyncs / ((double)(t - t0) / 1e9));
	return 0;
}

static int bu_spool(const struct bu_opts *o)
{
	static const struct {
		const char *name;
		enum spool_fsync pol;
		size_t len;
		int64_t part; /* of --seconds, in tenths */
	} cases[] = {
		{"spool_batch_1k", SPOOL_FSYNC_BATCH, 1000, 10},
		{"spool_batch_100k", SPOOL_FSYNC_BATCH, 100000, 10},
		{"spool_never_1k", SPOOL_FSYNC_NEVER, 1000, 3},
		{"spool_never_100k", SPOOL_FSYNC_NEVER, 100000, 3},
	};
	char dir[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", o->dir, cases[i].name);
		/* Without fsync the page cache takes GB/s: a byte bound keeps
		 * the disk use (and the write-back after it) small. */
		if (bu_spool_case(dir, cases[i].name, cases[i].pol, cases[i].len,
				  (int64_t)o->seconds * 100000000LL * cases[i].part, 1ULL << 30))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ main */

static void bu_usage(FILE *f)
{
	fprintf(f,
		"usage: bench_uploader encode  [--samples N] [--out FILE]\n"
		"       bench_uploader lpfiles --samples N --meter NAME --t0-ns T --step-ns S "
		"--dir DIR\n"
		"       bench_uploader e2e     --url URL --state DIR [--samples N] [--meter NAME]\n"
		"                              [--t0-ns T] [--step-ns S] [--gzip yes|no]\n"
		"       bench_uploader backlog --url URL --state DIR [--series N] [--seconds S]\n"
		"                              [--meter PREFIX]   (READY, then a line on stdin)\n"
		"       bench_uploader spool   --dir DIR [--seconds S]\n");
}

static int bu_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"samples", required_argument, NULL, 'n'},
		{"series", required_argument, NULL, 'S'},
		{"seconds", required_argument, NULL, 's'},
		{"url", required_argument, NULL, 'u'},
		{"state", required_argument, NULL, 'd'},
		{"dir", required_argument, NULL, 'D'},
		{"out", required_argument, NULL, 'o'},
		{"meter", required_argument, NULL, 'm'},
		{"t0-ns", required_argument, NULL, 't'},
		{"step-ns", required_argument, NULL, 'p'},
		{"gzip", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bu_opts o = {.samples = 1000000,
			    .series = 100,
			    .seconds = 0,
			    .meter = "bench",
			    .step_ns = 1000000,
			    .gzip = true};
	const char *mode;
	uint64_t x;
	int c;

	/* As powerd does (daemon/main.c): a fixed mmap threshold. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	if (argc < 2 || argv[1][0] == '-') {
		bu_usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bu_u64(optarg, 1, UINT64_C(1) << 32, &o.samples))
				goto bad;
			break;
		case 'S':
			if (bu_u64(optarg, 1, 1000, &o.series))
				goto bad;
			break;
		case 's':
			if (bu_u64(optarg, 1, 86400 * 7, &o.seconds))
				goto bad;
			break;
		case 'u':
			o.url = optarg;
			break;
		case 'd':
			o.state = optarg;
			break;
		case 'D':
			o.dir = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'm':
			o.meter = optarg;
			break;
		case 't':
			if (bu_u64(optarg, 0, INT64_MAX / 2, &x))
				goto bad;
			o.t0_ns = (int64_t)x;
			break;
		case 'p':
			if (bu_u64(optarg, 1, 1000000000000ULL, &x))
				goto bad;
			o.step_ns = (int64_t)x;
			break;
		case 'z':
			if (cfg_parse_bool(optarg, &o.gzip))
				goto bad;
			break;
		case 'h':
			bu_usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (!strcmp(mode, "encode"))
		return bu_encode(&o);
	if (!strcmp(mode, "lpfiles") && o.dir)
		return bu_lpfiles(&o);
	if (!strcmp(mode, "e2e") && o.url && o.state)
		return bu_e2e(&o);
	if (!strcmp(mode, "backlog") && o.url && o.state) {
		if (!o.seconds)
			o.seconds = 3600;
		return bu_backlog(&o);
	}
	if (!strcmp(mode, "spool") && o.dir) {
		if (!o.seconds)
			o.seconds = 3;
		return bu_spool(&o);
	}
bad:
	bu_usage(stderr);
	return 2;
}

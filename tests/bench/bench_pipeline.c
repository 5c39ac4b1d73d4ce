/* Throughput of the edge path: SPSC ring + PULSE filter + converter.
 *
 *   bench_pipeline [--edges N] [--reps R] [--ring N] [--single | --mt | --filter]
 *
 * The edges of a constant load with timestamp jitter are generated before
 * any clock starts, so only the path itself is timed.  The consumer does
 * what the daemon's meter thread does: pulse_edge() for every edge popped,
 * pulse_advance() once the ring is drained.  Variants:
 *   pipeline_mt  a producer thread pushes, the consumer thread pops: the
 *                real hand-off between two cores, cache-line traffic included
 *   pipeline_mt_spin  (--mt-spin only) the same with a producer that polls
 *                a full ring before every push: the worst case of the hand-off
 *   pipeline_st  push a batch, pop it, filter it, all in one thread: the cost
 *                of an edge without cross-core traffic (used under callgrind)
 *   filter_only  pulse_edge() alone, no ring: what the ring adds is the
 *                difference
 * Each result is checked (flashes, glitches, drops, power of every flash);
 * a wrong result prints FAIL and exits 1, since a fast wrong answer is no
 * benchmark.  Output: one "bench NAME key=value ..." line per variant. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powerd.h"

#define BENCH_IPK	1000u
#define BENCH_WATTS	3000.0
#define BENCH_FLASH_NS	(30 * 1000000LL)
#define BENCH_MIN_PULSE (5 * 1000000LL)
#define BENCH_BATCH	64  /* GPIO_READ_EVENTS: what one read hands over */
#define BENCH_BACKOFF	256 /* pauses between two looks at a full ring */

#if defined(__x86_64__) || defined(__i386__)
#define bench_relax() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define bench_relax() __asm__ __volatile__("yield")
#else
#define bench_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

/* Keep the measured loops out of line and unique so that callgrind's
 * --toggle-collect=bench_run_* finds them by name. */
#if defined(__clang__)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_NOINLINE __attribute__((noinline, noclone))
#endif

struct bench_opts {
	uint64_t edges;
	int reps;
	size_t ring_cap;
	int64_t jitter_ns;
	bool mt, spin, st, filter;
};

/* The consumer's side: the meter and what the check needs. */
struct bench_sink {
	struct pulse_meter m;
	uint64_t popped;
	double pmin, pmax;
};

struct bench_producer {
	struct ring *r;
	const struct edge_item *v;
	uint64_t n;
	bool spin;
	_Atomic int go;
};

static int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * PULSE_NS_PER_S + ts.tv_nsec;
}

/* xorshift64*: the jitter needs to be reproducible, not good. */
static uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int64_t bench_jitter(uint64_t *s, int64_t j)
{
	if (j <= 0)
		return 0;
	return (int64_t)(bench_rand(s) % (uint64_t)(2 * j + 1)) - j;
}

/* A flash every interval: rising edge at its start, falling edge 30 ms on. */
static struct edge_item *bench_gen(uint64_t n, int64_t jitter_ns)
{
	const double interval = 3.6e15 / ((double)BENCH_IPK * BENCH_WATTS);
	struct edge_item *v = calloc(n ? n : 1, sizeof(*v));
	uint64_t seed = 0x9E3779B97F4A7C15ULL, i;

	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		int64_t t = (int64_t)llround((double)(i / 2 + 1) * interval);

		if (i & 1)
			t += BENCH_FLASH_NS;
		v[i].ts_ns = t + bench_jitter(&seed, jitter_ns);
		v[i].level = !(i & 1);
		v[i].meter = 0;
	}
	return v;
}

static void bench_sink_init(struct bench_sink *s)
{
	const struct pulse_params p = {
		.impulses_per_kwh = BENCH_IPK,
		.min_pulse_ns = BENCH_MIN_PULSE,
		.timeout_ns = 300 * PULSE_NS_PER_S,
	};

	memset(s, 0, sizeof(*s));
	pulse_init(&s->m, &p, 0);
	s->pmin = INFINITY;
	s->pmax = -INFINITY;
}

static inline void bench_flash(struct bench_sink *s, const struct pulse_flash *f)
{
	if (f->interval_ns == 0)
		return;
	if (f->power_w < s->pmin)
		s->pmin = f->power_w;
	if (f->power_w > s->pmax)
		s->pmax = f->power_w;
}

/* One popped edge, as meter_process() handles it. */
static inline void bench_edge(struct bench_sink *s, const struct edge_item *e)
{
	struct pulse_flash f;

	s->popped++;
	if (e->meter != 0)
		return;
	if (pulse_edge(&s->m, e->ts_ns, (int)e->level, &f) > 0)
		bench_flash(s, &f);
}

static inline void bench_drained(struct bench_sink *s, int64_t now)
{
	struct pulse_flash f;

	if (pulse_advance(&s->m, now, &f) > 0)
		bench_flash(s, &f);
}

static void *bench_produce(void *arg)
{
	struct bench_producer *p = arg;
	uint64_t i;
	int k;

	while (!atomic_load_explicit(&p->go, memory_order_acquire))
		bench_relax();
	for (i = 0; i < p->n; i++) {
		/* Back-pressure, as a replay does: a push must never be dropped.
		 * Polling a full ring before every push reads the consumer's
		 * index right after each pop wrote it, so its cache line moves
		 * between the cores at every edge and the hand-off, not the
		 * filter, sets the pace (see pipeline_mt_spin).  A producer that
		 * waits for half the ring to drain, as a source re-arming a timer
		 * does, measures the pipeline instead. */
		if (ring_full(p->r) && !p->spin) {
			do {
				for (k = 0; k < BENCH_BACKOFF; k++)
					bench_relax();
			} while (ring_count(p->r) > ring_capacity(p->r) / 2);
		}
		while (ring_full(p->r))
			bench_relax();
		ring_push(p->r, &p->v[i]);
	}
	return NULL;
}

static BENCH_NOINLINE int64_t bench_run_mt(struct ring *r, const struct edge_item *v, uint64_t n,
					   bool spin, struct bench_sink *s)
{
	struct bench_producer p = {.r = r, .v = v, .n = n, .spin = spin};
	struct edge_item e;
	pthread_t th;
	int64_t t0, t1;
	bool fresh = false;

	atomic_init(&p.go, 0);
	if (pthread_create(&th, NULL, bench_produce, &p)) {
		fprintf(stderr, "bench_pipeline: pthread_create failed\n");
		return -1;
	}
	t0 = bench_now();
	atomic_store_explicit(&p.go, 1, memory_order_release);
	while (s->popped < n) {
		if (ring_pop(r, &e) == 0) {
			bench_edge(s, &e);
			fresh = true;
			continue;
		}
		if (fresh) {
			bench_drained(s, e.ts_ns);
			fresh = false;
		}
		bench_relax();
	}
	if (fresh)
		bench_drained(s, e.ts_ns);
	t1 = bench_now();
	pthread_join(th, NULL);
	return t1 - t0;
}

static BENCH_NOINLINE void bench_run_st(struct ring *r, const struct edge_item *v, uint64_t n,
					struct bench_sink *s)
{
	struct edge_item e;
	uint64_t i = 0, k;

	while (i < n) {
		uint64_t end = n - i < BENCH_BATCH ? n : i + BENCH_BATCH;

		for (k = i; k < end; k++)
			ring_push(r, &v[k]);
		while (ring_pop(r, &e) == 0)
			bench_edge(s, &e);
		bench_drained(s, v[end - 1].ts_ns);
		i = end;
	}
}

static BENCH_NOINLINE void bench_run_filter(const struct edge_item *v, uint64_t n,
					    struct bench_sink *s)
{
	uint64_t i = 0, k;

	while (i < n) {
		uint64_t end = n - i < BENCH_BATCH ? n : i + BENCH_BATCH;

		for (k = i; k < end; k++)
			bench_edge(s, &v[k]);
		bench_drained(s, v[end - 1].ts_ns);
		i = end;
	}
}

/* The trace ends at its last edge and the line stays there, as in pulselog:
 * a flash whose falling edge was the last one is still counted. */
static int bench_check(const char *name, struct bench_sink *s, struct ring *r, uint64_t n)
{
	const uint64_t want = n / 2;
	struct pulse_flash f;
	int bad = 0;

	pulse_advance(&s->m, INT64_MAX, &f);
	if (s->m.flashes != want) {
		fprintf(stderr, "bench %s: FAIL: %" PRIu64 " flashes, expected %" PRIu64 "\n", name,
			s->m.flashes, want);
		bad = 1;
	}
	if (s->m.edges != n || s->popped != n || s->m.glitches != 0) {
		fprintf(stderr,
			"bench %s: FAIL: edges %" PRIu64 " popped %" PRIu64 " glitches %" PRIu64
			", expected %" PRIu64 " %" PRIu64 " 0\n",
			name, s->m.edges, s->popped, s->m.glitches, n, n);
		bad = 1;
	}
	if (r && ring_dropped(r) != 0) {
		fprintf(stderr, "bench %s: FAIL: the ring dropped %" PRIu64 " edges\n", name,
			ring_dropped(r));
		bad = 1;
	}
	/* 50 us of jitter on a 1.2 s interval moves the power by < 0.01 %. */
	if (want >= 2 && (fabs(s->pmin - BENCH_WATTS) > BENCH_WATTS * 1e-3 ||
			  fabs(s->pmax - BENCH_WATTS) > BENCH_WATTS * 1e-3)) {
		fprintf(stderr, "bench %s: FAIL: power %.3f..%.3f W, expected %.1f W\n", name,
			s->pmin, s->pmax, BENCH_WATTS);
		bad = 1;
	}
	return bad ? -EPROTO : 0;
}

static void bench_report(const char *name, uint64_t n, int64_t best_ns, int64_t median_ns, int reps,
			 const struct bench_sink *s)
{
	double sec = (double)best_ns / 1e9;

	printf("bench %s edges=%" PRIu64 " reps=%d best_s=%.6f median_s=%.6f edges_per_s=%.0f "
	       "ns_per_edge=%.2f flashes=%" PRIu64 "\n",
	       name, n, reps, sec, (double)median_ns / 1e9, sec > 0 ? (double)n / sec : 0.0,
	       n ? (double)best_ns / (double)n : 0.0, s->m.flashes);
	fflush(stdout);
}

static int bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* kind: 'm' threads, 'p' threads with a producer spinning on a full ring,
 * 's' single thread, 'f' filter only. */
static int bench_variant(const char *name, char kind, const struct bench_opts *o,
			 const struct edge_item *v)
{
	int64_t *times = calloc((size_t)o->reps, sizeof(*times));
	struct bench_sink s;
	struct ring r;
	int i, rc = 0;

	if (!times)
		return -ENOMEM;
	for (i = 0; i < o->reps && !rc; i++) {
		int64_t t0;

		rc = ring_init(&r, sizeof(struct edge_item), o->ring_cap);
		if (rc) {
			fprintf(stderr, "bench_pipeline: ring_init: %s\n", strerror(-rc));
			break;
		}
		bench_sink_init(&s);
		t0 = bench_now();
		if (kind == 'm' || kind == 'p') {
			times[i] = bench_run_mt(&r, v, o->edges, kind == 'p', &s);
			if (times[i] < 0)
				rc = -EAGAIN;
		} else if (kind == 's') {
			bench_run_st(&r, v, o->edges, &s);
			times[i] = bench_now() - t0;
		} else {
			bench_run_filter(v, o->edges, &s);
			times[i] = bench_now() - t0;
		}
		if (!rc)
			rc = bench_check(name, &s, kind == 'f' ? NULL : &r, o->edges);
		ring_free(&r);
	}
	if (!rc) {
		qsort(times, (size_t)o->reps, sizeof(*times), bench_cmp_i64);
		bench_report(name, o->edges, times[0], times[o->reps / 2], o->reps, &s);
	}
	free(times);
	return rc;
}

static int bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static void bench_usage(FILE *f)
{
	fprintf(f, "usage: bench_pipeline [--edges N] [--reps R] [--ring CAP] [--jitter-us J]\n"
		   "                      [--single | --mt | --mt-spin | --filter]\n"
		   "  default: all but --mt-spin; 10000000 edges, best of 3, ring 4096,\n"
		   "  50 us jitter\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"edges", required_argument, NULL, 'n'},
		{"reps", required_argument, NULL, 'r'},
		{"ring", required_argument, NULL, 'c'},
		{"jitter-us", required_argument, NULL, 'j'},
		{"single", no_argument, NULL, 's'},
		{"mt", no_argument, NULL, 'm'},
		{"mt-spin", no_argument, NULL, 'p'},
		{"filter", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_opts o = {.edges = 10000000, .reps = 3, .ring_cap = 4096, .jitter_ns = 50000};
	struct edge_item *v;
	uint64_t x;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "n:r:c:j:smpfh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bench_parse_u64(optarg, 1, UINT64_C(1) << 32, &o.edges))
				goto bad;
			break;
		case 'r':
			if (bench_parse_u64(optarg, 1, 100, &x))
				goto bad;
			o.reps = (int)x;
			break;
		case 'c':
			if (bench_parse_u64(optarg, 2, UINT64_C(1) << 24, &x) || (x & (x - 1)))
				goto bad;
			o.ring_cap = (size_t)x;
			break;
		case 'j':
			if (bench_parse_u64(optarg, 0, 10000, &x))
				goto bad;
			o.jitter_ns = (int64_t)x * 1000;
			break;
		case 's':
			o.st = true;
			break;
		case 'm':
			o.mt = true;
			break;
		case 'f':
			o.filter = true;
			break;
		case 'p':
			o.spin = true;
			break;
		case 'h':
			bench_usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (o.ring_cap < BENCH_BATCH) {
		fprintf(stderr, "bench_pipeline: --ring must be >= %d (one batch)\n", BENCH_BATCH);
		return 2;
	}
	if (!o.mt && !o.spin && !o.st && !o.filter)
		o.mt = o.st = o.filter = true;
	v = bench_gen(o.edges, o.jitter_ns);
	if (!v) {
		fprintf(stderr, "bench_pipeline: out of memory for %" PRIu64 " edges\n", o.edges);
		return 1;
	}
	if (o.mt)
		rc = bench_variant("pipeline_mt", 'm', &o, v);
	if (!rc && o.spin)
		rc = bench_variant("pipeline_mt_spin", 'p', &o, v);
	if (!rc && o.st)
		rc = bench_variant("pipeline_st", 's', &o, v);
	if (!rc && o.filter)
		rc = bench_variant("filter_only", 'f', &o, v);
	free(v);
	return rc ? 1 : 0;
bad:
	bench_usage(stderr);
	return 2;
}

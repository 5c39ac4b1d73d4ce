/* Batching through the real uploader thread, with a file sink: batch_size
 * cuts requests, flush_interval bounds how long a partial batch waits, a
 * clean stop writes the open batch, and a restart sends nothing twice.
 * Every wait is on a state (the file, the published status), with a
 * generous timeout, so a busy machine makes it slower, never wrong. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "config.h"
#include "sample.h"
#include "status.h"
#include "uploader.h"

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void publish(struct uploader_producer *p, int from, int n)
{
	struct sample s;
	int i;

	for (i = from; i < from + n; i++) {
		sample_init(&s, "pulse", 1700000000000000000LL + (int64_t)i * 1000000000LL);
		sample_tag(&s, "meter", "t");
		sample_float(&s, "power_w", i);
		/* The ring may be full for a moment: publish never blocks. */
		while (uploader_publish(p, &s) == -EAGAIN)
			usleep(1000);
	}
}

static struct status_sink sink_status(struct uploader *u)
{
	struct status st;
	struct status_sink k;

	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(uploader_status(u, &st), 0);
	k = st.sinks[0];
	status_release(&st);
	return k;
}

/* Wait up to 30 s for a condition on the file. */
static int wait_lines(const char *path, int want)
{
	int i;

	for (i = 0; i < 3000; i++) {
		if (count_lines(path) >= want)
			return count_lines(path);
		usleep(10000);
	}
	return count_lines(path);
}

/* Wait up to 30 s until the published status shows `sent` samples sent and
 * `pending` in the open batch (it is published once per turn, after the
 * file is written). */
static struct status_sink wait_status(struct uploader *u, uint64_t sent, uint64_t pending)
{
	struct status_sink k;
	int i;

	for (i = 0; i < 3000; i++) {
		k = sink_status(u);
		if (k.sent == sent && k.pending == pending)
			break;
		usleep(10000);
	}
	return k;
}

/* End to end, samples are taken promptly: pairs a few microseconds apart
 * meet the uploader on its way to sleep; every one must be taken within a
 * fraction of the 1 s tick.  (The race itself is too narrow to hit from
 * here reliably: tests/unit/test_wakeup.c proves the protocol on every
 * interleaving.) */
static void test_wakeup(const char *dir)
{
	char text[1024];
	struct config cfg;
	struct uploader *u;
	struct uploader_producer *p;
	struct sample smp;
	int64_t worst = 0, t0;
	uint64_t want = 0;
	int i, slow = 0;

	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = %s/wake\n"
		 "[sink.f]\ntype = file\npath = %s/wake.lp\nbatch_size = 1000000\n"
		 "flush_interval = 1h\n",
		 dir, dir);
	memset(&cfg, 0, sizeof(cfg));
	CHECK_EQ_INT(cfg_load_mem("w.conf", text, strlen(text), &cfg, stderr), 0);
	CHECK_EQ_INT(uploader_start(&u, &cfg), 0);
	CHECK_EQ_INT(uploader_producer(u, "test", 0, &p), 0);
	sample_init(&smp, "pulse", 1700000000000000000LL);
	sample_float(&smp, "power_w", 1);
	for (i = 0; i < 2000; i++) {
		struct status_sink k;
		int64_t dt;
		volatile int spin;

		CHECK_EQ_INT(uploader_publish(p, &smp), 0);
		for (spin = 0; spin < (i * 37) % 4000; spin++)
			;
		CHECK_EQ_INT(uploader_publish(p, &smp), 0);
		want += 2;
		t0 = clock_mono_ns();
		do
			k = sink_status(u);
		while (k.accepted < want && clock_mono_ns() - t0 < 5000000000LL);
		dt = clock_mono_ns() - t0;
		CHECK_EQ_INT(k.accepted, want);
		if (dt > worst)
			worst = dt;
		slow += dt > 900000000LL;
	}
	printf("test_uploader: wake-up: worst %.1f ms over 2000 pairs, %d slower than 0.9 s\n",
	       (double)worst / 1e6, slow);
	/* One 0.9 s stall of a thread may be the machine; a missed wake-up
	 * recurs. */
	CHECK(slow <= 1);
	uploader_stop(u);
	cfg_free(&cfg);
}

int main(void)
{
	char dir[] = "/tmp/powerd-uploader-XXXXXX", text[1024], lp[256];
	struct config cfg;
	struct uploader *u;
	struct uploader_producer *p;
	struct status_sink k;
	int64_t t0, t1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(lp, sizeof(lp), "%s/out.lp", dir);
	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = %s/state\n"
		 "[sink.f]\ntype = file\npath = %s\nbatch_size = 10\nflush_interval = 2s\n",
		 dir, lp);
	memset(&cfg, 0, sizeof(cfg));
	CHECK_EQ_INT(cfg_load_mem("t.conf", text, strlen(text), &cfg, stderr), 0);
	CHECK_EQ_INT(uploader_start(&u, &cfg), 0);
	CHECK_EQ_INT(uploader_producer(u, "test", 0, &p), 0);

	/* 95 samples: nine full batches go at once, the tenth waits... */
	t0 = clock_mono_ns();
	publish(p, 0, 95);
	k = wait_status(u, 90, 5);
	t1 = clock_mono_ns();
	CHECK_EQ_INT(k.accepted, 95);
	CHECK_EQ_INT(k.sent, 90);
	CHECK_EQ_INT(k.requests, 9);
	CHECK_EQ_INT(k.pending, 5);
	CHECK(k.oldest_unsent_age_s > 0);
	/* ...and is not written before flush_interval (2 s) has passed.  If
	 * this machine was too slow to look in time, the check says nothing. */
	if (t1 - t0 < 1500000000LL)
		CHECK_EQ_INT(count_lines(lp), 90);
	else
		printf("test_uploader: %.1f s to publish; the early-flush check is skipped\n",
		       (double)(t1 - t0) / 1e9);
	/* ...until flush_interval has passed. */
	CHECK_EQ_INT(wait_lines(lp, 95), 95);
	k = wait_status(u, 95, 0);
	CHECK_EQ_INT(k.sent, 95);
	CHECK_EQ_INT(k.requests, 10);
	CHECK_EQ_INT(k.pending, 0);
	CHECK_EQ_INT(k.spool_unsent_bytes, 0);

	/* A clean stop writes the open batch; nothing is sent twice after. */
	publish(p, 95, 3);
	uploader_stop(u);
	CHECK_EQ_INT(uploader_start(&u, &cfg), 0);
	CHECK_EQ_INT(wait_lines(lp, 98), 98);
	k = wait_status(u, 3, 0);
	CHECK_EQ_INT(k.sent, 3);
	CHECK_EQ_INT(k.spool_unsent_bytes, 0);
	CHECK_EQ_INT(count_lines(lp), 98);
	uploader_stop(u);
	cfg_free(&cfg);
	test_wakeup(dir);

	snprintf(text, sizeof(text), "rm -rf %s", dir);
	CHECK_EQ_INT(system(text), 0);
	return check_result();
}

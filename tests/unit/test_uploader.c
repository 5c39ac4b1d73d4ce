/* Batching through the real uploader thread, with a file sink: batch_size
 * cuts requests, flush_interval bounds how long a partial batch waits, a
 * clean stop writes the open batch, and a restart sends nothing twice.
 * Durability per producer: what uploader_durable() says against what is in
 * memory, spooled, or cannot be spooled.
 * Every wait is on a state (the file, the published status), with a
 * generous timeout, so a busy machine makes it slower, never wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Wait up to 30 s until p's durable count is `want`. */
static uint64_t wait_durable(struct uploader_producer *p, uint64_t want)
{
	int i;

	for (i = 0; i < 3000 && uploader_durable(p) != want; i++)
		usleep(10000);
	return uploader_durable(p);
}

/* Wait up to 30 s until the sink has accepted `want` samples. */
static struct status_sink wait_accepted(struct uploader *u, uint64_t want)
{
	struct status_sink k;
	int i;

	for (i = 0; i < 3000; i++) {
		k = sink_status(u);
		if (k.accepted >= want)
			break;
		usleep(10000);
	}
	return k;
}

static void publish_from(struct uploader_producer *p, const char *who, int from, int n)
{
	struct sample s;
	int i;

	for (i = from; i < from + n; i++) {
		sample_init(&s, "pulse", 1700000000000000000LL + (int64_t)i * 1000000000LL);
		sample_tag(&s, "meter", who);
		sample_float(&s, "power_w", i);
		while (uploader_publish(p, &s) == -EAGAIN)
			usleep(1000);
	}
}

/* Durable lags published while a batch is open (flush_interval is an hour:
 * only a full batch of 10 goes to the spool), catches up when it is
 * written, is kept per producer, and does not move while the spool cannot
 * be written (its directory is a file here; the file sink cannot deliver
 * either, its path being a directory): samples held in memory are not
 * durable.  Once the spool opens again they are, still undelivered. */
static void test_durable(const char *dir)
{
	char text[2048], lp[512], spool[512], cmd[1100];
	struct config cfg;
	struct uploader *u;
	struct uploader_producer *a, *b;
	struct status_sink k;
	int fd;

	snprintf(lp, sizeof(lp), "%s/dur/out.lp", dir);
	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = %s/dur/state\n"
		 "[sink.f]\ntype = file\npath = %s\nbatch_size = 10\nflush_interval = 1h\n"
		 "retry_base = 20ms\nretry_max = 100ms\n",
		 dir, lp);
	memset(&cfg, 0, sizeof(cfg));
	CHECK_EQ_INT(cfg_load_mem("d.conf", text, strlen(text), &cfg, stderr), 0);
	CHECK_EQ_INT(uploader_start(&u, &cfg), 0);
	CHECK_EQ_INT(uploader_producer(u, "a", 0, &a), 0);
	CHECK_EQ_INT(uploader_producer(u, "b", 0, &b), 0);
	CHECK_EQ_INT(uploader_published(NULL), 0);
	CHECK_EQ_INT(uploader_durable(NULL), 0);

	/* b's 3 samples wait in the open batch */
	publish_from(b, "b", 0, 3);
	CHECK_EQ_INT(uploader_published(b), 3);
	k = wait_accepted(u, 3);
	CHECK_EQ_INT(k.pending, 3);
	CHECK_EQ_INT(uploader_durable(b), 0);
	CHECK_EQ_INT(uploader_durable(a), 0);
	/* a's 7 fill the batch: it is spooled, and all 10 are durable */
	publish_from(a, "a", 0, 7);
	CHECK_EQ_INT(wait_durable(a, 7), 7);
	CHECK_EQ_INT(wait_durable(b, 3), 3);
	/* a's next 2 are open again: only a lags */
	publish_from(a, "a", 7, 2);
	k = wait_accepted(u, 12);
	CHECK_EQ_INT(k.pending, 2);
	CHECK_EQ_INT(uploader_published(a), 9);
	CHECK_EQ_INT(uploader_durable(a), 7);
	CHECK_EQ_INT(uploader_durable(b), 3);
	CHECK_EQ_INT(wait_lines(lp, 10), 10);
	/* the stop writes the open batch to the spool; it is delivered at
	 * the next start, which here begins without that spool */
	uploader_stop(u);
	CHECK_EQ_INT(count_lines(lp), 10);

	/* Now the spool cannot be opened, and the file cannot be written. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/dur/state/spool/f && mkdir -p %s/dur/state/spool",
		 dir, dir);
	CHECK_EQ_INT(system(cmd), 0);
	snprintf(spool, sizeof(spool), "%s/dur/state/spool/f", dir);
	fd = open(spool, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(uploader_start(&u, &cfg), 0);
	CHECK_EQ_INT(unlink(lp), 0);
	CHECK_EQ_INT(mkdir(lp, 0700), 0);
	CHECK_EQ_INT(uploader_producer(u, "a", 0, &a), 0);
	publish_from(a, "a", 100, 25);
	k = wait_accepted(u, 25);
	/* full batches try the spool and wait in memory; so does the open
	 * batch whenever the spool is retried (every 20-100 ms) */
	usleep(500000);
	k = sink_status(u);
	CHECK_EQ_INT(k.accepted, 25);
	CHECK(k.spool_error[0] != '\0');
	CHECK_EQ_INT(k.held + k.pending, 25);
	CHECK(k.held >= 20);
	CHECK_EQ_INT(k.sent, 0);
	CHECK_EQ_INT(uploader_published(a), 25);
	CHECK_EQ_INT(uploader_durable(a), 0);
	/* the spool works again: what it holds is durable, though not sent */
	CHECK_EQ_INT(unlink(spool), 0);
	CHECK(wait_durable(a, 25) >= 20);
	k = sink_status(u);
	CHECK_EQ_INT(k.sent, 0);
	CHECK_EQ_INT(k.held, 0);
	CHECK_EQ_INT(uploader_durable(a), 25 - k.pending);
	/* and the file sink delivers once it can */
	CHECK_EQ_INT(rmdir(lp), 0);
	CHECK_EQ_INT(wait_lines(lp, 25 - (int)k.pending), 25 - (int)k.pending);
	CHECK_EQ_INT(uploader_durable(a), 25 - k.pending);
	uploader_stop(u);
	CHECK_EQ_INT(wait_lines(lp, 25), 25);
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
	test_durable(dir);

	snprintf(text, sizeof(text), "rm -rf %s", dir);
	CHECK_EQ_INT(system(text), 0);
	return check_result();
}

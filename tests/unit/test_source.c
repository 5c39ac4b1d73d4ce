/* The source registry (source.h): reasons declared once and counted, the
 * overflow reason, state and detail, progress, and the status every kind
 * reports the same way. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "powerd.h"
#include "source.h"
#include "status.h"

static void dummy(struct source *s)
{
	(void)s;
}

static int dummy_open(struct source *s)
{
	(void)s;
	return 0;
}

static void extra(struct source *s, struct status_source *out)
{
	(void)s;
	out->meter = 7;
}

static const struct source_ops ops = {
	.kind = "test", .open = dummy_open, .start = dummy, .stop = dummy};
static const struct source_ops ops_status = {
	.kind = "test2", .open = dummy_open, .start = dummy, .stop = dummy, .status = extra};

static void test_reasons(void)
{
	static struct powerd pd;
	struct source s = {.ops = &ops, .pd = &pd};
	struct status_source st;
	char name[SOURCE_REASONS_MAX + 4][16];
	unsigned a, b, i, last = 0;

	pthread_mutex_init(&pd.lock, NULL);
	snprintf(s.name, sizeof(s.name), "src");
	a = source_reason(&s, "not_json");
	b = source_reason(&s, "read");
	CHECK_EQ_INT(a, 0);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(source_reason(&s, "not_json"), a); /* declared once */
	source_error(&s, a);
	source_error(&s, a);
	source_error(&s, b);
	source_error(&s, SOURCE_REASONS_MAX + 3); /* out of range: ignored, no crash */
	/* Beyond the table every new reason shares the last slot: still counted. */
	for (i = 0; i < SOURCE_REASONS_MAX + 2; i++) {
		snprintf(name[i], sizeof(name[i]), "r%u", i);
		last = source_reason(&s, name[i]);
	}
	CHECK_EQ_INT(last, SOURCE_REASONS_MAX - 1);
	CHECK_EQ_INT(s.nreasons, SOURCE_REASONS_MAX);
	source_error(&s, last);

	source_sample(&s, 1700000000123456789LL, NULL, 0);
	source_sample(&s, 1700000001000000000LL, NULL, 0);
	atomic_store(&s.progress_total, 10);
	atomic_store(&s.progress_done, 4);
	atomic_store(&s.progress_eta_ns, 1500000000LL);
	source_set_state(&s, SOURCE_BACKLOG, "backlog: %d of %d files", 4, 10);
	pthread_mutex_lock(&pd.lock);
	source_status(&s, &st);
	pthread_mutex_unlock(&pd.lock);
	CHECK(!strcmp(st.name, "src") && !strcmp(st.kind, "test"));
	CHECK(!strcmp(st.state, "backlog") && st.up);
	CHECK(!strcmp(st.detail, "backlog: 4 of 10 files"));
	CHECK_EQ_INT(st.samples, 2);
	CHECK_NEAR(st.last_sample_unix_s, 1700000001.0, 1e-6);
	CHECK_EQ_INT(st.nerrors, SOURCE_REASONS_MAX);
	CHECK(!strcmp(st.errors[0].reason, "not_json") && st.errors[0].n == 2);
	CHECK(!strcmp(st.errors[1].reason, "read") && st.errors[1].n == 1);
	CHECK_EQ_INT(st.errors[SOURCE_REASONS_MAX - 1].n, 1);
	CHECK_EQ_INT(st.progress_total, 10);
	CHECK_EQ_INT(st.progress_done, 4);
	CHECK_NEAR(st.progress_eta_s, 1.5, 1e-9);
	CHECK_EQ_INT(st.meter, -1);

	/* Up only while doing its job. */
	atomic_store(&s.progress_eta_ns, -1);
	source_set_state(&s, SOURCE_ERROR, "gone");
	source_status(&s, &st);
	CHECK(!st.up && !strcmp(st.state, "error"));
	CHECK_NEAR(st.progress_eta_s, -1, 0);
	source_set_state(&s, SOURCE_CONNECTING, "x");
	source_status(&s, &st);
	CHECK(!st.up);
	source_set_state(&s, SOURCE_IDLE, "done");
	source_status(&s, &st);
	CHECK(st.up);

	/* A kind's own status hook runs after the common part. */
	s.ops = &ops_status;
	source_status(&s, &st);
	CHECK_EQ_INT(st.meter, 7);
	CHECK(!strcmp(st.kind, "test2"));
	pthread_mutex_destroy(&pd.lock);
}

static void test_names(void)
{
	CHECK(!strcmp(source_state_name(SOURCE_STARTING), "starting"));
	CHECK(!strcmp(source_state_name(SOURCE_OK), "ok"));
	CHECK(!strcmp(source_state_name(SOURCE_CONNECTING), "connecting"));
	CHECK(!strcmp(source_state_name(SOURCE_ERROR), "error"));
	CHECK(!strcmp(source_state_name(SOURCE_IDLE), "idle"));
	CHECK(!strcmp(source_state_name(SOURCE_BACKLOG), "backlog"));
	/* Every kind the daemon has: open, start and stop, a kind name. */
	CHECK(source_gpio_ops.open && source_gpio_ops.start && source_gpio_ops.stop);
	CHECK(!strcmp(source_gpio_ops.kind, "pulse") && !strcmp(source_replay_ops.kind, "pulse"));
}

int main(void)
{
	test_reasons();
	test_names();
	return check_result();
}

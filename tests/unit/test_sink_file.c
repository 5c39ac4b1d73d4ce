/* The file sink: exact lines, the file mode, rotation (moved, removed,
 * truncated in place), write errors retried with the reason, and a batch
 * that fails half-way leaves no torn line. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "sink.h"
#include "spans.h"

static char tmpdir[] = "/tmp/test_sink_file.XXXXXX";

static char *slurp(const char *path)
{
	static char data[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(data, 1, sizeof(data) - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

static void mk(struct sample *s, int64_t ts, double power)
{
	sample_init(s, "pulse", ts);
	sample_tag(s, "meter", "house");
	sample_float(s, "power_w", power);
}

/* send() completes synchronously: return the verdict it gave. */
static int send1(struct sink *s, const struct sample *v, size_t n)
{
	struct sample_list l;
	struct sample_span sp;

	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	s->verdict_ready = false;
	CHECK_EQ_INT(s->ops->send(s, &sp), 0);
	sample_list_free(&l);
	CHECK(s->verdict_ready);
	return s->verdict_ready ? (int)s->verdict : -1;
}

static void test_lines_and_rotation(void)
{
	struct cfg_sink c = {0};
	struct sink s = {0};
	struct sample v[3];
	struct stat st;
	char path[256], moved[256];
	const char *data;

	snprintf(path, sizeof(path), "%s/out.lp", tmpdir);
	snprintf(moved, sizeof(moved), "%s/out.lp.1", tmpdir);
	snprintf(c.path, sizeof(c.path), "%s", path);
	s.cfg = &c;
	s.ops = &sink_file_ops;
	CHECK_EQ_INT(s.ops->open(&s), 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);

	mk(&v[0], 1000, 1.5);
	sample_init(&v[1], "pulse", 2000);
	sample_float(&v[1], "power_w", NAN); /* nothing to write: skipped, counted */
	mk(&v[2], 3000, 2);
	CHECK_EQ_INT(send1(&s, v, 3), SINK_OK);
	CHECK_EQ_INT(s.st.dropped_encode, 1);
	data = slurp(path);
	CHECK(data && !strcmp(data, "pulse,meter=house power_w=1.5 1000\n"
				    "pulse,meter=house power_w=2 3000\n"));

	/* Moved away (logrotate's default): a new file at the path. */
	CHECK_EQ_INT(rename(path, moved), 0);
	mk(&v[0], 4000, 4);
	CHECK_EQ_INT(send1(&s, v, 1), SINK_OK);
	data = slurp(path);
	CHECK(data && !strcmp(data, "pulse,meter=house power_w=4 4000\n"));
	data = slurp(moved);
	CHECK(data && !strcmp(data, "pulse,meter=house power_w=1.5 1000\n"
				    "pulse,meter=house power_w=2 3000\n"));

	/* Removed: created again. */
	CHECK_EQ_INT(unlink(path), 0);
	mk(&v[0], 5000, 5);
	CHECK_EQ_INT(send1(&s, v, 1), SINK_OK);
	data = slurp(path);
	CHECK(data && !strcmp(data, "pulse,meter=house power_w=5 5000\n"));

	/* Truncated in place (copytruncate): appends at the new end, no hole. */
	CHECK_EQ_INT(truncate(path, 0), 0);
	mk(&v[0], 6000, 6);
	CHECK_EQ_INT(send1(&s, v, 1), SINK_OK);
	data = slurp(path);
	CHECK(data && !strcmp(data, "pulse,meter=house power_w=6 6000\n"));

	/* The directory goes away: retry with the reason; it comes back: the
	 * same file again. */
	{
		char dir2[256];

		snprintf(dir2, sizeof(dir2), "%s.gone", tmpdir);
		CHECK_EQ_INT(rename(tmpdir, dir2), 0);
		CHECK_EQ_INT(send1(&s, v, 1), SINK_RETRY);
		CHECK(strstr(s.verdict_msg, "No such file or directory") &&
		      strstr(s.verdict_msg, "out.lp"));
		CHECK(strstr(s.st.last_error, "No such file or directory"));
		CHECK_EQ_INT(rename(dir2, tmpdir), 0);
		mk(&v[0], 7000, 7);
		CHECK_EQ_INT(send1(&s, v, 1), SINK_OK);
		data = slurp(path);
		CHECK(data && !strcmp(data, "pulse,meter=house power_w=6 6000\n"
					    "pulse,meter=house power_w=7 7000\n"));
	}

	/* A batch that fails half-way (file size limit) is cut off again. */
	{
		struct sample big[200];
		struct rlimit old, lim;
		size_t i, before = strlen(slurp(path));

		for (i = 0; i < 200; i++)
			mk(&big[i], 8000 + (int64_t)i, (double)i);
		signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = before + 1000;
		CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
		CHECK_EQ_INT(send1(&s, big, 200), SINK_RETRY);
		setrlimit(RLIMIT_FSIZE, &old);
		CHECK(strstr(s.verdict_msg, "write ") && strstr(s.verdict_msg, "too large"));
		CHECK_EQ_INT(strlen(slurp(path)), before);
		/* and the retry writes it whole */
		CHECK_EQ_INT(send1(&s, big, 200), SINK_OK);
		data = slurp(path);
		CHECK(data && strstr(data, "power_w=199 8199\n") && data[strlen(data) - 1] == '\n');
	}
	s.ops->close(&s);
	CHECK(s.priv == NULL);
	unlink(path);
	unlink(moved);
}

static void test_errors(void)
{
	struct cfg_sink c = {0};
	struct sink s = {0};
	struct sample v;

	s.cfg = &c;
	s.ops = &sink_file_ops;
	/* A missing directory is created, as for the spool and the socket;
	 * one that cannot be (a file is in the way) is an error at open. */
	snprintf(c.path, sizeof(c.path), "%s/no/such/dir/x.lp", tmpdir);
	CHECK_EQ_INT(s.ops->open(&s), 0);
	CHECK(access(c.path, F_OK) == 0);
	s.ops->close(&s);
	snprintf(c.path, sizeof(c.path), "%s/no/such/dir/x.lp/y.lp", tmpdir);
	CHECK_EQ_INT(s.ops->open(&s), -ENOTDIR);
	/* A FIFO would block the uploader: refused, at once. */
	snprintf(c.path, sizeof(c.path), "%s/fifo", tmpdir);
	CHECK_EQ_INT(mkfifo(c.path, 0600), 0);
	CHECK(s.ops->open(&s) < 0);
	c.path[0] = '\0';
	CHECK_EQ_INT(s.ops->open(&s), -EINVAL);

	/* A full disk: retried, with the reason. */
	snprintf(c.path, sizeof(c.path), "/dev/full");
	CHECK_EQ_INT(s.ops->open(&s), 0);
	mk(&v, 1, 1);
	CHECK_EQ_INT(send1(&s, &v, 1), SINK_RETRY);
	CHECK(!strcmp(s.verdict_msg, "write /dev/full: No space left on device"));
	s.ops->close(&s);

	/* A device that cannot sync still takes the lines. */
	snprintf(c.path, sizeof(c.path), "/dev/null");
	CHECK_EQ_INT(s.ops->open(&s), 0);
	CHECK_EQ_INT(send1(&s, &v, 1), SINK_OK);
	s.ops->close(&s);
}

int main(void)
{
	umask(022);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_lines_and_rotation();
	test_errors();
	rmdir(tmpdir);
	return check_result();
}

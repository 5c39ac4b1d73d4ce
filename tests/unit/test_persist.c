/* Energy checkpoints: the strict state-file parser (out-of-range and garbage
 * values), the fallback to .prev when the current file is missing or
 * damaged, 0 only when both are, damaged files kept as evidence, the
 * rotation on save and at every crash point, a change of impulses_per_kwh,
 * and failure logging that does not repeat. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "persist.h"
#include "state_file.h"

static char root[PATH_MAX];
static char dir[PATH_MAX + 32];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, empty state directory for each case. */
static void fresh_dir(const char *name)
{
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		exit(1);
	}
}

static void file_path(char *out, size_t n, const char *sfx)
{
	snprintf(out, n, "%s/pulse.m.state%s", dir, sfx);
}

static void put(const char *sfx, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	file_path(path, sizeof(path), sfx);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The file's content, or "(missing)". */
static const char *get(const char *sfx)
{
	static char text[4][512];
	static int slot;
	char path[PATH_MAX + 64], *t = text[slot++ & 3];
	size_t n;
	FILE *f;

	file_path(path, sizeof(path), sfx);
	f = fopen(path, "r");
	if (!f)
		return "(missing)";
	n = fread(t, 1, sizeof(text[0]) - 1, f);
	t[n] = '\0';
	fclose(f);
	return t;
}

static int exists(const char *sfx)
{
	char path[PATH_MAX + 64];

	file_path(path, sizeof(path), sfx);
	return access(path, F_OK) == 0;
}

static const char *state(uint64_t flashes, uint32_t ipk)
{
	static char text[4][128];
	static int slot;
	char *t = text[slot++ & 3];

	snprintf(t, sizeof(text[0]), "powerd-state 1\nflashes %" PRIu64 "\nimpulses_per_kwh %u\n",
		 flashes, ipk);
	return t;
}

/* stderr into a file while a case runs, to check what was logged. */
static char log_path[PATH_MAX + 16];
static int saved_stderr = -1;
static char logged[8192];

static void capture_begin(void)
{
	int fd;

	fflush(stderr);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_stderr = dup(2);
	if (fd < 0 || saved_stderr < 0 || dup2(fd, 2) < 0) {
		perror("capture");
		exit(1);
	}
	close(fd);
}

/* Returns the number of lines logged (also left in `logged`). */
static int capture_end(void)
{
	int fd, lines = 0;
	ssize_t n;
	char *p;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(log_path, O_RDONLY);
	n = fd >= 0 ? read(fd, logged, sizeof(logged) - 1) : -1;
	if (fd >= 0)
		close(fd);
	logged[n > 0 ? n : 0] = '\0';
	for (p = logged; *p; p++)
		lines += *p == '\n';
	/* Keep the lines in the test log too. */
	fputs(logged, stderr);
	return lines;
}

static int parse(const char *text, struct state_file *s)
{
	return state_file_parse(text, strlen(text), s, NULL);
}

static void test_parse(void)
{
	static const char *const garbage[] = {
		"",
		"powerd-state 1\n",
		"powerd-state 2\nflashes 5\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes +3\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes  3\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 3 \nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 03\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 0x10\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 1e3\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes \nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh -1000\n",
		"powerd-state 1\r\nflashes 3\r\nimpulses_per_kwh 1000\r\n",
		" powerd-state 1\nflashes 3\nimpulses_per_kwh 1000\n",
		"xpowerd-state 1\nflashes 3\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 1000\nx",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 1000\n\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 1000",
		"powerd-state 1\nimpulses_per_kwh 1000\nflashes 3\n",
	};
	static const char *const out_of_range[] = {
		"powerd-state 1\nflashes 18446744073709551616\nimpulses_per_kwh 1000\n", /* 2^64 */
		"powerd-state 1\nflashes 18446744073709551615\nimpulses_per_kwh 1000\n", /* 2^64-1
											  */
		"powerd-state 1\nflashes 18446744073709551613\nimpulses_per_kwh 1000\n", /* "-3" */
		"powerd-state 1\nflashes 99999999999999999999999\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 100000000000000000000000\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 2501999792984\nimpulses_per_kwh 1000\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 0\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 1000001\n",
		"powerd-state 1\nflashes 3\nimpulses_per_kwh 99999999999999999999999\n",
	};
	const char *good = state(123456, 1000), *why = NULL;
	char text[STATE_FILE_MAX], big[STATE_FILE_MAX + 2];
	struct state_file s = {0};
	size_t i, len;

	CHECK_EQ_INT(parse(good, &s), 0);
	CHECK_EQ_INT(s.flashes, 123456);
	CHECK_EQ_INT(s.impulses_per_kwh, 1000);
	CHECK_EQ_INT(parse(state(0, 1), &s), 0);
	CHECK_EQ_INT(s.flashes, 0);
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		int r = state_file_parse(garbage[i], strlen(garbage[i]), &s, &why);

		CHECK_EQ_INT(r, -EBADMSG);
		if (r != -EBADMSG)
			fprintf(stderr, "  garbage[%zu] accepted\n", i);
	}
	CHECK(state_file_parse(garbage[3], strlen(garbage[3]), &s, &why) == -EBADMSG &&
	      !strcmp(why, "negative number"));
	for (i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
		int r = state_file_parse(out_of_range[i], strlen(out_of_range[i]), &s, &why);

		CHECK_EQ_INT(r, -ERANGE);
		if (r != -ERANGE)
			fprintf(stderr, "  out_of_range[%zu] gave %d\n", i, r);
	}
	/* Every truncation of a good file is damage, never a smaller count. */
	for (i = 0; i < strlen(good); i++)
		CHECK_EQ_INT(state_file_parse(good, i, &s, NULL), -EBADMSG);
	/* A NUL inside is garbage too. */
	memcpy(text, good, strlen(good) + 1);
	text[20] = '\0';
	CHECK_EQ_INT(state_file_parse(text, strlen(good), &s, NULL), -EBADMSG);
	memset(big, '1', sizeof(big));
	memcpy(big, good, strlen(good) - 1);
	CHECK_EQ_INT(state_file_parse(big, sizeof(big), &s, NULL), -EBADMSG);

	/* The bound: 2^53 J, exact for any constant. */
	CHECK_EQ_INT(state_file_flashes_max(1000), 2501999792983LL);
	CHECK_EQ_INT(state_file_flashes_max(1), 2501999792LL);
	CHECK_EQ_INT(state_file_flashes_max(1000000), 2501999792983608LL);
	CHECK_EQ_INT(state_file_flashes_max(0), 0);
	CHECK_EQ_INT(state_file_flashes_max(1000001), 0);
	CHECK((double)state_file_flashes_max(1000) * 3.6e6 / 1000 <= 9007199254740992.0);
	CHECK((double)(state_file_flashes_max(1000) + 1) * 3600 > 9007199254740992.0);
	CHECK_EQ_INT(parse(state(2501999792983ULL, 1000), &s), 0);
	CHECK_EQ_INT(parse(state(2501999792983608ULL, 1000000), &s), 0);

	/* format and parse agree, byte for byte. */
	s.flashes = 2501999792983608ULL;
	s.impulses_per_kwh = 1000000;
	CHECK_EQ_INT(state_file_format(&s, text, sizeof(text), &len), 0);
	CHECK_EQ_INT(len, strlen(text));
	CHECK(len <= 65);
	CHECK(!strcmp(text, state(s.flashes, s.impulses_per_kwh)));
	s.flashes++;
	CHECK_EQ_INT(state_file_format(&s, text, sizeof(text), &len), -ERANGE);
	s.flashes = 1;
	s.impulses_per_kwh = 0;
	CHECK_EQ_INT(state_file_format(&s, text, sizeof(text), &len), -ERANGE);
	s.impulses_per_kwh = 1000;
	CHECK_EQ_INT(state_file_format(&s, text, 10, &len), -ENOSPC);
}

static void test_convert(void)
{
	uint64_t n = 0;

	CHECK_EQ_INT(state_file_convert(1000, 1000, 2000, &n), 0);
	CHECK_EQ_INT(n, 2000);
	CHECK_EQ_INT(state_file_convert(1001, 1000, 500, &n), 0);
	CHECK_EQ_INT(n, 501); /* 500.5 rounds up */
	CHECK_EQ_INT(state_file_convert(1000, 1000, 1000, &n), 0);
	CHECK_EQ_INT(n, 1000);
	CHECK_EQ_INT(state_file_convert(3, 1000000, 1, &n), 0);
	CHECK_EQ_INT(n, 0);
	/* Large counts stay exact (no double on the way). */
	CHECK_EQ_INT(state_file_convert(2501999792983ULL, 1000, 1000000, &n), 0);
	CHECK_EQ_INT(n, 2501999792983000ULL);
	CHECK_EQ_INT(state_file_convert(2501999792983608ULL, 1000000, 1000, &n), 0);
	CHECK_EQ_INT(n, 2501999792983ULL); /* capped at the bound */
	CHECK_EQ_INT(state_file_convert(2501999792984ULL, 1000, 2000, &n), -ERANGE);
	CHECK_EQ_INT(state_file_convert(5, 0, 1000, &n), -ERANGE);
	CHECK_EQ_INT(state_file_convert(5, 1000, 1000001, &n), -ERANGE);
}

/* The parser's range for impulses_per_kwh is the configuration's. */
static void test_config_range(void)
{
	char text[128];
	struct config c;
	FILE *devnull = fopen("/dev/null", "w");

	snprintf(text, sizeof(text), "[pulse.a]\nchip=gpiochip0\nline=17\nimpulses_per_kwh=%u\n",
		 STATE_FILE_IPK_MAX);
	memset(&c, 0, sizeof(c));
	CHECK_EQ_INT(cfg_load_mem("t.conf", text, strlen(text), &c, devnull), 0);
	cfg_free(&c);
	snprintf(text, sizeof(text), "[pulse.a]\nchip=gpiochip0\nline=17\nimpulses_per_kwh=%u\n",
		 STATE_FILE_IPK_MAX + 1);
	memset(&c, 0, sizeof(c));
	CHECK(cfg_load_mem("t.conf", text, strlen(text), &c, devnull) != 0);
	cfg_free(&c);
	snprintf(text, sizeof(text), "[pulse.a]\nchip=gpiochip0\nline=17\nimpulses_per_kwh=%u\n",
		 STATE_FILE_IPK_MIN - 1);
	memset(&c, 0, sizeof(c));
	CHECK(cfg_load_mem("t.conf", text, strlen(text), &c, devnull) != 0);
	cfg_free(&c);
	fclose(devnull);
}

static uint64_t load(uint32_t ipk, enum persist_from *from, int *r)
{
	uint64_t n = 777;

	*r = persist_load(dir, "m", ipk, &n, from);
	return n;
}

static void test_load_good(void)
{
	enum persist_from from;
	int r;

	fresh_dir("fresh");
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 0);
	CHECK_EQ_INT(capture_end(), 0);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(from, PERSIST_FROM_NONE);

	fresh_dir("good");
	put("", state(4242, 1000));
	put(".prev", state(4000, 1000));
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 4242);
	CHECK_EQ_INT(capture_end(), 0);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(from, PERSIST_FROM_CURRENT);
	CHECK(!strcmp(get(""), state(4242, 1000)));
	CHECK(!exists(".corrupt"));
}

/* The current file damaged in `how`, a good .prev: the counter continues
 * from .prev and the damaged file is kept, byte for byte. */
static void damaged_current(const char *name, const char *how)
{
	enum persist_from from;
	int r;

	fresh_dir(name);
	put("", how);
	put(".prev", state(4000, 1000));
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 4000);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(from, PERSIST_FROM_PREV);
	CHECK(!exists(""));
	CHECK(!strcmp(get(".corrupt"), how));
	CHECK(!strcmp(get(".prev"), state(4000, 1000)));
	CHECK(strstr(logged, "is damaged"));
	CHECK(strstr(logged, "moved to "));
	CHECK(strstr(logged, "pulse.m.state.corrupt"));
	CHECK(strstr(logged, "continuing from the previous checkpoint"));
	CHECK(strstr(logged, "4000 flashes (4.000 kWh)"));
	CHECK(strstr(logged, "are lost"));
}

static void test_load_damaged(void)
{
	enum persist_from from;
	char bad[2 * STATE_FILE_MAX];
	int r;

	damaged_current("minus3", "powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n");
	CHECK(strstr(logged, "negative number"));
	damaged_current("2pow64", "powerd-state 1\nflashes 18446744073709551616\n"
				  "impulses_per_kwh 1000\n");
	CHECK(strstr(logged, "beyond 2^53 J"));
	damaged_current("1e23", "powerd-state 1\nflashes 100000000000000000000000\n"
				"impulses_per_kwh 1000\n");
	damaged_current("leading", "xx powerd-state 1\nflashes 5000\nimpulses_per_kwh 1000\n");
	damaged_current("trailing", "powerd-state 1\nflashes 5000\nimpulses_per_kwh 1000\ngarbage");
	damaged_current("truncated", "powerd-state 1\nflashes 50");
	damaged_current("empty", "");
	CHECK(strstr(logged, "(empty)"));
	damaged_current("ipk0", "powerd-state 1\nflashes 5000\nimpulses_per_kwh 0\n");
	memset(bad, '7', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	damaged_current("toolarge", bad);

	/* Missing (a crash between the renames of a save without hard links):
	 * .prev, and nothing moved. */
	fresh_dir("missing");
	put(".prev", state(4000, 1000));
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 4000);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK_EQ_INT(from, PERSIST_FROM_PREV);
	CHECK(strstr(logged, "is missing; continuing from the previous checkpoint"));
	CHECK(!strcmp(get(".prev"), state(4000, 1000)));
	CHECK(!exists(".corrupt") && !exists(".prev.corrupt"));

	/* Both damaged: 0, loudly, and both kept. */
	fresh_dir("both");
	put("", "powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n");
	put(".prev", "powerd-state 1\nflashes 4000\nimpulses_per_kwh 1000\nxyz");
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 0);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(from, PERSIST_FROM_ZERO);
	CHECK(strstr(logged, "ENERGY COUNTER LOST"));
	CHECK(!exists("") && !exists(".prev"));
	CHECK(!strcmp(get(".corrupt"), "powerd-state 1\nflashes -3\nimpulses_per_kwh 1000\n"));
	CHECK(!strcmp(get(".prev.corrupt"),
		      "powerd-state 1\nflashes 4000\nimpulses_per_kwh 1000\nxyz"));

	/* Damaged and no .prev (the first checkpoint ever): 0 too. */
	fresh_dir("noprev");
	put("", "garbage");
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 0);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK_EQ_INT(from, PERSIST_FROM_ZERO);
	CHECK(strstr(logged, "ENERGY COUNTER LOST"));
	CHECK(!strcmp(get(".corrupt"), "garbage"));

	/* Good current, damaged .prev: the current one, .prev left for the
	 * next save to replace. */
	fresh_dir("badprev");
	put("", state(4242, 1000));
	put(".prev", "garbage");
	CHECK_EQ_INT(load(1000, &from, &r), 4242);
	CHECK_EQ_INT(from, PERSIST_FROM_CURRENT);

	/* Unreadable (not as root, which reads anything): an error, not a
	 * restart at 0, and nothing moved. */
	if (geteuid() != 0) {
		char path[PATH_MAX + 64];

		fresh_dir("eacces");
		put("", state(4242, 1000));
		put(".prev", state(4000, 1000));
		file_path(path, sizeof(path), "");
		CHECK_EQ_INT(chmod(path, 0), 0);
		CHECK_EQ_INT(persist_load(dir, "m", 1000, &(uint64_t){0}, &from), -EACCES);
		CHECK(exists("") && !exists(".corrupt"));
		chmod(path, 0600);
	}

	/* Not a regular file: damage, moved aside like any other. */
	fresh_dir("fifo");
	{
		char path[PATH_MAX + 64];

		file_path(path, sizeof(path), "");
		CHECK_EQ_INT(mkfifo(path, 0600), 0);
		put(".prev", state(4000, 1000));
		capture_begin();
		CHECK_EQ_INT(load(1000, &from, &r), 4000);
		capture_end();
		CHECK(strstr(logged, "not a regular file"));
		CHECK(!exists(""));
		file_path(path, sizeof(path), ".corrupt");
		CHECK(access(path, F_OK) == 0);
	}
}

/* Older evidence is never overwritten: .corrupt, .corrupt.1, ... and, once
 * all ten are taken, the last slot holds the newest. */
static void test_evidence(void)
{
	enum persist_from from;
	char what[32], sfx[32];
	int i, r;

	fresh_dir("evidence");
	put(".prev", state(4000, 1000));
	for (i = 0; i < 12; i++) {
		snprintf(what, sizeof(what), "damage %d", i);
		put("", what);
		capture_begin();
		CHECK_EQ_INT(load(1000, &from, &r), 4000);
		capture_end();
		CHECK_EQ_INT(from, PERSIST_FROM_PREV);
	}
	CHECK(!strcmp(get(".corrupt"), "damage 0"));
	for (i = 1; i < 9; i++) {
		snprintf(sfx, sizeof(sfx), ".corrupt.%d", i);
		snprintf(what, sizeof(what), "damage %d", i);
		CHECK(!strcmp(get(sfx), what));
	}
	CHECK(!strcmp(get(".corrupt.9"), "damage 11"));
	CHECK(!exists(".corrupt.10"));
}

static void test_convert_on_load(void)
{
	enum persist_from from;
	int r;

	fresh_dir("ipk");
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 1500), 0);
	capture_begin();
	CHECK_EQ_INT(load(2000, &from, &r), 3000);
	capture_end();
	CHECK_EQ_INT(from, PERSIST_FROM_CURRENT);
	CHECK(strstr(logged, "impulses_per_kwh changed from 1000 to 2000"));
	/* From .prev as well. */
	put("", "garbage");
	put(".prev", state(1001, 1000));
	capture_begin();
	CHECK_EQ_INT(load(500, &from, &r), 501);
	capture_end();
	CHECK_EQ_INT(from, PERSIST_FROM_PREV);
}

static void test_save_rotates(void)
{
	enum persist_from from;
	int r;

	fresh_dir("rotate");
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 10), 0);
	CHECK(!strcmp(get(""), state(10, 1000)));
	CHECK(!exists(".prev"));
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 20), 0);
	CHECK(!strcmp(get(""), state(20, 1000)));
	CHECK(!strcmp(get(".prev"), state(10, 1000)));
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 30), 0);
	CHECK(!strcmp(get(""), state(30, 1000)));
	CHECK(!strcmp(get(".prev"), state(20, 1000)));
	CHECK(!exists(".tmp") && !exists(".prev.tmp"));
	CHECK_EQ_INT(load(1000, &from, &r), 30);

	/* A damaged current file is not rotated over a good .prev. */
	put("", "garbage");
	capture_begin();
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 40), 0);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK(!strcmp(get(""), state(40, 1000)));
	CHECK(!strcmp(get(".prev"), state(20, 1000)));
	CHECK(!strcmp(get(".corrupt"), "garbage"));

	/* After a fallback to .prev the next save leaves .prev in place. */
	fresh_dir("after-fallback");
	put(".prev", state(4000, 1000));
	CHECK_EQ_INT(load(1000, &from, &r), 4000);
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 4100), 0);
	CHECK(!strcmp(get(""), state(4100, 1000)));
	CHECK(!strcmp(get(".prev"), state(4000, 1000)));

	/* What cannot be read back is not written; the files stay. */
	CHECK_EQ_INT(persist_save(dir, "m", 1000, state_file_flashes_max(1000) + 1), -ERANGE);
	CHECK(!strcmp(get(""), state(4100, 1000)));
	CHECK(!strcmp(get(".prev"), state(4000, 1000)));

	/* A directory that is not there: an error, not a crash. */
	CHECK_EQ_INT(persist_save("/nonexistent/powerd", "m", 1000, 1), -ENOENT);
}

/* The files as a crash leaves them after each step of a save (10 saved,
 * then 20 saved, then 30 being saved): the newest complete value loads. */
static void test_crash_points(void)
{
	enum persist_from from;
	int r;

	/* During the write of .tmp: a torn .tmp is ignored. */
	fresh_dir("crash-write");
	put("", state(20, 1000));
	put(".prev", state(10, 1000));
	put(".tmp", "powerd-state 1\nflashes 3");
	CHECK_EQ_INT(load(1000, &from, &r), 20);
	CHECK_EQ_INT(from, PERSIST_FROM_CURRENT);
	/* and the next save overwrites it. */
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 31), 0);
	CHECK(!strcmp(get(""), state(31, 1000)));
	CHECK(!strcmp(get(".prev"), state(20, 1000)));
	CHECK(!exists(".tmp"));

	/* After the link of the current file to .prev.tmp. */
	fresh_dir("crash-link");
	put("", state(20, 1000));
	put(".prev", state(10, 1000));
	put(".prev.tmp", state(20, 1000));
	put(".tmp", state(30, 1000));
	CHECK_EQ_INT(load(1000, &from, &r), 20);
	CHECK_EQ_INT(persist_save(dir, "m", 1000, 31), 0);
	CHECK(!exists(".prev.tmp") && !exists(".tmp"));
	CHECK(!strcmp(get(".prev"), state(20, 1000)));

	/* After .prev.tmp became .prev, before .tmp became current. */
	fresh_dir("crash-prev");
	put("", state(20, 1000));
	put(".prev", state(20, 1000));
	put(".tmp", state(30, 1000));
	CHECK_EQ_INT(load(1000, &from, &r), 20);

	/* Without hard links, after current became .prev. */
	fresh_dir("crash-nolink");
	put(".prev", state(20, 1000));
	put(".tmp", state(30, 1000));
	capture_begin();
	CHECK_EQ_INT(load(1000, &from, &r), 20);
	capture_end();
	CHECK_EQ_INT(from, PERSIST_FROM_PREV);
}

static void test_report(void)
{
	struct persist_health h = {0};
	int i;

	capture_begin();
	persist_report(&h, "meter m", "/state", 0);
	CHECK_EQ_INT(capture_end(), 0);

	/* A full disk for many intervals: one line. */
	capture_begin();
	for (i = 0; i < 100; i++)
		persist_report(&h, "meter m", "/state", -ENOSPC);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK(strstr(logged, "cannot save the energy counter in /state"));
	CHECK(strstr(logged, strerror(ENOSPC)));
	CHECK_EQ_INT(h.failures, 100);

	/* A different failure: one more line, with the count so far. */
	capture_begin();
	for (i = 0; i < 5; i++)
		persist_report(&h, "meter m", "/state", -EROFS);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK(strstr(logged, strerror(EROFS)));
	CHECK(strstr(logged, "101 failed attempts so far"));

	/* Recovery: one line with the total, then silence. */
	capture_begin();
	persist_report(&h, "meter m", "/state", 0);
	persist_report(&h, "meter m", "/state", 0);
	CHECK_EQ_INT(capture_end(), 1);
	CHECK(strstr(logged, "again, after 105 failed attempts"));
	CHECK_EQ_INT(h.failures, 0);
	CHECK_EQ_INT(h.err, 0);
}

int main(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(root, sizeof(root), "%s/test_persist.XXXXXX", base);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(log_path, sizeof(log_path), "%s/log", root);
	log_set_level(LOG_INFO);

	test_parse();
	test_convert();
	test_config_range();
	test_load_good();
	test_load_damaged();
	test_evidence();
	test_convert_on_load();
	test_save_rotates();
	test_crash_points();
	test_report();
	return check_result();
}

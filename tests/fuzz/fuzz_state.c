// fuzz-extra-sources: daemon/state_file.c daemon/persist.c daemon/fsutil.c
/* libFuzzer target for the energy checkpoints.  The input:
 *
 *   byte 0   flags: 1 = a current file, 2 = a .prev file, 4 = load with
 *            another impulses_per_kwh (from bytes 1-2)
 *   bytes 1-2  split offset (little-endian) between the two files
 *   the rest: the current file's bytes, then the .prev file's
 *
 * The parser never accepts what it would not write byte for byte, never a
 * count beyond the bound; persist_load() takes the current file if it
 * parses, else .prev, else 0, moves every damaged file aside, and a save
 * after it loads back as the same count. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "persist.h"
#include "state_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_state:%d: %s\n", __LINE__, #cond);                   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void dir_clean(void)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static void dir_remove(void)
{
	dir_clean();
	rmdir(fuzz_dir);
}

static void put_file(const char *sfx, const uint8_t *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/pulse.f.state%s", fuzz_dir, sfx);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static int have_file(const char *sfx)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/pulse.f.state%s", fuzz_dir, sfx);
	return access(path, F_OK) == 0;
}

/* The parser on its own: 0 with a canonical file, or a rejection. */
static int check_parse(const uint8_t *p, size_t n, uint32_t ipk, uint64_t *converted)
{
	char text[STATE_FILE_MAX];
	struct state_file s;
	const char *why = NULL;
	size_t len;
	int r = state_file_parse((const char *)p, n, &s, &why);

	if (r) {
		FUZZ_ASSERT(r == -EBADMSG || r == -ERANGE);
		FUZZ_ASSERT(why && why[0]);
		return r;
	}
	FUZZ_ASSERT(s.impulses_per_kwh >= STATE_FILE_IPK_MIN);
	FUZZ_ASSERT(s.impulses_per_kwh <= STATE_FILE_IPK_MAX);
	FUZZ_ASSERT(s.flashes <= state_file_flashes_max(s.impulses_per_kwh));
	FUZZ_ASSERT(state_file_format(&s, text, sizeof(text), &len) == 0);
	FUZZ_ASSERT(len == n && !memcmp(text, p, n));
	FUZZ_ASSERT(state_file_convert(s.flashes, s.impulses_per_kwh, ipk, converted) == 0);
	FUZZ_ASSERT(*converted <= state_file_flashes_max(ipk));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cur, *prev;
	size_t ncur, nprev, split;
	uint64_t want = 0, got, vc = 0, vp = 0, again, next;
	enum persist_from from, want_from;
	uint32_t ipk = 1000;
	int rc, rp;
	uint8_t flags;

	if (!fuzz_dir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_state.XXXXXX", base);
		FUZZ_ASSERT(mkdtemp(fuzz_dir));
		atexit(dir_remove);
		log_set_level(LOG_EMERG); /* it logs every fallback */
	}
	dir_clean();
	if (size < 3)
		return 0;
	flags = data[0];
	split = (size_t)data[1] | (size_t)data[2] << 8;
	if (flags & 4)
		ipk = (uint32_t)split % STATE_FILE_IPK_MAX + 1;
	data += 3;
	size -= 3;
	split %= size + 1;
	cur = data;
	ncur = split;
	prev = data + split;
	nprev = size - split;

	rc = (flags & 1) ? check_parse(cur, ncur, ipk, &vc) : -ENOENT;
	rp = (flags & 2) ? check_parse(prev, nprev, ipk, &vp) : -ENOENT;
	if (flags & 1)
		put_file("", cur, ncur);
	if (flags & 2)
		put_file(".prev", prev, nprev);

	if (rc == 0)
		want_from = PERSIST_FROM_CURRENT, want = vc;
	else if (rp == 0)
		want_from = PERSIST_FROM_PREV, want = vp;
	else if (rc == -ENOENT && rp == -ENOENT)
		want_from = PERSIST_FROM_NONE;
	else
		want_from = PERSIST_FROM_ZERO;
	FUZZ_ASSERT(persist_load(fuzz_dir, "f", ipk, &got, &from) == 0);
	FUZZ_ASSERT(from == want_from);
	FUZZ_ASSERT(got == want);
	/* Damaged files are moved aside, good ones stay. */
	FUZZ_ASSERT(have_file("") == (rc == 0));
	FUZZ_ASSERT(have_file(".corrupt") == (rc != 0 && rc != -ENOENT));
	if (rc != 0)
		FUZZ_ASSERT(have_file(".prev") == (rp == 0));

	/* The value continues: saved and loaded back, twice (a rotation). */
	FUZZ_ASSERT(persist_save(fuzz_dir, "f", ipk, got) == 0);
	next = got < state_file_flashes_max(ipk) ? got + 1 : got;
	FUZZ_ASSERT(persist_save(fuzz_dir, "f", ipk, next) == 0);
	FUZZ_ASSERT(persist_load(fuzz_dir, "f", ipk, &again, &from) == 0);
	FUZZ_ASSERT(from == PERSIST_FROM_CURRENT && again == next);
	FUZZ_ASSERT(!have_file(".tmp") && !have_file(".prev.tmp"));
	return 0;
}

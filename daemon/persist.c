/* Energy counters on disk, one small text file per meter:
 *
 *   state_dir/pulse.NAME.state:   "powerd-state 1\nflashes N\nimpulses_per_kwh K\n"
 *
 * Written to a temporary file, fsync'ed, renamed over the old one, and the
 * directory fsync'ed, so after a power cut the file holds either the old or
 * the new count, never a torn mixture.  Runs on the meter thread, never on
 * the I/O thread (fsync blocks). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "powerd.h"

static int persist_path(char *out, size_t n, const char *dir, const char *name, const char *sfx)
{
	int k = snprintf(out, n, "%s/pulse.%s.state%s", dir, name, sfx);

	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

int persist_prepare_dir(const char *state_dir)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(state_dir);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, state_dir, n + 1);
	/* mkdir -p, so a fresh install or a demo just works. */
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = state_dir[i];
	}
	return access(state_dir, W_OK | X_OK) < 0 ? -errno : 0;
}

int persist_load(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t *flashes)
{
	char path[PATH_MAX], bad[PATH_MAX + 16];
	unsigned long long n = 0;
	unsigned long ipk = 0;
	int version = 0, r;
	FILE *f;

	*flashes = 0;
	r = persist_path(path, sizeof(path), state_dir, name, "");
	if (r)
		return r;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	r = fscanf(f, "powerd-state %d\nflashes %llu\nimpulses_per_kwh %lu\n", &version, &n, &ipk);
	fclose(f);
	if (r != 3 || version != 1 || ipk == 0) {
		/* Keep the evidence, start from zero, and say so loudly. */
		snprintf(bad, sizeof(bad), "%s.corrupt", path);
		rename(path, bad);
		log_err("meter %s: state file %s is corrupt (moved to %s); energy restarts at 0",
			name, path, bad);
		return -EBADMSG;
	}
	if (ipk != impulses_per_kwh) {
		/* Same energy, counted in the new unit. */
		n = (unsigned long long)((double)n * impulses_per_kwh / (double)ipk + 0.5);
		log_warn("meter %s: impulses_per_kwh changed from %lu to %u; energy counter "
			 "converted to %llu flashes",
			 name, ipk, impulses_per_kwh, n);
	}
	*flashes = n;
	return 0;
}

static int persist_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int persist_save(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t flashes)
{
	char path[PATH_MAX], tmp[PATH_MAX], text[128];
	int fd, n, r;

	r = persist_path(path, sizeof(path), state_dir, name, "");
	if (!r)
		r = persist_path(tmp, sizeof(tmp), state_dir, name, ".tmp");
	if (r)
		return r;
	n = snprintf(text, sizeof(text),
		     "powerd-state 1\nflashes %" PRIu64 "\nimpulses_per_kwh %u\n", flashes,
		     impulses_per_kwh);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return r;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return persist_fsync_dir(state_dir);
}

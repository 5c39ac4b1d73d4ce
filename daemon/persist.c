/* Energy checkpoints on disk (persist.h), and what happens when one is
 * damaged.
 *
 * A save writes pulse.NAME.state.tmp and fsyncs it, hard-links the current
 * file (if it parses) to .prev.tmp and renames that over .prev, renames .tmp
 * over the current file, and fsyncs the directory.  Every name therefore
 * points at a complete, fsync'ed file at every moment: after a crash at any
 * step the current file holds the old or the new count and .prev the one
 * before or the old one, never a torn mixture and never nothing.  Without
 * hard links (FAT) the current file is renamed to .prev instead; a crash
 * between the two renames then leaves only .prev, which load uses.
 *
 * Load takes the current file if it parses, else .prev: a damaged file is
 * moved aside as evidence and the log says which checkpoint the counter
 * continues from and since when flashes are missing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "persist.h"
#include "state_file.h"

/* Evidence files kept per checkpoint name: .corrupt, .corrupt.1 ... */
#define PERSIST_CORRUPT_KEEP 10

/* A checkpoint as read from disk. */
struct persist_file {
	struct state_file s;
	time_t mtime;
	const char *why; /* for -EBADMSG: what is wrong with it */
};

static int persist_path(char *out, size_t n, const char *dir, const char *name, const char *sfx)
{
	int k = snprintf(out, n, "%s/pulse.%s.state%s", dir, name, sfx);

	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int persist_read(const char *path, struct persist_file *f)
{
	char text[STATE_FILE_MAX + 1];
	size_t len = 0;
	struct stat sb;
	ssize_t n;
	int fd, r;

	/* O_NONBLOCK: a FIFO in its place must not hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENXIO) {
			f->why = "not a regular file";
			return -EBADMSG;
		}
		return -errno;
	}
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		f->why = "not a regular file";
		return -EBADMSG;
	}
	f->mtime = sb.st_mtime;
	/* One byte more than a checkpoint can be, to see that it is longer. */
	while (len < sizeof(text)) {
		n = read(fd, text + len, sizeof(text) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* An unreadable block is damage like any other. */
			close(fd);
			f->why = "read error";
			return -EBADMSG;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 0) {
		f->why = "empty";
		return -EBADMSG;
	}
	return state_file_parse(text, len, &f->s, &f->why) ? -EBADMSG : 0;
}

/* Move a damaged file to the first free PATH.corrupt[.N], never over older
 * evidence, except the last slot once all are taken (the oldest stay). */
static int persist_set_aside(const char *path, char *bad, size_t n)
{
	char base[PATH_MAX];

	if ((size_t)snprintf(base, sizeof(base), "%s.corrupt", path) >= sizeof(base))
		return -ENAMETOOLONG;
	return fs_set_aside(AT_FDCWD, path, base, PERSIST_CORRUPT_KEEP, true, bad, n);
}

/* For the log: "missing", or "damaged (why), moved to X" once it is moved
 * aside. */
static void persist_damage(int r, const struct persist_file *f, const char *path, char *out,
			   size_t n)
{
	char bad[PATH_MAX + 32];

	if (r == -ENOENT) {
		snprintf(out, n, "missing");
		return;
	}
	r = persist_set_aside(path, bad, sizeof(bad));
	if (r)
		snprintf(out, n, "damaged (%s) and could not be moved aside: %s", f->why,
			 strerror(-r));
	else
		snprintf(out, n, "damaged (%s), moved to %s", f->why, bad);
}

static int persist_use(const char *name, const struct persist_file *f, uint32_t impulses_per_kwh,
		       uint64_t *flashes)
{
	uint64_t n = f->s.flashes;

	if (f->s.impulses_per_kwh != impulses_per_kwh) {
		/* Same energy, counted in the new unit. */
		if (state_file_convert(f->s.flashes, f->s.impulses_per_kwh, impulses_per_kwh, &n))
			return -ERANGE; /* not reached: the parser checked both */
		log_warn("meter %s: impulses_per_kwh changed from %" PRIu32 " to %" PRIu32
			 "; energy counter converted from %" PRIu64 " to %" PRIu64 " flashes",
			 name, f->s.impulses_per_kwh, impulses_per_kwh, f->s.flashes, n);
	}
	*flashes = n;
	return 0;
}

int persist_load(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t *flashes, enum persist_from *from)
{
	char path[PATH_MAX], prev[PATH_MAX], cur_note[PATH_MAX + 64], prev_note[PATH_MAX + 64];
	struct persist_file cur = {0}, old = {0};
	char when[32] = "?";
	struct tm tm;
	int rc, rp, r;

	*flashes = 0;
	*from = PERSIST_FROM_NONE;
	r = persist_path(path, sizeof(path), state_dir, name, "");
	if (!r)
		r = persist_path(prev, sizeof(prev), state_dir, name, ".prev");
	if (r)
		return r;
	rc = persist_read(path, &cur);
	if (rc == 0) {
		*from = PERSIST_FROM_CURRENT;
		return persist_use(name, &cur, impulses_per_kwh, flashes);
	}
	if (rc != -ENOENT && rc != -EBADMSG)
		return rc;
	rp = persist_read(prev, &old);
	if (rp != 0 && rp != -ENOENT && rp != -EBADMSG)
		return rp;
	persist_damage(rc, &cur, path, cur_note, sizeof(cur_note));
	if (rp == 0) {
		if (localtime_r(&old.mtime, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		r = persist_use(name, &old, impulses_per_kwh, flashes);
		if (r)
			return r;
		*from = PERSIST_FROM_PREV;
		log_err("meter %s: energy checkpoint %s is %s; continuing from the previous "
			"checkpoint %s: %" PRIu64 " flashes (%.3f kWh), written %s (%.0f s ago); "
			"the flashes counted after it are lost",
			name, path, cur_note, prev, *flashes, (double)*flashes / impulses_per_kwh,
			when, difftime(time(NULL), old.mtime));
		return 0;
	}
	if (rc == -ENOENT && rp == -ENOENT)
		return 0; /* a fresh start */
	persist_damage(rp, &old, prev, prev_note, sizeof(prev_note));
	*from = PERSIST_FROM_ZERO;
	log_err("meter %s: ENERGY COUNTER LOST, restarting at 0 flashes: checkpoint %s is %s, and "
		"the previous checkpoint %s is %s",
		name, path, cur_note, prev, prev_note);
	return 0;
}

/* The current checkpoint becomes .prev, if it is good: a damaged one must
 * not replace a good fallback. */
static int persist_keep_prev(const char *name, const char *path, const char *prev, const char *lnk)
{
	struct persist_file f = {0};
	char note[PATH_MAX + 64];
	int r = persist_read(path, &f);

	if (r == -ENOENT)
		return 0;
	if (r == -EBADMSG) {
		/* Damaged since it was written: rare, once per damage. */
		persist_damage(r, &f, path, note, sizeof(note));
		log_warn("meter %s: energy checkpoint %s is %s; the previous checkpoint %s stays "
			 "as the fallback",
			 name, path, note, prev);
		return 0;
	}
	if (r)
		return r;
	if (unlink(lnk) < 0 && errno != ENOENT)
		return -errno;
	if (link(path, lnk) == 0) {
		if (rename(lnk, prev) < 0) {
			r = -errno;
			unlink(lnk);
		}
		return r;
	}
	if (errno != EPERM && errno != EOPNOTSUPP && errno != EMLINK)
		return -errno;
	/* No hard links here: for a moment there is no current file. */
	return rename(path, prev) < 0 ? -errno : 0;
}

int persist_save(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t flashes)
{
	char path[PATH_MAX], tmp[PATH_MAX], prev[PATH_MAX], lnk[PATH_MAX], text[STATE_FILE_MAX];
	const struct state_file s = {.flashes = flashes, .impulses_per_kwh = impulses_per_kwh};
	size_t len;
	int r, kept;

	r = persist_path(path, sizeof(path), state_dir, name, "");
	if (!r)
		r = persist_path(tmp, sizeof(tmp), state_dir, name, ".tmp");
	if (!r)
		r = persist_path(prev, sizeof(prev), state_dir, name, ".prev");
	if (!r)
		r = persist_path(lnk, sizeof(lnk), state_dir, name, ".prev.tmp");
	if (!r)
		r = state_file_format(&s, text, sizeof(text), &len);
	if (!r)
		r = fs_write_file(tmp, text, len, 0640);
	if (r == -ENOSPC || r == -EDQUOT)
		/* A full disk cannot give a new file its first block, but the
		 * current checkpoint has one.  A tear falls back to .prev,
		 * which this does not touch. */
		return fs_overwrite(path, text, len);
	if (r)
		return r;
	/* Saving the new count matters more than keeping the old one: a
	 * failure here is reported, after the save. */
	kept = persist_keep_prev(name, path, prev, lnk);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	r = fs_fsync_dir(state_dir);
	return r ? r : kept;
}

void persist_report(struct persist_health *h, const char *who, const char *state_dir, int r)
{
	if (r == 0) {
		if (h->err)
			log_info("%s: energy counter saved in %s again, after %" PRIu64
				 " failed attempts",
				 who, state_dir, h->failures);
		h->err = 0;
		h->failures = 0;
		return;
	}
	h->failures++;
	if (r == h->err)
		return;
	if (h->err)
		log_err("%s: saving the energy counter in %s now fails with: %s (before: %s; "
			"%" PRIu64 " failed attempts so far); logged again when this changes",
			who, state_dir, strerror(-r), strerror(-h->err), h->failures);
	else
		log_err("%s: cannot save the energy counter in %s: %s; retrying every "
			"persist_interval, logged again when this changes",
			who, state_dir, strerror(-r));
	h->err = r;
}

/* The environment checks of `powerd --check` (check.h).  Each check says
 * what the daemon would do with the path and why that would fail: a
 * state_dir that is a file or on a read-only file system, a replay file
 * that is missing or not a regular file, a file sink that is a directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "check.h"

struct check {
	const struct config *cfg;
	FILE *errs;
	int problems;
};

static void check_report(struct check *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void check_report(struct check *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (line)
		fprintf(c->errs, "%s:%u: ", c->cfg->path, line);
	else
		fprintf(c->errs, "%s: ", c->cfg->path);
	va_start(ap, fmt);
	vfprintf(c->errs, fmt, ap);
	va_end(ap);
	fputc('\n', c->errs);
	c->problems++;
}

const char *check_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* A directory the daemon writes into, created (with its parents) if it is
 * missing: it, or the nearest ancestor that exists, must be a writable
 * directory on a writable file system.  Returns 0 or fills why. */
static int check_dir(const char *dir, char *why, size_t n)
{
	char p[PATH_MAX];
	struct statvfs vfs;
	struct stat sb;
	bool exists = true;
	char *slash;

	if (strlen(dir) >= sizeof(p)) {
		snprintf(why, n, "path too long");
		return -ENAMETOOLONG;
	}
	strcpy(p, dir);
	while (stat(p, &sb) < 0) {
		if (errno != ENOENT) {
			snprintf(why, n, "%s: %s", p, strerror(errno));
			return -errno;
		}
		exists = false;
		slash = strrchr(p, '/');
		if (!slash)
			strcpy(p, ".");
		else if (slash == p)
			p[1] = '\0';
		else
			*slash = '\0';
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(why, n, "%s is %s, not a directory", p,
			 S_ISREG(sb.st_mode) ? "a file" : check_kind(sb.st_mode));
		return -ENOTDIR;
	}
	if (statvfs(p, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
		snprintf(why, n, "%s is on a read-only file system", p);
		return -EROFS;
	}
	if (access(p, W_OK | X_OK) < 0) {
		snprintf(why, n, "%s %s: %s", exists ? "cannot write into" : "cannot create it in",
			 p, strerror(errno));
		return -EACCES;
	}
	return 0;
}

/* The directory part of path ("." when it has none). */
static void check_parent(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

/* A file the daemon reads (replay, ca_file, credentials). */
static int check_readable(const char *path, char *why, size_t n)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, n, "is %s (powerd reads regular files only)", check_kind(sb.st_mode));
		return -EINVAL;
	}
	if (access(path, R_OK) < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* A file the daemon appends to (the file sink): it, or its directory. */
static int check_writable(const char *path, char *why, size_t n)
{
	char parent[PATH_MAX];
	struct stat sb;

	if (stat(path, &sb) == 0) {
		/* A character device (/dev/null) takes lines; a FIFO would
		 * block the uploader once full. */
		if (!S_ISREG(sb.st_mode) && !S_ISCHR(sb.st_mode)) {
			snprintf(why, n, "is %s", check_kind(sb.st_mode));
			return -EINVAL;
		}
		if (access(path, W_OK) < 0) {
			snprintf(why, n, "%s", strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, n, "%s", strerror(errno));
		return -errno;
	}
	/* Missing: created, with its directory if need be. */
	check_parent(path, parent, sizeof(parent));
	return check_dir(parent, why, n);
}

static void check_daemon(struct check *c)
{
	const struct cfg_daemon *d = &c->cfg->daemon;
	char why[PATH_MAX + 128], parent[PATH_MAX];
	struct stat sb;

	if (check_dir(d->state_dir, why, sizeof(why)))
		check_report(c, d->line_no, "state_dir %s is not usable: %s", d->state_dir, why);
	if (!d->socket[0])
		return;
	if (lstat(d->socket, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
		check_report(c, d->line_no, "socket %s exists and is %s", d->socket,
			     check_kind(sb.st_mode));
		return;
	}
	check_parent(d->socket, parent, sizeof(parent));
	if (check_dir(parent, why, sizeof(why)))
		check_report(c, d->line_no, "socket %s: %s", d->socket, why);
}

static void check_pulses(struct check *c)
{
	char why[256];
	size_t i;

	for (i = 0; i < c->cfg->npulses; i++) {
		const struct cfg_pulse *p = &c->cfg->pulses[i];

		if (p->replay[0] && check_readable(p->replay, why, sizeof(why)))
			check_report(c, p->line_no, "[pulse.%s]: replay file %s: %s", p->name,
				     p->replay, why);
	}
}

static void check_sinks(struct check *c)
{
	char why[PATH_MAX + 128];
	size_t i;

	for (i = 0; i < c->cfg->nsinks; i++) {
		const struct cfg_sink *k = &c->cfg->sinks[i];

		if (k->type == CFG_SINK_FILE && check_writable(k->path, why, sizeof(why)))
			check_report(c, k->line_no, "[sink.%s]: path %s: %s", k->name, k->path,
				     why);
		if (k->ca_file[0] && check_readable(k->ca_file, why, sizeof(why)))
			check_report(c, k->line_no, "[sink.%s]: ca_file %s: %s", k->name,
				     k->ca_file, why);
		if (k->credentials_file[0] && check_readable(k->credentials_file, why, sizeof(why)))
			check_report(c, k->line_no, "[sink.%s]: credentials_file %s: %s", k->name,
				     k->credentials_file, why);
	}
}

int check_environment(const struct config *cfg, FILE *errs)
{
	struct check c = {.cfg = cfg, .errs = errs};

	check_daemon(&c);
	check_pulses(&c);
	check_sinks(&c);
	return c.problems;
}

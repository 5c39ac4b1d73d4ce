/* The environment checks of `powerd --check` (check.h).  Each check says
 * what the daemon would do with the path and why that would fail: a
 * state_dir that is a file or on a read-only file system, a replay file
 * that is missing or not a regular file, a file sink that is a directory, a
 * JSON source's directory that is missing.
 * Which keys are paths, and what the daemon does with each, the key tables
 * say (config_table.h), so a new kind's paths are checked as they are. */
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
#include "config_table.h"

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

/* A directory the daemon lists and reads files from (a JSON source): it is
 * never created, so it must exist. */
static int check_dir_readable(const char *path, char *why, size_t n)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(why, n, "is %s, not a directory",
			 S_ISREG(sb.st_mode) ? "a file" : check_kind(sb.st_mode));
		return -ENOTDIR;
	}
	if (access(path, R_OK | X_OK) < 0) {
		snprintf(why, n, "cannot list it: %s", strerror(errno));
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

static void check_socket(struct check *c, unsigned line, const char *title, const char *key,
			 const char *path)
{
	char why[PATH_MAX + 128], parent[PATH_MAX];
	struct stat sb;

	if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
		check_report(c, line, "%s: %s %s exists and is %s", title, key, path,
			     check_kind(sb.st_mode));
		return;
	}
	check_parent(path, parent, sizeof(parent));
	if (check_dir(parent, why, sizeof(why)))
		check_report(c, line, "%s: %s %s: %s", title, key, path, why);
}

/* One key that names a path, as the daemon will use it.  Reported at the
 * section's line (a path left at its default has no line of its own). */
static void check_key(struct check *c, const struct cfg_kind *k, const void *obj,
		      const struct cfg_key *key)
{
	const struct cfg_head *h = obj;
	const char *path = (const char *)obj + key->offset;
	char title[CFG_NAME_MAX + 32], why[PATH_MAX + 128];

	if (!*path)
		return;
	if (k->single)
		snprintf(title, sizeof(title), "[%s]", k->name);
	else
		snprintf(title, sizeof(title), "[%s.%s]", k->name, h->name);
	switch (key->flags & CFG_PATH) {
	case CFG_DIR_WRITE:
		if (check_dir(path, why, sizeof(why)))
			check_report(c, h->line_no, "%s: %s %s is not usable: %s", title, key->name,
				     path, why);
		break;
	case CFG_SOCKET:
		check_socket(c, h->line_no, title, key->name, path);
		break;
	case CFG_FILE_READ:
		if (check_readable(path, why, sizeof(why)))
			check_report(c, h->line_no, "%s: %s %s: %s", title, key->name, path, why);
		break;
	case CFG_DIR_READ:
		if (check_dir_readable(path, why, sizeof(why)))
			check_report(c, h->line_no, "%s: %s %s: %s", title, key->name, path, why);
		break;
	case CFG_FILE_WRITE:
		if (check_writable(path, why, sizeof(why)))
			check_report(c, h->line_no, "%s: %s %s: %s", title, key->name, path, why);
		break;
	}
}

static void check_keys(struct check *c, const struct cfg_kind *k, const void *obj,
		       const struct cfg_key *keys)
{
	for (; keys && keys->name; keys++)
		if (keys->flags & CFG_PATH)
			check_key(c, k, obj, keys);
}

int check_environment(const struct config *cfg, FILE *errs)
{
	struct check c = {.cfg = cfg, .errs = errs};
	const struct cfg_kind *const *k;
	const struct cfg_type *t;
	const void *obj;
	size_t i, n;

	for (k = cfg_kinds; *k; k++) {
		n = cfg_count(cfg, *k);
		for (i = 0; i < n; i++) {
			obj = cfg_section(cfg, *k, i);
			t = cfg_type_of(*k, obj);
			check_keys(&c, *k, obj, (*k)->keys);
			if (t)
				check_keys(&c, *k, obj, t->keys);
		}
	}
	/* after = delete | move removes files from the directory: it must
	 * take that (a read-only one only keeps bad files in place). */
	for (i = 0; i < cfg->njson; i++) {
		const struct cfg_json *j = &cfg->json[i];

		if (j->after != CFG_JSON_KEEP && access(j->path, W_OK) < 0 && errno != ENOENT &&
		    errno != ENOTDIR)
			check_report(&c, j->line_no,
				     "[json.%s]: path %s: not writable (%s), but after = %s",
				     j->name, j->path, strerror(errno),
				     j->after == CFG_JSON_DELETE ? "delete" : "move");
	}
	return c.problems;
}

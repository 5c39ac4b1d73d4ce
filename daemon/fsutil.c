/* File-system helpers shared by the daemon's modules (see fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

int fs_mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(dir);
	struct stat sb;

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) == 0) {
			/* The umask must not decide who may reach a socket or
			 * a spool below. */
			if (chmod(tmp, mode) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		} else if (stat(tmp, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			return -ENOTDIR;
		}
		tmp[i] = dir[i];
	}
	return 0;
}

int fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int fs_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	size_t done = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (done < len && !r) {
		n = write(fd, p + done, len - done);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r)
		unlink(path);
	return r;
}

int fs_overwrite(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, data, len, 0);
	if (n != (ssize_t)len)
		r = n < 0 ? -errno : -ENOSPC;
	if (!r && ftruncate(fd, (off_t)len) < 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int fs_replace(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	r = fs_write_file(tmp, data, len, mode);
	if (r == -ENOSPC || r == -EDQUOT)
		return fs_overwrite(path, data, len);
	if (r)
		return r;
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return fs_fsync_dir(dir);
}

int fs_set_aside(int dirfd, const char *name, const char *base, int slots, bool reuse_last,
		 char *to, size_t n)
{
	int i, k;

	for (i = 0; i < slots; i++) {
		k = i ? snprintf(to, n, "%s.%d", base, i) : snprintf(to, n, "%s", base);
		if (k < 0 || (size_t)k >= n)
			return -ENAMETOOLONG;
		if (reuse_last && i == slots - 1)
			break;
		if (renameat2(dirfd, name, dirfd, to, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -errno;
		/* No RENAME_NOREPLACE on this file system: look, then rename. */
		if (faccessat(dirfd, to, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		break;
	}
	if (i == slots)
		return -EEXIST;
	return renameat(dirfd, name, dirfd, to) < 0 ? -errno : 0;
}

/* File-system helpers shared by the daemon's modules (see fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

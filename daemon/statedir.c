/* The state directory and its lock (statedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "statedir.h"

#define STATEDIR_LOCK "powerd.lock"

int statedir_open(const char *dir, int *lock_fd)
{
	char path[PATH_MAX], pid[32];
	struct stat sb;
	ssize_t n;
	int fd, r;

	*lock_fd = -1;
	r = fs_mkdir_p(dir, 0750);
	if (!r && stat(dir, &sb) < 0)
		r = -errno;
	else if (!r && !S_ISDIR(sb.st_mode))
		r = -ENOTDIR;
	if (!r && access(dir, W_OK | X_OK) < 0)
		r = -errno;
	if (r) {
		log_err("state_dir %s is not usable: %s", dir, strerror(-r));
		return r;
	}
	if (snprintf(path, sizeof(path), "%s/" STATEDIR_LOCK, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		r = -errno;
		log_err("state_dir %s: cannot open its lock file: %s", dir, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (r == -EBUSY)
			log_err("state_dir %s is in use by another powerd (pid %s): two daemons on "
				"one state directory would corrupt each other's counters and "
				"spools",
				dir, pid[0] ? pid : "unknown");
		else
			log_err("state_dir %s: cannot lock it: %s", dir, strerror(-r));
		close(fd);
		return r;
	}
	/* The pid is for the message above: the lock is what counts. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("state_dir %s: cannot write the pid into its lock file: %s", dir,
			 strerror(errno));
	*lock_fd = fd;
	return 0;
}

void statedir_close(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);
}

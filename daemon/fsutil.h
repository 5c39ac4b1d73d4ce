/* Small file-system helpers the daemon's modules share: one copy each. */
#ifndef POWERD_FSUTIL_H
#define POWERD_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: creates every missing directory of `dir` with exactly `mode`
 * (whatever the umask); existing ones are left as they are.  Returns 0 or a
 * negative errno (-ENOTDIR when a component is a file). */
int fs_mkdir_p(const char *dir, mode_t mode);

/* fsync a directory, so that renames and new entries in it survive a power
 * cut.  Returns 0 or a negative errno. */
int fs_fsync_dir(const char *dir);

#endif

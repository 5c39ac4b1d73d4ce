/* Small file-system helpers the daemon's modules share: one copy each. */
#ifndef POWERD_FSUTIL_H
#define POWERD_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: creates every missing directory of `dir` with exactly `mode`
 * (whatever the umask); existing ones are left as they are.  Returns 0 or a
 * negative errno (-ENOTDIR when a component is a file). */
int fs_mkdir_p(const char *dir, mode_t mode);

/* fsync a directory, so that renames and new entries in it survive a power
 * cut.  Returns 0 or a negative errno. */
int fs_fsync_dir(const char *dir);

/* Write a whole file (created or truncated, with mode) and fsync it; on
 * failure the file is removed.  Returns 0 or a negative errno. */
int fs_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* Overwrite an existing file in place and fsync it: for a full disk, which
 * cannot give a new file its first block while the old one has its blocks.
 * A power cut in the middle may tear it.  Returns 0 or a negative errno. */
int fs_overwrite(const char *path, const void *data, size_t len);

/* Replace dir/name atomically with data: written to dir/name.tmp, fsynced,
 * renamed over, the directory fsynced, so a crash leaves the old file or
 * the new one.  On a full disk it falls back to fs_overwrite().  Returns 0
 * or a negative errno. */
int fs_replace(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* Move dirfd/name aside to dirfd/BASE, or BASE.1, BASE.2, ... up to
 * BASE.(slots-1), never over a file already there (evidence is kept), also
 * where RENAME_NOREPLACE is missing (then: look, and rename).  With
 * reuse_last, the last slot is taken even when it exists.  The name used is
 * in to[n].  Returns 0, -EEXIST when every slot is taken, or a negative
 * errno. */
int fs_set_aside(int dirfd, const char *name, const char *base, int slots, bool reuse_last,
		 char *to, size_t n);

#endif

/* The state directory (energy checkpoints, spools) and the lock that keeps
 * a second powerd out of it: two daemons on one state_dir would overwrite
 * each other's counters and interleave each other's spools. */
#ifndef POWERD_STATEDIR_H
#define POWERD_STATEDIR_H

/* Create the directory if needed (mkdir -p, 0750), check that it is a
 * writable directory, and take its lock (state_dir/powerd.lock, holding the
 * owner's pid).  Returns 0 with *lock_fd set, -EBUSY if another process
 * holds it (logged with its pid), or another negative errno (logged). */
int statedir_open(const char *dir, int *lock_fd);
void statedir_close(int lock_fd);

#endif

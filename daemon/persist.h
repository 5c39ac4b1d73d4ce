/* Energy checkpoints in state_dir, one per meter (format: state_file.h):
 *
 *   pulse.NAME.state          the newest checkpoint
 *   pulse.NAME.state.prev     the one before it, the fallback
 *   pulse.NAME.state.corrupt  a damaged checkpoint moved aside (then
 *                             .corrupt.1 ... .corrupt.9), kept as evidence
 *
 * Saving blocks in fsync: the meter thread's job, never the I/O thread's. */
#ifndef POWERD_PERSIST_H
#define POWERD_PERSIST_H

#include <stdint.h>

/* Where persist_load() found the counter. */
enum persist_from {
	PERSIST_FROM_NONE,    /* no checkpoint at all: a fresh start at 0 */
	PERSIST_FROM_CURRENT, /* pulse.NAME.state */
	PERSIST_FROM_PREV,    /* .prev: the current one was missing or damaged */
	PERSIST_FROM_ZERO,    /* both damaged (or one damaged, one missing): 0 */
};

/* The newest good checkpoint, converted to impulses_per_kwh.  Damaged files
 * are moved aside and logged, with what the fallback costs.  Returns 0 (with
 * *flashes and *from) or a negative errno when a file could not be examined
 * at all (permissions, for instance): a start from 0 would then hide a
 * counter that may be fine. */
int persist_load(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t *flashes, enum persist_from *from);

/* Write a checkpoint, keeping the current one (if good) as .prev.  Returns 0
 * or a negative errno; it does not log failures, which repeat every
 * persist_interval while a disk is full: persist_report() is for that. */
int persist_save(const char *state_dir, const char *name, uint32_t impulses_per_kwh,
		 uint64_t flashes);

/* Failure logging for the saves of one counter (who: "meter house"): one line when saving starts to
 * fail or fails differently, one when it works again, with the number of
 * failed attempts; nothing for the repeats in between. */
struct persist_health {
	int err;	   /* the last failure, 0 while saves work */
	uint64_t failures; /* consecutive failed saves */
};

void persist_report(struct persist_health *h, const char *who, const char *state_dir, int r);

#endif

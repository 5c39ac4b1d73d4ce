/* The energy checkpoint's text format, parsed and written without I/O, so
 * the daemon (persist.c) and the fuzz target run the same code:
 *
 *   "powerd-state 1\nflashes N\nimpulses_per_kwh K\n"
 *
 * Exactly that: no other bytes, N and K in decimal digits without sign,
 * spaces or leading zeros.  A file that parses is byte for byte what
 * state_file_format() writes for its values. */
#ifndef POWERD_STATE_FILE_H
#define POWERD_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

/* A longer file is damaged, whatever it holds (the longest valid one is 65
 * bytes). */
#define STATE_FILE_MAX 128

/* The configuration's range for impulses_per_kwh (config.c). */
#define STATE_FILE_IPK_MIN 1u
#define STATE_FILE_IPK_MAX 1000000u

/* The energy a checkpoint may hold: 2^53 J (about 2.5 TWh).  Below it a
 * double still resolves single joules, so the energy exported as
 * flashes * 3.6e6 / impulses_per_kwh never jumps or stalls; nothing a meter
 * measures comes near it, so a count beyond it is damage, not energy. */
#define STATE_FILE_ENERGY_MAX_J 9007199254740992ull

struct state_file {
	uint64_t flashes;
	uint32_t impulses_per_kwh;
};

/* The largest flash count within STATE_FILE_ENERGY_MAX_J at this constant
 * (0 for a constant outside the configuration's range). */
uint64_t state_file_flashes_max(uint32_t impulses_per_kwh);

/* Parse a whole file of len bytes.  Returns 0, -EBADMSG (not the format) or
 * -ERANGE (a value out of range); *why (if not NULL) gets a short reason for
 * the log. */
int state_file_parse(const char *text, size_t len, struct state_file *out, const char **why);

/* Write s into out[size]: 0 and *len, -ERANGE for values that would not
 * parse back, -ENOSPC if size is too small. */
int state_file_format(const struct state_file *s, char *out, size_t size, size_t *len);

/* The same energy in another unit, rounded to the nearest flash and capped
 * at state_file_flashes_max(to).  Returns 0 or -ERANGE for a constant out of
 * range or a count beyond state_file_flashes_max(from). */
int state_file_convert(uint64_t flashes, uint32_t from, uint32_t to, uint64_t *out);

#endif

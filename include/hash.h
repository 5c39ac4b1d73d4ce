/* One hash for the daemon's tables (series in change detection, request
 * identities, file names): FNV-1a, 64 bits.  Not for anything an attacker
 * chooses to collide with: the tables it serves hold what the user's own
 * devices and configuration name. */
#ifndef POWERD_HASH_H
#define POWERD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_INIT 14695981039346656037ULL

/* Continue h over n bytes (start with HASH_FNV1A_INIT). */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ULL;
	return h;
}

static inline uint64_t hash_str(const char *s)
{
	uint64_t h = HASH_FNV1A_INIT;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

#endif

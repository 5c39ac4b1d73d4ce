/* The energy checkpoint's format (state_file.h): a strict parser, so that a
 * damaged file is recognised as damage instead of becoming a plausible
 * number, and the writer it must agree with. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "state_file.h"

#define STATE_FILE_J_PER_KWH 3600000ull

uint64_t state_file_flashes_max(uint32_t impulses_per_kwh)
{
	/* floor(2^53 * ipk / 3.6e6) without a 128-bit product: split 2^53 by
	 * 3.6e6 first, both parts times ipk stay below 2^62. */
	const uint64_t q = STATE_FILE_ENERGY_MAX_J / STATE_FILE_J_PER_KWH;
	const uint64_t r = STATE_FILE_ENERGY_MAX_J % STATE_FILE_J_PER_KWH;

	if (impulses_per_kwh < STATE_FILE_IPK_MIN || impulses_per_kwh > STATE_FILE_IPK_MAX)
		return 0;
	return q * impulses_per_kwh + r * impulses_per_kwh / STATE_FILE_J_PER_KWH;
}

/* Match the literal lit at *p. */
static bool state_file_lit(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Decimal digits up to the next '\n', which is consumed.  Returns 0 or
 * -EBADMSG; a number beyond 64 bits saturates, for the range check. */
static int state_file_number(const char **p, const char *end, uint64_t *v, const char **why)
{
	const char *s = *p;
	uint64_t n = 0;

	if (s == end || *s < '0' || *s > '9') {
		*why = s < end && *s == '-' ? "negative number" : "not a decimal number";
		return -EBADMSG;
	}
	if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9') {
		*why = "leading zero";
		return -EBADMSG;
	}
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	if (s == end || *s != '\n') {
		*why = s == end ? "truncated" : "garbage after a number";
		return -EBADMSG;
	}
	*p = s + 1;
	*v = n;
	return 0;
}

int state_file_parse(const char *text, size_t len, struct state_file *out, const char **why)
{
	const char *p = text, *end = text + len, *dummy;
	uint64_t flashes = 0, ipk = 0;
	int r;

	if (!why)
		why = &dummy;
	if (len > STATE_FILE_MAX) {
		*why = "too large";
		return -EBADMSG;
	}
	if (!state_file_lit(&p, end, "powerd-state 1\n")) {
		*why = "not a powerd-state 1 file";
		return -EBADMSG;
	}
	if (!state_file_lit(&p, end, "flashes ")) {
		*why = "no flashes line";
		return -EBADMSG;
	}
	r = state_file_number(&p, end, &flashes, why);
	if (r)
		return r;
	if (!state_file_lit(&p, end, "impulses_per_kwh ")) {
		*why = "no impulses_per_kwh line";
		return -EBADMSG;
	}
	r = state_file_number(&p, end, &ipk, why);
	if (r)
		return r;
	if (p != end) {
		*why = "garbage after the last line";
		return -EBADMSG;
	}
	/* Parse before range checks: garbage is reported as garbage. */
	if (ipk < STATE_FILE_IPK_MIN || ipk > STATE_FILE_IPK_MAX) {
		*why = "impulses_per_kwh out of range";
		return -ERANGE;
	}
	if (flashes > state_file_flashes_max((uint32_t)ipk)) {
		*why = "flashes beyond 2^53 J of energy";
		return -ERANGE;
	}
	out->flashes = flashes;
	out->impulses_per_kwh = (uint32_t)ipk;
	return 0;
}

int state_file_format(const struct state_file *s, char *out, size_t size, size_t *len)
{
	int n;

	/* What cannot be read back must not replace what can. */
	if (s->flashes > state_file_flashes_max(s->impulses_per_kwh))
		return -ERANGE;
	n = snprintf(out, size,
		     "powerd-state 1\nflashes %" PRIu64 "\nimpulses_per_kwh %" PRIu32 "\n",
		     s->flashes, s->impulses_per_kwh);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	*len = (size_t)n;
	return 0;
}

int state_file_convert(uint64_t flashes, uint32_t from, uint32_t to, uint64_t *out)
{
	uint64_t max_to = state_file_flashes_max(to), q, r, n;

	if (!max_to || flashes > state_file_flashes_max(from))
		return -ERANGE;
	/* round(flashes * to / from) in 64 bits: the quotient part is exact,
	 * the remainder part is below 10^12. */
	q = flashes / from;
	r = flashes % from;
	n = q * to + (r * to + from / 2) / from;
	/* Rounding up may step one flash past the bound. */
	*out = n > max_to ? max_to : n;
	return 0;
}

/* A sample: what a source publishes and a sink ships.  A series
 * (measurement + tags), typed fields, and the source's own timestamp in Unix
 * nanoseconds (for pulses: the kernel's edge time mapped to the wall clock).
 *
 * Fixed-size so it travels through the lock-free sample ring by value;
 * sample_pack() gives the compact variable-length form stored in spools. */
#ifndef POWERD_SAMPLE_H
#define POWERD_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAMPLE_KEY_MAX	  32 /* incl. NUL */
#define SAMPLE_STR_MAX	  64 /* tag values and string fields, incl. NUL */
#define SAMPLE_MAX_TAGS	  6
#define SAMPLE_MAX_FIELDS 6

enum sample_type { SAMPLE_FLOAT, SAMPLE_INT, SAMPLE_BOOL, SAMPLE_STRING };

struct sample_tag {
	char key[SAMPLE_KEY_MAX];
	char value[SAMPLE_STR_MAX];
};

struct sample_field {
	char key[SAMPLE_KEY_MAX];
	enum sample_type type;
	union {
		double f;
		int64_t i;
		bool b;
	} v;
	char s[SAMPLE_STR_MAX]; /* SAMPLE_STRING */
};

struct sample {
	char measurement[SAMPLE_KEY_MAX];
	uint8_t ntags;
	uint8_t nfields;
	int64_t ts_ns; /* Unix time, nanoseconds */
	struct sample_tag tags[SAMPLE_MAX_TAGS];
	struct sample_field fields[SAMPLE_MAX_FIELDS];
};

/* Builders: return 0, or -E2BIG / -ENAMETOOLONG when a limit is hit,
 * -EINVAL for a missing or empty name (or a measurement starting with '#',
 * which line protocol reads as a comment), -EEXIST for a key already used. */
int sample_init(struct sample *s, const char *measurement, int64_t ts_ns);
int sample_tag(struct sample *s, const char *key, const char *value);
int sample_float(struct sample *s, const char *key, double v);
int sample_int(struct sample *s, const char *key, int64_t v);
int sample_bool(struct sample *s, const char *key, bool v);
int sample_string(struct sample *s, const char *key, const char *v);

/* The series identity "measurement,tag=v,..." (tags in the order given),
 * for change detection and logs.  Returns the length (truncated to n-1). */
size_t sample_series(const struct sample *s, char *out, size_t n);

/* Compact binary form for spools: sample_pack() returns the bytes written
 * (at most SAMPLE_PACK_MAX), sample_unpack() the bytes consumed or -EBADMSG
 * for anything malformed (it validates every length and type). */
#define SAMPLE_PACK_MAX 1200
size_t sample_pack(const struct sample *s, unsigned char *out);
int sample_unpack(const unsigned char *in, size_t n, struct sample *s);

#endif

/* A sample: what a source publishes and a sink ships.  A series
 * (measurement + tags), typed fields, and the source's own timestamp in Unix
 * nanoseconds (for pulses: the kernel's edge time mapped to the wall clock).
 *
 * A sample exists in one form only, packed (the layout is in sample.c):
 * producers write it with the builder (struct sample, sample_init() and
 * friends), the rings, batches and spools carry those bytes as they are,
 * and consumers read them through a view (struct sample_view) that checks
 * them first.  Its memory is what it holds, not a slot for the largest.
 *
 *   struct sample s;
 *
 *   sample_init(&s, "inverter", ts_ns);
 *   sample_tag(&s, "site", "home");
 *   sample_float(&s, "grid_voltage_v", 230.1);
 *   sample_int(&s, "battery_charge_pct", 87);
 *   uploader_publish(producer, &s);
 *   sample_free(&s);
 *
 * Limits (checked by the builders and again by the view):
 *   names (measurement, tag and field keys)  1..SAMPLE_KEY_MAX-1 bytes, no NUL;
 *   tag values and string fields             0..SAMPLE_STR_MAX-1 bytes, no NUL;
 *   at most SAMPLE_MAX_TAGS tags and SAMPLE_MAX_FIELDS fields, keys unique
 *   among the tags and among the fields (a field may be named like a tag);
 *   a measurement never starts with '#' (line protocol reads a comment). */
#ifndef POWERD_SAMPLE_H
#define POWERD_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SAMPLE_KEY_MAX	  32 /* incl. NUL */
#define SAMPLE_STR_MAX	  64 /* tag values and string fields, incl. NUL */
#define SAMPLE_MAX_TAGS	  16
#define SAMPLE_MAX_FIELDS 128

/* The longest packed sample: header, measurement, every tag and field at
 * its longest (a name or value is a length byte, its bytes and a NUL). */
#define SAMPLE_HDR_LEN 12
#define SAMPLE_PACK_MAX                                                                            \
	(SAMPLE_HDR_LEN + (SAMPLE_KEY_MAX + 1) +                                                   \
	 SAMPLE_MAX_TAGS * ((SAMPLE_KEY_MAX + 1) + (SAMPLE_STR_MAX + 1)) +                         \
	 SAMPLE_MAX_FIELDS * ((SAMPLE_KEY_MAX + 1) + 1 + (SAMPLE_STR_MAX + 1)))

enum sample_type { SAMPLE_FLOAT, SAMPLE_INT, SAMPLE_BOOL, SAMPLE_STRING };

/* ------------------------------------------------------------ building */

/* Small samples (a pulse sample takes 92 bytes) are built in place, larger
 * ones grow on the heap: sample_free() releases it. */
#define SAMPLE_INLINE 256

struct sample {
	unsigned char *heap; /* NULL while the record fits `small` */
	uint32_t len, cap;
	uint32_t fields_at;	/* where the first field starts (the tags end) */
	uint64_t tag_keys;	/* hashes of the keys in use: most additions need */
	uint64_t field_keys[4]; /* no search for a duplicate */
	unsigned char small[SAMPLE_INLINE];
};

/* Builders: return 0, or -E2BIG / -ENAMETOOLONG when a limit is hit,
 * -EINVAL for a missing or empty name (or a measurement starting with '#'),
 * -EEXIST for a key already used, -ENOMEM; a call that fails changes
 * nothing.  sample_init() starts a sample in an uninitialised (or freed)
 * struct and leaves it ready for sample_free() even when it fails (the
 * other builders then return -EINVAL); sample_reset() starts a new one in a
 * struct already initialised, keeping its memory.  Tags may be added after
 * fields. */
int sample_init(struct sample *s, const char *measurement, int64_t ts_ns);
int sample_reset(struct sample *s, const char *measurement, int64_t ts_ns);
void sample_free(struct sample *s);
int sample_tag(struct sample *s, const char *key, const char *value);
int sample_float(struct sample *s, const char *key, double v);
int sample_int(struct sample *s, const char *key, int64_t v);
int sample_bool(struct sample *s, const char *key, bool v);
int sample_string(struct sample *s, const char *key, const char *v);

/* The packed record built so far (length 0 after a failed sample_init). */
const void *sample_data(const struct sample *s);
size_t sample_len(const struct sample *s);

/* ------------------------------------------------------------ reading */

struct sample_tag {
	const char *key, *value; /* NUL-terminated, inside the record */
};

struct sample_field {
	const char *key;
	enum sample_type type;
	union {
		double f;
		int64_t i;
		bool b;
		const char *s; /* SAMPLE_STRING */
	} v;
};

/* A checked packed sample.  Pointers go into the record: it must outlive
 * the view.  Tags are decoded when the view is opened; fields are read with
 * a cursor. */
struct sample_view {
	const unsigned char *data;
	size_t len;
	int64_t ts_ns;
	const char *measurement;
	unsigned ntags, nfields;
	struct sample_tag tags[SAMPLE_MAX_TAGS];
	const unsigned char *fields; /* the first field */
};

struct sample_cursor {
	const unsigned char *p, *end;
	unsigned left;
};

/* Opens the packed sample at the start of p[0..n): returns its length, or
 * -EBADMSG for anything the builders could not have written (every length,
 * type, count and duplicate is checked), so a sample that opens is sound
 * and building it again gives the very same bytes. */
int sample_view(struct sample_view *v, const void *p, size_t n);
/* The view of what a builder holds (-EBADMSG after a failed sample_init). */
int sample_view_of(struct sample_view *v, const struct sample *s);

void sample_fields(const struct sample_view *v, struct sample_cursor *c);
bool sample_next_field(struct sample_cursor *c, struct sample_field *f);
/* The field named key, if the sample has one. */
bool sample_field_get(const struct sample_view *v, const char *key, struct sample_field *f);

/* The timestamp of a packed sample known to be sound (one a builder made),
 * without opening it. */
int64_t sample_packed_ts(const void *p);

/* The series identity "measurement,tag=v,..." (tags in the order given),
 * for change detection and logs.  Returns the length (truncated to n-1). */
size_t sample_series(const struct sample_view *v, char *out, size_t n);

/* ------------------------------------------------------------ batches */

/* Packed samples back to back, and where each starts: sample i is
 * data[off[i] .. off[i + 1]).  What a sink is handed. */
struct sample_span {
	const unsigned char *data;
	const uint32_t *off; /* n + 1 entries */
	size_t n;
};

/* The view of sample i of a span. */
int sample_span_view(const struct sample_span *sp, size_t i, struct sample_view *v);

/* A growable span. */
struct sample_list {
	struct buf b;
	uint32_t *off;
	size_t n, cap;
};

void sample_list_init(struct sample_list *l);
void sample_list_free(struct sample_list *l);
void sample_list_clear(struct sample_list *l); /* empty, memory kept */
/* Appends a packed sample (p, len: one sample_view() accepted, or a
 * builder's data) or a builder's sample.  0 or -ENOMEM / -E2BIG. */
int sample_list_add(struct sample_list *l, const void *p, size_t len);
int sample_list_add_sample(struct sample_list *l, const struct sample *s);
/* Samples [lo, hi) of the list (valid until it changes). */
struct sample_span sample_list_span(const struct sample_list *l, size_t lo, size_t hi);

/* ------------------------------------------------------------ version 1 */

/* A sample packed by powerd 0.1.0 (spool payload version 1: at most 6 tags
 * and 6 fields) read into the builder s (initialised: sample_init() once,
 * whatever it returned), which it resets.  Returns the bytes consumed, or
 * -EBADMSG for anything that version could not have written. */
int sample_v1_read(struct sample *s, const void *in, size_t n);

#endif

/* A JSON document into a source's samples: one path for every source that
 * reads JSON (files, HTTP, MQTT), so that `valid`, `derive` and `integrate`
 * mean the same in each.
 *
 *   sdoc_init      at the source's open: declares its reasons, parses the
 *                  section's [fields] keys (they were checked at load)
 *   sdoc_convert   on the source's producing thread only: the points of a
 *                  parsed document, as samples in d->list, or a refusal
 *   sdoc_parse     the same from bytes (HTTP bodies, MQTT payloads)
 *
 * A document is taken whole or refused whole (jsonpoints.h).  A refused one
 * gives a negative errno and, in *reason, the source reason to count; the
 * caller counts it (source_error) and says where it came from. */
#ifndef POWERD_SOURCE_DOC_H
#define POWERD_SOURCE_DOC_H

#include <stddef.h>

#include "config.h"
#include "expr.h"
#include "json.h"
#include "jsonpoints.h"
#include "sample.h"

struct source;
struct senergy;

/* JSON values per document: far beyond any logger's. */
#define SDOC_NODES_MAX 262144u

struct sdoc {
	struct source *s;
	const struct cfg_fields *f;
	struct sample_list list; /* the last document's samples */
	int cb_err;
	unsigned r_doc[JP_REASONS];
	unsigned r_invalid; /* `valid` did not hold */
	unsigned r_derive;  /* a derivation without a value */
	bool has_valid;
	struct expr_cond valid;
	struct expr_derives derives;
	struct senergy *energy; /* NULL: nothing integrated */
	/* During one conversion. */
	bool valid_seen, valid_holds;
	const struct jp_point *pt;
	double dv[EXPR_DERIVES_MAX];
	bool dok[EXPR_DERIVES_MAX];
	size_t dk; /* derivations computed so far for pt */
};

/* Also loads the source's integrals (s->energy, which the meter thread
 * saves).  Returns 0 or a negative errno (logged). */
int sdoc_init(struct sdoc *d, struct source *s, const struct cfg_fields *f);
void sdoc_free(struct sdoc *d);

/* Returns the number of samples in d->list (0 or more), or:
 *   -EBADMSG  refused (*reason, why: the jsonpoints reason and its detail)
 *   -ENODATA  `valid` does not hold: nothing to publish (*reason r_invalid)
 *   -ENOMEM */
int sdoc_convert(struct sdoc *d, const struct json_node *root, const struct jp_opts *o,
		 unsigned *reason, char *why, size_t len);

/* Parse len bytes as one JSON document, then sdoc_convert().  A document
 * that is not JSON is -EBADMSG with the not_json (or too_large) reason. */
int sdoc_parse(struct sdoc *d, const char *buf, size_t blen, const struct jp_opts *o,
	       unsigned *reason, char *why, size_t len);

/* The jsonpoints time format of a configured one. */
enum jp_time sdoc_time(enum cfg_json_time t);

#endif

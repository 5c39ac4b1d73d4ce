/* InfluxDB line protocol: measurement,tags fields timestamp (ns).
 * Escaping follows the InfluxDB reference exactly: measurement: comma and
 * space; tag keys, tag values, field keys: comma, equals sign and space;
 * string field values: double quote and backslash.  Integers carry the 'i'
 * suffix; floats are printed so they read back as the same double; NaN and
 * infinities cannot be written and the field is left out (a sample with no
 * field left is skipped and counted by the caller). */
#ifndef POWERD_LINEPROTO_H
#define POWERD_LINEPROTO_H

#include "buf.h"
#include "sample.h"

/* Append one line (with '\n').  Returns 0, -EINVAL if no field could be
 * written (nothing appended), or -ENOMEM. */
int lp_encode(const struct sample_view *v, struct buf *out);

#endif

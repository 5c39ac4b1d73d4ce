/* Which datums a CloudWatch sink sends, under which names, with which
 * dimensions: the sink's `metrics` and `dimensions` keys.
 *
 *   metrics    = ""   every field, named MEASUREMENT_FIELD
 *              = grid.voltage -> grid_voltage, inverter.load_power -> load_power, battery.soc
 *                     only these fields; "-> NAME" renames (default MEASUREMENT_FIELD)
 *   dimensions = all  every tag of the sample, in its order
 *              = none no dimensions (the Power Pod's original uploader)
 *              = der_id, inverter_id   only these tags, where the sample has them
 *
 * Parsed once (by the configuration's check and by the sink) with the same
 * code, so a value the check accepts is one the sink understands. */
#ifndef POWERD_CW_SELECT_H
#define POWERD_CW_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#define CW_NAME_MAX 256 /* CloudWatch's 255 characters, and the NUL */

enum cw_dims { CW_DIMS_ALL, CW_DIMS_NONE, CW_DIMS_LIST };

struct cw_pick {
	char *measurement, *field, *name;
};

struct cw_select {
	struct cw_pick *picks; /* none: every field */
	size_t npicks;
	enum cw_dims dims;
	char **tags; /* CW_DIMS_LIST */
	size_t ntags;
};

/* Returns 0, -EINVAL with a reason in why[n], or -ENOMEM.  NULL or "" for
 * metrics means every field, for dimensions "all". */
int cw_select_parse(struct cw_select *sel, const char *metrics, const char *dimensions, char *why,
		    size_t n);
void cw_select_free(struct cw_select *sel);

/* The datum's name for a field, or NULL when it is not sent; buf[n] holds a
 * name made here (a default too long for CloudWatch is not sent either). */
const char *cw_select_name(const struct cw_select *sel, const char *measurement, const char *field,
			   char *buf, size_t n);

/* Is this tag a dimension? */
bool cw_select_dim(const struct cw_select *sel, const char *tag);

#endif

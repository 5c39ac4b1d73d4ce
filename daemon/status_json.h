/* /api/status: the status as JSON (cJSON), the document powerctl reads.
 *
 * {"daemon":{...}, "sources":[{"name", "kind":"pulse", ...}], "rings":[...],
 *  "sinks":[]}.  Unknown values (power before the second flash, the age of a
 * flash that never came) are null rather than a made-up number. */
#ifndef POWERD_STATUS_JSON_H
#define POWERD_STATUS_JSON_H

#include "status.h"

/* Returns a malloc'd NUL-terminated string (free() it), or NULL when out of
 * memory. */
char *status_json(const struct status *st);

#endif

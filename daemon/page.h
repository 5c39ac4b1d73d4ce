/* GET /: a small human status page.  Self-contained HTML (inline CSS, no
 * script, nothing fetched from elsewhere) that reloads itself every 5 s.
 * Every string taken from the status is HTML-escaped. */
#ifndef POWERD_PAGE_H
#define POWERD_PAGE_H

#include "buf.h"
#include "status.h"

/* Appends the page to out.  Returns 0 or -ENOMEM. */
int page_render(const struct status *st, struct buf *out);

#endif

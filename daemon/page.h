/* GET /: the status page.  Self-contained HTML (inline CSS, nothing fetched
 * from elsewhere): the meters' power and today's energy, a plot of the last
 * hour per source, the sources' and sinks' health, as cards that fit a
 * phone.  The server renders every number, so it reads without JavaScript
 * (and then reloads itself every 10 s); /page.js, the only script (the
 * Content-Security-Policy allows no inline one), draws the plots from
 * /api/history and updates the numbers from /api/status every 5 s without
 * a reload.  Every string taken from the status is HTML-escaped (the
 * script sets text only, never markup). */
#ifndef POWERD_PAGE_H
#define POWERD_PAGE_H

#include "buf.h"
#include "status.h"

/* Appends the page to out.  Returns 0 or -ENOMEM. */
int page_render(const struct status *st, struct buf *out);

/* GET /page.js (page_js.c). */
extern const char page_script[];

#endif

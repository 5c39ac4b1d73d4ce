/* libcurl's multi-socket interface driven by the I/O thread's loop (loop.h),
 * for transfers that must never block that thread (the HTTP sources).
 *
 * curl says which sockets it waits on and when its next timeout is; each
 * socket becomes a one-shot poll op (re-armed from its callback, so it
 * behaves like level-triggered poll), the timeout one absolute loop timer,
 * and both call curl_multi_socket_action().  A finished transfer is handed
 * to its done callback, on the loop's thread, once curl has let it go: the
 * caller may add the same easy handle again (its connection is kept alive
 * in the multi handle's cache).
 *
 * Everything runs on the loop's thread: new, add, the callbacks; free after
 * loop_drain(). */
#ifndef POWERD_CURL_LOOP_H
#define POWERD_CURL_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>

#include "loop.h"

struct curl_loop;

typedef void (*curl_loop_done_fn)(CURL *e, CURLcode rc, void *arg);

/* One per easy handle, the caller's, alive while the transfer runs. */
struct curl_loop_xfer {
	CURL *easy;
	curl_loop_done_fn done;
	void *arg;
	bool running;
};

int curl_loop_new(struct loop *l, struct curl_loop **out);
/* Once the loop is drained or freed: from then on curl's callbacks make no
 * loop call (removing a transfer may close its socket).  Idempotent. */
void curl_loop_detach(struct curl_loop *c);
/* After loop_drain(): no op of it is in flight.  Transfers still running
 * are dropped without their callbacks. */
void curl_loop_free(struct curl_loop *c);

/* Start x's transfer (-EALREADY while it runs). */
int curl_loop_add(struct curl_loop *c, struct curl_loop_xfer *x);
/* Stop it without its callback (a source that goes away). */
void curl_loop_remove(struct curl_loop *c, struct curl_loop_xfer *x);

/* Whether libcurl resolves host names without blocking (a threaded or
 * c-ares resolver); without it a name lookup stalls the loop. */
bool curl_loop_async_dns(void);

#endif

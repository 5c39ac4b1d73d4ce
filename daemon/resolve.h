/* Host names resolved off the I/O thread.
 *
 * getaddrinfo() blocks (on DNS timeouts, for tens of seconds), so a worker
 * thread calls it and hands the result back through an eventfd that the
 * loop reads: the callback runs on the loop's thread, like every loop
 * callback.  One worker, lookups in turn: a daemon resolves a few names, at
 * connection time. */
#ifndef POWERD_RESOLVE_H
#define POWERD_RESOLVE_H

#include <netdb.h>

#include "loop.h"

struct resolver;
struct resolve_req;

/* res: 0 (ai is the list, the callee's to freeaddrinfo()) or getaddrinfo()'s
 * error code, an EAI_* (negative; gai_strerror() says it); with EAI_SYSTEM,
 * errno holds the cause (also when the loop could not take the result). */
typedef void (*resolve_cb)(struct loop *l, int res, struct addrinfo *ai, void *arg);

/* Starts the worker and keeps a read on the loop. */
int resolve_new(struct loop *l, struct resolver **out);

/* After loop_drain() (-EBUSY while its read is in flight), never from one of
 * its callbacks.  Lookups not delivered yet are dropped; a getaddrinfo() in
 * progress finishes on its own, after which the worker frees what is left. */
int resolve_free(struct resolver *r);

/* Look up host and service (either may be NULL, as for getaddrinfo()) with
 * hints (its flags, family, socktype and protocol; NULL: none, every address
 * of every socket type).  *req identifies the lookup until its callback
 * runs. */
int resolve_host(struct resolver *r, const char *host, const char *service,
		 const struct addrinfo *hints, resolve_cb cb, void *arg, struct resolve_req **req);

/* Forget a lookup whose callback has not run: it never will. */
void resolve_cancel(struct resolver *r, struct resolve_req *q);

#endif

/* The tap: live samples for `powerctl tail`, as the uploader takes them
 * from the producers' rings.
 *
 * The uploader thread offers every sample (tap_offer: one call where it
 * takes them); each subscriber (a GET /api/tail on the Unix socket) has a
 * small ring of its own, filled by the uploader and drained by the socket's
 * MHD thread into a streaming response.  Nothing waits for a reader: a
 * ring that is full drops the sample and counts it, and the stream tells
 * the reader ("#dropped N").  A reader with nothing to read is suspended
 * (MHD_suspend_connection), so it costs the MHD thread nothing and cannot
 * starve `status`; the uploader resumes it when a sample arrives. */
#ifndef POWERD_TAP_H
#define POWERD_TAP_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "source.h"

#define TAP_SUBS_MAX   4	   /* subscribers at once (of 32 connections) */
#define TAP_RING_BYTES (32 * 1024) /* per subscriber: some 300 pulse samples */

struct tap;

/* A tap for the daemon's sources (their names: a tail's filter must name
 * one). */
int tap_new(struct tap **out, const struct source *sources, size_t nsources);
/* After the uploader and the HTTP server have stopped.  NULL: no-op. */
void tap_free(struct tap *t);

/* Uploader thread: a sample taken from the producer ring `ring`.  NULL t:
 * nothing. */
void tap_offer(struct tap *t, const char *ring, const void *rec, size_t len);

/* MHD thread (Unix listener): a streaming response for a new subscriber,
 * for the samples of `source` ("" for all), as line protocol or JSON
 * lines.  Returns 0 with *out, -ENOENT (no such source), -EBUSY
 * (TAP_SUBS_MAX already), -ESHUTDOWN (stopping) or -ENOMEM. */
int tap_subscribe(struct tap *t, struct MHD_Connection *c, const char *source, bool json,
		  struct MHD_Response **out);

/* Before the Unix listener stops: every suspended stream is resumed and
 * ends (MHD refuses to stop with a suspended connection), and none starts
 * or suspends again. */
void tap_close(struct tap *t);

#endif

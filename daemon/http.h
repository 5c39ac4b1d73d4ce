/* The HTTP server (libmicrohttpd): GET /metrics, /api/status and / on the
 * configured TCP address and on the daemon's Unix socket, the one powerctl
 * talks to.  Each listener has its own MHD thread; every request takes a
 * fresh status through the fill callback, so that callback is called from
 * both threads and must be thread-safe.  HEAD is answered like GET without
 * the body; POST /api/... on the Unix socket is an action (http_set_action),
 * GET /api/tail on it a stream of samples (http_set_tap, tap.h),
 * anything else gets 405, unknown paths 404.  HTTP/1.1 connections are kept
 * alive after GET and HEAD, closed after anything else.
 *
 * Limits: 64 TCP connections, 8 of them per client address, and 32 on the
 * socket; a connection that has not sent a whole request (line and headers)
 * 5 s after connecting, or 15 s after its previous response, is closed and
 * counted (status_http); MHD closes one idle for 10 s. */
#ifndef POWERD_HTTP_H
#define POWERD_HTTP_H

#include <sys/socket.h>

#include "status.h"

struct http;
struct buf;

/* An action posted to the Unix socket (POST /api/WHAT, e.g. "can/NAME/send"),
 * with its body (at most HTTP_POST_MAX bytes) and the caller's uid
 * (SO_PEERCRED): runs on the socket's MHD thread and may block for a few
 * seconds.  Fills reply with one line for the caller and returns 0, or a
 * negative errno: -ENOENT (404), -EPERM (403), -EINVAL (400), -E2BIG (413),
 * -EBUSY (409), -EAGAIN (429), -ETIMEDOUT (504), anything else 502. */
#define HTTP_POST_MAX (64 * 1024)
typedef int (*http_action_fn)(void *arg, const char *what, const char *body, size_t len,
			      unsigned uid, struct buf *reply);

/* listen_addr: "HOST:PORT" with a numeric IPv4 host, or "[IPv6]:PORT"; port 0
 * picks a free one (see http_port); "" or "off" (or NULL): no TCP listener.
 * socket_path: the Unix socket (parent directory created 0755 if missing,
 * socket 0660); "" or NULL: none.  action (NULL: none) takes the POSTs on
 * the Unix socket; the TCP listener refuses them.  A leftover socket file is replaced only
 * if nothing accepts on it.  Returns 0, -EADDRINUSE if an address is taken
 * (for the socket: another powerd answers on it), -EINVAL for a malformed
 * listen address, or another negative errno; the failing address is
 * logged. */
int http_start(struct http **out, const char *listen_addr, const char *socket_path,
	       status_fill_fn fill, http_action_fn action, void *arg);

/* GET /api/tail on the Unix socket streams t's samples (tap.h); t must
 * outlive http_stop(), which closes it.  NULL: tails are refused. */
struct tap;
void http_set_tap(struct http *h, struct tap *t);

/* Stops both listeners, waits for their threads and removes the socket
 * file (if it is still the one this server created).  NULL is a no-op. */
void http_stop(struct http *h);

/* The bound TCP port, 0 without a TCP listener. */
int http_port(const struct http *h);

#endif

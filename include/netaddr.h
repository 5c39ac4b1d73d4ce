/* Listen addresses ("127.0.0.1:9480", "[::1]:9480", "localhost:9480", "off"):
 * one parser for the configuration check and for the HTTP server, so an
 * address that passes --check is one the daemon can bind. */
#ifndef POWERD_NETADDR_H
#define POWERD_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Returns 0 with *ss / *len filled, 1 for "off" or "" (nothing to listen
 * on), or -EINVAL with a static message in *why (if why is not NULL).
 * Host names other than "localhost" (127.0.0.1) are refused: the daemon
 * does not depend on name resolution at start. */
int netaddr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
			 const char **why);

#endif

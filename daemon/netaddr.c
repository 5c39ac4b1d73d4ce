/* Listen-address parsing, shared by the configuration and the HTTP server. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static int netaddr_fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

int netaddr_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
			 const char **why)
{
	char host[INET6_ADDRSTRLEN];
	const char *hs, *he, *port;
	unsigned long p;
	size_t hl, pl;

	if (!s || !*s || !strcmp(s, "off"))
		return 1;
	if (s[0] == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return netaddr_fail(why, "expected [IPV6]:PORT");
		port = he + 2;
	} else {
		hs = s;
		he = strrchr(hs, ':');
		if (!he)
			return netaddr_fail(why, "expected IPV4:PORT, [IPV6]:PORT or off");
		if (memchr(hs, ':', (size_t)(he - hs)))
			return netaddr_fail(why, "IPv6 addresses need brackets, e.g. [::1]:9480");
		port = he + 1;
	}
	hl = (size_t)(he - hs);
	pl = strlen(port);
	if (hl == 0)
		return netaddr_fail(why, "missing host (0.0.0.0 for every address)");
	if (hl >= sizeof(host))
		return netaddr_fail(why, "bad host");
	if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl ||
	    (p = strtoul(port, NULL, 10)) > 65535)
		return netaddr_fail(why, "port must be 0..65535");
	memcpy(host, hs, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return netaddr_fail(why, "bad IPv6 address");
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return netaddr_fail(why, strspn(host, "0123456789.") == hl
							 ? "bad IPv4 address"
							 : "host names are not resolved: write an "
							   "address, e.g. 127.0.0.1:9480");
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		*len = sizeof(*a);
	}
	return 0;
}

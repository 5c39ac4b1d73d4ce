/* libFuzzer target for Modbus device URLs (modbus_url_parse()).
 * Invariants: a URL taken gives a transport whose fields are set and
 * NUL-terminated within their arrays (an rtu path absolute, a tcp host
 * non-empty and a port 1..65535), and printing it back as a URL parses to
 * the same; a URL refused says why. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_modbus_url: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[8192], again[8192], why[128];
	struct modbus_url u, v;
	int r;

	if (size >= sizeof(url))
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	why[0] = '\0';
	r = modbus_url_parse(url, &u, why, sizeof(why));
	if (r) {
		if (r != -EINVAL || !why[0])
			fuzz_fail("a refusal without -EINVAL and a reason");
		return 0;
	}
	if (u.transport == MODBUS_RTU) {
		if (u.path[0] != '/' || strnlen(u.path, sizeof(u.path)) == sizeof(u.path))
			fuzz_fail("an rtu path not absolute or not terminated");
		snprintf(again, sizeof(again), "rtu://%s", u.path);
	} else {
		long p = atol(u.port);

		if (!u.host[0] || strnlen(u.host, sizeof(u.host)) == sizeof(u.host) || p < 1 ||
		    p > 65535)
			fuzz_fail("a tcp host empty or a port out of range");
		snprintf(again, sizeof(again),
			 strchr(u.host, ':') ? "tcp://[%s]:%s" : "tcp://%s:%s", u.host, u.port);
	}
	if (modbus_url_parse(again, &v, why, sizeof(why)) || v.transport != u.transport ||
	    strcmp(v.host, u.host) || strcmp(v.port, u.port) || strcmp(v.path, u.path))
		fuzz_fail("a URL printed back does not parse to the same");
	return 0;
}

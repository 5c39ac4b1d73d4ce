// fuzz-extra-sources: daemon/aws_cred.c
/* The shared-credentials-file parser on arbitrary files: never a crash, and
 * a success always has both keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct aws_cred c;
	char err[256];
	FILE *f;

	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/fuzz-aws-cred-%d", (int)getpid());
		unsetenv("AWS_ACCESS_KEY_ID");
		unsetenv("AWS_SECRET_ACCESS_KEY");
		unsetenv("AWS_SESSION_TOKEN");
		unsetenv("AWS_PROFILE");
	}
	f = fopen(path, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	memset(&c, 0, sizeof(c));
	if (aws_cred_load(&c, path, size && (data[0] & 1) ? "p" : NULL, err, sizeof(err)) == 0 &&
	    (!c.access_key_id[0] || !c.secret_access_key[0]))
		abort();
	aws_cred_wipe(&c);
	return 0;
}

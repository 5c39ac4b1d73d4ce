/* The JSON-files source's checkpoint format (json_ckpt.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json_ckpt.h"

#define MAGIC "powerd-json 1\nlast "

static int json_ckpt_name_ok(const char *p, size_t n)
{
	return n > 0 && n < JSON_CKPT_NAME_MAX && !memchr(p, '/', n) && !memchr(p, '\0', n) &&
	       !memchr(p, '\n', n);
}

int json_ckpt_parse(const char *text, size_t len, char *mark, size_t size)
{
	size_t m = sizeof(MAGIC) - 1, n;

	if (len < m + 2 || memcmp(text, MAGIC, m) || text[len - 1] != '\n')
		return -EBADMSG;
	n = len - m - 1;
	if (!json_ckpt_name_ok(text + m, n) || n >= size)
		return -EBADMSG;
	memcpy(mark, text + m, n);
	mark[n] = '\0';
	return 0;
}

int json_ckpt_format(const char *mark, char *out, size_t size)
{
	size_t n = strlen(mark);
	int k;

	if (!json_ckpt_name_ok(mark, n))
		return -EINVAL;
	k = snprintf(out, size, MAGIC "%s\n", mark);
	return k < 0 || (size_t)k >= size ? -ENOSPC : k;
}

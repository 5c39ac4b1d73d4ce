/* The JSON-files source's checkpoint format: what parses, what is damage. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "json_ckpt.h"

int main(void)
{
	static const char *const bad[] = {
		"",
		"powerd-json 1\nlast \n",     /* no name */
		"powerd-json 1\nlast a/b\n",  /* a path */
		"powerd-json 1\nlast a\nb\n", /* two lines */
		"powerd-json 1\nlast a",      /* cut short */
		"powerd-json 2\nlast a\n",    /* another version */
		"powerd-json 1\nlast a\n\n",  /* trailing garbage */
		" powerd-json 1\nlast a\n",
	};
	char mark[JSON_CKPT_NAME_MAX], out[JSON_CKPT_MAX], longname[300];
	const char *good = "powerd-json 1\nlast message_2026-03-14T10-02-14.json\n";
	size_t i;

	CHECK_EQ_INT(json_ckpt_parse(good, strlen(good), mark, sizeof(mark)), 0);
	CHECK(!strcmp(mark, "message_2026-03-14T10-02-14.json"));
	CHECK_EQ_INT(json_ckpt_format(mark, out, sizeof(out)), (int)strlen(good));
	CHECK(!strcmp(out, good));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(json_ckpt_parse(bad[i], strlen(bad[i]), mark, sizeof(mark)), -EBADMSG);
	/* A NUL inside. */
	CHECK_EQ_INT(json_ckpt_parse("powerd-json 1\nlast a\0b\n", 23, mark, sizeof(mark)),
		     -EBADMSG);
	CHECK_EQ_INT(json_ckpt_format("a/b", out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(json_ckpt_format("", out, sizeof(out)), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_INT(json_ckpt_format(longname, out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(json_ckpt_format("abc", out, 10), -ENOSPC);
	return check_result();
}

/* The JSON-files source's checkpoint, parsed and written without I/O so the
 * source and the fuzz target run the same code:
 *
 *   "powerd-json 1\nlast NAME\n"
 *
 * NAME is the last file done, by name: 1..255 bytes, no '/', no NUL, no
 * newline.  A text that parses is byte for byte what json_ckpt_format()
 * writes for its name. */
#ifndef POWERD_JSON_CKPT_H
#define POWERD_JSON_CKPT_H

#include <stddef.h>

#define JSON_CKPT_NAME_MAX 256 /* NAME_MAX and the NUL */
#define JSON_CKPT_MAX	   (JSON_CKPT_NAME_MAX + 24)

/* 0 and the name in mark[size], or -EBADMSG. */
int json_ckpt_parse(const char *text, size_t len, char *mark, size_t size);
/* The text for a name into out[size]: its length, or -EINVAL for a name
 * that would not parse back, -ENOSPC if out is too small. */
int json_ckpt_format(const char *mark, char *out, size_t size);

#endif

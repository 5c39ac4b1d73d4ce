/* A growable byte buffer for rendering responses. */
#ifndef POWERD_BUF_H
#define POWERD_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	int err; /* sticky: -ENOMEM after a failed growth */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
/* Room for `extra` more bytes and a NUL, for writing in place. */
int buf_reserve(struct buf *b, size_t extra);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append the whole file at path (at most max bytes: -EFBIG beyond), for
 * tables and documents read at start.  Returns 0 or a negative errno. */
int buf_read_file(struct buf *b, const char *path, size_t max);
/* Hands the NUL-terminated data to the caller (free() it); the buffer is reset. */
char *buf_steal(struct buf *b);

#endif

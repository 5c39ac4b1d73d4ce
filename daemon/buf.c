/* A growable byte buffer (buf.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->err)
		return b->err;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return b->err = -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);

	if (r)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *buf_steal(struct buf *b)
{
	char *p;

	if (b->err) {
		buf_free(b);
		return NULL;
	}
	if (!b->data && buf_reserve(b, 0))
		return NULL;
	p = b->data;
	buf_init(b);
	return p;
}

int buf_read_file(struct buf *b, const char *path, size_t max)
{
	size_t start = b->len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t got;

	if (fd < 0)
		return -errno;
	do {
		r = buf_reserve(b, 65536);
		if (r)
			break;
		got = read(fd, b->data + b->len, 65536);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		b->len += (size_t)got;
		b->data[b->len] = '\0';
		if (b->len - start > max) {
			r = -EFBIG;
			break;
		}
	} while (got > 0);
	close(fd);
	if (r)
		b->len = start;
	return r;
}

/* The file sink: line protocol appended to `path`, one sample per line.
 *
 * The file's directory is created at start if missing.  The file is opened
 * once and kept open; before each batch the path is
 * checked, and when logrotate (or a user) has moved or removed the file, a
 * new one is created at the path, so nothing is written into a file nobody
 * will read again.  Each batch is written whole and fdatasync'ed before it
 * is acknowledged; a batch that fails half-way is cut off again, so a retry
 * does not leave a torn line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "lineproto.h"
#include "sink.h"

struct file_sink {
	int fd;
	dev_t dev;
	ino_t ino;
	struct buf body;
};

static int file_mkdir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return fs_mkdir_p(dir, 0750);
}

static int file_reopen(struct file_sink *p, const char *path)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK so that a FIFO at the path cannot hang the uploader. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		r = -EINVAL; /* a FIFO would block the uploader once full */
	else if (fcntl(fd, F_SETFL, O_APPEND) < 0)
		r = -errno;
	else
		r = 0;
	if (r) {
		close(fd);
		return r;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = fd;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	return 0;
}

static int file_open(struct sink *s)
{
	struct file_sink *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->fd = -1;
	buf_init(&p->body);
	if (!s->cfg->path[0]) {
		free(p);
		return -EINVAL;
	}
	/* The directory is created at start, like the spool's; not later: one
	 * that vanishes may be a disk that was unmounted, and the samples must
	 * not go to the disk below it. */
	r = file_mkdir(s->cfg->path);
	if (!r)
		r = file_reopen(p, s->cfg->path);
	if (r) {
		free(p);
		return r;
	}
	s->priv = p;
	return 0;
}

static void file_close(struct sink *s)
{
	struct file_sink *p = s->priv;

	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	buf_free(&p->body);
	free(p);
	s->priv = NULL;
}

/* Write all of the body; on failure cut the file back to where it was. */
static int file_write_all(struct file_sink *p)
{
	struct stat st;
	off_t start = fstat(p->fd, &st) ? -1 : st.st_size;
	size_t off = 0;
	int r = 0;

	while (off < p->body.len) {
		ssize_t w = write(p->fd, p->body.data + off, p->body.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!r && fdatasync(p->fd) && errno != EINVAL)
		r = -errno; /* EINVAL: a file that cannot sync (a pipe, /dev/...) */
	if (r && off && start >= 0) {
		/* If even this fails, the retry appends after the torn line. */
		int t = ftruncate(p->fd, start);

		(void)t;
	}
	return r;
}

static int file_send(struct sink *s, const struct sample_span *v)
{
	struct sample_view sv;
	struct file_sink *p = s->priv;
	const char *path = s->cfg->path;
	uint64_t unencodable = 0;
	struct stat st;
	char msg[sizeof(s->verdict_msg)];
	size_t i;
	int r;

	if (!p)
		return -EBADF;
	if (p->body.err)
		buf_free(&p->body);
	p->body.len = 0;
	for (i = 0; i < v->n; i++) {
		r = sample_span_view(v, i, &sv) < 0 ? -EINVAL : lp_encode(&sv, &p->body);
		if (r == -EINVAL)
			unencodable++;
		else if (r)
			return r;
	}
	/* Rotated or removed since the last batch: start a new file. */
	if (p->fd < 0 || stat(path, &st) || st.st_ino != p->ino || st.st_dev != p->dev) {
		r = file_reopen(p, path);
		if (r) {
			snprintf(msg, sizeof(msg), "open %.180s: %s", path, strerror(-r));
			sink_complete(s, SINK_RETRY, msg);
			return 0;
		}
	}
	r = p->body.len ? file_write_all(p) : 0;
	if (r) {
		snprintf(msg, sizeof(msg), "write %.180s: %s", path, strerror(-r));
		sink_complete(s, SINK_RETRY, msg);
		return 0;
	}
	s->st.dropped_encode += unencodable;
	sink_complete(s, SINK_OK, NULL);
	return 0;
}

const struct sink_ops sink_file_ops = {
	.type = "file",
	.open = file_open,
	.close = file_close,
	.send = file_send,
	.max_batch = 0,
};

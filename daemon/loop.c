/* One io_uring, one thread.  Submission is batched: ops are queued as SQEs
 * and reach the kernel in one io_uring_submit() per turn of the loop.
 *
 * The loop sleeps in poll() on the ring's fd, not in io_uring_enter(): the
 * cost is one cheap syscall per wake-up, and in exchange the daemon runs
 * under Valgrind, whose 3.19 treats a waiting io_uring_enter() as a
 * non-blocking call and so freezes every other thread while it waits. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "loop.h"

struct loop {
	struct io_uring ring;
	unsigned pending;
	bool stop;
};

int64_t loop_now(void)
{
	return clock_mono_ns();
}

int loop_init(struct loop **out, unsigned entries)
{
	struct loop *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	r = io_uring_queue_init(entries, &l->ring, 0);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	io_uring_queue_exit(&l->ring);
	free(l);
}

/* An SQE, flushing the queue to the kernel once if it is full. */
static struct io_uring_sqe *loop_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static void loop_track(struct loop *l, struct io_uring_sqe *sqe, struct loop_op *op, loop_cb cb,
		       void *arg)
{
	op->cb = cb;
	op->arg = arg;
	io_uring_sqe_set_data(sqe, op);
	l->pending++;
}

int loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off,
	      loop_cb cb, void *arg)
{
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, (unsigned)len, (__u64)off);
	loop_track(l, sqe, op, cb, arg);
	return 0;
}

int loop_timer_at(struct loop *l, struct loop_op *op, int64_t mono_ns, loop_cb cb, void *arg)
{
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return -EBUSY;
	op->ts.tv_sec = mono_ns / 1000000000LL;
	op->ts.tv_nsec = mono_ns % 1000000000LL;
	io_uring_prep_timeout(sqe, &op->ts, 0, IORING_TIMEOUT_ABS);
	loop_track(l, sqe, op, cb, arg);
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

/* Wait until a completion is ready (or timeout_ms passes; -1 = forever). */
static int loop_wait(struct loop *l, int timeout_ms)
{
	struct pollfd p = {.fd = l->ring.ring_fd, .events = POLLIN};
	struct io_uring_cqe *cqe;

	if (io_uring_peek_cqe(&l->ring, &cqe) == 0)
		return 0;
	if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int loop_run(struct loop *l)
{
	struct io_uring_cqe *cqe;
	int r;

	l->stop = false;
	while (!l->stop) {
		r = io_uring_submit(&l->ring);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return r;
		r = loop_wait(l, -1);
		if (r)
			return r;
		while (!l->stop && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
			struct loop_op *op = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			/* Consumed before the callback, which may re-arm the op. */
			io_uring_cqe_seen(&l->ring, cqe);
			if (!op)
				continue; /* a cancel request's own completion */
			l->pending--;
			op->cb(l, res, op->arg);
		}
	}
	return 0;
}

int loop_drain(struct loop *l, int64_t timeout_ns)
{
	int64_t deadline = loop_now() + timeout_ns;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	if (!l->pending)
		return 0;
	/* One request cancels everything in flight; afterwards no buffer
	 * handed to the kernel is written any more, so owners may free them. */
	sqe = loop_sqe(l);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&l->ring);
	while (l->pending) {
		int64_t left = deadline - loop_now();

		if (left <= 0)
			return -ETIMEDOUT;
		if (io_uring_peek_cqe(&l->ring, &cqe) != 0) {
			loop_wait(l, (int)(left / 1000000 + 1));
			continue;
		}
		if (io_uring_cqe_get_data(cqe))
			l->pending--; /* a cancel request's own CQE carries no op */
		io_uring_cqe_seen(&l->ring, cqe);
	}
	return 0;
}

/* The I/O thread's event loop: a thin layer over one io_uring.
 *
 * Every operation is one-shot and described by a caller-owned struct
 * loop_op (embedded in the source that issues it), so submitting never
 * allocates.  The op's address is the SQE's user_data; on completion the
 * loop calls op->cb(loop, res, op->arg) with the CQE's result (bytes read,
 * or a negative errno; -ETIME for an expired timer).  Callbacks re-arm
 * themselves if they want more.  All callbacks run on the loop's thread. */
#ifndef POWERD_LOOP_H
#define POWERD_LOOP_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
typedef void (*loop_cb)(struct loop *l, int res, void *arg);

struct loop_op {
	loop_cb cb;
	void *arg;
	struct __kernel_timespec ts; /* timers only */
};

int loop_init(struct loop **out, unsigned entries);
void loop_free(struct loop *l);

/* Read up to len bytes at offset (-1: the file position, for pipes, sockets
 * and character devices such as GPIO line-event fds). */
int loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off,
	      loop_cb cb, void *arg);

/* Fire once at an absolute CLOCK_MONOTONIC time. */
int loop_timer_at(struct loop *l, struct loop_op *op, int64_t mono_ns, loop_cb cb, void *arg);

/* Submit queued SQEs and dispatch completions until loop_stop().  Returns 0
 * or a negative errno if the ring itself fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* After loop_run() returned: cancel every op in flight and wait (at most
 * timeout_ns) until the kernel has let go of all of them, without running
 * their callbacks.  Then the buffers they used may be freed. */
int loop_drain(struct loop *l, int64_t timeout_ns);

int64_t loop_now(void); /* CLOCK_MONOTONIC in ns */

#endif

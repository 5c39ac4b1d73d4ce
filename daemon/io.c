/* The I/O thread: one io_uring loop that owns every device fd, and starts and
 * stops the sources (source.h).
 *
 * Signals reach it through a signalfd read on the ring (every thread blocks
 * them, so none is interrupted).  It does not act on them itself: it tells
 * the supervisor, which stops or reloads the whole daemon from the main
 * thread.  Nothing here blocks: device reads and timers are ring ops, and
 * waking the meter thread is a non-blocking eventfd write. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "powerd.h"
#include "resolve.h"

void io_notify_meter(struct powerd *pd)
{
	uint64_t one = 1;

	/* EFD_NONBLOCK: cannot block; EAGAIN would mean the counter is
	 * saturated, and then the meter thread is awake anyway. */
	if (write(pd->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("waking the meter thread: %s", strerror(errno));
}

static void io_tell(struct powerd *pd, enum powerd_event ev)
{
	char c = (char)ev;

	/* A pipe with room for far more than the few events ever queued. */
	if (write(pd->ctl_fd, &c, 1) < 0)
		log_err("notifying the supervisor: %s", strerror(errno));
}

static void io_signal_cb(struct loop *l, int res, void *arg)
{
	struct powerd *pd = arg;
	struct signalfd_siginfo si;
	int r;

	if (res == -ECANCELED)
		return;
	if (res < (int)sizeof(si)) {
		log_err("reading signals: %s", res < 0 ? strerror(-res) : "short read");
		io_tell(pd, POWERD_EV_FATAL);
		return;
	}
	memcpy(&si, pd->sig_buf, sizeof(si));
	switch (si.ssi_signo) {
	case SIGHUP:
		log_info("SIGHUP: reloading the configuration");
		io_tell(pd, POWERD_EV_RELOAD);
		break;
	case SIGINT:
	case SIGTERM:
		log_info("%s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		io_tell(pd, POWERD_EV_STOP);
		break;
	default:
		break;
	}
	r = loop_read(l, &pd->sig_op, pd->sig_fd, pd->sig_buf, sizeof(si), -1, io_signal_cb, pd);
	if (r)
		io_tell(pd, POWERD_EV_FATAL);
}

/* powerd_stop() writes io_stop_fd; this op only makes the loop return. */
static void io_stop_cb(struct loop *l, int res, void *arg)
{
	(void)res;
	(void)arg;
	loop_stop(l);
}

int io_setup(struct powerd *pd)
{
	sigset_t set;
	size_t i;
	int r;

	r = loop_init(&pd->loop, 256);
	if (r) {
		log_err("io_uring setup failed: %s", strerror(-r));
		return r;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pd->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (pd->sig_fd < 0) {
		r = -errno;
		log_err("signalfd: %s", strerror(errno));
		return r;
	}
	/* On the supervisor: a source that cannot be set up fails the start. */
	for (i = 0; i < pd->nsources; i++) {
		struct source *s = &pd->sources[i];

		r = s->ops->open(s);
		if (r) {
			log_err("source %s (%s): cannot start: %s", s->name, s->ops->kind,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

void *io_thread_main(void *arg)
{
	struct powerd *pd = arg;
	size_t i;
	int r;

	r = loop_read(pd->loop, &pd->sig_op, pd->sig_fd, pd->sig_buf,
		      sizeof(struct signalfd_siginfo), -1, io_signal_cb, pd);
	if (!r)
		r = loop_read(pd->loop, &pd->io_stop_op, pd->io_stop_fd, &pd->io_stop_buf,
			      sizeof(pd->io_stop_buf), -1, io_stop_cb, pd);
	for (i = 0; i < pd->nsources && !r; i++)
		pd->sources[i].ops->start(&pd->sources[i]);
	if (!r)
		r = loop_run(pd->loop);
	/* Sources with threads of their own stop producing while the uploader
	 * still takes what they made. */
	for (i = 0; i < pd->nsources; i++)
		if (pd->sources[i].ops->finish)
			pd->sources[i].ops->finish(&pd->sources[i]);
	if (r) {
		log_err("event loop failed: %s", strerror(-r));
		io_tell(pd, POWERD_EV_FATAL);
	}
	return NULL;
}

void io_teardown(struct powerd *pd)
{
	size_t i;

	if (pd->loop) {
		/* After this the kernel writes no buffer of ours any more. */
		if (loop_drain(pd->loop, 2000000000LL))
			log_warn("io_uring: some operations did not finish at shutdown");
		loop_free(pd->loop);
		pd->loop = NULL;
	}
	/* Nothing of theirs is in flight any more. */
	for (i = 0; i < pd->nsources; i++)
		if (pd->sources[i].ops->stop)
			pd->sources[i].ops->stop(&pd->sources[i]);
	if (pd->resolver)
		resolve_free(pd->resolver);
	pd->resolver = NULL;
	if (pd->sig_fd >= 0)
		close(pd->sig_fd);
	pd->sig_fd = -1;
}

/* The CAN source ([can.NAME]): a SocketCAN interface read on the I/O
 * thread's io_uring loop, or a candump log / SavvyCAN CSV replayed, its
 * EcoFlow records reassembled (ecoflow.h) and decoded by a data table
 * (ecoflow_table.h) into samples.
 *
 * Live: one raw socket per source, bound to its interface, read by one
 * multishot recvmsg into a ring of provided buffers, so a burst of frames
 * costs one wake-up and no syscall per frame.  Each frame carries the
 * kernel's receive time (SO_TIMESTAMPNS) and, once the socket has lost
 * frames, the kernel's drop count (SO_RXQ_OVFL), which is exported as it
 * is: loss is visible, never silent.  The receive filters are the kernel's
 * (CAN_RAW_FILTER), so frames nobody wants never wake the loop.
 *
 * The bus state and error counters (libsocketcan, netlink) are read on a
 * timer, never per frame; a transition into error-passive or bus-off is
 * counted and logged once.  The same timer cuts records whose frames stopped
 * coming a second ago (counted as bad_length, as canlog does at the end of a
 * capture).  An interface that goes down keeps its socket
 * (the kernel reports ENETDOWN once, then delivers again when it is up);
 * one that disappears (ENODEV) is closed and looked for again with a
 * backoff of 1 s doubling to 30 s.  Nothing ever stops the daemon.
 *
 * Replay reads the file through the loop in 64 KiB chunks, at the log's
 * own pace (speed 1) or as fast as the uploader takes it (speed 0: it
 * waits for room, so a replay loses nothing).  Live samples never wait: a
 * full ring drops and counts.  All CAN sources share one ring ("can"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/netlink.h>
#include <linux/can/raw.h>

#include <libsocketcan.h>

#include "buf.h"
#include "canframe.h"
#include "clock.h"
#include "ecoflow.h"
#include "ecoflow_table.h"
#include "log.h"
#include "loop.h"
#include "powerd.h"
#include "sample.h"
#include "source.h"
#include "source_can.h"
#include "status.h"
#include "uploader.h"

#define CSRC_RING	 (1u << 20) /* bytes: the ring all CAN sources share */
#define CSRC_BUFS	 256	    /* provided buffers: frames one wake-up can take */
#define CSRC_CTRL	 64	    /* room for SCM_TIMESTAMPNS and SO_RXQ_OVFL */
#define CSRC_RBUF	 65536	    /* replay read size */
#define CSRC_BATCH	 4096	    /* replayed frames per turn of the loop */
#define CSRC_ROOM	 16384	    /* replay: ring room wanted before the next frame */
#define CSRC_BACKOFF_MIN (1000000000LL)
#define CSRC_BACKOFF_MAX (30 * 1000000000LL)
#define CSRC_LOG_NS	 (60 * 1000000000LL)
#define CSRC_TABLE_MAX	 (4u << 20)
#define CSRC_UNKNOWN	 STATUS_CAN_UNKNOWN
#define CSRC_STALE_NS	 (1000000000LL)	     /* an open record without frames this long is cut */
#define CSRC_TX_SPAN_MAX (60 * 1000000000LL) /* an event lasts at most this long */
#define CSRC_TX_GAP_NS	 (1000000000LL)	     /* between the end of one and the next */
#define CSRC_TX_SLACK_NS (5 * 1000000000LL)  /* the caller waits the span and this */

struct csrc_group {
	struct uploader_producer *prod;
	bool prod_tried;
	unsigned users;
};

/* An identity without a layout: users look for new records here. */
struct csrc_unknown {
	uint8_t src, dst, cmd_set, cmd_id;
	uint16_t len;
	uint64_t n;
};

/* The reassembler's counters that are source errors, by reason. */
static const struct {
	const char *reason;
	size_t off;
} csrc_ef_reasons[] = {
	{"orphan", offsetof(struct ecoflow_stats, orphan)},
	{"restarted", offsetof(struct ecoflow_stats, restarted)},
	{"bad_header_crc", offsetof(struct ecoflow_stats, bad_header_crc)},
	{"bad_version", offsetof(struct ecoflow_stats, bad_version)},
	{"bad_length", offsetof(struct ecoflow_stats, bad_length)},
	{"bad_crc", offsetof(struct ecoflow_stats, bad_crc)},
	{"too_long", offsetof(struct ecoflow_stats, too_long)},
	{"bad_frame", offsetof(struct ecoflow_stats, bad_frame)},
	{"unknown_channel", offsetof(struct ecoflow_stats, unknown_channel)},
	{"evicted", offsetof(struct ecoflow_stats, evicted)},
};
#define CSRC_EF_REASONS (sizeof(csrc_ef_reasons) / sizeof(csrc_ef_reasons[0]))

struct csrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_can *c;
	struct csrc_group *g;
	struct eftab tab;
	struct ecoflow ef;
	struct ecoflow_stats ef_seen; /* what has been counted as errors */
	unsigned r_ef[CSRC_EF_REASONS];
	unsigned r_dropped, r_socket, r_bad_line, r_record;
	struct canframe_filter filt[CANFRAME_FILTERS_MAX];
	int nfilt;
	struct sample smp;
	bool smp_init;
	struct log_rate drop_log, rec_log;

	/* live */
	int fd;
	struct loop_bufs *bufs;
	struct msghdr tmpl;
	/* A kernel without multishot recvmsg (before 6.0): one frame per
	 * recvmsg, into these. */
	bool oneshot;
	struct msghdr one_msg;
	struct iovec one_iov;
	unsigned char one_buf[CANFD_MTU];
	unsigned char one_ctrl[CSRC_CTRL] __attribute__((aligned(8)));
	struct loop_op rx, retry, tick;
	int64_t backoff_ns;
	uint32_t ovfl_last;
	bool down_said;
	/* libsocketcan's queries that failed on this socket's interface (a
	 * vcan has no controller): not asked again until it is reopened,
	 * as the library prints every failure on stderr. */
	bool no_state, no_berr, no_stats;

	/* replay */
	int rfd;
	struct loop_op rread, rtimer;
	char *rbuf;
	size_t rhave, rpos;
	int64_t roff;
	bool reof, rcsv, rfirst_line, rdone;
	uint64_t rline;
	bool rbase_set;
	int64_t rbase_file_ns, rbase_mono_ns, rbase_unix_ns;
	struct canframe rpending; /* parsed, waiting for its time */
	bool rhas_pending;

	/* record */
	FILE *rec;
	uint64_t rec_bytes;
	char rec_line[CANFRAME_FORMAT_MAX];

	/* transmit: an event handed over by the HTTP thread under tx_lock,
	 * sent by the I/O thread, whose result the HTTP thread waits for. */
	pthread_mutex_t tx_lock;
	pthread_cond_t tx_cv; /* CLOCK_MONOTONIC */
	bool tx_sync;	      /* the two above are initialised */
	int tx_efd;
	uint64_t tx_efd_buf;
	struct loop_op tx_wake, tx_send;
	struct canfd_frame *tx_frames; /* transmit_max of them */
	uint8_t *tx_mtu;	       /* CAN_MTU or CANFD_MTU each */
	int64_t *tx_at;		       /* ns after the first */
	size_t tx_n, tx_i;
	int64_t tx_t0;
	bool tx_busy, tx_started;
	uint64_t tx_seq, tx_done_seq;
	int tx_err;
	int64_t tx_next_ok; /* monotonic: the next event no earlier */

	/* Counters for the status (any thread). */
	_Atomic uint64_t frames, bytes, kernel_drops, error_frames, records, decoded, unknown;
	_Atomic uint64_t to_passive, to_busoff, restarts, transmitted, transmit_refused;

	/* Under powerd.lock: the bus as last read, unknown identities. */
	char bus_state[16];
	int last_state; /* CAN_STATE_*, -1 unknown */
	bool have_berr;
	uint32_t berr_tx, berr_rx;
	struct csrc_unknown unk[CSRC_UNKNOWN];
	unsigned nunk;
};

/* ------------------------------------------------------------ samples */

static void csrc_count_errors(struct csrc *h)
{
	size_t i;

	for (i = 0; i < CSRC_EF_REASONS; i++) {
		uint64_t now =
			*(const uint64_t *)((const char *)&h->ef.st + csrc_ef_reasons[i].off);
		uint64_t *seen = (uint64_t *)((char *)&h->ef_seen + csrc_ef_reasons[i].off);

		if (now > *seen) {
			atomic_fetch_add_explicit(&h->s->errors[h->r_ef[i]], now - *seen,
						  memory_order_relaxed);
			*seen = now;
		}
	}
}

static void csrc_note_unknown(struct csrc *h, const struct ecoflow_record *r)
{
	unsigned i;

	pthread_mutex_lock(&h->pd->lock);
	for (i = 0; i < h->nunk; i++) {
		struct csrc_unknown *u = &h->unk[i];

		if (u->src == r->src && u->dst == r->dst && u->cmd_set == r->cmd_set &&
		    u->cmd_id == r->cmd_id && u->len == r->len) {
			u->n++;
			break;
		}
	}
	if (i == h->nunk && h->nunk < CSRC_UNKNOWN) {
		h->unk[h->nunk++] =
			(struct csrc_unknown){r->src, r->dst, r->cmd_set, r->cmd_id, r->len, 1};
		log_info("can %s: a record with no layout in the decode table: %02X:%02X from "
			 "%02X to %02X, %u bytes (counted in the status as unknown)",
			 h->s->name, r->cmd_set, r->cmd_id, r->src, r->dst, r->len);
	}
	pthread_mutex_unlock(&h->pd->lock);
}

static bool csrc_replaying(const struct csrc *h)
{
	return h->c->replay[0] != '\0';
}

static void csrc_record_cb(void *arg, const struct ecoflow_record *r)
{
	struct csrc *h = arg;
	bool known;
	uint64_t n;
	int ret;

	atomic_fetch_add_explicit(&h->records, 1, memory_order_relaxed);
	if (h->smp_init) {
		sample_free(&h->smp);
		h->smp_init = false;
	}
	ret = eftab_record_sample(&h->tab, r, h->s->name, &h->smp, &known);
	if (ret == -ENODATA)
		return; /* failed (counted by its reason), or a D/E frame */
	if (ret == -ENOENT) {
		/* Not an error: a record nobody has described yet
		 * (powerd_can_records_unknown_total, the status's list). */
		atomic_fetch_add_explicit(&h->unknown, 1, memory_order_relaxed);
		csrc_note_unknown(h, r);
		return;
	}
	h->smp_init = true;
	if (ret) {
		source_error(h->s, h->r_bad_line);
		return;
	}
	atomic_fetch_add_explicit(&h->decoded, 1, memory_order_relaxed);
	if (!h->g->prod) {
		source_sample(h->s, r->ts_ns, sample_data(&h->smp),
			      sample_len(&h->smp)); /* no sinks: counted all the same */
		return;
	}
	/* A replay checked for room before this frame (csrc_replay_pump); live
	 * data never waits. */
	if (uploader_publish(h->g->prod, &h->smp) == 0) {
		source_sample(h->s, r->ts_ns, sample_data(&h->smp), sample_len(&h->smp));
		return;
	}
	uploader_note_drop(h->g->prod);
	source_error(h->s, h->r_dropped);
	if (log_rate_event(&h->drop_log, loop_now(), CSRC_LOG_NS, &n))
		log_warn("can %s: the ring into the uploader is full: %llu samples dropped",
			 h->s->name, (unsigned long long)n);
}

/* ------------------------------------------------------------ record */

static int csrc_record_open(struct csrc *h)
{
	struct stat st;
	int fd;

	fd = open(h->c->record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	h->rec = fdopen(fd, "a");
	if (!h->rec) {
		int e = errno;

		close(fd);
		return -e;
	}
	h->rec_bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void csrc_record_fail(struct csrc *h, const char *what, int err)
{
	uint64_t n;

	source_error(h->s, h->r_record);
	if (log_rate_event(&h->rec_log, loop_now(), CSRC_LOG_NS, &n))
		log_warn("can %s: record %s: %s: %s (%llu times)", h->s->name, h->c->record, what,
			 strerror(err), (unsigned long long)n);
}

/* The file's buffer goes to the kernel on the state timer and at stop: a
 * page-cache write, not a sync (the record is a convenience copy). */
static void csrc_record_flush(struct csrc *h)
{
	if (h->rec && fflush(h->rec))
		csrc_record_fail(h, "write", errno);
}

static void csrc_record_rotate(struct csrc *h)
{
	char old[PATH_MAX + 4];
	int r;

	csrc_record_flush(h);
	fclose(h->rec);
	h->rec = NULL;
	snprintf(old, sizeof(old), "%s.1", h->c->record);
	if (rename(h->c->record, old))
		csrc_record_fail(h, "rename", errno);
	r = csrc_record_open(h);
	if (r)
		csrc_record_fail(h, "open", -r);
}

static void csrc_record(struct csrc *h, const struct canframe *f)
{
	int n;

	if (!h->rec)
		return;
	if (canframe_format_candump(f, h->rec_line, sizeof(h->rec_line)))
		return;
	n = fprintf(h->rec, "%s\n", h->rec_line);
	if (n < 0) {
		csrc_record_fail(h, "write", errno);
		return;
	}
	h->rec_bytes += (uint64_t)n;
	if (h->rec_bytes >= h->c->record_max)
		csrc_record_rotate(h);
}

/* ------------------------------------------------------------ frames */

static void csrc_frame(struct csrc *h, const struct canframe *f)
{
	atomic_fetch_add_explicit(&h->frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->bytes, f->len, memory_order_relaxed);
	csrc_record(h, f);
	if (f->err) {
		atomic_fetch_add_explicit(&h->error_frames, 1, memory_order_relaxed);
		return;
	}
	if (h->c->protocol != CFG_CAN_ECOFLOW || f->rtr)
		return;
	ecoflow_feed(&h->ef, f->id, f->ext, f->len, f->data, (int64_t)f->ts_ns, csrc_record_cb, h);
}

/* ------------------------------------------------------------ bus state */

static const char *csrc_state_name(int st)
{
	switch (st) {
	case CAN_STATE_ERROR_ACTIVE:
		return "error-active";
	case CAN_STATE_ERROR_WARNING:
		return "error-warning";
	case CAN_STATE_ERROR_PASSIVE:
		return "error-passive";
	case CAN_STATE_BUS_OFF:
		return "bus-off";
	case CAN_STATE_STOPPED:
		return "stopped";
	case CAN_STATE_SLEEPING:
		return "sleeping";
	default:
		return "unknown";
	}
}

const char *const source_can_bus_states[] = {
	"error-active", "error-warning", "error-passive", "bus-off", "stopped",
	"sleeping",	"down",		 "absent",	  "unknown", NULL,
};

static bool csrc_iface_up(const struct csrc *h, bool *exists)
{
	struct ifreq ifr = {0};
	int fd = h->fd >= 0 ? h->fd : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	*exists = false;
	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", h->c->interface);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		*exists = true;
		up = ifr.ifr_flags & IFF_UP;
	}
	if (fd != h->fd)
		close(fd);
	return up;
}

/* Off the hot path, on the state timer: a few netlink round trips to the
 * kernel.  A virtual interface (vcan) has no controller state: "unknown". */
static void csrc_poll_state(struct csrc *h)
{
	const char *name = h->c->interface, *label;
	struct can_berr_counter bc;
	struct can_device_stats ds;
	bool exists, up = csrc_iface_up(h, &exists), berr = false;
	int st = -1;

	if (exists && up && !h->no_state && can_get_state(name, &st) == 0) {
		label = csrc_state_name(st);
	} else {
		h->no_state = h->no_state || (exists && up);
		st = -1;
		label = !exists ? "absent" : !up ? "down" : "unknown";
	}
	if (exists && !h->no_berr) {
		berr = can_get_berr_counter(name, &bc) == 0;
		h->no_berr = !berr;
	}
	if (exists && !h->no_stats) {
		h->no_stats = can_get_device_stats(name, &ds) != 0;
		if (!h->no_stats)
			atomic_store(&h->restarts, ds.restarts);
	}
	pthread_mutex_lock(&h->pd->lock);
	if (st != h->last_state) {
		if (st == CAN_STATE_ERROR_PASSIVE || st == CAN_STATE_BUS_OFF) {
			atomic_fetch_add(st == CAN_STATE_BUS_OFF ? &h->to_busoff : &h->to_passive,
					 1);
			log_warn("can %s: %s is %s", h->s->name, name, label);
		} else if (h->last_state == CAN_STATE_ERROR_PASSIVE ||
			   h->last_state == CAN_STATE_BUS_OFF) {
			log_info("can %s: %s is %s again", h->s->name, name, label);
		}
		h->last_state = st;
	}
	snprintf(h->bus_state, sizeof(h->bus_state), "%s", label);
	h->have_berr = berr;
	if (berr) {
		h->berr_tx = bc.txerr;
		h->berr_rx = bc.rxerr;
	}
	pthread_mutex_unlock(&h->pd->lock);
	if (h->fd >= 0 && exists && !up && !h->down_said) {
		h->down_said = true;
		source_set_state(h->s, SOURCE_ERROR, "%s is down (waiting for it to come up)",
				 name);
	} else if (h->fd >= 0 && up && h->down_said) {
		h->down_said = false;
		source_set_state(h->s, SOURCE_OK, "reading %s", name);
	}
}

static void csrc_tick_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;

	(void)res;
	if (atomic_load(&h->pd->stopping))
		return;
	csrc_record_flush(h);
	if (!csrc_replaying(h)) {
		csrc_poll_state(h);
		/* The frames of one record come within milliseconds. */
		ecoflow_expire(&h->ef, clock_unix_ns() - CSRC_STALE_NS, csrc_record_cb, h);
		csrc_count_errors(h);
	}
	loop_timer_at(l, &h->tick, loop_now() + h->c->state_interval_ns, csrc_tick_cb, h);
}

/* ------------------------------------------------------------ live */

static void csrc_open_socket_later(struct csrc *h);
static void csrc_arm_rx(struct csrc *h);

static void csrc_close_socket(struct csrc *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static int csrc_socket(struct csrc *h, char *why, size_t whylen)
{
	const struct cfg_can *c = h->c;
	struct sockaddr_can addr = {.can_family = AF_CAN};
	struct can_filter kf[CANFRAME_FILTERS_MAX];
	int fd, one = 1, r;
	can_err_mask_t errmask = CAN_ERR_MASK;
	unsigned idx;

	fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "no CAN socket: %s%s", strerror(-r),
			 r == -EAFNOSUPPORT ? " (the kernel has no CAN support: modprobe can-raw)"
					    : "");
		return r;
	}
	for (int i = 0; i < h->nfilt; i++) {
		kf[i].can_id = h->filt[i].id | (h->filt[i].ext ? CAN_EFF_FLAG : 0) |
			       (h->filt[i].inverted ? CAN_INV_FILTER : 0);
		kf[i].can_mask = h->filt[i].mask | CAN_EFF_FLAG;
	}
	if ((h->nfilt && setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, kf,
				    (socklen_t)(h->nfilt * sizeof(kf[0])))) ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errmask, sizeof(errmask)) ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one))) {
		r = -errno;
		snprintf(why, whylen, "setting up the CAN socket: %s", strerror(-r));
		close(fd);
		return r;
	}
	if (c->rcvbuf) {
		int v = (int)c->rcvbuf;

		/* FORCE passes net.core.rmem_max with CAP_NET_ADMIN; without
		 * it the kernel caps the size, and the status says what it got. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	idx = if_nametoindex(c->interface);
	if (!idx) {
		r = -errno;
		snprintf(why, whylen, "no interface %s", c->interface);
		close(fd);
		return r ? r : -ENODEV;
	}
	addr.can_ifindex = (int)idx;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		r = -errno;
		snprintf(why, whylen, "binding to %s: %s", c->interface, strerror(-r));
		close(fd);
		return r;
	}
	h->fd = fd;
	h->ovfl_last = 0;
	h->no_state = h->no_berr = h->no_stats = false;
	return 0;
}

static void csrc_rx_frame(struct csrc *h, const struct msghdr *m, int len)
{
	const struct canfd_frame *cf = m->msg_iov[0].iov_base;
	struct canframe f = {0};
	struct cmsghdr *cm;
	bool have_ts = false;

	if (len != CAN_MTU && len != CANFD_MTU) {
		source_error(h->s, h->r_socket);
		return;
	}
	for (cm = CMSG_FIRSTHDR((struct msghdr *)m); cm; cm = CMSG_NXTHDR((struct msghdr *)m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			f.ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			have_ts = true;
		} else if (cm->cmsg_type == SO_RXQ_OVFL) {
			uint32_t drops;

			/* The socket's drop count so far, on each frame once
			 * it is not 0. */
			memcpy(&drops, CMSG_DATA(cm), sizeof(drops));
			if (drops > h->ovfl_last) {
				atomic_fetch_add(&h->kernel_drops, drops - h->ovfl_last);
				h->ovfl_last = drops;
			}
		}
	}
	f.has_ts = true;
	if (!have_ts)
		f.ts_ns = (uint64_t)clock_unix_ns();
	f.err = cf->can_id & CAN_ERR_FLAG;
	f.ext = cf->can_id & CAN_EFF_FLAG;
	f.rtr = cf->can_id & CAN_RTR_FLAG;
	f.fd = len == CANFD_MTU;
	f.id = f.err ? cf->can_id & CAN_ERR_MASK
		     : cf->can_id & (f.ext ? CAN_EFF_MASK : CAN_SFF_MASK);
	f.len = cf->len > (f.fd ? CANFD_MAX_DLEN : CAN_MAX_DLEN) ? 0 : cf->len;
	if (f.fd)
		f.flags = cf->flags & 0x0F;
	if (!f.rtr)
		memcpy(f.data, cf->data, f.len);
	snprintf(f.iface, sizeof(f.iface), "%s", h->c->interface);
	csrc_frame(h, &f);
}

static void csrc_rx_cb(struct loop *l, const struct loop_event *ev, void *arg)
{
	struct csrc *h = arg;
	uint64_t before = atomic_load_explicit(&h->frames, memory_order_relaxed);

	(void)l;
	if (ev->msg && ev->res >= 0) {
		csrc_rx_frame(h, ev->msg, ev->res);
		csrc_count_errors(h);
		if (before == 0 || h->s->state != SOURCE_OK) {
			h->down_said = false;
			source_set_state(h->s, SOURCE_OK, "reading %s", h->c->interface);
		}
	}
	if (ev->more)
		return;
	if (atomic_load(&h->pd->stopping) || h->fd < 0)
		return;
	switch (ev->res) {
	case -EINVAL:
		if (h->oneshot)
			goto reopen;
		h->oneshot = true;
		log_warn("can %s: this kernel has no multishot recvmsg (Linux 6.0): reading one "
			 "frame per wake-up",
			 h->s->name);
		csrc_arm_rx(h);
		return;
	case -ENOBUFS: /* every buffer was in use: the frames wait in the socket */
	case -ECANCELED:
		csrc_arm_rx(h);
		return;
	case -ENETDOWN:
		/* The interface went down; the socket stays bound and
		 * receives again once it is up. */
		h->down_said = true;
		source_set_state(h->s, SOURCE_ERROR, "%s is down (waiting for it to come up)",
				 h->c->interface);
		csrc_arm_rx(h);
		return;
	default:
		if (ev->res >= 0) {
			csrc_arm_rx(h);
			return;
		}
	reopen:
		/* ENODEV: the interface is gone.  Anything else: start over. */
		source_error(h->s, h->r_socket);
		source_set_state(h->s, SOURCE_CONNECTING, "%s: %s (retrying)", h->c->interface,
				 ev->res == -ENODEV ? "the interface disappeared"
						    : strerror(-ev->res));
		csrc_close_socket(h);
		csrc_open_socket_later(h);
	}
}

static void csrc_rx1_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;
	struct loop_event ev = {.res = res, .msg = res >= 0 ? &h->one_msg : NULL};

	csrc_rx_cb(l, &ev, h);
}

static void csrc_arm_rx(struct csrc *h)
{
	int r;

	if (h->oneshot) {
		h->one_iov = (struct iovec){h->one_buf, sizeof(h->one_buf)};
		h->one_msg = (struct msghdr){.msg_iov = &h->one_iov,
					     .msg_iovlen = 1,
					     .msg_control = h->one_ctrl,
					     .msg_controllen = sizeof(h->one_ctrl)};
		r = loop_recvmsg(h->pd->loop, &h->rx, h->fd, &h->one_msg, 0, csrc_rx1_cb, h);
	} else {
		r = loop_recvmsg_multi(h->pd->loop, &h->rx, h->fd, &h->tmpl, h->bufs, 0, csrc_rx_cb,
				       h);
	}

	if (r) {
		source_error(h->s, h->r_socket);
		source_set_state(h->s, SOURCE_ERROR, "cannot read %s: %s (retrying)",
				 h->c->interface, strerror(-r));
		csrc_close_socket(h);
		csrc_open_socket_later(h);
	}
}

static void csrc_retry_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;
	char why[160];
	int r;

	(void)l;
	(void)res;
	if (atomic_load(&h->pd->stopping))
		return;
	r = csrc_socket(h, why, sizeof(why));
	if (r) {
		source_set_state(h->s, SOURCE_CONNECTING, "%s (retrying)", why);
		csrc_open_socket_later(h);
		return;
	}
	h->backoff_ns = 0;
	log_info("can %s: reading %s", h->s->name, h->c->interface);
	source_set_state(h->s, SOURCE_OK, "reading %s", h->c->interface);
	csrc_arm_rx(h);
}

static void csrc_open_socket_later(struct csrc *h)
{
	h->backoff_ns = h->backoff_ns ? h->backoff_ns * 2 : CSRC_BACKOFF_MIN;
	if (h->backoff_ns > CSRC_BACKOFF_MAX)
		h->backoff_ns = CSRC_BACKOFF_MAX;
	loop_timer_at(h->pd->loop, &h->retry, loop_now() + h->backoff_ns, csrc_retry_cb, h);
}

/* ------------------------------------------------------------ replay */

static void csrc_replay_pump(struct csrc *h);

static void csrc_replay_timer_cb(struct loop *l, int res, void *arg)
{
	(void)l;
	(void)res;
	csrc_replay_pump(arg);
}

static void csrc_replay_read_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;

	(void)l;
	if (res < 0) {
		source_error(h->s, h->r_socket);
		source_set_state(h->s, SOURCE_ERROR, "reading %s: %s", h->c->replay,
				 strerror(-res));
		return;
	}
	if (res == 0)
		h->reof = true;
	h->rhave += (size_t)res;
	h->roff += res;
	csrc_replay_pump(h);
}

/* The next whole line of the buffer, or NULL (after the last one at EOF). */
static const char *csrc_replay_line(struct csrc *h, size_t *n)
{
	char *p = h->rbuf + h->rpos, *nl;
	size_t left = h->rhave - h->rpos;

	nl = memchr(p, '\n', left);
	if (!nl && !(h->reof && left))
		return NULL;
	*n = nl ? (size_t)(nl - p) : left;
	h->rpos += nl ? *n + 1 : *n;
	h->rline++;
	return p;
}

/* Parse one line into h->rpending; false for lines that hold no frame. */
static bool csrc_replay_parse(struct csrc *h, const char *p, size_t n)
{
	const char *why = NULL;
	uint64_t cnt;
	int r;

	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (!n || p[0] == '#')
		return false;
	if (h->rfirst_line) {
		h->rfirst_line = false;
		if (canframe_savvycsv_is_header(p, n)) {
			h->rcsv = true;
			return false;
		}
	}
	r = h->rcsv ? canframe_parse_savvycsv(p, n, &h->rpending, &why)
		    : canframe_parse_candump(p, n, &h->rpending, &why);
	if (r) {
		source_error(h->s, h->r_bad_line);
		if (log_rate_event(&h->drop_log, loop_now(), CSRC_LOG_NS, &cnt))
			log_warn("can %s: %s:%" PRIu64 ": %s (%llu bad lines)", h->s->name,
				 h->c->replay, h->rline, why, (unsigned long long)cnt);
		return false;
	}
	return canframe_filter_pass(h->filt, (size_t)h->nfilt, h->rpending.id, h->rpending.ext);
}

/* When the pending frame is due (monotonic), by the log's own times. */
static int64_t csrc_replay_due(struct csrc *h)
{
	const struct canframe *f = &h->rpending;

	if (h->c->speed == 0 || !f->has_ts)
		return 0;
	if (!h->rbase_set) {
		h->rbase_set = true;
		h->rbase_file_ns = (int64_t)f->ts_ns;
		h->rbase_mono_ns = loop_now();
		h->rbase_unix_ns = clock_unix_ns();
	}
	return h->rbase_mono_ns + ((int64_t)f->ts_ns - h->rbase_file_ns);
}

static void csrc_replay_emit(struct csrc *h)
{
	struct canframe *f = &h->rpending;

	/* At speed 0 (importing history) absolute log times are kept; at
	 * speed 1 the log plays as if live, its times moved onto the clock
	 * (a loop does not repeat old timestamps).  A log without times, or
	 * with relative ones, is stamped as it plays. */
	if (f->has_ts && h->c->speed != 0 && h->rbase_set)
		f->ts_ns = (uint64_t)(h->rbase_unix_ns + ((int64_t)f->ts_ns - h->rbase_file_ns));
	else if (!f->has_ts || f->ts_ns < 946684800ull * 1000000000ull)
		f->ts_ns = (uint64_t)clock_unix_ns();
	f->has_ts = true;
	if (!f->iface[0])
		snprintf(f->iface, sizeof(f->iface), "%s", "replay");
	csrc_frame(h, f);
}

static void csrc_replay_finish(struct csrc *h)
{
	ecoflow_flush(&h->ef, csrc_record_cb, h);
	csrc_count_errors(h);
	if (h->c->loop) {
		h->roff = 0;
		h->rhave = h->rpos = 0;
		h->reof = false;
		h->rbase_set = false;
		h->rfirst_line = true;
		h->rcsv = false;
		h->rline = 0;
		return;
	}
	h->rdone = true;
	csrc_record_flush(h);
	source_set_state(h->s, SOURCE_IDLE, "replayed %s: %llu frames, %llu records decoded",
			 h->c->replay, (unsigned long long)atomic_load(&h->frames),
			 (unsigned long long)atomic_load(&h->decoded));
	log_info("can %s: %s replayed", h->s->name, h->c->replay);
}

static void csrc_replay_pump(struct csrc *h)
{
	unsigned done = 0;
	const char *line;
	size_t n;
	int r;

	if (atomic_load(&h->pd->stopping) || h->rdone)
		return;
	for (;;) {
		if (h->rhas_pending) {
			int64_t due = csrc_replay_due(h), now = loop_now();

			if (due > now) {
				loop_timer_at(h->pd->loop, &h->rtimer, due, csrc_replay_timer_cb,
					      h);
				return;
			}
			/* A replay loses nothing: it waits for the ring. */
			if (h->g->prod && !uploader_room(h->g->prod, CSRC_ROOM)) {
				loop_timer_at(h->pd->loop, &h->rtimer, now + 5000000,
					      csrc_replay_timer_cb, h);
				return;
			}
			h->rhas_pending = false;
			csrc_replay_emit(h);
			if (++done >= CSRC_BATCH) {
				csrc_count_errors(h);
				/* Let the loop's other ops in. */
				loop_timer_at(h->pd->loop, &h->rtimer, now, csrc_replay_timer_cb,
					      h);
				return;
			}
			continue;
		}
		line = csrc_replay_line(h, &n);
		if (line) {
			h->rhas_pending = csrc_replay_parse(h, line, n);
			continue;
		}
		csrc_count_errors(h);
		if (h->reof) {
			csrc_replay_finish(h);
			if (h->rdone)
				return;
		}
		/* Keep the partial line, read on. */
		memmove(h->rbuf, h->rbuf + h->rpos, h->rhave - h->rpos);
		h->rhave -= h->rpos;
		h->rpos = 0;
		if (h->rhave == CSRC_RBUF) {
			source_error(h->s, h->r_bad_line);
			h->rhave = 0; /* a "line" of 64 KiB: no frame */
		}
		r = loop_read(h->pd->loop, &h->rread, h->rfd, h->rbuf + h->rhave,
			      CSRC_RBUF - h->rhave, h->roff, csrc_replay_read_cb, h);
		if (r)
			source_set_state(h->s, SOURCE_ERROR, "reading %s: %s", h->c->replay,
					 strerror(-r));
		return;
	}
}

/* ------------------------------------------------------------ transmit */

static void csrc_tx_next(struct csrc *h);

/* I/O thread: the event is over (err 0: every frame went out). */
static void csrc_tx_finish(struct csrc *h, int err)
{
	pthread_mutex_lock(&h->tx_lock);
	h->tx_err = err;
	h->tx_busy = h->tx_started = false;
	h->tx_done_seq = h->tx_seq;
	h->tx_next_ok = loop_now() + CSRC_TX_GAP_NS;
	pthread_cond_broadcast(&h->tx_cv);
	pthread_mutex_unlock(&h->tx_lock);
}

static void csrc_tx_sent_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;

	(void)l;
	if (res < 0) {
		csrc_tx_finish(h, res);
		return;
	}
	atomic_fetch_add(&h->transmitted, 1);
	h->tx_i++;
	csrc_tx_next(h);
}

/* Each frame at its own time after the first, by the clock (the gaps do
 * not drift with the sends' latency), sent by the kernel when its timer
 * fires (loop_send_at). */
static void csrc_tx_next(struct csrc *h)
{
	int r;

	if (h->tx_i == h->tx_n) {
		csrc_tx_finish(h, 0);
		return;
	}
	if (h->fd < 0) {
		csrc_tx_finish(h, -ENETDOWN);
		return;
	}
	r = loop_send_at(h->pd->loop, &h->tx_send, h->fd, &h->tx_frames[h->tx_i],
			 h->tx_mtu[h->tx_i], 0, h->tx_t0 + h->tx_at[h->tx_i], csrc_tx_sent_cb, h);
	if (r)
		csrc_tx_finish(h, r);
}

static void csrc_tx_wake_cb(struct loop *l, int res, void *arg)
{
	struct csrc *h = arg;
	bool go;

	if (res < 0 || atomic_load(&h->pd->stopping))
		return;
	loop_read(l, &h->tx_wake, h->tx_efd, &h->tx_efd_buf, sizeof(h->tx_efd_buf), -1,
		  csrc_tx_wake_cb, h);
	pthread_mutex_lock(&h->tx_lock);
	go = h->tx_busy && !h->tx_started;
	h->tx_started = h->tx_started || go;
	pthread_mutex_unlock(&h->tx_lock);
	if (!go)
		return;
	h->tx_i = 0;
	h->tx_t0 = loop_now();
	csrc_tx_next(h);
}

/* Parse the event into the caller's arrays; *n frames. */
static int csrc_tx_parse(struct csrc *h, const char *text, size_t len, struct canfd_frame *fr,
			 uint8_t *mtu, int64_t *at, size_t *n, struct buf *reply)
{
	const struct cfg_can *c = h->c;
	const char *p = text, *end = text + len, *why;
	uint64_t first = 0, last = 0;
	bool have_first = false;
	unsigned line = 0;
	struct canframe f;

	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *q = p;

		p += ln + (nl ? 1 : 0);
		line++;
		while (ln && (q[ln - 1] == '\r' || q[ln - 1] == ' '))
			ln--;
		if (!ln || q[0] == '#')
			continue;
		if (canframe_parse_candump(q, ln, &f, &why)) {
			buf_printf(reply, "line %u: %s\n", line, why);
			return -EINVAL;
		}
		if (f.iface[0] && strcmp(f.iface, c->interface)) {
			buf_printf(reply, "line %u: a frame for %s; [can.%s] is on %s\n", line,
				   f.iface, h->s->name, c->interface);
			return -EINVAL;
		}
		if (f.err) {
			buf_printf(reply, "line %u: an error frame cannot be sent\n", line);
			return -EINVAL;
		}
		if (*n == c->transmit_max) {
			buf_printf(reply, "more than transmit_max = %u frames\n", c->transmit_max);
			return -E2BIG;
		}
		memset(&fr[*n], 0, sizeof(fr[*n]));
		fr[*n].can_id = f.id | (f.ext ? CAN_EFF_FLAG : 0) | (f.rtr ? CAN_RTR_FLAG : 0);
		fr[*n].len = f.len;
		fr[*n].flags = f.fd ? f.flags : 0;
		if (!f.rtr)
			memcpy(fr[*n].data, f.data, f.len);
		mtu[*n] = f.fd ? CANFD_MTU : CAN_MTU;
		/* The recorded gaps; frames without a time go right after the
		 * one before. */
		if (f.has_ts && !have_first) {
			have_first = true;
			first = last = f.ts_ns;
		}
		if (f.has_ts) {
			if (f.ts_ns < last) {
				buf_printf(reply, "line %u: its time is before the line above's\n",
					   line);
				return -EINVAL;
			}
			last = f.ts_ns;
		}
		at[*n] = have_first ? (int64_t)(last - first) : 0;
		if (at[*n] > CSRC_TX_SPAN_MAX) {
			buf_printf(reply, "line %u: the event lasts longer than %lld s\n", line,
				   CSRC_TX_SPAN_MAX / 1000000000LL);
			return -EINVAL;
		}
		(*n)++;
	}
	if (!*n) {
		buf_printf(reply, "no frames in the event\n");
		return -EINVAL;
	}
	return 0;
}

int source_can_transmit(struct source *s, const char *text, size_t len, unsigned uid,
			struct buf *reply)
{
	struct csrc *h = s->priv;
	const struct cfg_can *c = s->conf;
	struct canfd_frame *fr;
	int64_t *at, deadline;
	uint8_t *mtu;
	size_t n = 0;
	uint64_t seq;
	int r;

	if (!h)
		return -ENOENT;
	if (!c->allow_transmit || c->replay[0]) {
		atomic_fetch_add(&h->transmit_refused, 1);
		log_warn("can %s: uid %u asked to transmit: refused (%s)", s->name, uid,
			 c->replay[0] ? "a replay has no bus" : "allow_transmit = no");
		buf_printf(reply, "can %s: %s\n", s->name,
			   c->replay[0] ? "a replay has no bus to transmit on"
					: "transmitting is not allowed (allow_transmit = no)");
		return -EPERM;
	}
	fr = calloc(c->transmit_max, sizeof(*fr));
	mtu = calloc(c->transmit_max, 1);
	at = calloc(c->transmit_max, sizeof(*at));
	r = fr && mtu && at ? csrc_tx_parse(h, text, len, fr, mtu, at, &n, reply) : -ENOMEM;
	if (r) {
		atomic_fetch_add(&h->transmit_refused, 1);
		log_warn("can %s: uid %u asked to transmit: refused (%s)", s->name, uid,
			 r == -ENOMEM ? "out of memory" : "a bad event");
		goto out;
	}
	pthread_mutex_lock(&h->tx_lock);
	if (h->tx_busy || loop_now() < h->tx_next_ok) {
		r = h->tx_busy ? -EBUSY : -EAGAIN;
		pthread_mutex_unlock(&h->tx_lock);
		atomic_fetch_add(&h->transmit_refused, 1);
		buf_printf(reply, "can %s: %s\n", s->name,
			   r == -EBUSY ? "another event is being sent"
				       : "one event a second at most");
		goto out;
	}
	memcpy(h->tx_frames, fr, n * sizeof(*fr));
	memcpy(h->tx_mtu, mtu, n);
	memcpy(h->tx_at, at, n * sizeof(*at));
	h->tx_n = n;
	h->tx_busy = true;
	seq = ++h->tx_seq;
	pthread_mutex_unlock(&h->tx_lock);
	log_info("can %s: uid %u transmits %zu frames on %s (%.3f s)", s->name, uid, n,
		 c->interface, (double)at[n - 1] / 1e9);
	if (eventfd_write(h->tx_efd, 1)) {
		r = -errno;
		goto out;
	}
	deadline = loop_now() + at[n - 1] + CSRC_TX_SLACK_NS;
	pthread_mutex_lock(&h->tx_lock);
	while (h->tx_done_seq < seq && loop_now() < deadline) {
		struct timespec ts = {.tv_sec = deadline / 1000000000LL,
				      .tv_nsec = deadline % 1000000000LL};

		pthread_cond_timedwait(&h->tx_cv, &h->tx_lock, &ts);
	}
	r = h->tx_done_seq < seq ? -ETIMEDOUT : h->tx_err;
	pthread_mutex_unlock(&h->tx_lock);
	if (r == -ETIMEDOUT)
		buf_printf(reply, "can %s: not sent within %.1f s\n", s->name,
			   (double)(at[n - 1] + CSRC_TX_SLACK_NS) / 1e9);
	else if (r)
		buf_printf(reply, "can %s: sending on %s failed: %s\n", s->name, c->interface,
			   strerror(-r));
	else
		buf_printf(reply, "can %s: sent %zu frames on %s\n", s->name, n, c->interface);
	if (r)
		log_warn("can %s: the transmission for uid %u failed: %s", s->name, uid,
			 strerror(-r));
out:
	free(fr);
	free(mtu);
	free(at);
	return r;
}

/* ------------------------------------------------------------ source ops */

static int csrc_load_table(struct csrc *h)
{
	const char *path = h->c->decode[0] ? h->c->decode : POWERD_DATADIR "/ecoflow.json";
	struct buf b;
	char err[256];
	int r;

	buf_init(&b);
	r = buf_read_file(&b, path, CSRC_TABLE_MAX);
	if (r) {
		log_err("can %s: cannot read the decode table %s: %s%s", h->s->name, path,
			strerror(-r), h->c->decode[0] ? "" : " (set decode = FILE)");
		buf_free(&b);
		return r;
	}
	r = eftab_load(path, b.data ? b.data : "", b.len, &h->tab, err, sizeof(err));
	buf_free(&b);
	if (r)
		log_err("can %s: %s", h->s->name, err);
	return r;
}

static int csrc_configure(struct csrc *h)
{
	const struct cfg_can *c = h->c;
	const char *step = "stop it";
	int e;

	/* libsocketcan: the bitrate can only change while the interface is
	 * down; restart-ms brings a controller back after bus-off.  A failed
	 * step leaves the interface up again, as it was. */
	if (can_do_stop(c->interface))
		goto fail;
	step = "set its bitrate";
	if (can_set_bitrate(c->interface, c->bitrate))
		goto fail_up;
	step = "set restart-ms";
	if (can_set_restart_ms(c->interface, c->restart_ms))
		goto fail_up;
	step = "start it";
	if (can_do_start(c->interface))
		goto fail;
	log_info("can %s: %s up at %u bit/s", h->s->name, c->interface, c->bitrate);
	return 0;
fail_up:
	e = errno ? errno : EIO;
	can_do_start(c->interface);
	errno = e;
fail:
	e = errno ? errno : EIO;
	log_err("can %s: cannot configure %s (bitrate %u): cannot %s: %s (configure = yes needs "
		"CAP_NET_ADMIN and a CAN controller)",
		h->s->name, c->interface, c->bitrate, step, strerror(e));
	return -e;
}

static int csrc_open(struct source *s)
{
	const struct cfg_can *c = s->conf;
	struct csrc *h = calloc(1, sizeof(*h));
	char why[200];
	size_t i;
	int r;

	if (!h)
		return -ENOMEM;
	h->s = s;
	h->pd = s->pd;
	h->c = c;
	h->fd = h->rfd = h->tx_efd = -1;
	h->last_state = -2; /* not read yet */
	snprintf(h->bus_state, sizeof(h->bus_state), "%s", c->replay[0] ? "" : "unknown");
	s->priv = h;
	ecoflow_init(&h->ef);
	for (i = 0; i < CSRC_EF_REASONS; i++)
		h->r_ef[i] = source_reason(s, csrc_ef_reasons[i].reason);
	h->r_dropped = source_reason(s, "dropped");
	h->r_socket = source_reason(s, c->replay[0] ? "read" : "socket");
	h->r_bad_line = source_reason(s, c->replay[0] ? "bad_line" : "bad_sample");
	h->r_record = source_reason(s, "record");
	r = canframe_parse_filters(c->filter, h->filt, CANFRAME_FILTERS_MAX, why, sizeof(why));
	if (r < 0) {
		log_err("can %s: filter: %s", s->name, why); /* checked at load already */
		return -EINVAL;
	}
	h->nfilt = r;
	if (c->protocol == CFG_CAN_ECOFLOW) {
		r = csrc_load_table(h);
		if (r)
			return r;
	}
	if (c->record[0]) {
		r = csrc_record_open(h);
		if (r) {
			log_err("can %s: cannot open the record file %s: %s", s->name, c->record,
				strerror(-r));
			return r;
		}
	}
	if (c->replay[0]) {
		h->rfd = open(c->replay, O_RDONLY | O_CLOEXEC);
		if (h->rfd < 0) {
			r = -errno;
			log_err("can %s: cannot open %s: %s", s->name, c->replay, strerror(-r));
			return r;
		}
		/* Zeroed: the kernel fills it through io_uring, which Valgrind
		 * cannot see. */
		h->rbuf = calloc(1, CSRC_RBUF);
		if (!h->rbuf)
			return -ENOMEM;
		h->rfirst_line = true;
		source_set_state(s, SOURCE_BACKLOG, "replaying %s", c->replay);
		return 0;
	}
	if (c->configure) {
		r = csrc_configure(h);
		if (r)
			return r;
	}
	if (c->allow_transmit) {
		pthread_condattr_t ca;

		h->tx_frames = calloc(c->transmit_max, sizeof(*h->tx_frames));
		h->tx_mtu = calloc(c->transmit_max, 1);
		h->tx_at = calloc(c->transmit_max, sizeof(*h->tx_at));
		h->tx_efd = eventfd(0, EFD_CLOEXEC);
		if (!h->tx_frames || !h->tx_mtu || !h->tx_at || h->tx_efd < 0)
			return h->tx_efd < 0 ? -errno : -ENOMEM;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->tx_cv, &ca);
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&h->tx_lock, NULL);
		h->tx_sync = true;
	}
	source_set_state(s, SOURCE_CONNECTING, "opening %s", c->interface);
	return 0;
}

static int csrc_group_join(struct csrc *h)
{
	struct csrc_group *g = h->pd->can_group;
	int r;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return -ENOMEM;
		h->pd->can_group = g;
	}
	g->users++;
	h->g = g;
	if (!g->prod_tried) {
		g->prod_tried = true;
		r = uploader_producer(h->pd->uploader, "can", CSRC_RING, &g->prod);
		if (r)
			log_err("can: no ring into the uploader: %s; CAN records are counted, "
				"their samples dropped",
				strerror(-r));
	}
	return 0;
}

static void csrc_start(struct source *s)
{
	struct csrc *h = s->priv;
	char why[160];
	int r;

	if (csrc_group_join(h)) {
		source_set_state(s, SOURCE_ERROR, "out of memory");
		return;
	}
	loop_timer_at(h->pd->loop, &h->tick, loop_now() + h->c->state_interval_ns, csrc_tick_cb, h);
	if (csrc_replaying(h)) {
		csrc_replay_pump(h);
		return;
	}
	if (h->tx_efd >= 0)
		loop_read(h->pd->loop, &h->tx_wake, h->tx_efd, &h->tx_efd_buf,
			  sizeof(h->tx_efd_buf), -1, csrc_tx_wake_cb, h);
	h->tmpl.msg_namelen = 0;
	h->tmpl.msg_controllen = CSRC_CTRL;
	r = loop_bufs_new(h->pd->loop, &h->bufs, CSRC_BUFS,
			  loop_recvmsg_bufsize(&h->tmpl, CANFD_MTU));
	if (r) {
		source_set_state(s, SOURCE_ERROR, "no receive buffers: %s", strerror(-r));
		return;
	}
	csrc_poll_state(h);
	r = csrc_socket(h, why, sizeof(why));
	if (r) {
		log_warn("can %s: %s; retrying", s->name, why);
		source_set_state(s, SOURCE_CONNECTING, "%s (retrying)", why);
		csrc_open_socket_later(h);
		return;
	}
	log_info("can %s: reading %s", s->name, h->c->interface);
	source_set_state(s, SOURCE_OK, "reading %s", h->c->interface);
	csrc_arm_rx(h);
}

/* After loop_drain(): nothing of it is in flight. */
static void csrc_stop(struct source *s)
{
	struct csrc *h = s->priv;

	if (!h)
		return;
	if (h->c->protocol == CFG_CAN_ECOFLOW && h->g)
		ecoflow_flush(&h->ef, csrc_record_cb, h);
	csrc_record_flush(h);
	if (h->rec)
		fclose(h->rec);
	csrc_close_socket(h);
	if (h->rfd >= 0)
		close(h->rfd);
	if (h->tx_efd >= 0)
		close(h->tx_efd);
	if (h->tx_sync) {
		pthread_cond_destroy(&h->tx_cv);
		pthread_mutex_destroy(&h->tx_lock);
	}
	free(h->tx_frames);
	free(h->tx_mtu);
	free(h->tx_at);
	/* The loop is gone by now (io_teardown), and freed the buffer ring. */
	h->bufs = NULL;
	if (h->g && --h->g->users == 0) {
		free(h->g);
		h->pd->can_group = NULL;
	}
	if (h->smp_init)
		sample_free(&h->smp);
	eftab_free(&h->tab);
	free(h->rbuf);
	s->priv = NULL;
	free(h);
}

static void csrc_status(struct source *s, struct status_source *out)
{
	struct csrc *h = s->priv;
	struct status_can *o = &out->can;
	unsigned i;

	if (!h)
		return;
	o->present = true;
	snprintf(o->interface, sizeof(o->interface), "%s", h->c->interface);
	snprintf(o->bus_state, sizeof(o->bus_state), "%s", h->bus_state);
	o->frames = atomic_load(&h->frames);
	o->bytes = atomic_load(&h->bytes);
	o->kernel_drops = atomic_load(&h->kernel_drops);
	o->error_frames = atomic_load(&h->error_frames);
	o->records = atomic_load(&h->records);
	o->decoded = atomic_load(&h->decoded);
	o->unknown = atomic_load(&h->unknown);
	o->to_error_passive = atomic_load(&h->to_passive);
	o->to_bus_off = atomic_load(&h->to_busoff);
	o->restarts = atomic_load(&h->restarts);
	o->have_berr = h->have_berr;
	o->berr_tx = h->berr_tx;
	o->berr_rx = h->berr_rx;
	o->transmitted = atomic_load(&h->transmitted);
	o->transmit_refused = atomic_load(&h->transmit_refused);
	o->nunknown = h->nunk;
	for (i = 0; i < h->nunk; i++) {
		const struct csrc_unknown *u = &h->unk[i];

		snprintf(o->unknown_ids[i].id, sizeof(o->unknown_ids[i].id),
			 "%02X:%02X %02X>%02X len %u", u->cmd_set, u->cmd_id, u->src, u->dst,
			 u->len);
		o->unknown_ids[i].n = u->n;
	}
}

const struct source_ops source_can_ops = {
	.kind = "can",
	.open = csrc_open,
	.start = csrc_start,
	.stop = csrc_stop,
	.status = csrc_status,
};

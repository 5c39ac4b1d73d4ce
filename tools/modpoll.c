/* modpoll URL [--unit N] (--map NAME|FILE [--field F,..] [--lp] | --read holding|input ADDR COUNT)
 *         [--scan] [--timeout D] [--count N] [--interval D]
 *         [--baud B] [--parity N|E|O] [--data-bits 5-8] [--stop-bits 1|2]
 *
 * Reads a Modbus device through powerd's own Modbus core (modbus.c: the
 * requests, the TCP and RTU framings, the checks of every reply) and
 * register maps (regmap.c), so a user finding a device's registers sees
 * what the daemon will see: issue 10's mbpoll with powerd's maps.
 *
 * I/O is plain blocking-with-timeout (poll(2)): one request in flight, a
 * tool's pace.  TCP: one connection, kept over the requests, made again
 * after the device closed it or spoke something other than Modbus/TCP; a
 * reply with another transaction id (a late one) is skipped.  RTU: the
 * line is silent for 3.5 characters before each request (bytes heard
 * meanwhile are thrown away), and a reply ends at its length, known from
 * its first two bytes, or after a silence of 3.5 characters plus
 * MODPOLL_RTU_SLACK_NS (a USB adapter delivers in bursts, up to its latency
 * timer apart).  --timeout is the wait for a reply (on RTU, for its first
 * byte: the rest is framed by length and silence).
 *
 * Exit status: 0 every request answered, 1 a request failed (exception,
 * timeout, bad CRC, a bad or foreign reply, no connection; --scan: no unit
 * answered), 2 usage (a bad option, URL or map). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fmt.h"
#include "lineproto.h"
#include "modbus.h"
#include "regmap.h"
#include "sample.h"
#include "serial.h"

enum { MODPOLL_OK = 0, MODPOLL_FAIL = 1, MODPOLL_USAGE = 2 };

#define MODPOLL_TIMEOUT_NS	1000000000LL
#define MODPOLL_SCAN_TIMEOUT_NS 200000000LL
#define MODPOLL_TIMEOUT_MAX_NS	60000000000LL
#define MODPOLL_INTERVAL_NS	1000000000LL
#define MODPOLL_RTU_SLACK_NS	20000000LL
#define MODPOLL_SCAN_FIRST	1
#define MODPOLL_SCAN_LAST	247
#define MODPOLL_WHY		4400 /* a message naming a path (PATH_MAX) or a host */
#define MODPOLL_FIELDS_MAX	REGMAP_VALUES_MAX

struct modpoll {
	struct modbus_url url;
	struct serial_params sp;
	bool rtu;
	int fd; /* -1: not connected / not open */
	int64_t timeout_ns;
	uint64_t t35_ns;
	int64_t quiet_since_ns; /* RTU: the last byte heard or sent */
	uint16_t tid;
	struct modbus_mbap_stream mbap;
	uint8_t rx[MODBUS_TCP_ADU_MAX];
};

/* What one exchange ended in, for the message. */
struct modpoll_result {
	int err; /* 0, or the negative errno of modbus.h or of the I/O */
	uint8_t exception;
	bool conn; /* no connection (or port) was had: why says why */
	char why[MODPOLL_WHY];
};

static void modpoll_usage(FILE *f)
{
	fprintf(f,
		"usage: modpoll URL [--unit N] --read holding|input ADDR COUNT\n"
		"       modpoll URL [--unit N] --map NAME|FILE [--field F,..] [--lp]\n"
		"       modpoll URL --scan [--read ... | --map ...]\n"
		"  reads a Modbus device with powerd's Modbus core and register maps\n"
		"  URL               tcp://HOST[:PORT] (default port 502) or rtu:///dev/ttyUSB0\n"
		"  --read T A N      N registers (1-125) of table T from address A (decimal or\n"
		"                    0x hex, the protocol address): 'ADDR  0xHHHH  DEC' lines\n"
		"  --map NAME|FILE   every value of a register map (DATADIR/maps/NAME.map,\n"
		"                    or a file): 'meas.name = value unit' lines, then its\n"
		"                    derivations\n"
		"  --field F,..      only these values of the map (NAME or MEAS.NAME)\n"
		"  --lp              the map's values as InfluxDB line protocol, as powerd\n"
		"                    publishes them\n"
		"  --unit N          the unit (slave) id: default 1 for --read, the map's for\n"
		"                    --map (given, it replaces every unit the map names);\n"
		"                    1-247 (rtu), 0-255 (tcp)\n"
		"  --scan            try units 1-247, print those that answer (an exception is\n"
		"                    an answer); the request is --read's or the map's first,\n"
		"                    else holding 0, 1 register\n"
		"  --timeout D       wait for a connection or a reply (default 1s, --scan\n"
		"                    200ms; 250ms, 2s)\n"
		"  --count N         poll N times (default 1; 0: until interrupted)\n"
		"  --interval D      between polls (default 1s)\n"
		"  --baud B          rtu: the line's speed (default 9600)\n"
		"  --parity P        rtu: N, E or O (default N)\n"
		"  --data-bits N     rtu: 5-8 (default 8)\n"
		"  --stop-bits N     rtu: 1 or 2 (default 1)\n"
		"  -h, --help        this text\n"
		"  --version         print the version\n"
		"exit status: 0 ok, 1 a request failed (exception, timeout, CRC, connection),\n"
		"2 usage\n"
		"DATADIR: " POWERD_DATADIR "\n");
}

static int64_t modpoll_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t modpoll_wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* "1", "0x11C2": decimal or 0x hex (a leading 0 is not octal, as in maps). */
static int modpoll_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	int base = 10;
	char *end;
	unsigned long v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (*end || errno || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Waits for fd until deadline (CLOCK_MONOTONIC ns): 1 ready, 0 timed out,
 * or a negative errno. */
static int modpoll_wait(int fd, short events, int64_t deadline_ns)
{
	struct pollfd p = {.fd = fd, .events = events};
	struct timespec ts;
	int64_t left;
	int r;

	for (;;) {
		left = deadline_ns - modpoll_now_ns();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		r = ppoll(&p, 1, &ts, NULL);
		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void modpoll_close(struct modpoll *mp)
{
	if (mp->fd >= 0)
		close(mp->fd);
	mp->fd = -1;
}

/* ---------------------------------------------------------------- TCP */

static int modpoll_tcp_connect(struct modpoll *mp, char *why, size_t len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int64_t deadline = modpoll_now_ns() + mp->timeout_ns;
	int r, fd, err = 0, one = 1;
	socklen_t sl;

	r = getaddrinfo(mp->url.host, mp->url.port, &hints, &res);
	if (r) {
		snprintf(why, len, "cannot resolve %s: %s", mp->url.host, gai_strerror(r));
		return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			err = -errno;
			close(fd);
			continue;
		}
		r = modpoll_wait(fd, POLLOUT, deadline);
		sl = sizeof(err);
		if (r == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) && !err) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			freeaddrinfo(res);
			mp->fd = fd;
			modbus_mbap_init(&mp->mbap);
			return 0;
		}
		err = r == 0 ? -ETIMEDOUT : r < 0 ? r : -err;
		close(fd);
	}
	freeaddrinfo(res);
	if (!err)
		err = -EHOSTUNREACH;
	snprintf(why, len, "cannot connect to %s port %s: %s", mp->url.host, mp->url.port,
		 err == -ETIMEDOUT ? "no answer (timeout)" : strerror(-err));
	return err;
}

static int modpoll_write_all(struct modpoll *mp, const uint8_t *p, size_t n, int64_t deadline)
{
	ssize_t w;
	int r;

	while (n) {
		/* A device that closed the connection is an error, not SIGPIPE. */
		w = mp->rtu ? write(mp->fd, p, n) : send(mp->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		r = modpoll_wait(mp->fd, POLLOUT, deadline);
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
	}
	return 0;
}

static int modpoll_tcp(struct modpoll *mp, uint8_t unit, const struct modbus_req *req,
		       uint16_t *regs, struct modpoll_result *res)
{
	uint8_t adu[MODBUS_TCP_ADU_MAX];
	struct modbus_adu a;
	int64_t deadline;
	size_t off, used;
	ssize_t n;
	int r, len;

	if (mp->fd < 0 && (r = modpoll_tcp_connect(mp, res->why, sizeof(res->why)))) {
		res->conn = true;
		return r;
	}
	len = modbus_pdu_encode(req, adu + MODBUS_MBAP_HDR, sizeof(adu) - MODBUS_MBAP_HDR);
	if (len < 0)
		return len;
	mp->tid++;
	len = modbus_mbap_encode(mp->tid, unit, adu + MODBUS_MBAP_HDR, (size_t)len, adu,
				 sizeof(adu));
	if (len < 0)
		return len;
	deadline = modpoll_now_ns() + mp->timeout_ns;
	r = modpoll_write_all(mp, adu, (size_t)len, deadline);
	if (r) {
		snprintf(res->why, sizeof(res->why), "sending: %s", strerror(-r));
		modpoll_close(mp);
		return r;
	}
	for (;;) {
		r = modpoll_wait(mp->fd, POLLIN, deadline);
		/* A timeout keeps the connection: a late reply is skipped by its tid. */
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
		n = read(mp->fd, mp->rx, sizeof(mp->rx));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			r = n ? -errno : -ECONNRESET;
			snprintf(res->why, sizeof(res->why), "%s",
				 n ? strerror(errno) : "the device closed the connection");
			modpoll_close(mp);
			return r;
		}
		for (off = 0; off < (size_t)n; off += used) {
			r = modbus_mbap_feed(&mp->mbap, mp->rx + off, (size_t)n - off, &used, &a);
			if (r < 0) {
				/* MBAP has no marker to resynchronise on: a new connection. */
				snprintf(res->why, sizeof(res->why),
					 "not a Modbus/TCP reply (bad MBAP header)");
				modpoll_close(mp);
				return -EBADMSG;
			}
			if (r == 1 && modbus_mbap_answers(&a, mp->tid, unit, req))
				return modbus_pdu_reply(req, a.pdu, a.pdu_len, regs,
							MODBUS_READ_MAX, &res->exception);
		}
	}
}

/* ---------------------------------------------------------------- RTU */

static int modpoll_rtu_open(struct modpoll *mp, char *why, size_t len)
{
	int r = serial_open(mp->url.path, &mp->sp, &mp->fd, why, len);

	if (r)
		return r;
	tcflush(mp->fd, TCIOFLUSH);
	mp->quiet_since_ns = modpoll_now_ns();
	return 0;
}

/* 3.5 characters of silence on the line before a request; whatever is
 * heard meanwhile (a late reply, noise) is thrown away and the wait starts
 * again, for at most the timeout: a line that never falls silent (another
 * master on it?) is -EBUSY. */
static int modpoll_rtu_silence(struct modpoll *mp)
{
	int64_t give_up = modpoll_now_ns() + mp->timeout_ns;
	uint8_t junk[256];
	ssize_t n;
	int r;

	for (;;) {
		if (modpoll_now_ns() > give_up)
			return -EBUSY;
		r = modpoll_wait(mp->fd, POLLIN, mp->quiet_since_ns + (int64_t)mp->t35_ns);
		if (r < 0)
			return r;
		if (!r)
			return 0;
		n = read(mp->fd, junk, sizeof(junk));
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		mp->quiet_since_ns = modpoll_now_ns();
	}
}

static int modpoll_rtu(struct modpoll *mp, uint8_t unit, const struct modbus_req *req,
		       uint16_t *regs, struct modpoll_result *res)
{
	uint8_t adu[MODBUS_RTU_ADU_MAX], pdu[MODBUS_PDU_MAX];
	int64_t deadline, gap = (int64_t)mp->t35_ns + MODPOLL_RTU_SLACK_NS;
	size_t got = 0, want = 2;
	ssize_t n;
	int r, len;

	if (mp->fd < 0 && (r = modpoll_rtu_open(mp, res->why, sizeof(res->why)))) {
		res->conn = true;
		return r;
	}
	len = modbus_pdu_encode(req, pdu, sizeof(pdu));
	if (len < 0)
		return len;
	len = modbus_rtu_encode(unit, pdu, (size_t)len, adu, sizeof(adu));
	if (len < 0)
		return len;
	r = modpoll_rtu_silence(mp);
	if (r == -EBUSY) {
		snprintf(res->why, sizeof(res->why),
			 "the line was never silent for 3.5 characters (another master on it?)");
		return r;
	}
	if (r)
		goto io;
	r = modpoll_write_all(mp, adu, (size_t)len, modpoll_now_ns() + mp->timeout_ns);
	if (r)
		goto io;
	/* On a UART the bytes are still leaving: the reply cannot start before. */
	tcdrain(mp->fd);
	mp->quiet_since_ns = modpoll_now_ns();
	deadline = mp->quiet_since_ns + mp->timeout_ns;
	while (got < want) {
		r = modpoll_wait(mp->fd, POLLIN, got ? mp->quiet_since_ns + gap : deadline);
		if (r < 0)
			goto io;
		if (!r)
			break;
		n = read(mp->fd, mp->rx + got, want - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			r = n ? -errno : -EIO;
			goto io;
		}
		got += (size_t)n;
		mp->quiet_since_ns = modpoll_now_ns();
		if (got == 2) {
			r = modbus_rtu_reply_len(req, mp->rx, got);
			if (r < 0)
				return r;
			want = (size_t)r;
		}
	}
	if (!got)
		return -ETIMEDOUT;
	if (got < want) {
		snprintf(res->why, sizeof(res->why), "%zu of %zu bytes, then silence", got, want);
		return -EBADMSG;
	}
	return modbus_rtu_reply(req, unit, mp->rx, got, regs, MODBUS_READ_MAX, &res->exception);
io:
	snprintf(res->why, sizeof(res->why), "%s: %s", mp->url.path,
		 strerror(r == -ETIMEDOUT ? EIO : -r));
	res->conn = true;
	modpoll_close(mp);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* One request and its reply: 0 with regs (reads), or res->err < 0. */
static int modpoll_exchange(struct modpoll *mp, uint8_t unit, const struct modbus_req *req,
			    uint16_t *regs, struct modpoll_result *res)
{
	memset(res, 0, sizeof(*res));
	res->err = mp->rtu ? modpoll_rtu(mp, unit, req, regs, res)
			   : modpoll_tcp(mp, unit, req, regs, res);
	return res->err;
}

/* A connection (or a port) that cannot be had, or a serial port that
 * failed: no other request can do better, so the tool stops. */
static bool modpoll_fatal(const struct modpoll_result *res)
{
	return res->conn;
}

/* The one line on stderr for a failed exchange. */
static void modpoll_report(uint8_t unit, const struct modbus_req *req,
			   const struct modpoll_result *res, const struct modpoll *mp)
{
	const char *table = req->fn == MODBUS_FC_READ_INPUT ? "input" : "holding";
	char what[64];

	if (res->conn) {
		fprintf(stderr, "modpoll: %s\n", res->why);
		return;
	}
	if (req->count > 1)
		snprintf(what, sizeof(what), "unit %u, %s %u-%u", unit, table, req->addr,
			 req->addr + req->count - 1);
	else
		snprintf(what, sizeof(what), "unit %u, %s %u", unit, table, req->addr);
	switch (res->err) {
	case -EREMOTEIO:
		fprintf(stderr, "modpoll: %s: exception %u (%s)\n", what, res->exception,
			modbus_exception_name(res->exception));
		break;
	case -ETIMEDOUT:
		fprintf(stderr, "modpoll: %s: no reply within %" PRId64 " ms (timeout)\n", what,
			mp->timeout_ns / 1000000);
		break;
	case -EILSEQ:
		fprintf(stderr,
			"modpoll: %s: bad CRC in the reply (line noise, or another baud rate or "
			"parity)\n",
			what);
		break;
	case -EBADMSG:
		fprintf(stderr, "modpoll: %s: malformed reply%s%s\n", what, res->why[0] ? ": " : "",
			res->why);
		break;
	case -ENOMSG:
		fprintf(stderr,
			"modpoll: %s: the reply answers another request (unit, function or "
			"count differ)\n",
			what);
		break;
	default:
		fprintf(stderr, "modpoll: %s: %s\n", what,
			res->why[0] ? res->why : strerror(-res->err));
	}
}

/* ---------------------------------------------------------------- --read */

static int modpoll_read(struct modpoll *mp, uint8_t unit, const struct modbus_req *req, bool *stop)
{
	struct modpoll_result res;
	uint16_t regs[MODBUS_READ_MAX];
	unsigned i;

	if (modpoll_exchange(mp, unit, req, regs, &res)) {
		modpoll_report(unit, req, &res, mp);
		*stop = modpoll_fatal(&res);
		return res.err;
	}
	for (i = 0; i < req->count; i++)
		printf("%-5u  0x%04X  %u\n", req->addr + i, regs[i], regs[i]);
	return 0;
}

/* ---------------------------------------------------------------- --map */

struct modpoll_map {
	struct regmap m;
	const struct regmap_value **sel; /* --field: the values asked for, in order */
	size_t nsel;
	struct regmap_request *plan;
	size_t nplan;
	uint16_t (*regs)[MODBUS_READ_MAX]; /* one row per request */
	struct regmap_block *blocks;
	bool lp;
	struct buf out;
};

/* The reads: the map's plan, or with --field one read per value asked for
 * (the same registers once). */
static int modpoll_map_plan(struct modpoll_map *p)
{
	size_t i, j, cap = regmap_plan_max(&p->m);
	int r;

	/* --field: at most one read per value */
	if (cap < p->m.n)
		cap = p->m.n;
	p->plan = calloc(cap ? cap : 1, sizeof(*p->plan));
	if (!p->plan)
		return -ENOMEM;
	if (!p->nsel) {
		r = regmap_plan(&p->m, -1, -1, p->plan, cap, &p->nplan);
		if (r)
			return r;
	}
	for (i = 0; i < p->nsel; i++) {
		const struct regmap_value *v = p->sel[i];
		struct regmap_request q = {.unit_id = v->unit_id,
					   .table = v->table,
					   .start = v->address,
					   .count = v->count};

		for (j = 0; j < p->nplan; j++)
			if (!memcmp(&p->plan[j], &q, sizeof(q)))
				break;
		if (j == p->nplan)
			p->plan[p->nplan++] = q;
	}
	p->regs = calloc(p->nplan ? p->nplan : 1, sizeof(*p->regs));
	p->blocks = calloc(p->nplan ? p->nplan : 1, sizeof(*p->blocks));
	return p->regs && p->blocks ? 0 : -ENOMEM;
}

static void modpoll_print_reading(const char *meas, const char *name, const char *unit,
				  const struct regmap_reading *x)
{
	char num[FMT_DOUBLE_MAX];

	printf("%s.%s = ", meas, name);
	switch (x->type) {
	case SAMPLE_INT:
		printf("%" PRId64, x->i);
		break;
	case SAMPLE_FLOAT:
		fmt_double(num, sizeof(num), x->f);
		fputs(num, stdout);
		break;
	default:
		printf("\"%s\"", x->s);
	}
	if (unit && *unit)
		printf(" %s", unit);
	putchar('\n');
}

static void modpoll_print_value(const struct modpoll_map *p, const struct regmap_value *v,
				const struct regmap_block *b, size_t nb)
{
	struct regmap_reading x;
	int r = regmap_read(&p->m, v, b, nb, &x);

	if (r == -ENOENT)
		return; /* its read failed, and said so */
	if (r == -EDOM) {
		printf("%s.%s = not a number\n", p->m.meas[v->meas], v->name);
		return;
	}
	modpoll_print_reading(p->m.meas[v->meas], v->name, v->unit, &x);
}

/* The derivations of one measurement, from its sample. */
static void modpoll_print_derived(const struct modpoll_map *p, size_t mi, const struct sample *s)
{
	struct regmap_reading x = {.type = SAMPLE_FLOAT};
	struct sample_field f;
	struct sample_view sv;
	size_t i;

	if (sample_view_of(&sv, s) < 0)
		return;
	for (i = 0; i < p->m.nderive; i++) {
		const struct regmap_derive *d = &p->m.derive[i];

		if (d->meas != mi || !sample_field_get(&sv, d->d.target.field, &f) ||
		    f.type != SAMPLE_FLOAT)
			continue;
		x.f = f.v.f;
		modpoll_print_reading(p->m.meas[mi], d->d.target.field, NULL, &x);
	}
}

static int modpoll_map_poll(struct modpoll *mp, struct modpoll_map *p, int unit, bool *stop)
{
	struct modpoll_result res;
	struct sample_view sv;
	struct sample s;
	size_t i, nb = 0;
	int64_t ts;
	int err = 0;

	for (i = 0; i < p->nplan; i++) {
		const struct regmap_request *q = &p->plan[i];
		struct modbus_req req = {.fn = q->table == REGMAP_INPUT ? MODBUS_FC_READ_INPUT
									: MODBUS_FC_READ_HOLDING,
					 .addr = q->start,
					 .count = q->count};
		uint8_t u = unit >= 0 ? (uint8_t)unit : q->unit_id;

		if (modpoll_exchange(mp, u, &req, p->regs[i], &res)) {
			modpoll_report(u, &req, &res, mp);
			err = res.err;
			if ((*stop = modpoll_fatal(&res)))
				return err;
			continue;
		}
		/* The map's unit, whichever was asked: regmap_read finds it by that. */
		p->blocks[nb++] = (struct regmap_block){.unit_id = q->unit_id,
							.table = q->table,
							.start = q->start,
							.count = q->count,
							.regs = p->regs[i]};
	}
	ts = modpoll_wall_ns();
	if (p->lp) {
		for (i = 0; i < p->m.nmeas; i++) {
			if (regmap_sample(&p->m, i, NULL, 0, p->blocks, nb, ts, &s) == 0 &&
			    sample_view_of(&sv, &s) >= 0) {
				p->out.len = 0;
				if (!lp_encode(&sv, &p->out))
					fwrite(p->out.data, 1, p->out.len, stdout);
			}
			sample_free(&s);
		}
		return err;
	}
	if (p->nsel) {
		for (i = 0; i < p->nsel; i++)
			modpoll_print_value(p, p->sel[i], p->blocks, nb);
		return err;
	}
	for (i = 0; i < p->m.n; i++)
		modpoll_print_value(p, &p->m.v[i], p->blocks, nb);
	for (i = 0; i < p->m.nmeas && p->m.nderive; i++) {
		if (regmap_sample(&p->m, i, NULL, 0, p->blocks, nb, ts, &s) == 0)
			modpoll_print_derived(p, i, &s);
		sample_free(&s);
	}
	return err;
}

/* "a,b,dc.voltage": each must name one value of the map. */
static int modpoll_fields(struct modpoll_map *p, const char *list)
{
	char name[2 * SAMPLE_KEY_MAX], *c;
	const char *s = list, *e;
	size_t n;
	int r;

	p->sel = calloc(MODPOLL_FIELDS_MAX, sizeof(*p->sel));
	if (!p->sel)
		return -ENOMEM;
	for (; *s; s = *e ? e + 1 : e) {
		e = strchrnul(s, ',');
		n = (size_t)(e - s);
		if (!n || n >= sizeof(name) || p->nsel == MODPOLL_FIELDS_MAX) {
			fprintf(stderr, "modpoll: --field: expected NAME or MEAS.NAME, "
					"comma-separated\n");
			return -EINVAL;
		}
		memcpy(name, s, n);
		name[n] = 0;
		r = regmap_find(&p->m, name, &p->sel[p->nsel]);
		if (r == -ENOTUNIQ) {
			fprintf(stderr,
				"modpoll: --field %s: in several measurements: say which, "
				"as MEAS.%s\n",
				name, name);
			return r;
		}
		if (r) {
			c = strchr(name, '.');
			fprintf(stderr, "modpoll: --field %s: the map has no such value%s\n", name,
				c ? "" : " (derivations cannot be read alone)");
			return r;
		}
		p->nsel++;
	}
	return p->nsel ? 0 : -EINVAL;
}

static void modpoll_map_free(struct modpoll_map *p)
{
	regmap_free(&p->m);
	free(p->sel);
	free(p->plan);
	free(p->regs);
	free(p->blocks);
	buf_free(&p->out);
}

/* ---------------------------------------------------------------- --scan */

static int modpoll_scan(struct modpoll *mp, const struct modbus_req *req, uint8_t first,
			uint8_t last)
{
	bool tty = isatty(STDERR_FILENO);
	struct modpoll_result res;
	uint16_t regs[MODBUS_READ_MAX];
	unsigned u, answered = 0;

	for (u = first; u <= last; u++) {
		if (tty)
			fprintf(stderr, "\rmodpoll: unit %u of %u, %u answered\033[K", u, last,
				answered);
		modpoll_exchange(mp, (uint8_t)u, req, regs, &res);
		if (res.err && res.err != -EREMOTEIO && modpoll_fatal(&res)) {
			if (tty)
				fputs("\r\033[K", stderr);
			modpoll_report((uint8_t)u, req, &res, mp);
			return res.err;
		}
		if (!res.err) {
			answered++;
			printf("unit %u answers\n", u);
		} else if (res.err == -EREMOTEIO) {
			answered++;
			printf("unit %u answers: exception %u (%s)\n", u, res.exception,
			       modbus_exception_name(res.exception));
		}
		fflush(stdout);
	}
	if (tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "modpoll: %u of %u units answered (timeout %" PRId64 " ms)\n", answered,
		last - first + 1, mp->timeout_ns / 1000000);
	return answered ? 0 : -ENODEV;
}

/* ---------------------------------------------------------------- main */

static int modpoll_duration(const char *opt, const char *s, int64_t lo, int64_t *out)
{
	if (cfg_parse_duration(s, out) || *out < lo || *out > MODPOLL_TIMEOUT_MAX_NS) {
		fprintf(stderr, "modpoll: --%s: expected a duration of 1ms to 60s (250ms, 2s)\n",
			opt);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"unit", required_argument, NULL, 'u'},
		{"map", required_argument, NULL, 'm'},
		{"field", required_argument, NULL, 'f'},
		{"read", required_argument, NULL, 'r'},
		{"scan", no_argument, NULL, 'S'},
		{"lp", no_argument, NULL, 'l'},
		{"timeout", required_argument, NULL, 't'},
		{"count", required_argument, NULL, 'c'},
		{"interval", required_argument, NULL, 'i'},
		{"baud", required_argument, NULL, 'b'},
		{"parity", required_argument, NULL, 'P'},
		{"data-bits", required_argument, NULL, 'd'},
		{"stop-bits", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct modpoll mp = {.fd = -1,
			     .sp = {.baud = 9600, .parity = 'N', .data_bits = 8, .stop_bits = 1}};
	struct modpoll_map map = {0};
	struct modbus_req req = {.fn = MODBUS_FC_READ_HOLDING, .addr = 0, .count = 1};
	const char *map_name = NULL, *fields = NULL, *table = NULL;
	int64_t timeout = -1, interval = MODPOLL_INTERVAL_NS, t0;
	unsigned long count = 1, round, v, addr, n;
	char why[MODPOLL_WHY], path[4096];
	bool scan = false, failed = false, stop = false;
	int o, r, unit = -1;

	buf_init(&map.out);
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			if (modpoll_uint(optarg, 0, 255, &v)) {
				fprintf(stderr, "modpoll: --unit: expected 0-255\n");
				return MODPOLL_USAGE;
			}
			unit = (int)v;
			break;
		case 'm':
			map_name = optarg;
			break;
		case 'f':
			fields = optarg;
			break;
		case 'r':
			table = optarg;
			if (strcmp(table, "holding") && strcmp(table, "input")) {
				fprintf(stderr, "modpoll: --read: expected holding or input, then "
						"ADDR COUNT\n");
				return MODPOLL_USAGE;
			}
			break;
		case 'S':
			scan = true;
			break;
		case 'l':
			map.lp = true;
			break;
		case 't':
			if (modpoll_duration("timeout", optarg, 1000000, &timeout))
				return MODPOLL_USAGE;
			break;
		case 'c':
			if (modpoll_uint(optarg, 0, 1000000000, &count)) {
				fprintf(stderr,
					"modpoll: --count: expected a number (0: forever)\n");
				return MODPOLL_USAGE;
			}
			break;
		case 'i':
			if (modpoll_duration("interval", optarg, 0, &interval))
				return MODPOLL_USAGE;
			break;
		case 'b':
			if (modpoll_uint(optarg, 1, 4000000, &v)) {
				fprintf(stderr, "modpoll: --baud: expected a speed (9600)\n");
				return MODPOLL_USAGE;
			}
			mp.sp.baud = (uint32_t)v;
			break;
		case 'P':
			if (strlen(optarg) != 1 || !strchr("NEOneo", optarg[0])) {
				fprintf(stderr, "modpoll: --parity: expected N, E or O\n");
				return MODPOLL_USAGE;
			}
			mp.sp.parity = (char)(optarg[0] & ~0x20);
			break;
		case 'd':
		case 's':
			if (modpoll_uint(optarg, o == 'd' ? 5 : 1, o == 'd' ? 8 : 2, &v)) {
				fprintf(stderr, "modpoll: --%s: expected %s\n",
					o == 'd' ? "data-bits" : "stop-bits",
					o == 'd' ? "5-8" : "1 or 2");
				return MODPOLL_USAGE;
			}
			if (o == 'd')
				mp.sp.data_bits = (uint8_t)v;
			else
				mp.sp.stop_bits = (uint8_t)v;
			break;
		case 'h':
			modpoll_usage(stdout);
			return MODPOLL_OK;
		case 'V':
			printf("modpoll %s\n", POWERD_VERSION);
			return MODPOLL_OK;
		default:
			modpoll_usage(stderr);
			return MODPOLL_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "modpoll: missing URL (tcp://HOST[:PORT] or rtu:///dev/ttyUSB0)\n");
		modpoll_usage(stderr);
		return MODPOLL_USAGE;
	}
	if (modbus_url_parse(argv[optind], &mp.url, why, sizeof(why))) {
		fprintf(stderr, "modpoll: %s: %s\n", argv[optind], why);
		return MODPOLL_USAGE;
	}
	optind++;
	mp.rtu = mp.url.transport == MODBUS_RTU;
	if (table) {
		if (argc - optind != 2 || modpoll_uint(argv[optind], 0, 65535, &addr) ||
		    modpoll_uint(argv[optind + 1], 1, MODBUS_READ_MAX, &n) || addr + n > 65536) {
			fprintf(stderr,
				"modpoll: --read %s: expected ADDR (0-65535) and COUNT "
				"(1-125) after it, within 65535\n",
				table);
			return MODPOLL_USAGE;
		}
		optind += 2;
		req = (struct modbus_req){.fn = strcmp(table, "input") ? MODBUS_FC_READ_HOLDING
								       : MODBUS_FC_READ_INPUT,
					  .addr = (uint16_t)addr,
					  .count = (uint16_t)n};
	}
	if (optind < argc) {
		fprintf(stderr, "modpoll: unexpected argument '%s'\n", argv[optind]);
		return MODPOLL_USAGE;
	}
	if (!!table + !!map_name != 1 && !scan) {
		fprintf(stderr, "modpoll: say what to read: --read or --map (or --scan)\n");
		return MODPOLL_USAGE;
	}
	if (table && map_name) {
		fprintf(stderr, "modpoll: --read and --map exclude each other\n");
		return MODPOLL_USAGE;
	}
	if ((fields || map.lp) && !map_name) {
		fprintf(stderr, "modpoll: --%s needs --map\n", fields ? "field" : "lp");
		return MODPOLL_USAGE;
	}
	if (scan && (unit >= 0 || map.lp || fields)) {
		fprintf(stderr, "modpoll: --scan tries every unit: no --unit, --field or --lp\n");
		return MODPOLL_USAGE;
	}
	if (mp.rtu && unit >= 0 && (unit < 1 || unit > 247)) {
		fprintf(stderr, "modpoll: --unit: expected 1-247 on a serial line (0 is broadcast, "
				"which nobody answers)\n");
		return MODPOLL_USAGE;
	}
	if (mp.rtu) {
		uint64_t t35;

		if (serial_params_check(&mp.sp, why, sizeof(why)) ||
		    modbus_rtu_timing(mp.sp.baud, mp.sp.data_bits, mp.sp.parity, mp.sp.stop_bits,
				      NULL, &t35)) {
			fprintf(stderr, "modpoll: %s\n", why);
			return MODPOLL_USAGE;
		}
		mp.t35_ns = t35;
	}
	mp.timeout_ns = timeout >= 0 ? timeout
			: scan	     ? MODPOLL_SCAN_TIMEOUT_NS
				     : MODPOLL_TIMEOUT_NS;
	if (map_name) {
		r = regmap_path(POWERD_DATADIR, map_name, path, sizeof(path));
		if (r) {
			fprintf(stderr, "modpoll: --map %s: a map name ([A-Za-z0-9_-]) or a file\n",
				map_name);
			return MODPOLL_USAGE;
		}
		r = regmap_load_file(path, &map.m, why, sizeof(why));
		if (r) {
			fprintf(stderr, "modpoll: %s\n", r == -ENOMEM ? "out of memory" : why);
			return MODPOLL_USAGE;
		}
		r = fields ? modpoll_fields(&map, fields) : 0;
		if (!r)
			r = modpoll_map_plan(&map);
		if (r) {
			if (r == -ENOMEM)
				fprintf(stderr, "modpoll: out of memory\n");
			modpoll_map_free(&map);
			return r == -ENOMEM ? MODPOLL_FAIL : MODPOLL_USAGE;
		}
	}
	if (scan) {
		if (map_name && map.nplan)
			req = (struct modbus_req){.fn = map.plan[0].table == REGMAP_INPUT
								? MODBUS_FC_READ_INPUT
								: MODBUS_FC_READ_HOLDING,
						  .addr = map.plan[0].start,
						  .count = map.plan[0].count};
		r = modpoll_scan(&mp, &req, MODPOLL_SCAN_FIRST, MODPOLL_SCAN_LAST);
		modpoll_map_free(&map);
		modpoll_close(&mp);
		return r ? MODPOLL_FAIL : MODPOLL_OK;
	}
	t0 = modpoll_now_ns();
	for (round = 0; !count || round < count; round++) {
		if (round) {
			/* On a grid from the first poll: a slow reply does not shift the next. */
			int64_t at = t0 + (int64_t)round * interval, now = modpoll_now_ns();

			if (at > now) {
				struct timespec ts = {.tv_sec = (at - now) / 1000000000,
						      .tv_nsec = (at - now) % 1000000000};

				while (nanosleep(&ts, &ts) && errno == EINTR)
					;
			}
			if (!map.lp)
				putchar('\n');
		}
		r = map_name ? modpoll_map_poll(&mp, &map, unit, &stop)
			     : modpoll_read(&mp, unit >= 0 ? (uint8_t)unit : 1, &req, &stop);
		fflush(stdout);
		failed |= r != 0;
		if (stop)
			break;
	}
	modpoll_map_free(&map);
	modpoll_close(&mp);
	return failed ? MODPOLL_FAIL : MODPOLL_OK;
}

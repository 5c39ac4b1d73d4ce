/* A Modbus TCP server for the tests and benches: libmodbus's (a real
 * implementation, not ours), N devices on N loopback ports in one process,
 * with known registers and the misbehaviours a poller must survive.
 *
 *   modbus_server --port P [--count N] [--regs FILE] [--units U,U,...]
 *                 [--behave I=exception:CODE|silent|slow:MS|stoppable ...]
 *                 [--ready FILE] [--log FILE]
 *
 * Device I listens on 127.0.0.1 port P+I.  Every device has 65536 holding
 * and 65536 input registers, set from FILE (lines "holding|input ADDR
 * VALUE [VALUE...]", decimal or 0x hex, # comments), and then register 0 of
 * both tables = I, so a test can tell the devices apart.  --units: answer
 * only these unit ids (others are ignored, as by a gateway with nothing
 * there).  exception:CODE answers every request with that exception;
 * silent reads and never answers; slow:MS answers MS ms late (without
 * holding up the other devices); stoppable devices close their listener
 * and connections on SIGUSR1 and come back on the next.  Writes (6, 16)
 * change that device's registers and are logged to --log as
 * "write DEV ADDR VALUE".  SIGTERM ends it, with "device I requests N"
 * lines on stderr. */
#include <errno.h>
#include <modbus.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXDEV	 256
#define MAXCONN	 1024
#define MAXDELAY 4096

enum behave { B_OK, B_EXCEPTION, B_SILENT, B_SLOW, B_STOPPABLE };

struct dev {
	modbus_t *ctx;
	modbus_mapping_t *map;
	int lfd;
	enum behave b;
	int arg;
	int port;
	bool down;
	unsigned long requests;
};

struct conn {
	int fd, dev;
};

struct delayed {
	int fd, dev, len;
	double due;
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
};

static struct dev devs[MAXDEV];
static struct conn conns[MAXCONN];
static struct delayed later[MAXDELAY];
static int ndev = 1, nconn, nlater;
static bool units[256], units_set;
static FILE *wlog;
static volatile sig_atomic_t toggles, stop;

static void on_usr1(int sig)
{
	(void)sig;
	toggles++;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "modbus_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void listen_dev(struct dev *d)
{
	d->lfd = modbus_tcp_listen(d->ctx, 64);
	if (d->lfd < 0)
		die("listen");
	d->down = false;
}

static void drop_conn(int i)
{
	close(conns[i].fd);
	conns[i] = conns[--nconn];
}

static void toggle(void)
{
	int i, j;

	for (i = 0; i < ndev; i++) {
		if (devs[i].b != B_STOPPABLE)
			continue;
		if (devs[i].down) {
			listen_dev(&devs[i]);
			fprintf(stderr, "modbus_server: device %d back\n", i);
			continue;
		}
		close(devs[i].lfd);
		devs[i].lfd = -1;
		devs[i].down = true;
		for (j = nconn - 1; j >= 0; j--)
			if (conns[j].dev == i)
				drop_conn(j);
		fprintf(stderr, "modbus_server: device %d stopped\n", i);
	}
}

static void load_regs(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e, *table;
		unsigned long addr;
		int d;

		n++;
		if (strchr(p, '#'))
			*strchr(p, '#') = '\0';
		table = strtok(p, " \t\r\n");
		if (!table)
			continue;
		if (strcmp(table, "holding") && strcmp(table, "input")) {
			fprintf(stderr, "modbus_server: %s:%d: holding or input expected\n", path,
				n);
			exit(2);
		}
		p = strtok(NULL, " \t\r\n");
		addr = p ? strtoul(p, &e, 0) : 0;
		if (!p || *e || addr > 65535) {
			fprintf(stderr, "modbus_server: %s:%d: bad address\n", path, n);
			exit(2);
		}
		while ((p = strtok(NULL, " \t\r\n"))) {
			unsigned long v = strtoul(p, &e, 0);

			if (*e || v > 65535 || addr > 65535) {
				fprintf(stderr, "modbus_server: %s:%d: bad value %s\n", path, n, p);
				exit(2);
			}
			for (d = 0; d < ndev; d++) {
				if (table[0] == 'h')
					devs[d].map->tab_registers[addr] = (uint16_t)v;
				else
					devs[d].map->tab_input_registers[addr] = (uint16_t)v;
			}
			addr++;
		}
	}
	fclose(f);
}

static void log_writes(int dev, const uint8_t *q, int len)
{
	int hl = 7; /* MBAP header; the PDU follows */
	unsigned fn, addr, count, i;

	if (!wlog || len < hl + 5)
		return;
	fn = q[hl];
	addr = (unsigned)q[hl + 1] << 8 | q[hl + 2];
	if (fn == 6) {
		fprintf(wlog, "write %d %u %u\n", dev, addr, (unsigned)q[hl + 3] << 8 | q[hl + 4]);
	} else if (fn == 16) {
		count = (unsigned)q[hl + 3] << 8 | q[hl + 4];
		for (i = 0; i < count && hl + 6 + 2 * (int)i + 1 < len; i++)
			fprintf(wlog, "write %d %u %u\n", dev, addr + i,
				(unsigned)q[hl + 6 + 2 * i] << 8 | q[hl + 7 + 2 * i]);
	}
	fflush(wlog);
}

static void answer(int dev, int fd, const uint8_t *q, int len)
{
	struct dev *d = &devs[dev];

	modbus_set_socket(d->ctx, fd);
	if (d->b == B_EXCEPTION) {
		modbus_reply_exception(d->ctx, q, (unsigned)d->arg);
		return;
	}
	if (modbus_reply(d->ctx, q, len, d->map) > 0)
		log_writes(dev, q, len);
	/* What a test reads back as the device's identity stays put. */
	d->map->tab_registers[0] = d->map->tab_input_registers[0] = (uint16_t)dev;
}

static void serve(int i)
{
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	struct conn *c = &conns[i];
	struct dev *d = &devs[c->dev];
	int len;

	modbus_set_socket(d->ctx, c->fd);
	len = modbus_receive(d->ctx, q);
	if (len < 0) {
		drop_conn(i);
		return;
	}
	if (len == 0)
		return;
	d->requests++;
	if (units_set && !units[q[6]])
		return;
	switch (d->b) {
	case B_SILENT:
		return;
	case B_SLOW:
		if (nlater < MAXDELAY) {
			struct delayed *l = &later[nlater++];

			l->fd = c->fd;
			l->dev = c->dev;
			l->len = len;
			l->due = now() + d->arg / 1000.0;
			memcpy(l->q, q, (size_t)len);
		}
		return;
	default:
		answer(c->dev, c->fd, q, len);
	}
}

static void parse_behave(const char *s)
{
	char *e;
	long i = strtol(s, &e, 10);

	if (e == s || *e != '=' || i < 0 || i >= MAXDEV) {
		fprintf(stderr, "modbus_server: --behave I=MODE\n");
		exit(2);
	}
	e++;
	if (!strncmp(e, "exception:", 10)) {
		devs[i].b = B_EXCEPTION;
		devs[i].arg = atoi(e + 10);
	} else if (!strcmp(e, "silent")) {
		devs[i].b = B_SILENT;
	} else if (!strncmp(e, "slow:", 5)) {
		devs[i].b = B_SLOW;
		devs[i].arg = atoi(e + 5);
	} else if (!strcmp(e, "stoppable")) {
		devs[i].b = B_STOPPABLE;
	} else {
		fprintf(stderr, "modbus_server: unknown behaviour %s\n", e);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *regs = NULL, *ready = NULL;
	int port = 0, i;
	struct sigaction sa = {0};

	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "modbus_server: %s needs a value\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--port"))
			port = atoi(v);
		else if (!strcmp(argv[i], "--count"))
			ndev = atoi(v);
		else if (!strcmp(argv[i], "--regs"))
			regs = v;
		else if (!strcmp(argv[i], "--ready"))
			ready = v;
		else if (!strcmp(argv[i], "--behave"))
			parse_behave(v);
		else if (!strcmp(argv[i], "--log")) {
			wlog = fopen(v, "a");
			if (!wlog)
				die(v);
		} else if (!strcmp(argv[i], "--units")) {
			char *p = strdup(v), *t, *save = NULL;

			for (t = strtok_r(p, ",", &save); t; t = strtok_r(NULL, ",", &save))
				units[atoi(t) & 255] = true;
			units_set = true;
			free(p);
		} else {
			fprintf(stderr, "modbus_server: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (port <= 0 || ndev < 1 || ndev > MAXDEV || port + ndev > 65536) {
		fprintf(stderr, "usage: modbus_server --port P [--count N] [--regs FILE] "
				"[--units LIST] [--behave I=MODE] [--ready FILE] [--log FILE]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < ndev; i++) {
		devs[i].port = port + i;
		devs[i].ctx = modbus_new_tcp("127.0.0.1", port + i);
		devs[i].map = modbus_mapping_new(0, 0, 65536, 65536);
		if (!devs[i].ctx || !devs[i].map)
			die("libmodbus");
		listen_dev(&devs[i]);
	}
	if (regs)
		load_regs(regs);
	for (i = 0; i < ndev; i++)
		devs[i].map->tab_registers[0] = devs[i].map->tab_input_registers[0] = (uint16_t)i;
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f)
			die(ready);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	while (!stop) {
		fd_set rd;
		int maxfd = -1, n;
		struct timeval tv = {0, 50000};
		double t = now();

		FD_ZERO(&rd);
		for (i = 0; i < ndev; i++)
			if (devs[i].lfd >= 0) {
				FD_SET(devs[i].lfd, &rd);
				maxfd = devs[i].lfd > maxfd ? devs[i].lfd : maxfd;
			}
		for (i = 0; i < nconn; i++) {
			FD_SET(conns[i].fd, &rd);
			maxfd = conns[i].fd > maxfd ? conns[i].fd : maxfd;
		}
		for (i = 0; i < nlater; i++) {
			double w = later[i].due - t;

			if (w < 0)
				w = 0;
			if (w < tv.tv_sec + tv.tv_usec / 1e6) {
				tv.tv_sec = (long)w;
				tv.tv_usec = (long)((w - (double)tv.tv_sec) * 1e6);
			}
		}
		n = select(maxfd + 1, &rd, NULL, NULL, &tv);
		if (n < 0 && errno != EINTR)
			die("select");
		while (toggles > 0) {
			toggles--;
			toggle();
		}
		if (n <= 0)
			goto timers;
		for (i = 0; i < ndev; i++) {
			if (devs[i].lfd >= 0 && FD_ISSET(devs[i].lfd, &rd)) {
				int fd = accept(devs[i].lfd, NULL, NULL);

				if (fd < 0)
					continue;
				if (nconn == MAXCONN) {
					close(fd);
					continue;
				}
				conns[nconn++] = (struct conn){fd, i};
			}
		}
		for (i = nconn - 1; i >= 0; i--)
			if (i < nconn && FD_ISSET(conns[i].fd, &rd))
				serve(i);
	timers:
		t = now();
		for (i = nlater - 1; i >= 0; i--) {
			int j, alive = 0;

			if (later[i].due > t)
				continue;
			for (j = 0; j < nconn; j++)
				alive |= conns[j].fd == later[i].fd;
			if (alive)
				answer(later[i].dev, later[i].fd, later[i].q, later[i].len);
			later[i] = later[--nlater];
		}
	}
	for (i = 0; i < ndev; i++)
		fprintf(stderr, "device %d requests %lu\n", i, devs[i].requests);
	return 0;
}

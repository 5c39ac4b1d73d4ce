/* powerd [-c FILE] [--check] [--defaults[=man]] [--version]
 *
 * --defaults=man prints powerd.conf(5): the build makes the page with it
 * (make man), so the page comes from the tables the daemon parses with and
 * needs no generator program of its own, and an installed powerd can print
 * the page of its own version.
 *
 * The main thread is the supervisor: it loads the configuration, starts the
 * daemon, and then only waits for what the I/O thread tells it (stop, reload,
 * fatal error).  A reload parses the new file first; a bad one is reported
 * and the running configuration stays. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "powerd.h"

/* The build sets both from SYSCONFDIR and DATADIR (Makefile): an installed
 * powerd looks where `make install` put its files. */
#ifndef POWERD_CONFIG
#define POWERD_CONFIG "/etc/powerd/powerd.conf"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: powerd [-c FILE] [--check] [--defaults[=man]] [--version]\n"
		   "  -c, --config FILE  configuration (default " POWERD_CONFIG ")\n"
		   "      --check        validate the configuration and what it names (paths,\n"
		   "                     directories) and exit (0 ok, 2 errors)\n"
		   "      --defaults     print every section and key with its default and what it\n"
		   "                     does, as a commented configuration file, and exit\n"
		   "      --defaults=man the same as the manual page powerd.conf(5) (roff)\n"
		   "      --version      print the version and exit\n"
		   "  -h, --help         this text\n"
		   "Runs in the foreground; SIGTERM/SIGINT stop it, SIGHUP reloads the "
		   "configuration.\n"
		   "Data (EcoFlow decode table, register maps): " POWERD_DATADIR "\n");
}

/* "2 meters, 1 JSON directory, 1 MQTT subscription, 3 sinks": the kinds of
 * source there are (meters always), then the sinks. */
static void summary(const struct config *cfg, char *buf, size_t len)
{
	const struct {
		size_t n;
		const char *one, *many;
		bool always;
	} k[] = {
		{cfg->npulses, "meter", "meters", true},
		{cfg->njson, "JSON directory", "JSON directories", false},
		{cfg->nhttp, "HTTP poll", "HTTP polls", false},
		{cfg->nmqtt, "MQTT subscription", "MQTT subscriptions", false},
		{cfg->ncan, "CAN bus", "CAN buses", false},
		{cfg->nmodbus, "Modbus device", "Modbus devices", false},
		{cfg->neg4, "EG4 dongle", "EG4 dongles", false},
		{cfg->nsinks, "sink", "sinks", true},
	};
	size_t i, at = 0;
	int w;

	buf[0] = 0;
	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (!k[i].n && !k[i].always)
			continue;
		w = snprintf(buf + at, len - at, "%s%zu %s", at ? ", " : "", k[i].n,
			     k[i].n == 1 ? k[i].one : k[i].many);
		if (w < 0 || (size_t)w >= len - at)
			return;
		at += (size_t)w;
	}
}

static void announce(const struct config *cfg)
{
	char what[200];
	size_t i;

	summary(cfg, what, sizeof(what));
	log_info("powerd %s running with %s: %s, HTTP on %s, control socket %s", POWERD_VERSION,
		 cfg->path, what, cfg->daemon.listen[0] ? cfg->daemon.listen : "off",
		 cfg->daemon.socket);
	for (i = 0; i < cfg->njson; i++)
		log_info("json %s: reading %s/%s (%s, after: %s)", cfg->json[i].name,
			 cfg->json[i].path, cfg->json[i].pattern,
			 cfg->json[i].format == CFG_JSON_FLAT ? "flat" : "points",
			 cfg->json[i].after == CFG_JSON_DELETE ? "delete"
			 : cfg->json[i].after == CFG_JSON_MOVE ? "move to done/"
							       : "keep");
	for (i = 0; i < cfg->nhttp; i++)
		log_info("http %s: polling every %.3g s (%s)", cfg->http[i].name,
			 (double)cfg->http[i].interval_ns / 1e9,
			 cfg->http[i].format == CFG_JSON_FLAT ? "flat" : "points");
	for (i = 0; i < cfg->nmqtt; i++)
		log_info("mqtt %s: subscribing to %s on %s (QoS %u%s)", cfg->mqtt[i].name,
			 cfg->mqtt[i].topics, cfg->mqtt[i].host, cfg->mqtt[i].qos,
			 cfg->mqtt[i].qos ? "" : ": nothing is redelivered after a restart");
	for (i = 0; i < cfg->ncan; i++)
		log_info("can %s: %s %s (%s)%s", cfg->can[i].name,
			 cfg->can[i].replay[0] ? "replaying" : "reading",
			 cfg->can[i].replay[0] ? cfg->can[i].replay : cfg->can[i].interface,
			 cfg->can[i].protocol == CFG_CAN_ECOFLOW ? "EcoFlow records" : "raw frames",
			 cfg->can[i].allow_transmit ? "; transmitting allowed" : "");
	for (i = 0; i < cfg->nmodbus; i++)
		log_info("modbus %s: polling %s every %.3g s (map %s)%s", cfg->modbus[i].name,
			 cfg->modbus[i].url, (double)cfg->modbus[i].interval_ns / 1e9,
			 cfg->modbus[i].map, cfg->modbus[i].allow_write ? "; writing allowed" : "");
	for (i = 0; i < cfg->neg4; i++)
		log_info("eg4 %s: dongle %s port %u (%s%s)", cfg->eg4[i].name, cfg->eg4[i].host,
			 cfg->eg4[i].port, cfg->eg4[i].poll_ns ? "polling" : "listening only",
			 cfg->eg4[i].heartbeats ? ", heartbeats echoed" : "");
	for (i = 0; i < cfg->npulses; i++)
		if (cfg->pulses[i].replay[0])
			log_info("meter %s: replaying %s (no hardware needed)", cfg->pulses[i].name,
				 cfg->pulses[i].replay);
	sd_notifyf(0, "READY=1\nSTATUS=%s", what);
}

/* Returns the process exit code. */
static int supervise(struct config *cfg, int ctl[2])
{
	struct powerd_stats stats;
	struct powerd pd;
	struct timespec ts;
	struct config next;
	char ev;
	int r;

	memset(&stats, 0, sizeof(stats));
	clock_gettime(CLOCK_REALTIME, &ts);
	stats.start_unix_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (powerd_start(&pd, cfg, &stats, ctl[1]))
		return 1;
	announce(cfg);
	for (;;) {
		r = (int)read(ctl[0], &ev, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ev == POWERD_EV_FATAL) {
			sd_notify(0, "STOPPING=1");
			powerd_stop(&pd);
			return 1;
		}
		if (ev == POWERD_EV_STOP)
			break;
		/* POWERD_EV_RELOAD */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld",
			   (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
		memset(&next, 0, sizeof(next));
		if (cfg_load(cfg->path, &next, stderr)) {
			atomic_fetch_add(&stats.reloads_failed, 1);
			log_err("reload: %s has errors (above); keeping the running configuration",
				cfg->path);
			sd_notify(0, "READY=1");
			continue;
		}
		powerd_stop(&pd);
		cfg_free(cfg);
		*cfg = next;
		if (powerd_start(&pd, cfg, &stats, ctl[1])) {
			log_err("reload: the new configuration could not be started; exiting");
			return 1;
		}
		atomic_fetch_add(&stats.reloads_ok, 1);
		announce(cfg);
	}
	sd_notify(0, "STOPPING=1");
	powerd_stop(&pd);
	log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},   {"check", no_argument, NULL, 'k'},
		{"defaults", optional_argument, NULL, 'd'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	const char *path = POWERD_CONFIG;
	struct config cfg;
	bool check = false;
	sigset_t set;
	int ctl[2], c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'd':
			if (optarg && strcmp(optarg, "man")) {
				fprintf(stderr, "powerd: --defaults takes no value or 'man'\n");
				return 2;
			}
			if (optarg)
				cfg_print_man(stdout);
			else
				cfg_print_defaults(stdout);
			return fflush(stdout) || ferror(stdout) ? 1 : 0;
		case 'V':
			printf("powerd %s\n", POWERD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "powerd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* A fixed mmap threshold: glibc otherwise raises it after the first
	 * large free, and from then on a drained backlog's buffers stay in the
	 * heap instead of going back to the system (a Pi Zero has 512 MB). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load(path, &cfg, stderr))
		return 2;
	if (check) {
		/* Also what the file names: a check that passes a state_dir the
		 * daemon cannot write would only move the error to the start. */
		r = check_environment(&cfg, stderr);
		if (r == 0) {
			char what[200];

			summary(&cfg, what, sizeof(what));
			printf("%s: configuration OK (%s)\n", path, what);
		}
		cfg_free(&cfg);
		return r ? 2 : 0;
	}
	/* Every thread inherits this mask; the I/O thread reads the signals
	 * from a signalfd instead. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(ctl, O_CLOEXEC) < 0) {
		fprintf(stderr, "powerd: pipe: %s\n", strerror(errno));
		cfg_free(&cfg);
		return 1;
	}
	r = supervise(&cfg, ctl);
	close(ctl[0]);
	close(ctl[1]);
	cfg_free(&cfg);
	return r;
}

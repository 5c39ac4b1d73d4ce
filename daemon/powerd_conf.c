/* The [daemon] section's keys: where powerd keeps its state, where it
 * serves, how often it saves energy (config_table.h). */
#include <stddef.h>
#include <sys/un.h>
#include <syslog.h>

#include "config_table.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static const struct cfg_choice log_levels[] = {{"error", LOG_ERR},
					       {"warning", LOG_WARNING},
					       {"info", LOG_INFO},
					       {"debug", LOG_DEBUG},
					       {0}};

#define D(f) CFG_FIELD(struct cfg_daemon, f)
static const struct cfg_key daemon_keys[] = {
	{"state_dir", &cfg_string, D(state_dir), .flags = CFG_DIR_WRITE, .def = "/var/lib/powerd",
	 .doc = "energy checkpoints, the sinks' spools and the lock against a second powerd"},
	{"listen", &cfg_listen, D(listen), .def = "127.0.0.1:9480",
	 .doc = "HTTP for /metrics, /api/status and the page: an address (or localhost) and a "
		"port; off for none"},
	{"socket", &cfg_string, D(socket), .max = SUN_PATH_MAX - 1, .flags = CFG_SOCKET,
	 .def = "/run/powerd/powerd.sock", .doc = "the Unix socket powerctl talks to"},
	{"persist_interval", &cfg_duration, D(persist_interval_ns), .min = CFG_NS_S,
	 .max = INT64_MAX, .def = "60s",
	 .doc = "how often energy is saved: a power cut loses at most this much counting"},
	{"edge_ring", &cfg_u32, D(edge_ring), .min = 16, .max = 1048576, .flags = CFG_POW2,
	 .def = "4096",
	 .doc = "edges buffered between the I/O and the meter thread; overflow is counted"},
	{"log_level", &cfg_enum, D(log_level), .choices = log_levels, .def = "info",
	 .doc = "the least important messages logged"},
	{0},
};
#undef D

CFG_HEAD_CHECK(struct cfg_daemon);

const struct cfg_kind powerd_conf = {
	.name = "daemon",
	.doc = "The daemon itself: optional, at most once",
	CFG_SINGLE(struct cfg_daemon, daemon),
	.keys = daemon_keys,
};

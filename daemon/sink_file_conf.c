/* The keys of a file sink ([sink.NAME] type = file): line protocol appended
 * to a file, for debugging and the demo (config_table.h). */
#include <stddef.h>

#include "config_table.h"

static const struct cfg_key file_keys[] = {
	{"path", &cfg_string, CFG_FIELD(struct cfg_sink, path),
	 .flags = CFG_REQUIRED | CFG_FILE_WRITE, .example = "/var/lib/powerd/samples.lp",
	 .doc = "the file, created (with its directory) if missing"},
	{0},
};

const struct cfg_type sink_file_conf = {
	.name = "file",
	.value = CFG_SINK_FILE,
	.doc = "line protocol appended to a file (debugging)",
	.keys = file_keys,
};

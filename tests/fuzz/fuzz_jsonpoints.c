/* libFuzzer target for the JSON mappings (include/jsonpoints.h): points,
 * flat and telegraf, with options chosen by the first byte.  Any document
 * the parser takes is either refused whole with a named reason and a
 * message, or gives points that each have a measurement, at least one
 * field, finite floats, the caller's tag on every point (once), and, with
 * telegraf, only floats except the members string_fields names. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonpoints.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_jsonpoints:%d: %s\n", __LINE__, #c);                 \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int fuzz_point(void *arg, const struct jp_point *p)
{
	const struct jp_opts *o = arg;
	size_t i, topic = 0;

	FUZZ_ASSERT(p->measurement && p->measurement[0] && p->nfields >= 1);
	FUZZ_ASSERT(p->ntags <= JP_TAGS_MAX && p->nfields <= JP_FIELDS_MAX);
	for (i = 0; i < p->ntags; i++) {
		FUZZ_ASSERT(p->tags[i].key && p->tags[i].value);
		topic += !strcmp(p->tags[i].key, "topic");
	}
	FUZZ_ASSERT(topic == 1);
	for (i = 0; i < p->nfields; i++) {
		const struct jp_field *f = &p->fields[i];

		FUZZ_ASSERT(f->key && (f->type != JP_STRING || f->s));
		FUZZ_ASSERT(f->type != JP_FLOAT || isfinite(f->f));
		if (o->format == JP_TELEGRAF && f->type != JP_FLOAT)
			FUZZ_ASSERT(jp_list_has(o->string_fields, f->key));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum jp_time times[] = {JP_TIME_AUTO,    JP_TIME_RFC3339, JP_TIME_UNIX,
					     JP_TIME_UNIX_MS, JP_TIME_UNIX_US, JP_TIME_UNIX_NS};
	static const struct jp_tag topic = {"topic", "home/pico/1"};
	struct jp_opts o = {.tags = &topic, .ntags = 1, .default_ns = 1};
	struct json_doc d;
	struct json_error je;
	struct jp_error e;
	uint8_t sel;
	int r;

	if (size < 1)
		return 0;
	sel = data[0];
	o.format = sel % 3 == 0 ? JP_POINTS : sel % 3 == 1 ? JP_FLAT : JP_TELEGRAF;
	o.time_format = times[(sel / 3) % 6];
	if (sel & 0x40)
		o.time_key = o.format == JP_POINTS ? "time" : "timestamp";
	if (!(sel & 0x80))
		o.name = "mqtt";
	o.name_key = "measurement";
	o.tag_keys = "host, topic";
	o.string_fields = "mode,note";
	if (json_parse((const char *)data + 1, size - 1, 100000, &d, &je))
		return 0;
	r = jp_convert(d.root, &o, fuzz_point, &o, &e);
	FUZZ_ASSERT(r > 0 || r == -ENOMEM ||
		    (r == -EBADMSG && e.reason != JP_OK && e.reason < JP_REASONS && e.msg[0]));
	json_free(&d);
	return 0;
}

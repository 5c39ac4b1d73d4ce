/* libFuzzer target for the JSON parser (include/json.h).  Any input is
 * either refused with a message and a position inside the input, or parsed
 * into a tree whose strings are NUL-free valid UTF-8 of their stated length,
 * whose numbers are finite (and is_int ones exact), whose counts add up to
 * the document's, and which, written out again and parsed back, gives the
 * same tree.  Both point mappings either refuse it with a named reason or
 * give points that each have a measurement and at least one field. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "jsonpoints.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                             \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_json:%d: %s\n", __LINE__, #c);                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void fuzz_str(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_append(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, &s[i], 1);
	}
	buf_append(b, "\"", 1);
}

/* Writes the tree out; returns the number of nodes. */
static size_t fuzz_write(struct buf *b, const struct json_node *n)
{
	const struct json_node *k;
	size_t count = 1, kids = 0;

	switch (n->type) {
	case JSON_NULL:
		buf_append(b, "null", 4);
		break;
	case JSON_BOOL:
		buf_printf(b, "%s", n->v.b ? "true" : "false");
		break;
	case JSON_NUMBER:
		FUZZ_ASSERT(isfinite(n->v.num.d));
		if (n->v.num.is_int) {
			FUZZ_ASSERT(n->v.num.integral);
			FUZZ_ASSERT((double)n->v.num.i == n->v.num.d);
			buf_printf(b, "%lld", (long long)n->v.num.i);
		} else {
			char t[40];

			/* Written so that it reads back as a float, not an int. */
			snprintf(t, sizeof(t), "%.17g", n->v.num.d);
			buf_printf(b, "%s%s", t, strpbrk(t, ".e") ? "" : ".0");
		}
		break;
	case JSON_STRING:
		FUZZ_ASSERT(strlen(n->v.str.s) == n->v.str.len);
		fuzz_str(b, n->v.str.s, n->v.str.len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		buf_append(b, n->type == JSON_ARRAY ? "[" : "{", 1);
		for (k = n->v.kids.first; k; k = k->next) {
			if (kids++)
				buf_append(b, ",", 1);
			if (n->type == JSON_OBJECT) {
				FUZZ_ASSERT(k->key && strlen(k->key) == k->key_len);
				fuzz_str(b, k->key, k->key_len);
				buf_append(b, ":", 1);
			} else {
				FUZZ_ASSERT(!k->key);
			}
			count += fuzz_write(b, k);
		}
		FUZZ_ASSERT(kids == n->v.kids.n);
		buf_append(b, n->type == JSON_ARRAY ? "]" : "}", 1);
		break;
	}
	return count;
}

static int fuzz_same(const struct json_node *a, const struct json_node *b)
{
	const struct json_node *x, *y;

	if (a->type != b->type || a->key_len != b->key_len ||
	    (a->key && memcmp(a->key, b->key, a->key_len)))
		return 0;
	switch (a->type) {
	case JSON_NULL:
		return 1;
	case JSON_BOOL:
		return a->v.b == b->v.b;
	case JSON_NUMBER:
		return a->v.num.d == b->v.num.d && a->v.num.is_int == b->v.num.is_int;
	case JSON_STRING:
		return a->v.str.len == b->v.str.len &&
		       !memcmp(a->v.str.s, b->v.str.s, a->v.str.len);
	default:
		for (x = a->v.kids.first, y = b->v.kids.first; x && y; x = x->next, y = y->next)
			if (!fuzz_same(x, y))
				return 0;
		return !x && !y;
	}
}

static int fuzz_point(void *arg, const struct jp_point *p)
{
	size_t i;

	(void)arg;
	FUZZ_ASSERT(p->measurement && p->measurement[0] && p->nfields >= 1);
	for (i = 0; i < p->ntags; i++)
		FUZZ_ASSERT(p->tags[i].key && p->tags[i].value);
	for (i = 0; i < p->nfields; i++)
		FUZZ_ASSERT(p->fields[i].key && (p->fields[i].type != JP_STRING || p->fields[i].s));
	return 0;
}

static void fuzz_points(const struct json_node *root)
{
	struct jp_opts o = {.format = JP_POINTS};
	struct jp_error e;
	int r = jp_convert(root, &o, fuzz_point, NULL, &e);

	FUZZ_ASSERT(r > 0 || (r == -EBADMSG && e.reason != JP_OK && e.msg[0]));
	o.format = JP_FLAT;
	o.time_key = "ts";
	o.name = "top";
	r = jp_convert(root, &o, fuzz_point, NULL, &e);
	FUZZ_ASSERT(r > 0 || (r == -EBADMSG && e.reason != JP_OK && e.msg[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d, d2;
	struct json_error e;
	struct buf b;
	int r = json_parse((const char *)data, size, 100000, &d, &e);

	if (r) {
		FUZZ_ASSERT(r == -EBADMSG);
		FUZZ_ASSERT(e.msg[0] && e.offset <= size && e.line >= 1 && e.col >= 1);
		return 0;
	}
	buf_init(&b);
	FUZZ_ASSERT(fuzz_write(&b, d.root) == d.nodes);
	FUZZ_ASSERT(!b.err);
	r = json_parse(b.data, b.len, 100000, &d2, &e);
	if (r)
		fprintf(stderr, "fuzz_json: re-parse failed: %s at %u:%u in %.*s\n", e.msg, e.line,
			e.col, (int)b.len, b.data);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(fuzz_same(d.root, d2.root));
	fuzz_points(d.root);
	json_free(&d2);
	json_free(&d);
	buf_free(&b);
	return 0;
}

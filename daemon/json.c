/* The JSON parser (json.h): recursive descent over the text, every value a
 * node in one arena.  Recursion is bounded by JSON_DEPTH_MAX, so a hostile
 * file cannot exhaust the stack; the arena is bounded by max_nodes and by
 * the text's own size (strings are never longer decoded than written). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_BLOCK	   (64u << 10)
#define JSON_DEFAULT_NODES 1000000u

struct json_block {
	struct json_block *next;
	size_t used, cap;
	unsigned char data[];
};

struct json_p {
	const char *s, *end, *start;
	size_t nodes, max_nodes;
	struct json_block *arena;
	struct json_error *err;
	int depth;
	bool oom;
};

static void *json_alloc(struct json_p *p, size_t n)
{
	struct json_block *b = p->arena;
	void *r;

	n = (n + 7) & ~(size_t)7;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > JSON_BLOCK ? n : JSON_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b) {
			p->oom = true;
			return NULL;
		}
		b->next = p->arena;
		b->used = 0;
		b->cap = cap;
		p->arena = b;
	}
	r = b->data + b->used;
	b->used += n;
	return r;
}

void json_where(const char *text, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int json_fail(struct json_p *p, const char *at, const char *msg)
{
	if (p->err && !p->err->msg[0]) {
		snprintf(p->err->msg, sizeof(p->err->msg), "%s", msg);
		p->err->offset = (size_t)(at - p->start);
		json_where(p->start, p->err->offset, &p->err->line, &p->err->col);
	}
	return -EBADMSG;
}

static void json_ws(struct json_p *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static struct json_node *json_node(struct json_p *p, enum json_type t)
{
	struct json_node *n;

	if (p->nodes >= p->max_nodes) {
		if (p->err && !p->err->msg[0])
			p->err->too_many = true;
		json_fail(p, p->s, "too many values");
		return NULL;
	}
	n = json_alloc(p, sizeof(*n));
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->at = (size_t)(p->s - p->start);
	p->nodes++;
	return n;
}

static int json_hex4(const char *s, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static size_t json_put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One UTF-8 sequence at s (before end): its length, or 0 if it is not valid
 * (overlong, a surrogate, beyond U+10FFFF, cut short). */
static size_t json_utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A string at p->s (the opening quote): decoded into the arena. */
static int json_string(struct json_p *p, const char **out, size_t *out_len)
{
	const char *q = p->s + 1, *run;
	char *o, *start;
	size_t n;

	/* Decoded is never longer than written: allocate that much. */
	for (run = q; run < p->end && *run != '"'; run++)
		if (*run == '\\' && run + 1 < p->end)
			run++;
	if (run >= p->end)
		return json_fail(p, p->s, "unterminated string");
	start = o = json_alloc(p, (size_t)(run - q) + 1);
	if (!o)
		return -ENOMEM;
	while (q < p->end && *q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20)
			return json_fail(p, q, "control character in a string");
		if (c != '\\') {
			n = json_utf8_len((const unsigned char *)q, (const unsigned char *)p->end);
			if (!n)
				return json_fail(p, q, "invalid UTF-8 in a string");
			memcpy(o, q, n);
			o += n;
			q += n;
			continue;
		}
		if (q + 1 >= p->end)
			return json_fail(p, q, "unterminated string");
		switch (q[1]) {
		case '"':
		case '\\':
		case '/':
			*o++ = q[1];
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned cp, lo;

			if (p->end - q < 6 || json_hex4(q + 2, &cp))
				return json_fail(p, q, "bad \\u escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return json_fail(p, q, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->end - q < 12 || q[6] != '\\' || q[7] != 'u' ||
				    json_hex4(q + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return json_fail(p, q, "lone high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				q += 6;
			}
			if (cp == 0)
				return json_fail(p, q, "NUL in a string");
			o += json_put_utf8(o, cp);
			q += 6;
			continue;
		}
		default:
			return json_fail(p, q, "bad escape");
		}
		q += 2;
	}
	*o = '\0';
	*out = start;
	*out_len = (size_t)(o - start);
	p->s = q + 1;
	return 0;
}

static int json_number(struct json_p *p, struct json_node *n)
{
	const char *q = p->s, *digits;
	char buf[64], *e;
	bool integral = true;
	size_t len;

	if (q < p->end && *q == '-')
		q++;
	digits = q;
	if (q < p->end && *q == '0')
		q++;
	else
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	if (q == digits)
		return json_fail(p, p->s, "bad number");
	if (q < p->end && *q == '.') {
		integral = false;
		if (++q >= p->end || *q < '0' || *q > '9')
			return json_fail(p, p->s, "bad number");
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < p->end && (*q == 'e' || *q == 'E')) {
		integral = false;
		q++;
		if (q < p->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= p->end || *q < '0' || *q > '9')
			return json_fail(p, p->s, "bad number");
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	}
	len = (size_t)(q - p->s);
	if (len >= sizeof(buf))
		return json_fail(p, p->s, "number too long");
	memcpy(buf, p->s, len);
	buf[len] = '\0';
	errno = 0;
	n->v.num.d = strtod(buf, &e);
	/* Underflow to 0 is fine; overflow to infinity is not a value. */
	if (n->v.num.d == HUGE_VAL || n->v.num.d == -HUGE_VAL)
		return json_fail(p, p->s, "number out of range");
	n->v.num.integral = integral;
	if (integral) {
		long long v;

		errno = 0;
		v = strtoll(buf, &e, 10);
		n->v.num.is_int = errno == 0 && *e == '\0';
		n->v.num.i = n->v.num.is_int ? (int64_t)v : 0;
	}
	p->s = q;
	return 0;
}

static int json_value(struct json_p *p, struct json_node **out);

static int json_container(struct json_p *p, struct json_node *n, char close)
{
	struct json_node **tail = &n->v.kids.first, *kid;
	const char *key = NULL;
	size_t key_len = 0;
	int r;

	if (++p->depth > JSON_DEPTH_MAX)
		return json_fail(p, p->s, "nested too deeply");
	p->s++;
	json_ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		p->depth--;
		return 0;
	}
	for (;;) {
		json_ws(p);
		if (close == '}') {
			if (p->s >= p->end || *p->s != '"')
				return json_fail(p, p->s, "expected a member name");
			r = json_string(p, &key, &key_len);
			if (r)
				return r;
			json_ws(p);
			if (p->s >= p->end || *p->s != ':')
				return json_fail(p, p->s, "expected ':'");
			p->s++;
		}
		r = json_value(p, &kid);
		if (r)
			return r;
		kid->key = key;
		kid->key_len = key_len;
		*tail = kid;
		tail = &kid->next;
		n->v.kids.n++;
		json_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			p->depth--;
			return 0;
		}
		return json_fail(p, p->s,
				 close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int json_word(struct json_p *p, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n))
		return json_fail(p, p->s, "unexpected character");
	p->s += n;
	return 0;
}

static int json_value(struct json_p *p, struct json_node **out)
{
	struct json_node *n;
	int r;

	json_ws(p);
	if (p->s >= p->end)
		return json_fail(p, p->s, "unexpected end of input");
	switch (*p->s) {
	case '{':
		n = json_node(p, JSON_OBJECT);
		r = n ? json_container(p, n, '}') : -1;
		break;
	case '[':
		n = json_node(p, JSON_ARRAY);
		r = n ? json_container(p, n, ']') : -1;
		break;
	case '"':
		n = json_node(p, JSON_STRING);
		r = n ? json_string(p, &n->v.str.s, &n->v.str.len) : -1;
		break;
	case 't':
	case 'f':
		n = json_node(p, JSON_BOOL);
		if (n)
			n->v.b = *p->s == 't';
		r = n ? json_word(p, *p->s == 't' ? "true" : "false") : -1;
		break;
	case 'n':
		n = json_node(p, JSON_NULL);
		r = n ? json_word(p, "null") : -1;
		break;
	default:
		if (*p->s != '-' && (*p->s < '0' || *p->s > '9'))
			return json_fail(p, p->s, "unexpected character");
		n = json_node(p, JSON_NUMBER);
		r = n ? json_number(p, n) : -1;
		break;
	}
	if (!n)
		return p->oom ? -ENOMEM : -EBADMSG;
	if (r)
		return r < 0 && p->oom ? -ENOMEM : r;
	*out = n;
	return 0;
}

static void json_arena_free(struct json_block *b)
{
	while (b) {
		struct json_block *next = b->next;

		free(b);
		b = next;
	}
}

int json_parse(const char *text, size_t len, size_t max_nodes, struct json_doc *doc,
	       struct json_error *err)
{
	struct json_p p = {
		.s = text,
		.end = text + len,
		.start = text,
		.max_nodes = max_nodes ? max_nodes : JSON_DEFAULT_NODES,
		.err = err,
	};
	struct json_node *root = NULL;
	int r;

	memset(doc, 0, sizeof(*doc));
	if (err)
		memset(err, 0, sizeof(*err));
	r = json_value(&p, &root);
	if (!r) {
		json_ws(&p);
		if (p.s != p.end)
			r = json_fail(&p, p.s, "text after the value");
	}
	if (r) {
		json_arena_free(p.arena);
		return p.oom ? -ENOMEM : r;
	}
	doc->root = root;
	doc->arena = p.arena;
	doc->nodes = p.nodes;
	return 0;
}

void json_free(struct json_doc *doc)
{
	json_arena_free(doc->arena);
	memset(doc, 0, sizeof(*doc));
}

const struct json_node *json_get(const struct json_node *obj, const char *key)
{
	const struct json_node *k;
	size_t n = strlen(key);

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (k = obj->v.kids.first; k; k = k->next)
		if (k->key_len == n && !memcmp(k->key, key, n))
			return k;
	return NULL;
}

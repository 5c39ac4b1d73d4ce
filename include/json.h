/* A strict JSON parser (RFC 8259) into a small read-only tree.
 *
 * Why not cJSON: the sources need what cJSON drops, the lexical form of a
 * number (an integer stays an integer, 509 is not 509.0), and hard limits
 * on depth and size with an error that says where.  The tree lives in one
 * arena per document: parse, walk, json_free.
 *
 * Accepted: exactly RFC 8259 (one value, surrounded by whitespace), UTF-8
 * validated, \u escapes with surrogate pairs decoded, strings without NUL.
 * Refused with a message and the line:column: anything else, nesting
 * deeper than JSON_DEPTH_MAX, more than max_nodes values. */
#ifndef POWERD_JSON_H
#define POWERD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_node {
	enum json_type type;
	const char *key; /* a member of an object: its name; else NULL */
	size_t key_len;
	union {
		bool b;
		struct {
			double d;      /* the value (finite) */
			int64_t i;     /* the value, when is_int */
			bool is_int;   /* written as an integer that fits int64 */
			bool integral; /* written without fraction or exponent */
		} num;
		struct {
			const char *s; /* decoded, NUL-terminated, no NUL inside */
			size_t len;
		} str;
		struct {
			struct json_node *first; /* children in order */
			size_t n;
		} kids;
	} v;
	struct json_node *next; /* the next sibling */
	size_t at;		/* where the value starts in the text (byte offset) */
};

struct json_doc {
	struct json_node *root;
	void *arena;
	size_t nodes;
};

struct json_error {
	char msg[96];
	size_t offset; /* byte offset of the problem */
	unsigned line, col;
	bool too_many; /* well formed, as far as read, but past max_nodes */
};

/* Parse len bytes of text.  max_nodes bounds the values (0: 1,000,000).
 * Returns 0, -EBADMSG with *err filled, or -ENOMEM. */
int json_parse(const char *text, size_t len, size_t max_nodes, struct json_doc *doc,
	       struct json_error *err);
void json_free(struct json_doc *doc);

/* The line and column (1-based) of a byte offset in text, for messages
 * about a value that parsed but means nothing (json_node.at). */
void json_where(const char *text, size_t off, unsigned *line, unsigned *col);

/* The first member named key of an object (NULL if none, or not an object). */
const struct json_node *json_get(const struct json_node *obj, const char *key);

#endif

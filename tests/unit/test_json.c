/* The JSON parser: RFC 8259 exactly (valid documents of every kind, a table
 * of invalid ones with where they fail), numbers that keep their lexical
 * kind, strings decoded (escapes, surrogate pairs, UTF-8 validated), and
 * the limits on depth and values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static int parse(const char *text, struct json_doc *d, struct json_error *e)
{
	return json_parse(text, strlen(text), 0, d, e);
}

static void test_valid(void)
{
	struct json_doc d;
	struct json_error e;
	const struct json_node *n, *k;

	CHECK_EQ_INT(parse(" {\"a\": 1, \"b\": [true, false, null], \"c\": {\"d\": \"x\"},"
			   " \"f\": 1.5, \"g\": -0, \"h\": 2e3, \"i\": 9223372036854775807,"
			   " \"j\": 9223372036854775808, \"k\": 509} ",
			   &d, &e),
		     0);
	n = d.root;
	CHECK(n && n->type == JSON_OBJECT && n->v.kids.n == 9);
	k = json_get(n, "a");
	CHECK(k && k->type == JSON_NUMBER && k->v.num.is_int && k->v.num.i == 1);
	k = json_get(n, "b");
	CHECK(k && k->type == JSON_ARRAY && k->v.kids.n == 3);
	CHECK(k->v.kids.first->type == JSON_BOOL && k->v.kids.first->v.b);
	CHECK(k->v.kids.first->next->type == JSON_BOOL && !k->v.kids.first->next->v.b);
	CHECK(k->v.kids.first->next->next->type == JSON_NULL);
	k = json_get(json_get(n, "c"), "d");
	CHECK(k && k->type == JSON_STRING && !strcmp(k->v.str.s, "x"));
	k = json_get(n, "f");
	CHECK(k && !k->v.num.integral && !k->v.num.is_int && k->v.num.d == 1.5);
	k = json_get(n, "g");
	CHECK(k && k->v.num.integral && k->v.num.is_int && k->v.num.i == 0);
	k = json_get(n, "h"); /* an exponent makes it a float, as JSON writers mean it */
	CHECK(k && !k->v.num.integral && k->v.num.d == 2000);
	k = json_get(n, "i");
	CHECK(k && k->v.num.is_int && k->v.num.i == INT64_MAX);
	k = json_get(n, "j"); /* integral, but beyond int64: a float */
	CHECK(k && k->v.num.integral && !k->v.num.is_int && k->v.num.d == 9223372036854775808.0);
	CHECK(json_get(n, "zz") == NULL);
	json_free(&d);

	/* Scalars alone, and empty containers. */
	CHECK_EQ_INT(parse("\"\"", &d, &e), 0);
	CHECK(d.root->type == JSON_STRING && d.root->v.str.len == 0);
	json_free(&d);
	CHECK_EQ_INT(parse("[]", &d, &e), 0);
	CHECK(d.root->type == JSON_ARRAY && d.root->v.kids.n == 0);
	json_free(&d);
	CHECK_EQ_INT(parse("{}", &d, &e), 0);
	json_free(&d);

	/* Escapes and UTF-8. */
	CHECK_EQ_INT(parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00 \xc3\xa9\"",
			   &d, &e),
		     0);
	CHECK(!strcmp(d.root->v.str.s,
		      "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9"));
	json_free(&d);
}

static void test_invalid(void)
{
	static const struct {
		const char *text;
		const char *msg;
		unsigned line, col;
	} bad[] = {
		{"", "unexpected end of input", 1, 1},
		{"{", "expected a member name", 1, 2},
		{"{\"a\" 1}", "expected ':'", 1, 6},
		{"{\"a\": 1,}", "expected a member name", 1, 9},
		{"[1, 2", "expected ',' or ']'", 1, 6},
		{"[1 2]", "expected ',' or ']'", 1, 4},
		{"{\"a\": 1}\n x", "text after the value", 2, 2},
		{"01", "text after the value", 1, 2},
		{"1.", "bad number", 1, 1},
		{"-", "bad number", 1, 1},
		{"1e", "bad number", 1, 1},
		{"+1", "unexpected character", 1, 1},
		{".5", "unexpected character", 1, 1},
		{"NaN", "unexpected character", 1, 1},
		{"1e999", "number out of range", 1, 1},
		{"tru", "unexpected character", 1, 1},
		{"nul", "unexpected character", 1, 1},
		{"\"abc", "unterminated string", 1, 1},
		{"\"a\tb\"", "control character in a string", 1, 3},
		{"\"\\x\"", "bad escape", 1, 2},
		{"\"\\u12g4\"", "bad \\u escape", 1, 2},
		{"\"\\ud800\"", "lone high surrogate", 1, 2},
		{"\"\\udc00\"", "lone low surrogate", 1, 2},
		{"\"\\u0000\"", "NUL in a string", 1, 2},
		{"\"\xc3\"", "invalid UTF-8 in a string", 1, 2},
		{"\"\xc0\xaf\"", "invalid UTF-8 in a string", 1, 2},
		{"\"\xed\xa0\x80\"", "invalid UTF-8 in a string", 1, 2},
		{"\"\xf4\x90\x80\x80\"", "invalid UTF-8 in a string", 1, 2},
		{"{\"a\":\n  [1,\n   2,,]}", "unexpected character", 3, 6},
	};
	struct json_doc d;
	struct json_error e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].text, &d, &e);

		CHECK_EQ_INT(r, -EBADMSG);
		if (strcmp(e.msg, bad[i].msg) || e.line != bad[i].line || e.col != bad[i].col)
			fprintf(stderr, "case %zu (%s): got '%s' at %u:%u, want '%s' at %u:%u\n", i,
				bad[i].text, e.msg, e.line, e.col, bad[i].msg, bad[i].line,
				bad[i].col);
		CHECK(!strcmp(e.msg, bad[i].msg));
		CHECK_EQ_INT(e.line, bad[i].line);
		CHECK_EQ_INT(e.col, bad[i].col);
		if (!r)
			json_free(&d);
	}
	/* A NUL byte inside the text (not an escape) is a control character. */
	CHECK_EQ_INT(json_parse("\"a\0b\"", 5, 0, &d, &e), -EBADMSG);
}

static void test_limits(void)
{
	char deep[2 * JSON_DEPTH_MAX + 8];
	struct json_doc d;
	struct json_error e;
	size_t i;

	for (i = 0; i < JSON_DEPTH_MAX; i++)
		deep[i] = '[';
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		deep[JSON_DEPTH_MAX + i] = ']';
	CHECK_EQ_INT(json_parse(deep, 2 * JSON_DEPTH_MAX, 0, &d, &e), 0);
	json_free(&d);
	memmove(deep + 1, deep, 2 * JSON_DEPTH_MAX);
	deep[0] = '[';
	deep[2 * JSON_DEPTH_MAX + 1] = ']';
	CHECK_EQ_INT(json_parse(deep, 2 * JSON_DEPTH_MAX + 2, 0, &d, &e), -EBADMSG);
	CHECK(!strcmp(e.msg, "nested too deeply"));
	CHECK_EQ_INT(json_parse("[1,2,3]", 7, 4, &d, &e), 0);
	json_free(&d);
	CHECK_EQ_INT(json_parse("[1,2,3,4]", 9, 4, &d, &e), -EBADMSG);
	CHECK(!strcmp(e.msg, "too many values") && e.too_many);

	/* A large document: 100,000 records, freed in one go. */
	{
		size_t n = 100000, cap = n * 16 + 16, len = 0;
		char *t = malloc(cap);

		CHECK(t != NULL);
		if (!t)
			return;
		t[len++] = '[';
		for (i = 0; i < n; i++)
			len += (size_t)snprintf(t + len, cap - len, "%s{\"v\":%zu}", i ? "," : "",
						i);
		t[len++] = ']';
		CHECK_EQ_INT(json_parse(t, len, 0, &d, &e), 0);
		CHECK_EQ_INT(d.root->v.kids.n, n);
		CHECK_EQ_INT(d.nodes, 2 * n + 1);
		json_free(&d);
		free(t);
	}
}

int main(void)
{
	test_valid();
	test_invalid();
	test_limits();
	return check_result();
}

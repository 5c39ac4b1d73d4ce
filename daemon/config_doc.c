/* What the key tables say about themselves: `powerd --defaults` (every kind
 * and key with its default and doc, as a commented INI file), the same as
 * the powerd.conf(5) manual page (`powerd --defaults=man`, roff), and the
 * lint that keeps every table fit for the parser and for those outputs.
 *
 * One walk over the tables (doc_kind) composes every text; a format (struct
 * doc_fmt) only lays it out, so the page and --defaults cannot disagree. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_table.h"

#define DOC_WIDTH 79 /* the comments of --defaults */

/* How one output lays out what the walk says. */
struct doc_fmt {
	/* A kind starts: its title ("[pulse.NAME]") and doc. */
	void (*kind)(FILE *out, const char *title, const char *doc);
	/* An example section's header; live: uncommented ([daemon]); apart:
	 * set off from what is above (one of several, each of a type). */
	void (*section)(FILE *out, const char *header, bool live, bool apart);
	/* A paragraph of prose. */
	void (*para)(FILE *out, const char *text);
	/* A key: doc (with its facts), then name = value (example: no default). */
	void (*key)(FILE *out, const char *name, const char *value, bool example, const char *doc,
		    int width);
};

/* `text` as "; " comment lines of at most DOC_WIDTH columns. */
static void wrap(FILE *out, const char *text)
{
	const char *p = text, *end, *brk;

	while (*p) {
		end = p + strlen(p);
		if (end - p > DOC_WIDTH - 2) {
			end = p + DOC_WIDTH - 2;
			for (brk = end; brk > p && *brk != ' '; brk--)
				;
			if (brk > p)
				end = brk;
			else /* one long word: as it is */
				end = p + strcspn(p, " ");
		}
		fprintf(out, "; %.*s\n", (int)(end - p), p);
		p = end;
		while (*p == ' ')
			p++;
	}
}

/* ------------------------------------------------ --defaults: INI */

static void ini_kind(FILE *out, const char *title, const char *doc)
{
	static const char rule[] =
		"================================================================";
	int pad;

	/* The rule shortened for a long title: every line fits 79 columns. */
	pad = 79 - 3 - (int)strlen(title);
	if (pad > (int)sizeof(rule) - 1)
		pad = (int)sizeof(rule) - 1;
	fprintf(out, "\n; %.*s %s\n", pad < 0 ? 0 : pad, rule, title);
	wrap(out, doc);
}

static void ini_section(FILE *out, const char *header, bool live, bool apart)
{
	fprintf(out, "%s%s%s\n", apart ? "\n" : "", live ? "" : ";", header);
}

static void ini_key(FILE *out, const char *name, const char *value, bool example, const char *doc,
		    int width)
{
	wrap(out, doc);
	fprintf(out, ";%-*s = %s%s\n", width, name, value, example ? " ; e.g." : "");
}

static const struct doc_fmt doc_ini = {ini_kind, ini_section, wrap, ini_key};

/* ------------------------------------------------ powerd.conf(5): roff */

/* `s` as roff text on a line of its own: backslashes as \e, every '-' a
 * minus (\-: what one types), a leading '.' or '\'' not a request. */
static void roff(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

static void man_kind(FILE *out, const char *title, const char *doc)
{
	fputs(".SS \"", out);
	roff(out, title);
	fputs("\"\n.PP\n", out);
	roff(out, doc);
	fputc('\n', out);
}

static void man_section(FILE *out, const char *header, bool live, bool apart)
{
	(void)live;
	(void)apart;
	fputs(".PP\n.B \"", out);
	roff(out, header);
	fputs("\"\n", out);
}

static void man_para(FILE *out, const char *text)
{
	fputs(".PP\n", out);
	roff(out, text);
	fputc('\n', out);
}

static void man_key(FILE *out, const char *name, const char *value, bool example, const char *doc,
		    int width)
{
	(void)width;
	fputs(".TP\n\\fB", out);
	roff(out, name);
	fputs("\\fR = \\fI", out);
	roff(out, value);
	fprintf(out, "\\fR%s\n", example ? " (an example: no default)" : "");
	roff(out, doc);
	fputc('\n', out);
}

static const struct doc_fmt doc_man = {man_kind, man_section, man_para, man_key};

/* ------------------------------------------------ the walk */

static const char *path_role(unsigned flags)
{
	switch (flags & CFG_PATH) {
	case CFG_FILE_READ:
		return "a file powerd reads";
	case CFG_FILE_WRITE:
		return "a file powerd appends to";
	case CFG_DIR_WRITE:
		return "a directory powerd creates and writes into";
	case CFG_SOCKET:
		return "a socket powerd creates";
	case CFG_DIR_READ:
		return "a directory powerd reads";
	}
	return "";
}

static void add_part(char *buf, size_t len, const char *part)
{
	size_t n = strlen(buf);

	if (*part && n < len)
		snprintf(buf + n, len - n, "%s%s", n ? "; " : "", part);
}

/* "Doc (required; 1..1000000)" with name = default or example. */
static void doc_key(const struct doc_fmt *f, FILE *out, const struct cfg_key *k, int width)
{
	char facts[512] = "", what[256], doc[1024];

	if (k->flags & CFG_REQUIRED)
		add_part(facts, sizeof(facts), "required");
	k->type->describe(k, what, sizeof(what));
	add_part(facts, sizeof(facts), what);
	add_part(facts, sizeof(facts), path_role(k->flags));
	snprintf(doc, sizeof(doc), *facts ? "%s (%s)" : "%s", k->doc, facts);
	doc[0] = (char)toupper((unsigned char)doc[0]);
	f->key(out, k->name, k->def ? k->def : k->example, !k->def, doc, width);
}

static int key_width(const struct cfg_key *keys, int w)
{
	for (; keys && keys->name; keys++)
		if ((int)strlen(keys->name) > w)
			w = (int)strlen(keys->name);
	return w;
}

static void doc_keys(const struct doc_fmt *f, FILE *out, const struct cfg_key *keys, int width)
{
	for (; keys && keys->name; keys++)
		doc_key(f, out, keys, width);
}

static void doc_types(const struct doc_fmt *f, FILE *out, const struct cfg_kind *k)
{
	const struct cfg_type *const *t;
	char choices[256] = "", doc[512], header[96];
	int width = key_width(k->keys, (int)strlen(k->type_key));

	for (t = k->types; *t; t++) {
		size_t n = strlen(choices);

		snprintf(choices + n, sizeof(choices) - n, "%s%s", t == k->types ? "" : " | ",
			 (*t)->name);
		width = key_width((*t)->keys, width);
	}
	for (t = k->types; *t; t++) {
		snprintf(header, sizeof(header), "[%s.%s]", k->name, (*t)->name);
		f->section(out, header, false, true);
		snprintf(doc, sizeof(doc), "%s (required; %s)", k->type_doc, choices);
		doc[0] = (char)toupper((unsigned char)doc[0]);
		f->key(out, k->type_key, (*t)->name, false, doc, width);
		if (t == k->types) {
			snprintf(doc, sizeof(doc),
				 "-- the keys every [%s.NAME] takes, whatever its %s:", k->name,
				 k->type_key);
			f->para(out, doc);
			doc_keys(f, out, k->keys, width);
		} else {
			snprintf(doc, sizeof(doc),
				 "-- the keys every [%s.NAME] takes: as in [%s.%s] above", k->name,
				 k->name, k->types[0]->name);
			f->para(out, doc);
		}
		snprintf(doc, sizeof(doc), "-- the keys of %s = %s: %s", k->type_key, (*t)->name,
			 (*t)->doc);
		f->para(out, doc);
		doc_keys(f, out, (*t)->keys, width);
	}
}

static void doc_kind(const struct doc_fmt *f, FILE *out, const struct cfg_kind *k)
{
	char doc[1024], title[64], header[96];

	snprintf(title, sizeof(title), "[%s%s]", k->name, k->single ? "" : ".NAME");
	if (k->single)
		snprintf(doc, sizeof(doc), "%s.", k->doc);
	else
		snprintf(doc, sizeof(doc),
			 "%s.  Any number of them; NAME is 1 to %d of A-Z a-z 0-9 _ -.", k->doc,
			 CFG_NAME_MAX - 1);
	f->kind(out, title, doc);
	if (k->types) {
		snprintf(doc, sizeof(doc),
			 "Its keys depend on its %s: below is one example section per %s, the "
			 "first with the keys every %s takes.",
			 k->type_key, k->type_key, k->name);
		f->para(out, doc);
		doc_types(f, out, k);
		return;
	}
	if (k->single)
		snprintf(header, sizeof(header), "[%s]", k->name);
	else
		snprintf(header, sizeof(header), "[%s.%s]", k->name, k->example);
	f->section(out, header, k->single, false);
	doc_keys(f, out, k->keys, key_width(k->keys, 0));
}

void cfg_print_defaults(FILE *out)
{
	const struct cfg_kind *const *k;

	fprintf(out,
		"; powerd %s: every section and key, with its default (powerd --defaults)\n"
		";\n"
		"; Keys are commented out (\";key = value\"): to set one, remove its ';' and\n"
		"; that of its section's header.  A key whose line ends in \"; e.g.\" has no\n"
		"; default (it is required, or optional): its value is an example.\n"
		"; `powerd --check -c FILE` lists every error as FILE:LINE.\n"
		";\n"
		"; INI: a section per object, [KIND] or [KIND.NAME]; \"key = value\"; a\n"
		"; comment starts a line with ';' or '#', or follows a value after a blank.\n"
		"; Lines are at most 198 characters.  Durations: 250ms, 1.5s, 5min, 2h.\n"
		"; Sizes: 4096, 64KiB, 256MB, 1GB.  Booleans: yes/no, true/false, on/off, 1/0.\n",
		POWERD_VERSION);
	for (k = cfg_kinds; *k; k++)
		doc_kind(&doc_ini, out, *k);
}

void cfg_print_man(FILE *out)
{
	const struct cfg_kind *const *k;

	fprintf(out,
		".\\\" Generated by `powerd --defaults=man` from the configuration tables:\n"
		".\\\" do not edit (daemon/config_doc.c).\n"
		".TH POWERD.CONF 5 \"\" \"powerd %s\" \"File Formats\"\n"
		".nh\n"
		".SH NAME\n"
		"powerd.conf \\- configuration of powerd, the power monitoring daemon\n"
		".SH SYNOPSIS\n"
		".I /etc/powerd/powerd.conf\n"
		".SH DESCRIPTION\n"
		"An INI file: a section per object,\n"
		".B [KIND]\n"
		"or\n"
		".BR [KIND.NAME] ;\n"
		"\\(lqkey = value\\(rq lines; a comment starts a line with ';' or '#', or\n"
		"follows a value after a blank.\n"
		"Lines are at most 198 characters.\n"
		"Durations: 250ms, 1.5s, 5min, 2h.\n"
		"Sizes: 4096, 64KiB, 256MB, 1GB.\n"
		"Booleans: yes/no, true/false, on/off, 1/0.\n"
		".PP\n"
		"Every section kind and every key follows, with its default, or, for a key\n"
		"that has none (required, or optional), an example value.\n"
		".B powerd \\-\\-defaults\n"
		"prints the same as a commented configuration file;\n"
		".B powerd \\-\\-check \\-c\n"
		".I FILE\n"
		"lists every error as FILE:LINE.\n"
		".SH SECTIONS\n",
		POWERD_VERSION);
	for (k = cfg_kinds; *k; k++)
		doc_kind(&doc_man, out, *k);
	fputs(".SH FILES\n"
	      ".TP\n"
	      ".I /etc/powerd/powerd.conf\n"
	      "the configuration powerd reads by default\n"
	      ".SH SEE ALSO\n"
	      ".BR powerd (8),\n"
	      ".BR powerctl (1)\n",
	      out);
}

/* ------------------------------------------------ the lint */

struct lint {
	FILE *errs;
	int problems;
};

__attribute__((format(printf, 2, 3))) static void lint_report(struct lint *l, const char *fmt, ...)
{
	va_list ap;

	l->problems++;
	if (!l->errs)
		return;
	fprintf(l->errs, "config tables: ");
	va_start(ap, fmt);
	vfprintf(l->errs, fmt, ap);
	va_end(ap);
	fputc('\n', l->errs);
}

static bool name_chars(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

/* A value of key k, as the parser would take it. */
static void lint_value(struct lint *l, const char *where, const struct cfg_key *k, const char *what,
		       const char *v)
{
	union {
		int64_t i;
		double d;
		char s[8192];
	} field;
	char why[256];

	if (k->size > sizeof(field)) {
		lint_report(l, "%s: '%s' has a field of %zu bytes", where, k->name, k->size);
		return;
	}
	if (k->type->parse(k, v, &field, why, sizeof(why)))
		lint_report(l, "%s: the %s '%s' of '%s' does not pass: %s", where, what, v, k->name,
			    why);
}

static void lint_keys(struct lint *l, const struct cfg_kind *kind, const struct cfg_type *t)
{
	const struct cfg_key *keys = t ? t->keys : kind->keys, *k, *o;
	char where[128];

	if (t)
		snprintf(where, sizeof(where), "[%s.NAME] %s = %s", kind->name, kind->type_key,
			 t->name);
	else
		snprintf(where, sizeof(where), "[%s]", kind->name);
	if (!keys) {
		lint_report(l, "%s: no key table", where);
		return;
	}
	for (k = keys; k->name; k++) {
		if (!name_chars(k->name))
			lint_report(l, "%s: bad key name '%s'", where, k->name);
		if (!k->type || !k->type->parse || !k->type->describe) {
			lint_report(l, "%s: '%s' has no value type", where, k->name);
			continue;
		}
		if (!k->doc || !*k->doc || strchr(k->doc, '\n'))
			lint_report(l, "%s: '%s' needs a one-line doc", where, k->name);
		if (k->type->size ? k->size != k->type->size : k->size < 2)
			lint_report(l, "%s: '%s': a field of %zu bytes for a %s", where, k->name,
				    k->size, k->type->noun);
		if (k->offset + k->size > kind->size)
			lint_report(l, "%s: '%s' lies outside the section's struct", where,
				    k->name);
		if ((k->flags & CFG_PATH) & ((k->flags & CFG_PATH) - 1))
			lint_report(l, "%s: '%s' has more than one path role", where, k->name);
		if (k->type == &cfg_enum && (!k->choices || !k->choices->name))
			lint_report(l, "%s: '%s' has no choices", where, k->name);
		if ((k->flags & CFG_REQUIRED) && k->def)
			lint_report(l, "%s: '%s' is required and has a default", where, k->name);
		if (!k->def && !k->example)
			lint_report(l, "%s: '%s' needs a default or an example", where, k->name);
		if (k->def)
			lint_value(l, where, k, "default", k->def);
		if (k->example)
			lint_value(l, where, k, "example", k->example);
		if (kind->type_key && !strcmp(k->name, kind->type_key))
			lint_report(l, "%s: '%s' is the type key", where, k->name);
		if (t && cfg_key_find(kind, NULL, k->name))
			lint_report(l, "%s: '%s' is also a key of every [%s]", where, k->name,
				    kind->name);
		for (o = keys; o < k; o++) {
			if (!strcmp(o->name, k->name))
				lint_report(l, "%s: '%s' twice", where, k->name);
			/* An alias: one field, one default. */
			if (o->offset == k->offset && (o->size != k->size || (o->def && k->def)))
				lint_report(l,
					    "%s: '%s' and '%s' share a field but not its size, or "
					    "both have a default",
					    where, o->name, k->name);
		}
	}
}

int cfg_tables_check(FILE *errs)
{
	const struct cfg_kind *const *kp, *const *kq, *k;
	const struct cfg_type *const *t, *const *u;
	struct lint l = {errs, 0};

	for (kp = cfg_kinds; *kp; kp++) {
		k = *kp;
		if (!k->name || !name_chars(k->name) || !k->doc || !*k->doc) {
			lint_report(&l, "a kind needs a name of a-z 0-9 _ and a doc");
			continue;
		}
		for (kq = cfg_kinds; kq < kp; kq++)
			if (!strcmp((*kq)->name, k->name))
				lint_report(&l, "[%s] twice", k->name);
		if (k->size < sizeof(struct cfg_head) || (!k->single && !k->count_at))
			lint_report(&l, "[%s]: needs CFG_SINGLE() or CFG_NAMED()", k->name);
		if (k->single && k->names)
			lint_report(&l, "[%s]: a kind without NAMEs shares none", k->name);
		if (!k->single && !k->types && !k->example)
			lint_report(&l, "[%s]: needs an example NAME", k->name);
		lint_keys(&l, k, NULL);
		if (!k->types)
			continue;
		if (!k->type_key || !name_chars(k->type_key) || !k->type_doc || !k->types[0] ||
		    k->type_at + sizeof(int) > k->size)
			lint_report(&l,
				    "[%s]: a typed kind needs type_key, type_doc, type_at and "
				    "types",
				    k->name);
		for (t = k->types; *t; t++) {
			if (!(*t)->name || !name_chars((*t)->name) || !(*t)->doc) {
				lint_report(&l, "[%s]: a type needs a name and a doc", k->name);
				continue;
			}
			for (u = k->types; u < t; u++)
				if (!strcmp((*u)->name, (*t)->name) || (*u)->value == (*t)->value)
					lint_report(&l, "[%s]: type %s twice", k->name, (*t)->name);
			lint_keys(&l, k, *t);
		}
	}
	return l.problems;
}

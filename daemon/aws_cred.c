/* AWS credentials from the environment or the shared credentials file.
 *
 * The file is read with a small parser of its own rather than libinih:
 * session tokens are longer than inih's line limit (200 bytes in Debian's
 * build, changeable only through a process-wide global), and the AWS tools
 * read the file with Python's configparser rules (no inline comments, keys
 * case-insensitive, '=' or ':'), which this follows. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_cred.h"

static const char *aws_cred_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *aws_cred_region(const char *configured)
{
	if (configured && *configured)
		return configured;
	if (aws_cred_env("AWS_REGION"))
		return aws_cred_env("AWS_REGION");
	return aws_cred_env("AWS_DEFAULT_REGION");
}

void aws_cred_wipe(struct aws_cred *c)
{
	explicit_bzero(c, sizeof(*c));
}

static int aws_cred_copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -E2BIG;
	memcpy(dst, src, len + 1);
	return 0;
}

static char *aws_cred_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	return s;
}

/* One "key = value" line of the wanted section. */
static int aws_cred_key(struct aws_cred *c, char *line, bool *have_id, bool *have_secret)
{
	char *sep = line + strcspn(line, "=:");
	char *key, *val;
	int rc = 0;

	if (!*sep)
		return 0; /* not a key line: configparser would refuse it, we ignore it */
	*sep = '\0';
	key = aws_cred_trim(line);
	val = aws_cred_trim(sep + 1);
	if (!strcasecmp(key, "aws_access_key_id")) {
		rc = aws_cred_copy(c->access_key_id, sizeof(c->access_key_id), val);
		*have_id = rc == 0 && *val;
	} else if (!strcasecmp(key, "aws_secret_access_key")) {
		rc = aws_cred_copy(c->secret_access_key, sizeof(c->secret_access_key), val);
		*have_secret = rc == 0 && *val;
	} else if (!strcasecmp(key, "aws_session_token") ||
		   !strcasecmp(key, "aws_security_token")) { /* the older name */
		rc = aws_cred_copy(c->session_token, sizeof(c->session_token), val);
	}
	return rc;
}

static int aws_cred_file(struct aws_cred *c, char *err, size_t errlen)
{
	bool in_section = false, found = false, have_id = false, have_secret = false;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	FILE *f;

	f = fopen(c->file, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		return rc;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *p = aws_cred_trim(line);

		if (*p == '#' || *p == ';' || !*p)
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');

			if (end)
				*end = '\0';
			in_section = !strcmp(aws_cred_trim(p + 1), c->profile);
			found |= in_section;
			continue;
		}
		if (in_section && aws_cred_key(c, p, &have_id, &have_secret) < 0) {
			snprintf(err, errlen, "%s [%s]: a value is too long", c->file, c->profile);
			rc = -EINVAL;
			break;
		}
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", c->file);
	}
	explicit_bzero(line, cap);
	free(line);
	fclose(f);
	if (rc)
		return rc;
	if (!found) {
		snprintf(err, errlen, "%s has no profile [%s]", c->file, c->profile);
		return -EINVAL;
	}
	if (!have_id || !have_secret) {
		snprintf(err, errlen, "%s [%s] lacks %s", c->file, c->profile,
			 !have_id ? "aws_access_key_id" : "aws_secret_access_key");
		return -EINVAL;
	}
	return 0;
}

int aws_cred_load(struct aws_cred *c, const char *file, const char *profile, char *err,
		  size_t errlen)
{
	const char *id = aws_cred_env("AWS_ACCESS_KEY_ID");
	const char *secret = aws_cred_env("AWS_SECRET_ACCESS_KEY");
	const char *token = aws_cred_env("AWS_SESSION_TOKEN");
	const char *home = aws_cred_env("HOME");
	char why[sizeof(c->file) + sizeof(c->profile) + 128];
	int rc;

	aws_cred_wipe(c);
	if (id && secret) {
		c->from_env = 1;
		if (aws_cred_copy(c->access_key_id, sizeof(c->access_key_id), id) ||
		    aws_cred_copy(c->secret_access_key, sizeof(c->secret_access_key), secret) ||
		    aws_cred_copy(c->session_token, sizeof(c->session_token), token ? token : "")) {
			aws_cred_wipe(c);
			snprintf(err, errlen, "an AWS_* credential variable is too long");
			return -EINVAL;
		}
		return 0;
	}

	if (!file || !*file)
		file = aws_cred_env("AWS_SHARED_CREDENTIALS_FILE");
	if ((!file || !*file) && home) {
		snprintf(c->file, sizeof(c->file), "%s/.aws/credentials", home);
	} else if (!file || !*file) {
		snprintf(err, errlen,
			 "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set, "
			 "and no credentials file (HOME is not set)");
		return -ENOENT;
	} else if (aws_cred_copy(c->file, sizeof(c->file), file)) {
		snprintf(err, errlen, "credentials file name too long");
		return -ENAMETOOLONG;
	}
	if (!profile || !*profile)
		profile = aws_cred_env("AWS_PROFILE");
	snprintf(c->profile, sizeof(c->profile), "%s", profile ? profile : "default");

	rc = aws_cred_file(c, why, sizeof(why));
	if (rc) {
		/* keep file and profile for the caller's messages, nothing secret */
		explicit_bzero(c->access_key_id, sizeof(c->access_key_id));
		explicit_bzero(c->secret_access_key, sizeof(c->secret_access_key));
		explicit_bzero(c->session_token, sizeof(c->session_token));
		snprintf(err, errlen, "no AWS credentials: %s, and %s",
			 id	  ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
			 : secret ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
				  : "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY not set",
			 why);
		return rc;
	}
	return 0;
}

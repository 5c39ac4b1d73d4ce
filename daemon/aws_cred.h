/* AWS credentials and region, resolved the way the AWS CLI and SDKs do for
 * the sources powerd supports:
 *
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) from
 *      the environment, when both keys are set;
 *   2. else the shared credentials file: `file` if given, else
 *      $AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials; the section
 *      `profile` if given, else $AWS_PROFILE, else "default"; keys
 *      aws_access_key_id, aws_secret_access_key, aws_session_token.
 *
 * Region: the configured one, else $AWS_REGION, else $AWS_DEFAULT_REGION.
 *
 * Secrets never appear in error messages; aws_cred_wipe() clears them. */
#ifndef POWERD_AWS_CRED_H
#define POWERD_AWS_CRED_H

#include <limits.h>
#include <stddef.h>

struct aws_cred {
	char access_key_id[128];
	char secret_access_key[256];
	char session_token[4096]; /* "" = none; STS tokens run to ~1-2 KB */
	char file[PATH_MAX];	  /* "" when from the environment */
	char profile[128];
	int from_env;
};

/* Resolve credentials.  Returns 0, or a negative errno with `err` saying
 * what is missing and where it looked (-ENOENT: nothing found, -EINVAL: a
 * file or profile without both keys, other: the file could not be read). */
int aws_cred_load(struct aws_cred *c, const char *file, const char *profile, char *err,
		  size_t errlen);

/* The region, or NULL when none is configured anywhere. */
const char *aws_cred_region(const char *configured);

void aws_cred_wipe(struct aws_cred *c);

#endif

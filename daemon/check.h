/* What `powerd --check` verifies beyond the file's syntax: that the files
 * and directories the configuration names are usable, as far as can be seen
 * without starting anything (nothing is opened that could block, such as a
 * FIFO, and nothing is created). */
#ifndef POWERD_CHECK_H
#define POWERD_CHECK_H

#include <stdio.h>
#include <sys/types.h>

#include "config.h"

/* Prints each problem as "FILE:LINE: message" (the line of the section that
 * names the path) to errs; returns how many there were. */
int check_environment(const struct config *cfg, FILE *errs);

/* What a file that is not a regular one is, for messages ("a FIFO", "a
 * directory", ...); also used by the daemon when it refuses one. */
const char *check_kind(mode_t m);

#endif

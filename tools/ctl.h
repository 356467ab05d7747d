/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl's shared parts: exit statuses and how errors reach the user. */
#pragma once

#include <stdbool.h>

#define EXIT_REFUSED 1 /* the daemon refused, or could not be reached */
#define EXIT_USAGE   2 /* found before the daemon is asked */

/* --json: errors are one JSON object on stderr, not text. */
extern bool ctl_json_errors;

/*
 * Report an error and return STATUS. CODE is the socket API's error code
 * (NULL for a usage error), HINT what to do about it (or NULL). Text:
 * "signetctl: CODE: MESSAGE" and "(HINT)" on a line of its own; with
 * --json: {"code", "message", "hint"} on one line ("usage" for CODE NULL).
 */
int ctl_fail(int status, const char *code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* SPDX-License-Identifier: Apache-2.0 */
/* Typed, bounded access to the "args" object of a request. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Each getter returns 0, SIGNET_EINVAL with a message in WHY (a static
 * string naming the problem, never echoing the value), or, for a missing
 * optional key, 0 with the output left untouched.
 */
struct jargs {
	const json_t *obj; /* may be NULL: no arguments */
	char why[160];
};

void jargs_init(struct jargs *a, const json_t *obj);
/* Refuse keys not in ALLOWED (NULL-terminated). */
int jargs_only(struct jargs *a, const char *const *allowed);
int jargs_str(struct jargs *a, const char *key, bool required, size_t maxlen, const char **out);
/* A string that must pass name_is_valid(). */
int jargs_name(struct jargs *a, const char *key, bool required, const char **out);
int jargs_int(struct jargs *a, const char *key, bool required, int64_t min, int64_t max,
	      int64_t *out);
int jargs_bool(struct jargs *a, const char *key, bool required, bool *out);
/* An array of at most MAXN strings each valid for name_is_valid(); OUT borrows the array. */
int jargs_name_array(struct jargs *a, const char *key, bool required, size_t maxn,
		     const json_t **out);

/* SPDX-License-Identifier: Apache-2.0 */
/* Typed, bounded access to the "args" object of a request. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/error.h"
#include "lib/jargs.h"
#include "lib/util.h"

void
jargs_init(struct jargs *a, const json_t *obj)
{
	a->obj = obj;
	a->why[0] = '\0';
}

static int
jargs_fail(struct jargs *a, const char *key, const char *what)
{
	/* Keys are checked against our own tables before they get here, but bound them anyway. */
	snprintf(a->why, sizeof(a->why), "argument '%.40s' %s", key, what);
	return SIGNET_EINVAL;
}

static const json_t *
jargs_get(struct jargs *a, const char *key)
{
	if (a->obj == NULL || !json_is_object(a->obj)) {
		return NULL;
	}
	return json_object_get(a->obj, key);
}

int
jargs_only(struct jargs *a, const char *const *allowed)
{
	const char *k;
	json_t *v;

	if (a->obj == NULL) {
		return 0;
	}
	if (!json_is_object(a->obj)) {
		snprintf(a->why, sizeof(a->why), "'args' must be an object");
		return SIGNET_EINVAL;
	}
	json_object_foreach((json_t *)a->obj, k, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] != NULL; i++) {
			if (strcmp(allowed[i], k) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			snprintf(a->why, sizeof(a->why), "unknown argument");
			return SIGNET_EINVAL;
		}
	}
	return 0;
}

int
jargs_str(struct jargs *a, const char *key, bool required, size_t maxlen, const char **out)
{
	const json_t *v = jargs_get(a, key);

	if (v == NULL) {
		return required ? jargs_fail(a, key, "is required") : 0;
	}
	if (!json_is_string(v)) {
		return jargs_fail(a, key, "must be a string");
	}
	if (json_string_length(v) > maxlen) {
		return jargs_fail(a, key, "is too long");
	}
	*out = json_string_value(v);
	return 0;
}

int
jargs_name(struct jargs *a, const char *key, bool required, const char **out)
{
	const char *s = NULL;
	int r = jargs_str(a, key, required, 64, &s);

	if (r != 0 || s == NULL) {
		return r;
	}
	if (!name_is_valid(s)) {
		return jargs_fail(
		    a, key,
		    "must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with . or -");
	}
	*out = s;
	return 0;
}

int
jargs_int(struct jargs *a, const char *key, bool required, int64_t min, int64_t max, int64_t *out)
{
	const json_t *v = jargs_get(a, key);
	json_int_t i;

	if (v == NULL) {
		return required ? jargs_fail(a, key, "is required") : 0;
	}
	if (!json_is_integer(v)) {
		return jargs_fail(a, key, "must be an integer");
	}
	i = json_integer_value(v);
	if (i < min || i > max) {
		return jargs_fail(a, key, "is out of range");
	}
	*out = i;
	return 0;
}

int
jargs_bool(struct jargs *a, const char *key, bool required, bool *out)
{
	const json_t *v = jargs_get(a, key);

	if (v == NULL) {
		return required ? jargs_fail(a, key, "is required") : 0;
	}
	if (!json_is_boolean(v)) {
		return jargs_fail(a, key, "must be true or false");
	}
	*out = json_is_true(v);
	return 0;
}

int
jargs_name_array(struct jargs *a, const char *key, bool required, size_t maxn, const json_t **out)
{
	const json_t *v = jargs_get(a, key);
	size_t i;
	json_t *e;

	if (v == NULL) {
		return required ? jargs_fail(a, key, "is required") : 0;
	}
	if (!json_is_array(v)) {
		return jargs_fail(a, key, "must be an array");
	}
	if (json_array_size(v) > maxn) {
		return jargs_fail(a, key, "has too many elements");
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !name_is_valid(json_string_value(e))) {
			return jargs_fail(a, key, "must hold valid names");
		}
	}
	*out = v;
	return 0;
}

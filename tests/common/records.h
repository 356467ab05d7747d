/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the typed records (daemon/devconf.c, daemon/user.c): a
 * stored record's text parsed, and the check that a decoded record encodes
 * back to itself. Include after <cmocka.h>.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

/* TEXT parsed (the test fails when it is not JSON). */
static inline json_t *
record_load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

	assert_non_null(j);
	return j;
}

/* Record I as stored (REC) and as encoded again (AGAIN) hold the same members and values. */
static inline void
record_assert_same(size_t i, const json_t *rec, const json_t *again)
{
	assert_non_null(again);
	if (!json_equal(rec, again)) {
		char *a = json_dumps(rec, JSON_SORT_KEYS), *b = json_dumps(again, JSON_SORT_KEYS);
		print_error("record %zu:\n%s\nencoded as\n%s\n", i, a, b);
		free(a);
		free(b);
		fail();
	}
}

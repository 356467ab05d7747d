/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/authfail.c: one audit entry per source and window, with a count. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/authfail.h"

static void
test_window(void **state)
{
	struct authfail *a = authfail_new(60);
	struct authfail_sum s, out[4];

	(void)state;
	assert_non_null(a);
	/* The first failure of a pair is recorded; the rest of its window only counted. */
	assert_true(authfail_note(a, "acme", 1000, 100, &s));
	assert_int_equal(s.count, 0);
	for (int i = 1; i <= 5; i++) {
		assert_false(authfail_note(a, "acme", 1000, 100 + i, &s));
		assert_int_equal(s.count, 0);
	}
	/* Another source, another tenant: windows of their own. */
	assert_true(authfail_note(a, "acme", 1001, 101, &s));
	assert_true(authfail_note(a, "globex", 1000, 101, &s));
	/* Nothing is due before the window ends. */
	assert_int_equal(authfail_due(a, 159, false, out, 4), 0);
	/* After it: the count, with the first and last counted failure. */
	assert_int_equal(authfail_due(a, 160, false, out, 4), 1);
	assert_string_equal(out[0].tenant, "acme");
	assert_int_equal(out[0].uid, 1000);
	assert_int_equal(out[0].count, 5);
	assert_int_equal(out[0].from, 101);
	assert_int_equal(out[0].to, 105);
	/* The pair is forgotten: its next failure is recorded again. */
	assert_true(authfail_note(a, "acme", 1000, 170, &s));
	authfail_free(a);
}

static void
test_next_failure_flushes(void **state)
{
	struct authfail *a = authfail_new(10);
	struct authfail_sum s, out[4];

	(void)state;
	assert_true(authfail_note(a, "acme", 7, 0, &s));
	assert_false(authfail_note(a, "acme", 7, 3, &s));
	assert_false(authfail_note(a, "acme", 7, 4, &s));
	/* The window ended: this failure opens the next one and hands over the count. */
	assert_true(authfail_note(a, "acme", 7, 12, &s));
	assert_int_equal(s.count, 2);
	assert_int_equal(s.from, 3);
	assert_int_equal(s.to, 4);
	/* At shutdown every window goes, counted or not (only counted ones are returned). */
	assert_false(authfail_note(a, "acme", 7, 13, &s));
	assert_int_equal(authfail_due(a, 13, true, out, 4), 1);
	assert_int_equal(out[0].count, 1);
	assert_int_equal(authfail_due(a, 13, true, out, 4), 0);
	authfail_free(a);
}

static void
test_many_sources_share_a_window(void **state)
{
	struct authfail *a = authfail_new(60);
	struct authfail_sum s, out[8];
	int recorded = 0;

	(void)state;
	for (long uid = 0; uid < AUTHFAIL_MAX_SOURCES; uid++) {
		assert_true(authfail_note(a, "acme", uid, 0, &s));
	}
	/* Past the table: one shared window per tenant, so the chain still grows by two. */
	for (long uid = AUTHFAIL_MAX_SOURCES; uid < AUTHFAIL_MAX_SOURCES + 100; uid++) {
		recorded += authfail_note(a, "acme", uid, 1, &s);
	}
	assert_int_equal(recorded, 1);
	assert_int_equal(authfail_due(a, 2, true, out, 8), 1);
	assert_int_equal(out[0].uid, AUTHFAIL_OVERFLOW_UID);
	assert_int_equal(out[0].count, 99);
	authfail_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_next_failure_flushes),
	    cmocka_unit_test(test_many_sources_share_a_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

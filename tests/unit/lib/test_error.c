/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/error.c: the wire codes are a fixed list and map 1:1 to the error enum. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/error.h"

/* The socket API's error codes, exactly: clients match on these strings. */
static const struct {
	int err;
	const char *code;
} wire[] = {
    {SIGNET_EINVAL, "invalid"},
    {SIGNET_EUNAUTH, "unauthenticated"},
    {SIGNET_EDENIED, "denied"},
    {SIGNET_ENOTFOUND, "not_found"},
    {SIGNET_ECONFLICT, "conflict"},
    {SIGNET_EOTP_INVALID, "otp_invalid"},
    {SIGNET_EOTP_REPLAYED, "otp_replayed"},
    {SIGNET_ELOCKED_OUT, "locked_out"},
    {SIGNET_ESELF_APPROVAL, "self_approval"},
    {SIGNET_EEXPIRED, "expired"},
    {SIGNET_ETOO_LARGE, "too_large"},
    {SIGNET_ETOKEN, "token_error"},
    {SIGNET_EUNAVAILABLE, "unavailable"},
    {SIGNET_EINTERNAL, "internal"},
    {SIGNET_ENOSPACE, "no_space"},
    {SIGNET_EQUOTA, "quota_exceeded"},
};

#define NWIRE (sizeof(wire) / sizeof(wire[0]))

static void
test_wire_codes_exact(void **state)
{
	for (size_t i = 0; i < NWIRE; i++) {
		assert_string_equal(signet_err_code(wire[i].err), wire[i].code);
		assert_int_equal(signet_err_from_code(wire[i].code), wire[i].err);
	}
}

static void
test_every_error_round_trips(void **state)
{
	/* Every value from SIGNET_ERR_MIN to -1 is an error with its own code. */
	assert_int_equal(-SIGNET_ERR_MIN, (int)NWIRE);
	for (int e = SIGNET_ERR_MIN; e < 0; e++) {
		const char *code = signet_err_code(e);

		assert_non_null(code);
		assert_int_equal(signet_err_from_code(code), e);
		for (int f = SIGNET_ERR_MIN; f < 0; f++) {
			if (f != e) {
				assert_string_not_equal(code, signet_err_code(f));
			}
		}
	}
}

static void
test_codes_are_wire_safe(void **state)
{
	for (int e = SIGNET_ERR_MIN; e < 0; e++) {
		const char *code = signet_err_code(e);

		assert_true(strlen(code) > 0);
		assert_int_equal(strspn(code, "abcdefghijklmnopqrstuvwxyz_"), strlen(code));
	}
}

static void
test_unknown_values_are_internal(void **state)
{
	static const int unknown[] = {SIGNET_ERR_MIN - 1, -100, 1, 2, 100, INT_MIN, INT_MAX};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(signet_err_code(unknown[i]), "internal");
		assert_string_equal(signet_strerror(unknown[i]), signet_strerror(SIGNET_EINTERNAL));
	}
}

static void
test_unknown_codes_are_internal(void **state)
{
	static const char *const unknown[] = {
	    "",         "Invalid", "INVALID",   "invalid ", " invalid", "inval",
	    "invalidx", "error",   "not-found", "token",    "ok",
	};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		if (signet_err_from_code(unknown[i]) != SIGNET_EINTERNAL) {
			fail_msg("\"%s\" is not a wire error code", unknown[i]);
		}
	}
	assert_int_equal(signet_err_from_code(NULL), SIGNET_EINTERNAL);
}

static void
test_ok_and_messages(void **state)
{
	assert_string_equal(signet_err_code(SIGNET_OK), "ok");
	assert_string_equal(signet_strerror(SIGNET_OK), "success");
	/* Each error has its own non-empty message for people. */
	for (int e = SIGNET_ERR_MIN; e < 0; e++) {
		const char *m = signet_strerror(e);

		assert_non_null(m);
		assert_true(strlen(m) > 0);
		assert_string_not_equal(m, signet_strerror(SIGNET_OK));
		for (int f = SIGNET_ERR_MIN; f < e; f++) {
			assert_string_not_equal(m, signet_strerror(f));
		}
	}
}

static void
test_errno_of_a_failed_write(void **state)
{
	/* Out of space or out of quota is the operator's to fix: never "internal". */
	assert_int_equal(signet_err_from_errno(ENOSPC), SIGNET_ENOSPACE);
	assert_int_equal(signet_err_from_errno(EDQUOT), SIGNET_ENOSPACE);
	assert_string_equal(signet_err_code(signet_err_from_errno(ENOSPC)), "no_space");
	assert_int_equal(signet_err_from_errno(EIO), SIGNET_EINTERNAL);
	assert_int_equal(signet_err_from_errno(EBADF), SIGNET_EINTERNAL);
	assert_int_equal(signet_err_from_errno(0), SIGNET_EINTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wire_codes_exact),
	    cmocka_unit_test(test_every_error_round_trips),
	    cmocka_unit_test(test_codes_are_wire_safe),
	    cmocka_unit_test(test_unknown_values_are_internal),
	    cmocka_unit_test(test_unknown_codes_are_internal),
	    cmocka_unit_test(test_ok_and_messages),
	    cmocka_unit_test(test_errno_of_a_failed_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

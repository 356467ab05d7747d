/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/jargs.c and name_is_valid(): typed request arguments and their refusals. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/error.h"
#include "lib/jargs.h"
#include "lib/util.h"

static int
teardown_json(void **state)
{
	json_decref(*state);
	return 0;
}

static json_t *
load(void **state, const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL) {
		fail_msg("bad fixture %s: %s", text, e.text);
	}
	json_decref(*state);
	*state = j;
	return j;
}

static void
test_name_is_valid(void **state)
{
	static const char *const good[] = {
	    "a",       "A",
	    "0",       "_",
	    "alice",   "key-1",
	    "k.e.y",   "a..b",
	    "x-",      "x.",
	    "_hidden", "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	};
	static const char *const bad[] = {
	    "",
	    ".",
	    "..",
	    "../x",
	    "./x",
	    "a/b",
	    "/a",
	    "a\\b",
	    ".hidden",
	    "-rf",
	    "a b",
	    " a",
	    "a\n",
	    "a\t",
	    "caf\xc3\xa9",
	    "a:b",
	    "a@b",
	    "a*",
	    "a%2f",
	    "a;b",
	    "a$b",
	    "01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!name_is_valid(good[i])) {
			fail_msg("refused \"%s\"", good[i]);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (name_is_valid(bad[i])) {
			fail_msg("accepted \"%s\"", bad[i]);
		}
	}
	assert_false(name_is_valid(NULL));
}

static void
test_only(void **state)
{
	static const char *const allowed[] = {"key", "n", NULL};
	static const char *const none[] = {NULL};
	struct jargs a;

	jargs_init(&a, load(state, "{\"key\":\"k\",\"n\":1}"));
	assert_int_equal(jargs_only(&a, allowed), 0);
	jargs_init(&a, load(state, "{}"));
	assert_int_equal(jargs_only(&a, allowed), 0);
	assert_int_equal(jargs_only(&a, none), 0);

	jargs_init(&a, load(state, "{\"key\":\"k\",\"extra\":1}"));
	assert_int_equal(jargs_only(&a, allowed), SIGNET_EINVAL);
	assert_true(strlen(a.why) > 0);
	/* The message does not echo the client's key. */
	assert_null(strstr(a.why, "extra"));

	/* Matching is exact: no prefixes, no case folding. */
	jargs_init(&a, load(state, "{\"ke\":1}"));
	assert_int_equal(jargs_only(&a, allowed), SIGNET_EINVAL);
	jargs_init(&a, load(state, "{\"KEY\":1}"));
	assert_int_equal(jargs_only(&a, allowed), SIGNET_EINVAL);
	jargs_init(&a, load(state, "{\"n\":1}"));
	assert_int_equal(jargs_only(&a, none), SIGNET_EINVAL);

	/* No arguments at all is fine; arguments that are not an object are not. */
	jargs_init(&a, NULL);
	assert_int_equal(jargs_only(&a, allowed), 0);
	jargs_init(&a, load(state, "[\"key\"]"));
	assert_int_equal(jargs_only(&a, allowed), SIGNET_EINVAL);
	assert_true(strlen(a.why) > 0);
}

static void
test_str(void **state)
{
	struct jargs a;
	const char *s = NULL;

	jargs_init(&a, load(state, "{\"s\":\"hello\",\"n\":5,\"e\":\"\",\"z\":null}"));
	assert_int_equal(jargs_str(&a, "s", true, 5, &s), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(jargs_str(&a, "e", true, 5, &s), 0);
	assert_string_equal(s, "");

	s = "untouched";
	assert_int_equal(jargs_str(&a, "s", true, 4, &s), SIGNET_EINVAL);
	assert_string_equal(s, "untouched");
	assert_non_null(strstr(a.why, "'s'"));
	/* The message names the problem, never the value. */
	assert_null(strstr(a.why, "hello"));

	assert_int_equal(jargs_str(&a, "n", true, 5, &s), SIGNET_EINVAL);
	assert_int_equal(jargs_str(&a, "z", false, 5, &s), SIGNET_EINVAL);
	assert_string_equal(s, "untouched");

	/* Missing: an error when required, untouched when optional. */
	assert_int_equal(jargs_str(&a, "missing", true, 5, &s), SIGNET_EINVAL);
	assert_non_null(strstr(a.why, "missing"));
	assert_int_equal(jargs_str(&a, "missing", false, 5, &s), 0);
	assert_string_equal(s, "untouched");

	jargs_init(&a, NULL);
	assert_int_equal(jargs_str(&a, "s", false, 5, &s), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(jargs_str(&a, "s", true, 5, &s), SIGNET_EINVAL);
}

static void
test_str_length_is_bytes(void **state)
{
	struct jargs a;
	const char *s = NULL;

	/* "é" is two bytes: the bound is on bytes, what buffers are sized by. */
	jargs_init(&a, load(state, "{\"s\":\"\\u00e9\\u00e9\"}"));
	assert_int_equal(jargs_str(&a, "s", true, 3, &s), SIGNET_EINVAL);
	assert_int_equal(jargs_str(&a, "s", true, 4, &s), 0);
	assert_int_equal(strlen(s), 4);
}

static void
test_name(void **state)
{
	static const char *const bad[] = {"dots", "slash", "empty", "dash", "dot", "num", "long"};
	struct jargs a;
	const char *s = "untouched";

	jargs_init(&a, load(state, "{\"ok\":\"key-1.pem\",\"dots\":\"../x\",\"slash\":\"a/b\","
				   "\"empty\":\"\",\"dash\":\"-x\",\"dot\":\".x\",\"num\":7,"
				   "\"long\":\"012345678901234567890123456789012345678901234567"
				   "89012345678901234\",\"max\":\"012345678901234567890123456789"
				   "0123456789012345678901234567890123\"}"));
	assert_int_equal(jargs_name(&a, "ok", true, &s), 0);
	assert_string_equal(s, "key-1.pem");
	assert_int_equal(jargs_name(&a, "max", true, &s), 0);
	assert_int_equal(strlen(s), 64);

	s = "untouched";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a.why[0] = '\0';
		if (jargs_name(&a, bad[i], true, &s) != SIGNET_EINVAL) {
			fail_msg("argument %s accepted as a name", bad[i]);
		}
		assert_true(strlen(a.why) > 0);
		assert_string_equal(s, "untouched");
	}
	/* The refusal does not echo the value. */
	assert_int_equal(jargs_name(&a, "dots", true, &s), SIGNET_EINVAL);
	assert_null(strstr(a.why, "../x"));

	assert_int_equal(jargs_name(&a, "missing", false, &s), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(jargs_name(&a, "missing", true, &s), SIGNET_EINVAL);
}

static void
test_int(void **state)
{
	struct jargs a;
	int64_t v = -7;

	jargs_init(&a, load(state, "{\"n\":10,\"neg\":-5,\"big\":9223372036854775807,"
				   "\"small\":-9223372036854775808,\"real\":1.0,\"str\":\"10\","
				   "\"t\":true,\"z\":null}"));
	assert_int_equal(jargs_int(&a, "n", true, 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(jargs_int(&a, "n", true, 10, 10, &v), 0);
	assert_int_equal(jargs_int(&a, "neg", true, -5, 0, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(jargs_int(&a, "big", true, INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(jargs_int(&a, "small", true, INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);

	/* Range ends are inclusive, one past them is refused. */
	v = -7;
	assert_int_equal(jargs_int(&a, "n", true, 0, 9, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "n", true, 11, 20, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "neg", true, -4, 0, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "big", true, 0, INT64_MAX - 1, &v), SIGNET_EINVAL);
	assert_non_null(strstr(a.why, "range"));
	assert_int_equal(v, -7);

	/* Only JSON integers: not reals, strings, booleans or null. */
	assert_int_equal(jargs_int(&a, "real", true, 0, 10, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "str", true, 0, 10, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "t", true, 0, 10, &v), SIGNET_EINVAL);
	assert_int_equal(jargs_int(&a, "z", false, 0, 10, &v), SIGNET_EINVAL);
	assert_int_equal(v, -7);

	assert_int_equal(jargs_int(&a, "missing", false, 0, 10, &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(jargs_int(&a, "missing", true, 0, 10, &v), SIGNET_EINVAL);
}

static void
test_bool(void **state)
{
	struct jargs a;
	bool b = false;

	jargs_init(&a, load(state, "{\"t\":true,\"f\":false,\"one\":1,\"s\":\"true\",\"z\":null}"));
	assert_int_equal(jargs_bool(&a, "t", true, &b), 0);
	assert_true(b);
	assert_int_equal(jargs_bool(&a, "f", true, &b), 0);
	assert_false(b);

	b = true;
	assert_int_equal(jargs_bool(&a, "one", true, &b), SIGNET_EINVAL);
	assert_int_equal(jargs_bool(&a, "s", true, &b), SIGNET_EINVAL);
	assert_int_equal(jargs_bool(&a, "z", false, &b), SIGNET_EINVAL);
	assert_true(b);
	assert_int_equal(jargs_bool(&a, "missing", false, &b), 0);
	assert_true(b);
	assert_int_equal(jargs_bool(&a, "missing", true, &b), SIGNET_EINVAL);
}

static void
test_name_array(void **state)
{
	static const char *const bad[] = {"bad", "num", "nul", "nested", "str", "blank"};
	struct jargs a;
	const json_t *arr = NULL;
	const json_t *sentinel = (const json_t *)&a;

	jargs_init(&a, load(state, "{\"ok\":[\"a\",\"b-1\",\"c.d\"],\"empty\":[],"
				   "\"bad\":[\"a\",\"../x\"],\"num\":[\"a\",1],\"nul\":[null],"
				   "\"nested\":[[\"a\"]],\"str\":\"a\",\"blank\":[\"\"]}"));
	assert_int_equal(jargs_name_array(&a, "ok", true, 3, &arr), 0);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 3);
	assert_string_equal(json_string_value(json_array_get(arr, 1)), "b-1");
	assert_int_equal(jargs_name_array(&a, "empty", true, 0, &arr), 0);
	assert_int_equal(json_array_size(arr), 0);

	/* More than MAXN elements. */
	arr = sentinel;
	assert_int_equal(jargs_name_array(&a, "ok", true, 2, &arr), SIGNET_EINVAL);
	assert_ptr_equal(arr, sentinel);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a.why[0] = '\0';
		if (jargs_name_array(&a, bad[i], true, 10, &arr) != SIGNET_EINVAL) {
			fail_msg("argument %s accepted as a name array", bad[i]);
		}
		assert_true(strlen(a.why) > 0);
		assert_ptr_equal(arr, sentinel);
	}

	assert_int_equal(jargs_name_array(&a, "missing", false, 10, &arr), 0);
	assert_ptr_equal(arr, sentinel);
	assert_int_equal(jargs_name_array(&a, "missing", true, 10, &arr), SIGNET_EINVAL);
}

static void
test_why_bounded(void **state)
{
	struct jargs a;
	const char *s = NULL;
	char key[300];

	/* A long key name is cut in the message, which stays within its buffer. */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	jargs_init(&a, load(state, "{}"));
	assert_int_equal(jargs_str(&a, key, true, 5, &s), SIGNET_EINVAL);
	assert_true(strlen(a.why) < sizeof(a.why));
	assert_true(strlen(a.why) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_is_valid),
	    cmocka_unit_test_teardown(test_only, teardown_json),
	    cmocka_unit_test_teardown(test_str, teardown_json),
	    cmocka_unit_test_teardown(test_str_length_is_bytes, teardown_json),
	    cmocka_unit_test_teardown(test_name, teardown_json),
	    cmocka_unit_test_teardown(test_int, teardown_json),
	    cmocka_unit_test_teardown(test_bool, teardown_json),
	    cmocka_unit_test_teardown(test_name_array, teardown_json),
	    cmocka_unit_test_teardown(test_why_bounded, teardown_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/store.c: the LMDB wrapper, its sticky errors and map growth. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/store.h"
#include "lib/error.h"

static char dir[64];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/signet-store.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

struct fill {
	int n;
	size_t size;
};

static int
fill_txn(struct store_txn *t, void *arg)
{
	struct fill *f = arg;
	char key[32], *blob = malloc(f->size + 1);

	memset(blob, 'x', f->size);
	blob[f->size] = '\0';
	for (int i = 0; i < f->n; i++) {
		json_t *v = json_pack("{s:i, s:s}", "i", i, "blob", blob);
		snprintf(key, sizeof(key), "k%06d", i);
		store_put_json(t, STORE_DB_META, key, strlen(key), v, false);
		json_decref(v);
	}
	free(blob);
	return 0;
}

static int
count_cb(const MDB_val *key, json_t *val, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
count_txn(struct store_txn *t, void *arg)
{
	return store_foreach(t, STORE_DB_META, "k", 1, count_cb, arg);
}

/* A transaction larger than the whole map: the wrapper grows the map and runs it again. */
static void
test_map_full_grows(void **state)
{
	struct store *st;
	struct fill f = {2000, 1000};
	int n = 0;

	assert_int_equal(store_open(dir, 256 * 1024, &st), 0);
	assert_int_equal(store_write(st, fill_txn, &f), 0);
	assert_int_equal(store_read(st, count_txn, &n), 0);
	assert_int_equal(n, 2000);
	store_close(st);
	/* Durable: a fresh open sees every record. */
	n = 0;
	assert_int_equal(store_open(dir, 256 * 1024, &st), 0);
	assert_int_equal(store_read(st, count_txn, &n), 0);
	assert_int_equal(n, 2000);
	store_close(st);
}

static int
put_twice_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_pack("{s:i}", "a", 1);

	store_put_json(t, STORE_DB_TENANTS, "acme", 4, v, true);
	store_put_json(t, STORE_DB_TENANTS, "acme", 4, v, true);
	/* After the first failure nothing else happens: this put must not land. */
	store_put_json(t, STORE_DB_TENANTS, "other", 5, v, true);
	json_decref(v);
	return 0;
}

static int
exists_txn(struct store_txn *t, void *arg)
{
	bool *e = arg;

	e[0] = store_exists(t, STORE_DB_TENANTS, "acme", 4);
	e[1] = store_exists(t, STORE_DB_TENANTS, "other", 5);
	return 0;
}

/* The first error sticks, the commit is refused and nothing of the transaction lands. */
static void
test_sticky_error_aborts(void **state)
{
	struct store *st;
	bool e[2] = {true, true};

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, put_twice_txn, NULL), SIGNET_ECONFLICT);
	assert_int_equal(store_read(st, exists_txn, e), 0);
	assert_false(e[0]);
	assert_false(e[1]);
	store_close(st);
}

static int
failing_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_pack("{s:i}", "a", 1);

	store_put_json(t, STORE_DB_TENANTS, "acme", 4, v, false);
	json_decref(v);
	return SIGNET_EDENIED;
}

/* A callback that refuses aborts the whole transaction. */
static void
test_callback_error_aborts(void **state)
{
	struct store *st;
	bool e[2] = {true, true};

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, failing_txn, NULL), SIGNET_EDENIED);
	assert_int_equal(store_read(st, exists_txn, e), 0);
	assert_false(e[0]);
	store_close(st);
}

static int
get_missing_txn(struct store_txn *t, void *arg)
{
	json_t *v = NULL;

	assert_int_equal(store_get_json(t, STORE_DB_USERS, "nobody", 6, &v), SIGNET_ENOTFOUND);
	assert_null(v);
	return 0;
}

static void
test_get_missing(void **state)
{
	struct store *st;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, get_missing_txn, NULL), 0);
	store_close(st);
}

struct prefix_ctx {
	int n;
};

static int
users_txn(struct store_txn *t, void *arg)
{
	const char *names[][2] = {{"ab", "u1"}, {"abc", "u2"}, {"ab", "u3"}, {"a", "u4"}};
	json_t *v = json_object();

	for (size_t i = 0; i < 4; i++) {
		char key[64];
		size_t klen = store_key2(key, sizeof(key), names[i][0], names[i][1]);
		store_put_json(t, STORE_DB_USERS, key, klen, v, false);
	}
	json_decref(v);
	return 0;
}

static int
count_users_ab_txn(struct store_txn *t, void *arg)
{
	/* The prefix includes the NUL separator: "ab" must not match "abc". */
	return store_foreach(t, STORE_DB_USERS, "ab", 3, count_cb, arg);
}

static void
test_tenant_prefix_isolation(void **state)
{
	struct store *st;
	int n = 0;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, users_txn, NULL), 0);
	assert_int_equal(store_read(st, count_users_ab_txn, &n), 0);
	assert_int_equal(n, 2);
	store_close(st);
}

static void
test_key2(void **state)
{
	char out[8];

	assert_int_equal(store_key2(out, sizeof(out), "ab", "cd"), 5);
	assert_memory_equal(out, "ab\0cd", 5);
	assert_int_equal(store_key2(out, sizeof(out), "abcd", "efgh"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_full_grows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sticky_error_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_error_aborts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_prefix_isolation, setup, teardown),
		cmocka_unit_test(test_key2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

struct page_ctx {
	struct store_page pg;
	int seen;
	char last[16];
};

static int
page_cb(const MDB_val *key, json_t *val, void *arg)
{
	struct page_ctx *p = arg;
	size_t n = key->mv_size - 3;

	p->seen++;
	memcpy(p->last, (const char *)key->mv_data + 3, n);
	p->last[n] = '\0';
	return 0;
}

static int
page_txn(struct store_txn *t, void *arg)
{
	struct page_ctx *p = arg;

	return store_foreach_page(t, STORE_DB_USERS, "ab", 3, &p->pg, page_cb, p);
}

static int
many_users_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_object();
	char key[64], name[16];

	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "u%02d", i);
		size_t klen = store_key2(key, sizeof(key), "ab", name);
		store_put_json(t, STORE_DB_USERS, key, klen, v, false);
	}
	/* Another tenant whose records sort right after: never part of the listing. */
	size_t klen = store_key2(key, sizeof(key), "abc", "zz");
	store_put_json(t, STORE_DB_USERS, key, klen, v, false);
	json_decref(v);
	return 0;
}

/* Pages of 10 over 25 records: 10, 10, 5, each resuming after the last, no cursor at the end. */
static void
test_paging(void **state)
{
	struct store *st;
	struct page_ctx p;
	int total = 0, pages = 0;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, many_users_txn, NULL), 0);
	memset(&p, 0, sizeof(p));
	p.pg.limit = 10;
	do {
		p.seen = 0;
		assert_int_equal(store_read(st, page_txn, &p), 0);
		total += p.seen;
		pages++;
		if (p.pg.more) {
			assert_int_equal(p.seen, 10);
			assert_int_equal(p.pg.next_len, strlen(p.last));
			assert_memory_equal(p.pg.next, p.last, p.pg.next_len);
			memcpy(p.pg.after, p.pg.next, p.pg.next_len);
			p.pg.after_len = p.pg.next_len;
		}
	} while (p.pg.more && pages < 10);
	assert_int_equal(pages, 3);
	assert_int_equal(total, 25);
	assert_string_equal(p.last, "u24");
	assert_int_equal(p.pg.next_len, 0);
	/* A cursor past the end gives an empty last page. */
	memcpy(p.pg.after, "zzz", 3);
	p.pg.after_len = 3;
	p.seen = 0;
	assert_int_equal(store_read(st, page_txn, &p), 0);
	assert_int_equal(p.seen, 0);
	assert_false(p.pg.more);
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
	    cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
	    cmocka_unit_test(test_key2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

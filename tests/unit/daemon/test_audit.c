/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/audit.c: entries stored briefly, and those stored whole before, read back. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/audit.h"
#include "daemon/store.h"
#include "lib/audit_verify.h"
#include "lib/codec.h"
#include "lib/error.h"

struct fixture {
	char dir[64];
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_open(path, 8u << 20, &f->st), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	int r;

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	r = system(cmd);
	free(f);
	return r;
}

/* Entry 1 of chain acme as an older signetd stored it: whole, and its head. */
static int
old_entry_txn(struct store_txn *t, void *arg)
{
	json_t *e = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "type",
			      "entry", "chain", "acme", "seq", 1, "time", 1796621318, "tenant",
			      "acme", "actor", "uid:0", "peerUid", 0, "verb", "CREATED", "resource",
			      "TENANT:acme", "message", "tenant created", "value",
			      "{\"admin\":\"alice\",\"name\":\"acme\"}", "prevHash",
			      "0000000000000000000000000000000000000000000000000000000000000000");
	uint8_t prev[32] = {0}, h[32], key[16] = "acme";
	char hex[65];
	json_t *head;

	(void)arg;
	audit_entry_hash(prev, e, h);
	hex_encode(h, 32, hex);
	json_object_set_new(e, "hash", json_string(hex));
	key[4] = 0;
	memset(key + 5, 0, 8);
	key[12] = 1;
	store_put_json(t, STORE_DB_AUDIT, key, 13, e, true);
	head = json_pack("{s:i, s:s, s:i, s:n, s:i}", "seq", 1, "hash", hex, "ckptSeq", 0, "ckptSig",
			 "ckptCount", 0);
	store_put_json(t, STORE_DB_AUDIT_HEADS, "acme", 4, head, false);
	json_decref(head);
	json_decref(e);
	return t->err;
}

static int
new_entries_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_pack("{s:s, s:i}", "status", "DONE", "size", 32);
	struct audit_actor a = {.tenant = "acme", .actor = "USER:alice", .peer_uid = 0};

	(void)arg;
	audit_append(t, "acme", &a, "CREATED", "TASK:x", "task created and run at once: done", v);
	a.tenant = "other"; /* an entry whose tenant is not its chain's */
	audit_append(t, "acme", &a, "VIEWED", "TASK:y", "read", NULL);
	json_decref(v);
	return t->err;
}

struct got {
	json_t *e[4];
};

static int
read_txn(struct store_txn *t, void *arg)
{
	struct got *g = arg;

	for (int i = 1; i <= 3; i++) {
		if (audit_entry_get(t, "acme", (uint64_t)i, &g->e[i]) != 0) {
			return SIGNET_EINTERNAL;
		}
	}
	return 0;
}

/* An old entry, then brief ones: each reads back whole, linked and with a hash that checks. */
static void
test_old_and_new_entries(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};
	uint8_t prev[32] = {0}, h[32];
	char hex[65];

	assert_int_equal(store_write(f->st, old_entry_txn, NULL), 0);
	assert_int_equal(store_write(f->st, new_entries_txn, NULL), 0);
	assert_int_equal(store_read(f->st, read_txn, &g), 0);
	for (int i = 1; i <= 3; i++) {
		json_t *e = g.e[i];
		assert_string_equal(json_string_value(json_object_get(e, "type")), "entry");
		assert_string_equal(json_string_value(json_object_get(e, "chain")), "acme");
		assert_int_equal(json_integer_value(json_object_get(e, "seq")), i);
		hex_encode(prev, 32, hex);
		assert_string_equal(json_string_value(json_object_get(e, "prevHash")), hex);
		audit_entry_hash(prev, e, h);
		hex_encode(h, 32, hex);
		assert_string_equal(json_string_value(json_object_get(e, "hash")), hex);
		memcpy(prev, h, 32);
	}
	assert_string_equal(json_string_value(json_object_get(g.e[2], "tenant")), "acme");
	assert_string_equal(json_string_value(json_object_get(g.e[2], "value")),
			    "{\"size\":32,\"status\":\"DONE\"}");
	assert_string_equal(json_string_value(json_object_get(g.e[3], "tenant")), "other");
	assert_true(json_is_null(json_object_get(g.e[3], "value")));
	for (int i = 1; i <= 3; i++) {
		json_decref(g.e[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_old_and_new_entries, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

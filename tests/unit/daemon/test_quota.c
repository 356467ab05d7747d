/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/quota.c: a task's charge, the sums kept with the records, the recount,
 * claims. */
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

#include "daemon/conf.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/quota.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "lib/error.h"

#define ID_A "01a2aaaa-0000-7000-8000-00000000000a"
#define ID_B "01a2aaaa-0000-7000-8000-00000000000b"
#define ID_C "01a2aaaa-0000-7000-8000-00000000000c"

struct fixture {
	char dir[64];
	struct config cfg;
	struct daemon d;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-quota.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/spool", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	config_init(&f->cfg);
	f->cfg.state_dir = strdup(f->dir);
	f->d.cfg = &f->cfg;
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(store_open(path, 8u << 20, &f->d.store), 0);
	assert_int_equal(quota_start(&f->d), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	int r;

	quota_stop(&f->d);
	store_close(f->d.store);
	config_free(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	r = system(cmd);
	free(f);
	return r;
}

/* A task record as the handlers make it: SIZES of spooled inputs (none: not spooled). */
/* What the whole record W charges (quota_task_charge of its typed record). */
static uint64_t
charge(const json_t *w)
{
	struct task tt;
	uint64_t c;

	assert_int_equal(task_from_json(w, &tt), 0);
	c = quota_task_charge(&tt);
	task_clear(&tt);
	return c;
}

static json_t *
task_rec(const char *tenant, const char *id, const char *requester, const char *status,
	 const json_int_t *sizes, size_t n, json_int_t result_max)
{
	json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:n, s:[], s:I, s:i}",
			      "id", id, "tenant", tenant, "type", "ENCRYPTION", "status", status,
			      "requester", requester, "deviceConfigId", "dc", "inputs", "result",
			      "reason", "parent", "children", "resultMax", result_max, "createdAt",
			      1796621318);

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(json_object_get(t, "inputs"),
				      json_pack("{s:s, s:I}", "name", "in", "size", sizes[i]));
	}
	if (n > 0) {
		json_object_set_new(t, "spool", json_true());
	}
	return t;
}

struct put {
	json_t *task;
	enum task_status st;
	json_t *result; /* set before the change, when not NULL */
	bool expire;    /* the result's file expires */
	const char *tenant, *id;
};

static int
put_new_txn(struct store_txn *t, void *arg)
{
	struct put *x = arg;
	struct evnote n = {0};
	struct task tt;
	enum task_status path[1];
	int rc;

	assert_int_equal(task_from_json(x->task, &tt), 0);
	path[0] = tt.status;
	rc = task_put_new(t, &n, &tt, path, 1);
	task_clear(&tt);
	return rc;
}

static void
put_new(struct fixture *f, json_t *task)
{
	struct put x = {.task = task};

	assert_int_equal(store_write(f->d.store, put_new_txn, &x), 0);
	json_decref(task);
}

static int
change_txn(struct store_txn *t, void *arg)
{
	struct put *x = arg;
	struct evnote n = {0};
	struct task task;
	int rc;

	if ((rc = task_get(t, x->tenant, x->id, &task)) != 0) {
		return rc;
	}
	if (x->result != NULL) {
		json_decref(task.result);
		task.result = json_incref(x->result);
	}
	if (x->expire) {
		json_object_set_new(task.result, "available", json_false());
		rc = task_put(t, &n, &task, task.status);
	} else {
		rc = task_set_status(t, &n, &task, x->st, NULL);
	}
	task_clear(&task);
	return rc;
}

static void
change(struct fixture *f, const char *tenant, const char *id, enum task_status st, json_t *result,
       bool expire)
{
	struct put x = {.tenant = tenant, .id = id, .st = st, .result = result, .expire = expire};

	assert_int_equal(store_write(f->d.store, change_txn, &x), 0);
	json_decref(result);
}

static uint64_t
user_use(struct fixture *f, const char *tenant, const char *requester)
{
	struct quota_use u;

	assert_int_equal(quota_use_of(&f->d, tenant, requester, &u), 0);
	return u.user;
}

static uint64_t
tenant_use(struct fixture *f, const char *tenant)
{
	struct quota_use u;

	assert_int_equal(quota_use_of(&f->d, tenant, "USER:nobody", &u), 0);
	return u.tenant;
}

static void
test_charge(void **state)
{
	static const json_int_t two[] = {100, 200};
	json_t *t;

	(void)state;
	/* Not ended: the spooled inputs and the result's room. */
	t = task_rec("acme", ID_A, "USER:bob", "WAITING", two, 2, 332);
	assert_int_equal(charge(t), 632);
	/* Read in place: the result's room only. */
	json_object_del(t, "spool");
	assert_int_equal(charge(t), 332);
	json_decref(t);
	/* A record older than resultMax: its inputs. */
	t = task_rec("acme", ID_A, "USER:bob", "IN_PROGRESS", two, 2, 0);
	json_object_del(t, "resultMax");
	assert_int_equal(charge(t), 300);
	json_decref(t);
	/* Ended: the result file while it is available, whatever the room was. */
	t = task_rec("acme", ID_A, "USER:bob", "DONE", two, 2, 332);
	json_object_set_new(
	    t, "result", json_pack("{s:s, s:I, s:b}", "sha256", "00", "size", 320, "available", 1));
	assert_int_equal(charge(t), 320);
	json_object_set_new(json_object_get(t, "result"), "available", json_false());
	assert_int_equal(charge(t), 0);
	json_decref(t);
	/* Failed, cancelled, rejected, expired: nothing. */
	for (enum task_status s = TS_FAILED; s <= TS_CANCELED; s++) {
		t = task_rec("acme", ID_A, "USER:bob", task_status_name(s), two, 2, 332);
		assert_int_equal(charge(t), 0);
		json_decref(t);
	}
	/*
	 * A package made in its request (its header recorded): its package file
	 * alone, at its bound; its inputs were encrypted into it, never copied.
	 */
	t = task_rec("acme", ID_A, "USER:bob", "WAITING", two, 2, 1400);
	json_object_set_new(t, "type", json_string("PACKAGING"));
	json_object_set_new(t, "packaging",
			    json_pack("{s:s, s:{s:i, s:s}}", "format", "BOSCH_SE_V1", "header",
				      "size", 88, "sha256", "00"));
	assert_int_equal(charge(t), 1400);
	/* One of an earlier signetd, without a header: its copies too. */
	json_object_del(json_object_get(t, "packaging"), "header");
	assert_int_equal(charge(t), 1700);
	json_decref(t);
	/* A package's child: its bytes are the package's. */
	t = task_rec("acme", ID_A, "USER:bob", "IN_PROGRESS", two, 2, 332);
	json_object_set_new(t, "parent", json_string(ID_B));
	assert_int_equal(charge(t), 0);
	json_decref(t);
	/* A signing result has no file. */
	t = task_rec("acme", ID_A, "USER:bob", "DONE", NULL, 0, 0);
	json_object_set_new(t, "result", json_pack("{s:s}", "signature", "AAAA"));
	assert_int_equal(charge(t), 0);
	json_decref(t);
}

/* Three tasks of two tenants through their lives: the sums follow every record. */
static void
test_sums_follow_records(void **state)
{
	static const json_int_t a[] = {1000}, c[] = {100, 200};
	struct fixture *f = *state;

	put_new(f, task_rec("acme", ID_A, "USER:bob", "WAITING", a, 1, 1032));
	assert_int_equal(user_use(f, "acme", "USER:bob"), 2032);
	assert_int_equal(tenant_use(f, "acme"), 2032);
	put_new(f, task_rec("acme", ID_B, "USER:erin", "CREATED", NULL, 0, 500));
	assert_int_equal(user_use(f, "acme", "USER:erin"), 500);
	assert_int_equal(tenant_use(f, "acme"), 2532);
	put_new(f, task_rec("other", ID_C, "USER:olga", "WAITING", c, 2, 400));
	assert_int_equal(user_use(f, "other", "USER:olga"), 700);
	assert_int_equal(tenant_use(f, "acme"), 2532);
	/* Same user name, other tenant: other sums. */
	assert_int_equal(user_use(f, "other", "USER:bob"), 0);

	change(f, "acme", ID_A, TS_CANCELED, NULL, false);
	assert_int_equal(user_use(f, "acme", "USER:bob"), 0);
	assert_int_equal(tenant_use(f, "acme"), 500);
	change(f, "acme", ID_B, TS_IN_PROGRESS, NULL, false);
	assert_int_equal(user_use(f, "acme", "USER:erin"), 500);
	change(f, "acme", ID_B, TS_DONE,
	       json_pack("{s:s, s:I, s:b}", "sha256", "00", "size", 480, "available", 1), false);
	assert_int_equal(user_use(f, "acme", "USER:erin"), 480);
	assert_int_equal(tenant_use(f, "acme"), 480);
	change(f, "acme", ID_B, TS_DONE, NULL, true);
	assert_int_equal(user_use(f, "acme", "USER:erin"), 0);
	assert_int_equal(tenant_use(f, "acme"), 0);
	/* A WAITING task ends EXPIRED (or REJECTED, CANCELED), never FAILED. */
	change(f, "other", ID_C, TS_EXPIRED, NULL, false);
	assert_int_equal(tenant_use(f, "other"), 0);
}

static int
wipe_cb(const struct store_key *key, void *arg)
{
	json_t *keys = arg;

	return json_array_append_new(keys, json_stringn(key->data, key->len));
}

static int
wipe_txn(struct store_txn *t, void *arg)
{
	json_t *keys = json_array(), *k;
	size_t i;
	int rc = store_foreach_key(t, STORE_DB_SPOOL_USE, NULL, 0, wipe_cb, keys);

	(void)arg;
	json_array_foreach(keys, i, k) {
		store_del(t, STORE_DB_SPOOL_USE, json_string_value(k), json_string_length(k));
	}
	json_decref(keys);
	return rc != 0 ? rc : t->err;
}

/* A store without the sums (an older version): the start sums the records once. */
static void
test_recount(void **state)
{
	static const json_int_t a[] = {1000}, c[] = {100, 200};
	struct fixture *f = *state;

	put_new(f, task_rec("acme", ID_A, "USER:bob", "WAITING", a, 1, 1032));
	put_new(f, task_rec("acme", ID_B, "CLIENT:ci", "CREATED", NULL, 0, 500));
	put_new(f, task_rec("other", ID_C, "USER:olga", "WAITING", c, 2, 400));
	change(f, "other", ID_C, TS_REJECTED, NULL, false);
	assert_int_equal(store_write(f->d.store, wipe_txn, NULL), 0);
	quota_stop(&f->d);
	assert_int_equal(quota_start(&f->d), 0);
	assert_int_equal(user_use(f, "acme", "USER:bob"), 2032);
	assert_int_equal(user_use(f, "acme", "CLIENT:ci"), 500);
	assert_int_equal(tenant_use(f, "acme"), 2532);
	assert_int_equal(tenant_use(f, "other"), 0);
	/* Summed once: a second start keeps the sums that follow the records. */
	change(f, "acme", ID_B, TS_CANCELED, NULL, false);
	quota_stop(&f->d);
	assert_int_equal(quota_start(&f->d), 0);
	assert_int_equal(tenant_use(f, "acme"), 2032);
}

static void
subject(struct request *r, struct fixture *f, const char *tenant, const char *user)
{
	memset(r, 0, sizeof(*r));
	r->d = &f->d;
	snprintf(r->subject.tenant, sizeof(r->subject.tenant), "%s", tenant);
	snprintf(r->subject.user, sizeof(r->subject.user), "%s", user);
}

/* Claims count with the records, per user and tenant, until released; the reserve. */
static void
test_claims(void **state)
{
	static const json_int_t a[] = {300 << 10};
	struct fixture *f = *state;
	struct quota_claim c1, c2, c3, c4;
	struct request *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	f->cfg.spool_quota_user_mb = 1;
	f->cfg.spool_quota_tenant_mb = 2;
	f->cfg.spool_reserve_mb = 0;
	subject(r, f, "acme", "bob");
	assert_int_equal(quota_claim(r, 600 << 10, 600 << 10, &c1), 0);
	assert_int_equal(user_use(f, "acme", "USER:bob"), 600 << 10);
	assert_int_equal(quota_claimed(&f->d), 600 << 10);
	/* Over bob's quota: refused, nothing held, the message says whose. */
	assert_int_equal(quota_claim(r, 500 << 10, 0, &c2), SIGNET_EQUOTA);
	assert_false(c2.held);
	assert_non_null(strstr(r->message, "USER:bob"));
	assert_int_equal(quota_claimed(&f->d), 600 << 10);
	/* Exactly the quota is allowed. */
	assert_int_equal(quota_claim(r, 424 << 10, 0, &c2), 0);
	quota_release(&f->d, &c2);
	/* Erin shares acme's quota. */
	subject(r, f, "acme", "erin");
	assert_int_equal(quota_claim(r, 900 << 10, 0, &c3), 0);
	subject(r, f, "acme", "carl");
	assert_int_equal(quota_claim(r, 600 << 10, 0, &c4), SIGNET_EQUOTA);
	assert_non_null(strstr(r->message, "tenant acme"));
	/* Another tenant is not touched by acme's claims. */
	subject(r, f, "other", "bob");
	assert_int_equal(quota_claim(r, 1 << 20, 0, &c4), 0);
	quota_release(&f->d, &c4);
	/* A record counts as much as a claim. */
	quota_release(&f->d, &c1);
	quota_release(&f->d, &c1); /* a claim not held is left alone */
	put_new(f, task_rec("acme", ID_A, "USER:bob", "WAITING", a, 1, 300 << 10));
	subject(r, f, "acme", "bob");
	assert_int_equal(quota_claim(r, 500 << 10, 0, &c1), SIGNET_EQUOTA);
	assert_int_equal(quota_claim(r, 400 << 10, 0, &c1), 0);
	quota_release(&f->d, &c1);
	quota_release(&f->d, &c3);
	assert_int_equal(quota_claimed(&f->d), 0);
	/* Quota 0 is none; the reserve bounds what is written now, not a result's room. */
	f->cfg.spool_quota_user_mb = 0;
	f->cfg.spool_quota_tenant_mb = 0;
	f->cfg.spool_reserve_mb = 1L << 30; /* a PiB: more than any disk here */
	assert_int_equal(quota_claim(r, 64 << 20, 0, &c1), 0);
	assert_int_equal(quota_claim(r, 1, 1, &c2), SIGNET_ENOSPACE);
	assert_non_null(strstr(r->message, "spool_reserve_mb"));
	quota_release(&f->d, &c1);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_charge),
	    cmocka_unit_test_setup_teardown(test_sums_follow_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recount, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

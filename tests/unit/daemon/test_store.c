/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/store.c: the LMDB wrapper, its sticky errors, map growth, group commit. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/events.h"
#include "daemon/store.h"
#include "daemon/store_lmdb.h"
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

	umount2(dir, MNT_DETACH); /* test_full_disk_reserve's tmpfs, if a check failed */
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
count_cb(const struct store_key *key, json_t *val, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
count_txn(struct store_txn *t, void *arg)
{
	return store_foreach(t, STORE_DB_META, "k", 1, count_cb, arg);
}

/* The schema version in meta, read ("" when absent) or set (SET not NULL), with LMDB itself. */
static void
schema(const char *set, char *out, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {7, "version"}, v;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1 << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (set != NULL) {
		v.mv_data = (void *)set;
		v.mv_size = strlen(set);
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	out[0] = '\0';
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size < len) {
		memcpy(out, v.mv_data, v.mv_size);
		out[v.mv_size] = '\0';
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Schema 2: a new store is marked 2, one of schema 1 is read and marked 2, any other refused. */
static void
test_schema_version(void **state)
{
	struct store *st;
	char v[8];

	(void)state;
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	store_close(st);
	schema(NULL, v, sizeof(v));
	assert_string_equal(v, "2");
	schema("1", v, sizeof(v));
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	store_close(st);
	schema(NULL, v, sizeof(v));
	assert_string_equal(v, "2");
	/* A later signetd's store: not touched. */
	schema("3", v, sizeof(v));
	assert_int_not_equal(store_open(dir, 1 << 20, &st), 0);
	schema(NULL, v, sizeof(v));
	assert_string_equal(v, "3");
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
	bool skip_odd; /* records u01, u03, ...: STORE_PAGE_SKIP */
};

static int
page_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct page_ctx *p = arg;
	size_t n = key->len - 3;

	if (p->skip_odd && (((const char *)key->data)[key->len - 1] - '0') % 2 == 1) {
		return STORE_PAGE_SKIP;
	}
	p->seen++;
	memcpy(p->last, (const char *)key->data + 3, n);
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

/*
 * Records the callback skips do not count: pages of 5 over the 13 even ones
 * of 25 hold 5, 5, 3; each page resumes after the last record looked at.
 */
static void
test_paging_skip(void **state)
{
	struct store *st;
	struct page_ctx p;
	int total = 0, pages = 0;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, many_users_txn, NULL), 0);
	memset(&p, 0, sizeof(p));
	p.pg.limit = 5;
	p.skip_odd = true;
	do {
		p.seen = 0;
		assert_int_equal(store_read(st, page_txn, &p), 0);
		total += p.seen;
		pages++;
		if (p.pg.more) {
			assert_int_equal(p.seen, 5);
			memcpy(p.pg.after, p.pg.next, p.pg.next_len);
			p.pg.after_len = p.pg.next_len;
		}
	} while (p.pg.more && pages < 10);
	assert_int_equal(pages, 3);
	assert_int_equal(total, 13);
	assert_string_equal(p.last, "u24");
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

/* ---- group commit ---- */

/* Waits below give up after this long instead of hanging the suite. */
#define WAIT_SECONDS 60

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond = PTHREAD_COND_INITIALIZER;

/* Wait (under WLOCK) until *COUNTER reaches N; false on timeout. */
static bool
wait_count(const int *counter, int n)
{
	struct timespec deadline;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_SECONDS;
	pthread_mutex_lock(&wlock);
	while (*counter < n && ok) {
		ok = pthread_cond_timedwait(&wcond, &wlock, &deadline) != ETIMEDOUT;
	}
	ok = *counter >= n;
	pthread_mutex_unlock(&wlock);
	return ok;
}

static void
bump(int *counter)
{
	pthread_mutex_lock(&wlock);
	(*counter)++;
	pthread_cond_broadcast(&wcond);
	pthread_mutex_unlock(&wlock);
}

#define NTHREADS       8
#define WRITES_PER_THR 200

struct writer {
	struct store *st;
	int id;
	int i;
	int failures;
	int first_err;
};

static int
writer_put_txn(struct store_txn *t, void *arg)
{
	struct writer *w = arg;
	char key[32];
	json_t *v = json_pack("{s:i, s:i}", "t", w->id, "i", w->i);

	snprintf(key, sizeof(key), "w%d-%04d", w->id, w->i);
	store_put_json(t, STORE_DB_KEYS, key, strlen(key), v, true);
	json_decref(v);
	return 0;
}

static void *
writer_thread(void *arg)
{
	struct writer *w = arg;

	for (w->i = 0; w->i < WRITES_PER_THR; w->i++) {
		int rc = store_write(w->st, writer_put_txn, w);
		if (rc != 0 && w->failures++ == 0) {
			w->first_err = rc;
		}
	}
	return NULL;
}

struct verify_ctx {
	size_t count;
	int bad;
};

static int
verify_writers_txn(struct store_txn *t, void *arg)
{
	struct verify_ctx *c = arg;
	char key[32];

	c->count = store_count(t, STORE_DB_KEYS);
	for (int id = 0; id < NTHREADS; id++) {
		for (int i = 0; i < WRITES_PER_THR; i++) {
			json_t *v = NULL;
			snprintf(key, sizeof(key), "w%d-%04d", id, i);
			if (store_get_json(t, STORE_DB_KEYS, key, strlen(key), &v) != 0 ||
			    json_integer_value(json_object_get(v, "t")) != id ||
			    json_integer_value(json_object_get(v, "i")) != i) {
				c->bad++;
			}
			json_decref(v);
		}
	}
	return 0;
}

/* Many threads writing at once: every write is acknowledged and every record lands, durably. */
static void
test_concurrent_writes(void **state)
{
	struct store *st;
	struct writer w[NTHREADS];
	pthread_t th[NTHREADS];
	struct verify_ctx c = {0, 0};

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct writer){.st = st, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		if (w[i].failures != 0) {
			fail_msg("writer %d: %d failures, first %d", i, w[i].failures,
				 w[i].first_err);
		}
	}
	assert_int_equal(store_read(st, verify_writers_txn, &c), 0);
	assert_int_equal(c.count, NTHREADS * WRITES_PER_THR);
	assert_int_equal(c.bad, 0);
	store_close(st);
	/* Acknowledged means on disk: a fresh open sees them all. */
	c = (struct verify_ctx){0, 0};
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, verify_writers_txn, &c), 0);
	assert_int_equal(c.count, NTHREADS * WRITES_PER_THR);
	assert_int_equal(c.bad, 0);
	store_close(st);
}

/*
 * Holding the committer: an asynchronous write whose FN blocks until released, so that
 * whatever is queued meanwhile runs as the next batch, together.
 */
struct gate {
	int entered;
	int released;
	int done;
};

static int
gate_txn(struct store_txn *t, void *arg)
{
	struct gate *g = arg;
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_SECONDS;
	pthread_mutex_lock(&wlock);
	g->entered++;
	pthread_cond_broadcast(&wcond);
	while (!g->released && pthread_cond_timedwait(&wcond, &wlock, &deadline) != ETIMEDOUT) {
	}
	pthread_mutex_unlock(&wlock);
	return 0;
}

static void
gate_done(void *arg, int rc)
{
	bump(&((struct gate *)arg)->done);
}

static void
gate_close(struct store *st, struct gate *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(store_write_async(st, gate_txn, g, gate_done), 0);
	assert_true(wait_count(&g->entered, 1));
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&wlock);
	g->released = 1;
	pthread_cond_broadcast(&wcond);
	pthread_mutex_unlock(&wlock);
}

/* The order of FN runs and DONE calls, across one test. */
static char events[64];
static size_t nevents;

static void
record_event(char c)
{
	pthread_mutex_lock(&wlock);
	if (nevents < sizeof(events) - 1) {
		events[nevents++] = c;
		events[nevents] = '\0';
	}
	pthread_mutex_unlock(&wlock);
}

enum op_kind {
	OP_PUT,      /* put KEY */
	OP_REFUSE,   /* put KEY, then return SIGNET_EDENIED */
	OP_CONFLICT, /* put KEY, then put an existing key with NOOVERWRITE (sticky error) */
	OP_BIG,      /* put NBIG records of BIGSIZE bytes under KEY-nnn */
};

struct op {
	enum op_kind kind;
	char name; /* for the event log: fn runs as lower case, done calls upper case */
	const char *key;
	int nbig;
	size_t bigsize;
	int runs; /* FN runs (on the committer thread) */
	/* What FN saw of its batch neighbours, in its own nested transaction (last run). */
	bool saw[4];
	const char *look[4];
	int done_calls;
	int rc;
};

static int
op_txn(struct store_txn *t, void *arg)
{
	struct op *o = arg;
	json_t *v = json_pack("{s:s}", "k", o->key);

	o->runs++;
	record_event(o->name);
	for (size_t i = 0; i < 4 && o->look[i] != NULL; i++) {
		o->saw[i] = store_exists(t, STORE_DB_META, o->look[i], strlen(o->look[i]));
	}
	switch (o->kind) {
	case OP_PUT:
	case OP_REFUSE:
	case OP_CONFLICT:
		store_put_json(t, STORE_DB_META, o->key, strlen(o->key), v, false);
		break;
	case OP_BIG: {
		char *blob = malloc(o->bigsize + 1);
		char key[64];
		memset(blob, 'b', o->bigsize);
		blob[o->bigsize] = '\0';
		for (int i = 0; i < o->nbig; i++) {
			json_t *b = json_pack("{s:i, s:s}", "i", i, "blob", blob);
			snprintf(key, sizeof(key), "%s-%03d", o->key, i);
			store_put_json(t, STORE_DB_META, key, strlen(key), b, false);
			json_decref(b);
		}
		free(blob);
		break;
	}
	}
	json_decref(v);
	if (o->kind == OP_REFUSE) {
		return SIGNET_EDENIED;
	}
	if (o->kind == OP_CONFLICT) {
		v = json_object();
		store_put_json(t, STORE_DB_META, "version", 7, v, true);
		json_decref(v);
	}
	return 0;
}

static int ops_done;

static void
op_done(void *arg, int rc)
{
	struct op *o = arg;

	o->rc = rc;
	record_event((char)(o->name - 'a' + 'A'));
	pthread_mutex_lock(&wlock);
	o->done_calls++;
	ops_done++;
	pthread_cond_broadcast(&wcond);
	pthread_mutex_unlock(&wlock);
}

struct presence {
	const char *keys[8];
	bool present[8];
};

static int
presence_txn(struct store_txn *t, void *arg)
{
	struct presence *p = arg;

	for (size_t i = 0; i < 8 && p->keys[i] != NULL; i++) {
		p->present[i] = store_exists(t, STORE_DB_META, p->keys[i], strlen(p->keys[i]));
	}
	return 0;
}

/*
 * One batch of four writes, two failing in the middle (one returning an error, one with a
 * sticky error): the failures leave no trace, even to their neighbours in the batch, and
 * their neighbours land.
 */
static void
test_batch_failure_isolated(void **state)
{
	struct store *st;
	struct gate g;
	struct op ops[] = {
	    {.kind = OP_PUT, .name = 'a', .key = "op-a"},
	    {.kind = OP_REFUSE, .name = 'b', .key = "op-b", .look = {"op-a"}},
	    {.kind = OP_CONFLICT, .name = 'c', .key = "op-c", .look = {"op-a", "op-b"}},
	    {.kind = OP_PUT, .name = 'd', .key = "op-d", .look = {"op-a", "op-b", "op-c"}},
	};
	const size_t nops = sizeof(ops) / sizeof(ops[0]);
	struct presence p = {.keys = {"op-a", "op-b", "op-c", "op-d"}};

	nevents = 0;
	events[0] = '\0';
	ops_done = 0;
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	gate_close(st, &g);
	for (size_t i = 0; i < nops; i++) {
		ops[i].rc = 1;
		assert_int_equal(store_write_async(st, op_txn, &ops[i], op_done), 0);
	}
	gate_open(&g);
	assert_true(wait_count(&ops_done, (int)nops));
	assert_true(wait_count(&g.done, 1));
	store_close(st); /* joins the committer: no callback is still running */

	/* All four ran before any was done: one batch, one commit. */
	assert_string_equal(events, "abcdABCD");
	for (size_t i = 0; i < nops; i++) {
		assert_int_equal(ops[i].runs, 1);
		assert_int_equal(ops[i].done_calls, 1);
	}
	assert_int_equal(ops[0].rc, 0);
	assert_int_equal(ops[1].rc, SIGNET_EDENIED);
	assert_int_equal(ops[2].rc, SIGNET_ECONFLICT);
	assert_int_equal(ops[3].rc, 0);
	/* Later writes of the batch see the earlier ones that succeeded, and only those. */
	assert_true(ops[1].saw[0]);
	assert_true(ops[2].saw[0]);
	assert_false(ops[2].saw[1]);
	assert_true(ops[3].saw[0]);
	assert_false(ops[3].saw[1]);
	assert_false(ops[3].saw[2]);

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, presence_txn, &p), 0);
	assert_true(p.present[0]);
	assert_false(p.present[1]);
	assert_false(p.present[2]);
	assert_true(p.present[3]);
	store_close(st);
}

#define NASYNC 500

struct async_rec {
	int i;
	int runs;
	int done_calls;
	int rc;
	pthread_t done_thread;
};

static int async_done_total;

static int
async_put_txn(struct store_txn *t, void *arg)
{
	struct async_rec *r = arg;
	char key[32];
	json_t *v = json_pack("{s:i}", "i", r->i);

	r->runs++;
	snprintf(key, sizeof(key), "async-%04d", r->i);
	store_put_json(t, STORE_DB_TASKS, key, strlen(key), v, true);
	json_decref(v);
	return 0;
}

static void
async_done(void *arg, int rc)
{
	struct async_rec *r = arg;

	r->rc = rc;
	r->done_thread = pthread_self();
	pthread_mutex_lock(&wlock);
	r->done_calls++;
	async_done_total++;
	pthread_cond_broadcast(&wcond);
	pthread_mutex_unlock(&wlock);
}

static int
count_tasks_txn(struct store_txn *t, void *arg)
{
	*(size_t *)arg = store_count(t, STORE_DB_TASKS);
	return 0;
}

/* Every asynchronous write calls its DONE exactly once, with 0, off the caller's thread. */
static void
test_async_done_once(void **state)
{
	struct store *st;
	struct async_rec *r = calloc(NASYNC, sizeof(*r));
	size_t n = 0;

	assert_non_null(r);
	async_done_total = 0;
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	for (int i = 0; i < NASYNC; i++) {
		r[i].i = i;
		r[i].rc = 1;
		assert_int_equal(store_write_async(st, async_put_txn, &r[i], async_done), 0);
	}
	assert_true(wait_count(&async_done_total, NASYNC));
	/* Done means committed: a read now sees every record. */
	assert_int_equal(store_read(st, count_tasks_txn, &n), 0);
	assert_int_equal(n, NASYNC);
	store_close(st); /* joins the committer: any extra callback would have happened */
	assert_int_equal(async_done_total, NASYNC);
	for (int i = 0; i < NASYNC; i++) {
		if (r[i].done_calls != 1 || r[i].rc != 0 || r[i].runs != 1) {
			fail_msg("write %d: %d done calls, rc %d, %d runs", i, r[i].done_calls,
				 r[i].rc, r[i].runs);
		}
		assert_false(pthread_equal(r[i].done_thread, pthread_self()));
	}
	free(r);
}

static int
small_records_txn(struct store_txn *t, void *arg)
{
	char key[32];

	for (int i = 0; i < 50; i++) {
		json_t *v = json_pack("{s:i}", "early", i);
		snprintf(key, sizeof(key), "early-%02d", i);
		store_put_json(t, STORE_DB_META, key, strlen(key), v, true);
		json_decref(v);
	}
	return 0;
}

struct growth_check {
	int early_ok;
	int big_ok;
	size_t big_size;
};

static int
growth_check_txn(struct store_txn *t, void *arg)
{
	struct growth_check *c = arg;
	char key[32];

	for (int i = 0; i < 50; i++) {
		json_t *v = NULL;
		snprintf(key, sizeof(key), "early-%02d", i);
		if (store_get_json(t, STORE_DB_META, key, strlen(key), &v) == 0 &&
		    json_integer_value(json_object_get(v, "early")) == i) {
			c->early_ok++;
		}
		json_decref(v);
	}
	for (int i = 0; i < 200; i++) {
		json_t *v = NULL;
		snprintf(key, sizeof(key), "big-%03d", i);
		if (store_get_json(t, STORE_DB_META, key, strlen(key), &v) == 0 &&
		    json_integer_value(json_object_get(v, "i")) == i &&
		    strlen(json_string_value(json_object_get(v, "blob"))) == c->big_size) {
			c->big_ok++;
		}
		json_decref(v);
	}
	return 0;
}

static int
map_size_txn(struct store_txn *t, void *arg)
{
	MDB_envinfo info;

	assert_int_equal(mdb_env_info(mdb_txn_env((MDB_txn *)t->backend), &info), 0);
	*(size_t *)arg = info.me_mapsize;
	return 0;
}

/*
 * A 1 MiB map, records already committed, then a write of about 4 MiB queued between two
 * small ones in one batch: the map grows, the batch runs again, every write lands once, and
 * the earlier records survive.
 */
static void
test_growth_in_batch(void **state)
{
	struct store *st;
	struct gate g;
	struct op ops[] = {
	    {.kind = OP_PUT, .name = 'a', .key = "grow-a"},
	    {.kind = OP_BIG, .name = 'b', .key = "big", .nbig = 200, .bigsize = 20000},
	    {.kind = OP_PUT, .name = 'c', .key = "grow-c", .look = {"grow-a", "big-199"}},
	};
	const size_t nops = sizeof(ops) / sizeof(ops[0]);
	struct growth_check c = {.big_size = 20000};
	struct presence p = {.keys = {"grow-a", "grow-c"}};
	size_t map = 0;

	nevents = 0;
	events[0] = '\0';
	ops_done = 0;
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, map_size_txn, &map), 0);
	assert_int_equal(map, 1 << 20);
	assert_int_equal(store_write(st, small_records_txn, NULL), 0);
	gate_close(st, &g);
	for (size_t i = 0; i < nops; i++) {
		ops[i].rc = 1;
		assert_int_equal(store_write_async(st, op_txn, &ops[i], op_done), 0);
	}
	gate_open(&g);
	assert_true(wait_count(&ops_done, (int)nops));
	assert_true(wait_count(&g.done, 1));
	assert_int_equal(store_read(st, map_size_txn, &map), 0);
	store_close(st);

	assert_true(map >= 4u << 20);
	for (size_t i = 0; i < nops; i++) {
		assert_int_equal(ops[i].rc, 0);
		assert_int_equal(ops[i].done_calls, 1);
	}
	/* The batch was cut short by the full map and run again: A twice, C once, then done. */
	assert_true(ops[0].runs >= 2);
	assert_int_equal(ops[0].runs, ops[1].runs);
	assert_int_equal(ops[2].runs, 1);
	assert_true(ops[2].saw[0]);
	assert_true(ops[2].saw[1]);
	assert_int_equal(strcmp(events + nevents - 3, "ABC"), 0);

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, growth_check_txn, &c), 0);
	assert_int_equal(c.early_ok, 50);
	assert_int_equal(c.big_ok, 200);
	assert_int_equal(store_read(st, presence_txn, &p), 0);
	assert_true(p.present[0]);
	assert_true(p.present[1]);
	/* A later synchronous write that needs more room grows again and keeps everything. */
	struct fill f = {300, 20000};
	assert_int_equal(store_write(st, fill_txn, &f), 0);
	c = (struct growth_check){.big_size = 20000};
	assert_int_equal(store_read(st, growth_check_txn, &c), 0);
	assert_int_equal(c.early_ok, 50);
	assert_int_equal(c.big_ok, 200);
	store_close(st);
}

/* ---- keys, cursors ---- */

static int
keyed_users_txn(struct store_txn *t, void *arg)
{
	const char *names[][2] = {{"ab", "u2"}, {"abc", "u3"}, {"ab", "u1"},
				  {"a", "u4"},  {"b", "u5"},   {"ab", "u0"}};
	json_t *v = json_object();

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char key[64];
		size_t klen = store_key2(key, sizeof(key), names[i][0], names[i][1]);
		store_put_json(t, STORE_DB_USERS, key, klen, v, false);
	}
	json_decref(v);
	return 0;
}

struct keys_ctx {
	const char *prefix;
	size_t plen;
	int stop_after; /* return 1 after this many keys (0: never) */
	int fail_after; /* return SIGNET_EDENIED after this many keys (0: never) */
	int n;
	char seen[8][16];
	size_t seen_len[8];
	int rc;
};

static int
key_cb(const struct store_key *key, void *arg)
{
	struct keys_ctx *c = arg;

	if (c->n < 8 && key->len <= sizeof(c->seen[0])) {
		memcpy(c->seen[c->n], key->data, key->len);
		c->seen_len[c->n] = key->len;
	}
	c->n++;
	if (c->stop_after > 0 && c->n >= c->stop_after) {
		return 1;
	}
	if (c->fail_after > 0 && c->n >= c->fail_after) {
		return SIGNET_EDENIED;
	}
	return 0;
}

static int
keys_txn(struct store_txn *t, void *arg)
{
	struct keys_ctx *c = arg;

	c->rc = store_foreach_key(t, STORE_DB_USERS, c->prefix, c->plen, key_cb, c);
	return 0;
}

static void
assert_key(const struct keys_ctx *c, int i, const char *a, const char *b)
{
	char want[32];
	size_t n = store_key2(want, sizeof(want), a, b);

	assert_int_equal(c->seen_len[i], n);
	assert_memory_equal(c->seen[i], want, n);
}

static void
test_foreach_key(void **state)
{
	struct store *st;
	struct keys_ctx c;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_write(st, keyed_users_txn, NULL), 0);

	/* Exactly the keys of the prefix, in key order; "ab\0" does not take "abc\0". */
	c = (struct keys_ctx){.prefix = "ab", .plen = 3};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.n, 3);
	assert_key(&c, 0, "ab", "u0");
	assert_key(&c, 1, "ab", "u1");
	assert_key(&c, 2, "ab", "u2");

	c = (struct keys_ctx){.prefix = "a", .plen = 2};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.n, 1);
	assert_key(&c, 0, "a", "u4");

	/* A bare prefix without the separator takes every tenant that starts with it. */
	c = (struct keys_ctx){.prefix = "a", .plen = 1};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.n, 5);

	/* No prefix: every key. */
	c = (struct keys_ctx){.prefix = NULL, .plen = 0};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.n, 6);
	assert_key(&c, 0, "a", "u4");
	assert_key(&c, 5, "b", "u5");

	/* A prefix past every key, or between keys: nothing. */
	c = (struct keys_ctx){.prefix = "zz", .plen = 2};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.n, 0);
	c = (struct keys_ctx){.prefix = "aa", .plen = 3};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.n, 0);

	/* FN > 0 stops the walk, which still succeeds. */
	c = (struct keys_ctx){.prefix = "ab", .plen = 3, .stop_after = 1};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.n, 1);
	assert_key(&c, 0, "ab", "u0");
	c = (struct keys_ctx){.prefix = NULL, .plen = 0, .stop_after = 2};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.n, 2);

	/* FN < 0 stops it and is returned. */
	c = (struct keys_ctx){.prefix = "ab", .plen = 3, .fail_after = 2};
	assert_int_equal(store_read(st, keys_txn, &c), 0);
	assert_int_equal(c.rc, SIGNET_EDENIED);
	assert_int_equal(c.n, 2);
	store_close(st);
}

static size_t
be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	return 8;
}

static int
events_txn(struct store_txn *t, void *arg)
{
	/* Written out of order; the keys sort by value. */
	const uint64_t seqs[] = {20, 300, 10, 256};

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		uint8_t key[8];
		json_t *v = json_pack("{s:I}", "seq", (json_int_t)seqs[i]);
		store_put_json(t, STORE_DB_EVENTS, key, be64(key, seqs[i]), v, true);
		json_decref(v);
	}
	return 0;
}

struct last_ctx {
	uint8_t key[16];
	size_t klen;
	int rc;
};

static int
last_txn(struct store_txn *t, void *arg)
{
	struct last_ctx *c = arg;

	c->rc = store_last_key(t, STORE_DB_EVENTS, c->key, &c->klen);
	return 0;
}

static void
test_last_key(void **state)
{
	struct store *st;
	struct last_ctx c = {.klen = sizeof(c.key)};
	uint8_t want[8];

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	assert_int_equal(store_read(st, last_txn, &c), 0);
	assert_int_equal(c.rc, SIGNET_ENOTFOUND);

	assert_int_equal(store_write(st, events_txn, NULL), 0);
	c = (struct last_ctx){.klen = sizeof(c.key)};
	assert_int_equal(store_read(st, last_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.klen, 8);
	assert_memory_equal(c.key, want, be64(want, 300));

	/* Exactly room for the key; one byte short is refused. */
	c = (struct last_ctx){.klen = 8};
	assert_int_equal(store_read(st, last_txn, &c), 0);
	assert_int_equal(c.rc, 0);
	assert_memory_equal(c.key, want, 8);
	c = (struct last_ctx){.klen = 7};
	assert_int_equal(store_read(st, last_txn, &c), 0);
	assert_int_not_equal(c.rc, 0);
	store_close(st);
}

struct from_ctx {
	uint8_t from[8];
	size_t from_len;
	uint8_t key[16];
	size_t klen;
	json_int_t seq;
	bool got_value;
	int rc;
};

static int
from_txn(struct store_txn *t, void *arg)
{
	struct from_ctx *c = arg;
	json_t *v = (json_t *)&c; /* must be reset by the call */

	c->rc = store_first_from(t, STORE_DB_EVENTS, c->from, c->from_len, c->key, &c->klen, &v);
	c->got_value = v != NULL;
	c->seq = json_integer_value(json_object_get(v, "seq"));
	json_decref(v);
	return 0;
}

static void
first_from(struct store *st, struct from_ctx *c, uint64_t from, size_t from_len, size_t klen)
{
	memset(c, 0, sizeof(*c));
	be64(c->from, from);
	c->from_len = from_len;
	c->klen = klen;
	assert_int_equal(store_read(st, from_txn, c), 0);
}

static void
test_first_from(void **state)
{
	struct store *st;
	struct from_ctx c;
	uint8_t want[8];

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	/* Empty database. */
	first_from(st, &c, 0, 8, 16);
	assert_int_equal(c.rc, SIGNET_ENOTFOUND);
	assert_false(c.got_value);
	assert_int_equal(store_write(st, events_txn, NULL), 0);

	/* Between keys: the next one. */
	first_from(st, &c, 15, 8, 16);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.klen, 8);
	assert_memory_equal(c.key, want, be64(want, 20));
	assert_int_equal(c.seq, 20);
	/* At a key: that one. */
	first_from(st, &c, 256, 8, 16);
	assert_int_equal(c.rc, 0);
	assert_memory_equal(c.key, want, be64(want, 256));
	assert_int_equal(c.seq, 256);
	/* Before every key, and with no key at all: the first. */
	first_from(st, &c, 0, 8, 16);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.seq, 10);
	first_from(st, &c, 0, 0, 16);
	assert_int_equal(c.rc, 0);
	assert_memory_equal(c.key, want, be64(want, 10));
	assert_int_equal(c.seq, 10);
	/* Past the end. */
	first_from(st, &c, 301, 8, 16);
	assert_int_equal(c.rc, SIGNET_ENOTFOUND);
	assert_false(c.got_value);
	/* Exactly room for the key; too little is refused, with no value. */
	first_from(st, &c, 11, 8, 8);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.seq, 20);
	first_from(st, &c, 11, 8, 7);
	assert_int_not_equal(c.rc, 0);
	assert_false(c.got_value);
	store_close(st);
}

static void
test_keyv(void **state)
{
	char out[32];
	const char *const three[] = {"acme", "USER:bob", "KEY"};
	const char *const one[] = {"abc"};
	const char *const empties[] = {"a", "", "b"};
	const size_t want = 4 + 1 + 8 + 1 + 3;

	/* Fits. */
	memset(out, '#', sizeof(out));
	assert_int_equal(store_keyv(out, sizeof(out), three, 3), want);
	assert_memory_equal(out, "acme\0USER:bob\0KEY", want);
	assert_int_equal(out[want], '#'); /* no terminator added */

	/* Exactly fits. */
	memset(out, '#', sizeof(out));
	assert_int_equal(store_keyv(out, want, three, 3), want);
	assert_memory_equal(out, "acme\0USER:bob\0KEY", want);
	assert_int_equal(out[want], '#');

	/* One byte short, or far too short: 0, and nothing written past OUTLEN. */
	memset(out, '#', sizeof(out));
	assert_int_equal(store_keyv(out, want - 1, three, 3), 0);
	for (size_t i = want - 1; i < sizeof(out); i++) {
		assert_int_equal(out[i], '#');
	}
	memset(out, '#', sizeof(out));
	assert_int_equal(store_keyv(out, 6, three, 3), 0);
	for (size_t i = 6; i < sizeof(out); i++) {
		assert_int_equal(out[i], '#');
	}
	assert_int_equal(store_keyv(out, 0, three, 3), 0);

	/* One part: no separator. */
	assert_int_equal(store_keyv(out, 3, one, 1), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(store_keyv(out, 2, one, 1), 0);

	/* Empty parts keep their separators. */
	assert_int_equal(store_keyv(out, sizeof(out), empties, 3), 4);
	assert_memory_equal(out, "a\0\0b", 4);

	/* Agrees with store_key2. */
	char k2[32];
	assert_int_equal(store_keyv(out, sizeof(out), three, 2),
			 store_key2(k2, sizeof(k2), "acme", "USER:bob"));
	assert_memory_equal(out, k2, 13);
}

/* LMDB's codes and the errno values it passes on, translated once: a full disk is no_space. */
static void
test_error_mapping(void **state)
{
	assert_int_equal(store_error(MDB_SUCCESS), 0);
	assert_int_equal(store_error(MDB_NOTFOUND), SIGNET_ENOTFOUND);
	assert_int_equal(store_error(MDB_KEYEXIST), SIGNET_ECONFLICT);
	assert_int_equal(store_error(MDB_MAP_FULL), SIGNET_ENOSPACE);
	assert_int_equal(store_error(ENOSPC), SIGNET_ENOSPACE);
	assert_int_equal(store_error(EDQUOT), SIGNET_ENOSPACE);
	assert_int_equal(store_error(EIO), SIGNET_EINTERNAL);
	assert_int_equal(store_error(MDB_CORRUPTED), SIGNET_EINTERNAL);
	assert_int_equal(store_error(MDB_PANIC), SIGNET_EINTERNAL);
}

static int
put_one_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_pack("{s:s}", "blob", (const char *)arg);

	store_put_json(t, STORE_DB_CONFIG, arg, strlen(arg) < 64 ? strlen(arg) : 64, v, false);
	json_decref(v);
	return 0;
}

static int
has_key_txn(struct store_txn *t, void *arg)
{
	const char *k = arg;

	return store_exists(t, STORE_DB_CONFIG, k, strlen(k) < 64 ? strlen(k) : 64)
		   ? 0
		   : SIGNET_ENOTFOUND;
}

/* The reserve is allocated on disk in the data file, past its last page in use. */
static void
test_reserve_allocated(void **state)
{
	struct store *st;
	struct store_usage u0, u;
	char path[128];
	struct stat sb;

	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	store_set_reserve(st, 512 * 1024);
	assert_int_equal(store_usage(st, &u0), 0);
	assert_int_equal(store_write(st, put_one_txn, "k"), 0);
	assert_int_equal(store_usage(st, &u), 0);
	assert_int_equal(u.reserve, 512 * 1024);
	assert_false(u.full);
	assert_true(u.used > 0);
	/* Topped up before the write: the reserve past what was in use then. */
	assert_true(u.file_size >= u0.used + 512 * 1024);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true((uint64_t)sb.st_blocks * 512 >= (uint64_t)sb.st_size);
	/* The lock file is allocated whole too (it is mapped shared). */
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true((uint64_t)sb.st_blocks * 512 >= (uint64_t)sb.st_size);
	store_close(st);
}

/* Fill the filesystem of DIR with a file FILLER: 0 once a write failed for lack of space. */
static int
fill_fs(const char *filler)
{
	static char buf[64 * 1024];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int e = 0;

	if (fd < 0) {
		return -1;
	}
	for (;;) {
		if (write(fd, buf, sizeof(buf)) < 0) {
			e = errno;
			break;
		}
	}
	close(fd);
	return e == ENOSPC ? 0 : -1;
}

/*
 * On a full filesystem (a small tmpfs: root only, skipped otherwise),
 * ordinary writes fail with no_space and change nothing, writes that may
 * use the reserve commit, and once space is back ordinary writes go on.
 */
static void
test_full_disk_reserve(void **state)
{
	struct store *st = NULL;
	struct store_usage u0, u;
	char filler[128], big[8192];
	int rc, n;

	if (mount("tmpfs", dir, "tmpfs", 0, "size=2m") != 0) {
		skip();
	}
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	assert_int_equal(store_open(dir, 1 << 20, &st), 0);
	store_set_reserve(st, 256 * 1024);
	assert_int_equal(store_write(st, put_one_txn, "before"), 0);
	assert_int_equal(fill_fs(filler), 0);
	/*
	 * Ordinary writes use what the file holds beyond the reserve, then are
	 * refused. Each is bigger than a free page: it needs new pages.
	 */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (n = 0, rc = 0; n < 200 && rc == 0; n++) {
		big[0] = (char)('a' + n % 26);
		big[1] = (char)('a' + n / 26);
		rc = store_write(st, put_one_txn, big);
	}
	assert_int_equal(rc, SIGNET_ENOSPACE);
	assert_int_equal(store_usage(st, &u), 0);
	assert_true(u.full);
	/* The refused write changed nothing. */
	assert_int_equal(store_read(st, has_key_txn, big), SIGNET_ENOTFOUND);
	assert_int_equal(store_write(st, put_one_txn, "small"), SIGNET_ENOSPACE);
	/* Writes that may use the reserve commit. */
	for (int i = 0; i < 10; i++) {
		big[0] = (char)('A' + i);
		assert_int_equal(store_write_reserve(st, put_one_txn, big), 0);
		assert_int_equal(store_read(st, has_key_txn, big), 0);
	}
	/* Space is back: the reserve is topped up and ordinary writes commit again. */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(store_usage(st, &u0), 0);
	assert_int_equal(store_write(st, put_one_txn, "after"), 0);
	assert_int_equal(store_usage(st, &u), 0);
	assert_false(u.full);
	assert_true(u.file_size >= u0.used + 256 * 1024);
	store_close(st);
	assert_int_equal(umount(dir), 0);
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
	    cmocka_unit_test_setup_teardown(test_paging_skip, setup, teardown),
	    cmocka_unit_test(test_key2),
	    cmocka_unit_test_setup_teardown(test_concurrent_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_failure_isolated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_async_done_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_growth_in_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_from, setup, teardown),
	    cmocka_unit_test(test_keyv),
	    cmocka_unit_test(test_error_mapping),
	    cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reserve_allocated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_disk_reserve, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

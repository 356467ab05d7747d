/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/tasks.c: the task status model, and the record writes that enforce it. */
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

#include "daemon/events.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "lib/error.h"

#define ID_A "01a2aaaa-0000-7000-8000-00000000000a"

/* Short names, so that the table below reads as a table. */
#define C TS_CREATED
#define W TS_WAITING
#define A TS_APPROVED
#define P TS_IN_PROGRESS
#define D TS_DONE
#define F TS_FAILED
#define R TS_REJECTED
#define E TS_EXPIRED
#define X TS_CANCELED

/*
 * doc/protocol.md section 9.2, written out: ALLOWED[from][to]. The
 * diagonal holds for the statuses that are not final (a record written
 * again in the same status).
 */
static const bool allowed[TS_COUNT][TS_COUNT] = {
    /*     C  W  A  P  D  F  R  E  X */
    [C] = {1, 1, 0, 1, 0, 1, 0, 0, 1},
    [W] = {0, 1, 1, 0, 0, 0, 1, 1, 1},
    [A] = {0, 1, 1, 1, 0, 1, 0, 0, 1},
    [P] = {0, 1, 0, 1, 1, 1, 0, 0, 1},
    [D] = {0},
    [F] = {0},
    [R] = {0},
    [E] = {0},
    [X] = {0},
};

static void
test_table(void **state)
{
	(void)state;
	for (int from = 0; from < TS_COUNT; from++) {
		for (int to = 0; to < TS_COUNT; to++) {
			if (task_transition_allowed((enum task_status)from, (enum task_status)to) !=
			    allowed[from][to]) {
				fail_msg("%s -> %s: expected %s", task_status_name(from),
					 task_status_name(to),
					 allowed[from][to] ? "allowed" : "refused");
			}
		}
	}
}

/* The paths section 9.2 describes, step by step. */
static void
test_documented_paths(void **state)
{
	static const struct {
		const char *what;
		enum task_status p[6];
		size_t n;
	} paths[] = {
	    {"signing without approval", {C, P, D}, 3},
	    {"signing without approval, failed", {C, P, F}, 3},
	    {"with approval", {C, W, A, P, D}, 5},
	    {"rejected", {C, W, R}, 3},
	    {"approval not given in time", {C, W, E}, 3},
	    {"an approval no longer counts", {C, W, A, W, A, P}, 6},
	    {"a restart: no longer counts", {C, W, A, P, W}, 5},
	    {"no longer counts, time over", {C, W, A, F}, 4},
	    {"a restart: interrupted", {C, F}, 2},
	    {"taken up again after a restart", {C, P, P, D}, 4},
	    {"canceled while waiting", {C, W, X}, 3},
	    {"canceled once approved", {C, W, A, X}, 4},
	    {"canceled while running", {C, P, X}, 3},
	    {"canceled at once", {C, X}, 2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t j = 1; j < paths[i].n; j++) {
			if (!task_transition_allowed(paths[i].p[j - 1], paths[i].p[j])) {
				fail_msg("%s: %s -> %s refused", paths[i].what,
					 task_status_name(paths[i].p[j - 1]),
					 task_status_name(paths[i].p[j]));
			}
		}
	}
}

/* What must never happen, whoever asks. */
static void
test_refused(void **state)
{
	(void)state;
	/* No signature without the quorum's approval. */
	assert_false(task_transition_allowed(W, P));
	assert_false(task_transition_allowed(W, D));
	assert_false(task_transition_allowed(C, A));
	/* Nothing is done without running. */
	assert_false(task_transition_allowed(C, D));
	assert_false(task_transition_allowed(A, D));
	/* Only a waiting task is decided on or expires. */
	assert_false(task_transition_allowed(C, R));
	assert_false(task_transition_allowed(A, R));
	assert_false(task_transition_allowed(P, E));
	assert_false(task_transition_allowed(W, F));
	/* A final status is final: not even canceled, not rewritten as itself. */
	for (int from = D; from <= X; from++) {
		assert_true(task_status_final((enum task_status)from));
		for (int to = 0; to < TS_COUNT; to++) {
			assert_false(
			    task_transition_allowed((enum task_status)from, (enum task_status)to));
		}
	}
	/* A broken record (TS_COUNT) and values out of range go nowhere. */
	assert_false(task_transition_allowed(TS_COUNT, X));
	assert_false(task_transition_allowed(C, TS_COUNT));
	assert_false(task_transition_allowed((enum task_status) - 1, C));
	assert_false(task_transition_allowed(C, (enum task_status) - 1));
}

/* ---- the record writes ---- */

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-tasks.XXXXXX");
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

struct op {
	const enum task_status *path; /* task_put_new with these, or */
	size_t npath;
	enum task_status to;     /* task_set_status to this */
	enum task_status status; /* after: the stored record's status (TS_COUNT: none) */
	uint64_t events;         /* after: the last event's sequence number */
};

static int
op_txn(struct store_txn *t, void *arg)
{
	struct op *x = arg;
	struct evnote n = {0};
	struct task task;
	int rc;

	if (x->path != NULL) {
		task_init(&task);
		snprintf(task.id, sizeof(task.id), "%s", ID_A);
		snprintf(task.tenant, sizeof(task.tenant), "acme");
		task.type = TT_SIGNING;
		task.requester = strdup("USER:bob");
		task.devconf_id = strdup("dc");
		task.name = strdup("input");
		task.created_at = 1796621318;
		task.inputs = json_array();
		rc = task_put_new(t, &n, &task, x->path, x->npath);
	} else if ((rc = task_get(t, "acme", ID_A, &task)) == 0) {
		rc = task_set_status(t, &n, &task, x->to, NULL);
	}
	task_clear(&task);
	return rc;
}

static int
look_txn(struct store_txn *t, void *arg)
{
	struct op *x = arg;
	struct task task;

	x->status = task_get(t, "acme", ID_A, &task) == 0 ? task.status : TS_COUNT;
	x->events = events_last_seq(t);
	task_clear(&task);
	return 0;
}

/* Run one write; then what the store holds. */
static int
run(struct fixture *f, struct op *x)
{
	int rc = store_write(f->st, op_txn, x);

	assert_int_equal(store_read(f->st, look_txn, x), 0);
	return rc;
}

static int
set_status(struct fixture *f, enum task_status to, struct op *x)
{
	memset(x, 0, sizeof(*x));
	x->to = to;
	return run(f, x);
}

/* A new task's path is walked through the model: a path that skips a step is refused. */
static void
test_put_new_checks_path(void **state)
{
	static const enum task_status skip_run[] = {C, D}, stay[] = {C, C}, at_once[] = {C, P, D};
	struct fixture *f = *state;
	struct op x = {.path = skip_run, .npath = 2};

	assert_int_equal(run(f, &x), SIGNET_EINTERNAL);
	assert_int_equal(x.status, TS_COUNT); /* nothing stored */
	assert_int_equal(x.events, 0);
	x = (struct op){.path = stay, .npath = 2};
	assert_int_equal(run(f, &x), SIGNET_EINTERNAL);
	assert_int_equal(x.status, TS_COUNT);
	x = (struct op){.path = at_once, .npath = 3};
	assert_int_equal(run(f, &x), 0);
	assert_int_equal(x.status, D);
	assert_int_equal(x.events, 1); /* written ended: one task.status event, its end */
}

/* task_set_status moves a stored task only along the model; a refusal changes nothing. */
static void
test_set_status_checks_change(void **state)
{
	static const enum task_status waiting[] = {C, W};
	struct fixture *f = *state;
	struct op x = {.path = waiting, .npath = 2};

	assert_int_equal(run(f, &x), 0);
	assert_int_equal(x.status, W);
	assert_int_equal(x.events, 2);
	/* Running it without approval. */
	assert_int_equal(set_status(f, P, &x), SIGNET_EINTERNAL);
	assert_int_equal(x.status, W);
	assert_int_equal(x.events, 2);
	assert_int_equal(set_status(f, D, &x), SIGNET_EINTERNAL);
	assert_int_equal(x.status, W);
	assert_int_equal(set_status(f, A, &x), 0);
	assert_int_equal(x.status, A);
	assert_int_equal(x.events, 3);
	assert_int_equal(set_status(f, P, &x), 0);
	/* Taken up again: the record is written, no event (the status did not change). */
	assert_int_equal(set_status(f, P, &x), 0);
	assert_int_equal(x.status, P);
	assert_int_equal(x.events, 4);
	assert_int_equal(set_status(f, D, &x), 0);
	assert_int_equal(x.events, 5);
	/* DONE is final: no cancel, no second run, no DONE again. */
	assert_int_equal(set_status(f, X, &x), SIGNET_EINTERNAL);
	assert_int_equal(set_status(f, P, &x), SIGNET_EINTERNAL);
	assert_int_equal(set_status(f, D, &x), SIGNET_EINTERNAL);
	assert_int_equal(x.status, D);
	assert_int_equal(x.events, 5);
}

/* A signing task run at once, as task.show gives it (and as it was stored whole before). */
#define SHA "98cfc1a7e174b97a624b3f55453c143d338176f5492d7c5fcb6d27a2998b3310"
static const char whole_task[] =
    "{\"id\":\"" ID_A "\",\"tenant\":\"acme\",\"type\":\"SIGNING\",\"status\":\"DONE\","
    "\"name\":\"input\",\"requester\":\"USER:alice\","
    "\"deviceConfigId\":\"01a24ef9-ba15-7591-a17f-c104e6e92962\",\"deviceConfigName\":\"sign\","
    "\"inputs\":[{\"name\":\"input\",\"size\":32,\"sha256\":\"" SHA "\",\"prehashed\":true}],"
    "\"approval\":{\"required\":false,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"approvals\":[],"
    "\"decision\":null,\"result\":{\"signature\":\"MEUCIGew6hvp8DXO\",\"keyLabel\":\"sk\"},"
    "\"reason\":null,\"parent\":null,\"children\":[],\"createdAt\":1796621318,"
    "\"signing\":{\"key\":\"sk\",\"algorithm\":\"ECC_NIST_P256\",\"prehashed\":true,"
    "\"digest\":\"" SHA "\"},\"updatedAt\":1796621318,\"startedAt\":1796621318,"
    "\"finishedAt\":1796621319}";

static void
assert_json_same(const json_t *a, const json_t *b)
{
	char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);

	assert_non_null(x);
	assert_non_null(y);
	assert_string_equal(x, y); /* the same members, in the same order */
	free(x);
	free(y);
}

/* The stored form of the whole record W: encoded from its typed record. */
static json_t *
pack(const json_t *w)
{
	struct task tt;
	json_t *rec;

	assert_int_equal(task_from_json(w, &tt), 0);
	rec = task_encode(&tt);
	task_clear(&tt);
	return rec;
}

/* The whole record of the stored form REC under KEY: decoded, or NULL. */
static json_t *
load(const char *key, size_t klen, const json_t *rec)
{
	struct task tt;
	json_t *w;

	if (task_decode(key, klen, rec, &tt) != 0) {
		return NULL;
	}
	w = task_to_json(&tt);
	task_clear(&tt);
	return w;
}

/* The stored form is brief, and reads back as the whole record, in the same order. */
static void
test_record_round_trip(void **state)
{
	json_t *task = json_loads(whole_task, 0, NULL), *rec, *back;
	char key[128];
	size_t klen = store_key2(key, sizeof(key), "acme", ID_A);
	char *text;

	(void)state;
	assert_non_null(task);
	rec = pack(task);
	assert_non_null(rec);
	text = json_dumps(rec, JSON_COMPACT);
	/* No id, tenant, defaults or the digest twice; about half the bytes. */
	assert_null(strstr(text, ID_A));
	assert_null(strstr(text, "null"));
	assert_non_null(strstr(text, SHA));
	assert_null(strstr(strstr(text, SHA) + 64, SHA));
	assert_true(strlen(text) * 10 < strlen(whole_task) * 6);
	free(text);
	back = load(key, klen, rec);
	assert_non_null(back);
	assert_json_same(back, task);
	json_decref(back);
	json_decref(rec);
	/* A task whose members differ from the defaults keeps them. */
	json_object_set_new(task, "name", json_string("fw.bin"));
	json_object_set_new(task, "reason", json_string("why"));
	json_object_set_new(json_object_get(task, "signing"), "digest", json_string("ab"));
	json_object_set_new(json_object_get(task, "result"), "keyLabel", json_string("old"));
	rec = pack(task);
	back = load(key, klen, rec);
	assert_json_same(back, task);
	json_decref(back);
	json_decref(rec);
	json_decref(task);
}

/* Ids are valid version 7 UUIDs, made in increasing order even within a millisecond. */
static void
test_new_ids_increase(void **state)
{
	char prev[TASK_ID_LEN + 1], id[TASK_ID_LEN + 1];

	(void)state;
	task_new_id("acme", prev);
	assert_true(task_id_valid(prev));
	for (int i = 0; i < 200000; i++) {
		task_new_id("acme", id);
		assert_true(task_id_valid(id));
		assert_int_equal(id[14], '7');
		assert_true(strchr("89ab", id[19]) != NULL);
		assert_true(strcmp(id, prev) > 0);
		memcpy(prev, id, sizeof(id));
	}
}

/* A result that repeats the signing's scheme, hash and encoding is stored without them. */
static void
test_record_result_shared(void **state)
{
	json_t *task = json_loads(whole_task, 0, NULL), *rec, *back, *sg, *res;
	char key[128];
	size_t klen = store_key2(key, sizeof(key), "acme", ID_A);
	struct task tt;

	(void)state;
	sg = json_object_get(task, "signing");
	json_object_set_new(sg, "scheme", json_string("ECDSA"));
	json_object_set_new(sg, "hash", json_string("SHA-256"));
	json_object_set_new(sg, "encoding", json_string("der"));
	res = json_pack("{s:s, s:s, s:s, s:s, s:s}", "signature", "MEUC", "keyLabel", "sk",
			"scheme", "ECDSA", "hash", "SHA-256", "encoding", "der");
	json_object_set_new(task, "result", res);
	rec = pack(task);
	assert_null(json_object_get(rec, "r"));
	assert_non_null(json_object_get(rec, "rz"));
	assert_null(json_object_get(json_object_get(rec, "rz"), "scheme"));
	assert_null(json_object_get(json_object_get(rec, "rz"), "keyLabel"));
	assert_int_equal(task_decode(key, klen, rec, &tt), 0);
	assert_json_same(tt.result, res); /* the same members, in the order they were made */
	task_clear(&tt);
	/* A record with both (none is written so): "rz" is the result. */
	json_object_set_new(rec, "r", json_pack("{s:s}", "signature", "other"));
	assert_int_equal(task_decode(key, klen, rec, &tt), 0);
	assert_json_same(tt.result, res);
	task_clear(&tt);
	json_decref(rec);
	/* One differs (an older signetd's result, raw r||s): stored whole but the key. */
	json_object_set_new(res, "encoding", json_string("raw"));
	rec = pack(task);
	assert_null(json_object_get(rec, "rz"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(rec, "r"), "encoding")), "raw");
	back = load(key, klen, rec);
	assert_true(json_equal(json_object_get(back, "result"), res));
	json_decref(back);
	json_decref(rec);
	/* The signing has no hash, the result neither: still brief, and nothing is added. */
	json_object_del(sg, "hash");
	json_object_del(res, "hash");
	json_object_set_new(res, "encoding", json_string("der"));
	rec = pack(task);
	assert_non_null(json_object_get(rec, "rz"));
	back = load(key, klen, rec);
	assert_true(json_equal(json_object_get(back, "result"), res));
	assert_null(json_object_get(json_object_get(back, "result"), "hash"));
	json_decref(back);
	json_decref(rec);
	json_decref(task);
}

/* A record stored whole, by an older signetd, reads as it is. */
static void
test_record_old_form(void **state)
{
	json_t *task = json_loads(whole_task, 0, NULL), *back;
	char key[128];
	size_t klen = store_key2(key, sizeof(key), "acme", ID_A);

	(void)state;
	back = load(key, klen, task);
	assert_non_null(back);
	assert_json_same(back, task);
	json_decref(back);
	json_decref(task);
}

struct old_put {
	const char *text;
	bool event;
};

/* Write records the way an older signetd did: whole, under the same keys. */
static int
old_put_txn(struct store_txn *t, void *arg)
{
	struct old_put *o = arg;
	json_t *v = json_loads(o->text, 0, NULL);
	char key[128];
	size_t klen;

	if (o->event) {
		uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 1};
		store_put_json(t, STORE_DB_EVENTS, k, 8, v, true);
	} else {
		klen = store_key2(key, sizeof(key), "acme", ID_A);
		store_put_json(t, STORE_DB_TASKS, key, klen, v, true);
		json_decref(v);
		v = json_pack("{s:s}", "tenant", "acme");
		store_put_json(t, STORE_DB_TASK_REFS, ID_A, strlen(ID_A), v, true);
	}
	json_decref(v);
	return t->err;
}

struct old_read {
	json_t *task;
	char tenant[65];
	int rc;
};

static int
old_read_txn(struct store_txn *t, void *arg)
{
	struct old_read *o = arg;
	struct task tt;

	o->rc = task_get(t, "acme", ID_A, &tt);
	o->task = o->rc == 0 ? task_to_json(&tt) : NULL;
	task_clear(&tt);
	if (o->rc == 0) {
		o->rc = task_tenant(t, ID_A, o->tenant, sizeof(o->tenant));
	}
	return 0;
}

static int
old_change_txn(struct store_txn *t, void *arg)
{
	struct evnote n = {0};
	struct task task;
	int rc;

	(void)arg;
	if ((rc = task_get(t, "acme", ID_A, &task)) == 0) {
		assert_int_equal(task_set_str(&task.reason, "looked at again"), 0);
		rc = task_put(t, &n, &task, TS_DONE);
	}
	task_clear(&task);
	return rc;
}

/* A state directory of today's signetd: its task and ref read back; a change stores them brief. */
static void
test_store_old_records(void **state)
{
	struct fixture *f = *state;
	struct old_put put = {whole_task, false};
	struct old_read rd = {0};
	json_t *want = json_loads(whole_task, 0, NULL);

	assert_int_equal(store_write(f->st, old_put_txn, &put), 0);
	assert_int_equal(store_read(f->st, old_read_txn, &rd), 0);
	assert_int_equal(rd.rc, 0);
	assert_string_equal(rd.tenant, "acme");
	assert_json_same(rd.task, want);
	json_decref(rd.task);
	assert_int_equal(store_write(f->st, old_change_txn, NULL), 0);
	memset(&rd, 0, sizeof(rd));
	assert_int_equal(store_read(f->st, old_read_txn, &rd), 0);
	assert_int_equal(rd.rc, 0);
	json_object_set_new(want, "reason", json_string("looked at again"));
	json_object_set(want, "updatedAt", json_object_get(rd.task, "updatedAt"));
	assert_json_same(rd.task, want);
	json_decref(rd.task);
	json_decref(want);
}

/* Events: stored brief and read back as sent; an old one reads as it is. */
static void
test_event_forms(void **state)
{
	uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 7};
	json_t *old = json_pack("{s:s, s:s, s:i, s:i}", "type", "task.status", "tenant", "acme",
				"seq", 7, "time", 5);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:i}", "y", "task.status", "tn", "acme", "st",
				"DONE", "tm", 5);
	json_t *ev;

	(void)state;
	ev = event_load(k, 8, old);
	assert_ptr_equal(ev, old);
	json_decref(ev);
	ev = event_load(k, 8, rec);
	assert_non_null(ev);
	{
		char *s = json_dumps(ev, JSON_COMPACT);
		assert_string_equal(
		    s, "{\"type\":\"task.status\",\"tenant\":\"acme\",\"status\":\"DONE\",\"seq\":7,"
		       "\"time\":5}");
		free(s);
	}
	json_decref(ev);
	json_decref(rec);
	json_decref(old);
}

struct prune {
	size_t n, keep, pruned;
	bool more;
	uint64_t first, last;
};

static int
events_txn(struct store_txn *t, void *arg)
{
	struct prune *p = arg;
	struct evnote n = {0};

	for (size_t i = 0; i < p->n && t->err == 0; i++) {
		events_append(t, &n, json_pack("{s:s}", "type", "task.status"));
	}
	return t->err;
}

static int
prune_txn(struct store_txn *t, void *arg)
{
	struct prune *p = arg;

	p->pruned = events_prune(t, p->keep, 4, &p->more);
	return t->err;
}

static int
ends_txn(struct store_txn *t, void *arg)
{
	struct prune *p = arg;

	p->first = events_first_seq(t);
	p->last = events_last_seq(t);
	return 0;
}

/* Events past the window go in batches, oldest first; the sequence goes on. */
static void
test_events_prune(void **state)
{
	struct fixture *f = *state;
	struct prune p = {.n = 10, .keep = 3};

	assert_int_equal(store_write(f->st, events_txn, &p), 0);
	assert_int_equal(store_write(f->st, prune_txn, &p), 0);
	assert_int_equal(p.pruned, 4);
	assert_true(p.more);
	assert_int_equal(store_write(f->st, prune_txn, &p), 0);
	assert_int_equal(p.pruned, 3);
	assert_false(p.more);
	assert_int_equal(store_write(f->st, prune_txn, &p), 0);
	assert_int_equal(p.pruned, 0);
	assert_int_equal(store_read(f->st, ends_txn, &p), 0);
	assert_int_equal(p.first, 8);
	assert_int_equal(p.last, 10);
	p.keep = 1;
	assert_int_equal(store_write(f->st, prune_txn, &p), 0);
	assert_int_equal(store_read(f->st, ends_txn, &p), 0);
	assert_int_equal(p.first, 10); /* the newest stays */
	p.n = 1;
	assert_int_equal(store_write(f->st, events_txn, &p), 0);
	assert_int_equal(store_read(f->st, ends_txn, &p), 0);
	assert_int_equal(p.last, 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_documented_paths),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test_setup_teardown(test_put_new_checks_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_status_checks_change, setup, teardown),
	    cmocka_unit_test(test_new_ids_increase),
	    cmocka_unit_test(test_record_round_trip),
	    cmocka_unit_test(test_record_result_shared),
	    cmocka_unit_test(test_record_old_form),
	    cmocka_unit_test_setup_teardown(test_store_old_records, setup, teardown),
	    cmocka_unit_test(test_event_forms),
	    cmocka_unit_test_setup_teardown(test_events_prune, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
	json_t *task = NULL;
	int rc;

	if (x->path != NULL) {
		task = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "id", ID_A, "tenant", "acme",
				 "type", "SIGNING", "requester", "USER:bob", "deviceConfigId", "dc",
				 "inputs");
		rc = task_put_new(t, &n, task, x->path, x->npath);
	} else if ((rc = task_get(t, "acme", ID_A, &task)) == 0) {
		rc = task_set_status(t, &n, task, x->to, NULL);
	}
	json_decref(task);
	return rc;
}

static int
look_txn(struct store_txn *t, void *arg)
{
	struct op *x = arg;
	json_t *task = NULL;

	x->status = task_get(t, "acme", ID_A, &task) == 0 ? task_status_of(task) : TS_COUNT;
	x->events = events_last_seq(t);
	json_decref(task);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_documented_paths),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test_setup_teardown(test_put_new_checks_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_status_checks_change, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

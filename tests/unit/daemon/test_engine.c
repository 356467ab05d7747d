/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/engine.c: due timers are swept in batches, many rows per commit. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/conf.h"
#include "daemon/daemon.h"
#include "daemon/engine.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "daemon/timers.h"
#include "lib/error.h"
#include "lib/util.h"

#define NTIMERS 1000

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
	snprintf(f->dir, sizeof(f->dir), "/tmp/signet-engine.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	config_init(&f->cfg);
	f->cfg.state_dir = strdup(f->dir);
	f->d.cfg = &f->cfg;
	assert_int_equal(store_open(path, 8u << 20, &f->d.store), 0);
	/* No token, no server: the engine sweeps timers all the same. */
	assert_int_equal(tasks_start(&f->d), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	int r;

	tasks_stop(&f->d);
	store_close(f->d.store);
	config_free(&f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	r = system(cmd);
	free(f);
	return r;
}

struct timers_put {
	int64_t due;
	size_t n;
};

/* N capability timers of made-up tasks, due at DUE, in one write. */
static int
timers_put_txn(struct store_txn *t, void *arg)
{
	struct timers_put *x = arg;

	for (size_t i = 0; i < x->n; i++) {
		char id[TASK_ID_LEN + 1];
		snprintf(id, sizeof(id), "01a2aaaa-0000-7000-8000-%012u", (unsigned)(i % 1000000));
		timer_put(t, x->due, "cap", "acme", id);
	}
	return t->err;
}

static int
timers_count_txn(struct store_txn *t, void *arg)
{
	*(size_t *)arg = store_count(t, STORE_DB_TIMERS);
	return 0;
}

static size_t
timers_left(struct fixture *f)
{
	size_t n = 0;

	assert_int_equal(store_read(f->d.store, timers_count_txn, &n), 0);
	return n;
}

static void
test_due_timers_counted(void **state)
{
	struct fixture *f = *state;
	struct timers_put past = {time_now() - 10, 300}, later = {time_now() + 3600, 1};

	assert_int_equal(store_write(f->d.store, timers_put_txn, &past), 0);
	assert_int_equal(store_write(f->d.store, timers_put_txn, &later), 0);
	/* Only those due now, and at most as many as asked for. */
	assert_int_equal(tasks_timers_due(&f->d, 100000), 300);
	assert_int_equal(tasks_timers_due(&f->d, 10), 10);
	assert_int_equal(timers_left(f), 301);
}

static void
test_sweep_in_batches(void **state)
{
	struct fixture *f = *state;
	struct timers_put past = {time_now() - 10, NTIMERS};
	uint64_t w0, c0, w1, c1;

	assert_int_equal(store_write(f->d.store, timers_put_txn, &past), 0);
	assert_int_equal(timers_left(f), NTIMERS);
	store_stats(f->d.store, &w0, &c0);
	/* One tick: the engine goes on, batch after batch, while timers are due. Wait for it. */
	tasks_tick(&f->d);
	for (int i = 0; i < 6000 && timers_left(f) > 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(timers_left(f), 0);
	assert_int_equal(tasks_timers_due(&f->d, 100000), 0);
	store_stats(f->d.store, &w1, &c1);
	/* 1000 rows at up to 256 a write: 4 writes, not 1000 (a commit may hold several). */
	assert_true(w1 - w0 <= (NTIMERS + 255) / 256);
	assert_true(c1 - c0 <= w1 - w0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_due_timers_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_in_batches, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads: each with its own token session, fed by a queue, answering through the loop. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/pool.h"
#include "daemon/workers.h"
#include "lib/error.h"
#include "lib/log.h"

struct workers {
	struct daemon *d;
	struct pool *pool; /* its lock guards the queues and counters below */
	worker_run_fn run;
	worker_done_fn done;
	void *arg;
	struct request *head, *tail; /* queued */
	struct request *done_head, *done_tail;
	long pending;
	long deferred; /* requests waiting for their commit */
	struct event *done_ev;
};

/* Under the lock: the next request; the queue drains before the threads stop. */
static void *
worker_pick(struct pool *p, struct pool_thread *t, bool *stop)
{
	struct workers *w = pool_owner(p);
	struct request *r = w->head;

	(void)t;
	if (r == NULL) {
		*stop = pool_stopping(p);
		return NULL;
	}
	w->head = r->next;
	if (w->head == NULL) {
		w->tail = NULL;
	}
	r->next = NULL;
	return r;
}

static void
worker_run(struct pool *p, struct pool_thread *t, void *work)
{
	struct workers *w = pool_owner(p);
	struct request *r = work;
	bool stopping;

	pool_lock(p);
	stopping = pool_stopping(p);
	pool_unlock(p);
	r->hs = pool_session(t);
	if (stopping) {
		/* The loop has ended (drain timeout): do not start what nobody will hear of. */
		r->err = SIGNET_EUNAVAILABLE;
		snprintf(r->message, sizeof(r->message), "the daemon is shutting down");
	} else {
		w->run(r);
	}
	r->hs = NULL;
}

/* Queue R for the loop (under the lock); the caller wakes the loop once unlocked. */
static void
done_push_locked(struct workers *w, struct request *r)
{
	r->next = NULL;
	if (w->done_tail != NULL) {
		w->done_tail->next = r;
	} else {
		w->done_head = r;
	}
	w->done_tail = r;
}

/* Under the lock, after the run: answer R through the loop, unless its finisher still holds it. */
static void
worker_done(struct pool *p, struct pool_thread *t, void *work)
{
	struct workers *w = pool_owner(p);
	struct request *r = work;

	(void)t;
	if (atomic_load(&r->stage) == REQ_DEFERRED) {
		/* Its finisher is still at work: workers_release answers it. */
		atomic_store(&r->stage, REQ_LET_GO);
		w->deferred++;
		return;
	}
	/* REQ_RUNNING, or REQ_LET_GO: its finisher let go first. Thread-safe with
	 * evthread_use_pthreads(): wakes the loop, touches none of its state. */
	done_push_locked(w, r);
	event_active(w->done_ev, EV_READ, 0);
}

static const struct pool_ops worker_ops = {
    .pick = worker_pick,
    .run = worker_run,
    .done = worker_done,
};

static void
workers_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;
	struct request *list, *next;

	pool_lock(w->pool);
	list = w->done_head;
	w->done_head = w->done_tail = NULL;
	pool_unlock(w->pool);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		pool_lock(w->pool);
		w->pending--;
		pool_unlock(w->pool);
		w->done(list, w->arg);
	}
}

int
workers_start(struct daemon *d, int n, worker_run_fn run, worker_done_fn done, void *arg,
	      struct workers **out)
{
	struct workers *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (w == NULL) {
		return -1;
	}
	w->d = d;
	w->run = run;
	w->done = done;
	w->arg = arg;
	w->pool = pool_new(d, "workers", &worker_ops, w);
	w->done_ev = event_new(d->base, -1, EV_PERSIST, workers_done_cb, w);
	if (w->pool == NULL || w->done_ev == NULL || pool_start(w->pool, n) != 0) {
		log_err("cannot start the request workers");
		pool_free(w->pool);
		if (w->done_ev != NULL) {
			event_free(w->done_ev);
		}
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void
workers_release(struct workers *w, struct request *r)
{
	pool_lock(w->pool);
	if (atomic_load(&r->stage) == REQ_DEFERRED) {
		/* Its worker has not let go of it yet: the worker answers it. */
		atomic_store(&r->stage, REQ_LET_GO);
		pool_unlock(w->pool);
		return;
	}
	done_push_locked(w, r);
	w->deferred--;
	pool_wake_all(w->pool); /* workers_stop may wait for the last of them */
	pool_unlock(w->pool);
	event_active(w->done_ev, EV_READ, 0);
}

void
workers_submit(struct workers *w, struct request *r)
{
	r->next = NULL;
	pool_lock(w->pool);
	if (w->tail != NULL) {
		w->tail->next = r;
	} else {
		w->head = r;
	}
	w->tail = r;
	w->pending++;
	pool_wake(w->pool);
	pool_unlock(w->pool);
}

long
workers_pending(struct workers *w)
{
	long n;

	pool_lock(w->pool);
	n = w->pending;
	pool_unlock(w->pool);
	return n;
}

void
workers_stop(struct workers *w)
{
	if (w == NULL) {
		return;
	}
	/* The queue drains (answered "shutting down" once the loop has ended), the threads end. */
	pool_stop(w->pool);
	/* Writes still being committed answer through us: wait for them. */
	pool_lock(w->pool);
	while (w->deferred > 0) {
		pool_wait(w->pool);
	}
	pool_unlock(w->pool);
	/* Answer whatever finished after the loop stopped listening. */
	workers_done_cb(-1, 0, w);
	event_free(w->done_ev);
	pool_free(w->pool);
	free(w);
}

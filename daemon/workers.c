/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads: each with its own token session, fed by a queue, answering through the loop. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/workers.h"
#include "hsm/hsm.h"
#include "lib/error.h"
#include "lib/log.h"

struct worker {
	struct workers *pool;
	pthread_t thread;
	int index;
	struct hsm_session *hs;
};

struct workers {
	struct daemon *d;
	worker_run_fn run;
	worker_done_fn done;
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct request *head, *tail; /* queued */
	struct request *done_head, *done_tail;
	long pending;
	bool stopping;
	long deferred; /* requests waiting for their commit */
	pthread_cond_t deferred_cond;
	struct event *done_ev;
	int n;
	struct worker *threads;
};

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct workers *w = wk->pool;

	for (;;) {
		struct request *r;

		pthread_mutex_lock(&w->lock);
		while (w->head == NULL && !w->stopping) {
			pthread_cond_wait(&w->cond, &w->lock);
		}
		if (w->head == NULL) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		r = w->head;
		w->head = r->next;
		if (w->head == NULL) {
			w->tail = NULL;
		}
		pthread_mutex_unlock(&w->lock);

		/* A session per worker, opened on first need and kept. */
		if (wk->hs == NULL && w->d->hsm != NULL) {
			if (hsm_session_open(w->d->hsm, &wk->hs) != 0) {
				wk->hs = NULL;
			}
		}
		r->hs = wk->hs;
		r->next = NULL;
		if (w->stopping) {
			/* The loop has ended (drain timeout): do not start what nobody will hear
			 * of. */
			r->err = SIGNET_EUNAVAILABLE;
			snprintf(r->message, sizeof(r->message), "the daemon is shutting down");
		} else {
			w->run(r);
		}
		r->hs = NULL;
		pthread_mutex_lock(&w->lock);
		if (atomic_load(&r->stage) == REQ_DEFERRED) {
			/* Its finisher is still at work: workers_release answers it. */
			atomic_store(&r->stage, REQ_LET_GO);
			w->deferred++;
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		/* REQ_RUNNING, or REQ_LET_GO: its finisher let go first. */
		if (w->done_tail != NULL) {
			w->done_tail->next = r;
		} else {
			w->done_head = r;
		}
		w->done_tail = r;
		pthread_mutex_unlock(&w->lock);
		/* Thread-safe with evthread_use_pthreads(): wakes the loop, touches none of its
		 * state. */
		event_active(w->done_ev, EV_READ, 0);
	}
	hsm_session_close(wk->hs);
	wk->hs = NULL;
	return NULL;
}

static void
workers_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers *w = arg;
	struct request *list, *next;

	pthread_mutex_lock(&w->lock);
	list = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		list->next = NULL;
		pthread_mutex_lock(&w->lock);
		w->pending--;
		pthread_mutex_unlock(&w->lock);
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
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->deferred_cond, NULL);
	w->done_ev = event_new(d->base, -1, EV_PERSIST, workers_done_cb, w);
	w->threads = calloc((size_t)n, sizeof(*w->threads));
	if (w->done_ev == NULL || w->threads == NULL) {
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		w->threads[i].pool = w;
		w->threads[i].index = i;
		if (pthread_create(&w->threads[i].thread, NULL, worker_main, &w->threads[i]) != 0) {
			log_err("cannot start worker thread %d", i);
			w->n = i;
			workers_stop(w);
			return -1;
		}
		w->n = i + 1;
	}
	*out = w;
	return 0;
fail:
	if (w->done_ev != NULL) {
		event_free(w->done_ev);
	}
	free(w->threads);
	free(w);
	return -1;
}

void
workers_release(struct workers *w, struct request *r)
{
	pthread_mutex_lock(&w->lock);
	if (atomic_load(&r->stage) == REQ_DEFERRED) {
		/* Its worker has not let go of it yet: the worker answers it. */
		atomic_store(&r->stage, REQ_LET_GO);
		pthread_mutex_unlock(&w->lock);
		return;
	}
	r->next = NULL;
	if (w->done_tail != NULL) {
		w->done_tail->next = r;
	} else {
		w->done_head = r;
	}
	w->done_tail = r;
	w->deferred--;
	pthread_cond_broadcast(&w->deferred_cond);
	pthread_mutex_unlock(&w->lock);
	event_active(w->done_ev, EV_READ, 0);
}

void
workers_submit(struct workers *w, struct request *r)
{
	r->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail != NULL) {
		w->tail->next = r;
	} else {
		w->head = r;
	}
	w->tail = r;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

long
workers_pending(struct workers *w)
{
	long n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void
workers_stop(struct workers *w)
{
	if (w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n; i++) {
		pthread_join(w->threads[i].thread, NULL);
	}
	/* Writes still being committed answer through us: wait for them. */
	pthread_mutex_lock(&w->lock);
	while (w->deferred > 0) {
		pthread_cond_wait(&w->deferred_cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	/* Answer whatever finished after the loop stopped listening. */
	workers_done_cb(-1, 0, w);
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->deferred_cond);
	free(w->threads);
	free(w);
}

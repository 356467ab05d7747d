/* SPDX-License-Identifier: Apache-2.0 */
/* The ingest pool: threads that hash and copy large inputs off the request workers. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/dispatch.h"
#include "daemon/ingest.h"
#include "hsm/hsm.h"
#include "lib/error.h"
#include "lib/log.h"

struct ingest_job {
	struct request *r;
	ingest_fn fn;
	void *arg;
	struct ingest_job *next;
};

struct ingest_thread {
	struct ingest *pool;
	pthread_t thread;
	struct ingest_job *job; /* running now, or NULL */
	struct ingest_ctx cx;
};

struct ingest {
	struct daemon *d;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ingest_job *head, *tail; /* waiting, in arrival order */
	long waiting, running;
	int ready; /* threads that set their priority: the system call filter comes after */
	atomic_bool stop;
	int n;
	struct ingest_thread *threads;
};

static bool
same_user(const struct request *a, const struct request *b)
{
	return strcmp(a->subject.tenant, b->subject.tenant) == 0 &&
	       strcmp(a->subject.user, b->subject.user) == 0;
}

static bool
same_tenant(const struct request *a, const struct request *b)
{
	return strcmp(a->subject.tenant, b->subject.tenant) == 0;
}

/* May J start now, beside the jobs running? Caps per user and per tenant. */
static bool
may_start_locked(const struct ingest *p, const struct ingest_job *j)
{
	long user = 0, tenant = 0;

	for (int i = 0; i < p->n; i++) {
		const struct ingest_job *o = p->threads[i].job;
		if (o != NULL && same_tenant(o->r, j->r)) {
			tenant++;
			user += same_user(o->r, j->r);
		}
	}
	return user < p->d->cfg->ingest_per_user && tenant < p->d->cfg->ingest_per_tenant;
}

/* The first waiting job that may start (any, once stopping: it ends at once), unlinked. */
static struct ingest_job *
pick_locked(struct ingest *p)
{
	bool stopping = atomic_load(&p->stop);

	for (struct ingest_job **jp = &p->head, *prev = NULL; *jp != NULL;
	     prev = *jp, jp = &(*jp)->next) {
		struct ingest_job *j = *jp;
		if (!stopping && !may_start_locked(p, j)) {
			continue;
		}
		*jp = j->next;
		if (p->tail == j) {
			p->tail = prev;
		}
		j->next = NULL;
		p->waiting--;
		return j;
	}
	return NULL;
}

struct hsm_session *
ingest_session(struct ingest_ctx *cx)
{
	if (cx->hs == NULL && cx->d->hsm != NULL && hsm_session_open(cx->d->hsm, &cx->hs) != 0) {
		cx->hs = NULL;
	}
	return cx->hs;
}

static void *
ingest_main(void *arg)
{
	struct ingest_thread *it = arg;
	struct ingest *p = it->pool;

	/* Hashing gigabytes must not slow the loop and the request workers down. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), INGEST_NICE) != 0) {
		log_warning("ingest: cannot lower the thread's priority: %s", strerror(errno));
	}
	pthread_mutex_lock(&p->lock);
	p->ready++;
	pthread_cond_broadcast(&p->cond);
	for (;;) {
		struct ingest_job *j;
		int rc;
		while ((j = pick_locked(p)) == NULL &&
		       !(atomic_load(&p->stop) && p->head == NULL)) {
			pthread_cond_wait(&p->cond, &p->lock);
		}
		if (j == NULL) {
			break;
		}
		it->job = j;
		p->running++;
		pthread_mutex_unlock(&p->lock);

		rc = j->fn(j->r, &it->cx, j->arg);
		/* Answered through the loop; J's request is not ours to touch after this. */
		dispatch_finish(j->r, rc);

		pthread_mutex_lock(&p->lock);
		it->job = NULL;
		p->running--;
		free(j);
		/* A job of the same user or tenant may start now, on any thread. */
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	hsm_session_close(it->cx.hs);
	it->cx.hs = NULL;
	return NULL;
}

int
ingest_start(struct daemon *d)
{
	struct ingest *p = calloc(1, sizeof(*p));
	int n = (int)d->cfg->ingest_workers;

	if (p == NULL || (p->threads = calloc((size_t)n, sizeof(*p->threads))) == NULL) {
		free(p);
		return SIGNET_EINTERNAL;
	}
	p->d = d;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	atomic_init(&p->stop, false);
	d->ingest = p;
	for (int i = 0; i < n; i++) {
		struct ingest_thread *it = &p->threads[i];
		it->pool = p;
		it->cx.d = d;
		it->cx.stop = &p->stop;
		if (pthread_create(&it->thread, NULL, ingest_main, it) != 0) {
			log_err("cannot start ingest thread %d", i);
			ingest_stop(d);
			ingest_free(d);
			return SIGNET_EINTERNAL;
		}
		p->n = i + 1;
	}
	pthread_mutex_lock(&p->lock);
	while (p->ready < p->n) {
		pthread_cond_wait(&p->cond, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int
ingest_submit(struct request *r, ingest_fn fn, void *arg)
{
	struct ingest *p = r->d->ingest;
	struct ingest_job *j = calloc(1, sizeof(*j));
	long user = 0, tenant = 0;

	if (j == NULL) {
		return req_fail(r, SIGNET_EUNAVAILABLE, "out of memory");
	}
	j->r = r;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->stop)) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return req_fail(r, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
	}
	for (const struct ingest_job *o = p->head; o != NULL; o = o->next) {
		if (same_tenant(o->r, r)) {
			tenant++;
			user += same_user(o->r, r);
		}
	}
	if (user >= INGEST_WAIT_PER_USER || tenant >= INGEST_WAIT_PER_TENANT) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		log_notice(
		    "ingest: %s of tenant %s has %ld inputs waiting (the tenant %ld): refused",
		    r->subject.user, r->subject.tenant, user, tenant);
		return req_fail(r, SIGNET_EUNAVAILABLE,
				"too many inputs of %s %s are waiting to be read; send again later",
				user >= INGEST_WAIT_PER_USER ? "user" : "tenant",
				user >= INGEST_WAIT_PER_USER ? r->subject.user : r->subject.tenant);
	}
	/* Before a thread can see it: the worker must leave R to whoever finishes it. */
	dispatch_defer(r);
	if (p->tail != NULL) {
		p->tail->next = j;
	} else {
		p->head = j;
	}
	p->tail = j;
	p->waiting++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void
ingest_abort(struct daemon *d)
{
	struct ingest *p = d->ingest;

	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void
ingest_stop(struct daemon *d)
{
	struct ingest *p = d->ingest;

	if (p == NULL) {
		return;
	}
	ingest_abort(d);
	/* The threads run what waits (it ends at once) and leave when nothing does. */
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->threads[i].thread, NULL);
	}
	p->n = 0;
}

void
ingest_free(struct daemon *d)
{
	struct ingest *p = d->ingest;

	if (p == NULL) {
		return;
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
	d->ingest = NULL;
}

void
ingest_stats(struct daemon *d, struct ingest_stats *s)
{
	struct ingest *p = d->ingest;

	memset(s, 0, sizeof(*s));
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->lock);
	s->threads = p->n;
	s->running = p->running;
	s->waiting = p->waiting;
	pthread_mutex_unlock(&p->lock);
}

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
#include "daemon/pool.h"
#include "lib/error.h"
#include "lib/log.h"

/*
 * One input to read. Whose it is is copied from the request: once the job
 * runs, its request is answered (and freed) by the loop while the job may
 * still be looked at by another thread's pick.
 */
struct ingest_job {
	struct request *r;
	char tenant[ACL_NAME_MAX + 1];
	char user[ACL_NAME_MAX + 1];
	ingest_fn fn;
	void *arg;
	struct ingest_job *next;
};

/* What a thread of the ingest pool runs now, by pool thread index. */
struct ingest_thread {
	struct ingest_job *job; /* running now, or NULL */
	struct ingest_ctx cx;
};

struct ingest {
	struct daemon *d;
	struct pool *pool;              /* its lock guards what follows */
	struct ingest_job *head, *tail; /* waiting, in arrival order */
	long waiting, running;
	int ready; /* threads that set their priority: the system call filter comes after */
	atomic_bool stop;
	int n;
	struct ingest_thread *threads; /* N */
};

static bool
same_user(const struct ingest_job *a, const struct ingest_job *b)
{
	return strcmp(a->tenant, b->tenant) == 0 && strcmp(a->user, b->user) == 0;
}

static bool
same_tenant(const struct ingest_job *a, const struct ingest_job *b)
{
	return strcmp(a->tenant, b->tenant) == 0;
}

/* May J start now, beside the jobs running? Caps per user and per tenant. */
static bool
may_start_locked(const struct ingest *p, const struct ingest_job *j)
{
	long user = 0, tenant = 0;

	for (int i = 0; i < p->n; i++) {
		const struct ingest_job *o = p->threads[i].job;
		if (o != NULL && same_tenant(o, j)) {
			tenant++;
			user += same_user(o, j);
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
	return pool_session(cx->thread);
}

/* On the new thread: hashing gigabytes must not slow the loop and the request workers down. */
static void
ingest_thread_start(struct pool *pl, struct pool_thread *t)
{
	struct ingest *p = pool_owner(pl);

	if (setpriority(PRIO_PROCESS, (id_t)gettid(), INGEST_NICE) != 0) {
		log_warning("ingest: cannot lower the thread's priority: %s", strerror(errno));
	}
	pool_lock(pl);
	p->threads[t->index].cx.thread = t;
	p->ready++;
	pool_wake_all(pl);
	pool_unlock(pl);
}

static void *
ingest_pick(struct pool *pl, struct pool_thread *t, bool *stop)
{
	struct ingest *p = pool_owner(pl);
	struct ingest_job *j = pick_locked(p);

	if (j == NULL) {
		*stop = atomic_load(&p->stop) && p->head == NULL;
		return NULL;
	}
	p->threads[t->index].job = j;
	p->running++;
	return j;
}

static void
ingest_run(struct pool *pl, struct pool_thread *t, void *work)
{
	struct ingest *p = pool_owner(pl);
	struct ingest_job *j = work;

	/* Answered through the loop; J's request is not ours to touch after this. */
	dispatch_finish(j->r, j->fn(j->r, &p->threads[t->index].cx, j->arg));
}

static void
ingest_done(struct pool *pl, struct pool_thread *t, void *work)
{
	struct ingest *p = pool_owner(pl);

	p->threads[t->index].job = NULL;
	p->running--;
	free(work);
	/* A job of the same user or tenant may start now, on any thread. */
	pool_wake_all(pl);
}

static const struct pool_ops ingest_ops = {
    .pick = ingest_pick,
    .run = ingest_run,
    .done = ingest_done,
    .thread_start = ingest_thread_start,
};

int
ingest_start(struct daemon *d)
{
	struct ingest *p = calloc(1, sizeof(*p));
	int n = (int)d->cfg->ingest_workers;

	if (p == NULL || (p->threads = calloc((size_t)n, sizeof(*p->threads))) == NULL ||
	    (p->pool = pool_new(d, "ingest", &ingest_ops, p)) == NULL) {
		if (p != NULL) {
			free(p->threads);
		}
		free(p);
		return SIGNET_EINTERNAL;
	}
	p->d = d;
	p->n = n;
	atomic_init(&p->stop, false);
	for (int i = 0; i < n; i++) {
		p->threads[i].cx.d = d;
		p->threads[i].cx.stop = &p->stop;
	}
	d->ingest = p;
	if (pool_start(p->pool, n) != 0) {
		log_err("cannot start the ingest threads");
		ingest_stop(d);
		ingest_free(d);
		return SIGNET_EINTERNAL;
	}
	/* Each thread lowered its priority before the system call filter forbids it. */
	pool_lock(p->pool);
	while (p->ready < n) {
		pool_wait(p->pool);
	}
	pool_unlock(p->pool);
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
	snprintf(j->tenant, sizeof(j->tenant), "%s", r->subject.tenant);
	snprintf(j->user, sizeof(j->user), "%s", r->subject.user);
	j->fn = fn;
	j->arg = arg;
	pool_lock(p->pool);
	if (atomic_load(&p->stop)) {
		pool_unlock(p->pool);
		free(j);
		return req_fail(r, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
	}
	for (const struct ingest_job *o = p->head; o != NULL; o = o->next) {
		if (same_tenant(o, j)) {
			tenant++;
			user += same_user(o, j);
		}
	}
	if (user >= INGEST_WAIT_PER_USER || tenant >= INGEST_WAIT_PER_TENANT) {
		pool_unlock(p->pool);
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
	pool_wake_all(p->pool);
	pool_unlock(p->pool);
	return 0;
}

void
ingest_abort(struct daemon *d)
{
	struct ingest *p = d->ingest;

	if (p == NULL) {
		return;
	}
	pool_lock(p->pool);
	atomic_store(&p->stop, true);
	pool_wake_all(p->pool);
	pool_unlock(p->pool);
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
	pool_stop(p->pool);
}

void
ingest_free(struct daemon *d)
{
	struct ingest *p = d->ingest;

	if (p == NULL) {
		return;
	}
	pool_free(p->pool);
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
	pool_lock(p->pool);
	s->threads = pool_size(p->pool);
	s->running = p->running;
	s->waiting = p->waiting;
	pool_unlock(p->pool);
}

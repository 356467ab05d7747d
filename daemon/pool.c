/* SPDX-License-Identifier: Apache-2.0 */
/* A pool of threads with a token session each, run by its owner's pick (pool.h). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/pool.h"
#include "hsm/hsm.h"
#include "lib/log.h"

struct pool_slot {
	struct pool_thread t;
	pthread_t tid;
};

struct pool {
	struct daemon *d;
	char name[32];
	const struct pool_ops *ops;
	void *owner;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	int n;
	struct pool_slot *slots;
};

static void *
pool_main(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->pool;

	if (p->ops->thread_start != NULL) {
		p->ops->thread_start(p, t);
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		bool stop = false;
		void *work;

		while ((work = p->ops->pick(p, t, &stop)) == NULL && !stop) {
			pthread_cond_wait(&p->cond, &p->lock);
		}
		if (work == NULL) {
			break;
		}
		pthread_mutex_unlock(&p->lock);
		p->ops->run(p, t, work);
		pthread_mutex_lock(&p->lock);
		if (p->ops->done != NULL) {
			p->ops->done(p, t, work);
		}
	}
	pthread_mutex_unlock(&p->lock);
	hsm_session_close(t->hs);
	t->hs = NULL;
	return NULL;
}

struct pool *
pool_new(struct daemon *d, const char *name, const struct pool_ops *ops, void *owner)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		return NULL;
	}
	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->ops = ops;
	p->owner = owner;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	return p;
}

void
pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->slots[i].tid, NULL);
	}
	p->n = 0;
}

int
pool_start(struct pool *p, int n)
{
	if (n < 1 || p->slots != NULL ||
	    (p->slots = calloc((size_t)n, sizeof(*p->slots))) == NULL) {
		return -1;
	}
	for (int i = 0; i < n; i++) {
		p->slots[i].t.pool = p;
		p->slots[i].t.index = i;
	}
	for (int i = 0; i < n; i++) {
		if (pthread_create(&p->slots[i].tid, NULL, pool_main, &p->slots[i].t) != 0) {
			log_err("%s: cannot start thread %d", p->name, i);
			pool_stop(p);
			return -1;
		}
		pthread_mutex_lock(&p->lock);
		p->n = i + 1;
		pthread_mutex_unlock(&p->lock);
	}
	return 0;
}

void
pool_free(struct pool *p)
{
	if (p == NULL) {
		return;
	}
	pool_stop(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->slots);
	free(p);
}

void
pool_lock(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
}

void
pool_unlock(struct pool *p)
{
	pthread_mutex_unlock(&p->lock);
}

void
pool_wake(struct pool *p)
{
	pthread_cond_signal(&p->cond);
}

void
pool_wake_all(struct pool *p)
{
	pthread_cond_broadcast(&p->cond);
}

void
pool_wait(struct pool *p)
{
	pthread_cond_wait(&p->cond, &p->lock);
}

bool
pool_stopping(const struct pool *p)
{
	return p->stopping;
}

void *
pool_owner(const struct pool *p)
{
	return p->owner;
}

int
pool_size(const struct pool *p)
{
	return p->n;
}

struct pool_thread *
pool_thread(struct pool *p, int i)
{
	return &p->slots[i].t;
}

struct hsm_session *
pool_session(struct pool_thread *t)
{
	struct pool *p = t->pool;

	if (t->hs == NULL && p->d->hsm != NULL && hsm_session_open(p->d->hsm, &t->hs) != 0) {
		t->hs = NULL;
	}
	return t->hs;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Calls to signetd from the gateway's connection threads over a pool of socket connections. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/front.h"
#include "lib/client.h"
#include "lib/error.h"
#include "lib/log.h"

/*
 * A connection carries one call at a time and holds no per-user state (each
 * request carries its own token), so any thread may take any idle one.
 * Connections are opened on demand, at most MAX at once (a call waits for
 * one to come free, up to the call timeout), and kept open when idle. One
 * that failed or timed out is closed, never returned, so that a late reply
 * can never answer someone else's call.
 */
struct pool {
	char *path;
	int max, timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct client *idle;
	int nidle;
	int total; /* open, idle or in a call */
};

struct pool *
pool_new(const char *path, int max, int timeout_ms)
{
	struct pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (p == NULL || (p->path = strdup(path)) == NULL ||
	    (p->idle = calloc((size_t)max, sizeof(*p->idle))) == NULL) {
		if (p != NULL) {
			free(p->path);
		}
		free(p);
		return NULL;
	}
	p->max = max;
	p->timeout_ms = timeout_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void
pool_free(struct pool *p)
{
	if (p == NULL) {
		return;
	}
	for (int i = 0; i < p->nidle; i++) {
		client_close(&p->idle[i]);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	free(p->idle);
	free(p->path);
	free(p);
}

int
pool_connect(struct pool *p, struct client *out)
{
	int r = client_connect(out, p->path, p->timeout_ms);

	if (r != 0) {
		log_warning("cannot connect to signetd at %s: %s", p->path, strerror(-r));
	}
	return r;
}

static void pool_drop(struct pool *p, struct client *c);

static int
pool_take(struct pool *p, struct client *c)
{
	struct timespec until;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += p->timeout_ms / 1000;
	pthread_mutex_lock(&p->lock);
	while (p->nidle == 0 && p->total >= p->max) {
		if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->lock);
			return -ETIMEDOUT;
		}
	}
	if (p->nidle > 0) {
		*c = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	p->total++;
	pthread_mutex_unlock(&p->lock);
	if ((r = pool_connect(p, c)) != 0) {
		pool_drop(p, c);
	}
	return r;
}

/* A connection of the pool is closed (failed, or the pool is full of idle ones). */
static void
pool_drop(struct pool *p, struct client *c)
{
	client_close(c);
	pthread_mutex_lock(&p->lock);
	p->total--;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

static void
pool_give(struct pool *p, struct client *c)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = *c;
	c->fd = -1;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

static void
call_fail(struct call *c, int err, const char *msg)
{
	c->err = err;
	snprintf(c->code, sizeof(c->code), "%s", signet_err_code(err));
	snprintf(c->message, sizeof(c->message), "%s", msg);
}

void
pool_call(struct pool *p, const char *op, json_t *auth, json_t *args, const int *fds, int nfds,
	  struct call *c)
{
	struct client cl;
	json_t *reply = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = pool_take(p, &cl)) != 0) {
		call_fail(c, SIGNET_EUNAVAILABLE,
			  r == -ETIMEDOUT
			      ? "the gateway is busy: no connection to signetd came free"
			      : "signetd is not available");
		return;
	}
	r = client_call(&cl, op, auth, args, fds, nfds, &reply, c->fds, &c->nfds);
	/*
	 * A connection that signetd closed while idle refuses the send: the
	 * request never left, so it is safe to send it once more on a fresh
	 * connection. A reset after the send is not retried (it may have run).
	 */
	if (r == -EPIPE || r == -ECONNREFUSED) {
		client_close(&cl);
		if (pool_connect(p, &cl) != 0) {
			pool_drop(p, &cl);
			call_fail(c, SIGNET_EUNAVAILABLE, "signetd is not available");
			return;
		}
		r = client_call(&cl, op, auth, args, fds, nfds, &reply, c->fds, &c->nfds);
	}
	if (r != 0) {
		pool_drop(p, &cl);
		log_warning("%s: no answer from signetd: %s", op, strerror(-r));
		call_fail(c, SIGNET_EUNAVAILABLE,
			  r == -ETIMEDOUT ? "signetd did not answer in time"
					  : "signetd is not available");
		return;
	}
	pool_give(p, &cl);
	if (json_is_true(json_object_get(reply, "ok"))) {
		c->result = json_incref(json_object_get(reply, "result"));
		if (c->result == NULL) {
			c->result = json_object();
		}
	} else {
		json_t *e = json_object_get(reply, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));

		c->err = signet_err_from_code(code != NULL ? code : "internal");
		snprintf(c->code, sizeof(c->code), "%s", signet_err_code(c->err));
		snprintf(c->message, sizeof(c->message), "%s", msg != NULL ? msg : "error");
	}
	json_decref(reply);
}

void
call_done(struct call *c)
{
	json_decref(c->result);
	c->result = NULL;
	for (int i = 0; i < c->nfds; i++) {
		close(c->fds[i]);
	}
	c->nfds = 0;
}

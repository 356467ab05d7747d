/* SPDX-License-Identifier: Apache-2.0 */
/* Deadlines of the connections libmicrohttpd serves: one thread shuts down those that are late. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "front/front.h"
#include "lib/log.h"
#include "lib/util.h"

/*
 * libmicrohttpd knows only an inactivity timeout: a client that sends a
 * byte now and then holds its connection, and the connection's thread,
 * for ever. Here each connection has at most one deadline at a time (its
 * head, its body), and the thread shuts the socket down when it passes:
 * libmicrohttpd then sees the end of the connection and closes it. A
 * connection is removed before libmicrohttpd closes its socket
 * (MHD_CONNECTION_NOTIFY_CLOSED comes first), so a descriptor is never
 * shut down after it was reused.
 */
struct deadline {
	struct deadlines *ds;
	int fd;
	uint64_t at_ms; /* 0: none */
	const char *what;
	struct deadline *prev, *next;
};

struct deadlines {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t thread;
	bool stop;
	uint64_t wake_ms; /* when the thread wakes next (UINT64_MAX: when told) */
	struct deadline *head;
};

/* Shut down what is late; the earliest deadline still ahead, or UINT64_MAX. */
static uint64_t
expire_locked(struct deadlines *ds, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (struct deadline *d = ds->head; d != NULL; d = d->next) {
		if (d->at_ms == 0) {
			continue;
		}
		if (d->at_ms <= now) {
			log_notice("http: connection closed: %s did not arrive in time", d->what);
			shutdown(d->fd, SHUT_RDWR);
			d->at_ms = 0;
		} else if (d->at_ms < next) {
			next = d->at_ms;
		}
	}
	return next;
}

/* Wait MS milliseconds (UINT64_MAX: until told). */
static void
wait_locked(struct deadlines *ds, uint64_t ms)
{
	struct timespec ts;

	if (ms == UINT64_MAX) {
		pthread_cond_wait(&ds->changed, &ds->lock);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&ds->changed, &ds->lock, &ts);
}

static void *
deadlines_main(void *arg)
{
	struct deadlines *ds = arg;

	pthread_mutex_lock(&ds->lock);
	while (!ds->stop) {
		uint64_t now = time_mono_ms();

		ds->wake_ms = expire_locked(ds, now);
		wait_locked(ds, ds->wake_ms == UINT64_MAX ? UINT64_MAX : ds->wake_ms - now);
	}
	pthread_mutex_unlock(&ds->lock);
	return NULL;
}

struct deadlines *
deadlines_new(void)
{
	struct deadlines *ds = calloc(1, sizeof(*ds));
	pthread_condattr_t ca;
	int r;

	if (ds == NULL) {
		log_err("out of memory");
		return NULL;
	}
	pthread_mutex_init(&ds->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ds->changed, &ca);
	pthread_condattr_destroy(&ca);
	ds->wake_ms = UINT64_MAX;
	if ((r = pthread_create(&ds->thread, NULL, deadlines_main, ds)) != 0) {
		log_err("cannot start the deadline thread: %s", strerror(r));
		pthread_cond_destroy(&ds->changed);
		pthread_mutex_destroy(&ds->lock);
		free(ds);
		return NULL;
	}
	return ds;
}

void
deadlines_free(struct deadlines *ds)
{
	if (ds == NULL) {
		return;
	}
	pthread_mutex_lock(&ds->lock);
	ds->stop = true;
	pthread_cond_signal(&ds->changed);
	pthread_mutex_unlock(&ds->lock);
	pthread_join(ds->thread, NULL);
	while (ds->head != NULL) {
		struct deadline *d = ds->head;
		ds->head = d->next;
		free(d);
	}
	pthread_cond_destroy(&ds->changed);
	pthread_mutex_destroy(&ds->lock);
	free(ds);
}

struct deadline *
deadline_add(struct deadlines *ds, int fd)
{
	struct deadline *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		log_err("out of memory: a connection without deadlines");
		return NULL;
	}
	d->ds = ds;
	d->fd = fd;
	pthread_mutex_lock(&ds->lock);
	d->next = ds->head;
	if (ds->head != NULL) {
		ds->head->prev = d;
	}
	ds->head = d;
	pthread_mutex_unlock(&ds->lock);
	return d;
}

void
deadline_set(struct deadline *d, uint64_t at_ms, const char *what)
{
	struct deadlines *ds;

	if (d == NULL) {
		return;
	}
	ds = d->ds;
	pthread_mutex_lock(&ds->lock);
	d->at_ms = at_ms;
	d->what = what;
	if (at_ms != 0 && at_ms < ds->wake_ms) {
		ds->wake_ms = at_ms;
		pthread_cond_signal(&ds->changed);
	}
	pthread_mutex_unlock(&ds->lock);
}

void
deadline_remove(struct deadline *d)
{
	struct deadlines *ds;

	if (d == NULL) {
		return;
	}
	ds = d->ds;
	pthread_mutex_lock(&ds->lock);
	if (d->prev != NULL) {
		d->prev->next = d->next;
	} else {
		ds->head = d->next;
	}
	if (d->next != NULL) {
		d->next->prev = d->prev;
	}
	pthread_mutex_unlock(&ds->lock);
	free(d);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Failed authentications that name a tenant: one audit entry per source and window, with a count. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/authfail.h"

struct window {
	char tenant[65];
	long uid;
	int64_t start;   /* the recorded failure that opened the window */
	uint64_t count;  /* counted since, not yet recorded */
	int64_t first, last;
};

struct authfail {
	pthread_mutex_t lock;
	long window_s;
	struct window *w;
	size_t n;
};

struct authfail *
authfail_new(long window_s)
{
	struct authfail *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->w = calloc(AUTHFAIL_MAX_SOURCES + 1, sizeof(*a->w))) == NULL) {
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->window_s = window_s > 0 ? window_s : 1;
	return a;
}

void
authfail_free(struct authfail *a)
{
	if (a == NULL) {
		return;
	}
	pthread_mutex_destroy(&a->lock);
	free(a->w);
	free(a);
}

static void
take(struct window *w, struct authfail_sum *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->tenant, w->tenant, sizeof(out->tenant));
	out->uid = w->uid;
	out->count = w->count;
	out->from = w->first;
	out->to = w->last;
	w->count = 0;
}

static void
drop_locked(struct authfail *a, size_t i)
{
	a->w[i] = a->w[--a->n];
}

bool
authfail_note(struct authfail *a, const char *tenant, long uid, int64_t now,
	      struct authfail_sum *flush)
{
	struct window *w = NULL;
	bool own;

	memset(flush, 0, sizeof(*flush));
	if (strlen(tenant) >= sizeof(w->tenant)) {
		return true; /* not a tenant name: the caller does not get here */
	}
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n; i++) {
		if (a->w[i].uid == uid && strcmp(a->w[i].tenant, tenant) == 0) {
			w = &a->w[i];
			break;
		}
	}
	if (w == NULL && a->n >= AUTHFAIL_MAX_SOURCES) {
		/* Too many sources at once: they share one window per tenant... */
		uid = AUTHFAIL_OVERFLOW_UID;
		for (size_t i = 0; i < a->n; i++) {
			if (a->w[i].uid == uid && strcmp(a->w[i].tenant, tenant) == 0) {
				w = &a->w[i];
				break;
			}
		}
		if (w == NULL) {
			/* ...kept in the spare slot past the table's end, one tenant at a time. */
			w = &a->w[AUTHFAIL_MAX_SOURCES];
			if (w->count > 0 && strcmp(w->tenant, tenant) != 0) {
				take(w, flush);
			}
			if (strcmp(w->tenant, tenant) != 0 || w->uid != uid) {
				memset(w, 0, sizeof(*w));
				strcpy(w->tenant, tenant);
				w->uid = uid;
				w->start = now;
				pthread_mutex_unlock(&a->lock);
				return true;
			}
		}
	}
	if (w == NULL) {
		w = &a->w[a->n++];
		memset(w, 0, sizeof(*w));
		strcpy(w->tenant, tenant);
		w->uid = uid;
		w->start = now;
		pthread_mutex_unlock(&a->lock);
		return true;
	}
	if (now - w->start >= a->window_s || now < w->start) {
		/* The window ended: its count goes out, and this failure opens the next one. */
		if (w->count > 0) {
			take(w, flush);
		}
		w->start = now;
		own = true;
	} else {
		if (w->count == 0) {
			w->first = now;
		}
		w->count++;
		w->last = now;
		own = false;
	}
	pthread_mutex_unlock(&a->lock);
	return own;
}

size_t
authfail_due(struct authfail *a, int64_t now, bool all, struct authfail_sum *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n && k < max;) {
		struct window *w = &a->w[i];
		if (all || now - w->start >= a->window_s || now < w->start) {
			if (w->count > 0) {
				take(w, &out[k++]);
			}
			drop_locked(a, i);
			continue;
		}
		i++;
	}
	if (k < max && a->w[AUTHFAIL_MAX_SOURCES].count > 0 &&
	    (all || now - a->w[AUTHFAIL_MAX_SOURCES].start >= a->window_s)) {
		take(&a->w[AUTHFAIL_MAX_SOURCES], &out[k++]);
	}
	pthread_mutex_unlock(&a->lock);
	return k;
}

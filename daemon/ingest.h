/* SPDX-License-Identifier: Apache-2.0 */
/* The ingest pool: threads that hash and copy large inputs off the request workers. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/daemon.h"

/*
 * Inputs of at most this many bytes are read on the request worker, as an
 * inline input is: a thread hop would cost more than the read.
 */
#define INGEST_INLINE_MAX (1u << 20)
/* Requests of one user, and of one tenant, waiting for an ingest thread; more are refused. */
#define INGEST_WAIT_PER_USER   8
#define INGEST_WAIT_PER_TENANT 32
/* Ingest threads run at this nice value: reading inputs yields the CPU to everyone else. */
#define INGEST_NICE 10

/* What an ingest job gets from its thread. */
struct pool_thread;

struct ingest_ctx {
	struct daemon *d;
	const atomic_bool *stop;    /* set when the daemon stops: a long read ends early */
	struct pool_thread *thread; /* the ingest pool's thread running the work (pool.h) */
};

/* The thread's token session, opened on first need and kept (NULL: the token is not available). */
struct hsm_session *ingest_session(struct ingest_ctx *cx);

/*
 * The work of one request on an ingest thread: read its input, then store
 * its task. Returns the request's result code; it owns ARG.
 */
typedef int (*ingest_fn)(struct request *r, struct ingest_ctx *cx, void *arg);

int ingest_start(struct daemon *d);
/*
 * Run FN(R, ..., ARG) on an ingest thread, at most [tasks] ingest_per_user
 * of one user and ingest_per_tenant of one tenant at a time; R is answered
 * when FN returns (R is deferred here: dispatch_defer), with an audit entry of its
 * own when FN wrote none. On a worker only; R is not the caller's after 0.
 * SIGNET_EUNAVAILABLE, with R's message, when R's user or tenant has too
 * many requests waiting or the daemon stops: nothing is queued then and
 * ARG is still the caller's.
 */
int ingest_submit(struct request *r, ingest_fn fn, void *arg);
/* At shutdown, from the loop: reads under way end early, waiting ones are refused; never blocks. */
void ingest_abort(struct daemon *d);
/* After the loop: the same, then join the threads. */
void ingest_stop(struct daemon *d);
/* After the request workers stopped: free the pool. */
void ingest_free(struct daemon *d);

struct ingest_stats {
	long threads, running, waiting;
};
void ingest_stats(struct daemon *d, struct ingest_stats *s);

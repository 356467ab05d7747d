/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pool of threads, each with its own token session, and the lock and
 * condition its owner's queue lives under: the one building block of the
 * request workers (workers.c), the task engine (engine.c) and the ingest
 * threads (ingest.c). The pool runs the loop; the owner says what a thread
 * does next.
 *
 * A thread takes the pool's lock and asks the owner's PICK what to do; PICK
 * returns work, or NULL to wait for pool_wake, or sets *STOP to end the
 * thread. RUN does the work without the lock, with the thread's session
 * (pool_session, opened on first need and kept until the thread ends);
 * DONE, when given, runs under the lock again after it. The owner's queue
 * and counters are touched only under the lock (pool_lock), and whoever
 * changes them so that a thread may now pick calls pool_wake (one) or
 * pool_wake_all.
 *
 * Why separate pools and not one for all work: each bounds what one kind of
 * work may hold. A 4 GiB encryption ([tasks] workers) never takes the thread
 * a 2 ms request ([daemon] workers) needs, and a slow client's upload
 * ([tasks] ingest_workers, at a lower priority) never holds either.
 */
#pragma once

#include <stdbool.h>

struct daemon;
struct hsm_session;
struct pool;

struct pool_thread {
	struct pool *pool;
	int index;
	struct hsm_session *hs; /* opened by pool_session */
};

struct pool_ops {
	/* Under the lock: the next work for T; NULL to wait; *STOP = true to end T. */
	void *(*pick)(struct pool *p, struct pool_thread *t, bool *stop);
	/* Without the lock: do WORK. */
	void (*run)(struct pool *p, struct pool_thread *t, void *work);
	/* Under the lock, after RUN (optional). */
	void (*done)(struct pool *p, struct pool_thread *t, void *work);
	/* On the new thread, before its first pick (optional). */
	void (*thread_start)(struct pool *p, struct pool_thread *t);
};

/* A pool named NAME (for logs) for OWNER, with no thread yet. NULL when out of memory. */
struct pool *pool_new(struct daemon *d, const char *name, const struct pool_ops *ops, void *owner);
/* Start N threads. On failure the threads started are stopped and joined; the pool stays. */
int pool_start(struct pool *p, int n);
/*
 * Stop: every thread is told (pool_stopping turns true, each PICK sees it and
 * ends its thread when it will), then joined; each closed its session. The
 * lock and condition stay usable until pool_free.
 */
void pool_stop(struct pool *p);
/* Stop if not yet stopped, and free the pool. NULL is a no-op. */
void pool_free(struct pool *p);

void pool_lock(struct pool *p);
void pool_unlock(struct pool *p);
/* Under the lock: wake one waiting thread, or all of them. */
void pool_wake(struct pool *p);
void pool_wake_all(struct pool *p);
/* Under the lock: wait on the pool's condition (for an owner waiting for its threads). */
void pool_wait(struct pool *p);
/* Under the lock: has pool_free begun? */
bool pool_stopping(const struct pool *p);

void *pool_owner(const struct pool *p);
int pool_size(const struct pool *p);
/* Thread I (0 <= I < pool_size). */
struct pool_thread *pool_thread(struct pool *p, int i);
/* T's token session, opened on first need (NULL without a token, or when it cannot be opened:
 * the work reports the token's error itself). */
struct hsm_session *pool_session(struct pool_thread *t);

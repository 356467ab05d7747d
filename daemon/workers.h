/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads: each with its own token session, fed by a queue, answering through the loop. */
#pragma once

#include "daemon/daemon.h"

/* Called on a worker thread for each request; the worker's session is in R->hs. */
typedef void (*worker_run_fn)(struct request *r);
/* Called on the loop thread for each finished request. */
typedef void (*worker_done_fn)(struct request *r, void *arg);

int workers_start(struct daemon *d, int n, worker_run_fn run, worker_done_fn done, void *arg,
		  struct workers **out);
/* Queue a request; never blocks. */
void workers_submit(struct workers *w, struct request *r);
/*
 * The finisher of a deferred request (R->stage, daemon.h) lets go of it: the
 * last of it and the worker hands R to the loop. Any thread; through
 * dispatch_finish (or the audit entry it writes), never directly.
 */
void workers_release(struct workers *w, struct request *r);
/* Requests queued or running now. */
long workers_pending(struct workers *w);
/* Let the queue drain, then stop and join every thread and close their sessions. */
void workers_stop(struct workers *w);

/* SPDX-License-Identifier: Apache-2.0 */
/* The task engine: its queue and threads, the sweep of due timers, recovery after a crash. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/tasks.h"

/*
 * Move task ID from one of FROM to TO in its own durable write (with its
 * event and audit entry), storing RESULT (taken; may be NULL) when given.
 * SIGNET_ECONFLICT when the task was in none of FROM.
 */
int engine_transition(struct daemon *d, const char *tenant, const char *id,
		      const enum task_status *from, size_t nfrom, enum task_status to,
		      const char *reason, json_t *result);

/* Start and stop the engine's threads ([tasks] workers). */
int tasks_start(struct daemon *d);
void tasks_stop(struct daemon *d);
/* Before serving: re-queue or fail what a crash left behind; remove orphan spool files. */
int tasks_recover(struct daemon *d);
/* Queue a task for a worker of the engine. */
void tasks_enqueue(struct daemon *d, const char *tenant, const char *id);
/*
 * Queue a task that reads its input in place from FD (taken): an
 * encryption without approval, so the input is not copied to the spool
 * first. Such a task cannot survive a restart: it fails as interrupted.
 */
void tasks_enqueue_fd(struct daemon *d, const char *tenant, const char *id, int fd);
#define TASKS_DIRECT_MAX 64 /* queued tasks holding a client's descriptor; more are spooled */
bool tasks_direct_ok(struct daemon *d);
/*
 * May a new task that needs the engine now (not one that waits for
 * approval) be created? 0, or SIGNET_EUNAVAILABLE with WHY (a retry hint)
 * while the engine's queue is full ([tasks] queue_max) or tasks accepted
 * when it was full still wait in the store. Checked before anything is
 * written; a task created anyway (a race, an approval) is never lost: it
 * waits in the store and the engine finds it again.
 */
int tasks_admit(struct daemon *d, char *why, size_t whylen);
/* From the loop's timer: let the engine look at due timers (and at tasks waiting in the store). */
void tasks_tick(struct daemon *d);

/* The engine now, for the status op. */
struct tasks_stats {
	size_t threads;
	size_t queued, queue_max;
	bool backlog;  /* tasks accepted while the queue was full wait in the store */
	bool sweeping; /* due timers are being handled */
};
void tasks_stats(struct daemon *d, struct tasks_stats *s);
/* Timers due now (result expiry, capability removal, approval expiry), counted up to MAX. */
size_t tasks_timers_due(struct daemon *d, size_t max);

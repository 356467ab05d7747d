/* SPDX-License-Identifier: Apache-2.0 */
/* The task engine: its queue and threads, the sweep of due timers, recovery after a crash. */
#pragma once

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

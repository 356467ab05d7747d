/* SPDX-License-Identifier: Apache-2.0 */
/* Events: the global sequence that task.wait and events.watch follow, appended in a write. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/store.h"
#include "daemon/tasks.h"

/*
 * What a write transaction published: the last event sequence it appended
 * and the tasks it moved to a final status, for the loop to wake watchers
 * and waiters once the transaction is durable.
 */
struct evnote {
	uint64_t last;
	size_t nfinal;
	char final[16][TASK_ID_LEN + 1];
	bool overflow;
	struct task_tally tally; /* statuses entered, for the metrics (added once committed) */
};

/* Append an event (taking EV) to the global sequence; records it in N. */
int events_append(struct store_txn *t, struct evnote *n, json_t *ev);
/* An event as stored under KEY (the be64 seq) as events.watch sends it: a new reference, or NULL.
 */
json_t *event_load(const void *key, size_t klen, json_t *rec);
/* After a commit: tell the loop (any thread; no-op before the server runs); count the tally. */
void events_publish(struct daemon *d, const struct evnote *n);
/*
 * Delete the oldest events past the newest KEEP ([tasks] events_keep), at
 * most MAX in this write transaction; how many went. MORE: others remain.
 * The newest event always stays: its seq goes on from there.
 */
size_t events_prune(struct store_txn *t, uint64_t keep, size_t max, bool *more);
/* The oldest sequence number in the store (0 when none): a watch may resume from it - 1. */
uint64_t events_first_seq(struct store_txn *t);
/* The last sequence number in the store (0 when none). */
uint64_t events_last_seq(struct store_txn *t);

/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks: the record, its status model and index, and what a client sees of it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"

#define TASK_ID_LEN 36 /* a UUID (version 7: time-ordered) */
/* The reason of a task that FAILED for lack of space: its code first, as with "interrupted: ". */
#define TASK_REASON_NO_SPACE                                                                       \
	"no_space: no space left on the device (the spool or the state directory is full)"

enum task_status {
	TS_CREATED,
	TS_WAITING,
	TS_APPROVED,
	TS_IN_PROGRESS,
	TS_DONE,
	TS_FAILED,
	TS_REJECTED,
	TS_EXPIRED,
	TS_CANCELED,
	TS_COUNT,
};

const char *task_status_name(enum task_status s);
int task_status_parse(const char *name, enum task_status *out);
bool task_status_final(enum task_status s);
/*
 * The status model (doc/protocol.md section 9.2): may a task in FROM move
 * to TO? Staying in a status that is not final is allowed (the record is
 * written again: a task IN_PROGRESS taken up after a restart); nothing
 * leaves a final status, and TS_COUNT (a broken record) goes nowhere.
 */
bool task_transition_allowed(enum task_status from, enum task_status to);
/* The status of a task record (TS_COUNT when the record is broken). */
enum task_status task_status_of(const json_t *task);

/* A new random time-ordered UUID. */
void task_new_id(char out[TASK_ID_LEN + 1]);
bool task_id_valid(const char *id);

/* What a write transaction published (daemon/events.h). */
struct evnote;

/*
 * In a write transaction: store a task record (new or changed) and its
 * index entry, moving it from OLD (TS_COUNT for a new task) to its current
 * status, and append a task.status event when the status changed.
 */
int task_put(struct store_txn *t, struct evnote *n, json_t *task, enum task_status old);
/*
 * Store a new task that went through the statuses PATH (CREATED, or
 * CREATED, IN_PROGRESS, DONE for a task run at once): the record and its
 * index once, in its last status, and an event for each status.
 */
int task_put_new(struct store_txn *t, struct evnote *n, json_t *task, const enum task_status *path,
		 size_t npath);
/* Change a task's status (and reason) in a write transaction. */
int task_set_status(struct store_txn *t, struct evnote *n, json_t *task, enum task_status st,
		    const char *reason);
/*
 * The task record as stored (a brief form, doc/formats.md) and back:
 * task_record_pack gives the stored form of TASK; task_record_load gives
 * the whole record of REC stored under KEY (tenant \0 id), a new
 * reference (REC itself when it was stored whole, before), or NULL.
 */
json_t *task_record_pack(const json_t *task);
json_t *task_record_load(const void *key, size_t klen, json_t *rec);
/* Fetch a task by tenant and id. */
int task_get(struct store_txn *t, const char *tenant, const char *id, json_t **out);
/* The tenant of a task id, from the refs db (TENANT holds ACL_NAME_MAX + 1). */
int task_tenant(struct store_txn *t, const char *id, char *tenant, size_t len);

/* Can SUBJECT see TASK (requester, VIEW on its device configuration, admin)? */
bool task_visible(const struct policy_subject *s, const json_t *task);
/* The client view of a task record. */
json_t *task_view(const json_t *task);

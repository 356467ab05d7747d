/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks: the record, its status model and index, and what a client sees of it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "policy/acl.h"

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

enum task_type {
	TT_SIGNING,
	TT_ENCRYPTION,
	TT_PACKAGING,
	TT_COUNT, /* a broken record */
};

/*
 * The task record: what task.show returns (doc/protocol.md section 9), typed.
 *
 * The members every task has are fields. The sub-documents whose layout
 * depends on the kind of task, the scheme or the package format (inputs,
 * signing, encryption, packaging, result, approvals, children) are JSON
 * values the record owns one reference to, held whole (as a client sees
 * them; the stored form's abbreviations are undone by task_decode); NULL
 * for one the task does not have. Members this signetd does not know
 * (written by a later one) are kept in EXTRA and written back unchanged.
 *
 * Strings are owned (task_clear frees them); NULL where the record holds
 * null. A time is Unix seconds, 0 while it has not happened.
 */
struct task {
	char id[TASK_ID_LEN + 1];
	char tenant[ACL_NAME_MAX + 1];
	enum task_type type;
	enum task_status status;
	char *name;           /* the input's name, "input" when none was given */
	char *requester;      /* USER:alice or CLIENT:name */
	char *devconf_id;     /* the device configuration it runs under */
	char *devconf_name;   /* its name when the task was made */
	struct {
		bool required; /* the configuration asked for four eyes */
		int quorum;
		char *second_factor; /* "TOTP" */
	} approval;
	char *decision; /* APPROVED, REJECTED, EXPIRED, CANCELED; NULL while none */
	char *reason;   /* why it FAILED (or was refused), NULL */
	char *parent;   /* a package's child: the package's id; NULL */
	int64_t created_at, updated_at, started_at, finished_at;
	bool spool;         /* its input (or result) is in the spool */
	bool direct;        /* a package's child whose result goes straight into the package */
	int64_t result_max; /* the room kept for its result in the spool, -1 when none */
	char *expected_sha256; /* an input read in place: the sha256 the client gave, or NULL */
	json_t *inputs;     /* [{name, size, sha256 (or sha384), ...}] */
	json_t *approvals;  /* [{approver, decision, at, ...}] */
	json_t *children;   /* a package's: [id, ...] */
	json_t *result;     /* NULL while none */
	json_t *signing;    /* {key, algorithm, digest, scheme, ...}; NULL if it signs nothing */
	json_t *encryption; /* {key, cipher, ...} */
	json_t *packaging;  /* {format, header, segmentSizes, ...} */
	json_t *extra;      /* members not known here: an object, or NULL */
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
const char *task_type_name(enum task_type type);
int task_type_parse(const char *name, enum task_type *out);

/* A task with no members set (result_max -1); task_clear frees what it holds. */
void task_init(struct task *task);
void task_clear(struct task *task);
/*
 * The record's one decoder and its one encoder. task_decode reads a stored
 * record REC under KEY (tenant \0 id) — the brief form, or the whole form
 * records were stored in before — into OUT (initialised by it); -1 when
 * broken. task_encode gives the stored form, below.
 *
 * The stored form (STORE_DB_TASKS, key tenant \0 id) is a JSON object that
 * leaves out what the key or the rest of the record says, and names
 * members briefly: t type, st status, n name (absent: "input"), rq
 * requester, dc/dn device configuration id/name, in inputs (an input's
 * name absent when it is the task's), ap approval (absent: not required,
 * quorum 1, TOTP), av approvals (absent: none), de decision, r result (a
 * signature's keyLabel absent when it is the signing key), rz a signature
 * result that also leaves out the scheme, hash and encoding its signing
 * holds, rs reason, pa parent, ch children (absent: none), c createdAt, sg
 * signing (digest true: its one input's sha256, or sha384), en encryption,
 * pk packaging, u/s/f updatedAt/startedAt/finishedAt as seconds after c;
 * spool, direct, resultMax and expectedSha256 as they are. Absent or null
 * members are null. A record with "type" is the whole form, as signetd
 * stored it before. Members not known are kept as they are.
 */
int task_decode(const void *key, size_t klen, const json_t *rec, struct task *out);
json_t *task_encode(const struct task *task);
/* The whole record as JSON (what task.show returns, with the daemon's own members), and back. */
json_t *task_to_json(const struct task *task);
int task_from_json(const json_t *whole, struct task *out);

/*
 * A new random time-ordered UUID (version 7) for a record of TENANT: greater
 * than every id made before it for that tenant by this process.
 */
void task_new_id(const char *tenant, char out[TASK_ID_LEN + 1]);
bool task_id_valid(const char *id);

/* What a write transaction published (daemon/events.h). */
struct evnote;

/*
 * In a write transaction: store a task record (new or changed) and its
 * index entry, moving it from OLD (TS_COUNT for a new task) to its current
 * status, and append a task.status event when the status changed.
 */
int task_put(struct store_txn *t, struct evnote *n, struct task *task, enum task_status old);
/*
 * Store a new task that went through the statuses PATH (CREATED, or
 * CREATED, IN_PROGRESS, DONE for a task run at once): the record and its
 * index once, in its last status, and an event for each status.
 */
int task_put_new(struct store_txn *t, struct evnote *n, struct task *task,
		 const enum task_status *path, size_t npath);
/* Change a task's status (and reason) in a write transaction. */
int task_set_status(struct store_txn *t, struct evnote *n, struct task *task, enum task_status st,
		    const char *reason);
/* Fetch a task by tenant and id into OUT (initialised by it; task_clear it). */
int task_get(struct store_txn *t, const char *tenant, const char *id, struct task *out);
/* Replace an owned string member (S may be NULL); -1 when out of memory. */
int task_set_str(char **field, const char *s);

/* The tenant of a task id, from the refs db (TENANT holds ACL_NAME_MAX + 1). */
int task_tenant(struct store_txn *t, const char *id, char *tenant, size_t len);

/* Can SUBJECT see TASK (requester, VIEW on its device configuration, admin)? */
bool task_visible(const struct policy_subject *s, const struct task *task);
/* The client view of a task record. */
json_t *task_view(const struct task *task);

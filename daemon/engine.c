/* SPDX-License-Identifier: Apache-2.0 */
/* Running tasks: the engine's queue and threads, status changes, expiry, recovery after a crash. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/approvals.h"
#include "daemon/audit.h"
#include "daemon/engine.h"
#include "daemon/events.h"
#include "daemon/exec.h"
#include "daemon/keyref.h"
#include "daemon/package.h"
#include "daemon/pool.h"
#include "daemon/rules.h"
#include "daemon/spool.h"
#include "daemon/tasks.h"
#include "daemon/timers.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/approval.h"

struct job {
	char tenant[ACL_NAME_MAX + 1];
	char id[TASK_ID_LEN + 1];
	int fd; /* the client's input, read in place (a task without a spooled copy); else -1 */
	bool resume; /* found IN_PROGRESS after a restart: it may start from there */
	struct job *next;
};

/*
 * What a thread of the engine's pool holds (so a refind does not queue it
 * again), and whether it swept last (then it takes a waiting task first).
 */
struct engine_thread {
	char holding[TASK_ID_LEN + 1];
	bool swept;
};

/*
 * The queue is bounded (QUEUE_MAX, [tasks] queue_max). A task accepted
 * while it is full is not lost: its record waits in the store (CREATED,
 * APPROVED, or IN_PROGRESS after a restart) and BACKLOG says that some do;
 * the first thread to find the queue empty reads them back (engine_refind).
 * DROPPED counts the tasks left in the store, so a refind knows whether one
 * came in while it read. Due timers are swept in batches by one thread at a
 * time (SWEEPING), and a thread that swept takes a task next if one waits.
 */
struct engine {
	struct daemon *d;
	struct pool *pool; /* its threads run tasks; its lock guards what follows */
	struct job *head, *tail;
	size_t queued, queue_max;
	bool backlog, refinding, refind_hold, recovered;
	uint64_t dropped;
	bool sweep_wanted, sweeping;
	int direct; /* queued jobs holding a client's descriptor */
	int n;
	struct engine_thread *threads; /* N, by pool thread index */
};

/* The task's status changes, each in its own transaction. */
struct transition {
	struct daemon *d;
	const char *tenant, *id;
	enum task_status from[4];
	size_t nfrom;
	enum task_status to;
	const char *reason;
	json_t *result;
	json_t *input;    /* the first input's sha256 and size, learned while running */
	struct task task; /* out: the record as written */
	struct evnote note;
	bool skipped;
	/*
	 * Starting a task that needed approval: its approvals are counted again
	 * first; when too few still count it goes back to WAITING (or FAILED,
	 * its time for approval over) instead of TO.
	 */
	bool recount;
	char why[300];
};

/* The start of a task that needed approval, when too few of its approvals still count. */
static int
transition_recount(struct store_txn *t, struct transition *x)
{
	struct task *task = &x->task;
	int counting, voided, r;
	char first[200];

	if (!task->approval.required) {
		return 0;
	}
	if ((r = approvals_recount(t, x->d, task, &counting, &voided, first, sizeof(first))) != 0) {
		return r;
	}
	if (approval_outcome(counting, false, task->approval.quorum) == APPROVAL_APPROVED) {
		return 0;
	}
	if (task_set_str(&task->decision, NULL) != 0) {
		return SIGNET_EINTERNAL;
	}
	if (approval_expired(task->created_at, x->d->cfg->approval_ttl, time_now())) {
		snprintf(x->why, sizeof(x->why),
			 "the task lacks the approvals its quorum asks for, and its time for "
			 "approval is over (%s)",
			 first[0] != '\0' ? first : "too few approvals count");
		x->to = TS_FAILED;
		x->reason = x->why;
	} else {
		snprintf(x->why, sizeof(x->why), "waiting again: an approval no longer counts (%s)",
			 first[0] != '\0' ? first : "too few approvals count");
		x->to = TS_WAITING;
		x->reason = NULL;
	}
	return 0;
}

static int
transition_txn(struct store_txn *t, void *arg)
{
	struct transition *x = arg;
	bool ok = false;
	int r;

	memset(&x->note, 0, sizeof(x->note));
	x->skipped = false;
	if (x->recount) {
		/* Repeatable: the store may run this again. */
		x->to = TS_IN_PROGRESS;
		x->reason = NULL;
		x->why[0] = '\0';
	}
	task_clear(&x->task);
	if ((r = task_get(t, x->tenant, x->id, &x->task)) != 0) {
		return r;
	}
	for (size_t i = 0; i < x->nfrom; i++) {
		ok = ok || x->task.status == x->from[i];
	}
	if (!ok) {
		x->skipped = true;
		return 0;
	}
	if (x->recount && (r = transition_recount(t, x)) != 0) {
		return r;
	}
	if (x->result != NULL) {
		/* Shared with the caller, who keeps its reference: nothing here changes it. */
		json_decref(x->task.result);
		x->task.result = json_incref(x->result);
	}
	if (x->input != NULL) {
		json_object_update(json_array_get(x->task.inputs, 0), x->input);
	}
	if ((r = task_set_status(t, &x->note, &x->task, x->to, x->reason)) != 0) {
		return r;
	}
	{
		struct audit_actor a;
		char res[64];
		const char *verb = x->to == TS_IN_PROGRESS ? "STARTED"
				   : x->to == TS_DONE      ? "DONE"
				   : x->to == TS_FAILED    ? "FAILED"
							   : task_status_name(x->to);
		audit_actor_daemon(x->d, x->tenant, &a);
		snprintf(res, sizeof(res), "TASK:%s", x->id);
		if ((r = audit_append(t, x->tenant, &a, verb, res,
				      x->reason != NULL   ? x->reason
				      : x->why[0] != '\0' ? x->why
							  : task_status_name(x->to),
				      NULL)) != 0) {
			return r;
		}
	}
	if (task_status_final(x->to)) {
		int64_t now = time_now();
		const json_t *res = x->task.result;
		if (json_is_integer(json_object_get(res, "expiresAt"))) {
			timer_put(t, json_integer_value(json_object_get(res, "expiresAt")),
				  "result", x->tenant, x->id);
		}
		timer_put(t, now + x->d->cfg->capability_grace, "cap", x->tenant, x->id);
	}
	return t->err;
}

static int
transition_in(struct daemon *d, const char *tenant, const char *id, const enum task_status *from,
	      size_t nfrom, enum task_status to, const char *reason, json_t *result, json_t *input)
{
	struct transition x = {.input = input,
			       .d = d,
			       .tenant = tenant,
			       .id = id,
			       .nfrom = nfrom,
			       .to = to,
			       .reason = reason,
			       .result = result};
	int r;

	task_init(&x.task);
	memcpy(x.from, from, nfrom * sizeof(*from));
	/* A task that ends releases its files: that commit may use the store's reserve. */
	r = task_status_final(to) ? store_write_reserve(d->store, transition_txn, &x)
				  : store_write(d->store, transition_txn, &x);
	if (r == 0 && !x.skipped) {
		events_publish(d, &x.note);
	}
	if (r == 0 && x.skipped) {
		r = SIGNET_ECONFLICT;
	}
	task_clear(&x.task);
	return r;
}

static int
transition(struct daemon *d, const char *tenant, const char *id, const enum task_status *from,
	   size_t nfrom, enum task_status to, const char *reason, json_t *result)
{
	return transition_in(d, tenant, id, from, nfrom, to, reason, result, NULL);
}

int
engine_transition(struct daemon *d, const char *tenant, const char *id,
		  const enum task_status *from, size_t nfrom, enum task_status to,
		  const char *reason, json_t *result)
{
	int r = transition(d, tenant, id, from, nfrom, to, reason, result);

	json_decref(result);
	return r;
}

struct auth_read {
	const struct task *task;
	char *why;
	size_t whylen;
};

static int
auth_read_txn(struct store_txn *t, void *arg)
{
	struct auth_read *x = arg;

	return exec_authorize(t, x->task, x->why, x->whylen);
}

/*
 * A task that needed approval runs only on what was approved: every
 * approval names the input digests it was given, and they must be the
 * task's; a signing digest of SHA-256 must be the approved input's.
 */
static bool
approvals_bound(const struct task *task, char *why, size_t whylen)
{
	const json_t *inputs = task->inputs;
	const json_t *sg = task->signing;
	const char *alg = json_string_value(json_object_get(sg, "algorithm"));
	const char *digest = json_string_value(json_object_get(sg, "digest"));
	const char *requester = task->requester;
	const json_t *hsha = json_object_get(json_object_get(task->packaging, "header"), "sha256");
	json_int_t quorum = task->approval.quorum;
	json_t *seen;
	size_t i, j, napproved = 0;
	json_t *a, *in;

	if (!task->approval.required) {
		return true;
	}
	if ((seen = json_object()) == NULL) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	json_array_foreach(task->approvals, i, a) {
		const json_t *d = json_object_get(a, "inputs");
		if (!approval_counts(a)) {
			continue; /* a rejection, or an approval that no longer counts */
		}
		{
			/* Distinct approvers who are not the requester (a backstop: decisions check
			 * it). */
			const char *who = json_string_value(json_object_get(a, "approver"));
			if (who != NULL && (requester == NULL || strcmp(who, requester) != 0) &&
			    json_object_get(seen, who) == NULL) {
				json_object_set_new(seen, who, json_true());
				napproved++;
			}
		}
		if (json_object_get(sg, "scheme") != NULL) {
			json_t *v = sign_params_view(sg);
			bool same = json_equal(json_object_get(a, "signingScheme"), v);
			json_decref(v);
			if (!same) {
				snprintf(why, whylen,
					 "the signature scheme is not the approved one");
				json_decref(seen);
				return false;
			}
		}
		if (digest != NULL && !json_equal(json_object_get(a, "signingDigest"),
						  json_object_get(sg, "digest"))) {
			snprintf(why, whylen, "the digest to sign is not the approved one");
			json_decref(seen);
			return false;
		}
		if (hsha != NULL && !json_equal(json_object_get(a, "headerSha256"), hsha)) {
			snprintf(why, whylen, "the package header to sign is not the approved one");
			json_decref(seen);
			return false;
		}
		if (json_array_size(d) != json_array_size(inputs)) {
			json_decref(seen);
			snprintf(why, whylen, "the approved inputs differ from the task's");
			return false;
		}
		json_array_foreach(inputs, j, in) {
			if (!json_equal(json_array_get(d, j), json_object_get(in, "sha256"))) {
				snprintf(why, whylen, "the approved inputs differ from the task's");
				json_decref(seen);
				return false;
			}
		}
	}
	json_decref(seen);
	if (napproved == 0 || (json_int_t)napproved < quorum) {
		snprintf(why, whylen, "the task lacks the approvals its quorum asks for");
		return false;
	}
	/* A SHA-256 digest (the recorded hash, or the key's before hashes were recorded). */
	if (digest != NULL && alg != NULL &&
	    (json_object_get(sg, "hash") != NULL
		 ? strcmp(json_string_value(json_object_get(sg, "hash")) ?: "", "SHA-256") == 0
		 : strcmp(alg, "ECC_NIST_P384") != 0) &&
	    !json_is_true(json_object_get(sg, "prehashed")) &&
	    !json_equal(json_object_get(json_array_get(inputs, 0), "sha256"),
			json_object_get(sg, "digest"))) {
		snprintf(why, whylen, "the digest to sign is not the approved input's");
		return false;
	}
	return true;
}

/*
 * Run one queued task from its current status to DONE or FAILED. Only a
 * task found IN_PROGRESS after a restart (RESUME) starts from there: a job
 * queued twice (a refind and the enqueue of its own request) runs once.
 */
static void
run_task(struct engine *e, struct hsm_session *hs, const char *tenant, const char *id,
	 int direct_fd, bool resume)
{
	static const enum task_status runnable[] = {TS_CREATED, TS_APPROVED, TS_IN_PROGRESS};
	struct daemon *d = e->d;
	struct task task;
	json_t *result = NULL, *input = NULL;
	char why[256] = "";
	int r;

	{
		struct transition x = {.d = d,
				       .tenant = tenant,
				       .id = id,
				       .nfrom = resume ? 3 : 2,
				       .to = TS_IN_PROGRESS,
				       .recount = true};
		task_init(&x.task);
		memcpy(x.from, runnable, sizeof(runnable));
		if ((r = store_write(d->store, transition_txn, &x)) != 0 || x.skipped) {
			task_clear(&x.task);
			if (r == SIGNET_ENOSPACE) {
				/* It cannot even start on a full disk: it ends now, not at a
				 * restart. */
				log_notice("task %s of tenant %s failed: %s", id, tenant,
					   TASK_REASON_NO_SPACE);
				if (transition(d, tenant, id, runnable, resume ? 3 : 2, TS_FAILED,
					       TASK_REASON_NO_SPACE, NULL) == 0) {
					spool_remove_inputs(d, id, 255);
				}
			}
			return; /* canceled, or already run */
		}
		events_publish(d, &x.note);
		task = x.task; /* taken: x.task is not cleared */
		if (x.to != TS_IN_PROGRESS) {
			/* Votes of approvers who lost the right: nothing runs on them. */
			log_notice("task %s of tenant %s: %s", id, tenant, x.reason ?: x.why);
			if (task_status_final(x.to)) {
				spool_remove_inputs(d, id, json_array_size(task.inputs));
			}
			task_clear(&task);
			return;
		}
	}
	{
		struct auth_read a = {&task, why, sizeof(why)};
		r = store_read(d->store, auth_read_txn, &a);
	}
	if (r == 0 && !approvals_bound(&task, why, sizeof(why))) {
		r = SIGNET_EDENIED;
	}
	if (r == 0 && hs == NULL) {
		snprintf(why, sizeof(why), "the token is not available");
		r = SIGNET_ETOKEN;
	}
	if (r == 0 && task.type == TT_ENCRYPTION) {
		r = exec_encrypt(d, hs, &task, direct_fd, &result, &input, why, sizeof(why));
	} else if (r == 0 && task.type == TT_SIGNING) {
		const char *label = json_string_value(json_object_get(task.signing, "key"));
		struct keyref k;
		uint8_t *msg = NULL;
		size_t msglen = 0;
		r = keyref_read(d, tenant, label != NULL ? label : "", &k, why, sizeof(why));
		if (r == 0) {
			r = keyref_check_purpose(&k, KEY_PURPOSE_SIGNING, why, sizeof(why));
		}
		if (r == 0 && (k.alg == HSM_ALG_ED25519 ||
			       json_is_true(json_object_get(task.signing, "attach")))) {
			char name[64], path[PATH_MAX];
			int fd;
			snprintf(name, sizeof(name), "%s.0", id);
			spool_path(d, "in", name, path, sizeof(path));
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0 ||
			    fd_read_all(fd,
					TASK_ED25519_MAX > TASK_ATTACH_MAX ? TASK_ED25519_MAX
									   : TASK_ATTACH_MAX,
					&msg, &msglen) != 0) {
				snprintf(why, sizeof(why), "interrupted: the input is gone");
				r = SIGNET_EUNAVAILABLE;
			}
			if (fd >= 0) {
				close(fd);
			}
			if (r == 0) {
				/* The message kept in the spool must be the one whose digest was
				 * recorded. */
				uint8_t md[32];
				char hex[65];
				EVP_Digest(msg, msglen, md, NULL, EVP_sha256(), NULL);
				hex_encode(md, sizeof(md), hex);
				if (strcmp(hex, json_string_value(json_object_get(
						    json_array_get(task.inputs, 0), "sha256"))
						    ?: "") != 0) {
					snprintf(why, sizeof(why),
						 "interrupted: the spooled input does not match "
						 "its hash");
					r = SIGNET_EUNAVAILABLE;
				}
			}
		}
		if (r == 0) {
			r = exec_sign(hs, &task, &k, msg, msglen, &result, why, sizeof(why));
		}
		free(msg);
		keyref_clear(&k);
	} else if (r == 0 && task.type == TT_PACKAGING) {
		r = exec_package(d, hs, &task, &result, why, sizeof(why));
	} else if (r == 0) {
		snprintf(why, sizeof(why), "unknown task type");
		r = SIGNET_EINTERNAL;
	}
	{
		static const enum task_status inprog[] = {TS_IN_PROGRESS};
		if (r == 0) {
			r = transition_in(d, tenant, id, inprog, 1, TS_DONE, NULL, result, input);
			if (r != 0) {
				/* Canceled meanwhile, or the store failed: the file is nobody's. */
				char out[PATH_MAX];
				log_err("task %s: cannot record its result: %s", id,
					signet_strerror(r));
				if (spool_path(d, "out", id, out, sizeof(out)) == 0) {
					unlink(out);
				}
			}
		} else {
			if (r == SIGNET_ENOSPACE) {
				snprintf(why, sizeof(why), "%s", TASK_REASON_NO_SPACE);
			}
			log_notice("task %s of tenant %s failed: %s", id, tenant, why);
			transition(d, tenant, id, inprog, 1, TS_FAILED,
				   why[0] ? why : signet_strerror(r), NULL);
			char tmp[PATH_MAX];
			if (spool_path(d, "tmp", id, tmp, sizeof(tmp)) == 0) {
				unlink(tmp);
			}
		}
	}
	spool_remove_inputs(d, id, json_array_size(task.inputs));
	json_decref(result);
	json_decref(input);
	task_clear(&task);
}

/* Expiry and capability removal */

/*
 * Due timers handled in one write transaction: enough that a sweep keeps
 * up with thousands of tasks a second, few enough that its commit stays
 * short (each row is at most a task record, an event and an audit entry).
 */
#define SWEEP_BATCH 256
/* Events pruned past [tasks] events_keep in one sweep's write: deletions alone, cheap ones. */
#define EVENTS_PRUNE_BATCH 2048

struct due {
	uint8_t key[128];
	size_t klen;
	char kind[16], tenant[ACL_NAME_MAX + 1], id[TASK_ID_LEN + 1];
	bool unlink_result;
	bool expired; /* a waiting task ran out of time: its spooled inputs go */
};

struct sweep_batch {
	struct daemon *d;
	int64_t now;
	struct due due[SWEEP_BATCH];
	size_t n;
	bool more; /* more timers were due than one batch takes, or more events to prune */
	size_t pruned;
	struct evnote note;
};

/* One due timer, in the batch's write transaction. */
static void
sweep_row(struct store_txn *t, struct sweep_batch *x, struct due *u)
{
	struct task task;

	task_init(&task);
	u->unlink_result = false;
	u->expired = false;
	store_del(t, STORE_DB_TIMERS, u->key, u->klen);
	if (strcmp(u->kind, "cap") == 0) {
		rules_del_capability(t, u->tenant, u->id);
	} else if (strcmp(u->kind, "approval") == 0 && task_get(t, u->tenant, u->id, &task) == 0) {
		/* Approval not given in time (approval_ttl): EXPIRED, decision EXPIRED. */
		if (task_transition_allowed(task.status, TS_EXPIRED)) {
			struct audit_actor a;
			char res[64];
			if (task_set_str(&task.decision, "EXPIRED") != 0) {
				/* Out of memory: the batch is not committed, and tried again. */
				if (t->err == 0) {
					t->err = SIGNET_EINTERNAL;
				}
				task_clear(&task);
				return;
			}
			task_set_status(t, &x->note, &task, TS_EXPIRED,
					"approval not given in time");
			audit_actor_daemon(x->d, u->tenant, &a);
			snprintf(res, sizeof(res), "TASK:%s", u->id);
			audit_append(t, u->tenant, &a, "EXPIRED", res, "approval not given in time",
				     NULL);
			timer_put(t, time_now() + x->d->cfg->capability_grace, "cap", u->tenant,
				  u->id);
			u->expired = true;
		}
	} else if (strcmp(u->kind, "result") == 0 && task_get(t, u->tenant, u->id, &task) == 0) {
		json_t *res = task.result;
		if (json_is_true(json_object_get(res, "available"))) {
			struct audit_actor a;
			char rid[64];
			json_t *ev;
			json_object_set_new(res, "available", json_false());
			json_object_set_new(res, "expiredAt", json_integer(time_now()));
			task_put(t, &x->note, &task, task.status);
			ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type",
				       "task.expired", "tenant", u->tenant, "task", u->id,
				       "taskType", task_type_name(task.type), "status",
				       task_status_name(task.status), "requester", task.requester,
				       "deviceConfigId", task.devconf_id);
			events_append(t, &x->note, ev);
			u->unlink_result = true;
			audit_actor_daemon(x->d, u->tenant, &a);
			snprintf(rid, sizeof(rid), "TASK:%s", u->id);
			audit_append(t, u->tenant, &a, "EXPIRED", rid, "result file removed", NULL);
		}
	}
	task_clear(&task);
}

static int
sweep_scan_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct sweep_batch *x = arg;
	struct due *u;
	const char *kind = json_string_value(json_object_get(val, "kind"));
	const char *tenant = json_string_value(json_object_get(val, "tenant"));
	const char *id = json_string_value(json_object_get(val, "id"));
	json_int_t due = json_integer_value(json_object_get(val, "due"));

	if (due > x->now) {
		return STORE_PAGE_FULL; /* in time order: nothing later is due */
	}
	if (x->n == SWEEP_BATCH) {
		x->more = true;
		return STORE_PAGE_FULL;
	}
	if (kind == NULL || tenant == NULL || id == NULL || key->len > sizeof(x->due[0].key) ||
	    strlen(kind) >= sizeof(x->due[0].kind) || strlen(tenant) > ACL_NAME_MAX ||
	    strlen(id) > TASK_ID_LEN) {
		log_err("a timer record is damaged; dropping it");
		kind = "bad";
		tenant = id = "";
	}
	u = &x->due[x->n++];
	memcpy(u->key, key->data, key->len);
	u->klen = key->len;
	snprintf(u->kind, sizeof(u->kind), "%s", kind);
	snprintf(u->tenant, sizeof(u->tenant), "%s", tenant);
	snprintf(u->id, sizeof(u->id), "%s", id);
	return 0;
}

/* Up to SWEEP_BATCH due timers, found and handled in one write (repeatable: the store may rerun
 * it). */
static int
sweep_batch_txn(struct store_txn *t, void *arg)
{
	struct sweep_batch *x = arg;
	struct store_page pg = {.limit = SWEEP_BATCH + 1};
	int r;

	x->n = 0;
	x->more = false;
	memset(&x->note, 0, sizeof(x->note));
	r = store_foreach_page(t, STORE_DB_TIMERS, NULL, 0, &pg, sweep_scan_cb, x);
	if (r != 0 && r != SIGNET_ETOO_LARGE) {
		return r;
	}
	for (size_t i = 0; i < x->n && t->err == 0; i++) {
		sweep_row(t, x, &x->due[i]);
	}
	/* Events past the resume window, oldest first; the audit log keeps the history. */
	if (t->err == 0) {
		bool more_events;
		x->pruned = events_prune(t, (uint64_t)x->d->cfg->events_keep, EVENTS_PRUNE_BATCH,
					 &more_events);
		x->more = x->more || more_events;
	}
	return t->err;
}

/* One batch of due timers; true when more are due (the engine gives it another turn). */
static bool
sweep(struct engine *e)
{
	struct daemon *d = e->d;
	struct sweep_batch *x = calloc(1, sizeof(*x));
	bool more;

	if (x == NULL) {
		return false;
	}
	x->d = d;
	x->now = time_now();
	/* Expiry frees space: it may use the reserve. */
	if (store_write_reserve(d->store, sweep_batch_txn, x) != 0) {
		free(x);
		return false; /* tried again at the next tick */
	}
	events_publish(d, &x->note);
	for (size_t i = 0; i < x->n; i++) {
		struct due *u = &x->due[i];
		if (u->expired) {
			spool_remove_inputs(d, u->id, 255);
			log_info("task %s: approval not given in time, expired", u->id);
		}
		if (u->unlink_result) {
			char path[PATH_MAX];
			if (spool_path(d, "out", u->id, path, sizeof(path)) == 0) {
				unlink(path);
			}
			log_info("task %s: result expired and removed", u->id);
		}
	}
	if (x->n > 0 || x->pruned > 0) {
		log_debug("sweep: %zu due timer(s) and %zu old event(s) in one write%s", x->n,
			  x->pruned, x->more ? ", more due" : "");
	}
	more = x->more;
	free(x);
	return more;
}

/* Finding queued tasks again */

struct pending {
	char tenant[ACL_NAME_MAX + 1];
	char id[TASK_ID_LEN + 1];
	enum task_status st;
};

/*
 * The unfinished tasks (CREATED, APPROVED, IN_PROGRESS) of every tenant,
 * read through the status index: time proportional to them, not to every
 * task ever kept. At most MAX of them when MAX is not 0 (then MORE says
 * whether there were others).
 */
struct pending_scan {
	struct pending *p;
	size_t n, cap, max;
	bool more;
	bool runnable; /* leave out what the engine never runs from the store (engine_refind) */
	int err;
	struct store_txn *t;
	const char *tenant; /* of the prefix being read */
	enum task_status st;
};

/* Children run inside their package; a task read in place cannot run without its client's file. */
static bool
pending_runnable(struct store_txn *t, const char *tenant, const char *id)
{
	struct task task;
	bool ok = task_get(t, tenant, id, &task) == 0 && task.parent == NULL && !task.direct;

	task_clear(&task);
	return ok;
}

static int
pending_cb(const struct store_key *key, void *arg)
{
	struct pending_scan *x = arg;
	size_t pl = strlen(x->tenant) + 1 + strlen(task_status_name(x->st)) + 1;

	if (key->len != pl + TASK_ID_LEN) {
		return 0;
	}
	if (x->runnable) {
		char id[TASK_ID_LEN + 1];
		memcpy(id, (const char *)key->data + pl, TASK_ID_LEN);
		id[TASK_ID_LEN] = '\0';
		if (!pending_runnable(x->t, x->tenant, id)) {
			return 0;
		}
	}
	if (x->max > 0 && x->n == x->max) {
		x->more = true;
		return 1;
	}
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		struct pending *np = realloc(x->p, ncap * sizeof(*np));
		if (np == NULL) {
			x->err = SIGNET_EINTERNAL;
			return SIGNET_EINTERNAL;
		}
		x->p = np;
		x->cap = ncap;
	}
	snprintf(x->p[x->n].tenant, sizeof(x->p[x->n].tenant), "%s", x->tenant);
	memcpy(x->p[x->n].id, (const char *)key->data + pl, TASK_ID_LEN);
	x->p[x->n].id[TASK_ID_LEN] = '\0';
	x->p[x->n].st = x->st;
	x->n++;
	return 0;
}

static int
tenant_name_cb(const struct store_key *key, void *arg)
{
	json_t *names = arg;

	if (key->len == 0 || key->len > ACL_NAME_MAX) {
		return 0;
	}
	return json_array_append_new(names, json_stringn(key->data, key->len)) == 0
		   ? 0
		   : SIGNET_EINTERNAL;
}

static int
pending_scan_txn(struct store_txn *t, void *arg)
{
	static const enum task_status live[] = {TS_CREATED, TS_APPROVED, TS_IN_PROGRESS};
	struct pending_scan *x = arg;
	json_t *names = json_array(), *v;
	size_t i;
	int r;

	x->n = 0;
	x->more = false;
	x->err = 0;
	x->t = t;
	if (names == NULL) {
		return SIGNET_EINTERNAL;
	}
	r = store_foreach_key(t, STORE_DB_TENANTS, NULL, 0, tenant_name_cb, names);
	json_array_foreach(names, i, v) {
		for (size_t k = 0; r == 0 && !x->more && k < sizeof(live) / sizeof(live[0]); k++) {
			char prefix[ACL_NAME_MAX + 32];
			const char *parts[] = {json_string_value(v), task_status_name(live[k]), ""};
			size_t plen = store_keyv(prefix, sizeof(prefix), parts, 3);
			x->tenant = json_string_value(v);
			x->st = live[k];
			if (plen > 0) {
				r = store_foreach_key(t, STORE_DB_TASK_INDEX, prefix, plen,
						      pending_cb, x);
			}
		}
	}
	json_decref(names);
	return r != 0 ? r : x->err;
}

/* Threads */

enum pick {
	PICK_NONE,
	PICK_RUN,
	PICK_SWEEP,
	PICK_REFIND,
	PICK_STOP,
};

/*
 * What a thread does next. The sweep takes one thread at a time, and a
 * thread that just swept a batch takes a waiting task before it sweeps
 * again: tasks get threads between batches, and the sweep gets its turns.
 */
static enum pick
engine_pick_locked(struct engine *e, bool swept, struct job **j)
{
	if (pool_stopping(e->pool)) {
		return PICK_STOP;
	}
	if (e->sweep_wanted && !e->sweeping && !(swept && e->head != NULL)) {
		return PICK_SWEEP;
	}
	if (e->head != NULL) {
		*j = e->head;
		e->head = (*j)->next;
		if (e->head == NULL) {
			e->tail = NULL;
		}
		e->queued--;
		return PICK_RUN;
	}
	if (e->backlog && e->recovered && !e->refinding && !e->refind_hold) {
		return PICK_REFIND;
	}
	return PICK_NONE;
}

/* Under the lock: queue J (taken), past the bound when FORCE; false when it stays in the store. */
static bool
engine_queue_locked(struct engine *e, struct job *j, bool force)
{
	if (pool_stopping(e->pool) || (!force && (e->backlog || e->queued >= e->queue_max))) {
		return false;
	}
	j->next = NULL;
	if (e->tail != NULL) {
		e->tail->next = j;
	} else {
		e->head = j;
	}
	e->tail = j;
	e->queued++;
	if (j->fd >= 0) {
		e->direct++;
	}
	pool_wake(e->pool);
	return true;
}

static struct job *
job_new(const char *tenant, const char *id, int fd, bool resume)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->fd = fd;
		j->resume = resume;
		snprintf(j->tenant, sizeof(j->tenant), "%s", tenant);
		snprintf(j->id, sizeof(j->id), "%s", id);
	}
	return j;
}

/* Is task ID held by a thread of the engine now? */
static bool
engine_holds_locked(const struct engine *e, const char *id)
{
	for (int i = 0; i < e->n; i++) {
		if (strcmp(e->threads[i].holding, id) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * The queue is empty and tasks accepted while it was full wait in the
 * store: queue up to queue_max of them again, oldest first per tenant.
 */
static void
engine_refind(struct engine *e)
{
	struct pending_scan x = {.max = e->queue_max, .runnable = true};
	size_t queued = 0;
	uint64_t dropped;
	int r;

	pool_lock(e->pool);
	dropped = e->dropped;
	pool_unlock(e->pool);
	r = store_read(e->d->store, pending_scan_txn, &x);
	pool_lock(e->pool);
	for (size_t i = 0; r == 0 && i < x.n; i++) {
		struct job *j;
		/* IN_PROGRESS and held: running now. Else interrupted by a restart: resumed. */
		if (x.p[i].st == TS_IN_PROGRESS && engine_holds_locked(e, x.p[i].id)) {
			continue;
		}
		j = job_new(x.p[i].tenant, x.p[i].id, -1, x.p[i].st == TS_IN_PROGRESS);
		if (j == NULL) {
			r = SIGNET_EINTERNAL;
			break;
		}
		if (!engine_queue_locked(e, j, true)) {
			free(j); /* stopping: it stays in the store */
			continue;
		}
		queued++;
	}
	if (r == 0 && !x.more && e->dropped == dropped) {
		e->backlog = false;
	}
	/* A failed read, or one that found nothing to queue, is tried again at the next tick. */
	e->refind_hold = r != 0 || (queued == 0 && e->backlog);
	e->refinding = false;
	pool_wake_all(e->pool);
	pool_unlock(e->pool);
	if (r != 0) {
		log_err("engine: cannot read the tasks waiting in the store: %s",
			signet_strerror(r));
	} else {
		log_info("engine: %zu task(s) queued again from the store%s", queued,
			 x.more ? ", more wait there" : "");
	}
	free(x.p);
}

/* The work a thread picks besides a task (a struct job). */
static char work_sweep, work_refind;

static void *
engine_pick(struct pool *p, struct pool_thread *t, bool *stop)
{
	struct engine *e = pool_owner(p);
	struct engine_thread *th = &e->threads[t->index];
	struct job *j = NULL;

	switch (engine_pick_locked(e, th->swept, &j)) {
	case PICK_STOP:
		*stop = true;
		return NULL;
	case PICK_SWEEP:
		e->sweeping = true;
		return &work_sweep;
	case PICK_REFIND:
		e->refinding = true;
		return &work_refind;
	case PICK_RUN:
		snprintf(th->holding, sizeof(th->holding), "%s", j->id);
		return j;
	case PICK_NONE:
		break;
	}
	return NULL;
}

static void
engine_run(struct pool *p, struct pool_thread *t, void *work)
{
	struct engine *e = pool_owner(p);
	struct engine_thread *th = &e->threads[t->index];
	struct job *j = work;

	th->swept = work == &work_sweep;
	if (work == &work_sweep) {
		bool more = sweep(e);
		pool_lock(p);
		e->sweeping = false;
		e->sweep_wanted = more; /* else at the next tick */
		pool_wake_all(p);
		pool_unlock(p);
		return;
	}
	if (work == &work_refind) {
		engine_refind(e);
		return;
	}
	run_task(e, pool_session(t), j->tenant, j->id, j->fd, j->resume);
	pool_lock(p);
	th->holding[0] = '\0';
	if (j->fd >= 0) {
		e->direct--;
	}
	pool_unlock(p);
	if (j->fd >= 0) {
		close(j->fd);
	}
	free(j);
}

static const struct pool_ops engine_ops = {
    .pick = engine_pick,
    .run = engine_run,
};

/*
 * Queue a task. A task read in place (FD) is always queued: it cannot wait
 * in the store. Any other waits there when the queue is full, and the
 * engine finds it again (engine_refind).
 */
static void
engine_enqueue(struct daemon *d, const char *tenant, const char *id, int fd, bool resume)
{
	struct engine *e = d->engine;
	struct job *j = job_new(tenant, id, fd, resume);
	bool queued = false;

	if (j == NULL || e == NULL) {
		/* Still CREATED in the store: the next start runs it (or fails it, if direct). */
		log_err("task %s: cannot queue it now; it is taken up after a restart", id);
		if (fd >= 0) {
			close(fd);
		}
		free(j);
		return;
	}
	pool_lock(e->pool);
	queued = engine_queue_locked(e, j, fd >= 0);
	if (!queued && !pool_stopping(e->pool)) {
		e->backlog = true;
		e->dropped++;
	}
	pool_unlock(e->pool);
	if (!queued) {
		/* What was not queued stays CREATED, APPROVED or IN_PROGRESS in the store. */
		if (fd >= 0) {
			close(fd);
		}
		free(j);
	}
}

bool
tasks_direct_ok(struct daemon *d)
{
	struct engine *e = d->engine;
	bool ok;

	if (e == NULL) {
		return false;
	}
	pool_lock(e->pool);
	ok = !pool_stopping(e->pool) && e->direct < TASKS_DIRECT_MAX;
	pool_unlock(e->pool);
	return ok;
}

int
tasks_admit(struct daemon *d, char *why, size_t whylen)
{
	struct engine *e = d->engine;
	size_t queued;
	bool full;

	if (e == NULL) {
		snprintf(why, whylen, "the daemon is shutting down");
		return SIGNET_EUNAVAILABLE;
	}
	pool_lock(e->pool);
	full = e->backlog || e->queued >= e->queue_max;
	queued = e->queued;
	pool_unlock(e->pool);
	if (!full) {
		return 0;
	}
	snprintf(why, whylen,
		 "the task engine is busy (%zu tasks queued, %s; [tasks] queue_max %zu): nothing "
		 "was created; send again in a few seconds",
		 queued, queued >= e->queue_max ? "the queue is full" : "more wait in the store",
		 e->queue_max);
	return SIGNET_EUNAVAILABLE;
}

void
tasks_enqueue(struct daemon *d, const char *tenant, const char *id)
{
	engine_enqueue(d, tenant, id, -1, false);
}

void
tasks_enqueue_fd(struct daemon *d, const char *tenant, const char *id, int fd)
{
	engine_enqueue(d, tenant, id, fd, false);
}

void
tasks_tick(struct daemon *d)
{
	struct engine *e = d->engine;

	if (e == NULL) {
		return;
	}
	pool_lock(e->pool);
	e->sweep_wanted = true;
	e->refind_hold = false;
	pool_wake_all(e->pool);
	pool_unlock(e->pool);
}

void
tasks_stats(struct daemon *d, struct tasks_stats *s)
{
	struct engine *e = d->engine;

	memset(s, 0, sizeof(*s));
	s->queue_max = (size_t)d->cfg->task_queue_max;
	if (e == NULL) {
		return;
	}
	pool_lock(e->pool);
	s->threads = (size_t)pool_size(e->pool);
	s->queued = e->queued;
	s->backlog = e->backlog;
	s->sweeping = e->sweeping || e->sweep_wanted;
	pool_unlock(e->pool);
}

struct due_count {
	uint64_t now;
	size_t n, max;
};

/* From the keys alone (big-endian due time first): no record is parsed. */
static int
due_count_cb(const struct store_key *key, void *arg)
{
	struct due_count *x = arg;
	const uint8_t *k = key->data;
	uint64_t due = 0;

	if (key->len < 8 || x->n == x->max) {
		return 1;
	}
	for (int i = 0; i < 8; i++) {
		due = due << 8 | k[i];
	}
	if (due > x->now) {
		return 1; /* in time order: nothing later is due */
	}
	x->n++;
	return 0;
}

static int
due_count_txn(struct store_txn *t, void *arg)
{
	return store_foreach_key(t, STORE_DB_TIMERS, NULL, 0, due_count_cb, arg);
}

size_t
tasks_timers_due(struct daemon *d, size_t max)
{
	struct due_count x = {.now = (uint64_t)time_now(), .max = max};

	(void)store_read(d->store, due_count_txn, &x);
	return x.n;
}

int
tasks_start(struct daemon *d)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		return SIGNET_EINTERNAL;
	}
	e->d = d;
	e->queue_max = (size_t)d->cfg->task_queue_max;
	e->n = (int)d->cfg->task_workers;
	e->threads = calloc((size_t)e->n, sizeof(*e->threads));
	e->pool = pool_new(d, "engine", &engine_ops, e);
	if (e->threads == NULL || e->pool == NULL) {
		pool_free(e->pool);
		free(e->threads);
		free(e);
		return SIGNET_EINTERNAL;
	}
	d->engine = e;
	if (pool_start(e->pool, e->n) != 0) {
		log_err("cannot start the task engine's threads");
		tasks_stop(d);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

void
tasks_stop(struct daemon *d)
{
	struct engine *e = d->engine;

	if (e == NULL) {
		return;
	}
	pool_stop(e->pool);
	/* What was queued stays CREATED or APPROVED in the store: the next start runs it. */
	while (e->head != NULL) {
		struct job *j = e->head;
		e->head = j->next;
		if (j->fd >= 0) {
			/* Read in place: without the client's file it cannot run later. */
			close(j->fd);
		}
		free(j);
	}
	pool_free(e->pool);
	free(e->threads);
	free(e);
	d->engine = NULL;
}

/* Recovery */

/* Are the inputs of an interrupted task still there to run it again? */
static bool
inputs_intact(struct daemon *d, const struct task *task)
{
	const char *id = task->id;
	const json_t *inputs = task->inputs;
	const json_t *pk = task->packaging;
	size_t i;
	json_t *in;

	if (task->direct) {
		return false; /* read in place from a client's file, which is gone now */
	}
	if (json_object_get(pk, "header") != NULL) {
		/* A package made ready when it was created: its file, at least header and segments.
		 */
		char name[64], path[PATH_MAX];
		struct stat st;
		json_int_t want =
		    json_integer_value(json_object_get(json_object_get(pk, "header"), "size"));
		json_array_foreach(json_object_get(pk, "segmentSizes"), i, in) {
			want += json_integer_value(in);
		}
		snprintf(name, sizeof(name), "%s.pkg", id);
		return spool_path(d, "in", name, path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
		       (json_int_t)st.st_size >= want;
	}
	if (!task->spool) {
		return true; /* the digest in the record is the input */
	}
	json_array_foreach(inputs, i, in) {
		char name[64], path[PATH_MAX];
		struct stat st;
		snprintf(name, sizeof(name), "%s.%zu", id, i);
		if (spool_path(d, "in", name, path, sizeof(path)) != 0 || stat(path, &st) != 0 ||
		    (json_int_t)st.st_size != json_integer_value(json_object_get(in, "size"))) {
			return false;
		}
	}
	return true;
}

struct task_read {
	const char *tenant, *id;
	struct task task;
	bool found; /* TASK was read (the read may fail after it all the same) */
};

static int
task_read_txn(struct store_txn *t, void *arg)
{
	struct task_read *x = arg;
	int r;

	task_clear(&x->task);
	r = task_get(t, x->tenant, x->id, &x->task);
	x->found = r == 0;
	return r;
}

/* Is a spool file name one of a live task? KIND 'i' input, 'o' output. */
struct spool_check {
	char id[TASK_ID_LEN + 1];
	char kind;
	bool keep;
};

static int
spool_check_txn(struct store_txn *t, void *arg)
{
	struct spool_check *x = arg;
	char tenant[ACL_NAME_MAX + 1];
	struct task task;

	x->keep = false;
	task_init(&task);
	if (task_tenant(t, x->id, tenant, sizeof(tenant)) != 0 ||
	    task_get(t, tenant, x->id, &task) != 0) {
		task_clear(&task);
		return 0;
	}
	if (x->kind == 'i') {
		x->keep = !task_status_final(task.status);
	} else {
		x->keep = task.status == TS_DONE &&
			  json_is_true(json_object_get(task.result, "available"));
	}
	task_clear(&task);
	return 0;
}

static void
spool_clean(struct daemon *d, const char *sub, char kind)
{
	char dir[PATH_MAX];
	DIR *dp;
	struct dirent *de;
	int dfd;

	if (spool_path(d, sub, "", dir, sizeof(dir)) != 0 || (dp = opendir(dir)) == NULL) {
		return;
	}
	dfd = dirfd(dp);
	while ((de = readdir(dp)) != NULL) {
		struct spool_check x = {.kind = kind};
		if (de->d_name[0] == '.') {
			continue;
		}
		if (kind != 't' && strlen(de->d_name) >= TASK_ID_LEN) {
			memcpy(x.id, de->d_name, TASK_ID_LEN);
			x.id[TASK_ID_LEN] = '\0';
			if (store_read(d->store, spool_check_txn, &x) != 0) {
				continue; /* when in doubt, keep */
			}
		}
		if (!x.keep) {
			log_info("spool: removing %s/%s (no task needs it)", sub, de->d_name);
			unlinkat(dfd, de->d_name, 0);
		}
	}
	closedir(dp);
}

int
tasks_recover(struct daemon *d)
{
	static const char *const subs[] = {"in", "out", "tmp"};
	struct pending_scan x = {0};
	size_t requeued = 0, failed = 0;
	int r;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char path[PATH_MAX];
		if (spool_path(d, subs[i], "", path, sizeof(path)) != 0 ||
		    (mkdir(path, 0700) != 0 && errno != EEXIST)) {
			log_err("spool: cannot create %s: %s", path, strerror(errno));
			return SIGNET_EINTERNAL;
		}
	}
	/* Partial outputs of interrupted tasks. */
	spool_clean(d, "tmp", 't');
	/* The unfinished tasks only, through the status index (not every task kept). */
	if ((r = store_read(d->store, pending_scan_txn, &x)) != 0) {
		free(x.p);
		return r;
	}
	/* Before anything runs: a task running now could be mid-way between rename and commit. */
	spool_clean(d, "in", 'i');
	spool_clean(d, "out", 'o');
	for (size_t i = 0; i < x.n; i++) {
		struct task_read tr = {.tenant = x.p[i].tenant, .id = x.p[i].id};
		bool ok = true;
		task_init(&tr.task);
		if (store_read(d->store, task_read_txn, &tr) == 0 && tr.task.parent != NULL) {
			/* A package's child runs only inside its package, which starts anew. */
			ok = false;
		} else if (tr.found && (x.p[i].st == TS_IN_PROGRESS || tr.task.direct)) {
			ok = inputs_intact(d, &tr.task);
		}
		task_clear(&tr.task);
		if (ok) {
			/* Past queue_max it waits in the store, and the engine finds it again. */
			engine_enqueue(d, x.p[i].tenant, x.p[i].id, -1,
				       x.p[i].st == TS_IN_PROGRESS);
			requeued++;
		} else {
			static const enum task_status live[] = {TS_CREATED, TS_APPROVED,
								TS_IN_PROGRESS};
			transition(d, x.p[i].tenant, x.p[i].id, live, 3, TS_FAILED, "interrupted",
				   NULL);
			spool_remove_inputs(d, x.p[i].id, 255);
			failed++;
		}
	}
	free(x.p);
	if (d->engine != NULL) {
		/* From now on, what waits in the store may be read back (nothing is failed under
		 * it). */
		pool_lock(d->engine->pool);
		d->engine->recovered = true;
		pool_wake_all(d->engine->pool);
		pool_unlock(d->engine->pool);
	}
	if (requeued + failed > 0) {
		log_notice("recovery: %zu task(s) queued again, %zu failed as interrupted",
			   requeued, failed);
	}
	return 0;
}

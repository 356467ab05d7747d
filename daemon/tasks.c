/* SPDX-License-Identifier: Apache-2.0 */
/* The task record, its status model and index, and what a client sees of it. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/events.h"
#include "daemon/quota.h"
#include "daemon/tasks.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

static const char *const status_names[TS_COUNT] = {
    [TS_CREATED] = "CREATED",         [TS_WAITING] = "WAITING", [TS_APPROVED] = "APPROVED",
    [TS_IN_PROGRESS] = "IN_PROGRESS", [TS_DONE] = "DONE",       [TS_FAILED] = "FAILED",
    [TS_REJECTED] = "REJECTED",       [TS_EXPIRED] = "EXPIRED", [TS_CANCELED] = "CANCELED",
};

const char *
task_status_name(enum task_status s)
{
	return (unsigned)s < TS_COUNT ? status_names[s] : "UNKNOWN";
}

int
task_status_parse(const char *name, enum task_status *out)
{
	for (int i = 0; i < TS_COUNT; i++) {
		if (name != NULL && strcmp(name, status_names[i]) == 0) {
			*out = (enum task_status)i;
			return 0;
		}
	}
	return -1;
}

bool
task_status_final(enum task_status s)
{
	return s == TS_DONE || s == TS_FAILED || s == TS_REJECTED || s == TS_EXPIRED ||
	       s == TS_CANCELED;
}

#define TS_BIT(s) (1u << (s))

bool
task_transition_allowed(enum task_status from, enum task_status to)
{
	static const unsigned next[TS_COUNT] = {
	    /*
	     * Waiting for approval, or run (at once, or by an engine thread); FAILED
	     * when it cannot start for lack of space or a restart finds it
	     * interrupted; CANCELED by its requester.
	     */
	    [TS_CREATED] = TS_BIT(TS_WAITING) | TS_BIT(TS_IN_PROGRESS) | TS_BIT(TS_FAILED) |
			   TS_BIT(TS_CANCELED),
	    /* Decided on (task.approve, task.reject), out of time, or canceled. */
	    [TS_WAITING] = TS_BIT(TS_APPROVED) | TS_BIT(TS_REJECTED) | TS_BIT(TS_EXPIRED) |
			   TS_BIT(TS_CANCELED),
	    /*
	     * Run; WAITING again when too few of its approvals still count as it
	     * starts, FAILED when then its time for approval is over, or as for
	     * CREATED.
	     */
	    [TS_APPROVED] = TS_BIT(TS_IN_PROGRESS) | TS_BIT(TS_WAITING) | TS_BIT(TS_FAILED) |
			    TS_BIT(TS_CANCELED),
	    /* Finished; or, taken up again after a restart, as for APPROVED. */
	    [TS_IN_PROGRESS] =
		TS_BIT(TS_DONE) | TS_BIT(TS_FAILED) | TS_BIT(TS_WAITING) | TS_BIT(TS_CANCELED),
	};

	if ((unsigned)from >= TS_COUNT || (unsigned)to >= TS_COUNT) {
		return false;
	}
	if (from == to) {
		return !task_status_final(from);
	}
	return (next[from] & TS_BIT(to)) != 0;
}

/*
 * The last id made for a tenant: a tenant's ids are made in increasing
 * order (RFC 9562 section 6.2, method 2: within a millisecond, or when the
 * clock went back, the random part of its last id grows by a random step),
 * so its records, keyed tenant \0 id, are appended, not inserted, and the
 * store keeps its pages full. Per tenant (in one of ID_SLOTS slots by a
 * hash of its name), so that the step between two of a tenant's ids says
 * nothing of how many other tenants made meanwhile (unless they share its
 * slot).
 */
#define ID_SLOTS 256
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t id_last[ID_SLOTS][16];

/* B := LAST + a random step of 1 to 2^32 in the random bits (the last 8 bytes); false if full. */
static bool
id_step(const uint8_t last[16], uint8_t b[16], uint32_t step)
{
	uint64_t r = 0, n;

	for (int i = 8; i < 16; i++) {
		r = r << 8 | last[i];
	}
	/* The variant's two bits stay; 62 bits of randomness grow. */
	n = (r & 0x3fffffffffffffffULL) + (uint64_t)step + 1;
	if (n > 0x3fffffffffffffffULL) {
		return false;
	}
	memcpy(b, last, 8);
	n |= 0x8000000000000000ULL;
	for (int i = 15; i >= 8; i--) {
		b[i] = (uint8_t)n;
		n >>= 8;
	}
	return true;
}

void
task_new_id(const char *tenant, char out[TASK_ID_LEN + 1])
{
	uint8_t b[16], *last;
	uint32_t step, h = 2166136261u; /* FNV-1a */
	uint64_t ms = (uint64_t)time_now() * 1000;
	struct timespec ts;

	for (const char *p = tenant != NULL ? tenant : ""; *p != '\0'; p++) {
		h = (h ^ (uint8_t)*p) * 16777619u;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	if (random_bytes(b, sizeof(b)) != 0 || random_bytes(&step, sizeof(step)) != 0) {
		abort(); /* no randomness: nothing safe to do */
	}
	/* RFC 9562 version 7: 48 bits of Unix milliseconds, then randomness. */
	for (int i = 0; i < 6; i++) {
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	}
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	pthread_mutex_lock(&id_lock);
	last = id_last[h % ID_SLOTS];
	/*
	 * Not past the last one: a step from it. When its random part is used up
	 * (2^62 within a millisecond: never), the fresh id stays, out of order.
	 */
	if (memcmp(b, last, sizeof(b)) <= 0) {
		(void)id_step(last, b, step);
	}
	memcpy(last, b, sizeof(b));
	pthread_mutex_unlock(&id_lock);
	snprintf(out, TASK_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

bool
task_id_valid(const char *id)
{
	if (id == NULL || strlen(id) != TASK_ID_LEN) {
		return false;
	}
	for (int i = 0; i < TASK_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = id[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
	}
	return true;
}

static void
note_final(struct evnote *n, const char *id)
{
	if (n->nfinal < sizeof(n->final) / sizeof(n->final[0])) {
		snprintf(n->final[n->nfinal++], TASK_ID_LEN + 1, "%s", id);
	} else {
		n->overflow = true;
	}
}

/*
 * The task record as stored. task.show returns the whole record, but much
 * of it is known without storing it: the id and tenant are in the key,
 * most members of a task that ran at once hold their defaults, the digest
 * to sign is the input's, and the times are those of its creation. The
 * stored form leaves all that out and names members briefly ("t" for
 * "type", the layout in tasks.h); task_decode puts it back. A record with "type"
 * (written before, whole) is read as it is.
 */

static const char *const type_names[TT_COUNT] = {
    [TT_SIGNING] = "SIGNING", [TT_ENCRYPTION] = "ENCRYPTION", [TT_PACKAGING] = "PACKAGING"};

const char *
task_type_name(enum task_type type)
{
	return (unsigned)type < TT_COUNT ? type_names[type] : "UNKNOWN";
}

int
task_type_parse(const char *name, enum task_type *out)
{
	for (int i = 0; name != NULL && i < TT_COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*out = (enum task_type)i;
			return 0;
		}
	}
	return -1;
}

void
task_init(struct task *task)
{
	memset(task, 0, sizeof(*task));
	task->type = TT_COUNT;
	task->status = TS_COUNT;
	task->result_max = -1;
}

void
task_clear(struct task *task)
{
	free(task->name);
	free(task->requester);
	free(task->devconf_id);
	free(task->devconf_name);
	free(task->approval.second_factor);
	free(task->decision);
	free(task->reason);
	free(task->parent);
	free(task->expected_sha256);
	json_decref(task->inputs);
	json_decref(task->approvals);
	json_decref(task->children);
	json_decref(task->result);
	json_decref(task->signing);
	json_decref(task->encryption);
	json_decref(task->packaging);
	json_decref(task->extra);
	task_init(task);
}

/* Every member of the record: its name, and its brief name in the stored form. */
enum member {
	M_ID,
	M_TENANT,
	M_TYPE,
	M_STATUS,
	M_NAME,
	M_REQUESTER,
	M_DEVCONF_ID,
	M_DEVCONF_NAME,
	M_INPUTS,
	M_APPROVAL,
	M_APPROVALS,
	M_DECISION,
	M_RESULT,
	M_REASON,
	M_PARENT,
	M_CHILDREN,
	M_CREATED,
	M_SIGNING,
	M_ENCRYPTION,
	M_PACKAGING,
	M_SPOOL,
	M_DIRECT,
	M_RESULT_MAX,
	M_EXPECTED,
	M_UPDATED,
	M_STARTED,
	M_FINISHED,
	M_COUNT,
};

static const struct {
	const char *name, *brief; /* brief NULL: not stored (in the key) */
} members[M_COUNT] = {
    [M_ID] = {"id", NULL},
    [M_TENANT] = {"tenant", NULL},
    [M_TYPE] = {"type", "t"},
    [M_STATUS] = {"status", "st"},
    [M_NAME] = {"name", "n"},
    [M_REQUESTER] = {"requester", "rq"},
    [M_DEVCONF_ID] = {"deviceConfigId", "dc"},
    [M_DEVCONF_NAME] = {"deviceConfigName", "dn"},
    [M_INPUTS] = {"inputs", "in"},
    [M_APPROVAL] = {"approval", "ap"},
    [M_APPROVALS] = {"approvals", "av"},
    [M_DECISION] = {"decision", "de"},
    [M_RESULT] = {"result", "r"},
    [M_REASON] = {"reason", "rs"},
    [M_PARENT] = {"parent", "pa"},
    [M_CHILDREN] = {"children", "ch"},
    [M_CREATED] = {"createdAt", "c"},
    [M_SIGNING] = {"signing", "sg"},
    [M_ENCRYPTION] = {"encryption", "en"},
    [M_PACKAGING] = {"packaging", "pk"},
    [M_SPOOL] = {"spool", "spool"},
    [M_DIRECT] = {"direct", "direct"},
    [M_RESULT_MAX] = {"resultMax", "resultMax"},
    [M_EXPECTED] = {"expectedSha256", "expectedSha256"},
    [M_UPDATED] = {"updatedAt", "u"},
    [M_STARTED] = {"startedAt", "s"},
    [M_FINISHED] = {"finishedAt", "f"},
};

static int
member_of(const char *name, bool brief)
{
	for (int i = 0; i < M_COUNT; i++) {
		const char *m = brief ? members[i].brief : members[i].name;
		if (m != NULL && strcmp(m, name) == 0) {
			return i;
		}
	}
	return -1;
}

/* A string member: 0 and *OUT set (NULL for null or absent when it may be), -1 if broken. */
static int
str_member(const json_t *v, bool nullable, char **out)
{
	if (v == NULL || json_is_null(v)) {
		*out = NULL;
		return nullable ? 0 : -1;
	}
	if (!json_is_string(v)) {
		return -1;
	}
	*out = strdup(json_string_value(v));
	return *out != NULL ? 0 : -1;
}

/* What a signing task signs, when it is its one input's digest (sha384 for P-384). */
static const json_t *
input_digest(const struct task *task)
{
	const json_t *x;

	if (json_array_size(task->inputs) != 1) {
		return NULL;
	}
	x = json_array_get(task->inputs, 0);
	return json_object_get(x, "sha384") != NULL ? json_object_get(x, "sha384")
						     : json_object_get(x, "sha256");
}

/* One member V of a record, named M, into TASK; -1 if it is broken. */
static int
decode_member(struct task *task, int m, const json_t *v, bool brief, int64_t created)
{
	const json_t *x;

	switch (m) {
	case M_ID:
	case M_TENANT:
		/* Whole records hold them too; the key is what counts. */
		return json_is_string(v) ? 0 : -1;
	case M_TYPE:
		return task_type_parse(json_string_value(v), &task->type);
	case M_STATUS:
		return task_status_parse(json_string_value(v), &task->status);
	case M_NAME:
		return str_member(v, false, &task->name);
	case M_REQUESTER:
		return str_member(v, false, &task->requester);
	case M_DEVCONF_ID:
		return str_member(v, false, &task->devconf_id);
	case M_DEVCONF_NAME:
		return str_member(v, true, &task->devconf_name);
	case M_APPROVAL:
		if (!json_is_object(v) || !json_is_integer(json_object_get(v, "quorum"))) {
			return -1;
		}
		task->approval.required = json_is_true(json_object_get(v, "required"));
		task->approval.quorum = (int)json_integer_value(json_object_get(v, "quorum"));
		return str_member(json_object_get(v, "secondFactor"), true,
				  &task->approval.second_factor);
	case M_DECISION:
		return str_member(v, true, &task->decision);
	case M_REASON:
		return str_member(v, true, &task->reason);
	case M_PARENT:
		return str_member(v, true, &task->parent);
	case M_CREATED:
		if (!json_is_integer(v)) {
			return -1;
		}
		task->created_at = json_integer_value(v);
		return 0;
	case M_UPDATED:
	case M_STARTED:
	case M_FINISHED: {
		int64_t *at = m == M_UPDATED ? &task->updated_at
			      : m == M_STARTED ? &task->started_at
					       : &task->finished_at;
		if (json_is_null(v)) {
			return 0;
		}
		if (!json_is_integer(v)) {
			return -1;
		}
		/* Stored as seconds after createdAt. */
		*at = json_integer_value(v) + (brief ? created : 0);
		return 0;
	}
	case M_SPOOL:
		task->spool = json_is_true(v);
		return 0;
	case M_DIRECT:
		task->direct = json_is_true(v);
		return 0;
	case M_EXPECTED:
		return str_member(v, true, &task->expected_sha256);
	case M_RESULT_MAX:
		if (!json_is_integer(v)) {
			return -1;
		}
		task->result_max = json_integer_value(v);
		return 0;
	case M_INPUTS:
	case M_APPROVALS:
	case M_CHILDREN:
		if (!json_is_array(v)) {
			return -1;
		}
		/* A copy: decoding puts back what the stored form left out of it. */
		x = json_deep_copy(v);
		*(m == M_INPUTS ? &task->inputs : m == M_APPROVALS ? &task->approvals : &task->children) =
		    (json_t *)x;
		return x != NULL ? 0 : -1;
	case M_RESULT:
		if (task->result != NULL) {
			return 0; /* "rz" was read: it is the result */
		}
		task->result = json_is_null(v) ? NULL : json_deep_copy(v);
		return 0;
	case M_SIGNING:
		task->signing = json_is_null(v) ? NULL : json_deep_copy(v);
		return 0;
	case M_ENCRYPTION:
		task->encryption = json_is_null(v) ? NULL : json_deep_copy(v);
		return 0;
	case M_PACKAGING:
		task->packaging = json_is_null(v) ? NULL : json_deep_copy(v);
		return 0;
	default:
		return -1;
	}
}

/* Put back what the brief form left out: input names, the digest signed, the result's key. */
static int
decode_finish(struct task *task)
{
	json_t *x;
	size_t i;

	if (task->type == TT_COUNT || task->status == TS_COUNT || task->requester == NULL ||
	    task->devconf_id == NULL || task->created_at == 0) {
		return -1;
	}
	if (task->name == NULL && (task->name = strdup("input")) == NULL) {
		return -1;
	}
	if (task->approval.second_factor == NULL &&
	    (task->approval.second_factor = strdup("TOTP")) == NULL) {
		return -1;
	}
	if (task->approval.quorum == 0) {
		task->approval.quorum = 1;
	}
	if (task->inputs == NULL) {
		task->inputs = json_array();
	}
	if (task->approvals == NULL) {
		task->approvals = json_array();
	}
	if (task->children == NULL) {
		task->children = json_array();
	}
	if (task->inputs == NULL || task->approvals == NULL || task->children == NULL) {
		return -1;
	}
	json_array_foreach(task->inputs, i, x) {
		if (!json_is_object(x)) {
			return -1;
		}
		if (json_object_get(x, "name") == NULL) {
			/* The name first, as the record was made. */
			json_t *e = json_pack("{s:s}", "name", task->name);
			json_object_update(e, x);
			json_array_set_new(task->inputs, i, e);
		}
	}
	if (json_is_true(json_object_get(task->signing, "digest")) && input_digest(task) != NULL) {
		json_object_set(task->signing, "digest", (json_t *)input_digest(task));
	}
	if (json_object_get(task->result, "signature") != NULL &&
	    json_object_get(task->result, "keyLabel") == NULL &&
	    json_is_string(json_object_get(task->signing, "key"))) {
		json_t *r = json_pack("{s:O, s:O}", "signature",
				      json_object_get(task->result, "signature"), "keyLabel",
				      json_object_get(task->signing, "key"));
		json_object_update_missing(r, task->result);
		json_decref(task->result);
		task->result = r;
	}
	return 0;
}

/*
 * A signing task's result repeats the scheme, hash and encoding of its
 * "signing": when all three are the same (or absent from both), the stored
 * form keeps the result as RESULT_BRIEF without them.
 */
#define RESULT_BRIEF "rz"
static const char *const result_shared[] = {"scheme", "hash", "encoding"};

static int
decode(const json_t *rec, bool brief, struct task *out)
{
	const char *name;
	json_t *v;
	int64_t created = 0;
	bool rz = false;

	if (!json_is_object(rec)) {
		return -1;
	}
	v = json_object_get(rec, brief ? "c" : "createdAt");
	if (json_is_integer(v)) {
		created = json_integer_value(v);
	}
	json_object_foreach((json_t *)rec, name, v) {
		int m = member_of(name, brief);
		if (brief && strcmp(name, RESULT_BRIEF) == 0 && json_is_object(v)) {
			/* A signature without what it shares with "signing" (task_encode). */
			json_decref(out->result);
			out->result = json_deep_copy(v);
			rz = true;
			continue;
		}
		if (m < 0) {
			if (out->extra == NULL && (out->extra = json_object()) == NULL) {
				return -1;
			}
			json_object_set_new(out->extra, name, json_deep_copy(v));
		} else if (decode_member(out, m, v, brief, created) != 0) {
			return -1;
		}
	}
	if (rz) {
		/* Back in the order exec_sign made them: signature, keyLabel, scheme, hash,
		 * encoding, then the rest (decode_finish puts keyLabel second). */
		json_t *r = json_object();
		if (r == NULL) {
			return -1;
		}
		if (json_object_get(out->result, "signature") != NULL) {
			json_object_set(r, "signature", json_object_get(out->result, "signature"));
		}
		for (size_t i = 0; i < sizeof(result_shared) / sizeof(result_shared[0]); i++) {
			json_t *x = json_object_get(out->signing, result_shared[i]);
			if (x != NULL && json_object_get(out->result, result_shared[i]) == NULL) {
				json_object_set(r, result_shared[i], x);
			}
		}
		json_object_update_missing(r, out->result);
		json_decref(out->result);
		out->result = r;
	}
	return decode_finish(out);
}

int
task_decode(const void *key, size_t klen, const json_t *rec, struct task *out)
{
	const char *k = key, *id;

	task_init(out);
	/* The key: tenant \0 id. */
	id = memchr(k, '\0', klen);
	if (id == NULL || (size_t)(k + klen - id - 1) != TASK_ID_LEN || (size_t)(id - k) == 0 ||
	    (size_t)(id - k) > ACL_NAME_MAX) {
		return -1;
	}
	memcpy(out->tenant, k, (size_t)(id - k));
	memcpy(out->id, id + 1, TASK_ID_LEN);
	if (decode(rec, json_object_get(rec, "t") != NULL, out) != 0) {
		task_clear(out);
		return -1;
	}
	return 0;
}

int
task_from_json(const json_t *whole, struct task *out)
{
	const char *id = json_string_value(json_object_get(whole, "id"));
	const char *tenant = json_string_value(json_object_get(whole, "tenant"));

	task_init(out);
	if (!task_id_valid(id) || tenant == NULL || strlen(tenant) > ACL_NAME_MAX) {
		return -1;
	}
	memcpy(out->id, id, TASK_ID_LEN);
	snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
	if (decode(whole, false, out) != 0) {
		task_clear(out);
		return -1;
	}
	return 0;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
doc_or(const json_t *v, json_t *none)
{
	if (v == NULL) {
		return none;
	}
	json_decref(none);
	return json_incref((json_t *)v);
}

json_t *
task_to_json(const struct task *task)
{
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:{s:b, s:i, s:s}, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s:I}",
	    "id", task->id, "tenant", task->tenant, "type", task_type_name(task->type), "status",
	    task_status_name(task->status), "name", task->name ? task->name : "input", "requester",
	    task->requester ? task->requester : "", "deviceConfigId",
	    task->devconf_id ? task->devconf_id : "", "deviceConfigName",
	    str_or_null(task->devconf_name), "inputs", doc_or(task->inputs, json_array()),
	    "approval", "required", task->approval.required, "quorum", task->approval.quorum,
	    "secondFactor", task->approval.second_factor ? task->approval.second_factor : "TOTP",
	    "approvals", doc_or(task->approvals, json_array()), "decision",
	    str_or_null(task->decision), "result", doc_or(task->result, json_null()), "reason",
	    str_or_null(task->reason), "parent", str_or_null(task->parent), "children",
	    doc_or(task->children, json_array()), "createdAt", (json_int_t)task->created_at);

	if (o == NULL) {
		return NULL;
	}
	if (task->signing != NULL) {
		json_object_set(o, "signing", task->signing);
	}
	if (task->encryption != NULL) {
		json_object_set(o, "encryption", task->encryption);
	}
	if (task->packaging != NULL) {
		json_object_set(o, "packaging", task->packaging);
	}
	if (task->spool) {
		json_object_set_new(o, "spool", json_true());
	}
	if (task->direct) {
		json_object_set_new(o, "direct", json_true());
	}
	if (task->result_max >= 0) {
		json_object_set_new(o, "resultMax", json_integer(task->result_max));
	}
	if (task->expected_sha256 != NULL) {
		json_object_set_new(o, "expectedSha256", json_string(task->expected_sha256));
	}
	if (task->updated_at != 0) {
		json_object_set_new(o, "updatedAt", json_integer(task->updated_at));
	}
	if (task->started_at != 0) {
		json_object_set_new(o, "startedAt", json_integer(task->started_at));
	}
	if (task->finished_at != 0) {
		json_object_set_new(o, "finishedAt", json_integer(task->finished_at));
	}
	if (task->extra != NULL) {
		json_object_update_missing(o, task->extra);
	}
	return o;
}

/* Set brief member M of REC to V (a new reference). */
static void
put(json_t *rec, int m, json_t *v)
{
	json_object_set_new(rec, members[m].brief, v);
}

json_t *
task_encode(const struct task *task)
{
	const json_t *sig_key = json_object_get(task->signing, "key");
	int64_t c = task->created_at;
	json_t *rec = json_object(), *x;
	size_t i;

	if (rec == NULL) {
		return NULL;
	}
	put(rec, M_TYPE, json_string(task_type_name(task->type)));
	put(rec, M_STATUS, json_string(task_status_name(task->status)));
	if (task->name != NULL && strcmp(task->name, "input") != 0) {
		put(rec, M_NAME, json_string(task->name));
	}
	put(rec, M_REQUESTER, json_string(task->requester ? task->requester : ""));
	put(rec, M_DEVCONF_ID, json_string(task->devconf_id ? task->devconf_id : ""));
	put(rec, M_DEVCONF_NAME, str_or_null(task->devconf_name));
	/* The inputs, without the name they share with the task. */
	x = json_array();
	for (i = 0; i < json_array_size(task->inputs); i++) {
		json_t *e = json_copy(json_array_get(task->inputs, i));
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n != NULL && task->name != NULL && strcmp(n, task->name) == 0) {
			json_object_del(e, "name");
		}
		json_array_append_new(x, e);
	}
	put(rec, M_INPUTS, x);
	if (task->approval.required || task->approval.quorum != 1 ||
	    strcmp(task->approval.second_factor ? task->approval.second_factor : "TOTP", "TOTP") !=
		0) {
		put(rec, M_APPROVAL,
		    json_pack("{s:b, s:i, s:s}", "required", task->approval.required, "quorum",
			      task->approval.quorum, "secondFactor",
			      task->approval.second_factor ? task->approval.second_factor
							   : "TOTP"));
	}
	if (json_array_size(task->approvals) > 0) {
		put(rec, M_APPROVALS, json_incref(task->approvals));
	}
	if (task->decision != NULL) {
		put(rec, M_DECISION, json_string(task->decision));
	}
	if (task->result != NULL) {
		/* A signature's key is the signing key: left out. */
		if (json_object_get(task->result, "signature") != NULL && json_is_string(sig_key) &&
		    json_equal(json_object_get(task->result, "keyLabel"), (json_t *)sig_key)) {
			bool shared = true;
			x = json_copy(task->result);
			json_object_del(x, "keyLabel");
			for (i = 0; i < sizeof(result_shared) / sizeof(result_shared[0]); i++) {
				const json_t *a = json_object_get(x, result_shared[i]);
				const json_t *b = json_object_get(task->signing, result_shared[i]);
				shared = shared && (a == NULL ? b == NULL
							      : b != NULL && json_equal(a, b));
			}
			for (i = 0; shared && i < sizeof(result_shared) / sizeof(result_shared[0]);
			     i++) {
				json_object_del(x, result_shared[i]);
			}
			if (shared) {
				json_object_set_new(rec, RESULT_BRIEF, x);
			} else {
				put(rec, M_RESULT, x);
			}
		} else {
			put(rec, M_RESULT, json_incref(task->result));
		}
	}
	if (task->reason != NULL) {
		put(rec, M_REASON, json_string(task->reason));
	}
	if (task->parent != NULL) {
		put(rec, M_PARENT, json_string(task->parent));
	}
	if (json_array_size(task->children) > 0) {
		put(rec, M_CHILDREN, json_incref(task->children));
	}
	put(rec, M_CREATED, json_integer(c));
	if (task->signing != NULL) {
		const json_t *dg = json_object_get(task->signing, "digest");
		/* The digest signed, when it is the input's: true. */
		if (json_is_string(dg) && json_equal((json_t *)dg, (json_t *)input_digest(task))) {
			x = json_copy(task->signing);
			json_object_set_new(x, "digest", json_true());
			put(rec, M_SIGNING, x);
		} else {
			put(rec, M_SIGNING, json_incref(task->signing));
		}
	}
	if (task->encryption != NULL) {
		put(rec, M_ENCRYPTION, json_incref(task->encryption));
	}
	if (task->packaging != NULL) {
		put(rec, M_PACKAGING, json_incref(task->packaging));
	}
	if (task->spool) {
		put(rec, M_SPOOL, json_true());
	}
	if (task->direct) {
		put(rec, M_DIRECT, json_true());
	}
	if (task->result_max >= 0) {
		put(rec, M_RESULT_MAX, json_integer(task->result_max));
	}
	if (task->expected_sha256 != NULL) {
		put(rec, M_EXPECTED, json_string(task->expected_sha256));
	}
	/* Times as seconds after createdAt. */
	if (task->updated_at != 0) {
		put(rec, M_UPDATED, json_integer(task->updated_at - c));
	}
	if (task->started_at != 0) {
		put(rec, M_STARTED, json_integer(task->started_at - c));
	}
	if (task->finished_at != 0) {
		put(rec, M_FINISHED, json_integer(task->finished_at - c));
	}
	if (task->extra != NULL) {
		json_object_update_missing(rec, task->extra);
	}
	return rec;
}

static void
task_record_put(struct store_txn *t, const char *key, size_t klen, const struct task *task,
		bool nooverwrite)
{
	json_t *rec = task_encode(task);

	if (rec == NULL) {
		if (t->err == 0) {
			t->err = SIGNET_EINTERNAL;
		}
		return;
	}
	store_put_json(t, STORE_DB_TASKS, key, klen, rec, nooverwrite);
	json_decref(rec);
}

static int
task_record_get(struct store_txn *t, const char *key, size_t klen, struct task *out)
{
	json_t *rec = NULL;
	int r;

	task_init(out);
	if ((r = store_get_json(t, STORE_DB_TASKS, key, klen, &rec)) != 0) {
		return r;
	}
	r = task_decode(key, klen, rec, out);
	json_decref(rec);
	if (r != 0) {
		log_err("store: a task record is corrupt");
		return SIGNET_EINTERNAL;
	}
	return 0;
}

/* Task records */

static size_t
index_key(char *out, size_t len, const char *tenant, enum task_status s, const char *id)
{
	const char *parts[] = {tenant, task_status_name(s), id};

	return store_keyv(out, len, parts, 3);
}

static int
status_event(struct store_txn *t, struct evnote *n, const struct task *task, enum task_status st)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "task.status",
			       "tenant", task->tenant, "task", task->id, "taskType",
			       task_type_name(task->type), "status", task_status_name(st),
			       "requester", task->requester, "deviceConfigId", task->devconf_id);

	if (task_status_final(st)) {
		note_final(n, task->id);
	}
	return events_append(t, n, ev);
}

int
task_put(struct store_txn *t, struct evnote *n, struct task *task, enum task_status old)
{
	enum task_status st = task->status;
	char key[256];
	size_t klen;
	uint64_t before = 0;
	struct task prev;
	json_t *empty;

	if (task->tenant[0] == '\0' || !task_id_valid(task->id) || st == TS_COUNT ||
	    task->type == TT_COUNT || task->requester == NULL || task->devconf_id == NULL) {
		return SIGNET_EINTERNAL;
	}
	task->updated_at = time_now();
	klen = store_key2(key, sizeof(key), task->tenant, task->id);
	/* What the record held in the spool before: its sums change with it (quota.h). */
	if (old != TS_COUNT && task_record_get(t, key, klen, &prev) == 0) {
		before = quota_task_charge(&prev);
		task_clear(&prev);
	}
	task_record_put(t, key, klen, task, false);
	quota_task_update(t, task, before);
	if (old != st) {
		if (old != TS_COUNT) {
			klen = index_key(key, sizeof(key), task->tenant, old, task->id);
			store_del(t, STORE_DB_TASK_INDEX, key, klen);
		}
		empty = json_object();
		klen = index_key(key, sizeof(key), task->tenant, st, task->id);
		store_put_json(t, STORE_DB_TASK_INDEX, key, klen, empty, false);
		json_decref(empty);
	}
	if (old == TS_COUNT) {
		json_t *ref = json_string(task->tenant);
		store_put_json(t, STORE_DB_TASK_REFS, task->id, TASK_ID_LEN, ref, true);
		json_decref(ref);
	}
	if (t->err != 0) {
		return t->err;
	}
	if (old != st) {
		metrics_tally_status(&n->tally, task, (int)st, task_status_final(st));
		return status_event(t, n, task, st);
	}
	return 0;
}

int
task_put_new(struct store_txn *t, struct evnote *n, struct task *task,
	     const enum task_status *path, size_t npath)
{
	enum task_status last;
	int64_t now = time_now();
	char key[256];
	size_t klen;
	json_t *empty, *ref;
	int r;

	if (task->tenant[0] == '\0' || !task_id_valid(task->id) || npath == 0 ||
	    task->type == TT_COUNT || task->requester == NULL || task->devconf_id == NULL) {
		return SIGNET_EINTERNAL;
	}
	last = path[npath - 1];
	for (size_t i = 1; i < npath; i++) {
		if (path[i] == path[i - 1] || !task_transition_allowed(path[i - 1], path[i])) {
			log_err("task %s: %s then %s is not a path of the status model", task->id,
				task_status_name(path[i - 1]), task_status_name(path[i]));
			return SIGNET_EINTERNAL;
		}
	}
	task->status = last;
	task->updated_at = now;
	for (size_t i = 0; i < npath; i++) {
		if (path[i] == TS_IN_PROGRESS) {
			task->started_at = now;
		}
	}
	if (task_status_final(last)) {
		task->finished_at = now;
	}
	/*
	 * One record, one index entry, one event per status passed through;
	 * a task written already ended (run in its request) has one event, its
	 * end: its record holds when it was created, started and finished.
	 */
	klen = store_key2(key, sizeof(key), task->tenant, task->id);
	task_record_put(t, key, klen, task, true);
	quota_task_update(t, task, 0);
	empty = json_object();
	klen = index_key(key, sizeof(key), task->tenant, last, task->id);
	store_put_json(t, STORE_DB_TASK_INDEX, key, klen, empty, false);
	json_decref(empty);
	ref = json_string(task->tenant);
	store_put_json(t, STORE_DB_TASK_REFS, task->id, TASK_ID_LEN, ref, true);
	json_decref(ref);
	for (size_t i = 0; i < npath && t->err == 0; i++) {
		metrics_tally_status(&n->tally, task, (int)path[i], task_status_final(path[i]));
	}
	for (size_t i = task_status_final(last) ? npath - 1 : 0; i < npath && t->err == 0; i++) {
		if ((r = status_event(t, n, task, path[i])) != 0) {
			return r;
		}
	}
	return t->err;
}

static int
set_str(char **field, const char *s)
{
	char *c = NULL;

	if (s != NULL && (c = strdup(s)) == NULL) {
		return -1;
	}
	free(*field);
	*field = c;
	return 0;
}

int
task_set_str(char **field, const char *s)
{
	return set_str(field, s);
}

int
task_set_status(struct store_txn *t, struct evnote *n, struct task *task, enum task_status st,
		const char *reason)
{
	enum task_status old = task->status;
	int64_t now = time_now();

	/* Every caller checked the task's status in this transaction: a refusal here is a bug. */
	if (!task_transition_allowed(old, st)) {
		log_err("task %s: %s to %s is not a change of the status model", task->id,
			task_status_name(old), task_status_name(st));
		return SIGNET_EINTERNAL;
	}
	task->status = st;
	if (reason != NULL && set_str(&task->reason, reason) != 0) {
		return SIGNET_EINTERNAL;
	}
	if (st == TS_IN_PROGRESS) {
		task->started_at = now;
	}
	if (task_status_final(st)) {
		task->finished_at = now;
	}
	return task_put(t, n, task, old);
}

int
task_get(struct store_txn *t, const char *tenant, const char *id, struct task *out)
{
	char key[256];
	size_t klen;

	task_init(out);
	if (!task_id_valid(id)) {
		return SIGNET_ENOTFOUND;
	}
	klen = store_key2(key, sizeof(key), tenant, id);
	return klen == 0 ? SIGNET_ENOTFOUND : task_record_get(t, key, klen, out);
}

int
task_tenant(struct store_txn *t, const char *id, char *tenant, size_t len)
{
	json_t *ref = NULL;
	const char *ten;
	int r;

	if (!task_id_valid(id)) {
		return SIGNET_ENOTFOUND;
	}
	if ((r = store_get_json(t, STORE_DB_TASK_REFS, id, strlen(id), &ref)) != 0) {
		return r;
	}
	/* The tenant's name; before, an object {"tenant": name}. */
	ten = json_is_string(ref) ? json_string_value(ref)
				  : json_string_value(json_object_get(ref, "tenant"));
	r = ten != NULL && strlen(ten) < len ? 0 : SIGNET_EINTERNAL;
	if (r == 0) {
		snprintf(tenant, len, "%s", ten);
	}
	json_decref(ref);
	return r;
}

bool
task_visible(const struct policy_subject *s, const struct task *task)
{
	char me[ACL_SUBJECT_MAX];

	if (strcmp(task->tenant, s->tenant) != 0) {
		return false;
	}
	policy_subject_name(s, me, sizeof(me));
	if (task->requester != NULL && strcmp(task->requester, me) == 0) {
		return true;
	}
	return policy_allows_on(s, ACL_VIEW, ACL_RT_DEVICE_CONFIG, task->devconf_id);
}

json_t *
task_view(const struct task *task)
{
	json_t *v = task_to_json(task);

	if (v != NULL) {
		/* Where the daemon keeps things, and what it keeps room for, is its own business.
		 */
		json_object_del(v, "spool");
		json_object_del(v, "resultMax");
	}
	return v;
}

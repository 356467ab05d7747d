/* SPDX-License-Identifier: Apache-2.0 */
/* The task record, its status model and index, and what a client sees of it. */
#include "config.h"

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

enum task_status
task_status_of(const json_t *task)
{
	enum task_status s;

	if (task_status_parse(json_string_value(json_object_get(task, "status")), &s) != 0) {
		return TS_COUNT;
	}
	return s;
}

void
task_new_id(char out[TASK_ID_LEN + 1])
{
	uint8_t b[16];
	uint64_t ms = (uint64_t)time_now() * 1000;
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	}
	if (random_bytes(b, sizeof(b)) != 0) {
		abort(); /* no randomness: nothing safe to do */
	}
	/* RFC 9562 version 7: 48 bits of Unix milliseconds, then randomness. */
	for (int i = 0; i < 6; i++) {
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	}
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
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
 * "type"); task_record_load puts it back, the members in the order
 * task_new gives them. A record with "type" (written before, whole) is
 * read as it is.
 */

/*
 * A member of the record: its short name as stored, the JSON text of the
 * value it is left out for (NULL: always stored), and whether it is stored
 * as seconds after createdAt.
 */
static const struct task_member {
	const char *name, *brief, *def;
	bool delta;
	bool leading; /* one of the members every record starts with, in this order */
} task_members[] = {
    {"type", "t", NULL, false, true},
    {"status", "st", NULL, false, true},
    {"name", "n", "\"input\"", false, true},
    {"requester", "rq", NULL, false, true},
    {"deviceConfigId", "dc", NULL, false, true},
    {"deviceConfigName", "dn", NULL, false, true},
    {"inputs", "in", NULL, false, true},
    {"approval", "ap", "{\"required\":false,\"quorum\":1,\"secondFactor\":\"TOTP\"}", false,
     true},
    {"approvals", "av", "[]", false, true},
    {"decision", "de", "null", false, true},
    {"result", "r", "null", false, true},
    {"reason", "rs", "null", false, true},
    {"parent", "pa", "null", false, true},
    {"children", "ch", "[]", false, true},
    {"createdAt", "c", NULL, false, true},
    {"signing", "sg", NULL, false, false},
    {"encryption", "en", NULL, false, false},
    {"packaging", "pk", NULL, false, false},
    {"updatedAt", "u", NULL, true, false},
    {"startedAt", "s", NULL, true, false},
    {"finishedAt", "f", NULL, true, false},
};
#define TASK_NMEMBERS (sizeof(task_members) / sizeof(task_members[0]))

static json_t *
member_default(const struct task_member *m)
{
	return m->def != NULL ? json_loads(m->def, JSON_DECODE_ANY, NULL) : NULL;
}

static const struct task_member *
member_by(const char *name, bool brief)
{
	for (size_t i = 0; i < TASK_NMEMBERS; i++) {
		if (strcmp(brief ? task_members[i].brief : task_members[i].name, name) == 0) {
			return &task_members[i];
		}
	}
	return NULL;
}

/* What a signing task signs, when it is its one input's digest (sha384 for P-384). */
static const json_t *
input_digest(const json_t *task)
{
	const json_t *in = json_object_get(task, "inputs");
	const json_t *x;

	if (json_array_size(in) != 1) {
		return NULL;
	}
	x = json_array_get(in, 0);
	return json_object_get(x, "sha384") != NULL ? json_object_get(x, "sha384")
						     : json_object_get(x, "sha256");
}

/* The stored form of a member that holds a derivable part: a copy without it, or NULL. */
static json_t *
member_pack(const json_t *task, const char *name, json_t *v)
{
	const char *tname = json_string_value(json_object_get(task, "name"));
	const json_t *sg = json_object_get(task, "signing");
	json_t *c;

	if (strcmp(name, "signing") == 0 && json_is_string(json_object_get(v, "digest")) &&
	    json_equal(json_object_get(v, "digest"), input_digest(task))) {
		c = json_copy(v);
		json_object_set_new(c, "digest", json_true());
		return c;
	}
	if (strcmp(name, "result") == 0 && json_object_get(v, "signature") != NULL &&
	    json_is_string(json_object_get(sg, "key")) &&
	    json_equal(json_object_get(v, "keyLabel"), json_object_get(sg, "key"))) {
		c = json_copy(v);
		json_object_del(c, "keyLabel");
		return c;
	}
	if (strcmp(name, "inputs") == 0 && tname != NULL) {
		size_t i;
		json_t *x;
		c = json_array();
		json_array_foreach(v, i, x) {
			json_t *e = json_copy(x);
			if (json_equal(json_object_get(e, "name"), json_object_get(task, "name"))) {
				json_object_del(e, "name");
			}
			json_array_append_new(c, e);
		}
		return c;
	}
	return NULL;
}

json_t *
task_record_pack(const json_t *task)
{
	json_int_t created = json_integer_value(json_object_get(task, "createdAt"));
	json_t *rec = json_object(), *v;
	const char *name;

	if (rec == NULL) {
		return NULL;
	}
	json_object_foreach((json_t *)task, name, v) {
		const struct task_member *m = member_by(name, false);
		json_t *c;
		if (strcmp(name, "id") == 0 || strcmp(name, "tenant") == 0) {
			continue;
		}
		if (m == NULL) {
			json_object_set(rec, name, v);
			continue;
		}
		if (m->def != NULL) {
			json_t *d = member_default(m);
			bool same = json_equal(d, v);
			json_decref(d);
			if (same) {
				continue;
			}
		}
		if (m->delta && json_is_integer(v)) {
			json_object_set_new(rec, m->brief,
					    json_integer(json_integer_value(v) - created));
		} else if ((c = member_pack(task, name, v)) != NULL) {
			json_object_set_new(rec, m->brief, c);
		} else {
			json_object_set(rec, m->brief, v);
		}
	}
	return rec;
}

/* Put back in a v2 record's members what task_record_pack left out of them. */
static void
members_unpack(json_t *task)
{
	json_t *sg = json_object_get(task, "signing"), *res = json_object_get(task, "result");
	json_t *in = json_object_get(task, "inputs"), *x;
	size_t i;

	if (json_is_true(json_object_get(sg, "digest")) && input_digest(task) != NULL) {
		json_object_set(sg, "digest", (json_t *)input_digest(task));
	}
	json_array_foreach(in, i, x) {
		if (json_object_get(x, "name") == NULL) {
			/* The name first, as the record was made. */
			json_t *e = json_pack("{s:O}", "name", json_object_get(task, "name"));
			json_object_update(e, x);
			json_array_set_new(in, i, e);
		}
	}
	if (json_object_get(res, "signature") != NULL && json_object_get(res, "keyLabel") == NULL &&
	    json_is_string(json_object_get(sg, "key"))) {
		json_t *r = json_pack("{s:O, s:O}", "signature", json_object_get(res, "signature"),
				      "keyLabel", json_object_get(sg, "key"));
		json_object_update_missing(r, res);
		json_object_set_new(task, "result", r);
	}
}

json_t *
task_record_load(const void *key, size_t klen, json_t *rec)
{
	const char *k = key, *id;
	json_int_t created;
	json_t *task, *v;
	const char *name;

	if (json_object_get(rec, "t") == NULL) {
		return json_incref(rec);
	}
	/* The key: tenant \0 id. */
	id = memchr(k, '\0', klen);
	if (id == NULL || (size_t)(k + klen - id - 1) != TASK_ID_LEN) {
		return NULL;
	}
	id++;
	created = json_integer_value(json_object_get(rec, "c"));
	task = json_pack("{s:s%, s:s%}", "id", id, (size_t)TASK_ID_LEN, "tenant", k,
			 (size_t)(id - 1 - k));
	if (task == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < TASK_NMEMBERS && task_members[i].leading; i++) {
		const struct task_member *m = &task_members[i];
		v = json_object_get(rec, m->brief);
		if (v != NULL) {
			json_object_set(task, m->name, v);
		} else if (m->def != NULL) {
			json_object_set_new(task, m->name, member_default(m));
		}
	}
	json_object_foreach(rec, name, v) {
		const struct task_member *m = member_by(name, true);
		if (m != NULL && m->leading) {
			continue;
		}
		if (m == NULL) {
			json_object_set(task, name, v);
		} else if (m->delta && json_is_integer(v)) {
			json_object_set_new(task, m->name,
					    json_integer(created + json_integer_value(v)));
		} else {
			json_object_set_new(task, m->name, json_deep_copy(v));
		}
	}
	/* The leading members are shared with REC: copy those the next step changes. */
	json_object_set_new(task, "inputs", json_deep_copy(json_object_get(task, "inputs")));
	json_object_set_new(task, "result", json_deep_copy(json_object_get(task, "result")));
	members_unpack(task);
	return task;
}

static void
task_record_put(struct store_txn *t, const char *key, size_t klen, const json_t *task,
		bool nooverwrite)
{
	json_t *rec = task_record_pack(task);

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
task_record_get(struct store_txn *t, const char *key, size_t klen, json_t **out)
{
	json_t *rec = NULL;
	int r;

	*out = NULL;
	if ((r = store_get_json(t, STORE_DB_TASKS, key, klen, &rec)) != 0) {
		return r;
	}
	*out = task_record_load(key, klen, rec);
	json_decref(rec);
	if (*out == NULL) {
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

int
task_put(struct store_txn *t, struct evnote *n, json_t *task, enum task_status old)
{
	const char *tenant = json_string_value(json_object_get(task, "tenant"));
	const char *id = json_string_value(json_object_get(task, "id"));
	enum task_status st = task_status_of(task);
	char key[256];
	size_t klen;
	uint64_t before = 0;
	json_t *empty, *prev = NULL;

	if (tenant == NULL || !task_id_valid(id) || st == TS_COUNT) {
		return SIGNET_EINTERNAL;
	}
	json_object_set_new(task, "updatedAt", json_integer(time_now()));
	klen = store_key2(key, sizeof(key), tenant, id);
	/* What the record held in the spool before: its sums change with it (quota.h). */
	if (old != TS_COUNT && task_record_get(t, key, klen, &prev) == 0) {
		before = quota_task_charge(prev);
	}
	json_decref(prev);
	task_record_put(t, key, klen, task, false);
	quota_task_update(t, task, before);
	if (old != st) {
		if (old != TS_COUNT) {
			klen = index_key(key, sizeof(key), tenant, old, id);
			store_del(t, STORE_DB_TASK_INDEX, key, klen);
		}
		empty = json_object();
		klen = index_key(key, sizeof(key), tenant, st, id);
		store_put_json(t, STORE_DB_TASK_INDEX, key, klen, empty, false);
		json_decref(empty);
	}
	if (old == TS_COUNT) {
		json_t *ref = json_string(tenant);
		store_put_json(t, STORE_DB_TASK_REFS, id, strlen(id), ref, true);
		json_decref(ref);
	}
	if (t->err != 0) {
		return t->err;
	}
	if (old != st) {
		json_t *ev;
		metrics_tally_status(&n->tally, task, (int)st, task_status_final(st));
		ev = json_pack(
		    "{s:s, s:s, s:s, s:O, s:s, s:O, s:O}", "type", "task.status", "tenant", tenant,
		    "task", id, "taskType", json_object_get(task, "type"), "status",
		    task_status_name(st), "requester", json_object_get(task, "requester"),
		    "deviceConfigId", json_object_get(task, "deviceConfigId"));
		if (task_status_final(st)) {
			note_final(n, id);
		}
		return events_append(t, n, ev);
	}
	return 0;
}

static int
status_event(struct store_txn *t, struct evnote *n, const json_t *task, enum task_status st)
{
	json_t *ev =
	    json_pack("{s:s, s:O, s:O, s:O, s:s, s:O, s:O}", "type", "task.status", "tenant",
		      json_object_get(task, "tenant"), "task", json_object_get(task, "id"),
		      "taskType", json_object_get(task, "type"), "status", task_status_name(st),
		      "requester", json_object_get(task, "requester"), "deviceConfigId",
		      json_object_get(task, "deviceConfigId"));

	if (task_status_final(st)) {
		note_final(n, json_string_value(json_object_get(task, "id")));
	}
	return events_append(t, n, ev);
}

int
task_put_new(struct store_txn *t, struct evnote *n, json_t *task, const enum task_status *path,
	     size_t npath)
{
	const char *tenant = json_string_value(json_object_get(task, "tenant"));
	const char *id = json_string_value(json_object_get(task, "id"));
	enum task_status last = path[npath - 1];
	int64_t now = time_now();
	char key[256];
	size_t klen;
	json_t *empty, *ref;
	int r;

	if (tenant == NULL || !task_id_valid(id) || npath == 0) {
		return SIGNET_EINTERNAL;
	}
	for (size_t i = 1; i < npath; i++) {
		if (path[i] == path[i - 1] || !task_transition_allowed(path[i - 1], path[i])) {
			log_err("task %s: %s then %s is not a path of the status model", id,
				task_status_name(path[i - 1]), task_status_name(path[i]));
			return SIGNET_EINTERNAL;
		}
	}
	json_object_set_new(task, "status", json_string(task_status_name(last)));
	json_object_set_new(task, "updatedAt", json_integer(now));
	for (size_t i = 0; i < npath; i++) {
		if (path[i] == TS_IN_PROGRESS) {
			json_object_set_new(task, "startedAt", json_integer(now));
		}
	}
	if (task_status_final(last)) {
		json_object_set_new(task, "finishedAt", json_integer(now));
	}
	/*
	 * One record, one index entry, one event per status passed through;
	 * a task written already ended (run in its request) has one event, its
	 * end: its record holds when it was created, started and finished.
	 */
	klen = store_key2(key, sizeof(key), tenant, id);
	task_record_put(t, key, klen, task, true);
	quota_task_update(t, task, 0);
	empty = json_object();
	klen = index_key(key, sizeof(key), tenant, last, id);
	store_put_json(t, STORE_DB_TASK_INDEX, key, klen, empty, false);
	json_decref(empty);
	ref = json_string(tenant);
	store_put_json(t, STORE_DB_TASK_REFS, id, strlen(id), ref, true);
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

int
task_set_status(struct store_txn *t, struct evnote *n, json_t *task, enum task_status st,
		const char *reason)
{
	enum task_status old = task_status_of(task);
	int64_t now = time_now();

	/* Every caller checked the task's status in this transaction: a refusal here is a bug. */
	if (!task_transition_allowed(old, st)) {
		log_err("task %s: %s to %s is not a change of the status model",
			json_string_value(json_object_get(task, "id")) ?: "?",
			task_status_name(old), task_status_name(st));
		return SIGNET_EINTERNAL;
	}
	json_object_set_new(task, "status", json_string(task_status_name(st)));
	if (reason != NULL) {
		json_object_set_new(task, "reason", json_string(reason));
	}
	if (st == TS_IN_PROGRESS) {
		json_object_set_new(task, "startedAt", json_integer(now));
	}
	if (task_status_final(st)) {
		json_object_set_new(task, "finishedAt", json_integer(now));
	}
	return task_put(t, n, task, old);
}

int
task_get(struct store_txn *t, const char *tenant, const char *id, json_t **out)
{
	char key[256];
	size_t klen;

	*out = NULL;
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
task_visible(const struct policy_subject *s, const json_t *task)
{
	char me[ACL_SUBJECT_MAX];
	const char *req = json_string_value(json_object_get(task, "requester"));
	const char *dc = json_string_value(json_object_get(task, "deviceConfigId"));
	const char *tenant = json_string_value(json_object_get(task, "tenant"));

	if (tenant == NULL || strcmp(tenant, s->tenant) != 0) {
		return false;
	}
	policy_subject_name(s, me, sizeof(me));
	if (req != NULL && strcmp(req, me) == 0) {
		return true;
	}
	return policy_allows_on(s, ACL_VIEW, ACL_RT_DEVICE_CONFIG, dc);
}

json_t *
task_view(const json_t *task)
{
	json_t *v = json_deep_copy(task);

	if (v != NULL) {
		/* Where the daemon keeps things, and what it keeps room for, is its own business.
		 */
		json_object_del(v, "spool");
		json_object_del(v, "resultMax");
	}
	return v;
}

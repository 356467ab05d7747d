/* SPDX-License-Identifier: Apache-2.0 */
/* Events: the global sequence that task.wait and events.watch follow, appended in a write. */
#include "config.h"

#include <string.h>

#include "daemon/events.h"
#include "daemon/server.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/util.h"

uint64_t
events_last_seq(struct store_txn *t)
{
	uint8_t k[8];
	size_t klen = sizeof(k);

	if (store_last_key(t, STORE_DB_EVENTS, k, &klen) != 0 || klen != 8) {
		return 0;
	}
	return be64_get(k);
}

/*
 * An event as stored: its members briefly named ("y" for "type"), without
 * seq (its key); event_load gives it back as events.watch sends it, seq
 * before time. An event with "type" (written before) is read as it is.
 */
static const struct {
	const char *name, *brief;
} event_briefs[] = {
    {"type", "y"},
    {"tenant", "tn"},
    {"task", "k"},
    {"taskType", "kt"},
    {"status", "st"},
    {"requester", "rq"},
    {"deviceConfigId", "dc"},
    {"by", "b"},
    {"decision", "de"},
    {"approver", "ap"},
    {"user", "us"},
    {"lockedUntil", "lu"},
    {"time", "tm"},
};
#define EVENT_NBRIEFS (sizeof(event_briefs) / sizeof(event_briefs[0]))

static const char *
event_name(const char *name, bool to_brief)
{
	for (size_t i = 0; i < EVENT_NBRIEFS; i++) {
		if (strcmp(to_brief ? event_briefs[i].name : event_briefs[i].brief, name) == 0) {
			return to_brief ? event_briefs[i].brief : event_briefs[i].name;
		}
	}
	return name;
}

json_t *
event_load(const void *key, size_t klen, json_t *rec)
{
	json_t *ev, *v;
	const char *name;

	if (json_object_get(rec, "y") == NULL) {
		return json_incref(rec);
	}
	if (klen != 8 || (ev = json_object()) == NULL) {
		return NULL;
	}
	json_object_foreach(rec, name, v) {
		if (strcmp(name, "tm") != 0) {
			json_object_set(ev, event_name(name, false), v);
		}
	}
	json_object_set_new(ev, "seq", json_integer((json_int_t)be64_get(key)));
	json_object_set(ev, "time", json_object_get(rec, "tm"));
	return ev;
}

int
events_append(struct store_txn *t, struct evnote *n, json_t *ev)
{
	uint8_t k[8];
	uint64_t seq;
	json_t *rec, *v;
	const char *name;

	if (ev == NULL) {
		return SIGNET_EINTERNAL;
	}
	seq = (n->last != 0 ? n->last : events_last_seq(t)) + 1;
	json_object_set_new(ev, "time", json_integer(time_now()));
	if ((rec = json_object()) == NULL) {
		json_decref(ev);
		return SIGNET_EINTERNAL;
	}
	json_object_foreach(ev, name, v) {
		json_object_set(rec, event_name(name, true), v);
	}
	be64_put(k, seq);
	/* The sequence only grows: append, which fills the pages. */
	store_append_json(t, STORE_DB_EVENTS, k, sizeof(k), rec);
	json_decref(rec);
	json_decref(ev);
	if (t->err == 0) {
		n->last = seq;
	}
	return t->err;
}

size_t
events_prune(struct store_txn *t, uint64_t keep, size_t max, bool *more)
{
	size_t n = store_count(t, STORE_DB_EVENTS), drop;

	*more = false;
	if (keep == 0 || n <= keep) {
		return 0;
	}
	drop = n - keep;
	if (drop > max) {
		drop = max;
		*more = true;
	}
	return store_del_first(t, STORE_DB_EVENTS, drop);
}

uint64_t
events_first_seq(struct store_txn *t)
{
	uint8_t zero[8] = {0}, k[8];
	size_t klen = sizeof(k);
	json_t *v = NULL;

	if (store_first_from(t, STORE_DB_EVENTS, zero, sizeof(zero), k, &klen, &v) != 0 ||
	    klen != 8) {
		json_decref(v);
		return 0;
	}
	json_decref(v);
	return be64_get(k);
}

void
events_publish(struct daemon *d, const struct evnote *n)
{
	metrics_tasks_add(d, &n->tally);
	if (n->last != 0 && d->server != NULL) {
		server_notify(d->server, n);
	}
}

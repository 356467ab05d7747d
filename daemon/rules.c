/* SPDX-License-Identifier: Apache-2.0 */
/* ACL rules and task capabilities in the store, and the rights of an authenticated subject. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/rules.h"
#include "daemon/user.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define CAP_PREFIX "~TASK:"

static size_t
rule_key(char *out, size_t outlen, const char *tenant, const char *subject, const char *resource,
	 enum acl_action action)
{
	const char *parts[] = {tenant, subject, resource, acl_action_name(action)};

	return store_keyv(out, outlen, parts, 4);
}

int
rules_put(struct store_txn *t, const char *tenant, const char *subject, const char *resource,
	  enum acl_action action, const json_t *extra)
{
	char key[512];
	size_t klen = rule_key(key, sizeof(key), tenant, subject, resource, action);
	json_t *rec;

	if (klen == 0) {
		return SIGNET_EINVAL;
	}
	if (store_exists(t, STORE_DB_ACL, key, klen)) {
		return SIGNET_ECONFLICT;
	}
	rec = json_pack("{s:s, s:s, s:s, s:I}", "subject", subject, "resource", resource, "action",
			acl_action_name(action), "created", (json_int_t)time_now());
	if (rec == NULL) {
		return SIGNET_EINTERNAL;
	}
	if (extra != NULL) {
		json_object_update(rec, (json_t *)extra);
	}
	store_put_json(t, STORE_DB_ACL, key, klen, rec, true);
	json_decref(rec);
	return t->err;
}

int
rules_del(struct store_txn *t, const char *tenant, const char *subject, const char *resource,
	  enum acl_action action, bool force)
{
	char key[512];
	size_t klen = rule_key(key, sizeof(key), tenant, subject, resource, action);
	json_t *rec = NULL;
	int r;

	if (klen == 0) {
		return SIGNET_ENOTFOUND;
	}
	if ((r = store_get_json(t, STORE_DB_ACL, key, klen, &rec)) != 0) {
		return r;
	}
	if (!force && json_is_true(json_object_get(rec, "fixed"))) {
		json_decref(rec);
		return SIGNET_EDENIED;
	}
	json_decref(rec);
	store_del(t, STORE_DB_ACL, key, klen);
	return t->err;
}

/* The rights that mean something on each resource type. */
static bool
meaningful(enum acl_resource_type ty, enum acl_action a)
{
	switch (ty) {
	case ACL_RT_DEVICE_CONFIG:
		return true;
	case ACL_RT_AUDIT_LOG:
		return a == ACL_VIEW;
	default:
		return a != ACL_USE && a != ACL_APPROVE;
	}
}

bool
rules_meaningful(enum acl_resource_type ty, enum acl_action a)
{
	return ty > ACL_RT_NONE && ty < ACL_RT_COUNT && a > ACL_NONE && a < ACL_ACTION_COUNT &&
	       meaningful(ty, a);
}

int
rules_put_admin(struct store_txn *t, const char *tenant, const char *admin)
{
	char subject[ACL_SUBJECT_MAX], resource[ACL_RESOURCE_MAX];
	json_t *extra = json_pack("{s:b}", "fixed", 1);
	int r = 0;

	if (extra == NULL) {
		return SIGNET_EINTERNAL;
	}
	snprintf(subject, sizeof(subject), "USER:%s", admin);
	for (int ty = ACL_RT_NONE + 1; ty < ACL_RT_COUNT && r == 0; ty++) {
		snprintf(resource, sizeof(resource), "RESOURCE_TYPE:%s",
			 acl_resource_type_name((enum acl_resource_type)ty));
		for (int a = ACL_NONE + 1; a < ACL_ACTION_COUNT && r == 0; a++) {
			if (meaningful((enum acl_resource_type)ty, (enum acl_action)a)) {
				r = rules_put(t, tenant, subject, resource, (enum acl_action)a,
					      extra);
			}
		}
	}
	json_decref(extra);
	return r;
}

struct devconf_del {
	struct store_txn *t;
	const char *id;
	char keys[64][512];
	size_t lens[64];
	size_t n;
	bool more;
};

static int
devconf_del_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct devconf_del *x = arg;
	const char *dc = json_string_value(json_object_get(val, "deviceConfig"));

	if (dc == NULL || strcmp(dc, x->id) != 0 || key->len > sizeof(x->keys[0])) {
		return 0;
	}
	if (x->n == sizeof(x->keys) / sizeof(x->keys[0])) {
		x->more = true;
		return STORE_PAGE_FULL;
	}
	memcpy(x->keys[x->n], key->data, key->len);
	x->lens[x->n++] = key->len;
	return 0;
}

int
rules_del_devconf(struct store_txn *t, const char *tenant, const char *id)
{
	struct devconf_del *x = calloc(1, sizeof(*x));
	int r;

	if (x == NULL) {
		return SIGNET_EINTERNAL;
	}
	x->t = t;
	x->id = id;
	/* Deleting under a cursor walk is not safe: collect a batch, delete it, look again. */
	do {
		x->n = 0;
		x->more = false;
		r = store_foreach(t, STORE_DB_ACL, tenant, strlen(tenant) + 1, devconf_del_cb, x);
		for (size_t i = 0; i < x->n; i++) {
			store_del(t, STORE_DB_ACL, x->keys[i], x->lens[i]);
		}
	} while ((r == 0 || r == SIGNET_ETOO_LARGE) && x->more && t->err == 0);
	free(x);
	return r == 0 || r == SIGNET_ETOO_LARGE ? t->err : r;
}

struct load {
	struct policy_subject *s;
	size_t cap;
	int err;
};

/* A rule's key is "tenant \0 subject \0 resource \0 action": the grant is read from it alone. */
static int
load_cb(const struct store_key *key, void *arg)
{
	struct load *x = arg;
	struct policy_subject *s = x->s;
	const char *k = key->data, *res, *act;
	size_t n = key->len, off = 0, rl, al;
	char action[16];
	enum acl_action a;

	/* Skip tenant and subject (the prefix), then split resource and action. */
	for (int part = 0; part < 2; part++) {
		const char *z = memchr(k + off, '\0', n - off);
		if (z == NULL) {
			return 0;
		}
		off = (size_t)(z - k) + 1;
	}
	res = k + off;
	act = memchr(res, '\0', n - off);
	if (act == NULL) {
		return 0;
	}
	rl = (size_t)(act - res);
	act++;
	al = n - off - rl - 1;
	if (rl == 0 || rl >= ACL_RESOURCE_MAX || al == 0 || al >= sizeof(action)) {
		return 0;
	}
	memcpy(action, act, al);
	action[al] = '\0';
	if (acl_action_parse(action, &a) != 0) {
		return 0;
	}
	if (s->ngrants == x->cap) {
		size_t ncap = x->cap == 0 ? 32 : x->cap * 2;
		struct policy_grant *g;
		if (ncap > RULES_GRANTS_MAX) {
			log_warning(
			    "rules: USER:%s of tenant %s holds more than %d rights; the rest "
			    "are ignored",
			    s->user, s->tenant, RULES_GRANTS_MAX);
			return 1;
		}
		g = realloc(s->grants, ncap * sizeof(*g));
		if (g == NULL) {
			x->err = SIGNET_EINTERNAL;
			return SIGNET_EINTERNAL;
		}
		s->grants = g;
		x->cap = ncap;
	}
	memcpy(s->grants[s->ngrants].resource, res, rl);
	s->grants[s->ngrants].resource[rl] = '\0';
	s->grants[s->ngrants].action = a;
	s->ngrants++;
	return 0;
}

static int
load_prefix(struct store_txn *t, struct load *x, const char *subject)
{
	char prefix[256];
	const char *parts[] = {x->s->tenant, subject, ""};
	size_t plen = store_keyv(prefix, sizeof(prefix), parts, 3);
	int r;

	if (plen == 0) {
		return SIGNET_EINVAL;
	}
	r = store_foreach_key(t, STORE_DB_ACL, prefix, plen, load_cb, x);
	return x->err != 0 ? x->err : (r > 0 ? 0 : r);
}

int
rules_load_subject(struct store_txn *t, struct policy_subject *s, const struct user_record *u)
{
	struct load x = {.s = s};
	char subject[ACL_SUBJECT_MAX];
	size_t i;
	int r;

	s->grants = NULL;
	s->ngrants = 0;
	s->ngroups = 0;
	for (i = 0; i < u->ngroups && s->ngroups < POLICY_GROUPS_MAX; i++) {
		snprintf(s->groups[s->ngroups++], ACL_NAME_MAX + 1, "%s", u->groups[i]);
	}
	if (s->admin) {
		return 0; /* the initial admin's fixed rules grant everything: nothing to look up */
	}
	policy_subject_name(s, subject, sizeof(subject));
	if ((r = load_prefix(t, &x, subject)) != 0) {
		goto fail;
	}
	for (i = 0; i < s->ngroups; i++) {
		snprintf(subject, sizeof(subject), "GROUP:%s", s->groups[i]);
		if ((r = load_prefix(t, &x, subject)) != 0) {
			goto fail;
		}
	}
	return 0;
fail:
	rules_free_subject(s);
	return r;
}

void
rules_free_subject(struct policy_subject *s)
{
	free(s->grants);
	s->grants = NULL;
	s->ngrants = 0;
}

static size_t
cap_key(char *out, size_t outlen, const char *tenant, const char *task_id)
{
	char id[64];
	const char *parts[] = {tenant, id};

	snprintf(id, sizeof(id), CAP_PREFIX "%s", task_id);
	return store_keyv(out, outlen, parts, 2);
}

int
rules_put_capability(struct store_txn *t, const char *tenant, const char *task_id,
		     const char *subject, const char *devconf, const char *key,
		     const char *operation)
{
	char k[256], res[ACL_RESOURCE_MAX];
	size_t klen = cap_key(k, sizeof(k), tenant, task_id);
	json_t *rec;

	snprintf(res, sizeof(res), "DEVICE_CONFIG:%s", devconf);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "subject", subject, "resource", res,
			"action", "USE", "task", task_id, "key", key != NULL ? key : "",
			"operation", operation, "created", (json_int_t)time_now());
	if (rec == NULL || klen == 0) {
		json_decref(rec);
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_ACL, k, klen, rec, false);
	json_decref(rec);
	return t->err;
}

bool
rules_has_capability(struct store_txn *t, const char *tenant, const char *task_id,
		     const char *subject, const char *devconf)
{
	char k[256], res[ACL_RESOURCE_MAX];
	size_t klen = cap_key(k, sizeof(k), tenant, task_id);
	json_t *rec = NULL;
	bool ok;

	snprintf(res, sizeof(res), "DEVICE_CONFIG:%s", devconf);
	if (klen == 0 || store_get_json(t, STORE_DB_ACL, k, klen, &rec) != 0) {
		return false;
	}
	ok = json_is_string(json_object_get(rec, "subject")) &&
	     strcmp(json_string_value(json_object_get(rec, "subject")), subject) == 0 &&
	     json_is_string(json_object_get(rec, "resource")) &&
	     strcmp(json_string_value(json_object_get(rec, "resource")), res) == 0;
	json_decref(rec);
	return ok;
}

void
rules_del_capability(struct store_txn *t, const char *tenant, const char *task_id)
{
	char k[256];
	size_t klen = cap_key(k, sizeof(k), tenant, task_id);

	if (klen > 0 && store_exists(t, STORE_DB_ACL, k, klen)) {
		store_del(t, STORE_DB_ACL, k, klen);
	}
}

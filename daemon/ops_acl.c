/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on the tenant's ACL and its configuration values. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "daemon/audit.h"
#include "daemon/ops.h"
#include "daemon/report.h"
#include "daemon/rules.h"
#include "daemon/user.h"
#include "daemon/store.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

struct acl_op {
	struct request *r;
	const char *subject, *resource;
	enum acl_action action;
	bool add;
};

/* Is NAME the tenant's initial admin? */
static bool
is_initial_admin(struct store_txn *t, const char *tenant, const char *subject)
{
	json_t *rec = NULL;
	const char *admin;
	bool yes = false;

	if (strncmp(subject, "USER:", 5) != 0 ||
	    store_get_json(t, STORE_DB_TENANTS, tenant, strlen(tenant), &rec) != 0) {
		return false;
	}
	admin = json_string_value(json_object_get(rec, "admin"));
	yes = admin != NULL && strcmp(admin, subject + 5) == 0;
	json_decref(rec);
	return yes;
}

/* The subject must name an existing user of the right kind, or a valid group name. */
int
ops_check_subject(struct request *r, struct store_txn *t, const char *subject)
{
	enum acl_subject_kind kind;
	const char *name;
	struct user_record u;
	bool client;
	int rc;

	if (acl_subject_parse(subject, &kind, &name) != 0 || !name_is_valid(name)) {
		return req_fail(r, SIGNET_EINVAL,
				"subject '%.80s' must be USER:name, GROUP:name or CLIENT:name",
				subject != NULL ? subject : "");
	}
	if (kind == ACL_SUBJ_GROUP) {
		return 0;
	}
	if ((rc = user_read(t, r->subject.tenant, name, &u)) != 0) {
		return rc == SIGNET_ENOTFOUND
			   ? req_fail(r, SIGNET_ENOTFOUND, "no user '%s' in this tenant", name)
			   : rc;
	}
	client = u.client;
	if (client != (kind == ACL_SUBJ_CLIENT)) {
		return req_fail(r, SIGNET_EINVAL, "'%s' is a %s: name it %s:%s", name,
				client ? "client" : "user", client ? "CLIENT" : "USER", name);
	}
	return 0;
}

static int
acl_op_txn(struct store_txn *t, void *arg)
{
	struct acl_op *x = arg;
	struct request *r = x->r;
	enum acl_resource_type type;
	const char *id;
	int rc;

	if ((rc = ops_check_subject(r, t, x->subject)) != 0) {
		return rc;
	}
	if (acl_resource_parse(x->resource, &type, &id) != 0) {
		return req_fail(
		    r, SIGNET_EINVAL,
		    "resource must be RESOURCE_TYPE:{ACL,AUDIT_LOG,DEVICE_CONFIG,KEY,USER} "
		    "or DEVICE_CONFIG:<id>");
	}
	if (!rules_meaningful(type, x->action)) {
		return req_fail(r, SIGNET_EINVAL,
				"%s means nothing on %s (USE and APPROVE are for device "
				"configurations; the audit log is only viewed)",
				acl_action_name(x->action), acl_resource_type_name(type));
	}
	if (id != NULL) {
		char key[160];
		size_t klen = store_key2(key, sizeof(key), r->subject.tenant, id);
		if (klen == 0 || !store_exists(t, STORE_DB_DEVCONFS, key, klen)) {
			return req_fail(r, SIGNET_ENOTFOUND, "no device configuration '%s'", id);
		}
	}
	if (is_initial_admin(t, r->subject.tenant, x->subject)) {
		return req_fail(r, SIGNET_EDENIED, "the initial admin's rules cannot be changed");
	}
	if (x->add) {
		rc = rules_put(t, r->subject.tenant, x->subject, x->resource, x->action, NULL);
		if (rc == SIGNET_ECONFLICT) {
			return req_fail(r, rc, "the rule exists");
		}
	} else {
		rc = rules_del(t, r->subject.tenant, x->subject, x->resource, x->action, false);
		if (rc == SIGNET_ENOTFOUND) {
			return req_fail(r, rc, "no such rule");
		}
		if (rc == SIGNET_EDENIED) {
			return req_fail(r, rc, "the initial admin's rules cannot be changed");
		}
	}
	if (rc == 0) {
		char res[ACL_SUBJECT_MAX + ACL_RESOURCE_MAX + 24];
		snprintf(res, sizeof(res), "ACL:%s/%s/%s", x->subject, x->resource,
			 acl_action_name(x->action));
		rc = audit_req(t, r, x->add ? "CREATED" : "DELETED", res,
			       x->add ? "rule added" : "rule removed", NULL);
	}
	return rc;
}

static int
acl_change(struct request *r, bool add)
{
	struct acl_op x = {.r = r, .add = add};
	const char *action;
	int rc;

	if (jargs_str(&r->args, "subject", true, ACL_SUBJECT_MAX - 1, &x.subject) != 0 ||
	    jargs_str(&r->args, "resource", true, ACL_RESOURCE_MAX - 1, &x.resource) != 0 ||
	    jargs_str(&r->args, "action", true, 16, &action) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (acl_action_parse(action, &x.action) != 0) {
		return req_fail(r, SIGNET_EINVAL,
				"action must be VIEW, CREATE, UPDATE, DELETE, USE or APPROVE");
	}
	rc = store_write(r->d->store, acl_op_txn, &x);
	if (rc == 0) {
		log_notice("USER:%s of tenant %s %s rule %s %s %s", r->subject.user,
			   r->subject.tenant, add ? "added" : "removed", x.subject, x.resource,
			   action);
		r->result = json_pack("{s:s, s:s, s:s}", "subject", x.subject, "resource",
				      x.resource, "action", action);
	}
	return rc;
}

int
op_acl_add(struct request *r)
{
	return acl_change(r, true);
}

int
op_acl_remove(struct request *r)
{
	return acl_change(r, false);
}

static int
acl_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	json_t *item = json_deep_copy(val);

	return item != NULL ? ops_list_append(arg, item) : SIGNET_EINTERNAL;
}

int
op_acl_list(struct request *r)
{
	return ops_list(r, STORE_DB_ACL, r->subject.tenant, acl_list_cb, "rules");
}

/* Tenant configuration values */

struct config_key {
	const char *name;
	json_type type;
	const char *def; /* JSON text */
	const char *help;
};

static const struct config_key config_keys[] = {
    {"approval.fourEyes.encryption", JSON_TRUE, "false",
     "encryption tasks wait for approval unless their device configuration says otherwise"},
    {"approval.fourEyes.packaging", JSON_TRUE, "true",
     "packaging tasks wait for approval unless their device configuration says otherwise"},
    {"approval.fourEyes.signing", JSON_TRUE, "true",
     "signing tasks wait for approval unless their device configuration says otherwise"},
    {"encryption.legacyCiphers.allowed", JSON_TRUE, "false",
     "allow the ECB ciphers (AES256_ECB_ZERO_BYTE_PAD, AES128_ECB_ZERO_BYTE_PAD)"},
    {"soup.report.validation.trusted.cert.fingerprints", JSON_ARRAY, "[]",
     "the SHA-256 fingerprints (AA:BB:...) of the certificates trusted as anchors of signed "
     "reports; a set replaces the whole list"},
};

static const struct config_key *
config_find(const char *name)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		if (strcmp(config_keys[i].name, name) == 0) {
			return &config_keys[i];
		}
	}
	return NULL;
}

json_t *
tenant_config_get(struct store_txn *t, const char *tenant, const char *name)
{
	const struct config_key *k = config_find(name);
	char key[200];
	size_t klen = store_key2(key, sizeof(key), tenant, name);
	json_t *rec = NULL, *v;

	if (k == NULL) {
		return NULL;
	}
	if (klen > 0 && store_get_json(t, STORE_DB_CONFIG, key, klen, &rec) == 0) {
		v = json_incref(json_object_get(rec, "value"));
		json_decref(rec);
		if (v != NULL) {
			return v;
		}
	}
	return json_loads(k->def, JSON_DECODE_ANY, NULL);
}

struct config_op {
	struct request *r;
	const char *name;
	json_t *value;
};

static int
config_get_txn(struct store_txn *t, void *arg)
{
	struct config_op *x = arg;

	x->value = tenant_config_get(t, x->r->subject.tenant, x->name);
	return x->value != NULL ? 0 : SIGNET_EINTERNAL;
}

static int
config_set_txn(struct store_txn *t, void *arg)
{
	struct config_op *x = arg;
	char key[200];
	size_t klen = store_key2(key, sizeof(key), x->r->subject.tenant, x->name);
	json_t *rec = json_pack("{s:O, s:I, s:s}", "value", x->value, "updatedAt",
				(json_int_t)time_now(), "updatedBy", x->r->subject.user);

	if (rec == NULL || klen == 0) {
		json_decref(rec);
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_CONFIG, key, klen, rec, false);
	json_decref(rec);
	{
		char res[160];
		snprintf(res, sizeof(res), "CONFIG:%s", x->name);
		return audit_req(t, x->r, "UPDATED", res, "tenant configuration set", x->value);
	}
}

static int
config_args(struct request *r, struct config_op *x)
{
	if (jargs_str(&r->args, "key", true, 128, &x->name) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (config_find(x->name) == NULL) {
		return req_fail(r, SIGNET_ENOTFOUND, "no tenant configuration key '%.128s'",
				x->name);
	}
	return 0;
}

int
op_config_get(struct request *r)
{
	struct config_op x = {.r = r};
	int rc;

	if ((rc = config_args(r, &x)) != 0) {
		return rc;
	}
	if ((rc = store_read(r->d->store, config_get_txn, &x)) == 0) {
		r->result = json_pack("{s:s, s:o}", "key", x.name, "value", x.value);
	}
	return rc;
}

int
op_config_set(struct request *r)
{
	struct config_op x = {.r = r};
	const struct config_key *k;
	json_t *norm = NULL;
	int rc;

	if ((rc = config_args(r, &x)) != 0) {
		return rc;
	}
	if (!r->subject.admin) {
		return req_fail(r, SIGNET_EDENIED,
				"only the initial admin may change the tenant configuration");
	}
	k = config_find(x.name);
	x.value = json_object_get(r->args.obj, "value");
	if (x.value == NULL ||
	    (k->type == JSON_TRUE ? !json_is_boolean(x.value) : json_typeof(x.value) != k->type)) {
		return req_fail(r, SIGNET_EINVAL, "'%s' takes a%s %s: %s", x.name,
				k->type == JSON_ARRAY ? "n" : "",
				k->type == JSON_TRUE    ? "boolean"
				: k->type == JSON_ARRAY ? "array"
							: "value",
				k->help);
	}
	if (k->type == JSON_ARRAY) {
		/* Fingerprints: validated, normalised (upper-case colon-hex), de-duplicated. */
		const char *why = NULL;
		if ((rc = report_fingerprints_parse(x.value, &norm, &why)) != 0) {
			return req_fail(r, SIGNET_EINVAL, "'%s': %s", x.name,
					why != NULL ? why : "invalid fingerprints");
		}
		x.value = norm;
	}
	if ((rc = store_write(r->d->store, config_set_txn, &x)) == 0) {
		log_notice("USER:%s of tenant %s set %s", r->subject.user, r->subject.tenant,
			   x.name);
		r->result = json_pack("{s:s, s:O}", "key", x.name, "value", x.value);
	}
	json_decref(norm);
	return rc;
}

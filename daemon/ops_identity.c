/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on tenants, users and API tokens. */
#include "config.h"

#include <string.h>

#include "daemon/audit.h"
#include "daemon/identity.h"
#include "daemon/ops.h"
#include "daemon/quota.h"
#include "daemon/rules.h"
#include "daemon/store.h"
#include "daemon/user.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

struct tenant_create {
	struct request *r;
	const char *name, *admin;
	char token[IDENT_TOKEN_LEN + 1];
};

static int
tenant_create_txn(struct store_txn *t, void *arg)
{
	struct tenant_create *x = arg;
	struct user_record u;
	json_t *tenant;
	int r;

	if (store_exists(t, STORE_DB_TENANTS, x->name, strlen(x->name))) {
		return req_fail(x->r, SIGNET_ECONFLICT, "tenant '%s' exists", x->name);
	}
	tenant = json_pack("{s:s, s:s, s:I}", "name", x->name, "admin", x->admin, "created",
			   (json_int_t)time_now());
	if (tenant == NULL) {
		return SIGNET_EINTERNAL;
	}
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", x->admin);
	snprintf(u.tenant, sizeof(u.tenant), "%s", x->name);
	u.admin = true;
	u.created = time_now();
	store_put_json(t, STORE_DB_TENANTS, x->name, strlen(x->name), tenant, true);
	r = ident_user_set_token(t, &u, x->token);
	user_write(t, &u, true);
	if (r == 0) {
		r = rules_put_admin(t, x->name, x->admin);
	}
	if (r == 0) {
		/* The appliance's chain records the tenant; the tenant's own chain starts with it.
		 */
		struct audit_actor a;
		char res[ACL_NAME_MAX + 8];
		json_t *v = json_pack("{s:s, s:s}", "name", x->name, "admin", x->admin);
		snprintf(res, sizeof(res), "TENANT:%s", x->name);
		audit_actor_of(x->r, &a);
		r = audit_append(t, AUDIT_APPLIANCE, &a, "CREATED", res, "tenant created", v);
		a.tenant = x->name;
		if (r == 0) {
			r = audit_append(t, x->name, &a, "CREATED", res, "tenant created", v);
		}
		json_decref(v);
		x->r->audited = true;
	}
	json_decref(tenant);
	return r != 0 ? r : t->err;
}

int
op_tenant_create(struct request *r)
{
	struct tenant_create x = {.r = r};
	int rc;

	if (jargs_name(&r->args, "name", true, &x.name) != 0 ||
	    jargs_name(&r->args, "admin", true, &x.admin) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	rc = store_write(r->d->store, tenant_create_txn, &x);
	if (rc == 0) {
		log_notice("tenant %s created by uid %u with initial admin %s", x.name,
			   (unsigned)r->peer.uid, x.admin);
		r->result = json_pack("{s:s, s:s, s:s}", "tenant", x.name, "admin", x.admin,
				      "token", x.token);
	}
	secure_wipe(x.token, sizeof(x.token));
	return rc;
}

static int
tenant_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	return ops_list_append(arg,
			       json_pack("{s:O, s:O, s:O}", "name", json_object_get(val, "name"),
					 "admin", json_object_get(val, "admin"), "created",
					 json_object_get(val, "created")));
}

int
op_tenant_list(struct request *r)
{
	return ops_list(r, STORE_DB_TENANTS, NULL, tenant_list_cb, "tenants");
}

/* The public view of a user record: no token hash. */
static json_t *
user_view(const struct user_record *u)
{
	json_t *rec = user_encode(u), *v;

	if (rec == NULL) {
		return NULL;
	}
	v = json_pack("{s:O, s:O, s:b, s:b, s:I, s:b, s:b}", "name", json_object_get(rec, "name"),
		      "groups", json_object_get(rec, "groups"), "client", u->client, "admin",
		      u->admin, "created", (json_int_t)u->created, "hasToken",
		      u->token_hash[0] != '\0', "otpEnrolled", u->enrolled);
	json_decref(rec);
	/* Enrollment and lockout state; never the seed (which is not here anyway). */
	if (v != NULL && u->enrolled) {
		json_object_set_new(v, "otpEnrolledAt", json_integer(u->otp.enrolled_at));
		json_object_set_new(v, "otpLockedUntil", json_integer(u->otp.locked_until));
	}
	return v;
}

struct user_op {
	struct request *r;
	const char *name;
	const json_t *groups;
	bool client;
	bool revoke;
	char token[IDENT_TOKEN_LEN + 1];
	json_t *view;
};

static int
user_create_txn(struct store_txn *t, void *arg)
{
	struct user_op *x = arg;
	const char *tenant = x->r->subject.tenant;
	char key[130];
	size_t klen = store_key2(key, sizeof(key), tenant, x->name);
	struct user_record u;
	size_t i;
	json_t *g;
	int r;

	/* The store may run this again after growing its map: start clean. */
	json_decref(x->view);
	x->view = NULL;
	if (store_exists(t, STORE_DB_USERS, key, klen)) {
		return req_fail(x->r, SIGNET_ECONFLICT, "user '%s' exists", x->name);
	}
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", x->name);
	snprintf(u.tenant, sizeof(u.tenant), "%s", tenant);
	json_array_foreach(x->groups, i, g) {
		if (u.ngroups < USER_GROUPS_MAX) {
			snprintf(u.groups[u.ngroups++], sizeof(u.groups[0]), "%s",
				 json_string_value(g));
		}
	}
	u.client = x->client;
	u.created = time_now();
	r = ident_user_set_token(t, &u, x->token);
	user_write(t, &u, true);
	x->view = user_view(&u);
	if (r == 0) {
		char res[ACL_SUBJECT_MAX + 8];
		json_t *v = json_pack("{s:O, s:b}", "groups", x->groups, "client", x->client);
		snprintf(res, sizeof(res), "USER:%s", x->name);
		r = audit_req(t, x->r, "CREATED", res, "user created", v);
		json_decref(v);
	}
	return r != 0 ? r : t->err;
}

int
op_user_create(struct request *r)
{
	struct user_op x = {.r = r};
	json_t *empty = json_array();
	int rc;

	x.groups = empty;
	if (jargs_name(&r->args, "name", true, &x.name) != 0 ||
	    jargs_name_array(&r->args, "groups", false, USER_GROUPS_MAX, &x.groups) != 0 ||
	    jargs_bool(&r->args, "client", false, &x.client) != 0) {
		json_decref(empty);
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	/* Group membership hands over the group's rules: only who may grant rules may do it. */
	if (json_array_size(x.groups) > 0 && !policy_allows(&r->subject, ACL_CREATE, ACL_RT_ACL)) {
		json_decref(empty);
		return req_fail(r, SIGNET_EDENIED,
				"putting a user in groups needs CREATE on RESOURCE_TYPE:ACL");
	}
	rc = store_write(r->d->store, user_create_txn, &x);
	json_decref(empty);
	if (rc == 0) {
		r->result =
		    json_pack("{s:s, s:s, s:s, s:O}", "tenant", r->subject.tenant, "user", x.name,
			      "token", x.token, "groups", json_object_get(x.view, "groups"));
	}
	json_decref(x.view);
	secure_wipe(x.token, sizeof(x.token));
	return rc;
}

static int
user_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct user_record u;
	int rc;

	(void)key;
	if ((rc = user_decode(val, &u)) != 0) {
		return rc;
	}
	return ops_list_append(arg, user_view(&u));
}

int
op_user_list(struct request *r)
{
	return ops_list(r, STORE_DB_USERS, r->subject.tenant, user_list_cb, "users");
}

static int
user_show_txn(struct store_txn *t, void *arg)
{
	struct user_op *x = arg;
	struct user_record u;
	int rc;

	if ((rc = ops_user_load(x->r, t, x->name, &u)) != 0) {
		return rc;
	}
	json_decref(x->view);
	x->view = user_view(&u);
	return x->view != NULL ? 0 : SIGNET_EINTERNAL;
}

int
op_user_show(struct request *r)
{
	struct user_op x = {.r = r};
	int rc;

	if (jargs_name(&r->args, "name", true, &x.name) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	rc = store_read(r->d->store, user_show_txn, &x);
	if (rc == 0) {
		r->result = x.view;
	}
	return rc;
}

static int
user_token_txn(struct store_txn *t, void *arg)
{
	struct user_op *x = arg;
	struct user_record u;
	int r = 0;

	if ((r = ops_user_load(x->r, t, x->name, &u)) != 0) {
		return r;
	}
	if (u.admin && !x->r->subject.admin) {
		/* Whoever holds the admin's token holds every right: only the admin renews it. */
		return req_fail(x->r, SIGNET_EDENIED,
				"only the initial admin may renew the initial admin's token");
	}
	if (x->revoke) {
		if (u.admin) {
			return req_fail(x->r, SIGNET_ECONFLICT,
					"the initial admin's token can be renewed, not revoked");
		}
		ident_user_revoke_token(t, &u);
	} else {
		r = ident_user_set_token(t, &u, x->token);
	}
	user_write(t, &u, false);
	if (r == 0) {
		char res[ACL_SUBJECT_MAX + 8];
		snprintf(res, sizeof(res), "USER:%s", x->name);
		r = audit_req(t, x->r, "UPDATED", res,
			      x->revoke ? "API token revoked" : "API token issued", NULL);
	}
	return r != 0 ? r : t->err;
}

static int
user_token_common(struct request *r, bool revoke)
{
	struct user_op x = {.r = r, .revoke = revoke};
	int rc;

	if (jargs_name(&r->args, "name", true, &x.name) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	/* Renewing one's own token needs no right; revoking anyone else's needs UPDATE on USER. */
	if ((revoke || strcmp(x.name, r->subject.user) != 0) &&
	    !policy_allows(&r->subject, ACL_UPDATE, ACL_RT_USER)) {
		return req_fail(r, SIGNET_EDENIED, "USER:%s may not UPDATE RESOURCE_TYPE:USER",
				r->subject.user);
	}
	/*
	 * A new token for someone else is that person's identity in the caller's
	 * hands (enough to enroll their TOTP and approve as them): the initial
	 * admin's act alone.
	 */
	if (!revoke && strcmp(x.name, r->subject.user) != 0 && !r->subject.admin) {
		return req_fail(r, SIGNET_EDENIED,
				"only the initial admin may issue a token for another user");
	}
	rc = store_write(r->d->store, user_token_txn, &x);
	if (rc == 0) {
		log_notice("USER:%s of tenant %s %s the token of %s", r->subject.user,
			   r->subject.tenant, revoke ? "revoked" : "renewed", x.name);
		r->result = revoke ? json_pack("{s:s, s:b}", "user", x.name, "revoked", 1)
				   : json_pack("{s:s, s:s}", "user", x.name, "token", x.token);
	}
	secure_wipe(x.token, sizeof(x.token));
	return rc;
}

int
op_user_token(struct request *r)
{
	return user_token_common(r, false);
}

int
op_user_revoke(struct request *r)
{
	return user_token_common(r, true);
}

/* BYTES of QUOTA: {"used", "quota"}, quota null when there is none. */
static json_t *
use_view(uint64_t used, uint64_t quota)
{
	return json_pack("{s:I, s:o}", "used", (json_int_t)used, "quota",
			 quota > 0 ? json_integer((json_int_t)quota) : json_null());
}

int
op_whoami(struct request *r)
{
	char me[ACL_SUBJECT_MAX];
	struct quota_use u;
	int rc;

	policy_subject_name(&r->subject, me, sizeof(me));
	if ((rc = quota_use_of(r->d, r->subject.tenant, me, &u)) != 0) {
		return rc;
	}
	r->result =
	    json_pack("{s:s, s:s, s:b, s:b, s:b, s:{s:o, s:o}}", "tenant", r->subject.tenant,
		      "user", r->subject.user, "admin", r->subject.admin, "client",
		      r->subject.client, "local", r->local, "spool", "user",
		      use_view(u.user, u.user_quota), "tenant", use_view(u.tenant, u.tenant_quota));
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The const table of socket API ops and the checks every request passes before its handler. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/audit.h"
#include "daemon/dispatch.h"
#include "daemon/identity.h"
#include "daemon/metrics.h"
#include "daemon/rules.h"
#include "daemon/store.h"
#include "daemon/ops.h"
#include "lib/error.h"
#include "lib/log.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOARGS    ((const char *const[]){NULL})

/* Sorted by name: dispatch_find bisects. */
#define DEVCONF_ARGS                                                                               \
	"name", "description", "signKeys", "packageKey", "encryptKeys", "encryptCert", "cipher",   \
	    "packaging", "fourEyes", "quorum", "secondFactor", "users", "approvers", "allowedSchemes"
#define PER_DC (OP_AUTH | OP_PER_RESOURCE)
static const struct op_desc op_table[] = {
    {"acl.add", op_acl_add, OP_AUTH, ACL_CREATE, ACL_RT_ACL, 0,
     ARGS("subject", "resource", "action")},
    {"acl.list", op_acl_list, OP_AUTH, ACL_VIEW, ACL_RT_ACL, 0, ARGS("limit", "cursor")},
    {"acl.remove", op_acl_remove, OP_AUTH, ACL_DELETE, ACL_RT_ACL, 0,
     ARGS("subject", "resource", "action")},
    /* A tenant's own chain; the appliance's to local admins (checked inside). */
    {"audit.export", op_audit_export, OP_AUTH | OP_TOKEN, ACL_VIEW, ACL_RT_AUDIT_LOG, 1,
     ARGS("chain")},
    {"audit.list", op_audit_list, OP_AUTH, ACL_VIEW, ACL_RT_AUDIT_LOG, 0,
     ARGS("chain", "resource", "resourceType", "seq", "limit", "cursor")},
    {"audit.pubkey", op_audit_pubkey, OP_AUTH | OP_TOKEN, ACL_NONE, ACL_RT_NONE, 0, NOARGS},
    {"audit.verify", op_audit_verify, OP_AUTH | OP_TOKEN, ACL_VIEW, ACL_RT_AUDIT_LOG, 0,
     ARGS("chain")},
    {"backup", op_backup, OP_AUTH | OP_LOCAL, ACL_CREATE, ACL_RT_KEY, 1, NOARGS},
    /* Reading is open to the tenant's users; setting is the initial admin's (checked inside). */
    {"config.get", op_config_get, OP_AUTH, ACL_NONE, ACL_RT_NONE, 0, ARGS("key")},
    {"config.set", op_config_set, OP_AUTH, ACL_NONE, ACL_RT_NONE, 0, ARGS("key", "value")},
    {"devconf.create", op_devconf_create, OP_AUTH, ACL_CREATE, ACL_RT_DEVICE_CONFIG, 0,
     ARGS(DEVCONF_ARGS)},
    {"devconf.disable", op_devconf_disable, PER_DC, ACL_UPDATE, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("id")},
    {"devconf.list", op_devconf_list, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("limit", "cursor")},
    {"devconf.show", op_devconf_show, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0, ARGS("id")},
    {"devconf.update", op_devconf_update, PER_DC, ACL_UPDATE, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("id", "enabled", DEVCONF_ARGS)},
    /* Each event is shown only to who may see its task. */
    {"events.watch", op_events_watch, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0, ARGS("since")},
    {"key.cert", op_key_cert, OP_AUTH | OP_TOKEN, ACL_UPDATE, ACL_RT_KEY, 1, ARGS("label")},
    {"key.csr", op_key_csr, OP_AUTH | OP_TOKEN, ACL_UPDATE, ACL_RT_KEY, 0,
     ARGS("label", "subject")},
    {"key.generate", op_key_generate, OP_AUTH | OP_LOCAL | OP_TOKEN, ACL_CREATE, ACL_RT_KEY, 0,
     ARGS("label", "alg", "description")},
    {"key.import", op_key_import, OP_AUTH | OP_LOCAL | OP_TOKEN, ACL_CREATE, ACL_RT_KEY, 1,
     ARGS("label", "alg", "description")},
    {"key.list", op_key_list, OP_AUTH, ACL_VIEW, ACL_RT_KEY, 0, ARGS("limit", "cursor")},
    /* VIEW on KEY, or USE or VIEW on a configuration signing with it (op_key_show). */
    {"key.show", op_key_show, OP_AUTH | OP_PER_RESOURCE, ACL_VIEW, ACL_RT_KEY, 0,
     ARGS("label", "deviceConfig")},
    /* Any user of the tenant may submit: trust comes from the report's signature chain. */
    /* Appliance-wide numbers, no tenant's: local administrators and the gateway only. */
    {"metrics", op_metrics, OP_MONITOR, ACL_NONE, ACL_RT_NONE, 0, NOARGS},
    {"report.list", op_report_list, OP_AUTH, ACL_VIEW, ACL_RT_AUDIT_LOG, 0,
     ARGS("limit", "cursor")},
    {"report.submit", op_report_submit, OP_AUTH, ACL_NONE, ACL_RT_NONE, 1, ARGS("kind")},
    {"report.verify", op_report_verify, OP_AUTH, ACL_NONE, ACL_RT_NONE, 1, NOARGS},
    {"status", op_status, 0, ACL_NONE, ACL_RT_NONE, 0, NOARGS},
    /*
     * Tasks are seen by their requester or by who holds VIEW on their device
     * configuration. Only the requester cancels, whatever rights others hold.
     */
    /* Approvers: APPROVE on the task's device configuration, never the requester. */
    {"task.approve", op_task_approve, PER_DC | OP_TOKEN, ACL_APPROVE, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("id", "otp", "reason")},
    {"task.cancel", op_task_cancel, OP_AUTH, ACL_NONE, ACL_RT_NONE, 0, ARGS("id")},
    {"task.download", op_task_download, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0, ARGS("id")},
    {"task.encrypt", op_task_encrypt, PER_DC, ACL_USE, ACL_RT_DEVICE_CONFIG, 1,
     ARGS("devconf", "name", "sha256")},
    {"task.list", op_task_list, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("status", "type", "limit", "cursor")},
    {"task.package", op_task_package, PER_DC | OP_TOKEN, ACL_USE, ACL_RT_DEVICE_CONFIG, 8,
     ARGS("devconf", "name", "inputs", "metadata")},
    {"task.reject", op_task_reject, PER_DC, ACL_APPROVE, ACL_RT_DEVICE_CONFIG, 0,
     ARGS("id", "reason")},
    {"task.show", op_task_show, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0, ARGS("id")},
    {"task.sign", op_task_sign, PER_DC | OP_TOKEN, ACL_USE, ACL_RT_DEVICE_CONFIG, 1,
     ARGS("devconf", "name", "inputBase64", "prehashed", "scheme", "hash", "saltLength",
	  "encoding", "attach")},
    {"task.wait", op_task_wait, PER_DC, ACL_VIEW, ACL_RT_DEVICE_CONFIG, 0, ARGS("id", "timeout")},
    {"tenant.create", op_tenant_create, OP_LOCAL, ACL_NONE, ACL_RT_NONE, 0, ARGS("name", "admin")},
    {"tenant.list", op_tenant_list, OP_LOCAL, ACL_NONE, ACL_RT_NONE, 0, ARGS("limit", "cursor")},
    {"user.create", op_user_create, OP_AUTH, ACL_CREATE, ACL_RT_USER, 0,
     ARGS("name", "groups", "client")},
    {"user.list", op_user_list, OP_AUTH, ACL_VIEW, ACL_RT_USER, 0, ARGS("limit", "cursor")},
    /* Users enroll themselves (the initial admin anyone); replacing and removing: the admin. */
    {"user.otp-enroll", op_user_otp_enroll, OP_AUTH | OP_TOKEN, ACL_NONE, ACL_RT_NONE, 0,
     ARGS("name", "force")},
    {"user.otp-reset", op_user_otp_reset, OP_AUTH | OP_TOKEN, ACL_NONE, ACL_RT_NONE, 0,
     ARGS("name")},
    {"user.revoke", op_user_revoke, OP_AUTH, ACL_UPDATE, ACL_RT_USER, 0, ARGS("name")},
    {"user.show", op_user_show, OP_AUTH, ACL_VIEW, ACL_RT_USER, 0, ARGS("name")},
    /* A user may renew their own token; the handler checks UPDATE on USER for anyone else. */
    {"user.token", op_user_token, OP_AUTH, ACL_NONE, ACL_RT_USER, 0, ARGS("name")},
    {"whoami", op_whoami, OP_AUTH, ACL_NONE, ACL_RT_NONE, 0, NOARGS},
};

const struct op_desc *
dispatch_find(const char *name)
{
	size_t lo = 0, hi = sizeof(op_table) / sizeof(op_table[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, op_table[mid].name);
		if (c == 0) {
			return &op_table[mid];
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

const struct op_desc *
dispatch_table(size_t *n)
{
	*n = sizeof(op_table) / sizeof(op_table[0]);
	return op_table;
}

static void
dispatch_run_checked(struct request *r)
{
	const struct op_desc *op = r->op;
	int rc;

	if (r->resumed) {
		/*
		 * A parked task.wait or events.watch, checked on its first run: its
		 * token may have been revoked and its rights changed since.
		 */
		rules_free_subject(&r->subject);
		if (ident_authenticate_hash(r->d->store, r->token_hash, NULL, &r->subject) != 0) {
			r->mode = REQ_ONCE;
			req_fail(r, SIGNET_EUNAUTH, "the API token was revoked");
			return;
		}
		goto run;
	}
	if (op->flags & OP_AUTH) {
		if (r->token == NULL) {
			req_fail(r, SIGNET_EUNAUTH, "this operation needs an API token");
			return;
		}
		if (ident_authenticate(r->d->store, r->token, r->tenant_hint, &r->subject) != 0) {
			/* One answer for every failure, after a delay: no oracle, slow guessing. */
			r->delay_ms = (unsigned)r->d->cfg->auth_fail_delay_ms;
			metrics_add(r->d, MC_AUTH_FAILED);
			log_notice("%s: authentication failed (pid %ld uid %u)", op->name,
				   (long)r->peer.pid, (unsigned)r->peer.uid);
			req_fail(r, SIGNET_EUNAUTH, "invalid or revoked API token");
			return;
		}
		r->authenticated = true;
		ident_token_hash(r->token, r->token_hash);
		if (!(op->flags & OP_PER_RESOURCE) &&
		    !policy_allows(&r->subject, op->action, op->rtype)) {
			metrics_add(r->d, MC_DENIED);
			log_notice("%s: denied to USER:%s of tenant %s", op->name, r->subject.user,
				   r->subject.tenant);
			req_fail(r, SIGNET_EDENIED, "USER:%s may not %s RESOURCE_TYPE:%s",
				 r->subject.user, acl_action_name(op->action),
				 acl_resource_type_name(op->rtype));
			return;
		}
	}
	if (jargs_only(&r->args, op->args) != 0) {
		req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		return;
	}
	if ((op->flags & OP_TOKEN) && r->hs == NULL) {
		req_fail(r, SIGNET_ETOKEN, "the token is not available");
		return;
	}
run:
	rc = op->fn(r);
	if (atomic_load(&r->stage) == REQ_RUNNING) {
		dispatch_complete(r, rc);
	}
}

void
dispatch_run(struct request *r)
{
	dispatch_run_checked(r);
	/* Reads and refusals get their audit entry here; changes wrote theirs with the change. */
	if (atomic_load(&r->stage) == REQ_RUNNING) {
		audit_after(r);
	}
}

void
dispatch_defer(struct request *r)
{
	atomic_store(&r->stage, REQ_DEFERRED);
}

void
dispatch_undefer(struct request *r)
{
	atomic_store(&r->stage, REQ_RUNNING);
}

struct defer_write {
	struct request *r;
	int (*txn)(struct store_txn *t, void *arg);
	void *arg;
	void (*committed)(struct request *r, void *arg, int rc);
};

static int
defer_write_txn(struct store_txn *t, void *p)
{
	struct defer_write *x = p;

	return x->txn(t, x->arg);
}

static void
defer_write_done(void *p, int rc)
{
	struct defer_write *x = p;
	struct request *r = x->r;

	if (x->committed != NULL) {
		x->committed(r, x->arg, rc);
	}
	free(x);
	dispatch_finish(r, rc);
}

int
dispatch_defer_write(struct request *r, int (*txn)(struct store_txn *t, void *arg), void *arg,
		     void (*committed)(struct request *r, void *arg, int rc))
{
	struct defer_write *x = malloc(sizeof(*x));

	if (x == NULL) {
		return SIGNET_EINTERNAL;
	}
	*x = (struct defer_write){.r = r, .txn = txn, .arg = arg, .committed = committed};
	dispatch_defer(r);
	if (store_write_async(r->d->store, defer_write_txn, x, defer_write_done) != 0) {
		dispatch_undefer(r);
		free(x);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

void
dispatch_complete(struct request *r, int rc)
{
	if (rc != 0 && r->err == 0) {
		req_fail(r, rc, "%s", signet_strerror(rc));
	}
	if (r->err != 0) {
		json_decref(r->result);
		r->result = NULL;
		msg_close_fds(r->out_fds, &r->out_nfds);
		if (r->message[0] == '\0') {
			req_fail(r, r->err, "%s", signet_strerror(r->err));
		}
	}
}

void
dispatch_finish(struct request *r, int rc)
{
	dispatch_complete(r, rc);
	audit_after_finish(r);
}

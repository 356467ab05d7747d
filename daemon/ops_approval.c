/* SPDX-License-Identifier: Apache-2.0 */
/* Four-eyes: TOTP enrollment with seeds in the token, approvals and rejections of tasks. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/approvals.h"
#include "daemon/audit.h"
#include "daemon/devconf.h"
#include "daemon/engine.h"
#include "daemon/events.h"
#include "daemon/exec.h"
#include "daemon/metrics.h"
#include "daemon/ops.h"
#include "daemon/rules.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "daemon/timers.h"
#include "daemon/tokenguard.h"
#include "daemon/user.h"
#include "hsm/otp.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/approval.h"
#include "policy/totp.h"

#define REASON_MAX 1024

/* The TOTP state kept in a user record (user.h). */
static void
otp_state_get(const struct user_record *u, struct totp_state *st)
{
	st->last_step = u->otp.last_step;
	st->failures = u->otp.failures;
	st->locked_until = u->otp.locked_until;
}

static void
otp_state_put(struct user_record *u, const struct totp_state *st)
{
	u->otp.last_step = st->last_step;
	u->otp.failures = st->failures;
	u->otp.locked_until = st->locked_until;
}

/* Enrollment */

struct enroll {
	struct request *r;
	const char *name;
	bool force, reset;
	uint8_t new_id[HSM_ID_LEN];
	uint8_t old_id[HSM_ID_LEN];
	bool had_old;
	struct evnote note;
};

static int
enroll_txn(struct store_txn *t, void *arg)
{
	struct enroll *x = arg;
	struct request *r = x->r;
	struct user_record u;
	json_t *ev;
	bool client;
	int rc;

	memset(&x->note, 0, sizeof(x->note));
	x->had_old = false;
	if ((rc = ops_user_load(r, t, x->name, &u)) != 0) {
		return rc;
	}
	x->had_old = user_seed_id(&u, x->old_id) == 0;
	client = u.client;
	if (x->reset) {
		if (!x->had_old) {
			return req_fail(r, SIGNET_ENOTFOUND, "user '%s' has no TOTP seed", x->name);
		}
		u.enrolled = false;
		memset(&u.otp, 0, sizeof(u.otp));
	} else {
		if (x->had_old && !x->force) {
			return req_fail(
			    r, SIGNET_ECONFLICT,
			    "user '%s' is enrolled already; the admin replaces the seed "
			    "with --force",
			    x->name);
		}
		memset(&u.otp, 0, sizeof(u.otp));
		hex_encode(x->new_id, HSM_ID_LEN, u.otp.seed_id);
		u.otp.enrolled_at = time_now();
		u.enrolled = true;
	}
	user_write(t, &u, false);
	{
		char who[ACL_SUBJECT_MAX];
		snprintf(who, sizeof(who), "%s:%s", client ? "CLIENT" : "USER", x->name);
		char by[ACL_SUBJECT_MAX];
		policy_subject_name(&r->subject, by, sizeof(by));
		/* "requester" decides who sees it: the user concerned (and the admin). */
		ev = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type",
			       x->reset ? "user.otp.reset" : "user.otp.enrolled", "tenant",
			       r->subject.tenant, "user", x->name, "requester", who, "by", by);
	}
	rc = events_append(t, &x->note, ev);
	if (rc == 0) {
		char res[ACL_SUBJECT_MAX + 8];
		snprintf(res, sizeof(res), "USER:%s", x->name);
		rc =
		    audit_req(t, r, "UPDATED", res,
			      x->reset ? "TOTP seed removed"
				       : (x->had_old ? "TOTP seed replaced" : "TOTP seed enrolled"),
			      NULL);
	}
	return rc != 0 ? rc : t->err;
}

static int
enroll_check_txn(struct store_txn *t, void *arg)
{
	struct enroll *x = arg;
	struct user_record u;
	int rc;

	if ((rc = ops_user_load(x->r, t, x->name, &u)) != 0) {
		return rc;
	}
	bool enrolled = u.enrolled;
	if (x->reset && !enrolled) {
		return req_fail(x->r, SIGNET_ENOTFOUND, "user '%s' has no TOTP seed", x->name);
	}
	if (!x->reset && enrolled && !x->force) {
		return req_fail(
		    x->r, SIGNET_ECONFLICT,
		    "user '%s' is enrolled already; the admin replaces the seed with --force",
		    x->name);
	}
	return 0;
}

static int
enroll_common(struct request *r, bool reset)
{
	struct enroll x = {.r = r, .reset = reset};
	uint8_t seed[HSM_OTP_SEED_LEN];
	char label[160], b32[64], uri[512];
	int rc;

	if (jargs_name(&r->args, "name", true, &x.name) != 0 ||
	    (!reset && jargs_bool(&r->args, "force", false, &x.force) != 0)) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	/* Users enroll themselves; replacing or removing a seed is the initial admin's. */
	if (reset || x.force) {
		if (!r->subject.admin) {
			return req_fail(r, SIGNET_EDENIED,
					"only the initial admin may %s a TOTP seed",
					reset ? "remove" : "replace");
		}
	} else if (strcmp(x.name, r->subject.user) != 0 && !r->subject.admin) {
		return req_fail(r, SIGNET_EDENIED,
				"a user enrolls themself; only the initial admin enrolls others");
	}
	if (r->hs == NULL) {
		return req_fail(r, SIGNET_ETOKEN, "the token is not available");
	}
	/* Refuse what the transaction would refuse before the token makes an object. */
	if ((rc = store_read(r->d->store, enroll_check_txn, &x)) != 0) {
		return rc;
	}
	/* The token's files change from the new seed to the old one's removal: one guarded write.
	 */
	token_guard_write_begin(r->d->guard);
	if (!reset) {
		snprintf(label, sizeof(label), "%s/otp/%s", r->subject.tenant, x.name);
		if ((rc = hsm_otp_seed_create(r->hs, label, x.new_id, seed, sizeof(seed))) != 0) {
			audit_token_write_end(r->d);
			return req_fail(r, rc, "the token could not make a seed");
		}
	}
	rc = store_write(r->d->store, enroll_txn, &x);
	if (rc != 0) {
		if (!reset) {
			/* Not recorded: the new seed is nobody's. */
			hsm_otp_seed_destroy(r->hs, x.new_id);
			secure_wipe(seed, sizeof(seed));
		}
		audit_token_write_end(r->d);
		return rc;
	}
	if (x.had_old) {
		/* The record points at the new seed now (or at none): the old one goes. */
		hsm_otp_seed_destroy(r->hs, x.old_id);
	}
	audit_token_write_end(r->d);
	events_publish(r->d, &x.note);
	log_notice("USER:%s of tenant %s %s the TOTP seed of %s", r->subject.user,
		   r->subject.tenant, reset ? "removed" : (x.had_old ? "replaced" : "enrolled"),
		   x.name);
	if (reset) {
		r->result = json_pack("{s:s, s:b}", "user", x.name, "enrolled", 0);
		return 0;
	}
	base32_encode(seed, sizeof(seed), b32);
	secure_wipe(seed, sizeof(seed));
	snprintf(uri, sizeof(uri),
		 "otpauth://totp/signet:%s@%s?secret=%s&issuer=signet&algorithm=SHA1&digits=%d&"
		 "period=%d",
		 x.name, r->subject.tenant, b32, TOTP_DIGITS, TOTP_STEP_S);
	r->result =
	    json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "user", x.name, "secret", b32, "uri", uri,
		      "algorithm", "SHA1", "digits", TOTP_DIGITS, "period", TOTP_STEP_S);
	secure_wipe(b32, sizeof(b32));
	secure_wipe(uri, sizeof(uri));
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

int
op_user_otp_enroll(struct request *r)
{
	return enroll_common(r, false);
}

int
op_user_otp_reset(struct request *r)
{
	return enroll_common(r, true);
}

/* Decisions */

struct hmac_ctx {
	struct hsm_session *hs;
	uint8_t id[HSM_ID_LEN];
};

static int
token_hmac(void *ctx, const uint8_t counter[8], uint8_t out[20])
{
	struct hmac_ctx *c = ctx;

	return hsm_hmac_sha1(c->hs, c->id, counter, 8, out);
}

struct decide {
	struct request *r;
	const char *id;
	const char *reason;
	bool approve;
	bool code_given;
	uint32_t code;
	bool have_candidates;
	struct totp_candidates cand;
	uint8_t seed_id[HSM_ID_LEN]; /* the seed the candidates came from */
	/* out */
	int refusal; /* an error to answer with after the commit (OTP failures are kept) */
	char why[200];
	bool locked_now; /* this failure started a lockout */
	bool rejected;   /* REJECTED: the spooled inputs go */
	bool enqueue;    /* APPROVED: hand the task to the engine */
	/* The task as the transaction left it (task_clear it). */
	struct task task;
	struct evnote note;
};

/* Read what the worker needs before the transaction: the approver's seed. */
struct seed_read {
	struct request *r;
	const char *task_id;
	uint8_t id[HSM_ID_LEN];
	bool enrolled;
	bool worth_it; /* a code could decide: the task is there and the approver not locked */
};

static int
seed_read_txn(struct store_txn *t, void *arg)
{
	struct seed_read *x = arg;
	struct user_record u;

	if (user_read(t, x->r->subject.tenant, x->r->subject.user, &u) != 0) {
		return SIGNET_EUNAUTH;
	}
	x->enrolled = user_seed_id(&u, x->id) == 0;
	{
		/* The token's work only when a code could count (the transaction checks it all
		 * again). */
		struct totp_state st;
		struct task task;
		task_init(&task);
		otp_state_get(&u, &st);
		x->worth_it = x->enrolled && !totp_locked(&st, time_now()) &&
			      task_get(t, x->r->subject.tenant, x->task_id, &task) == 0 &&
			      task_transition_allowed(task.status, TS_APPROVED) &&
			      policy_allows_on(&x->r->subject, ACL_APPROVE, ACL_RT_DEVICE_CONFIG,
					       task.devconf_id);
		task_clear(&task);
	}
	return 0;
}

/* Refuse after the commit: what was recorded (OTP failures) is kept, the answer is the error. */
static int __attribute__((format(printf, 3, 4)))
decide_fail(struct decide *x, int err, const char *fmt, ...)
{
	va_list ap;

	x->refusal = err;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
	return 0;
}

static int
decide_txn(struct store_txn *t, void *arg)
{
	struct decide *x = arg;
	struct request *r = x->r;
	char me[ACL_SUBJECT_MAX];
	struct user_record u;
	bool have_user;
	struct approval_facts f = {0};
	json_t *approvals, *rec, *ev;
	bool dc_enabled;
	const char *dc, *req, *sf;
	int64_t now = time_now(), step = 0;
	struct totp_state st = {0};
	enum approval_refusal ref;
	enum approval_outcome out;
	json_t *hsha;
	int napproved = 0, nvoid = 0, quorum, rc;
	char cred[APPROVAL_CREDENTIAL_LEN + 1] = "";
	size_t i;
	json_t *a;

	memset(&x->note, 0, sizeof(x->note));
	x->refusal = 0;
	x->why[0] = '\0';
	x->locked_now = x->enqueue = x->rejected = false;
	/* A transaction run again reads the task again. */
	task_clear(&x->task);
	policy_subject_name(&r->subject, me, sizeof(me));
	if (task_get(t, r->subject.tenant, x->id, &x->task) != 0) {
		return decide_fail(x, SIGNET_ENOTFOUND, "no task '%.40s'", x->id);
	}
	dc = x->task.devconf_id;
	/* Approvers see what they approve, even with APPROVE alone. */
	if (!task_visible(&r->subject, &x->task) &&
	    !policy_allows_on(&r->subject, ACL_APPROVE, ACL_RT_DEVICE_CONFIG, dc)) {
		return decide_fail(x, SIGNET_ENOTFOUND, "no task '%.40s'", x->id);
	}
	req = x->task.requester;
	{
		struct devconf *d = calloc(1, sizeof(*d));
		if (d == NULL) {
			return SIGNET_EINTERNAL;
		}
		rc = devconf_read(t, r->subject.tenant, dc != NULL ? dc : "", d);
		dc_enabled = d->enabled;
		devconf_clear(d);
		free(d);
		if (rc == SIGNET_ENOTFOUND) {
			return decide_fail(x, SIGNET_ENOTFOUND,
					   "the task's device configuration is gone");
		}
		if (rc != 0) {
			return rc;
		}
	}
	if (x->task.approvals == NULL && (x->task.approvals = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	approvals = x->task.approvals;
	json_array_foreach(approvals, i, a) {
		const char *who = json_string_value(json_object_get(a, "approver"));
		/* A decision that no longer counts (void) does not stop a new one. */
		if (who != NULL && strcmp(who, me) == 0 && json_object_get(a, "void") == NULL) {
			f.decided_already = true;
		}
	}
	sf = x->task.approval.second_factor;
	/* Out of time counts as past approval even before the sweeper marks it EXPIRED. */
	f.task_waiting =
	    task_transition_allowed(x->task.status, x->approve ? TS_APPROVED : TS_REJECTED) &&
	    !approval_expired(x->task.created_at, r->d->cfg->approval_ttl, now);
	f.devconf_enabled = dc_enabled;
	f.is_requester = req != NULL && strcmp(req, me) == 0;
	f.may_approve = policy_allows_on(&r->subject, ACL_APPROVE, ACL_RT_DEVICE_CONFIG, dc);
	f.needs_code = x->approve && (sf == NULL || strcmp(sf, "NONE") != 0);
	f.code_given = x->code_given;
	ref = approval_check(&f);
	switch (ref) {
	case APPROVAL_OK:
		break;
	case APPROVAL_NOT_ALLOWED:
		return decide_fail(x, SIGNET_EDENIED,
				   "%s may not APPROVE on the task's device configuration", me);
	case APPROVAL_SELF:
		return decide_fail(x, SIGNET_ESELF_APPROVAL,
				   "the requester %s may not decide on their own task", me);
	case APPROVAL_NOT_WAITING:
		return decide_fail(x, SIGNET_ECONFLICT, "the task is %s, not WAITING",
				   task_status_name(x->task.status));
	case APPROVAL_DISABLED:
		return decide_fail(x, SIGNET_ECONFLICT,
				   "the task's device configuration is disabled");
	case APPROVAL_TWICE:
		return decide_fail(x, SIGNET_ECONFLICT, "%s decided on this task already", me);
	case APPROVAL_CODE_MISSING:
		return decide_fail(x, SIGNET_EINVAL,
				   "this device configuration asks for a TOTP code (--otp)");
	}
	/* The approver's record: its TOTP state and the token its decision is bound to. */
	have_user = user_read(t, r->subject.tenant, r->subject.user, &u) == 0;
	if (f.needs_code) {
		enum totp_result tr;
		if (!have_user) {
			return decide_fail(x, SIGNET_EUNAUTH, "the approver is gone");
		}
		otp_state_get(&u, &st);
		if (!u.enrolled) {
			return decide_fail(x, SIGNET_EOTP_INVALID,
					   "%s has no TOTP seed: enroll first", me);
		}
		{
			/* Candidates from a seed replaced meanwhile do not count. */
			uint8_t cur[HSM_ID_LEN];
			if (!x->have_candidates || user_seed_id(&u, cur) != 0 ||
			    memcmp(cur, x->seed_id, HSM_ID_LEN) != 0) {
				x->have_candidates = false;
			}
		}
		if (totp_locked(&st, now)) {
			return decide_fail(
			    x, SIGNET_ELOCKED_OUT,
			    "approvals of %s are locked for a while after repeated wrong codes",
			    me);
		}
		tr = x->have_candidates ? totp_match(x->code, &x->cand, st.last_step, &step)
					: TOTP_INVALID;
		if (tr != TOTP_OK) {
			/* Recorded in this same transaction: a failure is counted even though we
			 * refuse. */
			x->locked_now = totp_failed(&st, now);
			otp_state_put(&u, &st);
			user_write(t, &u, false);
			{
				char res[64];
				snprintf(res, sizeof(res), "TASK:%s", x->id);
				audit_req(t, r, x->locked_now ? "LOCKED_OUT" : "OTP_FAILED", res,
					  tr == TOTP_REPLAYED ? "replayed TOTP code"
							      : "wrong TOTP code",
					  NULL);
			}
			if (x->locked_now) {
				ev = json_pack("{s:s, s:s, s:s, s:s, s:I}", "type", "user.lockout",
					       "tenant", r->subject.tenant, "user", r->subject.user,
					       "requester", me, "lockedUntil",
					       (json_int_t)st.locked_until);
				events_append(t, &x->note, ev);
			}
			if (tr == TOTP_REPLAYED) {
				return decide_fail(
				    x, SIGNET_EOTP_REPLAYED,
				    "the code was used already: wait for the next one");
			}
			return decide_fail(x, SIGNET_EOTP_INVALID, "wrong TOTP code");
		}
		totp_accepted(&st, step);
		otp_state_put(&u, &st);
		user_write(t, &u, false);
	}
	/* An approval is bound to the token (and seed) that made it: it counts while they do. */
	if (x->approve) {
		if (!have_user) {
			return decide_fail(x, SIGNET_EUNAUTH, "the approver is gone");
		}
		if (u.token_hash[0] == '\0' || strcmp(u.token_hash, r->token_hash) != 0) {
			return decide_fail(x, SIGNET_EUNAUTH, "the API token was revoked");
		}
		approval_credential(&u, f.needs_code, cred);
	}
	/* The decision, bound to the input digests it was made on. */
	{
		json_t *digests = json_array();
		json_array_foreach(x->task.inputs, i, a) {
			json_array_append(digests, json_object_get(a, "sha256"));
		}
		rec = json_pack("{s:s, s:s, s:s?, s:I, s:o, s:b}", "approver", me, "decision",
				x->approve ? "APPROVED" : "REJECTED", "reason", x->reason, "time",
				(json_int_t)now, "inputs", digests, "secondFactor", f.needs_code);
		/* The digest that will be signed, too (it is not always the input's SHA-256). */
		if (rec != NULL && json_object_get(x->task.signing, "digest")) {
			json_object_set(rec, "signingDigest",
					json_object_get(x->task.signing, "digest"));
		}
		/* And how it will be signed: scheme, hash, salt, encoding, attach (shown in
		 * task.show). */
		if (rec != NULL && json_object_get(x->task.signing, "scheme") != NULL) {
			json_object_set_new(rec, "signingScheme",
					    sign_params_view(x->task.signing));
		}
		if (rec != NULL && x->approve) {
			json_object_set_new(rec, "credential", json_string(cred));
		}
		/* A package's header, prepared before it waited: what its approvers saw. */
		hsha = json_object_get(json_object_get(x->task.packaging, "header"), "sha256");
		if (rec != NULL && hsha != NULL) {
			json_object_set(rec, "headerSha256", hsha);
		}
	}
	json_array_append_new(approvals, rec);
	/* Earlier approvals count only while their approvers could still give them. */
	if (x->approve &&
	    (rc = approvals_recount(t, r->d, &x->task, &napproved, &nvoid, NULL, 0)) != 0) {
		return rc;
	}
	quorum = x->task.approval.quorum;
	out = approval_outcome(napproved, !x->approve, quorum);
	ev =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "task.approval", "tenant",
		      r->subject.tenant, "task", x->id, "taskType", task_type_name(x->task.type),
		      "decision", x->approve ? "APPROVED" : "REJECTED", "approver", me, "requester",
		      req != NULL ? req : "", "deviceConfigId", dc != NULL ? dc : "");
	if ((rc = events_append(t, &x->note, ev)) != 0) {
		return rc;
	}
	{
		char res[64];
		snprintf(res, sizeof(res), "TASK:%s", x->id);
		if ((rc = audit_req(
			 t, r, x->approve ? "APPROVED" : "REJECTED", res,
			 x->reason != NULL ? x->reason : (x->approve ? "approved" : "rejected"),
			 json_array_get(approvals, json_array_size(approvals) - 1))) != 0) {
			return rc;
		}
	}
	if (out == APPROVAL_STILL_WAITING) {
		return task_put(t, &x->note, &x->task, TS_WAITING);
	}
	if (task_set_str(&x->task.decision, out == APPROVAL_APPROVED ? "APPROVED" : "REJECTED") !=
	    0) {
		return SIGNET_EINTERNAL;
	}
	if (out == APPROVAL_REJECTED) {
		x->rejected = true;
		rc = task_set_status(t, &x->note, &x->task, TS_REJECTED,
				     x->reason != NULL ? x->reason : "rejected");
		timer_put(t, now + r->d->cfg->capability_grace, "cap", r->subject.tenant, x->id);
		return rc != 0 ? rc : t->err;
	}
	x->enqueue = true;
	return task_set_status(t, &x->note, &x->task, TS_APPROVED, NULL);
}

static int
decide(struct request *r, bool approve)
{
	struct decide x = {.r = r, .approve = approve};
	const char *otp = NULL;
	int rc;

	task_init(&x.task);
	if (jargs_str(&r->args, "id", true, TASK_ID_LEN, &x.id) != 0 ||
	    jargs_str(&r->args, "reason", false, REASON_MAX, &x.reason) != 0 ||
	    (approve && jargs_str(&r->args, "otp", false, 16, &otp) != 0)) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (otp != NULL) {
		if (totp_code_parse(otp, &x.code) != 0) {
			return req_fail(r, SIGNET_EINVAL, "a TOTP code is %d digits", TOTP_DIGITS);
		}
		x.code_given = true;
	}
	if (x.code_given) {
		/* The token computes the candidates before the transaction; the check is inside. */
		struct seed_read sr = {.r = r, .task_id = x.id};
		if ((rc = store_read(r->d->store, seed_read_txn, &sr)) != 0) {
			return rc;
		}
		if (sr.worth_it) {
			struct hmac_ctx hc = {.hs = r->hs};
			memcpy(x.seed_id, sr.id, HSM_ID_LEN);
			memcpy(hc.id, sr.id, HSM_ID_LEN);
			if (r->hs == NULL) {
				return req_fail(r, SIGNET_ETOKEN, "the token is not available");
			}
			if ((rc = totp_candidates(time_now(), token_hmac, &hc, &x.cand)) != 0) {
				return req_fail(r, rc, "the token could not check the code");
			}
			x.have_candidates = true;
		}
	}
	/* A rejection frees space: it commits on a full disk too (the store's reserve). */
	rc = approve ? store_write(r->d->store, decide_txn, &x)
		     : store_write_reserve(r->d->store, decide_txn, &x);
	secure_wipe(&x.cand, sizeof(x.cand));
	if (rc == 0) {
		events_publish(r->d, &x.note);
	}
	if (rc == 0 && x.refusal != 0) {
		metrics_add(r->d, x.refusal == SIGNET_EOTP_INVALID    ? MC_OTP_WRONG
				  : x.refusal == SIGNET_EOTP_REPLAYED ? MC_OTP_REPLAYED
				  : x.refusal == SIGNET_ELOCKED_OUT   ? MC_OTP_LOCKED
								      : MC_COUNT);
		if (x.locked_now) {
			metrics_add(r->d, MC_LOCKOUTS);
		}
		if (x.refusal == SIGNET_EOTP_INVALID || x.refusal == SIGNET_EOTP_REPLAYED ||
		    x.refusal == SIGNET_ELOCKED_OUT) {
			/* A short wait after each failure, on the loop's timer. */
			r->delay_ms = (unsigned)r->d->cfg->auth_fail_delay_ms;
			log_notice("USER:%s of tenant %s: %s on task %s%s", r->subject.user,
				   r->subject.tenant, signet_err_code(x.refusal), x.id,
				   x.locked_now ? " (now locked out)" : "");
		}
		rc = req_fail(r, x.refusal, "%s", x.why);
	} else if (rc == 0) {
		log_notice("USER:%s of tenant %s %s task %s", r->subject.user, r->subject.tenant,
			   approve ? "approved" : "rejected", x.id);
		metrics_add(r->d, approve ? MC_APPROVED : MC_REJECTED);
		if (x.enqueue) {
			tasks_enqueue(r->d, r->subject.tenant, x.id);
		}
		if (x.rejected) {
			spool_remove_inputs(r->d, x.id, json_array_size(x.task.inputs));
		}
		r->result = task_view(&x.task);
	}
	task_clear(&x.task);
	return rc;
}

int
op_task_approve(struct request *r)
{
	return decide(r, true);
}

int
op_task_reject(struct request *r)
{
	return decide(r, false);
}

/* The seeds at start */

struct seeds_check {
	struct hsm_session *hs;
	char *missing;
	size_t len, used;
	int bad;
};

static int
seed_check_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct seeds_check *x = arg;
	uint8_t id[HSM_ID_LEN];
	char why[128], name[160];
	struct user_record u;

	(void)key;
	if (user_decode(val, &u) != 0) {
		x->bad++;
		/* The key is "tenant \0 name". */
		const char *k = key->data;
		size_t tl = strnlen(k, key->len);
		snprintf(name, sizeof(name), "the user record %.*s/%.*s (corrupt)", (int)tl, k,
			 tl < key->len ? (int)(key->len - tl - 1) : 0, tl < key->len ? k + tl + 1 : "");
		keys_note_missing(x->missing, x->len, &x->used, name);
		return 0;
	}
	if (!u.enrolled) {
		return 0;
	}
	if (user_seed_id(&u, id) != 0 || hsm_otp_seed_check(x->hs, id, why, sizeof(why)) != 0) {
		x->bad++;
		snprintf(name, sizeof(name), "TOTP seed of %s/%s", u.tenant, u.name);
		log_err("%s: not usable in the token", name);
		keys_note_missing(x->missing, x->len, &x->used, name);
	}
	return 0;
}

static int
seeds_check_txn(struct store_txn *t, void *arg)
{
	return store_foreach(t, STORE_DB_USERS, NULL, 0, seed_check_cb, arg);
}

int
otp_seeds_check_all(struct daemon *d, char *missing, size_t len, size_t *used)
{
	struct seeds_check x = {NULL, missing, len, *used, 0};
	int rc;

	if ((rc = hsm_session_open(d->hsm, &x.hs)) != 0) {
		return rc;
	}
	rc = store_read(d->store, seeds_check_txn, &x);
	hsm_session_close(x.hs);
	*used = x.used;
	return rc;
}

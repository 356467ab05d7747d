/* SPDX-License-Identifier: Apache-2.0 */
/* Which approvals of a task still count: each approver's rights, API token and TOTP seed, read
 * again. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/approvals.h"
#include "daemon/audit.h"
#include "daemon/rules.h"
#include "daemon/tasks.h"
#include "daemon/user.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "policy/acl.h"
#include "policy/approval.h"

void
approval_credential(const struct user_record *u, bool with_code,
		    char out[APPROVAL_CREDENTIAL_LEN + 1])
{
	/* As records before typed ones said it: a revoked token and no seed are "". */
	const char *token_hash = u->token_hash;
	const char *seed = u->enrolled ? u->otp.seed_id : "";
	uint8_t md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
		/* Domain-separated, each part NUL-terminated: no two inputs run together. */
		EVP_DigestUpdate(c, "signet approval credential", 27);
		EVP_DigestUpdate(c, token_hash, strlen(token_hash) + 1);
		if (with_code) {
			EVP_DigestUpdate(c, seed, strlen(seed) + 1);
		}
		EVP_DigestFinal_ex(c, md, NULL);
	}
	EVP_MD_CTX_free(c);
	hex_encode(md, APPROVAL_CREDENTIAL_LEN / 2, out);
}

bool
approval_counts(const json_t *a)
{
	return strcmp(json_string_value(json_object_get(a, "decision")) ?: "", "APPROVED") == 0 &&
	       json_object_get(a, "void") == NULL;
}

/* The facts of one recorded approval, read from the store now. */
static int
vote_facts(struct store_txn *t, const struct task *task, const json_t *a,
	   struct approval_vote_facts *f)
{
	const char *tenant = task->tenant;
	const char *dc = task->devconf_id;
	const char *req = task->requester;
	const char *who = json_string_value(json_object_get(a, "approver"));
	const char *cred = json_string_value(json_object_get(a, "credential"));
	enum acl_subject_kind kind;
	const char *name;
	struct policy_subject s;
	struct user_record u;
	int r = 0;

	memset(f, 0, sizeof(*f));
	f->with_code = json_is_true(json_object_get(a, "secondFactor"));
	f->is_requester = who != NULL && req != NULL && strcmp(who, req) == 0;
	if (tenant == NULL || dc == NULL || who == NULL ||
	    acl_subject_parse(who, &kind, &name) != 0 || kind == ACL_SUBJ_GROUP) {
		return 0; /* no such approver: the vote does not count */
	}
	if ((r = user_read(t, tenant, name, &u)) != 0) {
		return r == SIGNET_ENOTFOUND ? 0 : r;
	}
	/* A client and a user never share a name, but the kind must be the one that decided. */
	f->approver_exists = u.client == (kind == ACL_SUBJ_CLIENT);
	f->token_live = u.token_hash[0] != '\0';
	f->enrolled = u.enrolled;
	f->same_credentials = true;
	if (cred != NULL) {
		char now[APPROVAL_CREDENTIAL_LEN + 1];
		approval_credential(&u, f->with_code, now);
		f->same_credentials = strcmp(now, cred) == 0;
	}
	memset(&s, 0, sizeof(s));
	snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
	snprintf(s.user, sizeof(s.user), "%s", name);
	s.admin = u.admin;
	s.client = u.client;
	if (rules_load_subject(t, &s, &u) != 0) {
		r = SIGNET_EINTERNAL;
	} else {
		f->may_approve = policy_allows_on(&s, ACL_APPROVE, ACL_RT_DEVICE_CONFIG, dc);
	}
	rules_free_subject(&s);
	return r;
}

static void
vote_reason(enum approval_vote v, const char *who, const char *dc, char *out, size_t len)
{
	switch (v) {
	case VOTE_COUNTS:
		snprintf(out, len, "counts");
		break;
	case VOTE_APPROVER_GONE:
		snprintf(out, len, "%s no longer exists", who);
		break;
	case VOTE_SELF:
		snprintf(out, len, "%s is the requester", who);
		break;
	case VOTE_TOKEN_REVOKED:
		snprintf(out, len, "the API token of %s was revoked", who);
		break;
	case VOTE_NOT_ENROLLED:
		snprintf(out, len, "%s no longer has a TOTP seed", who);
		break;
	case VOTE_CREDENTIALS_REPLACED:
		snprintf(out, len, "the API token or TOTP seed with which %s decided was replaced",
			 who);
		break;
	case VOTE_NO_APPROVE:
		snprintf(out, len, "%s no longer holds APPROVE on DEVICE_CONFIG:%s", who, dc);
		break;
	}
}

int
approvals_recount(struct store_txn *t, struct daemon *d, struct task *task, int *counting,
		  int *voided, char *why, size_t whylen)
{
	const char *tenant = task->tenant;
	const char *id = task->id;
	const char *dc = task->devconf_id;
	json_t *seen = json_object();
	size_t i;
	json_t *a;
	int r = 0;

	*counting = *voided = 0;
	if (why != NULL && whylen > 0) {
		why[0] = '\0';
	}
	if (seen == NULL) {
		return SIGNET_EINTERNAL;
	}
	json_array_foreach(task->approvals, i, a) {
		const char *who = json_string_value(json_object_get(a, "approver"));
		struct approval_vote_facts f;
		enum approval_vote v;
		char reason[200];
		if (!approval_counts(a)) {
			continue;
		}
		if ((r = vote_facts(t, task, a, &f)) != 0) {
			break;
		}
		if ((v = approval_vote_check(&f)) == VOTE_COUNTS) {
			if (json_object_get(seen, who) == NULL) {
				json_object_set_new(seen, who, json_true());
				(*counting)++;
			}
			continue;
		}
		vote_reason(v, who ?: "?", dc ?: "?", reason, sizeof(reason));
		json_object_set_new(a, "void", json_string(reason));
		if (why != NULL && (*voided)++ == 0) {
			snprintf(why, whylen, "%s", reason);
		}
		{
			struct audit_actor act;
			char res[64], msg[256];
			json_t *val = json_pack("{s:s?, s:O}", "approver", who, "time",
						json_object_get(a, "time"));
			audit_actor_daemon(d, tenant, &act);
			snprintf(res, sizeof(res), "TASK:%s", id ?: "");
			snprintf(msg, sizeof(msg), "an approval no longer counts: %s", reason);
			r = audit_append(t, tenant, &act, "VOIDED", res, msg, val);
			json_decref(val);
		}
		if (r != 0) {
			break;
		}
	}
	json_decref(seen);
	return r != 0 ? r : t->err;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Four-eyes decisions: who may approve, when a task is approved, rejected or expired. Pure. */
#include "config.h"

#include "policy/approval.h"

bool
approval_required(bool devconf_says, bool devconf_value, bool tenant_default)
{
	return devconf_says ? devconf_value : tenant_default;
}

enum approval_refusal
approval_check(const struct approval_facts *f)
{
	if (!f->may_approve) {
		return APPROVAL_NOT_ALLOWED;
	}
	/* Holding APPROVE does not make anyone their own second pair of eyes. */
	if (f->is_requester) {
		return APPROVAL_SELF;
	}
	if (!f->task_waiting) {
		return APPROVAL_NOT_WAITING;
	}
	if (!f->devconf_enabled) {
		return APPROVAL_DISABLED;
	}
	if (f->decided_already) {
		return APPROVAL_TWICE;
	}
	if (f->needs_code && !f->code_given) {
		return APPROVAL_CODE_MISSING;
	}
	return APPROVAL_OK;
}

enum approval_outcome
approval_outcome(int approvals, bool rejected, int quorum)
{
	if (rejected) {
		return APPROVAL_REJECTED;
	}
	return approvals >= (quorum < 1 ? 1 : quorum) ? APPROVAL_APPROVED : APPROVAL_STILL_WAITING;
}

enum approval_vote
approval_vote_check(const struct approval_vote_facts *f)
{
	if (!f->approver_exists) {
		return VOTE_APPROVER_GONE;
	}
	if (f->is_requester) {
		return VOTE_SELF;
	}
	if (!f->token_live) {
		return VOTE_TOKEN_REVOKED;
	}
	if (f->with_code && !f->enrolled) {
		return VOTE_NOT_ENROLLED;
	}
	/* A token revoked and issued again, or a seed replaced: whoever decided may not hold them.
	 */
	if (!f->same_credentials) {
		return VOTE_CREDENTIALS_REPLACED;
	}
	if (!f->may_approve) {
		return VOTE_NO_APPROVE;
	}
	return VOTE_COUNTS;
}

bool
approval_expired(int64_t waiting_since, int64_t ttl, int64_t now)
{
	return now >= waiting_since + ttl;
}

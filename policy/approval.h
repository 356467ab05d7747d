/* SPDX-License-Identifier: Apache-2.0 */
/* Four-eyes decisions: who may approve, when a task is approved, rejected or expired. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Does a new task wait for approval? The device configuration's setting, else the tenant's. */
bool approval_required(bool devconf_says, bool devconf_value, bool tenant_default);

/* What is known when someone decides on a task. */
struct approval_facts {
	bool task_waiting;    /* the task is WAITING */
	bool devconf_enabled; /* its device configuration is enabled */
	bool is_requester;    /* the approver asked for the task */
	bool may_approve;     /* the approver holds APPROVE on the device configuration */
	bool decided_already; /* the approver decided on this task before */
	bool needs_code;      /* secondFactor TOTP (and the decision is an approval) */
	bool code_given;
};

enum approval_refusal {
	APPROVAL_OK,
	APPROVAL_NOT_ALLOWED,  /* denied: no APPROVE right */
	APPROVAL_SELF,         /* self_approval */
	APPROVAL_NOT_WAITING,  /* conflict: the task is past approval */
	APPROVAL_DISABLED,     /* conflict: its device configuration is disabled */
	APPROVAL_TWICE,        /* conflict: one decision per approver */
	APPROVAL_CODE_MISSING, /* invalid: the configuration asks for a TOTP code */
};

/* The first reason to refuse, in a fixed order (rights, self, state, duplicates, code). */
enum approval_refusal approval_check(const struct approval_facts *f);

enum approval_outcome {
	APPROVAL_STILL_WAITING,
	APPROVAL_APPROVED,
	APPROVAL_REJECTED,
};
/* After a decision: APPROVALS distinct approvals so far, any rejection, the quorum. */
enum approval_outcome approval_outcome(int approvals, bool rejected, int quorum);

/*
 * What is known, later, of the approver of an APPROVED decision: a vote
 * counts only while its approver could still cast it.
 */
struct approval_vote_facts {
	bool approver_exists;  /* the user record is still there */
	bool is_requester;     /* a backstop: decisions refuse it already */
	bool token_live;       /* the approver has an API token */
	bool with_code;        /* the decision was made with a TOTP code */
	bool enrolled;         /* the approver has a TOTP seed */
	bool same_credentials; /* the token (and seed, WITH_CODE) that decided are the live ones */
	bool may_approve;      /* the approver holds APPROVE on the device configuration */
};

enum approval_vote {
	VOTE_COUNTS,
	VOTE_APPROVER_GONE,
	VOTE_SELF,
	VOTE_TOKEN_REVOKED,
	VOTE_NOT_ENROLLED,
	VOTE_CREDENTIALS_REPLACED,
	VOTE_NO_APPROVE,
};

/* Does a recorded approval still count? The first reason it does not, in the order above. */
enum approval_vote approval_vote_check(const struct approval_vote_facts *f);

/* Has a task waiting since WAITING_SINCE run out of time (TTL seconds) at NOW? */
bool approval_expired(int64_t waiting_since, int64_t ttl, int64_t now);

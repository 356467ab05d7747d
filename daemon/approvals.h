/* SPDX-License-Identifier: Apache-2.0 */
/* Which approvals of a task still count: each approver's rights, API token and TOTP seed, read
 * again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "daemon/tasks.h"

#define APPROVAL_CREDENTIAL_LEN 32 /* hex digits */

/*
 * The credential an approval records: an opaque digest of the approver's
 * API token (its hash, TOKEN_HASH) and, for a decision made with a TOTP
 * code, the id of their seed (from USER). Neither can be recovered from it.
 */
struct user_record;
void approval_credential(const struct user_record *u, bool with_code,
			 char out[APPROVAL_CREDENTIAL_LEN + 1]);

/*
 * In a write transaction, on TASK (a record the caller is changing and
 * will store): check every APPROVED decision that is not void yet against
 * its approver as they are now (policy/approval.c, approval_vote_check). A
 * decision that no longer counts gets "void": the reason, and an audit
 * entry VOIDED by signetd. *COUNTING: the distinct approvers whose
 * approvals still count; *VOIDED: how many were voided now; WHY: the
 * first reason.
 */
int approvals_recount(struct store_txn *t, struct daemon *d, struct task *task, int *counting,
		      int *voided, char *why, size_t whylen);

/* Is approval A (an element of a task's "approvals") an APPROVED decision that still counts? */
bool approval_counts(const json_t *a);

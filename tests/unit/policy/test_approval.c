/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for policy/approval.c: who may decide, in which order refusals come, quorum,
 * rejection, expiry, whether a task waits at all, and whether a recorded vote still counts. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policy/approval.h"

/* Everything in order: an approver with APPROVE, not the requester, on a waiting task. */
static struct approval_facts
good(void)
{
	struct approval_facts f;

	memset(&f, 0, sizeof(f));
	f.task_waiting = true;
	f.devconf_enabled = true;
	f.is_requester = false;
	f.may_approve = true;
	f.decided_already = false;
	f.needs_code = false;
	f.code_given = false;
	return f;
}

static void
test_check_ok(void **state)
{
	struct approval_facts f = good();

	assert_int_equal(approval_check(&f), APPROVAL_OK);
	f.needs_code = true;
	f.code_given = true;
	assert_int_equal(approval_check(&f), APPROVAL_OK);
	/* A code given where none is needed is not a reason to refuse. */
	f.needs_code = false;
	assert_int_equal(approval_check(&f), APPROVAL_OK);
}

/* Each refusal on its own, everything else in order. */
static void
test_check_each_refusal(void **state)
{
	struct approval_facts f;

	f = good();
	f.may_approve = false;
	assert_int_equal(approval_check(&f), APPROVAL_NOT_ALLOWED);
	f = good();
	f.is_requester = true;
	assert_int_equal(approval_check(&f), APPROVAL_SELF);
	f = good();
	f.task_waiting = false;
	assert_int_equal(approval_check(&f), APPROVAL_NOT_WAITING);
	f = good();
	f.devconf_enabled = false;
	assert_int_equal(approval_check(&f), APPROVAL_DISABLED);
	f = good();
	f.decided_already = true;
	assert_int_equal(approval_check(&f), APPROVAL_TWICE);
	f = good();
	f.needs_code = true;
	assert_int_equal(approval_check(&f), APPROVAL_CODE_MISSING);
}

/* Everything wrong at once: the refusals come one after the other in the documented order
 * (rights, self, state, enabled, duplicates, code) as each cause is removed. */
static void
test_check_order(void **state)
{
	struct approval_facts f = {
	    .task_waiting = false,
	    .devconf_enabled = false,
	    .is_requester = true,
	    .may_approve = false,
	    .decided_already = true,
	    .needs_code = true,
	    .code_given = false,
	};

	assert_int_equal(approval_check(&f), APPROVAL_NOT_ALLOWED);
	f.may_approve = true;
	assert_int_equal(approval_check(&f), APPROVAL_SELF);
	f.is_requester = false;
	assert_int_equal(approval_check(&f), APPROVAL_NOT_WAITING);
	f.task_waiting = true;
	assert_int_equal(approval_check(&f), APPROVAL_DISABLED);
	f.devconf_enabled = true;
	assert_int_equal(approval_check(&f), APPROVAL_TWICE);
	f.decided_already = false;
	assert_int_equal(approval_check(&f), APPROVAL_CODE_MISSING);
	f.code_given = true;
	assert_int_equal(approval_check(&f), APPROVAL_OK);
}

/* Pairwise: the earlier cause always wins over any later one. */
static void
test_check_pairwise_precedence(void **state)
{
	enum approval_refusal want[6] = {APPROVAL_NOT_ALLOWED, APPROVAL_SELF,
					 APPROVAL_NOT_WAITING, APPROVAL_DISABLED,
					 APPROVAL_TWICE,       APPROVAL_CODE_MISSING};

	for (int a = 0; a < 6; a++) {
		for (int b = a; b < 6; b++) {
			struct approval_facts f = good();
			for (int k = 0; k < 6; k++) {
				if (k != a && k != b) {
					continue;
				}
				switch (k) {
				case 0:
					f.may_approve = false;
					break;
				case 1:
					f.is_requester = true;
					break;
				case 2:
					f.task_waiting = false;
					break;
				case 3:
					f.devconf_enabled = false;
					break;
				case 4:
					f.decided_already = true;
					break;
				case 5:
					f.needs_code = true;
					break;
				}
			}
			if (approval_check(&f) != want[a]) {
				fail_msg("causes %d and %d: refusal %d, expected %d", a, b,
					 approval_check(&f), want[a]);
			}
		}
	}
}

static void
test_outcome_quorum(void **state)
{
	/* Quorum 1 */
	assert_int_equal(approval_outcome(0, false, 1), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(1, false, 1), APPROVAL_APPROVED);
	/* Quorum 2 */
	assert_int_equal(approval_outcome(0, false, 2), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(1, false, 2), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(2, false, 2), APPROVAL_APPROVED);
	assert_int_equal(approval_outcome(3, false, 2), APPROVAL_APPROVED);
	/* Quorum 3 */
	assert_int_equal(approval_outcome(1, false, 3), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(2, false, 3), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(3, false, 3), APPROVAL_APPROVED);
	/* A quorum below 1 still needs one approval. */
	assert_int_equal(approval_outcome(0, false, 0), APPROVAL_STILL_WAITING);
	assert_int_equal(approval_outcome(1, false, 0), APPROVAL_APPROVED);
	assert_int_equal(approval_outcome(0, false, -3), APPROVAL_STILL_WAITING);
}

static void
test_outcome_rejection(void **state)
{
	/* One rejection ends the task, whatever the approvals so far. */
	for (int q = 1; q <= 3; q++) {
		for (int n = 0; n <= 3; n++) {
			assert_int_equal(approval_outcome(n, true, q), APPROVAL_REJECTED);
		}
	}
}

static void
test_expired_boundary(void **state)
{
	const int64_t since = 1700000000, ttl = 3600;

	assert_false(approval_expired(since, ttl, since));
	assert_false(approval_expired(since, ttl, since + ttl - 1));
	assert_true(approval_expired(since, ttl, since + ttl));
	assert_true(approval_expired(since, ttl, since + ttl + 1));
	assert_false(approval_expired(since, ttl, since - 10));
	/* A TTL of 0 has run out at once. */
	assert_true(approval_expired(since, 0, since));
	assert_false(approval_expired(since, 1, since));
}

static void
test_required(void **state)
{
	/* The device configuration's own setting wins, either way. */
	assert_true(approval_required(true, true, false));
	assert_true(approval_required(true, true, true));
	assert_false(approval_required(true, false, true));
	assert_false(approval_required(true, false, false));
	/* Without one, the tenant's default, whatever the ignored value says. */
	assert_true(approval_required(false, false, true));
	assert_true(approval_required(false, true, true));
	assert_false(approval_required(false, true, false));
	assert_false(approval_required(false, false, false));
}

/* A vote whose approver is as they were when they decided. */
static struct approval_vote_facts
vote_good(void)
{
	struct approval_vote_facts f = {
	    .approver_exists = true,
	    .is_requester = false,
	    .token_live = true,
	    .with_code = true,
	    .enrolled = true,
	    .same_credentials = true,
	    .may_approve = true,
	};

	return f;
}

static void
test_vote_counts(void **state)
{
	struct approval_vote_facts f = vote_good();

	assert_int_equal(approval_vote_check(&f), VOTE_COUNTS);
	/* Without a code, enrollment does not matter. */
	f.with_code = false;
	f.enrolled = false;
	assert_int_equal(approval_vote_check(&f), VOTE_COUNTS);
}

/* Each reason on its own, then all at once, removed one after the other in the documented order. */
static void
test_vote_reasons(void **state)
{
	struct approval_vote_facts f;

	f = vote_good();
	f.approver_exists = false;
	assert_int_equal(approval_vote_check(&f), VOTE_APPROVER_GONE);
	f = vote_good();
	f.is_requester = true;
	assert_int_equal(approval_vote_check(&f), VOTE_SELF);
	f = vote_good();
	f.token_live = false;
	assert_int_equal(approval_vote_check(&f), VOTE_TOKEN_REVOKED);
	f = vote_good();
	f.enrolled = false;
	assert_int_equal(approval_vote_check(&f), VOTE_NOT_ENROLLED);
	f = vote_good();
	f.same_credentials = false;
	assert_int_equal(approval_vote_check(&f), VOTE_CREDENTIALS_REPLACED);
	f = vote_good();
	f.may_approve = false;
	assert_int_equal(approval_vote_check(&f), VOTE_NO_APPROVE);

	memset(&f, 0, sizeof(f));
	f.is_requester = true;
	f.with_code = true;
	assert_int_equal(approval_vote_check(&f), VOTE_APPROVER_GONE);
	f.approver_exists = true;
	assert_int_equal(approval_vote_check(&f), VOTE_SELF);
	f.is_requester = false;
	assert_int_equal(approval_vote_check(&f), VOTE_TOKEN_REVOKED);
	f.token_live = true;
	assert_int_equal(approval_vote_check(&f), VOTE_NOT_ENROLLED);
	f.enrolled = true;
	assert_int_equal(approval_vote_check(&f), VOTE_CREDENTIALS_REPLACED);
	f.same_credentials = true;
	assert_int_equal(approval_vote_check(&f), VOTE_NO_APPROVE);
	f.may_approve = true;
	assert_int_equal(approval_vote_check(&f), VOTE_COUNTS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_ok),
	    cmocka_unit_test(test_check_each_refusal),
	    cmocka_unit_test(test_check_order),
	    cmocka_unit_test(test_check_pairwise_precedence),
	    cmocka_unit_test(test_outcome_quorum),
	    cmocka_unit_test(test_outcome_rejection),
	    cmocka_unit_test(test_expired_boundary),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_vote_counts),
	    cmocka_unit_test(test_vote_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

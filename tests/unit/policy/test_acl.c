/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for policy/acl.c: the initial admin's rights and the refusals for everyone else. */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policy/acl.h"

static const enum acl_action actions[] = {
    ACL_VIEW, ACL_CREATE, ACL_UPDATE, ACL_DELETE, ACL_USE, ACL_APPROVE,
};

static const enum acl_resource_type types[] = {
    ACL_RT_ACL, ACL_RT_AUDIT_LOG, ACL_RT_DEVICE_CONFIG, ACL_RT_KEY, ACL_RT_USER,
};

#define NACTIONS (sizeof(actions) / sizeof(actions[0]))
#define NTYPES   (sizeof(types) / sizeof(types[0]))

static struct policy_subject
subject(const char *tenant, const char *user, bool admin, bool client)
{
	struct policy_subject s;

	memset(&s, 0, sizeof(s));
	strncpy(s.tenant, tenant, sizeof(s.tenant) - 1);
	strncpy(s.user, user, sizeof(s.user) - 1);
	s.admin = admin;
	s.client = client;
	return s;
}

static void
test_admin_allowed_every_type(void **state)
{
	struct policy_subject s = subject("acme", "alice", true, false);

	for (size_t a = 0; a < NACTIONS; a++) {
		for (size_t t = 0; t < NTYPES; t++) {
			if (!policy_allows(&s, actions[a], types[t])) {
				fail_msg("admin denied %s on %s", acl_action_name(actions[a]),
					 acl_resource_type_name(types[t]));
			}
		}
	}
}

static void
test_admin_denied_type_none(void **state)
{
	struct policy_subject s = subject("acme", "alice", true, false);

	/* A right on "no resource type" is nobody's, not even the admin's. */
	for (size_t a = 0; a < NACTIONS; a++) {
		assert_false(policy_allows(&s, actions[a], ACL_RT_NONE));
	}
}

static void
test_action_none_always_allowed(void **state)
{
	struct policy_subject admin = subject("acme", "alice", true, false);
	struct policy_subject user = subject("acme", "bob", false, false);
	struct policy_subject empty = subject("", "", false, false);

	/* Ops that check no ACL right (status, or their own rule) pass for anyone. */
	for (size_t t = 0; t < NTYPES; t++) {
		assert_true(policy_allows(&admin, ACL_NONE, types[t]));
		assert_true(policy_allows(&user, ACL_NONE, types[t]));
		assert_true(policy_allows(&empty, ACL_NONE, types[t]));
	}
	assert_true(policy_allows(&user, ACL_NONE, ACL_RT_NONE));
	assert_true(policy_allows(NULL, ACL_NONE, ACL_RT_KEY));
}

static void
test_non_admin_denied(void **state)
{
	struct policy_subject user = subject("acme", "bob", false, false);
	struct policy_subject client = subject("acme", "ci-bot", false, true);

	for (size_t a = 0; a < NACTIONS; a++) {
		for (size_t t = 0; t < NTYPES; t++) {
			assert_false(policy_allows(&user, actions[a], types[t]));
			assert_false(policy_allows(&client, actions[a], types[t]));
		}
		assert_false(policy_allows(&user, actions[a], ACL_RT_NONE));
	}
}

static void
test_incomplete_subject_denied(void **state)
{
	struct policy_subject no_tenant = subject("", "alice", true, false);
	struct policy_subject no_user = subject("acme", "", true, false);
	struct policy_subject neither = subject("", "", true, false);

	/* Even the admin flag grants nothing without a tenant and a user. */
	for (size_t a = 0; a < NACTIONS; a++) {
		for (size_t t = 0; t < NTYPES; t++) {
			assert_false(policy_allows(&no_tenant, actions[a], types[t]));
			assert_false(policy_allows(&no_user, actions[a], types[t]));
			assert_false(policy_allows(&neither, actions[a], types[t]));
			assert_false(policy_allows(NULL, actions[a], types[t]));
		}
	}
}

static void
test_names(void **state)
{
	assert_string_equal(acl_action_name(ACL_NONE), "NONE");
	assert_string_equal(acl_action_name(ACL_VIEW), "VIEW");
	assert_string_equal(acl_action_name(ACL_CREATE), "CREATE");
	assert_string_equal(acl_action_name(ACL_UPDATE), "UPDATE");
	assert_string_equal(acl_action_name(ACL_DELETE), "DELETE");
	assert_string_equal(acl_action_name(ACL_USE), "USE");
	assert_string_equal(acl_action_name(ACL_APPROVE), "APPROVE");
	assert_string_equal(acl_action_name((enum acl_action)99), "NONE");
	assert_string_equal(acl_action_name((enum acl_action) - 1), "NONE");
	assert_string_equal(acl_resource_type_name(ACL_RT_NONE), "NONE");
	assert_string_equal(acl_resource_type_name(ACL_RT_ACL), "ACL");
	assert_string_equal(acl_resource_type_name(ACL_RT_AUDIT_LOG), "AUDIT_LOG");
	assert_string_equal(acl_resource_type_name(ACL_RT_DEVICE_CONFIG), "DEVICE_CONFIG");
	assert_string_equal(acl_resource_type_name(ACL_RT_KEY), "KEY");
	assert_string_equal(acl_resource_type_name(ACL_RT_USER), "USER");
	assert_string_equal(acl_resource_type_name((enum acl_resource_type)99), "NONE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admin_allowed_every_type),
	    cmocka_unit_test(test_admin_denied_type_none),
	    cmocka_unit_test(test_action_none_always_allowed),
	    cmocka_unit_test(test_non_admin_denied),
	    cmocka_unit_test(test_incomplete_subject_denied),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

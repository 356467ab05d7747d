/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for policy/acl.c: parsing rule subjects and resources, and access decisions. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
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

/* Every name parses back to its value; NONE, unknown names, other cases and NULL do not. */
static void
test_action_parse(void **state)
{
	enum acl_action out;

	for (size_t a = 0; a < NACTIONS; a++) {
		out = ACL_NONE;
		assert_int_equal(acl_action_parse(acl_action_name(actions[a]), &out), 0);
		assert_int_equal(out, actions[a]);
	}
	assert_int_equal(acl_action_parse("APPROVE", &out), 0);
	assert_int_equal(out, ACL_APPROVE);
	assert_int_equal(acl_action_parse("NONE", &out), -1);
	assert_int_equal(acl_action_parse("view", &out), -1);
	assert_int_equal(acl_action_parse("VIEWX", &out), -1);
	assert_int_equal(acl_action_parse("VIE", &out), -1);
	assert_int_equal(acl_action_parse("", &out), -1);
	assert_int_equal(acl_action_parse(NULL, &out), -1);
}

static void
test_resource_type_parse(void **state)
{
	enum acl_resource_type out;

	for (size_t t = 0; t < NTYPES; t++) {
		out = ACL_RT_NONE;
		assert_int_equal(acl_resource_type_parse(acl_resource_type_name(types[t]), &out),
				 0);
		assert_int_equal(out, types[t]);
	}
	assert_int_equal(acl_resource_type_parse("AUDIT_LOG", &out), 0);
	assert_int_equal(out, ACL_RT_AUDIT_LOG);
	assert_int_equal(acl_resource_type_parse("NONE", &out), -1);
	assert_int_equal(acl_resource_type_parse("key", &out), -1);
	assert_int_equal(acl_resource_type_parse("KEYS", &out), -1);
	assert_int_equal(acl_resource_type_parse("TASK", &out), -1);
	assert_int_equal(acl_resource_type_parse("", &out), -1);
	assert_int_equal(acl_resource_type_parse(NULL, &out), -1);
}

/* A string of PREFIX followed by N copies of C. */
static char *
repeat(char *buf, size_t buflen, const char *prefix, char c, size_t n)
{
	size_t pl = strlen(prefix);

	assert_true(pl + n < buflen);
	memcpy(buf, prefix, pl);
	memset(buf + pl, c, n);
	buf[pl + n] = '\0';
	return buf;
}

static void
test_subject_parse(void **state)
{
	enum acl_subject_kind kind;
	const char *name;
	char buf[128];
	const char *s;

	s = "USER:alice";
	name = NULL;
	kind = ACL_SUBJ_GROUP;
	assert_int_equal(acl_subject_parse(s, &kind, &name), 0);
	assert_int_equal(kind, ACL_SUBJ_USER);
	assert_ptr_equal(name, s + 5);
	assert_string_equal(name, "alice");

	s = "GROUP:ops";
	kind = ACL_SUBJ_USER;
	assert_int_equal(acl_subject_parse(s, &kind, &name), 0);
	assert_int_equal(kind, ACL_SUBJ_GROUP);
	assert_ptr_equal(name, s + 6);

	s = "CLIENT:ci-bot";
	kind = ACL_SUBJ_USER;
	assert_int_equal(acl_subject_parse(s, &kind, &name), 0);
	assert_int_equal(kind, ACL_SUBJ_CLIENT);
	assert_ptr_equal(name, s + 7);

	/* Names of 1..64 bytes, for every kind. */
	const char *prefixes[] = {"USER:", "GROUP:", "CLIENT:"};
	for (size_t i = 0; i < 3; i++) {
		repeat(buf, sizeof(buf), prefixes[i], 'n', ACL_NAME_MAX);
		assert_int_equal(acl_subject_parse(buf, &kind, &name), 0);
		assert_int_equal(strlen(name), ACL_NAME_MAX);
		repeat(buf, sizeof(buf), prefixes[i], 'n', ACL_NAME_MAX + 1);
		assert_int_equal(acl_subject_parse(buf, &kind, &name), -1);
		repeat(buf, sizeof(buf), prefixes[i], 'n', 1);
		assert_int_equal(acl_subject_parse(buf, &kind, &name), 0);
		assert_int_equal(acl_subject_parse(prefixes[i], &kind, &name), -1);
	}
	assert_int_equal(acl_subject_parse("ROLE:admin", &kind, &name), -1);
	assert_int_equal(acl_subject_parse("user:alice", &kind, &name), -1);
	assert_int_equal(acl_subject_parse("USER", &kind, &name), -1);
	assert_int_equal(acl_subject_parse("alice", &kind, &name), -1);
	assert_int_equal(acl_subject_parse("", &kind, &name), -1);
	assert_int_equal(acl_subject_parse(NULL, &kind, &name), -1);
}

static void
test_resource_parse(void **state)
{
	enum acl_resource_type type;
	const char *id;
	char buf[256];
	const char *s;

	for (size_t t = 0; t < NTYPES; t++) {
		snprintf(buf, sizeof(buf), "RESOURCE_TYPE:%s", acl_resource_type_name(types[t]));
		type = ACL_RT_NONE;
		id = "sentinel";
		assert_int_equal(acl_resource_parse(buf, &type, &id), 0);
		assert_int_equal(type, types[t]);
		assert_null(id);
	}
	assert_int_equal(acl_resource_parse("RESOURCE_TYPE:NONE", &type, &id), -1);
	assert_int_equal(acl_resource_parse("RESOURCE_TYPE:", &type, &id), -1);
	assert_int_equal(acl_resource_parse("RESOURCE_TYPE:BOGUS", &type, &id), -1);
	assert_int_equal(acl_resource_parse("RESOURCE_TYPE:key", &type, &id), -1);

	s = "DEVICE_CONFIG:0b5e7c1a-3f4d-4e2b-9a6c-1d2e3f4a5b6c";
	type = ACL_RT_NONE;
	id = NULL;
	assert_int_equal(acl_resource_parse(s, &type, &id), 0);
	assert_int_equal(type, ACL_RT_DEVICE_CONFIG);
	assert_ptr_equal(id, s + strlen("DEVICE_CONFIG:"));
	assert_string_equal(id, "0b5e7c1a-3f4d-4e2b-9a6c-1d2e3f4a5b6c");
	assert_int_equal(acl_resource_parse("DEVICE_CONFIG:", &type, &id), -1);

	/* Only device configurations are named one by one. */
	assert_int_equal(acl_resource_parse("KEY:k1", &type, &id), -1);
	assert_int_equal(acl_resource_parse("ACL:r1", &type, &id), -1);
	assert_int_equal(acl_resource_parse("USER:alice", &type, &id), -1);
	assert_int_equal(acl_resource_parse("AUDIT_LOG:x", &type, &id), -1);
	assert_int_equal(acl_resource_parse("NONE:x", &type, &id), -1);
	assert_int_equal(acl_resource_parse("DEVICE_CONFIG", &type, &id), -1);
	assert_int_equal(acl_resource_parse("KEY", &type, &id), -1);
	assert_int_equal(acl_resource_parse("", &type, &id), -1);
	assert_int_equal(acl_resource_parse(NULL, &type, &id), -1);

	/* Ids of up to 64 bytes; longer ones, and over-long strings, are refused. */
	repeat(buf, sizeof(buf), "DEVICE_CONFIG:", 'i', ACL_NAME_MAX);
	assert_int_equal(acl_resource_parse(buf, &type, &id), 0);
	assert_int_equal(strlen(id), ACL_NAME_MAX);
	repeat(buf, sizeof(buf), "DEVICE_CONFIG:", 'i', ACL_NAME_MAX + 1);
	assert_int_equal(acl_resource_parse(buf, &type, &id), -1);
	repeat(buf, sizeof(buf), "DEVICE_CONFIG:", 'i', 200);
	assert_int_equal(acl_resource_parse(buf, &type, &id), -1);
	repeat(buf, sizeof(buf), "RESOURCE_TYPE:KEY", ' ', 100);
	assert_int_equal(acl_resource_parse(buf, &type, &id), -1);
}

static void
test_subject_matches(void **state)
{
	struct policy_subject user = subject("acme", "alice", false, false);
	struct policy_subject client = subject("acme", "alice", false, true);
	char name[ACL_SUBJECT_MAX];

	assert_true(policy_subject_matches(&user, "USER:alice"));
	assert_false(policy_subject_matches(&user, "CLIENT:alice"));
	assert_false(policy_subject_matches(&user, "USER:bob"));
	assert_false(policy_subject_matches(&user, "USER:alic"));
	assert_false(policy_subject_matches(&user, "USER:alicex"));
	assert_true(policy_subject_matches(&client, "CLIENT:alice"));
	assert_false(policy_subject_matches(&client, "USER:alice"));
	assert_false(policy_subject_matches(&client, "CLIENT:bob"));

	/* Groups: only the first NGROUPS count. */
	assert_false(policy_subject_matches(&user, "GROUP:ops"));
	strcpy(user.groups[0], "dev");
	strcpy(user.groups[1], "ops");
	strcpy(user.groups[2], "late");
	user.ngroups = 2;
	assert_true(policy_subject_matches(&user, "GROUP:dev"));
	assert_true(policy_subject_matches(&user, "GROUP:ops"));
	assert_false(policy_subject_matches(&user, "GROUP:late"));
	assert_false(policy_subject_matches(&user, "GROUP:op"));
	assert_false(policy_subject_matches(&user, "GROUP:alice"));
	/* A group name is not a user name. */
	assert_false(policy_subject_matches(&user, "USER:ops"));
	strcpy(client.groups[0], "bots");
	client.ngroups = 1;
	assert_true(policy_subject_matches(&client, "GROUP:bots"));

	/* Malformed rule subjects and a missing subject match nothing. */
	assert_false(policy_subject_matches(&user, "alice"));
	assert_false(policy_subject_matches(&user, "USER:"));
	assert_false(policy_subject_matches(&user, "GROUP:"));
	assert_false(policy_subject_matches(&user, NULL));
	assert_false(policy_subject_matches(NULL, "USER:alice"));

	policy_subject_name(&user, name, sizeof(name));
	assert_string_equal(name, "USER:alice");
	policy_subject_name(&client, name, sizeof(name));
	assert_string_equal(name, "CLIENT:alice");
}

static struct policy_grant
grant(const char *resource, enum acl_action action)
{
	struct policy_grant g;

	memset(&g, 0, sizeof(g));
	strncpy(g.resource, resource, sizeof(g.resource) - 1);
	g.action = action;
	return g;
}

/* A type-level right needs a RESOURCE_TYPE grant for that action and that type. */
static void
test_allows_with_grants(void **state)
{
	struct policy_subject s = subject("acme", "bob", false, false);
	struct policy_grant g[] = {
	    grant("RESOURCE_TYPE:KEY", ACL_USE),     grant("RESOURCE_TYPE:USER", ACL_VIEW),
	    grant("DEVICE_CONFIG:dc1", ACL_VIEW),    grant("KEY", ACL_DELETE),
	    grant("RESOURCE_TYPE:NONE", ACL_CREATE),
	};

	s.grants = g;
	s.ngrants = sizeof(g) / sizeof(g[0]);
	for (size_t a = 0; a < NACTIONS; a++) {
		for (size_t t = 0; t < NTYPES; t++) {
			bool want = (actions[a] == ACL_USE && types[t] == ACL_RT_KEY) ||
				    (actions[a] == ACL_VIEW && types[t] == ACL_RT_USER);
			if (policy_allows(&s, actions[a], types[t]) != want) {
				fail_msg("%s on %s: expected %d", acl_action_name(actions[a]),
					 acl_resource_type_name(types[t]), want);
			}
		}
		assert_false(policy_allows(&s, actions[a], ACL_RT_NONE));
	}
	/* A grant on one device configuration is not a right on the type. */
	assert_false(policy_allows(&s, ACL_VIEW, ACL_RT_DEVICE_CONFIG));
	/* Out-of-range values are refused. */
	assert_false(policy_allows(&s, (enum acl_action)ACL_ACTION_COUNT, ACL_RT_KEY));
	assert_false(policy_allows(&s, ACL_USE, (enum acl_resource_type)ACL_RT_COUNT));

	/* NGRANTS bounds the search. */
	s.ngrants = 1;
	assert_true(policy_allows(&s, ACL_USE, ACL_RT_KEY));
	assert_false(policy_allows(&s, ACL_VIEW, ACL_RT_USER));
	s.ngrants = 0;
	assert_false(policy_allows(&s, ACL_USE, ACL_RT_KEY));

	/* The same grants held by a client work alike. */
	struct policy_subject c = subject("acme", "ci-bot", false, true);
	c.grants = g;
	c.ngrants = 1;
	assert_true(policy_allows(&c, ACL_USE, ACL_RT_KEY));
	assert_false(policy_allows(&c, ACL_VIEW, ACL_RT_KEY));
}

static void
test_allows_on(void **state)
{
	struct policy_subject type_holder = subject("acme", "bob", false, false);
	struct policy_subject id_holder = subject("acme", "carol", false, false);
	struct policy_subject nobody = subject("acme", "dave", false, false);
	struct policy_subject admin = subject("acme", "alice", true, false);
	struct policy_grant tg[] = {grant("RESOURCE_TYPE:DEVICE_CONFIG", ACL_USE),
				    grant("RESOURCE_TYPE:KEY", ACL_USE)};
	struct policy_grant ig[] = {grant("DEVICE_CONFIG:dc1", ACL_USE),
				    grant("DEVICE_CONFIG:dc2", ACL_VIEW), grant("KEY:k1", ACL_USE)};
	const char *ids[] = {"dc1", "dc2", "dc3", "0b5e7c1a-3f4d-4e2b-9a6c-1d2e3f4a5b6c"};

	type_holder.grants = tg;
	type_holder.ngrants = 2;
	id_holder.grants = ig;
	id_holder.ngrants = 3;

	/* A type grant covers every id; an id grant only its own id and action. */
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_true(policy_allows_on(&type_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, ids[i]));
		assert_false(
		    policy_allows_on(&type_holder, ACL_VIEW, ACL_RT_DEVICE_CONFIG, ids[i]));
		assert_false(policy_allows_on(&nobody, ACL_USE, ACL_RT_DEVICE_CONFIG, ids[i]));
		for (size_t a = 0; a < NACTIONS; a++) {
			assert_true(
			    policy_allows_on(&admin, actions[a], ACL_RT_DEVICE_CONFIG, ids[i]));
		}
	}
	assert_true(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc1"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc2"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc3"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc10"));
	assert_true(policy_allows_on(&id_holder, ACL_VIEW, ACL_RT_DEVICE_CONFIG, "dc2"));
	assert_false(policy_allows_on(&id_holder, ACL_VIEW, ACL_RT_DEVICE_CONFIG, "dc1"));
	for (size_t a = 0; a < NACTIONS; a++) {
		if (actions[a] != ACL_USE) {
			assert_false(
			    policy_allows_on(&id_holder, actions[a], ACL_RT_DEVICE_CONFIG, "dc1"));
		}
	}
	/* The id grant is no type right. */
	assert_false(policy_allows(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG));

	/* A missing or empty id takes an id grant nowhere. */
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, NULL));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_DEVICE_CONFIG, ""));
	struct policy_grant empty_id[] = {grant("DEVICE_CONFIG:", ACL_USE)};
	nobody.grants = empty_id;
	nobody.ngrants = 1;
	assert_false(policy_allows_on(&nobody, ACL_USE, ACL_RT_DEVICE_CONFIG, ""));

	/* Only device configurations are per-id: "KEY:k1" grants nothing, nor does the same id of
	 * another type. */
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_KEY, "k1"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_KEY, "dc1"));
	assert_false(policy_allows_on(&id_holder, ACL_USE, ACL_RT_NONE, "dc1"));
	/* ... while a type grant on KEY covers any key. */
	assert_true(policy_allows_on(&type_holder, ACL_USE, ACL_RT_KEY, "k1"));
	assert_false(policy_allows_on(&type_holder, ACL_USE, ACL_RT_USER, "k1"));

	/* An id too long for a resource never matches a grant holding its truncation. */
	const size_t plen = strlen("DEVICE_CONFIG:");
	const size_t fit = ACL_RESOURCE_MAX - 1 - plen; /* longest id a grant can hold */
	char id[ACL_RESOURCE_MAX];
	struct policy_grant trunc[1];
	memset(trunc, 0, sizeof(trunc));
	memcpy(trunc[0].resource, "DEVICE_CONFIG:", plen);
	memset(trunc[0].resource + plen, 'x', fit);
	trunc[0].action = ACL_USE;
	nobody.grants = trunc;
	nobody.ngrants = 1;
	memset(id, 'x', fit + 1);
	id[fit] = '\0'; /* exactly the grant's id */
	assert_true(policy_allows_on(&nobody, ACL_USE, ACL_RT_DEVICE_CONFIG, id));
	id[fit] = 'x';
	id[fit + 1] = '\0'; /* one byte longer: the grant holds only its truncation */
	assert_false(policy_allows_on(&nobody, ACL_USE, ACL_RT_DEVICE_CONFIG, id));

	/* ACL_NONE passes as for policy_allows; out-of-range actions do not. */
	assert_true(policy_allows_on(&nobody, ACL_NONE, ACL_RT_DEVICE_CONFIG, "dc1"));
	assert_false(policy_allows_on(&id_holder, (enum acl_action)ACL_ACTION_COUNT,
				      ACL_RT_DEVICE_CONFIG, "dc1"));
}

/* Grants are worth nothing to a subject without a tenant or a user. */
static void
test_incomplete_subject_with_grants(void **state)
{
	struct policy_grant g[] = {grant("RESOURCE_TYPE:KEY", ACL_USE),
				   grant("DEVICE_CONFIG:dc1", ACL_USE)};
	struct policy_subject ok = subject("acme", "bob", false, false);
	struct policy_subject no_tenant = subject("", "bob", false, false);
	struct policy_subject no_user = subject("acme", "", false, false);
	struct policy_subject no_user_client = subject("acme", "", false, true);

	ok.grants = no_tenant.grants = no_user.grants = no_user_client.grants = g;
	ok.ngrants = no_tenant.ngrants = no_user.ngrants = no_user_client.ngrants = 2;
	/* The control: the same grants work for a complete subject. */
	assert_true(policy_allows(&ok, ACL_USE, ACL_RT_KEY));
	assert_true(policy_allows_on(&ok, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc1"));

	struct policy_subject *bad[] = {&no_tenant, &no_user, &no_user_client};
	for (size_t i = 0; i < 3; i++) {
		assert_false(policy_allows(bad[i], ACL_USE, ACL_RT_KEY));
		assert_false(policy_allows_on(bad[i], ACL_USE, ACL_RT_KEY, "k1"));
		assert_false(policy_allows_on(bad[i], ACL_USE, ACL_RT_DEVICE_CONFIG, "dc1"));
	}
	assert_false(policy_allows_on(NULL, ACL_USE, ACL_RT_DEVICE_CONFIG, "dc1"));
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
	    cmocka_unit_test(test_action_parse),
	    cmocka_unit_test(test_resource_type_parse),
	    cmocka_unit_test(test_subject_parse),
	    cmocka_unit_test(test_resource_parse),
	    cmocka_unit_test(test_subject_matches),
	    cmocka_unit_test(test_allows_with_grants),
	    cmocka_unit_test(test_allows_on),
	    cmocka_unit_test(test_incomplete_subject_with_grants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

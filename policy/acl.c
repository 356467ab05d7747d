/* SPDX-License-Identifier: Apache-2.0 */
/* Access decisions: who may do what to which resource. Pure: no I/O. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policy/acl.h"

static const char *const action_names[ACL_ACTION_COUNT] = {"NONE",   "VIEW", "CREATE", "UPDATE",
							   "DELETE", "USE",  "APPROVE"};
static const char *const type_names[ACL_RT_COUNT] = {"NONE",          "ACL", "AUDIT_LOG",
						     "DEVICE_CONFIG", "KEY", "USER"};

#define TYPE_PREFIX "RESOURCE_TYPE:"

const char *
acl_action_name(enum acl_action a)
{
	return (unsigned)a < ACL_ACTION_COUNT ? action_names[a] : "NONE";
}

const char *
acl_resource_type_name(enum acl_resource_type t)
{
	return (unsigned)t < ACL_RT_COUNT ? type_names[t] : "NONE";
}

int
acl_action_parse(const char *name, enum acl_action *out)
{
	for (int i = 1; i < ACL_ACTION_COUNT; i++) {
		if (name != NULL && strcmp(name, action_names[i]) == 0) {
			*out = (enum acl_action)i;
			return 0;
		}
	}
	return -1;
}

int
acl_resource_type_parse(const char *name, enum acl_resource_type *out)
{
	for (int i = 1; i < ACL_RT_COUNT; i++) {
		if (name != NULL && strcmp(name, type_names[i]) == 0) {
			*out = (enum acl_resource_type)i;
			return 0;
		}
	}
	return -1;
}

static bool
name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= ACL_NAME_MAX;
}

int
acl_subject_parse(const char *s, enum acl_subject_kind *kind, const char **name)
{
	static const struct {
		const char *prefix;
		enum acl_subject_kind kind;
	} kinds[] = {
	    {"USER:", ACL_SUBJ_USER}, {"GROUP:", ACL_SUBJ_GROUP}, {"CLIENT:", ACL_SUBJ_CLIENT}};

	if (s == NULL) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(s, kinds[i].prefix, n) == 0 && name_ok(s + n)) {
			*kind = kinds[i].kind;
			*name = s + n;
			return 0;
		}
	}
	return -1;
}

int
acl_resource_parse(const char *s, enum acl_resource_type *type, const char **id)
{
	static const char dc[] = "DEVICE_CONFIG:";

	if (s == NULL || strlen(s) >= ACL_RESOURCE_MAX) {
		return -1;
	}
	if (strncmp(s, TYPE_PREFIX, strlen(TYPE_PREFIX)) == 0) {
		*id = NULL;
		return acl_resource_type_parse(s + strlen(TYPE_PREFIX), type);
	}
	if (strncmp(s, dc, strlen(dc)) == 0 && name_ok(s + strlen(dc))) {
		*type = ACL_RT_DEVICE_CONFIG;
		*id = s + strlen(dc);
		return 0;
	}
	return -1;
}

void
policy_subject_name(const struct policy_subject *subject, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%s", subject->client ? "CLIENT" : "USER", subject->user);
}

bool
policy_subject_matches(const struct policy_subject *subject, const char *subj)
{
	enum acl_subject_kind kind;
	const char *name;

	if (subject == NULL || acl_subject_parse(subj, &kind, &name) != 0) {
		return false;
	}
	switch (kind) {
	case ACL_SUBJ_USER:
		return !subject->client && strcmp(name, subject->user) == 0;
	case ACL_SUBJ_CLIENT:
		return subject->client && strcmp(name, subject->user) == 0;
	case ACL_SUBJ_GROUP:
		for (size_t i = 0; i < subject->ngroups && i < POLICY_GROUPS_MAX; i++) {
			if (strcmp(name, subject->groups[i]) == 0) {
				return true;
			}
		}
		return false;
	}
	return false;
}

static bool
subject_ok(const struct policy_subject *subject)
{
	return subject != NULL && subject->tenant[0] != '\0' && subject->user[0] != '\0';
}

static bool
holds(const struct policy_subject *subject, enum acl_action action, const char *resource)
{
	for (size_t i = 0; i < subject->ngrants; i++) {
		if (subject->grants[i].action == action &&
		    strcmp(subject->grants[i].resource, resource) == 0) {
			return true;
		}
	}
	return false;
}

bool
policy_allows(const struct policy_subject *subject, enum acl_action action,
	      enum acl_resource_type type)
{
	char res[ACL_RESOURCE_MAX];

	if ((unsigned)action >= ACL_ACTION_COUNT || (unsigned)type >= ACL_RT_COUNT) {
		return false;
	}
	if (action == ACL_NONE) {
		return true;
	}
	if (!subject_ok(subject) || type == ACL_RT_NONE) {
		return false;
	}
	/* The initial admin's rules exist from the tenant's creation and cover every type. */
	if (subject->admin) {
		return true;
	}
	snprintf(res, sizeof(res), TYPE_PREFIX "%s", type_names[type]);
	return holds(subject, action, res);
}

bool
policy_allows_on(const struct policy_subject *subject, enum acl_action action,
		 enum acl_resource_type type, const char *id)
{
	char res[ACL_RESOURCE_MAX];
	int n;

	if (policy_allows(subject, action, type)) {
		return true;
	}
	if (!subject_ok(subject) || action == ACL_NONE || (unsigned)action >= ACL_ACTION_COUNT ||
	    type != ACL_RT_DEVICE_CONFIG || id == NULL || id[0] == '\0') {
		return false;
	}
	n = snprintf(res, sizeof(res), "%s:%s", type_names[type], id);
	if (n < 0 || (size_t)n >= sizeof(res)) {
		return false;
	}
	return holds(subject, action, res);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Access decisions: who may do what to which resource. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum acl_action {
	ACL_NONE = 0, /* the op checks no ACL right (status, or its own rule) */
	ACL_VIEW,
	ACL_CREATE,
	ACL_UPDATE,
	ACL_DELETE,
	ACL_USE,
	ACL_APPROVE,
};
#define ACL_ACTION_COUNT 7

enum acl_resource_type {
	ACL_RT_NONE = 0,
	ACL_RT_ACL,
	ACL_RT_AUDIT_LOG,
	ACL_RT_DEVICE_CONFIG,
	ACL_RT_KEY,
	ACL_RT_USER,
};
#define ACL_RT_COUNT 6

#define ACL_NAME_MAX      64 /* user, group and client names */
#define ACL_SUBJECT_MAX   72 /* "CLIENT:" + name + NUL */
#define ACL_RESOURCE_MAX  80 /* "RESOURCE_TYPE:DEVICE_CONFIG", "DEVICE_CONFIG:" + UUID */
#define POLICY_GROUPS_MAX 32 /* groups one user may belong to */

enum acl_subject_kind {
	ACL_SUBJ_USER,
	ACL_SUBJ_GROUP,
	ACL_SUBJ_CLIENT,
};

/* A right the subject holds: ACTION on RESOURCE (a "RESOURCE_TYPE:T" or "TYPE:id" string). */
struct policy_grant {
	char resource[ACL_RESOURCE_MAX];
	enum acl_action action;
};

/*
 * Who is asking, with every right that names them or one of their groups,
 * resolved at authentication. GRANTS is owned by whoever filled it.
 */
struct policy_subject {
	char tenant[ACL_NAME_MAX + 1];
	char user[ACL_NAME_MAX + 1];
	bool admin;  /* the tenant's initial admin */
	bool client; /* a machine user (CLIENT:) */
	char groups[POLICY_GROUPS_MAX][ACL_NAME_MAX + 1];
	size_t ngroups;
	struct policy_grant *grants;
	size_t ngrants;
};

const char *acl_action_name(enum acl_action a);
const char *acl_resource_type_name(enum acl_resource_type t);
/* 0 on success, -1 for an unknown name (ACL_NONE and ACL_RT_NONE are not names). */
int acl_action_parse(const char *name, enum acl_action *out);
int acl_resource_type_parse(const char *name, enum acl_resource_type *out);

/*
 * Split "USER:alice" into its kind and name (pointing into S). The name is
 * not checked beyond being 1..ACL_NAME_MAX bytes.
 */
int acl_subject_parse(const char *s, enum acl_subject_kind *kind, const char **name);
/*
 * Split a resource: "RESOURCE_TYPE:KEY" gives the type and *ID NULL;
 * "DEVICE_CONFIG:<id>" gives ACL_RT_DEVICE_CONFIG and the id. Only device
 * configurations are named one by one.
 */
int acl_resource_parse(const char *s, enum acl_resource_type *type, const char **id);

/* The subject string of the caller itself: "USER:name" or "CLIENT:name". */
void policy_subject_name(const struct policy_subject *subject, char *out, size_t outlen);
/* Does the rule subject SUBJ ("USER:x", "GROUP:g", "CLIENT:c") name SUBJECT? */
bool policy_subject_matches(const struct policy_subject *subject, const char *subj);

/*
 * May SUBJECT perform ACTION on every resource of type TYPE in its own
 * tenant? Needs a rule on "RESOURCE_TYPE:TYPE". The initial admin holds
 * every right from the tenant's creation.
 */
bool policy_allows(const struct policy_subject *subject, enum acl_action action,
		   enum acl_resource_type type);
/*
 * May SUBJECT perform ACTION on the one resource TYPE:ID? A rule on the
 * whole type or on that resource grants it.
 */
bool policy_allows_on(const struct policy_subject *subject, enum acl_action action,
		      enum acl_resource_type type, const char *id);

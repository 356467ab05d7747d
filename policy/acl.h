/* SPDX-License-Identifier: Apache-2.0 */
/* Access decisions: who may do what to which resource. Pure: no I/O. */
#pragma once

#include <stdbool.h>

enum acl_action {
	ACL_NONE = 0, /* the op checks no ACL right (status, or its own rule) */
	ACL_VIEW,
	ACL_CREATE,
	ACL_UPDATE,
	ACL_DELETE,
	ACL_USE,
	ACL_APPROVE,
};

enum acl_resource_type {
	ACL_RT_NONE = 0,
	ACL_RT_ACL,
	ACL_RT_AUDIT_LOG,
	ACL_RT_DEVICE_CONFIG,
	ACL_RT_KEY,
	ACL_RT_USER,
};

struct policy_subject {
	char tenant[65];
	char user[65];
	bool admin;  /* the tenant's initial admin */
	bool client; /* a machine user (CLIENT:) */
};

const char *acl_action_name(enum acl_action a);
const char *acl_resource_type_name(enum acl_resource_type t);

/*
 * May SUBJECT perform ACTION on resources of type TYPE in its own tenant?
 * The initial admin holds every right from the tenant's creation; the rule
 * set for everyone else arrives with the full ACL.
 */
bool policy_allows(const struct policy_subject *subject, enum acl_action action,
		   enum acl_resource_type type);

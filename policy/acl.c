/* SPDX-License-Identifier: Apache-2.0 */
/* Access decisions: who may do what to which resource. Pure: no I/O. */
#include "config.h"

#include "policy/acl.h"

const char *
acl_action_name(enum acl_action a)
{
	static const char *const names[] = {"NONE",   "VIEW", "CREATE", "UPDATE",
					    "DELETE", "USE",  "APPROVE"};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "NONE";
}

const char *
acl_resource_type_name(enum acl_resource_type t)
{
	static const char *const names[] = {"NONE",          "ACL", "AUDIT_LOG",
					    "DEVICE_CONFIG", "KEY", "USER"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "NONE";
}

bool
policy_allows(const struct policy_subject *subject, enum acl_action action,
	      enum acl_resource_type type)
{
	if ((unsigned)action > ACL_APPROVE || (unsigned)type > ACL_RT_USER) {
		return false;
	}
	if (action == ACL_NONE) {
		return true;
	}
	if (subject == 0 || subject->tenant[0] == '\0' || subject->user[0] == '\0') {
		return false;
	}
	/* The initial admin's rules exist from the tenant's creation and cover every type. */
	if (subject->admin) {
		return type != ACL_RT_NONE;
	}
	return false;
}

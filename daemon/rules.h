/* SPDX-License-Identifier: Apache-2.0 */
/* ACL rules and task capabilities in the store, and the rights of an authenticated subject. */
#pragma once

#include <jansson.h>

#include "daemon/store.h"
#include "policy/acl.h"

struct user_record;

#define RULES_GRANTS_MAX 1024 /* rights one subject may hold through its user and groups */

/*
 * In a write transaction: add a rule. EXTRA (may be NULL) adds members to
 * the record ("fixed": the initial admin's; "deviceConfig": made from a
 * device configuration's subjects). SIGNET_ECONFLICT when it exists.
 */
int rules_put(struct store_txn *t, const char *tenant, const char *subject, const char *resource,
	      enum acl_action action, const json_t *extra);
/* Remove a rule: SIGNET_ENOTFOUND when absent, SIGNET_EDENIED for a fixed one. */
int rules_del(struct store_txn *t, const char *tenant, const char *subject, const char *resource,
	      enum acl_action action, bool force);
/* Does ACTION mean something on resources of type TY (USE and APPROVE: device configurations)? */
bool rules_meaningful(enum acl_resource_type ty, enum acl_action a);
/* The initial admin's rules: every action on every resource type, fixed. */
int rules_put_admin(struct store_txn *t, const char *tenant, const char *admin);
/* Drop every rule made from device configuration ID (before writing its new subjects). */
int rules_del_devconf(struct store_txn *t, const char *tenant, const char *id);

/* Fill S->groups from the user record and S->grants from the rules naming it (malloc'd). */
int rules_load_subject(struct store_txn *t, struct policy_subject *s, const struct user_record *u);
void rules_free_subject(struct policy_subject *s);

/* Task capabilities: a task-scoped rule, "tenant \0 ~TASK:id". */
int rules_put_capability(struct store_txn *t, const char *tenant, const char *task_id,
			 const char *subject, const char *devconf, const char *key,
			 const char *operation);
bool rules_has_capability(struct store_txn *t, const char *tenant, const char *task_id,
			  const char *subject, const char *devconf);
void rules_del_capability(struct store_txn *t, const char *tenant, const char *task_id);

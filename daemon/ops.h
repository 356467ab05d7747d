/* SPDX-License-Identifier: Apache-2.0 */
/* Handlers of the socket API ops; each runs on a worker after dispatch's checks. */
#pragma once

#include "daemon/daemon.h"
#include "daemon/store.h"

struct devconf;

int op_status(struct request *r);
int op_metrics(struct request *r);
int op_backup(struct request *r);

int op_tenant_create(struct request *r);
int op_tenant_list(struct request *r);
int op_user_create(struct request *r);
int op_user_list(struct request *r);
int op_user_show(struct request *r);
int op_user_token(struct request *r);
int op_user_revoke(struct request *r);
int op_whoami(struct request *r);

int op_key_generate(struct request *r);
int op_key_import(struct request *r);
int op_key_list(struct request *r);
int op_key_show(struct request *r);
int op_key_csr(struct request *r);
int op_key_cert(struct request *r);

int op_acl_add(struct request *r);
int op_acl_remove(struct request *r);
int op_acl_list(struct request *r);
int op_config_get(struct request *r);
int op_config_set(struct request *r);

int op_report_submit(struct request *r);
int op_report_verify(struct request *r);
int op_report_list(struct request *r);

int op_devconf_create(struct request *r);
int op_devconf_update(struct request *r);
int op_devconf_disable(struct request *r);
int op_devconf_show(struct request *r);
int op_devconf_list(struct request *r);

int op_task_sign(struct request *r);
int op_task_encrypt(struct request *r);
int op_task_package(struct request *r);
int op_task_show(struct request *r);
int op_task_list(struct request *r);
int op_task_wait(struct request *r);
int op_task_cancel(struct request *r);
int op_task_download(struct request *r);
int op_events_watch(struct request *r);
int op_task_approve(struct request *r);
int op_audit_list(struct request *r);
int op_audit_export(struct request *r);
int op_audit_verify(struct request *r);
int op_audit_pubkey(struct request *r);
int op_task_reject(struct request *r);
int op_user_otp_enroll(struct request *r);
int op_user_otp_reset(struct request *r);

/* Inside a transaction: does SUBJECT name an existing user or client, or a group? Fails R. */
int ops_check_subject(struct request *r, struct store_txn *t, const char *subject);
struct user_record;
/* Load user or client NAME of the caller's tenant into U; fails R with not_found. */
int ops_user_load(struct request *r, struct store_txn *t, const char *name, struct user_record *u);
/* Load device configuration ID of the caller's tenant; fails R with not_found. */
int devconf_load(struct request *r, struct store_txn *t, const char *id, struct devconf *dc);
/* A tenant configuration value (its default when unset); NULL for an unknown key. */
json_t *tenant_config_get(struct store_txn *t, const char *tenant, const char *name);

struct store_page;

/* The items of one listing page and the bytes they will take in the reply. */
struct ops_list {
	json_t *items;
	size_t bytes;
};

/*
 * Add ITEM (taking it) to a page, or return STORE_PAGE_FULL when it would
 * push the reply past what one packet holds.
 */
int ops_list_append(struct ops_list *l, json_t *item);
/*
 * A listing op: one page of DB's records (those of TENANT, or all when
 * NULL), each turned into an item by ITEM (which calls ops_list_append on
 * its struct ops_list argument), answered as {FIELD: [...], "cursor"?}.
 */
int ops_list(struct request *r, enum store_db db, const char *tenant,
	     int (*item)(const struct store_key *key, json_t *val, void *arg), const char *field);

/* Read the optional "limit" and "cursor" arguments of a listing op. */
int ops_page_args(struct request *r, struct store_page *pg);
/* Add the "cursor" to resume from to RESULT when the page did not reach the end. */
int ops_page_result(json_t *result, const struct store_page *pg);

/* At start, before serving: check every known key's token attributes; mark unusable ones. */
/*
 * Check every key the store knows against the token (at start). The names
 * of keys the token lacks are appended to MISSING (LEN bytes, *USED so far).
 */
int keys_check_all(struct daemon *d, char *missing, size_t len, size_t *used);
/* The CKA_IDs of every key, TOTP seed and audit key the store knows (for the token guard). */
struct token_ids;
int keys_expected_ids(struct daemon *d, struct token_ids *ids);
/* The same for the TOTP seeds of enrolled users. */
int otp_seeds_check_all(struct daemon *d, char *missing, size_t len, size_t *used);
void keys_note_missing(char *list, size_t len, size_t *used, const char *name);

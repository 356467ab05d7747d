/* SPDX-License-Identifier: Apache-2.0 */
/* What the engine shares with the op handlers: keys as a task uses them, signing. */
#pragma once

#include <openssl/x509.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "hsm/hsm.h"

#define TASK_ED25519_MAX (16u << 20) /* Ed25519 signs the whole message in one C_Sign */

/*
 * The one purpose of a signing key (DESIGN §5), fixed by the first device
 * configuration that binds it: its signing keys sign tasks (raw and CMS
 * signatures), its packaging key signs package headers. A key bound
 * before purposes were recorded has none.
 */
#define KEY_PURPOSE_SIGNING   "SIGNING"
#define KEY_PURPOSE_PACKAGING "PACKAGING"

/* A usable key of a tenant, with its certificate and chain when it has them. */
struct keyref {
	char label[ACL_NAME_MAX + 1];
	enum hsm_alg alg;
	uint8_t id[HSM_ID_LEN];
	X509 *cert;
	STACK_OF(X509) *chain;
	char purpose[16];                 /* KEY_PURPOSE_*, or "" */
	char purpose_by[TASK_ID_LEN + 1]; /* the device configuration that fixed it */
};

/* Refuse (SIGNET_ECONFLICT, WHY) key K for PURPOSE when it was bound to the other one. */
int keyref_check_purpose(const struct keyref *k, const char *purpose, char *why, size_t whylen);

/* Load key LABEL of TENANT; SIGNET_ENOTFOUND or SIGNET_EDENIED (not usable) with WHY. */
int keyref_load(struct store_txn *t, const char *tenant, const char *label, struct keyref *k,
		char *why, size_t whylen);
int engine_read_key(struct daemon *d, const char *tenant, const char *label, struct keyref *k,
		    char *why, size_t whylen);
void keyref_clear(struct keyref *k);

/*
 * Sign for a SIGNING task: the digest recorded in the task (RSA, ECDSA) or
 * MSG (Ed25519); adds a detached CMS signature when the key has a
 * certificate. *RESULT is {"signature", "keyLabel", "cms"?}.
 */
int exec_sign(struct hsm_session *hs, const json_t *task, const struct keyref *k,
	      const uint8_t *msg, size_t msglen, json_t **result, char *why, size_t whylen);

/* fsync the directory that holds PATH (after a rename into it). */
int engine_fsync_dir(const char *path);

/*
 * Move task ID from one of FROM to TO in its own durable write (with its
 * event and audit entry), storing RESULT (taken; may be NULL) when given.
 * SIGNET_ECONFLICT when the task was in none of FROM.
 */
int engine_transition(struct daemon *d, const char *tenant, const char *id,
		      const enum task_status *from, size_t nfrom, enum task_status to,
		      const char *reason, json_t *result);

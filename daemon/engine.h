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
 * Content embedded in a CMS (attach): the CMS is returned inline in the
 * task's result, which must fit a reply packet with the rest of the task.
 */
#define TASK_ATTACH_MAX (32u << 10)

/*
 * A signing task's scheme (doc/protocol.md, task.sign), recorded in its
 * "signing" object: scheme, hash (not EdDSA), saltLength (RSA_PSS),
 * encoding (ECDSA), attach. A task made before schemes were recorded has
 * none of them and signs as its key did then (hsm_sign_params_default).
 */
void sign_params_record(json_t *sg, const struct hsm_sign_params *p, bool attach);
/* 0, or SIGNET_EINTERNAL when the recorded members are damaged. */
int sign_params_load(const json_t *sg, enum hsm_alg alg, struct hsm_sign_params *p, bool *attach);
/* What an approval binds of SG: the members above that it holds (a new object). */
json_t *sign_params_view(const json_t *sg);
/* The schemes device configuration DC allows (its allowedSchemes), as a mask of 1 << scheme. */
unsigned devconf_schemes(const json_t *dc);
/* "RSA_PSS, ECDSA" into BUF. */
const char *schemes_text(unsigned mask, char *buf, size_t len);

/*
 * Sign for a SIGNING task with its recorded scheme: the digest recorded in
 * the task (RSA, ECDSA) or MSG (Ed25519); adds a CMS signature when the
 * key has a certificate, detached, or with MSG embedded when the task
 * says attach. *RESULT is {"signature", "keyLabel", "scheme", "hash"?,
 * "encoding"?, "cms"?}.
 */
int exec_sign(struct hsm_session *hs, const json_t *task, const struct keyref *k,
	      const uint8_t *msg, size_t msglen, json_t **result, char *why, size_t whylen);

/*
 * Move task ID from one of FROM to TO in its own durable write (with its
 * event and audit entry), storing RESULT (taken; may be NULL) when given.
 * SIGNET_ECONFLICT when the task was in none of FROM.
 */
int engine_transition(struct daemon *d, const char *tenant, const char *id,
		      const enum task_status *from, size_t nfrom, enum task_status to,
		      const char *reason, json_t *result);

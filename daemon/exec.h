/* SPDX-License-Identifier: Apache-2.0 */
/* Execution in the token: a task's authorisation checked again, then signing or encryption. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/keyref.h"
#include "daemon/store.h"
#include "hsm/hsm.h"

#define TASK_ED25519_MAX (16u << 20) /* Ed25519 signs the whole message in one C_Sign */

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
/* "RSA_PSS, ECDSA" into BUF. */
const char *schemes_text(unsigned mask, char *buf, size_t len);

/*
 * Sign for a SIGNING task with its recorded scheme: the digest recorded in
 * the task (RSA, ECDSA) or MSG (Ed25519); adds a CMS signature when the
 * key has a certificate, detached, or with MSG embedded when the task
 * says attach. *RESULT is {"signature", "keyLabel", "scheme", "hash"?,
 * "encoding"?, "cms"?}.
 */
int exec_sign(struct hsm_session *hs, const struct task *task, const struct keyref *k,
	      const uint8_t *msg, size_t msglen, json_t **result, char *why, size_t whylen);

/*
 * Encrypt an ENCRYPTION task's input (the spooled copy, or DIRECT_FD when
 * it is read in place) into the spool's out/<id>: *RESULT is its sha256,
 * size and expiry; *INPUT the input's sha256 and size when read in place.
 */
int exec_encrypt(struct daemon *d, struct hsm_session *hs, const struct task *task, int direct_fd,
		 json_t **result, json_t **input, char *why, size_t whylen);
/*
 * The requester must still hold USE on the device configuration, and the
 * task's capability must still exist (in a read transaction, at execution).
 */
int exec_authorize(struct store_txn *t, const struct task *task, char *why, size_t whylen);

/* SPDX-License-Identifier: Apache-2.0 */
/* Keys as a task uses them: a tenant's key by label, its certificate, chain and purpose. */
#pragma once

#include <stddef.h>

#include <openssl/x509.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "hsm/hsm.h"

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
/* The same in a read transaction of its own; K is cleared on failure. */
int keyref_read(struct daemon *d, const char *tenant, const char *label, struct keyref *k,
		char *why, size_t whylen);
void keyref_clear(struct keyref *k);

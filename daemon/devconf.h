/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device configuration record: its one decoder and one encoder.
 *
 * Stored in STORE_DB_DEVCONFS under "tenant \0 id" as a JSON object
 * (doc/protocol.md section 8 shows it as devconf.show returns it), read by
 * the handlers only as a struct devconf:
 *
 *   id, tenant           string: the record's key parts
 *   name, description    string ("" when none)
 *   signingKeys          [label, ...]   at most DEVCONF_KEYS_MAX; the first signs tasks
 *   packagingKey         label | null   signs package headers and nothing else
 *   encryptionKeys       [{type: "TOKEN_KEY", label, algorithm} |
 *                         {type: "CERTIFICATE", certificatePem, subject, sha256}, ...]
 *   cipher               string (hsm_cipher_name); absent in records of the first release
 *   packaging            "BOSCH_SE_V1"
 *   allowedSchemes       [scheme, ...] in hsm_scheme order; absent: HSM_SCHEMES_DEFAULT
 *   approval             {fourEyes: bool | null (the tenant's default), quorum: 1-16,
 *                         secondFactor: "TOTP" | "NONE"}
 *   subjects             {USE: [subject, ...], APPROVE: [subject, ...]}
 *   enabled              bool
 *   createdAt, createdBy epoch seconds, user
 *   updatedAt, updatedBy present once it was changed
 *
 * devconf_encode(devconf_decode(R)) is R for every record this release and
 * the ones before wrote (tests/unit/daemon/test_devconf).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/store.h"
#include "policy/acl.h"

#define DEVCONF_KEYS_MAX     8
#define DEVCONF_SUBJECTS_MAX 64
#define DEVCONF_CERT_MAX     (16 * 1024)
#define DEVCONF_TEXT_MAX     1024
#define DEVCONF_LABEL_MAX    64
#define DEVCONF_ID_MAX       36

enum devconf_enc_type {
	DEVCONF_ENC_TOKEN_KEY,
	DEVCONF_ENC_CERTIFICATE,
};

struct devconf_enc {
	enum devconf_enc_type type;
	char label[DEVCONF_LABEL_MAX + 1]; /* TOKEN_KEY */
	char algorithm[24];                /* TOKEN_KEY: hsm_alg_name */
	char *certificate_pem;             /* CERTIFICATE (owned) */
	char subject[256];                 /* CERTIFICATE: its subject, one line */
	char sha256[65];                   /* CERTIFICATE: of its DER, hex */
};

enum devconf_subjects { DEVCONF_USE, DEVCONF_APPROVE, DEVCONF_SUBJECT_KINDS };

struct devconf {
	char id[DEVCONF_ID_MAX + 1];
	char tenant[ACL_NAME_MAX + 1];
	char name[DEVCONF_LABEL_MAX + 1];
	char *description; /* owned; "" when none */
	char sign_keys[DEVCONF_KEYS_MAX][DEVCONF_LABEL_MAX + 1];
	size_t nsign;
	char packaging_key[DEVCONF_LABEL_MAX + 1];    /* "" when none */
	struct devconf_enc enc[DEVCONF_KEYS_MAX + 1]; /* keys, then a certificate */
	size_t nenc;
	char cipher[32]; /* "" when absent */
	char packaging[16];
	unsigned schemes; /* 1 << hsm_scheme, when SCHEMES_SET */
	bool schemes_set;
	struct {
		int four_eyes; /* -1: null (the tenant's default), 0, 1 */
		int quorum;
		char second_factor[8];
	} approval;
	char subjects[DEVCONF_SUBJECT_KINDS][DEVCONF_SUBJECTS_MAX][ACL_SUBJECT_MAX];
	size_t nsubjects[DEVCONF_SUBJECT_KINDS];
	bool enabled;
	int64_t created_at, updated_at; /* updated_at 0: never changed */
	char created_by[ACL_NAME_MAX + 1], updated_by[ACL_NAME_MAX + 1];
};

/* Decode REC into DC (cleared first): 0, or SIGNET_EINTERNAL when REC is not a valid record. */
int devconf_decode(const json_t *rec, struct devconf *dc);
/* The stored (and shown) form of DC; NULL when out of memory. */
json_t *devconf_encode(const struct devconf *dc);
/* Free what DC owns; it may be decoded into again. */
void devconf_clear(struct devconf *dc);
/* Set DC's description (copied); 0, or SIGNET_EINTERNAL when out of memory. */
int devconf_set_description(struct devconf *dc, const char *s);

/* Read configuration ID of TENANT: SIGNET_ENOTFOUND when absent, SIGNET_EINTERNAL when corrupt. */
int devconf_read(struct store_txn *t, const char *tenant, const char *id, struct devconf *dc);
/*
 * Write DC (sticky error; NOOVERWRITE: SIGNET_ECONFLICT if it exists), and keep the key index:
 * STORE_DB_KEY_USES holds tenant \0 label \0 id for each signing key and the packaging key a
 * configuration names, enabled or not, written in the same transaction as the record. Every
 * write of a configuration goes through here.
 */
void devconf_write(struct store_txn *t, const struct devconf *dc, bool nooverwrite);
#define DEVCONF_KEY_USE_MAX (ACL_NAME_MAX + DEVCONF_LABEL_MAX + DEVCONF_ID_MAX + 4)
/*
 * Call FN for each configuration of TENANT that names LABEL as a signing or packaging key (FN
 * checks which, and whether it is enabled), in id order, through the key index: the work is
 * that of the configurations naming the key, not of all the tenant's. FN's DC is valid during
 * the call; a non-zero return stops the walk and is returned (STORE_STOP: 0). KNOWN (or NULL):
 * a configuration of TENANT the caller read in this same transaction, handed to FN instead of
 * read again. When a configuration of TENANT cannot be read (the rebuild found it broken), FN is
 * first called once with DC NULL: which keys that one names is unknown, and FN decides what that
 * means (a signing task is refused; a key is not granted by it).
 */
int devconf_foreach_using(struct store_txn *t, const char *tenant, const char *label,
			  const struct devconf *known,
			  int (*fn)(const struct devconf *dc, void *arg), void *arg);
/*
 * Check the key index against the configurations and rebuild it, in one transaction, when it
 * differs (at start: a signetd before the index may have written configurations without it).
 * *COUNT: configurations indexed; *REBUILT: whether it was written.
 */
int devconf_index_rebuild(struct store *st, size_t *count, bool *rebuilt);

/* The signature schemes its signing tasks may ask for (1 << hsm_scheme). */
unsigned devconf_schemes(const struct devconf *dc);
/* Do its tasks wait for approval? Its own fourEyes, else the tenant's default DEF. */
bool devconf_needs_approval(const struct devconf *dc, bool def);
/* The purpose it gives key LABEL (KEY_PURPOSE_SIGNING or _PACKAGING), or NULL. */
const char *devconf_key_use(const struct devconf *dc, const char *label);

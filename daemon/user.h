/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The user record (users and clients of a tenant): its one decoder and one
 * encoder.
 *
 * Stored in STORE_DB_USERS under "tenant \0 name" as a JSON object, read by
 * the handlers only as a struct user_record:
 *
 *   name, tenant    string: the record's key parts
 *   groups          [group, ...]   at most USER_GROUPS_MAX
 *   client          bool: a CLIENT (a service) rather than a USER
 *   admin           bool: the tenant's admin (tenant.create made it)
 *   created         epoch seconds
 *   tokenHash       hex SHA-256 of its one live API token | null (revoked)
 *   tokenCreated    epoch seconds of that token
 *   otp             absent when not enrolled, else {seedId: hex CKA_ID of the
 *                   TOTP seed on the token, enrolledAt, lastStep (the last TOTP
 *                   step accepted), failures (in a row), lockedUntil (0: not)}
 *
 * No secret is in it: the token is kept as its hash, the seed on the token.
 * user_encode(user_decode(R)) is R for every record this release and the ones
 * before wrote (tests/unit/daemon/test_user).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/store.h"
#include "hsm/hsm.h"
#include "policy/acl.h"

#define USER_GROUPS_MAX POLICY_GROUPS_MAX

struct user_record {
	char name[ACL_NAME_MAX + 1];
	char tenant[ACL_NAME_MAX + 1];
	char groups[USER_GROUPS_MAX][ACL_NAME_MAX + 1];
	size_t ngroups;
	bool client, admin;
	int64_t created;
	char token_hash[65]; /* "" when revoked */
	int64_t token_created;
	bool enrolled; /* OTP below */
	struct {
		char seed_id[2 * HSM_ID_LEN + 1];
		int64_t enrolled_at, last_step, locked_until;
		int failures;
	} otp;
};

/* Decode REC into U (cleared first): 0, or SIGNET_EINTERNAL when REC is not a valid record. */
int user_decode(const json_t *rec, struct user_record *u);
/* The stored form of U; NULL when out of memory. */
json_t *user_encode(const struct user_record *u);
/* Read user NAME of TENANT: SIGNET_ENOTFOUND when absent, SIGNET_EINTERNAL when corrupt. */
int user_read(struct store_txn *t, const char *tenant, const char *name, struct user_record *u);
/* Write U (sticky error; NOOVERWRITE: SIGNET_ECONFLICT if it exists). */
void user_write(struct store_txn *t, const struct user_record *u, bool nooverwrite);
/* Its seed's CKA_ID: 0, or -1 when not enrolled. */
int user_seed_id(const struct user_record *u, uint8_t id[HSM_ID_LEN]);

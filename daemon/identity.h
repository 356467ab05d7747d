/* SPDX-License-Identifier: Apache-2.0 */
/* Tenants, users and API tokens in the store; tokens are kept only as hashes. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "daemon/store.h"
#include "policy/acl.h"

#define IDENT_TOKEN_PREFIX "sgn_"
#define IDENT_TOKEN_LEN    47 /* "sgn_" + 43 characters of base64url for 32 random bytes */

/* A new random 256-bit API token (TOKEN, NUL-terminated) and the hex SHA-256 kept of it. */
int ident_token_new(char token[IDENT_TOKEN_LEN + 1], char hash[65]);
void ident_token_hash(const char *token, char hash[65]);

/*
 * Resolve TOKEN to its user. TENANT_HINT, when given, must name the
 * token's tenant. Returns 0 or SIGNET_EUNAUTH (no reason given: the
 * caller must not tell a wrong token from a wrong tenant).
 */
int ident_authenticate(struct store *st, const char *token, const char *tenant_hint,
		       struct policy_subject *out);

/* The same from the token's hash (a parked request authenticates again when it resumes). */
int ident_authenticate_hash(struct store *st, const char *hash, const char *tenant_hint,
			    struct policy_subject *out);

struct user_record;
/* Inside a write transaction: give U a new token, revoking the old one (U is the caller's to
 * write back). */
int ident_user_set_token(struct store_txn *t, struct user_record *u,
			 char token[IDENT_TOKEN_LEN + 1]);
/* Inside a write transaction: revoke U's token (U is the caller's to write back). */
void ident_user_revoke_token(struct store_txn *t, struct user_record *u);

/* SPDX-License-Identifier: Apache-2.0 */
/* Tenants, users and API tokens in the store; tokens are kept only as hashes. */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "daemon/identity.h"
#include "daemon/rules.h"
#include "daemon/user.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/util.h"

int
ident_token_new(char token[IDENT_TOKEN_LEN + 1], char hash[65])
{
	uint8_t raw[32];

	if (random_bytes(raw, sizeof(raw)) != 0) {
		return SIGNET_EINTERNAL;
	}
	memcpy(token, IDENT_TOKEN_PREFIX, 4);
	base64_encode(raw, sizeof(raw), token + 4, true);
	secure_wipe(raw, sizeof(raw));
	ident_token_hash(token, hash);
	return 0;
}

void
ident_token_hash(const char *token, char hash[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	/* Tokens carry 256 random bits: a plain SHA-256 cannot be searched backwards. */
	SHA256((const uint8_t *)token, strlen(token), md);
	hex_encode(md, sizeof(md), hash);
}

struct auth_ctx {
	const char *hash;
	const char *tenant_hint;
	struct policy_subject *out;
};

static int
auth_txn(struct store_txn *t, void *arg)
{
	struct auth_ctx *a = arg;
	json_t *tok = NULL;
	struct user_record u;
	const char *tenant, *name;
	int r = SIGNET_EUNAUTH;

	if (store_get_json(t, STORE_DB_TOKENS, a->hash, 64, &tok) != 0) {
		goto out;
	}
	tenant = json_string_value(json_object_get(tok, "tenant"));
	name = json_string_value(json_object_get(tok, "user"));
	if (tenant == NULL || name == NULL) {
		goto out;
	}
	if (a->tenant_hint != NULL && strcmp(a->tenant_hint, tenant) != 0) {
		goto out;
	}
	if (user_read(t, tenant, name, &u) != 0) {
		goto out;
	}
	/* The user's record names its one live token: anything else was revoked. */
	if (strlen(u.token_hash) != 64 || CRYPTO_memcmp(u.token_hash, a->hash, 64) != 0) {
		goto out;
	}
	memset(a->out, 0, sizeof(*a->out));
	snprintf(a->out->tenant, sizeof(a->out->tenant), "%s", tenant);
	snprintf(a->out->user, sizeof(a->out->user), "%s", name);
	a->out->admin = u.admin;
	a->out->client = u.client;
	/* The rights of the user and its groups, read in the same snapshot as the token. */
	r = rules_load_subject(t, a->out, &u) == 0 ? 0 : SIGNET_EUNAUTH;
out:
	json_decref(tok);
	return r;
}

int
ident_authenticate_hash(struct store *st, const char *hash, const char *tenant_hint,
			struct policy_subject *out)
{
	struct auth_ctx a = {(char *)hash, tenant_hint, out};

	if (hash == NULL || strlen(hash) != 64) {
		return SIGNET_EUNAUTH;
	}
	return store_read(st, auth_txn, &a) == 0 ? 0 : SIGNET_EUNAUTH;
}

int
ident_authenticate(struct store *st, const char *token, const char *tenant_hint,
		   struct policy_subject *out)
{
	char hash[65];

	if (token == NULL || strlen(token) != IDENT_TOKEN_LEN ||
	    strncmp(token, IDENT_TOKEN_PREFIX, 4) != 0) {
		return SIGNET_EUNAUTH;
	}
	ident_token_hash(token, hash);
	return ident_authenticate_hash(st, hash, tenant_hint, out);
}

void
ident_user_revoke_token(struct store_txn *t, struct user_record *u)
{
	if (strlen(u->token_hash) == 64) {
		store_del(t, STORE_DB_TOKENS, u->token_hash, 64);
	}
	u->token_hash[0] = '\0';
}

int
ident_user_set_token(struct store_txn *t, struct user_record *u, char token[IDENT_TOKEN_LEN + 1])
{
	char hash[65];
	json_t *rec;

	if (ident_token_new(token, hash) != 0) {
		return SIGNET_EINTERNAL;
	}
	ident_user_revoke_token(t, u);
	rec = json_pack("{s:s, s:s, s:I}", "tenant", u->tenant, "user", u->name, "created",
			(json_int_t)time_now());
	if (rec == NULL) {
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_TOKENS, hash, 64, rec, true);
	json_decref(rec);
	memcpy(u->token_hash, hash, sizeof(u->token_hash));
	u->token_created = time_now();
	return t->err;
}

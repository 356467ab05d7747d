/* SPDX-License-Identifier: Apache-2.0 */
/* The user record: decoded once, encoded once (user.h has its layout). */
#include "config.h"

#include <string.h>

#include "daemon/user.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"

static bool
get_int(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v)) {
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static int
decode(const json_t *rec, struct user_record *u)
{
	const json_t *groups = json_object_get(rec, "groups");
	const json_t *th = json_object_get(rec, "tokenHash");
	const json_t *otp = json_object_get(rec, "otp");
	const json_t *g;
	int64_t failures;
	size_t i;

	if (!json_is_object(rec) || !store_field_str(rec, "name", u->name, sizeof(u->name)) ||
	    !store_field_str(rec, "tenant", u->tenant, sizeof(u->tenant)) ||
	    !json_is_boolean(json_object_get(rec, "client")) ||
	    !json_is_boolean(json_object_get(rec, "admin")) ||
	    !get_int(rec, "created", &u->created) || !json_is_array(groups) ||
	    json_array_size(groups) > USER_GROUPS_MAX ||
	    !get_int(rec, "tokenCreated", &u->token_created)) {
		return -1;
	}
	u->client = json_is_true(json_object_get(rec, "client"));
	u->admin = json_is_true(json_object_get(rec, "admin"));
	json_array_foreach(groups, i, g) {
		if (!json_is_string(g) || json_string_length(g) > ACL_NAME_MAX) {
			return -1;
		}
		memcpy(u->groups[u->ngroups++], json_string_value(g), json_string_length(g) + 1);
	}
	if (!json_is_null(th) &&
	    (!store_field_str(rec, "tokenHash", u->token_hash, sizeof(u->token_hash)) ||
	     strlen(u->token_hash) != 64)) {
		return -1;
	}
	if (otp != NULL) {
		if (!store_field_str(otp, "seedId", u->otp.seed_id, sizeof(u->otp.seed_id)) ||
		    strlen(u->otp.seed_id) != 2 * HSM_ID_LEN ||
		    !get_int(otp, "enrolledAt", &u->otp.enrolled_at) ||
		    !get_int(otp, "lastStep", &u->otp.last_step) ||
		    !get_int(otp, "failures", &failures) || failures < 0 || failures > 1000000 ||
		    !get_int(otp, "lockedUntil", &u->otp.locked_until)) {
			return -1;
		}
		u->otp.failures = (int)failures;
		u->enrolled = true;
	}
	return 0;
}

int
user_decode(const json_t *rec, struct user_record *u)
{
	memset(u, 0, sizeof(*u));
	if (decode(rec, u) != 0) {
		log_err("user record %s is corrupt",
			json_string_value(json_object_get(rec, "name")) ?: "?");
		memset(u, 0, sizeof(*u));
		return SIGNET_EINTERNAL;
	}
	return 0;
}

json_t *
user_encode(const struct user_record *u)
{
	json_t *groups = json_array(), *rec;

	for (size_t i = 0; groups != NULL && i < u->ngroups; i++) {
		if (json_array_append_new(groups, json_string(u->groups[i])) != 0) {
			json_decref(groups);
			return NULL;
		}
	}
	if (groups == NULL) {
		return NULL;
	}
	rec = json_pack("{s:s, s:s, s:o, s:b, s:b, s:I, s:o, s:I}", "name", u->name, "tenant",
			u->tenant, "groups", groups, "client", u->client, "admin", u->admin,
			"created", (json_int_t)u->created, "tokenHash",
			u->token_hash[0] != '\0' ? json_string(u->token_hash) : json_null(),
			"tokenCreated", (json_int_t)u->token_created);
	if (rec != NULL && u->enrolled &&
	    json_object_set_new(rec, "otp",
				json_pack("{s:s, s:I, s:I, s:i, s:I}", "seedId", u->otp.seed_id,
					  "enrolledAt", (json_int_t)u->otp.enrolled_at, "lastStep",
					  (json_int_t)u->otp.last_step, "failures", u->otp.failures,
					  "lockedUntil", (json_int_t)u->otp.locked_until)) != 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static int
decode_cb(const json_t *rec, void *out)
{
	return user_decode(rec, out);
}

int
user_read(struct store_txn *t, const char *tenant, const char *name, struct user_record *u)
{
	memset(u, 0, sizeof(*u));
	return store_read_record(t, STORE_DB_USERS, tenant, name, decode_cb, u);
}

void
user_write(struct store_txn *t, const struct user_record *u, bool nooverwrite)
{
	store_write_record(t, STORE_DB_USERS, u->tenant, u->name, user_encode(u), nooverwrite);
}

int
user_seed_id(const struct user_record *u, uint8_t id[HSM_ID_LEN])
{
	return u->enrolled && hex_decode(u->otp.seed_id, id, HSM_ID_LEN) ? 0 : -1;
}

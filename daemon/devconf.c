/* SPDX-License-Identifier: Apache-2.0 */
/* The device configuration record: decoded once, encoded once (devconf.h has its layout). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/devconf.h"
#include "daemon/keyref.h"
#include "hsm/hsm.h"
#include "lib/error.h"
#include "lib/log.h"
#include "policy/approval.h"

static const char *const subject_kind[DEVCONF_SUBJECT_KINDS] = {"USE", "APPROVE"};

static int
decode_enc(const json_t *e, struct devconf_enc *k)
{
	char type[16];

	if (!store_field_str(e, "type", type, sizeof(type))) {
		return -1;
	}
	if (strcmp(type, "TOKEN_KEY") == 0) {
		k->type = DEVCONF_ENC_TOKEN_KEY;
		return store_field_str(e, "label", k->label, sizeof(k->label)) &&
			       store_field_str(e, "algorithm", k->algorithm, sizeof(k->algorithm))
			   ? 0
			   : -1;
	}
	if (strcmp(type, "CERTIFICATE") == 0) {
		const char *pem = json_string_value(json_object_get(e, "certificatePem"));
		k->type = DEVCONF_ENC_CERTIFICATE;
		if (pem == NULL || !store_field_str(e, "subject", k->subject, sizeof(k->subject)) ||
		    !store_field_str(e, "sha256", k->sha256, sizeof(k->sha256)) ||
		    (k->certificate_pem = strdup(pem)) == NULL) {
			return -1;
		}
		return 0;
	}
	return -1;
}

static int
decode(const json_t *rec, struct devconf *dc)
{
	const json_t *ap = json_object_get(rec, "approval");
	const json_t *subjects = json_object_get(rec, "subjects");
	const json_t *a, *e, *fe, *pk;
	size_t i;

	if (!json_is_object(rec) || !store_field_str(rec, "id", dc->id, sizeof(dc->id)) ||
	    !store_field_str(rec, "tenant", dc->tenant, sizeof(dc->tenant)) ||
	    !store_field_str(rec, "name", dc->name, sizeof(dc->name)) ||
	    !store_field_str(rec, "packaging", dc->packaging, sizeof(dc->packaging)) ||
	    !store_field_str(rec, "createdBy", dc->created_by, sizeof(dc->created_by)) ||
	    !json_is_boolean(json_object_get(rec, "enabled")) ||
	    !json_is_integer(json_object_get(rec, "createdAt"))) {
		return -1;
	}
	if (devconf_set_description(dc, json_string_value(json_object_get(rec, "description"))
					    ?: "") != 0) {
		return -1;
	}
	dc->enabled = json_is_true(json_object_get(rec, "enabled"));
	dc->created_at = json_integer_value(json_object_get(rec, "createdAt"));
	if (json_object_get(rec, "updatedAt") != NULL) {
		if (!json_is_integer(json_object_get(rec, "updatedAt")) ||
		    !store_field_str(rec, "updatedBy", dc->updated_by, sizeof(dc->updated_by))) {
			return -1;
		}
		dc->updated_at = json_integer_value(json_object_get(rec, "updatedAt"));
	}
	a = json_object_get(rec, "signingKeys");
	if (!json_is_array(a) || json_array_size(a) > DEVCONF_KEYS_MAX) {
		return -1;
	}
	json_array_foreach(a, i, e) {
		if (!json_is_string(e) || json_string_length(e) > DEVCONF_LABEL_MAX) {
			return -1;
		}
		memcpy(dc->sign_keys[dc->nsign++], json_string_value(e), json_string_length(e) + 1);
	}
	pk = json_object_get(rec, "packagingKey");
	if (pk != NULL && !json_is_null(pk) &&
	    !store_field_str(rec, "packagingKey", dc->packaging_key, sizeof(dc->packaging_key))) {
		return -1;
	}
	a = json_object_get(rec, "encryptionKeys");
	if (!json_is_array(a) || json_array_size(a) > DEVCONF_KEYS_MAX + 1) {
		return -1;
	}
	json_array_foreach(a, i, e) {
		if (decode_enc(e, &dc->enc[dc->nenc++]) != 0) {
			return -1;
		}
	}
	if (json_object_get(rec, "cipher") != NULL &&
	    !store_field_str(rec, "cipher", dc->cipher, sizeof(dc->cipher))) {
		return -1;
	}
	if ((a = json_object_get(rec, "allowedSchemes")) != NULL) {
		enum hsm_scheme sc;
		if (!json_is_array(a)) {
			return -1;
		}
		dc->schemes_set = true;
		json_array_foreach(a, i, e) {
			if (hsm_scheme_parse(json_string_value(e), &sc) != 0) {
				return -1;
			}
			dc->schemes |= 1u << sc;
		}
	}
	fe = json_object_get(ap, "fourEyes");
	if (!json_is_object(ap) || (!json_is_null(fe) && !json_is_boolean(fe)) ||
	    !json_is_integer(json_object_get(ap, "quorum")) ||
	    !store_field_str(ap, "secondFactor", dc->approval.second_factor,
			     sizeof(dc->approval.second_factor))) {
		return -1;
	}
	dc->approval.four_eyes = json_is_boolean(fe) ? json_is_true(fe) : -1;
	dc->approval.quorum = (int)json_integer_value(json_object_get(ap, "quorum"));
	if (!json_is_object(subjects)) {
		return -1;
	}
	for (int k = 0; k < DEVCONF_SUBJECT_KINDS; k++) {
		a = json_object_get(subjects, subject_kind[k]);
		if (a == NULL) {
			continue;
		}
		if (!json_is_array(a) || json_array_size(a) > DEVCONF_SUBJECTS_MAX) {
			return -1;
		}
		json_array_foreach(a, i, e) {
			if (!json_is_string(e) || json_string_length(e) >= ACL_SUBJECT_MAX) {
				return -1;
			}
			memcpy(dc->subjects[k][dc->nsubjects[k]++], json_string_value(e),
			       json_string_length(e) + 1);
		}
	}
	return 0;
}

int
devconf_decode(const json_t *rec, struct devconf *dc)
{
	devconf_clear(dc);
	if (decode(rec, dc) != 0) {
		log_err("device configuration record %s is corrupt",
			json_string_value(json_object_get(rec, "id")) ?: "?");
		devconf_clear(dc);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

static json_t *
encode_enc(const struct devconf_enc *k)
{
	if (k->type == DEVCONF_ENC_TOKEN_KEY) {
		return json_pack("{s:s, s:s, s:s}", "type", "TOKEN_KEY", "label", k->label,
				 "algorithm", k->algorithm);
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "CERTIFICATE", "certificatePem",
			 k->certificate_pem != NULL ? k->certificate_pem : "", "subject",
			 k->subject, "sha256", k->sha256);
}

/* A JSON array of N strings of STRIDE bytes from BASE. */
static json_t *
str_array(const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, json_string(base + i * stride)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *
devconf_encode(const struct devconf *dc)
{
	json_t *rec, *enc = json_array(), *subjects = json_object();
	int bad = enc == NULL || subjects == NULL;

	for (size_t i = 0; !bad && i < dc->nenc; i++) {
		bad = json_array_append_new(enc, encode_enc(&dc->enc[i])) != 0;
	}
	for (int k = 0; !bad && k < DEVCONF_SUBJECT_KINDS; k++) {
		bad = json_object_set_new(subjects, subject_kind[k],
					  str_array(dc->subjects[k][0], sizeof(dc->subjects[k][0]),
						    dc->nsubjects[k])) != 0;
	}
	if (bad) {
		json_decref(enc);
		json_decref(subjects);
		return NULL;
	}
	rec = json_pack(
	    "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:{s:o, s:i, s:s}, s:o, s:b, "
	    "s:I, s:s}",
	    "id", dc->id, "tenant", dc->tenant, "name", dc->name, "description",
	    dc->description != NULL ? dc->description : "", "signingKeys",
	    str_array(dc->sign_keys[0], sizeof(dc->sign_keys[0]), dc->nsign), "packagingKey",
	    dc->packaging_key[0] != '\0' ? json_string(dc->packaging_key) : json_null(),
	    "encryptionKeys", enc, "packaging", dc->packaging, "approval", "fourEyes",
	    dc->approval.four_eyes < 0 ? json_null() : json_boolean(dc->approval.four_eyes),
	    "quorum", dc->approval.quorum, "secondFactor", dc->approval.second_factor, "subjects",
	    subjects, "enabled", dc->enabled, "createdAt", (json_int_t)dc->created_at, "createdBy",
	    dc->created_by);
	if (rec == NULL) {
		return NULL;
	}
	if ((dc->cipher[0] != '\0' &&
	     json_object_set_new(rec, "cipher", json_string(dc->cipher)) != 0) ||
	    (dc->updated_at != 0 &&
	     (json_object_set_new(rec, "updatedAt", json_integer(dc->updated_at)) != 0 ||
	      json_object_set_new(rec, "updatedBy", json_string(dc->updated_by)) != 0))) {
		json_decref(rec);
		return NULL;
	}
	if (dc->schemes_set) {
		json_t *list = json_array();
		for (int k = 0; list != NULL && k < HSM_SCHEME_COUNT; k++) {
			if (dc->schemes & (1u << k)) {
				json_array_append_new(
				    list, json_string(hsm_scheme_name((enum hsm_scheme)k)));
			}
		}
		if (list == NULL || json_object_set_new(rec, "allowedSchemes", list) != 0) {
			json_decref(rec);
			return NULL;
		}
	}
	return rec;
}

void
devconf_clear(struct devconf *dc)
{
	for (size_t i = 0; i < dc->nenc && i < DEVCONF_KEYS_MAX + 1; i++) {
		free(dc->enc[i].certificate_pem);
	}
	free(dc->description);
	memset(dc, 0, sizeof(*dc));
}

int
devconf_set_description(struct devconf *dc, const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		return SIGNET_EINTERNAL;
	}
	free(dc->description);
	dc->description = d;
	return 0;
}

static int
decode_cb(const json_t *rec, void *out)
{
	return devconf_decode(rec, out);
}

int
devconf_read(struct store_txn *t, const char *tenant, const char *id, struct devconf *dc)
{
	devconf_clear(dc);
	return store_read_record(t, STORE_DB_DEVCONFS, tenant, id, decode_cb, dc);
}

enum key_uses_op { KU_ADD, KU_DEL, KU_CHECK };

/* Put, delete or check (counting those missing into *MISSING) DC's entries in STORE_DB_KEY_USES:
 * one per signing key and the packaging key, whether DC is enabled or not (readers decide); how
 * many distinct entries DC has. */
static size_t
key_uses_set(struct store_txn *t, const struct devconf *dc, enum key_uses_op op, size_t *missing)
{
	const char *labels[DEVCONF_KEYS_MAX + 1];
	size_t n = 0;

	for (size_t i = 0; i < dc->nsign && i < DEVCONF_KEYS_MAX; i++) {
		labels[n++] = dc->sign_keys[i];
	}
	if (dc->packaging_key[0] != '\0') {
		labels[n++] = dc->packaging_key;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[i], labels[j]) == 0) { /* one entry per key */
				labels[i--] = labels[--n];
				break;
			}
		}
	}
	for (size_t i = 0; i < n && t->err == 0; i++) {
		const char *parts[3] = {dc->tenant, labels[i], dc->id};
		char key[DEVCONF_KEY_USE_MAX];
		size_t klen = store_keyv(key, sizeof(key), parts, 3);

		if (klen == 0) {
			t->err = SIGNET_EINTERNAL;
		} else if (op == KU_CHECK) {
			*missing += !store_exists(t, STORE_DB_KEY_USES, key, klen);
		} else if (op == KU_DEL) {
			if (store_exists(t, STORE_DB_KEY_USES, key, klen)) {
				store_del(t, STORE_DB_KEY_USES, key, klen);
			}
		} else {
			json_t *none = json_object();
			if (none == NULL) {
				t->err = SIGNET_EINTERNAL;
			} else {
				store_put_json(t, STORE_DB_KEY_USES, key, klen, none, false);
				json_decref(none);
			}
		}
	}
	return n;
}

void
devconf_write(struct store_txn *t, const struct devconf *dc, bool nooverwrite)
{
	if (!nooverwrite && t->err == 0) {
		/* The keys the record named until now lose their entries (an entry may name a key the
		 * new record names again: deleted, then put back). An old record that does not parse
		 * reads as absent and keeps its entries: harmless, since every reader checks that the
		 * configuration still names the key, and the next start's check drops them. */
		struct devconf *old = calloc(1, sizeof(*old));
		int rc;

		if (old == NULL) {
			t->err = SIGNET_EINTERNAL;
			return;
		}
		rc = devconf_read(t, dc->tenant, dc->id, old);
		if (rc == 0) {
			key_uses_set(t, old, KU_DEL, NULL);
		} else if (rc != SIGNET_ENOTFOUND && t->err == 0) {
			t->err = rc;
		}
		devconf_clear(old);
		free(old);
	}
	store_write_record(t, STORE_DB_DEVCONFS, dc->tenant, dc->id, devconf_encode(dc),
			   nooverwrite);
	key_uses_set(t, dc, KU_ADD, NULL);
}

struct key_uses_scan {
	struct store_txn *t;
	const char *tenant;
	size_t plen; /* of the prefix tenant \0 label \0 */
	struct devconf dc;
	const struct devconf *known;
	int (*fn)(const struct devconf *dc, void *arg);
	void *arg;
};

static int
key_uses_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct key_uses_scan *s = arg;
	char id[DEVCONF_ID_MAX + 1];
	size_t n = key->len - s->plen;
	int rc;

	(void)val;
	if (key->len <= s->plen || n > DEVCONF_ID_MAX) {
		return SIGNET_EINTERNAL;
	}
	memcpy(id, (const char *)key->data + s->plen, n);
	id[n] = '\0';
	if (s->known != NULL && strcmp(s->known->id, id) == 0) {
		return s->fn(s->known, s->arg); /* read in this transaction already */
	}
	if ((rc = devconf_read(s->t, s->tenant, id, &s->dc)) != 0) {
		/* An entry without its record: the index is rebuilt at start, so never here. */
		log_err("device configuration %s of %s: in the key index but not readable (%s)", id,
			s->tenant, signet_strerror(rc));
		return SIGNET_EINTERNAL;
	}
	return s->fn(&s->dc, s->arg);
}

static int
broken_cb(const struct store_key *key, void *arg)
{
	(void)key;
	(void)arg;
	return SIGNET_ECONFLICT; /* found one: stop */
}

int
devconf_foreach_using(struct store_txn *t, const char *tenant, const char *label,
		      const struct devconf *known, int (*fn)(const struct devconf *dc, void *arg),
		      void *arg)
{
	const char *parts[2] = {tenant, label};
	char prefix[DEVCONF_KEY_USE_MAX];
	size_t plen = store_keyv(prefix, sizeof(prefix), parts, 2);
	struct key_uses_scan *s;
	int rc;

	if (plen == 0 || plen + 1 > sizeof(prefix)) {
		return SIGNET_EINVAL;
	}
	prefix[plen++] = '\0';
	{
		/* tenant \0 \0 ...: a configuration of the tenant that cannot be read (rebuild) */
		size_t tlen = strlen(tenant);
		char bad[ACL_NAME_MAX + 2];

		if (tlen + 2 > sizeof(bad)) {
			return SIGNET_EINVAL;
		}
		memcpy(bad, tenant, tlen + 1);
		bad[tlen + 1] = '\0';
		rc = store_foreach_key(t, STORE_DB_KEY_USES, bad, tlen + 2, broken_cb, NULL);
		if (rc == SIGNET_ECONFLICT) {
			rc = fn(NULL, arg);
		}
		if (rc != 0) {
			return rc == STORE_STOP ? 0 : rc;
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return SIGNET_EINTERNAL;
	}
	*s = (struct key_uses_scan){.t = t,
				    .tenant = tenant,
				    .plen = plen,
				    .known = known != NULL && strcmp(known->tenant, tenant) == 0 ? known
												 : NULL,
				    .fn = fn,
				    .arg = arg};
	rc = store_foreach(t, STORE_DB_KEY_USES, prefix, plen, key_uses_cb, s);
	devconf_clear(&s->dc);
	free(s);
	return rc;
}

struct rebuild {
	struct store_txn *t;
	struct devconf dc;
	bool check;     /* only count what is missing */
	size_t n;       /* configurations indexed */
	size_t entries; /* entries the index should hold */
	size_t missing; /* of those, absent (CHECK) */
};

/*
 * The record under KEY (tenant \0 id) does not parse, does not decode, or names another
 * tenant or id than its key: which keys it guards is unknown, so its tenant gets the marker
 * tenant \0 \0 id (a label is never empty), and its signing fails closed until it is mended,
 * as it did when every signature read every configuration.
 */
static int
rebuild_broken(struct rebuild *x, const struct store_key *key)
{
	const char *tenant = key->data;
	size_t tlen = strnlen(tenant, key->len);
	char k[DEVCONF_KEY_USE_MAX];
	json_t *none;

	if (tlen >= key->len || key->len + 1 > sizeof(k)) {
		return SIGNET_EINTERNAL;
	}
	memcpy(k, key->data, tlen + 1);
	k[tlen + 1] = '\0';
	memcpy(k + tlen + 2, (const char *)key->data + tlen + 1, key->len - tlen - 1);
	x->entries++;
	if (x->check) {
		x->missing += !store_exists(x->t, STORE_DB_KEY_USES, k, key->len + 1);
		return x->t->err;
	}
	log_err("store: a device configuration of tenant %.*s cannot be read: its signing and "
		"packaging tasks are refused until it is mended",
		(int)(tlen < 64 ? tlen : 64), tenant);
	if ((none = json_object()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	store_put_json(x->t, STORE_DB_KEY_USES, k, key->len + 1, none, false);
	json_decref(none);
	return x->t->err;
}

/* Keys only, each value read here: a record that does not parse must not end the walk. */
static int
rebuild_cb(const struct store_key *key, void *arg)
{
	struct rebuild *x = arg;
	json_t *rec = NULL;
	size_t tlen = strnlen(key->data, key->len);
	bool ok;

	if (store_get_json(x->t, STORE_DB_DEVCONFS, key->data, key->len, &rec) != 0) {
		if (x->t->err != 0) {
			return x->t->err;
		}
		return rebuild_broken(x, key);
	}
	ok = devconf_decode(rec, &x->dc) == 0 && tlen < key->len &&
	     strlen(x->dc.tenant) == tlen && memcmp(x->dc.tenant, key->data, tlen) == 0 &&
	     strlen(x->dc.id) == key->len - tlen - 1 &&
	     memcmp(x->dc.id, (const char *)key->data + tlen + 1, key->len - tlen - 1) == 0;
	json_decref(rec);
	if (!ok) {
		return rebuild_broken(x, key);
	}
	x->entries += key_uses_set(x->t, &x->dc, x->check ? KU_CHECK : KU_ADD, &x->missing);
	x->n++;
	return x->t->err;
}

static int
rebuild_txn(struct store_txn *t, void *arg)
{
	struct rebuild *x = arg;

	x->t = t;
	x->n = x->entries = x->missing = 0;
	if (!x->check) {
		while (store_del_first(t, STORE_DB_KEY_USES, 4096) > 0) {
		}
		if (t->err != 0) {
			return t->err;
		}
	}
	return store_foreach_key(t, STORE_DB_DEVCONFS, NULL, 0, rebuild_cb, x);
}

/* In one read transaction: does the index hold exactly the entries the records make? */
static int
check_txn(struct store_txn *t, void *arg)
{
	struct rebuild *x = arg;
	int rc = rebuild_txn(t, x);

	if (rc == 0 && (x->missing > 0 || store_count(t, STORE_DB_KEY_USES) != x->entries)) {
		rc = SIGNET_ECONFLICT;
	}
	return rc != 0 ? rc : t->err;
}

int
devconf_index_rebuild(struct store *st, size_t *count, bool *rebuilt)
{
	struct rebuild *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL) {
		return SIGNET_EINTERNAL;
	}
	/* Written only when it differs, so that a start on a full disk writes nothing. */
	x->check = true;
	rc = store_read(st, check_txn, x);
	*rebuilt = rc == SIGNET_ECONFLICT;
	if (rc == SIGNET_ECONFLICT) {
		x->check = false;
		rc = store_write_reserve(st, rebuild_txn, x);
	}
	if (count != NULL) {
		*count = x->n;
	}
	devconf_clear(&x->dc);
	free(x);
	return rc;
}

unsigned
devconf_schemes(const struct devconf *dc)
{
	return dc->schemes_set ? dc->schemes : HSM_SCHEMES_DEFAULT;
}

bool
devconf_needs_approval(const struct devconf *dc, bool def)
{
	return approval_required(dc->approval.four_eyes >= 0, dc->approval.four_eyes == 1, def);
}

const char *
devconf_key_use(const struct devconf *dc, const char *label)
{
	for (size_t i = 0; i < dc->nsign; i++) {
		if (strcmp(dc->sign_keys[i], label) == 0) {
			return KEY_PURPOSE_SIGNING;
		}
	}
	if (dc->packaging_key[0] != '\0' && strcmp(dc->packaging_key, label) == 0) {
		return KEY_PURPOSE_PACKAGING;
	}
	return NULL;
}

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

void
devconf_write(struct store_txn *t, const struct devconf *dc, bool nooverwrite)
{
	store_write_record(t, STORE_DB_DEVCONFS, dc->tenant, dc->id, devconf_encode(dc),
			   nooverwrite);
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

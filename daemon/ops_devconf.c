/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on device configurations: key references, cipher, approval policy, subjects. Never deleted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/audit.h"
#include "daemon/devconf.h"
#include "daemon/keyref.h"
#include "daemon/ops.h"
#include "daemon/package.h"
#include "daemon/rules.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "hsm/crypt.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

struct devconf_op {
	struct request *r;
	const char *id;    /* update, show, disable */
	struct devconf dc; /* built or changed record */
	bool create;
	bool disable;
};

static bool
args_has(struct request *r, const char *k)
{
	return json_object_get(r->args.obj, k) != NULL;
}

/*
 * Who may change what. Binding keys to a configuration decides which keys
 * its users reach: UPDATE on RESOURCE_TYPE:KEY. Subjects become ACL rules:
 * CREATE (and, when changing them, DELETE) on RESOURCE_TYPE:ACL. Keys and
 * the policy (cipher, packaging, approval) of an existing configuration
 * change only with UPDATE on the whole type; UPDATE on the one
 * configuration covers its name, description and enabled state.
 */
static int
devconf_rights(struct request *r, bool create)
{
	static const char *const keys[] = {"signKeys", "packageKey", "encryptKeys", "encryptCert"};
	static const char *const policy[] = {"cipher", "packaging",    "fourEyes",
					     "quorum", "secondFactor", "allowedSchemes"};
	bool k = false, p = false, subj = args_has(r, "users") || args_has(r, "approvers");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		k = k || args_has(r, keys[i]);
	}
	for (size_t i = 0; i < sizeof(policy) / sizeof(policy[0]); i++) {
		p = p || args_has(r, policy[i]);
	}
	if (k && !policy_allows(&r->subject, ACL_UPDATE, ACL_RT_KEY)) {
		return req_fail(r, SIGNET_EDENIED,
				"binding keys to a device configuration needs UPDATE on "
				"RESOURCE_TYPE:KEY");
	}
	if (!create && (k || p) && !policy_allows(&r->subject, ACL_UPDATE, ACL_RT_DEVICE_CONFIG)) {
		return req_fail(r, SIGNET_EDENIED,
				"changing the keys or the policy of a device configuration needs "
				"UPDATE on RESOURCE_TYPE:DEVICE_CONFIG");
	}
	if (subj && (!policy_allows(&r->subject, ACL_CREATE, ACL_RT_ACL) ||
		     (!create && !policy_allows(&r->subject, ACL_DELETE, ACL_RT_ACL)))) {
		return req_fail(r, SIGNET_EDENIED,
				"setting the users and approvers of a device configuration needs "
				"CREATE%s on RESOURCE_TYPE:ACL",
				create ? "" : " and DELETE");
	}
	return 0;
}

static const char *
purpose_text(const char *purpose)
{
	return strcmp(purpose, KEY_PURPOSE_PACKAGING) == 0
		   ? "signs package headers"
		   : "signs signing tasks (raw and CMS signatures)";
}

/* Another device configuration of the tenant that binds key LABEL (one of ours) to the other
 * purpose. */
struct purpose_scan {
	struct request *r;
	const struct devconf *dc;
	const char *label;
	int err;
};

static int
purpose_scan_cb(const struct devconf *o, void *arg)
{
	struct purpose_scan *x = arg;
	const struct devconf *dc = x->dc;
	const char *mine, *theirs;

	if (o == NULL) {
		/* One of the tenant's configurations cannot be read: which keys it binds is
		 * unknown (logged at start). */
		return SIGNET_EINTERNAL;
	}
	if (strcmp(o->id, dc->id) == 0) {
		return 0;
	}
	mine = devconf_key_use(dc, x->label);
	theirs = devconf_key_use(o, x->label);
	if (mine != NULL && theirs != NULL && strcmp(mine, theirs) != 0) {
		x->err = req_fail(x->r, SIGNET_ECONFLICT,
				  "key '%s' %s for device configuration %s (%s): a key has one "
				  "purpose",
				  x->label, purpose_text(theirs), o->id, o->name);
		return x->err;
	}
	return 0;
}

/* Fix the purpose of key LABEL in its record, or refuse: it was fixed otherwise before. */
static int
key_purpose_mark(struct request *r, struct store_txn *t, const char *id, const char *label,
		 const char *purpose)
{
	char key[160];
	size_t klen = store_key2(key, sizeof(key), r->subject.tenant, label);
	const char *had;
	json_t *rec = NULL;
	int rc = 0;

	if (klen == 0 || store_get_json(t, STORE_DB_KEYS, key, klen, &rec) != 0) {
		return req_fail(r, SIGNET_ENOTFOUND, "no key '%s' in this tenant", label);
	}
	had = json_string_value(json_object_get(rec, "purpose"));
	if (had != NULL && strcmp(had, purpose) != 0) {
		rc =
		    req_fail(r, SIGNET_ECONFLICT,
			     "key '%s' %s since device configuration %s bound it so: a key has "
			     "one purpose, kept for good",
			     label, purpose_text(had),
			     json_string_value(json_object_get(rec, "purposeDeviceConfig")) ?: "?");
	} else if (had == NULL) {
		json_object_set_new(rec, "purpose", json_string(purpose));
		json_object_set_new(rec, "purposeDeviceConfig", json_string(id));
		store_put_json(t, STORE_DB_KEYS, key, klen, rec, false);
		rc = t->err;
	}
	json_decref(rec);
	return rc;
}

/*
 * One key, one purpose (DESIGN §5): a key that signs package headers signs
 * nothing else, and a signing key never signs a header; otherwise a signing
 * task is an oracle for packages nobody approved. Checked when keys are
 * bound: within the record, against every other configuration of the
 * tenant (disabled ones too: they can be enabled again), and against the
 * purpose the key's record keeps from its first binding, which this binding
 * fixes when it has none.
 */
static int
devconf_purposes(struct devconf_op *x, struct store_txn *t)
{
	struct request *r = x->r;
	const char *tenant = r->subject.tenant;
	const struct devconf *dc = &x->dc;
	const char *pk = dc->packaging_key[0] != '\0' ? dc->packaging_key : NULL;
	struct purpose_scan scan = {.r = r, .dc = dc};
	size_t i;
	int rc;

	for (i = 0; pk != NULL && i < dc->nsign; i++) {
		if (strcmp(dc->sign_keys[i], pk) == 0) {
			return req_fail(r, SIGNET_ECONFLICT,
					"key '%s' cannot both sign tasks and package headers for "
					"device configuration %s: a key has one purpose",
					pk, dc->id);
		}
	}
	/* The configurations naming each of our keys (the key index), not all the tenant's. */
	for (i = 0; i <= dc->nsign; i++) {
		scan.label = i < dc->nsign ? dc->sign_keys[i] : pk;
		if (scan.label == NULL) {
			continue;
		}
		rc = devconf_foreach_using(t, tenant, scan.label, NULL, purpose_scan_cb, &scan);
		if (scan.err != 0 || rc != 0) {
			return scan.err != 0 ? scan.err : rc;
		}
	}
	/* Only the keys given are bound now (a packageKey of null binds nothing). */
	for (i = 0; args_has(r, "signKeys") && i < dc->nsign; i++) {
		if ((rc = key_purpose_mark(r, t, dc->id, dc->sign_keys[i], KEY_PURPOSE_SIGNING)) !=
		    0) {
			return rc;
		}
	}
	return pk != NULL && args_has(r, "packageKey")
		   ? key_purpose_mark(r, t, dc->id, pk, KEY_PURPOSE_PACKAGING)
		   : 0;
}

/* Validate and apply the arguments that were given to X's record (which has the current values). */
static int
devconf_apply(struct devconf_op *x, struct store_txn *t)
{
	struct request *r = x->r;
	const char *tenant = r->subject.tenant;
	struct devconf *dc = &x->dc;
	const char *s;
	const json_t *arr;
	char why[200];
	bool b;
	int64_t q;

	if (args_has(r, "name")) {
		if (jargs_name(&r->args, "name", true, &s) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		snprintf(dc->name, sizeof(dc->name), "%s", s);
	}
	if (args_has(r, "description")) {
		if (jargs_str(&r->args, "description", true, DEVCONF_TEXT_MAX, &s) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		if (devconf_set_description(dc, s) != 0) {
			return SIGNET_EINTERNAL;
		}
	}
	if (args_has(r, "signKeys")) {
		size_t i;
		json_t *e;
		if (jargs_name_array(&r->args, "signKeys", true, DEVCONF_KEYS_MAX, &arr) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		json_array_foreach(arr, i, e) {
			struct keyref k;
			int rc = keyref_load(t, tenant, json_string_value(e), &k, why, sizeof(why));
			if (rc == 0 && hsm_alg_is_secret(k.alg)) {
				snprintf(why, sizeof(why), "key '%s' is %s: not a signing key",
					 json_string_value(e), hsm_alg_name(k.alg));
				rc = SIGNET_EINVAL;
			}
			keyref_clear(&k);
			if (rc != 0) {
				return req_fail(r, rc, "%s", why);
			}
		}
		dc->nsign = 0;
		json_array_foreach(arr, i, e) {
			snprintf(dc->sign_keys[dc->nsign++], sizeof(dc->sign_keys[0]), "%s",
				 json_string_value(e));
		}
	}
	if (args_has(r, "packageKey")) {
		if (json_is_null(json_object_get(r->args.obj, "packageKey"))) {
			dc->packaging_key[0] = '\0';
		} else {
			struct keyref k;
			int rc;
			if (jargs_name(&r->args, "packageKey", true, &s) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			rc = keyref_load(t, tenant, s, &k, why, sizeof(why));
			if (rc == 0 && !package_sig_supported(k.alg)) {
				snprintf(why, sizeof(why),
					 "key '%s' is %s: it cannot sign a package header", s,
					 hsm_alg_name(k.alg));
				rc = SIGNET_EINVAL;
			}
			keyref_clear(&k);
			if (rc != 0) {
				return req_fail(r, rc, "%s", why);
			}
			snprintf(dc->packaging_key, sizeof(dc->packaging_key), "%s", s);
		}
	}
	if (args_has(r, "encryptKeys") || args_has(r, "encryptCert")) {
		struct devconf_enc refs[DEVCONF_KEYS_MAX + 1];
		size_t nrefs = 0, i;
		json_t *e;
		memset(refs, 0, sizeof(refs));
		if (args_has(r, "encryptKeys") &&
		    jargs_name_array(&r->args, "encryptKeys", true, DEVCONF_KEYS_MAX, &arr) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		if (args_has(r, "encryptKeys")) {
			json_array_foreach(arr, i, e) {
				struct keyref k;
				int rc = keyref_load(t, tenant, json_string_value(e), &k, why,
						     sizeof(why));
				if (rc == 0 && !hsm_alg_is_secret(k.alg)) {
					snprintf(why, sizeof(why),
						 "key '%s' is %s: encryption takes an AES key or a "
						 "certificate",
						 json_string_value(e), hsm_alg_name(k.alg));
					rc = SIGNET_EINVAL;
				}
				if (rc == 0) {
					struct devconf_enc *ref = &refs[nrefs++];
					ref->type = DEVCONF_ENC_TOKEN_KEY;
					snprintf(ref->label, sizeof(ref->label), "%s",
						 json_string_value(e));
					snprintf(ref->algorithm, sizeof(ref->algorithm), "%s",
						 hsm_alg_name(k.alg));
				}
				keyref_clear(&k);
				if (rc != 0) {
					return req_fail(r, rc, "%s", why);
				}
			}
		}
		if (args_has(r, "encryptCert")) {
			struct devconf_enc *ref = &refs[nrefs];
			BIO *bio;
			X509 *cert;
			EVP_PKEY *pk;
			int id;
			unsigned char md[32];
			if (jargs_str(&r->args, "encryptCert", true, DEVCONF_CERT_MAX, &s) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			bio = BIO_new_mem_buf(s, -1);
			cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
			BIO_free(bio);
			pk = cert != NULL ? X509_get0_pubkey(cert) : NULL;
			id = pk != NULL ? EVP_PKEY_get_base_id(pk) : 0;
			if (cert == NULL || (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)) {
				X509_free(cert);
				return req_fail(
				    r, SIGNET_EINVAL,
				    "encryptCert must be a PEM certificate with an RSA or "
				    "EC key");
			}
			X509_digest(cert, EVP_sha256(), md, NULL);
			hex_encode(md, 32, ref->sha256);
			X509_NAME_oneline(X509_get_subject_name(cert), ref->subject,
					  sizeof(ref->subject));
			X509_free(cert);
			ref->type = DEVCONF_ENC_CERTIFICATE;
			if ((ref->certificate_pem = strdup(s)) == NULL) {
				return SIGNET_EINTERNAL;
			}
			nrefs++;
		}
		for (i = 0; i < dc->nenc; i++) {
			free(dc->enc[i].certificate_pem);
		}
		memcpy(dc->enc, refs, sizeof(refs));
		dc->nenc = nrefs;
	}
	if (args_has(r, "cipher")) {
		enum hsm_cipher c;
		if (jargs_str(&r->args, "cipher", true, 64, &s) != 0 ||
		    hsm_cipher_parse(s, &c) != 0) {
			return req_fail(r, SIGNET_EINVAL,
					"cipher must be one of AES256_CBC_PKCS7_PAD, "
					"AES128_CBC_PKCS7_PAD, AES256_CBC_ZERO_BYTE_PAD, "
					"AES256_ECB_ZERO_BYTE_PAD, AES128_ECB_ZERO_BYTE_PAD, "
					"AES128_CTR_NO_PAD");
		}
		snprintf(dc->cipher, sizeof(dc->cipher), "%s", s);
	}
	if (args_has(r, "allowedSchemes")) {
		/* Which signature schemes its signing tasks may ask for (doc/protocol.md). */
		const json_t *a = json_object_get(r->args.obj, "allowedSchemes");
		enum hsm_scheme sc;
		unsigned mask = 0;
		size_t i;
		json_t *e;
		if (json_is_null(a)) {
			dc->schemes_set = false; /* back to the default */
			dc->schemes = 0;
		} else {
			if (!json_is_array(a) || json_array_size(a) == 0 ||
			    json_array_size(a) > HSM_SCHEME_COUNT) {
				return req_fail(
				    r, SIGNET_EINVAL,
				    "allowedSchemes must be a non-empty list of RSA_PSS, "
				    "RSA_PKCS1_V15, ECDSA, EDDSA (or null: the default)");
			}
			json_array_foreach(a, i, e) {
				if (hsm_scheme_parse(json_string_value(e), &sc) != 0) {
					return req_fail(
					    r, SIGNET_EINVAL,
					    "allowedSchemes: unknown scheme; the schemes are "
					    "RSA_PSS, RSA_PKCS1_V15, ECDSA, EDDSA");
				}
				mask |= 1u << sc;
			}
			dc->schemes_set = true;
			dc->schemes = mask;
		}
	}
	if (args_has(r, "packaging")) {
		if (jargs_str(&r->args, "packaging", true, 64, &s) != 0 ||
		    strcmp(s, "BOSCH_SE_V1") != 0) {
			return req_fail(r, SIGNET_EINVAL, "packaging must be BOSCH_SE_V1");
		}
		snprintf(dc->packaging, sizeof(dc->packaging), "%s", s);
	}
	if (args_has(r, "fourEyes")) {
		if (jargs_bool(&r->args, "fourEyes", true, &b) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		dc->approval.four_eyes = b;
	}
	if (args_has(r, "quorum")) {
		if (jargs_int(&r->args, "quorum", true, 1, 16, &q) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		dc->approval.quorum = (int)q;
	}
	if (args_has(r, "secondFactor")) {
		if (jargs_str(&r->args, "secondFactor", true, 8, &s) != 0 ||
		    (strcmp(s, "TOTP") != 0 && strcmp(s, "NONE") != 0)) {
			return req_fail(r, SIGNET_EINVAL, "secondFactor must be TOTP or NONE");
		}
		snprintf(dc->approval.second_factor, sizeof(dc->approval.second_factor), "%s", s);
	}
	{
		static const char *const which[DEVCONF_SUBJECT_KINDS] = {"users", "approvers"};
		for (int w = 0; w < DEVCONF_SUBJECT_KINDS; w++) {
			size_t i;
			json_t *e;
			if (!args_has(r, which[w])) {
				continue;
			}
			arr = json_object_get(r->args.obj, which[w]);
			if (!json_is_array(arr) || json_array_size(arr) > DEVCONF_SUBJECTS_MAX) {
				return req_fail(r, SIGNET_EINVAL,
						"'%s' must be a list of at most %d subjects",
						which[w], DEVCONF_SUBJECTS_MAX);
			}
			json_array_foreach(arr, i, e) {
				int rc;
				if (!json_is_string(e)) {
					return req_fail(r, SIGNET_EINVAL, "'%s' must hold subjects",
							which[w]);
				}
				if ((rc = ops_check_subject(r, t, json_string_value(e))) != 0) {
					return rc;
				}
			}
			dc->nsubjects[w] = 0;
			json_array_foreach(arr, i, e) {
				snprintf(dc->subjects[w][dc->nsubjects[w]++],
					 sizeof(dc->subjects[w][0]), "%s", json_string_value(e));
			}
		}
	}
	/* The whole must hold together. */
	{
		const struct devconf_enc *enc0 = dc->nenc > 0 ? &dc->enc[0] : NULL;
		const char *alg =
		    enc0 != NULL && enc0->type == DEVCONF_ENC_TOKEN_KEY ? enc0->algorithm : NULL;
		enum hsm_cipher c;
		enum hsm_alg ka;
		if (dc->nsign == 0 && dc->packaging_key[0] == '\0' && dc->nenc == 0) {
			return req_fail(r, SIGNET_EINVAL,
					"a device configuration needs a signing, a packaging or an "
					"encryption key");
		}
		if (dc->cipher[0] == '\0') {
			snprintf(dc->cipher, sizeof(dc->cipher), "%s",
				 alg != NULL && strcmp(alg, "AES_128") == 0
				     ? "AES128_CBC_PKCS7_PAD"
				     : "AES256_CBC_PKCS7_PAD");
		} else if (alg != NULL && hsm_cipher_parse(dc->cipher, &c) == 0 &&
			   hsm_alg_parse(alg, &ka) == 0 && hsm_cipher_key_alg(c) != ka) {
			return req_fail(r, SIGNET_EINVAL, "cipher %s needs an %s key, '%s' is %s",
					dc->cipher, hsm_alg_name(hsm_cipher_key_alg(c)),
					enc0->label, alg);
		}
	}
	if (args_has(r, "signKeys") || args_has(r, "packageKey")) {
		return devconf_purposes(x, t);
	}
	return 0;
}

/* The rules a configuration's subjects stand for: USE or APPROVE, and VIEW, on it. */
static int
devconf_rules(struct store_txn *t, const struct devconf *dc)
{
	static const enum acl_action action[DEVCONF_SUBJECT_KINDS] = {ACL_USE, ACL_APPROVE};
	char res[ACL_RESOURCE_MAX];
	json_t *extra = json_pack("{s:s}", "deviceConfig", dc->id);
	int rc = rules_del_devconf(t, dc->tenant, dc->id);

	snprintf(res, sizeof(res), "DEVICE_CONFIG:%s", dc->id);
	for (int w = 0; w < DEVCONF_SUBJECT_KINDS; w++) {
		for (size_t i = 0; i < dc->nsubjects[w]; i++) {
			const char *subj = dc->subjects[w][i];
			int r1 = rules_put(t, dc->tenant, subj, res, action[w], extra);
			int r2 = rules_put(t, dc->tenant, subj, res, ACL_VIEW, extra);
			if ((r1 != 0 && r1 != SIGNET_ECONFLICT) ||
			    (r2 != 0 && r2 != SIGNET_ECONFLICT)) {
				rc = r1 != 0 && r1 != SIGNET_ECONFLICT ? r1 : r2;
			}
		}
	}
	json_decref(extra);
	return rc != 0 ? rc : t->err;
}

/* Its entry: what matters of the record (not the certificate's PEM). */
static int
devconf_audit(struct store_txn *t, struct request *r, const json_t *rec, const char *verb,
	      const char *message)
{
	char res[ACL_RESOURCE_MAX];
	json_t *v = json_pack(
	    "{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "name", json_object_get(rec, "name"), "enabled",
	    json_object_get(rec, "enabled"), "signingKeys", json_object_get(rec, "signingKeys"),
	    "cipher", json_object_get(rec, "cipher"), "packaging",
	    json_object_get(rec, "packaging"), "approval", json_object_get(rec, "approval"),
	    "subjects", json_object_get(rec, "subjects"));

	if (v != NULL && json_object_get(rec, "allowedSchemes") != NULL) {
		json_object_set(v, "allowedSchemes", json_object_get(rec, "allowedSchemes"));
	}
	if (v != NULL && json_is_string(json_object_get(rec, "packagingKey"))) {
		json_object_set(v, "packagingKey", json_object_get(rec, "packagingKey"));
	}
	int rc;

	snprintf(res, sizeof(res), "DEVICE_CONFIG:%s",
		 json_string_value(json_object_get(rec, "id")));
	rc = audit_req(t, r, verb, res, message, v);
	json_decref(v);
	return rc;
}

/* Write the record and its audit entry (and its rules when SUBJECTS changed). */
static int
devconf_store(struct store_txn *t, struct devconf_op *x, bool create, bool subjects,
	      const char *verb, const char *message)
{
	json_t *rec = devconf_encode(&x->dc);
	int rc;

	if (rec == NULL) {
		return SIGNET_EINTERNAL;
	}
	devconf_write(t, &x->dc, create);
	rc = t->err;
	if (rc == 0 && subjects) {
		rc = devconf_rules(t, &x->dc);
	}
	if (rc == 0) {
		rc = devconf_audit(t, x->r, rec, verb, message);
	}
	json_decref(rec);
	return rc;
}

static int
devconf_create_txn(struct store_txn *t, void *arg)
{
	struct devconf_op *x = arg;
	struct request *r = x->r;
	struct devconf *dc = &x->dc;
	int rc;

	devconf_clear(dc);
	task_new_id(r->subject.tenant, dc->id);
	snprintf(dc->tenant, sizeof(dc->tenant), "%s", r->subject.tenant);
	snprintf(dc->packaging, sizeof(dc->packaging), "BOSCH_SE_V1");
	snprintf(dc->approval.second_factor, sizeof(dc->approval.second_factor), "TOTP");
	snprintf(dc->created_by, sizeof(dc->created_by), "%s", r->subject.user);
	dc->approval.four_eyes = -1;
	dc->approval.quorum = 1;
	dc->enabled = true;
	dc->created_at = time_now();
	if (devconf_set_description(dc, "") != 0) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = devconf_apply(x, t)) != 0) {
		return rc;
	}
	return devconf_store(t, x, true, true, "CREATED", "device configuration created");
}

/* The record as a reply; SIGNET_EINTERNAL when out of memory. */
static int
devconf_result(struct request *r, const struct devconf *dc)
{
	r->result = devconf_encode(dc);
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

int
op_devconf_create(struct request *r)
{
	struct devconf_op x = {.r = r, .create = true};
	int rc;

	if (!args_has(r, "name")) {
		return req_fail(r, SIGNET_EINVAL, "'name' is required");
	}
	if ((rc = devconf_rights(r, true)) != 0) {
		return rc;
	}
	rc = store_write(r->d->store, devconf_create_txn, &x);
	if (rc == 0) {
		log_notice("USER:%s of tenant %s created device configuration %s (%s)",
			   r->subject.user, r->subject.tenant, x.dc.id, x.dc.name);
		rc = devconf_result(r, &x.dc);
	}
	devconf_clear(&x.dc);
	return rc;
}

int
devconf_load(struct request *r, struct store_txn *t, const char *id, struct devconf *dc)
{
	int rc = devconf_read(t, r->subject.tenant, id, dc);

	if (rc == SIGNET_ENOTFOUND) {
		return req_fail(r, SIGNET_ENOTFOUND, "no device configuration '%.64s'", id);
	}
	return rc;
}

static int
devconf_update_txn(struct store_txn *t, void *arg)
{
	struct devconf_op *x = arg;
	struct request *r = x->r;
	bool subjects = args_has(r, "users") || args_has(r, "approvers");
	int rc;

	if ((rc = devconf_load(r, t, x->id, &x->dc)) != 0) {
		return rc;
	}
	if (!policy_allows_on(&r->subject, ACL_UPDATE, ACL_RT_DEVICE_CONFIG, x->id)) {
		return req_fail(r, SIGNET_EDENIED, "%s may not UPDATE DEVICE_CONFIG:%s",
				r->subject.user, x->id);
	}
	if (!x->disable && (rc = devconf_rights(r, false)) != 0) {
		return rc;
	}
	if (x->disable) {
		x->dc.enabled = false;
	} else {
		bool en;
		if ((rc = devconf_apply(x, t)) != 0) {
			return rc;
		}
		if (args_has(r, "enabled")) {
			if (jargs_bool(&r->args, "enabled", true, &en) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			x->dc.enabled = en;
		}
	}
	x->dc.updated_at = time_now();
	snprintf(x->dc.updated_by, sizeof(x->dc.updated_by), "%s", r->subject.user);
	return devconf_store(t, x, false, subjects, "UPDATED",
			     x->disable ? "device configuration disabled"
					: "device configuration updated");
}

static int
devconf_change(struct request *r, bool disable)
{
	struct devconf_op x = {.r = r, .disable = disable};
	int rc;

	if (jargs_str(&r->args, "id", true, TASK_ID_LEN, &x.id) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	rc = store_write(r->d->store, devconf_update_txn, &x);
	if (rc == 0) {
		log_notice("USER:%s of tenant %s %s device configuration %s", r->subject.user,
			   r->subject.tenant, disable ? "disabled" : "updated", x.id);
		rc = devconf_result(r, &x.dc);
	}
	devconf_clear(&x.dc);
	return rc;
}

int
op_devconf_update(struct request *r)
{
	return devconf_change(r, false);
}

int
op_devconf_disable(struct request *r)
{
	return devconf_change(r, true);
}

static int
devconf_show_txn(struct store_txn *t, void *arg)
{
	struct devconf_op *x = arg;
	int rc = devconf_load(x->r, t, x->id, &x->dc);

	if (rc == 0 && !policy_allows_on(&x->r->subject, ACL_VIEW, ACL_RT_DEVICE_CONFIG, x->id)) {
		return req_fail(x->r, SIGNET_EDENIED, "%s may not VIEW DEVICE_CONFIG:%s",
				x->r->subject.user, x->id);
	}
	return rc;
}

int
op_devconf_show(struct request *r)
{
	struct devconf_op x = {.r = r};
	int rc;

	if (jargs_str(&r->args, "id", true, TASK_ID_LEN, &x.id) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if ((rc = store_read(r->d->store, devconf_show_txn, &x)) == 0) {
		rc = devconf_result(r, &x.dc);
	}
	devconf_clear(&x.dc);
	return rc;
}

struct devconf_list {
	struct request *r;
	struct store_page pg;
	struct ops_list out;
	struct devconf dc; /* the record at hand */
};

static int
devconf_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct devconf_list *x = arg;
	json_t *rec;
	int rc;

	(void)key;
	if ((rc = devconf_decode(val, &x->dc)) != 0) {
		return rc;
	}
	if (!policy_allows_on(&x->r->subject, ACL_VIEW, ACL_RT_DEVICE_CONFIG, x->dc.id)) {
		return 0;
	}
	if ((rec = devconf_encode(&x->dc)) == NULL) {
		return SIGNET_EINTERNAL;
	}
	rc = ops_list_append(&x->out, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id",
						json_object_get(rec, "id"), "name",
						json_object_get(rec, "name"), "enabled",
						json_object_get(rec, "enabled"), "signingKeys",
						json_object_get(rec, "signingKeys"), "packagingKey",
						json_object_get(rec, "packagingKey"), "cipher",
						json_object_get(rec, "cipher"), "approval",
						json_object_get(rec, "approval"), "createdAt",
						json_object_get(rec, "createdAt")));
	json_decref(rec);
	return rc;
}

static int
devconf_list_txn(struct store_txn *t, void *arg)
{
	struct devconf_list *x = arg;
	const char *tenant = x->r->subject.tenant;

	return store_foreach_page(t, STORE_DB_DEVCONFS, tenant, strlen(tenant) + 1, &x->pg,
				  devconf_list_cb, x);
}

int
op_devconf_list(struct request *r)
{
	struct devconf_list x = {.r = r};
	int rc;

	if ((rc = ops_page_args(r, &x.pg)) != 0) {
		return rc;
	}
	if ((x.out.items = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	rc = store_read(r->d->store, devconf_list_txn, &x);
	devconf_clear(&x.dc);
	if (rc != 0) {
		json_decref(x.out.items);
		return rc;
	}
	r->result = json_pack("{s:o}", "deviceConfigs", x.out.items);
	return r->result != NULL ? ops_page_result(r->result, &x.pg) : SIGNET_EINTERNAL;
}

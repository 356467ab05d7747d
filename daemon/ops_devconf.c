/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on device configurations: key references, cipher, approval policy, subjects. Never deleted.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/audit.h"
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

#define DEVCONF_KEYS_MAX     8
#define DEVCONF_SUBJECTS_MAX 64
#define DEVCONF_CERT_MAX     (16 * 1024)
#define DEVCONF_TEXT_MAX     1024

struct devconf_op {
	struct request *r;
	const char *id; /* update, show, disable */
	json_t *rec;    /* built or changed record */
	json_t *out;
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
	static const char *const policy[] = {"cipher",	      "packaging",    "fourEyes",
					     "quorum",	      "secondFactor", "allowedSchemes"};
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

/* The record's purpose of key LABEL, or NULL: "SIGNING" among its signing keys, "PACKAGING". */
static const char *
devconf_key_use(const json_t *rec, const char *label)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(rec, "signingKeys"), i, e) {
		if (strcmp(json_string_value(e) ?: "", label) == 0) {
			return KEY_PURPOSE_SIGNING;
		}
	}
	if (strcmp(json_string_value(json_object_get(rec, "packagingKey")) ?: "", label) == 0) {
		return KEY_PURPOSE_PACKAGING;
	}
	return NULL;
}

static const char *
purpose_text(const char *purpose)
{
	return strcmp(purpose, KEY_PURPOSE_PACKAGING) == 0
		   ? "signs package headers"
		   : "signs signing tasks (raw and CMS signatures)";
}

/* Another device configuration of the tenant that binds one of our keys to the other purpose. */
struct purpose_scan {
	struct request *r;
	const json_t *rec;
	int err;
};

static int
purpose_scan_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct purpose_scan *x = arg;
	const char *id = json_string_value(json_object_get(x->rec, "id"));
	const char *other = json_string_value(json_object_get(val, "id"));
	const char *labels[DEVCONF_KEYS_MAX + 1];
	size_t n = 0, i;
	json_t *e;

	if (other == NULL || strcmp(other, id) == 0) {
		return 0;
	}
	json_array_foreach(json_object_get(x->rec, "signingKeys"), i, e) {
		if (n < DEVCONF_KEYS_MAX) {
			labels[n++] = json_string_value(e);
		}
	}
	if (json_is_string(json_object_get(x->rec, "packagingKey"))) {
		labels[n++] = json_string_value(json_object_get(x->rec, "packagingKey"));
	}
	for (i = 0; i < n; i++) {
		const char *mine = devconf_key_use(x->rec, labels[i]);
		const char *theirs = devconf_key_use(val, labels[i]);
		if (mine != NULL && theirs != NULL && strcmp(mine, theirs) != 0) {
			x->err = req_fail(x->r, SIGNET_ECONFLICT,
					  "key '%s' %s for device configuration %s (%s): a key has "
					  "one purpose",
					  labels[i], purpose_text(theirs), other,
					  json_string_value(json_object_get(val, "name")) ?: "");
			return x->err;
		}
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
	const char *id = json_string_value(json_object_get(x->rec, "id"));
	const char *pk = json_string_value(json_object_get(x->rec, "packagingKey"));
	struct purpose_scan scan = {r, x->rec, 0};
	size_t i;
	json_t *e;
	int rc;

	if (pk != NULL) {
		json_array_foreach(json_object_get(x->rec, "signingKeys"), i, e) {
			if (strcmp(json_string_value(e) ?: "", pk) == 0) {
				return req_fail(r, SIGNET_ECONFLICT,
						"key '%s' cannot both sign tasks and package "
						"headers for device configuration %s: a key has "
						"one purpose",
						pk, id);
			}
		}
	}
	rc =
	    store_foreach(t, STORE_DB_DEVCONFS, tenant, strlen(tenant) + 1, purpose_scan_cb, &scan);
	if (scan.err != 0 || rc != 0) {
		return scan.err != 0 ? scan.err : rc;
	}
	/* Only the keys given are bound now (a packageKey of null binds nothing). */
	json_array_foreach(json_object_get(x->rec, "signingKeys"), i, e) {
		if (args_has(r, "signKeys") &&
		    (rc = key_purpose_mark(r, t, id, json_string_value(e), KEY_PURPOSE_SIGNING)) !=
			0) {
			return rc;
		}
	}
	return pk != NULL && args_has(r, "packageKey")
		   ? key_purpose_mark(r, t, id, pk, KEY_PURPOSE_PACKAGING)
		   : 0;
}

/* Validate and apply the arguments that were given to REC (which has the current values). */
static int
devconf_apply(struct devconf_op *x, struct store_txn *t)
{
	struct request *r = x->r;
	const char *tenant = r->subject.tenant;
	json_t *rec = x->rec;
	const char *s;
	const json_t *arr;
	char why[200];
	bool b;
	int64_t q;

	if (args_has(r, "name")) {
		if (jargs_name(&r->args, "name", true, &s) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		json_object_set_new(rec, "name", json_string(s));
	}
	if (args_has(r, "description")) {
		if (jargs_str(&r->args, "description", true, DEVCONF_TEXT_MAX, &s) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		json_object_set_new(rec, "description", json_string(s));
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
		json_object_set(rec, "signingKeys", (json_t *)arr);
	}
	if (args_has(r, "packageKey")) {
		if (json_is_null(json_object_get(r->args.obj, "packageKey"))) {
			json_object_set_new(rec, "packagingKey", json_null());
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
			json_object_set_new(rec, "packagingKey", json_string(s));
		}
	}
	if (args_has(r, "encryptKeys") || args_has(r, "encryptCert")) {
		json_t *refs = json_array();
		size_t i;
		json_t *e;
		if (args_has(r, "encryptKeys") &&
		    jargs_name_array(&r->args, "encryptKeys", true, DEVCONF_KEYS_MAX, &arr) != 0) {
			json_decref(refs);
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
					json_array_append_new(
					    refs, json_pack("{s:s, s:s, s:s}", "type", "TOKEN_KEY",
							    "label", json_string_value(e),
							    "algorithm", hsm_alg_name(k.alg)));
				}
				keyref_clear(&k);
				if (rc != 0) {
					json_decref(refs);
					return req_fail(r, rc, "%s", why);
				}
			}
		}
		if (args_has(r, "encryptCert")) {
			BIO *bio;
			X509 *cert;
			EVP_PKEY *pk;
			int id;
			unsigned char md[32];
			char hex[65], subj[256];
			if (jargs_str(&r->args, "encryptCert", true, DEVCONF_CERT_MAX, &s) != 0) {
				json_decref(refs);
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			bio = BIO_new_mem_buf(s, -1);
			cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
			BIO_free(bio);
			pk = cert != NULL ? X509_get0_pubkey(cert) : NULL;
			id = pk != NULL ? EVP_PKEY_get_base_id(pk) : 0;
			if (cert == NULL || (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)) {
				X509_free(cert);
				json_decref(refs);
				return req_fail(
				    r, SIGNET_EINVAL,
				    "encryptCert must be a PEM certificate with an RSA or "
				    "EC key");
			}
			X509_digest(cert, EVP_sha256(), md, NULL);
			hex_encode(md, 32, hex);
			X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
			X509_free(cert);
			json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s}", "type",
							      "CERTIFICATE", "certificatePem", s,
							      "subject", subj, "sha256", hex));
		}
		json_object_set_new(rec, "encryptionKeys", refs);
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
		json_object_set_new(rec, "cipher", json_string(s));
	}
	if (args_has(r, "allowedSchemes")) {
		/* Which signature schemes its signing tasks may ask for (doc/protocol.md). */
		const json_t *a = json_object_get(r->args.obj, "allowedSchemes");
		enum hsm_scheme sc;
		size_t i;
		json_t *e, *list;
		if (json_is_null(a)) {
			json_object_del(rec, "allowedSchemes"); /* back to the default */
		} else {
			if (!json_is_array(a) || json_array_size(a) == 0 ||
			    json_array_size(a) > HSM_SCHEME_COUNT) {
				return req_fail(r, SIGNET_EINVAL,
						"allowedSchemes must be a non-empty list of RSA_PSS, "
						"RSA_PKCS1_V15, ECDSA, EDDSA (or null: the default)");
			}
			list = json_array();
			for (int k = 0; k < HSM_SCHEME_COUNT; k++) {
				bool named = false;
				json_array_foreach(a, i, e) {
					if (hsm_scheme_parse(json_string_value(e), &sc) != 0) {
						json_decref(list);
						return req_fail(r, SIGNET_EINVAL,
								"allowedSchemes: unknown scheme; the "
								"schemes are RSA_PSS, RSA_PKCS1_V15, "
								"ECDSA, EDDSA");
					}
					named = named || (int)sc == k;
				}
				if (named) {
					json_array_append_new(
					    list, json_string(hsm_scheme_name((enum hsm_scheme)k)));
				}
			}
			json_object_set_new(rec, "allowedSchemes", list);
		}
	}
	if (args_has(r, "packaging")) {
		if (jargs_str(&r->args, "packaging", true, 64, &s) != 0 ||
		    strcmp(s, "BOSCH_SE_V1") != 0) {
			return req_fail(r, SIGNET_EINVAL, "packaging must be BOSCH_SE_V1");
		}
		json_object_set_new(rec, "packaging", json_string(s));
	}
	{
		json_t *ap = json_object_get(rec, "approval");
		if (args_has(r, "fourEyes")) {
			if (jargs_bool(&r->args, "fourEyes", true, &b) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			json_object_set_new(ap, "fourEyes", json_boolean(b));
		}
		if (args_has(r, "quorum")) {
			if (jargs_int(&r->args, "quorum", true, 1, 16, &q) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			json_object_set_new(ap, "quorum", json_integer(q));
		}
		if (args_has(r, "secondFactor")) {
			if (jargs_str(&r->args, "secondFactor", true, 8, &s) != 0 ||
			    (strcmp(s, "TOTP") != 0 && strcmp(s, "NONE") != 0)) {
				return req_fail(r, SIGNET_EINVAL,
						"secondFactor must be TOTP or NONE");
			}
			json_object_set_new(ap, "secondFactor", json_string(s));
		}
	}
	{
		static const char *const which[] = {"users", "approvers"};
		static const char *const action[] = {"USE", "APPROVE"};
		json_t *subjects = json_object_get(rec, "subjects");
		for (int w = 0; w < 2; w++) {
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
			json_object_set(subjects, action[w], (json_t *)arr);
		}
	}
	/* The whole must hold together. */
	{
		json_t *enc0 = json_array_get(json_object_get(rec, "encryptionKeys"), 0);
		const char *alg = json_string_value(json_object_get(enc0, "algorithm"));
		const char *cipher = json_string_value(json_object_get(rec, "cipher"));
		enum hsm_cipher c;
		enum hsm_alg ka;
		if (json_array_size(json_object_get(rec, "signingKeys")) == 0 &&
		    !json_is_string(json_object_get(rec, "packagingKey")) &&
		    json_array_size(json_object_get(rec, "encryptionKeys")) == 0) {
			return req_fail(r, SIGNET_EINVAL,
					"a device configuration needs a signing, a packaging or an "
					"encryption key");
		}
		if (cipher == NULL && alg != NULL) {
			cipher = strcmp(alg, "AES_128") == 0 ? "AES128_CBC_PKCS7_PAD"
							     : "AES256_CBC_PKCS7_PAD";
			json_object_set_new(rec, "cipher", json_string(cipher));
		}
		if (cipher == NULL) {
			json_object_set_new(rec, "cipher", json_string("AES256_CBC_PKCS7_PAD"));
		} else if (alg != NULL && hsm_cipher_parse(cipher, &c) == 0 &&
			   hsm_alg_parse(alg, &ka) == 0 && hsm_cipher_key_alg(c) != ka) {
			return req_fail(r, SIGNET_EINVAL, "cipher %s needs an %s key, '%s' is %s",
					cipher, hsm_alg_name(hsm_cipher_key_alg(c)),
					json_string_value(json_object_get(enc0, "label")), alg);
		}
	}
	if (args_has(r, "signKeys") || args_has(r, "packageKey")) {
		return devconf_purposes(x, t);
	}
	return 0;
}

/* The rules a configuration's subjects stand for: USE or APPROVE, and VIEW, on it. */
static int
devconf_rules(struct store_txn *t, const char *tenant, const json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const json_t *subjects = json_object_get(rec, "subjects");
	char res[ACL_RESOURCE_MAX];
	json_t *extra = json_pack("{s:s}", "deviceConfig", id);
	const char *action_name;
	json_t *list;
	int rc = rules_del_devconf(t, tenant, id);

	snprintf(res, sizeof(res), "DEVICE_CONFIG:%s", id);
	json_object_foreach((json_t *)subjects, action_name, list) {
		enum acl_action a;
		size_t i;
		json_t *e;
		if (acl_action_parse(action_name, &a) != 0) {
			continue;
		}
		json_array_foreach(list, i, e) {
			const char *subj = json_string_value(e);
			int r1 = rules_put(t, tenant, subj, res, a, extra);
			int r2 = rules_put(t, tenant, subj, res, ACL_VIEW, extra);
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

static int
devconf_create_txn(struct store_txn *t, void *arg)
{
	struct devconf_op *x = arg;
	struct request *r = x->r;
	char id[TASK_ID_LEN + 1], key[160];
	size_t klen;
	int rc;

	json_decref(x->rec);
	task_new_id(id);
	x->rec = json_pack("{s:s, s:s, s:s, s:s, s:[], s:n, s:[], s:n, s:s, s:{s:n, s:i, s:s}, "
			   "s:{s:[], s:[]}, s:b, s:I, s:s}",
			   "id", id, "tenant", r->subject.tenant, "name", "", "description", "",
			   "signingKeys", "packagingKey", "encryptionKeys", "cipher", "packaging",
			   "BOSCH_SE_V1", "approval", "fourEyes", "quorum", 1, "secondFactor",
			   "TOTP", "subjects", "USE", "APPROVE", "enabled", 1, "createdAt",
			   (json_int_t)time_now(), "createdBy", r->subject.user);
	if (x->rec == NULL) {
		return SIGNET_EINTERNAL;
	}
	json_object_del(x->rec, "cipher");
	if ((rc = devconf_apply(x, t)) != 0) {
		return rc;
	}
	klen = store_key2(key, sizeof(key), r->subject.tenant, id);
	store_put_json(t, STORE_DB_DEVCONFS, key, klen, x->rec, true);
	if ((rc = devconf_rules(t, r->subject.tenant, x->rec)) != 0) {
		return rc;
	}
	return devconf_audit(t, r, x->rec, "CREATED", "device configuration created");
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
			   r->subject.user, r->subject.tenant,
			   json_string_value(json_object_get(x.rec, "id")),
			   json_string_value(json_object_get(x.rec, "name")));
		r->result = json_incref(x.rec);
	}
	json_decref(x.rec);
	return rc;
}

/* Load a device configuration of the caller's tenant, or fail not_found. */
int
devconf_load(struct request *r, struct store_txn *t, const char *id, json_t **out)
{
	char key[160];
	size_t klen = store_key2(key, sizeof(key), r->subject.tenant, id);

	*out = NULL;
	if (klen == 0 || store_get_json(t, STORE_DB_DEVCONFS, key, klen, out) != 0) {
		return req_fail(r, SIGNET_ENOTFOUND, "no device configuration '%.64s'", id);
	}
	return 0;
}

static int
devconf_update_txn(struct store_txn *t, void *arg)
{
	struct devconf_op *x = arg;
	struct request *r = x->r;
	char key[160];
	size_t klen = store_key2(key, sizeof(key), r->subject.tenant, x->id);
	bool subjects = args_has(r, "users") || args_has(r, "approvers");
	int rc;

	json_decref(x->rec);
	x->rec = NULL;
	if ((rc = devconf_load(r, t, x->id, &x->rec)) != 0) {
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
		json_object_set_new(x->rec, "enabled", json_false());
	} else {
		bool en;
		if ((rc = devconf_apply(x, t)) != 0) {
			return rc;
		}
		if (args_has(r, "enabled")) {
			if (jargs_bool(&r->args, "enabled", true, &en) != 0) {
				return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
			}
			json_object_set_new(x->rec, "enabled", json_boolean(en));
		}
	}
	json_object_set_new(x->rec, "updatedAt", json_integer(time_now()));
	json_object_set_new(x->rec, "updatedBy", json_string(r->subject.user));
	store_put_json(t, STORE_DB_DEVCONFS, key, klen, x->rec, false);
	if (subjects && (rc = devconf_rules(t, r->subject.tenant, x->rec)) != 0) {
		return rc;
	}
	return devconf_audit(t, r, x->rec, "UPDATED",
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
		r->result = json_incref(x.rec);
	}
	json_decref(x.rec);
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
	int rc = devconf_load(x->r, t, x->id, &x->rec);

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
		r->result = json_incref(x.rec);
	}
	json_decref(x.rec);
	return rc;
}

struct devconf_list {
	struct request *r;
	struct store_page pg;
	struct ops_list out;
};

static int
devconf_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct devconf_list *x = arg;
	const char *id = json_string_value(json_object_get(val, "id"));

	if (!policy_allows_on(&x->r->subject, ACL_VIEW, ACL_RT_DEVICE_CONFIG, id)) {
		return 0;
	}
	return ops_list_append(
	    &x->out,
	    json_pack("{s:O, s:O, s:O, s:O, s:o, s:O, s:O, s:O}", "id", json_object_get(val, "id"),
		      "name", json_object_get(val, "name"), "enabled",
		      json_object_get(val, "enabled"), "signingKeys",
		      json_object_get(val, "signingKeys"), "packagingKey",
		      json_incref(json_object_get(val, "packagingKey") ?: json_null()), "cipher",
		      json_object_get(val, "cipher"), "approval", json_object_get(val, "approval"),
		      "createdAt", json_object_get(val, "createdAt")));
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
	if ((rc = store_read(r->d->store, devconf_list_txn, &x)) != 0) {
		json_decref(x.out.items);
		return rc;
	}
	r->result = json_pack("{s:o}", "deviceConfigs", x.out.items);
	return r->result != NULL ? ops_page_result(r->result, &x.pg) : SIGNET_EINTERNAL;
}

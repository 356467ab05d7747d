/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on keys: generation and import in the token, metadata, CSRs, certificate chains. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/audit.h"
#include "daemon/devconf.h"
#include "daemon/ops.h"
#include "daemon/store.h"
#include "daemon/tokenguard.h"
#include "daemon/user.h"
#include "hsm/hsm.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define DESCRIPTION_MAX 256
#define SUBJECT_MAX     512
#define CHAIN_MAX_BYTES (256 * 1024)
#define CHAIN_MAX_CERTS 10

/* The token object label: the tenant is part of it, so two tenants' keys never look alike. */
static void
token_label(char *out, size_t outlen, const char *tenant, const char *label)
{
	snprintf(out, outlen, "%s/%s", tenant, label);
}

struct key_put {
	struct request *r;
	const char *label;
	const char *description;
	const struct hsm_key *key;
	bool imported;
	json_t *rec;
};

static int
key_exists_txn(struct store_txn *t, void *arg)
{
	struct key_put *x = arg;
	char key[130];
	size_t klen = store_key2(key, sizeof(key), x->r->subject.tenant, x->label);

	return store_exists(t, STORE_DB_KEYS, key, klen) ? SIGNET_ECONFLICT : 0;
}

static int
key_put_txn(struct store_txn *t, void *arg)
{
	struct key_put *x = arg;
	char key[130], idhex[2 * HSM_ID_LEN + 1];
	size_t klen = store_key2(key, sizeof(key), x->r->subject.tenant, x->label);

	hex_encode(x->key->id, HSM_ID_LEN, idhex);
	/* The store may run this again after growing its map: start clean. */
	json_decref(x->rec);
	x->rec = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:b, s:I, s:s}", "label", x->label, "tenant",
	    x->r->subject.tenant, "description", x->description != NULL ? x->description : "",
	    "algorithm", hsm_alg_name(x->key->alg), "id", idhex, "uri", x->key->uri, "publicKeyPem",
	    x->key->public_pem, "origin", x->imported ? "imported" : "generated", "usable", 1,
	    "created", (json_int_t)time_now(), "createdBy", x->r->subject.user);
	if (x->rec == NULL) {
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_KEYS, key, klen, x->rec, true);
	{
		char res[ACL_NAME_MAX + 8];
		json_t *v = json_pack(
		    "{s:O, s:O, s:O}", "algorithm", json_object_get(x->rec, "algorithm"), "origin",
		    json_object_get(x->rec, "origin"), "uri", json_object_get(x->rec, "uri"));
		int r;
		snprintf(res, sizeof(res), "KEY:%s", x->label);
		r = audit_req(
		    t, x->r, "CREATED", res,
		    x->imported ? "key imported into the token" : "key generated in the token", v);
		json_decref(v);
		if (r != 0) {
			return r;
		}
	}
	return t->err;
}

/* Public view of key metadata. */
static json_t *
key_view(const json_t *k, bool full)
{
	json_t *v =
	    json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "label", json_object_get(k, "label"),
		      "algorithm", json_object_get(k, "algorithm"), "description",
		      json_object_get(k, "description"), "uri", json_object_get(k, "uri"), "origin",
		      json_object_get(k, "origin"), "usable", json_object_get(k, "usable"),
		      "created", json_object_get(k, "created"));
	static const char *const extra[] = {
	    "publicKeyPem", "chainPem",  "certSubject", "certNotAfter",
	    "problem",      "createdBy", "purpose",     "purposeDeviceConfig"};

	if (v == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
		json_t *e = json_object_get(k, extra[i]);
		if (e != NULL && !json_is_null(e) && (full || strcmp(extra[i], "problem") == 0)) {
			json_object_set(v, extra[i], e);
		}
	}
	return v;
}

static int
key_create_common(struct request *r, bool import)
{
	struct key_put x = {.r = r, .imported = import};
	struct hsm_key k = {0};
	const char *alg_name = NULL;
	enum hsm_alg alg;
	char lbl[140];
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc;

	if (jargs_name(&r->args, "label", true, &x.label) != 0 ||
	    jargs_str(&r->args, "alg", true, 32, &alg_name) != 0 ||
	    jargs_str(&r->args, "description", false, DESCRIPTION_MAX, &x.description) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (hsm_alg_parse(alg_name, &alg) != 0) {
		return req_fail(r, SIGNET_EINVAL,
				"unknown algorithm; use one of ECC_NIST_P256, "
				"ECC_NIST_P384, RSA_3072, RSA_4096, ED25519, AES_256, AES_128");
	}
	if (import && !hsm_alg_is_secret(alg)) {
		return req_fail(r, SIGNET_EINVAL, "only AES_256 and AES_128 keys can be imported");
	}
	if (import && r->nfds != 1) {
		return req_fail(r, SIGNET_EINVAL,
				"key.import needs the raw key file as a descriptor");
	}
	rc = store_read(r->d->store, key_exists_txn, &x);
	if (rc != 0) {
		return rc == SIGNET_ECONFLICT ? req_fail(r, rc, "key '%s' exists", x.label) : rc;
	}
	token_label(lbl, sizeof(lbl), r->subject.tenant, x.label);
	if (import) {
		rc = fd_read_all(r->fds[0], (size_t)r->d->cfg->max_key_import, &raw, &rawlen);
		if (rc != 0) {
			return req_fail(r, rc == SIGNET_ETOO_LARGE ? SIGNET_EINVAL : rc,
					"the key file must be a regular file on a local filesystem "
					"holding the raw "
					"key bytes");
		}
	}
	/* The token's files change from here to the store write: one guarded write. */
	token_guard_write_begin(r->d->guard);
	if (import) {
		rc = hsm_key_import_aes(r->hs, alg, lbl, raw, rawlen, &k);
		secure_wipe(raw, rawlen);
		free(raw);
	} else {
		rc = hsm_key_generate(r->hs, alg, lbl, &k);
	}
	if (rc != 0) {
		audit_token_write_end(r->d);
		hsm_key_clear(&k);
		if (import && rc == SIGNET_EINVAL) {
			return req_fail(r, rc, "an %s key is exactly %d raw bytes", alg_name,
					alg == HSM_ALG_AES_256 ? 32 : 16);
		}
		return req_fail(r, rc, "the token could not %s the key",
				import ? "import" : "generate");
	}
	x.key = &k;
	rc = store_write(r->d->store, key_put_txn, &x);
	if (rc != 0) {
		/* Leave nothing behind that the store does not know of. */
		if (hsm_key_destroy(r->hs, alg, k.id) != 0) {
			log_err(
			    "key %s: could not remove the token objects after a failed store write",
			    lbl);
		}
		audit_token_write_end(r->d);
		hsm_key_clear(&k);
		json_decref(x.rec);
		return rc == SIGNET_ECONFLICT ? req_fail(r, rc, "key '%s' exists", x.label) : rc;
	}
	audit_token_write_end(r->d);
	log_notice("USER:%s of tenant %s %s key %s (%s)", r->subject.user, r->subject.tenant,
		   import ? "imported" : "generated", x.label, alg_name);
	r->result = key_view(x.rec, true);
	json_decref(x.rec);
	hsm_key_clear(&k);
	return 0;
}

int
op_key_generate(struct request *r)
{
	return key_create_common(r, false);
}

int
op_key_import(struct request *r)
{
	return key_create_common(r, true);
}

static int
key_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	return ops_list_append(arg, key_view(val, false));
}

int
op_key_list(struct request *r)
{
	return ops_list(r, STORE_DB_KEYS, r->subject.tenant, key_list_cb, "keys");
}

struct key_get {
	struct request *r;
	const char *label;
	json_t *rec;
	bool per_resource;   /* key.show: VIEW on KEY, or a configuration signing with it */
	const char *devconf; /* key.show: the configuration that grants it, when named */
	bool public_only;    /* granted by a configuration: the public part only */
};

/*
 * Does an enabled device configuration the caller may USE or VIEW sign with
 * key LABEL (its signing or packaging key)?
 */
static bool
grants_key(const struct policy_subject *s, const struct devconf *dc, const char *label)
{
	return dc->enabled && devconf_key_use(dc, label) != NULL &&
	       (policy_allows_on(s, ACL_USE, ACL_RT_DEVICE_CONFIG, dc->id) ||
		policy_allows_on(s, ACL_VIEW, ACL_RT_DEVICE_CONFIG, dc->id));
}

struct signs_with {
	struct request *r;
	const char *label;
	struct devconf dc;
	bool found;
};

static int
signs_with_cb(const struct devconf *dc, void *arg)
{
	struct signs_with *x = arg;

	if (dc == NULL) {
		return 0; /* a configuration that cannot be read grants nothing */
	}
	x->found = grants_key(&x->r->subject, dc, x->label);
	return x->found ? STORE_STOP : 0;
}

/*
 * Who may sign with a key may read its public part (a PKCS#11 module lists
 * it; a verifier needs it). With DCID, that one configuration is checked;
 * without, the tenant's configurations naming the key until one grants it.
 */
static bool
key_granted(struct store_txn *t, struct request *r, const char *label, const char *dcid, int *rc)
{
	struct signs_with *sw = calloc(1, sizeof(*sw));
	bool found = false;

	*rc = 0;
	if (sw == NULL) {
		*rc = SIGNET_EINTERNAL;
		return false;
	}
	sw->r = r;
	sw->label = label;
	if (dcid != NULL) {
		int e = devconf_read(t, r->subject.tenant, dcid, &sw->dc);
		found = e == 0 && grants_key(&r->subject, &sw->dc, label);
		*rc = e == SIGNET_ENOTFOUND ? 0 : e;
	} else {
		*rc = devconf_foreach_using(t, r->subject.tenant, label, NULL, signs_with_cb, sw);
		found = sw->found;
	}
	devconf_clear(&sw->dc);
	free(sw);
	return found;
}

static int
key_get_txn(struct store_txn *t, void *arg)
{
	struct key_get *x = arg;
	struct request *r = x->r;
	char key[130];
	size_t klen = store_key2(key, sizeof(key), r->subject.tenant, x->label);

	if (x->per_resource && !policy_allows(&r->subject, ACL_VIEW, ACL_RT_KEY)) {
		/* Denied alike whether the key exists or not: no probing of labels. */
		int rc;
		if (!key_granted(t, r, x->label, x->devconf, &rc)) {
			return rc != 0 ? rc
				       : req_fail(r, SIGNET_EDENIED,
						  "USER:%s may not VIEW RESOURCE_TYPE:KEY, nor use a "
						  "device configuration that signs with key '%s'",
						  r->subject.user, x->label);
		}
		x->public_only = true;
	}
	if (store_get_json(t, STORE_DB_KEYS, key, klen, &x->rec) != 0) {
		return req_fail(r, SIGNET_ENOTFOUND, "no key '%s'", x->label);
	}
	return 0;
}

/* Load the caller's key named by the "label" argument (its tenant only). */
static int
key_load(struct request *r, struct key_get *x)
{
	x->r = r;
	x->rec = NULL;
	x->public_only = false;
	if (jargs_name(&r->args, "label", true, &x->label) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	return store_read(r->d->store, key_get_txn, x);
}

int
op_key_show(struct request *r)
{
	struct key_get x = {.per_resource = true};
	int rc;

	if (jargs_str(&r->args, "deviceConfig", false, 36, &x.devconf) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if ((rc = key_load(r, &x)) != 0) {
		return rc;
	}
	r->result = key_view(x.rec, true);
	json_decref(x.rec);
	if (r->result != NULL && x.public_only) {
		/* What a signer needs of it; the officer's notes and bindings stay the officer's. */
		static const char *const officer[] = {"description", "origin", "created",
						      "createdBy", "problem", "purposeDeviceConfig"};
		for (size_t i = 0; i < ARRAY_SIZE(officer); i++) {
			json_object_del(r->result, officer[i]);
		}
	}
	return 0;
}

/* The algorithm and CKA_ID of a usable key pair. */
static int
key_usable_pair(struct request *r, const json_t *rec, enum hsm_alg *alg, uint8_t id[HSM_ID_LEN])
{
	const char *idhex = json_string_value(json_object_get(rec, "id"));

	if (hsm_alg_parse(json_string_value(json_object_get(rec, "algorithm")), alg) != 0 ||
	    idhex == NULL || !hex_decode(idhex, id, HSM_ID_LEN)) {
		return req_fail(r, SIGNET_EINTERNAL, "key metadata is damaged");
	}
	if (!json_is_true(json_object_get(rec, "usable"))) {
		return req_fail(r, SIGNET_EDENIED, "key refused at start: %s",
				json_string_value(json_object_get(rec, "problem")) != NULL
				    ? json_string_value(json_object_get(rec, "problem"))
				    : "failed its attribute check");
	}
	if (hsm_alg_is_secret(*alg)) {
		return req_fail(r, SIGNET_EINVAL, "%s is a secret key, not a key pair",
				json_string_value(json_object_get(rec, "label")));
	}
	return 0;
}

int
op_key_csr(struct request *r)
{
	struct key_get x = {0};
	const char *subject = NULL;
	enum hsm_alg alg;
	uint8_t id[HSM_ID_LEN];
	char *pem = NULL;
	int rc;

	if (jargs_str(&r->args, "subject", true, SUBJECT_MAX, &subject) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	{
		X509_NAME *n = hsm_parse_subject(subject);
		if (n == NULL) {
			return req_fail(r, SIGNET_EINVAL,
					"subject must look like /CN=name/O=org with "
					"known attribute names");
		}
		X509_NAME_free(n);
	}
	if ((rc = key_load(r, &x)) != 0) {
		return rc;
	}
	rc = key_usable_pair(r, x.rec, &alg, id);
	if (rc == 0) {
		rc = hsm_key_csr(r->hs, alg, id, subject, &pem);
		if (rc == SIGNET_EINVAL) {
			req_fail(
			    r, rc,
			    "subject must look like /CN=name/O=org with known attribute names");
		}
	}
	if (rc == 0) {
		r->result = json_pack("{s:O, s:s, s:s}", "label", json_object_get(x.rec, "label"),
				      "subject", subject, "csrPem", pem);
	}
	free(pem);
	json_decref(x.rec);
	return rc;
}

struct key_cert {
	struct request *r;
	const char *label;
	json_t *chain_pem;
	json_t *subject;
	json_t *not_after;
};

static int
key_cert_txn(struct store_txn *t, void *arg)
{
	struct key_cert *x = arg;
	char key[130];
	size_t klen = store_key2(key, sizeof(key), x->r->subject.tenant, x->label);
	json_t *rec;

	if (store_get_json(t, STORE_DB_KEYS, key, klen, &rec) != 0) {
		return req_fail(x->r, SIGNET_ENOTFOUND, "no key '%s'", x->label);
	}
	json_object_set(rec, "chainPem", x->chain_pem);
	json_object_set(rec, "certSubject", x->subject);
	json_object_set(rec, "certNotAfter", x->not_after);
	store_put_json(t, STORE_DB_KEYS, key, klen, rec, false);
	json_decref(rec);
	{
		char res[ACL_NAME_MAX + 8];
		json_t *v = json_pack("{s:O}", "certSubject", x->subject);
		int r;
		snprintf(res, sizeof(res), "KEY:%s", x->label);
		r = audit_req(t, x->r, "UPDATED", res, "certificate chain attached", v);
		json_decref(v);
		if (r != 0) {
			return r;
		}
	}
	return t->err;
}

/* Read a PEM chain: the leaf first, each certificate issued by the next, at most CHAIN_MAX_CERTS.
 */
static int
chain_parse(struct request *r, const uint8_t *data, size_t len, STACK_OF(X509) **out)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *c;

	*out = NULL;
	if (b == NULL || chain == NULL) {
		BIO_free(b);
		sk_X509_free(chain);
		return SIGNET_EINTERNAL;
	}
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(chain) >= CHAIN_MAX_CERTS || !sk_X509_push(chain, c)) {
			X509_free(c);
			sk_X509_pop_free(chain, X509_free);
			BIO_free(b);
			return req_fail(r, SIGNET_EINVAL, "the chain has more than %d certificates",
					CHAIN_MAX_CERTS);
		}
	}
	ERR_clear_error();
	BIO_free(b);
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		return req_fail(r, SIGNET_EINVAL, "no PEM certificate in the file");
	}
	/* Each certificate must be signed by the next: a chain, not a bag of certificates. */
	for (int i = 0; i + 1 < sk_X509_num(chain); i++) {
		X509 *sub = sk_X509_value(chain, i), *iss = sk_X509_value(chain, i + 1);
		if (X509_check_issued(iss, sub) != X509_V_OK ||
		    X509_verify(sub, X509_get0_pubkey(iss)) != 1) {
			ERR_clear_error();
			sk_X509_pop_free(chain, X509_free);
			return req_fail(
			    r, SIGNET_EINVAL,
			    "certificate %d of the chain is not issued by certificate %d", i + 1,
			    i + 2);
		}
	}
	*out = chain;
	return 0;
}

int
op_key_cert(struct request *r)
{
	struct key_get g = {0};
	struct key_cert x = {.r = r};
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pub = NULL;
	enum hsm_alg alg;
	uint8_t id[HSM_ID_LEN], *data = NULL;
	size_t len;
	char lbl[140], when[32];
	BIO *out = NULL;
	int rc;

	if (r->nfds != 1) {
		return req_fail(r, SIGNET_EINVAL,
				"key.cert needs the PEM chain file as a descriptor");
	}
	if ((rc = key_load(r, &g)) != 0) {
		return rc;
	}
	x.label = g.label;
	if ((rc = key_usable_pair(r, g.rec, &alg, id)) != 0) {
		goto out;
	}
	rc = fd_read_all(r->fds[0], CHAIN_MAX_BYTES, &data, &len);
	if (rc != 0) {
		rc = req_fail(
		    r, SIGNET_EINVAL,
		    "the chain must be a regular file on a local filesystem of at most %d bytes",
		    CHAIN_MAX_BYTES);
		goto out;
	}
	if ((rc = chain_parse(r, data, len, &chain)) != 0) {
		goto out;
	}
	if ((rc = hsm_key_public(r->hs, alg, id, &pub)) != 0) {
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(chain, 0)), pub) != 1) {
		rc = req_fail(r, SIGNET_EINVAL, "the first certificate is not for this key");
		goto out;
	}
	token_label(lbl, sizeof(lbl), r->subject.tenant, g.label);
	token_guard_write_begin(r->d->guard);
	rc = hsm_key_store_cert(r->hs, id, lbl, sk_X509_value(chain, 0));
	audit_token_write_end(r->d);
	if (rc != 0) {
		goto out;
	}
	out = BIO_new(BIO_s_mem());
	for (int i = 0; out != NULL && i < sk_X509_num(chain); i++) {
		PEM_write_bio_X509(out, sk_X509_value(chain, i));
	}
	{
		char *pem, *subj;
		long n = out != NULL ? BIO_get_mem_data(out, &pem) : 0;
		const ASN1_TIME *na = X509_get0_notAfter(sk_X509_value(chain, 0));
		struct tm tm;
		subj = X509_NAME_oneline(X509_get_subject_name(sk_X509_value(chain, 0)), NULL, 0);
		x.chain_pem = n > 0 ? json_stringn(pem, (size_t)n) : NULL;
		x.subject = subj != NULL ? json_string(subj) : NULL;
		OPENSSL_free(subj);
		if (ASN1_TIME_to_tm(na, &tm) == 1) {
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		} else {
			snprintf(when, sizeof(when), "unknown");
		}
		x.not_after = json_string(when);
	}
	if (x.chain_pem == NULL || x.subject == NULL || x.not_after == NULL) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	if ((rc = store_write(r->d->store, key_cert_txn, &x)) != 0) {
		goto out;
	}
	r->result = json_pack("{s:s, s:O, s:O, s:i}", "label", g.label, "certSubject", x.subject,
			      "certNotAfter", x.not_after, "chainLength", sk_X509_num(chain));
out:
	BIO_free(out);
	free(data);
	EVP_PKEY_free(pub);
	sk_X509_pop_free(chain, X509_free);
	json_decref(x.chain_pem);
	json_decref(x.subject);
	json_decref(x.not_after);
	json_decref(g.rec);
	return rc;
}

struct check_all {
	struct hsm_session *hs;
	json_t *updates; /* records whose verdict changed, written after the read */
	int bad;
	char *missing; /* "tenant/label, ..." of keys the token lacks */
	size_t missing_len, missing_used;
};

/* Append NAME to the caller's list of missing objects (cut short with "..." when full). */
void
keys_note_missing(char *list, size_t len, size_t *used, const char *name)
{
	int n;

	if (list == NULL || len == 0 || *used >= len) {
		return;
	}
	n = snprintf(list + *used, len - *used, "%s%s", *used > 0 ? ", " : "", name);
	if (n < 0 || (size_t)n >= len - *used) {
		if (len >= 4) {
			memcpy(list + len - 4, "...", 4);
		}
		*used = len;
		return;
	}
	*used += (size_t)n;
}

static int
check_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct check_all *x = arg;
	enum hsm_alg alg;
	uint8_t id[HSM_ID_LEN];
	const char *idhex = json_string_value(json_object_get(val, "id"));
	const char *origin = json_string_value(json_object_get(val, "origin"));
	const char *tenant = json_string_value(json_object_get(val, "tenant"));
	const char *label = json_string_value(json_object_get(val, "label"));
	char why[128] = "";
	bool usable;
	int rc;

	if (tenant == NULL || label == NULL ||
	    hsm_alg_parse(json_string_value(json_object_get(val, "algorithm")), &alg) != 0 ||
	    idhex == NULL || !hex_decode(idhex, id, HSM_ID_LEN)) {
		log_err("a key record is damaged; it stays unusable");
		x->bad++;
		return 0;
	}
	rc = hsm_key_check(x->hs, alg, id, origin != NULL && strcmp(origin, "imported") == 0, why,
			   sizeof(why));
	usable = rc == 0;
	if (!usable) {
		x->bad++;
		log_err("key %s/%s refused: %s", tenant, label, why);
	}
	if (rc == SIGNET_ENOTFOUND) {
		char name[160];
		snprintf(name, sizeof(name), "key %s/%s", tenant, label);
		keys_note_missing(x->missing, x->missing_len, &x->missing_used, name);
	}
	if (usable != json_is_true(json_object_get(val, "usable"))) {
		json_t *copy = json_deep_copy(val);
		if (copy == NULL) {
			return SIGNET_EINTERNAL;
		}
		json_object_set_new(copy, "usable", json_boolean(usable));
		json_object_set_new(copy, "problem", usable ? json_null() : json_string(why));
		json_array_append_new(x->updates, copy);
	}
	return 0;
}

static int
check_read_txn(struct store_txn *t, void *arg)
{
	return store_foreach(t, STORE_DB_KEYS, NULL, 0, check_cb, arg);
}

static int
check_write_txn(struct store_txn *t, void *arg)
{
	struct check_all *x = arg;
	size_t i;
	json_t *rec;

	json_array_foreach(x->updates, i, rec) {
		char key[130];
		size_t klen =
		    store_key2(key, sizeof(key), json_string_value(json_object_get(rec, "tenant")),
			       json_string_value(json_object_get(rec, "label")));
		store_put_json(t, STORE_DB_KEYS, key, klen, rec, false);
	}
	return t->err;
}

int
keys_check_all(struct daemon *d, char *missing, size_t missing_len, size_t *missing_used)
{
	struct check_all x = {NULL, json_array(), 0, missing, missing_len, *missing_used};
	int rc;

	if (x.updates == NULL) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = hsm_session_open(d->hsm, &x.hs)) != 0) {
		json_decref(x.updates);
		return rc;
	}
	rc = store_read(d->store, check_read_txn, &x);
	if (rc == 0 && json_array_size(x.updates) > 0) {
		rc = store_write(d->store, check_write_txn, &x);
	}
	if (rc == 0 && x.bad > 0) {
		log_err("%d keys failed the attribute check and will not be used", x.bad);
	}
	hsm_session_close(x.hs);
	json_decref(x.updates);
	*missing_used = x.missing_used;
	return rc;
}

/* The CKA_IDs the store expects in the token: keys, TOTP seeds, the audit key. */

static int
ids_add(struct token_ids *ids, const char *hex)
{
	uint8_t(*v)[HSM_ID_LEN];

	if (hex == NULL || strlen(hex) != 2 * HSM_ID_LEN) {
		return 0;
	}
	if (ids->n == ids->cap) {
		size_t cap = ids->cap != 0 ? ids->cap * 2 : 64;
		if ((v = realloc(ids->id, cap * sizeof(*v))) == NULL) {
			return SIGNET_EINTERNAL;
		}
		ids->id = v;
		ids->cap = cap;
	}
	if (!hex_decode(hex, ids->id[ids->n], HSM_ID_LEN)) {
		return 0;
	}
	ids->n++;
	return 0;
}

static int
ids_key_cb(const struct store_key *key, json_t *val, void *arg)
{
	(void)key;
	return ids_add(arg, json_string_value(json_object_get(val, "id")));
}

static int
ids_user_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct user_record u;

	(void)key;
	/* A broken record names no seed (user_decode logs it). */
	if (user_decode(val, &u) != 0 || !u.enrolled) {
		return 0;
	}
	return ids_add(arg, u.otp.seed_id);
}

static int
ids_txn(struct store_txn *t, void *arg)
{
	struct token_ids *ids = arg;
	json_t *rec = NULL;
	int r;

	ids->n = 0;
	if ((r = store_foreach(t, STORE_DB_KEYS, NULL, 0, ids_key_cb, ids)) != 0 ||
	    (r = store_foreach(t, STORE_DB_USERS, NULL, 0, ids_user_cb, ids)) != 0) {
		return r;
	}
	if (store_get_json(t, STORE_DB_META, "auditKey", 8, &rec) == 0) {
		r = ids_add(ids, json_string_value(json_object_get(rec, "id")));
		json_decref(rec);
	}
	return r;
}

int
keys_expected_ids(struct daemon *d, struct token_ids *ids)
{
	return store_read(d->store, ids_txn, ids);
}

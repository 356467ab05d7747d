/* SPDX-License-Identifier: Apache-2.0 */
/* Keys in the token: generation, import, attribute checks, public keys, signing, certificates. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "hsm/internal.h"
#include "lib/error.h"
#include "lib/log.h"

/* DER OIDs for CKA_EC_PARAMS. */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

struct alg_desc {
	const char *name;
	CK_KEY_TYPE type;
	const uint8_t *ec_params;
	size_t ec_params_len;
	CK_ULONG bits;     /* RSA modulus bits, AES key bytes */
	const char *group; /* OpenSSL group name for EC */
};

static const struct alg_desc alg_table[HSM_ALG_COUNT] = {
    [HSM_ALG_ECC_NIST_P256] = {"ECC_NIST_P256", CKK_EC, oid_p256, sizeof(oid_p256), 256,
			       "prime256v1"},
    [HSM_ALG_ECC_NIST_P384] = {"ECC_NIST_P384", CKK_EC, oid_p384, sizeof(oid_p384), 384,
			       "secp384r1"},
    [HSM_ALG_RSA_3072] = {"RSA_3072", CKK_RSA, NULL, 0, 3072, NULL},
    [HSM_ALG_RSA_4096] = {"RSA_4096", CKK_RSA, NULL, 0, 4096, NULL},
    [HSM_ALG_ED25519] = {"ED25519", CKK_EC_EDWARDS, oid_ed25519, sizeof(oid_ed25519), 255, NULL},
    [HSM_ALG_AES_256] = {"AES_256", CKK_AES, NULL, 0, 32, NULL},
    [HSM_ALG_AES_128] = {"AES_128", CKK_AES, NULL, 0, 16, NULL},
};

const char *
hsm_alg_name(enum hsm_alg alg)
{
	return (unsigned)alg < HSM_ALG_COUNT ? alg_table[alg].name : "UNKNOWN";
}

int
hsm_alg_parse(const char *name, enum hsm_alg *alg)
{
	for (int i = 0; i < HSM_ALG_COUNT; i++) {
		if (name != NULL && strcmp(alg_table[i].name, name) == 0) {
			*alg = (enum hsm_alg)i;
			return 0;
		}
	}
	return SIGNET_EINVAL;
}

bool
hsm_alg_is_secret(enum hsm_alg alg)
{
	return alg == HSM_ALG_AES_256 || alg == HSM_ALG_AES_128;
}

void
hsm_key_clear(struct hsm_key *k)
{
	free(k->public_pem);
	memset(k, 0, sizeof(*k));
}

static char *
pkey_to_pem(EVP_PKEY *pkey)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b == NULL) {
		return NULL;
	}
	if (PEM_write_bio_PUBKEY(b, pkey) == 1) {
		n = BIO_get_mem_data(b, &data);
		out = malloc((size_t)n + 1);
		if (out != NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* Read one attribute of unknown length into a new buffer. */
static CK_RV
get_attr_alloc(struct hsm_session *s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, uint8_t **out,
	       size_t *outlen)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv;

	*out = NULL;
	rv = s->h->f->C_GetAttributeValue(s->handle, obj, &a, 1);
	if (rv != CKR_OK) {
		return rv;
	}
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536) {
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	a.pValue = malloc(a.ulValueLen + 1);
	if (a.pValue == NULL) {
		return CKR_HOST_MEMORY;
	}
	rv = s->h->f->C_GetAttributeValue(s->handle, obj, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*out = a.pValue;
	*outlen = a.ulValueLen;
	return CKR_OK;
}

/* The raw point from CKA_EC_POINT, which tokens give as a DER OCTET STRING (or, some, raw). */
static bool
ec_point_unwrap(const uint8_t *der, size_t len, const uint8_t **pt, size_t *ptlen)
{
	const unsigned char *p = der;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);

	if (os != NULL && p == der + len) {
		size_t n = (size_t)ASN1_STRING_length(os);
		*pt = der + (len - n);
		*ptlen = n;
		ASN1_OCTET_STRING_free(os);
		return true;
	}
	ASN1_OCTET_STRING_free(os);
	*pt = der;
	*ptlen = len;
	return len > 0;
}

struct pub_arg {
	enum hsm_alg alg;
	const uint8_t *id;
	EVP_PKEY *pkey;
};

static CK_RV
op_public(struct hsm_session *s, void *arg)
{
	struct pub_arg *a = arg;
	const struct alg_desc *d = &alg_table[a->alg];
	CK_OBJECT_HANDLE obj;
	uint8_t *v1 = NULL, *v2 = NULL;
	size_t l1, l2;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	CK_RV rv;

	rv = hsm_find_one(s, CKO_PUBLIC_KEY, a->id, HSM_ID_LEN, &obj);
	if (rv != CKR_OK) {
		return rv;
	}
	if (d->type == CKK_RSA) {
		if ((rv = get_attr_alloc(s, obj, CKA_MODULUS, &v1, &l1)) != CKR_OK ||
		    (rv = get_attr_alloc(s, obj, CKA_PUBLIC_EXPONENT, &v2, &l2)) != CKR_OK) {
			goto out;
		}
	} else {
		if ((rv = get_attr_alloc(s, obj, CKA_EC_POINT, &v1, &l1)) != CKR_OK) {
			goto out;
		}
	}
	rv = CKR_FUNCTION_FAILED;
	if (d->type == CKK_EC_EDWARDS) {
		const uint8_t *pt;
		size_t ptlen;
		if (ec_point_unwrap(v1, l1, &pt, &ptlen) && ptlen == 32) {
			a->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, ptlen);
		}
		rv = a->pkey != NULL ? CKR_OK : CKR_FUNCTION_FAILED;
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL) {
		goto out;
	}
	if (d->type == CKK_RSA) {
		n = BN_bin2bn(v1, (int)l1, NULL);
		e = BN_bin2bn(v2, (int)l2, NULL);
		if (n == NULL || e == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
			goto out;
		}
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		const uint8_t *pt;
		size_t ptlen;
		if (!ec_point_unwrap(v1, l1, &pt, &ptlen) ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, d->group,
						     0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen)) {
			goto out;
		}
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (pctx == NULL || params == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &a->pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		log_openssl(LOG_LEVEL_ERR, "building a public key from the token");
		goto out;
	}
	rv = CKR_OK;
out:
	free(v1);
	free(v2);
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pctx);
	return rv;
}

int
hsm_key_public(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
	       EVP_PKEY **out)
{
	struct pub_arg a = {alg, id, NULL};
	CK_RV rv;

	*out = NULL;
	/* op_public indexes alg_table: an unknown algorithm must not get there. */
	if ((unsigned)alg >= HSM_ALG_COUNT || hsm_alg_is_secret(alg)) {
		return SIGNET_EINVAL;
	}
	rv = hsm_run(s, op_public, &a);
	if (rv != CKR_OK) {
		EVP_PKEY_free(a.pkey);
		return hsm_err(rv, "reading a public key");
	}
	*out = a.pkey;
	return 0;
}

CK_RV
hsm_destroy_by_id(struct hsm_session *s, const uint8_t *id, const CK_OBJECT_CLASS *cls,
		  CK_OBJECT_HANDLE keep)
{
	CK_FUNCTION_LIST *f = s->h->f;
	CK_ATTRIBUTE tmpl[] = {{CKA_ID, (void *)id, HSM_ID_LEN},
			       {CKA_CLASS, (void *)cls, sizeof(*cls)}};
	CK_OBJECT_HANDLE objs[16];
	CK_ULONG n = 0, gone;
	CK_RV rv, rv2;

	do {
		rv = f->C_FindObjectsInit(s->handle, tmpl, cls != NULL ? 2 : 1);
		if (rv != CKR_OK) {
			return rv;
		}
		rv = f->C_FindObjects(s->handle, objs, ARRAY_SIZE(objs), &n);
		rv2 = f->C_FindObjectsFinal(s->handle);
		if (rv == CKR_OK) {
			rv = rv2;
		}
		gone = 0;
		for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
			if (objs[i] != keep) {
				rv = f->C_DestroyObject(s->handle, objs[i]);
				hsm_objects_changed(s->h);
				gone++;
			}
		}
		/* A full batch may hide more behind it; one that destroyed nothing holds only KEEP. */
	} while (rv == CKR_OK && n == ARRAY_SIZE(objs) && gone > 0);
	return rv;
}

struct destroy_arg {
	const uint8_t *id;
};

static CK_RV
op_destroy(struct hsm_session *s, void *arg)
{
	struct destroy_arg *a = arg;

	return hsm_destroy_by_id(s, a->id, NULL, CK_INVALID_HANDLE);
}

int
hsm_key_destroy(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN])
{
	struct destroy_arg a = {id};
	CK_RV rv;

	(void)alg;
	pthread_mutex_lock(&s->h->create_lock);
	rv = hsm_run(s, op_destroy, &a);
	pthread_mutex_unlock(&s->h->create_lock);
	return hsm_err(rv, "removing a key");
}

struct gen_arg {
	enum hsm_alg alg;
	const char *label;
	const uint8_t *id;
	const uint8_t *value; /* import: raw key */
	size_t value_len;
};

static CK_RV
op_generate(struct hsm_session *s, void *arg)
{
	struct gen_arg *a = arg;
	const struct alg_desc *d = &alg_table[a->alg];
	CK_FUNCTION_LIST *f = s->h->f;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY,
			sec_cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = d->type;
	CK_ULONG bits = d->bits, vlen = d->bits;
	CK_BYTE exp[] = {0x01, 0x00, 0x01};
	CK_ULONG lbl_len = strlen(a->label);
	CK_OBJECT_HANDLE hpub, hpriv, hsec;
	CK_MECHANISM mech = {0, NULL, 0};
	CK_ATTRIBUTE pub[12], priv[14], sec[16];
	CK_ULONG np = 0, nv = 0, ns = 0;
	CK_RV rv;

	/*
	 * The id is fresh from the RNG: anything under it was left by an
	 * attempt that failed half-way (this runs again after a lost session).
	 */
	if ((rv = hsm_destroy_by_id(s, a->id, NULL, CK_INVALID_HANDLE)) != CKR_OK) {
		return rv;
	}
#define ADD(arr, n, t, v, l)                                                                       \
	(arr[n].type = (t), arr[n].pValue = (void *)(v), arr[n].ulValueLen = (l), n++)
	if (hsm_alg_is_secret(a->alg)) {
		ADD(sec, ns, CKA_CLASS, &sec_cls, sizeof(sec_cls));
		ADD(sec, ns, CKA_KEY_TYPE, &kt, sizeof(kt));
		ADD(sec, ns, CKA_TOKEN, &yes, sizeof(yes));
		ADD(sec, ns, CKA_PRIVATE, &yes, sizeof(yes));
		ADD(sec, ns, CKA_SENSITIVE, &yes, sizeof(yes));
		ADD(sec, ns, CKA_EXTRACTABLE, &no, sizeof(no));
		ADD(sec, ns, CKA_ENCRYPT, &yes, sizeof(yes));
		ADD(sec, ns, CKA_DECRYPT, &yes, sizeof(yes));
		ADD(sec, ns, CKA_WRAP, &no, sizeof(no));
		ADD(sec, ns, CKA_UNWRAP, &no, sizeof(no));
		ADD(sec, ns, CKA_SIGN, &no, sizeof(no));
		ADD(sec, ns, CKA_VERIFY, &no, sizeof(no));
		ADD(sec, ns, CKA_DERIVE, &no, sizeof(no));
		ADD(sec, ns, CKA_LABEL, a->label, lbl_len);
		ADD(sec, ns, CKA_ID, a->id, HSM_ID_LEN);
		if (a->value != NULL) {
			ADD(sec, ns, CKA_VALUE, a->value, a->value_len);
			hsm_objects_changed(s->h);
			return f->C_CreateObject(s->handle, sec, ns, &hsec);
		}
		ADD(sec, ns, CKA_VALUE_LEN, &vlen, sizeof(vlen));
		mech.mechanism = CKM_AES_KEY_GEN;
		hsm_objects_changed(s->h);
		return f->C_GenerateKey(s->handle, &mech, sec, ns, &hsec);
	}
	ADD(pub, np, CKA_CLASS, &pub_cls, sizeof(pub_cls));
	ADD(pub, np, CKA_TOKEN, &yes, sizeof(yes));
	ADD(pub, np, CKA_PRIVATE, &no, sizeof(no));
	ADD(pub, np, CKA_VERIFY, &yes, sizeof(yes));
	ADD(pub, np, CKA_ENCRYPT, &no, sizeof(no));
	ADD(pub, np, CKA_WRAP, &no, sizeof(no));
	ADD(pub, np, CKA_DERIVE, &no, sizeof(no));
	ADD(pub, np, CKA_LABEL, a->label, lbl_len);
	ADD(pub, np, CKA_ID, a->id, HSM_ID_LEN);
	ADD(priv, nv, CKA_CLASS, &priv_cls, sizeof(priv_cls));
	ADD(priv, nv, CKA_TOKEN, &yes, sizeof(yes));
	ADD(priv, nv, CKA_PRIVATE, &yes, sizeof(yes));
	ADD(priv, nv, CKA_SENSITIVE, &yes, sizeof(yes));
	ADD(priv, nv, CKA_EXTRACTABLE, &no, sizeof(no));
	ADD(priv, nv, CKA_SIGN, &yes, sizeof(yes));
	/* Signing keys sign, nothing else: no decryption, unwrapping or derivation. */
	ADD(priv, nv, CKA_DECRYPT, &no, sizeof(no));
	ADD(priv, nv, CKA_UNWRAP, &no, sizeof(no));
	ADD(priv, nv, CKA_DERIVE, &no, sizeof(no));
	ADD(priv, nv, CKA_LABEL, a->label, lbl_len);
	ADD(priv, nv, CKA_ID, a->id, HSM_ID_LEN);
	if (d->type == CKK_RSA) {
		ADD(pub, np, CKA_MODULUS_BITS, &bits, sizeof(bits));
		ADD(pub, np, CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
	} else {
		ADD(pub, np, CKA_EC_PARAMS, d->ec_params, d->ec_params_len);
		mech.mechanism =
		    d->type == CKK_EC_EDWARDS ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
	}
#undef ADD
	hsm_objects_changed(s->h);
	return f->C_GenerateKeyPair(s->handle, &mech, pub, np, priv, nv, &hpub, &hpriv);
}

static int
key_create(struct hsm_session *s, enum hsm_alg alg, const char *label, const uint8_t *value,
	   size_t value_len, struct hsm_key *out)
{
	struct gen_arg a = {alg, label, out->id, value, value_len};
	CK_RV rv;
	int r;

	memset(out, 0, sizeof(*out));
	out->alg = alg;
	if ((unsigned)alg >= HSM_ALG_COUNT) {
		return SIGNET_EINVAL;
	}
	/* The CKA_ID comes from the token's RNG: unique, and never chosen by a client. */
	if ((r = hsm_random(s, out->id, sizeof(out->id))) != 0) {
		return r;
	}
	rv = hsm_run_create(s, op_generate, &a, out->id);
	if (rv != CKR_OK) {
		return hsm_err(rv, value != NULL ? "importing a key" : "generating a key");
	}
	hsm_format_uri(s->h, out->id, label,
		       hsm_alg_is_secret(alg) ? CKO_SECRET_KEY : CKO_PRIVATE_KEY, out->uri,
		       sizeof(out->uri));
	if (!hsm_alg_is_secret(alg)) {
		EVP_PKEY *pk;
		if ((r = hsm_key_public(s, alg, out->id, &pk)) == 0) {
			out->public_pem = pkey_to_pem(pk);
			EVP_PKEY_free(pk);
			r = out->public_pem != NULL ? 0 : SIGNET_EINTERNAL;
		}
		if (r != 0) {
			/* Leave no key behind that the caller will not record. */
			(void)hsm_key_destroy(s, alg, out->id);
			return r;
		}
	}
	return 0;
}

int
hsm_key_generate(struct hsm_session *s, enum hsm_alg alg, const char *label, struct hsm_key *out)
{
	return key_create(s, alg, label, NULL, 0, out);
}

int
hsm_key_import_aes(struct hsm_session *s, enum hsm_alg alg, const char *label, const uint8_t *key,
		   size_t keylen, struct hsm_key *out)
{
	if (!hsm_alg_is_secret(alg) || keylen != alg_table[alg].bits) {
		return SIGNET_EINVAL;
	}
	return key_create(s, alg, label, key, keylen, out);
}

struct check_arg {
	enum hsm_alg alg;
	const uint8_t *id;
	bool imported;
	const char *failed;
};

static CK_RV
op_check(struct hsm_session *s, void *arg)
{
	struct check_arg *a = arg;
	CK_OBJECT_HANDLE obj;
	CK_BBOOL sens = 0, ext = 1, asens = 0, nex = 0, local = 0, priv = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_SENSITIVE, &sens, sizeof(sens)},
	    {CKA_EXTRACTABLE, &ext, sizeof(ext)},
	    {CKA_ALWAYS_SENSITIVE, &asens, sizeof(asens)},
	    {CKA_NEVER_EXTRACTABLE, &nex, sizeof(nex)},
	    {CKA_LOCAL, &local, sizeof(local)},
	    {CKA_PRIVATE, &priv, sizeof(priv)},
	};
	CK_RV rv;

	a->failed = NULL;
	rv = hsm_find_one(s, hsm_alg_is_secret(a->alg) ? CKO_SECRET_KEY : CKO_PRIVATE_KEY, a->id,
			  HSM_ID_LEN, &obj);
	if (rv != CKR_OK) {
		return rv;
	}
	rv = s->h->f->C_GetAttributeValue(s->handle, obj, t, ARRAY_SIZE(t));
	if (rv != CKR_OK) {
		return rv;
	}
	if (!sens) {
		a->failed = "CKA_SENSITIVE is false";
	} else if (ext) {
		a->failed = "CKA_EXTRACTABLE is true";
	} else if (!priv) {
		a->failed = "CKA_PRIVATE is false";
	} else if (a->imported) {
		/*
		 * An imported key existed outside the token once: the token rightly
		 * reports it neither LOCAL, ALWAYS_SENSITIVE nor NEVER_EXTRACTABLE.
		 * What must hold is that it is sensitive and unextractable now.
		 */
	} else if (!local) {
		a->failed = "CKA_LOCAL is false for a key said to be generated in the token";
	} else if (!nex) {
		a->failed = "CKA_NEVER_EXTRACTABLE is false";
	} else if (!asens) {
		a->failed = "CKA_ALWAYS_SENSITIVE is false";
	}
	return CKR_OK;
}

int
hsm_key_check(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN], bool imported,
	      char *why, size_t whylen)
{
	struct check_arg a = {alg, id, imported, NULL};
	CK_RV rv = hsm_run(s, op_check, &a);

	if (rv == CKR_OBJECT_HANDLE_INVALID) {
		snprintf(why, whylen, "the key is no longer in the token");
		return SIGNET_ENOTFOUND;
	}
	if (rv != CKR_OK) {
		snprintf(why, whylen, "the token could not be asked");
		return hsm_err(rv, "checking key attributes");
	}
	if (a.failed != NULL) {
		snprintf(why, whylen, "%s", a.failed);
		return SIGNET_EDENIED;
	}
	return 0;
}

struct sign_arg {
	const uint8_t *id;
	CK_MECHANISM mech;
	const uint8_t *data;
	size_t len;
	uint8_t *sig;
	CK_ULONG siglen;
};

static CK_RV
op_sign(struct hsm_session *s, void *arg)
{
	struct sign_arg *a = arg;
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	rv = hsm_find_one(s, CKO_PRIVATE_KEY, a->id, HSM_ID_LEN, &key);
	if (rv != CKR_OK) {
		return rv;
	}
	rv = s->h->f->C_SignInit(s->handle, &a->mech, key);
	if (rv != CKR_OK) {
		return rv;
	}
	rv = s->h->f->C_Sign(s->handle, (CK_BYTE_PTR)a->data, a->len, a->sig, &a->siglen);
	if (rv == CKR_BUFFER_TOO_SMALL) {
		/* The caller's buffer is too small, and the signing operation still active. */
		log_err("signing: the signature needs %lu bytes", (unsigned long)a->siglen);
		hsm_session_discard(s);
	}
	return rv;
}

/* Convert a PKCS#11 ECDSA signature (r || s) to DER. */
static int
ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t *out, size_t *outlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
	BIGNUM *sv = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	unsigned char *p = out;
	int n, ret = SIGNET_EINTERNAL;

	if (sig == NULL || r == NULL || sv == NULL || len % 2 != 0 || !ECDSA_SIG_set0(sig, r, sv)) {
		BN_free(r);
		BN_free(sv);
		goto out;
	}
	if (i2d_ECDSA_SIG(sig, NULL) > (int)*outlen) {
		goto out;
	}
	n = i2d_ECDSA_SIG(sig, &p);
	if (n > 0) {
		*outlen = (size_t)n;
		ret = 0;
	}
out:
	ECDSA_SIG_free(sig);
	return ret;
}

/* DER DigestInfo prefixes (RFC 8017 9.2, note 1): what CKM_RSA_PKCS signs before the digest. */
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

/* The PKCS#11 hash mechanism and MGF1 generator of HASH. */
static void
pss_params_of(enum hsm_hash hash, unsigned salt, CK_RSA_PKCS_PSS_PARAMS *pss)
{
	switch (hash) {
	case HSM_HASH_SHA384:
		pss->hashAlg = CKM_SHA384;
		pss->mgf = CKG_MGF1_SHA384;
		break;
	case HSM_HASH_SHA512:
		pss->hashAlg = CKM_SHA512;
		pss->mgf = CKG_MGF1_SHA512;
		break;
	default:
		pss->hashAlg = CKM_SHA256;
		pss->mgf = CKG_MGF1_SHA256;
		break;
	}
	pss->sLen = salt;
}

int
hsm_sign_ex(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
	    const struct hsm_sign_params *p, const uint8_t *data, size_t len, uint8_t *sig,
	    size_t *siglen)
{
	CK_RSA_PKCS_PSS_PARAMS pss;
	struct sign_arg a = {id, {0, NULL, 0}, data, len, sig, *siglen};
	uint8_t raw[132], di[19 + 64];
	const uint8_t *prefix;
	char why[160];
	CK_RV rv;

	if (hsm_sign_params_check(alg, p, why, sizeof(why)) != 0) {
		log_err("signing: %s", why);
		return SIGNET_EINVAL;
	}
	if (p->scheme != HSM_SCHEME_EDDSA && len != hsm_hash_len(p->hash)) {
		return SIGNET_EINVAL;
	}
	switch (p->scheme) {
	case HSM_SCHEME_ECDSA:
		a.mech.mechanism = CKM_ECDSA;
		if (!p->raw) {
			a.sig = raw;
			a.siglen = sizeof(raw);
		}
		break;
	case HSM_SCHEME_RSA_PSS:
		pss_params_of(p->hash, p->salt_len, &pss);
		a.mech.mechanism = CKM_RSA_PKCS_PSS;
		a.mech.pParameter = &pss;
		a.mech.ulParameterLen = sizeof(pss);
		break;
	case HSM_SCHEME_RSA_PKCS1_V15:
		/* The token pads; the DigestInfo (hash OID and digest) is ours to build. */
		prefix = p->hash == HSM_HASH_SHA512   ? di_sha512
			 : p->hash == HSM_HASH_SHA384 ? di_sha384
						      : di_sha256;
		memcpy(di, prefix, sizeof(di_sha256));
		memcpy(di + sizeof(di_sha256), data, len);
		a.mech.mechanism = CKM_RSA_PKCS;
		a.data = di;
		a.len = sizeof(di_sha256) + len;
		break;
	case HSM_SCHEME_EDDSA:
		a.mech.mechanism = CKM_EDDSA;
		break;
	default:
		return SIGNET_EINVAL;
	}
	rv = hsm_run(s, op_sign, &a);
	if (rv != CKR_OK) {
		return hsm_err(rv, "signing");
	}
	if (a.sig == raw) {
		return ecdsa_raw_to_der(raw, a.siglen, sig, siglen);
	}
	*siglen = a.siglen;
	return 0;
}

int
hsm_sign(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN], const uint8_t *data,
	 size_t len, uint8_t *sig, size_t *siglen)
{
	struct hsm_sign_params p;

	if ((unsigned)alg >= HSM_ALG_COUNT || hsm_alg_is_secret(alg)) {
		return SIGNET_EINVAL;
	}
	hsm_sign_params_default(alg, &p);
	return hsm_sign_ex(s, alg, id, &p, data, len, sig, siglen);
}

/* Sign the DER to-be-signed bytes of a certificate request with the token key. */
static int
sign_tbs(struct hsm_session *s, enum hsm_alg alg, const uint8_t *id, const uint8_t *tbs,
	 size_t tbslen, uint8_t *sig, size_t *siglen)
{
	uint8_t md[SHA384_DIGEST_LENGTH];
	struct sign_arg a = {id, {CKM_SHA256_RSA_PKCS, NULL, 0}, tbs, tbslen, sig, *siglen};
	CK_RV rv;

	switch (alg) {
	case HSM_ALG_ECC_NIST_P256:
		SHA256(tbs, tbslen, md);
		return hsm_sign(s, alg, id, md, SHA256_DIGEST_LENGTH, sig, siglen);
	case HSM_ALG_ECC_NIST_P384:
		SHA384(tbs, tbslen, md);
		return hsm_sign(s, alg, id, md, SHA384_DIGEST_LENGTH, sig, siglen);
	case HSM_ALG_ED25519:
		return hsm_sign(s, alg, id, tbs, tbslen, sig, siglen);
	case HSM_ALG_RSA_3072:
	case HSM_ALG_RSA_4096:
		/* A CSR only proves possession: PKCS#1 v1.5 is what every CA reads. */
		rv = hsm_run(s, op_sign, &a);
		if (rv != CKR_OK) {
			return hsm_err(rv, "signing a request");
		}
		*siglen = a.siglen;
		return 0;
	default:
		return SIGNET_EINVAL;
	}
}

X509_NAME *
hsm_parse_subject(const char *subject)
{
	X509_NAME *name;
	char buf[1024], *save = NULL, *tok;
	int n = 0;

	if (subject == NULL || subject[0] != '/' || strlen(subject) >= sizeof(buf)) {
		return NULL;
	}
	memcpy(buf, subject + 1, strlen(subject));
	name = X509_NAME_new();
	if (name == NULL) {
		return NULL;
	}
	for (tok = strtok_r(buf, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
		char *eq = strchr(tok, '=');
		if (eq == NULL || eq == tok || eq[1] == '\0' || ++n > 16) {
			goto fail;
		}
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8, (unsigned char *)eq + 1,
						-1, -1, 0)) {
			goto fail;
		}
	}
	if (n == 0) {
		goto fail;
	}
	return name;
fail:
	ERR_clear_error();
	X509_NAME_free(name);
	return NULL;
}

int
hsm_key_csr(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
	    const char *subject, char **pem)
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	X509_ALGOR *algor = NULL;
	ASN1_BIT_STRING *bits = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char *tbs = NULL;
	uint8_t sig[1024];
	size_t siglen = sizeof(sig);
	int tbslen, nid, r = SIGNET_EINTERNAL;
	BIO *b = NULL;

	*pem = NULL;
	if (hsm_alg_is_secret(alg)) {
		return SIGNET_EINVAL;
	}
	name = hsm_parse_subject(subject);
	if (name == NULL) {
		return SIGNET_EINVAL;
	}
	if ((r = hsm_key_public(s, alg, id, &pub)) != 0) {
		goto out;
	}
	r = SIGNET_EINTERNAL;
	req = X509_REQ_new();
	algor = X509_ALGOR_new();
	if (req == NULL || algor == NULL || !X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, pub)) {
		goto out;
	}
	switch (alg) {
	case HSM_ALG_ECC_NIST_P256:
		nid = NID_ecdsa_with_SHA256;
		break;
	case HSM_ALG_ECC_NIST_P384:
		nid = NID_ecdsa_with_SHA384;
		break;
	case HSM_ALG_ED25519:
		nid = NID_ED25519;
		break;
	default:
		nid = NID_sha256WithRSAEncryption;
		break;
	}
	if (!X509_ALGOR_set0(algor, OBJ_nid2obj(nid),
			     nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF,
			     NULL) ||
	    !X509_REQ_set1_signature_algo(req, algor)) {
		goto out;
	}
	tbslen = i2d_re_X509_REQ_tbs(req, &tbs);
	if (tbslen <= 0) {
		goto out;
	}
	if ((r = sign_tbs(s, alg, id, tbs, (size_t)tbslen, sig, &siglen)) != 0) {
		goto out;
	}
	r = SIGNET_EINTERNAL;
	bits = ASN1_BIT_STRING_new();
	if (bits == NULL || !ASN1_BIT_STRING_set(bits, sig, (int)siglen)) {
		goto out;
	}
	/* Exactly the signature bytes, no unused bits: do not let OpenSSL trim trailing zeros. */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	/* Never hand out a request that does not verify under the key it carries. */
	if (X509_REQ_verify(req, pub) != 1) {
		log_openssl(LOG_LEVEL_ERR, "the token-signed request does not verify");
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (b != NULL && PEM_write_bio_X509_REQ(b, req) == 1) {
		char *data;
		long n = BIO_get_mem_data(b, &data);
		*pem = malloc((size_t)n + 1);
		if (*pem != NULL) {
			memcpy(*pem, data, (size_t)n);
			(*pem)[n] = '\0';
			r = 0;
		}
	}
out:
	if (r == SIGNET_EINTERNAL) {
		log_openssl(LOG_LEVEL_ERR, "making a certificate request");
	}
	BIO_free(b);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(algor);
	OPENSSL_free(tbs);
	X509_REQ_free(req);
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	return r;
}

struct cert_arg {
	const uint8_t *id;
	const char *label;
	const uint8_t *der;
	size_t derlen;
	const uint8_t *subj;
	size_t subjlen;
};

static CK_RV
op_store_cert(struct hsm_session *s, void *arg)
{
	struct cert_arg *a = arg;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE obj;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)a->label, strlen(a->label)},
	    {CKA_ID, (void *)a->id, HSM_ID_LEN},
	    {CKA_SUBJECT, (void *)a->subj, a->subjlen},
	    {CKA_VALUE, (void *)a->der, a->derlen},
	};
	CK_RV rv;

	/* The new certificate first, then every other one under the key's id goes (the previous
	 * one, or what a try cut short left): a failure keeps the previous one. */
	hsm_objects_changed(s->h);
	if ((rv = s->h->f->C_CreateObject(s->handle, t, ARRAY_SIZE(t), &obj)) != CKR_OK) {
		return rv;
	}
	return hsm_destroy_by_id(s, a->id, &cls, obj);
}

int
hsm_key_store_cert(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], const char *label,
		   X509 *cert)
{
	unsigned char *der = NULL, *subj = NULL;
	int derlen = i2d_X509(cert, &der);
	int subjlen = i2d_X509_NAME(X509_get_subject_name(cert), &subj);
	struct cert_arg a = {id, label, der, (size_t)derlen, subj, (size_t)subjlen};
	CK_RV rv;
	int r;

	if (derlen <= 0 || subjlen <= 0) {
		OPENSSL_free(der);
		OPENSSL_free(subj);
		return SIGNET_EINVAL;
	}
	rv = hsm_run_create(s, op_store_cert, &a, NULL);
	r = hsm_err(rv, "storing a certificate");
	OPENSSL_free(der);
	OPENSSL_free(subj);
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/keys.c: generation and import, attributes, public keys, signatures, CSRs. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "hsm/internal.h"
#include "lib/error.h"
#include "tests/common/testtoken.h"

static const enum hsm_alg pair_algs[] = {
    HSM_ALG_ECC_NIST_P256, HSM_ALG_ECC_NIST_P384, HSM_ALG_RSA_3072,
    HSM_ALG_RSA_4096,      HSM_ALG_ED25519,
};
#define NPAIR (sizeof(pair_algs) / sizeof(pair_algs[0]))

/* One token for the file; the key pairs are made once (RSA-4096 takes its time). */
static struct test_token tok;
static struct hsm_key pairs[NPAIR];

static int
group_setup(void **state)
{
	(void)state;
	if (test_token_make(&tok, false) != 0) {
		return -1;
	}
	for (size_t i = 0; i < NPAIR; i++) {
		char label[32];
		snprintf(label, sizeof(label), "pair-%s", hsm_alg_name(pair_algs[i]));
		if (hsm_key_generate(tok.s, pair_algs[i], label, &pairs[i]) != 0) {
			fprintf(stderr, "cannot generate a %s key\n", hsm_alg_name(pair_algs[i]));
			return -1;
		}
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < NPAIR; i++) {
		hsm_key_clear(&pairs[i]);
	}
	test_token_free(&tok);
	return 0;
}

/* Read a CK_BBOOL attribute; fails the test when the token will not say. */
static CK_BBOOL
attr_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 0xff;
	CK_ATTRIBUTE a = {type, &v, sizeof(v)};

	assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, &a, 1), CKR_OK);
	assert_true(v == CK_TRUE || v == CK_FALSE);
	return v;
}

static CK_ULONG
attr_ulong(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_ULONG v = 0;
	CK_ATTRIBUTE a = {type, &v, sizeof(v)};

	assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, &a, 1), CKR_OK);
	return v;
}

/* How many objects of class CLS (any class: (CK_ULONG)-1) carry CKA_ID ID. */
static CK_ULONG
count_by_id(CK_OBJECT_CLASS cls, const uint8_t id[HSM_ID_LEN])
{
	CK_ATTRIBUTE t[] = {
	    {CKA_ID, (void *)id, HSM_ID_LEN},
	    {CKA_CLASS, &cls, sizeof(cls)},
	};
	CK_OBJECT_HANDLE objs[8];
	CK_ULONG n = 0;
	CK_FUNCTION_LIST *f = tok.h->f;

	assert_int_equal(f->C_FindObjectsInit(tok.s->handle, t, cls == (CK_ULONG)-1 ? 1 : 2),
			 CKR_OK);
	assert_int_equal(f->C_FindObjects(tok.s->handle, objs, 8, &n), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(tok.s->handle), CKR_OK);
	return n;
}

static CK_OBJECT_HANDLE
find(CK_OBJECT_CLASS cls, const uint8_t id[HSM_ID_LEN])
{
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;

	assert_int_equal(count_by_id(cls, id), 1);
	assert_int_equal(hsm_find_one(tok.s, cls, id, HSM_ID_LEN, &obj), CKR_OK);
	return obj;
}

/* The object's CKA_ID is ID, its CKA_LABEL LABEL. */
static void
assert_id_label(CK_OBJECT_HANDLE obj, const uint8_t id[HSM_ID_LEN], const char *label)
{
	uint8_t got_id[64];
	char got_label[64];
	CK_ATTRIBUTE a[] = {
	    {CKA_ID, got_id, sizeof(got_id)},
	    {CKA_LABEL, got_label, sizeof(got_label)},
	};

	assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, a, 2), CKR_OK);
	assert_int_equal(a[0].ulValueLen, HSM_ID_LEN);
	assert_memory_equal(got_id, id, HSM_ID_LEN);
	assert_int_equal(a[1].ulValueLen, strlen(label));
	assert_memory_equal(got_label, label, strlen(label));
}

/* What a key made in the token must be: sensitive, never extractable, private, made there. */
static void
assert_protected(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE secret_attr)
{
	uint8_t buf[1024];
	CK_ATTRIBUTE a = {secret_attr, buf, sizeof(buf)};

	assert_int_equal(attr_bool(obj, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_EXTRACTABLE), CK_FALSE);
	assert_int_equal(attr_bool(obj, CKA_PRIVATE), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_TOKEN), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_ALWAYS_SENSITIVE), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_NEVER_EXTRACTABLE), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_LOCAL), CK_TRUE);
	/* And the token will not hand out the secret part. */
	assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, &a, 1),
			 CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

/* The key OpenSSL reads from the PEM is the token's public key, of the right type and size. */
static void
assert_public_matches(const struct hsm_key *k)
{
	BIO *b = BIO_new_mem_buf(k->public_pem, -1);
	EVP_PKEY *pem = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	EVP_PKEY *pk = NULL;
	char group[64] = "";

	assert_non_null(pem);
	assert_int_equal(hsm_key_public(tok.s, k->alg, k->id, &pk), 0);
	assert_int_equal(EVP_PKEY_eq(pem, pk), 1);
	switch (k->alg) {
	case HSM_ALG_ECC_NIST_P256:
	case HSM_ALG_ECC_NIST_P384:
		assert_true(EVP_PKEY_is_a(pk, "EC"));
		assert_int_equal(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
								group, sizeof(group), NULL),
				 1);
		assert_string_equal(group,
				    k->alg == HSM_ALG_ECC_NIST_P256 ? "prime256v1" : "secp384r1");
		break;
	case HSM_ALG_RSA_3072:
	case HSM_ALG_RSA_4096:
		assert_true(EVP_PKEY_is_a(pk, "RSA"));
		assert_int_equal(EVP_PKEY_get_bits(pk), k->alg == HSM_ALG_RSA_3072 ? 3072 : 4096);
		break;
	default:
		assert_true(EVP_PKEY_is_a(pk, "ED25519"));
		break;
	}
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pem);
	BIO_free(b);
}

static void
test_alg_names(void **state)
{
	enum hsm_alg alg = HSM_ALG_COUNT;

	(void)state;
	for (int i = 0; i < HSM_ALG_COUNT; i++) {
		assert_int_equal(hsm_alg_parse(hsm_alg_name((enum hsm_alg)i), &alg), 0);
		assert_int_equal(alg, i);
		assert_int_equal(hsm_alg_is_secret((enum hsm_alg)i),
				 i == HSM_ALG_AES_128 || i == HSM_ALG_AES_256);
	}
	assert_string_equal(hsm_alg_name(HSM_ALG_ED25519), "ED25519");
	assert_string_equal(hsm_alg_name(HSM_ALG_COUNT), "UNKNOWN");
	assert_int_equal(hsm_alg_parse("RSA_2048", &alg), SIGNET_EINVAL);
	assert_int_equal(hsm_alg_parse("ecc_nist_p256", &alg), SIGNET_EINVAL);
	assert_int_equal(hsm_alg_parse(NULL, &alg), SIGNET_EINVAL);
}

/* Every algorithm's pair: attributes of both halves, the shared CKA_ID, the public key. */
static void
test_pair_attributes(void **state)
{
	static const CK_KEY_TYPE types[] = {CKK_EC, CKK_EC, CKK_RSA, CKK_RSA, CKK_EC_EDWARDS};

	(void)state;
	for (size_t i = 0; i < NPAIR; i++) {
		const struct hsm_key *k = &pairs[i];
		char label[32], why[128] = "";
		CK_OBJECT_HANDLE priv = find(CKO_PRIVATE_KEY, k->id);
		CK_OBJECT_HANDLE pub = find(CKO_PUBLIC_KEY, k->id);

		snprintf(label, sizeof(label), "pair-%s", hsm_alg_name(k->alg));
		assert_int_equal(k->alg, pair_algs[i]);
		assert_id_label(priv, k->id, label);
		assert_id_label(pub, k->id, label);
		assert_int_equal(attr_ulong(priv, CKA_KEY_TYPE), types[i]);
		assert_protected(priv, types[i] == CKK_RSA ? CKA_PRIVATE_EXPONENT : CKA_VALUE);
		/* A signing key signs and does nothing else. */
		assert_int_equal(attr_bool(priv, CKA_SIGN), CK_TRUE);
		assert_int_equal(attr_bool(priv, CKA_DECRYPT), CK_FALSE);
		assert_int_equal(attr_bool(priv, CKA_UNWRAP), CK_FALSE);
		assert_int_equal(attr_bool(priv, CKA_DERIVE), CK_FALSE);
		assert_int_equal(attr_bool(pub, CKA_VERIFY), CK_TRUE);
		assert_int_equal(attr_bool(pub, CKA_ENCRYPT), CK_FALSE);
		assert_int_equal(attr_bool(pub, CKA_PRIVATE), CK_FALSE);
		assert_int_equal(count_by_id((CK_ULONG)-1, k->id), 2);
		assert_int_equal(hsm_key_check(tok.s, k->alg, k->id, false, why, sizeof(why)), 0);
		assert_non_null(strstr(k->uri, "pkcs11:"));
		assert_non_null(strstr(k->uri, "token=" TEST_TOKEN_LABEL));
		assert_non_null(strstr(k->uri, label));
		assert_non_null(strstr(k->uri, "type=private"));
		assert_public_matches(k);
	}
}

/* What the algorithm signs: a SHA-256/384 digest, or (Ed25519) the message itself. */
static size_t
to_be_signed(enum hsm_alg alg, const char *msg, uint8_t *out)
{
	if (alg == HSM_ALG_ED25519) {
		memcpy(out, msg, strlen(msg));
		return strlen(msg);
	}
	if (alg == HSM_ALG_ECC_NIST_P384) {
		SHA384((const uint8_t *)msg, strlen(msg), out);
		return SHA384_DIGEST_LENGTH;
	}
	SHA256((const uint8_t *)msg, strlen(msg), out);
	return SHA256_DIGEST_LENGTH;
}

/* Signatures the public key verifies with OpenSSL, and that fail for any other message. */
static void
test_sign_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < NPAIR; i++) {
		const struct hsm_key *k = &pairs[i];
		uint8_t tbs[128], other[128], sig[1024], sig2[1024];
		size_t len = to_be_signed(k->alg, "the firmware image", tbs);
		size_t olen = to_be_signed(k->alg, "another firmware image", other);
		size_t siglen = sizeof(sig), siglen2 = sizeof(sig2);
		EVP_PKEY *pk = NULL;

		assert_int_equal(hsm_key_public(tok.s, k->alg, k->id, &pk), 0);
		assert_int_equal(hsm_sign(tok.s, k->alg, k->id, tbs, len, sig, &siglen), 0);
		assert_int_equal(test_verify(pk, k->alg, tbs, len, sig, siglen), 1);
		assert_int_equal(test_verify(pk, k->alg, other, olen, sig, siglen), 0);
		sig[siglen / 2] ^= 0x01;
		assert_int_equal(test_verify(pk, k->alg, tbs, len, sig, siglen), 0);
		sig[siglen / 2] ^= 0x01;
		assert_int_equal(hsm_sign(tok.s, k->alg, k->id, tbs, len, sig2, &siglen2), 0);
		assert_int_equal(test_verify(pk, k->alg, tbs, len, sig2, siglen2), 1);
		switch (k->alg) {
		case HSM_ALG_RSA_3072:
		case HSM_ALG_RSA_4096:
			assert_int_equal(siglen, k->alg == HSM_ALG_RSA_3072 ? 384 : 512);
			/* PSS: a fresh salt each time. */
			assert_memory_not_equal(sig, sig2, siglen);
			break;
		case HSM_ALG_ED25519:
			/* Deterministic: the same message, the same signature. */
			assert_int_equal(siglen, 64);
			assert_int_equal(siglen2, 64);
			assert_memory_equal(sig, sig2, 64);
			break;
		default:
			assert_int_equal(sig[0], 0x30); /* DER, not PKCS#11's r || s */
			break;
		}
		EVP_PKEY_free(pk);
	}
}

static void
test_sign_refusals(void **state)
{
	uint8_t md[64] = {1}, sig[1024], unknown[HSM_ID_LEN] = {0xee};
	size_t siglen;
	const struct hsm_key *p256 = &pairs[0], *p384 = &pairs[1], *rsa = &pairs[2];

	(void)state;
	/* A digest of the wrong length for the algorithm. */
	siglen = sizeof(sig);
	assert_int_equal(hsm_sign(tok.s, p256->alg, p256->id, md, 31, sig, &siglen), SIGNET_EINVAL);
	assert_int_equal(hsm_sign(tok.s, p256->alg, p256->id, md, 48, sig, &siglen), SIGNET_EINVAL);
	assert_int_equal(hsm_sign(tok.s, p384->alg, p384->id, md, 32, sig, &siglen), SIGNET_EINVAL);
	assert_int_equal(hsm_sign(tok.s, rsa->alg, rsa->id, md, 48, sig, &siglen), SIGNET_EINVAL);
	assert_int_equal(hsm_sign(tok.s, rsa->alg, rsa->id, md, 0, sig, &siglen), SIGNET_EINVAL);
	/* Secret-key algorithms and unknown ones do not sign. */
	assert_int_equal(hsm_sign(tok.s, HSM_ALG_AES_256, p256->id, md, 32, sig, &siglen),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_sign(tok.s, HSM_ALG_COUNT, p256->id, md, 32, sig, &siglen),
			 SIGNET_EINVAL);
	/* No key with that id. */
	assert_int_equal(hsm_sign(tok.s, p256->alg, unknown, md, 32, sig, &siglen),
			 SIGNET_ENOTFOUND);
	/*
	 * An output buffer too small is an error, never an overflow, and the
	 * session stays usable: C_Sign's CKR_BUFFER_TOO_SMALL leaves the
	 * operation active, which used to fail every later call on the session
	 * with CKR_OPERATION_ACTIVE.
	 */
	for (size_t i = 0; i < NPAIR; i++) {
		const struct hsm_key *k = &pairs[i];
		EVP_PKEY *pk = NULL;
		uint8_t tbs[64];
		size_t len = to_be_signed(k->alg, "x", tbs);

		siglen = 16;
		assert_int_equal(hsm_sign(tok.s, k->alg, k->id, tbs, len, sig, &siglen),
				 SIGNET_EINTERNAL);
		siglen = sizeof(sig);
		assert_int_equal(hsm_sign(tok.s, k->alg, k->id, tbs, len, sig, &siglen), 0);
		assert_int_equal(hsm_key_public(tok.s, k->alg, k->id, &pk), 0);
		assert_int_equal(test_verify(pk, k->alg, tbs, len, sig, siglen), 1);
		EVP_PKEY_free(pk);
	}
	/* The public key of no key, or of a secret-key algorithm. */
	{
		EVP_PKEY *pk = (EVP_PKEY *)1;
		assert_int_equal(hsm_key_public(tok.s, p256->alg, unknown, &pk), SIGNET_ENOTFOUND);
		assert_null(pk);
		pk = (EVP_PKEY *)1;
		assert_int_equal(hsm_key_public(tok.s, HSM_ALG_AES_128, p256->id, &pk),
				 SIGNET_EINVAL);
		assert_null(pk);
		pk = (EVP_PKEY *)1;
		assert_int_equal(hsm_key_public(tok.s, HSM_ALG_COUNT, p256->id, &pk),
				 SIGNET_EINVAL);
		assert_null(pk);
	}
}

static void
test_csr(void **state)
{
	static const int sig_nids[] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
				       NID_sha256WithRSAEncryption, NID_sha256WithRSAEncryption,
				       NID_ED25519};

	(void)state;
	for (size_t i = 0; i < NPAIR; i++) {
		const struct hsm_key *k = &pairs[i];
		char *pem = NULL, cn[64] = "";
		EVP_PKEY *pk = NULL, *reqpk;
		X509_REQ *req;
		BIO *b;

		assert_int_equal(
		    hsm_key_csr(tok.s, k->alg, k->id, "/CN=signet test/O=Example Org", &pem), 0);
		assert_non_null(pem);
		b = BIO_new_mem_buf(pem, -1);
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		assert_non_null(req);
		assert_int_equal(hsm_key_public(tok.s, k->alg, k->id, &pk), 0);
		reqpk = X509_REQ_get0_pubkey(req);
		assert_int_equal(EVP_PKEY_eq(reqpk, pk), 1);
		assert_int_equal(X509_REQ_verify(req, pk), 1);
		assert_int_equal(X509_REQ_get_signature_nid(req), sig_nids[i]);
		assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
						      NID_commonName, cn, sizeof(cn)) > 0);
		assert_string_equal(cn, "signet test");
		assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
						      NID_organizationName, cn, sizeof(cn)) > 0);
		assert_string_equal(cn, "Example Org");
		X509_REQ_free(req);
		BIO_free(b);
		EVP_PKEY_free(pk);
		free(pem);
	}
	{
		char *pem = (char *)1;
		uint8_t unknown[HSM_ID_LEN] = {0xee};
		assert_int_equal(hsm_key_csr(tok.s, pairs[0].alg, pairs[0].id, "CN=x", &pem),
				 SIGNET_EINVAL);
		assert_null(pem);
		assert_int_equal(hsm_key_csr(tok.s, HSM_ALG_AES_256, pairs[0].id, "/CN=x", &pem),
				 SIGNET_EINVAL);
		assert_int_equal(hsm_key_csr(tok.s, HSM_ALG_COUNT, pairs[0].id, "/CN=x", &pem),
				 SIGNET_EINVAL);
		assert_int_equal(hsm_key_csr(tok.s, pairs[0].alg, unknown, "/CN=x", &pem),
				 SIGNET_ENOTFOUND);
		assert_null(pem);
	}
}

static void
test_parse_subject(void **state)
{
	X509_NAME *n;
	char buf[64], many[512] = "";

	(void)state;
	n = hsm_parse_subject("/CN=a b/O=c/C=DE");
	assert_non_null(n);
	assert_int_equal(X509_NAME_entry_count(n), 3);
	assert_true(X509_NAME_get_text_by_NID(n, NID_countryName, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "DE");
	X509_NAME_free(n);
	for (int i = 0; i < 16; i++) {
		strcat(many, "/OU=x");
	}
	n = hsm_parse_subject(many);
	assert_non_null(n);
	X509_NAME_free(n);
	strcat(many, "/OU=x"); /* 17 */
	assert_null(hsm_parse_subject(many));
	assert_null(hsm_parse_subject(NULL));
	assert_null(hsm_parse_subject(""));
	assert_null(hsm_parse_subject("/"));
	assert_null(hsm_parse_subject("CN=x"));
	assert_null(hsm_parse_subject("/CN"));
	assert_null(hsm_parse_subject("/=x"));
	assert_null(hsm_parse_subject("/CN="));
	assert_null(hsm_parse_subject("/NOSUCHATTR=x"));
}

static void
test_store_cert(void **state)
{
	const struct hsm_key *k = &pairs[0];
	EVP_PKEY *ca_key = NULL, *pk = NULL;
	X509 *ca = NULL, *c1, *c2;
	CK_OBJECT_HANDLE obj;
	uint8_t *der = NULL, *value = NULL;
	int derlen;

	(void)state;
	assert_int_equal(test_ca_make("test CA", &ca_key, &ca), 0);
	assert_int_equal(hsm_key_public(tok.s, k->alg, k->id, &pk), 0);
	c1 = test_cert_issue(pk, "leaf one", ca_key, ca);
	c2 = test_cert_issue(pk, "leaf two", ca_key, ca);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_int_equal(hsm_key_store_cert(tok.s, k->id, "cert", c1), 0);
	assert_int_equal(hsm_key_store_cert(tok.s, k->id, "cert", c2), 0);
	/* The second replaced the first: one certificate, the second's bytes. */
	obj = find(CKO_CERTIFICATE, k->id);
	derlen = i2d_X509(c2, &der);
	{
		CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};
		assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, &a, 1), CKR_OK);
		assert_int_equal(a.ulValueLen, derlen);
		value = malloc(a.ulValueLen);
		a.pValue = value;
		assert_int_equal(tok.h->f->C_GetAttributeValue(tok.s->handle, obj, &a, 1), CKR_OK);
		assert_memory_equal(value, der, (size_t)derlen);
	}
	assert_id_label(obj, k->id, "cert");
	free(value);
	OPENSSL_free(der);
	X509_free(c1);
	X509_free(c2);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(pk);
}

static void
test_aes_generate(void **state)
{
	static const enum hsm_alg algs[] = {HSM_ALG_AES_256, HSM_ALG_AES_128};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct hsm_key k;
		char why[128] = "";
		CK_OBJECT_HANDLE obj;
		EVP_PKEY *pk = NULL;

		assert_int_equal(hsm_key_generate(tok.s, algs[i], "aes", &k), 0);
		assert_int_equal(k.alg, algs[i]);
		assert_null(k.public_pem);
		assert_non_null(strstr(k.uri, "type=secret-key"));
		obj = find(CKO_SECRET_KEY, k.id);
		assert_int_equal(count_by_id((CK_ULONG)-1, k.id), 1);
		assert_id_label(obj, k.id, "aes");
		assert_int_equal(attr_ulong(obj, CKA_KEY_TYPE), CKK_AES);
		assert_int_equal(attr_ulong(obj, CKA_VALUE_LEN),
				 algs[i] == HSM_ALG_AES_256 ? 32 : 16);
		assert_protected(obj, CKA_VALUE);
		assert_int_equal(attr_bool(obj, CKA_ENCRYPT), CK_TRUE);
		assert_int_equal(attr_bool(obj, CKA_WRAP), CK_FALSE);
		assert_int_equal(attr_bool(obj, CKA_UNWRAP), CK_FALSE);
		assert_int_equal(attr_bool(obj, CKA_SIGN), CK_FALSE);
		assert_int_equal(attr_bool(obj, CKA_DERIVE), CK_FALSE);
		assert_int_equal(hsm_key_check(tok.s, k.alg, k.id, false, why, sizeof(why)), 0);
		assert_int_equal(hsm_key_public(tok.s, k.alg, k.id, &pk), SIGNET_EINVAL);
		assert_int_equal(hsm_key_destroy(tok.s, k.alg, k.id), 0);
		assert_int_equal(count_by_id((CK_ULONG)-1, k.id), 0);
		hsm_key_clear(&k);
	}
}

static void
test_aes_import(void **state)
{
	uint8_t key[32], other[HSM_ID_LEN];
	struct hsm_key k, k2;
	char why[128] = "";
	CK_OBJECT_HANDLE obj;

	(void)state;
	memset(key, 0x42, sizeof(key));
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_AES_256, "imp", key, 32, &k), 0);
	obj = find(CKO_SECRET_KEY, k.id);
	assert_int_equal(attr_bool(obj, CKA_SENSITIVE), CK_TRUE);
	assert_int_equal(attr_bool(obj, CKA_EXTRACTABLE), CK_FALSE);
	assert_int_equal(attr_bool(obj, CKA_LOCAL), CK_FALSE);
	assert_int_equal(attr_ulong(obj, CKA_VALUE_LEN), 32);
	/* Sensitive and unextractable now; not LOCAL, so it is not passed off as generated. */
	assert_int_equal(hsm_key_check(tok.s, k.alg, k.id, true, why, sizeof(why)), 0);
	assert_int_equal(hsm_key_check(tok.s, k.alg, k.id, false, why, sizeof(why)),
			 SIGNET_EDENIED);
	assert_non_null(strstr(why, "CKA_LOCAL"));
	/* Two imports of the same bytes are two keys with ids of their own. */
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_AES_256, "imp", key, 32, &k2), 0);
	assert_memory_not_equal(k.id, k2.id, HSM_ID_LEN);
	memcpy(other, k2.id, HSM_ID_LEN);
	assert_int_equal(hsm_key_destroy(tok.s, k.alg, k.id), 0);
	assert_int_equal(hsm_key_check(tok.s, k.alg, k.id, true, why, sizeof(why)),
			 SIGNET_ENOTFOUND);
	assert_int_equal(hsm_key_check(tok.s, k2.alg, other, true, why, sizeof(why)), 0);
	assert_int_equal(hsm_key_destroy(tok.s, k2.alg, other), 0);
	/* Wrong lengths and algorithms. */
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_AES_256, "imp", key, 16, &k),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_AES_128, "imp", key, 32, &k),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_AES_128, "imp", key, 0, &k),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_RSA_3072, "imp", key, 32, &k),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_key_import_aes(tok.s, HSM_ALG_COUNT, "imp", key, 32, &k),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_key_generate(tok.s, HSM_ALG_COUNT, "x", &k), SIGNET_EINVAL);
	hsm_key_clear(&k);
	hsm_key_clear(&k2);
}

/* A secret key object made by someone else, without the protections hsm_key_check demands. */
static void
weak_key(const uint8_t id[HSM_ID_LEN], CK_BBOOL sensitive, CK_BBOOL extractable, CK_BBOOL private)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL yes = CK_TRUE;
	uint8_t value[32] = {9};
	CK_OBJECT_HANDLE obj;
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
	    {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
	    {CKA_PRIVATE, &private, sizeof(private)},
	    {CKA_VALUE, value, sizeof(value)},
	    {CKA_ID, (void *)id, HSM_ID_LEN},
	};

	assert_int_equal(tok.h->f->C_CreateObject(tok.s->handle, a, 8, &obj), CKR_OK);
	hsm_objects_changed(tok.h);
}

static void
test_key_check_refusals(void **state)
{
	uint8_t id[HSM_ID_LEN];
	char why[128];

	(void)state;
	memset(id, 0x01, sizeof(id));
	weak_key(id, CK_FALSE, CK_FALSE, CK_TRUE);
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, true, why, sizeof(why)),
			 SIGNET_EDENIED);
	assert_string_equal(why, "CKA_SENSITIVE is false");
	memset(id, 0x02, sizeof(id));
	weak_key(id, CK_TRUE, CK_TRUE, CK_TRUE);
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, true, why, sizeof(why)),
			 SIGNET_EDENIED);
	assert_string_equal(why, "CKA_EXTRACTABLE is true");
	memset(id, 0x03, sizeof(id));
	weak_key(id, CK_TRUE, CK_FALSE, CK_FALSE);
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, true, why, sizeof(why)),
			 SIGNET_EDENIED);
	assert_string_equal(why, "CKA_PRIVATE is false");
	/* Made outside and imported: never LOCAL, so "generated" is refused. */
	memset(id, 0x04, sizeof(id));
	weak_key(id, CK_TRUE, CK_FALSE, CK_TRUE);
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, true, why, sizeof(why)), 0);
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, false, why, sizeof(why)),
			 SIGNET_EDENIED);
	memset(id, 0x05, sizeof(id));
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_AES_256, id, true, why, sizeof(why)),
			 SIGNET_ENOTFOUND);
	assert_string_equal(why, "the key is no longer in the token");
	/* A pair's private key is looked for, not the secret key of the same id. */
	memset(id, 0x04, sizeof(id));
	assert_int_equal(hsm_key_check(tok.s, HSM_ALG_ECC_NIST_P256, id, true, why, sizeof(why)),
			 SIGNET_ENOTFOUND);
}

/* Destroying a pair removes its every object: private, public and certificate. */
static void
test_destroy(void **state)
{
	struct hsm_key k;
	EVP_PKEY *pk = NULL, *ca_key = NULL;
	X509 *ca = NULL, *c;
	char why[128];
	uint8_t md[32] = {3}, sig[256];
	size_t siglen = sizeof(sig);

	(void)state;
	assert_int_equal(hsm_key_generate(tok.s, HSM_ALG_ED25519, "gone", &k), 0);
	assert_int_equal(hsm_key_public(tok.s, k.alg, k.id, &pk), 0);
	assert_int_equal(test_ca_make("test CA", &ca_key, &ca), 0);
	c = test_cert_issue(pk, "gone", ca_key, ca);
	assert_non_null(c);
	assert_int_equal(hsm_key_store_cert(tok.s, k.id, "gone", c), 0);
	assert_int_equal(count_by_id((CK_ULONG)-1, k.id), 3);
	assert_int_equal(hsm_sign(tok.s, k.alg, k.id, md, sizeof(md), sig, &siglen), 0);
	assert_int_equal(hsm_key_destroy(tok.s, k.alg, k.id), 0);
	assert_int_equal(count_by_id((CK_ULONG)-1, k.id), 0);
	assert_int_equal(hsm_key_check(tok.s, k.alg, k.id, false, why, sizeof(why)),
			 SIGNET_ENOTFOUND);
	siglen = sizeof(sig);
	assert_int_equal(hsm_sign(tok.s, k.alg, k.id, md, sizeof(md), sig, &siglen),
			 SIGNET_ENOTFOUND);
	/* Destroying what is not there is no error. */
	assert_int_equal(hsm_key_destroy(tok.s, k.alg, k.id), 0);
	X509_free(c);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(pk);
	hsm_key_clear(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alg_names),   cmocka_unit_test(test_pair_attributes),
	    cmocka_unit_test(test_sign_verify), cmocka_unit_test(test_sign_refusals),
	    cmocka_unit_test(test_csr),         cmocka_unit_test(test_parse_subject),
	    cmocka_unit_test(test_store_cert),  cmocka_unit_test(test_aes_generate),
	    cmocka_unit_test(test_aes_import),  cmocka_unit_test(test_key_check_refusals),
	    cmocka_unit_test(test_destroy),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

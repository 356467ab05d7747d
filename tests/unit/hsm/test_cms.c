/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/cms.c: detached CMS SignedData made by token keys, verified by OpenSSL. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "hsm/crypt.h"
#include "lib/error.h"
#include "tests/common/testtoken.h"

static const enum hsm_alg algs[] = {
    HSM_ALG_ECC_NIST_P256, HSM_ALG_ECC_NIST_P384, HSM_ALG_RSA_3072,
    HSM_ALG_RSA_4096,      HSM_ALG_ED25519,
};
#define NALG (sizeof(algs) / sizeof(algs[0]))

static const char content[] = "the firmware image, signed by the token";

static struct test_token tok;
static struct hsm_key keys[NALG];
static X509 *certs[NALG];
static EVP_PKEY *ca_key;
static X509 *ca;

static int
group_setup(void **state)
{
	(void)state;
	if (test_token_make(&tok, false) != 0 ||
	    test_ca_make("signet test CA", &ca_key, &ca) != 0) {
		return -1;
	}
	for (size_t i = 0; i < NALG; i++) {
		EVP_PKEY *pk = NULL;
		if (hsm_key_generate(tok.s, algs[i], "cms", &keys[i]) != 0 ||
		    hsm_key_public(tok.s, algs[i], keys[i].id, &pk) != 0) {
			return -1;
		}
		certs[i] = test_cert_issue(pk, hsm_alg_name(algs[i]), ca_key, ca);
		EVP_PKEY_free(pk);
		if (certs[i] == NULL) {
			return -1;
		}
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < NALG; i++) {
		hsm_key_clear(&keys[i]);
		X509_free(certs[i]);
	}
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	test_token_free(&tok);
	return 0;
}

/* The content digest each algorithm's SignedData carries (cms.h). */
static const EVP_MD *
md_of(enum hsm_alg alg)
{
	return alg == HSM_ALG_ECC_NIST_P384 ? EVP_sha384()
	       : alg == HSM_ALG_ED25519     ? EVP_sha512()
					    : EVP_sha256();
}

static size_t
digest_of(enum hsm_alg alg, const void *data, size_t len, uint8_t *out)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, md_of(alg), NULL), 1);
	return n;
}

static CMS_ContentInfo *
parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);

	assert_non_null(cms);
	assert_ptr_equal(p, der + len);
	return cms;
}

/* RSA and ECDSA: CMS_verify against the CA alone, with the detached content. */
static int
openssl_verifies(CMS_ContentInfo *cms, const void *data, size_t len)
{
	X509_STORE *store = X509_STORE_new();
	BIO *in = BIO_new_mem_buf(data, (int)len);
	int ok;

	assert_non_null(store);
	assert_non_null(in);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	ok = CMS_verify(cms, NULL, store, in, NULL, CMS_BINARY);
	ERR_clear_error();
	BIO_free(in);
	X509_STORE_free(store);
	return ok;
}

/*
 * Ed25519 (OpenSSL 3.0's CMS_verify cannot, openssl#11915): the signature
 * over the DER signed attributes as received, with the certificate's key,
 * and the messageDigest attribute against SHA-512 of the content.
 */
static int
eddsa_verifies(CMS_ContentInfo *cms, X509 *cert, const void *data, size_t len)
{
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
	ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
	ASN1_OCTET_STRING *md;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	unsigned char *tbs = NULL;
	uint8_t want[64];
	int tbslen, ok;

	for (int i = 0; i < CMS_signed_get_attr_count(si); i++) {
		sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i));
	}
	tbslen = ASN1_item_i2d((ASN1_VALUE *)attrs, &tbs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
					 V_ASN1_OCTET_STRING);
	digest_of(HSM_ALG_ED25519, data, len, want);
	ok = tbslen > 0 && md != NULL && ASN1_STRING_length(md) == 64 &&
	     memcmp(ASN1_STRING_get0_data(md), want, 64) == 0 &&
	     EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, X509_get0_pubkey(cert), NULL) ==
		 1 &&
	     EVP_DigestVerify(mctx, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
			      tbs, (size_t)tbslen) == 1;
	ERR_clear_error();
	OPENSSL_free(tbs);
	EVP_MD_CTX_free(mctx);
	sk_X509_ATTRIBUTE_free(attrs);
	return ok;
}

static int
verifies(enum hsm_alg alg, CMS_ContentInfo *cms, X509 *cert, const void *data, size_t len)
{
	return alg == HSM_ALG_ED25519 ? eddsa_verifies(cms, cert, data, len)
				      : openssl_verifies(cms, data, len);
}

static void
test_sign_verify(void **state)
{
	static const int sig_nids[] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384, NID_rsassaPss,
				       NID_rsassaPss, NID_ED25519};

	(void)state;
	for (size_t i = 0; i < NALG; i++) {
		STACK_OF(X509) *chain = sk_X509_new_null();
		uint8_t md[64], *der = NULL;
		size_t mdlen = digest_of(algs[i], content, sizeof(content), md), derlen = 0;
		CMS_ContentInfo *cms;
		CMS_SignerInfo *si;
		X509_ALGOR *dig = NULL, *sigalg = NULL;
		const ASN1_OBJECT *oid;
		ASN1_OCTET_STRING **pos;
		STACK_OF(X509) *included;

		sk_X509_push(chain, ca);
		assert_int_equal(hsm_cms_sign_detached(tok.s, algs[i], keys[i].id, certs[i], chain,
						       md, mdlen, &der, &derlen),
				 0);
		assert_non_null(der);
		cms = parse(der, derlen);
		assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
		/* Detached: the content is not in it. */
		pos = CMS_get0_content(cms);
		assert_true(pos == NULL || *pos == NULL);
		assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
		si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sigalg);
		X509_ALGOR_get0(&oid, NULL, NULL, sigalg);
		assert_int_equal(OBJ_obj2nid(oid), sig_nids[i]);
		X509_ALGOR_get0(&oid, NULL, NULL, dig);
		assert_int_equal(OBJ_obj2nid(oid), EVP_MD_get_type(md_of(algs[i])));
		/* The signer's certificate and the chain are included, once each. */
		included = CMS_get1_certs(cms);
		assert_int_equal(sk_X509_num(included), 2);
		sk_X509_pop_free(included, X509_free);

		assert_int_equal(verifies(algs[i], cms, certs[i], content, sizeof(content)), 1);
		/* Another content does not verify. */
		assert_int_equal(verifies(algs[i], cms, certs[i], "other", 5), 0);
		CMS_ContentInfo_free(cms);
		/* One flipped bit in the signature, and it no longer verifies. */
		der[derlen - 10] ^= 0x01;
		cms = parse(der, derlen);
		assert_int_equal(verifies(algs[i], cms, certs[i], content, sizeof(content)), 0);
		CMS_ContentInfo_free(cms);
		OPENSSL_free(der);
		sk_X509_free(chain);
	}
}

/* The signer listed in its own chain, and a repeated certificate: each included once. */
static void
test_chain_duplicates(void **state)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	STACK_OF(X509) *included;
	uint8_t md[32], *der = NULL;
	size_t derlen = 0;
	CMS_ContentInfo *cms;

	(void)state;
	digest_of(algs[0], content, sizeof(content), md);
	sk_X509_push(chain, certs[0]);
	sk_X509_push(chain, ca);
	sk_X509_push(chain, ca);
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, certs[0], chain, md, 32,
					       &der, &derlen),
			 0);
	cms = parse(der, derlen);
	included = CMS_get1_certs(cms);
	assert_int_equal(sk_X509_num(included), 2);
	assert_int_equal(openssl_verifies(cms, content, sizeof(content)), 1);
	sk_X509_pop_free(included, X509_free);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
	/* No chain at all: the signer's certificate alone; the CA is then found in the store. */
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, certs[0], NULL, md, 32,
					       &der, &derlen),
			 0);
	cms = parse(der, derlen);
	included = CMS_get1_certs(cms);
	assert_int_equal(sk_X509_num(included), 1);
	assert_int_equal(openssl_verifies(cms, content, sizeof(content)), 1);
	sk_X509_pop_free(included, X509_free);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
	sk_X509_free(chain);
}

static void
test_refusals(void **state)
{
	uint8_t md[64] = {1}, *der = (uint8_t *)1, unknown[HSM_ID_LEN] = {0xee};
	size_t derlen = 1;

	(void)state;
	/* The digest must be the algorithm's: SHA-256 is not enough for P-384 or Ed25519. */
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, certs[0], NULL, md, 48,
					       &der, &derlen),
			 SIGNET_EINVAL);
	assert_null(der);
	assert_int_equal(derlen, 0);
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[1], keys[1].id, certs[1], NULL, md, 32,
					       &der, &derlen),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[4], keys[4].id, certs[4], NULL, md, 32,
					       &der, &derlen),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, certs[0], NULL, NULL, 32,
					       &der, &derlen),
			 SIGNET_EINVAL);
	/* A certificate of another key. */
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, certs[1], NULL, md, 32,
					       &der, &derlen),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_cms_sign_detached(tok.s, algs[2], keys[2].id, certs[3], NULL, md, 32,
					       &der, &derlen),
			 SIGNET_EINVAL);
	assert_null(der);
	/* No signer, no key algorithm that signs, no such key. */
	assert_int_equal(
	    hsm_cms_sign_detached(tok.s, algs[0], keys[0].id, NULL, NULL, md, 32, &der, &derlen),
	    SIGNET_EINVAL);
	assert_int_equal(hsm_cms_sign_detached(tok.s, HSM_ALG_AES_256, keys[0].id, certs[0], NULL,
					       md, 32, &der, &derlen),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_cms_sign_detached(tok.s, HSM_ALG_COUNT, keys[0].id, certs[0], NULL, md,
					       32, &der, &derlen),
			 SIGNET_EINVAL);
	assert_int_equal(
	    hsm_cms_sign_detached(tok.s, algs[0], unknown, certs[0], NULL, md, 32, &der, &derlen),
	    SIGNET_ENOTFOUND);
	assert_null(der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_verify),
	    cmocka_unit_test(test_chain_duplicates),
	    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

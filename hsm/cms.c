/* SPDX-License-Identifier: Apache-2.0 */
/* Detached CMS signatures made by token keys: OpenSSL builds the structure, the token signs. */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hsm/crypt.h"
#include "lib/error.h"
#include "lib/log.h"

#define CMS_SIG_MAX 1024 /* room for any signature hsm_sign makes (RSA-4096: 512) */

/* How the signer signs: the digest, the signatureAlgorithm, what the token gets. */
struct cms_scheme {
	const EVP_MD *md; /* digestAlgorithm; also hashes the attributes unless pure */
	int sig_nid;      /* signatureAlgorithm */
	bool pure;        /* the token signs the attribute bytes themselves (EdDSA) */
	struct hsm_sign_params p;
};

/* The CMS form of P: ECDSA signatures are always DER there (RFC 5753). */
static int
cms_scheme_of(enum hsm_alg alg, const struct hsm_sign_params *p, struct cms_scheme *sc)
{
	static const int ecdsa_nid[HSM_HASH_COUNT] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
						      NID_ecdsa_with_SHA512};
	char why[160];

	memset(sc, 0, sizeof(*sc));
	sc->p = *p;
	sc->p.raw = false;
	if (hsm_sign_params_check(alg, &sc->p, why, sizeof(why)) != 0) {
		log_err("cms: %s", why);
		return SIGNET_EINVAL;
	}
	sc->md = hsm_hash_md(p->hash);
	switch (p->scheme) {
	case HSM_SCHEME_ECDSA:
		sc->sig_nid = ecdsa_nid[p->hash];
		break;
	case HSM_SCHEME_RSA_PSS:
		sc->sig_nid = NID_rsassaPss;
		break;
	case HSM_SCHEME_RSA_PKCS1_V15:
		sc->sig_nid = NID_rsaEncryption; /* RFC 3370 3.2: what OpenSSL writes, too */
		break;
	case HSM_SCHEME_EDDSA:
		/* RFC 8419: pure Ed25519 over the attributes, SHA-512 for the content. */
		sc->md = EVP_sha512();
		sc->sig_nid = NID_ED25519;
		sc->pure = true;
		break;
	default:
		return SIGNET_EINVAL;
	}
	return 0;
}

/* RSASSA-PSS-params (RFC 4055): the scheme's hash, MGF1 with the same hash, its salt, trailer 1. */
static ASN1_STRING *
pss_params_der(const struct cms_scheme *sc)
{
	RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
	X509_ALGOR *mgf_md = X509_ALGOR_new();
	ASN1_STRING *mgf_param = NULL, *der = NULL;

	if (pss == NULL || mgf_md == NULL) {
		goto out;
	}
	pss->hashAlgorithm = X509_ALGOR_new();
	pss->maskGenAlgorithm = X509_ALGOR_new();
	pss->saltLength = ASN1_INTEGER_new();
	if (pss->hashAlgorithm == NULL || pss->maskGenAlgorithm == NULL ||
	    pss->saltLength == NULL || !ASN1_INTEGER_set(pss->saltLength, (long)sc->p.salt_len)) {
		goto out;
	}
	X509_ALGOR_set_md(pss->hashAlgorithm, sc->md);
	X509_ALGOR_set_md(mgf_md, sc->md);
	if (ASN1_item_pack(mgf_md, ASN1_ITEM_rptr(X509_ALGOR), &mgf_param) == NULL ||
	    !X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE,
			     mgf_param)) {
		goto out;
	}
	mgf_param = NULL;
	der = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL);
out:
	ASN1_STRING_free(mgf_param);
	X509_ALGOR_free(mgf_md);
	RSA_PSS_PARAMS_free(pss);
	return der;
}

static bool
signature_algorithm_set(CMS_SignerInfo *si, const struct cms_scheme *sc)
{
	X509_ALGOR *sigalg = NULL;
	ASN1_STRING *params;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sigalg);
	if (sigalg == NULL) {
		return false;
	}
	/* rsaEncryption takes NULL; ECDSA (RFC 5758) and Ed25519 (RFC 8410) nothing at all. */
	if (sc->sig_nid == NID_rsaEncryption) {
		return X509_ALGOR_set0(sigalg, OBJ_nid2obj(sc->sig_nid), V_ASN1_NULL, NULL) == 1;
	}
	if (sc->sig_nid != NID_rsassaPss) {
		return X509_ALGOR_set0(sigalg, OBJ_nid2obj(sc->sig_nid), V_ASN1_UNDEF, NULL) == 1;
	}
	params = pss_params_der(sc);
	if (params == NULL ||
	    !X509_ALGOR_set0(sigalg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params)) {
		ASN1_STRING_free(params);
		return false;
	}
	return true;
}

/* contentType (id-data), signingTime (now) and messageDigest (the caller's digest). */
static bool
signed_attrs_add(CMS_SignerInfo *si, const uint8_t *digest, size_t digest_len)
{
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	bool ok;

	ok = now != NULL &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
					 OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, ASN1_STRING_type(now), now,
					 -1) == 1 &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest,
					 (int)digest_len) == 1;
	ASN1_TIME_free(now);
	return ok;
}

/*
 * The bytes RFC 5652 §5.4 signs: the signed attributes as a SET OF (tag
 * 0x31). OpenSSL exports no encoder for its CMS items, but PKCS7_ATTR_SIGN
 * is the same SET OF X509_ATTRIBUTE in DER order (the order the CMS encoder
 * writes them in), and PKCS7_ATTR_VERIFY keeps the order as received.
 */
static int
signed_attrs_der(CMS_SignerInfo *si, const ASN1_ITEM *it, unsigned char **der)
{
	STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
	int n = CMS_signed_get_attr_count(si);
	int len = -1;

	*der = NULL;
	if (attrs == NULL) {
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i))) {
			goto out;
		}
	}
	if (n > 0) {
		len = ASN1_item_i2d((ASN1_VALUE *)attrs, der, it);
	}
out:
	/* The stack borrows the SignerInfo's attributes. */
	sk_X509_ATTRIBUTE_free(attrs);
	return len;
}

/* Have the token sign the DER attributes: a digest of them, or the bytes themselves (Ed25519). */
static int
signed_attrs_sign(struct hsm_session *s, enum hsm_alg alg, const uint8_t *id,
		  const struct cms_scheme *sc, const unsigned char *tbs, size_t tbslen,
		  uint8_t *sig, size_t *siglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (sc->pure) {
		return hsm_sign_ex(s, alg, id, &sc->p, tbs, tbslen, sig, siglen);
	}
	if (EVP_Digest(tbs, tbslen, md, &mdlen, sc->md, NULL) != 1) {
		return SIGNET_EINTERNAL;
	}
	return hsm_sign_ex(s, alg, id, &sc->p, md, mdlen, sig, siglen);
}

/* Add the chain, skipping the signer and repeats: OpenSSL 3.0 fails on a duplicate. */
static bool
chain_add(CMS_ContentInfo *cms, X509 *signer, STACK_OF(X509) *chain)
{
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		bool dup = X509_cmp(c, signer) == 0;

		for (int j = 0; j < i && !dup; j++) {
			dup = X509_cmp(c, sk_X509_value(chain, j)) == 0;
		}
		if (!dup && CMS_add1_cert(cms, c) != 1) {
			return false;
		}
	}
	return true;
}

/*
 * Pure Ed25519 over the signed attributes as received. OpenSSL 3.0's
 * CMS_SignerInfo_verify cannot check EdDSA: it hands the digestAlgorithm
 * (SHA-512) to a signature scheme that takes no digest, and fails.
 */
static bool
eddsa_verifies(CMS_SignerInfo *si, X509 *signer)
{
	ASN1_OCTET_STRING *sig = CMS_SignerInfo_get0_signature(si);
	X509_ALGOR *sigalg = NULL;
	const ASN1_OBJECT *oid = NULL;
	unsigned char *tbs = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int tbslen;
	bool ok = false;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sigalg);
	if (sigalg != NULL) {
		X509_ALGOR_get0(&oid, NULL, NULL, sigalg);
	}
	tbslen = signed_attrs_der(si, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY), &tbs);
	ok = mctx != NULL && sig != NULL && tbslen > 0 && OBJ_obj2nid(oid) == NID_ED25519 &&
	     EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, X509_get0_pubkey(signer),
				     NULL) == 1 &&
	     EVP_DigestVerify(mctx, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
			      tbs, (size_t)tbslen) == 1;
	OPENSSL_free(tbs);
	EVP_MD_CTX_free(mctx);
	return ok;
}

/*
 * Check the finished structure the way a verifier will: parse the DER and
 * verify the signature over the signed attributes as encoded there.
 */
static bool
signature_verifies(const unsigned char *der, size_t derlen, X509 *signer,
		   const struct cms_scheme *sc)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	bool ok = false;

	if (cms == NULL || p != der + derlen) {
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (sc->pure) {
		ok = eddsa_verifies(si, signer);
	} else {
		CMS_SignerInfo_set1_signer_cert(si, signer);
		ok = CMS_SignerInfo_verify(si) == 1;
	}
out:
	CMS_ContentInfo_free(cms);
	return ok;
}

/* Does CONTENT hash to DIGEST under MD? */
static bool
content_matches(const EVP_MD *md, const uint8_t *content, size_t len, const uint8_t *digest)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	return EVP_Digest(content, len, got, &n, md, NULL) == 1 &&
	       n == (unsigned)EVP_MD_get_size(md) && CRYPTO_memcmp(got, digest, n) == 0;
}

int
hsm_cms_sign(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
	     const struct hsm_sign_params *params, X509 *signer, STACK_OF(X509) *chain,
	     const uint8_t *digest, size_t digest_len, const uint8_t *content, size_t content_len,
	     uint8_t **der, size_t *der_len)
{
	struct cms_scheme scv, *sc = &scv;
	ASN1_OCTET_STRING **econtent;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	EVP_PKEY *pub = NULL;
	unsigned char *tbs = NULL, *out = NULL;
	uint8_t sig[CMS_SIG_MAX];
	size_t siglen = sizeof(sig);
	int tbslen, outlen, r = SIGNET_EINVAL;

	*der = NULL;
	*der_len = 0;
	if ((unsigned)alg >= HSM_ALG_COUNT || hsm_alg_is_secret(alg) || signer == NULL ||
	    params == NULL || cms_scheme_of(alg, params, sc) != 0) {
		return SIGNET_EINVAL;
	}
	if (digest == NULL || digest_len != (size_t)EVP_MD_get_size(sc->md)) {
		log_err("cms: a %s signature needs a %s digest of the content", hsm_alg_name(alg),
			EVP_MD_get0_name(sc->md));
		return SIGNET_EINVAL;
	}
	if (content != NULL && !content_matches(sc->md, content, content_len, digest)) {
		log_err("cms: the content to embed is not the one whose digest is signed");
		return SIGNET_EINVAL;
	}
	if ((r = hsm_key_public(s, alg, id, &pub)) != 0) {
		return r;
	}
	/* The token's public key stands in for the private one, which OpenSSL never holds. */
	if (X509_get0_pubkey(signer) == NULL || EVP_PKEY_eq(X509_get0_pubkey(signer), pub) != 1) {
		ERR_clear_error();
		log_err("cms: the signer certificate is not for this %s key", hsm_alg_name(alg));
		r = SIGNET_EINVAL;
		goto out;
	}
	r = SIGNET_EINTERNAL;
	cms = CMS_ContentInfo_new();
	if (cms == NULL || !CMS_SignedData_init(cms) || !CMS_set_detached(cms, content == NULL)) {
		goto out;
	}
	if (content != NULL) {
		/* Attached: the content itself is the eContent (RAUC bundles, openssl cms -verify). */
		econtent = CMS_get0_content(cms);
		if (econtent == NULL || *econtent == NULL ||
		    !ASN1_OCTET_STRING_set(*econtent, content, (int)content_len)) {
			goto out;
		}
		(*econtent)->flags &= ~ASN1_STRING_FLAG_CONT;
	}
	si = CMS_add1_signer(cms, signer, pub, sc->md, CMS_PARTIAL | CMS_NOSMIMECAP);
	if (si == NULL || !chain_add(cms, signer, chain) || !signature_algorithm_set(si, sc) ||
	    !signed_attrs_add(si, digest, digest_len)) {
		goto out;
	}
	tbslen = signed_attrs_der(si, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN), &tbs);
	if (tbslen <= 0) {
		goto out;
	}
	if ((r = signed_attrs_sign(s, alg, id, sc, tbs, (size_t)tbslen, sig, &siglen)) != 0) {
		goto out;
	}
	r = SIGNET_EINTERNAL;
	if (!ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen)) {
		goto out;
	}
	outlen = i2d_CMS_ContentInfo(cms, &out);
	if (outlen <= 0) {
		goto out;
	}
	/* Never hand out a signature that does not verify under the signer's certificate. */
	if (!signature_verifies(out, (size_t)outlen, signer, sc)) {
		log_err("cms: the token-made signature does not verify");
		goto out;
	}
	*der = out;
	*der_len = (size_t)outlen;
	out = NULL;
	r = 0;
out:
	if (r == SIGNET_EINTERNAL) {
		log_openssl(LOG_LEVEL_ERR, "cms: building a SignedData");
	}
	OPENSSL_free(out);
	OPENSSL_free(tbs);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(pub);
	return r;
}

int
hsm_cms_sign_detached(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		      X509 *signer, STACK_OF(X509) *chain, const uint8_t *digest, size_t digest_len,
		      uint8_t **der, size_t *der_len)
{
	struct hsm_sign_params p;

	*der = NULL;
	*der_len = 0;
	if ((unsigned)alg >= HSM_ALG_COUNT || hsm_alg_is_secret(alg)) {
		return SIGNET_EINVAL;
	}
	hsm_sign_params_default(alg, &p);
	return hsm_cms_sign(s, alg, id, &p, signer, chain, digest, digest_len, NULL, 0, der,
			    der_len);
}

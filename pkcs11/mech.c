/* SPDX-License-Identifier: Apache-2.0 */
/* libsignet-pkcs11: the mechanisms it offers, DigestInfo parsing and the ECDSA signature encoding.
 */
#include "config.h"

#include <string.h>

#include <openssl/ecdsa.h>

#include "pkcs11/p11mod.h"

static const struct p11_mech mechs[] = {
    {CKM_ECDSA, false, true, false, NULL, false, false},
    {CKM_ECDSA_SHA256, false, true, false, EVP_sha256, false, false},
    {CKM_ECDSA_SHA384, false, true, false, EVP_sha384, false, false},
    {CKM_ECDSA_SHA512, false, true, false, EVP_sha512, false, false},
    {CKM_RSA_PKCS, true, false, false, NULL, false, true},
    {CKM_SHA256_RSA_PKCS, true, false, false, EVP_sha256, false, true},
    {CKM_SHA384_RSA_PKCS, true, false, false, EVP_sha384, false, true},
    {CKM_SHA512_RSA_PKCS, true, false, false, EVP_sha512, false, true},
    {CKM_RSA_PKCS_PSS, true, false, false, NULL, true, false},
    {CKM_SHA256_RSA_PKCS_PSS, true, false, false, EVP_sha256, true, false},
    {CKM_SHA384_RSA_PKCS_PSS, true, false, false, EVP_sha384, true, false},
    {CKM_SHA512_RSA_PKCS_PSS, true, false, false, EVP_sha512, true, false},
    {CKM_EDDSA, false, false, true, NULL, false, false},
};

/* The DER prefixes of DigestInfo for the hashes signetd signs (RFC 8017, 9.2 note 1). */
static const struct {
	const char *name;
	uint8_t prefix[19];
	size_t dlen;
} digestinfos[] = {
    {"SHA-256",
     {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
      0x05, 0x00, 0x04, 0x20},
     32},
    {"SHA-384",
     {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
      0x05, 0x00, 0x04, 0x30},
     48},
    {"SHA-512",
     {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
      0x05, 0x00, 0x04, 0x40},
     64},
};

const struct p11_mech *
p11_mech_find(CK_MECHANISM_TYPE t)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (mechs[i].type == t) {
			return &mechs[i];
		}
	}
	return NULL;
}

const struct p11_mech *
p11_mech_at(size_t i)
{
	return i < sizeof(mechs) / sizeof(mechs[0]) ? &mechs[i] : NULL;
}

size_t
p11_mech_count(void)
{
	return sizeof(mechs) / sizeof(mechs[0]);
}

bool
p11_mech_fits_key(const struct p11_mech *m, enum p11_alg alg)
{
	switch (alg) {
	case P11_ALG_RSA:
		return m->rsa;
	case P11_ALG_P256:
	case P11_ALG_P384:
		return m->ec;
	case P11_ALG_ED25519:
		return m->ed;
	}
	return false;
}

const char *
p11_hash_name_for_len(size_t len)
{
	return len == 32 ? "SHA-256" : len == 48 ? "SHA-384" : len == 64 ? "SHA-512" : NULL;
}

const char *
p11_hash_name_for_ckm(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA256:
		return "SHA-256";
	case CKM_SHA384:
		return "SHA-384";
	case CKM_SHA512:
		return "SHA-512";
	}
	return NULL;
}

size_t
p11_hash_len_for_ckm(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA256:
		return 32;
	case CKM_SHA384:
		return 48;
	case CKM_SHA512:
		return 64;
	}
	return 0;
}

CK_RSA_PKCS_MGF_TYPE
p11_mgf_for_ckm(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA256:
		return CKG_MGF1_SHA256;
	case CKM_SHA384:
		return CKG_MGF1_SHA384;
	case CKM_SHA512:
		return CKG_MGF1_SHA512;
	}
	return 0;
}

bool
p11_digestinfo_parse(const uint8_t *in, size_t len, const char **hash, const uint8_t **digest,
		     size_t *dlen)
{
	for (size_t i = 0; i < sizeof(digestinfos) / sizeof(digestinfos[0]); i++) {
		size_t plen = sizeof(digestinfos[i].prefix);

		if (len == plen + digestinfos[i].dlen &&
		    memcmp(in, digestinfos[i].prefix, plen) == 0) {
			*hash = digestinfos[i].name;
			*digest = in + plen;
			*dlen = digestinfos[i].dlen;
			return true;
		}
	}
	return false;
}

bool
p11_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t half, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *ss;
	bool ok;

	if (s == NULL) {
		return false;
	}
	ECDSA_SIG_get0(s, &r, &ss);
	ok = p == der + len && BN_bn2binpad(r, out, (int)half) == (int)half &&
	     BN_bn2binpad(ss, out + half, (int)half) == (int)half;
	ECDSA_SIG_free(s);
	return ok;
}

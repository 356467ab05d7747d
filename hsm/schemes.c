/* SPDX-License-Identifier: Apache-2.0 */
/* Signature schemes and hashes: names, defaults, and what fits which key. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hsm/hsm.h"
#include "lib/error.h"

static const char *const scheme_names[HSM_SCHEME_COUNT] = {
    [HSM_SCHEME_RSA_PSS] = "RSA_PSS",
    [HSM_SCHEME_RSA_PKCS1_V15] = "RSA_PKCS1_V15",
    [HSM_SCHEME_ECDSA] = "ECDSA",
    [HSM_SCHEME_EDDSA] = "EDDSA",
};

static const char *const hash_names[HSM_HASH_COUNT] = {
    [HSM_HASH_SHA256] = "SHA-256",
    [HSM_HASH_SHA384] = "SHA-384",
    [HSM_HASH_SHA512] = "SHA-512",
};

const char *
hsm_scheme_name(enum hsm_scheme scheme)
{
	return (unsigned)scheme < HSM_SCHEME_COUNT ? scheme_names[scheme] : "UNKNOWN";
}

int
hsm_scheme_parse(const char *name, enum hsm_scheme *scheme)
{
	for (int i = 0; i < HSM_SCHEME_COUNT; i++) {
		if (name != NULL && strcmp(scheme_names[i], name) == 0) {
			*scheme = (enum hsm_scheme)i;
			return 0;
		}
	}
	return SIGNET_EINVAL;
}

const char *
hsm_hash_name(enum hsm_hash hash)
{
	return (unsigned)hash < HSM_HASH_COUNT ? hash_names[hash] : "UNKNOWN";
}

int
hsm_hash_parse(const char *name, enum hsm_hash *hash)
{
	for (int i = 0; i < HSM_HASH_COUNT; i++) {
		if (name != NULL && strcmp(hash_names[i], name) == 0) {
			*hash = (enum hsm_hash)i;
			return 0;
		}
	}
	return SIGNET_EINVAL;
}

size_t
hsm_hash_len(enum hsm_hash hash)
{
	switch (hash) {
	case HSM_HASH_SHA384:
		return 48;
	case HSM_HASH_SHA512:
		return 64;
	default:
		return 32;
	}
}

int
hsm_hash_by_len(size_t len, enum hsm_hash *hash)
{
	for (int i = 0; i < HSM_HASH_COUNT; i++) {
		if (hsm_hash_len((enum hsm_hash)i) == len) {
			*hash = (enum hsm_hash)i;
			return 0;
		}
	}
	return SIGNET_EINVAL;
}

const EVP_MD *
hsm_hash_md(enum hsm_hash hash)
{
	switch (hash) {
	case HSM_HASH_SHA384:
		return EVP_sha384();
	case HSM_HASH_SHA512:
		return EVP_sha512();
	default:
		return EVP_sha256();
	}
}

bool
hsm_scheme_fits(enum hsm_scheme scheme, enum hsm_alg alg)
{
	switch (scheme) {
	case HSM_SCHEME_RSA_PSS:
	case HSM_SCHEME_RSA_PKCS1_V15:
		return alg == HSM_ALG_RSA_3072 || alg == HSM_ALG_RSA_4096;
	case HSM_SCHEME_ECDSA:
		return alg == HSM_ALG_ECC_NIST_P256 || alg == HSM_ALG_ECC_NIST_P384;
	case HSM_SCHEME_EDDSA:
		return alg == HSM_ALG_ED25519;
	default:
		return false;
	}
}

enum hsm_scheme
hsm_scheme_default(enum hsm_alg alg)
{
	switch (alg) {
	case HSM_ALG_ECC_NIST_P256:
	case HSM_ALG_ECC_NIST_P384:
		return HSM_SCHEME_ECDSA;
	case HSM_ALG_ED25519:
		return HSM_SCHEME_EDDSA;
	default:
		return HSM_SCHEME_RSA_PSS;
	}
}

void
hsm_sign_params_default(enum hsm_alg alg, struct hsm_sign_params *p)
{
	memset(p, 0, sizeof(*p));
	p->scheme = hsm_scheme_default(alg);
	p->hash = alg == HSM_ALG_ECC_NIST_P384 ? HSM_HASH_SHA384 : HSM_HASH_SHA256;
	p->salt_len = p->scheme == HSM_SCHEME_RSA_PSS ? HSM_PSS_SALT_DEFAULT : 0;
}

unsigned
hsm_pss_salt_max(enum hsm_alg alg, enum hsm_hash hash)
{
	/* RFC 8017 9.1.1: emLen = ceil((modBits - 1) / 8) >= hLen + sLen + 2. */
	unsigned bits = alg == HSM_ALG_RSA_4096 ? 4096 : alg == HSM_ALG_RSA_3072 ? 3072 : 0;
	unsigned em = (bits + 6) / 8;

	return em > hsm_hash_len(hash) + 2 ? em - (unsigned)hsm_hash_len(hash) - 2 : 0;
}

int
hsm_sign_params_check(enum hsm_alg alg, const struct hsm_sign_params *p, char *why, size_t whylen)
{
	if ((unsigned)p->scheme >= HSM_SCHEME_COUNT || (unsigned)p->hash >= HSM_HASH_COUNT) {
		snprintf(why, whylen, "unknown signature scheme or hash");
		return SIGNET_EINVAL;
	}
	if (!hsm_scheme_fits(p->scheme, alg)) {
		snprintf(why, whylen, "scheme %s does not sign with a %s key",
			 hsm_scheme_name(p->scheme), hsm_alg_name(alg));
		return SIGNET_EINVAL;
	}
	if (p->scheme == HSM_SCHEME_RSA_PSS && p->salt_len > hsm_pss_salt_max(alg, p->hash)) {
		snprintf(why, whylen, "a %s key allows a PSS salt of at most %u bytes with %s",
			 hsm_alg_name(alg), hsm_pss_salt_max(alg, p->hash),
			 hsm_hash_name(p->hash));
		return SIGNET_EINVAL;
	}
	if (p->scheme != HSM_SCHEME_RSA_PSS && p->salt_len != 0) {
		snprintf(why, whylen, "a salt length is for RSA_PSS only");
		return SIGNET_EINVAL;
	}
	if (p->scheme != HSM_SCHEME_ECDSA && p->raw) {
		snprintf(why, whylen, "the raw encoding is for ECDSA only");
		return SIGNET_EINVAL;
	}
	return 0;
}

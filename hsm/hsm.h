/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 layer: module, token, sessions with recovery, keys, signing, CSRs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/util.h"

#define HSM_ID_LEN 16 /* CKA_ID bytes shared by a key's private, public and certificate objects */

enum hsm_alg {
	HSM_ALG_ECC_NIST_P256,
	HSM_ALG_ECC_NIST_P384,
	HSM_ALG_RSA_3072,
	HSM_ALG_RSA_4096,
	HSM_ALG_ED25519,
	HSM_ALG_AES_256,
	HSM_ALG_AES_128,
	HSM_ALG_COUNT,
};

const char *hsm_alg_name(enum hsm_alg alg);
/* 0 and *ALG, or SIGNET_EINVAL for an unknown name. */
int hsm_alg_parse(const char *name, enum hsm_alg *alg);
bool hsm_alg_is_secret(enum hsm_alg alg);

struct hsm_config {
	const char *module;    /* PKCS#11 module path */
	const char *token_uri; /* RFC 7512 URI selecting the token ("pkcs11:token=signet") */
	const struct secret *pin;
};

struct hsm;
struct hsm_session;

struct hsm_token_info {
	char label[33];
	char manufacturer[33];
	char model[17];
	char serial[17];
};

/*
 * Load the module, initialise it, select the one token the URI matches and
 * log in once to prove the PIN. Errors: SIGNET_EUNAUTH for a wrong or
 * locked PIN, SIGNET_ENOTFOUND when no token matches, SIGNET_ETOKEN else.
 * The PIN buffer must outlive the hsm (re-login after recovery uses it).
 */
int hsm_open(const struct hsm_config *cfg, struct hsm **out);
void hsm_close(struct hsm *h);
void hsm_get_token_info(const struct hsm *h, struct hsm_token_info *info);
/*
 * Since start: PKCS#11 calls that failed with a token error, and operations
 * repeated on a new session after a recoverable one. Thread-safe.
 */
void hsm_counters(uint64_t *errors, uint64_t *retries);

/* A session for one thread. Opened lazily; reopened and re-logged-in on recoverable errors. */
int hsm_session_open(struct hsm *h, struct hsm_session **out);
void hsm_session_close(struct hsm_session *s);

int hsm_random(struct hsm_session *s, void *out, size_t n);

/* What signetd knows of a key it made or imported. */
struct hsm_key {
	enum hsm_alg alg;
	uint8_t id[HSM_ID_LEN];
	char uri[512];
	char *public_pem; /* SPKI PEM; NULL for secret keys. Caller frees. */
};

/* Generate in the token (serialised: one key creation at a time). LABEL is CKA_LABEL. */
int hsm_key_generate(struct hsm_session *s, enum hsm_alg alg, const char *label,
		     struct hsm_key *out);
/* Import a raw AES key as a sensitive, non-extractable token object. */
int hsm_key_import_aes(struct hsm_session *s, enum hsm_alg alg, const char *label,
		       const uint8_t *key, size_t keylen, struct hsm_key *out);
void hsm_key_clear(struct hsm_key *k);
/* Remove every object (private, public, secret, certificate) with the key's CKA_ID. */
int hsm_key_destroy(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN]);

/*
 * Check that the token still holds the key and that its private or secret
 * object is private, sensitive and not extractable; a generated key must
 * also be LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE (an IMPORTED one
 * cannot be, having existed outside the token). Returns 0, SIGNET_ENOTFOUND, or SIGNET_EDENIED with
 * the failed property in WHY.
 */
int hsm_key_check(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		  bool imported, char *why, size_t whylen);

/* The public key of a key pair, as an OpenSSL key (caller frees). */
int hsm_key_public(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		   EVP_PKEY **out);

/* Signature schemes a key signs with (doc/formats.md). */
enum hsm_scheme {
	HSM_SCHEME_RSA_PSS,
	HSM_SCHEME_RSA_PKCS1_V15,
	HSM_SCHEME_ECDSA,
	HSM_SCHEME_EDDSA,
	HSM_SCHEME_COUNT,
};

enum hsm_hash {
	HSM_HASH_SHA256,
	HSM_HASH_SHA384,
	HSM_HASH_SHA512,
	HSM_HASH_COUNT,
};

#define HSM_PSS_SALT_DEFAULT 32 /* RSASSA-PSS salt length unless the caller asks for another */
#define HSM_SCHEMES_DEFAULT                                                                        \
	((1u << HSM_SCHEME_RSA_PSS) | (1u << HSM_SCHEME_ECDSA) | (1u << HSM_SCHEME_EDDSA))

/* How a signature is made: scheme, the hash of the digest, PSS salt, ECDSA r||s instead of DER. */
struct hsm_sign_params {
	enum hsm_scheme scheme;
	enum hsm_hash hash; /* not used by EDDSA */
	unsigned salt_len;  /* RSA_PSS only */
	bool raw;           /* ECDSA only: r||s, fixed width (PKCS#11, JOSE), not DER */
};

const char *hsm_scheme_name(enum hsm_scheme scheme);
int hsm_scheme_parse(const char *name, enum hsm_scheme *scheme);
const char *hsm_hash_name(enum hsm_hash hash); /* "SHA-256" ... */
int hsm_hash_parse(const char *name, enum hsm_hash *hash);
size_t hsm_hash_len(enum hsm_hash hash);
/* The hash whose digest is LEN bytes long; SIGNET_EINVAL for another length. */
int hsm_hash_by_len(size_t len, enum hsm_hash *hash);
const EVP_MD *hsm_hash_md(enum hsm_hash hash);
/* Does SCHEME sign with a key of ALG? */
bool hsm_scheme_fits(enum hsm_scheme scheme, enum hsm_alg alg);
/* The key's scheme when the caller names none: RSA_PSS, ECDSA or EDDSA. */
enum hsm_scheme hsm_scheme_default(enum hsm_alg alg);
/* Today's parameters for ALG: RSA-PSS SHA-256 salt 32, ECDSA DER with the curve's hash, EdDSA. */
void hsm_sign_params_default(enum hsm_alg alg, struct hsm_sign_params *p);
/* The largest PSS salt a key of ALG allows with HASH (emLen - hLen - 2). */
unsigned hsm_pss_salt_max(enum hsm_alg alg, enum hsm_hash hash);
/* 0, or SIGNET_EINVAL with WHY when P cannot sign with a key of ALG. */
int hsm_sign_params_check(enum hsm_alg alg, const struct hsm_sign_params *p, char *why,
			  size_t whylen);

/*
 * Sign with the private key as P says: RSA and ECDSA take the digest of
 * P's hash (RSA_PKCS1_V15 wraps it in a DigestInfo for CKM_RSA_PKCS,
 * RSA_PSS uses CKM_RSA_PKCS_PSS with MGF1 of the same hash), Ed25519 the
 * message. SIGNET_EINVAL when P does not fit ALG or LEN the hash.
 */
int hsm_sign_ex(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		const struct hsm_sign_params *p, const uint8_t *data, size_t len, uint8_t *sig,
		size_t *siglen);
/* hsm_sign_ex with the key's default parameters: ECDSA and RSA take a SHA-256/384 digest. */
int hsm_sign(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
	     const uint8_t *data, size_t len, uint8_t *sig, size_t *siglen);

/*
 * A PKCS#10 request for SUBJECT ("/CN=a/O=b") signed by the token key.
 * The to-be-signed bytes are signed on our own session (ECDSA with SHA-256
 * or SHA-384, RSA PKCS#1 v1.5 SHA-256, pure Ed25519), so one path with
 * session recovery serves every algorithm, Ed25519 included, which libp11
 * 0.4 cannot drive. The request is verified before it is returned.
 */
int hsm_key_csr(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		const char *subject, char **pem);

/* Store the leaf certificate in the token beside the key, under the key's CKA_ID. */
int hsm_key_store_cert(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], const char *label,
		       X509 *cert);

/* Parse "/CN=x/O=y" into a name (exported for tests). NULL when malformed. */
X509_NAME *hsm_parse_subject(const char *subject);

/*
 * Initialise a fresh token in the first free slot of MODULE (SoftHSMv2 at
 * --init): label, SO PIN, then the user PIN.
 */
int hsm_init_token(const char *module, const char *label, const struct secret *so_pin,
		   const struct secret *user_pin);

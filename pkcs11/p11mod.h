/* SPDX-License-Identifier: Apache-2.0 */
/* libsignet-pkcs11: what the module's files share (configuration, keys, signing requests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#define P11_DEFAULT_SOCKET  "/run/signet/signetd.sock"
#define P11_DEFAULT_CONF    "/etc/signet/pkcs11.conf"
#define P11_TOKEN_MAX       256   /* an API token, as auth.token allows */
#define P11_NAME_MAX        64    /* tenant, user, key and configuration names */
#define P11_ID_MAX          64    /* bytes of a key's CKA_ID */
#define P11_MAX_KEYS        64    /* device configurations shown as slots */
#define P11_EDDSA_MAX       32768 /* bytes of an EdDSA message: it travels inline, base64 */
#define P11_CALL_TIMEOUT_MS 30000 /* any request but task.wait */
#define P11_WAIT_DEFAULT    3600  /* SIGNET_WAIT_TIMEOUT default, seconds */

enum p11_alg { P11_ALG_RSA, P11_ALG_P256, P11_ALG_P384, P11_ALG_ED25519 };

/* Where and as whom to reach signetd: SIGNET_* environment over the config file over defaults. */
struct p11_conf {
	char socket[108];
	char token[P11_TOKEN_MAX + 1]; /* "" when neither environment nor file gives one */
	char tenant[P11_NAME_MAX + 1];
	char task_name[256]; /* SIGNET_TASK_NAME, or "" */
	long wait_timeout;   /* seconds */
	bool debug;          /* SIGNET_PKCS11_DEBUG: reasons on stderr */
};

/* One device configuration the user may use, with its (first) signing key. */
struct p11_key {
	char devconf[40];
	char devconf_name[P11_NAME_MAX + 1];
	char label[P11_NAME_MAX + 1];
	enum p11_alg alg;
	uint8_t id[P11_ID_MAX];
	size_t idlen;
	EVP_PKEY *pub;
	size_t siglen; /* bytes of a PKCS#11 signature */
	size_t bits;   /* CKA_MODULUS_BITS, or the curve's size */
	uint8_t *cert; /* DER of the leaf certificate, or NULL */
	size_t certlen;
	uint8_t *subject; /* DER of its subject */
	size_t subjectlen;
	uint8_t *issuer, *serial;
	size_t issuerlen, seriallen;
};

/* What one signature asks of signetd: the task.sign arguments beyond devconf and name. */
struct p11_sign_req {
	const uint8_t *input; /* a digest, or an EdDSA message */
	size_t inlen;
	bool prehashed;
	const char *scheme; /* "RSA_PSS", "RSA_PKCS1_V15", "ECDSA", "EDDSA" */
	const char *hash;   /* "SHA-256", ... or NULL */
	long salt;          /* PSS salt length, -1 when not PSS */
};

void p11_conf_load(struct p11_conf *c);
void p11_debug(const struct p11_conf *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The keys of the device configurations TOKEN may use. CKR_OK, *KEYS owned by the caller. */
CK_RV p11d_load_keys(const struct p11_conf *c, const char *token, struct p11_key **keys, size_t *n);
void p11_keys_free(struct p11_key *keys, size_t n);

/*
 * Create a signing task for KEY and wait until it ends. The signature,
 * in PKCS#11's encoding, goes to SIG (KEY->siglen bytes).
 */
CK_RV p11d_sign(const struct p11_conf *c, const char *token, const struct p11_key *key,
		const struct p11_sign_req *req, uint8_t *sig, size_t *siglen);

/* Mechanisms (mech.c). */
struct p11_mech {
	CK_MECHANISM_TYPE type;
	bool rsa, ec, ed;          /* key types it takes */
	const EVP_MD *(*md)(void); /* hashed in the module, or NULL */
	bool pss, pkcs1;
};
const struct p11_mech *p11_mech_find(CK_MECHANISM_TYPE t);
const struct p11_mech *p11_mech_at(size_t i);
size_t p11_mech_count(void);
bool p11_mech_fits_key(const struct p11_mech *m, enum p11_alg alg);
/* The name signetd gives the hash of LEN bytes of digest, or NULL. */
const char *p11_hash_name_for_len(size_t len);
const char *p11_hash_name_for_ckm(CK_MECHANISM_TYPE hash);
size_t p11_hash_len_for_ckm(CK_MECHANISM_TYPE hash);
CK_RSA_PKCS_MGF_TYPE p11_mgf_for_ckm(CK_MECHANISM_TYPE hash);
/* Split a DigestInfo into its hash's name and digest; false for anything else. */
bool p11_digestinfo_parse(const uint8_t *in, size_t len, const char **hash, const uint8_t **digest,
			  size_t *dlen);
/* ECDSA DER (r,s) to r||s of 2*HALF bytes. */
bool p11_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t half, uint8_t *out);

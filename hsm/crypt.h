/* SPDX-License-Identifier: Apache-2.0 */
/* Encryption in the token (streamed) and CMS signatures made with token keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "hsm/hsm.h"

/* The six ciphers of DESIGN §9; the value is the container's `ec` code. */
enum hsm_cipher {
	HSM_CIPHER_AES256_CBC_PKCS7_PAD = 0,
	HSM_CIPHER_AES128_CBC_PKCS7_PAD = 1,
	HSM_CIPHER_AES256_CBC_ZERO_BYTE_PAD = 2,
	HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD = 3,
	HSM_CIPHER_AES128_ECB_ZERO_BYTE_PAD = 4,
	HSM_CIPHER_AES128_CTR_NO_PAD = 5,
	HSM_CIPHER_COUNT,
};

const char *hsm_cipher_name(enum hsm_cipher c);
/* 0 and *C, or SIGNET_EINVAL for an unknown name. */
int hsm_cipher_parse(const char *name, enum hsm_cipher *c);
/* The key algorithm a cipher needs (HSM_ALG_AES_256 or HSM_ALG_AES_128). */
enum hsm_alg hsm_cipher_key_alg(enum hsm_cipher c);
/* ECB: refused unless the tenant allows legacy ciphers. */
bool hsm_cipher_is_legacy(enum hsm_cipher c);
/* Bytes of IV appended to the ciphertext (16, or 0 for ECB). */
size_t hsm_cipher_iv_len(enum hsm_cipher c);
/* The most bytes an encryption of IN_LEN bytes writes with cipher C: padding and IV included. */
uint64_t hsm_cipher_out_max(enum hsm_cipher c, uint64_t in_len);

struct hsm_crypt_result {
	uint8_t in_sha256[32];
	uint64_t in_size;
	uint8_t out_sha256[32];
	uint64_t out_size;
};

/*
 * Encrypt IN_FD (a regular file, read with pread from offset 0 to its end
 * or to IN_LEN bytes, whichever comes first: a file that grows meanwhile
 * is not read further; the caller compares in_size with what it expects) with the token's AES key
 * ID, writing ciphertext and then the IV (random from the token) to OUT_FD (a regular file, written
 * with pwrite from offset 0 and truncated to the output length). Streams in large chunks through
 * C_EncryptInit/Update/Final; never holds the whole input. Retries once from the start after a
 * recoverable token error. Does not fsync. Errors: SIGNET_EINVAL (wrong key type for the cipher),
 * SIGNET_ENOTFOUND (no such key), SIGNET_EINTERNAL (file I/O, logged), SIGNET_ETOKEN.
 */
int hsm_encrypt_fd(struct hsm_session *s, enum hsm_cipher c, const uint8_t id[HSM_ID_LEN],
		   int in_fd, uint64_t in_len, int out_fd, struct hsm_crypt_result *res);
/*
 * The same from IN_OFF in IN_FD, writing from OUT_OFF in OUT_FD (which is
 * truncated to OUT_OFF + the output length): a segment of a package is
 * encrypted straight into its place in the container.
 */
int hsm_encrypt_fd_at(struct hsm_session *s, enum hsm_cipher c, const uint8_t id[HSM_ID_LEN],
		      int in_fd, uint64_t in_off, uint64_t in_len, int out_fd, uint64_t out_off,
		      struct hsm_crypt_result *res);

/*
 * A detached CMS SignedData (DER) over content whose digest the caller
 * computed: SHA-256 for RSA_3072/RSA_4096 (RSASSA-PSS, salt 32) and
 * ECC_NIST_P256, SHA-384 for ECC_NIST_P384, SHA-512 for ED25519 (RFC 8419).
 * The signed attributes (content type, signing time, message digest) are
 * signed by the token key ID through hsm_sign. SIGNER is the key's
 * certificate, CHAIN (may be NULL) the rest of the chain; both are
 * included. `openssl cms -verify -binary -content FILE -inform DER`
 * verifies the RSA and ECDSA results; OpenSSL 3.0 cannot verify Ed25519
 * SignedData at all (openssl#11915), so Ed25519 results are checked with
 * GnuTLS (`certtool --p7-verify`). The result is re-parsed and its
 * signature checked before it is returned. *DER is freed with OPENSSL_free.
 */
int hsm_cms_sign_detached(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
			  X509 *signer, STACK_OF(X509) *chain, const uint8_t *digest,
			  size_t digest_len, uint8_t **der, size_t *der_len);
/*
 * The same with the signer's scheme P (its hash is the digest's and the
 * digestAlgorithm; RSA_PKCS1_V15 signs as rsaEncryption, RSA_PSS with P's
 * salt; ECDSA is DER whatever P->raw says), and CONTENT (may be NULL:
 * detached) embedded as the eContent when given, which must hash to
 * DIGEST. `openssl cms -verify -binary -inform DER` verifies an attached
 * result without -content.
 */
int hsm_cms_sign(struct hsm_session *s, enum hsm_alg alg, const uint8_t id[HSM_ID_LEN],
		 const struct hsm_sign_params *p, X509 *signer, STACK_OF(X509) *chain,
		 const uint8_t *digest, size_t digest_len, const uint8_t *content,
		 size_t content_len, uint8_t **der, size_t *der_len);

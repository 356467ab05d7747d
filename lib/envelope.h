/* SPDX-License-Identifier: Apache-2.0 */
/* CMS EnvelopedData to a recipient certificate, streamed (no token involved: the key is public). */
#pragma once

#include <stdint.h>

#include <openssl/x509.h>

struct envelope_result {
	uint8_t in_sha256[32];
	uint64_t in_size;
	uint8_t out_sha256[32];
	uint64_t out_size;
};

/*
 * Encrypt IN_FD (read from offset 0, at most IN_LEN bytes: UINT64_MAX for
 * all of it; the caller compares in_size) to RECIPIENT as CMS
 * EnvelopedData (BER with indefinite lengths, as streaming writes it;
 * `-inform DER` reads it), AES-256-CBC content encryption, streamed to
 * OUT_FD (written from offset 0, truncated to the output length); RSA
 * recipients get KeyTransRecipientInfo, EC ones KeyAgreeRecipientInfo.
 * `openssl cms -decrypt -inform DER -recip CERT -inkey KEY` opens it.
 * Does not fsync. Errors: SIGNET_EINVAL (unusable certificate),
 * SIGNET_EINTERNAL (I/O or OpenSSL failure, logged).
 */
int envelope_encrypt_fd(X509 *recipient, int in_fd, uint64_t in_len, int out_fd,
			struct envelope_result *res);
/*
 * The most bytes envelope_encrypt_fd writes for IN_LEN bytes to a
 * recipient certificate of CERT_LEN bytes (DER or PEM): the content in
 * BER chunks, its padding, and the recipient info naming the certificate.
 */
uint64_t envelope_size_max(uint64_t in_len, size_t cert_len);

/* SPDX-License-Identifier: Apache-2.0 */
/* Verification of signed system and update reports (S/MIME, DESIGN.md §10); no I/O, no state. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define REPORT_MAX_SIZE         (1024 * 1024) /* largest S/MIME message accepted */
#define REPORT_MAX_CERTS        16            /* most certificates in one message */
#define REPORT_MAX_FINGERPRINTS 64            /* most trust anchors in the tenant config */
#define REPORT_FINGERPRINT_SIZE 96            /* "AA:BB:..." of a SHA-256 digest, NUL included */

/*
 * Normalise one fingerprint "aa:bb:..." (SHA-256: 32 colon-separated hex
 * pairs, any case, no surrounding whitespace) to upper-case "AA:BB:..." in
 * OUT. 0 or SIGNET_EINVAL (OUT is then the empty string).
 */
int report_fingerprint_normalise(const char *in, char out[REPORT_FINGERPRINT_SIZE]);

/*
 * Validate a JSON array of fingerprints (1..REPORT_MAX_FINGERPRINTS strings,
 * or an empty array = none) and return a new array of normalised,
 * de-duplicated ones in first-seen order (*OUT, caller decrefs), or
 * SIGNET_EINVAL with a static reason in WHY (*OUT is then NULL);
 * SIGNET_EINTERNAL when out of memory.
 */
int report_fingerprints_parse(const json_t *value, json_t **out, const char **why);

enum report_status {
	REPORT_OK = 0,
	REPORT_NOT_SMIME,          /* not an S/MIME message, or not SignedData */
	REPORT_BAD_SIGNATURE,      /* not exactly one signer, or the signature does not verify */
	REPORT_UNTRUSTED,          /* no chain to a configured fingerprint, or an unusable signer */
	REPORT_CERT_EXPIRED,       /* a certificate of the chain expired before NOW */
	REPORT_CERT_NOT_YET_VALID, /* a certificate of the chain is valid only after NOW */
	REPORT_NOT_JSON,           /* the signed content is not a text/plain JSON object */
	REPORT_NO_ANCHOR,          /* no fingerprint configured */
	REPORT_TOO_LARGE,          /* more than REPORT_MAX_SIZE bytes or REPORT_MAX_CERTS certs */
	REPORT_INTERNAL,           /* out of memory, or a malformed FINGERPRINTS argument */
};

/*
 * Stable snake_case codes: "ok", "not_smime", "bad_signature", "untrusted",
 * "cert_expired", "cert_not_yet_valid", "not_json", "no_anchor",
 * "too_large", "internal" ("internal" for unknown values too).
 */
const char *report_status_code(enum report_status s);

struct report_result {
	json_t *content;          /* the verified JSON object (caller decrefs) */
	char signer_subject[512]; /* RFC 2253 subject of the signer, ASCII */
	char signer_fingerprint[REPORT_FINGERPRINT_SIZE]; /* SHA-256 colon-hex of the signer cert */
	char anchor_fingerprint[REPORT_FINGERPRINT_SIZE]; /* which configured fingerprint matched */
	char gateway_id[256]; /* signer's subject CN as UTF-8 (empty if none) */
};

/*
 * Verify an S/MIME message MSG (LEN bytes, as `openssl cms -sign -text`
 * writes it, detached or not) against FINGERPRINTS (a JSON array of
 * normalised fingerprints, as report_fingerprints_parse returns; NULL or
 * empty = none) at time NOW. The checks, in order: size; SignedData with
 * exactly one signer and at most REPORT_MAX_CERTS certificates; the
 * signature over the content; a chain built from the message's
 * certificates alone from the signer to a certificate whose fingerprint is
 * configured (signer, intermediate or root); every certificate of that
 * chain valid at NOW; the content a text/plain JSON object (no duplicate
 * keys, nesting at most MSG_MAX_DEPTH). Nothing about the signer is
 * believed before the signature verifies, and the content is parsed only
 * once the chain is trusted.
 *
 * On REPORT_OK every field of RES is filled; otherwise RES is zeroed
 * (content NULL, strings empty). WHY (may be NULL) gets a short ASCII
 * reason made of fixed text only. The thread's OpenSSL error queue is
 * empty on return (details are logged at debug level).
 */
enum report_status report_verify(const uint8_t *msg, size_t len, const json_t *fingerprints,
				 time_t now, struct report_result *res, char *why, size_t whylen);

/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP seeds in the token and the HMAC the token computes with them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"

#define HSM_OTP_SEED_LEN                                                                           \
	20 /* 160 bits: SoftHSM's floor for CKM_SHA_1_HMAC keys, RFC 4226's advice */
#define HSM_OTP_SEED_MIN  20
#define HSM_HMAC_SHA1_LEN 20

/*
 * Make a seed of SEEDLEN bytes with the token's RNG and store it as a
 * token object: generic secret, private, sensitive, never extractable,
 * CKA_SIGN only, label LABEL, a fresh random CKA_ID in ID. The bytes are
 * left in SEED once, for enrollment; the caller wipes them.
 */
int hsm_otp_seed_create(struct hsm_session *s, const char *label, uint8_t id[HSM_ID_LEN],
			uint8_t *seed, size_t seedlen);
/* Store a known seed the same way (tests: the RFC vectors). */
int hsm_otp_seed_import(struct hsm_session *s, const char *label, const uint8_t *seed, size_t len,
			uint8_t id[HSM_ID_LEN]);
/* HMAC-SHA-1 of MSG under seed ID, computed by the token (C_Sign, CKM_SHA_1_HMAC). */
int hsm_hmac_sha1(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], const uint8_t *msg,
		  size_t len, uint8_t out[HSM_HMAC_SHA1_LEN]);
int hsm_otp_seed_destroy(struct hsm_session *s, const uint8_t id[HSM_ID_LEN]);
/* The seed object is there and sensitive, not extractable: 0, SIGNET_ENOTFOUND or SIGNET_EDENIED.
 */
int hsm_otp_seed_check(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], char *why,
		       size_t whylen);

/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP seeds in the token: generic secrets that can only compute an HMAC, never leave it. */
#include "config.h"

#include <string.h>

#include "hsm/internal.h"
#include "hsm/otp.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

struct seed_arg {
	const char *label;
	const uint8_t *id;
	const uint8_t *value;
	size_t len;
};

static CK_RV
op_seed_create(struct hsm_session *s, void *arg)
{
	struct seed_arg *a = arg;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE obj, found[4];
	CK_ULONG n = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},      {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &yes, sizeof(yes)},      {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},  {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},       {CKA_VERIFY, &no, sizeof(no)},
	    {CKA_ENCRYPT, &no, sizeof(no)},      {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},         {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},       {CKA_LABEL, (void *)a->label, strlen(a->label)},
	    {CKA_ID, (void *)a->id, HSM_ID_LEN}, {CKA_VALUE, (void *)a->value, a->len},
	};
	CK_ATTRIBUTE q[] = {{CKA_ID, (void *)a->id, HSM_ID_LEN}};
	CK_RV rv;

	/* A fresh random id: anything under it was left by an attempt cut short. */
	if ((rv = s->h->f->C_FindObjectsInit(s->handle, q, 1)) != CKR_OK) {
		return rv;
	}
	rv = s->h->f->C_FindObjects(s->handle, found, 4, &n);
	s->h->f->C_FindObjectsFinal(s->handle);
	if (rv != CKR_OK) {
		return rv;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		s->h->f->C_DestroyObject(s->handle, found[i]);
	}
	hsm_objects_changed(s->h);
	return s->h->f->C_CreateObject(s->handle, t, sizeof(t) / sizeof(t[0]), &obj);
}

static int
seed_store(struct hsm_session *s, const char *label, const uint8_t *value, size_t len,
	   uint8_t id[HSM_ID_LEN])
{
	struct seed_arg a = {label, id, value, len};
	CK_RV rv;
	int r;

	if (len < HSM_OTP_SEED_MIN || len > 64) {
		return SIGNET_EINVAL;
	}
	if ((r = hsm_random(s, id, HSM_ID_LEN)) != 0) {
		return r;
	}
	rv = hsm_run_create(s, op_seed_create, &a, id);
	return hsm_err(rv, "storing a TOTP seed");
}

int
hsm_otp_seed_create(struct hsm_session *s, const char *label, uint8_t id[HSM_ID_LEN], uint8_t *seed,
		    size_t seedlen)
{
	int r;

	/* The token's RNG makes the seed; it passes through our memory once, for enrollment. */
	if ((r = hsm_random(s, seed, seedlen)) != 0) {
		return r;
	}
	r = seed_store(s, label, seed, seedlen, id);
	if (r != 0) {
		secure_wipe(seed, seedlen);
	}
	return r;
}

int
hsm_otp_seed_import(struct hsm_session *s, const char *label, const uint8_t *seed, size_t len,
		    uint8_t id[HSM_ID_LEN])
{
	return seed_store(s, label, seed, len, id);
}

struct hmac_arg {
	const uint8_t *id;
	const uint8_t *msg;
	size_t len;
	uint8_t *out;
};

static CK_RV
op_hmac(struct hsm_session *s, void *arg)
{
	struct hmac_arg *a = arg;
	CK_MECHANISM mech = {CKM_SHA_1_HMAC, NULL, 0};
	CK_OBJECT_HANDLE key;
	CK_ULONG outlen = HSM_HMAC_SHA1_LEN;
	CK_RV rv;

	if ((rv = hsm_find_one(s, CKO_SECRET_KEY, a->id, HSM_ID_LEN, &key)) != CKR_OK) {
		return rv;
	}
	if ((rv = s->h->f->C_SignInit(s->handle, &mech, key)) != CKR_OK) {
		return rv;
	}
	rv = s->h->f->C_Sign(s->handle, (CK_BYTE_PTR)a->msg, a->len, a->out, &outlen);
	if (rv == CKR_BUFFER_TOO_SMALL) {
		hsm_session_discard(s); /* the operation is still active: end it with the session */
	}
	if (rv == CKR_OK && outlen != HSM_HMAC_SHA1_LEN) {
		return CKR_FUNCTION_FAILED;
	}
	return rv;
}

int
hsm_hmac_sha1(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], const uint8_t *msg, size_t len,
	      uint8_t out[HSM_HMAC_SHA1_LEN])
{
	struct hmac_arg a = {id, msg, len, out};

	return hsm_err(hsm_run(s, op_hmac, &a), "computing an HMAC");
}

int
hsm_otp_seed_destroy(struct hsm_session *s, const uint8_t id[HSM_ID_LEN])
{
	return hsm_key_destroy(s, HSM_ALG_AES_256, id);
}

int
hsm_otp_seed_check(struct hsm_session *s, const uint8_t id[HSM_ID_LEN], char *why, size_t whylen)
{
	/* Imported from our memory: SENSITIVE, not EXTRACTABLE, PRIVATE, like an imported key. */
	return hsm_key_check(s, HSM_ALG_AES_256, id, true, why, whylen);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/session.c: opening, login, error translation, and recovery from lost sessions.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "hsm/internal.h"
#include "hsm/otp.h"
#include "lib/error.h"
#include "tests/common/testtoken.h"

static int
setup(void **state)
{
	struct test_token *t = calloc(1, sizeof(*t));

	if (t == NULL || test_token_make(t, false) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* The same token behind the fault-injecting module; skipped when it was not built. */
static int
setup_fault(void **state)
{
	struct test_token *t;

	if (!test_fault_available()) {
		*state = NULL;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL || test_token_make(t, true) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct test_token *t = *state;

	if (t != NULL) {
		test_token_free(t);
		free(t);
	}
	return 0;
}

static struct test_token *
fault_token(void **state)
{
	if (*state == NULL) {
		fprintf(stderr, "P11FAULT is not set: fault injection not tested\n");
		skip();
	}
	return *state;
}

/* Open the token again with this PIN and URI (the test's own hsm closed first). */
static int
reopen(struct test_token *t, const char *module, const char *uri, const char *pin, struct hsm **out)
{
	struct secret s = {0};
	struct hsm_config cfg = {module, uri, &s};
	int r;

	hsm_session_close(t->s);
	hsm_close(t->h);
	t->s = NULL;
	t->h = NULL;
	assert_int_equal(secret_alloc(&s, 64), 0);
	memcpy(s.data, pin, strlen(pin));
	s.len = strlen(pin);
	r = hsm_open(&cfg, out);
	if (r != 0) {
		assert_null(*out);
	}
	/* hsm_open keeps the PIN for re-login: the caller's copy must outlive it. */
	if (r == 0) {
		hsm_close(*out);
		*out = NULL;
	}
	secret_free(&s);
	return r;
}

/* A P-256 key and a signature over a digest that the public key verifies. */
static void
sign_and_verify(struct hsm_session *s, const struct hsm_key *k)
{
	uint8_t md[32], sig[256];
	size_t siglen = sizeof(sig);
	EVP_PKEY *pk = NULL;

	SHA256((const uint8_t *)"recovery", 8, md);
	assert_int_equal(hsm_sign(s, k->alg, k->id, md, sizeof(md), sig, &siglen), 0);
	assert_int_equal(hsm_key_public(s, k->alg, k->id, &pk), 0);
	assert_int_equal(test_verify(pk, k->alg, md, sizeof(md), sig, siglen), 1);
	EVP_PKEY_free(pk);
}

static void
test_open_token_info(void **state)
{
	struct test_token *t = *state;
	struct hsm_token_info info;
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

	hsm_get_token_info(t->h, &info);
	assert_string_equal(info.label, TEST_TOKEN_LABEL);
	assert_string_equal(info.manufacturer, "SoftHSM project");
	assert_string_equal(info.model, "SoftHSM v2");
	assert_true(strlen(info.serial) > 0);
	/* The session works: the token's RNG answers, and not with a constant. */
	assert_int_equal(hsm_random(t->s, a, sizeof(a)), 0);
	assert_int_equal(hsm_random(t->s, b, sizeof(b)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_open_logs_in(void **state)
{
	struct test_token *t = *state;
	CK_SESSION_INFO si;

	/* The kept session and a worker session are both in the user's state. */
	assert_int_equal(t->h->f->C_GetSessionInfo(t->h->keep, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
	assert_true(t->s->open);
	assert_int_equal(t->h->f->C_GetSessionInfo(t->s->handle, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
}

static void
test_open_refusals(void **state)
{
	struct test_token *t = *state;
	struct hsm *h = NULL;
	const char *uri = "pkcs11:token=" TEST_TOKEN_LABEL;

	assert_int_equal(reopen(t, t->module, uri, "wrong-pin", &h), SIGNET_EUNAUTH);
	assert_int_equal(reopen(t, t->module, "pkcs11:token=nosuch", TEST_TOKEN_PIN, &h),
			 SIGNET_ENOTFOUND);
	assert_int_equal(reopen(t, t->module, "http://example.com/", TEST_TOKEN_PIN, &h),
			 SIGNET_EINVAL);
	assert_int_equal(reopen(t, "/nonexistent/module.so", uri, TEST_TOKEN_PIN, &h),
			 SIGNET_ETOKEN);
	/* After all that, the right PIN still opens the token: nothing was locked. */
	assert_int_equal(reopen(t, t->module, uri, TEST_TOKEN_PIN, &h), 0);
}

static void
test_init_token_refusals(void **state)
{
	struct test_token *t = *state;
	struct secret so = {0};

	hsm_session_close(t->s);
	hsm_close(t->h);
	t->s = NULL;
	t->h = NULL;
	assert_int_equal(secret_alloc(&so, 16), 0);
	memcpy(so.data, "so-pin-12", 9);
	so.len = 9;
	/* A label longer than CK_TOKEN_INFO's 32 bytes. */
	assert_int_equal(
	    hsm_init_token(t->module, "a-label-that-is-longer-than-32-bytes", &so, &t->pin),
	    SIGNET_EINVAL);
	assert_int_equal(hsm_init_token("/nonexistent/module.so", "x", &so, &t->pin),
			 SIGNET_ETOKEN);
	secret_free(&so);
}

static void
test_err_translation(void **state)
{
	(void)state;
	assert_int_equal(hsm_err(CKR_OK, "test"), 0);
	/* The daemon's own PIN is not the client's credential: a token error. */
	assert_int_equal(hsm_err(CKR_PIN_INCORRECT, "test"), SIGNET_ETOKEN);
	assert_int_equal(hsm_err(CKR_PIN_LOCKED, "test"), SIGNET_ETOKEN);
	assert_int_equal(hsm_err(CKR_KEY_HANDLE_INVALID, "test"), SIGNET_ENOTFOUND);
	assert_int_equal(hsm_err(CKR_OBJECT_HANDLE_INVALID, "test"), SIGNET_ENOTFOUND);
	assert_int_equal(hsm_err(CKR_DATA_LEN_RANGE, "test"), SIGNET_EINVAL);
	assert_int_equal(hsm_err(CKR_KEY_SIZE_RANGE, "test"), SIGNET_EINVAL);
	assert_int_equal(hsm_err(CKR_BUFFER_TOO_SMALL, "test"), SIGNET_EINTERNAL);
	assert_int_equal(hsm_err(CKR_DEVICE_ERROR, "test"), SIGNET_ETOKEN);
	assert_int_equal(hsm_err(CKR_GENERAL_ERROR, "test"), SIGNET_ETOKEN);

	assert_true(hsm_rv_recoverable(CKR_SESSION_HANDLE_INVALID));
	assert_true(hsm_rv_recoverable(CKR_SESSION_CLOSED));
	assert_true(hsm_rv_recoverable(CKR_DEVICE_REMOVED));
	assert_true(hsm_rv_recoverable(CKR_DEVICE_ERROR));
	assert_true(hsm_rv_recoverable(CKR_USER_NOT_LOGGED_IN));
	assert_true(hsm_rv_recoverable(CKR_TOKEN_NOT_PRESENT));
	/* Errors that a new session cannot fix are not retried. */
	assert_false(hsm_rv_recoverable(CKR_OK));
	assert_false(hsm_rv_recoverable(CKR_PIN_INCORRECT));
	assert_false(hsm_rv_recoverable(CKR_OBJECT_HANDLE_INVALID));
	assert_false(hsm_rv_recoverable(CKR_DATA_LEN_RANGE));
	assert_false(hsm_rv_recoverable(CKR_GENERAL_ERROR));
}

/* A session whose handle the token forgot is reopened and logged in again by its next use. */
static void
test_relogin_after_session_loss(void **state)
{
	struct test_token *t = *state;
	struct hsm_session *s2 = NULL;
	struct hsm_key k;
	CK_SESSION_INFO si;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	assert_int_equal(hsm_session_open(t->h, &s2), 0);
	/* Every session of the slot closed, the kept one too: the login is gone. */
	assert_int_equal(t->h->f->C_CloseAllSessions(t->h->slot), CKR_OK);
	assert_int_equal(t->h->f->C_GetSessionInfo(t->s->handle, &si), CKR_SESSION_HANDLE_INVALID);
	sign_and_verify(t->s, &k);
	assert_int_equal(t->h->f->C_GetSessionInfo(t->s->handle, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
	/* The other session recovers on its own, finding the token logged in already. */
	sign_and_verify(s2, &k);
	hsm_session_close(s2);
	hsm_key_clear(&k);
}

/* A cached object handle is not used after the object is gone, in any session. */
static void
test_cached_handle_after_destroy(void **state)
{
	struct test_token *t = *state;
	struct hsm_session *s2 = NULL;
	struct hsm_key k;
	uint8_t md[32] = {1}, sig[256];
	size_t siglen = sizeof(sig);
	CK_OBJECT_HANDLE obj;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	assert_int_equal(hsm_session_open(t->h, &s2), 0);
	sign_and_verify(s2, &k); /* s2 caches the private key's handle */
	assert_int_equal(hsm_find_one(s2, CKO_PRIVATE_KEY, k.id, HSM_ID_LEN, &obj), CKR_OK);
	assert_int_equal(hsm_key_destroy(t->s, k.alg, k.id), 0);
	assert_int_equal(hsm_find_one(s2, CKO_PRIVATE_KEY, k.id, HSM_ID_LEN, &obj),
			 CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(hsm_sign(s2, k.alg, k.id, md, sizeof(md), sig, &siglen), SIGNET_ENOTFOUND);
	hsm_session_close(s2);
	hsm_key_clear(&k);
}

/*
 * An ambiguous CKA_ID is refused rather than guessed. A session that found
 * the object before, alone, keeps using that object (its handle is checked,
 * not searched again).
 */
static void
test_find_one_ambiguous(void **state)
{
	struct test_token *t = *state;
	struct hsm_session *s2 = NULL;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE;
	uint8_t id[HSM_ID_LEN], value[20] = {1};
	CK_OBJECT_HANDLE o1, o2, found;
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_VALUE, value, sizeof(value)},
	    {CKA_ID, id, sizeof(id)},
	};

	memset(id, 0x5a, sizeof(id));
	assert_int_equal(hsm_find_one(t->s, CKO_SECRET_KEY, id, HSM_ID_LEN, &found),
			 CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(t->h->f->C_CreateObject(t->s->handle, a, 5, &o1), CKR_OK);
	assert_int_equal(hsm_find_one(t->s, CKO_SECRET_KEY, id, HSM_ID_LEN, &found), CKR_OK);
	assert_int_equal(found, o1);
	/* Token objects: visible to every session. */
	assert_int_equal(t->h->f->C_CreateObject(t->s->handle, a, 5, &o2), CKR_OK);
	hsm_objects_changed(t->h);
	assert_int_equal(hsm_session_open(t->h, &s2), 0);
	assert_int_equal(hsm_find_one(s2, CKO_SECRET_KEY, id, HSM_ID_LEN, &found),
			 CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(hsm_find_one(t->s, CKO_SECRET_KEY, id, HSM_ID_LEN, &found), CKR_OK);
	assert_int_equal(found, o1);
	hsm_session_close(s2);
}

/* The fault module closes every session at the next look-up: the operation still succeeds. */
static void
test_fault_close_sessions(void **state)
{
	struct test_token *t = fault_token(state);
	struct hsm_key k;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	test_token_fault(t, "close-sessions", 1);
	sign_and_verify(t->s, &k);
	assert_int_equal(test_token_faults_fired(t), 1);
	hsm_key_clear(&k);
}

/* CKR_DEVICE_REMOVED and CKR_DEVICE_ERROR once each: retried on a new session. */
static void
test_fault_device_errors_retried(void **state)
{
	struct test_token *t = fault_token(state);
	const char *faults[] = {"device-removed", "device-error", "sign-device-error"};
	struct hsm_key k;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		CK_SESSION_HANDLE before = t->s->handle;
		test_token_fault_reset(t);
		test_token_fault(t, faults[i], 1);
		/* The cached handles are checked again, so the look-up reaches the token. */
		hsm_objects_changed(t->h);
		sign_and_verify(t->s, &k);
		assert_int_equal(test_token_faults_fired(t), 1);
		/* Retried on a session opened anew. */
		assert_int_not_equal(t->s->handle, before);
	}
	hsm_key_clear(&k);
}

/* Retried once, not forever: a fault that repeats is reported, and the next call works. */
static void
test_fault_retry_once(void **state)
{
	struct test_token *t = fault_token(state);
	uint8_t md[32] = {7}, sig[256];
	size_t siglen = sizeof(sig);
	struct hsm_key k;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	test_token_fault(t, "device-error", 3);
	assert_int_equal(hsm_sign(t->s, k.alg, k.id, md, sizeof(md), sig, &siglen), SIGNET_ETOKEN);
	assert_int_equal(test_token_faults_fired(t), 2);
	test_token_fault_reset(t);
	sign_and_verify(t->s, &k);
	hsm_key_clear(&k);
}

/* The session cannot be reopened: an error now, and the next call opens it. */
static void
test_fault_reopen_fails(void **state)
{
	struct test_token *t = fault_token(state);
	uint8_t md[32] = {7}, sig[256];
	size_t siglen = sizeof(sig);
	struct hsm_key k;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	test_token_fault(t, "close-sessions", 1);
	test_token_fault(t, "open-session-error", 1);
	assert_int_equal(hsm_sign(t->s, k.alg, k.id, md, sizeof(md), sig, &siglen), SIGNET_ETOKEN);
	assert_int_equal(test_token_faults_fired(t), 2);
	assert_false(t->s->open);
	sign_and_verify(t->s, &k);
	assert_true(t->s->open);
	hsm_key_clear(&k);
}

/* The token refuses the PIN at re-login: a token error (not a loop), then recovery. */
static void
test_fault_relogin_refused(void **state)
{
	struct test_token *t = fault_token(state);
	uint8_t md[32] = {7}, sig[256];
	size_t siglen = sizeof(sig);
	struct hsm_key k;

	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_ECC_NIST_P256, "k", &k), 0);
	test_token_fault(t, "close-sessions", 1);
	test_token_fault(t, "login-pin-incorrect", 1);
	assert_int_equal(hsm_sign(t->s, k.alg, k.id, md, sizeof(md), sig, &siglen), SIGNET_ETOKEN);
	assert_int_equal(test_token_faults_fired(t), 2);
	assert_false(t->s->open); /* not left open without a login */
	sign_and_verify(t->s, &k);
	hsm_key_clear(&k);
}

/* How many objects of class CLS (any class: (CK_ULONG)-1) carry CKA_ID ID (any id: NULL) in
 * token T. */
static CK_ULONG
count_in(struct test_token *t, CK_OBJECT_CLASS cls, const uint8_t id[HSM_ID_LEN])
{
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_ID, (void *)id, HSM_ID_LEN},
	};
	CK_OBJECT_HANDLE objs[8];
	CK_ULONG n = 0;
	CK_FUNCTION_LIST *f = t->h->f;
	CK_ATTRIBUTE *q = cls == (CK_ULONG)-1 ? a + 1 : a;
	CK_ULONG nq = (cls == (CK_ULONG)-1 ? 0 : 1) + (id != NULL ? 1 : 0);

	assert_int_equal(f->C_FindObjectsInit(t->s->handle, q, nq), CKR_OK);
	assert_int_equal(f->C_FindObjects(t->s->handle, objs, 8, &n), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(t->s->handle), CKR_OK);
	return n;
}

/*
 * A create the token reports failed after making its objects (SoftHSMv2 2.6.1's race with other
 * sessions, hsm/internal.h) is tried again with what it left removed: one key, not two under
 * one id; after the last try nothing is left. The fault module makes the failures.
 */
static void
test_fault_create_retried(void **state)
{
	struct test_token *ft = fault_token(state);
	struct hsm_key k;
	EVP_PKEY *pk = NULL;
	uint8_t md[48] = {7}, sig[256], aes[32] = {1}, seed_id[HSM_ID_LEN], mac[HSM_HMAC_SHA1_LEN];
	size_t siglen = sizeof(sig);

	/* Twice failed, then made: one pair under the id, and it signs. */
	test_token_fault(ft, "create-inconsistent", 2);
	assert_int_equal(hsm_key_generate(ft->s, HSM_ALG_ECC_NIST_P384, "twice", &k), 0);
	assert_int_equal(test_token_faults_fired(ft), 2);
	assert_int_equal(count_in(ft, CKO_PRIVATE_KEY, k.id), 1);
	assert_int_equal(count_in(ft, CKO_PUBLIC_KEY, k.id), 1);
	/* Each try had an id of its own; what the failed ones left is gone. */
	assert_int_equal(count_in(ft, CKO_PRIVATE_KEY, NULL), 1);
	assert_int_equal(count_in(ft, CKO_PUBLIC_KEY, NULL), 1);
	assert_int_equal(hsm_key_public(ft->s, k.alg, k.id, &pk), 0);
	assert_int_equal(hsm_sign(ft->s, k.alg, k.id, md, 48, sig, &siglen), 0);
	assert_int_equal(test_verify(pk, k.alg, md, 48, sig, siglen), 1);

	/* A certificate: made again under the key's id, one left; a second replaces the first. */
	{
		EVP_PKEY *ca_key = NULL;
		X509 *ca = NULL, *c;
		assert_int_equal(test_ca_make("retry CA", &ca_key, &ca), 0);
		assert_non_null(c = test_cert_issue(pk, "twice", ca_key, ca));
		test_token_fault(ft, "create-inconsistent", 1);
		assert_int_equal(hsm_key_store_cert(ft->s, k.id, "twice", c), 0);
		assert_int_equal(count_in(ft, CKO_CERTIFICATE, k.id), 1);
		assert_int_equal(hsm_key_store_cert(ft->s, k.id, "twice", c), 0);
		assert_int_equal(count_in(ft, CKO_CERTIFICATE, k.id), 1);
		assert_int_equal(count_in(ft, CKO_PRIVATE_KEY, k.id), 1);
		X509_free(c);
		X509_free(ca);
		EVP_PKEY_free(ca_key);
	}
	EVP_PKEY_free(pk);
	hsm_key_clear(&k);

	/* Failed every time: the error, and nothing left under any id tried. */
	test_token_fault_reset(ft);
	test_token_fault(ft, "create-inconsistent", HSM_CREATE_TRIES);
	assert_int_not_equal(hsm_key_generate(ft->s, HSM_ALG_ECC_NIST_P256, "never", &k), 0);
	assert_int_equal(test_token_faults_fired(ft), HSM_CREATE_TRIES);
	assert_int_equal(count_in(ft, (CK_ULONG)-1, k.id), 0);
	assert_int_equal(count_in(ft, CKO_PRIVATE_KEY, NULL), 1);
	hsm_key_clear(&k);

	/* An import (C_CreateObject) and a TOTP seed the same way. */
	test_token_fault_reset(ft);
	test_token_fault(ft, "create-inconsistent", 1);
	assert_int_equal(hsm_key_import_aes(ft->s, HSM_ALG_AES_256, "imported", aes, 32, &k), 0);
	assert_int_equal(count_in(ft, CKO_SECRET_KEY, k.id), 1);
	hsm_key_clear(&k);
	test_token_fault(ft, "create-inconsistent", 1);
	assert_int_equal(hsm_otp_seed_import(ft->s, "seed", (const uint8_t *)"12345678901234567890",
					     20, seed_id),
			 0);
	assert_int_equal(count_in(ft, (CK_ULONG)-1, seed_id), 1);
	assert_int_equal(hsm_hmac_sha1(ft->s, seed_id, (const uint8_t *)"\0\0\0\0\0\0\0\0", 8,
				       mac),
			 0);
	assert_int_equal(test_token_faults_fired(ft), 2);

	/* A token that means it: a real refusal is not retried into something else. */
	test_token_fault_reset(ft);
	assert_int_not_equal(hsm_key_import_aes(ft->s, HSM_ALG_AES_256, "short", aes, 5, &k), 0);
	hsm_key_clear(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_token_info, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_logs_in, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_token_refusals, setup, teardown),
	    cmocka_unit_test(test_err_translation),
	    cmocka_unit_test_setup_teardown(test_relogin_after_session_loss, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cached_handle_after_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_one_ambiguous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_close_sessions, setup_fault, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_device_errors_retried, setup_fault,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fault_retry_once, setup_fault, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_create_retried, setup_fault, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_reopen_fails, setup_fault, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_relogin_refused, setup_fault, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

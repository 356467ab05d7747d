/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/otp.c: TOTP seeds in the token and their HMAC-SHA-1, checked by OpenSSL. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "hsm/internal.h"
#include "hsm/otp.h"
#include "lib/error.h"
#include "tests/common/testtoken.h"

/* RFC 4226 Appendix D: the seed "12345678901234567890" and HOTP(0..9). */
static const uint8_t rfc_seed[] = "12345678901234567890";
static const uint32_t rfc_hotp[10] = {755224, 287082, 359152, 969429, 338314,
				      254676, 287922, 162583, 399871, 520489};

static int
setup_with(void **state, bool fault)
{
	struct test_token *t = calloc(1, sizeof(*t));

	if (t == NULL || test_token_make(t, fault) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, false);
}

static int
setup_fault(void **state)
{
	if (!test_fault_available()) {
		*state = NULL;
		return 0;
	}
	return setup_with(state, true);
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

static void
openssl_hmac(const uint8_t *seed, size_t seedlen, const uint8_t *msg, size_t len,
	     uint8_t out[HSM_HMAC_SHA1_LEN])
{
	unsigned int n = 0;

	assert_non_null(HMAC(EVP_sha1(), seed, (int)seedlen, msg, len, out, &n));
	assert_int_equal(n, HSM_HMAC_SHA1_LEN);
}

/* RFC 4226 §5.3: dynamic truncation to 6 digits. */
static uint32_t
hotp6(const uint8_t mac[HSM_HMAC_SHA1_LEN])
{
	unsigned off = mac[19] & 0x0f;
	uint32_t v = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		     ((uint32_t)mac[off + 2] << 8) | mac[off + 3];

	return v % 1000000;
}

static CK_OBJECT_HANDLE
seed_object(struct test_token *t, const uint8_t id[HSM_ID_LEN])
{
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;

	assert_int_equal(hsm_find_one(t->s, CKO_SECRET_KEY, id, HSM_ID_LEN, &obj), CKR_OK);
	return obj;
}

static void
test_rfc4226_vectors(void **state)
{
	struct test_token *t = *state;
	uint8_t id[HSM_ID_LEN], mac[HSM_HMAC_SHA1_LEN], want[HSM_HMAC_SHA1_LEN];

	assert_int_equal(hsm_otp_seed_import(t->s, "rfc", rfc_seed, 20, id), 0);
	for (uint64_t c = 0; c < 10; c++) {
		uint8_t counter[8];
		for (int i = 0; i < 8; i++) {
			counter[i] = (uint8_t)(c >> (56 - 8 * i));
		}
		assert_int_equal(hsm_hmac_sha1(t->s, id, counter, 8, mac), 0);
		openssl_hmac(rfc_seed, 20, counter, 8, want);
		assert_memory_equal(mac, want, HSM_HMAC_SHA1_LEN);
		assert_int_equal(hotp6(mac), rfc_hotp[c]);
	}
}

/* A seed made by the token's RNG: the bytes handed out once are the ones the token uses. */
static void
test_seed_create(void **state)
{
	static const size_t lens[] = {HSM_OTP_SEED_LEN, 32, 64};
	struct test_token *t = *state;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t seed[64], id[HSM_ID_LEN], msg[100], mac[20], want[20], zero[64] = {0};
		size_t msglen = 1 + i * 40;

		memset(seed, 0, sizeof(seed));
		assert_int_equal(hsm_otp_seed_create(t->s, "seed", id, seed, lens[i]), 0);
		assert_memory_not_equal(seed, zero, lens[i]);
		assert_int_equal(RAND_bytes(msg, (int)msglen), 1);
		assert_int_equal(hsm_hmac_sha1(t->s, id, msg, msglen, mac), 0);
		openssl_hmac(seed, lens[i], msg, msglen, want);
		assert_memory_equal(mac, want, 20);
		/* An empty message too. */
		assert_int_equal(hsm_hmac_sha1(t->s, id, msg, 0, mac), 0);
		openssl_hmac(seed, lens[i], msg, 0, want);
		assert_memory_equal(mac, want, 20);
	}
}

/* The seed object: the token computes with it and nothing else, and never shows it. */
static void
test_seed_attributes(void **state)
{
	struct test_token *t = *state;
	uint8_t id[HSM_ID_LEN], value[64], got_id[32];
	CK_OBJECT_HANDLE obj;
	CK_KEY_TYPE kt = 0;
	CK_BBOOL b[9];
	char why[128] = "";
	CK_ATTRIBUTE a[] = {
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_SENSITIVE, &b[0], 1},
	    {CKA_EXTRACTABLE, &b[1], 1},
	    {CKA_PRIVATE, &b[2], 1},
	    {CKA_TOKEN, &b[3], 1},
	    {CKA_SIGN, &b[4], 1},
	    {CKA_VERIFY, &b[5], 1},
	    {CKA_ENCRYPT, &b[6], 1},
	    {CKA_DERIVE, &b[7], 1},
	    {CKA_UNWRAP, &b[8], 1},
	    {CKA_ID, got_id, sizeof(got_id)},
	};
	CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};

	assert_int_equal(hsm_otp_seed_import(t->s, "seed", rfc_seed, 20, id), 0);
	obj = seed_object(t, id);
	assert_int_equal(t->h->f->C_GetAttributeValue(t->s->handle, obj, a, 11), CKR_OK);
	assert_int_equal(kt, CKK_GENERIC_SECRET);
	assert_int_equal(b[0], CK_TRUE);
	assert_int_equal(b[1], CK_FALSE);
	assert_int_equal(b[2], CK_TRUE);
	assert_int_equal(b[3], CK_TRUE);
	assert_int_equal(b[4], CK_TRUE);
	assert_int_equal(b[5], CK_FALSE);
	assert_int_equal(b[6], CK_FALSE);
	assert_int_equal(b[7], CK_FALSE);
	assert_int_equal(b[8], CK_FALSE);
	assert_int_equal(a[10].ulValueLen, HSM_ID_LEN);
	assert_memory_equal(got_id, id, HSM_ID_LEN);
	assert_int_equal(t->h->f->C_GetAttributeValue(t->s->handle, obj, &v, 1),
			 CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(hsm_otp_seed_check(t->s, id, why, sizeof(why)), 0);
}

static void
test_refusals(void **state)
{
	struct test_token *t = *state;
	uint8_t id[HSM_ID_LEN], seed[80], mac[20], zero[80] = {0};
	uint8_t unknown[HSM_ID_LEN] = {0xee};
	struct hsm_key aes;
	char why[128] = "";

	/* Seeds shorter than SoftHSM's HMAC floor, or longer than we keep. */
	memset(seed, 0x33, sizeof(seed));
	assert_int_equal(hsm_otp_seed_import(t->s, "seed", seed, HSM_OTP_SEED_MIN - 1, id),
			 SIGNET_EINVAL);
	assert_int_equal(hsm_otp_seed_import(t->s, "seed", seed, 65, id), SIGNET_EINVAL);
	/* A refused new seed is not left in our memory either. */
	assert_int_equal(hsm_otp_seed_create(t->s, "seed", id, seed, 10), SIGNET_EINVAL);
	assert_memory_equal(seed, zero, 10);
	assert_int_equal(hsm_otp_seed_create(t->s, "seed", id, seed, 80), SIGNET_EINVAL);
	assert_memory_equal(seed, zero, 80);
	/* No seed under the id. */
	assert_int_equal(hsm_hmac_sha1(t->s, unknown, seed, 8, mac), SIGNET_ENOTFOUND);
	assert_int_equal(hsm_otp_seed_check(t->s, unknown, why, sizeof(why)), SIGNET_ENOTFOUND);
	/* An AES key is no HMAC key (and may not sign). */
	assert_int_equal(hsm_key_generate(t->s, HSM_ALG_AES_256, "aes", &aes), 0);
	assert_int_equal(hsm_hmac_sha1(t->s, aes.id, seed, 8, mac), SIGNET_ETOKEN);
	/* Gone once destroyed. */
	assert_int_equal(hsm_otp_seed_import(t->s, "seed", rfc_seed, 20, id), 0);
	assert_int_equal(hsm_hmac_sha1(t->s, id, seed, 8, mac), 0);
	assert_int_equal(hsm_otp_seed_destroy(t->s, id), 0);
	assert_int_equal(hsm_hmac_sha1(t->s, id, seed, 8, mac), SIGNET_ENOTFOUND);
	assert_int_equal(hsm_otp_seed_check(t->s, id, why, sizeof(why)), SIGNET_ENOTFOUND);
	hsm_key_clear(&aes);
}

/* The session is lost before the HMAC: recomputed on a new one, and still right. */
static void
test_fault_recovers(void **state)
{
	struct test_token *t = *state;
	uint8_t id[HSM_ID_LEN], mac[20], want[20];
	static const uint8_t counter[8] = {0, 0, 0, 0, 0, 0, 0, 1};

	if (t == NULL) {
		fprintf(stderr, "P11FAULT is not set: fault injection not tested\n");
		skip();
	}
	assert_int_equal(hsm_otp_seed_import(t->s, "rfc", rfc_seed, 20, id), 0);
	openssl_hmac(rfc_seed, 20, counter, 8, want);
	test_token_fault(t, "close-sessions", 1);
	assert_int_equal(hsm_hmac_sha1(t->s, id, counter, 8, mac), 0);
	assert_memory_equal(mac, want, 20);
	assert_int_equal(test_token_faults_fired(t), 1);
	test_token_fault(t, "sign-device-error", 1);
	assert_int_equal(hsm_hmac_sha1(t->s, id, counter, 8, mac), 0);
	assert_memory_equal(mac, want, 20);
	assert_int_equal(hotp6(mac), rfc_hotp[1]);
	assert_int_equal(test_token_faults_fired(t), 2);
	/* A seed made while the session is lost is made once, on the new session. */
	test_token_fault(t, "close-sessions", 1);
	hsm_objects_changed(t->h);
	assert_int_equal(hsm_otp_seed_import(t->s, "again", rfc_seed, 20, id), 0);
	assert_int_equal(hsm_hmac_sha1(t->s, id, counter, 8, mac), 0);
	assert_memory_equal(mac, want, 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rfc4226_vectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seed_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seed_attributes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_recovers, setup_fault, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for policy/totp.c: truncation and candidates against the RFC 4226 and RFC 6238
 * vectors (HMAC by OpenSSL), code parsing, the window, replay and the lockout. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "policy/totp.h"

/* RFC 4226 Appendix D: the seed, and HOTP values for counters 0..9. */
static const uint8_t rfc_seed[] = "12345678901234567890";
#define RFC_SEED_LEN 20
static const uint32_t hotp[10] = {755224, 287082, 359152, 969429, 338314,
				  254676, 287922, 162583, 399871, 520489};

/* RFC 6238 Appendix B, SHA-1: the 8-digit values reduced modulo 10^6. */
static const struct {
	int64_t t;
	uint32_t code;
} totp_vec[] = {
    {59, 287082},         /* 94287082 */
    {1111111109, 81804},  /* 07081804 */
    {1111111111, 50471},  /* 14050471 */
    {1234567890, 5924},   /* 89005924 */
    {2000000000, 279037}, /* 69279037 */
    {20000000000, 353130} /* 65353130 */
};
#define NTOTP (sizeof(totp_vec) / sizeof(totp_vec[0]))

struct hctx {
	int calls;
	int fail_at; /* call number (1-based) that fails; 0: none */
};

static int
ossl_hmac(void *ctx, const uint8_t counter[8], uint8_t out[20])
{
	struct hctx *h = ctx;
	unsigned int len = 0;

	if (h != NULL) {
		h->calls++;
		if (h->fail_at != 0 && h->calls == h->fail_at) {
			return -7;
		}
	}
	if (HMAC(EVP_sha1(), rfc_seed, RFC_SEED_LEN, counter, 8, out, &len) == NULL || len != 20) {
		return -1;
	}
	return 0;
}

static void
counter_of(uint64_t c, uint8_t out[8])
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(c >> (56 - 8 * i));
	}
}

static uint32_t
code_at_step(uint64_t step)
{
	uint8_t ctr[8], mac[20];

	counter_of(step, ctr);
	assert_int_equal(ossl_hmac(NULL, ctr, mac), 0);
	return totp_truncate(mac);
}

static void
test_truncate_rfc4226(void **state)
{
	for (uint64_t c = 0; c < 10; c++) {
		uint32_t got = code_at_step(c);
		if (got != hotp[c]) {
			fail_msg("counter %u: %06u, RFC 4226 says %06u", (unsigned)c, got, hotp[c]);
		}
	}
}

/* RFC 4226 5.4's worked example: offset 10 picks 50ef7f19, 0x50ef7f19 % 10^6 = 872921. */
static void
test_truncate_worked_example(void **state)
{
	const uint8_t mac[20] = {0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85,
				 0x50, 0xef, 0x7f, 0x19, 0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a};
	uint8_t hi[20] = {0};

	assert_int_equal(totp_truncate(mac), 872921);
	/* The top bit of the selected word is masked: 0xffffffff -> 0x7fffffff = 2147483647. */
	memset(hi, 0xff, sizeof(hi));
	assert_int_equal(totp_truncate(hi), 483647);
	/* Offset 15 (the largest) reads bytes 15..18, never byte 19 or beyond. */
	memset(hi, 0, sizeof(hi));
	hi[15] = 0x00;
	hi[16] = 0x01;
	hi[17] = 0x02;
	hi[18] = 0x03;
	hi[19] = 0x0f;
	assert_int_equal(totp_truncate(hi), 0x010203 % 1000000);
}

static void
test_step(void **state)
{
	assert_int_equal(totp_step(0), 0);
	assert_int_equal(totp_step(29), 0);
	assert_int_equal(totp_step(30), 1);
	assert_int_equal(totp_step(59), 1);
	assert_int_equal(totp_step(60), 2);
	assert_int_equal(totp_step(-5), 0);
	assert_int_equal(totp_step(-31), 0);
	assert_int_equal(totp_step(-3000), 0);
	assert_true(totp_step(20000000000) == 666666666);
}

static void
test_candidates_rfc6238(void **state)
{
	for (size_t i = 0; i < NTOTP; i++) {
		struct totp_candidates c;
		struct hctx h = {0};
		int64_t s = totp_vec[i].t / TOTP_STEP_S;

		memset(&c, 0xa5, sizeof(c));
		assert_int_equal(totp_candidates(totp_vec[i].t, ossl_hmac, &h, &c), 0);
		assert_int_equal(h.calls, TOTP_CANDIDATES);
		for (int k = 0; k < TOTP_CANDIDATES; k++) {
			assert_true(c.step[k] == s - TOTP_WINDOW + k);
			assert_int_equal(c.code[k], code_at_step((uint64_t)c.step[k]));
		}
		if (c.code[TOTP_WINDOW] != totp_vec[i].code) {
			fail_msg("T=%lld: %06u, RFC 6238 says %06u", (long long)totp_vec[i].t,
				 c.code[TOTP_WINDOW], totp_vec[i].code);
		}
	}
}

/* At T=59 (step 1) the window is steps 0, 1, 2: RFC 4226 counters 0, 1, 2. */
static void
test_candidates_window_is_hotp(void **state)
{
	struct totp_candidates c;

	assert_int_equal(totp_candidates(59, ossl_hmac, NULL, &c), 0);
	assert_true(c.step[0] == 0 && c.step[1] == 1 && c.step[2] == 2);
	assert_int_equal(c.code[0], hotp[0]);
	assert_int_equal(c.code[1], hotp[1]);
	assert_int_equal(c.code[2], hotp[2]);
	/* One step later, the window slides by one. */
	assert_int_equal(totp_candidates(60, ossl_hmac, NULL, &c), 0);
	assert_true(c.step[0] == 1 && c.step[2] == 3);
	assert_int_equal(c.code[0], hotp[1]);
	assert_int_equal(c.code[2], hotp[3]);
}

static void
test_candidates_hmac_error(void **state)
{
	struct totp_candidates c;
	struct hctx h = {.fail_at = 2};

	assert_int_equal(totp_candidates(1111111111, ossl_hmac, &h, &c), -7);
	assert_int_equal(h.calls, 2);
}

static void
test_code_parse(void **state)
{
	uint32_t code = 4242;

	assert_int_equal(totp_code_parse("123456", &code), 0);
	assert_int_equal(code, 123456);
	assert_int_equal(totp_code_parse("000000", &code), 0);
	assert_int_equal(code, 0);
	assert_int_equal(totp_code_parse("081804", &code), 0);
	assert_int_equal(code, 81804);
	assert_int_equal(totp_code_parse("999999", &code), 0);
	assert_int_equal(code, 999999);

	static const char *const bad[] = {
	    "12345",
	    "1234567",
	    "",
	    "12a456",
	    "abcdef",
	    "+12345",
	    "-12345",
	    " 12345",
	    "12345 ",
	    "12 456",
	    "12345:",
	    "/12345",
	    "12345\x7f",
	    "\xef\xbc\x91"
	    "23456",
	    "12345\n",
	    "0x1234",
	    "1234567890123",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = 4242;
		if (totp_code_parse(bad[i], &code) != -1) {
			fail_msg("'%s' was accepted as %u", bad[i], code);
		}
		assert_int_equal(code, 4242);
	}
	code = 4242;
	assert_int_equal(totp_code_parse(NULL, &code), -1);
	assert_int_equal(code, 4242);
}

static struct totp_candidates
cands(int64_t first, uint32_t a, uint32_t b, uint32_t c)
{
	struct totp_candidates x;

	x.step[0] = first;
	x.step[1] = first + 1;
	x.step[2] = first + 2;
	x.code[0] = a;
	x.code[1] = b;
	x.code[2] = c;
	return x;
}

static void
test_match_basic(void **state)
{
	struct totp_candidates c = cands(99, 111111, 222222, 333333);
	int64_t step = -42;

	assert_int_equal(totp_match(222222, &c, 0, &step), TOTP_OK);
	assert_true(step == 100);
	/* Window edges: the step before and the step after are accepted. */
	assert_int_equal(totp_match(111111, &c, 0, &step), TOTP_OK);
	assert_true(step == 99);
	assert_int_equal(totp_match(333333, &c, 0, &step), TOTP_OK);
	assert_true(step == 101);
	step = -42;
	assert_int_equal(totp_match(444444, &c, 0, &step), TOTP_INVALID);
	assert_int_equal(totp_match(0, &c, 0, &step), TOTP_INVALID);
	assert_true(step == -42);
	/* The comparison is exact: a code one bit off any candidate matches none. */
	for (int k = 0; k < TOTP_CANDIDATES; k++) {
		for (int b = 0; b < 32; b++) {
			uint32_t near = c.code[k] ^ (1u << b);
			if (totp_match(near, &c, 0, &step) != TOTP_INVALID) {
				fail_msg("%u matched, one bit off candidate %u", near, c.code[k]);
			}
		}
	}
}

static void
test_match_newest(void **state)
{
	int64_t step = -42;
	struct totp_candidates c = cands(99, 555555, 123123, 555555);

	/* The same code at two steps: the newest is the one recorded. */
	assert_int_equal(totp_match(555555, &c, 0, &step), TOTP_OK);
	assert_true(step == 101);
	/* ... so that after it was used at 100, the code still counts as the newer step 101. */
	assert_int_equal(totp_match(555555, &c, 100, &step), TOTP_OK);
	assert_true(step == 101);
	c = cands(99, 555555, 555555, 123123);
	assert_int_equal(totp_match(555555, &c, 0, &step), TOTP_OK);
	assert_true(step == 100);
	c = cands(99, 555555, 555555, 555555);
	assert_int_equal(totp_match(555555, &c, 0, &step), TOTP_OK);
	assert_true(step == 101);
}

static void
test_match_replay(void **state)
{
	struct totp_candidates c = cands(99, 111111, 222222, 333333);
	int64_t step = -42;

	/* last_step == the matching step: replayed; older last step: accepted. */
	assert_int_equal(totp_match(222222, &c, 100, &step), TOTP_REPLAYED);
	assert_true(step == -42);
	assert_int_equal(totp_match(222222, &c, 101, &step), TOTP_REPLAYED);
	assert_int_equal(totp_match(222222, &c, 99, &step), TOTP_OK);
	assert_true(step == 100);
	/* A code of an older step after a newer one was accepted is a replay too. */
	assert_int_equal(totp_match(111111, &c, 100, &step), TOTP_REPLAYED);
	assert_int_equal(totp_match(111111, &c, 99, &step), TOTP_REPLAYED);
	assert_int_equal(totp_match(111111, &c, 98, &step), TOTP_OK);
	assert_true(step == 99);
	/* A wrong code is invalid whatever the last step. */
	assert_int_equal(totp_match(444444, &c, 1000, &step), TOTP_INVALID);
}

/* The window with real codes: at T, codes of steps T/30 +- 1 pass, +- 2 do not. */
static void
test_match_window_edges_rfc(void **state)
{
	const int64_t now = 1111111111;
	const int64_t s = now / TOTP_STEP_S;
	struct totp_candidates c;
	int64_t step = 0;

	assert_int_equal(totp_candidates(now, ossl_hmac, NULL, &c), 0);
	assert_int_equal(totp_match(50471, &c, 0, &step), TOTP_OK);
	assert_true(step == s);
	assert_int_equal(totp_match(code_at_step((uint64_t)(s - 1)), &c, 0, &step), TOTP_OK);
	assert_true(step == s - 1);
	assert_int_equal(totp_match(code_at_step((uint64_t)(s + 1)), &c, 0, &step), TOTP_OK);
	assert_true(step == s + 1);
	for (int64_t d = 2; d <= 4; d++) {
		uint32_t before = code_at_step((uint64_t)(s - d)),
			 after = code_at_step((uint64_t)(s + d));
		for (int k = 0; k < TOTP_CANDIDATES; k++) {
			/* Vectors with a collision would not test anything. */
			assert_int_not_equal(before, c.code[k]);
			assert_int_not_equal(after, c.code[k]);
		}
		assert_int_equal(totp_match(before, &c, 0, &step), TOTP_INVALID);
		assert_int_equal(totp_match(after, &c, 0, &step), TOTP_INVALID);
	}
	/* Step edges in time: at 89 s (step 2) counter 1 is still in, counter 4 not yet;
	 * at 90 s (step 3) counter 1 is out and counter 4 in. */
	assert_int_equal(totp_candidates(89, ossl_hmac, NULL, &c), 0);
	assert_int_equal(totp_match(hotp[1], &c, 0, &step), TOTP_OK);
	assert_true(step == 1);
	assert_int_equal(totp_match(hotp[4], &c, 0, &step), TOTP_INVALID);
	assert_int_equal(totp_candidates(90, ossl_hmac, NULL, &c), 0);
	assert_int_equal(totp_match(hotp[1], &c, 0, &step), TOTP_INVALID);
	assert_int_equal(totp_match(hotp[4], &c, 0, &step), TOTP_OK);
	assert_true(step == 4);
}

static void
test_lockout(void **state)
{
	struct totp_state s = {0};
	const int64_t now = 1700000000;

	assert_false(totp_locked(&s, now));
	for (int i = 1; i < TOTP_MAX_FAILURES; i++) {
		assert_false(totp_failed(&s, now + i));
		assert_int_equal(s.failures, i);
		assert_false(totp_locked(&s, now + i));
	}
	/* The 5th failure in a row starts a 900 s lockout. */
	assert_int_equal(TOTP_MAX_FAILURES, 5);
	assert_int_equal(TOTP_LOCKOUT_S, 900);
	assert_true(totp_failed(&s, now + 10));
	assert_true(s.locked_until == now + 10 + 900);
	assert_true(totp_locked(&s, now + 10));
	assert_true(totp_locked(&s, now + 10 + 899));
	assert_false(totp_locked(&s, now + 10 + 900));
	assert_false(totp_locked(&s, now + 10 + 901));
	/* The count starts again after a lockout. */
	assert_int_equal(s.failures, 0);
	assert_false(totp_failed(&s, now + 2000));
	assert_int_equal(s.failures, 1);
}

static void
test_accepted_resets(void **state)
{
	struct totp_state s = {0};
	const int64_t now = 1700000000;

	for (int i = 0; i < TOTP_MAX_FAILURES - 1; i++) {
		assert_false(totp_failed(&s, now));
	}
	totp_accepted(&s, 56666667);
	assert_int_equal(s.failures, 0);
	assert_true(s.last_step == 56666667);
	assert_false(totp_locked(&s, now));
	/* Four more failures after the reset lock nothing; the fifth does. */
	for (int i = 0; i < TOTP_MAX_FAILURES - 1; i++) {
		assert_false(totp_failed(&s, now + 1));
	}
	assert_false(totp_locked(&s, now + 1));
	assert_true(totp_failed(&s, now + 1));
	assert_true(totp_locked(&s, now + 1));
	assert_true(s.last_step == 56666667);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_truncate_rfc4226),
	    cmocka_unit_test(test_truncate_worked_example),
	    cmocka_unit_test(test_step),
	    cmocka_unit_test(test_candidates_rfc6238),
	    cmocka_unit_test(test_candidates_window_is_hotp),
	    cmocka_unit_test(test_candidates_hmac_error),
	    cmocka_unit_test(test_code_parse),
	    cmocka_unit_test(test_match_basic),
	    cmocka_unit_test(test_match_newest),
	    cmocka_unit_test(test_match_replay),
	    cmocka_unit_test(test_match_window_edges_rfc),
	    cmocka_unit_test(test_lockout),
	    cmocka_unit_test(test_accepted_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

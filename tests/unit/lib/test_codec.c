/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/codec.c: RFC 4648 vectors and the strict decoders' refusals. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/codec.h"

struct vector {
	const char *plain;
	const char *std;
	const char *url;
	const char *hex;
};

/* RFC 4648 section 10, with the URL alphabet's unpadded spelling alongside. */
static const struct vector rfc4648[] = {
    {"", "", "", ""},
    {"f", "Zg==", "Zg", "66"},
    {"fo", "Zm8=", "Zm8", "666f"},
    {"foo", "Zm9v", "Zm9v", "666f6f"},
    {"foob", "Zm9vYg==", "Zm9vYg", "666f6f62"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE", "666f6f6261"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy", "666f6f626172"},
};

/* Decode a NUL-terminated string with a generous output buffer. */
static long
decode(const char *in, bool url, uint8_t *out)
{
	return base64_decode(in, strlen(in), out, 64, url);
}

static void
test_base64_encode_vectors(void **state)
{
	char out[64];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const struct vector *v = &rfc4648[i];
		size_t n = strlen(v->plain);

		assert_int_equal(base64_encoded_len(n), strlen(v->std));
		memset(out, 'X', sizeof(out));
		base64_encode((const uint8_t *)v->plain, n, out, false);
		assert_string_equal(out, v->std);
		memset(out, 'X', sizeof(out));
		base64_encode((const uint8_t *)v->plain, n, out, true);
		assert_string_equal(out, v->url);
	}
}

static void
test_base64_decode_vectors(void **state)
{
	uint8_t out[64];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const struct vector *v = &rfc4648[i];
		size_t n = strlen(v->plain);

		assert_int_equal(decode(v->std, false, out), (long)n);
		assert_memory_equal(out, v->plain, n);
		assert_int_equal(decode(v->url, true, out), (long)n);
		assert_memory_equal(out, v->plain, n);
		assert_true(base64_decoded_max(strlen(v->std)) >= n);
		assert_true(base64_decoded_max(strlen(v->url)) >= n);
	}
}

static void
test_base64_alphabets(void **state)
{
	static const uint8_t bin[] = {0xfb, 0xff, 0xbf};
	static const uint8_t bin2[] = {0xfb, 0xff};
	uint8_t out[8];
	char enc[16];

	base64_encode(bin, sizeof(bin), enc, false);
	assert_string_equal(enc, "+/+/");
	base64_encode(bin, sizeof(bin), enc, true);
	assert_string_equal(enc, "-_-_");
	base64_encode(bin2, sizeof(bin2), enc, false);
	assert_string_equal(enc, "+/8=");
	base64_encode(bin2, sizeof(bin2), enc, true);
	assert_string_equal(enc, "-_8");

	assert_int_equal(decode("+/+/", false, out), 3);
	assert_memory_equal(out, bin, 3);
	assert_int_equal(decode("-_-_", true, out), 3);
	assert_memory_equal(out, bin, 3);
	/* Each alphabet refuses the other's two extra characters. */
	assert_int_equal(decode("-_-_", false, out), -1);
	assert_int_equal(decode("+/+/", true, out), -1);
	assert_int_equal(decode("ab+c", true, out), -1);
	assert_int_equal(decode("ab/c", true, out), -1);
	assert_int_equal(decode("ab-c", false, out), -1);
	assert_int_equal(decode("ab_c", false, out), -1);
}

static void
test_base64_rejects_whitespace(void **state)
{
	static const char *const bad[] = {
	    "Zm9v\n", "Zm9v\r\n",   " Zm9v",     "Zm9v ",  "Zm 9v",
	    "Zm9\tv", "Zm9vYmFy\n", "Zm9v YmFy", "Zg==\n", "Zg== ",
	};
	uint8_t out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode(bad[i], false, out), -1);
		assert_int_equal(decode(bad[i], true, out), -1);
	}
}

static void
test_base64_rejects_bad_padding(void **state)
{
	static const char *const bad_std[] = {
	    "Zg",    /* padding missing */
	    "Zg=",   /* padding short */
	    "Zm8",   /* padding missing */
	    "Zg===", /* padding long */
	    "Zm9v=", /* padding after a full group */
	    "Zm9v====", "====", "Z===", "=Zg=", "Zg=a", "Z=g=", "Zg==Zg==", /* padding inside */
	    "Zm8=Zm8=", "A",
	};
	static const char *const bad_url[] = {
	    "Zg==", "Zm8=", "Zg=", "Zm9v=", "A", "Zm9vY", "=", "Zm9vYmFy=",
	};
	uint8_t out[64];

	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
		if (decode(bad_std[i], false, out) != -1) {
			fail_msg("standard alphabet accepted \"%s\"", bad_std[i]);
		}
	}
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
		if (decode(bad_url[i], true, out) != -1) {
			fail_msg("URL alphabet accepted \"%s\"", bad_url[i]);
		}
	}
}

static void
test_base64_rejects_trailing_bits(void **state)
{
	uint8_t out[64];

	/* "Zg==" is the only spelling of "f": 'h' through 'v' set bits past the byte. */
	assert_int_equal(decode("Zg==", false, out), 1);
	assert_int_equal(decode("Zh==", false, out), -1);
	assert_int_equal(decode("Zv==", false, out), -1);
	assert_int_equal(decode("Zh", true, out), -1);
	/* "Zm8=" is the only spelling of "fo": '9' sets the low bits. */
	assert_int_equal(decode("Zm8=", false, out), 2);
	assert_int_equal(decode("Zm9=", false, out), -1);
	assert_int_equal(decode("Zm9", true, out), -1);
	assert_int_equal(decode("Zm9vYh==", false, out), -1);
	assert_int_equal(decode("Zm9vYmF=", false, out), -1);
	assert_int_equal(decode("AB==", false, out), -1);
	assert_int_equal(decode("AAB=", false, out), -1);
	assert_int_equal(decode("AA==", false, out), 1);
	assert_int_equal(out[0], 0);
}

static void
test_base64_rejects_foreign_bytes(void **state)
{
	static const char nul[] = {'Z', 'm', '\0', 'v'};
	static const char high[] = {'Z', 'm', (char)0xc3, 'v'};
	uint8_t out[64];

	assert_int_equal(base64_decode(nul, sizeof(nul), out, sizeof(out), false), -1);
	assert_int_equal(base64_decode(nul, sizeof(nul), out, sizeof(out), true), -1);
	assert_int_equal(base64_decode(high, sizeof(high), out, sizeof(out), false), -1);
	assert_int_equal(base64_decode(high, sizeof(high), out, sizeof(out), true), -1);
	assert_int_equal(decode("Zm9v.A==", false, out), -1);
	assert_int_equal(decode("Zm9v!A", true, out), -1);
	/* The length is what is given, not up to a NUL. */
	assert_int_equal(base64_decode("Zm9vYmFy", 4, out, sizeof(out), false), 3);
	assert_memory_equal(out, "foo", 3);
}

static void
test_base64_output_bound(void **state)
{
	uint8_t out[8];

	memset(out, 0xaa, sizeof(out));
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5, false), -1);
	/* Refused before anything is written past the bound. */
	assert_int_equal(out[5], 0xaa);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 6, false), 6);
	assert_memory_equal(out, "foobar", 6);

	memset(out, 0xaa, sizeof(out));
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 3, false), -1);
	assert_int_equal(out[3], 0xaa);
	assert_int_equal(base64_decode("Zm9vYg==", 8, out, 4, false), 4);
	assert_int_equal(base64_decode("Zm9vYmE", 7, out, 4, true), -1);
	assert_int_equal(base64_decode("Zm9vYmE", 7, out, 5, true), 5);
	assert_int_equal(base64_decode("Zg==", 4, out, 0, false), -1);
	assert_int_equal(base64_decode("", 0, out, 0, false), 0);
	assert_int_equal(base64_decode("", 0, out, 0, true), 0);
}

static void
test_base64_round_trip(void **state)
{
	uint8_t in[300], out[300];
	char enc[410];

	for (size_t i = 0; i < sizeof(in); i++) {
		in[i] = (uint8_t)(i * 151 + 7);
	}
	for (size_t n = 0; n <= sizeof(in); n++) {
		for (int url = 0; url <= 1; url++) {
			char *a;

			base64_encode(in, n, enc, url);
			assert_true(strlen(enc) <= base64_encoded_len(n));
			if (!url) {
				assert_int_equal(strlen(enc), base64_encoded_len(n));
			}
			assert_true(base64_decoded_max(strlen(enc)) >= n);
			assert_int_equal(base64_decode(enc, strlen(enc), out, n, url), (long)n);
			assert_memory_equal(out, in, n);
			a = base64_encode_alloc(in, n, url);
			assert_non_null(a);
			assert_string_equal(a, enc);
			free(a);
		}
	}
}

static void
test_hex_vectors(void **state)
{
	uint8_t out[16];
	char enc[40];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const struct vector *v = &rfc4648[i];
		size_t n = strlen(v->plain);

		hex_encode((const uint8_t *)v->plain, n, enc);
		assert_string_equal(enc, v->hex);
		memset(out, 0, sizeof(out));
		assert_true(hex_decode(v->hex, out, n));
		assert_memory_equal(out, v->plain, n);
	}
}

static void
test_hex_case_and_range(void **state)
{
	static const uint8_t bin[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
	uint8_t out[5];
	char enc[11];

	hex_encode(bin, sizeof(bin), enc);
	/* Encoding is lower case. */
	assert_string_equal(enc, "000fa5ff10");
	assert_true(hex_decode("000FA5FF10", out, sizeof(out)));
	assert_memory_equal(out, bin, sizeof(bin));
	assert_true(hex_decode("000fA5Ff10", out, sizeof(out)));
	assert_memory_equal(out, bin, sizeof(bin));
}

static void
test_hex_rejects(void **state)
{
	uint8_t out[4];

	/* Length must be exactly twice the output. */
	assert_false(hex_decode("666f6", out, 3));
	assert_false(hex_decode("666f6f6", out, 3));
	assert_false(hex_decode("666f", out, 3));
	assert_false(hex_decode("666f6f62", out, 3));
	/* Only hex digits. */
	assert_false(hex_decode("66 f6f", out, 3));
	assert_false(hex_decode("666g6f", out, 3));
	assert_false(hex_decode("0x666f", out, 3));
	assert_false(hex_decode("-1", out, 1));
	assert_false(hex_decode("6\n", out, 1));
	assert_true(hex_decode("", out, 0));
	assert_false(hex_decode("", out, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64_encode_vectors),
	    cmocka_unit_test(test_base64_decode_vectors),
	    cmocka_unit_test(test_base64_alphabets),
	    cmocka_unit_test(test_base64_rejects_whitespace),
	    cmocka_unit_test(test_base64_rejects_bad_padding),
	    cmocka_unit_test(test_base64_rejects_trailing_bits),
	    cmocka_unit_test(test_base64_rejects_foreign_bytes),
	    cmocka_unit_test(test_base64_output_bound),
	    cmocka_unit_test(test_base64_round_trip),
	    cmocka_unit_test(test_hex_vectors),
	    cmocka_unit_test(test_hex_case_and_range),
	    cmocka_unit_test(test_hex_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

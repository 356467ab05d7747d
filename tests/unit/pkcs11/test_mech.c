/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of pkcs11/mech.c: DigestInfo parsing and the ECDSA DER to r||s conversion. */
#include "config.h"

#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "pkcs11/p11mod.h"

#define DI_MAX 128

/* The DigestInfo prefixes of RFC 8017 9.2 note 1, written out again rather than shared. */
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
/* SHA-1, a hash signetd does not sign with. */
static const uint8_t di_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
				  0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
/* SHA-256 without the NULL parameters (RFC 8017 allows it; the module does not re-encode). */
static const uint8_t di_sha256_noparams[] = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
					     0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};

static const struct {
	const char *name;
	const uint8_t *prefix;
	size_t plen, dlen;
} hashes[] = {
    {"SHA-256", di_sha256, sizeof(di_sha256), 32},
    {"SHA-384", di_sha384, sizeof(di_sha384), 48},
    {"SHA-512", di_sha512, sizeof(di_sha512), 64},
};

/* PREFIX followed by DLEN bytes 0x01, 0x02, ... into BUF; its length. */
static size_t
make_di(uint8_t *buf, const uint8_t *prefix, size_t plen, size_t dlen)
{
	assert_true(plen + dlen <= DI_MAX);
	memcpy(buf, prefix, plen);
	for (size_t i = 0; i < dlen; i++) {
		buf[plen + i] = (uint8_t)(i + 1);
	}
	return plen + dlen;
}

static bool
parse(const uint8_t *in, size_t len)
{
	const char *hash = "untouched";
	const uint8_t *digest = NULL;
	size_t dlen = 12345;

	return p11_digestinfo_parse(in, len, &hash, &digest, &dlen);
}

static void
test_digestinfo_valid(void **state)
{
	uint8_t buf[DI_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		size_t len = make_di(buf, hashes[i].prefix, hashes[i].plen, hashes[i].dlen);
		const char *hash = NULL;
		const uint8_t *digest = NULL;
		size_t dlen = 0;

		assert_true(p11_digestinfo_parse(buf, len, &hash, &digest, &dlen));
		assert_string_equal(hash, hashes[i].name);
		assert_ptr_equal(digest, buf + hashes[i].plen);
		assert_int_equal(dlen, hashes[i].dlen);
		assert_int_equal(digest[0], 1);
		assert_int_equal(digest[dlen - 1], (uint8_t)dlen);
		/* the name is the one signetd takes for that digest length */
		assert_string_equal(p11_hash_name_for_len(dlen), hashes[i].name);
	}
}

static void
test_digestinfo_truncated(void **state)
{
	uint8_t buf[DI_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		size_t len = make_di(buf, hashes[i].prefix, hashes[i].plen, hashes[i].dlen);

		/* every shorter length: a digest cut short, the prefix alone, nothing */
		for (size_t l = 0; l < len; l++) {
			assert_false(parse(buf, l));
		}
	}
	assert_false(parse(NULL, 0));
}

static void
test_digestinfo_trailing(void **state)
{
	uint8_t buf[DI_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		size_t len = make_di(buf, hashes[i].prefix, hashes[i].plen, hashes[i].dlen);

		buf[len] = 0x00;
		assert_false(parse(buf, len + 1));
	}
}

static void
test_digestinfo_wrong_oid(void **state)
{
	uint8_t buf[DI_MAX];
	size_t len;

	(void)state;
	len = make_di(buf, di_sha1, sizeof(di_sha1), 20);
	assert_false(parse(buf, len));
	/* 2.16.840.1.101.3.4.2.4 is SHA-224; .6 is SHA-512/256 (a 32-byte digest) */
	len = make_di(buf, di_sha256, sizeof(di_sha256), 32);
	buf[14] = 0x06;
	assert_false(parse(buf, len));
	buf[14] = 0x04;
	assert_false(parse(buf, len));
	/* SHA-256's OID with SHA-512's lengths, and a digest of the wrong length */
	len = make_di(buf, di_sha512, sizeof(di_sha512), 64);
	buf[14] = 0x01;
	assert_false(parse(buf, len));
	len = make_di(buf, di_sha256, sizeof(di_sha256), 48);
	assert_false(parse(buf, len));
	/* any single byte of the prefix changed */
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		for (size_t at = 0; at < hashes[i].plen; at++) {
			len = make_di(buf, hashes[i].prefix, hashes[i].plen, hashes[i].dlen);
			buf[at] ^= 0x01;
			assert_false(parse(buf, len));
		}
	}
}

static void
test_digestinfo_null_params(void **state)
{
	uint8_t buf[DI_MAX];
	size_t len;

	(void)state;
	/* absent parameters: not the bytes signetd's PKCS #1 v1.5 encoding would sign */
	len = make_di(buf, di_sha256_noparams, sizeof(di_sha256_noparams), 32);
	assert_false(parse(buf, len));
	/* NULL with content (05 01 00), lengths adjusted */
	{
		static const uint8_t p[] = {0x30, 0x32, 0x30, 0x0e, 0x06, 0x09, 0x60,
					    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
					    0x01, 0x05, 0x01, 0x00, 0x04, 0x20};

		len = make_di(buf, p, sizeof(p), 32);
		assert_false(parse(buf, len));
	}
	/* another type where NULL stands (an empty OCTET STRING), same length */
	len = make_di(buf, di_sha384, sizeof(di_sha384), 48);
	buf[15] = 0x04;
	assert_false(parse(buf, len));
}

/* The DER of (R, S), R and S given big-endian; its length. */
static size_t
make_sig(uint8_t *der, size_t cap, const uint8_t *r, size_t rlen, const uint8_t *s, size_t slen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, (int)rlen, NULL), *bs = BN_bin2bn(s, (int)slen, NULL);
	unsigned char *p = der;
	int n;

	assert_non_null(sig);
	assert_non_null(br);
	assert_non_null(bs);
	assert_int_equal(ECDSA_SIG_set0(sig, br, bs), 1);
	n = i2d_ECDSA_SIG(sig, NULL);
	assert_true(n > 0 && (size_t)n <= cap);
	assert_int_equal(i2d_ECDSA_SIG(sig, &p), n);
	ECDSA_SIG_free(sig);
	return (size_t)n;
}

static void
check_ecdsa(size_t half)
{
	uint8_t r[66], s[66], der[160], out[132], want[132];
	size_t len;

	for (size_t i = 0; i < half; i++) {
		r[i] = (uint8_t)(0x80 + i); /* high bit set: DER adds a 00 */
		s[i] = (uint8_t)(0x11 + i);
	}
	/* full-width r and s */
	len = make_sig(der, sizeof(der), r, half, s, half);
	memset(out, 0xee, sizeof(out));
	assert_true(p11_ecdsa_der_to_raw(der, len, half, out));
	assert_memory_equal(out, r, half);
	assert_memory_equal(out + half, s, half);
	assert_int_equal(out[2 * half], 0xee);

	/* short r (one byte) and short s (half - 3 bytes): left-padded with zeros */
	len = make_sig(der, sizeof(der), (const uint8_t *)"\x05", 1, s + 3, half - 3);
	assert_true(p11_ecdsa_der_to_raw(der, len, half, out));
	memset(want, 0, sizeof(want));
	want[half - 1] = 0x05;
	memcpy(want + half + 3, s + 3, half - 3);
	assert_memory_equal(out, want, 2 * half);

	/* r of half + 1 bytes does not fit */
	r[half] = 0x42;
	len = make_sig(der, sizeof(der), r, half + 1, s, half);
	assert_false(p11_ecdsa_der_to_raw(der, len, half, out));
	len = make_sig(der, sizeof(der), s, half, r, half + 1);
	assert_false(p11_ecdsa_der_to_raw(der, len, half, out));

	/* truncated anywhere, and a trailing byte */
	len = make_sig(der, sizeof(der), r, half, s, half);
	for (size_t l = 0; l < len; l++) {
		assert_false(p11_ecdsa_der_to_raw(der, l, half, out));
	}
	der[len] = 0x00;
	assert_false(p11_ecdsa_der_to_raw(der, len + 1, half, out));
}

static void
test_ecdsa_p256(void **state)
{
	(void)state;
	check_ecdsa(32);
}

static void
test_ecdsa_p384(void **state)
{
	(void)state;
	check_ecdsa(48);
}

static void
test_ecdsa_bad_der(void **state)
{
	uint8_t out[64];
	/* SEQUENCE { INTEGER 1, INTEGER 2 } and broken forms of it */
	static const uint8_t good[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
	static const uint8_t bad_tag[] = {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
	static const uint8_t int_tag[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, 0x02};
	static const uint8_t one_int[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	static const uint8_t three[] = {0x30, 0x09, 0x02, 0x01, 0x01, 0x02,
					0x01, 0x02, 0x02, 0x01, 0x03};
	static const uint8_t seq_long[] = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
	static const uint8_t negative[] = {0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02};
	static const uint8_t nonminimal[] = {0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02};
	static const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01,
					     0x02, 0x01, 0x02, 0x00, 0x00};

	(void)state;
	assert_true(p11_ecdsa_der_to_raw(good, sizeof(good), 32, out));
	assert_int_equal(out[31], 1);
	assert_int_equal(out[63], 2);
	assert_false(p11_ecdsa_der_to_raw(good, 0, 32, out));
	assert_false(p11_ecdsa_der_to_raw(bad_tag, sizeof(bad_tag), 32, out));
	assert_false(p11_ecdsa_der_to_raw(int_tag, sizeof(int_tag), 32, out));
	assert_false(p11_ecdsa_der_to_raw(one_int, sizeof(one_int), 32, out));
	assert_false(p11_ecdsa_der_to_raw(three, sizeof(three), 32, out));
	assert_false(p11_ecdsa_der_to_raw(seq_long, sizeof(seq_long), 32, out));
	assert_false(p11_ecdsa_der_to_raw(negative, sizeof(negative), 32, out));
	assert_false(p11_ecdsa_der_to_raw(nonminimal, sizeof(nonminimal), 32, out));
	assert_false(p11_ecdsa_der_to_raw(indefinite, sizeof(indefinite), 32, out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digestinfo_valid),
	    cmocka_unit_test(test_digestinfo_truncated),
	    cmocka_unit_test(test_digestinfo_trailing),
	    cmocka_unit_test(test_digestinfo_wrong_oid),
	    cmocka_unit_test(test_digestinfo_null_params),
	    cmocka_unit_test(test_ecdsa_p256),
	    cmocka_unit_test(test_ecdsa_p384),
	    cmocka_unit_test(test_ecdsa_bad_der),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

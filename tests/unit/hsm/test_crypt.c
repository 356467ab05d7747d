/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/crypt.c: every cipher against OpenSSL with the same key, refusals, recovery. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "hsm/crypt.h"
#include "hsm/internal.h"
#include "hsm/otp.h"
#include "lib/error.h"
#include "tests/common/testtoken.h"

#define MIB (1024u * 1024u)

struct fixture {
	struct test_token tok;
	char in[160], out[160];
};

static int
setup_with(void **state, bool fault)
{
	struct fixture *x = calloc(1, sizeof(*x));

	if (x == NULL || test_token_make(&x->tok, fault) != 0) {
		free(x);
		return -1;
	}
	snprintf(x->in, sizeof(x->in), "%s/plain", x->tok.dir);
	snprintf(x->out, sizeof(x->out), "%s/cipher", x->tok.dir);
	*state = x;
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
	struct fixture *x = *state;

	if (x != NULL) {
		test_token_free(&x->tok);
		free(x);
	}
	return 0;
}

static struct fixture *
fault_fixture(void **state)
{
	if (*state == NULL) {
		fprintf(stderr, "P11FAULT is not set: fault injection not tested\n");
		skip();
	}
	return *state;
}

static const EVP_CIPHER *
evp_of(enum hsm_cipher c)
{
	switch (c) {
	case HSM_CIPHER_AES256_CBC_PKCS7_PAD:
	case HSM_CIPHER_AES256_CBC_ZERO_BYTE_PAD:
		return EVP_aes_256_cbc();
	case HSM_CIPHER_AES128_CBC_PKCS7_PAD:
		return EVP_aes_128_cbc();
	case HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD:
		return EVP_aes_256_ecb();
	case HSM_CIPHER_AES128_ECB_ZERO_BYTE_PAD:
		return EVP_aes_128_ecb();
	default:
		return EVP_aes_128_ctr();
	}
}

static bool
pkcs7(enum hsm_cipher c)
{
	return c == HSM_CIPHER_AES256_CBC_PKCS7_PAD || c == HSM_CIPHER_AES128_CBC_PKCS7_PAD;
}

/* The ciphertext length (IV excluded) the cipher must give for N bytes. */
static size_t
body_len(enum hsm_cipher c, size_t n)
{
	if (pkcs7(c)) {
		return (n / 16 + 1) * 16;
	}
	if (c == HSM_CIPHER_AES128_CTR_NO_PAD) {
		return n;
	}
	return (n + 15) / 16 * 16;
}

static uint8_t *
random_file(const char *path, size_t n)
{
	uint8_t *p = malloc(n + 1);
	FILE *f;

	assert_non_null(p);
	assert_int_equal(RAND_bytes(p, (int)n + 1), 1);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	return p;
}

static uint8_t *
read_file(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	*n = (size_t)sb.st_size;
	p = malloc(*n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* OpenSSL with KEY and IV over IN; ENC 1 encrypts, 0 decrypts. The output length. */
static size_t
evp_run(enum hsm_cipher c, int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
	size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex(ctx, evp_of(c), NULL, key, iv, enc), 1);
	assert_int_equal(EVP_CIPHER_CTX_set_padding(ctx, pkcs7(c)), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &l1, in, (int)n), 1);
	assert_int_equal(EVP_CipherFinal_ex(ctx, out + l1, &l2), 1);
	EVP_CIPHER_CTX_free(ctx);
	return (size_t)(l1 + l2);
}

/*
 * Encrypt N random bytes in the token with the imported KEY, then check
 * everything a device relies on: the layout (ciphertext, then the IV), the
 * lengths, the two digests, that OpenSSL with the same key and IV makes the
 * same ciphertext, and that OpenSSL decrypts it to the plaintext.
 */
static void
round_trip(struct fixture *x, enum hsm_cipher c, const uint8_t *key, const uint8_t id[HSM_ID_LEN],
	   size_t n, uint64_t in_len)
{
	uint8_t *plain = random_file(x->in, n), *ct, *padded, *expect, *back;
	size_t ivlen = hsm_cipher_iv_len(c), body = body_len(c, n), ctlen, got;
	uint8_t md[32];
	struct hsm_crypt_result res;
	int in_fd = open(x->in, O_RDONLY);
	int out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(in_fd >= 0 && out_fd >= 0);
	assert_int_equal(hsm_encrypt_fd(x->tok.s, c, id, in_fd, in_len, out_fd, &res), 0);
	close(in_fd);
	close(out_fd);
	ct = read_file(x->out, &ctlen);
	assert_int_equal(res.in_size, n);
	assert_int_equal(ctlen, body + ivlen);
	assert_int_equal(res.out_size, ctlen);
	assert_true(res.out_size <= hsm_cipher_out_max(c, n));
	SHA256(plain, n, md);
	assert_memory_equal(res.in_sha256, md, 32);
	SHA256(ct, ctlen, md);
	assert_memory_equal(res.out_sha256, md, 32);

	/* OpenSSL, same key, same IV (the last IVLEN bytes), same plaintext (zero-padded). */
	padded = calloc(1, body + 16);
	expect = malloc(body + 32);
	back = malloc(body + 32);
	assert_true(padded != NULL && expect != NULL && back != NULL);
	memcpy(padded, plain, n);
	got = evp_run(c, 1, key, ivlen > 0 ? ct + body : NULL, padded,
		      pkcs7(c) || c == HSM_CIPHER_AES128_CTR_NO_PAD ? n : body, expect);
	assert_int_equal(got, body);
	assert_memory_equal(ct, expect, body);
	got = evp_run(c, 0, key, ivlen > 0 ? ct + body : NULL, ct, body, back);
	assert_int_equal(got, pkcs7(c) || c == HSM_CIPHER_AES128_CTR_NO_PAD ? n : body);
	assert_memory_equal(back, plain, n);
	/* Zero-byte padding: what follows the plaintext is zeros. */
	for (size_t i = n; i < got; i++) {
		assert_int_equal(back[i], 0);
	}
	free(plain);
	free(ct);
	free(padded);
	free(expect);
	free(back);
}

static void
import_key(struct fixture *x, enum hsm_cipher c, uint8_t *key, struct hsm_key *k)
{
	enum hsm_alg alg = hsm_cipher_key_alg(c);
	size_t len = alg == HSM_ALG_AES_256 ? 32 : 16;

	assert_int_equal(RAND_bytes(key, (int)len), 1);
	assert_int_equal(hsm_key_import_aes(x->tok.s, alg, "aes", key, len, k), 0);
}

static void
test_cipher_names(void **state)
{
	enum hsm_cipher c = HSM_CIPHER_COUNT;

	(void)state;
	for (int i = 0; i < HSM_CIPHER_COUNT; i++) {
		assert_int_equal(hsm_cipher_parse(hsm_cipher_name((enum hsm_cipher)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_string_equal(hsm_cipher_name(HSM_CIPHER_AES128_CTR_NO_PAD), "AES128_CTR_NO_PAD");
	assert_string_equal(hsm_cipher_name(HSM_CIPHER_COUNT), "UNKNOWN");
	assert_int_equal(hsm_cipher_parse("AES256_GCM", &c), SIGNET_EINVAL);
	assert_int_equal(hsm_cipher_parse(NULL, &c), SIGNET_EINVAL);
	/* ECB is the legacy pair; an unknown cipher is refused like them. */
	assert_true(hsm_cipher_is_legacy(HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD));
	assert_true(hsm_cipher_is_legacy(HSM_CIPHER_AES128_ECB_ZERO_BYTE_PAD));
	assert_false(hsm_cipher_is_legacy(HSM_CIPHER_AES256_CBC_PKCS7_PAD));
	assert_false(hsm_cipher_is_legacy(HSM_CIPHER_AES128_CTR_NO_PAD));
	assert_true(hsm_cipher_is_legacy(HSM_CIPHER_COUNT));
	assert_int_equal(hsm_cipher_iv_len(HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD), 0);
	assert_int_equal(hsm_cipher_iv_len(HSM_CIPHER_AES256_CBC_ZERO_BYTE_PAD), 16);
	assert_int_equal(hsm_cipher_iv_len(HSM_CIPHER_AES128_CTR_NO_PAD), 16);
	assert_int_equal(hsm_cipher_key_alg(HSM_CIPHER_AES128_CBC_PKCS7_PAD), HSM_ALG_AES_128);
	assert_int_equal(hsm_cipher_key_alg(HSM_CIPHER_AES256_ECB_ZERO_BYTE_PAD), HSM_ALG_AES_256);
	assert_int_equal(hsm_cipher_key_alg(HSM_CIPHER_COUNT), HSM_ALG_COUNT);
}

/* Every cipher, at sizes around the block and the chunk (1 MiB) boundaries. */
static void
test_round_trips(void **state)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, MIB, 2 * MIB + 7};
	struct fixture *x = *state;

	for (int c = 0; c < HSM_CIPHER_COUNT; c++) {
		uint8_t key[32];
		struct hsm_key k;

		import_key(x, (enum hsm_cipher)c, key, &k);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			round_trip(x, (enum hsm_cipher)c, key, k.id, sizes[i], sizes[i]);
		}
		/* IN_LEN is a limit, not a promise: a larger one reads to the end of the file. */
		round_trip(x, (enum hsm_cipher)c, key, k.id, 100, UINT64_MAX);
		hsm_key_clear(&k);
	}
}

/* A fresh IV from the token every time (ECB has none: the same input, the same output). */
static void
test_fresh_iv(void **state)
{
	struct fixture *x = *state;

	for (int c = 0; c < HSM_CIPHER_COUNT; c++) {
		uint8_t key[32], out[2][64 + 32];
		struct hsm_crypt_result res[2];
		struct hsm_key k;

		import_key(x, (enum hsm_cipher)c, key, &k);
		free(random_file(x->in, 64));
		for (int j = 0; j < 2; j++) {
			int in_fd = open(x->in, O_RDONLY);
			int out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);
			assert_int_equal(hsm_encrypt_fd(x->tok.s, (enum hsm_cipher)c, k.id, in_fd,
							64, out_fd, &res[j]),
					 0);
			assert_true(res[j].out_size <= sizeof(out[j]));
			assert_int_equal(pread(out_fd, out[j], res[j].out_size, 0),
					 (ssize_t)res[j].out_size);
			close(in_fd);
			close(out_fd);
		}
		assert_int_equal(res[0].out_size, res[1].out_size);
		assert_memory_equal(res[0].in_sha256, res[1].in_sha256, 32);
		if (hsm_cipher_iv_len((enum hsm_cipher)c) == 0) {
			assert_memory_equal(out[0], out[1], res[0].out_size);
		} else {
			assert_memory_not_equal(out[0] + res[0].out_size - 16,
						out[1] + res[1].out_size - 16, 16);
			assert_memory_not_equal(out[0], out[1], res[0].out_size - 16);
		}
		hsm_key_clear(&k);
	}
}

/* A segment of a larger file, encrypted into its place in a larger output. */
static void
test_encrypt_at_offsets(void **state)
{
	struct fixture *x = *state;
	enum hsm_cipher c = HSM_CIPHER_AES256_CBC_PKCS7_PAD;
	uint8_t key[32], *plain, *out, back[5000 + 32], md[32];
	uint8_t prefix[4096];
	struct hsm_crypt_result res;
	struct hsm_key k;
	size_t outlen;
	int in_fd, out_fd;

	import_key(x, c, key, &k);
	plain = random_file(x->in, 20000);
	memset(prefix, 'P', sizeof(prefix));
	out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(out_fd, prefix, sizeof(prefix)), sizeof(prefix));
	/* What lies past the segment's end is cut off. */
	assert_int_equal(pwrite(out_fd, prefix, sizeof(prefix), 100000), sizeof(prefix));
	in_fd = open(x->in, O_RDONLY);
	assert_int_equal(hsm_encrypt_fd_at(x->tok.s, c, k.id, in_fd, 100, 5000, out_fd, 4096, &res),
			 0);
	close(in_fd);
	close(out_fd);
	assert_int_equal(res.in_size, 5000);
	assert_int_equal(res.out_size, 5008 + 16);
	SHA256(plain + 100, 5000, md);
	assert_memory_equal(res.in_sha256, md, 32);
	out = read_file(x->out, &outlen);
	assert_int_equal(outlen, 4096 + res.out_size);
	assert_memory_equal(out, prefix, sizeof(prefix));
	SHA256(out + 4096, res.out_size, md);
	assert_memory_equal(res.out_sha256, md, 32);
	assert_int_equal(evp_run(c, 0, key, out + 4096 + 5008, out + 4096, 5008, back), 5000);
	assert_memory_equal(back, plain + 100, 5000);
	free(plain);
	free(out);
	hsm_key_clear(&k);
}

/* A key generated in the token (not importable, so not checkable with OpenSSL): the lengths. */
static void
test_generated_key(void **state)
{
	struct fixture *x = *state;
	struct hsm_crypt_result res;
	struct hsm_key k;
	uint8_t *plain;
	int in_fd, out_fd;

	assert_int_equal(hsm_key_generate(x->tok.s, HSM_ALG_AES_128, "gen", &k), 0);
	plain = random_file(x->in, 33);
	in_fd = open(x->in, O_RDONLY);
	out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(
	    hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES128_CTR_NO_PAD, k.id, in_fd, 33, out_fd, &res),
	    0);
	assert_int_equal(res.in_size, 33);
	assert_int_equal(res.out_size, 33 + 16);
	close(in_fd);
	close(out_fd);
	free(plain);
	hsm_key_clear(&k);
}

/* Encrypt with what should work and did; the session is still fine after the refusals before. */
static void
still_works(struct fixture *x, enum hsm_cipher c, const uint8_t *key, const uint8_t id[HSM_ID_LEN])
{
	round_trip(x, c, key, id, 4000, 4000);
}

static void
test_refusals(void **state)
{
	struct fixture *x = *state;
	uint8_t key256[32], key128[32], seed[HSM_OTP_SEED_LEN] = {1}, seed_id[HSM_ID_LEN];
	uint8_t unknown[HSM_ID_LEN] = {0xee};
	struct hsm_key k256, k128, pair;
	struct hsm_crypt_result res;
	int in_fd, out_fd, ro_fd;

	import_key(x, HSM_CIPHER_AES256_CBC_PKCS7_PAD, key256, &k256);
	import_key(x, HSM_CIPHER_AES128_CBC_PKCS7_PAD, key128, &k128);
	assert_int_equal(hsm_key_generate(x->tok.s, HSM_ALG_ECC_NIST_P256, "pair", &pair), 0);
	assert_int_equal(hsm_otp_seed_import(x->tok.s, "seed", seed, sizeof(seed), seed_id), 0);
	free(random_file(x->in, 3 * MIB));
	in_fd = open(x->in, O_RDONLY);
	out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ro_fd = open(x->in, O_RDONLY);

	/* A key of the wrong length for the cipher, both ways. */
	memset(&res, 0xff, sizeof(res));
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES128_CTR_NO_PAD, k256.id, in_fd, 100,
					out_fd, &res),
			 SIGNET_EINVAL);
	assert_int_equal(res.out_size, 0);
	assert_int_equal(res.in_size, 0);
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, k128.id, in_fd,
					100, out_fd, &res),
			 SIGNET_EINVAL);
	/* Not an AES key: a TOTP seed (a generic secret). */
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, seed_id, in_fd,
					100, out_fd, &res),
			 SIGNET_EINVAL);
	/* No secret key under the id: none at all, or a key pair's. */
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, unknown, in_fd,
					100, out_fd, &res),
			 SIGNET_ENOTFOUND);
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, pair.id, in_fd,
					100, out_fd, &res),
			 SIGNET_ENOTFOUND);
	/* Not a cipher. */
	assert_int_equal(
	    hsm_encrypt_fd(x->tok.s, HSM_CIPHER_COUNT, k256.id, in_fd, 100, out_fd, &res),
	    SIGNET_EINVAL);
	assert_int_equal(
	    hsm_encrypt_fd(x->tok.s, (enum hsm_cipher) - 1, k256.id, in_fd, 100, out_fd, &res),
	    SIGNET_EINVAL);
	/*
	 * File trouble after the token has started: an input that cannot be
	 * read, an output that cannot be written. Each must end the token's
	 * operation, or the session would be stuck with it.
	 */
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, k256.id,
					out_fd + 100, 100, out_fd, &res),
			 SIGNET_EINTERNAL);
	assert_int_equal(hsm_encrypt_fd(x->tok.s, HSM_CIPHER_AES256_CBC_PKCS7_PAD, k256.id, in_fd,
					3 * MIB, ro_fd, &res),
			 SIGNET_EINTERNAL);
	assert_int_equal(res.out_size, 0);
	close(in_fd);
	close(out_fd);
	close(ro_fd);
	still_works(x, HSM_CIPHER_AES256_CBC_PKCS7_PAD, key256, k256.id);
	still_works(x, HSM_CIPHER_AES128_CTR_NO_PAD, key128, k128.id);
	hsm_key_clear(&k256);
	hsm_key_clear(&k128);
	hsm_key_clear(&pair);
}

/* The token fails in the middle of a stream (the third 1 MiB chunk): retried from the start. */
static void
test_fault_mid_stream(void **state)
{
	static const char *faults[] = {"encrypt-device-error", "encrypt-close-sessions"};
	struct fixture *x = fault_fixture(state);

	for (size_t i = 0; i < 2; i++) {
		for (int c = 0; c < HSM_CIPHER_COUNT; c++) {
			uint8_t key[32];
			struct hsm_key k;

			import_key(x, (enum hsm_cipher)c, key, &k);
			test_token_fault_reset(&x->tok);
			test_token_fault_after(&x->tok, faults[i], 1, 2);
			round_trip(x, (enum hsm_cipher)c, key, k.id, 3 * MIB + 5, 3 * MIB + 5);
			assert_int_equal(test_token_faults_fired(&x->tok), 1);
			hsm_key_clear(&k);
		}
	}
}

/* The key look-up fails once; then every attempt fails: an error, and the session recovers. */
static void
test_fault_retry_once(void **state)
{
	struct fixture *x = fault_fixture(state);
	enum hsm_cipher c = HSM_CIPHER_AES128_CBC_PKCS7_PAD;
	struct hsm_crypt_result res;
	uint8_t key[32];
	struct hsm_key k;
	int in_fd, out_fd;

	import_key(x, c, key, &k);
	test_token_fault(&x->tok, "close-sessions", 1);
	hsm_objects_changed(x->tok.h);
	round_trip(x, c, key, k.id, 5000, 5000);
	assert_int_equal(test_token_faults_fired(&x->tok), 1);

	test_token_fault_reset(&x->tok);
	test_token_fault_after(&x->tok, "encrypt-device-error", 2, 1);
	free(random_file(x->in, 2 * MIB));
	in_fd = open(x->in, O_RDONLY);
	out_fd = open(x->out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(hsm_encrypt_fd(x->tok.s, c, k.id, in_fd, 2 * MIB, out_fd, &res),
			 SIGNET_ETOKEN);
	assert_int_equal(res.out_size, 0);
	assert_int_equal(test_token_faults_fired(&x->tok), 2);
	close(in_fd);
	close(out_fd);
	still_works(x, c, key, k.id);
	hsm_key_clear(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cipher_names),
	    cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fresh_iv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_encrypt_at_offsets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generated_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_mid_stream, setup_fault, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_retry_once, setup_fault, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

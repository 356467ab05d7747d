/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/container.c: the BOSCH_SE_V1 header codec, bounds, signature rules, writer,
 * reader. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/container.h"
#include "lib/error.h"

/* Offsets of the fixed fields (doc/container.md). */
#define OFF_PV  8
#define OFF_ML  9
#define OFF_EC  11
#define OFF_SC  13
#define OFF_ES  15
#define OFF_ESL 16

static void
fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
	}
}

/* A header of ES segments (lengths from ESL, hashes a pattern) and ML bytes of metadata MD. */
static void
make_header(struct container_header *h, unsigned es, const uint32_t *esl, unsigned ml,
	    const uint8_t *md)
{
	memset(h, 0, sizeof(*h));
	h->pv = CONTAINER_PV;
	h->ml = (uint16_t)ml;
	h->ec = 0;
	h->sc = CONTAINER_SC_ED25519;
	h->es = (uint8_t)es;
	for (unsigned i = 0; i < es; i++) {
		h->esl[i] = esl[i];
		fill_pattern(h->esh[i], 32, i + 1);
	}
	h->md = md;
}

static uint8_t *
encode_ok(const struct container_header *h, size_t *len)
{
	uint8_t *out = NULL;

	assert_int_equal(container_header_encode(h, &out, len), 0);
	assert_non_null(out);
	assert_int_equal(*len, container_header_size(h->es, h->ml));
	return out;
}

static void
assert_headers_equal(const struct container_header *a, const struct container_header *b)
{
	assert_int_equal(a->pv, b->pv);
	assert_int_equal(a->ml, b->ml);
	assert_int_equal(a->ec, b->ec);
	assert_int_equal(a->sc, b->sc);
	assert_int_equal(a->es, b->es);
	assert_memory_equal(a->esl, b->esl, a->es * sizeof(a->esl[0]));
	assert_memory_equal(a->esh, b->esh, a->es * sizeof(a->esh[0]));
	if (a->ml > 0) {
		assert_memory_equal(a->md, b->md, a->ml);
	}
}

/*
 * A whole container in memory: a header with ES segments of the lengths in
 * ESL (contents a pattern, hashes real), then SIGLEN signature bytes.
 */
static uint8_t *
make_container(unsigned ec, unsigned es, const uint32_t *esl, size_t siglen, size_t *len)
{
	struct container_header h;
	uint8_t *hdr, *buf, *p;
	size_t hlen, total;

	make_header(&h, es, esl, 0, NULL);
	h.ec = (uint16_t)ec;
	for (unsigned i = 0; i < es; i++) {
		uint8_t *seg = malloc(esl[i] + 1);

		assert_non_null(seg);
		fill_pattern(seg, esl[i], 100 + i);
		SHA256(seg, esl[i], h.esh[i]);
		free(seg);
	}
	hdr = encode_ok(&h, &hlen);
	total = hlen + siglen;
	for (unsigned i = 0; i < es; i++) {
		total += esl[i];
	}
	buf = malloc(total);
	assert_non_null(buf);
	memcpy(buf, hdr, hlen);
	p = buf + hlen;
	for (unsigned i = 0; i < es; i++) {
		fill_pattern(p, esl[i], 100 + i);
		p += esl[i];
	}
	memset(p, 0x5a, siglen);
	free(hdr);
	*len = total;
	return buf;
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void
assert_decode_fails(const uint8_t *buf, size_t len)
{
	struct container_header h;
	const char *why = NULL;
	size_t hlen = 99;

	assert_int_equal(container_header_decode(buf, len, &h, &hlen, &why), SIGNET_EINVAL);
	assert_non_null(why);
	assert_int_equal(hlen, 0);
}

static void
assert_parse_fails(const uint8_t *buf, size_t len)
{
	struct container_header h;
	struct container_layout lay;
	const char *why = NULL;

	assert_int_equal(container_parse(buf, len, &h, &lay, &why), SIGNET_EINVAL);
	assert_non_null(why);
}

/* ---- names and sizes ---- */

static void
test_names_and_codes(void **state)
{
	static const char *const ciphers[] = {
	    "AES256_CBC_PKCS7_PAD",     "AES128_CBC_PKCS7_PAD",     "AES256_CBC_ZERO_BYTE_PAD",
	    "AES256_ECB_ZERO_BYTE_PAD", "AES128_ECB_ZERO_BYTE_PAD", "AES128_CTR_NO_PAD",
	};
	static const char *const sigs[] = {"RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
					   "ED25519"};

	for (int i = 0; i < 6; i++) {
		assert_int_equal(container_cipher_code(ciphers[i]), i);
		assert_string_equal(container_cipher_name(i), ciphers[i]);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(container_sig_code(sigs[i]), i + 1);
		assert_string_equal(container_sig_name(i + 1), sigs[i]);
	}
	assert_int_equal(container_sig_code("RSA_3072"), CONTAINER_SC_RSA_3072);
	assert_int_equal(container_sig_code("ED25519"), CONTAINER_SC_ED25519);
	assert_int_equal(container_cipher_code("AES256_CBC"), -1);
	assert_int_equal(container_cipher_code("aes256_cbc_pkcs7_pad"), -1);
	assert_int_equal(container_cipher_code(""), -1);
	assert_int_equal(container_cipher_code(NULL), -1);
	assert_int_equal(container_sig_code("RSA_2048"), -1);
	assert_int_equal(container_sig_code(NULL), -1);
	assert_null(container_cipher_name(-1));
	assert_null(container_cipher_name(6));
	assert_null(container_sig_name(0));
	assert_null(container_sig_name(6));
	assert_null(container_sig_name(-1));
}

static void
test_header_size(void **state)
{
	assert_int_equal(container_header_size(1, 0), 16 + 4 + 32);
	assert_int_equal(container_header_size(2, 10), 16 + 2 * 36 + 10);
	assert_int_equal(container_header_size(255, 65535), 16 + 255 * 36 + 65535);
	assert_int_equal(container_header_size(255, 65535), CONTAINER_MAX_HEADER_SIZE);
	assert_int_equal(container_header_size(256, 0), 0);
	assert_int_equal(container_header_size(1, 65536), 0);
}

/* ---- encode / decode ---- */

static void
test_round_trip_one_segment_layout(void **state)
{
	static const uint8_t md[] = {'m', 'e', 't', 'a'};
	struct container_header h, d;
	uint32_t esl[1] = {0x04030201};
	const char *why = NULL;
	uint8_t *buf;
	size_t len, hlen;

	make_header(&h, 1, esl, sizeof(md), md);
	h.ec = 5;
	h.sc = CONTAINER_SC_ECC_NIST_P384;
	buf = encode_ok(&h, &len);
	assert_int_equal(len, 16 + 36 + 4);
	/* The published byte layout, field by field. */
	assert_memory_equal(buf, "Bosch_SE", 8);
	assert_int_equal(buf[OFF_PV], 1);
	assert_int_equal(buf[OFF_ML], 4);
	assert_int_equal(buf[OFF_ML + 1], 0);
	assert_int_equal(buf[OFF_EC], 5);
	assert_int_equal(buf[OFF_EC + 1], 0);
	assert_int_equal(buf[OFF_SC], 4);
	assert_int_equal(buf[OFF_SC + 1], 0);
	assert_int_equal(buf[OFF_ES], 1);
	assert_memory_equal(buf + OFF_ESL, "\x01\x02\x03\x04", 4);
	assert_memory_equal(buf + 20, h.esh[0], 32);
	assert_memory_equal(buf + 52, "meta", 4);

	assert_int_equal(container_header_decode(buf, len, &d, &hlen, &why), 0);
	assert_int_equal(hlen, len);
	assert_headers_equal(&h, &d);
	/* The metadata is not copied: it points into the buffer. */
	assert_ptr_equal(d.md, buf + 52);
	free(buf);
}

static void
test_round_trip_no_metadata_with_more_after(void **state)
{
	struct container_header h, d;
	uint32_t esl[2] = {32, 48};
	const char *why = NULL;
	uint8_t *buf, *big;
	size_t len, hlen;

	make_header(&h, 2, esl, 0, NULL);
	buf = encode_ok(&h, &len);
	/* The buffer may hold the rest of the file: the header still ends where it ends. */
	big = calloc(1, len + 1000);
	assert_non_null(big);
	memcpy(big, buf, len);
	assert_int_equal(container_header_decode(big, len + 1000, &d, &hlen, &why), 0);
	assert_int_equal(hlen, len);
	assert_int_equal(d.ml, 0);
	assert_headers_equal(&h, &d);
	free(big);
	free(buf);
}

static void
test_round_trip_maximum(void **state)
{
	static uint8_t md[CONTAINER_MAX_METADATA];
	static struct container_header h, d;
	uint32_t esl[CONTAINER_MAX_SEGMENTS];
	const char *why = NULL;
	uint8_t *buf;
	size_t len, hlen;

	for (unsigned i = 0; i < CONTAINER_MAX_SEGMENTS; i++) {
		esl[i] = UINT32_MAX - i;
	}
	fill_pattern(md, sizeof(md), 9);
	make_header(&h, CONTAINER_MAX_SEGMENTS, esl, CONTAINER_MAX_METADATA, md);
	buf = encode_ok(&h, &len);
	assert_int_equal(len, CONTAINER_MAX_HEADER_SIZE);
	assert_int_equal(buf[OFF_ES], 255);
	assert_int_equal(buf[OFF_ML], 0xff);
	assert_int_equal(buf[OFF_ML + 1], 0xff);
	assert_int_equal(container_header_decode(buf, len, &d, &hlen, &why), 0);
	assert_int_equal(hlen, len);
	assert_headers_equal(&h, &d);
	/* Truncated at every byte, it is refused. */
	for (size_t n = 0; n < len; n++) {
		assert_decode_fails(buf, n);
	}
	free(buf);
}

static void
test_encode_refusals(void **state)
{
	struct container_header h;
	uint32_t esl[1] = {32};
	uint8_t *out = (uint8_t *)"x";
	size_t len = 7;

	make_header(&h, 1, esl, 0, NULL);
	h.es = 0;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);
	assert_null(out);
	assert_int_equal(len, 0);

	make_header(&h, 1, esl, 0, NULL);
	h.pv = 0;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);
	h.pv = 2;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);

	make_header(&h, 1, esl, 0, NULL);
	h.ec = 6;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);
	h.ec = 0xffff;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);

	make_header(&h, 1, esl, 0, NULL);
	h.sc = 0;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);
	h.sc = 6;
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);

	/* Metadata announced but not given. */
	make_header(&h, 1, esl, 3, NULL);
	assert_int_equal(container_header_encode(&h, &out, &len), SIGNET_EINVAL);
	assert_null(out);

	/* Every cipher and signature code that is defined encodes. */
	for (unsigned ec = 0; ec <= 5; ec++) {
		for (unsigned sc = 1; sc <= 5; sc++) {
			make_header(&h, 1, esl, 0, NULL);
			h.ec = (uint16_t)ec;
			h.sc = (uint16_t)sc;
			free(encode_ok(&h, &len));
		}
	}
}

static void
test_decode_refusals(void **state)
{
	static const uint8_t md[5] = {1, 2, 3, 4, 5};
	struct container_header h, d;
	uint32_t esl[3] = {32, 48, 64};
	const char *why;
	uint8_t *buf, *m;
	size_t len, hlen;

	make_header(&h, 3, esl, sizeof(md), md);
	buf = encode_ok(&h, &len);
	m = malloc(len);
	assert_non_null(m);

	/* Truncated at every byte. */
	for (size_t n = 0; n < len; n++) {
		assert_decode_fails(buf, n);
	}
	assert_decode_fails(NULL, 0);

	/* Any change in the magic. */
	for (size_t i = 0; i < 8; i++) {
		memcpy(m, buf, len);
		m[i] ^= 0x20;
		assert_decode_fails(m, len);
	}
	/* Unknown packaging versions. */
	for (unsigned pv = 0; pv < 256; pv++) {
		if (pv == CONTAINER_PV) {
			continue;
		}
		memcpy(m, buf, len);
		m[OFF_PV] = (uint8_t)pv;
		assert_decode_fails(m, len);
	}
	/* es = 0, with bytes enough after it for a whole header. */
	memcpy(m, buf, len);
	m[OFF_ES] = 0;
	assert_decode_fails(m, len);
	/* ec 6 and beyond; the high byte counts. */
	memcpy(m, buf, len);
	put_u16(m + OFF_EC, 6);
	assert_decode_fails(m, len);
	put_u16(m + OFF_EC, 0x0100);
	assert_decode_fails(m, len);
	put_u16(m + OFF_EC, 0xffff);
	assert_decode_fails(m, len);
	/* sc 0, 6 and beyond. */
	memcpy(m, buf, len);
	put_u16(m + OFF_SC, 0);
	assert_decode_fails(m, len);
	put_u16(m + OFF_SC, 6);
	assert_decode_fails(m, len);
	put_u16(m + OFF_SC, 0x0101);
	assert_decode_fails(m, len);
	/* More segments or metadata than the buffer holds. */
	memcpy(m, buf, len);
	m[OFF_ES] = 4;
	assert_decode_fails(m, len);
	memcpy(m, buf, len);
	put_u16(m + OFF_ML, sizeof(md) + 1);
	assert_decode_fails(m, len);
	memcpy(m, buf, len);
	put_u16(m + OFF_ML, 0xffff);
	assert_decode_fails(m, len);

	/* The unchanged copy still decodes: the refusals above were the changes. */
	memcpy(m, buf, len);
	why = NULL;
	assert_int_equal(container_header_decode(m, len, &d, &hlen, &why), 0);
	assert_null(why);
	free(m);
	free(buf);
}

/* ---- container_parse: bounds of the whole file ---- */

static void
test_parse_valid(void **state)
{
	uint32_t esl[2] = {48, 1040};
	struct container_header h;
	struct container_layout lay;
	const char *why = NULL;
	size_t len, hlen = container_header_size(2, 0);
	uint8_t *buf = make_container(0, 2, esl, 384, &len);

	assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
	assert_int_equal(lay.hlen, hlen);
	assert_int_equal(lay.seg_off[0], hlen);
	assert_int_equal(lay.seg_off[1], hlen + 48);
	assert_int_equal(lay.sig_off, hlen + 48 + 1040);
	assert_int_equal(lay.sig_len, 384);
	assert_int_equal(lay.bad_segment, -1);
	/* Truncated anywhere, down to the last signature byte, it is refused. */
	for (size_t n = 0; n < len - 384; n++) {
		assert_parse_fails(buf, n);
	}
	/* Within the signature it still parses: the signature's own rules catch that. */
	assert_int_equal(container_parse(buf, len - 1, &h, &lay, &why), 0);
	assert_int_equal(lay.sig_len, 383);
	free(buf);
}

static void
test_parse_signature_bounds(void **state)
{
	uint32_t esl[1] = {32};
	struct container_header h;
	struct container_layout lay;
	const char *why = NULL;
	size_t len;
	uint8_t *buf;

	/* No signature at all. */
	buf = make_container(0, 1, esl, 0, &len);
	assert_parse_fails(buf, len);
	free(buf);
	/* One byte is a length to check with the algorithm, not a format error. */
	buf = make_container(0, 1, esl, 1, &len);
	assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
	free(buf);
	buf = make_container(0, 1, esl, CONTAINER_MAX_SIG_LEN, &len);
	assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
	assert_int_equal(lay.sig_len, CONTAINER_MAX_SIG_LEN);
	free(buf);
	/* More than any signature: trailing data. */
	buf = make_container(0, 1, esl, CONTAINER_MAX_SIG_LEN + 1, &len);
	assert_parse_fails(buf, len);
	free(buf);
}

static void
test_parse_overflowing_lengths(void **state)
{
	uint32_t esl[2] = {32, 32};
	struct container_header h;
	struct container_layout lay;
	const char *why = NULL;
	size_t len, hlen = container_header_size(2, 0);
	uint8_t *buf = make_container(5, 2, esl, 64, &len);

	assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
	/* A length past the end of the file. */
	put_u32(buf + OFF_ESL, UINT32_MAX);
	assert_parse_fails(buf, len);
	put_u32(buf + OFF_ESL, (uint32_t)(len - hlen));
	assert_parse_fails(buf, len);
	/* Two lengths whose sum wraps to 64 in 32 bits: a u32 sum would accept the file. */
	put_u32(buf + OFF_ESL, 0x80000000u);
	put_u32(buf + OFF_ESL + 4, 0x80000040u);
	assert_int_equal(container_parse(buf, len, &h, &lay, &why), SIGNET_EINVAL);
	assert_int_equal(lay.bad_segment, 0);
	/* Shorter lengths leave a longer rest: a signature to check with its algorithm. */
	put_u32(buf + OFF_ESL, 16);
	put_u32(buf + OFF_ESL + 4, 16);
	assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
	assert_int_equal(lay.sig_len, 64 + 32);
	free(buf);

	/* 255 segments of nearly 4 GiB: the u64 sum is far past a small file. */
	{
		static struct container_header big;
		uint32_t lens[CONTAINER_MAX_SEGMENTS];
		uint8_t *hdr;
		size_t hl;

		for (unsigned i = 0; i < CONTAINER_MAX_SEGMENTS; i++) {
			lens[i] = 0xfffffff0u;
		}
		make_header(&big, CONTAINER_MAX_SEGMENTS, lens, 0, NULL);
		hdr = encode_ok(&big, &hl);
		buf = calloc(1, hl + 100);
		assert_non_null(buf);
		memcpy(buf, hdr, hl);
		assert_parse_fails(buf, hl + 100);
		free(hdr);
		free(buf);
	}
}

static void
test_parse_segment_length_per_cipher(void **state)
{
	/* For each cipher: a length it can produce and one it cannot. */
	static const struct {
		unsigned ec;
		uint32_t good, bad;
	} cases[] = {
	    {0, 32, 16}, {0, 48, 40}, {1, 32, 31}, {2, 16, 0},  {2, 32, 24},
	    {3, 0, 8},   {3, 16, 17}, {4, 32, 33}, {5, 16, 15}, {5, 17, 0},
	};
	struct container_header h;
	struct container_layout lay;
	const char *why;
	size_t len;
	uint8_t *buf;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t esl[2] = {32, cases[i].good};

		if (cases[i].ec == 5) {
			esl[0] = 16;
		}
		buf = make_container(cases[i].ec, 2, esl, 64, &len);
		why = NULL;
		assert_int_equal(container_parse(buf, len, &h, &lay, &why), 0);
		free(buf);
		esl[1] = cases[i].bad;
		buf = make_container(cases[i].ec, 2, esl, 64, &len);
		assert_int_equal(container_parse(buf, len, &h, &lay, &why), SIGNET_EINVAL);
		assert_int_equal(lay.bad_segment, 1);
		free(buf);
	}
}

static void
test_parse_es_zero_with_trailing_data(void **state)
{
	uint32_t esl[1] = {32};
	size_t len;
	uint8_t *buf = make_container(0, 1, esl, 64, &len);

	buf[OFF_ES] = 0;
	assert_parse_fails(buf, len);
	free(buf);
}

/* ---- signature rules ---- */

static size_t
der_sig(uint8_t *out, size_t rlen, uint8_t rfirst, size_t slen, uint8_t sfirst)
{
	size_t n = 0;

	out[n++] = 0x30;
	out[n++] = (uint8_t)(4 + rlen + slen);
	out[n++] = 0x02;
	out[n++] = (uint8_t)rlen;
	memset(out + n, 0x11, rlen);
	out[n] = rfirst;
	n += rlen;
	out[n++] = 0x02;
	out[n++] = (uint8_t)slen;
	memset(out + n, 0x22, slen);
	out[n] = sfirst;
	n += slen;
	return n;
}

static void
test_sig_check_fixed_lengths(void **state)
{
	static uint8_t sig[600];

	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_3072, sig, 384), 0);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_3072, sig, 383), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_3072, sig, 385), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_3072, sig, 512), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_4096, sig, 512), 0);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_4096, sig, 384), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_RSA_4096, sig, 513), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, sig, 64), 0);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, sig, 63), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, sig, 65), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, sig, 0), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(0, sig, 64), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(6, sig, 64), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(-1, sig, 64), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, NULL, 64), SIGNET_EINVAL);
}

static void
test_sig_check_ecdsa_der(void **state)
{
	uint8_t s[128];
	size_t n;

	/* The shortest: 30 06 02 01 r 02 01 s. */
	n = der_sig(s, 1, 0x01, 1, 0x01);
	assert_int_equal(n, 8);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), 0);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P384, s, n), 0);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, 7), SIGNET_EINVAL);
	/* P-256 at its longest: both integers 33 bytes with a leading zero. */
	n = der_sig(s, 33, 0x00, 33, 0x00);
	s[5] = 0x80;
	s[5 + 33 + 2] = 0xff;
	assert_int_equal(n, 72);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), 0);
	/* One byte more is too long for P-256, not for P-384. */
	n = der_sig(s, 34, 0x00, 33, 0x00);
	s[5] = 0x80;
	s[5 + 34 + 2] = 0x80;
	assert_int_equal(n, 73);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P384, s, n), 0);
	/* P-384 at its longest, and beyond. */
	n = der_sig(s, 49, 0x00, 49, 0x00);
	s[5] = 0x80;
	s[5 + 49 + 2] = 0x80;
	assert_int_equal(n, 104);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P384, s, n), 0);
	n = der_sig(s, 50, 0x00, 49, 0x00);
	s[5] = 0x80;
	s[5 + 50 + 2] = 0x80;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P384, s, n), SIGNET_EINVAL);

	/* Malformed ones, each from a valid 70-byte signature. */
	n = der_sig(s, 32, 0x7f, 32, 0x01);
	assert_int_equal(n, 70);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), 0);
	/* Trailing byte. */
	s[70] = 0;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, 71), SIGNET_EINVAL);
	/* Not a SEQUENCE. */
	s[0] = 0x31;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[0] = 0x30;
	/* SEQUENCE length off by one either way. */
	s[1] = 67;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[1] = 69;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[1] = 68;
	/* The long form is not DER for a length under 128. */
	{
		uint8_t l[71] = {0x30, 0x81, 68};

		memcpy(l + 3, s + 2, 68);
		assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, l, 71),
				 SIGNET_EINVAL);
	}
	/* An INTEGER tag that is not one. */
	s[2] = 0x03;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[2] = 0x02;
	/* Integer length that runs into the next one. */
	s[3] = 33;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[3] = 32;
	/* A negative r; then a non-minimal s (leading zero before a clear top bit). */
	s[4] = 0x80;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[4] = 0x7f;
	s[38] = 0x00;
	s[39] = 0x7f;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), SIGNET_EINVAL);
	s[39] = 0x80;
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, s, n), 0);
	/* A zero-length INTEGER. */
	{
		uint8_t z[8] = {0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01};

		assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, z, 8),
				 SIGNET_EINVAL);
	}
	/* Three INTEGERs. */
	{
		uint8_t t[11] = {0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};

		assert_int_equal(container_sig_check_len(CONTAINER_SC_ECC_NIST_P256, t, 11),
				 SIGNET_EINVAL);
	}
	/* An ECDSA signature is not an Ed25519 or RSA one. */
	n = der_sig(s, 32, 0x7f, 32, 0x01);
	assert_int_equal(container_sig_check_len(CONTAINER_SC_ED25519, s, n), SIGNET_EINVAL);
}

/* Signatures OpenSSL makes pass, whatever the lengths of r and s turn out to be. */
static void
test_sig_check_real_ecdsa(void **state)
{
	static const struct {
		const char *curve;
		int sc;
	} curves[] = {{"P-256", CONTAINER_SC_ECC_NIST_P256}, {"P-384", CONTAINER_SC_ECC_NIST_P384}};

	for (size_t c = 0; c < 2; c++) {
		EVP_PKEY *key = EVP_EC_gen(curves[c].curve);

		assert_non_null(key);
		for (unsigned i = 0; i < 200; i++) {
			EVP_MD_CTX *ctx = EVP_MD_CTX_new();
			uint8_t sig[128];
			size_t siglen = sizeof(sig);

			assert_non_null(ctx);
			assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
			assert_int_equal(
			    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)&i, sizeof(i)), 1);
			assert_int_equal(container_sig_check_len(curves[c].sc, sig, siglen), 0);
			EVP_MD_CTX_free(ctx);
		}
		EVP_PKEY_free(key);
	}
}

/* ---- the writer ---- */

static int
temp_file(const uint8_t *data, size_t len)
{
	char path[] = "/tmp/signet-test-container.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	if (len > 0) {
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	}
	return fd;
}

static uint8_t *
read_back(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	uint8_t *buf;

	assert_true(end >= 0);
	buf = malloc((size_t)end + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)end, 0), (ssize_t)end);
	*len = (size_t)end;
	return buf;
}

struct write_fixture {
	uint8_t seg0[100000];
	uint8_t seg1[33];
	uint8_t sig[64];
	uint8_t hdr[52 + 36];
	int fds[2];
};

static void
fixture_init(struct write_fixture *f)
{
	fill_pattern(f->seg0, sizeof(f->seg0), 1);
	fill_pattern(f->seg1, sizeof(f->seg1), 2);
	fill_pattern(f->sig, sizeof(f->sig), 3);
	fill_pattern(f->hdr, sizeof(f->hdr), 4);
	f->fds[0] = temp_file(f->seg0, sizeof(f->seg0));
	f->fds[1] = temp_file(f->seg1, sizeof(f->seg1));
}

static void
fixture_check_output(const struct write_fixture *f, int out, const char *prefix)
{
	size_t len, pl = strlen(prefix);
	uint8_t *got = read_back(out, &len);
	const uint8_t *p = got;

	assert_int_equal(len,
			 pl + sizeof(f->hdr) + sizeof(f->seg0) + sizeof(f->seg1) + sizeof(f->sig));
	assert_memory_equal(p, prefix, pl);
	p += pl;
	assert_memory_equal(p, f->hdr, sizeof(f->hdr));
	p += sizeof(f->hdr);
	assert_memory_equal(p, f->seg0, sizeof(f->seg0));
	p += sizeof(f->seg0);
	assert_memory_equal(p, f->seg1, sizeof(f->seg1));
	p += sizeof(f->seg1);
	assert_memory_equal(p, f->sig, sizeof(f->sig));
	free(got);
}

static void
test_write_at_current_offset(void **state)
{
	static struct write_fixture f;
	uint64_t lens[2] = {sizeof(f.seg0), sizeof(f.seg1)};
	int out;

	fixture_init(&f);
	/* The output already holds something; the container goes after it. */
	out = temp_file((const uint8_t *)"prefix", 6);
	assert_int_equal(
	    container_write(out, f.hdr, sizeof(f.hdr), f.fds, 2, lens, f.sig, sizeof(f.sig)), 0);
	fixture_check_output(&f, out, "prefix");
	/* The segment files' own offsets are not what is read from. */
	assert_int_equal(lseek(f.fds[0], 0, SEEK_CUR), sizeof(f.seg0));
	close(out);

	/* Again with the inputs' offsets at their ends, to an O_APPEND output (the fallback). */
	{
		char path[] = "/tmp/signet-test-container.XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		close(fd);
		out = open(path, O_RDWR | O_APPEND);
		unlink(path);
		assert_true(out >= 0);
		assert_int_equal(container_write(out, f.hdr, sizeof(f.hdr), f.fds, 2, lens, f.sig,
						 sizeof(f.sig)),
				 0);
		fixture_check_output(&f, out, "");
		close(out);
	}
	close(f.fds[0]);
	close(f.fds[1]);
}

static void
test_write_longer_file_copies_stated_length(void **state)
{
	static struct write_fixture f;
	uint64_t lens[2] = {sizeof(f.seg0), sizeof(f.seg1)};
	uint8_t extra[10] = {0};
	int out;

	fixture_init(&f);
	assert_int_equal(pwrite(f.fds[1], extra, sizeof(extra), sizeof(f.seg1)), sizeof(extra));
	out = temp_file(NULL, 0);
	assert_int_equal(
	    container_write(out, f.hdr, sizeof(f.hdr), f.fds, 2, lens, f.sig, sizeof(f.sig)), 0);
	fixture_check_output(&f, out, "");
	close(out);
	close(f.fds[0]);
	close(f.fds[1]);
}

static void
test_write_to_pipe(void **state)
{
	uint8_t hdr[4] = {1, 2, 3, 4}, seg[50], sig[3] = {7, 8, 9}, got[64];
	uint64_t lens[1] = {sizeof(seg)};
	int p[2], fds[1];
	size_t n = 0;
	ssize_t r;

	fill_pattern(seg, sizeof(seg), 5);
	fds[0] = temp_file(seg, sizeof(seg));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(container_write(p[1], hdr, 4, fds, 1, lens, sig, 3), 0);
	close(p[1]);
	while ((r = read(p[0], got + n, sizeof(got) - n)) > 0) {
		n += (size_t)r;
	}
	assert_int_equal(n, 4 + 50 + 3);
	assert_memory_equal(got, hdr, 4);
	assert_memory_equal(got + 4, seg, 50);
	assert_memory_equal(got + 54, sig, 3);
	close(p[0]);
	close(fds[0]);
}

static void
test_write_short_file_fails(void **state)
{
	static struct write_fixture f;
	uint64_t lens[2] = {sizeof(f.seg0), sizeof(f.seg1) + 1};
	int out;

	fixture_init(&f);
	out = temp_file(NULL, 0);
	assert_int_equal(
	    container_write(out, f.hdr, sizeof(f.hdr), f.fds, 2, lens, f.sig, sizeof(f.sig)),
	    SIGNET_EINVAL);
	close(out);
	/* An empty file for a non-empty segment. */
	close(f.fds[1]);
	f.fds[1] = temp_file(NULL, 0);
	lens[1] = 1;
	out = temp_file(NULL, 0);
	assert_int_equal(
	    container_write(out, f.hdr, sizeof(f.hdr), f.fds, 2, lens, f.sig, sizeof(f.sig)),
	    SIGNET_EINVAL);
	close(out);
	/* An unreadable descriptor is an I/O error, not a short file. */
	{
		int bad[1] = {-1};
		uint64_t one[1] = {1};

		out = temp_file(NULL, 0);
		assert_int_equal(
		    container_write(out, f.hdr, sizeof(f.hdr), bad, 1, one, f.sig, sizeof(f.sig)),
		    SIGNET_EINTERNAL);
		close(out);
	}
	close(f.fds[0]);
	close(f.fds[1]);
}

static void
test_write_refusals(void **state)
{
	uint8_t hdr[4] = {0}, sig[4] = {0};
	uint64_t lens[2] = {0, (uint64_t)UINT32_MAX + 1};
	int fds[2] = {-1, -1};
	int out = temp_file(NULL, 0);
	size_t len;

	assert_int_equal(container_write(out, hdr, 4, fds, 0, lens, sig, 4), SIGNET_EINVAL);
	assert_int_equal(container_write(out, hdr, 4, fds, 256, lens, sig, 4), SIGNET_EINVAL);
	assert_int_equal(container_write(out, NULL, 4, fds, 1, lens, sig, 4), SIGNET_EINVAL);
	assert_int_equal(container_write(out, hdr, 4, fds, 1, lens, NULL, 4), SIGNET_EINVAL);
	assert_int_equal(container_write(out, hdr, 4, fds, 1, lens, sig, 0), SIGNET_EINVAL);
	/* A length that does not fit esl is refused before anything is written. */
	assert_int_equal(container_write(out, hdr, 4, fds, 2, lens, sig, 4), SIGNET_EINVAL);
	free(read_back(out, &len));
	assert_int_equal(len, 0);
	close(out);
}

/* ---- the reader ---- */

static void
test_reader(void **state)
{
	/* The first segment is more than one I/O chunk. */
	uint32_t esl[2] = {CONTAINER_IO_CHUNK + 48, 32};
	struct container_reader rd;
	const char *why = NULL;
	uint8_t sha[32];
	size_t len;
	uint8_t *buf = make_container(1, 2, esl, 512, &len);
	int fd = temp_file(buf, len);

	assert_int_equal(container_reader_open(&rd, fd, &why), 0);
	assert_int_equal(rd.file_size, len);
	assert_int_equal(rd.h.es, 2);
	assert_int_equal(rd.h.ec, 1);
	assert_int_equal(rd.lay.sig_len, 512);
	assert_memory_equal(rd.sig, buf + len - 512, 512);
	assert_memory_equal(rd.hdr, buf, rd.lay.hlen);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(container_segment_sha256(&rd, i, sha), 0);
		assert_memory_equal(sha, rd.h.esh[i], 32);
	}
	assert_int_equal(container_segment_sha256(&rd, 2, sha), SIGNET_EINVAL);
	/* A changed byte of the segment changes its hash. */
	buf[rd.lay.seg_off[1] + 5] ^= 1;
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	assert_int_equal(container_segment_sha256(&rd, 1, sha), 0);
	assert_memory_not_equal(sha, rd.h.esh[1], 32);
	/* A file that shrank under the reader. */
	assert_int_equal(ftruncate(fd, (off_t)rd.lay.seg_off[1]), 0);
	assert_int_equal(container_segment_sha256(&rd, 1, sha), SIGNET_EINVAL);
	container_reader_close(&rd);
	assert_null(rd.hdr);
	close(fd);
	free(buf);
}

static void
test_reader_refusals(void **state)
{
	uint32_t esl[1] = {32};
	struct container_reader rd;
	const char *why;
	size_t len;
	uint8_t *buf = make_container(0, 1, esl, 64, &len);
	int fd, p[2];

	/* Truncated at the ends of the header, a segment and the signature's first byte. */
	for (size_t n = 0; n <= len - 64; n++) {
		fd = temp_file(buf, n);
		why = NULL;
		assert_int_equal(container_reader_open(&rd, fd, &why), SIGNET_EINVAL);
		assert_non_null(why);
		container_reader_close(&rd);
		close(fd);
	}
	/* es = 0 with the rest of the file behind it. */
	buf[OFF_ES] = 0;
	fd = temp_file(buf, len);
	assert_int_equal(container_reader_open(&rd, fd, &why), SIGNET_EINVAL);
	container_reader_close(&rd);
	close(fd);
	buf[OFF_ES] = 1;
	/* A segment length past the end. */
	put_u32(buf + OFF_ESL, 0xfffffff0u);
	fd = temp_file(buf, len);
	assert_int_equal(container_reader_open(&rd, fd, &why), SIGNET_EINVAL);
	assert_int_equal(rd.lay.bad_segment, 0);
	container_reader_close(&rd);
	close(fd);
	/* Not a regular file. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(container_reader_open(&rd, p[0], &why), SIGNET_EINVAL);
	container_reader_close(&rd);
	close(p[0]);
	close(p[1]);
	/* Not a descriptor. */
	assert_int_equal(container_reader_open(&rd, -1, &why), SIGNET_EINTERNAL);
	container_reader_close(&rd);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_and_codes),
	    cmocka_unit_test(test_header_size),
	    cmocka_unit_test(test_round_trip_one_segment_layout),
	    cmocka_unit_test(test_round_trip_no_metadata_with_more_after),
	    cmocka_unit_test(test_round_trip_maximum),
	    cmocka_unit_test(test_encode_refusals),
	    cmocka_unit_test(test_decode_refusals),
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_signature_bounds),
	    cmocka_unit_test(test_parse_overflowing_lengths),
	    cmocka_unit_test(test_parse_segment_length_per_cipher),
	    cmocka_unit_test(test_parse_es_zero_with_trailing_data),
	    cmocka_unit_test(test_sig_check_fixed_lengths),
	    cmocka_unit_test(test_sig_check_ecdsa_der),
	    cmocka_unit_test(test_sig_check_real_ecdsa),
	    cmocka_unit_test(test_write_at_current_offset),
	    cmocka_unit_test(test_write_longer_file_copies_stated_length),
	    cmocka_unit_test(test_write_to_pipe),
	    cmocka_unit_test(test_write_short_file_fails),
	    cmocka_unit_test(test_write_refusals),
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_reader_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

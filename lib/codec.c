/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64 and hex codecs: untrusted input is rejected, never repaired. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64_value(char c, bool url)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == (url ? '-' : '+')) {
		return 62;
	}
	if (c == (url ? '_' : '/')) {
		return 63;
	}
	return -1;
}

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void
base64_encode(const uint8_t *in, size_t n, char *out, bool url)
{
	const char *a = url ? b64_url : b64_std;
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		if (!url) {
			out[o++] = '=';
		}
	}
	out[o] = '\0';
}

char *
base64_encode_alloc(const uint8_t *in, size_t n, bool url)
{
	char *out;

	if (n > (SIZE_MAX / 4) * 3 - 3) {
		return NULL;
	}
	out = malloc(base64_encoded_len(n) + 1);
	if (out != NULL) {
		base64_encode(in, n, out, url);
	}
	return out;
}

size_t
base64_decoded_max(size_t inlen)
{
	return (inlen / 4) * 3 + 3;
}

long
base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax, bool url)
{
	size_t full, rem, o = 0;

	if (url) {
		rem = inlen % 4;
		if (rem == 1) {
			return -1;
		}
	} else {
		if (inlen % 4 != 0) {
			return -1;
		}
		rem = 0;
		if (inlen >= 1 && in[inlen - 1] == '=') {
			rem = (inlen >= 2 && in[inlen - 2] == '=') ? 2 : 3;
			inlen -= 4 - rem;
		}
	}
	full = (inlen - rem) / 4;
	if (full > (size_t)(LONG_MAX / 3) || full * 3 + (rem ? rem - 1 : 0) > outmax) {
		return -1;
	}
	for (size_t i = 0; i < full; i++) {
		int v0 = b64_value(in[4 * i], url), v1 = b64_value(in[4 * i + 1], url);
		int v2 = b64_value(in[4 * i + 2], url), v3 = b64_value(in[4 * i + 3], url);
		if ((v0 | v1 | v2 | v3) < 0) {
			return -1;
		}
		uint32_t v = ((uint32_t)v0 << 18) | ((uint32_t)v1 << 12) | ((uint32_t)v2 << 6) | v3;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (rem != 0) {
		const char *t = in + 4 * full;
		int v0 = b64_value(t[0], url), v1 = b64_value(t[1], url);
		int v2 = rem == 3 ? b64_value(t[2], url) : 0;
		if ((v0 | v1 | v2) < 0) {
			return -1;
		}
		uint32_t v = ((uint32_t)v0 << 18) | ((uint32_t)v1 << 12) | ((uint32_t)v2 << 6);
		/* Non-zero bits past the last byte make a second spelling: refuse it. */
		if ((rem == 2 && (v & 0xffff) != 0) || (rem == 3 && (v & 0xff) != 0)) {
			return -1;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (rem == 3) {
			out[o++] = (uint8_t)(v >> 8);
		}
	}
	return (long)o;
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

bool
hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	if (strlen(in) != 2 * outlen) {
		return false;
	}
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return false;
		}
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return true;
}

bool
hex_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F'))) {
			return false;
		}
	}
	return true;
}

void
base32_encode(const uint8_t *in, size_t n, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0) {
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	}
	out[o] = '\0';
}

void
be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(v >> (56 - 8 * i));
	}
}

uint64_t
be64_get(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = v << 8 | in[i];
	}
	return v;
}

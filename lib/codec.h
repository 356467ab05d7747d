/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64 (RFC 4648, standard and URL alphabets) and hex codecs; big-endian integers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of N bytes, padding included, without the NUL. */
size_t base64_encoded_len(size_t n);
/* Encode into OUT (base64_encoded_len(n) + 1 bytes); URL alphabet without padding when URL. */
void base64_encode(const uint8_t *in, size_t n, char *out, bool url);
/* Encode into a new string (NULL on allocation failure). */
char *base64_encode_alloc(const uint8_t *in, size_t n, bool url);
/*
 * Decode strictly: no whitespace, correct padding (standard) or none (URL),
 * zero trailing bits. Writes at most OUTMAX bytes. Returns the decoded
 * length, or -1 for malformed input or an output that would not fit.
 */
long base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outmax, bool url);
/* Upper bound of the decoded size of an encoding of INLEN characters. */
size_t base64_decoded_max(size_t inlen);

/* Lower-case hex into OUT (2n + 1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly OUTLEN bytes from 2*OUTLEN hex digits (any case); false when malformed. */
bool hex_decode(const char *in, uint8_t *out, size_t outlen);
/* Is S made of hex digits only (either case)? */
bool hex_valid(const char *s);
/* RFC 4648 base32 (A-Z2-7), no padding: OUT holds (N * 8 + 4) / 5 + 1 bytes. */
void base32_encode(const uint8_t *in, size_t n, char *out);

/* A 64-bit integer as 8 big-endian bytes (store keys that sort by it) and back. */
void be64_put(uint8_t out[8], uint64_t v);
uint64_t be64_get(const uint8_t in[8]);

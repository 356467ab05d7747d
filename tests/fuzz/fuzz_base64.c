/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the strict base64 and hex decoders: what they accept is the one spelling. */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_base64(const char *in, size_t size, bool url)
{
	size_t max = base64_decoded_max(size);
	uint8_t *out = malloc(max != 0 ? max : 1);
	char *enc = NULL;
	long n;

	if (out == NULL) {
		return;
	}
	n = base64_decode(in, size, out, max, url);
	if (n < 0) {
		goto out;
	}
	if ((size_t)n > max) {
		abort();
	}
	/* Strict decoding means re-encoding gives back exactly the input. */
	enc = base64_encode_alloc(out, (size_t)n, url);
	if (enc == NULL || strlen(enc) != size || memcmp(enc, in, size) != 0) {
		abort();
	}
	/* The output bound is exact: one byte less is refused, the exact size accepted. */
	if (n > 0 && base64_decode(in, size, out, (size_t)n - 1, url) != -1) {
		abort();
	}
	if (base64_decode(in, size, out, (size_t)n, url) != n) {
		abort();
	}
out:
	free(enc);
	free(out);
}

static void
check_hex(const char *in)
{
	size_t len = strlen(in), n = len / 2;
	uint8_t *out = malloc(n != 0 ? n : 1);
	char *enc = malloc(2 * n + 1);

	if (out == NULL || enc == NULL) {
		goto out;
	}
	if (!hex_decode(in, out, n)) {
		goto out;
	}
	if (len % 2 != 0) {
		abort();
	}
	/* Any case in, lower case out, nothing else changed. */
	hex_encode(out, n, enc);
	for (size_t i = 0; i < len; i++) {
		if (enc[i] != tolower((unsigned char)in[i])) {
			abort();
		}
	}
out:
	free(enc);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* base64_decode takes a length; hex_decode a C string, so it gets a terminated copy. */
	char *s = malloc(size + 1);

	if (s == NULL) {
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	check_base64(s, size, false);
	check_base64(s, size, true);
	check_hex(s);
	free(s);
	return 0;
}

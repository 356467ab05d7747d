/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the audit export parser and verifier (lib/audit_verify.c). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "lib/audit_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *
fuzz_key(void)
{
	static EVP_PKEY *key;

	/* Any P-256 key: the parser and the hash chain are what is fuzzed, not ECDSA. */
	if (key == NULL) {
		key = EVP_EC_gen("P-256");
	}
	return key;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_result res;
	FILE *f;
	int r;

	if (fuzz_key() == NULL || (f = fmemopen((void *)data, size, "r")) == NULL) {
		return 0;
	}
	memset(&res, 0, sizeof(res));
	r = audit_verify_file(f, fuzz_key(), &res);
	fclose(f);
	/* One of the documented outcomes, and a message that ends within its buffer. */
	if ((r != 0 && r != 1 && r != 3 && r != 4 && r != 5) ||
	    memchr(res.message, '\0', sizeof(res.message)) == NULL) {
		abort();
	}
	return 0;
}

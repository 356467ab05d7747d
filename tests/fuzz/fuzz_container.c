/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the BOSCH_SE_V1 parser: header decode, whole-file bounds, signature rules.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "lib/container.h"
#include "lib/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The ECDSA signature rule against OpenSSL's DER codec: what we accept,
 * OpenSSL parses and re-encodes to the same bytes; what OpenSSL parses to
 * two non-negative numbers and re-encodes unchanged, within the length
 * bounds, we accept.
 */
static void
check_ecdsa_rule(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	ECDSA_SIG *sig = size <= 200 ? d2i_ECDSA_SIG(NULL, &p, (long)size) : NULL;
	uint8_t *der = NULL;
	int der_len = sig != NULL ? i2d_ECDSA_SIG(sig, &der) : -1;
	bool canonical = sig != NULL && p == data + size && der_len == (int)size &&
			 memcmp(der, data, size) == 0 && !BN_is_negative(ECDSA_SIG_get0_r(sig)) &&
			 !BN_is_negative(ECDSA_SIG_get0_s(sig));

	for (int sc = CONTAINER_SC_ECC_NIST_P256; sc <= CONTAINER_SC_ECC_NIST_P384; sc++) {
		size_t max = sc == CONTAINER_SC_ECC_NIST_P256 ? 72 : 104;
		bool ours = container_sig_check_len(sc, data, size) == 0;

		if (ours != (canonical && size >= 8 && size <= max)) {
			abort();
		}
	}
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct container_header h, again;
	struct container_layout lay;
	const char *why = NULL;
	uint64_t end;
	uint8_t *enc = NULL;
	size_t enc_len = 0, hlen = 0;
	int r;

	check_ecdsa_rule(data, size);
	r = container_parse(data, size, &h, &lay, &why);
	if (r != 0) {
		/* A refusal is SIGNET_EINVAL and always says why. */
		if (r != SIGNET_EINVAL || why == NULL) {
			abort();
		}
		return 0;
	}
	/* What was accepted lies inside the input, in order, and covers all of it. */
	if (h.es == 0 || h.pv != CONTAINER_PV || lay.hlen != container_header_size(h.es, h.ml) ||
	    lay.hlen > size || (h.ml > 0 && h.md != data + lay.hlen - h.ml)) {
		abort();
	}
	end = lay.hlen;
	for (unsigned i = 0; i < h.es; i++) {
		if (lay.seg_off[i] != end) {
			abort();
		}
		end += h.esl[i];
	}
	if (lay.sig_off != end || lay.sig_len == 0 || lay.sig_len > CONTAINER_MAX_SIG_LEN ||
	    end + lay.sig_len != size) {
		abort();
	}
	/* Decoding is exact: encoding the header gives back the input's header bytes. */
	if (container_header_encode(&h, &enc, &enc_len) != 0 || enc_len != lay.hlen ||
	    memcmp(enc, data, enc_len) != 0) {
		abort();
	}
	/* And the header alone decodes to the same, with no byte more needed. */
	if (container_header_decode(data, lay.hlen, &again, &hlen, &why) != 0 || hlen != lay.hlen ||
	    again.es != h.es || again.ml != h.ml) {
		abort();
	}
	/* The signature rules must not read outside the signature. */
	(void)container_sig_check_len(h.sc, data + lay.sig_off, lay.sig_len);
	free(enc);
	return 0;
}

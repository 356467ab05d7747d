/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the BOSCH_SE_V1 parser: header decode, whole-file bounds, signature rules.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/container.h"
#include "lib/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct container_header h, again;
	struct container_layout lay;
	const char *why = NULL;
	uint64_t end;
	uint8_t *enc = NULL;
	size_t enc_len = 0, hlen = 0;
	int r = container_parse(data, size, &h, &lay, &why);

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

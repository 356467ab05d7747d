/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the signed report verifier (daemon/report.c): S/MIME, CMS, chain, JSON. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>

#include "daemon/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The root and intermediate CA of the seed corpus (made by
 * tests/unit/daemon/report_fixtures.sh), and a time when every certificate
 * of the seeds is valid (2026-11-26T02:40:00Z), so valid seeds verify.
 */
#define FUZZ_ROOT                                                                                  \
	"A5:59:AE:F9:74:49:E0:D1:CA:04:32:AC:78:7B:16:02:CD:F3:DD:C7:EC:66:CD:37:1F:E0:FD:84:2E:"  \
	"86:3B:18"
#define FUZZ_INTERMEDIATE                                                                          \
	"89:A3:9B:B5:6A:D0:78:34:F8:CB:3D:0C:1E:CF:F3:5D:B6:5E:14:5C:63:47:34:4C:D8:E8:F3:EA:A9:"  \
	"23:57:EB"
#define FUZZ_NOW ((time_t)1795660800)

static const json_t *
fuzz_fingerprints(void)
{
	static json_t *list;

	if (list == NULL) {
		list = json_pack("[ss]", FUZZ_ROOT, FUZZ_INTERMEDIATE);
	}
	return list;
}

static int
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const json_t *fps = fuzz_fingerprints();
	struct report_result res;
	enum report_status st;
	char why[128];

	if (fps == NULL) {
		return 0;
	}
	st = report_verify(data, size, fps, FUZZ_NOW, &res, why, sizeof(why));
	/* A documented status, a terminated printable reason, nothing left in the error queue. */
	if ((unsigned)st > REPORT_INTERNAL || !terminated(why, sizeof(why)) ||
	    ERR_peek_error() != 0) {
		abort();
	}
	for (const char *p = why; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			abort();
		}
	}
	if (st != REPORT_OK) {
		if (res.content != NULL || res.signer_subject[0] != '\0' ||
		    res.signer_fingerprint[0] != '\0' || res.anchor_fingerprint[0] != '\0' ||
		    res.gateway_id[0] != '\0') {
			abort();
		}
		return 0;
	}
	/* Accepted: an object, terminated fields, and an anchor that was configured. */
	if (!json_is_object(res.content) ||
	    !terminated(res.signer_subject, sizeof(res.signer_subject)) ||
	    !terminated(res.gateway_id, sizeof(res.gateway_id)) ||
	    strlen(res.signer_fingerprint) != REPORT_FINGERPRINT_SIZE - 1 ||
	    (strcmp(res.anchor_fingerprint, FUZZ_ROOT) != 0 &&
	     strcmp(res.anchor_fingerprint, FUZZ_INTERMEDIATE) != 0)) {
		abort();
	}
	json_decref(res.content);
	return 0;
}

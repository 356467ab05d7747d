/* SPDX-License-Identifier: Apache-2.0 */
/* totp_token: the token's HMAC (hsm_hmac_sha1) on the RFC 4226 seed, checked against the
 * RFC 4226 Appendix D and RFC 6238 Appendix B vectors through policy/totp.c. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/hsm.h"
#include "hsm/otp.h"
#include "lib/error.h"
#include "lib/util.h"
#include "policy/totp.h"

/*
 * usage: totp_token STATE-DIR [MODULE]
 * Opens the signet token of an initialised state directory (SOFTHSM2_CONF is
 * STATE-DIR/softhsm2.conf, the PIN STATE-DIR/token-pin; MODULE, else
 * $SOFTHSM_MODULE, else the configured SoftHSMv2), imports the RFC seed
 * "12345678901234567890" as a TOTP seed, prints every vector, destroys the
 * seed. Exit 0 only when every vector matched and the seed is gone again.
 */

static const uint32_t hotp[10] = {755224, 287082, 359152, 969429, 338314,
				  254676, 287922, 162583, 399871, 520489};
static const struct {
	long long t;
	uint32_t code;
	const char *rfc8; /* the 8-digit value printed in RFC 6238 */
} totp_vec[] = {
    {59, 287082, "94287082"},         {1111111109, 81804, "07081804"},
    {1111111111, 50471, "14050471"},  {1234567890, 5924, "89005924"},
    {2000000000, 279037, "69279037"}, {20000000000LL, 353130, "65353130"},
};

struct ctx {
	struct hsm_session *hs;
	uint8_t id[HSM_ID_LEN];
	int calls;
};

static int
token_hmac(void *arg, const uint8_t counter[8], uint8_t out[20])
{
	struct ctx *c = arg;

	c->calls++;
	return hsm_hmac_sha1(c->hs, c->id, counter, 8, out);
}

static void
counter_of(unsigned long long v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(v >> (56 - 8 * i));
	}
}

int
main(int argc, char **argv)
{
	static const uint8_t seed[] = "12345678901234567890";
	const char *module;
	char path[4096], why[200];
	struct secret pin = {0};
	struct hsm_config hc;
	struct hsm *h = NULL;
	struct ctx c = {0};
	int bad = 0, rc;
	bool imported = false;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: totp_token STATE-DIR [MODULE]\n");
		return 2;
	}
	module = argc > 2 ? argv[2] : getenv("SOFTHSM_MODULE");
	if (module == NULL || *module == '\0') {
		module = SIGNET_SOFTHSM_MODULE;
	}
	snprintf(path, sizeof(path), "%s/softhsm2.conf", argv[1]);
	setenv("SOFTHSM2_CONF", path, 1);
	snprintf(path, sizeof(path), "%s/token-pin", argv[1]);
	if (secret_read_file(&pin, path, 256) != 0) {
		fprintf(stderr, "totp_token: cannot read %s\n", path);
		return 1;
	}
	hc.module = module;
	hc.token_uri = "pkcs11:token=signet";
	hc.pin = &pin;
	if ((rc = hsm_open(&hc, &h)) != 0) {
		fprintf(stderr, "totp_token: cannot open the token: %s\n", signet_err_code(rc));
		secret_free(&pin);
		return 1;
	}
	if ((rc = hsm_session_open(h, &c.hs)) != 0) {
		fprintf(stderr, "totp_token: no session: %s\n", signet_err_code(rc));
		hsm_close(h);
		secret_free(&pin);
		return 1;
	}
	if ((rc = hsm_otp_seed_import(c.hs, "test/otp/rfc4226", seed, 20, c.id)) != 0) {
		fprintf(stderr, "totp_token: seed import failed: %s\n", signet_err_code(rc));
		bad++;
		goto out;
	}
	imported = true;
	if ((rc = hsm_otp_seed_check(c.hs, c.id, why, sizeof(why))) != 0) {
		printf("not ok - the imported seed is not sensitive / non-extractable: %s\n", why);
		bad++;
	} else {
		printf("ok - the imported seed is private, sensitive, not extractable\n");
	}

	/* RFC 4226 Appendix D: HOTP(counter) for counters 0..9, the HMAC by the token. */
	for (unsigned k = 0; k < 10; k++) {
		uint8_t ctr[8], mac[20];
		uint32_t got = 0;
		counter_of(k, ctr);
		rc = hsm_hmac_sha1(c.hs, c.id, ctr, 8, mac);
		if (rc == 0) {
			got = totp_truncate(mac);
		}
		printf("%s - RFC 4226 counter %u: token %06u, RFC %06u%s\n",
		       rc == 0 && got == hotp[k] ? "ok" : "not ok", k, got, hotp[k],
		       rc != 0 ? " (token error)" : "");
		bad += !(rc == 0 && got == hotp[k]);
	}

	/* RFC 6238 Appendix B (SHA-1, the 8-digit values mod 10^6): directly at step T/30,
	 * and as the middle candidate of totp_candidates(T). */
	for (size_t i = 0; i < sizeof(totp_vec) / sizeof(totp_vec[0]); i++) {
		struct totp_candidates tc;
		uint8_t ctr[8], mac[20];
		uint32_t direct = 0;
		long long step = totp_vec[i].t / TOTP_STEP_S;
		int ok;

		counter_of((unsigned long long)step, ctr);
		rc = hsm_hmac_sha1(c.hs, c.id, ctr, 8, mac);
		if (rc == 0) {
			direct = totp_truncate(mac);
		}
		ok = rc == 0 && direct == totp_vec[i].code;
		printf("%s - RFC 6238 T=%lld (step %lld): token HMAC %06u, RFC %s -> %06u\n",
		       ok ? "ok" : "not ok", totp_vec[i].t, step, direct, totp_vec[i].rfc8,
		       totp_vec[i].code);
		bad += !ok;

		memset(&tc, 0, sizeof(tc));
		c.calls = 0;
		rc = totp_candidates((int64_t)totp_vec[i].t, token_hmac, &c, &tc);
		ok = rc == 0 && c.calls == TOTP_CANDIDATES && tc.step[TOTP_WINDOW] == step &&
		     tc.code[TOTP_WINDOW] == totp_vec[i].code;
		printf("%s - RFC 6238 T=%lld via totp_candidates: steps %lld..%lld, codes %06u "
		       "[%06u] %06u\n",
		       ok ? "ok" : "not ok", totp_vec[i].t, (long long)tc.step[0],
		       (long long)tc.step[TOTP_CANDIDATES - 1], tc.code[0], tc.code[TOTP_WINDOW],
		       tc.code[TOTP_CANDIDATES - 1]);
		bad += !ok;
		if (rc == 0) {
			int64_t got_step = -1;
			ok = totp_match(totp_vec[i].code, &tc, 0, &got_step) == TOTP_OK &&
			     got_step == step &&
			     totp_match(totp_vec[i].code, &tc, step, &got_step) == TOTP_REPLAYED;
			printf("%s - RFC 6238 T=%lld: the code is accepted once, then a replay\n",
			       ok ? "ok" : "not ok", totp_vec[i].t);
			bad += !ok;
		}
	}

out:
	if (imported) {
		if (hsm_otp_seed_destroy(c.hs, c.id) != 0) {
			printf("not ok - the seed could not be destroyed\n");
			bad++;
		}
		rc = hsm_otp_seed_check(c.hs, c.id, why, sizeof(why));
		printf("%s - the seed is gone from the token (%s)\n",
		       rc == SIGNET_ENOTFOUND ? "ok" : "not ok", signet_err_code(rc));
		bad += rc != SIGNET_ENOTFOUND;
	}
	hsm_session_close(c.hs);
	hsm_close(h);
	secret_free(&pin);
	printf("%s\n", bad == 0 ? "all TOTP token vectors match" : "TOTP token vectors FAILED");
	return bad == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP (RFC 6238 over RFC 4226) decisions: truncation, the window, replay, lockout. Pure. */
#include "config.h"

#include "policy/totp.h"

int64_t
totp_step(int64_t now)
{
	return now >= 0 ? now / TOTP_STEP_S : 0;
}

uint32_t
totp_truncate(const uint8_t hmac[20])
{
	unsigned off = hmac[19] & 0x0f;
	uint32_t bin = ((uint32_t)(hmac[off] & 0x7f) << 24) | ((uint32_t)hmac[off + 1] << 16) |
		       ((uint32_t)hmac[off + 2] << 8) | (uint32_t)hmac[off + 3];
	uint32_t mod = 1;

	for (int i = 0; i < TOTP_DIGITS; i++) {
		mod *= 10;
	}
	return bin % mod;
}

int
totp_code_parse(const char *s, uint32_t *code)
{
	uint32_t v = 0;
	int i;

	if (s == 0) {
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= TOTP_DIGITS || s[i] < '0' || s[i] > '9') {
			return -1;
		}
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (i != TOTP_DIGITS) {
		return -1;
	}
	*code = v;
	return 0;
}

int
totp_candidates(int64_t now, totp_hmac_fn fn, void *ctx, struct totp_candidates *c)
{
	int64_t base = totp_step(now);

	for (int i = 0; i < TOTP_CANDIDATES; i++) {
		int64_t step = base - TOTP_WINDOW + i;
		uint8_t counter[8], mac[20];
		int r;

		for (int b = 0; b < 8; b++) {
			counter[b] = (uint8_t)((uint64_t)step >> (56 - 8 * b));
		}
		if ((r = fn(ctx, counter, mac)) != 0) {
			return r;
		}
		c->step[i] = step;
		c->code[i] = totp_truncate(mac);
	}
	return 0;
}

/* 1 when A == B, else 0, without a branch on the values. */
static uint32_t
ct_eq(uint32_t a, uint32_t b)
{
	uint32_t x = a ^ b;

	return 1u ^ ((x | (0u - x)) >> 31);
}

enum totp_result
totp_match(uint32_t code, const struct totp_candidates *c, int64_t last_step, int64_t *step)
{
	int64_t newest = -1;
	uint32_t any = 0;

	/* Every candidate is compared: how long this takes says nothing about which matched. */
	for (int i = 0; i < TOTP_CANDIDATES; i++) {
		uint32_t eq = ct_eq(code, c->code[i]);
		int64_t mask = -(int64_t)eq;
		any |= eq;
		newest = (newest & ~mask) | (c->step[i] & mask);
	}
	if (!any) {
		return TOTP_INVALID;
	}
	if (newest <= last_step) {
		return TOTP_REPLAYED;
	}
	*step = newest;
	return TOTP_OK;
}

bool
totp_locked(const struct totp_state *s, int64_t now)
{
	return s->locked_until > now;
}

bool
totp_failed(struct totp_state *s, int64_t now)
{
	if (++s->failures >= TOTP_MAX_FAILURES) {
		s->failures = 0;
		s->locked_until = now + TOTP_LOCKOUT_S;
		return true;
	}
	return false;
}

void
totp_accepted(struct totp_state *s, int64_t step)
{
	s->last_step = step;
	s->failures = 0;
}

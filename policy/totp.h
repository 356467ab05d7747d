/* SPDX-License-Identifier: Apache-2.0 */
/* TOTP (RFC 6238 over RFC 4226) decisions: truncation, the window, replay, lockout. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_STEP_S       30 /* seconds per step */
#define TOTP_DIGITS       6
#define TOTP_WINDOW       1 /* steps accepted either side of now, for clock drift */
#define TOTP_CANDIDATES   (2 * TOTP_WINDOW + 1)
#define TOTP_MAX_FAILURES 5   /* consecutive failures before a lockout */
#define TOTP_LOCKOUT_S    900 /* how long a lockout lasts */

/* The HMAC-SHA-1 of the 8-byte big-endian COUNTER under the user's seed (the token computes it). */
typedef int (*totp_hmac_fn)(void *ctx, const uint8_t counter[8], uint8_t out[20]);

int64_t totp_step(int64_t now);
/* RFC 4226 dynamic truncation of an HMAC-SHA-1, modulo 10^TOTP_DIGITS. */
uint32_t totp_truncate(const uint8_t hmac[20]);
/* A code as typed: exactly TOTP_DIGITS ASCII digits. 0, or -1. */
int totp_code_parse(const char *s, uint32_t *code);

/* The codes of the steps around NOW (step - WINDOW .. step + WINDOW), computed through FN. */
struct totp_candidates {
	int64_t step[TOTP_CANDIDATES];
	uint32_t code[TOTP_CANDIDATES];
};
int totp_candidates(int64_t now, totp_hmac_fn fn, void *ctx, struct totp_candidates *c);

enum totp_result {
	TOTP_OK,
	TOTP_INVALID,  /* no candidate matches */
	TOTP_REPLAYED, /* it matches a step not newer than the last accepted one */
};
/*
 * Compare CODE with every candidate (always all of them, in constant time)
 * and take the newest matching step; a match at or before LAST_STEP is a
 * replay. On TOTP_OK, *STEP is the step to record as the last accepted.
 */
enum totp_result totp_match(uint32_t code, const struct totp_candidates *c, int64_t last_step,
			    int64_t *step);

/* Lockout state of one user, persisted by the caller. */
struct totp_state {
	int64_t last_step;    /* newest step accepted (0: none) */
	int failures;         /* consecutive failures */
	int64_t locked_until; /* approvals refused before this time */
};
bool totp_locked(const struct totp_state *s, int64_t now);
/* After a wrong or replayed code: count it; returns true when this failure starts a lockout. */
bool totp_failed(struct totp_state *s, int64_t now);
/* After an accepted code. */
void totp_accepted(struct totp_state *s, int64_t step);

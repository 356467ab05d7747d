/* SPDX-License-Identifier: Apache-2.0 */
/* Crash safety of the embedded SoftHSMv2 token: verified generations of its files, restored on start. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * SoftHSMv2's file object store rewrites its files in place (truncate, then
 * write, no fsync): a crash in between leaves an empty or cut file, and an
 * empty token.object makes the whole token (every key, every TOTP seed)
 * unusable. The guard keeps fsynced, hash-manifested copies of the token
 * directory ("generations") taken whenever its files are in a consistent
 * state, checks every file's structure at start, and restores the newest
 * good generation when a file is damaged. doc/token-safety.md says why this
 * is safe and what it costs.
 *
 * The guard applies only to the embedded token (a SoftHSMv2 configuration
 * with the file backend); a hardware HSM protects its own store.
 */

#define TOKEN_GUARD_KEEP 3 /* generations kept on disk */
#define TOKEN_ID_LEN 16    /* the CKA_ID of signet's objects */

/* The CKA_IDs of the objects the store refers to (keys, TOTP seeds, the audit key). */
struct token_ids {
	uint8_t (*id)[TOKEN_ID_LEN];
	size_t n, cap;
};

struct token_guard;

/* What the start-up check found, for the log and the appliance audit chain. */
struct token_guard_report {
	bool restored;          /* the token was restored from a generation */
	uint64_t generation;    /* the generation restored, or the newest one */
	int64_t generation_time;
	char damaged[512];      /* the damaged files, "uuid/file: why; ..." */
	char quarantine[256];   /* where the damaged directory was moved (under the state dir) */
	bool snapshot_failed;   /* the live token is good but no new generation could be written */
	/*
	 * Every restore not yet on the audit chain, one line each: this start's
	 * and any whose start was cut short before its entry was written
	 * (malloc'd, or NULL; token_guard_report_free).
	 */
	char *pending;
};

void token_guard_report_free(struct token_guard_report *rep);

/*
 * Open the guard for the SoftHSMv2 configuration SOFTHSM_CONF (its
 * directories.tokendir), keeping generations in STATE_DIR/token-generations.
 * Before the module is loaded: checks every file of the live token
 * directory and repairs it file by file — a damaged file is moved aside
 * (never deleted) and replaced by its newest good copy in a generation (or
 * dropped when no generation holds it: a half-made object); a token.object,
 * or an object whose CKA_ID is in EXPECTED, that the newest generation has
 * and the live folder lacks comes back; a gone token directory comes back
 * whole. Then a consistent state that changed becomes a new generation.
 * *OUT is NULL (and 0 returned) when SoftHSM does not use the file backend.
 * Errors: SIGNET_ETOKEN when the token is damaged and no good generation
 * exists (the report says which files), SIGNET_EINTERNAL on I/O errors.
 */
int token_guard_open(const char *state_dir, const char *softhsm_conf,
		     const struct token_ids *expected, struct token_guard **out,
		     struct token_guard_report *rep);
void token_guard_close(struct token_guard *g);

/*
 * Around every operation that writes the token's files (key generation and
 * import, certificate storage, key and seed destruction, OTP enrollment):
 * begin takes the guard's lock, end records a new generation of the
 * consistent result and releases it. Both accept a NULL guard. end returns
 * 0, or an error when no generation could be written (the operation itself
 * succeeded; the previous generation stays the one a restore would use).
 */
void token_guard_write_begin(struct token_guard *g);
int token_guard_write_end(struct token_guard *g);

/*
 * The restores in the report's PENDING are on the audit chain now: forget
 * them. (A crash just before this records them twice, never zero times.)
 */
int token_guard_restores_recorded(struct token_guard *g);

/* The newest generation's number and time (0 when none). */
void token_guard_newest(struct token_guard *g, uint64_t *generation, int64_t *created);

/*
 * Check the structure of one SoftHSMv2 object file (exported for tests and
 * the fuzz target): the generation number, then attributes to the end, each
 * complete. TOKEN_OBJECT also requires the token's label, serial, flags and
 * both PIN blobs. Up to MAXTYPES attribute types are stored in TYPES (in
 * file order) and their count in *NTYPES. 0, or SIGNET_EINVAL with a reason
 * in WHY.
 */
int softhsm_object_check(const uint8_t *data, size_t len, bool token_object,
			 unsigned long *types, size_t maxtypes, size_t *ntypes, char *why,
			 size_t whylen);

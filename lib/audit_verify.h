/* SPDX-License-Identifier: Apache-2.0 */
/* Audit log encoding, entry hash, checkpoint bytes and the offline verifier (doc/audit.md). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Longest line of an export file, newline excluded. */
#define AUDIT_LINE_MAX (1024 * 1024)
/* Longest chain name: a tenant name (1..64 characters) or "~appliance". */
#define AUDIT_CHAIN_MAX 64

/* The exit status of `signetctl audit verify`, as doc/audit.md lists it. */
enum audit_verify_status {
	AUDIT_VERIFY_OK = 0,
	AUDIT_VERIFY_FORMAT = 1,     /* not an audit export: a line is not a well-formed record */
	AUDIT_VERIFY_ENTRY = 3,      /* an entry is wrong: hash, chain link, sequence, chain name */
	AUDIT_VERIFY_CHECKPOINT = 4, /* a checkpoint's signature, link, seq or hash is wrong */
	AUDIT_VERIFY_UNCOVERED = 5,  /* the last entry is not covered by a final checkpoint */
};

struct audit_verify_result {
	uint64_t bad_seq;     /* the first bad sequence number; 0 when none (or a format fault) */
	uint64_t line;        /* the line of the first fault, from 1; 0 when none */
	uint64_t entries;     /* entries verified (before the first fault) */
	uint64_t checkpoints; /* checkpoints verified (before the first fault) */
	char chain[AUDIT_CHAIN_MAX + 1];
	char message[256]; /* one sentence: "verified" or what is wrong, naming the seq */
};

/*
 * The hash of ENTRY: SHA-256 of PREV (the previous entry's hash, zeros
 * before the first) and the canonical encoding of chain, seq, time,
 * tenant, actor, peerUid, verb, resource, message and value. A member
 * that is missing or neither a string nor an integer is encoded as null:
 * the caller builds or validates the entry.
 */
void audit_entry_hash(const uint8_t prev[32], const json_t *entry, uint8_t out[32]);

/*
 * The bytes a checkpoint's signature covers: the canonical encoding of
 * "signet-audit-checkpoint-v1", chain, seq, hash, time, prevSignature.
 * On success *BUF (caller frees) holds *LEN bytes. SIGNET_EINVAL when a
 * member is missing or of the wrong type, SIGNET_EINTERNAL on allocation failure.
 */
int audit_checkpoint_tbs(const json_t *ckpt, uint8_t **buf, size_t *len);

/*
 * Verify an export file of one chain against the audit public key PUB
 * (ECDSA P-256). Reads F to its end or to the first fault; fills RES and
 * returns an enum audit_verify_status.
 */
int audit_verify_file(FILE *f, EVP_PKEY *pub, struct audit_verify_result *res);

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/: a fresh SoftHSMv2 token in a temporary directory, opened as signetd does. */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "hsm/hsm.h"
#include "lib/util.h"

#define TEST_TOKEN_LABEL  "t"
#define TEST_TOKEN_PIN    "1234-user-pin"
#define TEST_TOKEN_SO_PIN "5678-so-pin"

struct test_token {
	char dir[64];        /* the temporary directory: softhsm2.conf, tokens/, p11fault/ */
	char fault_dir[128]; /* P11FAULT_DIR: trigger files and the "faults" log */
	const char *module;  /* what hsm_open loaded */
	struct secret pin;   /* outlives h, as hsm_open asks */
	struct hsm *h;
	struct hsm_session *s;
};

/*
 * Make the directory and its softhsm2.conf (file backend), point
 * SOFTHSM2_CONF at it, initialise token TEST_TOKEN_LABEL with
 * hsm_init_token, then hsm_open it and open one session. With FAULT the
 * module is the fault-injecting wrapper ($P11FAULT) around SoftHSMv2.
 * 0, or -1 with the reason on stderr (the caller fails its setup).
 */
int test_token_make(struct test_token *t, bool fault);
/* Close the session and the token, remove the directory. */
void test_token_free(struct test_token *t);

/* The module path: $SOFTHSM_MODULE, else the one configure found. */
const char *test_softhsm_module(void);
/* Is the fault module there ($P11FAULT names a readable file)? */
bool test_fault_available(void);

/* Arm the fault module: trigger NAME ("close-sessions", "device-removed", ...) fires COUNT times.
 */
void test_token_fault(struct test_token *t, const char *name, int count);
/* The same after SKIP calls that reach the trigger have passed unharmed. */
void test_token_fault_after(struct test_token *t, const char *name, int count, int skip);
/* How many faults the module has injected so far. */
int test_token_faults_fired(const struct test_token *t);
/* Disarm every trigger and forget the count. */
void test_token_fault_reset(struct test_token *t);

/*
 * Verify SIG over DATA with the public key PK the way a relying party does:
 * ECDSA (DER) and RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) over the
 * digest DATA, Ed25519 over the message DATA. 1 when it verifies, else 0.
 */
int test_verify(EVP_PKEY *pk, enum hsm_alg alg, const uint8_t *data, size_t len, const uint8_t *sig,
		size_t siglen);

/* A software CA (P-256, self-signed, CN=CN) for certificates of token keys. 0 or -1. */
int test_ca_make(const char *cn, EVP_PKEY **key, X509 **cert);
/* A leaf certificate for PUB (CN=CN) issued by the CA; NULL on failure. */
X509 *test_cert_issue(EVP_PKEY *pub, const char *cn, EVP_PKEY *ca_key, X509 *ca);

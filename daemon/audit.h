/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: hash-chained entries per tenant and for the appliance, signed checkpoints. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"
#include "hsm/hsm.h"

#define AUDIT_APPLIANCE    "~appliance" /* the chain of appliance-level entries */
#define AUDIT_CKPT_EVERY   1000         /* entries between checkpoints */
#define AUDIT_CKPT_IDLE_S  60 /* new entries get a checkpoint this long after the last one */
#define AUDIT_CKPT_CHECK_S 1  /* the checkpointer looks at every chain this often */

/* Who did it: a subject, or a local peer by uid, or signetd itself. */
struct audit_actor {
	const char *tenant; /* may be NULL */
	char actor[96];     /* "USER:alice", "uid:0", "signetd"; empty: unknown */
	long peer_uid;      /* -1: none */
};

void audit_actor_of(const struct request *r, struct audit_actor *a);
void audit_actor_daemon(struct daemon *d, const char *tenant, struct audit_actor *a);

/*
 * In a write transaction: append an entry to CHAIN (a tenant name or
 * AUDIT_APPLIANCE). VALUE (may be NULL) is stored as compact JSON text;
 * it must never hold a secret.
 */
int audit_append(struct store_txn *t, const char *chain, const struct audit_actor *a,
		 const char *verb, const char *resource, const char *message, const json_t *value);
/* The same for a request: its tenant's chain (the appliance's when it has none); marks R audited.
 */
int audit_req(struct store_txn *t, struct request *r, const char *verb, const char *resource,
	      const char *message, const json_t *value);
/* After an op that did not audit inside its transaction (reads, refusals): one entry of its own. */
void audit_after(struct request *r);
/* The same for a deferred request whose work ended (any thread); then hands R to the loop. */
void audit_after_finish(struct request *r);
/*
 * Write the counted failed authentications of windows that ended (all of
 * them when ALL, at shutdown: then synchronously).
 */
void audit_authfail_flush(struct daemon *d, bool all);
/*
 * End a guarded write of the token's files (token_guard_write_end) and,
 * when no generation could be recorded, say so on the appliance chain.
 */
void audit_token_write_end(struct daemon *d);
/* Appliance events: start, stop, backup. */
int audit_appliance(struct daemon *d, const char *verb, const char *resource, const char *message);

/* The audit key: made in the token on first start, its CKA_ID kept in the store's meta. */
int audit_key_read_id(struct daemon *d, uint8_t id[HSM_ID_LEN]);
int audit_key_ensure(struct daemon *d);
/*
 * Sign a checkpoint for every chain that needs one (FORCE: every chain with
 * new entries); how many were made.
 */
size_t audit_checkpoint_all(struct daemon *d, struct hsm_session *hs, bool force);
/*
 * The checkpointer: its own thread and token session, which checks every
 * chain each AUDIT_CKPT_CHECK_S seconds (audit_checkpoint_all), whatever
 * the task engine is doing. Stop it before the checkpoints of a shutdown.
 */
int audit_checkpointer_start(struct daemon *d);
void audit_checkpointer_stop(struct daemon *d);
/* Checkpoints the checkpointer made since the start. */
unsigned long audit_checkpoints_made(struct daemon *d);
/* Sign a fresh checkpoint of CHAIN now (export); 0 or an error. */
int audit_checkpoint_chain(struct daemon *d, struct hsm_session *hs, const char *chain);

/*
 * A record of the audit db as read (entries are stored briefly):
 * the whole entry or checkpoint REC under KEY stands for, a new reference,
 * or NULL when it is damaged. CUR (may be NULL) remembers the last entry
 * loaded, whose hash is the next one's prevHash; zero it before a walk.
 */
struct audit_cursor {
	uint64_t seq;
	char hash[65];
};
json_t *audit_record_load(struct store_txn *t, const void *key, size_t klen, json_t *rec,
			  struct audit_cursor *cur);
/* The entry SEQ of CHAIN: 0 and *OUT (caller decrefs), or SIGNET_ENOTFOUND. */
int audit_entry_get(struct store_txn *t, const char *chain, uint64_t seq, json_t **out);

/* SPDX-License-Identifier: Apache-2.0 */
/* Spool quotas: the bytes each tenant and user holds in the spool, claims before writing, the
 * reserve. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/store.h"

/*
 * What a task holds in the spool is a pure function of its record (its
 * "charge"): while it has not ended, its spooled inputs and the most its
 * result file may take (resultMax); for a package, whose segments are
 * encrypted into its package file by the request, that file's bound
 * (resultMax) alone; once DONE, its result file while it is available;
 * else nothing (a package's children hold nothing). The store keeps the
 * sum per tenant and per requester, changed in the same transaction as
 * the record (task_put), so a crash can never leave the sums and the
 * records apart.
 */
struct task;
uint64_t quota_task_charge(const struct task *task);
/* In a write transaction: TASK's record changes from charging BEFORE bytes to its charge now. */
int quota_task_update(struct store_txn *t, const struct task *task, uint64_t before);

/*
 * A claim: bytes a request is about to write to the spool, or to promise
 * in a task record, before the record counts them. Held in memory only:
 * a crash loses the claim and the partial file with it (no record names
 * it: the start-up clean-up removes it).
 */
struct quota_claim {
	char tenant[ACL_NAME_MAX + 1];
	char requester[ACL_SUBJECT_MAX];
	uint64_t bytes; /* counted against the quotas */
	uint64_t disk;  /* of them, written now: counted against the spool's free space */
	bool held;
	struct quota_claim *prev, *next;
};

/* Load the quotas, and sum the records once when the store has no sums yet (an older store). */
int quota_start(struct daemon *d);
void quota_stop(struct daemon *d);

/*
 * Claim BYTES of the spool for R's user and tenant before a byte is
 * written: the user's and the tenant's use (the records' sums and the
 * claims held) must stay within [tasks] spool_quota_user_mb and
 * spool_quota_tenant_mb (SIGNET_EQUOTA). DISK of them, the copies the
 * request writes now, must leave [tasks] spool_reserve_mb free on the
 * spool's filesystem beyond every claim held (SIGNET_ENOSPACE); the rest
 * is a result's room, written later by a task that was accepted, which
 * may use the reserve. Fails with R's message; 0 and C held otherwise,
 * until quota_release (any thread; a claim not held is left alone).
 */
int quota_claim(struct request *r, uint64_t bytes, uint64_t disk, struct quota_claim *c);
void quota_release(struct daemon *d, struct quota_claim *c);

/* What a user and their tenant hold in the spool (records and claims), and their quotas (0: none).
 */
struct quota_use {
	uint64_t user, user_quota, tenant, tenant_quota;
};
int quota_use_of(struct daemon *d, const char *tenant, const char *requester, struct quota_use *u);
/* Bytes claimed now, all tenants together. */
uint64_t quota_claimed(struct daemon *d);

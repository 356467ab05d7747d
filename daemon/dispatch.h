/* SPDX-License-Identifier: Apache-2.0 */
/* The const table of socket API ops and the checks every request passes before its handler. */
#pragma once

#include "daemon/daemon.h"
#include "policy/acl.h"

enum op_flags {
	OP_AUTH = 1 << 0,  /* needs a valid API token */
	OP_LOCAL = 1 << 1, /* only for a local administrator peer (uid 0 or the daemon's) */
	OP_TOKEN = 1 << 2, /* uses the token: needs the worker's PKCS#11 session */
	/*
	 * The action applies to one resource the request names (a device
	 * configuration, or the one a task belongs to): the handler checks it
	 * with policy_allows_on() (a right on the whole type also grants it),
	 * and listings show only what it grants.
	 */
	OP_PER_RESOURCE = 1 << 3,
	/* only for a local administrator or the gateway peer ([daemon] gateway_user); no token */
	OP_MONITOR = 1 << 4,
};

struct op_desc {
	const char *name;
	int (*fn)(struct request *r);
	unsigned flags;
	enum acl_action action;
	enum acl_resource_type rtype;
	int max_fds;             /* descriptors the op accepts */
	const char *const *args; /* the argument names it accepts (NULL-terminated) */
};

const struct op_desc *dispatch_find(const char *name);
/* Every op, for documentation checks: sets *N. */
const struct op_desc *dispatch_table(size_t *n);
/* On a worker: authenticate, authorise, check arguments, run the handler. */
void dispatch_run(struct request *r);
/* After the handler (or its deferred commit): turn RC into the answer's error, drop partial
 * results. */
void dispatch_complete(struct request *r, int rc);
/*
 * The life cycle of a request is told in daemon.h (struct request); these
 * are its only ways off its worker.
 *
 * dispatch_defer: R's handler hands its work on; call it before another
 * thread can see R. dispatch_undefer: the hand-off failed before anyone
 * saw R, its worker answers after all.
 */
void dispatch_defer(struct request *r);
void dispatch_undefer(struct request *r);
/*
 * A deferred request's work ended off its worker (any thread): its answer
 * from RC, an audit entry of its own when its work wrote none, then the
 * loop sends it.
 */
void dispatch_finish(struct request *r, int rc);
struct store_txn;
/*
 * Hand R's durable write on to the committer (store_write_async: TXN with
 * ARG) and answer once it is on disk: COMMITTED (may be NULL) runs on the
 * committer with the commit's RC and fills R's result, then
 * dispatch_finish(R, RC). The worker takes its next request meanwhile.
 * 0, or an error with nothing queued (R is its worker's again).
 */
int dispatch_defer_write(struct request *r, int (*txn)(struct store_txn *t, void *arg), void *arg,
			 void (*committed)(struct request *r, void *arg, int rc));

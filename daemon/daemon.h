/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's shared state and the request that flows from the loop to a worker and back. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "daemon/conf.h"
#include "lib/jargs.h"
#include "lib/msg.h"
#include "policy/acl.h"

struct event_base;
struct store;
struct hsm;
struct hsm_session;
struct workers;
struct server;
struct conn;
struct op_desc;
struct engine;
struct token_guard;
struct authfail;
struct ingest;
struct quota;
struct audit_ckpt;
struct metrics;

#define WATCH_BATCH 32 /* events one events.watch run fetches and sends */

struct daemon {
	struct config *cfg;
	struct event_base *base;
	struct store *store;
	struct hsm *hsm;
	struct workers *workers;
	struct server *server;
	struct engine *engine; /* the threads that run tasks */
	struct token_guard *guard; /* generations of the embedded token's files, or NULL */
	struct authfail *authfail; /* failed authentications counted per tenant and source */
	struct ingest *ingest;     /* the threads that read large inputs */
	struct quota *quota;       /* claims of spool space not yet in a task record */
	struct audit_ckpt *checkpointer; /* the thread that signs audit checkpoints on schedule */
	struct metrics *metrics;         /* counters since start (metrics.h), or NULL */
	int64_t started;
	uid_t self_uid;
	uid_t gateway_uid; /* [daemon] gateway_user, or (uid_t)-1 */
	atomic_long requests;    /* requests dispatched since start */
	atomic_long connections; /* connections open now */
};

struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * One request: decoded on the loop, run on a worker, answered on the loop.
 *
 * Its life cycle, written down once (doc/request-flow.md tells it whole):
 *
 *   loop (server.c)        reads the packet, makes R, workers_submit();
 *   worker (workers.c)     dispatch_run(): authenticate, authorise, check the
 *                          arguments, run the op's handler. A handler that
 *                          ends its work there returns its result; a read or
 *                          a refusal then gets its audit entry, queued to the
 *                          committer (audit_after), and the answer waits for
 *                          that commit, not the worker;
 *   elsewhere              a handler that hands its work on (a durable write
 *                          queued to the committer: dispatch_defer_write; a
 *                          job for the ingest pool) calls dispatch_defer()
 *                          before another thread can see R, and returns; the
 *                          thread that ends the work calls dispatch_finish()
 *                          (answer, audit entry if none yet);
 *   loop                   once both the worker and the finisher have let go
 *                          of R (STAGE below), request_done() sends the answer.
 *
 * The loop never waits on the token, a file or a disk sync: workers, the
 * ingest pool and the committer do.
 */
enum req_stage {
	REQ_RUNNING,  /* on its worker, which answers it */
	REQ_DEFERRED, /* handed on (dispatch_defer): its worker and its finisher both hold it */
	REQ_LET_GO,   /* one of the two has let go (under the workers' lock): the other answers */
};

struct request {
	struct daemon *d;
	struct conn *conn;
	const struct op_desc *op;
	json_int_t id;
	json_t *msg; /* the whole request object (owns args and auth) */
	struct jargs args;
	const char *token; /* borrowed from MSG */
	const char *tenant_hint;
	struct peer peer;
	bool local; /* peer is root or the daemon's own uid */
	int fds[MSG_MAX_FDS];
	int nfds;
	/* Filled on the worker. */
	struct hsm_session *hs;
	struct policy_subject subject;
	bool authenticated;
	json_t *result;
	int err;
	char message[256];
	int out_fds[MSG_MAX_FDS];
	int out_nfds;
	/* Where it is in its life cycle (above); changed under the workers' lock once handed on. */
	_Atomic enum req_stage stage;
	bool audited; /* its audit entry is written (inside its own transaction, or after it) */
	unsigned delay_ms;
	struct event *delay_ev; /* the failed-authentication delay, while it runs */
	bool delay_released;    /* waiting out the delay: no longer counted in flight */
	struct request *next;
	/*
	 * Answering later. A task.wait handler sets REQ_WAIT when the task is
	 * not final yet; an events.watch handler sets REQ_WATCH and hands a
	 * batch of events. The loop parks the request until the task ends, new
	 * events arrive or the deadline passes, then runs the handler again
	 * (RESUMED: authenticated and checked already).
	 */
	enum { REQ_ONCE, REQ_WAIT, REQ_WATCH } mode;
	bool resumed;
	bool replied; /* events.watch: its first answer went out */
	bool more;    /* events.watch: more events are ready than one batch held */
	bool blocked; /* events.watch: parked until the client reads what it was sent */
	bool parked;
	char wait_task[40];   /* task.wait: the task id */
	uint64_t deadline_ms; /* task.wait: monotonic time to answer by */
	uint64_t
	    watch_next; /* events.watch: the next sequence to fetch; task.wait: the last seen */
	char token_hash[65];   /* the API token's hash, to authenticate again when resumed */
	json_t *events;        /* events.watch: a batch to send after the answer */
	struct event *park_ev; /* task.wait: the deadline */
	struct request *pprev, *pnext;
};

/* Record a failure with a message for the client (never a secret). Returns ERR. */
int req_fail(struct request *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* SPDX-License-Identifier: Apache-2.0 */
/* signetd configuration: a table of keys with type, range and default, read from INI. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct config {
	char *state_dir;   /* [daemon] state_dir */
	char *socket_path; /* [daemon] socket */
	char
	    *socket_group; /* [daemon] socket_group: group that may connect (empty: the daemon's) */
	char *gateway_user; /* [daemon] gateway_user: the front end's user, never a local admin */
	char *user;         /* [daemon] user: started as root, drop to this user */
	long seccomp;       /* [daemon] seccomp: the steady-state system call filter (0/1) */
	long workers;      /* [daemon] workers */
	long max_connections; /* [daemon] max_connections */
	long max_inflight;    /* [daemon] max_inflight: queued requests per connection */
	long max_requests;    /* [daemon] max_requests: requests in flight in the whole daemon */
	long max_connections_per_uid; /* [daemon] max_connections_per_uid (local admins exempt) */
	long idle_timeout;            /* [daemon] idle_timeout, seconds */
	long shutdown_timeout;        /* [daemon] shutdown_timeout, seconds */
	long auth_fail_delay_ms;      /* [daemon] auth_fail_delay_ms */
	long auth_fail_max_per_uid;   /* answers waiting out the delay, per peer uid */
	long auth_fail_max_gateway;   /* the same for the gateway's uid */
	long auth_fail_audit_window;  /* seconds: one entry per tenant, source and window */
	char *log_level;              /* [daemon] log_level */
	char *module;                 /* [token] module */
	char *token_uri;              /* [token] uri */
	char *pin_file;               /* [token] pin_file */
	char *softhsm_conf;    /* [token] softhsm_conf: SOFTHSM2_CONF for the embedded token */
	long map_size_mb;      /* [store] map_size_mb: initial LMDB map */
	long reserve_mb;       /* [store] reserve_mb: disk kept for writes that free space */
	long task_workers;     /* [tasks] workers: threads that run tasks */
	long task_queue_max;   /* [tasks] queue_max: tasks queued for those threads, at most */
	long result_ttl;       /* [tasks] result_ttl, seconds a result file stays downloadable */
	long capability_grace; /* [tasks] capability_grace, seconds a task's capability outlives it
				*/
	long approval_ttl;     /* [tasks] approval_ttl, seconds a task may wait for approval */
	long events_keep;      /* [tasks] events_keep: the newest events kept, the resume window */
	long max_input_mb;     /* [tasks] max_input_mb: largest input file, MiB */
	long copy_inputs;      /* [tasks] copy_inputs: spool every input, even without approval */
	long ingest_workers;   /* [tasks] ingest_workers: threads that read large inputs */
	long ingest_per_user;  /* [tasks] ingest_per_user: inputs of one user read at a time */
	long ingest_per_tenant; /* [tasks] ingest_per_tenant: inputs of one tenant read at a time */
	long spool_quota_tenant_mb; /* [tasks] spool_quota_tenant_mb: a tenant's spool bytes, MiB */
	long spool_quota_user_mb;   /* [tasks] spool_quota_user_mb: a user's spool bytes, MiB */
	long spool_reserve_mb;      /* [tasks] spool_reserve_mb: free space spool copies leave */
	long max_key_import;   /* not configurable: raw key file bound */
};

/* Fill defaults. */
void config_init(struct config *c);
void config_free(struct config *c);
/*
 * Read an INI file over the current values. Unknown sections or keys,
 * values of the wrong type or out of range are errors: line and key are
 * written to ERR. Returns 0 or SIGNET_EINVAL.
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Parse from a string (for tests). */
int config_load_string(struct config *c, const char *text, char *err, size_t errlen);
/*
 * Derive what the state directory implies (socket, PIN file, embedded
 * SoftHSM) for values left unset, and check the whole. 0 or SIGNET_EINVAL.
 */
int config_finish(struct config *c, char *err, size_t errlen);

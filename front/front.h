/* SPDX-License-Identifier: Apache-2.0 */
/* signet-front: the unprivileged REST gateway; what its parts share. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FRONT_MAX_LISTEN 8

/* What the command line and the [front] section of the config set. */
struct front_cfg {
	char *socket_path;              /* signetd's socket */
	char *listen[FRONT_MAX_LISTEN]; /* ADDR:PORT, [ADDR6]:PORT */
	int nlisten;
	char *tls_cert, *tls_key; /* both or neither */
	char *user;               /* drop to this user when started as root */
	char *tmpdir;             /* where uploads are spooled (unlinked files) */
	char *log_level;
	char *openapi;        /* the OpenAPI document served at /api/openapi.yaml */
	long max_connections; /* HTTP connections at once */
	long max_connections_per_ip;
	long max_pending_per_ip; /* plain HTTP: connections whose request head is awaited, per
				    address */
	long connection_timeout; /* seconds without traffic */
	long header_timeout;     /* seconds for the request line and headers, from the connection */
	long body_timeout;       /* seconds the body of a request that is no upload may take */
	long request_timeout;    /* seconds a whole request may take (uploads) */
	long max_upload_mb;      /* multipart bodies */
	long max_json_kb;        /* JSON bodies */
	long max_header_kb;      /* request line and headers */
	long max_uploads;        /* uploads in flight at once */
	long max_streams;        /* event streams at once */
	long pool_size;          /* connections to signetd at once (calls wait for one) */
	long daemon_timeout;     /* seconds to wait for signetd's answer */
	long auth_fail_delay_ms; /* held after a failed authentication, off the pool */
	char *metrics;           /* "on": GET /metrics answers (signetd's metrics op); "off": 404 */
	char *metrics_token;     /* when set, /metrics needs "Authorization: Bearer" with it */
	char *ui;                /* "on": the web UI at /ui/ and its sessions; "off": 404 */
	char *ui_dir;            /* the web UI's files */
	long max_sessions;       /* web UI sessions at once */
	long session_idle_timeout; /* seconds a session may go unused */
	long session_lifetime;     /* seconds a session lasts at most */
};

#define FRONT_METRICS_TOKEN_MIN 16 /* bytes of a metrics_token, at least */

void front_cfg_init(struct front_cfg *c);
void front_cfg_free(struct front_cfg *c);
/* Read the [front] section of PATH over C. 0, or -1 with a reason in ERR. */
int front_cfg_load(struct front_cfg *c, const char *path, char *err, size_t errlen);
/* Set one key (as in the file) from its text. 0, or -1 with a reason in ERR. */
int front_cfg_set(struct front_cfg *c, const char *key, const char *value, char *err,
		  size_t errlen);

/* Calls to signetd over a pool of connections (front/pool.c); thread-safe. */
struct pool;

struct pool *pool_new(const char *path, int max_idle, int timeout_ms);
void pool_free(struct pool *p);

/* The outcome of one call: the reply's result or error, and descriptors passed back. */
struct call {
	int err;           /* 0, a SIGNET_E* code from the reply, or SIGNET_EUNAVAILABLE */
	json_t *result;    /* on success */
	char code[32];     /* on error: the wire code */
	char message[256]; /* on error: signetd's message, or ours */
	int fds[8];
	int nfds;
};

/*
 * Send OP with AUTH (may be NULL) and ARGS (may be NULL; not stolen) and
 * FDS attached; wait for the reply. The caller frees C with call_done.
 */
void pool_call(struct pool *p, const char *op, json_t *auth, json_t *args, const int *fds, int nfds,
	       struct call *c);
void call_done(struct call *c);

/* A dedicated connection for an event stream: -errno or a connected socket's client. */
struct client;
int pool_connect(struct pool *p, struct client *out);

/* The whole gateway. */
struct front {
	struct front_cfg *cfg;
	struct pool *pool;
	atomic_long uploads; /* in flight */
	atomic_long streams; /* event streams open */
	atomic_long requests;
	int uid_dropped; /* the uid it runs as */
	int stop_fd;     /* readable once the gateway stops (event streams end) */
	struct deadlines *deadlines;
	char *openapi; /* the OpenAPI document, read at start, or NULL */
	struct ui_files *ui;       /* the web UI's files (front/ui.c), or NULL */
	struct sessions *sessions; /* its sessions (front/session.c), or NULL when the UI is off */
	size_t openapi_len;
};

/* One listen address: its HTTP server and, for plain HTTP, the guard that accepts for it. */
struct listener {
	struct front *f;
	int fd;   /* the bound socket, or -1 once handed on */
	bool tls; /* HTTPS: libmicrohttpd accepts itself; the guard cannot read the bytes */
	struct MHD_Daemon *mhd;
	struct guard *guard;
};

/*
 * Start L's HTTP server on L->fd: with TLS libmicrohttpd takes the socket;
 * without, it takes connections from L's guard (front/guard.c). 0, or -1
 * (logged).
 */
int http_start(struct listener *l, const char *tls_cert_pem, const char *tls_key_pem);

/*
 * The guard of a plain HTTP listener: it accepts on L->fd, reads each
 * request head (without taking it off the socket) within header_timeout,
 * and hands to L->mhd only a connection whose head front/headguard.c
 * passes; it answers any other 400 (or 431, 505) itself and closes it.
 * 0, or -1 (logged).
 */
int guard_start(struct listener *l);
/* Stop accepting, close the connections still waiting for their head, and end the thread. */
void guard_stop(struct listener *l);

/*
 * Deadlines of the connections libmicrohttpd serves (front/deadline.c): a
 * thread shuts down a connection whose request head or body is late.
 */
struct deadlines;
struct deadline;

struct deadlines *deadlines_new(void);
/* After every HTTP server has stopped. */
void deadlines_free(struct deadlines *ds);
/* Watch the socket FD; NULL when out of memory (it is then not watched). */
struct deadline *deadline_add(struct deadlines *ds, int fd);
/* Shut FD down at AT_MS (time_mono_ms), unless set again first; 0: never. WHAT is logged. */
void deadline_set(struct deadline *d, uint64_t at_ms, const char *what);
/* Stop watching, before the socket is closed. D may be NULL. */
void deadline_remove(struct deadline *d);

/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's request state and the helpers its handlers (front/api.c) use. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "front/front.h"

#define HTTP_MAX_SEGMENTS 8
#define HTTP_MAX_SEGMENT  128  /* bytes of one path segment */
#define HTTP_MAX_PARTS    257  /* files in one multipart body: 255 firmware, metadata, one spare */
#define HTTP_MAX_FIELDS   16   /* text fields in one multipart body */
#define HTTP_MAX_FIELD    4096 /* bytes of one text field */

struct req;
typedef enum MHD_Result (*http_handler)(struct req *q);

/* BODY_EITHER: JSON or, by its Content-Type, multipart (a signing task's input as a file). */
enum body_kind { BODY_NONE, BODY_JSON, BODY_MULTIPART, BODY_EITHER };

struct route {
	const char *method;
	const char *pattern; /* a path whose segments "*" are parameters */
	http_handler handler;
	enum body_kind body;
	const char *const *file_fields; /* multipart: the fields that are files */
	const char *arg;                /* a constant the handler reads (a task type, a chain) */
	bool public;                    /* needs no Authorization */
	size_t max_body;                /* multipart: a bound below max_upload_mb (0: none) */
};

/* One file of a multipart body, stored at OFF in the request's spool file. */
struct part {
	char field[32];
	char filename[256];
	uint64_t off, size;
	uint8_t sha256[32];
};

struct upload {
	int fd; /* unlinked spool file, or -1 */
	uint64_t total;
	struct part parts[HTTP_MAX_PARTS];
	int nparts;
	bool in_file;       /* the part being received is a file */
	char cur_field[32]; /* the part being received ("" before the first) */
	uint64_t cur_bytes; /* bytes of it received so far */
	json_t *fields;     /* text fields: name -> string */
	char *text;         /* the text field being received */
	size_t textlen;
	void *md;      /* EVP_MD_CTX of the file part being received */
	uint8_t *wbuf; /* write buffer */
	size_t wlen;
};

struct req {
	struct front *f;
	struct MHD_Connection *conn;
	struct deadline *deadline; /* the connection's (front/deadline.c), or NULL */
	bool conn_close;           /* answer with "Connection: close" */
	const struct route *rt;
	enum body_kind body; /* the route's, BODY_EITHER resolved by the Content-Type */
	char location[320];  /* a 201's Location header, or "" */
	char set_cookie[160]; /* a Set-Cookie header (front/session.c), or "" */
	uint64_t session_gen; /* the web UI session the request came with, or 0 */
	char method[16];
	char path[256];
	char params[2][HTTP_MAX_SEGMENT + 1];
	int nparams;
	json_t *auth; /* {"token", "tenant"} from the headers, or NULL */
	/* body */
	char *buf;
	size_t len, cap, max;
	char *allow;         /* a 405's Allow header */
	size_t dropped;      /* body bytes read after a refusal */
	bool overflow;       /* the body went past its bound: not read further */
	uint64_t body_bytes; /* multipart body bytes received */
	struct MHD_PostProcessor *pp;
	struct upload up;
	bool counted_upload;
	/* an error found while the body streamed; answered when it ends */
	int fail_status;
	char fail_code[32];
	char fail_msg[200];
	bool responded;
	int status; /* what was answered, for the log */
	uint64_t started_ms;
};

/* Answer with a JSON body (stolen). */
enum MHD_Result http_json(struct req *q, unsigned status, json_t *body);
/* Answer with LEN bytes of TEXT (copied) as CONTENT_TYPE. */
enum MHD_Result http_text(struct req *q, unsigned status, const char *content_type,
			  const char *text, size_t len);
/* GET /metrics (front/metrics.c): signetd's metrics op, when [front] metrics is on. */
enum MHD_Result metrics_handler(struct req *q);
/* Answer {"code", "message"} with STATUS. */
enum MHD_Result http_error(struct req *q, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answer a failed call with the status its code maps to. */
enum MHD_Result http_call_error(struct req *q, const struct call *c);
/* Answer a call: its result with OK_STATUS, or its error. */
enum MHD_Result http_call_reply(struct req *q, struct call *c, unsigned ok_status);
/* The HTTP status of a signetd error. */
unsigned http_status_of(int err);
/* A query argument, or NULL. */
const char *http_query(struct req *q, const char *name);
/* Call OP with the request's auth. */
void http_call(struct req *q, const char *op, json_t *args, const int *fds, int nfds,
	       struct call *c);
/* The parsed JSON body (an object), or NULL after answering 400. */
json_t *http_body_object(struct req *q);
/*
 * Answer with the file FD (owned) of SIZE bytes as an attachment named NAME:
 * 200, or 206 with the one byte range a Range header asks for (416 when it
 * cannot be satisfied).
 */
enum MHD_Result http_file(struct req *q, int fd, uint64_t size, const char *name,
			  const char *sha256_hex);
/* Answer with an event stream from signetd starting after SINCE (-1: from now). */
enum MHD_Result http_events(struct req *q, long long since);
/* Answer with TEXT (static, LEN bytes) of type CTYPE. */
enum MHD_Result http_static(struct req *q, const char *text, size_t len, const char *ctype);
/* A new unlinked file in the spool directory, or -1. */
int http_tmpfile(struct front *f);

/*
 * The multipart field handling of an upload, which front/http.c feeds from
 * libmicrohttpd's post processor (and tests/fuzz/fuzz_multipart.c directly):
 * begin (0, or -1 when out of memory), one call of the iterator per piece of
 * a part (a part starts at offset 0), end once the body has ended. Files go
 * to one spool file (q->up.fd) with their SHA-256, text fields to
 * q->up.fields; a refusal is kept in q->fail_*.
 */
int http_upload_begin(struct req *q);
enum MHD_Result http_upload_iterate(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *filename, const char *content_type,
				    const char *transfer_encoding, const char *data, uint64_t off,
				    size_t size);
void http_upload_end(struct req *q);
/* Free a request and what it holds (its spool file, its upload slot). */
void http_req_free(struct req *q);

/* S as a decimal number from MIN to MAX, digits only (no sign, no space): true and *OUT. */
bool api_number(const char *s, long long min, long long max, long long *out);
/* The methods PATH takes, comma-separated (malloc'd), or NULL. */
char *api_allowed(const char *path);
/* The route table and the lookup (front/api.c). */
const struct route *api_route(const char *method, const char *path,
			      char params[2][HTTP_MAX_SEGMENT + 1], int *nparams,
			      bool *method_mismatch);

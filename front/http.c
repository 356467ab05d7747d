/* SPDX-License-Identifier: Apache-2.0 */
/* libmicrohttpd glue: requests, bounded bodies, multipart streamed to unlinked files, replies,
 * event streams. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "front/http.h"
#include "front/session.h"
#include "lib/client.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/util.h"

#define PP_BUFFER        16384  /* MHD post processor buffer: bounds one part's headers */
#define WBUF_SIZE        262144 /* spool writes are batched to this size */
#define SSE_KEEPALIVE_MS 15000  /* a comment line this often keeps proxies and us honest */
#define SSE_BLOCK        32768
#define MHD_SLACK        16384 /* plain HTTP: connection memory beyond twice max_header_kb */

/* ---- replies ---- */

unsigned
http_status_of(int err)
{
	switch (err) {
	case SIGNET_EINVAL:
		return MHD_HTTP_BAD_REQUEST;
	case SIGNET_EUNAUTH:
		return MHD_HTTP_UNAUTHORIZED;
	case SIGNET_EDENIED:
	case SIGNET_EOTP_INVALID:
	case SIGNET_EOTP_REPLAYED:
	case SIGNET_ESELF_APPROVAL:
		return MHD_HTTP_FORBIDDEN;
	case SIGNET_ENOTFOUND:
		return MHD_HTTP_NOT_FOUND;
	case SIGNET_ECONFLICT:
		return MHD_HTTP_CONFLICT;
	case SIGNET_ELOCKED_OUT:
		return MHD_HTTP_TOO_MANY_REQUESTS;
	case SIGNET_EEXPIRED:
		return MHD_HTTP_GONE;
	case SIGNET_ETOO_LARGE:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case SIGNET_ETOKEN:
	case SIGNET_EUNAVAILABLE:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	case SIGNET_ENOSPACE:
	case SIGNET_EQUOTA:
		return MHD_HTTP_INSUFFICIENT_STORAGE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

static void
common_headers(struct req *q, struct MHD_Response *rsp)
{
	MHD_add_response_header(rsp, "Cache-Control", "no-store");
	MHD_add_response_header(rsp, "X-Content-Type-Options", "nosniff");
	if (q->conn_close) {
		/* MHD closes the connection after this answer: nothing behind it is parsed. */
		MHD_add_response_header(rsp, "Connection", "close");
	}
}

enum MHD_Result
http_json(struct req *q, unsigned status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	struct MHD_Response *rsp;
	enum MHD_Result ok;
	size_t len;

	json_decref(body);
	if (text == NULL) {
		text = strdup("{\"code\":\"internal\",\"message\":\"internal error\"}");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (text == NULL) {
			return MHD_NO;
		}
	}
	len = strlen(text);
	/* Replies may hold a task's data but never a token: no wipe needed. */
	rsp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (rsp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(rsp, "Content-Type", "application/json");
	common_headers(q, rsp);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && q->allow != NULL) {
		MHD_add_response_header(rsp, "Allow", q->allow);
	}
	if (status == MHD_HTTP_CREATED && q->location[0] != '\0') {
		MHD_add_response_header(rsp, "Location", q->location);
	}
	if (q->set_cookie[0] != '\0') {
		MHD_add_response_header(rsp, "Set-Cookie", q->set_cookie);
	}
	if (status == MHD_HTTP_UNAUTHORIZED) {
		MHD_add_response_header(rsp, "WWW-Authenticate", "Bearer");
	}
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE || status == MHD_HTTP_TOO_MANY_REQUESTS) {
		MHD_add_response_header(rsp, "Retry-After", "5");
	}
	ok = MHD_queue_response(q->conn, status, rsp);
	MHD_destroy_response(rsp);
	q->responded = ok == MHD_YES;
	q->status = (int)status;
	return ok;
}

enum MHD_Result
http_text(struct req *q, unsigned status, const char *content_type, const char *text, size_t len)
{
	struct MHD_Response *rsp;
	enum MHD_Result ok;

	rsp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (rsp == NULL) {
		return MHD_NO;
	}
	MHD_add_response_header(rsp, "Content-Type", content_type);
	common_headers(q, rsp);
	ok = MHD_queue_response(q->conn, status, rsp);
	MHD_destroy_response(rsp);
	q->responded = ok == MHD_YES;
	q->status = (int)status;
	return ok;
}

enum MHD_Result
http_error(struct req *q, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return http_json(q, status, json_pack("{s:s, s:s}", "code", code, "message", msg));
}

enum MHD_Result
http_call_error(struct req *q, const struct call *c)
{
	return http_error(q, http_status_of(c->err), c->code, "%s", c->message);
}

enum MHD_Result
http_call_reply(struct req *q, struct call *c, unsigned ok_status)
{
	enum MHD_Result r;

	if (c->err != 0) {
		r = http_call_error(q, c);
	} else {
		r = http_json(q, ok_status, c->result);
		c->result = NULL;
	}
	call_done(c);
	return r;
}

const char *
http_query(struct req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

void
http_call(struct req *q, const char *op, json_t *args, const int *fds, int nfds, struct call *c)
{
	pool_call(q->f->pool, op, q->auth, args, fds, nfds, c);
	if (c->err == SIGNET_EUNAUTH) {
		session_end_of(q); /* a web UI session whose token was revoked or replaced */
	}
	/*
	 * signetd answers the gateway's failed authentications (and refused TOTP
	 * codes) at once; the delay that slows guessing is held here, on this
	 * client's own thread, after the pooled connection went back.
	 */
	if ((c->err == SIGNET_EUNAUTH || c->err == SIGNET_EOTP_INVALID ||
	     c->err == SIGNET_EOTP_REPLAYED || c->err == SIGNET_ELOCKED_OUT) &&
	    q->f->cfg->auth_fail_delay_ms > 0) {
		struct timespec ts = {q->f->cfg->auth_fail_delay_ms / 1000,
				      (q->f->cfg->auth_fail_delay_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		}
	}
}

json_t *
http_body_object(struct req *q)
{
	json_error_t e;
	json_t *v;

	if (q->len == 0) {
		http_error(q, MHD_HTTP_BAD_REQUEST, "invalid", "a JSON object is required");
		return NULL;
	}
	v = json_loadb(q->buf, q->len, JSON_REJECT_DUPLICATES, &e);
	if (v == NULL || !json_is_object(v) || json_depth(v) > 16) {
		json_decref(v);
		http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
			   "the body is not a valid JSON object");
		return NULL;
	}
	return v;
}

/* A filename safe inside a quoted Content-Disposition value. */
static void
safe_filename(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (const char *p = in; *p != '\0' && n + 1 < outlen; p++) {
		unsigned char ch = (unsigned char)*p;
		out[n++] =
		    (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '/' && ch != ';')
			? (char)ch
			: '_';
	}
	out[n] = '\0';
	if (n == 0) {
		snprintf(out, outlen, "result");
	}
}

enum range_kind { RANGE_NONE, RANGE_ONE, RANGE_UNSATISFIABLE };

/*
 * The one byte range of a Range header over SIZE bytes (RFC 9110 14.2):
 * "bytes=A-B", "bytes=A-" or "bytes=-N". Several ranges, another unit or a
 * malformed value are ignored (the whole file is sent), as the RFC allows.
 */
static enum range_kind
range_parse(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	unsigned long long a = 0, b = 0;
	bool has_a, has_b;
	const char *p;
	char *end;

	if (h == NULL || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL) {
		return RANGE_NONE;
	}
	p = h + 6;
	while (*p == ' ') {
		p++;
	}
	has_a = *p >= '0' && *p <= '9';
	if (has_a) {
		errno = 0;
		a = strtoull(p, &end, 10);
		if (errno != 0) {
			return RANGE_NONE;
		}
		p = end;
	}
	if (*p++ != '-') {
		return RANGE_NONE;
	}
	has_b = *p >= '0' && *p <= '9';
	if (has_b) {
		errno = 0;
		b = strtoull(p, &end, 10);
		if (errno != 0) {
			return RANGE_NONE;
		}
		p = end;
	}
	while (*p == ' ') {
		p++;
	}
	if (*p != '\0' || (!has_a && !has_b) || (has_a && has_b && b < a)) {
		return RANGE_NONE;
	}
	if (!has_a) {
		/* The last B bytes. */
		if (b == 0 || size == 0) {
			return RANGE_UNSATISFIABLE;
		}
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_ONE;
	}
	if (a >= size) {
		return RANGE_UNSATISFIABLE;
	}
	*first = a;
	*last = has_b && b < size ? b : size - 1;
	return RANGE_ONE;
}

enum MHD_Result
http_file(struct req *q, int fd, uint64_t size, const char *name, const char *sha256_hex)
{
	const char *if_range = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "If-Range");
	struct MHD_Response *rsp;
	char fname[300], disp[360], etag[70] = "", crange[80];
	uint64_t first = 0, last = size > 0 ? size - 1 : 0;
	enum range_kind rk;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ok;

	if (sha256_hex != NULL && strlen(sha256_hex) == 64) {
		snprintf(etag, sizeof(etag), "\"%s\"", sha256_hex);
	}
	rk = range_parse(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Range"), size,
			 &first, &last);
	/* If-Range names the file the client has part of: another one is sent whole. */
	if (rk != RANGE_NONE && if_range != NULL &&
	    (etag[0] == '\0' || strcmp(if_range, etag) != 0)) {
		rk = RANGE_NONE;
		first = 0;
		last = size > 0 ? size - 1 : 0;
	}
	if (rk == RANGE_UNSATISFIABLE) {
		close(fd);
		rsp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		if (rsp == NULL) {
			return MHD_NO;
		}
		snprintf(crange, sizeof(crange), "bytes */%llu", (unsigned long long)size);
		MHD_add_response_header(rsp, "Content-Range", crange);
		common_headers(q, rsp);
		ok = MHD_queue_response(q->conn, MHD_HTTP_RANGE_NOT_SATISFIABLE, rsp);
		MHD_destroy_response(rsp);
		q->responded = true;
		q->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
		return ok;
	}
	/* MHD sends it with sendfile() where it can (plain HTTP), and closes FD. */
	if (rk == RANGE_ONE) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		rsp = MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first);
	} else {
		rsp = MHD_create_response_from_fd64(size, fd);
	}
	if (rsp == NULL) {
		close(fd);
		return http_error(q, 500, "internal", "cannot send the file");
	}
	safe_filename(name, fname, sizeof(fname));
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", fname);
	MHD_add_response_header(rsp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(rsp, "Content-Disposition", disp);
	MHD_add_response_header(rsp, "Accept-Ranges", "bytes");
	if (rk == RANGE_ONE) {
		snprintf(crange, sizeof(crange), "bytes %llu-%llu/%llu", (unsigned long long)first,
			 (unsigned long long)last, (unsigned long long)size);
		MHD_add_response_header(rsp, "Content-Range", crange);
	}
	if (etag[0] != '\0') {
		uint8_t d[32];
		char b64[64], hdr[80];
		MHD_add_response_header(rsp, "ETag", etag);
		/* The digest of the whole file, on a part too: the client checks what it joined. */
		if (hex_decode(sha256_hex, d, sizeof(d))) {
			base64_encode(d, sizeof(d), b64, false);
			snprintf(hdr, sizeof(hdr), "sha-256=%s", b64);
			MHD_add_response_header(rsp, "Digest", hdr);
			MHD_add_response_header(rsp, "X-Checksum-SHA256", sha256_hex);
		}
	}
	common_headers(q, rsp);
	ok = MHD_queue_response(q->conn, status, rsp);
	MHD_destroy_response(rsp);
	q->responded = true;
	q->status = (int)status;
	return ok;
}

enum MHD_Result
http_static(struct req *q, const char *text, size_t len, const char *ctype)
{
	struct MHD_Response *rsp;
	enum MHD_Result ok;

	rsp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);
	if (rsp == NULL) {
		return MHD_NO;
	}
	MHD_add_response_header(rsp, "Content-Type", ctype);
	common_headers(q, rsp);
	ok = MHD_queue_response(q->conn, MHD_HTTP_OK, rsp);
	MHD_destroy_response(rsp);
	q->responded = ok == MHD_YES;
	q->status = MHD_HTTP_OK;
	return ok;
}

/* ---- event streams ---- */

struct sse {
	struct front *f;
	struct client cl;
	int client_fd; /* the HTTP client's socket: watched for a hang-up only */
	char *pending;
	size_t plen, poff;
	bool ended;
	uint64_t session_gen; /* a web UI session's stream ends with the session */
};

static void
sse_free(void *cls)
{
	struct sse *s = cls;

	client_close(&s->cl);
	free(s->pending);
	atomic_fetch_sub(&s->f->streams, 1);
	free(s);
}

/* Format one packet from signetd as an SSE message into s->pending. */
static void
sse_format(struct sse *s, json_t *pkt)
{
	json_t *ev = json_object_get(pkt, "event");
	char *data;
	int n;

	free(s->pending);
	s->pending = NULL;
	s->plen = s->poff = 0;
	if (ev != NULL) {
		json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
		const char *type = json_string_value(json_object_get(ev, "type"));
		if ((data = json_dumps(ev, JSON_COMPACT)) == NULL) {
			return;
		}
		/* Event types are ours ("task.status"): no newline can reach the stream. */
		n = asprintf(&s->pending, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)seq,
			     type != NULL && strpbrk(type, "\r\n") == NULL ? type : "message",
			     data);
		free(data);
	} else if (json_is_false(json_object_get(pkt, "ok"))) {
		/* The watch ended (token revoked, daemon stopping): say why, then end. */
		json_t *e = json_object_get(pkt, "error");
		if ((data = json_dumps(e != NULL ? e : json_null(), JSON_COMPACT)) == NULL) {
			s->ended = true;
			return;
		}
		n = asprintf(&s->pending, "event: error\ndata: %s\n\n", data);
		free(data);
		s->ended = true;
	} else {
		return;
	}
	if (n > 0) {
		s->plen = (size_t)n;
	} else {
		s->pending = NULL;
		s->ended = true;
	}
}

/* Runs on the connection's own thread (thread per connection): it may block. */
static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	json_t *pkt;
	int r;

	(void)pos;
	while (s->poff == s->plen) {
		struct pollfd p[3] = {{.fd = s->cl.fd, .events = POLLIN},
				      {.fd = s->client_fd, .events = POLLRDHUP},
				      {.fd = s->f->stop_fd, .events = POLLIN}};
		int n;

		if (s->ended ||
		    (s->session_gen != 0 && !session_alive(s->f->sessions, s->session_gen))) {
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		/*
		 * Wait for signetd, but notice at once a client that went away or
		 * a gateway that stops, so that neither holds the stream's slot.
		 */
		n = poll(p, 3, SSE_KEEPALIVE_MS);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 || (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (p[2].revents & POLLIN) {
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		r = n == 0 ? -ETIMEDOUT : client_recv(&s->cl, &pkt, 1000);
		if (r == -ETIMEDOUT) {
			static const char ka[] = ": keepalive\n\n";
			if (max < sizeof(ka) - 1) {
				return 0;
			}
			memcpy(buf, ka, sizeof(ka) - 1);
			return (ssize_t)(sizeof(ka) - 1);
		}
		if (r != 0) {
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		sse_format(s, pkt);
		json_decref(pkt);
	}
	{
		size_t n = s->plen - s->poff < max ? s->plen - s->poff : max;
		memcpy(buf, s->pending + s->poff, n);
		s->poff += n;
		return (ssize_t)n;
	}
}

enum MHD_Result
http_events(struct req *q, long long since)
{
	struct sse *s;
	json_t *args, *reply = NULL;
	int rfds[MSG_MAX_FDS], nrfds = 0, r;
	struct MHD_Response *rsp;
	enum MHD_Result ok;

	if (atomic_fetch_add(&q->f->streams, 1) >= q->f->cfg->max_streams) {
		atomic_fetch_sub(&q->f->streams, 1);
		return http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "too many event streams are open");
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		atomic_fetch_sub(&q->f->streams, 1);
		return MHD_NO;
	}
	s->f = q->f;
	s->cl.fd = -1;
	{
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		s->client_fd = ci != NULL ? ci->connect_fd : -1;
	}
	if (pool_connect(q->f->pool, &s->cl) != 0) {
		sse_free(s);
		return http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "signetd is not available");
	}
	args = since >= 0 ? json_pack("{s:I}", "since", (json_int_t)since) : json_object();
	r = client_call(&s->cl, "events.watch", q->auth, args, NULL, 0, &reply, rfds, &nrfds);
	json_decref(args);
	msg_close_fds(rfds, &nrfds);
	if (r != 0 || !json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		int err = r != 0 ? SIGNET_EUNAVAILABLE : signet_err_from_code(code ? code : "");
		json_decref(reply);
		sse_free(s);
		return http_error(q, http_status_of(err), signet_err_code(err), "%s",
				  r != 0 ? "signetd is not available" : (msg ? msg : "error"));
	}
	json_decref(reply);
	s->session_gen = q->session_gen;
	/* signetd holds the watch's token from here on: the gateway's copy is not kept open. */
	json_decref(q->auth);
	q->auth = NULL;
	rsp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, s, sse_free);
	if (rsp == NULL) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(rsp, "Content-Type", "text/event-stream");
	common_headers(q, rsp);
	ok = MHD_queue_response(q->conn, MHD_HTTP_OK, rsp);
	MHD_destroy_response(rsp);
	q->responded = true;
	q->status = MHD_HTTP_OK;
	return ok;
}

/* ---- uploads ---- */

int
http_tmpfile(struct front *f)
{
	int fd = open(f->cfg->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* No O_TMPFILE on that filesystem: make and unlink at once. */
		char path[4200];
		snprintf(path, sizeof(path), "%s/signet-front.XXXXXX", f->cfg->tmpdir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0) {
			unlink(path);
		}
	}
	if (fd < 0) {
		log_err("cannot make a spool file in %s: %s", f->cfg->tmpdir, strerror(errno));
	}
	return fd;
}

static void req_fail(struct req *q, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
req_fail(struct req *q, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (q->fail_status != 0) {
		return;
	}
	q->fail_status = (int)status;
	snprintf(q->fail_code, sizeof(q->fail_code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(q->fail_msg, sizeof(q->fail_msg), fmt, ap);
	va_end(ap);
}

static int
up_flush(struct req *q)
{
	struct upload *u = &q->up;

	if (u->wlen > 0 && write_all(u->fd, u->wbuf, u->wlen) != 0) {
		bool full = signet_err_from_errno(errno) == SIGNET_ENOSPACE;
		log_err("cannot write the upload spool: %s", strerror(errno));
		req_fail(q, MHD_HTTP_INSUFFICIENT_STORAGE, full ? "no_space" : "unavailable",
			 full ? "no space left for the upload on the gateway"
			      : "the gateway cannot store the upload");
		return -1;
	}
	u->wlen = 0;
	return 0;
}

static bool utf8_ok(const char *s);

static void
up_end_part(struct req *q)
{
	struct upload *u = &q->up;

	if (u->in_file) {
		struct part *p = &u->parts[u->nparts - 1];
		EVP_DigestFinal_ex(u->md, p->sha256, NULL);
		u->in_file = false;
	} else if (u->text != NULL) {
		if (json_object_get(u->fields, u->cur_field) != NULL) {
			req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "field '%s' is given twice",
				 u->cur_field);
		} else if (json_object_size(u->fields) >= HTTP_MAX_FIELDS) {
			req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "too many fields");
		} else {
			json_t *v = json_stringn(u->text, u->textlen);
			if (!utf8_ok(u->cur_field)) {
				json_decref(v);
				req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid",
					 "a multipart field name is not UTF-8");
			} else if (v == NULL) {
				req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid",
					 "field '%s' is not UTF-8 text", u->cur_field);
			} else {
				json_object_set_new(u->fields, u->cur_field, v);
			}
		}
		free(u->text);
		u->text = NULL;
		u->textlen = 0;
	}
	u->cur_field[0] = '\0';
}

/* Is S valid UTF-8 (jansson takes nothing else)? */
static bool
utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

static bool
is_file_field(const struct route *rt, const char *key)
{
	for (const char *const *f = rt->file_fields; f != NULL && *f != NULL; f++) {
		if (strcmp(*f, key) == 0) {
			return true;
		}
	}
	return false;
}

int
http_upload_begin(struct req *q)
{
	q->up.fields = json_object();
	q->up.md = EVP_MD_CTX_new();
	q->up.wbuf = malloc(WBUF_SIZE);
	return q->up.fields != NULL && q->up.md != NULL && q->up.wbuf != NULL ? 0 : -1;
}

void
http_upload_end(struct req *q)
{
	if (q->fail_status == 0) {
		up_end_part(q);
	} else if (q->up.in_file) {
		q->up.in_file = false;
	}
	if (q->fail_status == 0 && q->up.fd >= 0) {
		up_flush(q);
	}
}

enum MHD_Result
http_upload_iterate(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
		    const char *content_type, const char *transfer_encoding, const char *data,
		    uint64_t off, size_t size)
{
	struct req *q = cls;
	struct upload *u = &q->up;

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (q->fail_status != 0) {
		return MHD_NO;
	}
	if (key == NULL || strlen(key) >= sizeof(u->cur_field)) {
		req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid",
			 "a multipart field name is missing or too long");
		return MHD_NO;
	}
	/*
	 * A part starts at offset 0. MHD may call once with no data before a
	 * part's first bytes, and again at offset 0 with them: that is the same
	 * part. So offset 0 starts a part when the field changes or the part
	 * being received already has bytes (an empty part followed by another
	 * of the same field reads as one; an empty file is refused anyway).
	 */
	if (off == 0 &&
	    (u->cur_field[0] == '\0' || strcmp(key, u->cur_field) != 0 || u->cur_bytes > 0)) {
		up_end_part(q);
		if (q->fail_status != 0) {
			return MHD_NO;
		}
		snprintf(u->cur_field, sizeof(u->cur_field), "%s", key);
		u->cur_bytes = 0;
		if (is_file_field(q->rt, key)) {
			struct part *p;
			if (u->nparts == HTTP_MAX_PARTS) {
				req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "too many files");
				return MHD_NO;
			}
			p = &u->parts[u->nparts++];
			memset(p, 0, sizeof(*p));
			snprintf(p->field, sizeof(p->field), "%s", key);
			snprintf(p->filename, sizeof(p->filename), "%s",
				 filename != NULL ? filename : "");
			if (!utf8_ok(p->filename)) {
				req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid",
					 "the name of file %d is not UTF-8", u->nparts);
				return MHD_NO;
			}
			p->off = u->total;
			if (u->fd < 0 && (u->fd = http_tmpfile(q->f)) < 0) {
				req_fail(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
					 "the gateway cannot store the upload");
				return MHD_NO;
			}
			EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
			u->in_file = true;
		} else {
			u->text = malloc(HTTP_MAX_FIELD);
			if (u->text == NULL) {
				req_fail(q, 500, "internal", "out of memory");
				return MHD_NO;
			}
		}
	} else if (strcmp(key, u->cur_field) != 0) {
		req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "malformed multipart body");
		return MHD_NO;
	}
	if (size == 0) {
		return MHD_YES;
	}
	u->cur_bytes += size;
	if (u->in_file) {
		struct part *p = &u->parts[u->nparts - 1];
		EVP_DigestUpdate(u->md, data, size);
		p->size += size;
		u->total += size;
		while (size > 0) {
			size_t n = WBUF_SIZE - u->wlen < size ? WBUF_SIZE - u->wlen : size;
			memcpy(u->wbuf + u->wlen, data, n);
			u->wlen += n;
			data += n;
			size -= n;
			if (u->wlen == WBUF_SIZE && up_flush(q) != 0) {
				return MHD_NO;
			}
		}
		return MHD_YES;
	}
	if (u->textlen + size > HTTP_MAX_FIELD - 1) {
		req_fail(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			 "field '%s' is longer than %d bytes", key, HTTP_MAX_FIELD - 1);
		return MHD_NO;
	}
	memcpy(u->text + u->textlen, data, size);
	u->textlen += size;
	return MHD_YES;
}

/* ---- the request cycle ---- */

void
http_req_free(struct req *q)
{
	struct upload *u = &q->up;

	if (q->pp != NULL) {
		MHD_destroy_post_processor(q->pp);
	}
	if (u->fd >= 0) {
		close(u->fd);
	}
	EVP_MD_CTX_free(u->md);
	free(u->wbuf);
	free(u->text);
	json_decref(u->fields);
	free(q->buf);
	free(q->allow);
	json_decref(q->auth); /* the token was wiped by the allocator (json_use_wiping_allocator) */
	if (q->counted_upload) {
		atomic_fetch_sub(&q->f->uploads, 1);
	}
	free(q);
}

/* The connection's deadline (its socket context, set by on_connection), or NULL. */
static struct deadline *
conn_deadline(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode code)
{
	struct listener *l = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct deadline *d =
		    ci != NULL ? deadline_add(l->f->deadlines, ci->connect_fd) : NULL;
		/* Counted from here on HTTPS, the TLS handshake included; on plain HTTP the guard
		 * has already waited for the head. */
		deadline_set(d, time_mono_ms() + (uint64_t)l->f->cfg->header_timeout * 1000,
			     "the request line and headers");
		*socket_context = d;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* Before MHD closes the socket. */
		deadline_remove(*socket_context);
		*socket_context = NULL;
	}
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct listener *l = cls;
	struct req *q = *con_cls;

	/* A kept-alive connection (HTTPS): the next request's head has header_timeout, idle
	 * time included. */
	deadline_set(conn_deadline(conn),
		     time_mono_ms() + (uint64_t)l->f->cfg->header_timeout * 1000,
		     "the next request line and headers");
	if (q == NULL) {
		return;
	}
	log_info("%s %s %d%s %llu ms", q->method, q->path, q->status,
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)",
		 (unsigned long long)(time_mono_ms() - q->started_ms));
	http_req_free(q);
	*con_cls = NULL;
}

/* Headers: Authorization and X-SE-TENANT become the call's auth. */
static int
req_auth(struct req *q)
{
	const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
	const char *tenant = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "X-SE-TENANT");
	const char *tok;

	if (q->rt->public) {
		return 0; /* nothing of the caller is forwarded */
	}
	if (h == NULL) {
		/* The web UI's session cookie stands for the token (front/session.c). */
		switch (session_req_auth(q)) {
		case SESSION_OK:
			return 0;
		case SESSION_GONE:
			return -3;
		case SESSION_NO_CSRF:
			return -4;
		default:
			return -1;
		}
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		return -1;
	}
	tok = h + 7;
	while (*tok == ' ') {
		tok++;
	}
	if (*tok == '\0' || strlen(tok) > 256) {
		return -1;
	}
	q->auth = json_pack("{s:s}", "token", tok);
	if (q->auth == NULL) {
		return -1;
	}
	if (tenant != NULL) {
		if (strlen(tenant) > 64 || !name_is_valid(tenant)) {
			return -2;
		}
		json_object_set_new(q->auth, "tenant", json_string(tenant));
	}
	return 0;
}

static bool
content_type_is(struct req *q, const char *want)
{
	const char *ct = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen(want);

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result
query_utf8(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	bool *bad = cls;

	(void)kind;
	*bad |= (key != NULL && !utf8_ok(key)) || (value != NULL && !utf8_ok(value));
	return MHD_YES;
}

/* What the headers say about the body's framing, as libmicrohttpd parsed them. */
struct framing {
	int content_length, transfer_encoding;
	bool te_not_chunked, name_space, name_not_token;
};

static enum MHD_Result
framing_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *fr = cls;

	(void)kind;
	if (key == NULL) {
		return MHD_YES;
	}
	fr->name_space |= strpbrk(key, " \t") != NULL;
	fr->name_not_token |=
	    key[0] == '\0' || strspn(key, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(key);
	if (strcasecmp(key, "Content-Length") == 0) {
		fr->content_length++;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		fr->transfer_encoding++;
		fr->te_not_chunked |= value == NULL || strcasecmp(value, "chunked") != 0;
	}
	return MHD_YES;
}

/*
 * On plain HTTP the guard refused all of this before libmicrohttpd saw
 * the head. On HTTPS only what libmicrohttpd parsed can be checked: a
 * header name with whitespace (it ignores "Content-Length : 5" as a
 * length), two lengths, a length and a chunked body (the request smuggling
 * shapes). NULL when the framing is sound.
 */
static const char *
framing_refusal(struct req *q)
{
	struct framing fr = {0};

	MHD_get_connection_values(q->conn, MHD_HEADER_KIND, framing_header, &fr);
	if (fr.name_space) {
		return "whitespace in a header name or before its colon";
	}
	if (fr.name_not_token) {
		return "a header name that is not a token";
	}
	if (fr.content_length > 1) {
		return "more than one Content-Length";
	}
	if (fr.transfer_encoding > 1) {
		return "more than one Transfer-Encoding";
	}
	if (fr.content_length > 0 && fr.transfer_encoding > 0) {
		return "both Content-Length and Transfer-Encoding";
	}
	if (fr.te_not_chunked) {
		return "a Transfer-Encoding other than chunked";
	}
	return NULL;
}

/* The first call: route, authenticate the headers, set up the body. */
static enum MHD_Result
req_begin(struct req *q, const char *method, const char *url)
{
	bool mismatch = false;
	const char *cl;
	int a;

	snprintf(q->method, sizeof(q->method), "%s", method);
	snprintf(q->path, sizeof(q->path), "%s", url);
	{
		const char *why = framing_refusal(q);
		if (why != NULL) {
			/* The framing is in doubt: nothing after this request is read. */
			q->conn_close = true;
			return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid", "%s", why);
		}
	}
	q->rt = api_route(method, url, q->params, &q->nparams, &mismatch);
	if (q->rt == NULL) {
		if (mismatch) {
			q->allow = api_allowed(url);
			return http_error(q, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid",
					  "method %s is not allowed here", q->method);
		}
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
	}
	/* Path parameters and query arguments reach signetd as JSON strings: UTF-8 only. */
	{
		bool bad_text = false;
		for (int i = 0; i < q->nparams; i++) {
			bad_text |= !utf8_ok(q->params[i]);
		}
		MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, query_utf8, &bad_text);
		if (bad_text) {
			return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
					  "the path or a query argument is not UTF-8 text");
		}
	}
	if ((a = req_auth(q)) != 0) {
		switch (a) {
		case -2:
			return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
					  "X-SE-TENANT is not a tenant name");
		case -3:
			return http_error(q, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
					  "the session has ended (signed out, or unused too long): "
					  "sign in again");
		case -4:
			return http_error(q, MHD_HTTP_FORBIDDEN, "denied",
					  "a request with the session cookie that changes anything "
					  "needs the session's " SESSION_CSRF_HEADER " header");
		default:
			return http_error(q, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
					  "a bearer token is required");
		}
	}
	cl = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Length");
	q->body = q->rt->body;
	if (q->body == BODY_EITHER) {
		q->body = content_type_is(q, "multipart/form-data") ? BODY_MULTIPART : BODY_JSON;
	}
	switch (q->body) {
	case BODY_NONE:
		q->max = 0;
		break;
	case BODY_JSON:
		q->max = (size_t)q->f->cfg->max_json_kb * 1024;
		if (cl != NULL && strtoull(cl, NULL, 10) > q->max) {
			return http_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					  "the body is larger than %ld KiB",
					  q->f->cfg->max_json_kb);
		}
		if (((cl != NULL && strtoull(cl, NULL, 10) > 0) ||
		     MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Transfer-Encoding") !=
			 NULL) &&
		    !content_type_is(q, "application/json")) {
			return http_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "invalid",
					  "the body must be application/json");
		}
		break;
	case BODY_EITHER: /* resolved above */
	case BODY_MULTIPART:
		q->max = (size_t)q->f->cfg->max_upload_mb * 1024 * 1024;
		if (q->rt->max_body > 0 && q->rt->max_body < q->max) {
			q->max = q->rt->max_body;
		}
		if (cl != NULL && strtoull(cl, NULL, 10) > q->max) {
			return http_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					  "the body is larger than %zu KiB", q->max / 1024);
		}
		if (!content_type_is(q, "multipart/form-data")) {
			return http_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "invalid",
					  "the body must be multipart/form-data");
		}
		/*
		 * Refuse a bad token before a byte of a large body is read, and
		 * before an upload slot is taken: a caller without a valid token
		 * (whose refusal signetd delays) holds none.
		 */
		{
			struct call c;
			http_call(q, "whoami", NULL, NULL, 0, &c);
			if (c.err != 0) {
				enum MHD_Result r = http_call_error(q, &c);
				call_done(&c);
				return r;
			}
			call_done(&c);
		}
		if (atomic_fetch_add(&q->f->uploads, 1) >= q->f->cfg->max_uploads) {
			atomic_fetch_sub(&q->f->uploads, 1);
			return http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
					  "too many uploads are in progress");
		}
		q->counted_upload = true;
		q->pp = MHD_create_post_processor(q->conn, PP_BUFFER, http_upload_iterate, q);
		if (q->pp == NULL) {
			return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
					  "malformed multipart/form-data (no boundary?)");
		}
		if (http_upload_begin(q) != 0) {
			return http_error(q, 500, "internal", "out of memory");
		}
		break;
	}
	return MHD_YES;
}

static bool
req_is_upload(const struct req *q)
{
	return q->rt != NULL && q->body == BODY_MULTIPART;
}

/* When the whole request must have arrived: uploads have request_timeout, the rest body_timeout. */
static uint64_t
req_deadline_ms(const struct req *q)
{
	const struct front_cfg *c = q->f->cfg;

	return q->started_ms +
	       (uint64_t)(req_is_upload(q) ? c->request_timeout : c->body_timeout) * 1000;
}

static enum MHD_Result
req_body(struct req *q, const char *data, size_t size)
{
	if (q->fail_status != 0) {
		/* Dropped, and answered when the body ends; bounded like any body. */
		q->dropped += size;
		if (q->dropped > (q->max > 0 ? q->max : (size_t)q->f->cfg->max_json_kb * 1024)) {
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (time_mono_ms() > req_deadline_ms(q)) {
		log_warning("%s %s: %s reached; connection closed", q->method, q->path,
			    req_is_upload(q) ? "request_timeout" : "body_timeout");
		return MHD_NO;
	}
	if (q->rt == NULL || q->body == BODY_NONE) {
		req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "this request takes no body");
		return MHD_YES;
	}
	if (q->body == BODY_JSON) {
		if (q->len + size > q->max) {
			q->overflow = true;
			req_fail(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				 "the body is larger than %ld KiB", q->f->cfg->max_json_kb);
			return MHD_YES;
		}
		if (q->len + size > q->cap) {
			/* Grown as the body comes: a small body costs little, whatever the bound.
			 */
			size_t cap = q->cap > 0 ? q->cap : 4096;
			char *nb;
			while (cap < q->len + size) {
				cap *= 2;
			}
			if (cap > q->max) {
				cap = q->max;
			}
			if ((nb = realloc(q->buf, cap)) == NULL) {
				req_fail(q, 500, "internal", "out of memory");
				return MHD_YES;
			}
			q->buf = nb;
			q->cap = cap;
		}
		memcpy(q->buf + q->len, data, size);
		q->len += size;
		return MHD_YES;
	}
	/* Every byte counts against the bound, the framing too (a preamble is not free). */
	q->body_bytes += size;
	if (q->body_bytes > q->max) {
		q->overflow = true;
		req_fail(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			 "the upload is larger than %zu KiB", q->max / 1024);
		return MHD_YES;
	}
	if (MHD_post_process(q->pp, data, size) != MHD_YES) {
		req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid", "malformed multipart/form-data");
	}
	return MHD_YES;
}

/* The body is complete: close the multipart state and check it ended properly. */
static void
req_body_end(struct req *q)
{
	if (q->pp == NULL) {
		return;
	}
	http_upload_end(q);
	/* It calls no iterator any more for a multipart body: only says whether it ended well. */
	if (MHD_destroy_post_processor(q->pp) != MHD_YES) {
		req_fail(q, MHD_HTTP_BAD_REQUEST, "invalid",
			 "malformed multipart/form-data (truncated or no final boundary)");
	}
	q->pp = NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct req *q = *con_cls;

	(void)version;
	if (q == NULL) {
		enum MHD_Result r;
		if ((q = calloc(1, sizeof(*q))) == NULL) {
			return MHD_NO;
		}
		q->f = l->f;
		q->conn = conn;
		q->conn_close = !l->tls; /* the guard saw only this request's head */
		q->deadline = conn_deadline(conn);
		q->up.fd = -1;
		q->started_ms = time_mono_ms();
		*con_cls = q;
		atomic_fetch_add(&l->f->requests, 1);
		/* The head is in: the time req_begin waits for signetd (whoami) is not the
		 * client's. */
		deadline_set(q->deadline, 0, NULL);
		r = req_begin(q, method, url);
		/* The body, if one is still to come, has its own deadline. */
		deadline_set(q->deadline, q->responded ? 0 : req_deadline_ms(q),
			     req_is_upload(q) ? "an upload (request_timeout)"
					      : "a request body (body_timeout)");
		return r;
	}
	if (q->responded) {
		/* Answered early (an error): the rest of the body is discarded. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		enum MHD_Result r = req_body(q, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/*
		 * MHD 0.9 cannot answer before the body has been read: a refused
		 * body is read to its end and dropped, and the answer goes out then.
		 * One that is too large, or goes past the bound while dropped, is
		 * not read further: the connection is closed.
		 */
		if (r == MHD_YES && q->overflow) {
			log_notice("%s %s: %s; connection closed", q->method, q->path, q->fail_msg);
			return MHD_NO;
		}
		return r;
	}
	/* The request is whole: the time the answer takes is not the client's. */
	deadline_set(q->deadline, 0, NULL);
	req_body_end(q);
	if (q->fail_status != 0) {
		return http_error(q, (unsigned)q->fail_status, q->fail_code, "%s", q->fail_msg);
	}
	return q->rt->handler(q);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		line[--n] = '\0';
	}
	log_notice("http: %s", line);
}

int
http_start(struct listener *l, const char *tls_cert_pem, const char *tls_key_pem)
{
	const struct front_cfg *c = l->f->cfg;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem o[16];
	int n = 0;

#define OPT(opt, val, ptr) (o[n++] = (struct MHD_OptionItem){(opt), (intptr_t)(val), (ptr)})
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL); /* first: it covers the rest */
	if (l->tls) {
		OPT(MHD_OPTION_LISTEN_SOCKET, l->fd, NULL);
	} else {
		/* The guard accepts, and adds a connection once its head has passed. */
		flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
	}
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, l);
	OPT(MHD_OPTION_CONNECTION_LIMIT, c->max_connections, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->max_connections_per_ip, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, c->connection_timeout, NULL);
	/* Plain HTTP: room for any head the guard passed, MHD's parse of it and a reply. */
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)c->max_header_kb * (l->tls ? 1024 : 2048) + (l->tls ? 0 : MHD_SLACK), NULL);
	OPT(MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, NULL);
	OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
	if (l->tls) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)tls_cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)tls_key_pem);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, o,
				  MHD_OPTION_END);
	if (l->mhd == NULL) {
		log_err("cannot start the HTTP server");
		return -1;
	}
	if (l->tls) {
		l->fd = -1; /* MHD owns it now */
	}
	return 0;
}

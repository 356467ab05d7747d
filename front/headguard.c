/* SPDX-License-Identifier: Apache-2.0 */
/* The request head guard: HTTP/1.1 message syntax (RFC 9112) at its strictest, without I/O. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "front/headguard.h"

/*
 * Headers a request may carry once at most: with two, a proxy in front
 * and libmicrohttpd (which takes the first) could each act on another.
 */
enum { S_CONTENT_LENGTH, S_TRANSFER_ENCODING, S_HOST, S_OTHER };

static const struct {
	const char *name;
	const char *twice;
} singletons[] = {
    {"Content-Length", "more than one Content-Length"},
    {"Transfer-Encoding", "more than one Transfer-Encoding"},
    {"Host", "more than one Host"},
    {"Content-Type", "more than one Content-Type"},
    {"Authorization", "more than one Authorization"},
    {"X-SE-TENANT", "more than one X-SE-TENANT"},
};

#define NSINGLETONS (sizeof(singletons) / sizeof(singletons[0]))

struct state {
	int minor; /* HTTP/1.MINOR */
	int nfields;
	int count[NSINGLETONS];
	int64_t content_length;
	bool chunked;
};

static enum headguard_verdict
refuse(struct headguard *out, unsigned status, const char *reason)
{
	out->status = status;
	out->reason = reason;
	return HEADGUARD_BAD;
}

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* METHOD SP /TARGET SP HTTP/1.x: single spaces, an origin-form target of visible ASCII. */
static enum headguard_verdict
check_request_line(const uint8_t *l, size_t n, struct state *st, struct headguard *out)
{
	static const char shape[] = "the request line is not METHOD /PATH HTTP/1.1";
	size_t i = 0;

	while (i < n && is_tchar(l[i])) {
		i++;
	}
	if (i == 0 || i > HEADGUARD_MAX_METHOD || i == n || l[i] != ' ') {
		return refuse(out, 400, shape);
	}
	if (++i == n || l[i] != '/') {
		return refuse(out, 400, "the request target is not a path starting with /");
	}
	while (i < n && l[i] > 0x20 && l[i] < 0x7f) {
		i++;
	}
	if (i == n || l[i] != ' ') {
		return refuse(out, 400,
			      "the request target holds a byte that is not visible ASCII");
	}
	i++;
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 || !is_digit(l[i + 5]) ||
	    l[i + 6] != '.' || !is_digit(l[i + 7])) {
		return refuse(out, 400, shape);
	}
	if (l[i + 5] != '1' || (l[i + 7] != '0' && l[i + 7] != '1')) {
		return refuse(out, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	}
	st->minor = l[i + 7] - '0';
	return HEADGUARD_MORE;
}

/* The framing headers' values: Content-Length plain digits, Transfer-Encoding only chunked. */
static enum headguard_verdict
check_framing(int which, const uint8_t *v, size_t vn, struct state *st, struct headguard *out)
{
	if (which == S_CONTENT_LENGTH) {
		int64_t cl = 0;
		if (vn == 0 || vn > HEADGUARD_MAX_DIGITS) {
			return refuse(out, 400, "a Content-Length that is not a plain number");
		}
		for (size_t k = 0; k < vn; k++) {
			if (!is_digit(v[k])) {
				return refuse(out, 400,
					      "a Content-Length that is not a plain number");
			}
			cl = cl * 10 + (v[k] - '0');
		}
		st->content_length = cl;
	} else if (which == S_TRANSFER_ENCODING) {
		if (vn != 7 || strncasecmp((const char *)v, "chunked", 7) != 0) {
			return refuse(out, 400, "a Transfer-Encoding other than chunked");
		}
		st->chunked = true;
	}
	return HEADGUARD_MORE;
}

/* NAME ":" OWS VALUE OWS: a token name right against its colon, a value without control bytes. */
static enum headguard_verdict
check_field(const uint8_t *l, size_t n, struct state *st, struct headguard *out)
{
	size_t i = 0, v, e;

	if (l[0] == ' ' || l[0] == '\t') {
		return refuse(out, 400,
			      "obsolete line folding (a header line starts with whitespace)");
	}
	while (i < n && is_tchar(l[i])) {
		i++;
	}
	if (i < n && (l[i] == ' ' || l[i] == '\t')) {
		return refuse(out, 400, "whitespace in a header name or before its colon");
	}
	if (i == n) {
		return refuse(out, 400, "a header line without a colon");
	}
	if (i == 0 || l[i] != ':') {
		return refuse(out, 400, "a header name that is not a token");
	}
	if (++st->nfields > HEADGUARD_MAX_FIELDS) {
		return refuse(out, 431, "too many header fields");
	}
	v = i + 1;
	e = n;
	while (v < e && (l[v] == ' ' || l[v] == '\t')) {
		v++;
	}
	while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t')) {
		e--;
	}
	for (size_t k = v; k < e; k++) {
		if ((l[k] < 0x20 && l[k] != '\t') || l[k] == 0x7f) {
			return refuse(out, 400, "a header value holds a control byte");
		}
	}
	for (size_t s = 0; s < NSINGLETONS; s++) {
		if (strlen(singletons[s].name) != i ||
		    strncasecmp((const char *)l, singletons[s].name, i) != 0) {
			continue;
		}
		if (++st->count[s] > 1) {
			return refuse(out, 400, singletons[s].twice);
		}
		return check_framing((int)s, l + v, e - v, st, out);
	}
	return HEADGUARD_MORE;
}

/* The head has ended: the rules between its fields. */
static enum headguard_verdict
check_end(const struct state *st, size_t head_len, struct headguard *out)
{
	if (st->count[S_CONTENT_LENGTH] > 0 && st->count[S_TRANSFER_ENCODING] > 0) {
		return refuse(out, 400, "both Content-Length and Transfer-Encoding");
	}
	if (st->minor == 0 && st->count[S_TRANSFER_ENCODING] > 0) {
		return refuse(out, 400, "Transfer-Encoding in an HTTP/1.0 request");
	}
	if (st->minor == 1 && st->count[S_HOST] == 0) {
		return refuse(out, 400, "an HTTP/1.1 request without Host");
	}
	out->head_len = head_len;
	out->content_length = st->content_length;
	out->chunked = st->chunked;
	return HEADGUARD_OK;
}

enum headguard_verdict
headguard_check(const uint8_t *buf, size_t len, size_t max, struct headguard *out)
{
	struct state st = {.content_length = -1};
	size_t lim = len < max ? len : max, pos = 0;
	enum headguard_verdict v;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	while (pos < lim) {
		const uint8_t *l = buf + pos;
		const uint8_t *nl = memchr(l, '\n', lim - pos);
		size_t n = nl != NULL ? (size_t)(nl - l) : lim - pos;
		const uint8_t *cr = memchr(l, '\r', n);

		/* A CR only right before an LF; an unfinished line may end with one. */
		if (cr != NULL && cr != l + n - 1) {
			return refuse(out, 400, "a bare CR: lines end with CRLF");
		}
		if (nl == NULL) {
			break;
		}
		if (cr == NULL) {
			return refuse(out, 400, "a bare LF: lines end with CRLF");
		}
		n--;
		if (pos == 0) {
			v = n == 0 ? refuse(out, 400, "an empty line before the request line")
				   : check_request_line(l, n, &st, out);
		} else if (n == 0) {
			return check_end(&st, pos + 2, out);
		} else {
			v = check_field(l, n, &st, out);
		}
		if (v == HEADGUARD_BAD) {
			return v;
		}
		pos += n + 2;
	}
	if (lim == max) {
		return refuse(out, 431, "the request line and headers are too large");
	}
	return HEADGUARD_MORE;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The request head guard: a strict, pure check of an HTTP/1.x request line and headers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEADGUARD_MAX_FIELDS 100 /* header lines of one request */
#define HEADGUARD_MAX_METHOD 15  /* bytes of a method name */
#define HEADGUARD_MAX_DIGITS 18  /* of a Content-Length: fits an int64_t */

enum headguard_verdict {
	HEADGUARD_MORE, /* no decision yet: the head has not ended */
	HEADGUARD_OK,   /* a whole head, and nothing in it that we refuse */
	HEADGUARD_BAD,  /* refused; more bytes cannot change that */
};

struct headguard {
	size_t head_len;        /* OK: bytes of the head, its blank line included */
	int64_t content_length; /* OK: the body's length, or -1 without one */
	bool chunked;           /* OK: Transfer-Encoding: chunked */
	unsigned status;        /* BAD: 400, 431 or 505 */
	const char *reason;     /* BAD: why, a static sentence */
};

/*
 * Judge the first MAX bytes of BUF (LEN of them have arrived) as the start
 * of one request: a request line and header lines, each ending in CRLF,
 * then an empty line. OK once that empty line is found and every line
 * before it passed; BAD as soon as a line fails or the head does not fit
 * in MAX bytes; MORE otherwise. What follows the head (a body, a
 * pipelined request) is not looked at.
 *
 * Refused: a bare LF or CR, a NUL or other control byte, an empty line
 * first, a request line that is not METHOD SP /TARGET SP HTTP/1.x (505
 * for another version), obsolete line folding, a header name that is
 * not a token (whitespace before the colon included), more than
 * HEADGUARD_MAX_FIELDS fields (431), a Content-Length that is not plain
 * digits, more than one Content-Length, Transfer-Encoding, Host,
 * Content-Type, Authorization or X-SE-TENANT, a Transfer-Encoding other
 * than chunked, Content-Length and Transfer-Encoding together,
 * Transfer-Encoding on HTTP/1.0, HTTP/1.1 without Host.
 */
enum headguard_verdict headguard_check(const uint8_t *buf, size_t len, size_t max,
				       struct headguard *out);

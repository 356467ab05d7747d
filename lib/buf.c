/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded reader and capped writer buffers with a sticky failure flag. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

/* OPENSSL_cleanse, not secure_wipe: signet-verify links buf.o without lib/util.c (jansson). */
#include <openssl/crypto.h>

#include "lib/buf.h"

void
rbuf_init(struct rbuf *r, const void *data, size_t len)
{
	r->data = data;
	r->len = data != NULL ? len : 0;
	r->off = 0;
	r->failed = false;
}

bool
rbuf_ok(const struct rbuf *r)
{
	return !r->failed;
}

size_t
rbuf_remaining(const struct rbuf *r)
{
	return r->failed ? 0 : r->len - r->off;
}

const uint8_t *
rbuf_get_ptr(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->failed || n > r->len - r->off) {
		r->failed = true;
		return NULL;
	}
	p = r->data + r->off;
	r->off += n;
	return p;
}

void
rbuf_get_bytes(struct rbuf *r, void *out, size_t n)
{
	const uint8_t *p = rbuf_get_ptr(r, n);

	if (p == NULL) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, p, n);
}

uint8_t
rbuf_get_u8(struct rbuf *r)
{
	const uint8_t *p = rbuf_get_ptr(r, 1);
	return p != NULL ? p[0] : 0;
}

uint16_t
rbuf_get_u16le(struct rbuf *r)
{
	const uint8_t *p = rbuf_get_ptr(r, 2);
	return p != NULL ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

uint32_t
rbuf_get_u32le(struct rbuf *r)
{
	const uint8_t *p = rbuf_get_ptr(r, 4);
	if (p == NULL) {
		return 0;
	}
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

uint64_t
rbuf_get_u64le(struct rbuf *r)
{
	uint64_t lo = rbuf_get_u32le(r);
	uint64_t hi = rbuf_get_u32le(r);
	return lo | (hi << 32);
}

void
rbuf_skip(struct rbuf *r, size_t n)
{
	(void)rbuf_get_ptr(r, n);
}

bool
rbuf_expect_end(struct rbuf *r)
{
	if (!r->failed && r->off != r->len) {
		r->failed = true;
	}
	return !r->failed;
}

void
wbuf_init(struct wbuf *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

static bool
wbuf_reserve(struct wbuf *w, size_t n)
{
	size_t need, ncap;
	uint8_t *nd;

	if (w->failed) {
		return false;
	}
	/*
	 * +1 keeps room for the terminating NUL that wbuf_steal adds; bounding the
	 * total to half the address space keeps that and the doubling below from wrapping.
	 */
	if (n > w->max || w->len > w->max - n || w->len + n > SIZE_MAX / 2) {
		w->failed = true;
		return false;
	}
	need = w->len + n + 1;
	if (need <= w->cap) {
		return true;
	}
	ncap = w->cap != 0 ? w->cap : 64;
	while (ncap < need) {
		ncap *= 2;
	}
	nd = malloc(ncap);
	if (nd == NULL) {
		w->failed = true;
		return false;
	}
	if (w->data != NULL) {
		memcpy(nd, w->data, w->len);
		OPENSSL_cleanse(w->data, w->cap);
		free(w->data);
	}
	w->data = nd;
	w->cap = ncap;
	return true;
}

void
wbuf_put(struct wbuf *w, const void *data, size_t n)
{
	if (n == 0 || !wbuf_reserve(w, n)) {
		return;
	}
	memcpy(w->data + w->len, data, n);
	w->len += n;
}

void
wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	wbuf_put(w, &v, 1);
}

void
wbuf_put_u16le(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	wbuf_put(w, b, sizeof(b));
}

void
wbuf_put_u32le(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	wbuf_put(w, b, sizeof(b));
}

void
wbuf_put_str(struct wbuf *w, const char *s)
{
	wbuf_put(w, s, strlen(s));
}

bool
wbuf_ok(const struct wbuf *w)
{
	return !w->failed;
}

void
wbuf_free(struct wbuf *w)
{
	if (w->data != NULL) {
		OPENSSL_cleanse(w->data, w->cap);
		free(w->data);
	}
	w->data = NULL;
	w->len = w->cap = 0;
}

uint8_t *
wbuf_steal(struct wbuf *w, size_t *len)
{
	uint8_t *d;

	if (w->failed || !wbuf_reserve(w, 0)) {
		wbuf_free(w);
		return NULL;
	}
	w->data[w->len] = '\0';
	d = w->data;
	if (len != NULL) {
		*len = w->len;
	}
	w->data = NULL;
	w->len = w->cap = 0;
	return d;
}

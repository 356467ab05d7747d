/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded reader and capped writer buffers with a sticky failure flag. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A reader over untrusted bytes. Every getter checks the length before it
 * reads; the first failure sticks, later calls do nothing and return zeros,
 * so a parser checks rbuf_ok() once at the end.
 */
struct rbuf {
	const uint8_t *data;
	size_t len;
	size_t off;
	bool failed;
};

void rbuf_init(struct rbuf *r, const void *data, size_t len);
bool rbuf_ok(const struct rbuf *r);
size_t rbuf_remaining(const struct rbuf *r);
uint8_t rbuf_get_u8(struct rbuf *r);
uint16_t rbuf_get_u16le(struct rbuf *r);
uint32_t rbuf_get_u32le(struct rbuf *r);
uint64_t rbuf_get_u64le(struct rbuf *r);
/* Copy N bytes out; on failure OUT is zeroed. */
void rbuf_get_bytes(struct rbuf *r, void *out, size_t n);
/* Point at N bytes in place (NULL on failure). */
const uint8_t *rbuf_get_ptr(struct rbuf *r, size_t n);
void rbuf_skip(struct rbuf *r, size_t n);
/* Fails unless every byte was consumed (no trailing garbage). */
bool rbuf_expect_end(struct rbuf *r);

/* A growable output buffer with a hard cap; exceeding it or failing to allocate sticks. */
struct wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
	bool failed;
};

void wbuf_init(struct wbuf *w, size_t max);
void wbuf_put(struct wbuf *w, const void *data, size_t n);
void wbuf_put_u8(struct wbuf *w, uint8_t v);
void wbuf_put_u16le(struct wbuf *w, uint16_t v);
void wbuf_put_u32le(struct wbuf *w, uint32_t v);
void wbuf_put_str(struct wbuf *w, const char *s);
bool wbuf_ok(const struct wbuf *w);
/* Wipe and free the contents. */
void wbuf_free(struct wbuf *w);
/* Hand the contents (NUL-terminated, not counted in len) to the caller; NULL when failed. */
uint8_t *wbuf_steal(struct wbuf *w, size_t *len);

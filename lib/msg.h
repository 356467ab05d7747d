/* SPDX-License-Identifier: Apache-2.0 */
/* Socket framing: one JSON object per SOCK_SEQPACKET packet, file descriptors by SCM_RIGHTS. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MSG_MAX_SIZE       65536 /* largest packet, bytes */
#define MSG_MAX_FDS        8     /* most descriptors attached to one packet */
#define MSG_MAX_DEPTH      32    /* deepest JSON nesting accepted */
#define MSG_MAX_CONTAINERS 300   /* objects and arrays in one packet (a package: 255 inputs, metadata) */
#define MSG_MAX_ITEMS      4096  /* members and elements in one packet */

/* What msg_recv saw besides the payload. */
enum {
	MSG_F_OVERSIZED = 1 << 0, /* the packet was longer than the buffer; payload dropped */
	MSG_F_CTRUNC = 1 << 1,    /* descriptors were dropped by the kernel */
};

/*
 * Receive one packet without blocking. Returns the payload length (>0),
 * 0 at end of stream, or -errno (-EAGAIN when nothing is waiting).
 * Descriptors received are returned in FDS (close-on-exec) even for an
 * oversized packet, and the caller owns them.
 */
long msg_recv(int sock, uint8_t *buf, size_t cap, int *fds, int *nfds, int *flags);

/* Send one packet with optional descriptors. 0 or -errno (-EAGAIN when the peer is full). */
int msg_send(int sock, const void *data, size_t len, const int *fds, int nfds);

/* Close every descriptor in FDS and reset the count. */
void msg_close_fds(int *fds, int *nfds);

/*
 * Parse a packet into a JSON object: valid UTF-8, no duplicate keys, no
 * NUL in strings, nesting at most MSG_MAX_DEPTH, at most MSG_MAX_CONTAINERS
 * objects and arrays and MSG_MAX_ITEMS values, an object at the top,
 * nothing after it. The bounds are checked before jansson builds anything,
 * so a packet costs at most a few hundred KiB once parsed. Returns NULL
 * with a reason in WHY.
 */
json_t *msg_parse(const uint8_t *data, size_t len, const char **why);

/*
 * The same for a reply from signetd: a page of a listing may hold more
 * values than a request may, so only the nesting bound applies.
 */
json_t *msg_parse_reply(const uint8_t *data, size_t len, const char **why);

/* Serialise compactly; NULL when it would exceed MSG_MAX_SIZE. */
char *msg_dump(const json_t *obj, size_t *len);

/* Depth of a JSON value (a scalar is 1). */
int json_depth(const json_t *v);

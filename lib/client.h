/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking client of the signetd socket API, shared by signetctl and the front end. */
#pragma once

#include <jansson.h>

#include "lib/msg.h"

struct client {
	int fd;
	long next_id;
	int timeout_ms;
};

/* Connect to the SOCK_SEQPACKET socket at PATH. 0 or an error (logged to stderr by the caller). */
int client_connect(struct client *c, const char *path, int timeout_ms);
void client_close(struct client *c);

/*
 * Send {"id","op","auth","args"} with FDS attached and wait for the reply
 * of the same id. AUTH may be NULL. On success *REPLY holds the whole reply
 * object (caller decrefs) and RFDS/RNFDS any descriptors that came with it.
 * Returns 0, or -errno for transport failures.
 */
int client_call(struct client *c, const char *op, json_t *auth, json_t *args, const int *fds,
		int nfds, json_t **reply, int *rfds, int *rnfds);

/*
 * Receive the next packet (an event after events.watch, or a late reply),
 * waiting at most TIMEOUT_MS (-1: forever). 0 and *PKT (caller decrefs),
 * -ETIMEDOUT, or -errno.
 */
int client_recv(struct client *c, json_t **pkt, int timeout_ms);

/* SPDX-License-Identifier: Apache-2.0 */
/* The socket server on the event loop: accept, decode, queue to workers, answer. */
#pragma once

#include "daemon/daemon.h"

/* Bind and listen on the configured socket (mode 0660) and start serving on D->base. */
int server_start(struct daemon *d, struct server **out);
/* Stop accepting and reading; answer what is in flight; the loop exits when all is answered. */
void server_shutdown(struct server *s);
/* After the loop ended: close every connection and the listening socket. */
void server_free(struct server *s);
/* Connections open now. */
long server_connections(const struct server *s);

struct evnote;
/* From any thread, after a commit: events up to N->last exist; N->final tasks ended. */
void server_notify(struct server *s, const struct evnote *n);
/* On the loop: the last event sequence the server has heard of. */
uint64_t server_events_last(const struct server *s);

/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking client of the signetd socket API, shared by signetctl and the front end. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/client.h"
#include "lib/util.h"

int
client_connect(struct client *c, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	c->fd = -1;
	c->next_id = 1;
	c->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		return -errno;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		return -e;
	}
	return 0;
}

void
client_close(struct client *c)
{
	if (c->fd >= 0) {
		close(c->fd);
	}
	c->fd = -1;
}

static int
client_wait(struct client *c, short events)
{
	struct pollfd p = {.fd = c->fd, .events = events};
	int n;

	do {
		n = poll(&p, 1, c->timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	return n == 0 ? -ETIMEDOUT : 0;
}

int
client_call(struct client *c, const char *op, json_t *auth, json_t *args, const int *fds, int nfds,
	    json_t **reply, int *rfds, int *rnfds)
{
	json_t *req;
	char *data = NULL;
	size_t len;
	long id = c->next_id++;
	int r;
	uint8_t *buf = NULL;

	*reply = NULL;
	*rnfds = 0;
	req = json_pack("{s:I, s:s}", "id", (json_int_t)id, "op", op);
	if (req == NULL) {
		return -ENOMEM;
	}
	if (auth != NULL) {
		json_object_set(req, "auth", auth);
	}
	if (args != NULL) {
		json_object_set(req, "args", args);
	}
	data = msg_dump(req, &len);
	json_decref(req);
	if (data == NULL) {
		return -EMSGSIZE;
	}
	for (;;) {
		r = msg_send(c->fd, data, len, fds, nfds);
		if (r != -EAGAIN) {
			break;
		}
		if ((r = client_wait(c, POLLOUT)) != 0) {
			break;
		}
	}
	/* The request may hold a token: wipe the serialised copy. */
	secure_wipe(data, len);
	free(data);
	if (r != 0) {
		return r;
	}
	buf = malloc(MSG_MAX_SIZE);
	if (buf == NULL) {
		return -ENOMEM;
	}
	for (;;) {
		int flags;
		long n;
		json_t *rep, *rid;
		const char *why;

		if ((r = client_wait(c, POLLIN)) != 0) {
			break;
		}
		n = msg_recv(c->fd, buf, MSG_MAX_SIZE, rfds, rnfds, &flags);
		if (n == -EAGAIN) {
			continue;
		}
		if (n < 0) {
			msg_close_fds(rfds, rnfds);
			r = (int)n;
			break;
		}
		if (n == 0) {
			r = -ECONNRESET;
			break;
		}
		if (flags != 0) {
			msg_close_fds(rfds, rnfds);
			r = -EPROTO;
			break;
		}
		rep = msg_parse_reply(buf, (size_t)n, &why);
		if (rep == NULL) {
			msg_close_fds(rfds, rnfds);
			r = -EPROTO;
			break;
		}
		rid = json_object_get(rep, "id");
		/*
		 * Ours, or a refusal of a packet whose id the daemon could not read:
		 * with one request at a time, that packet was ours too.
		 */
		if ((json_is_integer(rid) && json_integer_value(rid) == id) ||
		    (json_is_null(rid) && json_object_get(rep, "event") == NULL)) {
			*reply = rep;
			r = 0;
			break;
		}
		/* An event or a stale reply: not ours. */
		json_decref(rep);
		msg_close_fds(rfds, rnfds);
	}
	secure_wipe(buf, MSG_MAX_SIZE);
	free(buf);
	return r;
}

int
client_recv(struct client *c, json_t **pkt, int timeout_ms)
{
	uint8_t *buf = malloc(MSG_MAX_SIZE);
	int saved = c->timeout_ms, r;

	*pkt = NULL;
	if (buf == NULL) {
		return -ENOMEM;
	}
	c->timeout_ms = timeout_ms;
	for (;;) {
		int fds[MSG_MAX_FDS], nfds = 0, flags = 0;
		long n;
		const char *why;

		if ((r = client_wait(c, POLLIN)) != 0) {
			break;
		}
		n = msg_recv(c->fd, buf, MSG_MAX_SIZE, fds, &nfds, &flags);
		msg_close_fds(fds, &nfds);
		if (n == -EAGAIN) {
			continue;
		}
		if (n < 0) {
			r = (int)n;
			break;
		}
		if (n == 0) {
			r = -ECONNRESET;
			break;
		}
		if (flags != 0 || (*pkt = msg_parse_reply(buf, (size_t)n, &why)) == NULL) {
			r = -EPROTO;
			break;
		}
		r = 0;
		break;
	}
	c->timeout_ms = saved;
	free(buf);
	return r;
}

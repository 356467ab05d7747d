/* SPDX-License-Identifier: Apache-2.0 */
/* Socket framing: one JSON object per SOCK_SEQPACKET packet, file descriptors by SCM_RIGHTS. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/msg.h"

long
msg_recv(int sock, uint8_t *buf, size_t cap, int *fds, int *nfds, int *flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAX_FDS)];
	} cbuf;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {0};
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	*flags = 0;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do {
		/* MSG_TRUNC makes the kernel report the packet's real length. */
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *p = (int *)CMSG_DATA(c);
			for (size_t i = 0; i < cnt; i++) {
				int fd;
				memcpy(&fd, &p[i], sizeof(fd));
				if (*nfds < MSG_MAX_FDS) {
					fds[(*nfds)++] = fd;
				} else {
					close(fd);
					*flags |= MSG_F_CTRUNC;
				}
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		*flags |= MSG_F_CTRUNC;
	}
	if ((size_t)n > cap || (mh.msg_flags & MSG_TRUNC)) {
		*flags |= MSG_F_OVERSIZED;
		/* Report a non-zero length so an empty-looking packet is not taken for EOF. */
		return n > 0 ? (long)n : 1;
	}
	if (n == 0 && *nfds == 0) {
		return 0;
	}
	return n == 0 ? -ENODATA : (long)n;
}

int
msg_send(int sock, const void *data, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAX_FDS)];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {0};
	ssize_t n;

	if (len > MSG_MAX_SIZE || nfds < 0 || nfds > MSG_MAX_FDS) {
		return -EMSGSIZE;
	}
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *c;
		memset(cbuf.buf, 0, sizeof(cbuf.buf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	return (size_t)n == len ? 0 : -EIO;
}

void
msg_close_fds(int *fds, int *nfds)
{
	for (int i = 0; i < *nfds; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
		fds[i] = -1;
	}
	*nfds = 0;
}

int
json_depth(const json_t *v)
{
	int max = 0;

	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach((json_t *)v, k, c) {
			int d = json_depth(c);
			if (d > max) {
				max = d;
			}
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c) {
			int d = json_depth(c);
			if (d > max) {
				max = d;
			}
		}
		return max + 1;
	}
	return 1;
}

static json_t *
msg_parse_bounded(const uint8_t *data, size_t len, const char **why, int max_containers,
		  int max_items)
{
	json_error_t jerr;
	json_t *root;
	int nest = 0, maxnest = 0, containers = 0, items = 0;
	bool in_str = false, esc = false;

	if (len == 0) {
		*why = "empty packet";
		return NULL;
	}
	/*
	 * Bound the nesting before jansson recurses into it: a quick scan that
	 * skips string contents is enough to refuse deep input cheaply.
	 */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (in_str) {
			if (esc) {
				esc = false;
			} else if (c == '\\') {
				esc = true;
			} else if (c == '"') {
				in_str = false;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == ',') {
			if (++items > max_items) {
				*why = "too many JSON values in one packet";
				return NULL;
			}
		} else if (c == '{' || c == '[') {
			if (++containers > max_containers) {
				*why = "too many JSON objects and arrays in one packet";
				return NULL;
			}
			if (++nest > maxnest) {
				maxnest = nest;
			}
			if (maxnest > MSG_MAX_DEPTH) {
				*why = "JSON nested too deeply";
				return NULL;
			}
		} else if (c == '}' || c == ']') {
			nest--;
		}
	}
	root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		*why = "malformed JSON or invalid UTF-8";
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*why = "the packet must hold one JSON object";
		return NULL;
	}
	if (json_depth(root) > MSG_MAX_DEPTH) {
		json_decref(root);
		*why = "JSON nested too deeply";
		return NULL;
	}
	return root;
}

json_t *
msg_parse(const uint8_t *data, size_t len, const char **why)
{
	return msg_parse_bounded(data, len, why, MSG_MAX_CONTAINERS, MSG_MAX_ITEMS);
}

json_t *
msg_parse_reply(const uint8_t *data, size_t len, const char **why)
{
	/* 64 KiB hold at most 32768 values: no bound beyond the packet size. */
	return msg_parse_bounded(data, len, why, MSG_MAX_SIZE, MSG_MAX_SIZE);
}

char *
msg_dump(const json_t *obj, size_t *len)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t n;

	if (s == NULL) {
		return NULL;
	}
	n = strlen(s);
	if (n > MSG_MAX_SIZE) {
		free(s);
		return NULL;
	}
	*len = n;
	return s;
}

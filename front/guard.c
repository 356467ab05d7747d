/* SPDX-License-Identifier: Apache-2.0 */
/* The guard of a plain HTTP listener: accept, wait for a strict request head, then hand to MHD. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "front/front.h"
#include "front/headguard.h"
#include "lib/log.h"
#include "lib/util.h"

#define GUARD_LINGER_MS       2000      /* a refused connection is drained this long at most... */
#define GUARD_LINGER_MAX      (1 << 20) /* ... and this many bytes, so that our answer is not lost */
#define GUARD_ACCEPT_PAUSE_MS 250       /* after accept() fails (no descriptor left) */

/*
 * libmicrohttpd 0.9.75 reads "Content-Length : 5" as no length, takes bare
 * LFs and folded lines, and cannot be told otherwise. So it sees a
 * connection only once its first request head has passed
 * front/headguard.c. The head is read with MSG_PEEK and stays in the
 * socket for libmicrohttpd to parse; SO_RCVLOWAT makes poll() wake only
 * when a byte beyond those already seen arrives. Only the first request
 * of a connection can be checked this way, so every answer on plain HTTP
 * says "Connection: close" (front/http.c): nothing pipelined behind it is
 * ever parsed.
 *
 * One thread per listener serves every connection whose head is awaited,
 * each for header_timeout seconds from its accept, whatever it sends: at
 * most max_connections of them (see make_room), which hold no thread and
 * no slot of libmicrohttpd's.
 */
struct pending {
	int fd;
	struct sockaddr_storage addr;
	socklen_t alen;
	uint64_t accepted_ms;
	uint64_t deadline_ms;
	size_t seen;    /* bytes of the head looked at so far */
	bool lingering; /* refused: answered, drained until EOF or the deadline */
	size_t drained;
};

struct addr_count {
	const struct sockaddr_storage *addr;
	int n;
};

struct guard {
	struct listener *l;
	pthread_t thread;
	int wake[2]; /* written to stop the thread */
	size_t max_head;
	uint8_t *buf; /* max_head bytes: what one peek shows */
	uint64_t accept_paused_until;
	bool accept_failing;
	struct pending *p;
	int np, cap;
	struct pollfd *pfd;
	struct addr_count *counts; /* per address, counted when every slot is taken */
	size_t mask;
};

static const char *
addr_text(const struct pending *c, char *out, size_t outlen)
{
	const void *a = c->addr.ss_family == AF_INET6
			    ? (const void *)&((const struct sockaddr_in6 *)&c->addr)->sin6_addr
			    : (const void *)&((const struct sockaddr_in *)&c->addr)->sin_addr;

	if (inet_ntop(c->addr.ss_family, a, out, (socklen_t)outlen) == NULL) {
		snprintf(out, outlen, "?");
	}
	return out;
}

static bool
same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family) {
		return false;
	}
	if (a->ss_family == AF_INET6) {
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	}
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

static void
set_lowat(int fd, size_t n)
{
	int v = n > 0x7fffffff ? 0x7fffffff : (int)n;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

static void
drop(struct pending *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static const char *
status_text(unsigned status)
{
	switch (status) {
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

/* Answer the refusal as front/http.c answers any, then drain and close (a lingering close). */
static void
refuse(struct pending *c, const struct headguard *h)
{
	json_t *body = json_pack("{s:s, s:s}", "code", h->status == 431 ? "too_large" : "invalid",
				 "message", h->reason);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	char head[512], addr[INET6_ADDRSTRLEN];
	int n;

	json_decref(body);
	log_notice("http: %s: refused before libmicrohttpd: %s", addr_text(c, addr, sizeof(addr)),
		   h->reason);
	if (text != NULL) {
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %u %s\r\nConnection: close\r\n"
			     "Content-Type: application/json\r\nCache-Control: no-store\r\n"
			     "X-Content-Type-Options: nosniff\r\nContent-Length: %zu\r\n\r\n",
			     h->status, status_text(h->status), strlen(text));
		/* A fresh socket's send buffer takes this whole; if not, the client gets less. */
		if (send(c->fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n) {
			(void)send(c->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		free(text);
	}
	shutdown(c->fd, SHUT_WR);
	/*
	 * Closing with unread bytes would send a reset, which can destroy the
	 * answer before the client reads it: read until its EOF first.
	 */
	set_lowat(c->fd, 1);
	c->lingering = true;
	c->deadline_ms = time_mono_ms() + GUARD_LINGER_MS;
}

static void
linger(struct guard *g, struct pending *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, g->buf, g->max_head, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		}
		if (n <= 0 || (c->drained += (size_t)n) > GUARD_LINGER_MAX) {
			drop(c);
			return;
		}
	}
}

/* The request head is whole and passed: libmicrohttpd parses it from the socket. */
static void
hand_over(struct guard *g, struct pending *c)
{
	char addr[INET6_ADDRSTRLEN];

	set_lowat(c->fd, 1);
	/* MHD owns the socket now, and closes it itself when it cannot take it. */
	if (MHD_add_connection(g->l->mhd, c->fd, (const struct sockaddr *)&c->addr, c->alen) !=
	    MHD_YES) {
		log_notice("http: %s: connection closed: %s", addr_text(c, addr, sizeof(addr)),
			   errno == ENFILE ? "max_connections or max_connections_per_ip reached"
					   : strerror(errno));
	}
	c->fd = -1;
}

/* New bytes (or an end) on a connection whose head is awaited. */
static void
look(struct guard *g, struct pending *c, short revents)
{
	struct headguard h;
	ssize_t n;

	if (c->lingering) {
		linger(g, c);
		return;
	}
	n = recv(c->fd, g->buf, g->max_head, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		drop(c); /* gone before a whole head */
		return;
	}
	/* A line is judged when it ends: without a new LF nothing can have changed. */
	if ((size_t)n < g->max_head &&
	    memchr(g->buf + c->seen, '\n', (size_t)n - c->seen) == NULL && !(revents & POLLRDHUP)) {
		c->seen = (size_t)n;
		set_lowat(c->fd, (size_t)n + 1);
		return;
	}
	switch (headguard_check(g->buf, (size_t)n, g->max_head, &h)) {
	case HEADGUARD_OK:
		hand_over(g, c);
		return;
	case HEADGUARD_BAD:
		refuse(c, &h);
		return;
	case HEADGUARD_MORE:
		break;
	}
	if (revents & POLLRDHUP) {
		drop(c); /* half-closed before the head ended: no request will come */
		return;
	}
	c->seen = (size_t)n;
	set_lowat(c->fd, (size_t)n + 1);
}

static void
expire(struct guard *g, struct pending *c)
{
	char addr[INET6_ADDRSTRLEN];

	if (!c->lingering) {
		log_info("http: %s: connection closed: no whole request head within %ld s",
			 addr_text(c, addr, sizeof(addr)), g->l->f->cfg->header_timeout);
	}
	drop(c);
}

static void
addr_bytes(const struct sockaddr_storage *a, const uint8_t **p, size_t *n)
{
	if (a->ss_family == AF_INET6) {
		*p = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
		*n = sizeof(struct in6_addr);
	} else {
		*p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		*n = sizeof(struct in_addr);
	}
}

/* How many connections of the table come from A (a slot of g->counts, added when new). */
static int *
count_of(struct guard *g, const struct sockaddr_storage *a)
{
	const uint8_t *p;
	size_t n, i;
	uint32_t h = 2166136261u; /* FNV-1a */

	addr_bytes(a, &p, &n);
	for (size_t k = 0; k < n; k++) {
		h = (h ^ p[k]) * 16777619u;
	}
	for (i = h & g->mask; g->counts[i].addr != NULL; i = (i + 1) & g->mask) {
		if (same_address(g->counts[i].addr, a)) {
			return &g->counts[i].n;
		}
	}
	g->counts[i].addr = a;
	return &g->counts[i].n;
}

/*
 * Every slot is taken and C is new: it takes the slot of the oldest
 * connection of an address that holds more than max_pending_per_ip, if C's
 * own address holds fewer. So one address may use every slot while nobody
 * else needs one, and cannot keep another out when someone does.
 */
static bool
make_room(struct guard *g, const struct pending *c)
{
	long limit = g->l->f->cfg->max_pending_per_ip;
	int victim = -1;
	char addr[INET6_ADDRSTRLEN];

	memset(g->counts, 0, (g->mask + 1) * sizeof(*g->counts));
	for (int i = 0; i < g->np; i++) {
		(*count_of(g, &g->p[i].addr))++;
	}
	if (*count_of(g, &c->addr) >= limit) {
		return false;
	}
	for (int i = 0; i < g->np; i++) {
		if (*count_of(g, &g->p[i].addr) > limit &&
		    (victim < 0 || g->p[i].accepted_ms < g->p[victim].accepted_ms)) {
			victim = i;
		}
	}
	if (victim < 0) {
		return false;
	}
	log_info("http: %s: connection closed: more than max_pending_per_ip of its connections "
		 "await their head, and another address needs the slot",
		 addr_text(&g->p[victim], addr, sizeof(addr)));
	drop(&g->p[victim]);
	g->p[victim] = g->p[--g->np];
	return true;
}

static void
accept_all(struct guard *g)
{
	for (;;) {
		struct pending c = {.alen = sizeof(c.addr)};
		char addr[INET6_ADDRSTRLEN];

		c.fd = accept4(g->l->fd, (struct sockaddr *)&c.addr, &c.alen,
			       SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c.fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				/* Out of descriptors: the connection stays queued. Retry later,
				 * without spinning or logging each retry. */
				if (!g->accept_failing) {
					log_warning("http: accept: %s", strerror(errno));
				}
				g->accept_failing = true;
				g->accept_paused_until = time_mono_ms() + GUARD_ACCEPT_PAUSE_MS;
			}
			return;
		}
		g->accept_failing = false;
		if (g->np == g->cap && !make_room(g, &c)) {
			log_info("http: %s: connection closed: max_connections awaiting their head",
				 addr_text(&c, addr, sizeof(addr)));
			drop(&c);
			continue;
		}
		c.accepted_ms = time_mono_ms();
		c.deadline_ms = c.accepted_ms + (uint64_t)g->l->f->cfg->header_timeout * 1000;
		set_lowat(c.fd, 1);
		g->p[g->np++] = c;
	}
}

static void *
guard_main(void *arg)
{
	struct guard *g = arg;

	for (;;) {
		uint64_t now = time_mono_ms(), next = UINT64_MAX;
		int n = 0, timeout;

		g->pfd[n++] = (struct pollfd){.fd = g->wake[0], .events = POLLIN};
		g->pfd[n++] = (struct pollfd){.fd = now < g->accept_paused_until ? -1 : g->l->fd,
					      .events = POLLIN};
		if (now < g->accept_paused_until) {
			next = g->accept_paused_until;
		}
		for (int i = 0; i < g->np; i++) {
			g->pfd[n++] =
			    (struct pollfd){.fd = g->p[i].fd, .events = POLLIN | POLLRDHUP};
			if (g->p[i].deadline_ms < next) {
				next = g->p[i].deadline_ms;
			}
		}
		timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		if (poll(g->pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			log_err("http: poll: %s", strerror(errno));
			break;
		}
		if (g->pfd[0].revents & POLLIN) {
			break;
		}
		now = time_mono_ms();
		for (int i = 0; i < g->np; i++) {
			struct pending *c = &g->p[i];
			if (g->pfd[2 + i].revents != 0) {
				look(g, c, g->pfd[2 + i].revents);
			}
			if (c->fd >= 0 && c->deadline_ms <= now) {
				expire(g, c);
			}
		}
		/* Compact: handed over, refused and drained, or gone. */
		for (int i = 0; i < g->np;) {
			if (g->p[i].fd < 0) {
				g->p[i] = g->p[--g->np];
			} else {
				i++;
			}
		}
		if (g->pfd[1].revents & POLLIN) {
			accept_all(g);
		}
	}
	for (int i = 0; i < g->np; i++) {
		drop(&g->p[i]);
	}
	g->np = 0;
	return NULL;
}

static void
guard_free(struct guard *g)
{
	if (g == NULL) {
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (g->wake[i] >= 0) {
			close(g->wake[i]);
		}
	}
	free(g->buf);
	free(g->p);
	free(g->pfd);
	free(g->counts);
	free(g);
}

int
guard_start(struct listener *l)
{
	const struct front_cfg *cfg = l->f->cfg;
	struct guard *g = calloc(1, sizeof(*g));
	int r;

	if (g == NULL) {
		log_err("out of memory");
		return -1;
	}
	g->l = l;
	g->wake[0] = g->wake[1] = -1;
	g->cap = (int)cfg->max_connections;
	g->max_head = (size_t)cfg->max_header_kb * 1024;
	g->buf = malloc(g->max_head);
	g->p = calloc((size_t)g->cap, sizeof(*g->p));
	g->pfd = calloc((size_t)g->cap + 2, sizeof(*g->pfd));
	g->mask = 1;
	while (g->mask < (size_t)g->cap * 2 + 2) {
		g->mask <<= 1; /* a power of two, at least half empty */
	}
	g->counts = calloc(g->mask, sizeof(*g->counts));
	g->mask--;
	if (g->buf == NULL || g->p == NULL || g->pfd == NULL || g->counts == NULL) {
		log_err("out of memory");
		guard_free(g);
		return -1;
	}
	if (pipe2(g->wake, O_CLOEXEC) != 0 || fcntl(l->fd, F_SETFL, O_NONBLOCK) != 0) {
		log_err("guard: %s", strerror(errno));
		guard_free(g);
		return -1;
	}
	if ((r = pthread_create(&g->thread, NULL, guard_main, g)) != 0) {
		log_err("cannot start the HTTP guard: %s", strerror(r));
		guard_free(g);
		return -1;
	}
	l->guard = g;
	return 0;
}

void
guard_stop(struct listener *l)
{
	struct guard *g = l->guard;

	if (g == NULL) {
		return;
	}
	(void)!write(g->wake[1], "x", 1);
	pthread_join(g->thread, NULL);
	guard_free(g);
	l->guard = NULL;
}

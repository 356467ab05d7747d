/* SPDX-License-Identifier: Apache-2.0 */
/* The socket server on the event loop: accept, decode, queue to workers, answer. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/dispatch.h"
#include "daemon/events.h"
#include "daemon/ingest.h"
#include "daemon/rules.h"
#include "daemon/server.h"
#include "daemon/tasks.h"
#include "daemon/workers.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define PACKETS_PER_WAKEUP 16                 /* fairness between connections */
#define OUTQ_MAX_PACKETS   64                 /* a peer that does not read its replies is dropped */
#define ID_MAX             9007199254740991LL /* 2^53 - 1: exact in every JSON reader */

struct outpkt {
	char *data;
	size_t len;
	int fds[MSG_MAX_FDS];
	int nfds;
	struct outpkt *next;
};

struct conn {
	struct server *srv;
	struct request *watch; /* this connection's events.watch, if any */
	int fd;
	struct peer peer;
	bool local;
	struct event *rev, *wev;
	struct outpkt *oq_head, *oq_tail;
	int oq_len;
	int inflight; /* requests of this connection not yet answered */
	int delayed;  /* refusals of it waiting out the failed-authentication delay */
	int holds;    /* callbacks on the stack that still use the connection */
	bool reading; /* the read event is armed (off: backpressure or draining) */
	bool closed;  /* socket closed; freed when INFLIGHT and HOLDS drop to 0 */
	struct conn *prev, *next;
};

struct server {
	struct daemon *d;
	int lfd;
	struct event *lev;
	struct event *drain_timer;
	struct conn *conns;
	long nconns;
	long inflight;
	bool draining;
	struct event *accept_pause; /* re-arms the listener after running out of descriptors */
	struct request *delayed;    /* answers waiting out the failed-authentication delay */
	struct request *parked;     /* task.wait and events.watch between their runs */
	uint64_t events_last;       /* the last event sequence heard of */
	/* Filled by any thread after a commit (server_notify), read by the loop. */
	pthread_mutex_t nlock;
	struct event *nev;
	struct evnote pending;
	bool nev_ok;
	uint8_t *rbuf; /* one receive buffer: the loop is single-threaded */
};

int
req_fail(struct request *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	return err;
}

static void conn_close(struct conn *c);
static void request_resume(struct request *r);

static void
conn_free_if_done(struct conn *c)
{
	if (!c->closed || c->inflight > 0 || c->delayed > 0 || c->holds > 0) {
		return;
	}
	free(c);
}

static void
outpkt_free(struct outpkt *p)
{
	msg_close_fds(p->fds, &p->nfds);
	if (p->data != NULL) {
		/* Replies can carry a new API token: wipe before free. */
		secure_wipe(p->data, p->len);
		free(p->data);
	}
	free(p);
}

static void
conn_flush(struct conn *c)
{
	while (c->oq_head != NULL) {
		struct outpkt *p = c->oq_head;
		int r = msg_send(c->fd, p->data, p->len, p->fds, p->nfds);
		if (r == -EAGAIN) {
			event_add(c->wev, NULL);
			return;
		}
		if (r != 0) {
			log_info("connection from pid %ld: send failed: %s", (long)c->peer.pid,
				 strerror(-r));
			conn_close(c);
			return;
		}
		c->oq_head = p->next;
		if (c->oq_head == NULL) {
			c->oq_tail = NULL;
		}
		c->oq_len--;
		outpkt_free(p);
	}
	event_del(c->wev);
	if (c->watch != NULL && c->watch->blocked) {
		request_resume(c->watch);
	}
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_flush(arg);
}

/* Queue one packet; takes FDS (closed on failure). */
static void
conn_send_json(struct conn *c, json_t *obj, int *fds, int nfds)
{
	struct outpkt *p;
	size_t len;
	char *data;

	if (c->closed) {
		msg_close_fds(fds, &nfds);
		return;
	}
	data = msg_dump(obj, &len);
	if (data == NULL) {
		/* Too large for one packet: answer with an error of the same id instead. */
		json_t *small =
		    json_pack("{s:O, s:b, s:{s:s, s:s}}", "id", json_object_get(obj, "id"), "ok", 0,
			      "error", "code", "too_large", "message",
			      "the reply exceeds the packet size; ask for less");
		msg_close_fds(fds, &nfds);
		data = small != NULL ? msg_dump(small, &len) : NULL;
		json_decref(small);
		if (data == NULL) {
			conn_close(c);
			return;
		}
	}
	if (c->oq_len >= OUTQ_MAX_PACKETS) {
		log_warning("connection from pid %ld does not read its replies; closing",
			    (long)c->peer.pid);
		secure_wipe(data, len);
		free(data);
		msg_close_fds(fds, &nfds);
		conn_close(c);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		secure_wipe(data, len);
		free(data);
		msg_close_fds(fds, &nfds);
		conn_close(c);
		return;
	}
	p->data = data;
	p->len = len;
	for (int i = 0; i < nfds; i++) {
		p->fds[i] = fds[i];
	}
	p->nfds = nfds;
	if (c->oq_tail != NULL) {
		c->oq_tail->next = p;
	} else {
		c->oq_head = p;
	}
	c->oq_tail = p;
	c->oq_len++;
	conn_flush(c);
}

static json_t *
reply_id(json_int_t id)
{
	return id >= 0 ? json_integer(id) : json_null();
}

static void
conn_send_error(struct conn *c, json_int_t id, int err, const char *message)
{
	json_t *rep =
	    json_pack("{s:o, s:b, s:{s:s, s:s}}", "id", reply_id(id), "ok", 0, "error", "code",
		      signet_err_code(err), "message",
		      message != NULL && message[0] != '\0' ? message : signet_strerror(err));
	if (rep != NULL) {
		conn_send_json(c, rep, NULL, 0);
		json_decref(rep);
	}
}

/* Arm or disarm reading: a connection that may not queue more is simply not read. */
static void
conn_reading(struct conn *c, bool on)
{
	struct timeval idle = {c->srv->d->cfg->idle_timeout, 0};

	if (c->closed || c->reading == on) {
		return;
	}
	if (on) {
		event_add(c->rev, &idle);
	} else {
		event_del(c->rev);
	}
	c->reading = on;
}

/*
 * Backpressure: a connection is read only while it and the daemon are under
 * their in-flight limits, so memory held by parsed requests stays bounded by
 * max_requests packets whatever the clients send.
 */
static void
server_recheck_reading(struct server *s)
{
	const struct config *cfg = s->d->cfg;

	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		conn_reading(c, !s->draining && c->inflight < cfg->max_inflight &&
				    s->inflight < cfg->max_requests);
	}
}

static void
request_free(struct request *r)
{
	msg_close_fds(r->fds, &r->nfds);
	msg_close_fds(r->out_fds, &r->out_nfds);
	json_decref(r->result);
	json_decref(r->msg);
	json_decref(r->events);
	if (r->park_ev != NULL) {
		event_free(r->park_ev);
	}
	rules_free_subject(&r->subject);
	free(r);
}

static void
server_check_drained(struct server *s)
{
	if (s->draining && s->inflight == 0) {
		event_base_loopexit(s->d->base, NULL);
	}
}

static void
request_answer(struct request *r)
{
	struct conn *c = r->conn;
	struct server *s = c->srv;

	/* A watch that ends here (error, shutdown) is not the connection's any more. */
	if (c->watch == r) {
		c->watch = NULL;
	}

	if (!c->closed) {
		if (r->err == 0) {
			json_t *rep =
			    json_pack("{s:I, s:b, s:O}", "id", (json_int_t)r->id, "ok", 1, "result",
				      r->result != NULL ? r->result : json_object());
			if (rep != NULL) {
				conn_send_json(c, rep, r->out_fds, r->out_nfds);
				r->out_nfds = 0;
				json_decref(rep);
			}
		} else {
			conn_send_error(c, r->id, r->err, r->message);
		}
	}
	if (r->delay_released) {
		c->delayed--;
	} else {
		c->inflight--;
		s->inflight--;
	}
	if (r->delay_ev != NULL) {
		event_free(r->delay_ev);
		r->delay_ev = NULL;
	}
	request_free(r);
	/* Under the limits again: read what was paused (whether or not C is still open). */
	if (s->inflight + 1 == s->d->cfg->max_requests) {
		server_recheck_reading(s);
	} else if (!c->closed && !c->reading) {
		conn_reading(c, !s->draining && c->inflight < s->d->cfg->max_inflight &&
				    s->inflight < s->d->cfg->max_requests);
	}
	conn_free_if_done(c);
	server_check_drained(s);
}

/* Refusals of UID's connections waiting out their delay. */
static long
delayed_of_uid(const struct server *s, uid_t uid)
{
	long n = 0;

	for (const struct request *r = s->delayed; r != NULL; r = r->next) {
		n += r->conn->peer.uid == uid;
	}
	return n;
}

static void
delayed_unlink(struct server *s, struct request *r)
{
	for (struct request **p = &s->delayed; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			r->next = NULL;
			return;
		}
	}
}

static void
request_delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;

	delayed_unlink(r->conn->srv, r);
	request_answer(r);
}

/* At shutdown: answer everything still waiting out its delay now. */
static void
server_answer_delayed(struct server *s)
{
	while (s->delayed != NULL) {
		struct request *r = s->delayed;
		s->delayed = r->next;
		r->next = NULL;
		request_answer(r);
	}
}

static void
park_unlink(struct server *s, struct request *r)
{
	if (!r->parked) {
		return;
	}
	if (r->pprev != NULL) {
		r->pprev->pnext = r->pnext;
	} else {
		s->parked = r->pnext;
	}
	if (r->pnext != NULL) {
		r->pnext->pprev = r->pprev;
	}
	r->pprev = r->pnext = NULL;
	r->parked = false;
	if (r->park_ev != NULL) {
		event_del(r->park_ev);
	}
}

/* Between runs a parked request holds its connection's slot, not the daemon's. */
static void
park(struct server *s, struct request *r)
{
	r->parked = true;
	r->pprev = NULL;
	r->pnext = s->parked;
	if (s->parked != NULL) {
		s->parked->pprev = r;
	}
	s->parked = r;
	s->inflight--;
	server_check_drained(s);
}

static void park_drop(struct server *s, struct request *r, bool answer);

/* Run a parked request's handler again. */
static void
request_resume(struct request *r)
{
	struct server *s = r->conn->srv;

	if (s->draining || s->d->workers == NULL) {
		park_drop(s, r, true);
		return;
	}
	park_unlink(s, r);
	r->blocked = false;
	r->resumed = true;
	/* Its first run's deferred answer is long done: start this run clean. */
	atomic_store(&r->stage, REQ_RUNNING);
	r->err = 0;
	r->message[0] = '\0';
	json_decref(r->result);
	r->result = NULL;
	s->inflight++;
	workers_submit(s->d->workers, r);
}

static void
park_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	request_resume(arg);
}

/* Answer a parked request now and let it go (shutdown, or its connection closed). */
static void
park_drop(struct server *s, struct request *r, bool answer)
{
	struct conn *c = r->conn;

	park_unlink(s, r);
	if (c->watch == r) {
		c->watch = NULL;
	}
	if (answer && !c->closed) {
		conn_send_error(c, r->id, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
	}
	c->inflight--;
	request_free(r);
	conn_free_if_done(c);
}

/* A waiting or watching request came back from a worker: send what it has, park it again. */
static bool
request_continue(struct request *r)
{
	struct conn *c = r->conn;
	struct server *s = c->srv;

	if (r->mode == REQ_WATCH && !r->replied && c->watch != NULL && c->watch != r) {
		req_fail(r, SIGNET_ECONFLICT, "this connection is already watching events");
		return false;
	}
	if (r->mode == REQ_WAIT) {
		uint64_t now = time_mono_ms();
		uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
		struct timeval tv = {(time_t)(left / 1000), (suseconds_t)((left % 1000) * 1000)};
		if (r->park_ev == NULL) {
			r->park_ev = evtimer_new(s->d->base, park_deadline_cb, r);
		}
		if (r->park_ev == NULL || evtimer_add(r->park_ev, &tv) != 0) {
			req_fail(r, SIGNET_EUNAVAILABLE, "cannot wait now");
			return false;
		}
		park(s, r);
		/*
		 * The task may have ended between the handler's read (at event
		 * WATCH_NEXT) and now, its notice already gone by: look again.
		 */
		if (s->events_last > r->watch_next) {
			request_resume(r);
		}
		return true;
	}
	/* REQ_WATCH */
	if (!r->replied) {
		json_t *rep = json_pack("{s:I, s:b, s:O}", "id", (json_int_t)r->id, "ok", 1,
					"result", r->result != NULL ? r->result : json_object());
		if (rep != NULL) {
			conn_send_json(c, rep, NULL, 0);
			json_decref(rep);
		}
		r->replied = true;
		c->watch = r;
	}
	{
		size_t i;
		json_t *ev;
		json_array_foreach(r->events, i, ev) {
			json_t *pkt = json_pack("{s:O}", "event", ev);
			if (pkt != NULL && !c->closed) {
				conn_send_json(c, pkt, NULL, 0);
			}
			json_decref(pkt);
		}
		json_decref(r->events);
		r->events = NULL;
	}
	if (c->closed) {
		return false;
	}
	park(s, r);
	/* Resume only when a whole batch (and the reply) still fits in the output queue. */
	if (c->oq_len > OUTQ_MAX_PACKETS - WATCH_BATCH - 2) {
		r->blocked = true; /* conn_flush resumes it once the client has read */
	} else if (r->more || s->events_last >= r->watch_next) {
		request_resume(r);
	}
	return true;
}

/* On the loop: a worker finished R. */
static void
request_done(struct request *r, void *arg)
{
	if (r->mode != REQ_ONCE && r->err == 0) {
		struct server *s = r->conn->srv;
		if (r->conn->closed) {
			/* Nobody to answer. */
		} else if (s->draining) {
			req_fail(r, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
		} else {
			/* The token is not needed again: a parked request keeps no secret. */
			json_object_del(r->msg, "auth");
			r->token = r->tenant_hint = NULL;
			msg_close_fds(r->fds, &r->nfds);
			if (request_continue(r)) {
				return;
			}
		}
		if (r->conn->watch == r) {
			r->conn->watch = NULL;
		}
	}
	/* The request's text and descriptors are not needed for the answer: free them now. */
	json_decref(r->msg);
	r->msg = NULL;
	r->token = r->tenant_hint = NULL;
	jargs_init(&r->args, NULL);
	msg_close_fds(r->fds, &r->nfds);
	if (r->delay_ms > 0 && r->conn->peer.uid == r->conn->srv->d->gateway_uid) {
		/*
		 * The gateway waits out the delay itself, after it has given its
		 * connection back to its pool: held here, the refusals of a few bad
		 * HTTP clients would hold every pooled connection (signet-front(8)).
		 */
		r->delay_ms = 0;
	}
	if (r->delay_ms > 0 && !r->conn->closed && !r->conn->srv->draining) {
		/* The delay after a failed authentication waits on a timer, not on a thread. */
		struct timeval tv = {r->delay_ms / 1000, (r->delay_ms % 1000) * 1000};
		struct server *s = r->conn->srv;
		struct conn *c = r->conn;
		const struct config *cfg = s->d->cfg;
		long bound = c->peer.uid == s->d->gateway_uid ? cfg->auth_fail_max_gateway
							      : cfg->auth_fail_max_per_uid;
		if (r->authenticated && delayed_of_uid(s, c->peer.uid) >= bound) {
			/*
			 * A refused TOTP code of an authenticated user past the bound:
			 * answered now, not dropped (its outcome is already committed;
			 * the lockout, not the delay, is what stops guessing).
			 */
			request_answer(r);
			return;
		}
		if (delayed_of_uid(s, c->peer.uid) >= bound) {
			/* Past its own small bound: the connection goes, unanswered. */
			log_notice("connection from pid %ld (uid %ld): more than %ld failed "
				   "authentications waiting; closed",
				   (long)c->peer.pid, (long)c->peer.uid, bound);
			conn_close(c);
			request_answer(r);
			return;
		}
		r->delay_ev = evtimer_new(r->d->base, request_delayed_cb, r);
		if (r->delay_ev != NULL && evtimer_add(r->delay_ev, &tv) == 0) {
			r->next = s->delayed;
			s->delayed = r;
			/*
			 * Waiting is not work: the refusal leaves the in-flight counts
			 * (max_requests, max_inflight) so that bad tokens cannot stall
			 * anyone; its own bound is the one above.
			 */
			r->delay_released = true;
			c->inflight--;
			c->delayed++;
			if (s->inflight-- == cfg->max_requests) {
				server_recheck_reading(s);
			} else if (!c->reading) {
				conn_reading(c, !s->draining && c->inflight < cfg->max_inflight &&
						    s->inflight < cfg->max_requests);
			}
			return;
		}
	}
	request_answer(r);
}

static void
process_packet(struct conn *c, const uint8_t *buf, size_t len, int *fds, int nfds, int flags)
{
	struct server *s = c->srv;
	struct request *r = NULL;
	json_t *msg = NULL, *v, *auth;
	const char *why = NULL, *opname;
	const struct op_desc *op;
	json_int_t id = -1;

	if (flags & MSG_F_OVERSIZED) {
		msg_close_fds(fds, &nfds);
		conn_send_error(c, -1, SIGNET_ETOO_LARGE, "packet larger than 65536 bytes");
		return;
	}
	if (flags & MSG_F_CTRUNC) {
		msg_close_fds(fds, &nfds);
		conn_send_error(c, -1, SIGNET_EINVAL, "too many file descriptors attached");
		return;
	}
	msg = msg_parse(buf, len, &why);
	if (msg == NULL) {
		msg_close_fds(fds, &nfds);
		conn_send_error(c, -1, SIGNET_EINVAL, why);
		return;
	}
	v = json_object_get(msg, "id");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ID_MAX) {
		why = "'id' must be an integer from 0 to 2^53-1";
		goto invalid;
	}
	id = json_integer_value(v);
	{
		const char *k;
		json_t *e;
		json_object_foreach(msg, k, e) {
			if (strcmp(k, "id") != 0 && strcmp(k, "op") != 0 &&
			    strcmp(k, "auth") != 0 && strcmp(k, "args") != 0) {
				why = "unknown member in request";
				goto invalid;
			}
		}
	}
	v = json_object_get(msg, "op");
	if (!json_is_string(v)) {
		why = "'op' must be a string";
		goto invalid;
	}
	if (json_string_length(v) > 64) {
		why = "unknown op";
		goto invalid;
	}
	opname = json_string_value(v);
	op = dispatch_find(opname);
	if (op == NULL) {
		why = "unknown op";
		goto invalid;
	}
	v = json_object_get(msg, "args");
	if (v != NULL && !json_is_object(v)) {
		why = "'args' must be an object";
		goto invalid;
	}
	auth = json_object_get(msg, "auth");
	if (auth != NULL) {
		json_t *tok = json_object_get(auth, "token"),
		       *ten = json_object_get(auth, "tenant");
		if (!json_is_object(auth) || json_object_size(auth) > 2 ||
		    (json_object_size(auth) != (size_t)(tok != NULL) + (ten != NULL)) ||
		    (tok != NULL && (!json_is_string(tok) || json_string_length(tok) > 256)) ||
		    (ten != NULL && (!json_is_string(ten) || json_string_length(ten) > 64))) {
			why = "'auth' must be {\"token\": string, \"tenant\": string}";
			goto invalid;
		}
	}
	if (nfds > op->max_fds) {
		why = op->max_fds == 0 ? "file descriptors attached where none are expected"
				       : "more file descriptors attached than the op takes";
		goto invalid;
	}
	if ((op->flags & OP_LOCAL) && !c->local) {
		msg_close_fds(fds, &nfds);
		json_decref(msg);
		conn_send_error(c, id, SIGNET_EDENIED,
				"this operation is for local administrators only");
		return;
	}
	if ((op->flags & OP_MONITOR) && !c->local && c->peer.uid != s->d->gateway_uid) {
		msg_close_fds(fds, &nfds);
		json_decref(msg);
		conn_send_error(c, id, SIGNET_EDENIED,
				"this operation is for local administrators and the gateway only");
		return;
	}
	if (s->draining) {
		msg_close_fds(fds, &nfds);
		json_decref(msg);
		conn_send_error(c, id, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
		return;
	}
	if (c->inflight >= s->d->cfg->max_inflight) {
		msg_close_fds(fds, &nfds);
		json_decref(msg);
		conn_send_error(c, id, SIGNET_EUNAVAILABLE,
				"too many requests in flight on this connection");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		msg_close_fds(fds, &nfds);
		json_decref(msg);
		conn_send_error(c, id, SIGNET_EUNAVAILABLE, "out of memory");
		return;
	}
	r->d = s->d;
	r->conn = c;
	r->op = op;
	r->id = id;
	r->msg = msg;
	jargs_init(&r->args, json_object_get(msg, "args"));
	if (auth != NULL) {
		json_t *tok = json_object_get(auth, "token"),
		       *ten = json_object_get(auth, "tenant");
		r->token = tok != NULL ? json_string_value(tok) : NULL;
		r->tenant_hint = ten != NULL ? json_string_value(ten) : NULL;
	}
	r->peer = c->peer;
	r->local = c->local;
	for (int i = 0; i < nfds; i++) {
		r->fds[i] = fds[i];
	}
	r->nfds = nfds;
	c->inflight++;
	s->inflight++;
	atomic_fetch_add(&s->d->requests, 1);
	workers_submit(s->d->workers, r);
	if (c->inflight >= s->d->cfg->max_inflight) {
		conn_reading(c, false);
	}
	if (s->inflight >= s->d->cfg->max_requests) {
		server_recheck_reading(s);
	}
	return;
invalid:
	msg_close_fds(fds, &nfds);
	json_decref(msg);
	conn_send_error(c, id, SIGNET_EINVAL, why);
}

/* After a zero-length read: did the peer hang up, or send an empty packet? */
static bool
conn_peer_gone(struct conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};

	return poll(&p, 1, 0) != 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (what & EV_TIMEOUT) {
		if (c->inflight == 0 && c->oq_head == NULL) {
			log_debug("closing idle connection from pid %ld", (long)c->peer.pid);
			conn_close(c);
		}
		return;
	}
	/* Answering a packet may close the connection: keep it allocated until we are done. */
	c->holds++;
	for (int i = 0; i < PACKETS_PER_WAKEUP && !c->closed && c->reading; i++) {
		int fds[MSG_MAX_FDS], nfds = 0, flags = 0;
		long n = msg_recv(c->fd, c->srv->rbuf, MSG_MAX_SIZE, fds, &nfds, &flags);

		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			break;
		}
		if (n == 0 && !conn_peer_gone(c)) {
			/* A zero-length packet reads like end of stream; the peer is still there.
			 */
			conn_send_error(c, -1, SIGNET_EINVAL, "empty packet");
			continue;
		}
		if (n == 0 || (n < 0 && n != -ENODATA)) {
			msg_close_fds(fds, &nfds);
			conn_close(c);
			break;
		}
		process_packet(c, c->srv->rbuf, n < 0 ? 0 : (size_t)n, fds, nfds, flags);
		/* The packet may have carried an API token. */
		secure_wipe(c->srv->rbuf,
			    n < 0 ? 0 : (size_t)(n < MSG_MAX_SIZE ? n : MSG_MAX_SIZE));
	}
	c->holds--;
	conn_free_if_done(c);
}

static void
conn_close(struct conn *c)
{
	struct server *s = c->srv;

	if (c->closed) {
		return;
	}
	c->closed = true;
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	c->fd = -1;
	while (c->oq_head != NULL) {
		struct outpkt *p = c->oq_head;
		c->oq_head = p->next;
		outpkt_free(p);
	}
	c->oq_tail = NULL;
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		s->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	s->nconns--;
	atomic_fetch_sub(&s->d->connections, 1);
	c->holds++;
	for (struct request *r = s->parked, *next; r != NULL; r = next) {
		next = r->pnext;
		if (r->conn == c) {
			park_drop(s, r, false);
		}
	}
	/* Its refusals waiting out their delay have nobody to answer: gone now. */
	for (struct request *r = s->delayed, *next; r != NULL; r = next) {
		next = r->next;
		if (r->conn == c) {
			delayed_unlink(s, r);
			request_answer(r);
		}
	}
	c->watch = NULL;
	c->holds--;
	conn_free_if_done(c);
}

/* Local administrators: root and the daemon's own user, never the gateway's. */
static bool
peer_is_local(const struct daemon *d, uid_t uid)
{
	return uid != d->gateway_uid && (uid == 0 || uid == d->self_uid);
}

#define LOCAL_RESERVED_CONNS 8 /* slots only local administrators may take */

/*
 * One peer may not take every slot: each uid has its own cap, and the last
 * few slots are kept for local administrators so that they can always
 * connect to look and to stop what is going on.
 */
static bool
server_may_connect(struct server *s, uid_t uid)
{
	const struct config *cfg = s->d->cfg;
	bool local = peer_is_local(s->d, uid);
	long same = 0;

	if (s->nconns >= cfg->max_connections + (local ? LOCAL_RESERVED_CONNS : 0)) {
		return false;
	}
	if (local) {
		return true;
	}
	if (s->nconns >= cfg->max_connections - LOCAL_RESERVED_CONNS &&
	    cfg->max_connections > LOCAL_RESERVED_CONNS) {
		return false;
	}
	/* The gateway carries many users' requests: only the global cap applies to it. */
	if (uid == s->d->gateway_uid) {
		return true;
	}
	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		same += c->peer.uid == uid;
	}
	return same < cfg->max_connections_per_uid;
}

static void
server_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (!s->draining && s->lev != NULL) {
		event_add(s->lev, NULL);
	}
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct conn *c;
	struct timeval idle;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			/* The socket stays readable: pause the listener instead of spinning on it.
			 */
			struct timeval tv = {1, 0};
			log_warning("accept: out of file descriptors; not accepting for 1 s");
			event_del(s->lev);
			evtimer_add(s->accept_pause, &tv);
		} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			log_warning("accept: %s", strerror(errno));
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || clen != sizeof(cred)) {
		log_warning("refusing a connection whose peer credentials cannot be read");
		close(fd);
		return;
	}
	if (s->draining || !server_may_connect(s, cred.uid)) {
		log_warning("refusing a connection from uid %u: %s", (unsigned)cred.uid,
			    s->draining ? "shutting down" : "too many connections");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->peer.pid = cred.pid;
	c->peer.uid = cred.uid;
	c->peer.gid = cred.gid;
	c->local = peer_is_local(s->d, cred.uid);
	c->rev = event_new(s->d->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(s->d->base, fd, EV_WRITE, conn_write_cb, c);
	idle.tv_sec = s->d->cfg->idle_timeout;
	idle.tv_usec = 0;
	c->reading = true;
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, &idle) != 0) {
		if (c->rev != NULL) {
			event_free(c->rev);
		}
		if (c->wev != NULL) {
			event_free(c->wev);
		}
		close(fd);
		free(c);
		return;
	}
	if (s->inflight >= s->d->cfg->max_requests) {
		/* The daemon is at its limit: this connection waits like the others. */
		conn_reading(c, false);
	}
	c->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = c;
	}
	s->conns = c;
	s->nconns++;
	atomic_fetch_add(&s->d->connections, 1);
	log_debug("connection from pid %ld uid %u%s", (long)cred.pid, (unsigned)cred.uid,
		  c->local ? " (local admin)" : "");
}

/* Remove a stale socket file, but never one a live daemon answers on. */
static int
server_unlink_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		log_err("another daemon is listening on %s", path);
		return -1;
	}
	if (fd >= 0) {
		close(fd);
	}
	return unlink(path);
}

void
server_notify(struct server *s, const struct evnote *n)
{
	if (s == NULL || !s->nev_ok || n->last == 0) {
		return;
	}
	pthread_mutex_lock(&s->nlock);
	if (n->last > s->pending.last) {
		s->pending.last = n->last;
	}
	for (size_t i = 0; i < n->nfinal; i++) {
		if (s->pending.nfinal < sizeof(s->pending.final) / sizeof(s->pending.final[0])) {
			memcpy(s->pending.final[s->pending.nfinal++], n->final[i],
			       sizeof(n->final[i]));
		} else {
			s->pending.overflow = true;
		}
	}
	s->pending.overflow = s->pending.overflow || n->overflow;
	pthread_mutex_unlock(&s->nlock);
	/* Thread-safe with evthread_use_pthreads(). */
	event_active(s->nev, EV_READ, 0);
}

uint64_t
server_events_last(const struct server *s)
{
	return s->events_last;
}

static bool
note_has(const struct evnote *n, const char *id)
{
	if (n->overflow) {
		return true;
	}
	for (size_t i = 0; i < n->nfinal; i++) {
		if (strcmp(n->final[i], id) == 0) {
			return true;
		}
	}
	return false;
}

/* On the loop: new events were committed; wake the watchers and waiters they concern. */
static void
server_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct evnote n;

	pthread_mutex_lock(&s->nlock);
	n = s->pending;
	memset(&s->pending, 0, sizeof(s->pending));
	pthread_mutex_unlock(&s->nlock);
	if (n.last > s->events_last) {
		s->events_last = n.last;
	}
	for (struct request *r = s->parked, *next; r != NULL; r = next) {
		next = r->pnext;
		if (r->mode == REQ_WATCH && !r->blocked && r->watch_next <= s->events_last) {
			request_resume(r);
		} else if (r->mode == REQ_WAIT && note_has(&n, r->wait_task)) {
			request_resume(r);
		}
	}
}

static int
events_last_txn(struct store_txn *t, void *arg)
{
	*(uint64_t *)arg = events_last_seq(t);
	return 0;
}

int
server_start(struct daemon *d, struct server **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = d->cfg->socket_path;
	struct server *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return SIGNET_EINTERNAL;
	}
	s->d = d;
	s->lfd = -1;
	pthread_mutex_init(&s->nlock, NULL);
	s->nev = event_new(d->base, -1, EV_PERSIST, server_notify_cb, s);
	s->nev_ok = s->nev != NULL;
	if (store_read(d->store, events_last_txn, &s->events_last) != 0) {
		goto fail;
	}
	s->rbuf = malloc(MSG_MAX_SIZE);
	if (s->rbuf == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (server_unlink_stale(path) != 0) {
		goto fail;
	}
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		goto fail;
	}
	{
		/* Bind with a umask that yields 0660 at once: no window with looser modes. */
		mode_t old = umask(0117);
		int rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (rc != 0) {
			log_err("cannot bind %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (d->cfg->socket_group != NULL && d->cfg->socket_group[0] != '\0') {
		struct group *g = getgrnam(d->cfg->socket_group);
		if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) != 0) {
			log_err("cannot give %s to group %s", path, d->cfg->socket_group);
			goto fail;
		}
	}
	if (chmod(path, 0660) != 0 || listen(s->lfd, 128) != 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	s->lev = event_new(d->base, s->lfd, EV_READ | EV_PERSIST, server_accept_cb, s);
	s->accept_pause = evtimer_new(d->base, server_accept_resume_cb, s);
	if (s->lev == NULL || s->accept_pause == NULL || event_add(s->lev, NULL) != 0) {
		goto fail;
	}
	d->server = s;
	if (workers_start(d, (int)d->cfg->workers, dispatch_run, request_done, s, &d->workers) !=
	    0) {
		goto fail;
	}
	log_info("listening on %s", path);
	*out = s;
	return 0;
fail:
	d->server = NULL;
	server_free(s);
	return SIGNET_EINTERNAL;
}

static void
server_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	log_warning("shutdown: %ld requests still unanswered after the timeout", s->inflight);
	event_base_loopexit(s->d->base, NULL);
}

void
server_shutdown(struct server *s)
{
	struct timeval tv = {s->d->cfg->shutdown_timeout, 0};

	if (s->draining) {
		return;
	}
	s->draining = true;
	if (s->lev != NULL) {
		event_free(s->lev);
		s->lev = NULL;
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		s->lfd = -1;
		unlink(s->d->cfg->socket_path);
	}
	/* Read no more requests; queued and running ones are answered. */
	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		conn_reading(c, false);
	}
	s->drain_timer = evtimer_new(s->d->base, server_drain_timeout_cb, s);
	if (s->drain_timer != NULL) {
		evtimer_add(s->drain_timer, &tv);
	}
	server_answer_delayed(s);
	/* Inputs still being read or waiting for it are refused now, not waited for. */
	ingest_abort(s->d);
	while (s->parked != NULL) {
		park_drop(s, s->parked, true);
	}
	log_info("shutting down: %ld requests in flight", s->inflight);
	server_check_drained(s);
}

void
server_free(struct server *s)
{
	if (s == NULL) {
		return;
	}
	/* Workers finish what they hold; their answers go out or are dropped with the connection.
	 */
	workers_stop(s->d->workers);
	s->d->workers = NULL;
	server_answer_delayed(s);
	while (s->conns != NULL) {
		struct conn *c = s->conns;
		conn_flush(c);
		if (s->conns == c) {
			conn_close(c);
		}
	}
	if (s->drain_timer != NULL) {
		event_free(s->drain_timer);
	}
	if (s->accept_pause != NULL) {
		event_free(s->accept_pause);
	}
	if (s->lev != NULL) {
		event_free(s->lev);
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->d->cfg->socket_path);
	}
	free(s->rbuf);
	if (s->nev != NULL) {
		event_free(s->nev);
	}
	pthread_mutex_destroy(&s->nlock);
	free(s);
}

long
server_connections(const struct server *s)
{
	return s->nconns;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Web UI sessions: a random cookie stands for an API token held in the gateway's memory only. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "front/http.h"
#include "front/session.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define SESSION_ID_LEN   32 /* bytes: 256 random bits */
#define SESSION_ID_B64   43 /* base64url characters of them, unpadded */
#define SESSION_TOKEN    256
#define SESSION_SWEEP_MS 5000 /* how often ended sessions are looked for, and wiped */

/*
 * One session. The id, the CSRF token and the API token are secrets; the
 * array lives in locked memory kept out of core dumps (struct secret) and
 * every slot is wiped when its session ends.
 */
struct session {
	bool used;
	uint64_t gen; /* a number never given to another session: event streams watch it */
	uint8_t id[SESSION_ID_LEN];
	char csrf[SESSION_ID_B64 + 1];
	char token[SESSION_TOKEN + 1];
	char tenant[65];
	char user[65];
	uint64_t created_ms, used_ms;
};

struct sessions {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t sweeper;
	bool stop, started;
	struct secret mem;
	struct session *s; /* in mem */
	long max;
	uint64_t idle_ms, lifetime_ms;
	uint64_t next_gen;
};

static void
session_wipe_locked(struct session *e)
{
	secure_wipe(e, sizeof(*e));
}

static bool
session_over_locked(const struct sessions *ss, const struct session *e, uint64_t now)
{
	return now - e->used_ms >= ss->idle_ms || now - e->created_ms >= ss->lifetime_ms;
}

static void
sessions_sweep_locked(struct sessions *ss)
{
	uint64_t now = time_mono_ms();

	for (long i = 0; i < ss->max; i++) {
		if (ss->s[i].used && session_over_locked(ss, &ss->s[i], now)) {
			session_wipe_locked(&ss->s[i]);
		}
	}
}

/* Ended sessions are wiped within SESSION_SWEEP_MS, whether anyone asks for them or not. */
static void *
sessions_sweeper(void *arg)
{
	struct sessions *ss = arg;

	pthread_mutex_lock(&ss->lock);
	while (!ss->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += SESSION_SWEEP_MS / 1000;
		pthread_cond_timedwait(&ss->wake, &ss->lock, &ts);
		sessions_sweep_locked(ss);
	}
	pthread_mutex_unlock(&ss->lock);
	return NULL;
}

/* The session a Cookie header names, or NULL; ID gets the cookie's id. */
static struct session *
session_find_locked(struct sessions *ss, const char *cookie, uint8_t id[SESSION_ID_LEN])
{
	static const char name[] = SESSION_COOKIE "=";
	struct session *found = NULL;
	const char *p = cookie;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';') {
			p++;
		}
		if (strncmp(p, name, sizeof(name) - 1) == 0) {
			const char *v = p + sizeof(name) - 1;
			size_t n = strcspn(v, "; ");
			if (n != SESSION_ID_B64 ||
			    base64_decode(v, n, id, SESSION_ID_LEN, true) != SESSION_ID_LEN) {
				return NULL;
			}
			break;
		}
		p = strchr(p, ';');
	}
	if (p == NULL || *p == '\0') {
		return NULL;
	}
	sessions_sweep_locked(ss);
	/* Every slot is compared, in constant time: how far the search went tells nothing. */
	for (long i = 0; i < ss->max; i++) {
		bool same = CRYPTO_memcmp(ss->s[i].id, id, SESSION_ID_LEN) == 0;
		if (ss->s[i].used && same) {
			found = &ss->s[i];
		}
	}
	return found;
}

static const char *
req_header(struct req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

static void
cookie_set(struct req *q, const char *value, bool clear)
{
	snprintf(q->set_cookie, sizeof(q->set_cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
		 SESSION_COOKIE, value, q->f->cfg->tls_cert != NULL ? "; Secure" : "",
		 clear ? "; Max-Age=0" : "");
}

enum session_auth
session_req_auth(struct req *q)
{
	struct sessions *ss = q->f->sessions;
	const char *cookie = req_header(q, "Cookie");
	uint8_t id[SESSION_ID_LEN];
	enum session_auth r = SESSION_OK;
	struct session *e;

	if (ss == NULL || cookie == NULL || strstr(cookie, SESSION_COOKIE "=") == NULL) {
		return SESSION_NONE;
	}
	pthread_mutex_lock(&ss->lock);
	e = session_find_locked(ss, cookie, id);
	if (e == NULL) {
		r = SESSION_GONE;
	} else if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
		const char *h = req_header(q, SESSION_CSRF_HEADER);
		if (h == NULL || strlen(h) != SESSION_ID_B64 ||
		    CRYPTO_memcmp(h, e->csrf, SESSION_ID_B64) != 0) {
			r = SESSION_NO_CSRF;
		}
	}
	if (r == SESSION_OK) {
		q->auth = json_pack("{s:s, s:s}", "token", e->token, "tenant", e->tenant);
		if (q->auth == NULL) {
			r = SESSION_NOMEM;
		} else {
			e->used_ms = time_mono_ms();
			q->session_gen = e->gen;
		}
	}
	pthread_mutex_unlock(&ss->lock);
	secure_wipe(id, sizeof(id));
	if (r == SESSION_GONE) {
		cookie_set(q, "", true);
	}
	return r;
}

bool
session_alive(struct sessions *ss, uint64_t gen)
{
	bool alive = false;

	pthread_mutex_lock(&ss->lock);
	sessions_sweep_locked(ss);
	for (long i = 0; i < ss->max; i++) {
		alive |= ss->s[i].used && ss->s[i].gen == gen;
	}
	pthread_mutex_unlock(&ss->lock);
	return alive;
}

void
session_end_of(struct req *q)
{
	struct sessions *ss = q->f->sessions;

	if (ss == NULL || q->session_gen == 0) {
		return;
	}
	pthread_mutex_lock(&ss->lock);
	for (long i = 0; i < ss->max; i++) {
		if (ss->s[i].used && ss->s[i].gen == q->session_gen) {
			session_wipe_locked(&ss->s[i]);
		}
	}
	pthread_mutex_unlock(&ss->lock);
	cookie_set(q, "", true);
}

/*
 * A free slot for a session of TENANT/USER: its oldest one beyond
 * SESSION_PER_USER is ended; NULL when the table is full or the tenant holds
 * its share of it already (SESSION_TENANT_SHARE).
 */
static struct session *
session_slot_locked(struct sessions *ss, const char *tenant, const char *user)
{
	struct session *free_slot = NULL, *oldest = NULL;
	long share = ss->max / SESSION_TENANT_SHARE, ours = 0;
	int mine = 0;

	sessions_sweep_locked(ss);
	for (long i = 0; i < ss->max; i++) {
		struct session *e = &ss->s[i];
		if (!e->used) {
			free_slot = free_slot != NULL ? free_slot : e;
			continue;
		}
		if (strcmp(e->tenant, tenant) != 0) {
			continue;
		}
		ours++;
		if (strcmp(e->user, user) == 0) {
			mine++;
			if (oldest == NULL || e->created_ms < oldest->created_ms) {
				oldest = e;
			}
		}
	}
	if (mine >= SESSION_PER_USER) {
		session_wipe_locked(oldest);
		return oldest;
	}
	return ours < (share > 0 ? share : 1) ? free_slot : NULL;
}

static json_t *
session_info(const struct sessions *ss, const struct session *e, json_t *who)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "user", e->user, "tenant", e->tenant,
			      "csrfToken", e->csrf, "idleTimeout", (json_int_t)(ss->idle_ms / 1000),
			      "lifetime", (json_int_t)(ss->lifetime_ms / 1000));

	if (o != NULL && who != NULL) {
		json_object_set(o, "admin", json_object_get(who, "admin"));
		json_object_set(o, "client", json_object_get(who, "client"));
	}
	return o;
}

/* POST: the body's token (and tenant) checked with whoami, then a new session and its cookie. */
static enum MHD_Result
session_sign_in(struct req *q)
{
	struct sessions *ss = q->f->sessions;
	const char *site = req_header(q, "Sec-Fetch-Site");
	json_t *body, *who = NULL, *out = NULL;
	const char *tok, *tenant, *user;
	uint8_t id[SESSION_ID_LEN], csrf[SESSION_ID_LEN];
	char idtext[SESSION_ID_B64 + 1];
	struct session *e;
	struct call c;
	enum MHD_Result r;

	/* A page of another site cannot sign its visitor in as someone else. */
	if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
		return http_error(q, MHD_HTTP_FORBIDDEN, "denied",
				  "sign-in is taken from the gateway's own pages only");
	}
	body = http_body_object(q);
	if (q->buf != NULL) {
		secure_wipe(q->buf, q->cap);
	}
	if (body == NULL) {
		return MHD_YES;
	}
	tok = json_string_value(json_object_get(body, "token"));
	tenant = json_string_value(json_object_get(body, "tenant"));
	{
		const char *k;
		json_t *v;
		json_object_foreach (body, k, v) {
			if (strcmp(k, "token") != 0 && strcmp(k, "tenant") != 0) {
				json_decref(body);
				return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
						  "unknown member '%.64s'", k);
			}
		}
	}
	if (tok == NULL || tok[0] == '\0' || strlen(tok) > SESSION_TOKEN ||
	    (json_object_get(body, "tenant") != NULL && (tenant == NULL || tenant[0] != '\0') &&
	     (tenant == NULL || strlen(tenant) > 64 || !name_is_valid(tenant)))) {
		json_decref(body);
		return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
				  "token (at most 256 bytes) is required; tenant, when given, "
				  "is a tenant name");
	}
	q->auth = json_pack("{s:s}", "token", tok);
	if (q->auth != NULL && tenant != NULL && tenant[0] != '\0') {
		json_object_set_new(q->auth, "tenant", json_string(tenant));
	}
	json_decref(body);
	if (q->auth == NULL) {
		return http_error(q, 500, "internal", "out of memory");
	}
	http_call(q, "whoami", NULL, NULL, 0, &c);
	if (c.err != 0) {
		return http_call_reply(q, &c, MHD_HTTP_OK);
	}
	who = c.result;
	tenant = json_string_value(json_object_get(who, "tenant"));
	user = json_string_value(json_object_get(who, "user"));
	if (tenant == NULL || user == NULL || strlen(tenant) > 64 || strlen(user) > 64 ||
	    random_bytes(id, sizeof(id)) != 0 || random_bytes(csrf, sizeof(csrf)) != 0) {
		call_done(&c);
		return http_error(q, 500, "internal", "cannot open a session");
	}
	pthread_mutex_lock(&ss->lock);
	e = session_slot_locked(ss, tenant, user);
	if (e != NULL) {
		e->used = true;
		e->gen = ++ss->next_gen;
		memcpy(e->id, id, sizeof(id));
		base64_encode(csrf, sizeof(csrf), e->csrf, true);
		snprintf(e->token, sizeof(e->token), "%s",
			 json_string_value(json_object_get(q->auth, "token")));
		snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
		snprintf(e->user, sizeof(e->user), "%s", user);
		e->created_ms = e->used_ms = time_mono_ms();
		out = session_info(ss, e, who);
	}
	pthread_mutex_unlock(&ss->lock);
	call_done(&c);
	if (e == NULL) {
		r = http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			       "too many sessions are open (of this tenant, or in all): try "
			       "again later");
	} else {
		base64_encode(id, sizeof(id), idtext, true);
		cookie_set(q, idtext, false);
		/* Where the session is read again (GET), as every 201 says. */
		snprintf(q->location, sizeof(q->location), "%s", "/api/ui/session");
		r = http_json(q, MHD_HTTP_CREATED, out);
		secure_wipe(idtext, sizeof(idtext));
		secure_wipe(q->set_cookie, sizeof(q->set_cookie));
	}
	secure_wipe(id, sizeof(id));
	secure_wipe(csrf, sizeof(csrf));
	return r;
}

/* GET: the session of the request's cookie (the page reads its CSRF token after a reload). */
static enum MHD_Result
session_show(struct req *q)
{
	struct sessions *ss = q->f->sessions;
	json_t *out = NULL;

	if (q->session_gen == 0) {
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found",
				  "no session: this request was made with a bearer token");
	}
	pthread_mutex_lock(&ss->lock);
	for (long i = 0; i < ss->max; i++) {
		if (ss->s[i].used && ss->s[i].gen == q->session_gen) {
			out = session_info(ss, &ss->s[i], NULL);
		}
	}
	pthread_mutex_unlock(&ss->lock);
	if (out == NULL) {
		return http_error(q, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
				  "the session has ended: sign in again");
	}
	return http_json(q, MHD_HTTP_OK, out);
}

enum MHD_Result
session_handler(struct req *q)
{
	if (q->f->sessions == NULL) {
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
	}
	if (strcmp(q->method, "POST") == 0) {
		return session_sign_in(q);
	}
	if (strcmp(q->method, "DELETE") == 0) {
		/* The CSRF token was checked with the cookie (session_req_auth). */
		session_end_of(q);
		return http_json(q, MHD_HTTP_OK, json_pack("{s:b}", "signedOut", 1));
	}
	return session_show(q);
}

struct sessions *
sessions_new(long max, long idle_s, long lifetime_s)
{
	struct sessions *ss = calloc(1, sizeof(*ss));
	pthread_condattr_t ca;

	if (ss == NULL) {
		return NULL;
	}
	ss->max = max;
	ss->idle_ms = (uint64_t)idle_s * 1000;
	ss->lifetime_ms = (uint64_t)lifetime_s * 1000;
	if (secret_alloc(&ss->mem, (size_t)max * sizeof(struct session)) != 0) {
		free(ss);
		return NULL;
	}
	ss->s = (struct session *)ss->mem.data;
	memset(ss->s, 0, (size_t)max * sizeof(struct session));
	pthread_mutex_init(&ss->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ss->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&ss->sweeper, NULL, sessions_sweeper, ss) != 0) {
		log_err("cannot start the session sweeper");
		sessions_free(ss);
		return NULL;
	}
	ss->started = true;
	return ss;
}

void
sessions_free(struct sessions *ss)
{
	if (ss == NULL) {
		return;
	}
	if (ss->started) {
		pthread_mutex_lock(&ss->lock);
		ss->stop = true;
		pthread_cond_signal(&ss->wake);
		pthread_mutex_unlock(&ss->lock);
		pthread_join(ss->sweeper, NULL);
	}
	secret_free(&ss->mem); /* wiped */
	pthread_cond_destroy(&ss->wake);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Web UI sessions (front/session.c): a cookie in place of the bearer token, held in memory only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#define SESSION_COOKIE      "signet_session"
#define SESSION_CSRF_HEADER "X-CSRF-Token"
#define SESSION_PER_USER    8 /* sessions of one user at once; a ninth ends the oldest */
/* Sessions of one tenant at once: a quarter of the table (at least one); past it a sign-in of
 * another of its users is refused, so that no tenant fills the table for the others. */
#define SESSION_TENANT_SHARE 4

struct sessions;
struct req;

/* MAX sessions at once, each ended after IDLE_S seconds unused or LIFETIME_S in all. */
struct sessions *sessions_new(long max, long idle_s, long lifetime_s);
/* Wipes every session. S may be NULL. */
void sessions_free(struct sessions *s);

/* What session_req_auth found. */
enum session_auth {
	SESSION_OK,      /* q->auth holds the session's token and tenant */
	SESSION_NONE,    /* no session cookie */
	SESSION_GONE,    /* a cookie whose session ended (signed out, idle, too old) */
	SESSION_NO_CSRF, /* a state-changing request without the session's CSRF token */
	SESSION_NOMEM,
};

/*
 * The auth of a request without an Authorization header, from its session
 * cookie; a request other than GET and HEAD must carry the session's CSRF
 * token in SESSION_CSRF_HEADER. It counts as the session's use.
 */
enum session_auth session_req_auth(struct req *q);
/* Whether the session numbered GEN (q->session_gen) is still open. */
bool session_alive(struct sessions *s, uint64_t gen);
/* End the request's session (signetd refused its token). */
void session_end_of(struct req *q);

/* POST, GET, DELETE /api/ui/session: sign in with a token, read the session, sign out. */
enum MHD_Result session_handler(struct req *q);

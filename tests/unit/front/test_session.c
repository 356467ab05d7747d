/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for front/session.c: the cookie's parsing, CSRF, idle expiry and per-user eviction. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "front/http.h"
#include "front/session.h"

/*
 * front/session.c is linked alone: the gateway's HTTP and signetd calls below are stand-ins
 * that record what the session code answers and play whoami.
 */
static const char *hdr_cookie, *hdr_csrf;
static const char *who_user = "bob";
static const char *who_tenant = "acme";
static unsigned answered;
static char answered_cookie[160];
static json_t *answered_body;

const char *
MHD_lookup_connection_value(struct MHD_Connection *conn, enum MHD_ValueKind kind, const char *key)
{
	(void)conn;
	(void)kind;
	if (strcasecmp(key, "Cookie") == 0) {
		return hdr_cookie;
	}
	if (strcasecmp(key, SESSION_CSRF_HEADER) == 0) {
		return hdr_csrf;
	}
	return NULL;
}

static enum MHD_Result
answer(struct req *q, unsigned status, json_t *body)
{
	answered = status;
	snprintf(answered_cookie, sizeof(answered_cookie), "%s", q->set_cookie);
	json_decref(answered_body);
	answered_body = body;
	q->responded = true;
	return MHD_YES;
}

enum MHD_Result
http_json(struct req *q, unsigned status, json_t *body)
{
	return answer(q, status, body);
}

enum MHD_Result
http_error(struct req *q, unsigned status, const char *code, const char *fmt, ...)
{
	(void)fmt;
	return answer(q, status, json_pack("{s:s}", "code", code));
}

enum MHD_Result
http_call_reply(struct req *q, struct call *c, unsigned ok_status)
{
	return answer(q, c->err != 0 ? 401 : ok_status, NULL);
}

json_t *
http_body_object(struct req *q)
{
	return json_pack("{s:s}", "token", q->buf);
}

void
http_call(struct req *q, const char *op, json_t *args, const int *fds, int nfds, struct call *c)
{
	(void)args;
	(void)fds;
	(void)nfds;
	memset(c, 0, sizeof(*c));
	assert_string_equal(op, "whoami");
	assert_non_null(q->auth);
	c->result = json_pack("{s:s, s:s, s:b, s:b}", "tenant", who_tenant, "user", who_user, "admin",
			      0, "client", 0);
}

void
call_done(struct call *c)
{
	json_decref(c->result);
	c->result = NULL;
}

struct fixture {
	struct front_cfg cfg;
	struct front f;
};

static void
req_init(struct fixture *x, struct req *q, const char *method)
{
	memset(q, 0, sizeof(*q));
	q->f = &x->f;
	snprintf(q->method, sizeof(q->method), "%s", method);
}

static void
req_done(struct req *q)
{
	json_decref(q->auth);
	q->auth = NULL;
}

/* Sign in as WHO; the cookie's "signet_session=<id>" into COOKIE, the CSRF token into CSRF. */
static void
sign_in(struct fixture *x, const char *who, char cookie[80], char csrf[44])
{
	struct req q;
	char token[] = "sgn_test";

	who_user = who;
	hdr_cookie = NULL;
	hdr_csrf = NULL;
	req_init(x, &q, "POST");
	q.buf = token;
	q.cap = sizeof(token);
	assert_int_equal(session_handler(&q), MHD_YES);
	assert_int_equal(answered, 201);
	assert_string_equal(q.location, "/api/ui/session");
	assert_int_equal(strncmp(answered_cookie, SESSION_COOKIE "=", strlen(SESSION_COOKIE) + 1),
			 0);
	snprintf(cookie, 80, "%.*s", (int)strcspn(answered_cookie, ";"), answered_cookie);
	assert_int_equal(strlen(cookie), strlen(SESSION_COOKIE) + 1 + 43);
	snprintf(csrf, 44, "%s", json_string_value(json_object_get(answered_body, "csrfToken")));
	assert_int_equal(strlen(csrf), 43);
	req_done(&q);
}

/* What a request with the Cookie header COOKIE (and the CSRF header CSRF) gets. */
static enum session_auth
auth(struct fixture *x, const char *method, const char *cookie, const char *csrf)
{
	struct req q;
	enum session_auth r;

	hdr_cookie = cookie;
	hdr_csrf = csrf;
	answered_cookie[0] = '\0';
	req_init(x, &q, method);
	r = session_req_auth(&q);
	snprintf(answered_cookie, sizeof(answered_cookie), "%s", q.set_cookie);
	if (r == SESSION_OK) {
		assert_string_equal(json_string_value(json_object_get(q.auth, "token")),
				    "sgn_test");
		assert_true(q.session_gen != 0);
	}
	req_done(&q);
	return r;
}

static int
setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->f.cfg = &x->cfg;
	x->f.sessions = sessions_new(64, 1, 3600); /* idle after 1 s */
	assert_non_null(x->f.sessions);
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *x = *state;

	sessions_free(x->f.sessions);
	free(x);
	json_decref(answered_body);
	answered_body = NULL;
	return 0;
}

static void
test_cookie_parsing(void **state)
{
	struct fixture *x = *state;
	char cookie[80], csrf[44], hdr[256];
	const char *id;

	sign_in(x, "bob", cookie, csrf);
	id = cookie + strlen(SESSION_COOKIE) + 1;
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	/* Among other cookies, before and after, with or without spaces. */
	snprintf(hdr, sizeof(hdr), "theme=dark; %s; lang=en", cookie);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_OK);
	snprintf(hdr, sizeof(hdr), "a=1;%s", cookie);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_OK);
	/* No session cookie at all: not ours to judge. */
	assert_int_equal(auth(x, "GET", NULL, NULL), SESSION_NONE);
	assert_int_equal(auth(x, "GET", "theme=dark; lang=en", NULL), SESSION_NONE);
	/* A cookie whose name only ends like ours is not it. */
	snprintf(hdr, sizeof(hdr), "x%s", cookie);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
	/* Short, long, not base64url, or another id: gone, and the answer clears the cookie. */
	snprintf(hdr, sizeof(hdr), "%s=%.42s", SESSION_COOKIE, id);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
	assert_non_null(strstr(answered_cookie, "Max-Age=0"));
	snprintf(hdr, sizeof(hdr), "%sA", cookie);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
	snprintf(hdr, sizeof(hdr), "%s=%.42s+", SESSION_COOKIE, id);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
	snprintf(hdr, sizeof(hdr), "%s=%c%s", SESSION_COOKIE, id[0] == 'A' ? 'B' : 'A', id + 1);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
	snprintf(hdr, sizeof(hdr), "%s=", SESSION_COOKIE);
	assert_int_equal(auth(x, "GET", hdr, NULL), SESSION_GONE);
}

static void
test_csrf(void **state)
{
	struct fixture *x = *state;
	char cookie[80], csrf[44], other[44];

	sign_in(x, "bob", cookie, csrf);
	assert_int_equal(auth(x, "HEAD", cookie, NULL), SESSION_OK);
	assert_int_equal(auth(x, "POST", cookie, NULL), SESSION_NO_CSRF);
	assert_int_equal(auth(x, "DELETE", cookie, NULL), SESSION_NO_CSRF);
	memcpy(other, csrf, sizeof(other));
	other[0] = other[0] == 'A' ? 'B' : 'A';
	assert_int_equal(auth(x, "POST", cookie, other), SESSION_NO_CSRF);
	other[42] = '\0';
	assert_int_equal(auth(x, "POST", cookie, other), SESSION_NO_CSRF);
	assert_int_equal(auth(x, "POST", cookie, csrf), SESSION_OK);
}

static void
test_idle_expiry(void **state)
{
	struct fixture *x = *state;
	char cookie[80], csrf[44];
	struct req q;

	sign_in(x, "bob", cookie, csrf);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	/* Use keeps it open past the idle time... */
	for (int i = 0; i < 3; i++) {
		usleep(600 * 1000);
		assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	}
	/* ...not using it ends it, and the answer clears the cookie. */
	usleep(1100 * 1000);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_GONE);
	assert_non_null(strstr(answered_cookie, "Max-Age=0"));

	/* Signing out ends it at once. */
	sign_in(x, "bob", cookie, csrf);
	hdr_cookie = cookie;
	hdr_csrf = csrf;
	req_init(x, &q, "DELETE");
	assert_int_equal(session_req_auth(&q), SESSION_OK);
	assert_true(session_alive(x->f.sessions, q.session_gen));
	assert_int_equal(session_handler(&q), MHD_YES);
	assert_int_equal(answered, 200);
	assert_false(session_alive(x->f.sessions, q.session_gen));
	req_done(&q);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_GONE);
}

static void
test_lifetime(void **state)
{
	struct fixture *x = *state;
	char cookie[80], csrf[44];

	sessions_free(x->f.sessions);
	x->f.sessions = sessions_new(8, 3600, 1); /* ends 1 s after sign-in, used or not */
	assert_non_null(x->f.sessions);
	sign_in(x, "bob", cookie, csrf);
	usleep(500 * 1000);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	usleep(600 * 1000);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_GONE);
}

static void
test_per_user_eviction(void **state)
{
	struct fixture *x = *state;
	char cookie[SESSION_PER_USER + 1][80], csrf[44], carol[80];

	sign_in(x, "carol", carol, csrf);
	for (int i = 0; i < SESSION_PER_USER; i++) {
		sign_in(x, "bob", cookie[i], csrf);
		usleep(2000); /* distinct creation times: "oldest" is meant */
	}
	for (int i = 0; i < SESSION_PER_USER; i++) {
		assert_int_equal(auth(x, "GET", cookie[i], NULL), SESSION_OK);
	}
	/* A ninth session of bob's ends his oldest, and only it; carol's is not his. */
	sign_in(x, "bob", cookie[SESSION_PER_USER], csrf);
	assert_int_equal(auth(x, "GET", cookie[0], NULL), SESSION_GONE);
	for (int i = 1; i <= SESSION_PER_USER; i++) {
		assert_int_equal(auth(x, "GET", cookie[i], NULL), SESSION_OK);
	}
	assert_int_equal(auth(x, "GET", carol, NULL), SESSION_OK);
}

static void
test_full(void **state)
{
	struct fixture *x = *state;
	char cookie[80], csrf[44], name[16];
	struct req q;
	char token[] = "sgn_test";

	sessions_free(x->f.sessions);
	x->f.sessions = sessions_new(3, 3600, 3600);
	assert_non_null(x->f.sessions);
	/* Three tenants, one session each (a table of 3 gives a tenant one). */
	static const char *const tenants[] = {"t0", "t1", "t2"};
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		who_tenant = tenants[i];
		sign_in(x, name, cookie, csrf);
	}
	/* Every slot taken by other users: the next sign-in is refused, no one is pushed out. */
	who_tenant = "acme";
	who_user = "dave";
	req_init(x, &q, "POST");
	q.buf = token;
	q.cap = sizeof(token);
	assert_int_equal(session_handler(&q), MHD_YES);
	assert_int_equal(answered, 503);
	assert_string_equal(answered_cookie, "");
	req_done(&q);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
}

/* One tenant takes at most its share of the table; another tenant still signs in. */
static void
test_tenant_share(void **state)
{
	struct fixture *x = *state;
	long max = 4 * (SESSION_PER_USER + 2), share = max / SESSION_TENANT_SHARE;
	char cookie[80], csrf[44], name[16];
	struct req q;
	char token[] = "sgn_test";

	sessions_free(x->f.sessions);
	x->f.sessions = sessions_new(max, 3600, 3600);
	assert_non_null(x->f.sessions);
	who_tenant = "hostile";
	for (long i = 0; i < share; i++) {
		snprintf(name, sizeof(name), "user%ld", i);
		sign_in(x, name, cookie, csrf);
	}
	who_user = "one-more";
	req_init(x, &q, "POST");
	q.buf = token;
	q.cap = sizeof(token);
	assert_int_equal(session_handler(&q), MHD_YES);
	assert_int_equal(answered, 503);
	req_done(&q);
	/* Its sessions stay open (the last one signed in is user<share-1>'s)... */
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	/* ... and another tenant signs in while the table has room. */
	who_tenant = "acme";
	sign_in(x, "carol", cookie, csrf);
	assert_int_equal(auth(x, "GET", cookie, NULL), SESSION_OK);
	who_tenant = "acme";
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cookie_parsing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csrf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifetime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_per_user_eviction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tenant_share, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

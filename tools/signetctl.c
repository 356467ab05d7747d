/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl: the command-line client of the signetd socket API. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <qrencode.h>

#include "lib/audit_verify.h"
#include "lib/client.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/util.h"
#include "tools/ctl.h"

#define DEFAULT_SOCKET  "/run/signet/signetd.sock"
#define DEFAULT_TIMEOUT 120 /* seconds for the daemon to take a request and answer */
#define WAIT_CHUNK      300 /* seconds of one task.wait while --wait waits (the daemon allows 3600) */
#define COPY_CHUNK      (4 * 1024 * 1024)
#define MAX_GROUPS      32
#define MAX_LIST        64

struct opts {
	const char *socket;
	const char *token;
	const char *tenant;
	bool json;
	const char *admin;
	const char *alg;
	const char *description;
	const char *file;
	const char *pubkey;        /* audit verify: the audit public key (PEM) */
	const char *chain;         /* audit: ~appliance for local admins */
	const char *resource;      /* audit list: one resource */
	const char *metadata;      /* task package: the metadata file */
	const char *firmware[256]; /* task package: --firmware F, in order */
	int nfirmware;
	const char *subject;
	const char *output;
	bool client;
	const char *groups[MAX_GROUPS];
	int ngroups;
	int timeout;
	long limit;         /* listings: one page of at most this many (0: every page) */
	const char *cursor; /* listings: resume here */
	/* device configurations and tasks */
	const char *devconf;
	const char *input_b64;
	bool prehashed;
	const char *scheme, *hash, *encoding; /* task sign */
	long salt_length;                     /* task sign: -1 unless given */
	bool attach;
	const char *allow_schemes[MAX_LIST]; /* devconf: allowedSchemes */
	int nallow_schemes;
	const char *name;
	const char *sign_keys[MAX_LIST];
	int nsign_keys;
	bool no_sign_keys;       /* devconf update: signKeys [] */
	const char *package_key; /* the key that signs package headers */
	const char *enc_keys[MAX_LIST];
	int nenc_keys;
	const char *enc_cert;
	const char *cipher;
	const char *four_eyes;
	long quorum;
	const char *second_factor;
	const char *users[MAX_LIST];
	int nusers;
	const char *approvers[MAX_LIST];
	int napprovers;
	const char *status;
	const char *type;
	long long since; /* -1: from now */
	long count;      /* events: stop after this many (0: never) */
	const char *sha256;
	const char *otp;
	const char *reason;
	bool force;
	bool timeout_set;
	bool help;
	bool version;
	bool oldest_first; /* task list: the table oldest first */
	bool wait;         /* task sign|encrypt|package: until the task has ended */
};

static struct client cl = {.fd = -1};
static const char *sock_path;
static int timeout_ms;

static int
usage_error(const char *what)
{
	return ctl_fail(EXIT_USAGE, NULL, "see signetctl --help", "%s", what);
}

static json_t *
make_auth(const struct opts *o)
{
	json_t *a = json_object();

	if (o->token != NULL) {
		json_object_set_new(a, "token", json_string(o->token));
	}
	if (o->tenant != NULL) {
		json_object_set_new(a, "tenant", json_string(o->tenant));
	}
	return a;
}

static const char *
sval(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL ? s : "";
}

/* What to do about a failed connection to the socket. */
static const char *
connect_hint(int err)
{
	if (err == -EACCES || err == -EPERM) {
		return "the socket is open to root and the daemon's group only";
	}
	return "is signetd running? --socket PATH or SIGNET_SOCKET names its socket";
}

/* Has TOKEN an API token's form: "sgn_" and 43 characters of base64url? */
static bool
token_well_formed(const char *token)
{
	return strlen(token) == 47 && strncmp(token, "sgn_", 4) == 0 &&
	       strspn(token + 4,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43;
}

/*
 * What to do about a refusal. The daemon never says which check of a token
 * failed, and asking again without the tenant hint would be one more failed
 * authentication (delayed, audited, counted against the caller) whenever the
 * token is bad: the hint names the tenant hint as a cause and says how to
 * learn the token's tenant.
 */
static const char *
refusal_hint(const struct opts *o, const char *code, char *buf, size_t len)
{
	if (strcmp(code, "unauthenticated") != 0) {
		return NULL;
	}
	if (o->token == NULL) {
		return "give an API token with --token TOKEN or in SIGNET_TOKEN";
	}
	if (!token_well_formed(o->token)) {
		return "an API token is sgn_ and 43 characters of A-Z a-z 0-9 - _: check --token "
		       "or "
		       "SIGNET_TOKEN";
	}
	if (o->tenant != NULL) {
		snprintf(
		    buf, len,
		    "refused for tenant '%s' (--tenant or SIGNET_TENANT): the token may be "
		    "another tenant's (signetctl whoami without --tenant names its tenant), or "
		    "revoked or replaced",
		    o->tenant);
		return buf;
	}
	return "the token is mistyped, revoked or replaced (user token NAME issues a new one): "
	       "check --token or SIGNET_TOKEN";
}

/*
 * Call OP; on success return the result (caller decrefs), else print the
 * error and return NULL with *CODE set.
 */
static json_t *
call(struct opts *o, const char *op, json_t *args, const int *fds, int nfds, int *code, int *rfds,
     int *rnfds)
{
	json_t *auth = make_auth(o), *reply = NULL, *res;
	int tmpfds[MSG_MAX_FDS], tmpn = 0;
	char hint[256];
	int r;

	if (rfds == NULL) {
		rfds = tmpfds;
		rnfds = &tmpn;
	}
	/* Connect on first use: usage errors are reported before the daemon is needed. */
	if (cl.fd < 0 && (r = client_connect(&cl, sock_path, timeout_ms)) != 0) {
		*code = ctl_fail(EXIT_REFUSED, "unavailable", connect_hint(r),
				 "cannot connect to %s: %s", sock_path, strerror(-r));
		json_decref(auth);
		json_decref(args);
		return NULL;
	}
	r = client_call(&cl, op, auth, args, fds, nfds, &reply, rfds, rnfds);
	json_decref(auth);
	json_decref(args);
	if (r == -EMSGSIZE) {
		*code = ctl_fail(EXIT_USAGE, "too_large", NULL,
				 "the request does not fit in one 64 KiB packet; pass big inputs "
				 "as a file (--file)");
		return NULL;
	}
	if (r != 0) {
		*code = ctl_fail(EXIT_REFUSED, "unavailable", NULL, "talking to signetd failed: %s",
				 strerror(-r));
		return NULL;
	}
	if (rfds == tmpfds) {
		msg_close_fds(tmpfds, &tmpn);
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		const char *c = json_string_value(json_object_get(e, "code"));
		c = c != NULL ? c : "internal";
		*code = ctl_fail(EXIT_REFUSED, c, refusal_hint(o, c, hint, sizeof(hint)), "%s",
				 sval(e, "message"));
		json_decref(reply);
		return NULL;
	}
	res = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return res;
}

/* V on stdout, with every time also in RFC 3339 (ctl_json_times). */
static void
print_json(json_t *v)
{
	char *s;

	ctl_json_times(v);
	s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* Run a simple op and print the result: JSON with --json, else the FORMAT callback. */
static int
simple(struct opts *o, const char *op, json_t *args, const int *fds, int nfds,
       void (*human)(const json_t *res))
{
	int code = 0;
	json_t *res = call(o, op, args, fds, nfds, &code, NULL, NULL);

	if (res == NULL) {
		return code;
	}
	if (o->json || human == NULL) {
		print_json(res);
	} else {
		human(res);
	}
	json_decref(res);
	return 0;
}

/*
 * The pages of a listing OP (with BASE's arguments), from CURSOR0 (NULL:
 * the start), merged into one array under FIELD: with LIMIT, one page of
 * at most LIMIT, else every page. A "cursor" member says where the next
 * page starts. NULL (the error printed, *CODE set) when a page fails.
 */
static json_t *
list_fetch(struct opts *o, const char *op, const json_t *base, const char *field, long limit,
	   const char *cursor0, int *code)
{
	json_t *all = json_object(), *items = json_array();
	char *cursor = cursor0 != NULL ? strdup(cursor0) : NULL;

	json_object_set_new(all, field, items);
	for (;;) {
		json_t *args = base != NULL ? json_deep_copy(base) : json_object(), *res;
		json_object_set_new(args, "limit", json_integer(limit > 0 ? limit : 500));
		if (cursor != NULL) {
			json_object_set_new(args, "cursor", json_string(cursor));
		}
		res = call(o, op, args, NULL, 0, code, NULL, NULL);
		if (res == NULL) {
			free(cursor);
			json_decref(all);
			return NULL;
		}
		json_array_extend(items, json_object_get(res, field));
		free(cursor);
		cursor = json_string_value(json_object_get(res, "cursor")) != NULL
			     ? strdup(json_string_value(json_object_get(res, "cursor")))
			     : NULL;
		json_decref(res);
		if (cursor == NULL || limit > 0) {
			break;
		}
	}
	if (cursor != NULL) {
		json_object_set_new(all, "cursor", json_string(cursor));
	}
	free(cursor);
	return all;
}

/* A listing's end for people: where the next page starts, when one does. */
static void
print_more(const json_t *all)
{
	if (json_object_get(all, "cursor") != NULL) {
		printf("(more: --cursor %s)\n", sval(all, "cursor"));
	}
}

/*
 * A listing: with --limit, one page (its "cursor" says where the next
 * starts); otherwise every page, merged into one array under FIELD.
 */
static int
list_with(struct opts *o, const char *op, json_t *base, const char *field,
	  void (*human)(const json_t *res))
{
	int code = 0;
	json_t *all = list_fetch(o, op, base, field, o->limit, o->cursor, &code);

	json_decref(base);
	if (all == NULL) {
		return code;
	}
	if (o->json) {
		print_json(all);
	} else {
		human(all);
		print_more(all);
	}
	json_decref(all);
	return 0;
}

static int
list(struct opts *o, const char *op, const char *field, void (*human)(const json_t *res))
{
	return list_with(o, op, NULL, field, human);
}

#define DEVCONF_ID_LEN 36 /* a UUID */
#define DEVCONF_PREFIX "DEVICE_CONFIG:"

/* Is S the form of a device configuration id, a UUID? */
static bool
is_uuid(const char *s)
{
	if (strlen(s) != DEVCONF_ID_LEN) {
		return false;
	}
	for (int i = 0; i < DEVCONF_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL) {
			return false;
		}
	}
	return true;
}

/*
 * DC, a device configuration's id or name, as its id in ID. The daemon
 * takes ids only; a name is looked up among the device configurations the
 * user may view, and refused when none or more than one has it. Anything
 * of an id's form is taken as an id.
 */
static int
devconf_id(struct opts *o, const char *dc, char id[DEVCONF_ID_LEN + 1])
{
	json_t *all, *d, *found = json_array();
	size_t i;
	int code = 0;
	char ids[200] = "";

	if (is_uuid(dc)) {
		snprintf(id, DEVCONF_ID_LEN + 1, "%s", dc);
		json_decref(found);
		return 0;
	}
	if ((all = list_fetch(o, "devconf.list", NULL, "deviceConfigs", 0, NULL, &code)) == NULL) {
		json_decref(found);
		return code;
	}
	json_array_foreach(json_object_get(all, "deviceConfigs"), i, d) {
		if (strcmp(sval(d, "name"), dc) == 0) {
			json_array_append(found, d);
			if (strlen(ids) + DEVCONF_ID_LEN + 3 < sizeof(ids)) {
				strcat(ids, ids[0] != '\0' ? ", " : "");
				strcat(ids, sval(d, "id"));
			}
		}
	}
	if (json_array_size(found) == 1) {
		snprintf(id, DEVCONF_ID_LEN + 1, "%s", sval(json_array_get(found, 0), "id"));
	} else if (json_array_size(found) == 0) {
		code = ctl_fail(EXIT_REFUSED, "not_found",
				"signetctl devconf list shows those you may view",
				"no device configuration named '%s'", dc);
	} else {
		code = ctl_fail(EXIT_REFUSED, "conflict", "give the id of the one you mean",
				"%zu device configurations are named '%s': %s",
				json_array_size(found), dc, ids);
	}
	json_decref(found);
	json_decref(all);
	return code;
}

/* A resource of the ACL or the audit log: DEVICE_CONFIG:NAME becomes DEVICE_CONFIG:ID in BUF. */
static int
resource_arg(struct opts *o, const char **res, char *buf, size_t len)
{
	char id[DEVCONF_ID_LEN + 1];
	int r;

	if (strncmp(*res, DEVCONF_PREFIX, strlen(DEVCONF_PREFIX)) != 0) {
		return 0;
	}
	if ((r = devconf_id(o, *res + strlen(DEVCONF_PREFIX), id)) != 0) {
		return r;
	}
	snprintf(buf, len, DEVCONF_PREFIX "%s", id);
	*res = buf;
	return 0;
}

/* BYTES for people: "512 B", "3.2 MiB". */
static const char *
size_text(json_int_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

/* ", filesystem: X free of Y" for a status part that names its filesystem's space. */
static void
print_fs(const json_t *o)
{
	char a[32], b[32];

	if (json_is_integer(json_object_get(o, "fsFree"))) {
		printf("; filesystem: %s free of %s",
		       size_text(json_integer_value(json_object_get(o, "fsFree")), a, sizeof(a)),
		       size_text(json_integer_value(json_object_get(o, "fsSize")), b, sizeof(b)));
	}
	printf("\n");
}

static void
h_status_space(const json_t *st, const json_t *sp)
{
	char a[32], b[32], c[32];

	if (json_is_object(st)) {
		printf("store: %s in use, file %s (reserve %s)",
		       size_text(json_integer_value(json_object_get(st, "used")), a, sizeof(a)),
		       size_text(json_integer_value(json_object_get(st, "fileSize")), b, sizeof(b)),
		       size_text(json_integer_value(json_object_get(st, "reserve")), c, sizeof(c)));
		print_fs(st);
	}
	if (json_is_object(sp)) {
		printf("spool: %lld files, %s",
		       (long long)json_integer_value(json_object_get(sp, "files")),
		       size_text(json_integer_value(json_object_get(sp, "used")), a, sizeof(a)));
		if (json_is_integer(json_object_get(sp, "reserve"))) {
			printf(" (claimed %s, reserve %s)",
			       size_text(json_integer_value(json_object_get(sp, "claimed")), b,
					 sizeof(b)),
			       size_text(json_integer_value(json_object_get(sp, "reserve")), c,
					 sizeof(c)));
		}
		print_fs(sp);
	}
	if (json_is_true(json_object_get(st, "full"))) {
		printf("FULL: no room for the store's reserve: only cancel, reject and expiry are "
		       "accepted until space is freed\n");
	}
}

static void
h_status(const json_t *r)
{
	const json_t *t = json_object_get(r, "token"), *c = json_object_get(r, "counts");

	char up[32];

	printf("signetd %s, up %s (since %s)\n", sval(r, "version"),
	       ctl_duration(json_integer_value(json_object_get(r, "uptime")), up, sizeof(up)),
	       sval(r, "started"));
	printf("token: %s (%s %s, serial %s)%s\n", sval(t, "label"), sval(t, "manufacturer"),
	       sval(t, "model"), sval(t, "serial"),
	       json_is_true(json_object_get(t, "available")) ? "" : " UNAVAILABLE");
	printf("tenants: %lld, users: %lld, keys: %lld\n",
	       (long long)json_integer_value(json_object_get(c, "tenants")),
	       (long long)json_integer_value(json_object_get(c, "users")),
	       (long long)json_integer_value(json_object_get(c, "keys")));
	printf("connections: %lld, workers: %lld\n",
	       (long long)json_integer_value(json_object_get(r, "connections")),
	       (long long)json_integer_value(json_object_get(r, "workers")));
	h_status_space(json_object_get(r, "store"), json_object_get(r, "spool"));
	if (json_is_object(json_object_get(r, "ingest"))) {
		const json_t *in = json_object_get(r, "ingest");
		printf("ingest: %lld reading, %lld waiting (%lld threads)\n",
		       (long long)json_integer_value(json_object_get(in, "running")),
		       (long long)json_integer_value(json_object_get(in, "waiting")),
		       (long long)json_integer_value(json_object_get(in, "threads")));
	}
}

static int
c_status(struct opts *o, char **a)
{
	return simple(o, "status", NULL, NULL, 0, h_status);
}

static void
h_metrics(const json_t *r)
{
	fputs(sval(r, "text"), stdout);
}

static int
c_metrics(struct opts *o, char **a)
{
	return simple(o, "metrics", NULL, NULL, 0, h_metrics);
}

/* "X of Y" (or "X, no quota") for a part of whoami's spool object. */
static void
print_use(const char *who, const json_t *u)
{
	char a[32], b[32];

	printf("%s %s", who,
	       size_text(json_integer_value(json_object_get(u, "used")), a, sizeof(a)));
	if (json_is_integer(json_object_get(u, "quota"))) {
		printf(" of %s",
		       size_text(json_integer_value(json_object_get(u, "quota")), b, sizeof(b)));
	} else {
		printf(", no quota");
	}
}

static void
h_whoami(const json_t *r)
{
	const json_t *sp = json_object_get(r, "spool");

	printf("USER:%s of tenant %s%s%s\n", sval(r, "user"), sval(r, "tenant"),
	       json_is_true(json_object_get(r, "admin")) ? " (initial admin)" : "",
	       json_is_true(json_object_get(r, "local")) ? ", local" : "");
	if (json_is_object(sp)) {
		print_use("spool: yours", json_object_get(sp, "user"));
		print_use("; the tenant's", json_object_get(sp, "tenant"));
		printf("\n");
	}
}

static int
c_whoami(struct opts *o, char **a)
{
	return simple(o, "whoami", NULL, NULL, 0, h_whoami);
}

static void
h_token(const json_t *r)
{
	if (json_object_get(r, "tenant") != NULL) {
		printf("tenant: %s\n", sval(r, "tenant"));
	}
	printf("user: %s\n",
	       json_object_get(r, "admin") != NULL ? sval(r, "admin") : sval(r, "user"));
	printf("token: %s\n", sval(r, "token"));
	printf("(the token is shown once; signetd keeps only its hash)\n");
}

static int
c_tenant_create(struct opts *o, char **a)
{
	if (o->admin == NULL) {
		return usage_error("tenant create needs --admin USER");
	}
	return simple(o, "tenant.create", json_pack("{s:s, s:s}", "name", a[0], "admin", o->admin),
		      NULL, 0, h_token);
}

static void
h_tenants(const json_t *r)
{
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(r, "tenants"), i, t) {
		printf("%s\tadmin %s\n", sval(t, "name"), sval(t, "admin"));
	}
}

static int
c_tenant_list(struct opts *o, char **a)
{
	return list(o, "tenant.list", "tenants", h_tenants);
}

static int
c_user_create(struct opts *o, char **a)
{
	json_t *groups = json_array();

	for (int i = 0; i < o->ngroups; i++) {
		json_array_append_new(groups, json_string(o->groups[i]));
	}
	return simple(
	    o, "user.create",
	    json_pack("{s:s, s:o, s:b}", "name", a[0], "groups", groups, "client", o->client), NULL,
	    0, h_token);
}

static void
h_user(const json_t *u)
{
	size_t i;
	json_t *g;

	printf("%s%s%s", sval(u, "name"),
	       json_is_true(json_object_get(u, "admin")) ? " [admin]" : "",
	       json_is_true(json_object_get(u, "client")) ? " [client]" : "");
	json_array_foreach(json_object_get(u, "groups"), i, g) {
		printf("%s%s", i == 0 ? "\tgroups " : ",", json_string_value(g));
	}
	printf("%s\n", json_is_true(json_object_get(u, "hasToken")) ? "" : "\t(no token)");
}

static void
h_users(const json_t *r)
{
	size_t i;
	json_t *u;

	json_array_foreach(json_object_get(r, "users"), i, u) {
		h_user(u);
	}
}

static int
c_user_list(struct opts *o, char **a)
{
	return list(o, "user.list", "users", h_users);
}

static int
c_user_show(struct opts *o, char **a)
{
	return simple(o, "user.show", json_pack("{s:s}", "name", a[0]), NULL, 0, h_user);
}

static int
c_user_token(struct opts *o, char **a)
{
	return simple(o, "user.token", json_pack("{s:s}", "name", a[0]), NULL, 0, h_token);
}

static void
h_revoked(const json_t *r)
{
	printf("token of %s revoked\n", sval(r, "user"));
}

static int
c_user_revoke(struct opts *o, char **a)
{
	return simple(o, "user.revoke", json_pack("{s:s}", "name", a[0]), NULL, 0, h_revoked);
}

static void
h_key(const json_t *k)
{
	printf("label: %s\nalgorithm: %s\n", sval(k, "label"), sval(k, "algorithm"));
	if (sval(k, "description")[0] != '\0') {
		printf("description: %s\n", sval(k, "description"));
	}
	printf("uri: %s\norigin: %s\nusable: %s\n", sval(k, "uri"), sval(k, "origin"),
	       json_is_true(json_object_get(k, "usable")) ? "yes" : "NO");
	if (sval(k, "problem")[0] != '\0') {
		printf("problem: %s\n", sval(k, "problem"));
	}
	if (sval(k, "certSubject")[0] != '\0') {
		printf("certificate: %s (until %s)\n", sval(k, "certSubject"),
		       sval(k, "certNotAfter"));
	}
	if (sval(k, "purpose")[0] != '\0') {
		printf("purpose: %s (since device configuration %s)\n", sval(k, "purpose"),
		       sval(k, "purposeDeviceConfig"));
	}
	if (sval(k, "publicKeyPem")[0] != '\0') {
		fputs(sval(k, "publicKeyPem"), stdout);
	}
}

static int
open_input(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "cannot open %s: %s", path,
				strerror(errno));
	}
	return 0;
}

static int
c_key_generate(struct opts *o, char **a)
{
	json_t *args;

	if (o->alg == NULL) {
		return usage_error("key generate needs --alg ALG");
	}
	args = json_pack("{s:s, s:s}", "label", a[0], "alg", o->alg);
	if (o->description != NULL) {
		json_object_set_new(args, "description", json_string(o->description));
	}
	return simple(o, "key.generate", args, NULL, 0, h_key);
}

static int
c_key_import(struct opts *o, char **a)
{
	json_t *args;
	int fd, r;

	if (o->alg == NULL || o->file == NULL) {
		return usage_error("key import needs --alg AES_256|AES_128 and --file RAWKEY");
	}
	if ((r = open_input(o->file, &fd)) != 0) {
		return r;
	}
	args = json_pack("{s:s, s:s}", "label", a[0], "alg", o->alg);
	if (o->description != NULL) {
		json_object_set_new(args, "description", json_string(o->description));
	}
	r = simple(o, "key.import", args, &fd, 1, h_key);
	close(fd);
	return r;
}

static void
h_keys(const json_t *r)
{
	size_t i;
	json_t *k;

	json_array_foreach(json_object_get(r, "keys"), i, k) {
		printf("%s\t%s\t%s%s\n", sval(k, "label"), sval(k, "algorithm"), sval(k, "origin"),
		       json_is_true(json_object_get(k, "usable")) ? "" : "\tUNUSABLE");
	}
}

static int
c_key_list(struct opts *o, char **a)
{
	return list(o, "key.list", "keys", h_keys);
}

static void
h_report(const json_t *r)
{
	if (json_object_get(r, "id") != NULL) {
		printf("id: %s\nkind: %s\n", sval(r, "id"), sval(r, "kind"));
	} else {
		printf("valid: yes\n");
	}
	printf("gateway: %s\nsigner: %s\nsigner fingerprint: %s\nanchor: %s\nsha256: %s\n",
	       sval(r, "gatewayId"), sval(r, "signerSubject"), sval(r, "signerFingerprint"),
	       sval(r, "anchorFingerprint"), sval(r, "sha256"));
}

static void
h_reports(const json_t *r)
{
	size_t i;
	json_t *x;

	json_array_foreach(json_object_get(r, "reports"), i, x) {
		printf("%s\t%s\t%s\t%s\t%lld bytes\t%s\n", sval(x, "id"), sval(x, "kind"),
		       sval(x, "gatewayId"), sval(x, "signerSubject"),
		       (long long)json_integer_value(json_object_get(x, "size")),
		       sval(x, "anchorFingerprint"));
	}
}

/* report verify FILE | report submit FILE --type SYSTEM|UPDATE */
static int
report_call(struct opts *o, const char *op, json_t *args, const char *path)
{
	int fd, r;

	if ((r = open_input(path, &fd)) != 0) {
		json_decref(args);
		return r;
	}
	r = simple(o, op, args, &fd, 1, h_report);
	close(fd);
	return r;
}

static int
c_report_verify(struct opts *o, char **a)
{
	return report_call(o, "report.verify", NULL, a[0]);
}

static int
c_report_submit(struct opts *o, char **a)
{
	return report_call(o, "report.submit",
			   json_pack("{s:s}", "kind", o->type != NULL ? o->type : "SYSTEM"), a[0]);
}

static int
c_report_list(struct opts *o, char **a)
{
	return list(o, "report.list", "reports", h_reports);
}

static int
c_key_show(struct opts *o, char **a)
{
	json_t *args = json_pack("{s:s}", "label", a[0]);
	char id[DEVCONF_ID_LEN + 1];
	int r;

	/* A user who may use a configuration reads the public part of its keys: name it. */
	if (o->devconf != NULL) {
		if ((r = devconf_id(o, o->devconf, id)) != 0) {
			json_decref(args);
			return r;
		}
		json_object_set_new(args, "deviceConfig", json_string(id));
	}
	return simple(o, "key.show", args, NULL, 0, h_key);
}

/* Is PATH "-", standard output? */
static bool
is_stdout(const char *path)
{
	return path != NULL && strcmp(path, "-") == 0;
}

/* LEN bytes of DATA to PATH (replaced atomically), or to standard output for NULL or "-". */
static int
write_output(const char *path, const void *data, size_t len)
{
	if (path == NULL || is_stdout(path)) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
			return ctl_fail(EXIT_REFUSED, NULL, NULL,
					"cannot write standard output: %s", strerror(errno));
		}
		return 0;
	}
	if (file_write_atomic(path, data, len, 0644) != 0) {
		return ctl_fail(EXIT_REFUSED, NULL, NULL, "cannot write %s", path);
	}
	return 0;
}

/* SIZE bytes of IN from its start to OUT (at OUT's offset), telling the progress line. 0 or -1. */
static int
copy_fd(int in, uint64_t size, int out)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		/* In pieces, so that the progress line moves. */
		uint64_t left = size - (uint64_t)off, want = left < COPY_CHUNK ? left : COPY_CHUNK;
		ssize_t n = copy_file_range(in, &off, out, NULL, want, 0);
		if (n <= 0) {
			/* To a pipe, or across file systems on older kernels: by hand. */
			char buf[1 << 16];
			ssize_t m = pread(in, buf, want < sizeof(buf) ? want : sizeof(buf), off);
			if (m <= 0 || write_all(out, buf, (size_t)m) != 0) {
				return -1;
			}
			off += m;
		}
		ctl_progress_set((uint64_t)off);
	}
	return 0;
}

/*
 * SIZE bytes of IN to PATH: a temporary file beside it, synced and renamed
 * into place (mode 0644); or to standard output for "-".
 */
static int
save_fd(int in, uint64_t size, const char *path)
{
	char tmp[PATH_MAX];
	int out, code = 0;

	if (size >= CTL_PROGRESS_MIN) {
		ctl_progress_start(is_stdout(path) ? "standard output" : path, size);
	}
	if (is_stdout(path)) {
		if (fflush(stdout) != 0 || copy_fd(in, size, STDOUT_FILENO) != 0) {
			return ctl_fail(EXIT_REFUSED, NULL, NULL,
					"cannot write standard output: %s", strerror(errno));
		}
		ctl_progress_stop();
		return 0;
	}
	if (!str_printf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) ||
	    (out = mkostemp(tmp, O_CLOEXEC)) < 0) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "cannot create %s: %s", path,
				strerror(errno));
	}
	if (copy_fd(in, size, out) != 0 || fsync(out) != 0 || fchmod(out, 0644) != 0 ||
	    rename(tmp, path) != 0) {
		code = ctl_fail(EXIT_REFUSED, NULL, NULL, "cannot write %s", path);
		unlink(tmp);
	}
	ctl_progress_stop();
	close(out);
	return code;
}

/* An empty unlinked file in TMPDIR (default /var/tmp), or -1 with the error printed. */
static int
temp_file(void)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/var/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		ctl_fail(EXIT_USAGE, NULL, "TMPDIR names where it goes",
			 "cannot make a file in %s: %s", dir, strerror(errno));
	}
	return fd;
}

static int
c_key_csr(struct opts *o, char **a)
{
	int code = 0;
	json_t *res;

	if (o->subject == NULL) {
		return usage_error("key csr needs --subject /CN=...");
	}
	res = call(o, "key.csr", json_pack("{s:s, s:s}", "label", a[0], "subject", o->subject),
		   NULL, 0, &code, NULL, NULL);
	if (res == NULL) {
		return code;
	}
	/* -o FILE writes the file also with --json, which then prints the result. */
	if (!o->json || (o->output != NULL && !is_stdout(o->output))) {
		code = write_output(o->output, sval(res, "csrPem"), strlen(sval(res, "csrPem")));
	}
	if (code == 0 && o->json) {
		print_json(res);
	}
	json_decref(res);
	return code;
}

static void
h_cert(const json_t *r)
{
	printf("certificate chain of %lld attached to %s: %s (until %s)\n",
	       (long long)json_integer_value(json_object_get(r, "chainLength")), sval(r, "label"),
	       sval(r, "certSubject"), sval(r, "certNotAfter"));
}

static int
c_key_cert(struct opts *o, char **a)
{
	int fd, r;

	if (o->file == NULL) {
		return usage_error("key cert needs --file CHAIN.pem");
	}
	if ((r = open_input(o->file, &fd)) != 0) {
		return r;
	}
	r = simple(o, "key.cert", json_pack("{s:s}", "label", a[0]), &fd, 1, h_cert);
	close(fd);
	return r;
}

static void
h_backup(const json_t *r)
{
	printf("backup written: %lld bytes\n",
	       (long long)json_integer_value(json_object_get(r, "bytes")));
}

static int
c_backup(struct opts *o, char **a)
{
	int fd, r;

	/* We open the file: the daemon only ever writes to the descriptor we hand it. */
	fd = open(a[0], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "cannot create %s: %s", a[0],
				strerror(errno));
	}
	r = simple(o, "backup", NULL, &fd, 1, h_backup);
	close(fd);
	if (r != 0) {
		unlink(a[0]);
	}
	return r;
}

/* ACL */

static void
h_rule(const json_t *r)
{
	printf("%s\t%s\t%s\n", sval(r, "subject"), sval(r, "resource"), sval(r, "action"));
}

/* acl add|remove SUBJECT RESOURCE ACTION, a device configuration by name or id. */
static int
acl_change(struct opts *o, const char *op, char **a)
{
	char buf[sizeof(DEVCONF_PREFIX) + DEVCONF_ID_LEN];
	const char *res = a[1];
	int r;

	if ((r = resource_arg(o, &res, buf, sizeof(buf))) != 0) {
		return r;
	}
	return simple(
	    o, op, json_pack("{s:s, s:s, s:s}", "subject", a[0], "resource", res, "action", a[2]),
	    NULL, 0, h_rule);
}

static int
c_acl_add(struct opts *o, char **a)
{
	return acl_change(o, "acl.add", a);
}

static int
c_acl_remove(struct opts *o, char **a)
{
	return acl_change(o, "acl.remove", a);
}

static void
h_rules(const json_t *r)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r, "rules"), i, e) {
		printf("%s\t%s\t%s", sval(e, "subject"), sval(e, "resource"), sval(e, "action"));
		if (json_is_true(json_object_get(e, "fixed"))) {
			printf("\t(initial admin, fixed)");
		}
		if (json_object_get(e, "task") != NULL) {
			printf("\t(task %s: %s with key %s)", sval(e, "task"), sval(e, "operation"),
			       sval(e, "key"));
		} else if (json_object_get(e, "deviceConfig") != NULL) {
			printf("\t(from the device configuration)");
		}
		printf("\n");
	}
}

static int
c_acl_list(struct opts *o, char **a)
{
	return list(o, "acl.list", "rules", h_rules);
}

/* Tenant configuration */

static void
h_config(const json_t *r)
{
	char *v = json_dumps(json_object_get(r, "value"), JSON_ENCODE_ANY | JSON_COMPACT);

	printf("%s = %s\n", sval(r, "key"), v != NULL ? v : "?");
	free(v);
}

static int
c_config_get(struct opts *o, char **a)
{
	return simple(o, "config.get", json_pack("{s:s}", "key", a[0]), NULL, 0, h_config);
}

static int
c_config_set(struct opts *o, char **a)
{
	json_error_t err;
	json_t *v = json_loads(a[1], JSON_DECODE_ANY, &err);

	if (v == NULL) {
		return usage_error(
		    "config set takes KEY and a JSON value (true, 12, \"text\", [...])");
	}
	return simple(o, "config.set", json_pack("{s:s, s:o}", "key", a[0], "value", v), NULL, 0,
		      h_config);
}

/* Device configurations */

static json_t *
str_array(const char *const *v, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++) {
		json_array_append_new(a, json_string(v[i]));
	}
	return a;
}

/* The device configuration fields given on the command line; NULL after a usage error. */
static json_t *
devconf_args(struct opts *o)
{
	json_t *args = json_object();

	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (o->description != NULL) {
		json_object_set_new(args, "description", json_string(o->description));
	}
	if (o->nsign_keys > 0 && o->no_sign_keys) {
		json_decref(args);
		usage_error("--sign-key and --no-sign-keys exclude each other");
		return NULL;
	}
	if (o->package_key != NULL) {
		json_object_set_new(args, "packageKey", json_string(o->package_key));
	}
	if (o->nsign_keys > 0 || o->no_sign_keys) {
		json_object_set_new(args, "signKeys", str_array(o->sign_keys, o->nsign_keys));
	}
	if (o->nenc_keys > 0) {
		json_object_set_new(args, "encryptKeys", str_array(o->enc_keys, o->nenc_keys));
	}
	if (o->enc_cert != NULL) {
		uint8_t *pem = NULL;
		size_t len = 0;
		int fd;
		if (open_input(o->enc_cert, &fd) != 0) {
			json_decref(args);
			return NULL;
		}
		if (fd_read_all(fd, 16 * 1024, &pem, &len) != 0) {
			ctl_fail(EXIT_USAGE, NULL, NULL,
				 "%s: not a readable file of at most 16 KiB", o->enc_cert);
			close(fd);
			json_decref(args);
			return NULL;
		}
		close(fd);
		json_object_set_new(args, "encryptCert", json_stringn((const char *)pem, len));
		free(pem);
	}
	if (o->cipher != NULL) {
		json_object_set_new(args, "cipher", json_string(o->cipher));
	}
	if (o->four_eyes != NULL) {
		if (strcmp(o->four_eyes, "on") != 0 && strcmp(o->four_eyes, "off") != 0) {
			json_decref(args);
			usage_error("--four-eyes takes on or off");
			return NULL;
		}
		json_object_set_new(args, "fourEyes",
				    json_boolean(strcmp(o->four_eyes, "on") == 0));
	}
	if (o->quorum > 0) {
		json_object_set_new(args, "quorum", json_integer(o->quorum));
	}
	if (o->second_factor != NULL) {
		json_object_set_new(args, "secondFactor", json_string(o->second_factor));
	}
	if (o->nusers > 0) {
		json_object_set_new(args, "users", str_array(o->users, o->nusers));
	}
	if (o->napprovers > 0) {
		json_object_set_new(args, "approvers", str_array(o->approvers, o->napprovers));
	}
	if (o->nallow_schemes > 0) {
		json_object_set_new(args, "allowedSchemes",
				    str_array(o->allow_schemes, o->nallow_schemes));
	}
	return args;
}

static void
h_devconf(const json_t *r)
{
	const json_t *ap = json_object_get(r, "approval");
	json_t *fe = json_object_get(ap, "fourEyes");
	size_t i;
	json_t *e;

	printf("id: %s\nname: %s%s\n", sval(r, "id"), sval(r, "name"),
	       json_is_true(json_object_get(r, "enabled")) ? "" : " (DISABLED)");
	if (sval(r, "description")[0] != '\0') {
		printf("description: %s\n", sval(r, "description"));
	}
	json_array_foreach(json_object_get(r, "signingKeys"), i, e) {
		printf("signing key: %s\n", json_string_value(e));
	}
	if (json_is_string(json_object_get(r, "packagingKey"))) {
		printf("packaging key: %s\n", sval(r, "packagingKey"));
	}
	json_array_foreach(json_object_get(r, "encryptionKeys"), i, e) {
		if (strcmp(sval(e, "type"), "CERTIFICATE") == 0) {
			printf("encryption certificate: %s (sha256 %s)\n", sval(e, "subject"),
			       sval(e, "sha256"));
		} else {
			printf("encryption key: %s (%s)\n", sval(e, "label"), sval(e, "algorithm"));
		}
	}
	printf("cipher: %s\npackaging: %s\n", sval(r, "cipher"), sval(r, "packaging"));
	if (json_is_array(json_object_get(r, "allowedSchemes"))) {
		printf("allowed schemes:");
		json_array_foreach(json_object_get(r, "allowedSchemes"), i, e) {
			printf(" %s", json_string_value(e));
		}
		printf("\n");
	} else {
		printf("allowed schemes: default (RSA_PSS ECDSA EDDSA)\n");
	}
	printf("four eyes: %s, quorum %lld, second factor %s\n",
	       json_is_boolean(fe) ? (json_is_true(fe) ? "on" : "off") : "default",
	       (long long)json_integer_value(json_object_get(ap, "quorum")),
	       sval(ap, "secondFactor"));
	json_array_foreach(json_object_get(json_object_get(r, "subjects"), "USE"), i, e) {
		printf("user: %s\n", json_string_value(e));
	}
	json_array_foreach(json_object_get(json_object_get(r, "subjects"), "APPROVE"), i, e) {
		printf("approver: %s\n", json_string_value(e));
	}
}

static int
c_devconf_create(struct opts *o, char **a)
{
	json_t *args;

	if (o->nsign_keys == 0 && o->package_key == NULL && o->nenc_keys == 0 &&
	    o->enc_cert == NULL) {
		return usage_error("devconf create needs --sign-key LABEL, --package-key LABEL, "
				   "--encrypt-key LABEL or --encrypt-cert FILE");
	}
	o->name = a[0];
	if ((args = devconf_args(o)) == NULL) {
		return EXIT_USAGE;
	}
	return simple(o, "devconf.create", args, NULL, 0, h_devconf);
}

static int
c_devconf_update(struct opts *o, char **a)
{
	char id[DEVCONF_ID_LEN + 1];
	json_t *args = devconf_args(o);
	int r;

	if (args == NULL) {
		return EXIT_USAGE;
	}
	if ((r = devconf_id(o, a[0], id)) != 0) {
		json_decref(args);
		return r;
	}
	json_object_set_new(args, "id", json_string(id));
	return simple(o, "devconf.update", args, NULL, 0, h_devconf);
}

/* devconf enable|disable|show DC: OP with the id and ARGS' other members. */
static int
devconf_op(struct opts *o, const char *op, const char *dc, json_t *args)
{
	char id[DEVCONF_ID_LEN + 1];
	int r;

	if ((r = devconf_id(o, dc, id)) != 0) {
		json_decref(args);
		return r;
	}
	json_object_set_new(args, "id", json_string(id));
	return simple(o, op, args, NULL, 0, h_devconf);
}

static int
c_devconf_enable(struct opts *o, char **a)
{
	return devconf_op(o, "devconf.update", a[0], json_pack("{s:b}", "enabled", 1));
}

static int
c_devconf_disable(struct opts *o, char **a)
{
	return devconf_op(o, "devconf.disable", a[0], json_object());
}

static int
c_devconf_show(struct opts *o, char **a)
{
	return devconf_op(o, "devconf.show", a[0], json_object());
}

static void
h_devconfs(const json_t *r)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r, "deviceConfigs"), i, e) {
		printf("%s\t%s%s\n", sval(e, "id"), sval(e, "name"),
		       json_is_true(json_object_get(e, "enabled")) ? "" : "\t(disabled)");
	}
}

static int
c_devconf_list(struct opts *o, char **a)
{
	return list(o, "devconf.list", "deviceConfigs", h_devconfs);
}

/* Tasks */

/* A package's metadata as its approvers read it: bytes outside printable ASCII as \xNN. */
static void
print_metadata(const char *b64)
{
	size_t max = base64_decoded_max(strlen(b64));
	uint8_t *md = malloc(max + 1);
	long n = md != NULL ? base64_decode(b64, strlen(b64), md, max, false) : -1;

	fputs("  metadata: ", stdout);
	for (long i = 0; i < n; i++) {
		if (md[i] >= 0x20 && md[i] < 0x7f) {
			putchar(md[i]);
		} else {
			printf("\\x%02x", md[i]);
		}
	}
	putchar('\n');
	free(md);
}

/* What a package's approvers approve besides its inputs: the cipher and the header to sign. */
static void
h_task_package(const json_t *t)
{
	const json_t *hd = json_object_get(json_object_get(t, "packaging"), "header");
	const json_t *enc = json_object_get(t, "encryption"), *sg = json_object_get(t, "signing");

	if (strcmp(sval(t, "type"), "PACKAGING") != 0 ||
	    json_is_string(json_object_get(t, "parent"))) {
		return;
	}
	printf("cipher: %s (key %s)\n", sval(enc, "cipher"), sval(enc, "key"));
	if (json_is_object(hd)) {
		printf("header: %lld bytes, sha256 %s, to be signed by %s (%s)\n",
		       (long long)json_integer_value(json_object_get(hd, "size")),
		       sval(hd, "sha256"), sval(sg, "key"), sval(sg, "algorithm"));
	}
}

/* A signing task's key and scheme: what its approvers approve. */
static void
h_task_scheme(const json_t *t)
{
	const json_t *sg = json_object_get(t, "signing");

	if (strcmp(sval(t, "type"), "SIGNING") != 0 || !json_is_object(sg)) {
		return;
	}
	printf("signing: key %s (%s)", sval(sg, "key"), sval(sg, "algorithm"));
	if (json_is_string(json_object_get(sg, "scheme"))) {
		printf(", scheme %s", sval(sg, "scheme"));
	}
	if (json_is_string(json_object_get(sg, "hash"))) {
		printf(", hash %s", sval(sg, "hash"));
	}
	if (json_is_integer(json_object_get(sg, "saltLength"))) {
		printf(", salt %lld",
		       (long long)json_integer_value(json_object_get(sg, "saltLength")));
	}
	if (json_is_string(json_object_get(sg, "encoding"))) {
		printf(", encoding %s", sval(sg, "encoding"));
	}
	if (json_is_true(json_object_get(sg, "attach"))) {
		printf(", CMS with the content attached");
	}
	if (json_is_true(json_object_get(sg, "prehashed"))) {
		printf(", prehashed");
	}
	printf("\n");
	if (json_is_string(json_object_get(sg, "digest"))) {
		printf("digest to sign: %s\n", sval(sg, "digest"));
	}
}

/* "LABEL: 2026-11-25T09:24:14Z (2 min ago)" for the time member K of O, if it has one. */
static void
print_time(const char *label, const json_t *o, const char *k)
{
	json_int_t t = json_integer_value(json_object_get(o, k));
	char when[32], rel[32];

	if (t > 0) {
		printf("%s: %s (%s)\n", label, ctl_time(t, when, sizeof(when)),
		       ctl_time_rel(t, time_now(), rel, sizeof(rel)));
	}
}

static void
h_task(const json_t *t)
{
	const json_t *res = json_object_get(t, "result");
	size_t i;
	json_t *e;
	char when[32], rel[32];

	printf("id: %s\ntype: %s\nstatus: %s\n", sval(t, "id"), sval(t, "type"), sval(t, "status"));
	if (json_object_get(t, "name") != NULL) {
		printf("name: %s\nrequester: %s\ndevice configuration: %s (%s)\n", sval(t, "name"),
		       sval(t, "requester"), sval(t, "deviceConfigName"),
		       sval(t, "deviceConfigId"));
	}
	print_time("created", t, "createdAt");
	if (json_integer_value(json_object_get(t, "updatedAt")) !=
	    json_integer_value(json_object_get(t, "createdAt"))) {
		print_time("updated", t, "updatedAt");
	}
	json_array_foreach(json_object_get(t, "inputs"), i, e) {
		const json_t *pk = json_object_get(t, "packaging");
		const json_t *ssha = json_array_get(json_object_get(pk, "segmentSha256"), i);
		printf("input: %s, %lld bytes, sha256 %s\n", sval(e, "name"),
		       (long long)json_integer_value(json_object_get(e, "size")),
		       sval(e, "sha256"));
		if (json_is_string(ssha)) {
			printf("  segment %zu: %lld bytes, sha256 %s\n", i,
			       (long long)json_integer_value(
				   json_array_get(json_object_get(pk, "segmentSizes"), i)),
			       json_string_value(ssha));
		}
		if (json_is_string(json_object_get(e, "base64"))) {
			print_metadata(sval(e, "base64"));
		}
	}
	h_task_package(t);
	h_task_scheme(t);
	json_array_foreach(json_object_get(t, "approvals"), i, e) {
		json_int_t at = json_integer_value(json_object_get(e, "time"));
		printf("%s: %s at %s (%s)%s%s\n",
		       strcmp(sval(e, "decision"), "REJECTED") == 0 ? "rejected" : "approved",
		       sval(e, "approver"), ctl_time(at, when, sizeof(when)),
		       ctl_time_rel(at, time_now(), rel, sizeof(rel)),
		       json_is_string(json_object_get(e, "reason")) ? ": " : "", sval(e, "reason"));
	}
	if (json_is_string(json_object_get(t, "reason"))) {
		printf("reason: %s\n", sval(t, "reason"));
	}
	if (json_is_object(res)) {
		if (json_object_get(res, "signature") != NULL) {
			printf("signature: %s\n", sval(res, "signature"));
		}
		if (json_object_get(res, "cms") != NULL) {
			printf("cms: %s\n", sval(res, "cms"));
		}
		if (json_object_get(res, "sha256") != NULL) {
			json_int_t exp = json_integer_value(json_object_get(res, "expiresAt"));
			bool avail = json_is_true(json_object_get(res, "available"));
			printf("result: %lld bytes, sha256 %s, %s %s (%s)\n",
			       (long long)json_integer_value(json_object_get(res, "size")),
			       sval(res, "sha256"), avail ? "available until" : "expired at",
			       ctl_time(exp, when, sizeof(when)),
			       ctl_time_rel(exp, time_now(), rel, sizeof(rel)));
		}
	}
}

/* A task as task show prints it. */
static void
print_task(const struct opts *o, json_t *t)
{
	if (o->json) {
		print_json(t);
	} else {
		h_task(t);
	}
}

/* What to do after a task had not ended in time, with the exit status of a timeout. */
static int
task_timeout(const char *id, const char *status, int seconds)
{
	char hint[96];

	snprintf(hint, sizeof(hint), "signetctl task wait %s waits again", id);
	return ctl_fail(EXIT_TIMEOUT, "timeout", hint, "task %s is still %s after %d s", id, status,
			seconds);
}

/* The request timeout, for the connection too when it is open. */
static void
set_call_timeout(int seconds)
{
	timeout_ms = seconds * 1000;
	cl.timeout_ms = timeout_ms;
}

/*
 * Wait until task ID has ended: task.wait again and again (each at most
 * WAIT_CHUNK seconds), at most --timeout seconds in all when given, with a
 * progress line on a terminal. 0 and the final record in *OUT, or the
 * error printed and its exit status (EXIT_TIMEOUT when time ran out).
 */
static int
wait_final(struct opts *o, const char *id, const char *status, json_t **out)
{
	int64_t start = time_now();
	json_t *t = NULL;
	char label[80];
	int code = 0;

	snprintf(label, sizeof(label), "task %s", id);
	ctl_progress_start(label, 0);
	ctl_progress_status(status);
	for (;;) {
		int64_t chunk = WAIT_CHUNK;
		if (o->timeout_set && start + o->timeout - time_now() < chunk) {
			chunk = start + o->timeout - time_now();
		}
		if (chunk <= 0) {
			code = task_timeout(id, t != NULL ? sval(t, "status") : status, o->timeout);
			json_decref(t);
			return code;
		}
		/* The socket stays quiet while the daemon waits. */
		set_call_timeout((int)chunk + 30);
		json_decref(t);
		t = call(o, "task.wait",
			 json_pack("{s:s, s:I}", "id", id, "timeout", (json_int_t)chunk), NULL, 0,
			 &code, NULL, NULL);
		if (t == NULL) {
			return code;
		}
		if (json_is_true(json_object_get(t, "final"))) {
			break;
		}
		ctl_progress_status(sval(t, "status"));
	}
	ctl_progress_stop();
	*out = t;
	return 0;
}

/* The result file of task ID to PATH; 0 and the download's answer in *RES, or an exit status. */
static int
download(struct opts *o, const char *id, const char *path, json_t **res)
{
	int code = 0, rfds[MSG_MAX_FDS], rnfds = 0;

	*res = call(o, "task.download", json_pack("{s:s}", "id", id), NULL, 0, &code, rfds, &rnfds);
	if (*res == NULL) {
		return code;
	}
	if (rnfds != 1) {
		msg_close_fds(rfds, &rnfds);
		json_decref(*res);
		*res = NULL;
		return ctl_fail(EXIT_REFUSED, "internal", NULL, "no file came with the answer");
	}
	code = save_fd(rfds[0], (uint64_t)json_integer_value(json_object_get(*res, "size")), path);
	msg_close_fds(rfds, &rnfds);
	if (code != 0) {
		json_decref(*res);
		*res = NULL;
	}
	return code;
}

/* The result of task T, which ended DONE, to -o: the raw signature, or the result file. */
static int
save_result(struct opts *o, const json_t *t)
{
	const json_t *res = json_object_get(t, "result");
	const char *sig = json_string_value(json_object_get(res, "signature"));
	json_t *dl = NULL;
	int code;

	if (sig != NULL) {
		size_t max = base64_decoded_max(strlen(sig));
		uint8_t *raw = malloc(max > 0 ? max : 1);
		long n = raw != NULL ? base64_decode(sig, strlen(sig), raw, max, false) : -1;
		code = n < 0
			   ? ctl_fail(EXIT_REFUSED, "internal", NULL, "the signature is not base64")
			   : write_output(o->output, raw, (size_t)n);
		if (code == 0 && !o->json && !is_stdout(o->output)) {
			printf("%s: signature of %ld bytes (task %s)\n", o->output, n,
			       sval(t, "id"));
		}
		free(raw);
		return code;
	}
	if ((code = download(o, sval(t, "id"), o->output, &dl)) == 0 && !o->json &&
	    !is_stdout(o->output)) {
		printf("%s: %lld bytes, sha256 %s (task %s)\n", o->output,
		       (long long)json_integer_value(json_object_get(dl, "size")),
		       sval(dl, "sha256"), sval(t, "id"));
	}
	json_decref(dl);
	return code;
}

/* The total size of the files FDS, for the progress line of a big upload. */
static uint64_t
fds_size(const int *fds, int nfds)
{
	uint64_t total = 0;
	struct stat st;

	for (int i = 0; i < nfds; i++) {
		if (fstat(fds[i], &st) == 0) {
			total += (uint64_t)st.st_size;
		}
	}
	return total;
}

/*
 * Create a task with OP and print it; with --wait, wait until it has ended,
 * then write its result to -o FILE, or print it as task show does. The exit
 * status of a waited task is 0 only when it ended DONE.
 */
static int
submit(struct opts *o, const char *op, json_t *args, const int *fds, int nfds)
{
	uint64_t size = fds_size(fds, nfds);
	json_t *res, *t = NULL;
	char label[64], sz[32];
	int code = 0;

	/* signetd reads the files from their descriptors itself: the line can say how long only. */
	if (size >= CTL_PROGRESS_MIN) {
		snprintf(label, sizeof(label), "signetd reads %s",
			 size_text((json_int_t)size, sz, sizeof(sz)));
		ctl_progress_start(label, 0);
	}
	res = call(o, op, args, fds, nfds, &code, NULL, NULL);
	ctl_progress_stop();
	if (res == NULL) {
		return code;
	}
	if (!o->wait) {
		print_task(o, res);
		json_decref(res);
		return 0;
	}
	code = wait_final(o, sval(res, "id"), sval(res, "status"), &t);
	json_decref(res);
	if (code != 0) {
		return code;
	}
	if (strcmp(sval(t, "status"), "DONE") != 0 || o->output == NULL) {
		if (o->output == NULL) {
			print_task(o, t);
		}
		if (strcmp(sval(t, "status"), "DONE") != 0) {
			code = ctl_fail(EXIT_REFUSED, NULL, NULL, "task %s ended %s%s%s",
					sval(t, "id"), sval(t, "status"),
					json_is_string(json_object_get(t, "reason")) ? ": " : "",
					sval(t, "reason"));
		}
	} else if ((code = save_result(o, t)) == 0 && o->json) {
		print_json(t);
	}
	json_decref(t);
	return code;
}

static int
c_task_sign(struct opts *o, char **a)
{
	char id[DEVCONF_ID_LEN + 1];
	json_t *args;
	int fd = -1, r;

	if (o->devconf == NULL || (o->file == NULL) == (o->input_b64 == NULL)) {
		return usage_error(
		    "task sign needs --devconf DC and --file F or --input-base64 B64");
	}
	if (o->output != NULL && !o->wait) {
		return usage_error("-o needs --wait: task sign --wait -o FILE");
	}
	if ((r = devconf_id(o, o->devconf, id)) != 0) {
		return r;
	}
	args = json_pack("{s:s}", "devconf", id);
	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (o->input_b64 != NULL) {
		json_object_set_new(args, "inputBase64", json_string(o->input_b64));
	}
	if (o->prehashed) {
		json_object_set_new(args, "prehashed", json_true());
	}
	if (o->scheme != NULL) {
		json_object_set_new(args, "scheme", json_string(o->scheme));
	}
	if (o->hash != NULL) {
		json_object_set_new(args, "hash", json_string(o->hash));
	}
	if (o->salt_length >= 0) {
		json_object_set_new(args, "saltLength", json_integer(o->salt_length));
	}
	if (o->encoding != NULL) {
		json_object_set_new(args, "encoding", json_string(o->encoding));
	}
	if (o->attach) {
		json_object_set_new(args, "attach", json_true());
	}
	if (o->file != NULL && (r = open_input(o->file, &fd)) != 0) {
		json_decref(args);
		return r;
	}
	r = submit(o, "task.sign", args, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (fd >= 0) {
		close(fd);
	}
	return r;
}

static int
c_task_encrypt(struct opts *o, char **a)
{
	char id[DEVCONF_ID_LEN + 1];
	json_t *args;
	int fd, r;

	if (o->devconf == NULL || o->file == NULL) {
		return usage_error("task encrypt needs --devconf DC and --file F");
	}
	if (o->output != NULL && !o->wait) {
		return usage_error("-o needs --wait: task encrypt --wait -o FILE");
	}
	if ((r = devconf_id(o, o->devconf, id)) != 0) {
		return r;
	}
	args = json_pack("{s:s}", "devconf", id);
	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (o->sha256 != NULL) {
		json_object_set_new(args, "sha256", json_string(o->sha256));
	}
	if ((r = open_input(o->file, &fd)) != 0) {
		json_decref(args);
		return r;
	}
	r = submit(o, "task.encrypt", args, &fd, 1);
	close(fd);
	return r;
}

/*
 * Each file goes as its own descriptor while they fit in one packet; more
 * are first copied one after the other into an unlinked file, and named by
 * their regions of it.
 */
static int
c_task_package(struct opts *o, char **a)
{
	char id[DEVCONF_ID_LEN + 1];
	json_t *args, *inputs;
	int fds[MSG_MAX_FDS], nfds = 0, n = 0, r = EXIT_USAGE, cat = -1;
	uint64_t off = 0;
	const char *files[512];

	if (o->devconf == NULL) {
		return usage_error("task package needs --devconf DC");
	}
	if (o->output != NULL && !o->wait) {
		return usage_error("-o needs --wait: task package --wait -o FILE");
	}
	/* --firmware F, in order, then any given as plain arguments. */
	for (int i = 0; i < o->nfirmware; i++) {
		files[n++] = o->firmware[i];
	}
	for (int i = 0; a[i] != NULL && n < 256; i++) {
		files[n++] = a[i];
	}
	if (n == 0) {
		return usage_error("task package needs --firmware F (one or more)");
	}
	if ((r = devconf_id(o, o->devconf, id)) != 0) {
		return r;
	}
	r = EXIT_USAGE;
	files[n] = NULL;
	a = (char **)files;
	inputs = json_array();
	args = json_pack("{s:s, s:o}", "devconf", id, "inputs", inputs);
	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (n + (o->metadata != NULL) > MSG_MAX_FDS) {
		if ((cat = temp_file()) < 0) {
			goto out;
		}
		fds[nfds++] = cat;
	}
	for (int i = 0; i <= n; i++) {
		const char *path = i < n ? a[i] : o->metadata;
		const char *base;
		json_t *rec;
		struct stat st;
		int fd;

		if (path == NULL) {
			break;
		}
		if (open_input(path, &fd) != 0) {
			goto out;
		}
		if (fstat(fd, &st) != 0) {
			close(fd);
			goto out;
		}
		base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
		rec = i < n ? json_pack("{s:s}", "name", base) : json_object();
		if (cat >= 0) {
			/* Append to the one file; the region names where it lies. */
			off_t o2 = (off_t)off;
			uint64_t left = (uint64_t)st.st_size;
			while (left > 0) {
				ssize_t k = copy_file_range(fd, NULL, cat, &o2, left, 0);
				if (k <= 0) {
					ctl_fail(EXIT_USAGE, NULL, NULL, "cannot copy %s: %s", path,
						 strerror(errno));
					close(fd);
					json_decref(rec);
					goto out;
				}
				left -= (uint64_t)k;
			}
			close(fd);
			json_object_set_new(rec, "offset", json_integer((json_int_t)off));
			json_object_set_new(rec, "size", json_integer((json_int_t)st.st_size));
			off += (uint64_t)st.st_size;
		} else {
			json_object_set_new(rec, "fd", json_integer(nfds));
			fds[nfds++] = fd;
		}
		if (i < n) {
			json_array_append_new(inputs, rec);
		} else {
			json_object_set_new(args, "metadata", rec);
		}
	}
	r = submit(o, "task.package", args, fds, nfds);
	args = NULL;
out:
	json_decref(args);
	for (int i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	return r;
}

static int
c_task_show(struct opts *o, char **a)
{
	return simple(o, "task.show", json_pack("{s:s}", "id", a[0]), NULL, 0, h_task);
}

/* Display width of UTF-8 text: its code points. */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		n += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return n;
}

/*
 * ROWS (arrays of strings, the first the header) as columns aligned with two
 * spaces between them; the last column is not padded.
 */
static void
print_table(const json_t *rows)
{
	size_t width[16] = {0}, i, j, ncols = json_array_size(json_array_get(rows, 0));
	json_t *row, *cell;

	ncols = ncols < ARRAY_SIZE(width) ? ncols : ARRAY_SIZE(width);
	json_array_foreach(rows, i, row) {
		json_array_foreach(row, j, cell) {
			size_t w = text_width(json_string_value(cell));
			if (j < ncols && w > width[j]) {
				width[j] = w;
			}
		}
	}
	json_array_foreach(rows, i, row) {
		for (j = 0; j < ncols; j++) {
			const char *c = json_string_value(json_array_get(row, j));
			c = c != NULL ? c : "";
			if (j + 1 < ncols) {
				printf("%s%*s", c, (int)(width[j] - text_width(c) + 2), "");
			} else {
				printf("%s\n", c);
			}
		}
	}
}

/* The names of the device configurations the user may view, by id (NULL after an error). */
static json_t *
devconf_names(struct opts *o, int *code)
{
	json_t *all = list_fetch(o, "devconf.list", NULL, "deviceConfigs", 0, NULL, code), *names,
	       *d;
	size_t i;

	if (all == NULL) {
		return NULL;
	}
	names = json_object();
	json_array_foreach(json_object_get(all, "deviceConfigs"), i, d) {
		json_object_set_new(names, sval(d, "id"), json_string(sval(d, "name")));
	}
	json_decref(all);
	return names;
}

/* The tasks as a table, newest first unless --oldest-first; device configurations by name. */
static int
h_task_table(struct opts *o, const json_t *all)
{
	const json_t *tasks = json_object_get(all, "tasks");
	json_t *rows = json_array(), *names, *t, *in;
	size_t n = json_array_size(tasks), i, j;
	int code = 0;

	if ((names = devconf_names(o, &code)) == NULL) {
		json_decref(rows);
		return code;
	}
	json_array_append_new(rows, json_pack("[s,s,s,s,s,s,s,s]", "ID", "TYPE", "STATUS", "NAME",
					      "SIZE", "DEVICE CONFIG", "REQUESTER", "CREATED"));
	for (i = 0; i < n; i++) {
		char size[32], rel[32];
		json_int_t bytes = 0;
		const char *dc;

		t = json_array_get(tasks, o->oldest_first ? i : n - 1 - i);
		json_array_foreach(json_object_get(t, "inputs"), j, in) {
			bytes += json_integer_value(json_object_get(in, "size"));
		}
		dc = json_string_value(json_object_get(names, sval(t, "deviceConfigId")));
		json_array_append_new(
		    rows,
		    json_pack("[s,s,s,s,s,s,s,s]", sval(t, "id"), sval(t, "type"),
			      sval(t, "status"), sval(t, "name"),
			      size_text(bytes, size, sizeof(size)),
			      dc != NULL ? dc : sval(t, "deviceConfigId"), sval(t, "requester"),
			      ctl_time_rel(json_integer_value(json_object_get(t, "createdAt")),
					   time_now(), rel, sizeof(rel))));
	}
	if (n > 0) {
		print_table(rows);
	} else {
		printf("no tasks\n");
	}
	print_more(all);
	json_decref(rows);
	json_decref(names);
	return 0;
}

static int
c_task_list(struct opts *o, char **a)
{
	json_t *base = json_object(), *all;
	int code = 0;

	if (o->status != NULL) {
		json_object_set_new(base, "status", json_string(o->status));
	}
	if (o->type != NULL) {
		json_object_set_new(base, "type", json_string(o->type));
	}
	all = list_fetch(o, "task.list", base, "tasks", o->limit, o->cursor, &code);
	json_decref(base);
	if (all == NULL) {
		return code;
	}
	if (o->json) {
		print_json(all);
	} else {
		code = h_task_table(o, all);
	}
	json_decref(all);
	return code;
}

static int
c_task_wait(struct opts *o, char **a)
{
	int code = 0, wait = o->timeout_set ? o->timeout : 60;
	json_t *res;
	const char *st;

	/* The socket may stay quiet for the whole wait. */
	timeout_ms = (wait + 30) * 1000;
	res = call(o, "task.wait", json_pack("{s:s, s:i}", "id", a[0], "timeout", wait), NULL, 0,
		   &code, NULL, NULL);
	if (res == NULL) {
		return code;
	}
	if (o->json) {
		print_json(res);
	} else {
		h_task(res);
	}
	st = sval(res, "status");
	if (!json_is_true(json_object_get(res, "final"))) {
		code = task_timeout(a[0], st, wait);
	} else if (strcmp(st, "DONE") != 0) {
		code = ctl_fail(EXIT_REFUSED, NULL, NULL, "task %s ended %s%s%s", a[0], st,
				json_is_string(json_object_get(res, "reason")) ? ": " : "",
				sval(res, "reason"));
	}
	json_decref(res);
	return code;
}

static int
c_task_cancel(struct opts *o, char **a)
{
	return simple(o, "task.cancel", json_pack("{s:s}", "id", a[0]), NULL, 0, h_task);
}

static int
c_task_download(struct opts *o, char **a)
{
	json_t *res;
	int code;

	if (o->output == NULL) {
		return usage_error("task download needs -o FILE (- for standard output)");
	}
	if ((code = download(o, a[0], o->output, &res)) != 0) {
		return code;
	}
	if (o->json) {
		print_json(res);
	} else if (!is_stdout(o->output)) {
		printf("%s: %lld bytes, sha256 %s\n", o->output,
		       (long long)json_integer_value(json_object_get(res, "size")),
		       sval(res, "sha256"));
	}
	json_decref(res);
	return 0;
}

static int
c_task_decide(struct opts *o, char **a, bool approve)
{
	json_t *args = json_pack("{s:s}", "id", a[0]);

	if (o->reason != NULL) {
		json_object_set_new(args, "reason", json_string(o->reason));
	}
	if (approve && o->otp != NULL) {
		json_object_set_new(args, "otp", json_string(o->otp));
	}
	return simple(o, approve ? "task.approve" : "task.reject", args, NULL, 0, h_task);
}

static int
c_task_approve(struct opts *o, char **a)
{
	return c_task_decide(o, a, true);
}

static int
c_task_reject(struct opts *o, char **a)
{
	return c_task_decide(o, a, false);
}

/* TOTP enrollment */

/* A QR code in the terminal: two modules per character cell with the UTF-8 half blocks. */
static void
print_qr(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	const int quiet = 4; /* the quiet zone the QR standard asks for */

	if (qr == NULL) {
		return;
	}
	for (int y = -quiet; y < qr->width + quiet; y += 2) {
		for (int x = -quiet; x < qr->width + quiet; x++) {
			bool top = y >= 0 && y < qr->width && x >= 0 && x < qr->width &&
				   (qr->data[y * qr->width + x] & 1);
			bool bot = y + 1 >= 0 && y + 1 < qr->width && x >= 0 && x < qr->width &&
				   (qr->data[(y + 1) * qr->width + x] & 1);
			/*
			 * For light text on a dark background (most terminals): light
			 * modules are drawn with blocks, dark ones left as spaces.
			 */
			fputs(top ? (bot ? " " : "\u2584") : (bot ? "\u2580" : "\u2588"), stdout);
		}
		fputs("\n", stdout);
	}
	QRcode_free(qr);
}

static void
h_enroll(const json_t *r)
{
	if (json_object_get(r, "secret") == NULL) {
		printf("TOTP seed of %s removed\n", sval(r, "user"));
		return;
	}
	print_qr(sval(r, "uri"));
	printf("user: %s\nsecret (base32): %s\nuri: %s\n", sval(r, "user"), sval(r, "secret"),
	       sval(r, "uri"));
	printf("(scan it or type the secret into an authenticator app now: signetd shows it once; "
	       "the seed stays in the token)\n");
}

static int
c_user_otp_enroll(struct opts *o, char **a)
{
	json_t *args = json_pack("{s:s}", "name", a[0]);

	if (o->force) {
		json_object_set_new(args, "force", json_true());
	}
	return simple(o, "user.otp-enroll", args, NULL, 0, h_enroll);
}

static int
c_user_otp_reset(struct opts *o, char **a)
{
	return simple(o, "user.otp-reset", json_pack("{s:s}", "name", a[0]), NULL, 0, h_enroll);
}

/* Events */

static int
c_events_watch(struct opts *o, char **a)
{
	int code = 0;
	long seen = 0;
	json_t *args = json_object(), *res;

	if (o->since >= 0) {
		json_object_set_new(args, "since", json_integer(o->since));
	}
	res = call(o, "events.watch", args, NULL, 0, &code, NULL, NULL);
	if (res == NULL) {
		return code;
	}
	json_decref(res);
	/* One JSON object per line, until --count events or the daemon ends the stream. */
	while (o->count == 0 || seen < o->count) {
		json_t *pkt = NULL, *ev;
		int r = client_recv(&cl, &pkt, o->timeout_set ? o->timeout * 1000 : -1);
		if (r == -ETIMEDOUT) {
			break;
		}
		if (r != 0) {
			return ctl_fail(EXIT_REFUSED, "unavailable", NULL,
					"the event stream ended: %s", strerror(-r));
		}
		ev = json_object_get(pkt, "event");
		if (ev == NULL) {
			json_t *e = json_object_get(pkt, "error");
			r = ctl_fail(EXIT_REFUSED, sval(e, "code"), NULL, "%s", sval(e, "message"));
			json_decref(pkt);
			return r;
		}
		{
			char *line;
			ctl_json_times(ev);
			line = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
			if (line != NULL) {
				puts(line);
				fflush(stdout);
				free(line);
			}
		}
		json_decref(pkt);
		seen++;
	}
	return 0;
}

/* Audit */

static void
h_audit(const json_t *r)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(r, "entries"), i, e) {
		char when[32];
		printf("%lld\t%s\t%s\t%s\t%s\t%s\n",
		       (long long)json_integer_value(json_object_get(e, "seq")),
		       ctl_time(json_integer_value(json_object_get(e, "time")), when, sizeof(when)),
		       sval(e, "actor"), sval(e, "verb"), sval(e, "resource"), sval(e, "message"));
	}
}

static int
c_audit_list(struct opts *o, char **a)
{
	json_t *base = json_object();

	if (o->chain != NULL) {
		json_object_set_new(base, "chain", json_string(o->chain));
	}
	if (o->resource != NULL) {
		char buf[sizeof(DEVCONF_PREFIX) + DEVCONF_ID_LEN];
		const char *res = o->resource;
		int r;
		if ((r = resource_arg(o, &res, buf, sizeof(buf))) != 0) {
			json_decref(base);
			return r;
		}
		json_object_set_new(base, "resource", json_string(res));
	}
	return list_with(o, "audit.list", base, "entries", h_audit);
}

static void
h_export(const json_t *r)
{
	printf("audit log of %s exported: %lld entries, %lld checkpoints (the last one new)\n",
	       sval(r, "chain"), (long long)json_integer_value(json_object_get(r, "entries")),
	       (long long)json_integer_value(json_object_get(r, "checkpoints")));
}

static int
c_audit_export(struct opts *o, char **a)
{
	json_t *args = json_object(), *res;
	struct stat st;
	int fd, code = 0;

	if (o->output == NULL) {
		json_decref(args);
		return usage_error("audit export needs -o FILE (- for standard output)");
	}
	if (o->chain != NULL) {
		json_object_set_new(args, "chain", json_string(o->chain));
	}
	/*
	 * We open the file: the daemon writes only to the descriptor we hand it,
	 * an empty regular file; for standard output a temporary one, copied out.
	 */
	if (is_stdout(o->output)) {
		fd = temp_file();
	} else if ((fd = open(o->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			      0600)) < 0) {
		ctl_fail(EXIT_USAGE, NULL, NULL, "cannot create %s: %s", o->output,
			 strerror(errno));
	}
	if (fd < 0) {
		json_decref(args);
		return EXIT_USAGE;
	}
	res = call(o, "audit.export", args, &fd, 1, &code, NULL, NULL);
	if (res != NULL && is_stdout(o->output)) {
		code = fstat(fd, &st) == 0 ? save_fd(fd, (uint64_t)st.st_size, "-") : EXIT_REFUSED;
	} else if (res != NULL && o->json) {
		print_json(res);
	} else if (res != NULL) {
		h_export(res);
	}
	close(fd);
	if (res == NULL && !is_stdout(o->output)) {
		unlink(o->output);
	}
	json_decref(res);
	return code;
}

static void
h_pubkey(const json_t *r)
{
	fputs(sval(r, "publicKeyPem"), stdout);
}

static int
c_audit_pubkey(struct opts *o, char **a)
{
	return simple(o, "audit.pubkey", NULL, NULL, 0, h_pubkey);
}

/* The audit public key from a PEM file: ECDSA P-256 or a usage error. */
static int
load_audit_pubkey(const char *path, EVP_PKEY **pub)
{
	char group[64] = "";
	FILE *f = fopen(path, "re");

	*pub = NULL;
	if (f == NULL) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "cannot open %s: %s", path,
				strerror(errno));
	}
	*pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (*pub == NULL || !EVP_PKEY_is_a(*pub, "EC") ||
	    EVP_PKEY_get_group_name(*pub, group, sizeof(group), NULL) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		ctl_fail(EXIT_USAGE, NULL, "signetctl audit pubkey prints it",
			 "%s is not an ECDSA P-256 public key in PEM", path);
		EVP_PKEY_free(*pub);
		*pub = NULL;
		return EXIT_USAGE;
	}
	return 0;
}

/* Offline: the export file and the key are all it needs, no daemon. */
static int
c_audit_verify(struct opts *o, char **a)
{
	struct audit_verify_result res;
	EVP_PKEY *pub;
	FILE *f;
	int r;

	if (o->file == NULL) {
		/* The live log: the daemon exports it to itself and verifies it the same way. */
		int code = 0;
		json_t *args = json_object(), *live;
		if (o->chain != NULL) {
			json_object_set_new(args, "chain", json_string(o->chain));
		}
		live = call(o, "audit.verify", args, NULL, 0, &code, NULL, NULL);
		if (live == NULL) {
			return code;
		}
		if (o->json) {
			print_json(live);
		}
		code = (int)json_integer_value(json_object_get(live, "code"));
		if (code != 0) {
			ctl_fail(code, "audit", NULL, "%s", sval(live, "message"));
		} else if (!o->json) {
			printf("audit log of %s: %lld entries, %lld checkpoints: verified\n",
			       sval(live, "chain"),
			       (long long)json_integer_value(json_object_get(live, "entries")),
			       (long long)json_integer_value(json_object_get(live, "checkpoints")));
		}
		json_decref(live);
		return code;
	}
	if (o->pubkey == NULL) {
		return usage_error("audit verify --file needs --pubkey PEM (see audit pubkey)");
	}
	if ((r = load_audit_pubkey(o->pubkey, &pub)) != 0) {
		return r;
	}
	if ((f = fopen(o->file, "re")) == NULL) {
		EVP_PKEY_free(pub);
		return ctl_fail(EXIT_USAGE, NULL, NULL, "cannot open %s: %s", o->file,
				strerror(errno));
	}
	r = audit_verify_file(f, pub, &res);
	fclose(f);
	EVP_PKEY_free(pub);
	if (r != AUDIT_VERIFY_OK) {
		return ctl_fail(r, "audit", NULL, "%s", res.message);
	}
	printf("audit log of %s: %llu entries, %llu checkpoints: verified\n", res.chain,
	       (unsigned long long)res.entries, (unsigned long long)res.checkpoints);
	return 0;
}

#define LIST_OPTS "limit cursor"
#define DEVCONF_OPTS                                                                               \
	"sign-key package-key encrypt-key encrypt-cert cipher four-eyes quorum second-factor user "\
	"approver description allow-scheme"
#define TASK_ID "01a2126e-d347-7c54-8187-c2cd315f1da1"

static const struct ctl_cmd commands[] = {
    {"status", NULL, 0, c_status, "status", "",
     "The daemon's version, token, counts and disk use. Needs no token.", "signetctl status"},
    {"metrics", NULL, 0, c_metrics, "metrics", "",
     "The daemon's counters and gauges in the Prometheus text format (doc/metrics.md). Needs "
     "no token; local administrators only.",
     "signetctl metrics"},
    {"whoami", NULL, 0, c_whoami, "whoami", "", "Whose the API token is: user, tenant, kind.",
     "signetctl whoami"},
    {"tenant", "create", 1, c_tenant_create, "tenant create NAME --admin USER", "admin",
     "Create a tenant and its initial admin, and print the admin's API token (shown once). "
     "Local only.",
     "signetctl tenant create acme --admin alice"},
    {"tenant", "list", 0, c_tenant_list, "tenant list [--limit N [--cursor C]]", LIST_OPTS,
     "The tenants and their initial admins. Local only.", "signetctl tenant list"},
    {"user", "create", 1, c_user_create, "user create NAME [--group G]... [--client]",
     "group client",
     "Create a user of the token's tenant and print the user's API token (shown once).",
     "signetctl user create ci --client --group builders"},
    {"user", "list", 0, c_user_list, "user list [--limit N [--cursor C]]", LIST_OPTS,
     "The users of the tenant, their groups, and who has no token.", "signetctl user list"},
    {"user", "show", 1, c_user_show, "user show NAME", "", "One user of the tenant.",
     "signetctl user show bob"},
    {"user", "token", 1, c_user_token, "user token NAME", "",
     "Issue a new API token for NAME and print it (shown once); the old one stops working.",
     "signetctl user token bob"},
    {"user", "revoke", 1, c_user_revoke, "user revoke NAME", "", "Revoke the user's API token.",
     "signetctl user revoke bob"},
    {"user", "otp-enroll", 1, c_user_otp_enroll, "user otp-enroll NAME [--force]", "force",
     "Enroll NAME for TOTP approvals: the seed is made in the token and shown once, as a QR "
     "code and an otpauth:// URI.",
     "signetctl user otp-enroll carol"},
    {"user", "otp-reset", 1, c_user_otp_reset, "user otp-reset NAME", "",
     "Remove the TOTP seed of NAME (the initial admin only).", "signetctl user otp-reset carol"},
    {"key", "generate", 1, c_key_generate, "key generate LABEL --alg ALG [--description TEXT]",
     "alg description", "Generate a key in the token. Local only.",
     "signetctl key generate fw --alg ECC_NIST_P256 --description \"firmware signing\""},
    {"key", "import", 1, c_key_import,
     "key import LABEL --alg AES_256|AES_128 --file RAWKEY [--description TEXT]",
     "alg file description",
     "Import a raw AES key (32 or 16 bytes) into the token as a non-extractable key. Local "
     "only.",
     "signetctl key import fw-aes --alg AES_256 --file aes.key"},
    {"key", "list", 0, c_key_list, "key list [--limit N [--cursor C]]", LIST_OPTS,
     "The tenant's keys: label, algorithm, origin.", "signetctl key list"},
    {"key", "show", 1, c_key_show, "key show LABEL [--devconf DC]", "devconf",
     "A key: algorithm, PKCS#11 URI, certificate and public key in PEM. Officers (VIEW on KEY) "
     "see everything; a user who may use or view a device configuration that signs with the "
     "key sees its public part (--devconf names that configuration).",
     "signetctl key show fw"},
    {"key", "csr", 1, c_key_csr, "key csr LABEL --subject /CN=... [-o FILE]", "subject output",
     "A PKCS#10 certificate request for a key pair, signed in the token: on standard output, "
     "or in FILE.",
     "signetctl key csr fw --subject \"/CN=Acme firmware/O=Acme\" -o fw.csr"},
    {"key", "cert", 1, c_key_cert, "key cert LABEL --file CHAIN.pem", "file",
     "Attach a certificate chain (PEM, the key's certificate first) to a key pair.",
     "signetctl key cert fw --file fw-chain.pem"},
    {"acl", "add", 3, c_acl_add, "acl add SUBJECT RESOURCE ACTION", "",
     "Add a rule to the tenant's ACL. In DEVICE_CONFIG:DC, DC is a device configuration's name "
     "or id.",
     "signetctl acl add GROUP:builders DEVICE_CONFIG:fw-release USE"},
    {"acl", "remove", 3, c_acl_remove, "acl remove SUBJECT RESOURCE ACTION", "",
     "Remove a rule from the tenant's ACL.",
     "signetctl acl remove GROUP:owners RESOURCE_TYPE:AUDIT_LOG VIEW"},
    {"acl", "list", 0, c_acl_list, "acl list [--limit N [--cursor C]]", LIST_OPTS,
     "The tenant's ACL rules.", "signetctl acl list"},
    {"config", "get", 1, c_config_get, "config get KEY", "",
     "A tenant configuration value, in JSON.", "signetctl config get approval.fourEyes.signing"},
    {"config", "set", 2, c_config_set, "config set KEY JSON", "",
     "Set a tenant configuration value (the initial admin only).",
     "signetctl config set encryption.legacyCiphers.allowed true"},
    {"devconf", "create", 1, c_devconf_create,
     "devconf create NAME [--sign-key LABEL]... [--package-key LABEL] [--encrypt-key LABEL | --encrypt-cert FILE] "
     "[--cipher C] [--four-eyes on|off] [--quorum N] [--second-factor TOTP|NONE] "
     "[--user SUBJECT]... [--approver SUBJECT]... [--allow-scheme S]... [--description TEXT]",
     DEVCONF_OPTS, "Create a device configuration and print it with its id.",
     "signetctl devconf create fw-release --sign-key fw --encrypt-key fw-aes --four-eyes on "
     "--user CLIENT:ci --approver GROUP:owners"},
    {"devconf", "update", 1, c_devconf_update,
     "devconf update DC [--name NAME] [the options of create] [--no-sign-keys]",
     "name no-sign-keys " DEVCONF_OPTS,
     "Change the device configuration DC (its name or id): only what the options give; a list "
     "option replaces the list.",
     "signetctl devconf update fw-release --quorum 2"},
    {"devconf", "enable", 1, c_devconf_enable, "devconf enable DC", "",
     "Enable the device configuration DC (its name or id).", "signetctl devconf enable fw-release"},
    {"devconf", "disable", 1, c_devconf_disable, "devconf disable DC", "",
     "Disable the device configuration DC (its name or id): it takes no new tasks.",
     "signetctl devconf disable fw-release"},
    {"devconf", "list", 0, c_devconf_list, "devconf list [--limit N [--cursor C]]", LIST_OPTS,
     "The device configurations you may view.", "signetctl devconf list"},
    {"devconf", "show", 1, c_devconf_show, "devconf show DC", "",
     "The device configuration DC (its name or id): keys, cipher, approval policy, users and "
     "approvers.",
     "signetctl devconf show fw-release"},
    {"task", "sign", 0, c_task_sign,
     "task sign --devconf DC (--file F | --input-base64 B64 [--prehashed]) [--name N] "
     "[--scheme S] [--hash H] [--salt-length N] [--encoding der|raw] [--attach] "
     "[--wait [-o FILE]]",
     "devconf file input-base64 prehashed name scheme hash salt-length encoding attach wait "
     "output",
     "Create a signing task with the device configuration's first signing key; when it needs "
     "no approval, it is signed at once and the signature printed. With --wait, wait until it "
     "has ended (approved and signed) and write the raw signature to -o FILE.",
     "signetctl task sign --devconf fw-release --file fw.bin --wait -o fw.sig"},
    {"task", "encrypt", 0, c_task_encrypt,
     "task encrypt --devconf DC --file F [--name N] [--sha256 HEX] [--wait [-o FILE]]",
     "devconf file name sha256 wait output",
     "Create an encryption task with the device configuration's first encryption key. With "
     "--wait, wait until it has ended and write the encrypted file to -o FILE.",
     "signetctl task encrypt --devconf fw-release --file fw.bin --wait -o fw.enc"},
    {"task", "package", -1, c_task_package,
     "task package --devconf DC --firmware F [--firmware F]... [--metadata M] [--name N] "
     "[--wait [-o FILE]]",
     "devconf firmware metadata name wait output",
     "Create a packaging task: a BOSCH_SE_V1 container of the firmware files, encrypted, with "
     "a signed header. With --wait, wait until it has ended and write the container to -o "
     "FILE.",
     "signetctl task package --devconf fw-release --firmware app.bin --firmware boot.bin "
     "--metadata meta.json --wait -o release.pkg",
     true},
    {"task", "show", 1, c_task_show, "task show ID", "",
     "A task: status, inputs, approvals, result.", "signetctl task show " TASK_ID},
    {"task", "list", 0, c_task_list,
     "task list [--status S] [--type T] [--oldest-first] [--limit N [--cursor C]]",
     "status type oldest-first " LIST_OPTS,
     "The tasks you may see, as a table, newest first (with --json as the daemon lists them, "
     "oldest first).",
     "signetctl task list --status WAITING"},
    {"task", "wait", 1, c_task_wait, "task wait ID [--timeout SEC]", "",
     "Wait until the task has ended and print it; the exit status is 0 only when it ended "
     "DONE.",
     "signetctl task wait " TASK_ID " --timeout 300"},
    {"task", "cancel", 1, c_task_cancel, "task cancel ID", "",
     "Cancel a task of yours that has not ended.", "signetctl task cancel " TASK_ID},
    {"task", "approve", 1, c_task_approve, "task approve ID [--otp CODE] [--reason TEXT]",
     "otp reason", "Approve a task that waits for approval, with your TOTP code.",
     "signetctl task approve " TASK_ID " --otp 141478 --reason \"release 1.2\""},
    {"task", "reject", 1, c_task_reject, "task reject ID [--reason TEXT]", "reason",
     "Reject a task that waits for approval.",
     "signetctl task reject " TASK_ID " --reason \"not this build\""},
    {"task", "download", 1, c_task_download, "task download ID -o FILE", "output",
     "Write the result file of an encryption or packaging task to FILE (- for standard "
     "output).",
     "signetctl task download " TASK_ID " -o fw.enc"},
    {"events", "watch", 0, c_events_watch, "events watch [--since SEQ] [--count N]", "since count",
     "The tenant's events as JSON lines, as they happen.",
     "signetctl events watch --since 0 --count 10"},
    {"audit", "list", 0, c_audit_list,
     "audit list [--resource TYPE:ID] [--chain ~appliance] [--limit N [--cursor C]]",
     "resource chain " LIST_OPTS, "The entries of the tenant's audit log, oldest first.",
     "signetctl audit list --resource TASK:" TASK_ID},
    {"audit", "export", 0, c_audit_export, "audit export -o FILE [--chain ~appliance]",
     "output chain",
     "Export the audit log, with a new checkpoint, to FILE (a new file; - for standard "
     "output).",
     "signetctl audit export -o acme-audit.jsonl"},
    {"audit", "pubkey", 0, c_audit_pubkey, "audit pubkey", "",
     "The appliance's audit public key, in PEM.", "signetctl audit pubkey > signet-audit.pem"},
    {"audit", "verify", 0, c_audit_verify, "audit verify [--file FILE --pubkey PEM] [--chain C]",
     "file pubkey chain",
     "Verify the live audit log, or, with --file, an export offline against the audit public "
     "key.",
     "signetctl audit verify --file acme-audit.jsonl --pubkey signet-audit.pem"},
    {"report", "verify", 1, c_report_verify, "report verify FILE", "",
     "Check a signed report (S/MIME) against the tenant's trusted certificate fingerprints.",
     "signetctl report verify systemreport.msg.signed", true},
    {"report", "submit", 1, c_report_submit, "report submit FILE [--type SYSTEM|UPDATE]", "type",
     "Check a signed report and store it as a system or update report.",
     "signetctl report submit updatereport.msg.signed --type UPDATE", true},
    {"report", "list", 0, c_report_list, "report list [--limit N [--cursor C]]", LIST_OPTS,
     "The stored reports.", "signetctl report list"},
    {"backup", NULL, 1, c_backup, "backup FILE", "",
     "Write a backup of the state to FILE (a new file). Local only.",
     "signetctl backup /root/signet-$(date +%F).mdb", true},
};

enum {
	OPT_SOCKET = 256,
	OPT_TOKEN,
	OPT_TENANT,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERSION,
	OPT_ADMIN,
	OPT_ALG,
	OPT_DESCRIPTION,
	OPT_FILE,
	OPT_SUBJECT,
	OPT_GROUP,
	OPT_CLIENT,
	OPT_LIMIT,
	OPT_CURSOR,
	OPT_DEVCONF,
	OPT_INPUT_B64,
	OPT_PREHASHED,
	OPT_SCHEME,
	OPT_HASH,
	OPT_SALT_LENGTH,
	OPT_ENCODING,
	OPT_ATTACH,
	OPT_ALLOW_SCHEME,
	OPT_NAME,
	OPT_SIGN_KEY,
	OPT_PACKAGE_KEY,
	OPT_NO_SIGN_KEYS,
	OPT_ENCRYPT_KEY,
	OPT_ENCRYPT_CERT,
	OPT_CIPHER,
	OPT_FOUR_EYES,
	OPT_QUORUM,
	OPT_SECOND_FACTOR,
	OPT_USER,
	OPT_APPROVER,
	OPT_STATUS,
	OPT_TYPE,
	OPT_SINCE,
	OPT_COUNT,
	OPT_SHA256,
	OPT_OTP,
	OPT_CHAIN,
	OPT_RESOURCE,
	OPT_METADATA,
	OPT_FIRMWARE,
	OPT_REASON,
	OPT_FORCE,
	OPT_PUBKEY,
	OPT_OLDEST_FIRST,
	OPT_WAIT,
};

#define ARG  required_argument
#define FLAG no_argument
#define CIPHERS                                                                                    \
	"AES256_CBC_PKCS7_PAD AES128_CBC_PKCS7_PAD AES256_CBC_ZERO_BYTE_PAD "                      \
	"AES256_ECB_ZERO_BYTE_PAD AES128_ECB_ZERO_BYTE_PAD AES128_CTR_NO_PAD"
#define SCHEMES  "RSA_PSS RSA_PKCS1_V15 ECDSA EDDSA"
#define STATUSES "CREATED WAITING APPROVED IN_PROGRESS DONE FAILED REJECTED EXPIRED CANCELED"

static const struct ctl_option options[] = {
    {"socket", ARG, OPT_SOCKET, "PATH", "@file",
     "the daemon's socket (default: SIGNET_SOCKET, else " DEFAULT_SOCKET ")"},
    {"token", ARG, OPT_TOKEN, "TOKEN", NULL, "the API token (default: SIGNET_TOKEN)"},
    {"tenant", ARG, OPT_TENANT, "NAME", NULL,
     "the token must be of this tenant (default: SIGNET_TENANT)"},
    {"json", FLAG, OPT_JSON, NULL, NULL, "the result as JSON on stdout, errors as JSON on stderr"},
    {"timeout", ARG, OPT_TIMEOUT, "SEC", NULL,
     "seconds to wait for the daemon (task wait, --wait: for the task; events watch: for an "
     "event)"},
    {"help", FLAG, 'h', NULL, NULL, "this help; signetctl COMMAND --help: the command's"},
    {"version", FLAG, OPT_VERSION, NULL, NULL, "the version"},
    {"admin", ARG, OPT_ADMIN, "USER", NULL, "the tenant's initial admin"},
    {"alg", ARG, OPT_ALG, "ALG",
     "ECC_NIST_P256 ECC_NIST_P384 RSA_3072 RSA_4096 ED25519 AES_256 AES_128",
     "ECC_NIST_P256, ECC_NIST_P384, RSA_3072, RSA_4096, ED25519, AES_256 or AES_128"},
    {"description", ARG, OPT_DESCRIPTION, "TEXT", NULL, "a description"},
    {"file", ARG, OPT_FILE, "FILE", "@file", "the file to read"},
    {"subject", ARG, OPT_SUBJECT, "SUBJECT", NULL, "the request's subject, /CN=.../O=..."},
    {"output", ARG, 'o', "FILE", "@file", "the file to write (- for standard output)"},
    {"group", ARG, OPT_GROUP, "G", NULL, "a group of the user (up to 32)"},
    {"client", FLAG, OPT_CLIENT, NULL, NULL, "a machine user"},
    {"limit", ARG, OPT_LIMIT, "N", NULL, "one page of at most N entries (1 to 1000)"},
    {"cursor", ARG, OPT_CURSOR, "C", NULL, "start after C, the cursor a page ended with"},
    {"devconf", ARG, OPT_DEVCONF, "DC", NULL, "the device configuration: its name or id"},
    {"input-base64", ARG, OPT_INPUT_B64, "B64", NULL, "the input in base64 (under 48 KiB)"},
    {"prehashed", FLAG, OPT_PREHASHED, NULL, NULL, "B64 is the input's digest, not the input"},
    {"scheme", ARG, OPT_SCHEME, "S", SCHEMES,
     "the signature scheme (default: the key's, RSA_PSS for RSA keys)"},
    {"hash", ARG, OPT_HASH, "H", "SHA-256 SHA-384 SHA-512",
     "the hash signed (with --prehashed: the digest's)"},
    {"salt-length", ARG, OPT_SALT_LENGTH, "N", NULL, "the RSA_PSS salt length (default 32)"},
    {"encoding", ARG, OPT_ENCODING, "der|raw", "der raw",
     "an ECDSA signature as DER (default) or r||s"},
    {"attach", FLAG, OPT_ATTACH, NULL, NULL, "the CMS signature embeds the content"},
    {"allow-scheme", ARG, OPT_ALLOW_SCHEME, "S", SCHEMES,
     "a signature scheme its signing tasks may use (repeatable; default RSA_PSS ECDSA EDDSA)"},
    {"name", ARG, OPT_NAME, "NAME", NULL,
     "the task's name; devconf update: the device configuration's new name"},
    {"sign-key", ARG, OPT_SIGN_KEY, "LABEL", NULL,
     "a signing key for signing tasks (repeatable; tasks use the first)"},
    {"package-key", ARG, OPT_PACKAGE_KEY, "LABEL", NULL,
     "the key that signs package headers, and nothing else"},
    {"no-sign-keys", FLAG, OPT_NO_SIGN_KEYS, NULL, NULL,
     "devconf update: remove every signing key"},
    {"encrypt-key", ARG, OPT_ENCRYPT_KEY, "LABEL", NULL,
     "an AES key (repeatable; tasks use the first)"},
    {"encrypt-cert", ARG, OPT_ENCRYPT_CERT, "FILE", "@file",
     "a recipient's certificate (PEM): CMS EnvelopedData"},
    {"cipher", ARG, OPT_CIPHER, "CIPHER", CIPHERS, "the encryption cipher"},
    {"four-eyes", ARG, OPT_FOUR_EYES, "on|off", "on off", "whether tasks wait for approval"},
    {"quorum", ARG, OPT_QUORUM, "N", NULL, "distinct approvals a task needs, 1 to 16"},
    {"second-factor", ARG, OPT_SECOND_FACTOR, "TOTP|NONE", "TOTP NONE",
     "whether approvals need a TOTP code"},
    {"user", ARG, OPT_USER, "SUBJECT", NULL, "a subject that may create tasks (repeatable)"},
    {"approver", ARG, OPT_APPROVER, "SUBJECT", NULL, "a subject that may approve (repeatable)"},
    {"status", ARG, OPT_STATUS, "S", STATUSES, "only tasks in status S"},
    {"type", ARG, OPT_TYPE, "T", "SIGNING ENCRYPTION PACKAGING SYSTEM UPDATE",
     "task list: SIGNING, ENCRYPTION or PACKAGING; report submit: SYSTEM or UPDATE"},
    {"since", ARG, OPT_SINCE, "SEQ", NULL, "from the event numbered SEQ (0: all kept)"},
    {"count", ARG, OPT_COUNT, "N", NULL, "stop after N events"},
    {"sha256", ARG, OPT_SHA256, "HEX", NULL, "the input's SHA-256, checked"},
    {"otp", ARG, OPT_OTP, "CODE", NULL, "your current TOTP code"},
    {"chain", ARG, OPT_CHAIN, "C", "~appliance", "the audit chain (~appliance: the appliance's)"},
    {"resource", ARG, OPT_RESOURCE, "TYPE:ID", NULL, "only the entries of this resource"},
    {"metadata", ARG, OPT_METADATA, "FILE", "@file", "the package's metadata"},
    {"firmware", ARG, OPT_FIRMWARE, "FILE", "@file", "a firmware file (repeatable, in order)"},
    {"reason", ARG, OPT_REASON, "TEXT", NULL, "why, recorded with the decision"},
    {"force", FLAG, OPT_FORCE, NULL, NULL, "replace a seed the user has"},
    {"pubkey", ARG, OPT_PUBKEY, "PEM", "@file", "the audit public key (audit pubkey prints it)"},
    {"oldest-first", FLAG, OPT_OLDEST_FIRST, NULL, NULL,
     "the table oldest first (--json always is)"},
    {"wait", FLAG, OPT_WAIT, NULL, NULL,
     "wait until the task has ended (at most --timeout SEC), then write its result to -o FILE"},
};

static const struct ctl_syntax syntax = {
    options,
    ARRAY_SIZE(options),
    commands,
    ARRAY_SIZE(commands),
    "socket token tenant json timeout help version",
};

/* A number from LO to HI in TEXT, or a usage error naming OPTION. */
static int
number(const char *text, long long lo, long long hi, const char *option, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "%s takes a number from %lld to %lld",
				option, lo, hi);
	}
	*out = v;
	return 0;
}

/* Append ARG to the list V of N values, at most MAX. */
static int
append(const char **v, int *n, int max, const char *arg, const char *option)
{
	if (*n >= max) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "at most %d %s", max, option);
	}
	v[(*n)++] = arg;
	return 0;
}

static int
set_option(struct opts *o, int c, const char *arg)
{
	long long v;
	int r;

	switch (c) {
	case OPT_SOCKET:
		o->socket = arg;
		break;
	case OPT_TOKEN:
		o->token = arg;
		break;
	case OPT_TENANT:
		o->tenant = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_TIMEOUT:
		if ((r = number(arg, 1, 86400, "--timeout", &v)) != 0) {
			return r;
		}
		o->timeout = (int)v;
		o->timeout_set = true;
		break;
	case 'h':
		o->help = true;
		break;
	case OPT_VERSION:
		o->version = true;
		break;
	case OPT_ADMIN:
		o->admin = arg;
		break;
	case OPT_ALG:
		o->alg = arg;
		break;
	case OPT_DESCRIPTION:
		o->description = arg;
		break;
	case OPT_FILE:
		o->file = arg;
		break;
	case OPT_SUBJECT:
		o->subject = arg;
		break;
	case 'o':
		o->output = arg;
		break;
	case OPT_GROUP:
		return append(o->groups, &o->ngroups, MAX_GROUPS, arg, "--group options");
	case OPT_CLIENT:
		o->client = true;
		break;
	case OPT_LIMIT:
		if ((r = number(arg, 1, 1000, "--limit", &v)) != 0) {
			return r;
		}
		o->limit = (long)v;
		break;
	case OPT_CURSOR:
		o->cursor = arg;
		break;
	case OPT_DEVCONF:
		o->devconf = arg;
		break;
	case OPT_INPUT_B64:
		o->input_b64 = arg;
		break;
	case OPT_PREHASHED:
		o->prehashed = true;
		break;
	case OPT_SCHEME:
		o->scheme = arg;
		break;
	case OPT_HASH:
		o->hash = arg;
		break;
	case OPT_SALT_LENGTH:
		if ((r = number(arg, 0, 4096, "--salt-length", &v)) != 0) {
			return r;
		}
		o->salt_length = (long)v;
		break;
	case OPT_ENCODING:
		o->encoding = arg;
		break;
	case OPT_ATTACH:
		o->attach = true;
		break;
	case OPT_ALLOW_SCHEME:
		return append(o->allow_schemes, &o->nallow_schemes, MAX_LIST, arg,
			      "--allow-scheme options");
	case OPT_NAME:
		o->name = arg;
		break;
	case OPT_SIGN_KEY:
		return append(o->sign_keys, &o->nsign_keys, MAX_LIST, arg, "--sign-key options");
	case OPT_PACKAGE_KEY:
		o->package_key = arg;
		break;
	case OPT_NO_SIGN_KEYS:
		o->no_sign_keys = true;
		break;
	case OPT_ENCRYPT_KEY:
		return append(o->enc_keys, &o->nenc_keys, MAX_LIST, arg, "--encrypt-key options");
	case OPT_USER:
		return append(o->users, &o->nusers, MAX_LIST, arg, "--user options");
	case OPT_APPROVER:
		return append(o->approvers, &o->napprovers, MAX_LIST, arg, "--approver options");
	case OPT_ENCRYPT_CERT:
		o->enc_cert = arg;
		break;
	case OPT_CIPHER:
		o->cipher = arg;
		break;
	case OPT_FOUR_EYES:
		o->four_eyes = arg;
		break;
	case OPT_QUORUM:
		if ((r = number(arg, 1, 16, "--quorum", &v)) != 0) {
			return r;
		}
		o->quorum = (long)v;
		break;
	case OPT_SECOND_FACTOR:
		o->second_factor = arg;
		break;
	case OPT_STATUS:
		o->status = arg;
		break;
	case OPT_TYPE:
		o->type = arg;
		break;
	case OPT_SINCE:
		return number(arg, 0, LLONG_MAX, "--since", &o->since);
	case OPT_COUNT:
		if ((r = number(arg, 1, LONG_MAX, "--count", &v)) != 0) {
			return r;
		}
		o->count = (long)v;
		break;
	case OPT_SHA256:
		o->sha256 = arg;
		break;
	case OPT_OTP:
		o->otp = arg;
		break;
	case OPT_CHAIN:
		o->chain = arg;
		break;
	case OPT_RESOURCE:
		o->resource = arg;
		break;
	case OPT_METADATA:
		o->metadata = arg;
		break;
	case OPT_FIRMWARE:
		return append(o->firmware, &o->nfirmware, 255, arg, "--firmware files");
	case OPT_REASON:
		o->reason = arg;
		break;
	case OPT_FORCE:
		o->force = true;
		break;
	case OPT_PUBKEY:
		o->pubkey = arg;
		break;
	case OPT_OLDEST_FIRST:
		o->oldest_first = true;
		break;
	case OPT_WAIT:
		o->wait = true;
		break;
	default:
		return ctl_fail(EXIT_USAGE, "internal", NULL, "option %d not handled", c);
	}
	return 0;
}

/* Checks across options, before the daemon is asked. */
static int
check_combination(const struct opts *o)
{
	if (o->json && o->output != NULL && strcmp(o->output, "-") == 0) {
		return usage_error(
		    "-o - writes to standard output, where --json prints too: give a "
		    "file, or drop --json");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct ctl_line line;
	const struct ctl_cmd *cmd;
	int r, words;

	json_use_wiping_allocator();
	/* Errors found while the options are read are JSON too when --json comes later. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			ctl_json_errors = true;
		}
	}
	if (argc >= 2 && strcmp(argv[1], "__complete") == 0) {
		return ctl_complete(&syntax, argv + 2, argc - 2);
	}
	o.socket = getenv("SIGNET_SOCKET");
	o.token = getenv("SIGNET_TOKEN");
	o.tenant = getenv("SIGNET_TENANT");
	o.timeout = DEFAULT_TIMEOUT;
	o.since = -1;
	o.salt_length = -1;
	if ((r = ctl_getopt(argc, argv, &syntax, set_option, &o, &line)) != 0) {
		return r;
	}
	if (o.version) {
		printf("signetctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (line.nwords > 0 && strcmp(line.words[0], "help") == 0) {
		return ctl_help(&syntax, line.words + 1, line.nwords - 1);
	}
	if (o.help) {
		return ctl_help(&syntax, line.words, line.nwords);
	}
	if (line.nwords == 0) {
		ctl_usage(stderr, &syntax);
		return EXIT_USAGE;
	}
	if ((cmd = ctl_find(&syntax, line.words, line.nwords, &r)) == NULL ||
	    (r = ctl_check_options(&syntax, cmd, &line)) != 0 || (r = check_combination(&o)) != 0) {
		return r;
	}
	words = cmd->w2 != NULL ? 2 : 1;
	if (cmd->nargs >= 0 && line.nwords - words != cmd->nargs) {
		return ctl_fail(EXIT_USAGE, NULL, NULL, "usage: signetctl %s", cmd->usage);
	}
	if (o.token != NULL && o.token[0] == '\0') {
		o.token = NULL;
	}
	if (o.tenant != NULL && o.tenant[0] == '\0') {
		o.tenant = NULL;
	}
	sock_path = o.socket != NULL ? o.socket : DEFAULT_SOCKET;
	/* With --wait, --timeout bounds the wait for the task, not each request. */
	timeout_ms = (o.wait ? DEFAULT_TIMEOUT : o.timeout) * 1000;
	r = cmd->fn(&o, line.words + words);
	client_close(&cl);
	return r;
}

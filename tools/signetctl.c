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
#include "lib/error.h"
#include "lib/util.h"

#define EXIT_REFUSED   1
#define EXIT_USAGE     2
#define DEFAULT_SOCKET "/run/signet/signetd.sock"
#define MAX_GROUPS     32
#define MAX_LIST       64

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
	const char *name;
	const char *sign_keys[MAX_LIST];
	int nsign_keys;
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
};

struct cmd {
	const char *w1, *w2; /* command words ("key", "generate"); w2 NULL for one word */
	int nargs;           /* positional arguments after the words */
	int (*fn)(struct opts *o, char **args);
	const char *usage;
};

static struct client cl = {.fd = -1};
static const char *sock_path;
static int timeout_ms;

static int
usage_error(const char *what)
{
	fprintf(stderr, "signetctl: %s\n(see signetctl --help)\n", what);
	return EXIT_USAGE;
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
	int r;

	if (rfds == NULL) {
		rfds = tmpfds;
		rnfds = &tmpn;
	}
	/* Connect on first use: usage errors are reported before the daemon is needed. */
	if (cl.fd < 0 && (r = client_connect(&cl, sock_path, timeout_ms)) != 0) {
		fprintf(stderr, "signetctl: unavailable: cannot connect to %s: %s\n", sock_path,
			strerror(-r));
		json_decref(auth);
		json_decref(args);
		*code = EXIT_REFUSED;
		return NULL;
	}
	r = client_call(&cl, op, auth, args, fds, nfds, &reply, rfds, rnfds);
	json_decref(auth);
	json_decref(args);
	if (r == -EMSGSIZE) {
		fprintf(stderr,
			"signetctl: too_large: the request does not fit in one 64 KiB packet; "
			"pass big inputs as a file (--file)\n");
		*code = EXIT_USAGE;
		return NULL;
	}
	if (r != 0) {
		fprintf(stderr, "signetctl: unavailable: talking to signetd failed: %s\n",
			strerror(-r));
		*code = EXIT_REFUSED;
		return NULL;
	}
	if (rfds == tmpfds) {
		msg_close_fds(tmpfds, &tmpn);
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		fprintf(stderr, "signetctl: %s: %s\n",
			json_string_value(json_object_get(e, "code"))
			    ? json_string_value(json_object_get(e, "code"))
			    : "internal",
			json_string_value(json_object_get(e, "message"))
			    ? json_string_value(json_object_get(e, "message"))
			    : "");
		json_decref(reply);
		*code = EXIT_REFUSED;
		return NULL;
	}
	res = json_incref(json_object_get(reply, "result"));
	json_decref(reply);
	return res;
}

static void
print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

static const char *
sval(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL ? s : "";
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
 * A listing: with --limit, one page (its "cursor" says where the next
 * starts); otherwise every page, merged into one array under FIELD.
 */
static int
list_with(struct opts *o, const char *op, json_t *base, const char *field,
	  void (*human)(const json_t *res))
{
	json_t *all = json_object(), *items = json_array();
	char *cursor = o->cursor != NULL ? strdup(o->cursor) : NULL;
	int code = 0;

	json_object_set_new(all, field, items);
	for (;;) {
		json_t *args = base != NULL ? json_deep_copy(base) : json_object(), *res;
		json_object_set_new(args, "limit", json_integer(o->limit > 0 ? o->limit : 500));
		if (cursor != NULL) {
			json_object_set_new(args, "cursor", json_string(cursor));
		}
		res = call(o, op, args, NULL, 0, &code, NULL, NULL);
		if (res == NULL) {
			break;
		}
		json_array_extend(items, json_object_get(res, field));
		free(cursor);
		cursor = json_string_value(json_object_get(res, "cursor")) != NULL
			     ? strdup(json_string_value(json_object_get(res, "cursor")))
			     : NULL;
		json_decref(res);
		if (cursor == NULL || o->limit > 0) {
			break;
		}
	}
	if (code == 0) {
		if (cursor != NULL) {
			json_object_set_new(all, "cursor", json_string(cursor));
		}
		if (o->json) {
			print_json(all);
		} else {
			human(all);
			if (cursor != NULL) {
				printf("(more: --cursor %s)\n", cursor);
			}
		}
	}
	free(cursor);
	json_decref(all);
	json_decref(base);
	return code;
}

static int
list(struct opts *o, const char *op, const char *field, void (*human)(const json_t *res))
{
	return list_with(o, op, NULL, field, human);
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

	printf("signetd %s, up %llds (since %s)\n", sval(r, "version"),
	       (long long)json_integer_value(json_object_get(r, "uptime")), sval(r, "started"));
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
	if (sval(k, "publicKeyPem")[0] != '\0') {
		fputs(sval(k, "publicKeyPem"), stdout);
	}
}

static int
open_input(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0) {
		fprintf(stderr, "signetctl: cannot open %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
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
	return simple(o, "key.show", json_pack("{s:s}", "label", a[0]), NULL, 0, h_key);
}

static int
write_output(const char *path, const char *data)
{
	if (path == NULL) {
		fputs(data, stdout);
		return 0;
	}
	if (file_write_atomic(path, data, strlen(data), 0644) != 0) {
		fprintf(stderr, "signetctl: cannot write %s\n", path);
		return EXIT_REFUSED;
	}
	return 0;
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
	if (o->json) {
		print_json(res);
	} else {
		code = write_output(o->output, sval(res, "csrPem"));
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
		fprintf(stderr, "signetctl: cannot create %s: %s\n", a[0], strerror(errno));
		return EXIT_USAGE;
	}
	r = simple(o, "backup", NULL, &fd, 1, h_backup);
	close(fd);
	if (r != 0) {
		unlink(a[0]);
	}
	return r;
}

/* ACL */

static json_t *
rule_args(char **a)
{
	return json_pack("{s:s, s:s, s:s}", "subject", a[0], "resource", a[1], "action", a[2]);
}

static void
h_rule(const json_t *r)
{
	printf("%s\t%s\t%s\n", sval(r, "subject"), sval(r, "resource"), sval(r, "action"));
}

static int
c_acl_add(struct opts *o, char **a)
{
	return simple(o, "acl.add", rule_args(a), NULL, 0, h_rule);
}

static int
c_acl_remove(struct opts *o, char **a)
{
	return simple(o, "acl.remove", rule_args(a), NULL, 0, h_rule);
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
	if (o->nsign_keys > 0) {
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
			fprintf(stderr, "signetctl: %s: not a readable file of at most 16 KiB\n",
				o->enc_cert);
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
	json_array_foreach(json_object_get(r, "encryptionKeys"), i, e) {
		if (strcmp(sval(e, "type"), "CERTIFICATE") == 0) {
			printf("encryption certificate: %s (sha256 %s)\n", sval(e, "subject"),
			       sval(e, "sha256"));
		} else {
			printf("encryption key: %s (%s)\n", sval(e, "label"), sval(e, "algorithm"));
		}
	}
	printf("cipher: %s\npackaging: %s\n", sval(r, "cipher"), sval(r, "packaging"));
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

	if (o->nsign_keys == 0 && o->nenc_keys == 0 && o->enc_cert == NULL) {
		return usage_error("devconf create needs --sign-key LABEL, --encrypt-key LABEL or "
				   "--encrypt-cert FILE");
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
	json_t *args = devconf_args(o);

	if (args == NULL) {
		return EXIT_USAGE;
	}
	json_object_set_new(args, "id", json_string(a[0]));
	return simple(o, "devconf.update", args, NULL, 0, h_devconf);
}

static int
c_devconf_enable(struct opts *o, char **a)
{
	return simple(o, "devconf.update", json_pack("{s:s, s:b}", "id", a[0], "enabled", 1), NULL,
		      0, h_devconf);
}

static int
c_devconf_disable(struct opts *o, char **a)
{
	return simple(o, "devconf.disable", json_pack("{s:s}", "id", a[0]), NULL, 0, h_devconf);
}

static int
c_devconf_show(struct opts *o, char **a)
{
	return simple(o, "devconf.show", json_pack("{s:s}", "id", a[0]), NULL, 0, h_devconf);
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

static void
h_task(const json_t *t)
{
	const json_t *res = json_object_get(t, "result");
	size_t i;
	json_t *e;

	printf("id: %s\ntype: %s\nstatus: %s\n", sval(t, "id"), sval(t, "type"), sval(t, "status"));
	if (json_object_get(t, "name") != NULL) {
		printf("name: %s\nrequester: %s\ndevice configuration: %s (%s)\n", sval(t, "name"),
		       sval(t, "requester"), sval(t, "deviceConfigId"),
		       sval(t, "deviceConfigName"));
	}
	json_array_foreach(json_object_get(t, "inputs"), i, e) {
		printf("input: %s, %lld bytes, sha256 %s\n", sval(e, "name"),
		       (long long)json_integer_value(json_object_get(e, "size")),
		       sval(e, "sha256"));
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
			printf("result: %lld bytes, sha256 %s, %s until %lld\n",
			       (long long)json_integer_value(json_object_get(res, "size")),
			       sval(res, "sha256"),
			       json_is_true(json_object_get(res, "available")) ? "available"
									       : "expired",
			       (long long)json_integer_value(json_object_get(res, "expiresAt")));
		}
	}
}

static int
c_task_sign(struct opts *o, char **a)
{
	json_t *args;
	int fd = -1, r;

	if (o->devconf == NULL || (o->file == NULL) == (o->input_b64 == NULL)) {
		return usage_error(
		    "task sign needs --devconf ID and --file F or --input-base64 B64");
	}
	args = json_pack("{s:s}", "devconf", o->devconf);
	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (o->input_b64 != NULL) {
		json_object_set_new(args, "inputBase64", json_string(o->input_b64));
	}
	if (o->prehashed) {
		json_object_set_new(args, "prehashed", json_true());
	}
	if (o->file != NULL && (r = open_input(o->file, &fd)) != 0) {
		json_decref(args);
		return r;
	}
	r = simple(o, "task.sign", args, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, h_task);
	if (fd >= 0) {
		close(fd);
	}
	return r;
}

static int
c_task_encrypt(struct opts *o, char **a)
{
	json_t *args;
	int fd, r;

	if (o->devconf == NULL || o->file == NULL) {
		return usage_error("task encrypt needs --devconf ID and --file F");
	}
	args = json_pack("{s:s}", "devconf", o->devconf);
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
	r = simple(o, "task.encrypt", args, &fd, 1, h_task);
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
	json_t *args, *inputs;
	int fds[MSG_MAX_FDS], nfds = 0, n = 0, r = EXIT_USAGE, cat = -1;
	uint64_t off = 0;

	const char *files[512];

	if (o->devconf == NULL) {
		return usage_error("task package needs --devconf ID");
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
	files[n] = NULL;
	a = (char **)files;
	inputs = json_array();
	args = json_pack("{s:s, s:o}", "devconf", o->devconf, "inputs", inputs);
	if (o->name != NULL) {
		json_object_set_new(args, "name", json_string(o->name));
	}
	if (n + (o->metadata != NULL) > MSG_MAX_FDS) {
		const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/var/tmp";
		if ((cat = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0) {
			fprintf(stderr, "signetctl: cannot make a file in %s: %s\n", dir,
				strerror(errno));
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
					fprintf(stderr, "signetctl: cannot copy %s: %s\n", path,
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
	r = simple(o, "task.package", args, fds, nfds, h_task);
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

static void
h_tasks(const json_t *r)
{
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(r, "tasks"), i, t) {
		const json_t *in = json_array_get(json_object_get(t, "inputs"), 0);
		long long age =
		    (long long)(time(NULL) - json_integer_value(json_object_get(t, "createdAt")));
		printf("%s\t%s\t%s\t%s\t%lld bytes\tsha256 %s\tdevice configuration %s\t"
		       "requested by %s\t%llds ago\n",
		       sval(t, "id"), sval(t, "type"), sval(t, "status"), sval(t, "name"),
		       (long long)json_integer_value(json_object_get(in, "size")),
		       sval(in, "sha256"), sval(t, "deviceConfigId"), sval(t, "requester"), age);
	}
}

static int
c_task_list(struct opts *o, char **a)
{
	json_t *base = json_object();

	if (o->status != NULL) {
		json_object_set_new(base, "status", json_string(o->status));
	}
	if (o->type != NULL) {
		json_object_set_new(base, "type", json_string(o->type));
	}
	return list_with(o, "task.list", base, "tasks", h_tasks);
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
		fprintf(stderr, "signetctl: unavailable: task %s is still %s after %d s\n", a[0],
			st, wait);
		code = EXIT_REFUSED;
	} else if (strcmp(st, "DONE") != 0) {
		fprintf(stderr, "signetctl: task %s ended %s%s%s\n", a[0], st,
			json_is_string(json_object_get(res, "reason")) ? ": " : "",
			sval(res, "reason"));
		code = EXIT_REFUSED;
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
	int code = 0, rfds[MSG_MAX_FDS], rnfds = 0, out;
	char tmp[PATH_MAX];
	json_t *res;
	off_t off = 0;
	uint64_t size;

	if (o->output == NULL) {
		return usage_error("task download needs -o FILE");
	}
	res =
	    call(o, "task.download", json_pack("{s:s}", "id", a[0]), NULL, 0, &code, rfds, &rnfds);
	if (res == NULL) {
		return code;
	}
	if (rnfds != 1) {
		fprintf(stderr, "signetctl: internal: no file came with the answer\n");
		msg_close_fds(rfds, &rnfds);
		json_decref(res);
		return EXIT_REFUSED;
	}
	size = (uint64_t)json_integer_value(json_object_get(res, "size"));
	if (!str_printf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", o->output) ||
	    (out = mkostemp(tmp, O_CLOEXEC)) < 0) {
		fprintf(stderr, "signetctl: cannot create %s: %s\n", o->output, strerror(errno));
		msg_close_fds(rfds, &rnfds);
		json_decref(res);
		return EXIT_USAGE;
	}
	while ((uint64_t)off < size) {
		ssize_t n = copy_file_range(rfds[0], &off, out, NULL, size - (uint64_t)off, 0);
		if (n <= 0) {
			/* Across file systems older kernels refuse: copy by hand. */
			char buf[1 << 16];
			ssize_t m = pread(rfds[0], buf, sizeof(buf), off);
			if (m <= 0 || write_all(out, buf, (size_t)m) != 0) {
				break;
			}
			off += m;
		}
	}
	if ((uint64_t)off != size || fsync(out) != 0 || fchmod(out, 0644) != 0 ||
	    rename(tmp, o->output) != 0) {
		fprintf(stderr, "signetctl: cannot write %s\n", o->output);
		unlink(tmp);
		code = EXIT_REFUSED;
	}
	close(out);
	msg_close_fds(rfds, &rnfds);
	if (code == 0) {
		if (o->json) {
			print_json(res);
		} else {
			printf("%s: %llu bytes, sha256 %s\n", o->output, (unsigned long long)size,
			       sval(res, "sha256"));
		}
	}
	json_decref(res);
	return code;
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
			fprintf(stderr, "signetctl: unavailable: the event stream ended: %s\n",
				strerror(-r));
			return EXIT_REFUSED;
		}
		ev = json_object_get(pkt, "event");
		if (ev == NULL) {
			json_t *e = json_object_get(pkt, "error");
			fprintf(stderr, "signetctl: %s: %s\n", sval(e, "code"), sval(e, "message"));
			json_decref(pkt);
			return EXIT_REFUSED;
		}
		{
			char *line = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
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
		printf("%lld\t%lld\t%s\t%s\t%s\t%s\n",
		       (long long)json_integer_value(json_object_get(e, "seq")),
		       (long long)json_integer_value(json_object_get(e, "time")), sval(e, "actor"),
		       sval(e, "verb"), sval(e, "resource"), sval(e, "message"));
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
		json_object_set_new(base, "resource", json_string(o->resource));
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
	json_t *args = json_object();
	int fd, r;

	if (o->output == NULL) {
		json_decref(args);
		return usage_error("audit export needs -o FILE");
	}
	if (o->chain != NULL) {
		json_object_set_new(args, "chain", json_string(o->chain));
	}
	/* We open the file: the daemon writes only to the descriptor we hand it. */
	fd = open(o->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "signetctl: cannot create %s: %s\n", o->output, strerror(errno));
		json_decref(args);
		return EXIT_USAGE;
	}
	r = simple(o, "audit.export", args, &fd, 1, h_export);
	close(fd);
	if (r != 0) {
		unlink(o->output);
	}
	return r;
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
		fprintf(stderr, "signetctl: cannot open %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	*pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (*pub == NULL || !EVP_PKEY_is_a(*pub, "EC") ||
	    EVP_PKEY_get_group_name(*pub, group, sizeof(group), NULL) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		fprintf(stderr, "signetctl: %s is not an ECDSA P-256 public key in PEM\n", path);
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
			fprintf(stderr, "signetctl: audit: %s\n", sval(live, "message"));
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
		fprintf(stderr, "signetctl: cannot open %s: %s\n", o->file, strerror(errno));
		EVP_PKEY_free(pub);
		return EXIT_USAGE;
	}
	r = audit_verify_file(f, pub, &res);
	fclose(f);
	EVP_PKEY_free(pub);
	if (r != AUDIT_VERIFY_OK) {
		fprintf(stderr, "signetctl: audit: %s\n", res.message);
		return r;
	}
	printf("audit log of %s: %llu entries, %llu checkpoints: verified\n", res.chain,
	       (unsigned long long)res.entries, (unsigned long long)res.checkpoints);
	return 0;
}

static const struct cmd commands[] = {
    {"status", NULL, 0, c_status, "status"},
    {"whoami", NULL, 0, c_whoami, "whoami"},
    {"tenant", "create", 1, c_tenant_create, "tenant create NAME --admin USER"},
    {"tenant", "list", 0, c_tenant_list, "tenant list [--limit N [--cursor C]]"},
    {"user", "create", 1, c_user_create, "user create NAME [--group G]... [--client]"},
    {"user", "list", 0, c_user_list, "user list [--limit N [--cursor C]]"},
    {"user", "show", 1, c_user_show, "user show NAME"},
    {"user", "token", 1, c_user_token, "user token NAME"},
    {"user", "revoke", 1, c_user_revoke, "user revoke NAME"},
    {"user", "otp-enroll", 1, c_user_otp_enroll, "user otp-enroll NAME [--force]"},
    {"user", "otp-reset", 1, c_user_otp_reset, "user otp-reset NAME"},
    {"key", "generate", 1, c_key_generate, "key generate LABEL --alg ALG [--description TEXT]"},
    {"key", "import", 1, c_key_import,
     "key import LABEL --alg AES_256|AES_128 --file RAWKEY [--description TEXT]"},
    {"key", "list", 0, c_key_list, "key list [--limit N [--cursor C]]"},
    {"key", "show", 1, c_key_show, "key show LABEL"},
    {"key", "csr", 1, c_key_csr, "key csr LABEL --subject /CN=... [-o FILE]"},
    {"key", "cert", 1, c_key_cert, "key cert LABEL --file CHAIN.pem"},
    {"acl", "add", 3, c_acl_add, "acl add SUBJECT RESOURCE ACTION"},
    {"acl", "remove", 3, c_acl_remove, "acl remove SUBJECT RESOURCE ACTION"},
    {"acl", "list", 0, c_acl_list, "acl list [--limit N [--cursor C]]"},
    {"config", "get", 1, c_config_get, "config get KEY"},
    {"config", "set", 2, c_config_set, "config set KEY JSON"},
    {"devconf", "create", 1, c_devconf_create,
     "devconf create NAME --sign-key LABEL [--encrypt-key LABEL | --encrypt-cert FILE] "
     "[--cipher C] [--four-eyes on|off] [--quorum N] [--second-factor TOTP|NONE] "
     "[--user SUBJECT]... [--approver SUBJECT]... [--description TEXT]"},
    {"devconf", "update", 1, c_devconf_update, "devconf update ID [the options of create]"},
    {"devconf", "enable", 1, c_devconf_enable, "devconf enable ID"},
    {"devconf", "disable", 1, c_devconf_disable, "devconf disable ID"},
    {"devconf", "list", 0, c_devconf_list, "devconf list [--limit N [--cursor C]]"},
    {"devconf", "show", 1, c_devconf_show, "devconf show ID"},
    {"task", "sign", 0, c_task_sign,
     "task sign --devconf ID (--file F | --input-base64 B64 [--prehashed]) [--name N]"},
    {"task", "encrypt", 0, c_task_encrypt,
     "task encrypt --devconf ID --file F [--name N] [--sha256 HEX]"},
    {"task", "package", -1, c_task_package,
     "task package --devconf ID --firmware F [--firmware F]... [--metadata M] [--name N]"},
    {"task", "show", 1, c_task_show, "task show ID"},
    {"task", "list", 0, c_task_list, "task list [--status S] [--type T] [--limit N [--cursor C]]"},
    {"task", "wait", 1, c_task_wait, "task wait ID [--timeout SEC]"},
    {"task", "cancel", 1, c_task_cancel, "task cancel ID"},
    {"task", "approve", 1, c_task_approve, "task approve ID [--otp CODE] [--reason TEXT]"},
    {"task", "reject", 1, c_task_reject, "task reject ID [--reason TEXT]"},
    {"task", "download", 1, c_task_download, "task download ID -o FILE"},
    {"events", "watch", 0, c_events_watch, "events watch [--since SEQ] [--count N]"},
    {"audit", "list", 0, c_audit_list,
     "audit list [--resource TYPE:ID] [--chain ~appliance] [--limit N [--cursor C]]"},
    {"audit", "export", 0, c_audit_export, "audit export -o FILE [--chain ~appliance]"},
    {"audit", "pubkey", 0, c_audit_pubkey, "audit pubkey"},
    {"audit", "verify", 0, c_audit_verify, "audit verify [--file FILE --pubkey PEM] [--chain C]"},
    {"report", "verify", 1, c_report_verify, "report verify FILE"},
    {"report", "submit", 1, c_report_submit, "report submit FILE [--type SYSTEM|UPDATE]"},
    {"report", "list", 0, c_report_list, "report list [--limit N [--cursor C]]"},
    {"backup", NULL, 1, c_backup, "backup FILE"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: signetctl [--socket PATH] [--token TOKEN] [--tenant NAME] [--json] "
		   "[--timeout SEC] COMMAND\n"
		   "commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		fprintf(f, "  %s\n", commands[i].usage);
	}
	fprintf(f, "environment: SIGNET_SOCKET, SIGNET_TOKEN, SIGNET_TENANT\n"
		   "exit status: 0 success, 1 refused by signetd (code and message on stderr), "
		   "2 usage error; audit verify: 1 not an audit export, 3 an entry wrong, "
		   "4 a checkpoint wrong, 5 the last entry not covered by a checkpoint\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"token", required_argument, NULL, 'T'},
	    {"tenant", required_argument, NULL, 'N'},
	    {"json", no_argument, NULL, 'j'},
	    {"admin", required_argument, NULL, 'a'},
	    {"alg", required_argument, NULL, 'A'},
	    {"description", required_argument, NULL, 'd'},
	    {"file", required_argument, NULL, 'f'},
	    {"subject", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"group", required_argument, NULL, 'g'},
	    {"client", no_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},
	    {"limit", required_argument, NULL, 'L'},
	    {"cursor", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"devconf", required_argument, NULL, 1001},
	    {"input-base64", required_argument, NULL, 1002},
	    {"prehashed", no_argument, NULL, 1003},
	    {"name", required_argument, NULL, 1004},
	    {"sign-key", required_argument, NULL, 1005},
	    {"encrypt-key", required_argument, NULL, 1006},
	    {"encrypt-cert", required_argument, NULL, 1007},
	    {"cipher", required_argument, NULL, 1008},
	    {"four-eyes", required_argument, NULL, 1009},
	    {"quorum", required_argument, NULL, 1010},
	    {"second-factor", required_argument, NULL, 1011},
	    {"user", required_argument, NULL, 1012},
	    {"approver", required_argument, NULL, 1013},
	    {"status", required_argument, NULL, 1014},
	    {"type", required_argument, NULL, 1015},
	    {"since", required_argument, NULL, 1016},
	    {"count", required_argument, NULL, 1017},
	    {"sha256", required_argument, NULL, 1018},
	    {"otp", required_argument, NULL, 1019},
	    {"chain", required_argument, NULL, 1030},
	    {"resource", required_argument, NULL, 1031},
	    {"metadata", required_argument, NULL, 1032},
	    {"firmware", required_argument, NULL, 1033},
	    {"reason", required_argument, NULL, 1020},
	    {"force", no_argument, NULL, 1021},
	    {"pubkey", required_argument, NULL, 1022},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	int c, r;
	char **pos;
	int npos;

	json_use_wiping_allocator();
	o.socket = getenv("SIGNET_SOCKET");
	o.token = getenv("SIGNET_TOKEN");
	o.tenant = getenv("SIGNET_TENANT");
	o.timeout = 120;
	o.since = -1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			o.socket = optarg;
			break;
		case 'T':
			o.token = optarg;
			break;
		case 'N':
			o.tenant = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'a':
			o.admin = optarg;
			break;
		case 'A':
			o.alg = optarg;
			break;
		case 'd':
			o.description = optarg;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 's':
			o.subject = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'C':
			o.client = true;
			break;
		case 'g':
			if (o.ngroups >= MAX_GROUPS) {
				return usage_error("at most 32 groups");
			}
			o.groups[o.ngroups++] = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 || v > 86400) {
				return usage_error("--timeout takes seconds from 1 to 86400");
			}
			o.timeout = (int)v;
			o.timeout_set = true;
			break;
		}
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 || v > 1000) {
				return usage_error("--limit takes a number from 1 to 1000");
			}
			o.limit = v;
			break;
		}
		case 'R':
			o.cursor = optarg;
			break;
		case 1001:
			o.devconf = optarg;
			break;
		case 1002:
			o.input_b64 = optarg;
			break;
		case 1003:
			o.prehashed = true;
			break;
		case 1004:
			o.name = optarg;
			break;
		case 1005:
		case 1006:
		case 1012:
		case 1013: {
			const char **v = c == 1005   ? o.sign_keys
					 : c == 1006 ? o.enc_keys
					 : c == 1012 ? o.users
						     : o.approvers;
			int *n = c == 1005   ? &o.nsign_keys
				 : c == 1006 ? &o.nenc_keys
				 : c == 1012 ? &o.nusers
					     : &o.napprovers;
			if (*n >= MAX_LIST) {
				return usage_error("too many values for one option");
			}
			v[(*n)++] = optarg;
			break;
		}
		case 1007:
			o.enc_cert = optarg;
			break;
		case 1008:
			o.cipher = optarg;
			break;
		case 1009:
			o.four_eyes = optarg;
			break;
		case 1010:
		case 1016:
		case 1017: {
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (*end != '\0' || v < (c == 1016 ? 0 : 1) || (c == 1010 && v > 16)) {
				return usage_error(
				    "--quorum takes 1..16, --since 0.., --count 1..");
			}
			if (c == 1010) {
				o.quorum = (long)v;
			} else if (c == 1016) {
				o.since = v;
			} else {
				o.count = (long)v;
			}
			break;
		}
		case 1011:
			o.second_factor = optarg;
			break;
		case 1014:
			o.status = optarg;
			break;
		case 1015:
			o.type = optarg;
			break;
		case 1018:
			o.sha256 = optarg;
			break;
		case 1019:
			o.otp = optarg;
			break;
		case 1030:
			o.chain = optarg;
			break;
		case 1031:
			o.resource = optarg;
			break;
		case 1032:
			o.metadata = optarg;
			break;
		case 1033:
			if (o.nfirmware == 255) {
				fprintf(stderr, "signetctl: at most 255 --firmware files\n");
				return EXIT_USAGE;
			}
			o.firmware[o.nfirmware++] = optarg;
			break;
		case 1020:
			o.reason = optarg;
			break;
		case 1021:
			o.force = true;
			break;
		case 1022:
			o.pubkey = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("signetctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	pos = argv + optind;
	npos = argc - optind;
	if (npos == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.token != NULL && o.token[0] == '\0') {
		o.token = NULL;
	}
	if (o.tenant != NULL && o.tenant[0] == '\0') {
		o.tenant = NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct cmd *cmd = &commands[i];
		int words = cmd->w2 != NULL ? 2 : 1;
		if (strcmp(pos[0], cmd->w1) != 0 ||
		    (cmd->w2 != NULL && (npos < 2 || strcmp(pos[1], cmd->w2) != 0))) {
			continue;
		}
		if (cmd->nargs >= 0 && npos - words != cmd->nargs) {
			fprintf(stderr, "signetctl: usage: signetctl %s\n", cmd->usage);
			return EXIT_USAGE;
		}
		sock_path = o.socket != NULL ? o.socket : DEFAULT_SOCKET;
		timeout_ms = o.timeout * 1000;
		r = cmd->fn(&o, pos + words);
		client_close(&cl);
		return r;
	}
	fprintf(stderr, "signetctl: unknown command '%s'\n", pos[0]);
	usage(stderr);
	return EXIT_USAGE;
}

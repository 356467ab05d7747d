/* SPDX-License-Identifier: Apache-2.0 */
/* signetctl: the command-line client of the signetd socket API. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/client.h"
#include "lib/error.h"
#include "lib/util.h"

#define EXIT_REFUSED   1
#define EXIT_USAGE     2
#define DEFAULT_SOCKET "/run/signet/signetd.sock"
#define MAX_GROUPS     32

struct opts {
	const char *socket;
	const char *token;
	const char *tenant;
	bool json;
	const char *admin;
	const char *alg;
	const char *description;
	const char *file;
	const char *subject;
	const char *output;
	bool client;
	const char *groups[MAX_GROUPS];
	int ngroups;
	int timeout;
	long limit;         /* listings: one page of at most this many (0: every page) */
	const char *cursor; /* listings: resume here */
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
list(struct opts *o, const char *op, const char *field, void (*human)(const json_t *res))
{
	json_t *all = json_object(), *items = json_array();
	char *cursor = o->cursor != NULL ? strdup(o->cursor) : NULL;
	int code = 0;

	json_object_set_new(all, field, items);
	for (;;) {
		json_t *args = json_object(), *res;
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
	return code;
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
}

static int
c_status(struct opts *o, char **a)
{
	return simple(o, "status", NULL, NULL, 0, h_status);
}

static void
h_whoami(const json_t *r)
{
	printf("USER:%s of tenant %s%s%s\n", sval(r, "user"), sval(r, "tenant"),
	       json_is_true(json_object_get(r, "admin")) ? " (initial admin)" : "",
	       json_is_true(json_object_get(r, "local")) ? ", local" : "");
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
    {"key", "generate", 1, c_key_generate, "key generate LABEL --alg ALG [--description TEXT]"},
    {"key", "import", 1, c_key_import,
     "key import LABEL --alg AES_256|AES_128 --file RAWKEY [--description TEXT]"},
    {"key", "list", 0, c_key_list, "key list [--limit N [--cursor C]]"},
    {"key", "show", 1, c_key_show, "key show LABEL"},
    {"key", "csr", 1, c_key_csr, "key csr LABEL --subject /CN=... [-o FILE]"},
    {"key", "cert", 1, c_key_cert, "key cert LABEL --file CHAIN.pem"},
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
		   "2 usage error\n");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"socket", required_argument, NULL, 'S'},      {"token", required_argument, NULL, 'T'},
	    {"tenant", required_argument, NULL, 'N'},      {"json", no_argument, NULL, 'j'},
	    {"admin", required_argument, NULL, 'a'},       {"alg", required_argument, NULL, 'A'},
	    {"description", required_argument, NULL, 'd'}, {"file", required_argument, NULL, 'f'},
	    {"subject", required_argument, NULL, 's'},     {"output", required_argument, NULL, 'o'},
	    {"group", required_argument, NULL, 'g'},       {"client", no_argument, NULL, 'C'},
	    {"timeout", required_argument, NULL, 't'},     {"limit", required_argument, NULL, 'L'},
	    {"cursor", required_argument, NULL, 'R'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},           {NULL, 0, NULL, 0},
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
		if (npos - words != cmd->nargs) {
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

/* SPDX-License-Identifier: Apache-2.0 */
/* signet-front: bind, drop privileges for good, serve the REST API until told to stop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "front/front.h"
#include "front/session.h"
#include "front/ui.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/util.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define TLS_FILE_MAX (256 * 1024)
#define OPENAPI_MAX  (1024 * 1024) /* the OpenAPI document, read once at start */

static void
usage(FILE *out)
{
	fprintf(out, "usage: signet-front [--config FILE] [--socket PATH] [--listen ADDR:PORT]...\n"
		     "                    [--tls-cert FILE --tls-key FILE] [--user NAME]\n"
		     "                    [--tmpdir DIR] [--log-level LEVEL] [--openapi FILE]\n"
		     "                    [--check-config]\n"
		     "       signet-front --version\n");
}

/* "127.0.0.1:8080", "[::1]:8443", ":8080" (all IPv4 addresses). */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon, *h = spec;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (rb == NULL || rb[1] != ':') {
			return -1;
		}
		h = spec + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL) {
			return -1;
		}
		hl = (size_t)(colon - spec);
	}
	if (hl >= sizeof(host)) {
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
		return -1;
	}
	if (spec[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			return -1;
		}
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (host[0] == '\0') {
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		} else if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			return -1;
		}
		*len = sizeof(*a);
	}
	return 0;
}

static int
bind_listen(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_listen(spec, &ss, &len) != 0) {
		log_err("--listen %s: expected ADDR:PORT or [ADDR6]:PORT", spec);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
		log_err("cannot listen on %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Started as root: become USER for good (lib/privdrop.c, shared with
 * signetd): its primary group and the groups the group file gives it (the
 * socket's group, signet-api), none of root's, no capability, no new
 * privileges. Started as anyone else: USER, if given, must be who we are.
 */
static int
drop_privileges(const char *user)
{
	const struct privdrop p = {user, NULL, true, NULL};
	char why[512];

	if (privdrop(&p, why, sizeof(why)) != 0) {
		log_err("%s", why);
		return -1;
	}
	return 0;
}

/* A PEM file as a string: the key as a secret (locked, wiped, mode checked), the certificate not.
 */
static char *
read_text(const char *path, bool secret)
{
	struct secret s = {0};
	char *out;

	if (!secret) {
		uint8_t *data = NULL;
		size_t len = 0;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int r = fd >= 0 ? fd_read_all(fd, TLS_FILE_MAX, &data, &len) : -1;
		if (fd >= 0) {
			close(fd);
		}
		if (r != 0) {
			log_err("cannot read %s", path);
			return NULL;
		}
		return (char *)data; /* fd_read_all ends it with a NUL */
	}
	if (secret_read_file(&s, path, TLS_FILE_MAX) != 0) {
		log_err("cannot read %s", path);
		return NULL;
	}
	out = malloc(s.len + 1);
	if (out != NULL) {
		memcpy(out, s.data, s.len);
		out[s.len] = '\0';
	}
	secret_free(&s);
	return out;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"socket", required_argument, NULL, 's'},
					     {"listen", required_argument, NULL, 'l'},
					     {"tls-cert", required_argument, NULL, 'C'},
					     {"tls-key", required_argument, NULL, 'K'},
					     {"user", required_argument, NULL, 'u'},
					     {"tmpdir", required_argument, NULL, 't'},
					     {"log-level", required_argument, NULL, 'L'},
					     {"check-config", no_argument, NULL, 'k'},
					     {"version", no_argument, NULL, 'V'},
					     {"openapi", required_argument, NULL, 'O'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct front_cfg cfg;
	struct front f = {0};
	struct listener lst[FRONT_MAX_LISTEN] = {0};
	char *cert = NULL, *key = NULL, err[300];
	const char *config_file = NULL;
	char *cli_listen[FRONT_MAX_LISTEN];
	int ncli = 0, o, code = EXIT_RUNTIME, sig, stop[2] = {-1, -1};
	bool check_only = false;
	sigset_t set;

	front_cfg_init(&cfg);
	/* First pass: the config file, so that the command line overrides it. */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c') {
			config_file = optarg;
		} else if (o == 'V') {
			printf("signet-front %s\n", PACKAGE_VERSION);
			return 0;
		} else if (o == 'h') {
			usage(stdout);
			return 0;
		}
	}
	opterr = 1;
	optind = 0;
	if (config_file != NULL && front_cfg_load(&cfg, config_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "signet-front: %s\n", err);
		return EXIT_USAGE;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key_name = NULL;
		switch (o) {
		case 'c':
			break;
		case 's':
			key_name = "socket";
			break;
		case 'l':
			if (ncli == FRONT_MAX_LISTEN) {
				fprintf(stderr, "signet-front: at most %d --listen\n",
					FRONT_MAX_LISTEN);
				return EXIT_USAGE;
			}
			cli_listen[ncli++] = optarg;
			break;
		case 'C':
			key_name = "tls_cert";
			break;
		case 'K':
			key_name = "tls_key";
			break;
		case 'u':
			key_name = "user";
			break;
		case 't':
			key_name = "tmpdir";
			break;
		case 'L':
			key_name = "log_level";
			break;
		case 'O':
			key_name = "openapi";
			break;
		case 'k':
			check_only = true;
			break;
		case 'V':
			printf("signet-front %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
		if (key_name != NULL &&
		    front_cfg_set(&cfg, key_name, optarg, err, sizeof(err)) != 0) {
			fprintf(stderr, "signet-front: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (ncli > 0) {
		for (int i = 0; i < cfg.nlisten; i++) {
			free(cfg.listen[i]);
		}
		cfg.nlisten = 0;
		for (int i = 0; i < ncli; i++) {
			if (front_cfg_set(&cfg, "listen", cli_listen[i], err, sizeof(err)) != 0) {
				fprintf(stderr, "signet-front: --listen: %s\n", err);
				return EXIT_USAGE;
			}
		}
	}
	if (cfg.nlisten == 0) {
		front_cfg_set(&cfg, "listen", "127.0.0.1:8080", err, sizeof(err));
	}
	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL)) {
		fprintf(stderr, "signet-front: --tls-cert and --tls-key go together\n");
		return EXIT_USAGE;
	}
	if (log_level_parse(cfg.log_level) < 0) {
		fprintf(stderr, "signet-front: unknown log level %s\n", cfg.log_level);
		return EXIT_USAGE;
	}
	for (int i = 0; i < cfg.nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (parse_listen(cfg.listen[i], &ss, &len) != 0) {
			fprintf(stderr,
				"signet-front: listen %s: expected ADDR:PORT or [ADDR6]:PORT\n",
				cfg.listen[i]);
			return EXIT_USAGE;
		}
	}
	if (check_only) {
		printf("signet-front: configuration OK\n");
		front_cfg_free(&cfg);
		return 0;
	}
	log_set_level(log_level_parse(cfg.log_level));
	signal(SIGPIPE, SIG_IGN);
	/* Tokens pass through JSON values: wipe them when freed. */
	json_use_wiping_allocator();

	/* Everything that needs root happens before the drop: the sockets and the TLS files. */
	for (int i = 0; i < cfg.nlisten; i++) {
		lst[i].fd = -1;
	}
	for (int i = 0; i < cfg.nlisten; i++) {
		if ((lst[i].fd = bind_listen(cfg.listen[i])) < 0) {
			goto out;
		}
	}
	if (cfg.tls_cert != NULL && ((cert = read_text(cfg.tls_cert, false)) == NULL ||
				     (key = read_text(cfg.tls_key, true)) == NULL)) {
		goto out;
	}
	/* Read once, before the drop: served from memory, whatever the front may read later. */
	{
		uint8_t *doc = NULL;
		size_t len = 0;
		int fd = open(cfg.openapi, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fd_read_all(fd, OPENAPI_MAX, &doc, &len) == 0) {
			f.openapi = (char *)doc;
			f.openapi_len = len;
		} else {
			log_warning(
			    "cannot read the OpenAPI document %s: /api/openapi.yaml answers 404",
			    cfg.openapi);
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	if (strcmp(cfg.ui, "on") == 0) {
		f.ui = ui_load(cfg.ui_dir);
		if ((f.sessions = sessions_new(cfg.max_sessions, cfg.session_idle_timeout,
					       cfg.session_lifetime)) == NULL) {
			goto out;
		}
	}
	if (drop_privileges(cfg.user) != 0) {
		goto out;
	}
	prctl(PR_SET_DUMPABLE, 0);
	if (access(cfg.tmpdir, W_OK | X_OK) != 0) {
		log_err("cannot write uploads to %s: %s", cfg.tmpdir, strerror(errno));
		goto out;
	}
	f.cfg = &cfg;
	f.uid_dropped = (int)geteuid();
	if (pipe2(stop, O_CLOEXEC) != 0) {
		log_err("pipe: %s", strerror(errno));
		goto out;
	}
	f.stop_fd = stop[0];
	if ((f.pool = pool_new(cfg.socket_path, (int)cfg.pool_size,
			       (int)cfg.daemon_timeout * 1000)) == NULL) {
		goto out;
	}
	/* Every thread started from here on inherits the blocked signals; this one waits for them.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((f.deadlines = deadlines_new()) == NULL) {
		goto out;
	}
	for (int i = 0; i < cfg.nlisten; i++) {
		lst[i].f = &f;
		lst[i].tls = cert != NULL;
		if (http_start(&lst[i], cert, key) != 0 ||
		    (!lst[i].tls && guard_start(&lst[i]) != 0)) {
			goto out;
		}
	}
	if (key != NULL) {
		secure_wipe(key, strlen(key));
	}
	log_notice("signet-front %s ready (pid %ld, uid %d, %d listener%s, signetd at %s)",
		   PACKAGE_VERSION, (long)getpid(), f.uid_dropped, cfg.nlisten,
		   cfg.nlisten == 1 ? "" : "s", cfg.socket_path);
	do {
		if (sigwait(&set, &sig) != 0) {
			break;
		}
	} while (sig == SIGHUP);
	log_notice("signet-front stopping (signal %d)", sig);
	/* Event streams wait on this: they end now rather than at their next keepalive. */
	(void)!write(stop[1], "x", 1);
	code = 0;
out:
	/* The guards first: they hand connections to the servers. */
	for (int i = 0; i < cfg.nlisten; i++) {
		guard_stop(&lst[i]);
	}
	for (int i = 0; i < cfg.nlisten; i++) {
		if (lst[i].mhd != NULL) {
			MHD_stop_daemon(lst[i].mhd);
		}
		if (lst[i].fd >= 0) {
			close(lst[i].fd);
		}
	}
	deadlines_free(f.deadlines);
	pool_free(f.pool);
	sessions_free(f.sessions);
	ui_free(f.ui);
	for (int i = 0; i < 2; i++) {
		if (stop[i] >= 0) {
			close(stop[i]);
		}
	}
	free(cert);
	free(f.openapi);
	if (key != NULL) {
		secure_wipe(key, strlen(key));
		free(key);
	}
	front_cfg_free(&cfg);
	return code;
}

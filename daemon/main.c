/* SPDX-License-Identifier: Apache-2.0 */
/* signetd: options, process hygiene, start-up order and the event loop. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <event2/thread.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "daemon/audit.h"
#include "daemon/authfail.h"
#include "daemon/conf.h"
#include "daemon/daemon.h"
#include "daemon/devconf.h"
#include "daemon/engine.h"
#include "daemon/ingest.h"
#include "daemon/metrics.h"
#include "daemon/init.h"
#include "daemon/ops.h"
#include "daemon/quota.h"
#include "daemon/sandbox.h"
#include "daemon/server.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "daemon/tokenguard.h"
#include "daemon/workers.h"
#include "hsm/hsm.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/privdrop.h"
#include "lib/util.h"

#define EXIT_RUNTIME 1 /* failed while running, or could not start */
#define EXIT_USAGE   2 /* bad options or configuration */
#define EXIT_TOKEN   3 /* the token is missing or refused the PIN */
#define PIN_MAX      256

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: signetd --init --state-dir DIR [--user NAME]\n"
	    "       signetd [--state-dir DIR] [--config FILE] [--log-level LEVEL] [--user NAME]\n"
	    "       signetd --check-config [--state-dir DIR] [--config FILE]\n"
	    "       signetd --version\n");
}

static void
harden_process(void)
{
	struct rlimit rl = {0, 0};

	/* Keys never leave the token, but the PIN and tokens pass through memory: no dumps. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	/* Descriptors ride along with requests: take all the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(0077);
	signal(SIGPIPE, SIG_IGN);
}

/* Is the directory open as FD empty? (FD stays open.) */
static bool
fd_dir_empty(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	bool empty = true;

	if (d == NULL) {
		if (dup_fd >= 0) {
			close(dup_fd);
		}
		return false;
	}
	while (empty && (e = readdir(d)) != NULL) {
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	}
	closedir(d);
	return empty;
}

/*
 * Started as root: become USER for good (lib/privdrop.c, shared with
 * signet-front). Its primary group and, when the socket is given to a
 * group, that group are its only groups (none of root's). STATE_DIR (when
 * not NULL) must belong to USER. EXIT_* or 0.
 */
static int
drop_privileges(const char *user, const char *socket_group, const char *state_dir)
{
	const struct privdrop p = {user, socket_group, false, state_dir};
	char why[512];
	int r = privdrop(&p, why, sizeof(why));

	if (r != 0) {
		fprintf(stderr, "signetd: %s%s\n", why,
			r == SIGNET_EINVAL && strstr(why, "--user NAME") != NULL
			    ? " (or [daemon] user)"
			    : "");
		return r == SIGNET_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	}
	return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	log_notice("received %s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	(void)sd_notify(0, "STOPPING=1"); /* refused under the seccomp filter; harmless */
	server_shutdown(d->server);
}

/*
 * Once a second: due timers (result expiry, capability removal) are looked
 * at off the loop. Audit checkpoints have a thread of their own.
 */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	tasks_tick(arg);
	/* Counted failed authentications of windows that ended: one entry each (queued). */
	audit_authfail_flush(arg, false);
}

/* Where the PIN comes from: systemd's LoadCredential= wins over the configured file. */
static bool
pin_source(const struct config *cfg, char *path, size_t pathlen)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;

	errno = 0;
	if (creds != NULL && creds[0] == '/' && str_printf(path, pathlen, "%s/token-pin", creds) &&
	    stat(path, &st) == 0) {
		return true;
	}
	return str_printf(path, pathlen, "%s", cfg->pin_file);
}

static int
read_pin(const struct config *cfg, struct secret *pin)
{
	char path[PATH_MAX];

	if (!pin_source(cfg, path, sizeof(path))) {
		return SIGNET_EINVAL;
	}
	return secret_read_file(pin, path, PIN_MAX);
}

static int
load_config(struct config *cfg, const char *state_dir, const char *config_file)
{
	char err[256];

	if (config_file != NULL && config_load(cfg, config_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "signetd: %s: %s\n", config_file, err);
		return EXIT_USAGE;
	}
	if (state_dir != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = strdup(state_dir);
	}
	if (config_finish(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "signetd: configuration: %s\n", err);
		return EXIT_USAGE;
	}
	log_set_level(log_level_parse(cfg->log_level));
	return 0;
}

/*
 * Say loudly, in the log and on the appliance audit chain, that the token
 * was restored from a generation, and which keys and seeds the store
 * expects that the token lacks (whether restored or not).
 */
static void
token_report(struct daemon *d, const struct token_guard_report *g, const char *missing)
{
	char msg[2048];
	const char *p = g->pending != NULL ? g->pending : "";
	bool pending = *p != '\0';
	int failed = 0;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		snprintf(msg, sizeof(msg), "%.*s; missing after the repair: %s", n, p,
			 missing[0] != '\0' ? missing : "nothing");
		log_err("%s", msg);
		failed |= audit_appliance(d, "RESTORED_TOKEN", "APPLIANCE:token", msg) != 0;
		p += n + (nl != NULL);
	}
	/* Forgotten only once every entry is written: a crash before records them twice. */
	if (pending && !failed && token_guard_restores_recorded(d->guard) != 0) {
		log_err("token guard: the restores are audited but still noted as pending");
	}
	if (!pending && missing[0] != '\0') {
		snprintf(msg, sizeof(msg), "the token lacks what the store expects: %s", missing);
		log_err("%s", msg);
		audit_appliance(d, "TOKEN_OBJECTS_MISSING", "APPLIANCE:token", msg);
	}
	if (g->snapshot_failed) {
		audit_appliance(d, "TOKEN_GENERATION_FAILED", "APPLIANCE:token",
				"no new generation of the token's files could be written; the "
				"previous one stays the one a repair uses");
	}
}

/*
 * Hold STATE_DIR/signetd.lock (flock) for the life of the process: a second
 * signetd on the same state directory stops here, before it reads or
 * repairs the token's files under the first one. The descriptor, or -1.
 */
static int
instance_lock(const char *state_dir)
{
	char path[PATH_MAX];
	int fd;

	if (!str_printf(path, sizeof(path), "%s/signetd.lock", state_dir)) {
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		log_err("another signetd runs on %s (it holds %s)", state_dir, path);
		close(fd);
		return -1;
	}
	return fd;
}

static int
run(struct config *cfg)
{
	struct daemon d = {0};
	struct secret pin = {0};
	struct hsm_config hc;
	struct event *sigterm = NULL, *sigint = NULL, *tick = NULL;
	const struct timeval one_second = {1, 0};
	char dbdir[PATH_MAX];
	struct token_guard_report guard_report = {0};
	char missing[1024] = "";
	size_t missing_used = 0;
	int r, code = EXIT_RUNTIME, lock_fd = -1;

	d.cfg = cfg;
	d.self_uid = geteuid();
	d.gateway_uid = (uid_t)-1;
	if (cfg->gateway_user != NULL && cfg->gateway_user[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->gateway_user);
		if (pw == NULL || pw->pw_uid == 0 || pw->pw_uid == d.self_uid) {
			log_err("gateway_user %s: %s", cfg->gateway_user,
				pw == NULL ? "no such user"
					   : "must not be root or the daemon's own user");
			return EXIT_USAGE;
		}
		d.gateway_uid = pw->pw_uid;
	}
	d.started = time_now();
	if (cfg->softhsm_conf != NULL && setenv("SOFTHSM2_CONF", cfg->softhsm_conf, 1) != 0) {
		return EXIT_RUNTIME;
	}
	if (read_pin(cfg, &pin) != 0) {
		log_err("cannot read the token PIN");
		return EXIT_TOKEN;
	}
	/* One signetd per state directory: a second one must not touch the token's files. */
	if ((lock_fd = instance_lock(cfg->state_dir)) < 0) {
		code = EXIT_USAGE;
		goto out;
	}
	if ((d.metrics = metrics_new()) == NULL) {
		goto out;
	}
	if (!str_printf(dbdir, sizeof(dbdir), "%s/db", cfg->state_dir)) {
		goto out;
	}
	if (store_open(dbdir, (size_t)cfg->map_size_mb << 20, &d.store) != 0) {
		goto out;
	}
	store_set_reserve(d.store, (size_t)cfg->reserve_mb << 20);
	if (quota_start(&d) != 0) {
		goto out;
	}
	{
		/* Derived, so checked every start: a signetd without it may have written
		 * configurations since (devconf.h). */
		size_t n = 0;
		bool rebuilt = false;
		if ((r = devconf_index_rebuild(d.store, &n, &rebuilt)) != 0) {
			log_err("store: cannot index the device configurations' keys: %s",
				signet_strerror(r));
			goto out;
		}
		log_info("store: %zu device configurations indexed by key%s", n,
			 rebuilt ? " (index rebuilt)" : "");
	}
	/*
	 * The embedded token's files before the module reads them: damaged ones
	 * (a crash while they were rewritten) are replaced from the newest good
	 * generation that holds them, object files the store expects come back,
	 * and a consistent state becomes a new generation.
	 */
	if (cfg->softhsm_conf != NULL) {
		struct token_ids ids = {0};
		r = keys_expected_ids(&d, &ids);
		if (r == 0) {
			r = token_guard_open(cfg->state_dir, cfg->softhsm_conf, &ids, &d.guard,
					     &guard_report);
		}
		free(ids.id);
		if (r != 0) {
			log_err("cannot use the token: its files are damaged and no good "
				"generation exists (%s)",
				guard_report.damaged[0] != '\0' ? guard_report.damaged
								  : "I/O error");
			code = EXIT_TOKEN;
			goto out;
		}
	}
	hc.module = cfg->module;
	hc.token_uri = cfg->token_uri;
	hc.pin = &pin;
	r = hsm_open(&hc, &d.hsm);
	if (r != 0) {
		log_err("cannot use the token: %s",
			r == SIGNET_EUNAUTH     ? "the token refused the PIN"
			: r == SIGNET_ENOTFOUND ? "no token matches the URI"
						: signet_strerror(r));
		code = EXIT_TOKEN;
		goto out;
	}
	if (keys_check_all(&d, missing, sizeof(missing), &missing_used) != 0 ||
	    otp_seeds_check_all(&d, missing, sizeof(missing), &missing_used) != 0) {
		log_err("cannot check the keys in the token");
		goto out;
	}
	if ((d.authfail = authfail_new(cfg->auth_fail_audit_window)) == NULL) {
		goto out;
	}
	if (evthread_use_pthreads() != 0 || (d.base = event_base_new()) == NULL) {
		log_err("cannot create the event loop");
		goto out;
	}
	/* Before the server: its workers hand large inputs to these threads. */
	if (ingest_start(&d) != 0) {
		log_err("cannot start the ingest threads");
		goto out;
	}
	if (server_start(&d, &d.server) != 0) {
		goto out;
	}
	/* Tasks after the server exists (they publish events to it), before the loop runs. */
	if (tasks_start(&d) != 0 || tasks_recover(&d) != 0) {
		log_err("cannot start the task engine");
		goto out;
	}
	if (audit_key_ensure(&d) != 0) {
		log_err("the audit key is not available: checkpoints cannot be signed");
	}
	if (audit_checkpointer_start(&d) != 0) {
		log_err("cannot start the audit checkpointer");
		goto out;
	}
	token_report(&d, &guard_report, missing);
	audit_appliance(&d, "STARTED_DAEMON", "APPLIANCE:signetd", "signetd started");
	tick = event_new(d.base, -1, EV_PERSIST, on_tick, &d);
	if (tick == NULL || event_add(tick, &one_second) != 0) {
		goto out;
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		goto out;
	}
	log_notice("signetd %s ready (pid %ld, %ld workers)", PACKAGE_VERSION, (long)getpid(),
		   cfg->workers);
	/*
	 * Type=notify: systemd starts what depends on signetd once the socket
	 * answers. Before the filter: sd_notify opens a socket of its own, and
	 * the filter refuses new sockets (STOPPING=1 later is refused the same
	 * way, which systemd does not need: it sees the process end).
	 */
	(void)sd_notifyf(0, "READY=1\nSTATUS=serving on %s", cfg->socket_path);
	if (cfg->seccomp && sandbox_enter() != 0) {
		log_err("the system call filter is required (seccomp = 1) but cannot be installed");
		goto out;
	}
	if (event_base_dispatch(d.base) < 0) {
		log_err("the event loop failed");
		goto out;
	}
	code = 0;
out:
	/* Order: stop serving, let workers finish, then the store and the token. */
	/*
	 * Order: request workers first (they queue tasks), then the task engine
	 * (it publishes events to the server), then the server, the store and
	 * the token.
	 */
	/* Inputs being read end early; their requests are answered through the workers. */
	ingest_stop(&d);
	workers_stop(d.workers);
	d.workers = NULL;
	ingest_free(&d);
	tasks_stop(&d);
	audit_checkpointer_stop(&d);
	if (d.store != NULL && d.hsm != NULL && code == 0) {
		/* The stop is recorded and every chain ends with a signed checkpoint. */
		struct hsm_session *hs = NULL;
		audit_authfail_flush(&d, true);
		audit_appliance(&d, "STOPPED_DAEMON", "APPLIANCE:signetd", "signetd stopped");
		if (hsm_session_open(d.hsm, &hs) == 0) {
			audit_checkpoint_all(&d, hs, true);
			hsm_session_close(hs);
		}
	}
	server_free(d.server);
	d.server = NULL;
	if (tick != NULL) {
		event_free(tick);
	}
	if (sigterm != NULL) {
		event_free(sigterm);
	}
	if (sigint != NULL) {
		event_free(sigint);
	}
	quota_stop(&d);
	store_close(d.store);
	hsm_close(d.hsm);
	token_guard_close(d.guard);
	token_guard_report_free(&guard_report);
	authfail_free(d.authfail);
	metrics_free(d.metrics);
	if (lock_fd >= 0) {
		close(lock_fd);
	}
	secret_free(&pin);
	if (d.base != NULL) {
		event_base_free(d.base);
	}
	log_notice("signetd stopped");
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"init", no_argument, NULL, 'i'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"user", required_argument, NULL, 'u'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *state_dir = NULL, *config_file = NULL, *level = NULL, *user = NULL;
	bool do_init = false, check = false;
	struct config cfg;
	int c, code;

	harden_process();
	/* Seed jansson's hash once, before any thread exists; wipe what it frees. */
	json_use_wiping_allocator();
	json_object_seed(0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			do_init = true;
			break;
		case 's':
			state_dir = optarg;
			break;
		case 'c':
			config_file = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'V':
			printf("signetd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (do_init && (check || config_file != NULL))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (level != NULL && log_level_parse(level) < 0) {
		fprintf(stderr, "signetd: unknown log level '%s'\n", level);
		return EXIT_USAGE;
	}
	if (do_init) {
		if (state_dir == NULL) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (privdrop_running_as_root() && user != NULL && user[0] != '\0') {
			/* Root makes the (empty) directory and hands it over; the user fills it. */
			struct passwd *pw = getpwnam(user);
			if (pw == NULL || pw->pw_uid == 0) {
				fprintf(stderr, "signetd: user %s: %s\n", user,
					pw == NULL ? "no such user" : "that is root");
				return EXIT_USAGE;
			}
			struct stat st;
			bool mine = false;
			/* Only a directory made here, or an empty one, is handed over; init
			 * refuses anything else itself, as the user. */
			int dfd = -1;
			/*
			 * The directory is opened without following a link and
			 * handed over through that descriptor: a path swapped for a
			 * link meanwhile gives away nothing else.
			 */
			if (state_dir[0] == '/') {
				(void)mkdir(state_dir, 0700);
				dfd = open(state_dir,
					   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				mine = dfd >= 0 && fstat(dfd, &st) == 0 && S_ISDIR(st.st_mode) &&
				       fd_dir_empty(dfd);
			}
			if (state_dir[0] != '/' ||
			    (mine && fchown(dfd, pw->pw_uid, pw->pw_gid) != 0)) {
				if (dfd >= 0) {
					close(dfd);
				}
				fprintf(stderr, "signetd: cannot prepare %s for %s: %s\n",
					state_dir, user,
					state_dir[0] != '/' ? "not an absolute path"
							    : strerror(errno));
				return EXIT_USAGE;
			}
			if (dfd >= 0) {
				close(dfd);
			}
		}
		if ((code = drop_privileges(user, NULL, NULL)) != 0) {
			return code;
		}
		code = init_state_dir(state_dir);
		return code == 0                                           ? 0
		       : code == SIGNET_EINVAL || code == SIGNET_ECONFLICT ? EXIT_USAGE
									   : EXIT_RUNTIME;
	}
	config_init(&cfg);
	code = load_config(&cfg, state_dir, config_file);
	if (code == 0 && level != NULL) {
		log_set_level(log_level_parse(level));
	}
	if (code == 0 && check) {
		struct stat st;
		char pin_path[PATH_MAX];
		bool have = pin_source(&cfg, pin_path, sizeof(pin_path));
		errno = 0;
		if (!have || lstat(pin_path, &st) != 0 || !S_ISREG(st.st_mode)) {
			fprintf(stderr, "signetd: PIN file %s: %s\n", pin_path,
				errno != 0 ? strerror(errno) : "not a regular file");
			code = EXIT_USAGE;
		} else {
			printf("configuration OK\nstate_dir = %s\nsocket = %s\nmodule = %s\nuri = "
			       "%s\n",
			       cfg.state_dir, cfg.socket_path, cfg.module, cfg.token_uri);
		}
	} else if (code == 0) {
		if (user == NULL) {
			user = cfg.user;
		}
		code = drop_privileges(user, cfg.socket_group, cfg.state_dir);
		if (code == 0) {
			code = run(&cfg);
		}
	}
	config_free(&cfg);
	OPENSSL_cleanup();
	return code;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for daemon/conf.c: defaults, strict INI loading and what config_finish derives. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/conf.h"
#include "lib/error.h"

/* A regular file to stand in for a PKCS#11 module: config_finish only checks it exists. */
static char fake_module[] = "/tmp/signet-test-config-module.XXXXXX";

static int
setup_module(void **state)
{
	int fd = mkstemp(fake_module);

	if (fd < 0) {
		return -1;
	}
	close(fd);
	return 0;
}

static int
teardown_module(void **state)
{
	unlink(fake_module);
	return 0;
}

struct fixture {
	struct config c;
	char err[256];
};

static int
setup_config(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		return -1;
	}
	config_init(&f->c);
	*state = f;
	return 0;
}

static int
teardown_config(void **state)
{
	struct fixture *f = *state;

	config_free(&f->c);
	free(f);
	return 0;
}

/* Load TEXT, expecting failure; the message must mention every string in WANT. */
static void
expect_refused(struct fixture *f, const char *text, const char *want1, const char *want2)
{
	f->err[0] = '\0';
	if (config_load_string(&f->c, text, f->err, sizeof(f->err)) != SIGNET_EINVAL) {
		fail_msg("accepted: %s", text);
	}
	assert_true(strlen(f->err) > 0);
	if (want1 != NULL && strstr(f->err, want1) == NULL) {
		fail_msg("error \"%s\" lacks \"%s\"", f->err, want1);
	}
	if (want2 != NULL && strstr(f->err, want2) == NULL) {
		fail_msg("error \"%s\" lacks \"%s\"", f->err, want2);
	}
}

static void
load_ok(struct fixture *f, const char *text)
{
	f->err[0] = '\0';
	if (config_load_string(&f->c, text, f->err, sizeof(f->err)) != 0) {
		fail_msg("refused (%s): %s", f->err, text);
	}
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->c;

	assert_null(c->state_dir);
	assert_null(c->socket_path);
	assert_null(c->socket_group);
	assert_null(c->module);
	assert_null(c->token_uri);
	assert_null(c->pin_file);
	assert_null(c->softhsm_conf);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->max_connections, 256);
	assert_int_equal(c->max_inflight, 16);
	assert_int_equal(c->max_requests, 128);
	assert_int_equal(c->max_connections_per_uid, 32);
	assert_int_equal(c->idle_timeout, 600);
	assert_int_equal(c->shutdown_timeout, 30);
	assert_int_equal(c->auth_fail_delay_ms, 250);
	assert_string_equal(c->log_level, "info");
	assert_int_equal(c->map_size_mb, 64);
	assert_int_equal(c->reserve_mb, 8);
	assert_int_equal(c->ingest_workers, 4);
	assert_int_equal(c->ingest_per_user, 1);
	assert_int_equal(c->ingest_per_tenant, 2);
	assert_int_equal(c->spool_quota_tenant_mb, 65536);
	assert_int_equal(c->spool_quota_user_mb, 16384);
	assert_int_equal(c->spool_reserve_mb, 64);
	assert_int_equal(c->task_queue_max, 4096);
	assert_int_equal(c->max_key_import, 64);
}

static void
test_load_valid(void **state)
{
	struct fixture *f = *state;
	struct config *c = &f->c;

	load_ok(f, "; signetd configuration\n"
		   "# another comment style\n"
		   "\n"
		   "[daemon]\n"
		   "state_dir = /var/lib/signet\n"
		   "socket=/run/signet/signetd.sock\n"
		   "socket_group = signet\n"
		   "workers   =   8  \n"
		   "max_connections = 10000\n"
		   "max_inflight = 1\n"
		   "idle_timeout = 86400 ; a day\n"
		   "shutdown_timeout = 1\n"
		   "auth_fail_delay_ms = 0\n"
		   "log_level = debug\n"
		   "\n"
		   "[token]\n"
		   "module = /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so\n"
		   "uri = pkcs11:token=prod;manufacturer=Acme\n"
		   "pin_file = /etc/signet/pin\n"
		   "softhsm_conf = /etc/softhsm/softhsm2.conf\n"
		   "[store]\n"
		   "map_size_mb = 1048576\n"
		   "reserve_mb = 0\n");
	assert_string_equal(c->state_dir, "/var/lib/signet");
	assert_string_equal(c->socket_path, "/run/signet/signetd.sock");
	assert_string_equal(c->socket_group, "signet");
	assert_int_equal(c->workers, 8);
	assert_int_equal(c->max_connections, 10000);
	assert_int_equal(c->max_inflight, 1);
	assert_int_equal(c->idle_timeout, 86400);
	assert_int_equal(c->shutdown_timeout, 1);
	assert_int_equal(c->auth_fail_delay_ms, 0);
	assert_string_equal(c->log_level, "debug");
	assert_string_equal(c->module, "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so");
	assert_string_equal(c->token_uri, "pkcs11:token=prod;manufacturer=Acme");
	assert_string_equal(c->pin_file, "/etc/signet/pin");
	assert_string_equal(c->softhsm_conf, "/etc/softhsm/softhsm2.conf");
	assert_int_equal(c->map_size_mb, 1048576);
	assert_int_equal(c->reserve_mb, 0);
}

static void
test_load_later_value_wins(void **state)
{
	struct fixture *f = *state;

	load_ok(f, "[daemon]\nworkers = 3\nstate_dir = /b\n");
	assert_int_equal(f->c.workers, 3);
	assert_string_equal(f->c.state_dir, "/b");
	/* A second load applies over the first; untouched keys keep their values. */
	load_ok(f, "[daemon]\nmax_inflight = 7\n");
	assert_int_equal(f->c.workers, 3);
	assert_int_equal(f->c.max_inflight, 7);
	load_ok(f, "");
	assert_int_equal(f->c.workers, 3);
}

static void
test_duplicate_and_continued_refused(void **state)
{
	struct fixture *f = *state;
	char text[512];

	/* The same key twice in one file, even in a repeated section. */
	expect_refused(f, "[daemon]\nworkers = 2\n[daemon]\nworkers = 3\n", "given twice",
		       "line 4");
	/* An indented line continues the previous value: refused, not silently merged. */
	expect_refused(f, "[daemon]\nsocket_group = signet\n  workers = 8\n", "given twice",
		       "line 3");
	/* Lines inih would split are refused before parsing. */
	memset(text, 0, sizeof(text));
	memcpy(text, "[daemon]\nstate_dir = /", 22);
	memset(text + 22, 'a', 300);
	expect_refused(f, text, "longer than 198", "line 2");
}

static void
test_unknown_refused(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "[daemon]\nworkers = 2\nbogus = 1\n", "bogus", "line 3");
	expect_refused(f, "[nosuch]\nworkers = 2\n", "nosuch", "line 2");
	/* A key in the wrong section is unknown there. */
	expect_refused(f, "[token]\nworkers = 2\n", "workers", "token");
	/* Keys before any section. */
	expect_refused(f, "workers = 2\n", "workers", "line 1");
	/* Names are case-sensitive. */
	expect_refused(f, "[Daemon]\nworkers = 2\n", "Daemon", NULL);
	expect_refused(f, "[daemon]\nWorkers = 2\n", "Workers", NULL);
	/* With several bad lines, the first is reported, with its own message. */
	expect_refused(f, "[daemon]\nbogus = 1\nworkers = 0\n", "bogus", "line 2");
	assert_null(strstr(f->err, "workers"));
	expect_refused(f, "[daemon]\nworkers = 0\nbogus = 1\n", "workers", "line 2");
	assert_null(strstr(f->err, "bogus"));
	/* max_key_import is not configurable. */
	expect_refused(f, "[daemon]\nmax_key_import = 2\n", "max_key_import", NULL);
	expect_refused(f, "[store]\nmax_key_import = 2\n", "max_key_import", NULL);
}

static void
test_syntax_refused(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "[daemon]\nworkers\n", "line 2", NULL);
	expect_refused(f, "[daemon\nworkers = 2\n", NULL, NULL);
	/* '#' starts a comment only at the start of a line. */
	expect_refused(f, "[daemon]\nworkers = 2 # two\n", "workers", NULL);
}

static void
test_integers_out_of_range_refused(void **state)
{
	static const char *const bad[] = {
	    "[daemon]\nworkers = 0\n",
	    "[daemon]\nworkers = 65\n",
	    "[daemon]\nworkers = -1\n",
	    "[daemon]\nworkers =\n",
	    "[daemon]\nworkers = four\n",
	    "[daemon]\nworkers = 4x\n",
	    "[daemon]\nworkers = 0x4\n",
	    "[daemon]\nworkers = 4.0\n",
	    "[daemon]\nworkers = 4 5\n",
	    "[daemon]\nworkers = 99999999999999999999999999\n",
	    "[daemon]\nworkers = -99999999999999999999999999\n",
	    "[daemon]\nmax_connections = 10001\n",
	    "[daemon]\nmax_inflight = 1025\n",
	    "[daemon]\nidle_timeout = 0\n",
	    "[daemon]\nidle_timeout = 86401\n",
	    "[daemon]\nshutdown_timeout = 3601\n",
	    "[daemon]\nauth_fail_delay_ms = -1\n",
	    "[daemon]\nauth_fail_delay_ms = 5001\n",
	    "[store]\nmap_size_mb = 0\n",
	    "[store]\nmap_size_mb = 1048577\n",
	    "[store]\nreserve_mb = -1\n",
	    "[store]\nreserve_mb = 4097\n",
	    "[tasks]\ningest_workers = 0\n",
	    "[tasks]\ningest_workers = 65\n",
	    "[tasks]\ningest_per_user = 0\n",
	    "[tasks]\ningest_per_tenant = 65\n",
	    "[tasks]\nspool_quota_user_mb = -1\n",
	    "[tasks]\nspool_quota_tenant_mb = 1073741825\n",
	    "[tasks]\nspool_reserve_mb = 1048577\n",
	    "[tasks]\nqueue_max = 0\n",
	    "[tasks]\nqueue_max = 1000001\n",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_refused(f, bad[i], "line 2", "integer");
	}
	/* The message gives the allowed range. */
	expect_refused(f, "[daemon]\nworkers = 65\n", "daemon.workers", "1 to 64");
	/* Nothing refused was applied. */
	assert_int_equal(f->c.workers, 4);
	assert_int_equal(f->c.max_connections, 256);
	assert_int_equal(f->c.map_size_mb, 64);
	/* The ends of each range are accepted. */
	load_ok(f, "[daemon]\nworkers = 1\nauth_fail_delay_ms = 5000\nshutdown_timeout = 3600\n");
	assert_int_equal(f->c.workers, 1);
	assert_int_equal(f->c.auth_fail_delay_ms, 5000);
	assert_int_equal(f->c.shutdown_timeout, 3600);
	load_ok(f, "[daemon]\nworkers = 64\n");
	assert_int_equal(f->c.workers, 64);
	load_ok(f, "[tasks]\nqueue_max = 1\n");
	assert_int_equal(f->c.task_queue_max, 1);
	load_ok(f, "[tasks]\nqueue_max = 1000000\n");
	assert_int_equal(f->c.task_queue_max, 1000000);
}

static void
test_relative_paths_refused(void **state)
{
	static const char *const bad[] = {
	    "[daemon]\nstate_dir = var/lib/signet\n",
	    "[daemon]\nstate_dir = ./state\n",
	    "[daemon]\nstate_dir = ../state\n",
	    "[daemon]\nstate_dir = ~/state\n",
	    "[daemon]\nstate_dir =\n",
	    "[daemon]\nsocket = signetd.sock\n",
	    "[token]\nmodule = libsofthsm2.so\n",
	    "[token]\npin_file = pin\n",
	    "[token]\nsofthsm_conf = softhsm2.conf\n",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_refused(f, bad[i], "line 2", "absolute path");
	}
	assert_null(f->c.state_dir);
	assert_null(f->c.socket_path);
	assert_null(f->c.module);
	assert_null(f->c.pin_file);
	assert_null(f->c.softhsm_conf);
}

static void
test_long_values_refused(void **state)
{
	struct fixture *f = *state;
	char text[512], name[128];

	/* socket_group holds at most 64 characters, log_level 16. */
	memset(name, 'g', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket_group = %s\n", name);
	expect_refused(f, text, "socket_group", "longer than 64");
	name[64] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket_group = %s\n", name);
	load_ok(f, text);
	assert_string_equal(f->c.socket_group, name);

	/* A socket path beyond sun_path's 107 characters. */
	name[0] = '/';
	memset(name + 1, 'a', 107);
	name[108] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", name);
	expect_refused(f, text, "socket", "longer than 107");
	name[107] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", name);
	load_ok(f, text);
	assert_int_equal(strlen(f->c.socket_path), 107);
	expect_refused(f, "[daemon]\nlog_level = aaaaaaaaaaaaaaaaa\n", "log_level", "16");
}

static void
test_finish_derives_from_state_dir(void **state)
{
	struct fixture *f = *state;
	char text[256];

	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = /var/lib/signet\n[token]\nmodule = %s\n", fake_module);
	load_ok(f, text);
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->c.socket_path, "/var/lib/signet/signetd.sock");
	assert_string_equal(f->c.pin_file, "/var/lib/signet/token-pin");
	assert_string_equal(f->c.token_uri, "pkcs11:token=signet");
	assert_string_equal(f->c.module, fake_module);
	/* An explicit module is not the embedded SoftHSM: no SoftHSM configuration is derived. */
	assert_null(f->c.softhsm_conf);
}

static void
test_finish_embedded_softhsm(void **state)
{
	struct fixture *f = *state;

	if (access(SIGNET_SOFTHSM_MODULE, F_OK) != 0) {
		skip();
	}
	load_ok(f, "[daemon]\nstate_dir = /srv/signet\n");
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->c.module, SIGNET_SOFTHSM_MODULE);
	assert_string_equal(f->c.softhsm_conf, "/srv/signet/softhsm2.conf");
	assert_string_equal(f->c.socket_path, "/srv/signet/signetd.sock");
	assert_string_equal(f->c.pin_file, "/srv/signet/token-pin");
	assert_string_equal(f->c.token_uri, "pkcs11:token=signet");
}

static void
test_finish_keeps_explicit_values(void **state)
{
	struct fixture *f = *state;
	char text[512];

	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = /var/lib/signet\nsocket = /run/s.sock\n"
		 "[token]\nmodule = %s\npin_file = /etc/pin\nuri = pkcs11:token=other\n"
		 "softhsm_conf = /etc/sh.conf\n",
		 fake_module);
	load_ok(f, text);
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), 0);
	assert_string_equal(f->c.socket_path, "/run/s.sock");
	assert_string_equal(f->c.pin_file, "/etc/pin");
	assert_string_equal(f->c.token_uri, "pkcs11:token=other");
	assert_string_equal(f->c.softhsm_conf, "/etc/sh.conf");
}

static void
test_finish_needs_state_dir(void **state)
{
	struct fixture *f = *state;
	char text[256];

	snprintf(text, sizeof(text), "[token]\nmodule = %s\n", fake_module);
	load_ok(f, text);
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "state"));
	assert_null(f->c.socket_path);
	assert_null(f->c.pin_file);

	/* A state directory set directly (--state-dir) must be absolute too. */
	f->c.state_dir = strdup("relative/dir");
	assert_non_null(f->c.state_dir);
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "absolute"));
}

static void
test_finish_refuses_bad_values(void **state)
{
	struct fixture *f = *state;
	char text[512], dir[128];

	/* A module that is not there. */
	load_ok(f, "[daemon]\nstate_dir = /var/lib/signet\n[token]\n"
		   "module = /nonexistent/libnothing.so\n");
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "/nonexistent/libnothing.so"));
	config_free(&f->c);

	/* A module that is a directory. */
	config_init(&f->c);
	load_ok(f, "[daemon]\nstate_dir = /var/lib/signet\n[token]\nmodule = /tmp\n");
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	config_free(&f->c);

	/* A token URI that is not a PKCS#11 URI. */
	config_init(&f->c);
	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = /var/lib/signet\n[token]\nmodule = %s\nuri = token=x\n",
		 fake_module);
	load_ok(f, text);
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "pkcs11:"));
	config_free(&f->c);

	/* An unknown log level. */
	config_init(&f->c);
	snprintf(text, sizeof(text),
		 "[daemon]\nstate_dir = /var/lib/signet\nlog_level = verbose\n"
		 "[token]\nmodule = %s\n",
		 fake_module);
	load_ok(f, text);
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "log_level"));
	config_free(&f->c);

	/* A state directory so long the derived socket path would not fit in sun_path. */
	config_init(&f->c);
	memset(dir, 'd', 100);
	dir[100] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nstate_dir = /%s\n[token]\nmodule = %s\n", dir,
		 fake_module);
	load_ok(f, text);
	f->err[0] = '\0';
	assert_int_equal(config_finish(&f->c, f->err, sizeof(f->err)), SIGNET_EINVAL);
	assert_non_null(strstr(f->err, "107"));
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_config, teardown_config)
	const struct CMUnitTest tests[] = {
	    T(test_defaults),
	    T(test_load_valid),
	    T(test_load_later_value_wins),
	    T(test_duplicate_and_continued_refused),
	    T(test_unknown_refused),
	    T(test_syntax_refused),
	    T(test_integers_out_of_range_refused),
	    T(test_relative_paths_refused),
	    T(test_long_values_refused),
	    T(test_finish_derives_from_state_dir),
	    T(test_finish_embedded_softhsm),
	    T(test_finish_keeps_explicit_values),
	    T(test_finish_needs_state_dir),
	    T(test_finish_refuses_bad_values),
	};
#undef T

	return cmocka_run_group_tests(tests, setup_module, teardown_module);
}

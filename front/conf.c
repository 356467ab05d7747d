/* SPDX-License-Identifier: Apache-2.0 */
/* signet-front configuration: the [front] section of an INI file, and the command line over it. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "front/front.h"
#include "lib/util.h"

#ifndef SIGNET_UIDIR
#define SIGNET_UIDIR "/usr/share/signet/ui"
#endif
#ifndef SIGNET_DOCDIR
#define SIGNET_DOCDIR "/usr/share/doc/signet"
#endif

enum kind { K_STR, K_LONG, K_LISTEN };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	long min, max, def;
	const char *sdef;
};

#define OFF(f) offsetof(struct front_cfg, f)

static const struct key keys[] = {
    {"socket", K_STR, OFF(socket_path), 1, 107, 0, "/run/signet/signetd.sock"},
    {"listen", K_LISTEN, 0, 1, 64, 0, NULL},
    {"tls_cert", K_STR, OFF(tls_cert), 1, 4000, 0, NULL},
    {"tls_key", K_STR, OFF(tls_key), 1, 4000, 0, NULL},
    {"user", K_STR, OFF(user), 1, 64, 0, NULL},
    {"tmpdir", K_STR, OFF(tmpdir), 1, 4000, 0, "/var/tmp"},
    {"log_level", K_STR, OFF(log_level), 1, 16, 0, "info"},
    {"openapi", K_STR, OFF(openapi), 1, 4000, 0, SIGNET_DOCDIR "/openapi.yaml"},
    {"max_connections", K_LONG, OFF(max_connections), 1, 10000, 256, NULL},
    {"max_connections_per_ip", K_LONG, OFF(max_connections_per_ip), 1, 10000, 64, NULL},
    {"max_pending_per_ip", K_LONG, OFF(max_pending_per_ip), 1, 10000, 8, NULL},
    {"connection_timeout", K_LONG, OFF(connection_timeout), 1, 3600, 60, NULL},
    {"header_timeout", K_LONG, OFF(header_timeout), 1, 3600, 10, NULL},
    {"body_timeout", K_LONG, OFF(body_timeout), 1, 86400, 30, NULL},
    {"request_timeout", K_LONG, OFF(request_timeout), 1, 86400, 3600, NULL},
    {"max_upload_mb", K_LONG, OFF(max_upload_mb), 1, 65536, 2048, NULL},
    {"max_json_kb", K_LONG, OFF(max_json_kb), 1, 65536, 1024, NULL},
    {"max_header_kb", K_LONG, OFF(max_header_kb), 4, 1024, 32, NULL},
    {"max_uploads", K_LONG, OFF(max_uploads), 1, 1024, 16, NULL},
    {"max_streams", K_LONG, OFF(max_streams), 0, 1024, 16, NULL},
    {"pool_size", K_LONG, OFF(pool_size), 1, 256, 16, NULL},
    {"daemon_timeout", K_LONG, OFF(daemon_timeout), 1, 3600, 300, NULL},
    {"auth_fail_delay_ms", K_LONG, OFF(auth_fail_delay_ms), 0, 5000, 250, NULL},
    {"metrics", K_STR, OFF(metrics), 1, 8, 0, "off"},
    {"metrics_token", K_STR, OFF(metrics_token), FRONT_METRICS_TOKEN_MIN, 256, 0, NULL},
    {"ui", K_STR, OFF(ui), 1, 8, 0, "on"},
    {"ui_dir", K_STR, OFF(ui_dir), 1, 4000, 0, SIGNET_UIDIR},
    {"max_sessions", K_LONG, OFF(max_sessions), 1, 100000, 256, NULL},
    {"session_idle_timeout", K_LONG, OFF(session_idle_timeout), 30, 86400, 900, NULL},
    {"session_lifetime", K_LONG, OFF(session_lifetime), 60, 604800, 43200, NULL},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void
front_cfg_init(struct front_cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].kind == K_LONG) {
			*(long *)((char *)c + keys[i].off) = keys[i].def;
		} else if (keys[i].kind == K_STR && keys[i].sdef != NULL) {
			*(char **)((char *)c + keys[i].off) = strdup(keys[i].sdef);
		}
	}
}

void
front_cfg_free(struct front_cfg *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].kind == K_STR) {
			char **p = (char **)((char *)c + keys[i].off);
			if (*p != NULL && keys[i].off == OFF(metrics_token)) {
				secure_wipe(*p, strlen(*p));
			}
			free(*p);
			*p = NULL;
		}
	}
	for (int i = 0; i < c->nlisten; i++) {
		free(c->listen[i]);
	}
	c->nlisten = 0;
}

int
front_cfg_set(struct front_cfg *c, const char *name, const char *value, char *err, size_t errlen)
{
	const struct key *k = NULL;
	size_t len = strlen(value);

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
		}
	}
	if (k == NULL) {
		snprintf(err, errlen, "unknown key '%s'", name);
		return -1;
	}
	if (k->kind == K_LONG) {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s must be an integer from %ld to %ld", name, k->min,
				 k->max);
			return -1;
		}
		*(long *)((char *)c + k->off) = v;
		return 0;
	}
	if (len < (size_t)k->min || len > (size_t)k->max) {
		snprintf(err, errlen, "%s must be %ld to %ld bytes", name, k->min, k->max);
		return -1;
	}
	if ((k->off == OFF(metrics) || k->off == OFF(ui)) && k->kind == K_STR && strcmp(value, "on") != 0 &&
	    strcmp(value, "off") != 0) {
		snprintf(err, errlen, "%s must be on or off", name);
		return -1;
	}
	if (k->kind == K_LISTEN) {
		if (c->nlisten == FRONT_MAX_LISTEN) {
			snprintf(err, errlen, "at most %d listen addresses", FRONT_MAX_LISTEN);
			return -1;
		}
		if ((c->listen[c->nlisten] = strdup(value)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->nlisten++;
		return 0;
	}
	{
		char **p = (char **)((char *)c + k->off);
		char *v = strdup(value);
		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*p);
		*p = v;
	}
	return 0;
}

struct load_ctx {
	struct front_cfg *c;
	char *err;
	size_t errlen;
	bool failed;
};

static int
load_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *x = user;
	char why[200];

	if (x->failed) {
		return 0;
	}
	if (strcmp(section, "front") != 0) {
		snprintf(x->err, x->errlen, "unknown section [%s]", section);
		x->failed = true;
		return 0;
	}
	if (front_cfg_set(x->c, name, value, why, sizeof(why)) != 0) {
		snprintf(x->err, x->errlen, "[front] %s", why);
		x->failed = true;
		return 0;
	}
	return 1;
}

int
front_cfg_load(struct front_cfg *c, const char *path, char *err, size_t errlen)
{
	struct load_ctx x = {c, err, errlen, false};
	int r = ini_parse(path, load_handler, &x);

	if (r == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (x.failed || r != 0) {
		if (!x.failed) {
			snprintf(err, errlen, "%s: syntax error on line %d", path, r);
		} else {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, " (%s line %d)", path, r);
		}
		return -1;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* signetd configuration: a table of keys with type, range and default, read from INI. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "daemon/conf.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

enum cfg_type { CFG_STR, CFG_PATH, CFG_LONG };

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	long min, max;    /* CFG_LONG range; CFG_STR/PATH max length */
	long def;         /* CFG_LONG default */
	const char *sdef; /* string default (NULL: unset) */
};

#define OFF(f) offsetof(struct config, f)

static const struct cfg_key cfg_keys[] = {
    {"daemon", "state_dir", CFG_PATH, OFF(state_dir), 0, 4000, 0, NULL},
    {"daemon", "socket", CFG_PATH, OFF(socket_path), 0, 107, 0, NULL},
    {"daemon", "socket_group", CFG_STR, OFF(socket_group), 0, 64, 0, NULL},
    {"daemon", "gateway_user", CFG_STR, OFF(gateway_user), 0, 64, 0, NULL},
    {"daemon", "user", CFG_STR, OFF(user), 0, 64, 0, NULL},
    {"daemon", "seccomp", CFG_LONG, OFF(seccomp), 0, 1, 1, NULL},
    {"daemon", "workers", CFG_LONG, OFF(workers), 1, 64, 4, NULL},
    {"daemon", "max_connections", CFG_LONG, OFF(max_connections), 1, 10000, 256, NULL},
    {"daemon", "max_inflight", CFG_LONG, OFF(max_inflight), 1, 1024, 16, NULL},
    {"daemon", "max_requests", CFG_LONG, OFF(max_requests), 1, 100000, 128, NULL},
    {"daemon", "max_connections_per_uid", CFG_LONG, OFF(max_connections_per_uid), 1, 10000, 32,
     NULL},
    {"daemon", "idle_timeout", CFG_LONG, OFF(idle_timeout), 1, 86400, 600, NULL},
    {"daemon", "shutdown_timeout", CFG_LONG, OFF(shutdown_timeout), 1, 3600, 30, NULL},
    {"daemon", "auth_fail_delay_ms", CFG_LONG, OFF(auth_fail_delay_ms), 0, 5000, 250, NULL},
    {"daemon", "auth_fail_max_per_uid", CFG_LONG, OFF(auth_fail_max_per_uid), 1, 10000, 8, NULL},
    {"daemon", "auth_fail_max_gateway", CFG_LONG, OFF(auth_fail_max_gateway), 1, 10000, 64,
     NULL},
    {"daemon", "auth_fail_audit_window", CFG_LONG, OFF(auth_fail_audit_window), 1, 3600, 60,
     NULL},
    {"daemon", "log_level", CFG_STR, OFF(log_level), 0, 16, 0, "info"},
    {"token", "module", CFG_PATH, OFF(module), 0, 4000, 0, NULL},
    {"token", "uri", CFG_STR, OFF(token_uri), 0, 1024, 0, NULL},
    {"token", "pin_file", CFG_PATH, OFF(pin_file), 0, 4000, 0, NULL},
    {"token", "softhsm_conf", CFG_PATH, OFF(softhsm_conf), 0, 4000, 0, NULL},
    {"store", "map_size_mb", CFG_LONG, OFF(map_size_mb), 1, 1048576, 64, NULL},
    {"store", "reserve_mb", CFG_LONG, OFF(reserve_mb), 0, 4096, 8, NULL},
    {"tasks", "workers", CFG_LONG, OFF(task_workers), 1, 64, 2, NULL},
    {"tasks", "queue_max", CFG_LONG, OFF(task_queue_max), 1, 1000000, 4096, NULL},
    {"tasks", "result_ttl", CFG_LONG, OFF(result_ttl), 1, 31536000, 86400, NULL},
    {"tasks", "capability_grace", CFG_LONG, OFF(capability_grace), 0, 86400, 60, NULL},
    {"tasks", "events_keep", CFG_LONG, OFF(events_keep), 1, 1000000000, 1000000, NULL},
    {"tasks", "approval_ttl", CFG_LONG, OFF(approval_ttl), 1, 31536000, 259200, NULL},
    {"tasks", "max_input_mb", CFG_LONG, OFF(max_input_mb), 1, 4095, 4095, NULL},
    {"tasks", "copy_inputs", CFG_LONG, OFF(copy_inputs), 0, 1, 0, NULL},
    {"tasks", "ingest_workers", CFG_LONG, OFF(ingest_workers), 1, 64, 4, NULL},
    {"tasks", "ingest_per_user", CFG_LONG, OFF(ingest_per_user), 1, 64, 1, NULL},
    {"tasks", "ingest_per_tenant", CFG_LONG, OFF(ingest_per_tenant), 1, 64, 2, NULL},
    {"tasks", "spool_quota_tenant_mb", CFG_LONG, OFF(spool_quota_tenant_mb), 0, 1073741824, 65536,
     NULL},
    {"tasks", "spool_quota_user_mb", CFG_LONG, OFF(spool_quota_user_mb), 0, 1073741824, 16384,
     NULL},
    {"tasks", "spool_reserve_mb", CFG_LONG, OFF(spool_reserve_mb), 0, 1048576, 64, NULL},
};

#define CONFIG_FILE_MAX (64 * 1024) /* bytes */
#define CONFIG_LINE_MAX 198         /* characters: inih splits longer lines silently */

struct load_ctx {
	struct config *c;
	char *err;
	size_t errlen;
	int failed;
	uint64_t seen; /* keys already given in this file, by table index */
};

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (k->type == CFG_LONG) {
			*(long *)((char *)c + k->offset) = k->def;
		} else if (k->sdef != NULL) {
			*(char **)((char *)c + k->offset) = strdup(k->sdef);
		}
	}
	c->max_key_import = 64;
}

void
config_free(struct config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (cfg_keys[i].type != CFG_LONG) {
			char **p = (char **)((char *)c + cfg_keys[i].offset);
			free(*p);
			*p = NULL;
		}
	}
}

static int
cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *x = user;
	const struct cfg_key *k = NULL;

	/* inih reads on after a refusal and reports the first bad line: keep the first message. */
	if (x->failed) {
		return 0;
	}
	x->failed = 1;

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].section, section) == 0 &&
		    strcmp(cfg_keys[i].name, name) == 0) {
			k = &cfg_keys[i];
			break;
		}
	}
	if (k == NULL) {
		snprintf(x->err, x->errlen, "unknown key '%.32s' in section [%.32s]", name,
			 section);
		return 0;
	}
	/*
	 * A key given twice is refused: inih folds an indented line into the
	 * previous value, so a repeated or misindented key would otherwise
	 * change a setting without a word.
	 */
	if (x->seen & (1ull << (k - cfg_keys))) {
		snprintf(x->err, x->errlen,
			 "%s.%s is given twice (or an indented line continues it)", section, name);
		return 0;
	}
	x->seen |= 1ull << (k - cfg_keys);
	if (k->type == CFG_LONG) {
		char *end;
		long v;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < k->min || v > k->max) {
			snprintf(x->err, x->errlen, "%s.%s must be an integer from %ld to %ld",
				 section, name, k->min, k->max);
			return 0;
		}
		*(long *)((char *)x->c + k->offset) = v;
	} else {
		char **p = (char **)((char *)x->c + k->offset);
		if (strlen(value) > (size_t)k->max) {
			snprintf(x->err, x->errlen, "%s.%s is longer than %ld characters", section,
				 name, k->max);
			return 0;
		}
		if (k->type == CFG_PATH && value[0] != '/') {
			snprintf(x->err, x->errlen, "%s.%s must be an absolute path", section,
				 name);
			return 0;
		}
		free(*p);
		*p = strdup(value);
		if (*p == NULL) {
			snprintf(x->err, x->errlen, "out of memory");
			return 0;
		}
	}
	x->failed = 0;
	return 1;
}

/* Prefix the handler's message (or "syntax error") with the line inih reports. */
static void
config_error_line(char *err, size_t errlen, int line)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s", err[0] != '\0' ? err : "syntax error");
	snprintf(err, errlen, "line %d: %s", line, msg);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	uint8_t *text = NULL;
	size_t len;
	int fd, rc;

	err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return SIGNET_EINVAL;
	}
	rc = fd_read_all(fd, CONFIG_FILE_MAX, &text, &len);
	close(fd);
	if (rc != 0) {
		snprintf(err, errlen, "%s is not a regular file of at most %d bytes", path,
			 CONFIG_FILE_MAX);
		return SIGNET_EINVAL;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s holds a NUL byte", path);
		free(text);
		return SIGNET_EINVAL;
	}
	rc = config_load_string(c, (const char *)text, err, errlen);
	free(text);
	return rc;
}

int
config_load_string(struct config *c, const char *text, char *err, size_t errlen)
{
	struct load_ctx x = {c, err, errlen, 0, 0};
	int rc, line = 1;
	size_t col = 0;

	err[0] = '\0';
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n') {
			line++;
			col = 0;
		} else if (++col > CONFIG_LINE_MAX) {
			snprintf(err, errlen, "line %d: longer than %d characters", line,
				 CONFIG_LINE_MAX);
			return SIGNET_EINVAL;
		}
	}
	rc = ini_parse_string(text, cfg_handler, &x);
	if (rc != 0) {
		config_error_line(err, errlen, rc);
		return SIGNET_EINVAL;
	}
	return 0;
}

static int
set_default_path(char **field, const char *dir, const char *name)
{
	char buf[PATH_MAX];

	if (*field != NULL) {
		return 0;
	}
	if (!str_printf(buf, sizeof(buf), "%s/%s", dir, name)) {
		return SIGNET_EINVAL;
	}
	*field = strdup(buf);
	return *field != NULL ? 0 : SIGNET_EINTERNAL;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
	struct stat st;

	if (c->state_dir == NULL) {
		snprintf(err, errlen, "no state directory: use --state-dir or [daemon] state_dir");
		return SIGNET_EINVAL;
	}
	if (c->state_dir[0] != '/') {
		snprintf(err, errlen, "the state directory must be an absolute path");
		return SIGNET_EINVAL;
	}
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "log_level must be one of err, warning, notice, info, debug");
		return SIGNET_EINVAL;
	}
	if (set_default_path(&c->socket_path, c->state_dir, "signetd.sock") != 0 ||
	    set_default_path(&c->pin_file, c->state_dir, "token-pin") != 0) {
		snprintf(err, errlen, "state directory path too long");
		return SIGNET_EINVAL;
	}
	if (strlen(c->socket_path) > 107) {
		snprintf(err, errlen, "socket path longer than 107 bytes");
		return SIGNET_EINVAL;
	}
	if (c->module == NULL) {
		/* The embedded default: SoftHSMv2 with its configuration in the state directory. */
		c->module = strdup(SIGNET_SOFTHSM_MODULE);
		if (set_default_path(&c->softhsm_conf, c->state_dir, "softhsm2.conf") != 0) {
			snprintf(err, errlen, "state directory path too long");
			return SIGNET_EINVAL;
		}
	}
	if (c->token_uri == NULL) {
		c->token_uri = strdup("pkcs11:token=signet");
	}
	if (c->module == NULL || c->token_uri == NULL) {
		snprintf(err, errlen, "out of memory");
		return SIGNET_EINTERNAL;
	}
	if (strncmp(c->token_uri, "pkcs11:", 7) != 0) {
		snprintf(err, errlen, "token uri must be an RFC 7512 'pkcs11:' URI");
		return SIGNET_EINVAL;
	}
	if (stat(c->module, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token module %s is not a readable file", c->module);
		return SIGNET_EINVAL;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* signetd --init: a new state directory with the embedded SoftHSMv2 token. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/init.h"
#include "daemon/store.h"
#include "hsm/hsm.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define PIN_BYTES 16 /* 128 random bits, written as 32 hex digits */

static int
dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

static int
make_pin(struct secret *s)
{
	uint8_t raw[PIN_BYTES];

	if (secret_alloc(s, 2 * PIN_BYTES + 1) != 0 || random_bytes(raw, sizeof(raw)) != 0) {
		return SIGNET_EINTERNAL;
	}
	hex_encode(raw, sizeof(raw), (char *)s->data);
	s->len = 2 * PIN_BYTES;
	secure_wipe(raw, sizeof(raw));
	return 0;
}

int
init_state_dir(const char *dir)
{
	char path[PATH_MAX], conf[PATH_MAX], tokens[PATH_MAX], db[PATH_MAX], spool[PATH_MAX];
	char text[PATH_MAX + 256];
	struct secret so = {0}, user = {0};
	struct store *st = NULL;
	struct stat sb;
	int r = SIGNET_EINTERNAL, n;

	if (dir[0] != '/') {
		log_err("--state-dir must be an absolute path");
		return SIGNET_EINVAL;
	}
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || dir_is_empty(dir) != 1) {
			log_err("%s exists and is not an empty directory; refusing to overwrite it",
				dir);
			return SIGNET_ECONFLICT;
		}
	} else if (errno != ENOENT || mkdir(dir, 0700) != 0) {
		log_err("cannot create %s: %s", dir, strerror(errno));
		return SIGNET_EINVAL;
	}
	if (chmod(dir, 0700) != 0 || !str_printf(conf, sizeof(conf), "%s/softhsm2.conf", dir) ||
	    !str_printf(tokens, sizeof(tokens), "%s/tokens", dir) ||
	    !str_printf(db, sizeof(db), "%s/db", dir) ||
	    !str_printf(spool, sizeof(spool), "%s/spool", dir) ||
	    !str_printf(path, sizeof(path), "%s/token-pin", dir)) {
		log_err("state directory path too long");
		return SIGNET_EINVAL;
	}
	if (mkdir(tokens, 0700) != 0 || mkdir(db, 0700) != 0 || mkdir(spool, 0700) != 0) {
		log_err("cannot create the state directory's folders: %s", strerror(errno));
		return SIGNET_EINTERNAL;
	}
	n = snprintf(
	    text, sizeof(text),
	    "# SoftHSMv2 configuration of the signet embedded token (made by signetd --init)\n"
	    "directories.tokendir = %s\n"
	    "objectstore.backend = file\n"
	    "log.level = ERROR\n"
	    "slots.removable = false\n",
	    tokens);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    file_write_atomic(conf, text, (size_t)n, 0600) != 0) {
		return SIGNET_EINTERNAL;
	}
	if (setenv("SOFTHSM2_CONF", conf, 1) != 0) {
		return SIGNET_EINTERNAL;
	}
	if (make_pin(&so) != 0 || make_pin(&user) != 0) {
		goto out;
	}
	if ((r = hsm_init_token(SIGNET_SOFTHSM_MODULE, "signet", &so, &user)) != 0) {
		log_err("cannot initialise the embedded token");
		goto out;
	}
	if ((r = file_write_atomic(path, user.data, user.len, 0600)) != 0) {
		goto out;
	}
	if ((r = store_open(db, 64u << 20, &st)) != 0) {
		goto out;
	}
	store_close(st);
	/*
	 * The SO PIN is shown once and kept nowhere: it only re-initialises the
	 * user PIN, a job for the security officer, not for the daemon.
	 */
	printf("signet state directory initialised: %s\n", dir);
	printf("token 'signet' (SoftHSMv2), user PIN in %s (mode 0600)\n", path);
	printf("security officer PIN (shown once, keep it offline): %.*s\n", (int)so.len,
	       (const char *)so.data);
	fflush(stdout);
	r = 0;
out:
	secret_free(&so);
	secret_free(&user);
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Appliance ops: status and backup. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ops.h"
#include "daemon/store.h"
#include "hsm/hsm.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

struct counts {
	size_t tenants, users, keys;
};

static int
counts_txn(struct store_txn *t, void *arg)
{
	struct counts *c = arg;

	c->tenants = store_count(t, STORE_DB_TENANTS);
	c->users = store_count(t, STORE_DB_USERS);
	c->keys = store_count(t, STORE_DB_KEYS);
	return 0;
}

int
op_status(struct request *r)
{
	struct counts c = {0};
	struct hsm_token_info ti;
	char started[32];
	json_t *token;

	(void)store_read(r->d->store, counts_txn, &c);
	time_format(r->d->started, started, sizeof(started));
	if (r->d->hsm != NULL) {
		hsm_get_token_info(r->d->hsm, &ti);
		token = json_pack("{s:s, s:s, s:s, s:s, s:b}", "label", ti.label, "manufacturer",
				  ti.manufacturer, "model", ti.model, "serial", ti.serial,
				  "available", r->hs != NULL);
	} else {
		token = json_pack("{s:b}", "available", 0);
	}
	r->result = json_pack(
	    "{s:s, s:s, s:I, s:o, s:{s:I, s:I, s:I}, s:I, s:I, s:I}", "version", PACKAGE_VERSION,
	    "started", started, "uptime", (json_int_t)(time_now() - r->d->started), "token", token,
	    "counts", "tenants", (json_int_t)c.tenants, "users", (json_int_t)c.users, "keys",
	    (json_int_t)c.keys, "connections", (json_int_t)atomic_load(&r->d->connections),
	    "workers", (json_int_t)r->d->cfg->workers, "requests",
	    (json_int_t)atomic_load(&r->d->requests));
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

int
op_backup(struct request *r)
{
	struct stat st;
	int fl, rc;

	/* The client opens the target: signetd never writes to a path a client names. */
	if (r->nfds != 1) {
		return req_fail(r, SIGNET_EINVAL, "backup needs the output file as a descriptor");
	}
	fl = fcntl(r->fds[0], F_GETFL);
	if (fstat(r->fds[0], &st) != 0 || !fd_is_local_regular(r->fds[0]) || fl < 0 ||
	    (fl & O_ACCMODE) == O_RDONLY || st.st_size != 0) {
		return req_fail(r, SIGNET_EINVAL,
				"the backup target must be a new, empty regular file on a local "
				"filesystem, open for writing");
	}
	rc = store_backup_fd(r->d->store, r->fds[0]);
	if (rc != 0) {
		return req_fail(r, rc, "the backup could not be written");
	}
	if (fsync(r->fds[0]) != 0 || fstat(r->fds[0], &st) != 0) {
		return req_fail(r, signet_err_from_errno(errno),
				"the backup could not be synced: %s", strerror(errno));
	}
	log_notice("backup of the store (%lld bytes) taken by USER:%s of tenant %s, uid %u",
		   (long long)st.st_size, r->subject.user, r->subject.tenant,
		   (unsigned)r->peer.uid);
	r->result = json_pack("{s:I}", "bytes", (json_int_t)st.st_size);
	return 0;
}

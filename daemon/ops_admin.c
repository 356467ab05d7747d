/* SPDX-License-Identifier: Apache-2.0 */
/* Appliance ops: status and backup. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "daemon/ingest.h"
#include "daemon/ops.h"
#include "daemon/quota.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
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

#define STATUS_SPOOL_FILES_MAX 100000 /* files the status op counts in the spool, at most */
#define STATUS_TIMERS_DUE_MAX  100000 /* due timers the status op counts, at most */

/* Add the filesystem that holds PATH to O: bytes free (to signetd) and its size. */
static void
fs_add(json_t *o, const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv) == 0) {
		json_object_set_new(
		    o, "fsFree", json_integer((json_int_t)((uint64_t)sv.f_bavail * sv.f_frsize)));
		json_object_set_new(
		    o, "fsSize", json_integer((json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize)));
	}
}

static json_t *
store_view(struct request *r)
{
	struct store_usage u;
	uint64_t writes, commits;
	char db[PATH_MAX];
	json_t *o;

	if (store_usage(r->d->store, &u) != 0) {
		return json_null();
	}
	store_stats(r->d->store, &writes, &commits);
	o = json_pack("{s:I, s:I, s:I, s:I, s:b, s:I, s:I}", "used", (json_int_t)u.used, "fileSize",
		      (json_int_t)u.file_size, "mapSize", (json_int_t)u.map_size, "reserve",
		      (json_int_t)u.reserve, "full", u.full, "writes", (json_int_t)writes,
		      "commits", (json_int_t)commits);
	if (o != NULL && str_printf(db, sizeof(db), "%s/db", r->d->cfg->state_dir)) {
		fs_add(o, db);
	}
	return o != NULL ? o : json_null();
}

/* The spool's files (inputs, results, partial files): how many and their bytes. */
static json_t *
spool_view(struct request *r)
{
	static const char *const subs[] = {"in", "out", "tmp"};
	uint64_t bytes = 0, files = 0;
	char dir[PATH_MAX];
	json_t *o;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		struct dirent *de;
		DIR *dp;
		if (spool_path(r->d, subs[i], "", dir, sizeof(dir)) != 0 ||
		    (dp = opendir(dir)) == NULL) {
			continue;
		}
		while ((de = readdir(dp)) != NULL && files < STATUS_SPOOL_FILES_MAX) {
			struct stat sb;
			if (de->d_name[0] != '.' &&
			    fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(sb.st_mode)) {
				bytes += (uint64_t)sb.st_size;
				files++;
			}
		}
		closedir(dp);
	}
	o = json_pack("{s:I, s:I, s:I, s:I}", "used", (json_int_t)bytes, "files", (json_int_t)files,
		      "claimed", (json_int_t)quota_claimed(r->d), "reserve",
		      (json_int_t)((uint64_t)r->d->cfg->spool_reserve_mb << 20));
	if (o != NULL && spool_path(r->d, "", "", dir, sizeof(dir)) == 0) {
		fs_add(o, dir);
	}
	return o != NULL ? o : json_null();
}

/* The ingest threads: how many, and the requests whose inputs they read or that wait for one. */
static json_t *
ingest_view(struct request *r)
{
	struct ingest_stats s;

	ingest_stats(r->d, &s);
	return json_pack("{s:I, s:I, s:I}", "threads", (json_int_t)s.threads, "running",
			 (json_int_t)s.running, "waiting", (json_int_t)s.waiting);
}

/* The task engine: its queue, tasks waiting in the store for room in it, due timers. */
static json_t *
engine_view(struct request *r)
{
	struct tasks_stats s;

	tasks_stats(r->d, &s);
	return json_pack("{s:I, s:I, s:I, s:b, s:I}", "threads", (json_int_t)s.threads, "queued",
			 (json_int_t)s.queued, "queueMax", (json_int_t)s.queue_max, "backlog",
			 s.backlog, "timersDue",
			 (json_int_t)tasks_timers_due(r->d, STATUS_TIMERS_DUE_MAX));
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
	if (r->result != NULL) {
		json_object_set_new(r->result, "store", store_view(r));
		json_object_set_new(r->result, "spool", spool_view(r));
		json_object_set_new(r->result, "ingest", ingest_view(r));
		json_object_set_new(r->result, "engine", engine_view(r));
		json_object_set_new(
		    r->result, "audit",
		    json_pack("{s:I}", "checkpoints", (json_int_t)audit_checkpoints_made(r->d)));
	}
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

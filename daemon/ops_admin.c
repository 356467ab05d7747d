/* SPDX-License-Identifier: Apache-2.0 */
/* Appliance ops: status and backup. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "daemon/engine.h"
#include "daemon/events.h"
#include "daemon/ingest.h"
#include "daemon/metrics.h"
#include "daemon/ops.h"
#include "daemon/quota.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "hsm/hsm.h"
#include "lib/buf.h"
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

/* ---- metrics ---- */

#define METRICS_TEXT_MAX 49152 /* bytes of text: with its JSON escaping it fits one reply */

/* A number of the status op's result, as a metric. */
struct status_metric {
	const char *view; /* member of the result holding KEY, or NULL: the result itself */
	const char *key;
	const char *name;
	const char *type;
	const char *help;
};

static const struct status_metric status_metrics[] = {
    {"token", "available", "signet_token_available", "gauge",
     "1 when the worker that answered had a PKCS#11 session, else 0."},
    {"counts", "tenants", "signet_tenants", "gauge", "Tenants."},
    {"counts", "users", "signet_users", "gauge", "Users of all tenants."},
    {"counts", "keys", "signet_keys", "gauge", "Keys of all tenants."},
    {NULL, "connections", "signet_connections", "gauge", "Socket connections open now."},
    {NULL, "workers", "signet_workers", "gauge", "Request worker threads."},
    {NULL, "requests", "signet_requests_total", "counter",
     "Requests accepted since start, this one included."},
    {"store", "used", "signet_store_used_bytes", "gauge",
     "The LMDB data file up to its last page in use."},
    {"store", "fileSize", "signet_store_file_bytes", "gauge",
     "The LMDB data file, with the reserve allocated past it."},
    {"store", "mapSize", "signet_store_map_bytes", "gauge", "The LMDB map size."},
    {"store", "reserve", "signet_store_reserve_bytes", "gauge",
     "The store's reserve kept ([store] reserve_mb)."},
    {"store", "full", "signet_store_full", "gauge",
     "1 while only writes that end work or free space commit, else 0."},
    {"store", "writes", "signet_store_writes_total", "counter",
     "Write transactions run since start."},
    {"store", "commits", "signet_store_commits_total", "counter",
     "LMDB commits since start (batched writes share one)."},
    {"store", "fsFree", "signet_store_fs_free_bytes", "gauge",
     "Free bytes (to signetd) of the filesystem holding the store."},
    {"store", "fsSize", "signet_store_fs_size_bytes", "gauge",
     "Size of the filesystem holding the store."},
    {"spool", "used", "signet_spool_used_bytes", "gauge",
     "Bytes of the spool's files (inputs, results, partial files)."},
    {"spool", "files", "signet_spool_files", "gauge", "Files in the spool."},
    {"spool", "claimed", "signet_spool_claimed_bytes", "gauge",
     "Spool space claimed by requests still reading their inputs."},
    {"spool", "reserve", "signet_spool_reserve_bytes", "gauge",
     "Spool space kept free ([tasks] spool_reserve_mb)."},
    {"spool", "fsFree", "signet_spool_fs_free_bytes", "gauge",
     "Free bytes (to signetd) of the filesystem holding the spool."},
    {"spool", "fsSize", "signet_spool_fs_size_bytes", "gauge",
     "Size of the filesystem holding the spool."},
    {"ingest", "threads", "signet_ingest_threads", "gauge", "Ingest threads."},
    {"ingest", "running", "signet_ingest_running", "gauge",
     "Requests whose inputs an ingest thread reads now."},
    {"ingest", "waiting", "signet_ingest_waiting", "gauge",
     "Requests waiting for an ingest thread."},
    {"engine", "threads", "signet_engine_threads", "gauge", "Task engine threads."},
    {"engine", "queued", "signet_engine_queued", "gauge", "Tasks in the engine's queue."},
    {"engine", "queueMax", "signet_engine_queue_max", "gauge",
     "The engine queue's bound ([tasks] queue_max)."},
    {"engine", "backlog", "signet_engine_backlog", "gauge",
     "1 while runnable tasks wait in the store for room in the queue, else 0."},
    {"engine", "timersDue", "signet_engine_timers_due", "gauge",
     "Timers due and not yet handled (counted up to 100000)."},
    {"audit", "checkpoints", "signet_audit_checkpoints_total", "counter",
     "Audit checkpoints signed since start."},
};

static void
status_metric_put(struct wbuf *w, const json_t *status, const struct status_metric *m)
{
	const json_t *o = m->view != NULL ? json_object_get(status, m->view) : status;
	const json_t *v = json_object_get(o, m->key);

	if (!json_is_integer(v) && !json_is_boolean(v)) {
		return;
	}
	metrics_head(w, m->name, m->type, m->help);
	metrics_printf(w, "%s %lld\n", m->name,
		       json_is_boolean(v) ? (long long)json_is_true(v)
					  : (long long)json_integer_value(v));
}

/* What the store holds: audit chains and their entries, events, tasks. */
struct store_metrics {
	uint64_t chains, entries, appliance, events;
	size_t tasks;
};

static int
heads_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct store_metrics *x = arg;
	json_int_t seq = json_integer_value(json_object_get(val, "seq"));

	x->chains++;
	x->entries += seq > 0 ? (uint64_t)seq : 0;
	if (key->len == strlen(AUDIT_APPLIANCE) &&
	    memcmp(key->data, AUDIT_APPLIANCE, key->len) == 0) {
		x->appliance = seq > 0 ? (uint64_t)seq : 0;
	}
	return 0;
}

static int
store_metrics_txn(struct store_txn *t, void *arg)
{
	struct store_metrics *x = arg;

	x->tasks = store_count(t, STORE_DB_TASKS);
	x->events = events_last_seq(t);
	return store_foreach(t, STORE_DB_AUDIT_HEADS, NULL, 0, heads_cb, x);
}

static void
gauge(struct wbuf *w, const char *name, const char *help, unsigned long long v)
{
	metrics_head(w, name, "gauge", help);
	metrics_printf(w, "%s %llu\n", name, v);
}

static void
metrics_store_put(struct request *r, struct wbuf *w)
{
	struct store_metrics x = {0};

	if (store_read(r->d->store, store_metrics_txn, &x) != 0) {
		return;
	}
	gauge(w, "signet_tasks", "Task records in the store, of every status.",
	      (unsigned long long)x.tasks);
	gauge(w, "signet_events_last_seq", "The sequence number of the last event.",
	      (unsigned long long)x.events);
	gauge(w, "signet_audit_chains", "Audit chains (the appliance's and one per tenant).",
	      (unsigned long long)x.chains);
	gauge(w, "signet_audit_entries", "Entries of all audit chains together.",
	      (unsigned long long)x.entries);
	gauge(w, "signet_audit_appliance_entries", "Entries of the appliance's audit chain.",
	      (unsigned long long)x.appliance);
}

int
op_metrics(struct request *r)
{
	struct wbuf w;
	json_t *status;
	uint8_t *text;
	size_t len;
	int rc;

	/* The status op's numbers, read the same way, then the counters. */
	if ((rc = op_status(r)) != 0) {
		return rc;
	}
	status = r->result;
	r->result = NULL;
	wbuf_init(&w, METRICS_TEXT_MAX);
	metrics_head(&w, "signet_build_info", "gauge", "Always 1; the version in its label.");
	metrics_printf(&w, "signet_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	metrics_head(&w, "process_start_time_seconds", "gauge",
		     "When signetd started, in seconds since the epoch.");
	metrics_printf(&w, "process_start_time_seconds %lld\n", (long long)r->d->started);
	for (size_t i = 0; i < sizeof(status_metrics) / sizeof(status_metrics[0]); i++) {
		status_metric_put(&w, status, &status_metrics[i]);
	}
	json_decref(status);
	metrics_store_put(r, &w);
	metrics_render_counters(r->d, &w);
	if ((text = wbuf_steal(&w, &len)) == NULL) {
		wbuf_free(&w);
		return req_fail(r, SIGNET_EINTERNAL, "the metrics do not fit in a reply");
	}
	r->result = json_pack("{s:s%}", "text", (const char *)text, len);
	free(text);
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

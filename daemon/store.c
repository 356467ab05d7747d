/* SPDX-License-Identifier: Apache-2.0 */
/* The LMDB store: one environment, named databases, transactions with a sticky error. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "daemon/store.h"
#include "daemon/store_lmdb.h"
#include "lib/error.h"
#include "lib/log.h"

/* The LMDB transaction behind a store transaction. */
#define TXN(t) ((MDB_txn *)(t)->backend)

/*
 * 2: task records may hold members a signetd of schema 1 misreads (a
 * signature result stored as "rz", tasks.h). A store of schema 1 is read
 * as it is and marked 2 at open; a signetd of schema 1 refuses a store
 * marked 2 ("refusing to touch it") rather than misread it.
 */
#define STORE_SCHEMA_VERSION 2
#define STORE_GROW_TRIES     8 /* doublings per transaction: 64 MiB grows to 16 GiB */

static const char *const db_names[STORE_DB_COUNT] = {
    [STORE_DB_META] = "meta",
    [STORE_DB_TENANTS] = "tenants",
    [STORE_DB_USERS] = "users",
    [STORE_DB_TOKENS] = "tokens",
    [STORE_DB_KEYS] = "keys",
    [STORE_DB_ACL] = "acl",
    [STORE_DB_DEVCONFS] = "devconfs",
    [STORE_DB_TASKS] = "tasks",
    [STORE_DB_TASK_INDEX] = "task_index",
    [STORE_DB_TASK_REFS] = "task_refs",
    [STORE_DB_EVENTS] = "events",
    [STORE_DB_TIMERS] = "timers",
    [STORE_DB_CONFIG] = "config",
    [STORE_DB_AUDIT] = "audit",
    [STORE_DB_AUDIT_HEADS] = "audit_heads",
    [STORE_DB_REPORTS] = "reports",
    [STORE_DB_SPOOL_USE] = "spool_use",
    [STORE_DB_KEY_USES] = "key_uses",
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	size_t map_size;
	/*
	 * Growing the map needs no live transaction in this process: every
	 * transaction holds this lock shared, a resize holds it exclusively.
	 */
	pthread_rwlock_t resize_lock;
	/*
	 * Group commit: every write runs on one committer thread, which takes
	 * what is queued, runs each in a nested transaction of one parent and
	 * commits the parent once: one disk sync for the whole batch.
	 */
	pthread_mutex_t qlock;
	pthread_cond_t qcond; /* work queued, or stop */
	pthread_cond_t dcond; /* a synchronous write finished */
	struct store_op *qhead, *qtail;
	bool qstop;
	bool committer_running;
	pthread_t committer;
	atomic_ulong batches, writes; /* for the log at close and the status op */
	/*
	 * The reserve (store_set_reserve): bytes kept allocated on disk in the
	 * data file past its last page in use. LMDB writes pages with pwrite
	 * into that file (no MDB_WRITEMAP), so a commit whose new pages land
	 * there needs no space from the filesystem. Ordinary writes commit only
	 * while the reserve is whole (topped up before each batch) and the
	 * filesystem is not full; otherwise FULL is set and only writes that
	 * may use the reserve (store_write_reserve) commit. Touched by the
	 * thread that runs batches; FULL is read by others.
	 */
	atomic_size_t reserve;
	size_t psize;
	atomic_bool full;
};

struct store_op {
	int (*fn)(struct store_txn *, void *);
	void *arg;
	void (*done)(void *arg, int rc); /* asynchronous: called on the committer thread */
	int rc;
	bool reserve; /* may use the reserve: it ends work or frees space */
	bool finished;
	struct store_op *next;
};

#define STORE_BATCH_MAX 256

int
store_error(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return SIGNET_ENOTFOUND;
	case MDB_KEYEXIST:
		return SIGNET_ECONFLICT;
	case MDB_MAP_FULL:
		/* Seen by a caller only once growing the map did not help. */
		return SIGNET_ENOSPACE;
	default:
		/* LMDB passes on the errno of a failed write (ENOSPC, EDQUOT, EIO). */
		return rc > 0 ? signet_err_from_errno(rc) : SIGNET_EINTERNAL;
	}
}

/* Translate an LMDB error once, logging its detail. */
static int
store_err(int rc, const char *what)
{
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND && rc != MDB_KEYEXIST && rc != MDB_MAP_FULL) {
		log_err("store: %s: %s", what, mdb_strerror(rc));
	}
	return store_error(rc);
}

static void
store_txn_fail(struct store_txn *t, int err)
{
	if (t->err == 0) {
		t->err = err;
	}
}

/* The first failure of an LMDB call in T; a full map is remembered apart (the map can grow). */
static void
store_txn_fail_mdb(struct store_txn *t, int rc, const char *what)
{
	if (t->err == 0 && rc == MDB_MAP_FULL) {
		t->map_full = true;
	}
	store_txn_fail(t, store_err(rc, what));
}

static void *store_committer(void *arg);

/*
 * LMDB sizes its lock file with ftruncate, leaving holes, and maps it
 * shared: a reader slot first touched while the filesystem is full would
 * fault (SIGBUS). Allocate the whole file now.
 */
static void
store_lockfile_allocate(const char *path)
{
	char lock[PATH_MAX];
	struct stat sb;
	int fd, e = 0;

	if (snprintf(lock, sizeof(lock), "%s/lock.mdb", path) >= (int)sizeof(lock) ||
	    (fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		return;
	}
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_blocks * 512 < (uint64_t)sb.st_size) {
		e = posix_fallocate(fd, 0, sb.st_size);
	}
	if (e != 0) {
		log_warning("store: cannot allocate the lock file: %s", strerror(e));
	}
	close(fd);
}

void
store_set_reserve(struct store *st, size_t bytes)
{
	atomic_store(&st->reserve, bytes);
}

/* The bytes of the data file in use: every page up to the last one of the last commit. */
static int
store_file_use(struct store *st, uint64_t *used, struct stat *sb, MDB_envinfo *info)
{
	int fd;

	if (mdb_env_get_fd(st->env, &fd) != 0 || mdb_env_info(st->env, info) != 0 ||
	    fstat(fd, sb) != 0) {
		return SIGNET_EINTERNAL;
	}
	*used = ((uint64_t)info->me_last_pgno + 1) * st->psize;
	return 0;
}

/*
 * Before a batch: may ordinary writes commit? Only while the data file
 * holds RESERVE allocated bytes past its last page in use (topped up
 * here, exactly: an ordinary batch can eat into the reserve by no more
 * than its own pages) and the filesystem has space left beyond that.
 * Otherwise SIGNET_ENOSPACE, and only writes that may use the reserve run.
 */
static int
store_reserve_keep(struct store *st)
{
	size_t reserve = atomic_load(&st->reserve);
	MDB_envinfo info;
	struct statvfs sv;
	struct stat sb;
	uint64_t used;
	int fd, e = 0;

	if (reserve == 0 || store_file_use(st, &used, &sb, &info) != 0 ||
	    mdb_env_get_fd(st->env, &fd) != 0) {
		return 0;
	}
	/*
	 * With a hole: allocate the whole file (posix_fallocate fills holes,
	 * keeps data). Short: allocate the missing tail and as much again
	 * beyond it (or just the tail when the filesystem has no more), so
	 * that a top-up, whose cost grows with the file's extents, comes once
	 * per RESERVE bytes of growth and not at every batch.
	 */
	if ((uint64_t)sb.st_blocks * 512 < (uint64_t)sb.st_size) {
		e = posix_fallocate(fd, 0, (off_t)(used + reserve));
	} else if ((uint64_t)sb.st_size < used + reserve) {
		off_t from = sb.st_size;
		e = posix_fallocate(fd, from, (off_t)(used + 2 * (uint64_t)reserve) - from);
		if (e == ENOSPC || e == EDQUOT) {
			e = posix_fallocate(fd, from, (off_t)(used + reserve) - from);
		}
	}
	if (e != 0 && e != ENOSPC && e != EDQUOT) {
		log_warning("store: this filesystem cannot keep a reserve (%s): on a full disk "
			    "cancel and expiry may fail too",
			    strerror(e));
		atomic_store(&st->reserve, 0);
		e = 0;
	}
	/* A full filesystem is full for the store too, even while its own file has room. */
	if (e == 0 && fstatvfs(fd, &sv) == 0 && sv.f_bavail == 0) {
		e = ENOSPC;
	}
	if (e != 0) {
		if (!atomic_exchange(&st->full, true)) {
			log_warning(
			    "store: no space left on the filesystem (%s): only writes that "
			    "end work or free space are accepted, from a reserve of %zu KiB",
			    strerror(e), reserve >> 10);
		}
		return SIGNET_ENOSPACE;
	}
	if (atomic_exchange(&st->full, false)) {
		log_notice("store: there is space again: the reserve is whole, writes go on");
	}
	return 0;
}

int
store_usage(struct store *st, struct store_usage *u)
{
	MDB_envinfo info;
	struct stat sb;

	memset(u, 0, sizeof(*u));
	if (store_file_use(st, &u->used, &sb, &info) != 0) {
		return SIGNET_EINTERNAL;
	}
	u->file_size = (uint64_t)sb.st_size;
	u->map_size = info.me_mapsize;
	u->reserve = atomic_load(&st->reserve);
	u->full = atomic_load(&st->full);
	if (u->full) {
		/* Set by the last write; space freed since lets the next one top the reserve up. */
		struct statvfs sv;
		uint64_t need =
		    u->used + u->reserve > u->file_size ? u->used + u->reserve - u->file_size : 0;
		int fd;
		if (mdb_env_get_fd(st->env, &fd) == 0 && fstatvfs(fd, &sv) == 0 &&
		    sv.f_bavail > 0 && (uint64_t)sv.f_bavail * sv.f_frsize >= need) {
			u->full = false;
		}
	}
	return 0;
}

int
store_open(const char *path, size_t map_size, struct store **out)
{
	struct store *st;
	MDB_txn *txn = NULL;
	int rc, r = SIGNET_EINTERNAL;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		return SIGNET_EINTERNAL;
	}
	{
		/* Writers first: a resize must not starve behind a stream of readers. */
		pthread_rwlockattr_t attr;
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&st->resize_lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	st->map_size = map_size;
	pthread_mutex_init(&st->qlock, NULL);
	pthread_cond_init(&st->qcond, NULL);
	pthread_cond_init(&st->dcond, NULL);
	if ((rc = mdb_env_create(&st->env)) != 0 || (rc = mdb_env_set_maxdbs(st->env, 32)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, 126)) != 0) {
		r = store_err(rc, "creating the environment");
		goto out;
	}
	/* Default durability (synchronous commits); NOTLS because worker threads share readers. */
	rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600);
	if (rc != 0) {
		log_err("store: cannot open %s: %s", path, mdb_strerror(rc));
		goto out;
	}
	store_reader_check(st);
	store_lockfile_allocate(path);
	{
		MDB_stat ms;
		st->psize = mdb_env_stat(st->env, &ms) == 0 ? ms.ms_psize : 4096;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		r = store_err(rc, "opening databases");
		goto out;
	}
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &st->dbi[i])) != 0) {
			r = store_err(rc, "opening a database");
			goto out;
		}
	}
	{
		MDB_val k = {7, "version"}, v;
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "%d", STORE_SCHEMA_VERSION);
		rc = mdb_get(txn, st->dbi[STORE_DB_META], &k, &v);
		if (rc == 0 && v.mv_size == 1 && ((char *)v.mv_data)[0] == '1') {
			/* Everything of schema 1 reads as it is: marked 2 from now on. */
			log_notice("store: schema 1 marked %d (a signetd of schema 1 will not open "
				   "it again)",
				   STORE_SCHEMA_VERSION);
			rc = MDB_NOTFOUND;
		}
		if (rc == MDB_NOTFOUND) {
			v.mv_data = buf;
			v.mv_size = (size_t)n;
			rc = mdb_put(txn, st->dbi[STORE_DB_META], &k, &v, 0);
		} else if (rc == 0 && (v.mv_size != 1 ||
				       ((char *)v.mv_data)[0] != '0' + STORE_SCHEMA_VERSION)) {
			log_err("store: schema version is not %d; refusing to touch it",
				STORE_SCHEMA_VERSION);
			goto out;
		}
		if (rc != 0) {
			r = store_err(rc, "checking the schema version");
			goto out;
		}
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		r = store_err(rc, "committing the schema");
		goto out;
	}
	{
		MDB_envinfo info;
		if (mdb_env_info(st->env, &info) == 0 && info.me_mapsize > st->map_size) {
			st->map_size = info.me_mapsize;
		}
	}
	if (pthread_create(&st->committer, NULL, store_committer, st) != 0) {
		log_err("store: cannot start the committer thread");
		goto out;
	}
	st->committer_running = true;
	*out = st;
	return 0;
out:
	if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	store_close(st);
	return r;
}

void
store_close(struct store *st)
{
	if (st == NULL) {
		return;
	}
	if (st->committer_running) {
		pthread_mutex_lock(&st->qlock);
		st->qstop = true;
		pthread_cond_broadcast(&st->qcond);
		pthread_mutex_unlock(&st->qlock);
		pthread_join(st->committer, NULL);
		st->committer_running = false;
		log_info("store: %lu writes in %lu commits", atomic_load(&st->writes),
			 atomic_load(&st->batches));
	}
	pthread_mutex_destroy(&st->qlock);
	pthread_cond_destroy(&st->qcond);
	pthread_cond_destroy(&st->dcond);
	if (st->env != NULL) {
		mdb_env_close(st->env);
	}
	pthread_rwlock_destroy(&st->resize_lock);
	free(st);
}

void
store_stats(struct store *st, uint64_t *writes, uint64_t *commits)
{
	*writes = atomic_load(&st->writes);
	*commits = atomic_load(&st->batches);
}

int
store_reader_check(struct store *st)
{
	int dead = 0;

	if (mdb_reader_check(st->env, &dead) == 0 && dead > 0) {
		log_warning("store: cleared %d stale reader slots", dead);
	}
	return dead;
}

static int
store_grow(struct store *st)
{
	MDB_envinfo info;
	size_t nsize;
	int rc;

	pthread_rwlock_wrlock(&st->resize_lock);
	/* From the size in force now: another thread or process may have grown it already. */
	if (mdb_env_info(st->env, &info) == 0 && info.me_mapsize > st->map_size) {
		st->map_size = info.me_mapsize;
	}
	nsize = st->map_size * 2;
	rc = mdb_env_set_mapsize(st->env, nsize);
	if (rc == 0) {
		st->map_size = nsize;
		log_notice("store: map grown to %zu KiB", nsize >> 10);
	}
	pthread_rwlock_unlock(&st->resize_lock);
	return store_err(rc, "growing the map");
}

static int
store_txn_begin(struct store *st, bool write, struct store_txn *t)
{
	MDB_txn *txn = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	t->st = st;
	t->write = write;
	pthread_rwlock_rdlock(&st->resize_lock);
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and try again. */
		pthread_rwlock_unlock(&st->resize_lock);
		pthread_rwlock_wrlock(&st->resize_lock);
		mdb_env_set_mapsize(st->env, 0);
		pthread_rwlock_unlock(&st->resize_lock);
		pthread_rwlock_rdlock(&st->resize_lock);
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&st->resize_lock);
		return store_err(rc, "beginning a transaction");
	}
	t->backend = txn;
	return 0;
}

static void
store_txn_end(struct store_txn *t, bool commit, int *rcout)
{
	int rc = 0;

	if (t->backend == NULL) {
		return;
	}
	if (commit) {
		rc = mdb_txn_commit(TXN(t));
	} else {
		mdb_txn_abort(TXN(t));
	}
	t->backend = NULL;
	pthread_rwlock_unlock(&t->st->resize_lock);
	if (rcout != NULL) {
		*rcout = rc;
	}
}

static void
store_op_finish(struct store *st, struct store_op *op)
{
	if (op->done != NULL) {
		op->done(op->arg, op->rc);
		free(op);
		return;
	}
	pthread_mutex_lock(&st->qlock);
	op->finished = true;
	pthread_cond_broadcast(&st->dcond);
	pthread_mutex_unlock(&st->qlock);
}

/* Run a batch in one parent transaction; each op in its own child, so one failure aborts only it.
 */
static void
store_run_ops(struct store *st, struct store_op **ops, size_t n)
{
	for (int attempt = 0; attempt < STORE_GROW_TRIES; attempt++) {
		struct store_txn parent;
		bool grow = false;
		int r, rc = 0;

		if ((r = store_txn_begin(st, true, &parent)) != 0) {
			for (size_t i = 0; i < n; i++) {
				ops[i]->rc = r;
			}
			return;
		}
		for (size_t i = 0; i < n && !grow; i++) {
			struct store_txn t = {.st = st, .write = true};
			MDB_txn *child = NULL;
			rc = mdb_txn_begin(st->env, TXN(&parent), 0, &child);
			t.backend = child;
			if (rc != 0) {
				ops[i]->rc = store_err(rc, "beginning a nested transaction");
				grow = rc == MDB_MAP_FULL;
				continue;
			}
			r = ops[i]->fn(&t, ops[i]->arg);
			if (r == 0) {
				r = t.err;
			}
			if (r == 0) {
				rc = mdb_txn_commit(child);
				r = rc == 0 ? 0 : store_err(rc, "committing a nested transaction");
				grow = rc == MDB_MAP_FULL;
			} else {
				mdb_txn_abort(child);
				grow = t.map_full && r == t.err;
			}
			ops[i]->rc = r;
		}
		if (!grow) {
			store_txn_end(&parent, true, &rc);
			if (rc == 0) {
				st->batches++;
				st->writes += n;
				return;
			}
			if (rc != MDB_MAP_FULL) {
				r = store_err(rc, "committing");
				for (size_t i = 0; i < n; i++) {
					if (ops[i]->rc == 0) {
						ops[i]->rc = r;
					}
				}
				return;
			}
		} else {
			store_txn_end(&parent, false, NULL);
		}
		/* The map is full: grow it and run the whole batch again (ops are repeatable). */
		if ((r = store_grow(st)) != 0) {
			for (size_t i = 0; i < n; i++) {
				ops[i]->rc = r;
			}
			return;
		}
	}
	log_err("store: the map stays full after growing it");
	for (size_t i = 0; i < n; i++) {
		ops[i]->rc = SIGNET_ENOSPACE;
	}
}

/* Run a batch: on a full filesystem, only the writes that may use the reserve. */
static void
store_run_batch(struct store *st, struct store_op **ops, size_t n)
{
	struct store_op *run[STORE_BATCH_MAX];
	bool full = store_reserve_keep(st) != 0;
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (full && !ops[i]->reserve) {
			ops[i]->rc = SIGNET_ENOSPACE;
		} else {
			run[m++] = ops[i];
		}
	}
	if (m > 0) {
		store_run_ops(st, run, m);
	}
}

static void *
store_committer(void *arg)
{
	struct store *st = arg;
	struct store_op *batch[STORE_BATCH_MAX];

	for (;;) {
		size_t n = 0;

		pthread_mutex_lock(&st->qlock);
		while (st->qhead == NULL && !st->qstop) {
			pthread_cond_wait(&st->qcond, &st->qlock);
		}
		if (st->qhead == NULL) {
			pthread_mutex_unlock(&st->qlock);
			break;
		}
		while (st->qhead != NULL && n < STORE_BATCH_MAX) {
			batch[n++] = st->qhead;
			st->qhead = st->qhead->next;
		}
		if (st->qhead == NULL) {
			st->qtail = NULL;
		}
		pthread_mutex_unlock(&st->qlock);
		store_run_batch(st, batch, n);
		for (size_t i = 0; i < n; i++) {
			store_op_finish(st, batch[i]);
		}
	}
	return NULL;
}

static void
store_enqueue(struct store *st, struct store_op *op)
{
	pthread_mutex_lock(&st->qlock);
	op->next = NULL;
	if (st->qtail != NULL) {
		st->qtail->next = op;
	} else {
		st->qhead = op;
	}
	st->qtail = op;
	pthread_cond_signal(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
}

static int
store_write_op(struct store *st, int (*fn)(struct store_txn *, void *), void *arg, bool reserve)
{
	struct store_op op = {.fn = fn, .arg = arg, .reserve = reserve};

	if (!st->committer_running) {
		/* Before the committer runs (or after it stopped): in the caller's thread. */
		struct store_op *one = &op;
		store_run_batch(st, &one, 1);
		return op.rc;
	}
	store_enqueue(st, &op);
	pthread_mutex_lock(&st->qlock);
	while (!op.finished) {
		pthread_cond_wait(&st->dcond, &st->qlock);
	}
	pthread_mutex_unlock(&st->qlock);
	return op.rc;
}

int
store_write(struct store *st, int (*fn)(struct store_txn *, void *), void *arg)
{
	return store_write_op(st, fn, arg, false);
}

int
store_write_reserve(struct store *st, int (*fn)(struct store_txn *, void *), void *arg)
{
	return store_write_op(st, fn, arg, true);
}

int
store_write_async(struct store *st, int (*fn)(struct store_txn *, void *), void *arg,
		  void (*done)(void *arg, int rc))
{
	struct store_op *op;

	if (!st->committer_running) {
		return SIGNET_EUNAVAILABLE;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		return SIGNET_EINTERNAL;
	}
	op->fn = fn;
	op->arg = arg;
	op->done = done;
	store_enqueue(st, op);
	return 0;
}

int
store_read(struct store *st, int (*fn)(struct store_txn *, void *), void *arg)
{
	struct store_txn t;
	int r;

	if ((r = store_txn_begin(st, false, &t)) != 0) {
		return r;
	}
	r = fn(&t, arg);
	if (r == 0) {
		r = t.err;
	}
	store_txn_end(&t, false, NULL);
	return r;
}

static json_t *
parse_record(const MDB_val *v)
{
	json_error_t jerr;

	if (v->mv_size > STORE_VALUE_MAX) {
		return NULL;
	}
	return json_loadb(v->mv_data, v->mv_size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
}

int
store_get_json(struct store_txn *t, enum store_db db, const void *key, size_t klen, json_t **out)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	*out = NULL;
	if (t->err != 0) {
		return t->err;
	}
	rc = mdb_get(TXN(t), t->st->dbi[db], &k, &v);
	if (rc != 0) {
		return store_err(rc, "reading");
	}
	*out = parse_record(&v);
	if (*out == NULL) {
		log_err("store: a record in '%s' is corrupt", db_names[db]);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

bool
store_exists(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key}, v;

	return t->err == 0 && mdb_get(TXN(t), t->st->dbi[db], &k, &v) == 0;
}

static void
store_put_flags(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		const json_t *val, unsigned flags)
{
	char *s;
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	if (t->err != 0) {
		return;
	}
	if (!t->write || klen == 0 || klen > 511) {
		store_txn_fail(t, SIGNET_EINTERNAL);
		return;
	}
	s = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL || strlen(s) > STORE_VALUE_MAX) {
		free(s);
		store_txn_fail(t, s == NULL ? SIGNET_EINTERNAL : SIGNET_EINVAL);
		return;
	}
	v.mv_data = s;
	v.mv_size = strlen(s);
	rc = mdb_put(TXN(t), t->st->dbi[db], &k, &v, flags);
	free(s);
	if (rc != 0) {
		store_txn_fail_mdb(t, rc, "writing");
	}
}

void
store_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
	       const json_t *val, bool nooverwrite)
{
	store_put_flags(t, db, key, klen, val, nooverwrite ? MDB_NOOVERWRITE : 0);
}

/* MDB_APPEND splits a full page at the new key, so appended records fill their pages. */
void
store_append_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		  const json_t *val)
{
	store_put_flags(t, db, key, klen, val, MDB_APPEND);
}

void
store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};
	int rc;

	if (t->err != 0) {
		return;
	}
	rc = mdb_del(TXN(t), t->st->dbi[db], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		store_txn_fail_mdb(t, rc, "deleting");
	}
}

int
store_foreach_page(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		   struct store_page *pg,
		   int (*fn)(const struct store_key *key, json_t *val, void *arg), void *arg)
{
	uint8_t start[512];
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0, skipped = 0;
	/* Passed-over records cost work too: a page looks at 10 times LIMIT of them, or 10000. */
	size_t skip_max = pg->limit <= (STORE_PAGE_SKIP_MAX - 100) / 10 ? 10 * pg->limit + 100
								  : STORE_PAGE_SKIP_MAX;
	int rc, r = 0;

	pg->more = false;
	pg->next_len = 0;
	if (t->err != 0) {
		return t->err;
	}
	if (plen + pg->after_len > sizeof(start) || pg->after_len > STORE_CURSOR_MAX ||
	    pg->limit == 0) {
		return SIGNET_EINVAL;
	}
	if (plen > 0) {
		memcpy(start, prefix, plen);
	}
	memcpy(start + plen, pg->after, pg->after_len);
	if ((rc = mdb_cursor_open(TXN(t), t->st->dbi[db], &c)) != 0) {
		return store_err(rc, "opening a cursor");
	}
	k.mv_data = start;
	k.mv_size = plen + pg->after_len;
	rc = k.mv_size > 0 ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
			   : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	/* The cursor names the last record already returned: start after it. */
	if (rc == 0 && pg->after_len > 0 && k.mv_size == plen + pg->after_len &&
	    memcmp(k.mv_data, start, k.mv_size) == 0) {
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_t *j;
		if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)) {
			break;
		}
		if (n == pg->limit) {
			pg->more = true;
			break;
		}
		if (k.mv_size - plen > STORE_CURSOR_MAX) {
			r = SIGNET_EINTERNAL;
			break;
		}
		j = parse_record(&v);
		if (j == NULL) {
			log_err("store: a record in '%s' is corrupt", db_names[db]);
			r = SIGNET_EINTERNAL;
			break;
		}
		r = fn(&(struct store_key){k.mv_data, k.mv_size}, j, arg);
		json_decref(j);
		if (r == STORE_PAGE_SKIP) {
			/* Not shown, not counted; the next page starts after it all the same. */
			r = 0;
			memcpy(pg->next, (const uint8_t *)k.mv_data + plen, k.mv_size - plen);
			pg->next_len = k.mv_size - plen;
			if (++skipped >= skip_max) {
				pg->more = true;
				break;
			}
			continue;
		}
		if (r == STORE_PAGE_FULL) {
			/* Not taken: the page ends before it, and the cursor still names the last
			 * one. */
			pg->more = n > 0;
			r = n > 0 ? 0 : SIGNET_ETOO_LARGE;
			break;
		}
		if (r != 0) {
			break;
		}
		n++;
		memcpy(pg->next, (const uint8_t *)k.mv_data + plen, k.mv_size - plen);
		pg->next_len = k.mv_size - plen;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		r = store_err(rc, "iterating");
	}
	mdb_cursor_close(c);
	if (!pg->more) {
		pg->next_len = 0;
	}
	return r > 0 ? 0 : r;
}

int
store_foreach(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
	      int (*fn)(const struct store_key *key, json_t *val, void *arg), void *arg)
{
	struct store_page pg = {.limit = SIZE_MAX};

	return store_foreach_page(t, db, prefix, plen, &pg, fn, arg);
}

int
store_foreach_key(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		  int (*fn)(const struct store_key *key, void *arg), void *arg)
{
	MDB_cursor *c;
	MDB_val k = {plen, (void *)prefix}, v;
	int rc, r = 0;

	if (t->err != 0) {
		return t->err;
	}
	if ((rc = mdb_cursor_open(TXN(t), t->st->dbi[db], &c)) != 0) {
		return store_err(rc, "opening a cursor");
	}
	rc = plen > 0 ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
		      : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)) {
			break;
		}
		if ((r = fn(&(struct store_key){k.mv_data, k.mv_size}, arg)) != 0) {
			break;
		}
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		r = store_err(rc, "iterating");
	}
	mdb_cursor_close(c);
	return r > 0 ? 0 : r;
}

int
store_last_key(struct store_txn *t, enum store_db db, void *key, size_t *klen)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (t->err != 0) {
		return t->err;
	}
	if ((rc = mdb_cursor_open(TXN(t), t->st->dbi[db], &c)) != 0) {
		return store_err(rc, "opening a cursor");
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND) {
		return SIGNET_ENOTFOUND;
	}
	if (rc != 0) {
		return store_err(rc, "reading the last key");
	}
	if (k.mv_size > *klen) {
		return SIGNET_EINTERNAL;
	}
	memcpy(key, k.mv_data, k.mv_size);
	*klen = k.mv_size;
	return 0;
}

int
store_first_from(struct store_txn *t, enum store_db db, const void *key, size_t klen, void *out_key,
		 size_t *out_klen, json_t **out)
{
	MDB_cursor *c;
	MDB_val k = {klen, (void *)key}, v;
	int rc, r = 0;

	*out = NULL;
	if (t->err != 0) {
		return t->err;
	}
	if ((rc = mdb_cursor_open(TXN(t), t->st->dbi[db], &c)) != 0) {
		return store_err(rc, "opening a cursor");
	}
	rc = klen > 0 ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
		      : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (rc == MDB_NOTFOUND) {
		r = SIGNET_ENOTFOUND;
	} else if (rc != 0) {
		r = store_err(rc, "seeking");
	} else if (k.mv_size > *out_klen) {
		r = SIGNET_EINTERNAL;
	} else {
		memcpy(out_key, k.mv_data, k.mv_size);
		*out_klen = k.mv_size;
		if ((*out = parse_record(&v)) == NULL) {
			log_err("store: a record in '%s' is corrupt", db_names[db]);
			r = SIGNET_EINTERNAL;
		}
	}
	mdb_cursor_close(c);
	return r;
}

size_t
store_del_first(struct store_txn *t, enum store_db db, size_t max)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t n = 0;
	int rc;

	if (t->err != 0) {
		return 0;
	}
	if (!t->write) {
		store_txn_fail(t, SIGNET_EINTERNAL);
		return 0;
	}
	if ((rc = mdb_cursor_open(TXN(t), t->st->dbi[db], &c)) != 0) {
		store_txn_fail_mdb(t, rc, "opening a cursor");
		return 0;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < max;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			break;
		}
		n++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		store_txn_fail_mdb(t, rc, "deleting");
	}
	mdb_cursor_close(c);
	return n;
}

size_t
store_count(struct store_txn *t, enum store_db db)
{
	MDB_stat s;

	if (t->err != 0 || mdb_stat(TXN(t), t->st->dbi[db], &s) != 0) {
		return 0;
	}
	return s.ms_entries;
}

int
store_backup_fd(struct store *st, int fd)
{
	int rc;

	/* A compacting copy runs in a read transaction: writers go on meanwhile. */
	pthread_rwlock_rdlock(&st->resize_lock);
	rc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
	pthread_rwlock_unlock(&st->resize_lock);
	if (rc != 0) {
		log_err("store: backup failed: %s", mdb_strerror(rc));
		return rc == EBADF || rc == EINVAL ? SIGNET_EINVAL : store_error(rc);
	}
	return 0;
}

size_t
store_key2(char *out, size_t outlen, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + 1 + lb > outlen) {
		return 0;
	}
	memcpy(out, a, la);
	out[la] = '\0';
	memcpy(out + la + 1, b, lb);
	return la + 1 + lb;
}

size_t
store_keyv(char *out, size_t outlen, const char *const *parts, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(parts[i]);
		if (len + l + (i + 1 < n ? 1 : 0) > outlen) {
			return 0;
		}
		memcpy(out + len, parts[i], l);
		len += l;
		if (i + 1 < n) {
			out[len++] = '\0';
		}
	}
	return len;
}

int
store_read_record(struct store_txn *t, enum store_db db, const char *a, const char *b,
		  int (*decode)(const json_t *rec, void *out), void *out)
{
	char key[160];
	size_t klen = store_key2(key, sizeof(key), a, b);
	json_t *rec = NULL;
	int rc;

	if (klen == 0 || store_get_json(t, db, key, klen, &rec) != 0) {
		return SIGNET_ENOTFOUND;
	}
	rc = decode(rec, out);
	json_decref(rec);
	return rc;
}

void
store_write_record(struct store_txn *t, enum store_db db, const char *a, const char *b, json_t *rec,
		   bool nooverwrite)
{
	char key[160];
	size_t klen = store_key2(key, sizeof(key), a, b);

	if (rec == NULL || klen == 0) {
		if (t->err == 0) {
			t->err = SIGNET_EINTERNAL;
		}
	} else {
		store_put_json(t, db, key, klen, rec, nooverwrite);
	}
	json_decref(rec);
}

bool
store_field_str(const json_t *o, const char *key, char *out, size_t len)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= len) {
		return false;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

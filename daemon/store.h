/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: named databases of records under byte-string keys, read and
 * written in transactions with a sticky error.
 *
 * This header is the whole interface; the backend (LMDB today, store.c) is
 * the only file that knows its types. A second backend (several appliances
 * sharing one replicated database, e.g. PostgreSQL, each with a network HSM)
 * implements the same calls with these guarantees, which the daemon relies on:
 *
 *  - Transactions. store_read sees one consistent snapshot. store_write runs
 *    its function in a serialisable read-write transaction and returns only
 *    once the transaction is durable (on disk here; acknowledged by a quorum
 *    of replicas there); a function returning an error leaves no trace. The
 *    function may be run again (map growth here, a serialisation failure
 *    there): it must be repeatable. Group commit (several functions in one
 *    durable commit, each in its own nested transaction) is this backend's
 *    choice, not part of the contract.
 *  - Ordered scans with a cursor. Keys compare as byte strings (memcmp, then
 *    length); store_foreach* walk the records under a prefix in that order,
 *    and a page resumes after a key suffix (struct store_page), so listings
 *    are stable across calls and the client holds the cursor.
 *  - A global sequence. STORE_DB_EVENTS is keyed by a big-endian u64 that
 *    grows by one per event across the whole appliance (store_last_key,
 *    store_append_json): a shared backend hands it out in the writing
 *    transaction (a sequence, or a counter row), so watchers resume from a
 *    number whichever appliance wrote the event.
 *  - Size and space. Values are at most STORE_VALUE_MAX bytes. A write that
 *    would leave no room fails with SIGNET_ENOSPACE and changes nothing;
 *    store_write_reserve may still commit writes that free space.
 *
 * Records are JSON values today (compact text); struct store_key is the key
 * a scan hands its callback, valid during the call only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum store_db {
	STORE_DB_META,     /* schema version and appliance facts */
	STORE_DB_TENANTS,  /* tenant name -> tenant record */
	STORE_DB_USERS,    /* tenant \0 user -> user record */
	STORE_DB_TOKENS,   /* hex SHA-256 of an API token -> {tenant, user} */
	STORE_DB_KEYS,     /* tenant \0 label -> key metadata */
	STORE_DB_ACL,      /* tenant \0 subject \0 resource \0 action -> rule; tenant \0 ~TASK:id ->
			      capability */
	STORE_DB_DEVCONFS, /* tenant \0 id -> device configuration */
	STORE_DB_TASKS,    /* tenant \0 id -> task */
	STORE_DB_TASK_INDEX, /* tenant \0 status \0 id -> {} */
	STORE_DB_TASK_REFS,  /* id -> {tenant}: tasks by id alone (recovery, spool, events) */
	STORE_DB_EVENTS,     /* big-endian u64 sequence -> event */
	STORE_DB_TIMERS,     /* big-endian u64 due time \0 kind \0 id -> {tenant} */
	STORE_DB_CONFIG,     /* tenant \0 key -> {"value": ...} */
	STORE_DB_AUDIT, /* chain \0 be64 seq -> entry; chain \0 be64 seq \1 be64 n -> checkpoint */
	STORE_DB_AUDIT_HEADS, /* chain -> {seq, hash, ckptSeq, ckptSig, ckptCount, lastAppend} */
	STORE_DB_REPORTS,     /* tenant \0 id -> verified signed report */
	STORE_DB_SPOOL_USE,   /* tenant [\0 requester] -> {bytes}: spool held by tasks (quota.h) */
	STORE_DB_KEY_USES,    /* tenant \0 key label \0 devconf id -> {}: the configurations naming a
				 signing or packaging key (devconf.h); derived, rebuilt at start */
	STORE_DB_COUNT,
};

#define STORE_VALUE_MAX (1u << 20) /* largest record we write or accept on read */

struct store;

/* A record's key as a scan hands it to its callback (valid during the call only). */
struct store_key {
	const void *data;
	size_t len;
};

/*
 * A transaction. Operations record the first failure in ERR and do nothing
 * after it; commit returns it. A read transaction is never committed.
 * BACKEND is the backend's own handle (store.c only).
 */
struct store_txn {
	struct store *st;
	void *backend;
	int err;
	bool write;
	bool map_full; /* ERR came from a full map: the store grows it and runs the write again */
};

/* Open (creating) the environment in the folder PATH, with an initial map of MAP_SIZE bytes. */
int store_open(const char *path, size_t map_size, struct store **out);
void store_close(struct store *st);

/*
 * Keep BYTES allocated on disk in the data file past its last page in use
 * (0: keep none), so that writes which end work or free space
 * (store_write_reserve) commit on a full filesystem. An ordinary write
 * commits only while the reserve is whole and the filesystem has space
 * left; otherwise it fails with SIGNET_ENOSPACE and changes nothing.
 */
void store_set_reserve(struct store *st, size_t bytes);

/* How full the store is, for the status op. */
struct store_usage {
	uint64_t used;      /* bytes of the data file in use (up to its last page) */
	uint64_t file_size; /* bytes of the data file, the reserve included */
	uint64_t map_size;  /* the map: the most the data file may grow to before the map grows */
	uint64_t reserve;   /* the reserve asked for (0: none) */
	bool full; /* no space left, or no room for the reserve: only store_write_reserve commits */
};
int store_usage(struct store *st, struct store_usage *u);

/* Writes (store_write and the like) and the durable commits they shared, since the open. */
void store_stats(struct store *st, uint64_t *writes, uint64_t *commits);

/*
 * Run FN in a write transaction and commit it durably (LMDB's default
 * synchronous commit) before returning. Writes are group-committed: FN runs
 * on the store's committer thread in a nested transaction, with whatever
 * other writes are queued, under one commit. When the map is full, the
 * batch is aborted, the map grown and FN run again. FN returns 0 to
 * commit, an error to abort (its own changes only). FN must not call
 * store_write.
 */
int store_write(struct store *st, int (*fn)(struct store_txn *, void *), void *arg);
/*
 * The same for a write that ends work or frees space (cancel, reject,
 * expiry, a task's final status, with their audit entries): it may use the
 * reserve, so it commits while the filesystem is full.
 */
int store_write_reserve(struct store *st, int (*fn)(struct store_txn *, void *), void *arg);
/*
 * The same without waiting: FN runs on the store's committer thread (in a
 * batch with other writes, each in a nested transaction of one durable
 * commit), then DONE(ARG, rc) is called on that thread once the commit is
 * on disk. DONE must not call store_write. Returns 0, or an error when
 * nothing was queued (DONE is not called then).
 */
int store_write_async(struct store *st, int (*fn)(struct store_txn *, void *), void *arg,
		      void (*done)(void *arg, int rc));
/* Run FN in a read-only transaction. */
int store_read(struct store *st, int (*fn)(struct store_txn *, void *), void *arg);

/* Fetch a JSON record; SIGNET_ENOTFOUND when absent. Caller decrefs *OUT. */
int store_get_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		   json_t **out);
bool store_exists(struct store_txn *t, enum store_db db, const void *key, size_t klen);
/* Store a JSON record (sticky error). NOOVERWRITE fails with SIGNET_ECONFLICT if present. */
void store_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		    const json_t *val, bool nooverwrite);
/* Store a JSON record whose key is past every key of DB (sticky error; SIGNET_ECONFLICT if not). */
void store_append_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		       const json_t *val);
void store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen);

/* Call FN for each record whose key starts with PREFIX, in key order; FN returns 0, or an error to
 * stop. */
int store_foreach(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		  int (*fn)(const struct store_key *key, json_t *val, void *arg), void *arg);
#define STORE_PAGE_MAX   1000 /* most records one page may hold */
#define STORE_CURSOR_MAX 256  /* bytes of a record key suffix a cursor may name */

/*
 * One page of a listing: records after AFTER (a key suffix past the
 * prefix; AFTER_LEN 0 starts at the beginning), at most LIMIT of them.
 * When more remain, MORE is set and NEXT holds the suffix to resume after.
 */
struct store_page {
	uint8_t after[STORE_CURSOR_MAX];
	size_t after_len;
	size_t limit;
	bool more;
	uint8_t next[STORE_CURSOR_MAX];
	size_t next_len;
};

/* A page callback returns this to end the page before its record (the reply is full). */
#define STORE_PAGE_FULL 1
/*
 * ... or this when the record is not one the listing shows (filtered out, or
 * not an item): it does not count toward LIMIT, and the page resumes after
 * it. A page passes over at most 10 * LIMIT + 100 such records (and never
 * more than STORE_PAGE_SKIP_MAX), then ends (MORE set) so that one call's
 * work stays bounded.
 */
#define STORE_PAGE_SKIP     2
#define STORE_PAGE_SKIP_MAX 10000
/* ... or this to end the scan after its record, without error (found what it looked for). */
#define STORE_STOP 3

int store_foreach_page(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		       struct store_page *pg,
		       int (*fn)(const struct store_key *key, json_t *val, void *arg), void *arg);

/* Keys only (no record parsed): FN for each key starting with PREFIX; FN returns 0, > 0 to stop, <
 * 0 error. */
int store_foreach_key(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		      int (*fn)(const struct store_key *key, void *arg), void *arg);
/* The last key of DB (at most *KLEN bytes): 0, or SIGNET_ENOTFOUND when DB is empty. */
int store_last_key(struct store_txn *t, enum store_db db, void *key, size_t *klen);
/* The first record at or after KEY; its key (at most *KLEN bytes) and value. SIGNET_ENOTFOUND past
 * the end. */
int store_first_from(struct store_txn *t, enum store_db db, const void *key, size_t klen,
		     void *out_key, size_t *out_klen, json_t **out);

/* Delete the first records of DB, at most MAX of them (sticky error); how many went. */
size_t store_del_first(struct store_txn *t, enum store_db db, size_t max);
/* Number of records in DB. */
size_t store_count(struct store_txn *t, enum store_db db);

/* Write a compacted copy of the environment to FD while the store stays online. */
int store_backup_fd(struct store *st, int fd);
/* Clear stale reader slots left by dead processes; returns how many. */
int store_reader_check(struct store *st);

/*
 * Typed records (devconf.h, user.h) stored under "A \0 B": read one and
 * decode it with DECODE(json, OUT) (SIGNET_ENOTFOUND when absent, else what
 * DECODE returns); write REC, which the call takes (NULL, from an encoder out
 * of memory: SIGNET_EINTERNAL in the transaction's sticky error).
 */
int store_read_record(struct store_txn *t, enum store_db db, const char *a, const char *b,
		      int (*decode)(const json_t *rec, void *out), void *out);
void store_write_record(struct store_txn *t, enum store_db db, const char *a, const char *b,
			json_t *rec, bool nooverwrite);
/* For decoders: copy string member KEY of O into OUT (LEN bytes); false when it is absent, not
 * a string, or too long. */
bool store_field_str(const json_t *o, const char *key, char *out, size_t len);

/* Build the composite key "A\0B" into OUT (returns its length, 0 if it does not fit). */
size_t store_key2(char *out, size_t outlen, const char *a, const char *b);
/* Build "P0\0P1\0...\0Pn-1" into OUT (returns its length, 0 if it does not fit). */
size_t store_keyv(char *out, size_t outlen, const char *const *parts, size_t n);

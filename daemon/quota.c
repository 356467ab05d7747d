/* SPDX-License-Identifier: Apache-2.0 */
/* Spool quotas: the bytes each tenant and user holds in the spool, claims before writing, the
 * reserve. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "daemon/quota.h"
#include "daemon/spool.h"
#include "daemon/tasks.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

/* The record saying that the sums are kept (a tenant's name never starts with '~'). */
#define QUOTA_MARK "~counted"

struct quota {
	pthread_mutex_t lock;
	struct quota_claim *claims; /* held now */
	uint64_t claimed, claimed_disk;
};

/*
 * A package made in its request (package_prepare: the packaging.header it
 * recorded): its spooled bytes are its package file alone (in/<id>.pkg,
 * then out/<id>), within resultMax; its inputs were read from the client,
 * never copied. A package of an earlier signetd holds copies of its inputs.
 */
static bool
package_file_only(const struct task *task)
{
	return task->type == TT_PACKAGING &&
	       json_object_get(task->packaging, "header") != NULL;
}

uint64_t
quota_task_charge(const struct task *task)
{
	enum task_status st = task->status;
	uint64_t n = 0;
	size_t i;
	json_t *in;

	if (task->parent != NULL) {
		return 0; /* a package's child: its bytes are the package's */
	}
	if (st == TS_COUNT) {
		return 0;
	}
	if (!task_status_final(st)) {
		if (task->spool && !package_file_only(task)) {
			json_array_foreach(task->inputs, i, in) {
				json_int_t s = json_integer_value(json_object_get(in, "size"));
				n += s > 0 ? (uint64_t)s : 0;
			}
		}
		return n + (task->result_max > 0 ? (uint64_t)task->result_max : 0);
	}
	if (st == TS_DONE) {
		json_int_t s = json_integer_value(json_object_get(task->result, "size"));
		if (json_is_true(json_object_get(task->result, "available")) && s > 0) {
			return (uint64_t)s;
		}
	}
	return 0;
}

/* The sums: "tenant" and "tenant \0 requester" -> {"bytes": N}. */
static uint64_t
use_get(struct store_txn *t, const char *key, size_t klen)
{
	json_t *v = NULL;
	json_int_t b = 0;

	if (klen > 0 && store_get_json(t, STORE_DB_SPOOL_USE, key, klen, &v) == 0) {
		b = json_integer_value(json_object_get(v, "bytes"));
	}
	json_decref(v);
	return b > 0 ? (uint64_t)b : 0;
}

static void
use_add(struct store_txn *t, const char *key, size_t klen, uint64_t plus, uint64_t minus)
{
	uint64_t n = use_get(t, key, klen);
	json_t *v;

	if (klen == 0) {
		t->err = t->err != 0 ? t->err : SIGNET_EINTERNAL;
		return;
	}
	if (minus > n + plus) {
		/* A sum below zero: a record changed behind task_put's back. Never less than none.
		 */
		log_err("quota: the spool use of %.*s would go below zero; it is set to 0",
			(int)strnlen(key, klen), key);
		n = 0;
	} else {
		n = n + plus - minus;
	}
	if (n == 0) {
		store_del(t, STORE_DB_SPOOL_USE, key, klen);
		return;
	}
	v = json_pack("{s:I}", "bytes", (json_int_t)n);
	store_put_json(t, STORE_DB_SPOOL_USE, key, klen, v, false);
	json_decref(v);
}

static void
use_change(struct store_txn *t, const char *tenant, const char *requester, uint64_t plus,
	   uint64_t minus)
{
	char key[ACL_NAME_MAX + ACL_SUBJECT_MAX + 2];

	use_add(t, tenant, strlen(tenant), plus, minus);
	use_add(t, key, store_key2(key, sizeof(key), tenant, requester), plus, minus);
}

int
quota_task_update(struct store_txn *t, const struct task *task, uint64_t before)
{
	uint64_t now = quota_task_charge(task);

	if (now == before) {
		return t->err;
	}
	if (task->requester == NULL) {
		return SIGNET_EINTERNAL;
	}
	use_change(t, task->tenant, task->requester, now > before ? now - before : 0,
		   now < before ? before - now : 0);
	return t->err;
}

/* An older store: sum every task's charge once, in one transaction with the mark. */
static int
recount_cb(const struct store_key *key, json_t *rec, void *arg)
{
	struct store_txn *t = arg;
	struct task task;
	uint64_t c;

	if (task_decode(key->data, key->len, rec, &task) != 0) {
		/* A broken record holds nothing (task.list passes over it too). */
		log_warning("quota: a task record of %.*s does not decode; counted as holding "
			    "nothing",
			    (int)strnlen(key->data, key->len < 64 ? key->len : 64),
			    (const char *)key->data);
		return 0;
	}
	c = quota_task_charge(&task);
	if (c > 0 && task.requester != NULL) {
		use_change(t, task.tenant, task.requester, c, 0);
	}
	task_clear(&task);
	return t->err;
}

static int
recount_txn(struct store_txn *t, void *arg)
{
	json_t *mark;
	int rc;

	(void)arg;
	if (store_exists(t, STORE_DB_SPOOL_USE, QUOTA_MARK, strlen(QUOTA_MARK))) {
		return 0;
	}
	if (store_count(t, STORE_DB_SPOOL_USE) != 0) {
		log_err("quota: spool sums without their mark; refusing to add to them");
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_foreach(t, STORE_DB_TASKS, NULL, 0, recount_cb, t)) != 0) {
		return rc;
	}
	mark = json_pack("{s:i}", "version", 1);
	store_put_json(t, STORE_DB_SPOOL_USE, QUOTA_MARK, strlen(QUOTA_MARK), mark, true);
	json_decref(mark);
	if (store_count(t, STORE_DB_TASKS) > 0) {
		log_notice("quota: the spool use of every tenant and user summed from the task "
			   "records");
	}
	return t->err;
}

int
quota_start(struct daemon *d)
{
	struct quota *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL) {
		return SIGNET_EINTERNAL;
	}
	pthread_mutex_init(&q->lock, NULL);
	d->quota = q;
	if ((rc = store_write(d->store, recount_txn, NULL)) != 0) {
		log_err("quota: cannot sum the spool use of the tasks: %s", signet_strerror(rc));
		quota_stop(d);
	}
	return rc;
}

void
quota_stop(struct daemon *d)
{
	struct quota *q = d->quota;

	if (q == NULL) {
		return;
	}
	pthread_mutex_destroy(&q->lock);
	free(q);
	d->quota = NULL;
}

struct use_read {
	const char *tenant, *requester;
	uint64_t tenant_use, user_use;
};

static int
use_read_txn(struct store_txn *t, void *arg)
{
	struct use_read *x = arg;
	char key[ACL_NAME_MAX + ACL_SUBJECT_MAX + 2];

	x->tenant_use = use_get(t, x->tenant, strlen(x->tenant));
	x->user_use = use_get(t, key, store_key2(key, sizeof(key), x->tenant, x->requester));
	return 0;
}

/*
 * The sums and the claims of a user and a tenant. The caller holds the
 * lock, and the read starts under it: a claim is released only after its
 * record committed, so each byte is counted at least once.
 */
static int
use_locked(struct daemon *d, struct use_read *x, uint64_t *user_claims, uint64_t *tenant_claims)
{
	struct quota *q = d->quota;
	int rc = store_read(d->store, use_read_txn, x);

	*user_claims = *tenant_claims = 0;
	for (const struct quota_claim *c = q->claims; c != NULL; c = c->next) {
		if (strcmp(c->tenant, x->tenant) == 0) {
			*tenant_claims += c->bytes;
			if (strcmp(c->requester, x->requester) == 0) {
				*user_claims += c->bytes;
			}
		}
	}
	return rc;
}

int
quota_claim(struct request *r, uint64_t bytes, uint64_t disk, struct quota_claim *c)
{
	struct daemon *d = r->d;
	struct quota *q = d->quota;
	uint64_t uq = (uint64_t)d->cfg->spool_quota_user_mb << 20;
	uint64_t tq = (uint64_t)d->cfg->spool_quota_tenant_mb << 20;
	uint64_t reserve = (uint64_t)d->cfg->spool_reserve_mb << 20;
	uint64_t uc, tc;
	struct use_read x;
	struct statvfs sv;
	char spool[PATH_MAX];
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->tenant, sizeof(c->tenant), "%s", r->subject.tenant);
	policy_subject_name(&r->subject, c->requester, sizeof(c->requester));
	c->bytes = bytes;
	c->disk = disk;
	x = (struct use_read){.tenant = c->tenant, .requester = c->requester};
	pthread_mutex_lock(&q->lock);
	if ((rc = use_locked(d, &x, &uc, &tc)) != 0) {
		pthread_mutex_unlock(&q->lock);
		return rc;
	}
	if (uq > 0 && x.user_use + uc + bytes > uq) {
		pthread_mutex_unlock(&q->lock);
		return req_fail(
		    r, SIGNET_EQUOTA,
		    "the spool quota of %s would be exceeded: %llu bytes held, %llu more "
		    "asked, %llu allowed ([tasks] spool_quota_user_mb)",
		    c->requester, (unsigned long long)(x.user_use + uc), (unsigned long long)bytes,
		    (unsigned long long)uq);
	}
	if (tq > 0 && x.tenant_use + tc + bytes > tq) {
		pthread_mutex_unlock(&q->lock);
		return req_fail(r, SIGNET_EQUOTA,
				"the spool quota of tenant %s would be exceeded: %llu bytes held, "
				"%llu more asked, %llu allowed ([tasks] spool_quota_tenant_mb)",
				c->tenant, (unsigned long long)(x.tenant_use + tc),
				(unsigned long long)bytes, (unsigned long long)tq);
	}
	/* Copies not yet written count as used; those written count twice for a moment. */
	if (disk > 0 && spool_path(d, "", "", spool, sizeof(spool)) == 0 &&
	    statvfs(spool, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < q->claimed_disk + disk + reserve) {
		pthread_mutex_unlock(&q->lock);
		return req_fail(r, SIGNET_ENOSPACE,
				"no space left in the spool for this input now: %llu bytes asked, "
				"%llu available, %llu kept free ([tasks] spool_reserve_mb)",
				(unsigned long long)disk,
				(unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize),
				(unsigned long long)reserve);
	}
	c->next = q->claims;
	if (q->claims != NULL) {
		q->claims->prev = c;
	}
	q->claims = c;
	q->claimed += bytes;
	q->claimed_disk += disk;
	c->held = true;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void
quota_release(struct daemon *d, struct quota_claim *c)
{
	struct quota *q = d->quota;

	if (!c->held) {
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		q->claims = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	q->claimed -= c->bytes;
	q->claimed_disk -= c->disk;
	c->prev = c->next = NULL;
	c->held = false;
	pthread_mutex_unlock(&q->lock);
}

int
quota_use_of(struct daemon *d, const char *tenant, const char *requester, struct quota_use *u)
{
	struct quota *q = d->quota;
	struct use_read x = {.tenant = tenant, .requester = requester};
	uint64_t uc, tc;
	int rc;

	pthread_mutex_lock(&q->lock);
	rc = use_locked(d, &x, &uc, &tc);
	pthread_mutex_unlock(&q->lock);
	u->user = x.user_use + uc;
	u->tenant = x.tenant_use + tc;
	u->user_quota = (uint64_t)d->cfg->spool_quota_user_mb << 20;
	u->tenant_quota = (uint64_t)d->cfg->spool_quota_tenant_mb << 20;
	return rc;
}

uint64_t
quota_claimed(struct daemon *d)
{
	struct quota *q = d->quota;
	uint64_t n;

	if (q == NULL) {
		return 0;
	}
	pthread_mutex_lock(&q->lock);
	n = q->claimed;
	pthread_mutex_unlock(&q->lock);
	return n;
}

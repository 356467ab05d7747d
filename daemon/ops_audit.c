/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on the audit log: list, export (with a fresh checkpoint), verify, the public key. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "daemon/audit.h"
#include "daemon/ops.h"
#include "daemon/store.h"
#include "hsm/hsm.h"
#include "lib/audit_verify.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

/* A new, empty regular file on a local filesystem, open for writing. */
static bool
fd_is_writable_file(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 &&
	       fd_is_local_regular(fd) && st.st_size == 0;
}

/* Which chain the caller reads: its tenant's, or the appliance's for a local admin who asks. */
static int
chain_arg(struct request *r, const char **chain)
{
	const char *want = NULL;

	if (jargs_str(&r->args, "chain", false, ACL_NAME_MAX + 16, &want) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (want == NULL || strcmp(want, r->subject.tenant) == 0) {
		*chain = r->subject.tenant;
		return 0;
	}
	if (strcmp(want, AUDIT_APPLIANCE) == 0 && r->local && r->subject.admin) {
		*chain = AUDIT_APPLIANCE;
		return 0;
	}
	return req_fail(r, SIGNET_EDENIED,
			"a tenant reads its own audit log; the appliance's is for local admins");
}

struct list_run {
	struct request *r;
	const char *resource;
	const char *rtype; /* resource type: entries whose resource starts with "TYPE:" */
	struct store_page pg;
	struct ops_list out;
	struct store_txn *t;
	struct audit_cursor cur;
};

static int
list_entry(struct list_run *x, json_t *val)
{
	const char *res = json_string_value(json_object_get(val, "resource"));

	if (strcmp(json_string_value(json_object_get(val, "type")) ?: "", "entry") != 0) {
		return STORE_PAGE_SKIP; /* not shown, not counted */
	}
	if (x->resource != NULL && (res == NULL || strcmp(res, x->resource) != 0)) {
		return STORE_PAGE_SKIP; /* not shown, not counted */
	}
	if (x->rtype != NULL) {
		size_t n = strlen(x->rtype);
		if (res == NULL || strncmp(res, x->rtype, n) != 0 || res[n] != ':') {
			return STORE_PAGE_SKIP; /* not shown, not counted */
		}
	}
	return ops_list_append(&x->out, json_deep_copy(val));
}

static int
list_cb(const struct store_key *key, json_t *rec, void *arg)
{
	struct list_run *x = arg;
	json_t *val = audit_record_load(x->t, key->data, key->len, rec, &x->cur);
	int rc;

	if (val == NULL) {
		return SIGNET_EINTERNAL;
	}
	rc = list_entry(x, val);
	json_decref(val);
	return rc;
}

struct list_txn_arg {
	struct list_run *x;
	const char *chain;
	int64_t seq; /* one entry, or 0 */
};

static int
list_txn(struct store_txn *t, void *arg)
{
	struct list_txn_arg *a = arg;

	if (a->seq > 0) {
		json_t *e;
		int rc = audit_entry_get(t, a->chain, (uint64_t)a->seq, &e);
		if (rc != 0) {
			return rc == SIGNET_ENOTFOUND
				   ? req_fail(a->x->r, rc, "no entry %lld in chain %s",
					      (long long)a->seq, a->chain)
				   : rc;
		}
		return json_array_append_new(a->x->out.items, e) == 0 ? 0 : SIGNET_EINTERNAL;
	}

	/* The prefix includes the NUL: chain "ab" never lists "abc". */
	a->x->t = t;
	memset(&a->x->cur, 0, sizeof(a->x->cur));
	return store_foreach_page(t, STORE_DB_AUDIT, a->chain, strlen(a->chain) + 1, &a->x->pg,
				  list_cb, a->x);
}

int
op_audit_list(struct request *r)
{
	struct list_run x = {.r = r};
	struct list_txn_arg a = {&x, NULL, 0};
	int rc;

	if ((rc = chain_arg(r, &a.chain)) != 0) {
		return rc;
	}
	if (jargs_str(&r->args, "resource", false, ACL_RESOURCE_MAX + 16, &x.resource) != 0 ||
	    jargs_str(&r->args, "resourceType", false, 32, &x.rtype) != 0 ||
	    jargs_int(&r->args, "seq", false, 1, INT64_MAX, &a.seq) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if ((rc = ops_page_args(r, &x.pg)) != 0) {
		return rc;
	}
	if ((x.out.items = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_read(r->d->store, list_txn, &a)) != 0) {
		json_decref(x.out.items);
		return rc;
	}
	r->result = json_pack("{s:s, s:o}", "chain", a.chain, "entries", x.out.items);
	return r->result != NULL ? ops_page_result(r->result, &x.pg) : SIGNET_EINTERNAL;
}

/* Export: every record of the chain, in key order (entries, checkpoints after what they cover). */
struct export_run {
	FILE *f;
	size_t entries, checkpoints;
	uint64_t
	    upto; /* the last entry the final checkpoint covers: later ones wait for the next */
	int err;
	struct store_txn *t;
	struct audit_cursor cur;
};

static int
export_record(struct export_run *x, json_t *val)
{
	char *line;

	if (strcmp(json_string_value(json_object_get(val, "type")) ?: "", "entry") == 0 &&
	    (uint64_t)json_integer_value(json_object_get(val, "seq")) > x->upto) {
		return 1; /* appended after our checkpoint: this export ends before it */
	}
	line = json_dumps(val, JSON_COMPACT);
	if (line == NULL || fprintf(x->f, "%s\n", line) < 0) {
		x->err = line == NULL ? SIGNET_EINTERNAL : signet_err_from_errno(errno);
		free(line);
		return x->err;
	}
	free(line);
	if (strcmp(json_string_value(json_object_get(val, "type")) ?: "", "entry") == 0) {
		x->entries++;
	} else {
		x->checkpoints++;
	}
	return 0;
}

static int
export_cb(const struct store_key *key, json_t *rec, void *arg)
{
	struct export_run *x = arg;
	json_t *val = audit_record_load(x->t, key->data, key->len, rec, &x->cur);
	int rc;

	if (val == NULL) {
		return x->err = SIGNET_EINTERNAL;
	}
	rc = export_record(x, val);
	json_decref(val);
	return rc;
}

struct export_txn_arg {
	struct export_run *x;
	const char *chain;
};

static int
export_txn(struct store_txn *t, void *arg)
{
	struct export_txn_arg *a = arg;
	json_t *head = NULL;

	/* In the snapshot we read: what the newest checkpoint covers. */
	a->x->upto = 0;
	if (store_get_json(t, STORE_DB_AUDIT_HEADS, a->chain, strlen(a->chain), &head) == 0) {
		a->x->upto = (uint64_t)json_integer_value(json_object_get(head, "ckptSeq"));
		json_decref(head);
	}
	a->x->t = t;
	memset(&a->x->cur, 0, sizeof(a->x->cur));
	return store_foreach(t, STORE_DB_AUDIT, a->chain, strlen(a->chain) + 1, export_cb, a->x);
}

/* Write the chain to FD as JSON lines, after a fresh checkpoint that covers its end. */
static int
export_to_fd(struct request *r, const char *chain, int fd, struct export_run *x)
{
	struct export_txn_arg a = {x, chain};
	int rc, dfd;

	if ((rc = audit_checkpoint_chain(r->d, r->hs, chain)) != 0 && rc != SIGNET_ECONFLICT) {
		return req_fail(r, rc == SIGNET_ENOTFOUND ? SIGNET_ETOKEN : rc,
				rc == SIGNET_ENOTFOUND  ? "the audit key is not available"
				: rc == SIGNET_ENOSPACE ? "no space left to record a checkpoint"
							: "cannot sign a checkpoint now");
	}
	if ((dfd = dup(fd)) < 0 || (x->f = fdopen(dfd, "w")) == NULL) {
		if (dfd >= 0) {
			close(dfd);
		}
		return SIGNET_EINTERNAL;
	}
	rc = store_read(r->d->store, export_txn, &a);
	if (fclose(x->f) != 0 && rc == 0) {
		rc = req_fail(r, signet_err_from_errno(errno), "cannot write the export: %s",
			      strerror(errno));
	}
	x->f = NULL;
	return rc != 0 ? rc : x->err;
}

/*
 * Long reads of a chain (export, verify) hold a request worker for as long
 * as the chain is long. One at a time per chain, and at most half the
 * workers (at least 2) at once, so that a tenant asking again and again
 * keeps neither its own chain's readers nor the appliance's other requests
 * waiting: the rest are refused with unavailable and a hint. The
 * appliance's chain is never refused for the others' (only for its own).
 */
#define LONG_READS_MAX 32

static pthread_mutex_t long_lock = PTHREAD_MUTEX_INITIALIZER;
static char long_chains[LONG_READS_MAX][ACL_NAME_MAX + 16];
static int long_n;

static int
long_read_begin(struct request *r, const char *chain, const char *what)
{
	long max = r->d->cfg->workers / 2;
	int rc = 0;

	max = max < 2 ? 2 : max > LONG_READS_MAX - 1 ? LONG_READS_MAX - 1 : max;
	pthread_mutex_lock(&long_lock);
	for (int i = 0; i < long_n && rc == 0; i++) {
		if (strcmp(long_chains[i], chain) == 0) {
			rc = req_fail(r, SIGNET_EUNAVAILABLE,
				      "an export or verify of audit chain %s is running; send again "
				      "once it has ended",
				      chain);
		}
	}
	if (rc == 0 && long_n >= max && strcmp(chain, AUDIT_APPLIANCE) != 0) {
		rc = req_fail(r, SIGNET_EUNAVAILABLE,
			      "%d audit exports or verifies are running, the most at once; send "
			      "again in a while",
			      long_n);
	}
	if (rc == 0) {
		snprintf(long_chains[long_n++], sizeof(long_chains[0]), "%s", chain);
	}
	pthread_mutex_unlock(&long_lock);
	if (rc != 0) {
		log_notice("audit %s of chain %s refused: another long read is running", what,
			   chain);
	}
	return rc;
}

static void
long_read_end(const char *chain)
{
	pthread_mutex_lock(&long_lock);
	for (int i = 0; i < long_n; i++) {
		if (strcmp(long_chains[i], chain) == 0) {
			memmove(long_chains[i], long_chains[long_n - 1], sizeof(long_chains[0]));
			long_n--;
			break;
		}
	}
	pthread_mutex_unlock(&long_lock);
}

int
op_audit_export(struct request *r)
{
	struct export_run x = {0};
	const char *chain;
	int rc;

	if ((rc = chain_arg(r, &chain)) != 0) {
		return rc;
	}
	if (r->nfds != 1 || !fd_is_writable_file(r->fds[0])) {
		return req_fail(r, SIGNET_EINVAL,
				"attach the file to write as one descriptor, open for writing");
	}
	if ((rc = long_read_begin(r, chain, "export")) != 0) {
		return rc;
	}
	rc = export_to_fd(r, chain, r->fds[0], &x);
	long_read_end(chain);
	if (rc != 0) {
		return rc;
	}
	r->result = json_pack("{s:s, s:I, s:I}", "chain", chain, "entries", (json_int_t)x.entries,
			      "checkpoints", (json_int_t)x.checkpoints);
	return 0;
}

static EVP_PKEY *
audit_pubkey(struct request *r)
{
	uint8_t id[HSM_ID_LEN];
	EVP_PKEY *pk = NULL;

	if (r->hs == NULL || audit_key_read_id(r->d, id) != 0 ||
	    hsm_key_public(r->hs, HSM_ALG_ECC_NIST_P256, id, &pk) != 0) {
		return NULL;
	}
	return pk;
}

int
op_audit_pubkey(struct request *r)
{
	EVP_PKEY *pk = audit_pubkey(r);
	BIO *b;
	char *pem = NULL;
	long n;

	if (pk == NULL) {
		return req_fail(r, SIGNET_ETOKEN, "the audit key is not available");
	}
	b = BIO_new(BIO_s_mem());
	if (b == NULL || PEM_write_bio_PUBKEY(b, pk) != 1 || (n = BIO_get_mem_data(b, &pem)) <= 0) {
		BIO_free(b);
		EVP_PKEY_free(pk);
		return SIGNET_EINTERNAL;
	}
	r->result = json_pack("{s:s%}", "publicKeyPem", pem, (size_t)n);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

/* The export of a chain written into a pipe, for audit.verify to read as it comes. */
struct verify_feed {
	struct request *r;
	const char *chain;
	int fd; /* the pipe's write end: closed when the export ends */
	struct export_run x;
	int rc;
};

static void *
verify_feed_main(void *arg)
{
	struct verify_feed *f = arg;

	f->rc = export_to_fd(f->r, f->chain, f->fd, &f->x);
	close(f->fd);
	return NULL;
}

static int audit_verify_chain(struct request *r, const char *chain);

int
op_audit_verify(struct request *r)
{
	const char *chain;
	int rc;

	if ((rc = chain_arg(r, &chain)) != 0) {
		return rc;
	}
	if ((rc = long_read_begin(r, chain, "verify")) != 0) {
		return rc;
	}
	rc = audit_verify_chain(r, chain);
	long_read_end(chain);
	return rc;
}

static int
audit_verify_chain(struct request *r, const char *chain)
{
	struct verify_feed feed = {.r = r};
	struct audit_verify_result res;
	EVP_PKEY *pk;
	pthread_t th;
	char sink[4096];
	FILE *f;
	int rc, p[2];

	if ((pk = audit_pubkey(r)) == NULL) {
		return req_fail(r, SIGNET_ETOKEN, "the audit key is not available");
	}
	/*
	 * The live log, checked the way an offline verifier checks an export,
	 * as it is exported: a second thread writes the export into a pipe that
	 * the verifier reads, so memory stays flat however long the chain.
	 */
	if (pipe2(p, O_CLOEXEC) != 0) {
		EVP_PKEY_free(pk);
		return SIGNET_EINTERNAL;
	}
	if ((f = fdopen(p[0], "r")) == NULL) {
		close(p[0]);
		close(p[1]);
		EVP_PKEY_free(pk);
		return SIGNET_EINTERNAL;
	}
	feed.chain = chain;
	feed.fd = p[1];
	if (pthread_create(&th, NULL, verify_feed_main, &feed) != 0) {
		fclose(f);
		close(p[1]);
		EVP_PKEY_free(pk);
		return SIGNET_EINTERNAL;
	}
	memset(&res, 0, sizeof(res));
	rc = audit_verify_file(f, pk, &res);
	/* A fault stops the verifier early: read the rest, so the export ends as it would have. */
	while (fread(sink, 1, sizeof(sink), f) > 0) {
	}
	pthread_join(th, NULL);
	fclose(f);
	EVP_PKEY_free(pk);
	if (feed.rc != 0) {
		return feed.rc;
	}
	r->result = json_pack("{s:s, s:b, s:i, s:I, s:I, s:I, s:s}", "chain", chain, "verified",
			      rc == 0, "code", rc, "entries", (json_int_t)res.entries,
			      "checkpoints", (json_int_t)res.checkpoints, "firstBadSeq",
			      (json_int_t)res.bad_seq, "message", res.message);
	return r->result != NULL ? 0 : SIGNET_EINTERNAL;
}

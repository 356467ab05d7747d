/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on tasks: create signing and encryption tasks, show, list, wait, cancel, download; events. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/audit.h"
#include "daemon/devconf.h"
#include "daemon/dispatch.h"
#include "daemon/engine.h"
#include "daemon/events.h"
#include "daemon/exec.h"
#include "daemon/ingest.h"
#include "daemon/keyref.h"
#include "daemon/package.h"
#include "daemon/ops.h"
#include "daemon/quota.h"
#include "daemon/rules.h"
#include "daemon/server.h"
#include "daemon/spool.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "daemon/timers.h"
#include "daemon/workers.h"
#include "hsm/crypt.h"
#include "lib/codec.h"
#include "lib/envelope.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/approval.h"

#define TASK_NAME_MAX    255
#define INLINE_INPUT_MAX (1u << 20) /* inputBase64, decoded */
#define WAIT_DEFAULT_S   60
#define WAIT_MAX_S       3600

/* What creating a task needs from the store, read in one snapshot. */
struct task_ctx {
	struct request *r;
	const char *devconf_id;
	struct devconf dc; /* the task's device configuration */
	struct keyref key; /* signing: the key; encryption: the AES key when not a certificate */
	bool have_key;
	struct keyref ekey; /* packaging: the AES key (key is the signing key) */
	bool have_ekey;
	const struct devconf_enc *enc_ref; /* encryption: the first encryption key (in DC) */
	bool legacy_ok;
	bool four_eyes; /* the tenant's default for this type of task */
	/*
	 * The strictest approval policy of every enabled device configuration
	 * that uses the same key for the same purpose (DESIGN §5): it applies
	 * to this task too, so a weaker configuration is no way around it.
	 */
	struct {
		bool required, totp;
		json_int_t quorum;
		char from[80]; /* a configuration that imposes it, for the log */
		/* signing: the schemes every configuration that signs with the key allows */
		unsigned schemes;
		/* per scheme: the first configuration that forbids it, and what that one allows */
		char forbidden_by[HSM_SCHEME_COUNT][80];
		unsigned forbidder_allows[HSM_SCHEME_COUNT];
	} strict;
	char why[256];
};

/* Device configurations sharing a key: the strictest approval policy among them. */
struct strict_scan {
	struct task_ctx *x;
	const char *label;
	bool pkg;
};

static int
strict_scan_cb(const struct devconf *dc, void *arg)
{
	struct strict_scan *s = arg;
	struct task_ctx *x = s->x;
	bool uses = false;

	if (dc == NULL) {
		log_err("tenant %s: a device configuration cannot be read (logged at start): signing "
			"and packaging are refused until it is mended",
			x->r->subject.tenant);
		return SIGNET_EINTERNAL;
	}
	if (!dc->enabled) {
		return 0;
	}
	/* Membership for the task's purpose itself (a record from before the one-purpose rule may
	 * name the key for both). */
	if (s->pkg) {
		uses = strcmp(dc->packaging_key, s->label) == 0;
	} else {
		for (size_t i = 0; i < dc->nsign && !uses; i++) {
			uses = strcmp(dc->sign_keys[i], s->label) == 0;
		}
	}
	if (!uses) {
		return 0;
	}
	for (int i = 0; !s->pkg && i < HSM_SCHEME_COUNT; i++) {
		if ((x->strict.schemes & (1u << i)) && !(devconf_schemes(dc) & (1u << i))) {
			x->strict.schemes &= ~(1u << i);
			snprintf(x->strict.forbidden_by[i], sizeof(x->strict.forbidden_by[i]), "%s",
				 dc->name);
			x->strict.forbidder_allows[i] = devconf_schemes(dc);
		}
	}
	if (!devconf_needs_approval(dc, x->four_eyes)) {
		return 0;
	}
	if (!x->strict.required) {
		snprintf(x->strict.from, sizeof(x->strict.from), "%s", dc->name);
	}
	x->strict.required = true;
	if (dc->approval.quorum > x->strict.quorum) {
		x->strict.quorum = dc->approval.quorum;
	}
	x->strict.totp = x->strict.totp || strcmp(dc->approval.second_factor, "TOTP") == 0;
	return 0;
}

/*
 * Make TASK's approval at least as strict as X->strict; *WAIT set when the
 * task must wait. 0, or SIGNET_EINTERNAL (out of memory: the task must not
 * go out with a weaker second factor).
 */
static int
strict_apply(const struct task_ctx *x, struct task *task, bool *wait)
{
	if (!x->strict.required) {
		return 0;
	}
	if (task->approval.quorum < x->strict.quorum) {
		task->approval.quorum = (int)x->strict.quorum;
	}
	if (x->strict.totp && task_set_str(&task->approval.second_factor, "TOTP") != 0) {
		return SIGNET_EINTERNAL;
	}
	if (!*wait) {
		log_info("task of %s: approval required by device configuration %s, which uses the "
			 "same key",
			 x->r->subject.tenant, x->strict.from);
	}
	*wait = true;
	return 0;
}

static int
task_ctx_txn(struct store_txn *t, void *arg)
{
	struct task_ctx *x = arg;
	struct request *r = x->r;
	const char *label = NULL;
	int rc;

	if ((rc = devconf_load(r, t, x->devconf_id, &x->dc)) != 0) {
		return rc;
	}
	if (!policy_allows_on(&r->subject, ACL_USE, ACL_RT_DEVICE_CONFIG, x->devconf_id)) {
		return req_fail(r, SIGNET_EDENIED, "%s may not USE DEVICE_CONFIG:%s",
				r->subject.user, x->devconf_id);
	}
	if (!x->dc.enabled) {
		return req_fail(r, SIGNET_ECONFLICT, "device configuration %s is disabled",
				x->devconf_id);
	}
	bool sign = strcmp(r->op->name, "task.sign") == 0;
	bool pkg = strcmp(r->op->name, "task.package") == 0;
	{
		json_t *v = tenant_config_get(t, r->subject.tenant,
					      sign  ? "approval.fourEyes.signing"
					      : pkg ? "approval.fourEyes.packaging"
						    : "approval.fourEyes.encryption");
		x->four_eyes = json_is_true(v);
		json_decref(v);
	}
	if (pkg) {
		const char *elabel;
		x->enc_ref = x->dc.nenc > 0 ? &x->dc.enc[0] : NULL;
		if (x->enc_ref == NULL || x->enc_ref->type != DEVCONF_ENC_TOKEN_KEY) {
			return req_fail(
			    r, SIGNET_EINVAL,
			    "packaging needs a token AES key as the first encryption key "
			    "of device configuration %s",
			    x->devconf_id);
		}
		if (x->have_ekey) {
			keyref_clear(&x->ekey);
			x->have_ekey = false;
		}
		elabel = x->enc_ref->label;
		if ((rc = keyref_load(t, r->subject.tenant, elabel, &x->ekey, x->why,
				      sizeof(x->why))) != 0) {
			return req_fail(r, rc, "%s", x->why);
		}
		x->have_ekey = true;
		{
			json_t *v = tenant_config_get(t, r->subject.tenant,
						      "encryption.legacyCiphers.allowed");
			x->legacy_ok = json_is_true(v);
			json_decref(v);
		}
	}
	if (pkg) {
		/* Only the packaging key signs headers (one key, one purpose: DESIGN §5). */
		label = x->dc.packaging_key[0] != '\0' ? x->dc.packaging_key : NULL;
		if (label == NULL) {
			return req_fail(r, SIGNET_EINVAL,
					"device configuration %s has no packaging key (packageKey: "
					"the key that signs its package headers and nothing else)",
					x->devconf_id);
		}
	} else if (sign) {
		label = x->dc.nsign > 0 ? x->dc.sign_keys[0] : NULL;
		if (label == NULL) {
			return req_fail(r, SIGNET_EINVAL,
					"device configuration %s has no signing key",
					x->devconf_id);
		}
	} else {
		json_t *v;
		x->enc_ref = x->dc.nenc > 0 ? &x->dc.enc[0] : NULL;
		if (x->enc_ref == NULL) {
			return req_fail(r, SIGNET_EINVAL,
					"device configuration %s has no encryption key",
					x->devconf_id);
		}
		label = x->enc_ref->type == DEVCONF_ENC_TOKEN_KEY ? x->enc_ref->label : NULL;
		v = tenant_config_get(t, r->subject.tenant, "encryption.legacyCiphers.allowed");
		x->legacy_ok = json_is_true(v);
		json_decref(v);
	}
	if (label != NULL) {
		if ((rc = keyref_load(t, r->subject.tenant, label, &x->key, x->why,
				      sizeof(x->why))) != 0) {
			return req_fail(r, rc, "%s", x->why);
		}
		x->have_key = true;
		if ((sign || pkg) &&
		    (rc = keyref_check_purpose(&x->key,
					       pkg ? KEY_PURPOSE_PACKAGING : KEY_PURPOSE_SIGNING,
					       x->why, sizeof(x->why))) != 0) {
			return req_fail(r, rc, "%s", x->why);
		}
		if (sign || pkg) {
			struct strict_scan s = {.x = x, .label = label, .pkg = pkg};
			memset(&x->strict, 0, sizeof(x->strict));
			x->strict.schemes = ~0u;
			rc = devconf_foreach_using(t, r->subject.tenant, label, &x->dc, strict_scan_cb,
						   &s);
			if (rc != 0) {
				return rc;
			}
		}
	}
	return 0;
}

static void
task_ctx_free(struct task_ctx *x)
{
	if (x->have_key) {
		keyref_clear(&x->key);
	}
	if (x->have_ekey) {
		keyref_clear(&x->ekey);
	}
	devconf_clear(&x->dc);
}

/* A new task of R's subject, CREATED, in TASK (initialised here); -1 when out of memory. */
static int
task_new(struct request *r, enum task_type type, const struct devconf *dc, const char *name,
	 struct task *task)
{
	char me[ACL_SUBJECT_MAX];

	task_init(task);
	task_new_id(r->subject.tenant, task->id);
	snprintf(task->tenant, sizeof(task->tenant), "%s", r->subject.tenant);
	policy_subject_name(&r->subject, me, sizeof(me));
	task->type = type;
	task->status = TS_CREATED;
	task->approval.quorum = dc->approval.quorum;
	task->created_at = time_now();
	/* The inputs are appended to as they are read: an empty array from the start. */
	if (task_set_str(&task->name, name) != 0 || task_set_str(&task->requester, me) != 0 ||
	    task_set_str(&task->devconf_id, dc->id) != 0 ||
	    task_set_str(&task->devconf_name, dc->name) != 0 ||
	    task_set_str(&task->approval.second_factor, dc->approval.second_factor) != 0 ||
	    (task->inputs = json_array()) == NULL) {
		task_clear(task);
		return -1;
	}
	return 0;
}

static const char *
task_name_arg(struct request *r, const char *def)
{
	const char *name = NULL;

	if (jargs_str(&r->args, "name", false, TASK_NAME_MAX, &name) != 0) {
		return NULL;
	}
	if (name == NULL) {
		return def;
	}
	for (const char *p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(r->args.why, sizeof(r->args.why),
				 "'name' holds a control character");
			return NULL;
		}
	}
	return name[0] != '\0' ? name : def;
}

static json_t *
hexj(const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];

	hex_encode(p, n, hex);
	return json_string(hex);
}

/* Writing a new task: records, events, capability, timers. */
struct task_write {
	struct request *r;
	struct task *task;
	enum task_status initial; /* CREATED or WAITING */
	enum task_status final;   /* TS_COUNT: store as created; else run through to it */
	const char *reason;
	json_t *result;
	const json_t *children; /* a package's children made with it (package_prepare) */
	struct evnote note;
};

static int
task_write_txn(struct store_txn *t, void *arg)
{
	struct task_write *x = arg;
	struct request *r = x->r;
	struct task *task = x->task;
	const char *tenant = r->subject.tenant;
	const char *key = json_string_value(json_object_get(task->signing, "key"));
	enum task_status path[3] = {TS_CREATED};
	size_t npath = 1;
	int rc;

	/* CREATED, then WAITING for approval, or IN_PROGRESS and the end for a task run at once. */
	if (x->initial == TS_WAITING) {
		path[npath++] = TS_WAITING;
	} else if (x->final != TS_COUNT) {
		path[npath++] = TS_IN_PROGRESS;
		path[npath++] = x->final;
	}

	/* Repeatable: the store may run this again after growing its map. */
	memset(&x->note, 0, sizeof(x->note));
	if (x->final != TS_COUNT) {
		json_decref(task->result);
		task->result = x->result != NULL ? json_incref(x->result) : NULL;
		if (task_set_str(&task->reason, x->reason) != 0) {
			return SIGNET_EINTERNAL;
		}
	}
	if ((rc = task_put_new(t, &x->note, task, path, npath)) != 0) {
		return rc;
	}
	if (x->children != NULL &&
	    (rc = package_children_put(t, r->d, &x->note, x->children)) != 0) {
		return rc;
	}
	/* The engine's right to run it later: a task that ran already needs none. */
	if (x->final == TS_COUNT &&
	    (rc = rules_put_capability(
		 t, tenant, task->id, task->requester, task->devconf_id,
		 key != NULL ? key : json_string_value(json_object_get(task->encryption, "key")),
		 task->type == TT_SIGNING     ? "SIGN"
		 : task->type == TT_PACKAGING ? "PACKAGE"
					      : "ENCRYPT")) != 0) {
		return rc;
	}
	if (x->initial == TS_WAITING) {
		timer_put(t, time_now() + r->d->cfg->approval_ttl, "approval", tenant, task->id);
	}
	{
		char res[64];
		json_t *v = json_pack("{s:s, s:s, s:s, s:O}", "type", task_type_name(task->type),
				      "status", task_status_name(task->status), "deviceConfigId",
				      task->devconf_id, "inputs", task->inputs);
		snprintf(res, sizeof(res), "TASK:%s", task->id);
		/* A task run at once has one entry: its creation, with its end (status, reason). */
		if (x->final != TS_COUNT && x->reason != NULL) {
			json_object_set_new(v, "reason", json_string(x->reason));
		}
		rc = audit_req(t, r, "CREATED", res,
			       x->final == TS_COUNT  ? "task created"
			       : x->final == TS_DONE ? "task created and run at once: done"
						     : "task created and run at once: failed",
			       v);
		json_decref(v);
		if (rc != 0) {
			return rc;
		}
	}
	return t->err;
}

/* Store TASK (its status CREATED or WAITING): as it is, or run through to FINAL with RESULT. */
static int
task_write(struct request *r, struct task *task, enum task_status final, const char *reason,
	   json_t *result)
{
	struct task_write x = {.r = r,
			       .task = task,
			       .initial = task->status,
			       .final = final,
			       .reason = reason,
			       .result = result};
	int rc = store_write(r->d->store, task_write_txn, &x);

	if (rc == 0) {
		events_publish(r->d, &x.note);
	}
	return rc;
}

/* A packaging task with the children package_prepare made for it. */
static int
task_write_children(struct request *r, struct task *task, const json_t *children)
{
	struct task_write x = {
	    .r = r, .task = task, .initial = task->status, .final = TS_COUNT, .children = children};
	int rc = store_write(r->d->store, task_write_txn, &x);

	if (rc == 0) {
		events_publish(r->d, &x.note);
	}
	return rc;
}

static json_t *
task_created_view(const struct task *task)
{
	return json_pack("{s:s, s:s, s:s}", "id", task->id, "status",
			 task_status_name(task->status), "type", task_type_name(task->type));
}

/* The answer to a task run at once: its view with its result and reason (null when none). */
static json_t *
task_ran_view(const struct task *task)
{
	json_t *v = task_created_view(task);

	if (v != NULL) {
		json_object_set_new(v, "result",
				    task->result != NULL ? json_incref(task->result) : json_null());
		json_object_set_new(v, "reason",
				    task->reason != NULL ? json_string(task->reason) : json_null());
	}
	return v;
}

struct deferred_write {
	struct task_write w;
	struct task task; /* the task, which this write owns */
	char reason[256];
};

/* On the committer: the answer of a task written after it ran (dispatch_defer_write). */
static void
task_write_committed(struct request *r, void *arg, int rc)
{
	struct deferred_write *x = arg;

	if (rc == 0) {
		events_publish(r->d, &x->w.note);
		r->result = task_ran_view(&x->task);
	}
	task_clear(&x->task);
	json_decref(x->w.result);
	free(x);
}

static int
task_write_deferred_txn(struct store_txn *t, void *arg)
{
	struct deferred_write *x = arg;

	return task_write_txn(t, &x->w);
}

/*
 * Queue the durable write of a task that ran already (taking what TASK
 * holds, which is left empty, and RESULT) and defer the answer to its
 * commit. 0, or an error with nothing taken.
 */
static int
task_write_deferred(struct request *r, struct task *task, enum task_status final,
		    const char *reason, json_t *result)
{
	struct deferred_write *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL) {
		return SIGNET_EINTERNAL;
	}
	/* Moved, not copied: the record's strings and documents are the write's now. */
	x->task = *task;
	task_init(task);
	x->w.r = r;
	x->w.task = &x->task;
	x->w.initial = x->task.status;
	x->w.final = final;
	x->w.result = result;
	if (reason != NULL) {
		snprintf(x->reason, sizeof(x->reason), "%s", reason);
		x->w.reason = x->reason;
	}
	if ((rc = dispatch_defer_write(r, task_write_deferred_txn, x, task_write_committed)) != 0) {
		*task = x->task; /* given back */
		free(x);
	}
	return rc;
}

/* The input descriptor: exactly one, a readable regular file on a local file system; its size. */
static int
input_fd(struct request *r, int *fd, uint64_t *size)
{
	struct stat st;
	int fl;

	if (r->nfds != 1) {
		return req_fail(r, SIGNET_EINVAL, "attach the input file as one descriptor");
	}
	*fd = r->fds[0];
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		return req_fail(r, SIGNET_EINVAL,
				"the input descriptor must be a regular file (not a directory, "
				"socket, pipe or device)");
	}
	if (!fd_is_local_regular(*fd)) {
		return req_fail(r, SIGNET_EINVAL, "the input file must be on a local file system");
	}
	fl = fcntl(*fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH)) {
		return req_fail(r, SIGNET_EINVAL, "the input descriptor is not open for reading");
	}
	if (st.st_size == 0) {
		return req_fail(r, SIGNET_EINVAL, "the input file is empty");
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static size_t
alg_digest_len(enum hsm_alg alg)
{
	return alg == HSM_ALG_ECC_NIST_P384 ? 48 : 32;
}

/* A task.sign request: what the handler learned, and what reading its input adds. */
struct sign_job {
	struct task_ctx x;
	const char *name;
	bool prehashed;
	/* The scheme as asked (NULL, -1: not given), then as resolved by sign_scheme. */
	const char *scheme_arg, *hash_arg, *encoding_arg;
	int64_t salt_arg;
	struct hsm_sign_params p;
	bool attach;
	int fd;        /* the input file (the request's), or -1 for inputBase64 */
	uint64_t size; /* its size when the request came: exactly what is read */
	uint8_t *msg;  /* inputBase64 decoded, or the message of an Ed25519 key */
	size_t msglen;
	struct digests dg;
	struct quota_claim claim; /* an Ed25519 message kept in the spool for approval */
};

static void
sign_job_free(struct sign_job *j)
{
	quota_release(j->x.r->d, &j->claim);
	if (j->msg != NULL) {
		secure_wipe(j->msg, j->msglen);
		free(j->msg);
	}
	task_ctx_free(&j->x);
	free(j);
}

/* The digests of the message J signs: SHA-256 (recorded), its hash's, SHA-512 for Ed25519's CMS. */
static void
sign_digests(struct sign_job *j, const uint8_t *msg, size_t len)
{
	EVP_Digest(msg, len, j->dg.sha256, NULL, EVP_sha256(), NULL);
	if (j->p.scheme != HSM_SCHEME_EDDSA && j->p.hash == HSM_HASH_SHA384) {
		EVP_Digest(msg, len, j->dg.sha384, NULL, EVP_sha384(), NULL);
	}
	if (j->p.scheme == HSM_SCHEME_EDDSA || j->p.hash == HSM_HASH_SHA512) {
		EVP_Digest(msg, len, j->dg.sha512, NULL, EVP_sha512(), NULL);
	}
	j->dg.size = len;
}

/* Read the input file of J: its digests, and for Ed25519 or attach the message itself. */
static int
sign_read(struct request *r, struct sign_job *j, const atomic_bool *stop)
{
	enum hsm_alg alg = j->x.key.alg;
	int rc;

	if (alg == HSM_ALG_ED25519 || j->attach) {
		if (stop != NULL && atomic_load(stop)) {
			return req_fail(r, SIGNET_EUNAVAILABLE, "the daemon is shutting down");
		}
		if ((j->msg = malloc((size_t)j->size)) == NULL) {
			return SIGNET_EINTERNAL;
		}
		j->msglen = (size_t)j->size;
		if (fd_pread_all(j->fd, j->msg, j->msglen, 0) != 0) {
			return req_fail(r, SIGNET_EINVAL,
					"the input file cannot be read, or is shorter than stated");
		}
		sign_digests(j, j->msg, j->msglen);
		return 0;
	}
	{
		struct spool_src src = {.fd = j->fd, .off = 0, .len = j->size, .stop = stop};
		rc = spool_ingest(&src, NULL, j->p.hash == HSM_HASH_SHA384,
				  j->p.hash == HSM_HASH_SHA512, &j->dg, j->x.why, sizeof(j->x.why));
	}
	if (rc != 0) {
		return req_fail(r, rc, "%s", j->x.why[0] ? j->x.why : "cannot read the input");
	}
	return 0;
}

/*
 * The task of J, its input read: stored waiting for approval, or signed now
 * and stored DONE or FAILED. CX: on an ingest thread (its session, a
 * synchronous write); NULL on the request worker (its session; the write
 * is queued and the answer deferred to its commit).
 */
static int
sign_finish(struct request *r, struct sign_job *j, struct ingest_ctx *cx)
{
	struct task_ctx *x = &j->x;
	enum hsm_alg alg = x->key.alg;
	const char *name = j->name;
	bool prehashed = j->prehashed, wait, eddsa;
	uint8_t *msg = j->msg;
	size_t msglen = j->msglen;
	struct task task;
	json_t *result = NULL, *sg, *in;
	int rc;

	task_init(&task);

	/*
	 * Defence in depth: a package header is signed by a packaging task only.
	 * The rule is that a signing key never signs one (one key, one purpose);
	 * a prehashed digest cannot be recognised. An input read from a file
	 * left its first bytes in j->dg.head.
	 */
	if (!prehashed &&
	    (msg != NULL ? package_is_header(msg, msglen, msglen)
			 : package_is_header(j->dg.head,
					     j->dg.size < sizeof(j->dg.head) ? j->dg.size
									     : sizeof(j->dg.head),
					     j->dg.size))) {
		rc = req_fail(r, SIGNET_EINVAL,
			      "the input is a package header: only a packaging task signs one");
		goto out;
	}
	if (task_new(r, TT_SIGNING, &x->dc, name, &task) != 0) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	eddsa = j->p.scheme == HSM_SCHEME_EDDSA;
	if (prehashed) {
		in = json_pack("{s:s, s:I, s:o, s:b}", "name", name, "size", (json_int_t)msglen,
			       "sha256", j->p.hash == HSM_HASH_SHA256 ? hexj(msg, 32) : json_null(),
			       "prehashed", 1);
	} else {
		in = json_pack("{s:s, s:I, s:o}", "name", name, "size", (json_int_t)j->dg.size,
			       "sha256", hexj(j->dg.sha256, 32));
	}
	/* What a SHA-384 or SHA-512 scheme signs: shown to approvers and bound by their approvals.
	 */
	if (!eddsa && j->p.hash == HSM_HASH_SHA384) {
		json_object_set_new(in, "sha384",
				    prehashed ? hexj(msg, 48) : hexj(j->dg.sha384, 48));
	} else if (!eddsa && j->p.hash == HSM_HASH_SHA512) {
		json_object_set_new(in, "sha512",
				    prehashed ? hexj(msg, 64) : hexj(j->dg.sha512, 64));
	}
	json_array_append_new(task.inputs, in);
	sg = json_pack("{s:s, s:s, s:b}", "key", x->key.label, "algorithm", hsm_alg_name(alg),
		       "prehashed", prehashed);
	if (eddsa) {
		json_object_set_new(sg, "cmsDigest", hexj(j->dg.sha512, 64));
	} else if (prehashed) {
		json_object_set_new(sg, "digest", hexj(msg, msglen));
	} else if (j->p.hash == HSM_HASH_SHA384) {
		json_object_set_new(sg, "digest", hexj(j->dg.sha384, 48));
	} else if (j->p.hash == HSM_HASH_SHA512) {
		json_object_set_new(sg, "digest", hexj(j->dg.sha512, 64));
	} else {
		json_object_set_new(sg, "digest", hexj(j->dg.sha256, 32));
	}
	sign_params_record(sg, &j->p, j->attach);
	task.signing = sg;
	wait = devconf_needs_approval(&x->dc, x->four_eyes);
	if ((rc = strict_apply(x, &task, &wait)) != 0) {
		goto out;
	}
	if (wait) {
		task.status = TS_WAITING;
		task.approval.required = true;
		if (alg == HSM_ALG_ED25519 || j->attach) {
			/* The message itself must outlive the request: keep it in the spool. */
			char path[PATH_MAX], fname[64];
			snprintf(fname, sizeof(fname), "%s.0", task.id);
			if (spool_path(r->d, "in", fname, path, sizeof(path)) != 0) {
				rc = SIGNET_EINTERNAL;
				goto out;
			}
			if ((rc = file_write_atomic(path, msg, msglen, 0600)) != 0) {
				if (rc == SIGNET_ENOSPACE) {
					req_fail(r, rc, "no space left in the spool for the input");
				}
				goto out;
			}
			task.spool = true;
		}
		rc = task_write(r, &task, TS_COUNT, NULL, NULL);
	} else {
		struct hsm_session *hs = cx != NULL ? ingest_session(cx) : r->hs;
		char why[256] = "";
		if (hs == NULL) {
			rc = req_fail(r, SIGNET_ETOKEN, "the token is not available");
			goto out;
		}
		/*
		 * No approval: sign now and record the whole run in one durable
		 * transaction. On a request worker the commit is queued: the
		 * worker signs the next request while the store syncs this one
		 * with others.
		 */
		rc = exec_sign(hs, &task, &x->key, msg, msglen, &result, why, sizeof(why));
		if (rc != 0) {
			log_notice("task %s failed: %s", task.id, why);
		}
		if (cx == NULL) {
			rc = task_write_deferred(
			    r, &task, rc == 0 ? TS_DONE : TS_FAILED,
			    rc == 0 ? NULL : (why[0] ? why : signet_strerror(rc)), result);
			if (rc == 0) {
				result = NULL; /* the commit owns it and the task now */
				goto out;
			}
		} else {
			rc = task_write(r, &task, rc == 0 ? TS_DONE : TS_FAILED,
					rc == 0 ? NULL : (why[0] ? why : signet_strerror(rc)),
					result);
		}
	}
	if (rc == 0) {
		r->result = wait ? task_created_view(&task) : task_ran_view(&task);
	}
out:
	json_decref(result);
	task_clear(&task);
	return rc;
}

/* On an ingest thread: read the input file, then sign or store the task. */
static int
sign_ingest(struct request *r, struct ingest_ctx *cx, void *arg)
{
	struct sign_job *j = arg;
	int rc = sign_read(r, j, cx->stop);

	if (rc == 0) {
		rc = sign_finish(r, j, cx);
	}
	sign_job_free(j);
	return rc;
}

/* An Ed25519 message that waits for approval is kept in the spool: claimed before a byte is read.
 */
static int
sign_claim(struct request *r, struct sign_job *j, uint64_t len)
{
	/* As sign_finish decides: the device configuration's policy, or a stricter one on the key.
	 */
	if ((j->x.key.alg != HSM_ALG_ED25519 && !j->attach) ||
	    !(devconf_needs_approval(&j->x.dc, j->x.four_eyes) || j->x.strict.required)) {
		return 0;
	}
	return quota_claim(r, len, len, &j->claim);
}

/* The scheme members of a task.sign request, as given (checked against the key later). */
static int
sign_scheme_args(struct request *r, struct sign_job *j)
{
	enum hsm_scheme sc;
	enum hsm_hash h;

	j->salt_arg = -1;
	if (jargs_str(&r->args, "scheme", false, 32, &j->scheme_arg) != 0 ||
	    (j->scheme_arg != NULL && hsm_scheme_parse(j->scheme_arg, &sc) != 0)) {
		return req_fail(r, SIGNET_EINVAL,
				"scheme must be RSA_PSS, RSA_PKCS1_V15, ECDSA or EDDSA");
	}
	if (jargs_str(&r->args, "hash", false, 16, &j->hash_arg) != 0 ||
	    (j->hash_arg != NULL && hsm_hash_parse(j->hash_arg, &h) != 0)) {
		return req_fail(r, SIGNET_EINVAL, "hash must be SHA-256, SHA-384 or SHA-512");
	}
	if (jargs_int(&r->args, "saltLength", false, 0, 4096, &j->salt_arg) != 0) {
		return req_fail(r, SIGNET_EINVAL, "saltLength must be an integer from 0 to 4096");
	}
	if (jargs_str(&r->args, "encoding", false, 8, &j->encoding_arg) != 0 ||
	    (j->encoding_arg != NULL && strcmp(j->encoding_arg, "der") != 0 &&
	     strcmp(j->encoding_arg, "raw") != 0)) {
		return req_fail(r, SIGNET_EINVAL, "encoding must be der or raw");
	}
	if (jargs_bool(&r->args, "attach", false, &j->attach) != 0) {
		return req_fail(r, SIGNET_EINVAL, "attach must be true or false");
	}
	return 0;
}

/*
 * The scheme of J's task, its key known: the one asked for, or the key's
 * default (the first scheme allowed for the key when its default is not).
 * The device configuration, and every other that signs with the key, must
 * allow it (one key, one policy: DESIGN §5). The hash comes in sign_hash.
 */
static int
sign_scheme(struct request *r, struct sign_job *j)
{
	struct task_ctx *x = &j->x;
	enum hsm_alg alg = x->key.alg;
	unsigned own = devconf_schemes(&x->dc), allowed = own & x->strict.schemes;
	char list[96];

	hsm_sign_params_default(alg, &j->p);
	if (j->scheme_arg != NULL) {
		hsm_scheme_parse(j->scheme_arg, &j->p.scheme);
	} else if (!(allowed & (1u << j->p.scheme))) {
		for (int i = 0; i < HSM_SCHEME_COUNT; i++) {
			if ((allowed & (1u << i)) && hsm_scheme_fits((enum hsm_scheme)i, alg)) {
				j->p.scheme = (enum hsm_scheme)i;
				break;
			}
		}
	}
	j->p.salt_len = j->p.scheme == HSM_SCHEME_RSA_PSS ? HSM_PSS_SALT_DEFAULT : 0;
	if (!hsm_scheme_fits(j->p.scheme, alg)) {
		return req_fail(r, SIGNET_EINVAL, "scheme %s does not sign with key %s (%s)",
				hsm_scheme_name(j->p.scheme), x->key.label, hsm_alg_name(alg));
	}
	if (!(own & (1u << j->p.scheme))) {
		return req_fail(r, SIGNET_EDENIED,
				"device configuration %s does not allow %s signatures "
				"(allowedSchemes: %s)",
				x->dc.name, hsm_scheme_name(j->p.scheme),
				schemes_text(own, list, sizeof(list)));
	}
	if (!(allowed & (1u << j->p.scheme))) {
		return req_fail(
		    r, SIGNET_EDENIED,
		    "device configuration %s, which signs with the same key %s, does "
		    "not allow %s signatures (allowedSchemes: %s)",
		    x->strict.forbidden_by[j->p.scheme], x->key.label, hsm_scheme_name(j->p.scheme),
		    schemes_text(x->strict.forbidder_allows[j->p.scheme], list, sizeof(list)));
	}
	if (j->p.scheme == HSM_SCHEME_EDDSA && j->hash_arg != NULL) {
		return req_fail(r, SIGNET_EINVAL,
				"EDDSA signs the message itself: hash does not apply");
	}
	if (j->salt_arg >= 0) {
		if (j->p.scheme != HSM_SCHEME_RSA_PSS) {
			return req_fail(r, SIGNET_EINVAL,
					"saltLength is for RSA_PSS signatures only");
		}
		j->p.salt_len = (unsigned)j->salt_arg;
	}
	if (j->encoding_arg != NULL) {
		if (j->p.scheme != HSM_SCHEME_ECDSA) {
			return req_fail(r, SIGNET_EINVAL, "encoding is for ECDSA signatures only");
		}
		j->p.raw = strcmp(j->encoding_arg, "raw") == 0;
	}
	if (j->attach && x->key.cert == NULL) {
		return req_fail(r, SIGNET_EINVAL,
				"attach embeds the content in the CMS signature, and key %s has no "
				"certificate: no CMS is made",
				x->key.label);
	}
	if (j->attach && j->prehashed) {
		return req_fail(r, SIGNET_EINVAL,
				"attach embeds the content: give the content, not its digest");
	}
	return 0;
}

/*
 * The hash: asked for, or named by a prehashed digest's length when the
 * request names a scheme or a hash; a request that names neither keeps
 * the old rule (the key's hash, and a digest of its length). LEN: the
 * prehashed digest's length.
 */
static int
sign_hash(struct request *r, struct sign_job *j, size_t len)
{
	enum hsm_alg alg = j->x.key.alg;
	char why[160];

	if (j->p.scheme != HSM_SCHEME_EDDSA) {
		if (j->hash_arg != NULL) {
			hsm_hash_parse(j->hash_arg, &j->p.hash);
			if (j->prehashed && len != hsm_hash_len(j->p.hash)) {
				return req_fail(r, SIGNET_EINVAL,
						"hash %s names a %zu-byte digest: the prehashed "
						"input has %zu bytes",
						j->hash_arg, hsm_hash_len(j->p.hash), len);
			}
		} else if (j->prehashed && j->scheme_arg != NULL) {
			if (hsm_hash_by_len(len, &j->p.hash) != 0) {
				return req_fail(
				    r, SIGNET_EINVAL,
				    "a prehashed input is a digest of the message: 32 "
				    "(SHA-256), 48 (SHA-384) or 64 (SHA-512) bytes, not "
				    "%zu bytes",
				    len);
			}
		} else if (j->prehashed && len != alg_digest_len(alg)) {
			return req_fail(r, SIGNET_EINVAL,
					"a prehashed input for %s is the %zu-byte %s digest of the "
					"message, not %zu bytes",
					hsm_alg_name(alg), alg_digest_len(alg),
					alg_digest_len(alg) == 48 ? "SHA-384" : "SHA-256", len);
		}
	}
	if (hsm_sign_params_check(alg, &j->p, why, sizeof(why)) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", why);
	}
	return 0;
}

int
op_task_sign(struct request *r)
{
	struct sign_job *j = calloc(1, sizeof(*j));
	struct task_ctx *x;
	const char *b64 = NULL;
	bool autohash = false;
	const json_t *ph;
	enum hsm_alg alg;
	int rc;

	if (j == NULL) {
		return SIGNET_EINTERNAL;
	}
	x = &j->x;
	x->r = r;
	j->fd = -1;
	if (jargs_str(&r->args, "devconf", true, TASK_ID_LEN, &x->devconf_id) != 0 ||
	    jargs_str(&r->args, "inputBase64", false, MSG_MAX_SIZE, &b64) != 0 ||
	    (j->name = task_name_arg(r, "input")) == NULL) {
		rc = req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		goto out;
	}
	/* "auto" (the REST rule, DESIGN 8): the input is a SHA-256 digest exactly for RSA-PSS keys.
	 */
	ph = json_object_get(r->args.obj, "prehashed");
	if (json_is_string(ph) && strcmp(json_string_value(ph), "auto") == 0) {
		autohash = true;
	} else if (jargs_bool(&r->args, "prehashed", false, &j->prehashed) != 0) {
		rc = req_fail(r, SIGNET_EINVAL, "prehashed must be true, false or \"auto\"");
		goto out;
	}
	if ((rc = sign_scheme_args(r, j)) != 0) {
		goto out;
	}
	if ((b64 == NULL) == (r->nfds == 0)) {
		rc = req_fail(r, SIGNET_EINVAL,
			      "give the input either as inputBase64 or as a file descriptor");
		goto out;
	}
	if (j->prehashed && b64 == NULL) {
		rc = req_fail(r, SIGNET_EINVAL, "a prehashed input is given as inputBase64");
		goto out;
	}
	if ((rc = store_read(r->d->store, task_ctx_txn, x)) != 0) {
		goto out;
	}
	alg = x->key.alg;
	if (autohash) {
		j->prehashed = alg == HSM_ALG_RSA_3072 || alg == HSM_ALG_RSA_4096;
		if (j->prehashed && b64 == NULL) {
			rc = req_fail(r, SIGNET_EINVAL,
				      "the input of an RSA-PSS key is its 32-byte SHA-256 digest");
			goto out;
		}
	}
	if (j->prehashed && alg == HSM_ALG_ED25519) {
		rc = req_fail(r, SIGNET_EINVAL,
			      "Ed25519 signs the message itself: no prehashed input");
		goto out;
	}
	if ((rc = sign_scheme(r, j)) != 0) {
		goto out;
	}
	if (b64 != NULL) {
		long n;
		j->msg = malloc(base64_decoded_max(strlen(b64)) + 1);
		n = j->msg != NULL ? base64_decode(b64, strlen(b64), j->msg,
						   base64_decoded_max(strlen(b64)), false)
				   : -1;
		if (n <= 0) {
			rc = req_fail(r, SIGNET_EINVAL,
				      "inputBase64 must be non-empty standard base64");
			goto out;
		}
		j->msglen = (size_t)n;
		if (j->msglen > INLINE_INPUT_MAX) {
			rc = req_fail(r, SIGNET_ETOO_LARGE, "inputBase64 holds more than 1 MiB");
			goto out;
		}
		if ((rc = sign_hash(r, j, j->msglen)) != 0) {
			goto out;
		}
		if (j->attach && j->msglen > TASK_ATTACH_MAX) {
			rc = req_fail(r, SIGNET_ETOO_LARGE,
				      "content embedded in a CMS signature (attach) is limited to "
				      "%u KiB",
				      TASK_ATTACH_MAX >> 10);
			goto out;
		}
		if ((rc = sign_claim(r, j, j->msglen)) != 0) {
			goto out;
		}
		if (!j->prehashed) {
			sign_digests(j, j->msg, j->msglen);
		}
		j->dg.size = j->msglen;
	} else {
		if ((rc = input_fd(r, &j->fd, &j->size)) != 0) {
			goto out;
		}
		if ((rc = sign_hash(r, j, 0)) != 0) {
			goto out;
		}
		if (alg == HSM_ALG_ED25519 && j->size > TASK_ED25519_MAX) {
			rc = req_fail(r, SIGNET_ETOO_LARGE, "Ed25519 inputs are limited to %u MiB",
				      TASK_ED25519_MAX >> 20);
			goto out;
		}
		if (j->attach && j->size > TASK_ATTACH_MAX) {
			rc = req_fail(r, SIGNET_ETOO_LARGE,
				      "content embedded in a CMS signature (attach) is limited to "
				      "%u KiB",
				      TASK_ATTACH_MAX >> 10);
			goto out;
		}
		if (j->size > ((uint64_t)r->d->cfg->max_input_mb << 20)) {
			rc = req_fail(r, SIGNET_ETOO_LARGE,
				      "the input is larger than %ld MiB ([tasks] max_input_mb)",
				      r->d->cfg->max_input_mb);
			goto out;
		}
		if ((rc = sign_claim(r, j, j->size)) != 0) {
			goto out;
		}
		if (j->size > INGEST_INLINE_MAX) {
			/* A large file is read on an ingest thread: this worker serves others. */
			if ((rc = ingest_submit(r, sign_ingest, j)) == 0) {
				return 0;
			}
			goto out;
		}
		if ((rc = sign_read(r, j, NULL)) != 0) {
			goto out;
		}
	}
	rc = sign_finish(r, j, NULL);
out:
	sign_job_free(j);
	return rc;
}

/* SIGNET_EUNAVAILABLE (with a retry hint) when a task that runs at once cannot be queued now. */
static int
engine_busy(struct request *r)
{
	char why[200];
	int rc = tasks_admit(r->d, why, sizeof(why));

	return rc == 0 ? 0 : req_fail(r, rc, "%s", why);
}

/* A task.encrypt request whose input is copied to the spool. */
struct encrypt_job {
	struct task task;
	char path[PATH_MAX];
	const char *name, *want; /* in the request's arguments */
	int fd;                  /* the request's */
	uint64_t size;           /* exactly what is copied */
	bool wait;
	struct quota_claim claim; /* the copy and the result, until the task record holds them */
};

static void
encrypt_job_free(struct daemon *d, struct encrypt_job *j)
{
	quota_release(d, &j->claim);
	task_clear(&j->task);
	free(j);
}

/* Copy J's input to the spool while hashing it, then store its task. STOP: see spool_src. */
static int
encrypt_spool(struct request *r, struct encrypt_job *j, const atomic_bool *stop)
{
	struct spool_src src = {.fd = j->fd, .off = 0, .len = j->size, .stop = stop};
	const char *id = j->task.id;
	char why[256] = "";
	struct digests dg;
	uint64_t t0 = time_mono_ms();
	int rc;

	/* The daemon's own copy: what is approved and encrypted cannot change under it. */
	rc = spool_ingest(&src, j->path, false, false, &dg, why, sizeof(why));
	if (rc != 0) {
		return req_fail(r, rc, "%s", why[0] ? why : "cannot read the input");
	}
	log_info("task %s: input of %llu bytes spooled in %llu ms", id, (unsigned long long)dg.size,
		 (unsigned long long)(time_mono_ms() - t0));
	if (j->want != NULL) {
		char hex[65];
		hex_encode(dg.sha256, 32, hex);
		if (strcasecmp(j->want, hex) != 0) {
			rc = req_fail(r, SIGNET_EINVAL,
				      "the input's SHA-256 does not match the sha256 given");
			goto out;
		}
	}
	json_array_append_new(j->task.inputs,
			      json_pack("{s:s, s:I, s:o}", "name", j->name, "size",
					(json_int_t)dg.size, "sha256", hexj(dg.sha256, 32)));
	j->task.spool = true;
	if (j->wait) {
		j->task.status = TS_WAITING;
		j->task.approval.required = true;
	}
	if ((rc = task_write(r, &j->task, TS_COUNT, NULL, NULL)) != 0) {
		goto out;
	}
	if (!j->wait) {
		tasks_enqueue(r->d, r->subject.tenant, id);
	}
	r->result = task_created_view(&j->task);
	return 0;
out:
	unlink(j->path);
	return rc;
}

/* On an ingest thread: copy the input, store the task. */
static int
encrypt_ingest(struct request *r, struct ingest_ctx *cx, void *arg)
{
	struct encrypt_job *j = arg;
	int rc = encrypt_spool(r, j, cx->stop);

	encrypt_job_free(r->d, j);
	return rc;
}

int
op_task_encrypt(struct request *r)
{
	struct daemon *d = r->d; /* R is not ours once an ingest thread has it */
	struct task_ctx x = {.r = r};
	const char *name, *want = NULL;
	char path[PATH_MAX], fname[64];
	struct encrypt_job *j = NULL;
	struct quota_claim claim = {0};
	struct task task;
	json_t *enc;
	bool wait;
	uint64_t size, out_max;
	int rc, fd = -1, direct_fd = -1;

	task_init(&task);
	if (jargs_str(&r->args, "devconf", true, TASK_ID_LEN, &x.devconf_id) != 0 ||
	    jargs_str(&r->args, "sha256", false, 64, &want) != 0 ||
	    (name = task_name_arg(r, "input")) == NULL) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if ((rc = input_fd(r, &fd, &size)) != 0) {
		return rc;
	}
	if (size > ((uint64_t)r->d->cfg->max_input_mb << 20)) {
		return req_fail(r, SIGNET_ETOO_LARGE,
				"the input is larger than %ld MiB ([tasks] max_input_mb)",
				r->d->cfg->max_input_mb);
	}
	if ((rc = store_read(r->d->store, task_ctx_txn, &x)) != 0) {
		goto out;
	}
	enc = json_object();
	if (x.enc_ref->type == DEVCONF_ENC_TOKEN_KEY) {
		const char *cname = x.dc.cipher;
		enum hsm_cipher c;
		if (hsm_cipher_parse(cname, &c) != 0) {
			json_decref(enc);
			rc = req_fail(r, SIGNET_EINVAL,
				      "the device configuration's cipher is unknown");
			goto out;
		}
		if (hsm_cipher_is_legacy(c) && !x.legacy_ok) {
			json_decref(enc);
			rc = req_fail(r, SIGNET_EDENIED,
				      "%s is a legacy (ECB) cipher; the tenant configuration "
				      "'encryption.legacyCiphers.allowed' does not allow it",
				      cname);
			goto out;
		}
		if (hsm_cipher_key_alg(c) != x.key.alg) {
			json_decref(enc);
			rc = req_fail(r, SIGNET_EINVAL, "cipher %s does not suit key '%s' (%s)",
				      cname, x.key.label, hsm_alg_name(x.key.alg));
			goto out;
		}
		json_object_set_new(enc, "key", json_string(x.key.label));
		json_object_set_new(enc, "cipher", json_string(cname));
		out_max = hsm_cipher_out_max(c, size);
	} else {
		json_object_set_new(enc, "certificateSha256", json_string(x.enc_ref->sha256));
		json_object_set_new(enc, "certificatePem", json_string(x.enc_ref->certificate_pem));
		json_object_set_new(enc, "format", json_string("CMS_ENVELOPED_DATA"));
		out_max = envelope_size_max(size, strlen(x.enc_ref->certificate_pem));
	}
	if (task_new(r, TT_ENCRYPTION, &x.dc, name, &task) != 0) {
		json_decref(enc);
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	task.encryption = enc;
	/* The result's room is the requester's from the start (quota.h). */
	task.result_max = (int64_t)out_max;
	snprintf(fname, sizeof(fname), "%s.0", task.id);
	if (spool_path(r->d, "in", fname, path, sizeof(path)) != 0) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	wait = devconf_needs_approval(&x.dc, x.four_eyes);
	if (want != NULL && (strlen(want) != 64 || !hex_valid(want))) {
		rc = req_fail(r, SIGNET_EINVAL, "sha256 must be 64 hex digits");
		goto out;
	}
	/* It would run at once: refused before anything is written while the engine is full. */
	if (!wait && (rc = engine_busy(r)) != 0) {
		goto out;
	}
	if (!wait && r->d->cfg->copy_inputs == 0 && tasks_direct_ok(r->d)) {
		/*
		 * Nobody approves this input: read it in place when the task runs,
		 * hashing it in the same pass, instead of copying it first. Such a
		 * task does not survive a restart (it fails as interrupted).
		 */
		if ((rc = quota_claim(r, out_max, 0, &claim)) != 0) {
			goto out;
		}
		if ((direct_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
			rc = req_fail(r, SIGNET_EUNAVAILABLE, "out of descriptors");
			goto out;
		}
		json_array_append_new(task.inputs, json_pack("{s:s, s:I, s:n}", "name", name,
							     "size", (json_int_t)size, "sha256"));
		task.direct = true;
		if (task_set_str(&task.expected_sha256, want) != 0) {
			rc = SIGNET_EINTERNAL;
			goto out;
		}
		if ((rc = task_write(r, &task, TS_COUNT, NULL, NULL)) != 0) {
			goto out;
		}
		tasks_enqueue_fd(r->d, r->subject.tenant, task.id, direct_fd);
		direct_fd = -1;
		r->result = task_created_view(&task);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	/* Moved: the job's task from now on. */
	j->task = task;
	task_init(&task);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->name = name;
	j->want = want;
	j->fd = fd;
	j->size = size;
	j->wait = wait;
	/* Decided before a byte is written, from the file's size. */
	if ((rc = quota_claim(r, size + out_max, size, &j->claim)) != 0) {
		goto out;
	}
	if (size > INGEST_INLINE_MAX) {
		/* A large file is copied on an ingest thread: this worker serves others. */
		if ((rc = ingest_submit(r, encrypt_ingest, j)) == 0) {
			j = NULL;
		}
		goto out;
	}
	rc = encrypt_spool(r, j, NULL);
out:
	if (j != NULL) {
		encrypt_job_free(d, j);
	}
	quota_release(d, &claim);
	if (direct_fd >= 0) {
		close(direct_fd);
	}
	task_clear(&task);
	task_ctx_free(&x);
	return rc;
}

/* {"fd": N, "offset": N, "size": N, "sha256": hex, "name": s}; fd 0, offset 0, size: the rest. */
static int
region_arg(struct request *r, const json_t *v, const char *what, size_t idx,
	   struct package_region *g)
{
	const json_t *fd = json_object_get(v, "fd"), *off = json_object_get(v, "offset");
	const json_t *size = json_object_get(v, "size"), *sha = json_object_get(v, "sha256");
	const json_t *name = json_object_get(v, "name");
	const char *k;
	json_t *m;
	struct stat st;

	if (!json_is_object(v)) {
		return req_fail(r, SIGNET_EINVAL, "%s %zu must be an object", what, idx);
	}
	json_object_foreach((json_t *)v, k, m) {
		if (strcmp(k, "fd") != 0 && strcmp(k, "offset") != 0 && strcmp(k, "size") != 0 &&
		    strcmp(k, "sha256") != 0 && strcmp(k, "name") != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s %zu: unknown member", what, idx);
		}
	}
	if ((fd != NULL && (!json_is_integer(fd) || json_integer_value(fd) < 0 ||
			    json_integer_value(fd) >= r->nfds)) ||
	    (off != NULL && (!json_is_integer(off) || json_integer_value(off) < 0)) ||
	    (size != NULL && (!json_is_integer(size) || json_integer_value(size) < 0)) ||
	    (sha != NULL && (!json_is_string(sha) || json_string_length(sha) != 64 ||
			     !hex_valid(json_string_value(sha)))) ||
	    (name != NULL && (!json_is_string(name) || json_string_length(name) == 0 ||
			      json_string_length(name) > TASK_NAME_MAX))) {
		return req_fail(
		    r, SIGNET_EINVAL,
		    "%s %zu: fd (a descriptor's index), offset, size (integers), sha256 "
		    "(64 hex digits) or name (1 to %d bytes) is malformed",
		    what, idx, TASK_NAME_MAX);
	}
	g->fd = r->fds[fd != NULL ? json_integer_value(fd) : 0];
	g->off = off != NULL ? (uint64_t)json_integer_value(off) : 0;
	g->name = name != NULL ? json_string_value(name) : NULL;
	g->sha256 = sha != NULL ? json_string_value(sha) : NULL;
	if (g->name != NULL) {
		for (const char *p = g->name; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				return req_fail(r, SIGNET_EINVAL,
						"%s %zu: the name holds a control character", what,
						idx);
			}
		}
	}
	if (fstat(g->fd, &st) != 0 || (uint64_t)st.st_size < g->off) {
		return req_fail(r, SIGNET_EINVAL, "%s %zu starts beyond the end of its file", what,
				idx);
	}
	g->size = size != NULL ? (uint64_t)json_integer_value(size) : (uint64_t)st.st_size - g->off;
	if (g->size > (uint64_t)st.st_size - g->off) {
		return req_fail(r, SIGNET_EINVAL, "%s %zu ends beyond the end of its file", what,
				idx);
	}
	return 0;
}

/* Every descriptor of a packaging request: a readable regular file on a local file system. */
static int
package_fds_check(struct request *r)
{
	if (r->nfds < 1) {
		return req_fail(r, SIGNET_EINVAL, "attach the input files as descriptors");
	}
	for (int i = 0; i < r->nfds; i++) {
		struct stat st;
		int fl = fcntl(r->fds[i], F_GETFL);
		if (fstat(r->fds[i], &st) != 0 || !S_ISREG(st.st_mode) ||
		    !fd_is_local_regular(r->fds[i]) || fl < 0 || (fl & O_ACCMODE) == O_WRONLY ||
		    (fl & O_PATH)) {
			return req_fail(r, SIGNET_EINVAL,
					"descriptor %d must be a regular file on a local file "
					"system, open for reading",
					i);
		}
	}
	return 0;
}

/* Read the metadata region G (at most PACKAGE_MAX_METADATA bytes), checking its digest. */
static int
package_metadata(struct request *r, const struct package_region *g, uint8_t **md)
{
	uint8_t sha[32];
	char hex[65];

	*md = NULL;
	if (g->size == 0) {
		return 0;
	}
	if ((*md = malloc(g->size)) == NULL) {
		return SIGNET_EINTERNAL;
	}
	if (fd_pread_all(g->fd, *md, g->size, g->off) != 0) {
		return req_fail(r, SIGNET_EINVAL, "the metadata cannot be read (the file shrank)");
	}
	EVP_Digest(*md, g->size, sha, NULL, EVP_sha256(), NULL);
	hex_encode(sha, 32, hex);
	if (g->sha256 != NULL && strcasecmp(g->sha256, hex) != 0) {
		return req_fail(
		    r, SIGNET_EINVAL,
		    "the SHA-256 of metadata 'metadata' does not match the sha256 given");
	}
	return 0;
}

/* A task.package request: what package_prepare needs, on whichever thread runs it. */
struct package_job {
	struct task task;
	const struct package_format *fmt;
	struct package_region *rg, mdr; /* the firmware files and the metadata (size 0: none) */
	size_t nin;
	uint8_t ek_id[HSM_ID_LEN];
	enum hsm_cipher cipher;
	enum hsm_alg sigalg;
	bool wait;
	struct quota_claim claim; /* the package file, until the task record holds it */
};

static void
package_job_free(struct daemon *d, struct package_job *j)
{
	quota_release(d, &j->claim);
	task_clear(&j->task);
	free(j->rg);
	free(j);
}

/*
 * Encrypt J's segments into its package file and build the header
 * (package_prepare), then store the task with its children. HS: the token
 * session of the thread that runs it; STOP: see package_prepare.
 */
static int
package_make(struct request *r, struct package_job *j, struct hsm_session *hs,
	     const atomic_bool *stop)
{
	const char *id = j->task.id;
	json_t *children = NULL;
	uint8_t *md = NULL;
	bool prepared = false;
	char why[256] = "";
	int rc;

	if ((rc = package_metadata(r, &j->mdr, &md)) != 0) {
		goto out;
	}
	/*
	 * The segments are encrypted now, before the task may wait: its approvers
	 * see every segment and the digest of the header that will be signed, and
	 * what they approve cannot change under them. The packaging key is not
	 * touched before the approval.
	 */
	rc = package_prepare(r->d, hs, j->fmt, &j->task, j->ek_id, j->cipher, j->sigalg, j->rg,
			     j->nin, md, j->mdr.size, stop, &children, why, sizeof(why));
	if (rc != 0) {
		rc = req_fail(r, rc, "%s", why[0] ? why : "the package could not be prepared");
		goto out;
	}
	prepared = true;
	if (j->wait) {
		j->task.status = TS_WAITING;
		j->task.approval.required = true;
	}
	if ((rc = task_write_children(r, &j->task, children)) != 0) {
		goto out;
	}
	prepared = false; /* the task owns the package file now */
	if (!j->wait) {
		tasks_enqueue(r->d, r->subject.tenant, id);
	}
	r->result = task_created_view(&j->task);
out:
	if (prepared) {
		spool_remove_inputs(r->d, id, 0);
	}
	free(md);
	json_decref(children);
	return rc;
}

/* On an ingest thread, with its token session: make the package, store the task. */
static int
package_ingest_run(struct request *r, struct ingest_ctx *cx, void *arg)
{
	struct package_job *j = arg;
	int rc = package_make(r, j, ingest_session(cx), cx->stop);

	package_job_free(r->d, j);
	return rc;
}

int
op_task_package(struct request *r)
{
	struct daemon *d = r->d; /* R is not ours once an ingest thread has it */
	struct task_ctx x = {.r = r};
	const json_t *inputs = json_object_get(r->args.obj, "inputs");
	const json_t *meta = json_object_get(r->args.obj, "metadata");
	struct package_region *rg = NULL, mdr;
	const char *name, *cname, *fmtname;
	const struct package_format *fmt;
	struct package_job *job = NULL;
	enum hsm_cipher c;
	size_t nin;
	struct task task;
	uint64_t total = 0, out_max;
	int rc;

	task_init(&task);
	if (jargs_str(&r->args, "devconf", true, TASK_ID_LEN, &x.devconf_id) != 0 ||
	    (name = task_name_arg(r, "package")) == NULL) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (!json_is_array(inputs) || (nin = json_array_size(inputs)) < 1 ||
	    nin > PACKAGE_MAX_SEGMENTS) {
		return req_fail(r, SIGNET_EINVAL,
				"inputs must be an array of 1 to %d firmware files",
				PACKAGE_MAX_SEGMENTS);
	}
	if (meta != NULL && !json_is_null(meta) && !json_is_object(meta)) {
		return req_fail(r, SIGNET_EINVAL, "metadata must be an object");
	}
	if ((rc = package_fds_check(r)) != 0) {
		return rc;
	}
	if ((rg = calloc(nin, sizeof(*rg))) == NULL) {
		return SIGNET_EINTERNAL;
	}
	for (size_t i = 0; i < nin; i++) {
		if ((rc = region_arg(r, json_array_get(inputs, i), "input", i, &rg[i])) != 0) {
			goto out;
		}
		if (rg[i].size == 0) {
			rc = req_fail(r, SIGNET_EINVAL, "input %zu is empty", i);
			goto out;
		}
		if (rg[i].size > PACKAGE_MAX_INPUT ||
		    rg[i].size > ((uint64_t)r->d->cfg->max_input_mb << 20)) {
			rc =
			    req_fail(r, SIGNET_ETOO_LARGE,
				     "input %zu is larger than a segment may be (4 GiB - 64 bytes, "
				     "and [tasks] max_input_mb)",
				     i);
			goto out;
		}
	}
	memset(&mdr, 0, sizeof(mdr));
	if (json_is_object(meta)) {
		if ((rc = region_arg(r, meta, "metadata", 0, &mdr)) != 0) {
			goto out;
		}
		if (mdr.size > PACKAGE_MAX_METADATA) {
			rc = req_fail(r, SIGNET_ETOO_LARGE, "metadata is larger than %d bytes",
				      PACKAGE_MAX_METADATA);
			goto out;
		}
	}
	/*
	 * What is read is bounded as a whole, not per file: the inputs
	 * together stay within [tasks] max_input_mb, no two regions of one
	 * descriptor overlap (255 names for one sparse region would otherwise
	 * encrypt it 255 times); the spool's room for the package is claimed
	 * below.
	 */
	{
		total = mdr.size;
		for (size_t i = 0; i < nin; i++) {
			total += rg[i].size;
			for (size_t j = 0; j < i; j++) {
				if (rg[i].fd == rg[j].fd && rg[i].off < rg[j].off + rg[j].size &&
				    rg[j].off < rg[i].off + rg[i].size) {
					rc = req_fail(r, SIGNET_EINVAL,
						      "inputs %zu and %zu overlap in their file", j,
						      i);
					goto out;
				}
			}
			if (mdr.size > 0 && rg[i].fd == mdr.fd && rg[i].off < mdr.off + mdr.size &&
			    mdr.off < rg[i].off + rg[i].size) {
				rc =
				    req_fail(r, SIGNET_EINVAL,
					     "input %zu and the metadata overlap in their file", i);
				goto out;
			}
		}
		if (total > ((uint64_t)r->d->cfg->max_input_mb << 20)) {
			rc = req_fail(
			    r, SIGNET_ETOO_LARGE,
			    "the inputs together are larger than %ld MiB ([tasks] max_input_mb)",
			    r->d->cfg->max_input_mb);
			goto out;
		}
	}
	if ((rc = store_read(r->d->store, task_ctx_txn, &x)) != 0) {
		goto out;
	}
	fmtname = x.dc.packaging;
	if ((fmt = package_format_find(fmtname)) == NULL) {
		rc = req_fail(r, SIGNET_EINVAL, "unknown packaging format %s", fmtname);
		goto out;
	}
	cname = x.dc.cipher;
	if (hsm_cipher_parse(cname, &c) != 0) {
		rc = req_fail(r, SIGNET_EINVAL, "the device configuration's cipher is unknown");
		goto out;
	}
	if (hsm_cipher_is_legacy(c) && !x.legacy_ok) {
		rc = req_fail(r, SIGNET_EDENIED,
			      "%s is a legacy (ECB) cipher; the tenant configuration "
			      "'encryption.legacyCiphers.allowed' does not allow it",
			      cname);
		goto out;
	}
	if (hsm_cipher_key_alg(c) != x.ekey.alg) {
		rc = req_fail(r, SIGNET_EINVAL, "cipher %s does not suit key '%s' (%s)", cname,
			      x.ekey.label, hsm_alg_name(x.ekey.alg));
		goto out;
	}
	if (!package_sig_supported(x.key.alg)) {
		rc = req_fail(r, SIGNET_EINVAL, "%s cannot sign a %s package",
			      hsm_alg_name(x.key.alg), fmtname);
		goto out;
	}
	if (task_new(r, TT_PACKAGING, &x.dc, name, &task) != 0 ||
	    (task.encryption = json_pack("{s:s, s:s}", "key", x.ekey.label, "cipher", cname)) ==
		NULL ||
	    (task.signing = json_pack("{s:s, s:s}", "key", x.key.label, "algorithm",
				      hsm_alg_name(x.key.alg))) == NULL ||
	    (task.packaging = json_pack("{s:s}", "format", fmt->name)) == NULL) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	task.spool = true;
	{
		/*
		 * The package file is what the task holds in the spool, from its
		 * request to its end (quota.h): its bound, from the regions' sizes.
		 */
		uint64_t *sizes = calloc(nin, sizeof(*sizes));
		if (sizes == NULL) {
			rc = SIGNET_EINTERNAL;
			goto out;
		}
		for (size_t i = 0; i < nin; i++) {
			sizes[i] = rg[i].size;
		}
		out_max = package_size_max(fmt, c, sizes, (unsigned)nin, (size_t)mdr.size);
		free(sizes);
		task.result_max = (int64_t)out_max;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	job->fmt = fmt;
	job->rg = rg;
	rg = NULL;
	job->mdr = mdr;
	job->nin = nin;
	memcpy(job->ek_id, x.ekey.id, HSM_ID_LEN);
	job->cipher = c;
	job->sigalg = x.key.alg;
	/* Moved: the job's task from now on. */
	job->task = task;
	task_init(&task);
	/* The strictest policy on the packaging key, decided with the task's other rights. */
	job->wait = devconf_needs_approval(&x.dc, x.four_eyes);
	if ((rc = strict_apply(&x, &job->task, &job->wait)) != 0) {
		goto out;
	}
	if (!job->wait && (rc = engine_busy(r)) != 0) {
		goto out;
	}
	/* Decided before a byte is written: the package file is written by this request. */
	if ((rc = quota_claim(r, out_max, out_max, &job->claim)) != 0) {
		goto out;
	}
	if (total > INGEST_INLINE_MAX) {
		/* Large files are encrypted on an ingest thread: this worker serves others. */
		if ((rc = ingest_submit(r, package_ingest_run, job)) == 0) {
			job = NULL;
		}
		goto out;
	}
	rc = package_make(r, job, r->hs, NULL);
out:
	if (job != NULL) {
		package_job_free(d, job);
	}
	free(rg);
	task_clear(&task);
	task_ctx_free(&x);
	return rc;
}

/* Reading one task the caller may see. */
struct task_one {
	struct request *r;
	const char *id;
	struct task task; /* task_init it first; task_clear it after */
};

static int
task_one_txn(struct store_txn *t, void *arg)
{
	struct task_one *x = arg;

	task_clear(&x->task);
	if (task_get(t, x->r->subject.tenant, x->id, &x->task) != 0 ||
	    !task_visible(&x->r->subject, &x->task)) {
		/* Not found and not visible read the same; nothing is kept on failure. */
		task_clear(&x->task);
		return req_fail(x->r, SIGNET_ENOTFOUND, "no task '%.40s'", x->id);
	}
	return 0;
}

static int
task_id_arg(struct request *r, const char **id)
{
	if (jargs_str(&r->args, "id", true, TASK_ID_LEN, id) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	return 0;
}

int
op_task_show(struct request *r)
{
	struct task_one x = {.r = r};
	int rc;

	task_init(&x.task);
	if ((rc = task_id_arg(r, &x.id)) != 0) {
		return rc;
	}
	if ((rc = store_read(r->d->store, task_one_txn, &x)) == 0) {
		r->result = task_view(&x.task);
	}
	task_clear(&x.task);
	return rc;
}

/* task.wait reads the task and the event sequence in one snapshot (see request_continue). */
static int
task_wait_txn(struct store_txn *t, void *arg)
{
	struct task_one *x = arg;
	int rc = task_one_txn(t, x);

	x->r->watch_next = events_last_seq(t);
	return rc;
}

int
op_task_wait(struct request *r)
{
	struct task_one x = {.r = r};
	int64_t timeout = WAIT_DEFAULT_S;
	int rc;

	task_init(&x.task);
	if ((rc = task_id_arg(r, &x.id)) != 0) {
		return rc;
	}
	if (jargs_int(&r->args, "timeout", false, 0, WAIT_MAX_S, &timeout) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (!r->resumed) {
		r->deadline_ms = time_mono_ms() + (uint64_t)timeout * 1000;
	}
	if ((rc = store_read(r->d->store, task_wait_txn, &x)) != 0) {
		r->mode = REQ_ONCE;
		task_clear(&x.task);
		return rc;
	}
	if (task_status_final(x.task.status) || time_mono_ms() >= r->deadline_ms) {
		r->mode = REQ_ONCE;
		r->result = task_view(&x.task);
		json_object_set_new(r->result, "final",
				    json_boolean(task_status_final(x.task.status)));
	} else {
		/* Answered when the task ends (the loop hears of it) or the deadline passes. */
		r->mode = REQ_WAIT;
		snprintf(r->wait_task, sizeof(r->wait_task), "%s", x.id);
	}
	task_clear(&x.task);
	return 0;
}

/* Listing */

struct task_list {
	struct request *r;
	struct store_page pg;
	struct ops_list out;
	struct store_txn *t;
	const char *type;
	bool by_status;
};

/*
 * A task's line in a list: from the typed record, with no whole record
 * built for it (a list may scan a million of them).
 */
static json_t *
task_summary(const struct task *task)
{
	const json_t *res = task->result;
	json_t *v = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:I, s:I, s:o}", "id", task->id, "type",
	    task_type_name(task->type), "status", task_status_name(task->status), "name",
	    task->name != NULL ? task->name : "input", "requester",
	    task->requester != NULL ? task->requester : "", "deviceConfigId",
	    task->devconf_id != NULL ? task->devconf_id : "", "inputs", task->inputs, "createdAt",
	    (json_int_t)task->created_at, "updatedAt", (json_int_t)task->updated_at, "reason",
	    task->reason != NULL ? json_string(task->reason) : json_null());

	if (v != NULL && json_is_object(res) && json_object_get(res, "sha256") != NULL) {
		json_object_set_new(v, "result",
				    json_pack("{s:O, s:O, s:O, s:O}", "sha256",
					      json_object_get(res, "sha256"), "size",
					      json_object_get(res, "size"), "expiresAt",
					      json_object_get(res, "expiresAt"), "available",
					      json_object_get(res, "available")));
	}
	return v;
}

static int
task_list_item(struct task_list *x, const struct task *task)
{
	if (!task_visible(&x->r->subject, task) ||
	    (x->type != NULL && strcmp(task_type_name(task->type), x->type) != 0)) {
		return 0;
	}
	return ops_list_append(&x->out, task_summary(task));
}

static int
task_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct task_list *x = arg;
	struct task task;
	const char *k = key->data;
	int rc;

	if (!x->by_status) {
		if (task_decode(key->data, key->len, val, &task) != 0) {
			/* As a broken record behind the index: passed over, not the whole list. */
			log_err("task.list: a broken task record of tenant %s is passed over",
				x->r->subject.tenant);
			return STORE_PAGE_SKIP;
		}
		rc = task_list_item(x, &task);
		task_clear(&task);
		return rc;
	}
	/* An index key "tenant \0 status \0 id": the id is its last TASK_ID_LEN bytes. */
	if (key->len < TASK_ID_LEN) {
		return 0;
	}
	{
		char id[TASK_ID_LEN + 1];
		memcpy(id, k + key->len - TASK_ID_LEN, TASK_ID_LEN);
		id[TASK_ID_LEN] = '\0';
		if (task_get(x->t, x->r->subject.tenant, id, &task) != 0) {
			return 0; /* an index entry whose record is gone or broken: skipped */
		}
	}
	rc = task_list_item(x, &task);
	task_clear(&task);
	return rc;
}

struct task_list_run {
	struct task_list *x;
	const char *status;
};

static int
task_list_txn(struct store_txn *t, void *arg)
{
	struct task_list_run *run = arg;
	struct task_list *x = run->x;
	const char *tenant = x->r->subject.tenant;
	char prefix[160];
	size_t plen;

	x->t = t;
	if (run->status != NULL) {
		const char *parts[] = {tenant, run->status, ""};
		plen = store_keyv(prefix, sizeof(prefix), parts, 3);
		return store_foreach_page(t, STORE_DB_TASK_INDEX, prefix, plen, &x->pg,
					  task_list_cb, x);
	}
	return store_foreach_page(t, STORE_DB_TASKS, tenant, strlen(tenant) + 1, &x->pg,
				  task_list_cb, x);
}

int
op_task_list(struct request *r)
{
	struct task_list x = {.r = r};
	struct task_list_run run = {&x, NULL};
	enum task_status st;
	int rc;

	if (jargs_str(&r->args, "status", false, 16, &run.status) != 0 ||
	    jargs_str(&r->args, "type", false, 16, &x.type) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (run.status != NULL && task_status_parse(run.status, &st) != 0) {
		return req_fail(r, SIGNET_EINVAL,
				"status must be CREATED, WAITING, APPROVED, IN_PROGRESS, DONE, "
				"FAILED, REJECTED, EXPIRED or CANCELED");
	}
	if (x.type != NULL && strcmp(x.type, "SIGNING") != 0 && strcmp(x.type, "ENCRYPTION") != 0 &&
	    strcmp(x.type, "PACKAGING") != 0) {
		return req_fail(r, SIGNET_EINVAL, "type must be SIGNING, ENCRYPTION or PACKAGING");
	}
	x.by_status = run.status != NULL;
	if ((rc = ops_page_args(r, &x.pg)) != 0) {
		return rc;
	}
	if ((x.out.items = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_read(r->d->store, task_list_txn, &run)) != 0) {
		json_decref(x.out.items);
		return rc;
	}
	r->result = json_pack("{s:o}", "tasks", x.out.items);
	return r->result != NULL ? ops_page_result(r->result, &x.pg) : SIGNET_EINTERNAL;
}

/* Cancel */

struct task_cancel {
	struct request *r;
	const char *id;
	struct task task; /* task_init it first; task_clear it after */
	struct evnote note;
};

static int
task_cancel_txn(struct store_txn *t, void *arg)
{
	struct task_cancel *x = arg;
	struct request *r = x->r;
	struct task *task = &x->task;
	char me[ACL_SUBJECT_MAX];
	int rc;

	/* Repeatable: the store may run this again after growing its map. */
	memset(&x->note, 0, sizeof(x->note));
	task_clear(task);
	if (task_get(t, r->subject.tenant, x->id, task) != 0 || !task_visible(&r->subject, task)) {
		return req_fail(r, SIGNET_ENOTFOUND, "no task '%.40s'", x->id);
	}
	policy_subject_name(&r->subject, me, sizeof(me));
	if (task->requester == NULL || strcmp(task->requester, me) != 0) {
		return req_fail(r, SIGNET_EDENIED, "only the requester may cancel a task");
	}
	if (!task_transition_allowed(task->status, TS_CANCELED)) {
		return req_fail(r, SIGNET_ECONFLICT, "the task is %s already",
				task_status_name(task->status));
	}
	if (task->parent != NULL) {
		return req_fail(r, SIGNET_ECONFLICT,
				"the task is part of package %s: cancel the package", task->parent);
	}
	if ((rc = task_set_status(t, &x->note, task, TS_CANCELED, "canceled by the requester")) !=
	    0) {
		return rc;
	}
	timer_put(t, time_now() + r->d->cfg->capability_grace, "cap", r->subject.tenant, x->id);
	{
		char res[64];
		snprintf(res, sizeof(res), "TASK:%s", x->id);
		return audit_req(t, r, "CANCELED", res, "canceled by the requester", NULL);
	}
}

int
op_task_cancel(struct request *r)
{
	struct task_cancel x = {.r = r};
	int rc;

	task_init(&x.task);
	if ((rc = task_id_arg(r, &x.id)) != 0) {
		return rc;
	}
	/* A cancel frees space: it commits on a full disk too (the store's reserve). */
	if ((rc = store_write_reserve(r->d->store, task_cancel_txn, &x)) == 0) {
		events_publish(r->d, &x.note);
		log_notice("USER:%s of tenant %s canceled task %s", r->subject.user,
			   r->subject.tenant, x.id);
		r->result = task_created_view(&x.task);
		/* Its spooled inputs are nobody's now (a running task keeps its open file). */
		spool_remove_inputs(r->d, x.id, json_array_size(x.task.inputs));
	}
	task_clear(&x.task);
	return rc;
}

/* Download */

struct task_download {
	struct request *r;
	const char *id;
	const struct task *task;
	struct evnote note;
};

static int
task_download_txn(struct store_txn *t, void *arg)
{
	struct task_download *x = arg;
	struct request *r = x->r;
	char me[ACL_SUBJECT_MAX];
	json_t *ev;

	memset(&x->note, 0, sizeof(x->note));
	policy_subject_name(&r->subject, me, sizeof(me));
	{
		char res[64];
		int rc;
		snprintf(res, sizeof(res), "TASK:%s", x->id);
		if ((rc = audit_req(t, r, "DOWNLOADED", res, "result downloaded", NULL)) != 0) {
			return rc;
		}
	}
	ev =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "task.download", "tenant",
		      r->subject.tenant, "task", x->id, "taskType", task_type_name(x->task->type),
		      "status", task_status_name(x->task->status), "requester", x->task->requester,
		      "deviceConfigId", x->task->devconf_id, "by", me);
	return events_append(t, &x->note, ev);
}

int
op_task_download(struct request *r)
{
	struct task_download x = {.r = r};
	struct task_one one = {.r = r};
	const json_t *res;
	char path[PATH_MAX];
	int rc, fd;

	task_init(&one.task);
	if ((rc = task_id_arg(r, &x.id)) != 0) {
		return rc;
	}
	one.id = x.id;
	if ((rc = store_read(r->d->store, task_one_txn, &one)) != 0) {
		goto out;
	}
	x.task = &one.task;
	res = one.task.result;
	if (one.task.status != TS_DONE || json_object_get(res, "sha256") == NULL ||
	    one.task.parent != NULL) {
		/* A package's child has no file of its own: its segment is in the package. */
		rc = req_fail(r, SIGNET_ECONFLICT, "task %s has no file to download (%s)", x.id,
			      one.task.parent != NULL ? "part of a package"
						      : task_status_name(one.task.status));
		goto out;
	}
	if (!json_is_true(json_object_get(res, "available")) ||
	    spool_path(r->d, "out", x.id, path, sizeof(path)) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = req_fail(r, SIGNET_EEXPIRED, "the result of task %s is no longer available",
			      x.id);
		goto out;
	}
	/* Recorded before the descriptor goes out. */
	if ((rc = store_write(r->d->store, task_download_txn, &x)) != 0) {
		close(fd);
		goto out;
	}
	events_publish(r->d, &x.note);
	r->out_fds[0] = fd;
	r->out_nfds = 1;
	r->result = json_pack("{s:s, s:s, s:O, s:O, s:O}", "id", x.id, "name",
			      one.task.name != NULL ? one.task.name : "input", "sha256",
			      json_object_get(res, "sha256"), "size", json_object_get(res, "size"),
			      "expiresAt", json_object_get(res, "expiresAt"));
out:
	task_clear(&one.task);
	return rc;
}

/* Events */

struct watch_fetch {
	struct request *r;
	bool from_now;
	json_t *events;
	uint64_t next;
	size_t bytes;
	bool more;
	uint64_t oldest; /* the oldest event kept, when the ones the watch asks for were pruned */
};

static int
watch_event(struct watch_fetch *x, json_t *val)
{
	struct policy_subject *s = &x->r->subject;
	const char *tenant = json_string_value(json_object_get(val, "tenant"));
	const char *req = json_string_value(json_object_get(val, "requester"));
	const char *dc = json_string_value(json_object_get(val, "deviceConfigId"));
	char me[ACL_SUBJECT_MAX];
	size_t n;

	if (json_array_size(x->events) >= WATCH_BATCH || x->bytes > 32 * 1024) {
		x->more = true;
		return STORE_PAGE_FULL;
	}
	x->next = (uint64_t)json_integer_value(json_object_get(val, "seq")) + 1;
	policy_subject_name(s, me, sizeof(me));
	/*
	 * Task events: the requester, or VIEW on the device configuration. The
	 * user.* events (enrollment, lockout) name none: the user concerned,
	 * or VIEW on users.
	 */
	if (tenant == NULL || strcmp(tenant, s->tenant) != 0 ||
	    !((req != NULL && strcmp(req, me) == 0) ||
	      (dc != NULL ? policy_allows_on(s, ACL_VIEW, ACL_RT_DEVICE_CONFIG, dc)
			  : policy_allows(s, ACL_VIEW, ACL_RT_USER)))) {
		return 0;
	}
	n = json_dumpb(val, NULL, 0, JSON_COMPACT);
	x->bytes += n;
	return json_array_append(x->events, val) == 0 ? 0 : SIGNET_EINTERNAL;
}

static int
watch_cb(const struct store_key *key, json_t *rec, void *arg)
{
	json_t *val = event_load(key->data, key->len, rec);
	int rc;

	if (val == NULL) {
		return SIGNET_EINTERNAL;
	}
	rc = watch_event(arg, val);
	json_decref(val);
	return rc;
}

static int
watch_txn(struct store_txn *t, void *arg)
{
	struct watch_fetch *x = arg;
	struct store_page pg = {.limit = 4096};
	int rc;

	if (x->from_now) {
		x->next = events_last_seq(t) + 1;
		return 0;
	}
	/*
	 * Events past [tasks] events_keep are pruned: a watch that asks for one
	 * of them would miss it. The sequence has no holes, so an oldest
	 * event past NEXT means NEXT is gone.
	 */
	x->oldest = events_first_seq(t);
	if (x->next > 0 && x->oldest > x->next) {
		return SIGNET_EEXPIRED;
	}
	/* The cursor form of a page: start after the record before NEXT. */
	if (x->next > 0) {
		uint64_t prev = x->next - 1;
		for (int i = 0; i < 8; i++) {
			pg.after[i] = (uint8_t)(prev >> (56 - 8 * i));
		}
		pg.after_len = 8;
	}
	rc = store_foreach_page(t, STORE_DB_EVENTS, NULL, 0, &pg, watch_cb, x);
	if (pg.more && !x->more) {
		x->more = true; /* a page of events nobody here may see: look again */
	}
	return rc == SIGNET_ETOO_LARGE ? 0 : rc;
}

int
op_events_watch(struct request *r)
{
	struct watch_fetch x = {.r = r};
	int64_t since = -1;
	int rc;

	if (!r->resumed) {
		if (jargs_int(&r->args, "since", false, 0, INT64_MAX, &since) != 0) {
			return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
		}
		/* Without since: only what happens from now on. */
		x.from_now = since < 0;
		r->watch_next = since >= 0 ? (uint64_t)since + 1 : 1;
	}
	x.next = r->watch_next;
	if ((x.events = json_array()) == NULL) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_read(r->d->store, watch_txn, &x)) != 0) {
		json_decref(x.events);
		if (rc == SIGNET_EEXPIRED) {
			/* A parked watch overtaken by the pruning ends as a revoked one does. */
			r->mode = REQ_ONCE;
			return req_fail(
			    r, rc,
			    "the events after seq %llu were pruned ([tasks] events_keep "
			    "%ld): the oldest kept is %llu; watch again with since %llu, "
			    "and read the audit log for what happened before",
			    (unsigned long long)x.next - 1, r->d->cfg->events_keep,
			    (unsigned long long)x.oldest, (unsigned long long)x.oldest - 1);
		}
		return rc;
	}
	if (x.from_now) {
		since = (int64_t)x.next - 1;
	}
	if (x.next > r->watch_next) {
		r->watch_next = x.next;
	}
	r->more = x.more;
	json_decref(r->events);
	r->events = x.events;
	r->mode = REQ_WATCH;
	if (!r->replied) {
		r->result = json_pack("{s:I}", "since", (json_int_t)since);
	}
	return 0;
}

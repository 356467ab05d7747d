/* SPDX-License-Identifier: Apache-2.0 */
/* Packaging tasks: each firmware encrypted into its place in the container, then the header signed,
 * as child tasks. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/audit.h"
#include "daemon/engine.h"
#include "daemon/events.h"
#include "daemon/keyref.h"
#include "daemon/package.h"
#include "daemon/spool.h"
#include "daemon/tasks.h"
#include "hsm/crypt.h"
#include "lib/codec.h"
#include "lib/container.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define HASH_CHUNK (1u << 20)

/* ---- formats ---- */

static size_t
bosch_header_size(unsigned nseg, size_t mdlen)
{
	return container_header_size(nseg, (unsigned)mdlen);
}

static int
bosch_header(const struct package_plan *p, uint8_t **out, size_t *len)
{
	struct container_header *h = calloc(1, sizeof(*h));
	int sc = container_sig_code(hsm_alg_name(p->sigalg));
	int r;

	if (h == NULL) {
		return SIGNET_EINTERNAL;
	}
	if (sc < 0) {
		free(h);
		return SIGNET_EINVAL;
	}
	h->pv = CONTAINER_PV;
	h->ml = (uint16_t)p->mdlen;
	h->ec = (uint16_t)p->cipher; /* enum hsm_cipher follows the container's ec codes */
	h->sc = (uint16_t)sc;
	h->es = (uint8_t)p->nseg;
	for (unsigned i = 0; i < p->nseg; i++) {
		h->esl[i] = (uint32_t)p->seglen[i];
		memcpy(h->esh[i], p->segsha[i], 32);
	}
	h->md = p->md;
	r = container_header_encode(h, out, len);
	free(h);
	return r;
}

/*
 * The magic, and a length that the header's own es and ml give (16 + 36 es
 * + ml): nothing else is checked, so that a header a lax device would
 * accept (another pv, ec or sc) is recognised too.
 */
static bool
bosch_is_header(const uint8_t *head, size_t headlen, uint64_t total)
{
	unsigned ml, es;

	if (headlen < CONTAINER_FIXED_SIZE ||
	    memcmp(head, CONTAINER_MAGIC, CONTAINER_MAGIC_LEN) != 0) {
		return false;
	}
	ml = (unsigned)head[9] | (unsigned)head[10] << 8;
	es = head[15];
	return total ==
	       (uint64_t)CONTAINER_FIXED_SIZE + (uint64_t)CONTAINER_SEGMENT_ENTRY_SIZE * es + ml;
}

static const struct package_format formats[] = {
    {"BOSCH_SE_V1", bosch_header_size, bosch_header, bosch_is_header},
};

bool
package_is_header(const uint8_t *head, size_t headlen, uint64_t total)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (formats[i].is_header(head, headlen, total)) {
			return true;
		}
	}
	return false;
}

const struct package_format *
package_format_find(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(formats[i].name, name) == 0) {
			return &formats[i];
		}
	}
	return NULL;
}

uint64_t
package_size_max(const struct package_format *f, enum hsm_cipher c, const uint64_t *sizes,
		 unsigned nseg, size_t mdlen)
{
	uint64_t n = f->header_size(nseg, mdlen) + PACKAGE_SIG_MAX;

	for (unsigned i = 0; i < nseg; i++) {
		n += hsm_cipher_out_max(c, sizes[i]);
	}
	return n;
}

bool
package_sig_supported(enum hsm_alg alg)
{
	return container_sig_code(hsm_alg_name(alg)) >= 0;
}

/* ---- child tasks ---- */

struct child_new {
	struct daemon *d;
	const struct task *parent; /* the parent as the caller has it (its id, tenant) */
	struct task child;
	struct evnote note;
};

static int
child_new_txn(struct store_txn *t, void *arg)
{
	static const enum task_status path[] = {TS_CREATED, TS_IN_PROGRESS};
	struct child_new *x = arg;
	const char *tenant = x->parent->tenant;
	const char *pid = x->parent->id;
	struct task parent;
	struct audit_actor a;
	char res[64];
	int r;

	memset(&x->note, 0, sizeof(x->note));
	if ((r = task_get(t, tenant, pid, &parent)) != 0) {
		task_clear(&parent);
		return r;
	}
	if (parent.status != TS_IN_PROGRESS) {
		task_clear(&parent);
		return SIGNET_ECONFLICT; /* canceled meanwhile */
	}
	/* Into the record as read now: the caller's copy of the parent may be older. */
	if (parent.children == NULL && (parent.children = json_array()) == NULL) {
		task_clear(&parent);
		return SIGNET_EINTERNAL;
	}
	json_array_append_new(parent.children, json_string(x->child.id));
	r = task_put(t, &x->note, &parent, TS_IN_PROGRESS);
	task_clear(&parent);
	if (r != 0 || (r = task_put_new(t, &x->note, &x->child, path, 2)) != 0) {
		return r;
	}
	audit_actor_daemon(x->d, tenant, &a);
	snprintf(res, sizeof(res), "TASK:%s", x->child.id);
	{
		json_t *v =
		    json_pack("{s:s, s:s}", "type", task_type_name(x->child.type), "parent", pid);
		r = audit_append(t, tenant, &a, "CREATED", res, "child task of a package", v);
		json_decref(v);
	}
	return r != 0 ? r : t->err;
}

/*
 * A child record of PARENT into C (not stored; task_clear it, also on
 * failure): TYPE, NAME, INPUTS and SPEC (its signing or encryption, by
 * TYPE), both taken, IN_PROGRESS, under a new id. It runs under the
 * parent's approval, so it asks for none itself.
 */
static int
child_record(const struct task *parent, enum task_type type, const char *name, json_t *inputs,
	     json_t *spec, struct task *c)
{
	task_init(c);
	task_new_id(parent->tenant, c->id);
	snprintf(c->tenant, sizeof(c->tenant), "%s", parent->tenant);
	c->type = type;
	c->status = TS_IN_PROGRESS;
	c->inputs = inputs;
	*(type == TT_SIGNING ? &c->signing : &c->encryption) = spec;
	/* The defaults a record read back would have (task_decode), as the parent's may not. */
	c->approval.quorum = parent->approval.quorum != 0 ? parent->approval.quorum : 1;
	c->created_at = time_now();
	if (inputs == NULL || spec == NULL || (c->approvals = json_array()) == NULL ||
	    (c->children = json_array()) == NULL || task_set_str(&c->name, name) != 0 ||
	    task_set_str(&c->requester, parent->requester ? parent->requester : "") != 0 ||
	    task_set_str(&c->devconf_id, parent->devconf_id ? parent->devconf_id : "") != 0 ||
	    task_set_str(&c->devconf_name, parent->devconf_name) != 0 ||
	    task_set_str(&c->approval.second_factor, parent->approval.second_factor
							 ? parent->approval.second_factor
							 : "TOTP") != 0 ||
	    task_set_str(&c->parent, parent->id) != 0) {
		return SIGNET_EINTERNAL;
	}
	return 0;
}

/* Make and store a child of PARENT, IN_PROGRESS; its id in ID. */
static int
child_start(struct daemon *d, const struct task *parent, enum task_type type, const char *name,
	    json_t *inputs, json_t *spec, char id[TASK_ID_LEN + 1])
{
	struct child_new x = {.d = d, .parent = parent};
	int r;

	if ((r = child_record(parent, type, name, inputs, spec, &x.child)) == 0) {
		/* task_put_new sets its startedAt (and status) from the path. */
		snprintf(id, TASK_ID_LEN + 1, "%s", x.child.id);
		r = store_write(d->store, child_new_txn, &x);
	}
	if (r == 0) {
		events_publish(d, &x.note);
	}
	task_clear(&x.child);
	return r;
}

int
package_children_put(struct store_txn *t, struct daemon *d, struct evnote *n,
		     const json_t *children)
{
	static const enum task_status path[] = {TS_CREATED, TS_IN_PROGRESS, TS_DONE};
	size_t i;
	json_t *cj;

	json_array_foreach(children, i, cj) {
		struct task c;
		struct audit_actor a;
		char res[64];
		json_t *v;
		int r;

		if (task_from_json(cj, &c) != 0) {
			return SIGNET_EINTERNAL;
		}
		v = json_pack("{s:s, s:s?, s:s}", "type", task_type_name(c.type), "parent",
			      c.parent, "status", "DONE");
		/* Made already done: one event (DONE) and one entry, as a task run at once. */
		r = task_put_new(t, n, &c, path, 3);
		audit_actor_daemon(d, c.tenant, &a);
		snprintf(res, sizeof(res), "TASK:%s", c.id);
		if (r == 0) {
			r = audit_append(t, c.tenant, &a, "CREATED", res,
					 "child task of a package, made done", v);
		}
		json_decref(v);
		task_clear(&c);
		if (r != 0) {
			return r;
		}
	}
	return t->err;
}

static void
child_end(struct daemon *d, const char *tenant, const char *id, int rc, const char *why,
	  json_t *result)
{
	static const enum task_status inprog[] = {TS_IN_PROGRESS};

	engine_transition(d, tenant, id, inprog, 1, rc == 0 ? TS_DONE : TS_FAILED,
			  rc == 0                 ? NULL
			  : rc == SIGNET_ENOSPACE ? TASK_REASON_NO_SPACE
						  : why,
			  rc == 0 ? result : NULL);
}

/* A parent started again after a crash: children left running are failed. */
struct orphan_scan {
	const struct task *parent;
	json_t *running; /* ids */
};

static int
orphan_scan_txn(struct store_txn *t, void *arg)
{
	struct orphan_scan *x = arg;
	size_t i;
	json_t *cid;

	json_array_clear(x->running);
	json_array_foreach(x->parent->children, i, cid) {
		struct task c;
		if (task_get(t, x->parent->tenant, json_string_value(cid), &c) == 0 &&
		    !task_status_final(c.status)) {
			json_array_append(x->running, cid);
		}
		task_clear(&c);
	}
	return 0;
}

static void
fail_orphans(struct daemon *d, const struct task *parent)
{
	struct orphan_scan x = {parent, json_array()};
	size_t i;
	json_t *cid;

	if (x.running == NULL || store_read(d->store, orphan_scan_txn, &x) != 0) {
		json_decref(x.running);
		return;
	}
	json_array_foreach(x.running, i, cid) {
		child_end(d, parent->tenant, json_string_value(cid), SIGNET_EUNAVAILABLE,
			  "interrupted: the package was started again", NULL);
	}
	json_decref(x.running);
}

/* ---- the run ---- */

static json_t *
hexj(const uint8_t *p, size_t n)
{
	char hex[129];

	hex_encode(p, n, hex);
	return json_string(hex);
}

/* The SHA-256 of SIZE bytes of FD from OFF into OUT; the same bytes also go into ALSO. */
static int
hash_range(int fd, uint64_t off, uint64_t size, EVP_MD_CTX *also, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(HASH_CHUNK);
	uint64_t done = 0;
	int r = SIGNET_EINTERNAL;

	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		goto out;
	}
	while (done < size) {
		size_t want = size - done < HASH_CHUNK ? (size_t)(size - done) : HASH_CHUNK;
		if ((r = fd_pread_all(fd, buf, want, off + done)) != 0) {
			goto out;
		}
		EVP_DigestUpdate(md, buf, want);
		EVP_DigestUpdate(also, buf, want);
		done += want;
	}
	r = EVP_DigestFinal_ex(md, out, NULL) == 1 ? 0 : SIGNET_EINTERNAL;
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return r;
}

/* Sign the header: its digest for RSA-PSS and ECDSA, the bytes themselves for Ed25519. */
static int
sign_header(struct hsm_session *hs, const struct keyref *k, const uint8_t *hdr, size_t hlen,
	    uint8_t *sig, size_t *siglen, uint8_t *digest, size_t *dlen)
{
	if (k->alg == HSM_ALG_ED25519) {
		*dlen = 0;
		return hsm_sign(hs, k->alg, k->id, hdr, hlen, sig, siglen);
	}
	*dlen = k->alg == HSM_ALG_ECC_NIST_P384 ? 48 : 32;
	EVP_Digest(hdr, hlen, digest, NULL, *dlen == 48 ? EVP_sha384() : EVP_sha256(), NULL);
	return hsm_sign(hs, k->alg, k->id, digest, *dlen, sig, siglen);
}

static int
package_file(struct daemon *d, const char *id, char *path, size_t len)
{
	char name[TASK_ID_LEN + 8];

	snprintf(name, sizeof(name), "%s.pkg", id);
	return spool_path(d, "in", name, path, len);
}

/* One firmware region encrypted into the package at OFF: its input and ENCRYPTION child. */
static int
prepare_segment(struct hsm_session *hs, struct task *task, const uint8_t ek_id[HSM_ID_LEN],
		enum hsm_cipher cipher, const struct package_region *g, size_t i, int fd,
		uint64_t off, struct hsm_crypt_result *cr, json_t *kids, char *why, size_t whylen)
{
	const json_t *enc = task->encryption;
	json_t *pk = task->packaging;
	char dflt[32], hin[65], hout[65];
	const char *name = g->name;
	struct task child;
	json_t *seg, *cj = NULL;
	int r;

	if (name == NULL) {
		snprintf(dflt, sizeof(dflt), "input-%zu", i);
		name = dflt;
	}
	r = hsm_encrypt_fd_at(hs, cipher, ek_id, g->fd, g->off, g->size, fd, off, cr);
	if (r == SIGNET_ENOSPACE) {
		snprintf(why, whylen, "no space left in the spool for segment %zu", i);
		return r;
	}
	if (r != 0) {
		snprintf(why, whylen, "the token could not encrypt input %zu (%s)", i,
			 signet_strerror(r));
		return r;
	}
	hex_encode(cr->in_sha256, 32, hin);
	hex_encode(cr->out_sha256, 32, hout);
	if (cr->in_size != g->size) {
		snprintf(why, whylen, "input %zu ends before its size (the file shrank)", i);
		return SIGNET_EINVAL;
	}
	if (g->sha256 != NULL && strcasecmp(g->sha256, hin) != 0) {
		snprintf(why, whylen,
			 "the SHA-256 of firmware '%s' does not match the sha256 given", name);
		return SIGNET_EINVAL;
	}
	if (cr->out_size > UINT32_MAX) {
		snprintf(why, whylen, "input %zu makes a segment longer than 4 GiB - 1", i);
		return SIGNET_ETOO_LARGE;
	}
	seg = json_pack("{s:I, s:s, s:I}", "size", (json_int_t)cr->out_size, "sha256", hout,
			"offset", (json_int_t)off);
	json_array_append_new(task->inputs,
			      json_pack("{s:s, s:I, s:s, s:s}", "name", name, "size",
					(json_int_t)g->size, "sha256", hin, "role", "firmware"));
	/* Two flat lists, segment i of firmware input i: 255 of them still fit one packet. */
	json_array_append_new(json_object_get(pk, "segmentSizes"), json_integer(cr->out_size));
	json_array_append_new(json_object_get(pk, "segmentSha256"), json_string(hout));
	r = child_record(task, TT_ENCRYPTION, name,
			 json_pack("[{s:s, s:I, s:s}]", "name", name, "size", (json_int_t)g->size,
				   "sha256", hin),
			 json_pack("{s:O, s:O, s:I}", "key", json_object_get(enc, "key"), "cipher",
				   json_object_get(enc, "cipher"), "segment", (json_int_t)i),
			 &child);
	child.result = seg; /* the child owns it now */
	/* Whole, for package_children_put in the transaction that stores the package. */
	if (r == 0 && seg != NULL) {
		cj = task_to_json(&child);
	}
	if (cj == NULL) {
		task_clear(&child);
		return SIGNET_EINTERNAL;
	}
	json_array_append_new(kids, cj);
	json_array_append_new(task->children, json_string(child.id));
	task_clear(&child);
	return 0;
}

int
package_prepare(struct daemon *d, struct hsm_session *hs, const struct package_format *fmt,
		struct task *task, const uint8_t ek_id[HSM_ID_LEN], enum hsm_cipher cipher,
		enum hsm_alg sigalg, const struct package_region *rg, size_t n, const uint8_t *md,
		size_t mdlen, const atomic_bool *stop, json_t **children, char *why, size_t whylen)
{
	const char *id = task->id;
	struct package_plan *plan = calloc(1, sizeof(*plan));
	json_t *kids = json_array();
	char path[PATH_MAX];
	uint8_t *hdr = NULL, hsha[32];
	size_t hlen = 0, hsize;
	uint64_t off, t0 = time_mono_ms();
	int fd = -1, r;

	*children = NULL;
	/* The sub-documents it fills, in place: the caller reads them from TASK. */
	if (task->inputs == NULL) {
		task->inputs = json_array();
	}
	if (task->children == NULL) {
		task->children = json_array();
	}
	if (task->packaging == NULL) {
		task->packaging = json_object();
	}
	if (plan == NULL || kids == NULL || task->inputs == NULL || task->children == NULL ||
	    task->packaging == NULL || n == 0 || n > PACKAGE_MAX_SEGMENTS ||
	    package_file(d, id, path, sizeof(path)) != 0) {
		r = SIGNET_EINTERNAL;
		goto out;
	}
	if (hs == NULL) {
		snprintf(why, whylen, "the token is not available");
		r = SIGNET_ETOKEN;
		goto out;
	}
	plan->nseg = (unsigned)n;
	plan->md = md;
	plan->mdlen = mdlen;
	plan->cipher = cipher;
	plan->sigalg = sigalg;
	json_object_set_new(task->packaging, "segmentSizes", json_array());
	json_object_set_new(task->packaging, "segmentSha256", json_array());
	hsize = fmt->header_size(plan->nseg, mdlen);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		log_err("task %s: cannot create %s: %s", id, path, strerror(e));
		r = signet_err_from_errno(e);
		goto out;
	}
	/* Each firmware is read once from the client's file, hashed and encrypted in one pass. */
	off = hsize;
	for (size_t i = 0; i < n; i++) {
		struct hsm_crypt_result cr;
		if (stop != NULL && atomic_load(stop)) {
			snprintf(why, whylen, "the daemon is shutting down");
			r = SIGNET_EUNAVAILABLE;
			goto out;
		}
		if ((r = prepare_segment(hs, task, ek_id, cipher, &rg[i], i, fd, off, &cr, kids,
					 why, whylen)) != 0) {
			goto out;
		}
		plan->seglen[i] = cr.out_size;
		memcpy(plan->segsha[i], cr.out_sha256, 32);
		off += cr.out_size;
	}
	if (mdlen > 0) {
		uint8_t msha[32];
		json_t *in;
		EVP_Digest(md, mdlen, msha, NULL, EVP_sha256(), NULL);
		in = json_pack("{s:s, s:I, s:o, s:s}", "name", "metadata", "size",
			       (json_int_t)mdlen, "sha256", hexj(msha, 32), "role", "metadata");
		if (in != NULL && mdlen <= PACKAGE_SHOW_METADATA_MAX) {
			/* What the header will carry in clear: approvers read it. */
			char *b64 = base64_encode_alloc(md, mdlen, false);
			json_object_set_new(in, "base64", json_string(b64 ? b64 : ""));
			free(b64);
		}
		json_array_append_new(task->inputs, in);
	}
	if ((r = fmt->header(plan, &hdr, &hlen)) != 0 || hlen != hsize) {
		snprintf(why, whylen, "the header could not be built");
		r = r != 0 ? r : SIGNET_EINTERNAL;
		goto out;
	}
	if ((r = fd_pwrite_all(fd, hdr, hlen, 0)) == 0 &&
	    (fsync(fd) != 0 || spool_fsync_dir(path) != 0)) {
		r = -errno;
	}
	if (r != 0) {
		log_err("task %s: cannot write %s: %s", id, path, strerror(-r));
		r = signet_err_from_errno(-r);
		goto out;
	}
	/* What approvers see and bind, and what the engine will sign. */
	EVP_Digest(hdr, hlen, hsha, NULL, EVP_sha256(), NULL);
	json_object_set_new(
	    task->packaging, "header",
	    json_pack("{s:I, s:o}", "size", (json_int_t)hlen, "sha256", hexj(hsha, 32)));
	log_info("task %s: %zu segments encrypted, %llu bytes, in %llu ms", id, n,
		 (unsigned long long)off, (unsigned long long)(time_mono_ms() - t0));
	*children = kids;
	kids = NULL;
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
		if (r != 0) {
			unlink(path);
		}
	}
	json_decref(kids);
	free(hdr);
	free(plan);
	return r;
}

/* Read back the prepared header and check it is the one recorded (and approved). */
static int
read_header(int fd, const json_t *hd, uint8_t **hdr, size_t *hlen, struct container_header *h,
	    char *why, size_t whylen)
{
	const char *want = json_string_value(json_object_get(hd, "sha256"));
	json_int_t size = json_integer_value(json_object_get(hd, "size"));
	const char *cwhy = NULL;
	uint8_t sha[32];
	char hex[65];
	size_t dec = 0;

	if (size < CONTAINER_FIXED_SIZE || size > CONTAINER_MAX_HEADER_SIZE ||
	    (*hdr = malloc((size_t)size)) == NULL) {
		snprintf(why, whylen, "the task's header record is damaged");
		return SIGNET_EINTERNAL;
	}
	*hlen = (size_t)size;
	if (fd_pread_all(fd, *hdr, *hlen, 0) != 0) {
		snprintf(why, whylen, "interrupted: the prepared package is damaged");
		return SIGNET_EUNAVAILABLE;
	}
	EVP_Digest(*hdr, *hlen, sha, NULL, EVP_sha256(), NULL);
	hex_encode(sha, 32, hex);
	if (want == NULL || strcmp(hex, want) != 0) {
		snprintf(why, whylen, "interrupted: the prepared header does not match its digest");
		return SIGNET_EUNAVAILABLE;
	}
	if (container_header_decode(*hdr, *hlen, h, &dec, &cwhy) != 0 || dec != *hlen) {
		snprintf(why, whylen, "the prepared header is damaged (%s)", cwhy ? cwhy : "?");
		return SIGNET_EINTERNAL;
	}
	return 0;
}

int
exec_package(struct daemon *d, struct hsm_session *hs, const struct task *task, json_t **result,
	     char *why, size_t whylen)
{
	const char *id = task->id;
	const char *tenant = task->tenant;
	const json_t *sg = task->signing;
	const json_t *pk = task->packaging;
	const struct package_format *fmt =
	    package_format_find(json_string_value(json_object_get(pk, "format")) ?: "");
	struct container_header *h = calloc(1, sizeof(*h));
	struct keyref sk;
	bool have_sk = false;
	char inpath[PATH_MAX], outpath[PATH_MAX], cid[TASK_ID_LEN + 1];
	uint8_t *hdr = NULL, sig[PACKAGE_SIG_MAX], digest[64], file_sha[32], sha[32];
	size_t hlen = 0, siglen = sizeof(sig), dlen = 0;
	uint64_t off, t0 = time_mono_ms();
	EVP_MD_CTX *whole = EVP_MD_CTX_new();
	int fd = -1, r;

	*result = NULL;
	if (h == NULL || whole == NULL || EVP_DigestInit_ex(whole, EVP_sha256(), NULL) != 1 ||
	    package_file(d, id, inpath, sizeof(inpath)) != 0 ||
	    spool_path(d, "out", id, outpath, sizeof(outpath)) != 0) {
		r = SIGNET_EINTERNAL;
		goto out;
	}
	if (fmt == NULL) {
		snprintf(why, whylen, "unknown packaging format");
		r = SIGNET_EINVAL;
		goto out;
	}
	if (json_object_get(pk, "header") == NULL) {
		/* Its approvals bound the inputs only, not the header that would be signed. */
		snprintf(why, whylen,
			 "the package was made by an earlier version of signetd, whose approvals "
			 "did not bind its header: package it again");
		r = SIGNET_EINVAL;
		goto out;
	}
	fail_orphans(d, task);
	if ((r = keyref_read(d, tenant, json_string_value(json_object_get(sg, "key")) ?: "", &sk,
			     why, whylen)) != 0) {
		goto out;
	}
	have_sk = true;
	if ((r = keyref_check_purpose(&sk, KEY_PURPOSE_PACKAGING, why, whylen)) != 0) {
		goto out;
	}
	if ((fd = open(inpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(why, whylen, "interrupted: the prepared package is gone");
		r = SIGNET_EUNAVAILABLE;
		goto out;
	}
	if ((r = read_header(fd, json_object_get(pk, "header"), &hdr, &hlen, h, why, whylen)) !=
	    0) {
		goto out;
	}
	if (h->sc != container_sig_code(hsm_alg_name(sk.alg))) {
		snprintf(why, whylen, "the header names another signature algorithm than %s's",
			 sk.label);
		r = SIGNET_EINVAL;
		goto out;
	}
	/* Each segment as stored must be the one the header names; the file is hashed on the way.
	 */
	EVP_DigestUpdate(whole, hdr, hlen);
	off = hlen;
	for (unsigned i = 0; i < h->es; i++) {
		if (hash_range(fd, off, h->esl[i], whole, sha) != 0) {
			snprintf(why, whylen, "interrupted: the prepared package is damaged");
			r = SIGNET_EUNAVAILABLE;
			goto out;
		}
		if (memcmp(sha, h->esh[i], 32) != 0) {
			snprintf(why, whylen, "interrupted: segment %u does not match its hash", i);
			r = SIGNET_EUNAVAILABLE;
			goto out;
		}
		off += h->esl[i];
	}
	/* The signing child: what it signs is the header the approvers saw. */
	{
		json_t *spec = json_pack("{s:s, s:s, s:b}", "key", sk.label, "algorithm",
					 hsm_alg_name(sk.alg), "prehashed", 0);
		EVP_Digest(hdr, hlen, sha, NULL, EVP_sha256(), NULL);
		r = child_start(d, task, TT_SIGNING, "header",
				json_pack("[{s:s, s:I, s:o}]", "name", "header", "size",
					  (json_int_t)hlen, "sha256", hexj(sha, 32)),
				spec, cid);
		if (r != 0) {
			snprintf(why, whylen, "the package was canceled or could not be recorded");
			goto out;
		}
		r = sign_header(hs, &sk, hdr, hlen, sig, &siglen, digest, &dlen);
		if (r != 0) {
			snprintf(why, whylen, "the token refused to sign the header (%s)",
				 signet_strerror(r));
		}
		{
			char *b64 = r == 0 ? base64_encode_alloc(sig, siglen, false) : NULL;
			child_end(d, tenant, cid, r, why,
				  r == 0 ? json_pack("{s:s, s:s}", "signature", b64 ? b64 : "",
						     "keyLabel", sk.label)
					 : NULL);
			free(b64);
		}
		if (r != 0) {
			goto out;
		}
	}
	if ((r = fd_pwrite_all(fd, sig, siglen, off)) == 0 &&
	    (ftruncate(fd, (off_t)(off + siglen)) != 0 || fsync(fd) != 0)) {
		r = -errno;
	}
	if (r != 0) {
		log_err("task %s: cannot write the signature: %s", id, strerror(-r));
		r = signet_err_from_errno(-r);
		goto out;
	}
	EVP_DigestUpdate(whole, sig, siglen);
	EVP_DigestFinal_ex(whole, file_sha, NULL);
	off += siglen;
	close(fd);
	fd = -1;
	if (rename(inpath, outpath) != 0 || spool_fsync_dir(outpath) != 0) {
		int e = errno;
		log_err("task %s: cannot move the result in place: %s", id, strerror(e));
		r = signet_err_from_errno(e);
		goto out;
	}
	log_info("task %s: signed the header of %u segments, %llu bytes in %llu ms", id, h->es,
		 (unsigned long long)off, (unsigned long long)(time_mono_ms() - t0));
	*result =
	    json_pack("{s:o, s:I, s:I, s:b, s:s, s:I, s:I}", "sha256", hexj(file_sha, 32), "size",
		      (json_int_t)off, "expiresAt", (json_int_t)(time_now() + d->cfg->result_ttl),
		      "available", 1, "format", fmt->name, "segments", (json_int_t)h->es,
		      "headerSize", (json_int_t)hlen);
	r = *result != NULL ? 0 : SIGNET_EINTERNAL;
out:
	if (fd >= 0) {
		close(fd);
	}
	if (have_sk) {
		keyref_clear(&sk);
	}
	EVP_MD_CTX_free(whole);
	free(hdr);
	free(h);
	return r;
}

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
#include "daemon/package.h"
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

static const struct package_format formats[] = {
    {"BOSCH_SE_V1", bosch_header_size, bosch_header},
};

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
	json_t *parent; /* the parent as read (its id, tenant) */
	json_t *child;
	struct evnote note;
};

static int
child_new_txn(struct store_txn *t, void *arg)
{
	static const enum task_status path[] = {TS_CREATED, TS_IN_PROGRESS};
	struct child_new *x = arg;
	const char *tenant = json_string_value(json_object_get(x->parent, "tenant"));
	const char *pid = json_string_value(json_object_get(x->parent, "id"));
	const char *cid = json_string_value(json_object_get(x->child, "id"));
	json_t *parent = NULL;
	struct audit_actor a;
	char res[64];
	int r;

	memset(&x->note, 0, sizeof(x->note));
	if ((r = task_get(t, tenant, pid, &parent)) != 0) {
		return r;
	}
	if (task_status_of(parent) != TS_IN_PROGRESS) {
		json_decref(parent);
		return SIGNET_ECONFLICT; /* canceled meanwhile */
	}
	json_array_append_new(json_object_get(parent, "children"), json_string(cid));
	json_object_set_new(parent, "updatedAt", json_integer(time_now()));
	r = task_put(t, &x->note, parent, TS_IN_PROGRESS);
	json_decref(parent);
	if (r != 0 || (r = task_put_new(t, &x->note, x->child, path, 2)) != 0) {
		return r;
	}
	audit_actor_daemon(x->d, tenant, &a);
	snprintf(res, sizeof(res), "TASK:%s", cid);
	{
		json_t *v = json_pack("{s:O, s:s}", "type", json_object_get(x->child, "type"),
				      "parent", pid);
		r = audit_append(t, tenant, &a, "CREATED", res, "child task of a package", v);
		json_decref(v);
	}
	return r != 0 ? r : t->err;
}

/* Make and store a child of PARENT, IN_PROGRESS; its id in ID. */
static int
child_start(struct daemon *d, const json_t *parent, const char *type, const char *name,
	    json_t *inputs, const char *member, json_t *spec, char id[TASK_ID_LEN + 1])
{
	const json_t *ap = json_object_get(parent, "approval");
	struct child_new x = {.d = d, .parent = (json_t *)parent};
	int r;

	task_new_id(id);
	x.child = json_pack(
	    "{s:s, s:O, s:s, s:s, s:s, s:O, s:O, s:O, s:o, s:{s:b, s:O, s:O}, s:[], s:n, s:n, "
	    "s:n, s:O, s:[], s:I}",
	    "id", id, "tenant", json_object_get(parent, "tenant"), "type", type, "status",
	    "IN_PROGRESS", "name", name, "requester", json_object_get(parent, "requester"),
	    "deviceConfigId", json_object_get(parent, "deviceConfigId"), "deviceConfigName",
	    json_object_get(parent, "deviceConfigName"), "inputs", inputs, "approval", "required",
	    0, "quorum", json_object_get(ap, "quorum"), "secondFactor",
	    json_object_get(ap, "secondFactor"), "approvals", "decision", "result", "reason",
	    "parent", json_object_get(parent, "id"), "children", "createdAt",
	    (json_int_t)time_now());
	if (x.child == NULL) {
		json_decref(spec);
		return SIGNET_EINTERNAL;
	}
	json_object_set_new(x.child, member, spec);
	json_object_set_new(x.child, "startedAt", json_integer(time_now()));
	r = store_write(d->store, child_new_txn, &x);
	if (r == 0) {
		events_publish(d, &x.note);
	}
	json_decref(x.child);
	return r;
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
	const json_t *parent;
	json_t *running; /* ids */
};

static int
orphan_scan_txn(struct store_txn *t, void *arg)
{
	struct orphan_scan *x = arg;
	const char *tenant = json_string_value(json_object_get(x->parent, "tenant"));
	size_t i;
	json_t *cid;

	json_array_clear(x->running);
	json_array_foreach(json_object_get(x->parent, "children"), i, cid) {
		json_t *c = NULL;
		if (task_get(t, tenant, json_string_value(cid), &c) == 0 &&
		    !task_status_final(task_status_of(c))) {
			json_array_append(x->running, cid);
		}
		json_decref(c);
	}
	return 0;
}

static void
fail_orphans(struct daemon *d, const json_t *parent)
{
	struct orphan_scan x = {parent, json_array()};
	const char *tenant = json_string_value(json_object_get(parent, "tenant"));
	size_t i;
	json_t *cid;

	if (x.running == NULL || store_read(d->store, orphan_scan_txn, &x) != 0) {
		json_decref(x.running);
		return;
	}
	json_array_foreach(x.running, i, cid) {
		child_end(d, tenant, json_string_value(cid), SIGNET_EUNAVAILABLE,
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

static int
hash_file(int fd, uint64_t size, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(HASH_CHUNK);
	uint64_t off = 0;
	int r = SIGNET_EINTERNAL;

	if (md == NULL || buf == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		goto out;
	}
	while (off < size) {
		size_t want = size - off < HASH_CHUNK ? (size_t)(size - off) : HASH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			goto out;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, out, NULL) == 1) {
		r = 0;
	}
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

int
exec_package(struct daemon *d, struct hsm_session *hs, const json_t *task, json_t **result,
	     char *why, size_t whylen)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *tenant = json_string_value(json_object_get(task, "tenant"));
	const json_t *inputs = json_object_get(task, "inputs");
	const json_t *enc = json_object_get(task, "encryption");
	const json_t *sg = json_object_get(task, "signing");
	const char *fmtname =
	    json_string_value(json_object_get(json_object_get(task, "packaging"), "format"));
	const struct package_format *fmt = package_format_find(fmtname ? fmtname : "");
	struct package_plan *plan = calloc(1, sizeof(*plan));
	struct keyref ek, sk;
	bool have_ek = false, have_sk = false;
	char tmppath[PATH_MAX], outpath[PATH_MAX], name[80], inpath[PATH_MAX], cid[TASK_ID_LEN + 1];
	uint8_t *hdr = NULL, *md = NULL, sig[PACKAGE_SIG_MAX], digest[64], file_sha[32];
	size_t hlen = 0, hsize, siglen = sizeof(sig), dlen = 0, ninputs = json_array_size(inputs);
	uint64_t off, t0 = time_mono_ms();
	int out_fd = -1, r;
	size_t i;
	json_t *in;

	*result = NULL;
	if (plan == NULL) {
		return SIGNET_EINTERNAL;
	}
	if (fmt == NULL) {
		snprintf(why, whylen, "unknown packaging format");
		free(plan);
		return SIGNET_EINVAL;
	}
	fail_orphans(d, task);
	if (spool_path(d, "tmp", id, tmppath, sizeof(tmppath)) != 0 ||
	    spool_path(d, "out", id, outpath, sizeof(outpath)) != 0) {
		free(plan);
		return SIGNET_EINTERNAL;
	}
	if ((r = engine_read_key(d, tenant, json_string_value(json_object_get(enc, "key")) ?: "",
				 &ek, why, whylen)) != 0) {
		goto out;
	}
	have_ek = true;
	if ((r = engine_read_key(d, tenant, json_string_value(json_object_get(sg, "key")) ?: "",
				 &sk, why, whylen)) != 0) {
		goto out;
	}
	have_sk = true;
	if (hsm_cipher_parse(json_string_value(json_object_get(enc, "cipher")), &plan->cipher) !=
	    0) {
		snprintf(why, whylen, "unknown cipher");
		r = SIGNET_EINVAL;
		goto out;
	}
	plan->sigalg = sk.alg;
	/* The firmware files, then the metadata (the last input, when its role says so). */
	json_array_foreach(inputs, i, in) {
		const char *role = json_string_value(json_object_get(in, "role"));
		if (role != NULL && strcmp(role, "metadata") == 0) {
			uint8_t got[32];
			char hex[65];
			size_t mlen = 0;
			int fd;
			snprintf(name, sizeof(name), "%s.%zu", id, i);
			spool_path(d, "in", name, inpath, sizeof(inpath));
			fd = open(inpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0 || fd_read_all(fd, CONTAINER_MAX_METADATA, &md, &mlen) != 0) {
				if (fd >= 0) {
					close(fd);
				}
				snprintf(why, whylen, "interrupted: the metadata is gone");
				r = SIGNET_EUNAVAILABLE;
				goto out;
			}
			close(fd);
			EVP_Digest(md, mlen, got, NULL, EVP_sha256(), NULL);
			hex_encode(got, 32, hex);
			if (strcmp(hex, json_string_value(json_object_get(in, "sha256")) ?: "") !=
			    0) {
				snprintf(
				    why, whylen,
				    "interrupted: the spooled metadata does not match its hash");
				r = SIGNET_EUNAVAILABLE;
				goto out;
			}
			plan->md = md;
			plan->mdlen = mlen;
		} else {
			plan->nseg++;
		}
	}
	if (plan->nseg == 0 || plan->nseg > CONTAINER_MAX_SEGMENTS) {
		snprintf(why, whylen, "the task's inputs are damaged");
		r = SIGNET_EINTERNAL;
		goto out;
	}
	hsize = fmt->header_size(plan->nseg, plan->mdlen);
	out_fd = open(tmppath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out_fd < 0) {
		int e = errno;
		log_err("task %s: cannot create %s: %s", id, tmppath, strerror(e));
		r = signet_err_from_errno(e);
		goto out;
	}
	/* Each segment is encrypted straight into its place after the header. */
	off = hsize;
	for (i = 0; i < plan->nseg; i++) {
		const json_t *x = json_array_get(inputs, i);
		const char *want = json_string_value(json_object_get(x, "sha256"));
		uint64_t size = (uint64_t)json_integer_value(json_object_get(x, "size"));
		struct hsm_crypt_result cr;
		char hex[65];
		int in_fd;

		r = child_start(
		    d, task, "ENCRYPTION", json_string_value(json_object_get(x, "name")) ?: "input",
		    json_pack("[{s:O, s:O, s:O}]", "name", json_object_get(x, "name"), "size",
			      json_object_get(x, "size"), "sha256", json_object_get(x, "sha256")),
		    "encryption",
		    json_pack("{s:O, s:O, s:I}", "key", json_object_get(enc, "key"), "cipher",
			      json_object_get(enc, "cipher"), "segment", (json_int_t)i),
		    cid);
		if (r != 0) {
			snprintf(why, whylen, "the package was canceled or could not be recorded");
			goto out;
		}
		snprintf(name, sizeof(name), "%s.%zu", id, i);
		spool_path(d, "in", name, inpath, sizeof(inpath));
		in_fd = open(inpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (in_fd < 0) {
			snprintf(why, whylen, "interrupted: input %zu is gone", i);
			r = SIGNET_EUNAVAILABLE;
		} else {
			r = hsm_encrypt_fd_at(hs, plan->cipher, ek.id, in_fd, 0, size, out_fd, off,
					      &cr);
			close(in_fd);
			if (r != 0) {
				snprintf(why, whylen,
					 "the token could not encrypt segment %zu (%s)", i,
					 signet_strerror(r));
			}
		}
		if (r == 0) {
			hex_encode(cr.in_sha256, 32, hex);
			if (cr.in_size != size || want == NULL || strcmp(hex, want) != 0) {
				snprintf(why, whylen,
					 "interrupted: spooled input %zu does not match its hash",
					 i);
				r = SIGNET_EUNAVAILABLE;
			} else if (cr.out_size > UINT32_MAX) {
				snprintf(why, whylen, "segment %zu is longer than 4 GiB - 1", i);
				r = SIGNET_ETOO_LARGE;
			}
		}
		child_end(d, tenant, cid, r, why,
			  r == 0 ? json_pack("{s:o, s:I, s:I}", "sha256", hexj(cr.out_sha256, 32),
					     "size", (json_int_t)cr.out_size, "offset",
					     (json_int_t)off)
				 : NULL);
		if (r != 0) {
			goto out;
		}
		plan->seglen[i] = cr.out_size;
		memcpy(plan->segsha[i], cr.out_sha256, 32);
		off += cr.out_size;
	}
	if ((r = fmt->header(plan, &hdr, &hlen)) != 0 || hlen != hsize) {
		snprintf(why, whylen, "the header could not be built");
		r = r != 0 ? r : SIGNET_EINTERNAL;
		goto out;
	}
	/* The signing child: what it signs is the header, which names every segment's digest. */
	{
		uint8_t hsha[32];
		json_t *spec;
		EVP_Digest(hdr, hlen, hsha, NULL, EVP_sha256(), NULL);
		spec = json_pack("{s:s, s:s, s:b}", "key", sk.label, "algorithm",
				 hsm_alg_name(sk.alg), "prehashed", 0);
		r = child_start(d, task, "SIGNING", "header",
				json_pack("[{s:s, s:I, s:o}]", "name", "header", "size",
					  (json_int_t)hlen, "sha256", hexj(hsha, 32)),
				"signing", spec, cid);
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
	if ((r = fd_pwrite_all(out_fd, hdr, hlen, 0)) == 0 &&
	    (r = fd_pwrite_all(out_fd, sig, siglen, off)) == 0 &&
	    ftruncate(out_fd, (off_t)(off + siglen)) != 0) {
		r = -errno;
	}
	if (r != 0) {
		log_err("task %s: cannot write the container: %s", id, strerror(-r));
		r = signet_err_from_errno(-r);
		goto out;
	}
	off += siglen;
	if ((r = hash_file(out_fd, off, file_sha)) != 0) {
		log_err("task %s: cannot read back the container", id);
		goto out;
	}
	if (fsync(out_fd) != 0) {
		int e = errno;
		log_err("task %s: cannot sync the container: %s", id, strerror(e));
		r = signet_err_from_errno(e);
		goto out;
	}
	close(out_fd);
	out_fd = -1;
	if (rename(tmppath, outpath) != 0 || engine_fsync_dir(outpath) != 0) {
		int e = errno;
		log_err("task %s: cannot move the result in place: %s", id, strerror(e));
		r = signet_err_from_errno(e);
		goto out;
	}
	log_info("task %s: packaged %u segments, %llu bytes in %llu ms", id, plan->nseg,
		 (unsigned long long)off, (unsigned long long)(time_mono_ms() - t0));
	*result =
	    json_pack("{s:o, s:I, s:I, s:b, s:s, s:I, s:I}", "sha256", hexj(file_sha, 32), "size",
		      (json_int_t)off, "expiresAt", (json_int_t)(time_now() + d->cfg->result_ttl),
		      "available", 1, "format", fmt->name, "segments", (json_int_t)plan->nseg,
		      "headerSize", (json_int_t)hlen);
	r = *result != NULL ? 0 : SIGNET_EINTERNAL;
out:
	if (out_fd >= 0) {
		close(out_fd);
	}
	if (r != 0) {
		unlink(tmppath);
	}
	if (have_ek) {
		keyref_clear(&ek);
	}
	if (have_sk) {
		keyref_clear(&sk);
	}
	free(hdr);
	free(md);
	free(plan);
	(void)ninputs;
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Execution in the token: a task's authorisation checked again, then signing or encryption. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "daemon/exec.h"
#include "daemon/rules.h"
#include "daemon/user.h"
#include "daemon/spool.h"
#include "hsm/crypt.h"
#include "lib/codec.h"
#include "lib/envelope.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/approval.h"

/* Authorisation at execution */

/*
 * The requester must still hold USE on the device configuration, and the
 * task's capability must still exist.
 */
int
exec_authorize(struct store_txn *t, const struct task *task, char *why, size_t whylen)
{
	const char *tenant = task->tenant;
	const char *req = task->requester;
	const char *dc = task->devconf_id;
	const char *id = task->id;
	struct policy_subject s;
	enum acl_subject_kind kind;
	const char *name;
	struct user_record u;
	int r = SIGNET_EDENIED;

	memset(&s, 0, sizeof(s));
	if (tenant == NULL || dc == NULL || acl_subject_parse(req, &kind, &name) != 0 ||
	    kind == ACL_SUBJ_GROUP) {
		snprintf(why, whylen, "the task record is damaged");
		return SIGNET_EINTERNAL;
	}
	if ((r = user_read(t, tenant, name, &u)) != 0) {
		if (r == SIGNET_ENOTFOUND) {
			snprintf(why, whylen, "the requester %s no longer exists", req);
			return SIGNET_EDENIED;
		}
		snprintf(why, whylen, "the requester's record cannot be read");
		return r;
	}
	r = SIGNET_EDENIED;
	snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
	snprintf(s.user, sizeof(s.user), "%s", name);
	s.admin = u.admin;
	s.client = u.client;
	if (rules_load_subject(t, &s, &u) != 0) {
		snprintf(why, whylen, "the requester's rights cannot be read");
		r = SIGNET_EINTERNAL;
	} else if (!policy_allows_on(&s, ACL_USE, ACL_RT_DEVICE_CONFIG, dc)) {
		snprintf(why, whylen, "the requester no longer holds USE on DEVICE_CONFIG:%s", dc);
	} else if (!rules_has_capability(t, tenant, id, req, dc)) {
		snprintf(why, whylen, "the task's capability is gone");
	} else {
		r = 0;
	}
	rules_free_subject(&s);
	return r;
}

/* Execution */

static json_t *
b64_string(const uint8_t *p, size_t n)
{
	char *s = base64_encode_alloc(p, n, false);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

void
sign_params_record(json_t *sg, const struct hsm_sign_params *p, bool attach)
{
	json_object_set_new(sg, "scheme", json_string(hsm_scheme_name(p->scheme)));
	if (p->scheme != HSM_SCHEME_EDDSA) {
		json_object_set_new(sg, "hash", json_string(hsm_hash_name(p->hash)));
	}
	if (p->scheme == HSM_SCHEME_RSA_PSS) {
		json_object_set_new(sg, "saltLength", json_integer(p->salt_len));
	}
	if (p->scheme == HSM_SCHEME_ECDSA) {
		json_object_set_new(sg, "encoding", json_string(p->raw ? "raw" : "der"));
	}
	json_object_set_new(sg, "attach", json_boolean(attach));
}

int
sign_params_load(const json_t *sg, enum hsm_alg alg, struct hsm_sign_params *p, bool *attach)
{
	const char *scheme = json_string_value(json_object_get(sg, "scheme"));
	const char *hash = json_string_value(json_object_get(sg, "hash"));
	const char *enc = json_string_value(json_object_get(sg, "encoding"));
	const json_t *salt = json_object_get(sg, "saltLength");
	char why[160];

	hsm_sign_params_default(alg, p);
	*attach = json_is_true(json_object_get(sg, "attach"));
	if (scheme == NULL) {
		return 0; /* made before schemes were recorded */
	}
	if (hsm_scheme_parse(scheme, &p->scheme) != 0 ||
	    (hash != NULL && hsm_hash_parse(hash, &p->hash) != 0) ||
	    (enc != NULL && strcmp(enc, "der") != 0 && strcmp(enc, "raw") != 0) ||
	    (salt != NULL && (!json_is_integer(salt) || json_integer_value(salt) < 0 ||
			      json_integer_value(salt) > 4096))) {
		return SIGNET_EINTERNAL;
	}
	p->salt_len = p->scheme == HSM_SCHEME_RSA_PSS ? (unsigned)json_integer_value(salt) : 0;
	p->raw = enc != NULL && strcmp(enc, "raw") == 0;
	return hsm_sign_params_check(alg, p, why, sizeof(why)) == 0 ? 0 : SIGNET_EINTERNAL;
}

json_t *
sign_params_view(const json_t *sg)
{
	static const char *const keys[] = {"scheme", "hash", "saltLength", "encoding", "attach"};
	json_t *v = json_object();

	for (size_t i = 0; v != NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *e = json_object_get(sg, keys[i]);
		if (e != NULL) {
			json_object_set(v, keys[i], e);
		}
	}
	return v;
}

const char *
schemes_text(unsigned mask, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < HSM_SCHEME_COUNT && n < len; i++) {
		if (mask & (1u << i)) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "",
					      hsm_scheme_name((enum hsm_scheme)i));
		}
	}
	if (buf[0] == '\0') {
		snprintf(buf, len, "none");
	}
	return buf;
}

int
exec_sign(struct hsm_session *hs, const struct task *task, const struct keyref *k,
	  const uint8_t *msg, size_t msglen, json_t **result, char *why, size_t whylen)
{
	const json_t *sg = task->signing;
	const char *dhex = json_string_value(json_object_get(sg, "digest"));
	const char *chex = json_string_value(json_object_get(sg, "cmsDigest"));
	struct hsm_sign_params p;
	uint8_t digest[64], cmsd[64], sig[1024];
	size_t dlen = 0, clen = 0, siglen = sizeof(sig);
	uint8_t *der = NULL;
	size_t derlen = 0;
	bool attach;
	int r;

	*result = NULL;
	if (sign_params_load(sg, k->alg, &p, &attach) != 0) {
		snprintf(why, whylen, "the task's signature scheme is damaged");
		return SIGNET_EINTERNAL;
	}
	if (attach && k->cert == NULL) {
		snprintf(why, whylen, "key %s has no certificate: no CMS to embed the content in",
			 k->label);
		return SIGNET_EINVAL;
	}
	if ((k->alg == HSM_ALG_ED25519 || attach) && msg == NULL) {
		snprintf(why, whylen, "the input to sign is missing");
		return SIGNET_EINTERNAL;
	}
	if (k->alg == HSM_ALG_ED25519) {
		r = hsm_sign_ex(hs, k->alg, k->id, &p, msg, msglen, sig, &siglen);
	} else {
		dlen = dhex != NULL ? strlen(dhex) / 2 : 0;
		if (dlen == 0 || dlen > sizeof(digest) || !hex_decode(dhex, digest, dlen)) {
			snprintf(why, whylen, "the task's digest is damaged");
			return SIGNET_EINTERNAL;
		}
		r = hsm_sign_ex(hs, k->alg, k->id, &p, digest, dlen, sig, &siglen);
	}
	if (r != 0) {
		snprintf(why, whylen, "the token refused to sign (%s)", signet_strerror(r));
		return r;
	}
	*result = json_pack("{s:o, s:s, s:s}", "signature", b64_string(sig, siglen), "keyLabel",
			    k->label, "scheme", hsm_scheme_name(p.scheme));
	if (*result == NULL) {
		return SIGNET_EINTERNAL;
	}
	if (p.scheme != HSM_SCHEME_EDDSA) {
		json_object_set_new(*result, "hash", json_string(hsm_hash_name(p.hash)));
	}
	if (p.scheme == HSM_SCHEME_ECDSA) {
		json_object_set_new(*result, "encoding", json_string(p.raw ? "raw" : "der"));
	}
	if (k->cert != NULL) {
		if (k->alg == HSM_ALG_ED25519) {
			clen = chex != NULL ? strlen(chex) / 2 : 0;
			if (clen != 64 || !hex_decode(chex, cmsd, clen)) {
				clen = 0;
			}
		} else {
			memcpy(cmsd, digest, dlen);
			clen = dlen;
		}
		if (clen == 0) {
			snprintf(why, whylen, "no digest for the CMS signature");
			json_decref(*result);
			*result = NULL;
			return SIGNET_EINTERNAL;
		}
		r = hsm_cms_sign(hs, k->alg, k->id, &p, k->cert, k->chain, cmsd, clen,
				 attach ? msg : NULL, attach ? msglen : 0, &der, &derlen);
		if (r != 0) {
			snprintf(why, whylen, "the CMS signature failed (%s)", signet_strerror(r));
			json_decref(*result);
			*result = NULL;
			return r;
		}
		json_object_set_new(*result, "cms", b64_string(der, derlen));
		if (attach) {
			json_object_set_new(*result, "attached", json_true());
		}
		OPENSSL_free(der);
	}
	return 0;
}

int
exec_encrypt(struct daemon *d, struct hsm_session *hs, const struct task *task, int direct_fd,
	     json_t **result, json_t **input, char *why, size_t whylen)
{
	const char *id = task->id;
	const char *tenant = task->tenant;
	const json_t *enc = task->encryption;
	const json_t *in0 = json_array_get(task->inputs, 0);
	const char *in_sha = json_string_value(json_object_get(in0, "sha256"));
	const char *label = json_string_value(json_object_get(enc, "key"));
	const char *cert_pem = json_string_value(json_object_get(enc, "certificatePem"));
	char inpath[PATH_MAX], tmppath[PATH_MAX], outpath[PATH_MAX], name[64], hex[65];
	uint8_t in_sha256[32], out_sha256[32];
	uint64_t out_size = 0, in_size = 0, t0, t1;
	uint64_t want_size = (uint64_t)json_integer_value(json_object_get(in0, "size"));
	int in_fd = -1, out_fd = -1, r;

	*result = NULL;
	snprintf(name, sizeof(name), "%s.0", id);
	if (spool_path(d, "in", name, inpath, sizeof(inpath)) != 0 ||
	    spool_path(d, "tmp", id, tmppath, sizeof(tmppath)) != 0 ||
	    spool_path(d, "out", id, outpath, sizeof(outpath)) != 0) {
		return SIGNET_EINTERNAL;
	}
	in_fd = direct_fd >= 0 ? dup(direct_fd) : open(inpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in_fd < 0) {
		snprintf(why, whylen, "interrupted: the input is gone");
		return SIGNET_EUNAVAILABLE;
	}
	out_fd = open(tmppath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out_fd < 0) {
		int e = errno;
		log_err("task %s: cannot create %s: %s", id, tmppath, strerror(e));
		close(in_fd);
		return signet_err_from_errno(e);
	}
	t0 = time_mono_ms();
	if (label != NULL) {
		struct keyref k;
		struct hsm_crypt_result cr;
		enum hsm_cipher c;
		struct store_txn *unused = NULL;
		(void)unused;
		r = keyref_read(d, tenant, label, &k, why, whylen);
		if (r == 0 &&
		    hsm_cipher_parse(json_string_value(json_object_get(enc, "cipher")), &c) != 0) {
			snprintf(why, whylen, "unknown cipher");
			r = SIGNET_EINVAL;
		}
		if (r == 0) {
			r = hsm_encrypt_fd(hs, c, k.id, in_fd, want_size, out_fd, &cr);
			if (r != 0) {
				snprintf(why, whylen, "the token could not encrypt (%s)",
					 signet_strerror(r));
			}
			memcpy(in_sha256, cr.in_sha256, 32);
			memcpy(out_sha256, cr.out_sha256, 32);
			out_size = cr.out_size;
			in_size = cr.in_size;
		}
		keyref_clear(&k);
	} else if (cert_pem != NULL) {
		BIO *b = BIO_new_mem_buf(cert_pem, -1);
		X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		struct envelope_result er;
		BIO_free(b);
		r = x != NULL ? envelope_encrypt_fd(x, in_fd, want_size, out_fd, &er)
			      : SIGNET_EINVAL;
		X509_free(x);
		if (r != 0) {
			snprintf(why, whylen, "the CMS envelope failed (%s)", signet_strerror(r));
		} else {
			memcpy(in_sha256, er.in_sha256, 32);
			memcpy(out_sha256, er.out_sha256, 32);
			out_size = er.out_size;
			in_size = er.in_size;
		}
	} else {
		snprintf(why, whylen, "the task names no encryption key");
		r = SIGNET_EINTERNAL;
	}
	close(in_fd);
	if (r == 0 && in_size != want_size) {
		/* Exactly the size recorded when the task was made, no more (a growing file). */
		snprintf(why, whylen, "%sthe input changed size while it was read",
			 direct_fd >= 0 ? "" : "interrupted: ");
		r = direct_fd >= 0 ? SIGNET_EINVAL : SIGNET_EUNAVAILABLE;
	}
	if (r == 0) {
		const char *want = task->expected_sha256;
		hex_encode(in_sha256, 32, hex);
		if (direct_fd >= 0) {
			/* Read in place: what was read is what was encrypted; record it. */
			if (want != NULL && strcasecmp(want, hex) != 0) {
				snprintf(why, whylen,
					 "the input's SHA-256 does not match the sha256 given");
				r = SIGNET_EINVAL;
			}
		} else if (in_sha == NULL || strcmp(hex, in_sha) != 0) {
			snprintf(why, whylen,
				 "interrupted: the spooled input does not match its hash");
			r = SIGNET_EUNAVAILABLE;
		}
	}
	t1 = time_mono_ms();
	if (r == 0 && fsync(out_fd) != 0) {
		int e = errno;
		log_err("task %s: fsync: %s", id, strerror(e));
		r = signet_err_from_errno(e);
	}
	close(out_fd);
	if (r == 0 && (rename(tmppath, outpath) != 0 || spool_fsync_dir(outpath) != 0)) {
		int e = errno;
		log_err("task %s: cannot move the result in place: %s", id, strerror(e));
		r = signet_err_from_errno(e);
	}
	if (r != 0) {
		unlink(tmppath);
		return r;
	}
	log_info("task %s: encrypted %llu bytes in %llu ms, synced in %llu ms", id,
		 (unsigned long long)out_size, (unsigned long long)(t1 - t0),
		 (unsigned long long)(time_mono_ms() - t1));
	if (direct_fd >= 0) {
		char ihex[65];
		hex_encode(in_sha256, 32, ihex);
		*input = json_pack("{s:s, s:I}", "sha256", ihex, "size", (json_int_t)in_size);
	}
	hex_encode(out_sha256, 32, hex);
	*result =
	    json_pack("{s:s, s:I, s:I, s:b}", "sha256", hex, "size", (json_int_t)out_size,
		      "expiresAt", (json_int_t)(time_now() + d->cfg->result_ttl), "available", 1);
	return *result != NULL ? 0 : SIGNET_EINTERNAL;
}

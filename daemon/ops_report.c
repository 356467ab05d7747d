/* SPDX-License-Identifier: Apache-2.0 */
/* Ops on signed system and update reports: submit (verify and store), verify only, list. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/audit.h"
#include "daemon/ops.h"
#include "daemon/report.h"
#include "daemon/store.h"
#include "daemon/tasks.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define FINGERPRINTS_KEY "soup.report.validation.trusted.cert.fingerprints"

/* A refusal's socket error: each status keeps its own code at the head of the message. */
static int
report_err(enum report_status s)
{
	switch (s) {
	case REPORT_NO_ANCHOR:
		return SIGNET_ECONFLICT;
	case REPORT_UNTRUSTED:
	case REPORT_CERT_EXPIRED:
	case REPORT_CERT_NOT_YET_VALID:
		return SIGNET_EDENIED;
	case REPORT_TOO_LARGE:
		return SIGNET_ETOO_LARGE;
	case REPORT_INTERNAL:
		return SIGNET_EINTERNAL;
	default:
		return SIGNET_EINVAL;
	}
}

struct report_run {
	struct request *r;
	json_t *fingerprints;
	json_t *rec; /* submit: the record to store */
	char id[TASK_ID_LEN + 1];
	char sha[65];
	json_t *existing; /* submit: the same message was stored before */
};

static int
anchors_txn(struct store_txn *t, void *arg)
{
	struct report_run *x = arg;

	json_decref(x->fingerprints);
	x->fingerprints = tenant_config_get(t, x->r->subject.tenant, FINGERPRINTS_KEY);
	return x->fingerprints != NULL ? 0 : SIGNET_EINTERNAL;
}

/* Read the message, verify it against the tenant's anchors; RES filled on success. */
static int
report_check(struct request *r, struct report_run *x, struct report_result *res, uint8_t dg[32],
	     size_t *size)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	enum report_status s;
	char why[256] = "";
	int rc;

	if (r->nfds != 1) {
		return req_fail(r, SIGNET_EINVAL, "attach the signed report as one descriptor");
	}
	rc = fd_read_all(r->fds[0], REPORT_MAX_SIZE, &msg, &len);
	if (rc == SIGNET_ETOO_LARGE) {
		return req_fail(r, rc, "too_large: the report is larger than %d bytes",
				REPORT_MAX_SIZE);
	}
	if (rc != 0) {
		return req_fail(r, SIGNET_EINVAL,
				"not_smime: the report must be a readable regular file on a local "
				"file system");
	}
	if ((rc = store_read(r->d->store, anchors_txn, x)) != 0) {
		free(msg);
		return rc;
	}
	s = report_verify(msg, len, x->fingerprints, (time_t)time_now(), res, why, sizeof(why));
	EVP_Digest(msg, len, dg, NULL, EVP_sha256(), NULL);
	*size = len;
	free(msg);
	if (s != REPORT_OK) {
		return req_fail(r, report_err(s), "%s: %s", report_status_code(s),
				why[0] ? why : "the report was refused");
	}
	return 0;
}

static json_t *
summary(const json_t *rec)
{
	json_t *s = json_deep_copy(rec);

	if (s != NULL) {
		json_object_del(s, "content");
	}
	return s;
}

static int
submit_txn(struct store_txn *t, void *arg)
{
	struct report_run *x = arg;
	char key[160], res[64];
	size_t klen = store_key2(key, sizeof(key), x->r->subject.tenant, x->id);
	json_t *v;
	int rc;

	char dkey[160], dname[80];
	size_t dlen;
	json_t *ref = NULL;

	if (klen == 0) {
		return SIGNET_EINTERNAL;
	}
	/*
	 * A message stored once is not stored again (a replayed upload would
	 * otherwise grow the store without bound): the answer is the first.
	 */
	snprintf(dname, sizeof(dname), "~sha256:%s", x->sha);
	dlen = store_key2(dkey, sizeof(dkey), x->r->subject.tenant, dname);
	json_decref(x->existing);
	x->existing = NULL;
	if (dlen > 0 && store_get_json(t, STORE_DB_REPORTS, dkey, dlen, &ref) == 0) {
		const char *id = json_string_value(json_object_get(ref, "id"));
		json_t *old = NULL;
		char okey[160];
		size_t olen =
		    id != NULL ? store_key2(okey, sizeof(okey), x->r->subject.tenant, id) : 0;
		if (olen > 0 && store_get_json(t, STORE_DB_REPORTS, okey, olen, &old) == 0) {
			x->existing = summary(old);
			json_decref(old);
		}
		snprintf(res, sizeof(res), "REPORT:%s", id != NULL ? id : "");
		json_decref(ref); /* ID points into it */
		if (x->existing != NULL) {
			return audit_req(t, x->r, "VIEWED", res,
					 "signed report submitted again: not stored twice", NULL);
		}
	}
	store_put_json(t, STORE_DB_REPORTS, key, klen, x->rec, true);
	ref = json_pack("{s:s}", "id", x->id);
	if (ref == NULL || dlen == 0) {
		json_decref(ref);
		return SIGNET_EINTERNAL;
	}
	store_put_json(t, STORE_DB_REPORTS, dkey, dlen, ref, false);
	json_decref(ref);
	snprintf(res, sizeof(res), "REPORT:%s", x->id);
	v = summary(x->rec);
	rc = audit_req(t, x->r, "CREATED", res, "signed report accepted", v);
	json_decref(v);
	return rc != 0 ? rc : t->err;
}

int
op_report_submit(struct request *r)
{
	struct report_run x = {.r = r};
	struct report_result res;
	const char *kind = NULL;
	uint8_t dg[32];
	size_t size = 0;
	char hex[65], me[ACL_SUBJECT_MAX];
	int rc;

	memset(&res, 0, sizeof(res));
	if (jargs_str(&r->args, "kind", true, 16, &kind) != 0) {
		return req_fail(r, SIGNET_EINVAL, "%s", r->args.why);
	}
	if (strcmp(kind, "SYSTEM") != 0 && strcmp(kind, "UPDATE") != 0) {
		return req_fail(r, SIGNET_EINVAL, "kind must be SYSTEM or UPDATE");
	}
	if ((rc = report_check(r, &x, &res, dg, &size)) != 0) {
		goto out;
	}
	task_new_id(r->subject.tenant, x.id);
	hex_encode(dg, sizeof(dg), hex);
	memcpy(x.sha, hex, sizeof(x.sha));
	policy_subject_name(&r->subject, me, sizeof(me));
	x.rec = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O}", "id",
			  x.id, "tenant", r->subject.tenant, "kind", kind, "receivedAt",
			  (json_int_t)time_now(), "by", me, "gatewayId", res.gateway_id,
			  "signerSubject", res.signer_subject, "signerFingerprint",
			  res.signer_fingerprint, "anchorFingerprint", res.anchor_fingerprint,
			  "size", (json_int_t)size, "sha256", hex, "content", res.content);
	if (x.rec == NULL) {
		rc = SIGNET_EINTERNAL;
		goto out;
	}
	if ((rc = store_write(r->d->store, submit_txn, &x)) != 0) {
		goto out;
	}
	if (x.existing != NULL) {
		json_object_set_new(x.existing, "duplicate", json_true());
		r->result = x.existing;
		x.existing = NULL;
		goto out;
	}
	log_info("tenant %s: %s report %s accepted from %s (anchor %s)", r->subject.tenant, kind,
		 x.id, res.signer_subject, res.anchor_fingerprint);
	r->result = summary(x.rec);
out:
	json_decref(res.content);
	json_decref(x.rec);
	json_decref(x.existing);
	json_decref(x.fingerprints);
	return rc;
}

int
op_report_verify(struct request *r)
{
	struct report_run x = {.r = r};
	struct report_result res;
	uint8_t dg[32];
	size_t size = 0;
	char hex[65];
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = report_check(r, &x, &res, dg, &size)) == 0) {
		hex_encode(dg, sizeof(dg), hex);
		r->result =
		    json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s}", "valid", 1, "gatewayId",
			      res.gateway_id, "signerSubject", res.signer_subject,
			      "signerFingerprint", res.signer_fingerprint, "anchorFingerprint",
			      res.anchor_fingerprint, "size", (json_int_t)size, "sha256", hex);
		rc = r->result != NULL ? 0 : SIGNET_EINTERNAL;
	}
	json_decref(res.content);
	json_decref(x.fingerprints);
	return rc;
}

static int
report_list_cb(const struct store_key *key, json_t *val, void *arg)
{
	json_t *s;

	(void)key;
	if (json_object_get(val, "kind") == NULL) {
		return 0; /* the digest index (~sha256:...), not a report */
	}
	s = summary(val);
	return s != NULL ? ops_list_append(arg, s) : SIGNET_EINTERNAL;
}

int
op_report_list(struct request *r)
{
	return ops_list(r, STORE_DB_REPORTS, r->subject.tenant, report_list_cb, "reports");
}

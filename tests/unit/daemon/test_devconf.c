/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/devconf.c: the device configuration record's decoder
 * and encoder. Records written before the record was typed decode and encode
 * back to themselves (no migration needed); broken records are refused.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/common/records.h"

#include "daemon/devconf.h"
#include "daemon/store_lmdb.h"
#include "daemon/keyref.h"
#include "hsm/hsm.h"
#include "lib/error.h"

/* Records as signetd before typed records wrote them (made by its devconf.create, .update,
 * .disable; the last one as the first release wrote it, with no cipher). */
static const char *const old_records[] = {
    "{\"approval\":{\"fourEyes\":null,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"cipher\":\""
    "AES256_CBC_PKCS7_PAD\",\"createdAt\":1796642402,\"createdBy\":\"alice\",\"description\""
    ":\"\",\"enabled\":true,\"encryptionKeys\":[],\"id\":\"01a2503b-6f81-7f8d-a4af-256bee6b"
    "0d93\",\"name\":\"d1\",\"packaging\":\"BOSCH_SE_V1\",\"packagingKey\":null,\"signingKe"
    "ys\":[\"sk\"],\"subjects\":{\"APPROVE\":[],\"USE\":[]},\"tenant\":\"acme\"}",
    "{\"approval\":{\"fourEyes\":true,\"quorum\":2,\"secondFactor\":\"NONE\"},\"cipher\":\""
    "AES256_CBC_PKCS7_PAD\",\"createdAt\":1796642402,\"createdBy\":\"alice\",\"description\""
    ":\"two keys\",\"enabled\":true,\"encryptionKeys\":[{\"algorithm\":\"AES_256\",\"label\""
    ":\"ek\",\"type\":\"TOKEN_KEY\"}],\"id\":\"01a2503b-6f89-7652-b396-4d6fbfd9b1ba\",\"nam"
    "e\":\"d2\",\"packaging\":\"BOSCH_SE_V1\",\"packagingKey\":\"pk\",\"signingKeys\":[\"rk"
    "\"],\"subjects\":{\"APPROVE\":[\"USER:carol\"],\"USE\":[\"USER:bob\"]},\"tenant\":\"ac"
    "me\"}",
    "{\"approval\":{\"fourEyes\":false,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"cipher\":\""
    "AES128_CBC_PKCS7_PAD\",\"createdAt\":1796642402,\"createdBy\":\"alice\",\"description\""
    ":\"\",\"enabled\":true,\"encryptionKeys\":[{\"algorithm\":\"AES_128\",\"label\":\"ek12"
    "8\",\"type\":\"TOKEN_KEY\"}],\"id\":\"01a2503b-6f90-7b52-86ea-37dd0ffcd1aa\",\"name\":"
    "\"d3\",\"packaging\":\"BOSCH_SE_V1\",\"packagingKey\":null,\"signingKeys\":[],\"subjec"
    "ts\":{\"APPROVE\":[],\"USE\":[]},\"tenant\":\"acme\"}",
    "{\"approval\":{\"fourEyes\":null,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"cipher\":\""
    "AES256_CBC_PKCS7_PAD\",\"createdAt\":1796642402,\"createdBy\":\"alice\",\"description\""
    ":\"\",\"enabled\":true,\"encryptionKeys\":[{\"certificatePem\":\"-----BEGIN CERTIFICAT"
    "E-----\\nMIIBmDCCAT+gAwIBAgIUMczYJegXKt1Si7+g+MDQKzOdrdMwCgYIKoZIzj0EAwIw\\nIjERMA8GA1"
    "UEAwwIZGV2aWNlIDExDTALBgNVBAoMBGFjbWUwHhcNMjYxMjA3MTEy\\nMDAyWhcNMjYxMjE3MTEyMDAyWjAiM"
    "REwDwYDVQQDDAhkZXZpY2UgMTENMAsGA1UE\\nCgwEYWNtZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBY9"
    "DbDVrDAA9Y7hNjch\\nuzR33YUsD0JyfzmOm77gn27e3VEJvYNR5q88mmbtJxWGPOcUuTcOeuSJRqSTJtiL\\n"
    "qi2jUzBRMB0GA1UdDgQWBBRfDlzhjvsAEFoZXolVc4r49oA/5TAfBgNVHSMEGDAW\\ngBRfDlzhjvsAEFoZXol"
    "Vc4r49oA/5TAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49\\nBAMCA0cAMEQCIHEk4p+I9WdrgMCDdBxwiws6PK"
    "c4KMowxQEIjkrcnC//AiAZs2pB\\ns//safBpgbp9tFgmHj5cceASOcCoE42oP7j+Ww==\\n-----END CERTI"
    "FICATE-----\\n\",\"sha256\":\"b0534b1715bd6b6bac9029763f51955fcdf34e9c47018911d3929d1a"
    "8cf13ef2\",\"subject\":\"/CN=device 1/O=acme\",\"type\":\"CERTIFICATE\"}],\"id\":\"01a"
    "2503b-6f93-7378-bba9-be949ed2f3ef\",\"name\":\"d4\",\"packaging\":\"BOSCH_SE_V1\",\"pa"
    "ckagingKey\":null,\"signingKeys\":[],\"subjects\":{\"APPROVE\":[],\"USE\":[]},\"tenant"
    "\":\"acme\"}",
    "{\"allowedSchemes\":[\"RSA_PSS\",\"RSA_PKCS1_V15\"],\"approval\":{\"fourEyes\":true,\""
    "quorum\":2,\"secondFactor\":\"NONE\"},\"cipher\":\"AES256_CBC_PKCS7_PAD\",\"createdAt\""
    ":1796642402,\"createdBy\":\"alice\",\"description\":\"two keys\",\"enabled\":true,\"en"
    "cryptionKeys\":[{\"algorithm\":\"AES_256\",\"label\":\"ek\",\"type\":\"TOKEN_KEY\"}],\""
    "id\":\"01a2503b-6f89-7652-b396-4d6fbfd9b1ba\",\"name\":\"d2\",\"packaging\":\"BOSCH_SE"
    "_V1\",\"packagingKey\":\"pk\",\"signingKeys\":[\"rk\"],\"subjects\":{\"APPROVE\":[\"US"
    "ER:carol\"],\"USE\":[\"USER:bob\"]},\"tenant\":\"acme\",\"updatedAt\":1796642402,\"upd"
    "atedBy\":\"alice\"}",
    "{\"approval\":{\"fourEyes\":null,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"cipher\":\""
    "AES256_CBC_PKCS7_PAD\",\"createdAt\":1796642402,\"createdBy\":\"alice\",\"description\""
    ":\"\",\"enabled\":false,\"encryptionKeys\":[],\"id\":\"01a2503b-6f81-7f8d-a4af-256bee6"
    "b0d93\",\"name\":\"d1\",\"packaging\":\"BOSCH_SE_V1\",\"packagingKey\":null,\"signingK"
    "eys\":[\"sk\"],\"subjects\":{\"APPROVE\":[],\"USE\":[]},\"tenant\":\"acme\",\"updatedA"
    "t\":1796642402,\"updatedBy\":\"alice\"}",
    "{\"approval\":{\"fourEyes\":null,\"quorum\":1,\"secondFactor\":\"TOTP\"},\"createdAt\""
    ":1796642402,\"createdBy\":\"alice\",\"description\":\"\",\"enabled\":true,\"encryption"
    "Keys\":[],\"id\":\"01a2503b-6f81-7f8d-a4af-256bee6b0d93\",\"name\":\"first-release\",\""
    "packaging\":\"BOSCH_SE_V1\",\"packagingKey\":null,\"signingKeys\":[\"sk\"],\"subjects\""
    ":{\"APPROVE\":[],\"USE\":[]},\"tenant\":\"acme\"}",
};

#define NRECORDS (sizeof(old_records) / sizeof(old_records[0]))

static void
test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NRECORDS; i++) {
		json_t *rec = record_load(old_records[i]), *again;
		struct devconf dc = {0};

		assert_int_equal(devconf_decode(rec, &dc), 0);
		again = devconf_encode(&dc);
		record_assert_same(i, rec, again);
		json_decref(again);
		devconf_clear(&dc);
		json_decref(rec);
	}
}

/* What the handlers read of the records above. */
static void
test_fields(void **state)
{
	struct devconf dc = {0};
	json_t *rec;

	(void)state;
	rec = record_load(old_records[4]); /* d2, after its update */
	assert_int_equal(devconf_decode(rec, &dc), 0);
	assert_string_equal(dc.name, "d2");
	assert_string_equal(dc.description, "two keys");
	assert_int_equal(dc.nsign, 1);
	assert_string_equal(dc.sign_keys[0], "rk");
	assert_string_equal(dc.packaging_key, "pk");
	assert_int_equal(dc.nenc, 1);
	assert_int_equal(dc.enc[0].type, DEVCONF_ENC_TOKEN_KEY);
	assert_string_equal(dc.enc[0].label, "ek");
	assert_int_equal(dc.approval.four_eyes, 1);
	assert_int_equal(dc.approval.quorum, 2);
	assert_string_equal(dc.approval.second_factor, "NONE");
	assert_true(devconf_needs_approval(&dc, false));
	assert_int_equal(devconf_schemes(&dc),
			 (1u << HSM_SCHEME_RSA_PSS) | (1u << HSM_SCHEME_RSA_PKCS1_V15));
	assert_string_equal(devconf_key_use(&dc, "rk"), KEY_PURPOSE_SIGNING);
	assert_string_equal(devconf_key_use(&dc, "pk"), KEY_PURPOSE_PACKAGING);
	assert_null(devconf_key_use(&dc, "ek"));
	assert_int_equal(dc.nsubjects[DEVCONF_USE], 1);
	assert_string_equal(dc.subjects[DEVCONF_USE][0], "USER:bob");
	assert_string_equal(dc.subjects[DEVCONF_APPROVE][0], "USER:carol");
	assert_true(dc.updated_at > 0);
	json_decref(rec);

	rec = record_load(old_records[0]); /* d1: fourEyes null, the default schemes */
	assert_int_equal(devconf_decode(rec, &dc), 0);
	assert_int_equal(dc.approval.four_eyes, -1);
	assert_false(devconf_needs_approval(&dc, false));
	assert_true(devconf_needs_approval(&dc, true));
	assert_int_equal(devconf_schemes(&dc), HSM_SCHEMES_DEFAULT);
	assert_int_equal(dc.updated_at, 0);
	json_decref(rec);

	rec = record_load(old_records[3]); /* d4: a certificate */
	assert_int_equal(devconf_decode(rec, &dc), 0);
	assert_int_equal(dc.enc[0].type, DEVCONF_ENC_CERTIFICATE);
	assert_non_null(strstr(dc.enc[0].certificate_pem, "BEGIN CERTIFICATE"));
	assert_int_equal(strlen(dc.enc[0].sha256), 64);
	json_decref(rec);

	rec = record_load(old_records[NRECORDS - 1]); /* first release: no cipher */
	assert_int_equal(devconf_decode(rec, &dc), 0);
	assert_string_equal(dc.cipher, "");
	json_decref(rec);
	devconf_clear(&dc);
}

/* Each change breaks the record: the decoder refuses it and leaves nothing behind. */
static void
test_broken(void **state)
{
	static const char *const breaks[][2] = {
	    {"id", "null"},
	    {"name", "7"},
	    {"enabled", "\"yes\""},
	    {"createdAt", "\"now\""},
	    {"signingKeys", "\"sk\""},
	    {"signingKeys", "[1]"},
	    {"signingKeys", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]"},
	    {"packagingKey", "3"},
	    {"encryptionKeys", "[{\"type\":\"SECRET\"}]"},
	    {"encryptionKeys", "[{\"type\":\"TOKEN_KEY\",\"label\":\"ek\"}]"},
	    {"encryptionKeys", "[{\"type\":\"CERTIFICATE\",\"subject\":\"x\",\"sha256\":\"00\"}]"},
	    {"allowedSchemes", "[\"RSA_RAW\"]"},
	    {"allowedSchemes", "\"ECDSA\""},
	    {"approval", "{\"fourEyes\":1,\"quorum\":1,\"secondFactor\":\"TOTP\"}"},
	    {"approval", "{\"fourEyes\":null,\"secondFactor\":\"TOTP\"}"},
	    {"approval", "null"},
	    {"subjects", "{\"USE\":[7]}"},
	    {"subjects", "[]"},
	    {"updatedAt", "5"}, /* without updatedBy */
	    {"description", "[]"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		json_t *rec = record_load(old_records[0]), *v = record_load(breaks[i][1]);
		struct devconf dc = {0};
		json_object_set_new(rec, breaks[i][0], v);
		if (strcmp(breaks[i][0], "description") == 0) {
			/* Not a string: the decoder takes "" (the first release had none). */
			assert_int_equal(devconf_decode(rec, &dc), 0);
			assert_string_equal(dc.description, "");
		} else {
			if (devconf_decode(rec, &dc) != SIGNET_EINTERNAL) {
				print_error("break %zu (%s) was accepted\n", i, breaks[i][0]);
				fail();
			}
			assert_null(dc.description);
			assert_int_equal(dc.nenc, 0);
		}
		devconf_clear(&dc);
		json_decref(rec);
	}
	{
		json_t *n = json_integer(3);
		struct devconf dc = {0};
		assert_int_equal(devconf_decode(n, &dc), SIGNET_EINTERNAL);
		json_decref(n);
	}
}

/* ---- the key index (STORE_DB_KEY_USES) ---- */

struct kx {
	struct store *st;
	char dir[64];
	struct devconf dc; /* to write */
	bool nooverwrite;
	const char *tenant, *label; /* to scan */
	char seen[8][DEVCONF_ID_MAX + 1];
	size_t nseen;
	int rc;
};

static int
kx_write_txn(struct store_txn *t, void *arg)
{
	struct kx *x = arg;

	devconf_write(t, &x->dc, x->nooverwrite);
	return t->err;
}

/* Write record REC (JSON text) changed by EDIT (when not NULL); the commit's result. */
static int
kx_write(struct kx *x, const char *rec, void (*edit)(struct devconf *), bool nooverwrite)
{
	json_t *j = record_load(rec);

	assert_int_equal(devconf_decode(j, &x->dc), 0);
	json_decref(j);
	if (edit != NULL) {
		edit(&x->dc);
	}
	x->nooverwrite = nooverwrite;
	int rc = store_write(x->st, kx_write_txn, x);
	devconf_clear(&x->dc);
	return rc;
}

static int
kx_seen_cb(const struct devconf *dc, void *arg)
{
	struct kx *x = arg;

	if (dc == NULL) {
		return SIGNET_EINTERNAL; /* as the strictest-policy look does */
	}
	assert_true(x->nseen < 8);
	assert_string_equal(dc->tenant, x->tenant);
	snprintf(x->seen[x->nseen++], sizeof(x->seen[0]), "%s", dc->id);
	return 0;
}

static int
kx_scan_txn(struct store_txn *t, void *arg)
{
	struct kx *x = arg;

	x->nseen = 0;
	x->rc = devconf_foreach_using(t, x->tenant, x->label, NULL, kx_seen_cb, x);
	return 0;
}

/* The ids of TENANT's configurations naming LABEL, ", "-joined into OUT; the scan's result. */
static int
kx_scan(struct kx *x, const char *tenant, const char *label, char *out, size_t len)
{
	x->tenant = tenant;
	x->label = label;
	assert_int_equal(store_read(x->st, kx_scan_txn, x), 0);
	out[0] = '\0';
	for (size_t i = 0; i < x->nseen; i++) {
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? ", " : "", x->seen[i]);
	}
	return x->rc;
}

#define D1 "01a2503b-6f81-7f8d-a4af-256bee6b0d93" /* old_records[0]: signs with sk */
#define D2 "01a2503b-6f89-7652-b396-4d6fbfd9b1ba" /* old_records[1]: rk, packages with pk */

static void
d2_signs_with_sk(struct devconf *dc)
{
	snprintf(dc->sign_keys[0], sizeof(dc->sign_keys[0]), "sk");
	dc->packaging_key[0] = '\0';
}

static void
to_other_tenant(struct devconf *dc)
{
	snprintf(dc->tenant, sizeof(dc->tenant), "other");
}

static int
kx_wipe_txn(struct store_txn *t, void *arg)
{
	(void)arg;
	while (store_del_first(t, STORE_DB_KEY_USES, 100) > 0) {
	}
	return t->err;
}

static int
kx_bad_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_pack("{s:s}", "id", "not a configuration");

	(void)arg;
	store_put_json(t, STORE_DB_DEVCONFS, "acme\0zz-broken", 14, v, false);
	json_decref(v);
	return t->err;
}

/* Put VALUE under KEY in the devconfs database as raw bytes, the store closed meanwhile. */
static void
kx_raw_put(struct kx *x, const char *key, size_t klen, const char *value)
{
	char path[96];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {strlen(value), (void *)value};

	snprintf(path, sizeof(path), "%s/db", x->dir);
	store_close(x->st);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "devconfs", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(store_open(path, 8u << 20, &x->st), 0);
}

static int
kx_extra_txn(struct store_txn *t, void *arg)
{
	json_t *v = json_object();

	(void)arg;
	store_put_json(t, STORE_DB_KEY_USES, "acme\0\0gone", 10, v, false);
	json_decref(v);
	return t->err;
}

static void
test_key_index(void **state)
{
	struct kx *x = calloc(1, sizeof(*x));
	char got[512], path[96];
	size_t n = 0;
	bool rebuilt = false;

	(void)state;
	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/signet-devconf.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(path, sizeof(path), "%s/db", x->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_open(path, 8u << 20, &x->st), 0);

	/* Each signing and packaging key names its configurations; encryption keys do not. */
	assert_int_equal(kx_write(x, old_records[0], NULL, true), 0);
	assert_int_equal(kx_write(x, old_records[1], NULL, true), 0);
	assert_int_equal(kx_write(x, old_records[0], to_other_tenant, true), 0);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1);
	assert_int_equal(kx_scan(x, "acme", "rk", got, sizeof(got)), 0);
	assert_string_equal(got, D2);
	assert_int_equal(kx_scan(x, "acme", "pk", got, sizeof(got)), 0);
	assert_string_equal(got, D2);
	assert_int_equal(kx_scan(x, "acme", "ek", got, sizeof(got)), 0);
	assert_string_equal(got, "");
	assert_int_equal(kx_scan(x, "acme", "s", got, sizeof(got)), 0); /* a prefix of a label */
	assert_string_equal(got, "");
	assert_int_equal(kx_scan(x, "other", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1);
	assert_int_equal(kx_scan(x, "other", "rk", got, sizeof(got)), 0);
	assert_string_equal(got, "");

	/* A disabled configuration keeps its entries (the reader decides). */
	assert_int_equal(kx_write(x, old_records[5], NULL, false), 0);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1);

	/* An update moves the entries: d2 now signs with sk and packages with nothing. */
	assert_int_equal(kx_write(x, old_records[1], d2_signs_with_sk, false), 0);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1 ", " D2);
	assert_int_equal(kx_scan(x, "acme", "rk", got, sizeof(got)), 0);
	assert_string_equal(got, "");
	assert_int_equal(kx_scan(x, "acme", "pk", got, sizeof(got)), 0);
	assert_string_equal(got, "");

	/* A create over an existing record fails and leaves the index as it was. */
	assert_int_equal(kx_write(x, old_records[1], NULL, true), SIGNET_ECONFLICT);
	assert_int_equal(kx_scan(x, "acme", "rk", got, sizeof(got)), 0);
	assert_string_equal(got, "");

	/* Rebuilt from the records alone (a store written without the index). */
	assert_int_equal(store_write(x->st, kx_wipe_txn, NULL), 0);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, "");
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_int_equal(n, 3);
	assert_true(rebuilt);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1 ", " D2);
	/* A whole index is left as it is (a start on a full disk writes nothing). */
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_int_equal(n, 3);
	assert_false(rebuilt);
	/* An entry too many (a marker left from a record since mended) is found and dropped. */
	assert_int_equal(store_write(x->st, kx_extra_txn, NULL), 0);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), SIGNET_EINTERNAL);
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_true(rebuilt);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1 ", " D2);
	assert_int_equal(kx_scan(x, "other", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1);

	/* A record that does not decode: which keys it names is unknown, so its tenant's scans
	 * fail (closed) after a rebuild; another tenant's do not. */
	assert_int_equal(store_write(x->st, kx_bad_txn, NULL), 0);
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_int_equal(n, 3);
	assert_true(rebuilt);
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_false(rebuilt);
	assert_int_equal(kx_scan(x, "acme", "sk", got, sizeof(got)), SIGNET_EINTERNAL);
	assert_int_equal(kx_scan(x, "acme", "nothing", got, sizeof(got)), SIGNET_EINTERNAL);
	assert_int_equal(kx_scan(x, "other", "sk", got, sizeof(got)), 0);
	assert_string_equal(got, D1);

	/* Bytes that do not parse, and a record naming another tenant than its key's, mark their
	 * tenant the same way and do not stop the start. */
	kx_raw_put(x, "other\0zz-junk", 13, "{not json");
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_true(rebuilt);
	assert_int_equal(kx_scan(x, "other", "sk", got, sizeof(got)), SIGNET_EINTERNAL);
	{
		json_t *j = record_load(old_records[0]);
		char *text;
		json_object_set_new(j, "tenant", json_string("third"));
		text = json_dumps(j, JSON_COMPACT);
		kx_raw_put(x, "third\0" D1, 6 + strlen(D1), "{}");
		kx_raw_put(x, "fourth\0" D1, 7 + strlen(D1), text); /* says "third" */
		free(text);
		json_decref(j);
	}
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_true(rebuilt);
	assert_int_equal(kx_scan(x, "fourth", "sk", got, sizeof(got)), SIGNET_EINTERNAL);
	assert_int_equal(kx_scan(x, "third", "sk", got, sizeof(got)), SIGNET_EINTERNAL);
	assert_int_equal(devconf_index_rebuild(x->st, &n, &rebuilt), 0);
	assert_false(rebuilt);

	store_close(x->st);
	snprintf(path, sizeof(path), "rm -rf '%s'", x->dir);
	assert_int_equal(system(path), 0);
	free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_key_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

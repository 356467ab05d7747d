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

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/common/records.h"

#include "daemon/devconf.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_broken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

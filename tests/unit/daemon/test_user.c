/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/user.c: the user record's decoder and encoder. Records
 * written before the record was typed decode and encode back to themselves;
 * broken records are refused.
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

#include "daemon/user.h"
#include "lib/error.h"

/* Records as signetd before typed records wrote them (tenant.create, user.create of a user in
 * two groups and of a client, otp-enroll, user revoke). */
static const char *const old_records[] = {
    "{\"name\":\"alice\",\"tenant\":\"acme\",\"groups\":[],\"client\":false,\"admin\":true,"
    "\"created\":1796642696,\"tokenHash\":\"3c26168d61a1864004ea5718e620f06cb5487bc68704f97"
    "80482d0808df72017\",\"tokenCreated\":1796642696}",
    "{\"name\":\"bob\",\"tenant\":\"acme\",\"groups\":[\"dev\",\"ops\"],\"client\":false,\""
    "admin\":false,\"created\":1796642696,\"tokenHash\":\"ca959b798488b3be9e58d8930f33a247d"
    "3b8033b03d9a9baa1afa8acfc007dc2\",\"tokenCreated\":1796642696}",
    "{\"name\":\"carol\",\"tenant\":\"acme\",\"groups\":[],\"client\":false,\"admin\":false"
    ",\"created\":1796642696,\"tokenHash\":\"71c5bf2e70c10309cf7e146c9a756683c095044d5acece"
    "087ba81eb974e663bc\",\"tokenCreated\":1796642696,\"otp\":{\"seedId\":\"08bbf78a5d219a4"
    "ccafc935ea3dbe0de\",\"enrolledAt\":1796642696,\"lastStep\":0,\"failures\":0,\"lockedUn"
    "til\":0}}",
    "{\"name\":\"ci\",\"tenant\":\"acme\",\"groups\":[],\"client\":true,\"admin\":false,\"c"
    "reated\":1796642696,\"tokenHash\":\"00836e1afc4416381cf8cdba5ad2d4344a445ae736cf46dd01"
    "568c42a69d6484\",\"tokenCreated\":1796642696}",
    "{\"name\":\"dan\",\"tenant\":\"acme\",\"groups\":[],\"client\":false,\"admin\":false,\""
    "created\":1796642696,\"tokenHash\":null,\"tokenCreated\":1796642696}",
};

#define NRECORDS (sizeof(old_records) / sizeof(old_records[0]))

static void
test_round_trip(void **state)
{
	(void)state;
	assert_int_equal(NRECORDS, 5);
	for (size_t i = 0; i < NRECORDS; i++) {
		json_t *rec = record_load(old_records[i]), *again;
		struct user_record u;

		assert_int_equal(user_decode(rec, &u), 0);
		again = user_encode(&u);
		record_assert_same(i, rec, again);
		json_decref(again);
		json_decref(rec);
	}
}

static void
test_fields(void **state)
{
	struct user_record u;
	uint8_t id[HSM_ID_LEN];
	json_t *rec;

	(void)state;
	rec = record_load(old_records[0]); /* alice, the tenant's admin */
	assert_int_equal(user_decode(rec, &u), 0);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.tenant, "acme");
	assert_true(u.admin);
	assert_false(u.client);
	assert_int_equal(strlen(u.token_hash), 64);
	assert_false(u.enrolled);
	assert_int_equal(user_seed_id(&u, id), -1);
	json_decref(rec);

	rec = record_load(old_records[1]); /* bob, in two groups */
	assert_int_equal(user_decode(rec, &u), 0);
	assert_int_equal(u.ngroups, 2);
	assert_string_equal(u.groups[0], "dev");
	assert_string_equal(u.groups[1], "ops");
	json_decref(rec);

	rec = record_load(old_records[2]); /* carol, enrolled */
	assert_int_equal(user_decode(rec, &u), 0);
	assert_true(u.enrolled);
	assert_int_equal(user_seed_id(&u, id), 0);
	assert_int_equal(u.otp.failures, 0);
	json_decref(rec);

	rec = record_load(old_records[3]); /* ci, a client */
	assert_int_equal(user_decode(rec, &u), 0);
	assert_true(u.client);
	json_decref(rec);

	rec = record_load(old_records[4]); /* dan, revoked */
	assert_int_equal(user_decode(rec, &u), 0);
	assert_string_equal(u.token_hash, "");
	json_decref(rec);
}

static void
test_broken(void **state)
{
	static const char *const breaks[][2] = {
	    {"name", "null"},
	    {"tenant", "1"},
	    {"client", "0"},
	    {"admin", "\"no\""},
	    {"created", "\"today\""},
	    {"groups", "\"dev\""},
	    {"groups", "[1]"},
	    {"tokenHash", "\"abc\""},
	    {"tokenHash", "7"},
	    {"tokenCreated", "null"},
	    {"otp", "{\"seedId\":\"00\",\"enrolledAt\":1,\"lastStep\":0,\"failures\":0,"
		    "\"lockedUntil\":0}"},
	    {"otp", "{\"seedId\":\"08bbf78a5d219a4ccafc935ea3dbe0de\",\"enrolledAt\":1,"
		    "\"lastStep\":0,\"failures\":-1,\"lockedUntil\":0}"},
	    {"otp", "{\"seedId\":\"08bbf78a5d219a4ccafc935ea3dbe0de\",\"enrolledAt\":1}"},
	    {"otp", "true"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		json_t *rec = record_load(old_records[2]), *v = record_load(breaks[i][1]);
		struct user_record u;
		json_object_set_new(rec, breaks[i][0], v);
		if (user_decode(rec, &u) != SIGNET_EINTERNAL) {
			print_error("break %zu (%s) was accepted\n", i, breaks[i][0]);
			fail();
		}
		assert_string_equal(u.name, "");
		json_decref(rec);
	}
	{
		json_t *rec = record_load(old_records[1]);
		json_t *many = json_array();
		struct user_record u;
		for (int i = 0; i <= USER_GROUPS_MAX; i++) {
			json_array_append_new(many, json_string("g"));
		}
		json_object_set_new(rec, "groups", many);
		assert_int_equal(user_decode(rec, &u), SIGNET_EINTERNAL);
		json_decref(rec);
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

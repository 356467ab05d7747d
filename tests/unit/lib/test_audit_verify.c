/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/audit_verify.c: the encoding, good exports, the tampering catalogue. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "lib/audit_verify.h"
#include "lib/codec.h"
#include "lib/error.h"

#define CHAIN "acme"
#define N     20 /* entries of the test log */
#define EVERY 7  /* a checkpoint after every EVERY entries, and one at the end */

static EVP_PKEY *key, *other_key;

static int
group_setup(void **state)
{
	key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	return key != NULL && other_key != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	EVP_PKEY_free(key);
	EVP_PKEY_free(other_key);
	return 0;
}

static void
hex32(const uint8_t h[32], char out[65])
{
	hex_encode(h, 32, out);
}

/* Sign CK (its signed members set) with K and store the base64 DER signature. */
static void
sign_checkpoint(json_t *ck, EVP_PKEY *k)
{
	uint8_t *tbs, sig[128];
	size_t tbslen, siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char b64[200];

	assert_int_equal(audit_checkpoint_tbs(ck, &tbs, &tbslen), 0);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen, tbs, tbslen), 1);
	base64_encode(sig, siglen, b64, false);
	json_object_set_new(ck, "signature", json_string(b64));
	EVP_MD_CTX_free(md);
	free(tbs);
}

static json_t *
make_checkpoint(const char *chain, long long seq, const char *hash, const char *prev_sig)
{
	json_t *ck =
	    json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "type", "checkpoint", "chain", chain, "seq",
		      (json_int_t)seq, "hash", hash, "time", (json_int_t)(1700000000 + seq),
		      "prevSignature", prev_sig != NULL ? json_string(prev_sig) : json_null());

	sign_checkpoint(ck, key);
	return ck;
}

/* Entry SEQ after PREV: every third one has the nullable members null. */
static json_t *
make_entry(const char *chain, long long seq, const uint8_t prev[32])
{
	char prevhex[65], hashhex[65], res[64], val[64];
	uint8_t h[32];
	bool nulls = seq % 3 == 0;
	json_t *e;

	snprintf(res, sizeof(res), "TASK:%lld", seq);
	snprintf(val, sizeof(val), "{\"n\":%lld,\"s\":\"\\u00e9t\\u00e9\"}", seq);
	hex32(prev, prevhex);
	e = json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:s}", "type",
		      "entry", "chain", chain, "seq", (json_int_t)seq, "time",
		      (json_int_t)(1700000000 + seq), "tenant",
		      nulls ? json_null() : json_string(chain), "actor",
		      nulls ? json_null() : json_string("USER:alice"), "peerUid",
		      nulls ? json_null() : json_integer(1000 + seq), "verb", "CREATED", "resource",
		      res, "message", "task created: caf\xc3\xa9", "value",
		      nulls ? json_null() : json_string(val), "prevHash", prevhex);
	audit_entry_hash(prev, e, h);
	hex32(h, hashhex);
	json_object_set_new(e, "hash", json_string(hashhex));
	return e;
}

static void
hash_of(const json_t *e, uint8_t h[32])
{
	assert_true(hex_decode(json_string_value(json_object_get(e, "hash")), h, 32));
}

/* Entries 1..n with a checkpoint after every EVERY and a fresh one at the end. */
static json_t *
make_log(const char *chain, long long n, bool initial)
{
	json_t *log = json_array(), *ck;
	uint8_t prev[32] = {0};
	char sig[200] = "", zeros[65];

	if (initial) {
		memset(zeros, '0', 64);
		zeros[64] = '\0';
		ck = make_checkpoint(chain, 0, zeros, NULL);
		snprintf(sig, sizeof(sig), "%s",
			 json_string_value(json_object_get(ck, "signature")));
		json_array_append_new(log, ck);
	}
	for (long long seq = 1; seq <= n; seq++) {
		json_t *e = make_entry(chain, seq, prev);
		hash_of(e, prev);
		json_array_append_new(log, e);
		/* Periodic checkpoints, and the fresh one an export ends with. */
		for (int k = (seq % EVERY == 0) + (seq == n); k > 0; k--) {
			ck = make_checkpoint(chain, seq,
					     json_string_value(json_object_get(e, "hash")),
					     sig[0] != '\0' ? sig : NULL);
			snprintf(sig, sizeof(sig), "%s",
				 json_string_value(json_object_get(ck, "signature")));
			json_array_append_new(log, ck);
		}
	}
	return log;
}

/* Index of the record of TYPE with SEQ (the first one). */
static size_t
find(const json_t *log, const char *type, long long seq)
{
	size_t i;
	json_t *r;

	json_array_foreach(log, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "type")), type) == 0 &&
		    json_integer_value(json_object_get(r, "seq")) == seq) {
			return i;
		}
	}
	fail_msg("no %s %lld", type, seq);
	return 0;
}

static json_t *
entry(json_t *log, long long seq)
{
	return json_array_get(log, find(log, "entry", seq));
}

static json_t *
checkpoint(json_t *log, long long seq)
{
	return json_array_get(log, find(log, "checkpoint", seq));
}

static FILE *
text_file(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	rewind(f);
	return f;
}

static FILE *
log_file(const json_t *log)
{
	FILE *f = tmpfile();
	size_t i;
	json_t *r;

	assert_non_null(f);
	json_array_foreach(log, i, r) {
		assert_int_equal(json_dumpf(r, f, JSON_COMPACT), 0);
		fputc('\n', f);
	}
	rewind(f);
	return f;
}

static int
verify_with(const json_t *log, EVP_PKEY *k, struct audit_verify_result *res)
{
	FILE *f = log_file(log);
	int r = audit_verify_file(f, k, res);

	fclose(f);
	return r;
}

/* Verify LOG (then free it) and check the status, the first bad seq and that a message says so. */
#define expect(log, status, seq)                                                                   \
	do {                                                                                       \
		struct audit_verify_result res_;                                                   \
		int r_ = verify_with(log, key, &res_);                                             \
		if (r_ != (status) || res_.bad_seq != (uint64_t)(seq)) {                           \
			fail_msg("expected %d at seq %llu, got %d at seq %llu: %s", (status),      \
				 (unsigned long long)(seq), r_, (unsigned long long)res_.bad_seq,  \
				 res_.message);                                                    \
		}                                                                                  \
		assert_true(res_.message[0] != '\0' && strcmp(res_.message, "verified") != 0);     \
		json_decref(log);                                                                  \
	} while (0)

/* Append one canonical field to BUF: a 4-byte big-endian length, then the bytes (none for null). */
static void
put(uint8_t *buf, size_t *n, uint32_t len, const char *bytes)
{
	buf[(*n)++] = (uint8_t)(len >> 24);
	buf[(*n)++] = (uint8_t)(len >> 16);
	buf[(*n)++] = (uint8_t)(len >> 8);
	buf[(*n)++] = (uint8_t)len;
	if (len != 0xFFFFFFFFu) {
		memcpy(buf + *n, bytes, len);
		*n += len;
	}
}

static void
test_checkpoint_tbs_encoding(void **state)
{
	static const char hash[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	uint8_t want[256], *got;
	size_t n = 0, gotlen;
	json_t *ck;

	put(want, &n, 26, "signet-audit-checkpoint-v1");
	put(want, &n, 10, "~appliance");
	put(want, &n, 1, "7");
	put(want, &n, 64, hash);
	put(want, &n, 10, "1700000000");
	put(want, &n, 0xFFFFFFFFu, NULL);

	ck = json_pack("{s:s, s:s, s:i, s:s, s:i, s:n, s:s}", "type", "checkpoint", "chain",
		       "~appliance", "seq", 7, "hash", hash, "time", 1700000000, "prevSignature",
		       "signature", "AAAA");
	assert_int_equal(audit_checkpoint_tbs(ck, &got, &gotlen), 0);
	assert_int_equal(gotlen, n);
	assert_memory_equal(got, want, n);
	free(got);

	/* prevSignature as its base64 text. */
	json_object_set_new(ck, "prevSignature", json_string("MEUCIQ=="));
	n -= 4;
	put(want, &n, 8, "MEUCIQ==");
	assert_int_equal(audit_checkpoint_tbs(ck, &got, &gotlen), 0);
	assert_int_equal(gotlen, n);
	assert_memory_equal(got, want, n);
	free(got);

	/* A member missing or of the wrong type. */
	json_object_set_new(ck, "seq", json_string("7"));
	assert_int_equal(audit_checkpoint_tbs(ck, &got, &gotlen), SIGNET_EINVAL);
	json_object_del(ck, "seq");
	assert_int_equal(audit_checkpoint_tbs(ck, &got, &gotlen), SIGNET_EINVAL);
	json_decref(ck);
}

/* The hash over the encoding built by hand: a negative integer, zero, null and UTF-8. */
static void
test_entry_hash_encoding(void **state)
{
	uint8_t prev[32], want[32], got[32], enc[512];
	size_t n = 32;
	unsigned int mdlen;
	json_t *e;

	for (int i = 0; i < 32; i++) {
		prev[i] = (uint8_t)i;
	}
	memcpy(enc, prev, 32);
	put(enc, &n, 4, "acme");
	put(enc, &n, 2, "42");
	put(enc, &n, 2, "-5");
	put(enc, &n, 0xFFFFFFFFu, NULL);
	put(enc, &n, 9, "USER:al\xc3\xa9");
	put(enc, &n, 1, "0");
	put(enc, &n, 7, "CREATED");
	put(enc, &n, 6, "KEY:fw");
	put(enc, &n, 2, "hi");
	put(enc, &n, 7, "{\"a\":1}");
	assert_int_equal(EVP_Digest(enc, n, want, &mdlen, EVP_sha256(), NULL), 1);

	e = json_pack("{s:s, s:s, s:i, s:i, s:n, s:s, s:i, s:s, s:s, s:s, s:s}", "type", "entry",
		      "chain", "acme", "seq", 42, "time", -5, "tenant", "actor", "USER:al\xc3\xa9",
		      "peerUid", 0, "verb", "CREATED", "resource", "KEY:fw", "message", "hi",
		      "value", "{\"a\":1}");
	audit_entry_hash(prev, e, got);
	assert_memory_equal(got, want, 32);

	/* The members that are not hashed do not matter; those that are, do. */
	json_object_set_new(e, "hash", json_string("x"));
	audit_entry_hash(prev, e, got);
	assert_memory_equal(got, want, 32);
	json_object_set_new(e, "tenant", json_string(""));
	audit_entry_hash(prev, e, got);
	assert_memory_not_equal(got, want, 32);
	json_decref(e);
}

static void
test_good_logs(void **state)
{
	struct audit_verify_result res;
	json_t *log = make_log(CHAIN, N, false);

	assert_int_equal(verify_with(log, key, &res), AUDIT_VERIFY_OK);
	assert_int_equal(res.bad_seq, 0);
	assert_int_equal(res.line, 0);
	assert_int_equal(res.entries, N);
	assert_int_equal(res.checkpoints, 3);
	assert_string_equal(res.chain, CHAIN);
	assert_string_equal(res.message, "verified");
	json_decref(log);

	/* A checkpoint at seq 0 first, the appliance chain, two checkpoints at the end. */
	log = make_log("~appliance", 14, true);
	assert_int_equal(verify_with(log, key, &res), AUDIT_VERIFY_OK);
	assert_int_equal(res.entries, 14);
	assert_int_equal(res.checkpoints, 4);
	assert_string_equal(res.chain, "~appliance");
	json_decref(log);

	/* A chain with no entries yet. */
	log = make_log(CHAIN, 0, true);
	assert_int_equal(verify_with(log, key, &res), AUDIT_VERIFY_OK);
	assert_int_equal(res.entries, 0);
	assert_int_equal(res.checkpoints, 1);
	json_decref(log);

	/* The last line without its newline. */
	{
		FILE *f;
		log = make_log(CHAIN, 3, false);
		f = log_file(log);
		fseek(f, -1, SEEK_END);
		assert_int_equal(ftruncate(fileno(f), ftell(f)), 0);
		rewind(f);
		assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_OK);
		fclose(f);
		json_decref(log);
	}
}

/* An entry of almost 1 MiB verifies; a line over 1 MiB is refused. */
static void
test_line_limit(void **state)
{
	size_t big = AUDIT_LINE_MAX - 2000;
	char *msg = malloc(big + 1);
	json_t *log = make_log(CHAIN, 3, false), *e;
	uint8_t prev[32], h[32];
	char hex[65];
	struct audit_verify_result res;

	assert_non_null(msg);
	memset(msg, 'm', big);
	msg[big] = '\0';
	/* Rewrite entry 3 (the last) with a big message and sign its checkpoint again. */
	e = entry(log, 3);
	json_object_set_new(e, "message", json_string(msg));
	hash_of(entry(log, 2), prev);
	audit_entry_hash(prev, e, h);
	hex32(h, hex);
	json_object_set_new(e, "hash", json_string(hex));
	json_object_set_new(checkpoint(log, 3), "hash", json_string(hex));
	sign_checkpoint(checkpoint(log, 3), key);
	assert_int_equal(verify_with(log, key, &res), AUDIT_VERIFY_OK);

	/* Over the limit: not an export, whatever the rest says. */
	msg = realloc(msg, AUDIT_LINE_MAX + 2);
	assert_non_null(msg);
	memset(msg, 'm', AUDIT_LINE_MAX + 1);
	msg[AUDIT_LINE_MAX + 1] = '\0';
	json_object_set_new(e, "message", json_string(msg));
	free(msg);
	expect(log, AUDIT_VERIFY_FORMAT, 0);
}

static void
flip_hex(json_t *obj, const char *member)
{
	char s[65];

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(obj, member)));
	s[10] = s[10] == '0' ? '1' : '0';
	json_object_set_new(obj, member, json_string(s));
}

static void
append_x(json_t *obj, const char *member)
{
	char s[256];

	snprintf(s, sizeof(s), "%sx", json_string_value(json_object_get(obj, member)));
	json_object_set_new(obj, member, json_string(s));
}

/* Any one member of an entry changed: that entry is wrong. */
static void
test_entry_fields_modified(void **state)
{
	static const char *const strings[] = {"chain",    "tenant",  "actor", "verb",
					      "resource", "message", "value"};
	static const char *const integers[] = {"seq", "time", "peerUid"};
	static const char *const hashes[] = {"prevHash", "hash"};
	static const char *const nullable[] = {"tenant", "actor", "peerUid", "value"};
	json_t *log;

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		log = make_log(CHAIN, N, false);
		append_x(entry(log, 5), strings[i]);
		expect(log, AUDIT_VERIFY_ENTRY, 5);
	}
	for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
		json_t *e;
		log = make_log(CHAIN, N, false);
		e = entry(log, 5);
		json_object_set_new(
		    e, integers[i],
		    json_integer(json_integer_value(json_object_get(e, integers[i])) + 1));
		expect(log, AUDIT_VERIFY_ENTRY, 5);
	}
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		log = make_log(CHAIN, N, false);
		flip_hex(entry(log, 5), hashes[i]);
		expect(log, AUDIT_VERIFY_ENTRY, 5);
		/* Upper-case hex is another spelling: refused too. */
		log = make_log(CHAIN, N, false);
		{
			char s[65];
			snprintf(s, sizeof(s), "%s",
				 json_string_value(json_object_get(entry(log, 8), hashes[i])));
			for (char *p = s; *p != '\0'; p++) {
				*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
			}
			json_object_set_new(entry(log, 8), hashes[i], json_string(s));
		}
		expect(log, AUDIT_VERIFY_ENTRY, 8);
	}
	/* Null where there was a value, and a value where there was null (entry 6). */
	for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++) {
		log = make_log(CHAIN, N, false);
		json_object_set_new(entry(log, 5), nullable[i], json_null());
		expect(log, AUDIT_VERIFY_ENTRY, 5);
		log = make_log(CHAIN, N, false);
		json_object_set_new(entry(log, 6), nullable[i],
				    strcmp(nullable[i], "peerUid") == 0 ? json_integer(0)
									: json_string(""));
		expect(log, AUDIT_VERIFY_ENTRY, 6);
	}
	/* The first entry, and one of the last ones. */
	log = make_log(CHAIN, N, false);
	append_x(entry(log, 1), "message");
	expect(log, AUDIT_VERIFY_ENTRY, 1);
	log = make_log(CHAIN, N, false);
	append_x(entry(log, 1), "chain");
	expect(log, AUDIT_VERIFY_ENTRY, 1);
	log = make_log(CHAIN, N, false);
	append_x(entry(log, N), "verb");
	expect(log, AUDIT_VERIFY_ENTRY, N);
}

/* Entry 5 rewritten with every later hash recomputed: the next checkpoint no longer matches. */
static void
test_tail_rewritten(void **state)
{
	json_t *log = make_log(CHAIN, N, false);
	uint8_t prev[32], h[32];
	char hex[65];

	append_x(entry(log, 5), "message");
	hash_of(entry(log, 4), prev);
	for (long long seq = 5; seq <= N; seq++) {
		json_t *e = entry(log, seq);
		hex32(prev, hex);
		json_object_set_new(e, "prevHash", json_string(hex));
		audit_entry_hash(prev, e, h);
		hex32(h, hex);
		json_object_set_new(e, "hash", json_string(hex));
		memcpy(prev, h, 32);
	}
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY);
}

static void
test_entries_moved(void **state)
{
	json_t *log, *e;
	size_t i;

	/* One entry deleted. */
	log = make_log(CHAIN, N, false);
	json_array_remove(log, find(log, "entry", 5));
	expect(log, AUDIT_VERIFY_ENTRY, 5);
	log = make_log(CHAIN, N, false);
	json_array_remove(log, find(log, "entry", 1));
	expect(log, AUDIT_VERIFY_ENTRY, 1);

	/* One entry twice. */
	log = make_log(CHAIN, N, false);
	i = find(log, "entry", 5);
	json_array_insert_new(log, i + 1, json_deep_copy(json_array_get(log, i)));
	expect(log, AUDIT_VERIFY_ENTRY, 6);

	/* Two entries swapped. */
	log = make_log(CHAIN, N, false);
	i = find(log, "entry", 5);
	e = json_incref(json_array_get(log, i));
	json_array_remove(log, i);
	json_array_insert_new(log, i + 1, e);
	expect(log, AUDIT_VERIFY_ENTRY, 5);

	/* An entry of another chain in between. */
	log = make_log(CHAIN, N, false);
	{
		json_t *other = make_log("other", 5, false);
		json_array_insert(log, find(log, "entry", 5), entry(other, 5));
		json_decref(other);
	}
	expect(log, AUDIT_VERIFY_ENTRY, 5);
}

static void
test_tail_truncated(void **state)
{
	json_t *log, *e;
	uint8_t prev[32];

	/* The final checkpoint missing: entries after the previous one are uncovered. */
	log = make_log(CHAIN, N, false);
	json_array_remove(log, json_array_size(log) - 1);
	expect(log, AUDIT_VERIFY_UNCOVERED, 2 * EVERY + 1);

	/* Cut after entry 17: the file ends with entries. */
	log = make_log(CHAIN, N, false);
	while (json_array_size(log) > find(log, "entry", 17) + 1) {
		json_array_remove(log, json_array_size(log) - 1);
	}
	expect(log, AUDIT_VERIFY_UNCOVERED, 2 * EVERY + 1);

	/* A correct entry after the final checkpoint. */
	log = make_log(CHAIN, N, false);
	hash_of(entry(log, N), prev);
	e = make_entry(CHAIN, N + 1, prev);
	json_array_append_new(log, e);
	expect(log, AUDIT_VERIFY_UNCOVERED, N + 1);

	/* No checkpoint at all. */
	log = make_log(CHAIN, 5, false);
	json_array_remove(log, json_array_size(log) - 1);
	expect(log, AUDIT_VERIFY_UNCOVERED, 1);

	/* Cut inside the last line: that line is not a record. */
	{
		struct audit_verify_result res;
		FILE *f;
		log = make_log(CHAIN, N, false);
		f = log_file(log);
		fseek(f, -30, SEEK_END);
		assert_int_equal(ftruncate(fileno(f), ftell(f)), 0);
		rewind(f);
		assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_FORMAT);
		assert_int_equal(res.line, json_array_size(log));
		fclose(f);
		json_decref(log);
	}
}

static void
test_checkpoints_wrong(void **state)
{
	struct audit_verify_result res;
	json_t *log, *ck;
	char s[200];

	/* A signature altered. */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, EVERY);
	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(ck, "signature")));
	s[20] = s[20] == 'A' ? 'B' : 'A';
	json_object_set_new(ck, "signature", json_string(s));
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY);

	/* Signed by another key; and a good log checked against another key. */
	log = make_log(CHAIN, N, false);
	sign_checkpoint(checkpoint(log, 2 * EVERY), other_key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY);
	log = make_log(CHAIN, N, false);
	assert_int_equal(verify_with(log, other_key, &res), AUDIT_VERIFY_CHECKPOINT);
	assert_int_equal(res.bad_seq, EVERY);
	json_decref(log);

	/* A signed member changed after signing. */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, EVERY);
	json_object_set_new(ck, "time", json_integer(1));
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY);

	/* prevSignature that does not chain (correctly signed). */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, 2 * EVERY);
	json_object_set_new(ck, "prevSignature",
			    json_incref(json_object_get(checkpoint(log, N), "signature")));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY);
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, 2 * EVERY);
	json_object_set_new(ck, "prevSignature", json_null());
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY);
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, EVERY);
	json_object_set_new(ck, "prevSignature",
			    json_incref(json_object_get(checkpoint(log, N), "signature")));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY);

	/* A hash that is not its entry's (signed). */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, 2 * EVERY);
	json_object_set_new(ck, "hash", json_incref(json_object_get(entry(log, 13), "hash")));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY);

	/* An entry not seen yet, and one before the previous checkpoint. */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, 2 * EVERY);
	json_object_set_new(ck, "seq", json_integer(2 * EVERY + 1));
	json_object_set_new(ck, "hash",
			    json_incref(json_object_get(entry(log, 2 * EVERY + 1), "hash")));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY + 1);
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, 2 * EVERY);
	json_object_set_new(ck, "seq", json_integer(EVERY - 1));
	json_object_set_new(ck, "hash",
			    json_incref(json_object_get(entry(log, EVERY - 1), "hash")));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY - 1);

	/* A checkpoint of another chain. */
	log = make_log(CHAIN, N, false);
	ck = checkpoint(log, EVERY);
	json_object_set_new(ck, "chain", json_string("other"));
	sign_checkpoint(ck, key);
	expect(log, AUDIT_VERIFY_CHECKPOINT, EVERY);

	/* A checkpoint removed from the middle: the next one's link breaks. */
	log = make_log(CHAIN, N, false);
	json_array_remove(log, find(log, "checkpoint", EVERY));
	expect(log, AUDIT_VERIFY_CHECKPOINT, 2 * EVERY);
}

/* Lines that are not well-formed records: format, whatever else is right. */
static void
test_format(void **state)
{
	static const char *const members[] = {"type",  "chain",    "seq",  "time",     "tenant",
					      "actor", "peerUid",  "verb", "resource", "message",
					      "value", "prevHash", "hash"};
	struct audit_verify_result res;
	json_t *log;
	FILE *f;

	/* Each member missing, and each of a wrong type. */
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		log = make_log(CHAIN, N, false);
		json_object_del(entry(log, 5), members[i]);
		expect(log, AUDIT_VERIFY_FORMAT, 0);
		log = make_log(CHAIN, N, false);
		json_object_set_new(entry(log, 5), members[i],
				    i == 2 ? json_string("5") : json_real(1.5));
		expect(log, AUDIT_VERIFY_FORMAT, 0);
	}
	/* value as a nested object, not JSON text in a string. */
	log = make_log(CHAIN, N, false);
	json_object_set_new(entry(log, 5), "value", json_pack("{s:i}", "n", 5));
	expect(log, AUDIT_VERIFY_FORMAT, 0);
	/* An extra member; a checkpoint without its signature or with an extra member. */
	log = make_log(CHAIN, N, false);
	json_object_set_new(entry(log, 5), "note", json_string(""));
	expect(log, AUDIT_VERIFY_FORMAT, 0);
	log = make_log(CHAIN, N, false);
	json_object_del(checkpoint(log, EVERY), "signature");
	expect(log, AUDIT_VERIFY_FORMAT, 0);
	log = make_log(CHAIN, N, false);
	json_object_set_new(checkpoint(log, EVERY), "extra", json_true());
	expect(log, AUDIT_VERIFY_FORMAT, 0);
	/* An unknown type; a first chain that is no name. */
	log = make_log(CHAIN, N, false);
	json_object_set_new(entry(log, 5), "type", json_string("note"));
	expect(log, AUDIT_VERIFY_FORMAT, 0);
	log = make_log("../etc", 3, false);
	expect(log, AUDIT_VERIFY_FORMAT, 0);

	/* Garbage, an array, an empty line, a duplicate key, an empty file. */
	{
		static const char *const bad[] = {"garbage\n", "[1,2]\n", "\n",
						  "{\"type\":\"entry\",\"type\":\"entry\"}\n"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *head, *text;
			size_t hlen;
			log = make_log(CHAIN, N, false);
			f = log_file(log);
			head = malloc(1 << 16);
			hlen = fread(head, 1, 1 << 16, f);
			fclose(f);
			text = malloc(hlen + strlen(bad[i]) + 1);
			/* After the first line: the garbage is line 2. */
			size_t first = (size_t)(strchr(head, '\n') - head) + 1;
			memcpy(text, head, first);
			strcpy(text + first, bad[i]);
			memcpy(text + first + strlen(bad[i]), head + first, hlen - first);
			text[hlen + strlen(bad[i])] = '\0';
			f = text_file(text);
			assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_FORMAT);
			assert_int_equal(res.line, 2);
			assert_int_equal(res.bad_seq, 0);
			assert_int_equal(res.entries, 1);
			fclose(f);
			free(text);
			free(head);
			json_decref(log);
		}
	}
	/* A duplicate key in an otherwise good entry. */
	{
		json_t *e1;
		char *line, *text;
		log = make_log(CHAIN, 1, false);
		e1 = entry(log, 1);
		line = json_dumps(e1, JSON_COMPACT);
		text = malloc(strlen(line) + 32);
		sprintf(text, "{\"seq\":1,%s\n", line + 1);
		f = text_file(text);
		assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_FORMAT);
		fclose(f);
		free(text);
		free(line);
		json_decref(log);
	}
	f = text_file("");
	assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_FORMAT);
	fclose(f);
}

/*
 * 500k entries with a checkpoint every 1000: all verified and counted. The
 * rate is printed as a comment for the curious, never asserted: a loaded
 * machine must not fail `make check` (tests/bench measures).
 */
static void
test_large_log(void **state)
{
	const long long n = 500000;
	struct audit_verify_result res;
	json_t *e, *ck;
	uint8_t prev[32] = {0}, h[32];
	char hex[65], sig[200] = "";
	struct timespec t0, t1;
	double secs, rate;
	FILE *f = tmpfile();

	assert_non_null(f);
	e = make_entry(CHAIN, 1, prev);
	for (long long seq = 1; seq <= n; seq++) {
		json_object_set_new(e, "seq", json_integer(seq));
		json_object_set_new(e, "time", json_integer(1700000000 + seq));
		hex32(prev, hex);
		json_object_set_new(e, "prevHash", json_string(hex));
		audit_entry_hash(prev, e, h);
		hex32(h, hex);
		json_object_set_new(e, "hash", json_string(hex));
		memcpy(prev, h, 32);
		assert_int_equal(json_dumpf(e, f, JSON_COMPACT), 0);
		fputc('\n', f);
		if (seq % 1000 == 0) {
			ck = make_checkpoint(CHAIN, seq, hex, sig[0] != '\0' ? sig : NULL);
			snprintf(sig, sizeof(sig), "%s",
				 json_string_value(json_object_get(ck, "signature")));
			assert_int_equal(json_dumpf(ck, f, JSON_COMPACT), 0);
			fputc('\n', f);
			json_decref(ck);
		}
	}
	json_decref(e);
	rewind(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(audit_verify_file(f, key, &res), AUDIT_VERIFY_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fclose(f);
	assert_int_equal(res.entries, n);
	assert_int_equal(res.checkpoints, n / 1000);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	rate = (double)n / secs;
	printf("# audit verify: %lld entries, %lld checkpoints in %.3f s: %.0f entries/s\n", n,
	       n / 1000, secs, rate);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checkpoint_tbs_encoding),
	    cmocka_unit_test(test_entry_hash_encoding),
	    cmocka_unit_test(test_good_logs),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_entry_fields_modified),
	    cmocka_unit_test(test_tail_rewritten),
	    cmocka_unit_test(test_entries_moved),
	    cmocka_unit_test(test_tail_truncated),
	    cmocka_unit_test(test_checkpoints_wrong),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_large_log),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/tokenguard.c: the SoftHSMv2 object file check, generations, restore. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "daemon/tokenguard.h"
#include "lib/error.h"

#define CKA_OS(n) (0x80000000ul + 0x5348ul + (n))
#define UUID "0f6a2c1e-5b7d-4e3a-9c21-7d3e8f1a2b4c"
#define OBJ "1a2b3c4d-0000-4000-8000-00000000beef.object"
#define KEY_ID "0123456789abcdef" /* 16 bytes, as signet's CKA_IDs */

static char dir[64];
static char tokdir[128];

/* A SoftHSMv2 object file: big-endian u64 generation, then (type, kind, value) attributes. */
struct obj {
	uint8_t b[4096];
	size_t n;
};

static void
put64(struct obj *o, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		o->b[o->n++] = (uint8_t)(v >> (8 * i));
	}
}

static void
attr_bool(struct obj *o, uint64_t type, bool v)
{
	put64(o, type);
	put64(o, 1);
	o->b[o->n++] = v;
}

static void
attr_ulong(struct obj *o, uint64_t type, uint64_t v)
{
	put64(o, type);
	put64(o, 2);
	put64(o, v);
}

static void
attr_bytes(struct obj *o, uint64_t type, const char *s)
{
	size_t n = strlen(s);

	put64(o, type);
	put64(o, 3);
	put64(o, n);
	memcpy(o->b + o->n, s, n);
	o->n += n;
}

static void
token_object(struct obj *o, uint64_t gen)
{
	o->n = 0;
	put64(o, gen);
	attr_bytes(o, CKA_OS(1), "signet                          ");
	attr_bytes(o, CKA_OS(2), "0123456789abcdef");
	attr_ulong(o, CKA_OS(3), 0x40d);
	attr_bytes(o, CKA_OS(4), "so-pin-blob-so-pin-blob-so-pin-blob");
	attr_bytes(o, CKA_OS(5), "user-pin-blob-user-pin-blob-user-pin");
}

/* A key object; FULL adds the attributes a cut would lose. */
static void
key_object(struct obj *o, uint64_t gen, bool full)
{
	o->n = 0;
	put64(o, gen);
	attr_ulong(o, 0x0, 3);           /* CKA_CLASS: private key */
	attr_bool(o, 0x1, true);         /* CKA_TOKEN */
	attr_bytes(o, 0x3, "acme/fw");   /* CKA_LABEL */
	attr_bytes(o, 0x102, KEY_ID);    /* CKA_ID */
	if (full) {
		attr_bool(o, 0x103, true); /* CKA_SENSITIVE */
		/* CKA_ALLOWED_MECHANISMS, a mechanism set of two */
		put64(o, 0x40000600);
		put64(o, 5);
		put64(o, 2);
		put64(o, 0x1041);
		put64(o, 0x1042);
		/* CKA_WRAP_TEMPLATE, an attribute map with one boolean */
		put64(o, 0x40000211);
		put64(o, 4);
		put64(o, 17);
		put64(o, 0x162);
		put64(o, 1);
		o->b[o->n++] = 1;
	}
}

static void
write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static size_t
read_bytes(const char *path, void *out, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, max, f);
	fclose(f);
	return n;
}

static void
tok_write(const char *name, const struct obj *o)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/" UUID "/%s", tokdir, name);
	write_bytes(p, o->b, o->n);
}

static bool
tok_equals(const char *name, const struct obj *o)
{
	char p[256];
	uint8_t buf[4096];

	snprintf(p, sizeof(p), "%s/" UUID "/%s", tokdir, name);
	return read_bytes(p, buf, sizeof(buf)) == o->n && memcmp(buf, o->b, o->n) == 0;
}

static int
count_entries(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	}
	closedir(d);
	return n;
}

static int
setup(void **state)
{
	char p[256], conf[256];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/signet-guard.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", dir);
	assert_int_equal(mkdir(tokdir, 0700), 0);
	snprintf(p, sizeof(p), "%s/" UUID, tokdir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(conf, sizeof(conf),
		 "# test\ndirectories.tokendir = %s/\nobjectstore.backend = file\n", tokdir);
	snprintf(p, sizeof(p), "%s/softhsm2.conf", dir);
	write_bytes(p, conf, strlen(conf));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct token_ids no_ids;

static int
guard_open_ids(struct token_guard **g, struct token_guard_report *rep, const struct token_ids *ids)
{
	char conf[256];

	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	return token_guard_open(dir, conf, ids, g, rep);
}

static int
guard_open(struct token_guard **g, struct token_guard_report *rep)
{
	return guard_open_ids(g, rep, &no_ids);
}

/* A token with one key, and a first generation of it. */
static void
populate(struct obj *tok, struct obj *key)
{
	struct token_guard *g;
	struct token_guard_report rep;

	token_object(tok, 1);
	key_object(key, 1, true);
	tok_write("token.object", tok);
	tok_write(OBJ, key);
	tok_write("token.lock", &(struct obj){{0}, 0});
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_non_null(g);
	assert_false(rep.restored);
	assert_int_equal(rep.generation, 1);
	token_guard_close(g);
}

static void
test_object_check(void **state)
{
	struct obj o;
	unsigned long types[16];
	size_t nt, boundaries = 0;
	char why[96];

	(void)state;
	token_object(&o, 7);
	assert_int_equal(softhsm_object_check(o.b, o.n, true, types, 16, &nt, why, sizeof(why)), 0);
	assert_int_equal(nt, 5);
	assert_int_equal(types[4], CKA_OS(5));
	/* Every cut of a token object is refused: its own attributes come last. */
	for (size_t n = 0; n < o.n; n++) {
		assert_int_equal(
		    softhsm_object_check(o.b, n, true, types, 16, &nt, why, sizeof(why)),
		    SIGNET_EINVAL);
	}
	key_object(&o, 3, true);
	assert_int_equal(softhsm_object_check(o.b, o.n, false, types, 16, &nt, why, sizeof(why)),
			 0);
	assert_int_equal(nt, 7);
	/* A key object cut inside an attribute is refused; only a cut between attributes parses
	 * (the generation comparison catches those). */
	for (size_t n = 0; n < o.n; n++) {
		if (softhsm_object_check(o.b, n, false, types, 16, &nt, why, sizeof(why)) == 0) {
			boundaries++;
		}
	}
	assert_int_equal(boundaries, 6);
	assert_int_equal(softhsm_object_check(o.b, 8, false, types, 16, &nt, why, sizeof(why)),
			 SIGNET_EINVAL); /* a generation number alone */
	/* An unknown kind, a byte string longer than the file, a huge mechanism count. */
	o.n = 0;
	put64(&o, 1);
	put64(&o, 0);
	put64(&o, 9);
	assert_int_equal(softhsm_object_check(o.b, o.n, false, types, 16, &nt, why, sizeof(why)),
			 SIGNET_EINVAL);
	o.n = 0;
	put64(&o, 1);
	put64(&o, 3);
	put64(&o, 3);
	put64(&o, UINT64_MAX);
	assert_int_equal(softhsm_object_check(o.b, o.n, false, types, 16, &nt, why, sizeof(why)),
			 SIGNET_EINVAL);
	o.n = 0;
	put64(&o, 1);
	put64(&o, 0x40000600);
	put64(&o, 5);
	put64(&o, UINT64_MAX / 4);
	assert_int_equal(softhsm_object_check(o.b, o.n, false, types, 16, &nt, why, sizeof(why)),
			 SIGNET_EINVAL);
}

static void
test_damaged_token_object_is_restored(void **state)
{
	struct obj tok, key, cut;
	struct token_guard *g;
	struct token_guard_report rep;
	char q[512];
	struct stat st;

	(void)state;
	populate(&tok, &key);
	/* SoftHSM truncated token.object for a rewrite, and the process died. */
	tok_write("token.object", &(struct obj){{0}, 0});
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_true(rep.restored);
	assert_int_equal(rep.generation, 1);
	assert_non_null(strstr(rep.damaged, "token.object: empty"));
	assert_non_null(rep.pending);
	assert_non_null(strstr(rep.pending, "token.object: empty"));
	assert_true(tok_equals("token.object", &tok));
	assert_true(tok_equals(OBJ, &key));
	token_guard_report_free(&rep);
	/* The damaged file is kept beside, never deleted. */
	snprintf(q, sizeof(q), "%s/" UUID "/token.object", rep.quarantine);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_size, 0);
	token_guard_close(g);
	/* The restore stays pending (for the audit) until it is recorded. */
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_false(rep.restored);
	assert_non_null(strstr(rep.pending, "token.object: empty"));
	assert_int_equal(token_guard_restores_recorded(g), 0);
	token_guard_report_free(&rep);
	token_guard_close(g);
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_null(rep.pending);
	token_guard_close(g);
	/* A key object cut at an attribute boundary (it parses) lost attributes: damage. */
	key_object(&cut, 2, false);
	tok_write(OBJ, &cut);
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_true(rep.restored);
	assert_non_null(strstr(rep.damaged, "lost attribute"));
	assert_true(tok_equals(OBJ, &key));
	assert_int_equal(count_entries(dir, "tokens.damaged-"), 2);
	token_guard_report_free(&rep);
	token_guard_close(g);
}

static void
test_no_generation(void **state)
{
	struct obj o = {{0}, 0};
	struct token_guard *g;
	struct token_guard_report rep;

	(void)state;
	/* Damaged before any generation exists: refused, and nothing is moved. */
	tok_write("token.object", &o);
	assert_int_equal(guard_open(&g, &rep), SIGNET_ETOKEN);
	assert_null(g);
	assert_non_null(strstr(rep.damaged, "token.object"));
	assert_int_equal(count_entries(dir, "tokens.damaged-"), 0);
	assert_int_equal(count_entries(tokdir, UUID), 1);
}

static void
test_generations(void **state)
{
	struct obj tok, key, key2, tok2;
	struct token_guard *g;
	struct token_guard_report rep;
	char p[512], gens[256];

	(void)state;
	populate(&tok, &key);
	snprintf(gens, sizeof(gens), "%s/token-generations", dir);
	/* An unchanged token makes no new generation. */
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_int_equal(rep.generation, 1);
	/* A guarded write that adds an object records generation 2. */
	token_guard_write_begin(g);
	key_object(&key2, 1, true);
	tok_write("aaaa.object", &key2);
	assert_int_equal(token_guard_write_end(g), 0);
	token_guard_write_begin(g);
	assert_int_equal(token_guard_write_end(g), 0); /* nothing changed: no generation */
	uint64_t gen;
	int64_t when;
	token_guard_newest(g, &gen, &when);
	assert_int_equal(gen, 2);
	/* A write that leaves a cut file records nothing. */
	token_guard_write_begin(g);
	tok_write("bbbb.object", &(struct obj){{0, 0, 0}, 3});
	assert_int_not_equal(token_guard_write_end(g), 0);
	token_guard_newest(g, &gen, &when);
	assert_int_equal(gen, 2);
	snprintf(p, sizeof(p), "%s/" UUID "/bbbb.object", tokdir);
	assert_int_equal(unlink(p), 0);
	/* Three more changes: only TOKEN_GUARD_KEEP generations stay. */
	for (int i = 2; i < 5; i++) {
		token_guard_write_begin(g);
		token_object(&tok2, (uint64_t)i);
		tok_write("token.object", &tok2);
		assert_int_equal(token_guard_write_end(g), 0);
	}
	token_guard_newest(g, &gen, &when);
	assert_int_equal(gen, 5);
	assert_int_equal(count_entries(gens, "gen-"), TOKEN_GUARD_KEEP);
	token_guard_close(g);

	/* The newest generation is damaged (a byte changed): the one before it is restored. */
	snprintf(p, sizeof(p), "%s/gen-%016d/" UUID "/token.object", gens, 5);
	write_bytes(p, "x", 1);
	tok_write("token.object", &(struct obj){{0}, 0});
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_true(rep.restored);
	assert_int_equal(rep.generation, 4);
	token_object(&tok2, 3); /* generation 4 holds the third rewrite (i = 3) */
	assert_true(tok_equals("token.object", &tok2));
	assert_true(tok_equals("aaaa.object", &key2));
	token_guard_report_free(&rep);
	token_guard_close(g);
}

static void
test_interrupted_restore(void **state)
{
	struct obj tok, key;
	struct token_guard *g;
	struct token_guard_report rep;
	char from[256], to[256];

	(void)state;
	populate(&tok, &key);
	/* Killed between moving the damaged directory aside and renaming the copy in: the token
	 * directory is gone and a half copy lies beside it. */
	snprintf(from, sizeof(from), "%s", tokdir);
	snprintf(to, sizeof(to), "%s/tokens.damaged-1", dir);
	assert_int_equal(rename(from, to), 0);
	snprintf(to, sizeof(to), "%s.restore", tokdir);
	assert_int_equal(mkdir(to, 0700), 0);
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_true(rep.restored);
	assert_non_null(strstr(rep.damaged, "missing"));
	assert_true(tok_equals("token.object", &tok));
	assert_true(tok_equals(OBJ, &key));
	assert_int_equal(count_entries(dir, "tokens.restore"), 0);
	token_guard_report_free(&rep);
	token_guard_close(g);
}

static void
test_repair_is_per_file(void **state)
{
	struct obj tok, key, newer, stray;
	struct token_guard *g;
	struct token_guard_report rep;
	char q[512];
	struct stat st;

	(void)state;
	populate(&tok, &key);
	/*
	 * After the generation: a newer intact key, and a stray file another process left cut
	 * (no generation holds it). A repair keeps the newer key and drops only the stray.
	 */
	key_object(&newer, 1, true);
	tok_write("bbbb.object", &newer);
	stray.n = 0;
	put64(&stray, 1);
	tok_write("cccc.object", &stray);
	tok_write("token.object", &(struct obj){{0}, 0});
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_true(rep.restored);
	assert_non_null(strstr(rep.damaged, "cccc.object"));
	assert_non_null(strstr(rep.damaged, "token.object"));
	assert_true(tok_equals("token.object", &tok));
	assert_true(tok_equals("bbbb.object", &newer));
	assert_true(tok_equals(OBJ, &key));
	snprintf(q, sizeof(q), "%s/tokens/" UUID "/cccc.object", dir);
	assert_int_not_equal(stat(q, &st), 0); /* dropped from the token... */
	snprintf(q, sizeof(q), "%s/" UUID "/cccc.object", rep.quarantine);
	assert_int_equal(stat(q, &st), 0); /* ...and kept aside */
	token_guard_report_free(&rep);
	token_guard_close(g);
}

static void
test_missing_expected_object_comes_back(void **state)
{
	struct obj tok, key;
	struct token_guard *g;
	struct token_guard_report rep;
	struct token_ids ids = {0};
	uint8_t id[TOKEN_ID_LEN];
	char p[512];

	(void)state;
	populate(&tok, &key);
	snprintf(p, sizeof(p), "%s/" UUID "/" OBJ, tokdir);
	memcpy(id, KEY_ID, TOKEN_ID_LEN);
	ids.id = &id;
	ids.n = ids.cap = 1;
	/* Lost (a directory entry a power loss dropped) while the store expects it: it comes back. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(guard_open_ids(&g, &rep, &ids), 0);
	assert_true(rep.restored);
	assert_non_null(strstr(rep.damaged, "missing"));
	assert_true(tok_equals(OBJ, &key));
	token_guard_report_free(&rep);
	token_guard_close(g);
	/* Gone while the store does not expect it (signet or the officer removed it): it stays gone. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_false(rep.restored);
	assert_int_not_equal(access(p, F_OK), 0);
	token_guard_report_free(&rep);
	token_guard_close(g);
}

static void
test_not_file_backend(void **state)
{
	struct token_guard *g = (void *)1;
	struct token_guard_report rep;
	char p[256];
	const char *conf = "directories.tokendir = /nonexistent\nobjectstore.backend = db\n";

	(void)state;
	snprintf(p, sizeof(p), "%s/softhsm2.conf", dir);
	write_bytes(p, conf, strlen(conf));
	assert_int_equal(guard_open(&g, &rep), 0);
	assert_null(g);
	token_guard_write_begin(NULL);
	assert_int_equal(token_guard_write_end(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_object_check),
	    cmocka_unit_test_setup_teardown(test_damaged_token_object_is_restored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupted_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repair_is_per_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_expected_object_comes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_file_backend, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

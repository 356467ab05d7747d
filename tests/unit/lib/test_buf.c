/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/buf.c: the bounded reader's checks and sticky failure, the capped writer. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/buf.h"

static void
test_rbuf_reads_little_endian(void **state)
{
	static const uint8_t in[] = {0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xef, 0xcd,
				     0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 'x',  'y',  'z'};
	uint8_t out[2];
	struct rbuf r;

	rbuf_init(&r, in, sizeof(in));
	assert_true(rbuf_ok(&r));
	assert_int_equal(rbuf_remaining(&r), sizeof(in));
	assert_int_equal(rbuf_get_u8(&r), 0x01);
	assert_int_equal(rbuf_get_u16le(&r), 0x1234);
	assert_int_equal(rbuf_get_u32le(&r), 0x12345678);
	assert_true(rbuf_get_u64le(&r) == UINT64_C(0x0123456789abcdef));
	assert_int_equal(rbuf_remaining(&r), 3);
	rbuf_get_bytes(&r, out, 2);
	assert_memory_equal(out, "xy", 2);
	assert_false(rbuf_expect_end(&r));
	/* expect_end's failure is sticky too. */
	assert_false(rbuf_ok(&r));
}

static void
test_rbuf_u32_high_bit(void **state)
{
	static const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x80};
	struct rbuf r;

	rbuf_init(&r, in, sizeof(in));
	assert_true(rbuf_get_u32le(&r) == UINT32_C(0xffffffff));
	assert_int_equal(rbuf_get_u16le(&r), 0x8000);
	assert_true(rbuf_expect_end(&r));
	assert_true(rbuf_ok(&r));
}

static void
test_rbuf_exact_end(void **state)
{
	static const uint8_t in[] = {1, 2, 3, 4};
	struct rbuf r;

	rbuf_init(&r, in, sizeof(in));
	assert_int_equal(rbuf_get_u32le(&r), 0x04030201);
	assert_int_equal(rbuf_remaining(&r), 0);
	assert_true(rbuf_expect_end(&r));
	assert_true(rbuf_ok(&r));
}

static void
test_rbuf_short_read_fails_and_sticks(void **state)
{
	static const uint8_t in[] = {0xaa, 0xbb, 0xcc};
	struct rbuf r;

	rbuf_init(&r, in, sizeof(in));
	/* Four bytes from three: refused without consuming anything readable afterwards. */
	assert_int_equal(rbuf_get_u32le(&r), 0);
	assert_false(rbuf_ok(&r));
	assert_int_equal(rbuf_remaining(&r), 0);
	/* Sticky: bytes that are there are no longer handed out. */
	assert_int_equal(rbuf_get_u8(&r), 0);
	assert_int_equal(rbuf_get_u16le(&r), 0);
	assert_null(rbuf_get_ptr(&r, 0));
	assert_null(rbuf_get_ptr(&r, 1));
	assert_false(rbuf_expect_end(&r));
	assert_false(rbuf_ok(&r));
}

static void
test_rbuf_u64_partial(void **state)
{
	static const uint8_t in[] = {1, 2, 3, 4, 5, 6, 7};
	struct rbuf r;

	/* Seven bytes: the low half reads, the high half fails; the value is then unusable. */
	rbuf_init(&r, in, sizeof(in));
	(void)rbuf_get_u64le(&r);
	assert_false(rbuf_ok(&r));
	assert_int_equal(rbuf_get_u8(&r), 0);
}

static void
test_rbuf_get_bytes_zeroes_on_failure(void **state)
{
	static const uint8_t in[] = {1, 2, 3};
	uint8_t out[8];
	struct rbuf r;

	memset(out, 0x5a, sizeof(out));
	rbuf_init(&r, in, sizeof(in));
	rbuf_get_bytes(&r, out, sizeof(out));
	assert_false(rbuf_ok(&r));
	for (size_t i = 0; i < sizeof(out); i++) {
		assert_int_equal(out[i], 0);
	}
}

static void
test_rbuf_ptr_in_place(void **state)
{
	static const uint8_t in[] = "abcdef";
	const uint8_t *p;
	struct rbuf r;

	rbuf_init(&r, in, 6);
	rbuf_skip(&r, 2);
	p = rbuf_get_ptr(&r, 3);
	assert_ptr_equal(p, in + 2);
	assert_int_equal(rbuf_remaining(&r), 1);
	/* A zero-length pointer is fine and points at the current position. */
	assert_ptr_equal(rbuf_get_ptr(&r, 0), in + 5);
	assert_true(rbuf_ok(&r));
}

static void
test_rbuf_huge_lengths_refused(void **state)
{
	static const uint8_t in[] = {1, 2, 3, 4};
	struct rbuf r;

	/* A length that would wrap an addition must still be refused. */
	rbuf_init(&r, in, sizeof(in));
	rbuf_skip(&r, 1);
	assert_null(rbuf_get_ptr(&r, SIZE_MAX));
	assert_false(rbuf_ok(&r));

	rbuf_init(&r, in, sizeof(in));
	rbuf_skip(&r, 5);
	assert_false(rbuf_ok(&r));

	rbuf_init(&r, in, sizeof(in));
	rbuf_skip(&r, SIZE_MAX - 1);
	assert_false(rbuf_ok(&r));
}

static void
test_rbuf_null_and_empty(void **state)
{
	struct rbuf r;

	/* NULL data reads as empty whatever length is claimed. */
	rbuf_init(&r, NULL, 100);
	assert_int_equal(rbuf_remaining(&r), 0);
	assert_true(rbuf_expect_end(&r));
	assert_int_equal(rbuf_get_u8(&r), 0);
	assert_false(rbuf_ok(&r));

	rbuf_init(&r, "", 0);
	assert_true(rbuf_expect_end(&r));
	assert_true(rbuf_ok(&r));
}

static void
test_rbuf_init_resets_failure(void **state)
{
	static const uint8_t in[] = {7};
	struct rbuf r;

	rbuf_init(&r, in, 0);
	(void)rbuf_get_u8(&r);
	assert_false(rbuf_ok(&r));
	rbuf_init(&r, in, 1);
	assert_true(rbuf_ok(&r));
	assert_int_equal(rbuf_get_u8(&r), 7);
}

static void
test_wbuf_writes_and_steals(void **state)
{
	struct wbuf w;
	uint8_t *d;
	size_t len = 0;
	static const uint8_t want[] = {'h',  'i',  0x7f, 0x34, 0x12, 0x78,
				       0x56, 0x34, 0x12, 'e',  'n',  'd'};

	wbuf_init(&w, 1024);
	wbuf_put(&w, "hi", 2);
	wbuf_put_u8(&w, 0x7f);
	wbuf_put_u16le(&w, 0x1234);
	wbuf_put_u32le(&w, 0x12345678);
	wbuf_put_str(&w, "end");
	assert_true(wbuf_ok(&w));
	assert_int_equal(w.len, sizeof(want));
	d = wbuf_steal(&w, &len);
	assert_non_null(d);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(d, want, sizeof(want));
	/* The stolen buffer is NUL-terminated past len. */
	assert_int_equal(d[len], '\0');
	/* The writer no longer owns it. */
	assert_null(w.data);
	assert_int_equal(w.len, 0);
	free(d);
	wbuf_free(&w);
}

static void
test_wbuf_grows(void **state)
{
	struct wbuf w;
	uint8_t *d;
	size_t len = 0;

	wbuf_init(&w, 100000);
	for (int i = 0; i < 10000; i++) {
		wbuf_put_u8(&w, (uint8_t)i);
	}
	assert_true(wbuf_ok(&w));
	assert_true(w.cap > w.len);
	d = wbuf_steal(&w, &len);
	assert_non_null(d);
	assert_int_equal(len, 10000);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(d[i], (uint8_t)i);
	}
	free(d);
}

static void
test_wbuf_cap_exact_fits(void **state)
{
	struct wbuf w;
	uint8_t *d;
	size_t len = 0;

	wbuf_init(&w, 8);
	wbuf_put(&w, "12345678", 8);
	assert_true(wbuf_ok(&w));
	d = wbuf_steal(&w, &len);
	assert_non_null(d);
	assert_int_equal(len, 8);
	assert_string_equal((char *)d, "12345678");
	free(d);
}

static void
test_wbuf_cap_exceeded_sticks(void **state)
{
	struct wbuf w;
	size_t len = 99;

	wbuf_init(&w, 8);
	wbuf_put(&w, "1234", 4);
	wbuf_put(&w, "56789", 5);
	assert_false(wbuf_ok(&w));
	/* The failed write did not land, and later writes that would fit do nothing. */
	assert_int_equal(w.len, 4);
	wbuf_put_u8(&w, 'x');
	assert_int_equal(w.len, 4);
	assert_false(wbuf_ok(&w));
	assert_null(wbuf_steal(&w, &len));
	/* Steal on failure frees the contents. */
	assert_null(w.data);
	wbuf_free(&w);
}

static void
test_wbuf_huge_put_refused(void **state)
{
	struct wbuf w;

	/* A length that would wrap len + n must not pass the cap check. */
	wbuf_init(&w, SIZE_MAX);
	wbuf_put(&w, "ab", 2);
	wbuf_put(&w, "x", SIZE_MAX - 1);
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 2);
	wbuf_free(&w);

	/* len + n == SIZE_MAX: the room for the NUL would wrap the needed size to zero. */
	wbuf_init(&w, SIZE_MAX);
	wbuf_put(&w, "ab", 2);
	wbuf_put(&w, "x", SIZE_MAX - 2);
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 2);
	wbuf_free(&w);

	/* More than half the address space: doubling the capacity would wrap (and spin). */
	wbuf_init(&w, SIZE_MAX);
	wbuf_put(&w, "x", SIZE_MAX / 2 + 100);
	assert_false(wbuf_ok(&w));
	assert_int_equal(w.len, 0);
	wbuf_free(&w);
}

static void
test_wbuf_empty_steal(void **state)
{
	struct wbuf w;
	uint8_t *d;
	size_t len = 99;

	wbuf_init(&w, 0);
	wbuf_put(&w, "", 0);
	assert_true(wbuf_ok(&w));
	d = wbuf_steal(&w, &len);
	assert_non_null(d);
	assert_int_equal(len, 0);
	assert_int_equal(d[0], '\0');
	free(d);

	/* A cap of zero refuses the first byte. */
	wbuf_init(&w, 0);
	wbuf_put_u8(&w, 1);
	assert_false(wbuf_ok(&w));
	wbuf_free(&w);
}

static void
test_wbuf_free_resets(void **state)
{
	struct wbuf w;

	wbuf_init(&w, 64);
	wbuf_put_str(&w, "secret");
	wbuf_free(&w);
	assert_null(w.data);
	assert_int_equal(w.len, 0);
	assert_int_equal(w.cap, 0);
	/* Freeing twice is harmless. */
	wbuf_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rbuf_reads_little_endian),
	    cmocka_unit_test(test_rbuf_u32_high_bit),
	    cmocka_unit_test(test_rbuf_exact_end),
	    cmocka_unit_test(test_rbuf_short_read_fails_and_sticks),
	    cmocka_unit_test(test_rbuf_u64_partial),
	    cmocka_unit_test(test_rbuf_get_bytes_zeroes_on_failure),
	    cmocka_unit_test(test_rbuf_ptr_in_place),
	    cmocka_unit_test(test_rbuf_huge_lengths_refused),
	    cmocka_unit_test(test_rbuf_null_and_empty),
	    cmocka_unit_test(test_rbuf_init_resets_failure),
	    cmocka_unit_test(test_wbuf_writes_and_steals),
	    cmocka_unit_test(test_wbuf_grows),
	    cmocka_unit_test(test_wbuf_cap_exact_fits),
	    cmocka_unit_test(test_wbuf_cap_exceeded_sticks),
	    cmocka_unit_test(test_wbuf_huge_put_refused),
	    cmocka_unit_test(test_wbuf_empty_steal),
	    cmocka_unit_test(test_wbuf_free_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/msg.c: packet framing with descriptors, and the strict JSON parser. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/msg.h"
#include "tests/common/rawsock.h"

struct pair {
	int a;
	int b;
};

static int
setup_pair(void **state)
{
	struct pair *p = malloc(sizeof(*p));
	int sv[2];

	if (p == NULL || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(p);
		return -1;
	}
	p->a = sv[0];
	p->b = sv[1];
	*state = p;
	return 0;
}

static int
teardown_pair(void **state)
{
	struct pair *p = *state;

	if (p->a >= 0) {
		close(p->a);
	}
	if (p->b >= 0) {
		close(p->b);
	}
	free(p);
	return 0;
}

static bool
fd_is_cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);
	return f >= 0 && (f & FD_CLOEXEC) != 0;
}

static void
test_send_recv_payload(void **state)
{
	struct pair *p = *state;
	static const char m1[] = "{\"op\":\"status\"}";
	static const char m2[] = "{\"op\":\"x\",\"args\":{}}";
	uint8_t buf[MSG_MAX_SIZE];
	int fds[MSG_MAX_FDS], nfds = -1, flags = -1;
	long n;

	assert_int_equal(msg_send(p->a, m1, strlen(m1), NULL, 0), 0);
	assert_int_equal(msg_send(p->a, m2, strlen(m2), NULL, 0), 0);
	/* Packet boundaries are kept: two sends are two receives. */
	n = msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags);
	assert_int_equal(n, (long)strlen(m1));
	assert_memory_equal(buf, m1, strlen(m1));
	assert_int_equal(nfds, 0);
	assert_int_equal(flags, 0);
	n = msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags);
	assert_int_equal(n, (long)strlen(m2));
	assert_memory_equal(buf, m2, strlen(m2));
	/* Nothing more waiting: non-blocking. */
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), -EAGAIN);
}

static void
test_send_max_size(void **state)
{
	struct pair *p = *state;
	uint8_t *big = malloc(MSG_MAX_SIZE + 1);
	uint8_t *buf = malloc(MSG_MAX_SIZE);
	int fds[MSG_MAX_FDS], nfds, flags;

	assert_non_null(big);
	assert_non_null(buf);
	memset(big, 'a', MSG_MAX_SIZE + 1);
	assert_int_equal(msg_send(p->a, big, MSG_MAX_SIZE + 1, NULL, 0), -EMSGSIZE);
	assert_int_equal(msg_send(p->a, big, MSG_MAX_SIZE, NULL, 0), 0);
	assert_int_equal(msg_recv(p->b, buf, MSG_MAX_SIZE, fds, &nfds, &flags), MSG_MAX_SIZE);
	assert_int_equal(flags, 0);
	free(big);
	free(buf);
}

static void
test_fd_passing(void **state)
{
	struct pair *p = *state;
	static const char m[] = "{\"op\":\"fd\"}";
	uint8_t buf[256];
	int pipefd[2], fds[MSG_MAX_FDS], nfds = 0, flags = 0;
	char got[8] = {0};
	long n;

	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(msg_send(p->a, m, strlen(m), &pipefd[1], 1), 0);
	close(pipefd[1]);
	n = msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags);
	assert_int_equal(n, (long)strlen(m));
	assert_int_equal(flags, 0);
	assert_int_equal(nfds, 1);
	assert_true(fds[0] >= 0);
	/* Received descriptors are close-on-exec. */
	assert_true(fd_is_cloexec(fds[0]));
	/* The received descriptor is the pipe's write end. */
	assert_int_equal(write(fds[0], "ping", 4), 4);
	msg_close_fds(fds, &nfds);
	assert_int_equal(nfds, 0);
	assert_int_equal(fds[0], -1);
	assert_int_equal(read(pipefd[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "ping", 4);
	/* Every write end is closed now: EOF. */
	assert_int_equal(read(pipefd[0], got, sizeof(got)), 0);
	close(pipefd[0]);
}

static void
test_fd_passing_max(void **state)
{
	struct pair *p = *state;
	static const char m[] = "{}";
	uint8_t buf[256];
	int src[MSG_MAX_FDS + 1], fds[MSG_MAX_FDS], nfds = 0, flags = 0;

	for (int i = 0; i <= MSG_MAX_FDS; i++) {
		src[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(src[i] >= 0);
	}
	assert_int_equal(msg_send(p->a, m, 2, src, MSG_MAX_FDS + 1), -EMSGSIZE);
	assert_int_equal(msg_send(p->a, m, 2, src, -1), -EMSGSIZE);
	assert_int_equal(msg_send(p->a, m, 2, src, MSG_MAX_FDS), 0);
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), 2);
	assert_int_equal(flags, 0);
	assert_int_equal(nfds, MSG_MAX_FDS);
	for (int i = 0; i < nfds; i++) {
		assert_true(fd_is_cloexec(fds[i]));
		for (int j = 0; j <= MSG_MAX_FDS; j++) {
			assert_int_not_equal(fds[i], src[j]);
		}
	}
	msg_close_fds(fds, &nfds);
	for (int i = 0; i <= MSG_MAX_FDS; i++) {
		close(src[i]);
	}
}

static void
test_too_many_fds_flagged(void **state)
{
	struct pair *p = *state;
	enum { N = MSG_MAX_FDS + 2 };
	static const char m[] = "{}";
	uint8_t buf[256];
	int src[N], fds[MSG_MAX_FDS], nfds = 0, flags = 0;

	for (int i = 0; i < N; i++) {
		src[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(src[i] >= 0);
	}
	assert_int_equal(raw_send(p->a, m, 2, src, N), 2);
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), 2);
	/* The receiver takes at most MSG_MAX_FDS and says that some were dropped. */
	assert_true(nfds <= MSG_MAX_FDS);
	assert_true((flags & MSG_F_CTRUNC) != 0);
	assert_false((flags & MSG_F_OVERSIZED) != 0);
	msg_close_fds(fds, &nfds);
	for (int i = 0; i < N; i++) {
		close(src[i]);
	}
}

static void
test_oversized_packet(void **state)
{
	struct pair *p = *state;
	enum { BIG = 70000 };
	uint8_t *big = malloc(BIG);
	uint8_t *buf = malloc(MSG_MAX_SIZE);
	int fds[MSG_MAX_FDS], nfds = 0, flags = 0, pipefd[2];
	int sz = 4 * BIG;
	long n;

	assert_non_null(big);
	assert_non_null(buf);
	assert_int_equal(pipe(pipefd), 0);
	(void)setsockopt(p->a, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(big, '{', BIG);
	assert_int_equal(raw_send(p->a, big, BIG, &pipefd[0], 1), BIG);
	n = msg_recv(p->b, buf, MSG_MAX_SIZE, fds, &nfds, &flags);
	/* The packet's real length is reported, and flagged: never mistaken for a short message. */
	assert_int_equal(n, BIG);
	assert_true((flags & MSG_F_OVERSIZED) != 0);
	/* Descriptors still arrive so the caller can close them. */
	assert_int_equal(nfds, 1);
	msg_close_fds(fds, &nfds);
	/* The rest of the oversized packet is gone; the next packet reads normally. */
	assert_int_equal(msg_send(p->a, "{}", 2, NULL, 0), 0);
	n = msg_recv(p->b, buf, MSG_MAX_SIZE, fds, &nfds, &flags);
	assert_int_equal(n, 2);
	assert_int_equal(flags, 0);
	assert_memory_equal(buf, "{}", 2);
	close(pipefd[0]);
	close(pipefd[1]);
	free(big);
	free(buf);
}

static void
test_small_buffer_oversized(void **state)
{
	struct pair *p = *state;
	uint8_t buf[4];
	int fds[MSG_MAX_FDS], nfds = 0, flags = 0;

	assert_int_equal(msg_send(p->a, "{\"a\":1}", 7, NULL, 0), 0);
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), 7);
	assert_int_equal(flags, MSG_F_OVERSIZED);
}

static void
test_empty_packet_with_fd_is_not_eof(void **state)
{
	struct pair *p = *state;
	uint8_t buf[16];
	int fds[MSG_MAX_FDS], nfds = 0, flags = 0, fd;
	long n;

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(msg_send(p->a, "", 0, &fd, 1), 0);
	n = msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags);
	assert_int_equal(n, -ENODATA);
	/* The descriptor is handed over all the same, for the caller to close. */
	assert_int_equal(nfds, 1);
	msg_close_fds(fds, &nfds);
	close(fd);
}

static void
test_eof(void **state)
{
	struct pair *p = *state;
	uint8_t buf[16];
	int fds[MSG_MAX_FDS], nfds = 0, flags = 0;

	assert_int_equal(msg_send(p->a, "{}", 2, NULL, 0), 0);
	close(p->a);
	p->a = -1;
	/* What was sent before the close is still delivered, then EOF. */
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), 2);
	assert_int_equal(msg_recv(p->b, buf, sizeof(buf), fds, &nfds, &flags), 0);
	assert_int_equal(nfds, 0);
	assert_int_equal(flags, 0);
	/* Sending to a closed peer is an error, not a SIGPIPE. */
	assert_int_equal(msg_send(p->b, "{}", 2, NULL, 0), -EPIPE);
}

static void
test_recv_bad_socket(void **state)
{
	uint8_t buf[16];
	int fds[MSG_MAX_FDS], nfds = 5, flags = 5;

	assert_int_equal(msg_recv(-1, buf, sizeof(buf), fds, &nfds, &flags), -EBADF);
	assert_int_equal(nfds, 0);
	assert_int_equal(flags, 0);
	assert_int_equal(msg_send(-1, "{}", 2, NULL, 0), -EBADF);
}

/* Parse a NUL-terminated string; returns whether it was accepted. */
static bool
parses(const char *s)
{
	const char *why = NULL;
	json_t *j = msg_parse((const uint8_t *)s, strlen(s), &why);

	if (j == NULL) {
		assert_non_null(why);
		return false;
	}
	assert_true(json_is_object(j));
	json_decref(j);
	return true;
}

static void
test_parse_valid(void **state)
{
	const char *why = NULL;
	static const char m[] = "{\"op\":\"sign\","
				"\"args\":{\"key\":\"k1\",\"n\":[1,2,3],\"b\":true},"
				"\"s\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00\"}";
	json_t *j = msg_parse((const uint8_t *)m, strlen(m), &why);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "op")), "sign");
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "args"), "n")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "s")),
			    "caf\xc3\xa9 \xc3\xa9 \xf0\x9f\x98\x80");
	json_decref(j);
	assert_true(parses("{}"));
	assert_true(parses("{\"a\":null}"));
}

static void
test_parse_refuses_empty(void **state)
{
	const char *why = NULL;

	assert_null(msg_parse((const uint8_t *)"", 0, &why));
	assert_non_null(why);
	why = NULL;
	assert_null(msg_parse((const uint8_t *)"{}", 0, &why));
	assert_non_null(why);
	assert_false(parses(" "));
	assert_false(parses("\n"));
}

static void
test_parse_refuses_non_object(void **state)
{
	static const char *const bad[] = {
	    "[]", "[{}]", "1",     "-1.5",    "\"str\"",    "true",    "false",      "null",
	    "{",  "}",    "{a:1}", "{'a':1}", "{\"a\":1,}", "{\"a\"}", "{\"a\":01}", "{\"a\":NaN}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parses(bad[i])) {
			fail_msg("accepted %s", bad[i]);
		}
	}
}

static void
test_parse_refuses_invalid_utf8(void **state)
{
	static const char *const bad[] = {
	    "{\"a\":\"\xff\"}",             /* never valid */
	    "{\"a\":\"\xc3\"}",             /* truncated sequence */
	    "{\"a\":\"\xc0\xaf\"}",         /* overlong '/' */
	    "{\"a\":\"\xe0\x80\xaf\"}",     /* overlong, three bytes */
	    "{\"a\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate as UTF-8 */
	    "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
	    "{\"\xfe\":1}",                 /* in a key */
	    "{\"a\":\"\x80\"}",             /* lone continuation byte */
	    "{\"a\":\"\\ud800\"}",          /* lone surrogate escape */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parses(bad[i])) {
			fail_msg("accepted invalid UTF-8 case %zu", i);
		}
	}
}

static void
test_parse_refuses_duplicates(void **state)
{
	assert_false(parses("{\"a\":1,\"a\":2}"));
	assert_false(parses("{\"a\":1,\"b\":2,\"a\":1}"));
	assert_false(parses("{\"x\":{\"a\":1,\"a\":1}}"));
	assert_false(parses("{\"x\":[{\"a\":1,\"a\":1}]}"));
	/* Different spellings of the same key are the same key. */
	assert_false(parses("{\"a\":1,\"\\u0061\":2}"));
	/* The same key at different levels is fine. */
	assert_true(parses("{\"a\":{\"a\":1}}"));
}

static void
test_parse_refuses_trailing_garbage(void **state)
{
	static const char with_nul[] = "{\"a\":1}\0";
	const char *why = NULL;

	assert_false(parses("{\"a\":1}x"));
	assert_false(parses("{}{}"));
	assert_false(parses("{} {}"));
	assert_false(parses("{\"a\":1} 1"));
	assert_false(parses("{\"a\":1}]"));
	assert_false(parses("{\"a\":1}}"));
	/* A NUL after the object is garbage too: the length is the packet's, not strlen's. */
	assert_null(msg_parse((const uint8_t *)with_nul, sizeof(with_nul) - 1, &why));
	assert_non_null(why);
}

static void
test_parse_refuses_nul_in_strings(void **state)
{
	static const char raw_nul[] = "{\"a\":\"x\0y\"}";
	const char *why = NULL;

	assert_false(parses("{\"a\":\"\\u0000\"}"));
	assert_false(parses("{\"a\":\"abc\\u0000def\"}"));
	assert_false(parses("{\"\\u0000\":1}"));
	assert_false(parses("{\"k\\u0000x\":1}"));
	assert_false(parses("{\"a\":[\"\\u0000\"]}"));
	assert_null(msg_parse((const uint8_t *)raw_nul, sizeof(raw_nul) - 1, &why));
	assert_non_null(why);
	/* Other control characters escaped are fine. */
	assert_true(parses("{\"a\":\"\\u0001\\n\\t\"}"));
}

/* N nested objects, the innermost holding a scalar ("leaf") or nothing. */
static char *
nested_objects(int n, bool leaf)
{
	size_t cap = (size_t)n * 6 + 16, o = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (int i = 0; i < n - 1; i++) {
		o += (size_t)snprintf(s + o, cap - o, "{\"a\":");
	}
	o += (size_t)snprintf(s + o, cap - o, leaf ? "{\"a\":1}" : "{}");
	for (int i = 0; i < n - 1; i++) {
		s[o++] = '}';
	}
	s[o] = '\0';
	return s;
}

static void
test_parse_depth_limit(void **state)
{
	char *s;

	/* json_depth counts a scalar as one level; the limit is on that depth. */
	s = nested_objects(MSG_MAX_DEPTH, false);
	assert_true(parses(s));
	free(s);
	s = nested_objects(MSG_MAX_DEPTH - 1, true);
	assert_true(parses(s));
	free(s);
	s = nested_objects(MSG_MAX_DEPTH, true);
	assert_false(parses(s));
	free(s);
	s = nested_objects(MSG_MAX_DEPTH + 1, false);
	assert_false(parses(s));
	free(s);
}

/* An object holding N nested empty arrays: depth N + 1. */
static char *
nested_arrays(int n)
{
	char *s = malloc((size_t)n * 2 + 8);
	size_t o = 0;

	assert_non_null(s);
	memcpy(s, "{\"a\":", 5);
	o = 5;
	memset(s + o, '[', (size_t)n);
	o += (size_t)n;
	memset(s + o, ']', (size_t)n);
	o += (size_t)n;
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

static void
test_parse_depth_arrays_and_huge(void **state)
{
	enum { HUGE = 200000 };
	const char *why = NULL;
	char *s;

	s = nested_arrays(MSG_MAX_DEPTH - 1);
	assert_true(parses(s));
	free(s);
	s = nested_arrays(MSG_MAX_DEPTH);
	assert_false(parses(s));
	free(s);
	/* Far too deep, balanced or not: refused without recursing into it. */
	s = nested_arrays(HUGE);
	assert_false(parses(s));
	assert_null(msg_parse((const uint8_t *)s, 5 + HUGE, &why));
	assert_non_null(why);
	free(s);
}

static void
test_parse_brackets_in_strings(void **state)
{
	char s[256];
	size_t o;

	/* Brackets inside strings, even after escaped quotes and backslashes, are not nesting. */
	o = (size_t)snprintf(s, sizeof(s), "{\"a\":\"\\\"\\\\");
	memset(s + o, '[', 60);
	o += 60;
	snprintf(s + o, sizeof(s) - o, "\",\"b\":\"\\\\\",\"c\":[[1]]}");
	assert_true(parses(s));
	o = (size_t)snprintf(s, sizeof(s), "{\"");
	memset(s + o, '{', 60);
	o += 60;
	snprintf(s + o, sizeof(s) - o, "\":1}");
	assert_true(parses(s));
}

static void
test_json_depth(void **state)
{
	json_t *v;

	v = json_integer(1);
	assert_int_equal(json_depth(v), 1);
	json_decref(v);
	v = json_object();
	assert_int_equal(json_depth(v), 1);
	json_decref(v);
	v = json_array();
	assert_int_equal(json_depth(v), 1);
	json_decref(v);
	v = json_pack("{s:[i]}", "a", 1);
	assert_int_equal(json_depth(v), 3);
	json_decref(v);
	/* The deepest branch counts, not the first. */
	v = json_pack("[i,{},[[s]],{s:i}]", 1, "x", "k", 2);
	assert_int_equal(json_depth(v), 4);
	json_decref(v);
	v = json_pack("{s:i,s:{s:{s:{}}}}", "a", 1, "b", "c", "d");
	assert_int_equal(json_depth(v), 4);
	json_decref(v);
}

static void
test_dump(void **state)
{
	json_t *o = json_pack("{s:s,s:i,s:[b]}", "op", "x", "n", 42, "l", 1);
	size_t len = 0;
	char *s;

	assert_non_null(o);
	s = msg_dump(o, &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	/* Compact: no spaces. */
	assert_null(strchr(s, ' '));
	assert_null(strchr(s, '\n'));
	{
		const char *why = NULL;
		json_t *back = msg_parse((const uint8_t *)s, len, &why);
		assert_non_null(back);
		assert_true(json_equal(back, o));
		json_decref(back);
	}
	free(s);
	json_decref(o);
}

static void
test_dump_size_cap(void **state)
{
	/* {"s":"...."} is 8 bytes around the string. */
	size_t n = MSG_MAX_SIZE - 8, len = 0;
	char *str = malloc(n + 2);
	json_t *o;
	char *s;

	assert_non_null(str);
	memset(str, 'x', n + 1);
	str[n] = '\0';
	o = json_pack("{s:s}", "s", str);
	s = msg_dump(o, &len);
	assert_non_null(s);
	assert_int_equal(len, MSG_MAX_SIZE);
	free(s);
	json_decref(o);

	str[n] = 'x';
	str[n + 1] = '\0';
	o = json_pack("{s:s}", "s", str);
	len = 12345;
	assert_null(msg_dump(o, &len));
	json_decref(o);
	free(str);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_send_recv_payload, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_send_max_size, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_fd_passing, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_fd_passing_max, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_too_many_fds_flagged, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_oversized_packet, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_small_buffer_oversized, setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_empty_packet_with_fd_is_not_eof, setup_pair,
					    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_eof, setup_pair, teardown_pair),
	    cmocka_unit_test(test_recv_bad_socket),
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_refuses_empty),
	    cmocka_unit_test(test_parse_refuses_non_object),
	    cmocka_unit_test(test_parse_refuses_invalid_utf8),
	    cmocka_unit_test(test_parse_refuses_duplicates),
	    cmocka_unit_test(test_parse_refuses_trailing_garbage),
	    cmocka_unit_test(test_parse_refuses_nul_in_strings),
	    cmocka_unit_test(test_parse_depth_limit),
	    cmocka_unit_test(test_parse_depth_arrays_and_huge),
	    cmocka_unit_test(test_parse_brackets_in_strings),
	    cmocka_unit_test(test_json_depth),
	    cmocka_unit_test(test_dump),
	    cmocka_unit_test(test_dump_size_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

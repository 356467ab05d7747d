/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile-input probe: sends malformed packets to signetd and checks each answer. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/msg.h"
#include "tests/common/rawsock.h"

static const char *sock_path;
static const char *token;
static int passed, failed;

static int
connect_sock(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("probe: connect");
		exit(2);
	}
	return fd;
}

static int
send_raw(int fd, const void *data, size_t len, int nfds)
{
	int fds[RAW_SEND_MAX_FDS];
	ssize_t n;

	for (int i = 0; i < nfds; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	n = raw_send(fd, data, len, fds, nfds);
	for (int i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	return n < 0 ? -errno : 0;
}

/* Wait for one reply: its error code ("ok" for success), or "closed". */
static void
recv_code(int fd, char *code, size_t codelen, json_int_t *id)
{
	static uint8_t buf[MSG_MAX_SIZE];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int fds[MSG_MAX_FDS], nfds, flags;
	long n;
	json_t *rep;
	const char *why;

	*id = -2;
	snprintf(code, codelen, "timeout");
	if (poll(&p, 1, 10000) != 1) {
		return;
	}
	n = msg_recv(fd, buf, sizeof(buf), fds, &nfds, &flags);
	msg_close_fds(fds, &nfds);
	if (n <= 0) {
		snprintf(code, codelen, "closed");
		return;
	}
	rep = msg_parse_reply(buf, (size_t)n, &why);
	if (rep == NULL) {
		snprintf(code, codelen, "garbage");
		return;
	}
	*id = json_is_integer(json_object_get(rep, "id"))
		  ? json_integer_value(json_object_get(rep, "id"))
		  : -1;
	if (json_is_true(json_object_get(rep, "ok"))) {
		snprintf(code, codelen, "ok");
	} else {
		const char *c =
		    json_string_value(json_object_get(json_object_get(rep, "error"), "code"));
		snprintf(code, codelen, "%s", c != NULL ? c : "noerrorcode");
	}
	json_decref(rep);
}

struct probe_case {
	const char *name;
	const char *packet; /* NULL: built by the case */
	int nfds;
	const char *expect; /* expected code; "invalid|closed" alternatives allowed */
};

static void
check(const char *name, const char *got, const char *expect)
{
	char alts[128], *save = NULL;
	bool ok = false;

	snprintf(alts, sizeof(alts), "%s", expect);
	for (char *a = strtok_r(alts, "|", &save); a != NULL; a = strtok_r(NULL, "|", &save)) {
		if (strcmp(a, got) == 0) {
			ok = true;
		}
	}
	if (ok) {
		passed++;
		printf("ok %d - %s: %s\n", passed + failed, name, got);
	} else {
		failed++;
		printf("not ok %d - %s: got %s, expected %s\n", passed + failed, name, got, expect);
	}
}

static int
run_packet(int *fd, const char *name, const void *data, size_t len, int nfds, const char *expect)
{
	char code[64];
	json_int_t id;
	int r = send_raw(*fd, data, len, nfds);

	if (r != 0) {
		snprintf(code, sizeof(code), "senderr:%s", strerror(-r));
	} else {
		recv_code(*fd, code, sizeof(code), &id);
	}
	check(name, code, expect);
	if (strcmp(code, "closed") == 0 || strncmp(code, "senderr", 7) == 0) {
		close(*fd);
		*fd = connect_sock();
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char buf[2048], *big, *deep;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: probe SOCKET TOKEN\n");
		return 2;
	}
	sock_path = argv[1];
	token = argv[2];
	fd = connect_sock();

	static const struct probe_case cases[] = {
	    {"not JSON", "hello", 0, "invalid"},
	    {"JSON array at top", "[1,2,3]", 0, "invalid"},
	    {"JSON string at top", "\"status\"", 0, "invalid"},
	    {"empty object", "{}", 0, "invalid"},
	    {"id is a string", "{\"id\":\"1\",\"op\":\"status\"}", 0, "invalid"},
	    {"negative id", "{\"id\":-5,\"op\":\"status\"}", 0, "invalid"},
	    {"id beyond 2^53", "{\"id\":18014398509481984,\"op\":\"status\"}", 0, "invalid"},
	    {"id is a float", "{\"id\":1.5,\"op\":\"status\"}", 0, "invalid"},
	    {"missing op", "{\"id\":1}", 0, "invalid"},
	    {"op is a number", "{\"id\":1,\"op\":7}", 0, "invalid"},
	    {"unknown op", "{\"id\":1,\"op\":\"key.steal\"}", 0, "invalid"},
	    {"args is an array", "{\"id\":1,\"op\":\"status\",\"args\":[]}", 0, "invalid"},
	    {"unknown member", "{\"id\":1,\"op\":\"status\",\"evil\":true}", 0, "invalid"},
	    {"duplicate keys", "{\"id\":1,\"op\":\"status\",\"op\":\"tenant.list\"}", 0, "invalid"},
	    {"truncated JSON", "{\"id\":1,\"op\":\"sta", 0, "invalid"},
	    {"trailing garbage", "{\"id\":1,\"op\":\"status\"} {}", 0, "invalid"},
	    {"NUL escape in string", "{\"id\":1,\"op\":\"status\\u0000x\"}", 0, "invalid"},
	    {"auth is a string", "{\"id\":1,\"op\":\"key.list\",\"auth\":\"sgn_x\"}", 0, "invalid"},
	    {"auth with extra member",
	     "{\"id\":1,\"op\":\"key.list\",\"auth\":{\"token\":\"x\",\"role\":\"admin\"}}", 0,
	     "invalid"},
	    {"token of wrong type", "{\"id\":1,\"op\":\"key.list\",\"auth\":{\"token\":42}}", 0,
	     "invalid"},
	    {"no token where one is needed", "{\"id\":1,\"op\":\"key.list\"}", 0,
	     "unauthenticated"},
	    {"bogus token",
	     "{\"id\":1,\"op\":\"key.list\",\"auth\":{\"token\":"
	     "\"sgn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}}",
	     0, "unauthenticated"},
	    {"short bogus token", "{\"id\":1,\"op\":\"key.list\",\"auth\":{\"token\":\"admin\"}}",
	     0, "unauthenticated"},
	    {"descriptor attached to status", "{\"id\":1,\"op\":\"status\"}", 1, "invalid"},
	    {"nine descriptors attached", "{\"id\":1,\"op\":\"key.import\"}", 9, "invalid"},
	    {"two descriptors to key.import", "{\"id\":1,\"op\":\"key.import\"}", 2, "invalid"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_packet(&fd, cases[i].name, cases[i].packet, strlen(cases[i].packet),
			   cases[i].nfds, cases[i].expect);
	}
	/* An empty SOCK_SEQPACKET message reads like end of stream: it must still be answered. */
	run_packet(&fd, "empty packet", "", 0, 0, "invalid");
	run_packet(&fd, "raw NUL bytes", "\0\0\0\0", 4, 0, "invalid");
	run_packet(&fd, "invalid UTF-8", "{\"id\":1,\"op\":\"st\xff\xfe\"}", 20, 0, "invalid");
	run_packet(&fd, "overlong UTF-8", "{\"id\":1,\"op\":\"\xc0\xaf\"}", 18, 0, "invalid");

	big = malloc(70000);
	memset(big, ' ', 70000);
	memcpy(big, "{\"id\":1,\"op\":\"status\",\"args\":{\"x\":\"", 35);
	run_packet(&fd, "oversized packet (70000 bytes)", big, 70000, 0, "too_large");
	run_packet(&fd, "oversized packet with a descriptor", big, 70000, 1, "too_large");
	free(big);

	deep = malloc(20000);
	memset(deep, '[', 10000);
	memset(deep + 10000, ']', 10000);
	run_packet(&fd, "deep nesting (10000 arrays)", deep, 20000, 0, "invalid");
	free(deep);
	snprintf(buf, sizeof(buf), "{\"id\":1,\"op\":\"status\",\"args\":%s}",
		 "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{"
		 "\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{"
		 "\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}"
		 "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}");
	run_packet(&fd, "nesting 34 objects deep", buf, strlen(buf), 0, "invalid");
	{
		/* Cheap to send, costly to parse: refused before jansson builds anything. */
		char *many = malloc(65000);
		size_t n =
		    (size_t)snprintf(many, 65000, "{\"id\":1,\"op\":\"status\",\"args\":{\"a\":[");
		for (int i = 0; i < 300; i++) {
			n += (size_t)snprintf(many + n, 65000 - n, "%s{}", i ? "," : "");
		}
		n += (size_t)snprintf(many + n, 65000 - n, "]}}");
		run_packet(&fd, "300 empty objects in one packet", many, n, 0, "invalid");
		n = (size_t)snprintf(many, 65000, "{\"id\":1,\"op\":\"status\",\"args\":{\"a\":[0");
		for (int i = 0; i < 5000; i++) {
			n += (size_t)snprintf(many + n, 65000 - n, ",1");
		}
		n += (size_t)snprintf(many + n, 65000 - n, "]}}");
		run_packet(&fd, "5001 numbers in one packet", many, n, 0, "invalid");
		free(many);
	}

	/* With a valid token: bad arguments are refused before anything happens. */
#define AUTHED(name, op, args, expect)                                                             \
	do {                                                                                       \
		snprintf(buf, sizeof(buf),                                                         \
			 "{\"id\":9,\"op\":\"%s\",\"auth\":{\"token\":\"%s\"},\"args\":%s}", op,   \
			 token, args);                                                             \
		run_packet(&fd, name, buf, strlen(buf), 0, expect);                                \
	} while (0)
	AUTHED("path-like key label", "key.show", "{\"label\":\"../../etc/passwd\"}", "invalid");
	AUTHED("key label with a slash", "key.generate",
	       "{\"label\":\"a/b\",\"alg\":\"ECC_NIST_P256\"}", "invalid");
	AUTHED("key label starting with a dot", "key.generate",
	       "{\"label\":\".hidden\",\"alg\":\"ECC_NIST_P256\"}", "invalid");
	AUTHED("unknown algorithm", "key.generate", "{\"label\":\"x\",\"alg\":\"DES\"}", "invalid");
	AUTHED("algorithm of wrong type", "key.generate", "{\"label\":\"x\",\"alg\":5}", "invalid");
	AUTHED("unknown argument", "key.list", "{\"all\":true}", "invalid");
	AUTHED("user name too long", "user.create",
	       "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	       "invalid");
	AUTHED("groups not an array", "user.create", "{\"name\":\"u1\",\"groups\":\"admins\"}",
	       "invalid");
	AUTHED("CSR subject without slash", "key.csr", "{\"label\":\"nokey\",\"subject\":\"CN=x\"}",
	       "invalid");
	AUTHED("import without descriptor", "key.import", "{\"label\":\"x\",\"alg\":\"AES_256\"}",
	       "invalid");
	AUTHED("key.show of an unknown key", "key.show", "{\"label\":\"no-such-key\"}",
	       "not_found");

	/*
	 * Backpressure: 300 requests pipelined without reading a reply. The
	 * daemon stops reading this connection at its in-flight limit instead
	 * of refusing or buffering without bound; every request is answered.
	 */
	{
		int answered = 0, pfd = connect_sock(), in_order = 1;
		char code[64];
		json_int_t rid;
		for (int i = 0; i < 300; i++) {
			struct pollfd p = {.fd = pfd, .events = POLLOUT};
			snprintf(buf, sizeof(buf), "{\"id\":%d,\"op\":\"status\"}", 1000 + i);
			/* Sends block once the socket buffer is full: read replies then. */
			while (poll(&p, 1, 0) == 0) {
				recv_code(pfd, code, sizeof(code), &rid);
				answered += strcmp(code, "ok") == 0;
				in_order &= rid == 1000 + answered - 1;
			}
			if (send_raw(pfd, buf, strlen(buf), 0) != 0) {
				break;
			}
		}
		while (answered < 300) {
			recv_code(pfd, code, sizeof(code), &rid);
			if (strcmp(code, "ok") != 0) {
				break;
			}
			answered++;
		}
		snprintf(code, sizeof(code), "%d", answered);
		check("300 pipelined requests all answered", code, "300");
		close(pfd);
	}

	/* After all that the daemon still serves, on this connection and a new one. */
	run_packet(&fd, "status after the abuse", "{\"id\":1,\"op\":\"status\"}", 22, 0, "ok");
	close(fd);
	fd = connect_sock();
	run_packet(&fd, "status on a new connection", "{\"id\":2,\"op\":\"status\"}", 22, 0, "ok");
	close(fd);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

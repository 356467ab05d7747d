/* SPDX-License-Identifier: Apache-2.0 */
/* Many signing tasks through the socket, quickly: a test helper to fill a store (t29, bench). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/client.h"

/*
 * usage: tasksign SOCKET TOKEN DEVCONF N [CLIENTS]
 *
 * Sends N task.sign requests (a random 32-byte prehashed digest each) over
 * CLIENTS connections (default 4) and prints how many ended DONE. Exit
 * status 0 when all did.
 */

struct job {
	const char *sock, *token, *devconf;
	long n, done;
};

static void *
run(void *arg)
{
	struct job *j = arg;
	struct client c = {.fd = -1};
	json_t *auth = json_pack("{s:s}", "token", j->token);
	unsigned seed = (unsigned)(uintptr_t)arg ^ (unsigned)time(NULL);

	if (client_connect(&c, j->sock, 60000) != 0) {
		json_decref(auth);
		return NULL;
	}
	for (long i = 0; i < j->n; i++) {
		char b64[48];
		unsigned char md[32];
		json_t *rep = NULL, *args;
		int rfds[MSG_MAX_FDS], rn = 0;
		static const char tab[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

		for (size_t k = 0; k < sizeof(md); k++) {
			md[k] = (unsigned char)rand_r(&seed);
		}
		/* 32 bytes: ten groups of three, then two and a pad. */
		for (size_t k = 0, o = 0; k < 33; k += 3) {
			unsigned v = (unsigned)md[k] << 16 | (unsigned)md[k + 1] << 8 |
				     (k + 2 < 32 ? md[k + 2] : 0);
			b64[o++] = tab[v >> 18 & 63];
			b64[o++] = tab[v >> 12 & 63];
			b64[o++] = tab[v >> 6 & 63];
			b64[o++] = k + 2 < 32 ? tab[v & 63] : '=';
			b64[o] = '\0';
		}
		args = json_pack("{s:s, s:s, s:b}", "devconf", j->devconf, "inputBase64", b64,
				 "prehashed", 1);
		if (client_call(&c, "task.sign", auth, args, NULL, 0, &rep, rfds, &rn) == 0 &&
		    json_is_true(json_object_get(rep, "ok"))) {
			const char *st = json_string_value(
			    json_object_get(json_object_get(rep, "result"), "status"));
			j->done += st != NULL && strcmp(st, "DONE") == 0;
		} else if (j->done == 0 && i == 0) {
			char *s = rep != NULL ? json_dumps(rep, JSON_COMPACT) : NULL;
			fprintf(stderr, "tasksign: %s\n", s != NULL ? s : "no answer");
			free(s);
		}
		msg_close_fds(rfds, &rn);
		json_decref(args);
		json_decref(rep);
	}
	client_close(&c);
	json_decref(auth);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct job jobs[64];
	pthread_t th[64];
	long n, total = 0;
	int clients;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: tasksign SOCKET TOKEN DEVCONF N [CLIENTS]\n");
		return 2;
	}
	n = atol(argv[4]);
	clients = argc > 5 ? atoi(argv[5]) : 4;
	if (n < 1 || clients < 1 || clients > 64) {
		fprintf(stderr, "tasksign: bad N or CLIENTS\n");
		return 2;
	}
	for (int i = 0; i < clients; i++) {
		jobs[i] = (struct job){argv[1], argv[2], argv[3], n / clients + (i < n % clients), 0};
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		total += jobs[i].done;
	}
	printf("%ld\n", total);
	return total == n ? 0 : 1;
}

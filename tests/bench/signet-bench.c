/* SPDX-License-Identifier: Apache-2.0 */
/* signet-bench: socket API round trips against the raw token and OpenSSL, in one run. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "hsm/hsm.h"
#include "lib/client.h"
#include "lib/util.h"

/*
 * Three measurements of the same length, one after the other:
 *   1. signetd: THREADS clients calling an authenticated op (whoami) over
 *      the socket: what the loop, framing, dispatch, authentication (an
 *      LMDB read) and the worker hand-off cost per request;
 *   2. token: THREADS threads with their own sessions doing ECDSA P-256
 *      C_Sign on a digest through hsm/ directly, the ceiling for signing;
 *   3. openssl: THREADS threads signing the same way in software.
 * usage: signet-bench STATE_DIR TOKEN [SECONDS] [THREADS]
 */

struct bench {
	const char *sock;
	const char *token;
	struct hsm *hsm;
	uint8_t id[HSM_ID_LEN];
	EVP_PKEY *soft;
	double seconds;
	int mode;
	long ops;
	long errors;
	double *lat; /* per-op latency samples, ms (socket mode) */
	long nlat, maxlat;
	pthread_mutex_t lock;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker(void *arg)
{
	struct bench *b = arg;
	double end = now() + b->seconds;
	long ops = 0, errs = 0;
	uint8_t md[32] = {1, 2, 3}, sig[256];
	struct client c = {.fd = -1};
	struct hsm_session *hs = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	json_t *auth = json_pack("{s:s}", "token", b->token);

	if (b->mode == 0 && client_connect(&c, b->sock, 10000) != 0) {
		errs++;
		goto out;
	}
	if (b->mode == 1 && hsm_session_open(b->hsm, &hs) != 0) {
		errs++;
		goto out;
	}
	if (b->mode == 2) {
		pctx = EVP_PKEY_CTX_new(b->soft, NULL);
		if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1) {
			errs++;
			goto out;
		}
	}
	while (now() < end) {
		double t0 = now();
		size_t siglen = sizeof(sig);
		int r;
		if (b->mode == 0) {
			json_t *rep = NULL;
			int rfds[MSG_MAX_FDS], rn = 0;
			r = client_call(&c, "whoami", auth, NULL, NULL, 0, &rep, rfds, &rn);
			if (r == 0 && !json_is_true(json_object_get(rep, "ok"))) {
				r = -1;
			}
			json_decref(rep);
		} else if (b->mode == 1) {
			r = hsm_sign(hs, HSM_ALG_ECC_NIST_P256, b->id, md, sizeof(md), sig,
				     &siglen);
		} else {
			r = EVP_PKEY_sign(pctx, sig, &siglen, md, sizeof(md)) == 1 ? 0 : -1;
		}
		if (r != 0) {
			errs++;
			continue;
		}
		ops++;
		if (b->mode == 0) {
			pthread_mutex_lock(&b->lock);
			if (b->nlat < b->maxlat) {
				b->lat[b->nlat++] = (now() - t0) * 1000.0;
			}
			pthread_mutex_unlock(&b->lock);
		}
	}
out:
	json_decref(auth);
	client_close(&c);
	hsm_session_close(hs);
	EVP_PKEY_CTX_free(pctx);
	pthread_mutex_lock(&b->lock);
	b->ops += ops;
	b->errors += errs;
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
run(struct bench *b, int threads, const char *name)
{
	pthread_t t[64];

	b->ops = b->errors = 0;
	b->nlat = 0;
	for (int i = 0; i < threads; i++) {
		pthread_create(&t[i], NULL, worker, b);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
	}
	printf("%-34s %10.0f ops/s  (%ld ops, %ld errors, %d threads)", name,
	       (double)b->ops / b->seconds, b->ops, b->errors, threads);
	if (b->nlat > 0) {
		qsort(b->lat, (size_t)b->nlat, sizeof(double), cmp_double);
		printf("  p50 %.3f ms  p99 %.3f ms", b->lat[b->nlat / 2],
		       b->lat[b->nlat * 99 / 100]);
	}
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct bench b = {0};
	struct secret pin = {0};
	struct hsm_config hc;
	struct hsm_session *hs = NULL;
	struct hsm_key k = {0};
	EVP_PKEY_CTX *kctx;
	char path[4096], sock[4096];
	int threads = 2;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: signet-bench STATE_DIR TOKEN [SECONDS] [THREADS]\n");
		return 2;
	}
	b.seconds = argc > 3 ? atof(argv[3]) : 3.0;
	threads = argc > 4 ? atoi(argv[4]) : 2;
	if (b.seconds <= 0 || threads < 1 || threads > 64) {
		fprintf(stderr, "signet-bench: bad SECONDS or THREADS\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "%s/signetd.sock", argv[1]);
	b.sock = sock;
	b.token = argv[2];
	b.maxlat = 10000000;
	b.lat = malloc(sizeof(double) * (size_t)b.maxlat);
	pthread_mutex_init(&b.lock, NULL);

	snprintf(path, sizeof(path), "%s/softhsm2.conf", argv[1]);
	setenv("SOFTHSM2_CONF", path, 0);
	snprintf(path, sizeof(path), "%s/token-pin", argv[1]);
	if (secret_read_file(&pin, path, 256) != 0) {
		return 1;
	}
	hc.module = SIGNET_SOFTHSM_MODULE;
	hc.token_uri = "pkcs11:token=signet";
	hc.pin = &pin;
	if (hsm_open(&hc, &b.hsm) != 0 || hsm_session_open(b.hsm, &hs) != 0 ||
	    hsm_key_generate(hs, HSM_ALG_ECC_NIST_P256, "bench/p256", &k) != 0) {
		fprintf(stderr, "signet-bench: cannot prepare a token key\n");
		return 1;
	}
	memcpy(b.id, k.id, HSM_ID_LEN);
	kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (kctx == NULL || EVP_PKEY_keygen_init(kctx) != 1 ||
	    EVP_PKEY_CTX_set_group_name(kctx, "prime256v1") != 1 ||
	    EVP_PKEY_keygen(kctx, &b.soft) != 1) {
		return 1;
	}
	EVP_PKEY_CTX_free(kctx);

	b.mode = 0;
	run(&b, threads, "signetd whoami (socket round trip)");
	b.mode = 1;
	run(&b, threads, "token ECDSA P-256 C_Sign (raw)");
	b.mode = 2;
	run(&b, threads, "openssl ECDSA P-256 sign");

	hsm_key_destroy(hs, HSM_ALG_ECC_NIST_P256, k.id);
	hsm_key_clear(&k);
	hsm_session_close(hs);
	hsm_close(b.hsm);
	secret_free(&pin);
	EVP_PKEY_free(b.soft);
	free(b.lat);
	return b.errors == 0 ? 0 : 1;
}

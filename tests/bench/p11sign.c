/* SPDX-License-Identifier: Apache-2.0 */
/* pkcs11-bench's client: N ECDSA C_Sign calls through a PKCS#11 module from THREADS threads. */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

/*
 * usage: p11sign MODULE TOKEN_LABEL N THREADS
 *
 * Each thread opens one session on the slot whose token is TOKEN_LABEL and
 * signs its share of N different 32-byte digests with CKM_ECDSA on the
 * token's private key. Prints how many signed (as tasksign does: the
 * caller times both alike); exit status 0 when all did.
 */

#define P11SIGN_MAX_THREADS 64
#define P11SIGN_MAX_SLOTS   64

static CK_FUNCTION_LIST *f;
static CK_SLOT_ID slot;

struct share {
	long n, done;
	CK_RV err;
};

static void *
run(void *arg)
{
	struct share *sh = arg;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0;
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	unsigned char dig[32], sig[132];
	unsigned seed = (unsigned)(uintptr_t)arg ^ (unsigned)time(NULL);

	if ((sh->err = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
		return NULL;
	}
	if (f->C_FindObjectsInit(s, &t, 1) != CKR_OK ||
	    f->C_FindObjects(s, &key, 1, &n) != CKR_OK || f->C_FindObjectsFinal(s) != CKR_OK ||
	    n != 1) {
		sh->err = CKR_KEY_HANDLE_INVALID;
		f->C_CloseSession(s);
		return NULL;
	}
	for (long i = 0; i < sh->n; i++) {
		CK_ULONG len = sizeof(sig);
		CK_RV rv;

		for (size_t k = 0; k < sizeof(dig); k++) {
			dig[k] = (unsigned char)rand_r(&seed);
		}
		if ((rv = f->C_SignInit(s, &m, key)) == CKR_OK) {
			rv = f->C_Sign(s, dig, sizeof(dig), sig, &len);
		}
		if (rv == CKR_OK) {
			sh->done++;
		} else if (sh->err == CKR_OK) {
			sh->err = rv;
		}
	}
	f->C_CloseSession(s);
	return NULL;
}

static int
find_slot(const char *label)
{
	CK_SLOT_ID slots[P11SIGN_MAX_SLOTS];
	CK_ULONG ns = P11SIGN_MAX_SLOTS;
	size_t ll = strlen(label);

	if (f->C_GetSlotList(CK_TRUE, slots, &ns) != CKR_OK) {
		return -1;
	}
	for (CK_ULONG i = 0; i < ns; i++) {
		CK_TOKEN_INFO ti;

		/* The label is blank-padded to 32 bytes. */
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && ll <= sizeof(ti.label) &&
		    memcmp(ti.label, label, ll) == 0 &&
		    (ll == sizeof(ti.label) || ti.label[ll] == ' ')) {
			slot = slots[i];
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	CK_RV (*get)(CK_FUNCTION_LIST **);
	CK_C_INITIALIZE_ARGS ia = {.flags = CKF_OS_LOCKING_OK};
	pthread_t th[P11SIGN_MAX_THREADS];
	struct share sh[P11SIGN_MAX_THREADS] = {{0}};
	long n, done = 0;
	int nt;
	void *dl;

	if (argc != 5 || (n = atol(argv[3])) < 1 || (nt = atoi(argv[4])) < 1 ||
	    nt > P11SIGN_MAX_THREADS) {
		fprintf(stderr, "usage: p11sign MODULE TOKEN_LABEL N THREADS (1 to %d)\n",
			P11SIGN_MAX_THREADS);
		return 2;
	}
	if ((dl = dlopen(argv[1], RTLD_NOW)) == NULL ||
	    (get = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get(&f) != CKR_OK || f->C_Initialize(&ia) != CKR_OK) {
		fprintf(stderr, "p11sign: cannot load %s\n", argv[1]);
		return 1;
	}
	if (find_slot(argv[2]) != 0) {
		fprintf(stderr, "p11sign: no token %s\n", argv[2]);
		f->C_Finalize(NULL);
		return 1;
	}
	for (int i = 0; i < nt; i++) {
		sh[i].n = n / nt + (i < n % nt);
		pthread_create(&th[i], NULL, run, &sh[i]);
	}
	for (int i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		done += sh[i].done;
		if (sh[i].err != CKR_OK) {
			fprintf(stderr, "p11sign: thread %d: CKR 0x%lx\n", i, sh[i].err);
		}
	}
	printf("%ld\n", done);
	f->C_Finalize(NULL);
	return done == n ? 0 : 1;
}

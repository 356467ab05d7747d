/* SPDX-License-Identifier: Apache-2.0 */
/* t31's helper: sign through libsignet-pkcs11 from several threads at once, then in a forked child.
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *f;
static CK_SLOT_ID slot;
static const char *outdir;

/* Sign the 32-byte digest DIG with CKM_ECDSA on the slot's key; write r||s to OUTDIR/sig.TAG. */
static int
sign_one(const char *tag, const unsigned char *dig)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0, len = 0;
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	unsigned char sig[256];
	char path[512];
	FILE *o;
	CK_RV rv;

	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
		fprintf(stderr, "%s: C_OpenSession 0x%lx\n", tag, rv);
		return 1;
	}
	if (f->C_FindObjectsInit(s, &t, 1) != CKR_OK ||
	    f->C_FindObjects(s, &key, 1, &n) != CKR_OK || f->C_FindObjectsFinal(s) != CKR_OK ||
	    n != 1) {
		fprintf(stderr, "%s: no private key\n", tag);
		return 1;
	}
	if ((rv = f->C_SignInit(s, &m, key)) != CKR_OK ||
	    (rv = f->C_Sign(s, (CK_BYTE *)dig, 32, NULL, &len)) != CKR_OK ||
	    (rv = f->C_Sign(s, (CK_BYTE *)dig, 32, sig, &len)) != CKR_OK) {
		fprintf(stderr, "%s: signing 0x%lx\n", tag, rv);
		return 1;
	}
	f->C_CloseSession(s);
	snprintf(path, sizeof(path), "%s/sig.%s", outdir, tag);
	if ((o = fopen(path, "wb")) == NULL || fwrite(sig, 1, len, o) != len || fclose(o) != 0) {
		return 1;
	}
	return 0;
}

static unsigned char digest[32];

/*
 * On the login slot (the API token as the PIN, P11THREADS_PIN): an
 * operation begun before C_Logout ends with it, the C_Sign after it is
 * refused (not signed with freed or other keys, no crash). 0 when so.
 */
static int
logout_ends_operation(void)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0, len = sizeof(unsigned char[256]);
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	unsigned char sig[256];
	CK_RV rv;

	const char *pin = getenv("P11THREADS_PIN");

	if (pin == NULL || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)) != CKR_OK ||
	    f->C_FindObjectsInit(s, &t, 1) != CKR_OK ||
	    f->C_FindObjects(s, &key, 1, &n) != CKR_OK || f->C_FindObjectsFinal(s) != CKR_OK ||
	    n != 1 || f->C_SignInit(s, &m, key) != CKR_OK) {
		fprintf(stderr, "logout: cannot begin an operation\n");
		return 1;
	}
	f->C_Logout(s);
	rv = f->C_Sign(s, digest, 32, sig, &len);
	f->C_CloseSession(s);
	if (rv == CKR_OK) {
		fprintf(stderr, "logout: C_Sign after C_Logout signed\n");
		return 1;
	}
	return 0;
}

/*
 * On the login slot: the parent logs in, a child forks and calls
 * C_Initialize, which starts afresh: the child is not logged in (its
 * C_SignInit is refused and it finds no key), while the parent still is.
 */
static int
fork_login(void)
{
	CK_C_INITIALIZE_ARGS ia = {.flags = CKF_OS_LOCKING_OK};
	CK_SESSION_HANDLE s;
	const char *pin = getenv("P11THREADS_PIN");
	int st;
	pid_t pid;

	if (pin == NULL || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin)) != CKR_OK) {
		fprintf(stderr, "forklogin: the parent cannot log in\n");
		return 1;
	}
	if ((pid = fork()) == 0) {
		CK_SESSION_HANDLE cs;
		CK_SESSION_INFO info;
		CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
		CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
		CK_OBJECT_HANDLE key;
		CK_ULONG n = 0;
		/* A call first (the reviewer's case): the parent's session is not the child's. */
		CK_RV rv = f->C_GetSessionInfo(s, &info);

		if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
			fprintf(stderr, "forklogin: the parent's session before C_Initialize: 0x%lx\n",
				rv);
			_exit(1);
		}
		rv = f->C_Initialize(&ia);
		if (rv != CKR_OK) {
			fprintf(stderr, "forklogin: the child's C_Initialize: 0x%lx\n", rv);
			_exit(1);
		}
		if (f->C_GetSessionInfo(s, &info) == CKR_OK) {
			fprintf(stderr, "forklogin: the parent's session lives on in the child\n");
			_exit(1);
		}
		if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK ||
		    f->C_GetSessionInfo(cs, &info) != CKR_OK || info.state != CKS_RO_PUBLIC_SESSION) {
			fprintf(stderr, "forklogin: the child's new session is not a public one\n");
			_exit(1);
		}
		if (f->C_FindObjectsInit(cs, &t, 1) == CKR_OK) {
			f->C_FindObjects(cs, &key, 1, &n);
			f->C_FindObjectsFinal(cs);
		}
		if (n != 0) {
			fprintf(stderr, "forklogin: the child sees a private key without logging in\n");
			_exit(1);
		}
		f->C_Finalize(NULL);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		return 1;
	}
	{
		CK_SESSION_INFO info;
		if (f->C_GetSessionInfo(s, &info) != CKR_OK || info.state == CKS_RO_PUBLIC_SESSION) {
			fprintf(stderr, "forklogin: the parent lost its login\n");
			return 1;
		}
	}
	f->C_CloseSession(s);
	return 0;
}

static void *
worker(void *arg)
{
	char tag[32];

	snprintf(tag, sizeof(tag), "t%ld", (long)(intptr_t)arg);
	return (void *)(intptr_t)sign_one(tag, digest);
}

int
main(int argc, char **argv)
{
	CK_RV (*get)(CK_FUNCTION_LIST **);
	CK_C_INITIALIZE_ARGS ia = {.flags = CKF_OS_LOCKING_OK};
	pthread_t th[16];
	void *dl;
	int nthreads, bad = 0, st;
	pid_t pid;
	FILE *in;

	if (argc == 4 && (strcmp(argv[3], "logout") == 0 || strcmp(argv[3], "forklogin") == 0)) {
		slot = strtoul(argv[2], NULL, 10);
		if ((dl = dlopen(argv[1], RTLD_NOW)) == NULL ||
		    (get = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(dl, "C_GetFunctionList")) == NULL ||
		    get(&f) != CKR_OK || f->C_Initialize(&ia) != CKR_OK) {
			fprintf(stderr, "cannot load %s\n", argv[1]);
			return 1;
		}
		bad = strcmp(argv[3], "logout") == 0 ? logout_ends_operation() : fork_login();
		f->C_Finalize(NULL);
		return bad;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: p11threads MODULE SLOT THREADS OUTDIR (digest on stdin)\n"
				"       P11THREADS_PIN=TOKEN p11threads MODULE SLOT logout|forklogin\n");
		return 2;
	}
	outdir = argv[4];
	nthreads = atoi(argv[3]);
	slot = strtoul(argv[2], NULL, 10);
	in = stdin;
	if (fread(digest, 1, sizeof(digest), in) != sizeof(digest) || nthreads < 1 ||
	    nthreads > 16) {
		return 2;
	}
	if ((dl = dlopen(argv[1], RTLD_NOW)) == NULL ||
	    (get = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get(&f) != CKR_OK || f->C_Initialize(&ia) != CKR_OK) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	for (long i = 0; i < nthreads; i++) {
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	}
	for (int i = 0; i < nthreads; i++) {
		void *r;

		pthread_join(th[i], &r);
		bad += r != NULL;
	}
	/* A child of a process that had the module initialised (and threads) signs too. */
	if ((pid = fork()) == 0) {
		/* The parent's state is not the child's: nothing works until C_Initialize. */
		CK_INFO info;
		CK_RV rv = f->C_GetInfo(&info);
		if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
			fprintf(stderr, "the child's C_GetInfo before C_Initialize: 0x%lx\n", rv);
			_exit(1);
		}
		if ((rv = f->C_Initialize(&ia)) != CKR_OK) {
			fprintf(stderr, "the child's C_Initialize: 0x%lx\n", rv);
			_exit(1);
		}
		_exit(sign_one("child", digest));
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "the forked child could not sign\n");
		bad++;
	}
	bad += sign_one("parent", digest);
	f->C_Finalize(NULL);
	return bad == 0 ? 0 : 1;
}

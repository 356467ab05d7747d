/* SPDX-License-Identifier: Apache-2.0 */
/* A fault-injecting PKCS#11 module: forwards to SoftHSMv2 and breaks sessions on demand. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

/*
 * P11FAULT_MODULE names the real module; P11FAULT_DIR a folder where a test
 * drops trigger files, consumed by the next C_FindObjectsInit or
 * C_GetAttributeValue calls (a file
 * holding a number N fires N times, an empty one once):
 *   close-sessions  the real module closes every session of the slot (the
 *                   login goes with them), as after a token reset;
 *   device-removed  the call fails once with CKR_DEVICE_REMOVED.
 * Every handled fault is counted in the file "faults" in the same folder.
 * While a file "hold-encrypt" exists there, C_EncryptInit waits (at most
 * 10 minutes) before it goes on, once it has appended a line to the file
 * "held": a test holds a task in the engine for as long as it needs.
 * Every C_SignInit also appends the key object's CKA_ID, in hex, as one line
 * of the file "signinit" there ("?" when the id cannot be read).
 */
static CK_FUNCTION_LIST real_copy, wrapped;
static CK_FUNCTION_LIST *real;

static int
take_trigger(const char *name)
{
	const char *dir = getenv("P11FAULT_DIR");
	char path[4096];

	if (dir == NULL) {
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r+");
	int left = 1;
	if (f == NULL) {
		return 0;
	}
	if (fscanf(f, "%d", &left) != 1 || left <= 1) {
		fclose(f);
		unlink(path);
	} else {
		rewind(f);
		fprintf(f, "%d\n", left - 1);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/faults", dir);
	f = fopen(path, "a");
	if (f != NULL) {
		fprintf(f, "%s\n", name);
		fclose(f);
	}
	return 1;
}

/* A fault fires on the first object look-up of an operation: a search or a cached handle's check.
 */
static CK_RV
fault_inject(CK_SESSION_HANDLE s)
{
	if (take_trigger("close-sessions")) {
		CK_SESSION_INFO si;
		if (real->C_GetSessionInfo(s, &si) == CKR_OK) {
			real->C_CloseAllSessions(si.slotID);
		}
	}
	if (take_trigger("device-removed")) {
		return CKR_DEVICE_REMOVED;
	}
	return CKR_OK;
}

static CK_RV
fault_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = fault_inject(s);

	return rv != CKR_OK ? rv : real->C_FindObjectsInit(s, t, n);
}

static CK_RV
fault_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = fault_inject(s);

	return rv != CKR_OK ? rv : real->C_GetAttributeValue(s, o, t, n);
}

/* Count C_SignInit per key: the id is read with the real module, outside fault injection. */
static CK_RV
fault_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	const char *dir = getenv("P11FAULT_DIR");

	if (dir != NULL) {
		unsigned char id[256];
		CK_ATTRIBUTE a = {CKA_ID, id, sizeof(id)};
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/signinit", dir);
		if ((f = fopen(path, "a")) != NULL) {
			if (real->C_GetAttributeValue(s, key, &a, 1) == CKR_OK &&
			    a.ulValueLen != CK_UNAVAILABLE_INFORMATION && a.ulValueLen > 0 &&
			    a.ulValueLen <= sizeof(id)) {
				for (CK_ULONG i = 0; i < a.ulValueLen; i++) {
					fprintf(f, "%02x", id[i]);
				}
				fputc('\n', f);
			} else {
				fputs("?\n", f);
			}
			fclose(f);
		}
	}
	return real->C_SignInit(s, m, key);
}

static CK_RV
fault_EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	const char *dir = getenv("P11FAULT_DIR");
	char hold[4096], held[4096];
	FILE *f;

	if (dir != NULL) {
		snprintf(hold, sizeof(hold), "%s/hold-encrypt", dir);
		snprintf(held, sizeof(held), "%s/held", dir);
		if (access(hold, F_OK) == 0) {
			if ((f = fopen(held, "a")) != NULL) {
				fputs("encrypt\n", f);
				fclose(f);
			}
			for (int i = 0; i < 30000 && access(hold, F_OK) == 0; i++) {
				usleep(20000);
			}
		}
	}
	return real->C_EncryptInit(s, m, key);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	const char *path = getenv("P11FAULT_MODULE");
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	void *h;

	if (real == NULL) {
		if (path == NULL || (h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			return CKR_GENERAL_ERROR;
		}
		get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList");
		if (get == NULL || get(&real) != CKR_OK) {
			return CKR_GENERAL_ERROR;
		}
		real_copy = *real;
		wrapped = real_copy;
		wrapped.C_FindObjectsInit = fault_FindObjectsInit;
		wrapped.C_GetAttributeValue = fault_GetAttributeValue;
		wrapped.C_SignInit = fault_SignInit;
		wrapped.C_EncryptInit = fault_EncryptInit;
	}
	*out = &wrapped;
	return CKR_OK;
}

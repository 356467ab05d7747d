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
 * drops trigger files (a file holding a number N fires N times, an empty
 * one once; "N K" lets K calls pass first, then fires N times). Consumed by the next
 * C_FindObjectsInit or C_GetAttributeValue calls: close-sessions  the real module closes every
 * session of the slot (the login goes with them), as after a token reset; device-removed  the call
 * fails once with CKR_DEVICE_REMOVED; device-error    the call fails once with CKR_DEVICE_ERROR.
 * Consumed by the function they name (the unit tests of hsm/ use them):
 *   encrypt-device-error  C_EncryptUpdate fails with CKR_DEVICE_ERROR, which
 *                         ends the operation;
 *   encrypt-close-sessions  C_EncryptUpdate finds every session of the slot
 *                         closed (the real module answers for itself);
 *   sign-device-error     C_Sign fails with CKR_DEVICE_ERROR;
 *   open-session-error    C_OpenSession fails with CKR_DEVICE_ERROR;
 *   login-pin-incorrect   C_Login fails with CKR_PIN_INCORRECT;
 *   create-inconsistent   C_GenerateKeyPair, C_GenerateKey or C_CreateObject makes its
 *                         objects, then answers CKR_TEMPLATE_INCONSISTENT.
 * Every handled fault is counted in the file "faults" in the same folder.
 * While a file "hold-encrypt" exists there, C_EncryptInit waits (at most
 * 10 minutes) before it goes on, once it has appended a line to the file
 * "held": a test holds a task in the engine for as long as it needs.
 * Likewise, while a file "hold-ecpoint" exists, a C_GetAttributeValue that
 * asks for CKA_EC_POINT (reading an EC public key: the audit key, at the
 * start of an audit verify) appends "ecpoint" to "held" and waits.
 * Every C_SignInit also appends the key object's CKA_ID, in hex, as one line
 * of the file "signinit" there ("?" when the id cannot be read).
 */
static CK_FUNCTION_LIST real_copy, wrapped;
static CK_FUNCTION_LIST *real;

/* Write the trigger's new count over the old one, and close it. */
static void
trigger_rewrite(FILE *f, int left, int skip)
{
	rewind(f);
	if (skip > 0) {
		fprintf(f, "%d %d\n", left, skip);
	} else {
		fprintf(f, "%d\n", left);
	}
	/* The new text may be shorter ("10" becomes "9"): nothing of the old may follow. */
	if (fflush(f) != 0 || ftruncate(fileno(f), ftell(f)) != 0) {
		perror("p11fault: rewriting a trigger");
	}
	fclose(f);
}

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
	int left = 1, skip = 0, n;
	if (f == NULL) {
		return 0;
	}
	n = fscanf(f, "%d %d", &left, &skip);
	if (n == 2 && skip > 0) {
		/* Not yet: this call passes, one fewer to let pass. */
		trigger_rewrite(f, left, skip - 1);
		return 0;
	}
	if (n < 1 || left <= 1) {
		fclose(f);
		unlink(path);
	} else {
		trigger_rewrite(f, left - 1, 0);
	}
	snprintf(path, sizeof(path), "%s/faults", dir);
	f = fopen(path, "a");
	if (f != NULL) {
		fprintf(f, "%s\n", name);
		fclose(f);
	}
	return 1;
}

static void
close_all(CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;

	if (real->C_GetSessionInfo(s, &si) == CKR_OK) {
		real->C_CloseAllSessions(si.slotID);
	}
}

/* A fault fires on the first object look-up of an operation: a search or a cached handle's check.
 */
static CK_RV
fault_inject(CK_SESSION_HANDLE s)
{
	if (take_trigger("close-sessions")) {
		close_all(s);
	}
	if (take_trigger("device-removed")) {
		return CKR_DEVICE_REMOVED;
	}
	if (take_trigger("device-error")) {
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

static CK_RV
fault_EncryptUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		    CK_ULONG_PTR outlen)
{
	if (take_trigger("encrypt-close-sessions")) {
		close_all(s);
	}
	if (take_trigger("encrypt-device-error")) {
		/* A failed update ends the operation: end it in the real module too. */
		CK_BYTE scratch[64];
		CK_ULONG n = sizeof(scratch);
		(void)real->C_EncryptFinal(s, scratch, &n);
		return CKR_DEVICE_ERROR;
	}
	return real->C_EncryptUpdate(s, in, inlen, out, outlen);
}

static CK_RV
fault_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
	   CK_ULONG_PTR siglen)
{
	if (take_trigger("sign-device-error")) {
		return CKR_DEVICE_ERROR;
	}
	return real->C_Sign(s, data, len, sig, siglen);
}

/* The create goes through to the real module, then is reported failed, what it made left behind:
 * SoftHSMv2 2.6.1's creation race, at its worst (hsm/internal.h, hsm_run_create). */
static CK_RV
created_anyway(CK_RV rv)
{
	return rv == CKR_OK && take_trigger("create-inconsistent") ? CKR_TEMPLATE_INCONSISTENT : rv;
}

static CK_RV
fault_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
		      CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
		      CK_OBJECT_HANDLE_PTR hpriv)
{
	return created_anyway(real->C_GenerateKeyPair(s, m, pub, npub, priv, npriv, hpub, hpriv));
}

static CK_RV
fault_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
		  CK_OBJECT_HANDLE_PTR h)
{
	return created_anyway(real->C_GenerateKey(s, m, t, n, h));
}

static CK_RV
fault_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	return created_anyway(real->C_CreateObject(s, t, n, h));
}

static CK_RV
fault_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
		  CK_SESSION_HANDLE_PTR out)
{
	if (take_trigger("open-session-error")) {
		return CKR_DEVICE_ERROR;
	}
	return real->C_OpenSession(slot, flags, app, notify, out);
}

static CK_RV
fault_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	if (take_trigger("login-pin-incorrect")) {
		return CKR_PIN_INCORRECT;
	}
	return real->C_Login(s, user, pin, len);
}

static CK_RV
fault_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = fault_inject(s);

	return rv != CKR_OK ? rv : real->C_FindObjectsInit(s, t, n);
}

/* While DIR/NAME exists, append WHAT to DIR/held once and wait (at most 10 minutes). */
static void
hold_while(const char *name, const char *what)
{
	const char *dir = getenv("P11FAULT_DIR");
	char hold[4096], held[4096];
	FILE *f;

	if (dir == NULL) {
		return;
	}
	snprintf(hold, sizeof(hold), "%s/%s", dir, name);
	snprintf(held, sizeof(held), "%s/held", dir);
	if (access(hold, F_OK) != 0) {
		return;
	}
	if ((f = fopen(held, "a")) != NULL) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
	for (int i = 0; i < 30000 && access(hold, F_OK) == 0; i++) {
		usleep(20000);
	}
}

static CK_RV
fault_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = fault_inject(s);

	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
		if (t[i].type == CKA_EC_POINT) {
			hold_while("hold-ecpoint", "ecpoint");
			break;
		}
	}
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
	hold_while("hold-encrypt", "encrypt");
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
		wrapped.C_EncryptUpdate = fault_EncryptUpdate;
		wrapped.C_Sign = fault_Sign;
		wrapped.C_OpenSession = fault_OpenSession;
		wrapped.C_Login = fault_Login;
		wrapped.C_GenerateKeyPair = fault_GenerateKeyPair;
		wrapped.C_GenerateKey = fault_GenerateKey;
		wrapped.C_CreateObject = fault_CreateObject;
	}
	*out = &wrapped;
	return CKR_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* What the files of hsm/ share among themselves and nobody else. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include <p11-kit/pkcs11.h>

#include "hsm/hsm.h"

struct hsm {
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	struct hsm_token_info info;
	const struct secret *pin;
	char *module;
	pthread_mutex_t login_lock;  /* C_Login is per application: one thread at a time */
	pthread_mutex_t create_lock; /* key generation and import are serialised */
	CK_SESSION_HANDLE keep;      /* held open so the login outlives worker sessions */
	atomic_uint objects_gen;     /* bumped whenever we create or destroy token objects */
};

#define HSM_HANDLE_CACHE 16 /* object handles remembered per session */

struct hsm_session {
	struct hsm *h;
	CK_SESSION_HANDLE handle;
	bool open;
	/*
	 * Handles found before, by class and CKA_ID. A cached handle is checked
	 * against its class and id before every use (one C_GetAttributeValue
	 * instead of a search), so a handle a token reuses for another object
	 * is never taken for the old one.
	 */
	struct {
		CK_OBJECT_CLASS cls;
		uint8_t id[HSM_ID_LEN];
		CK_OBJECT_HANDLE obj;
		bool used;
		unsigned gen;        /* objects_gen when last checked */
		uint64_t checked_ms; /* when last checked */
	} cache[HSM_HANDLE_CACHE];
	unsigned cache_next;
};

/* Translate a CKR_ value once, logging the detail with WHAT. */
int hsm_err(CK_RV rv, const char *what);

/* Is RV one after which reopening the session and logging in again may help? */
bool hsm_rv_recoverable(CK_RV rv);

/*
 * hsm_run for FN that creates token objects, with creation serialised (create_lock). A create
 * that fails with CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED or CKR_TEMPLATE_INCONSISTENT is run
 * again, up to HSM_CREATE_TRIES times in all. SoftHSMv2 2.6.1 (Debian 12's) races creation
 * against the token's other sessions: a session that rereads the object list while a new
 * object's file is still empty marks that object invalid, and the create fails with one of
 * those (upstream issue 573, fixed after 2.6.1); seen in the test suite as a P-384 key
 * generation refused with CKR_TEMPLATE_INCONSISTENT while another session signed. The object
 * the failed try made may then be hidden from searches until a restart. So with ID (the
 * CKA_ID FN creates under, which FN reads through ARG): each try after the first draws a fresh
 * id into it, and the ids of failed tries (the last one too, when all failed) are cleared of
 * what can be seen. Without ID (a certificate, under its key's id) FN must itself leave one
 * object whatever earlier tries left. A token that means the error answers the same each time.
 */
#define HSM_CREATE_TRIES 3
CK_RV hsm_run_create(struct hsm_session *s, CK_RV (*fn)(struct hsm_session *, void *), void *arg,
		     uint8_t *id);
/* Remove every object with CKA_ID ID, of class *CLS or (CLS NULL) of any class, but KEEP
 * (CK_INVALID_HANDLE: none). */
CK_RV hsm_destroy_by_id(struct hsm_session *s, const uint8_t *id, const CK_OBJECT_CLASS *cls,
			CK_OBJECT_HANDLE keep);

/* (Re)open the session and make sure it is logged in. */
CK_RV hsm_session_reopen(struct hsm_session *s);

/*
 * Close the session's handle now; its next use opens a new one. The way to
 * end an operation that the token keeps active (after CKR_BUFFER_TOO_SMALL
 * from C_Sign or C_EncryptFinal): left alone, it makes every later call on
 * the session fail with CKR_OPERATION_ACTIVE, which no retry cures.
 */
void hsm_session_discard(struct hsm_session *s);

/*
 * Run FN on the session; on a recoverable error reopen, log in again and
 * run it once more. FN must be safe to repeat after a failed attempt.
 */
CK_RV hsm_run(struct hsm_session *s, CK_RV (*fn)(struct hsm_session *, void *), void *arg);

#define HSM_HANDLE_RECHECK_MS 1000 /* a cached handle is trusted this long between checks */

/* We created or destroyed token objects: every session checks its cached handles again. */
void hsm_objects_changed(struct hsm *h);

/* Find exactly one object of CLASS with CKA_ID ID. */
CK_RV hsm_find_one(struct hsm_session *s, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
		   CK_OBJECT_HANDLE *out);

/* Format the RFC 7512 URI of an object on our token. */
void hsm_format_uri(struct hsm *h, const uint8_t *id, const char *label, CK_OBJECT_CLASS cls,
		    char *out, size_t outlen);

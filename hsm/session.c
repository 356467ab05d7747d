/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 module loading, token selection, login and per-thread sessions with recovery. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "hsm/internal.h"
#include "lib/util.h"
#include "lib/error.h"
#include "lib/log.h"

static void
copy_padded(char *dst, size_t dstlen, const unsigned char *src, size_t srclen)
{
	size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;

	memcpy(dst, src, n);
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0')) {
		n--;
	}
	dst[n] = '\0';
}

/* Process-wide: one token per process. */
static atomic_ullong token_errors, token_retries;

void
hsm_counters(uint64_t *errors, uint64_t *retries)
{
	*errors = atomic_load_explicit(&token_errors, memory_order_relaxed);
	*retries = atomic_load_explicit(&token_retries, memory_order_relaxed);
}

int
hsm_err(CK_RV rv, const char *what)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
		/* The daemon's PIN, not the client's credentials: a token error to any client. */
		log_err("%s: token refused the PIN (%s)", what,
			rv == CKR_PIN_LOCKED ? "PIN locked" : "PIN incorrect");
		atomic_fetch_add_explicit(&token_errors, 1, memory_order_relaxed);
		return SIGNET_ETOKEN;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		log_err("%s: key not found in token (CKR 0x%lx)", what, (unsigned long)rv);
		return SIGNET_ENOTFOUND;
	case CKR_BUFFER_TOO_SMALL:
		/* Our buffer, not the token's fault nor the client's. */
		log_err("%s: output buffer too small (CKR 0x%lx)", what, (unsigned long)rv);
		return SIGNET_EINTERNAL;
	case CKR_DATA_LEN_RANGE:
	case CKR_KEY_SIZE_RANGE:
	case CKR_ATTRIBUTE_VALUE_INVALID:
		log_warning("%s: token refused the input (CKR 0x%lx)", what, (unsigned long)rv);
		return SIGNET_EINVAL;
	default:
		log_err("%s: token error CKR 0x%lx", what, (unsigned long)rv);
		atomic_fetch_add_explicit(&token_errors, 1, memory_order_relaxed);
		return SIGNET_ETOKEN;
	}
}

bool
hsm_rv_recoverable(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	       rv == CKR_DEVICE_REMOVED || rv == CKR_USER_NOT_LOGGED_IN ||
	       rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR;
}

static CK_RV
hsm_login_locked(struct hsm *h, CK_SESSION_HANDLE sess)
{
	CK_SESSION_INFO si;
	CK_RV rv;

	rv = h->f->C_GetSessionInfo(sess, &si);
	if (rv == CKR_OK &&
	    (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS)) {
		return CKR_OK;
	}
	rv = h->f->C_Login(sess, CKU_USER, h->pin->data, h->pin->len);
	if (rv == CKR_USER_ALREADY_LOGGED_IN) {
		rv = CKR_OK;
	}
	return rv;
}

void
hsm_session_discard(struct hsm_session *s)
{
	if (s->open) {
		(void)s->h->f->C_CloseSession(s->handle);
		s->open = false;
	}
}

CK_RV
hsm_session_reopen(struct hsm_session *s)
{
	struct hsm *h = s->h;
	CK_RV rv;

	hsm_session_discard(s);
	memset(s->cache, 0, sizeof(s->cache));
	rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				 &s->handle);
	if (rv != CKR_OK) {
		return rv;
	}
	s->open = true;
	pthread_mutex_lock(&h->login_lock);
	rv = hsm_login_locked(h, s->handle);
	pthread_mutex_unlock(&h->login_lock);
	if (rv != CKR_OK) {
		(void)h->f->C_CloseSession(s->handle);
		s->open = false;
	}
	return rv;
}

CK_RV
hsm_run(struct hsm_session *s, CK_RV (*fn)(struct hsm_session *, void *), void *arg)
{
	CK_RV rv;

	if (!s->open && (rv = hsm_session_reopen(s)) != CKR_OK) {
		return rv;
	}
	rv = fn(s, arg);
	if (!hsm_rv_recoverable(rv)) {
		return rv;
	}
	log_warning("token session lost (CKR 0x%lx); reopening and retrying once",
		    (unsigned long)rv);
	atomic_fetch_add_explicit(&token_retries, 1, memory_order_relaxed);
	if ((rv = hsm_session_reopen(s)) != CKR_OK) {
		return rv;
	}
	return fn(s, arg);
}

/* Remove what a create under ID left (best effort: an object the token hides is beyond reach). */
static CK_RV
op_clean(struct hsm_session *s, void *arg)
{
	return hsm_destroy_by_id(s, arg, NULL, CK_INVALID_HANDLE);
}

CK_RV
hsm_run_create(struct hsm_session *s, CK_RV (*fn)(struct hsm_session *, void *), void *arg,
	       uint8_t *id)
{
	uint8_t tried[HSM_CREATE_TRIES][HSM_ID_LEN];
	int ntried = 0;
	CK_RV rv;

	pthread_mutex_lock(&s->h->create_lock);
	for (int attempt = 1;; attempt++) {
		rv = hsm_run(s, fn, arg);
		if (rv == CKR_OK || attempt == HSM_CREATE_TRIES ||
		    (rv != CKR_GENERAL_ERROR && rv != CKR_FUNCTION_FAILED &&
		     rv != CKR_TEMPLATE_INCONSISTENT)) {
			break;
		}
		if (id != NULL) {
			/* A fresh id: what the failed try left may be hidden from searches (2.6.1 marks
			 * it invalid) and come back later; under an id nobody records it is an orphan,
			 * never a second object under the key's id. */
			memcpy(tried[ntried++], id, HSM_ID_LEN);
			if (hsm_random(s, id, HSM_ID_LEN) != 0) {
				break;
			}
		}
		log_warning("the token failed to create an object (CKR 0x%lx); trying again (%d of "
			    "%d)",
			    (unsigned long)rv, attempt + 1, HSM_CREATE_TRIES);
		atomic_fetch_add_explicit(&token_retries, 1, memory_order_relaxed);
	}
	if (id != NULL && rv != CKR_OK) {
		memcpy(tried[ntried++], id, HSM_ID_LEN);
	}
	for (int i = 0; i < ntried; i++) {
		(void)hsm_run(s, op_clean, tried[i]);
	}
	pthread_mutex_unlock(&s->h->create_lock);
	return rv;
}

/* Is the cached handle of slot I still the object of class CLS and id ID? */
static CK_RV
cache_check(struct hsm_session *s, unsigned i, CK_OBJECT_CLASS cls, const uint8_t *id)
{
	CK_OBJECT_CLASS got_cls = (CK_OBJECT_CLASS)-1;
	uint8_t got_id[HSM_ID_LEN + 1];
	CK_ATTRIBUTE a[] = {
	    {CKA_CLASS, &got_cls, sizeof(got_cls)},
	    {CKA_ID, got_id, sizeof(got_id)},
	};
	CK_RV rv = s->h->f->C_GetAttributeValue(s->handle, s->cache[i].obj, a, 2);

	if (rv == CKR_OK && got_cls == cls && a[1].ulValueLen == HSM_ID_LEN &&
	    memcmp(got_id, id, HSM_ID_LEN) == 0) {
		return CKR_OK;
	}
	s->cache[i].used = false;
	/* Session trouble goes up to hsm_run; anything else means "search again". */
	return hsm_rv_recoverable(rv) ? rv : CKR_OBJECT_HANDLE_INVALID;
}

static CK_RV
find_cached(struct hsm_session *s, CK_OBJECT_CLASS cls, const uint8_t *id, CK_OBJECT_HANDLE *out)
{
	for (unsigned i = 0; i < HSM_HANDLE_CACHE; i++) {
		if (s->cache[i].used && s->cache[i].cls == cls &&
		    memcmp(s->cache[i].id, id, HSM_ID_LEN) == 0) {
			unsigned gen = atomic_load(&s->h->objects_gen);
			uint64_t now = time_mono_ms();
			CK_RV rv = CKR_OK;
			/*
			 * Checking costs a C_GetAttributeValue per use (on SoftHSM a
			 * third of a signature): trust a handle checked recently when
			 * we created or destroyed nothing since. Objects that others
			 * change in the token are noticed within the recheck period.
			 */
			if (s->cache[i].gen != gen ||
			    now - s->cache[i].checked_ms >= HSM_HANDLE_RECHECK_MS) {
				rv = cache_check(s, i, cls, id);
				if (rv == CKR_OK) {
					s->cache[i].gen = gen;
					s->cache[i].checked_ms = now;
				}
			}
			if (rv == CKR_OK) {
				*out = s->cache[i].obj;
			}
			return rv;
		}
	}
	return CKR_OBJECT_HANDLE_INVALID;
}

static void
cache_put(struct hsm_session *s, CK_OBJECT_CLASS cls, const uint8_t *id, CK_OBJECT_HANDLE obj)
{
	unsigned i = s->cache_next++ % HSM_HANDLE_CACHE;

	s->cache[i].cls = cls;
	memcpy(s->cache[i].id, id, HSM_ID_LEN);
	s->cache[i].obj = obj;
	s->cache[i].used = true;
	s->cache[i].gen = atomic_load(&s->h->objects_gen);
	s->cache[i].checked_ms = time_mono_ms();
}

void
hsm_objects_changed(struct hsm *h)
{
	atomic_fetch_add(&h->objects_gen, 1);
}

CK_RV
hsm_find_one(struct hsm_session *s, CK_OBJECT_CLASS cls, const uint8_t *id, size_t idlen,
	     CK_OBJECT_HANDLE *out)
{
	CK_FUNCTION_LIST *f = s->h->f;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_ID, (void *)id, idlen},
	};
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG n = 0;
	CK_RV rv, rv2;

	if (idlen == HSM_ID_LEN) {
		rv = find_cached(s, cls, id, out);
		if (rv != CKR_OBJECT_HANDLE_INVALID) {
			return rv;
		}
	}
	rv = f->C_FindObjectsInit(s->handle, tmpl, 2);
	if (rv != CKR_OK) {
		return rv;
	}
	rv = f->C_FindObjects(s->handle, objs, 2, &n);
	rv2 = f->C_FindObjectsFinal(s->handle);
	if (rv == CKR_OK) {
		rv = rv2;
	}
	if (rv != CKR_OK) {
		return rv;
	}
	if (n != 1) {
		/* None, or an ambiguous id: both mean we cannot trust what we would use. */
		return CKR_OBJECT_HANDLE_INVALID;
	}
	*out = objs[0];
	if (idlen == HSM_ID_LEN) {
		cache_put(s, cls, id, objs[0]);
	}
	return CKR_OK;
}

void
hsm_format_uri(struct hsm *h, const uint8_t *id, const char *label, CK_OBJECT_CLASS cls, char *out,
	       size_t outlen)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_TOKEN_INFO *ti;
	CK_ATTRIBUTE a;
	char *s = NULL;

	out[0] = '\0';
	if (uri == NULL) {
		return;
	}
	ti = p11_kit_uri_get_token_info(uri);
	memset(ti->label, ' ', sizeof(ti->label));
	memcpy(ti->label, h->info.label, strlen(h->info.label));
	memset(ti->manufacturerID, ' ', sizeof(ti->manufacturerID));
	memcpy(ti->manufacturerID, h->info.manufacturer, strlen(h->info.manufacturer));
	memset(ti->model, ' ', sizeof(ti->model));
	memcpy(ti->model, h->info.model, strlen(h->info.model));
	memset(ti->serialNumber, ' ', sizeof(ti->serialNumber));
	memcpy(ti->serialNumber, h->info.serial, strlen(h->info.serial));
	a.type = CKA_ID;
	a.pValue = (void *)id;
	a.ulValueLen = HSM_ID_LEN;
	p11_kit_uri_set_attribute(uri, &a);
	a.type = CKA_LABEL;
	a.pValue = (void *)label;
	a.ulValueLen = strlen(label);
	p11_kit_uri_set_attribute(uri, &a);
	a.type = CKA_CLASS;
	a.pValue = &cls;
	a.ulValueLen = sizeof(cls);
	p11_kit_uri_set_attribute(uri, &a);
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) == P11_KIT_URI_OK &&
	    strlen(s) < outlen) {
		memcpy(out, s, strlen(s) + 1);
	}
	free(s);
	p11_kit_uri_free(uri);
}

static CK_FUNCTION_LIST *
hsm_load_module(const char *path)
{
	CK_FUNCTION_LIST *f;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	/*
	 * Unmanaged: the module's own function list, no p11-kit proxy (whose
	 * closures would need writable executable memory).
	 */
	f = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	if (f == NULL) {
		log_err("cannot load PKCS#11 module %s: %s", path, p11_kit_message());
		return NULL;
	}
	rv = f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		log_err("cannot initialise PKCS#11 module %s: CKR 0x%lx", path, (unsigned long)rv);
		p11_kit_module_release(f);
		return NULL;
	}
	return f;
}

static void
hsm_unload_module(CK_FUNCTION_LIST *f)
{
	(void)f->C_Finalize(NULL);
	p11_kit_module_release(f);
}

int
hsm_open(const struct hsm_config *cfg, struct hsm **out)
{
	struct hsm *h;
	P11KitUri *uri = NULL;
	CK_SLOT_ID slots[64];
	CK_ULONG nslots = 64;
	CK_SESSION_HANDLE sess;
	CK_RV rv;
	int r = SIGNET_ETOKEN, matches = 0;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return SIGNET_EINTERNAL;
	}
	pthread_mutex_init(&h->login_lock, NULL);
	pthread_mutex_init(&h->create_lock, NULL);
	h->pin = cfg->pin;
	h->module = strdup(cfg->module);
	uri = p11_kit_uri_new();
	if (h->module == NULL || uri == NULL) {
		r = SIGNET_EINTERNAL;
		goto out;
	}
	if (p11_kit_uri_parse(cfg->token_uri, P11_KIT_URI_FOR_TOKEN, uri) != P11_KIT_URI_OK) {
		log_err("token URI is not a valid RFC 7512 URI");
		r = SIGNET_EINVAL;
		goto out;
	}
	h->f = hsm_load_module(cfg->module);
	if (h->f == NULL) {
		goto out;
	}
	rv = h->f->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "listing slots");
		goto out;
	}
	for (CK_ULONG i = 0; i < nslots; i++) {
		CK_TOKEN_INFO ti;
		if (h->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) {
			continue;
		}
		if (!(ti.flags & CKF_TOKEN_INITIALIZED) ||
		    !p11_kit_uri_match_token_info(uri, &ti)) {
			continue;
		}
		if (matches++ == 0) {
			h->slot = slots[i];
			copy_padded(h->info.label, sizeof(h->info.label), ti.label,
				    sizeof(ti.label));
			copy_padded(h->info.manufacturer, sizeof(h->info.manufacturer),
				    ti.manufacturerID, sizeof(ti.manufacturerID));
			copy_padded(h->info.model, sizeof(h->info.model), ti.model,
				    sizeof(ti.model));
			copy_padded(h->info.serial, sizeof(h->info.serial), ti.serialNumber,
				    sizeof(ti.serialNumber));
		}
	}
	if (matches == 0) {
		log_err("no initialised token matches the configured token URI");
		r = SIGNET_ENOTFOUND;
		goto out;
	}
	if (matches > 1) {
		log_err("%d tokens match the configured token URI; make it specific", matches);
		r = SIGNET_EINVAL;
		goto out;
	}
	/* Prove the PIN now, so a wrong one stops the start with a clear error. */
	rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "opening a session");
		goto out;
	}
	rv = hsm_login_locked(h, sess);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "logging in to the token");
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE ||
		    rv == CKR_PIN_EXPIRED) {
			r = SIGNET_EUNAUTH;
		}
		(void)h->f->C_CloseSession(sess);
		goto out;
	}
	/* Keep this session open: the login lasts as long as one session does. */
	h->keep = sess;
	log_info("token '%s' (%s %s, serial %s) ready", h->info.label, h->info.manufacturer,
		 h->info.model, h->info.serial);
	r = 0;
out:
	if (uri != NULL) {
		p11_kit_uri_free(uri);
	}
	if (r != 0) {
		hsm_close(h);
		return r;
	}
	*out = h;
	return 0;
}

void
hsm_close(struct hsm *h)
{
	if (h == NULL) {
		return;
	}
	if (h->f != NULL) {
		(void)h->f->C_CloseAllSessions(h->slot);
		hsm_unload_module(h->f);
	}
	pthread_mutex_destroy(&h->login_lock);
	pthread_mutex_destroy(&h->create_lock);
	free(h->module);
	free(h);
}

void
hsm_get_token_info(const struct hsm *h, struct hsm_token_info *info)
{
	*info = h->info;
}

int
hsm_session_open(struct hsm *h, struct hsm_session **out)
{
	struct hsm_session *s = calloc(1, sizeof(*s));
	CK_RV rv;

	*out = NULL;
	if (s == NULL) {
		return SIGNET_EINTERNAL;
	}
	s->h = h;
	rv = hsm_session_reopen(s);
	if (rv != CKR_OK) {
		free(s);
		return hsm_err(rv, "opening a worker session");
	}
	*out = s;
	return 0;
}

void
hsm_session_close(struct hsm_session *s)
{
	if (s == NULL) {
		return;
	}
	if (s->open) {
		(void)s->h->f->C_CloseSession(s->handle);
	}
	free(s);
}

struct random_arg {
	void *out;
	size_t n;
};

static CK_RV
op_random(struct hsm_session *s, void *arg)
{
	struct random_arg *a = arg;
	return s->h->f->C_GenerateRandom(s->handle, a->out, a->n);
}

int
hsm_random(struct hsm_session *s, void *out, size_t n)
{
	struct random_arg a = {out, n};
	return hsm_err(hsm_run(s, op_random, &a), "generating random bytes");
}

int
hsm_init_token(const char *module, const char *label, const struct secret *so_pin,
	       const struct secret *user_pin)
{
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slots[64];
	CK_ULONG nslots = 64;
	CK_SLOT_ID slot = 0;
	bool found = false;
	CK_SESSION_HANDLE sess;
	CK_UTF8CHAR lbl[32];
	CK_RV rv;
	int r = SIGNET_ETOKEN;

	if (strlen(label) > sizeof(lbl)) {
		return SIGNET_EINVAL;
	}
	f = hsm_load_module(module);
	if (f == NULL) {
		return SIGNET_ETOKEN;
	}
	rv = f->C_GetSlotList(CK_TRUE, slots, &nslots);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "listing slots");
		goto out;
	}
	for (CK_ULONG i = 0; i < nslots && !found; i++) {
		CK_TOKEN_INFO ti;
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			slot = slots[i];
			found = true;
		}
	}
	if (!found) {
		log_err("no free slot for a new token");
		goto out;
	}
	memset(lbl, ' ', sizeof(lbl));
	memcpy(lbl, label, strlen(label));
	rv = f->C_InitToken(slot, so_pin->data, so_pin->len, lbl);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "initialising the token");
		goto out;
	}
	/* SoftHSM moves the new token to a new slot id: look it up again by label. */
	nslots = 64;
	found = false;
	rv = f->C_GetSlotList(CK_TRUE, slots, &nslots);
	for (CK_ULONG i = 0; rv == CKR_OK && i < nslots && !found; i++) {
		CK_TOKEN_INFO ti;
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED) && memcmp(ti.label, lbl, sizeof(lbl)) == 0) {
			slot = slots[i];
			found = true;
		}
	}
	if (!found) {
		log_err("the new token disappeared");
		goto out;
	}
	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "opening an SO session");
		goto out;
	}
	rv = f->C_Login(sess, CKU_SO, so_pin->data, so_pin->len);
	if (rv == CKR_OK) {
		rv = f->C_InitPIN(sess, user_pin->data, user_pin->len);
		(void)f->C_Logout(sess);
	}
	(void)f->C_CloseSession(sess);
	if (rv != CKR_OK) {
		r = hsm_err(rv, "setting the user PIN");
		goto out;
	}
	r = 0;
out:
	hsm_unload_module(f);
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libsignet-pkcs11: the PKCS#11 v2.40 entry points: slots, sessions, objects and signing. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>

#include "lib/util.h"
#include "pkcs11/p11mod.h"

#define MAX_SESSIONS 1024
#define MAX_FOUND    (P11_MAX_KEYS * 3)
#define OBJ_PRIV     1
#define OBJ_PUB      2
#define OBJ_CERT     3
#define PUBLIC       __attribute__((visibility("default")))

/* A slot: one device configuration (and its key), or the login slot holding every configuration. */
struct slot {
	struct p11_key *keys;
	size_t nkeys;
	bool login_slot;
	bool logged_in;
	char pin[P11_TOKEN_MAX + 1]; /* the API token given to C_Login; wiped at logout */
	char label[P11_NAME_MAX + 1];
	char serial[17];
};

struct session {
	bool used;
	CK_SLOT_ID slot;
	CK_FLAGS flags;
	bool finding;
	CK_OBJECT_HANDLE found[MAX_FOUND];
	size_t nfound, pos;
	bool signing;
	const struct p11_mech *mech;
	size_t key; /* index in the slot's keys */
	CK_MECHANISM_TYPE pss_hash;
	long salt;
	EVP_MD_CTX *md; /* hashing mechanisms */
	bool multipart; /* C_SignUpdate was called */
	/* The last input refused by signetd (rejected, expired, timed out): not asked again. */
	uint8_t refused[64];
	size_t refusedlen, refusedkey;
	CK_RV refusedrv;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool initialized;
	pid_t pid;
	struct p11_conf conf;
	bool enumerated;
	struct p11_key *keys; /* of the configured token */
	size_t nkeys;
	struct slot *slots;
	size_t nslots;
	struct session sess[MAX_SESSIONS];
} g;

static void
pad(CK_UTF8CHAR *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', cap);
	memcpy(dst, src, n < cap ? n : cap);
}

static void state_wipe_locked(void);

/*
 * After fork() the child has one thread: a lock another thread held at the
 * fork would never be released, and the parent's sessions, logins and
 * tokens are not the child's. At its first call the child takes a fresh
 * lock and wipes that state: every call but C_Initialize is then
 * CKR_CRYPTOKI_NOT_INITIALIZED until the child calls C_Initialize, as
 * PKCS#11 asks (no pthread_atfork handler).
 */
static void
check_fork(void)
{
	if (g.initialized && g.pid != getpid()) {
		pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

		memcpy(&lock, &fresh, sizeof(lock));
		state_wipe_locked();
	}
}

static void
slots_free_locked(void)
{
	for (size_t i = 0; i < g.nslots; i++) {
		if (g.slots[i].login_slot) {
			p11_keys_free(g.slots[i].keys, g.slots[i].nkeys);
			free(g.slots[i].keys);
		}
		secure_wipe(g.slots[i].pin, sizeof(g.slots[i].pin));
	}
	free(g.slots);
	g.slots = NULL;
	g.nslots = 0;
	p11_keys_free(g.keys, g.nkeys);
	free(g.keys);
	g.keys = NULL;
	g.nkeys = 0;
	g.enumerated = false;
}

/* With a token from the environment or the config file: one slot per configuration; else one login
 * slot. */
static CK_RV
enumerate_locked(void)
{
	CK_RV rv;

	if (g.enumerated) {
		return CKR_OK;
	}
	if (g.conf.token[0] != '\0') {
		/* signetd down or the token refused: no slot now, and another try next time. */
		if ((rv = p11d_load_keys(&g.conf, g.conf.token, &g.keys, &g.nkeys)) != CKR_OK) {
			p11_debug(&g.conf, "cannot list the device configurations (0x%lx)", rv);
			return rv == CKR_HOST_MEMORY ? rv : CKR_OK;
		}
		g.slots = calloc(g.nkeys > 0 ? g.nkeys : 1, sizeof(*g.slots));
		if (g.slots == NULL) {
			return CKR_HOST_MEMORY;
		}
		for (size_t i = 0; i < g.nkeys; i++) {
			struct slot *s = &g.slots[i];

			s->keys = &g.keys[i];
			s->nkeys = 1;
			snprintf(s->label, sizeof(s->label), "%s", g.keys[i].devconf_name);
			snprintf(s->serial, sizeof(s->serial), "%.16s", g.keys[i].devconf);
		}
		g.nslots = g.nkeys;
	} else {
		if ((g.slots = calloc(1, sizeof(*g.slots))) == NULL) {
			return CKR_HOST_MEMORY;
		}
		g.slots[0].login_slot = true;
		snprintf(g.slots[0].label, sizeof(g.slots[0].label), "signet");
		snprintf(g.slots[0].serial, sizeof(g.slots[0].serial), "login");
		g.nslots = 1;
	}
	g.enumerated = true;
	return CKR_OK;
}

/* Every entry point but C_Initialize and C_GetFunctionList starts here. */
#define ENTER()                                                                                    \
	do {                                                                                       \
		check_fork();                                                                      \
		pthread_mutex_lock(&lock);                                                         \
		if (!g.initialized) {                                                              \
			pthread_mutex_unlock(&lock);                                               \
			return CKR_CRYPTOKI_NOT_INITIALIZED;                                       \
		}                                                                                  \
	} while (0)
#define LEAVE(x)                                                                                   \
	do {                                                                                       \
		CK_RV _r = (x);                                                                    \
		pthread_mutex_unlock(&lock);                                                       \
		return _r;                                                                         \
	} while (0)

static struct slot *
slot_get_locked(CK_SLOT_ID id)
{
	if (enumerate_locked() != CKR_OK || id >= g.nslots) {
		return NULL;
	}
	return &g.slots[id];
}

static struct session *
session_get_locked(CK_SESSION_HANDLE h)
{
	if (h == 0 || h > MAX_SESSIONS || !g.sess[h - 1].used) {
		return NULL;
	}
	return &g.sess[h - 1];
}

static void
sign_end(struct session *s)
{
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
	s->signing = false;
	s->multipart = false;
}

/* ---- attributes ---- */

enum attr_state { ATTR_OK, ATTR_SENSITIVE, ATTR_INVALID };

/* An attribute's value: into a scratch buffer or a pointer to the key's data. */
struct aval {
	const void *p;
	size_t len;
	uint8_t buf[1100];
	CK_ULONG ul;
	CK_BBOOL b;
};

static void
aval_ul(struct aval *v, CK_ULONG x)
{
	v->ul = x;
	v->p = &v->ul;
	v->len = sizeof(v->ul);
}

static void
aval_bool(struct aval *v, bool x)
{
	v->b = x ? CK_TRUE : CK_FALSE;
	v->p = &v->b;
	v->len = sizeof(v->b);
}

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

static enum attr_state
attr_ec(const struct p11_key *k, CK_ATTRIBUTE_TYPE t, struct aval *v)
{
	size_t n = 0;

	if (t == CKA_EC_PARAMS) {
		v->p = k->alg == P11_ALG_P256   ? oid_p256
		       : k->alg == P11_ALG_P384 ? oid_p384
						: oid_ed25519;
		v->len = k->alg == P11_ALG_P256   ? sizeof(oid_p256)
			 : k->alg == P11_ALG_P384 ? sizeof(oid_p384)
						  : sizeof(oid_ed25519);
		return ATTR_OK;
	}
	/* CKA_EC_POINT: the point as a DER OCTET STRING (short form: at most 97 bytes) */
	if (k->alg == P11_ALG_ED25519) {
		n = sizeof(v->buf) - 2;
		if (!EVP_PKEY_get_raw_public_key(k->pub, v->buf + 2, &n)) {
			return ATTR_INVALID;
		}
	} else if (!EVP_PKEY_get_octet_string_param(k->pub, OSSL_PKEY_PARAM_PUB_KEY, v->buf + 2,
						    sizeof(v->buf) - 2, &n) ||
		   n > 127) {
		return ATTR_INVALID;
	}
	v->buf[0] = 0x04;
	v->buf[1] = (uint8_t)n;
	v->p = v->buf;
	v->len = n + 2;
	return ATTR_OK;
}

static enum attr_state
attr_rsa(const struct p11_key *k, CK_ATTRIBUTE_TYPE t, struct aval *v)
{
	BIGNUM *bn = NULL;
	int n;

	if (t == CKA_MODULUS_BITS) {
		aval_ul(v, k->bits);
		return ATTR_OK;
	}
	if (!EVP_PKEY_get_bn_param(
		k->pub, t == CKA_MODULUS ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_RSA_E, &bn)) {
		return ATTR_INVALID;
	}
	n = BN_num_bytes(bn) <= (int)sizeof(v->buf) ? BN_bn2bin(bn, v->buf) : -1;
	BN_free(bn);
	if (n < 0) {
		return ATTR_INVALID;
	}
	v->p = v->buf;
	v->len = (size_t)n;
	return ATTR_OK;
}

static CK_KEY_TYPE
key_type(const struct p11_key *k)
{
	return k->alg == P11_ALG_RSA       ? CKK_RSA
	       : k->alg == P11_ALG_ED25519 ? CKK_EC_EDWARDS
					   : CKK_EC;
}

/* What both key objects share, and their key-type specific public parts. */
static enum attr_state
attr_key(const struct p11_key *k, int kind, CK_ATTRIBUTE_TYPE t, struct aval *v)
{
	switch (t) {
	case CKA_KEY_TYPE:
		aval_ul(v, key_type(k));
		return ATTR_OK;
	case CKA_LOCAL:
		aval_bool(v, true);
		return ATTR_OK;
	case CKA_DERIVE:
	case CKA_WRAP:
	case CKA_UNWRAP:
	case CKA_ENCRYPT:
	case CKA_DECRYPT:
	case CKA_SIGN_RECOVER:
	case CKA_VERIFY_RECOVER:
		aval_bool(v, false);
		return ATTR_OK;
	case CKA_SIGN:
		aval_bool(v, kind == OBJ_PRIV);
		return ATTR_OK;
	case CKA_VERIFY:
		aval_bool(v, kind == OBJ_PUB);
		return ATTR_OK;
	case CKA_KEY_GEN_MECHANISM:
		aval_ul(v, CK_UNAVAILABLE_INFORMATION);
		return ATTR_OK;
	case CKA_SUBJECT:
		v->p = k->subject;
		v->len = k->subjectlen;
		return ATTR_OK;
	case CKA_MODULUS:
	case CKA_PUBLIC_EXPONENT:
	case CKA_MODULUS_BITS:
		return k->alg == P11_ALG_RSA ? attr_rsa(k, t, v) : ATTR_INVALID;
	case CKA_EC_PARAMS:
	case CKA_EC_POINT:
		return k->alg != P11_ALG_RSA ? attr_ec(k, t, v) : ATTR_INVALID;
	}
	if (kind == OBJ_PRIV) {
		switch (t) {
		case CKA_SENSITIVE:
		case CKA_ALWAYS_SENSITIVE:
		case CKA_NEVER_EXTRACTABLE:
			aval_bool(v, true);
			return ATTR_OK;
		case CKA_EXTRACTABLE:
		case CKA_ALWAYS_AUTHENTICATE:
		case CKA_WRAP_WITH_TRUSTED:
			aval_bool(v, false);
			return ATTR_OK;
		case CKA_VALUE:
		case CKA_PRIVATE_EXPONENT:
		case CKA_PRIME_1:
		case CKA_PRIME_2:
		case CKA_EXPONENT_1:
		case CKA_EXPONENT_2:
		case CKA_COEFFICIENT:
			return ATTR_SENSITIVE;
		}
	} else if (t == CKA_TRUSTED) {
		aval_bool(v, false);
		return ATTR_OK;
	}
	return ATTR_INVALID;
}

static enum attr_state
attr_cert(const struct p11_key *k, CK_ATTRIBUTE_TYPE t, struct aval *v)
{
	switch (t) {
	case CKA_CERTIFICATE_TYPE:
		aval_ul(v, CKC_X_509);
		return ATTR_OK;
	case CKA_CERTIFICATE_CATEGORY:
		aval_ul(v, 0);
		return ATTR_OK;
	case CKA_TRUSTED:
		aval_bool(v, false);
		return ATTR_OK;
	case CKA_VALUE:
		v->p = k->cert;
		v->len = k->certlen;
		return ATTR_OK;
	case CKA_SUBJECT:
		v->p = k->subject;
		v->len = k->subjectlen;
		return ATTR_OK;
	case CKA_ISSUER:
		v->p = k->issuer;
		v->len = k->issuerlen;
		return ATTR_OK;
	case CKA_SERIAL_NUMBER:
		v->p = k->serial;
		v->len = k->seriallen;
		return ATTR_OK;
	}
	return ATTR_INVALID;
}

static enum attr_state
attr_get(const struct p11_key *k, int kind, CK_ATTRIBUTE_TYPE t, struct aval *v)
{
	static const CK_OBJECT_CLASS cls[] = {0, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE};

	switch (t) {
	case CKA_CLASS:
		aval_ul(v, cls[kind]);
		return ATTR_OK;
	case CKA_TOKEN:
		aval_bool(v, true);
		return ATTR_OK;
	case CKA_PRIVATE:
	case CKA_MODIFIABLE:
	case CKA_COPYABLE:
	case CKA_DESTROYABLE:
		aval_bool(v, false);
		return ATTR_OK;
	case CKA_LABEL:
		v->p = k->label;
		v->len = strlen(k->label);
		return ATTR_OK;
	case CKA_ID:
		v->p = k->id;
		v->len = k->idlen;
		return ATTR_OK;
	}
	return kind == OBJ_CERT ? attr_cert(k, t, v) : attr_key(k, kind, t, v);
}

/* Object handles: 4 * key index + kind, within the session's slot. */
static const struct p11_key *
object_get_locked(const struct session *s, CK_OBJECT_HANDLE h, int *kind)
{
	struct slot *sl = &g.slots[s->slot];
	size_t i = h / 4;

	*kind = (int)(h % 4);
	if (h < 4 || *kind == 0 || i - 1 >= sl->nkeys || (sl->login_slot && !sl->logged_in)) {
		return NULL;
	}
	if (*kind == OBJ_CERT && sl->keys[i - 1].cert == NULL) {
		return NULL;
	}
	return &sl->keys[i - 1];
}

static bool
object_matches(const struct p11_key *k, int kind, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	struct aval *v = malloc(sizeof(*v));
	bool ok = v != NULL;

	for (CK_ULONG i = 0; ok && i < n; i++) {
		ok = attr_get(k, kind, tmpl[i].type, v) == ATTR_OK &&
		     v->len == tmpl[i].ulValueLen &&
		     (v->len == 0 || memcmp(v->p, tmpl[i].pValue, v->len) == 0);
	}
	free(v);
	return ok;
}

/* ---- general ---- */

/* Forget everything: operations, slots, logins (PINs), the configuration's token. */
static void
state_wipe_locked(void)
{
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		sign_end(&g.sess[i]);
	}
	slots_free_locked();
	secure_wipe(&g.conf, sizeof(g.conf));
	memset(&g, 0, sizeof(g));
}

static CK_RV
p11_Initialize(void *args)
{
	CK_C_INITIALIZE_ARGS *a = args;

	if (a != NULL && a->pReserved != NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	/* Our own pthread mutex is used whatever the caller offers: CKF_OS_LOCKING_OK. */
	if (a != NULL && !(a->flags & CKF_OS_LOCKING_OK) && a->CreateMutex != NULL) {
		return CKR_CANT_LOCK;
	}
	check_fork();
	pthread_mutex_lock(&lock);
	if (g.initialized) {
		LEAVE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
	}
	memset(&g, 0, sizeof(g));
	g.initialized = true;
	g.pid = getpid();
	p11_conf_load(&g.conf);
	LEAVE(CKR_OK);
}

static CK_RV
p11_Finalize(void *reserved)
{
	if (reserved != NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	state_wipe_locked();
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetInfo(CK_INFO *info)
{
	if (info == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = 2;
	info->cryptokiVersion.minor = 40;
	pad(info->manufacturerID, sizeof(info->manufacturerID), "signet");
	pad(info->libraryDescription, sizeof(info->libraryDescription), "signet signing appliance");
	info->libraryVersion.major = 0;
	info->libraryVersion.minor = 1;
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
	CK_RV rv;

	if (count == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((rv = enumerate_locked()) != CKR_OK) {
		LEAVE(rv);
	}
	if (list != NULL) {
		if (*count < g.nslots) {
			*count = g.nslots;
			LEAVE(CKR_BUFFER_TOO_SMALL);
		}
		for (size_t i = 0; i < g.nslots; i++) {
			list[i] = i;
		}
	}
	*count = g.nslots;
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO *info)
{
	struct slot *s;
	char d[128];

	if (info == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = slot_get_locked(id)) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	memset(info, 0, sizeof(*info));
	snprintf(d, sizeof(d), "signet %s %s", s->login_slot ? "login" : "device configuration",
		 s->label);
	pad(info->slotDescription, sizeof(info->slotDescription), d);
	pad(info->manufacturerID, sizeof(info->manufacturerID), "signet");
	info->flags = CKF_TOKEN_PRESENT;
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO *info)
{
	struct slot *s;

	if (info == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = slot_get_locked(id)) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	memset(info, 0, sizeof(*info));
	pad(info->label, sizeof(info->label), s->label);
	pad(info->manufacturerID, sizeof(info->manufacturerID), "signet");
	pad(info->model, sizeof(info->model), "libsignet-pkcs11");
	pad(info->serialNumber, sizeof(info->serialNumber), s->serial);
	info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_WRITE_PROTECTED;
	if (s->login_slot) {
		info->flags |= CKF_LOGIN_REQUIRED;
	}
	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxPinLen = P11_TOKEN_MAX;
	info->ulMinPinLen = 1;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 0;
	info->firmwareVersion.minor = 1;
	LEAVE(CKR_OK);
}

/* Does a key of slot S take M? The login slot offers all before login. */
static bool
slot_has_mech(const struct slot *s, const struct p11_mech *m)
{
	if (s->login_slot && !s->logged_in) {
		return true;
	}
	for (size_t i = 0; i < s->nkeys; i++) {
		if (p11_mech_fits_key(m, s->keys[i].alg)) {
			return true;
		}
	}
	return false;
}

static CK_RV
p11_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	struct slot *s;
	CK_ULONG n = 0;

	if (count == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = slot_get_locked(id)) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	for (size_t i = 0; i < p11_mech_count(); i++) {
		if (slot_has_mech(s, p11_mech_at(i))) {
			n++;
		}
	}
	if (list != NULL && *count < n) {
		*count = n;
		LEAVE(CKR_BUFFER_TOO_SMALL);
	}
	if (list != NULL) {
		n = 0;
		for (size_t i = 0; i < p11_mech_count(); i++) {
			if (slot_has_mech(s, p11_mech_at(i))) {
				list[n++] = p11_mech_at(i)->type;
			}
		}
	}
	*count = n;
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	struct slot *s;
	const struct p11_mech *m = p11_mech_find(type);

	if (info == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = slot_get_locked(id)) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	if (m == NULL || !slot_has_mech(s, m)) {
		LEAVE(CKR_MECHANISM_INVALID);
	}
	info->flags = CKF_HW | CKF_SIGN;
	if (m->rsa) {
		info->ulMinKeySize = 3072;
		info->ulMaxKeySize = 4096;
	} else if (m->ec) {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 384;
		info->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	} else {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 256;
	}
	LEAVE(CKR_OK);
}

/* ---- sessions and login ---- */

static CK_RV
p11_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, void *app, CK_NOTIFY notify, CK_SESSION_HANDLE *h)
{
	if (h == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	if (!(flags & CKF_SERIAL_SESSION)) {
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	}
	ENTER();
	if (slot_get_locked(id) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (!g.sess[i].used) {
			memset(&g.sess[i], 0, sizeof(g.sess[i]));
			g.sess[i].used = true;
			g.sess[i].slot = id;
			g.sess[i].flags = flags;
			*h = i + 1;
			LEAVE(CKR_OK);
		}
	}
	LEAVE(CKR_SESSION_COUNT);
}

static void
logout_locked(struct slot *s)
{
	CK_SLOT_ID idx = (CK_SLOT_ID)(s - g.slots);

	secure_wipe(s->pin, sizeof(s->pin));
	s->logged_in = false;
	/*
	 * Operations begun on the slot end with the login: a C_Sign after
	 * C_Logout must not reach freed keys, nor, after another C_Login, the
	 * key that now has the index chosen at C_SignInit.
	 */
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (g.sess[i].used && g.sess[i].slot == idx) {
			sign_end(&g.sess[i]);
			g.sess[i].finding = false;
			g.sess[i].refusedlen = 0;
		}
	}
	if (s->login_slot) {
		p11_keys_free(s->keys, s->nkeys);
		free(s->keys);
		s->keys = NULL;
		s->nkeys = 0;
	}
}

static void
session_close_locked(struct session *s)
{
	CK_SLOT_ID slot = s->slot;

	sign_end(s);
	memset(s, 0, sizeof(*s));
	/* The last session of a slot closed: its login ends (PKCS#11 2.40, 5.6). */
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (g.sess[i].used && g.sess[i].slot == slot) {
			return;
		}
	}
	if (slot < g.nslots && g.slots[slot].logged_in) {
		logout_locked(&g.slots[slot]);
	}
}

static CK_RV
p11_CloseSession(CK_SESSION_HANDLE h)
{
	struct session *s;

	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	session_close_locked(s);
	LEAVE(CKR_OK);
}

static CK_RV
p11_CloseAllSessions(CK_SLOT_ID id)
{
	ENTER();
	if (slot_get_locked(id) == NULL) {
		LEAVE(CKR_SLOT_ID_INVALID);
	}
	for (size_t i = 0; i < MAX_SESSIONS; i++) {
		if (g.sess[i].used && g.sess[i].slot == id) {
			session_close_locked(&g.sess[i]);
		}
	}
	LEAVE(CKR_OK);
}

static CK_RV
p11_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO *info)
{
	struct session *s;
	bool in;

	if (info == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	in = g.slots[s->slot].logged_in;
	info->slotID = s->slot;
	info->flags = s->flags;
	info->state = (s->flags & CKF_RW_SESSION)
			  ? (in ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION)
			  : (in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION);
	info->ulDeviceError = 0;
	LEAVE(CKR_OK);
}

/*
 * The PIN is an API token. The login slot lists its configurations with
 * it; a configuration's slot checks it with whoami. Nothing is kept but
 * the token itself, in memory, until logout.
 */
static CK_RV
p11_Login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct session *s;
	struct slot *sl;
	struct p11_conf conf;
	char tok[P11_TOKEN_MAX + 1];
	struct p11_key *keys = NULL;
	size_t n = 0;
	CK_RV rv;

	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (type == CKU_SO) {
		LEAVE(CKR_USER_TYPE_INVALID);
	}
	sl = &g.slots[s->slot];
	if (type == CKU_CONTEXT_SPECIFIC) {
		LEAVE(sl->logged_in || !sl->login_slot ? CKR_OK : CKR_USER_NOT_LOGGED_IN);
	}
	if (sl->logged_in) {
		LEAVE(CKR_USER_ALREADY_LOGGED_IN);
	}
	if ((pin == NULL && len > 0) || len > P11_TOKEN_MAX) {
		LEAVE(CKR_PIN_LEN_RANGE);
	}
	if (len == 0 && g.conf.token[0] == '\0') {
		LEAVE(CKR_PIN_INCORRECT);
	}
	memcpy(tok, len > 0 ? (const char *)pin : g.conf.token,
	       len > 0 ? len : strlen(g.conf.token) + 1);
	if (len > 0) {
		tok[len] = '\0';
	}
	conf = g.conf;
	pthread_mutex_unlock(&lock);
	rv = p11d_load_keys(&conf, tok, &keys, &n);
	secure_wipe(&conf, sizeof(conf));
	pthread_mutex_lock(&lock);
	if (rv == CKR_USER_NOT_LOGGED_IN) {
		rv = CKR_PIN_INCORRECT;
	}
	if (rv == CKR_OK && (s = session_get_locked(h)) != NULL && !g.slots[s->slot].logged_in) {
		sl = &g.slots[s->slot];
		memcpy(sl->pin, tok, sizeof(sl->pin));
		sl->logged_in = true;
		if (sl->login_slot) {
			sl->keys = keys;
			sl->nkeys = n;
			keys = NULL;
		}
	}
	p11_keys_free(keys, n);
	free(keys);
	secure_wipe(tok, sizeof(tok));
	LEAVE(rv);
}

static CK_RV
p11_Logout(CK_SESSION_HANDLE h)
{
	struct session *s;

	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!g.slots[s->slot].logged_in) {
		LEAVE(CKR_USER_NOT_LOGGED_IN);
	}
	logout_locked(&g.slots[s->slot]);
	LEAVE(CKR_OK);
}

/* ---- objects ---- */

static CK_RV
p11_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	struct session *s;
	const struct p11_key *k;
	struct aval *v;
	int kind;
	CK_RV rv = CKR_OK;

	if (tmpl == NULL && n > 0) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if ((k = object_get_locked(s, o, &kind)) == NULL) {
		LEAVE(CKR_OBJECT_HANDLE_INVALID);
	}
	if ((v = malloc(sizeof(*v))) == NULL) {
		LEAVE(CKR_HOST_MEMORY);
	}
	/* Every attribute is answered; the worst outcome is returned (PKCS#11 2.40, 5.7). */
	for (CK_ULONG i = 0; i < n; i++) {
		switch (attr_get(k, kind, tmpl[i].type, v)) {
		case ATTR_SENSITIVE:
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
			break;
		case ATTR_INVALID:
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			if (rv == CKR_OK) {
				rv = CKR_ATTRIBUTE_TYPE_INVALID;
			}
			break;
		case ATTR_OK:
			if (tmpl[i].pValue == NULL) {
				tmpl[i].ulValueLen = v->len;
			} else if (tmpl[i].ulValueLen < v->len) {
				tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
				if (rv == CKR_OK) {
					rv = CKR_BUFFER_TOO_SMALL;
				}
			} else {
				if (v->len > 0) {
					memcpy(tmpl[i].pValue, v->p, v->len);
				}
				tmpl[i].ulValueLen = v->len;
			}
			break;
		}
	}
	free(v);
	LEAVE(rv);
}

static CK_RV
p11_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	struct session *s;
	struct slot *sl;

	if (tmpl == NULL && n > 0) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (s->finding) {
		LEAVE(CKR_OPERATION_ACTIVE);
	}
	sl = &g.slots[s->slot];
	s->nfound = s->pos = 0;
	for (size_t i = 0; i < sl->nkeys && !(sl->login_slot && !sl->logged_in); i++) {
		for (int kind = OBJ_PRIV; kind <= OBJ_CERT; kind++) {
			if (kind == OBJ_CERT && sl->keys[i].cert == NULL) {
				continue;
			}
			if (object_matches(&sl->keys[i], kind, tmpl, n) && s->nfound < MAX_FOUND) {
				s->found[s->nfound++] = (i + 1) * 4 + (CK_OBJECT_HANDLE)kind;
			}
		}
	}
	s->finding = true;
	LEAVE(CKR_OK);
}

static CK_RV
p11_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
	struct session *s;

	if ((out == NULL && max > 0) || count == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!s->finding) {
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	}
	*count = 0;
	while (*count < max && s->pos < s->nfound) {
		out[(*count)++] = s->found[s->pos++];
	}
	LEAVE(CKR_OK);
}

static CK_RV
p11_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct session *s;

	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!s->finding) {
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	}
	s->finding = false;
	LEAVE(CKR_OK);
}

/* ---- signing ---- */

/* CK_EDDSA_PARAMS (PKCS#11 3.0), which p11-kit 0.24's header lacks. */
struct eddsa_params {
	CK_BBOOL phFlag;
	CK_ULONG ulContextDataLen;
	CK_BYTE *pContextData;
};

static CK_RV
pss_params(struct session *s, const CK_MECHANISM *mech)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
	CK_MECHANISM_TYPE want = 0;

	if (s->mech->md == EVP_sha256) {
		want = CKM_SHA256;
	} else if (s->mech->md == EVP_sha384) {
		want = CKM_SHA384;
	} else if (s->mech->md == EVP_sha512) {
		want = CKM_SHA512;
	}
	if (p == NULL || mech->ulParameterLen != sizeof(*p)) {
		if (want == 0 || p != NULL) {
			return CKR_MECHANISM_PARAM_INVALID;
		}
		s->pss_hash = want; /* no parameters: the mechanism's hash, a salt of its length */
		s->salt = (long)p11_hash_len_for_ckm(want);
		return CKR_OK;
	}
	if (p11_hash_len_for_ckm(p->hashAlg) == 0 || (want != 0 && p->hashAlg != want) ||
	    p->mgf != p11_mgf_for_ckm(p->hashAlg) || p->sLen > 512) {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	s->pss_hash = p->hashAlg;
	s->salt = (long)p->sLen;
	return CKR_OK;
}

static CK_RV
p11_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	struct session *s;
	const struct p11_key *k;
	int kind;
	CK_RV rv = CKR_OK;

	if (mech == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (s->signing) {
		LEAVE(CKR_OPERATION_ACTIVE);
	}
	if ((k = object_get_locked(s, key, &kind)) == NULL) {
		LEAVE(CKR_KEY_HANDLE_INVALID);
	}
	if (kind != OBJ_PRIV) {
		LEAVE(CKR_KEY_FUNCTION_NOT_PERMITTED);
	}
	if ((s->mech = p11_mech_find(mech->mechanism)) == NULL) {
		LEAVE(CKR_MECHANISM_INVALID);
	}
	if (!p11_mech_fits_key(s->mech, k->alg)) {
		LEAVE(CKR_KEY_TYPE_INCONSISTENT);
	}
	s->salt = -1;
	if (s->mech->pss) {
		rv = pss_params(s, mech);
	} else if (s->mech->ed && mech->pParameter != NULL) {
		const struct eddsa_params *e = mech->pParameter;

		/* Ed25519 only: no prehash (Ed25519ph), no context. */
		if (mech->ulParameterLen != sizeof(*e) || e->phFlag || e->ulContextDataLen > 0) {
			rv = CKR_MECHANISM_PARAM_INVALID;
		}
	}
	if (rv != CKR_OK) {
		LEAVE(rv);
	}
	s->key = (size_t)(key / 4 - 1);
	if (s->mech->md != NULL) {
		if ((s->md = EVP_MD_CTX_new()) == NULL ||
		    !EVP_DigestInit_ex(s->md, s->mech->md(), NULL)) {
			sign_end(s);
			LEAVE(CKR_HOST_MEMORY);
		}
	}
	s->signing = true;
	LEAVE(CKR_OK);
}

/* The request for the signetd task: what the mechanism makes of DATA (a digest already for hashing
 * ones). */
static CK_RV
sign_request(const struct session *s, const struct p11_key *k, const uint8_t *data, size_t len,
	     struct p11_sign_req *q)
{
	const struct p11_mech *m = s->mech;

	memset(q, 0, sizeof(*q));
	q->input = data;
	q->inlen = len;
	q->prehashed = true;
	q->salt = -1;
	if (m->ed) {
		q->prehashed = false;
		q->scheme = "EDDSA";
		return len <= P11_EDDSA_MAX ? CKR_OK : CKR_DATA_LEN_RANGE;
	}
	if (m->ec) {
		q->scheme = "ECDSA";
		q->hash = p11_hash_name_for_len(len);
		return q->hash != NULL ? CKR_OK : CKR_DATA_LEN_RANGE;
	}
	if (m->pss) {
		q->scheme = "RSA_PSS";
		q->hash = p11_hash_name_for_ckm(s->pss_hash);
		q->salt = s->salt;
		return len == p11_hash_len_for_ckm(s->pss_hash) ? CKR_OK : CKR_DATA_LEN_RANGE;
	}
	q->scheme = "RSA_PKCS1_V15";
	if (m->md != NULL) {
		q->hash = p11_hash_name_for_len(len);
		return CKR_OK;
	}
	/* CKM_RSA_PKCS: a DigestInfo of a hash signetd knows, nothing else (no raw RSA oracle). */
	return p11_digestinfo_parse(data, len, &q->hash, &q->input, &q->inlen) ? CKR_OK
									       : CKR_DATA_INVALID;
	(void)k;
}

/*
 * The common end of C_Sign and C_SignFinal: size queries keep the
 * operation; otherwise the task is made and waited for without the lock.
 */
static CK_RV
sign_finish_locked(CK_SESSION_HANDLE h, struct session *s, const uint8_t *data, size_t len,
		   CK_BYTE *sig, CK_ULONG *siglen)
{
	struct slot *sl = &g.slots[s->slot];
	struct p11_key k;
	struct p11_conf conf = g.conf;
	char tok[P11_TOKEN_MAX + 1];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct p11_sign_req q;
	uint8_t *own;
	size_t out = 0;
	CK_RV rv;

	/* Backstop to logout_locked: the key chosen at C_SignInit must still be the slot's. */
	if (s->key >= sl->nkeys || (sl->login_slot && !sl->logged_in)) {
		sign_end(s);
		return CKR_USER_NOT_LOGGED_IN;
	}
	k = sl->keys[s->key];
	if (sig == NULL) {
		*siglen = k.siglen;
		return CKR_OK;
	}
	if (*siglen < k.siglen) {
		*siglen = k.siglen;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (s->md != NULL) {
		if ((data != NULL && len > 0 && !EVP_DigestUpdate(s->md, data, len)) ||
		    !EVP_DigestFinal_ex(s->md, md, &mdlen)) {
			sign_end(s);
			return CKR_FUNCTION_FAILED;
		}
		data = md;
		len = mdlen;
	}
	/* The input outlives the operation (its buffer), and the lock: a copy of our own. */
	if ((own = malloc(len + 1)) == NULL) {
		sign_end(s);
		return CKR_HOST_MEMORY;
	}
	if (len > 0) {
		memcpy(own, data, len);
	}
	rv = sign_request(s, &k, own, len, &q);
	sign_end(s);
	/*
	 * Tools such as pkcs11-tool retry a failed C_Sign as C_SignUpdate and
	 * C_SignFinal: the same digest, refused a moment ago, makes no new task.
	 */
	if (rv == CKR_OK && s->refusedlen == q.inlen && s->refusedkey == s->key && q.inlen <= 64 &&
	    memcmp(s->refused, q.input, q.inlen) == 0) {
		rv = s->refusedrv;
	}
	if (rv != CKR_OK) {
		free(own);
		return rv;
	}
	memcpy(tok, sl->logged_in ? sl->pin : g.conf.token, sizeof(tok));
	k.pub = NULL; /* only the names, the algorithm and the size travel outside the lock */
	pthread_mutex_unlock(&lock);
	rv = tok[0] == '\0' ? CKR_USER_NOT_LOGGED_IN : p11d_sign(&conf, tok, &k, &q, sig, &out);
	secure_wipe(tok, sizeof(tok));
	secure_wipe(&conf, sizeof(conf));
	pthread_mutex_lock(&lock);
	if (rv == CKR_OK) {
		*siglen = out;
	} else if (rv == CKR_FUNCTION_REJECTED && session_get_locked(h) == s &&
		   q.inlen <= sizeof(s->refused)) {
		memcpy(s->refused, q.input, q.inlen);
		s->refusedlen = q.inlen;
		s->refusedkey = s->key;
		s->refusedrv = rv;
	}
	free(own);
	(void)h;
	return rv;
}

static CK_RV
p11_Sign(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len, CK_BYTE *sig, CK_ULONG *siglen)
{
	struct session *s;

	if ((data == NULL && len > 0) || siglen == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!s->signing) {
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	}
	if (s->multipart) {
		sign_end(s);
		LEAVE(CKR_OPERATION_ACTIVE);
	}
	LEAVE(sign_finish_locked(h, s, data, len, sig, siglen));
}

static CK_RV
p11_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE *data, CK_ULONG len)
{
	struct session *s;

	if (data == NULL && len > 0) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!s->signing) {
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	}
	s->multipart = true;
	/*
	 * Multi-part only where the module hashes (CKM_ECDSA, CKM_RSA_PKCS, the
	 * raw PSS and CKM_EDDSA are single-part in PKCS#11): a tool that falls
	 * back to C_SignUpdate after a refused C_Sign must not make a second task.
	 */
	if (s->md == NULL) {
		sign_end(s);
		LEAVE(CKR_FUNCTION_NOT_SUPPORTED);
	}
	if (len > 0 && !EVP_DigestUpdate(s->md, data, len)) {
		sign_end(s);
		LEAVE(CKR_FUNCTION_FAILED);
	}
	LEAVE(CKR_OK);
}

static CK_RV
p11_SignFinal(CK_SESSION_HANDLE h, CK_BYTE *sig, CK_ULONG *siglen)
{
	struct session *s;

	if (siglen == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	ENTER();
	if ((s = session_get_locked(h)) == NULL) {
		LEAVE(CKR_SESSION_HANDLE_INVALID);
	}
	if (!s->signing || s->md == NULL) {
		LEAVE(CKR_OPERATION_NOT_INITIALIZED);
	}
	LEAVE(sign_finish_locked(h, s, NULL, 0, sig, siglen));
}

/* ---- what a signing-only, read-only token does not do ---- */

#define NOT_SUPPORTED(name, args)                                                                  \
	static CK_RV p11_##name args                                                               \
	{                                                                                          \
		return CKR_FUNCTION_NOT_SUPPORTED;                                                 \
	}

NOT_SUPPORTED(InitToken, (CK_SLOT_ID a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d))
NOT_SUPPORTED(InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c))
NOT_SUPPORTED(SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR *b, CK_ULONG c, CK_UTF8CHAR *d, CK_ULONG e))
NOT_SUPPORTED(GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
NOT_SUPPORTED(SetOperationState,
	      (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e))
NOT_SUPPORTED(CreateObject, (CK_SESSION_HANDLE a, CK_ATTRIBUTE *b, CK_ULONG c, CK_OBJECT_HANDLE *d))
NOT_SUPPORTED(CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d,
			   CK_OBJECT_HANDLE *e))
NOT_SUPPORTED(DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
NOT_SUPPORTED(GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG *c))
NOT_SUPPORTED(SetAttributeValue,
	      (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE *c, CK_ULONG d))
NOT_SUPPORTED(EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
NOT_SUPPORTED(Encrypt, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
NOT_SUPPORTED(DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
NOT_SUPPORTED(Decrypt, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
NOT_SUPPORTED(DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b))
NOT_SUPPORTED(Digest, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
NOT_SUPPORTED(DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
NOT_SUPPORTED(DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG *c))
NOT_SUPPORTED(SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
NOT_SUPPORTED(SignRecover, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
NOT_SUPPORTED(Verify, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG e))
NOT_SUPPORTED(VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
NOT_SUPPORTED(VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
NOT_SUPPORTED(VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c))
NOT_SUPPORTED(VerifyRecover, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DigestEncryptUpdate,
	      (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DecryptDigestUpdate,
	      (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(SignEncryptUpdate,
	      (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(DecryptVerifyUpdate,
	      (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c, CK_BYTE *d, CK_ULONG *e))
NOT_SUPPORTED(GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_ATTRIBUTE *c, CK_ULONG d,
			    CK_OBJECT_HANDLE *e))
NOT_SUPPORTED(GenerateKeyPair,
	      (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_ATTRIBUTE *c, CK_ULONG d, CK_ATTRIBUTE *e,
	       CK_ULONG f, CK_OBJECT_HANDLE *g2, CK_OBJECT_HANDLE *h))
NOT_SUPPORTED(WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c,
			CK_OBJECT_HANDLE d, CK_BYTE *e, CK_ULONG *f))
NOT_SUPPORTED(UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_BYTE *d,
			  CK_ULONG e, CK_ATTRIBUTE *f, CK_ULONG g2, CK_OBJECT_HANDLE *h))
NOT_SUPPORTED(DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM *b, CK_OBJECT_HANDLE c, CK_ATTRIBUTE *d,
			  CK_ULONG e, CK_OBJECT_HANDLE *f))
NOT_SUPPORTED(SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
NOT_SUPPORTED(GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE *b, CK_ULONG c))
NOT_SUPPORTED(GetFunctionStatus, (CK_SESSION_HANDLE a))
NOT_SUPPORTED(CancelFunction, (CK_SESSION_HANDLE a))
NOT_SUPPORTED(WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID *b, void *c))

static CK_RV p11_GetFunctionList(CK_FUNCTION_LIST **list);

static CK_FUNCTION_LIST functions = {
    {2, 40},
#define F(n) .C_##n = p11_##n
    F(Initialize),
    F(Finalize),
    F(GetInfo),
    F(GetFunctionList),
    F(GetSlotList),
    F(GetSlotInfo),
    F(GetTokenInfo),
    F(GetMechanismList),
    F(GetMechanismInfo),
    F(InitToken),
    F(InitPIN),
    F(SetPIN),
    F(OpenSession),
    F(CloseSession),
    F(CloseAllSessions),
    F(GetSessionInfo),
    F(GetOperationState),
    F(SetOperationState),
    F(Login),
    F(Logout),
    F(CreateObject),
    F(CopyObject),
    F(DestroyObject),
    F(GetObjectSize),
    F(GetAttributeValue),
    F(SetAttributeValue),
    F(FindObjectsInit),
    F(FindObjects),
    F(FindObjectsFinal),
    F(EncryptInit),
    F(Encrypt),
    F(EncryptUpdate),
    F(EncryptFinal),
    F(DecryptInit),
    F(Decrypt),
    F(DecryptUpdate),
    F(DecryptFinal),
    F(DigestInit),
    F(Digest),
    F(DigestUpdate),
    F(DigestKey),
    F(DigestFinal),
    F(SignInit),
    F(Sign),
    F(SignUpdate),
    F(SignFinal),
    F(SignRecoverInit),
    F(SignRecover),
    F(VerifyInit),
    F(Verify),
    F(VerifyUpdate),
    F(VerifyFinal),
    F(VerifyRecoverInit),
    F(VerifyRecover),
    F(DigestEncryptUpdate),
    F(DecryptDigestUpdate),
    F(SignEncryptUpdate),
    F(DecryptVerifyUpdate),
    F(GenerateKey),
    F(GenerateKeyPair),
    F(WrapKey),
    F(UnwrapKey),
    F(DeriveKey),
    F(SeedRandom),
    F(GenerateRandom),
    F(GetFunctionStatus),
    F(CancelFunction),
    F(WaitForSlotEvent),
#undef F
};

static CK_RV
p11_GetFunctionList(CK_FUNCTION_LIST **list)
{
	if (list == NULL) {
		return CKR_ARGUMENTS_BAD;
	}
	*list = &functions;
	return CKR_OK;
}

/* The module's only exported symbol. */
PUBLIC CK_RV
C_GetFunctionList(CK_FUNCTION_LIST **list)
{
	return p11_GetFunctionList(list);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libsignet-pkcs11: configuration, and the requests it sends signetd (one connection per call). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/client.h"
#include "lib/codec.h"
#include "lib/util.h"
#include "pkcs11/p11mod.h"

/* One reply's outcome: the result, or the daemon's error code and message. */
struct p11_reply {
	json_t *rep;
	const json_t *result;
	char code[32];
	char message[256];
};

static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
p11_debug(const struct p11_conf *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->debug) {
		return;
	}
	va_start(ap, fmt);
	fputs("libsignet-pkcs11: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* KEY = VALUE lines; '#' starts a comment. Unknown keys are ignored (a newer file). */
static void
conf_read_file(struct p11_conf *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *k = line, *v, *e;

		while (isspace((unsigned char)*k)) {
			k++;
		}
		if (*k == '#' || *k == '\0' || (v = strchr(k, '=')) == NULL) {
			continue;
		}
		for (e = v; e > k && isspace((unsigned char)e[-1]); e--) {
		}
		*e = '\0';
		for (v++; isspace((unsigned char)*v); v++) {
		}
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--) {
		}
		*e = '\0';
		if (strcmp(k, "socket") == 0) {
			copy_str(c->socket, sizeof(c->socket), v);
		} else if (strcmp(k, "token") == 0) {
			copy_str(c->token, sizeof(c->token), v);
		} else if (strcmp(k, "tenant") == 0) {
			copy_str(c->tenant, sizeof(c->tenant), v);
		} else if (strcmp(k, "wait_timeout") == 0) {
			c->wait_timeout = strtol(v, NULL, 10);
		}
	}
	secure_wipe(line, sizeof(line));
	fclose(f);
}

void
p11_conf_load(struct p11_conf *c)
{
	const char *v;

	memset(c, 0, sizeof(*c));
	copy_str(c->socket, sizeof(c->socket), P11_DEFAULT_SOCKET);
	c->wait_timeout = P11_WAIT_DEFAULT;
	v = secure_getenv("SIGNET_PKCS11_CONF");
	conf_read_file(c, v != NULL && *v != '\0' ? v : P11_DEFAULT_CONF);
	if ((v = secure_getenv("SIGNET_SOCKET")) != NULL && *v != '\0') {
		copy_str(c->socket, sizeof(c->socket), v);
	}
	if ((v = secure_getenv("SIGNET_TOKEN")) != NULL && *v != '\0') {
		copy_str(c->token, sizeof(c->token), v);
	}
	if ((v = secure_getenv("SIGNET_TENANT")) != NULL && *v != '\0') {
		copy_str(c->tenant, sizeof(c->tenant), v);
	}
	if ((v = secure_getenv("SIGNET_TASK_NAME")) != NULL) {
		copy_str(c->task_name, sizeof(c->task_name), v);
	}
	if ((v = secure_getenv("SIGNET_WAIT_TIMEOUT")) != NULL && *v != '\0') {
		c->wait_timeout = strtol(v, NULL, 10);
	}
	if (c->wait_timeout < 0) {
		c->wait_timeout = 0;
	}
	v = secure_getenv("SIGNET_PKCS11_DEBUG");
	c->debug = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Map a daemon error code to what PKCS#11 callers understand. */
static CK_RV
rv_of_code(const char *code)
{
	if (strcmp(code, "unauthenticated") == 0) {
		return CKR_USER_NOT_LOGGED_IN;
	}
	if (strcmp(code, "denied") == 0 || strcmp(code, "conflict") == 0) {
		return CKR_FUNCTION_REJECTED;
	}
	if (strcmp(code, "invalid") == 0 || strcmp(code, "too_large") == 0) {
		return CKR_DATA_INVALID;
	}
	return CKR_DEVICE_ERROR;
}

/* Connect, send one request, read its reply, close. CKR_OK with R filled, or a transport error. */
static CK_RV
call(const struct p11_conf *c, const char *token, const char *op, json_t *args, int timeout_ms,
     struct p11_reply *r)
{
	struct client cl;
	json_t *auth = json_object();
	int rfds[MSG_MAX_FDS], nrfds = 0, e;
	const json_t *err;

	memset(r, 0, sizeof(*r));
	if (auth == NULL) {
		return CKR_HOST_MEMORY;
	}
	if (token != NULL && *token != '\0') {
		json_object_set_new(auth, "token", json_string(token));
	}
	if (c->tenant[0] != '\0') {
		json_object_set_new(auth, "tenant", json_string(c->tenant));
	}
	if ((e = client_connect(&cl, c->socket, timeout_ms)) != 0) {
		p11_debug(c, "cannot connect to %s: %s", c->socket, strerror(-e));
		json_decref(auth);
		return CKR_DEVICE_ERROR;
	}
	e = client_call(&cl, op, auth, args, NULL, 0, &r->rep, rfds, &nrfds);
	msg_close_fds(rfds, &nrfds);
	client_close(&cl);
	json_decref(auth);
	if (e != 0) {
		p11_debug(c, "%s: %s", op, strerror(-e));
		return CKR_DEVICE_ERROR;
	}
	if (json_is_true(json_object_get(r->rep, "ok"))) {
		r->result = json_object_get(r->rep, "result");
		if (json_is_object(r->result)) {
			return CKR_OK;
		}
		json_decref(r->rep);
		r->rep = NULL;
		return CKR_DEVICE_ERROR;
	}
	err = json_object_get(r->rep, "error");
	copy_str(r->code, sizeof(r->code),
		 json_string_value(json_object_get(err, "code")) ?: "internal");
	copy_str(r->message, sizeof(r->message),
		 json_string_value(json_object_get(err, "message")) ?: "");
	return CKR_OK;
}

static void
reply_free(struct p11_reply *r)
{
	json_decref(r->rep);
	r->rep = NULL;
}

/* call() whose daemon refusal is an error too: CKR_OK means R->result is set. */
static CK_RV
call_ok(const struct p11_conf *c, const char *token, const char *op, json_t *args,
	struct p11_reply *r)
{
	CK_RV rv = call(c, token, op, args, P11_CALL_TIMEOUT_MS, r);

	if (rv == CKR_OK && r->result == NULL) {
		p11_debug(c, "%s: %s: %s", op, r->code, r->message);
		rv = rv_of_code(r->code);
		reply_free(r);
	}
	return rv;
}

static int
pct_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (o == cap) {
			return -1;
		}
		if (s[i] == '%' && i + 2 < n + 1 && sscanf(s + i + 1, "%2x", &v) == 1) {
			out[o++] = (uint8_t)v;
			i += 2;
		} else {
			out[o++] = (uint8_t)s[i];
		}
	}
	return (int)o;
}

/* CKA_ID: the id= of the key's PKCS#11 URI in signetd's token, else the SHA-1 of its public key. */
static void
key_id_from(struct p11_key *k, const char *uri)
{
	const char *p = uri != NULL ? strstr(uri, ";id=") : NULL;
	int n;

	if (p == NULL && uri != NULL) {
		p = strstr(uri, ":id=");
	}
	if (p != NULL) {
		p += 4;
		n = pct_decode(p, strcspn(p, ";?"), k->id, sizeof(k->id));
		if (n > 0) {
			k->idlen = (size_t)n;
			return;
		}
	}
	k->idlen = 0;
	if (k->pub != NULL) {
		unsigned char *der = NULL;
		int len = i2d_PUBKEY(k->pub, &der);
		unsigned int mdlen = 0;

		if (len > 0 && EVP_Digest(der, (size_t)len, k->id, &mdlen, EVP_sha1(), NULL)) {
			k->idlen = mdlen;
		}
		OPENSSL_free(der);
	}
}

static CK_RV
key_fill_cert(struct p11_key *k, const char *chain)
{
	BIO *b = BIO_new_mem_buf(chain, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char *p;
	int n;

	BIO_free(b);
	if (x == NULL) {
		return CKR_OK; /* no usable certificate: the key goes without one */
	}
	if ((n = i2d_X509(x, NULL)) > 0 && (k->cert = malloc((size_t)n)) != NULL) {
		p = k->cert;
		k->certlen = (size_t)i2d_X509(x, &p);
	}
	k->subject = NULL;
	n = i2d_X509_NAME(X509_get_subject_name(x), &k->subject);
	k->subjectlen = n > 0 ? (size_t)n : 0;
	n = i2d_X509_NAME(X509_get_issuer_name(x), &k->issuer);
	k->issuerlen = n > 0 ? (size_t)n : 0;
	n = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &k->serial);
	k->seriallen = n > 0 ? (size_t)n : 0;
	X509_free(x);
	return CKR_OK;
}

static bool
key_fill_alg(struct p11_key *k, const char *alg)
{
	if (strncmp(alg, "RSA_", 4) == 0) {
		k->alg = P11_ALG_RSA;
		k->bits = (size_t)EVP_PKEY_get_bits(k->pub);
		k->siglen = (size_t)EVP_PKEY_get_size(k->pub);
	} else if (strcmp(alg, "ECC_NIST_P256") == 0) {
		k->alg = P11_ALG_P256;
		k->bits = 256;
		k->siglen = 64;
	} else if (strcmp(alg, "ECC_NIST_P384") == 0) {
		k->alg = P11_ALG_P384;
		k->bits = 384;
		k->siglen = 96;
	} else if (strcmp(alg, "ED25519") == 0) {
		k->alg = P11_ALG_ED25519;
		k->bits = 256;
		k->siglen = 64;
	} else {
		return false;
	}
	return true;
}

/* key.show LABEL into K (devconf fields already set). CKR_OK, or CKR_FUNCTION_REJECTED to skip it.
 */
static CK_RV
key_load(const struct p11_conf *c, const char *token, struct p11_key *k)
{
	struct p11_reply r;
	/* Named by its configuration: signetd checks that one, not every configuration. */
	json_t *args = json_pack("{s:s, s:s}", "label", k->label, "deviceConfig", k->devconf);
	const char *pem, *alg, *chain;
	BIO *b;
	CK_RV rv;

	if (args == NULL) {
		return CKR_HOST_MEMORY;
	}
	rv = call_ok(c, token, "key.show", args, &r);
	json_decref(args);
	if (rv != CKR_OK) {
		return rv;
	}
	pem = json_string_value(json_object_get(r.result, "publicKeyPem"));
	alg = json_string_value(json_object_get(r.result, "algorithm"));
	chain = json_string_value(json_object_get(r.result, "chainPem"));
	rv = CKR_FUNCTION_REJECTED;
	if (pem != NULL && alg != NULL && json_is_true(json_object_get(r.result, "usable")) &&
	    (b = BIO_new_mem_buf(pem, -1)) != NULL) {
		k->pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
		if (k->pub != NULL && key_fill_alg(k, alg)) {
			key_id_from(k, json_string_value(json_object_get(r.result, "uri")));
			rv = chain != NULL ? key_fill_cert(k, chain) : CKR_OK;
		}
	}
	reply_free(&r);
	return rv;
}

static bool
subjects_name(const json_t *list, const char *user)
{
	size_t i;
	const json_t *s;
	char u[P11_NAME_MAX + 8], cl[P11_NAME_MAX + 8];

	snprintf(u, sizeof(u), "USER:%s", user);
	snprintf(cl, sizeof(cl), "CLIENT:%s", user);
	json_array_foreach(list, i, s) {
		const char *v = json_string_value(s);

		/* Group members are not known to a user: a configuration used by a group is
		 * offered. */
		if (v != NULL &&
		    (strcmp(v, u) == 0 || strcmp(v, cl) == 0 || strncmp(v, "GROUP:", 6) == 0)) {
			return true;
		}
	}
	return false;
}

/* Add DC (a devconf.show result) to KEYS when the user may use it and its key is readable. */
static CK_RV
keys_add(const struct p11_conf *c, const char *token, const json_t *dc, const char *user,
	 bool admin, struct p11_key *keys, size_t *n)
{
	const json_t *sk = json_object_get(dc, "signingKeys");
	const char *id = json_string_value(json_object_get(dc, "id"));
	const char *name = json_string_value(json_object_get(dc, "name"));
	const char *label = json_string_value(json_array_get(sk, 0));
	struct p11_key *k = &keys[*n];
	CK_RV rv;

	if (*n == P11_MAX_KEYS || id == NULL || name == NULL || label == NULL ||
	    !json_is_true(json_object_get(dc, "enabled"))) {
		return CKR_OK;
	}
	if (!admin &&
	    !subjects_name(json_object_get(json_object_get(dc, "subjects"), "USE"), user)) {
		return CKR_OK;
	}
	memset(k, 0, sizeof(*k));
	copy_str(k->devconf, sizeof(k->devconf), id);
	copy_str(k->devconf_name, sizeof(k->devconf_name), name);
	copy_str(k->label, sizeof(k->label), label);
	rv = key_load(c, token, k);
	if (rv == CKR_OK) {
		(*n)++;
		return CKR_OK;
	}
	p11_debug(c,
		  "device configuration %s: key '%s' cannot be read (VIEW on RESOURCE_TYPE:KEY?)",
		  name, label);
	p11_keys_free(k, 1);
	return rv == CKR_HOST_MEMORY || rv == CKR_DEVICE_ERROR ? rv : CKR_OK;
}

void
p11_keys_free(struct p11_key *keys, size_t n)
{
	for (size_t i = 0; keys != NULL && i < n; i++) {
		EVP_PKEY_free(keys[i].pub);
		free(keys[i].cert);
		OPENSSL_free(keys[i].subject);
		OPENSSL_free(keys[i].issuer);
		OPENSSL_free(keys[i].serial);
		memset(&keys[i], 0, sizeof(keys[i]));
	}
}

CK_RV
p11d_load_keys(const struct p11_conf *c, const char *token, struct p11_key **out, size_t *nout)
{
	struct p11_key *keys = calloc(P11_MAX_KEYS, sizeof(*keys));
	struct p11_reply who, page, one;
	char user[P11_NAME_MAX + 1], cursor[128] = "";
	bool admin;
	size_t n = 0, i;
	const json_t *dc;
	CK_RV rv;

	*out = NULL;
	*nout = 0;
	if (keys == NULL) {
		return CKR_HOST_MEMORY;
	}
	if ((rv = call_ok(c, token, "whoami", NULL, &who)) != CKR_OK) {
		free(keys);
		return rv;
	}
	copy_str(user, sizeof(user), json_string_value(json_object_get(who.result, "user")) ?: "");
	admin = json_is_true(json_object_get(who.result, "admin"));
	reply_free(&who);
	do {
		json_t *args = cursor[0] != '\0' ? json_pack("{s:s}", "cursor", cursor) : NULL;

		rv = call_ok(c, token, "devconf.list", args, &page);
		json_decref(args);
		if (rv != CKR_OK) {
			break;
		}
		json_array_foreach(json_object_get(page.result, "deviceConfigs"), i, dc) {
			json_t *a = json_pack("{s:O}", "id", json_object_get(dc, "id"));

			if (a == NULL ||
			    (rv = call_ok(c, token, "devconf.show", a, &one)) != CKR_OK) {
				json_decref(a);
				rv = CKR_OK; /* gone since the listing, or not viewable */
				continue;
			}
			json_decref(a);
			rv = keys_add(c, token, one.result, user, admin, keys, &n);
			reply_free(&one);
			if (rv != CKR_OK) {
				break;
			}
		}
		copy_str(cursor, sizeof(cursor),
			 json_string_value(json_object_get(page.result, "cursor")) ?: "");
		reply_free(&page);
	} while (rv == CKR_OK && cursor[0] != '\0');
	if (rv != CKR_OK) {
		p11_keys_free(keys, n);
		free(keys);
		return rv;
	}
	*out = keys;
	*nout = n;
	return CKR_OK;
}

/* The task's name: SIGNET_TASK_NAME, else "<process name> <key label>". */
static void
task_name(const struct p11_conf *c, const struct p11_key *k, char *out, size_t cap)
{
	char comm[64] = "pkcs11";
	FILE *f;

	if (c->task_name[0] != '\0') {
		copy_str(out, cap, c->task_name);
		return;
	}
	if ((f = fopen("/proc/self/comm", "re")) != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL) {
			comm[strcspn(comm, "\n")] = '\0';
		}
		fclose(f);
	}
	for (char *p = comm; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p)) {
			*p = '?';
		}
	}
	snprintf(out, cap, "%s %s", comm, k->label);
}

static json_t *
sign_args(const struct p11_conf *c, const struct p11_key *k, const struct p11_sign_req *q, bool ext)
{
	char name[256], *b64 = base64_encode_alloc(q->input, q->inlen, false);
	json_t *a;

	if (b64 == NULL) {
		return NULL;
	}
	task_name(c, k, name, sizeof(name));
	a = json_pack("{s:s, s:s, s:s}", "devconf", k->devconf, "name", name, "inputBase64", b64);
	free(b64);
	if (a == NULL) {
		return NULL;
	}
	if (q->prehashed) {
		json_object_set_new(a, "prehashed", json_true());
	}
	if (ext) {
		json_object_set_new(a, "scheme", json_string(q->scheme));
		if (q->hash != NULL) {
			json_object_set_new(a, "hash", json_string(q->hash));
		}
		if (q->salt >= 0) {
			json_object_set_new(a, "saltLength", json_integer(q->salt));
		}
		if (k->alg == P11_ALG_P256 || k->alg == P11_ALG_P384) {
			json_object_set_new(a, "encoding", json_string("raw"));
		}
	}
	return a;
}

/*
 * Can a daemon without the scheme arguments (before 'schemes') make this
 * signature? Only its fixed rules: PSS with SHA-256 and a 32-byte salt,
 * ECDSA with the curve's hash, pure Ed25519.
 */
static bool
fits_old_daemon(const struct p11_key *k, const struct p11_sign_req *q)
{
	switch (k->alg) {
	case P11_ALG_RSA:
		return strcmp(q->scheme, "RSA_PSS") == 0 && q->inlen == 32 && q->salt == 32;
	case P11_ALG_P256:
		return q->inlen == 32;
	case P11_ALG_P384:
		return q->inlen == 48;
	case P11_ALG_ED25519:
		return true;
	}
	return false;
}

/* The signature of a DONE task into SIG, in PKCS#11 encoding. */
static CK_RV
take_signature(const struct p11_conf *c, const struct p11_key *k, const json_t *task, uint8_t *sig,
	       size_t *siglen)
{
	const json_t *res = json_object_get(task, "result");
	const char *b64 = json_string_value(json_object_get(res, "signature"));
	/* An ECDSA result says its encoding; a daemon that did not know "encoding" says nothing
	 * and answers DER, whose length is almost never the raw one's. */
	const char *enc = json_string_value(json_object_get(res, "encoding"));
	bool ec = k->alg == P11_ALG_P256 || k->alg == P11_ALG_P384;
	uint8_t buf[1024];
	long n;

	if (b64 == NULL || (n = base64_decode(b64, strlen(b64), buf, sizeof(buf), false)) <= 0) {
		p11_debug(c, "the task ended without a signature");
		return CKR_DEVICE_ERROR;
	}
	if (ec && enc != NULL && strcmp(enc, "der") == 0) {
		if (!p11_ecdsa_der_to_raw(buf, (size_t)n, k->siglen / 2, sig)) {
			p11_debug(c, "the DER signature of %ld bytes does not decode", n);
			return CKR_DEVICE_ERROR;
		}
	} else if ((size_t)n == k->siglen && (!ec || enc == NULL || strcmp(enc, "raw") == 0)) {
		memcpy(sig, buf, (size_t)n);
	} else if (ec && enc == NULL && p11_ecdsa_der_to_raw(buf, (size_t)n, k->siglen / 2, sig)) {
		/* a daemon that does not know "encoding" answers DER */
	} else {
		p11_debug(c, "the signature has %ld bytes, not %zu", n, k->siglen);
		return CKR_DEVICE_ERROR;
	}
	*siglen = k->siglen;
	return CKR_OK;
}

static void
cancel_task(const struct p11_conf *c, const char *token, const char *id)
{
	struct p11_reply r;
	json_t *a = json_pack("{s:s}", "id", id);

	if (a != NULL && call(c, token, "task.cancel", a, P11_CALL_TIMEOUT_MS, &r) == CKR_OK) {
		reply_free(&r);
	}
	json_decref(a);
}

/* Wait for task ID (whose reply is in R) to end, within the configured time. */
static CK_RV
wait_task(const struct p11_conf *c, const char *token, const struct p11_key *k, struct p11_reply *r,
	  uint8_t *sig, size_t *siglen)
{
	char id[64];
	time_t deadline = time(NULL) + c->wait_timeout;
	CK_RV rv = CKR_OK;

	copy_str(id, sizeof(id), json_string_value(json_object_get(r->result, "id")) ?: "");
	for (;;) {
		const char *st = json_string_value(json_object_get(r->result, "status")) ?: "";
		long left = (long)(deadline - time(NULL));
		json_t *a;

		if (strcmp(st, "DONE") == 0) {
			rv = take_signature(c, k, r->result, sig, siglen);
			break;
		}
		if (strcmp(st, "REJECTED") == 0 || strcmp(st, "EXPIRED") == 0 ||
		    strcmp(st, "CANCELED") == 0 || strcmp(st, "FAILED") == 0) {
			const json_t *why = json_object_get(r->result, "reason");
			const json_t *ap = json_array_get(
			    json_object_get(r->result, "approvals"),
			    json_array_size(json_object_get(r->result, "approvals")) - 1);
			const char *reason = json_string_value(why);

			if (reason == NULL) {
				reason = json_string_value(json_object_get(ap, "reason"));
			}
			p11_debug(c, "task %s ended %s%s%s", id, st, reason ? ": " : "",
				  reason ?: "");
			rv = strcmp(st, "FAILED") == 0 ? CKR_DEVICE_ERROR : CKR_FUNCTION_REJECTED;
			break;
		}
		if (left <= 0 || id[0] == '\0') {
			p11_debug(c,
				  "task %s still %s after %ld s (SIGNET_WAIT_TIMEOUT): cancelled",
				  id, st, c->wait_timeout);
			cancel_task(c, token, id);
			rv = CKR_FUNCTION_REJECTED;
			break;
		}
		p11_debug(c, "task %s is %s: waiting for its approval", id, st);
		reply_free(r);
		a = json_pack("{s:s, s:I}", "id", id, "timeout",
			      (json_int_t)(left > 3600 ? 3600 : left));
		if (a == NULL) {
			return CKR_HOST_MEMORY;
		}
		rv = call(c, token, "task.wait", a, (int)((left > 3600 ? 3600 : left) + 30) * 1000,
			  r);
		json_decref(a);
		if (rv == CKR_OK && r->result == NULL) {
			p11_debug(c, "task.wait %s: %s: %s", id, r->code, r->message);
			rv = rv_of_code(r->code);
		}
		if (rv != CKR_OK) {
			return rv;
		}
	}
	reply_free(r);
	return rv;
}

CK_RV
p11d_sign(const struct p11_conf *c, const char *token, const struct p11_key *k,
	  const struct p11_sign_req *q, uint8_t *sig, size_t *siglen)
{
	struct p11_reply r;
	json_t *a = sign_args(c, k, q, true);
	CK_RV rv;

	if (a == NULL) {
		return CKR_HOST_MEMORY;
	}
	rv = call(c, token, "task.sign", a, P11_CALL_TIMEOUT_MS, &r);
	json_decref(a);
	/* A daemon before the scheme arguments refuses them: ask again the old way where it can. */
	if (rv == CKR_OK && r.result == NULL && strcmp(r.code, "invalid") == 0 &&
	    strstr(r.message, "unknown") != NULL && fits_old_daemon(k, q)) {
		p11_debug(c, "task.sign: %s: asking without scheme arguments", r.message);
		reply_free(&r);
		if ((a = sign_args(c, k, q, false)) == NULL) {
			return CKR_HOST_MEMORY;
		}
		rv = call(c, token, "task.sign", a, P11_CALL_TIMEOUT_MS, &r);
		json_decref(a);
	}
	if (rv != CKR_OK) {
		return rv;
	}
	if (r.result == NULL) {
		p11_debug(c, "task.sign: %s: %s", r.code, r.message);
		rv = rv_of_code(r.code);
		reply_free(&r);
		return rv;
	}
	return wait_task(c, token, k, &r, sig, siglen);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Keys as a task uses them: a tenant's key by label, its certificate, chain and purpose. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "daemon/keyref.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"

void
keyref_clear(struct keyref *k)
{
	X509_free(k->cert);
	sk_X509_pop_free(k->chain, X509_free);
	memset(k, 0, sizeof(*k));
}

int
keyref_load(struct store_txn *t, const char *tenant, const char *label, struct keyref *k, char *why,
	    size_t whylen)
{
	char key[160];
	size_t klen = store_key2(key, sizeof(key), tenant, label);
	json_t *rec = NULL;
	const char *idhex, *chain;
	int r;

	memset(k, 0, sizeof(*k));
	if (klen == 0 || store_get_json(t, STORE_DB_KEYS, key, klen, &rec) != 0) {
		snprintf(why, whylen, "no key '%s' in this tenant", label);
		return SIGNET_ENOTFOUND;
	}
	snprintf(k->label, sizeof(k->label), "%s", label);
	idhex = json_string_value(json_object_get(rec, "id"));
	if (hsm_alg_parse(json_string_value(json_object_get(rec, "algorithm")), &k->alg) != 0 ||
	    idhex == NULL || strlen(idhex) != 2 * HSM_ID_LEN ||
	    !hex_decode(idhex, k->id, HSM_ID_LEN)) {
		snprintf(why, whylen, "the record of key '%s' is damaged", label);
		r = SIGNET_EINTERNAL;
		goto out;
	}
	snprintf(k->purpose, sizeof(k->purpose), "%s",
		 json_string_value(json_object_get(rec, "purpose")) ?: "");
	snprintf(k->purpose_by, sizeof(k->purpose_by), "%s",
		 json_string_value(json_object_get(rec, "purposeDeviceConfig")) ?: "");
	if (!json_is_true(json_object_get(rec, "usable"))) {
		snprintf(why, whylen, "key '%s' is not usable: %s", label,
			 json_string_value(json_object_get(rec, "problem")) != NULL
			     ? json_string_value(json_object_get(rec, "problem"))
			     : "see key show");
		r = SIGNET_EDENIED;
		goto out;
	}
	chain = json_string_value(json_object_get(rec, "chainPem"));
	if (chain != NULL) {
		BIO *b = BIO_new_mem_buf(chain, -1);
		X509 *x;
		k->chain = sk_X509_new_null();
		while (b != NULL && k->chain != NULL &&
		       (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			if (k->cert == NULL) {
				k->cert = x;
			} else if (!sk_X509_push(k->chain, x)) {
				X509_free(x);
			}
		}
		BIO_free(b);
	}
	r = 0;
out:
	json_decref(rec);
	return r;
}

int
keyref_check_purpose(const struct keyref *k, const char *purpose, char *why, size_t whylen)
{
	if (k->purpose[0] == '\0' || strcmp(k->purpose, purpose) == 0) {
		return 0;
	}
	/* A key devices trust for packages must not sign what a requester chooses, and back. */
	snprintf(why, whylen, "key '%s' %s (device configuration %s): a key has one purpose",
		 k->label,
		 strcmp(k->purpose, KEY_PURPOSE_PACKAGING) == 0
		     ? "signs package headers, never a signing task"
		     : "signs signing tasks (raw and CMS), never a package header",
		 k->purpose_by[0] != '\0' ? k->purpose_by : "?");
	return SIGNET_ECONFLICT;
}

/* Reading a key outside a caller's transaction. */
struct key_read {
	const char *tenant, *label;
	struct keyref *k;
	char *why;
	size_t whylen;
};

static int
key_read_txn(struct store_txn *t, void *arg)
{
	struct key_read *x = arg;

	return keyref_load(t, x->tenant, x->label, x->k, x->why, x->whylen);
}

int
keyref_read(struct daemon *d, const char *tenant, const char *label, struct keyref *k, char *why,
	    size_t whylen)
{
	struct key_read x = {tenant, label, k, why, whylen};
	int r = store_read(d->store, key_read_txn, &x);

	if (r != 0) {
		keyref_clear(k);
	}
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: hash-chained entries per tenant and for the appliance, signed checkpoints. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "daemon/audit.h"
#include "daemon/authfail.h"
#include "daemon/dispatch.h"
#include "daemon/tokenguard.h"
#include "daemon/workers.h"
#include "hsm/hsm.h"
#include "lib/audit_verify.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/msg.h"
#include "lib/util.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static size_t
entry_key(uint8_t *out, size_t outlen, const char *chain, uint64_t seq)
{
	size_t cl = strlen(chain);

	if (cl + 9 > outlen) {
		return 0;
	}
	memcpy(out, chain, cl);
	out[cl] = '\0';
	for (int i = 0; i < 8; i++) {
		out[cl + 1 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	return cl + 9;
}

/*
 * An entry as stored. The chain and seq are in its key, prevHash is the
 * previous entry's hash, the tenant is mostly the chain's, and "type" is
 * always "entry": the stored form leaves them out and names the rest
 * briefly (its hash is "h"); audit_record_load puts them back. Checkpoints,
 * and entries written before, are stored whole (their hash is "hash").
 */

static const struct {
	const char *name, *brief;
} entry_briefs[] = {
    {"time", "tm"},     {"tenant", "tn"}, {"actor", "a"},  {"peerUid", "u"}, {"verb", "vb"},
    {"resource", "rs"}, {"message", "m"}, {"value", "vl"}, {"hash", "h"},
};
#define ENTRY_NBRIEFS (sizeof(entry_briefs) / sizeof(entry_briefs[0]))

#define VALUE_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/*
 * The value, a JSON text, stored as the JSON it holds ("vj", no escaped
 * quotes) when dumping that gives the text back exactly; else as it is.
 */
static void
value_pack(json_t *rec, json_t *v)
{
	const char *text = json_string_value(v);
	json_t *j =
	    text != NULL ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;
	char *back = j != NULL ? json_dumps(j, VALUE_DUMP_FLAGS) : NULL;

	if (back != NULL && strcmp(back, text) == 0) {
		json_object_set_new(rec, "vj", j);
	} else {
		json_decref(j);
		json_object_set(rec, "vl", v != NULL ? v : json_null());
	}
	free(back);
}

/* The hash (hex) of a stored entry: "h" in base64url, or "hash" in hex (written before). */
static int
rec_hash(const json_t *rec, char out[65])
{
	const char *h = json_string_value(json_object_get(rec, "h"));
	uint8_t raw[33];

	if (h != NULL) {
		if (base64_decode(h, strlen(h), raw, sizeof(raw), true) != 32) {
			return SIGNET_EINTERNAL;
		}
		hex_encode(raw, 32, out);
		return 0;
	}
	h = json_string_value(json_object_get(rec, "hash"));
	if (h == NULL || strlen(h) != 64) {
		return SIGNET_EINTERNAL;
	}
	memcpy(out, h, 65);
	return 0;
}

static json_t *
entry_pack(const char *chain, const json_t *entry)
{
	json_t *rec = json_object();
	uint8_t raw[32];
	char b64[48];

	for (size_t i = 0; rec != NULL && i < ENTRY_NBRIEFS - 2; i++) {
		json_t *v = json_object_get(entry, entry_briefs[i].name);
		if (strcmp(entry_briefs[i].name, "tenant") == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), chain) == 0) {
			continue;
		}
		json_object_set(rec, entry_briefs[i].brief, v != NULL ? v : json_null());
	}
	if (rec == NULL) {
		return NULL;
	}
	value_pack(rec, json_object_get(entry, "value"));
	if (!hex_decode(json_string_value(json_object_get(entry, "hash")) ?: "", raw, 32)) {
		json_decref(rec);
		return NULL;
	}
	base64_encode(raw, 32, b64, true);
	json_object_set_new(rec, "h", json_string(b64));
	return rec;
}

/* The hash of entry SEQ of CHAIN as stored (zeros for 0); 0 or an error. */
static int
stored_hash(struct store_txn *t, const char *chain, uint64_t seq, char out[65])
{
	uint8_t key[160];
	size_t klen;
	json_t *e = NULL;
	int rc;

	if (seq == 0) {
		memcpy(out, ZERO_HASH, 65);
		return 0;
	}
	if ((klen = entry_key(key, sizeof(key), chain, seq)) == 0) {
		return SIGNET_EINTERNAL;
	}
	if ((rc = store_get_json(t, STORE_DB_AUDIT, key, klen, &e)) != 0) {
		return rc;
	}
	rc = rec_hash(e, out);
	json_decref(e);
	return rc;
}

json_t *
audit_record_load(struct store_txn *t, const void *key, size_t klen, json_t *rec,
		  struct audit_cursor *cur)
{
	const uint8_t *k = key;
	const uint8_t *nul = memchr(k, '\0', klen);
	uint64_t seq = 0;
	char chain[AUDIT_CHAIN_MAX + 1], prev[65], hash[65];
	const char *h;
	json_t *e, *vj;

	if (json_object_get(rec, "h") == NULL) {
		/* Whole: a checkpoint, or an entry written before. */
		h = json_string_value(json_object_get(rec, "hash"));
		if (cur != NULL && h != NULL && strlen(h) == 64 &&
		    strcmp(json_string_value(json_object_get(rec, "type")) ?: "", "entry") == 0) {
			cur->seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
			memcpy(cur->hash, h, 65);
		}
		return json_incref(rec);
	}
	if (nul == NULL || (size_t)(nul - k) > AUDIT_CHAIN_MAX || klen != (size_t)(nul - k) + 9) {
		return NULL;
	}
	memcpy(chain, k, (size_t)(nul - k));
	chain[nul - k] = '\0';
	for (int i = 0; i < 8; i++) {
		seq = seq << 8 | nul[1 + i];
	}
	if (cur != NULL && cur->seq + 1 == seq && cur->seq != 0) {
		memcpy(prev, cur->hash, 65);
	} else if (stored_hash(t, chain, seq - 1, prev) != 0) {
		return NULL;
	}
	e = json_pack("{s:s, s:s, s:I, s:O, s:O}", "type", "entry", "chain", chain, "seq",
		      (json_int_t)seq, "time", json_object_get(rec, "tm"), "tenant",
		      json_object_get(rec, "tn") ?: json_string(chain));
	if (e == NULL) {
		return NULL;
	}
	if (json_object_get(rec, "tn") == NULL) {
		/* json_string(chain) above was a new reference taken by O: drop ours. */
		json_decref(json_object_get(e, "tenant"));
	}
	for (size_t i = 2; i < ENTRY_NBRIEFS - 2; i++) {
		json_t *v = json_object_get(rec, entry_briefs[i].brief);
		json_object_set(e, entry_briefs[i].name, v != NULL ? v : json_null());
	}
	if ((vj = json_object_get(rec, "vj")) != NULL) {
		char *text = json_dumps(vj, VALUE_DUMP_FLAGS);
		json_object_set_new(e, "value", text != NULL ? json_string(text) : NULL);
		free(text);
	} else {
		json_object_set(e, "value", json_object_get(rec, "vl") ?: json_null());
	}
	if (rec_hash(rec, hash) != 0 || json_object_get(e, "value") == NULL) {
		json_decref(e);
		return NULL;
	}
	json_object_set_new(e, "prevHash", json_string(prev));
	json_object_set_new(e, "hash", json_string(hash));
	if (cur != NULL) {
		cur->seq = seq;
		memcpy(cur->hash, hash, 65);
	}
	return e;
}

int
audit_entry_get(struct store_txn *t, const char *chain, uint64_t seq, json_t **out)
{
	uint8_t key[160];
	size_t klen = entry_key(key, sizeof(key), chain, seq);

	json_t *rec = NULL;
	int rc;

	*out = NULL;
	if (klen == 0) {
		return SIGNET_ENOTFOUND;
	}
	if ((rc = store_get_json(t, STORE_DB_AUDIT, key, klen, &rec)) != 0) {
		return rc;
	}
	*out = audit_record_load(t, key, klen, rec, NULL);
	json_decref(rec);
	if (*out == NULL) {
		log_err("audit: entry %llu of chain %s is damaged", (unsigned long long)seq, chain);
		return SIGNET_EINTERNAL;
	}
	return 0;
}

void
audit_actor_of(const struct request *r, struct audit_actor *a)
{
	memset(a, 0, sizeof(*a));
	a->peer_uid = (long)r->peer.uid;
	if (r->authenticated) {
		a->tenant = r->subject.tenant;
		policy_subject_name(&r->subject, a->actor, sizeof(a->actor));
	} else if (r->local) {
		snprintf(a->actor, sizeof(a->actor), "uid:%ld", (long)r->peer.uid);
	}
}

void
audit_actor_daemon(struct daemon *d, const char *tenant, struct audit_actor *a)
{
	memset(a, 0, sizeof(*a));
	a->tenant = tenant;
	a->peer_uid = -1;
	snprintf(a->actor, sizeof(a->actor), "signetd");
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

int
audit_append(struct store_txn *t, const char *chain, const struct audit_actor *a, const char *verb,
	     const char *resource, const char *message, const json_t *value)
{
	json_t *head = NULL, *entry;
	uint8_t key[160], prev[32], h[32];
	char hex[65], *vtext = NULL;
	const char *prevhex;
	uint64_t seq;
	size_t klen;

	if (t->err != 0) {
		return t->err;
	}
	if (store_get_json(t, STORE_DB_AUDIT_HEADS, chain, strlen(chain), &head) != 0) {
		head = json_pack("{s:i, s:s, s:i, s:n, s:i}", "seq", 0, "hash", ZERO_HASH,
				 "ckptSeq", 0, "ckptSig", "ckptCount", 0);
		if (head == NULL) {
			return SIGNET_EINTERNAL;
		}
	}
	seq = (uint64_t)json_integer_value(json_object_get(head, "seq")) + 1;
	prevhex = json_string_value(json_object_get(head, "hash"));
	if (prevhex == NULL || strlen(prevhex) != 64 || !hex_decode(prevhex, prev, 32) ||
	    (klen = entry_key(key, sizeof(key), chain, seq)) == 0) {
		json_decref(head);
		log_err("audit: the head of chain %s is damaged", chain);
		return SIGNET_EINTERNAL;
	}
	if (value != NULL) {
		vtext = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	}
	entry = json_pack(
	    "{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:s}", "type", "entry",
	    "chain", chain, "seq", (json_int_t)seq, "time", (json_int_t)time_now(), "tenant",
	    str_or_null(a != NULL ? a->tenant : NULL), "actor",
	    str_or_null(a != NULL ? a->actor : NULL), "peerUid",
	    a != NULL && a->peer_uid >= 0 ? json_integer(a->peer_uid) : json_null(), "verb", verb,
	    "resource", resource != NULL ? resource : "", "message", message != NULL ? message : "",
	    "value", str_or_null(vtext), "prevHash", prevhex);
	free(vtext);
	if (entry == NULL) {
		json_decref(head);
		return SIGNET_EINTERNAL;
	}
	audit_entry_hash(prev, entry, h);
	hex_encode(h, 32, hex);
	json_object_set_new(entry, "hash", json_string(hex));
	{
		json_t *rec = entry_pack(chain, entry);
		if (rec == NULL) {
			json_decref(entry);
			json_decref(head);
			return SIGNET_EINTERNAL;
		}
		store_put_json(t, STORE_DB_AUDIT, key, klen, rec, true);
		json_decref(rec);
	}
	json_object_set_new(head, "seq", json_integer((json_int_t)seq));
	json_object_set_new(head, "hash", json_string(hex));
	json_object_set_new(head, "lastAppend", json_integer(time_now()));
	store_put_json(t, STORE_DB_AUDIT_HEADS, chain, strlen(chain), head, false);
	json_decref(entry);
	json_decref(head);
	return t->err;
}

int
audit_req(struct store_txn *t, struct request *r, const char *verb, const char *resource,
	  const char *message, const json_t *value)
{
	struct audit_actor a;

	audit_actor_of(r, &a);
	r->audited = true;
	return audit_append(t, a.tenant != NULL && a.tenant[0] != '\0' ? a.tenant : AUDIT_APPLIANCE,
			    &a, verb, resource, message, value);
}

/* After the op: reads and refusals get an entry of their own. */

static const char *
refusal_verb(int err)
{
	switch (err) {
	case SIGNET_EDENIED:
	case SIGNET_ESELF_APPROVAL:
		return "DENIED";
	case SIGNET_EUNAUTH:
		return "UNAUTHENTICATED";
	case SIGNET_EOTP_INVALID:
	case SIGNET_EOTP_REPLAYED:
		return "OTP_FAILED";
	case SIGNET_ELOCKED_OUT:
		return "LOCKED_OUT";
	default:
		return "REFUSED";
	}
}

/*
 * At most UNAUTH_PREFIX bytes of ID, each outside [A-Za-z0-9._-] written
 * %XX, and "..." when cut: what an unauthenticated client named.
 */
#define UNAUTH_PREFIX 16

static void
unauth_prefix(const char *id, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	out[0] = '\0';
	for (i = 0; id != NULL && id[i] != '\0' && i < UNAUTH_PREFIX && o + 4 < outlen; i++) {
		unsigned char ch = (unsigned char)id[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (id != NULL && id[i] != '\0' && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* A printable, bounded id for the resource of an op, from its arguments. */
static void
resource_of(const struct request *r, char *out, size_t outlen)
{
	static const struct {
		const char *prefix, *type, *arg;
	} map[] = {
	    {"task.", "TASK", "id"},      {"devconf.", "DEVICE_CONFIG", "id"},
	    {"key.", "KEY", "label"},     {"user.", "USER", "name"},
	    {"config.", "CONFIG", "key"}, {"tenant.", "TENANT", "name"},
	    {"acl.", "ACL", "subject"},   {"audit.", "AUDIT_LOG", NULL},
	    {"events.", "EVENTS", NULL},  {"backup", "APPLIANCE", NULL},
	    {"whoami", "USER", NULL},
	};
	const char *op = r->op->name;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strncmp(op, map[i].prefix, strlen(map[i].prefix)) == 0) {
			const char *id =
			    map[i].arg != NULL
				? json_string_value(json_object_get(r->args.obj, map[i].arg))
				: NULL;
			char clean[72];
			size_t n = 0;
			if (id == NULL && strcmp(op, "whoami") == 0 && r->authenticated) {
				id = r->subject.user;
			}
			if (!r->authenticated) {
				/* An outsider's text: a short, escaped prefix, never verbatim. */
				unauth_prefix(id, clean, sizeof(clean));
				snprintf(out, outlen, "%s:%s", map[i].type,
					 clean[0] != '\0' ? clean : "*");
				return;
			}
			for (; id != NULL && id[n] != '\0' && n < sizeof(clean) - 1; n++) {
				unsigned char ch = (unsigned char)id[n];
				/* ASCII only: a cut never splits a character, nothing unprintable.
				 */
				clean[n] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
			}
			clean[n] = '\0';
			snprintf(out, outlen, "%s:%s", map[i].type, n > 0 ? clean : "*");
			return;
		}
	}
	snprintf(out, outlen, "OP:%s", op);
}

/* Everything the entry needs, copied: the request may be answered and gone by the commit. */
struct after {
	char chain[ACL_NAME_MAX + 1];
	char tenant[ACL_NAME_MAX + 1];
	char resource[ACL_RESOURCE_MAX + 16];
	char message[320];
	const char *verb;
	struct audit_actor a;
	struct request *r; /* answered once the entry is on disk */
};

/*
 * Nothing is answered without its entry: a request whose entry cannot be
 * written is refused instead (what its answer would have carried, a
 * descriptor included, is dropped).
 */
static void
audit_refuse(struct request *r, int rc)
{
	int err = rc == SIGNET_ENOSPACE ? SIGNET_ENOSPACE : SIGNET_EUNAVAILABLE;

	json_decref(r->result);
	r->result = NULL;
	json_decref(r->events);
	r->events = NULL;
	msg_close_fds(r->out_fds, &r->out_nfds);
	if (r->err == err) {
		return; /* refused for that already: its own message says more */
	}
	req_fail(r, err, "%s: the audit entry of this request cannot be written, so it is refused",
		 signet_strerror(err));
}

static int
after_txn(struct store_txn *t, void *arg)
{
	struct after *x = arg;

	x->a.tenant = x->tenant[0] != '\0' ? x->tenant : NULL;
	return audit_append(t, x->chain, &x->a, x->verb, x->resource, x->message, NULL);
}

static void
after_done(void *arg, int rc)
{
	struct after *x = arg;
	struct request *r = x->r;

	if (rc != 0) {
		log_err("audit: cannot record %s of %s (%s): the request is refused", x->verb,
			x->resource, signet_strerror(rc));
		audit_refuse(r, rc);
	}
	free(x);
	workers_release(r->d->workers, r);
}

static bool tenant_exists(struct store *st, const char *name);

/* One entry for the counted failed authentications of a window. */
static int
authfail_txn(struct store_txn *t, void *arg)
{
	const struct authfail_sum *s = arg;
	struct audit_actor a;
	char msg[256], from[32], to[32];
	json_t *v;
	int rc;

	memset(&a, 0, sizeof(a));
	a.tenant = s->tenant;
	a.peer_uid = s->uid >= 0 ? s->uid : -1;
	if (s->uid >= 0) {
		snprintf(a.actor, sizeof(a.actor), "uid:%ld", s->uid);
	} else {
		snprintf(a.actor, sizeof(a.actor), "uid:*");
	}
	time_format(s->from, from, sizeof(from));
	time_format(s->to, to, sizeof(to));
	snprintf(msg, sizeof(msg),
		 "%llu more failed authentications from %s between %s and %s (counted: one entry "
		 "per source and window)",
		 (unsigned long long)s->count, a.actor, from, to);
	v = json_pack("{s:I, s:I, s:I}", "count", (json_int_t)s->count, "from", (json_int_t)s->from,
		      "to", (json_int_t)s->to);
	rc = audit_append(t, s->tenant, &a, "UNAUTHENTICATED", "API_TOKEN:*", msg, v);
	json_decref(v);
	return rc;
}

static void
authfail_done(void *arg, int rc)
{
	struct authfail_sum *s = arg;

	if (rc != 0) {
		log_err("audit: cannot record %llu failed authentications of tenant %s",
			(unsigned long long)s->count, s->tenant);
	}
	free(s);
}

static void
authfail_write(struct daemon *d, const struct authfail_sum *sum, bool sync)
{
	struct authfail_sum *copy;

	if (sync) {
		if (store_write(d->store, authfail_txn, (void *)sum) != 0) {
			log_err("audit: cannot record %llu failed authentications of tenant %s",
				(unsigned long long)sum->count, sum->tenant);
		}
		return;
	}
	if ((copy = malloc(sizeof(*copy))) == NULL) {
		log_err("audit: cannot record %llu failed authentications of tenant %s",
			(unsigned long long)sum->count, sum->tenant);
		return;
	}
	*copy = *sum;
	if (store_write_async(d->store, authfail_txn, copy, authfail_done) != 0) {
		authfail_done(copy, SIGNET_EUNAVAILABLE);
	}
}

void
audit_authfail_flush(struct daemon *d, bool all)
{
	struct authfail_sum sums[16];
	size_t n;

	if (d->authfail == NULL) {
		return;
	}
	do {
		n = authfail_due(d->authfail, time_now(), all, sums, ARRAY_SIZE(sums));
		for (size_t i = 0; i < n; i++) {
			authfail_write(d, &sums[i], all);
		}
	} while (n == ARRAY_SIZE(sums));
}

/* FINISH: R is a deferred request whose work ended; it goes to the loop here, entry or not. */
static void
after_run(struct request *r, bool finish)
{
	struct after x = {0}, *xp;

	if (r->audited || r->resumed || r->op == NULL || strcmp(r->op->name, "status") == 0 ||
	    strcmp(r->op->name, "metrics") == 0) {
		goto none;
	}
	if (r->authenticated) {
		snprintf(x.chain, sizeof(x.chain), "%s", r->subject.tenant);
	} else if (r->err == SIGNET_EUNAUTH && (r->op->flags & OP_AUTH) && r->tenant_hint != NULL &&
		   tenant_exists(r->d->store, r->tenant_hint)) {
		/*
		 * A refused token naming a tenant: that tenant's chain, but one
		 * entry per source and window; the rest are counted (authfail.c).
		 */
		struct authfail_sum sum;
		bool own =
		    r->d->authfail == NULL || authfail_note(r->d->authfail, r->tenant_hint,
							    (long)r->peer.uid, time_now(), &sum);
		if (r->d->authfail != NULL && sum.count > 0) {
			authfail_write(r->d, &sum, false);
		}
		if (!own) {
			r->audited = true;
			goto none;
		}
		snprintf(x.chain, sizeof(x.chain), "%s", r->tenant_hint);
	} else if (r->local) {
		snprintf(x.chain, sizeof(x.chain), "%s", AUDIT_APPLIANCE);
	} else {
		goto none; /* no tenant known: the log line is all there is */
	}
	resource_of(r, x.resource, sizeof(x.resource));
	if (strcmp(r->op->name, "backup") == 0) {
		/* A copy of the whole store is the appliance's business. */
		snprintf(x.chain, sizeof(x.chain), "%s", AUDIT_APPLIANCE);
	}
	if (r->err != 0) {
		x.verb = refusal_verb(r->err);
		snprintf(x.message, sizeof(x.message), "%s refused: %s: %s", r->op->name,
			 signet_err_code(r->err), r->message);
		for (char *p = x.message; *p != '\0'; p++) {
			if ((unsigned char)*p >= 0x80) {
				*p = '?'; /* a cut may have split a character: keep the entry valid
					   */
			}
		}
	} else {
		x.verb =
		    strcmp(r->op->name, "backup") == 0 || strcmp(r->op->name, "audit.export") == 0
			? "EXPORTED"
			: "VIEWED";
		snprintf(x.message, sizeof(x.message), "%s", r->op->name);
	}
	r->audited = true;
	audit_actor_of(r, &x.a);
	if (x.a.tenant != NULL) {
		snprintf(x.tenant, sizeof(x.tenant), "%s", x.a.tenant);
	} else if (strcmp(x.chain, AUDIT_APPLIANCE) != 0) {
		snprintf(x.tenant, sizeof(x.tenant), "%s", x.chain);
	}
	/*
	 * The answer waits for the entry (nothing is answered unrecorded), but
	 * the worker does not: the entry joins the next group commit and the
	 * answer goes out from its callback.
	 */
	if ((xp = malloc(sizeof(*xp))) == NULL) {
		log_err("audit: cannot record %s of %s: the request is refused", x.verb,
			r->op->name);
		audit_refuse(r, SIGNET_EUNAVAILABLE);
		goto none;
	}
	*xp = x;
	xp->r = r;
	if (!finish) {
		dispatch_defer(r);
	}
	if (store_write_async(r->d->store, after_txn, xp, after_done) == 0) {
		return;
	}
	log_err("audit: cannot record %s of %s: the request is refused", x.verb, r->op->name);
	if (!finish) {
		dispatch_undefer(r);
	}
	free(xp);
	audit_refuse(r, SIGNET_EUNAVAILABLE);
none:
	if (finish) {
		workers_release(r->d->workers, r);
	}
}

void
audit_after(struct request *r)
{
	after_run(r, false);
}

void
audit_after_finish(struct request *r)
{
	after_run(r, true);
}

struct tenant_check {
	const char *name;
	bool found;
};

static int
tenant_check_txn(struct store_txn *t, void *arg)
{
	struct tenant_check *x = arg;

	x->found = store_exists(t, STORE_DB_TENANTS, x->name, strlen(x->name));
	return 0;
}

static bool
tenant_exists(struct store *st, const char *name)
{
	struct tenant_check x = {name, false};

	return strlen(name) <= ACL_NAME_MAX && store_read(st, tenant_check_txn, &x) == 0 && x.found;
}

struct appliance_ev {
	struct daemon *d;
	const char *verb, *resource, *message;
};

static int
appliance_txn(struct store_txn *t, void *arg)
{
	struct appliance_ev *x = arg;
	struct audit_actor a;

	audit_actor_daemon(x->d, NULL, &a);
	return audit_append(t, AUDIT_APPLIANCE, &a, x->verb, x->resource, x->message, NULL);
}

int
audit_appliance(struct daemon *d, const char *verb, const char *resource, const char *message)
{
	struct appliance_ev x = {d, verb, resource, message};
	int r;

	if ((r = store_write(d->store, appliance_txn, &x)) != 0) {
		log_err("audit: cannot record %s", verb);
	}
	return r;
}

void
audit_token_write_end(struct daemon *d)
{
	if (token_guard_write_end(d->guard) != 0) {
		/* The operation stands; a later repair falls back on an older generation. */
		audit_appliance(d, "TOKEN_GENERATION_FAILED", "APPLIANCE:token",
				"no new generation of the token's files could be written after a "
				"change to them; the previous one stays the one a repair uses");
	}
}

/* The audit key */

struct key_meta {
	uint8_t id[HSM_ID_LEN];
	bool found;
	bool store; /* write it */
};

static int
key_meta_txn(struct store_txn *t, void *arg)
{
	struct key_meta *x = arg;
	json_t *rec = NULL;
	const char *hex;

	if (x->store) {
		char h[2 * HSM_ID_LEN + 1];
		hex_encode(x->id, HSM_ID_LEN, h);
		rec = json_pack("{s:s}", "id", h);
		store_put_json(t, STORE_DB_META, "auditKey", 8, rec, true);
		json_decref(rec);
		return t->err;
	}
	if (store_get_json(t, STORE_DB_META, "auditKey", 8, &rec) == 0) {
		hex = json_string_value(json_object_get(rec, "id"));
		x->found = hex != NULL && strlen(hex) == 2 * HSM_ID_LEN &&
			   hex_decode(hex, x->id, HSM_ID_LEN);
		json_decref(rec);
	}
	return 0;
}

int
audit_key_read_id(struct daemon *d, uint8_t id[HSM_ID_LEN])
{
	struct key_meta x = {0};
	int r = store_read(d->store, key_meta_txn, &x);

	if (r == 0 && !x.found) {
		return SIGNET_ENOTFOUND;
	}
	memcpy(id, x.id, HSM_ID_LEN);
	return r;
}

int
audit_key_ensure(struct daemon *d)
{
	struct key_meta x = {0};
	struct hsm_session *hs = NULL;
	struct hsm_key k = {0};
	char why[128];
	int r;

	if (d->hsm == NULL) {
		return 0;
	}
	if ((r = store_read(d->store, key_meta_txn, &x)) != 0) {
		return r;
	}
	if ((r = hsm_session_open(d->hsm, &hs)) != 0) {
		return r;
	}
	if (x.found &&
	    (r = hsm_key_check(hs, HSM_ALG_ECC_NIST_P256, x.id, false, why, sizeof(why))) == 0) {
		hsm_session_close(hs);
		return 0;
	}
	if (x.found) {
		log_err("audit: the audit key is not usable (%s): checkpoints cannot be signed",
			r == SIGNET_ENOTFOUND ? "not in the token" : why);
		hsm_session_close(hs);
		return r;
	}
	/* First start on this store: the appliance audit key, made in the token, never leaving it.
	 */
	token_guard_write_begin(d->guard);
	r = hsm_key_generate(hs, HSM_ALG_ECC_NIST_P256, "appliance/audit", &k);
	if (r == 0) {
		memcpy(x.id, k.id, HSM_ID_LEN);
		x.store = true;
		if ((r = store_write(d->store, key_meta_txn, &x)) != 0) {
			hsm_key_destroy(hs, HSM_ALG_ECC_NIST_P256, k.id);
		} else {
			log_notice("audit: appliance audit key made in the token");
		}
	}
	audit_token_write_end(d);
	hsm_key_clear(&k);
	hsm_session_close(hs);
	return r;
}

/* Checkpoints */

struct head_info {
	char chain[ACL_NAME_MAX + 16];
	uint64_t seq;
	char hash[65];
	char *prev_sig; /* malloc'd or NULL */
	uint64_t ckpt_seq;
	int64_t last_append;
	int64_t ckpt_time; /* when the last checkpoint was made (0: never) */
	uint64_t ckpt_count;
};

struct heads_scan {
	struct head_info *h;
	size_t n, cap;
	const char *only; /* one chain, or NULL */
};

static int
heads_cb(const struct store_key *key, json_t *val, void *arg)
{
	struct heads_scan *x = arg;
	struct head_info *hi;
	const char *hash = json_string_value(json_object_get(val, "hash"));
	const char *sig = json_string_value(json_object_get(val, "ckptSig"));

	if (key->len >= sizeof(hi->chain) || hash == NULL || strlen(hash) != 64) {
		return 0;
	}
	if (x->only != NULL &&
	    (strlen(x->only) != key->len || memcmp(x->only, key->data, key->len) != 0)) {
		return 0;
	}
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 16;
		struct head_info *nh = realloc(x->h, ncap * sizeof(*nh));
		if (nh == NULL) {
			return SIGNET_EINTERNAL;
		}
		x->h = nh;
		x->cap = ncap;
	}
	hi = &x->h[x->n++];
	memset(hi, 0, sizeof(*hi));
	memcpy(hi->chain, key->data, key->len);
	hi->seq = (uint64_t)json_integer_value(json_object_get(val, "seq"));
	memcpy(hi->hash, hash, 65);
	hi->prev_sig = sig != NULL ? strdup(sig) : NULL;
	hi->ckpt_seq = (uint64_t)json_integer_value(json_object_get(val, "ckptSeq"));
	hi->ckpt_count = (uint64_t)json_integer_value(json_object_get(val, "ckptCount"));
	hi->last_append = json_integer_value(json_object_get(val, "lastAppend"));
	hi->ckpt_time = json_integer_value(json_object_get(val, "ckptTime"));
	return 0;
}

static int
heads_txn(struct store_txn *t, void *arg)
{
	return store_foreach(t, STORE_DB_AUDIT_HEADS, NULL, 0, heads_cb, arg);
}

struct ckpt_put {
	struct head_info *hi;
	json_t *ckpt;
	bool raced;
};

static int
ckpt_put_txn(struct store_txn *t, void *arg)
{
	struct ckpt_put *x = arg;
	json_t *head = NULL;
	const char *cur;
	uint8_t key[200];
	size_t klen = entry_key(key, sizeof(key) - 9, x->hi->chain, x->hi->seq);
	uint64_t n;

	x->raced = false;
	if (klen == 0) {
		return SIGNET_EINTERNAL;
	}
	if (store_get_json(t, STORE_DB_AUDIT_HEADS, x->hi->chain, strlen(x->hi->chain), &head) !=
	    0) {
		/* A chain with no entry yet (an export of nothing): its head starts here. */
		head = json_pack("{s:i, s:s, s:i, s:n, s:i}", "seq", 0, "hash", ZERO_HASH,
				 "ckptSeq", 0, "ckptSig", "ckptCount", 0);
		if (head == NULL || x->hi->seq != 0) {
			json_decref(head);
			return SIGNET_EINTERNAL;
		}
	}
	/* Another checkpoint of this chain went first: ours would not chain; drop it. */
	cur = json_string_value(json_object_get(head, "ckptSig"));
	if ((cur == NULL) != (x->hi->prev_sig == NULL) ||
	    (cur != NULL && strcmp(cur, x->hi->prev_sig) != 0)) {
		x->raced = true;
		json_decref(head);
		return 0;
	}
	n = (uint64_t)json_integer_value(json_object_get(head, "ckptCount")) + 1;
	key[klen] = 0x01;
	for (int i = 0; i < 8; i++) {
		key[klen + 1 + i] = (uint8_t)(n >> (56 - 8 * i));
	}
	store_put_json(t, STORE_DB_AUDIT, key, klen + 9, x->ckpt, true);
	json_object_set(head, "ckptSig", json_object_get(x->ckpt, "signature"));
	json_object_set_new(head, "ckptSeq", json_integer((json_int_t)x->hi->seq));
	json_object_set_new(head, "ckptCount", json_integer((json_int_t)n));
	json_object_set_new(head, "ckptTime", json_integer(time_now()));
	store_put_json(t, STORE_DB_AUDIT_HEADS, x->hi->chain, strlen(x->hi->chain), head, false);
	json_decref(head);
	return t->err;
}

static int
checkpoint_one(struct daemon *d, struct hsm_session *hs, const uint8_t kid[HSM_ID_LEN],
	       struct head_info *hi)
{
	struct ckpt_put x = {.hi = hi};
	uint8_t *tbs = NULL, md[32], sig[256];
	size_t tbslen = 0, siglen = sizeof(sig);
	char *b64;
	int r;

	x.ckpt = json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "type", "checkpoint", "chain",
			   hi->chain, "seq", (json_int_t)hi->seq, "hash", hi->hash, "time",
			   (json_int_t)time_now(), "prevSignature",
			   hi->prev_sig != NULL ? json_string(hi->prev_sig) : json_null());
	if (x.ckpt == NULL || audit_checkpoint_tbs(x.ckpt, &tbs, &tbslen) != 0) {
		json_decref(x.ckpt);
		return SIGNET_EINTERNAL;
	}
	EVP_Digest(tbs, tbslen, md, NULL, EVP_sha256(), NULL);
	free(tbs);
	if ((r = hsm_sign(hs, HSM_ALG_ECC_NIST_P256, kid, md, sizeof(md), sig, &siglen)) != 0) {
		json_decref(x.ckpt);
		return r;
	}
	b64 = base64_encode_alloc(sig, siglen, false);
	json_object_set_new(x.ckpt, "signature", json_string(b64 != NULL ? b64 : ""));
	free(b64);
	r = store_write(d->store, ckpt_put_txn, &x);
	json_decref(x.ckpt);
	return r == 0 && x.raced ? SIGNET_ECONFLICT : r;
}

static void
heads_free(struct heads_scan *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->h[i].prev_sig);
	}
	free(x->h);
}

size_t
audit_checkpoint_all(struct daemon *d, struct hsm_session *hs, bool force)
{
	struct heads_scan x = {0};
	struct store_usage u;
	uint8_t kid[HSM_ID_LEN];
	int64_t now = time_now();
	size_t made = 0;

	if (store_usage(d->store, &u) == 0 && u.full) {
		return 0; /* a checkpoint is an ordinary write: it waits for space (each check) */
	}
	if (hs == NULL || audit_key_read_id(d, kid) != 0 ||
	    store_read(d->store, heads_txn, &x) != 0) {
		heads_free(&x);
		return 0;
	}
	for (size_t i = 0; i < x.n; i++) {
		struct head_info *hi = &x.h[i];
		/* New entries since the last checkpoint, and 1000 of them or a minute since it. */
		bool due = hi->seq > hi->ckpt_seq &&
			   (force || hi->seq - hi->ckpt_seq >= AUDIT_CKPT_EVERY ||
			    now - hi->ckpt_time >= AUDIT_CKPT_IDLE_S);
		if (!due) {
			continue;
		}
		if (checkpoint_one(d, hs, kid, hi) != 0) {
			log_warning("audit: no checkpoint for chain %s this time", hi->chain);
		} else {
			log_debug("audit: checkpoint of chain %s at entry %llu", hi->chain,
				  (unsigned long long)hi->seq);
			made++;
		}
	}
	heads_free(&x);
	return made;
}

/*
 * The checkpointer: a thread of its own, with its own token session, that
 * looks at every chain once a second. Nothing else runs on it, so no task,
 * sweep or queue of the engine can hold a checkpoint back.
 */
struct audit_ckpt {
	struct daemon *d;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	atomic_ulong made;
};

static void *
checkpointer_main(void *arg)
{
	struct audit_ckpt *c = arg;
	struct hsm_session *hs = NULL;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct timespec until;
		pthread_mutex_unlock(&c->lock);
		if (hs == NULL && c->d->hsm != NULL && hsm_session_open(c->d->hsm, &hs) != 0) {
			hs = NULL;
		}
		atomic_fetch_add(&c->made, audit_checkpoint_all(c->d, hs, false));
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += AUDIT_CKPT_CHECK_S;
		pthread_mutex_lock(&c->lock);
		while (!c->stopping &&
		       pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT) {
		}
	}
	pthread_mutex_unlock(&c->lock);
	hsm_session_close(hs);
	return NULL;
}

int
audit_checkpointer_start(struct daemon *d)
{
	struct audit_ckpt *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (c == NULL) {
		return SIGNET_EINTERNAL;
	}
	c->d = d;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&c->tid, NULL, checkpointer_main, c) != 0) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c);
		return SIGNET_EINTERNAL;
	}
	d->checkpointer = c;
	return 0;
}

void
audit_checkpointer_stop(struct daemon *d)
{
	struct audit_ckpt *c = d->checkpointer;

	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->tid, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	d->checkpointer = NULL;
}

unsigned long
audit_checkpoints_made(struct daemon *d)
{
	return d->checkpointer != NULL ? atomic_load(&d->checkpointer->made) : 0;
}

int
audit_checkpoint_chain(struct daemon *d, struct hsm_session *hs, const char *chain)
{
	struct heads_scan x = {.only = chain};
	uint8_t kid[HSM_ID_LEN];
	int r;

	if (hs == NULL) {
		return SIGNET_ETOKEN;
	}
	if ((r = audit_key_read_id(d, kid)) != 0 ||
	    (r = store_read(d->store, heads_txn, &x)) != 0) {
		heads_free(&x);
		return r;
	}
	if (x.n == 0) {
		/* A chain without entries yet: a checkpoint of nothing. */
		struct head_info empty = {0};
		snprintf(empty.chain, sizeof(empty.chain), "%s", chain);
		memcpy(empty.hash, ZERO_HASH, 65);
		r = checkpoint_one(d, hs, kid, &empty);
	} else {
		r = checkpoint_one(d, hs, kid, &x.h[0]);
	}
	heads_free(&x);
	return r;
}

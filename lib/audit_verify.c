/* SPDX-License-Identifier: Apache-2.0 */
/* Audit log encoding, entry hash, checkpoint bytes and the offline verifier (doc/audit.md). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/audit_verify.h"
#include "lib/buf.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/util.h"

#define HASH_LEN       32
#define HASH_HEX_LEN   64
#define NULL_FIELD_LEN 0xFFFFFFFFu
/* A DER ECDSA P-256 signature is at most 72 bytes; anything longer cannot verify. */
#define SIG_MAX 128
/* Checkpoint bytes hold short members only; the bound is the line limit. */
#define TBS_MAX       AUDIT_LINE_MAX
#define CHECKPOINT_V1 "signet-audit-checkpoint-v1"

/* The JSON kinds a member may have. */
#define K_STR  1u
#define K_INT  2u
#define K_NULL 4u

struct member {
	const char *name;
	unsigned kinds;
};

/* Entry members: the ten hashed ones first, in the order of the canonical encoding. */
enum {
	E_CHAIN,
	E_SEQ,
	E_TIME,
	E_TENANT,
	E_ACTOR,
	E_PEERUID,
	E_VERB,
	E_RESOURCE,
	E_MESSAGE,
	E_VALUE,
	E_NHASHED,
	E_TYPE = E_NHASHED,
	E_PREVHASH,
	E_HASH,
	E_NMEMBERS,
};

static const struct member entry_members[E_NMEMBERS] = {
    [E_CHAIN] = {"chain", K_STR},
    [E_SEQ] = {"seq", K_INT},
    [E_TIME] = {"time", K_INT},
    [E_TENANT] = {"tenant", K_STR | K_NULL},
    [E_ACTOR] = {"actor", K_STR | K_NULL},
    [E_PEERUID] = {"peerUid", K_INT | K_NULL},
    [E_VERB] = {"verb", K_STR},
    [E_RESOURCE] = {"resource", K_STR},
    [E_MESSAGE] = {"message", K_STR},
    [E_VALUE] = {"value", K_STR | K_NULL},
    [E_TYPE] = {"type", K_STR},
    [E_PREVHASH] = {"prevHash", K_STR},
    [E_HASH] = {"hash", K_STR},
};

/* Checkpoint members: the signed ones first, in the order of the signed encoding. */
enum {
	C_CHAIN,
	C_SEQ,
	C_HASH,
	C_TIME,
	C_PREVSIG,
	C_NSIGNED,
	C_TYPE = C_NSIGNED,
	C_SIGNATURE,
	C_NMEMBERS,
};

static const struct member checkpoint_members[C_NMEMBERS] = {
    [C_CHAIN] = {"chain", K_STR},
    [C_SEQ] = {"seq", K_INT},
    [C_HASH] = {"hash", K_STR},
    [C_TIME] = {"time", K_INT},
    [C_PREVSIG] = {"prevSignature", K_STR | K_NULL},
    [C_TYPE] = {"type", K_STR},
    [C_SIGNATURE] = {"signature", K_STR},
};

/* Where an encoding goes: a running digest or a buffer. */
struct sink {
	EVP_MD_CTX *md;
	struct wbuf *w;
};

static void
sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->md != NULL) {
		EVP_DigestUpdate(s->md, p, n);
	} else {
		wbuf_put(s->w, p, n);
	}
}

static void
put_len(struct sink *s, uint32_t n)
{
	uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};

	sink_put(s, b, sizeof(b));
}

static void
put_bytes(struct sink *s, const void *p, size_t n)
{
	/* Lines are at most 1 MiB; a longer field cannot occur, and null never verifies for it. */
	if (n >= NULL_FIELD_LEN) {
		put_len(s, NULL_FIELD_LEN);
		return;
	}
	put_len(s, (uint32_t)n);
	sink_put(s, p, n);
}

/* Decimal ASCII: '-' for negative numbers, no leading zeros, "0" for zero. */
static void
put_integer(struct sink *s, json_int_t v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0) {
		*--p = '-';
	}
	put_bytes(s, p, (size_t)(d + sizeof(d) - p));
}

/* One field: a string's decoded bytes, an integer's digits, or null for anything else. */
static void
put_field(struct sink *s, const json_t *v)
{
	if (json_is_string(v)) {
		put_bytes(s, json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		put_integer(s, json_integer_value(v));
	} else {
		put_len(s, NULL_FIELD_LEN);
	}
}

/* The entry hash over the hashed members F (E_NHASHED of them), with a digest context MD. */
static void
entry_hash_fields(EVP_MD_CTX *md, const EVP_MD *sha256, const uint8_t prev[HASH_LEN],
		  json_t *const *f, uint8_t out[HASH_LEN])
{
	struct sink s = {.md = md};
	unsigned int n = 0;

	if (EVP_DigestInit_ex(md, sha256, NULL) != 1) {
		memset(out, 0, HASH_LEN);
		return;
	}
	EVP_DigestUpdate(md, prev, HASH_LEN);
	for (int i = 0; i < E_NHASHED; i++) {
		put_field(&s, f[i]);
	}
	if (EVP_DigestFinal_ex(md, out, &n) != 1 || n != HASH_LEN) {
		memset(out, 0, HASH_LEN);
	}
}

/* Does V have one of the KINDS? */
static bool
kind_ok(const json_t *v, unsigned kinds)
{
	return ((kinds & K_STR) && json_is_string(v)) || ((kinds & K_INT) && json_is_integer(v)) ||
	       ((kinds & K_NULL) && json_is_null(v));
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Decode exactly 64 lowercase hex digits, the only spelling of a hash in the log. */
static bool
hash_from_hex(const json_t *v, uint8_t out[HASH_LEN])
{
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) != HASH_HEX_LEN) {
		return false;
	}
	for (size_t i = 0; i < HASH_LEN; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return false;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* A bounded line reader over one big buffer: no allocation per line. */
struct line_reader {
	FILE *f;
	char *buf;
	size_t cap, start, end;
	bool eof;
};

enum { LINE_EOF = 0, LINE_OK = 1, LINE_TOO_LONG = -1, LINE_IO = -2 };

static int
line_next(struct line_reader *lr, const char **line, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		char *nl =
		    memchr(lr->buf + lr->start + scanned, '\n', lr->end - lr->start - scanned);
		if (nl != NULL) {
			*line = lr->buf + lr->start;
			*len = (size_t)(nl - *line);
			lr->start += *len + 1;
			return LINE_OK;
		}
		scanned = lr->end - lr->start;
		if (scanned > AUDIT_LINE_MAX) {
			return LINE_TOO_LONG;
		}
		if (lr->eof) {
			if (scanned == 0) {
				return LINE_EOF;
			}
			/* The last line need not end with a newline. */
			*line = lr->buf + lr->start;
			*len = scanned;
			lr->start = lr->end;
			return LINE_OK;
		}
		if (lr->start > 0) {
			memmove(lr->buf, lr->buf + lr->start, scanned);
			lr->start = 0;
			lr->end = scanned;
		}
		if (lr->end == lr->cap) {
			/* Grown as lines need it, up to one line of AUDIT_LINE_MAX and its newline. */
			size_t ncap = lr->cap * 2 > AUDIT_LINE_MAX + 1 ? AUDIT_LINE_MAX + 1 : lr->cap * 2;
			char *nb = realloc(lr->buf, ncap);
			if (nb == NULL) {
				errno = ENOMEM;
				return LINE_IO;
			}
			lr->buf = nb;
			lr->cap = ncap;
		}
		size_t n = fread(lr->buf + lr->end, 1, lr->cap - lr->end, lr->f);
		lr->end += n;
		if (n == 0) {
			if (ferror(lr->f)) {
				return LINE_IO;
			}
			lr->eof = true;
		}
	}
}

/*
 * What a line says, as far as it can be told from the line alone. Parsing
 * (JSON, members, the entry hash, the checkpoint signature) is the costly
 * part and runs on worker threads; the checks that need the lines before
 * run in order on these records.
 */
enum rec_kind { R_ENTRY, R_CHECKPOINT, R_FORMAT };
enum format_fault { F_JSON, F_NOT_RECORD, F_UNKNOWN_TYPE, F_MISSING, F_WRONG_TYPE, F_EXTRA };
enum prev_sig_kind { PS_NULL, PS_TEXT, PS_TOO_LONG };

/* The base64 text of a signature of SIG_MAX bytes; a longer text cannot verify. */
#define SIG_TEXT_MAX (((SIG_MAX + 2) / 3) * 4)

struct rec {
	uint64_t line;
	size_t off, len; /* the line in its batch */
	enum rec_kind kind;
	/* R_FORMAT */
	enum format_fault fault;
	const char *what;   /* "entry" or "checkpoint" */
	const char *member; /* F_MISSING, F_WRONG_TYPE */
	/* R_ENTRY and R_CHECKPOINT */
	json_int_t seq;
	size_t chain_len; /* > AUDIT_CHAIN_MAX: too long to be any chain */
	char chain[AUDIT_CHAIN_MAX + 1];
	bool hash_ok; /* hash is 64 lowercase hex digits, decoded into hash */
	uint8_t hash[HASH_LEN];
	union {
		struct {
			bool prev_ok; /* prevHash is 64 lowercase hex digits */
			uint8_t prev[HASH_LEN];
			uint8_t computed[HASH_LEN]; /* over prev and the members (when prev_ok) */
		} e;
		struct {
			enum prev_sig_kind prev_sig_kind;
			char prev_sig[SIG_TEXT_MAX + 1];
			bool sig_ok; /* the signature verifies under the key */
			char sig[SIG_TEXT_MAX + 1];
		} c;
	} u;
};

/* What a parsing thread owns. */
struct parser {
	EVP_PKEY *pub;
	EVP_MD_CTX *md;
	const EVP_MD *sha256;
};

static void
format_fault(struct rec *r, enum format_fault fault, const char *what, const char *member)
{
	r->kind = R_FORMAT;
	r->fault = fault;
	r->what = what;
	r->member = member;
}

/* Fetch the members of OBJ into F, checking presence, kinds and that there are no others. */
static bool
fetch_members(struct rec *r, json_t *obj, const struct member *m, size_t n, const char *what,
	      json_t **f)
{
	for (size_t i = 0; i < n; i++) {
		f[i] = json_object_get(obj, m[i].name);
		if (f[i] == NULL) {
			format_fault(r, F_MISSING, what, m[i].name);
			return false;
		}
		if (!kind_ok(f[i], m[i].kinds)) {
			format_fault(r, F_WRONG_TYPE, what, m[i].name);
			return false;
		}
	}
	if (json_object_size(obj) != n) {
		format_fault(r, F_EXTRA, what, NULL);
		return false;
	}
	return true;
}

static void
copy_chain(struct rec *r, const json_t *chain)
{
	r->chain_len = json_string_length(chain);
	if (r->chain_len <= AUDIT_CHAIN_MAX) {
		memcpy(r->chain, json_string_value(chain), r->chain_len + 1);
	}
}

/* Copy a string member of at most SIG_TEXT_MAX characters; false when longer. */
static bool
copy_sig_text(char out[SIG_TEXT_MAX + 1], const json_t *v)
{
	size_t n = json_string_length(v);

	if (n > SIG_TEXT_MAX) {
		return false;
	}
	memcpy(out, json_string_value(v), n + 1);
	return true;
}

static bool
signature_verifies(struct parser *p, const json_t *ckpt, const json_t *sig_b64)
{
	uint8_t sig[SIG_MAX], *tbs = NULL;
	size_t tbslen = 0;
	long siglen;
	EVP_MD_CTX *vctx = NULL;
	bool ok = false;

	siglen = base64_decode(json_string_value(sig_b64), json_string_length(sig_b64), sig,
			       sizeof(sig), false);
	if (siglen <= 0 || audit_checkpoint_tbs(ckpt, &tbs, &tbslen) != 0) {
		goto out;
	}
	if ((vctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(vctx, NULL, EVP_sha256(), NULL, p->pub) != 1) {
		goto out;
	}
	ok = EVP_DigestVerify(vctx, sig, (size_t)siglen, tbs, tbslen) == 1;
out:
	EVP_MD_CTX_free(vctx);
	free(tbs);
	return ok;
}

static void
parse_entry(struct parser *p, json_t *obj, struct rec *r)
{
	json_t *f[E_NMEMBERS];

	if (!fetch_members(r, obj, entry_members, E_NMEMBERS, "entry", f)) {
		return;
	}
	r->kind = R_ENTRY;
	r->seq = json_integer_value(f[E_SEQ]);
	copy_chain(r, f[E_CHAIN]);
	r->hash_ok = hash_from_hex(f[E_HASH], r->hash);
	r->u.e.prev_ok = hash_from_hex(f[E_PREVHASH], r->u.e.prev);
	if (r->u.e.prev_ok) {
		entry_hash_fields(p->md, p->sha256, r->u.e.prev, f, r->u.e.computed);
	}
}

static void
parse_checkpoint(struct parser *p, json_t *obj, struct rec *r)
{
	json_t *f[C_NMEMBERS];

	if (!fetch_members(r, obj, checkpoint_members, C_NMEMBERS, "checkpoint", f)) {
		return;
	}
	r->kind = R_CHECKPOINT;
	r->seq = json_integer_value(f[C_SEQ]);
	copy_chain(r, f[C_CHAIN]);
	r->hash_ok = hash_from_hex(f[C_HASH], r->hash);
	if (json_is_null(f[C_PREVSIG])) {
		r->u.c.prev_sig_kind = PS_NULL;
	} else {
		r->u.c.prev_sig_kind =
		    copy_sig_text(r->u.c.prev_sig, f[C_PREVSIG]) ? PS_TEXT : PS_TOO_LONG;
	}
	r->u.c.sig_ok =
	    copy_sig_text(r->u.c.sig, f[C_SIGNATURE]) && signature_verifies(p, obj, f[C_SIGNATURE]);
}

/* Parse one line into R; false when it is not a well-formed record (JERR: jansson's word). */
static bool
parse_line(struct parser *p, const char *line, size_t len, struct rec *r,
	   char jerr[JSON_ERROR_TEXT_LENGTH])
{
	json_error_t err;
	json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	const char *type;

	if (obj == NULL) {
		format_fault(r, F_JSON, NULL, NULL);
		memcpy(jerr, err.text, JSON_ERROR_TEXT_LENGTH);
		return false;
	}
	type = json_string_value(json_object_get(obj, "type"));
	if (!json_is_object(obj) || type == NULL) {
		format_fault(r, F_NOT_RECORD, NULL, NULL);
	} else if (strcmp(type, "entry") == 0) {
		parse_entry(p, obj, r);
	} else if (strcmp(type, "checkpoint") == 0) {
		parse_checkpoint(p, obj, r);
	} else {
		format_fault(r, F_UNKNOWN_TYPE, NULL, NULL);
	}
	json_decref(obj);
	return r->kind != R_FORMAT;
}

/*
 * Lines travel in batches: the reading thread fills one, a parsing thread
 * turns its lines into records, the reading thread checks them in order.
 */
#define NBATCH      4
#define BATCH_LINES 1024
#define BATCH_BYTES (512 * 1024) /* a batch closes past this; one more line always fits */
#define MAX_WORKERS 4

enum batch_state { B_FREE, B_FILLED, B_PARSING, B_PARSED };

struct batch {
	enum batch_state state;
	uint64_t order; /* filled as the ORDER-th batch: parsed oldest first */
	char *data;
	size_t dcap; /* bytes of DATA: grown as lines come, up to BATCH_BYTES + AUDIT_LINE_MAX */
	size_t used;
	struct rec *recs;
	size_t cap;     /* recs allocated: grown as lines come, up to BATCH_LINES */
	size_t n;       /* lines */
	size_t nparsed; /* records parsed: parsing stops after a malformed line */
	int tail;       /* LINE_OK, or what ended the reading after the last line */
	int tail_errno;
	uint64_t tail_line;
	char jerr[JSON_ERROR_TEXT_LENGTH];
};

static void
batch_parse(struct parser *p, struct batch *b)
{
	b->nparsed = 0;
	while (b->nparsed < b->n) {
		struct rec *r = &b->recs[b->nparsed++];
		if (!parse_line(p, b->data + r->off, r->len, r, b->jerr)) {
			break;
		}
	}
}

/* Read up to a batch of lines; false once the file is done (end, or an error in tail). */
static bool
batch_fill(struct batch *b, struct line_reader *lr, uint64_t *line_no)
{
	const char *line;
	size_t len;
	int got = LINE_EOF;

	b->n = 0;
	b->used = 0;
	b->tail = LINE_OK;
	while (b->n < BATCH_LINES && b->used < BATCH_BYTES) {
		got = line_next(lr, &line, &len);
		if (got != LINE_OK) {
			break;
		}
		if (b->n == b->cap) {
			size_t cap = b->cap != 0 ? b->cap * 2 : 16;
			struct rec *recs = realloc(b->recs, (cap < BATCH_LINES ? cap : BATCH_LINES) *
								sizeof(*recs));
			if (recs == NULL) {
				got = LINE_IO;
				errno = ENOMEM;
				break;
			}
			cap = cap < BATCH_LINES ? cap : BATCH_LINES;
			/* Zeroed once, as calloc did; records are reused as batches refill. */
			memset(recs + b->cap, 0, (cap - b->cap) * sizeof(*recs));
			b->recs = recs;
			b->cap = cap;
		}
		if (b->data == NULL || b->used + len > b->dcap) {
			size_t need = b->used + len, dcap = b->dcap != 0 ? b->dcap : 64 * 1024;
			char *data;
			while (dcap < need) {
				dcap *= 2;
			}
			dcap = dcap < BATCH_BYTES + AUDIT_LINE_MAX ? dcap : BATCH_BYTES + AUDIT_LINE_MAX;
			if ((data = realloc(b->data, dcap)) == NULL) {
				got = LINE_IO;
				errno = ENOMEM;
				break;
			}
			b->data = data;
			b->dcap = dcap;
		}
		struct rec *r = &b->recs[b->n++];
		r->line = ++*line_no;
		r->off = b->used;
		r->len = len;
		memcpy(b->data + b->used, line, len);
		b->used += len;
	}
	if (got == LINE_TOO_LONG || got == LINE_IO) {
		b->tail = got;
		b->tail_errno = errno;
		b->tail_line = *line_no + 1;
	}
	return got == LINE_OK;
}

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	bool stop;
	struct batch *batches;
	EVP_PKEY *pub;
	const EVP_MD *sha256;
};

static void *
worker_main(void *arg)
{
	struct pool *pool = arg;
	struct parser p = {.pub = pool->pub, .sha256 = pool->sha256, .md = EVP_MD_CTX_new()};

	pthread_mutex_lock(&pool->lock);
	while (!pool->stop) {
		struct batch *b = NULL;
		for (int i = 0; i < NBATCH; i++) {
			struct batch *c = &pool->batches[i];
			if (c->state == B_FILLED && (b == NULL || c->order < b->order)) {
				b = c;
			}
		}
		if (b == NULL) {
			pthread_cond_wait(&pool->work, &pool->lock);
			continue;
		}
		b->state = B_PARSING;
		pthread_mutex_unlock(&pool->lock);
		if (p.md != NULL) {
			batch_parse(&p, b);
		} else {
			b->nparsed = 0;
		}
		pthread_mutex_lock(&pool->lock);
		b->state = B_PARSED;
		pthread_cond_broadcast(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	EVP_MD_CTX_free(p.md);
	return NULL;
}

/* The state of the in-order checks. */
struct verifier {
	struct audit_verify_result *res;
	uint64_t line;     /* the line being checked */
	uint64_t last_seq; /* the last entry seen, 0 before the first */
	/*
	 * The hashes of entries win_base..last_seq, which a checkpoint may
	 * name: checkpoints never go back, so older ones are dropped.
	 * Seq 0 stands for "no entry yet" with a hash of zeros.
	 */
	uint8_t (*win)[HASH_LEN];
	size_t win_len, win_cap;
	uint64_t win_base;
	bool have_ckpt;
	uint64_t ckpt_seq;
	char prev_sig[SIG_TEXT_MAX + 1]; /* the previous checkpoint's signature text */
};

static int fail(struct verifier *v, int status, uint64_t bad_seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct verifier *v, int status, uint64_t bad_seq, const char *fmt, ...)
{
	va_list ap;

	v->res->bad_seq = bad_seq;
	v->res->line = v->line;
	va_start(ap, fmt);
	vsnprintf(v->res->message, sizeof(v->res->message), fmt, ap);
	va_end(ap);
	return status;
}

static int
window_push(struct verifier *v, const uint8_t hash[HASH_LEN])
{
	if (v->win_len == v->win_cap) {
		size_t ncap = v->win_cap != 0 ? v->win_cap * 2 : 1024;
		void *p = realloc(v->win, ncap * HASH_LEN);
		if (p == NULL) {
			return -1;
		}
		v->win = p;
		v->win_cap = ncap;
	}
	memcpy(v->win[v->win_len++], hash, HASH_LEN);
	return 0;
}

static int
check_format(struct verifier *v, const struct rec *r, const char *jerr)
{
	unsigned long long line = v->line;

	switch (r->fault) {
	case F_JSON:
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "line %llu: not JSON: %s", line, jerr);
	case F_NOT_RECORD:
		return fail(v, AUDIT_VERIFY_FORMAT, 0,
			    "line %llu: not an audit record (no \"type\")", line);
	case F_UNKNOWN_TYPE:
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "line %llu: unknown record type", line);
	case F_MISSING:
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "line %llu: %s has no \"%s\" member", line,
			    r->what, r->member);
	case F_WRONG_TYPE:
		return fail(v, AUDIT_VERIFY_FORMAT, 0,
			    "line %llu: %s member \"%s\" has the wrong type", line, r->what,
			    r->member);
	case F_EXTRA:
	default:
		return fail(v, AUDIT_VERIFY_FORMAT, 0,
			    "line %llu: %s has members it should not have", line, r->what);
	}
}

/* The first record names the chain; false when it is no chain name or another than before. */
static bool
chain_matches(struct verifier *v, const struct rec *r)
{
	if (r->chain_len > AUDIT_CHAIN_MAX) {
		return false;
	}
	if (v->res->chain[0] == '\0') {
		if (!name_is_valid(r->chain) && strcmp(r->chain, "~appliance") != 0) {
			return false;
		}
		memcpy(v->res->chain, r->chain, r->chain_len + 1);
		return true;
	}
	return strcmp(r->chain, v->res->chain) == 0;
}

static int
chain_invalid(struct verifier *v)
{
	return fail(v, AUDIT_VERIFY_FORMAT, 0,
		    "line %llu: the chain is neither a tenant name nor ~appliance",
		    (unsigned long long)v->line);
}

static int
check_entry(struct verifier *v, const struct rec *r)
{
	uint64_t seq = v->last_seq + 1;
	unsigned long long line = v->line;

	if (!chain_matches(v, r)) {
		if (v->res->chain[0] == '\0') {
			return chain_invalid(v);
		}
		return fail(v, AUDIT_VERIFY_ENTRY, seq,
			    "entry %llu (line %llu) belongs to another chain than %s",
			    (unsigned long long)seq, line, v->res->chain);
	}
	if (r->seq < 0 || (uint64_t)r->seq != seq) {
		return fail(v, AUDIT_VERIFY_ENTRY, seq,
			    "entry %llu is missing or out of order: line %llu holds seq %lld",
			    (unsigned long long)seq, line, (long long)r->seq);
	}
	if (!r->u.e.prev_ok || memcmp(r->u.e.prev, v->win[v->win_len - 1], HASH_LEN) != 0) {
		return fail(v, AUDIT_VERIFY_ENTRY, seq,
			    "entry %llu (line %llu): prevHash is not the hash of the entry before",
			    (unsigned long long)seq, line);
	}
	if (!r->hash_ok || memcmp(r->hash, r->u.e.computed, HASH_LEN) != 0) {
		return fail(v, AUDIT_VERIFY_ENTRY, seq,
			    "entry %llu (line %llu): hash does not match its contents",
			    (unsigned long long)seq, line);
	}
	if (window_push(v, r->hash) != 0) {
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "out of memory at entry %llu",
			    (unsigned long long)seq);
	}
	v->last_seq = seq;
	v->res->entries++;
	return AUDIT_VERIFY_OK;
}

static int
check_checkpoint(struct verifier *v, const struct rec *r)
{
	long long seq = (long long)r->seq;
	uint64_t bad = seq > 0 ? (uint64_t)seq : 0;
	unsigned long long line = v->line;

	if (!chain_matches(v, r)) {
		if (v->res->chain[0] == '\0') {
			return chain_invalid(v);
		}
		return fail(
		    v, AUDIT_VERIFY_CHECKPOINT, bad,
		    "the checkpoint at seq %lld (line %llu) belongs to another chain than %s", seq,
		    line, v->res->chain);
	}
	if (!v->have_ckpt && r->u.c.prev_sig_kind != PS_NULL) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at seq %lld (line %llu) is the first but has a "
			    "prevSignature",
			    seq, line);
	}
	if (v->have_ckpt &&
	    (r->u.c.prev_sig_kind != PS_TEXT || strcmp(r->u.c.prev_sig, v->prev_sig) != 0)) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at seq %lld (line %llu): prevSignature is not the "
			    "previous checkpoint's signature",
			    seq, line);
	}
	if (seq < 0 || (uint64_t)seq > v->last_seq) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at line %llu names entry %lld, which has not been seen",
			    line, seq);
	}
	if ((uint64_t)seq < v->win_base) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at seq %lld (line %llu) goes back before the previous "
			    "checkpoint (seq %llu)",
			    seq, line, (unsigned long long)v->win_base);
	}
	if (!r->hash_ok || memcmp(r->hash, v->win[(uint64_t)seq - v->win_base], HASH_LEN) != 0) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at seq %lld (line %llu): hash is not the hash of entry "
			    "%lld",
			    seq, line, seq);
	}
	if (!r->u.c.sig_ok) {
		return fail(v, AUDIT_VERIFY_CHECKPOINT, bad,
			    "the checkpoint at seq %lld (line %llu): signature does not verify "
			    "under the audit key",
			    seq, line);
	}
	memcpy(v->prev_sig, r->u.c.sig, sizeof(v->prev_sig));
	/* Later checkpoints name this entry or a later one. */
	v->win_len -= (size_t)((uint64_t)seq - v->win_base);
	memmove(v->win, v->win[(uint64_t)seq - v->win_base], v->win_len * HASH_LEN);
	v->win_base = (uint64_t)seq;
	v->have_ckpt = true;
	v->ckpt_seq = (uint64_t)seq;
	v->res->checkpoints++;
	return AUDIT_VERIFY_OK;
}

/* Check a parsed batch's records in order; the first fault ends the verification. */
static int
batch_check(struct verifier *v, const struct batch *b)
{
	int r = AUDIT_VERIFY_OK;

	for (size_t i = 0; i < b->nparsed && r == AUDIT_VERIFY_OK; i++) {
		const struct rec *rec = &b->recs[i];
		v->line = rec->line;
		r = rec->kind == R_ENTRY        ? check_entry(v, rec)
		    : rec->kind == R_CHECKPOINT ? check_checkpoint(v, rec)
						: check_format(v, rec, b->jerr);
	}
	if (r != AUDIT_VERIFY_OK) {
		return r;
	}
	if (b->nparsed < b->n) {
		/* Parsing could not start (no memory for a digest context). */
		v->line = b->recs[b->nparsed].line;
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "out of memory at line %llu",
			    (unsigned long long)v->line);
	}
	if (b->tail != LINE_OK) {
		v->line = b->tail_line;
		if (b->tail == LINE_TOO_LONG) {
			return fail(v, AUDIT_VERIFY_FORMAT, 0, "line %llu is longer than %d bytes",
				    (unsigned long long)v->line, AUDIT_LINE_MAX);
		}
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "reading line %llu failed: %s",
			    (unsigned long long)v->line, strerror(b->tail_errno));
	}
	return AUDIT_VERIFY_OK;
}

/* After the last line: the file ends with a checkpoint that covers its last entry. */
static int
check_end(struct verifier *v, uint64_t lines)
{
	uint64_t first = v->have_ckpt ? v->ckpt_seq + 1 : 1;

	v->line = 0;
	if (lines == 0) {
		return fail(v, AUDIT_VERIFY_FORMAT, 0, "the file is empty: no audit records");
	}
	if (v->have_ckpt && v->ckpt_seq == v->last_seq) {
		snprintf(v->res->message, sizeof(v->res->message), "verified");
		return AUDIT_VERIFY_OK;
	}
	if (first == v->last_seq) {
		return fail(v, AUDIT_VERIFY_UNCOVERED, first,
			    "entry %llu is not covered by a final checkpoint",
			    (unsigned long long)first);
	}
	return fail(v, AUDIT_VERIFY_UNCOVERED, first,
		    "entries %llu to %llu are not covered by a final checkpoint",
		    (unsigned long long)first, (unsigned long long)v->last_seq);
}

/* How many parsing threads: one per usable processor, at most MAX_WORKERS; none on one. */
static int
worker_count(void)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
							      : sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 1) {
		return 0;
	}
	return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

void
audit_entry_hash(const uint8_t prev[32], const json_t *entry, uint8_t out[32])
{
	json_t *f[E_NHASHED];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL) {
		memset(out, 0, HASH_LEN);
		return;
	}
	for (int i = 0; i < E_NHASHED; i++) {
		f[i] = json_object_get(entry, entry_members[i].name);
	}
	entry_hash_fields(md, EVP_sha256(), prev, f, out);
	EVP_MD_CTX_free(md);
}

int
audit_checkpoint_tbs(const json_t *ckpt, uint8_t **buf, size_t *len)
{
	struct wbuf w;
	struct sink s = {.w = &w};

	*buf = NULL;
	*len = 0;
	for (int i = 0; i < C_NSIGNED; i++) {
		if (!kind_ok(json_object_get(ckpt, checkpoint_members[i].name),
			     checkpoint_members[i].kinds)) {
			return SIGNET_EINVAL;
		}
	}
	wbuf_init(&w, TBS_MAX);
	put_bytes(&s, CHECKPOINT_V1, strlen(CHECKPOINT_V1));
	for (int i = 0; i < C_NSIGNED; i++) {
		put_field(&s, json_object_get(ckpt, checkpoint_members[i].name));
	}
	if ((*buf = wbuf_steal(&w, len)) == NULL) {
		wbuf_free(&w);
		return SIGNET_EINTERNAL;
	}
	return SIGNET_OK;
}

int
audit_verify_file(FILE *f, EVP_PKEY *pub, struct audit_verify_result *res)
{
	struct verifier v = {.res = res};
	struct line_reader lr = {.f = f, .cap = 64 * 1024};
	struct batch batches[NBATCH];
	struct pool pool = {.batches = batches, .pub = pub};
	struct parser self = {.pub = pub};
	pthread_t workers[MAX_WORKERS];
	int nworkers = 0, want = worker_count(), r = AUDIT_VERIFY_OK;
	uint64_t lines = 0, filled = 0, checked = 0;
	bool more = true, ok;
	EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);

	memset(res, 0, sizeof(*res));
	memset(batches, 0, sizeof(batches));
	pool.sha256 = self.sha256 = sha256;
	lr.buf = malloc(lr.cap);
	ok = lr.buf != NULL && sha256 != NULL && window_push(&v, (const uint8_t[HASH_LEN]){0}) == 0 &&
	     (self.md = EVP_MD_CTX_new()) != NULL;
	if (!ok || pthread_mutex_init(&pool.lock, NULL) != 0) {
		r = fail(&v, AUDIT_VERIFY_FORMAT, 0, "out of memory");
		goto out;
	}
	pthread_cond_init(&pool.work, NULL);
	pthread_cond_init(&pool.done, NULL);
	for (;;) {
		struct batch *b;
		/* Keep every free batch filled, so the parsing threads always have work. */
		while (more && filled - checked < NBATCH) {
			b = &batches[filled % NBATCH];
			/* Buffers as they are needed: a small export touches one batch. */
			more = batch_fill(b, &lr, &lines);
			if (b->n == 0 && b->tail == LINE_OK) {
				break;
			}
			/*
			 * A second batch means a large export: only then do parsing
			 * threads pay for themselves (one batch is parsed here).
			 */
			if (filled == 1 && nworkers == 0) {
				while (nworkers < want &&
				       pthread_create(&workers[nworkers], NULL, worker_main, &pool) == 0) {
					nworkers++;
				}
			}
			pthread_mutex_lock(&pool.lock);
			b->order = filled++;
			b->state = B_FILLED;
			pthread_cond_signal(&pool.work);
			pthread_mutex_unlock(&pool.lock);
		}
		if (checked == filled) {
			break;
		}
		b = &batches[checked % NBATCH];
		if (nworkers == 0) {
			batch_parse(&self, b);
		} else {
			pthread_mutex_lock(&pool.lock);
			while (b->state != B_PARSED) {
				pthread_cond_wait(&pool.done, &pool.lock);
			}
			pthread_mutex_unlock(&pool.lock);
		}
		r = batch_check(&v, b);
		pthread_mutex_lock(&pool.lock);
		b->state = B_FREE;
		pthread_mutex_unlock(&pool.lock);
		checked++;
		if (r != AUDIT_VERIFY_OK) {
			break;
		}
	}
	if (r == AUDIT_VERIFY_OK) {
		r = check_end(&v, lines);
	}
	pthread_mutex_lock(&pool.lock);
	pool.stop = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.lock);
	for (int i = 0; i < nworkers; i++) {
		pthread_join(workers[i], NULL);
	}
	pthread_cond_destroy(&pool.work);
	pthread_cond_destroy(&pool.done);
	pthread_mutex_destroy(&pool.lock);
out:
	for (int i = 0; i < NBATCH; i++) {
		free(batches[i].data);
		free(batches[i].recs);
	}
	EVP_MD_CTX_free(self.md);
	EVP_MD_free(sha256);
	free(v.win);
	free(lr.buf);
	return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The REST API (DESIGN 8): the route table and each endpoint translated to socket API calls. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/http.h"
#include "front/session.h"
#include "front/otp.h"
#include "front/ui.h"
#include "lib/codec.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/util.h"

#define INLINE_B64_MAX                                                                             \
	49152 /* base64 signing inputs up to this go inline; larger ones as a file                 \
	       */
#define LIST_PAGES_MAX       100 /* pages read to group the ACL by subject */
#define PACKAGE_MAX_METADATA 65535
#define REPORT_BODY_MAX      (2u << 20) /* signetd takes reports up to 1 MiB; multipart adds little */

/* ---- small helpers ---- */

static enum MHD_Result bad(struct req *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum MHD_Result
bad(struct req *q, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return http_error(q, MHD_HTTP_BAD_REQUEST, "invalid", "%s", msg);
}

/* Page arguments of a listing: size -> limit, cursor. 0, or -1 after answering. */
static int
page_args(struct req *q, json_t *args)
{
	const char *size = http_query(q, "size"), *cursor = http_query(q, "cursor");

	if (size != NULL) {
		long long n;
		if (!api_number(size, 1, 1000, &n)) {
			bad(q, "%s must be an integer from 1 to 1000", "size");
			return -1;
		}
		json_object_set_new(args, "limit", json_integer(n));
	}
	if (cursor != NULL && json_object_set_new(args, "cursor", json_string(cursor)) != 0) {
		bad(q, "%s is not one this API gave out", "cursor");
		return -1;
	}
	return 0;
}

/* Copy the members NAMES of the JSON body into ARGS; refuse any other member. */
static int
body_take(struct req *q, json_t *body, json_t *args, const char *const *names)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) {
		bool known = false;
		for (const char *const *n = names; *n != NULL; n++) {
			known |= strcmp(*n, k) == 0;
		}
		if (!known) {
			char shown[40];
			snprintf(shown, sizeof(shown), "%s", k);
			for (char *p = shown; *p != '\0'; p++) {
				*p = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
			}
			bad(q, "unknown member '%s'", shown);
			return -1;
		}
		json_object_set(args, k, v);
	}
	return 0;
}

static const char *
task_type_of(struct req *q)
{
	return q->rt->arg;
}

/* The task named in the path, checked to be of the route's type. 0, or -1 after answering. */
static int
task_check_type(struct req *q, json_t **task)
{
	struct call c;
	json_t *args = json_pack("{s:s}", "id", q->params[0]);
	const char *type;

	http_call(q, "task.show", args, NULL, 0, &c);
	json_decref(args);
	if (c.err != 0) {
		http_call_error(q, &c);
		call_done(&c);
		return -1;
	}
	type = json_string_value(json_object_get(c.result, "type"));
	if (type == NULL || strcmp(type, task_type_of(q)) != 0) {
		call_done(&c);
		http_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no task '%s' of this type",
			   q->params[0]);
		return -1;
	}
	if (task != NULL) {
		*task = json_incref(c.result);
	}
	call_done(&c);
	return 0;
}

/*
 * Answer a call that created something: 201 with its result and, in
 * Location, where it is read again: AT and the result's id (AT NULL: the
 * creating path's item of that id), or (a rule) the rules of its subject.
 */
static enum MHD_Result
reply_created_at(struct req *q, struct call *c, const char *at)
{
	const char *id = c->err == 0 ? json_string_value(json_object_get(c->result, "id")) : NULL;
	const char *subject =
	    c->err == 0 ? json_string_value(json_object_get(c->result, "subject")) : NULL;

	q->location[0] = '\0';
	/* signetd's ids and subjects are names and UUIDs: nothing in them needs escaping. */
	if (id != NULL && strspn(id, "0123456789abcdefABCDEF-") == strlen(id)) {
		if (at != NULL) {
			snprintf(q->location, sizeof(q->location), "%s%s", at, id);
		} else {
			snprintf(q->location, sizeof(q->location), "%s/%s", q->rt->pattern, id);
		}
	} else if (subject != NULL &&
		   name_is_valid(strchr(subject, ':') != NULL ? strchr(subject, ':') + 1
							      : subject)) {
		snprintf(q->location, sizeof(q->location), "%s?subject=%s", q->rt->pattern,
			 subject);
	}
	return http_call_reply(q, c, MHD_HTTP_CREATED);
}

static enum MHD_Result
reply_created(struct req *q, struct call *c)
{
	return reply_created_at(q, c, NULL);
}

/* ---- health ---- */

static enum MHD_Result
h_health(struct req *q)
{
	struct call c;

	pool_call(q->f->pool, "status", NULL, NULL, NULL, 0, &c);
	if (c.err != 0) {
		call_done(&c);
		return http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "signetd is not available");
	}
	call_done(&c);
	return http_json(q, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
}

/* ---- tasks ---- */

/*
 * What inputBase64 is (doc/rest.md): what the request says, the same for
 * every key: the message with "prehashed": false, its digest with
 * "prehashed": true or "hash" naming the digest's algorithm. A request that
 * says neither keeps the Sign & Encrypt API's rule (DESIGN 8): the SHA-256
 * digest for an RSA-PSS key, the message for every other ("prehashed":
 * "auto" to signetd, which knows the key). 0, or -1 after answering.
 */
static int
sign_input_rule(struct req *q, json_t *args)
{
	const json_t *ph = json_object_get(args, "prehashed");
	const char *in = json_string_value(json_object_get(args, "inputBase64"));
	const char *hash = json_string_value(json_object_get(args, "hash"));
	size_t want = 0, max = base64_decoded_max(strlen(in));
	uint8_t *raw;
	long n;

	if (ph != NULL && !json_is_boolean(ph)) {
		bad(q, "%s must be true or false", "prehashed");
		return -1;
	}
	if (json_object_get(args, "hash") != NULL) {
		if (hash != NULL && strcmp(hash, "SHA-256") == 0) {
			want = 32;
		} else if (hash != NULL && strcmp(hash, "SHA-384") == 0) {
			want = 48;
		} else if (hash != NULL && strcmp(hash, "SHA-512") == 0) {
			want = 64;
		} else {
			bad(q,
			    "%s must be SHA-256, SHA-384 or SHA-512 (the digest inputBase64 holds)",
			    "hash");
			return -1;
		}
		if (json_is_false(ph)) {
			bad(q, "hash names the digest of a prehashed input: it cannot go with "
			       "\"prehashed\": false");
			return -1;
		}
		/* "hash" names the digest; signetd checks it against the key and the scheme. */
		hash = want == 32 ? "SHA-256" : want == 48 ? "SHA-384" : "SHA-512";
		json_object_set_new(args, "hash", json_string(hash));
		json_object_set_new(args, "prehashed", json_true());
	} else if (ph == NULL) {
		json_object_set_new(args, "prehashed", json_string("auto"));
	}
	if (!json_is_true(json_object_get(args, "prehashed"))) {
		return 0;
	}
	/* A digest: its length is checked here as far as the request says it (signetd checks it
	 * against the key). */
	raw = malloc(max + 1);
	n = raw != NULL ? base64_decode(in, strlen(in), raw, max, false) : -1;
	free(raw);
	if (n <= 0) {
		bad(q, "%s must be non-empty standard base64", "inputBase64");
		return -1;
	}
	if (want != 0 && (size_t)n != want) {
		bad(q, "inputBase64 must be the %zu-byte %s digest of the message, not %ld bytes",
		    want, hash, n);
		return -1;
	}
	if (want == 0 && n != 32 && n != 48 &&
	    !(n == 64 && json_object_get(args, "scheme") != NULL)) {
		bad(q,
		    "a prehashed inputBase64 is a digest of the message: 32 bytes of SHA-256 "
		    "(RSA_3072, RSA_4096, ECC_NIST_P256) or 48 bytes of SHA-384 (ECC_NIST_P384), "
		    "not %ld bytes",
		    n);
		return -1;
	}
	return 0;
}

static enum MHD_Result sign_file(struct req *q);

static enum MHD_Result
h_sign(struct req *q)
{
	static const char *const names[] = {
	    "deviceConfigId", "inputBase64", "name",     "prehashed", "hash",
	    "scheme",         "saltLength",  "encoding", "attach",    NULL};
	json_t *body, *args;
	const json_t *dc, *in;
	struct call c;
	int fd = -1;

	if (q->body == BODY_MULTIPART) {
		return sign_file(q);
	}
	if ((body = http_body_object(q)) == NULL) {
		return MHD_YES;
	}
	args = json_object();
	if (body_take(q, body, args, names) != 0) {
		json_decref(body);
		json_decref(args);
		return MHD_YES;
	}
	json_decref(body);
	dc = json_object_get(args, "deviceConfigId");
	in = json_object_get(args, "inputBase64");
	if (!json_is_string(dc) || !json_is_string(in)) {
		json_decref(args);
		return bad(q, "%s and inputBase64 are required strings", "deviceConfigId");
	}
	if (sign_input_rule(q, args) != 0) {
		json_decref(args);
		return MHD_YES;
	}
	json_object_set(args, "devconf", (json_t *)dc);
	json_object_del(args, "deviceConfigId");
	if (json_string_length(in) > INLINE_B64_MAX) {
		/* Too large for a socket packet (never a digest): decode into a spool file. */
		const char *s = json_string_value(in);
		size_t max = base64_decoded_max(strlen(s));
		uint8_t *raw = malloc(max + 1);
		long n = raw != NULL ? base64_decode(s, strlen(s), raw, max, false) : -1;

		if (n <= 0) {
			free(raw);
			json_decref(args);
			return bad(q, "%s must be non-empty standard base64", "inputBase64");
		}
		if ((fd = http_tmpfile(q->f)) < 0 || write_all(fd, raw, (size_t)n) != 0) {
			free(raw);
			if (fd >= 0) {
				close(fd);
			}
			json_decref(args);
			return http_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
					  "the gateway cannot store the input");
		}
		free(raw);
		json_object_del(args, "inputBase64");
		json_object_del(args, "prehashed");
	}
	http_call(q, "task.sign", args, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, &c);
	json_decref(args);
	if (fd >= 0) {
		close(fd);
	}
	return reply_created(q, &c);
}

static const struct part *
find_part(const struct upload *u, const char *field, int *count)
{
	const struct part *first = NULL;

	*count = 0;
	for (int i = 0; i < u->nparts; i++) {
		if (strcmp(u->parts[i].field, field) == 0) {
			if (first == NULL) {
				first = &u->parts[i];
			}
			(*count)++;
		}
	}
	return first;
}

/* Text fields of a multipart body: only those in NAMES. 0, or -1 after answering. */
static int
fields_check(struct req *q, const char *const *names)
{
	const char *k;
	json_t *v;

	json_object_foreach(q->up.fields, k, v) {
		bool known = false;
		for (const char *const *n = names; *n != NULL; n++) {
			known |= strcmp(*n, k) == 0;
		}
		if (!known) {
			bad(q, "unknown field '%s'", k);
			return -1;
		}
	}
	return 0;
}

static const char *
field(struct req *q, const char *name)
{
	return json_string_value(json_object_get(q->up.fields, name));
}

/* sha256checksum against the digest of a part. 0, or -1 after answering. */
static int
checksum_check(struct req *q, const char *given, const struct part *p)
{
	uint8_t want[32];

	if (given == NULL) {
		return 0;
	}
	if (strlen(given) != 64 || !hex_decode(given, want, sizeof(want))) {
		bad(q, "%s must be 64 hex digits", "sha256checksum");
		return -1;
	}
	if (memcmp(want, p->sha256, 32) != 0) {
		http_error(q, MHD_HTTP_BAD_REQUEST, "invalid",
			   "sha256checksum does not match the uploaded file '%s'", p->field);
		return -1;
	}
	return 0;
}

/*
 * A body of one file (field "file") and the text fields NAMES (among them
 * deviceConfigId, name and sha256checksum): the file's part, the
 * configuration and the name (the field, else the file's own name, else
 * NULL). 0, or -1 after answering.
 */
static int
one_file(struct req *q, const char *const *names, const struct part **file, const char **dc,
	 const char **name)
{
	const struct part *p;
	int n;

	if (fields_check(q, names) != 0) {
		return -1;
	}
	p = find_part(&q->up, "file", &n);
	if ((*dc = field(q, "deviceConfigId")) == NULL) {
		bad(q, "%s is required", "deviceConfigId");
		return -1;
	}
	if (n != 1) {
		bad(q, "exactly one '%s' is required", "file");
		return -1;
	}
	if (p->size == 0) {
		bad(q, "the %s is empty", "file");
		return -1;
	}
	if (checksum_check(q, field(q, "sha256checksum"), p) != 0) {
		return -1;
	}
	*name = field(q, "name");
	if (*name == NULL && p->filename[0] != '\0') {
		*name = p->filename;
	}
	*file = p;
	return 0;
}

static enum MHD_Result
h_encrypt(struct req *q)
{
	static const char *const names[] = {"deviceConfigId", "name", "sha256checksum", NULL};
	const struct part *p;
	const char *dc, *name;
	char hex[65];
	json_t *args;
	struct call c;

	if (one_file(q, names, &p, &dc, &name) != 0) {
		return MHD_YES;
	}
	hex_encode(p->sha256, 32, hex);
	args = json_pack("{s:s, s:s}", "devconf", dc, "sha256", hex);
	if (name != NULL) {
		json_object_set_new(args, "name", json_string(name));
	}
	/* signetd reads the file from its start and checks it against our digest. */
	http_call(q, "task.encrypt", args, &q->up.fd, 1, &c);
	json_decref(args);
	return reply_created(q, &c);
}

/*
 * The signing scheme's form fields as task.sign arguments: scheme, hash
 * and encoding as given (signetd checks them), saltLength a decimal
 * integer, attach true or false. 0, or -1 after answering.
 */
static int
sign_fields(struct req *q, json_t *args)
{
	static const char *const strs[] = {"scheme", "hash", "encoding", NULL};
	const char *v;

	for (const char *const *n = strs; *n != NULL; n++) {
		if ((v = field(q, *n)) != NULL) {
			json_object_set_new(args, *n, json_string(v));
		}
	}
	if ((v = field(q, "saltLength")) != NULL) {
		size_t len = strlen(v);

		/* at most 4 digits: signetd's bound is 4096, and no overflow to think about */
		if (len == 0 || len > 4 || strspn(v, "0123456789") != len) {
			bad(q, "%s must be an integer from 0 to 4096", "saltLength");
			return -1;
		}
		json_object_set_new(args, "saltLength", json_integer(atoi(v)));
	}
	if ((v = field(q, "attach")) != NULL) {
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
			bad(q, "%s must be true or false", "attach");
			return -1;
		}
		json_object_set_new(args, "attach", json_boolean(strcmp(v, "true") == 0));
	}
	return 0;
}

/*
 * A signing task whose input, the message, came as a multipart file:
 * signetd reads the spool file. The form's scheme fields are those of
 * the JSON body, but hash names the hash signetd computes over the file
 * (the file is never a digest).
 */
static enum MHD_Result
sign_file(struct req *q)
{
	static const char *const names[] = {"deviceConfigId", "name",   "sha256checksum",
					    "scheme",         "hash",   "saltLength",
					    "encoding",       "attach", NULL};
	const struct part *p;
	const char *dc, *name;
	json_t *args;
	struct call c;

	if (one_file(q, names, &p, &dc, &name) != 0) {
		return MHD_YES;
	}
	args = json_pack("{s:s, s:b}", "devconf", dc, "prehashed", 0);
	if (name != NULL) {
		json_object_set_new(args, "name", json_string(name));
	}
	if (sign_fields(q, args) != 0) {
		json_decref(args);
		return MHD_YES;
	}
	http_call(q, "task.sign", args, &q->up.fd, 1, &c);
	json_decref(args);
	return reply_created(q, &c);
}

static enum MHD_Result
h_package(struct req *q)
{
	static const char *const names[] = {"deviceConfigId", "name", "sha256checksum", NULL};
	const struct part *p, *md;
	const char *dc, *sums;
	json_t *args, *inputs;
	struct call c;
	int n, nmd;

	if (fields_check(q, names) != 0) {
		return MHD_YES;
	}
	if ((dc = field(q, "deviceConfigId")) == NULL) {
		return bad(q, "%s is required", "deviceConfigId");
	}
	p = find_part(&q->up, "inputFiles", &n);
	md = find_part(&q->up, "metadata", &nmd);
	if (p == NULL || n > 255) {
		return bad(q, "%s: 1 to 255 files are required", "inputFiles");
	}
	if (nmd > 1) {
		return bad(q, "at most one '%s' is allowed", "metadata");
	}
	if (md != NULL && md->size > PACKAGE_MAX_METADATA) {
		return http_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				  "metadata is larger than %d bytes", PACKAGE_MAX_METADATA);
	}
	/* sha256checksum: one digest per input file, in order, separated by commas. */
	sums = field(q, "sha256checksum");
	inputs = json_array();
	args = json_pack("{s:s, s:o}", "devconf", dc, "inputs", inputs);
	if (field(q, "name") != NULL) {
		json_object_set_new(args, "name", json_string(field(q, "name")));
	}
	for (int i = 0; i < q->up.nparts; i++) {
		const struct part *x = &q->up.parts[i];
		char hex[65];

		if (strcmp(x->field, "inputFiles") != 0) {
			continue;
		}
		if (sums != NULL) {
			char one[65];
			size_t k = strcspn(sums, ",");
			snprintf(one, sizeof(one), "%.*s", (int)(k < 64 ? k : 64), sums);
			if (k != 64) {
				json_decref(args);
				return bad(
				    q,
				    "%s: one 64-hex-digit digest per input file, comma-separated",
				    "sha256checksum");
			}
			if (checksum_check(q, one, x) != 0) {
				json_decref(args);
				return MHD_YES;
			}
			sums += k + (sums[k] == ',');
		}
		hex_encode(x->sha256, 32, hex);
		/* Never a file left out quietly: a record that cannot be made refuses the whole. */
		if (json_array_append_new(inputs,
					  json_pack("{s:s, s:I, s:I, s:s}", "name",
						    x->filename[0] != '\0' ? x->filename : "input",
						    "offset", (json_int_t)x->off, "size",
						    (json_int_t)x->size, "sha256", hex)) != 0) {
			json_decref(args);
			return bad(q, "%s: a file's name is not UTF-8 text", "inputFiles");
		}
	}
	if (sums != NULL && (*sums != '\0' || sums[-1] == ',')) {
		json_decref(args);
		return bad(q, "%s holds more digests than there are input files", "sha256checksum");
	}
	if (md != NULL) {
		char hex[65];
		hex_encode(md->sha256, 32, hex);
		json_object_set_new(args, "metadata",
				    json_pack("{s:I, s:I, s:s}", "offset", (json_int_t)md->off,
					      "size", (json_int_t)md->size, "sha256", hex));
	}
	http_call(q, "task.package", args, &q->up.fd, 1, &c);
	json_decref(args);
	return reply_created(q, &c);
}

static enum MHD_Result
h_task_list(struct req *q)
{
	json_t *args = json_pack("{s:s}", "type", task_type_of(q));
	const char *status = http_query(q, "status");
	struct call c;

	if (status != NULL) {
		json_object_set_new(args, "status", json_string(status));
	}
	if (page_args(q, args) != 0) {
		json_decref(args);
		return MHD_YES;
	}
	http_call(q, "task.list", args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

static enum MHD_Result
h_task_show(struct req *q)
{
	json_t *task;

	if (task_check_type(q, &task) != 0) {
		return MHD_YES;
	}
	return http_json(q, MHD_HTTP_OK, task);
}

static enum MHD_Result
h_approval(struct req *q)
{
	static const char *const names[] = {"decision", "reason", "otp", NULL};
	json_t *body = http_body_object(q), *args;
	const char *decision;
	struct call c;
	bool approve;

	if (body == NULL) {
		return MHD_YES;
	}
	args = json_object();
	if (body_take(q, body, args, names) != 0) {
		json_decref(body);
		json_decref(args);
		return MHD_YES;
	}
	json_decref(body);
	decision = json_string_value(json_object_get(args, "decision"));
	if (decision == NULL ||
	    (strcmp(decision, "APPROVED") != 0 && strcmp(decision, "REJECTED") != 0)) {
		json_decref(args);
		return bad(q, "%s must be APPROVED or REJECTED", "decision");
	}
	approve = strcmp(decision, "APPROVED") == 0;
	json_object_del(args, "decision");
	if (!approve) {
		json_object_del(args, "otp");
	}
	if (task_check_type(q, NULL) != 0) {
		json_decref(args);
		return MHD_YES;
	}
	json_object_set_new(args, "id", json_string(q->params[0]));
	http_call(q, approve ? "task.approve" : "task.reject", args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_ACCEPTED);
}

static enum MHD_Result
h_cancel(struct req *q)
{
	json_t *args;
	struct call c;

	if (task_check_type(q, NULL) != 0) {
		return MHD_YES;
	}
	args = json_pack("{s:s}", "id", q->params[0]);
	http_call(q, "task.cancel", args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

static enum MHD_Result
h_download(struct req *q)
{
	json_t *args;
	struct call c;
	const char *name, *sha;
	char fname[300];
	enum MHD_Result r;
	int fd;

	/* A download is an audited event: HEAD, which would record one for nothing, is refused. */
	if (strcmp(q->method, "GET") != 0) {
		q->allow = strdup("GET");
		return http_error(q, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid",
				  "a download is fetched with GET");
	}
	if (task_check_type(q, NULL) != 0) {
		return MHD_YES;
	}
	args = json_pack("{s:s}", "id", q->params[0]);
	http_call(q, "task.download", args, NULL, 0, &c);
	json_decref(args);
	if (c.err != 0) {
		return http_call_reply(q, &c, MHD_HTTP_OK);
	}
	if (c.nfds != 1) {
		call_done(&c);
		return http_error(q, 500, "internal", "signetd sent no file");
	}
	fd = c.fds[0];
	c.nfds = 0;
	name = json_string_value(json_object_get(c.result, "name"));
	sha = json_string_value(json_object_get(c.result, "sha256"));
	snprintf(fname, sizeof(fname), "%s.%s", name != NULL ? name : q->params[0],
		 strcmp(task_type_of(q), "PACKAGING") == 0 ? "pkg" : "enc");
	r = http_file(q, fd, (uint64_t)json_integer_value(json_object_get(c.result, "size")), fname,
		      sha);
	call_done(&c);
	return r;
}

/* ---- device configurations ---- */

static const char *const devconf_names[] = {
    "name",      "description", "signKeys",       "packageKey", "encryptKeys",  "encryptCert",
    "cipher",    "packaging",   "fourEyes",       "quorum",     "secondFactor", "users",
    "approvers", "enabled",     "allowedSchemes", NULL};

/* A paged listing: the route's arg names the op; `size` and `cursor` are its page. */
static enum MHD_Result
h_list(struct req *q)
{
	json_t *args = json_object();
	struct call c;

	if (page_args(q, args) != 0) {
		json_decref(args);
		return MHD_YES;
	}
	http_call(q, q->rt->arg, args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

/* Call OP with the path's parameter as its argument NAME; answer its result. */
static enum MHD_Result
call_with_param(struct req *q, const char *op, const char *name)
{
	json_t *args = json_pack("{s:s}", name, q->params[0]);
	struct call c;

	http_call(q, op, args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

static enum MHD_Result
h_dc_show(struct req *q)
{
	return call_with_param(q, "devconf.show", "id");
}

static enum MHD_Result
h_dc_write(struct req *q)
{
	json_t *body = http_body_object(q), *args;
	bool create = q->nparams == 0;
	struct call c;

	if (body == NULL) {
		return MHD_YES;
	}
	args = json_object();
	if (body_take(q, body, args, devconf_names) != 0) {
		json_decref(body);
		json_decref(args);
		return MHD_YES;
	}
	json_decref(body);
	if (create) {
		if (json_object_get(args, "enabled") != NULL) {
			json_decref(args);
			return bad(q, "%s is set by update only", "enabled");
		}
	} else {
		json_object_set_new(args, "id", json_string(q->params[0]));
	}
	http_call(q, create ? "devconf.create" : "devconf.update", args, NULL, 0, &c);
	json_decref(args);
	return create ? reply_created(q, &c) : http_call_reply(q, &c, MHD_HTTP_OK);
}

/* ---- ACL ---- */

/* Every rule, read page by page; NULL after answering. */
static json_t *
acl_all(struct req *q)
{
	json_t *all = json_array(), *cursor = NULL;

	for (int page = 0; page < LIST_PAGES_MAX; page++) {
		json_t *args = json_pack("{s:i}", "limit", 1000), *rules;
		struct call c;

		if (cursor != NULL) {
			json_object_set_new(args, "cursor", cursor);
			cursor = NULL;
		}
		http_call(q, "acl.list", args, NULL, 0, &c);
		json_decref(args);
		if (c.err != 0) {
			http_call_error(q, &c);
			call_done(&c);
			json_decref(all);
			return NULL;
		}
		rules = json_object_get(c.result, "rules");
		json_array_extend(all, rules != NULL ? rules : json_array());
		cursor = json_incref(json_object_get(c.result, "cursor"));
		call_done(&c);
		if (cursor == NULL) {
			return all;
		}
	}
	json_decref(cursor);
	json_decref(all);
	http_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "the ACL is too long to group");
	return NULL;
}

static enum MHD_Result
h_acl_subjects(struct req *q)
{
	json_t *all = acl_all(q), *seen, *out, *rule;
	size_t i;

	if (all == NULL) {
		return MHD_YES;
	}
	seen = json_object();
	out = json_array();
	json_array_foreach(all, i, rule) {
		const char *s = json_string_value(json_object_get(rule, "subject"));
		if (s != NULL && json_object_get(seen, s) == NULL) {
			json_object_set_new(seen, s, json_true());
			json_array_append_new(out, json_string(s));
		}
	}
	json_decref(seen);
	json_decref(all);
	return http_json(q, MHD_HTTP_OK, json_pack("{s:o}", "subjects", out));
}

static enum MHD_Result
h_acl_rules(struct req *q)
{
	const char *subject = http_query(q, "subject");
	json_t *all = acl_all(q), *out, *rule;
	size_t i;

	if (all == NULL) {
		return MHD_YES;
	}
	out = json_object();
	json_array_foreach(all, i, rule) {
		const char *s = json_string_value(json_object_get(rule, "subject"));
		json_t *list;
		if (s == NULL || (subject != NULL && strcmp(s, subject) != 0)) {
			continue;
		}
		if ((list = json_object_get(out, s)) == NULL) {
			json_object_set_new(out, s, list = json_array());
		}
		json_array_append(list, rule);
	}
	json_decref(all);
	return http_json(q, MHD_HTTP_OK, json_pack("{s:o}", "subjects", out));
}

static enum MHD_Result
h_acl_change(struct req *q)
{
	static const char *const names[] = {"subject", "resource", "action", NULL};
	bool add = strcmp(q->method, "POST") == 0;
	json_t *args = json_object();
	struct call c;

	if (add) {
		json_t *body = http_body_object(q);
		if (body == NULL) {
			json_decref(args);
			return MHD_YES;
		}
		if (body_take(q, body, args, names) != 0) {
			json_decref(body);
			json_decref(args);
			return MHD_YES;
		}
		json_decref(body);
	} else {
		for (const char *const *n = names; *n != NULL; n++) {
			const char *v = http_query(q, *n);
			if (v != NULL) {
				json_object_set_new(args, *n, json_string(v));
			}
		}
	}
	http_call(q, add ? "acl.add" : "acl.remove", args, NULL, 0, &c);
	json_decref(args);
	return add ? reply_created(q, &c) : http_call_reply(q, &c, MHD_HTTP_OK);
}

/* ---- audit log ---- */

static enum MHD_Result
h_audit(struct req *q)
{
	json_t *args = json_object();
	const char *kind = q->rt->arg;
	struct call c;

	if (kind != NULL && strcmp(kind, "one") == 0) {
		long long seq;
		if (!api_number(q->params[0], 1, LLONG_MAX, &seq)) {
			json_decref(args);
			return http_error(q, MHD_HTTP_NOT_FOUND, "not_found",
					  "audit entries are named by their seq");
		}
		json_object_set_new(args, "seq", json_integer(seq));
	} else {
		if (page_args(q, args) != 0) {
			json_decref(args);
			return MHD_YES;
		}
		if (kind != NULL && strcmp(kind, "deviceconfig") == 0) {
			char res[200];
			snprintf(res, sizeof(res), "DEVICE_CONFIG:%s", q->params[0]);
			json_object_set_new(args, "resource", json_string(res));
		} else if (kind != NULL && strcmp(kind, "type") == 0) {
			json_object_set_new(args, "resourceType", json_string(q->params[0]));
		} else if (http_query(q, "resource") != NULL) {
			json_object_set_new(args, "resource",
					    json_string(http_query(q, "resource")));
		}
	}
	http_call(q, "audit.list", args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

/* ---- events ---- */

static enum MHD_Result
h_events(struct req *q)
{
	const char *last = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Last-Event-ID");
	const char *since = last != NULL ? last : http_query(q, "since");
	long long n = -1;

	if (since != NULL) {
		if (!api_number(since, 0, LLONG_MAX, &n)) {
			return bad(q, "%s must be an event sequence number",
				   last != NULL ? "Last-Event-ID" : "since");
		}
	}
	return http_events(q, n);
}

/* ---- keys, for verifiers ---- */

/* How a key of ALG signs (doc/formats.md), and the digest a prehashed input of it is. */
static const struct {
	const char *alg, *scheme, *digest;
	int digest_len;
} key_schemes[] = {
    {"ECC_NIST_P256", "ECDSA_SHA_256", "SHA-256", 32},
    {"ECC_NIST_P384", "ECDSA_SHA_384", "SHA-384", 48},
    {"RSA_3072", "RSASSA_PSS_SHA_256", "SHA-256", 32},
    {"RSA_4096", "RSASSA_PSS_SHA_256", "SHA-256", 32},
    {"ED25519", "ED25519", NULL, 0},
};

static enum MHD_Result
h_key_show(struct req *q)
{
	json_t *args = json_pack("{s:s}", "label", q->params[0]), *k;
	const char *alg;
	struct call c;

	http_call(q, "key.show", args, NULL, 0, &c);
	json_decref(args);
	if (c.err != 0) {
		return http_call_reply(q, &c, MHD_HTTP_OK);
	}
	k = c.result;
	alg = json_string_value(json_object_get(k, "algorithm"));
	for (size_t i = 0; alg != NULL && i < sizeof(key_schemes) / sizeof(key_schemes[0]); i++) {
		if (strcmp(alg, key_schemes[i].alg) == 0) {
			json_object_set_new(k, "schemes", json_pack("[s]", key_schemes[i].scheme));
			json_object_set_new(k, "prehash",
					    key_schemes[i].digest != NULL
						? json_pack("{s:s, s:i}", "hash",
							    key_schemes[i].digest, "length",
							    key_schemes[i].digest_len)
						: json_null());
		}
	}
	if (json_object_get(k, "schemes") == NULL) {
		/* A secret key: it encrypts, it signs nothing. */
		json_object_set_new(k, "schemes", json_array());
		json_object_set_new(k, "prehash", json_null());
	}
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

static enum MHD_Result
h_whoami(struct req *q)
{
	struct call c;

	http_call(q, "whoami", NULL, NULL, 0, &c);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

static enum MHD_Result
h_openapi(struct req *q)
{
	if (q->f->openapi == NULL) {
		return http_error(q, MHD_HTTP_NOT_FOUND, "not_found",
				  "the OpenAPI document is not installed");
	}
	return http_static(q, q->f->openapi, q->f->openapi_len, "application/yaml");
}

/* ---- tenant configuration ---- */

static enum MHD_Result
h_cfg_get(struct req *q)
{
	return call_with_param(q, "config.get", "key");
}

static enum MHD_Result
h_cfg_set(struct req *q)
{
	static const char *const names[] = {"value", NULL};
	json_t *body = http_body_object(q), *args;
	struct call c;

	if (body == NULL) {
		return MHD_YES;
	}
	args = json_object();
	if (body_take(q, body, args, names) != 0) {
		json_decref(body);
		json_decref(args);
		return MHD_YES;
	}
	json_decref(body);
	if (json_object_get(args, "value") == NULL) {
		json_decref(args);
		return bad(q, "%s is required", "value");
	}
	json_object_set_new(args, "key", json_string(q->params[0]));
	http_call(q, "config.set", args, NULL, 0, &c);
	json_decref(args);
	return http_call_reply(q, &c, MHD_HTTP_OK);
}

/* ---- signed reports ---- */

static enum MHD_Result
h_report(struct req *q)
{
	static const char *const names[] = {NULL};
	const struct part *p;
	json_t *args;
	struct call c;
	int n;

	if (fields_check(q, names) != 0) {
		return MHD_YES;
	}
	p = find_part(&q->up, "signedReport", &n);
	if (n != 1) {
		return bad(q, "exactly one '%s' file is required", "signedReport");
	}
	if (p->size == 0) {
		return bad(q, "the %s is empty", "signedReport");
	}
	args = json_pack("{s:s}", "kind", q->rt->arg);
	http_call(q, "report.submit", args, &q->up.fd, 1, &c);
	json_decref(args);
	if (c.err != 0) {
		/* signetd heads the message with the verification's own code ("untrusted: ..."). */
		size_t k = strspn(c.message, "abcdefghijklmnopqrstuvwxyz_");
		enum MHD_Result r;
		if (k > 0 && k < 32 && c.message[k] == ':' && c.message[k + 1] == ' ') {
			char code[32];
			memcpy(code, c.message, k);
			code[k] = '\0';
			r = http_error(q, http_status_of(c.err), code, "%s", c.message + k + 2);
		} else {
			r = http_call_error(q, &c);
		}
		call_done(&c);
		return r;
	}
	/* A report is read again in the audit log, whose entry holds its record. */
	return reply_created_at(q, &c, "/api/v1/auditlog?resource=REPORT:");
}

/* ---- the table ---- */

static const char *const encrypt_files[] = {"file", NULL};
static const char *const sign_files[] = {"file", NULL};
static const char *const package_files[] = {"inputFiles", "metadata", NULL};
static const char *const report_files[] = {"signedReport", NULL};

#define TASK_ROUTES(path, type)                                                                    \
	{"GET", "/api/v1/" path, h_task_list, BODY_NONE, NULL, type, false},                       \
	    {"GET", "/api/v1/" path "/*", h_task_show, BODY_NONE, NULL, type, false},              \
	    {"POST", "/api/v1/" path "/*/approval", h_approval, BODY_JSON, NULL, type, false},     \
	{                                                                                          \
		"POST", "/api/v1/" path "/*/cancel", h_cancel, BODY_NONE, NULL, type, false        \
	}

static const struct route routes[] = {
    {"GET", "/healthz", h_health, BODY_NONE, NULL, NULL, true},
    {"GET", "/", ui_redirect, BODY_NONE, NULL, NULL, true},
    {"GET", "/ui", ui_handler, BODY_NONE, NULL, NULL, true},
    {"GET", "/ui/*", ui_handler, BODY_NONE, NULL, NULL, true},
    {"POST", "/api/ui/session", session_handler, BODY_JSON, NULL, NULL, true},
    {"GET", "/api/ui/session", session_handler, BODY_NONE, NULL, NULL, false},
    {"DELETE", "/api/ui/session", session_handler, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/ui/otp", otp_enroll_handler, BODY_JSON, NULL, NULL, false},
    {"GET", "/api/openapi.yaml", h_openapi, BODY_NONE, NULL, NULL, true},
    {"GET", "/metrics", metrics_handler, BODY_NONE, NULL, NULL, true},
    {"GET", "/api/v1/whoami", h_whoami, BODY_NONE, NULL, NULL, false},
    {"GET", "/api/v1/keys", h_list, BODY_NONE, NULL, "key.list", false},
    {"GET", "/api/v1/keys/*", h_key_show, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/v1/signingTask", h_sign, BODY_EITHER, sign_files, "SIGNING", false},
    TASK_ROUTES("signingTask", "SIGNING"),
    {"POST", "/api/v1/encryptionTask", h_encrypt, BODY_MULTIPART, encrypt_files, "ENCRYPTION",
     false},
    TASK_ROUTES("encryptionTask", "ENCRYPTION"),
    {"GET", "/api/v1/encryptionTask/*/download", h_download, BODY_NONE, NULL, "ENCRYPTION", false},
    {"POST", "/api/v1/packagingTask", h_package, BODY_MULTIPART, package_files, "PACKAGING", false},
    TASK_ROUTES("packagingTask", "PACKAGING"),
    {"GET", "/api/v1/packagingTask/*/download", h_download, BODY_NONE, NULL, "PACKAGING", false},
    {"GET", "/api/v1/deviceConfig", h_list, BODY_NONE, NULL, "devconf.list", false},
    {"POST", "/api/v1/deviceConfig", h_dc_write, BODY_JSON, NULL, NULL, false},
    {"GET", "/api/v1/deviceConfig/*", h_dc_show, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/v1/deviceConfig/*", h_dc_write, BODY_JSON, NULL, NULL, false},
    {"GET", "/api/v1/acl", h_list, BODY_NONE, NULL, "acl.list", false},
    {"GET", "/api/v1/acl/subjects", h_acl_subjects, BODY_NONE, NULL, NULL, false},
    {"GET", "/api/v1/acl/subjects/rules", h_acl_rules, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/v1/acl/subjects/rules", h_acl_change, BODY_JSON, NULL, NULL, false},
    {"DELETE", "/api/v1/acl/subjects/rules", h_acl_change, BODY_NONE, NULL, NULL, false},
    {"GET", "/api/v1/auditlog", h_audit, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/v1/auditlog/verify", h_list, BODY_NONE, NULL, "audit.verify", false},
    {"GET", "/api/v1/auditlog/*", h_audit, BODY_NONE, NULL, "one", false},
    {"GET", "/api/v1/auditlog/deviceconfigs/*", h_audit, BODY_NONE, NULL, "deviceconfig", false},
    {"GET", "/api/v1/auditlog/resources/*", h_audit, BODY_NONE, NULL, "type", false},
    {"GET", "/api/v1/events", h_events, BODY_NONE, NULL, NULL, false},
    {"GET", "/api/mgmt/v1/tenant-config/*", h_cfg_get, BODY_NONE, NULL, NULL, false},
    {"POST", "/api/mgmt/v1/tenant-config/*", h_cfg_set, BODY_JSON, NULL, NULL, false},
    {"POST", "/api/install/v1/system-reports", h_report, BODY_MULTIPART, report_files, "SYSTEM",
     false, REPORT_BODY_MAX},
    {"POST", "/api/install/v1/update-reports", h_report, BODY_MULTIPART, report_files, "UPDATE",
     false, REPORT_BODY_MAX},
};

/* Split PATH into segments; false when it has too many, too long or empty ones. */
static bool
split(const char *path, char seg[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1], int *n)
{
	const char *p = path;

	*n = 0;
	if (*p != '/') {
		return false;
	}
	while (*p == '/') {
		const char *e;
		size_t len;

		p++;
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 0) {
			/* A trailing slash is tolerated (and "/" itself); an empty segment
			 * elsewhere is not. */
			return e == NULL && (*n > 0 || p == path + 1);
		}
		if (*n == HTTP_MAX_SEGMENTS || len > HTTP_MAX_SEGMENT) {
			return false;
		}
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
				return false;
			}
		}
		memcpy(seg[*n], p, len);
		seg[*n][len] = '\0';
		(*n)++;
		p += len;
	}
	return *p == '\0';
}

char *
api_allowed(const char *path)
{
	char seg[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1], out[64] = "";
	int n;

	if (!split(path, seg, &n)) {
		return NULL;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char pat[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1];
		int pn;
		bool match = true;

		split(routes[i].pattern, pat, &pn);
		if (pn != n) {
			continue;
		}
		for (int k = 0; k < n && match; k++) {
			match = strcmp(pat[k], "*") == 0 || strcmp(pat[k], seg[k]) == 0;
		}
		if (match && strstr(out, routes[i].method) == NULL &&
		    strlen(out) + strlen(routes[i].method) + 3 < sizeof(out)) {
			if (out[0] != '\0') {
				strcat(out, ", ");
			}
			strcat(out, routes[i].method);
		}
	}
	return out[0] != '\0' ? strdup(out) : NULL;
}

const struct route *
api_route(const char *method, const char *path, char params[2][HTTP_MAX_SEGMENT + 1], int *nparams,
	  bool *method_mismatch)
{
	char seg[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1];
	int n;

	*method_mismatch = false;
	if (!split(path, seg, &n)) {
		return NULL;
	}
	/* A literal segment wins over a parameter: try literal-only matches first. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			char pat[HTTP_MAX_SEGMENTS][HTTP_MAX_SEGMENT + 1];
			int pn, np = 0;
			bool match, wild = false;

			split(routes[i].pattern, pat, &pn);
			if (pn != n) {
				continue;
			}
			match = true;
			for (int k = 0; k < n && match; k++) {
				if (strcmp(pat[k], "*") == 0) {
					wild = true;
					if (np < 2) {
						/* split() bounds each segment to HTTP_MAX_SEGMENT
						 */
						memcpy(params[np++], seg[k], strlen(seg[k]) + 1);
					}
				} else {
					match = strcmp(pat[k], seg[k]) == 0;
				}
			}
			if (!match || (pass == 0 && wild)) {
				continue;
			}
			/* HEAD is GET without the body (MHD drops it). */
			if (strcmp(routes[i].method, method) != 0 &&
			    !(strcmp(method, "HEAD") == 0 &&
			      strcmp(routes[i].method, "GET") == 0)) {
				*method_mismatch = true;
				continue;
			}
			*nparams = np;
			return &routes[i];
		}
	}
	return NULL;
}

bool
api_number(const char *s, long long min, long long max, long long *out)
{
	long long n = 0;

	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (LLONG_MAX - (*s - '0')) / 10) {
			return false;
		}
		n = n * 10 + (*s - '0');
	}
	if (n < min || n > max) {
		return false;
	}
	*out = n;
	return true;
}

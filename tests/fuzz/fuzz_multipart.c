/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the gateway's multipart field handling: files to the spool, text fields. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "front/http.h"
#include "lib/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is a script of iterator calls, as libmicrohttpd's post
 * processor makes them: each call is an op byte (which field name, which
 * file name, which offset), then what the op needs. Part data is a fill
 * pattern, so that a short input can make parts past the spool's write
 * buffer (256 KiB).
 */
#define DATA_MAX (320 * 1024) /* bytes of part data in one run */

static const char *const paths[] = {"/api/v1/encryptionTask", "/api/v1/packagingTask",
				    "/api/install/v1/system-reports"};
static const char *const keys[] = {"file", "inputFiles",     "metadata",    "deviceConfigId",
				   "name", "sha256checksum", "signedReport"};

struct script {
	const uint8_t *p;
	size_t n;
};

static unsigned
take(struct script *s)
{
	unsigned v = 0;

	if (s->n > 0) {
		v = *s->p++;
		s->n--;
	}
	return v;
}

/* A string of the script: a length byte, then that many bytes (a NUL ends it early). */
static char *
take_string(struct script *s, char *buf, size_t cap)
{
	size_t len = take(s), k = 0;

	while (k < len && k + 1 < cap && s->n > 0) {
		buf[k++] = (char)take(s);
	}
	buf[k] = '\0';
	return buf;
}

static bool
is_file_field(const struct route *rt, const char *key)
{
	for (const char *const *f = rt->file_fields; f != NULL && *f != NULL; f++) {
		if (strcmp(*f, key) == 0) {
			return true;
		}
	}
	return false;
}

/* What a successful upload must look like: parts back to back in the spool, each its digest. */
static void
check_upload(const struct req *q)
{
	const struct upload *u = &q->up;
	uint64_t off = 0;
	uint8_t *file = NULL;
	struct stat st;
	const char *k;
	json_t *v;

	if (u->nparts < 0 || u->nparts > HTTP_MAX_PARTS) {
		abort();
	}
	for (int i = 0; i < u->nparts; i++) {
		if (u->parts[i].off != off || !is_file_field(q->rt, u->parts[i].field) ||
		    strlen(u->parts[i].filename) > 255) {
			abort();
		}
		off += u->parts[i].size;
	}
	if (off != u->total) {
		abort();
	}
	if (json_object_size(u->fields) > HTTP_MAX_FIELDS) {
		abort();
	}
	json_object_foreach(u->fields, k, v) {
		if (is_file_field(q->rt, k) || !json_is_string(v) ||
		    json_string_length(v) > HTTP_MAX_FIELD - 1) {
			abort();
		}
	}
	if (u->total == 0) {
		return;
	}
	if (u->fd < 0 || fstat(u->fd, &st) != 0 || (uint64_t)st.st_size != u->total ||
	    (file = malloc(u->total)) == NULL ||
	    pread(u->fd, file, u->total, 0) != (ssize_t)u->total) {
		abort();
	}
	for (int i = 0; i < u->nparts; i++) {
		uint8_t d[32];
		EVP_Digest(file + u->parts[i].off, u->parts[i].size, d, NULL, EVP_sha256(), NULL);
		if (memcmp(d, u->parts[i].sha256, 32) != 0) {
			abort();
		}
	}
	free(file);
}

static void
check_failure(const struct req *q)
{
	static const int statuses[] = {400, 413, 500, 503, 507};
	bool known = false;

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		known |= q->fail_status == statuses[i];
	}
	if (!known || q->fail_code[0] == '\0' || q->fail_msg[0] == '\0') {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct front_cfg cfg;
	static struct front f;
	static uint8_t *fill;
	struct script s = {data, size};
	char params[2][HTTP_MAX_SEGMENT + 1], kbuf[64], fbuf[400];
	char cur[64] = "";
	uint64_t cur_off = 0;
	size_t budget = DATA_MAX;
	struct req *q;
	bool mismatch;
	int np;

	if (fill == NULL) {
		const char *tmp = getenv("TMPDIR");
		log_set_level(LOG_LEVEL_ERR);
		cfg.tmpdir = (char *)(tmp != NULL ? tmp : "/tmp");
		f.cfg = &cfg;
		if ((fill = malloc(65536 + 256)) == NULL) {
			abort();
		}
		for (size_t i = 0; i < 65536 + 256; i++) {
			fill[i] = (uint8_t)(i * 7 + (i >> 8));
		}
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		return 0;
	}
	q->f = &f;
	q->up.fd = -1;
	q->rt = api_route("POST", paths[take(&s) % 3], params, &np, &mismatch);
	if (q->rt == NULL || q->rt->body != BODY_MULTIPART || http_upload_begin(q) != 0) {
		abort();
	}
	while (s.n > 0 && q->fail_status == 0) {
		unsigned op = take(&s), kk = op & 7, fk = (op >> 3) & 3, ok = (op >> 5) & 3;
		const char *key, *fname = NULL;
		uint64_t off;
		size_t len;

		key = kk < 7 ? keys[kk] : take_string(&s, kbuf, sizeof(kbuf));
		if (kk == 7 && kbuf[0] == '\0') {
			key = NULL; /* a part without a name */
		}
		if (fk == 1) {
			fname = "firmware.bin";
		} else if (fk == 2) {
			fname = take_string(&s, fbuf, sizeof(fbuf));
		} else if (fk == 3) {
			fname = "\xff\xfe not UTF-8";
		}
		len = take(&s) | (size_t)take(&s) << 8;
		if (ok == 2) {
			len = 0;
		}
		if (len > budget) {
			len = budget;
		}
		budget -= len;
		/* 0 and 2: a new part; 1: the next piece of the part; 3: any offset. */
		if (ok == 1 && key != NULL && strcmp(key, cur) == 0) {
			off = cur_off;
		} else if (ok == 3) {
			off = take(&s);
		} else {
			off = 0;
		}
		snprintf(cur, sizeof(cur), "%s", key != NULL ? key : "");
		cur_off = off + len;
		if (http_upload_iterate(q, MHD_POSTDATA_KIND, key, fname,
					"application/octet-stream", NULL,
					(const char *)fill + (op & 0xff), off, len) != MHD_YES) {
			break;
		}
	}
	http_upload_end(q);
	if (q->fail_status != 0) {
		check_failure(q);
	} else {
		check_upload(q);
	}
	http_req_free(q);
	return 0;
}

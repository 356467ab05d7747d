/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of daemon/report.c against messages the openssl CLI signs at test time. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/report.h"
#include "lib/error.h"

#define DAY (24 * 60 * 60)
#define FP_ABC                                                                                     \
	"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:"  \
	"45:67:89"

static char dir[64];
static time_t now;

static int
setup(void **state)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/signet-report.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >'%s/fixtures.log' 2>&1", REPORT_FIXTURES, dir,
		 dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "report_fixtures.sh failed:\n");
		snprintf(cmd, sizeof(cmd), "cat '%s/fixtures.log' >&2", dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "(no log)\n");
		}
		return -1;
	}
	now = time(NULL);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static uint8_t *
load(const char *name, size_t *len)
{
	char path[256];
	uint8_t *data;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* The fingerprint `openssl x509 -fingerprint -sha256` printed for certificate NAME. */
static void
fingerprint(const char *name, char out[REPORT_FINGERPRINT_SIZE])
{
	char file[64];
	uint8_t *fp;
	size_t len;

	snprintf(file, sizeof(file), "%s.fp", name);
	fp = load(file, &len);
	while (len > 0 && (fp[len - 1] == '\n' || fp[len - 1] == '\r')) {
		fp[--len] = '\0';
	}
	assert_int_equal(len, REPORT_FINGERPRINT_SIZE - 1);
	memcpy(out, fp, len + 1);
	free(fp);
}

/* A trusted list of the fingerprints of the named certificates (NULL-terminated). */
static json_t *
anchors(const char *name, ...)
{
	char fp[REPORT_FINGERPRINT_SIZE];
	json_t *list = json_array();
	va_list ap;

	va_start(ap, name);
	for (const char *n = name; n != NULL; n = va_arg(ap, const char *)) {
		fingerprint(n, fp);
		assert_int_equal(json_array_append_new(list, json_string(fp)), 0);
	}
	va_end(ap);
	return list;
}

static bool
result_is_empty(const struct report_result *res)
{
	return res->content == NULL && res->signer_subject[0] == '\0' &&
	       res->signer_fingerprint[0] == '\0' && res->anchor_fingerprint[0] == '\0' &&
	       res->gateway_id[0] == '\0';
}

static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s < 0x20 || *s > 0x7e) {
			return false;
		}
	}
	return true;
}

/* Verify a buffer; on failure, check the promises every refusal keeps. */
static enum report_status
verify_buf(const uint8_t *msg, size_t len, const json_t *fps, time_t at, struct report_result *res)
{
	char why[256];
	enum report_status st;

	memset(res, 0x5a, sizeof(*res));
	memset(why, 0x5a, sizeof(why));
	st = report_verify(msg, len, fps, at, res, why, sizeof(why));
	assert_int_equal(ERR_peek_error(), 0);
	assert_non_null(memchr(why, '\0', sizeof(why)));
	assert_true(printable_ascii(why));
	if (st != REPORT_OK) {
		assert_true(result_is_empty(res));
		assert_true(why[0] != '\0');
	} else {
		assert_non_null(res->content);
	}
	return st;
}

static enum report_status
verify_file(const char *name, const json_t *fps, time_t at, struct report_result *res)
{
	enum report_status st;
	uint8_t *msg;
	size_t len;

	msg = load(name, &len);
	st = verify_buf(msg, len, fps, at, res);
	free(msg);
	return st;
}

/* Verify NAME against the named anchors at AT; the result is dropped. */
static enum report_status
verify_simple(const char *name, const char *anchor, time_t at)
{
	struct report_result res;
	json_t *fps = anchors(anchor, NULL);
	enum report_status st = verify_file(name, fps, at, &res);

	json_decref(res.content);
	json_decref(fps);
	return st;
}

static void
assert_guide_report(const struct report_result *res)
{
	char fp[REPORT_FINGERPRINT_SIZE];

	assert_true(json_is_object(res->content));
	assert_string_equal(json_string_value(json_object_get(res->content, "gatewayId")),
			    "101012902");
	assert_int_equal(json_array_size(json_object_get(res->content, "values")), 2);
	/* RFC 2253: most specific RDN first, the comma in the O escaped. */
	assert_string_equal(res->signer_subject, "CN=101012902,O=Acme\\, Inc.");
	assert_string_equal(res->gateway_id, "101012902");
	fingerprint("gateway", fp);
	assert_string_equal(res->signer_fingerprint, fp);
}

/* ---- fingerprints ---- */

static void
test_normalise_good(void **state)
{
	char out[REPORT_FINGERPRINT_SIZE];

	assert_int_equal(report_fingerprint_normalise(FP_ABC, out), 0);
	assert_string_equal(out, FP_ABC);
	assert_int_equal(
	    report_fingerprint_normalise("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:"
					 "01:23:45:67:89:ab:cd:ef:01:23:45:67:89",
					 out),
	    0);
	assert_string_equal(out, FP_ABC);
	assert_int_equal(
	    report_fingerprint_normalise("aB:Cd:eF:01:23:45:67:89:Ab:cD:Ef:01:23:45:67:89:AB:cd:ef:"
					 "01:23:45:67:89:ab:CD:EF:01:23:45:67:89",
					 out),
	    0);
	assert_string_equal(out, FP_ABC);
}

static void
test_normalise_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    /* 31 and 33 pairs, a trailing colon */
	    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
	    "23:45:67",
	    FP_ABC ":00",
	    FP_ABC ":",
	    /* not hex, a space, a NUL-free but non-ASCII byte */
	    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
	    "23:45:67:8G",
	    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
	    "23:45:67:8 ",
	    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
	    "23:45:67:8\xc3",
	    /* no colons, other separators, a misplaced colon */
	    "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
	    "AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-"
	    "23-45-67-89",
	    "A:BCD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
	    "23:45:67:89",
	    /* surrounding whitespace, the CLI's prefix, SHA-1 */
	    " " FP_ABC,
	    FP_ABC "\n",
	    "sha256 Fingerprint=" FP_ABC,
	    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
	};
	char out[REPORT_FINGERPRINT_SIZE];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(report_fingerprint_normalise(bad[i], out), SIGNET_EINVAL);
		assert_string_equal(out, "");
	}
	assert_int_equal(report_fingerprint_normalise(NULL, out), SIGNET_EINVAL);
}

static void
test_parse_dedup(void **state)
{
	json_t *in = json_pack("[sss]", FP_ABC,
			       "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:"
			       "66:77:88:99:aa:bb:cc:dd:ee:ff",
			       "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:"
			       "67:89:ab:cd:ef:01:23:45:67:89");
	const char *why = NULL;
	json_t *out = NULL;

	assert_int_equal(report_fingerprints_parse(in, &out, &why), 0);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(json_string_value(json_array_get(out, 0)), FP_ABC);
	assert_string_equal(json_string_value(json_array_get(out, 1)),
			    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:"
			    "66:77:88:99:AA:BB:CC:DD:EE:FF");
	json_decref(out);
	json_decref(in);

	/* An empty list is valid: it means no anchor. */
	in = json_array();
	assert_int_equal(report_fingerprints_parse(in, &out, &why), 0);
	assert_true(json_is_array(out));
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	json_decref(in);
}

static void
list_of(json_t *list, int n)
{
	char fp[REPORT_FINGERPRINT_SIZE];

	for (int i = 0; i < n; i++) {
		snprintf(fp, sizeof(fp), "%02X%s", i, FP_ABC + 2);
		json_array_append_new(list, json_string(fp));
	}
}

static void
test_parse_limits(void **state)
{
	json_t *in = json_array(), *out = NULL;
	const char *why = NULL;

	list_of(in, REPORT_MAX_FINGERPRINTS);
	assert_int_equal(report_fingerprints_parse(in, &out, &why), 0);
	assert_int_equal(json_array_size(out), REPORT_MAX_FINGERPRINTS);
	json_decref(out);
	json_decref(in);

	/* Counted before de-duplication: the input is what is bounded. */
	in = json_array();
	list_of(in, REPORT_MAX_FINGERPRINTS);
	json_array_append_new(in, json_string(FP_ABC));
	out = json_true();
	assert_int_equal(report_fingerprints_parse(in, &out, &why), SIGNET_EINVAL);
	assert_null(out);
	assert_non_null(why);
	json_decref(in);
}

static void
test_parse_refusals(void **state)
{
	json_t *bad[] = {
	    json_string(FP_ABC),
	    json_null(),
	    json_pack("{s:s}", "value", FP_ABC),
	    json_pack("[si]", FP_ABC, 1),
	    json_pack("[sn]", FP_ABC),
	    json_pack("[ss]", FP_ABC, "nope"),
	    json_pack("[[s]]", FP_ABC),
	};
	const char *why;
	json_t *out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		out = json_true();
		assert_int_equal(report_fingerprints_parse(bad[i], &out, &why), SIGNET_EINVAL);
		assert_null(out);
		assert_non_null(why);
		json_decref(bad[i]);
	}
	why = NULL;
	assert_int_equal(report_fingerprints_parse(NULL, &out, &why), SIGNET_EINVAL);
	assert_non_null(why);
}

static void
test_status_codes(void **state)
{
	static const char *const codes[] = {
	    "ok",           "not_smime",          "bad_signature", "untrusted",
	    "cert_expired", "cert_not_yet_valid", "not_json",      "no_anchor",
	    "too_large",    "internal",
	};

	for (int s = REPORT_OK; s <= REPORT_INTERNAL; s++) {
		assert_string_equal(report_status_code((enum report_status)s), codes[s]);
	}
	assert_string_equal(report_status_code((enum report_status)99), "internal");
	assert_string_equal(report_status_code((enum report_status) - 1), "internal");
}

/* ---- report_verify: accepted ---- */

static void
test_root_anchor(void **state)
{
	char fp[REPORT_FINGERPRINT_SIZE];
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);

	assert_int_equal(verify_file("systemreport.msg.signed", fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	fingerprint("ca_root", fp);
	assert_string_equal(res.anchor_fingerprint, fp);
	json_decref(res.content);
	json_decref(fps);
}

static void
test_intermediate_anchor(void **state)
{
	char fp[REPORT_FINGERPRINT_SIZE];
	struct report_result res;
	json_t *fps = anchors("ca_intermediate", NULL);

	assert_int_equal(verify_file("systemreport.msg.signed", fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	fingerprint("ca_intermediate", fp);
	assert_string_equal(res.anchor_fingerprint, fp);
	json_decref(res.content);
	json_decref(fps);

	/* Both configured: the chain stops at the first trusted certificate up from the signer. */
	fps = anchors("ca_root", "ca_intermediate", NULL);
	assert_int_equal(verify_file("systemreport.msg.signed", fps, now, &res), REPORT_OK);
	assert_string_equal(res.anchor_fingerprint, fp);
	json_decref(res.content);
	json_decref(fps);
}

static void
test_signer_anchor(void **state)
{
	char fp[REPORT_FINGERPRINT_SIZE];
	struct report_result res;
	json_t *fps = anchors("gateway", NULL);

	assert_int_equal(verify_file("nochain.msg.signed", fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	fingerprint("gateway", fp);
	assert_string_equal(res.anchor_fingerprint, fp);
	json_decref(res.content);
	json_decref(fps);
}

/* The same report signed opaquely (-nodetach) verifies too. */
static void
test_opaque(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);

	assert_int_equal(verify_file("opaque.msg.signed", fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	json_decref(res.content);
	json_decref(fps);
}

/* Mail and HTTP clients rewrite line ends: all-LF and all-CRLF copies still verify. */
static void
test_line_ends(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t *msg, *lf, *crlf;
	size_t len, nlf = 0, ncrlf = 0;

	msg = load("systemreport.msg.signed", &len);
	lf = malloc(len);
	crlf = malloc(2 * len);
	assert_non_null(lf);
	assert_non_null(crlf);
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r') {
			continue;
		}
		lf[nlf++] = msg[i];
		if (msg[i] == '\n') {
			crlf[ncrlf++] = '\r';
		}
		crlf[ncrlf++] = msg[i];
	}
	assert_true(nlf < len);
	assert_int_equal(verify_buf(lf, nlf, fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	json_decref(res.content);
	assert_int_equal(verify_buf(crlf, ncrlf, fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	json_decref(res.content);
	free(crlf);
	free(lf);
	free(msg);
	json_decref(fps);
}

/* Text after the closing boundary is a MIME epilogue: ignored, not signed, not returned. */
static void
test_epilogue_ignored(void **state)
{
	static const char tail[] = "{\"injected\": true}\n";
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t *msg;
	size_t len;

	msg = load("systemreport.msg.signed", &len);
	msg = realloc(msg, len + sizeof(tail));
	assert_non_null(msg);
	memcpy(msg + len, tail, sizeof(tail) - 1);
	assert_int_equal(verify_buf(msg, len + sizeof(tail) - 1, fps, now, &res), REPORT_OK);
	assert_guide_report(&res);
	assert_null(json_object_get(res.content, "injected"));
	json_decref(res.content);
	free(msg);
	json_decref(fps);
}

/* ---- report_verify: refused ---- */

static void
test_no_anchor(void **state)
{
	static const uint8_t junk[] = "not even S/MIME";
	struct report_result res;
	json_t *empty = json_array();
	uint8_t *big = calloc(1, 2 * REPORT_MAX_SIZE);

	assert_non_null(big);
	assert_int_equal(verify_file("systemreport.msg.signed", empty, now, &res),
			 REPORT_NO_ANCHOR);
	assert_int_equal(verify_file("systemreport.msg.signed", NULL, now, &res), REPORT_NO_ANCHOR);
	/* Checked first: nothing is parsed without an anchor. */
	assert_int_equal(verify_buf(junk, sizeof(junk), empty, now, &res), REPORT_NO_ANCHOR);
	assert_int_equal(verify_buf(big, 2 * REPORT_MAX_SIZE, empty, now, &res), REPORT_NO_ANCHOR);
	free(big);
	json_decref(empty);
}

static void
test_impostor_root(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", "ca_intermediate", NULL);

	/* Same names as the real PKI, other keys. */
	assert_int_equal(verify_file("evil.msg.signed", fps, now, &res), REPORT_UNTRUSTED);
	json_decref(fps);
	/* A trusted certificate riding along in the message does not make its signer trusted. */
	fps = anchors("ca_root", NULL);
	assert_int_equal(verify_file("evilplusroot.msg.signed", fps, now, &res), REPORT_UNTRUSTED);
	json_decref(fps);
	/* Trusting the impostor's root makes it acceptable: the fingerprint is the trust. */
	assert_int_equal(verify_simple("evil.msg.signed", "evil_root", now), REPORT_OK);
}

static void
test_tampered(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t *msg;
	char *p;
	size_t len;

	msg = load("systemreport.msg.signed", &len);
	p = strstr((char *)msg, "1684201667");
	assert_non_null(p);
	p[9] = '8';
	assert_int_equal(verify_buf(msg, len, fps, now, &res), REPORT_BAD_SIGNATURE);
	p[9] = '7';
	/* A changed header of the signed entity is part of the signed bytes as well. */
	p = strstr((char *)msg, "Content-Type: text/plain");
	assert_non_null(p);
	memcpy(p + strlen("Content-Type: text/"), "PLAIN", 5);
	assert_int_equal(verify_buf(msg, len, fps, now, &res), REPORT_BAD_SIGNATURE);
	free(msg);
	json_decref(fps);
}

/* The gateway certificate lives one day; two days later it has expired. */
static void
test_expired_signer(void **state)
{
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", now), REPORT_OK);
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", now + 2 * DAY),
			 REPORT_CERT_EXPIRED);
	assert_int_equal(verify_simple("short.msg.signed", "ca_intermediate", now + 2 * DAY),
			 REPORT_CERT_EXPIRED);
	/* Even when the expired certificate is itself the anchor. */
	assert_int_equal(verify_simple("short.msg.signed", "gateway_short", now + 2 * DAY),
			 REPORT_CERT_EXPIRED);
}

/* An anchor that is not self-signed (a partial chain) must be valid at NOW as well. */
static void
test_expired_anchor(void **state)
{
	assert_int_equal(verify_simple("undershort.msg.signed", "int_short", now), REPORT_OK);
	assert_int_equal(verify_simple("undershort.msg.signed", "int_short", now + 2 * DAY),
			 REPORT_CERT_EXPIRED);
}

static time_t
cert_time(const char *name, bool end)
{
	char path[256];
	struct tm tm;
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	assert_int_equal(ASN1_TIME_to_tm(end ? X509_get0_notAfter(x) : X509_get0_notBefore(x), &tm),
			 1);
	X509_free(x);
	return timegm(&tm);
}

/* The boundaries, as OpenSSL draws them: valid from notBefore on, expired at notAfter. */
static void
test_validity_boundaries(void **state)
{
	time_t from = cert_time("gateway_short", false), to = cert_time("gateway_short", true);

	assert_int_equal(to - from, DAY);
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", from - 1),
			 REPORT_CERT_NOT_YET_VALID);
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", from), REPORT_OK);
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", to - 1), REPORT_OK);
	assert_int_equal(verify_simple("short.msg.signed", "ca_root", to), REPORT_CERT_EXPIRED);
}

static void
test_not_yet_valid(void **state)
{
	assert_int_equal(verify_simple("systemreport.msg.signed", "ca_root", now - DAY),
			 REPORT_CERT_NOT_YET_VALID);
	assert_int_equal(verify_simple("systemreport.msg.signed", "ca_intermediate", now - DAY),
			 REPORT_CERT_NOT_YET_VALID);
	assert_int_equal(verify_simple("nochain.msg.signed", "gateway", now - DAY),
			 REPORT_CERT_NOT_YET_VALID);
	/* The root lives 1024 days, the gateway 365: past both, expired. */
	assert_int_equal(verify_simple("systemreport.msg.signed", "ca_root", now + 400 * DAY),
			 REPORT_CERT_EXPIRED);
}

/* Signed without -certfile: the intermediate is missing, so the root cannot be reached. */
static void
test_missing_chain(void **state)
{
	assert_int_equal(verify_simple("nochain.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
	assert_int_equal(verify_simple("nochain.msg.signed", "ca_intermediate", now),
			 REPORT_UNTRUSTED);
	/* A certificate of the anchor that is not in the message is never fetched elsewhere. */
	assert_int_equal(verify_simple("undershort.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
	/* Signed with -nocerts: the signer itself is unknown. */
	assert_int_equal(verify_simple("nocerts.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
	assert_int_equal(verify_simple("nocerts.msg.signed", "gateway", now), REPORT_UNTRUSTED);
}

static void
test_not_smime(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t junk[4096];
	uint8_t *json;
	size_t len;

	srand(42);
	for (size_t i = 0; i < sizeof(junk); i++) {
		junk[i] = (uint8_t)rand();
	}
	assert_int_equal(verify_buf(junk, sizeof(junk), fps, now, &res), REPORT_NOT_SMIME);
	assert_int_equal(verify_buf(junk, 0, fps, now, &res), REPORT_NOT_SMIME);
	assert_int_equal(verify_buf(NULL, 0, fps, now, &res), REPORT_NOT_SMIME);
	json = load("systemreport.json", &len);
	assert_int_equal(verify_buf(json, len, fps, now, &res), REPORT_NOT_SMIME);
	free(json);
	/* S/MIME, but enveloped rather than signed. */
	assert_int_equal(verify_file("encrypted.msg", fps, now, &res), REPORT_NOT_SMIME);
	json_decref(fps);
}

static void
test_not_json(void **state)
{
	assert_int_equal(verify_simple("notjson.msg.signed", "ca_root", now), REPORT_NOT_JSON);
	assert_int_equal(verify_simple("duplicate.msg.signed", "ca_root", now), REPORT_NOT_JSON);
	assert_int_equal(verify_simple("array.msg.signed", "ca_root", now), REPORT_NOT_JSON);
	assert_int_equal(verify_simple("deep.msg.signed", "ca_root", now), REPORT_NOT_JSON);
	/* Signed without -text: the content has no text/plain header to strip. */
	assert_int_equal(verify_simple("notext.msg.signed", "ca_root", now), REPORT_NOT_JSON);
	/* Content is judged only once the signer is trusted. */
	assert_int_equal(verify_simple("notjson.msg.signed", "evil_root", now), REPORT_UNTRUSTED);
}

static void
test_too_large(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t *big = malloc(2 * REPORT_MAX_SIZE), *msg;
	size_t len;

	assert_non_null(big);
	msg = load("systemreport.msg.signed", &len);
	/* A valid message padded with an epilogue: refused by size alone. */
	memset(big, '\n', 2 * REPORT_MAX_SIZE);
	memcpy(big, msg, len);
	assert_int_equal(verify_buf(big, 2 * REPORT_MAX_SIZE, fps, now, &res), REPORT_TOO_LARGE);
	assert_int_equal(verify_buf(big, REPORT_MAX_SIZE + 1, fps, now, &res), REPORT_TOO_LARGE);
	assert_int_equal(verify_buf(big, REPORT_MAX_SIZE, fps, now, &res), REPORT_OK);
	json_decref(res.content);
	free(msg);
	free(big);
	json_decref(fps);
}

static void
test_cert_count(void **state)
{
	assert_int_equal(verify_simple("sixteen.msg.signed", "ca_root", now), REPORT_OK);
	assert_int_equal(verify_simple("seventeen.msg.signed", "ca_root", now), REPORT_TOO_LARGE);
}

static void
test_two_signers(void **state)
{
	assert_int_equal(verify_simple("twosigners.msg.signed", "ca_root", now),
			 REPORT_BAD_SIGNATURE);
}

static void
test_unusable_signer(void **state)
{
	/* keyUsage keyEncipherment only: the key may not sign. */
	assert_int_equal(verify_simple("enconly.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
	/* Two CNs: no single gateway id. */
	assert_int_equal(verify_simple("twocn.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
}

/* Only CAs allowed to sign certificates extend a chain. */
static void
test_rogue_issuers(void **state)
{
	/* The guide's gateway certificate (v1, no basic constraints) cannot act as a CA. */
	assert_int_equal(verify_simple("rogue.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
	assert_int_equal(verify_simple("rogue.msg.signed", "gateway", now), REPORT_UNTRUSTED);
	/* A CA whose key usage lacks keyCertSign. */
	assert_int_equal(verify_simple("nocertsign.msg.signed", "ca_root", now), REPORT_UNTRUSTED);
}

/* The list must be what report_fingerprints_parse returns; anything else is the caller's bug. */
static void
test_bad_fingerprint_list(void **state)
{
	struct report_result res;
	json_t *fps = json_pack("[s]", "ab:cd");

	assert_int_equal(verify_file("systemreport.msg.signed", fps, now, &res), REPORT_INTERNAL);
	json_decref(fps);
	fps = json_pack("{s:s}", "value", FP_ABC);
	assert_int_equal(verify_file("systemreport.msg.signed", fps, now, &res), REPORT_INTERNAL);
	json_decref(fps);
}

static void
test_why_buffer(void **state)
{
	struct report_result res;
	json_t *fps = anchors("ca_root", NULL);
	uint8_t *msg;
	char why[8];
	size_t len;

	msg = load("nochain.msg.signed", &len);
	assert_int_equal(report_verify(msg, len, fps, now, &res, NULL, 0), REPORT_UNTRUSTED);
	assert_int_equal(report_verify(msg, len, fps, now, &res, why, sizeof(why)),
			 REPORT_UNTRUSTED);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	free(msg);
	json_decref(fps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise_good),  cmocka_unit_test(test_normalise_bad),
	    cmocka_unit_test(test_parse_dedup),     cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_parse_refusals),  cmocka_unit_test(test_status_codes),
	    cmocka_unit_test(test_root_anchor),     cmocka_unit_test(test_intermediate_anchor),
	    cmocka_unit_test(test_signer_anchor),   cmocka_unit_test(test_opaque),
	    cmocka_unit_test(test_line_ends),       cmocka_unit_test(test_epilogue_ignored),
	    cmocka_unit_test(test_no_anchor),       cmocka_unit_test(test_impostor_root),
	    cmocka_unit_test(test_tampered),        cmocka_unit_test(test_expired_signer),
	    cmocka_unit_test(test_expired_anchor),  cmocka_unit_test(test_not_yet_valid),
	    cmocka_unit_test(test_missing_chain),   cmocka_unit_test(test_not_smime),
	    cmocka_unit_test(test_not_json),        cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_cert_count),      cmocka_unit_test(test_two_signers),
	    cmocka_unit_test(test_unusable_signer), cmocka_unit_test(test_bad_fingerprint_list),
	    cmocka_unit_test(test_why_buffer),      cmocka_unit_test(test_validity_boundaries),
	    cmocka_unit_test(test_rogue_issuers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

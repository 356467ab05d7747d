/* SPDX-License-Identifier: Apache-2.0 */
/* Verification of signed system and update reports: S/MIME, a chain to a configured fingerprint. */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "daemon/report.h"
#include "lib/error.h"
#include "lib/log.h"
#include "lib/msg.h"

#define FINGERPRINT_BYTES 32
#define FINGERPRINT_LEN   (3 * FINGERPRINT_BYTES - 1)

static const char *const status_codes[] = {
    [REPORT_OK] = "ok",
    [REPORT_NOT_SMIME] = "not_smime",
    [REPORT_BAD_SIGNATURE] = "bad_signature",
    [REPORT_UNTRUSTED] = "untrusted",
    [REPORT_CERT_EXPIRED] = "cert_expired",
    [REPORT_CERT_NOT_YET_VALID] = "cert_not_yet_valid",
    [REPORT_NOT_JSON] = "not_json",
    [REPORT_NO_ANCHOR] = "no_anchor",
    [REPORT_TOO_LARGE] = "too_large",
    [REPORT_INTERNAL] = "internal",
};

/* Everything report_verify owns while it works; one cleanup frees it all. */
struct verify_state {
	BIO *in;
	BIO *detached;
	BIO *signed_content;
	BIO *text;
	BIO *subject;
	CMS_ContentInfo *cms;
	STACK_OF(X509) *certs;
	X509_STORE *anchors;
	X509_STORE_CTX *ctx;
	json_t *content;
};

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void
fingerprint_format(const uint8_t md[FINGERPRINT_BYTES], char out[REPORT_FINGERPRINT_SIZE])
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < FINGERPRINT_BYTES; i++) {
		out[3 * i] = digits[md[i] >> 4];
		out[3 * i + 1] = digits[md[i] & 0x0f];
		out[3 * i + 2] = i + 1 < FINGERPRINT_BYTES ? ':' : '\0';
	}
}

/* The SHA-256 fingerprint of X's DER encoding, as `openssl x509 -fingerprint -sha256` prints it. */
static bool
fingerprint_of(const X509 *x, char out[REPORT_FINGERPRINT_SIZE])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != FINGERPRINT_BYTES) {
		return false;
	}
	fingerprint_format(md, out);
	return true;
}

static bool
fingerprint_listed(const json_t *fingerprints, const char *fp)
{
	size_t i;
	json_t *v;

	json_array_foreach(fingerprints, i, v) {
		if (strcmp(json_string_value(v), fp) == 0) {
			return true;
		}
	}
	return false;
}

/* Every element a normalised fingerprint: the caller's contract, checked once per call. */
static bool
fingerprints_well_formed(const json_t *fingerprints)
{
	char norm[REPORT_FINGERPRINT_SIZE];
	size_t i;
	json_t *v;

	if (!json_is_array(fingerprints) ||
	    json_array_size(fingerprints) > REPORT_MAX_FINGERPRINTS) {
		return false;
	}
	json_array_foreach(fingerprints, i, v) {
		if (!json_is_string(v) ||
		    report_fingerprint_normalise(json_string_value(v), norm) != 0 ||
		    strcmp(norm, json_string_value(v)) != 0) {
			return false;
		}
	}
	return true;
}

static void
verify_state_free(struct verify_state *s)
{
	BIO_free(s->in);
	BIO_free(s->detached);
	BIO_free(s->signed_content);
	BIO_free(s->text);
	BIO_free(s->subject);
	CMS_ContentInfo_free(s->cms);
	sk_X509_pop_free(s->certs, X509_free);
	X509_STORE_CTX_free(s->ctx);
	X509_STORE_free(s->anchors);
	json_decref(s->content);
}

/* Parse the S/MIME message: SignedData, one signer, a bounded number of certificates. */
static enum report_status
read_message(struct verify_state *s, const uint8_t *msg, size_t len, char *why, size_t whylen)
{
	if (len == 0) {
		say(why, whylen, "empty message");
		return REPORT_NOT_SMIME;
	}
	if ((s->in = BIO_new_mem_buf(msg, (int)len)) == NULL) {
		return REPORT_INTERNAL;
	}
	/*
	 * Accepts multipart/signed (detached content in s->detached) and
	 * application/pkcs7-mime (content inside); anything without a MIME
	 * Content-Type header, or whose signature part is not base64 DER CMS,
	 * is refused here.
	 */
	s->cms = SMIME_read_CMS(s->in, &s->detached);
	if (s->cms == NULL) {
		say(why, whylen, "not an S/MIME message");
		return REPORT_NOT_SMIME;
	}
	if (OBJ_obj2nid(CMS_get0_type(s->cms)) != NID_pkcs7_signed) {
		say(why, whylen, "the S/MIME message is not signed data");
		return REPORT_NOT_SMIME;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(s->cms)) != 1) {
		say(why, whylen, "the message must have exactly one signer");
		return REPORT_BAD_SIGNATURE;
	}
	s->certs = CMS_get1_certs(s->cms);
	if (sk_X509_num(s->certs) > REPORT_MAX_CERTS) {
		say(why, whylen, "more than %d certificates in the message", REPORT_MAX_CERTS);
		return REPORT_TOO_LARGE;
	}
	return REPORT_OK;
}

/* Find the signer among the message's certificates and check the signature with its key. */
static enum report_status
check_signature(struct verify_state *s, X509 **signer, char *why, size_t whylen)
{
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(s->cms), 0);

	*signer = NULL;
	/* Preset here so that a missing certificate is told apart from a bad signature. */
	if (CMS_set1_signers_certs(s->cms, NULL, 0) != 1) {
		say(why, whylen, "the signer's certificate is not in the message");
		return REPORT_UNTRUSTED;
	}
	CMS_SignerInfo_get0_algs(si, NULL, signer, NULL, NULL);
	if (*signer == NULL) {
		return REPORT_INTERNAL;
	}
	if ((s->signed_content = BIO_new(BIO_s_mem())) == NULL) {
		return REPORT_INTERNAL;
	}
	/* SMIME_text fails on an input that says "retry" at its end, as memory BIOs do by default.
	 */
	BIO_set_mem_eof_return(s->signed_content, 0);
	/*
	 * Not binary: detached content is canonicalised to CRLF line ends while
	 * it is digested, as `cms -sign -text` did when signing. The text/plain
	 * header is stripped later (not with CMS_TEXT, which would fail on a
	 * missing header before the signature is even checked). The chain is
	 * ours to verify, from the message's certificates only.
	 */
	if (CMS_verify(s->cms, NULL, NULL, s->detached, s->signed_content,
		       CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		log_openssl(LOG_LEVEL_DEBUG, "report: signature");
		say(why, whylen, "the signature does not verify");
		return REPORT_BAD_SIGNATURE;
	}
	return REPORT_OK;
}

/* ASN1_TIME check of X at NOW, with OpenSSL's boundaries (notAfter == NOW has expired). */
static enum report_status
check_validity(const X509 *x, time_t now, char *why, size_t whylen)
{
	time_t t = now;
	int before = X509_cmp_time(X509_get0_notBefore(x), &t);
	int after = X509_cmp_time(X509_get0_notAfter(x), &t);

	if (before == 0 || after == 0) {
		say(why, whylen, "a certificate has a malformed validity period");
		return REPORT_UNTRUSTED;
	}
	if (before > 0) {
		say(why, whylen, "a certificate of the chain is not yet valid");
		return REPORT_CERT_NOT_YET_VALID;
	}
	if (after < 0) {
		say(why, whylen, "a certificate of the chain has expired");
		return REPORT_CERT_EXPIRED;
	}
	return REPORT_OK;
}

/*
 * Build and verify the signer's chain from the message's certificates, with
 * the configured ones among them as the only trust anchors (partial chains
 * allowed, so an intermediate or the signer itself may be the anchor).
 */
static enum report_status
check_chain(struct verify_state *s, X509 *signer, const json_t *fingerprints, time_t now,
	    struct report_result *res, char *why, size_t whylen)
{
	char fp[REPORT_FINGERPRINT_SIZE];
	STACK_OF(X509) *chain;
	X509_VERIFY_PARAM *param;
	enum report_status st;
	int anchors = 0, err;

	if ((s->anchors = X509_STORE_new()) == NULL || (s->ctx = X509_STORE_CTX_new()) == NULL) {
		return REPORT_INTERNAL;
	}
	for (int i = 0; i < sk_X509_num(s->certs); i++) {
		X509 *x = sk_X509_value(s->certs, i);

		if (!fingerprint_of(x, fp)) {
			return REPORT_INTERNAL;
		}
		if (fingerprint_listed(fingerprints, fp)) {
			if (X509_STORE_add_cert(s->anchors, x) != 1) {
				return REPORT_INTERNAL;
			}
			anchors++;
		}
	}
	if (anchors == 0) {
		say(why, whylen, "no certificate in the message has a trusted fingerprint");
		return REPORT_UNTRUSTED;
	}
	if (X509_STORE_CTX_init(s->ctx, s->anchors, signer, s->certs) != 1) {
		return REPORT_INTERNAL;
	}
	param = X509_STORE_CTX_get0_param(s->ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(param, now);
	if (X509_verify_cert(s->ctx) != 1) {
		err = X509_STORE_CTX_get_error(s->ctx);
		log_openssl(LOG_LEVEL_DEBUG, "report: chain");
		if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
			say(why, whylen, "a certificate of the chain has expired");
			return REPORT_CERT_EXPIRED;
		}
		if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
			say(why, whylen, "a certificate of the chain is not yet valid");
			return REPORT_CERT_NOT_YET_VALID;
		}
		if (err == X509_V_OK || err == X509_V_ERR_OUT_OF_MEM) {
			return REPORT_INTERNAL;
		}
		say(why, whylen, "certificate chain: %s", X509_verify_cert_error_string(err));
		return REPORT_UNTRUSTED;
	}
	chain = X509_STORE_CTX_get0_chain(s->ctx);
	if (sk_X509_num(chain) < 1 || X509_cmp(sk_X509_value(chain, 0), signer) != 0) {
		say(why, whylen, "the signer is not the leaf of its chain");
		return REPORT_UNTRUSTED;
	}
	/*
	 * OpenSSL 3.0 has checked these already, a partial chain's anchor
	 * included; checked again so that the contract does not rest on it.
	 */
	for (int i = 0; i < sk_X509_num(chain); i++) {
		if ((st = check_validity(sk_X509_value(chain, i), now, why, whylen)) != REPORT_OK) {
			return st;
		}
	}
	/* The top of a verified chain is a trust anchor, so one of the configured certificates. */
	if (!fingerprint_of(sk_X509_value(chain, sk_X509_num(chain) - 1), fp) ||
	    !fingerprint_listed(fingerprints, fp)) {
		return REPORT_INTERNAL;
	}
	memcpy(res->anchor_fingerprint, fp, sizeof(fp));
	return REPORT_OK;
}

/*
 * What the daemon records about the signer: its fingerprint, its subject
 * (RFC 2253, non-ASCII and control characters escaped) and its one CN as
 * the gateway id. A signer whose key may not sign, whose subject does not
 * fit, or whose CN is ambiguous or unprintable is refused.
 */
static enum report_status
describe_signer(struct verify_state *s, X509 *signer, struct report_result *res, char *why,
		size_t whylen)
{
	const X509_NAME *name = X509_get_subject_name(signer);
	unsigned char *cn = NULL;
	uint32_t usage = X509_get_key_usage(signer);
	char *p;
	long n;
	int idx, cnlen;

	if (usage != UINT32_MAX && (usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0) {
		say(why, whylen, "the signer's key usage does not allow signatures");
		return REPORT_UNTRUSTED;
	}
	if (!fingerprint_of(signer, res->signer_fingerprint)) {
		return REPORT_INTERNAL;
	}
	if ((s->subject = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(s->subject, name, 0, XN_FLAG_RFC2253) < 0) {
		return REPORT_INTERNAL;
	}
	n = BIO_get_mem_data(s->subject, &p);
	if (n < 0 || (size_t)n >= sizeof(res->signer_subject) || memchr(p, '\0', (size_t)n)) {
		say(why, whylen, "the signer's subject is too long");
		return REPORT_UNTRUSTED;
	}
	memcpy(res->signer_subject, p, (size_t)n);
	res->signer_subject[n] = '\0';

	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0) {
		return REPORT_OK;
	}
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) {
		say(why, whylen, "the signer's subject has more than one CN");
		return REPORT_UNTRUSTED;
	}
	cnlen = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (cnlen < 0) {
		say(why, whylen, "the signer's CN is not a valid string");
		return REPORT_UNTRUSTED;
	}
	if ((size_t)cnlen >= sizeof(res->gateway_id)) {
		OPENSSL_free(cn);
		say(why, whylen, "the signer's CN is too long");
		return REPORT_UNTRUSTED;
	}
	for (int i = 0; i < cnlen; i++) {
		if (cn[i] < 0x20 || cn[i] == 0x7f) {
			OPENSSL_free(cn);
			say(why, whylen, "the signer's CN holds control characters");
			return REPORT_UNTRUSTED;
		}
	}
	memcpy(res->gateway_id, cn, (size_t)cnlen);
	res->gateway_id[cnlen] = '\0';
	OPENSSL_free(cn);
	return REPORT_OK;
}

/* The verified content: a text/plain MIME entity whose body is one JSON object. */
static enum report_status
parse_content(struct verify_state *s, char *why, size_t whylen)
{
	const char *reason = NULL;
	char *p;
	long n;

	if ((s->text = BIO_new(BIO_s_mem())) == NULL) {
		return REPORT_INTERNAL;
	}
	/* SMIME_text reads the entity's headers and refuses anything but text/plain. */
	if (SMIME_text(s->signed_content, s->text) != 1) {
		log_openssl(LOG_LEVEL_DEBUG, "report: content");
		say(why, whylen, "the signed content is not text/plain");
		return REPORT_NOT_JSON;
	}
	n = BIO_get_mem_data(s->text, &p);
	if (n <= 0) {
		say(why, whylen, "the signed content is empty");
		return REPORT_NOT_JSON;
	}
	s->content = msg_parse_reply((const uint8_t *)p, (size_t)n, &reason);
	if (s->content == NULL) {
		say(why, whylen, "the signed content is not a JSON object (%s)", reason);
		return REPORT_NOT_JSON;
	}
	return REPORT_OK;
}

int
report_fingerprint_normalise(const char *in, char out[REPORT_FINGERPRINT_SIZE])
{
	out[0] = '\0';
	if (in == NULL || strnlen(in, FINGERPRINT_LEN + 1) != FINGERPRINT_LEN) {
		return SIGNET_EINVAL;
	}
	for (size_t i = 0; i < FINGERPRINT_LEN; i++) {
		bool colon = i % 3 == 2;

		if (colon ? in[i] != ':' : !is_hex(in[i])) {
			out[0] = '\0';
			return SIGNET_EINVAL;
		}
		out[i] = (char)(colon || in[i] <= '9' ? in[i] : in[i] & ~0x20);
	}
	out[FINGERPRINT_LEN] = '\0';
	return 0;
}

int
report_fingerprints_parse(const json_t *value, json_t **out, const char **why)
{
	char norm[REPORT_FINGERPRINT_SIZE];
	json_t *list = NULL, *v;
	size_t i;

	*out = NULL;
	if (!json_is_array(value)) {
		*why = "trusted fingerprints must be a JSON array of strings";
		return SIGNET_EINVAL;
	}
	if (json_array_size(value) > REPORT_MAX_FINGERPRINTS) {
		*why = "too many trusted fingerprints";
		return SIGNET_EINVAL;
	}
	if ((list = json_array()) == NULL) {
		*why = "out of memory";
		return SIGNET_EINTERNAL;
	}
	json_array_foreach(value, i, v) {
		if (!json_is_string(v) ||
		    report_fingerprint_normalise(json_string_value(v), norm) != 0) {
			json_decref(list);
			*why = "a fingerprint is not 32 colon-separated hex pairs (SHA-256)";
			return SIGNET_EINVAL;
		}
		if (!fingerprint_listed(list, norm) &&
		    json_array_append_new(list, json_string(norm)) != 0) {
			json_decref(list);
			*why = "out of memory";
			return SIGNET_EINTERNAL;
		}
	}
	*out = list;
	return 0;
}

const char *
report_status_code(enum report_status s)
{
	if ((unsigned)s >= sizeof(status_codes) / sizeof(status_codes[0])) {
		return "internal";
	}
	return status_codes[s];
}

enum report_status
report_verify(const uint8_t *msg, size_t len, const json_t *fingerprints, time_t now,
	      struct report_result *res, char *why, size_t whylen)
{
	struct verify_state s;
	struct report_result r;
	enum report_status st;
	X509 *signer = NULL;

	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	say(why, whylen, "%s", "");
	/* A clean queue, so that whatever is logged below is about this message. */
	ERR_clear_error();
	if (fingerprints == NULL ||
	    (json_is_array(fingerprints) && json_array_size(fingerprints) == 0)) {
		say(why, whylen, "no trusted certificate fingerprint is configured");
		st = REPORT_NO_ANCHOR;
		goto out;
	}
	if (!fingerprints_well_formed(fingerprints)) {
		say(why, whylen, "the trusted fingerprint list is malformed");
		st = REPORT_INTERNAL;
		goto out;
	}
	if (len > REPORT_MAX_SIZE) {
		say(why, whylen, "the message is larger than %d bytes", REPORT_MAX_SIZE);
		st = REPORT_TOO_LARGE;
		goto out;
	}
	if ((st = read_message(&s, msg, len, why, whylen)) != REPORT_OK ||
	    (st = check_signature(&s, &signer, why, whylen)) != REPORT_OK ||
	    (st = check_chain(&s, signer, fingerprints, now, &r, why, whylen)) != REPORT_OK ||
	    (st = describe_signer(&s, signer, &r, why, whylen)) != REPORT_OK ||
	    (st = parse_content(&s, why, whylen)) != REPORT_OK) {
		goto out;
	}
	r.content = s.content;
	s.content = NULL;
	*res = r;
out:
	if (st == REPORT_INTERNAL && why != NULL && whylen > 0 && why[0] == '\0') {
		say(why, whylen, "internal error");
	}
	if (st != REPORT_OK) {
		log_openssl(LOG_LEVEL_DEBUG, "report");
	}
	verify_state_free(&s);
	ERR_clear_error();
	return st;
}

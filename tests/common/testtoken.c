/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of hsm/: a fresh SoftHSMv2 token in a temporary directory, opened as signetd does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/error.h"
#include "tests/common/testtoken.h"

const char *
test_softhsm_module(void)
{
	const char *m = getenv("SOFTHSM_MODULE");

	return m != NULL && *m != '\0' ? m : SIGNET_SOFTHSM_MODULE;
}

bool
test_fault_available(void)
{
	const char *m = getenv("P11FAULT");

	return m != NULL && access(m, R_OK) == 0;
}

static int
secret_set(struct secret *s, const char *v)
{
	if (secret_alloc(s, strlen(v)) != 0) {
		return -1;
	}
	memcpy(s->data, v, strlen(v));
	s->len = strlen(v);
	return 0;
}

static int
write_conf(const struct test_token *t)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/softhsm2.conf", t->dir);
	f = fopen(path, "w");
	if (f == NULL) {
		return -1;
	}
	ok = fprintf(f,
		     "directories.tokendir = %s/tokens\n"
		     "objectstore.backend = file\n"
		     "log.level = ERROR\n"
		     "slots.removable = false\n",
		     t->dir) > 0;
	ok = fclose(f) == 0 && ok;
	return ok && setenv("SOFTHSM2_CONF", path, 1) == 0 ? 0 : -1;
}

int
test_token_make(struct test_token *t, bool fault)
{
	struct secret so = {0};
	struct hsm_config cfg;
	char path[128];
	int r;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/signet-hsm.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tokens", t->dir);
	snprintf(t->fault_dir, sizeof(t->fault_dir), "%s/p11fault", t->dir);
	if (mkdir(path, 0700) != 0 || mkdir(t->fault_dir, 0700) != 0 || write_conf(t) != 0) {
		perror("making the token directory");
		return -1;
	}
	t->module = test_softhsm_module();
	if (fault) {
		/* The wrapper finds the real module and its trigger folder in the environment. */
		t->module = getenv("P11FAULT");
		if (t->module == NULL || setenv("P11FAULT_MODULE", test_softhsm_module(), 1) != 0 ||
		    setenv("P11FAULT_DIR", t->fault_dir, 1) != 0) {
			fprintf(stderr, "P11FAULT must name the fault-injecting module\n");
			return -1;
		}
	}
	if (secret_set(&so, TEST_TOKEN_SO_PIN) != 0 || secret_set(&t->pin, TEST_TOKEN_PIN) != 0) {
		secret_free(&so);
		return -1;
	}
	r = hsm_init_token(t->module, TEST_TOKEN_LABEL, &so, &t->pin);
	secret_free(&so);
	if (r != 0) {
		fprintf(stderr, "hsm_init_token: %s\n", signet_strerror(r));
		return -1;
	}
	cfg.module = t->module;
	cfg.token_uri = "pkcs11:token=" TEST_TOKEN_LABEL;
	cfg.pin = &t->pin;
	if ((r = hsm_open(&cfg, &t->h)) != 0 || (r = hsm_session_open(t->h, &t->s)) != 0) {
		fprintf(stderr, "opening the test token: %s\n", signet_strerror(r));
		return -1;
	}
	return 0;
}

void
test_token_free(struct test_token *t)
{
	char cmd[128];

	hsm_session_close(t->s);
	hsm_close(t->h);
	t->s = NULL;
	t->h = NULL;
	secret_free(&t->pin);
	if (t->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "cannot remove %s\n", t->dir);
		}
	}
	unsetenv("P11FAULT_DIR");
	t->dir[0] = '\0';
}

void
test_token_fault_after(struct test_token *t, const char *name, int count, int skip)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->fault_dir, name);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "%d %d\n", count, skip);
		fclose(f);
	}
}

void
test_token_fault(struct test_token *t, const char *name, int count)
{
	test_token_fault_after(t, name, count, 0);
}

int
test_token_faults_fired(const struct test_token *t)
{
	char path[256], line[128];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/faults", t->fault_dir);
	f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
	}
	fclose(f);
	return n;
}

void
test_token_fault_reset(struct test_token *t)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*", t->fault_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot clear %s\n", t->fault_dir);
	}
}

int
test_verify(EVP_PKEY *pk, enum hsm_alg alg, const uint8_t *data, size_t len, const uint8_t *sig,
	    size_t siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	int ok = 0;

	if (alg == HSM_ALG_ED25519) {
		mctx = EVP_MD_CTX_new();
		ok = mctx != NULL &&
		     EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pk, NULL) == 1 &&
		     EVP_DigestVerify(mctx, sig, siglen, data, len) == 1;
		EVP_MD_CTX_free(mctx);
		ERR_clear_error();
		return ok;
	}
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1) {
		goto out;
	}
	if (alg == HSM_ALG_RSA_3072 || alg == HSM_ALG_RSA_4096) {
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) != 1) {
			goto out;
		}
	} else if (EVP_PKEY_CTX_set_signature_md(
		       ctx, alg == HSM_ALG_ECC_NIST_P384 ? EVP_sha384() : EVP_sha256()) != 1) {
		goto out;
	}
	ok = EVP_PKEY_verify(ctx, sig, siglen, data, len) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static bool
ext_add(X509 *c, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	bool ok = e != NULL && X509_add_ext(c, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok;
}

static X509 *
cert_sign(EVP_PKEY *pub, const char *cn, EVP_PKEY *signer, X509 *issuer)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();

	/* A CA says so; a leaf is a plain end entity. */
	if (c == NULL ||
	    (issuer == NULL && (!ext_add(c, NID_basic_constraints, "critical,CA:TRUE") ||
				!ext_add(c, NID_key_usage, "critical,keyCertSign"))) ||
	    (issuer != NULL && !ext_add(c, NID_basic_constraints, "critical,CA:FALSE"))) {
		X509_free(c);
		X509_NAME_free(name);
		ASN1_INTEGER_free(serial);
		return NULL;
	}
	if (name == NULL || serial == NULL || !X509_set_version(c, 2) ||
	    !ASN1_INTEGER_set(serial, (long)(random() & 0x7fffffff)) ||
	    !X509_set_serialNumber(c, serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_subject_name(c, name) ||
	    !X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name) ||
	    X509_gmtime_adj(X509_getm_notBefore(c), -60) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(c), 86400) == NULL || !X509_set_pubkey(c, pub) ||
	    X509_sign(c, signer, EVP_sha256()) <= 0) {
		X509_free(c);
		c = NULL;
	}
	X509_NAME_free(name);
	ASN1_INTEGER_free(serial);
	return c;
}

int
test_ca_make(const char *cn, EVP_PKEY **key, X509 **cert)
{
	*key = EVP_EC_gen("P-256");
	*cert = *key != NULL ? cert_sign(*key, cn, *key, NULL) : NULL;
	if (*cert == NULL) {
		EVP_PKEY_free(*key);
		*key = NULL;
		return -1;
	}
	return 0;
}

X509 *
test_cert_issue(EVP_PKEY *pub, const char *cn, EVP_PKEY *ca_key, X509 *ca)
{
	return cert_sign(pub, cn, ca_key, ca);
}

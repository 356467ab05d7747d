/* SPDX-License-Identifier: Apache-2.0 */
/* signet-verify: checks a BOSCH_SE_V1 package as a device should, then optionally decrypts it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "lib/container.h"
#include "lib/error.h"
#include "lib/util.h"

/* Exit codes (doc/signet-verify.1); usage errors exit 2, as signetctl's do. */
#define EXIT_FORMAT    1 /* not a well-formed container */
#define EXIT_USAGE     2 /* bad arguments, unreadable files, failed writes */
#define EXIT_HASH      3 /* a segment does not match its SHA-256 in the header */
#define EXIT_SIGNATURE 4 /* the signature, the key, or the certificate's trust */
#define EXIT_DECRYPT   5 /* the AES key does not fit, or decryption failed */

#define AES_IV_LEN  16
#define AES_KEY_MAX 32

struct opts {
	const char *pubkey;
	const char *cert;
	const char *ca;
	const char *keyfile;
	const char *outdir;
	const char *package;
	bool quiet;
};

/* One output file: written under a temporary name, renamed once everything succeeded. */
struct output {
	char tmp[4096];
	char final[4096];
	bool created;
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("signet-verify: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static void
usage(FILE *f)
{
	fputs("usage: signet-verify (--pubkey PEM | --cert CRT [--ca CA.pem])\n"
	      "                     [--key AESKEY -o DIR] [-q] PACKAGE\n"
	      "prints a summary and OK when the package is valid (nothing with -q)\n"
	      "exit: 0 valid, 1 bad format, 2 usage or I/O error, 3 bad segment hash,\n"
	      "      4 bad signature or untrusted key, 5 decryption failure\n",
	      f);
}

/* A usage error: what is wrong, and where help is (as signetctl says it). */
static int
usage_error(const char *what)
{
	fprintf(stderr, "signet-verify: %s\n(see signet-verify --help)\n", what);
	return EXIT_USAGE;
}

/* ---- the signing key ---- */

static EVP_PKEY *
read_pubkey(const char *path)
{
	EVP_PKEY *pkey = NULL;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		fclose(f);
	}
	return pkey;
}

/*
 * The public key of the first certificate in CERT_PATH. With CA_PATH the
 * certificate must chain to a certificate in that bundle (any further
 * certificates in CERT_PATH serve as intermediates); the purpose is not checked.
 */
static int
cert_pubkey(const char *cert_path, const char *ca_path, EVP_PKEY **pkey)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL, *x;
	FILE *f;
	int rc = EXIT_USAGE;

	f = fopen(cert_path, "r");
	if (f == NULL || chain == NULL) {
		rc = fail(EXIT_USAGE, "cannot read the certificate %s", cert_path);
		goto out;
	}
	leaf = PEM_read_X509(f, NULL, NULL, NULL);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
		}
	}
	if (leaf == NULL) {
		rc = fail(EXIT_USAGE, "no PEM certificate in %s", cert_path);
		goto out;
	}
	if (ca_path != NULL) {
		store = X509_STORE_new();
		ctx = X509_STORE_CTX_new();
		if (store == NULL || ctx == NULL || X509_STORE_load_file(store, ca_path) != 1) {
			rc = fail(EXIT_USAGE, "cannot read the CA bundle %s", ca_path);
			goto out;
		}
		if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1 ||
		    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1) {
			rc = fail(EXIT_USAGE, "cannot set up certificate verification");
			goto out;
		}
		if (X509_verify_cert(ctx) != 1) {
			rc = fail(EXIT_SIGNATURE, "certificate: not trusted by %s: %s", ca_path,
				  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
			goto out;
		}
	}
	*pkey = X509_get_pubkey(leaf);
	if (*pkey == NULL) {
		rc = fail(EXIT_USAGE, "the certificate's public key cannot be read");
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	if (f != NULL) {
		fclose(f);
	}
	return rc;
}

/* Is PKEY the kind of key algorithm SC names? */
static bool
key_fits_sc(EVP_PKEY *pkey, int sc)
{
	char group[32];

	switch (sc) {
	case CONTAINER_SC_RSA_3072:
		return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) == 3072;
	case CONTAINER_SC_RSA_4096:
		return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) == 4096;
	case CONTAINER_SC_ECC_NIST_P256:
	case CONTAINER_SC_ECC_NIST_P384:
		if (!EVP_PKEY_is_a(pkey, "EC") ||
		    EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1) {
			return false;
		}
		return strcmp(group,
			      sc == CONTAINER_SC_ECC_NIST_P256 ? "prime256v1" : "secp384r1") == 0;
	case CONTAINER_SC_ED25519:
		return EVP_PKEY_is_a(pkey, "ED25519");
	default:
		return false;
	}
}

/*
 * The signature over the header bytes: RSASSA-PSS (SHA-256, MGF1-SHA-256,
 * salt 32), ECDSA with SHA-256 or SHA-384 (DER), or pure Ed25519.
 */
static int
verify_signature(const struct container_reader *rd, EVP_PKEY *pkey)
{
	const char *alg = container_sig_name(rd->h.sc);
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int rc = EXIT_SIGNATURE;

	if (!key_fits_sc(pkey, rd->h.sc)) {
		return fail(EXIT_SIGNATURE, "signature: the key is not a key for %s", alg);
	}
	if (container_sig_check_len(rd->h.sc, rd->sig, rd->lay.sig_len) != 0) {
		return fail(EXIT_SIGNATURE,
			    "signature: %zu bytes are not a well-formed %s signature",
			    rd->lay.sig_len, alg);
	}
	if (rd->h.sc == CONTAINER_SC_ECC_NIST_P384) {
		md = EVP_sha384();
	} else if (rd->h.sc != CONTAINER_SC_ED25519) {
		md = EVP_sha256();
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1) {
		rc = fail(EXIT_SIGNATURE, "signature: cannot set up %s verification", alg);
		goto out;
	}
	if ((rd->h.sc == CONTAINER_SC_RSA_3072 || rd->h.sc == CONTAINER_SC_RSA_4096) &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1)) {
		rc = fail(EXIT_SIGNATURE, "signature: cannot set up RSA-PSS");
		goto out;
	}
	if (EVP_DigestVerify(ctx, rd->sig, rd->lay.sig_len, rd->hdr, rd->lay.hlen) != 1) {
		rc = fail(EXIT_SIGNATURE, "signature: does not verify over the header (%s)", alg);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ---- decryption ---- */

static const EVP_CIPHER *
aes_cipher(int ec)
{
	switch (ec) {
	case 0: /* AES256_CBC_PKCS7_PAD */
	case 2: /* AES256_CBC_ZERO_BYTE_PAD */
		return EVP_aes_256_cbc();
	case 1: /* AES128_CBC_PKCS7_PAD */
		return EVP_aes_128_cbc();
	case 3: /* AES256_ECB_ZERO_BYTE_PAD */
		return EVP_aes_256_ecb();
	case 4: /* AES128_ECB_ZERO_BYTE_PAD */
		return EVP_aes_128_ecb();
	case 5: /* AES128_CTR_NO_PAD */
		return EVP_aes_128_ctr();
	default:
		return NULL;
	}
}

/* The raw AES key: exactly 16 or 32 bytes, nothing else in the file. */
static int
read_aes_key(const char *path, uint8_t key[AES_KEY_MAX], size_t *len)
{
	uint8_t buf[AES_KEY_MAX + 1];
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		return fail(EXIT_USAGE, "cannot open the key %s: %s", path, strerror(errno));
	}
	while (n < sizeof(buf)) {
		ssize_t got = read(fd, buf + n, sizeof(buf) - n);

		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got < 0) {
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return fail(EXIT_USAGE, "cannot read the key %s: %s", path,
				    strerror(errno));
		}
		if (got == 0) {
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (n != 16 && n != 32) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return fail(EXIT_USAGE, "the key %s must hold 16 or 32 raw bytes", path);
	}
	memcpy(key, buf, n);
	*len = n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int
output_create(struct output *o, const char *dir, const char *name)
{
	int fd;

	if (snprintf(o->final, sizeof(o->final), "%s/%s", dir, name) >= (int)sizeof(o->final) ||
	    snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(o->tmp)) {
		fail(EXIT_USAGE, "%s: path too long", dir);
		return -1;
	}
	fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0) {
		fail(EXIT_USAGE, "cannot create %s: %s", o->tmp, strerror(errno));
		return -1;
	}
	o->created = true;
	return fd;
}

/* fsync and close FD; -1 (with a message) if either fails. */
static int
output_finish(struct output *o, int fd)
{
	int r = fsync(fd);

	if (close(fd) != 0 || r != 0) {
		fail(EXIT_USAGE, "cannot write %s: %s", o->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Decrypt segment I into OUT_FD, streaming. The ciphertext is hashed again on
 * the way, so what is decrypted is what was verified even if the file changed
 * since. Zero padding is left in place: it cannot be told from trailing zero
 * bytes of the input (doc/formats.md §3).
 */
static int
decrypt_segment(const struct container_reader *rd, unsigned i, const uint8_t *key, int out_fd,
		uint8_t *in, uint8_t *out)
{
	const EVP_CIPHER *cipher = aes_cipher(rd->h.ec);
	bool pkcs7 = rd->h.ec == 0 || rd->h.ec == 1;
	size_t iv_len = (size_t)EVP_CIPHER_get_iv_length(cipher);
	uint64_t off = rd->lay.seg_off[i];
	uint64_t left = rd->h.esl[i] - iv_len; /* the reader checked esl >= iv_len */
	uint8_t iv[AES_IV_LEN], sha[32];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int outl, rc = EXIT_USAGE;

	if (ctx == NULL || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = fail(EXIT_USAGE, "out of memory");
		goto out;
	}
	if (iv_len != 0 && fd_pread_all(rd->fd, iv, iv_len, off + left) != 0) {
		rc = fail(EXIT_USAGE, "segment %u: cannot read the IV", i);
		goto out;
	}
	if (EVP_DecryptInit_ex2(ctx, cipher, key, iv_len != 0 ? iv : NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, pkcs7) != 1) {
		rc = fail(EXIT_DECRYPT, "segment %u: cannot set up %s", i,
			  container_cipher_name(rd->h.ec));
		goto out;
	}
	while (left > 0) {
		size_t n = left < CONTAINER_IO_CHUNK ? (size_t)left : CONTAINER_IO_CHUNK;

		if (fd_pread_all(rd->fd, in, n, off) != 0) {
			rc = fail(EXIT_USAGE, "segment %u: cannot read the package", i);
			goto out;
		}
		if (EVP_DigestUpdate(md, in, n) != 1 ||
		    EVP_DecryptUpdate(ctx, out, &outl, in, (int)n) != 1) {
			rc = fail(EXIT_DECRYPT, "segment %u: decryption failed", i);
			goto out;
		}
		if (write_all(out_fd, out, (size_t)outl) != 0) {
			rc = fail(EXIT_USAGE, "segment %u: cannot write the plaintext: %s", i,
				  strerror(errno));
			goto out;
		}
		off += n;
		left -= n;
	}
	if (EVP_DigestUpdate(md, iv, iv_len) != 1 || EVP_DigestFinal_ex(md, sha, NULL) != 1) {
		rc = fail(EXIT_USAGE, "segment %u: cannot hash", i);
		goto out;
	}
	if (memcmp(sha, rd->h.esh[i], sizeof(sha)) != 0) {
		rc = fail(EXIT_HASH, "segment %u: changed while it was decrypted", i);
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, out, &outl) != 1) {
		rc = fail(EXIT_DECRYPT, "segment %u: decryption failed (wrong key or bad padding)",
			  i);
		goto out;
	}
	if (write_all(out_fd, out, (size_t)outl) != 0) {
		rc = fail(EXIT_USAGE, "segment %u: cannot write the plaintext: %s", i,
			  strerror(errno));
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

/*
 * Decrypt every segment to DIR/segment-NNN and write the metadata to
 * DIR/metadata; the names appear only once all of them are complete.
 */
static int
decrypt_all(const struct container_reader *rd, const char *keyfile, const char *dir)
{
	struct output *outs = NULL;
	unsigned nout = rd->h.es + (rd->h.ml > 0 ? 1 : 0);
	uint8_t key[AES_KEY_MAX], *in = NULL, *out = NULL;
	size_t key_len = 0;
	int rc, fd;

	if ((rc = read_aes_key(keyfile, key, &key_len)) != 0) {
		return rc;
	}
	if ((int)key_len != EVP_CIPHER_get_key_length(aes_cipher(rd->h.ec))) {
		rc = fail(EXIT_DECRYPT, "the key is %zu bytes; %s needs %d", key_len,
			  container_cipher_name(rd->h.ec),
			  EVP_CIPHER_get_key_length(aes_cipher(rd->h.ec)));
		goto out;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = fail(EXIT_USAGE, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	rc = EXIT_USAGE;
	outs = calloc(nout, sizeof(*outs));
	in = malloc(CONTAINER_IO_CHUNK);
	out = malloc(CONTAINER_IO_CHUNK + AES_IV_LEN);
	if (outs == NULL || in == NULL || out == NULL) {
		rc = fail(EXIT_USAGE, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < rd->h.es; i++) {
		char name[32];

		snprintf(name, sizeof(name), "segment-%03u", i);
		if ((fd = output_create(&outs[i], dir, name)) < 0) {
			goto out;
		}
		if ((rc = decrypt_segment(rd, i, key, fd, in, out)) != 0) {
			close(fd);
			goto out;
		}
		rc = EXIT_USAGE;
		if (output_finish(&outs[i], fd) != 0) {
			goto out;
		}
	}
	if (rd->h.ml > 0) {
		struct output *o = &outs[rd->h.es];

		if ((fd = output_create(o, dir, "metadata")) < 0) {
			goto out;
		}
		if (write_all(fd, rd->h.md, rd->h.ml) != 0) {
			fail(EXIT_USAGE, "cannot write %s: %s", o->tmp, strerror(errno));
			close(fd);
			goto out;
		}
		if (output_finish(o, fd) != 0) {
			goto out;
		}
	}
	for (unsigned i = 0; i < nout; i++) {
		if (rename(outs[i].tmp, outs[i].final) != 0) {
			rc = fail(EXIT_USAGE, "cannot rename %s: %s", outs[i].tmp, strerror(errno));
			goto out;
		}
		outs[i].created = false;
	}
	rc = 0;
out:
	for (unsigned i = 0; outs != NULL && i < nout; i++) {
		if (outs[i].created) {
			unlink(outs[i].tmp);
		}
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (out != NULL) {
		OPENSSL_cleanse(out, CONTAINER_IO_CHUNK + AES_IV_LEN);
	}
	free(outs);
	free(in);
	free(out);
	return rc;
}

/* ---- the whole check ---- */

static void
print_summary(const struct container_reader *rd)
{
	printf("packaging version: %u\n", rd->h.pv);
	printf("cipher: %s\n", container_cipher_name(rd->h.ec));
	printf("signature: %s (%zu bytes)\n", container_sig_name(rd->h.sc), rd->lay.sig_len);
	printf("segments: %u\n", rd->h.es);
	for (unsigned i = 0; i < rd->h.es; i++) {
		printf("segment %u: %u bytes\n", i, rd->h.esl[i]);
	}
	printf("metadata: %u bytes\n", rd->h.ml);
}

/*
 * The order a device follows (doc/container.md): bounds, then every
 * segment's hash, then the signature over the header, and only then decryption.
 */
static int
verify_package(const struct opts *o)
{
	struct container_reader rd;
	EVP_PKEY *pkey = NULL;
	const char *why = NULL;
	struct stat st;
	uint8_t sha[32];
	int fd, rc;

	if (o->pubkey != NULL) {
		pkey = read_pubkey(o->pubkey);
		if (pkey == NULL) {
			ERR_clear_error();
			return fail(EXIT_USAGE, "no PEM public key in %s", o->pubkey);
		}
	} else if ((rc = cert_pubkey(o->cert, o->ca, &pkey)) != 0) {
		return rc;
	}
	fd = open(o->package, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = fail(EXIT_USAGE, "cannot open %s: %s", o->package, strerror(errno));
		goto out_key;
	}
	/* A pipe or a device could not be read twice (hashes, then decryption). */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = fail(EXIT_USAGE, "%s: not a regular file", o->package);
		close(fd);
		goto out_key;
	}
	rc = container_reader_open(&rd, fd, &why);
	if (rc == SIGNET_EINVAL && rd.lay.bad_segment >= 0) {
		rc = fail(EXIT_FORMAT, "bad format: segment %d: %s", rd.lay.bad_segment, why);
		goto out;
	}
	if (rc != 0) {
		rc = fail(rc == SIGNET_EINVAL ? EXIT_FORMAT : EXIT_USAGE, "%s: %s",
			  rc == SIGNET_EINVAL ? "bad format" : o->package, why);
		goto out;
	}
	for (unsigned i = 0; i < rd.h.es; i++) {
		if (container_segment_sha256(&rd, i, sha) != 0) {
			rc = fail(EXIT_USAGE, "segment %u: cannot read it", i);
			goto out;
		}
		if (memcmp(sha, rd.h.esh[i], sizeof(sha)) != 0) {
			rc = fail(EXIT_HASH, "segment %u: SHA-256 does not match the header", i);
			goto out;
		}
	}
	if ((rc = verify_signature(&rd, pkey)) != 0) {
		goto out;
	}
	if (o->keyfile != NULL && (rc = decrypt_all(&rd, o->keyfile, o->outdir)) != 0) {
		goto out;
	}
	if (!o->quiet) {
		print_summary(&rd);
		printf("OK\n");
		if (fflush(stdout) != 0) {
			rc = fail(EXIT_USAGE, "cannot write the summary: %s", strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	container_reader_close(&rd);
	close(fd);
out_key:
	EVP_PKEY_free(pkey);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pubkey", required_argument, NULL, 'p'}, {"cert", required_argument, NULL, 'c'},
	    {"ca", required_argument, NULL, 'a'},     {"key", required_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	char what[160];
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.pubkey = optarg;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'a':
			o.ca = optarg;
			break;
		case 'k':
			o.keyfile = optarg;
			break;
		case 'o':
			o.outdir = optarg;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			snprintf(what, sizeof(what), "%s needs a value", argv[optind - 1]);
			return usage_error(what);
		default:
			if (optopt != 0) {
				snprintf(what, sizeof(what), "unknown option -%c", optopt);
			} else {
				snprintf(what, sizeof(what), "unknown option %s", argv[optind - 1]);
			}
			return usage_error(what);
		}
	}
	if (optind != argc - 1) {
		return usage_error(optind == argc ? "no PACKAGE given" : "one PACKAGE only");
	}
	if ((o.pubkey == NULL) == (o.cert == NULL)) {
		return usage_error("give one of --pubkey and --cert");
	}
	if (o.ca != NULL && o.cert == NULL) {
		return usage_error("--ca needs --cert");
	}
	if ((o.keyfile == NULL) != (o.outdir == NULL)) {
		return usage_error("--key and -o go together");
	}
	o.package = argv[optind];
	return verify_package(&o);
}
